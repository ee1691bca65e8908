"""Randomized cases for the differential tests against the official pipeline: one case per seed.

`draw` turns a seed into a `RandomCase`: filter, subarray (``small``: the subarrays
of at most 320 x 304 pixels, 1-4 dithers), 1-8 dithers in a pattern of drawn size,
0-3 background exposures with their own unflagged outliers and NaN/DO_NOT_USE holes,
a background level by filter, the number and brightness of sources, unflagged
cosmic-ray hits in the rate data (density, amplitude, clustering into a hit and its
neighbours), satellite trails, NaN/DO_NOT_USE blocks and flagged pixels of the
exposures, defects of the flat, PHOTOM time dependence, the pointing (RA across 0/360,
|Dec| up to 89.5 deg), whether the science exposures share one exposure number (one
group for the official's outlier detection), whether they lack the visit group, sequence and
activity keywords (as simulated data do; the official's image2 then gives every cal file the
same group id) and step options from their documented ranges (each option
left at its default half of the time). `write_random_case` writes the case as the
agreement matrix does (`official_matrix.write_case`: rate files written the official
way, CRDS-format reference files).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirical.formats import dqflags
from mirical.demo import simulate as sim

from official_matrix import TIME_TABLES, Case, spoil_background, write_case

FILTERS = ("F560W", "F770W", "F1000W", "F1130W", "F1280W", "F1500W", "F1800W", "F2100W", "F2550W")
# Typical total background (zodiacal + telescope), MJy/sr: it rises steeply with wavelength.
BACKGROUND_MJYSR = {"F560W": 0.8, "F770W": 4.0, "F1000W": 12.0, "F1130W": 25.0, "F1280W": 30.0,
                    "F1500W": 50.0, "F1800W": 100.0, "F2100W": 200.0, "F2550W": 700.0}
SMALL = ("SUB64", "SUB128", "SUB256", "MASK1065", "MASK1140", "MASK1550", "MASKLYOT")
LARGE = ("FULL", "BRIGHTSKY")
KERNELS = ("square", "gaussian", "point", "turbo", "lanczos2", "lanczos3")  # ResampleStep's
OUTLIER_KERNELS = ("square", "point", "turbo")  # OutlierDetectionStep's


@dataclass(frozen=True)
class RandomCase(Case):
    """A matrix case plus what the generator draws beyond it."""

    seed: int = 0
    roll: float = 0.0
    dithers: tuple = ((0.0, 0.0),)  # arcsec offsets of the science exposures
    background_mjysr: float = 25.0
    n_sources: int = 1
    brightness: float = 1.0  # times the simulator's source fluxes
    cr_density: float = 0.0  # unflagged hits per pixel of each science exposure
    cr_amplitude: tuple = (10.0, 100.0)  # hit amplitude range, in units of the exposure's median ERR
    cr_cluster: float = 0.0  # fraction of hits that spill into 1-8 neighbours
    trails: tuple = ()  # dither indices with a satellite trail
    holes: int = 0  # NaN + DO_NOT_USE blocks per science exposure
    flagged: float = 0.0  # fraction of science pixels flagged DO_NOT_USE + SATURATED (finite)
    flat_defects: int = 3  # pixels of each defect kind of the flat
    bkg_block: int = 8  # background holes: 1/bkg_block of the array each way
    bkg_outliers: float = 1e-3  # fraction of background pixels with an unflagged outlier
    options: dict = dataclasses.field(default_factory=dict)  # mirical's: {section: {option: value}}
    grouped: bool = False  # the science exposures share one exposure number (one group id)
    group_keywords: bool = True  # False: no visit group, sequence, activity (as simulators write)

    def describe(self) -> str:
        options = "; ".join(f"{section} " + ", ".join(f"{k}={v}" for k, v in values.items())
                            for section, values in self.options.items() if values)
        return (f"seed {self.seed}: {super().describe()}, {self.n_sources} sources x{self.brightness:.2g}, "
                f"bkg {self.background_mjysr:.3g} MJy/sr, CR {self.cr_density:.1e}/px "
                f"{self.cr_amplitude[0]:.0f}-{self.cr_amplitude[1]:.0f} sigma cluster {self.cr_cluster:.2f}, "
                f"trails {list(self.trails)}, holes {self.holes}{', one group' if self.grouped else ''}"
                f"{'' if self.group_keywords else ', no VISITGRP/SEQ_ID/ACT_ID'}, "
                f"options: {options or 'defaults'}")


def _maybe(rng: np.random.Generator, value):
    """``value`` half of the time, else None (the option keeps its default)."""
    return value if rng.random() < 0.5 else None


def draw_options(rng: np.random.Generator, n_science: int) -> dict:
    """Step options from their documented ranges, each left at its default half of the time."""
    snr1 = round(float(rng.uniform(3.0, 7.0)), 2)
    scale1 = round(float(rng.uniform(0.8, 1.6)), 2)
    drawn = {
        "background": {"sigma": _maybe(rng, round(float(rng.uniform(2.0, 4.0)), 2)),
                       "maxiters": _maybe(rng, int(rng.integers(1, 6)))},
        "resample": {"kernel": _maybe(rng, str(rng.choice(KERNELS))),
                     "pixfrac": _maybe(rng, round(float(rng.uniform(0.5, 1.0)), 2)),
                     "weight_type": _maybe(rng, str(rng.choice(["ivm", "exptime"]))),
                     "pixel_scale_ratio": _maybe(rng, round(float(rng.uniform(0.7, 1.4)), 2))},
        "outlier_detection": {"kernel": _maybe(rng, str(rng.choice(OUTLIER_KERNELS))),
                              "pixfrac": _maybe(rng, round(float(rng.uniform(0.5, 1.0)), 2)),
                              "weight_type": _maybe(rng, str(rng.choice(["ivm", "exptime"]))),
                              "maskpt": _maybe(rng, round(float(rng.uniform(0.4, 0.9)), 2)),
                              "snr": _maybe(rng, f"{snr1} {round(float(rng.uniform(2.5, snr1)), 2)}"),
                              "scale": _maybe(rng, f"{scale1} {round(float(rng.uniform(0.3, 1.0)), 2)}"),
                              "good_bits": _maybe(rng, "~DO_NOT_USE+JUMP_DET")},
        "mosaic": {"kernel": _maybe(rng, str(rng.choice(KERNELS))),
                   "pixfrac": _maybe(rng, round(float(rng.uniform(0.5, 1.0)), 2)),
                   "weight_type": _maybe(rng, str(rng.choice(["ivm", "exptime"]))),
                   "pixel_scale_ratio": _maybe(rng, round(float(rng.uniform(0.7, 1.4)), 2)),
                   "rotation": _maybe(rng, round(float(rng.uniform(0.0, 360.0)), 1))},
    }
    if n_science < 2:  # outlier detection needs two exposures
        del drawn["outlier_detection"]
    return {section: {k: v for k, v in values.items() if v is not None} for section, values in drawn.items()}


def draw_pointing(rng: np.random.Generator) -> tuple[float, float]:
    """RA across 0/360 (a third of the cases), |Dec| >= 75 deg (a quarter), else anywhere on the sky."""
    ra = float(rng.uniform(-0.01, 0.01) % 360.0) if rng.random() < 0.33 else float(rng.uniform(0.0, 360.0))
    if rng.random() < 0.25:
        dec = float(rng.choice([-1.0, 1.0]) * rng.uniform(75.0, 89.5))
    else:
        dec = float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0))))
    return ra, dec


def draw(seed: int, small: bool = False) -> RandomCase:
    """The case of ``seed``; ``small``: subarrays of at most 320 x 304 pixels and 1-4 dithers."""
    rng = np.random.default_rng(seed)
    if small:
        subarray = str(rng.choice(SMALL))
        n_science = int(rng.choice([1, 2, 2, 3, 3, 4]))
    else:
        subarray = str(rng.choice(SMALL + LARGE, p=[0.1] * 7 + [0.1, 0.2]))
        n_science = int(rng.integers(1, 9))
    filter_name = str(rng.choice(FILTERS))
    _, _, nx, ny = sim.SUBARRAYS[subarray]
    field_arcsec = 0.11 * min(nx, ny)
    size = float(rng.uniform(0.01, 0.2)) * field_arcsec
    dithers = ((0.0, 0.0),) + tuple((round(float(dx), 3), round(float(dy), 3))
                                    for dx, dy in rng.uniform(-size, size, (n_science - 1, 2)))
    ra, dec = draw_pointing(rng)
    day = int(rng.integers(0, 1400))
    date = str(np.datetime64("2022-07-15") + np.timedelta64(day, "D"))
    n_pixels = nx * ny
    hi_sigma = float(rng.uniform(5.0, 30.0))
    return RandomCase(
        name=f"r{seed}", subarray=subarray, filter=filter_name, own_refs=bool(rng.random() < 0.5),
        n_science=n_science, n_background=int(rng.integers(0, 4)),
        time_dependence=str(rng.choice(list(TIME_TABLES))), ra=ra, dec=dec,
        va_scale=round(float(rng.uniform(0.99995, 1.0001)), 8), date=date,
        seed=seed, roll=round(float(rng.uniform(0.0, 360.0)), 3), dithers=dithers,
        background_mjysr=round(BACKGROUND_MJYSR[filter_name] * float(rng.uniform(0.6, 1.6)), 3),
        n_sources=int(rng.integers(1, max(2, n_pixels // 4000))),
        brightness=round(float(10 ** rng.uniform(-1.0, 1.3)), 3),
        cr_density=float(10 ** rng.uniform(-4.0, -2.3)),
        cr_amplitude=(round(hi_sigma, 1), round(hi_sigma * float(rng.uniform(2.0, 40.0)), 1)),
        cr_cluster=round(float(rng.uniform(0.0, 1.0)), 2),
        trails=tuple(int(i) for i in np.flatnonzero(rng.random(n_science) < 0.3)),
        holes=int(rng.integers(0, 4)), flagged=float(rng.choice([0.0, 1e-4, 1e-3])),
        flat_defects=int(rng.integers(0, max(4, n_pixels // 2000))),
        bkg_block=int(rng.integers(4, 17)), bkg_outliers=float(10 ** rng.uniform(-4.0, -2.0)),
        options=draw_options(rng, n_science), grouped=n_science > 1 and bool(rng.random() < 0.25),
        group_keywords=bool(rng.random() >= 0.15))


# ------------------------------------------------------------------ writing

def settings_for(case: RandomCase) -> sim.DemoSettings:
    """The simulator's settings of ``case``, with as many of its sources as fit in the field."""
    return sim.DemoSettings(seed=case.seed % 2**31, n_dithers=case.n_science, filter=case.filter,
                            subarray=case.subarray, n_sources=case.n_sources, ra=case.ra, dec=case.dec,
                            roll=case.roll, date_obs=f"{case.date}T06:30:00.000",
                            background_mjysr=case.background_mjysr, dither_arcsec=[list(d) for d in case.dithers])


def make_truth(settings: sim.DemoSettings, brightness: float):
    """`sim.make_truth` with ``brightness`` times its fluxes; fewer sources while they do not fit."""
    while True:
        try:
            truth = sim.make_truth(settings)
            break
        except ValueError:  # the field is too small for that many separated sources
            settings = dataclasses.replace(settings, n_sources=max(1, settings.n_sources // 2))
    truth["flux_ujy"] *= brightness
    return truth


def add_cosmic_rays(arrays: dict, case: RandomCase, rng: np.random.Generator, trail: bool) -> None:
    """Unflagged hits (and a trail) added to SCI in place, in units of the median ERR."""
    sci, err = arrays["SCI"], arrays["ERR"]
    ny, nx = sci.shape
    noise = float(np.nanmedian(err))
    n = rng.poisson(case.cr_density * ny * nx)
    ys, xs = rng.integers(0, ny, n), rng.integers(0, nx, n)
    lo, hi = case.cr_amplitude
    amplitude = noise * np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    np.add.at(sci, (ys, xs), amplitude.astype(np.float32))
    spill = rng.random(n) < case.cr_cluster
    for y, x, a in zip(ys[spill], xs[spill], amplitude[spill]):
        k = int(rng.integers(1, 9))
        offsets = rng.choice(8, k, replace=False)
        for o in offsets:
            dy, dx = (-1, -1, -1, 0, 0, 1, 1, 1)[o], (-1, 0, 1, -1, 1, -1, 0, 1)[o]
            if 0 <= y + dy < ny and 0 <= x + dx < nx:
                sci[y + dy, x + dx] += np.float32(a * rng.uniform(0.05, 0.5))
    if trail:  # a straight trail across the exposure, 1-3 pixels wide
        angle = rng.uniform(0.0, np.pi)
        y0, x0 = rng.uniform(0, ny), rng.uniform(0, nx)
        t = np.arange(-2 * max(nx, ny), 2 * max(nx, ny), 0.5)
        width = int(rng.integers(1, 4))
        level = np.float32(noise * rng.uniform(5.0, 60.0))
        for w in range(width):
            y = np.round(y0 + t * np.sin(angle) + w * np.cos(angle)).astype(int)
            x = np.round(x0 + t * np.cos(angle) - w * np.sin(angle)).astype(int)
            inside = (y >= 0) & (y < ny) & (x >= 0) & (x < nx)
            pixels = np.unique(np.stack([y[inside], x[inside]]), axis=1)
            sci[pixels[0], pixels[1]] += level


def spoil_exposure(arrays: dict, case: RandomCase, rng: np.random.Generator) -> None:
    """NaN + DO_NOT_USE blocks and finite DO_NOT_USE + SATURATED pixels, in place."""
    ny, nx = arrays["SCI"].shape
    for _ in range(case.holes):
        h, w = int(rng.integers(1, max(2, ny // 10))), int(rng.integers(1, max(2, nx // 10)))
        y, x = int(rng.integers(0, ny - h + 1)), int(rng.integers(0, nx - w + 1))
        for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"):
            arrays[name][y:y + h, x:x + w] = np.nan
        arrays["DQ"][y:y + h, x:x + w] |= dqflags.DO_NOT_USE
    flagged = rng.random((ny, nx)) < case.flagged
    arrays["DQ"][flagged] |= dqflags.DO_NOT_USE | dqflags.PIXEL["SATURATED"]


def write_random_case(case: RandomCase, folder: Path, shared: dict[str, str]) -> dict:
    """References, rate files and the image2 association of ``case`` under ``folder``."""
    settings = settings_for(case)
    truth = make_truth(settings, case.brightness)

    def science(arrays: dict, dither: int) -> dict:
        rng = np.random.default_rng([case.seed, 1000 + dither])
        add_cosmic_rays(arrays, case, rng, dither in case.trails)
        spoil_exposure(arrays, case, rng)
        return arrays

    def background(arrays: dict, k: int) -> dict:
        return spoil_background(arrays, np.random.default_rng([case.seed, 2000 + k]), k % case.bkg_block,
                                case.bkg_block, case.bkg_outliers)

    return write_case(case, folder, shared, settings=settings, truth=truth, spoil_science=science,
                      spoil_background_k=background, flat_defects=case.flat_defects, grouped=case.grouped,
                      group_keywords=case.group_keywords)


def mirical_options(case: RandomCase) -> dict:
    """The case's options as mirical's config: steps.background/resample, outlier_detection, mosaic (tweakreg
    off: the official side runs no TweakRegStep on these cases)."""
    o = case.options
    config = {"steps": {k: dict(o[k]) for k in ("background", "resample") if o.get(k)},
              "mosaic": dict(o.get("mosaic", {})), "tweakreg": {"skip": True}}
    config["outlier_detection"] = dict(o["outlier_detection"]) if "outlier_detection" in o else {"skip": True}
    return config


def official_options(case: RandomCase) -> dict:
    """The same options as tests/official.py ``cases`` takes them (image2 steps, outlier, mosaic)."""
    o = case.options
    job = {"steps": {"bkg_subtract": dict(o.get("background", {})), "resample": dict(o.get("resample", {}))},
           "mosaic_options": dict(o.get("mosaic", {}))}
    if "outlier_detection" in o:
        job["outlier"] = dict(o["outlier_detection"])
    return job
