"""The skeleton every calibration step's script shares: read, skipped?, reference files, the step, history.

Only the step scripts import this module (the figures' scripts do not), so a change here
re-runs the calibration steps and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mirical.formats.io import Exposure, add_history, read_exposure
from mirical.steps import STEP, skipped
from mirical.workflow.runner import reference


def run_exposure_step(snakemake: Any, name: str, step: Callable[..., Exposure], exposure: Exposure | None = None,
                      why: str | None = None) -> Exposure:
    """Step ``name`` (a row of the step table) on the job's exposure, its history recorded; the script writes it.

    ``exposure``: the input, else ``input.exposure`` read. Unless the step is skipped (``skip`` in
    its config, or ``why``), its reference files are chosen and checked in the table's order and
    ``step(exposure, params, product, *reference_paths)`` returns the calibrated exposure.
    """
    params = snakemake.params.step
    product = snakemake.wildcards.product
    if exposure is None:
        exposure = read_exposure(snakemake.input.exposure)
    refs = []
    if not skipped(exposure, name, params, product, why):
        refs = [reference(snakemake, reftype, exposure.primary, exposure.path) for reftype in STEP[name].reftypes]
        exposure = step(exposure, params, product, *refs)
    add_history(exposure, name, params, refs)
    return exposure
