# mirical: JWST MIRI imager Stage-2 calibration (calwebb_image2) as a Snakemake workflow.
#   background -> assign_wcs -> flat_field -> photom -> cal -> resample (i2d), + the dither mosaic.
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")
# The package beside this Snakefile, for planning here and, through Snakemake's script
# preamble (which hands this sys.path on), for the jobs' scripts.
sys.path.insert(0, workflow.basedir)

from mirical.steps import STEPS
from mirical.workflow.config import typed_values
from mirical.workflow.planning import resolved_name


configfile: os.path.join(workflow.basedir, "config.yaml")


config.update(typed_values(config))
validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"), set_default=True)
config["name"] = resolved_name(config)  # given, else from the association or science files


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/association.smk"


# One rule file per step of the step table (mirical/steps/__init__.py), in its order.
for _step in STEPS:

    include: f"rules/{_step.name}.smk"


include: "rules/plots.smk"
include: "rules/summary.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


# The warm worker (mirical/workflow/worker.py): one process with the heavy modules imported that forks
# one child per job; local runs only (a cluster job runs in its own process), stopped when the
# run ends and gone by itself when this process is.
onstart:
    if config["warm_worker"] and workflow.local_exec and workflow.is_main_process:
        from snakemake.logging import logger
        from mirical.workflow.worker import start

        if not start(workflow.basedir):
            logger.warning("mirical: the warm worker did not start; every job runs in its own process")


onerror:
    from mirical.workflow.worker import stop

    stop()


onsuccess:
    from snakemake.logging import logger
    from mirical.workflow.worker import stop

    stop()
    logger.info(
        f"mirical: products (cal, i2d, mosaic {NAME}_i2d.fits, table {NAME}_summary.html) in {OUT}/, "
        f"figures in {LAYOUT.plots}/\n"
        "mirical: the report with every figure and the table: the same command with --report report.html"
    )
