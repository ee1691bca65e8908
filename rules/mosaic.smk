# All dithers drizzled into one mosaic, one exposure at a time.
rule mosaic:
    input:
        **output_wcs_input("mosaic"),
        cal=expand(rules.photom.output.cal, product=PRODUCT_NAMES),
    output:
        i2d=LAYOUT.mosaic(),
    log:
        f"{LOGS}/mosaic.log",
    benchmark:
        f"{BENCH}/mosaic.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        step=step_params("mosaic"),
        code=code_version("mosaic"),
    script:
        "../scripts/mosaic.py"
