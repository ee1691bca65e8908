"""The mosaic as map/reduce (mirical/steps/mosaic.py) against the serial drizzle (mirical/steps/resample.py).

The serial drizzle keeps SCI as a float32 running weighted mean, updated input
pixel by input pixel; the reduce sums the exposures' own means in float64. The
two differ by the serial mean's float32 rounding, which is relative to the
values that went into the mean (a source's wing next to a faint background
pixel), not to the mean itself. So SCI is compared with
|map/reduce - serial| <= 1e-6 (|serial| + the largest |SCI| of any part within
one pixel), and WHT the same way (a pixel at the grid's edge that an exposure
only grazes has a weight far below its neighbours'; drizzle on a crop rounds its
sliver of overlap in the neighbours' terms). CON is identical; the variances and ERR come from the same
per-exposure arrays, accumulated as the serial drizzle does, equal to 1e-6
(bit-identical here; drizzle on a crop can round one pixel in a million differently).
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from astropy.io import fits
from scipy.ndimage import maximum_filter

from conftest import REPO
from mirical.drizzle import grid as rg
from mirical.formats.asdf_extension import asdf_bytes, read_tree
from mirical.formats.io import Exposure, add_history, write_exposure
from mirical.drizzle.exposure_map import read_exposure_map, write_exposure_map
from mirical.errors import MiricalError
from mirical.steps.mosaic import (
    Grid,
    Part,
    compute_grid,
    copy_grid,
    crop,
    drizzle_exposure,
    grid_map,
    read_grid,
    read_part,
    reduce_parts,
    write_grid,
    write_part,
)
from mirical.drizzle.i2d import add_exposure, make_resampler
from mirical.steps.resample import drizzle
from test_resample import INFO, distorted_wcs

VARIANCES = ("ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
PARAMS = {"pixfrac": 1.0, "kernel": "square", "fillval": "NaN", "weight_type": "ivm", "pixel_scale_ratio": 1.0,
          "pixmap_stepsize": 1.0, "pixmap_order": 1}


def assert_same_mosaic(serial: dict, reduced: dict, parts: list[Part]) -> None:
    """CON identical; VAR_*, ERR to 1e-6 relative; SCI and WHT to 1e-6 of their local scale (module docstring:
    a grid-edge pixel with a sliver of overlap has a weight small against its neighbours', whose float rounding
    it shares)."""
    np.testing.assert_array_equal(reduced["CON"], serial["CON"])
    for name in VARIANCES:
        assert serial[name].dtype == reduced[name].dtype
        np.testing.assert_allclose(reduced[name], serial[name], rtol=1e-6, atol=0, err_msg=name)
    assert serial["WHT"].dtype == reduced["WHT"].dtype
    for name in ("SCI", "WHT"):
        mine, ref = reduced[name].astype(float), serial[name].astype(float)
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(ref))
        local = np.zeros(mine.shape)
        for part in parts:
            near = maximum_filter(np.abs(np.nan_to_num(part.arrays[name].astype(float))), size=3)
            local[part.region] = np.maximum(local[part.region], near)
        ok = np.isfinite(ref)
        assert np.all(np.abs(mine - ref)[ok] <= 1e-6 * (np.abs(ref) + local)[ok]), name
    if "keywords" in serial:
        assert reduced["keywords"] == serial["keywords"]


# ----------------------------------------------------------------- the reduce on hand-made parts
def _part(x0, y0, shape, sci, wht, var_rnoise, var_poisson, times):
    full = lambda v: np.full(shape, v, np.float32)  # noqa: E731
    arrays = {"SCI": full(sci), "WHT": full(wht), "CON": np.ones(shape, np.int32),
              "VAR_POISSON": full(var_poisson), "VAR_RNOISE": full(var_rnoise), "VAR_FLAT": full(0.0)}
    return Part(x0, y0, (4, 6), arrays, times)


@pytest.fixture(scope="module")
def tiny_grid():
    wcs = distorted_wcs(10.0, -30.0, shape=(40, 44))
    out_wcs, _ = rg.output_grid([wcs], [(40, 44)], INFO)
    return Grid(out_wcs, (4, 6), 1.0)


TIMES_A = {"EFFEXPTM": 100.0, "TMEASURE": 90.0, "DURATION": 110.0, "EXPSTART": 60000.5, "EXPEND": 60000.6}
TIMES_B = {"EFFEXPTM": 50.0, "TMEASURE": 45.0, "DURATION": 55.0, "EXPSTART": 60000.4, "EXPEND": 60000.7}


def test_reduce_by_hand(tiny_grid):
    """A on columns 0-3 rows 0-2 (SCI 2, WHT 1, VAR_RNOISE 1, VAR_POISSON 4); B on columns 2-5 rows 1-3
    (SCI 5, WHT 3, VAR_RNOISE 0.5, VAR_POISSON 2). Overlap: SCI (1*2 + 3*5) / 4 = 4.25, WHT 4;
    ivm weights 1 and 2: VAR_POISSON (4*1 + 2*4) / 9, VAR_RNOISE (1*1 + 0.5*4) / 9 = 1/3."""
    a = _part(0, 0, (3, 4), 2.0, 1.0, 1.0, 4.0, TIMES_A)
    b = _part(2, 1, (3, 4), 5.0, 3.0, 0.5, 2.0, TIMES_B)
    out = reduce_parts([a, b], 2, tiny_grid, PARAMS)
    only_a, only_b, both, none = (0, 0), (3, 5), (1, 2), (3, 0)
    assert out["SCI"][only_a] == 2 and out["SCI"][only_b] == 5 and out["SCI"][both] == np.float32(4.25)
    assert np.isnan(out["SCI"][none]) and np.isnan(out["ERR"][none]) and out["WHT"][none] == 0
    assert out["WHT"][only_a] == 1 and out["WHT"][only_b] == 3 and out["WHT"][both] == 4
    assert out["CON"].shape == (1, 4, 6)
    assert [out["CON"][0][p] for p in (only_a, only_b, both, none)] == [1, 2, 3, 0]
    assert out["VAR_POISSON"][both] == pytest.approx(12 / 9, rel=1e-7)
    assert out["VAR_RNOISE"][both] == pytest.approx(1 / 3, rel=1e-7)
    assert out["VAR_POISSON"][only_b] == pytest.approx(2.0, rel=1e-7)
    assert out["ERR"][both] == pytest.approx(np.sqrt(12 / 9 + 1 / 3), rel=1e-7)
    assert out["SCI"].dtype == out["WHT"].dtype == np.float32
    k = out["keywords"]
    assert (k["NDRIZ"], k["EFFEXPTM"], k["TMEASURE"], k["DURATION"]) == (2, 150.0, 135.0, 165.0)
    assert (k["EXPSTART"], k["EXPEND"]) == (60000.4, 60000.7)


def test_reduce_exptime_weights_and_fillval(tiny_grid):
    """weight_type exptime: variance weights are TMEASURE (90, 45): VAR_POISSON (4*90^2 + 2*45^2) / 135^2."""
    a = _part(0, 0, (3, 4), 2.0, 1.0, 1.0, 4.0, TIMES_A)
    b = _part(2, 1, (3, 4), 5.0, 3.0, 0.5, 2.0, TIMES_B)
    out = reduce_parts([a, b], 2, tiny_grid, {**PARAMS, "weight_type": "exptime", "fillval": 0.0})
    assert out["VAR_POISSON"][1, 2] == pytest.approx((4 * 90**2 + 2 * 45**2) / 135**2, rel=1e-7)
    assert out["SCI"][3, 0] == 0.0 and out["WHT"][3, 0] == 0.0


def test_context_bits_span_planes(tiny_grid):
    """33 parts on pixel (0, 0): all 32 bits of plane 0 (int32 -1) and bit 0 of plane 1."""
    parts = [_part(0, 0, (1, 1), 1.0, 1.0, 1.0, 1.0, TIMES_A) for _ in range(33)]
    out = reduce_parts(parts, 33, tiny_grid, PARAMS)
    assert out["CON"].shape == (2, 4, 6)
    assert out["CON"][0, 0, 0] == -1 and out["CON"][1, 0, 0] == 1 and out["CON"][:, 1, 1].tolist() == [0, 0]
    assert out["keywords"]["NDRIZ"] == 33


def test_reduce_rejects_a_part_of_another_grid(tiny_grid):
    other = _part(0, 0, (1, 1), 1.0, 1.0, 1.0, 1.0, TIMES_A)
    other.grid_shape = (5, 6)
    with pytest.raises(ValueError, match=r"part 0 was drizzled onto a \(5, 6\) grid"):
        reduce_parts([other], 1, tiny_grid, PARAMS)


def test_crop_bounds():
    pixmap = np.array([[[2.2, 3.9], [np.nan, np.nan]], [[7.6, 5.1], [4.0, 4.0]]])
    assert crop(pixmap, (20, 30), 2) == (0, 1, 11, 8)  # x floor(2.2)-2..ceil(7.6)+2, y 3-2..6+2
    assert crop(pixmap, (6, 9), 2) == (0, 1, 9, 5)  # clipped to the grid
    with pytest.raises(ValueError, match="no input pixel"):
        crop(np.full((2, 2, 2), np.nan), (6, 9), 2)


# ----------------------------------------------------------------- map/reduce == serial, synthetic dithers
SHAPE = (90, 100)


def _exposure(seed: int) -> Exposure:
    """A cal-like exposure: background, sources, noise, a bad pixel, a NaN."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    sci = rng.normal(0.2, 0.05, SHAPE)
    for x, y, f in ((30, 40, 900.0), (70, 20, 300.0), (55, 60, 50.0)):
        sci += f * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 4.0)
    dq = np.zeros(SHAPE, np.uint32)
    dq[10, 10] = 1
    sci[20, 20] = np.nan
    arrays = {"SCI": sci.astype(np.float32), "DQ": dq,
              "VAR_POISSON": rng.uniform(0.5, 2.0, SHAPE).astype(np.float32),
              "VAR_RNOISE": rng.uniform(0.5, 1.5, SHAPE).astype(np.float32),
              "VAR_FLAT": rng.uniform(0.0, 0.1, SHAPE).astype(np.float32)}
    arrays["ERR"] = np.sqrt(arrays["VAR_POISSON"] + arrays["VAR_RNOISE"] + arrays["VAR_FLAT"])
    primary = fits.Header({"S_WCS": "COMPLETE", "EFFEXPTM": 100.0 + seed, "TMEASURE": 90.0 + seed,
                           "DURATION": 120.0, "EXPSTART": 60000.0 + seed, "EXPEND": 60000.01 + seed})
    return Exposure(primary=primary, sci_header=fits.Header(), arrays=arrays, path=f"dither{seed}")


@pytest.fixture(scope="module")
def dithers():
    offsets = [(0.0, 0.0), (1.37, -0.83), (-2.11, 1.52)]  # arcsec
    wcss = [distorted_wcs(10.0 + dx / 3600 / np.cos(np.radians(30)), -30.0 + dy / 3600, shape=SHAPE, seed=s)
            for s, (dx, dy) in enumerate(offsets)]
    out_wcs, shape = rg.output_grid(wcss, [SHAPE] * 3, INFO)
    return wcss, [_exposure(s) for s in range(3)], Grid(out_wcs, shape, 1.0)


@pytest.mark.parametrize("kernel, pixfrac, weight_type", [
    ("square", 1.0, "ivm"), ("square", 0.6, "exptime"), ("point", 1.0, "ivm"),
    ("turbo", 0.8, "ivm"), ("gaussian", 0.8, "ivm"), ("lanczos3", 1.0, "ivm"),
])
def test_map_reduce_equals_serial(dithers, kernel, pixfrac, weight_type):
    wcss, exposures, grid = dithers
    params = {**PARAMS, "kernel": kernel, "pixfrac": pixfrac, "weight_type": weight_type}
    serial = make_resampler(grid.wcs, grid.shape, params, 1.0)
    for exposure, wcs in zip(exposures, wcss):
        add_exposure(serial, exposure, wcs)
    parts = [drizzle_exposure(e, w, grid, params) for e, w in zip(exposures, wcss)]
    assert all(p.arrays["SCI"].size < grid.shape[0] * grid.shape[1] for p in parts)  # cropped
    assert_same_mosaic(serial.finish(), reduce_parts(parts, 3, grid, params), parts)


@pytest.mark.parametrize("options", [
    {"enable_ctx": False, "report_var": False, "propagate_dq": True},
    {"enable_ctx": True, "enable_err": False, "propagate_dq": True},
])
def test_map_reduce_equals_serial_with_output_options(dithers, options):
    """Non-default output options: the map/reduce mosaic has the serial drizzle's arrays, no more, no
    fewer; DQ (OR of the contributing pixels' DQ) identical; parts carry variances only with enable_err
    and DQ with propagate_dq, and always their coverage CON."""
    wcss, exposures, grid = dithers
    flagged = []
    for i, exposure in enumerate(exposures):
        dq = exposure.arrays["DQ"].copy()
        dq[30 + 3 * i : 45 + 3 * i, 40:52] |= np.uint32(4 << i)  # bits 4, 8, 16 on overlapping blocks
        flagged.append(Exposure(primary=exposure.primary, sci_header=exposure.sci_header,
                                arrays={**exposure.arrays, "DQ": dq}, path=exposure.path))
    params = {**PARAMS, "enable_ctx": True, "enable_err": True, "report_var": True, **options}
    serial = make_resampler(grid.wcs, grid.shape, params, 1.0)
    for exposure, wcs in zip(flagged, wcss):
        add_exposure(serial, exposure, wcs)
    expected = serial.finish()
    parts = [drizzle_exposure(e, w, grid, params) for e, w in zip(flagged, wcss)]
    for part in parts:
        assert set(part.arrays) == {"SCI", "WHT", "CON", "DQ"} | (
            {"VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"} if params["enable_err"] else set())
    reduced = reduce_parts(parts, 3, grid, params)
    assert set(reduced) == set(expected)
    assert ("CON" in reduced) == params["enable_ctx"] and "DQ" in reduced
    assert ("ERR" in reduced) == params["enable_err"] and "VAR_RNOISE" not in reduced
    np.testing.assert_array_equal(reduced["DQ"], expected["DQ"])
    assert set(np.unique(reduced["DQ"]).tolist()) >= {4, 8, 12, 16}  # each block, and 4 | 8 where two meet
    if params["enable_ctx"]:
        np.testing.assert_array_equal(reduced["CON"], expected["CON"])
    if params["enable_err"]:
        np.testing.assert_allclose(reduced["ERR"], expected["ERR"], rtol=1e-6, atol=0)
    np.testing.assert_allclose(reduced["WHT"], expected["WHT"], rtol=1e-6, atol=0)
    np.testing.assert_array_equal(np.isnan(reduced["SCI"]), np.isnan(expected["SCI"]))
    assert reduced["keywords"] == expected["keywords"]


def test_reduce_ors_dq_by_hand(tiny_grid):
    """DQ 1 on A's crop, 4 on B's: the overlap is 5, elsewhere each part's own, 0 where none reaches."""
    a = _part(0, 0, (3, 4), 2.0, 1.0, 1.0, 4.0, TIMES_A)
    b = _part(2, 1, (3, 4), 5.0, 3.0, 0.5, 2.0, TIMES_B)
    a.arrays["DQ"] = np.full((3, 4), 1, np.uint32)
    b.arrays["DQ"] = np.full((3, 4), 4, np.uint32)
    out = reduce_parts([a, b], 2, tiny_grid, {**PARAMS, "propagate_dq": True, "enable_ctx": False})
    assert [out["DQ"][p] for p in ((0, 0), (3, 5), (1, 2), (3, 0))] == [1, 4, 5, 0]
    assert "CON" not in out
    del b.arrays["DQ"]
    with pytest.raises(ValueError, match="part 1 has no DQ"):
        reduce_parts([a, b], 2, tiny_grid, {**PARAMS, "propagate_dq": True})


def test_part_is_the_exposure_alone_on_the_grid(dithers):
    """A part is the full-grid drizzle of its exposure alone, cut to the crop (nothing falls outside)."""
    wcss, exposures, grid = dithers
    alone = make_resampler(grid.wcs, grid.shape, PARAMS, 1.0)
    variances = add_exposure(alone, exposures[1], wcss[1])
    full = {**alone.finish(), **variances}
    full["CON"] = full["CON"][0]
    part = drizzle_exposure(exposures[1], wcss[1], grid, PARAMS)
    for name, array in part.arrays.items():
        np.testing.assert_array_equal(array, full[name][part.region], err_msg=name)
    outside = np.ones(grid.shape, bool)
    outside[part.region] = False
    assert not full["WHT"][outside].any() and not full["CON"][outside].any()


def test_grid_and_part_files_round_trip(dithers, tmp_path):
    wcss, exposures, grid = dithers
    write_grid(grid, tmp_path / "grid.asdf")
    again = read_grid(tmp_path / "grid.asdf")
    assert again.shape == grid.shape and again.pixel_scale_ratio == grid.pixel_scale_ratio
    x, y = np.meshgrid(np.arange(0, grid.shape[1], 7.3), np.arange(0, grid.shape[0], 5.1))
    assert np.array_equal(np.array(again.wcs(x, y)), np.array(grid.wcs(x, y)))
    assert np.array_equal(np.array(again.wcs.invert(10.0, -30.0)), np.array(grid.wcs.invert(10.0, -30.0)))
    part = drizzle_exposure(exposures[0], wcss[0], grid, PARAMS)
    write_part(part, grid, tmp_path / "p_mosaic_part.fits", "dither0_cal.fits")
    back = read_part(tmp_path / "p_mosaic_part.fits")
    assert (back.x0, back.y0, back.grid_shape, back.times) == (part.x0, part.y0, part.grid_shape, part.times)
    for name, array in part.arrays.items():
        assert np.asarray(back.arrays[name], array.dtype).tobytes() == array.tobytes(), name
    with fits.open(tmp_path / "p_mosaic_part.fits") as hdul:  # the crop's own TAN WCS
        assert hdul["SCI"].header["CRPIX1"] == rg.tan_header(grid.wcs)["CRPIX1"] - part.x0
    lean = drizzle_exposure(exposures[0], wcss[0], grid, {**PARAMS, "enable_err": False, "propagate_dq": True})
    write_part(lean, grid, tmp_path / "q_mosaic_part.fits", "dither0_cal.fits")
    back = read_part(tmp_path / "q_mosaic_part.fits")
    assert set(back.arrays) == {"SCI", "WHT", "CON", "DQ"}
    assert back.arrays["DQ"].tobytes() == lean.arrays["DQ"].tobytes()


# ----------------------------------------------------------------- the shared pixel map and grid
def test_exposure_map_by_hand_and_its_file(dithers, tmp_path):
    """Bounding box x 3.2..95.7, y -0.5..80.4 on 90 x 100 pixels: drizzle reads columns 3-96, rows 0-80
    (stcal's rounding), the map is NaN outside columns 4-95, rows 0-80 (pixel centres inside); the file gives
    back the same float64 bits, and the part drizzled from it is the part drizzled from the gwcs."""
    _, exposures, grid = dithers
    wcs = distorted_wcs(10.0, -30.0, shape=SHAPE, seed=7)
    wcs.bounding_box = ((3.2, 95.7), (-0.5, 80.4))
    mapping = grid_map(wcs, SHAPE, grid, PARAMS)
    assert mapping.pixel_range == {"xmin": 3, "xmax": 96, "ymin": 0, "ymax": 80}
    finite = np.isfinite(mapping.pixmap[..., 0])
    assert np.array_equal(finite, np.isfinite(mapping.pixmap[..., 1]))
    assert finite[:81, 4:96].all() and not finite[81:].any() and not finite[:, :4].any() and not finite[:, 96:].any()
    write_exposure_map(mapping, tmp_path / "p_outlier_pixmap.fits", "p_skymatch.fits")
    back = read_exposure_map(tmp_path / "p_outlier_pixmap.fits")
    assert back.pixmap.dtype == np.float64 and back.pixmap.tobytes() == mapping.pixmap.tobytes()
    assert back.pixel_range == mapping.pixel_range
    with fits.open(tmp_path / "p_outlier_pixmap.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "X", "Y"] and hdul[0].header["CALFILE"] == "p_skymatch.fits"
    from_gwcs = drizzle_exposure(exposures[0], wcs, grid, PARAMS)
    from_file = drizzle_exposure(exposures[0], None, grid, PARAMS, back)
    assert (from_file.x0, from_file.y0) == (from_gwcs.x0, from_gwcs.y0)
    for name, array in from_gwcs.arrays.items():
        assert from_file.arrays[name].tobytes() == array.tobytes(), name
    small = read_exposure_map(tmp_path / "p_outlier_pixmap.fits")
    small.pixmap = small.pixmap[:-1]
    with pytest.raises(MiricalError, match=r"dither0: its \(90, 100\) pixels differ from its pixel map's \(89, 100\)"):
        drizzle_exposure(exposures[0], None, grid, PARAMS, small)
    write_grid(grid, tmp_path / "grid.asdf")
    with pytest.raises(MiricalError, match="grid.asdf: not a pixel map file"):
        read_exposure_map(tmp_path / "grid.asdf")


def test_copied_grid_is_the_same_file_checked_against_allowed_memory(dithers, tmp_path, monkeypatch):
    from mirical.drizzle.memory import available_memory

    _, _, grid = dithers
    write_grid(grid, tmp_path / "outlier_grid.asdf")
    copied = copy_grid(tmp_path / "outlier_grid.asdf", tmp_path / "mosaic_grid.asdf", {"allowed_memory": None})
    assert (tmp_path / "mosaic_grid.asdf").read_bytes() == (tmp_path / "outlier_grid.asdf").read_bytes()
    assert (copied.shape, copied.pixel_scale_ratio, copied.given) == (grid.shape, 1.0, False)
    fraction = 0.5 * grid.shape[0] * grid.shape[1] * 48 / available_memory()  # half of what the mosaic needs
    with pytest.raises(MiricalError, match=r"^config mosaic: the output grid of \d+ x \d+ pixels"):
        copy_grid(tmp_path / "outlier_grid.asdf", tmp_path / "refused.asdf", {"allowed_memory": fraction})
    assert not (tmp_path / "refused.asdf").exists()


@pytest.mark.workflow
def test_workflow_shares_the_outlier_grid_and_pixel_maps(demo_run, tmp_path):
    """On the default grid the mosaic's grid file is outlier detection's, byte for byte, and the one computed
    from every exposure's gwcs; each exposure's pixel map file is the map of its gwcs onto that grid, exactly,
    whether read from outlier detection's input or from the crf file the mosaic drizzles (the part drizzled from
    such a map is the part drizzled from the gwcs: `test_exposure_map_by_hand_and_its_file`)."""
    from mirical.drizzle.i2d import exposure_wcs
    from mirical.formats.io import read_exposure

    inter = demo_run / "intermediate"
    params = yaml.safe_load((REPO / "config.yaml").read_text())["mosaic"]
    params.pop("lyot")
    grid_bytes = (inter / "demo_mosaic_grid.asdf").read_bytes()
    assert grid_bytes == (inter / "demo_outlier_grid.asdf").read_bytes()
    products = ("demo_dither1", "demo_dither2")
    computed = compute_grid([str(inter / f"{p}_tweakreg.fits") for p in products], params)
    write_grid(computed, tmp_path / "computed_grid.asdf")
    assert (tmp_path / "computed_grid.asdf").read_bytes() == grid_bytes
    grid = read_grid(inter / "demo_mosaic_grid.asdf")
    for product in products:
        shared = read_exposure_map(inter / f"{product}_outlier_pixmap.fits")
        for source in (inter / f"{product}_skymatch.fits", demo_run / f"{product}_crf.fits"):
            exposure = read_exposure(source)
            again = grid_map(exposure_wcs(str(source), exposure.asdf), exposure.shape, grid, params)
            assert again.pixmap.tobytes() == shared.pixmap.tobytes(), source.name
            assert again.pixel_range == shared.pixel_range


# ----------------------------------------------------------------- the workflow's mosaic == serial, reduced demo
@pytest.mark.workflow
def test_workflow_mosaic_equals_serial_drizzle(demo_run, tmp_path):
    """demo_i2d.fits from the map/reduce jobs against `mirical.steps.resample.drizzle` of the same exposures (the
    crf files: outlier detection ran), written the way the serial rule wrote it: every header and the ASDF
    tree byte-identical but for the group id the mosaic keeps."""
    params = yaml.safe_load((REPO / "config.yaml").read_text())["mosaic"]
    params.pop("lyot")  # which exposures stage 3 reads (rule lyot_mask), not a parameter of the drizzle
    products = ("demo_dither1", "demo_dither2")
    cals = [str(demo_run / f"{p}_crf.fits") for p in products]
    serial = drizzle(cals, params)
    add_history(serial, "mosaic", params)
    write_exposure(serial, tmp_path / "demo_i2d.fits")
    parts = [read_part(demo_run / "intermediate" / f"{p}_mosaic_part.fits") for p in products]
    grid = read_grid(demo_run / "intermediate" / "demo_mosaic_grid.asdf")
    assert grid.shape == serial.shape and grid.shape == compute_grid(cals, params).shape
    with fits.open(demo_run / "demo_i2d.fits") as new, fits.open(tmp_path / "demo_i2d.fits") as old:
        assert [h.name for h in new] == [h.name for h in old]
        for a, b in zip(new, old):
            if a.name != "ASDF":  # its length differs by the group id (below)
                assert a.header.tostring() == b.header.tostring(), a.name
        new_tree, old_tree = read_tree(new["ASDF"]), read_tree(old["ASDF"])
        with fits.open(cals[0]) as first:  # the mosaic keeps the first exposure's group id, as the official's
            assert new_tree["meta"].pop("group_id") == read_tree(first["ASDF"])["meta"]["group_id"]
        assert "group_id" not in old_tree["meta"]  # the per-exposure drizzle drops it, as image2's i2d
        assert asdf_bytes(new_tree) == asdf_bytes(old_tree)
        reduced = {h.name: h.data for h in new if h.name not in ("PRIMARY", "ASDF")}
        ref = {h.name: h.data for h in old if h.name not in ("PRIMARY", "ASDF")}
    assert_same_mosaic(ref, reduced, parts)
