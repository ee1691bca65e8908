"""Rule background: subtract the dedicated background exposures."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import read_member, write_exposure
    from mirical.steps import step_config
    from mirical.steps.background import calibrate, check_science_keywords
    from mirical.workflow.exposure_step import run_exposure_step

    science = read_member(snakemake.input.science)
    # what the later steps read, refused here naming the user's file
    check_science_keywords(science, pointing=not step_config(snakemake.config, "assign_wcs")["skip"])
    backgrounds = list(snakemake.input.backgrounds)

    def background(exposure, params, product):
        members = [read_member(path) for path in backgrounds]
        exposure, level = calibrate(exposure, members, params["sigma"], params["maxiters"])
        log.info("%s: background subtracted, median level %.6g DN/s from %d member(s)",
                 product, level, len(members))
        return exposure

    exposure = run_exposure_step(snakemake, "background", background, science,
                                 None if backgrounds else "no background members")
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
