"""Rules mosaic_grid and outlier_grid: the output grid from all cal files' footprints, once.

mosaic_grid copies outlier_grid's file when the grids are the same (input ``outlier_grid``: the same cal files and
grid keys) instead of reading every gwcs again.
"""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.steps.mosaic import compute_grid, copy_grid, write_grid

    step = "outlier_detection" if snakemake.rule == "outlier_grid" else "mosaic"  # whose allowed_memory
    if "outlier_grid" in snakemake.input.keys():
        grid = copy_grid(snakemake.input.outlier_grid, snakemake.output.grid, snakemake.params.step, step)
        source = "outlier detection's grid"
    else:
        grid = compute_grid(list(snakemake.input.cal), snakemake.params.step, step)
        write_grid(grid, snakemake.output.grid)
        source = f"{len(snakemake.input.cal)} exposure(s)"
    log.info("mosaic grid for %s: %dx%d pixels, PXSCLRT %s", source, grid.shape[1], grid.shape[0],
             grid.pixel_scale_ratio)


main(snakemake, run)
