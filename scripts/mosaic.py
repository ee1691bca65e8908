"""Rule mosaic: the per-exposure parts summed into one mosaic (no second drizzle)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps import mark_skipped

    params = snakemake.params.step
    if params["skip"]:
        exposure = read_exposure(snakemake.input.first)
        mark_skipped(exposure, "mosaic", "mosaic", "skip requested: the output is the first cal exposure")
    else:
        from mirical.steps.mosaic import mosaic

        parts = list(snakemake.input.parts)
        exposure = mosaic(parts, snakemake.input.grid, snakemake.input.first, params)
        log.info("mosaic of %d exposure(s): %dx%d pixels", len(parts), exposure.shape[1], exposure.shape[0])
    add_history(exposure, "mosaic", params)
    write_exposure(exposure, snakemake.output.i2d)


main(snakemake, run)
