"""One run per output folder: the lock file, its refusal, the take-over of a dead run's lock."""
import json
import logging
import os
import subprocess
import sys

import pytest

from mirical.errors import MiricalError
from mirical.formats.atomic import host, temporary_path
from mirical.workflow.lock import LOCK_NAME, acquire, process_start, release


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lock(folder, **holder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"started": "2026-01-01T00:00:00", **holder}))


def test_taken_with_host_pid_and_start_then_released(tmp_path):
    out = tmp_path / "out"
    path = acquire(out, "snakemake ...")
    holder = json.loads(path.read_text())
    assert path == out / LOCK_NAME and holder["host"] == host() and holder["pid"] == os.getpid()
    assert holder["started"] and holder["command"] == "snakemake ..."
    release(out)
    assert not path.exists()


def test_a_second_run_is_refused_while_the_first_runs(tmp_path):
    parent = os.getppid()
    _lock(tmp_path, host=host(), pid=parent, start_tick=process_start(parent))
    with pytest.raises(MiricalError) as info:
        acquire(tmp_path)
    text = str(info.value)
    assert text.startswith(f"{tmp_path}: another mirical run is writing this output folder (host {host()}, "
                           f"pid {parent}, started 2026-01-01T00:00:00)") and "another output_dir" in text
    release(tmp_path)  # a refused run never removes the holder's lock
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == parent


def test_a_reused_pid_does_not_hold_the_lock(tmp_path):
    _lock(tmp_path, host=host(), pid=os.getppid(), start_tick="1")  # that pid now belongs to another process
    acquire(tmp_path)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_dead_runs_lock_and_temporary_files_are_taken_over_with_a_warning(tmp_path, caplog):
    dead = _dead_pid()
    _lock(tmp_path, host=host(), pid=dead)
    leftover = temporary_path(tmp_path / "intermediate" / "p_flat.fits", dead)
    leftover.parent.mkdir()
    leftover.write_text("partial")
    old_style = tmp_path / ".p_cal.fits.part"
    old_style.write_text("partial")
    with caplog.at_level(logging.WARNING, logger="mirical"):
        acquire(tmp_path)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert f"took over the lock of a run that is gone (host {host()}, pid {dead}" in caplog.text
    assert not leftover.exists() and not old_style.exists()


def test_another_hosts_lock_is_refused_with_what_to_do(tmp_path):
    _lock(tmp_path, host="othernode", pid=1)
    with pytest.raises(MiricalError) as info:
        acquire(tmp_path)
    assert "(host othernode, pid 1" in str(info.value) and f"delete {tmp_path / LOCK_NAME}" in str(info.value)


def test_an_earlier_run_of_this_process_does_not_block_the_next(tmp_path):
    """mirical.run interrupted (no onerror): the next mirical.run in the same Python takes the lock."""
    acquire(tmp_path)
    acquire(tmp_path)
    release(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
