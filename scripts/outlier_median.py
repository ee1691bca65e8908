"""Rule outlier_median: the median of the single-exposure images, a block of grid rows at a time."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from astropy.io import fits
    from mirical.drizzle.grid import tan_header
    from mirical.drizzle.i2d import fillval
    from mirical.formats.io import write_atomic
    from mirical.steps.mosaic import read_grid
    from mirical.steps.outlier_detection import image_on_disk, median_image

    params = snakemake.params.step
    grid = read_grid(snakemake.input.grid)
    images = [image_on_disk(path, params["maskpt"]) for path in snakemake.input.parts]
    median = median_image(images, grid.shape, fillval(params["fillval"]))
    primary = fits.Header()
    primary["MASKPT"] = (params["maskpt"], "weight threshold: maskpt x clipped mean weight")
    primary["NCOMBINE"] = (len(images), "single-exposure images in the median")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=primary),
                               fits.ImageHDU(median, tan_header(grid.wcs), name="SCI")]), snakemake.output.median)
    log.info("median of %d single-exposure images on a %dx%d grid", len(images), grid.shape[1], grid.shape[0])


main(snakemake, run)
