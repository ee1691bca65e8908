"""The official pipeline on mirical's inputs: the baseline of bench/run.sh.

Runs ``jwst.pipeline.Image2Pipeline`` (bkg_subtract -> assign_wcs -> flat_field
-> photom -> resample) on mirical's image2 association, with mirical's
reference files given as ``override_<reftype>`` (every other reference type
the steps ask for is ``N/A``), then ``jwst.resample.ResampleStep`` on all the
cal files into one mosaic -- the same work the mirical workflow does.

Fully offline: every reference file is an override, so CRDS is never asked for
a best reference; CRDS parameter reference files (pars-*) are disabled with
``STPIPE_DISABLE_CRDS_STEPPARS``; the CRDS context recorded in the products is
"N/A (offline ...)" (`offline_crds`); and CRDS_SERVER_URL points to a closed port
on this machine with an empty CRDS_PATH, so any CRDS lookup fails at once
instead of reaching a server.

Runs in its own virtual environment with ``jwst`` installed (``.venv-official`` for the
tests, bench/run.sh makes its own); mirical itself never imports jwst.

    python tests/official.py image2 ASN.json REFDIR OUTDIR
    python tests/official.py mosaic OUTDIR NAME CAL1 CAL2 ...
    python tests/official.py outlier OUTDIR NAME CAL1 CAL2 ...
    python tests/official.py tweakreg OUTDIR NAME OPTIONS_JSON CAL1 CAL2 ...
    python tests/official.py skymatch OUTDIR NAME CAL1 CAL2 ...
    python tests/official.py image3 OUTDIR NAME STEPS_JSON CAL1 CAL2 ...
    python tests/official.py cases CASES.json

Each prints one JSON line of timings (seconds) on stdout. ``cases`` (what
tests/test_official.py and tests/random_official.py run, one process for many cases)
reads a list of {"asn", "refs": {reftype: path}, "outdir", "mosaic"} and for each runs
image2, the mosaic ``<mosaic>_i2d.fits`` of its cal files, and writes
``<cal>.radec.npy``: the official WCS of every cal file on a grid of pixels spanning it
(x, y, RA, Dec). Optional keys of a case: "steps" ({step: {option: value}} for image2's
steps), "tweakreg" (options of TweakRegStep, run on the cal files first, as in calwebb_image3:
its results and catalogs in ``<outdir>/tweakreg/``, each result with its ``.radec.npy``),
"skymatch" (false: no SkyMatchStep; by default it runs on the cal files, after tweakreg if any, as
in calwebb_image3), "outlier" (options of OutlierDetectionStep, run on the cal files before the
mosaic, which is then made of the ``<cal>_crf.fits`` it saves) and "mosaic_options"
(ResampleStep's).
``outlier`` runs ``jwst.outlier_detection.OutlierDetectionStep`` (its defaults: imaging
mode, ``in_memory=True``) on an image3 association of the cal files and saves each
``<cal>_crf.fits`` in OUTDIR: the work of mirical's outlier jobs (bench/outlier_scaling.sh).
``skymatch`` runs ``jwst.skymatch.SkyMatchStep`` (its defaults) on an image3 association of the cal
files and saves each ``<cal>_skymatch.fits`` in OUTDIR: the work of mirical's skymatch job
(bench/tweakreg_skymatch.sh). ``tweakreg`` runs ``jwst.tweakreg.TweakRegStep`` with the options of
OPTIONS_JSON (a JSON object, e.g. ``{"kernel_fwhm": 3.32}``) on such an association and saves each
result in OUTDIR under the cal file's name: the work of mirical's tweakreg jobs (the same script).
``image3`` runs ``jwst.pipeline.Image3Pipeline`` (tweakreg, skymatch, outlier_detection, resample,
source_catalog) on an image3 association of the cal files with the step options of STEPS_JSON
({step: {option: value}}, e.g. tweakreg's values for the filter and source_catalog's
``override_apcorr``/``override_abvegaoffset``), saving what ``strun calwebb_image3`` saves (crf, i2d,
catalog, segmentation map) in OUTDIR: the stage-3 half of bench/like_for_like.sh.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

# Before anything imports crds / stpipe.
_CRDS_EMPTY = tempfile.TemporaryDirectory(prefix="crds_empty_")  # removed when the process ends
os.environ["CRDS_PATH"] = _CRDS_EMPTY.name
os.environ["CRDS_SERVER_URL"] = "https://127.0.0.1:9"  # nothing listens: no server is contacted
os.environ["CRDS_MODE"] = "local"
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"

# Reference types each image2 step asks for that mirical does not use.
NOT_APPLICABLE = {
    "assign_wcs": ["specwcs", "regions", "wavelengthrange", "camera", "chromcorr", "collimator",
                   "disperser", "fore", "fpa", "msa", "ote", "ifupost", "ifufore", "ifuslicer"],
    "flat_field": ["fflat", "sflat", "dflat"],
    "bkg_subtract": ["bkg", "wavelengthrange"],
}


def offline_crds() -> None:
    """No CRDS context lookup: the pipeline records the context it used in every product
    (``meta.ref_file.crds.context_used``), which needs a server or a synced cache. All
    reference files are overrides here, so no context was used; say so instead."""
    from stpipe import crds_client

    crds_client.get_context_used = lambda observatory: "N/A (offline: all reference files overridden)"


def reference_files(refdir: Path) -> dict[str, str]:
    """The demo's reference files by type (mirical.demo.simulate names them jwst_miri_<type>_*)."""
    found = {}
    for reftype in ("distortion", "filteroffset", "flat", "photom", "area"):
        hits = sorted(refdir.glob(f"jwst_miri_{reftype}_*"))
        if len(hits) != 1:
            sys.exit(f"{refdir}: expected one jwst_miri_{reftype}_* file, found {len(hits)}")
        found[reftype] = str(hits[0])
    return found


def step_overrides(refs: dict[str, str]) -> dict[str, dict]:
    steps = {
        "bkg_subtract": {},
        "assign_wcs": {"override_distortion": refs["distortion"],
                       "override_filteroffset": refs["filteroffset"]},
        "flat_field": {"override_flat": refs["flat"]},
        "photom": {"override_photom": refs["photom"], "override_area": refs["area"]},
        "resample": {},
    }
    for step, reftypes in NOT_APPLICABLE.items():
        for reftype in reftypes:
            steps[step][f"override_{reftype}"] = "N/A"
    return steps


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def wcs_grid(shape: tuple[int, int], n: int = 17) -> tuple:
    """(x, y) of an n x n grid of pixels spanning the whole array, edges included."""
    import numpy as np

    ny, nx = shape
    y, x = np.meshgrid(np.linspace(0, ny - 1, n), np.linspace(0, nx - 1, n), indexing="ij")
    return x, y


def image2(asn: str, refs: str | dict[str, str], outdir: str, options: dict | None = None) -> dict:
    """Image2Pipeline on ``asn``; ``refs`` is a folder (see `reference_files`) or {reftype: path};
    ``options``: {step: {option: value}} added to the reference overrides."""
    t0 = time.perf_counter()
    from jwst.pipeline import Image2Pipeline

    offline_crds()
    t_import = time.perf_counter() - t0
    os.makedirs(outdir, exist_ok=True)
    steps = step_overrides(refs if isinstance(refs, dict) else reference_files(Path(refs)))
    for step, values in (options or {}).items():
        steps.setdefault(step, {}).update(values)
    t1 = time.perf_counter()
    Image2Pipeline.call(asn, output_dir=outdir, save_results=True, steps=steps)
    t_run = time.perf_counter() - t1
    return {"import_s": round(t_import, 3), "image2_s": round(t_run, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}


def image3_asn(outdir: str, name: str, cals: list[str]) -> Path:
    """An image3 association of ``cals`` (one product ``name``) written in ``outdir``."""
    asn = {
        "asn_type": "image3",
        "asn_rule": "bench",
        "asn_id": "a3001",
        "program": "noprogram",
        "target": "none",
        "asn_pool": "bench_pool",
        "products": [{"name": name, "members": [
            {"expname": os.path.abspath(c), "exptype": "science"} for c in cals]}],
    }
    os.makedirs(outdir, exist_ok=True)
    asn_path = Path(outdir) / f"{name}_asn.json"
    asn_path.write_text(json.dumps(asn, indent=1))
    return asn_path


def run_image3_step(step: str, outdir: str, name: str, cals: list[str], save, run_key: str, **options) -> dict:
    """jwst's ``step`` (``module:Class``) with ``options`` on an image3 association of ``cals``, its
    result given to ``save``; import time, run time with saving (as ``run_key``), peak RSS."""
    t0 = time.perf_counter()
    module, cls = step.split(":")
    step_class = getattr(importlib.import_module(module), cls)
    offline_crds()
    t_import = time.perf_counter() - t0
    asn_path = image3_asn(outdir, name, cals)
    t1 = time.perf_counter()
    save(step_class.call(str(asn_path), **options))
    return {"import_s": round(t_import, 3), run_key: round(time.perf_counter() - t1, 3), "n": len(cals),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def mosaic(outdir: str, name: str, cals: list[str], **options) -> dict:
    return run_image3_step("jwst.resample:ResampleStep", outdir, name, cals,
                           lambda result: result.save(str(Path(outdir) / f"{name}_i2d.fits")), "mosaic_s", **options)


def image3(outdir: str, name: str, cals: list[str], steps: dict) -> dict:
    """Image3Pipeline on an image3 association of ``cals`` with step options ``steps``, products in ``outdir``."""
    t0 = time.perf_counter()
    from jwst.pipeline import Image3Pipeline

    offline_crds()
    t_import = time.perf_counter() - t0
    asn_path = image3_asn(outdir, name, cals)
    t1 = time.perf_counter()
    Image3Pipeline.call(str(asn_path), output_dir=outdir, save_results=True, steps=steps)
    return {"import_s": round(t_import, 3), "image3_s": round(time.perf_counter() - t1, 3), "n": len(cals),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def save_radec(cal: Path) -> None:
    """The official WCS of ``cal`` on `wcs_grid`: ``<cal>.radec.npy`` holds x, y, RA, Dec (4 x n x n)."""
    import numpy as np
    from stdatamodels.jwst import datamodels

    with datamodels.open(str(cal)) as model:
        x, y = wcs_grid(model.data.shape)
        ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
    np.save(f"{cal}.radec.npy", np.array([x, y, ra, dec]))


def cases(path: str) -> dict:
    """image2 + mosaic + WCS grid for every case of a CASES.json list; timings per case."""
    timings, errors = {}, {}
    for case in json.loads(Path(path).read_text()):
        t0 = time.perf_counter()
        try:
            os.chdir(Path(case["asn"]).parent)  # the pipeline opens members relative to the working folder
            image2(case["asn"], case["refs"], case["outdir"], case.get("steps"))
            cals = sorted(Path(case["outdir"]).glob("*_cal.fits"))
            for cal in cals:
                save_radec(cal)
            if case.get("tweakreg") is not None:  # as calwebb_image3: alignment first
                tweak_dir = Path(case["outdir"]) / "tweakreg"
                tweakreg(str(tweak_dir), case["mosaic"], [str(c) for c in cals], **case["tweakreg"])
                cals = [tweak_dir / c.name for c in cals]
                for cal in cals:
                    save_radec(cal)
            if case.get("skymatch", True):  # as calwebb_image3 (and mirical's default): sky levels first
                sky_dir = Path(case["outdir"]) / "skymatch"
                skymatch(str(sky_dir), case["mosaic"], [str(c) for c in cals], rename=False)
                cals = [sky_dir / c.name for c in cals]
            if case.get("outlier") is not None:
                outlier(case["outdir"], case["mosaic"], [str(c) for c in cals], **case["outlier"])
                cals = [Path(case["outdir"]) / c.name.replace("_cal.fits", "_crf.fits") for c in cals]
            mosaic(case["outdir"], case["mosaic"], [str(c) for c in cals], **case.get("mosaic_options", {}))
        except Exception as exc:  # one failing case must not hide the others' results
            errors[case["mosaic"]] = f"{type(exc).__name__}: {exc}"
        timings[case["mosaic"]] = round(time.perf_counter() - t0, 3)
    return {"case_s": timings, "errors": errors, "peak_rss_mb": round(peak_rss_mb(), 1)}


def outlier(outdir: str, name: str, cals: list[str], **options) -> dict:
    def save_crfs(library) -> None:
        with library:
            for i, cal in enumerate(cals):
                model = library.borrow(i)
                model.save(str(Path(outdir) / Path(cal).name.replace("_cal.fits", "_crf.fits")))
                library.shelve(model, i, modify=False)

    return run_image3_step("jwst.outlier_detection:OutlierDetectionStep", outdir, name, cals, save_crfs,
                           "outlier_s", **options)


def tweakreg(outdir: str, name: str, cals: list[str], **options) -> dict:
    """TweakRegStep with ``options`` on ``cals``; each result saved in ``outdir`` under the cal file's name,
    its catalog (``save_catalogs``) as ``<cal stem>_cat.ecsv`` there too."""
    def save(library) -> None:
        with library:
            for i, cal in enumerate(cals):
                model = library.borrow(i)
                model.save(str(Path(outdir) / Path(cal).name))
                library.shelve(model, i, modify=False)

    return run_image3_step("jwst.tweakreg:TweakRegStep", outdir, name, cals, save, "tweakreg_s", output_dir=outdir,
                           **options)


def skymatch(outdir: str, name: str, cals: list[str], rename: bool = True) -> dict:
    """SkyMatchStep (its defaults) on ``cals``; each result saved in ``outdir`` as ``<cal>_skymatch.fits``
    (with ``rename`` false: under the cal file's own name)."""
    def save(library) -> None:
        with library:
            for i, cal in enumerate(cals):
                model = library.borrow(i)
                saved = Path(cal).name.replace("_cal.fits", "_skymatch.fits") if rename else Path(cal).name
                model.save(str(Path(outdir) / saved))
                library.shelve(model, i, modify=False)

    return run_image3_step("jwst.skymatch:SkyMatchStep", outdir, name, cals, save, "skymatch_s")


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "cases":
        result = cases(argv[1])
    elif len(argv) >= 4 and argv[0] == "image2":
        result = image2(argv[1], argv[2], argv[3])
    elif len(argv) >= 4 and argv[0] == "mosaic":
        result = mosaic(argv[1], argv[2], argv[3:])
    elif len(argv) >= 4 and argv[0] == "outlier":
        result = outlier(argv[1], argv[2], argv[3:])
    elif len(argv) >= 5 and argv[0] == "tweakreg":
        result = tweakreg(argv[1], argv[2], argv[4:], **json.loads(argv[3]))
    elif len(argv) >= 5 and argv[0] == "image3":
        result = image3(argv[1], argv[2], argv[4:], json.loads(argv[3]))
    elif len(argv) >= 4 and argv[0] == "skymatch":
        result = skymatch(argv[1], argv[2], argv[3:])
    else:
        sys.exit(__doc__)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
