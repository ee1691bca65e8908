"""mirical on inputs shaped like real MAST data (issue 5).

The rate files here are written the way the official pipeline writes them:
by ``stdatamodels.jwst.datamodels.ImageModel.save`` (a test-only dependency),
so their metadata sits both in FITS keywords and in the ``ASDF`` extension
(``_fits_hash``, ``fits:SCI,1`` array references, the full ``meta`` tree). The
pixel values come from mirical's simulator.

One Snakemake run (``real_run``) calibrates a folder that mixes filters,
subarrays and dates against a reference folder holding two flats per filter
(USEAFTER 2022-05-01 and 2024-01-01):

=================  ======  ======  ==========  ===============================
file               filter  array   DATE-OBS    what it shows
=================  ======  ======  ==========  ===============================
jw...001_00001     F770W   FULL    2024-06-01  the newer F770W flat is chosen
jw...001_00002     F770W   SUB256  2024-06-01  cut from the FULL one: same cal
jw...002_00001     F1130W  SUB256  2023-01-10  the older F1130W flat is chosen
=================  ======  ======  ==========  ===============================

Exposure times are in EFFEXPTM (primary, ``meta.exposure.exposure_time``,
what the official resample weights by) and XPOSURE (SCI,
``meta.exposure.effective_exposure_time``), as in MAST files.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from stdatamodels.jwst import datamodels

from mirical import __version__
from mirical.demo import simulate as sim
from mirical.errors import MiricalError

from conftest import REPO, run_official, run_snakemake
from mast_like import read_plain, write_mast_rate

SUB256 = (413, 51, 256, 256)  # SUBSTRT1, SUBSTRT2, SUBSIZE1, SUBSIZE2
OLD, NEW = "2022-05-01T00:00:00", "2024-01-01T00:00:00"
NEW_FLAT_FACTOR = 1.05  # the newer flats differ, so the applied one can be recognised
EXTENSIONS = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "AREA")
STEPS_CAL = ("background", "assign_wcs", "flat_field", "photom")
REF_KEYWORDS = {"distortion": "R_DISTOR", "filteroffset": "R_FILOFF", "flat": "R_FLAT",
                "photom": "R_PHOTOM", "area": "R_AREA"}


@dataclass
class Input:
    """One simulated exposure of the mixed folder."""

    name: str
    filter: str
    subarray: str
    date: str
    flat: str  # file name of the flat it must be calibrated with


INPUTS = [
    Input("jw01234001001_02101_00001_mirimage_rate.fits", "F770W", "FULL", "2024-06-01",
          "jwst_miri_flat_f770w_2024.fits"),
    Input("jw01234001001_02101_00002_mirimage_rate.fits", "F770W", "SUB256", "2024-06-01",
          "jwst_miri_flat_f770w_2024.fits"),
    Input("jw01234002001_02101_00001_mirimage_rate.fits", "F1130W", "SUB256", "2023-01-10",
          "jwst_miri_flat_f1130w_2022.fits"),
]
FULL_PARENT, SUB_CUT = INPUTS[0].name, INPUTS[1].name


def settings_for(filter_name: str, subarray: str, date: str) -> sim.DemoSettings:
    return sim.DemoSettings(filter=filter_name, subarray=subarray, date_obs=f"{date}T04:10:00.000",
                            n_dithers=1, n_sources=6, seed=7)


# ------------------------------------------------------------------ the inputs

def cut_subarray(arrays: dict, primary: fits.Header, sci: fits.Header, frame=SUB256):
    """The ``frame`` (SUBSTRT1/2, SUBSIZE1/2) of a full-frame exposure, keywords updated."""
    xs, ys, nx, ny = frame
    arrays = {k: v[ys - 1:ys - 1 + ny, xs - 1:xs - 1 + nx].copy() for k, v in arrays.items()}
    primary, sci = primary.copy(), sci.copy()
    primary["SUBARRAY"], primary["APERNAME"] = "SUB256", "MIRIM_SUB256"
    primary["SUBSTRT1"], primary["SUBSTRT2"], primary["SUBSIZE1"], primary["SUBSIZE2"] = frame
    for key, start in (("CRPIX1", xs), ("XREF_SCI", xs), ("CRPIX2", ys), ("YREF_SCI", ys)):
        sci[key] -= start - 1
    return arrays, primary, sci


def write_reference_folder(folder: Path) -> None:
    """DISTORTION, FILTEROFFSET, two flats per filter (USEAFTER 2022-05-01 / 2024-01-01), PHOTOM, AREA."""
    from mirical.references.distortion import write_distortion_reffile, write_filteroffset_reffile

    folder.mkdir(parents=True)
    write_distortion_reffile(folder / "jwst_miri_distortion_0001.asdf")
    write_filteroffset_reffile(folder / "jwst_miri_filteroffset_0001.asdf")
    for i, filter_name in enumerate(("F770W", "F1130W")):
        flat, err, dq = sim.flat_pattern(np.random.default_rng([11, i]))
        sim.write_flat(str(folder / f"jwst_miri_flat_{filter_name.lower()}_2022.fits"), flat, err, dq,
                       filter_name, useafter=OLD)
        sim.write_flat(str(folder / f"jwst_miri_flat_{filter_name.lower()}_2024.fits"),
                       (flat * NEW_FLAT_FACTOR).astype(np.float32), err, dq, filter_name, useafter=NEW)
    sim.write_photom(str(folder / "jwst_miri_photom_0001.fits"))
    area, nominal = sim.pixel_area_map(settings_for("F770W", "FULL", "2024-06-01"))
    sim.write_area(str(folder / "jwst_miri_area_0001.fits"), area, nominal)


def simulate_plain(path: Path, settings: sim.DemoSettings, refs: Path) -> None:
    """One exposure by mirical's simulator (metadata in FITS keywords only)."""
    with fits.open(refs / "jwst_miri_area_0001.fits") as hdul:
        area, pixar_sr = hdul["SCI"].data.astype(np.float64), float(hdul[0].header["PIXAR_SR"])
    with fits.open(refs / f"jwst_miri_flat_{settings.filter.lower()}_2022.fits") as hdul:
        flat = hdul["SCI"].data.astype(np.float64)
    sim.write_exposure_file(str(path), settings, 0, sim.make_truth(settings), {}, area, pixar_sr, flat)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The reference folder ``reference/`` and the MAST-like science folder ``mast/``."""
    root = tmp_path_factory.mktemp("real_inputs")
    refs = root / "reference"
    write_reference_folder(refs)
    plain, mast = root / "plain", root / "mast"
    plain.mkdir()
    mast.mkdir()
    for item in INPUTS:
        if item.name == SUB_CUT:
            continue
        simulate_plain(plain / item.name, settings_for(item.filter, item.subarray, item.date), refs)
        write_mast_rate(mast / item.name, *read_plain(plain / item.name))
    cut = cut_subarray(*read_plain(plain / FULL_PARENT))
    write_mast_rate(mast / SUB_CUT, *cut)
    return root


def config_for(root: Path, science: str, **extra) -> Path:
    refs = str(root / "reference")
    config = {"name": "real", "output_dir": "out", "science": [science], "background": [],
              "reference_files": {t: refs for t in REF_KEYWORDS}, "mosaic": {"skip": True}, **extra}
    path = root / f"config_{Path(science).parent.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class Run:
    inputs: Path
    out: Path
    product: dict[str, str]  # input file name -> product name


@pytest.fixture(scope="module")
def real_run(inputs, tmp_path_factory) -> Run:
    """All three exposures calibrated (cal + i2d) in ONE snakemake call."""
    from mirical.formats.association import products_from_lists

    workdir = tmp_path_factory.mktemp("real_run")
    science = sorted(str(p) for p in (inputs / "mast").glob("*_rate.fits"))
    # The products' cal, i2d and refs.json and the association (not the plots and summaries).
    targets = ["out/real_lvl2_asn.json"] + [f"out/{kind}" for p in products_from_lists(science, [], "real")
                                            for kind in (f"{p.name}_cal.fits", f"{p.name}_i2d.fits",
                                                         f"intermediate/{p.name}_refs.json")]
    run_snakemake(workdir, *targets, "--configfile", str(config_for(inputs, str(inputs / "mast" / "*_rate.fits"))))
    out = workdir / "out"
    product = {}
    for refs_json in (out / "intermediate").glob("*_refs.json"):
        record = json.loads(refs_json.read_text())
        product[record["science"]] = record["product"]
    assert sorted(product) == sorted(i.name for i in INPUTS)
    return Run(inputs, out, product)


def open_strict(path):
    """``datamodels.open`` + ``validate`` with every warning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = datamodels.open(path)
        model.validate()
    return model


# ------------------------------------------------------------------ the inputs themselves

def test_inputs_are_written_like_mast(inputs):
    """Metadata in FITS keywords AND in the ASDF tree, arrays referenced as ``fits:EXT,1``; mirical reads them."""
    from mirical.formats.asdf_extension import read_tree
    from mirical.formats.io import read_exposure

    for item in INPUTS:
        path = inputs / "mast" / item.name
        with fits.open(path) as hdul:
            assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "ASDF"]
            primary, sci = hdul[0].header, hdul["SCI"].header
            tree = read_tree(hdul["ASDF"])
        assert len(tree["_fits_hash"]) == 64
        assert tree["data"]["source"] == "fits:SCI,1" and tree["dq"]["source"] == "fits:DQ,1"
        meta = tree["meta"]
        assert primary["FILTER"] == meta["instrument"]["filter"] == item.filter
        assert primary["SUBARRAY"] == meta["subarray"]["name"] == item.subarray
        assert primary["DATE-OBS"] == meta["observation"]["date"] == item.date
        assert primary["EXP_TYPE"] == meta["exposure"]["type"] == "MIR_IMAGE"
        assert sci["V2_REF"] == meta["wcsinfo"]["v2_ref"]
        assert sci["VA_SCALE"] == meta["velocity_aberration"]["scale_factor"]
        assert sci["XPOSURE"] == meta["exposure"]["effective_exposure_time"]
        assert primary["EFFEXPTM"] == meta["exposure"]["exposure_time"]
        exposure = read_exposure(path)
        with datamodels.open(path) as model:
            for name, attr in (("SCI", "data"), ("ERR", "err"), ("DQ", "dq"), ("VAR_RNOISE", "var_rnoise")):
                assert np.array_equal(exposure.arrays[name], getattr(model, attr), equal_nan=True)
        assert exposure.shape == (sci["NAXIS2"], sci["NAXIS1"])


@pytest.mark.parametrize("overrides, message", [
    ({"instrument.name": "NIRCAM", "instrument.detector": "NRCA1", "exposure.type": "NRC_IMAGE"},
     "INSTRUME is NIRCAM, not MIRI"),
    ({"exposure.type": "MIR_LRS-FIXEDSLIT"}, "EXP_TYPE is MIR_LRS-FIXEDSLIT, not MIR_IMAGE"),
])
def test_refuses_other_instruments_and_modes(inputs, tmp_path, overrides, message):
    from mirical.formats.io import read_exposure

    path = tmp_path / "other_rate.fits"
    write_mast_rate(path, *read_plain(inputs / "plain" / INPUTS[2].name), **overrides)
    with pytest.raises(MiricalError, match=message) as info:
        read_exposure(path)
    assert str(path) in str(info.value)


def test_exposure_time_from_xposure_when_effexptm_is_missing(inputs):
    """A file with only XPOSURE (effective_exposure_time) still resamples: mirical falls back to it."""
    from mirical.drizzle.i2d import exposure_time
    from mirical.formats.io import read_exposure

    exposure = read_exposure(inputs / "mast" / INPUTS[2].name)
    assert exposure_time(exposure) == exposure.primary["EFFEXPTM"]
    del exposure.primary["EFFEXPTM"]
    assert exposure_time(exposure) == exposure.sci_header["XPOSURE"]
    del exposure.sci_header["XPOSURE"]
    with pytest.raises(MiricalError, match="EFFEXPTM .or XPOSURE. is missing"):
        exposure_time(exposure)


@pytest.mark.workflow
def test_workflow_refuses_nircam_exposure(inputs, tmp_path):
    """The run stops at the first step with one clear line naming the file."""
    folder = inputs / "nircam"
    folder.mkdir()
    write_mast_rate(folder / "jw01234004001_02101_00001_nrca1_rate.fits",
                    *read_plain(inputs / "plain" / INPUTS[2].name),
                    **{"instrument.name": "NIRCAM", "instrument.detector": "NRCA1", "exposure.type": "NRC_IMAGE"})
    result = run_snakemake(tmp_path, "--configfile", str(config_for(inputs, str(folder / "*_rate.fits"))),
                           check=False)
    assert result.returncode != 0
    assert ("jw01234004001_02101_00001_nrca1_rate.fits: INSTRUME is NIRCAM, not MIRI: "
            "mirical calibrates MIRI imager exposures only") in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "out").glob("*_cal.fits"))


# ------------------------------------------------------------------ outputs as official products

@pytest.mark.workflow
def test_outputs_open_and_validate_as_imagemodel(real_run):
    """cal and i2d: ImageModel, validate() without a single warning, metadata kept."""
    for item in INPUTS:
        product = real_run.product[item.name]
        for kind in ("cal", "i2d"):
            with open_strict(real_run.out / f"{product}_{kind}.fits") as model:
                assert type(model) is datamodels.ImageModel
                meta = model.meta
                assert (meta.instrument.name, meta.instrument.detector) == ("MIRI", "MIRIMAGE")
                assert meta.instrument.filter == item.filter
                assert meta.exposure.type == "MIR_IMAGE" and meta.exposure.readpatt == "FASTR1"
                assert meta.observation.date == item.date
                assert meta.subarray.name == item.subarray
                assert meta.bunit_data == "MJy/sr" and meta.coordinates.reference_frame == "ICRS"
                assert meta.cal_step.flat_field == meta.cal_step.photom == "COMPLETE"
                assert meta.cal_step.assign_wcs == "COMPLETE" and meta.cal_step.bkg_subtract == "SKIPPED"
                header = fits.getheader(real_run.out / f"{product}_{kind}.fits", "SCI")
                # the rate file's linear WCS is gone from the tree: the header's WCS is the one seen
                assert meta.wcsinfo.cdelt1 == header.get("CDELT1") and meta.wcsinfo.pc1_1 == header.get("PC1_1")
                assert meta.wcsinfo.crpix1 == header["CRPIX1"] and meta.wcsinfo.crval2 == header["CRVAL2"]
                assert meta.photometry.pixelarea_steradians > 0
                rate_sci = fits.getheader(real_run.inputs / "mast" / item.name, "SCI")
                if kind == "cal":
                    assert meta.wcsinfo.ctype1 == "RA---TAN-SIP" and meta.wcsinfo.cdelt1 is None
                    assert meta.wcsinfo.v2_ref == rate_sci["V2_REF"] and meta.wcsinfo.roll_ref == rate_sci["ROLL_REF"]
                    assert np.isfinite(model.data).mean() > 0.95
                    assert model.area.shape == model.data.shape and model.var_flat.shape == model.data.shape
                else:
                    assert meta.cal_step.resample == "COMPLETE" and meta.resample.pixfrac == 1.0
                    assert model.wht.shape == model.data.shape and model.con.shape[-2:] == model.data.shape
                    # the exposure's pointing is gone from header and tree (as in an official i2d)
                    assert meta.wcsinfo.v2_ref is None and meta.wcsinfo.ra_ref is None and meta.wcsinfo.vparity is None
                    assert meta.exposure.effective_exposure_time == rate_sci["XPOSURE"]
                    rate_primary = fits.getheader(real_run.inputs / "mast" / item.name)
                    assert meta.exposure.exposure_time == rate_primary["EFFEXPTM"]
                    assert meta.resample.pointings == 1 and meta.resample.pixel_scale_ratio == 1.0
                    assert meta.resample.weight_type == "ivm"


def _grid(shape, step=37):
    y, x = np.mgrid[0:shape[0]:step, 0:shape[1]:step].astype(float)
    return x.ravel(), y.ravel()


@pytest.mark.workflow
def test_meta_wcs_agrees_with_mirical(real_run):
    """stdatamodels' meta.wcs = mirical's gwcs = a gwcs built from the rate file's pointing; SIP within 0.02 px."""
    from astropy.wcs import WCS

    from mirical.drizzle.i2d import exposure_wcs
    from mirical.steps import assign_wcs

    refs = real_run.inputs / "reference"
    distortion = assign_wcs.load_distortion_model(str(refs / "jwst_miri_distortion_0001.asdf"))
    for item in INPUTS:
        product = real_run.product[item.name]
        rate_sci = fits.getheader(real_run.inputs / "mast" / item.name, "SCI")
        col, row = assign_wcs.load_filter_offset(str(refs / "jwst_miri_filteroffset_0001.asdf"), item.filter)
        xs, ys, nx, ny = SUB256 if item.subarray == "SUB256" else (1, 1, 1032, 1024)
        independent = assign_wcs.build_wcs(distortion, col, row, {k: rate_sci[k] for k in (
            "V2_REF", "V3_REF", "ROLL_REF", "RA_REF", "DEC_REF", "VA_SCALE")}, substrt=(xs, ys), subsize=(nx, ny))
        for kind in ("cal", "i2d"):
            path = real_run.out / f"{product}_{kind}.fits"
            with fits.open(path) as hdul:
                ours = exposure_wcs(str(path), hdul["ASDF"])
                header = hdul["SCI"].header
            with open_strict(path) as model:
                x, y = _grid(model.data.shape)
                ra, dec = model.meta.wcs(x, y)
                ra_ours, dec_ours = ours(x, y)
                np.testing.assert_array_equal(ra, ra_ours)
                np.testing.assert_array_equal(dec, dec_ours)
                xb, yb = model.meta.wcs.invert(ra, dec)
                if kind == "cal":  # the official inverse: the DISTORTION file's own fit, up to 0.11 px off
                    np.testing.assert_allclose(np.array([xb, yb]), np.array(independent.invert(ra, dec)),
                                               rtol=0, atol=1e-9)
                    assert np.nanmax(np.hypot(xb - x, yb - y)) < 0.12
                else:  # the i2d's TAN grid inverts exactly
                    assert np.nanmax(np.hypot(xb - x, yb - y)) < 0.01
            if kind == "cal":
                ra_ind, dec_ind = independent(x, y)
                assert np.nanmax(np.abs(ra - ra_ind)) < 1e-10 and np.nanmax(np.abs(dec - dec_ind)) < 1e-10
            fx, fy = WCS(header).world_to_pixel_values(ra, dec)
            assert np.nanmax(np.hypot(fx - x, fy - y)) < 0.02, f"{path.name}: FITS WCS off the gwcs"


# ------------------------------------------------------------------ several filters and dates

@pytest.mark.workflow
def test_each_product_used_its_references(real_run):
    """Flat by FILTER and USEAFTER (R_FLAT, refs.json, HISTORY and the applied values); photom row by FILTER."""
    refs = real_run.inputs / "reference"
    common = {"distortion": "jwst_miri_distortion_0001.asdf", "filteroffset": "jwst_miri_filteroffset_0001.asdf",
              "photom": "jwst_miri_photom_0001.fits", "area": "jwst_miri_area_0001.fits"}
    for item in INPUTS:
        product = real_run.product[item.name]
        expected = dict(common, flat=item.flat)
        record = json.loads((real_run.out / "intermediate" / f"{product}_refs.json").read_text())
        assert record["errors"] == {}
        assert {t: r["name"] for t, r in record["references"].items()} == expected
        assert record["references"]["flat"]["useafter"].startswith(NEW[:10] if item.date > "2024" else OLD[:10])
        with fits.open(real_run.out / f"{product}_cal.fits") as hdul:
            primary, c = hdul[0].header, hdul["SCI"].header["PHOTMJSR"]
            cal = {n: hdul[n].data for n in ("SCI", "DQ")}
        assert {t: primary[k] for t, k in REF_KEYWORDS.items()} == expected
        assert any(line == f"mirical {__version__} flat_field ref={item.flat}" for line in primary["HISTORY"])
        # The applied flat: cal = rate / flat * PHOTMJSR (no background), so rate * c / cal is the flat.
        rate = fits.getdata(real_run.inputs / "mast" / item.name, "SCI").astype(np.float64)
        settings = settings_for(item.filter, item.subarray, item.date)
        assert c == pytest.approx(sim.conversion_factor(settings, primary["EXPMID"]), rel=1e-6)
        xs, ys, nx, ny = SUB256 if item.subarray == "SUB256" else (1, 1, 1032, 1024)
        flat = fits.getdata(refs / item.flat, "SCI")[ys - 1:ys - 1 + ny, xs - 1:xs - 1 + nx]
        good = (cal["DQ"] & 1) == 0
        assert good.mean() > 0.95
        np.testing.assert_allclose(rate[good] * c / cal["SCI"][good], flat[good], rtol=2e-5)


# ------------------------------------------------------------------ subarray = full frame region

@pytest.mark.workflow
def test_subarray_equals_full_frame_region(real_run):
    """SUB256 cut from a FULL exposure: the same cal arrays (bit for bit) and the same sky positions."""
    xs, ys, nx, ny = SUB256
    region = (slice(ys - 1, ys - 1 + ny), slice(xs - 1, xs - 1 + nx))
    full = real_run.out / f"{real_run.product[FULL_PARENT]}_cal.fits"
    sub = real_run.out / f"{real_run.product[SUB_CUT]}_cal.fits"
    with fits.open(full) as f, fits.open(sub) as s:
        assert s[0].header["SUBARRAY"] == "SUB256" and f[0].header["SUBARRAY"] == "FULL"
        assert s[0].header["R_FLAT"] == f[0].header["R_FLAT"]
        for key in ("PHOTMJSR", "PIXAR_SR"):
            assert s["SCI"].header[key] == f["SCI"].header[key]
        for name in EXTENSIONS:
            a, b = f[name].data[region], s[name].data
            assert a.dtype == b.dtype, name
            assert np.array_equal(a, b, equal_nan=True), f"{name} differs over the SUB256 region"
        assert np.isfinite(s["SCI"].data).mean() > 0.95
    with open_strict(full) as mf, open_strict(sub) as ms:
        x, y = _grid((ny, nx), step=15)
        ra_s, dec_s = ms.meta.wcs(x, y)
        ra_f, dec_f = mf.meta.wcs(x + xs - 1, y + ys - 1)
        assert np.max(np.abs(ra_s - ra_f)) < 1e-12 and np.max(np.abs(dec_s - dec_f)) < 1e-12
        # the subarray's bounding box is its own array
        assert ms.meta.wcs.bounding_box.bounding_box(order="F") == ((-0.5, nx - 0.5), (-0.5, ny - 0.5))


# ------------------------------------------------------------------ provenance

@pytest.mark.workflow
def test_provenance_in_headers(real_run):
    """MIRICALV, one HISTORY record per step with its parameters, every reference file by name."""
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    for item in INPUTS:
        product = real_run.product[item.name]
        for kind, steps in (("cal", STEPS_CAL), ("i2d", STEPS_CAL + ("resample",))):
            path = real_run.out / f"{product}_{kind}.fits"
            primary = fits.getheader(path, 0)
            assert primary["MIRICALV"] == __version__
            history = [str(line) for line in primary["HISTORY"]]
            assert all(len(line) <= 72 for line in history)  # one card each: nothing cut mid-name
            for step in steps:
                prefix = f"mirical {__version__} {step}"
                lines = [line[len(prefix):] for line in history if line.startswith(prefix + " ")]
                params = dict(tok.split("=", 1) for line in lines for tok in line.split() if not tok.startswith("ref="))
                # save_combined_background only asks for another file (its own job), the source masks' keys are
                # their own job's and, with dedicated backgrounds, the science source's keys are no parameters
                not_params = {"save_combined_background", "source", "science_extra", "science_statistic"}
                expected = {k: str(v) for k, v in config["steps"][step].items()
                            if k not in not_params and not k.startswith("mask_")}
                assert params == expected, f"{path.name}: {step} parameters"
                refs = [tok[4:] for line in lines for tok in line.split() if tok.startswith("ref=")]
                wanted = {"assign_wcs": ("R_DISTOR", "R_FILOFF"), "flat_field": ("R_FLAT",),
                          "photom": ("R_PHOTOM", "R_AREA")}.get(step, ())
                assert refs == [primary[k] for k in wanted], f"{path.name}: {step} references"
            with datamodels.open(path) as model:  # stdatamodels sees the same records
                assert model.meta.ref_file.flat.name == item.flat
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "The history attribute will soon be deprecated")
                    entries = [entry["description"] for entry in model.history]
                assert entries == history


# ------------------------------------------------------------------ the official pipeline accepts them

@pytest.mark.workflow
def test_association_loads_with_jwst(real_run):
    """jwst's own association loader (in the official venv) reads mirical's image2 association."""
    code = ("import json, sys; from jwst.associations import load_asn; asn = load_asn(open(sys.argv[1])); "
            "print(json.dumps([asn['asn_type'], [m['expname'] for p in asn['products'] for m in p['members']]]))")
    result = run_official("-c", code, str(real_run.out / "real_lvl2_asn.json"))
    asn_type, members = json.loads(result.stdout.strip().splitlines()[-1])
    assert asn_type == "image2"
    assert sorted(m.split("/")[-1] for m in members) == sorted(i.name for i in INPUTS)


@pytest.mark.workflow
def test_official_resample_accepts_cal(real_run, tmp_path):
    """jwst's ResampleStep (the calwebb_image3 resample, official venv, offline) runs on a mirical cal file."""
    product = real_run.product[INPUTS[2].name]
    cal = tmp_path / f"{product}_cal.fits"
    shutil.copy(real_run.out / cal.name, cal)
    run_official(str(REPO / "tests" / "official.py"), "mosaic", str(tmp_path), "official", str(cal))
    with datamodels.open(tmp_path / "official_i2d.fits") as result, \
            open_strict(real_run.out / f"{product}_i2d.fits") as ours:
        assert result.meta.cal_step.resample == "COMPLETE"
        assert np.isfinite(result.data).mean() > 0.95
        flux = [np.nansum(m.data) * m.meta.photometry.pixelarea_steradians for m in (result, ours)]
        assert flux[0] == pytest.approx(flux[1], rel=1e-4)
        # the same output grid, and the same pixels as mirical's own i2d
        assert result.data.shape == ours.data.shape
        x, y = _grid(ours.data.shape, step=16)
        np.testing.assert_allclose(result.meta.wcs(x, y), ours.meta.wcs(x, y), rtol=0, atol=1e-9)
        both = np.isfinite(result.data) & np.isfinite(ours.data)
        assert both.sum() == np.isfinite(ours.data).sum()
        diff = np.abs(result.data[both] - ours.data[both]) / np.median(np.abs(ours.data[both]))
        assert np.percentile(diff, 99.9) < 1e-4
