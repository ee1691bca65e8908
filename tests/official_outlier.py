"""Run with the official pipeline's python (jwst 3.0.0): OutlierDetectionStep then ResampleStep on cal files.

    python tests/official_outlier.py OUT_DIR [--good-bits=EXPR] [--resample-data=false] CAL [CAL ...]

Writes OUT_DIR/<cal name>_crf.fits for each exposure (the step's defaults, imaging
mode, in memory; ``good_bits`` EXPR and ``resample_data`` if given) and OUT_DIR/official_i2d.fits, the
ResampleStep mosaic of the crf models. Fully offline: neither step reads a reference file, CRDS is never asked.
"""

import os
import sys
import tempfile

os.environ["CRDS_PATH"] = tempfile.mkdtemp(prefix="crds_empty_")
os.environ["CRDS_SERVER_URL"] = "https://127.0.0.1:9"  # nothing listens: no server is contacted
os.environ["CRDS_MODE"] = "local"
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"


def main(out_dir: str, *args: str) -> None:
    from stdatamodels.jwst import datamodels
    from stpipe import crds_client

    from jwst.datamodels import ModelLibrary
    from jwst.outlier_detection import OutlierDetectionStep
    from jwst.resample import ResampleStep

    crds_client.get_context_used = lambda observatory: "N/A (offline)"
    options = {"good_bits": arg.split("=", 1)[1] for arg in args if arg.startswith("--good-bits=")}
    options |= {"resample_data": arg.split("=", 1)[1] == "true" for arg in args if arg.startswith("--resample-data=")}
    cal_paths = [arg for arg in args if not arg.startswith("--")]
    library = ModelLibrary([datamodels.open(path) for path in cal_paths], on_disk=False)
    flagged = OutlierDetectionStep.call(library, in_memory=True, **options)
    with flagged:
        for i, path in enumerate(cal_paths):
            model = flagged.borrow(i)
            name = os.path.basename(path).replace("_cal.fits", "_crf.fits")
            model.save(os.path.join(out_dir, name))
            flagged.shelve(model, i, modify=False)
    mosaic = ResampleStep.call(flagged)
    mosaic.save(os.path.join(out_dir, "official_i2d.fits"))


if __name__ == "__main__":
    main(*sys.argv[1:])
