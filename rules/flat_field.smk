rule flat_field:
    input:
        exposure=rules.assign_wcs.output.exposure,
        **ref_inputs("flat_field"),
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "flat"),
    params:
        step=step_params("flat_field"),
        errors=ref_errors(*STEP["flat_field"].reftypes),
        code=code_version("flat_field"),
    benchmark:
        f"{BENCH}/flat_field/{{product}}.tsv",
    log:
        f"{LOGS}/flat_field/{{product}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/flat_field.py"
