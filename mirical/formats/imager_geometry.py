"""The MIRI imager's detector regions: the imager field and the coronagraphs, in full-frame pixels.

The one place these numbers are written. Each region is a box of the full frame,
(xstart, ystart, xsize, ysize) with 1-based starts (the convention of SUBSTRT1/2 and
SUBSIZE1/2, `mirical.formats.subarray.frame`), from the SIAF's aperture definitions
(pysiaf ``source_data/MIRI/miri_siaf_aperture_definition.txt``): start = DetRef - SciRef + 1,
size = SciSize.

- ``imager``: MIRIM_ILLUM, the illuminated imager field (detector x 360-1027, every row);
  outside it are the reference columns, the coronagraphs and the metering structure's
  shadow between them (the non-science region).
- ``lyot``, ``4qpm1065``, ``4qpm1140``, ``4qpm1550``: the coronagraph subarrays
  MIRIM_MASKLYOT, MIRIM_MASK1065, MIRIM_MASK1140, MIRIM_MASK1550, which contain the
  coronagraphs' fields (the ROIs MIRIM_CORONLYOT, MIRIM_CORON1065/1140/1550) and their
  surroundings on the detector.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mirical.formats.subarray import frame

# name: (SIAF aperture, (xstart, ystart, xsize, ysize)) in full-frame detector pixels, 1-based.
REGIONS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "imager": ("MIRIM_ILLUM", (360, 1, 668, 1024)),  # XDetRef 693.5, XSciRef 334.5
    "lyot": ("MIRIM_MASKLYOT", (1, 717, 320, 304)),  # DetRef (142.5, 884.5), SciRef (142.5, 168.5)
    "4qpm1065": ("MIRIM_MASK1065", (1, 19, 288, 224)),  # DetRef (120.0, 132.0), SciRef (120.0, 114.0)
    "4qpm1140": ("MIRIM_MASK1140", (1, 245, 288, 224)),  # DetRef (119.5, 354.5), SciRef (119.5, 110.5)
    "4qpm1550": ("MIRIM_MASK1550", (1, 467, 288, 224)),  # DetRef (119.5, 575.5), SciRef (119.5, 109.5)
}
CORONAGRAPHS = ("lyot", "4qpm1065", "4qpm1140", "4qpm1550")


def region_mask(name: str, header: Mapping) -> np.ndarray:
    """True on the pixels of region ``name`` inside the exposure whose SUBSTRT/SUBSIZE are in ``header``."""
    xstart, ystart, nx, ny = frame(header)
    rx, ry, rnx, rny = REGIONS[name][1]
    mask = np.zeros((ny, nx), dtype=bool)
    x0, x1 = max(rx - xstart, 0), min(rx + rnx - xstart, nx)
    y0, y1 = max(ry - ystart, 0), min(ry + rny - ystart, ny)
    if x0 < x1 and y0 < y1:
        mask[y0:y1, x0:x1] = True
    return mask


def outside_imager(header: Mapping) -> np.ndarray:
    """True on the exposure's pixels that are not imager sky: the coronagraphs and the non-science region."""
    outside = ~region_mask("imager", header)
    for name in CORONAGRAPHS:
        outside |= region_mask(name, header)
    return outside
