"""mosaic.lyot mask: the Lyot coronagraph region of a full-frame exposure flagged for stage 3 (not official).

The region is `mirical.formats.imager_geometry`'s ``lyot`` (the MIRIM_MASKLYOT subarray's
pixels). Its pixels get DO_NOT_USE and NON_SCIENCE in DQ (SCI, ERR and the variances
unchanged), so skymatch (dqbits), outlier detection (good_bits) and the mosaic (its drizzle
weights) leave them out. Only full-frame exposures: a subarray is its own readout.
"""

from __future__ import annotations

import numpy as np

from mirical.formats.dqflags import DO_NOT_USE, NON_SCIENCE
from mirical.formats.imager_geometry import region_mask
from mirical.formats.io import Exposure


def mask_lyot(exposure: Exposure) -> int:
    """Flag the Lyot region of a full-frame exposure; returns the number of pixels flagged (0 for a subarray)."""
    if str(exposure.get("SUBARRAY", "FULL")).strip().upper() != "FULL":
        return 0
    region = region_mask("lyot", exposure.primary)
    dq = exposure.arrays["DQ"]
    exposure.arrays["DQ"] = np.where(region, dq | np.uint32(DO_NOT_USE | NON_SCIENCE), dq).astype(dq.dtype)
    return int(region.sum())
