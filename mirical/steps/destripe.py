"""destripe: remove row and column stripes from a cal exposure (an option beyond the official pipeline).

Per row, then per column of the row-corrected image: the median of the usable sky
pixels (finite, not DO_NOT_USE, not in a source, inside the imager field: the
coronagraphs and the non-science region of `mirical.formats.imager_geometry` are left
out), minus a smooth version of that profile (a Gaussian of ``smooth_sigma`` pixels,
rows or columns without enough pixels left out of it), is subtracted from SCI. What is
smooth over ``smooth_sigma`` pixels (the sky's gradients, the mean level) stays.

Sources: detected on the image with a first (source-blind) estimate of the stripes
removed, above ``source_nsigma`` times the sigma-clipped standard deviation over at
least ``source_npixels`` connected pixels (photutils), then grown by ``source_dilate``
pixels.

ERR, the variances and DQ are unchanged (the correction is a median over hundreds of
pixels: its uncertainty is far below a pixel's). The header gets S_DESTRP and the RMS of
the row and column corrections, DSTRPROW and DSTRPCOL (in BUNIT).
"""

from __future__ import annotations

import warnings

import numpy as np

from mirical.errors import MiricalError
from mirical.formats.dqflags import DO_NOT_USE
from mirical.formats.imager_geometry import outside_imager
from mirical.formats.io import Exposure
from mirical.steps import set_step_status


def profile(data: np.ndarray, good: np.ndarray, axis: int, min_pixels: int) -> np.ndarray:
    """Median of the ``good`` pixels along ``axis`` (axis 1: one value per row); NaN with fewer than ``min_pixels``."""
    values = np.where(good, data, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, counted below
        medians = np.nanmedian(values, axis=axis)
    medians[good.sum(axis=axis) < min_pixels] = np.nan
    return medians


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a profile over its finite values (normalized convolution, zero outside the ends).

    NaN where no finite value is within reach of the kernel.
    """
    from scipy.ndimage import gaussian_filter1d

    finite = np.isfinite(values)
    radius = int(min(np.ceil(4 * sigma), values.size))  # 4 sigma, or the whole profile for a wider kernel
    weight = gaussian_filter1d(finite.astype(np.float64), sigma, mode="constant", radius=radius)
    total = gaussian_filter1d(np.where(finite, values, 0.0), sigma, mode="constant", radius=radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)


def correction(values: np.ndarray, sigma: float) -> np.ndarray:
    """The stripes of a profile: the profile minus its smooth version; 0 where the profile is NaN."""
    stripes = values - smooth(values, sigma)
    return np.where(np.isfinite(stripes), stripes, 0.0)


def remove_stripes(data: np.ndarray, good: np.ndarray, sigma: float,
                   min_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``data`` without its row stripes, then its column stripes; returns it, the row and the column corrections."""
    rows = correction(profile(data, good, 1, min_pixels), sigma)
    data = data - rows[:, None]
    columns = correction(profile(data, good, 0, min_pixels), sigma)
    return data - columns[None, :], rows, columns


def source_mask(data: np.ndarray, usable: np.ndarray, nsigma: float, npixels: int, dilate: int) -> np.ndarray:
    """True on the sources of ``data`` (only ``usable`` pixels are searched), grown by ``dilate`` pixels."""
    from astropy.stats import sigma_clipped_stats
    from photutils.segmentation import detect_sources
    from scipy.ndimage import binary_dilation

    if usable.sum() < npixels:
        return np.zeros(data.shape, dtype=bool)
    _, median, std = sigma_clipped_stats(data[usable], sigma=3.0)
    filled = np.where(usable, data - median, 0.0)
    segments = detect_sources(filled, nsigma * std, npixels, mask=~usable)
    if segments is None:
        return np.zeros(data.shape, dtype=bool)
    mask = segments.data > 0
    if dilate > 0:
        y, x = np.mgrid[-dilate:dilate + 1, -dilate:dilate + 1]
        mask = binary_dilation(mask, structure=x * x + y * y <= dilate * dilate)
    return mask


def rms(values: np.ndarray) -> float:
    """Root mean square of the non-zero corrections (0 when there are none)."""
    nonzero = values[values != 0]
    return float(np.sqrt(np.mean(nonzero**2))) if nonzero.size else 0.0


def destripe(exposure: Exposure, params: dict) -> tuple[Exposure, float, float]:
    """Remove the row and column stripes of a 2-D cal exposure; returns it and the RMS of the row and column corrections."""
    sci = exposure.arrays["SCI"]
    if sci.ndim != 2:
        raise MiricalError(exposure.path, "destripe needs one image (a cal file), not one per integration")
    data = sci.astype(np.float64)
    usable = np.isfinite(data) & (exposure.arrays["DQ"] & DO_NOT_USE == 0) & ~outside_imager(exposure.primary)
    sigma, min_pixels = float(params["smooth_sigma"]), int(params["min_pixels"])
    blind, _, _ = remove_stripes(data, usable, sigma, min_pixels)
    sources = source_mask(blind, usable, float(params["source_nsigma"]), int(params["source_npixels"]),
                          int(params["source_dilate"]))
    out, rows, columns = remove_stripes(data, usable & ~sources, sigma, min_pixels)
    exposure.arrays["SCI"] = out.astype(sci.dtype)
    row_rms, column_rms = rms(rows), rms(columns)
    exposure.primary["DSTRPROW"] = (row_rms, "destripe: RMS of the row corrections (BUNIT)")
    exposure.primary["DSTRPCOL"] = (column_rms, "destripe: RMS of the column corrections (BUNIT)")
    set_step_status(exposure, "destripe", "COMPLETE")
    return exposure, row_rms, column_rms
