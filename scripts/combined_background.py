"""Rule combined_background: the background step's combined background, as save_combined_background writes it."""
from mirical.workflow.runner import log, main


def run(snakemake):
    from pathlib import Path
    from mirical.formats.io import read_member, write_atomic
    from mirical.steps.background import (combined_background, combined_background_hdulist, read_source_mask,
                                          science_background, science_group)

    params = snakemake.params.step
    product = snakemake.wildcards.product
    science = read_member(snakemake.input.science)
    if params.get("source") == "science":
        others = [read_member(p) for p in snakemake.input.others]
        group = science_group(product, science, others)
        members = [snakemake.input.others[i] for i in group.used]
        combined = science_background(science, [others[i] for i in group.used],
                                      [read_source_mask(snakemake.input.masks[i]) for i in group.used],
                                      params["sigma"], params["maxiters"], params["science_statistic"])
    else:
        members = list(snakemake.input.backgrounds)
        combined = combined_background(science, [read_member(p) for p in members], params["sigma"], params["maxiters"])
    hdulist = combined_background_hdulist(combined, science, members)
    hdulist[0].header["FILENAME"] = Path(snakemake.output.combined).name
    if params.get("source") == "science":
        hdulist[0].header["BKGSRC"] = ("SCIENCE", "background from the other science exposures")
        hdulist[0].header["BKGNFILL"] = (int(combined.filled.sum()), "pixels without a value: from around")
    write_atomic(hdulist, snakemake.output.combined)
    log.info("%s: combined background of %d member(s) written", product, len(members))


main(snakemake, run)
