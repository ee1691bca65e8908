# All dithers drizzled into one mosaic, one exposure at a time.
rule mosaic:
    input:
        expand(f"{OUT}/{{product}}_cal.fits", product=PRODUCT_NAMES),
    output:
        f"{OUT}/{NAME}_i2d.fits",
    params:
        step=dict(config["mosaic"]),
        code=code_version("i2d", "resample", "resample_grid"),
    benchmark:
        f"{BENCH}/mosaic.tsv",
    log:
        f"{LOGS}/mosaic.log",
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/mosaic.py"
