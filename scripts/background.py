"""Rule background: subtract the dedicated background exposures."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import read_member, write_exposure
    from mirical.steps.background import calibrate
    from mirical.workflow.exposure_step import run_exposure_step

    backgrounds = list(snakemake.input.backgrounds)

    def background(exposure, params, product):
        members = [read_member(path) for path in backgrounds]
        exposure, level = calibrate(exposure, members, params["sigma"], params["maxiters"])
        log.info("%s: background subtracted, median level %.6g DN/s from %d member(s)",
                 product, level, len(members))
        return exposure

    exposure = run_exposure_step(snakemake, "background", background, read_member(snakemake.input.science),
                                 None if backgrounds else "no background members")
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
