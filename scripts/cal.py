"""Rule cal: the calibrated exposure under its final name."""
from mirical.io import read_exposure, write_exposure
from mirical.runner import log, main

STEPS = ("S_BKDSUB", "S_WCS", "S_FLAT", "S_PHOTOM")


def run(snakemake):
    exposure = read_exposure(snakemake.input[0])
    statuses = {key: exposure.get(key, "NOT RUN") for key in STEPS}
    exposure.primary["DATAMODL"] = "ImageModel"
    exposure.primary["FILETYPE"] = "calibrated"
    log.info("%s: %s", snakemake.wildcards.product, " ".join(f"{k}={v}" for k, v in statuses.items()))
    write_exposure(exposure, snakemake.output[0])


main(snakemake, run)
