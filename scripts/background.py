"""Rule background: subtract the dedicated background exposures."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_member, write_exposure
    from mirical.steps import skipped
    from mirical.steps.background import calibrate

    params = snakemake.params.step
    product = snakemake.wildcards.product
    exposure = read_member(snakemake.input.science)
    backgrounds = list(snakemake.input.backgrounds)
    if not skipped(exposure, "background", params, product, None if backgrounds else "no background members"):
        members = [read_member(path) for path in backgrounds]
        exposure, level = calibrate(exposure, members, params["sigma"], params["maxiters"])
        log.info("%s: background subtracted, median level %.6g DN/s from %d member(s)",
                 product, level, len(members))
    add_history(exposure, "background", params)
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
