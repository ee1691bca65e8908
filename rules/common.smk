# Helpers shared by the rules: inputs, products, reference files, parameters.
import glob
import re
import hashlib
import os
import sys
from pathlib import Path

# The package beside the Snakefile: importable here, and in every job, because Snakemake's
# script preamble extends each job's sys.path with this process's sys.path.
MIRICAL_ROOT = Path(workflow.basedir)
if str(MIRICAL_ROOT) not in sys.path:
    sys.path.insert(0, str(MIRICAL_ROOT))

# Library caches (matplotlib's font cache) go under .snakemake/, not the user's home.
os.environ.setdefault("MPLCONFIGDIR", os.path.abspath(".snakemake/mirical-cache/matplotlib"))

from mirical.association import check_product_name, load_association, products_from_lists, run_name
from mirical.errors import MiricalError

USE_DEMO = not config["science"] and not config.get("association")


def _expand(patterns, key):
    """Paths from a list of paths/globs, sorted; a pattern matching nothing is an error."""
    paths = []
    for pattern in patterns:
        hits = sorted(glob.glob(os.path.expanduser(pattern)))
        if not hits:
            raise MiricalError(f"config {key}", f"{pattern!r} matches no file")
        paths.extend(hits)
    return paths


SCIENCE_FILES = [] if USE_DEMO or config.get("association") else _expand(config["science"], "science")
NAME = run_name(config["name"], config.get("association"), SCIENCE_FILES)
OUT = (config.get("output_dir") or f"results/{NAME}").rstrip("/")
INTER = f"{OUT}/intermediate"
LOGS = f"{OUT}/logs"
BENCH = f"{OUT}/benchmarks"  # per-job wall time and peak memory (Snakemake benchmark: files)
# Cluster runs only (Snakemake ignores groups locally): each exposure's chain background ->
# assign_wcs -> flat_field -> photom -> resample runs as one job, one SLURM job instead
# of five; bench/RESOURCES.md has the measured overhead per SLURM job.
EXPOSURE_GROUP = "exposure"
REFTYPES = ("distortion", "filteroffset", "flat", "photom", "area")


if USE_DEMO:
    from mirical.simulate import DemoSettings, background_name, reference_paths, science_name

    DEMO = DemoSettings(**config["demo"])
    DEMO_DIR = os.path.abspath(f"{OUT}/demo_data")
    DEMO_SCIENCE = [f"{DEMO_DIR}/IMA_science/{science_name(i + 1, DEMO)}" for i in range(DEMO.n_dithers)]
    DEMO_BACKGROUND = [f"{DEMO_DIR}/IMA_background/{background_name(DEMO)}"]
    DEMO_REFS = reference_paths(f"{DEMO_DIR}/reference", DEMO)
    PRODUCTS = products_from_lists(DEMO_SCIENCE, DEMO_BACKGROUND, NAME)
elif config.get("association"):
    PRODUCTS = load_association(config["association"])
else:
    PRODUCTS = products_from_lists(SCIENCE_FILES, _expand(config["background"], "background"), NAME)
for _p in PRODUCTS:
    check_product_name(_p.name, config.get("association") or "config")
    if _p.name == NAME:
        raise MiricalError(config.get("association") or "config",
                           f"product name {NAME!r} is the run's `name`: its _i2d.fits would be the mosaic's")

PRODUCT = {p.name: p for p in PRODUCTS}
PRODUCT_NAMES = [p.name for p in PRODUCTS]


# Any plain file name. Not the alternation of PRODUCT_NAMES: Snakemake copies the
# constraint into every {product} pattern and re-scans it for each job, so a
# 1000-product association made planning quadratic (bench/dag_scale.py).
# The one pattern clash, {OUT}/{NAME}_i2d.fits (mosaic) vs {OUT}/{product}_i2d.fits
# (resample, product=NAME), is settled by the ruleorder; no product is named NAME.
wildcard_constraints:
    product="[^/]+",


ruleorder: mosaic > resample


def _product(wildcards):
    try:
        return PRODUCT[wildcards.product]
    except KeyError:
        raise MiricalError("config", f"{wildcards.product!r} is not a product of this run") from None


def science(wildcards):
    return _product(wildcards).science


def backgrounds(wildcards):
    return list(_product(wildcards).backgrounds)


# ----------------------------------------------------------------- reference files
_REF_CACHE = {}


_HEADERS = {}
_FOLDER_CHOICES = {}  # (folder, selection key) -> chosen file; failures are not kept


def _exposure_header(path):
    """Primary header of an exposure, read once however many reference types need it."""
    if path not in _HEADERS:
        from astropy.io import fits

        with open(path, "rb") as f:
            _HEADERS[path] = dict(fits.Header.fromfile(f).items())  # a dict: lookups are cheap
    return _HEADERS[path]


def choose_reference(product, reftype):
    """(path, None) for the reference file of ``reftype`` for ``product``, or (None, error)."""
    key = (product, reftype)
    if key in _REF_CACHE:
        return _REF_CACHE[key]
    if USE_DEMO:
        result = (DEMO_REFS[reftype], None)
    else:
        source = (config.get("reference_files") or {}).get(reftype)
        sci = PRODUCT[product].science
        try:
            if config.get("crds") and not source:
                from mirical.reffiles import select_with_crds

                crds = config["crds"]
                result = (select_with_crds(reftype, _exposure_header(sci), crds["path"], crds.get("context")), None)
            elif not source:
                result = (None, f"reference_files.{reftype} is not set in the config")
            elif not os.path.exists(source):
                result = (None, f"reference file {source} ({reftype}) does not exist")
            elif os.path.isdir(source):
                from mirical.reffiles import select, selection_key

                header = _exposure_header(sci)
                same = (source, selection_key(reftype, header))  # exposures alike choose alike
                if same not in _FOLDER_CHOICES:
                    _FOLDER_CHOICES[same] = select(reftype, source, header, os.path.basename(sci))
                result = (_FOLDER_CHOICES[same], None)
            else:
                result = (source, None)
        except Exception as exc:  # reported by the job that needs the file, not here
            result = (None, str(exc))
    _REF_CACHE[key] = result
    return result


def ref(reftype):
    """Input function: the chosen reference file (nothing if the choice failed)."""

    def inner(wildcards):
        path, _ = choose_reference(wildcards.product, reftype)
        return [path] if path else []

    return inner


def chosen_references(wildcards):
    """Params function: {reftype: path} of every reference file chosen for the product."""
    chosen = {t: choose_reference(wildcards.product, t)[0] for t in REFTYPES}
    return {t: path for t, path in chosen.items() if path}


def ref_errors(*reftypes):
    """Params function: {reftype: why no reference file could be chosen ('' if one was)}."""

    def inner(wildcards):
        return {t: choose_reference(wildcards.product, t)[1] or "" for t in reftypes}

    return inner


# ----------------------------------------------------------------- parameters and code
def code_version(*modules):
    """Hash of the step's own package modules: a param, so a code change re-runs the step."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update((MIRICAL_ROOT / "mirical" / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]


def step_params(step):
    return dict(config["steps"][step])


def outputs_for(products):
    files = [f"{OUT}/{NAME}_lvl2_asn.json"]
    for p in products:
        files += [f"{OUT}/{p}_cal.fits", f"{OUT}/{p}_i2d.fits", f"{INTER}/{p}_refs.json"]
    files.append(f"{OUT}/{NAME}_i2d.fits")
    return files


PLOTS = f"{OUT}/plots"  # quicklook PNGs (rules/plots.smk)


def plot_outputs(products):
    """The quicklook PNGs: one figure per product, the step strip of the first, the mosaic's three."""
    files = [f"{PLOTS}/{p}_rate_cal.png" for p in products]
    if products:
        files.append(f"{PLOTS}/{products[0]}_steps.png")
    files += [f"{PLOTS}/{NAME}_mosaic.png", f"{PLOTS}/{NAME}_weight.png", f"{PLOTS}/{NAME}_footprints.png"]
    return files


def summary_outputs():
    """The per-product table (rules/summary.smk)."""
    return [f"{OUT}/{NAME}_summary.html", f"{OUT}/{NAME}_summary.csv"]


def all_outputs():
    return outputs_for(PRODUCT_NAMES) + plot_outputs(PRODUCT_NAMES) + summary_outputs()
