"""A reference file's DQ through its DQ_DEF table, as stdatamodels' dynamic_mask."""
import numpy as np
from astropy.io import fits

from mirical.dqflags import DO_NOT_USE, HOT, NO_FLAT_FIELD, PIXEL, standard_dq
from mirical.io import read_reference_image

UNRELIABLE_FLAT = PIXEL["UNRELIABLE_FLAT"]


def _dq_def(rows):
    return np.array(rows, dtype=[("BIT", ">i4"), ("VALUE", ">i8"), ("NAME", "S40"), ("DESCRIPTION", "S80")])


def test_standard_bits_kept_undefined_bits_dropped():
    dq = np.array([[DO_NOT_USE, HOT, NO_FLAT_FIELD | HOT, 0]], np.uint32)
    table = _dq_def([(0, 1, b"DO_NOT_USE", b""), (18, NO_FLAT_FIELD, b"NO_FLAT_FIELD  ", b"")])
    assert standard_dq(dq, table).tolist() == [[DO_NOT_USE, 0, NO_FLAT_FIELD, 0]]


def test_file_bits_are_renumbered_and_unknown_names_ignored():
    # the file's bit 2 means UNRELIABLE_FLAT, its bit 4 a name no standard knows
    dq = np.array([[2, 4, 6, 1]], np.uint32)
    table = _dq_def([(1, 2, b"UNRELIABLE_FLAT", b""), (2, 4, b"NOT_A_FLAG", b""), (0, 1, b"DO_NOT_USE", b"")])
    assert standard_dq(dq, table).tolist() == [[UNRELIABLE_FLAT, 0, UNRELIABLE_FLAT, DO_NOT_USE]]


def test_no_or_empty_dq_def_keeps_the_dq():
    dq = np.array([[HOT, 7]], np.uint32)
    assert standard_dq(dq, None) is dq
    assert standard_dq(dq, _dq_def([])) is dq


def test_reference_reader_applies_the_dq_def(tmp_path):
    dq = np.array([[HOT, DO_NOT_USE]], np.uint32)
    table = fits.BinTableHDU(_dq_def([(0, 1, b"DO_NOT_USE", b"bad")]), name="DQ_DEF")
    path = tmp_path / "flat.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((1, 2), np.float32), name="SCI"),
                  fits.ImageHDU(np.zeros((1, 2), np.float32), name="ERR"), fits.ImageHDU(dq, name="DQ"),
                  table]).writeto(path)
    ref = read_reference_image(path, ("SCI", "ERR", "DQ"))
    assert ref.arrays["DQ"].tolist() == [[0, DO_NOT_USE]]
