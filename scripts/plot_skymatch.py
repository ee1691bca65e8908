"""Rule plot_skymatch: the sky level skymatch found for each exposure."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import sky_levels

    count = sky_levels(snakemake.input.levels, snakemake.output[0], snakemake.params.name)
    log.info("%d exposure(s) with a sky level shown in %s", count, snakemake.output[0])


main(snakemake, run)
