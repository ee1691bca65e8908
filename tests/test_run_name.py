"""The run's name: given, else from the association, else from the science files, else demo."""
import json
import subprocess

import pytest
import yaml

import mirical
from conftest import run_snakemake
from mirical.errors import MiricalError
from mirical.formats.association import run_name


def test_a_given_name_wins(tmp_path):
    assert run_name("mine", tmp_path / "x_lvl2_asn.json", ["a_rate.fits"]) == "mine"


def test_demo_when_there_is_no_input():
    assert run_name(None) == "demo"


@pytest.mark.parametrize("file_name, expected", [
    ("my_galaxy_lvl2_asn.json", "my_galaxy"),
    ("x_lvl2_asn.json", "x"),
    ("jw01234-o001_20230101t000000_image2_00001_asn.json", "jw01234-o001_20230101t000000_image2_00001"),
])
def test_association_file_name_without_its_suffix(tmp_path, file_name, expected):
    assert run_name(None, tmp_path / file_name) == expected  # the file need not be read


def test_association_asn_id_when_the_file_name_says_nothing(tmp_path):
    path = tmp_path / "pointing.json"
    path.write_text(json.dumps({"asn_id": "a3001", "products": []}))
    assert run_name(None, path) == "a3001"
    path.write_text(json.dumps({"products": []}))
    with pytest.raises(MiricalError, match=r"pointing.json: cannot name the run: .* set `name`"):
        run_name(None, path)
    bad = tmp_path / "_lvl2_asn.json"  # nothing before the suffix, no asn_id
    bad.write_text("{}")
    with pytest.raises(MiricalError, match="set `name`"):
        run_name(None, bad)


@pytest.mark.parametrize("files, expected", [
    (["d/jw01234001001_02101_00001_mirimage_rate.fits", "d/jw01234001001_02101_00002_mirimage_rate.fits"],
     "jw01234001001_02101"),
    (["IMA_science/galaxy_dither1_rate.fits", "IMA_science/galaxy_dither2_rate.fits"], "galaxy"),
    (["a/field_rate.fits", "b/field_2_rate.fits"], "field"),
    (["one/jw01234001001_02101_00001_mirimage_rate.fits"], "jw01234001001_02101_00001_mirimage"),
    (["ngc628.fits"], "ngc628"),
])
def test_science_files_common_start_cut_at_a_separator(files, expected):
    assert run_name(None, None, files) == expected


def test_science_files_without_a_common_start_ask_for_a_name():
    with pytest.raises(MiricalError, match=r"config science: cannot name the run: .*a_rate.fits, b_rate.fits"
                                           r".* set `name`"):
        run_name(None, None, ["x/b_rate.fits", "x/a_rate.fits"])
    with pytest.raises(MiricalError, match="set `name`"):
        run_name(None, None, ["x/_1_rate.fits", "x/_2_rate.fits"])  # only separators in common


def _association_and_config(demo_run, folder):
    """x_lvl2_asn.json of the reduced demo's exposures and a config giving its reference files (no name)."""
    data = demo_run / "demo_data"
    asn = folder / "x_lvl2_asn.json"
    mirical.make_association(sorted(map(str, (data / "IMA_science").glob("*rate.fits"))),
                             list(map(str, (data / "IMA_background").glob("*rate.fits"))), "x", asn)
    refs = {t: str(next((data / "reference").glob(f"*{t}*")))
            for t in ("distortion", "filteroffset", "flat", "photom", "area")}
    config = folder / "refs.yaml"
    config.write_text(yaml.safe_dump({"reference_files": refs}))
    return asn, config


@pytest.mark.workflow
def test_snakemake_with_an_association_names_the_run_after_it(demo_run, tmp_path):
    asn, config = _association_and_config(demo_run, tmp_path)
    result = run_snakemake(tmp_path, "--dry-run", "--configfile", str(config), "--config", f"association={asn}")
    for path in ("results/x/x_i2d.fits", "results/x/x_dither1_cal.fits", "results/x/x_summary.html",
                 "results/x/plots/x_mosaic.png"):
        assert path in result.stdout, path
    assert "results/demo" not in result.stdout and "demo_i2d" not in result.stdout


@pytest.mark.workflow
def test_mirical_run_with_an_association_names_the_run_after_it(demo_run, tmp_path, run_env):
    asn, config = _association_and_config(demo_run, tmp_path)
    result = subprocess.run([str(run_env / "mirical"), "run", str(asn), "--configfile", str(config), "--cores", "1",
                             "--", "--dry-run"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "results/x/x_i2d.fits" in result.stdout and "results/x/x_dither2_i2d.fits" in result.stdout
    assert "results/demo" not in result.stdout


@pytest.mark.workflow
def test_science_list_without_common_start_stops_before_any_job(tmp_path):
    for name in ("a_rate.fits", "b_rate.fits"):
        (tmp_path / name).write_bytes(b"")
    result = run_snakemake(tmp_path, "--dry-run", "--config", f"science=[{tmp_path}/a_rate.fits,{tmp_path}/b_rate.fits]",
                           check=False)
    assert result.returncode != 0
    assert "config science: cannot name the run" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
