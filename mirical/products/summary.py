"""The per-product table of a run: filter, subarray, exposure time, background, PHOTMJSR, references.

Read from the cal headers, the background-subtracted intermediates and each
product's ``_refs.json``; written as CSV (for scripts) and as a small
self-contained HTML page (for the Snakemake report). Neither holds absolute
paths or times, so the same run gives the same bytes wherever it ran.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical import __version__
from mirical.errors import MiricalError
from mirical.formats.atomic import atomic_path
from mirical.steps import CAL_STEPS, REFTYPES

COLUMNS = {  # key: heading
    "product": "product",
    "science": "science exposure",
    "filter": "filter",
    "subarray": "subarray",
    "exptime_s": "exposure time (s, EFFEXPTM)",
    "background_dn_s": "background subtracted (DN/s, median)",
    "photmjsr": "PHOTMJSR applied ((MJy/sr)/(DN/s))",
    "tweak_shift_mas": "tweakreg shift (mas, x y)",
    "sky_mjy_sr": "sky level (MJy/sr, skymatch BKGLEVEL)",
    **{step: step for step in CAL_STEPS},
    **{f"ref_{t}": f"{t} reference" for t in REFTYPES},
    "sources": "sources (its i2d's catalog)",
}


def _headers(path: str) -> tuple[fits.Header, fits.Header]:
    try:
        with fits.open(path, memmap=False) as hdul:
            return hdul[0].header.copy(), hdul["SCI"].header.copy()
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None


def _sci(path: str) -> np.ndarray:
    try:
        return np.array(fits.getdata(path, "SCI"), dtype=np.float64)
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"no readable SCI extension ({exc})") from None


def background_level(rate_path: str, bkgsub_path: str) -> float | None:
    """Median of rate - background-subtracted SCI over finite pixels (DN/s); None if nothing finite."""
    removed = _sci(rate_path) - _sci(bkgsub_path)
    finite = np.isfinite(removed)
    return float(np.median(removed[finite])) if finite.any() else None


def sky_text(levels: dict[str, float | None] | None, product: str) -> str:
    """The summary's sky level of ``product`` from skymatch's levels (None: skymatch did not run)."""
    if levels is None or product not in levels:
        return "not run"
    level = levels[product]
    return "skipped" if level is None else f"{level:.5g}"


def tweakreg_shifts(fit_path: str | os.PathLike) -> dict[str, str]:
    """The summary's tweakreg column from its fit table: the fitted shift (mas) of each corrected exposure,
    else its fit status (reference, skipped, failed)."""
    from astropy.table import Table

    try:
        table = Table.read(fit_path, format="ascii.ecsv")
    except (OSError, ValueError) as exc:
        raise MiricalError(str(fit_path), f"not a readable tweakreg fit table ({exc})") from None
    out = {}
    for row in table:
        if bool(row["applied"]):
            out[str(row["product"])] = f"{float(row['xshift']) * 1000:.2f} {float(row['yshift']) * 1000:.2f}"
        elif str(row["status"]) == "SKIPPED":
            out[str(row["product"])] = "skipped"
        else:
            out[str(row["product"])] = str(row["fit_status"]).split(":")[0].lower()
    return out


def product_row(product: str, rate_path: str, bkgsub_path: str, cal_path: str, refs_path: str,
                sky: dict[str, float | None] | None = None, shifts: dict[str, str] | None = None) -> dict:
    """One table row (values already formatted as text); ``sky``: skymatch's levels, if it ran; ``shifts``:
    `tweakreg_shifts`, if tweakreg ran."""
    primary, sci = _headers(cal_path)
    get = lambda key, default=None: primary.get(key, sci.get(key, default))  # noqa: E731
    status = {step: str(get(step, "NOT RUN")).strip() for step in CAL_STEPS}
    row = {
        "product": product,
        "science": Path(rate_path).name,
        "filter": str(get("FILTER", "")).strip(),
        "subarray": str(get("SUBARRAY", "")).strip(),
        "exptime_s": f"{float(get('EFFEXPTM')):.3f}" if get("EFFEXPTM") is not None else "",
    }
    if status["S_BKDSUB"] == "COMPLETE":
        level = background_level(rate_path, bkgsub_path)
        row["background_dn_s"] = f"{level:.5g}" if level is not None else "n/a"
    else:
        row["background_dn_s"] = status["S_BKDSUB"].lower()
    if status["S_PHOTOM"] == "COMPLETE" and sci.get("PHOTMJSR") is not None:
        row["photmjsr"] = f"{float(sci['PHOTMJSR']):.6g}"
    else:
        row["photmjsr"] = status["S_PHOTOM"].lower()
    row["tweak_shift_mas"] = "not run" if shifts is None else shifts.get(product, "not run")
    row["sky_mjy_sr"] = sky_text(sky, product)
    row.update(status)
    try:
        refs = json.loads(Path(refs_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MiricalError(refs_path, f"not a readable reference record ({exc})") from None
    chosen = refs.get("references", {})
    for reftype in REFTYPES:
        record = chosen.get(reftype)
        if not record:
            error = refs.get("errors", {}).get(reftype)
            row[f"ref_{reftype}"] = f"none ({error})" if error else "none"
            continue
        text = record.get("name", "")
        keyword = record.get("keyword")
        if keyword and keyword not in primary:  # chosen, but the step that uses it did not run
            text += " (not applied)"
        row[f"ref_{reftype}"] = text
        row[f"_sha256_{reftype}"] = record.get("sha256", "")
    return row


def catalog_sources(path: str | os.PathLike) -> int:
    """The number of sources (rows) of a source catalog (ECSV)."""
    from astropy.table import Table

    try:
        return len(Table.read(path, format="ascii.ecsv"))
    except (OSError, ValueError) as exc:
        raise MiricalError(str(path), f"not a readable source catalog ({exc})") from None


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(buffer.getvalue(), path)


STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 8px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f7f7f7; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: 6px; }
"""
NUMERIC = ("exptime_s", "background_dn_s", "photmjsr", "tweak_shift_mas", "sky_mjy_sr")


def write_html(rows: list[dict], path: str | os.PathLike, title: str) -> None:
    """A self-contained HTML page with the table (reference sha256 in each cell's tooltip)."""
    esc = html.escape
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
             f"<table>\n<caption>{esc(title)}</caption>",
             "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in COLUMNS.values()) + "</tr>"]
    for row in rows:
        cells = []
        for key in COLUMNS:
            value = esc(str(row.get(key, "")))
            css = ' class="num"' if key in NUMERIC else ""
            sha = row.get(f"_sha256_{key[4:]}") if key.startswith("ref_") else None
            tip = f' title="sha256 {esc(sha)}"' if sha else ""
            cells.append(f"<td{css}{tip}>{value}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</table>", f"<p>mirical {esc(__version__)}</p>", "</body>", "</html>", ""]
    _write_text("\n".join(lines), path)


def _write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
