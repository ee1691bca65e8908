"""Exposure array conventions shared by the steps (mirical/formats/io.py)."""
import subprocess
import sys

import numpy as np
from astropy.io import fits

from mirical.formats.dqflags import DO_NOT_USE, JUMP_DET
from mirical.formats.io import match_nans_and_flags


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


def _asdf_extension_bytes(path):
    """The ASDF extension exactly as stored: header and data blocks."""
    with fits.open(path) as hdul:
        index = [hdu.name for hdu in hdul].index("ASDF")
        info = hdul.fileinfo(index)
    with open(path, "rb") as fh:
        fh.seek(info["hdrLoc"])
        return fh.read(info["datLoc"] - info["hdrLoc"] + info["datSpan"])


def test_asdf_extension_passes_through_unchanged_without_importing_asdf(tmp_path):
    """A step that does not touch the WCS neither parses the ASDF extension nor loads asdf (or astropy.table)."""
    image = np.arange(6, dtype=np.float32).reshape(2, 3)
    hdus = [fits.PrimaryHDU(header=fits.Header({"INSTRUME": "MIRI", "EXP_TYPE": "MIR_IMAGE"}))]
    hdus += [fits.ImageHDU(image.astype(np.uint32 if n == "DQ" else np.float32), name=n)
             for n in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")]
    tree = np.frombuffer(b"#ASDF 1.0.0\n%YAML 1.1\n--- {meta: {}}\n...\n", dtype=np.uint8)
    hdus.append(fits.BinTableHDU.from_columns([fits.Column("ASDF_METADATA", f"{tree.size}B", array=[tree])],
                                              name="ASDF"))
    source, copy = tmp_path / "in_rate.fits", tmp_path / "out_bkgsub.fits"
    fits.HDUList(hdus).writeto(source)
    code = ("import sys\nfrom mirical.formats.io import read_exposure, write_exposure\n"
            f"write_exposure(read_exposure({str(source)!r}), {str(copy)!r})\n"
            "print(sorted(m for m in ('asdf', 'astropy.table', 'gwcs') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    assert _asdf_extension_bytes(copy) == _asdf_extension_bytes(source)
    assert len(_asdf_extension_bytes(source)) == 2 * 2880  # one header block, one data block
