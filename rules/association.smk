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
    script:
        "../scripts/association.py"


rule references:
    input:
        science=science,
        distortion=ref("distortion"),
        filteroffset=ref("filteroffset"),
        flat=ref("flat"),
        photom=ref("photom"),
        area=ref("area"),
    output:
        f"{INTER}/{{product}}_refs.json",
    params:
        errors=lambda wc: {t: ref_error(t)(wc) for t in REFTYPES},
    benchmark:
        f"{BENCH}/references/{{product}}.tsv",
    log:
        f"{LOGS}/references/{{product}}.log",
    localrule: True
    script:
        "../scripts/references.py"
