"""Rule plot_footprints: the S_REGION of every cal exposure on the sky, over the mosaic."""
from mirical.runner import log, main


def run(snakemake):
    from mirical.plots import footprints

    name = snakemake.params.name
    cals = list(zip(snakemake.params.products, snakemake.input.cal))
    drawn = footprints(snakemake.input.mosaic, cals, snakemake.output[0], name)
    missing = [p for p, _ in cals if p not in drawn]
    log.info("%s: footprints of %d exposure(s) in %s%s", name, len(drawn), snakemake.output[0],
             f" (no S_REGION: {', '.join(missing)})" if missing else "")


main(snakemake, run)
