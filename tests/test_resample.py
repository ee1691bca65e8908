"""Tests for mirical.drizzle.engine and mirical.drizzle.grid (drizzle resampling)."""

from __future__ import annotations

import warnings

import asdf
import gwcs
import numpy as np
import pytest
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import fitting, models
from astropy.wcs import WCS
from gwcs import coordinate_frames as cf

from mirical.drizzle import grid as rg
from mirical.drizzle.engine import ARCSEC2_PER_SR, Resampler
from mirical.formats.dqflags import DO_NOT_USE, NON_SCIENCE

SCALE = 0.11  # arcsec / px
INFO = {"ROLL_REF": 250.0, "VPARITY": -1, "V3I_YANG": 4.45}


def distorted_wcs(ra, dec, pa=INFO["ROLL_REF"] + INFO["V3I_YANG"], shape=(1024, 1032), dist=1e-3, seed=1):
    """MIRI-like gwcs: 4th-order polynomial distortion (~1e-3 relative), 0.11"/px, VPARITY -1.

    ``pa`` is the position angle of the detector +y axis; an inverse
    distortion is fitted so the gwcs has an analytic inverse, as MIRI's has.
    """
    ny, nx = shape
    half = 0.5 * max(nx, ny)
    rng = np.random.default_rng(seed)
    poly = []
    for lin in ("c1_0", "c0_1"):
        p = models.Polynomial2D(4)
        for name in p.param_names:
            i, j = map(int, name[1:].split("_"))
            if i + j >= 2:
                setattr(p, name, rng.normal(0.0, dist) * half)
        setattr(p, lin, half)
        poly.append(p)
    distort = (
        models.Shift(-0.5 * (nx - 1)) & models.Shift(-0.5 * (ny - 1))
        | models.Scale(1 / half) & models.Scale(1 / half)
        | models.Mapping((0, 1, 0, 1))
        | poly[0] & poly[1]
    )
    gy, gx = np.mgrid[-20 : ny + 20 : 16, -20 : nx + 20 : 16].astype(float)
    ux, uy = distort(gx, gy)
    fit = fitting.LinearLSQFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The fit may be poorly conditioned"
        inv = [fit(models.Polynomial2D(6), ux, uy, g) for g in (gx, gy)]
    distort.inverse = models.Mapping((0, 1, 0, 1)) | inv[0] & inv[1]
    t = np.deg2rad(pa)
    pc = np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])
    sky = (
        models.Scale(SCALE / 3600) & models.Scale(SCALE / 3600)
        | models.AffineTransformation2D(pc)
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(ra, dec, 180.0)
    )
    det = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    w = gwcs.WCS([(det, distort | sky), (world, None)])
    w.bounding_box = ((3.5, nx - 4.5), (-0.5, ny - 0.5))
    return w


def pixel_areas(wcs, x, y):
    """Solid angle (sr) of the pixels centred at (x, y), from the gwcs Jacobian."""

    def vec(xx, yy):
        ra, dec = np.deg2rad(wcs.forward_transform(xx, yy))
        return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)

    dx = vec(x + 0.5, y) - vec(x - 0.5, y)
    dy = vec(x, y + 0.5) - vec(x, y - 0.5)
    return np.linalg.norm(np.cross(dx, dy), axis=-1)


def exposure(shape, sci=1.0, var_rnoise=1.0, var_poisson=1.0, var_flat=1.0):
    """Dict of constant input arrays for Resampler.add."""
    full = lambda v: np.broadcast_to(np.float32(v), shape).astype(np.float32)  # noqa: E731
    return {
        "sci": full(sci),
        "err": np.sqrt(full(var_rnoise) + full(var_poisson) + full(var_flat)),
        "dq": np.zeros(shape, np.uint32),
        "var_poisson": full(var_poisson),
        "var_rnoise": full(var_rnoise),
        "var_flat": full(var_flat),
    }


def run(wcs_list, exposures, shape, grid=None, **kwargs):
    """Resample exposures (one per wcs) onto ``grid`` or their own output grid."""
    out_wcs, out_shape = grid or rg.output_grid(wcs_list, [shape] * len(wcs_list), INFO)
    res = Resampler(out_wcs, out_shape, **{"pixel_scale_ratio": 1.0, **kwargs})
    for w, e in zip(wcs_list, exposures, strict=True):
        res.add(input_wcs=w, exptime=100.0, **e)
    return res.finish()


def interior(result, border=3):
    """Output pixels with weight whose neighbours (``border`` px) all have weight too."""
    good = np.pad(result["WHT"] > 0, border)
    keep = np.ones(result["WHT"].shape, bool)
    ny, nx = keep.shape
    for dy in range(2 * border + 1):
        for dx in range(2 * border + 1):
            keep &= good[dy : dy + ny, dx : dx + nx]
    return keep


SMALL = (200, 210)


@pytest.fixture(scope="module")
def small_wcs():
    return distorted_wcs(80.0, -69.5, shape=SMALL, dist=3e-3)


@pytest.mark.parametrize("kernel", ["square", "point"])
@pytest.mark.parametrize("pixfrac", [1.0, 0.5])
def test_constant_surface_brightness(small_wcs, kernel, pixfrac):
    rng = np.random.default_rng(3)
    e = exposure(SMALL, sci=3.7)
    e["var_rnoise"] = rng.uniform(0.5, 2.0, SMALL).astype(np.float32)  # uneven ivm weights
    out = run([small_wcs], [e], SMALL, kernel=kernel, pixfrac=pixfrac)
    good = interior(out, 1)
    assert good.sum() > 0.2 * SMALL[0] * SMALL[1]
    np.testing.assert_allclose(out["SCI"][good], 3.7, rtol=1e-4)


@pytest.mark.parametrize("kernel", ["gaussian", "turbo", "lanczos2", "lanczos3"])
def test_other_kernels_run(small_wcs, kernel):
    out = run([small_wcs], [exposure(SMALL, sci=2.0)], SMALL, kernel=kernel)
    good = interior(out)
    assert good.sum() > 0.5 * SMALL[0] * SMALL[1]
    np.testing.assert_allclose(out["SCI"][good], 2.0, rtol=1e-3)


def test_unknown_kernel_rejected(small_wcs):
    with pytest.raises(ValueError, match="kernel"):
        Resampler(*rg.output_grid([small_wcs], [SMALL], INFO), kernel="bilinear")


@pytest.mark.parametrize("flag", [DO_NOT_USE, NON_SCIENCE])
def test_flagged_pixel_never_contributes(small_wcs, flag):
    rng = np.random.default_rng(5)
    base = exposure(SMALL)
    base["sci"] = rng.normal(10.0, 1.0, SMALL).astype(np.float32)
    bright, reference = {k: v.copy() for k, v in base.items()}, {k: v.copy() for k, v in base.items()}
    bright["sci"][100, 105] = 1e6
    bright["dq"][100, 105] = flag
    reference["dq"][100, 105] = flag | DO_NOT_USE
    grid = rg.output_grid([small_wcs], [SMALL], INFO)
    a = run([small_wcs], [bright], SMALL, grid=grid)
    b = run([small_wcs], [reference], SMALL, grid=grid)
    for name in ("SCI", "WHT", "CON", "ERR", "VAR_RNOISE", "VAR_POISSON", "VAR_FLAT"):
        np.testing.assert_array_equal(a[name], b[name])
    unflagged = {k: v.copy() for k, v in bright.items()}
    unflagged["dq"][100, 105] = 0
    assert np.nanmax(run([small_wcs], [unflagged], SMALL, grid=grid)["SCI"]) > 1e4


def test_nan_input_pixel_is_excluded(small_wcs):
    e = exposure(SMALL, sci=5.0)
    e["var_flat"][50, 60] = np.nan  # NaN in any array -> DO_NOT_USE (match_nans_and_flags)
    e["sci"][50, 60] = 1e6
    out = run([small_wcs], [e], SMALL)
    assert np.nanmax(out["SCI"]) < 5.001


def test_flux_conservation_point_source():
    shape = (300, 320)
    w = distorted_wcs(150.0, 2.2, shape=shape, dist=3e-3)
    y, x = np.indices(shape, dtype=float)
    e = exposure(shape, sci=0.0)
    e["sci"] = (100.0 * np.exp(-0.5 * ((x - 160.3) ** 2 + (y - 140.7) ** 2) / 2.0**2)).astype(np.float32)
    flux_in = np.sum(e["sci"] * pixel_areas(w, x, y))
    out_wcs, out_shape = rg.output_grid([w], [shape], INFO)
    out = run([w], [e], shape, grid=(out_wcs, out_shape))
    oy, ox = np.indices(out_shape, dtype=float)
    flux_out = np.nansum(out["SCI"] * pixel_areas(out_wcs, ox, oy))
    assert abs(flux_out / flux_in - 1.0) < 1e-3


def test_variance_combination_by_hand(small_wcs):
    # weights 1/4 and 1: SCI = (10/4 + 20)/1.25, VAR = sum(var w^2) / (sum w)^2
    e1 = exposure(SMALL, sci=10.0, var_rnoise=4.0, var_poisson=1.0, var_flat=0.25)
    e2 = exposure(SMALL, sci=20.0, var_rnoise=1.0, var_poisson=3.0, var_flat=0.25)
    out = run([small_wcs, small_wcs], [e1, e2], SMALL)
    good = interior(out)
    w1, w2 = 0.25, 1.0
    expect = {
        "SCI": (10 * w1 + 20 * w2) / (w1 + w2),
        "VAR_RNOISE": (4 * w1**2 + 1 * w2**2) / (w1 + w2) ** 2,
        "VAR_POISSON": (1 * w1**2 + 3 * w2**2) / (w1 + w2) ** 2,
        "VAR_FLAT": 0.25 * (w1**2 + w2**2) / (w1 + w2) ** 2,
    }
    expect["ERR"] = np.sqrt(expect["VAR_RNOISE"] + expect["VAR_POISSON"] + expect["VAR_FLAT"])
    for name, value in expect.items():
        np.testing.assert_allclose(out[name][good], value, rtol=1e-5, err_msg=name)
    assert expect["VAR_RNOISE"] == pytest.approx(0.8)


def test_identical_inputs_halve_variance(small_wcs):
    e = exposure(SMALL, var_rnoise=2.0, var_poisson=0.5, var_flat=0.1)
    out = run([small_wcs, small_wcs], [e, e], SMALL)
    good = interior(out)
    for name, var in (("VAR_RNOISE", 2.0), ("VAR_POISSON", 0.5), ("VAR_FLAT", 0.1)):
        np.testing.assert_allclose(out[name][good], var / 2, rtol=1e-5)


def test_exptime_weighting(small_wcs):
    e1, e2 = exposure(SMALL, sci=1.0, var_poisson=2.0), exposure(SMALL, sci=4.0, var_poisson=2.0)
    grid = rg.output_grid([small_wcs], [SMALL], INFO)
    res = Resampler(*grid, weight_type="exptime", pixel_scale_ratio=1.0)
    res.add(input_wcs=small_wcs, exptime=100.0, tmeasure=30.0, **e1)
    res.add(input_wcs=small_wcs, exptime=100.0, tmeasure=10.0, **e2)
    out = res.finish()
    good = interior(out)
    np.testing.assert_allclose(out["SCI"][good], (30 * 1 + 10 * 4) / 40, rtol=1e-5)
    np.testing.assert_allclose(out["VAR_POISSON"][good], 2.0 * (30**2 + 10**2) / 40**2, rtol=1e-5)
    assert out["keywords"]["TMEASURE"] == 40.0


def test_variance_scaled_by_pixel_scale_ratio(small_wcs):
    grid = rg.output_grid([small_wcs], [SMALL], INFO, pixel_scale_ratio=0.5)
    out = run([small_wcs], [exposure(SMALL, var_rnoise=3.0)], SMALL, grid=grid, pixel_scale_ratio=0.5)
    np.testing.assert_allclose(out["VAR_RNOISE"][interior(out)], 3.0 / 0.5**2, rtol=1e-5)
    assert out["keywords"]["PXSCLRT"] == 0.5


@pytest.fixture(scope="module")
def dithers():
    shape = (256, 260)
    wcs_list = [
        distorted_wcs(80.0, -69.5, shape=shape),
        distorted_wcs(80.0 + 8.0 / 3600 / np.cos(np.deg2rad(69.5)), -69.5 + 5.0 / 3600, shape=shape),
    ]
    return wcs_list, shape


def test_output_grid_geometry(dithers):
    wcs_list, shape = dithers
    out_wcs, out_shape = rg.output_grid(wcs_list, [shape, shape], INFO)
    hdr = rg.tan_header(out_wcs)

    corners = np.vstack([rg.footprint(w, shape) for w in wcs_list])
    xyz = coord.SkyCoord(corners[:, 0], corners[:, 1], unit="deg").cartesian.xyz.value
    mid = coord.SkyCoord(*(0.5 * (xyz.max(axis=1) + xyz.min(axis=1))), representation_type="cartesian")
    assert mid.spherical.lon.deg == pytest.approx(hdr["CRVAL1"], abs=1e-10)
    assert mid.spherical.lat.deg == pytest.approx(hdr["CRVAL2"], abs=1e-10)

    crpix = hdr["CRPIX1"] - 1, hdr["CRPIX2"] - 1
    ref, up = (coord.SkyCoord(*out_wcs(crpix[0], crpix[1] + dy), unit="deg") for dy in (0.0, 1.0))
    expected = (INFO["ROLL_REF"] - INFO["VPARITY"] * INFO["V3I_YANG"]) % 360
    assert ref.position_angle(up).deg == pytest.approx(expected, abs=1e-6)

    for w in wcs_list:
        (x0, x1), (y0, y1) = rg.bounding_box(w, shape)
        x, y = np.meshgrid([x0, x1], [y0, y1])
        ox, oy = out_wcs.invert(*w(x, y, with_bounding_box=False), with_bounding_box=False)
        assert np.all((ox >= -1e-4) & (ox < out_shape[1] + 0.5))
        assert np.all((oy >= -1e-4) & (oy < out_shape[0] + 0.5))
    # as stcal: lowest vertex at 0 (to the 1e-9 deg S_REGION rounding), shape = int(highest + 0.5)
    native = np.array([out_wcs.invert(*c, with_bounding_box=False) for c in corners])
    assert native.min(axis=0) == pytest.approx([0.0, 0.0], abs=1e-6)
    assert tuple(int(v + 0.5) for v in native.max(axis=0)[::-1]) == out_shape


def test_output_grid_scale_and_rotation(dithers):
    wcs_list, shape = dithers
    w0 = wcs_list[0]
    ra_ref, dec_ref = w0(200.0, 100.0)  # a made-up reference point
    info = {**INFO, "RA_REF": ra_ref, "DEC_REF": dec_ref}
    out_wcs, out_shape = rg.output_grid(wcs_list, [shape] * 2, info, pixel_scale_ratio=0.7, rotation=0.0)
    # input scale at the reference point: sqrt(pixel area) there
    in_scale = np.rad2deg(np.sqrt(pixel_areas(w0, 200.0, 100.0))) * 3600
    assert rg.output_pixel_scale(out_wcs) == pytest.approx(0.7 * in_scale, rel=1e-4)
    hdr = rg.tan_header(out_wcs)
    pc = [[hdr["PC1_1"], hdr["PC1_2"]], [hdr["PC2_1"], hdr["PC2_2"]]]
    np.testing.assert_allclose(pc, [[-1, 0], [0, 1]], atol=1e-15)  # north up, east left

    out_wcs, out_shape = rg.output_grid(wcs_list, [shape] * 2, INFO, pixel_scale=0.2, output_shape=(50, 60))
    assert out_shape == (50, 60) and out_wcs.array_shape == (50, 60)
    assert rg.output_pixel_scale(out_wcs) == pytest.approx(0.2, rel=1e-12)
    ratio = rg.pixel_scale_ratio(w0, shape, pixel_scale=0.2)
    assert ratio == pytest.approx(0.2 / SCALE, rel=3e-3)


def test_output_grid_crpix_crval(dithers):
    wcs_list, shape = dithers
    out_wcs, _ = rg.output_grid(wcs_list, [shape] * 2, INFO, crpix=(10.0, 20.0), crval=(80.01, -69.49))
    np.testing.assert_allclose(out_wcs(10.0, 20.0, with_bounding_box=False), (80.01, -69.49), atol=1e-10)


def test_tan_header_matches_gwcs(dithers, tmp_path):
    wcs_list, shape = dithers
    out_wcs, out_shape = rg.output_grid(wcs_list, [shape] * 2, INFO)
    fits_wcs = WCS(rg.tan_header(out_wcs))
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-50, out_shape[1] + 50, 500), rng.uniform(-50, out_shape[0] + 50, 500)
    ra, dec = out_wcs(x, y, with_bounding_box=False)
    fx, fy = fits_wcs.world_to_pixel_values(ra, dec)
    assert np.max(np.hypot(fx - x, fy - y)) < 1e-6
    gx, gy = out_wcs.invert(*fits_wcs.pixel_to_world_values(x, y), with_bounding_box=False)
    assert np.max(np.hypot(gx - x, gy - y)) < 1e-6

    path = tmp_path / "grid.asdf"
    asdf.AsdfFile({"wcs": out_wcs}).write_to(path)
    with asdf.open(path) as af:
        back = af["wcs"]
        np.testing.assert_array_equal(back(x, y, with_bounding_box=False), (ra, dec))
        assert back.bounding_box.bounding_box(order="F") == out_wcs.bounding_box.bounding_box(order="F")
        np.testing.assert_allclose(back.invert(ra, dec, with_bounding_box=False), (x, y), atol=1e-8)


def test_streaming_consistency_and_context(dithers):
    wcs_list, shape = dithers
    grid = rg.output_grid(wcs_list, [shape] * 2, INFO)
    rng = np.random.default_rng(11)
    exps = []
    for _ in wcs_list:
        e = exposure(shape, var_rnoise=1.0)
        e["sci"] = rng.normal(5.0, 0.3, shape).astype(np.float32)
        exps.append(e)
    ab = run(wcs_list, exps, shape, grid=grid)
    again = run(wcs_list, exps, shape, grid=grid)
    for name in ("SCI", "ERR", "CON", "WHT", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        assert ab[name].tobytes() == again[name].tobytes()  # deterministic
    ba = run(wcs_list[::-1], exps[::-1], shape, grid=grid)
    np.testing.assert_allclose(ab["SCI"], ba["SCI"], rtol=1e-6)  # order does not matter
    np.testing.assert_allclose(ab["WHT"], ba["WHT"], rtol=1e-6)

    singles = [run([w], [e], shape, grid=grid) for w, e in zip(wcs_list, exps, strict=True)]
    con = ab["CON"][0]
    assert ab["CON"].shape == (1, *grid[1])
    np.testing.assert_array_equal(con & 1, singles[0]["WHT"] > 0)
    np.testing.assert_array_equal((con & 2) > 0, singles[1]["WHT"] > 0)
    assert {0, 1, 2, 3} <= set(np.unique(con))
    only_a = con == 1
    np.testing.assert_allclose(ab["SCI"][only_a], singles[0]["SCI"][only_a], rtol=1e-6)
    np.testing.assert_allclose(ab["WHT"], singles[0]["WHT"] + singles[1]["WHT"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fillval, expect", [("NAN", np.nan), (0.0, 0.0), ("-1", -1.0)])
def test_fillval(dithers, fillval, expect):
    wcs_list, shape = dithers
    out = run(wcs_list[:1], [exposure(shape)], shape, grid=rg.output_grid(wcs_list, [shape] * 2, INFO),
              fillval=fillval)
    empty = out["WHT"] == 0
    assert empty.sum() > 1000
    np.testing.assert_array_equal(out["SCI"][empty], expect)
    assert np.all(out["CON"][0][empty] == 0)
    for name in ("ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):  # as in stcal: NaN regardless
        assert np.all(np.isnan(out[name][empty]))
        assert np.all(np.isfinite(out[name][~empty]))


def test_keywords(dithers):
    wcs_list, shape = dithers
    out_wcs, out_shape = rg.output_grid(wcs_list, [shape] * 2, INFO)
    res = Resampler(out_wcs, out_shape, pixfrac=0.8, pixel_scale_ratio=1.0)
    for k, w in enumerate(wcs_list):
        res.add(input_wcs=w, exptime=50.0 + k, tmeasure=45.0, duration=60.0, expstart=60000.0 + k,
                expend=60000.5 + k, **exposure(shape))
    kw = res.finish()["keywords"]
    scale = rg.output_pixel_scale(out_wcs)
    assert kw["NDRIZ"] == 2 and kw["RESWHT"] == "ivm" and kw["PIXFRAC"] == 0.8
    assert kw["PXSCLRT"] == 1.0 and kw["S_RESAMP"] == "COMPLETE"
    assert kw["PIXAR_A2"] == pytest.approx(scale**2)
    assert kw["PIXAR_SR"] == pytest.approx(scale**2 * (np.pi / 180 / 3600) ** 2, rel=1e-12)
    assert kw["PIXAR_SR"] * ARCSEC2_PER_SR == pytest.approx(kw["PIXAR_A2"])
    assert kw["EFFEXPTM"] == kw["XPOSURE"] == 101.0
    assert kw["TMEASURE"] == 90.0 and kw["DURATION"] == kw["TELAPSE"] == 120.0
    assert kw["EXPSTART"] == 60000.0 and kw["EXPEND"] == 60001.5


def test_pixel_scale_ratio_from_pixar_sr(small_wcs):
    grid = rg.output_grid([small_wcs], [SMALL], INFO, pixel_scale_ratio=2.0)
    res = Resampler(*grid)
    res.add(input_wcs=small_wcs, exptime=10.0, pixar_sr=(SCALE / 3600 * np.pi / 180) ** 2, **exposure(SMALL))
    expect = rg.output_pixel_scale(grid[0]) / SCALE
    assert res.finish()["keywords"]["PXSCLRT"] == pytest.approx(expect, rel=1e-12)


def test_mean_pixel_area(small_wcs):
    (x0, x1), (y0, y1) = rg.bounding_box(small_wcs, SMALL)
    y, x = np.mgrid[int(y0 + 0.5) : int(y1 - 0.5), int(x0 + 0.5) : int(x1 - 0.5)].astype(float)
    jac = pixel_areas(small_wcs, x + 0.5, y + 0.5).mean()
    assert rg.mean_pixel_area(small_wcs, SMALL) == pytest.approx(jac, rel=1e-5)


# ----------------------------------------------------------------- the pixel map (pixmap_stepsize, pixmap_order)
def _plane_wcs(transform, inverse=True):
    """A gwcs from pixels to a plane (no sky): ``transform``, its inverse when it has one."""
    frames = [cf.Frame2D(name="detector", unit=(u.pix, u.pix)), cf.Frame2D(name="plane", unit=(u.pix, u.pix))]
    return gwcs.WCS([(frames[0], transform), (frames[1], None)])


IDENTITY = _plane_wcs(models.Identity(2))  # the output grid: the plane itself


def test_exact_pixel_map_of_an_affine_wcs_with_a_bounding_box():
    # x' = 2x - 0.5y + 3, y' = 0.25x + y - 1
    affine = _plane_wcs(models.AffineTransformation2D(matrix=[[2.0, -0.5], [0.25, 1.0]], translation=[3.0, -1.0]))
    affine.bounding_box = ((1.5, 8.2), (0.3, 5.0))
    pixmap = rg.pixel_map(affine, (7, 10), IDENTITY)
    assert pixmap.shape == (7, 10, 2)
    # pixels inside the box: x = ceil(1.5) .. floor(8.2) = 2 .. 8, y = 1 .. 5; NaN elsewhere
    inside = np.zeros((7, 10), bool)
    inside[1:6, 2:9] = True
    np.testing.assert_array_equal(np.isfinite(pixmap[..., 0]), inside)
    np.testing.assert_array_equal(np.isfinite(pixmap[..., 1]), inside)
    assert pixmap[3, 2].tolist() == [2 * 2 - 0.5 * 3 + 3, 0.25 * 2 + 3 - 1]  # (5.5, 2.5)
    assert pixmap[5, 8].tolist() == [16.5, 6.0]


def test_node_count_follows_the_stepsize_with_at_least_10():
    assert rg._node_count(1032, 16) == 65  # ceil(1032 / 16)
    assert rg._node_count(1024, 10) == 103
    assert rg._node_count(1024, 1.5) == 683
    assert rg._node_count(40, 7) == 10  # ceil(40 / 7) = 6 < 10: a large stepsize is reduced to n / 10
    assert rg._node_count(5, 3) == 5  # fewer than 10 pixels: every pixel


def test_bilinear_pixel_map_is_exact_for_an_affine_wcs():
    affine = _plane_wcs(models.AffineTransformation2D(matrix=[[0.9, 0.2], [-0.1, 1.1]], translation=[5.0, 7.0]))
    exact = rg.pixel_map(affine, (30, 40), IDENTITY)
    for stepsize, order in ((7, 1), (4.5, 3)):
        np.testing.assert_allclose(rg.pixel_map(affine, (30, 40), IDENTITY, stepsize, order), exact,
                                   rtol=0, atol=1e-12)


def test_interpolated_pixel_map_between_the_nodes():
    """x' = x^2 on a 30 x 40 array with stepsize 7: nodes at x = 0, 13/3, 26/3, ..., 39 (10 of them)."""
    square = _plane_wcs(models.Polynomial1D(2, c2=1.0) & models.Identity(1))
    linear = rg.pixel_map(square, (30, 40), IDENTITY, 7, 1)
    # bilinear: the chord through (0, 0) and (13/3, 169/9) at x = 2 is 13/3 * 2 = 26/3 (exact 4)
    assert linear[5, 2, 0] == pytest.approx(26 / 3, rel=1e-12)
    assert linear[5, 39, 0] == pytest.approx(39**2, rel=1e-12)  # a node: the last pixel is one
    np.testing.assert_allclose(linear[..., 1], np.mgrid[0:30, 0:40][0], rtol=0, atol=1e-12)
    # bicubic is exact for a cubic
    cube = _plane_wcs(models.Polynomial1D(3, c1=0.5, c3=0.01) & models.Polynomial1D(3, c0=2.0, c2=0.1, c3=-1e-3))
    np.testing.assert_allclose(rg.pixel_map(cube, (30, 40), IDENTITY, 7, 3), rg.pixel_map(cube, (30, 40), IDENTITY),
                               rtol=1e-12, atol=1e-10)
    # but not for x^4: the not-a-knot cubic spline through the 10 nodes (scipy's make_interp_spline,
    # another implementation than the 2-D spline the map uses)
    from scipy.interpolate import make_interp_spline

    quartic = _plane_wcs(models.Polynomial1D(4, c4=1.0) & models.Identity(1))
    cubic = rg.pixel_map(quartic, (30, 40), IDENTITY, 7, 3)
    nodes = np.linspace(0, 39, 10)
    expect = make_interp_spline(nodes, nodes**4, k=3)(np.arange(40.0))
    np.testing.assert_allclose(cubic[12, :, 0], expect, rtol=1e-10, atol=1e-8)
    assert abs(cubic[12, 2, 0] - 16.0) > 1.0  # x = 2 is not a node: the spline is not x^4 there


def test_pixel_map_is_exact_when_a_node_is_not_finite_or_the_array_small():
    @models.custom_model
    def root(x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x - 0.5)  # NaN at x = 0, the first node

    wcs = _plane_wcs(root() & models.Identity(1))
    exact = rg.pixel_map(wcs, (30, 40), IDENTITY)
    assert np.isnan(exact[:, 0, 0]).all() and exact[3, 1, 0] == np.sqrt(0.5)
    np.testing.assert_array_equal(rg.pixel_map(wcs, (30, 40), IDENTITY, 7, 1), exact)
    square = _plane_wcs(models.Polynomial1D(2, c2=1.0) & models.Identity(1))
    # 8 x 10 pixels: no axis above 10, the map is exact whatever the stepsize
    np.testing.assert_array_equal(rg.pixel_map(square, (8, 10), IDENTITY, 3, 1),
                                  rg.pixel_map(square, (8, 10), IDENTITY))
    assert rg.pixel_map(square, (8, 11), IDENTITY, 3, 1)[0, 1, 0] != 1.0  # 11 columns: interpolated


@pytest.mark.parametrize("stepsize, order, message", [
    (0.5, 1, "pixmap_stepsize must be >= 1"),
    (10, 2, "pixmap_order must be 1 or 3"),
])
def test_invalid_pixmap_options_are_refused(stepsize, order, message):
    with pytest.raises(ValueError, match=message):
        rg.pixel_map(IDENTITY, (30, 40), IDENTITY, stepsize, order)
    with pytest.raises(ValueError, match=message):
        Resampler(*rg.output_grid([distorted_wcs(80.0, -69.5, shape=SMALL)], [SMALL], INFO),
                  pixmap_stepsize=stepsize, pixmap_order=order)


@pytest.fixture(scope="module")
def full_frame():
    shape = (1024, 1032)
    w = distorted_wcs(80.0, -69.5, shape=shape)
    out_wcs, _ = rg.output_grid([w], [shape], INFO)
    exact = rg.pixel_map(w, shape, out_wcs)
    return w, shape, out_wcs, exact


@pytest.mark.parametrize("stepsize, order, limit", [(16, 3, 1e-6), (10, 3, 1e-7), (16, 1, 3e-3), (64, 3, 3e-4)])
def test_interpolated_pixel_map_of_a_distorted_full_frame(full_frame, stepsize, order, limit):
    """Measured (max over the 1024 x 1024 pixels in the box): 3.8e-7 px (16, cubic), 5.5e-8 (10, cubic),
    1.5e-3 (16, linear), 1.2e-4 (64, cubic)."""
    w, shape, out_wcs, exact = full_frame
    inside = np.isfinite(exact[..., 0])
    assert inside.sum() == 1024 * 1024  # bounding box x 3.5 .. 1027.5
    assert np.all(np.ptp(exact[inside], axis=0) > 1000)
    np.testing.assert_allclose(exact[512, 500], out_wcs.invert(*w(500.0, 512.0)), atol=1e-9)
    interp = rg.pixel_map(w, shape, out_wcs, stepsize, order)
    np.testing.assert_array_equal(np.isnan(interp), np.isnan(exact))
    error = np.max(np.hypot(*(interp - exact)[inside].T))
    assert limit / 30 < error < limit  # interpolated (not exact), within the measured error


# ----------------------------------------------------------------- output options (jwst ResampleStep)
def _tan_wcs(n=20):
    """A distortion-free TAN gwcs of n x n pixels."""
    tan = (models.Shift(-n / 2) & models.Shift(-n / 2) | models.Scale(3e-5) & models.Scale(3e-5)
           | models.Pix2Sky_TAN() | models.RotateNative2Celestial(10.0, 20.0, 180.0))
    wcs = gwcs.WCS([(cf.Frame2D(name="detector", unit=(u.pix, u.pix)), tan),
                    (cf.CelestialFrame(reference_frame=coord.ICRS(), name="world"), None)])
    wcs.bounding_box = ((-0.5, n - 0.5), (-0.5, n - 0.5))
    return wcs


FLAGGED = {(3, 4): 4, (5, 6): 2048, (7, 8): DO_NOT_USE | 4}  # JUMP_DET, HOT, and a zero-weight pixel


def _options_run(**options):
    """A 20 x 20 exposure with FLAGGED pixels, point kernel: each input pixel lands in one output pixel."""
    wcs = _tan_wcs()
    e = exposure((20, 20), sci=2.0, var_rnoise=4.0, var_poisson=1.0, var_flat=0.0)
    for yx, flag in FLAGGED.items():
        e["dq"][yx] = flag
    grid = rg.output_grid([wcs], [(20, 20)], INFO)
    return run([wcs], [e], (20, 20), grid=grid, kernel="point", **options), rg.pixel_map(wcs, (20, 20), grid[0])


def test_default_output_arrays_are_the_official_defaults():
    out, _ = _options_run()
    assert set(out) - {"keywords"} == {"SCI", "WHT", "CON", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"}


def test_propagate_dq_ors_the_dq_of_contributing_pixels():
    out, pixmap = _options_run(propagate_dq=True)
    expect = np.zeros(out["SCI"].shape, np.uint32)
    for yx in ((3, 4), (5, 6)):  # the output pixel holding the input pixel's centre gets its flags
        x, y = np.floor(pixmap[yx] + 0.5).astype(int)
        expect[y, x] = FLAGGED[yx]
    np.testing.assert_array_equal(out["DQ"], expect)  # the DO_NOT_USE pixel has weight 0: no flags
    assert out["DQ"].dtype == np.uint32
    default, _ = _options_run()
    for name in ("SCI", "WHT", "CON", "ERR"):
        np.testing.assert_array_equal(out[name], default[name])


def test_without_context_err_or_variances():
    default, pixmap = _options_run()
    no_ctx, _ = _options_run(enable_ctx=False)
    assert "CON" not in no_ctx and "CON" in default
    no_var, _ = _options_run(report_var=False)
    assert set(no_var) - {"keywords"} == {"SCI", "WHT", "CON", "ERR"}
    np.testing.assert_array_equal(no_var["ERR"], default["ERR"])  # ERR still from the variances
    good = default["WHT"] > 0
    np.testing.assert_allclose(default["ERR"][good], np.sqrt(4.0 + 1.0), rtol=1e-6)
    no_err, _ = _options_run(enable_err=False)  # report_var is moot without enable_err
    assert set(no_err) - {"keywords"} == {"SCI", "WHT", "CON"}
    for out in (no_ctx, no_var, no_err):
        np.testing.assert_array_equal(out["SCI"], default["SCI"])
        np.testing.assert_array_equal(out["WHT"], default["WHT"])
    np.testing.assert_allclose(default["SCI"][good], 2.0)
    x, y = np.floor(pixmap[7, 8] + 0.5).astype(int)
    assert not good[y, x]  # the DO_NOT_USE pixel's output pixel got nothing
