"""Tests for mirical.references.distortion against published values and pysiaf."""

from __future__ import annotations

import asdf
import numpy as np
import pytest

from mirical.references import distortion

IMAGER_FILTERS = [
    "F560W", "F770W", "F1000W", "F1130W", "F1280W", "F1500W", "F1800W", "F2100W",
    "F2550W", "F2550WR", "F1065C", "F1140C", "F1550C", "F2300C", "FND",
]


@pytest.fixture(scope="module")
def model():
    return distortion.distortion_model()


@pytest.fixture(scope="module")
def offsets():
    return {entry["filter"]: entry for entry in distortion.filter_offsets()}


@pytest.fixture(scope="module")
def grid():
    """20 x 20 points over the light-sensitive detector, 0-based detector pixels."""
    return np.meshgrid(np.linspace(4, 1027, 20), np.linspace(0, 1023, 20))


def apply(model, offsets, filt, x, y):
    off = offsets[filt]
    return model(x + off["column_offset"], y + off["row_offset"])


@pytest.mark.parametrize(
    "filt, v2, v3",
    [
        # miricoord makecrds_ima_flt9.py test values (first point = imager reference pixel)
        ("F770W", -453.34829012, -373.66794930),
        ("F1800W", -453.39832496, -373.74551164),
    ],
)
def test_published_check_value(model, offsets, filt, v2, v3):
    got = apply(model, offsets, filt, 692.5, 511.5)
    np.testing.assert_allclose(got, (v2, v3), atol=0.01)


def test_matches_pysiaf_mirim_full(model, offsets, grid):
    import pysiaf
    aperture = pysiaf.Siaf("MIRI")["MIRIM_FULL"]
    x, y = grid
    # SIAF is built from the CDP without filter offset, i.e. F770W (offset 0, 0)
    assert offsets["F770W"]["column_offset"] == 0.0 == offsets["F770W"]["row_offset"]
    v2, v3 = apply(model, offsets, "F770W", x, y)
    s2, s3 = aperture.sci_to_tel(x + 1, y + 1)
    assert np.abs(v2 - s2).max() < 0.001
    assert np.abs(v3 - s3).max() < 0.001


def test_inverse_round_trip(model, grid):
    x, y = grid
    xi, yi = model.inverse(*model(x, y))
    # The CDP's A/B inverse polynomials are a fit: worst 0.109 px (y) at the bottom-left
    # corner; at the imager reference pixel they are good to 0.001 px.
    assert np.abs(xi - x).max() < 0.05
    assert np.abs(yi - y).max() < 0.12
    xr, yr = model.inverse(*model(692.5, 511.5))
    np.testing.assert_allclose((xr, yr), (692.5, 511.5), atol=0.001)


def test_inverse_matches_pysiaf(model, grid):
    """The round-trip residual is the CDP's own: pysiaf's inverse gives the same pixels."""
    import pysiaf
    aperture = pysiaf.Siaf("MIRI")["MIRIM_FULL"]
    v2, v3 = model(*grid)
    xi, yi = model.inverse(v2, v3)
    sx, sy = aperture.tel_to_sci(v2, v3)
    np.testing.assert_allclose(xi, sx - 1, atol=0.002)
    np.testing.assert_allclose(yi, sy - 1, atol=0.002)


def test_truncated_cdp_coefficients_are_zero():
    mats = distortion.load_cdp()["matrices"]
    for name in ("A", "B", "AI", "BI"):
        m = np.asarray(mats[name])
        r, c = np.indices(m.shape)
        assert np.all(m[r + c > m.shape[0] - 1] == 0.0)


@pytest.mark.parametrize("filt", IMAGER_FILTERS)
def test_filter_lookup(offsets, filt):
    cdp = {row["filter"]: row for row in distortion.load_cdp()["boresight_offsets"]}
    entry = offsets[filt]
    assert entry["pupil"] == "N/A"
    assert entry["column_offset"] == -cdp[filt]["col_offset"]
    assert entry["row_offset"] == -cdp[filt]["row_offset"]


def test_filter_offset_values(offsets):
    assert set(offsets) == set(IMAGER_FILTERS)
    assert (offsets["F560W"]["column_offset"], offsets["F560W"]["row_offset"]) == (-0.08, -0.06)
    assert (offsets["F1800W"]["column_offset"], offsets["F1800W"]["row_offset"]) == (0.39, -0.73)
    assert (offsets["F2300C"]["column_offset"], offsets["F2300C"]["row_offset"]) == (1.35, -2.11)


def test_distortion_reffile(tmp_path, model, grid):
    path1, path2 = tmp_path / "d1.asdf", tmp_path / "d2.asdf"
    distortion.write_distortion_reffile(path1)
    distortion.write_distortion_reffile(path2)
    assert path1.read_bytes() == path2.read_bytes()
    x, y = grid
    with asdf.open(path1) as af:
        meta = af["meta"]
        assert meta["reftype"] == "DISTORTION"
        assert meta["instrument"]["name"] == "MIRI"
        assert meta["instrument"]["detector"] == "MIRIMAGE"
        assert meta["exposure"]["type"] == "MIR_IMAGE"
        assert "MIR_IMAGE|" in meta["exposure"]["p_exptype"]
        assert meta["useafter"] == "2022-05-01T00:00:00"
        assert meta["input_units"] == "pix" and meta["output_units"] == "arcsec"
        assert meta["telescope"] == "JWST"
        read = af["model"]
        np.testing.assert_array_equal(read(x, y), model(x, y))
        v2, v3 = model(x, y)
        np.testing.assert_array_equal(read.inverse(v2, v3), model.inverse(v2, v3))


def test_filteroffset_reffile(tmp_path, offsets):
    path1, path2 = tmp_path / "f1.asdf", tmp_path / "f2.asdf"
    distortion.write_filteroffset_reffile(path1, useafter="2023-01-01T00:00:00")
    distortion.write_filteroffset_reffile(path2, useafter="2023-01-01T00:00:00")
    assert path1.read_bytes() == path2.read_bytes()
    with asdf.open(path1) as af:
        meta = af["meta"]
        assert meta["reftype"] == "FILTEROFFSET"
        assert meta["instrument"]["name"] == "MIRI"
        assert meta["instrument"]["detector"] == "MIRIMAGE"
        assert meta["useafter"] == "2023-01-01T00:00:00"
        assert {e["filter"]: e for e in af["filters"]} == offsets
