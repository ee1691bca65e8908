"""Stage-3 outlier detection for the dither mosaic, as jwst 3.0.0's imaging mode.

1. Each exposure drizzled alone onto the common grid (`mirical.steps.mosaic.drizzle_part`
   with this step's pixfrac, kernel, weight_type, fillval, pixmap_stepsize,
   pixmap_order and good_bits on the default grid: weight 0 where DQ has a bit that
   good_bits does not allow, `mirical.formats.dqflags.good_pixels`; SCI and WHT only).
2. `single_images`: one single-exposure image per group of exposures, as jwst's
   ``ResampleImage.resample_group``: exposures sharing a group id (`mirical.formats.groups.exposure_group`:
   the same program, observation, visit, visit group, sequence, activity and
   exposure number, or the same ``meta.group_id``) are drizzled together, their
   weighted mean (`single_image`); an exposure without one is a group of its own.
3. `median_image`: their median, pixel by pixel over the groups, where each
   image is NaN wherever its weight is below `weight_threshold` (``maskpt``
   times the 3-sigma-clipped mean of its non-zero weights) and outside its
   crop. Computed in blocks of grid rows, so N full grids are never in memory.
4. `blot`: the median resampled back onto each exposure's pixels (drizzle's
   linear blot on the pixel map of this step's pixmap_stepsize and pixmap_order,
   exact by default, the one its single-exposure drizzle computed and wrote,
   `mirical.drizzle.exposure_map`; NaN where nothing maps).
5. `outlier_mask`: a pixel is an outlier where
   ``|SCI - blot - backg| > scale2 * deriv + snr2 * ERR`` and a pixel within
   one (3x3) of it has ``|SCI - blot - backg| > scale1 * deriv + snr1 * ERR``,
   ``deriv`` being the blot's largest absolute difference with its four
   neighbours (`abs_deriv`), ERR the exposure's own.
6. `flag_outliers`: DQ |= OUTLIER + DO_NOT_USE, then SCI, ERR and the variances
   NaN wherever DQ has DO_NOT_USE (`mirical.formats.io.match_nans_and_flags`).

With ``resample_data`` false (jwst's ``median_without_resampling``) nothing is
drizzled and nothing grouped: the median is over the cal files themselves, pixel by
pixel (`exposure_image`: SCI, NaN where the drizzle weight is below its threshold;
all of one shape), and a pixel is an outlier where ``|SCI - median| > snr1 * ERR``
(`median_outliers`: no derivative, neighbourhood or ``backg``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mirical.formats.dqflags import DO_NOT_USE, PIXEL
from mirical.formats.groups import group_names
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
class Crop:
    """A single-exposure drizzle on a crop of the grid at grid pixel (x0, y0), read a block of rows at a time."""

    x0: int
    y0: int
    shape: tuple[int, int]
    rows: Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # crop rows r0:r1 -> (SCI, WHT)
    weight: Callable[[], np.ndarray]  # the whole WHT


@dataclass
class SingleImage:
    """The single-exposure image of one group: a crop at grid pixel (x0, y0) and its weight threshold."""

    x0: int
    y0: int
    shape: tuple[int, int]
    threshold: float
    rows: Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # crop rows r0:r1 -> (SCI, WHT)


def crop_in_memory(x0: int, y0: int, sci: np.ndarray, wht: np.ndarray) -> Crop:
    """A `Crop` of arrays in memory."""
    return Crop(x0, y0, sci.shape, lambda r0, r1: (sci[r0:r1], wht[r0:r1]), lambda: wht)


def crop_on_disk(path: str) -> Crop:
    """The `Crop` of a part file (`mirical.steps.mosaic.write_part`)."""
    from astropy.io import fits

    from mirical.errors import MiricalError

    try:
        with fits.open(path) as hdul:
            header = hdul[0].header
            x0, y0 = int(header["CROPX0"]), int(header["CROPY0"])
            shape = hdul["SCI"].data.shape
            if hdul["WHT"].data.shape != shape:
                raise KeyError("WHT and SCI differ in shape")
    except (OSError, KeyError, AttributeError) as exc:
        raise MiricalError(path, f"not a single-exposure image ({exc})") from None

    def rows(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        with fits.open(path, memmap=True) as hdul:
            return np.array(hdul["SCI"].section[r0:r1]), np.array(hdul["WHT"].section[r0:r1])

    def weight() -> np.ndarray:
        with fits.open(path) as hdul:
            return np.asarray(hdul["WHT"].data)

    return Crop(x0, y0, shape, rows, weight)


def single_image(crops: Sequence[Crop], maskpt: float, fillval: float = np.nan) -> SingleImage:
    """The single-exposure image of one group of exposures, each drizzled alone onto a crop.

    One exposure: its crop as drizzled. Several (jwst drizzles them together): on
    the crop holding them all, SCI = sum(WHT_i SCI_i) / sum(WHT_i) over those with
    weight and WHT = sum(WHT_i), summed in float64 and rounded once to float32 (the
    running mean of one drizzle, to float32 rounding); ``fillval`` where no weight.
    The weight threshold is that of the group's WHT (`weight_threshold`).
    """
    if len(crops) == 1:
        crop = crops[0]
        return SingleImage(crop.x0, crop.y0, crop.shape, weight_threshold(crop.weight(), maskpt), crop.rows)
    x0, y0 = min(c.x0 for c in crops), min(c.y0 for c in crops)
    shape = (max(c.y0 + c.shape[0] for c in crops) - y0, max(c.x0 + c.shape[1] for c in crops) - x0)
    rows = functools.partial(_weighted_mean, crops, x0, y0, shape[1], fillval)
    return SingleImage(x0, y0, shape, weight_threshold(rows(0, shape[0])[1], maskpt), rows)


def _weighted_mean(crops: Sequence[Crop], x0: int, y0: int, nx: int, fillval: float, r0: int,
                   r1: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows r0:r1 of the crop at (x0, y0), ``nx`` wide, holding ``crops``: their weighted mean and summed weight."""
    weighted = np.zeros((r1 - r0, nx))
    weight = np.zeros((r1 - r0, nx))
    for crop in crops:
        top = crop.y0 - y0
        a0, a1 = max(r0, top), min(r1, top + crop.shape[0])
        if a0 >= a1:
            continue
        sci, wht = crop.rows(a0 - top, a1 - top)
        wht = wht.astype(float)
        block = (slice(a0 - r0, a1 - r0), slice(crop.x0 - x0, crop.x0 - x0 + crop.shape[1]))
        weighted[block] += np.where(wht != 0, wht * sci, 0.0)
        weight[block] += wht
    sci = np.full((r1 - r0, nx), fillval, np.float32)
    hit = weight != 0
    sci[hit] = weighted[hit] / weight[hit]
    return sci, weight.astype(np.float32)


def exposure_image(path: str, maskpt: float, weight_type: str, good_bits: str | int | None) -> SingleImage:
    """A cal file as its own single-exposure image (``resample_data`` false): SCI and its drizzle weight
    (`mirical.drizzle.engine.drizzle_weight`: 1/VAR_RNOISE or TMEASURE, else EFFEXPTM; 0 where DQ is not
    ``good_bits``), read a block of rows at a time."""
    from astropy.io import fits

    from mirical.drizzle.engine import drizzle_weight
    from mirical.errors import MiricalError

    try:
        with fits.open(path) as hdul:
            primary, shape = hdul[0].header, hdul["SCI"].data.shape
            tmeasure = primary.get("TMEASURE", primary.get("EFFEXPTM", hdul["SCI"].header.get("XPOSURE")))
            names = ("SCI", "DQ", "VAR_RNOISE") if weight_type == "ivm" else ("SCI", "DQ")
            if any(hdul[name].data.shape != shape for name in names):
                raise KeyError("arrays of different shapes")
    except (OSError, KeyError, AttributeError) as exc:
        raise MiricalError(path, f"not a cal file with SCI, DQ and VAR_RNOISE ({exc})") from None
    if weight_type == "exptime" and tmeasure is None:
        raise MiricalError(path, "keyword TMEASURE (or EFFEXPTM) is missing: no exptime weight")

    def rows(r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        with fits.open(path) as hdul:  # DQ (uint32, BZERO) cannot be memory-mapped strictly
            sci, dq = np.array(hdul["SCI"].section[r0:r1]), np.array(hdul["DQ"].section[r0:r1])
            var_rnoise = np.array(hdul["VAR_RNOISE"].section[r0:r1]) if weight_type == "ivm" else None
        return sci, drizzle_weight(dq, var_rnoise, weight_type, float(tmeasure or 0.0), good_bits)

    return SingleImage(0, 0, shape, weight_threshold(rows(0, shape[0])[1], maskpt), rows)


def median_outliers(sci: np.ndarray, err: np.ndarray, median: np.ndarray, snr: float) -> np.ndarray:
    """Boolean outlier mask against a median on the exposure's own pixels: ``|SCI - median| > snr * ERR`` (NaN ERR: 0)."""
    return np.abs(sci - median) > snr * np.nan_to_num(err)


def single_images(paths: Sequence[str], groups: Sequence[str | None], maskpt: float,
                  fillval: float = np.nan) -> list[SingleImage]:
    """The single-exposure images of the part files ``paths`` of exposures of ``groups`` (`exposure_group`; in input
    order), one per group, in the order of their first exposure."""
    members: dict[str, list[Crop]] = {}
    for path, name in zip(paths, group_names(groups), strict=True):
        members.setdefault(name, []).append(crop_on_disk(path))
    return [single_image(crops, maskpt, fillval) for crops in members.values()]


def median_image(images: Sequence[SingleImage], grid_shape: Sequence[int], fillval: float = np.nan,
                 block_bytes: int = MEDIAN_BLOCK_BYTES) -> np.ndarray:
    """The float32 median over ``images`` (one per group) of each grid pixel, NaN-ignoring, in blocks of grid rows.

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


def detect_exposure(exposure, pixmap: np.ndarray, median: np.ndarray, params: Mapping) -> int:
    """Flag the outliers of ``exposure`` against the grid's ``median``, in place; their count. ``pixmap``: the grid
    pixel of each exposure pixel (`mirical.drizzle.grid.pixel_map`, with the step's pixmap_stepsize and
    pixmap_order)."""
    arrays = exposure.arrays
    blotted = blot(median, pixmap)
    mask = outlier_mask(arrays["SCI"], arrays["ERR"], blotted, parse_pair(params["snr"], "snr"),
                        parse_pair(params["scale"], "scale"), background_level(exposure.primary, params["backg"]))
    exposure.arrays.update(flag_outliers(arrays, mask))
    return int(np.count_nonzero(mask))


def detect_unresampled(exposure, median: np.ndarray, params: Mapping) -> int:
    """`detect_exposure` with ``resample_data`` false: against the median of the cal files (`median_outliers`)."""
    from mirical.errors import MiricalError

    arrays = exposure.arrays
    if arrays["SCI"].shape != median.shape:
        raise MiricalError(exposure.path, f"its {arrays['SCI'].shape} pixels differ from the median's {median.shape}: "
                           "with outlier_detection.resample_data false every exposure needs the same shape")
    mask = median_outliers(arrays["SCI"], arrays["ERR"], median, parse_pair(params["snr"], "snr")[0])
    exposure.arrays.update(flag_outliers(arrays, mask))
    return int(np.count_nonzero(mask))
