"""Run with the official pipeline's Python (jwst 3.0.0): Image2Pipeline on an association, offline.

``python official_calints_run.py ASN REFS_JSON OUTDIR``: every product of ASN through
``Image2Pipeline`` (``save_results``, the reference files of REFS_JSON, {reftype: path}, as
overrides; `official.py`'s ``image2``), then for each ``*_calints.fits`` written the
official WCS on a 7 x 7 grid of pixels: ``<calints>.radec.npy`` holds x, y, RA, Dec.
Imports jwst, so it never runs in mirical's venv.
"""
import json
import sys
from pathlib import Path

from official import image2  # noqa: E402  (sets up offline CRDS before jwst is imported)


def main(asn: str, refs_json: str, outdir: str) -> None:
    import numpy as np
    from stdatamodels.jwst import datamodels

    image2(asn, json.loads(Path(refs_json).read_text()), outdir)
    for path in sorted(Path(outdir).glob("*_calints.fits")):
        with datamodels.open(str(path)) as model:
            ny, nx = model.data.shape[-2:]
            y, x = np.mgrid[0:ny - 1:7j, 0:nx - 1:7j]
            ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
        np.save(f"{path}.radec.npy", np.array([x, y, ra, dec]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
