"""What SLURM costs per job, with and without the per-exposure group jobs.

    python bench/slurm_overhead.py [--repeat 2] [--only SLURM]
    .ci/slurm.sh .venv/bin/python bench/slurm_overhead.py   # with a one-node cluster just for it

Needs a working SLURM (sinfo) and snakemake-executor-plugin-slurm. Runs the reduced demo
(2 dithers, BRIGHTSKY) in fresh working directories: locally with 2 cores, through
profiles/slurm with one SLURM job per rule, and with each exposure's chain as one group
job. Per run it prints the wall time, the number of SLURM jobs, their summed run time
(scontrol) and how much of that was not the scripts' own time (benchmark files): the
overhead inside the jobs (job start, two Snakemake starts, srun). The rest of the gap to
the local run is the executor plugin's submit/poll cycle.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = "{n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}"


def grouped_rules() -> list[str]:
    """The rules that rules/*.smk put in the group EXPOSURE_GROUP (each exposure's chain)."""
    found = []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", smk.read_text(), re.M | re.S):
            if re.search(r"^\s+group:\s*\n\s+EXPOSURE_GROUP\s*$", body, re.M):
                found.append(rule)
    return found


CHAIN = grouped_rules()
SLURM = ["--workflow-profile", "slurm", "--groups"]
VARIANTS = {
    "local, --cores 2": ["--cores", "2", "--workflow-profile", "none"],
    # a group per rule = every job alone, whatever the rule files say
    "SLURM, one job per rule": SLURM + [f"{r}={r}" for r in CHAIN],
    "SLURM, the chain of each exposure as one job": SLURM + [f"{r}=exposure" for r in CHAIN],
}
# Not a variant: figures in the exposure group. A group job asks for the sum of the CPUs and
# memory of its jobs that could run side by side: measured when resample, plot_exposure and
# plot_steps all followed the first cal file, 3 CPUs, more than a 2-CPU node has, so SLURM never
# started it (bench/RESOURCES.md). Today one figure job reads each cal file (plot_exposure, or
# plot_steps for the first): 2 CPUs; not re-measured.


class JobWatcher(threading.Thread):
    """Records `scontrol show jobs` every few seconds: slurmctld forgets a finished job after
    MinJobAge (300 s), sooner than a slow run ends."""

    def __init__(self):
        super().__init__(daemon=True)
        self.jobs: dict[str, dict[str, str]] = {}
        self.stop = threading.Event()

    def poll(self) -> None:
        out = subprocess.run(["scontrol", "-o", "show", "jobs"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            job = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            if "JobId" in job:
                self.jobs[job["JobId"]] = job

    def run(self) -> None:
        while not self.stop.wait(3):
            self.poll()


def seconds(runtime: str) -> int:
    """SLURM's [D-]HH:MM:SS as seconds."""
    days, _, hms = runtime.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 86400 + h * 3600 + m * 60 + s


def remote_benchmarks(log: str) -> list[str]:
    """Benchmark files of the jobs that ran in SLURM ("rule X:" blocks, not "localrule X:")."""
    files, remote = [], False
    for line in log.splitlines():
        if m := re.match(r"\s*(local)?rule \w+:", line):
            remote = not m.group(1)
        elif remote and (m := re.match(r"\s*benchmark: (\S+)", line)):
            files.append(m.group(1))
    return files


def run(name: str, extra: list[str], base: Path) -> dict:
    wd = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--config", "output_dir=out", f"demo={DEMO}", *extra]
    watcher = JobWatcher()
    watcher.start()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    watcher.stop.set()
    watcher.join()
    watcher.poll()
    log = proc.stdout + proc.stderr
    (wd / "snakemake.txt").write_text(log)
    if proc.returncode:
        sys.exit(f"{name} failed, see {wd}/snakemake.txt")
    jobids = re.findall(r"submitted with SLURM jobid (\d+)", log)
    run_s = sum(seconds(watcher.jobs[j]["RunTime"]) for j in jobids)
    script_s = sum(float(next(csv.DictReader((wd / b).open(), delimiter="\t"))["s"]) for b in remote_benchmarks(log))
    return {"name": name, "wall": wall, "jobs": len(jobids), "run_s": run_s, "script_s": script_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", help="run only the variants whose name contains this text")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mirical-slurm-overhead-"))
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    print("| run | wall [s] | SLURM jobs | SLURM run time [s] | of which not scripts [s] | per job [s] |")
    print("|---|---:|---:|---:|---:|---:|")
    for _ in range(args.repeat):
        for name, extra in VARIANTS.items():
            if args.only and args.only not in name:
                continue
            r = run(name, extra, base)
            over = r["run_s"] - r["script_s"]
            per = f"{over / r['jobs']:.1f}" if r["jobs"] else "-"
            print(f"| {name} | {r['wall']:.0f} | {r['jobs']} | {r['run_s']} | {over:.0f} | {per} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}; runs kept in {base}", file=sys.stderr)


if __name__ == "__main__":
    main()
