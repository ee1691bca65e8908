"""Rules mosaic_drizzle and outlier_drizzle: one cal exposure drizzled alone onto its crop of the grid.

outlier_drizzle also writes the exposure's pixel map onto its grid (output ``pixmap``), which its blot reads, and
mosaic_drizzle too when the grids are the same (input ``pixmap``) instead of evaluating the gwcs again.
"""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.drizzle.exposure_map import read_exposure_map, write_exposure_map
    from mirical.drizzle.i2d import exposure_wcs
    from mirical.formats.io import read_exposure
    from mirical.steps.mosaic import drizzle_exposure, grid_map, read_grid, write_part

    cal, params = snakemake.input.cal, snakemake.params.step
    grid = read_grid(snakemake.input.grid)
    exposure = read_exposure(cal)
    if "pixmap" in snakemake.input.keys():
        mapping = read_exposure_map(snakemake.input.pixmap)
    else:
        mapping = grid_map(exposure_wcs(cal, exposure.asdf), exposure.shape, grid, params)
    if "pixmap" in snakemake.output.keys():
        write_exposure_map(mapping, snakemake.output.pixmap, cal)
    part = drizzle_exposure(exposure, None, grid, params, mapping)
    write_part(part, grid, snakemake.output.part, cal)
    ny, nx = part.arrays["SCI"].shape
    log.info("%s: drizzled onto grid columns %d-%d, rows %d-%d%s", snakemake.wildcards.product,
             part.x0, part.x0 + nx - 1, part.y0, part.y0 + ny - 1,
             " (the pixel map outlier detection wrote)" if "pixmap" in snakemake.input.keys() else "")


main(snakemake, run)
