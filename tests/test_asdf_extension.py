"""Tests of the ASDF FITS extension (mirical.formats.asdf_extension) and stdatamodels interop."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from asdf.tagged import TaggedDict
from astropy.io import fits

from mirical.formats import asdf_extension
from mirical.references import distortion
from mirical.steps import assign_wcs

POINTING = {"V2_REF": -453.363, "V3_REF": -373.868, "ROLL_REF": 293.2,
            "RA_REF": 80.5, "DEC_REF": -69.5, "VA_SCALE": 1.0000285}
SHAPE = (1024, 1032)
IMAGES = (("SCI", np.float32), ("ERR", np.float32), ("DQ", np.uint32), ("VAR_POISSON", np.float32),
          ("VAR_RNOISE", np.float32), ("VAR_FLAT", np.float32), ("AREA", np.float32))


def fits_ref(name: str) -> TaggedDict:
    """A stdatamodels-style reference to a FITS image extension."""
    return TaggedDict({"source": f"fits:{name},1", "datatype": "float32", "byteorder": "big",
                       "shape": list(SHAPE)}, "tag:stsci.edu:asdf/core/ndarray-1.1.0")


@pytest.fixture(scope="module")
def wcs():
    return assign_wcs.build_wcs(distortion.distortion_model(), -0.14, -0.62, POINTING)


def mast_like_tree(wcs=None) -> dict:
    """What the ASDF extension of a MAST rate file holds: hash, array links, full meta."""
    tree = {
        "_fits_hash": "0" * 64,
        "data": fits_ref("SCI"),
        "err": fits_ref("ERR"),
        "zeroframe": fits_ref("ZEROFRAME"),  # an extension our output will not have
        "meta": {
            "instrument": {"name": "MIRI", "detector": "MIRIMAGE", "filter": "F560W"},
            "wcsinfo": {"crpix1": 693.5, "crpix2": 512.5, "cdelt1": 3.05e-5, "cdelt2": 3.05e-5,
                        "pc1_1": -0.5, "pc1_2": 0.8, "a_order": 2, "a_0_2": 1e-6, "v2_ref": -453.363},
            "observation": {"date": "2024-01-01"},
        },
        "extra_fits": {"PRIMARY": {"header": [["XTRA", 1, "a keyword"]]}},
    }
    if wcs is not None:
        tree["meta"]["wcs"] = wcs
    return tree


def write_exposure(path, asdf_hdu, filter_name="F1000W", sip=None):
    """A cal-like FITS file as the pipeline writes it."""
    primary = fits.PrimaryHDU()
    for key, value in {"DATE": "2026-01-01T00:00:00", "TELESCOP": "JWST", "INSTRUME": "MIRI",
                       "DETECTOR": "MIRIMAGE", "EXP_TYPE": "MIR_IMAGE", "FILTER": filter_name,
                       "SUBARRAY": "FULL", "SUBSTRT1": 1, "SUBSTRT2": 1, "SUBSIZE1": SHAPE[1],
                       "SUBSIZE2": SHAPE[0], "DATAMODL": "ImageModel", "S_WCS": "COMPLETE"}.items():
        primary.header[key] = value
    hdus = [primary]
    for name, dtype in IMAGES:
        hdu = fits.ImageHDU(np.full(SHAPE, 1, dtype), name=name)
        hdu.header["EXTVER"] = 1
        hdus.append(hdu)
    sci = hdus[1].header
    sci["BUNIT"] = "MJy/sr"
    for key in ("V2_REF", "V3_REF", "ROLL_REF", "RA_REF", "DEC_REF", "VA_SCALE"):
        sci[key] = POINTING[key]
    if sip is not None:
        assign_wcs.replace_wcs_keywords(sci, sip)
    hdus.append(asdf_hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)


# --- layout and serialization ---------------------------------------------------------

def test_layout(wcs):
    hdu = asdf_extension.with_wcs(None, wcs)
    assert isinstance(hdu, fits.BinTableHDU) and hdu.name == "ASDF"
    assert hdu.columns.names == ["ASDF_METADATA"]
    assert hdu.columns[0].format == f"{len(asdf_extension.hdu_bytes(hdu))}B"
    assert len(hdu.data) == 1
    assert asdf_extension.hdu_bytes(hdu).startswith(b"#ASDF 1.0.0\n")


def test_import_is_cheap():
    code = ("import sys, mirical.formats.asdf_extension; "
            "print(sorted(m for m in ('asdf', 'gwcs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_round_trip_keeps_arrays_and_references(tmp_path):
    tree = {"meta": {"a": 1, "b": [1.5, "x"]}, "table": np.arange(12.0).reshape(3, 4),
            "data": fits_ref("SCI")}
    hdu = asdf_extension.make_hdu(tree)
    back = asdf_extension.read_tree(hdu)
    assert set(back) == {"meta", "table", "data"}
    assert back["meta"] == {"a": 1, "b": [1.5, "x"]}
    assert isinstance(back["table"], np.ndarray) and np.array_equal(back["table"], tree["table"])
    assert dict(back["data"]) == dict(tree["data"]) and back["data"]._tag == tree["data"]._tag
    assert asdf_extension.hdu_bytes(asdf_extension.make_hdu(back)) == asdf_extension.hdu_bytes(hdu)
    # through a file on disk as well
    path = tmp_path / "t.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path) as hdul:
        again = asdf_extension.read_tree(hdul["ASDF"])
    assert np.array_equal(again["table"], tree["table"])


def test_byte_reproducible_across_processes(wcs):
    here = asdf_extension.hdu_bytes(asdf_extension.with_wcs(None, wcs))
    code = ("import sys, hashlib; from mirical.formats import asdf_extension; from mirical.steps import assign_wcs; from mirical.references import distortion; "
            f"w = assign_wcs.build_wcs(distortion.distortion_model(), -0.14, -0.62, {POINTING!r}); "
            "sys.stdout.write(hashlib.sha256(asdf_extension.hdu_bytes("
            "asdf_extension.with_wcs(None, w))).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == hashlib.sha256(here).hexdigest()
    assert b"date" not in here.split(b"\n...\n")[0]  # no time stamp in the YAML


def test_one_write_gives_the_bytes_of_two(wcs):
    """asdf_bytes writes once what writing twice gives: the tree, then again with the extensions asdf listed
    the first time sorted by URI (asdf replaces those entries in place)."""
    import io

    import asdf
    from asdf.util import load_yaml

    def write(tree):
        buffer = io.BytesIO()
        asdf.AsdfFile(tree).write_to(buffer)
        return buffer.getvalue()

    tree = {"meta": {"wcs": wcs, "group_id": "g1"}, "table": np.arange(6.0), "history": {"entries": [{"description": "made"}]}}
    first = load_yaml(io.BytesIO(write(tree)))["history"]["extensions"]
    used = sorted(({"extension_class": e["extension_class"], "extension_uri": e.get("extension_uri")} for e in first),
                  key=lambda e: (str(e["extension_uri"]), e["extension_class"]))
    assert len(used) >= 3  # core, transform and gwcs extensions at least: the order is tested
    once = asdf_extension.asdf_bytes(tree)
    assert once == write({**tree, "history": {**tree["history"], "extensions": used}})
    listed = load_yaml(io.BytesIO(once))["history"]["extensions"]
    assert [e["extension_uri"] for e in listed] == [e["extension_uri"] for e in used]


def test_with_wcs_on_mast_tree(wcs):
    old = asdf_extension.make_hdu(mast_like_tree())
    tree = asdf_extension.read_tree(asdf_extension.with_wcs(old, wcs))
    assert "_fits_hash" not in tree and "data" not in tree and "zeroframe" not in tree
    assert tree["extra_fits"] == {"PRIMARY": {"header": [["XTRA", 1, "a keyword"]]}}
    meta = tree["meta"]
    assert meta["instrument"]["filter"] == "F560W" and meta["observation"] == {"date": "2024-01-01"}
    assert meta["wcsinfo"] == {"crpix1": 693.5, "crpix2": 512.5, "v2_ref": -453.363}
    assert meta["wcs"](692.5, 511.5) == wcs(692.5, 511.5)


def test_with_wcs_replaces_an_old_wcs(wcs):
    other = assign_wcs.build_wcs(distortion.distortion_model(), 0.0, 0.0, dict(POINTING, RA_REF=10.0))
    hdu = asdf_extension.with_wcs(asdf_extension.with_wcs(None, other), wcs)
    assert asdf_extension.read_tree(hdu)["meta"]["wcs"](100.0, 200.0) == wcs(100.0, 200.0)


def test_with_wcs_sets_and_drops_meta_values(wcs):
    hdu = asdf_extension.with_wcs(None, wcs, group_id="exposure0001")
    assert asdf_extension.read_tree(hdu)["meta"]["group_id"] == "exposure0001"
    meta = asdf_extension.read_tree(asdf_extension.with_wcs(hdu, wcs, drop_meta=("group_id",)))["meta"]
    assert set(meta) == {"wcs"}


# --- stdatamodels interop (test-only dependency) -----------------------------------------

@pytest.fixture(scope="module")
def sip(wcs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Failed to achieve requested SIP")
        return assign_wcs.sip_header(wcs, SHAPE, crpix=(693.5, 512.5))


def test_stdatamodels_opens_our_file(tmp_path, wcs, sip):
    from stdatamodels.jwst import datamodels
    path = tmp_path / "ours_cal.fits"
    write_exposure(path, asdf_extension.with_wcs(asdf_extension.make_hdu(mast_like_tree()), wcs), sip=sip)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = datamodels.open(path)
        model.validate()
    with model:
        assert type(model).__name__ == "ImageModel"
        for attr in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat", "area"):
            assert getattr(model, attr).shape == SHAPE
        assert model.meta.instrument.filter == "F1000W"  # FITS keyword wins over the tree
        assert model.meta.wcsinfo.cdelt1 is None  # stale tree value dropped by with_wcs
        assert model.meta.wcsinfo.ctype1 == "RA---TAN-SIP"
        assert model.meta.wcsinfo.a_0_2 == pytest.approx(sip["A_0_2"], rel=1e-12)
        y, x = np.mgrid[0:1024:64, 0:1032:64].astype(float)
        ra, dec = model.meta.wcs(x, y)
        ra0, dec0 = wcs(x, y)
        assert np.abs(ra - ra0).max() < 1e-9 and np.abs(dec - dec0).max() < 1e-9
        assert model.meta.wcs.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]


def test_stdatamodels_tree_precedence(tmp_path, wcs):
    """Why with_wcs cleans the tree: absent keywords let stale tree values through."""
    from stdatamodels.jwst import datamodels
    tree = mast_like_tree(wcs)
    del tree["_fits_hash"], tree["zeroframe"]
    path = tmp_path / "raw_tree.fits"
    write_exposure(path, asdf_extension.make_hdu(tree))
    with datamodels.open(path) as model:
        assert model.meta.instrument.filter == "F1000W"  # header present: header wins
        assert model.meta.wcsinfo.cdelt1 == 3.05e-5  # header absent: the tree value stays


def test_stdatamodels_needs_datamodl(tmp_path, wcs):
    from stdatamodels.jwst import datamodels
    path = tmp_path / "no_datamodl.fits"
    write_exposure(path, asdf_extension.with_wcs(None, wcs))
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["DATAMODL"]
    with pytest.warns(Warning, match="model_type not found"):
        datamodels.open(path).close()


def test_read_tree_of_stdatamodels_file(tmp_path, wcs):
    from stdatamodels.jwst import datamodels
    model = datamodels.ImageModel(SHAPE)
    model.meta.instrument.name = "MIRI"
    model.meta.wcs = wcs
    path = tmp_path / "by_stdatamodels.fits"
    model.save(path)
    with fits.open(path) as hdul:
        tree = asdf_extension.read_tree(hdul["ASDF"])
    assert tree["data"]["source"] == "fits:SCI,1"
    x, y = np.array([0.0, 500.0, 1031.0]), np.array([0.0, 700.0, 1023.0])
    assert np.array_equal(np.array(tree["meta"]["wcs"](x, y)), np.array(wcs(x, y)))
    assert tree["meta"]["instrument"]["name"] == "MIRI"
