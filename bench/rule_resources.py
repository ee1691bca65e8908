"""Measure each rule's wall time and peak memory on the full-frame demo (for `resources:`).

    python bench/rule_resources.py [--workdir DIR] [--dithers 4] [--sources 40] [--cores 1]

1. Runs the demo with subarray FULL (1024 x 1032, MIRI's largest frame) locally.
2. Re-runs one job of every rule on its own (`snakemake --force OUTPUT`, mtime ignored so
   nothing else runs) and records its wall time and the peak resident memory of the largest
   process in it (os.wait4's ru_maxrss: Snakemake or the rule's script, whichever is larger).
3. Measures Snakemake alone (a dry run of the same job), so the script's share is visible.
4. Prints a markdown table; bench/RESOURCES.md records one with the conclusions.

A SLURM job runs Snakemake twice (the job step and, inside `srun`, the job itself) next to
the script, so a job's memory is about 2 x Snakemake + the script's peak.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def measured(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the largest process of the tree) of running cmd."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()  # read before waiting: a full pipe would block the child
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{stderr.decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024  # Linux: ru_maxrss is in KiB


def summary(base: list[str], cwd: Path) -> dict[str, str]:
    """rule -> one output file of it, from `snakemake --summary` (first job of each rule)."""
    out = subprocess.run(base + ["--summary"], cwd=cwd, capture_output=True, text=True, check=True)
    rows = csv.DictReader(out.stdout.splitlines(), delimiter="\t")
    jobs: dict[str, str] = {}
    for row in rows:
        jobs.setdefault(row["rule"], row["output_file"])
    return jobs


def benchmark(workdir: Path, rule: str) -> tuple[str, str]:
    """(s, max_rss) of the rule's first Snakemake benchmark file (the script alone, sampled
    once a second), if there is one at out/benchmarks/RULE.tsv or out/benchmarks/RULE/*.tsv."""
    bench = workdir / "out" / "benchmarks"
    files = sorted(bench.glob(f"{rule}.tsv")) or sorted(bench.glob(f"{rule}/*.tsv"))
    if not files:
        return "-", "-"
    row = next(csv.DictReader(files[0].open(), delimiter="\t"))
    return row.get("s", "-"), row.get("max_rss", "-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, help="working directory (default: a new temporary one)")
    ap.add_argument("--dithers", type=int, default=4)
    ap.add_argument("--sources", type=int, default=40)
    ap.add_argument("--cores", type=int, default=1, help="cores of the first, complete run")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mirical-resources-"))
    workdir.mkdir(parents=True, exist_ok=True)
    demo = f"{{n_dithers: {args.dithers}, subarray: FULL, n_sources: {args.sources}}}"
    base = SNAKEMAKE + ["--snakefile", str(ROOT / "Snakefile"), "--config", "output_dir=out", f"demo={demo}"]

    wall, _ = measured(base + ["--cores", str(args.cores)], workdir)
    print(f"complete run ({args.cores} core(s)): {wall:.1f} s in {workdir}", file=sys.stderr)

    # Only `params` (which holds the code hashes) may trigger a re-run: the forced job runs alone.
    alone = ["--cores", "1", "--rerun-triggers", "params", "--force"]
    print("| rule | job wall [s] | Snakemake alone [s] | benchmark s | job peak RSS [MB] "
          "| Snakemake alone [MB] | benchmark max_rss [MB] |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rule, output in summary(base, workdir).items():
        wall, rss = measured(base + alone + [output], workdir)
        wall_smk, rss_smk = measured(base + alone + ["--dry-run", output], workdir)
        b_s, b_rss = benchmark(workdir, rule)
        print(f"| {rule} | {wall:.1f} | {wall_smk:.1f} | {b_s} | {rss:.0f} | {rss_smk:.0f} | {b_rss} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)


if __name__ == "__main__":
    main()
