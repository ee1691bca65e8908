rule background:
    input:
        science=science,
        backgrounds=backgrounds,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "bkgsub"),
    log:
        f"{LOGS}/background/{{product}}.log",
    benchmark:
        f"{BENCH}/background/{{product}}.tsv"
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        step=step_params("background"),
        code=code_version("background"),
    script:
        "../scripts/background.py"
