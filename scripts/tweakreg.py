"""Rule tweakreg: one cal exposure's gwcs corrected by its row of the fit table (S_TWKREG, S_REGION, SIP)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps.tweakreg import apply_fit, read_fit

    product = snakemake.wildcards.product
    exposure = read_exposure(snakemake.input.cal, ints=False)
    row = read_fit(snakemake.input.fit, product)
    apply_fit(exposure, row, snakemake.params.step)
    add_history(exposure, "tweakreg", snakemake.params.step)
    write_exposure(exposure, snakemake.output.exposure)
    log.info("%s: tweakreg %s (%s)", product, row["status"], "WCS corrected" if row["applied"] else "WCS unchanged")


main(snakemake, run)
