"""Rule plot_outliers: the pixels outlier detection flagged in one exposure, over its cal image."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import outliers

    product = snakemake.wildcards.product
    count = outliers(snakemake.input.cal, snakemake.input.crf, snakemake.output[0], product)
    log.info("%s: %d flagged pixels shown in %s", product, count, snakemake.output[0])


main(snakemake, run)
