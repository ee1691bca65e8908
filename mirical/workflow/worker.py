"""The warm worker: one process per local run that has the heavy modules imported and
forks one child per job, so a job does not pay numpy/astropy/gwcs/asdf/drizzle/matplotlib
imports and asdf's extension discovery again.

- `start` (the Snakefile's ``onstart:``, local runs only) starts it as a child of the
  Snakemake process and names it in ``$MIRICAL_WORKER``: a Linux abstract-namespace
  unix socket (nothing on disk) whose name carries a hash of ``sys.executable`` and
  this package's folder, so only jobs run by the same Python and mirical use it.
- `delegate` (`mirical.workflow.runner.main`) sends the job's script, argv, cwd, environment,
  sys.path and its stdout/stderr (SCM_RIGHTS) and waits for the exit status. Where
  there is no reachable worker of the same Python, it returns None: the job runs in
  its own process as without the worker.
- `serve` runs the worker: a child per job runs the job's Snakemake script (preamble
  included) with the job's stdout/stderr and cwd and the same log file; it is killed
  when the job's process goes away (a cancelled job). The worker exits on `stop`
  (``onsuccess:``/``onerror:``), when the Snakemake process is gone, or when idle.

This module's top level imports only the standard library's light modules: a job's
own process imports it before it knows whether it runs the job itself.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import socket
import struct
import sys
from typing import Any

ENV = "MIRICAL_WORKER"
IDLE_SECONDS = 300.0  # the worker exits after this long without a job
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_STARTED = b"S"  # the worker forked the job's child; the exit status follows
_STATUS = struct.Struct("!i")
_LENGTH = struct.Struct("!I")
# One line per job in its log, written by the child: the job's own CPU and peak memory (the
# latter includes the pages shared with the worker); a Snakemake `benchmark:` file then
# measures only the job's waiting process (bench/summarize_benchmarks.py adds this line).
RESOURCES_PREFIX = "mirical job resources (in the warm worker):"


def environment_hash() -> str:
    """A short hash of this Python executable and this mirical package's folder."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # mirical/, this module is in workflow/
    return hashlib.sha256(f"{sys.executable}\0{here}".encode()).hexdigest()[:16]


def _address(name: str) -> bytes:
    return b"\0" + name.encode()


# ------------------------------------------------------------------ the job's side
def delegate(name: str, log_path: str | None) -> int | None:
    """Run this job (``sys.argv[0]``, the Snakemake script) in worker ``name``.

    Returns the job's exit status, or None when no worker of this Python and mirical
    answers: the caller then runs the job itself.
    """
    if not name.startswith(f"mirical-{environment_hash()}-"):
        return None
    request = pickle.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
                            "path": sys.path, "log": log_path})
    sys.stdout.flush()
    sys.stderr.flush()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(_address(name))
        message = _LENGTH.pack(len(request)) + request
        sent = conn.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("2i", 1, 2))])
        conn.sendall(message[sent:])
        started = conn.recv(1)
    except OSError:
        started = b""
    if started != _STARTED:  # no worker, or it stopped before taking the job
        conn.close()
        return None
    status = _recv_exact(conn, _STATUS.size)
    conn.close()
    if status is None:
        print(f"mirical: the warm worker {name} stopped while running this job", file=sys.stderr)
        return 1
    return _STATUS.unpack(status)[0]


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


# ------------------------------------------------------------------ Snakemake's side
_running: Any = None  # the worker this process started (a subprocess.Popen)


def start(package_parent: str, timeout: float = 10.0) -> bool:
    """Start the worker as a child of this process and name it in ``$MIRICAL_WORKER``.

    False (jobs run in their own processes) when it did not come up.
    """
    global _running
    import secrets
    import select
    import subprocess

    name = f"mirical-{environment_hash()}-{os.getpid()}-{secrets.token_hex(8)}"
    code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
            f"from mirical.workflow.worker import serve; serve({name!r})")
    # Single-threaded numerical libraries, as Snakemake runs every job of this workflow (threads: 1),
    # and so that the worker forks from a process with one thread.
    env = dict(os.environ, **{var: "1" for var in _THREAD_VARIABLES})
    _running = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                env=env, start_new_session=True)
    ready, _, _ = select.select([_running.stdout], [], [], timeout)
    line = _running.stdout.readline() if ready else b""
    _running.stdout.close()
    if line.strip() != b"listening":
        stop()
        return False
    os.environ[ENV] = name
    return True


def stop() -> None:
    """Stop the worker this process started (its running jobs are killed) and wait for it."""
    global _running
    import subprocess

    os.environ.pop(ENV, None)
    if _running is None:
        return
    if _running.poll() is None:
        _running.terminate()
        try:
            _running.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _running.kill()
            _running.wait()
    _running = None


# ------------------------------------------------------------------ the worker
def serve(name: str, idle_seconds: float = IDLE_SECONDS) -> None:
    """The worker's main loop (one thread): listen, fork one child per job, report its status."""
    import importlib
    import selectors
    import signal

    parent = os.getppid()
    parent_fd = os.pidfd_open(parent)  # readable when Snakemake is gone; no pidfd: no worker
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_address(name))
    listener.listen(128)
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _preimport()

    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(parent_fd, selectors.EVENT_READ, "parent")
    jobs: dict[int, tuple[socket.socket, int]] = {}  # child pid -> (job connection, pidfd)
    import time

    idle_since = time.monotonic()
    late = list(LATE_PREIMPORT)
    try:
        while os.getppid() == parent:
            events = selector.select(timeout=0 if late else 1.0)
            if not events and late:  # nothing to do now: one more module for the jobs to come
                importlib.import_module(late.pop(0))
                gc.freeze()  # (see `_preimport`)
                continue
            for key, _ in events:
                if key.data == "parent":
                    return
                if key.data == "accept":
                    _take_job(listener, selector, jobs)
                elif key.data[1] in jobs:  # (not finished by the other event of the same select)
                    kind, pid = key.data
                    _finish(pid, kind == "conn", selector, jobs)
            if jobs:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_seconds:
                return
    finally:
        for pid in list(jobs):
            _finish(pid, True, selector, jobs)
        listener.close()


# mirical modules the worker does not import: itself, the API (Snakemake's), the entry point.
SKIP_PREIMPORT = ("mirical.workflow.worker", "mirical.api", "mirical.__main__")
# Imported by the worker once, besides every mirical module: what the jobs' scripts import lazily
# (the figures' pyplot and its Agg backend: 0.06 s a figure job otherwise) and what the jobs' Snakemake
# script preamble imports (Snakemake started this worker with this Python, so it is there; a job's own
# environment need not list it).
PREIMPORT = ("asdf", "matplotlib.pyplot", "matplotlib.backends.backend_agg", "snakemake.iocontainers",
             "snakemake.logging")
# Imported once the worker takes jobs, one at a time while none is waiting: what the later steps' jobs
# import lazily (source finding: ~0.7 s CPU each job would pay; the mosaic figures' RA/Dec axes: 0.13 s;
# the first jobs do not wait for them).
LATE_PREIMPORT = ("photutils.background", "photutils.detection", "photutils.segmentation",
                  "astropy.visualization.wcsaxes")


def _preimport() -> None:
    """Import what the jobs import, draw one small figure and build asdf's extension list, once; then freeze
    the garbage collector's view of all of it (`gc.freeze`), so that a job's full collections do not scan
    the worker's objects again (nor write to their pages, which the forked jobs share)."""
    import importlib
    import pkgutil

    import mirical

    for module in pkgutil.walk_packages(mirical.__path__, "mirical."):
        if module.name not in SKIP_PREIMPORT:
            importlib.import_module(module.name)
    for name in PREIMPORT:
        importlib.import_module(name)
    from mirical.products.plots import warm_up

    warm_up()  # fonts and matplotlib's caches loaded once, not in every figure job
    importlib.import_module("asdf").get_config().extensions  # noqa: B018  (parses every manifest once)
    gc.collect()
    gc.freeze()


def _take_job(listener: socket.socket, selector: Any, jobs: dict) -> None:
    import selectors

    conn, _ = listener.accept()
    conn.settimeout(10)
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            raise OSError("another user")
        data, fds, _, _ = socket.recv_fds(conn, 65536, 2)
        if len(fds) != 2 or len(data) < _LENGTH.size:
            raise OSError("incomplete request")
        length = _LENGTH.unpack(data[:_LENGTH.size])[0]
        rest = _recv_exact(conn, length - (len(data) - _LENGTH.size)) if len(data) - _LENGTH.size < length else b""
        if rest is None:
            raise OSError("incomplete request")
        request = pickle.loads(data[_LENGTH.size:] + rest)
    except (OSError, pickle.UnpicklingError, EOFError):
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        _run_job(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    conn.sendall(_STARTED)
    conn.setblocking(False)
    pidfd = os.pidfd_open(pid)
    jobs[pid] = (conn, pidfd)
    selector.register(conn, selectors.EVENT_READ, ("conn", pid))
    selector.register(pidfd, selectors.EVENT_READ, ("child", pid))


def _finish(pid: int, kill: bool, selector: Any, jobs: dict) -> None:
    """Reap child ``pid`` (killing its process group first if ``kill``) and send the job its status."""
    import signal

    conn, pidfd = jobs.pop(pid)
    if kill:  # the job's process went away (cancelled), or the worker stops
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    selector.unregister(conn)
    selector.unregister(pidfd)
    os.close(pidfd)
    code = os.waitstatus_to_exitcode(status)
    try:
        conn.setblocking(True)
        conn.sendall(_STATUS.pack(code if code >= 0 else 128 - code))  # killed by a signal: 128 + signal
    except OSError:
        pass
    conn.close()


def _run_job(request: dict, fds: list[int]) -> None:
    """In the forked child: run the job's script as its own process would, then exit."""
    import signal

    code = 1
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the worker's socket, other jobs' connections
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.pop(ENV, None)  # the child runs the job itself (mirical.workflow.runner.main)
        sys.argv = request["argv"]
        sys.path[:] = request["path"]
        import runpy

        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        if request["log"] and code == 0:
            _write_resources(request["log"], sys.argv[0])
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """SIGKILL this child when the worker dies (prctl PR_SET_PDEATHSIG; the worker has one thread)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _write_resources(log_path: str, script: str) -> None:
    import resource

    times = os.times()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(log_path, "a") as fh:
        fh.write(f"{RESOURCES_PREFIX} script={os.path.basename(script)} cpu_s={times.user + times.system:.3f} "
                 f"max_rss_mb={peak_mb:.1f}\n")


def read_resources(log_text: str) -> dict[str, Any] | None:
    """The job's resources line of a log (`_write_resources`): script, cpu_s, max_rss_mb; None if none."""
    for line in log_text.splitlines():
        if line.startswith(RESOURCES_PREFIX):
            fields = dict(item.split("=", 1) for item in line[len(RESOURCES_PREFIX):].split())
            return {"script": fields["script"], "cpu_s": float(fields["cpu_s"]),
                    "max_rss_mb": float(fields["max_rss_mb"])}
    return None
