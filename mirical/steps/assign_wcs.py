"""The MIRI imager WCS: detector pixels -> V2/V3 -> velocity-aberration-corrected V2/V3 -> ICRS.

Pure functions. The gwcs pipeline has the frames and transforms of the official
``calwebb_image2`` assign_wcs step for MIR_IMAGE (reference: section 2 of
image2-algorithms.md):

- ``detector`` (pixels, 0-based, in the exposure's own array) -> ``v2v3`` (arcsec):
  for a subarray ``Shift(SUBSTRT1-1) & Shift(SUBSTRT2-1)``, then the FILTEROFFSET
  shift ``Shift(column_offset) & Shift(row_offset)``, then the DISTORTION model.
- ``v2v3`` -> ``v2v3vacorr``: ``v' = s*v + (1-s)*v_ref`` with ``s = VA_SCALE``
  (identity when VA_SCALE is absent or 1).
- ``v2v3vacorr`` -> ``world``: arcsec to degrees, to unit vectors, rotations about
  z, y, x, y, z by ``[V2_REF/3600, -V3_REF/3600, ROLL_REF, DEC_REF, -RA_REF]``
  degrees, back to spherical with RA in [0, 360).

Every transform has an analytic inverse (the DISTORTION model brings its own),
and only models that asdf-astropy/gwcs serialize are used.
"""

from __future__ import annotations

from collections.abc import Mapping

import asdf
import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.io import fits
from astropy.modeling import Model, bind_bounding_box
from astropy.modeling.models import AffineTransformation2D, Identity, RotationSequence3D, Scale, Shift
from gwcs import WCS
from gwcs import coordinate_frames as cf
from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

from mirical.drizzle.grid import s_region
from mirical.errors import MiricalError
from mirical.formats.io import POINTING_KEYWORDS
from mirical.formats.sip import replace_wcs_keywords, sip_header



def load_distortion_model(path: str) -> Model:
    """The detector -> V2/V3 model (tree key ``model``) of a DISTORTION reference file."""
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            model = af.tree.get("model")
    except Exception as exc:  # asdf raises many types for unreadable files
        raise MiricalError(path, f"not a readable ASDF reference file ({exc})") from None
    if not isinstance(model, Model):
        raise MiricalError(path, "not a DISTORTION reference file (no transform under tree key 'model')")
    return model


def load_filter_offset(path: str, filter_name: str) -> tuple[float, float]:
    """(column_offset, row_offset) in pixels for ``filter_name`` from a FILTEROFFSET file."""
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            filters = af.tree.get("filters")
            entries = [dict(f) for f in filters] if isinstance(filters, list) else None
    except Exception as exc:
        raise MiricalError(path, f"not a readable ASDF reference file ({exc})") from None
    if entries is None:
        raise MiricalError(path, "not a FILTEROFFSET reference file (no list under tree key 'filters')")
    for entry in entries:
        if str(entry.get("filter", "")).strip().upper() == filter_name.strip().upper():
            return float(entry["column_offset"]), float(entry["row_offset"])
    raise MiricalError(path, f"no filter offset for FILTER={filter_name}")


def velocity_aberration(va_scale: float | None, v2_ref: float, v3_ref: float) -> Model:
    """V2/V3 -> aberration-corrected V2/V3: ``v' = s*v + (1-s)*v_ref`` (arcsec)."""
    if va_scale is None or va_scale == 1:
        return Identity(2)
    if va_scale <= 0:
        raise ValueError(f"VA_SCALE must be positive, got {va_scale}")
    model = Scale(va_scale, name="dva_scale_v2") & Scale(va_scale, name="dva_scale_v3")
    model = model | (Shift((1 - va_scale) * v2_ref, name="dva_v2_shift")
                     & Shift((1 - va_scale) * v3_ref, name="dva_v3_shift"))
    model.name = "DVA_Correction"
    return model


def v2v3_to_sky(v2_ref: float, v3_ref: float, roll_ref: float, ra_ref: float, dec_ref: float) -> Model:
    """V2/V3 (arcsec) -> RA/Dec (deg): the telescope attitude as five axis rotations."""
    angles = [v2_ref / 3600, -v3_ref / 3600, roll_ref, dec_ref, -ra_ref]
    model = ((Scale(1 / 3600) & Scale(1 / 3600))
             | SphericalToCartesian(wrap_lon_at=180)
             | RotationSequence3D(angles, axes_order="zyxyz")
             | CartesianToSpherical(wrap_lon_at=360))
    model.name = "v23tosky"
    return model


def detector_to_v2v3(distortion: Model, col_offset: float, row_offset: float,
                     substrt: tuple[int, int] = (1, 1),
                     subsize: tuple[int, int] = (1032, 1024)) -> Model:
    """Exposure pixels (0-based) -> V2/V3 (arcsec), with the bounding box of the array.

    Both directions are the official ones: the inverse is the DISTORTION file's
    analytic inverse (a fit, off by up to 0.11 px in the detector corners), which
    the official pipeline's world -> detector uses too (the output grids' pixel
    scale, skymatch's overlaps).
    """
    model = (Shift(col_offset) & Shift(row_offset)) | distortion
    if tuple(substrt) != (1, 1):
        model = (Shift(substrt[0] - 1) & Shift(substrt[1] - 1)) | model
    bbox = ((-0.5, subsize[0] - 0.5), (-0.5, subsize[1] - 0.5))
    bind_bounding_box(model, bbox, order="F")
    return model


def build_wcs(distortion: Model, col_offset: float, row_offset: float, pointing: Mapping,
              substrt: tuple[int, int] = (1, 1),
              subsize: tuple[int, int] = (1032, 1024)) -> WCS:
    """The gwcs of an exposure.

    Parameters
    ----------
    distortion : Model
        Full-frame 0-based pixels -> V2/V3 arcsec (DISTORTION ``model``).
    col_offset, row_offset : float
        FILTEROFFSET entry of the exposure's filter (pixels, added to x, y).
    pointing : Mapping
        V2_REF, V3_REF (arcsec), ROLL_REF, RA_REF, DEC_REF (deg), optional VA_SCALE.
    substrt, subsize : tuple of int
        SUBSTRT1/2 (1-based) and SUBSIZE1/2 of the exposure.

    Returns
    -------
    gwcs.WCS
        Frames detector -> v2v3 -> v2v3vacorr -> world; invertible.
    """
    v2_ref, v3_ref = float(pointing["V2_REF"]), float(pointing["V3_REF"])
    va_scale = pointing.get("VA_SCALE")
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"),
                      unit=(u.arcsec, u.arcsec))
    v2v3vacorr = cf.Frame2D(name="v2v3vacorr", axes_order=(0, 1), axes_names=("v2", "v3"),
                            unit=(u.arcsec, u.arcsec))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    pipeline = [
        (detector, detector_to_v2v3(distortion, col_offset, row_offset, substrt, subsize)),
        (v2v3, velocity_aberration(None if va_scale is None else float(va_scale), v2_ref, v3_ref)),
        (v2v3vacorr, v2v3_to_sky(v2_ref, v3_ref, float(pointing["ROLL_REF"]),
                                 float(pointing["RA_REF"]), float(pointing["DEC_REF"]))),
        (world, None),
    ]
    return WCS(pipeline)


def calibrate(exposure, distortion_path: str, filteroffset_path: str):
    """Assign the WCS to an `mirical.formats.io.Exposure`: gwcs in the ASDF extension, SIP header, S_REGION."""
    import warnings

    from mirical.formats.asdf_extension import with_wcs
    from mirical.formats.io import reference_name
    from mirical.formats.subarray import frame
    from mirical.steps import set_step_status

    missing = [k for k in POINTING_KEYWORDS if exposure.sci_header.get(k) is None]
    if missing:
        raise MiricalError(exposure.path, f"pointing keyword(s) {', '.join(missing)} missing from the SCI header")
    pointing = {k: float(exposure.sci_header[k]) for k in POINTING_KEYWORDS}
    if exposure.sci_header.get("VA_SCALE") is not None:
        pointing["VA_SCALE"] = float(exposure.sci_header["VA_SCALE"])
    distortion = load_distortion_model(distortion_path)
    col, row = load_filter_offset(filteroffset_path, str(exposure.require("FILTER")))
    xstart, ystart, xsize, ysize = frame(exposure.primary)
    wcs = build_wcs(distortion, col, row, pointing, substrt=(xstart, ystart), subsize=(xsize, ysize))
    crpix = None
    if "CRPIX1" in exposure.sci_header and "CRPIX2" in exposure.sci_header:
        crpix = (float(exposure.sci_header["CRPIX1"]), float(exposure.sci_header["CRPIX2"]))
    with warnings.catch_warnings():  # the inverse SIP fit may miss 0.01 px; the forward SIP is exact
        warnings.simplefilter("ignore")
        sip = sip_header(wcs, exposure.shape, crpix)
    replace_wcs_keywords(exposure.sci_header, sip)
    exposure.sci_header["S_REGION"] = s_region(wcs)
    exposure.asdf = with_wcs(exposure.asdf, wcs)
    exposure.primary["R_DISTOR"] = (reference_name(distortion_path), "distortion reference file")
    exposure.primary["R_FILOFF"] = (reference_name(filteroffset_path), "filter offset reference file")
    set_step_status(exposure, "assign_wcs", "COMPLETE")
    return exposure
