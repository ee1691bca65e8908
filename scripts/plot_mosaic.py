"""Rule plot_mosaic: the mosaic on RA/Dec axes and its weight map."""
from mirical.runner import log, main


def run(snakemake):
    from mirical.plots import mosaic, weight_map

    name = snakemake.params.name
    sci = mosaic(snakemake.input.mosaic, snakemake.output.sci, name)
    wht = weight_map(snakemake.input.mosaic, snakemake.output.wht, name)
    log.info("%s mosaic: %s (SCI %s), %s (WHT %s)", name, snakemake.output.sci, sci.get("SCI", "n/a"),
             snakemake.output.wht, wht.get("WHT", "no WHT extension"))


main(snakemake, run)
