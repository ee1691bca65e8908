# Stage-3 outlier detection (mirical/steps/outlier_detection.py), as jwst's imaging mode: the default
# grid once (outlier_grid), each cal exposure drizzled alone onto it (outlier_drizzle, which writes
# the exposure's pixel map onto the grid for the blot and, on the same grid, the mosaic), their
# median over groups (outlier_median, a reduce over row blocks), and per product the median
# blotted back and compared (outlier_detection: {product}_crf.fits, which the mosaic then uses).
# With resample_data false the median is of the cal files themselves (no grid, no drizzle).
rule outlier_grid:
    input:
        cal=[aligned_exposure(p) for p in RATE_NAMES],
    output:
        grid=LAYOUT.outlier_grid(),
    log:
        f"{LOGS}/outlier_grid.log",
    benchmark:
        f"{BENCH}/outlier_grid.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        step=OUTLIER_GRID,
        code=code_version("mosaic_grid"),
    script:
        "../scripts/mosaic_grid.py"


rule outlier_drizzle:
    input:
        cal=stage3_input,
        grid=rules.outlier_grid.output.grid,
    output:
        part=LAYOUT.outlier_i2d("{product}"),
        pixmap=LAYOUT.outlier_pixmap("{product}"),
    log:
        f"{LOGS}/outlier_drizzle/{{product}}.log",
    benchmark:
        f"{BENCH}/outlier_drizzle/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step=outlier_drizzle_params(),
        code=code_version("mosaic_drizzle"),
    script:
        "../scripts/mosaic_drizzle.py"


rule outlier_median:
    input:
        unpack(outlier_median_inputs),
    output:
        median=LAYOUT.median(),
    log:
        f"{LOGS}/outlier_median.log",
    benchmark:
        f"{BENCH}/outlier_median.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        step={
            key: step_params("outlier_detection")[key]
            for key in ("maskpt", "fillval", "resample_data", "weight_type", "good_bits")
        },
        code=code_version("outlier_median"),
    script:
        "../scripts/outlier_median.py"


rule outlier_detection:
    input:
        unpack(outlier_pixmap_input),
        cal=stage3_input,
        median=rules.outlier_median.output.median,
    output:
        crf=LAYOUT.crf("{product}"),
    log:
        f"{LOGS}/outlier_detection/{{product}}.log",
    benchmark:
        f"{BENCH}/outlier_detection/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step={
            key: step_params("outlier_detection")[key]
            for key in ("snr", "scale", "backg", "resample_data") + PIXMAP_KEYS
        },
        member=stage3_member,
        code=code_version("outlier_detection"),
    script:
        "../scripts/outlier_detection.py"
