"""Fault injection: ``kill -9`` of a whole run at random moments, resumed, products byte-identical.

    python tests/kill_campaign.py --count 20            # 20 kills of the reduced demo, a report per kill
    python tests/kill_campaign.py --count 5 --seed 7 --scratch /tmp/kills

Each kill: the reduced demo is started in a fresh work folder, its whole process group is sent
SIGKILL after a random time within the length of a complete run, and the run is resumed as
docs/troubleshooting.md says (``snakemake --unlock``, then the same command with
``--rerun-incomplete``). The resumed products must equal a complete run's byte for byte, no
temporary file may be left and the output folder's lock must be released. tests/test_reliability.py
runs a few of these; this command runs as many as asked and exits non-zero if any failed.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
REDUCED_DEMO = "demo={n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}"
#: What is compared byte for byte (the logs, benchmarks and figures hold times or are not products).
COMPARED = (".fits", ".asdf", ".ecsv", ".json", ".csv")
SKIPPED_FOLDERS = ("logs", "benchmarks", "plots")


def command(workdir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
            "--cores", "2", *extra, "--config", "output_dir=out", REDUCED_DEMO]


def complete_run(workdir: Path) -> float:
    """Run the reduced demo to the end in ``workdir``; its wall time in seconds."""
    start = time.monotonic()
    subprocess.run(command(workdir), check=True, capture_output=True)
    return time.monotonic() - start


def products(out: Path) -> dict[str, bytes]:
    """The compared files of an output folder: relative path -> content (its work folder's path made neutral:
    a _refs.json records where the references were)."""
    workdir = str(out.resolve().parent).encode()
    return {str(p.relative_to(out)): p.read_bytes().replace(workdir, b"<workdir>") for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix in COMPARED and p.relative_to(out).parts[0] not in SKIPPED_FOLDERS}


def kill_and_resume(workdir: Path, after: float, reference: dict[str, bytes]) -> list[str]:
    """Start the demo, SIGKILL its process group after ``after`` s, resume it; what differs (empty: fine)."""
    proc = subprocess.Popen(command(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    resumed = subprocess.run(command(workdir, "--unlock"), capture_output=True, text=True)
    if resumed.returncode == 0:
        resumed = subprocess.run(command(workdir, "--rerun-incomplete"), capture_output=True, text=True)
    if resumed.returncode != 0:
        return [f"the resumed run failed:\n{resumed.stderr[-3000:]}"]
    out = workdir / "out"
    problems = [f"left behind: {p.relative_to(out)}" for p in out.rglob(".*.part")]
    if (out / ".mirical.lock").exists():
        problems.append("the output folder's lock was not released")
    got = products(out)
    problems += [f"missing: {name}" for name in sorted(set(reference) - set(got))]
    problems += [f"differs: {name}" for name in sorted(reference) if name in got and got[name] != reference[name]]
    return problems


def campaign(count: int, seed: int, scratch: Path, reference_out: Path | None = None, duration: float = 60.0,
             report=print) -> int:
    """``count`` kills at random moments within ``duration`` s (without ``reference_out``: within a complete
    run's time, which is made first); returns how many resumed to identical products."""
    scratch.mkdir(parents=True, exist_ok=True)
    if reference_out is None:
        workdir = scratch / "reference"
        shutil.rmtree(workdir, ignore_errors=True)
        duration = complete_run(workdir)
        reference_out = workdir / "out"
        report(f"reference run: {duration:.0f} s")
    reference = products(reference_out)
    rng = random.Random(seed)
    passed = 0
    for i in range(count):
        after = rng.uniform(0.5, duration)
        workdir = scratch / f"kill{i}"
        shutil.rmtree(workdir, ignore_errors=True)
        problems = kill_and_resume(workdir, after, reference)
        passed += not problems
        report(f"kill {i + 1}/{count} after {after:.1f} s: " + ("identical" if not problems else "; ".join(problems)))
        if not problems:
            shutil.rmtree(workdir, ignore_errors=True)
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="how many kills (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the kill moments (default: random)")
    parser.add_argument("--scratch", type=Path, default=None, help="work folders (default: a temporary folder)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="mirical_kills_"))
    print(f"seed {seed}, work folders in {scratch}", flush=True)
    passed = campaign(args.count, seed, scratch, report=lambda line: print(line, flush=True))
    print(f"{passed} of {args.count} kills resumed to identical products")
    if passed == args.count and args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if passed == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
