# The calibrated exposure: the photom result under its final name, checked and stamped.
rule cal:
    input:
        f"{INTER}/{{product}}_photom.fits",
    output:
        f"{OUT}/{{product}}_cal.fits",
    params:
        code=code_version("io"),
    benchmark:
        f"{BENCH}/cal/{{product}}.tsv",
    log:
        f"{LOGS}/cal/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/cal.py"
