"""Rule assign_wcs: attach the gwcs (ASDF extension) and its TAN-SIP header."""
from mirical.workflow.runner import log, main


def assign_wcs(exposure, params, product, distortion, filteroffset):
    from mirical.steps.assign_wcs import calibrate

    exposure = calibrate(exposure, distortion, filteroffset)
    log.info("%s: WCS assigned, S_REGION %s", product, exposure.sci_header["S_REGION"])
    return exposure


def run(snakemake):
    from mirical.formats.io import write_exposure
    from mirical.workflow.exposure_step import run_exposure_step

    write_exposure(run_exposure_step(snakemake, "assign_wcs", assign_wcs), snakemake.output.exposure)


main(snakemake, run)
