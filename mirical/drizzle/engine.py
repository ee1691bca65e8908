"""The drizzle engine of the resample and mosaic steps (through ``i2d.py``): exposures onto one output grid.

Follows stcal's ``Resample`` as used by jwst's ``ResampleStep`` for imaging:
weights from 1/VAR_RNOISE (``ivm``) or the measurement time (``exptime``),
zero for pixels with a DQ bit outside ``good_bits`` (the step's default
"~DO_NOT_USE+NON_SCIENCE": zero for DO_NOT_USE or NON_SCIENCE); no intensity rescaling
(``iscale = 1``); each variance array drizzled as sqrt(var) with the science
weights, squared, and combined over exposures as
``sum(var * w**2) / (sum w)**2 / PXSCLRT**2`` with per-output-pixel weights
``w`` (1 / resampled VAR_RNOISE, or the measurement time); ERR is the square
root of the summed variances.

The output arrays follow jwst's ``ResampleStep`` options: CON only with
``enable_ctx``; ERR and the variances only with ``enable_err`` (the variances
are then not even computed without it), the VAR_* arrays only if also
``report_var``; a DQ array (drizzle's OR of the DQ of every input pixel that
contributes) only with ``propagate_dq``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import gwcs
import numpy as np
from drizzle.resample import Drizzle

from mirical.formats.dqflags import good_pixels
from mirical.formats.io import VARIANCES, match_nans_and_flags
from mirical.drizzle.grid import (
    bounding_box,
    check_pixmap_options,
    mean_pixel_area,
    output_pixel_scale,
    pixel_map,
    pixel_range,
)

__all__ = ["KERNELS", "Resampler", "derived_pixel_scale_ratio", "drizzle_weight"]

KERNELS = ("square", "gaussian", "point", "turbo", "lanczos2", "lanczos3")
#: The DQ bits a pixel with weight may have (jwst ResampleStep's GOOD_BITS; `mirical.formats.dqflags.good_pixels`).
GOOD_BITS = "~DO_NOT_USE+NON_SCIENCE"
#: Square degrees per steradian expressed in arcsec^2: (3600 * 180 / pi)^2.
ARCSEC2_PER_SR = math.degrees(3600.0) ** 2


def drizzle_weight(
    dq: np.ndarray, var_rnoise: np.ndarray, weight_type: str, tmeasure: float,
    good_bits: str | int | None = GOOD_BITS,
) -> np.ndarray:
    """Per-pixel drizzle weight (float32): 1/VAR_RNOISE or ``tmeasure``; 0 where DQ is not ``good_bits``."""
    if weight_type == "ivm":
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = 1.0 / var_rnoise
        weight[~np.isfinite(weight)] = 0.0
    elif weight_type == "exptime":
        weight = np.full(dq.shape, np.float32(tmeasure))
    else:
        raise ValueError(f"unknown weight_type {weight_type!r}")
    return (weight * good_pixels(dq, good_bits)).astype(np.float32)


def derived_pixel_scale_ratio(
    output_scale: float, input_wcs: gwcs.WCS, shape: Sequence[int], pixar_sr: float | None
) -> float:
    """PXSCLRT of an output ``output_scale`` (arcsec) over an input's PIXAR_SR (else its mean pixel area)."""
    area = pixar_sr if pixar_sr else mean_pixel_area(input_wcs, shape)
    return output_scale / (3600.0 * math.degrees(math.sqrt(area)))


class Resampler:
    """Streaming drizzle of exposures onto one output grid.

    Parameters
    ----------
    output_wcs, shape
        Output gwcs (from `mirical.drizzle.grid.output_grid`) and its (ny, nx).
    pixfrac, kernel, fillval, weight_type
        Drizzle parameters (jwst defaults 1.0, "square", NaN, "ivm").
        ``fillval`` applies to SCI; variances and ERR without data are NaN.
    pixel_scale_ratio
        PXSCLRT (output/input pixel scale). When None it is derived from the
        first exposure's PIXAR_SR (or its mean pixel area), as stcal does for a
        user-supplied output WCS.
    pixmap_stepsize, pixmap_order
        The pixel map (`pixel_map`; jwst defaults 1.0, exact, and 1): spacing of its exactly
        evaluated nodes and the order of the splines between them.
    pixel_scale
        Output pixel scale in arcsec (default: that of an `output_grid` gwcs).
    enable_ctx, enable_err, report_var, propagate_dq
        Which output arrays are made (jwst defaults True, True, True, False):
        CON; ERR and the variances; the VAR_* arrays; DQ.
    good_bits
        The DQ bits a pixel with weight may have (`mirical.formats.dqflags.good_pixels`).
    """

    def __init__(
        self,
        output_wcs: gwcs.WCS,
        shape: Sequence[int],
        pixfrac: float = 1.0,
        kernel: str = "square",
        fillval: float | str = "NAN",
        weight_type: str = "ivm",
        pixel_scale_ratio: float | None = None,
        pixmap_stepsize: float = 1.0,
        pixmap_order: int = 1,
        pixel_scale: float | None = None,
        enable_ctx: bool = True,
        enable_err: bool = True,
        report_var: bool = True,
        propagate_dq: bool = False,
        good_bits: str | int | None = GOOD_BITS,
    ) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}")
        if weight_type not in ("ivm", "exptime"):
            raise ValueError(f"unknown weight_type {weight_type!r}")
        self.output_wcs = output_wcs
        self.shape = (int(shape[0]), int(shape[1]))
        self.pixfrac = float(pixfrac)
        self.kernel = kernel
        self.weight_type = weight_type
        self.pixel_scale_ratio = pixel_scale_ratio
        check_pixmap_options(pixmap_stepsize, pixmap_order)
        self.pixmap_stepsize = float(pixmap_stepsize)
        self.pixmap_order = int(pixmap_order)
        self.enable_err = enable_err
        self.report_var = enable_err and report_var
        self.propagate_dq = propagate_dq
        self.good_bits = good_bits
        self.pixel_scale = output_pixel_scale(output_wcs) if pixel_scale is None else float(pixel_scale)
        self._driz = Drizzle(kernel=kernel, fillval=fillval, out_shape=self.shape, disable_ctx=not enable_ctx,
                             out_dq=np.zeros(self.shape, np.uint32) if propagate_dq else None)
        self._var_sum = {name: np.full(self.shape, np.nan, np.float32) for name in VARIANCES}
        self._var_wt = {name: np.zeros(self.shape, np.float32) for name in VARIANCES}
        self._n = 0
        self._times: dict[str, list] = {"exptime": [], "tmeasure": [], "duration": [], "start": [], "end": []}

    def add(
        self,
        sci: np.ndarray,
        err: np.ndarray | None,
        dq: np.ndarray,
        var_poisson: np.ndarray,
        var_rnoise: np.ndarray,
        var_flat: np.ndarray,
        input_wcs: gwcs.WCS | None,
        exptime: float,
        *,
        tmeasure: float | None = None,
        duration: float | None = None,
        expstart: float | None = None,
        expend: float | None = None,
        pixar_sr: float | None = None,
        pixmap: np.ndarray | None = None,
        input_range: dict[str, int] | None = None,
        accumulate: bool = True,
    ) -> dict[str, np.ndarray]:
        """Drizzle one exposure (surface brightness) into the output.

        ``exptime`` is EFFEXPTM; ``tmeasure`` (TMEASURE) replaces it as the
        ``exptime`` weight when given. ``pixar_sr`` is used only to derive
        PXSCLRT when the constructor was not given one. ``pixmap`` (output
        pixel of every input pixel) replaces `pixel_map` of ``input_wcs``, e.g.
        shifted onto a crop of the grid, and ``input_range`` (``xmin``, ``xmax``,
        ``ymin``, ``ymax``) replaces `pixel_range` of ``input_wcs``: with both
        (and a PXSCLRT given to the constructor) ``input_wcs`` may be None.
        Returns the exposure's own resampled variances (VAR_*), which are also
        added to the output's unless ``accumulate`` is false (a single
        exposure's drizzle that keeps them as they are: `drizzled`).
        """
        arrays = match_nans_and_flags({"SCI": sci, "ERR": err, "DQ": dq, "VAR_POISSON": var_poisson,
                                       "VAR_RNOISE": var_rnoise, "VAR_FLAT": var_flat})
        sci, dq = arrays["SCI"], arrays["DQ"]
        variances = {name: arrays[name] for name in VARIANCES}
        t_weight = exptime if tmeasure is None else tmeasure
        weight = drizzle_weight(dq, variances["VAR_RNOISE"], self.weight_type, t_weight, self.good_bits)

        if self.pixel_scale_ratio is None:
            self.pixel_scale_ratio = derived_pixel_scale_ratio(self.pixel_scale, input_wcs, sci.shape, pixar_sr)

        if pixmap is None:
            pixmap = pixel_map(input_wcs, sci.shape, self.output_wcs, self.pixmap_stepsize, self.pixmap_order)
        kwargs = {
            "exptime": exptime,
            "pixmap": pixmap,
            "iscale": 1.0,
            "pixel_scale_ratio": self.pixel_scale_ratio,
            "weight_map": weight,
            "wht_scale": 1.0,
            "pixfrac": self.pixfrac,
            "in_units": "cps",
            **(pixel_range(input_wcs, sci.shape) if input_range is None else input_range),
        }
        self._driz.add_image(sci, dq=dq if self.propagate_dq else None, **kwargs)
        resampled = self._resample_variances(variances, kwargs) if self.enable_err else {}
        if accumulate:
            self.add_variances(resampled, t_weight)
        self.record(exptime, tmeasure, duration, expstart, expend)
        return resampled

    def record(self, exptime: float, tmeasure: float | None, duration: float | None,
               expstart: float | None, expend: float | None) -> None:
        """Count one exposure and its times (for NDRIZ and the summed time keywords)."""
        self._n += 1
        for key, value in zip(self._times, (exptime, tmeasure, duration, expstart, expend), strict=True):
            self._times[key].append(value)

    def _resample_variances(self, variances: dict[str, np.ndarray], kwargs: dict) -> dict[str, np.ndarray]:
        """Each variance of one exposure drizzled as sqrt(var) with the science weights, squared."""
        resampled = {}
        for name, var in variances.items():
            driz = Drizzle(kernel=self.kernel, fillval="NAN", out_shape=self.shape, disable_ctx=True)
            with np.errstate(invalid="ignore"):
                driz.add_image(np.sqrt(var), **kwargs)
            resampled[name] = driz.out_img**2
        return resampled

    def add_variances(self, resampled: dict[str, np.ndarray], t_weight: float,
                      region: tuple[slice, slice] = (slice(None), slice(None))) -> None:
        """Accumulate var * w**2 and w of one exposure's resampled variances on ``region`` of the grid
        (nothing when ``resampled`` is empty: no variances without ``enable_err``)."""
        if not resampled:
            return
        if self.weight_type == "ivm":
            rn = resampled["VAR_RNOISE"]
            ok = (rn > 0) & np.isfinite(rn)
            weight = np.zeros(rn.shape)
            weight[ok] = np.reciprocal(rn[ok])
        else:
            weight = np.full(resampled["VAR_RNOISE"].shape, float(t_weight))

        for name, var in resampled.items():
            use = (var >= 0) & np.isfinite(var) & (weight > 0)
            w = weight[use]
            total = self._var_sum[name][region]
            before = total[use].astype(np.float64)  # NaN (nothing yet) counts as 0, summed in float64
            before[np.isnan(before)] = 0.0
            total[use] = before + var[use] * w * w
            self._var_wt[name][region][use] += w

    def drizzled(self) -> dict[str, np.ndarray]:
        """SCI, WHT, CON (with ``enable_ctx``) and DQ (with ``propagate_dq``) as drizzled so far; no variances or
        keywords."""
        out = {"SCI": self._driz.out_img, "WHT": self._driz.out_wht}
        if self._driz.out_ctx is not None:
            out["CON"] = self._driz.out_ctx
        if self.propagate_dq:
            out["DQ"] = self._driz.out_dq
        return out

    def finish(self) -> dict:
        """Output arrays SCI, WHT and those the options ask for (ERR, CON, DQ, VAR_*); the keyword
        dict under ``"keywords"``."""
        return self.result(self._driz.out_img, self._driz.out_wht, self._driz.out_ctx,
                           self._driz.out_dq if self.propagate_dq else None)

    def result(self, sci: np.ndarray, wht: np.ndarray, con: np.ndarray | None, dq: np.ndarray | None = None) -> dict:
        """`finish` with the given SCI, WHT, CON and DQ (e.g. summed from per-exposure drizzles);
        CON is left out when None, DQ unless ``propagate_dq``."""
        if self._n == 0:
            raise RuntimeError("no exposure was added")
        out = {"SCI": sci, "WHT": wht}
        if con is not None:
            out["CON"] = con
        if self.propagate_dq:
            out["DQ"] = dq
        if self.enable_err:
            out.update(self._variances())
        out["keywords"] = self._keywords()
        return out

    def _variances(self) -> dict[str, np.ndarray]:
        """ERR and (with ``report_var``) VAR_POISSON, VAR_RNOISE, VAR_FLAT of the output."""
        out = {}
        scaling = 1.0 / self.pixel_scale_ratio**2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for name in VARIANCES:
                wt = self._var_wt[name]
                out[name] = (self._var_sum[name] * scaling / wt / wt).astype(np.float32)
            stack = np.array([out[name] for name in VARIANCES])
            err = np.sqrt(np.nansum(stack, axis=0))
        err[np.all(np.isnan(stack), axis=0)] = np.nan
        out["ERR"] = err
        if not self.report_var:
            for name in VARIANCES:
                del out[name]
        return out

    def _keywords(self) -> dict:
        """Resample and summed exposure-time keywords of the output."""
        t = self._times
        area_a2 = self.pixel_scale**2
        keywords = {
            "NDRIZ": self._n,
            "RESWHT": self.weight_type,
            "PIXFRAC": self.pixfrac,
            "PXSCLRT": float(self.pixel_scale_ratio),
            "PIXAR_A2": area_a2,
            "PIXAR_SR": area_a2 / ARCSEC2_PER_SR,
            "EFFEXPTM": float(sum(t["exptime"])),
            "XPOSURE": float(sum(t["exptime"])),
            "S_RESAMP": "COMPLETE",
        }
        if all(v is not None for v in t["tmeasure"]):
            keywords["TMEASURE"] = float(sum(t["tmeasure"]))
        if all(v is not None for v in t["duration"]):
            keywords["DURATION"] = keywords["TELAPSE"] = float(sum(t["duration"]))
        if all(v is not None for v in t["start"]):
            keywords["EXPSTART"] = min(t["start"])
        if all(v is not None for v in t["end"]):
            keywords["EXPEND"] = max(t["end"])
        return keywords
