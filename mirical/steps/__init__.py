"""The workflow's steps, declared once: what the rules, scripts, summary and API read.

Each step has a rule ``rules/{name}.smk``, a script ``scripts/{name}.py`` that calls
its module ``mirical/steps/{module}.py``, its parameters at ``config[{config}]``,
the status keyword it writes (COMPLETE or SKIPPED), the reference file types it
reads, the suffix of the file it writes and its panel in the step strip figure.
Adding a step: docs/development.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

# The table imports nothing of mirical (nor numpy or astropy): every layer above reads it, cheaply, and a
# change elsewhere is not a change of what imports it. An exposure here is a `mirical.formats.io.Exposure`.
Exposure = Any

log = logging.getLogger("mirical")


@dataclass(frozen=True)
class Step:
    name: str  # rule, script and log folder
    keyword: str  # status keyword in the primary header
    reftypes: tuple[str, ...]  # reference file types it reads, in the order the step uses them
    config: tuple[str, ...]  # where its parameters are in the config, e.g. ("steps", "background")
    module: str  # its module in this package, mirical/steps/{module}.py, which the script calls
    cal: bool  # a calibration step: its status is in the cal file (and in the summary)
    suffix: str  # the file it writes: {product}_{suffix}.fits (intermediate/ before the cal file)
    panel: str | None = None  # its title in the first exposure's step strip figure; None: not shown


STEPS = (
    Step("background", "S_BKDSUB", (), ("steps", "background"), "background", True, "bkgsub",
         "background subtracted"),
    Step("assign_wcs", "S_WCS", ("distortion", "filteroffset"), ("steps", "assign_wcs"), "assign_wcs", True, "wcs"),
    Step("flat_field", "S_FLAT", ("flat",), ("steps", "flat_field"), "flat_field", True, "flat", "flat-fielded"),
    Step("photom", "S_PHOTOM", ("photom", "area"), ("steps", "photom"), "photom", True, "cal", "cal (Level 2B)"),
    Step("resample", "S_RESAMP", (), ("steps", "resample"), "resample", False, "i2d"),
    Step("tweakreg", "S_TWKREG", (), ("tweakreg",), "tweakreg", False, "tweakreg"),
    Step("skymatch", "S_SKYMAT", (), ("skymatch",), "skymatch", False, "skymatch"),
    Step("outlier_detection", "S_OUTLIR", (), ("outlier_detection",), "outlier_detection", False, "crf"),
    Step("mosaic", "S_RESAMP", (), ("mosaic",), "mosaic", False, "i2d"),
    Step("source_catalog", "S_SRCCAT", ("apcorr", "abvegaoffset"), ("source_catalog",), "source_catalog", False,
         "cat"),
)
STEP = {step.name: step for step in STEPS}
#: Status keywords of the calibration steps, in order.
CAL_STEPS = tuple(step.keyword for step in STEPS if step.cal)
#: Every reference file type of the calibration (each product's), in step order.
REFTYPES = tuple(reftype for step in STEPS if step.cal for reftype in step.reftypes)
#: Those of the steps on drizzled images (chosen with the first product's headers).
IMAGE_REFTYPES = tuple(reftype for step in STEPS if not step.cal for reftype in step.reftypes)


def step_config(config: dict, name: str) -> dict:
    """The parameters of step ``name`` in a (validated) workflow config."""
    value = config
    for key in STEP[name].config:
        value = value[key]
    return dict(value)


def set_step_status(exposure: Exposure, name: str, status: str) -> None:
    """Record step ``name``'s status keyword (COMPLETE or SKIPPED) in the primary header."""
    exposure.primary[STEP[name].keyword] = (status, "mirical step status")


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


def for_filter(params: dict, filter_name: str | None) -> dict:
    """A step's parameters with the values its ``filters`` table gives ``filter_name`` (when ``filter_defaults``)."""
    table = params.get("filters") or {}
    chosen = table.get(str(filter_name).strip().upper(), {}) if params.get("filter_defaults", True) else {}
    return {**{k: v for k, v in params.items() if k not in ("filters", "filter_defaults")}, **chosen}
