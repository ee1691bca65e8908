"""steps.background.source science: the background of each exposure from the other science exposures.

Hand-computed small arrays for the source mask and the masked sigma-clipped stack, the refusals,
and the demo's program without a dedicated background against the simulator's true sky and
source fluxes (and against the same program with a dedicated background).
"""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats import dqflags
from mirical.formats.io import Exposure
from mirical.steps.background import (MIN_OFFSET_FWHM, combine_masked, psf_fwhm_arcsec, science_group,
                                      source_mask)

# ----------------------------------------------------------------- the masked, sigma-clipped stack
# Five exposures of three pixels, sigma 2. Pixel 0: nothing masked, 100 is clipped in the first
# iteration (median 12, std 35.32: |100 - 12| = 88 > 70.65), then [10, 11, 12, 14] stays (median 11.5,
# std 1.479: every |x - 11.5| <= 2.5 < 2.958): median 11.5, mean 11.75. Pixel 1: the first two are
# sources (masked): [9, 11, 16] (std 2.944, |16 - 11| = 5 < 5.89): median 11, mean 12. Pixel 2: masked,
# NaN or DO_NOT_USE in every exposure: the median of the other pixels' background.
SCIS = [[10.0, 50.0, 1.0], [11.0, 60.0, np.nan], [12.0, 9.0, 3.0], [14.0, 11.0, 4.0], [100.0, 16.0, 5.0]]
MASKS = [[0, 1, 1], [0, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1]]
DQS = [[dqflags.JUMP_DET, dqflags.JUMP_DET, 0], [0, dqflags.JUMP_DET, 0], [0, 0, dqflags.DO_NOT_USE], [0, 0, 0],
       [dqflags.PIXEL["OUTLIER"], 0, 0]]


def _combine(statistic):
    arrays = [np.array(a, dtype=np.float64).reshape(1, 3) for a in SCIS]
    errs = [np.ones((1, 3)) for _ in SCIS]
    dqs = [np.array(d, dtype=np.uint32).reshape(1, 3) for d in DQS]
    masks = [np.array(m, dtype=bool).reshape(1, 3) for m in MASKS]
    return combine_masked(arrays, errs, dqs, masks, sigma=2.0, statistic=statistic)


def test_masked_stack_median_by_hand():
    background = _combine("median")
    np.testing.assert_allclose(background.sci[0], [11.5, 11.0, 11.25])  # 11.25: median of 11.5 and 11
    # ERR: sqrt(pi/2) sqrt(N) / N of the kept (ERR 1); the filled pixel gets the others' median
    expected = np.sqrt(np.pi / 2) * np.array([0.5, 1 / np.sqrt(3)])
    np.testing.assert_allclose(background.err[0], [*expected, np.median(expected)], rtol=1e-6)
    # DQ: the OR of the kept values' (the clipped 100's OUTLIER and the masked JUMP_DET not)
    assert background.dq[0].tolist() == [dqflags.JUMP_DET, 0, 0]
    assert background.filled[0].tolist() == [False, False, True]


def test_masked_stack_mean_by_hand():
    background = _combine("mean")
    np.testing.assert_allclose(background.sci[0], [11.75, 12.0, 11.875])
    np.testing.assert_allclose(background.err[0, :2], [0.5, 1 / np.sqrt(3)], rtol=1e-6)


def test_masked_stack_refuses_an_unknown_statistic():
    with pytest.raises(ValueError, match="median or mean"):
        _combine("mode")


# ----------------------------------------------------------------- the source mask
def _image(block_value: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    sci = 10.0 + rng.normal(0.0, 1.0, (64, 64))
    sci[10:15, 20:25] += block_value  # a 5 x 5 source, 20 sigma
    dq = np.zeros(sci.shape, np.uint32)
    sci[40, 40] = np.nan
    sci[50, 50] = 1e6  # a hot pixel, DO_NOT_USE: never a source
    dq[50, 50] = dqflags.DO_NOT_USE | dqflags.HOT
    return sci, dq


def test_source_mask_is_the_source_then_grown_by_a_disk():
    sci, dq = _image()
    block = np.zeros(sci.shape, bool)
    block[10:15, 20:25] = True
    np.testing.assert_array_equal(source_mask(sci, dq, 3.0, 5, 0, 32), block)
    grown = source_mask(sci, dq, 3.0, 5, 2, 32)
    # a disk of radius 2 (offsets x^2 + y^2 <= 4) around a 5 x 5 block: 25 + 4 sides x 5 x 2 + 4 corners
    assert grown.sum() == 25 + 40 + 4
    assert grown[block].all() and grown[8, 22] and grown[9, 19] and not grown[8, 19]


def test_source_mask_threshold_and_size():
    sci, dq = _image(block_value=1.0)  # 1 sigma: below a 3-sigma threshold
    assert not source_mask(sci, dq, 3.0, 5, 0, 32).any()
    sci, dq = _image()
    assert not source_mask(sci, dq, 3.0, 26, 0, 32).any()  # 25 pixels: fewer than npixels


# ----------------------------------------------------------------- refusals
def _exposure(name: str, ra_arcsec: float = 0.0, filter_name: str = "F1130W", ints: bool = False) -> Exposure:
    primary = fits.Header({"INSTRUME": "MIRI", "FILTER": filter_name, "SUBARRAY": "FULL", "READPATT": "FASTR1"})
    sci = fits.Header({"RA_REF": 53.0 + ra_arcsec / 3600.0 / np.cos(np.radians(-27.0)), "DEC_REF": -27.0})
    shape = (2, 4, 4) if ints else (4, 4)
    return Exposure(primary, sci, {"SCI": np.zeros(shape, np.float32)}, path=f"{name}_rate.fits")


def test_fewer_than_three_exposures_is_refused_naming_the_product():
    with pytest.raises(MiricalError, match=r"product p1: steps.background.source science needs at least 3 "
                                           r"exposures of F1130W/FULL/FASTR1 \(this one included\), found 2"):
        science_group("p1", _exposure("a"), [_exposure("b", 5.0)])


def test_small_dither_offsets_are_refused():
    limit = MIN_OFFSET_FWHM * 0.375  # F1130W: 0.5625 arcsec
    others = [_exposure("b", 0.5), _exposure("c", -0.4), _exposure("d", 3.0)]
    with pytest.raises(MiricalError, match=r"product p1: dither offsets too small .*: 1 of the 3 other exposures "
                                           r"are 0.562 arcsec"):
        science_group("p1", _exposure("a"), others)
    group = science_group("p1", _exposure("a"), others + [_exposure("e", limit + 0.01)])
    assert (group.used, group.near) == ([2, 3], [0, 1])
    assert group.min_offset == pytest.approx(0.4, abs=1e-6)


def test_other_filter_and_rateints_are_refused():
    with pytest.raises(MiricalError, match=r"b_rate.fits: not a rate file of p1's FILTER/SUBARRAY/READPATT"):
        science_group("p1", _exposure("a"), [_exposure("b", 3.0, "F770W"), _exposure("c", 6.0)])
    with pytest.raises(MiricalError, match="product p1: a rateints exposure cannot have a background"):
        science_group("p1", _exposure("a", ints=True), [_exposure("b", 3.0), _exposure("c", 6.0)])


def test_psf_fwhm_of_the_filters():
    assert psf_fwhm_arcsec("F2100W") == 0.674
    assert psf_fwhm_arcsec("f1065c") == pytest.approx(0.033 * 10.65)
    with pytest.raises(ValueError, match="OPAQUE"):
        psf_fwhm_arcsec("OPAQUE")
