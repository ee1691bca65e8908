"""The JWST ``ASDF`` FITS extension: the metadata tree (and the gwcs) of an exposure.

Layout (as stdatamodels ``fits_support`` writes it): a ``BinTableHDU`` with
EXTNAME ``ASDF``, one row and one column ``ASDF_METADATA`` of format ``<n>B``
(uint8) holding the bytes of a complete ASDF file. Arrays that live in FITS
extensions appear in the tree as ``core/ndarray`` nodes whose ``source`` is
``"fits:<EXTNAME>,<EXTVER>"`` (with ``shape``, ``datatype``, ``byteorder: big``);
other arrays are ordinary ASDF blocks inside those bytes. The gwcs is at
``tree["meta"]["wcs"]``.

What stdatamodels (6.x, ``datamodels.open``) requires of a file we write:

- ``DATAMODL = 'ImageModel'`` in the primary header selects the model class;
  SCI/ERR/DQ/VAR_*/AREA are found by EXTNAME (and EXTVER 1) through the schema's
  ``fits_hdu``, so the tree needs no array references at all.
- FITS keywords override the tree: the tree is taken as authoritative only when
  ``tree["_fits_hash"]`` equals the SHA-256 of all non-ASDF headers and DATAMODL
  names the opened class. Otherwise every schema keyword present in the headers
  replaces the tree value; a schema keyword absent from the headers leaves the
  tree value in place. `with_wcs` therefore drops ``_fits_hash`` (our later steps
  edit headers without touching the tree) and the ``meta.wcsinfo`` FITS-WCS terms
  that the SIP header replaces (else a stale CDELT/PC would resurface).
- References ``fits:NAME,VER`` to an extension the file lacks make the open fail
  (KeyError), so `with_wcs` drops all of them; they are redundant (above).
- Without DATAMODL, ``open`` warns (NoTypeWarning) and guesses ImageModel from the
  2-D SCI. With DATAMODL='ImageModel', TELESCOP, INSTRUME, DETECTOR, EXP_TYPE,
  FILTER, SUBARRAY, SUBSTRT1/2, SUBSIZE1/2 and the tree ``{"meta": {"wcs": wcs}}``,
  ``open`` and ``validate`` raise no warning; keyword values outside the schema
  enums (e.g. READPATT) give a ValidationWarning.
- Only schema keywords reach FITS when stdatamodels saves: e.g. the SIP terms
  AP_0_1/AP_1_0/BP_0_1/BP_1_0 and SIPMXERR are never in an official SCI header.

Nothing here imports asdf at module level: callers that only copy the HDU pay
nothing for it.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np
from astropy.io import fits

EXTNAME = "ASDF"
COLUMN = "ASDF_METADATA"
FITS_SOURCE_PREFIX = "fits:"
_NDARRAY_TAG_PREFIX = "tag:stsci.edu:asdf/core/ndarray-"
# The header hash that would make stdatamodels ignore our edited FITS keywords.
_FITS_HASH_KEY = "_fits_hash"
# meta.wcsinfo keys dropped when a new WCS is set (the official step deletes them too).
_REPLACED_WCSINFO = ("cdelt1", "cdelt2", "pc1_1", "pc1_2", "pc2_1", "pc2_2",
                     "cd1_1", "cd1_2", "cd2_1", "cd2_2", "a_order", "b_order", "ap_order", "bp_order")
_SIP_PREFIXES = ("a_", "b_", "ap_", "bp_")


def hdu_bytes(hdu: fits.BinTableHDU) -> bytes:
    """The ASDF file held in an ``ASDF`` extension."""
    return np.asarray(hdu.data[COLUMN][0], dtype=np.uint8).tobytes()


def _is_fits_reference(node: Any) -> bool:
    """True for a raw ``core/ndarray`` node pointing into a FITS extension."""
    from asdf.tagged import TaggedDict

    return (isinstance(node, TaggedDict) and node._tag.startswith(_NDARRAY_TAG_PREFIX)
            and str(node.get("source", "")).startswith(FITS_SOURCE_PREFIX))


def _detach(node: Any, raw: Any) -> Any:
    """Copy of a converted tree: FITS references kept as raw nodes, blocks loaded."""
    from asdf.tagged import Tagged, TaggedDict
    from asdf.tags.core import NDArrayType

    if _is_fits_reference(raw):
        return TaggedDict(dict(raw), raw._tag)
    if isinstance(node, NDArrayType):
        return np.array(node)
    if isinstance(node, dict) and not isinstance(node, Tagged):
        raw = raw if isinstance(raw, dict) else {}
        return {key: _detach(value, raw.get(key)) for key, value in node.items()}
    if isinstance(node, list) and not isinstance(node, Tagged):
        raw = raw if isinstance(raw, list) and len(raw) == len(node) else [None] * len(node)
        return [_detach(value, r) for value, r in zip(node, raw, strict=True)]
    return node


def read_tree(hdu: fits.BinTableHDU) -> dict:
    """Deserialize an ``ASDF`` extension into a plain tree.

    ASDF blocks are read into memory; references to FITS extensions stay as
    raw ``core/ndarray`` nodes (`make_hdu` writes them back unchanged). The keys
    asdf adds itself (``asdf_library``, ``history.extensions``) are left out.
    """
    import asdf
    from asdf.util import load_yaml

    data = hdu_bytes(hdu)
    # the raw tree only serves to keep FITS references as they are: none without their "fits:" source
    raw = load_yaml(io.BytesIO(data), tagged=True) if FITS_SOURCE_PREFIX.encode() in data else None
    with asdf.open(io.BytesIO(data), lazy_load=True, lazy_tree=False, memmap=False) as af:
        tree = _detach(dict(af.tree), raw)
    tree.pop("asdf_library", None)
    history = tree.pop("history", None)
    entries = history.get("entries") if isinstance(history, dict) else history  # list: old format
    if entries:
        tree["history"] = {"entries": entries}
    return tree


@functools.cache
def _sorted_history_file() -> type:
    """An ``asdf.AsdfFile`` that lists the extensions it used (``history.extensions``) sorted by URI, then
    class name, instead of in set order (which changes between processes).

    asdf fills that list once it has converted the tree (``_update_extension_history``, the list of its
    serialization context's extensions): entries already in the tree that name a used extension are
    replaced in place, the others appended. Seeding the list with the used extensions, sorted, just
    before asdf fills it gives one write the bytes that writing twice would (once to learn the list,
    then again with it sorted in the tree).
    """
    import asdf

    class SortedHistoryFile(asdf.AsdfFile):
        def _update_extension_history(self, tree, serialization_context):
            used = sorted(serialization_context._extensions_used,
                          key=lambda e: (str(e.extension_uri), e.class_name))
            if isinstance(tree.get("history"), dict):
                tree["history"]["extensions"] = [{"extension_class": e.class_name, "extension_uri": e.extension_uri}
                                                 for e in used]
            super()._update_extension_history(tree, serialization_context)

    return SortedHistoryFile


def asdf_bytes(tree: dict, **write_options: Any) -> bytes:
    """Serialize ``tree`` as an ASDF file (same tree -> same bytes, in any process): the extensions
    asdf used listed in a fixed order (`_sorted_history_file`)."""
    history = {k: v for k, v in (tree.get("history") or {}).items() if k != "extensions"}
    buffer = io.BytesIO()
    _sorted_history_file()({**tree, "history": history}).write_to(buffer, **write_options)
    return buffer.getvalue()


def make_hdu(tree: dict) -> fits.BinTableHDU:
    """Serialize ``tree`` into an ``ASDF`` extension (byte-reproducible, see `asdf_bytes`)."""
    data = np.frombuffer(asdf_bytes(tree), dtype=np.uint8)
    column = fits.Column(name=COLUMN, format=f"{data.size}B", array=data[None, :])
    return fits.BinTableHDU.from_columns([column], name=EXTNAME)


def _drop_fits_references(node: Any) -> Any:
    """The tree without FITS-extension array references (stdatamodels re-reads them)."""
    if type(node) is dict:
        return {k: _drop_fits_references(v) for k, v in node.items() if not _is_fits_reference(v)}
    if type(node) is list:
        return [_drop_fits_references(v) for v in node if not _is_fits_reference(v)]
    return node


def _is_replaced_wcs_key(key: str) -> bool:
    """A ``meta.wcsinfo`` key of the FITS WCS that a new gwcs (and its SIP header) replaces."""
    return (key in _REPLACED_WCSINFO
            or any(key.startswith(p) and key[len(p):].replace("_", "").isdigit() for p in _SIP_PREFIXES))


def _clean_tree(hdu: fits.BinTableHDU | None) -> tuple[dict, dict]:
    """The tree of ``hdu`` (or an empty one) without ``_fits_hash`` and FITS array references, and a copy of
    its ``meta`` (put back by the caller), so that the FITS headers we write stay authoritative."""
    tree = read_tree(hdu) if hdu is not None else {}
    tree.pop(_FITS_HASH_KEY, None)
    tree = _drop_fits_references(tree)
    meta = dict(tree["meta"]) if isinstance(tree.get("meta"), dict) else {}
    return tree, meta


def with_wcs(hdu: fits.BinTableHDU | None, wcs: Any, drop_wcsinfo: tuple[str, ...] = (),
             drop_meta: tuple[str, ...] = (), **values: Any) -> fits.BinTableHDU:
    """A new ``ASDF`` extension: the tree of ``hdu`` (or an empty one) with ``meta.wcs`` (and ``meta``
    ``values``, e.g. ``group_id``), without the ``meta`` keys named in ``drop_meta``.

    So that the FITS headers and extensions of the file we write stay
    authoritative for stdatamodels, the old tree loses ``_fits_hash``, its FITS
    array references and the ``meta.wcsinfo`` FITS-WCS terms that the SIP
    approximation replaces (CDELT, PC, CD and SIP coefficients), plus the
    ``meta.wcsinfo`` keys named in ``drop_wcsinfo`` (e.g. the exposure pointing,
    which a resampled product's header no longer has: the tree would show it).
    """
    tree, meta = _clean_tree(hdu)
    if isinstance(meta.get("wcsinfo"), dict):
        meta["wcsinfo"] = {k: v for k, v in meta["wcsinfo"].items()
                           if not _is_replaced_wcs_key(k) and k not in drop_wcsinfo}
    tree["meta"] = {**{k: v for k, v in meta.items() if k not in drop_meta}, "wcs": wcs, **values}
    return make_hdu(tree)


def with_meta(hdu: fits.BinTableHDU | None, **values: Any) -> fits.BinTableHDU:
    """A new ``ASDF`` extension: the tree of ``hdu`` (or an empty one) with these ``meta`` values, cleaned as
    by `with_wcs`."""
    tree, meta = _clean_tree(hdu)
    tree["meta"] = {**meta, **values}
    return make_hdu(tree)
