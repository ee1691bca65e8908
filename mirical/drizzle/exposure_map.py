"""An exposure's pixel map onto a grid, computed once and read by every job that drizzles or blots it there.

The map is what those jobs need of the exposure's gwcs: the output pixel of every
input pixel (`mirical.drizzle.grid.pixel_map`) and the input pixel range drizzle reads
(`mirical.drizzle.grid.pixel_range`). Outlier detection's single-exposure drizzle writes
it (``{product}_pixmap.fits``, float64 as computed); its blot reads it, and so does the
mosaic's drizzle when the mosaic grid is the outlier grid, instead of deserialising the
gwcs and evaluating it again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical.drizzle.grid import pixel_map, pixel_range
from mirical.errors import MiricalError
from mirical.formats.io import write_atomic

__all__ = ["ExposureMap", "exposure_map", "read_exposure_map", "write_exposure_map"]

#: The header keywords of the input pixel range (0-based, inclusive), in `pixel_range`'s order.
RANGE_KEYWORDS = {"xmin": "PIXXMIN", "xmax": "PIXXMAX", "ymin": "PIXYMIN", "ymax": "PIXYMAX"}


@dataclass
class ExposureMap:
    """The output pixel (x, y) of every input pixel, shape (ny, nx, 2), NaN outside the input's bounding box,
    and the input pixel range drizzle reads (``xmin``, ``xmax``, ``ymin``, ``ymax``)."""

    pixmap: np.ndarray
    pixel_range: dict[str, int]


def exposure_map(wcs, shape: Sequence[int], grid_wcs, stepsize: float = 1.0, order: int = 1) -> ExposureMap:
    """The `ExposureMap` of an exposure (gwcs ``wcs``, array ``shape``) onto the grid ``grid_wcs``."""
    return ExposureMap(pixel_map(wcs, shape, grid_wcs, stepsize, order), pixel_range(wcs, shape))


def write_exposure_map(mapping: ExposureMap, path: str | os.PathLike, source: str) -> None:
    """Write ``mapping`` as FITS: extensions X and Y (float64, the input's shape) and the pixel range."""
    primary = fits.Header()
    primary["FILENAME"] = Path(path).name
    primary["CALFILE"] = (Path(source).name, "exposure whose pixels are mapped")
    for key, keyword in RANGE_KEYWORDS.items():
        primary[keyword] = (mapping.pixel_range[key], f"input pixel range drizzled: {key} (0-based)")
    hdus = [fits.PrimaryHDU(header=primary)]
    for axis, name in enumerate(("X", "Y")):
        hdus.append(fits.ImageHDU(np.ascontiguousarray(mapping.pixmap[..., axis]), name=name))
        hdus[-1].header["BUNIT"] = ("pixel", f"grid {name.lower()} (0-based) of each input pixel centre")
    write_atomic(fits.HDUList(hdus), path)


def read_exposure_map(path: str | os.PathLike) -> ExposureMap:
    """The map written by `write_exposure_map` (native float64)."""
    path = str(path)
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header
            ranges = {key: int(header[keyword]) for key, keyword in RANGE_KEYWORDS.items()}
            x, y = hdul["X"].data, hdul["Y"].data
            if x is None or y is None or x.shape != y.shape:
                raise KeyError("X and Y differ in shape")
            pixmap = np.empty((*x.shape, 2))
            pixmap[..., 0], pixmap[..., 1] = x, y
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a pixel map file ({exc})") from None
    return ExposureMap(pixmap, ranges)
