"""Rule combined_background: the background step's combined background, as save_combined_background writes it."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path
    from mirical.formats.io import read_member, write_atomic
    from mirical.steps.background import combined_background, combined_background_hdulist

    params = snakemake.params.step
    science = read_member(snakemake.input.science)
    members = list(snakemake.input.backgrounds)
    combined = combined_background(science, [read_member(p) for p in members], params["sigma"], params["maxiters"])
    hdulist = combined_background_hdulist(combined, science, members)
    hdulist[0].header["FILENAME"] = Path(snakemake.output.combined).name
    write_atomic(hdulist, snakemake.output.combined)
    log.info("%s: combined background of %d member(s) written", snakemake.wildcards.product, len(members))


main(snakemake, run)
