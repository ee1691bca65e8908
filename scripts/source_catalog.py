"""Rules source_catalog and source_catalog_i2d: the source catalog and segmentation map of an i2d."""
from mirical.workflow.runner import log, main, reference


def run(snakemake):
    from astropy.io import fits

    from mirical.steps.source_catalog import source_catalog, write_catalog, write_segmentation

    i2d = snakemake.input.i2d
    header = fits.getheader(i2d)
    apcorr = reference(snakemake, "apcorr", header, i2d)
    abvegaoffset = reference(snakemake, "abvegaoffset", header, i2d)
    params = snakemake.params.step
    catalog, labels, hdul = source_catalog(i2d, apcorr, abvegaoffset, params)
    log.info("%s: %d source(s), references %s and %s", i2d, len(catalog), apcorr, abvegaoffset)
    write_catalog(catalog, snakemake.output.catalog)
    if params["starfinder"] == "segmentation":
        write_segmentation(labels, hdul, snakemake.output.segmentation)


main(snakemake, run)
