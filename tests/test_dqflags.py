"""A reference file's DQ through its DQ_DEF table, as stdatamodels' dynamic_mask; good_bits expressions."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from mirical.drizzle.engine import drizzle_weight
from mirical.formats.dqflags import (DO_NOT_USE, HOT, NO_FLAT_FIELD, PIXEL, bitmask, check_good_bits, good_pixels,
                                     standard_dq)
from mirical.formats.io import read_reference_image

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


# ----------------------------------------------------------------- good_bits, jwst's bit expression
JUMP_DET, NON_SCIENCE = PIXEL["JUMP_DET"], PIXEL["NON_SCIENCE"]
DQ = np.array([0, DO_NOT_USE, JUMP_DET, DO_NOT_USE | JUMP_DET, NON_SCIENCE, JUMP_DET | NON_SCIENCE], np.uint32)


@pytest.mark.parametrize("good_bits, good", [
    ("~DO_NOT_USE", [1, 0, 1, 0, 1, 1]),                      # outlier_detection's default: only DO_NOT_USE is bad
    ("~DO_NOT_USE+NON_SCIENCE", [1, 0, 1, 0, 0, 0]),          # resample's
    ("~(DO_NOT_USE|JUMP_DET)", [1, 0, 0, 0, 1, 0]),
    ("JUMP_DET,NON_SCIENCE", [1, 0, 1, 0, 1, 1]),             # no "~": the bits a good pixel may have
    ("4+512", [1, 0, 1, 0, 1, 1]),
    (4, [1, 0, 1, 0, 0, 0]),
    (0, [1, 0, 0, 0, 0, 0]),                                  # any bit is bad
    (None, [1, 1, 1, 1, 1, 1]),                               # DQ not used
    ("None", [1, 1, 1, 1, 1, 1]),
    ("~0", [1, 1, 1, 1, 1, 1]),
])
def test_good_pixels_reads_the_official_bit_expression(good_bits, good):
    check_good_bits(good_bits)
    assert good_pixels(DQ, good_bits).tolist() == [bool(g) for g in good]


@pytest.mark.parametrize("good_bits, cause", [
    ("~do_not_use", "'do_not_use' is not a DQ flag name"),
    ("~DO_NOT_USE+FOO", "'FOO' is not a DQ flag name"),
    ("DO_NOT_USE~", "Bitwise-NOT must precede"),
    ("~1+3", "not powers of two"),
    ("~(1+4", "Unbalanced parentheses"),
    ("1+4,8", "Only one type of bit flag separator"),
    (2.5, "Unsupported type"),
])
def test_bad_good_bits_say_why(good_bits, cause):
    with pytest.raises(ValueError, match=re.escape(cause)):
        check_good_bits(good_bits)


def test_drizzle_weight_is_zero_outside_good_bits():
    var = np.full(DQ.shape, 4.0, np.float32)
    assert drizzle_weight(DQ, var, "ivm", 10.0).tolist() == [0.25, 0, 0.25, 0, 0, 0]  # resample's default
    assert drizzle_weight(DQ, var, "ivm", 10.0, "~DO_NOT_USE").tolist() == [0.25, 0, 0.25, 0, 0.25, 0.25]
    assert drizzle_weight(DQ, var, "exptime", 10.0, "~DO_NOT_USE+JUMP_DET").tolist() == [10, 0, 0, 0, 10, 0]


def test_bitmask_is_astropys_module_loaded_without_astropy_nddata():
    # Planning checks good_bits; loading astropy.nddata's package for it would cost ~0.6 s CPU per run.
    code = ("import sys; from mirical.formats import dqflags; dqflags.check_good_bits('~DO_NOT_USE+NON_SCIENCE'); "
            "print(sorted(m for m in sys.modules if m.startswith('astropy')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout
    assert "astropy.nddata" not in loaded and "astropy.wcs" not in loaded


@pytest.mark.parametrize("good_bits", ["~DO_NOT_USE+NON_SCIENCE", "DO_NOT_USE,HOT", "~(4+8)", 6, None, "",
                                       "JUMP_DET|DROPOUT"])
def test_bitmask_gives_astropys_answers(good_bits):
    from astropy.nddata import bitmask as by_name

    dq = np.arange(64, dtype=np.uint32).reshape(8, 8) * 37
    ours = bitmask().bitfield_to_boolean_mask(dq, good_bits, good_mask_value=True, dtype=bool, flag_name_map=PIXEL)
    theirs = by_name.bitfield_to_boolean_mask(dq, good_bits, good_mask_value=True, dtype=bool, flag_name_map=PIXEL)
    assert np.array_equal(ours, theirs) and np.array_equal(good_pixels(dq, good_bits), theirs)
    assert 0 < theirs.sum() <= 64
