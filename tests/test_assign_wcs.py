"""Tests of the MIRI imager gwcs (mirical.steps.assign_wcs) with real numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits
from astropy.modeling import models
from astropy.wcs import WCS as FitsWCS

from mirical.drizzle.grid import s_region
from mirical.errors import MiricalError
from mirical.formats import asdf_extension
from mirical.references import distortion
from mirical.steps import assign_wcs

# MIRIM_FULL reference point (SIAF) and a plausible attitude; VA_SCALE as in real headers.
POINTING = {"V2_REF": -453.363, "V3_REF": -373.868, "ROLL_REF": 293.2,
            "RA_REF": 80.5, "DEC_REF": -69.5, "VA_SCALE": 1.0000285}
PIXEL_SCALE = 0.11  # arcsec
FULL_SHAPE = (1024, 1032)


@pytest.fixture(scope="module")
def reffiles(tmp_path_factory):
    """DISTORTION and FILTEROFFSET reference files written by mirical.references.distortion."""
    folder = tmp_path_factory.mktemp("refs")
    dist, offsets = folder / "distortion.asdf", folder / "filteroffset.asdf"
    distortion.write_distortion_reffile(dist)
    distortion.write_filteroffset_reffile(offsets)
    return str(dist), str(offsets)


@pytest.fixture(scope="module")
def real_model(reffiles):
    return assign_wcs.load_distortion_model(reffiles[0])


@pytest.fixture(scope="module")
def wcs(real_model, reffiles):
    col, row = assign_wcs.load_filter_offset(reffiles[1], "F1000W")
    return assign_wcs.build_wcs(real_model, col, row, POINTING)


def exact_standin() -> models.Shift:
    """Pixel -> V2/V3 with an exact analytic inverse: 0.11"/px, rotated 4.45 deg, with skew."""
    theta = np.deg2rad(4.45)
    matrix = PIXEL_SCALE * np.array([[np.cos(theta), -np.sin(theta)],
                                     [np.sin(theta) * 1.01, np.cos(theta)]])
    return ((models.Shift(-692.5) & models.Shift(-511.5))
            | models.AffineTransformation2D(matrix=matrix)
            | (models.Shift(-453.35) & models.Shift(-373.67)))


def detector_grid(step: float = 16.0, shape=FULL_SHAPE):
    """Pixel positions covering the whole array, edges included."""
    ys = np.append(np.arange(-0.5, shape[0] - 0.5, step), shape[0] - 0.5)
    xs = np.append(np.arange(-0.5, shape[1] - 0.5, step), shape[1] - 0.5)
    return np.meshgrid(xs, ys)


def separation_arcsec(ra1, dec1, ra2, dec2):
    """Angular distance (arcsec) via unit vectors; accurate for tiny angles."""
    def unit(ra, dec):
        ra, dec = np.deg2rad(ra), np.deg2rad(dec)
        return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    a, b = unit(ra1, dec1), unit(ra2, dec2)
    cross = np.linalg.norm(np.cross(a, b, axis=0), axis=0)
    return np.rad2deg(np.arctan2(cross, np.sum(a * b, axis=0))) * 3600


# --- reference files -----------------------------------------------------------------

def test_reference_point_check_value(real_model, reffiles):
    """MC check value: 0-based (692.5, 511.5), F770W -> V2 ~ -453.35", V3 ~ -373.67"."""
    col, row = assign_wcs.load_filter_offset(reffiles[1], "F770W")
    assert (col, row) == (0.0, 0.0)
    w = assign_wcs.build_wcs(real_model, col, row, POINTING)
    v2, v3 = w.get_transform("detector", "v2v3")(692.5, 511.5)
    assert v2 == pytest.approx(-453.35, abs=0.01)
    assert v3 == pytest.approx(-373.67, abs=0.01)


def test_filter_offset_values_and_errors(reffiles):
    dist, offsets = reffiles
    assert assign_wcs.load_filter_offset(offsets, "F1000W") == (-0.14, -0.62)
    assert assign_wcs.load_filter_offset(offsets, "f560w") == (-0.08, -0.06)
    with pytest.raises(MiricalError, match=r"filteroffset\.asdf.*F999W"):
        assign_wcs.load_filter_offset(offsets, "F999W")
    with pytest.raises(MiricalError, match=r"distortion\.asdf.*not a FILTEROFFSET"):
        assign_wcs.load_filter_offset(dist, "F560W")


def test_distortion_errors(reffiles, tmp_path):
    with pytest.raises(MiricalError, match=r"filteroffset\.asdf.*not a DISTORTION"):
        assign_wcs.load_distortion_model(reffiles[1])
    bogus = tmp_path / "bogus.asdf"
    bogus.write_text("not asdf")
    with pytest.raises(MiricalError, match=r"bogus\.asdf.*not a readable"):
        assign_wcs.load_distortion_model(bogus)


def test_filter_offset_is_added_before_distortion(real_model):
    w = assign_wcs.build_wcs(real_model, -0.14, -0.62, POINTING)
    got = w.get_transform("detector", "v2v3")(300.0, 700.0)
    assert np.allclose(got, real_model(300.0 - 0.14, 700.0 - 0.62), rtol=0, atol=1e-12)


# --- structure and inverses --------------------------------------------------------------

def test_frames_and_bounding_box(wcs):
    assert wcs.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
    assert wcs.output_frame.reference_frame.name == "icrs"
    assert wcs.bounding_box.bounding_box(order="F") == ((-0.5, 1031.5), (-0.5, 1023.5))


def test_round_trip_exact_model():
    """With an exactly invertible distortion every step of ours inverts to < 1e-6 px."""
    w = assign_wcs.build_wcs(exact_standin(), 0.1, -0.2, POINTING)
    x, y = detector_grid()
    xb, yb = w.invert(*w(x, y), with_bounding_box=False)
    assert np.hypot(xb - x, yb - y).max() < 1e-6
    xb, yb = w.backward_transform(*w.forward_transform(x, y))
    assert np.hypot(xb - x, yb - y).max() < 1e-6


def test_round_trip_real_model(wcs, real_model):
    """detector -> world -> detector as the official WCS: the DISTORTION file's own inverse polynomials
    (a fit, off by up to 0.11 px in the far corners of the Lyot/4QPM area), the other steps exact."""
    x, y = detector_grid()
    xb, yb = wcs.invert(*wcs(x, y), with_bounding_box=False)
    err = np.hypot(xb - x, yb - y)
    xd, yd = real_model.inverse(*real_model(x - 0.14, y - 0.62))
    analytic = np.hypot(xd + 0.14 - x, yd + 0.62 - y)
    np.testing.assert_allclose(err, analytic, rtol=0, atol=1e-6)
    assert 0.05 < err.max() < 0.12


def test_velocity_aberration_formula():
    s, v2r, v3r = 1.0000285, -453.363, -373.868
    va = assign_wcs.velocity_aberration(s, v2r, v3r)
    v2, v3 = np.array([-500.0, -400.0, v2r]), np.array([-330.0, -420.0, v3r])
    got = va(v2, v3)
    assert np.allclose(got[0], s * v2 + (1 - s) * v2r, rtol=0, atol=1e-10)
    assert np.allclose(got[1], s * v3 + (1 - s) * v3r, rtol=0, atol=1e-10)
    assert (got[0][2], got[1][2]) == pytest.approx((v2r, v3r), abs=1e-10)  # fixed point
    assert np.allclose(va.inverse(*got), (v2, v3), rtol=0, atol=1e-10)
    # 50" from the reference point the correction is 50 * 2.85e-5 = 1.4 mas
    assert va(v2r + 50.0, v3r)[0] - (v2r + 50.0) == pytest.approx(50 * 2.85e-5, rel=1e-6)
    assert va.name == "DVA_Correction"
    for identity in (None, 1.0):
        assert assign_wcs.velocity_aberration(identity, v2r, v3r)(1.5, 2.5) == (1.5, 2.5)
    with pytest.raises(ValueError):
        assign_wcs.velocity_aberration(0.0, v2r, v3r)


def test_velocity_aberration_in_wcs(wcs):
    v2, v3 = -420.0, -350.0
    s = POINTING["VA_SCALE"]
    got = wcs.get_transform("v2v3", "v2v3vacorr")(v2, v3)
    assert got == pytest.approx((s * v2 + (1 - s) * POINTING["V2_REF"],
                                 s * v3 + (1 - s) * POINTING["V3_REF"]), abs=1e-10)
    no_va = {k: v for k, v in POINTING.items() if k != "VA_SCALE"}
    w = assign_wcs.build_wcs(exact_standin(), 0.0, 0.0, no_va)
    assert w.get_transform("v2v3", "v2v3vacorr")(v2, v3) == (v2, v3)


# --- sky rotation -------------------------------------------------------------------------

@pytest.mark.parametrize("ra_ref, dec_ref, roll_ref", [(80.5, -69.5, 293.2), (0.002, 12.0, 45.0),
                                                       (359.99, -0.5, 170.0), (210.0, 85.0, 10.0)])
def test_sky_rotation_against_pysiaf(ra_ref, dec_ref, roll_ref):
    from pysiaf.utils import rotations
    v2r, v3r = POINTING["V2_REF"], POINTING["V3_REF"]
    model = assign_wcs.v2v3_to_sky(v2r, v3r, roll_ref, ra_ref, dec_ref)
    v2, v3 = np.meshgrid(np.linspace(v2r - 120, v2r + 120, 9), np.linspace(v3r - 120, v3r + 120, 9))
    ra, dec = model(v2, v3)
    attitude = rotations.attitude(v2r, v3r, ra_ref, dec_ref, roll_ref)
    ra_s, dec_s = rotations.pointing(attitude, v2.ravel(), v3.ravel())
    assert separation_arcsec(ra.ravel(), dec.ravel(), ra_s, dec_s).max() < 1e-6
    assert np.all((ra >= 0) & (ra < 360))
    # the reference point lands on RA_REF, DEC_REF
    ra0, dec0 = model(v2r, v3r)
    assert separation_arcsec(ra0, dec0, ra_ref, dec_ref) < 1e-9
    # and the inverse brings the sky back to V2/V3
    v2b, v3b = model.inverse(ra, dec)
    assert np.abs(v2b - v2).max() < 1e-8 and np.abs(v3b - v3).max() < 1e-8


def test_roll_is_position_angle_of_v3():
    """A step along +V3 at the reference point points to position angle ROLL_REF."""
    from astropy.coordinates import SkyCoord

    p = POINTING
    model = assign_wcs.v2v3_to_sky(p["V2_REF"], p["V3_REF"], p["ROLL_REF"], p["RA_REF"], p["DEC_REF"])
    ref = SkyCoord(*model(p["V2_REF"], p["V3_REF"]), unit="deg")
    up = SkyCoord(*model(p["V2_REF"], p["V3_REF"] + 0.01), unit="deg")
    assert ref.position_angle(up).deg == pytest.approx(p["ROLL_REF"], abs=1e-4)


# --- subarray ------------------------------------------------------------------------------

def test_subarray_equals_shifted_full_frame(real_model):
    full = assign_wcs.build_wcs(real_model, -0.14, -0.62, POINTING)
    sub = assign_wcs.build_wcs(real_model, -0.14, -0.62, POINTING, substrt=(413, 51), subsize=(256, 256))
    assert sub.bounding_box.bounding_box(order="F") == ((-0.5, 255.5), (-0.5, 255.5))
    x, y = detector_grid(8.0, (256, 256))
    ra_s, dec_s = sub(x, y)
    ra_f, dec_f = full(x + 412, y + 50)
    assert np.abs(ra_s - ra_f).max() < 1e-12 and np.abs(dec_s - dec_f).max() < 1e-12
    xs, ys = sub.invert(ra_s, dec_s, with_bounding_box=False)
    xf, yf = full.invert(ra_s, dec_s, with_bounding_box=False)
    assert np.allclose(xs, xf - 412, rtol=0, atol=1e-3) and np.allclose(ys, yf - 50, rtol=0, atol=1e-3)
    # outside the 256 x 256 array the subarray WCS gives NaN
    assert np.all(np.isnan(sub(300.0, 10.0)))


# --- SIP header and S_REGION ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sip(wcs):
    with pytest.warns(Warning, match="SIP approximation accuracy"):
        return assign_wcs.sip_header(wcs, FULL_SHAPE, crpix=(693.5, 512.5))


def test_sip_keywords(sip, wcs):
    assert sip["CTYPE1"] == "RA---TAN-SIP" and sip["CTYPE2"] == "DEC--TAN-SIP"
    assert (sip["CRPIX1"], sip["CRPIX2"]) == (693.5, 512.5)
    assert (sip["CRVAL1"], sip["CRVAL2"]) == pytest.approx(wcs(692.5, 511.5), abs=1e-12)
    assert 2 <= sip["A_ORDER"] <= 5 and 2 <= sip["AP_ORDER"] <= 5
    for absent in ("NAXIS", "NAXIS1", "CDELT1", "PC1_1", "AP_0_1", "BP_1_0", "SIPMXERR", "LONPOLE"):
        assert absent not in sip
    keys = set(sip)
    pattern = re.compile(r"^(A|B|AP|BP)_(\d)_(\d)$")
    for key in keys:
        m = pattern.match(key)
        if m:
            assert 2 <= int(m[2]) + int(m[3]) <= 6


def test_sip_matches_gwcs(sip, wcs):
    x, y = detector_grid(16.0)
    ra, dec = wcs(x, y)
    fw = FitsWCS(sip)
    ra_sip, dec_sip = fw.all_pix2world(x, y, 0)
    assert separation_arcsec(ra, dec, ra_sip, dec_sip).max() / PIXEL_SCALE < 0.01
    xs, ys = fw.all_world2pix(ra, dec, 0, tolerance=1e-6)
    assert np.hypot(xs - x, ys - y).max() < 0.01


def test_sip_default_crpix_is_bbox_centre():
    w = assign_wcs.build_wcs(exact_standin(), 0.0, 0.0, POINTING)
    sip = assign_wcs.sip_header(w, FULL_SHAPE)
    assert (sip["CRPIX1"], sip["CRPIX2"]) == (516.5, 512.5)
    assert sip["CTYPE1"] == "RA---TAN"  # a linear WCS needs no polynomial


def test_replace_wcs_keywords(sip):
    header = fits.Header({"BUNIT": "DN/s", "CDELT1": 3e-5, "CDELT2": 3e-5, "PC1_1": 1.0, "PC2_2": 1.0,
                          "CRPIX1": 1.0, "A_ORDER": 2, "A_0_2": 1e-3, "AP_0_1": 1e-3})
    assign_wcs.replace_wcs_keywords(header, sip)
    for gone in ("CDELT1", "CDELT2", "PC1_1", "PC2_2", "AP_0_1"):
        assert gone not in header
    assert header["BUNIT"] == "DN/s"
    assert header["CRPIX1"] == 693.5 and header["A_0_2"] == sip["A_0_2"]


def test_s_region(wcs):
    text = s_region(wcs)
    number = r"-?\d+\.\d{9}"
    assert re.fullmatch(rf"POLYGON ICRS  {number}( {number}){{7}}", text)
    values = np.array(text.split()[2:], dtype=float).reshape(4, 2)
    corners = [(-0.5, -0.5), (-0.5, 1023.5), (1031.5, 1023.5), (1031.5, -0.5)]
    for (ra, dec), (x, y) in zip(values, corners, strict=True):
        assert (ra, dec) == pytest.approx(wcs(x, y), abs=1e-9)


def test_s_region_wraps_ra():
    pointing = dict(POINTING, RA_REF=0.001)
    w = assign_wcs.build_wcs(exact_standin(), 0.0, 0.0, pointing)
    ra = np.array(s_region(w).split()[2::2], dtype=float)
    assert np.all((ra >= 0) & (ra < 360)) and ra.max() > 359 and ra.min() < 1


# --- serialization -------------------------------------------------------------------------

def test_serialization_round_trip(wcs):
    hdu = asdf_extension.make_hdu({"meta": {"wcs": wcs}})
    back = asdf_extension.read_tree(hdu)["meta"]["wcs"]
    x, y = detector_grid(32.0)
    ra, dec = wcs(x, y)
    ra_b, dec_b = back(x, y)
    assert np.array_equal(ra, ra_b) and np.array_equal(dec, dec_b)
    assert np.array_equal(np.array(wcs.invert(ra, dec)), np.array(back.invert(ra, dec)), equal_nan=True)
    assert back.bounding_box.bounding_box(order="F") == wcs.bounding_box.bounding_box(order="F")
    assert back.available_frames == wcs.available_frames


def test_two_serializations_identical(real_model):
    first = asdf_extension.make_hdu({"meta": {"wcs": assign_wcs.build_wcs(real_model, 0, 0, POINTING)}})
    second = asdf_extension.make_hdu({"meta": {"wcs": assign_wcs.build_wcs(real_model, 0, 0, POINTING)}})
    assert asdf_extension.hdu_bytes(first) == asdf_extension.hdu_bytes(second)


def test_pointing_from_a_fits_header():
    """The SCI header (V2_REF ... VA_SCALE keywords) serves directly as ``pointing``."""
    header = fits.Header(POINTING)
    x, y = np.array([10.0, 600.0]), np.array([20.0, 900.0])
    from_header = assign_wcs.build_wcs(exact_standin(), 0.0, 0.0, header)(x, y)
    from_dict = assign_wcs.build_wcs(exact_standin(), 0.0, 0.0, POINTING)(x, y)
    assert np.array_equal(np.array(from_header), np.array(from_dict))


def test_inverse_is_the_distortion_files_inverse(wcs, real_model, reffiles):
    """World -> detector is the official WCS's: through the DISTORTION file's own analytic inverse (what
    stcal's ``compute_scale`` measures the output pixel scale at, and skymatch's overlaps use), not the
    exact pixel (the fit is off by up to 0.11 px in the corners)."""
    col, row = assign_wcs.load_filter_offset(reffiles[1], "F1000W")
    for x, y in ((20.0, 30.0), (516.0, 512.0), (1000.0, 990.0)):
        ra, dec = wcs(x, y)
        v2, v3 = real_model(x + col, y + row)  # the detector step's forward, then its analytic inverse
        xd, yd = real_model.inverse(v2, v3)
        ours = wcs.invert(ra, dec, with_bounding_box=False)
        np.testing.assert_allclose(ours, (xd - col, yd - row), atol=1e-6)
    assert np.hypot(ours[0] - x, ours[1] - y) > 0.002  # off the exact pixel where the fit is
