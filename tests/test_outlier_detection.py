"""Outlier detection (mirical/steps/outlier_detection.py) on small hand-made arrays."""

import numpy as np
import pytest
from astropy.io import fits

from mirical.formats.dqflags import DO_NOT_USE, PIXEL
from mirical.formats.groups import (
    exposure_group,
    file_group,
    group_names,
    image2_group_id,
    stage3_group_id,
    with_group_id,
)
from mirical.steps.outlier_detection import (
    abs_deriv,
    background_level,
    blot,
    crop_in_memory,
    crop_on_disk,
    exposure_image,
    flag_outliers,
    median_image,
    median_outliers,
    outlier_mask,
    parse_pair,
    single_image,
    single_images,
    weight_threshold,
)

NAN = np.nan
OUTLIER = PIXEL["OUTLIER"]


def test_weight_threshold_is_maskpt_times_the_clipped_mean_of_nonzero_weights():
    # 20 ones and one 100: the 100 is 3-sigma clipped (|100 - 1| > 3 * 21.2), zeros and NaN ignored
    weight = np.array([0.0, NAN] + [1.0] * 20 + [100.0])
    assert weight_threshold(weight, 0.7) == pytest.approx(0.7, abs=1e-15)
    # no clipping: mean(2, 4) * 0.5
    assert weight_threshold(np.array([[2.0, 0.0], [4.0, 0.0]]), 0.5) == 1.5


def test_weight_threshold_of_no_weight_is_nan():
    assert np.isnan(weight_threshold(np.zeros((2, 2)), 0.7))


def image_in_memory(x0, y0, sci, wht, maskpt):
    """The single-exposure image of one exposure drizzled alone."""
    return single_image([crop_in_memory(x0, y0, sci, wht)], maskpt)


def _images(maskpt):
    # grid 3 rows x 4 columns; three crops
    a = image_in_memory(0, 0, np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32),
                        np.array([[1, 1, 1, 1], [1, 1, 0.1, 1]], np.float32), maskpt)  # (1, 2) below 0.7
    b = image_in_memory(1, 1, np.array([[10, 20, 30], [40, 50, 60]], np.float32),
                        np.ones((2, 3), np.float32), maskpt)
    c = image_in_memory(0, 0, np.array([[3, NAN], [9, 9]], np.float32),
                        np.array([[1, 0], [1, 1]], np.float32), maskpt)
    return [a, b, c]


@pytest.mark.parametrize("block_bytes", [1, 4 * 3 * 4 * 2, 10**6])
def test_median_over_exposures_ignores_low_weight_nan_and_uncovered_pixels(block_bytes):
    median = median_image(_images(0.7), (3, 4), block_bytes=block_bytes)
    expected = np.array([
        [2, 2, 3, 4],        # (0, 0): median(a 1, c 3); (0, 1): c has no weight
        [7, 9, 20, 19],      # median(5, 9), median(6, 10, 9), a below its threshold, median(8, 30)
        [NAN, 40, 50, 60],   # b alone
    ], np.float32)
    assert median.dtype == np.float32
    np.testing.assert_array_equal(median, expected)


def test_median_with_no_threshold_counts_uncovered_pixels_as_fillval():
    images = [image_in_memory(0, 0, np.array([[4.0]], np.float32), np.array([[1.0]], np.float32), 0.0),
              image_in_memory(1, 0, np.array([[8.0]], np.float32), np.array([[1.0]], np.float32), 0.0)]
    np.testing.assert_array_equal(median_image(images, (1, 2), fillval=0.0), [[2.0, 4.0]])


def _write_part(path, x0, y0, sci, wht):
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.array(sci, np.float32), name="SCI"),
                         fits.ImageHDU(np.array(wht, np.float32), name="WHT")])
    hdus[0].header["CROPX0"], hdus[0].header["CROPY0"] = x0, y0
    hdus.writeto(path)
    return str(path)


def test_median_streams_part_files_row_blocks(tmp_path):
    path = _write_part(tmp_path / "part.fits", 1, 1, [[1, 2], [3, 4]], [[1, 1], [0, 1]])
    assert crop_on_disk(path).shape == (2, 2)
    [image] = single_images([path], [None], 0.7)
    assert (image.x0, image.y0, image.shape, image.threshold) == (1, 1, (2, 2), pytest.approx(0.7))
    median = median_image([image], (3, 3), block_bytes=1)
    np.testing.assert_array_equal(median, [[NAN, NAN, NAN], [NAN, 1, 2], [NAN, NAN, 4]])


def test_exposure_group_is_jwsts_group_id():
    header = fits.Header({"PROGRAM": "01234", "OBSERVTN": "002", "VISIT": "001", "VISITGRP": "03", "SEQ_ID": "1",
                          "ACT_ID": "01", "EXPOSURE": "00004"})
    assert exposure_group(header, None) == "jw01234002001_03101_00004"
    del header["ACT_ID"]
    assert exposure_group(header, None) is None  # a keyword missing: no group id (alone, by position)
    assert group_names(["jw1", None, "jw1", None]) == ["jw1", "exposure0002", "jw1", "exposure0004"]


def test_exposure_group_reads_meta_group_id_and_observation_from_the_asdf_extension(tmp_path):
    from mirical.formats.asdf_extension import make_hdu

    header = fits.Header({"PROGRAM": "01234", "OBSERVTN": "002", "VISIT": "001", "EXPOSURE": "00004"})
    observation = {"visit_group": "03", "sequence_id": "2", "activity_id": "05", "exposure_number": "00009"}
    # the FITS keyword first (EXPOSURE), else the ASDF tree's value
    assert exposure_group(header, make_hdu({"meta": {"observation": observation}})) == "jw01234002001_03205_00004"
    asdf_hdu = make_hdu({"meta": {"group_id": "mine", "observation": observation}})
    assert exposure_group(header, asdf_hdu) == "mine"
    fits.HDUList([fits.PrimaryHDU(header=header), asdf_hdu]).writeto(tmp_path / "cal.fits")
    assert file_group(str(tmp_path / "cal.fits")) == "mine"


def test_group_ids_jwst_writes_in_image2_and_stage3():
    from mirical.formats.asdf_extension import make_hdu

    keywords = fits.Header({"PROGRAM": "01234", "OBSERVTN": "002", "VISIT": "001", "VISITGRP": "03",
                            "SEQ_ID": "1", "ACT_ID": "01", "EXPOSURE": "00004"})
    bare = fits.Header({"PROGRAM": "01234", "OBSERVTN": "002", "VISIT": "001", "EXPOSURE": "00004"})
    # image2's resample: a library of one exposure, its id else the first place's
    assert image2_group_id(keywords, None) == "jw01234002001_03101_00004"
    assert image2_group_id(bare, None) == "exposure0001"
    assert image2_group_id(bare, make_hdu({"meta": {"group_id": "mine"}})) == "mine"
    # stage 3: without an id, the member's place (1-based)
    assert stage3_group_id(bare, None, 2) == "exposure0003"
    assert stage3_group_id(keywords, None, 2) == "jw01234002001_03101_00004"


def test_with_group_id_sets_meta_group_id_and_keeps_the_rest():
    from mirical.formats.asdf_extension import make_hdu, read_tree

    hdu = make_hdu({"meta": {"observation": {"visit_group": "03"}}, "_fits_hash": "abc"})
    stamped = with_group_id(hdu, "exposure0001")
    tree = read_tree(stamped)
    assert tree["meta"] == {"observation": {"visit_group": "03"}, "group_id": "exposure0001"}
    assert "_fits_hash" not in tree  # our FITS headers stay authoritative
    assert with_group_id(stamped, "exposure0001") is stamped  # already there: not rewritten
    assert read_tree(with_group_id(stamped, "exposure0002"))["meta"]["group_id"] == "exposure0002"
    assert read_tree(with_group_id(None, "exposure0001")) == {"meta": {"group_id": "exposure0001"}}


def test_a_group_of_exposures_is_their_weighted_mean_on_the_crop_holding_them(tmp_path):
    # a: grid rows 0-1, columns 0-1; b: grid rows 1-2, columns 1-2; c alone; a and b share a group
    a = _write_part(tmp_path / "a.fits", 0, 0, [[1, 2], [3, 4]], [[1, 1], [1, 3]])
    b = _write_part(tmp_path / "b.fits", 1, 1, [[8, 5], [NAN, 7]], [[1, 2], [0, 1]])
    c = _write_part(tmp_path / "c.fits", 0, 0, [[9, 9, 9]], [[2, 2, 2]])
    group, alone = single_images([a, c, b], ["jw1", None, "jw1"], 0.0)
    sci, wht = group.rows(0, 3)
    assert (group.x0, group.y0, group.shape) == (0, 0, (3, 3))
    # (1, 1): (3 * 4 + 1 * 8) / 4 = 5; (2, 1): b's weight 0 there -> fillval (NaN)
    np.testing.assert_array_equal(sci, [[1, 2, NAN], [3, 5, 5], [NAN, NAN, 7]])
    np.testing.assert_array_equal(wht, [[1, 1, 0], [1, 4, 2], [0, 0, 1]])
    assert group.threshold == 0.0 and sci.dtype == np.float32 and wht.dtype == np.float32
    # the group's weight threshold: maskpt x the mean of its non-zero weights (1, 1, 1, 4, 2, 1 -> 10 / 6)
    assert single_images([a, c, b], ["jw1", None, "jw1"], 0.6)[0].threshold == pytest.approx(1.0)
    assert (alone.x0, alone.y0, alone.shape) == (0, 0, (1, 3))
    # the median over the two groups: where c is not, the group alone
    median = median_image([group, alone], (3, 3), block_bytes=1)
    np.testing.assert_array_equal(median, [[5, 5.5, 9], [3, 5, 5], [NAN, NAN, 7]])


def _write_cal(path, sci, var_rnoise, dq, tmeasure=100.0):
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.array(sci, np.float32), name="SCI"),
                         fits.ImageHDU(np.array(dq, np.uint32), name="DQ"),
                         fits.ImageHDU(np.array(var_rnoise, np.float32), name="VAR_RNOISE")])
    hdus[0].header["TMEASURE"] = tmeasure
    hdus.writeto(path)
    return str(path)


def test_without_resampling_the_median_is_of_the_cal_files_masked_by_their_drizzle_weight(tmp_path):
    ones = [[1, 1], [1, 1]]
    # a: 1/VAR_RNOISE 1, 1, 1, 0.25; threshold 0.7 x 0.8125 (nothing clipped) -> (1, 1) left out
    a = _write_cal(tmp_path / "a.fits", [[1, 2], [3, 4]], [[1, 1], [1, 4]], [[0, 0], [0, 0]])
    b = _write_cal(tmp_path / "b.fits", [[5, 6], [7, 8]], ones, [[DO_NOT_USE, 0], [0, 0]])  # (0, 0): weight 0
    c = _write_cal(tmp_path / "c.fits", [[9, 10], [11, 12]], ones, [[0, 0], [0, 0]])
    images = [exposure_image(path, 0.7, "ivm", "~DO_NOT_USE") for path in (a, b, c)]
    assert images[0].threshold == pytest.approx(0.7 * 0.8125) and images[0].shape == (2, 2)
    np.testing.assert_array_equal(median_image(images, (2, 2), block_bytes=1), [[5, 6], [7, 10]])
    # exptime: TMEASURE where DQ is good, so only b's DO_NOT_USE pixel is left out
    images = [exposure_image(path, 0.7, "exptime", "~DO_NOT_USE") for path in (a, b, c)]
    assert images[1].threshold == pytest.approx(70.0)
    np.testing.assert_array_equal(median_image(images, (2, 2)), [[5, 6], [7, 8]])


def test_without_resampling_an_outlier_is_snr1_errors_from_the_median():
    sci = np.array([[5, 6], [7, 30]], np.float32)
    err = np.array([[1, 1], [NAN, 1]], np.float32)
    median = np.array([[5, 6.5], [7.5, 10]], np.float32)
    # (0, 1): 0.5 < 5; (1, 0): NaN ERR counts as 0, 0.5 > 0; (1, 1): 20 > 5
    assert median_outliers(sci, err, median, 5.0).tolist() == [[False, False], [True, True]]


def _identity_map(ny, nx, dx=0.0):
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    return np.dstack([x + dx, y])


def test_blot_on_the_identity_geometry_returns_the_median():
    median = np.arange(20, dtype=np.float32).reshape(4, 5)
    np.testing.assert_array_equal(blot(median, _identity_map(4, 5)), median)


def test_blot_half_a_pixel_off_interpolates_linearly_and_unmapped_pixels_are_nan():
    median = np.arange(20, dtype=np.float32).reshape(4, 5)
    pixmap = _identity_map(4, 5, dx=0.5)
    pixmap[2, 1] = NAN
    result = blot(median, pixmap)
    assert result[0, 0] == 0.5 and result[3, 2] == 17.5  # halfway between neighbours
    assert np.isnan(result[2, 1])


def test_abs_deriv_is_the_largest_difference_with_the_four_neighbours():
    image = np.array([[1, 2, 0], [4, NAN, 2]], np.float32)
    # (0,0): |1-2|, |1-4| -> 3; (0,1): |2-1|, |2-0|, below NaN -> 2; (0,2): |0-2|, |0-2| -> 2
    # (1,0): |4-1|, right NaN -> 3; (1,2): |2-0|, left NaN -> 2
    expected = np.array([[3, 2, 2], [3, NAN, 2]], np.float32)
    np.testing.assert_array_equal(abs_deriv(image), expected)
    assert abs_deriv(np.array([[5.0]])).tolist() == [[0.0]]


def test_outlier_mask_needs_snr1_in_a_3x3_neighbourhood_and_snr2_at_the_pixel():
    blotted = np.full((5, 7), 10, np.float32)
    err = np.ones((5, 7), np.float32)
    sci = blotted.copy()
    sci[1, 1] = 15.5  # diff 5.5 > 5 * 1: first pass
    sci[1, 2] = 14.5  # diff 4.5 > 4 but < 5, next to (1, 1): flagged
    sci[3, 3] = 14.5  # diff 4.5, no first-pass neighbour within 1: not flagged
    sci[3, 5] = 13.9  # diff 3.9 < 4: not flagged
    sci[4, 6] = 16.0  # first pass ...
    err[4, 5] = NAN   # ... its neighbour's NaN error counts as 0: diff 0.5 > 0 -> flagged
    sci[4, 5] = 10.5
    mask = outlier_mask(sci, err, blotted, (5.0, 4.0), (1.2, 0.7), 0.0)
    assert sorted(zip(*np.nonzero(mask))) == [(1, 1), (1, 2), (4, 5), (4, 6)]


def test_outlier_mask_scales_the_blot_derivative_and_subtracts_backg():
    # blot ramp of 10 per column: deriv 10 everywhere; thresholds 1.2*10 + 5 = 17, 0.7*10 + 4 = 11
    blotted = np.tile(np.arange(0, 50, 10, dtype=np.float32), (3, 1))
    sci = blotted.copy()
    err = np.ones_like(sci)
    sci[1, 2] += 17.5  # > 17: flagged
    sci[1, 3] += 11.5  # > 11 next to it: flagged
    sci[1, 0] += 16.5  # < 17 alone: not flagged
    assert sorted(zip(*np.nonzero(outlier_mask(sci, err, blotted, (5, 4), (1.2, 0.7), 0.0)))) == [(1, 2), (1, 3)]
    # a background of 2 taken off the difference: 17.5 - 2 < 17, 11.5 - 2 < 11
    assert not outlier_mask(sci, err, blotted, (5, 4), (1.2, 0.7), 2.0).any()


def test_flag_outliers_sets_outlier_and_do_not_use_and_nan():
    arrays = {"SCI": np.array([[1, 2], [3, 4]], np.float32), "ERR": np.ones((2, 2), np.float32),
              "DQ": np.array([[0, 4], [0, 0]], np.uint32), "VAR_POISSON": np.ones((2, 2), np.float32)}
    mask = np.array([[False, True], [False, False]])
    out = flag_outliers(arrays, mask)
    assert out["DQ"].tolist() == [[0, 4 | OUTLIER | DO_NOT_USE], [0, 0]]
    assert out["DQ"].dtype == np.uint32
    for name in ("SCI", "ERR", "VAR_POISSON"):
        assert np.isnan(out[name][0, 1]) and np.isfinite(out[name]).sum() == 3
    assert arrays["DQ"][0, 1] == 4  # the input is not modified


def test_background_level_and_pairs():
    assert background_level(fits.Header(), 0.5) == 0.5
    assert background_level(fits.Header({"BKGSUB": False, "BKGLEVEL": 3.0}), 0.5) == 3.0
    assert background_level(fits.Header({"BKGSUB": True, "BKGLEVEL": 3.0}), 0.5) == 0.5
    assert parse_pair("5.0 4.0", "snr") == (5.0, 4.0)
    assert parse_pair([1.2, 0.7], "scale") == (1.2, 0.7)
    with pytest.raises(ValueError, match="snr must be two numbers"):
        parse_pair("5", "snr")
