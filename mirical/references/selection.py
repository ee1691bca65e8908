"""Reference file selection for MIRI imager exposures.

Selection follows the CRDS matching rules (offline, no CRDS needed):

* each selector keyword of the reference type (``EXPOSURE_SELECTORS``) is
  compared with the exposure;
* the reference value is taken from its pattern keyword (``P_FILTER`` ...)
  when that is set, else from the plain keyword;
* ``A|B|`` matches A or B (a trailing ``|`` is allowed), ``*`` is a glob and
  ``ANY`` matches every value; each such match counts 1 towards the weight;
* ``N/A`` matches every value but adds nothing to the weight; for SUBARRAY
  ``GENERIC`` means ``N/A`` (the ``substitutions`` of the MIRI flat rmaps);
  a missing reference keyword is treated as ``N/A`` (a mirical convention);
* an exposure value ``N/A`` matches every reference value with weight 0, a
  missing exposure keyword only matches ``N/A``, ``ANY`` and ``*``;
* the references of highest weight are tried first; among them the newest
  USEAFTER not after the exposure's DATE-OBS + TIME-OBS wins; when none of
  them is old enough, the next lower weight is tried.

A single file the user names is not selected but used, as the official
``override_<reftype>`` is (`named_reference_warnings`): SUBARRAY, READPATT and
USEAFTER only warn; REFTYPE and the other selectors must still fit.

Sources: CRDS ``crds/core/selectors.py`` (Matcher, NaMatcher, GlobMatcher,
``MatchSelector.winnowing_match``), ``crds/core/utils.py``
(``condition_value``: ANY -> ``*``), ``crds/jwst/locate.py`` (P_ keyword
translations), the CRDS users guide (``rmap_syntax.rst``,
``reference_conventions.rst``) and jwst issue #3425 (SUBARRAY=GENERIC).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from astropy.io import fits

from mirical import __version__

# asdf and astropy.time are imported where used: most jobs select FITS references only,
# and the two imports cost ~0.3 s of CPU per job.

# Selector keywords per reference type, besides DATE-OBS/TIME-OBS (USEAFTER).
# The operational rmaps (served by jwst-crds.stsci.edu) are not stored in the
# spacetelescope/crds repository; these lists are the CRDS selection keywords
# for MIRI that the jwst documentation gives for those rmaps
# (spacetelescope/jwst docs/jwst/references_general/, "Reference Selection
# Keywords for <TYPE>").  INSTRUME picks the instrument mapping (imap).
EXPOSURE_SELECTORS: dict[str, tuple[str, ...]] = {
    # jwst_miri_distortion_*.rmap -- distortion_reffile.rst
    "distortion": ("INSTRUME", "DETECTOR", "EXP_TYPE", "CHANNEL", "BAND"),
    # jwst_miri_filteroffset_*.rmap -- filteroffset_reffile.rst
    "filteroffset": ("INSTRUME", "DETECTOR", "EXP_TYPE"),
    # jwst_miri_flat_*.rmap -- flat_selection.inc; parkey DETECTOR, FILTER,
    # BAND, READPATT, SUBARRAY.NAME (crds/jwst/specs/miri_flat.spec)
    "flat": ("INSTRUME", "DETECTOR", "FILTER", "BAND", "READPATT", "SUBARRAY"),
    # jwst_miri_photom_*.rmap -- photom_selection.inc; FILTER and SUBARRAY
    # pick a row of the PHOTOM table, they are not file selectors
    "photom": ("INSTRUME", "DETECTOR", "BAND"),
    # jwst_miri_area_*.rmap -- area_selection.inc
    "area": ("INSTRUME", "DETECTOR", "FILTER", "EXP_TYPE"),
}

# FITS keyword of the file name in the calibrated product (stdatamodels
# core.schema.yaml, meta.ref_file.<type>.name).
REF_KEYWORDS: dict[str, str] = {
    "distortion": "R_DISTOR",
    "filteroffset": "R_FILOFF",
    "flat": "R_FLAT",
    "photom": "R_PHOTOM",
    "area": "R_AREA",
}

# CRDS pattern keywords (crds users guide, "JWST Pattern Keyword Names").
PATTERN_KEYWORDS: dict[str, str] = {
    "EXP_TYPE": "P_EXP_TY",
    "BAND": "P_BAND",
    "DETECTOR": "P_DETECT",
    "CHANNEL": "P_CHANNE",
    "FILTER": "P_FILTER",
    "SUBARRAY": "P_SUBARR",
    "READPATT": "P_READPA",
}

# FITS keyword -> path in the ASDF tree under ``meta`` (jwst data model names).
META_KEYWORDS: dict[str, tuple[str, ...]] = {
    "REFTYPE": ("reftype",),
    "USEAFTER": ("useafter",),
    "PEDIGREE": ("pedigree",),
    "INSTRUME": ("instrument", "name"),
    "DETECTOR": ("instrument", "detector"),
    "P_DETECT": ("instrument", "p_detector"),
    "FILTER": ("instrument", "filter"),
    "P_FILTER": ("instrument", "p_filter"),
    "BAND": ("instrument", "band"),
    "P_BAND": ("instrument", "p_band"),
    "CHANNEL": ("instrument", "channel"),
    "P_CHANNE": ("instrument", "p_channel"),
    "EXP_TYPE": ("exposure", "type"),
    "P_EXP_TY": ("exposure", "p_exptype"),
    "READPATT": ("exposure", "readpatt"),
    "P_READPA": ("exposure", "p_readpatt"),
    "SUBARRAY": ("subarray", "name"),
    "P_SUBARR": ("subarray", "p_subarray"),
    "SUBSTRT1": ("subarray", "xstart"),
    "SUBSTRT2": ("subarray", "ystart"),
    "SUBSIZE1": ("subarray", "xsize"),
    "SUBSIZE2": ("subarray", "ysize"),
}

# Exposure FITS keyword -> CRDS matching parameter (jwst data model path).
CRDS_PARAMETERS: dict[str, str] = {
    "TELESCOP": "META.TELESCOPE",
    "INSTRUME": "META.INSTRUMENT.NAME",
    "DETECTOR": "META.INSTRUMENT.DETECTOR",
    "FILTER": "META.INSTRUMENT.FILTER",
    "BAND": "META.INSTRUMENT.BAND",
    "CHANNEL": "META.INSTRUMENT.CHANNEL",
    "EXP_TYPE": "META.EXPOSURE.TYPE",
    "READPATT": "META.EXPOSURE.READPATT",
    "SUBARRAY": "META.SUBARRAY.NAME",
    "DATE-OBS": "META.OBSERVATION.DATE",
    "TIME-OBS": "META.OBSERVATION.TIME",
}

REFERENCE_SUFFIXES = (".fits", ".asdf")
_CRDS_SERVERLESS_URL = "https://jwst-serverless-mode.stsci.edu"


class ReferenceFileError(Exception):
    """A reference file that cannot be read."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"reference file {self.path}: {reason}")


class ReferenceSelectionError(Exception):
    """No reference, or no unique one, fits an exposure."""


def read_reference_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Read the selection metadata of a FITS or ASDF reference file.

    Parameters
    ----------
    path : str or path-like
        ``.fits`` (primary header only) or ``.asdf`` (tree ``meta``) file.

    Returns
    -------
    dict
        FITS keyword names (``META_KEYWORDS``) to values; absent ones left out.

    Raises
    ------
    ReferenceFileError
        If the file is missing, truncated or not a readable FITS/ASDF file.

    Notes
    -----
    Results are cached per file identity (device, inode, size, mtime): choosing
    from a folder for N exposures reads each reference once, not N times.
    """
    path = Path(path)
    try:
        st = path.stat()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None  # missing: the reader below raises the clear error
    if key is not None and key in _META_CACHE:
        return dict(_META_CACHE[key])
    if path.suffix.lower() == ".asdf":
        meta = _read_asdf_meta(path)
    else:
        meta = _read_fits_meta(path)
    meta = {name: value.strip() if isinstance(value, str) else value
            for name, value in meta.items() if value is not None}
    if key is not None:
        _META_CACHE[key] = meta
    return dict(meta)


_META_CACHE: dict[tuple[int, int, int, int], dict[str, Any]] = {}


def _read_fits_meta(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation is checked below
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                last = hdul.fileinfo(len(hdul) - 1)
                header = hdul[0].header
                meta = {key: header.get(key) for key in META_KEYWORDS}
    except (OSError, ValueError) as exc:
        raise ReferenceFileError(path, f"not a readable FITS file ({exc})") from exc
    end = last["datLoc"] + last["datSpan"]
    if end != size:
        raise ReferenceFileError(
            path, f"truncated or damaged FITS file ({size} bytes, HDUs end at {end})")
    return meta


def _read_asdf_meta(path: Path) -> dict[str, Any]:
    """Selection metadata from the YAML tree of an ASDF file, its binary blocks checked complete.

    Only the YAML text is parsed (``asdf.util.load_yaml``, untagged): no asdf
    extension (and so neither gwcs nor astropy.modeling) is loaded to plan a run.
    """
    import asdf.util
    import yaml

    try:
        tree = asdf.util.load_yaml(str(path), tagged=False)
        if not isinstance(tree, Mapping):
            raise ValueError("no ASDF tree")
        _check_asdf_blocks(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ReferenceFileError(path, f"not a readable ASDF file ({exc})") from exc
    meta = {key: _lookup(tree.get("meta", {}), where) for key, where in META_KEYWORDS.items()}
    if isinstance(meta["USEAFTER"], Mapping):  # a time in the tagged mapping form {value: ...}
        meta["USEAFTER"] = meta["USEAFTER"].get("value")
    return {key: int(value) if key.startswith("SUBS") and str(value).isdigit() else value
            for key, value in meta.items()}


_ASDF_BLOCK_MAGIC = b"\xd3BLK"


def _check_asdf_blocks(path: Path) -> None:
    """Raise ValueError if an ASDF file ends inside one of its binary blocks.

    Each block (ASDF standard, "Blocks") is the magic ``\\xd3BLK``, a big-endian
    uint16 header size, then the header whose ``allocated_size`` (uint64 at
    byte 8 of the header) gives the bytes of data that follow.
    """
    data = path.read_bytes()
    offset = data.find(_ASDF_BLOCK_MAGIC)
    while offset != -1 and data.startswith(_ASDF_BLOCK_MAGIC, offset):
        header_start = offset + 6
        if header_start > len(data):
            raise ValueError("file ends inside a block header")
        header_size = int.from_bytes(data[offset + 4:header_start], "big")
        if header_start + header_size > len(data) or header_size < 16:
            raise ValueError("file ends inside a block header")
        allocated = int.from_bytes(data[header_start + 8:header_start + 16], "big")
        offset = header_start + header_size + allocated
        if offset > len(data):
            raise ValueError(f"file ends inside a binary block ({len(data)} bytes, block ends at {offset})")


def _lookup(tree: Mapping, where: tuple[str, ...]) -> Any:
    node: Any = tree
    for key in where:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _text(value: Any) -> str:
    return str(value).strip().upper()


def _ref_value(ref_meta: Mapping[str, Any], keyword: str) -> str:
    """Reference value of a selector: pattern keyword first, ``N/A`` if absent."""
    pattern = ref_meta.get(PATTERN_KEYWORDS.get(keyword, ""))
    if pattern is not None and _text(pattern) not in ("", "UNDEFINED"):
        return _text(pattern)
    value = ref_meta.get(keyword)
    if value is None or _text(value) == "":
        return "N/A"
    return _text(value)


def _match(ref_value: str, exp_value: str, keyword: str) -> int | None:
    """CRDS match of one selector: 1 match, 0 don't care, None no match."""
    if ref_value == "N/A" or (keyword == "SUBARRAY" and ref_value == "GENERIC"):
        return 0
    if exp_value == "N/A":
        return 0
    patterns = ["*" if part == "ANY" else part
                for part in (p.strip() for p in ref_value.split("|")) if part]
    if any(fnmatch.fnmatchcase(exp_value, p) for p in patterns):
        return 1
    return None


def _compare(ref_meta: Mapping[str, Any], exposure_header: Mapping,
             reftype: str) -> tuple[int, str | None]:
    """Return (match weight, first mismatching keyword or None)."""
    if _text(ref_meta.get("REFTYPE", "")) != reftype.upper():
        return 0, "REFTYPE"
    weight = 0
    for keyword in EXPOSURE_SELECTORS[reftype]:
        exp = exposure_header.get(keyword)
        exp_value = "UNDEFINED" if exp is None else _text(exp)
        result = _match(_ref_value(ref_meta, keyword), exp_value, keyword)
        if result is None:
            return 0, keyword
        weight += result
    return weight, None


def selection_key(reftype: str, exposure_header: Mapping) -> tuple:
    """Everything of an exposure that `select` looks at for ``reftype``: equal keys, equal choice."""
    keywords = EXPOSURE_SELECTORS[reftype.lower()] + ("DATE-OBS", "TIME-OBS", "EXPSTART")
    return (reftype.lower(),) + tuple(str(exposure_header.get(k)) for k in keywords)


def matches(ref_meta: Mapping[str, Any], exposure_header: Mapping, reftype: str) -> bool:
    """Tell whether a reference fits an exposure (ignoring USEAFTER).

    Parameters
    ----------
    ref_meta : mapping
        Output of ``read_reference_meta``.
    exposure_header : mapping
        FITS keywords of the exposure (primary header).
    reftype : str
        One of ``EXPOSURE_SELECTORS``.
    """
    return _compare(ref_meta, exposure_header, reftype.lower())[1] is None


def _mismatch_text(ref_meta: Mapping[str, Any], exposure_header: Mapping,
                   keyword: str) -> str:
    if keyword == "REFTYPE":
        return f"has REFTYPE {ref_meta.get('REFTYPE', '(none)')}"
    exp = exposure_header.get(keyword)
    return (f"is for {keyword} {_ref_value(ref_meta, keyword)} but the exposure has "
            f"{'no ' + keyword if exp is None else exp}")


def observation_time(exposure_header: Mapping) -> datetime:
    """UTC start of an exposure: DATE-OBS + TIME-OBS, else EXPSTART (MJD)."""
    date = exposure_header.get("DATE-OBS")
    if date:
        date = str(date).strip()
        time = exposure_header.get("TIME-OBS")
        if time and "T" not in date:
            date = f"{date}T{str(time).strip()}"
        return datetime.fromisoformat(date)
    start = exposure_header.get("EXPSTART")
    if start is None:
        raise ValueError("no DATE-OBS and no EXPSTART")
    from astropy.time import Time

    return Time(float(start), format="mjd", scale="utc").datetime


def _useafter(path: Path, ref_meta: Mapping[str, Any]) -> datetime:
    value = ref_meta.get("USEAFTER")
    if value is None:
        raise ReferenceFileError(path, "no USEAFTER")
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ReferenceFileError(path, f"USEAFTER {value!r} is not an ISO date") from exc


def select(reftype: str, source: str | os.PathLike, exposure_header: Mapping,
           exposure_name: str) -> str:
    """Choose the reference file of one type for one exposure.

    Parameters
    ----------
    reftype : str
        One of ``EXPOSURE_SELECTORS`` (case-insensitive).
    source : str or path-like
        A reference file (checked against the exposure) or a folder of
        ``*.fits``/``*.asdf`` reference files (searched as CRDS would).
    exposure_header : mapping
        FITS keywords of the exposure (primary header).
    exposure_name : str
        Name used in error messages.

    Returns
    -------
    str
        Path of the chosen reference file.

    Raises
    ------
    ReferenceSelectionError
        If the file does not fit, or no single file of the folder fits.
    ReferenceFileError
        If a reference file cannot be read.
    """
    reftype = reftype.lower()
    if reftype not in EXPOSURE_SELECTORS:
        raise ValueError(f"unknown reference type {reftype!r}")
    source = Path(source)
    try:
        when = observation_time(exposure_header)
    except ValueError as exc:
        raise ReferenceSelectionError(f"exposure {exposure_name}: {exc}") from exc
    if source.is_dir():
        return _select_from_folder(reftype, source, exposure_header, exposure_name, when)
    meta = read_reference_meta(source)
    _, keyword = _compare(meta, exposure_header, reftype)
    if keyword is not None:
        raise ReferenceSelectionError(
            f"{reftype} reference {source} {_mismatch_text(meta, exposure_header, keyword)}"
            f" (exposure {exposure_name})")
    if _useafter(source, meta) > when:
        raise ReferenceSelectionError(
            f"{reftype} reference {source} has USEAFTER {meta['USEAFTER']}, later than "
            f"exposure {exposure_name} ({when.isoformat()})")
    return str(source)


# Selectors a reference named in ``reference_files`` may differ in from the exposure.
# The official pipeline uses an override file whatever its header says; these keywords
# only decide which file CRDS would pick (a full-frame flat is cut to the exposure's
# subarray by geometry), so a mismatch is a warning. Every other selector (REFTYPE,
# INSTRUME, DETECTOR, FILTER, EXP_TYPE, ...) changes the science: still an error.
LENIENT_SELECTORS = ("SUBARRAY", "READPATT")


def named_reference_warnings(reftype: str, path: str | os.PathLike, exposure_header: Mapping,
                             exposure_name: str) -> list[str]:
    """Check a reference file the user named (as the official ``override_<reftype>``).

    Returns
    -------
    list of str
        One text per mismatch the file is used despite: SUBARRAY, READPATT
        (``LENIENT_SELECTORS``) or a USEAFTER later than the exposure.

    Raises
    ------
    ReferenceSelectionError
        If the file is of another REFTYPE or differs in any other selector.
    ReferenceFileError
        If the file cannot be read or has no USEAFTER.
    """
    reftype = reftype.lower()
    meta = read_reference_meta(path)
    if _text(meta.get("REFTYPE", "")) != reftype.upper():
        raise ReferenceSelectionError(f"{reftype} reference {path} {_mismatch_text(meta, exposure_header, 'REFTYPE')}"
                                      f" (exposure {exposure_name})")
    warned = []
    for keyword in EXPOSURE_SELECTORS[reftype]:
        exp = exposure_header.get(keyword)
        if _match(_ref_value(meta, keyword), "UNDEFINED" if exp is None else _text(exp), keyword) is not None:
            continue
        text = f"{reftype} reference {path} {_mismatch_text(meta, exposure_header, keyword)}"
        if keyword not in LENIENT_SELECTORS:
            raise ReferenceSelectionError(f"{text} (exposure {exposure_name})")
        warned.append(text)
    try:
        when = observation_time(exposure_header)
    except ValueError as exc:
        raise ReferenceSelectionError(f"exposure {exposure_name}: {exc}") from exc
    if _useafter(Path(path), meta) > when:
        warned.append(f"{reftype} reference {path} has USEAFTER {meta['USEAFTER']}, later than the "
                      f"exposure ({when.isoformat()})")
    return warned


def _select_from_folder(reftype: str, folder: Path, exposure_header: Mapping,
                        exposure_name: str, when: datetime) -> str:
    by_weight: dict[int, list[tuple[datetime, Path]]] = {}
    rejected = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in REFERENCE_SUFFIXES:
            continue
        meta = read_reference_meta(path)
        weight, keyword = _compare(meta, exposure_header, reftype)
        if keyword == "REFTYPE":
            continue
        if keyword is not None:
            rejected.append(f"{path.name} {_mismatch_text(meta, exposure_header, keyword)}")
            continue
        useafter = _useafter(path, meta)
        if useafter > when:
            rejected.append(f"{path.name} has USEAFTER {meta['USEAFTER']}")
            continue
        by_weight.setdefault(weight, []).append((useafter, path))
    if not by_weight:
        why = "; ".join(rejected) if rejected else f"no {reftype} reference files there"
        raise ReferenceSelectionError(
            f"no {reftype} reference in {folder} fits exposure {exposure_name} "
            f"(observed {when.isoformat()}): {why}")
    candidates = by_weight[max(by_weight)]
    newest = max(useafter for useafter, _ in candidates)
    best = [path for useafter, path in candidates if useafter == newest]
    if len(best) > 1:
        raise ReferenceSelectionError(
            f"{len(best)} {reftype} references in {folder} fit exposure {exposure_name} "
            f"equally well (USEAFTER {newest.isoformat()}): "
            + ", ".join(path.name for path in best))
    return str(best[0])


def select_with_crds(reftype: str, exposure_header: Mapping, crds_path: str | os.PathLike,
                     context: str | None = None, exposure_name: str = "") -> str:
    """Choose a reference with the CRDS client from a local CRDS cache.

    CRDS runs serverless (no network): the rules (``mappings/jwst``), the
    cache configuration (``config/jwst/server_config``) and the reference
    files must already be in ``crds_path`` (e.g. from ``crds sync``).

    Parameters
    ----------
    reftype : str
        One of ``EXPOSURE_SELECTORS``.
    exposure_header : mapping
        FITS keywords of the exposure.
    crds_path : str or path-like
        Root of the CRDS cache (``CRDS_PATH``).
    context : str, optional
        Pipeline mapping, e.g. ``jwst_1322.pmap``; default: the cache's own.
    exposure_name : str, optional
        Name used in error messages.

    Returns
    -------
    str
        Path of the reference file in the cache.
    """
    try:
        import crds
        from crds.client import api
        from crds.core.exceptions import CrdsError
    except ImportError as exc:
        raise ReferenceSelectionError(
            "CRDS selection was asked for but the crds package is not installed") from exc
    for needed in (Path(crds_path, "mappings", "jwst"),
                   Path(crds_path, "config", "jwst", "server_config")):
        if not needed.exists():
            raise ReferenceSelectionError(
                f"{crds_path} is not a synced CRDS cache: {needed} is missing")
    api.set_crds_server(_CRDS_SERVERLESS_URL)
    parameters = {name: exposure_header[key] for key, name in CRDS_PARAMETERS.items()
                  if exposure_header.get(key) is not None}
    where = f"CRDS ({context or 'default context'}, cache {crds_path})"
    saved = os.environ.get("CRDS_PATH")
    os.environ["CRDS_PATH"] = str(crds_path)
    try:
        found = crds.getreferences(parameters, reftypes=[reftype.lower()],
                                   context=context, observatory="jwst")
    except (CrdsError, OSError) as exc:
        raise ReferenceSelectionError(
            f"{where} found no {reftype} reference for exposure {exposure_name}: {exc}"
        ) from exc
    finally:
        if saved is None:
            del os.environ["CRDS_PATH"]
        else:
            os.environ["CRDS_PATH"] = saved
    path = found.get(reftype.lower(), "N/A")
    if path == "N/A" or path.upper().startswith("NOT FOUND"):
        raise ReferenceSelectionError(
            f"{where} gives no {reftype} reference for exposure {exposure_name}: {path}")
    return path


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def selection_record(selected: Mapping[str, str], crds_context: str | None = None,
                     warnings: Mapping[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    """Provenance of the references chosen for one product.

    Parameters
    ----------
    selected : mapping
        Reference type -> path of the chosen file.
    crds_context : str, optional
        The CRDS context, when the files were chosen by CRDS.
    warnings : mapping, optional
        Reference type -> what a named file was used despite
        (`named_reference_warnings`).

    Returns
    -------
    dict
        JSON-ready ``{reftype: {path, name, useafter, sha256, keyword, value, warnings}}``;
        ``keyword``/``value`` are the product's FITS keyword (``R_FLAT`` ...)
        and its value as mirical writes it: ``crds://NAME`` for a CRDS choice,
        else the file name (the full path and checksum are in this record, so
        headers stay free of machine-specific paths and reproducible).
        With a context, entries also hold ``crds_context``.
    """
    record: dict[str, dict[str, Any]] = {}
    for reftype, path in selected.items():
        reftype = reftype.lower()
        absolute = os.path.abspath(path)
        name = os.path.basename(absolute)
        entry = {
            "path": absolute,
            "name": name,
            "useafter": str(read_reference_meta(absolute).get("USEAFTER", "")),
            "sha256": _sha256(absolute),
            "keyword": REF_KEYWORDS[reftype],
            "value": f"crds://{name}" if crds_context else name,
            "warnings": list((warnings or {}).get(reftype, [])),
        }
        if crds_context:
            entry["crds_context"] = crds_context
        record[reftype] = entry
    return record


def provenance_record(product: str, science: str, selected: Mapping[str, str],
                      errors: Mapping[str, str],
                      warnings: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The ``{product}_refs.json`` record: the references one product used, and why any is missing.

    ``selected`` maps reference type -> path (see `selection_record`); ``errors``
    maps reference type -> why none could be chosen ('' when one was);
    ``warnings`` maps reference type -> what a named file was used despite.
    """
    return {
        "product": product,
        "software": f"mirical {__version__}",
        "science": os.path.basename(science),
        "references": selection_record(selected, warnings=warnings),
        "errors": {t: e for t, e in errors.items() if e},
    }
