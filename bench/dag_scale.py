"""How long `snakemake -n` takes to plan the workflow for a large association.

Writes N header-only rate files (the primary header of a real demo exposure, no
data: planning reads headers only) plus one background, an image2 association
of N products and a config choosing every reference file from a folder (the
slow case: one selection per product and reference type), then times a dry run.

Usage: python bench/dag_scale.py [--n 1000] [--refs folder|file] [--demo-data DIR] [--keep DIR]

``--demo-data`` reuses a demo's ``demo_data`` folder (IMA_science/, reference/);
without it a one-exposure SUB256 demo is simulated first (not timed).
Prints the job counts and the dry-run wall time in seconds.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from large_association import job_counts, write_large_association  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(config: Path, workdir: Path, *extra: str, snakefile: Path = REPO / "Snakefile"
            ) -> tuple[float, float, dict[str, int], str]:
    """Run `snakemake -n` (every job printed); returns (wall seconds, CPU seconds, {rule: jobs}, output)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
           "--directory", str(workdir), "--configfile", str(config), "--cores", "2", "-n", *extra]
    before = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - before
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{output[-4000:]}")
    return seconds, cpu, job_counts(output), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="products in the association")
    parser.add_argument("--refs", choices=("folder", "file"), default="folder",
                        help="reference_files as folders (selection per product) or files")
    parser.add_argument("--demo-data", type=Path, help="an existing demo_data folder")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--repeat", type=int, default=2, help="dry runs to time (the fastest is reported)")
    parser.add_argument("--snakefile", type=Path, default=REPO / "Snakefile", help="the workflow to plan")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="mirical_dag_"))
    try:
        demo_data = args.demo_data
        if demo_data is None:
            sys.path.insert(0, str(REPO))
            from mirical.demo.simulate import DemoSettings, simulate

            demo_data = folder / "demo_data"
            if not (demo_data / "truth.ecsv").exists():
                simulate(demo_data, DemoSettings(n_dithers=1, subarray="SUB256", n_sources=1))
        config = write_large_association(folder / f"data_{args.n}_{args.refs}", args.n, demo_data, args.refs)
        runs = []
        for _ in range(args.repeat):
            seconds, cpu, counts, output = dry_run(config, folder / "run", snakefile=args.snakefile)
            runs.append((seconds, cpu))
        print(f"jobs: {counts} (total {sum(counts.values())})")
        flat = str(next((Path(demo_data).resolve() / "reference").glob("jwst_miri_flat_*")))
        found = sum(1 for line in output.splitlines()  # flat_field's input line, in either order
                    if line.lstrip().startswith("input:") and "_wcs.fits" in line and flat in line)
        print(f"flat_field jobs given the flat {Path(flat).name}: {found} of {counts.get('flat_field')}")
        best = min(runs)
        print(f"snakemake -n of {args.n} products, references from {args.refs}s: {best[0]:.2f} s "
              f"(CPU {best[1]:.2f} s; runs: {', '.join(f'{w:.2f}' for w, _ in runs)} s)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
