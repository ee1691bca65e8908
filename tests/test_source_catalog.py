"""The source catalog: its pieces on hand-computed values, the demo's truth, and jwst 3.0.0's SourceCatalogStep.

The agreement runs the official step (tests/official_source_catalog.py, in the official
pipeline's own Python) on the reduced demo's mosaic with the demo's APCORR and ABVEGAOFFSET,
with the defaults and with other options, and compares with mirical's catalog of the same file.
"""

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable, Table

from conftest import REPO, run_official
from mirical.errors import MiricalError
from mirical.steps.source_catalog import Image, abmag, nearest_neighbours, read_apertures

# ----------------------------------------------------------------- pieces


def _image(filter_name="F770W", subarray="FULL", ratio=1.0) -> Image:
    return Image(data=None, err=None, coverage=None, wcs=None, filter=filter_name, subarray=subarray,
                 pixel_scale_ratio=ratio, crpix=(1.0, 1.0))


@pytest.fixture
def apcorr(tmp_path) -> str:
    rows = [("F770W", "FULL", ee / 100, ee / 10, 100 / ee, 8.0, 12.0) for ee in (30, 50, 70)]
    rows += [("F770W", "SUB64", 0.5, 9.0, 9.0, 8.0, 12.0), ("F560W", "FULL", 0.5, 7.0, 7.0, 8.0, 12.0)]
    columns = list(zip(*rows))
    table = fits.BinTableHDU.from_columns(
        [fits.Column("filter", "12A", array=columns[0]), fits.Column("subarray", "17A", array=columns[1])]
        + [fits.Column(n, "E", array=v) for n, v in zip(("eefraction", "radius", "apcorr", "skyin", "skyout"),
                                                        columns[2:])], name="APCORR")
    path = tmp_path / "apcorr.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    return str(path)


def test_apertures_are_the_rows_of_the_filter_and_subarray_in_output_pixels(apcorr):
    apertures = read_apertures(apcorr, _image(ratio=0.5), (30, 50, 70))
    np.testing.assert_allclose(apertures.radii, [6.0, 10.0, 14.0], rtol=1e-6)  # 3, 5, 7 native pixels / 0.5
    np.testing.assert_allclose(apertures.corrections, [100 / 30, 2.0, 100 / 70], rtol=1e-6)
    assert apertures.annulus == (16.0, 24.0)
    assert list(apertures.ee) == [30, 50, 70]


def test_missing_encircled_energy_or_filter_is_one_clear_error(apcorr):
    with pytest.raises(MiricalError, match="0 APCORR rows of 40 %"):
        read_apertures(apcorr, _image(), (30, 40, 70))
    with pytest.raises(MiricalError, match="no APCORR row for filter F1000W"):
        read_apertures(apcorr, _image("F1000W"), (30, 50, 70))
    with pytest.raises(MiricalError, match="aperture_ee1/2/3"):
        read_apertures(apcorr, _image(), (50, 30, 70))


def test_ab_magnitudes():
    flux = np.array([10 ** (8.9 / 2.5), 1e-6, 100.0, -1.0]) * u.Jy  # the AB zero point, 1 uJy, 100 Jy
    err = np.array([0.0, 0.0, 10.0, 1.0]) * u.Jy
    mag, mag_err = abmag(flux, err)
    np.testing.assert_allclose(mag[:3], [0.0, 23.9, 3.9], atol=1e-12)
    np.testing.assert_allclose(mag_err[:3], [0.0, 0.0, 2.5 * np.log10(1.1)], atol=1e-12)
    assert np.isnan(mag[3]) and np.isnan(mag_err[3])


def test_nearest_neighbours():
    labels, distance = nearest_neighbours(np.array([1, 2, 3]), np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    assert list(labels) == [3, 3, 1]
    np.testing.assert_allclose(distance.value, [1.0, np.hypot(3, 3), 1.0])
    labels, distance = nearest_neighbours(np.array([7]), np.array([[1.0, 1.0]]))
    assert list(labels) == [-1] and np.isnan(distance.value[0])


# ----------------------------------------------------------------- the demo's truth
GALAXY_CLEAR_ARCSEC = 10.0  # nearer, the galaxy's wings bias the annulus background and the centroid
PHASE_SCATTER = 0.017  # 3 x the 0.55 % scatter (sub-pixel phase) of the 70 % EE of a ~3.4-pixel FWHM PSF


@pytest.mark.workflow
def test_demo_point_sources_are_recovered(demo_run):
    catalog = QTable.read(demo_run / "demo_cat.ecsv")
    truth = Table.read(demo_run / "demo_data" / "truth.ecsv")
    points = truth[truth["kind"] == "point"]
    galaxy = truth[truth["kind"] == "galaxy"][0]
    true = SkyCoord(points["ra"] * u.deg, points["dec"] * u.deg)
    index, separation, _ = true.match_to_catalog_sky(catalog["sky_centroid"])
    with fits.open(demo_run / "demo_i2d.fits") as hdul:
        scale = abs(hdul["SCI"].header["CDELT1"]) * 3600.0  # arcsec per mosaic pixel
    offset = separation.to(u.arcsec).value / scale
    assert np.all(offset < 0.5)  # every point source found
    assert len(set(index)) == len(points)
    clear = true.separation(SkyCoord(galaxy["ra"] * u.deg, galaxy["dec"] * u.deg)).arcsec > GALAXY_CLEAR_ARCSEC
    assert clear.sum() >= 12
    assert np.max(offset[clear]) <= 0.05  # measured 0.005 px
    flux = catalog["aper_total_flux"][index].to(u.uJy).value
    error = catalog["aper_total_flux_err"][index].to(u.uJy).value
    expected = np.asarray(points["flux_ujy"])
    deviation = np.abs(flux - expected)[clear]
    assert np.all(deviation <= PHASE_SCATTER * expected[clear] + 3 * error[clear])  # measured <= 0.95 %
    assert abs(np.median(flux[clear] / expected[clear]) - 1) <= 0.003  # the correction is unbiased
    assert not catalog["is_extended"][index].any()


# ----------------------------------------------------------------- agreement with jwst 3.0.0
FLUX_COLUMNS = ("aper_bkg_flux", "aper30_flux", "aper50_flux", "aper70_flux", "aper_total_flux", "isophotal_flux")


def _references(demo_run: Path) -> tuple[str, str]:
    folder = demo_run / "demo_data" / "reference"
    return str(folder / "jwst_miri_apcorr_mirical.fits"), str(folder / "jwst_miri_abvegaoffset_mirical.asdf")


def _ours(demo_run: Path, folder: Path, options: dict) -> tuple[QTable, np.ndarray]:
    """mirical's catalog and segmentation map of the demo mosaic with ``options`` over the config's defaults."""
    import yaml

    from mirical.steps.source_catalog import source_catalog, write_catalog

    params = {**yaml.safe_load((REPO / "config.yaml").read_text())["source_catalog"], **options}
    catalog, labels, hdul = source_catalog(str(demo_run / "demo_i2d.fits"), *_references(demo_run), params)
    hdul.close()
    write_catalog(catalog, folder / "ours_cat.ecsv")
    return QTable.read(folder / "ours_cat.ecsv"), labels


def _officials(demo_run: Path, folder: Path, options: dict) -> tuple[QTable, np.ndarray]:
    official = folder / "official"
    official.mkdir()
    run_official(str(REPO / "tests" / "official_source_catalog.py"), str(official), str(demo_run / "demo_i2d.fits"),
                 *_references(demo_run), *(f"{key}={value}" for key, value in options.items()))
    segmentation = official / "demo_segm.fits"
    return QTable.read(official / "demo_cat.ecsv"), fits.getdata(segmentation, "SCI") if segmentation.exists() else None


CASES = {
    "defaults": {},
    "options": {"snr_threshold": 5.0, "npixels": 10, "deblend": False, "aperture_ee1": 20, "aperture_ee2": 40,
                "aperture_ee3": 80, "kernel_fwhm": 3.0, "ci1_star_threshold": 1.5},
    "iraf": {"starfinder": "iraf"},  # 200 sources, most of them noise peaks
}


@pytest.mark.workflow
@pytest.mark.parametrize("case", CASES)
def test_catalog_agrees_with_the_officials(demo_run, tmp_path, case):
    ours, labels = _ours(demo_run, tmp_path, CASES[case])
    theirs, their_labels = _officials(demo_run, tmp_path, CASES[case])
    assert len(theirs) >= 10
    # the same sources both ways (>= 99 %), centroids within 1 mas
    index, separation, _ = theirs["sky_centroid"].match_to_catalog_sky(ours["sky_centroid"])
    back, _, _ = ours["sky_centroid"].match_to_catalog_sky(theirs["sky_centroid"])
    same = separation < 1 * u.mas
    assert same.mean() >= 0.99
    assert np.mean(index[back] == np.arange(len(ours))) >= 0.99
    # every official column, with its unit, in its order; the metadata's keys
    assert ours.colnames == theirs.colnames
    for name in theirs.colnames:
        assert getattr(ours[name], "unit", None) == getattr(theirs[name], "unit", None), name
        assert ours[name].info.description == theirs[name].info.description, name
    assert list(ours.meta) == list(theirs.meta)
    for key in ("aperture_params",):
        for item, value in theirs.meta[key].items():
            np.testing.assert_allclose(ours.meta[key][item], value, rtol=1e-7, err_msg=item)
    np.testing.assert_allclose(ours.meta["abvega_offset"], theirs.meta["abvega_offset"], rtol=1e-7)
    # fluxes and magnitudes within 1e-5 (relative), the other columns as close
    matched = ours[index[same]]
    theirs = theirs[same]
    for name in theirs.colnames:
        if isinstance(theirs[name], SkyCoord):
            assert np.max(theirs[name].separation(matched[name]).to(u.mas).value) <= 1.0, name
            continue
        a = np.asarray(getattr(matched[name], "value", matched[name]), dtype=float)
        b = np.asarray(getattr(theirs[name], "value", theirs[name]), dtype=float)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12 if name == "aper_bkg_flux" else 0, equal_nan=True,
                                   err_msg=name)
    # the segmentation map: the same labels, pixel by pixel (none from the iraf star finder, as the official)
    assert (labels is None) == (their_labels is None)
    if labels is not None:
        np.testing.assert_array_equal(labels, their_labels)


# ----------------------------------------------------------------- planning
def test_catalog_paths():
    from mirical.workflow.planning import Layout

    made = Layout("out", "run").products(["a", "b"], catalogs=["run", "a"])
    assert made["catalog"] == ["out/run_cat.ecsv", "out/a_cat.ecsv"]
    assert made["segmentation"] == ["out/run_segm.fits", "out/a_segm.fits"]
    assert made["catalog_plot"] == ["out/plots/run_catalog.png"]
    dao = Layout("out", "run").products(["a"], catalogs=["run"], segmentation=False)
    assert dao["catalog"] == ["out/run_cat.ecsv"] and dao["segmentation"] == []
    assert Layout("out", "run").products(["a"])["catalog"] == []


@pytest.mark.workflow
def test_i2d_catalogs_and_a_run_without_the_references(demo_run, tmp_path):
    """The switch adds one catalog job per exposure's i2d; without APCORR there is no catalog, one warning."""
    import yaml

    from conftest import REDUCED_DEMO, run_snakemake
    from mirical.steps import REFTYPES

    result = run_snakemake(tmp_path, "-n", "--config", "output_dir=out", REDUCED_DEMO,
                           "source_catalog={i2d_catalogs: true}")
    planned = result.stdout + result.stderr
    assert planned.count("rule source_catalog_i2d:") == 2 and planned.count("rule source_catalog:") == 1
    refs = {t: str(next((demo_run / "demo_data" / "reference").glob(f"jwst_miri_{t}_*"))) for t in REFTYPES}
    config = {"name": "plain", "output_dir": "out", "reference_files": refs,
              "science": [str(demo_run / "demo_data" / "IMA_science" / "*_rate.fits")]}
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "plain.yaml"))
    planned = result.stdout + result.stderr
    assert "mirical: no source catalog: apcorr: reference_files.apcorr is not set in the config" in planned
    assert "rule source_catalog" not in planned and "rule mosaic:" in planned
