"""skymatch's pieces on small hand-computed cases: the statistic, the footprint border, the least-squares
match, the global levels, the skylist and the drizzle's BKGLEVEL rule."""

import numpy as np
import pytest
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.drizzle.i2d import unsubtracted_level
from mirical.steps.skymatch import (SkyExposure, apply_level, border, footprint_vertices, global_levels,
                                    group_labels, group_overlaps, local_levels, match_levels, read_footprints,
                                    read_levels, read_measured, sky_groups, sky_statistic, solve_measured,
                                    spherical_polygon, stem, user_levels, write_footprints, write_levels, write_stats)

DEFAULTS = {"skystat": "mode", "lower": None, "upper": None, "nclip": 5, "lsigma": 4.0, "usigma": 4.0,
            "binwidth": 0.1}


def stats(**changes):
    return {**DEFAULTS, **changes}


def test_statistic_mean_median_and_limits():
    values = np.array([1, 2, 3, 4, 100], np.float32)
    assert sky_statistic(values, stats(skystat="mean", nclip=0)) == (22.0, 5)  # (1+2+3+4+100)/5
    assert sky_statistic(values, stats(skystat="median", nclip=0)) == (3.0, 5)
    assert sky_statistic(values, stats(skystat="mean", nclip=0, upper=10.0)) == (2.5, 4)  # 100 left out
    assert sky_statistic(values, stats(skystat="mean", nclip=0, lower=2.0, upper=10.0)) == (3.0, 3)


def test_statistic_clipping_removes_the_outlier():
    # 19 x 10 and one 1000: mean 59.5, sigma ~216 (n) or ~221 (n-1); 1000 is 4.3 sigma above: clipped at 4
    values = np.array([10.0] * 19 + [1000.0], np.float32)
    assert sky_statistic(values, stats(skystat="mean", nclip=0)) == (59.5, 20)
    assert sky_statistic(values, stats(skystat="mean", nclip=1)) == (10.0, 19)
    assert sky_statistic(values, stats(skystat="mean", nclip=1, usigma=5.0)) == (59.5, 20)  # 4.3 < 5: kept


def test_statistic_of_nothing_is_none():
    assert sky_statistic(np.array([], np.float32), stats()) == (None, 0)
    assert sky_statistic(np.array([1, 2, 3], np.float32), stats(lower=10.0)) == (None, 0)


def test_border_corners_and_steps():
    x, y = border((3, 4), None)  # ny=3, nx=4: the 4 pixel corners, closed
    np.testing.assert_array_equal(x, [-0.5, 3.5, 3.5, -0.5, -0.5])
    np.testing.assert_array_equal(y, [-0.5, -0.5, 2.5, 2.5, -0.5])
    x, y = border((5, 4), 2)  # x: ceil(5/2)=3 nodes; y: ceil(6/2)=3 nodes, the middle one on each side
    np.testing.assert_array_equal(x, [-0.5, 1.5, 3.5, 3.5, 3.5, 1.5, -0.5, -0.5, -0.5])
    np.testing.assert_array_equal(y, [-0.5, -0.5, -0.5, 2.0, 4.5, 4.5, 4.5, 2.0, -0.5])


def _pairs(values):
    """stat/npix matrices from {(i, j): (statistic of i in its overlap with j, pixels)}."""
    stat, npix = np.full((3, 3), np.nan), np.zeros((3, 3))
    for (i, j), (s, n) in values.items():
        stat[i, j], npix[i, j] = s, n
    return stat, npix


def test_match_chain_is_exact():
    # d0 - d1 = 5 - 7, d1 - d2 = 7.5 - 9: levels 0, 2, 3.5 from the lowest
    stat, npix = _pairs({(0, 1): (5, 100), (1, 0): (7, 100), (1, 2): (7.5, 100), (2, 1): (9, 100)})
    np.testing.assert_allclose(match_levels(stat, npix, match_down=True), [0, 2, 3.5], atol=1e-12)
    np.testing.assert_allclose(match_levels(stat, npix, match_down=False), [-3.5, -1.5, 0], atol=1e-12)


def test_match_least_squares_weights_each_equation_by_its_mean_pixel_count():
    # with a = d1 - d0, b = d2 - d1 the residuals are (2 - a), (1.5 - b), (3 - a - b), the last equation
    # weighted w = (300 + 100) / 2 = 200 against 100: minimise (2-a)^2 + (1.5-b)^2 + 4 (3-a-b)^2
    # -> 5a + 4b = 14, 4a + 5b = 13.5 -> a = 16/9, b = 23/18
    stat, npix = _pairs({(0, 1): (5, 100), (1, 0): (7, 100), (1, 2): (7.5, 100), (2, 1): (9, 100),
                         (0, 2): (5, 300), (2, 0): (8, 100)})
    np.testing.assert_allclose(match_levels(stat, npix, True), [0, 16 / 9, 16 / 9 + 23 / 18], atol=1e-12)
    npix[0, 2] = 100  # equal weights: 2a + b = 5, a + 2b = 4.5 -> a = 11/6, b = 4/3
    np.testing.assert_allclose(match_levels(stat, npix, True), [0, 11 / 6, 11 / 6 + 4 / 3], atol=1e-12)


def test_match_needs_both_directions_and_a_pair():
    stat, npix = _pairs({(0, 1): (5, 100), (1, 0): (7, 100), (1, 2): (7.5, 100)})  # 2 has no pixels in 1
    levels = match_levels(stat, npix, True)
    np.testing.assert_allclose(levels[:2], [0, 2], atol=1e-12)
    assert np.isnan(levels[2])
    assert np.isnan(match_levels(np.full((1, 1), np.nan), np.zeros((1, 1)), True)).all()  # one exposure


def test_sky_groups_by_group_id_in_order_of_their_first_exposure():
    def exposure(group):
        return SkyExposure("p", "p.fits", None, (1, 1), None, 0.0, group)

    # no group id: alone (jwst names it exposure{i:04d}); "jw2" before "jw1" as its first exposure comes first
    assert sky_groups([exposure(g) for g in ("jw2", "jw1", None, "jw2", None)]) == [[0, 3], [1], [2], [4]]


def test_a_group_is_one_unit_of_the_match():
    # exposures 0, 1 (group 0) and 2 (alone); 3 joins group 0 but sees nothing of 2
    groups = [[0, 1, 3], [2]]
    stat, npix = np.full((4, 2), np.nan), np.zeros((4, 2))
    stat[0, 1], npix[0, 1] = 5.0, 100  # exposure 0's statistic in its overlap with group 1 (exposure 2)
    stat[1, 1], npix[1, 1] = 8.0, 300
    stat[2, 0], npix[2, 0] = 4.0, 50  # exposure 2's, inside the union of the group's footprints
    group_stat, group_npix = group_overlaps(stat, npix, groups)
    # group 0: (5 x 100 + 8 x 300) / 400 = 7.25 over 400 pixels; exposure 2 alone: its own 4.0 over 50
    np.testing.assert_array_equal(group_stat, [[np.nan, 7.25], [4.0, np.nan]])
    np.testing.assert_array_equal(group_npix, [[0, 400], [50, 0]])
    # one equation: d0 - d1 = 7.25 - 4.0; every member of group 0 gets 3.25, exposure 2 the lowest, 0
    np.testing.assert_allclose(match_levels(group_stat, group_npix, True), [3.25, 0.0], atol=1e-12)
    # local: the smallest statistic of the group's members for each of them; a group without any: none
    assert local_levels([6.0, 2.5, 4.0, None], groups) == [2.5, 2.5, 4.0, 2.5]
    assert local_levels([None, None, 4.0, None], groups) == [None, None, 4.0, None]


def _tilted(x, y, with_bounding_box=False):
    """A stand-in gwcs: pixels to degrees with digits in every bit."""
    return 53.16 + 3e-5 * x + 1e-6 * np.sin(y / 7.0), -27.79 + 3e-5 * y + 1e-7 * x * x / 3.0


def test_footprints_table_gives_the_same_polygons_bit_for_bit(tmp_path):
    exposures = []
    for k, (group, prior) in enumerate([("jw1", 0.0), (None, 0.1 + 0.2), ("jw1", -1 / 3)]):
        shape = (1024, 1032 - 200 * k)  # 4 corners or more vertices (``stepsize``)
        vertices = footprint_vertices(_tilted, shape, None if k == 0 else 100)
        exposures.append(SkyExposure(f"p{k}", f"out/p{k}_tweakreg.fits", None, shape, spherical_polygon(*vertices),
                                     prior, group, vertices))
    write_footprints(exposures, tmp_path / "f.ecsv")
    assert "out/" not in (tmp_path / "f.ecsv").read_text()  # file names only: the same table in any folder
    read = read_footprints(tmp_path / "f.ecsv", ["/elsewhere/out/p1_tweakreg.fits"])
    assert [(e.product, e.path, e.prior, e.group) for e in read] == [
        ("p0", "p0_tweakreg.fits", 0.0, "jw1"), ("p1", "/elsewhere/out/p1_tweakreg.fits", 0.1 + 0.2, "exposure0002"),
        ("p2", "p2_tweakreg.fits", -1 / 3, "jw1")]
    assert [len(e.vertices[0]) for e in read] == [5, 37, 33]  # closed: 4 + 1; 2 (9 + 9) + 1; 2 (7 + 9) + 1
    for ours, back in zip(exposures, read):
        assert [(a.points.tobytes(), a.inside.tobytes()) for a in ours.polygon.polygons] == \
            [(b.points.tobytes(), b.inside.tobytes()) for b in back.polygon.polygons]
    assert sky_groups(read) == sky_groups(exposures) == [[0, 2], [1]]


def test_stats_tables_give_the_matrices_of_measure(tmp_path):
    exposures = [SkyExposure(f"p{k}", f"p{k}.fits", None, None, None, 0.0, g) for k, g in enumerate(("a", None, "a"))]
    groups = sky_groups(exposures)
    names = group_labels(exposures, groups)
    assert names == ["a", "exposure0002"]
    # p0 and p2 (group a) against p1; p1 against group a; p2 sees nothing of p1; whole statistics of p0, p1
    rows = [([np.nan, 0.1 + 0.2], [0, 700], 2.5), ([1 / 3, np.nan], [900, 0], 1.75), ([np.nan, np.nan], [0, 0], None)]
    paths = [tmp_path / f"p{k}.ecsv" for k in range(3)]
    for k, ((stat, npix, whole), path) in enumerate(zip(rows, paths)):
        write_stats(f"p{k}", names, 1 if k == 1 else 0, np.array(stat), np.array(npix, float), whole, path)
    stat, npix, stats = read_measured(exposures, paths)
    np.testing.assert_array_equal(stat, [[np.nan, 0.1 + 0.2], [1 / 3, np.nan], [np.nan, np.nan]])
    np.testing.assert_array_equal(npix, [[0, 700], [900, 0], [0, 0]])
    assert stats == [2.5, 1.75, None]
    # match: group a (0.3 over 700 pixels) against p1 (1/3 over 900): d_a - d_1 = 0.3 - 1/3, the lowest 0
    params = {"skymethod": "match", "match_down": True, "subtract": False}
    levels = solve_measured(exposures, stat, npix, stats, params)
    assert levels[1] == pytest.approx(1 / 3 - 0.3, abs=1e-15) and levels[0] == levels[2] == 0.0
    assert solve_measured(exposures, stat, npix, stats, {**params, "skymethod": "local"}) == [2.5, 1.75, 2.5]
    with pytest.raises(MiricalError, match=r"p1.ecsv: not the statistics of p0 against the sky groups exposure0002"):
        read_measured(exposures, [paths[1], paths[1], paths[2]])


def test_global_levels():
    assert global_levels([5.0, 3.0, None], [None, None, None]) == [3.0, 3.0, 3.0]  # global: the smallest
    # global+match: matched + min(statistic - matched) = [0, 2, 1] + min(5, 4, 3)
    assert global_levels([5.0, 6.0, 4.0], [0.0, 2.0, 1.0]) == [3.0, 5.0, 4.0]
    assert global_levels([None, None], [0.0, None]) == [0.0, None]  # no statistic: the match levels stay


def test_user_levels_by_product_or_science_name(tmp_path):
    skylist = tmp_path / "sky.txt"
    skylist.write_text("# file level\njw01_mirimage_cal.fits 0.1\np2 2.5\n")
    names = [("p1", "/data/jw01_mirimage_rate.fits"), ("p2", "/data/jw02_mirimage_rate.fits")]
    assert user_levels(str(skylist), names) == [float(np.float32(0.1)), 2.5]  # float32, as the official reads
    skylist.write_text("jw01_mirimage_cal.fits 0.1\njw03_mirimage_cal.fits 2.5\n")
    with pytest.raises(MiricalError, match="exposure 'p2' is not in the skylist"):
        user_levels(str(skylist), names)
    skylist.write_text("jw01_mirimage_cal.fits 0.1\n")
    with pytest.raises(MiricalError, match="1 levels for 2 exposures"):
        user_levels(str(skylist), names)
    assert stem("a/jw01_mirimage_crf.fits") == "jw01_mirimage" and stem("x_y.fits") == "x_y"


def _exposure():
    from mirical.formats.io import Exposure

    return Exposure(primary=fits.Header(), sci_header=fits.Header(), arrays={"SCI": np.full((2, 2), 5.0, np.float32)})


def test_apply_level_and_the_drizzle_rule():
    kept, subtracted, none = _exposure(), _exposure(), _exposure()
    apply_level(kept, 1.5, 0.0, {"subtract": False, "skymethod": "match"})
    apply_level(subtracted, 1.5, 0.5, {"subtract": True, "skymethod": "local"})
    apply_level(none, None, 0.0, {"subtract": False, "skymethod": "match"})
    assert (kept.primary["BKGLEVEL"], kept.primary["BKGSUB"], kept.primary["BKGMETH"]) == (1.5, False, "match")
    assert kept.primary["S_SKYMAT"] == "COMPLETE" and (kept.arrays["SCI"] == 5.0).all()
    assert (subtracted.primary["BKGLEVEL"], subtracted.primary["BKGSUB"]) == (2.0, True)  # earlier 0.5 + 1.5
    assert (subtracted.arrays["SCI"] == 3.5).all()
    assert none.primary["S_SKYMAT"] == "SKIPPED" and "BKGLEVEL" not in none.primary
    assert unsubtracted_level(kept.primary) == 1.5  # the drizzle takes it off
    assert unsubtracted_level(subtracted.primary) is None and unsubtracted_level(none.primary) is None


def test_levels_table_round_trip(tmp_path):
    rows = [{"product": "p1", "file": "p1_skymatch.fits", "level": 0.25, "status": "COMPLETE", "method": "match",
             "subtracted": False},
            {"product": "p2", "file": "p2_skymatch.fits", "level": None, "status": "SKIPPED", "method": "match",
             "subtracted": False}]
    write_levels(rows, tmp_path / "levels.ecsv")
    assert read_levels(tmp_path / "levels.ecsv") == {"p1": 0.25, "p2": None}
