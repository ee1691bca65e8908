"""Reading and writing JWST-format MIRI imager exposures (rate, rateints, cal, calints, intermediates).

An exposure file is a FITS file: an empty primary HDU carrying most keywords, the
image extensions SCI, ERR, DQ, VAR_POISSON, VAR_RNOISE (later VAR_FLAT, AREA)
and, when present, the ``ASDF`` extension holding the JWST metadata tree (and,
from assign_wcs on, the gwcs). The ASDF extension is carried through as raw
bytes: nothing here imports asdf or gwcs. A rateints/calints file (stdatamodels'
CubeModel) has 3-D SCI, ERR, DQ and VAR_* (one image per integration), a 2-D AREA
and, when present, the ``INT_TIMES`` table, carried through unchanged.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical import __version__
from mirical.errors import MiricalError
from mirical.formats.atomic import atomic_path
from mirical.formats.dqflags import DO_NOT_USE, standard_dq

REQUIRED = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")
IMAGE_ORDER = ("SCI", "ERR", "DQ", "CON", "WHT", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "AREA")
DTYPES = {"DQ": np.uint32, "CON": np.int32}
UNITS_SB = {"SCI": 1, "ERR": 1, "VAR_POISSON": 2, "VAR_RNOISE": 2, "VAR_FLAT": 2}
#: Table extensions carried through unchanged (a CubeModel's integration times).
CARRIED_TABLES = ("INT_TIMES",)
#: Image extensions that hold one 2-D image even in a per-integration (3-D) exposure.
IMAGE_ONLY = ("AREA",)


@dataclass
class Exposure:
    """One exposure in memory: headers, image arrays and the raw ASDF extension."""

    primary: fits.Header
    sci_header: fits.Header
    arrays: dict[str, np.ndarray]
    asdf: fits.BinTableHDU | None = None
    path: str = ""
    ext_headers: dict[str, fits.Header] = field(default_factory=dict)
    tables: list[fits.BinTableHDU] = field(default_factory=list)  # CARRIED_TABLES present, in file order

    def get(self, key: str, default=None):
        """A keyword from the primary header, else the SCI header, else ``default``."""
        if key in self.primary:
            return self.primary[key]
        return self.sci_header.get(key, default)

    def require(self, key: str):
        """A keyword that must be present; a clear error naming the file otherwise."""
        value = self.get(key)
        if value is None:
            raise MiricalError(self.path, f"keyword {key} is missing")
        return value

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the detector image (of each integration's image for a 3-D SCI)."""
        return self.arrays["SCI"].shape[-2:]

    @property
    def ints(self) -> bool:
        """One image per integration (3-D SCI, a rateints or calints file)."""
        return self.arrays["SCI"].ndim == 3


def _open(path: str | os.PathLike) -> fits.HDUList:
    """Open a FITS file fully into memory, turning every failure into MiricalError."""
    path = str(path)
    if not os.path.exists(path):
        raise MiricalError(path, "file does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # truncation is only a warning in astropy
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
            for hdu in hdul:
                _ = hdu.data
    except MiricalError:
        raise
    except Exception as exc:  # astropy raises many types for broken files
        raise MiricalError(path, f"not a readable FITS file ({_short(exc)})") from None
    return hdul


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_exposure(path: str | os.PathLike, check_instrument: bool = True, ints: bool | None = None) -> Exposure:
    """Read a MIRI imager exposure, checking instrument, mode, extensions and shapes.

    ``ints``: the file must hold one image per integration (True: a rateints, 3-D SCI) or a
    single image (False: a rate, 2-D SCI); None accepts either (the steps' intermediates).
    """
    path = str(path)
    with _open(path) as hdul:
        names = [hdu.name for hdu in hdul]
        missing = [n for n in REQUIRED if n not in names]
        if missing:
            raise MiricalError(path, f"missing extension(s) {', '.join(missing)}")
        arrays = {}
        ext_headers = {}
        for name in IMAGE_ORDER:
            if name in names:
                hdu = hdul[name]
                if hdu.data is None:
                    raise MiricalError(path, f"extension {name} holds no data")
                arrays[name] = np.asarray(hdu.data)
                ext_headers[name] = hdu.header.copy()
        # the HDU itself, its data already in memory: .copy() would import astropy.table (and,
        # through its plug-ins, asdf) in every job, ~0.1 s CPU; the bytes written are the same
        asdf_hdu = hdul["ASDF"] if "ASDF" in names else None
        tables = [hdu for hdu in hdul if hdu.name in CARRIED_TABLES]
        exposure = Exposure(
            primary=hdul[0].header.copy(),
            sci_header=hdul["SCI"].header.copy(),
            arrays=arrays,
            asdf=asdf_hdu,
            path=path,
            ext_headers=ext_headers,
            tables=tables,
        )
    if check_instrument:
        check_miri_imager(exposure)
    check_shapes(exposure, ints)
    return exposure


def read_member(path: str | os.PathLike) -> Exposure:
    """Read an association member: a ``_rateints.fits`` must hold a 3-D SCI, any other file a 2-D one.

    A member must be an uncalibrated rate/rateints file with at least one finite pixel
    (`check_uncalibrated`, `check_has_data`).
    """
    from mirical.formats.association import is_rateints

    check_not_a_product_name(path)
    exposure = read_exposure(path, ints=is_rateints(path))
    check_uncalibrated(exposure)
    check_has_data(exposure)
    return exposure


#: The pointing keywords of the SCI header that assign_wcs reads.
POINTING_KEYWORDS = ("V2_REF", "V3_REF", "ROLL_REF", "RA_REF", "DEC_REF")
#: File names of calibrated products (stage 2 and 3), which are never association members.
PRODUCT_NAME = re.compile(r"_(cal|calints|crf|i2d)\.fits(\.gz)?$", re.IGNORECASE)
#: The stage-2 status keywords (COMPLETE once a step ran): a member with one of them is calibrated.
STAGE2_KEYWORDS = {"S_BKDSUB": "background", "S_WCS": "assign_wcs", "S_FLAT": "flat_field",
                   "S_PHOTOM": "photom", "S_RESAMP": "resample", "S_OUTLIR": "outlier_detection"}


def check_not_a_product_name(path: str | os.PathLike) -> None:
    """Refuse a member named like a calibrated product (``_cal.fits``, ``_i2d.fits``, ...)."""
    match = PRODUCT_NAME.search(os.path.basename(str(path)))
    if match:
        raise MiricalError(str(path), f"this is a calibrated product (_{match.group(1)}.fits), not a rate file: "
                                      "give the _rate.fits (or _rateints.fits) it was made from")


def check_uncalibrated(exposure: Exposure) -> None:
    """Refuse a member that is already (partly) calibrated: a stage-2 step COMPLETE, or SCI not in DN/s."""
    done = [f"{key} ({step})" for key, step in STAGE2_KEYWORDS.items()
            if str(exposure.get(key, "")).strip().upper() == "COMPLETE"]
    if done:
        raise MiricalError(exposure.path, f"already calibrated: {', '.join(done)} COMPLETE; mirical calibrates "
                                          "rate files, give the _rate.fits it was made from")
    unit = exposure.sci_header.get("BUNIT")
    if unit is not None and str(unit).replace(" ", "").lower() not in ("dn/s", "dn.s**-1", "dn.s-1"):
        raise MiricalError(exposure.path, f"SCI BUNIT is {unit}, not DN/s: a calibrated file, not a rate file; "
                                          "give the _rate.fits it was made from")


def check_has_data(exposure: Exposure) -> None:
    """Refuse an exposure whose SCI holds no finite pixel (nothing to calibrate)."""
    if not np.isfinite(exposure.arrays["SCI"]).any():
        raise MiricalError(exposure.path, "SCI has no finite pixel (all NaN or infinite): nothing to calibrate")


def check_miri_imager(exposure: Exposure) -> None:
    """Refuse exposures that are not MIRI imager images."""
    instrument = str(exposure.get("INSTRUME", "")).strip().upper()
    if instrument != "MIRI":
        raise MiricalError(exposure.path,
                           f"INSTRUME is {instrument or 'missing'}, not MIRI: mirical calibrates MIRI imager exposures only")
    exp_type = str(exposure.get("EXP_TYPE", "")).strip().upper()
    if exp_type != "MIR_IMAGE":
        raise MiricalError(exposure.path,
                           f"EXP_TYPE is {exp_type or 'missing'}, not MIR_IMAGE: not a MIRI imager exposure")


def check_shapes(exposure: Exposure, ints: bool | None = None) -> None:
    """SCI is 2-D (3-D: one image per integration, as ``ints`` asks); the other image extensions
    share its shape (AREA: one image); the image matches SUBSIZE1/2."""
    full = exposure.arrays["SCI"].shape
    if ints is True and len(full) != 3:
        raise MiricalError(exposure.path, f"SCI is {len(full)}-D: a _rateints file holds one image per "
                                          "integration (3-D SCI); a single image is a _rate file")
    if ints is False and len(full) == 3:
        raise MiricalError(exposure.path, "SCI is 3-D (one image per integration): name the file "
                                          "..._rateints.fits, a _rate file holds one 2-D image")
    if len(full) not in (2, 3) or 0 in full:
        raise MiricalError(exposure.path, f"SCI has shape {full}, expected a 2-D image or a 3-D stack of "
                                          "integrations (rateints)")
    for name, array in exposure.arrays.items():
        expected = full[-2:] if name in IMAGE_ONLY else full
        if array.shape != expected:
            raise MiricalError(exposure.path, f"{name} has shape {array.shape}, expected {expected} (SCI {full})")
    shape = exposure.shape
    xsize, ysize = exposure.get("SUBSIZE1"), exposure.get("SUBSIZE2")
    if xsize is not None and ysize is not None and (int(ysize), int(xsize)) != shape:
        raise MiricalError(exposure.path,
                           f"SUBSIZE1/2 = {xsize}x{ysize} does not match the SCI shape {shape[1]}x{shape[0]}")


#: The variance arrays of an exposure, in file order.
VARIANCES = ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT")


def match_nans_and_flags(arrays: dict[str, np.ndarray | None]) -> dict[str, np.ndarray | None]:
    """NaN and DO_NOT_USE made consistent, as jwst's ``match_nans_and_flags``.

    A pixel that is NaN in SCI, ERR or a variance array, or DO_NOT_USE in DQ,
    becomes NaN in all of them and DO_NOT_USE in DQ. Returns new arrays (dtypes
    kept); arrays that are absent or None, and any other entry, are left alone.
    """
    floats = [name for name in ("SCI", "ERR") + VARIANCES if arrays.get(name) is not None]
    bad = (arrays["DQ"] & DO_NOT_USE) != 0
    for name in floats:
        bad |= np.isnan(arrays[name])
    out = dict(arrays)
    for name in floats:
        out[name] = np.where(bad, np.nan, arrays[name])
    out["DQ"] = np.where(bad, arrays["DQ"] | DO_NOT_USE, arrays["DQ"])
    return out


HISTORY_WIDTH = 72  # characters of text in one FITS HISTORY card


def history_lines(step: str, params: dict | None = None, references: Iterable[str] = ()) -> list[str]:
    """The HISTORY text of a step: ``mirical <version> <step>`` + parameters, one line per reference.

    Lines are broken between ``key=value`` items so each fits one card: FITS
    would otherwise cut names in the middle, and stdatamodels reads every card
    as a history entry of its own.
    """
    prefix = f"mirical {__version__} {step}"
    lines, line = [], prefix
    for item in (f"{k}={v}" for k, v in sorted((params or {}).items())):
        if line != prefix and len(line) + 1 + len(item) > HISTORY_WIDTH:
            lines.append(line)
            line = prefix
        line += " " + item
    lines.append(line)
    lines.extend(f"{prefix} ref={Path(ref).name}" for ref in references)
    return lines


def add_history(exposure: Exposure, step: str, params: dict | None = None,
                references: Iterable[str] = ()) -> None:
    """Record how the step ran: mirical version, its parameters and references."""
    exposure.primary["MIRICALV"] = (__version__, "mirical version")
    for line in history_lines(step, params, references):
        exposure.primary.add_history(line)


def to_hdulist(exposure: Exposure) -> fits.HDUList:
    """Assemble the HDU list in the JWST order (images, then ASDF)."""
    hdus: list[fits.hdu.base.ExtensionHDU | fits.PrimaryHDU] = [fits.PrimaryHDU(header=exposure.primary)]
    for name in IMAGE_ORDER:
        if name not in exposure.arrays:
            continue
        header = exposure.sci_header if name == "SCI" else exposure.ext_headers.get(name, fits.Header())
        data = np.asarray(exposure.arrays[name], dtype=DTYPES.get(name, np.float32))
        hdu = fits.ImageHDU(data=data, header=header.copy(), name=name)
        hdu.header["EXTNAME"] = name
        hdu.header["EXTVER"] = 1
        hdus.append(hdu)
    hdus.extend(exposure.tables)
    if exposure.asdf is not None:
        hdus.append(exposure.asdf)
    return fits.HDUList(hdus)


def write_atomic(hdulist: fits.HDUList, path: str | os.PathLike) -> None:
    """Write FITS to a temporary name beside ``path`` and rename it when complete."""
    with atomic_path(path) as tmp:
        hdulist.writeto(tmp, overwrite=True, output_verify="silentfix")


def write_exposure(exposure: Exposure, path: str | os.PathLike) -> None:
    """Write an exposure atomically; the FILENAME keyword becomes the new name."""
    exposure.primary["FILENAME"] = Path(path).name
    write_atomic(to_hdulist(exposure), path)


def set_units(exposure: Exposure, unit: str) -> None:
    """Set BUNIT of SCI/ERR to ``unit`` and of the variances to its square."""
    exposure.sci_header["BUNIT"] = unit
    for name, power in UNITS_SB.items():
        if name == "SCI" or name not in exposure.arrays:
            continue
        header = exposure.ext_headers.setdefault(name, fits.Header())
        header["BUNIT"] = unit if power == 1 else f"({unit})^2"


@dataclass
class ReferenceImage:
    """A full-frame (or subarray) reference image: FLAT or AREA."""

    arrays: dict[str, np.ndarray]
    header: fits.Header
    path: str

    @property
    def frame(self) -> tuple[int, int, int, int]:
        """(xstart, ystart, xsize, ysize) of the reference on the detector."""
        from mirical.formats.subarray import frame

        ny, nx = self.arrays["SCI"].shape
        header = dict(self.header)
        header["SUBSIZE1"], header["SUBSIZE2"] = nx, ny  # the array's size wins (jwst ref_matches_sci)
        return frame(header)


def read_reference_image(path: str | os.PathLike, extensions: tuple[str, ...]) -> ReferenceImage:
    """Read the named image extensions of a FITS reference file (FLAT: SCI/ERR/DQ, AREA: SCI)."""
    path = str(path)
    with _open(path) as hdul:
        names = [hdu.name for hdu in hdul]
        missing = [n for n in extensions if n not in names]
        if missing:
            raise MiricalError(path, f"reference file lacks extension(s) {', '.join(missing)}")
        arrays = {n: np.asarray(hdul[n].data) for n in extensions}
        if "DQ" in arrays and "DQ_DEF" in names:  # the file's bits -> the standard ones
            arrays["DQ"] = standard_dq(arrays["DQ"], hdul["DQ_DEF"].data)
        header = hdul[0].header.copy()
    return ReferenceImage(arrays, header, path)


def read_tables(path: str | os.PathLike, names: tuple[str, ...], required: tuple[str, ...]
                ) -> tuple[dict[str, np.ndarray], fits.Header]:
    """Read binary tables of a FITS reference file (e.g. PHOTOM and TIMECOEFF_*)."""
    path = str(path)
    with _open(path) as hdul:
        present = [hdu.name for hdu in hdul]
        missing = [n for n in required if n not in present]
        if missing:
            raise MiricalError(path, f"reference file lacks table(s) {', '.join(missing)}")
        tables = {n: np.asarray(hdul[n].data) for n in names if n in present}
        header = hdul[0].header.copy()
    return tables, header


def read_catalog(path: str | os.PathLike):
    """A catalog a user names (any table format astropy reads), or one line naming the file."""
    from astropy.table import Table

    try:
        return Table.read(path)
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise MiricalError(str(path), f"not a readable catalog ({exc})") from None


def reference_name(path: str | os.PathLike) -> str:
    """How a reference file is recorded in R_* keywords: its file name.

    The full path and checksum go to the product's ``_refs.json``; headers keep
    no machine-specific paths, so outputs are reproducible.
    """
    return Path(path).name
