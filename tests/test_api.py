"""mirical.run (Snakemake API) and `mirical run` (CLI) give the same bytes as `snakemake --cores 2`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mirical
from conftest import REPO

DEMO = {"n_dithers": 2, "subarray": "BRIGHTSKY", "n_sources": 15}
SKIP = ("logs", "benchmarks")  # job logs and timings differ between runs by nature


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_file() and p.relative_to(out).parts[0] not in SKIP)


def _without_paths(record):
    """A _refs.json record without the absolute paths of the reference files."""
    if isinstance(record, dict):
        return {k: _without_paths(v) for k, v in record.items() if k != "path"}
    return record


def assert_same_products(out: Path, reference: Path) -> None:
    names = _files(reference)
    assert _files(out) == names
    assert any(n.endswith(".png") for n in names) and any(n.endswith("_cal.fits") for n in names)
    for name in names:
        if name.endswith("_refs.json"):  # holds absolute paths, which differ by working directory
            mine, theirs = (json.loads((d / name).read_text()) for d in (out, reference))
            assert _without_paths(mine) == _without_paths(theirs), name
        else:
            assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "mirical", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def test_import_mirical_is_cheap():
    code = ("import sys, mirical; heavy = [m for m in ('astropy', 'snakemake', 'numpy', 'matplotlib') "
            "if m in sys.modules]; assert not heavy, heavy; "
            "assert callable(mirical.run) and callable(mirical.make_association)")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_build_config_from_association_yaml_and_dict(tmp_path):
    from mirical.api import build_config

    asn = tmp_path / "my_galaxy_lvl2_asn.json"
    asn.write_text('{"products": []}')
    overrides, files = build_config(asn, output_dir="demo_output", steps={"resample": {"pixfrac": 0.8}})
    assert overrides == {"association": str(asn.resolve()), "output_dir": "demo_output",
                         "steps": {"resample": {"pixfrac": 0.8}}} and files == []
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("name: x\n")
    assert build_config(yaml_file) == ({}, [yaml_file.resolve()])
    overrides, _ = build_config({"demo": DEMO, "steps": {"background": {"skip": True}}},
                                steps={"resample": {"kernel": "point"}}, mosaic={"pixfrac": 0.5})
    assert overrides["steps"] == {"background": {"skip": True}, "resample": {"kernel": "point"}}
    assert overrides["mosaic"] == {"pixfrac": 0.5} and overrides["demo"] == DEMO
    with pytest.raises(TypeError, match="no_such_option"):
        mirical.run({"demo": DEMO}, no_such_option=1)


def test_cli_builds_the_snakemake_command(tmp_path):
    result = _cli("run", "--demo", "--output-dir", "demo output", "--set", "steps.resample.pixfrac=0.8",
                  "--set", "demo.n_dithers=2", "--cores", "3", "--print-only", "--", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import shlex

    cmd = shlex.split(result.stdout)
    assert cmd[1:6] == ["-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores"] and cmd[6] == "3"
    config = cmd[cmd.index("--config") + 1:-1]
    assert sorted(config) == ["demo={n_dithers: 2}", "output_dir=demo output", "steps={resample: {pixfrac: 0.8}}"]
    assert cmd[-1] == "--dry-run"
    missing = _cli("run", "nothere_asn.json", cwd=tmp_path)
    assert missing.returncode == 2 and "nothere_asn.json: no such association or config file" in missing.stderr


def test_cli_set_pixmap_options_are_checked_at_start(tmp_path):
    """``--set`` reaches the pixel-map options; a value jwst refuses stops the run before any job."""
    good = _cli("run", "--demo", "--set", "steps.resample.pixmap_stepsize=16", "--set", "mosaic.pixmap_order=3",
                "--print-only", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "steps={resample: {pixmap_stepsize: 16}}" in good.stdout and "mosaic={pixmap_order: 3}" in good.stdout
    bad = _cli("run", "--demo", "--output-dir", "out", "--set", "steps.resample.pixmap_order=2", "--", "--dry-run",
               cwd=tmp_path)
    assert bad.returncode != 0
    assert "mirical: config steps.resample.pixmap_order: 2 is not one of 1, 3" in bad.stderr.splitlines()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, value", [("~DO_NOT_USE+JUMP_DET", "~DO_NOT_USE+JUMP_DET"), ("null", None),
                                         ("6", 6), ("'~(DO_NOT_USE|NON_SCIENCE)'", "~(DO_NOT_USE|NON_SCIENCE)")])
def test_cli_set_good_bits_reaches_the_workflow_as_given(tmp_path, text, value):
    import shlex

    import yaml

    from mirical.workflow.config import typed_values

    result = _cli("run", "--demo", "--set", f"outlier_detection.good_bits={text}", "--print-only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = shlex.split(result.stdout)
    given = next(arg for arg in config if arg.startswith("outlier_detection="))
    parsed = {"outlier_detection": yaml.load(given.partition("=")[2], Loader=yaml.BaseLoader)}  # as Snakemake
    assert typed_values(parsed) == {"outlier_detection": {"good_bits": value}}


@pytest.mark.workflow
def test_python_api_gives_the_same_files_as_snakemake(demo_run, tmp_path):
    cwd = os.getcwd()
    result = mirical.run({"demo": DEMO}, output_dir="out", cores=2, workdir=tmp_path, report="report.html")
    assert os.getcwd() == cwd  # the working directory is restored
    out = tmp_path / "out"
    assert result["cal"] == [str(out / "demo_dither1_cal.fits"), str(out / "demo_dither2_cal.fits")]
    assert result["i2d"] == [str(out / "demo_dither1_i2d.fits"), str(out / "demo_dither2_i2d.fits")]
    assert result["mosaic"] == str(out / "demo_i2d.fits")
    assert all(Path(p).is_file() for p in result["cal"] + result["i2d"] + [result["mosaic"]] + result["plots"])
    assert_same_products(out, demo_run)
    assert result["report"] == str(tmp_path / "report.html") and Path(result["report"]).is_file()


@pytest.mark.workflow
def test_cli_gives_the_same_files_as_snakemake(demo_run, tmp_path, run_env):
    """`mirical run ... --report` from the run-time install (./quickstart demo), not the test extras."""
    sets = [f"--set=demo.{k}={v}" for k, v in DEMO.items()]
    result = subprocess.run([str(run_env / "mirical"), "run", "--demo", "--output-dir", "out", *sets, "--cores", "2",
                             "--report", "report.html"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-6000:]
    assert_same_products(tmp_path / "out", demo_run)
    assert "filename=demo_mosaic.png;base64," in (tmp_path / "report.html").read_text(encoding="utf-8")
    # the end-of-run message (Snakefile onsuccess:) names the products, the figures and the report command
    assert ("mirical: products (cal, i2d, mosaic demo_i2d.fits, table demo_summary.html) in out/, "
            "figures in out/plots/") in result.stderr
    assert "the same command with --report report.html" in result.stderr


@pytest.mark.workflow
def test_association_run_through_the_api(demo_run, tmp_path):
    """The seed's way in: make_association, then run it (a dry run: the products it would make)."""
    data = demo_run / "demo_data"
    asn = tmp_path / "my_galaxy_lvl2_asn.json"
    mirical.make_association(sorted(map(str, (data / "IMA_science").glob("*rate.fits"))),
                             list(map(str, (data / "IMA_background").glob("*rate.fits"))), "my_galaxy", asn)
    result = mirical.run(asn, output_dir="demo_output", cores=1, workdir=tmp_path, dryrun=True,
                         config={"reference_files": {t: str(p) for t, p in _demo_references(data).items()}})
    out = tmp_path / "demo_output"
    assert result["cal"] == [str(out / "my_galaxy_dither1_cal.fits"), str(out / "my_galaxy_dither2_cal.fits")]
    assert not out.exists() or not list(out.glob("*.fits"))  # a dry run writes nothing


def _demo_references(data: Path) -> dict:
    ref = data / "reference"
    return {"distortion": next(ref.glob("*distortion*")), "filteroffset": next(ref.glob("*filteroffset*")),
            "flat": next(ref.glob("*flat*")), "photom": next(ref.glob("*photom*")),
            "area": next(ref.glob("*area*"))}


@pytest.mark.workflow
def test_run_inside_an_event_loop(demo_run, tmp_path):
    """As in a Jupyter notebook: Snakemake refuses to start in a running event loop; mirical.run runs in a thread."""
    import asyncio

    data = demo_run / "demo_data"
    asn = tmp_path / "loop_lvl2_asn.json"
    mirical.make_association(sorted(map(str, (data / "IMA_science").glob("*rate.fits"))), [], "loop", asn)

    async def in_loop():
        return mirical.run(asn, output_dir="out", cores=1, workdir=tmp_path, dryrun=True,
                           config={"reference_files": {t: str(p) for t, p in _demo_references(data).items()}})

    result = asyncio.run(in_loop())
    out = tmp_path / "out"
    assert result["cal"] == [str(out / "loop_dither1_cal.fits"), str(out / "loop_dither2_cal.fits")]
