# Per-exposure resampling onto an undistorted grid (the _i2d quick look).
rule resample:
    input:
        **output_wcs_input("resample"),
        cal=calibrated_input,
    output:
        i2d=LAYOUT.i2d("{product}"),
    log:
        step_log("resample"),
    benchmark:
        step_benchmark("resample")
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        **step_rule_params("resample"),
    script:
        "../scripts/resample.py"
