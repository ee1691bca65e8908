"""A reference file named in ``reference_files`` is used as the official override is (issue 13).

Geometry decides: the file must cover the exposure's SUBSTRT/SUBSIZE region and
is cut to it; a SUBARRAY or READPATT name that differs, or a USEAFTER after the
exposure, is one warning in the job's log and in ``_refs.json``.
"""
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

from conftest import run_snakemake
from mirical.errors import MiricalError
from mirical.formats.io import ReferenceImage
from mirical.formats.subarray import cut, describe, require_covers
from mirical.workflow import runner

BRIGHTSKY = (457, 51, 512, 512)
SUB256 = (413, 51, 256, 256)


# ----------------------------------------------------------------- geometry
def test_cut_a_region_out_of_a_smaller_reference():
    ref = np.arange(20.0).reshape(4, 5)  # a reference at SUBSTRT1=2, SUBSTRT2=3
    sub = cut(ref, (2, 3, 5, 4), (3, 4, 2, 2))  # detector x 3-4, y 4-5 -> ref columns 1-2, rows 1-2
    assert sub.tolist() == [[6.0, 7.0], [11.0, 12.0]]


def test_describe_and_require_covers():
    assert describe(SUB256) == "SUBSTRT1=413 SUBSTRT2=51 SUBSIZE1=256 SUBSIZE2=256 (detector x 413-668, y 51-306)"
    require_covers("flat.fits", "flat", (1, 1, 1032, 1024), "x_rate.fits", BRIGHTSKY)  # covered: no error
    with pytest.raises(MiricalError) as err:
        require_covers("flat.fits", "flat", SUB256, "x_rate.fits", BRIGHTSKY)
    assert str(err.value) == (
        "flat.fits: the flat covers SUBSTRT1=413 SUBSTRT2=51 SUBSIZE1=256 SUBSIZE2=256 (detector x 413-668, "
        "y 51-306), which does not contain exposure x_rate.fits's region SUBSTRT1=457 SUBSTRT2=51 SUBSIZE1=512 "
        "SUBSIZE2=512 (detector x 457-968, y 51-562)")


def test_reference_frame_takes_the_array_size():
    """A SUBSIZE keyword that disagrees with the array: the array wins (jwst ref_matches_sci)."""
    header = fits.Header({"SUBSTRT1": 413, "SUBSTRT2": 51, "SUBSIZE1": 1032, "SUBSIZE2": 1024})
    image = ReferenceImage({"SCI": np.zeros((256, 256), np.float32)}, header, "flat.fits")
    assert image.frame == SUB256


# ----------------------------------------------------------------- the job's check
def _flat(path: Path, **keys) -> str:
    header = {"REFTYPE": "FLAT", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "FILTER": "F770W",
              "READPATT": "FASTR1", "SUBARRAY": "FULL", "USEAFTER": "2022-01-01T00:00:00", **keys}
    fits.PrimaryHDU(header=fits.Header(header)).writeto(path)
    return str(path)


EXPOSURE = {"INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "FILTER": "F770W", "READPATT": "FASTR1",
            "SUBARRAY": "SUB256", "DATE-OBS": "2023-06-01", "TIME-OBS": "12:00:00"}


def _job(path: str, named: str | None) -> SimpleNamespace:
    return SimpleNamespace(config={"reference_files": {"flat": named}}, params=SimpleNamespace(errors={}),
                           input=SimpleNamespace(flat=path))


def test_named_file_is_used_with_one_warning_line(tmp_path, caplog):
    path = _flat(tmp_path / "flat.fits")
    with caplog.at_level(logging.WARNING, logger="mirical"):
        assert runner.reference(_job(path, path), "flat", EXPOSURE, "/data/x_rate.fits") == path
    assert caplog.messages == [f"x_rate.fits: used as named in reference_files although flat reference {path} "
                               "is for SUBARRAY FULL but the exposure has SUB256"]
    assert runner.named_warnings(_job(path, path), {"flat": path}, EXPOSURE, "x_rate.fits") == {
        "flat": [f"flat reference {path} is for SUBARRAY FULL but the exposure has SUB256"]}


def test_a_folder_choice_stays_crds_strict(tmp_path):
    path = _flat(tmp_path / "flat.fits")
    with pytest.raises(MiricalError, match="SUBARRAY FULL but the exposure has SUB256"):
        runner.reference(_job(path, str(tmp_path)), "flat", EXPOSURE, "x_rate.fits")
    assert runner.named_warnings(_job(path, str(tmp_path)), {"flat": path}, EXPOSURE, "x_rate.fits") == {}


def test_named_file_of_another_filter_is_refused(tmp_path):
    path = _flat(tmp_path / "flat.fits", FILTER="F1130W")
    with pytest.raises(MiricalError) as err:
        runner.reference(_job(path, path), "flat", EXPOSURE, "x_rate.fits")
    assert str(err.value) == (f"{path}: flat reference {path} is for FILTER F1130W but the exposure has F770W "
                              "(exposure x_rate.fits)")


# ----------------------------------------------------------------- the workflow
def _demo_inputs(demo_run: Path) -> tuple[Path, Path, dict[str, str]]:
    data = demo_run / "demo_data"
    science = sorted((data / "IMA_science").glob("*_rate.fits"))[0]
    background = next((data / "IMA_background").glob("*_rate.fits"))
    ref = data / "reference"
    refs = {"distortion": str(ref / "jwst_miri_distortion_mirical.asdf"),
            "filteroffset": str(ref / "jwst_miri_filteroffset_mirical.asdf"),
            "photom": str(ref / "jwst_miri_photom_mirical.fits"),
            "area": str(ref / "jwst_miri_area_mirical.fits")}
    return science, background, refs


def _write_flat(demo_flat: Path, path: Path, region=(1, 1, 1032, 1024), **keys) -> Path:
    """The demo's full-frame flat with header ``keys``, cut to ``region``."""
    with fits.open(demo_flat) as hdul:
        hdus = fits.HDUList([h.copy() for h in hdul])
    x, y, nx, ny = region
    for name in ("SCI", "ERR", "DQ"):
        hdus[name].data = hdus[name].data[y - 1:y - 1 + ny, x - 1:x - 1 + nx]
    hdus[0].header.update({"SUBSTRT1": x, "SUBSTRT2": y, "SUBSIZE1": nx, "SUBSIZE2": ny, **keys})
    hdus.writeto(path)
    return path


def _config(tmp_path: Path, demo_run: Path, flat: Path) -> Path:
    science, background, refs = _demo_inputs(demo_run)
    config = {"name": "named", "output_dir": "out", "science": [str(science)], "background": [str(background)],
              "reference_files": {**refs, "flat": str(flat)}, "mosaic": {"skip": True}}
    path = tmp_path / "named.yaml"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.workflow
def test_full_frame_flat_named_for_a_subarray_exposure(demo_run, tmp_path):
    demo_flat = next((demo_run / "demo_data" / "reference").glob("jwst_miri_flat_*.fits"))
    flat = _write_flat(demo_flat, tmp_path / "full_flat.fits", SUBARRAY="FULL", READPATT="SLOWR1")
    config = _config(tmp_path, demo_run, flat)
    product = "named_dither1"
    inter = tmp_path / "out" / "intermediate"
    run_snakemake(tmp_path, "out/named_dither1_cal.fits", f"out/intermediate/{product}_refs.json",
                  "--configfile", str(config))

    with fits.open(inter / f"{product}_wcs.fits") as before, fits.open(inter / f"{product}_flat.fits") as after, \
            fits.open(flat) as ref:
        assert before[0].header["SUBARRAY"] == "BRIGHTSKY"
        x, y, nx, ny = BRIGHTSKY
        f = ref["SCI"].data[y - 1:y - 1 + ny, x - 1:x - 1 + nx]
        f_dq = ref["DQ"].data[y - 1:y - 1 + ny, x - 1:x - 1 + nx]
        sci_in, sci_out = before["SCI"].data, after["SCI"].data
        good = np.isfinite(sci_in) & np.isfinite(f) & (f != 0) & ((before["DQ"].data | f_dq) & 1 == 0)
        assert good.sum() > 0.9 * good.size
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = sci_in / f  # float32 / float32
        assert np.array_equal(sci_out[good], expected[good])  # bit for bit
        assert np.isnan(sci_out[~good]).all()
        assert np.array_equal(after["DQ"].data, before["DQ"].data | f_dq | np.where(good, 0, 1))

    warning = (f"{product}_wcs.fits: used as named in reference_files although flat reference {flat} is for "
               "READPATT SLOWR1 but the exposure has FASTR1; flat reference "
               f"{flat} is for SUBARRAY FULL but the exposure has BRIGHTSKY")
    log = (tmp_path / "out" / "logs" / "flat_field" / f"{product}.log").read_text()
    assert [ln for ln in log.splitlines() if ln.startswith("WARNING")] == [f"WARNING mirical: {warning}"]
    record = json.loads((inter / f"{product}_refs.json").read_text())
    assert record["references"]["flat"]["warnings"] == [
        f"flat reference {flat} is for READPATT SLOWR1 but the exposure has FASTR1",
        f"flat reference {flat} is for SUBARRAY FULL but the exposure has BRIGHTSKY"]
    assert all(record["references"][t]["warnings"] == [] for t in ("distortion", "filteroffset", "photom", "area"))


@pytest.mark.workflow
def test_named_flat_not_covering_the_exposure_fails_clearly(demo_run, tmp_path):
    demo_flat = next((demo_run / "demo_data" / "reference").glob("jwst_miri_flat_*.fits"))
    flat = _write_flat(demo_flat, tmp_path / "sub256_flat.fits", SUB256, SUBARRAY="SUB256")
    config = _config(tmp_path, demo_run, flat)
    result = run_snakemake(tmp_path, "out/intermediate/named_dither1_flat.fits", "--configfile", str(config),
                           check=False)
    assert result.returncode != 0
    log = (tmp_path / "out" / "logs" / "flat_field" / "named_dither1.log").read_text()
    assert (f"{flat}: the flat covers SUBSTRT1=413 SUBSTRT2=51 SUBSIZE1=256 SUBSIZE2=256 (detector x 413-668, "
            "y 51-306), which does not contain exposure") in log
    assert "region SUBSTRT1=457 SUBSTRT2=51 SUBSIZE1=512 SUBSIZE2=512 (detector x 457-968, y 51-562)" in log
    assert "Traceback" not in log
    assert not (tmp_path / "out" / "intermediate" / "named_dither1_flat.fits").exists()
