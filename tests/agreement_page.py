"""Write docs/agreement.md from the agreement matrix's table.

    MIRICAL_AGREEMENT_TABLE=/tmp/agreement.md ./quickstart test tests/test_official.py tests/test_official_tweakreg.py
    python tests/agreement_page.py /tmp/agreement.md [PAGE]   (PAGE: default docs/agreement.md)

tests/test_official.py writes the table (one row per case, the worst product of each); this
writes the page around it: the date the table was written and the versions of both pipelines
once at the top, what is compared, the table. tests/test_official_tweakreg.py writes the
stage-3 alignment table beside it (``_tweakreg`` added to its name): when that file is there,
it becomes the section between ``ALIGN_START`` and ``ALIGN_END``, else the page's section is
kept. The randomized-cases section between ``RANDOM_START`` and ``RANDOM_END`` is written by
``python tests/random_official.py --docs`` and kept as it is.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "agreement.md"
RANDOM_START, RANDOM_END = "<!-- randomized:start -->", "<!-- randomized:end -->"
RANDOM_PLACEHOLDER = f"""{RANDOM_START}
## Randomized cases

Not run yet: `python tests/random_official.py --count N --docs` writes this section.
{RANDOM_END}"""
ALIGN_START, ALIGN_END = "<!-- tweakreg:start -->", "<!-- tweakreg:end -->"
ALIGN_METHOD = """\
`tests/test_official_tweakreg.py` draws cases from fixed seeds (`tests/tweakreg_cases.py`): two
visits of three BRIGHTSKY dithers of a field of point sources with the filter's Gaussian PSF, the
second visit off by 0.1-0.5 arcsec and 0.02-0.05° that its headers do not know, a sky offset and
unflagged cosmic-ray hits in each exposure; one case has fewer stars than `minobj`. mirical's
workflow and the official `Image2Pipeline`, `TweakRegStep` (`save_catalogs`), `SkyMatchStep`,
`OutlierDetectionStep` and `ResampleStep` run on the same rate and reference files. Asserted:
tweakreg's source catalogs hold the same sources (≥ 99 % both ways) within 0.01 px; the corrected
WCS within 0.1 mas of the official's over a 17×17 grid of pixels; after one shift and rotation
common to all exposures (the frame of a relative alignment is free), every corrected WCS within
10 mas of the true one on both sides; S_TWKREG the official's; with too few stars every WCS
unchanged on both sides (both record S_TWKREG COMPLETE all the same, as jwst 3.0.0 does once its
relative alignment returns); BKGLEVEL within 1e-5 MJy/sr; the OUTLIER flags shared ≥ 99.9 % both
ways; the mosaic's median relative difference ≤ 1e-5. Both sides are given tweakreg's MIRI values
for the filter (`tweakreg.filters` in the configuration)."""
ALIGN_PLACEHOLDER = f"""{ALIGN_START}
## Stage-3 alignment

Not measured yet: `tests/test_official_tweakreg.py` writes its table beside the matrix's.
{ALIGN_END}"""
MIRICAL_LIBRARIES = ("numpy", "astropy", "gwcs", "asdf", "drizzle")
OFFICIAL_LIBRARIES = ("jwst", "stcal", "stdatamodels", "drizzle")

METHOD = """\
Every `./quickstart test` (and so every CI run) measures it: `tests/test_official.py` runs a
matrix of small cases through the mirical workflow and through the official pipeline
(`Image2Pipeline`, then `ResampleStep` for the mosaic), offline, with the same reference files
given as overrides. The official pipeline runs in its own virtual environment,
`.venv-official`, which `./quickstart test` makes.

The cases (`tests/official_matrix.py`) are written as the official pipeline writes its files
and combine: full frame, SUB256, SUB64 and BRIGHTSKY, with full-frame reference files (cut by
the pipeline) or the subarray's own; 1 to 3 background exposures, each with a NaN + DO_NOT_USE
block, a finite DO_NOT_USE block and outliers; flats with NaN and zero pixels, finite
NO_FLAT_FIELD and UNRELIABLE_FLAT pixels and bits their DQ_DEF does not define; PHOTOM with
linear, exponential and power-law time dependence; six filters; pointings across RA = 0/360 and
at |Dec| ≥ 80°, velocity aberration 0.99995-1.0001.

Asserted for every case:

- cal SCI, ERR, VAR_POISSON, VAR_RNOISE, VAR_FLAT: relative difference (pixels finite in both)
  median ≤ 1e-6 and 99.9th percentile ≤ 1e-5; DQ and NaN pattern identical;
- cal WCS within 0.1 mas over a 17×17 grid of pixels spanning the array;
- each exposure's i2d and the mosaic: the same output grid, median relative pixel difference
  ≤ 1e-6 and total flux within 1e-6."""

WHY = """\
## The resampled products

On the same cal files and the same output grid, mirical's i2d equals the official
`ResampleStep`'s (`tests/test_official_options.py`: median relative difference at most a few
1e-7, CON identical, the pixel map identical to stcal's `calc_pixmap`). The output grid's pixel
scale is measured, as the official measures it, at the first exposure's reference pixel found
through the WCS's inverse, which in both pipelines is the DISTORTION file's own analytic
inverse.

## Other comparisons the tests make

- **Step options** (`tests/test_official_options.py`): flat_field and photom `inverse`,
  `save_combined_background`, the resample output options and `output_wcs`, against the
  official steps with the same options.
- **Outlier detection** (`tests/test_official_outlier.py`): a reduced demo of four dithers with
  cosmic-ray hits, a trail and hot pixels injected into its rate files, through mirical and
  through the official `OutlierDetectionStep` and `ResampleStep`: the same pixels flagged, every
  crf array identical, the mosaics within the matrix's tolerances.
- **Exposures with one image per integration** (`tests/test_calints.py`): an association of rate
  and rateints members through both pipelines: the calints arrays within 1e-6 relative, DQ,
  NaN pattern, extensions, status keywords and INT_TIMES identical, the WCS within 0.1 mas."""


def mirical_versions() -> dict[str, str]:
    sys.path.insert(0, str(REPO))
    import mirical

    return {"mirical": mirical.__version__} | {n: importlib.metadata.version(n) for n in MIRICAL_LIBRARIES}


def official_versions(python: str) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([python, "-c", code, *OFFICIAL_LIBRARIES], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def random_block(page: str) -> str:
    """The randomized-cases section of the current page (a placeholder if there is none)."""
    if RANDOM_START in page and RANDOM_END in page:
        return RANDOM_START + page.split(RANDOM_START, 1)[1].split(RANDOM_END, 1)[0] + RANDOM_END
    return RANDOM_PLACEHOLDER


def align_block(table: Path, page: str) -> str:
    """The stage-3 alignment section: from ``table`` if it exists, else the current page's (a
    placeholder if there is none)."""
    if table.is_file():
        date = datetime.date.fromtimestamp(table.stat().st_mtime)
        return "\n".join([ALIGN_START, "## Stage-3 alignment", "", f"Measured {date.isoformat()}.", "",
                          ALIGN_METHOD, "", table.read_text().strip(), ALIGN_END])
    if ALIGN_START in page and ALIGN_END in page:
        return ALIGN_START + page.split(ALIGN_START, 1)[1].split(ALIGN_END, 1)[0] + ALIGN_END
    return ALIGN_PLACEHOLDER


def render(table: str, date: datetime.date, ours: dict[str, str], official: dict[str, str], randomized: str,
           alignment: str) -> str:
    """The page."""
    def listed(versions):
        return ", ".join(f"{name} {version}" for name, version in versions.items())

    return "\n".join([
        "# Agreement with the official pipeline",
        "",
        "<!-- Written by `python tests/agreement_page.py TABLE` (the matrix and, from the table beside it, "
        "stage-3 alignment) and `python tests/random_official.py --docs` (the randomized cases): "
        "do not edit by hand. -->",
        "",
        f"Measured {date.isoformat()}: {listed(ours)} against the official pipeline {listed(official)}.",
        "",
        METHOD,
        "",
        "## The matrix",
        "",
        "The worst product of each case:",
        "",
        table.strip(),
        "",
        alignment,
        "",
        randomized,
        "",
        WHY,
        "",
    ])


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__)
        return 2
    page_path = Path(argv[1]) if len(argv) == 2 else PAGE
    path = Path(argv[0])
    table = path.read_text()
    if not table.startswith("| case |"):
        sys.exit(f"{path}: not the table tests/test_official.py writes")
    python = os.environ.get("MIRICAL_OFFICIAL_PYTHON") or str(REPO / ".venv-official" / "bin" / "python")
    date = datetime.date.fromtimestamp(path.stat().st_mtime)
    page = page_path.read_text() if page_path.is_file() else ""
    alignment = align_block(path.with_name(f"{path.stem}_tweakreg{path.suffix}"), page)
    page_path.write_text(render(table, date, mirical_versions(), official_versions(python), random_block(page),
                                alignment))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
