"""destripe (mirical/steps/destripe.py), the imager geometry and the Lyot mask: hand-computed arrays and the simulator."""
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from mirical.demo.simulate import DemoSettings, simulate, stripe_pattern
from mirical.drizzle.engine import drizzle_weight
from mirical.formats.dqflags import DO_NOT_USE, NON_SCIENCE
from mirical.formats.imager_geometry import REGIONS, outside_imager, region_mask
from mirical.formats.io import Exposure, read_exposure
from mirical.steps.destripe import correction, destripe, profile, remove_stripes, smooth
from mirical.steps.lyot_mask import mask_lyot

PARAMS = {"smooth_sigma": 25.0, "min_pixels": 20, "source_nsigma": 3.0, "source_npixels": 5, "source_dilate": 3}
FULL = {"SUBSTRT1": 1, "SUBSTRT2": 1, "SUBSIZE1": 1032, "SUBSIZE2": 1024, "SUBARRAY": "FULL"}


def exposure(sci: np.ndarray, dq: np.ndarray | None = None, **keys) -> Exposure:
    primary = fits.Header({**FULL, **keys})
    arrays = {"SCI": sci.astype(np.float32), "ERR": np.full(sci.shape, 0.5, np.float32),
              "DQ": np.zeros(sci.shape, np.uint32) if dq is None else dq}
    return Exposure(primary=primary, sci_header=fits.Header({"BUNIT": "MJy/sr"}), arrays=arrays, path="x_cal.fits")


# ----------------------------------------------------------------- the profile, its smoothing, the subtraction
def test_profile_is_the_median_of_the_good_pixels_and_nan_with_too_few():
    data = np.array([[1.0, 2.0, 9.0, 4.0],
                     [5.0, np.nan, 7.0, 100.0],
                     [0.0, 0.0, 0.0, 0.0]])
    good = np.isfinite(data) & (data < 50)
    assert np.array_equal(profile(data, good, 1, 1), [3.0, 6.0, 0.0])  # median(1,2,4,9); (5,7); zeros
    columns = profile(data, good, 0, 2)  # column 3: only 4 and 0 are good (2 pixels: kept)
    assert np.array_equal(columns, [1.0, 1.0, 7.0, 2.0])
    assert np.isnan(profile(data, good, 1, 4)[1])  # 2 good pixels < 4


def test_smooth_is_a_normalized_gaussian_over_the_finite_values():
    # one spike in five values, sigma 1: the centre keeps w0 / (w0 + 2 w1 + 2 w2), w_k = exp(-k^2/2)
    w = np.exp(-0.5 * np.arange(3) ** 2)
    spike = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    assert smooth(spike, 1.0)[2] == pytest.approx(w[0] / (w[0] + 2 * w[1] + 2 * w[2]), rel=1e-12)
    # a constant stays itself, NaN gaps and the ends included (no pull towards zero at the edges)
    flat = np.array([4.0, np.nan, 4.0, 4.0, np.nan, 4.0])
    assert np.allclose(smooth(flat, 2.0), 4.0)
    # its stripes: none for a constant (flat regions are not biased), 0 where the profile is NaN
    assert np.array_equal(correction(flat, 2.0), [0, 0, 0, 0, 0, 0])
    # a very wide Gaussian: the smooth profile is the mean, the stripes the deviations from it
    assert np.allclose(correction(np.array([1.0, -1.0, 3.0, 1.0]), 1e4), [0.0, -2.0, 2.0, 0.0], atol=1e-6)


def test_row_then_column_stripes_are_removed_exactly():
    rows = np.array([0.5, -0.5, 0.2, -0.2, 0.0])
    columns = np.array([-1.0, 1.0, 0.3, -0.3, 0.0, 0.0])
    data = 10.0 + rows[:, None] + columns[None, :]
    out, row_fix, column_fix = remove_stripes(data, np.ones(data.shape, bool), 1e4, 1)
    # row medians 10 + rows + median(columns) = 10 + rows; minus their mean: rows; then the columns
    assert np.allclose(row_fix, rows, atol=1e-6) and np.allclose(column_fix, columns, atol=1e-6)
    assert np.allclose(out, 10.0, atol=1e-6)


# ----------------------------------------------------------------- the imager geometry
def test_regions_on_the_full_frame_and_on_subarrays():
    lyot = region_mask("lyot", FULL)
    assert lyot.shape == (1024, 1032) and lyot.sum() == 320 * 304
    ys, xs = np.nonzero(lyot)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (0, 319, 716, 1019)  # detector x 1-320, y 717-1020
    # BRIGHTSKY (x 457-968, y 51-562) is all imager: nothing outside it, no Lyot
    brightsky = {"SUBSTRT1": 457, "SUBSTRT2": 51, "SUBSIZE1": 512, "SUBSIZE2": 512}
    assert not outside_imager(brightsky).any() and not region_mask("lyot", brightsky).any()
    # the MASKLYOT subarray is the region itself
    masklyot = dict(zip(("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2"), REGIONS["lyot"][1]))
    assert region_mask("lyot", masklyot).all()
    # full frame: the imager is detector x 360-1027; every coronagraph lies left of it
    outside = outside_imager(FULL)
    assert outside[:, :359].all() and outside[:, 1027:].all() and not outside[:, 359:1027].any()
    for name in ("4qpm1065", "4qpm1140", "4qpm1550"):
        assert region_mask(name, FULL).sum() == 288 * 224


# ----------------------------------------------------------------- the step on an exposure
def test_destripe_leaves_out_the_coronagraphs_flagged_pixels_and_sources():
    rng = np.random.default_rng(1)
    rows, columns = rng.normal(0, 0.3, 1024), rng.normal(0, 0.3, 1032)
    sci = 20.0 + rows[:, None] + columns[None, :] + rng.normal(0, 0.05, (1024, 1032))
    sci[716:1020, :320] += 50.0  # the Lyot's own background: in no median
    dq = np.zeros(sci.shape, np.uint32)
    dq[::7, 400:700] = DO_NOT_USE  # bad pixels, with wild values
    sci[::7, 400:700] = 1e4
    sci[505:510, 600:605] += 300.0  # a source
    out, row_rms, column_rms = destripe(exposure(sci.copy(), dq.copy()), dict(PARAMS, smooth_sigma=1e6))
    result = out.arrays["SCI"].astype(float)
    imager = ~outside_imager(FULL)
    sky = imager & (dq == 0)
    sky[505:510, 600:605] = False
    # inside the imager only the noise is left (0.05), about the stripes' mean level
    level = 20.0 + rows.mean() + columns[359:1027].mean()
    assert np.std(result[sky]) == pytest.approx(0.05, rel=0.05)
    assert np.mean(result[sky]) == pytest.approx(level, abs=0.005)
    # the Lyot's +50 does not leak into its rows' corrections: there only the row stripe is removed
    # (no column correction outside the imager)
    removed = sci[716:1020, 100] - result[716:1020, 100]
    assert np.abs(removed - (rows[716:1020] - rows.mean())).max() < 0.04  # the masked columns shift a median
    assert np.allclose(sci[716:1020, :359] - result[716:1020, :359], removed[:, None], atol=2e-5)  # float32
    # the source keeps its flux
    assert np.sum(result[505:510, 600:605] - level) == pytest.approx(25 * 300.0, rel=1e-3)
    assert np.array_equal(out.arrays["DQ"], dq) and (out.arrays["ERR"] == 0.5).all()
    assert out.primary["S_DESTRP"] == "COMPLETE"
    assert out.primary["DSTRPROW"] == row_rms and out.primary["DSTRPCOL"] == column_rms
    assert row_rms == pytest.approx(np.std(rows), rel=0.02)
    assert column_rms == pytest.approx(np.std(columns[359:1027]), rel=0.05)


def test_destripe_refuses_one_image_per_integration():
    with pytest.raises(Exception, match="x_cal.fits: destripe needs one image"):
        destripe(exposure(np.zeros((2, 1024, 1032))), PARAMS)


# ----------------------------------------------------------------- on the simulator's stripes
@pytest.fixture(scope="module")
def striped(tmp_path_factory) -> tuple[np.ndarray, np.ndarray, Path]:
    """One full-frame science exposure with stripes of RMS 0.3 DN/s, that exposure without them, its path."""
    settings = DemoSettings(n_dithers=1, n_sources=10, stripes=0.3)
    path = simulate(tmp_path_factory.mktemp("striped"), settings)["science"][0]
    sci = fits.getdata(path, "SCI").astype(float)
    return sci, sci - stripe_pattern(settings, 1, (1, 1, 1032, 1024)), Path(path)


def stripe_rms(data: np.ndarray, good: np.ndarray) -> tuple[float, float]:
    """RMS of the row and of the column medians of ``data`` over ``good``."""
    return tuple(float(np.sqrt(np.nanmean(profile(data, good, axis, 20) ** 2))) for axis in (1, 0))


def test_simulated_stripes_are_removed_and_the_sky_and_sources_kept(striped):
    sci, clean, path = striped
    out, row_rms, column_rms = destripe(read_exposure(str(path)), PARAMS)
    result = out.arrays["SCI"].astype(float)
    dq = fits.getdata(path, "DQ")
    sky = ~outside_imager(FULL) & (dq & DO_NOT_USE == 0)
    before, after = stripe_rms(sci - clean, sky), stripe_rms(result - clean, sky)
    assert before[0] == pytest.approx(0.3, rel=0.05) and before[1] == pytest.approx(0.3, rel=0.05)
    assert after[0] <= before[0] / 10 and after[1] <= before[1] / 10, (before, after)
    assert row_rms == pytest.approx(before[0], rel=0.05) and column_rms == pytest.approx(before[1], rel=0.05)
    # the flat sky keeps its level: the mean change is below 1% of the stripes' RMS
    assert abs(np.nanmean((result - sci)[sky])) < 0.003
    # the sources keep their flux (each segment 10 sigma above the sky, over 20 pixels) to 1e-3
    from photutils.segmentation import detect_sources

    level = np.nanmedian(clean[sky])
    segments = detect_sources(np.where(sky, clean - level, 0.0), 10 * np.nanstd(clean[sky]), 20)
    assert segments.n_labels >= 5
    for label in segments.labels:
        inside = segments.data == label
        truth = np.sum(clean[inside] - level)
        assert np.sum(result[inside] - level) == pytest.approx(truth, rel=1e-3)


# ----------------------------------------------------------------- mosaic.lyot mask
def test_lyot_mask_flags_the_full_frame_lyot_region_only():
    dq = np.zeros((1024, 1032), np.uint32)
    dq[0, 0] = 4
    full = exposure(np.ones((1024, 1032)), dq.copy())
    assert mask_lyot(full) == 320 * 304
    flagged = full.arrays["DQ"].copy()
    assert (flagged[716:1020, :320] & (DO_NOT_USE | NON_SCIENCE) == DO_NOT_USE | NON_SCIENCE).all()
    flagged[716:1020, :320] = 0
    assert np.array_equal(flagged, dq) and (full.arrays["SCI"] == 1).all()
    # no mosaic pixel gets weight from a Lyot pixel: the drizzle's weight is 0 on all of them
    weight = drizzle_weight(full.arrays["DQ"], np.ones((1024, 1032), np.float32), "ivm", 1.0)
    assert not weight[716:1020, :320].any() and weight[:716].all()
    sub = exposure(np.ones((304, 320)), SUBSTRT2=717, SUBSIZE1=320, SUBSIZE2=304, SUBARRAY="MASKLYOT")
    assert mask_lyot(sub) == 0 and not sub.arrays["DQ"].any()


# ----------------------------------------------------------------- the summary's column
def test_the_summary_shows_the_destripe_column_only_when_it_ran(tmp_path):
    from mirical.products.summary import COLUMNS, columns, destripe_text, write_csv

    assert columns([{"product": "a"}]) == COLUMNS  # the defaults' table is today's
    assert list(columns([{"product": "a"}, {"product": "b", "destripe_rms": "0.5"}])) == [*COLUMNS, "destripe_rms"]
    path = tmp_path / "p_destripe.fits"
    fits.PrimaryHDU(header=fits.Header({"S_DESTRP": "COMPLETE", "DSTRPROW": 0.3, "DSTRPCOL": 0.4})).writeto(path)
    with fits.open(path, mode="append") as hdul:
        hdul.append(fits.ImageHDU(np.zeros((2, 2), np.float32), name="SCI"))
    assert destripe_text(str(path)) == "0.5"  # hypot(0.3, 0.4)
    write_csv([{"product": "a", "destripe_rms": "0.5"}], tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0].endswith(",sources,destripe_rms")
