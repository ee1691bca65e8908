"""Randomized differential runs: mirical vs the official pipeline on cases drawn from seeds.

    python tests/random_official.py --count N [--seed S] [--small] [--root DIR] [--docs] [--compare]

Draws N cases (seeds S, S+1, ...; default S: a fresh one from the clock) with
`random_cases.draw`, writes each as the official pipeline writes its files, runs
the mirical workflow on it and, in one process alongside, the official pipeline
(jwst 3.0.0, ``$MIRICAL_OFFICIAL_PYTHON``: ``Image2Pipeline``, then
``OutlierDetectionStep`` on the cal files when there are two or more, then
``ResampleStep`` on the crf or cal files, with the case's step options), and
compares every product with the agreement matrix's tolerances
(`official_compare`): cal arrays, DQ, NaN pattern and WCS; each exposure's i2d; the
crf files (outlier flags shared both ways, DQ, arrays); the mosaic. Prints one line
per seed (``seed S: agrees`` or ``seed S: DISAGREES`` and each failing comparison);
exits 1 if any case disagrees. A disagreeing seed belongs in
``tests/test_random_official.py``'s ``REGRESSION_SEEDS`` once understood.

``--docs`` records the run in docs/agreement.md, between the randomized-section
markers (the rest of that file is not touched; the file is created if missing).
``--root`` keeps every case's files there (default: a temporary folder, removed);
with ``--compare`` nothing runs: every case already run in ``--root`` (or in its
sub-folders; drawn again from its seed and ``--small``) is compared again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # these tests' modules, and this checkout's mirical

import yaml  # noqa: E402

from conftest import REPO, official_python, run_snakemake  # noqa: E402
from official_compare import (LANCZOS_WHT, WCS_MAS, compare_cal, compare_crf, compare_image,  # noqa: E402
                              wcs_separation_mas)
from official_matrix import REFTYPES, write_shared  # noqa: E402
from random_cases import RandomCase, draw, mirical_options, official_options, write_random_case  # noqa: E402

DOCS = REPO / "docs" / "agreement.md"
PRODUCTS = ("cal", "wcs", "i2d", "crf", "mosaic")  # what a case compares, for the summary
START, END = "<!-- randomized:start -->", "<!-- randomized:end -->"


@dataclass
class Outcome:
    """What one case found: failing comparisons (empty: it agrees) and the numbers of each product."""

    case: RandomCase
    failures: list[str] = field(default_factory=list)
    numbers: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each side
    failed: set[str] = field(default_factory=set)  # the PRODUCTS that disagree ("run": a side failed)


def products(case: RandomCase) -> list[str]:
    return [f"{case.name}_dither{i + 1}" for i in range(case.n_science)]


def run_mirical(case: RandomCase, written: dict, workdir: Path) -> str | None:
    """The workflow on the case; None, or its jobs' ERROR lines if it failed."""
    workdir.mkdir()
    config = {"name": case.name, "output_dir": "out", "association": written["asn"],
              "reference_files": {t: written["refs"][t] for t in REFTYPES}, **mirical_options(case)}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    kinds = ("cal", "i2d", "crf") if "outlier_detection" in case.options else ("cal", "i2d")
    targets = [f"out/{p}_{kind}.fits" for p in products(case) for kind in kinds]
    result = run_snakemake(workdir, *targets, f"out/{case.name}_i2d.fits", "--configfile",
                           str(workdir / "config.yaml"), check=False)
    if result.returncode == 0:
        return None
    logs = sorted((workdir / "out" / "logs").rglob("*.log"))
    errors = [line for log in logs for line in log.read_text().splitlines() if line.startswith("ERROR")]
    return "\n".join(errors)[-3000:] or result.stderr[-3000:]


def kernel(case: RandomCase, section: str) -> str:
    """The drizzle kernel of the case's ``section`` (resample: each i2d; mosaic), square by default."""
    return case.options.get(section, {}).get("kernel", "square")


def compare_case(case: RandomCase, ours: Path, official: Path) -> Outcome:
    """Every product of ``case``: cal (arrays, DQ, NaN, WCS), i2d, crf, the mosaic."""
    outcome = Outcome(case)
    for product in products(case):
        numbers, failures = compare_cal(ours / f"{product}_cal.fits", official / f"{product}_cal.fits", product)
        mas = wcs_separation_mas(ours / f"{product}_cal.fits", official / f"{product}_cal.fits.radec.npy")
        if mas > WCS_MAS:
            failures.append(f"{product}: WCS differs by up to {mas:.3g} mas")
        image, image_failures = compare_image(ours / f"{product}_i2d.fits", official / f"{product}_i2d.fits",
                                              f"{product}_i2d", kernel(case, "resample"))
        outcome.numbers[product] = {**numbers, "wcs_mas": mas, **image}
        cal, wcs = [f for f in failures if "WCS" not in f], [f for f in failures if "WCS" in f]
        for kind, found in (("cal", cal), ("wcs", wcs), ("i2d", image_failures)):
            outcome.failures += found
            if found:
                outcome.failed.add(kind)
    if "outlier_detection" in case.options:
        numbers, failures = compare_crf([ours / f"{p}_crf.fits" for p in products(case)],
                                        [official / f"{p}_crf.fits" for p in products(case)], case.name)
        outcome.numbers["crf"] = numbers
        outcome.failures += failures
        outcome.failed |= {"crf"} if failures else set()
    numbers, failures = compare_image(ours / f"{case.name}_i2d.fits", official / f"{case.name}_official_i2d.fits",
                                      "mosaic", kernel(case, "mosaic"))
    outcome.numbers["mosaic"] = numbers
    outcome.failures += failures
    outcome.failed |= {"mosaic"} if failures else set()
    return outcome


def run_cases(cases: list[RandomCase], root: Path) -> list[Outcome]:
    """Write, run (the official side in one subprocess while mirical runs) and compare ``cases``."""
    shared = write_shared(root)
    written = {case.name: write_random_case(case, root / case.name, shared) for case in cases}
    jobs = [{"asn": written[c.name]["asn"], "refs": written[c.name]["refs"], "outdir": str(root / c.name / "official"),
             "mosaic": f"{c.name}_official", **official_options(c)} for c in cases]
    (root / "cases.json").write_text(json.dumps(jobs, indent=1))
    with (root / "official.log").open("w") as log:
        official = subprocess.Popen([official_python(), str(REPO / "tests" / "official.py"), "cases",
                                     str(root / "cases.json")], stdout=subprocess.PIPE, stderr=log, text=True)
        mirical_errors, mirical_s = {}, {}
        for c in cases:
            t0 = time.perf_counter()
            mirical_errors[c.name] = run_mirical(c, written[c.name], root / c.name / "mirical")
            mirical_s[c.name] = time.perf_counter() - t0
        stdout, _ = official.communicate(timeout=7200)
    if official.returncode != 0:
        raise RuntimeError(f"tests/official.py cases failed: {(root / 'official.log').read_text()[-6000:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    official_errors = {name.removesuffix("_official"): error for name, error in summary["errors"].items()}
    outcomes = []
    for case in cases:
        if mirical_errors[case.name] or case.name in official_errors:
            # Refusing what the official refuses is agreement; one side failing alone is not.
            if not (mirical_errors[case.name] and case.name in official_errors):
                which = (f"mirical failed:\n{mirical_errors[case.name]}" if mirical_errors[case.name]
                         else f"the official failed: {official_errors[case.name]}")
                outcomes.append(Outcome(case, [which], failed={"run"}))
            else:
                outcomes.append(Outcome(case, [], {"refused": {"mirical": mirical_errors[case.name][-300:],
                                                               "official": official_errors[case.name]}}))
            continue
        outcomes.append(compare_case(case, root / case.name / "mirical" / "out", root / case.name / "official"))
    for o in outcomes:
        o.seconds = {"mirical": mirical_s[o.case.name], "official": summary["case_s"][f"{o.case.name}_official"]}
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    """One line per seed, and each failing comparison of a disagreeing one."""
    lines = []
    for o in outcomes:
        if o.failures:
            lines.append(f"seed {o.case.seed}: DISAGREES ({o.case.describe()})")
            lines += [f"    {failure}" for failure in o.failures]
        else:
            lines.append(f"seed {o.case.seed}: agrees")
        lines[-1] += "".join(f" [{side} {s:.0f} s]" for side, s in o.seconds.items())
    return "\n".join(lines)


def seed_ranges(seeds: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3, 7``."""
    runs: list[list[int]] = []
    for seed in sorted(seeds):
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def docs_block(outcomes: list[Outcome], small: bool) -> str:
    """The randomized section of docs/agreement.md: what was run, what agreed, the worst numbers."""
    agree = [o for o in outcomes if not o.failures]
    cases = [o.case for o in outcomes]

    def worst(key: str) -> float:
        values = [n[key] for o in agree for n in o.numbers.values() if key in n]
        return max(values) if values else 0.0

    flags = sum(o.numbers.get("crf", {}).get("flags_official", 0) for o in agree)
    lanczos = sum("ill_conditioned" in n for o in agree for n in o.numbers.values())
    ill = sum(n.get("ill_conditioned", 0) for o in agree for n in o.numbers.values())
    compared = {"cal": len(outcomes), "wcs": len(outcomes), "i2d": len(outcomes), "mosaic": len(outcomes),
                "crf": sum("outlier_detection" in c.options for c in cases)}
    by_product = "; ".join(f"{kind} {compared[kind] - sum(kind in o.failed for o in outcomes)} of {compared[kind]}"
                           for kind in PRODUCTS)
    lines = [
        START,
        "## Randomized cases",
        "",
        "Generated by `python tests/random_official.py --docs` (do not edit between the markers).",
        "",
        f"- Cases: {len(outcomes)} (seeds {seed_ranges([c.seed for c in cases])}"
        f"{', small subarrays' if small else ''}), {sum(c.n_science for c in cases)} science and "
        f"{sum(c.n_background for c in cases)} background exposures; subarrays "
        f"{', '.join(sorted({c.subarray for c in cases}))}; filters {', '.join(sorted({c.filter for c in cases}))}.",
        f"- Agreed: {len(agree)} of {len(outcomes)}; disagreed: "
        f"{', '.join(str(o.case.seed) for o in outcomes if o.failures) or 'none'}.",
        f"- Agreeing cases by product (cal arrays/DQ/NaN, cal WCS, each exposure's i2d, the crf files of "
        f"outlier detection, the mosaic): {by_product}.",
        f"- Worst over the agreeing cases: cal relative difference median {worst('cal_median'):.1e}, "
        f"99.9th percentile {worst('cal_p999'):.1e}; DQ {worst('dq'):.0f} and NaN {worst('nan'):.0f} pixels "
        f"differing; WCS {worst('wcs_mas'):.2g} mas; i2d and mosaic median relative difference "
        f"{worst('image_median'):.1e}, total flux {worst('flux'):.1e}; {flags} pixels flagged as outliers, "
        "the same by both.",
        "- The recorded group ids (`meta.group_id` of the cal, crf and i2d files and the mosaic) are the "
        f"official's. In the {lanczos} images drizzled with a lanczos kernel, the {ill} pixels whose weight "
        f"cancels to below {LANCZOS_WHT:g} of the largest are left out of the median and the flux: their values "
        "are not determined (the official's own change with the order of its inputs).",
        "",
        "Each case draws filter, subarray, 1-8 dithers and their spread, 0-3 backgrounds with their own",
        "outliers and holes, background level, sources, unflagged cosmic rays and trails, NaN/DQ patterns",
        "of the flat and the exposures, PHOTOM time dependence, pointing and step options",
        "(tests/random_cases.py); products are compared with the agreement matrix's tolerances.",
        "`./quickstart test` runs a fixed set of seeds (tests/test_random_official.py).",
        "`python tests/random_official.py --count N [--seed S] [--small]` runs N more and prints the seed",
        "and the failing comparisons of any case that disagrees, to be kept as a regression seed.",
        END,
    ]
    return "\n".join(lines)


def write_docs(block: str, path: Path = DOCS) -> None:
    """Put ``block`` between the markers of ``path`` (appended, or a new file, if they are absent)."""
    text = path.read_text() if path.exists() else "# Agreement with the official pipeline\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)


def run_folders(root: Path) -> list[Path]:
    """The case folders (r<seed>) under ``root`` or its sub-folders whose both mosaics exist."""
    found = {*root.glob("r[0-9]*"), *root.glob("*/r[0-9]*")}
    folders = sorted((f for f in found if f.is_dir() and f.name[1:].isdigit()), key=lambda f: int(f.name[1:]))
    return [f for f in folders if (f / "mirical" / "out" / f"{f.name}_i2d.fits").exists()
            and (f / "official" / f"{f.name}_official_i2d.fits").exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=0, help="number of cases")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: from the clock)")
    parser.add_argument("--small", action="store_true", help="small subarrays and 1-4 dithers only")
    parser.add_argument("--root", type=Path, default=None, help="keep the cases' files here")
    parser.add_argument("--docs", action="store_true", help="record the run in docs/agreement.md")
    parser.add_argument("--compare", action="store_true", help="only compare the cases already run in --root")
    args = parser.parse_args(argv)
    if args.compare and args.root is None:
        parser.error("--compare needs the --root of the run")
    if not args.compare and args.count < 1:
        parser.error("--count N (N >= 1) cases to run")
    first = args.seed if args.seed is not None else int(time.time() * 1000) % 10**9
    t0 = time.perf_counter()
    if args.compare:
        outcomes = [compare_case(draw(int(folder.name[1:]), args.small), folder / "mirical" / "out",
                                 folder / "official") for folder in run_folders(args.root)]
    else:
        cases = [draw(first + i, args.small) for i in range(args.count)]
        with tempfile.TemporaryDirectory(prefix="mirical_random_") as scratch:
            root = args.root or Path(scratch)
            root.mkdir(parents=True, exist_ok=True)
            outcomes = run_cases(cases, root)
    seconds = time.perf_counter() - t0
    print(report(outcomes))
    print(f"{sum(not o.failures for o in outcomes)} of {len(outcomes)} cases agree ({seconds:.0f} s)")
    if args.docs:
        write_docs(docs_block(outcomes, args.small))
    return 1 if any(o.failures for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
