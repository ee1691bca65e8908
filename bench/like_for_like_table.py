"""The like-for-like section of the performance page from bench/like_for_like.sh's rows.

    python bench/like_for_like_table.py WORKDIR/like_for_like.tsv [--cores 2] [--runs WORKDIR]

Prints markdown: per program size the official pipeline's two processes and their sum, mirical's
default target, its `products` target, its start and planning, its largest job; then each size's
ratios against the goals (wall and CPU of mirical's default target over the official sum; at the
largest size, the largest mirical job's peak memory over the official's largest process). With
``--runs`` (the folder holding like_for_like_SIZE/out/benchmarks), where a CPU goal is missed: how
much of mirical's CPU its jobs used (the largest rules) and how much the rest (Snakemake's start and
planning, one Python per job for Snakemake's script preamble, the warm worker).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

# (wall ratio, CPU ratio) goals: the seed notebook's program (the demo), and larger programs.
GOALS = {"demo": (0.8, 1.0)}
GOALS_LARGER = (0.6, 0.8)
MEMORY_GOAL = 0.5  # mirical's largest job over the official's largest process, at the largest size


def read_rows(path: Path) -> dict[str, list[dict[str, str]]]:
    """{size: its rows in order} from like_for_like.tsv."""
    sizes: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open() as fh:
        for record in csv.DictReader(fh, delimiter="\t"):
            sizes[record["size"]].append(record)
    return sizes


def official_sum(rows: list[dict[str, str]]) -> dict[str, float]:
    """The official runs one after the other: walls and CPUs add, memory is the largest process's."""
    official = [r for r in rows if r["side"] == "official"]
    return {"wall_s": sum(float(r["wall_s"]) for r in official), "cpu_s": sum(float(r["cpu_s"]) for r in official),
            "rss_mb": max(float(r["rss_mb"]) for r in official)}


def mirical_row(rows: list[dict[str, str]], run: str) -> dict[str, str]:
    return next(r for r in rows if r["side"] == "mirical" and r["run"].startswith(run))


def label(size: str) -> str:
    return "demo (4 + 1 background)" if size == "demo" else f"{size} (+ 1 background)"


def verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.2f} (goal ≤ {goal}: {'met' if ratio <= goal else f'missed by {ratio - goal:.2f}'})"


def cpu_split(benchmarks: Path) -> tuple[float, int, list[tuple[str, float]]]:
    """(CPU s of all jobs, number of jobs, [(rule, CPU s)] largest first) of a run's benchmark files."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from summarize_benchmarks import job_records, rule_group

    rules: dict[str, float] = defaultdict(float)
    jobs = 0
    for relative, record in job_records(benchmarks):
        rules[rule_group(relative)] += float(record["cpu_time"])
        jobs += 1
    return sum(rules.values()), jobs, sorted(rules.items(), key=lambda item: -item[1])


def render(sizes: dict[str, list[dict[str, str]]], cores: int, runs: Path | None = None) -> str:
    out = [f"## Like for like, {'/'.join(sizes)} full-frame exposures", "",
           f"Measured {date.today().isoformat()}, --cores {cores}. Official: `Image2Pipeline` then "
           "`Image3Pipeline` (tweakreg, skymatch, outlier_detection, resample, source_catalog), one process "
           "each, the same association, reference files and tweakreg values; mirical: `snakemake` from its "
           "run-time install, each run from the rate files. CPU is user + system of the whole process tree; "
           "memory the peak RSS of the largest process (for mirical's largest job: of that job).", "",
           "| exposures | run | wall s | CPU s | peak RSS MB | load 1/5/15 min at start |",
           "|---|---|---:|---:|---:|---|"]
    for size, rows in sizes.items():
        for r in rows:
            out.append(f"| {label(size)} | {r['side']} {r['run']} | {float(r['wall_s']):.1f} | "
                       f"{float(r['cpu_s']):.1f} | {float(r['rss_mb']):.0f} | {r['load']} |")
        total = official_sum(rows)
        out.append(f"| {label(size)} | official, both | {total['wall_s']:.1f} | {total['cpu_s']:.1f} | "
                   f"{total['rss_mb']:.0f} | |")
    out += ["", "mirical's default target over the official's two processes:", "",
            "| exposures | wall | CPU | largest job's memory |", "|---|---|---|---|"]
    largest = list(sizes)[-1]
    for size, rows in sizes.items():
        total, full = official_sum(rows), mirical_row(rows, "default target")
        wall_goal, cpu_goal = GOALS.get(size, GOALS_LARGER)
        memory = "–"
        if size == largest:
            job = mirical_row(rows, "largest job")
            memory = verdict(float(job["rss_mb"]) / total["rss_mb"], MEMORY_GOAL) + f", {job['run']}"
        out.append(f"| {label(size)} | {verdict(float(full['wall_s']) / total['wall_s'], wall_goal)} | "
                   f"{verdict(float(full['cpu_s']) / total['cpu_s'], cpu_goal)} | {memory} |")
    notes = []
    for size, rows in sizes.items():
        benchmarks = runs / f"like_for_like_{size}" / "out" / "benchmarks" if runs else None
        full, total = mirical_row(rows, "default target"), official_sum(rows)
        if benchmarks is None or not benchmarks.is_dir() or float(full["cpu_s"]) <= GOALS.get(size, GOALS_LARGER)[1] * total["cpu_s"]:
            continue
        jobs_cpu, jobs, largest = cpu_split(benchmarks)
        top = ", ".join(f"{rule} {cpu:.1f}" for rule, cpu in largest[:5])
        notes.append(f"- {label(size)}: of mirical's {float(full['cpu_s']):.1f} s CPU, its {jobs} jobs used "
                     f"{jobs_cpu:.1f} s (the largest rules: {top}); the other {float(full['cpu_s']) - jobs_cpu:.1f} s are "
                     f"Snakemake's start and planning, one Python per job for its script preamble and the warm "
                     f"worker. The official used {total['cpu_s']:.1f} s.")
    if notes:
        out += ["", "Where the CPU went where its goal is missed (the jobs' own CPU from their benchmark files and "
                "the warm worker's lines in their logs):", "", *notes]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=Path, help="like_for_like.tsv")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--runs", type=Path, help="the folder of like_for_like_SIZE/out/benchmarks")
    args = parser.parse_args()
    print(render(read_rows(args.rows), args.cores, args.runs), end="")


if __name__ == "__main__":
    main()
