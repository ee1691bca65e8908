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
from mirical.formats.io import Exposure
from mirical.formats.subarray import cut, frame
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
