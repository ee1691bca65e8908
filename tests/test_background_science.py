"""steps.background.source science: the background of each exposure from the other science exposures.

Hand-computed small arrays for the source mask and the masked sigma-clipped stack, the refusals,
and the demo's program without a dedicated background against the simulator's true sky and
source fluxes (and against the same program with a dedicated background).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats import dqflags
from mirical.formats.io import Exposure
from mirical.steps.background import MIN_OFFSET_FWHM, combine_masked, fill_from_around, psf_fwhm_arcsec, science_group
from mirical.steps.source_mask import source_mask

# ----------------------------------------------------------------- the masked, sigma-clipped stack
# Five exposures of three pixels, sigma 2. Pixel 0: nothing masked, 100 is clipped in the first
# iteration (median 12, std 35.32: |100 - 12| = 88 > 70.65), then [10, 11, 12, 14] stays (median 11.5,
# std 1.479: every |x - 11.5| <= 2.5 < 2.958): median 11.5, mean 11.75. Pixel 1: the first two are
# sources (masked): [9, 11, 16] (std 2.944, |16 - 11| = 5 < 5.89): median 11, mean 12. Pixel 2: masked,
# NaN or DO_NOT_USE in every exposure: the mean of the pixels with a value in a 3-pixel box, pixel 1's.
SCIS = [[10.0, 50.0, 1.0], [11.0, 60.0, np.nan], [12.0, 9.0, 3.0], [14.0, 11.0, 4.0], [100.0, 16.0, 5.0]]
MASKS = [[0, 1, 1], [0, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1]]
DQS = [[dqflags.JUMP_DET, dqflags.JUMP_DET, 0], [0, dqflags.JUMP_DET, 0], [0, 0, dqflags.DO_NOT_USE], [0, 0, 0],
       [dqflags.PIXEL["OUTLIER"], 0, 0]]


def _combine(statistic):
    arrays = [np.array(a, dtype=np.float64).reshape(1, 3) for a in SCIS]
    errs = [np.ones((1, 3)) for _ in SCIS]
    dqs = [np.array(d, dtype=np.uint32).reshape(1, 3) for d in DQS]
    masks = [np.array(m, dtype=bool).reshape(1, 3) for m in MASKS]
    return combine_masked(arrays, errs, dqs, masks, sigma=2.0, statistic=statistic)


def test_masked_stack_median_by_hand():
    background = _combine("median")
    np.testing.assert_allclose(background.sci[0], [11.5, 11.0, 11.0])
    # ERR: sqrt(pi/2) sqrt(N) / N of the kept (ERR 1); the filled pixel gets its neighbour's
    expected = np.sqrt(np.pi / 2) * np.array([0.5, 1 / np.sqrt(3), 1 / np.sqrt(3)])
    np.testing.assert_allclose(background.err[0], expected, rtol=1e-6)
    # DQ: the OR of the kept values' (the clipped 100's OUTLIER and the masked JUMP_DET not)
    assert background.dq[0].tolist() == [dqflags.JUMP_DET, 0, 0]
    assert background.filled[0].tolist() == [False, False, True]


def test_masked_stack_mean_by_hand():
    background = _combine("mean")
    np.testing.assert_allclose(background.sci[0], [11.75, 12.0, 12.0])
    np.testing.assert_allclose(background.err[0, :2], [0.5, 1 / np.sqrt(3)], rtol=1e-6)


def test_holes_get_the_mean_of_the_smallest_box_around_them_with_values():
    values = 10.0 * np.arange(5)[:, None] + np.arange(5)[None, :]  # 10 row + column
    holes = np.zeros((5, 5), bool)
    holes[1:4, 1:4] = True
    filled = fill_from_around(values, holes)
    np.testing.assert_array_equal(filled[~holes], values[~holes])
    assert filled[1, 1] == pytest.approx((0 + 1 + 2 + 10 + 20) / 5)  # its 3 x 3 box: 5 pixels with a value
    assert filled[1, 2] == pytest.approx((1 + 2 + 3) / 3)
    # the centre's 3 x 3 box has none: the 7 x 7 box (the whole image) has the 16 border pixels
    assert filled[2, 2] == pytest.approx((10 + 210 + 60 + 72) / 16)


def test_masked_stack_refuses_an_unknown_statistic():
    with pytest.raises(ValueError, match="median or mean"):
        _combine("mode")


# ----------------------------------------------------------------- the source mask
def _image(block_value: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    sci = 10.0 + rng.normal(0.0, 1.0, (64, 64))
    sci[10:15, 20:25] += block_value  # a 5 x 5 source, 20 sigma
    dq = np.zeros(sci.shape, np.uint32)
    sci[40, 40] = np.nan
    sci[50, 50] = 1e6  # a hot pixel, DO_NOT_USE: never a source
    dq[50, 50] = dqflags.DO_NOT_USE | dqflags.HOT
    return sci, dq


def test_source_mask_is_the_source_then_grown_by_a_disk():
    sci, dq = _image()
    block = np.zeros(sci.shape, bool)
    block[10:15, 20:25] = True
    np.testing.assert_array_equal(source_mask(sci, dq, 3.0, 5, 0, 32), block)
    grown = source_mask(sci, dq, 3.0, 5, 2, 32)
    # a disk of radius 2 (offsets x^2 + y^2 <= 4) around a 5 x 5 block: 25 + 4 sides x 5 x 2 + 4 corners
    assert grown.sum() == 25 + 40 + 4
    assert grown[block].all() and grown[8, 22] and grown[9, 19] and not grown[8, 19]


def test_source_mask_threshold_and_size():
    sci, dq = _image(block_value=1.0)  # 1 sigma: below a 3-sigma threshold
    assert not source_mask(sci, dq, 3.0, 5, 0, 32).any()
    sci, dq = _image()
    assert not source_mask(sci, dq, 3.0, 26, 0, 32).any()  # 25 pixels: fewer than npixels


# ----------------------------------------------------------------- refusals
def _exposure(name: str, ra_arcsec: float = 0.0, filter_name: str = "F1130W", ints: bool = False) -> Exposure:
    primary = fits.Header({"INSTRUME": "MIRI", "FILTER": filter_name, "SUBARRAY": "FULL", "READPATT": "FASTR1"})
    sci = fits.Header({"RA_REF": 53.0 + ra_arcsec / 3600.0 / np.cos(np.radians(-27.0)), "DEC_REF": -27.0})
    shape = (2, 4, 4) if ints else (4, 4)
    return Exposure(primary, sci, {"SCI": np.zeros(shape, np.float32)}, path=f"{name}_rate.fits")


def test_fewer_than_three_exposures_is_refused_naming_the_product():
    with pytest.raises(MiricalError, match=r"product p1: steps.background.source science needs at least 3 "
                                           r"exposures of F1130W/FULL/FASTR1 \(this one included\), found 2"):
        science_group("p1", _exposure("a"), [_exposure("b", 5.0)])


def test_small_dither_offsets_are_refused():
    limit = MIN_OFFSET_FWHM * 0.375  # F1130W: 0.5625 arcsec
    others = [_exposure("b", 0.5), _exposure("c", -0.4), _exposure("d", 3.0)]
    with pytest.raises(MiricalError, match=r"product p1: dither offsets too small .*: 1 of the 3 other exposures "
                                           r"are 0.562 arcsec"):
        science_group("p1", _exposure("a"), others)
    group = science_group("p1", _exposure("a"), others + [_exposure("e", limit + 0.01)])
    assert (group.used, group.near) == ([2, 3], [0, 1])
    assert group.min_offset == pytest.approx(0.4, abs=1e-6)


def test_other_filter_and_rateints_are_refused():
    with pytest.raises(MiricalError, match=r"b_rate.fits: not a rate file of p1's FILTER/SUBARRAY/READPATT"):
        science_group("p1", _exposure("a"), [_exposure("b", 3.0, "F770W"), _exposure("c", 6.0)])
    with pytest.raises(MiricalError, match="product p1: a rateints exposure cannot have a background"):
        science_group("p1", _exposure("a", ints=True), [_exposure("b", 3.0), _exposure("c", 6.0)])


def test_psf_fwhm_of_the_filters():
    assert psf_fwhm_arcsec("F2100W") == 0.674
    assert psf_fwhm_arcsec("f1065c") == pytest.approx(0.033 * 10.65)
    with pytest.raises(ValueError, match="OPAQUE"):
        psf_fwhm_arcsec("OPAQUE")


# ----------------------------------------------------------------- which files a product's background reads
def _header_file(path, filter_name: str):
    fits.PrimaryHDU(header=fits.Header({"FILTER": filter_name, "SUBARRAY": "FULL", "READPATT": "FASTR1"})
                    ).writeto(path)
    return str(path)


def test_groups_by_filter_and_science_extra_files(tmp_path):
    from mirical.formats.association import Product
    from mirical.workflow.planning import science_backgrounds

    a, b, c = (_header_file(tmp_path / f"{n}_rate.fits", f) for n, f in (("a", "F770W"), ("b", "F770W"),
                                                                           ("c", "F1800W")))
    extra = _header_file(tmp_path / "x_rate.fits", "F770W")
    products = [Product("pa", a), Product("pb", b), Product("pc", c)]
    config = {"steps": {"background": {"skip": False, "source": "science", "science_extra": [extra, a]}}}
    plan = science_backgrounds(config, products)
    assert plan.sources == {"pa": a, "pb": b, "pc": c, "bkgextra1_x_rate": extra}  # `a` is a product already
    assert plan.others == {"pa": ["pb", "bkgextra1_x_rate"], "pb": ["pa", "bkgextra1_x_rate"], "pc": []}
    config["steps"]["background"]["source"] = "dedicated"
    assert science_backgrounds(config, products) is None


# ----------------------------------------------------------------- the demo without a dedicated background
DEMO = {"n_dithers": 4, "subarray": "BRIGHTSKY", "n_sources": 15, "sky_structure": 0.05}
# Both runs leave out skymatch and outlier detection: the background is what they compare.
STAGE3 = {"skymatch": {"skip": True}, "outlier_detection": {"skip": True}}
GALAXY_CLEAR_ARCSEC = 10.0  # nearer, the galaxy's wings (larger than the dither offsets) are in the others' sky


def _run(workdir, demo: dict, background: dict):
    import yaml

    from conftest import run_snakemake

    workdir.mkdir(parents=True, exist_ok=True)
    config = {"output_dir": "out", "demo": demo, "steps": {"background": background}, **STAGE3}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"))
    return workdir


@pytest.fixture(scope="module")
def science_run(tmp_path_factory):
    """The demo's program without a dedicated background, backgrounds from the science exposures."""
    return _run(tmp_path_factory.mktemp("bgsci") / "science", {**DEMO, "backgrounds": 0},
                {"source": "science", "save_combined_background": True})


@pytest.fixture(scope="module")
def dedicated_run(tmp_path_factory):
    """The same science exposures (byte for byte) with the demo's dedicated background."""
    return _run(tmp_path_factory.mktemp("bgsci") / "dedicated", DEMO, {})


def _settings(backgrounds: int = 0):
    from mirical.demo import simulate as sim

    return sim.DemoSettings(**DEMO, backgrounds=backgrounds)


@pytest.mark.workflow
def test_recovered_background_is_the_true_sky_within_the_noise(science_run):
    from astropy.table import Table

    from mirical.demo import simulate as sim

    out = science_run / "out"
    settings = _settings()
    flat = fits.getdata(out / "demo_data" / "reference" / "jwst_miri_flat_f1130w_mirical.fits", "SCI")
    galaxy = Table.read(out / "demo_data" / "truth.ecsv")[-1]
    for i in range(settings.n_dithers):
        truth = sim.true_sky_rate(settings, i, np.asarray(flat, dtype=np.float64))
        with fits.open(out / "intermediate" / f"demo_dither{i + 1}_combinedbackground.fits") as hdul:
            background, err = hdul["SCI"].data.astype(np.float64), hdul["ERR"].data.astype(np.float64)
            assert hdul[0].header["NBKGMEMB"] == 3 and hdul[0].header["BKGSRC"] == "SCIENCE"
        gx, gy = sim.exposure_wcs(settings, sim.pointing(settings, i)).invert(galaxy["ra"], galaxy["dec"])
        y, x = np.mgrid[0:truth.shape[0], 0:truth.shape[1]]
        far = np.hypot(x - gx, y - gy) * 0.11 > GALAXY_CLEAR_ARCSEC
        good = far & np.isfinite(background) & np.isfinite(err) & (err > 0)
        residual = (background - truth)[good]
        noise = np.median(err[good])  # 0.134 DN/s; the sky 17.3 DN/s with rings of +-0.4 DN/s
        # measured 0.0065-0.0093 DN/s (0.05-0.07 noise, 0.05 % of the sky): the sources' wings beyond their masks
        assert abs(np.median(residual)) < 0.1 * noise
        assert 0.9 < np.std(residual / err[good]) < 1.15  # the ERR is the noise (measured 1.01-1.07)
        # the detector-fixed pattern (+-0.9 DN/s) is gone: what is left follows it by 1 % at most (measured)
        plain = sim.true_sky_rate(replace(settings, sky_structure=0.0), i, np.asarray(flat, dtype=np.float64))
        pattern = (truth - plain)[good]
        assert abs(np.cov(residual, pattern)[0, 1] / np.var(pattern)) < 0.02


def _fluxes(run):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import QTable, Table

    out = run / "out"
    catalog = QTable.read(out / "demo_cat.ecsv")
    truth = Table.read(out / "demo_data" / "truth.ecsv")
    points, galaxy = truth[truth["kind"] == "point"], truth[truth["kind"] == "galaxy"][0]
    true = SkyCoord(points["ra"] * u.deg, points["dec"] * u.deg)
    index, separation, _ = true.match_to_catalog_sky(catalog["sky_centroid"])
    assert np.all(separation.arcsec < 0.05) and len(set(index)) == len(points)
    clear = true.separation(SkyCoord(galaxy["ra"] * u.deg, galaxy["dec"] * u.deg)).arcsec > GALAXY_CLEAR_ARCSEC
    return catalog["aper_total_flux"][index].to(u.uJy).value, np.asarray(points["flux_ujy"]), clear


@pytest.mark.workflow
def test_source_fluxes_as_with_a_dedicated_background(science_run, dedicated_run):
    for i in range(1, 5):  # the same science exposures in both
        name = f"det_image_seq{i}_MIRIMAGE_F1130Wexp1_rate.fits"
        assert (science_run / "out/demo_data/IMA_science" / name).read_bytes() == \
            (dedicated_run / "out/demo_data/IMA_science" / name).read_bytes()
    assert not (science_run / "out/demo_data/IMA_background").exists()
    science, truth, clear = _fluxes(science_run)
    dedicated, _, _ = _fluxes(dedicated_run)
    assert clear.sum() >= 10
    for flux in (science, dedicated):
        assert abs(np.median(flux[clear] / truth[clear]) - 1) < 0.01  # measured 1.0021 both
    assert np.max(np.abs(science - dedicated) / truth) < 0.005  # measured 0.15 %, every source
    assert np.max(np.abs(science - dedicated)[clear] / truth[clear]) < 0.002  # measured 0.04 %


@pytest.mark.workflow
def test_log_summary_header_and_figure_say_where_the_background_came_from(science_run):
    import csv

    out = science_run / "out"
    rows = list(csv.DictReader((out / "demo_summary.csv").open()))
    log = (out / "logs" / "background" / "demo_dither1.log").read_text()
    filled = fits.getheader(out / "demo_dither1_cal.fits")["BKGNFILL"]
    assert f"background from 3 other science exposure(s) subtracted (sigma-clipped median, sources masked)" in log
    assert f"{filled} pixel(s) had no value in any of them: the mean of the background around them (not " \
           "flagged)" in log
    assert rows[0]["background_source"] == f"science (3 other exposures; {filled} pixels without a value filled " \
                                           "from around)"
    assert (out / "plots" / "demo_dither1_background.png").stat().st_size > 10000
    assert not (out / "plots" / "demo_dither2_background.png").exists()
    masks = sorted(p.name for p in (out / "intermediate").glob("*_srcmask.fits"))
    assert masks == [f"demo_dither{i}_srcmask.fits" for i in range(1, 5)]


@pytest.mark.workflow
def test_dedicated_run_has_no_science_keys_in_its_history(dedicated_run):
    """The default subtracts as before: no mask jobs, no science keywords, the options not in its history."""
    out = dedicated_run / "out"
    header = fits.getheader(out / "intermediate" / "demo_dither1_bkgsub.fits")
    assert header["S_BKDSUB"] == "COMPLETE" and "BKGSRC" not in header
    assert "mask_dilate" not in str(header["HISTORY"]) and "source" not in str(header["HISTORY"])
    assert not list((out / "intermediate").glob("*_srcmask.fits"))


# ----------------------------------------------------------------- what a change re-runs
def _plan(run, override: dict):
    import yaml

    from test_rerun import plan

    path = run / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return plan(run, "--configfile", str(run / "config.yaml"), str(path))


@pytest.mark.workflow
def test_mask_options_rerun_the_masks_the_backgrounds_and_downstream_only(science_run):
    from test_rerun import downstream, plan

    dag = plan(science_run, "--configfile", str(science_run / "config.yaml"), "--forceall")
    masks = {key for key in dag if key[0] == "background_srcmask"}
    assert len(masks) == 4
    planned = _plan(science_run, {"steps": {"background": {"mask_dilate": 5}}})
    assert set(planned) == downstream(dag, masks)
    assert all(planned[key].reason.startswith("Params have changed") for key in masks)
    rules = {rule for rule, _ in planned}
    assert {"background", "combined_background", "assign_wcs", "mosaic", "source_catalog"} <= rules
    assert not rules & {"simulate", "association"}
    # the statistic: the backgrounds and downstream, not the masks
    planned = _plan(science_run, {"steps": {"background": {"science_statistic": "mean"}}})
    direct = {key for key in dag if key[0] in ("background", "combined_background")}
    assert set(planned) == downstream(dag, direct) and not masks & set(planned)


@pytest.mark.workflow
def test_mask_options_rerun_nothing_with_dedicated_backgrounds(dedicated_run):
    assert _plan(dedicated_run, {"steps": {"background": {"mask_dilate": 5, "science_statistic": "mean"}}}) == {}


@pytest.mark.workflow
def test_two_exposures_are_refused_in_one_line_and_a_science_extra_file_completes_them(tmp_path):
    import yaml

    from conftest import run_snakemake

    config = {"output_dir": "out", "demo": {"n_dithers": 2, "subarray": "SUB256", "n_sources": 5},
              "steps": {"background": {"source": "science"}}}  # the demo's dedicated background is not used
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = "out/intermediate/demo_dither1_bkgsub.fits"  # relative to the run folder, as the rule writes it
    result = run_snakemake(tmp_path, target, "--configfile", str(tmp_path / "config.yaml"), check=False)
    assert result.returncode != 0
    assert "Error in rule background" in result.stderr, result.stderr[-3000:]
    log = tmp_path / "out" / "logs" / "background" / "demo_dither1.log"
    assert log.read_text().splitlines()[0] == (
        "ERROR mirical: product demo_dither1: steps.background.source science needs at least 3 exposures of "
        "F1130W/SUB256/FASTR1 (this one included), found 2: give dedicated backgrounds or "
        "steps.background.science_extra")
    # another exposure of the filter, subarray and readout pattern (here the demo's empty field) makes three
    config["steps"]["background"]["science_extra"] = [str(tmp_path / "out/demo_data/IMA_background/*_rate.fits")]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(tmp_path, target, "--configfile", str(tmp_path / "config.yaml"))
    assert "background from 2 other science exposure(s) subtracted" in log.read_text()
    assert (tmp_path / "out/intermediate/bkgextra1_det_image_seq1_MIRIMAGE_F1130Wexp1_rate_srcmask.fits").exists()
    assert fits.getheader(tmp_path / target)["BKGNEXP"] == 2
