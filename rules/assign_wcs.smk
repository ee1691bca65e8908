rule assign_wcs:
    input:
        **ref_inputs("assign_wcs"),
        exposure=rules.background.output.exposure,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "wcs"),
    log:
        f"{LOGS}/assign_wcs/{{product}}.log",
    benchmark:
        f"{BENCH}/assign_wcs/{{product}}.tsv"
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        step=step_params("assign_wcs"),
        errors=ref_errors(*STEP["assign_wcs"].reftypes),
        code=code_version("assign_wcs"),
    script:
        "../scripts/assign_wcs.py"
