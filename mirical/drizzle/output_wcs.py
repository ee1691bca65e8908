"""A user-given output grid for resample and the mosaic (``output_wcs``, as jwst 3.0.0's ResampleStep).

The file is ASDF with the gwcs under the tree key ``wcs``; optional keys
``pixel_scale`` (arcsec), ``pixel_area`` (arcsec^2, used when ``pixel_scale`` is
absent: scale = sqrt(area)), ``array_shape`` and ``pixel_shape``. The output
shape is, in order: the step's ``output_shape`` ([nx, ny]), the gwcs's
``array_shape``, the file's ``array_shape`` (or reversed ``pixel_shape``), the
gwcs's bounding box (ny, nx) = (int(ymax + 0.5), int(xmax + 0.5)). Without a
pixel scale in the file, it is that of the grid's mean pixel area. The other grid
parameters (rotation, crpix, crval, pixel_scale, pixel_scale_ratio) are ignored,
and PXSCLRT is derived from the first exposure's PIXAR_SR, as the official does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import gwcs
from astropy.io import fits

from mirical.drizzle.grid import mean_pixel_area
from mirical.errors import MiricalError

#: FITS WCS keywords of the linear approximation written to the SCI header.
LINEAR_KEYWORDS = ("WCSAXES", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CUNIT1", "CUNIT2",
                   "CD1_1", "CD1_2", "CD2_1", "CD2_2")


@dataclass
class OutputWCS:
    """The grid of an ``output_wcs`` file: its gwcs, (ny, nx) and pixel scale in arcsec."""

    wcs: gwcs.WCS
    shape: tuple[int, int]
    pixel_scale: float


def load_output_wcs(path: str, output_shape: Sequence[int] | None = None) -> OutputWCS:
    """Read an ``output_wcs`` ASDF file; a file that is not an ASDF gwcs is a MiricalError naming it."""
    import asdf

    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            tree = dict(af.tree)
            wcs = copy.deepcopy(tree.get("wcs"))
    except MiricalError:
        raise
    except Exception as exc:  # not a file, not ASDF, or a tree that does not deserialize
        raise MiricalError(path, f"output_wcs is not a readable ASDF file ({type(exc).__name__}: {exc})") from None
    if not isinstance(wcs, gwcs.WCS):
        found = "nothing" if wcs is None else type(wcs).__name__
        raise MiricalError(path, f"output_wcs must hold a gwcs under the ASDF key 'wcs' (found {found})")
    shape = _shape(path, wcs, tree, output_shape)
    scale = tree.get("pixel_scale")
    if scale is None and tree.get("pixel_area") is not None:
        scale = math.sqrt(float(tree["pixel_area"]))
    if scale is None:
        scale = 3600.0 * math.degrees(math.sqrt(mean_pixel_area(wcs, shape)))
    return OutputWCS(wcs, shape, float(scale))


def _shape(path: str, wcs: gwcs.WCS, tree: dict, output_shape: Sequence[int] | None) -> tuple[int, int]:
    if output_shape is not None:
        nx, ny = output_shape
        return int(ny), int(nx)
    if wcs.array_shape is not None:
        return tuple(int(n) for n in wcs.array_shape)
    if tree.get("array_shape") is not None:
        return tuple(int(n) for n in tree["array_shape"])
    if tree.get("pixel_shape") is not None:
        return tuple(int(n) for n in tree["pixel_shape"][::-1])
    if wcs.bounding_box is not None:
        (_, x1), (_, y1) = wcs.bounding_box.bounding_box(order="F")
        return int(y1 + 0.5), int(x1 + 0.5)
    raise MiricalError(path, "the output_wcs gwcs has no array_shape, pixel_shape or bounding_box: "
                             "give output_shape as well")


def with_bounding_box(wcs: gwcs.WCS, shape: Sequence[int]) -> gwcs.WCS:
    """``wcs``, or a copy bounded by the array of ``shape`` when it has no bounding box."""
    if wcs.bounding_box is not None:
        return wcs
    bounded = copy.deepcopy(wcs)
    bounded.bounding_box = ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5))
    return bounded


def linear_header(wcs: gwcs.WCS, shape: Sequence[int]) -> fits.Header:
    """A linear TAN FITS WCS (CD matrix) fitted to ``wcs`` on 12 x 12 points of the array, as the
    official fits one to a custom output WCS."""
    full = with_bounding_box(wcs, shape).to_fits_sip(degree=1, max_pix_error=1.0, max_inv_pix_error=None,
                                                     npoints=12, projection="TAN")
    header = fits.Header([card for card in full.cards if card.keyword in LINEAR_KEYWORDS])
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["RADESYS"] = "ICRS"
    return header
