"""Rule assign_wcs: attach the gwcs (ASDF extension) and its TAN-SIP header."""
from mirical.workflow.runner import log, main


def assign_wcs(exposure, params, product, distortion, filteroffset, image2_resample=False):
    from mirical.steps.assign_wcs import calibrate

    # image2's resample (run on a 2-D exposure unless skipped) leaves its group id in the cal file
    exposure = calibrate(exposure, distortion, filteroffset, group_id=image2_resample and not exposure.ints)
    log.info("%s: WCS assigned, S_REGION %s", product, exposure.sci_header["S_REGION"])
    return exposure


def run(snakemake):
    from functools import partial

    from mirical.formats.io import write_exposure
    from mirical.workflow.exposure_step import run_exposure_step

    step = partial(assign_wcs, image2_resample=snakemake.params.image2_resample)
    write_exposure(run_exposure_step(snakemake, "assign_wcs", step), snakemake.output.exposure)


main(snakemake, run)
