"""The workflow's critical path and its projected wall time on C cores, from measured job times.

    python bench/critical_path.py BENCHMARKS [BENCHMARKS ...] --demo-data DIR [--n 32 256] [--cores 8 32]

BENCHMARKS: the `benchmarks/` folders of measured runs (Snakemake `benchmark:` files,
`<rule>/<product>.tsv` or `<rule>.tsv`, figures under `plots/`), e.g. the demo's and the
32-exposure run's that bench/run.sh keeps. Each job's duration is its measured wall time
(`s`), and in a second projection its CPU time (`cpu_time`: what the wall time approaches when
the job has a core to itself):

- a rule with one job per exposure (background ... resample, outlier_drizzle,
  outlier_detection, mosaic_drizzle, plot_exposure) takes the mean over all its measured jobs;
- a rule whose job reads every exposure (association, the grids, outlier_median, mosaic,
  plot_mosaic, summary) is fitted as a + b N from the runs' different N (least squares,
  b >= 0); with one N it is taken as measured (not scaled: an underestimate for larger N).

The DAG is the workflow's own: `snakemake --dag` of the default target (figures, outlier
detection, summary) on an association of N header-only exposures (bench/dag_scale.py's,
references from the demo's files). Then (a) the critical path, the longest path by
duration, and (b) a list-scheduling simulation on C cores, each job one core (as every
rule declares), ready jobs started in the order they became ready (ties: DAG order), an
approximation of Snakemake's scheduler. Snakemake's own start and planning (``--fixed``, seconds:
bench/like_for_like.sh measures a run with nothing to do) is added to each projected wall;
its time between jobs is not counted. ``--official N=SECONDS`` gives the official pipeline's
measured wall for N exposures: the projections for N are then also given as its fraction.
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import heapq
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from summarize_benchmarks import job_records  # noqa: E402  (the worker child's CPU included)

# Benchmark files under plots/ (rules/plots.smk): file name ending -> the rule that wrote it (per-exposure
# figures), and file name -> rule for the run's one-of-a-kind figures.
PLOT_BENCHMARKS = {"_rate_cal": "plot_exposure", "_steps": "plot_steps", "_outliers": "plot_outliers",
                   "_background": "plot_background", "_destripe": "plot_destripe", "_lyotmask": "plot_lyotmask"}
PLOT_ONE = {"mosaic": "plot_mosaic", "catalog": "plot_catalog", "tweakreg": "plot_tweakreg",
            "skymatch": "plot_skymatch"}

NODE = re.compile(r'^\s*(\d+)\[label = "([^"]*)"')
EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$")


def rule_of(relative: Path) -> str:
    """The rule whose benchmark file this is (a path relative to the benchmarks folder)."""
    if len(relative.parts) == 1:
        return relative.stem
    folder, stem = relative.parts[0], relative.stem
    if folder != "plots":
        return folder
    if stem in PLOT_ONE:
        return PLOT_ONE[stem]
    for suffix, rule in PLOT_BENCHMARKS.items():
        if stem.endswith(suffix):
            return rule
    raise ValueError(f"benchmark file plots/{relative.name}: no figure rule writes it (rules/plots.smk)")


def read_benchmarks(folder: Path, measure: str = "s") -> tuple[int, dict[str, list[float]]]:
    """(N exposures of the run, {rule: [each job's seconds]}) from a folder of benchmark files."""
    folder = Path(folder)
    times: dict[str, list[float]] = defaultdict(list)
    for relative, record in job_records(folder):
        times[rule_of(relative)].append(float(record[measure]))
    if not times.get("photom"):
        raise ValueError(f"{folder}: no photom benchmark files, so no exposure count (not a mirical run's benchmarks?)")
    return len(times["photom"]), dict(times)


class Model:
    """Each rule's job duration as a function of the number of exposures N."""

    def __init__(self, runs: list[tuple[int, dict[str, list[float]]]], reduce_rules: set[str]):
        self.terms: dict[str, tuple[float, float]] = {}  # rule -> (a, b): a + b N seconds
        rules = {rule for _, times in runs for rule in times}
        for rule in rules:
            points = [(n, sum(t) / len(t)) for n, times in runs for t in [times.get(rule)] if t]
            if rule in reduce_rules:
                self.terms[rule] = linear_fit(points)
            else:
                jobs = [s for _, times in runs for s in times.get(rule, [])]
                self.terms[rule] = (sum(jobs) / len(jobs), 0.0)

    def duration(self, rule: str, n: int) -> float:
        if rule == "all":
            return 0.0
        if rule not in self.terms:
            raise KeyError(f"rule {rule} has no measured job in the benchmark folders")
        a, b = self.terms[rule]
        return a + b * n

    def describe(self, rule: str) -> str:
        a, b = self.terms[rule]
        return f"{a:.2f}" if b == 0 else f"{a:.2f} + {b:.3f} N"


def linear_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(a, b) of the least-squares line a + b N through (N, seconds) points; b >= 0, one N: (mean, 0)."""
    ns = {n for n, _ in points}
    mean_t = sum(t for _, t in points) / len(points)
    if len(ns) < 2:
        return mean_t, 0.0
    mean_n = sum(n for n, _ in points) / len(points)
    b = sum((n - mean_n) * (t - mean_t) for n, t in points) / sum((n - mean_n) ** 2 for n, _ in points)
    if b <= 0:
        return mean_t, 0.0
    return mean_t - b * mean_n, b


def parse_dot(text: str) -> tuple[dict[int, str], dict[int, set[int]]]:
    """({job: rule}, {job: the jobs it needs}) from `snakemake --dag` (DOT) output."""
    rules: dict[int, str] = {}
    needs: dict[int, set[int]] = defaultdict(set)
    for line in text.splitlines():
        if node := NODE.match(line):
            rules[int(node[1])] = node[2].split("\\n")[0]
        elif edge := EDGE.match(line):
            needs[int(edge[2])].add(int(edge[1]))
    if not rules:
        raise ValueError("no jobs in the DAG output")
    return rules, {job: needs.get(job, set()) for job in rules}


def workflow_dag(n: int, demo_data: Path, folder: Path) -> tuple[dict[int, str], dict[int, set[int]]]:
    """The default target's DAG for an association of ``n`` header-only exposures."""
    from dag_scale import write_large_association

    config = write_large_association(folder / f"data_{n}", n, demo_data, refs="file")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
           str(folder / f"run_{n}"), "--configfile", str(config), "--cores", "1", "--dag", "--forceall"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake --dag failed:\n{result.stderr[-4000:]}")
    return parse_dot(result.stdout)


def consumers(needs: dict[int, set[int]]) -> dict[int, list[int]]:
    """{job: the jobs that need it}."""
    feeds = defaultdict(list)
    for job, deps in needs.items():
        for dep in deps:
            feeds[dep].append(job)
    return feeds


def topological(needs: dict[int, set[int]]) -> list[int]:
    """The jobs in an order where each comes after everything it needs (ties: smaller id first)."""
    waiting = {job: len(deps) for job, deps in needs.items()}
    feeds = consumers(needs)
    ready = [job for job, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        job = heapq.heappop(ready)
        order.append(job)
        for child in feeds[job]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(needs):
        raise ValueError("the DAG has a cycle")
    return order


def critical_path(needs: dict[int, set[int]], duration: dict[int, float]) -> tuple[float, list[int]]:
    """(length in seconds, the jobs on it in order) of the longest path by duration."""
    finish: dict[int, float] = {}
    before: dict[int, int | None] = {}
    for job in topological(needs):
        dep = max(needs[job], key=lambda d: finish[d], default=None)
        before[job] = dep
        finish[job] = (finish[dep] if dep is not None else 0.0) + duration[job]
    job = max(finish, key=finish.get)
    length, path = finish[job], []
    while job is not None:
        path.append(job)
        job = before[job]
    return length, path[::-1]


def list_schedule(needs: dict[int, set[int]], duration: dict[int, float], cores: int) -> float:
    """Wall time of running the DAG on ``cores`` cores, one core per job, ready jobs first come first
    served (ties: smaller id first)."""
    waiting = {job: len(deps) for job, deps in needs.items()}
    feeds = consumers(needs)
    ready = [(0.0, job) for job, count in waiting.items() if count == 0]  # (ready since, job)
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []  # (finish time, job)
    now, done = 0.0, 0
    while done < len(needs):
        while ready and len(running) < cores:
            _, job = heapq.heappop(ready)
            heapq.heappush(running, (now + duration[job], job))
        now, job = heapq.heappop(running)
        done += 1
        for child in feeds[job]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (now, child))
    return now


def reduce_rules(rules: dict[int, str], needs: dict[int, set[int]], n: int) -> set[str]:
    """Rules with a job that needs at least ``n`` jobs (it reads every exposure's output)."""
    return {rules[job] for job, deps in needs.items() if len(deps) >= n and rules[job] != "all"}


MEASURES = {"s": "job wall", "cpu_time": "job CPU"}  # benchmark column -> what the tables call it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", type=Path, nargs="+", help="benchmarks/ folders of measured runs")
    parser.add_argument("--demo-data", type=Path, required=True, help="a demo_data folder (headers, references)")
    parser.add_argument("--n", type=int, nargs="+", default=[32, 256], help="exposures to project")
    parser.add_argument("--cores", type=int, nargs="+", default=[8, 32], help="cores to project")
    parser.add_argument("--fixed", type=float, default=0.0, help="Snakemake's start and planning, seconds")
    parser.add_argument("--official", action="append", default=[], metavar="N=SECONDS",
                        help="the official pipeline's measured wall for N exposures")
    args = parser.parse_args()
    official = {int(n): float(t) for n, t in (item.split("=") for item in args.official)}

    with tempfile.TemporaryDirectory(prefix="mirical_critpath_") as tmp:
        dags = {n: workflow_dag(n, args.demo_data, Path(tmp)) for n in args.n}
    reduce = set().union(*(reduce_rules(rules, needs, n) for n, (rules, needs) in dags.items()))
    runs = {m: [read_benchmarks(folder, m) for folder in args.benchmarks] for m in MEASURES}
    models = {m: Model(measured, reduce) for m, measured in runs.items()}

    sizes = ", ".join(str(n) for n, _ in runs["s"])
    print(f"Seconds per job from the benchmark files of runs of {sizes} exposures (N: exposures):")
    print()
    print(f"| rule | jobs | {' | '.join(MEASURES.values())} |")
    print("|---|---|---:|---:|")
    n, (rules, _) = next(iter(dags.items()))
    counts = Counter(rules.values())
    for rule in sorted(set(counts) - {"all"}):
        if rule not in models["s"].terms:
            raise SystemExit(f"rule {rule} has no measured job in {', '.join(map(str, args.benchmarks))}")
        jobs = {n: "N", n - 1: "N − 1"}.get(counts[rule], str(counts[rule]))
        print(f"| {rule} | {jobs} | {' | '.join(model.describe(rule) for model in models.values())} |")
    print()
    print("Projected from each job's wall time (and, in brackets, from its CPU time), "
          f"{args.fixed:.1f} s of Snakemake's start and planning added:")
    print()
    print("| exposures | jobs | sum of jobs s | critical path s | cores | projected wall s | sum / cores s "
          "| of the official's wall |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    paths = {}
    for n, (rules, needs) in dags.items():
        rows = {}
        for m, model in models.items():
            duration = {job: model.duration(rule, n) for job, rule in rules.items()}
            length, path = critical_path(needs, duration)
            walls = [list_schedule(needs, duration, cores) for cores in args.cores]
            rows[m] = (sum(duration.values()), length, walls)
            paths.setdefault(n, [rules[job] for job in path if rules[job] != "all"])
        (cpu, length, walls), (cpu_c, length_c, walls_c) = rows["s"], rows["cpu_time"]
        for cores, wall, wall_c in zip(args.cores, walls, walls_c):
            wall, wall_c = wall + args.fixed, wall_c + args.fixed
            fraction = (f"{wall / official[n]:.2f} ({wall_c / official[n]:.2f}) of {official[n]:.0f} s"
                        if n in official else "–")
            print(f"| {n} | {len(rules)} | {cpu:.0f} ({cpu_c:.0f}) | {length:.1f} ({length_c:.1f}) | {cores} "
                  f"| {wall:.0f} ({wall_c:.0f}) | {cpu / cores:.0f} ({cpu_c / cores:.0f}) | {fraction} |")
    print()
    for n, path in paths.items():
        print(f"Critical path (job wall times), {n} exposures: {' → '.join(path)}")


if __name__ == "__main__":
    main()
