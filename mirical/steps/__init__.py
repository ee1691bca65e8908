"""The workflow's steps, declared once: what the rules, scripts, summary and API read.

Each step has a rule ``rules/{name}.smk``, a script ``scripts/{name}.py`` that calls
its module ``mirical/steps/{module}.py``, its parameters at ``config[{config}]``,
the status keyword it writes (COMPLETE or SKIPPED) and the reference file types
it reads. Adding a step: a row here, a rule file, a script and a module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the table stays light to import (Snakefile, planning): no numpy, no astropy
    from mirical.formats.io import Exposure

log = logging.getLogger("mirical")


@dataclass(frozen=True)
class Step:
    name: str  # rule, script and log folder
    keyword: str  # status keyword in the primary header
    reftypes: tuple[str, ...]  # reference file types it reads, in the order the step uses them
    config: tuple[str, ...]  # where its parameters are in the config, e.g. ("steps", "background")
    module: str  # its module in this package, mirical/steps/{module}.py, which the script calls
    cal: bool  # a calibration step: its status is in the cal file (and in the summary)


STEPS = (
    Step("background", "S_BKDSUB", (), ("steps", "background"), "background", True),
    Step("assign_wcs", "S_WCS", ("distortion", "filteroffset"), ("steps", "assign_wcs"), "assign_wcs", True),
    Step("flat_field", "S_FLAT", ("flat",), ("steps", "flat_field"), "flat_field", True),
    Step("photom", "S_PHOTOM", ("photom", "area"), ("steps", "photom"), "photom", True),
    Step("resample", "S_RESAMP", (), ("steps", "resample"), "resample", False),
    Step("outlier_detection", "S_OUTLIR", (), ("outlier_detection",), "outlier_detection", False),
    Step("mosaic", "S_RESAMP", (), ("mosaic",), "mosaic", False),
)
STEP = {step.name: step for step in STEPS}
#: Status keywords of the calibration steps, in order.
CAL_STEPS = tuple(step.keyword for step in STEPS if step.cal)
#: Every reference file type, in step order.
REFTYPES = tuple(reftype for step in STEPS for reftype in step.reftypes)


def step_config(config: dict, name: str) -> dict:
    """The parameters of step ``name`` in a (validated) workflow config."""
    value = config
    for key in STEP[name].config:
        value = value[key]
    return dict(value)


def set_step_status(exposure: Exposure, name: str, status: str) -> None:
    """Record step ``name``'s status keyword (COMPLETE or SKIPPED) in the primary header."""
    from mirical.formats.io import set_status

    set_status(exposure, STEP[name].keyword, status)


def mark_skipped(exposure: Exposure, name: str, label: str, why: str) -> None:
    """Record step ``name`` as SKIPPED on ``exposure`` and log why."""
    set_step_status(exposure, name, "SKIPPED")
    log.info("%s: %s SKIPPED (%s)", label, name, why)


def skipped(exposure: Exposure, name: str, params: dict, label: str, why: str | None = None) -> bool:
    """True (SKIPPED recorded and logged) if step ``name`` does not run: ``skip`` in its config, or ``why``."""
    if params["skip"]:
        why = "skip requested"
    if why is None:
        return False
    mark_skipped(exposure, name, label, why)
    return True
