"""flat_field: divide by the flat and propagate its uncertainty.

As jwst 3.0.0 ``jwst/flatfield/flat_field.py`` (``apply_flat_field``, the path
of MIRI imaging), with its float32 arithmetic in the same order:

* flat DQ |= DO_NOT_USE + NO_FLAT_FIELD where the flat is NaN or zero;
* flat DQ |= DO_NOT_USE where the flat DQ has NO_FLAT_FIELD;
* the flat is set to 1 where its DQ has DO_NOT_USE (its ERR is left as it is);
* SCI /= f; VAR_FLAT = SCI^2 / f^2 * ERR_f^2; VAR_POISSON, VAR_RNOISE /= f^2;
  ERR = sqrt(VAR_POISSON + VAR_RNOISE + VAR_FLAT);
* ``inverse`` (undo a flat): SCI *= f; VAR_FLAT = 0; VAR_POISSON, VAR_RNOISE *= f^2;
  ERR = sqrt(VAR_POISSON + VAR_RNOISE);
* DQ |= the flat DQ, every bit (UNRELIABLE_FLAT is carried, not acted on);
* ``jwst/lib/pipe_utils.py`` ``match_nans_and_flags``: a pixel NaN in SCI, ERR
  or a VAR_* array, or DO_NOT_USE in DQ, becomes NaN in all of them and
  DO_NOT_USE in DQ.
"""

from __future__ import annotations

import numpy as np

from mirical.formats.dqflags import DO_NOT_USE, NO_FLAT_FIELD
from mirical.formats.io import VARIANCES, Exposure, ReferenceImage, match_nans_and_flags, reference_name
from mirical.formats.subarray import cut, frame, require_covers
from mirical.steps import set_step_status


def prepare_flat(flat: np.ndarray, flat_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat (float32, as a FlatModel holds it) and its DQ with unusable pixels flagged and set to 1."""
    flat = np.array(flat, dtype=np.float32)
    flat_dq = np.array(flat_dq, dtype=np.uint32)
    flat_dq[np.isnan(flat) | (flat == 0)] |= DO_NOT_USE | NO_FLAT_FIELD
    flat_dq[(flat_dq & NO_FLAT_FIELD) != 0] |= DO_NOT_USE
    flat[(flat_dq & DO_NOT_USE) != 0] = 1.0
    return flat, flat_dq


def apply(arrays: dict[str, np.ndarray], flat: np.ndarray, flat_err: np.ndarray,
          flat_dq: np.ndarray, inverse: bool = False) -> dict[str, np.ndarray]:
    """Flat-field SCI/ERR/DQ/VAR_* (already on the same frame as the flat), in float32.

    ``inverse`` multiplies by the flat instead (undoing a flat field), as jwst's ``inverse``.
    """
    flat, flat_dq = prepare_flat(flat, flat_dq)
    flat_err = np.asarray(flat_err, dtype=np.float32)
    flat_squared = flat * flat
    out = dict(arrays)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if inverse:
            sci = arrays["SCI"].astype(np.float32) * flat
            var_f = np.zeros_like(sci)
            var_p = arrays["VAR_POISSON"].astype(np.float32) * flat_squared
            var_r = arrays["VAR_RNOISE"].astype(np.float32) * flat_squared
            err = np.sqrt(var_p + var_r)
        else:
            sci = arrays["SCI"].astype(np.float32) / flat
            var_f = sci**2 / flat_squared * flat_err**2
            var_p = arrays["VAR_POISSON"].astype(np.float32) / flat_squared
            var_r = arrays["VAR_RNOISE"].astype(np.float32) / flat_squared
            err = np.sqrt(var_p + var_r + var_f)
    out.update(SCI=sci, VAR_POISSON=var_p, VAR_RNOISE=var_r, VAR_FLAT=var_f, ERR=err,
               DQ=arrays["DQ"].astype(np.uint32) | flat_dq)
    out = match_nans_and_flags(out)
    for name in ("SCI", "ERR") + VARIANCES:
        out[name] = out[name].astype(np.float32)
    out["DQ"] = out["DQ"].astype(np.uint32)
    return out


def calibrate(exposure: Exposure, flat: ReferenceImage, inverse: bool = False) -> tuple[Exposure, float]:
    """Flat-field an exposure with a FLAT reference (cut to its subarray); ``inverse`` multiplies.

    Returns the exposure and the median flat value applied.
    """
    target, source = frame(exposure.primary), flat.frame
    require_covers(flat.path, "flat", source, exposure.path, target)
    f = cut(flat.arrays["SCI"], source, target)
    f_err = cut(flat.arrays["ERR"], source, target)
    f_dq = cut(flat.arrays["DQ"], source, target, fill=0)  # an integer array: no NaN fill
    exposure.arrays.update(apply(exposure.arrays, f, f_err, f_dq, inverse))
    exposure.ext_headers.setdefault("VAR_FLAT", exposure.ext_headers.get("VAR_POISSON", exposure.sci_header).copy())
    exposure.primary["R_FLAT"] = (reference_name(flat.path), "flat reference file")
    set_step_status(exposure, "flat_field", "COMPLETE")
    usable = np.isfinite(f) & (f != 0)
    return exposure, float(np.median(f[usable])) if usable.any() else float("nan")
