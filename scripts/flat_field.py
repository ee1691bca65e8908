"""Rule flat_field: divide by the FLAT reference file (multiply with inverse)."""
from mirical.workflow.runner import log, main, reference


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, read_reference_image, write_exposure
    from mirical.steps import skipped
    from mirical.steps.flat_field import calibrate

    params = snakemake.params.step
    product = snakemake.wildcards.product
    exposure = read_exposure(snakemake.input.exposure)
    if skipped(exposure, "flat_field", params, product):
        refs = []
    else:
        path = reference(snakemake, "flat", exposure.primary, exposure.path)
        flat = read_reference_image(path, ("SCI", "ERR", "DQ"))
        exposure, median = calibrate(exposure, flat, params["inverse"])
        how = "flat field undone (inverse)" if params["inverse"] else "flat-fielded"
        log.info("%s: %s with %s, flat median %.6g", product, how, path, median)
        refs = [path]
    add_history(exposure, "flat_field", params, refs)
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
