"""One run per output folder: a lock file in the folder, taken when the run starts, released when it ends.

The lock ``{output_dir}/.mirical.lock`` records who holds it (host, pid, start time, the
process's start tick) as JSON. A second run refuses to start while the holder runs; a lock
whose process is gone (same host: a killed run, a power cut) is taken over with a warning.
Taking the lock also removes the temporary files of earlier, dead runs (`mirical.formats.atomic`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from mirical.errors import MiricalError
from mirical.formats.atomic import SUFFIX, host, leftover_owner, process_alive

LOCK_NAME = ".mirical.lock"
log = logging.getLogger("mirical")


def lock_path(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / LOCK_NAME


def process_start(pid: int) -> str | None:
    """The start tick of process ``pid`` (Linux /proc), to tell a reused pid from the holder; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def holder_running(holder: dict) -> bool | None:
    """True if the lock's holder still runs, False if it is gone, None if it runs on another host (unknown)."""
    if holder.get("host") != host():
        return None
    pid = int(holder.get("pid", -1))
    if pid <= 0 or pid == os.getpid() or not process_alive(pid):
        return False  # gone, or an earlier run of this very process (mirical.run interrupted)
    tick = holder.get("start_tick")
    return tick is None or process_start(pid) in (None, tick)


def acquire(output_dir: str | os.PathLike, command: str = "") -> Path:
    """Take the output folder's lock for this process; a `MiricalError` if another run holds it.

    A lock left by a run that is gone (same host, no such process) is taken over with a warning.
    """
    path = lock_path(output_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MiricalError(str(path.parent), f"cannot create the output folder ({exc.strerror})") from None
    me = {"host": host(), "pid": os.getpid(), "start_tick": process_start(os.getpid()),
          "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            running = holder_running(holder) if holder else False
            if holder and running is not False:
                raise MiricalError(str(path.parent), refusal(holder, running, path)) from None
            stale = path.with_name(f"{LOCK_NAME}.{host()}.{os.getpid()}.stale")
            try:
                os.replace(path, stale)  # only one run wins the stale lock: the other finds it gone
            except FileNotFoundError:
                continue
            stale.unlink(missing_ok=True)
            holder = holder or {}
            log.warning("mirical: %s: took over the lock of a run that is gone (host %s, pid %s, started %s)",
                        path.parent, holder.get("host", "?"), holder.get("pid", "?"), holder.get("started", "?"))
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        remove_leftovers(path.parent)
        return path
    raise MiricalError(str(path), "could not take the output folder's lock (other runs keep taking it)")


def refusal(holder: dict, running: bool | None, path: Path) -> str:
    who = f"host {holder.get('host')}, pid {holder.get('pid')}, started {holder.get('started')}"
    if running:
        return (f"another mirical run is writing this output folder ({who}); wait for it to end, "
                "or give this run another output_dir")
    return (f"another mirical run may be writing this output folder ({who}, another machine); "
            f"if that run is gone, delete {path} and start again")


def read_holder(path: Path) -> dict | None:
    """The lock's JSON, or None if it is unreadable (a lock cut short by a crash)."""
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return {"host": host(), "pid": -1, "started": "just now"}  # released meanwhile: retry
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def release(output_dir: str | os.PathLike) -> None:
    """Remove the lock if this process holds it (a refused run never removes another's lock)."""
    path = lock_path(output_dir)
    holder = read_holder(path) if path.exists() else None
    if holder and holder.get("host") == host() and holder.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files of runs that are gone (the lock is ours: no other run writes here)."""
    removed = []
    here = host()
    for tmp in folder.rglob(f".*{SUFFIX}"):
        owner = leftover_owner(tmp)
        if owner and owner[0] == here and process_alive(owner[1]) and owner[1] != os.getpid():
            continue  # a job of this host still writing: leave it
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
