"""Stage-3 outlier detection for the dither mosaic, as jwst 3.0.0's imaging mode.

1. Each exposure drizzled alone onto the common grid (a single-exposure image,
   `mirical.steps.mosaic.drizzle_part` with this step's pixfrac, kernel, weight_type,
   fillval, pixmap_stepsize, pixmap_order and good_bits on the default grid: weight 0
   where DQ has a bit that good_bits does not allow, `mirical.formats.dqflags.good_pixels`;
   SCI and WHT only), as jwst's ``ResampleImage.resample_group``.
2. `median_image`: their median, pixel by pixel over the exposures, where each
   image is NaN wherever its weight is below `weight_threshold` (``maskpt``
   times the 3-sigma-clipped mean of its non-zero weights) and outside its
   crop. Computed in blocks of grid rows, so N full grids are never in memory.
3. `blot`: the median resampled back onto each exposure's pixels (drizzle's
   linear blot on the pixel map of this step's pixmap_stepsize and pixmap_order,
   exact by default; NaN where nothing maps).
4. `outlier_mask`: a pixel is an outlier where
   ``|SCI - blot - backg| > scale2 * deriv + snr2 * ERR`` and a pixel within
   one (3x3) of it has ``|SCI - blot - backg| > scale1 * deriv + snr1 * ERR``,
   ``deriv`` being the blot's largest absolute difference with its four
   neighbours (`abs_deriv`).
5. `flag_outliers`: DQ |= OUTLIER + DO_NOT_USE, then SCI, ERR and the variances
   NaN wherever DQ has DO_NOT_USE (`mirical.formats.io.match_nans_and_flags`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mirical.formats.dqflags import DO_NOT_USE, PIXEL
from mirical.formats.io import match_nans_and_flags

OUTLIER = PIXEL["OUTLIER"]
#: The float32 cube of one block of grid rows is kept below this many bytes.
MEDIAN_BLOCK_BYTES = 16 * 2**20


def weight_threshold(weight: np.ndarray, maskpt: float) -> float:
    """``maskpt`` times the mean of the finite non-zero weights after a 3-sigma clip (5 iterations)."""
    from astropy.stats import sigma_clip

    values = weight[np.isfinite(weight) & (weight != 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no weight at all: NaN, nothing masked
        clipped = sigma_clip(values, sigma=3, maxiters=5, masked=False, copy=True)
        return float(np.mean(clipped, dtype="f8") * maskpt)


@dataclass
class SingleImage:
    """One exposure's single-exposure image: a crop at grid pixel (x0, y0) and its weight threshold."""

    x0: int
    y0: int
    shape: tuple[int, int]
    threshold: float
    rows: Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # crop rows r0:r1 -> (SCI, WHT)


def image_in_memory(x0: int, y0: int, sci: np.ndarray, wht: np.ndarray, maskpt: float) -> SingleImage:
    """A `SingleImage` of arrays in memory."""
    return SingleImage(x0, y0, sci.shape, weight_threshold(wht, maskpt), lambda r0, r1: (sci[r0:r1], wht[r0:r1]))


def image_on_disk(path: str, maskpt: float) -> SingleImage:
    """A `SingleImage` of a part file (`mirical.steps.mosaic.write_part`) read a block of rows at a time."""
    from astropy.io import fits

    from mirical.errors import MiricalError

    try:
        with fits.open(path) as hdul:
            header = hdul[0].header
            x0, y0 = int(header["CROPX0"]), int(header["CROPY0"])
            threshold = weight_threshold(np.asarray(hdul["WHT"].data), maskpt)
            shape = hdul["SCI"].data.shape
    except (OSError, KeyError, AttributeError) as exc:
        raise MiricalError(path, f"not a single-exposure image ({exc})") from None

    def rows(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        with fits.open(path, memmap=True) as hdul:
            return np.array(hdul["SCI"].section[r0:r1]), np.array(hdul["WHT"].section[r0:r1])

    return SingleImage(x0, y0, shape, threshold, rows)


def median_image(images: Sequence[SingleImage], grid_shape: Sequence[int], fillval: float = np.nan,
                 block_bytes: int = MEDIAN_BLOCK_BYTES) -> np.ndarray:
    """The float32 median over ``images`` of each grid pixel, NaN-ignoring, in blocks of grid rows.

    An image counts as NaN where its weight is below its threshold; outside its
    crop its weight is 0 (NaN unless the threshold is not positive: then
    ``fillval``, as a full-grid drizzle would hold there).
    """
    ny, nx = int(grid_shape[0]), int(grid_shape[1])
    n = len(images)
    block = max(1, min(ny, block_bytes // max(1, 4 * n * nx)))
    median = np.empty((ny, nx), np.float32)
    for b0 in range(0, ny, block):
        b1 = min(ny, b0 + block)
        cube = np.empty((n, b1 - b0, nx), np.float32)
        for k, image in enumerate(images):
            cube[k] = np.nan if image.threshold > 0 else fillval
            r0, r1 = max(b0, image.y0), min(b1, image.y0 + image.shape[0])
            if r0 >= r1:
                continue
            sci, wht = image.rows(r0 - image.y0, r1 - image.y0)
            cube[k, r0 - b0 : r1 - b0, image.x0 : image.x0 + image.shape[1]] = np.where(
                wht < image.threshold, np.float32(np.nan), sci)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
            median[b0:b1] = np.nanmedian(cube, axis=0)
    return median


def blot(median: np.ndarray, pixmap: np.ndarray) -> np.ndarray:
    """``median`` resampled onto the pixels of ``pixmap`` (ny, nx, 2: grid x, y per pixel) by drizzle's linear blot.

    Pixels that map to nothing (NaN in the map) are given grid position -1,
    as jwst does, and come out NaN.
    """
    from drizzle.resample import blot_image

    pixmap = np.where(np.isnan(pixmap), -1.0, pixmap)
    out = np.full(pixmap.shape[:2], np.nan, np.float32)
    blot_image(data=np.asarray(median, np.float32), pixmap=pixmap, out_img=out, fillval=np.nan, iscale=1.0,
               interp="linear")
    return out


def abs_deriv(image: np.ndarray) -> np.ndarray:
    """Largest absolute difference of each pixel with its four neighbours (0 if none is finite; NaN stays NaN)."""
    out = np.zeros_like(image)
    rows = np.abs(np.diff(image, axis=0))
    cols = np.abs(np.diff(image, axis=1))
    for view, diff in ((out[1:], rows), (out[:-1], rows), (out[:, 1:], cols), (out[:, :-1], cols)):
        np.maximum(view, np.where(np.isnan(diff), 0, diff).astype(image.dtype), out=view)
    out[np.isnan(image)] = np.nan
    return out


def outlier_mask(sci: np.ndarray, err: np.ndarray, blotted: np.ndarray, snr: Sequence[float],
                 scale: Sequence[float], backg: float) -> np.ndarray:
    """Boolean outlier mask of one exposure from its blotted median (the rule in the module docstring)."""
    from scipy import ndimage

    noise = np.nan_to_num(err)
    deriv = abs_deriv(blotted)
    diff = np.abs(sci - blotted - backg)
    first = diff > scale[0] * deriv + snr[0] * noise
    near_first = ndimage.binary_dilation(first, structure=np.ones((3, 3), bool))
    return near_first & (diff > scale[1] * deriv + snr[1] * noise)


def flag_outliers(arrays: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """The exposure's arrays with OUTLIER + DO_NOT_USE in DQ where ``mask``, and NaN where DO_NOT_USE."""
    flagged = dict(arrays)
    flagged["DQ"] = arrays["DQ"] | np.where(mask, np.uint32(DO_NOT_USE | OUTLIER), np.uint32(0)).astype(
        arrays["DQ"].dtype)
    return match_nans_and_flags(flagged)


def background_level(primary, backg: float) -> float:
    """``backg``, or the level BKGLEVEL of a background measured but not subtracted (BKGSUB false), as jwst."""
    if primary.get("BKGSUB") is False and primary.get("BKGLEVEL") is not None:
        return float(primary["BKGLEVEL"])
    return float(backg)


def parse_pair(value: str | Sequence[float], name: str) -> tuple[float, float]:
    """``snr``/``scale`` as two floats, from "5.0 4.0" (the official string) or a list."""
    values = value.split() if isinstance(value, str) else list(value)
    if len(values) != 2:
        raise ValueError(f"outlier_detection.{name} must be two numbers, got {value!r}")
    return float(values[0]), float(values[1])


def detect_exposure(exposure, wcs, median: np.ndarray, median_wcs, params: Mapping) -> int:
    """Flag the outliers of ``exposure`` (gwcs ``wcs``) against the grid's ``median``, in place; their count."""
    from mirical.drizzle.grid import pixel_map
    from mirical.drizzle.i2d import pixmap_options

    arrays = exposure.arrays
    blotted = blot(median, pixel_map(wcs, exposure.shape, median_wcs, *pixmap_options(params)))
    mask = outlier_mask(arrays["SCI"], arrays["ERR"], blotted, parse_pair(params["snr"], "snr"),
                        parse_pair(params["scale"], "scale"), background_level(exposure.primary, params["backg"]))
    exposure.arrays.update(flag_outliers(arrays, mask))
    return int(np.count_nonzero(mask))
