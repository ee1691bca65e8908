"""Rule plot_catalog: the mosaic with the sources of its catalog (and the demo's fluxes against the truth)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import catalog

    truth = snakemake.input.get("truth")
    drawn = catalog(snakemake.input.mosaic, snakemake.input.catalog, snakemake.output[0], snakemake.params.name, truth)
    log.info("%s: %d source(s) drawn in %s", snakemake.params.name, drawn, snakemake.output[0])


main(snakemake, run)
