"""Rule plot_exposure: the seed's rate (Level 2A) vs cal (Level 2B) figure for one exposure."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import rate_vs_cal

    product = snakemake.wildcards.product
    limits = rate_vs_cal(snakemake.input.rate, snakemake.input.cal, snakemake.output[0], product)
    log.info("%s: rate vs cal quicklook %s (%s)", product, snakemake.output[0],
             "; ".join(f"{k}: {v}" for k, v in limits.items()))


main(snakemake, run)
