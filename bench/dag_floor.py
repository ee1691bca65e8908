"""Snakemake's own planning cost for a DAG shaped like mirical's, without any of mirical.

A generated Snakefile with the same jobs per product as the workflow (a chain of
five script rules per product -- background, assign_wcs, flat_field, photom,
resample -- one figure per product, one mosaic, one association, one `all`), no
input functions, no reference selection, no headers read. `snakemake -n` on it
is the floor that mirical's planning (bench/dag_scale.py) cannot go below.

Usage: python bench/dag_floor.py [--n 1000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHAIN = ("background", "assign_wcs", "flat_field", "photom", "resample")

SNAKEFILE = '''
N = {n}
PRODUCTS = [f"p{{i}}" for i in range(1, N + 1)]

wildcard_constraints:
    product="[^/]+",

rule all:
    input:
        "out/asn.json", "out/mosaic.fits",
        expand("out/{{product}}.resample", product=PRODUCTS),
        expand("out/{{product}}.png", product=PRODUCTS),

rule association:
    input: expand("data/{{product}}_rate.fits", product=PRODUCTS)
    output: "out/asn.json"
    script: "step.py"

{chain}

rule plot:
    input: "data/{{product}}_rate.fits", "out/{{product}}.photom"
    output: "out/{{product}}.png"
    script: "step.py"

rule mosaic:
    input: expand("out/{{product}}.photom", product=PRODUCTS)
    output: "out/mosaic.fits"
    script: "step.py"
'''

STEP = '''
rule {rule}:
    input: "{previous}"
    output: "out/{{product}}.{rule}"
    params: step={{"skip": False}}, code="0123456789abcdef"
    log: "logs/{rule}/{{product}}.log"
    benchmark: "benchmarks/{rule}/{{product}}.tsv"
    script: "step.py"
'''


def write_workflow(folder: Path, n: int) -> Path:
    """The generated Snakefile, its empty script and N empty rate files."""
    chain, previous = [], "data/{product}_rate.fits"
    for rule in CHAIN:
        chain.append(STEP.format(rule=rule, previous=previous))
        previous = f"out/{{product}}.{rule}"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        (folder / "data" / f"p{i}_rate.fits").touch()
    (folder / "step.py").write_text("pass\n")
    snakefile = folder / "Snakefile"
    snakefile.write_text(SNAKEFILE.format(n=n, chain="".join(chain)))
    return snakefile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="products")
    parser.add_argument("--repeat", type=int, default=2, help="dry runs to time (the fastest is reported)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mirical_dag_floor_"))
    try:
        snakefile = write_workflow(folder, args.n)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(folder),
                            "--cores", "2", "-n"], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        jobs = args.n * (len(CHAIN) + 1) + 3
        print(f"snakemake -n of a {jobs}-job DAG without mirical ({args.n} products): "
              f"{min(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)} s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
