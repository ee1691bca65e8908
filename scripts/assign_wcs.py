"""Rule assign_wcs: attach the gwcs (ASDF extension) and its TAN-SIP header."""
from mirical.workflow.runner import log, main, reference


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps import skipped

    params = snakemake.params.step
    product = snakemake.wildcards.product
    exposure = read_exposure(snakemake.input.exposure)
    if skipped(exposure, "assign_wcs", params, product):
        refs = []
    else:
        from mirical.steps.assign_wcs import calibrate

        distortion = reference(snakemake, "distortion", exposure.primary, exposure.path)
        filteroffset = reference(snakemake, "filteroffset", exposure.primary, exposure.path)
        exposure = calibrate(exposure, distortion, filteroffset)
        log.info("%s: WCS assigned, S_REGION %s", product, exposure.sci_header["S_REGION"])
        refs = [distortion, filteroffset]
    add_history(exposure, "assign_wcs", params, refs)
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
