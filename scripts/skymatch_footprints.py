"""Rule skymatch_footprints: every exposure's footprint, group id and earlier level (gwcs and headers only)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.steps.skymatch import read_footprint, write_footprints

    params = snakemake.params.step
    exposures = [read_footprint(product, path, params) for product, path in
                 zip(snakemake.params.products, snakemake.input.cal, strict=True)]
    write_footprints(exposures, snakemake.output.footprints)
    log.info("%d footprints", len(exposures))


main(snakemake, run)
