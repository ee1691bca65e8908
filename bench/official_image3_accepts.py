"""Does the official stage-3 resample accept mirical's products? (issue 5, bench-only)

Runs in an environment with ``jwst`` installed (``/work/bench-venv``); mirical
itself never imports jwst. For each mirical output folder given:

1. ``jwst.associations.load_asn`` reads mirical's ``<name>_lvl2_asn.json``;
2. every product's ``_cal.fits`` and ``_i2d.fits`` opens with
   ``stdatamodels.jwst.datamodels.open`` as an ImageModel and ``validate()``s,
   counting warnings;
3. ``jwst.resample.ResampleStep`` (what calwebb_image3 runs) resamples each
   ``_cal.fits`` on its own and compares with mirical's ``_i2d.fits``: output
   shape, sky offset of the output centre and total flux (sum of SCI times
   PIXAR_SR, in MJy);
4. ResampleStep combines all the cal files (an image3 association, as stage 3
   does) and the result is compared with mirical's mosaic ``<name>_i2d.fits``
   when that one was resampled (NDRIZ > 1).

Fully offline (CRDS is never contacted; ResampleStep needs no reference file).

    /work/bench-venv/bin/python bench/official_image3_accepts.py OUTDIR [OUTDIR ...]

OUTDIR is a mirical output folder, e.g. of the reduced demo:

    snakemake --snakefile Snakefile --directory WD --cores 2 \\
        --config output_dir=out demo='{n_dithers: 2, subarray: BRIGHTSKY, n_sources: 15}'

The report goes to stdout; bench/official_image3_accepts.txt is a recorded run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

# Before anything imports crds / stpipe.
os.environ["CRDS_PATH"] = tempfile.mkdtemp(prefix="crds_empty_")
os.environ["CRDS_SERVER_URL"] = "https://127.0.0.1:9"  # nothing listens: no server is contacted
os.environ["CRDS_MODE"] = "local"
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"

import numpy as np  # noqa: E402


def offline_crds() -> None:
    """The products record the CRDS context; with no reference files there is none to ask for."""
    from stpipe import crds_client

    crds_client.get_context_used = lambda observatory: "N/A (offline: no reference files)"


def open_checked(path: Path):
    """(model, warnings) of ``datamodels.open`` + ``validate``."""
    from stdatamodels.jwst import datamodels

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = datamodels.open(str(path))
        model.validate()
    return model, [f"{w.category.__name__}: {w.message}" for w in caught]


def total_flux_mjy(model) -> float:
    """Sum of SCI (MJy/sr) times the pixel solid angle: MJy."""
    return float(np.nansum(model.data) * model.meta.photometry.pixelarea_steradians)


def compare(official, ours) -> str:
    """Shapes, sky offset between the two grids, pixel differences, flux ratio official/mirical."""
    text = f"shape official {official.data.shape} mirical {ours.data.shape}"
    ny, nx = official.data.shape
    y, x = np.mgrid[0:ny:16, 0:nx:16].astype(float)
    ra, dec = official.meta.wcs(x, y)
    xo, yo = ours.meta.wcs.invert(ra, dec)
    text += f"; grid offset (mirical - official) max {np.nanmax(np.hypot(xo - x, yo - y)):.2e} px"
    if official.data.shape == ours.data.shape:
        a, b = official.data, ours.data
        both = np.isfinite(a) & np.isfinite(b)
        scale = np.nanmedian(np.abs(b[both]))
        diff = np.abs(a[both] - b[both]) / scale
        text += (f"; finite in both {both.mean():.3f}, only official {(np.isfinite(a) & ~both).sum()}, "
                 f"only mirical {(np.isfinite(b) & ~both).sum()}; |official - mirical| / median|mirical|: "
                 f"median {np.median(diff):.1e}, 99.9% {np.percentile(diff, 99.9):.1e}")
    flux_ratio = total_flux_mjy(official) / total_flux_mjy(ours)
    return text + f"; total flux official/mirical {flux_ratio:.6f}" + meta_differences(official, ours)


# Metadata that differs by nature (time stamps, names, which software, the inputs' history).
_EXPECTED_DIFFERENT = ("date", "filename", "calibration_software_", "asn.", "wcsinfo.s_region")


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if key == "wcs":
            continue
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def meta_differences(official, ours) -> str:
    """``meta`` entries (not the WCS) that differ between the official and mirical's product."""
    a, b = _flat(official.meta.instance), _flat(ours.meta.instance)
    lines = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if key.startswith(_EXPECTED_DIFFERENT) or va == vb:
            continue
        if isinstance(va, float) and isinstance(vb, float) and abs(va - vb) <= 1e-8 * max(abs(va), abs(vb)):
            continue
        lines.append(f"\n    meta.{key}: official {str(va)[:60]!s} | mirical {str(vb)[:60]!s}")
    return "".join(lines) if lines else "; meta: no other differences"


def check_folder(outdir: Path, workdir: Path) -> bool:
    from jwst.associations import load_asn
    from jwst.resample import ResampleStep

    ok = True
    asn_files = sorted(outdir.glob("*_lvl2_asn.json"))
    if len(asn_files) != 1:
        print(f"{outdir}: expected one *_lvl2_asn.json, found {len(asn_files)}")
        return False
    asn_path = asn_files[0]
    name = asn_path.name[: -len("_lvl2_asn.json")]
    with asn_path.open() as handle, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asn = load_asn(handle)
    products = [p["name"] for p in asn["products"]]
    print(f"load_asn: OK {asn_path.name}: asn_type={asn['asn_type']} asn_rule={asn['asn_rule']} "
          f"{len(products)} product(s), members "
          f"{sum(len(p['members']) for p in asn['products'])}")
    for w in caught:
        print(f"    {w.category.__name__}: {w.message}")

    cals = []
    for product in products:
        for kind in ("cal", "i2d"):
            path = outdir / f"{product}_{kind}.fits"
            model, caught = open_checked(path)
            print(f"datamodels.open: {path.name}: {type(model).__name__}, validate warnings: {len(caught)}")
            for text in caught:
                print(f"    {text}")
            ok &= type(model).__name__ == "ImageModel" and not caught
            model.close()
        cals.append(outdir / f"{product}_cal.fits")

    for cal in cals:
        product = cal.name[: -len("_cal.fits")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ResampleStep.call(str(cal), output_dir=str(workdir))
        ours, _ = open_checked(outdir / f"{product}_i2d.fits")
        status = result.meta.cal_step.resample
        print(f"ResampleStep: {'OK' if status == 'COMPLETE' else 'FAILED'} {cal.name} "
              f"(S_RESAMP {status}): {compare(result, ours)}")
        ok &= status == "COMPLETE"
        result.close()
        ours.close()

    image3 = {"asn_type": "image3", "asn_rule": "mirical_bench", "asn_id": "a3001", "program": "noprogram",
              "target": "none", "asn_pool": f"{name}_pool",
              "products": [{"name": f"{name}_official", "members": [
                  {"expname": str(c.resolve()), "exptype": "science"} for c in cals]}]}
    image3_path = workdir / f"{name}_image3_asn.json"
    image3_path.write_text(json.dumps(image3, indent=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mosaic = ResampleStep.call(str(image3_path), output_dir=str(workdir))
    status = mosaic.meta.cal_step.resample
    line = f"ResampleStep mosaic: {'OK' if status == 'COMPLETE' else 'FAILED'} {len(cals)} cal file(s)"
    ours_path = outdir / f"{name}_i2d.fits"
    if ours_path.exists():
        ours, _ = open_checked(ours_path)
        if ours.meta.cal_step.resample == "COMPLETE" and len(cals) > 1:
            line += f": {compare(mosaic, ours)}"
        else:
            line += f" (mirical mosaic {ours_path.name} not resampled: no comparison)"
        ours.close()
    print(line)
    ok &= status == "COMPLETE"
    mosaic.close()
    return ok


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    import jwst
    import stdatamodels

    offline_crds()
    print(f"jwst {jwst.__version__}, stdatamodels {stdatamodels.__version__}")
    ok = True
    for folder in argv:
        print(f"\n== {folder}")
        with tempfile.TemporaryDirectory(prefix="image3_accepts_") as tmp:
            ok &= check_folder(Path(folder), Path(tmp))
    print(f"\nresult: {'all accepted' if ok else 'PROBLEMS (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
