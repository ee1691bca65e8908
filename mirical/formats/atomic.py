"""Atomic output: write to a temporary name beside the file, rename it when complete.

The temporary name carries the writing process (``.{name}.{host}.{pid}.part``), so two
runs (or two jobs) never write, rename or remove each other's temporary files. A job
killed outright (SIGKILL, a power cut) leaves at most that one file: the next writer of
the same output on that host removes it once its process is gone, and a run that takes
the output folder's lock (`mirical.workflow.lock`) removes every such leftover.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mirical.errors import MiricalError

SUFFIX = ".part"
#: Why a write failed, in plain words, by errno.
WRITE_FAILURES = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "the file size limit was reached (ulimit -f)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EIO: "an input/output error of the device",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def host() -> str:
    """This machine's short name, as it appears in temporary names and the lock file."""
    return socket.gethostname().split(".")[0] or "localhost"


def temporary_path(path: str | os.PathLike, pid: int | None = None) -> Path:
    """The temporary name this process (or ``pid``) writes ``path`` under."""
    path = Path(path)
    return path.with_name(f".{path.name}.{host()}.{os.getpid() if pid is None else pid}{SUFFIX}")


def leftover_owner(tmp: Path) -> tuple[str, int] | None:
    """(host, pid) of a temporary file named by `temporary_path`, else None."""
    stem = tmp.name[: -len(SUFFIX)] if tmp.name.endswith(SUFFIX) else ""
    parts = stem.rsplit(".", 2)
    if not tmp.name.startswith(".") or len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def process_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_leftovers(path: Path) -> None:
    """Remove the temporary files of ``path`` left by writers on this host that no longer run."""
    here = host()
    for tmp in path.parent.glob(f".{path.name}.*{SUFFIX}"):
        owner = leftover_owner(tmp)
        if owner and owner[0] == here and owner[1] != os.getpid() and not process_alive(owner[1]):
            tmp.unlink(missing_ok=True)


def write_failure(exc: OSError, tmp: Path | None = None) -> str | None:
    """The plain reason of a failed write (full disk, size limit, quota, I/O error) to ``tmp``, else None."""
    if exc.errno in WRITE_FAILURES:
        return WRITE_FAILURES[exc.errno]
    if "requested and" in str(exc) and "written" in str(exc):  # astropy: a short write, errno lost
        return short_write_reason(tmp)
    return None


def short_write_reason(tmp: Path | None) -> str:
    """Why a write was cut short: the file size limit (``tmp`` reached it), a full disk, or either."""
    import resource
    import shutil

    try:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if tmp is not None and limit != resource.RLIM_INFINITY and tmp.stat().st_size >= limit:
            return WRITE_FAILURES[errno.EFBIG]
        if tmp is not None and shutil.disk_usage(tmp.parent).free < (1 << 20):
            return WRITE_FAILURES[errno.ENOSPC]
    except OSError:
        pass
    return "the write was cut short (no space left on the device or the file size limit reached)"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary name beside ``path`` to write to; it becomes ``path`` when the block ends.

    On any error the temporary file is removed; a failed write (full disk, file size limit,
    quota, I/O error) becomes a `MiricalError` naming ``path`` and the reason.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = write_failure(exc) or exc.strerror
        raise MiricalError(str(path.parent), f"cannot create the folder: {reason}") from None
    remove_dead_leftovers(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        reason = write_failure(exc, tmp) if isinstance(exc, OSError) else None
        tmp.unlink(missing_ok=True)
        if reason:
            raise MiricalError(str(path), f"could not be written: {reason}; nothing was left under its name") from None
        raise
