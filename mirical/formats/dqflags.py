"""JWST data-quality bit flags (the values of stdatamodels' ``dqflags``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

PIXEL: dict[str, int] = {
    "GOOD": 0,
    "DO_NOT_USE": 1 << 0,
    "SATURATED": 1 << 1,
    "JUMP_DET": 1 << 2,
    "DROPOUT": 1 << 3,
    "OUTLIER": 1 << 4,
    "PERSISTENCE": 1 << 5,
    "AD_FLOOR": 1 << 6,
    "CHARGELOSS": 1 << 7,
    "RESERVED": 1 << 8,
    "NON_SCIENCE": 1 << 9,
    "DEAD": 1 << 10,
    "HOT": 1 << 11,
    "WARM": 1 << 12,
    "LOW_QE": 1 << 13,
    "RC": 1 << 14,
    "TELEGRAPH": 1 << 15,
    "NONLINEAR": 1 << 16,
    "BAD_REF_PIXEL": 1 << 17,
    "NO_FLAT_FIELD": 1 << 18,
    "NO_GAIN_VALUE": 1 << 19,
    "NO_LIN_CORR": 1 << 20,
    "NO_SAT_CHECK": 1 << 21,
    "UNRELIABLE_BIAS": 1 << 22,
    "UNRELIABLE_DARK": 1 << 23,
    "UNRELIABLE_SLOPE": 1 << 24,
    "UNRELIABLE_FLAT": 1 << 25,
    "OPEN": 1 << 26,
    "ADJ_OPEN": 1 << 27,
    "FLUX_ESTIMATED": 1 << 28,
    "MSA_FAILED_OPEN": 1 << 29,
    "OTHER_BAD_PIXEL": 1 << 30,
    "REFERENCE_PIXEL": 1 << 31,
}

DO_NOT_USE = PIXEL["DO_NOT_USE"]
JUMP_DET = PIXEL["JUMP_DET"]
NON_SCIENCE = PIXEL["NON_SCIENCE"]
HOT = PIXEL["HOT"]
NO_FLAT_FIELD = PIXEL["NO_FLAT_FIELD"]
REFERENCE_PIXEL = PIXEL["REFERENCE_PIXEL"]


def bitmask() -> ModuleType:
    """astropy's ``astropy.nddata.bitmask`` (the bit-flag syntax jwst's steps read), loaded alone.

    That module needs only numpy; importing it by name first runs ``astropy.nddata``'s package,
    which imports astropy.wcs, astropy.coordinates and more (~0.6 s CPU). Planning checks every
    ``good_bits`` with it (`check_good_bits`), so it is loaded from its file; by name where that fails.
    """
    loaded = sys.modules.get("astropy.nddata.bitmask")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("astropy")  # finds the package without importing it
    path = Path(spec.origin).parent / "nddata" / "bitmask.py" if spec and spec.origin else None
    module = sys.modules.get(_BITMASK)
    if module is None and path is not None and path.is_file():
        file_spec = importlib.util.spec_from_file_location(_BITMASK, path)
        module = importlib.util.module_from_spec(file_spec)
        try:
            file_spec.loader.exec_module(module)
        except ImportError:
            module = None
        else:
            sys.modules[_BITMASK] = module
    if module is None:
        import astropy.nddata.bitmask as module
    return module


_BITMASK = "mirical._astropy_bitmask"  # the name `bitmask` loads astropy's module under


def good_pixels(dq: np.ndarray, good_bits: str | int | None) -> np.ndarray:
    """Boolean mask, True where ``dq`` has no bit outside ``good_bits`` (jwst's ``good_bits`` expression).

    ``good_bits`` as the official steps read it (astropy's bit-flag syntax, the
    mnemonics of `PIXEL`): an integer or "4+8" / "4,8" / "JUMP_DET,DROPOUT"
    are the bits a good pixel may have; a leading "~" turns the list into the
    bits it must not have ("~DO_NOT_USE+NON_SCIENCE"); None (or "None", "")
    makes every pixel good.
    """
    return bitmask().bitfield_to_boolean_mask(dq, good_bits, good_mask_value=True, dtype=bool, flag_name_map=PIXEL)


def check_good_bits(good_bits: str | int | None) -> None:
    """Raise ValueError naming the cause if ``good_bits`` is not a bit-flag expression (`good_pixels`)."""
    try:
        bitmask().interpret_bit_flags(good_bits, flag_name_map=PIXEL)
    except KeyError as exc:
        raise ValueError(f"{good_bits!r}: {exc} is not a DQ flag name (names are upper case: DO_NOT_USE, ...)") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{good_bits!r} is not a DQ bit expression ({exc})") from None


def standard_dq(dq: np.ndarray, dq_def: np.ndarray | None) -> np.ndarray:
    """A reference file's DQ in the standard bits, through its DQ_DEF table.

    As stdatamodels' ``dynamic_mask`` when a reference model is opened: each
    DQ_DEF row (NAME, VALUE) maps the file's bit VALUE to the standard bit of
    NAME; bits no row names, and rows whose NAME is not a standard mnemonic,
    are dropped. Without a (non-empty) DQ_DEF the DQ is used as it is.
    """
    if dq_def is None or len(dq_def) == 0:
        return dq
    out = np.zeros(dq.shape, dtype=dq.dtype)
    for name, value in zip(dq_def["NAME"], dq_def["VALUE"]):
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        standard = PIXEL.get(text.strip())
        if standard is not None:
            out[(dq & int(value)) != 0] |= standard
    return out
