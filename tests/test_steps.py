"""background, flat_field and photom on small arrays with hand-computed values."""
import numpy as np
import pytest

from mirical import background, flat_field, photom
from mirical.dqflags import DO_NOT_USE, JUMP_DET, NO_FLAT_FIELD
from mirical.subarray import covers, cut


# ----------------------------------------------------------------- background
def test_background_single_member_is_subtracted_exactly():
    bkg = background.combine([np.array([[1.0, 2.0], [3.0, 4.0]])], [np.full((2, 2), 0.5)],
                             [np.array([[0, 4], [0, 0]], dtype=np.uint32)])
    np.testing.assert_allclose(bkg.sci, [[1, 2], [3, 4]])
    np.testing.assert_allclose(bkg.err, 0.5)  # sqrt(0.5^2) / 1
    sci, dq = background.subtract(np.full((2, 2), 10.0), np.array([[1, 0], [0, 0]], dtype=np.uint32), bkg)
    np.testing.assert_allclose(sci, [[9, 8], [7, 6]])
    assert dq.tolist() == [[1, 4], [0, 0]]


def test_background_sigma_clips_the_outlier_member():
    # Five members; at pixel (0, 0) member 4 is an outlier (100 vs ~10).
    values = [10.0, 10.2, 9.8, 10.1, 100.0]
    scis = [np.full((1, 2), v) for v in values]
    scis[4][0, 1] = 10.0  # no outlier at pixel (0, 1)
    errs = [np.full((1, 2), e) for e in (1.0, 2.0, 2.0, 1.0, 3.0)]
    dqs = [np.zeros((1, 2), np.uint32) for _ in values]
    dqs[4][0, 0] = JUMP_DET
    bkg = background.combine(scis, errs, dqs, sigma=1.5, maxiters=None)
    # Pixel (0,0): median 10.1, std of all five ~36 -> 100 is 2.5 sigma away: clipped;
    # then the four left have std 0.15 and nothing more is clipped at 1.5 sigma? 9.8 is
    # 2.0 std (0.3/0.15) from median 10.05: clipped too; then 10, 10.2, 10.1 remain.
    assert bkg.sci[0, 0] == pytest.approx((10.0 + 10.2 + 10.1) / 3)
    assert bkg.err[0, 0] == pytest.approx(np.sqrt(1 + 4 + 1) / 3)
    # Pixel (0,1): 10, 10.2, 9.8, 10.1, 10: std 0.126, median 10; 10.2 and 9.8 are
    # 1.58 std away: clipped; then 10, 10.1, 10 remain (std 0.047, 10.1 is 2.1 std: clipped).
    assert bkg.sci[0, 1] == pytest.approx(10.0)
    assert bkg.err[0, 1] == pytest.approx(np.sqrt(1 + 9) / 2)
    assert bkg.dq[0, 0] == JUMP_DET  # DQ is OR-ed without clipping


def test_background_nan_members_are_masked():
    scis = [np.array([[np.nan]]), np.array([[4.0]])]
    bkg = background.combine(scis, [np.ones((1, 1)), np.full((1, 1), 2.0)],
                             [np.zeros((1, 1), np.uint32)] * 2)
    assert bkg.sci[0, 0] == 4.0
    assert bkg.err[0, 0] == pytest.approx(2.0)


def test_subarray_cut_from_full_frame_and_no_overlap_is_nan():
    full = np.arange(1024 * 1032, dtype=float).reshape(1024, 1032)
    sub = cut(full, (1, 1, 1032, 1024), (413, 51, 256, 256))
    assert sub.shape == (256, 256)
    assert sub[0, 0] == full[50, 412] and sub[-1, -1] == full[305, 667]
    elsewhere = cut(np.ones((64, 72)), (1, 779, 72, 64), (413, 51, 256, 256))
    assert np.isnan(elsewhere).all()
    assert covers((1, 1, 1032, 1024), (413, 51, 256, 256))
    assert not covers((413, 51, 256, 256), (1, 1, 1032, 1024))


# ----------------------------------------------------------------- flat_field
def _arrays(sci, var_p=None, var_r=None, dq=None):
    sci = np.asarray(sci, dtype=float)
    return {"SCI": sci, "ERR": np.zeros_like(sci),
            "DQ": np.zeros(sci.shape, np.uint32) if dq is None else np.asarray(dq, np.uint32),
            "VAR_POISSON": np.full(sci.shape, 4.0) if var_p is None else var_p,
            "VAR_RNOISE": np.full(sci.shape, 1.0) if var_r is None else var_r}


def test_flat_field_formulas():
    out = flat_field.apply(_arrays([[10.0, 6.0]]), np.array([[2.0, 0.5]]), np.array([[0.2, 0.05]]),
                           np.zeros((1, 2), np.uint32))
    # pixel 0: f = 2 -> SCI 5, VAR_P 4/4 = 1, VAR_R 1/4, VAR_FLAT = 25 * 0.04 / 4 = 0.25
    assert out["SCI"][0, 0] == pytest.approx(5.0)
    assert out["VAR_POISSON"][0, 0] == pytest.approx(1.0)
    assert out["VAR_RNOISE"][0, 0] == pytest.approx(0.25)
    assert out["VAR_FLAT"][0, 0] == pytest.approx(0.25)
    assert out["ERR"][0, 0] == pytest.approx(np.sqrt(1.5))
    # pixel 1: f = 0.5 -> SCI 12, VAR_P 16, VAR_R 4, VAR_FLAT = 144 * 0.0025 / 0.25 = 1.44
    assert out["SCI"][0, 1] == pytest.approx(12.0)
    assert out["VAR_FLAT"][0, 1] == pytest.approx(1.44)
    assert out["ERR"][0, 1] == pytest.approx(np.sqrt(21.44), rel=1e-6)


def test_flat_field_bad_flat_pixels_are_flagged_and_nan():
    flat = np.array([[np.nan, 0.0, 1.0, 1.0]])
    flat_dq = np.array([[0, 0, DO_NOT_USE, 0]], np.uint32)
    out = flat_field.apply(_arrays([[1.0, 2.0, 3.0, 4.0]]), flat, np.zeros((1, 4)), flat_dq)
    assert out["DQ"][0, 0] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 1] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 2] & DO_NOT_USE
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        assert np.isnan(out[name][0, :3]).all(), name
        assert np.isfinite(out[name][0, 3]), name
    assert out["SCI"][0, 3] == 4.0 and out["DQ"][0, 3] == 0


def test_flat_field_nan_science_gets_do_not_use():
    out = flat_field.apply(_arrays([[np.nan, 1.0]], dq=[[0, JUMP_DET]]), np.ones((1, 2)),
                           np.zeros((1, 2)), np.zeros((1, 2), np.uint32))
    assert out["DQ"][0, 0] == DO_NOT_USE
    assert out["DQ"][0, 1] == JUMP_DET  # informational flags leave the data alone
    assert np.isnan(out["VAR_POISSON"][0, 0]) and out["SCI"][0, 1] == 1.0


# ----------------------------------------------------------------- photom
PHOTOM = np.array([("F770W", "FULL", 0.3, 0.01), ("F770W", "GENERIC", 0.4, 0.01),
                   ("F1130W", "GENERIC", 1.5, 0.01), ("F1130W", "SUB256", 1.6, 0.01)],
                  dtype=[("filter", "U12"), ("subarray", "U15"), ("photmjsr", "f4"), ("uncertainty", "f4")])


def test_photom_row_selection_with_generic_fallback():
    assert photom.find_row(PHOTOM, "F770W", "FULL") == 0
    assert photom.find_row(PHOTOM, "f770w", "SUB64") == 1  # GENERIC fallback, case-insensitive
    assert photom.find_row(PHOTOM, "F1130W", "SUB256") == 3
    with pytest.raises(photom.PhotomRowError, match="no row for FILTER=F2100W"):
        photom.find_row(PHOTOM, "F2100W", "FULL")
    twice = np.concatenate([PHOTOM, PHOTOM[:1]])
    with pytest.raises(photom.PhotomRowError, match="2 rows"):
        photom.find_row(twice, "F770W", "FULL")


def test_photom_time_dependence_formulas():
    lin = np.array([(60000.0, 0.0365)], dtype=[("t0", "f8"), ("lossperyear", "f8")])
    exp = np.array([(60000.0, 0.1, 100.0, 0.9)],
                   dtype=[("t0", "f8"), ("amplitude", "f8"), ("tau", "f8"), ("const", "f8")])
    pw = np.array([(60000.0, 0.95, 30.0, -0.2)],
                  dtype=[("t0", "f8"), ("year1value", "f8"), ("tsoft", "f8"), ("alpha", "f8")])
    t = 60100.0
    assert photom.time_correction({"TIMECOEFF_LINEAR": lin}, 0, t) == pytest.approx(1 - 0.0365 * 100 / 365)
    assert photom.time_correction({"TIMECOEFF_EXPONENTIAL": exp}, 0, t) == pytest.approx(0.1 * np.exp(-1) + 0.9)
    expected_pw = 130.0**-0.2 / (395.0**-0.2 / 0.95)
    assert photom.time_correction({"TIMECOEFF_POWERLAW": pw}, 0, t) == pytest.approx(expected_pw)
    both = photom.time_correction({"TIMECOEFF_LINEAR": lin, "TIMECOEFF_POWERLAW": pw}, 0, t)
    assert both == pytest.approx((1 - 0.01) * expected_pw)
    table = PHOTOM[:1]
    c = photom.conversion(table, {"TIMECOEFF_LINEAR": lin}, "F770W", "FULL", t)
    assert c == pytest.approx(0.3 / 0.99, rel=1e-6)
    assert photom.conversion(table, {"TIMECOEFF_LINEAR": lin}, "F770W", "FULL", t, False) == pytest.approx(0.3)


def test_photom_time_dependence_in_float32_as_the_official_pipeline():
    """EXPMID 59820.001 is 59820.0 in float32: 1 - 0.25 * 100 / 365 in float32, not 1 - 0.25 * 100.001 / 365."""
    lin = np.array([(59720.0, 0.25), (59000.0, 0.5)], dtype=[("t0", "f8"), ("lossperyear", "f8")])
    corr = photom.time_correction({"TIMECOEFF_LINEAR": lin}, 0, 59820.001)
    assert corr == float(np.float32(1.0) - np.float32(25.0) / np.float32(365.0))
    assert abs(corr - (1 - 0.25 * 100.001 / 365)) > 6e-7
    pw = np.array([(59720.0, 0.95, 30.0, -0.08)],
                  dtype=[("t0", "f8"), ("year1value", "f8"), ("tsoft", "f8"), ("alpha", "f8")])
    # 59954.29103 -> 59954.29296875 in float32, so (t - t0 + tsoft) = 264.29296875 exactly
    x, a = np.float32(264.29296875), np.float32(-0.08)
    expected = float(x**a / (np.float32(395.0) ** a / np.float32(0.95)))
    assert photom.time_correction({"TIMECOEFF_POWERLAW": pw}, 0, 59954.29103251507) == expected


def test_photom_apply_scales_data_and_variances():
    arrays = {"SCI": np.array([[2.0]]), "ERR": np.array([[0.5]]), "VAR_POISSON": np.array([[0.16]]),
              "VAR_RNOISE": np.array([[0.09]]), "VAR_FLAT": np.array([[0.0]]), "DQ": np.zeros((1, 1), np.uint32)}
    out = photom.apply(arrays, 3.0)
    assert out["SCI"][0, 0] == pytest.approx(6.0)
    assert out["ERR"][0, 0] == pytest.approx(1.5)
    assert out["VAR_POISSON"][0, 0] == pytest.approx(1.44)
    assert out["VAR_RNOISE"][0, 0] == pytest.approx(0.81)
