"""Rule background_srcmask: the source mask of one rate file (steps.background.source science)."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path
    from mirical.formats.io import read_member, write_atomic
    from mirical.steps.background import source_mask_hdulist
    from mirical.steps.source_mask import source_mask

    params = snakemake.params.mask
    exposure = read_member(snakemake.input.rate)
    if exposure.ints:
        from mirical.errors import MiricalError

        raise MiricalError(exposure.path, "a rateints file cannot give a background from the science (give rate files)")
    mask = source_mask(exposure.arrays["SCI"], exposure.arrays["DQ"], params["mask_nsigma"], params["mask_npixels"],
                       params["mask_dilate"], params["mask_box_size"])
    hdulist = source_mask_hdulist(mask, exposure, params)
    hdulist[0].header["FILENAME"] = Path(snakemake.output.mask).name
    write_atomic(hdulist, snakemake.output.mask)
    log.info("%s: %d source pixel(s) masked (%.2f %%)", snakemake.wildcards.product, mask.sum(), 100 * mask.mean())


main(snakemake, run)
