"""destripe and mosaic.lyot in the workflow: one full-frame run of the striped demo with both, then re-plans.

The defaults leave every output byte-identical (no destripe or lyot_mask job, the same params for
every other rule): tests/test_rerun.py's runs are default runs.
"""
from __future__ import annotations

import base64
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from conftest import REPO, SNAKEFILE
from mirical.formats.imager_geometry import REGIONS
from mirical.steps.skymatch import header_and_wcs, read_footprint, read_levels, solve

pytestmark = pytest.mark.workflow

CONFIG = {
    "output_dir": "out",
    "demo": {"n_dithers": 2, "subarray": "FULL", "n_sources": 10, "stripes": 0.3},
    "steps": {"destripe": {"skip": False}},
    "mosaic": {"lyot": "mask"},
    "source_catalog": {"skip": True},  # not needed here: a shorter run
}
PRODUCTS = ("demo_dither1", "demo_dither2")
# Every job of the calibration up to photom (and the demo's simulation): what neither option re-runs.
BEFORE = {"simulate", "association", "background", "assign_wcs", "flat_field", "photom"}


def snakemake(workdir: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_rules(workdir: Path, override: dict) -> set[str]:
    """The rules `snakemake -n` plans with ``override`` merged over the run's config."""
    path = workdir / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    output = snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"), str(path))
    return {line.split()[1].rstrip(":") for line in output.splitlines()
            if line.strip().startswith(("rule ", "localrule ")) and line.strip().endswith(":")}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Working directory of the complete run (2 full-frame dithers with stripes, destripe on, Lyot masked)."""
    workdir = tmp_path_factory.mktemp("destripe_run")
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"))
    return workdir


def test_destripe_files_summary_and_an_untouched_cal_file(run):
    out = run / "out"
    for product in PRODUCTS:
        primary = fits.getheader(out / "intermediate" / f"{product}_destripe.fits")
        assert primary["S_DESTRP"] == "COMPLETE"
        # 0.3 DN/s of stripes on rows and on columns, times PHOTMJSR (about 1.44)
        assert 0.40 < primary["DSTRPROW"] < 0.46 and 0.40 < primary["DSTRPCOL"] < 0.46
        assert "S_DESTRP" not in fits.getheader(out / f"{product}_cal.fits")  # the cal file is photom's
        with fits.open(out / "intermediate" / f"{product}_destripe.fits") as new, \
                fits.open(out / f"{product}_cal.fits") as cal:
            assert np.array_equal(new["ERR"].data, cal["ERR"].data, equal_nan=True)
            assert np.array_equal(new["DQ"].data, cal["DQ"].data)
    rows = list(csv.DictReader((out / "demo_summary.csv").open()))
    assert [float(row["destripe_rms"]) for row in rows] == pytest.approx(
        [np.hypot(fits.getval(out / "intermediate" / f"{p}_destripe.fits", "DSTRPROW"),
                  fits.getval(out / "intermediate" / f"{p}_destripe.fits", "DSTRPCOL")) for p in PRODUCTS], rel=1e-3)


def test_a_destripe_option_reruns_destripe_and_what_follows_only(run):
    rules = planned_rules(run, {"steps": {"destripe": {"smooth_sigma": 30.0}}})
    assert {"destripe", "resample", "lyot_mask", "skymatch", "outlier_detection", "mosaic_drizzle", "mosaic"} <= rules
    assert not rules & BEFORE


def test_the_lyot_option_reruns_stage3_from_skymatch_not_the_grids_nor_stage2(run):
    rules = planned_rules(run, {"mosaic": {"lyot": "keep"}})
    assert {"skymatch", "outlier_drizzle", "outlier_median", "outlier_detection", "mosaic_drizzle", "mosaic"} <= rules
    assert not rules & (BEFORE | {"destripe", "resample", "lyot_mask", "outlier_grid", "mosaic_grid"})


def test_the_before_after_figures_are_written_and_in_the_report(run):
    plots = run / "out" / "plots"
    figures = ("demo_dither1_destripe.png", "demo_dither1_lyotmask.png")  # of the first (full-frame) exposure only
    assert sorted(p.name for p in plots.glob("*_destripe.png")) + sorted(p.name for p in plots.glob("*_lyotmask.png")) \
        == list(figures)
    header = fits.getheader(run / "out" / "intermediate" / "demo_dither1_destripe.fits")
    log = (run / "out" / "logs" / "plots" / "demo_dither1_destripe.log").read_text()
    assert f"(RMS removed: rows {header['DSTRPROW']:.6g}, columns {header['DSTRPCOL']:.6g})" in log
    _, _, nx, ny = REGIONS["lyot"][1]
    assert f"({nx * ny} pixels flagged)" in (run / "out" / "logs" / "plots" / "demo_dither1_lyotmask.log").read_text()
    snakemake(run, "--configfile", str(run / "config.yaml"), "--report", "report.html")
    html = (run / "report.html").read_text(encoding="utf-8")
    for name in figures:
        data = base64.b64encode((plots / name).read_bytes()).decode()
        assert f"data:image/png;charset=utf8;filename={name};base64,{data}" in html, name
    # the captions (report/destripe.rst, lyotmask.rst), rendered with the product
    assert "Exposure <strong>demo_dither1</strong> before and after <tt" in html
    assert "Exposure <strong>demo_dither1</strong> as stage 3 reads it with <tt" in html


def test_a_default_run_asks_for_neither_figure(run):
    rules = planned_rules(run, {"steps": {"destripe": {"skip": True}}, "mosaic": {"lyot": "keep"}})
    assert "plot_mosaic" in rules  # the figures of a changed mosaic are planned again ...
    assert not rules & {"plot_destripe", "plot_lyotmask", "destripe", "lyot_mask"}  # ... but not these


def lyot_box(margin: int) -> tuple[int, int, int, int]:
    """The Lyot region in 0-based full-frame pixels (x0, x1, y0, y1), ``margin`` pixels inside its edges."""
    x, y, nx, ny = REGIONS["lyot"][1]
    return x - 1 + margin, x - 2 + nx - margin, y - 1 + margin, y - 2 + ny - margin


def test_no_mosaic_pixel_is_made_of_lyot_pixels_only(run):
    out = run / "out"
    _, mosaic_wcs, (ny, nx) = header_and_wcs(str(out / "demo_i2d.fits"))
    weight = fits.getdata(out / "demo_i2d.fits", "WHT")
    yy, xx = np.mgrid[0:ny:3, 0:nx:3]
    ra, dec = mosaic_wcs(xx.astype(float), yy.astype(float))
    only_lyot = np.ones(xx.shape, bool)
    x0, x1, y0, y1 = lyot_box(2)  # 2 pixels inside: a drizzled pixel there gets nothing from outside
    for product in PRODUCTS:
        _, wcs, (eny, enx) = header_and_wcs(str(out / f"{product}_cal.fits"))
        x, y = wcs.invert(ra, dec)
        inside = (x > -0.5) & (x < enx - 0.5) & (y > -0.5) & (y < eny - 0.5)
        in_lyot = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        only_lyot &= ~inside | in_lyot
        only_lyot &= np.isfinite(x) & np.isfinite(y)  # where the inverse is defined
    lyot_only = only_lyot & np.isfinite(ra)
    assert lyot_only.sum() > 1000  # the Lyot region is in the mosaic's footprint ...
    assert not weight[yy[lyot_only], xx[lyot_only]].any()  # ... and none of its pixels got any weight


def test_sky_levels_are_blind_to_a_lyot_only_offset(run, tmp_path):
    out = run / "out"
    params = yaml.safe_load((REPO / "config.yaml").read_text())["skymatch"]
    levels = read_levels(out / "intermediate" / "demo_skymatch_levels.ecsv")

    def solved(kind: str, offset: float) -> list[float]:
        paths = []
        for product in PRODUCTS:
            path = tmp_path / f"{product}_{kind}_{offset}.fits"
            shutil.copy(out / "intermediate" / f"{product}_{kind}.fits", path)
            with fits.open(path, mode="update") as hdul:
                x0, x1, y0, y1 = lyot_box(0)
                hdul["SCI"].data[y0:y1 + 1, x0:x1 + 1] += offset * (1 + PRODUCTS.index(product))
            paths.append(str(path))
        return solve([read_footprint(p, path, params) for p, path in zip(PRODUCTS, paths)], params)

    masked = solved("lyotmask", 0.0)
    assert masked == pytest.approx([levels[p] for p in PRODUCTS], abs=1e-9)  # what the workflow's skymatch found
    assert solved("lyotmask", 5.0) == masked  # the Lyot's own background changes nothing
    kept = solved("destripe", 0.0)
    assert solved("destripe", 5.0) != pytest.approx(kept, abs=1e-3)  # without the mask it would
