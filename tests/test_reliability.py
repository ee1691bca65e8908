"""Bad inputs give one clear message naming the file and the cause; the rest still finishes."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import REDUCED_DEMO, SNAKEFILE, run_snakemake
from mirical.errors import MiricalError
from mirical.formats.association import load_association
from mirical.formats.io import read_exposure, read_reference_image, read_tables
from mirical.steps import background
from mirical.steps import flat_field
from mirical.steps import photom


# ----------------------------------------------------------------- the input matrix
def _copy_with(src: Path, dst: Path, primary=None, drop=(), sci_value=None) -> Path:
    with fits.open(src) as hdul:
        hdus = fits.HDUList([h.copy() for h in hdul if h.name not in drop])
    for key, value in (primary or {}).items():
        hdus[0].header[key] = value
    if sci_value is not None:
        hdus["SCI"].data[:] = sci_value
    hdus.writeto(dst)
    return dst


@pytest.fixture(scope="module")
def bad_inputs(demo_run, tmp_path_factory):
    """A folder of good and broken rate files made from the demo's, with an association."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    data = demo_run / "demo_data"
    sci = sorted((data / "IMA_science").glob("*_rate.fits"))
    bkg = next((data / "IMA_background").glob("*_rate.fits"))
    shutil.copy(sci[0], folder / "good_rate.fits")
    shutil.copy(bkg, folder / "bkg_rate.fits")
    raw = sci[1].read_bytes()
    (folder / "truncated_rate.fits").write_bytes(raw[: len(raw) // 2])
    (folder / "notfits_rate.fits").write_text("SIMPLE? no: this is a text file\n")
    _copy_with(sci[1], folder / "nosci_rate.fits", drop=("SCI",))
    _copy_with(sci[1], folder / "nircam_rate.fits", primary={"INSTRUME": "NIRCAM", "DETECTOR": "NRCA1"})
    _copy_with(sci[1], folder / "lrs_rate.fits", primary={"EXP_TYPE": "MIR_LRS-FIXEDSLIT"})
    _copy_with(bkg, folder / "bkg_f770w_rate.fits", primary={"FILTER": "F770W"})
    _copy_with(bkg, folder / "bkg_sub256_rate.fits", primary={"SUBARRAY": "SUB256"})
    _copy_with(bkg, folder / "bkg_nan_rate.fits", sci_value=np.nan)
    shutil.copy(sci[1], folder / "sci2_rate.fits")
    products = {
        "good": ("good_rate.fits", "bkg_rate.fits"),
        "truncated": ("truncated_rate.fits", "bkg_rate.fits"),
        "notfits": ("notfits_rate.fits", "bkg_rate.fits"),
        "nosci": ("nosci_rate.fits", "bkg_rate.fits"),
        "nircam": ("nircam_rate.fits", "bkg_rate.fits"),
        "lrs": ("lrs_rate.fits", "bkg_rate.fits"),
        "bkgfilter": ("sci2_rate.fits", "bkg_f770w_rate.fits"),
        "bkgsubarray": ("sci2_rate.fits", "bkg_sub256_rate.fits"),
        "bkgnan": ("sci2_rate.fits", "bkg_nan_rate.fits"),
    }
    asn = {"asn_type": "image2", "asn_rule": "DMSLevel2bBase", "asn_pool": "bad_pool", "products": [
        {"name": name, "members": [{"expname": s, "exptype": "science"}, {"expname": b, "exptype": "background"}]}
        for name, (s, b) in products.items()]}
    (folder / "bad_asn.json").write_text(json.dumps(asn))
    refs = {t: str(p) for t, p in {
        "distortion": data / "reference" / "jwst_miri_distortion_mirical.asdf",
        "filteroffset": data / "reference" / "jwst_miri_filteroffset_mirical.asdf",
        "flat": next((data / "reference").glob("jwst_miri_flat_*.fits")),
        "photom": data / "reference" / "jwst_miri_photom_mirical.fits",
        "area": data / "reference" / "jwst_miri_area_mirical.fits"}.items()}
    return folder, refs


EXPECTED = {
    "truncated": ("truncated_rate.fits", "not a readable FITS file"),
    "notfits": ("notfits_rate.fits", "not a readable FITS file"),
    "nosci": ("nosci_rate.fits", "missing extension(s) SCI"),
    "nircam": ("nircam_rate.fits", "INSTRUME is NIRCAM, not MIRI"),
    "lrs": ("lrs_rate.fits", "EXP_TYPE is MIR_LRS-FIXEDSLIT, not MIR_IMAGE"),
    "bkgfilter": ("bkg_f770w_rate.fits", "background FILTER is F770W but science"),
    "bkgsubarray": ("bkg_sub256_rate.fits", "background SUBARRAY is SUB256 but science"),
    "bkgnan": ("bkg_nan_rate.fits", "no finite pixel"),
}


@pytest.mark.workflow
def test_bad_exposures_fail_alone_with_clear_messages(bad_inputs, tmp_path):
    folder, refs = bad_inputs
    config = {"name": "bad", "association": str(folder / "bad_asn.json"), "output_dir": "out",
              "reference_files": refs, "mosaic": {"skip": True}}
    (tmp_path / "bad.yaml").write_text(json.dumps(config))
    before = sorted(p.name for p in folder.iterdir())
    result = run_snakemake(tmp_path, "--configfile", str(tmp_path / "bad.yaml"), "--keep-going", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    out = tmp_path / "out"
    assert (out / "good_cal.fits").is_file() and (out / "good_i2d.fits").is_file()
    for product, (name, cause) in EXPECTED.items():
        line = next((ln for ln in text.splitlines() if cause in ln and name in ln), None)
        assert line is not None, f"{product}: no message naming {name} with {cause!r}"
        assert not (out / f"{product}_cal.fits").exists()
        log = (out / "logs" / "background" / f"{product}.log").read_text()
        assert cause in log and "Traceback" not in log
    assert not list(out.rglob("*.part")), "a half-written file was left behind"
    assert sorted(p.name for p in folder.iterdir()) == before, "inputs must be read-only"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snakemake", "bad.yaml", "out"]


@pytest.mark.workflow
def test_wrong_filter_reference_fails_each_job_clearly(bad_inputs, tmp_path):
    folder, refs = bad_inputs
    flat = tmp_path / "flat_f770w.fits"
    _copy_with(Path(refs["flat"]), flat, primary={"FILTER": "F770W"})
    config = {"name": "w", "science": [str(folder / "good_rate.fits")], "output_dir": "out",
              "reference_files": {**refs, "flat": str(flat), "photom": str(tmp_path / "missing_photom.fits")}}
    (tmp_path / "w.yaml").write_text(json.dumps(config))
    result = run_snakemake(tmp_path, "--configfile", str(tmp_path / "w.yaml"), "--keep-going", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    flat_log = (tmp_path / "out" / "logs" / "flat_field" / "w_dither1.log").read_text()
    assert "flat_f770w.fits" in flat_log and "F770W" in flat_log and "F1130W" in flat_log
    assert "flat_f770w.fits" in text  # Snakemake shows the failed job's log
    assert (tmp_path / "out" / "intermediate" / "w_dither1_wcs.fits").is_file()  # steps before still ran

    # The right flat: now photom is the step without its reference file.
    config["reference_files"]["flat"] = refs["flat"]
    (tmp_path / "w.yaml").write_text(json.dumps(config))
    result = run_snakemake(tmp_path, "--configfile", str(tmp_path / "w.yaml"), "--keep-going", check=False)
    assert result.returncode != 0
    photom_log = (tmp_path / "out" / "logs" / "photom" / "w_dither1.log").read_text()
    assert "no photom reference file" in photom_log and "missing_photom.fits" in photom_log
    assert "does not exist" in photom_log and "Traceback" not in photom_log
    assert (tmp_path / "out" / "intermediate" / "w_dither1_flat.fits").is_file()
    assert not (tmp_path / "out" / "w_dither1_cal.fits").exists()
    assert not (tmp_path / "out" / "intermediate" / "w_dither1_refs.json").exists()


# ----------------------------------------------------------------- unit-level cases
def test_read_exposure_messages(bad_inputs):
    folder, _ = bad_inputs
    for name, cause in [("truncated_rate.fits", "not a readable FITS file"), ("nosci_rate.fits", "SCI"),
                        ("nircam_rate.fits", "NIRCAM"), ("lrs_rate.fits", "MIR_LRS-FIXEDSLIT"),
                        ("absent_rate.fits", "does not exist")]:
        with pytest.raises(MiricalError) as info:
            read_exposure(folder / name)
        assert name in str(info.value) and cause in str(info.value)


def test_photom_without_a_row_names_the_file(bad_inputs):
    folder, refs = bad_inputs
    exposure = read_exposure(folder / "good_rate.fits")
    exposure.primary["FILTER"] = "F1065C"
    tables, _ = read_tables(refs["photom"], ("PHOTOM",), required=("PHOTOM",))
    area = read_reference_image(refs["area"], ("SCI",))
    with pytest.raises(MiricalError) as info:
        photom.calibrate(exposure, tables, refs["photom"], area)
    assert "jwst_miri_photom_mirical.fits" in str(info.value) and "no row for FILTER=F1065C" in str(info.value)


def test_reference_of_the_wrong_type_is_refused(bad_inputs, tmp_path):
    folder, refs = bad_inputs
    with pytest.raises(MiricalError) as info:
        read_tables(refs["area"], ("PHOTOM",), required=("PHOTOM",))
    assert "jwst_miri_area_mirical.fits" in str(info.value) and "PHOTOM" in str(info.value)


@pytest.mark.parametrize("text, cause", [
    ("{not json", "not a valid association JSON"),
    ('{"products": []}', "no 'products'"),
    ('{"products": [{"name": "p", "members": [{"expname": "bkg_rate.fits", "exptype": "background"}]}]}',
     "0 science members"),
    ('{"products": [{"name": "p", "members": [{"expname": "good_rate.fits", "exptype": "science"},'
     ' {"expname": "sci2_rate.fits", "exptype": "science"}]}]}', "2 science members"),
    ('{"products": [{"name": "p", "members": [{"expname": "gone_rate.fits", "exptype": "science"}]}]}',
     "gone_rate.fits does not exist"),
    ('{"products": [{"name": "../x", "members": [{"expname": "good_rate.fits", "exptype": "science"}]}]}',
     "not a plain file name"),
])
def test_association_problems(bad_inputs, text, cause):
    folder, _ = bad_inputs
    path = folder / "case_asn.json"
    path.write_text(text)
    try:
        with pytest.raises(MiricalError) as info:
            load_association(path)
        assert "case_asn.json" in str(info.value) and cause in str(info.value)
    finally:
        path.unlink()


@pytest.mark.parametrize("option, key", [
    ("steps={background: {sigma: abc}}", "sigma"),
    ("steps={resample: {kernel: boxcar}}", "kernel"),
    ("name=../x", "name"),
    ("mosaic={pixfrac: 2}", "pixfrac"),
    ("steps={resample: {pixmap_order: 2}}", "pixmap_order"),  # jwst: 1 or 3
    ("mosaic={pixmap_stepsize: 0.5}", "pixmap_stepsize"),
    ("outlier_detection={pixmap_order: 5}", "pixmap_order"),
])
def test_bad_config_is_caught_by_the_schema(tmp_path, option, key):
    result = run_snakemake(tmp_path, "-n", "--config", option, check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "Error validating config" in text and key in text


# ----------------------------------------------------------------- numerical edge cases
def test_edge_cases_give_flags_not_crashes(recwarn):
    arrays = {"SCI": np.array([[np.nan, 1.0, 2.0, 3.0]]), "ERR": np.ones((1, 4)),
              "DQ": np.zeros((1, 4), np.uint32),
              "VAR_POISSON": np.array([[1.0, -3.0, 0.0, 1.0]]), "VAR_RNOISE": np.array([[1.0, 1.0, 0.0, 1.0]])}
    out = flat_field.apply(arrays, np.zeros((1, 4)), np.zeros((1, 4)), np.zeros((1, 4), np.uint32))
    assert (out["DQ"] & 1).all() and np.isnan(out["SCI"]).all()  # a flat of zeros: all DO_NOT_USE
    out = flat_field.apply(arrays, np.ones((1, 4)), np.zeros((1, 4)), np.zeros((1, 4), np.uint32))
    assert out["DQ"].tolist() == [[1, 1, 0, 0]]  # NaN science; negative variance -> NaN ERR
    assert out["ERR"][0, 2] == 0.0 and out["SCI"][0, 2] == 2.0  # zero variance is kept
    bkg = background.combine([np.full((2, 2), np.nan)], [np.ones((2, 2))], [np.zeros((2, 2), np.uint32)])
    assert np.isnan(bkg.sci).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_all_flagged_exposure_resamples_to_fill(tmp_path):
    from gwcs import WCS
    from gwcs import coordinate_frames as cf
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models

    from mirical.drizzle.engine import Resampler
    from mirical.drizzle.grid import output_grid

    tan = (models.Shift(-10) & models.Shift(-10) | models.Scale(3e-5) & models.Scale(3e-5)
           | models.Pix2Sky_TAN() | models.RotateNative2Celestial(10.0, 20.0, 180.0))
    wcs = WCS([(cf.Frame2D(name="detector", unit=(u.pix, u.pix)), tan),
               (cf.CelestialFrame(reference_frame=coord.ICRS(), name="world"), None)])
    wcs.bounding_box = ((-0.5, 19.5), (-0.5, 19.5))
    out_wcs, shape = output_grid([wcs], [(20, 20)], {"ROLL_REF": 0.0, "VPARITY": -1, "V3I_YANG": 0.0})
    r = Resampler(out_wcs, shape, pixel_scale_ratio=1.0)
    ones = np.ones((20, 20), np.float32)
    r.add(ones, ones, np.ones((20, 20), np.uint32), ones, ones, ones, wcs, 100.0)
    result = r.finish()
    assert np.isnan(result["SCI"]).all() and (result["WHT"] == 0).all()


# ----------------------------------------------------------------- killed and resumed
@pytest.mark.workflow
def test_killed_run_resumes_to_identical_outputs(demo_run, tmp_path):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(tmp_path),
           "--cores", "2", "--config", "output_dir=out", REDUCED_DEMO]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not list((tmp_path / "out" / "intermediate").glob("*_wcs.fits")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "out" / "demo_i2d.fits").exists(), "the run finished before it was killed"
    # The documented way to resume: unlock, then run the same command again.
    run_snakemake(tmp_path, "--unlock", "--config", "output_dir=out", REDUCED_DEMO)
    run_snakemake(tmp_path, "--rerun-incomplete", "--config", "output_dir=out", REDUCED_DEMO)
    assert not list((tmp_path / "out").rglob("*.part"))
    for reference in sorted(demo_run.rglob("*")):
        rel = reference.relative_to(demo_run)
        if reference.is_file() and reference.suffix in (".fits", ".ecsv", ".asdf") and rel.parts[0] != "logs":
            assert (tmp_path / "out" / rel).read_bytes() == reference.read_bytes(), rel
