rule background:
    input:
        science=science,
        backgrounds=backgrounds,
    output:
        f"{INTER}/{{product}}_bkgsub.fits",
    params:
        step=step_params("background"),
        code=code_version("background"),
    log:
        f"{LOGS}/background/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/background.py"
