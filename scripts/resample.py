"""Rule resample: drizzle one cal exposure onto an undistorted grid (_i2d)."""
from mirical.io import add_history, read_exposure, set_status, write_exposure
from mirical.runner import log, main


def run(snakemake):
    params = snakemake.params.step
    product = snakemake.wildcards.product
    if params["skip"]:
        exposure = read_exposure(snakemake.input[0])
        set_status(exposure, "S_RESAMP", "SKIPPED")
        log.info("%s: resample SKIPPED (the i2d file is the cal exposure, not resampled)", product)
    else:
        from mirical.i2d import drizzle

        exposure = drizzle([snakemake.input[0]], params)
        log.info("%s: resampled to %dx%d, PIXFRAC %s, kernel %s", product, exposure.shape[1],
                 exposure.shape[0], params["pixfrac"], params["kernel"])
    add_history(exposure, "resample", params)
    write_exposure(exposure, snakemake.output[0])


main(snakemake, run)
