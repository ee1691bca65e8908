rule flat_field:
    input:
        **ref_inputs("flat_field"),
        exposure=rules.assign_wcs.output.exposure,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", STEP["flat_field"].suffix),
    log:
        step_log("flat_field"),
    benchmark:
        step_benchmark("flat_field")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **step_rule_params("flat_field"),
    script:
        "../scripts/flat_field.py"
