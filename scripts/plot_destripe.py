"""Rule plot_destripe: the first exposure before and after destripe, and the stripes removed."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import destripe_before_after

    product = snakemake.wildcards.product
    rows, columns = destripe_before_after(snakemake.input.cal, snakemake.input.destripe, snakemake.output[0], product)
    log.info("%s: destripe figure %s (RMS removed: rows %.6g, columns %.6g)", product, snakemake.output[0], rows,
             columns)


main(snakemake, run)
