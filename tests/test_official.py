"""mirical vs the official pipeline (jwst 3.0.0, offline) on the agreement matrix.

Every case of `official_matrix.CASES` is calibrated twice from the same rate files
and reference files: by the mirical workflow (Snakemake) and by the official
``Image2Pipeline`` + ``ResampleStep`` (``tests/official.py cases``, one subprocess
for the whole matrix in the official venv, running while mirical runs). Then,
product by product:

- cal SCI, ERR, VAR_POISSON, VAR_RNOISE, VAR_FLAT: relative difference |m - o| / |o|
  on pixels finite in both, median <= 1e-6 and 99.9th percentile <= 1e-5;
  DQ identical; NaN pattern identical;
- cal WCS: sky separation <= 0.1 mas on a 17 x 17 grid of pixels spanning the array;
- per-exposure i2d and the mosaic: the same output grid, median relative pixel
  difference <= 1e-6, total flux within 1e-6 (`official_compare`).

The numbers land in a markdown table (``$MIRICAL_AGREEMENT_TABLE``, default
``agreement.md`` in pytest's base temp folder) from which `tests/agreement_page.py`
writes docs/agreement.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import REPO, official_python, run_snakemake
from official_compare import FLUX, IMAGE_MEDIAN, WCS_MAS, compare_cal, compare_images, wcs_separation_mas
from official_matrix import CASES, REFTYPES, Case, write_matrix

pytestmark = pytest.mark.workflow


@dataclass
class Matrix:
    root: Path
    mirical_errors: dict[str, str]  # case -> its jobs' ERROR lines, for cases whose run failed
    official_errors: dict[str, str]
    metrics: dict[str, dict] = field(default_factory=dict)  # case -> product -> numbers, for the table


def mirical_config(case: Case, written: dict, workdir: Path) -> Path:
    # The official side is Image2Pipeline, SkyMatchStep then ResampleStep (no TweakRegStep, which
    # tests/test_official_tweakreg.py compares, nor outlier detection, which tests/test_official_outlier.py
    # compares), so mirical's mosaic is drizzled from the cal files with their sky levels too.
    config = {"name": case.name, "output_dir": "out", "association": written["asn"],
              "reference_files": {t: written["refs"][t] for t in REFTYPES},
              "tweakreg": {"skip": True}, "outlier_detection": {"skip": True}}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def matrix(tmp_path_factory) -> Matrix:
    """Every case through the official pipeline (one subprocess) and through mirical (one run each)."""
    root = tmp_path_factory.mktemp("official_matrix")
    written = write_matrix(root, CASES)
    official_log = (root / "official.log").open("w")
    official = subprocess.Popen([official_python(), str(REPO / "tests" / "official.py"), "cases",
                                 str(root / "cases.json")], stdout=subprocess.PIPE, stderr=official_log, text=True)
    mirical_errors = {}
    for case in CASES:
        workdir = root / case.name / "mirical"
        workdir.mkdir()
        targets = [f"out/{p}_{kind}.fits" for p in products(case) for kind in ("cal", "i2d")]
        result = run_snakemake(workdir, *targets, f"out/{case.name}_i2d.fits", "--configfile",
                               str(mirical_config(case, written[case.name], workdir)), check=False)
        if result.returncode != 0:  # the jobs' own ERROR lines say why, else Snakemake's end
            logs = sorted((workdir / "out" / "logs").rglob("*.log"))
            errors = [line for log in logs for line in log.read_text().splitlines() if line.startswith("ERROR")]
            mirical_errors[case.name] = "\n".join(errors)[-3000:] or result.stderr[-3000:]
    stdout, _ = official.communicate(timeout=1800)
    official_log.close()
    assert official.returncode == 0, f"tests/official.py cases failed: {(root / 'official.log').read_text()[-6000:]}"
    summary = json.loads(stdout.strip().splitlines()[-1])
    official_errors = {name.removesuffix("_official"): error for name, error in summary["errors"].items()}
    m = Matrix(root, mirical_errors, official_errors)
    yield m
    write_table(m)


def outputs(matrix: Matrix, case: Case) -> tuple[Path, Path]:
    """(mirical's output folder, the official one); fails the test if either run failed."""
    assert case.name not in matrix.official_errors, f"official pipeline: {matrix.official_errors[case.name]}"
    assert case.name not in matrix.mirical_errors, f"mirical workflow failed:\n{matrix.mirical_errors[case.name]}"
    return matrix.root / case.name / "mirical" / "out", matrix.root / case.name / "official"


def products(case: Case) -> list[str]:
    return [f"{case.name}_dither{i + 1}" for i in range(case.n_science)]


def record(matrix: Matrix, case: Case, product: str, **numbers) -> None:
    matrix.metrics.setdefault(case.name, {}).setdefault(product, {}).update(numbers)


# ------------------------------------------------------------------ cal

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cal_arrays_agree(matrix, case):
    ours_dir, official_dir = outputs(matrix, case)
    failures = []
    for product in products(case):
        numbers, found = compare_cal(ours_dir / f"{product}_cal.fits", official_dir / f"{product}_cal.fits", product)
        record(matrix, case, product, **numbers)
        failures += found
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cal_wcs_agrees(matrix, case):
    """mirical's gwcs (read by stdatamodels) vs the official one (evaluated in the official venv)."""
    ours_dir, official_dir = outputs(matrix, case)
    for product in products(case):
        record(matrix, case, product, wcs_mas=wcs_separation_mas(ours_dir / f"{product}_cal.fits",
                                                                 official_dir / f"{product}_cal.fits.radec.npy"))
    worst = max(r["wcs_mas"] for p, r in matrix.metrics[case.name].items() if p != "mosaic")
    assert worst <= WCS_MAS, f"{case.name}: WCS differs by up to {worst:.3g} mas"


# ------------------------------------------------------------------ i2d and mosaic

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_i2d_and_mosaic_agree(matrix, case):
    ours_dir, official_dir = outputs(matrix, case)
    pairs = [(p, ours_dir / f"{p}_i2d.fits", official_dir / f"{p}_i2d.fits") for p in products(case)]
    pairs.append(("mosaic", ours_dir / f"{case.name}_i2d.fits", official_dir / f"{case.name}_official_i2d.fits"))
    failures = []
    for product, ours, official in pairs:
        median, flux = compare_images(ours, official)
        record(matrix, case, product, image_median=median, flux=flux)
        if median > IMAGE_MEDIAN or flux > FLUX:
            failures.append(f"{ours.name}: median relative pixel difference {median:.3g}, total flux {flux:.3g}")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------ the agreement page's table

def write_table(matrix: Matrix) -> None:
    """The agreement table, one row per case (worst product), markdown."""
    path = Path(os.environ.get("MIRICAL_AGREEMENT_TABLE") or matrix.root.parent / "agreement.md")

    def worst(rows, key, fmt):
        values = [r[key] for r in rows if key in r]
        return format(max(values), fmt) if values else "-"

    lines = ["| case | cal rel. diff. median / 99.9 % (max over SCI, ERR, VAR_*) | DQ, NaN pixels differing "
             "| WCS max mas | i2d median rel. / flux | mosaic median rel. / flux |",
             "|---|---|---|---|---|---|"]
    for case in CASES:
        if case.name in matrix.mirical_errors or case.name in matrix.official_errors:
            why = "mirical failed" if case.name in matrix.mirical_errors else "official failed"
            lines.append(f"| {case.describe()} | {why} | | | | |")
            continue
        rows = [v for k, v in matrix.metrics.get(case.name, {}).items() if k != "mosaic"]
        mosaic = matrix.metrics.get(case.name, {}).get("mosaic", {})
        cal = f"{worst(rows, 'cal_median', '.1e')} / {worst(rows, 'cal_p999', '.1e')}"
        flags = f"{worst(rows, 'dq', 'd')}, {worst(rows, 'nan', 'd')}"
        i2d = f"{worst(rows, 'image_median', '.1e')} / {worst(rows, 'flux', '.1e')}"
        mos = f"{worst([mosaic], 'image_median', '.1e')} / {worst([mosaic], 'flux', '.1e')}"
        lines.append(f"| {case.describe()} | {cal} | {flags} | {worst(rows, 'wcs_mas', '.2g')} | {i2d} | {mos} |")
    path.write_text("\n".join(lines) + "\n")
