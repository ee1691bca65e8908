"""The warm worker (mirical/workflow/worker.py): same outputs, own logs and exit statuses, no process left."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REDUCED_DEMO, SNAKEFILE, run_snakemake
from mirical.workflow import worker

REPO = Path(__file__).resolve().parents[1]

# A job as mirical.workflow.runner.main runs it, without Snakemake: argv[1] the log, argv[2] what to do.
JOB = """
import os, sys, time
from types import SimpleNamespace
from mirical.errors import MiricalError
from mirical.workflow.runner import log, main

def body(snakemake):
    what = sys.argv[2]
    with open(sys.argv[1] + ".pid", "w") as fh:
        fh.write(str(os.getpid()))
    if what == "fail":
        raise MiricalError("broken_rate.fits", "not a readable FITS file")
    if what == "sleep":
        time.sleep(120)
    if what == "modules":  # which of the worker's late imports this job found imported
        log.info("imported %s", ",".join(m for m in sys.argv[3:] if m in sys.modules))
    log.info("done in %s", os.getcwd())

main(SimpleNamespace(log=[sys.argv[1]], rule="t"), body)
"""


def _pids_with(text: str) -> list[int]:
    """Processes whose command line contains ``text``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def started():
    """A worker started as the Snakefile's onstart does, here from the test's Python."""
    assert worker.start(str(REPO))
    yield os.environ[worker.ENV], worker._running.pid
    worker.stop()


def _job(tmp_path, name, what, *args, **kw):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    env = dict(os.environ, MIRICAL_WORKER=name, PYTHONPATH=str(REPO))  # this checkout's mirical, as the worker's
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "job.log"), what, *args], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_later_steps_modules_imported_while_the_worker_waits(started, tmp_path):
    # Source finding (photutils) is imported by the worker when no job waits, not by every job that finds sources.
    late = list(worker.LATE_PREIMPORT)
    assert not {"photutils.segmentation", "photutils.background"} - set(late)
    for _ in range(120):
        proc = _job(tmp_path, started[0], "modules", *late)
        proc.communicate(timeout=120)
        found = (tmp_path / "job.log").read_text().splitlines()[0].removeprefix("INFO mirical: imported ")
        if found.split(",") == late:
            break
        time.sleep(0.5)
    assert found.split(",") == late


def test_job_runs_in_a_child_of_the_worker_with_its_log_and_status(started, tmp_path):
    name, worker_pid = started
    proc = _job(tmp_path, name, "ok")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    log = (tmp_path / "job.log").read_text().splitlines()
    assert log[0] == f"INFO mirical: done in {tmp_path}"
    assert len(log) == 2 and log[1].startswith(worker.RESOURCES_PREFIX)
    resources = worker.read_resources("\n".join(log))
    assert resources["script"] == "job.py" and 0 <= resources["cpu_s"] < 60 and resources["max_rss_mb"] > 50
    assert err.splitlines() == [f"INFO mirical: done in {tmp_path}"]  # the job's own stderr
    child = int((tmp_path / "job.log.pid").read_text())
    assert child != proc.pid and not _alive(child)
    # The worker forks from one thread.
    assert "Threads:\t1\n" in Path(f"/proc/{worker_pid}/status").read_text()


def test_failing_job_has_its_one_error_line_and_status(started, tmp_path):
    proc = _job(tmp_path, started[0], "fail")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    line = "ERROR mirical: broken_rate.fits: not a readable FITS file"
    assert err.splitlines() == [line]
    assert (tmp_path / "job.log").read_text().splitlines() == [line]
    assert int((tmp_path / "job.log.pid").read_text()) != proc.pid


def test_killed_job_kills_its_child(started, tmp_path):
    proc = _job(tmp_path, started[0], "sleep")
    deadline = time.time() + 120
    while not (tmp_path / "job.log.pid").is_file() and time.time() < deadline:
        time.sleep(0.1)
    child = int((tmp_path / "job.log.pid").read_text())
    assert child != proc.pid and _alive(child)
    proc.send_signal(signal.SIGKILL)  # what Snakemake does to a cancelled job
    proc.wait()
    deadline = time.time() + 5
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_no_reachable_worker_runs_the_job_itself(tmp_path):
    for name in (f"mirical-{worker.environment_hash()}-1-nobody", "mirical-0123456789abcdef-1-other-python"):
        proc = _job(tmp_path, name, "ok")
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert (tmp_path / "job.log").read_text().splitlines() == [f"INFO mirical: done in {tmp_path}"]
        assert int((tmp_path / "job.log.pid").read_text()) == proc.pid


# ----------------------------------------------------------------- the workflow, as users run it
@pytest.mark.workflow
def test_outputs_identical_without_the_worker(demo_run, tmp_path):
    """The reduced demo without the worker, and with $MIRICAL_WORKER naming none (the fallback)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(tmp_path),
           "--cores", "2", "--config", "output_dir=out", "warm_worker=false", REDUCED_DEMO]
    env = dict(os.environ, MIRICAL_WORKER=f"mirical-{worker.environment_hash()}-1-nobody")
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    out = tmp_path / "out"
    compared = 0
    for reference in sorted(demo_run.rglob("*")):
        rel = reference.relative_to(demo_run)
        if reference.is_file() and rel.parts[0] not in ("logs", "benchmarks"):
            mine = (out / rel).read_bytes()
            if rel.name.endswith("_refs.json"):  # absolute paths of the two run folders
                mine = mine.replace(json.dumps(str(tmp_path))[1:-1].encode(),
                                    json.dumps(str(demo_run.parent))[1:-1].encode())
            assert mine == reference.read_bytes(), rel
            compared += 1
    assert compared > 20
    with_worker = [p for p in (demo_run / "logs").rglob("*.log") if worker.RESOURCES_PREFIX in p.read_text()]
    assert len(with_worker) > 10  # the demo run used the worker (the default)
    assert not [p for p in (out / "logs").rglob("*.log") if worker.RESOURCES_PREFIX in p.read_text()]


@pytest.mark.workflow
@pytest.mark.parametrize("kill", [False, True])
def test_no_worker_outlives_snakemake(demo_run, tmp_path, kill):
    """After a run, and within seconds of Snakemake being SIGKILLed, no worker or job child remains."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(tmp_path),
           "--cores", "2", "--config", "output_dir=out", REDUCED_DEMO]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = f"mirical-{worker.environment_hash()}-{proc.pid}-"  # the worker's socket name, on its command line and its children's
    seen = []
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        seen = seen or _pids_with(marker)
        if kill and list((tmp_path / "out" / "intermediate").glob("*_wcs.fits")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.1)
    proc.wait(timeout=300)
    assert seen, "no worker ran"
    if kill:
        assert not (tmp_path / "out" / "demo_i2d.fits").exists(), "the run finished before it was killed"
    else:
        assert proc.returncode == 0
    deadline = time.time() + 5
    while [p for p in _pids_with(marker) if _alive(p)] and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in _pids_with(marker) if _alive(p)]
    if kill:  # the documented resume still works
        run_snakemake(tmp_path, "--unlock", "--config", "output_dir=out", REDUCED_DEMO)
