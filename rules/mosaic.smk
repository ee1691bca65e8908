# The dither mosaic as map/reduce (mirical/steps/mosaic.py): the output grid once (mosaic_grid),
# each exposure drizzled alone onto its crop of that grid (mosaic_drizzle, one job per
# product, in parallel), and the sum of those parts into the mosaic (mosaic). When the grid is
# outlier detection's (SAME_GRIDS), mosaic_grid copies its file and mosaic_drizzle reads each
# exposure's pixel map from outlier_drizzle's (SHARED_PIXMAP).
# With mosaic.lyot mask, lyot_mask first flags each exposure's Lyot region for all of stage 3
# (stage3_start in rules/common.smk; the grids read the exposures' WCS only, so not its files).
rule lyot_mask:
    input:
        exposure=aligned_input,
    output:
        exposure=LAYOUT.intermediate_exposure("{product}", "lyotmask"),
    log:
        f"{LOGS}/lyot_mask/{{product}}.log",
    benchmark:
        f"{BENCH}/lyot_mask/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_version("lyot_mask"),
    script:
        "../scripts/lyot_mask.py"


rule mosaic_grid:
    input:
        **output_wcs_input("mosaic"),
        **mosaic_grid_source(),
    output:
        grid=LAYOUT.mosaic_grid(),
    log:
        f"{LOGS}/mosaic_grid.log",
    benchmark:
        f"{BENCH}/mosaic_grid.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        step={key: step_params("mosaic")[key] for key in MOSAIC_GRID_KEYS},
        code=code_version("mosaic_grid"),
    script:
        "../scripts/mosaic_grid.py"


rule mosaic_drizzle:
    input:
        unpack(shared_pixmap_input),
        cal=mosaic_exposure,
        grid=rules.mosaic_grid.output.grid,
    output:
        part=LAYOUT.mosaic_part("{product}"),
    log:
        f"{LOGS}/mosaic_drizzle/{{product}}.log",
    benchmark:
        f"{BENCH}/mosaic_drizzle/{{product}}.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        step=step_params("mosaic", omit=MOSAIC_REDUCE_KEYS + ("lyot",)),
        code=code_version("mosaic_drizzle"),
    script:
        "../scripts/mosaic_drizzle.py"


rule mosaic:
    input:
        unpack(mosaic_inputs),
    output:
        i2d=LAYOUT.mosaic(),
    log:
        f"{LOGS}/mosaic.log",
    benchmark:
        f"{BENCH}/mosaic.tsv"
    conda:
        "../envs/mirical.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        step=step_params("mosaic", omit=("lyot",)),
        code=code_version("mosaic"),
    script:
        "../scripts/mosaic.py"
