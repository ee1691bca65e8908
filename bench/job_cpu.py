"""CPU seconds (user + sys) and peak RSS of every job's Python process, per rule, for one Snakemake run.

    python bench/job_cpu.py WORKDIR [--repeat 3] -- SNAKEMAKE_ARGS...

e.g. ``python bench/job_cpu.py /tmp/w --repeat 3 -- --cores 2 --forceall --config output_dir=out``.
Each run puts a ``sitecustomize`` on PYTHONPATH that, when a Python process
exits, records its own CPU time (``os.times()``, start-up and imports included),
its peak RSS (``ru_maxrss``) and which of gwcs, asdf, scipy, matplotlib it imported. Snakemake's
``benchmark:`` files sample the job's process tree and miss short jobs' start-up;
this does not. A job run by the warm worker (mirical/workflow/worker.py) is its waiting
process (recorded so) plus the worker's child, whose CPU and peak RSS are the line
it writes in the job's log; the worker's own process (its imports, once per run) is
the rule "warm worker". Prints, per rule, the jobs, the mean and summed CPU over the
runs' median, the largest peak RSS, and the modules loaded (by the job's own process).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from mirical.workflow.worker import read_resources

REPO = Path(__file__).resolve().parents[1]
WATCHED = ("gwcs", "asdf", "scipy", "matplotlib", "drizzle", "astropy.table")
SITECUSTOMIZE = """
import atexit, json, os, resource, sys
def _record():
    t = os.times()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mods = [m for m in {watched!r} if m in sys.modules]
    with open(os.path.join({out!r}, f"{{os.getpid()}}.json"), "w") as fh:
        json.dump({{"argv": sys.argv, "cpu": t.user + t.system, "rss_mb": rss, "modules": mods}}, fh)
atexit.register(_record)
"""


def run_once(workdir: Path, args: list[str]) -> dict[str, list[tuple[float, float, list[str]]]]:
    """{rule: [(cpu s, peak RSS MB, modules), ...]} of one run; the rule "snakemake" is Snakemake's own process."""
    with tempfile.TemporaryDirectory() as tmp:
        site, out = Path(tmp, "site"), Path(tmp, "out")
        site.mkdir()
        out.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(watched=WATCHED, out=str(out)))
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), *args]
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                           filter(None, [str(site), os.environ.get("PYTHONPATH")]))})
        rules = defaultdict(list)
        for path in out.glob("*.json"):
            record = json.loads(path.read_text())
            script = re.search(r"\.(\w+)\.py$", record["argv"][0] if record["argv"] else "")
            rule = script[1] if script else "snakemake" if "snakemake" in " ".join(record["argv"]) else None
            if record["argv"] == ["-c"]:
                rule = "warm worker"
            if rule:
                rules[rule].append((record["cpu"], record["rss_mb"], record["modules"]))
        for log in workdir.rglob("*.log"):  # the jobs' children in the warm worker
            in_worker = read_resources(log.read_text(errors="replace"))
            if in_worker:
                rule = re.search(r"\.(\w+)\.py$", in_worker["script"])[1]
                rules[f"{rule} (in worker)"].append((in_worker["cpu_s"], in_worker["max_rss_mb"], []))
        return rules


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("snakemake_args", nargs="+")
    args = parser.parse_args()
    runs = [run_once(args.workdir, args.snakemake_args) for _ in range(args.repeat)]
    print("| rule | jobs | CPU s per job (median of runs) | CPU s sum | runs' sums | peak RSS MB (max) | imports |")
    print("|---|---:|---:|---:|---|---:|---|")
    for rule in sorted({r for run in runs for r in run}):
        sums = [sum(cpu for cpu, _, _ in run.get(rule, [])) for run in runs]
        rss = max(r for run in runs for _, r, _ in run.get(rule, []))
        jobs = len(runs[0].get(rule, []))
        modules = sorted({m for run in runs for _, _, mods in run.get(rule, []) for m in mods})
        median = statistics.median(sums)
        print(f"| {rule} | {jobs} | {median / max(jobs, 1):.2f} | {median:.2f} | "
              f"{', '.join(f'{s:.2f}' for s in sums)} | {rss:.0f} | {', '.join(modules)} |")


if __name__ == "__main__":
    main()
