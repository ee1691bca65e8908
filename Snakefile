# mirical: JWST MIRI imager Stage-2 calibration (calwebb_image2) as a Snakemake workflow.
#   background -> assign_wcs -> flat_field -> photom -> cal -> resample (i2d), + the dither mosaic.
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")
# The package beside this Snakefile, for planning here and for the jobs' scripts (PYTHONPATH).
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p)

from mirical.config import typed_values
from mirical.steps import STEPS


configfile: os.path.join(workflow.basedir, "config.yaml")


config.update(typed_values(config))
validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"), set_default=True)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/association.smk"
# One rule file per step of the step table (mirical/steps.py), in its order.
for _step in STEPS:

    include: f"rules/{_step.name}.smk"


include: "rules/plots.smk"
include: "rules/summary.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
