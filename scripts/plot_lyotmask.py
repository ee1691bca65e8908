"""Rule plot_lyotmask: the first full-frame exposure stage 3 reads, its Lyot region (flagged) hatched."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import lyot_masked

    product = snakemake.wildcards.product
    flagged = lyot_masked(snakemake.input.exposure, snakemake.output[0], product)
    log.info("%s: Lyot mask figure %s (%d pixels flagged)", product, snakemake.output[0], flagged)


main(snakemake, run)
