"""skymatch, then outlier detection and the mosaic, against jwst 3.0.0 (SkyMatchStep, OutlierDetectionStep,
ResampleStep), offline.

A reduced demo of three dithers gets a different sky offset added to each rate file;
mirical runs on them, and the official steps run on mirical's cal files as tweakreg aligned
them (tests/official_outlier.py in ``$MIRICAL_OFFICIAL_PYTHON``). Then both again with
``skymethod: global+match``, ``subtract: true``, ``skystat: median`` (mirical in a copy
of the run: only skymatch, outlier detection and the mosaic re-run).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import REPO, run_official, run_snakemake
from mirical.formats.dqflags import PIXEL
from mirical.steps.skymatch import read_levels
from mirical.workflow.planning import Layout

pytestmark = pytest.mark.workflow

DEMO = "demo={n_dithers: 3, subarray: BRIGHTSKY, n_sources: 15}"
PRODUCTS = [f"demo_dither{i}" for i in range(1, 4)]
OFFSETS = (0.0, 0.8, -0.5)  # DN/s added to each rate file (its noise is ~0.18 DN/s)
VARIANT = {"skymethod": "global+match", "subtract": "true", "skystat": "median"}
#: skymatch's defaults, as `mirical.steps.skymatch.solve` reads them.
MATCH = {"skymethod": "match", "match_down": True, "subtract": False, "stepsize": None, "skystat": "mode",
         "dqbits": "~DO_NOT_USE+NON_SCIENCE", "lower": None, "upper": None, "nclip": 5, "lsigma": 4.0, "usigma": 4.0,
         "binwidth": 0.1}


def _official(out: Path, folder: Path, *options: str) -> Path:
    """The official steps on what mirical's skymatch reads: each cal file with tweakreg's WCS (as
    ``<product>_cal.fits``, the name official_outlier.py expects)."""
    aligned = folder / "aligned"
    aligned.mkdir(parents=True)
    for p in PRODUCTS:
        shutil.copy(Layout(str(out), "demo").tweakreg_exposure(p), aligned / f"{p}_cal.fits")
    run_official(str(REPO / "tests" / "official_outlier.py"), str(folder), *options,
                 *[str(aligned / f"{p}_cal.fits") for p in PRODUCTS], timeout=1800)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """(mirical's output folder, the official output folder), skymatch's defaults."""
    workdir = tmp_path_factory.mktemp("skymatch_case")
    run_snakemake(workdir, "--config", "output_dir=out", DEMO, "--until", "simulate")
    science = sorted((workdir / "out" / "demo_data" / "IMA_science").glob("*_rate.fits"))
    assert len(science) == len(OFFSETS)
    for path, offset in zip(science, OFFSETS):
        with fits.open(path, mode="update") as hdul:
            hdul["SCI"].data += np.float32(offset)
    run_snakemake(workdir, "--config", "output_dir=out", DEMO)
    return workdir / "out", _official(workdir / "out", workdir / "official")


@pytest.fixture(scope="module")
def variant(runs, tmp_path_factory) -> tuple[Path, Path]:
    """(mirical's output folder, the official's) with the VARIANT options."""
    out, _ = runs
    workdir = tmp_path_factory.mktemp("skymatch_variant") / "run"
    shutil.copytree(out.parent, workdir, symlinks=True, ignore=shutil.ignore_patterns("official"))
    options = ", ".join(f"{k}: {v}" for k, v in VARIANT.items())
    # the copy's demo references have new absolute paths: re-run by mtime from skymatch on, not from photom
    log = run_snakemake(workdir, "--config", "output_dir=out", DEMO, f"skymatch={{{options}}}",
                        "--rerun-triggers", "mtime", "--forcerun", "skymatch_footprints")
    assert "rule skymatch" in log.stdout + log.stderr and "rule photom" not in log.stdout + log.stderr
    return workdir / "out", _official(workdir / "out", workdir / "official",
                                      *[f"--sky-{k}={v}" for k, v in VARIANT.items()])


def _keywords(path: Path) -> dict:
    header = fits.getheader(path)
    return {key: header.get(key) for key in ("BKGLEVEL", "BKGSUB", "BKGMETH", "S_SKYMAT")}


def _flags(folder: Path) -> np.ndarray:
    return np.concatenate([(fits.getdata(folder / f"{p}_crf.fits", "DQ") & PIXEL["OUTLIER"]).ravel() != 0
                           for p in PRODUCTS])


def assert_agrees(out: Path, official: Path, method: str, subtracted: bool) -> None:
    for p in PRODUCTS:
        ours, theirs = _keywords(out / f"{p}_crf.fits"), _keywords(official / f"{p}_crf.fits")
        assert ours["BKGLEVEL"] == pytest.approx(theirs["BKGLEVEL"], abs=1e-5), p
        assert (ours["BKGSUB"], ours["BKGMETH"], ours["S_SKYMAT"]) == (subtracted, method, "COMPLETE")
        assert (theirs["BKGSUB"], theirs["BKGMETH"], theirs["S_SKYMAT"]) == (subtracted, method, "COMPLETE")
        with fits.open(out / f"{p}_crf.fits") as a, fits.open(official / f"{p}_crf.fits") as b:
            np.testing.assert_allclose(a["SCI"].data, b["SCI"].data, rtol=1e-6, atol=1e-6, equal_nan=True)
    ours, theirs = _flags(out), _flags(official)
    both = np.count_nonzero(ours & theirs)
    assert np.count_nonzero(theirs) > 0
    assert both / np.count_nonzero(theirs) >= 0.999 and both / np.count_nonzero(ours) >= 0.999
    with fits.open(out / "demo_i2d.fits") as a, fits.open(official / "official_i2d.fits") as b:
        mine, jwst = a["SCI"].data, b["SCI"].data
    assert mine.shape == jwst.shape and (np.isnan(mine) == np.isnan(jwst)).all()
    finite = np.isfinite(jwst)
    relative = np.abs(mine[finite].astype(float) - jwst[finite]) / np.median(np.abs(jwst[finite]))
    assert np.median(relative) <= 1e-5
    assert abs(np.median(mine[finite]) - np.median(jwst[finite])) <= 1e-5 * np.median(np.abs(jwst[finite]))


def test_levels_flags_and_mosaic_are_the_officials(runs):
    out, official = runs
    assert_agrees(out, official, "match", False)


def test_the_levels_recover_the_offsets(runs):
    """The match levels are the offsets from the lowest sky (-0.5 DN/s) in MJy/sr (times PHOTMJSR over the flat)."""
    out, _ = runs
    levels = [fits.getheader(out / f"{p}_crf.fits")["BKGLEVEL"] for p in PRODUCTS]
    photmjsr = fits.getheader(out / f"{PRODUCTS[0]}_cal.fits", "SCI")["PHOTMJSR"]
    expected = (np.array(OFFSETS) - min(OFFSETS)) * photmjsr
    assert levels[2] == 0.0
    np.testing.assert_allclose(levels, expected, atol=0.05 * np.ptp(expected))
    table = read_levels(out / "intermediate" / "demo_skymatch_levels.ecsv")
    assert [table[p] for p in PRODUCTS] == levels


def test_the_split_jobs_give_the_one_process_solution_bit_for_bit(runs):
    """The workflow's skymatch_footprints, skymatch_measure (per exposure) and skymatch jobs give exactly the
    levels `solve` finds in one process, from footprints table polygons equal to the files' bit for bit."""
    from mirical.formats.groups import group_names
    from mirical.steps.skymatch import read_footprint, read_footprints, solve

    out, _ = runs
    layout = Layout(str(out), "demo")
    exposures = [read_footprint(p, layout.tweakreg_exposure(p), MATCH) for p in PRODUCTS]
    table = read_footprints(layout.skymatch_footprints())
    assert [(e.product, e.prior) for e in table] == [(p, 0.0) for p in PRODUCTS]
    assert [e.group for e in table] == group_names([e.group for e in exposures])
    for ours, read in zip(exposures, table):
        assert [(a.points.tobytes(), a.inside.tobytes()) for a in ours.polygon.polygons] == \
            [(b.points.tobytes(), b.inside.tobytes()) for b in read.polygon.polygons]
    levels = read_levels(layout.skymatch_levels())
    assert solve(exposures, MATCH) == [levels[p] for p in PRODUCTS]


def test_variant_levels_flags_and_mosaic_are_the_officials(variant):
    out, official = variant
    assert_agrees(out, official, "global+match", True)


def test_one_exposure_is_skipped_as_the_official(runs, tmp_path):
    """One exposure, skymethod match: no pair, so no level and S_SKYMAT SKIPPED (calwebb_image3 runs the step)."""
    from mirical.steps.skymatch import read_footprint, solve

    out, _ = runs
    cal = out / f"{PRODUCTS[0]}_cal.fits"
    assert solve([read_footprint(PRODUCTS[0], str(cal), MATCH)], MATCH) == [None]
    official = _official_one(cal, tmp_path / "official")
    header = fits.getheader(official)
    assert header["S_SKYMAT"] == "SKIPPED" and "BKGLEVEL" not in header


def _official_one(cal: Path, folder: Path) -> Path:
    folder.mkdir()
    run_official(str(REPO / "tests" / "official_outlier.py"), str(folder), str(cal), timeout=900)
    return folder / cal.name.replace("_cal.fits", "_crf.fits")


def test_exposures_sharing_a_group_id_get_one_level_as_the_official(runs, tmp_path):
    """The first two dithers given one jwst group id (the same exposure number and visit group, sequence and
    activity): one sky group, its level from the pixel-weighted mean of their statistics in the overlap with
    the third, as the official's SkyMatchStep (its defaults, on an association of the cal files)."""
    from mirical.formats.groups import exposure_group, file_group, with_group_id
    from mirical.steps.skymatch import read_footprint, solve

    out, _ = runs
    cals = [tmp_path / f"{p}_cal.fits" for p in PRODUCTS]
    for cal, exposure in zip(cals, ("1", "1", "3")):
        shutil.copy(out / cal.name, cal)
        with fits.open(cal, mode="update") as hdul:
            hdul[0].header.update(VISITGRP="03", SEQ_ID="1", ACT_ID="01", EXPOSURE=exposure)
            # and the group id image2 records from them (the cal file's meta.group_id comes first)
            hdul[hdul.index_of("ASDF")] = with_group_id(hdul["ASDF"], exposure_group(hdul[0].header, None))
    assert [file_group(str(c)) for c in cals] == ["jw01234001001_03101_1"] * 2 + ["jw01234001001_03101_3"]
    ours = solve([read_footprint(p, str(c), MATCH) for p, c in zip(PRODUCTS, cals)], MATCH)
    run_official(str(REPO / "tests" / "official.py"), "skymatch", str(tmp_path / "official"), "grouped",
                 *map(str, cals), timeout=900)
    theirs = [fits.getheader(tmp_path / "official" / f"{p}_skymatch.fits")["BKGLEVEL"] for p in PRODUCTS]
    assert theirs[0] == theirs[1] and theirs[2] == 0.0 and ours[2] == 0.0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    alone = [fits.getheader(out / f"{p}_crf.fits")["BKGLEVEL"] for p in PRODUCTS]
    assert min(abs(ours[0] - alone[0]), abs(ours[1] - alone[1])) > 1e-3  # each alone: other levels
