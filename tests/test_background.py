"""background on small arrays with hand-computed values."""
import numpy as np
import pytest

from mirical import background
from mirical.dqflags import JUMP_DET


def test_background_single_member_is_subtracted_exactly():
    bkg = background.combine([np.array([[1.0, 2.0], [3.0, 4.0]])], [np.full((2, 2), 0.5)],
                             [np.array([[0, 4], [0, 0]], dtype=np.uint32)])
    np.testing.assert_allclose(bkg.sci, [[1, 2], [3, 4]])
    np.testing.assert_allclose(bkg.err, 0.5)  # sqrt(0.5^2) / 1
    sci, dq = background.subtract(np.full((2, 2), 10.0), np.array([[1, 0], [0, 0]], dtype=np.uint32), bkg)
    np.testing.assert_allclose(sci, [[9, 8], [7, 6]])
    assert dq.tolist() == [[1, 4], [0, 0]]


def test_background_sigma_clips_the_outlier_member():
    # Five members; at pixel (0, 0) member 4 is an outlier (100 vs ~10).
    values = [10.0, 10.2, 9.8, 10.1, 100.0]
    scis = [np.full((1, 2), v) for v in values]
    scis[4][0, 1] = 10.0  # no outlier at pixel (0, 1)
    errs = [np.full((1, 2), e) for e in (1.0, 2.0, 2.0, 1.0, 3.0)]
    dqs = [np.zeros((1, 2), np.uint32) for _ in values]
    dqs[4][0, 0] = JUMP_DET
    bkg = background.combine(scis, errs, dqs, sigma=1.5, maxiters=None)
    # Pixel (0,0): median 10.1, std of all five ~36 -> 100 is 2.5 sigma away: clipped;
    # then the four left have std 0.15 and nothing more is clipped at 1.5 sigma? 9.8 is
    # 2.0 std (0.3/0.15) from median 10.05: clipped too; then 10, 10.2, 10.1 remain.
    assert bkg.sci[0, 0] == pytest.approx((10.0 + 10.2 + 10.1) / 3)
    assert bkg.err[0, 0] == pytest.approx(np.sqrt(1 + 4 + 1) / 3)
    # Pixel (0,1): 10, 10.2, 9.8, 10.1, 10: std 0.126, median 10; 10.2 and 9.8 are
    # 1.58 std away: clipped; then 10, 10.1, 10 remain (std 0.047, 10.1 is 2.1 std: clipped).
    assert bkg.sci[0, 1] == pytest.approx(10.0)
    assert bkg.err[0, 1] == pytest.approx(np.sqrt(1 + 9) / 2)
    assert bkg.dq[0, 0] == JUMP_DET  # DQ is OR-ed without clipping


def test_background_nan_members_are_masked():
    scis = [np.array([[np.nan]]), np.array([[4.0]])]
    bkg = background.combine(scis, [np.ones((1, 1)), np.full((1, 1), 2.0)],
                             [np.zeros((1, 1), np.uint32)] * 2)
    assert bkg.sci[0, 0] == 4.0
    assert bkg.err[0, 0] == pytest.approx(2.0)
