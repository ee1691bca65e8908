"""Rule plot_mosaic: the mosaic on RA/Dec axes, its weight map and the cal exposures' footprints."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.products.plots import footprints, mosaic, read_image, weight_map

    name = snakemake.params.name
    image = read_image(snakemake.input.mosaic)  # its SCI, read once for the three figures
    sci = mosaic(image, snakemake.output.sci, name)
    wht = weight_map(image, snakemake.output.wht, name)
    log.info("%s mosaic: %s (SCI %s), %s (WHT %s)", name, snakemake.output.sci, sci.get("SCI", "n/a"),
             snakemake.output.wht, wht.get("WHT", "no WHT extension"))
    cals = list(zip(snakemake.params.products, snakemake.input.cal))
    drawn = footprints(image, cals, snakemake.output.footprints, name)
    missing = [p for p, _ in cals if p not in drawn]
    log.info("%s: footprints of %d exposure(s) in %s%s", name, len(drawn), snakemake.output.footprints,
             f" (no S_REGION: {', '.join(missing)})" if missing else "")


main(snakemake, run)
