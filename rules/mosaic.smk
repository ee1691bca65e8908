# All dithers drizzled into one mosaic, one exposure at a time.
rule mosaic:
    input:
        cal=expand(rules.photom.output.cal, product=PRODUCT_NAMES),
    output:
        i2d=LAYOUT.mosaic(),
    params:
        step=step_params("mosaic"),
        code=code_version("mosaic"),
    benchmark:
        f"{BENCH}/mosaic.tsv",
    log:
        f"{LOGS}/mosaic.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/mosaic.py"
