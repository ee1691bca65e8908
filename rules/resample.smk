# Per-exposure resampling onto an undistorted grid (the _i2d quick look).
rule resample:
    input:
        f"{OUT}/{{product}}_cal.fits",
    output:
        f"{OUT}/{{product}}_i2d.fits",
    params:
        step=step_params("resample"),
        code=code_version("i2d", "resample", "resample_grid"),
    benchmark:
        f"{BENCH}/resample/{{product}}.tsv",
    log:
        f"{LOGS}/resample/{{product}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    group:
        EXPOSURE_GROUP
    conda:
        "../envs/mirical.yaml"
    script:
        "../scripts/resample.py"
