"""Rule resample: drizzle one cal exposure onto an undistorted grid (_i2d)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps import mark_skipped

    params = snakemake.params.step
    product = snakemake.wildcards.product
    if params["skip"]:
        exposure = read_exposure(snakemake.input.cal)
        mark_skipped(exposure, "resample", product, "skip requested: the i2d file is the cal exposure")
    else:
        from mirical.steps.resample import drizzle

        exposure = drizzle([snakemake.input.cal], params)
        log.info("%s: resampled to %dx%d, PIXFRAC %s, kernel %s", product, exposure.shape[1],
                 exposure.shape[0], params["pixfrac"], params["kernel"])
    add_history(exposure, "resample", params)
    write_exposure(exposure, snakemake.output.i2d)


main(snakemake, run)
