"""Do mirical's numbers equal the official pipeline's? cal, i2d and mosaic, file by file.

    python bench/compare_official.py MIRICAL_DIR OFFICIAL_DIR [--json OUT.json]

MIRICAL_DIR holds mirical's ``<product>_cal.fits``, ``<product>_i2d.fits`` and
``<name>_i2d.fits``; OFFICIAL_DIR holds tests/official.py's files of the same
names (the mosaic there is ``<name>_official_i2d.fits``). Runs in the bench
environment (it needs stdatamodels and gwcs): mirical's files are opened with
the official ``stdatamodels`` ImageModel -- itself a check that the official
tools read them.

For each pair of images: the largest difference relative to the official value
on pixels with signal (|official| > 5 ERR), the largest absolute difference
relative to the image's peak (all pixels), how many pixels are NaN in one and
not the other, how many DQ values differ, and for the WCS the largest sky
separation between the two gwcs over a grid of pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np


def _open(path: Path):
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datamodels.ImageModel(str(path))


def _wcs_separation_mas(ours, official, shape) -> float | None:
    wa, wb = ours.meta.wcs, official.meta.wcs
    if wa is None or wb is None:
        return None
    ny, nx = shape
    y, x = np.mgrid[0 : ny - 1 : 33j, 0 : nx - 1 : 33j]
    ra1, dec1 = wa(x, y, with_bounding_box=False)
    ra2, dec2 = wb(x, y, with_bounding_box=False)
    from astropy.coordinates import angular_separation

    sep = angular_separation(*(np.radians(v) for v in (ra1, dec1, ra2, dec2)))
    return float(np.nanmax(np.degrees(sep)) * 3.6e6)


def compare_images(ours_path: Path, official_path: Path) -> dict:
    a, b = _open(ours_path), _open(official_path)
    out: dict = {"mirical": ours_path.name, "official": official_path.name,
                 "shape_mirical": list(a.data.shape), "shape_official": list(b.data.shape)}
    if a.data.shape != b.data.shape:
        out["note"] = "different output grids: pixel values not compared"
        out["wcs_center_sep_mas"] = None
        out["total_flux_ratio"] = float(np.nansum(a.data) / np.nansum(b.data))
        return out
    sa, sb = a.data.astype(np.float64), b.data.astype(np.float64)
    both = np.isfinite(sa) & np.isfinite(sb)
    out["nan_mismatch_pixels"] = int(np.count_nonzero(np.isfinite(sa) != np.isfinite(sb)))
    diff = np.abs(sa - sb)
    peak = float(np.nanmax(np.abs(sb)))
    out["max_abs_diff_over_peak"] = float(np.max(diff[both]) / peak) if both.any() else None
    err = b.err.astype(np.float64) if b.hasattr("err") and b.err.shape == sb.shape else None
    if err is not None:
        signal = both & np.isfinite(err) & (np.abs(sb) > 5 * err)
        out["signal_pixels"] = int(np.count_nonzero(signal))
        out["max_rel_diff_signal"] = float(np.max(diff[signal] / np.abs(sb[signal]))) if signal.any() else None
        ea = a.err.astype(np.float64) if a.hasattr("err") and a.err.shape == sb.shape else None
        if ea is not None:
            ok = both & np.isfinite(ea) & np.isfinite(err) & (err > 0)
            out["err_max_rel_diff"] = float(np.max(np.abs(ea[ok] - err[ok]) / err[ok])) if ok.any() else None
    if a.hasattr("dq") and b.hasattr("dq") and a.dq.shape == b.dq.shape:
        out["dq_mismatch_pixels"] = int(np.count_nonzero(a.dq != b.dq))
    out["wcs_max_sep_mas"] = _wcs_separation_mas(a, b, sb.shape)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirical_dir", type=Path)
    parser.add_argument("official_dir", type=Path)
    parser.add_argument("--name", default="demo", help="association name (mosaic <name>_i2d.fits)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)

    results = {"cal": [], "i2d": [], "mosaic": None}
    for official in sorted(args.official_dir.glob("*_cal.fits")):
        ours = args.mirical_dir / official.name
        if ours.exists():
            results["cal"].append(compare_images(ours, official))
    for official in sorted(args.official_dir.glob("*_i2d.fits")):
        if official.name.endswith("_official_i2d.fits"):
            continue
        ours = args.mirical_dir / official.name
        if ours.exists():
            results["i2d"].append(compare_images(ours, official))
    official_mosaic = args.official_dir / f"{args.name}_official_i2d.fits"
    ours_mosaic = args.mirical_dir / f"{args.name}_i2d.fits"
    if official_mosaic.exists() and ours_mosaic.exists():
        results["mosaic"] = compare_images(ours_mosaic, official_mosaic)

    def fmt(v):
        return "-" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))

    cols = ["max_rel_diff_signal", "max_abs_diff_over_peak", "err_max_rel_diff", "nan_mismatch_pixels",
            "dq_mismatch_pixels", "wcs_max_sep_mas"]
    print("file | " + " | ".join(cols))
    for r in results["cal"] + results["i2d"] + ([results["mosaic"]] if results["mosaic"] else []):
        if "note" in r:
            print(f"{r['mirical']} | {r['note']} ({r['shape_mirical']} vs {r['shape_official']})")
        else:
            print(f"{r['mirical']} | " + " | ".join(fmt(r.get(c)) for c in cols))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
