"""background on small arrays with hand-computed values."""
import numpy as np
import pytest

from mirical.formats.dqflags import JUMP_DET
from mirical.steps import background


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


# ----------------------------------------------------------------- save_combined_background
def _exposure(path, sci, err, dq, substrt=(1, 1), **keys):
    from astropy.io import fits

    from mirical.formats.io import Exposure

    ny, nx = np.shape(sci)
    primary = fits.Header({"INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "FILTER": "F770W", "SUBARRAY": "SUB2X3",
                           "EXP_TYPE": "MIR_IMAGE", "SUBSTRT1": substrt[0], "SUBSTRT2": substrt[1],
                           "SUBSIZE1": nx, "SUBSIZE2": ny, **keys})
    return Exposure(primary, fits.Header(), {"SCI": np.asarray(sci, np.float32), "ERR": np.asarray(err, np.float32),
                                             "DQ": np.asarray(dq, np.uint32)}, path=path)


def test_combined_background_file_holds_what_is_subtracted():
    science = _exposure("s_rate.fits", np.full((2, 3), 10.0), np.ones((2, 3)), np.zeros((2, 3)))
    members = [_exposure("b1_rate.fits", [[1, 2, 3], [4, 5, 6]], np.full((2, 3), 0.3), [[0, 4, 0], [0, 0, 0]]),
               _exposure("b2_rate.fits", [[3, 4, 5], [6, 7, np.nan]], np.full((2, 3), 0.4), [[1, 0, 0], [0, 0, 0]])]
    combined = background.combined_background(science, members)
    # two members: the mean (sigma clipping of two values keeps both); the NaN one is masked
    np.testing.assert_array_equal(combined.sci, [[2, 3, 4], [5, 6, 6]])
    # ERR = sqrt(0.3^2 + 0.4^2) / 2 = 0.25; one member: 0.3 / 1
    np.testing.assert_allclose(combined.err, [[0.25, 0.25, 0.25], [0.25, 0.25, 0.3]], rtol=1e-6)
    assert combined.dq.tolist() == [[1, 4, 0], [0, 0, 0]]
    hdul = background.combined_background_hdulist(combined, science, [m.path for m in members])
    assert [h.name for h in hdul] == ["PRIMARY", "SCI", "DQ", "ERR"]  # the official ImageModel's order
    assert hdul[0].header["DATAMODL"] == "ImageModel" and hdul[0].header["NBKGMEMB"] == 2
    assert hdul[0].header["SUBSIZE1"] == 3 and hdul["SCI"].header["BUNIT"] == "DN/s"
    assert (hdul["SCI"].data.dtype, hdul["ERR"].data.dtype, hdul["DQ"].data.dtype) == (np.float32, np.float32,
                                                                                       np.uint32)
    np.testing.assert_array_equal(hdul["SCI"].data, combined.sci)
    subtracted, _ = background.calibrate(science, members)
    np.testing.assert_array_equal(subtracted.arrays["SCI"], 10.0 - combined.sci)


def test_combined_background_is_cut_to_the_science_frame():
    science = _exposure("s_rate.fits", np.zeros((1, 2)), np.ones((1, 2)), np.zeros((1, 2)), substrt=(2, 1))
    member = _exposure("b_rate.fits", [[1, 2, 3]], np.ones((1, 3)), np.zeros((1, 3)))
    assert background.combined_background(science, [member]).sci.tolist() == [[2, 3]]


def test_combined_background_products_only_when_asked_and_members_exist():
    from mirical.formats.association import Product
    from mirical.workflow.planning import Layout, combined_background_products

    products = [Product("a", "a_rate.fits", ("b_rate.fits",)), Product("c", "c_rate.fits")]

    def config(save, skip=False):
        return {"steps": {"background": {"save_combined_background": save, "skip": skip}}}

    assert combined_background_products(config(True), products) == ["a"]
    assert combined_background_products(config(False), products) == []
    assert combined_background_products(config(True, skip=True), products) == []
    layout = Layout("out", "run")
    assert layout.products(["a", "c"], ["a"])["combined_background"] == ["out/intermediate/a_combinedbackground.fits"]
    assert layout.products(["a", "c"])["combined_background"] == []
