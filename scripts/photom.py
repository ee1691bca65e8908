"""Rules photom and photom_ints: DN/s to MJy/sr, pixel area attached; writes the cal (calints) file and its provenance."""
from mirical.workflow.runner import log, main, named_warnings


def photom(exposure, params, product, photom_path, area_path):
    from mirical.formats.io import read_reference_image, read_tables
    from mirical.steps.photom import TIME_TABLES, calibrate

    tables, _ = read_tables(photom_path, ("PHOTOM",) + TIME_TABLES, required=("PHOTOM",))
    area = read_reference_image(area_path, ("SCI",))
    exposure, c = calibrate(exposure, tables, photom_path, area, params["apply_time_correction"], params["inverse"])
    log.info("%s: PHOTMJSR %.6g (MJy/sr)/(DN/s) %s, PIXAR_SR %.6g", product, c,
             "undone (inverse)" if params["inverse"] else "applied", exposure.sci_header["PIXAR_SR"])
    return exposure


def run(snakemake):
    import json

    from mirical.formats.association import write_json
    from mirical.formats.io import write_exposure
    from mirical.references.selection import provenance_record
    from mirical.steps import CAL_STEPS
    from mirical.workflow.exposure_step import run_exposure_step

    product = snakemake.wildcards.product
    exposure = run_exposure_step(snakemake, "photom", photom)
    exposure.primary["DATAMODL"] = "CubeModel" if exposure.ints else "ImageModel"
    exposure.primary["FILETYPE"] = "calibrated"
    log.info("%s: %s", product, " ".join(f"{k}={exposure.get(k, 'NOT RUN')}" for k in CAL_STEPS))
    references = snakemake.params.references
    record = provenance_record(product, snakemake.params.science, references, snakemake.params.errors,
                               named_warnings(snakemake, references, exposure.primary, exposure.path))
    write_json(record, snakemake.output.refs)
    log.info("%s: references %s", product, json.dumps({t: r["name"] for t, r in record["references"].items()}))
    write_exposure(exposure, snakemake.output.cal)


main(snakemake, run)
