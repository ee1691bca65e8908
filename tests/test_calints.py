"""rateints -> calints: the steps per integration, and a mixed rate + rateints association
against jwst 3.0.0.

Hand-computed 3-D cases for background (rateints members collapsed over their
integrations, the 2-D combined background subtracted from every integration),
flat_field and photom (2-D reference arrays applied to every integration), and the
errors for a rateints whose SCI is not 3-D or a background of the other kind.

Then one small association (SUB64) of two rate exposures with a rate background and
one 3-integration rateints exposure with two rateints backgrounds (all written as
stdatamodels writes them: ImageModel / CubeModel with INT_TIMES), calibrated by the
mirical workflow and by the official ``Image2Pipeline`` (offline, the same reference
files as overrides; `official_calints_run.py` in the official venv, running while
mirical runs): the calints SCI, ERR and VAR_* equal to 1e-6 relative, DQ and NaN
pattern identical, the same extensions, status keywords and INT_TIMES, the WCS within
0.1 mas; cal + i2d for the rate products only, and a mosaic of the rate products alone.
"""
from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.coordinates import angular_separation
from astropy.io import fits

from conftest import REPO, official_python, run_snakemake
from mirical.demo import simulate as sim
from mirical.errors import MiricalError
from mirical.formats.association import is_rateints, make_association, products_from_lists
from mirical.formats.dqflags import DO_NOT_USE, JUMP_DET, NO_FLAT_FIELD
from mirical.formats.io import Exposure, read_exposure, read_member
from mirical.steps import background
from mirical.steps import flat_field
from mirical.steps import photom

F32 = np.float32


# ----------------------------------------------------------------- the steps on 3-D arrays
def test_rateints_member_is_averaged_over_its_integrations_with_clipping():
    # 5 integrations of a 1x2 member: pixel (0,0) has an outlier integration (clipped at 1.5 sigma:
    # median 10.1, std ~36 -> 100 out; then 9.8 is 2 std from 10.05: out), pixel (0,1) is NaN in
    # every integration (jwst's masked mean: 0, not NaN).
    sci = np.array([[[10.0, np.nan]], [[10.2, np.nan]], [[9.8, np.nan]], [[10.1, np.nan]], [[100.0, np.nan]]], F32)
    err = np.array([[[1.0, 1.0]], [[2.0, 1.0]], [[2.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]]], F32)
    dq = np.zeros((5, 1, 2), np.uint32)
    dq[4, 0, 0] = JUMP_DET
    dq[1, 0, 1] = DO_NOT_USE
    mean, err2, dq2 = background.collapse_integrations(sci, err, dq, sigma=1.5)
    assert mean[0, 0] == pytest.approx((10.0 + 10.2 + 10.1) / 3, rel=1e-6)
    assert mean[0, 1] == 0.0
    # ERR^2 = 1, 4, 4, 1, 1 clipped on its own: median 1, std 1.47 -> nothing beyond 1.5 sigma (4 is 2.04): 4s out
    assert err2[0, 0] == pytest.approx(1.0)
    assert err2[0, 1] == pytest.approx(1.0)
    assert dq2.tolist() == [[JUMP_DET, DO_NOT_USE]]  # OR over the integrations, unclipped


def _member(sci, err, dq, ints, path="b.fits", substrt=(1, 1)):
    ny, nx = np.shape(sci)[-2:]
    primary = fits.Header({"INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "FILTER": "F770W", "SUBARRAY": "SUB",
                           "EXP_TYPE": "MIR_IMAGE", "SUBSTRT1": substrt[0], "SUBSTRT2": substrt[1],
                           "SUBSIZE1": nx, "SUBSIZE2": ny})
    exposure = Exposure(primary, fits.Header(), {"SCI": np.asarray(sci, F32), "ERR": np.asarray(err, F32),
                                                 "DQ": np.asarray(dq, np.uint32)}, path=path)
    assert exposure.ints == ints
    return exposure


def test_one_combined_background_is_subtracted_from_every_integration():
    science = _member(np.array([[[10.0, 20.0]], [[11.0, 21.0]], [[12.0, 22.0]]]), np.ones((3, 1, 2)),
                      np.array([[[0, 0]], [[JUMP_DET, 0]], [[0, 0]]]), True, "s_rateints.fits")
    # Two rateints members of 2 integrations: member means (1, 3) and (3, 5): combined (2, 4)
    b1 = _member(np.array([[[0.5, 3.0]], [[1.5, 3.0]]]), np.full((2, 1, 2), 2.0), np.zeros((2, 1, 2)), True)
    b2 = _member(np.array([[[3.0, 5.0]], [[3.0, 5.0]]]), np.full((2, 1, 2), 4.0),
                 np.array([[[0, 0]], [[0, DO_NOT_USE]]]), True)
    combined = background.combined_background(science, [b1, b2])
    np.testing.assert_allclose(combined.sci, [[2.0, 4.0]])
    np.testing.assert_allclose(combined.err, [[np.sqrt(4.0 + 16.0) / 2] * 2], rtol=1e-6)  # sqrt(sum mean ERR^2) / N
    out, level = background.calibrate(science, [b1, b2])
    np.testing.assert_allclose(out.arrays["SCI"], [[[8.0, 16.0]], [[9.0, 17.0]], [[10.0, 18.0]]])
    assert out.arrays["DQ"].tolist() == [[[0, DO_NOT_USE]], [[JUMP_DET, DO_NOT_USE]], [[0, DO_NOT_USE]]]
    assert out.arrays["SCI"].dtype == F32 and level == 3.0
    assert out.primary["S_BKDSUB"] == "COMPLETE"


def test_a_background_of_the_other_kind_is_refused():
    science = _member(np.ones((3, 1, 2)), np.ones((3, 1, 2)), np.zeros((3, 1, 2)), True, "s_rateints.fits")
    rate = _member(np.ones((1, 2)), np.ones((1, 2)), np.zeros((1, 2)), False, "b_rate.fits")
    with pytest.raises(MiricalError, match=r"b_rate.fits: background is a rate \(2-D SCI\) but science "
                                           r"s_rateints.fits is a rateints \(3-D SCI\)"):
        background.combined_background(science, [rate])


def test_flat_field_divides_every_integration_by_the_2d_flat():
    sci = np.array([[[2.0, 4.0]], [[6.0, 8.0]]], F32)
    var = np.full((2, 1, 2), 4.0, F32)
    arrays = {"SCI": sci, "ERR": np.full((2, 1, 2), 2.0, F32), "DQ": np.array([[[0, 0]], [[JUMP_DET, 0]]], np.uint32),
              "VAR_POISSON": var, "VAR_RNOISE": var.copy()}
    flat = np.array([[2.0, 0.0]], F32)  # the second pixel: zero flat -> DO_NOT_USE + NO_FLAT_FIELD, NaN
    out = flat_field.apply(arrays, flat, np.array([[0.1, 0.1]], F32), np.zeros((1, 2), np.uint32))
    assert out["SCI"].shape == (2, 1, 2)
    np.testing.assert_allclose(out["SCI"][:, 0, 0], [1.0, 3.0])
    np.testing.assert_allclose(out["VAR_POISSON"][:, 0, 0], [1.0, 1.0])  # 4 / 2^2
    np.testing.assert_allclose(out["VAR_FLAT"][:, 0, 0], [1.0 / 4 * 0.01, 9.0 / 4 * 0.01], rtol=1e-6)  # SCI^2/f^2 ERRf^2
    np.testing.assert_allclose(out["ERR"][:, 0, 0], np.sqrt([2.0025, 2.0225]), rtol=1e-6)
    assert np.isnan(out["SCI"][:, 0, 1]).all()
    assert out["DQ"][:, 0, 1].tolist() == [DO_NOT_USE | NO_FLAT_FIELD] * 2
    assert out["DQ"][:, 0, 0].tolist() == [0, JUMP_DET]


def test_photom_scales_every_integration_by_the_conversion():
    arrays = {"SCI": np.array([[[1.0]], [[2.0]], [[3.0]]], F32), "ERR": np.full((3, 1, 1), 0.5, F32),
              "VAR_POISSON": np.full((3, 1, 1), 0.25, F32), "VAR_RNOISE": np.ones((3, 1, 1), F32),
              "VAR_FLAT": np.zeros((3, 1, 1), F32)}
    out = photom.apply(arrays, 2.0)
    np.testing.assert_allclose(out["SCI"][:, 0, 0], [2.0, 4.0, 6.0])
    np.testing.assert_allclose(out["ERR"][:, 0, 0], [1.0] * 3)
    np.testing.assert_allclose(out["VAR_POISSON"][:, 0, 0], [1.0] * 3)
    np.testing.assert_allclose(out["VAR_RNOISE"][:, 0, 0], [4.0] * 3)


# ----------------------------------------------------------------- files
def _write(path: Path, sci: np.ndarray) -> Path:
    ny, nx = sci.shape[-2:]
    primary = fits.Header({"INSTRUME": "MIRI", "EXP_TYPE": "MIR_IMAGE", "SUBSIZE1": nx, "SUBSIZE2": ny})
    hdus = [fits.PrimaryHDU(header=primary)] + [fits.ImageHDU(sci.astype(F32 if n != "DQ" else np.uint32), name=n)
                                                for n in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")]
    fits.HDUList(hdus).writeto(path)
    return path


def test_a_rateints_whose_sci_is_2d_is_refused(tmp_path):
    path = _write(tmp_path / "x_rateints.fits", np.zeros((4, 5)))
    with pytest.raises(MiricalError, match=r"x_rateints.fits: SCI is 2-D: a _rateints file holds one image per "
                                           r"integration \(3-D SCI\)"):
        read_member(path)


def test_a_rate_whose_sci_is_3d_is_refused(tmp_path):
    path = _write(tmp_path / "x_rate.fits", np.zeros((3, 4, 5)))
    with pytest.raises(MiricalError, match=r"x_rate.fits: SCI is 3-D \(one image per integration\): name the file "):
        read_member(path)
    assert read_member(_write(tmp_path / "y_rateints.fits", np.zeros((3, 4, 5)))).shape == (4, 5)


def test_lists_give_each_science_exposure_the_backgrounds_of_its_kind():
    products = products_from_lists(["/d/a_rate.fits", "/d/b_rateints.fits"],
                                   ["/d/x_rate.fits", "/d/y_rateints.fits", "/d/z_rateints.fits"], "run")
    assert [(p.name, p.ints, p.backgrounds) for p in products] == [
        ("run_dither1", False, ("/d/x_rate.fits",)),
        ("run_dither2", True, ("/d/y_rateints.fits", "/d/z_rateints.fits"))]
    assert is_rateints("A_RATEINTS.FITS") and not is_rateints("a_rate.fits")


# ----------------------------------------------------------------- mixed association vs jwst 3.0.0
NINTS = 3
CALINTS_ARRAYS = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
RTOL = 1e-6
WCS_MAS = 0.1
PREFIX = "jw01234017001_02101"


def _int_times(expstart: float, seconds: float) -> np.ndarray:
    dtype = [("integration_number", ">i4")] + [(f"int_{w}_{t}", ">f8") for t in ("MJD_UTC", "BJD_TDB")
                                               for w in ("start", "mid", "end")]
    rows = []
    for k in range(NINTS):
        start, end = expstart + k * seconds / 86400, expstart + (k + 1) * seconds / 86400
        utc = (start, 0.5 * (start + end), end)
        rows.append((k + 1, *utc, *(t + 0.0008 for t in utc)))
    return np.array(rows, dtype=dtype)


def _write_rateints(path: Path, settings: sim.DemoSettings, dither: int, flat: np.ndarray, spoil: bool) -> None:
    """A 3-integration rateints: the simulated rate plus independent noise per integration; one
    integration with a NaN + DO_NOT_USE block and jumps; a background (``spoil``) with unflagged
    outliers and unflagged NaN pixels."""
    from mast_like import write_mast_rate
    from official_matrix import simulate_plain

    arrays, primary, sci = simulate_plain(path, settings, dither, flat)
    rng = np.random.default_rng([settings.seed, dither + 10])
    ny, nx = arrays["SCI"].shape
    cube = {name: np.repeat(arrays[name][None] * (NINTS if name.startswith("VAR") else 1), NINTS, axis=0)
            for name in arrays}
    cube["ERR"] = np.sqrt(cube["VAR_POISSON"] + cube["VAR_RNOISE"])
    cube["SCI"] = cube["SCI"] + rng.normal(0.0, 1.0, cube["SCI"].shape) * cube["ERR"]
    cube["SCI"][1, ny // 4: ny // 4 + 5, nx // 3: nx // 3 + 6] = np.nan
    cube["DQ"][1, ny // 4: ny // 4 + 5, nx // 3: nx // 3 + 6] |= DO_NOT_USE
    cube["DQ"][2, ny // 2, : nx // 2] |= JUMP_DET
    if spoil:  # outliers in one integration; pixels NaN in every integration, unflagged (jwst averages them to 0)
        outliers = rng.choice(ny * nx, 30, replace=False)
        cube["SCI"][0].flat[outliers[:20]] += rng.uniform(50.0, 500.0, 20)
        for k in range(NINTS):
            cube["SCI"][k].flat[outliers[20:]] = np.nan
    primary["NINTS"] = NINTS
    path.parent.mkdir(exist_ok=True)
    write_mast_rate(path, cube, primary, sci, int_times=_int_times(primary["EXPSTART"], primary["EFFINTTM"]))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> dict:
    """The mixed association through mirical (all of `rule all`) and the official pipeline."""
    import dataclasses

    from mirical.references.distortion import write_distortion_reffile, write_filteroffset_reffile
    from official_matrix import Case, settings_for, write_exposure, write_references

    root = tmp_path_factory.mktemp("calints")
    case = Case("calints_sub64", "SUB64", "F770W", False, 2, 1, "exponential", 150.1, 2.2, 1.00004, "2024-02-11")
    shared = {"distortion": str(root / "jwst_miri_distortion_0001.asdf"),
              "filteroffset": str(root / "jwst_miri_filteroffset_0001.asdf")}
    write_distortion_reffile(shared["distortion"])
    write_filteroffset_reffile(shared["filteroffset"])
    refs, flat = write_references(case, root / "reference", shared)
    settings = settings_for(case)
    mast = root / "mast"
    science = [mast / f"{PREFIX}_0000{i + 1}_mirimage_rate.fits" for i in range(2)]
    for i, path in enumerate(science):
        write_exposure(path, case, settings, i, flat)
    science.append(mast / f"{PREFIX}_00003_mirimage_rateints.fits")
    _write_rateints(science[-1], settings, 1, flat, spoil=False)
    backgrounds = [mast / f"jw01234017002_02101_00001_mirimage_rate.fits"]
    write_exposure(backgrounds[0], case, dataclasses.replace(settings, seed=settings.seed + 7), -1, flat, spoil_k=0)
    for k in range(2):
        backgrounds.append(mast / f"jw01234017002_02101_0000{k + 2}_mirimage_rateints.fits")
        _write_rateints(backgrounds[-1], dataclasses.replace(settings, seed=settings.seed + 11 * (k + 1)), -1, flat,
                        spoil=True)
    name = "mixed"
    asn = root / f"{name}_lvl2_asn.json"
    make_association([str(p) for p in science], [str(p) for p in backgrounds], name, asn)
    (root / "refs.json").write_text(json.dumps(refs))
    official_dir = root / "official"
    official = subprocess.Popen([official_python(), str(REPO / "tests" / "official_calints_run.py"), str(asn),
                                 str(root / "refs.json"), str(official_dir)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    workdir = root / "mirical"
    workdir.mkdir()
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"association": str(asn), "output_dir": "out", "reference_files": refs}))
    try:
        run_snakemake(workdir, "--configfile", str(config))
    finally:
        log, _ = official.communicate(timeout=900)
    assert official.returncode == 0, f"official pipeline failed:\n{log[-6000:]}"
    return {"out": workdir / "out", "official": official_dir, "name": name, "workdir": workdir,
            "config": config, "rateints": science[-1]}


def _relative(ours: np.ndarray, official: np.ndarray) -> float:
    a, b = ours.astype(np.float64), official.astype(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(b[both]))
    return float(rel.max()) if rel.size else 0.0


def test_calints_equal_the_official(mixed):
    product = f"{mixed['name']}_dither3"
    ours, theirs = mixed["out"] / f"{product}_calints.fits", mixed["official"] / f"{product}_calints.fits"
    with fits.open(ours) as mine, fits.open(theirs) as off:
        assert sorted(h.name for h in mine[1:]) == sorted(h.name for h in off[1:])
        assert mine["SCI"].data.shape == off["SCI"].data.shape == (NINTS, 64, 72)
        assert np.array_equal(mine["DQ"].data, off["DQ"].data), \
            f"DQ differs in {np.count_nonzero(mine['DQ'].data != off['DQ'].data)} pixels"
        for name in CALINTS_ARRAYS:
            assert np.array_equal(np.isnan(mine[name].data), np.isnan(off[name].data)), f"{name}: NaN pattern"
            worst = _relative(mine[name].data, off[name].data)
            assert worst <= RTOL, f"{name}: relative difference up to {worst:.3g}"
        assert _relative(mine["AREA"].data, off["AREA"].data) == 0.0
        assert np.array_equal(np.asarray(mine["INT_TIMES"].data), np.asarray(off["INT_TIMES"].data))
        for key in ("S_BKDSUB", "S_WCS", "S_FLAT", "S_PHOTOM"):
            assert mine[0].header[key] == off[0].header[key] == "COMPLETE", key
        assert "S_RESAMP" not in mine[0].header and "S_RESAMP" not in off[0].header
        assert mine[0].header["DATAMODL"] == off[0].header["DATAMODL"] == "CubeModel"
        assert mine["SCI"].header["BUNIT"] == off["SCI"].header["BUNIT"] == "MJy/sr"
        assert mine["SCI"].header["PHOTMJSR"] == pytest.approx(off["SCI"].header["PHOTMJSR"], rel=1e-6)


def test_calints_open_as_a_cube_model_with_the_official_wcs(mixed):
    from stdatamodels.jwst import datamodels

    product = f"{mixed['name']}_dither3"
    x, y, ra_o, dec_o = np.load(mixed["official"] / f"{product}_calints.fits.radec.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(mixed["out"] / f"{product}_calints.fits")
    with model:
        assert isinstance(model, datamodels.CubeModel)
        assert model.int_times["integration_number"].tolist() == [1, 2, 3]
        ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
    sep = np.degrees(angular_separation(*(np.radians(v) for v in (ra, dec, ra_o, dec_o)))) * 3.6e6
    assert float(np.max(sep)) <= WCS_MAS


def test_rate_products_get_cal_and_i2d_the_rateints_calints_only(mixed):
    out, official, name = mixed["out"], mixed["official"], mixed["name"]
    for where in (out, official):
        made = sorted(p.name for p in where.glob(f"{name}_dither*.fits"))
        assert [m for m in made if "_dither" in m and not m.endswith("_crf.fits")] == [
            f"{name}_dither1_cal.fits", f"{name}_dither1_i2d.fits", f"{name}_dither2_cal.fits",
            f"{name}_dither2_i2d.fits", f"{name}_dither3_calints.fits"], where
    # mirical's intermediates keep their names for both kinds
    assert (out / "intermediate" / f"{name}_dither3_bkgsub.fits").is_file()
    assert read_exposure(out / "intermediate" / f"{name}_dither3_flat.fits").ints
    assert json.loads((out / "intermediate" / f"{name}_dither3_refs.json").read_text())["product"] == f"{name}_dither3"


def test_the_mosaic_takes_only_the_rate_products(mixed):
    out, name = mixed["out"], mixed["name"]
    parts = sorted(p.name for p in (out / "intermediate").glob("*_mosaic_part.fits"))
    assert parts == [f"{name}_dither1_mosaic_part.fits", f"{name}_dither2_mosaic_part.fits"]
    assert sorted(p.name for p in out.glob("*_crf.fits")) == [f"{name}_dither1_crf.fits", f"{name}_dither2_crf.fits"]
    assert "mosaic of 2 exposure(s)" in (out / "logs" / "mosaic.log").read_text()
    with fits.open(out / f"{name}_i2d.fits") as mosaic:
        assert int(mosaic["CON"].data.max()) == 0b11  # bits 0 and 1: the two rate products
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert not [p for p in plots if "dither3" in p]
    rows = (out / f"{name}_summary.csv").read_text().splitlines()
    assert len(rows) == 4 and f"{name}_dither3" in rows[3]


def test_rateints_only_run_plans_calints_and_no_mosaic():
    from mirical.workflow.planning import Layout

    made = Layout("out", "run").products(["a", "b"], ints=["a", "b"])
    assert made["calints"] == ["out/a_calints.fits", "out/b_calints.fits"]
    assert made["cal"] == made["i2d"] == made["mosaic"] == made["plots"] == []
    assert made["refs"] == ["out/intermediate/a_refs.json", "out/intermediate/b_refs.json"]
    mixed_plan = Layout("out", "run").products(["a", "b"], crf=True, ints=["b"])
    assert mixed_plan["calints"] == ["out/b_calints.fits"] and mixed_plan["crf"] == ["out/a_crf.fits"]
    assert mixed_plan["mosaic"] == ["out/run_i2d.fits"]


def test_a_new_rateints_file_reruns_only_its_chain_and_the_summary(mixed):
    """A changed rateints file (new content) re-runs its product's jobs, the association copy and the
    table, nothing else (no outlier detection, no mosaic)."""
    from test_rerun import Changed, plan

    workdir, config = mixed["workdir"], str(mixed["config"])
    assert plan(workdir, "--configfile", config) == {}

    def edit(path):
        with fits.open(path, mode="update") as hdul:
            hdul["SCI"].data[0, 10, 10] += 1.0

    product = f"product={mixed['name']}_dither3"
    with Changed(mixed["rateints"], edit):
        planned = plan(workdir, "--configfile", config)
    assert sorted(planned) == sorted([(rule, product) for rule in ("background", "assign_wcs", "flat_field",
                                                                   "photom_ints")] + [("association", ""), ("summary", ""), ("all", "")])
