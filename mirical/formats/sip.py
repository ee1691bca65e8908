"""The FITS TAN-SIP approximation of an exposure's gwcs, as the official steps write it to the SCI header.

assign_wcs and tweakreg (jwst's ``update_fits_wcsinfo``) share it: ``to_fits_sip`` over the
gwcs's bounding box, the lowest degree (1..5 unless given) that meets the pixel errors,
``npoints`` x ``npoints`` sampling points, ``crpix`` (1-based) the exposure's existing
CRPIX1/2 or, when None, the bounding-box centre.
"""

from __future__ import annotations

from collections.abc import Iterable

from astropy.io import fits

SIP_MAX_PIX_ERROR = 0.01
SIP_DEGREES = range(1, 6)  # the official steps try degrees 1..5 when none is given
SIP_NPOINTS = 12
# Keywords of the SIP header that the JWST wcsinfo schema maps to the SCI header
# (polynomial terms of total degree 2..6 only: AP_0_1, AP_1_0, BP_0_1 and BP_1_0
# stay out of official SCI headers, so they stay out of ours).
_SIP_PREFIXES = ("A_", "B_", "AP_", "BP_")
_KEPT = ("WCSAXES", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CTYPE1", "CTYPE2",
         "CUNIT1", "CUNIT2", "CD1_1", "CD1_2", "CD2_1", "CD2_2",
         "A_ORDER", "B_ORDER", "AP_ORDER", "BP_ORDER")
# Keywords the official steps drop before writing the SIP approximation.
_STALE = ("CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")


def _bbox(shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """((xmin, xmax), (ymin, ymax)) pixel edges of an array of ``shape`` (ny, nx)."""
    return (-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5)


def sip_header(wcs, shape: tuple[int, int], crpix: tuple[float, float] | None = None,
               max_pix_error: float = SIP_MAX_PIX_ERROR, degree: int | Iterable[int] | None = None,
               max_inv_pix_error: float = SIP_MAX_PIX_ERROR, inv_degree: int | Iterable[int] | None = None,
               npoints: int = SIP_NPOINTS) -> fits.Header:
    """TAN-SIP approximation of ``wcs`` (a gwcs) over the pixel edges of ``shape``.

    Only the keywords that JWST writes to the SCI header are returned: WCSAXES,
    CRPIX, CRVAL, CTYPE (``-SIP`` when non-linear), CUNIT, CD and the A/B/AP/BP
    polynomial keywords the JWST wcsinfo schema knows (total degree 2..6).
    ``degree``/``inv_degree`` None: the lowest of 1..5 that meets the error.
    """
    full = wcs.to_fits_sip(bounding_box=_bbox(shape), max_pix_error=max_pix_error,
                           degree=SIP_DEGREES if degree is None else degree, max_inv_pix_error=max_inv_pix_error,
                           inv_degree=SIP_DEGREES if inv_degree is None else inv_degree, npoints=npoints,
                           crpix=None if crpix is None else list(crpix), projection="TAN")
    header = fits.Header()
    for card in full.cards:
        if card.keyword in _KEPT or _is_sip_term(card.keyword):
            header.append(card)
    return header


def _is_sip_term(keyword: str) -> bool:
    """True for A_i_j, B_i_j, AP_i_j, BP_i_j with 2 <= i + j <= 6."""
    prefix, _, powers = keyword.partition("_")
    i, _, j = powers.partition("_")
    return (prefix + "_" in _SIP_PREFIXES and i.isdigit() and j.isdigit()
            and 2 <= int(i) + int(j) <= 6)


def replace_wcs_keywords(sci_header: fits.Header, sip: fits.Header) -> None:
    """Put a `sip_header` into an SCI header, dropping the FITS WCS it replaces.

    Removes CDELT, PC, CD and any earlier SIP keywords first, as the official steps
    do, so that no stale linear terms combine with the new CD matrix.
    """
    stale = [k for k in sci_header if k in _STALE or k.startswith(_SIP_PREFIXES)]
    for key in stale:
        del sci_header[key]
    sci_header.update(sip)


def existing_crpix(sci_header: fits.Header) -> tuple[float, float] | None:
    """CRPIX1/2 of an SCI header (the SIP's reference pixel), None when absent."""
    if "CRPIX1" in sci_header and "CRPIX2" in sci_header:
        return float(sci_header["CRPIX1"]), float(sci_header["CRPIX2"])
    return None
