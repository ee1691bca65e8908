"""flat_field: divide by the flat and propagate its uncertainty.

As calwebb_image2's flat_field for MIRI imaging: flat pixels that are NaN or
zero are flagged DO_NOT_USE + NO_FLAT_FIELD; every DO_NOT_USE flat pixel is
set to 1 (no correction); SCI /= f, VAR_POISSON and VAR_RNOISE /= f^2,
VAR_FLAT = SCI_new^2 ERR_f^2 / f^2, ERR = sqrt(sum of the variances),
DQ |= flat DQ. Finally NaN and DO_NOT_USE are made consistent across arrays.
"""

from __future__ import annotations

import numpy as np

from mirical.dqflags import DO_NOT_USE, NO_FLAT_FIELD
from mirical.errors import MiricalError
from mirical.io import VARIANCES, Exposure, ReferenceImage, match_nans_and_flags, reference_name
from mirical.steps import set_step_status
from mirical.subarray import covers, cut, frame

def prepare_flat(flat: np.ndarray, flat_err: np.ndarray, flat_dq: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flag unusable flat pixels and neutralise them (value 1, error 0)."""
    flat = np.array(flat, dtype=np.float64)
    flat_err = np.array(flat_err, dtype=np.float64)
    flat_dq = np.array(flat_dq, dtype=np.uint32)
    bad = ~np.isfinite(flat) | (flat == 0)
    flat_dq[bad] |= DO_NOT_USE | NO_FLAT_FIELD
    unusable = (flat_dq & DO_NOT_USE) != 0
    flat[unusable] = 1.0
    flat_err[unusable] = 0.0
    return flat, flat_err, flat_dq


def apply(arrays: dict[str, np.ndarray], flat: np.ndarray, flat_err: np.ndarray,
          flat_dq: np.ndarray) -> dict[str, np.ndarray]:
    """Flat-field SCI/ERR/DQ/VAR_* (already on the same frame as the flat)."""
    flat, flat_err, flat_dq = prepare_flat(flat, flat_err, flat_dq)
    out = dict(arrays)
    with np.errstate(invalid="ignore", over="ignore"):
        sci = arrays["SCI"].astype(np.float64) / flat
        var_p = arrays["VAR_POISSON"].astype(np.float64) / flat**2
        var_r = arrays["VAR_RNOISE"].astype(np.float64) / flat**2
        var_f = sci**2 * flat_err**2 / flat**2
        err = np.sqrt(var_p + var_r + var_f)
    out.update(SCI=sci, VAR_POISSON=var_p, VAR_RNOISE=var_r, VAR_FLAT=var_f, ERR=err,
               DQ=arrays["DQ"].astype(np.uint32) | flat_dq)
    out = match_nans_and_flags(out)
    for name in ("SCI", "ERR") + VARIANCES:
        out[name] = out[name].astype(np.float32)
    out["DQ"] = out["DQ"].astype(np.uint32)
    return out


def calibrate(exposure: Exposure, flat: ReferenceImage) -> tuple[Exposure, float]:
    """Flat-field an exposure with a FLAT reference (cut to its subarray).

    Returns the exposure and the median flat value applied.
    """
    target, source = frame(exposure.primary), flat.frame
    if not covers(source, target):
        raise MiricalError(flat.path, f"flat covers {source} but exposure {exposure.path} is {target} "
                                      "(xstart, ystart, xsize, ysize)")
    f = cut(flat.arrays["SCI"], source, target)
    f_err = cut(flat.arrays["ERR"], source, target)
    f_dq = cut(flat.arrays["DQ"], source, target, fill=0)  # an integer array: no NaN fill
    exposure.arrays.update(apply(exposure.arrays, f, f_err, f_dq))
    exposure.ext_headers.setdefault("VAR_FLAT", exposure.ext_headers.get("VAR_POISSON", exposure.sci_header).copy())
    exposure.primary["R_FLAT"] = (reference_name(flat.path), "flat reference file")
    set_step_status(exposure, "flat_field", "COMPLETE")
    usable = np.isfinite(f) & (f != 0)
    return exposure, float(np.median(f[usable])) if usable.any() else float("nan")
