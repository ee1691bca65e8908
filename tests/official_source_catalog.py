"""Run with the official pipeline's python (jwst 3.0.0): SourceCatalogStep on an i2d file.

    python tests/official_source_catalog.py OUT_DIR I2D APCORR ABVEGAOFFSET [KEY=VALUE ...]

Writes OUT_DIR/<i2d name less _i2d>_cat.ecsv and _segm.fits (the step's own names), the
reference files given as overrides and KEY=VALUE as step options (YAML values).
Fully offline: the references are named, CRDS is never asked.
"""

import os
import sys
import tempfile

os.environ["CRDS_PATH"] = tempfile.mkdtemp(prefix="crds_empty_")
os.environ["CRDS_SERVER_URL"] = "https://127.0.0.1:9"  # nothing listens: no server is contacted
os.environ["CRDS_MODE"] = "local"
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"


def main(out_dir: str, i2d: str, apcorr: str, abvegaoffset: str, *options: str) -> None:
    import yaml
    from stdatamodels.jwst import datamodels
    from stpipe import crds_client

    from jwst.source_catalog import SourceCatalogStep

    crds_client.get_context_used = lambda observatory: "N/A (offline)"
    kwargs = {key: yaml.safe_load(value) for key, value in (option.split("=", 1) for option in options)}
    with datamodels.open(i2d) as model:
        SourceCatalogStep.call(model, override_apcorr=apcorr, override_abvegaoffset=abvegaoffset,
                               save_results=True, output_dir=out_dir, **kwargs)


if __name__ == "__main__":
    main(*sys.argv[1:])
