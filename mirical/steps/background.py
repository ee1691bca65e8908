"""background: subtract the sigma-clipped mean of dedicated background exposures.

Follows calwebb_image2's background step for imaging: the background members'
SCI arrays (cut to the science frame) are stacked, sigma-clipped along the
stack (centre median, spread std, NaNs masked) and averaged; their ERR are
combined as sqrt(sum ERR^2 over unclipped) / N_unclipped; their DQ are OR-ed.
The science SCI loses the background and its DQ gains the background DQ; its
ERR and variances are left to flat_field to rebuild. ``save_combined_background``
writes the combined background (SCI, DQ, ERR) as ``{product}_combinedbackground.fits``.

Per-integration science (rateints, 3-D SCI), as jwst 3.0.0's ``average_background``:
the background members must be rateints too; each member is first sigma-clipped
along its integrations (SCI, and ERR^2 separately, each with its own mask) and
averaged, 0 where every integration is clipped or NaN (the masked mean's data), its
DQ OR-ed over the integrations; these per-member images are combined as above
(their mean ERR^2 taking the place of ERR^2). The one 2-D combined background is
subtracted from every integration and its DQ OR-ed into every integration's DQ.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats import dqflags
from mirical.formats.io import POINTING_KEYWORDS, Exposure
from mirical.formats.subarray import cut, frame
from mirical.references.selection import observation_time
from mirical.steps import set_step_status


@dataclass
class Background:
    """The combined background on the science frame."""

    sci: np.ndarray
    err: np.ndarray
    dq: np.ndarray


def combine(scis: list[np.ndarray], errs: list[np.ndarray], dqs: list[np.ndarray],
            sigma: float = 3.0, maxiters: int | None = None) -> Background:
    """Sigma-clipped mean of background members already cut to the science frame."""
    return combine_squared(scis, [np.asarray(e, dtype=np.float64) ** 2 for e in errs], dqs, sigma, maxiters)


def combine_squared(scis: list[np.ndarray], err2s: list[np.ndarray], dqs: list[np.ndarray],
                    sigma: float = 3.0, maxiters: int | None = None) -> Background:
    """`combine` given each member's ERR^2 (for a rateints member: its integrations' mean ERR^2)."""
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    stack = np.stack([np.asarray(s, dtype=np.float64) for s in scis])
    err2 = np.stack([np.asarray(e, dtype=np.float64) for e in err2s])
    with warnings.catch_warnings():  # NaNs are masked on purpose
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        clipped = sigma_clip(stack, sigma=sigma, maxiters=maxiters, cenfunc="median",
                             stdfunc="std", axis=0, masked=True)
    keep = ~np.ma.getmaskarray(clipped)
    count = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.where(keep, stack, 0.0).sum(axis=0) / count, np.nan)
        err = np.where(count > 0, np.sqrt(np.where(keep, err2, 0.0).sum(axis=0)) / count, np.nan)
    dq = np.bitwise_or.reduce(np.stack([np.asarray(d, dtype=np.uint32) for d in dqs]), axis=0)
    return Background(mean.astype(np.float32), err.astype(np.float32), dq)


def _clipped_mean(stack: np.ndarray, sigma: float, maxiters: int | None) -> np.ndarray:
    """Mean along axis 0 of the values a median/std sigma clip keeps (NaN clipped), 0 where none is
    kept; summed in the input's precision and divided in float64, as numpy's masked mean."""
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        clipped = sigma_clip(stack, sigma=sigma, maxiters=maxiters, cenfunc="median", stdfunc="std",
                             axis=0, masked=True)
    keep = ~np.ma.getmaskarray(clipped)
    count = keep.sum(axis=0)
    total = np.where(keep, stack, 0).sum(axis=0, dtype=stack.dtype).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def collapse_integrations(sci: np.ndarray, err: np.ndarray, dq: np.ndarray, sigma: float = 3.0,
                          maxiters: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rateints background member (nints, ny, nx) as one image: (mean SCI, mean ERR^2, DQ OR).

    SCI and ERR^2 (float32, as the file holds them) are sigma-clipped along the integrations
    independently; a pixel clipped or NaN in every integration is 0, as jwst's masked mean.
    """
    sci = np.asarray(sci, dtype=np.float32)
    err = np.asarray(err, dtype=np.float32)
    return (_clipped_mean(sci, sigma, maxiters), _clipped_mean(err * err, sigma, maxiters),
            np.bitwise_or.reduce(np.asarray(dq, dtype=np.uint32), axis=0))


def subtract(sci: np.ndarray, dq: np.ndarray, background: Background) -> tuple[np.ndarray, np.ndarray]:
    """Science minus background; DQ OR-ed with the background DQ (every integration of a 3-D science)."""
    return (np.asarray(sci, dtype=np.float32) - background.sci).astype(np.float32), \
        (np.asarray(dq, dtype=np.uint32) | background.dq)


MATCH_KEYS = ("INSTRUME", "DETECTOR", "FILTER", "SUBARRAY")


def combined_background(science: Exposure, backgrounds: list[Exposure], sigma: float = 3.0,
                        maxiters: int | None = None) -> Background:
    """The combined background of ``backgrounds`` on ``science``'s frame (what the step subtracts)."""
    for bkg in backgrounds:
        for key in MATCH_KEYS:
            a, b = str(science.get(key, "")).strip().upper(), str(bkg.get(key, "")).strip().upper()
            if a != b:
                raise MiricalError(bkg.path, f"background {key} is {b or 'missing'} but science "
                                             f"{science.path} has {a or 'missing'}")
        if bkg.ints != science.ints:
            kinds = {True: "a rateints (3-D SCI)", False: "a rate (2-D SCI)"}
            raise MiricalError(bkg.path, f"background is {kinds[bkg.ints]} but science {science.path} is "
                                         f"{kinds[science.ints]}: give backgrounds of the science's kind")
    target = frame(science.primary)
    scis, err2s, dqs = [], [], []
    for bkg in backgrounds:
        source = frame(bkg.primary)
        sci, err, dq = (cut(bkg.arrays[name], source, target, fill=fill)
                        for name, fill in (("SCI", np.nan), ("ERR", np.nan), ("DQ", 0)))
        if bkg.ints:
            sci, err2, dq = collapse_integrations(sci, err, dq, sigma, maxiters)
        else:
            err2 = np.asarray(err, dtype=np.float64) ** 2
        scis.append(sci)
        err2s.append(err2)
        dqs.append(dq)
    combined = combine_squared(scis, err2s, dqs, sigma=sigma, maxiters=maxiters)
    if not np.isfinite(combined.sci).any():
        raise MiricalError(", ".join(b.path for b in backgrounds),
                           "the combined background has no finite pixel on the science frame "
                           "(all NaN, or not overlapping the science subarray)")
    return combined


def calibrate(science: Exposure, backgrounds: list[Exposure], sigma: float = 3.0,
              maxiters: int | None = None) -> tuple[Exposure, float]:
    """Subtract the combined background; returns the exposure and the median level removed."""
    combined = combined_background(science, backgrounds, sigma, maxiters)
    sci, dq = subtract(science.arrays["SCI"], science.arrays["DQ"], combined)
    science.arrays.update(SCI=sci, DQ=dq)
    set_step_status(science, "background", "COMPLETE")
    return science, float(np.median(combined.sci[np.isfinite(combined.sci)]))


#: Keywords of the science exposure repeated in the combined background file (its frame and kind).
COMBINED_KEYS = ("TELESCOP", "INSTRUME", "DETECTOR", "FILTER", "SUBARRAY", "EXP_TYPE",
                 "SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")


def combined_background_hdulist(background: Background, science: Exposure, members: list[str]) -> fits.HDUList:
    """The combined background as jwst's ``_combinedbackground.fits``: an ImageModel with SCI, DQ, ERR.

    The official file holds only those arrays (float32 SCI/ERR in DN/s, uint32 DQ) and
    DATAMODL; this one also names the science frame and the background members.
    """
    primary = fits.Header()
    primary["DATAMODL"] = ("ImageModel", "Type of data model")
    for key in COMBINED_KEYS:
        if science.get(key) is not None:
            primary[key] = science.get(key)
    primary["NBKGMEMB"] = (len(members), "background exposures combined")
    for path in members:
        primary.add_history(f"background member {os.path.basename(path)}")
    unit = fits.Header({"BUNIT": "DN/s"})
    return fits.HDUList([fits.PrimaryHDU(header=primary),
                         fits.ImageHDU(background.sci.astype(np.float32), header=unit, name="SCI"),
                         fits.ImageHDU(background.dq.astype(np.uint32), name="DQ"),
                         fits.ImageHDU(background.err.astype(np.float32), header=unit.copy(), name="ERR")])


def check_science_keywords(exposure: Exposure, pointing: bool = True) -> None:
    """Refuse a science exposure without what its later steps read: the pointing (when assign_wcs runs),
    FILTER and a start time (DATE-OBS, else EXPSTART) for choosing reference files."""
    missing = [key for key in POINTING_KEYWORDS if pointing and exposure.sci_header.get(key) is None]
    if missing:
        raise MiricalError(exposure.path, f"pointing keyword(s) {', '.join(missing)} missing from the SCI header: "
                                          "assign_wcs cannot place the exposure on the sky")
    exposure.require("FILTER")
    try:
        observation_time(exposure.primary)
    except (ValueError, TypeError) as exc:
        raise MiricalError(exposure.path, f"no usable start time ({exc}): reference files are chosen by "
                                          "DATE-OBS (+ TIME-OBS) or EXPSTART") from None


# ----------------------------------------------------------------- a background from the science exposures
# steps.background.source: science (off by default). Each exposure's background is the sigma-clipped
# median (or mean) per detector pixel of the OTHER science exposures of its filter, subarray and readout
# pattern (and any `science_extra` rate files), each with its sources masked (`source_mask`).

#: Fewest exposures of a group (the exposure itself included) a background from the science can come from.
MIN_SCIENCE_EXPOSURES = 3
#: An other exposure counts when its pointing is at least this many PSF FWHM away (Dicken et al. 2024).
MIN_OFFSET_FWHM = 1.5
#: The MIRI imager's PSF FWHM (arcsec) by filter (JWST user documentation); other filters: 0.033" per micron.
PSF_FWHM_ARCSEC = {"F560W": 0.207, "F770W": 0.269, "F1000W": 0.328, "F1130W": 0.375, "F1280W": 0.420,
                   "F1500W": 0.488, "F1800W": 0.591, "F2100W": 0.674, "F2550W": 0.803}
#: What makes exposures share a background: the same filter, subarray and readout pattern.
GROUP_KEYS = ("FILTER", "SUBARRAY", "READPATT")


def group_key(primary) -> tuple[str, ...]:
    """The exposures whose backgrounds come from each other share this key (FILTER, SUBARRAY, READPATT)."""
    return tuple(str(primary.get(key, "")).strip().upper() for key in GROUP_KEYS)


def psf_fwhm_arcsec(filter_name: str) -> float:
    """The PSF FWHM of a MIRI imager filter (arcsec); a filter outside the table from its wavelength."""
    name = filter_name.strip().upper()
    if name in PSF_FWHM_ARCSEC:
        return PSF_FWHM_ARCSEC[name]
    digits = "".join(ch for ch in name[1:5] if ch.isdigit())
    if not name.startswith("F") or len(digits) < 3:
        raise ValueError(f"no PSF FWHM known for filter {filter_name!r}")
    return 0.033 * int(digits) / 100.0


def _kept(stack: np.ndarray, sigma: float, maxiters: int | None) -> np.ndarray:
    """Which values of the stack a median/std sigma clip along axis 0 keeps (NaN never)."""
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings():  # NaNs are masked on purpose
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        clipped = sigma_clip(stack, sigma=sigma, maxiters=maxiters, cenfunc="median", stdfunc="std", axis=0,
                             masked=True)
    return ~np.ma.getmaskarray(clipped)


@dataclass
class ScienceBackground(Background):
    """A background from the science exposures: ``filled`` marks the pixels no exposure gave a value."""

    filled: np.ndarray


def combine_masked(scis: list[np.ndarray], errs: list[np.ndarray], dqs: list[np.ndarray], masks: list[np.ndarray],
                   sigma: float = 3.0, maxiters: int | None = None, statistic: str = "median") -> ScienceBackground:
    """The sigma-clipped median (or mean) per pixel of exposures with their sources masked.

    A value is left out where its mask is True, it is not finite or its DQ has DO_NOT_USE; the
    rest are clipped as the dedicated combination (median centre, std spread) and averaged with
    ``statistic``. ERR is sqrt(sum ERR^2)/N of the kept values (times sqrt(pi/2) for the median);
    DQ the OR of the kept values' DQ. A pixel with no kept value gets the mean background (and
    ERR) of the pixels with one around it (`fill_from_around`), DQ 0, and is True in ``filled``.
    """
    dq = np.stack([np.asarray(d, dtype=np.uint32) for d in dqs])
    usable = ~np.stack([np.asarray(m, dtype=bool) for m in masks]) & ((dq & dqflags.DO_NOT_USE) == 0)
    stack = np.where(usable, np.stack([np.asarray(s, dtype=np.float64) for s in scis]), np.nan)
    keep = _kept(stack, sigma, maxiters)
    count = keep.sum(axis=0)
    filled = count == 0
    err2 = np.where(keep, np.stack([np.asarray(e, dtype=np.float64) for e in errs]) ** 2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if statistic == "median":
            value = np.ma.median(np.ma.masked_array(stack, ~keep), axis=0).filled(np.nan)
            err = np.sqrt(np.pi / 2.0) * np.sqrt(err2) / count
        elif statistic == "mean":
            value = np.where(keep, stack, 0.0).sum(axis=0) / count
            err = np.sqrt(err2) / count
        else:
            raise ValueError(f"statistic must be median or mean, not {statistic!r}")
    value, err = np.where(filled, np.nan, value), np.where(filled, np.nan, err)
    if filled.all():
        raise ValueError("no pixel has a value outside the sources in any exposure")
    value, err = fill_from_around(value, filled), fill_from_around(err, filled)
    dq_out = np.bitwise_or.reduce(np.where(keep, dq, 0).astype(np.uint32), axis=0)
    return ScienceBackground(value.astype(np.float32), err.astype(np.float32), dq_out, filled)


def fill_from_around(values: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """``values`` with each hole set to the mean of the non-hole values in the smallest box around it
    (3, 7, 15, ... pixels wide, cut at the image edges) that holds any."""
    from scipy.ndimage import uniform_filter

    out = np.array(values, dtype=np.float64)
    known = ~holes & np.isfinite(out)
    todo = holes.copy()
    size = 3
    while todo.any() and known.any():
        total = uniform_filter(np.where(known, out, 0.0), size, mode="constant")
        count = uniform_filter(known.astype(np.float64), size, mode="constant")
        found = todo & (count > 0.5 / size**2)  # at least one known pixel in the box
        out[found] = total[found] / count[found]
        todo &= ~found
        size = 2 * size + 1
    return out


def pointing_offsets_arcsec(science: Exposure, others: list[Exposure]) -> np.ndarray:
    """The angle between ``science``'s pointing (RA_REF, DEC_REF of the SCI header) and each other's (arcsec)."""
    def radec(exposure):
        values = [exposure.sci_header.get(key) for key in ("RA_REF", "DEC_REF")]
        if any(v is None for v in values):
            raise MiricalError(exposure.path, "RA_REF/DEC_REF missing from the SCI header: the dither offsets of "
                                              "a background from the science exposures cannot be checked")
        return np.radians(np.asarray(values, dtype=np.float64))

    ra0, dec0 = radec(science)
    offsets = []
    for other in others:
        ra, dec = radec(other)
        hav = np.sin((dec - dec0) / 2) ** 2 + np.cos(dec) * np.cos(dec0) * np.sin((ra - ra0) / 2) ** 2
        offsets.append(np.degrees(2 * np.arcsin(np.sqrt(hav))) * 3600.0)
    return np.asarray(offsets)


@dataclass
class ScienceGroup:
    """The exposures a product's background comes from, and those left out for a too small offset."""

    used: list[int]  # indices into the others
    near: list[int]
    min_offset: float  # arcsec


def science_group(product: str, science: Exposure, others: list[Exposure]) -> ScienceGroup:
    """Check that a background can come from ``others`` for ``science``; refuse in one line otherwise.

    Needs at least `MIN_SCIENCE_EXPOSURES` exposures of one FILTER, SUBARRAY and READPATT (the
    exposure included) and at least `MIN_SCIENCE_EXPOSURES` - 1 others pointed `MIN_OFFSET_FWHM`
    PSF FWHM or more away from it (nearer, a source sits in the same pixels: left out).
    """
    if science.ints:
        raise MiricalError(f"product {product}", "a rateints exposure cannot have a background from the science "
                                                 "exposures: give dedicated backgrounds")
    key = group_key(science.primary)
    for other in others:
        if group_key(other.primary) != key or other.ints:
            raise MiricalError(other.path, f"not a rate file of {product}'s FILTER/SUBARRAY/READPATT {'/'.join(key)}: "
                                           "it cannot give its background")
    if len(others) + 1 < MIN_SCIENCE_EXPOSURES:
        raise MiricalError(f"product {product}", f"steps.background.source science needs at least "
                           f"{MIN_SCIENCE_EXPOSURES} exposures of {'/'.join(key)} (this one included), found "
                           f"{len(others) + 1}: give dedicated backgrounds or steps.background.science_extra")
    try:
        fwhm = psf_fwhm_arcsec(key[0])
    except ValueError as exc:
        raise MiricalError(f"product {product}", str(exc)) from None
    offsets = pointing_offsets_arcsec(science, others)
    limit = MIN_OFFSET_FWHM * fwhm
    used = [i for i, offset in enumerate(offsets) if offset >= limit]
    if len(used) < MIN_SCIENCE_EXPOSURES - 1:
        raise MiricalError(f"product {product}", f"dither offsets too small for a background from the science: "
                           f"{len(used)} of the {len(others)} other exposures are {limit:.3g} arcsec (1.5 x the "
                           f"{fwhm:.3g} arcsec FWHM of {key[0]}) or more away (need {MIN_SCIENCE_EXPOSURES - 1}); "
                           f"a source would sit in the same pixels of most of them")
    near = [i for i in range(len(others)) if i not in used]
    return ScienceGroup(used, near, float(offsets.min()) if len(offsets) else 0.0)


def science_background(science: Exposure, others: list[Exposure], masks: list[np.ndarray], sigma: float = 3.0,
                       maxiters: int | None = None, statistic: str = "median") -> ScienceBackground:
    """The background of ``science`` from ``others`` (their source masks ``masks``) on its frame."""
    target = frame(science.primary)
    scis, errs, dqs, cut_masks = [], [], [], []
    for other, mask in zip(others, masks):
        source = frame(other.primary)
        scis.append(cut(other.arrays["SCI"], source, target, fill=np.nan))
        errs.append(cut(other.arrays["ERR"], source, target, fill=np.nan))
        dqs.append(cut(other.arrays["DQ"], source, target, fill=0))
        cut_masks.append(cut(mask.astype(np.uint8), source, target, fill=1).astype(bool))
    return combine_masked(scis, errs, dqs, cut_masks, sigma, maxiters, statistic)


def calibrate_from_science(science: Exposure, background: ScienceBackground, members: int) -> tuple[Exposure, float]:
    """Subtract a background from the science exposures (as a dedicated one); record its source in the header."""
    sci, dq = subtract(science.arrays["SCI"], science.arrays["DQ"], background)
    science.arrays.update(SCI=sci, DQ=dq)
    science.primary["BKGSRC"] = ("SCIENCE", "background from the other science exposures")
    science.primary["BKGNEXP"] = (members, "exposures the background was built from")
    science.primary["BKGNFILL"] = (int(background.filled.sum()), "background pixels without a value: from around")
    set_step_status(science, "background", "COMPLETE")
    return science, float(np.median(background.sci))


def read_source_mask(path: str) -> np.ndarray:
    """A source mask file (`source_mask_hdulist`) as a boolean array."""
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul["MASK"].data) > 0


def source_mask_hdulist(mask: np.ndarray, exposure: Exposure, params: dict) -> fits.HDUList:
    """A source mask as FITS: its frame and parameters in the primary header, MASK (uint8, 1 = source)."""
    primary = fits.Header()
    for key in COMBINED_KEYS + ("READPATT",):
        if exposure.get(key) is not None:
            primary[key] = exposure.get(key)
    for key, value in params.items():
        primary[f"HIERARCH MASK {key.upper()}"] = value
    primary["NMASKED"] = (int(mask.sum()), "source pixels (after dilation)")
    return fits.HDUList([fits.PrimaryHDU(header=primary), fits.ImageHDU(mask.astype(np.uint8), name="MASK")])
