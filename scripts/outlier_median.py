"""Rule outlier_median: the median of the single-exposure images (one per group), a block of grid rows at a time."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from astropy.io import fits
    from mirical.drizzle.grid import tan_header
    from mirical.drizzle.i2d import fillval
    from mirical.formats.io import write_atomic
    from mirical.steps.mosaic import read_grid
    from mirical.steps.outlier_detection import median_image, single_images

    params = snakemake.params.step
    grid = read_grid(snakemake.input.grid)
    images = single_images(snakemake.input.parts, params["maskpt"], fillval(params["fillval"]))
    median = median_image(images, grid.shape, fillval(params["fillval"]))
    primary = fits.Header()
    primary["MASKPT"] = (params["maskpt"], "weight threshold: maskpt x clipped mean weight")
    primary["NCOMBINE"] = (len(images), "single-exposure images (groups) in the median")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=primary),
                               fits.ImageHDU(median, tan_header(grid.wcs), name="SCI")]), snakemake.output.median)
    log.info("median of %d single-exposure images (groups of the %d exposures) on a %dx%d grid", len(images),
             len(snakemake.input.parts), grid.shape[1], grid.shape[0])


main(snakemake, run)
