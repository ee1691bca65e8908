"""jwst's group id of an exposure: exposures sharing one are a single unit in stage 3.

Outlier detection drizzles them together into one single-exposure image; skymatch gives
them one sky level, measured over their joint overlaps (jwst's ``ModelLibrary.group_indices``).

Where jwst writes it: every library it builds sets ``meta.group_id`` (an ASDF-tree value, no
FITS keyword) on its models, the id read from the file or, without one, ``exposure{i:04d}`` of
the model's place in the library. So image2's resample, which drizzles each exposure alone (a
one-model library), leaves ``exposure0001`` in the cal file of an exposure without the
observation keywords, and stage 3 then takes all such exposures as one group
(`image2_group_id`); every stage-3 step saves its files with the id it used (`stage3_group_id`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

#: The observation keywords of jwst's group id, in its order: (FITS keyword, ASDF ``meta.observation`` name).
GROUP_KEYWORDS = (("PROGRAM", "program_number"), ("OBSERVTN", "observation_number"), ("VISIT", "visit_number"),
                  ("VISITGRP", "visit_group"), ("SEQ_ID", "sequence_id"), ("ACT_ID", "activity_id"),
                  ("EXPOSURE", "exposure_number"))


def exposure_group(primary, asdf_hdu) -> str | None:
    """jwst's group id of an exposure: ``meta.group_id``, else ``jw{PROGRAM}{OBSERVTN}{VISIT}_{VISITGRP}{SEQ_ID}{ACT_ID}_{EXPOSURE}``
    (each the FITS keyword, else its ``meta.observation`` value in the ASDF tree); None when one is missing."""
    meta = _asdf_meta(asdf_hdu)
    if meta.get("group_id"):
        return str(meta["group_id"])
    observation = meta.get("observation") or {}
    values = []
    for keyword, name in GROUP_KEYWORDS:
        value = primary.get(keyword, observation.get(name))
        if value is None:
            return None
        values.append(str(value))
    program, obs, visit, visit_group, sequence, activity, exposure = values
    return f"jw{program}{obs}{visit}_{visit_group}{sequence}{activity}_{exposure}"


def image2_group_id(primary, asdf_hdu) -> str:
    """The ``meta.group_id`` jwst's image2 resample leaves in a cal file: `exposure_group`, else ``exposure0001``."""
    return exposure_group(primary, asdf_hdu) or group_names([None])[0]


def stage3_group_id(primary, asdf_hdu, index: int) -> str:
    """The ``meta.group_id`` a stage-3 step gives member ``index`` (0-based) of its inputs (`group_names`)."""
    return group_names([None] * index + [exposure_group(primary, asdf_hdu)])[index]


def with_group_id(asdf_hdu, group_id: str):
    """The ASDF extension ``asdf_hdu`` with ``meta.group_id`` = ``group_id`` (unchanged if it has it already)."""
    if _asdf_meta(asdf_hdu).get("group_id") == group_id:
        return asdf_hdu
    from mirical.formats.asdf_extension import with_meta

    return with_meta(asdf_hdu, group_id=group_id)


def file_group(path: str) -> str | None:
    """`exposure_group` of a cal file (headers and the ASDF extension's YAML only)."""
    from astropy.io import fits

    from mirical.errors import MiricalError

    try:
        with fits.open(path) as hdul:
            return exposure_group(hdul[0].header, hdul["ASDF"] if "ASDF" in hdul else None)
    except OSError as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None


def _asdf_meta(asdf_hdu) -> dict:
    """The ``meta`` node of an ASDF extension as YAML (no object is deserialized); {} without one."""
    if asdf_hdu is None:
        return {}
    from asdf.util import load_yaml

    from mirical.formats.asdf_extension import hdu_bytes

    tree = load_yaml(io.BytesIO(hdu_bytes(asdf_hdu)), tagged=True)
    meta = tree.get("meta") if isinstance(tree, dict) else None
    return meta if isinstance(meta, dict) else {}


def group_names(groups: Sequence[str | None]) -> list[str]:
    """The exposures' group ids in input order; one without (None) is alone in ``exposure{i:04d}`` (1-based), as jwst."""
    return [f"exposure{i + 1:04d}" if group is None else group for i, group in enumerate(groups)]
