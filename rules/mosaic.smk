# The dither mosaic as map/reduce (mirical/mosaic.py): the output grid once (mosaic_grid),
# each exposure drizzled alone onto its crop of that grid (mosaic_drizzle, one job per
# product, in parallel), and the sum of those parts into the mosaic (mosaic).
MOSAIC_CODE = code_version("mosaic", "i2d", "resample", "resample_grid")
# The mosaic keys that shape the grid (the others only change the drizzle).
MOSAIC_GRID_KEYS = ("pixel_scale_ratio", "pixel_scale", "rotation", "crpix", "crval", "output_shape")
MOSAIC_GRID = f"{INTER}/{NAME}_mosaic_grid.asdf"


def mosaic_inputs(wildcards):
    """The parts in product order (bit i of CON is product i) and the first cal file's headers."""
    first = f"{OUT}/{PRODUCT_NAMES[0]}_cal.fits"
    if config["mosaic"]["skip"]:
        return {"first": first}
    parts = [f"{INTER}/{p}_mosaic_part.fits" for p in PRODUCT_NAMES]
    return {"grid": MOSAIC_GRID, "parts": parts, "first": first}


rule mosaic_grid:
    input:
        cal=expand(f"{OUT}/{{product}}_cal.fits", product=PRODUCT_NAMES),
    output:
        grid=MOSAIC_GRID,
    params:
        step={key: config["mosaic"][key] for key in MOSAIC_GRID_KEYS},
        code=MOSAIC_CODE,
    benchmark:
        f"{BENCH}/mosaic_grid.tsv",
    log:
        f"{LOGS}/mosaic_grid.log",
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/mosaic_grid.py"


rule mosaic_drizzle:
    input:
        cal=f"{OUT}/{{product}}_cal.fits",
        grid=MOSAIC_GRID,
    output:
        part=f"{INTER}/{{product}}_mosaic_part.fits",
    params:
        step=dict(config["mosaic"]),
        code=MOSAIC_CODE,
    benchmark:
        f"{BENCH}/mosaic_drizzle/{{product}}.tsv",
    log:
        f"{LOGS}/mosaic_drizzle/{{product}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/mosaic_drizzle.py"


rule mosaic:
    input:
        unpack(mosaic_inputs),
    output:
        mosaic=f"{OUT}/{NAME}_i2d.fits",
    params:
        step=dict(config["mosaic"]),
        code=MOSAIC_CODE,
    benchmark:
        f"{BENCH}/mosaic.tsv",
    log:
        f"{LOGS}/mosaic.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/mosaic.py"
