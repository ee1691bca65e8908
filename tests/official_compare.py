"""Product-by-product comparison of mirical with the official pipeline, and its tolerances.

Shared by the agreement matrix (tests/test_official.py) and the randomized cases
(tests/random_official.py): each function compares one product and returns its
numbers and the failures (one line each, naming the product and what differs).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from asdf.util import load_yaml
from astropy.coordinates import angular_separation
from astropy.io import fits

from mirical.formats.asdf_extension import hdu_bytes
from mirical.formats.dqflags import PIXEL

CAL_ARRAYS = ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")
CAL_MEDIAN, CAL_P999 = 1e-6, 1e-5  # cal arrays: relative difference on pixels finite in both
WCS_MAS = 0.1  # cal WCS: sky separation on a grid of pixels
# i2d and mosaic: median relative pixel difference, total flux (measured at most 2.1e-7 and 3.7e-8)
IMAGE_MEDIAN, FLUX = 1e-6, 1e-6
# lanczos kernels: drizzle takes the kernel's values from a table (steps of 0.003 output pixel, nearest entry), and
# an output pixel's weight is a sum of positive and negative ones. Where the sum cancels to below LANCZOS_WHT of the
# largest weight, the pixel's value (sum / weight) is not determined: the official's own total flux moves by 3e-3
# when its two exposures are given in the other order (seed 500124: 28 such pixels of 72000, one of them 1.45 times
# the total; the order also moves its grid by 2e-8 px). Those pixels are left out of the median and the flux, and
# counted. (Weights are not compared: pixel maps that differ by rounding flip a few table entries, moving ~1e-3 of the
# weight between neighbouring pixels: seed 0's mosaic, 54 pixels of 83808.)
LANCZOS_WHT = 1e-4
FLAGS_BOTH_WAYS = 0.999  # crf: OUTLIER flags shared, as a fraction of each side's
CRF_RTOL = 1e-6  # crf arrays
OUTLIER = PIXEL["OUTLIER"]


def relative_difference(ours: np.ndarray, official: np.ndarray) -> np.ndarray:
    """|ours - official| / |official| on the pixels finite in both (0 where both are 0)."""
    a, b = ours.astype(np.float64), official.astype(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(diff == 0, 0.0, diff / np.abs(b))


def recorded_group_id(hdul: fits.HDUList) -> str | None:
    """The ``meta.group_id`` in a file's ASDF extension (None without one)."""
    if "ASDF" not in hdul:
        return None
    tree = load_yaml(io.BytesIO(hdu_bytes(hdul["ASDF"])), tagged=True)
    return (tree.get("meta") or {}).get("group_id")


def group_id_failure(mine: fits.HDUList, off: fits.HDUList, label: str) -> list[str]:
    """One line if the two files record different group ids (``meta.group_id``; stage 3 groups by it)."""
    ours, theirs = recorded_group_id(mine), recorded_group_id(off)
    return [f"{label}: meta.group_id {ours!r}, the official's {theirs!r}"] if ours != theirs else []


def compare_cal(ours: Path, official: Path, label: str) -> tuple[dict, list[str]]:
    """cal arrays: relative difference (median, 99.9th percentile), DQ and NaN pattern identical; the same
    recorded group id."""
    with fits.open(ours) as mine, fits.open(official) as off:
        group = group_id_failure(mine, off, f"{label} cal")
        if mine["SCI"].data.shape != off["SCI"].data.shape:
            return {}, [f"{label}: cal shape {mine['SCI'].data.shape} vs the official {off['SCI'].data.shape}"]
        dq = int(np.count_nonzero(mine["DQ"].data != off["DQ"].data))
        nan = {name: int(np.count_nonzero(np.isnan(mine[name].data) != np.isnan(off[name].data)))
               for name in CAL_ARRAYS}
        rel = {name: relative_difference(mine[name].data, off[name].data) for name in CAL_ARRAYS}
    median = {name: float(np.median(r)) if r.size else 0.0 for name, r in rel.items()}
    p999 = {name: float(np.percentile(r, 99.9)) if r.size else 0.0 for name, r in rel.items()}
    numbers = {"cal_median": max(median.values()), "cal_p999": max(p999.values()), "dq": dq,
               "nan": max(nan.values())}
    failures = group + ([f"{label}: cal DQ differs in {dq} pixels"] if dq else [])
    if any(nan.values()):
        failures.append(f"{label}: cal NaN pattern differs (pixels per array) {nan}")
    failures += [f"{label} cal {name}: relative difference median {median[name]:.3g}, 99.9th percentile "
                 f"{p999[name]:.3g}" for name in CAL_ARRAYS if median[name] > CAL_MEDIAN or p999[name] > CAL_P999]
    return numbers, failures


def wcs_separation_mas(ours: Path, radec: Path) -> float:
    """Largest sky separation (mas) between mirical's gwcs of the cal file ``ours`` (read by
    stdatamodels) and the official one, evaluated in the official venv into ``radec`` (x, y, RA, Dec)."""
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = datamodels.open(ours)
    x, y, ra_o, dec_o = np.load(radec)
    with model:
        ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
    sep = np.degrees(angular_separation(*(np.radians(v) for v in (ra, dec, ra_o, dec_o)))) * 3.6e6
    return float(np.max(sep))


def ill_conditioned(official: Path, kernel: str) -> np.ndarray:
    """The pixels of a resampled image whose official weight cancels (lanczos kernels: |WHT| not 0 but below
    LANCZOS_WHT of the largest); none for the other kernels (their weights are never negative)."""
    wht = np.abs(fits.getdata(official, "WHT").astype(np.float64))
    if not kernel.startswith("lanczos"):
        return np.zeros(wht.shape, bool)
    return (wht > 0) & (wht < LANCZOS_WHT * np.nanmax(wht))


def compare_images(ours: Path, official: Path, kernel: str = "square") -> tuple[float, float]:
    """(median relative pixel difference, |total flux ratio - 1|) of two resampled images, over the pixels
    finite in both and not `ill_conditioned`."""
    a, b = fits.getdata(ours, "SCI"), fits.getdata(official, "SCI")
    assert a.shape == b.shape, f"{ours.name}: output grid {a.shape} vs the official {b.shape}"
    both = np.isfinite(a) & np.isfinite(b) & ~ill_conditioned(official, kernel)
    flux = abs(float(np.sum(a[both], dtype=np.float64) / np.sum(b[both], dtype=np.float64)) - 1.0)
    return float(np.median(relative_difference(a[both], b[both]))), flux


def compare_image(ours: Path, official: Path, label: str, kernel: str = "square") -> tuple[dict, list[str]]:
    """An i2d or the mosaic: the same grid, NaN pattern and recorded group id, median and flux within tolerance
    (`compare_images`; with a lanczos kernel the number of pixels it leaves out too)."""
    a, b = fits.getdata(ours, "SCI"), fits.getdata(official, "SCI")
    if a.shape != b.shape:
        return {}, [f"{label}: output grid {a.shape} vs the official {b.shape}"]
    median, flux = compare_images(ours, official, kernel)
    nan = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
    with fits.open(ours) as mine, fits.open(official) as off:
        failures = group_id_failure(mine, off, label)
    if median > IMAGE_MEDIAN or flux > FLUX:
        failures.append(f"{label}: median relative pixel difference {median:.3g}, total flux {flux:.3g}")
    if nan:
        failures.append(f"{label}: NaN pattern differs in {nan} of {a.size} pixels")
    numbers = {"image_median": median, "flux": flux, "image_nan": nan}
    if kernel.startswith("lanczos"):
        numbers["ill_conditioned"] = int(np.count_nonzero(ill_conditioned(official, kernel)))
    return numbers, failures


def compare_crf(ours: list[Path], official: list[Path], label: str) -> tuple[dict, list[str]]:
    """crf files of all exposures: OUTLIER flags shared both ways >= FLAGS_BOTH_WAYS, then per
    exposure DQ identical, the same recorded group id and arrays within CRF_RTOL (NaN where the official's are)."""
    flags_m, flags_o, failures = [], [], []
    for mine_path, off_path in zip(ours, official):
        with fits.open(mine_path) as mine, fits.open(off_path) as off:
            dq_m, dq_o = mine["DQ"].data, off["DQ"].data
            flags_m.append((dq_m & OUTLIER).ravel() != 0)
            flags_o.append((dq_o & OUTLIER).ravel() != 0)
            differ = [f"DQ in {int(np.count_nonzero(dq_m != dq_o))} pixels"] if np.any(dq_m != dq_o) else []
            differ += group_id_failure(mine, off, "group id")
            found: dict[str, list[str]] = {}  # what differs -> the arrays where it does
            for array in CAL_ARRAYS:
                a, b = mine[array].data, off[array].data
                nan = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
                finite = np.isfinite(a) & np.isfinite(b)
                far = int(np.count_nonzero(~np.isclose(a[finite], b[finite], rtol=CRF_RTOL, atol=0)))
                if nan or far:
                    found.setdefault(f"NaN in {nan} and beyond rtol {CRF_RTOL:g} in {far} pixels", []).append(array)
            differ += [f"{'/'.join(arrays)} {what}" for what, arrays in found.items()]
            if differ:
                failures.append(f"{mine_path.name}: " + "; ".join(differ))
    ours_all, theirs_all = np.concatenate(flags_m), np.concatenate(flags_o)
    both = int(np.count_nonzero(ours_all & theirs_all))
    n_m, n_o = int(np.count_nonzero(ours_all)), int(np.count_nonzero(theirs_all))
    share_o = both / n_o if n_o else 1.0
    share_m = both / n_m if n_m else 1.0
    if min(share_o, share_m) < FLAGS_BOTH_WAYS:
        failures.insert(0, f"{label}: outlier flags: the official {n_o}, mirical {n_m}, both {both} "
                           f"({share_o:.1%} of the official's, {share_m:.1%} of mirical's)")
    return {"flags_official": n_o, "flags_mirical": n_m, "flags_both": both}, failures
