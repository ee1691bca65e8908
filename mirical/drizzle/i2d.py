"""The i2d product the resample and mosaic steps share: the grid of cal files, the drizzle, the i2d headers.

The grid comes from ``grid.py`` (or a given ``output_wcs.py`` file), the drizzling
from ``engine.py``. The output grid is computed from the footprints first (headers
and WCS only), then the exposures are drizzled one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats import asdf_extension
from mirical.formats.io import IMAGE_ORDER, Exposure, set_units

# Output keywords that stdatamodels reads from the SCI header (schema ``fits_hdu: SCI``);
# the others (NDRIZ, PIXFRAC, PXSCLRT, RESWHT, EFFEXPTM, TMEASURE, DURATION, EXPSTART,
# EXPEND, S_RESAMP) live in the primary header, where a copy of the first input's
# value would otherwise be what datamodels.open reports.
SCI_KEYWORDS = ("PIXAR_A2", "PIXAR_SR", "XPOSURE", "TELAPSE")
# Pointing keywords that describe one exposure, not the resampled grid (dropped, as stage 3
# does; jwst 3.0 keeps the first input's XREF_SCI, YREF_SCI and VA_SCALE, so do we).
EXPOSURE_POINTING = ("V2_REF", "V3_REF", "RA_REF", "DEC_REF", "ROLL_REF", "V3I_YANG", "VPARITY", "S_REGION")
# Their ``meta.wcsinfo`` names in the ASDF tree (dropped there too, else stdatamodels shows them).
EXPOSURE_WCSINFO = ("v2_ref", "v3_ref", "ra_ref", "dec_ref", "roll_ref", "v3yangle", "vparity")


#: The step options that choose the output arrays (jwst ResampleStep; `Resampler`).
OUTPUT_OPTIONS = ("enable_ctx", "enable_err", "report_var", "propagate_dq")


def exposure_wcs(path: str, asdf_hdu: fits.BinTableHDU | None):
    """The gwcs stored in an exposure's ASDF extension (clear error if there is none)."""
    if asdf_hdu is None:
        raise MiricalError(path, "no ASDF extension: assign_wcs has not run (S_WCS), cannot resample")
    wcs = (asdf_extension.read_tree(asdf_hdu).get("meta") or {}).get("wcs")
    if wcs is None:
        raise MiricalError(path, "the ASDF extension holds no meta.wcs: assign_wcs has not run")
    return wcs


def _header_and_wcs(path: str) -> tuple[fits.Header, fits.Header, object, tuple[int, int]]:
    """Primary and SCI headers, gwcs and shape of a cal file without reading its arrays."""
    try:
        with fits.open(path) as hdul:
            primary, sci = hdul[0].header.copy(), hdul["SCI"].header.copy()
            asdf_hdu = hdul["ASDF"].copy() if "ASDF" in hdul else None
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None
    shape = (int(sci["NAXIS2"]), int(sci["NAXIS1"]))
    return primary, sci, exposure_wcs(path, asdf_hdu), shape


def grid(paths: Sequence[str], params: Mapping):
    """Output gwcs and shape covering every exposure in ``paths`` (or the ``output_wcs`` file's),
    its pixel scale in arcsec, and the exposures' gwcs.

    The exposures' gwcs are returned for the drizzle pass: deserializing one costs
    ~0.4 s, so it is done once per file.
    """
    from mirical.drizzle.grid import output_grid, output_pixel_scale

    first_primary, first_sci, wcs0, shape0 = _header_and_wcs(paths[0])
    wcss, shapes = [wcs0], [shape0]
    for path in paths[1:]:
        _, _, wcs, shape = _header_and_wcs(path)
        wcss.append(wcs)
        shapes.append(shape)
    if params.get("output_wcs"):
        from mirical.drizzle.output_wcs import load_output_wcs

        given = load_output_wcs(params["output_wcs"], params.get("output_shape"))
        return given.wcs, given.shape, given.pixel_scale, wcss
    info = {key: float(first_sci[key]) for key in ("ROLL_REF", "VPARITY", "V3I_YANG", "RA_REF", "DEC_REF")
            if key in first_sci}
    missing = {"ROLL_REF", "VPARITY", "V3I_YANG"} - set(info)
    if missing and params.get("rotation") is None:
        raise MiricalError(paths[0], f"keyword(s) {', '.join(sorted(missing))} missing: cannot orient the output")
    info.setdefault("VPARITY", -1.0)
    info.setdefault("ROLL_REF", 0.0)
    info.setdefault("V3I_YANG", 0.0)
    out_wcs, shape = output_grid(wcss, shapes, info, pixel_scale_ratio=params["pixel_scale_ratio"],
                                 pixel_scale=params.get("pixel_scale"), rotation=params.get("rotation"),
                                 crpix=params.get("crpix"), crval=params.get("crval"),
                                 output_shape=_array_shape(params.get("output_shape")))
    return out_wcs, shape, output_pixel_scale(out_wcs), wcss


def _array_shape(output_shape: Sequence[int] | None) -> tuple[int, int] | None:
    """The config's ``output_shape`` ([nx, ny], the official's order) as an array shape (ny, nx)."""
    return None if output_shape is None else (int(output_shape[1]), int(output_shape[0]))


def fillval(value) -> float:
    """The config's fillval as a float ('NaN'/'INDEF' -> NaN)."""
    if isinstance(value, str):
        return float("nan")
    return float(value)


def make_resampler(out_wcs, shape: Sequence[int], params: Mapping, pixel_scale_ratio: float | None,
                   pixel_scale: float | None = None, **options):
    """A `Resampler` onto ``out_wcs`` (array ``shape``) with the step's drizzle parameters, pixel map,
    output options (`OUTPUT_OPTIONS`) and ``good_bits`` if given (``options`` override them)."""
    from mirical.drizzle.engine import Resampler

    chosen = {option: params[option] for option in (*OUTPUT_OPTIONS, "good_bits") if option in params} | options
    stepsize, order = pixmap_options(params)
    return Resampler(out_wcs, shape, pixfrac=params["pixfrac"], kernel=params["kernel"],
                     fillval=str(fillval(params["fillval"])), weight_type=params["weight_type"],
                     pixel_scale_ratio=pixel_scale_ratio, pixel_scale=pixel_scale,
                     pixmap_stepsize=stepsize, pixmap_order=order, **chosen)


def pixmap_options(params: Mapping) -> tuple[float, int]:
    """The step's ``pixmap_stepsize`` and ``pixmap_order``: how `pixel_map` computes the pixel map."""
    return float(params["pixmap_stepsize"]), int(params["pixmap_order"])


def grid_pixel_scale_ratio(params: Mapping, pixel_scale: float, first_path: str, first_wcs) -> float:
    """PXSCLRT of the grid, as jwst 3.0.0: ``pixel_scale_ratio``; with ``output_wcs``, ``pixel_scale`` over the
    first exposure's nominal pixel (PIXAR_SR, else its mean pixel area); with ``pixel_scale`` alone, over the
    first exposure's mean pixel area (jwst's ``resampled_wcs_from_models``)."""
    from mirical.drizzle.engine import derived_pixel_scale_ratio

    if params.get("pixel_scale") is None and not params.get("output_wcs"):
        return float(params["pixel_scale_ratio"])
    with fits.open(first_path) as hdul:
        primary, sci = hdul[0].header, hdul["SCI"].header
        pixar_sr = primary.get("PIXAR_SR", sci.get("PIXAR_SR"))
        shape = (int(sci["NAXIS2"]), int(sci["NAXIS1"]))
    nominal = float(pixar_sr) if pixar_sr is not None and params.get("output_wcs") else None
    return derived_pixel_scale_ratio(pixel_scale, first_wcs, shape, nominal)


def add_exposure(resampler, exposure: Exposure, wcs, pixmap: np.ndarray | None = None,
                 input_range: dict[str, int] | None = None, accumulate: bool = True) -> dict[str, np.ndarray]:
    """Drizzle one cal exposure with ``resampler`` (`Resampler.add`: ``pixmap`` and ``input_range`` replace what
    it computes of ``wcs``; ``accumulate``), less BKGLEVEL where BKGSUB is false; its resampled variances."""
    if str(exposure.get("S_WCS", "")) != "COMPLETE":
        raise MiricalError(exposure.path, "S_WCS is not COMPLETE: resampling needs the WCS from assign_wcs")
    a = exposure.arrays
    sci, level = a["SCI"], unsubtracted_level(exposure.primary)
    if level is not None:
        sci = sci - level
    return resampler.add(sci, a["ERR"], a["DQ"], a["VAR_POISSON"], a["VAR_RNOISE"],
                         a.get("VAR_FLAT", np.zeros_like(a["SCI"])), wcs,
                         exposure_time(exposure), tmeasure=_float(exposure.get("TMEASURE")),
                         duration=_float(exposure.get("DURATION")), expstart=_float(exposure.get("EXPSTART")),
                         expend=_float(exposure.get("EXPEND")), pixar_sr=_float(exposure.get("PIXAR_SR")),
                         pixmap=pixmap, input_range=input_range, accumulate=accumulate)


def unsubtracted_level(primary: fits.Header) -> float | None:
    """BKGLEVEL where skymatch measured it but did not subtract it (BKGSUB false): the drizzle subtracts it, as
    jwst's resample does."""
    if primary.get("BKGSUB") is False and primary.get("BKGLEVEL") is not None:
        return float(primary["BKGLEVEL"])
    return None


def grid_header(out_wcs, shape: Sequence[int], given: bool) -> fits.Header:
    """FITS WCS of the grid: the linear approximation of a given ``output_wcs``, else its TAN header."""
    from mirical.drizzle.grid import tan_header
    from mirical.drizzle.output_wcs import linear_header

    return linear_header(out_wcs, shape) if given else tan_header(out_wcs)


def i2d_exposure(first: Exposure, out_wcs, shape: Sequence[int], result: dict, given_wcs: bool,
                 drop_meta: tuple[str, ...] = ()) -> Exposure:
    """The i2d product: ``result`` of `Resampler.finish` with the first input's headers and metadata, without
    the ASDF ``meta`` keys in ``drop_meta`` (``given_wcs``: the grid is an ``output_wcs`` file's); the caller
    records its step's status."""
    from mirical.drizzle.grid import s_region
    from mirical.drizzle.output_wcs import with_bounding_box

    keywords = result.pop("keywords")
    primary = first.primary.copy()
    sci_header = first.sci_header.copy()
    for key in EXPOSURE_POINTING:
        sci_header.remove(key, ignore_missing=True, remove_all=True)
        primary.remove(key, ignore_missing=True, remove_all=True)
    _strip_wcs(sci_header)
    sci_header.update(grid_header(out_wcs, shape, given_wcs))
    sci_header["S_REGION"] = s_region(with_bounding_box(out_wcs, shape))
    for key, value in keywords.items():
        (sci_header if key in SCI_KEYWORDS else primary)[key] = value
        (primary if key in SCI_KEYWORDS else sci_header).remove(key, ignore_missing=True, remove_all=True)
    primary["DATAMODL"] = "ImageModel"
    arrays = {name: result[name] for name in IMAGE_ORDER if name in result}
    out = Exposure(primary=primary, sci_header=sci_header, arrays=arrays,
                   asdf=asdf_extension.with_wcs(first.asdf, out_wcs, EXPOSURE_WCSINFO, drop_meta), path="")
    set_units(out, str(first.sci_header.get("BUNIT", "MJy/sr")))
    return out


def exposure_time(exposure: Exposure) -> float:
    """EFFEXPTM (primary), else XPOSURE (SCI): MAST files written by stdatamodels >= 2 carry both."""
    value = exposure.get("EFFEXPTM")
    if value is None:
        value = exposure.get("XPOSURE")
    if value is None:
        raise MiricalError(exposure.path, "keyword EFFEXPTM (or XPOSURE) is missing: no exposure time")
    return float(value)


def _float(value) -> float | None:
    return None if value is None else float(value)


def _strip_wcs(header: fits.Header) -> None:
    """Remove the input's FITS WCS (CD/PC/CDELT, SIP) before the output TAN header goes in."""
    for key in list(header.keys()):
        if key.startswith(("CD1_", "CD2_", "PC1_", "PC2_", "A_", "B_", "AP_", "BP_", "CDELT", "CRPIX",
                           "CRVAL", "CTYPE", "CUNIT")) or key in ("WCSAXES", "SIPMXERR"):
            header.remove(key, ignore_missing=True, remove_all=True)
