"""Rule background: subtract the dedicated background exposures (or one from the other science exposures)."""
from mirical.workflow.runner import log, main


def from_science(snakemake, exposure, params, product):
    """steps.background.source science: the background of the other science exposures, sources masked."""
    from mirical.formats.io import read_member
    from mirical.steps.background import (calibrate_from_science, read_source_mask, science_background,
                                          science_group)

    others = [read_member(path) for path in snakemake.input.others]
    group = science_group(product, exposure, others)
    for i in group.near:
        log.warning("%s: %s left out of its background: pointed too near (a source would sit in the same pixels)",
                    product, others[i].path)
    used = [others[i] for i in group.used]
    masks = [read_source_mask(snakemake.input.masks[i]) for i in group.used]
    background = science_background(exposure, used, masks, params["sigma"], params["maxiters"],
                                    params["science_statistic"])
    exposure, level = calibrate_from_science(exposure, background, len(used))
    log.info("%s: background from %d other science exposure(s) subtracted (sigma-clipped %s, sources masked), "
             "median level %.6g DN/s; %d pixel(s) had no value in any of them: the mean of the background around "
             "them (not flagged)",
             product, len(used), params["science_statistic"], level, int(background.filled.sum()))
    return exposure


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
        if params.get("source") == "science":
            return from_science(snakemake, exposure, params, product)
        members = [read_member(path) for path in backgrounds]
        exposure, level = calibrate(exposure, members, params["sigma"], params["maxiters"])
        log.info("%s: background subtracted, median level %.6g DN/s from %d member(s)",
                 product, level, len(members))
        return exposure

    science_source = snakemake.params.step.get("source") == "science"
    why = None if backgrounds or science_source else "no background members"
    exposure = run_exposure_step(snakemake, "background", background, science, why)
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
