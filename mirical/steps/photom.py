"""photom: convert DN/s to MJy/sr with the PHOTOM reference's conversion factor.

As calwebb_image2's photom for MIRI imaging: the PHOTOM row is chosen by FILTER
and SUBARRAY (case-insensitive), falling back to SUBARRAY = GENERIC; the
optional time-dependence tables (linear, exponential, power law, rows aligned
with PHOTOM) are evaluated at EXPMID and divide the factor; SCI and ERR are
multiplied by the factor c and the variances by c^2 (BUNIT MJy/sr). With
``inverse`` (undo a calibration) they are divided instead and BUNIT is DN/s;
PHOTMJSR, PHOTUJA2 and the AREA extension are written either way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mirical.errors import MiricalError
from mirical.formats.io import Exposure, ReferenceImage, reference_name, set_units
from mirical.formats.subarray import cut, frame, require_covers
from mirical.steps import set_step_status

MJYSR_TO_UJYA2 = 23.5044  # 1 MJy/sr in microJy/arcsec^2
TIME_TABLES = ("TIMECOEFF_LINEAR", "TIMECOEFF_EXPONENTIAL", "TIMECOEFF_POWERLAW")


class PhotomRowError(ValueError):
    """No PHOTOM row, or more than one, for an exposure's FILTER/SUBARRAY."""


def find_row(table: np.ndarray, filter_name: str, subarray: str) -> int:
    """Index of the PHOTOM row for FILTER and SUBARRAY, with the GENERIC fallback."""
    filters = np.char.upper(np.char.strip(np.asarray(table["filter"]).astype(str)))
    subarrays = np.char.upper(np.char.strip(np.asarray(table["subarray"]).astype(str)))
    filter_name, subarray = filter_name.strip().upper(), subarray.strip().upper()
    for wanted in (subarray, "GENERIC"):
        rows = np.flatnonzero((filters == filter_name) & (subarrays == wanted))
        if len(rows) > 1:
            raise PhotomRowError(f"{len(rows)} rows match FILTER={filter_name} SUBARRAY={wanted}")
        if len(rows) == 1:
            return int(rows[0])
    raise PhotomRowError(f"no row for FILTER={filter_name} SUBARRAY={subarray} (nor GENERIC)")


def time_correction(tables: Mapping[str, np.ndarray], row: int, expmid: float) -> float:
    """Product of the time-dependence corrections present, at MJD ``expmid``.

    Evaluated as the official pipeline does: the coefficient columns are float32
    (stdatamodels' mirimg_photom schema), so each formula runs in float32 over the
    whole table, ``expmid`` rounded to float32 first (0.004 d at MJD 60000); the
    corrections of the tables present multiply in float64.
    """
    t = np.float32(expmid)
    corr = 1.0
    if "TIMECOEFF_LINEAR" in tables:
        t0, loss = _columns(tables["TIMECOEFF_LINEAR"], "t0", "lossperyear")
        corr *= float((np.float32(1.0) - loss * (t - t0) / np.float32(365.0))[row])
    if "TIMECOEFF_EXPONENTIAL" in tables:
        t0, amplitude, tau, const = _columns(tables["TIMECOEFF_EXPONENTIAL"], "t0", "amplitude", "tau", "const")
        corr *= float((amplitude * np.exp(-(t - t0) / tau) + const)[row])
    if "TIMECOEFF_POWERLAW" in tables:
        t0, year1value, tsoft, alpha = _columns(tables["TIMECOEFF_POWERLAW"], "t0", "year1value", "tsoft", "alpha")
        norm = (np.float32(365.0) + tsoft) ** alpha / year1value
        corr *= float(((t - t0 + tsoft) ** alpha / norm)[row])
    return corr


def _columns(table: np.ndarray, *names: str) -> list[np.ndarray]:
    return [np.asarray(table[name], dtype=np.float32) for name in names]


def conversion(table: np.ndarray, tables: Mapping[str, np.ndarray], filter_name: str,
               subarray: str, expmid: float | None, apply_time_correction: bool = True) -> float:
    """The factor c in (MJy/sr)/(DN/s) for this exposure."""
    row = find_row(table, filter_name, subarray)
    photmjsr = float(table["photmjsr"][row])
    if apply_time_correction and tables:
        if expmid is None:
            raise PhotomRowError("EXPMID is missing but the PHOTOM file has time-dependence tables")
        photmjsr /= time_correction(tables, row, float(expmid))
    return photmjsr


def apply(arrays: dict[str, np.ndarray], c: float, inverse: bool = False) -> dict[str, np.ndarray]:
    """SCI, ERR times c; VAR_POISSON, VAR_RNOISE, VAR_FLAT times c^2 (divided by them with ``inverse``)."""
    out = dict(arrays)
    for name in ("SCI", "ERR"):
        value = arrays[name].astype(np.float64)
        out[name] = (value / c if inverse else value * c).astype(np.float32)
    for name in ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        if name in arrays:
            value = arrays[name].astype(np.float64)
            out[name] = (value / (c * c) if inverse else value * c * c).astype(np.float32)
    return out


def calibrate(exposure: Exposure, photom_tables: Mapping[str, np.ndarray], photom_path: str,
              area: ReferenceImage, apply_time_correction: bool = True,
              inverse: bool = False) -> tuple[Exposure, float]:
    """Apply the flux calibration (undo it with ``inverse``) and attach the pixel area; returns the exposure and c."""
    tables = {k: v for k, v in photom_tables.items() if k in TIME_TABLES}
    filter_name = str(exposure.require("FILTER"))
    subarray = str(exposure.require("SUBARRAY"))
    try:
        c = conversion(photom_tables["PHOTOM"], tables, filter_name, subarray,
                       exposure.get("EXPMID"), apply_time_correction)
    except PhotomRowError as exc:
        raise MiricalError(photom_path, f"{exc} (exposure {exposure.path})") from None
    exposure.arrays.update(apply(exposure.arrays, c, inverse))
    target, source = frame(exposure.primary), area.frame
    require_covers(area.path, "area map", source, exposure.path, target)
    exposure.arrays["AREA"] = cut(area.arrays["SCI"], source, target).astype(np.float32)
    for key in ("PIXAR_SR", "PIXAR_A2"):
        if key not in area.header:
            raise MiricalError(area.path, f"AREA reference has no {key} keyword")
    sci = exposure.sci_header
    sci["PHOTMJSR"] = (c, "flux conversion factor, (MJy/sr)/(DN/s)")
    sci["PHOTUJA2"] = (c * MJYSR_TO_UJYA2, "flux conversion factor, (uJy/arcsec2)/(DN/s)")
    sci["PIXAR_SR"] = (float(area.header["PIXAR_SR"]), "nominal pixel area, sr")
    sci["PIXAR_A2"] = (float(area.header["PIXAR_A2"]), "nominal pixel area, arcsec^2")
    set_units(exposure, "DN/s" if inverse else "MJy/sr")
    exposure.primary["R_PHOTOM"] = (reference_name(photom_path), "photom reference file")
    exposure.primary["R_AREA"] = (reference_name(area.path), "pixel area reference file")
    set_step_status(exposure, "photom", "COMPLETE")
    return exposure, c
