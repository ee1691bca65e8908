rule assign_wcs:
    input:
        exposure=rules.background.output.exposure,
        **ref_inputs("assign_wcs"),
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "wcs"),
    params:
        step=step_params("assign_wcs"),
        errors=ref_errors(*STEP["assign_wcs"].reftypes),
        code=code_version("assign_wcs"),
    benchmark:
        f"{BENCH}/assign_wcs/{{product}}.tsv",
    log:
        f"{LOGS}/assign_wcs/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/assign_wcs.py"
