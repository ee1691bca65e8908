"""Write docs/performance.md from the results of ``bash bench/run.sh`` (its last step).

    python bench/performance_page.py WORKDIR/results.md [PAGE]   (PAGE: default docs/performance.md)
    python bench/performance_page.py --keep-missing WORKDIR/results.md [PAGE]
    python bench/performance_page.py --section SECTION.md [PAGE]

The page holds the latest run only: its date, machine and versions once at the top, what is
measured and how to read it, then run.sh's tables as they are, less what belongs to the raw
results alone (the ``code:`` line naming the checkout, the load-average columns). With
``--section``, one section's results (a script of run.sh run alone, e.g. bench/tweakreg_skymatch.sh)
replace the page's section of the same heading (its text up to the first comma), or are appended.
With ``--keep-missing`` (run.sh with ``SKIP_STEPS=1``), the page's sections that the results do not
have (the step-level comparisons left out) stay as their last run wrote them, after the new ones.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "performance.md"

INTRO = """\
`bash bench/run.sh` measures everything on this page with one command and writes it (raw
results in its work folder). Each row is one command: its wall time, the CPU time of its whole
process tree (user + system) and the peak memory of its largest process. The comparison is like
for like: the official pipeline runs what its user runs for the same products (`Image2Pipeline`
on the association, then `Image3Pipeline` with tweakreg, skymatch, outlier detection, resample and
the source catalog), offline, on the same files with the same reference files and parameters;
mirical runs its default target (the same steps, plus its figures and summary table) and, beside
it, its `products` target (the same steps without figures and summary). Wall times depend on the
machine's other work; CPU times much less. What each speed-up lever bought and why it was kept:
[development.md](development.md#speed)."""


def is_load_column(header: str) -> bool:
    return header.strip().lower().startswith("load")


def drop_load_columns(lines: list[str]) -> list[str]:
    """Markdown tables without their load-average columns."""
    out, drop = [], []
    for line in lines:
        if not line.startswith("|"):
            drop = []
            out.append(line)
            continue
        cells = line.strip().strip("|").split("|")
        if not drop and not set(line) <= set("|-: "):
            drop = [i for i, cell in enumerate(cells) if is_load_column(cell)] or [-1]
        kept = [c for i, c in enumerate(cells) if i not in drop]
        out.append("|" + "|".join(kept) + "|")
    return out


def render(results: str) -> str:
    """The page for run.sh's ``results.md``."""
    lines = results.splitlines()
    title = re.fullmatch(r"# mirical benchmark (\d{4}-\d{2}-\d{2})\S*", lines[0].strip())
    if not title:
        raise ValueError("not the results.md of bench/run.sh (its first line names the run's date)")
    header = [line for line in lines[1:8] if line.startswith(("machine:", "mirical "))]
    body = []
    for line in lines[1:]:
        if line in header or line.startswith("code:") or (not line.strip() and (not body or not body[-1].strip())):
            continue
        body.append(line)
    machine = header[0].removeprefix("machine:").strip() if header else "unknown machine"
    versions = header[1] if len(header) > 1 else ""
    return "\n".join([
        "# Performance",
        "",
        "<!-- Written by `bash bench/run.sh` (bench/performance_page.py): do not edit by hand. -->",
        "",
        f"Measured {title.group(1)} on {machine}; {versions}.",
        "",
        INTRO,
        "",
        *drop_load_columns(body),
    ]).rstrip() + "\n"


def heading_key(line: str) -> str:
    """What names a section: its ``## `` heading up to the first comma (the sizes measured may change)."""
    return line.split(",")[0].strip()


def replace_section(page: str, section: str) -> str:
    """``page`` with ``section`` (a ``## `` heading and its text) in place of the section of the same
    heading, or appended."""
    new = drop_load_columns(section.strip().splitlines())
    if not new or not new[0].startswith("## "):
        raise ValueError("a section starts with its '## ' heading")
    lines = page.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    for i in starts:
        if heading_key(lines[i]) == heading_key(new[0]):
            end = next((j for j in starts if j > i), len(lines))
            tail = ["", *lines[end:]] if end < len(lines) else []
            return "\n".join([*lines[:i], *new, *tail]) + "\n"
    return "\n".join([*lines, "", *new]) + "\n"


def sections(page: str) -> list[str]:
    """The ``## `` sections of a page, each its heading and text."""
    lines = page.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    return ["\n".join(lines[i:j]).rstrip() for i, j in zip(starts, [*starts[1:], len(lines)])]


def keep_missing(new: str, old: str) -> str:
    """``new`` with the sections of ``old`` whose heading it lacks appended, in their order."""
    have = {heading_key(section.splitlines()[0]) for section in sections(new)}
    for section in sections(old):
        if heading_key(section.splitlines()[0]) not in have:
            new = new.rstrip() + "\n\n" + section + "\n"
    return new


def main(argv: list[str]) -> int:
    mode = argv[0] if argv and argv[0] in ("--section", "--keep-missing") else None
    argv = argv[1:] if mode else argv
    if len(argv) not in (1, 2):
        print(__doc__)
        return 2
    try:
        page = Path(argv[1] if len(argv) == 2 else PAGE)
        text = Path(argv[0]).read_text()
        if mode == "--section":
            page.write_text(replace_section(page.read_text(), text))
        elif mode == "--keep-missing":
            page.write_text(keep_missing(render(text), page.read_text()))
        else:
            page.write_text(render(text))
    except ValueError as exc:
        sys.exit(f"{argv[0]}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
