"""Stage-3 alignment (tweakreg) and what follows it, against jwst 3.0.0, offline.

Cases drawn from fixed seeds (`tweakreg_cases`): two visits of three BRIGHTSKY dithers, the second
visit off by a pointing error its headers do not know. Both pipelines calibrate the same rate files
with the same reference files: mirical's workflow (tweakreg on by default, then skymatch, outlier
detection and the mosaic) and, in the official venv, ``tests/official.py cases`` (Image2Pipeline,
TweakRegStep with ``save_catalogs``, SkyMatchStep, OutlierDetectionStep, ResampleStep). Then:

- source catalogs: the same sources (matched within 0.5 px) >= 99 % both ways, positions within 0.01 px;
- the corrected WCS within 0.1 mas of the official's over a 17 x 17 grid of pixels spanning each exposure;
- the injected error recovered: after one shift and rotation common to all exposures (the frame of a
  relative alignment is free), every corrected WCS within 10 mas of the true one on that grid, on both
  sides (the headers' WCS is off by far more);
- S_TWKREG the official's in every exposure;
- with fewer stars than ``minobj``: every WCS unchanged on both sides;
- BKGLEVEL within 1e-5 MJy/sr; crf OUTLIER flags shared >= 99.9 % both ways; the mosaic's median
  relative pixel difference <= 1e-5.

The numbers land in a markdown table beside the matrix's (``$MIRICAL_AGREEMENT_TABLE`` with
``_tweakreg`` added to its name), which `tests/agreement_page.py` puts in docs/agreement.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table
from scipy.spatial import cKDTree

from conftest import REPO, official_python, run_snakemake
from mirical.demo import simulate as sim
from mirical.workflow.planning import Layout
from official_compare import FLAGS_BOTH_WAYS, WCS_MAS, compare_crf, compare_images, wcs_separation_mas
from official_matrix import REFTYPES
from tweakreg_cases import AlignCase, draw, write_cases

pytestmark = pytest.mark.workflow

SEEDS = (1, 4)  # cases with 30-45 stars
FEW_STAR_SEEDS = (2,)  # cases with 5-10 stars: fewer than minobj
CASES = [draw(seed) for seed in SEEDS] + [draw(seed, few_stars=True) for seed in FEW_STAR_SEEDS]
FEW = {case.name for case in CASES[len(SEEDS):]}
CATALOG_SHARE, CATALOG_PX, MATCH_PX = 0.99, 0.01, 0.5
RECOVERED_MAS = 10.0
BKGLEVEL, MOSAIC_MEDIAN = 1e-5, 1e-5


@dataclass
class Runs:
    root: Path
    mirical_errors: dict[str, str]
    official_errors: dict[str, str]
    metrics: dict[str, dict] = field(default_factory=dict)  # case -> numbers, for the table


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """Every case through the official pipeline (one subprocess) and through mirical (one run each)."""
    root = tmp_path_factory.mktemp("official_tweakreg")
    written = write_cases(root, CASES)
    log = (root / "official.log").open("w")
    official = subprocess.Popen([official_python(), str(REPO / "tests" / "official.py"), "cases",
                                 str(root / "cases.json")], stdout=subprocess.PIPE, stderr=log, text=True)
    mirical_errors = {}
    for case in CASES:
        workdir = root / case.name / "mirical"
        workdir.mkdir()
        config = {"name": case.name, "output_dir": "out", "association": written[case.name]["asn"],
                  "reference_files": {t: written[case.name]["refs"][t] for t in REFTYPES}}
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        result = run_snakemake(workdir, f"out/{case.name}_i2d.fits", "--configfile", str(workdir / "config.yaml"),
                               check=False)
        if result.returncode != 0:
            logs = sorted((workdir / "out" / "logs").rglob("*.log"))
            errors = [line for f in logs for line in f.read_text().splitlines() if line.startswith("ERROR")]
            mirical_errors[case.name] = "\n".join(errors)[-3000:] or result.stderr[-3000:]
    stdout, _ = official.communicate(timeout=1800)
    log.close()
    assert official.returncode == 0, f"tests/official.py cases failed: {(root / 'official.log').read_text()[-6000:]}"
    summary = json.loads(stdout.strip().splitlines()[-1])
    runs = Runs(root, mirical_errors, {k.removesuffix("_official"): v for k, v in summary["errors"].items()})
    yield runs
    write_table(runs)


def outputs(runs: Runs, case: AlignCase) -> tuple[Layout, Path]:
    """(mirical's layout, the official output folder); fails the test if either run failed."""
    assert case.name not in runs.official_errors, f"official pipeline: {runs.official_errors[case.name]}"
    assert case.name not in runs.mirical_errors, f"mirical workflow failed:\n{runs.mirical_errors[case.name]}"
    return Layout(str(runs.root / case.name / "mirical" / "out"), case.name), runs.root / case.name / "official"


def record(runs: Runs, case: AlignCase, **numbers) -> None:
    runs.metrics.setdefault(case.name, {}).update(numbers)


# ------------------------------------------------------------------ catalogs

def positions(path: Path) -> np.ndarray:
    """(n, 2) source positions of a tweakreg catalog (columns x, y)."""
    table = Table.read(path)
    return np.column_stack([table["x"], table["y"]]).astype(float) if len(table) else np.zeros((0, 2))


def match(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float, float]:
    """(share of the official's sources mirical found, share of mirical's the official found, largest
    position difference in px of the matched ones); a match is the nearest within MATCH_PX."""
    if not len(ours) or not len(theirs):
        return float(len(ours) == len(theirs)), float(len(ours) == len(theirs)), 0.0
    d_o, _ = cKDTree(ours).query(theirs, distance_upper_bound=MATCH_PX)
    d_m, _ = cKDTree(theirs).query(ours, distance_upper_bound=MATCH_PX)
    found_o, found_m = np.isfinite(d_o), np.isfinite(d_m)
    worst = float(np.max(d_o[found_o])) if found_o.any() else 0.0
    return float(found_o.mean()), float(found_m.mean()), worst


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_catalogs_agree(runs, case):
    layout, official = outputs(runs, case)
    shares, worst, counts = [], 0.0, []
    for product in case.products:
        ours = positions(Path(layout.tweakreg_catalog(product)))
        theirs = positions(official / "tweakreg" / f"{product}_cal_cat.ecsv")
        share_o, share_m, far = match(ours, theirs)
        shares += [share_o, share_m]
        worst = max(worst, far)
        counts.append(len(theirs))
    record(runs, case, catalog_share=min(shares), catalog_px=worst, sources=(min(counts), max(counts)))
    assert min(counts) >= (1 if case.name in FEW else 25), f"the official found {counts} sources"
    assert min(shares) >= CATALOG_SHARE, f"{case.name}: sources matched both ways {min(shares):.3f}"
    assert worst <= CATALOG_PX, f"{case.name}: positions differ by up to {worst:.3g} px"


# ------------------------------------------------------------------ the corrected WCS

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corrected_wcs_agrees(runs, case):
    layout, official = outputs(runs, case)
    worst = max(wcs_separation_mas(Path(layout.tweakreg_exposure(p)), official / "tweakreg" / f"{p}_cal.fits.radec.npy")
                for p in case.products)
    record(runs, case, wcs_mas=worst)
    assert worst <= WCS_MAS, f"{case.name}: corrected WCS differs by up to {worst:.3g} mas"


def mirical_radec(path: Path, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mirical's gwcs of ``path`` (read by stdatamodels) at (x, y)."""
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(path)
    with model:
        return model.meta.wcs(x, y, with_bounding_box=False)


def residual_mas(case: AlignCase, radec: list[tuple]) -> float:
    """Largest distance (mas) between the given WCS of each exposure ((x, y, RA, Dec) on a grid) and its
    true WCS, after the one shift and rotation common to all that fits best (least squares, tangent plane)."""
    cos_dec = np.cos(np.radians(case.dec))
    given, true = [], []
    for i, (x, y, ra, dec) in enumerate(radec):
        settings = case.true(i)
        ra_t, dec_t = sim.exposure_wcs(settings, sim.pointing(settings, i))(x, y, with_bounding_box=False)
        for r, d, into in ((ra, dec, given), (ra_t, dec_t, true)):
            into.append(np.array([((np.ravel(r) - case.ra + 180.0) % 360.0 - 180.0) * cos_dec,
                                  np.ravel(d) - case.dec]) * 3.6e6)
    g, t = np.concatenate(given, axis=1), np.concatenate(true, axis=1)
    n = t.shape[1]
    design = np.zeros((2 * n, 3))  # small rotation theta about the field centre, then a shift
    design[:n, 0], design[n:, 0] = -t[1], t[0]
    design[:n, 1], design[n:, 2] = 1.0, 1.0
    difference = np.concatenate([g[0] - t[0], g[1] - t[1]])
    solution, *_ = np.linalg.lstsq(design, difference, rcond=None)
    left = difference - design @ solution
    return float(np.max(np.hypot(left[:n], left[n:])))


def statuses(layout: Layout, official: Path, case: AlignCase) -> list[tuple[str, str]]:
    """(official, mirical) S_TWKREG of each exposure."""
    return [(fits.getheader(official / "tweakreg" / f"{p}_cal.fits").get("S_TWKREG"),
             fits.getheader(layout.tweakreg_exposure(p)).get("S_TWKREG")) for p in case.products]


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in FEW], ids=[c.name for c in CASES
                                                                               if c.name not in FEW])
def test_pointing_error_recovered(runs, case):
    layout, official = outputs(runs, case)
    grids = {p: np.load(official / "tweakreg" / f"{p}_cal.fits.radec.npy") for p in case.products}
    before = residual_mas(case, [np.load(official / f"{p}_cal.fits.radec.npy") for p in case.products])
    theirs = residual_mas(case, list(grids.values()))
    ours = residual_mas(case, [(x, y, *mirical_radec(Path(layout.tweakreg_exposure(p)), x, y))
                               for p, (x, y, _, _) in grids.items()])
    record(runs, case, injected_mas=before, recovered_official_mas=theirs, recovered_mirical_mas=ours,
           status=statuses(layout, official, case))
    assert set(runs.metrics[case.name]["status"]) == {("COMPLETE", "COMPLETE")}
    assert before > 5 * RECOVERED_MAS, f"{case.name}: the headers are only {before:.3g} mas off"
    assert theirs <= RECOVERED_MAS and ours <= RECOVERED_MAS, \
        f"{case.name}: recovered to {ours:.3g} mas (mirical), {theirs:.3g} mas (official)"


@pytest.mark.parametrize("case", [c for c in CASES if c.name in FEW], ids=[c.name for c in CASES if c.name in FEW])
def test_too_few_stars_leaves_the_wcs(runs, case):
    """No exposure has minobj matches: every WCS stays the image2 one, on both sides. S_TWKREG is
    COMPLETE all the same on both (jwst 3.0.0 sets it for every exposure once the relative alignment
    returns, aligned or not; it says SKIPPED only when that alignment raises)."""
    layout, official = outputs(runs, case)
    moved = [float(np.max(np.abs(np.load(official / "tweakreg" / f"{p}_cal.fits.radec.npy")
                                 - np.load(official / f"{p}_cal.fits.radec.npy")))) for p in case.products]
    ours = max(wcs_separation_mas(Path(layout.tweakreg_exposure(p)), official / f"{p}_cal.fits.radec.npy")
               for p in case.products)
    record(runs, case, unchanged_official=max(moved), unchanged_mirical_mas=ours,
           status=statuses(layout, official, case))
    assert max(moved) == 0.0 and ours <= WCS_MAS
    assert set(runs.metrics[case.name]["status"]) == {("COMPLETE", "COMPLETE")}


# ------------------------------------------------------------------ skymatch, outlier detection, the mosaic

@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sky_levels_agree(runs, case):
    layout, official = outputs(runs, case)
    ours = [fits.getheader(layout.crf(p))["BKGLEVEL"] for p in case.products]
    theirs = [fits.getheader(official / f"{p}_crf.fits")["BKGLEVEL"] for p in case.products]
    worst = float(np.max(np.abs(np.subtract(ours, theirs))))
    record(runs, case, bkglevel=worst)
    assert np.ptp(theirs) > 0.1, "the sky offsets were not measured"
    assert worst <= BKGLEVEL, f"{case.name}: BKGLEVEL differs by up to {worst:.3g} MJy/sr"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outlier_flags_agree(runs, case):
    layout, official = outputs(runs, case)
    numbers, _ = compare_crf([Path(layout.crf(p)) for p in case.products],
                             [official / f"{p}_crf.fits" for p in case.products], case.name)
    both, n_o, n_m = numbers["flags_both"], numbers["flags_official"], numbers["flags_mirical"]
    record(runs, case, flags=(n_o, n_m, both))
    assert n_o > 0
    assert both / n_o >= FLAGS_BOTH_WAYS and both / max(n_m, 1) >= FLAGS_BOTH_WAYS, \
        f"{case.name}: outlier flags: the official {n_o}, mirical {n_m}, both {both}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_mosaic_agrees(runs, case):
    layout, official = outputs(runs, case)
    median, flux = compare_images(Path(layout.mosaic()), official / f"{case.name}_official_i2d.fits")
    record(runs, case, mosaic_median=median, mosaic_flux=flux)
    assert median <= MOSAIC_MEDIAN, f"{case.name}: mosaic median relative difference {median:.3g}"


# ------------------------------------------------------------------ the agreement page's table

def table_path(root: Path) -> Path:
    """The matrix's table path (``$MIRICAL_AGREEMENT_TABLE``, else agreement.md in pytest's base temp
    folder) with ``_tweakreg`` added to its name."""
    matrix = Path(os.environ.get("MIRICAL_AGREEMENT_TABLE") or root.parent / "agreement.md")
    return matrix.with_name(f"{matrix.stem}_tweakreg{matrix.suffix}")


def write_table(runs: Runs) -> None:
    """One row per case, markdown."""
    def number(values: dict, key: str, fmt: str) -> str:
        return format(values[key], fmt) if key in values else "-"

    lines = ["| case | sources found (official) | catalogs matched both ways / max px | corrected WCS max mas "
             "| recovered mas: official / mirical (headers off by) | S_TWKREG official / mirical "
             "| BKGLEVEL max diff. MJy/sr | OUTLIER flags official / mirical / both | mosaic median rel. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for case in CASES:
        if case.name in runs.mirical_errors or case.name in runs.official_errors:
            why = "mirical failed" if case.name in runs.mirical_errors else "official failed"
            lines.append(f"| {case.describe()} | {why} | | | | | | | |")
            continue
        m = runs.metrics.get(case.name, {})
        sources = "{}-{}".format(*m["sources"]) if "sources" in m else "-"
        catalog = f"{number(m, 'catalog_share', '.1%')} / {number(m, 'catalog_px', '.2g')}"
        if case.name in FEW:
            recovered = "WCS unchanged" if m.get("unchanged_official") == 0.0 else "-"
        else:
            recovered = (f"{number(m, 'recovered_official_mas', '.2g')} / {number(m, 'recovered_mirical_mas', '.2g')}"
                         f" ({number(m, 'injected_mas', '.0f')})")
        status = ", ".join(" / ".join(map(str, pair)) for pair in sorted(set(m.get("status", ())))) or "-"
        flags = " / ".join(str(v) for v in m["flags"]) if "flags" in m else "-"
        lines.append(f"| {case.describe()} | {sources} | {catalog} | {number(m, 'wcs_mas', '.2g')} | {recovered} "
                     f"| {status} | {number(m, 'bkglevel', '.1e')} | {flags} | {number(m, 'mosaic_median', '.1e')} |")
    table_path(runs.root).write_text("\n".join(lines) + "\n")
