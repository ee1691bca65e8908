# mirical: JWST MIRI imager Stage-2 calibration (calwebb_image2) as a Snakemake workflow.
#   background -> assign_wcs -> flat_field -> photom -> cal -> resample (i2d), + the dither mosaic.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")
# The package beside this Snakefile, for planning here and, through Snakemake's script
# preamble (which hands this sys.path on), for the jobs' scripts.
sys.path.insert(0, workflow.basedir)

from mirical.errors import refuse_run
from mirical.steps import STEPS
from mirical.workflow.config import check_config, typed_values
from mirical.workflow.planning import resolved_name


configfile: os.path.join(workflow.basedir, "config.yaml")


# A wrong config, association or input list stops the run here, before any job: one line per
# problem naming the key or file (mirical.errors.Refusal), no traceback.
with refuse_run():
    config.update(typed_values(config))
    check_config(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))
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


# The science products alone (no figures, no summary): `snakemake products`.
rule products:
    input:
        product_outputs(),


# One run per output folder (mirical/workflow/lock.py): the lock is taken before the first job and released
# when the run ends (or its process exits); a second run on the folder stops here with one line.
# The warm worker (mirical/workflow/worker.py): one process with the heavy modules imported that forks
# one child per job; local runs only (a cluster job runs in its own process), stopped when the
# run ends and gone by itself when this process is.
onstart:
    if workflow.is_main_process:
        import atexit
        import shlex
        from mirical.workflow.lock import acquire, release

        with refuse_run():
            acquire(OUT, shlex.join(sys.argv))
        atexit.register(release, OUT)
    if config["warm_worker"] and workflow.local_exec and workflow.is_main_process:
        from snakemake.logging import logger
        from mirical.workflow.worker import start

        if not start(workflow.basedir):
            logger.warning("mirical: the warm worker did not start; every job runs in its own process")


onerror:
    from mirical.workflow.lock import release
    from mirical.workflow.worker import stop

    stop()
    release(OUT)


onsuccess:
    from snakemake.logging import logger
    from mirical.workflow.lock import release
    from mirical.workflow.worker import stop

    stop()
    release(OUT)
    logger.info(
        f"mirical: products (cal, i2d, mosaic {NAME}_i2d.fits, table {NAME}_summary.html) in {OUT}/, "
        f"figures in {LAYOUT.plots}/\n"
        "mirical: the report with every figure and the table: the same command with --report report.html"
    )
