"""flat_field on small arrays with hand-computed values."""
import numpy as np
import pytest

from mirical import flat_field
from mirical.dqflags import DO_NOT_USE, JUMP_DET, NO_FLAT_FIELD


def _arrays(sci, var_p=None, var_r=None, dq=None):
    sci = np.asarray(sci, dtype=float)
    return {"SCI": sci, "ERR": np.zeros_like(sci),
            "DQ": np.zeros(sci.shape, np.uint32) if dq is None else np.asarray(dq, np.uint32),
            "VAR_POISSON": np.full(sci.shape, 4.0) if var_p is None else var_p,
            "VAR_RNOISE": np.full(sci.shape, 1.0) if var_r is None else var_r}


def test_flat_field_formulas():
    out = flat_field.apply(_arrays([[10.0, 6.0]]), np.array([[2.0, 0.5]]), np.array([[0.2, 0.05]]),
                           np.zeros((1, 2), np.uint32))
    # pixel 0: f = 2 -> SCI 5, VAR_P 4/4 = 1, VAR_R 1/4, VAR_FLAT = 25 * 0.04 / 4 = 0.25
    assert out["SCI"][0, 0] == pytest.approx(5.0)
    assert out["VAR_POISSON"][0, 0] == pytest.approx(1.0)
    assert out["VAR_RNOISE"][0, 0] == pytest.approx(0.25)
    assert out["VAR_FLAT"][0, 0] == pytest.approx(0.25)
    assert out["ERR"][0, 0] == pytest.approx(np.sqrt(1.5))
    # pixel 1: f = 0.5 -> SCI 12, VAR_P 16, VAR_R 4, VAR_FLAT = 144 * 0.0025 / 0.25 = 1.44
    assert out["SCI"][0, 1] == pytest.approx(12.0)
    assert out["VAR_FLAT"][0, 1] == pytest.approx(1.44)
    assert out["ERR"][0, 1] == pytest.approx(np.sqrt(21.44), rel=1e-6)


def test_flat_field_bad_flat_pixels_are_flagged_and_nan():
    flat = np.array([[np.nan, 0.0, 1.0, 1.0]])
    flat_dq = np.array([[0, 0, DO_NOT_USE, 0]], np.uint32)
    out = flat_field.apply(_arrays([[1.0, 2.0, 3.0, 4.0]]), flat, np.zeros((1, 4)), flat_dq)
    assert out["DQ"][0, 0] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 1] & (DO_NOT_USE | NO_FLAT_FIELD) == DO_NOT_USE | NO_FLAT_FIELD
    assert out["DQ"][0, 2] & DO_NOT_USE
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        assert np.isnan(out[name][0, :3]).all(), name
        assert np.isfinite(out[name][0, 3]), name
    assert out["SCI"][0, 3] == 4.0 and out["DQ"][0, 3] == 0


def test_flat_field_nan_science_gets_do_not_use():
    out = flat_field.apply(_arrays([[np.nan, 1.0]], dq=[[0, JUMP_DET]]), np.ones((1, 2)),
                           np.zeros((1, 2)), np.zeros((1, 2), np.uint32))
    assert out["DQ"][0, 0] == DO_NOT_USE
    assert out["DQ"][0, 1] == JUMP_DET  # informational flags leave the data alone
    assert np.isnan(out["VAR_POISSON"][0, 0]) and out["SCI"][0, 1] == 1.0
