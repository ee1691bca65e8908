rule assign_wcs:
    input:
        **ref_inputs("assign_wcs"),
        exposure=rules.background.output.exposure,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", STEP["assign_wcs"].suffix),
    log:
        step_log("assign_wcs"),
    benchmark:
        step_benchmark("assign_wcs")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        # image2's resample leaves a group id in the cal file (mirical/formats/groups.py)
        **step_rule_params("assign_wcs", image2_resample=not step_params("resample")["skip"]),
    script:
        "../scripts/assign_wcs.py"
