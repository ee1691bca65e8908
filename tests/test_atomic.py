"""Atomic output: a temporary name per writing process, renamed when complete, removed on error."""
import errno
import os
import subprocess
import sys

import pytest

from mirical.errors import MiricalError
from mirical.formats.atomic import atomic_path, host, temporary_path


def test_written_under_the_temporary_name_then_renamed(tmp_path):
    target = tmp_path / "sub" / "x_cal.fits"
    with atomic_path(target) as tmp:
        assert tmp == tmp_path / "sub" / f".x_cal.fits.{host()}.{os.getpid()}.part"
        tmp.write_text("data")
        assert not target.exists()
    assert target.read_text() == "data" and not tmp.exists()


def test_an_error_leaves_neither_file(tmp_path):
    target = tmp_path / "x_cal.fits"
    with pytest.raises(ZeroDivisionError), atomic_path(target) as tmp:
        tmp.write_text("half")
        1 / 0
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_writers_leftover_is_removed_by_the_rerun_but_a_live_writers_is_not(tmp_path):
    target = tmp_path / "x_cal.fits"
    dead = temporary_path(target, _dead_pid())
    dead.write_text("partial, from a SIGKILLed job")
    live = temporary_path(target, os.getppid())  # another run still writing (its process exists)
    live.write_text("another run's partial file")
    with atomic_path(target) as tmp:
        tmp.write_text("complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "x_cal.fits"])
    assert target.read_text() == "complete" and live.read_text() == "another run's partial file"


@pytest.mark.parametrize("error, reason", [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
    (OSError(errno.EFBIG, "File too large"), "the file size limit was reached"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "the disk quota is exceeded"),
    (OSError(errno.EIO, "Input/output error"), "an input/output error"),
    (OSError("1056768 requested and 887120 written"), "the write was cut short (no space left on the device or "
                                                       "the file size limit reached)"),
])
def test_a_failed_write_is_one_line_naming_the_file_and_the_reason(tmp_path, error, reason):
    target = tmp_path / "x_cal.fits"
    with pytest.raises(MiricalError) as info, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise error
    assert str(info.value).startswith(f"{target}: could not be written: {reason}")
    assert "\n" not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__
    assert list(tmp_path.iterdir()) == []


def test_other_os_errors_pass_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x.fits"):
        raise FileNotFoundError(errno.ENOENT, "gone")
