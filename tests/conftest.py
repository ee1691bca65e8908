"""Shared fixtures: running the workflow on a reduced demo."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
# Small but real: BRIGHTSKY subarray (512x512), two dithers, one background.
REDUCED_DEMO = "demo={n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}"


def run_snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the mirical workflow with Snakemake in ``workdir`` (its own .snakemake)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--cores", "2", *args]
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
