"""Rule plot_background: the first exposure's background from the science exposures (before/after)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import background_from_science

    product = snakemake.wildcards.product
    level = background_from_science(snakemake.input.rate, snakemake.input.bkgsub, snakemake.input.mask,
                                    snakemake.output[0], product)
    log.info("%s: background from the science figure %s (median %.6g DN/s)", product, snakemake.output[0], level)


main(snakemake, run)
