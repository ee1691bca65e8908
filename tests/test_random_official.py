"""Randomized differential tests: mirical vs jwst 3.0.0 on cases drawn from fixed seeds.

Each seed of FIXED_SEEDS and REGRESSION_SEEDS is a case of `random_cases.draw` (small
subarrays, 1-4 dithers: quick enough for every test run), written as the official
pipeline writes its files, run through the mirical workflow and through the official
pipeline (Image2Pipeline, OutlierDetectionStep, ResampleStep with the case's options;
`random_official.run_cases`) and compared product by product with the agreement
matrix's tolerances (`official_compare`). FIXED_SEEDS were chosen to cover every small
subarray, 1-4 dithers, 0-3 backgrounds, the three PHOTOM time laws, the flat and
subarray reference files, RA across 0/360, |Dec| > 75 deg, trails, and every kernel
and weight type of resample, outlier detection and the mosaic.

More seeds, fresh each time (not part of the test run):

    python tests/random_official.py --count 100 [--seed S] [--small]

prints the seed of each disagreeing case and its failing comparisons; a seed found
that way goes into REGRESSION_SEEDS (with what it found) once its cause is known, and
into KNOWN (a strict xfail, with the cause) while mirical still disagrees.
"""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from conftest import REPO
from random_cases import FILTERS, SMALL, draw, mirical_options
from random_official import report, run_cases

pytestmark = pytest.mark.workflow

FIXED_SEEDS = [0, 1, 2, 3, 49, 69, 77, 108, 127, 184, 244, 279, 326, 356]
# seed (drawn small) -> what it found
REGRESSION_SEEDS = {
    1: "i2d at Dec +86: the output grid's pixel scale was measured at the refined inverse's pixel, "
       "0.02 px from the official's (the DISTORTION file's analytic inverse): i2d median 2.7e-4",
    0: "rate files without VISITGRP/SEQ_ID/ACT_ID: the official's image2 resample leaves group_id "
       "'exposure0001' in every cal file (a one-model library each), so its outlier detection takes all "
       "exposures as one group; mirical took each alone (crf flags 58% shared; fresh seeds 500101, 500102, "
       "600002, 600016 and 600018 too)",
    600002: "the same cause as seed 0 (SUB256, F1280W, 2 science + 2 backgrounds)",
    600016: "the same cause as seed 0 (MASK1140 with full-frame references, RA 359.997, ivm weights)",
    600018: "the same cause as seed 0 (MASK1550, 4 science + 2 backgrounds, lanczos2 kernels)",
    500124: "lanczos3 mosaic: one pixel's weight cancels to 1e-4 (of 7.5), its value -2e6 is 1.45 times the "
            "total flux and known to 1e-3 at best (the official's own moves 3e-3 with the input order): "
            "such pixels are left out of the flux (total flux 2.1e-3 -> 3e-9)",
}
# seed -> the disagreement it still shows (the test fails once it agrees: then move it to REGRESSION_SEEDS)
KNOWN: dict[int, str] = {}
SEEDS = sorted(set(FIXED_SEEDS) | set(REGRESSION_SEEDS))


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory) -> dict:
    """Every seed's case through both pipelines (the official in one process alongside mirical)."""
    root = tmp_path_factory.mktemp("random_official")
    return {o.case.seed: o for o in run_cases([draw(seed, small=True) for seed in SEEDS], root)}


@pytest.mark.parametrize("seed", [pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=KNOWN[s]))
                                  if s in KNOWN else s for s in SEEDS])
def test_random_case_agrees_with_the_official(outcomes, seed):
    outcome = outcomes[seed]
    assert not outcome.failures, report([outcome])


def test_drawn_options_are_valid_config():
    """The generator stays inside the documented ranges: every drawn case's options pass
    mirical's config schema, and the fixed seeds cover every small subarray and six filters."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for seed in range(60):
        case = draw(seed, small=seed % 2 == 0)
        merged = {**config, **mirical_options(case), "steps": {**config["steps"]}}
        for section, values in mirical_options(case)["steps"].items():
            merged["steps"][section] = {**config["steps"][section], **values}
        for section in ("outlier_detection", "mosaic"):
            merged[section] = {**config[section], **mirical_options(case)[section]}
        jsonschema.validate(merged, schema)
        assert case.filter in FILTERS and 1 <= case.n_science <= 8 and 0 <= case.n_background <= 3
    fixed = [draw(seed, small=True) for seed in FIXED_SEEDS]
    assert {c.subarray for c in fixed} == set(SMALL)
    assert len({c.filter for c in fixed}) >= 6
