"""Extract the MIRI imager distortion CDP shipped with pysiaf into mirical's JSON.

Reads ``MIRI_FM_MIRIMAGE_DISTORTION_SS.09.00.fits`` from pysiaf's source data and
writes ``mirical/data/miri_imager_distortion.json``. Run once by hand; the
mirical runtime only reads the JSON (no pysiaf, no FITS).

Usage: python mirical/data/extract_miri_distortion.py [output.json]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pysiaf
from astropy.io import fits

CDP_NAME = "MIRI_FM_MIRIMAGE_DISTORTION_SS.09.00.fits"
EXTRACTION_DATE = "2026-11-25"
MATRICES = ("M", "MI", "A", "B", "AI", "BI", "T", "TI")
MATRIX_NOTES = {
    "MI": "science pixel (0-based) -> focal plane mm: [[sx,0,x0],[0,sy,y0],[0,0,1]]",
    "M": "focal plane mm -> science pixel (0-based), inverse of MI",
    "AI": "mm -> X (arcsec): sum AI[r][c] * xmm**c * ymm**r",
    "BI": "mm -> Y (arcsec): sum BI[r][c] * xmm**c * ymm**r",
    "A": "X,Y (arcsec) -> xmm: sum A[r][c] * X**c * Y**r",
    "B": "X,Y (arcsec) -> ymm: sum B[r][c] * X**c * Y**r",
    "TI": "X,Y -> V2,V3 (arcsec): [V2,V3,1] = TI @ [X,Y,1]",
    "T": "V2,V3 -> X,Y (arcsec), inverse of TI",
}


def cdp_path() -> Path:
    """Path of the distortion CDP inside the installed pysiaf."""
    root = Path(pysiaf.__file__).parent
    return root / "source_data" / "MIRI" / "delivery" / CDP_NAME


def extract(path: Path) -> dict:
    """Return the JSON-ready content of the CDP at ``path``."""
    with fits.open(path) as hdul:
        head = hdul[0].header
        matrices = {
            name: hdul[f"{name} matrix"].data.astype(float).tolist() for name in MATRICES
        }
        table = hdul["Boresight offsets"].data
        offsets = [
            {
                "filter": str(row["FILTER"]).strip(),
                "col_offset": float(row["COL_OFFSET"]),
                "row_offset": float(row["ROW_OFFSET"]),
            }
            for row in table
        ]
        provenance = {
            "source_file": CDP_NAME,
            "source_location": "pysiaf/source_data/MIRI/delivery/",
            "cdp_version": head["VERSION"],
            "cdp_date": head["DATE"],
            "cdp_author": head["AUTHOR"],
            "cdp_pedigree": head["PEDIGREE"],
            "cdp_document": "MIRI-TN-00070-ATC Iss 13 - Imager Distortion CDP",
            "cdp_history": [str(h) for h in head["HISTORY"]],
            "pysiaf_version": pysiaf.__version__,
            "extraction_date": EXTRACTION_DATE,
            "extraction_script": "mirical/data/extract_miri_distortion.py",
            "blocks": {
                "matrices": "CDP image extensions '<name> matrix', row-major lists; "
                "pixels are 0-based science pixels (4 reference columns excluded)",
                "matrix_notes": "meaning of each matrix (r = row index, c = column index)",
                "boresight_offsets": "CDP table 'Boresight offsets' (imager, full "
                "array), pixels, CDP sign (sky -> pixel direction); the pipeline's "
                "FILTEROFFSET uses the negated values",
                "reference_columns_left": "science x = detector x - this value",
            },
        }
    return {
        "provenance": provenance,
        "matrix_notes": MATRIX_NOTES,
        "matrices": matrices,
        "boresight_offsets": offsets,
        "reference_columns_left": 4,
    }


def main() -> None:
    """Write the JSON (default: mirical/data/miri_imager_distortion.json)."""
    root = Path(__file__).resolve().parents[1]
    default = root / "mirical" / "data" / "miri_imager_distortion.json"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    text = json.dumps(extract(cdp_path()), indent=1)
    # one line per innermost list of numbers (matrix rows) for readability
    text = re.sub(r"\[([-+.\deE,\s]+)\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
    out.write_text(text + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
