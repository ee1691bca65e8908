"""Rule mosaic_grid: the mosaic's output grid from all cal files' footprints, once."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.steps.mosaic import compute_grid, write_grid

    grid = compute_grid(list(snakemake.input.cal), snakemake.params.step)
    write_grid(grid, snakemake.output.grid)
    log.info("mosaic grid for %d exposure(s): %dx%d pixels, PXSCLRT %s", len(snakemake.input.cal),
             grid.shape[1], grid.shape[0], grid.pixel_scale_ratio)


main(snakemake, run)
