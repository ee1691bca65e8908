"""End to end on the reduced demo: the cal/i2d numbers against formulas and the demo's truth."""
import json
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.modeling import fitting, models
from astropy.table import Table

from conftest import run_snakemake
from mirical.drizzle.i2d import exposure_wcs

pytestmark = pytest.mark.workflow
PRODUCTS = ("demo_dither1", "demo_dither2")


def _open(path):
    with fits.open(path) as hdul:
        return {h.name: (h.header.copy(), None if h.data is None else np.array(h.data)) for h in hdul}, \
            hdul[0].header.copy()


def _ext(hdus, name):
    return hdus[name][1].astype(np.float64)


def test_cal_has_units_statuses_and_keywords(demo_run):
    for product in PRODUCTS:
        hdus, primary = _open(demo_run / f"{product}_cal.fits")
        sci = hdus["SCI"][0]
        assert sci["BUNIT"] == "MJy/sr"
        for key in ("S_BKDSUB", "S_WCS", "S_FLAT", "S_PHOTOM"):
            assert primary[key] == "COMPLETE", key
        assert sci["PHOTMJSR"] > 0 and sci["PIXAR_SR"] == pytest.approx(sci["PIXAR_A2"] / 206264.806247**2)
        assert sci["S_REGION"].startswith("POLYGON ICRS  ")
        assert {"SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "AREA", "ASDF"} <= set(hdus)
        for key in ("R_DISTOR", "R_FILOFF", "R_FLAT", "R_PHOTOM", "R_AREA", "MIRICALV"):
            assert primary[key], key
        assert primary["FILENAME"] == f"{product}_cal.fits"


def test_cal_arrays_match_the_formulas(demo_run):
    """cal = (rate - background) / flat * c; variances / flat^2 * c^2; VAR_FLAT; ERR."""
    data = demo_run / "demo_data"
    bkg_path = next((data / "IMA_background").glob("*_rate.fits"))
    bkg, _ = _open(bkg_path)
    flat, _ = _open(next((data / "reference").glob("jwst_miri_flat_*.fits")))
    photom, _ = _open(data / "reference" / "jwst_miri_photom_mirical.fits")
    asn = json.loads((demo_run / "demo_lvl2_asn.json").read_text())
    for product in asn["products"]:
        rate_path = demo_run / product["members"][0]["expname"]
        rate, rate_primary = _open(rate_path)
        cal, _ = _open(demo_run / f"{product['name']}_cal.fits")
        x0, y0 = rate_primary["SUBSTRT1"] - 1, rate_primary["SUBSTRT2"] - 1
        ny, nx = rate["SCI"][1].shape
        f = _ext(flat, "SCI")[y0:y0 + ny, x0:x0 + nx]
        f_err = _ext(flat, "ERR")[y0:y0 + ny, x0:x0 + nx]
        filters = [(s.decode() if isinstance(s, bytes) else str(s)).strip() for s in photom["PHOTOM"][1]["filter"]]
        row = filters.index(rate_primary["FILTER"])
        t = photom["TIMECOEFF_EXPONENTIAL"][1][row]
        corr = t["amplitude"] * np.exp(-(rate_primary["EXPMID"] - t["t0"]) / t["tau"]) + t["const"]
        c = photom["PHOTOM"][1]["photmjsr"][row] / corr
        assert cal["SCI"][0]["PHOTMJSR"] == pytest.approx(c, rel=1e-6)

        with np.errstate(divide="ignore", invalid="ignore"):  # dead flat pixels: checked as NaN below
            sci = (_ext(rate, "SCI") - _ext(bkg, "SCI")) / f
            expected = {
                "SCI": sci * c,
                "VAR_POISSON": _ext(rate, "VAR_POISSON") / f**2 * c**2,
                "VAR_RNOISE": _ext(rate, "VAR_RNOISE") / f**2 * c**2,
                "VAR_FLAT": sci**2 * f_err**2 / f**2 * c**2,
            }
        expected["ERR"] = np.sqrt(expected["VAR_POISSON"] + expected["VAR_RNOISE"] + expected["VAR_FLAT"])
        dq = cal["DQ"][1]
        good = (dq & 1) == 0
        assert good.mean() > 0.98  # only reference columns, hot and dead pixels are lost
        for name, value in expected.items():
            got = _ext(cal, name)
            np.testing.assert_allclose(got[good], value[good], rtol=2e-6, atol=1e-30, err_msg=name)
            assert np.isnan(got[~good]).all(), name
        bad_flat = ~np.isfinite(f) | (f == 0)
        assert (dq[bad_flat] & (1 | 2**18) == 1 | 2**18).all()  # DO_NOT_USE + NO_FLAT_FIELD
        assert ((dq & rate["DQ"][1]) == rate["DQ"][1]).all()  # input flags kept
        np.testing.assert_array_equal(cal["AREA"][1], flat_cut(data, x0, y0, nx, ny))


def flat_cut(data, x0, y0, nx, ny):
    area, _ = _open(data / "reference" / "jwst_miri_area_mirical.fits")
    return area["SCI"][1][y0:y0 + ny, x0:x0 + nx]


def _gauss_centroid(image, x0, y0, half=7):
    """Centroid from a Gaussian + constant fit to a stamp around (x0, y0)."""
    ix, iy = int(round(x0)), int(round(y0))
    stamp = image[iy - half:iy + half + 1, ix - half:ix + half + 1]
    yy, xx = np.mgrid[iy - half:iy + half + 1, ix - half:ix + half + 1]
    ok = np.isfinite(stamp)
    peak = np.nanmax(stamp) - np.nanmedian(stamp)
    model = models.Gaussian2D(peak, x0, y0, 1.4, 1.4) + models.Const2D(np.nanmedian(stamp))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fitting.TRFLSQFitter()(model, xx[ok], yy[ok], stamp[ok])
    return fit.x_mean_0.value, fit.y_mean_0.value


def _truth_points(demo_run):
    truth = Table.read(demo_run / "demo_data" / "truth.ecsv")
    return truth[truth["kind"] == "point"]


def test_sources_sit_where_the_wcs_puts_their_truth_positions(demo_run):
    """Every truth point source's centroid in each cal is within 0.05 px of its WCS position."""
    points = _truth_points(demo_run)
    for product in PRODUCTS:
        with fits.open(demo_run / f"{product}_cal.fits") as hdul:
            sci = hdul["SCI"].data.astype(float)
            wcs = exposure_wcs(product, hdul["ASDF"])
        xs, ys = wcs.invert(np.asarray(points["ra"]), np.asarray(points["dec"]))
        assert np.isfinite(xs).all() and np.isfinite(ys).all()  # all inside the frame
        offsets = [np.hypot(*np.subtract(_gauss_centroid(sci, x, y), (x, y))) for x, y in zip(xs, ys)]
        assert max(offsets) < 0.05, (product, np.round(offsets, 3))


def test_tweakreg_aligns_the_dithers_and_stage3_reads_its_files(demo_run):
    """The demo's pointing is exact: tweakreg's fitted shift is its noise only (under 10 mas), and the corrected
    WCS puts the truth sources within 10 mas of where the cal file's does."""
    fit = Table.read(demo_run / "intermediate" / "demo_tweakreg_fit.ecsv")
    assert fit.meta["status"] == "COMPLETE"
    assert list(fit["fit_status"]) == ["REFERENCE", "SUCCESS"] and fit["nmatches"][1] >= 10
    assert np.hypot(fit["xshift"][1], fit["yshift"][1]) < 0.010  # arcsec
    points = _truth_points(demo_run)
    for product in PRODUCTS:
        with fits.open(demo_run / "intermediate" / f"{product}_tweakreg.fits") as hdul:
            assert hdul[0].header["S_TWKREG"] == "COMPLETE"
            aligned = exposure_wcs(product, hdul["ASDF"])
        with fits.open(demo_run / f"{product}_cal.fits") as hdul:
            original = exposure_wcs(product, hdul["ASDF"])
        assert ("v2v3corr" in aligned.available_frames) == (product == "demo_dither2")
        x, y = original.invert(np.asarray(points["ra"]), np.asarray(points["dec"]))
        ra, dec = aligned(x, y)
        moved = np.hypot((ra - points["ra"]) * np.cos(np.radians(dec)), dec - points["dec"]) * 3.6e6
        assert moved.max() < 10.0, (product, moved.max())  # mas
    with fits.open(demo_run / "intermediate" / "demo_dither2_skymatch.fits") as hdul:
        assert hdul[0].header["S_TWKREG"] == "COMPLETE"  # skymatch read the aligned file


def test_mosaic_conserves_flux_and_places_sources(demo_run):
    """Aperture flux in the mosaic within 1 % of truth (median); centroids within 0.02 px (median)."""
    points = _truth_points(demo_run)
    with fits.open(demo_run / "demo_i2d.fits") as hdul:
        sci = hdul["SCI"].data.astype(float)
        header = hdul["SCI"].header
        wcs = exposure_wcs("mosaic", hdul["ASDF"])
        primary = hdul[0].header
    assert primary["NDRIZ"] == 2 and primary["S_RESAMP"] == "COMPLETE"
    assert header["PIXAR_SR"] == pytest.approx(header["PIXAR_A2"] / 206264.806247**2)
    xs, ys = wcs.invert(np.asarray(points["ra"]), np.asarray(points["dec"]))
    yy, xx = np.mgrid[0:sci.shape[0], 0:sci.shape[1]]
    ratios, offsets = [], []
    for x, y, flux in zip(xs, ys, points["flux_ujy"]):
        r = np.hypot(xx - x, yy - y)
        sky = np.nanmedian(sci[(r > 15) & (r < 22)])
        aperture = np.nansum(sci[r < 12] - sky)
        ratios.append(aperture * header["PIXAR_SR"] * 1e12 / flux)  # MJy/sr * sr -> microJy
        offsets.append(np.hypot(*np.subtract(_gauss_centroid(sci, x, y), (x, y))))
    assert abs(np.median(ratios) - 1) < 0.01, np.round(ratios, 4)
    assert np.median(offsets) < 0.02, np.round(offsets, 4)


def test_association_is_the_seed_format(demo_run):
    asn = json.loads((demo_run / "demo_lvl2_asn.json").read_text())
    assert asn["asn_type"] == "image2" and asn["asn_rule"] == "DMSLevel2bBase"
    assert asn["asn_pool"] == "demo_pool"
    assert [p["name"] for p in asn["products"]] == list(PRODUCTS)
    for product in asn["products"]:
        kinds = [m["exptype"] for m in product["members"]]
        assert kinds == ["science", "background"]
        for member in product["members"]:
            assert (demo_run / member["expname"]).is_file()  # relative to the association's folder


def test_second_run_has_nothing_to_do(demo_run):
    result = run_snakemake(demo_run.parent, "-n", "--config", "output_dir=out",
                           "demo={n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}")
    assert "Nothing to be done" in result.stdout + result.stderr
