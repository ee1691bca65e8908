"""Rule destripe: remove the row and column stripes of a cal exposure (resample and stage 3 read the result)."""
from mirical.workflow.runner import log, main


def destripe(exposure, params, product):
    from mirical.steps.destripe import destripe as remove

    exposure, rows, columns = remove(exposure, params)
    log.info("%s: stripes removed, RMS rows %.4g, columns %.4g %s", product, rows, columns,
             str(exposure.sci_header.get("BUNIT", "")).strip())
    return exposure


def run(snakemake):
    from mirical.formats.io import write_exposure
    from mirical.workflow.exposure_step import run_exposure_step

    write_exposure(run_exposure_step(snakemake, "destripe", destripe), snakemake.output.exposure)


main(snakemake, run)
