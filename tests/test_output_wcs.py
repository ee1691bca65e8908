"""resample's output_wcs (mirical/drizzle/output_wcs.py): reading the grid as jwst 3.0.0's load_custom_wcs does."""
from __future__ import annotations

import math

import asdf
import gwcs
import numpy as np
import pytest
from astropy import coordinates as coord
from astropy import units as u
from astropy.io import fits
from astropy.modeling import models
from astropy.wcs import WCS
from gwcs import coordinate_frames as cf

from mirical.drizzle import grid as rg
from mirical.drizzle.engine import Resampler
from mirical.drizzle.output_wcs import linear_header, load_output_wcs
from mirical.errors import MiricalError

SCALE_DEG = 3e-5  # 0.108 arcsec per pixel


def tan_wcs(nx=100, ny=50, bounded=True):
    """A TAN gwcs of 0.108"/px centred on pixel (nx/2, ny/2), north up, east left."""
    tan = (models.Shift(-nx / 2) & models.Shift(-ny / 2) | models.Scale(-SCALE_DEG) & models.Scale(SCALE_DEG)
           | models.Pix2Sky_TAN() | models.RotateNative2Celestial(150.0, 2.0, 180.0))
    wcs = gwcs.WCS([(cf.Frame2D(name="detector", unit=(u.pix, u.pix)), tan),
                    (cf.CelestialFrame(reference_frame=coord.ICRS(), name="world"), None)])
    if bounded:
        wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return wcs


def write(path, **tree):
    asdf.AsdfFile(tree).write_to(path)
    return str(path)


def test_a_file_that_is_not_asdf_is_a_clear_error(tmp_path):
    fits_file = tmp_path / "grid.fits"
    fits.PrimaryHDU().writeto(fits_file)
    for path in (fits_file, tmp_path / "missing.asdf"):
        with pytest.raises(MiricalError) as info:
            load_output_wcs(str(path))
        assert str(path) in str(info.value) and "not a readable ASDF file" in str(info.value)


@pytest.mark.parametrize("tree, found", [({}, "nothing"), ({"wcs": "a string"}, "str"),
                                         ({"grid": 1}, "nothing")])
def test_an_asdf_file_without_a_gwcs_under_wcs_is_a_clear_error(tmp_path, tree, found):
    path = write(tmp_path / "grid.asdf", **tree)
    with pytest.raises(MiricalError) as info:
        load_output_wcs(path)
    assert path in str(info.value) and f"gwcs under the ASDF key 'wcs' (found {found})" in str(info.value)


def test_output_shape_in_the_official_order_of_precedence(tmp_path):
    bounded = write(tmp_path / "b.asdf", wcs=tan_wcs(100, 50))
    assert load_output_wcs(bounded).shape == (50, 100)  # int(ymax + 0.5), int(xmax + 0.5)
    assert load_output_wcs(bounded, [30, 20]).shape == (20, 30)  # output_shape is [nx, ny]
    with_array_shape = tan_wcs(100, 50)
    with_array_shape.array_shape = (40, 90)
    assert load_output_wcs(write(tmp_path / "a.asdf", wcs=with_array_shape)).shape == (40, 90)
    free = tan_wcs(bounded=False)
    assert load_output_wcs(write(tmp_path / "t.asdf", wcs=free, array_shape=[7, 8])).shape == (7, 8)
    assert load_output_wcs(write(tmp_path / "p.asdf", wcs=free, pixel_shape=[8, 7])).shape == (7, 8)
    path = write(tmp_path / "none.asdf", wcs=free)
    with pytest.raises(MiricalError, match="give output_shape"):
        load_output_wcs(path)


def test_pixel_scale_from_the_file_or_the_grid(tmp_path):
    assert load_output_wcs(write(tmp_path / "s.asdf", wcs=tan_wcs(), pixel_scale=0.2)).pixel_scale == 0.2
    assert load_output_wcs(write(tmp_path / "a.asdf", wcs=tan_wcs(), pixel_area=0.09)).pixel_scale == pytest.approx(0.3)
    computed = load_output_wcs(write(tmp_path / "c.asdf", wcs=tan_wcs())).pixel_scale
    assert computed == pytest.approx(SCALE_DEG * 3600, rel=1e-6)  # 0.108: TAN is conformal near the centre


def test_linear_header_reproduces_a_tan_grid(tmp_path):
    wcs = tan_wcs(100, 50)
    header = linear_header(wcs, (50, 100))
    assert (header["CTYPE1"], header["CTYPE2"]) == ("RA---TAN", "DEC--TAN")
    assert header["CD1_1"] == pytest.approx(-SCALE_DEG, rel=1e-6) and header["CD2_2"] == pytest.approx(SCALE_DEG,
                                                                                                          rel=1e-6)
    x, y = np.meshgrid([0, 50, 99], [0, 25, 49])
    ra, dec = WCS(header).all_pix2world(x, y, 0)
    gra, gdec = wcs(x, y)
    sep = coord.SkyCoord(ra, dec, unit="deg").separation(coord.SkyCoord(gra, gdec, unit="deg"))
    assert sep.max().to(u.arcsec).value < 1e-4 * 0.108


def test_drizzling_onto_the_default_grid_given_as_a_file_changes_nothing(tmp_path):
    """The grid `output_grid` makes, written to ASDF and given back: the same SCI and WHT."""
    inp = tan_wcs(40, 30)
    grid, shape = rg.output_grid([inp], [(30, 40)], {"ROLL_REF": 30.0, "VPARITY": -1, "V3I_YANG": 0.0})
    given = load_output_wcs(write(tmp_path / "grid.asdf", wcs=grid), [shape[1], shape[0]])
    assert given.shape == shape
    assert given.pixel_scale == pytest.approx(rg.output_pixel_scale(grid), rel=1e-6)
    sci = np.arange(1200, dtype=np.float32).reshape(30, 40)
    ones = np.ones((30, 40), np.float32)
    results = []
    for out_wcs, out_shape, scale in ((grid, shape, None), (given.wcs, given.shape, given.pixel_scale)):
        r = Resampler(out_wcs, out_shape, pixel_scale_ratio=1.0, pixel_scale=scale)
        r.add(sci, ones, np.zeros((30, 40), np.uint32), ones, ones, ones, inp, 100.0)
        results.append(r.finish())
    for name in ("SCI", "WHT", "CON", "ERR"):
        np.testing.assert_array_equal(results[0][name], results[1][name])
    assert math.isclose(results[1]["keywords"]["PIXAR_A2"], given.pixel_scale**2)
