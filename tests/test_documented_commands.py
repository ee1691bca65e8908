"""The README's commands, run from the run-time install (what ./quickstart demo sets up), as dry runs.

The report (`snakemake --report`, `mirical run --report`) and a full `mirical run` from the same
install are in test_report.py and test_api.py.
"""
import json
import subprocess

import pytest
import yaml

from conftest import REPO, SNAKEFILE

pytestmark = pytest.mark.workflow
REFTYPES = ("distortion", "filteroffset", "flat", "photom", "area")


@pytest.fixture
def mine(demo_run, tmp_path):
    """The README's mine.yaml on the reduced demo's rate and reference files."""
    data = demo_run / "demo_data"
    config = {"name": "my_galaxy", "output_dir": "demo_output",
              "science": [f"{data}/IMA_science/*rate.fits"], "background": [f"{data}/IMA_background/*rate.fits"],
              "reference_files": {t: str(next((data / "reference").glob(f"*{t}*"))) for t in REFTYPES}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _run(cmd, cwd):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.mark.parametrize("extra", [
    [],
    ["--config", "steps={resample: {pixfrac: 0.8}}"],
    ["--config", "mosaic={kernel: point, pixfrac: 0.5}"],
])
def test_snakemake_with_a_config_file(mine, run_env, extra):
    out = _run([run_env / "snakemake", "--snakefile", SNAKEFILE, "--cores", "8", "--configfile", "mine.yaml",
                *extra, "--dry-run"], mine)
    assert "demo_output/my_galaxy_i2d.fits" in out and "demo_output/my_galaxy_dither2_cal.fits" in out


def test_snakemake_products_target_leaves_out_figures_and_summary(mine, run_env):
    out = _run([run_env / "snakemake", "products", "--snakefile", SNAKEFILE, "--cores", "8", "--configfile",
                "mine.yaml", "--dry-run"], mine)
    jobs = out[out.index("Job stats:"):].split("\n\n")[0]
    assert "mosaic " in jobs and "skymatch " in jobs and "outlier_detection " in jobs
    assert "plot_" not in jobs and "summary " not in jobs and "products " in jobs


def test_snakemake_with_an_association_and_the_python_api(mine, run_env):
    """make_association (Python API) writes the association; snakemake and mirical.run plan it."""
    code = ("import glob, json, sys, mirical; "
            "mirical.make_association(sorted(glob.glob(sys.argv[1])), glob.glob(sys.argv[2]), 'my_galaxy', "
            "'my_galaxy_lvl2_asn.json'); "
            "r = mirical.run('my_galaxy_lvl2_asn.json', output_dir='demo_output', cores=1, dryrun=True, "
            "config={'reference_files': json.loads(sys.argv[3])}); print('RESULT', json.dumps(r))")
    config = yaml.safe_load((mine / "mine.yaml").read_text())
    out = _run([run_env / "python", "-c", code, *config["science"], *config["background"],
                json.dumps(config["reference_files"])], mine)
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result["mosaic"] == str(mine / "demo_output" / "my_galaxy_i2d.fits")
    out = _run([run_env / "snakemake", "--snakefile", SNAKEFILE, "--cores", "8", "--configfile", "mine.yaml",
                "--config", "association=my_galaxy_lvl2_asn.json", "--dry-run"], mine)
    assert "demo_output/my_galaxy_dither1_i2d.fits" in out


def test_mirical_run_with_an_association(mine, run_env):
    config = yaml.safe_load((mine / "mine.yaml").read_text())
    (mine / "refs.yaml").write_text(yaml.safe_dump({"reference_files": config["reference_files"]}))
    _run([run_env / "python", "-c", "import glob, sys, mirical; mirical.make_association("
          "sorted(glob.glob(sys.argv[1])), glob.glob(sys.argv[2]), 'my_galaxy', 'my_galaxy_lvl2_asn.json')",
          *config["science"], *config["background"]], mine)
    out = _run([run_env / "mirical", "run", "my_galaxy_lvl2_asn.json", "--output-dir", "demo_output",
                "--configfile", "refs.yaml", "--set", "steps.resample.pixfrac=0.8", "--", "--dry-run"], mine)
    assert "demo_output/my_galaxy_i2d.fits" in out


def test_quickstart_demo_and_lint(run_env, tmp_path):
    """`./quickstart demo` runs snakemake on the repository's Snakefile; --lint from the same install."""
    out = _run([run_env / "snakemake", "--snakefile", SNAKEFILE, "--directory", tmp_path, "--cores", "8",
                "--dry-run"], REPO)
    assert "simulate" in out and "results/demo/demo_i2d.fits" in out
    out = _run([run_env / "snakemake", "--snakefile", SNAKEFILE, "--directory", tmp_path, "--lint"], REPO)
    assert "Congratulations" in out
