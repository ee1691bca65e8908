"""Quicklook figures (PNG, matplotlib Agg): exposures, the step strip, the mosaic and footprints.

Every image uses a robust stretch (limits from percentiles of the finite pixels)
and shows NaN pixels in a neutral grey. PNGs are written without a Software
tag or timestamps, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter in the job logs

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402

from mirical.errors import MiricalError  # noqa: E402
from mirical.formats.atomic import atomic_path  # noqa: E402
from mirical.steps import STEPS  # noqa: E402

NAN_COLOUR = "0.55"  # neutral grey for NaN (no data) pixels
IMAGE_CMAP = "inferno"
WEIGHT_CMAP = "viridis"
DPI = 100
PNG_METADATA = {"Software": None}  # no matplotlib version: byte-reproducible across installs
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "image.origin": "lower",
}
FOOTPRINT_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                     "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


@dataclass
class Image:
    """One image extension with the headers a figure needs."""

    data: np.ndarray
    header: fits.Header  # the extension's header
    primary: fits.Header
    path: str
    _stretch: tuple[float, float] | None = field(default=None, repr=False, compare=False)

    def log_norm(self) -> LogStretchNorm:
        """`log_norm` of the data, its percentiles computed once (a job drawing the image twice)."""
        if self._stretch is None:
            self._stretch = robust_limits(self.data)
        return LogStretchNorm(*self._stretch)

    @property
    def unit(self) -> str:
        return str(self.header.get("BUNIT", "") or "").strip() or "unknown unit"

    def get(self, key: str, default=None):
        if key in self.primary:
            return self.primary[key]
        return self.header.get(key, default)


def read_image(path: str | os.PathLike | Image, extension: str = "SCI") -> Image:
    """An image extension of a FITS file (float64, NaN kept) with its and the primary header.

    An `Image` is returned as it is: a job drawing a file in two figures reads it once.
    """
    if isinstance(path, Image):
        return path
    path = str(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            if extension not in hdul:
                raise MiricalError(path, f"no {extension} extension to plot")
            hdu = hdul[extension]
            data = np.array(hdu.data, dtype=np.float64)
            return Image(data, hdu.header.copy(), hdul[0].header.copy(), path)
    except MiricalError:
        raise
    except Exception as exc:  # astropy raises many types for broken files
        raise MiricalError(path, f"not a readable FITS file ({exc})") from None


# ----------------------------------------------------------------- stretch
def robust_limits(data: np.ndarray, lower: float = 1.0, upper: float = 99.5) -> tuple[float, float]:
    """(vmin, vmax) from percentiles of the finite pixels; a usable range even for flat or empty data."""
    finite = np.asarray(data, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = (float(v) for v in np.percentile(finite, [lower, upper]))
    if not vmax > vmin:
        span = abs(vmin) * 1e-3 or 1.0
        vmin, vmax = vmin - span, vmax + span
    return vmin, vmax


class LogStretchNorm(Normalize):
    """y = log(a x + 1) / log(a + 1) with x = (value - vmin) / (vmax - vmin) clipped to [0, 1].

    The "log" stretch of DS9 (and astropy's LogStretch), but keeping matplotlib's
    mask, so NaN pixels stay "bad" (grey) while values at or below vmin (e.g. the
    negative noise of a background-subtracted image) sit at the bottom of the
    colour map instead of being masked as with LogNorm.
    """

    def __init__(self, vmin: float, vmax: float, a: float = 1000.0):
        super().__init__(vmin=vmin, vmax=vmax, clip=True)
        self.a = float(a)

    def __call__(self, value, clip=None):
        # plain numpy on the values, one mask at the end: the colorbar calls this for every tick of every draw
        result, is_scalar = self.process_value(value)
        with np.errstate(invalid="ignore"):
            x = np.clip((np.ma.getdata(result) - self.vmin) / (self.vmax - self.vmin), 0.0, 1.0)
            y = np.log(self.a * x + 1.0) / np.log(self.a + 1.0)
        y = np.ma.array(y, mask=np.ma.getmaskarray(result) | ~np.isfinite(y))
        return y[0] if is_scalar else y

    def inverse(self, value):
        y = np.ma.asarray(value, dtype=np.float64)
        x = (np.ma.exp(y * np.log(self.a + 1.0)) - 1.0) / self.a
        return self.vmin + x * (self.vmax - self.vmin)


def log_norm(data: np.ndarray, lower: float = 1.0, upper: float = 99.5, a: float = 1000.0) -> LogStretchNorm:
    """Log stretch between robust (percentile) limits; see `LogStretchNorm`."""
    vmin, vmax = robust_limits(data, lower, upper)
    return LogStretchNorm(vmin, vmax, a)


def linear_norm(data: np.ndarray, lower: float = 0.0, upper: float = 99.8) -> Normalize:
    vmin, vmax = robust_limits(data, lower, upper)
    return Normalize(vmin=vmin, vmax=vmax, clip=True)


def _round_inward(value: float, upper: bool, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits, towards the inside of the range."""
    if value == 0 or not np.isfinite(value):
        return 0.0
    factor = 10.0 ** (digits - 1 - int(np.floor(np.log10(abs(value)))))
    rounded = (np.floor if upper else np.ceil)(value * factor) / factor
    return float(f"{rounded:.{digits}g}")


def stretch_ticks(norm: Normalize, min_gap: float = 0.11, max_ticks: int = 8) -> list[float]:
    """Readable colorbar ticks for a non-linear stretch: the (rounded) limits, then round numbers.

    Candidates are multiples of 1, 2 and 5 x 10^k inside [vmin, vmax], coarsest
    first; one is kept if it sits at least ``min_gap`` (fraction of the bar) from
    every tick already kept, so a log stretch gets ticks spread along the bar.
    """
    lo, hi = float(norm.vmin), float(norm.vmax)

    def positions(values: list[float]) -> np.ndarray:  # one call per candidate set, not per value
        return np.ma.filled(norm(np.array(values, dtype=np.float64)), np.nan)

    ticks = [_round_inward(lo, upper=False), _round_inward(hi, upper=True)]
    ticks = [t for t in ticks if lo <= t <= hi] or [lo, hi]
    kept = [float(u) for u in positions(ticks)]
    kmax = int(np.floor(np.log10(max(abs(lo), abs(hi), 1e-30))))
    for k in range(kmax, kmax - 5, -1):
        for mantissa in (5, 2, 1):
            step = mantissa * 10.0 ** k
            first, last = int(np.ceil(lo / step)), int(np.floor(hi / step))
            if last - first > 400:
                continue
            values = [float(f"{n * step:.6g}") for n in range(first, last + 1)]
            for value, u in zip(values, positions(values)):
                if len(ticks) < max_ticks and np.isfinite(u) and all(abs(u - t) >= min_gap for t in kept):
                    ticks.append(value)
                    kept.append(float(u))
    return sorted(set(ticks))


def _limits(norm: Normalize, unit: str) -> str:
    return f"{norm.vmin:.4g} to {norm.vmax:.4g} {unit}".rstrip()


def _cmap(name: str, bad: str = NAN_COLOUR):
    cmap = matplotlib.colormaps[name].copy()
    cmap.set_bad(bad)
    return cmap


def show(ax, data: np.ndarray, norm, cmap: str = IMAGE_CMAP, bad: str = NAN_COLOUR):
    """imshow with origin lower, NaN in ``bad`` and antialiased down-sampling."""
    return ax.imshow(np.asarray(data, dtype=np.float64), norm=norm, cmap=_cmap(cmap, bad), origin="lower",
                     interpolation="antialiased", interpolation_stage="data")


def colorbar(fig, image, ax, label: str, **kwargs):
    """A labelled colorbar; ticks evenly spaced along it (readable for the log stretch too)."""
    bar = fig.colorbar(image, ax=ax, **kwargs)
    if isinstance(image.norm, LogStretchNorm):  # a linear locator would crowd the top of a log bar
        bar.set_ticks(stretch_ticks(image.norm))
        bar.ax.minorticks_off()
        bar.formatter = matplotlib.ticker.FormatStrFormatter("%g")
        bar.update_ticks()
    bar.set_label(label)
    return bar


def pixel_axes(ax) -> None:
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")


def describe(image: Image) -> str:
    """'F1130W, BRIGHTSKY, 134.9 s' from the exposure keywords present."""
    parts = [str(image.get(k)).strip() for k in ("FILTER", "SUBARRAY") if image.get(k)]
    if image.get("EFFEXPTM") is not None:
        parts.append(f"{float(image.get('EFFEXPTM')):.1f} s")
    return ", ".join(parts)


# ----------------------------------------------------------------- display size
def block_mean(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block of ``data``; NaN where a block holds a NaN (or inf) pixel.

    A NaN pixel stays visible (grey), as matplotlib's own resampling shows it. A
    shape that is not a multiple of ``factor`` gives a last row/column of blocks
    over the pixels that are left (the mean of those only).
    """
    data = np.asarray(data, dtype=np.float64)
    if factor <= 1:
        return data
    ny, nx = data.shape
    by, bx = -(-ny // factor), -(-nx // factor)
    padded = np.zeros((by * factor, bx * factor))
    padded[:ny, :nx] = data
    count = np.zeros((by, bx))  # pixels of data in each block
    count[:, :] = factor * factor
    count[-1, :] = factor * (ny - (by - 1) * factor)
    count[:, -1] = factor * (nx - (bx - 1) * factor)
    count[-1, -1] = (ny - (by - 1) * factor) * (nx - (bx - 1) * factor)
    with np.errstate(invalid="ignore"):
        mean = padded.reshape(by, factor, bx, factor).sum(axis=(1, 3)) / count
    return np.where(np.isfinite(mean), mean, np.nan)


def display_factor(ax, image) -> int:
    """How many of ``image``'s pixels fall on one screen pixel of ``ax``, to the nearest integer (at least 1).

    The nearest, not the lower: 1116 pixels drawn on 560 take a factor 2 (558
    block means, as many as the screen shows), not 1 (every pixel resampled).
    """
    ny, nx = image.get_array().shape[:2]
    x0, x1, y0, y1 = image.get_extent()
    (ax0, ay0), (ax1, ay1) = ax.transData.transform([(x0, y0), (x0 + (x1 - x0) / nx, y0 + (y1 - y0) / ny)])
    screen = min(abs(ax1 - ax0), abs(ay1 - ay0))  # screen pixels per image pixel
    return max(1, int(np.floor(1.0 / screen + 0.5))) if screen > 0 else 1


def fit_to_display(fig) -> None:
    """Replace every image of ``fig`` (laid out) by its `block_mean` at about the size it is drawn.

    Drawing a 1032 x 1024 array into a ~500 pixel wide axes costs the resampling
    of every pixel; the block means hold what the screen can show. The axes keep
    their limits, and the colour scale its limits (set from the full data).
    """
    for ax in fig.axes:
        for image in ax.get_images():
            factor = display_factor(ax, image)
            if factor == 1:
                continue
            xlim, ylim = ax.get_xlim(), ax.get_ylim()
            data = np.ma.filled(np.ma.asarray(image.get_array(), dtype=np.float64), np.nan)
            ny, nx = data.shape
            x0, x1, y0, y1 = image.get_extent()
            reduced = block_mean(data, factor)
            image.set_data(reduced)
            image.set_extent((x0, x0 + (x1 - x0) / nx * factor * reduced.shape[1],
                              y0, y0 + (y1 - y0) / ny * factor * reduced.shape[0]))
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)


# ----------------------------------------------------------------- output
def save(fig, path: str | os.PathLike) -> None:
    """Write the PNG atomically, without version or time metadata, and close the figure.

    The layout is done once here (savefig would lay out in a draw of its own and
    draw again), then the images are fitted to their display size and the figure
    is drawn once. PNG zlib level 1: the same pixels as level 6,
    in a third of the time, files within a few per cent of the size.
    """
    try:
        with atomic_path(path) as tmp:
            _write_png(fig, tmp)
    finally:
        plt.close(fig)


def _write_png(fig, target) -> None:
    """Lay ``fig`` out, fit its images to their display size and write it as PNG to ``target``."""
    engine = fig.get_layout_engine()
    if engine is not None:
        for ax in fig.axes:  # as a draw does before its layout (WCSAxes)
            ax.apply_aspect()
        engine.execute(fig)
        fig.set_layout_engine("none")
    fit_to_display(fig)
    # the Agg canvas's own PNG writer: savefig would draw twice
    fig.canvas.print_png(target, metadata=PNG_METADATA, pil_kwargs={"compress_level": 1})


def warm_up() -> None:
    """Draw one small figure in memory (title, image, colorbar, PNG), for the warm worker.

    The jobs forked after it find the fonts, the PNG writer and matplotlib's
    caches loaded: a figure job's first figure costs about 0.1 s more otherwise.
    """
    import io

    with plt.rc_context(STYLE):
        fig = _figure((3.0, 2.0))
        ax = fig.subplots()
        shown = show(ax, np.arange(16.0).reshape(4, 4), LogStretchNorm(0.0, 15.0))
        ax.set_title("warm-up", loc="left", fontweight="bold")
        pixel_axes(ax)
        colorbar(fig, shown, ax, "DN/s")
        fig.suptitle("warm-up")
        try:
            _write_png(fig, io.BytesIO())
        finally:
            plt.close(fig)


def _figure(figsize: tuple[float, float]):
    """A new figure (call inside ``plt.rc_context(STYLE)``)."""
    return plt.figure(figsize=figsize, layout="constrained", dpi=DPI)


def _row(fig, n: int) -> np.ndarray:
    """``n`` image axes side by side, y tick labels on the first only (the images have one shape).

    As ``subplots(sharex=True, sharey=True)`` looks, without sharing: every
    shared axis would update the ticks of all the others at each layout step.
    """
    axs = np.atleast_1d(fig.subplots(1, n))
    for ax in axs[1:]:
        ax.tick_params(labelleft=False)
    return axs


# ----------------------------------------------------------------- figures
def rate_vs_cal(rate_path: str | Image, cal_path: str | Image, out: str, product: str) -> dict[str, str]:
    """The seed's two panels: DMS Level 2A (rate) in DN/s beside DMS Level 2B (cal) in MJy/sr."""
    rate, cal = read_image(rate_path), read_image(cal_path)
    limits = {}
    with plt.rc_context(STYLE):
        fig = _figure((13.0, 6.2))
        axs = _row(fig, 2)
        for ax, image, label in ((axs[0], rate, "DMS Level 2A (rate)"), (axs[1], cal, "DMS Level 2B (cal)")):
            shown = show(ax, image.data, image.log_norm())
            limits[label] = _limits(shown.norm, image.unit)
            ax.set_title(label, loc="left", fontsize=12, fontweight="bold")
            ax.set_title(Path(image.path).name, loc="right", fontsize=8)
            pixel_axes(ax)
            colorbar(fig, shown, ax, image.unit, shrink=0.9, pad=0.02)
        axs[1].set_ylabel("")
        fig.suptitle(f"{product}: {describe(cal)} (log stretch, 1-99.5 percentile; grey = NaN)")
        save(fig, out)
    return limits


# The step strip's panels, left to right: the rate file, then each step with a panel (the step table).
STEP_TITLES = {"rate": "rate (Level 2A)", **{step.suffix: step.panel for step in STEPS if step.panel}}


def step_strip(paths: Sequence[tuple[str, str | Image]], out: str, product: str) -> dict[str, str]:
    """One panel per step, left to right: [(step, path), ...] each with its own stretch and unit."""
    images = [(step, read_image(path)) for step, path in paths]
    limits = {}
    with plt.rc_context(STYLE):
        fig = _figure((4.6 * len(images), 5.4))
        axs = _row(fig, len(images))
        for i, (ax, (step, image)) in enumerate(zip(axs, images)):
            shown = show(ax, image.data, image.log_norm())
            limits[step] = _limits(shown.norm, image.unit)
            ax.set_title(f"{STEP_TITLES.get(step, step)}\n{Path(image.path).name}", fontsize=9)
            ax.set_xlabel("x (pixel)")
            if i == 0:
                ax.set_ylabel("y (pixel)")
            colorbar(fig, shown, ax, image.unit, orientation="horizontal", shrink=0.85, pad=0.02)
        fig.suptitle(f"{product} through the steps: {describe(images[-1][1])} "
                     "(log stretch per panel, 1-99.5 percentile; grey = NaN)")
        save(fig, out)
    return limits


def _celestial_wcs(header: fits.Header):
    """astropy WCS of an image header (None if it has no celestial WCS)."""
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception:
            return None
    return wcs if wcs.has_celestial else None


def _sky_axes(fig, spec, wcs):
    """An RA/Dec (WCSAxes) subplot, or plain pixel axes when there is no celestial WCS."""
    if wcs is None:
        ax = fig.add_subplot(spec)
        pixel_axes(ax)
        return ax
    ax = fig.add_subplot(spec, projection=wcs)
    ra, dec = ax.coords[0], ax.coords[1]
    ra.set_axislabel("Right Ascension (ICRS)")
    dec.set_axislabel("Declination (ICRS)")
    ra.set_major_formatter("hh:mm:ss.s")
    ra.set_separator(("ʰ", "ᵐ", "ˢ"))  # plain text: astropy's default is mathtext, parsed anew in every job
    dec.set_major_formatter("dd:mm:ss")
    ax.coords.grid(color="white", alpha=0.35, linestyle=":", linewidth=0.7)
    return ax


def mosaic(mosaic_path: str | Image, out: str, name: str) -> dict[str, str]:
    """The mosaic (SCI) with RA/Dec axes from its FITS TAN WCS."""
    image = read_image(mosaic_path)
    with plt.rc_context(STYLE):
        fig = _figure((8.4, 7.6))
        ax = _sky_axes(fig, 111, _celestial_wcs(image.header))
        shown = show(ax, image.data, image.log_norm())
        colorbar(fig, shown, ax, image.unit, shrink=0.9, pad=0.02)
        limits = {"SCI": _limits(shown.norm, image.unit)}
        n = image.get("NDRIZ")
        what = f"{n} exposure(s)" if n is not None else "not drizzled (mosaic step skipped)"
        ax.set_title(f"{name} mosaic ({Path(image.path).name}): {what}, "
                     f"{str(image.get('FILTER', '')).strip()}\n"
                     "log stretch, 1-99.5 percentile; grey = no data", fontsize=10)
        save(fig, out)
    return limits


def weight_label(header: fits.Header, unit: str) -> str:
    kind = str(header.get("RESWHT", "")).strip().lower()
    if kind == "exptime":
        return "drizzle weight (exposure time, s)"
    if kind == "ivm":
        return f"drizzle weight (inverse variance, ({unit})⁻²)"  # plain text, no mathtext parser
    return "drizzle weight"


def weight_map(mosaic_path: str | Image, out: str, name: str) -> dict[str, str]:
    """The mosaic's WHT extension, linear; zero weight (no input) shown as grey."""
    sci = read_image(mosaic_path)
    limits = {}
    with plt.rc_context(STYLE):
        fig = _figure((8.4, 7.6))
        ax = _sky_axes(fig, 111, _celestial_wcs(sci.header))
        try:
            wht = read_image(sci.path, "WHT")
        except MiricalError:
            ax.text(0.5, 0.5, "no WHT extension\n(the mosaic step was skipped)", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_title(f"{name} mosaic weight (WHT)", fontsize=10)
        else:
            data = np.where(wht.data > 0, wht.data, np.nan)
            shown = show(ax, data, linear_norm(data), cmap=WEIGHT_CMAP)
            limits["WHT"] = _limits(shown.norm, "")
            resample_header = sci.primary if "RESWHT" in sci.primary else sci.header  # primary, as stdatamodels
            colorbar(fig, shown, ax, weight_label(resample_header, sci.unit), shrink=0.9, pad=0.02)
            ax.set_title(f"{name} mosaic weight (WHT), linear 0-99.8 percentile; grey = zero weight",
                         fontsize=10)
        save(fig, out)
    return limits


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_s_region(text: str) -> np.ndarray:
    """(N, 2) RA, Dec in degrees from 'POLYGON ICRS  ra dec ra dec ...' (frame name optional)."""
    tokens = str(text).split()
    if not tokens or tokens[0].upper() != "POLYGON":
        raise ValueError(f"not a POLYGON S_REGION: {text!r}")
    numbers = [t for t in tokens[1:] if _NUMBER.match(t)]
    if len(numbers) < 6 or len(numbers) % 2:
        raise ValueError(f"S_REGION polygon needs >= 3 (ra, dec) pairs: {text!r}")
    return np.array(numbers, dtype=np.float64).reshape(-1, 2)


def footprints(mosaic_path: str | Image, cal_paths: Sequence[tuple[str, str]], out: str, name: str) -> list[str]:
    """The S_REGION of every cal exposure (and of the mosaic) on the sky, over the faint mosaic."""
    image = read_image(mosaic_path)
    mosaic_name = Path(image.path).name
    wcs = _celestial_wcs(image.header)
    with plt.rc_context(STYLE):
        fig = _figure((10.0, 7.6))
        ax = _sky_axes(fig, 111, wcs)
        if wcs is None:  # assign_wcs (and resampling) skipped: nothing to place on the sky
            ax.text(0.5, 0.5, f"{mosaic_name} has no celestial WCS:\nno footprints to show",
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_title(f"{name}: footprints", fontsize=10)
            save(fig, out)
            return []
        ax.coords.grid(color="0.3", alpha=0.5, linestyle=":", linewidth=0.7)
        shown = show(ax, image.data, log_norm(image.data, 20.0, 99.8), cmap="Greys", bad="white")
        shown.set_alpha(0.55)
        corners, drawn = [], []
        for i, (product, path) in enumerate(cal_paths):
            try:
                header = fits.getheader(path, "SCI")
            except (OSError, KeyError) as exc:
                raise MiricalError(path, f"no readable SCI header ({exc})") from None
            region = header.get("S_REGION")
            if not region:
                continue
            try:
                polygon = parse_s_region(region)
            except ValueError as exc:
                raise MiricalError(path, str(exc)) from None
            x, y = wcs.world_to_pixel_values(polygon[:, 0], polygon[:, 1])
            corners.append(np.column_stack([x, y]))
            drawn.append(product)
            colour = FOOTPRINT_COLOURS[i % len(FOOTPRINT_COLOURS)]
            ax.fill(x, y, facecolor=colour, edgecolor=colour, alpha=0.07, linewidth=0)
            ax.plot(np.append(x, x[0]), np.append(y, y[0]), color=colour, linewidth=1.6, label=product)
        if image.header.get("S_REGION"):
            polygon = parse_s_region(image.header["S_REGION"])
            x, y = wcs.world_to_pixel_values(polygon[:, 0], polygon[:, 1])
            corners.append(np.column_stack([x, y]))
            ax.plot(np.append(x, x[0]), np.append(y, y[0]), color="black", linestyle="--", linewidth=1.0,
                    label=f"mosaic {mosaic_name}")
        targ = (image.get("TARG_RA"), image.get("TARG_DEC"))
        if None not in targ:
            tx, ty = wcs.world_to_pixel_values(float(targ[0]), float(targ[1]))
            ax.plot([tx], [ty], marker="+", markersize=14, color="crimson", linestyle="none",
                    label=f"target {str(image.get('TARGNAME', '')).strip()}".rstrip())
        if corners:
            points = np.vstack(corners)
            lo, hi = points.min(axis=0), points.max(axis=0)
            margin = 0.06 * (hi - lo).max()
            ax.set_xlim(lo[0] - margin, hi[0] + margin)
            ax.set_ylim(lo[1] - margin, hi[1] + margin)
        fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=9, frameon=False)
        ax.set_title(f"{name}: footprints (S_REGION) of {len(cal_paths)} exposure(s) on the sky,\n"
                     "over the mosaic (grey, log stretch)", fontsize=10, pad=12)
        save(fig, out)
    return drawn


def outliers(cal_path: str, crf_path: str, out: str, product: str) -> int:
    """The cal image with the pixels outlier detection flagged (OUTLIER in the crf's DQ) circled; their count."""
    from mirical.formats.dqflags import PIXEL

    cal = read_image(cal_path)
    with fits.open(crf_path) as hdul:
        flagged = (np.asarray(hdul["DQ"].data) & PIXEL["OUTLIER"]) != 0
    ys, xs = np.nonzero(flagged)
    with plt.rc_context(STYLE):
        fig = _figure((8.0, 7.2))
        ax = fig.subplots()
        shown = show(ax, cal.data, cal.log_norm())
        ax.scatter(xs, ys, s=40, facecolors="none", edgecolors="red", linewidths=0.8, label="OUTLIER")
        ax.set_title(f"{Path(cal.path).name}: {len(xs)} pixels flagged (red)\n"
                     "log stretch, 1-99.5 percentile; grey = NaN", fontsize=9)
        pixel_axes(ax)
        colorbar(fig, shown, ax, cal.unit, shrink=0.9, pad=0.02)
        fig.suptitle(f"{product}: outlier detection, {describe(cal)}")
        save(fig, out)
    return len(xs)


def catalog(mosaic_path: str, catalog_path: str, out: str, name: str, truth_path: str | None = None) -> int:
    """The mosaic with the catalog's sources (the largest photometry aperture; extended ones in another colour)
    and, given the demo's ``truth_path``, the aperture-corrected total fluxes against the true ones.

    Returns the number of sources drawn.
    """
    from astropy.table import QTable
    from matplotlib.patches import Circle

    image = read_image(mosaic_path)
    table = QTable.read(catalog_path, format="ascii.ecsv")
    radius = float(np.max(table.meta.get("aperture_params", {}).get("aperture_radii", [3.0])))
    with plt.rc_context(STYLE):
        fig = _figure((15.0, 7.0) if truth_path else (8.4, 7.6))
        ax = _sky_axes(fig, 121 if truth_path else 111, _celestial_wcs(image.header))
        shown = show(ax, image.data, image.log_norm())
        colorbar(fig, shown, ax, image.unit, shrink=0.9, pad=0.02)
        for row in table:
            colour = "tab:orange" if row["is_extended"] else "tab:cyan"
            ax.add_patch(Circle((float(row["xcentroid"]), float(row["ycentroid"])), 3 * radius, fill=False,
                                edgecolor=colour, linewidth=1.0))
            ax.annotate(str(row["label"]), (float(row["xcentroid"]) + 3.2 * radius, float(row["ycentroid"])),
                        color=colour, fontsize=7)
        ax.set_title(f"{name}: {len(table)} source(s) of {Path(catalog_path).name}\n"
                     f"circles: 3x the {int(table.meta.get('aperture_params', {}).get('aperture_ee', [0, 0, 70])[-1])}"
                     " % encircled-energy aperture; cyan point-like, orange extended", fontsize=10)
        if truth_path:
            _flux_vs_truth(fig.add_subplot(122), table, truth_path)
        save(fig, out)
    return len(table)


def _flux_vs_truth(ax, table, truth_path: str) -> None:
    """aper_total_flux / true flux of the demo's point sources, matched by position (within 0.5 arcsec)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    truth = Table.read(truth_path, format="ascii.ecsv")
    points = truth[truth["kind"] == "point"]
    true = SkyCoord(points["ra"] * u.deg, points["dec"] * u.deg)
    index, separation, _ = true.match_to_catalog_sky(table["sky_centroid"])
    found = separation < 0.5 * u.arcsec
    flux = table["aper_total_flux"][index].to(u.uJy).value
    error = table["aper_total_flux_err"][index].to(u.uJy).value
    expected = np.asarray(points["flux_ujy"])
    shown = found & np.isfinite(flux) & (expected > 0)  # a source with no aperture flux has no point here
    ax.errorbar(expected[shown], flux[shown] / expected[shown], yerr=error[shown] / expected[shown], fmt="o",
                color="tab:blue", markersize=4, label=f"{np.count_nonzero(shown)} of {len(points)} point sources")
    ax.axhline(1.0, color="black", linewidth=0.8)
    if shown.any():
        ax.set_xscale("log")
        # the same ticks as the log scale's own formatters, in plain numbers (600, 1000): no mathtext (10^3) to parse
        ax.xaxis.set_major_formatter(matplotlib.ticker.LogFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False))
    else:
        ax.text(0.5, 0.5, "no point source of the truth measured in the catalog", transform=ax.transAxes,
                ha="center", va="center")
    ax.set_xlabel("true flux (µJy)")
    ax.set_ylabel("aper_total_flux / true flux")
    ax.set_title("demo: aperture-corrected total flux vs truth", fontsize=10)
    ax.legend(loc="best", fontsize=8)


def sky_levels(levels_path: str, out: str, name: str) -> int:
    """Skymatch's level of each exposure (its levels table) as bars; exposures without a level marked; their count."""
    from astropy.table import Table

    table = Table.read(levels_path, format="ascii.ecsv")
    products = [str(p) for p in table["product"]]
    complete = np.array([str(s) == "COMPLETE" for s in table["status"]])
    levels = np.where(complete, np.asarray(table["level"], float), 0.0)
    with plt.rc_context(STYLE):
        fig = _figure((max(8.0, 0.6 * len(products) + 2.0), 4.5))
        ax = fig.subplots()
        x = np.arange(len(products))
        bars = ax.bar(x[complete], levels[complete], color="tab:blue")
        ax.bar_label(bars, fmt="%.4g", fontsize=8)
        for i in np.flatnonzero(~complete):
            ax.annotate("no level", (i, 0.0), ha="center", va="bottom", rotation=90, fontsize=8, color="tab:red")
        ax.axhline(0.0, color="0.3", linewidth=0.8)
        tilted = len(products) > 4
        ax.set_xticks(x, products, rotation=45 if tilted else 0, ha="right" if tilted else "center")
        ax.set_ylabel(f"BKGLEVEL ({table['level'].unit or 'MJy / sr'})")
        method = str(table["method"][0]) if len(table) else ""
        what = "subtracted from SCI" if len(table) and bool(table["subtracted"][0]) else "subtracted by the drizzle"
        ax.set_title(f"{name}: sky level per exposure\n(skymatch {method}; {what})", fontsize=10)
        save(fig, out)
    return int(complete.sum())


def background_from_science(rate_path: str, bkgsub_path: str, mask_path: str, out: str, product: str) -> float:
    """A background from the science exposures (``steps.background.source: science``): the rate with its
    source mask outlined, the background subtracted (rate - bkgsub) and the result; the background's median."""
    rate, after = read_image(rate_path), read_image(bkgsub_path)
    with fits.open(mask_path) as hdul:
        mask = np.asarray(hdul["MASK"].data) > 0
    background = rate.data - after.data
    level = float(np.nanmedian(background))
    with plt.rc_context(STYLE):
        fig = _figure((17.0, 5.8))
        axs = _row(fig, 3)
        panels = ((rate.data, log_norm(rate.data), "rate; its sources (masked in the others' backgrounds)"),
                  (background, linear_norm(background, 0.5, 99.5),
                   f"background from {after.get('BKGNEXP', '?')} other exposures (linear)"),
                  (after.data, log_norm(after.data), "rate - background"))
        for ax, (data, norm, title) in zip(axs, panels):
            shown = show(ax, data, norm)
            ax.set_title(title, loc="left", fontsize=10)
            pixel_axes(ax)
            colorbar(fig, shown, ax, rate.unit, shrink=0.9, pad=0.02)
        axs[0].contour(mask.astype(float), levels=[0.5], colors="cyan", linewidths=0.6)
        for ax in axs[1:]:
            ax.set_ylabel("")
        fig.suptitle(f"{product}: background from the science exposures, {describe(rate)}; "
                     f"{after.get('BKGNFILL', '?')} pixels without a value filled from around; median {level:.4g} "
                     f"{rate.unit}")
        save(fig, out)
    return level


def tweakreg_fit(fit_path: str, matches_path: str, out: str, name: str) -> int:
    """tweakreg's fit: the matched sources on the detector with their residuals (arrows), the residuals of each
    exposure (mas), and the fitted shift and rotation per exposure; the number of exposures corrected."""
    from astropy.table import Table

    fit = Table.read(fit_path, format="ascii.ecsv")
    matches = Table.read(matches_path, format="ascii.ecsv")
    products = [str(p) for p in fit["product"]]
    status = str(fit.meta.get("status", ""))
    with plt.rc_context(STYLE):
        fig = _figure((15.0, 5.0))
        sources, residuals, shifts = fig.subplots(1, 3)
        colours = plt.get_cmap("tab10")
        scale = 1000.0  # mas
        for k, product in enumerate(products):
            rows = matches[matches["product"] == product] if len(matches) else matches
            if not len(rows):
                continue
            dra, ddec = np.asarray(rows["dra"], float) * scale, np.asarray(rows["ddec"], float) * scale
            colour = colours(k % 10)
            sources.quiver(np.asarray(rows["x"], float), np.asarray(rows["y"], float), dra, ddec, color=colour,
                           angles="xy", scale_units="xy", scale=0.1, width=0.004, label=product)
            residuals.plot(dra, ddec, "o", color=colour, markersize=3,
                           label=f"{product}: {len(rows)} matched, rms {np.sqrt(np.mean(dra**2 + ddec**2)):.1f} mas")
        sources.set_xlabel("x (pixel)")
        sources.set_ylabel("y (pixel)")
        sources.set_title("matched sources and residuals (10 px per mas)", fontsize=10)
        residuals.axhline(0.0, color="0.3", linewidth=0.8)
        residuals.axvline(0.0, color="0.3", linewidth=0.8)
        residuals.set_xlabel("ΔRA cos Dec (mas)")
        residuals.set_ylabel("ΔDec (mas)")
        residuals.set_title("residuals to the nearest source of the other exposures", fontsize=9)
        if len(matches):
            residuals.legend(loc="best", fontsize=7)
        else:
            residuals.text(0.5, 0.5, f"no fit ({status or 'SKIPPED'})", transform=residuals.transAxes, ha="center",
                           va="center", color="tab:red")
        x = np.arange(len(products))
        applied = np.array([bool(a) for a in fit["applied"]]) if len(fit) else np.zeros(0, bool)
        xshift = np.asarray(fit["xshift"], float) * scale
        yshift = np.asarray(fit["yshift"], float) * scale
        shifts.bar(x - 0.2, np.where(applied, xshift, 0.0), width=0.4, label="x shift", color="tab:blue")
        shifts.bar(x + 0.2, np.where(applied, yshift, 0.0), width=0.4, label="y shift", color="tab:orange")
        for i in range(len(products)):
            text = f"rot {float(fit['rotation'][i]) * 3600:.2f}\"" if applied[i] else str(fit["fit_status"][i])[:24]
            shifts.annotate(text, (i, 0.0), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                            rotation=90, fontsize=7)
        shifts.axhline(0.0, color="0.3", linewidth=0.8)
        low, high = shifts.get_ylim()
        shifts.set_ylim(low, high + 0.35 * (high - low))  # room for the labels above the bars
        tilted = len(products) > 3
        shifts.set_xticks(x, products, rotation=45 if tilted else 0, ha="right" if tilted else "center", fontsize=7)
        shifts.set_ylabel("fitted shift (mas, fit tangent plane)")
        shifts.set_title("fitted shift and rotation per exposure", fontsize=10)
        shifts.legend(loc="best", fontsize=8)
        fig.suptitle(f"{name}: tweakreg ({status})", fontsize=11)
        save(fig, out)
    return int(applied.sum())


def destripe_before_after(cal_path: str, destripe_path: str, out: str, product: str) -> tuple[float, float]:
    """``steps.destripe``: the cal image, the destriped one and the stripes removed (cal - destriped); the
    RMS of the row and column corrections (DSTRPROW, DSTRPCOL)."""
    cal, after = read_image(cal_path), read_image(destripe_path)
    stripes = cal.data - after.data
    rms = (float(after.get("DSTRPROW", np.nan)), float(after.get("DSTRPCOL", np.nan)))
    norm = cal.log_norm()  # one stretch for before and after: the stripes' change is what differs
    with plt.rc_context(STYLE):
        fig = _figure((17.0, 5.8))
        axs = _row(fig, 3)
        panels = ((cal.data, norm, f"before: {Path(cal.path).name}"),
                  (after.data, norm, f"after: {Path(after.path).name}"),
                  (stripes, linear_norm(stripes, 0.5, 99.5), "stripes removed (before - after, linear)"))
        for ax, (data, panel_norm, title) in zip(axs, panels):
            shown = show(ax, data, panel_norm)
            ax.set_title(title, loc="left", fontsize=10)
            pixel_axes(ax)
            colorbar(fig, shown, ax, cal.unit, shrink=0.9, pad=0.02)
        for ax in axs[1:]:
            ax.set_ylabel("")
        fig.suptitle(f"{product}: destripe ({after.get('S_DESTRP', '?')}), {describe(cal)}; RMS removed: rows "
                     f"{rms[0]:.4g}, columns {rms[1]:.4g} {cal.unit} (DSTRPROW, DSTRPCOL)")
        save(fig, out)
    return rms


def lyot_masked(exposure_path: str, out: str, product: str) -> int:
    """``mosaic.lyot: mask``: the exposure stage 3 reads with its Lyot region hatched, beside it as stage 3 uses
    it (DO_NOT_USE pixels grey); the number of Lyot pixels flagged."""
    from mirical.formats.dqflags import DO_NOT_USE, NON_SCIENCE
    from mirical.formats.imager_geometry import region_mask

    image, dq = read_image(exposure_path), read_image(exposure_path, "DQ").data.astype(np.uint32)
    region = region_mask("lyot", image.primary) if str(image.get("SUBARRAY", "")).strip() == "FULL" \
        else np.zeros(image.data.shape, bool)
    flag = DO_NOT_USE | NON_SCIENCE
    flagged = int(np.count_nonzero(region & (dq & flag == flag)))
    used = np.where(dq & DO_NOT_USE, np.nan, image.data)
    norm = image.log_norm()
    with plt.rc_context(STYLE):
        fig = _figure((13.0, 6.2))
        axs = _row(fig, 2)
        for ax, data, title in ((axs[0], image.data, "SCI, the Lyot region hatched (left out of stage 3)"),
                                (axs[1], used, "what stage 3 uses (DO_NOT_USE grey)")):
            shown = show(ax, data, norm)
            ax.set_title(title, loc="left", fontsize=10)
            pixel_axes(ax)
            colorbar(fig, shown, ax, image.unit, shrink=0.9, pad=0.02)
            if region.any():
                ax.contour(region.astype(float), levels=[0.5], colors="cyan", linewidths=1.0)
        if region.any():
            axs[0].contourf(region.astype(float), levels=[0.5, 1.5], colors="none", hatches=["//"])
        axs[1].set_ylabel("")
        fig.suptitle(f"{product}: mosaic.lyot mask, {describe(image)}; {flagged} Lyot pixels flagged "
                     f"DO_NOT_USE + NON_SCIENCE (cyan outline)")
        save(fig, out)
    return flagged
