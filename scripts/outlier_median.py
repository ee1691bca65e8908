"""Rule outlier_median: the median of the single-exposure images (one per group), a block of grid rows at a time;
with resample_data false, of the cal files themselves."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from astropy.io import fits
    from mirical.drizzle.grid import tan_header
    from mirical.drizzle.i2d import fillval
    from mirical.errors import MiricalError
    from mirical.formats.io import write_atomic
    from mirical.steps.mosaic import read_grid
    from mirical.steps.outlier_detection import exposure_image, file_group, median_image, single_images

    params = snakemake.params.step
    primary = fits.Header()
    primary["MASKPT"] = (params["maskpt"], "weight threshold: maskpt x clipped mean weight")
    if params["resample_data"]:
        grid = read_grid(snakemake.input.grid)
        groups = [file_group(path) for path in snakemake.input.cals]
        images = single_images(snakemake.input.parts, groups, params["maskpt"], fillval(params["fillval"]))
        shape, header = grid.shape, tan_header(grid.wcs)
    else:
        images = [exposure_image(path, params["maskpt"], params["weight_type"], params["good_bits"])
                  for path in snakemake.input.cals]
        shape, header = images[0].shape, None
        for path, image in zip(snakemake.input.cals, images):
            if image.shape != shape:
                raise MiricalError(path, f"its {image.shape} pixels differ from the first exposure's {shape}: "
                                   "with outlier_detection.resample_data false every exposure needs the same shape")
    median = median_image(images, shape, fillval(params["fillval"]))
    primary["NCOMBINE"] = (len(images), "single-exposure images (groups) in the median")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=primary), fits.ImageHDU(median, header, name="SCI")]),
                 snakemake.output.median)
    log.info("median of %d %s on a %dx%d grid", len(images),
             "single-exposure images" if params["resample_data"] else "cal files (resample_data false)",
             shape[1], shape[0])


main(snakemake, run)
