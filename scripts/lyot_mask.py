"""Rule lyot_mask (mosaic.lyot: mask): the exposure stage 3 reads, its Lyot region flagged DO_NOT_USE + NON_SCIENCE."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from mirical.formats.io import add_history, read_exposure, write_exposure
    from mirical.steps.lyot_mask import mask_lyot

    exposure = read_exposure(snakemake.input.exposure)
    flagged = mask_lyot(exposure)
    log.info("%s: %s", snakemake.wildcards.product,
             f"Lyot region flagged ({flagged} pixels)" if flagged else "not full frame: no Lyot region flagged")
    add_history(exposure, "lyot_mask", {"lyot": "mask"})
    write_exposure(exposure, snakemake.output.exposure)


main(snakemake, run)
