"""Per-job import cost: CPU and wall seconds to import what each workflow script imports.

    python bench/import_cost.py [--repeat 3]

Each measurement is a fresh interpreter (as each Snakemake job is); the best of
``--repeat`` runs is kept. "interpreter" is python -c pass; "snakemake preamble"
is what Snakemake's script wrapper imports to unpickle the job.
"""
import argparse
import json
import os
import subprocess
import sys

# What each rule's script imports (top level plus the lazy imports it always takes).
JOBS = {
    "interpreter": [],
    "snakemake preamble": ["snakemake.script"],
    "astropy.io.fits": ["astropy.io.fits"],
    "asdf": ["asdf"],
    "gwcs": ["gwcs"],
    "drizzle": ["drizzle.resample"],
    "background": ["mirical.steps.background", "mirical.formats.io", "mirical.workflow.runner"],
    "assign_wcs": ["mirical.formats.io", "mirical.workflow.runner", "mirical.steps.assign_wcs",
                   "mirical.references.selection"],
    "flat_field": ["mirical.steps.flat_field", "mirical.formats.io", "mirical.workflow.runner",
                   "mirical.references.selection"],
    "photom": ["mirical.formats.association", "mirical.formats.io", "mirical.steps.photom", "mirical.workflow.runner",
               "mirical.references.selection"],
    "resample / mosaic": ["mirical.formats.io", "mirical.workflow.runner", "mirical.steps.resample",
                          "mirical.steps.assign_wcs", "mirical.drizzle.engine", "mirical.drizzle.grid"],
}

CODE = """
import time
c, w = time.process_time(), time.perf_counter()
{imports}
print(time.process_time() - c, time.perf_counter() - w)
"""


def measure(modules, repeat):
    code = CODE.format(imports="\n".join(f"import {m}" for m in modules) or "pass")
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        cpu, wall = (float(v) for v in out.stdout.split())
        best = (cpu, wall) if best is None or cpu < best[0] else best
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = {name: measure(mods, args.repeat) for name, mods in JOBS.items()}
    print("| job | import CPU s | import wall s |\n|---|---:|---:|")
    for name, (cpu, wall) in rows.items():
        print(f"| {name} | {cpu:.2f} | {wall:.2f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
