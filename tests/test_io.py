"""Exposure array conventions shared by the steps (mirical/io.py)."""
import numpy as np

from mirical.dqflags import DO_NOT_USE, JUMP_DET
from mirical.io import match_nans_and_flags


def test_match_nans_and_flags_makes_nan_and_do_not_use_agree():
    nan = np.nan
    arrays = {
        "SCI": np.array([[1.0, nan, 3.0, 4.0]], np.float32),
        "ERR": np.array([[0.1, 0.2, 0.3, 0.4]], np.float32),
        "DQ": np.array([[0, 0, DO_NOT_USE, JUMP_DET]], np.uint32),
        "VAR_POISSON": np.array([[1.0, 1.0, 1.0, nan]]),
        "VAR_RNOISE": np.ones((1, 4)),
        "VAR_FLAT": None,
        "AREA": np.array([[nan, 1.0, 1.0, 1.0]]),  # not a science array: ignored and untouched
    }
    out = match_nans_and_flags(arrays)
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"):
        assert np.isnan(out[name][0, 1:]).all() and not np.isnan(out[name][0, 0]), name
        assert out[name].dtype == arrays[name].dtype
    assert out["DQ"].tolist() == [[0, DO_NOT_USE, DO_NOT_USE, JUMP_DET | DO_NOT_USE]]
    assert out["DQ"].dtype == np.uint32
    assert out["VAR_FLAT"] is None and out["AREA"] is arrays["AREA"]
    assert np.isnan(arrays["SCI"][0, 1]) and arrays["SCI"][0, 2] == 3.0  # inputs not modified
