"""Per-rule wall time, CPU time and peak memory from the Snakemake benchmark: files.

    python bench/summarize_benchmarks.py OUTPUT_DIR/benchmarks
"""
import csv
import sys
from collections import defaultdict
from pathlib import Path

root = Path(sys.argv[1])
rows = defaultdict(list)
for tsv in sorted(root.rglob("*.tsv")):
    rel = tsv.relative_to(root)
    rule = rel.parts[0] if len(rel.parts) > 1 else tsv.stem
    with tsv.open() as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
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
