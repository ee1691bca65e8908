"""Subarray geometry: where an exposure or reference file sits on the detector."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mirical.errors import MiricalError

FULL_SHAPE = (1024, 1032)  # (ny, nx) of the MIRI imager full frame


def frame(header: Mapping) -> tuple[int, int, int, int]:
    """(xstart, ystart, xsize, ysize), 1-based starts, from SUBSTRT/SUBSIZE keywords.

    Missing keywords mean full frame.
    """
    xstart = int(header.get("SUBSTRT1", 1) or 1)
    ystart = int(header.get("SUBSTRT2", 1) or 1)
    xsize = int(header.get("SUBSIZE1", FULL_SHAPE[1]) or FULL_SHAPE[1])
    ysize = int(header.get("SUBSIZE2", FULL_SHAPE[0]) or FULL_SHAPE[0])
    return xstart, ystart, xsize, ysize


def cut(array: np.ndarray, source: tuple[int, int, int, int],
        target: tuple[int, int, int, int], fill: float | int = np.nan) -> np.ndarray:
    """Cut ``array`` (covering the ``source`` frame) to the ``target`` frame.

    Pixels of the target not covered by the source get ``fill``. Frames are
    (xstart, ystart, xsize, ysize) with 1-based starts, as returned by `frame`.
    """
    sx, sy, _, _ = source
    tx, ty, tnx, tny = target
    if source == target:
        return array
    out = np.full(array.shape[:-2] + (tny, tnx), fill, dtype=array.dtype)
    ny, nx = array.shape[-2:]
    x0, y0 = tx - sx, ty - sy  # target origin inside the source array
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + tnx, nx), min(y0 + tny, ny)
    if xa < xb and ya < yb:
        out[..., ya - y0:yb - y0, xa - x0:xb - x0] = array[..., ya:yb, xa:xb]
    return out


def covers(source: tuple[int, int, int, int], target: tuple[int, int, int, int]) -> bool:
    """True when the ``source`` frame contains the whole ``target`` frame."""
    sx, sy, snx, sny = source
    tx, ty, tnx, tny = target
    return sx <= tx and sy <= ty and tx + tnx <= sx + snx and ty + tny <= sy + sny


def describe(region: tuple[int, int, int, int]) -> str:
    """A frame as its keywords and its detector pixel ranges (1-based, inclusive)."""
    x, y, nx, ny = region
    return (f"SUBSTRT1={x} SUBSTRT2={y} SUBSIZE1={nx} SUBSIZE2={ny} "
            f"(detector x {x}-{x + nx - 1}, y {y}-{y + ny - 1})")


def require_covers(reference: str, kind: str, source: tuple[int, int, int, int], exposure: str,
                   target: tuple[int, int, int, int]) -> None:
    """Raise a clear MiricalError unless the reference's ``source`` frame contains the exposure's ``target``."""
    if not covers(source, target):
        raise MiricalError(reference, f"the {kind} covers {describe(source)}, which does not contain "
                                      f"exposure {exposure}'s region {describe(target)}")
