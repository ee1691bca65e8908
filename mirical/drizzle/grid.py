"""Output grid (TAN gwcs + FITS header) and input-to-output pixel maps for resample.

The output grid follows stcal's ``wcs_from_sregions``: reference point at the
middle of the inputs' footprints, pixel scale measured on the first input at
its reference point, orientation ``ROLL_REF - VPARITY * V3I_YANG`` and a CRPIX
that puts every footprint vertex at pixel coordinates >= 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import gwcs
import numpy as np
from astropy.coordinates import angular_separation
from astropy.io import fits
from astropy.modeling import models
from scipy.interpolate import RectBivariateSpline


__all__ = [
    "bounding_box",
    "check_pixmap_options",
    "footprint",
    "mean_pixel_area",
    "output_grid",
    "output_pixel_scale",
    "pixel_map",
    "pixel_range",
    "pixel_scale_ratio",
    "tan_header",
]

#: The spline orders `pixel_map` interpolates with (jwst's ``pixmap_order``: bilinear or bicubic).
PIXMAP_ORDERS = (1, 3)
#: Below this many pixels along both axes the map is always exact (stcal's ``calc_pixmap``).
PIXMAP_MIN_NODES = 10


def bounding_box(wcs: gwcs.WCS, shape: Sequence[int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Bounding box ``((x0, x1), (y0, y1))`` of ``wcs``, or the full array of ``shape``."""
    if wcs.bounding_box is None:
        return (-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5)
    (x0, x1), (y0, y1) = wcs.bounding_box.bounding_box(order="F")
    return (float(x0), float(x1)), (float(y0), float(y1))


def pixel_range(wcs: gwcs.WCS, shape: Sequence[int]) -> dict[str, int]:
    """Inclusive input pixel range inside the bounding box, the pixels drizzle reads (stcal ``resample_range``)."""
    (x0, x1), (y0, y1) = bounding_box(wcs, shape)
    xmin, ymin = max(0, int(x0 + 0.5)), max(0, int(y0 + 0.5))
    xmax = max(xmin, min(shape[1] - 1, int(x1 + 0.5)))
    ymax = max(ymin, min(shape[0] - 1, int(y1 + 0.5)))
    return {"xmin": xmin, "xmax": xmax, "ymin": ymin, "ymax": ymax}


def footprint(wcs: gwcs.WCS, shape: Sequence[int]) -> np.ndarray:
    """Sky (RA, Dec) of the four bounding-box corners, shape (4, 2), degrees.

    Rounded to 1e-9 deg, the precision of the S_REGION keyword that the
    official pipeline reads its footprints from.
    """
    (x0, x1), (y0, y1) = bounding_box(wcs, shape)
    x = np.array([x0, x1, x1, x0])
    y = np.array([y0, y0, y1, y1])
    ra, dec = wcs.forward_transform(x, y)
    return np.round(np.column_stack([np.mod(ra, 360.0), dec]), 9)


def _unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.deg2rad(ra), np.deg2rad(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _footprint_centre(footprints: list[np.ndarray]) -> tuple[float, float]:
    """Midpoint of the vertices' unit-vector ranges, as (RA, Dec) in degrees."""
    vec = _unit_vectors(*np.vstack(footprints).T)
    mid = 0.5 * (vec.max(axis=0) + vec.min(axis=0))
    ra = math.degrees(math.atan2(mid[1], mid[0])) % 360.0
    dec = math.degrees(math.atan2(mid[2], math.hypot(mid[0], mid[1])))
    return ra, dec


def _scale_at(wcs: gwcs.WCS, ra: float, dec: float) -> float:
    """Pixel scale (deg): sqrt of the sky lengths of one-pixel x and y steps at (ra, dec), whose pixel
    is found by the WCS's inverse, as the official ``compute_scale`` finds it."""
    x, y = wcs.invert(ra, dec, with_bounding_box=False)
    lon, lat = np.deg2rad(wcs.forward_transform(np.array([x, x + 1, x]), np.array([y, y, y + 1])))
    xstep = angular_separation(lon[0], lat[0], lon[1], lat[1])
    ystep = angular_separation(lon[0], lat[0], lon[2], lat[2])
    return math.degrees(math.sqrt(xstep * ystep))


def s_region(wcs: gwcs.WCS) -> str:
    """S_REGION: the bounding-box corners, clockwise from bottom-left, in ICRS degrees."""
    (x0, x1), (y0, y1) = wcs.bounding_box.bounding_box(order="F")
    x = np.array([x0, x0, x1, x1])
    y = np.array([y0, y1, y1, y0])
    ra, dec = wcs(x, y, with_bounding_box=False)
    ra = np.mod(ra, 360)
    coords = " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec, strict=True))
    return f"POLYGON ICRS  {coords}"


def mean_pixel_area(wcs: gwcs.WCS, shape: Sequence[int]) -> float:
    """Mean pixel solid angle (sr) inside the bounding box.

    The sky polygon through the border pixel centres (points at most 15 px
    apart) divided by its area in pixels, as stcal's ``compute_mean_pixel_area``.
    """
    (bx0, bx1), (by0, by1) = bounding_box(wcs, shape)
    x0, x1 = max(0, int(bx0 + 0.5)), min(shape[1] - 1, int(bx1 - 0.5))
    y0, y1 = max(0, int(by0 + 0.5)), min(shape[0] - 1, int(by1 - 0.5))
    nx = max(1, math.ceil((x1 - x0 + 1) / max(1, min((x1 - x0) // 4, 15))))
    ny = max(1, math.ceil((y1 - y0 + 1) / max(1, min((y1 - y0) // 4, 15))))
    x = np.concatenate([
        np.linspace(x0, x1, nx, endpoint=False), np.full(ny, x1),
        np.linspace(x1, x0, nx, endpoint=False), np.full(ny, x0),
    ])
    y = np.concatenate([
        np.full(nx, y0), np.linspace(y0, y1, ny, endpoint=False),
        np.full(nx, y1), np.linspace(y1, y0, ny, endpoint=False),
    ])
    vert = _unit_vectors(*wcs.forward_transform(x, y))
    centre = _unit_vectors(*wcs.forward_transform(0.5 * (x0 + x1), 0.5 * (y0 + y1)))
    nxt = np.roll(vert, -1, axis=0)
    triple = np.einsum("j,ij->i", centre, np.cross(vert, nxt))
    denom = 1.0 + vert @ centre + np.einsum("ij,ij->i", vert, nxt) + nxt @ centre
    solid_angle = abs(np.sum(2.0 * np.arctan2(triple, denom)))
    return float(solid_angle / ((x1 - x0) * (y1 - y0)))


def pixel_scale_ratio(
    first_wcs: gwcs.WCS, shape: Sequence[int], ratio: float = 1.0, pixel_scale: float | None = None
) -> float:
    """PXSCLRT: ``ratio``, or ``pixel_scale`` (arcsec) over the first input's mean pixel size."""
    if pixel_scale is None:
        return float(ratio)
    return pixel_scale / (3600.0 * math.degrees(math.sqrt(mean_pixel_area(first_wcs, shape))))


def _rotation_matrix(theta_deg: float, vparity: int) -> np.ndarray:
    """PC matrix for a +y axis at position angle ``theta_deg`` (E of N)."""
    t = math.radians(theta_deg)
    return np.array([[vparity * math.cos(t), math.sin(t)], [-vparity * math.sin(t), math.cos(t)]])


def output_grid(
    input_wcs_list: list[gwcs.WCS],
    shapes: Sequence[Sequence[int]],
    first_header_info: dict,
    pixel_scale_ratio: float = 1.0,
    pixel_scale: float | None = None,
    rotation: float | None = None,
    crpix: Sequence[float] | None = None,
    crval: Sequence[float] | None = None,
    output_shape: Sequence[int] | None = None,
) -> tuple[gwcs.WCS, tuple[int, int]]:
    """Output TAN gwcs and array shape covering all inputs.

    Parameters
    ----------
    input_wcs_list, shapes
        Input gwcs objects and their (ny, nx) array shapes.
    first_header_info
        ROLL_REF, VPARITY, V3I_YANG of the first input; RA_REF and DEC_REF (its
        reference point, where the pixel scale is measured) when known,
        otherwise the centre of its bounding box is used.
    pixel_scale_ratio
        Output/input pixel scale; ignored when ``pixel_scale`` (arcsec) is given.
    rotation
        Position angle (deg) of the output +y axis; default ROLL_REF - VPARITY*V3I_YANG.
    crpix
        0-based pixel of ``crval``; by default chosen so all footprints land at >= 0.
    crval
        (RA, Dec) reference point; default the middle of the footprints.
    output_shape
        (ny, nx); by default large enough for all footprints.

    Returns
    -------
    wcs, shape
        gwcs ``Shift&Shift | PC | Scale&Scale | Pix2Sky_TAN | RotateNative2Celestial``
        with bounding box and pixel shape set, and its (ny, nx) shape.
    """
    first = input_wcs_list[0]
    footprints = [footprint(w, s) for w, s in zip(input_wcs_list, shapes, strict=True)]
    ra0, dec0 = _footprint_centre(footprints) if crval is None else (float(crval[0]), float(crval[1]))

    vparity = int(first_header_info["VPARITY"])
    if rotation is None:
        rotation = first_header_info["ROLL_REF"] - vparity * first_header_info["V3I_YANG"]
    pc = _rotation_matrix(rotation, vparity)

    if pixel_scale is None:
        if "RA_REF" in first_header_info and "DEC_REF" in first_header_info:
            ref = (first_header_info["RA_REF"], first_header_info["DEC_REF"])
        else:
            (x0, x1), (y0, y1) = bounding_box(first, shapes[0])
            ref = first.forward_transform(0.5 * (x0 + x1), 0.5 * (y0 + y1))
        scale = _scale_at(first, *ref) * pixel_scale_ratio
    else:
        scale = pixel_scale / 3600.0

    sky = (
        models.AffineTransformation2D(matrix=pc)
        | models.Scale(scale) & models.Scale(scale)
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(ra0, dec0, 180.0)
    )
    native = np.hstack([np.array(sky.inverse(*f.T)) for f in footprints])
    native_ref = np.array(sky.inverse(ra0, dec0))
    lo, hi = native.min(axis=1), native.max(axis=1)
    offset = native_ref - lo if crpix is None else np.asarray(crpix, dtype=float) - native_ref
    lo, hi = lo + offset, hi + offset

    if output_shape is None:
        shape = (int(hi[1] + 0.5), int(hi[0] + 0.5))
        bbox = ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5))
    else:
        shape = (int(output_shape[0]), int(output_shape[1]))
        bbox = tuple(
            (max(0, int(lo[k] + 0.5)) - 0.5, min(int(hi[k] + 0.5), shape[1 - k]) - 0.5) for k in (0, 1)
        )
    if min(shape) < 2:
        raise ValueError(f"output grid too small: shape {shape}")

    transform = models.Shift(-offset[0]) & models.Shift(-offset[1]) | sky
    out = gwcs.WCS([(first.input_frame, transform), (first.output_frame, None)])
    out.bounding_box = bbox
    out.pixel_shape = (shape[1], shape[0])
    return out, shape


def _grid_parameters(out_wcs: gwcs.WCS) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """CRPIX (0-based), CRVAL, CDELT and PC of a gwcs built by `output_grid`."""
    t = out_wcs.forward_transform
    crpix = -np.array([t[0].offset.value, t[1].offset.value])
    pc = np.array(t[2].matrix.value)
    cdelt = float(t[3].factor.value)
    crval = np.array([t[6].lon.value, t[6].lat.value])
    return crpix, crval, cdelt, pc


def output_pixel_scale(out_wcs: gwcs.WCS) -> float:
    """Pixel scale (arcsec) of a gwcs built by `output_grid`."""
    return 3600.0 * _grid_parameters(out_wcs)[2]


def tan_header(out_wcs: gwcs.WCS) -> fits.Header:
    """FITS TAN header (PC + CDELT, 1-based CRPIX) equivalent to an `output_grid` gwcs."""
    crpix, crval, cdelt, pc = _grid_parameters(out_wcs)
    hdr = fits.Header()
    hdr["WCSAXES"] = 2
    for k in (0, 1):
        hdr[f"CRPIX{k + 1}"] = crpix[k] + 1.0
    for k in (0, 1):
        hdr[f"CRVAL{k + 1}"] = crval[k]
    hdr["CTYPE1"], hdr["CTYPE2"] = "RA---TAN", "DEC--TAN"
    hdr["CUNIT1"], hdr["CUNIT2"] = "deg", "deg"
    hdr["CDELT1"], hdr["CDELT2"] = cdelt, cdelt
    for i in (0, 1):
        for j in (0, 1):
            hdr[f"PC{i + 1}_{j + 1}"] = pc[i, j]
    hdr["RADESYS"] = "ICRS"
    return hdr


def _map_points(input_wcs: gwcs.WCS, output_wcs: gwcs.WCS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Output pixel coordinates of input pixel coordinates, stacked on the last axis."""
    ox, oy = output_wcs.backward_transform(*input_wcs.forward_transform(x, y))
    return np.stack([ox, oy], axis=-1)


def check_pixmap_options(stepsize: float, order: int) -> None:
    """Raise ValueError unless ``stepsize`` >= 1 and ``order`` is 1 or 3 (jwst's ``pixmap_*``)."""
    if not stepsize >= 1:
        raise ValueError(f"pixmap_stepsize must be >= 1, got {stepsize!r}")
    if order not in PIXMAP_ORDERS:
        raise ValueError(f"pixmap_order must be 1 or 3, got {order!r}")


def _node_count(pixels: int, stepsize: float) -> int:
    """Nodes along an axis of ``pixels``: at most ``stepsize`` apart, at least 10 (or every pixel)."""
    return max(math.ceil(pixels / stepsize), min(PIXMAP_MIN_NODES, pixels))


def pixel_map(
    input_wcs: gwcs.WCS, shape: Sequence[int], output_wcs: gwcs.WCS, stepsize: float = 1.0, order: int = 1
) -> np.ndarray:
    """Output pixel coordinates of every input pixel centre, shape (ny, nx, 2); NaN outside the input's
    bounding box (jwst's ``pixmap_stepsize`` and ``pixmap_order``, as stcal's ``calc_pixmap``).

    With ``stepsize`` 1 (the official default) every pixel is evaluated exactly. Above 1 the
    map is evaluated exactly on nodes evenly spaced from the first to the last pixel inside the
    bounding box along each axis (``ceil(n / stepsize)`` of them, at least 10) and every pixel
    inside it is interpolated with scipy's ``RectBivariateSpline`` of degree ``order`` (1:
    bilinear, 3: bicubic; no smoothing); the exact map again when both axes hold at most 10
    pixels or a node maps to a non-finite value.
    """
    check_pixmap_options(stepsize, order)
    ny, nx = shape
    (bx0, bx1), (by0, by1) = bounding_box(input_wcs, shape)
    xa = np.arange(max(0, math.ceil(bx0)), min(nx - 1, math.floor(bx1)) + 1)
    ya = np.arange(max(0, math.ceil(by0)), min(ny - 1, math.floor(by1)) + 1)
    inner = None
    if stepsize > 1 and max(len(xa), len(ya)) > PIXMAP_MIN_NODES:
        xn = np.linspace(xa[0], xa[-1], _node_count(len(xa), stepsize))
        yn = np.linspace(ya[0], ya[-1], _node_count(len(ya), stepsize))
        nodes = _map_points(input_wcs, output_wcs, *np.meshgrid(xn, yn))
        if np.all(np.isfinite(nodes)):
            splines = [RectBivariateSpline(yn, xn, nodes[..., k], kx=order, ky=order) for k in (0, 1)]
            inner = np.stack([spline(ya, xa) for spline in splines], axis=-1)
    if inner is None:
        inner = _map_points(input_wcs, output_wcs, *np.meshgrid(xa, ya))
    result = np.full((ny, nx, 2), np.nan)
    result[ya[0] : ya[-1] + 1, xa[0] : xa[-1] + 1] = inner
    return result
