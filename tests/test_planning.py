"""Product planning and reference choice (mirical/workflow/planning.py), without Snakemake."""
import json
import os

import pytest
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats.association import Product
from mirical.workflow import planning
from mirical.workflow.planning import References, demo_files, expand, plan_products, uses_demo


def touch(path, header=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(header=fits.Header(header or {})).writeto(path)
    return str(path)


def test_expand_sorts_each_pattern_and_refuses_one_that_matches_nothing(tmp_path):
    b, a = touch(tmp_path / "b_rate.fits"), touch(tmp_path / "a_rate.fits")
    assert expand([str(tmp_path / "*_rate.fits")], "science") == [a, b]
    assert expand([b, a], "science") == [b, a]
    with pytest.raises(MiricalError, match=r"config science: .*nothing\*.fits' matches no file"):
        expand([str(tmp_path / "nothing*.fits")], "science")


def test_uses_demo():
    assert uses_demo({"science": [], "association": None})
    assert not uses_demo({"science": ["x"], "association": None})
    assert not uses_demo({"science": [], "association": "a.json"})


def test_demo_files_under_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    demo = demo_files("out", {"n_dithers": 2, "subarray": "BRIGHTSKY", "n_sources": 3})
    assert demo.folder == str(tmp_path / "out" / "demo_data")
    assert len(demo.science) == 2 and len(demo.background) == 1
    assert all(p.startswith(f"{demo.folder}/IMA_science/") for p in demo.science)
    assert set(demo.references) == {"distortion", "filteroffset", "flat", "photom", "area", "apcorr", "abvegaoffset"}


def test_products_from_lists_and_the_name_checks(tmp_path):
    sci = [touch(tmp_path / f"s{i}_rate.fits") for i in (2, 1)]
    bkg = touch(tmp_path / "bkg_rate.fits")
    config = {"name": "run", "science": [str(tmp_path / "s*_rate.fits")], "background": [bkg]}
    products = plan_products(config, None)
    assert products == [Product("run_dither1", sci[1], (bkg,)), Product("run_dither2", sci[0], (bkg,))]


def test_products_from_an_association_and_a_name_clash(tmp_path):
    touch(tmp_path / "x_rate.fits")
    asn = tmp_path / "a.json"
    asn.write_text(json.dumps({"products": [{"name": "run", "members": [{"expname": "x_rate.fits"}]}]}))
    with pytest.raises(MiricalError, match="product name 'run' is the run's `name`"):
        plan_products({"name": "run", "science": [], "association": str(asn)}, None)
    (products,) = plan_products({"name": "other", "science": [], "association": str(asn)}, None)
    assert products == Product("run", str(tmp_path / "x_rate.fits"), ())


def _references(tmp_path, sources, **config):
    sci = touch(tmp_path / "s_rate.fits", {"FILTER": "F770W"})
    return References({"reference_files": sources, **config}, {"p": Product("p", sci)})


def test_reference_from_a_file_or_why_not(tmp_path):
    flat = touch(tmp_path / "ref" / "flat.fits")
    refs = _references(tmp_path, {"flat": flat, "photom": str(tmp_path / "gone.fits")})
    assert refs.choose("p", "flat") == (flat, None)
    assert refs.choose("p", "photom") == (None, f"{tmp_path / 'gone.fits'} does not exist (reference_files.photom)")
    assert refs.choose("p", "area") == (None, "reference_files.area is not set in the config")
    assert refs.chosen("p") == {"flat": flat}
    assert refs.errors("p", ("flat", "area")) == {"flat": "", "area": "reference_files.area is not set in the config"}
    assert refs.choose("nobody", "flat")[0] is None  # an unknown product is an error string, not a crash


def test_reference_from_a_folder_is_selected_once_per_selection_key(tmp_path, monkeypatch):
    folder = tmp_path / "ref"
    folder.mkdir()
    header = {"FILTER": "F770W", "DETECTOR": "MIRIMAGE"}
    products = {f"p{i}": Product(f"p{i}", touch(tmp_path / f"s{i}_rate.fits", header)) for i in (1, 2)}
    calls = []

    def select(reftype, source, exposure_header, name):
        calls.append(name)
        return f"{source}/chosen_{reftype}.fits"

    monkeypatch.setattr("mirical.references.selection.select", select)
    refs = References({"reference_files": {"flat": str(folder)}}, products)
    assert refs.choose("p1", "flat") == (f"{folder}/chosen_flat.fits", None)
    assert refs.choose("p2", "flat") == (f"{folder}/chosen_flat.fits", None)
    assert refs.choose("p1", "flat") == (f"{folder}/chosen_flat.fits", None)
    assert calls == ["s1_rate.fits"]  # p2's header has the same selection key


def test_demo_references_need_no_files(tmp_path):
    demo = planning.Demo(str(tmp_path), [], [], {"flat": "/demo/flat.fits"})
    refs = References({"reference_files": {"flat": "/not/used.fits"}}, {"p": Product("p", "/no/such.fits")}, demo)
    assert refs.choose("p", "flat") == ("/demo/flat.fits", None)
    assert not os.path.exists("/no/such.fits")


def test_layout_paths_and_the_products_of_a_run():
    layout = planning.Layout.from_config({"name": "run", "output_dir": "out/"})
    assert layout.cal("{product}") == "out/{product}_cal.fits"
    assert layout.intermediate_exposure("p", "wcs") == "out/intermediate/p_wcs.fits"
    assert layout.mosaic_grid() == "out/intermediate/run_mosaic_grid.asdf"
    assert layout.mosaic_part("p") == "out/intermediate/p_mosaic_part.fits"
    made = layout.products(["a", "b"])
    assert made["cal"] == ["out/a_cal.fits", "out/b_cal.fits"]
    assert made["i2d"] == ["out/a_i2d.fits", "out/b_i2d.fits"]
    assert made["refs"] == ["out/intermediate/a_refs.json", "out/intermediate/b_refs.json"]
    assert made["mosaic"] == ["out/run_i2d.fits"] and made["association"] == ["out/run_lvl2_asn.json"]
    assert made["plots"] == ["out/plots/a_rate_cal.png", "out/plots/b_rate_cal.png", "out/plots/a_steps.png",
                             "out/plots/run_mosaic.png", "out/plots/run_weight.png", "out/plots/run_footprints.png"]
    assert made["summary"] == ["out/run_summary.html", "out/run_summary.csv"]
    everything = [path for paths in made.values() for path in paths]
    assert not any("mosaic_grid" in path or "mosaic_part" in path for path in everything)  # intermediates
    assert planning.Layout.from_config({"name": "run", "output_dir": None}).out == "results/run"



def test_layout_with_outlier_detection_adds_the_crf_files_and_the_outlier_figure():
    layout = planning.Layout.from_config({"name": "run", "output_dir": "out"})
    assert layout.outlier_grid() == "out/intermediate/run_outlier_grid.asdf"
    assert layout.outlier_i2d("p") == "out/intermediate/p_outlier_i2d.fits"
    assert layout.outlier_pixmap("p") == "out/intermediate/p_outlier_pixmap.fits"
    assert layout.median() == "out/intermediate/run_median.fits"
    made = layout.products(["a", "b"], crf=True)
    assert made["crf"] == ["out/a_crf.fits", "out/b_crf.fits"]
    assert "out/plots/a_outliers.png" in made["plots"] and "out/plots/b_outliers.png" not in made["plots"]
    assert layout.products(["a", "b"])["crf"] == []


def test_layout_asks_for_the_destripe_and_lyot_figures_only_when_they_run():
    layout = planning.Layout.from_config({"name": "run", "output_dir": "out"})
    default = layout.products(["a", "b"])["plots"]
    assert not any(p.endswith(("_destripe.png", "_lyotmask.png")) for p in default)
    made = layout.products(["a", "b"], destripe=True, lyot_mask="b")["plots"]
    assert made == default + ["out/plots/a_destripe.png", "out/plots/b_lyotmask.png"]
    assert layout.products(["a", "b"], ints=["a"], destripe=True, lyot_mask="a")["plots"] == \
        layout.products(["a", "b"], ints=["a"])["plots"] + ["out/plots/b_destripe.png"]  # a rateints: no figure


def test_first_full_frame_reads_the_subarray_of_the_rate_files_or_the_demo_config(tmp_path):
    products = []
    for name, subarray in (("sub", "BRIGHTSKY"), ("ints", "FULL"), ("full", "FULL")):
        path = tmp_path / (f"{name}_rateints.fits" if name == "ints" else f"{name}_rate.fits")
        fits.PrimaryHDU(header=fits.Header([("SUBARRAY", subarray)])).writeto(path)
        products.append(Product(name, str(path)))
    config = {"science": [str(tmp_path / "*.fits")]}
    assert planning.first_full_frame(config, products) == "full"
    assert planning.first_full_frame(config, products[:2]) is None
    assert planning.first_full_frame({"demo": {"subarray": "FULL"}}, products[2:]) == "full"
    assert planning.first_full_frame({"demo": {"subarray": "BRIGHTSKY"}}, products[2:]) is None


def test_layout_with_skymatch_adds_its_levels_table_and_figure():
    layout = planning.Layout.from_config({"name": "run", "output_dir": "out"})
    assert layout.skymatch_exposure("p") == "out/intermediate/p_skymatch.fits"
    assert layout.skymatch_footprints() == "out/intermediate/run_skymatch_footprints.ecsv"
    assert layout.skymatch_stats("p") == "out/intermediate/p_skymatch_stats.ecsv"
    made = layout.products(["a", "b"], sky=True)
    assert made["skymatch"] == ["out/intermediate/run_skymatch_levels.ecsv"]
    assert made["plots"][-1] == "out/plots/run_skymatch.png"
    assert layout.products(["a", "b"])["skymatch"] == [] and layout.products([], sky=True)["skymatch"] == []
