"""Rule mosaic: all dithers' cal files drizzled, one at a time, into one mosaic."""
from mirical.io import add_history, read_exposure, write_exposure
from mirical.runner import log, main
from mirical.steps import mark_skipped


def run(snakemake):
    params = snakemake.params.step
    inputs = list(snakemake.input.cal)
    if params["skip"]:
        exposure = read_exposure(inputs[0])
        mark_skipped(exposure, "mosaic", "mosaic", "skip requested: the output is the first cal exposure")
    else:
        from mirical.resample import drizzle

        exposure = drizzle(inputs, params)
        log.info("mosaic of %d exposure(s): %dx%d pixels", len(inputs), exposure.shape[1], exposure.shape[0])
    add_history(exposure, "mosaic", params)
    write_exposure(exposure, snakemake.output.i2d)


main(snakemake, run)
