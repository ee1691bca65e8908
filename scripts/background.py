"""Rule background: subtract the dedicated background exposures."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_member, write_exposure
    from mirical.steps import skipped, step_config
    from mirical.steps.background import calibrate, check_science_keywords

    params = snakemake.params.step
    product = snakemake.wildcards.product
    exposure = read_member(snakemake.input.science)
    # what the later steps read, refused here naming the user's file
    check_science_keywords(exposure, pointing=not step_config(snakemake.config, "assign_wcs")["skip"])
    backgrounds = list(snakemake.input.backgrounds)
    if not skipped(exposure, "background", params, product, None if backgrounds else "no background members"):
        members = [read_member(path) for path in backgrounds]
        exposure, level = calibrate(exposure, members, params["sigma"], params["maxiters"])
        log.info("%s: background subtracted, median level %.6g DN/s from %d member(s)",
                 product, level, len(members))
    add_history(exposure, "background", params)
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
