# mirical: JWST MIRI imager Stage-2 calibration (calwebb_image2) as a Snakemake workflow.
#   background -> assign_wcs -> flat_field -> photom -> cal -> resample (i2d), + the dither mosaic.
import os
import sys

from snakemake.utils import min_version, validate

min_version("8.0")
sys.path.insert(0, workflow.basedir)

from mirical.config import typed_values


configfile: os.path.join(workflow.basedir, "config.yaml")


config.update(typed_values(config))
validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"), set_default=True)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/association.smk"
include: "rules/background.smk"
include: "rules/assign_wcs.smk"
include: "rules/flat_field.smk"
include: "rules/photom.smk"
include: "rules/resample.smk"
include: "rules/mosaic.smk"
include: "rules/plots.smk"
include: "rules/summary.smk"


rule all:
    input:
        all_outputs(),
    default_target: True


onsuccess:
    from snakemake.logging import logger

    logger.info(
        f"mirical: products (cal, i2d, mosaic {NAME}_i2d.fits, table {NAME}_summary.html) in {OUT}/, "
        f"figures in {PLOTS}/\n"
        "mirical: the report with every figure and the table: the same command with --report report.html"
    )
