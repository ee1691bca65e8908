"""photom on small arrays with hand-computed values."""
import numpy as np
import pytest

from mirical.steps import photom


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


def test_photom_apply_inverse_divides_data_and_variances():
    arrays = {"SCI": np.array([[2.0]], np.float32), "ERR": np.array([[0.5]], np.float32),
              "VAR_POISSON": np.array([[0.16]], np.float32), "VAR_RNOISE": np.array([[0.08]], np.float32),
              "VAR_FLAT": np.array([[0.32]], np.float32), "DQ": np.zeros((1, 1), np.uint32)}
    out = photom.apply(arrays, 4.0, inverse=True)
    assert (out["SCI"][0, 0], out["ERR"][0, 0]) == (0.5, 0.125)  # / 4
    assert out["VAR_POISSON"][0, 0] == np.float32(np.float32(0.16) / 16.0)  # / 4^2
    assert out["VAR_RNOISE"][0, 0] == np.float32(np.float32(0.08) / 16.0)
    assert out["VAR_FLAT"][0, 0] == np.float32(np.float32(0.32) / 16.0)
    assert all(out[name].dtype == np.float32 for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"))


@pytest.mark.parametrize("inverse, sci, unit", [(False, 3.0, "MJy/sr"), (True, 0.75, "DN/s")])
def test_photom_calibrate_inverse_units_and_keywords(inverse, sci, unit):
    """inverse: SCI / PHOTMJSR, BUNIT DN/s (variances (DN/s)^2); PHOTMJSR and AREA written either way."""
    from astropy.io import fits

    from mirical.formats.io import Exposure, ReferenceImage

    primary = fits.Header({"FILTER": "F770W", "SUBARRAY": "FULL", "SUBSTRT1": 1, "SUBSTRT2": 1,
                           "SUBSIZE1": 2, "SUBSIZE2": 1})
    arrays = {"SCI": np.full((1, 2), 1.5, np.float32), "ERR": np.full((1, 2), 0.5, np.float32),
              "VAR_POISSON": np.full((1, 2), 0.25, np.float32), "DQ": np.zeros((1, 2), np.uint32)}
    exposure = Exposure(primary, fits.Header(), arrays, path="x_rate.fits")
    area_header = fits.Header({"PIXAR_SR": 2.8e-13, "PIXAR_A2": 0.0121, "SUBSTRT1": 1, "SUBSTRT2": 1})
    area = ReferenceImage({"SCI": np.array([[1.0, 1.1]], np.float32)}, area_header, "area.fits")
    table = np.array([("F770W", "GENERIC", 2.0, 0.01)], dtype=PHOTOM.dtype)
    exposure, c = photom.calibrate(exposure, {"PHOTOM": table}, "photom.fits", area, inverse=inverse)
    assert c == 2.0
    assert exposure.arrays["SCI"][0, 0] == sci
    assert exposure.arrays["VAR_POISSON"][0, 0] == (0.0625 if inverse else 1.0)
    assert exposure.sci_header["BUNIT"] == unit
    assert exposure.ext_headers["VAR_POISSON"]["BUNIT"] == f"({unit})^2"
    assert exposure.sci_header["PHOTMJSR"] == 2.0
    assert exposure.arrays["AREA"].tolist() == [[1.0, np.float32(1.1)]]
    assert exposure.primary["S_PHOTOM"] == "COMPLETE"
