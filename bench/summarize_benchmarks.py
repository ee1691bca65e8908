"""Per-rule wall time, CPU time and peak memory from the Snakemake benchmark: files.

    python bench/summarize_benchmarks.py OUTPUT_DIR/benchmarks

A job run by the warm worker (mirical/workflow/worker.py) has its own CPU and peak RSS in its log
(OUTPUT_DIR/logs/<same path>.log); its benchmark file measured only the job's waiting
process, so the log's CPU is added and the larger peak RSS taken (`job_records`, which
bench/critical_path.py reads too).
"""
import csv
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from mirical.workflow.worker import read_resources


def job_records(root: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """(benchmark file relative to ``root``, its record) per job, ``cpu_time`` and ``max_rss``
    including the job's child in the warm worker (its log beside ``root``, under ``logs/``)."""
    for tsv in sorted(root.rglob("*.tsv")):
        rel = tsv.relative_to(root)
        log = root.parent / "logs" / rel.with_suffix(".log")
        in_worker = read_resources(log.read_text()) if log.is_file() else None
        with tsv.open() as fh:
            for record in csv.DictReader(fh, delimiter="\t"):
                if in_worker:
                    record["cpu_time"] = str(float(record["cpu_time"]) + in_worker["cpu_s"])
                    record["max_rss"] = str(max(float(record["max_rss"]), in_worker["max_rss_mb"]))
                yield rel, record


def rule_group(relative: Path) -> str:
    """The rule folder (or the single job's file stem) a benchmark file sits under: what the tables group by."""
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def main(root: Path) -> None:
    rows = defaultdict(list)
    for rel, rec in job_records(root):
        rule = rule_group(rel)
        rows[rule].append((float(rec["s"]), float(rec["cpu_time"]), float(rec["max_rss"])))
    print("| rule | jobs | wall s (mean) | wall s (sum) | CPU s (mean) | CPU s (sum) | peak RSS MB (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    tot = [0.0, 0.0]
    for rule, recs in sorted(rows.items()):
        n = len(recs)
        ws, cs = sum(r[0] for r in recs), sum(r[1] for r in recs)
        tot[0] += ws
        tot[1] += cs
        print(f"| {rule} | {n} | {ws / n:.1f} | {ws:.1f} | {cs / n:.2f} | {cs:.1f} | {max(r[2] for r in recs):.0f} |")
    print(f"| all | | | {tot[0]:.1f} | | {tot[1]:.1f} | |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
