"""Rule flat_field: divide by the FLAT reference file (multiply with inverse)."""
from mirical.workflow.runner import log, main


def flat_field(exposure, params, product, flat_path):
    from mirical.formats.io import read_reference_image
    from mirical.steps.flat_field import calibrate

    flat = read_reference_image(flat_path, ("SCI", "ERR", "DQ"))
    exposure, median = calibrate(exposure, flat, params["inverse"])
    how = "flat field undone (inverse)" if params["inverse"] else "flat-fielded"
    log.info("%s: %s with %s, flat median %.6g", product, how, flat_path, median)
    return exposure


def run(snakemake):
    from mirical.formats.io import write_exposure
    from mirical.workflow.exposure_step import run_exposure_step

    write_exposure(run_exposure_step(snakemake, "flat_field", flat_field), snakemake.output.exposure)


main(snakemake, run)
