"""MIRI imager distortion (CDP SS.09.00) as CRDS-style DISTORTION/FILTEROFFSET models.

The CDP maps sky to pixels; the pipeline direction (pixel -> V2/V3) uses its
inverse matrices: MI (pixel -> mm), AI/BI (mm -> focal-plane X/Y, arcsec) and
TI (X/Y -> V2/V3, arcsec). M, A/B and T give the analytic inverse. The CDP
works on 0-based *science* pixels; detector pixels carry 4 reference columns
on the left, removed by a Shift(-4) on x.
"""

from __future__ import annotations

import json
from importlib import resources
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from astropy.modeling import Model

DATA_FILE = "miri_imager_distortion.json"
#: Default CRDS metadata (values of the FLT-9 MIRI imager reference files).
AUTHOR = "Alistair Glasse, Mattia Libralato, David R. Law (CDP); mirical (conversion)"
PEDIGREE = "INFLIGHT 2022-05-01 2022-05-01"
DATE = "2026-11-25T00:00:00"
USEAFTER = "2022-05-01T00:00:00"
DISTORTION_P_EXPTYPE = (
    "MIR_IMAGE|MIR_TACQ|MIR_LYOT|MIR_4QPM|MIR_CORONCAL|MIR_LRS-FIXEDSLIT|"
    "MIR_LRS-SLITLESS|MIR_TACONFIRM|MIR_WFSS|"
)
FILTEROFFSET_P_EXPTYPE = "MIR_IMAGE|MIR_TACQ|MIR_TACONFIRM|MIR_WFSS|"


def load_cdp() -> dict:
    """Read the extracted CDP numbers (``mirical/data/miri_imager_distortion.json``)."""
    text = resources.files("mirical").joinpath("data", DATA_FILE).read_text()
    return json.loads(text)


def _poly2d(matrix: list[list[float]], name: str) -> Model:
    """Polynomial2D with value ``sum matrix[r][c] * x**c * y**r`` (CDP layout)."""
    from astropy.modeling.models import Polynomial2D

    m = np.asarray(matrix, dtype=float)
    degree = m.shape[0] - 1
    coeffs = {
        f"c{c}_{r}": m[r, c] for r in range(degree + 1) for c in range(degree + 1 - r)
    }
    return Polynomial2D(degree, name=name, **coeffs)


def _affine(matrix: list[list[float]], name: str) -> Model:
    """Two linear Polynomial2D for the rows of a 3x3 affine matrix: (x, y) -> (x', y')."""
    from astropy.modeling.models import Mapping, Polynomial2D

    rows = [
        Polynomial2D(1, c0_0=m[2], c1_0=m[0], c0_1=m[1], name=f"{name}_{axis}")
        for axis, m in zip("xy", np.asarray(matrix, dtype=float)[:2])
    ]
    return Mapping((0, 1, 0, 1)) | rows[0] & rows[1]


def _scale(matrix: list[list[float]], name: str) -> Model:
    """Two linear Polynomial1D for a diagonal 3x3 matrix: x' = m00 x + m02, y' = m11 y + m12."""
    from astropy.modeling.models import Polynomial1D

    m = np.asarray(matrix, dtype=float)
    return Polynomial1D(1, c0=m[0, 2], c1=m[0, 0], name=f"{name}_column") & Polynomial1D(
        1, c0=m[1, 2], c1=m[1, 1], name=f"{name}_row"
    )


def distortion_model() -> Model:
    """Detector (0-based full-frame x, y pixels) -> (V2, V3) arcsec, with analytic inverse.

    Returns
    -------
    astropy.modeling.CompoundModel
        Forward: Shift(-4) & Identity | MI | AI & BI | TI. Inverse:
        T | A & B | M | Shift(4) & Identity (the CDP's own sky -> pixel solution).
    """
    from astropy.modeling.models import Identity, Mapping, Shift

    cdp = load_cdp()
    mat = cdp["matrices"]
    ncol = float(cdp["reference_columns_left"])
    to_xy = Mapping((0, 1, 0, 1)) | _poly2d(mat["AI"], "AI_X") & _poly2d(mat["BI"], "BI_Y")
    to_mm = Mapping((0, 1, 0, 1)) | _poly2d(mat["A"], "A_xmm") & _poly2d(mat["B"], "B_ymm")
    forward = (
        Shift(-ncol, name="detector_to_science") & Identity(1)
        | _scale(mat["MI"], "MI")
        | to_xy
        | _affine(mat["TI"], "TI")
    )
    inverse = (
        _affine(mat["T"], "T")
        | to_mm
        | _scale(mat["M"], "M")
        | Shift(ncol, name="science_to_detector") & Identity(1)
    )
    forward.inputs, forward.outputs = ("x", "y"), ("v2", "v3")
    inverse.inputs, inverse.outputs = ("v2", "v3"), ("x", "y")
    forward.inverse = inverse
    forward.name = "miri_imager_distortion"
    return forward


def filter_offsets() -> list[dict[str, Any]]:
    """Per-filter pixel offsets, to be added to detector x, y before the distortion.

    The CDP tabulates the offsets in its sky -> pixel direction; the pipeline
    (pixel -> sky) adds the negated values (as in the official FILTEROFFSET files).
    """
    return [
        {
            "filter": row["filter"],
            "pupil": "N/A",
            # + 0.0 turns -0.0 into 0.0
            "column_offset": -row["col_offset"] + 0.0,
            "row_offset": -row["row_offset"] + 0.0,
        }
        for row in load_cdp()["boresight_offsets"]
    ]


def _meta(reftype: str, model_type: str, title: str, useafter: str) -> dict[str, Any]:
    """CRDS meta block shared by the DISTORTION and FILTEROFFSET files."""
    import astropy.units as u

    cdp = load_cdp()["provenance"]
    return {
        "author": AUTHOR,
        "date": DATE,
        "description": f"{title}; from CDP {cdp['source_file']}",
        "instrument": {"name": "MIRI", "detector": "MIRIMAGE", "band": "N/A", "channel": "N/A"},
        "exposure": {"type": "MIR_IMAGE"},
        "input_units": u.pix,
        "model_type": model_type,
        "pedigree": PEDIGREE,
        "reftype": reftype,
        "telescope": "JWST",
        "title": title,
        "useafter": useafter,
    }


def _write(tree: dict[str, Any], path: str | PathLike) -> None:
    """Write ``tree`` as ASDF, arrays inline, no time stamps (byte-reproducible), atomically."""
    import os

    from mirical.formats.asdf_extension import asdf_bytes

    partial = f"{path}.part"
    with open(partial, "wb") as handle:
        handle.write(asdf_bytes(tree, all_array_storage="inline"))
    os.replace(partial, path)


def write_distortion_reffile(path: str | PathLike, useafter: str = USEAFTER) -> None:
    """Write the MIRI imager DISTORTION reference file (ASDF, CRDS layout)."""
    import astropy.units as u

    title = "MIRI imager distortion - SS.09.00"
    meta = _meta("DISTORTION", "DistortionModel", title, useafter)
    meta["exposure"]["p_exptype"] = DISTORTION_P_EXPTYPE
    meta["output_units"] = u.arcsec
    _write({"meta": meta, "model": distortion_model()}, path)


def write_filteroffset_reffile(path: str | PathLike, useafter: str = USEAFTER) -> None:
    """Write the MIRI imager FILTEROFFSET reference file (ASDF, CRDS layout)."""
    title = "MIRI imager filter offset - SS.09.00"
    meta = _meta("FILTEROFFSET", "FilteroffsetModel", title, useafter)
    meta["exposure"]["p_exptype"] = FILTEROFFSET_P_EXPTYPE
    meta["instrument"]["filter"] = "N/A"
    meta["subarray"] = {"name": "N/A"}
    _write({"meta": meta, "filters": filter_offsets()}, path)
