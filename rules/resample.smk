# Per-exposure resampling onto an undistorted grid (the _i2d quick look).
rule resample:
    input:
        cal=rules.photom.output.cal,
    output:
        i2d=LAYOUT.i2d("{product}"),
    params:
        step=step_params("resample"),
        code=code_version("resample"),
    benchmark:
        f"{BENCH}/resample/{{product}}.tsv",
    log:
        f"{LOGS}/resample/{{product}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    group:
        EXPOSURE_GROUP
    script:
        "../scripts/resample.py"
