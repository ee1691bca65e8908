"""Shared fixtures: running the workflow on a reduced demo; the run-time venv; the official pipeline's Python."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
# Small but real: BRIGHTSKY subarray (512x512), two dithers, one background.
REDUCED_DEMO = "demo={n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}"
# The run-time environment: what `./quickstart demo` installs (no test extras), kept in the
# repository like .venv and made or updated by quickstart itself.
RUN_VENV = REPO / ".venv-run"


def run_snakemake(workdir: Path, *args: str, check: bool = True, bin_dir: Path | None = None
                  ) -> subprocess.CompletedProcess:
    """Run the mirical workflow with Snakemake in ``workdir`` (its own .snakemake).

    ``bin_dir``: run that environment's ``snakemake`` (e.g. the run-time venv's) instead of this Python's.
    """
    snakemake = [str(bin_dir / "snakemake")] if bin_dir else [sys.executable, "-m", "snakemake"]
    cmd = [*snakemake, "--snakefile", str(SNAKEFILE), "--directory", str(workdir), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({' '.join(cmd)}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The reduced demo run end to end once; returns its output folder."""
    workdir = tmp_path_factory.mktemp("demo_run")
    run_snakemake(workdir, "--config", "output_dir=out", REDUCED_DEMO)
    return workdir / "out"


@pytest.fixture(scope="session")
def run_env() -> Path:
    """The bin/ folder of the run-time venv, set up by ``./quickstart demo`` (only ``pip install -e .``)."""
    env = dict(os.environ, MIRICAL_VENV=str(RUN_VENV))
    result = subprocess.run([sys.executable, str(REPO / "quickstart"), "demo", "--version"], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"./quickstart demo could not set up {RUN_VENV}:\n{result.stdout}\n{result.stderr}"
    bin_dir = RUN_VENV / ("Scripts" if os.name == "nt" else "bin")
    freeze = subprocess.run([str(bin_dir / "python"), "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout.lower()
    assert "pytest" not in freeze and "stdatamodels" not in freeze  # really the run-time install
    return bin_dir


def official_python() -> str:
    """The Python of the official pipeline's own venv (jwst 3.0.0): ``$MIRICAL_OFFICIAL_PYTHON``
    (``./quickstart test`` makes ``.venv-official`` and sets it), else ``.venv-official`` here.

    jwst lives in its own venv (it pins its own drizzle and brings asdf extensions that
    mirical's jobs must not load), so tests run it in a subprocess with this Python.
    """
    python = os.environ.get("MIRICAL_OFFICIAL_PYTHON") or str(REPO / ".venv-official" / "bin" / "python")
    if not Path(python).is_file():
        pytest.fail(f"no official pipeline Python at {python}: run the tests with ./quickstart test "
                    "(it makes .venv-official with jwst) or set MIRICAL_OFFICIAL_PYTHON")
    return python


def run_official(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python ARGS`` in the official pipeline's venv; fails the test with its output if it fails."""
    result = subprocess.run([official_python(), *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"official pipeline failed ({' '.join(args)[:300]}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def load_script(path: Path):
    """A Python file that is no package module (a bench or docs script), imported under its stem."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
