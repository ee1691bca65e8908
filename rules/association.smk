# The image2 association of science and background exposures (the seed's asn file).
localrules:
    association,


rule association:
    input:
        science=[p.science for p in PRODUCTS],
        background=sorted({b for p in PRODUCTS for b in p.backgrounds}),
    output:
        association=LAYOUT.association(),
    log:
        f"{LOGS}/association.log",
    benchmark:
        f"{BENCH}/association.tsv"
    conda:
        "../envs/mirical.yaml"
    params:
        name=NAME,
        products=[[p.name, p.science, list(p.backgrounds)] for p in PRODUCTS],
        code=code_version("association"),
    script:
        "../scripts/association.py"
