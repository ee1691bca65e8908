"""tweakreg on small hand-made cases: the catalog's positions, a known shift and rotation recovered, too few
stars, one group, the absolute catalog file, the footprint check, and the corrected gwcs through the cal file."""

import numpy as np
import pytest
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.modeling.models import Gaussian2D, Scale, Shift
from astropy.table import Table

from conftest import REPO
from mirical.errors import MiricalError
from mirical.formats.asdf_extension import read_tree, with_wcs
from mirical.formats.io import Exposure, read_exposure, write_exposure
from mirical.steps import for_filter
from mirical.steps.assign_wcs import build_wcs
from mirical.steps.tweakreg import (AlignInput, align, apply_fit, check_abs_refcat, check_small, corrected_wcs,
                                    fit_rows, read_abs_refcat, read_fit, write_table, FIT_COLUMNS)
from mirical.steps.tweakreg_catalog import find_sources, parse_catfile, read_user_catalog, within_bounding_box

PARAMS = yaml.safe_load((REPO / "config.yaml").read_text())["tweakreg"]
SHAPE = (1024, 1032)  # ny, nx
POINTING = {"V2_REF": -453.559, "V3_REF": -373.814, "ROLL_REF": 30.0, "RA_REF": 53.16, "DEC_REF": -27.79}
PIXEL = 0.11  # arcsec


def params(**changes):
    return {**for_filter(PARAMS, None), **changes}


def linear_wcs(**pointing):
    """A MIRI-like gwcs with a distortion-free 0.11"/pixel detector -> V2/V3 (full frame)."""
    distortion = ((Shift(-516.5) & Shift(-511.5)) | (Scale(PIXEL) & Scale(PIXEL))
                  | (Shift(POINTING["V2_REF"]) & Shift(POINTING["V3_REF"])))
    return build_wcs(distortion, 0.0, 0.0, {**POINTING, **pointing})


def star_field(n=60, seed=3):
    """RA/Dec of ``n`` stars at least 3" apart inside the central 900 x 900 pixels of the detector."""
    rng = np.random.default_rng(seed)
    wcs = linear_wcs()
    x, y = [], []
    while len(x) < n:
        cx, cy = rng.uniform(66, 966), rng.uniform(62, 962)
        if all(np.hypot(cx - a, cy - b) > 30 for a, b in zip(x, y)):
            x.append(cx)
            y.append(cy)
    return wcs(np.array(x), np.array(y))


def catalog_of(wcs, ra, dec, name):
    """The pixel positions where a true WCS puts the stars: what a catalog of the exposure would hold."""
    x, y = wcs.invert(ra, dec)
    table = Table({"id": np.arange(1, len(x) + 1), "x": x, "y": y, "flux": np.ones(len(x))})
    table.meta["name"] = name
    return table


def inputs_for(recorded, truths, ra, dec, groups=("a", "b")):
    return [AlignInput(f"p{k}", f"p{k}_cal.fits", wcs, {"v2_ref": POINTING["V2_REF"], "v3_ref": POINTING["V3_REF"],
                                                          "roll_ref": wcs_roll}, group,
                       catalog_of(truth, ra, dec, f"p{k}_cal"))
            for k, (wcs, truth, group, wcs_roll) in enumerate(zip(recorded, truths, groups,
                                                                   [POINTING["ROLL_REF"]] * len(recorded)))]


def error_mas(wcs, truth, ra, dec):
    """Largest distance (mas) between the stars and where ``wcs`` puts their true pixel positions."""
    x, y = truth.invert(ra, dec)
    got_ra, got_dec = wcs(x, y)
    return float(np.max(SkyCoord(got_ra, got_dec, unit="deg").separation(SkyCoord(ra, dec, unit="deg")).mas))


# ----------------------------------------------------------------- the catalog
def stars_image(truth, seed=7, shape=(160, 180)):
    """A flat sky of 5 with Gaussian stars (FWHM 2.5 px, peak 1000) at ``truth`` and noise of 0.1; four
    NON_SCIENCE columns of 1e6 on the left, which the search must leave out."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    sigma = 2.5 / 2.3548
    sci = np.full(shape, 5.0)
    for x0, y0 in truth:
        sci += Gaussian2D(1000.0, x0, y0, sigma, sigma)(xx, yy)
    sci += rng.normal(0.0, 0.1, sci.shape)
    dq = np.zeros(sci.shape, np.uint32)
    dq[:, :4] = 512
    sci[:, :4] = 1e6
    return sci, np.ones_like(sci), dq


def distances(found, truth):
    """For each true star, the distance (px) to the nearest source found."""
    return np.array([np.hypot(np.asarray(found["x"]) - x0, np.asarray(found["y"]) - y0).min() for x0, y0 in truth])


CENTRES = [(25, 30), (70, 41), (120, 28), (150, 120), (40, 110), (95, 90), (130, 70), (60, 140)]
OFFSETS = [0.3, 0.55, 0.1, 0.8, 0.45, 0.2, 0.7, 0.9]


def test_catalog_positions_of_known_stars():
    # IRAFStarFinder (the default): stars on pixel centres are found within 0.01 px
    found = find_sources(*stars_image(CENTRES), params(bkg_boxsize=40))
    assert found.colnames == ["id", "x", "y", "flux"] and len(found) == len(CENTRES)
    assert distances(found, CENTRES).max() <= 0.01
    assert len(find_sources(*stars_image(CENTRES), params(bkg_boxsize=40, brightest=3))) == 3
    # off the pixel centres its windowed moments are biased (measured 0.15 px), the segmentation's are not
    subpixel = [(x + f, y + f) for (x, y), f in zip(CENTRES, OFFSETS)]
    iraf = find_sources(*stars_image(subpixel), params(bkg_boxsize=40))
    assert len(iraf) == len(subpixel) and 0.05 < distances(iraf, subpixel).max() < 0.2
    segmentation = find_sources(*stars_image(subpixel), params(bkg_boxsize=40, starfinder="segmentation"))
    assert len(segmentation) == len(subpixel) and distances(segmentation, subpixel).max() <= 0.01
    # DAOStarFinder with the step's sharpness/roundness limits keeps only some: those it keeps are right
    dao = find_sources(*stars_image(CENTRES), params(bkg_boxsize=40, starfinder="dao"))
    assert 0 < len(dao) < len(CENTRES)
    assert distances(Table({"x": [c[0] for c in CENTRES], "y": [c[1] for c in CENTRES]}),
                     list(zip(dao["x"], dao["y"]))).max() <= 0.01


def test_no_star_is_an_empty_catalog_and_the_bounding_box_filters():
    sci = np.random.default_rng(1).normal(0.0, 1.0, (64, 64))
    empty = find_sources(sci, np.ones_like(sci), np.zeros(sci.shape, np.uint32), params(bkg_boxsize=32))
    assert len(empty) == 0 and empty.colnames == ["id", "x", "y", "flux"]
    table = Table({"id": [1, 2, 3], "x": [-0.5, 3.0, 9.5], "y": [2.0, 2.0, 2.0], "flux": [1.0, 1.0, 1.0]})
    kept = within_bounding_box(table, ((-0.5, 9.5), (-0.5, 4.5)))  # strictly inside
    assert list(kept["id"]) == [2]


def test_user_catalogs_from_the_catfile(tmp_path):
    Table({"xcentroid": [1.5], "ycentroid": [2.5]}).write(tmp_path / "mine.ecsv")
    (tmp_path / "cats.txt").write_text("# exposure catalog\nb_cal.fits mine.ecsv\nc_cal.fits\n\n")
    catalogs = parse_catfile(str(tmp_path / "cats.txt"))
    assert catalogs == {"b_cal.fits": str(tmp_path / "mine.ecsv"), "c_cal.fits": None}
    table = read_user_catalog(catalogs["b_cal.fits"])
    assert (table["x"][0], table["y"][0]) == (1.5, 2.5)
    Table({"ra": [1.0]}).write(tmp_path / "bad.ecsv")
    with pytest.raises(MiricalError, match="needs a column 'x'"):
        read_user_catalog(str(tmp_path / "bad.ecsv"))


# ----------------------------------------------------------------- the fit
def test_a_known_shift_and_rotation_is_recovered_to_10_mas(tmp_path):
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs()]
    # the second exposure's recorded pointing is off by 0.6" in RA, 0.4" in Dec and 0.05 deg in roll
    recorded = [truth[0], linear_wcs(RA_REF=POINTING["RA_REF"] + 0.6 / 3600 / np.cos(np.radians(-27.79)),
                                     DEC_REF=POINTING["DEC_REF"] - 0.4 / 3600, ROLL_REF=POINTING["ROLL_REF"] + 0.05)]
    assert error_mas(recorded[1], truth[1], ra, dec) > 700
    inputs = inputs_for(recorded, truth, ra, dec)
    correctors, done, why = align(inputs, params(fitgeometry="rshift"))
    assert done and why is None
    rows = fit_rows(inputs, correctors, done, None)
    assert [r["fit_status"] for r in rows] == ["REFERENCE", "SUCCESS"]
    assert rows[1]["nmatches"] == 60 and rows[1]["applied"] and not rows[0]["applied"]
    assert abs(abs(rows[1]["rotation"]) - 0.05) < 0.002  # degrees
    assert error_mas(correctors[1].wcs, truth[1], ra, dec) <= 10.0
    # the fit table holds what rebuilds the same gwcs in the per-exposure job
    write_table(rows, FIT_COLUMNS, str(tmp_path / "fit.ecsv"), {"status": "COMPLETE"})
    row = read_fit(str(tmp_path / "fit.ecsv"), "p1")
    rebuilt = corrected_wcs(recorded[1], inputs[1].wcsinfo, row)
    assert rebuilt.available_frames == ["detector", "v2v3", "v2v3vacorr", "v2v3corr", "world"]
    x, y = np.meshgrid(np.linspace(0, 1031, 5), np.linspace(0, 1023, 5))
    np.testing.assert_allclose(rebuilt(x, y), correctors[1].wcs(x, y), rtol=0, atol=1e-10)
    assert error_mas(rebuilt, truth[1], ra, dec) <= 10.0


def test_too_few_stars_is_skipped_with_the_official_warning():
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs(RA_REF=POINTING["RA_REF"] + 0.0002)]
    inputs = inputs_for(truth, truth, ra, dec)
    inputs[1].catalog = inputs[1].catalog[:0]  # no source in the second exposure
    correctors, done, why = align(inputs, params())
    assert not done
    assert why.startswith("Too few input images (or groups of images) with non-empty catalogs.")
    rows = fit_rows(inputs, correctors, done, None)
    assert [r["status"] for r in rows] == ["SKIPPED", "SKIPPED"] and not any(r["applied"] for r in rows)
    # three stars (fewer than minobj 15): the fit of that exposure fails, its WCS stays (the official's COMPLETE)
    inputs = inputs_for(truth, truth, ra, dec)
    inputs[1].catalog = inputs[1].catalog[:3]
    correctors, done, _ = align(inputs, params())
    rows = fit_rows(inputs, correctors, done, None)
    assert rows[1]["fit_status"].startswith("FAILED") and not rows[1]["applied"]


def test_one_group_is_skipped():
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs(RA_REF=POINTING["RA_REF"] + 0.0002)]
    correctors, done, why = align(inputs_for(truth, truth, ra, dec, groups=("g", "g")), params())
    assert not done
    assert why == "At least two exposures are required for image alignment. Nothing to do. Skipping 'TweakRegStep'..."


def test_separation_must_exceed_tolerance_and_a_large_move_is_rejected():
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs()]
    recorded = [truth[0], linear_wcs(RA_REF=POINTING["RA_REF"] + 0.5 / 3600)]
    inputs = inputs_for(recorded, truth, ra, dec)
    _, done, why = align(inputs, params(separation=0.9, tolerance=0.7))
    assert not done and "must be larger than 'tolerance'" in why
    correctors, done, _ = align(inputs_for(recorded, truth, ra, dec), params())
    assert done
    check_small(correctors, params())  # 0.44": within 2 x (2 + 0.7)"
    with pytest.raises(Exception, match="WCS has been tweaked by more than"):
        check_small(correctors, params(use2dhist=False, tolerance=0.1))  # limit 2 x 0.1" = 0.2"


def test_absolute_catalog_file_aligns_and_web_catalogs_are_refused(tmp_path):
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs(RA_REF=POINTING["RA_REF"] + 0.0002)]
    recorded = [linear_wcs(DEC_REF=POINTING["DEC_REF"] + 0.5 / 3600),
                linear_wcs(RA_REF=POINTING["RA_REF"] + 0.0002, DEC_REF=POINTING["DEC_REF"] + 0.5 / 3600)]
    Table({"ra": ra, "dec": dec}).write(tmp_path / "refcat.ecsv")
    path = check_abs_refcat(str(tmp_path / "refcat.ecsv"))
    refcat = read_abs_refcat(path)
    assert refcat.colnames == ["RA", "DEC"] and len(refcat) == 60
    inputs = inputs_for(recorded, truth, ra, dec)
    correctors, done, _ = align(inputs, params(), refcat)
    assert done
    rows = fit_rows(inputs, correctors, done, path)
    assert all(r["fit_status"] == "SUCCESS" and r["applied"] for r in rows)
    assert rows[0]["wcs_name"] == f"FIT-LVL3-{path}"
    for corrector, wcs in zip(correctors, truth):
        assert error_mas(corrector.wcs, wcs, ra, dec) <= 10.0
    with pytest.raises(MiricalError) as refused:
        check_abs_refcat("GAIADR3")
    assert "abs_refcat" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(MiricalError, match="does not exist"):
        check_abs_refcat(str(tmp_path / "missing.ecsv"))
    assert check_abs_refcat("") is None and check_abs_refcat(None) is None


# ----------------------------------------------------------------- the corrected cal file
def _exposure(wcs):
    sci = fits.Header()
    for key, value in POINTING.items():
        sci[key] = value
    sci["CRPIX1"], sci["CRPIX2"] = 517.5, 512.5
    primary = fits.Header()
    primary["TELESCOP"], primary["INSTRUME"], primary["EXP_TYPE"] = "JWST", "MIRI", "MIR_IMAGE"
    primary["DATAMODL"] = "ImageModel"
    arrays = {name: np.zeros(SHAPE, np.float32) for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE")}
    arrays["DQ"] = np.zeros(SHAPE, np.uint32)
    return Exposure(primary=primary, sci_header=sci, arrays=arrays, asdf=with_wcs(None, wcs), path="p1_cal.fits")


def test_the_corrected_gwcs_round_trips_through_the_file_and_the_sip_header_agrees(tmp_path):
    from astropy.wcs import WCS

    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs()]
    recorded = [truth[0], linear_wcs(RA_REF=POINTING["RA_REF"] + 0.5 / 3600, ROLL_REF=POINTING["ROLL_REF"] + 0.03)]
    inputs = inputs_for(recorded, truth, ra, dec)
    correctors, done, _ = align(inputs, params())
    row = fit_rows(inputs, correctors, done, None)[1]
    exposure = _exposure(recorded[1])
    apply_fit(exposure, row, params())
    write_exposure(exposure, tmp_path / "p1_tweakreg.fits")
    back = read_exposure(tmp_path / "p1_tweakreg.fits", check_instrument=False)
    assert back.primary["S_TWKREG"] == "COMPLETE"
    wcs = read_tree(back.asdf)["meta"]["wcs"]
    assert "v2v3corr" in wcs.available_frames
    x, y = np.meshgrid(np.linspace(0, 1031, 7), np.linspace(0, 1023, 7))
    np.testing.assert_allclose(wcs(x, y), correctors[1].wcs(x, y), rtol=0, atol=1e-10)
    assert error_mas(wcs, truth[1], ra, dec) <= 10.0
    sip = WCS(back.sci_header)
    sra, sdec = sip.pixel_to_world_values(x, y)
    gra, gdec = wcs(x, y)
    offsets = SkyCoord(sra, sdec, unit="deg").separation(SkyCoord(gra, gdec, unit="deg")).arcsec / PIXEL
    assert offsets.max() <= 0.01  # pixels: sip_max_pix_error
    assert back.sci_header["CRPIX1"] == 517.5 and back.sci_header["CTYPE1"].startswith("RA---TAN")
    assert back.sci_header["S_REGION"].startswith("POLYGON ICRS")
    from stdatamodels.jwst import datamodels  # the official reader sees the same gwcs and status

    with datamodels.open(tmp_path / "p1_tweakreg.fits") as model:
        assert model.meta.cal_step.tweakreg == "COMPLETE"
        np.testing.assert_allclose(model.meta.wcs(x, y), wcs(x, y), rtol=0, atol=1e-12)
    # SKIPPED: the status only, WCS and header untouched
    skipped = _exposure(recorded[1])
    before = bytes(skipped.asdf.data.tobytes())
    apply_fit(skipped, {**row, "status": "SKIPPED", "applied": False}, params())
    assert skipped.primary["S_TWKREG"] == "SKIPPED" and skipped.asdf.data.tobytes() == before
    assert "S_REGION" not in skipped.sci_header


def test_layout_names_the_tweakreg_files():
    from mirical.workflow.planning import Layout

    layout = Layout("out", "run")
    assert layout.tweakreg_catalog("a") == "out/intermediate/a_tweakreg_catalog.ecsv"
    assert layout.tweakreg_catalog("a", "fits") == "out/intermediate/a_tweakreg_catalog.fits"
    assert layout.tweakreg_fit() == "out/intermediate/run_tweakreg_fit.ecsv"
    assert layout.tweakreg_exposure("a") == "out/intermediate/a_tweakreg.fits"
    made = layout.products(["a", "b"], tweak=True)
    assert made["tweakreg"] == ["out/intermediate/run_tweakreg_fit.ecsv"]
    assert "out/plots/run_tweakreg.png" in made["plots"]
    assert layout.products(["a", "b"])["tweakreg"] == []


def test_filter_values_replace_the_keys_for_that_filter_only():
    tuned = for_filter(PARAMS, "F1130W")
    assert (tuned["kernel_fwhm"], tuned["searchrad"], tuned["minobj"], tuned["fitgeometry"]) == (3.32, 1.0, 5, "shift")
    plain = for_filter(PARAMS, "F999W")
    assert (plain["kernel_fwhm"], plain["searchrad"], plain["minobj"], plain["fitgeometry"]) == (2.5, 2.0, 15, "rshift")
    assert for_filter({**PARAMS, "filter_defaults": False}, "F1130W")["kernel_fwhm"] == 2.5
    assert "filters" not in tuned and "filter_defaults" not in tuned


def test_match_rows_are_the_residuals_to_the_other_exposures():
    from mirical.steps.tweakreg import match_rows

    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs()]
    recorded = [truth[0], linear_wcs(RA_REF=POINTING["RA_REF"] + 0.5 / 3600)]
    inputs = inputs_for(recorded, truth, ra, dec)
    correctors, done, _ = align(inputs, params())
    rows = match_rows(inputs, correctors, done)
    assert {r["product"] for r in rows} == {"p1"} and len(rows) == 60  # the reference has no fit of its own
    assert max(np.hypot(r["dra"], r["ddec"]) for r in rows) < 0.002  # arcsec: noise-free catalogs
    assert match_rows(inputs, correctors, False) == []


def test_fit_table_names_jwst_groups_also_after_an_absolute_alignment(tmp_path):
    ra, dec = star_field()
    truth = [linear_wcs(), linear_wcs(RA_REF=POINTING["RA_REF"] + 0.0002)]
    Table({"RA": ra, "DEC": dec}).write(tmp_path / "refcat.ecsv")
    inputs = inputs_for(truth, truth, ra, dec, groups=("jw01_1", None))
    correctors, done, _ = align(inputs, params(), read_abs_refcat(str(tmp_path / "refcat.ecsv")))
    assert [r["group"] for r in fit_rows(inputs, correctors, done, None)] == ["jw01_1", "exposure0002"]
