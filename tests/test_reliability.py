"""Bad inputs give one clear message naming the file and the cause; the rest still finishes."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from conftest import REDUCED_DEMO, REPO, SNAKEFILE, run_snakemake
from mirical.errors import MiricalError
from mirical.formats.association import load_association
from mirical.formats.io import read_exposure, read_member, read_reference_image, read_tables
from mirical.steps import background, flat_field, photom
from mirical.steps.background import check_science_keywords


# ----------------------------------------------------------------- the input matrix
def _copy_with(src: Path, dst: Path, primary=None, drop=(), sci_value=None, sci=None, remove=()) -> Path:
    """A copy of ``src`` with primary/SCI keywords set (``primary``, ``sci``) or removed (``remove``)."""
    with fits.open(src) as hdul:
        hdus = fits.HDUList([h.copy() for h in hdul if h.name not in drop])
    for key, value in (primary or {}).items():
        hdus[0].header[key] = value
    for key, value in (sci or {}).items():
        hdus["SCI"].header[key] = value
    for key in remove:
        for hdu in (hdus[0], hdus["SCI"]):
            hdu.header.remove(key, ignore_missing=True)
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
    for copy in ("sci2a", "sci2b", "sci2c"):  # one science exposure is in one product only
        shutil.copy(sci[1], folder / f"{copy}_rate.fits")
    _copy_with(sci[1], folder / "photomdone_rate.fits", primary={"S_PHOTOM": "COMPLETE"})
    _copy_with(sci[1], folder / "mjysr_rate.fits", sci={"BUNIT": "MJy/sr"})
    shutil.copy(sci[1], folder / "official_cal.fits")
    _copy_with(sci[1], folder / "allnan_rate.fits", sci_value=np.nan)
    _copy_with(sci[1], folder / "nopointing_rate.fits", remove=("RA_REF", "ROLL_REF"))
    _copy_with(sci[1], folder / "nodate_rate.fits", remove=("DATE-OBS", "TIME-OBS", "EXPSTART"))
    products = {
        "good": ("good_rate.fits", "bkg_rate.fits"),
        "truncated": ("truncated_rate.fits", "bkg_rate.fits"),
        "notfits": ("notfits_rate.fits", "bkg_rate.fits"),
        "nosci": ("nosci_rate.fits", "bkg_rate.fits"),
        "nircam": ("nircam_rate.fits", "bkg_rate.fits"),
        "lrs": ("lrs_rate.fits", "bkg_rate.fits"),
        "bkgfilter": ("sci2a_rate.fits", "bkg_f770w_rate.fits"),
        "bkgsubarray": ("sci2b_rate.fits", "bkg_sub256_rate.fits"),
        "bkgnan": ("sci2c_rate.fits", "bkg_nan_rate.fits"),
        "photomdone": ("photomdone_rate.fits", "bkg_rate.fits"),
        "mjysr": ("mjysr_rate.fits", "bkg_rate.fits"),
        "calname": ("official_cal.fits", "bkg_rate.fits"),
        "allnan": ("allnan_rate.fits", "bkg_rate.fits"),
        "nopointing": ("nopointing_rate.fits", "bkg_rate.fits"),
        "nodate": ("nodate_rate.fits", "bkg_rate.fits"),
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
    "photomdone": ("photomdone_rate.fits", "already calibrated: S_PHOTOM (photom) COMPLETE"),
    "mjysr": ("mjysr_rate.fits", "SCI BUNIT is MJy/sr, not DN/s: a calibrated file"),
    "calname": ("official_cal.fits", "this is a calibrated product (_cal.fits), not a rate file"),
    "allnan": ("allnan_rate.fits", "SCI has no finite pixel (all NaN or infinite): nothing to calibrate"),
    "nopointing": ("nopointing_rate.fits", "pointing keyword(s) ROLL_REF, RA_REF missing from the SCI header"),
    "nodate": ("nodate_rate.fits", "no usable start time (no DATE-OBS and no EXPSTART)"),
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
        errors = [ln for ln in log.splitlines() if ln.startswith("ERROR")]
        assert len(errors) == 1 and name in errors[0] and cause in errors[0], log
        assert not (out / "intermediate" / f"{product}_wcs.fits").exists()  # refused at its first step
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
    errors = [ln for ln in photom_log.splitlines() if ln.startswith("ERROR")]
    assert errors == [f"ERROR mirical: no photom reference file: {tmp_path / 'missing_photom.fits'} does not exist "
                      "(reference_files.photom) (needed by w_dither1)"]  # the reference first, not the intermediate
    assert "Traceback" not in photom_log
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


@pytest.mark.parametrize("name, cause", [(name, cause) for name, cause in EXPECTED.values()
                                         if not name.startswith(("bkg", "truncated", "notfits", "nosci", "nircam",
                                                                 "lrs"))])
def test_members_refused_before_calibration(bad_inputs, name, cause):
    """Calibrated or partly calibrated, empty or keyword-less members: one line naming the user's file."""
    folder, _ = bad_inputs
    with pytest.raises(MiricalError) as info:
        check_science_keywords(read_member(folder / name))
    assert str(info.value).startswith(f"{folder / name}: ") and cause in str(info.value)
    assert "\n" not in str(info.value)


def test_good_member_and_skipped_pointing(bad_inputs):
    folder, _ = bad_inputs
    check_science_keywords(read_member(folder / "good_rate.fits"))
    check_science_keywords(read_member(folder / "nopointing_rate.fits"), pointing=False)  # assign_wcs skipped


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
    ('{"products": [{"name": "a", "members": [{"expname": "good_rate.fits", "exptype": "science"}]},'
     ' {"name": "b", "members": [{"expname": "good_rate.fits", "exptype": "science"}]}]}',
     "product b: science member good_rate.fits is already the science member of product a (it would enter "
     "the mosaic twice)"),
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


def test_association_faults_stop_the_run_with_one_line_each(bad_inputs, tmp_path):
    folder, refs = bad_inputs
    asn = tmp_path / "broken_asn.json"
    members = [{"expname": str(folder / "good_rate.fits"), "exptype": "science"}]
    asn.write_text(json.dumps({"products": [
        {"name": "two", "members": members + [{"expname": str(folder / "sci2_rate.fits"), "exptype": "science"}]},
        {"name": "none", "members": [{"expname": str(folder / "bkg_rate.fits"), "exptype": "background"}]},
        {"name": "gone", "members": [{"expname": str(tmp_path / "gone_rate.fits"), "exptype": "science"}]},
        {"name": "one", "members": members}]}))
    result = run_snakemake(tmp_path, "--config", f"association={asn}", "output_dir=out", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-3:] == [
        f"mirical: {asn}: product two has 2 science members, expected exactly one",
        f"mirical: {asn}: product none has 0 science members, expected exactly one",
        f"mirical: {asn}: product gone: science member {tmp_path / 'gone_rate.fits'} does not exist"]
    assert 'File "' not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


CONFIG_CASES = [
    ({"steps": {"background": {"sigma": "abc"}}}, "config steps.background.sigma: 'abc' is not a number"),
    ({"steps": {"resample": {"kernel": "boxcar"}}},
     "config steps.resample.kernel: 'boxcar' is not one of square, gaussian, point, turbo, lanczos2, lanczos3"),
    ({"name": "../x"}, "config name: '../x' is not a plain name: a letter or digit first, then letters, digits, "
                       "_ . + or -"),
    ({"mosaic": {"pixfrac": 2}}, "config mosaic.pixfrac: 2 must be at most 1"),
    ({"steps": {"resample": {"pixmap_order": 2}}}, "config steps.resample.pixmap_order: 2 is not one of 1, 3"),
    ({"mosaic": {"pixmap_stepsize": 0.5}}, "config mosaic.pixmap_stepsize: 0.5 must be at least 1"),
    ({"outlier_detection": {"snr": 5}},
     "config outlier_detection.snr: 5 is not two numbers separated by a space, e.g. '5.0 4.0'"),
    ({"outlier_detection": {"fillval": "abc"}},
     "config outlier_detection.fillval: 'abc' is not a number or NaN or nan or INDEF"),
    ({"steps": {"resample": {"pixfarc": 0.8}}},
     "config steps.resample.pixfarc: unknown key 'pixfarc' (did you mean 'pixfrac'?)"),
    ({"mosaic": {"output_shape": [100]}}, "config mosaic.output_shape: [100] must be a list of 2 values"),
    ({"mosaic": {"allowed_memory": "half"}}, "config mosaic.allowed_memory: 'half' is not a number or empty (null)"),
]


@pytest.mark.parametrize("given, message", CONFIG_CASES)
def test_config_problems_in_plain_words(given, message):
    from mirical.workflow.config import check_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, value in given.items():
        config[key] = {**config[key], **{k: {**config[key].get(k, {}), **v} if isinstance(v, dict) else v
                                         for k, v in value.items()}} if isinstance(value, dict) else value
    with pytest.raises(MiricalError) as info:
        check_config(config, str(REPO / "schemas" / "config.schema.yaml"))
    assert str(info.value) == message


@pytest.mark.parametrize("given", [{}, {"name": "x", "steps": {"resample": {"pixfrac": 0.5}}, "tweakreg": {"skip": True}},
                                   "config.yaml"])
def test_config_defaults_filled_as_snakemake_fills_them(given):
    import copy

    from snakemake.utils import validate

    from mirical.workflow.config import check_config

    config = yaml.safe_load((REPO / given).read_text()) if given == "config.yaml" else given
    ours, snakemakes = copy.deepcopy(config), copy.deepcopy(config)
    check_config(ours, str(REPO / "schemas" / "config.schema.yaml"))
    validate(snakemakes, str(REPO / "schemas" / "config.schema.yaml"), set_default=True)
    assert ours == snakemakes and ours != config and ours["warm_worker"] is True
    if given:
        assert ours["steps"]["resample"]["kernel"] == "square" and ours["tweakreg"]["kernel_fwhm"] == 2.5


def test_config_typo_is_one_short_line(tmp_path):
    result = run_snakemake(tmp_path, "-n", "--config", "steps={resample: {pixfarc: 0.8}}", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == ("mirical: config steps.resample.pixfarc: unknown key 'pixfarc' "
                                              "(did you mean 'pixfrac'?)")
    assert "schema" not in result.stderr.lower() and 'File "' not in result.stderr


# ----------------------------------------------------------------- the memory guard
@pytest.fixture(scope="module")
def demo_cals(demo_run):
    return sorted(str(p) for p in demo_run.glob("*_cal.fits"))


def test_huge_resample_grid_refused_before_allocating(demo_cals, monkeypatch):
    from mirical.drizzle.memory import human
    from mirical.steps.resample import drizzle

    monkeypatch.delenv("DMODEL_ALLOWED_MEMORY", raising=False)
    params = {**yaml.safe_load((REPO / "config.yaml").read_text())["steps"]["resample"],
              "output_shape": [200000, 200000]}
    with pytest.raises(MiricalError) as info:
        drizzle(demo_cals[:1], params)
    assert str(info.value).startswith("config steps.resample: the output grid of 200000 x 200000 pixels (output_shape) "
                                      f"would need {human(200000 * 200000 * 40)} of memory, more than the ")
    assert human(200000 * 200000 * 40) == "1.5 TiB"


@pytest.mark.parametrize("step", ["mosaic", "outlier_detection"])
def test_allowed_memory_refuses_the_mosaic_and_outlier_grids(demo_cals, step, monkeypatch):
    from mirical.drizzle.memory import available_memory
    from mirical.steps.mosaic import compute_grid

    params = {**yaml.safe_load((REPO / "config.yaml").read_text())["mosaic"], "output_shape": [700, 700]}
    needed = 700 * 700 * {"mosaic": 48, "outlier_detection": 16}[step]
    fraction = 0.5 * needed / available_memory()  # half of what it needs
    monkeypatch.setenv("DMODEL_ALLOWED_MEMORY", str(fraction))  # the official variable, when the key is null
    with pytest.raises(MiricalError) as info:
        compute_grid(demo_cals, params, step)
    assert str(info.value).startswith(f"config {step}: the output grid of 700 x 700 pixels (output_shape) would need")
    assert f"more than allowed_memory={fraction} of the " in str(info.value)
    assert compute_grid(demo_cals, {**params, "allowed_memory": 4 * fraction}, step).shape == (700, 700)


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


# ----------------------------------------------------------------- killed, concurrent, full disk
@pytest.mark.workflow
def test_killed_runs_resume_to_identical_outputs(demo_run, tmp_path):
    """Two kill -9 of a whole run at random moments (tests/kill_campaign.py runs as many as asked)."""
    from kill_campaign import campaign

    lines = []
    passed = campaign(2, seed=20261201, scratch=tmp_path, reference_out=demo_run, duration=40.0, report=lines.append)
    assert passed == 2, "\n".join(lines)


@pytest.mark.workflow
def test_a_second_run_on_the_same_output_folder_is_refused(demo_run, tmp_path):
    """Two runs from two work folders on one output folder: the second stops with one line, the first is whole."""
    out = tmp_path / "shared_out"
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    config = ["--config", f"output_dir={out}", REDUCED_DEMO]
    first_dir.mkdir()
    first_log = (first_dir / "stderr.txt").open("w")
    first = subprocess.Popen([sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
                              str(first_dir), "--cores", "2", *config], stdout=subprocess.DEVNULL, stderr=first_log)
    try:
        while not (out / ".mirical.lock").exists() and first.poll() is None:
            time.sleep(0.1)
        second = run_snakemake(second_dir, *config, check=False)
        assert second.returncode == 1
        assert second.stderr.splitlines()[-1].startswith(
            f"mirical: {out}: another mirical run is writing this output folder (host ")
        assert "Traceback" not in second.stderr and 'File "' not in second.stderr
        assert first.wait(timeout=900) == 0, (first_dir / "stderr.txt").read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
        first_log.close()
    assert not (out / ".mirical.lock").exists() and not list(out.rglob(".*.part"))
    for reference in sorted(demo_run.rglob("*")):
        rel = reference.relative_to(demo_run)
        if reference.is_file() and reference.suffix in (".fits", ".ecsv", ".asdf") and rel.parts[0] != "logs":
            assert (out / rel).read_bytes() == reference.read_bytes(), rel


def _file_size_limit(limit: int):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.workflow
def test_full_disk_is_one_line_naming_the_file(bad_inputs, tmp_path):
    """RLIMIT_FSIZE in the jobs (as a full disk or quota): one line with the file and the reason, no product."""
    folder, refs = bad_inputs
    config = {"name": "full", "science": [str(folder / "good_rate.fits")], "output_dir": "out",
              "reference_files": refs}
    (tmp_path / "full.yaml").write_text(json.dumps(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(tmp_path),
           "--cores", "1", "--configfile", str(tmp_path / "full.yaml")]
    result = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_file_size_limit(1 << 20))
    assert result.returncode != 0
    log = (tmp_path / "out" / "logs" / "background" / "full_dither1.log").read_text()
    bkgsub = tmp_path / "out" / "intermediate" / "full_dither1_bkgsub.fits"
    assert [ln for ln in log.splitlines() if ln.startswith("ERROR")] == [
        f"ERROR mirical: {Path('out/intermediate/full_dither1_bkgsub.fits')}: could not be written: the file size "
        "limit was reached (ulimit -f); nothing was left under its name"]
    assert "Traceback" not in log and "Traceback" not in result.stderr
    assert not bkgsub.exists() and not list((tmp_path / "out").rglob(".*.part"))
    assert not (tmp_path / "out" / ".mirical.lock").exists()


def test_api_raises_the_refusal_as_mirical_error(tmp_path):
    """mirical.run gets the refusal as a MiricalError (not SystemExit): the caller's Python keeps running."""
    from mirical.api import run

    with pytest.raises(MiricalError) as info:
        run(output_dir=tmp_path / "out", workdir=tmp_path, steps={"resample": {"kernel": "boxcar"}}, dryrun=True)
    assert str(info.value).startswith("config steps.resample.kernel: 'boxcar' is not one of square")
