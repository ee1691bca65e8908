# The image2 association of science and background exposures (the seed's asn file).
localrules:
    association,


rule association:
    input:
        science=[p.science for p in PRODUCTS],
        background=sorted({b for p in PRODUCTS for b in p.backgrounds}),
    output:
        f"{OUT}/{NAME}_lvl2_asn.json",
    params:
        name=NAME,
        products=[[p.name, p.science, list(p.backgrounds)] for p in PRODUCTS],
    benchmark:
        f"{BENCH}/association.tsv",
    log:
        f"{LOGS}/association.log",
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/association.py"

