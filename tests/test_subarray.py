"""Cutting reference arrays to an exposure's subarray."""
import numpy as np

from mirical.formats.subarray import covers, cut


def test_subarray_cut_from_full_frame_and_no_overlap_is_nan():
    full = np.arange(1024 * 1032, dtype=float).reshape(1024, 1032)
    sub = cut(full, (1, 1, 1032, 1024), (413, 51, 256, 256))
    assert sub.shape == (256, 256)
    assert sub[0, 0] == full[50, 412] and sub[-1, -1] == full[305, 667]
    elsewhere = cut(np.ones((64, 72)), (1, 779, 72, 64), (413, 51, 256, 256))
    assert np.isnan(elsewhere).all()
    assert covers((1, 1, 1032, 1024), (413, 51, 256, 256))
    assert not covers((413, 51, 256, 256), (1, 1, 1032, 1024))
