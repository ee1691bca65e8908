"""Run with the official pipeline's Python (jwst 3.0.0): flat_field and photom with the options of a case.

``python official_options_run.py FOLDER``: FOLDER holds ``cases.json`` (name -> step options),
``science.npz`` (SCI, ERR, DQ, VAR_POISSON, VAR_RNOISE of a small subarray exposure),
``exposure.json`` (its keywords) and the reference files ``flat.fits``, ``photom.fits``,
``area.fits``. For each case, the official ``do_flat_field`` and photom ``DataSet.apply_photom``
(what FlatFieldStep and PhotomStep call, with the steps' status keyword) run on an ImageModel
of the science arrays; the result is ``{name}.npz`` with every array, BUNIT and the statuses.
Then ``BackgroundStep`` runs with ``save_combined_background`` on the science exposure and
the background members ``background_{i}.npz`` (+ ``background_{i}.json``, their frames),
written as rate files; its combined background goes to ``official_background/``. And
``ResampleStep`` runs on the cal files of each case in ``resample_cases.json`` (name ->
inputs, options), writing ``official_resample/{name}_i2d.fits`` and, for one input, the
pixel map of its drizzle (stcal's ``calc_pixmap`` with the case's ``pixmap_*``) as
``{name}_pixmap.npy``. Each part runs only if its inputs are in FOLDER.
Offline: the reference files are given, CRDS is pointed at nothing. Imports jwst, so it
never runs in mirical's venv.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

# Before jwst/crds are imported: no CRDS server, cache or parameter reference files.
os.environ["CRDS_PATH"] = tempfile.mkdtemp(prefix="crds_empty_")
os.environ["CRDS_SERVER_URL"] = "https://127.0.0.1:9"
os.environ["CRDS_MODE"] = "local"
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"

import numpy as np  # noqa: E402
from jwst.background import BackgroundStep  # noqa: E402
from jwst.flatfield.flat_field import do_flat_field  # noqa: E402
from jwst.photom.photom import DataSet  # noqa: E402
from stdatamodels.jwst import datamodels  # noqa: E402


def science_model(folder: Path, stem: str = "science", keys_file: str = "exposure") -> datamodels.ImageModel:
    arrays = np.load(folder / f"{stem}.npz")
    keys = json.loads((folder / f"{keys_file}.json").read_text())
    model = datamodels.ImageModel(arrays["SCI"].shape)
    for name in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE"):
        setattr(model, {"SCI": "data"}.get(name, name.lower()), arrays[name].copy())
    meta = model.meta
    meta.instrument.name, meta.instrument.detector, meta.instrument.filter = "MIRI", "MIRIMAGE", keys["FILTER"]
    meta.exposure.type, meta.exposure.mid_time = "MIR_IMAGE", keys["EXPMID"]
    meta.subarray.name = keys["SUBARRAY"]
    meta.subarray.xstart, meta.subarray.ystart = keys["SUBSTRT1"], keys["SUBSTRT2"]
    meta.subarray.xsize, meta.subarray.ysize = keys["SUBSIZE1"], keys["SUBSIZE2"]
    meta.bunit_data = meta.bunit_err = "DN/s"
    return model


def run_case(folder: Path, options: dict) -> dict:
    model = science_model(folder)
    with datamodels.FlatModel(str(folder / "flat.fits")) as flat:
        do_flat_field(model, flat, inverse=options["flat_field"]["inverse"])
    photom = options["photom"]
    model = DataSet(model, photom["inverse"], None, photom["apply_time_correction"]).apply_photom(
        str(folder / "photom.fits"), str(folder / "area.fits"))
    model.meta.cal_step.photom = "COMPLETE"  # as PhotomStep.process
    out = {"SCI": model.data, "ERR": model.err, "DQ": model.dq, "VAR_POISSON": model.var_poisson,
           "VAR_RNOISE": model.var_rnoise, "VAR_FLAT": model.var_flat, "AREA": model.area}
    out = {name: np.asarray(value) for name, value in out.items()}
    out["meta"] = np.array(json.dumps({
        "BUNIT": model.meta.bunit_data, "BUNIT_ERR": model.meta.bunit_err,
        "PHOTMJSR": model.meta.photometry.conversion_megajanskys,
        "S_FLAT": model.meta.cal_step.flat_field, "S_PHOTOM": model.meta.cal_step.photom}))
    return out


def run_background(folder: Path) -> None:
    """BackgroundStep with save_combined_background on rate files of the science and background arrays."""
    rates = folder / "official_rates"
    rates.mkdir()
    members = sorted(p.stem for p in folder.glob("background_*.npz"))
    for stem, keys in [("science", "exposure")] + [(m, m) for m in members]:
        model = science_model(folder, stem, keys)
        model.meta.observation.date, model.meta.observation.time = "2024-01-01", "00:00:00"
        model.save(str(rates / f"{stem}_rate.fits"))
    BackgroundStep.call(str(rates / "science_rate.fits"), bkg_list=[str(rates / f"{m}_rate.fits") for m in members],
                        save_combined_background=True, output_dir=str(folder / "official_background"))


def run_resample(folder: Path) -> None:
    """ResampleStep with each case's options on its cal files (one: that exposure's i2d; more: a mosaic)."""
    from jwst.resample import ResampleStep

    out = folder / "official_resample"
    out.mkdir()
    for name, case in json.loads((folder / "resample_cases.json").read_text()).items():
        inputs = case["inputs"]
        if len(inputs) > 1:
            asn = {"asn_type": "image3", "asn_rule": "test", "asn_id": "a3001", "program": "noprogram",
                   "target": "none", "asn_pool": "test_pool",
                   "products": [{"name": name, "members": [{"expname": c, "exptype": "science"} for c in inputs]}]}
            source = out / f"{name}_asn.json"
            source.write_text(json.dumps(asn))
        else:
            source = inputs[0]
        result = ResampleStep.call(str(source), **case["options"])
        result.save(str(out / f"{name}_i2d.fits"))
        if len(inputs) == 1:  # the pixel map the step drizzled with, from stcal as the step computes it
            from stcal.resample.utils import calc_pixmap

            with datamodels.open(inputs[0]) as cal:
                pixmap = calc_pixmap(cal.meta.wcs, result.meta.wcs, cal.data.shape,
                                     stepsize=case["options"].get("pixmap_stepsize", 1),
                                     order=case["options"].get("pixmap_order", 1))
            np.save(out / f"{name}_pixmap.npy", pixmap)


def main(folder: Path) -> None:
    """Each part whose inputs are in ``folder``: flat/photom cases, the background, resample cases."""
    if (folder / "cases.json").exists():
        for name, options in json.loads((folder / "cases.json").read_text()).items():
            np.savez(folder / f"{name}.npz", **run_case(folder, options))
    if list(folder.glob("background_*.npz")):
        run_background(folder)
    if (folder / "resample_cases.json").exists():
        run_resample(folder)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
