"""The reduced demo through a real SLURM (profiles/slurm) gives the local run's files, byte for byte.

Skipped unless MIRICAL_SLURM=1; `.ci/slurm.sh` starts a one-node cluster, installs
snakemake-executor-plugin-slurm into .venv and runs this with MIRICAL_SLURM=1. This file
installs and starts nothing itself.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REDUCED_DEMO, SNAKEFILE

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(os.environ.get("MIRICAL_SLURM") != "1", reason="set MIRICAL_SLURM=1 (see .ci/slurm.sh)"),
]
TIMEOUT = 900  # s; a job SLURM cannot place would otherwise leave Snakemake waiting forever


def snakemake(workdir: Path, *args: str) -> str:
    """Run the workflow in workdir; its log (stdout + stderr), or fail with the log's tail."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
           "--config", "output_dir=out", REDUCED_DEMO, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed Snakemake (SIGKILL)
        log = "".join(x.decode() if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr))
        queue = squeue()
        jobids = re.findall(r"submitted with SLURM jobid (\d+)", log)
        if jobids:  # ours only, so that the cluster is left empty
            subprocess.run(["scancel", *jobids], capture_output=True)
        pytest.fail(f"snakemake took over {TIMEOUT} s; squeue:\n{queue}\n{log[-4000:]}")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake failed ({' '.join(cmd)}):\n{log[-6000:]}"
    return log


def squeue() -> str:
    """The queue with each job's reason, e.g. PartitionConfig for a request no node can meet."""
    return subprocess.run(["squeue", "-o", "%i %j %T %r %C %m"], capture_output=True, text=True).stdout


COMPARED = (".fits", ".json", ".ecsv", ".asdf")  # as tests/test_rerun.py; not PNG/HTML/logs


def products(out: Path) -> dict[str, bytes]:
    """Every output file of the COMPARED kinds under out/ (demo data included), by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.suffix in COMPARED}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(SLURM log, SLURM job states, SLURM run folder, local outputs). Both runs use the same
    folder path, one after the other: outputs may hold absolute paths (_refs.json does)."""
    if shutil.which("sinfo") is None or subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        pytest.fail("MIRICAL_SLURM=1 but `sinfo` does not work: is SLURM running?")
    try:  # required, not optional, once MIRICAL_SLURM=1: fail rather than skip
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.fail("MIRICAL_SLURM=1 but snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
    base = tmp_path_factory.mktemp("slurm")
    workdir = base / "run"
    # `--workflow-profile slurm` is found next to the Snakefile from any working directory;
    # kept logs are the proof that SLURM ran the jobs.
    log = snakemake(workdir, "--workflow-profile", "slurm", "--slurm-keep-successful-logs")
    states = {j: job_state(j) for j in re.findall(r"submitted with SLURM jobid (\d+)", log)}
    workdir.rename(base / "slurm")
    snakemake(workdir, "--cores", "2")
    workdir.rename(base / "local")
    return log, states, base / "slurm", products(base / "local" / "out")


def job_state(jobid: str) -> str:
    """JobState from slurmctld (which knows finished jobs for MinJobAge seconds)."""
    out = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True).stdout
    return m.group(1) if (m := re.search(r"JobState=(\w+)", out)) else f"unknown to slurmctld: {out.strip()}"


def test_jobs_ran_as_slurm_jobs(runs):
    log, states, slurm, _ = runs
    assert states, "no job was submitted to SLURM"
    assert all(s == "COMPLETED" for s in states.values()), states
    kept = {p.stem for p in (slurm / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(states) <= kept, f"SLURM jobs without a SLURM log: {sorted(set(states) - kept)}"
    # The rules that are not local rules ran inside SLURM ("rule X:", not "localrule X:").
    remote = set(re.findall(r"^\s*rule (\w+):", log, re.M))
    assert {"simulate", "background", "assign_wcs", "flat_field", "photom", "resample", "mosaic"} <= remote


def test_outputs_equal_the_local_run_byte_for_byte(runs):
    _, _, slurm, local = runs
    remote = products(slurm / "out")
    assert sorted(remote) == sorted(local)
    assert any(name.endswith("_cal.fits") for name in local)
    differ = {name: difference(remote[name], local[name]) for name in local if remote[name] != local[name]}
    assert not differ, f"differ between the SLURM and the local run: {differ}"


def difference(a: bytes, b: bytes) -> str:
    """Where two files differ: the first byte, and for FITS the HDUs, keywords and arrays."""
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    where = f"sizes {len(a)}/{len(b)}, first differing byte {first}"
    if not a.startswith(b"SIMPLE"):
        return where
    from astropy.io import fits

    diff = fits.FITSDiff(fits.HDUList.fromstring(a), fits.HDUList.fromstring(b), ignore_keywords=[])
    return f"{where}\n{diff.report()[-3000:]}"
