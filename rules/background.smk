rule background:
    input:
        science=science,
        backgrounds=backgrounds,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "bkgsub"),
    params:
        step=step_params("background"),
        code=code_version("background"),
    benchmark:
        f"{BENCH}/background/{{product}}.tsv",
    log:
        f"{LOGS}/background/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/background.py"
