"""Rule plot_tweakreg: tweakreg's matched sources, residuals and fitted shift per exposure."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import tweakreg_fit

    count = tweakreg_fit(snakemake.input.fit, snakemake.input.matches, snakemake.output[0], snakemake.params.name)
    log.info("%d exposure(s) with a corrected WCS shown in %s", count, snakemake.output[0])


main(snakemake, run)
