"""The quicklook figures, the summary table and the Snakemake report on the reduced demo."""
import base64
import csv
import zipfile

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from PIL import Image

from conftest import REDUCED_DEMO, run_snakemake

PRODUCTS = ("demo_dither1", "demo_dither2")
FIGURES = ("demo_dither1_rate_cal.png", "demo_dither2_rate_cal.png", "demo_dither1_steps.png",
           "demo_dither1_outliers.png", "demo_mosaic.png", "demo_weight.png", "demo_footprints.png",
           "demo_catalog.png", "demo_skymatch.png", "demo_tweakreg.png")


def _png_chunks(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        chunks.append((data[i + 4:i + 8].decode("ascii"), data[i + 8:i + 8 + length]))
        i += 12 + length
    return chunks


@pytest.mark.workflow
def test_figures_are_pngs_without_version_or_time(demo_run):
    plots = demo_run / "plots"
    assert sorted(p.name for p in plots.glob("*.png")) == sorted(FIGURES)
    for name in FIGURES:
        chunks = _png_chunks(plots / name)
        kinds = [kind for kind, _ in chunks]
        assert "tIME" not in kinds, name
        text = b" ".join(body for kind, body in chunks if kind in ("tEXt", "iTXt", "zTXt"))
        assert b"Software" not in text and b"matplotlib" not in text.lower(), name
        width = int.from_bytes(chunks[0][1][:4], "big")
        assert width >= 800, name  # readable, not a thumbnail


@pytest.mark.workflow
def test_summary_table_matches_the_headers(demo_run):
    rows = list(csv.DictReader((demo_run / "demo_summary.csv").open()))
    assert [r["product"] for r in rows] == list(PRODUCTS)
    for row in rows:
        with fits.open(demo_run / f"{row['product']}_cal.fits") as hdul:
            primary, sci = hdul[0].header, hdul["SCI"].header
        assert row["filter"] == primary["FILTER"] and row["subarray"] == primary["SUBARRAY"]
        assert float(row["exptime_s"]) == pytest.approx(primary["EFFEXPTM"], abs=1e-3)
        assert float(row["photmjsr"]) == pytest.approx(sci["PHOTMJSR"], rel=1e-5)
        # the demo background is a flat level of ~17 DN/s (the log of the background step says the same)
        log = (demo_run / "logs" / "background" / f"{row['product']}.log").read_text()
        assert f"median level {row['background_dn_s']} DN/s" in log
        level = fits.getheader(demo_run / f"{row['product']}_crf.fits")["BKGLEVEL"]  # skymatch's, in the crf
        assert row["sky_mjy_sr"] == f"{level:.5g}"
        # tweakreg's fitted shift of the corrected dither (mas), the reference named as such
        fit = {r["product"]: r for r in Table.read(demo_run / "intermediate" / "demo_tweakreg_fit.ecsv")}[row["product"]]
        expected = f"{fit['xshift'] * 1000:.2f} {fit['yshift'] * 1000:.2f}" if fit["applied"] else "reference"
        assert row["tweak_shift_mas"] == expected
        for reftype, keyword in (("flat", "R_FLAT"), ("photom", "R_PHOTOM"), ("distortion", "R_DISTOR")):
            assert row[f"ref_{reftype}"] == primary[keyword]
    html = (demo_run / "demo_summary.html").read_text()
    assert html.count("<tr>") == 1 + len(PRODUCTS) and "PHOTMJSR" in html and str(demo_run) not in html
    with (demo_run / "demo_cat.ecsv").open() as catalog:
        sources = sum(1 for line in catalog if not line.startswith("#")) - 1  # less the column names
    assert f"the mosaic&#x27;s source catalog (demo_cat.ecsv): {sources} sources" in html and sources >= 15


@pytest.mark.workflow
def test_report_is_one_html_page_embedding_every_figure_and_the_table(demo_run, run_env):
    """The README's report command, from the run-time install (./quickstart demo), not the test extras."""
    workdir = demo_run.parent
    run_snakemake(workdir, "--config", "output_dir=out", REDUCED_DEMO, "--report", "report.html", bin_dir=run_env)
    report = workdir / "report.html"
    assert report.is_file()
    # snakemake 9: a .html target is one self-contained page (data: URIs); .zip would be an archive
    assert not zipfile.is_zipfile(report)
    html = report.read_text(encoding="utf-8")
    for name in FIGURES:
        data = base64.b64encode((demo_run / "plots" / name).read_bytes()).decode()
        assert f"data:image/png;charset=utf8;filename={name};base64,{data}" in html, name
    table = base64.b64encode((demo_run / "demo_summary.html").read_bytes()).decode()
    assert f"filename=demo_summary.html;base64,{table}" in html
    # captions (report/*.rst, rendered with the wildcards), the workflow description and run statistics
    assert "Exposure <strong>demo_dither2</strong> before and after calibration" in html
    assert "footprint of every calibrated exposure" in html
    assert "JWST MIRI imager Stage-2 calibration" in html
    assert '"plot_mosaic"' in html and "runtimes" in html
    assert "The source catalog of the mosaic" in html


def test_log_stretch_keeps_nan_bad_and_clips_the_rest():
    from mirical.products.plots import LogStretchNorm, log_norm, robust_limits, stretch_ticks

    data = np.array([np.nan, -5.0, 0.0, 1.0, 10.0, 1e4])
    assert robust_limits(np.full(4, np.nan)) == (0.0, 1.0)
    lo, hi = robust_limits(np.full(4, 3.0))
    assert lo < 3.0 < hi
    norm = LogStretchNorm(-1.0, 10.0)
    out = norm(data)
    assert out.mask.tolist() == [True, False, False, False, False, False]  # only NaN is "bad" (grey)
    assert out[1] == 0.0 and out[5] == 1.0 and 0 < out[2] < out[3] < out[4] == 1.0
    np.testing.assert_allclose(norm.inverse(norm(np.array([0.0, 2.5, 7.0]))), [0.0, 2.5, 7.0])
    ticks = stretch_ticks(log_norm(np.linspace(-1, 20, 1000)))
    assert len(ticks) >= 4 and all(-1 <= t <= 20 for t in ticks) and 0.0 in ticks


def test_s_region_parsing():
    from mirical.products.plots import parse_s_region

    poly = parse_s_region("POLYGON ICRS  53.1689 -27.7818 53.1516 -27.7856 53.1560 -27.8008 53.1732 -27.7971")
    assert poly.shape == (4, 2) and poly[0].tolist() == [53.1689, -27.7818]
    assert parse_s_region("POLYGON 1 2 3 4 5 6").shape == (3, 2)
    with pytest.raises(ValueError):
        parse_s_region("CIRCLE ICRS 1 2 3")


def test_block_mean_by_hand():
    from mirical.products.plots import block_mean

    data = np.arange(25, dtype=float).reshape(5, 5)  # 5 x 5: not a multiple of 2
    data[0, 1] = np.nan
    data[4, 4] = np.inf
    out = block_mean(data, 2)
    # rows 0-1 | 2-3 | 4, columns 0-1 | 2-3 | 4; a block with a NaN (or inf) pixel is NaN, the last ones are smaller
    expected = [[np.nan, (2 + 3 + 7 + 8) / 4, (4 + 9) / 2],
                [(10 + 11 + 15 + 16) / 4, (12 + 13 + 17 + 18) / 4, (14 + 19) / 2],
                [(20 + 21) / 2, (22 + 23) / 2, np.nan]]
    np.testing.assert_array_equal(out, expected)
    assert np.array_equal(block_mean(data, 1), data, equal_nan=True)  # factor 1: the data as they are
    np.testing.assert_array_equal(block_mean(np.arange(6.0).reshape(1, 6), 3), [[1.0, 4.0]])  # one row of blocks
    np.testing.assert_array_equal(block_mean(np.ones((7, 3)), 4), [[1.0], [1.0]])  # 4 x 3 and 3 x 3 pixels


def test_images_are_drawn_at_display_size_with_the_full_resolution_stretch(tmp_path, monkeypatch):
    """A 1032 x 1024 cal image drawn in its ~560 pixel wide axes: block means of 2 x 2, NaN kept, same limits."""
    from mirical.products import plots

    rng = np.random.default_rng(1)
    sci = rng.normal(1.0, 0.1, (1024, 1032)).astype(np.float32)
    sci[500, 601] = np.nan  # an isolated NaN pixel stays grey
    sci[100:110, 200:210] = 50.0  # a source
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI")]).writeto(tmp_path / "a_cal.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((1024, 1032), np.uint32), name="DQ")]).writeto(
        tmp_path / "a_crf.fits")
    saved = []
    original = plots.save
    monkeypatch.setattr(plots, "save", lambda fig, path: (saved.append(fig), original(fig, path)))
    plots.outliers(str(tmp_path / "a_cal.fits"), str(tmp_path / "a_crf.fits"), str(tmp_path / "a.png"), "a")

    ax = saved[0].axes[0]
    image = ax.get_images()[0]
    box = ax.get_window_extent()  # the axes on the PNG, in pixels
    assert 450 < box.width < 700 and 450 < box.height < 700
    drawn = image.get_array()
    assert drawn.shape == (512, 516)  # 1032 / 2 columns: about one array pixel per screen pixel, not two
    assert drawn.shape[1] / 1.5 < box.width < drawn.shape[1] * 1.5
    assert drawn.mask[250, 300] and drawn.mask.sum() == 1  # the NaN's block
    np.testing.assert_allclose(drawn[50, 100], 50.0)  # the source's blocks
    np.testing.assert_allclose(drawn[0, 0], sci[:2, :2].astype(float).mean())
    # the axes and the colour scale as for the full image
    assert ax.get_xlim() == (-0.5, 1031.5) and ax.get_ylim() == (-0.5, 1023.5)
    vmin, vmax = plots.robust_limits(sci.astype(float))
    assert (image.norm.vmin, image.norm.vmax) == (vmin, vmax)
    with Image.open(tmp_path / "a.png") as png:
        assert png.size == (800, 720)  # the figure's size (8 x 7.2 in at 100 dpi)
