# Helpers shared by the rules: inputs, products, reference files, parameters.
import functools
import os
import re
from pathlib import Path

# The package beside the Snakefile is importable here (sys.path, set in the Snakefile) and in every
# job, because Snakemake's script preamble extends each job's sys.path with this process's sys.path.
MIRICAL_ROOT = Path(workflow.basedir)

# Library caches (matplotlib's font cache) go under .snakemake/, not the user's home.
os.environ.setdefault("MPLCONFIGDIR", os.path.abspath(".snakemake/mirical-cache/matplotlib"))

from mirical.errors import MiricalError, refuse_run
from mirical.formats.dqflags import check_good_bits
from mirical.steps import IMAGE_REFTYPES, REFTYPES, STEP, STEPS, step_config
from mirical.workflow.code_hash import code_hash, installed_version
from mirical.workflow.planning import (
    Layout,
    References,
    combined_background_products,
    demo_files,
    first_full_frame,
    plan_products,
    science_backgrounds,
    uses_demo,
)

LAYOUT = Layout.from_config(config)  # every output path (mirical/workflow/planning.py)
NAME = LAYOUT.name
OUT = LAYOUT.out
LOGS = LAYOUT.logs
BENCH = LAYOUT.benchmarks
# Cluster runs only (Snakemake ignores groups locally): each exposure's chain background ->
# assign_wcs -> flat_field -> photom -> resample runs as one job, one SLURM job instead
# of five.
EXPOSURE_GROUP = "exposure"
DEMO = demo_files(OUT, config["demo"]) if uses_demo(config) else None
with refuse_run():  # a broken association or science list: one line per problem, no job runs
    PRODUCTS = plan_products(config, DEMO)
PRODUCT = {p.name: p for p in PRODUCTS}
PRODUCT_NAMES = [p.name for p in PRODUCTS]
# Products whose science member is a _rateints.fits (one image per integration): calibrated to
# {product}_calints.fits (rule photom_ints), no i2d, figures or outlier detection, not in the mosaic.
INTS_NAMES = [p.name for p in PRODUCTS if p.ints]
# The others (_rate.fits): cal, i2d, figures, outlier detection and the mosaic.
RATE_NAMES = [p.name for p in PRODUCTS if not p.ints]
# steps.background.source science: each rate product's background from the others (rules/background.smk).
with refuse_run():
    SCIENCE_BACKGROUND = science_backgrounds(config, PRODUCTS)


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
REFERENCES = References(config, PRODUCT, DEMO)


def ref(reftype):
    """Input function: the chosen reference file (nothing if the choice failed)."""

    def inner(wildcards):
        path, _ = REFERENCES.choose(wildcards.product, reftype)
        return [path] if path else []

    return inner


def ref_inputs(step):
    """Named inputs {reftype: input function} of the reference files the step reads (steps table)."""
    return {reftype: ref(reftype) for reftype in STEP[step].reftypes}


def chosen_references(wildcards):
    """Params function: {reftype: path} of every reference file chosen for the product."""
    return REFERENCES.chosen(wildcards.product)


def ref_errors(*reftypes):
    """Params function: {reftype: why no reference file could be chosen ('' if one was)}."""
    return lambda wildcards: REFERENCES.errors(wildcards.product, reftypes)


# ----------------------------------------------------------------- parameters and code
_installed_version = functools.cache(installed_version)  # each library's metadata read once per planning


@functools.cache
def code_version(script):
    """Hash of scripts/{script}.py, the mirical modules it imports and their libraries' versions.

    A param of the rule, so a change to any of them re-runs the step (mirical/workflow/code_hash.py).
    """
    return code_hash(MIRICAL_ROOT / "scripts" / f"{script}.py", MIRICAL_ROOT / "mirical", _installed_version)


def step_params(step, omit=()):
    """The step's parameters (a rule param, so a change re-runs it), without the keys in ``omit``."""
    return {key: value for key, value in step_config(config, step).items() if key not in omit}


# ----------------------------------------------------------------- what every step rule has
# A step's rule (rules/{step}.smk) names its inputs, outputs and resources; the rest comes from here.
def step_log(step):
    """The job's log: {LOGS}/{step}/{product}.log."""
    return f"{LOGS}/{step}/{{product}}.log"


def step_benchmark(step):
    """The job's Snakemake benchmark file: {BENCH}/{step}/{product}.tsv."""
    return f"{BENCH}/{step}/{{product}}.tsv"


def step_rule_params(step, omit=(), errors=None, **extra):
    """The params of the step's rule, each a re-run trigger: ``step`` (its config, without ``omit``), ``errors``
    (why a reference file of the step's types, or of ``errors``, could not be chosen), ``extra``, and ``code``
    (the code hash of scripts/{step}.py)."""
    params = {"step": step_params(step, omit)}
    reftypes = STEP[step].reftypes if errors is None else errors
    if reftypes:
        params["errors"] = ref_errors(*reftypes)
    return {**params, **extra, "code": code_version(step)}


def output_wcs_input(step):
    """Named input {output_wcs: path} when the step drizzles onto a given grid, so a new file re-runs it."""
    path = step_config(config, step).get("output_wcs")
    return {"output_wcs": path} if path else {}


# ----------------------------------------------------------------- the mosaic (rules/mosaic.smk)
# The mosaic keys that shape its grid (mosaic_grid); the others change the drizzle of the parts
# (mosaic_drizzle) and the sum (mosaic), except MOSAIC_REDUCE_KEYS, which only choose the sum's
# output arrays (config.yaml lists which option is which).
MOSAIC_GRID_KEYS = (
    "pixel_scale_ratio",
    "pixel_scale",
    "rotation",
    "crpix",
    "crval",
    "output_shape",
    "output_wcs",
    "allowed_memory",
)
MOSAIC_REDUCE_KEYS = ("enable_ctx", "report_var")


# ----------------------------------------------------------------- destripe (rules/destripe.smk)
# Not an official step, off by default: when it runs, resample and stage 3 read its file instead of the cal file.
DESTRIPE = not step_params("destripe")["skip"]


def calibrated_exposure(product):
    """The calibrated exposure resample and stage 3 read: destripe's file when it runs, else the cal file."""
    return LAYOUT.intermediate_exposure(product, STEP["destripe"].suffix) if DESTRIPE else LAYOUT.cal(product)


def calibrated_input(wildcards):
    return calibrated_exposure(wildcards.product)


def destripe_inputs():
    """Named input {destripe: each rate product's destripe file} when destripe runs (the summary's column)."""
    return {"destripe": [calibrated_exposure(p) for p in RATE_NAMES]} if DESTRIPE else {}


# Skymatch runs on the rate products unless skipped (with one exposure too, as jwst's image3).
SKYMATCH = not step_params("skymatch")["skip"] and bool(RATE_NAMES)
try:
    check_good_bits(step_params("skymatch")["dqbits"])
except ValueError as exc:
    raise MiricalError("config skymatch.dqbits", str(exc)) from None
if SKYMATCH and step_params("skymatch")["skymethod"] == "user" and not step_params("skymatch")["skylist"]:
    raise MiricalError("config skymatch.skylist", "skymethod 'user' needs a skylist file")


# ----------------------------------------------------------------- tweakreg (rules/tweakreg.smk)
# Its keys by the job they change (config.yaml marks them): the catalogs, the fit, the correction of each file.
TWEAKREG_CATALOG_KEYS = (
    "use_custom_catalogs",
    "catalog_format",
    "catfile",
    "starfinder",
    "snr_threshold",
    "kernel_fwhm",
    "bkg_boxsize",
    "minsep_fwhm",
    "sigma_radius",
    "sharplo",
    "sharphi",
    "roundlo",
    "roundhi",
    "brightest",
    "peakmax",
    "npixels",
    "connectivity",
    "nlevels",
    "contrast",
    "multithresh_mode",
    "localbkg_width",
    "apermask_method",
    "kron_params",
    "deblend",
)
TWEAKREG_APPLY_KEYS = (
    "sip_approx",
    "sip_max_pix_error",
    "sip_degree",
    "sip_max_inv_pix_error",
    "sip_inv_degree",
    "sip_npoints",
)
TWEAKREG_SHARED_KEYS = ("skip", "filter_defaults")
TWEAKREG_FIT_KEYS = tuple(
    key
    for key in step_params("tweakreg")
    if key not in TWEAKREG_CATALOG_KEYS + TWEAKREG_APPLY_KEYS + TWEAKREG_SHARED_KEYS + ("filters",)
)
# tweakreg runs on the rate products unless skipped (with one exposure group it records SKIPPED, as jwst).
TWEAKREG = not step_params("tweakreg")["skip"] and bool(RATE_NAMES)


def tweakreg_params(keys):
    """The tweakreg keys of one job, with the per-filter values of those keys (``filters``)."""
    step = step_params("tweakreg")
    filters = {
        name: {key: value for key, value in values.items() if key in keys}
        for name, values in (step["filters"] or {}).items()
    }
    chosen = {key: step[key] for key in keys + TWEAKREG_SHARED_KEYS}
    return {**chosen, "filters": {name: values for name, values in filters.items() if values}}


with refuse_run():
    from mirical.steps.tweakreg import check_abs_refcat
    from mirical.steps.tweakreg_catalog import parse_catfile, user_catalog_for

    TWEAKREG_ABS_REFCAT = check_abs_refcat(step_params("tweakreg")["abs_refcat"]) if TWEAKREG else None
    _catfile = step_params("tweakreg")["catfile"] or ""
    TWEAKREG_USER_CATALOGS = (
        parse_catfile(_catfile)
        if TWEAKREG and step_params("tweakreg")["use_custom_catalogs"] and _catfile.strip()
        else {}
    )


def tweakreg_user_catalog(product):
    """The user catalog of a product in ``catfile`` (by its cal file, rate file or product name), or None."""
    names = (os.path.basename(LAYOUT.cal(product)), os.path.basename(PRODUCT[product].science), product)
    return user_catalog_for(TWEAKREG_USER_CATALOGS, names)


def tweakreg_catalog_inputs(wildcards):
    """Named inputs: the cal file and, when given, the catfile and the product's user catalog."""
    inputs = {"cal": calibrated_exposure(wildcards.product)}
    if TWEAKREG_USER_CATALOGS:
        inputs["catfile"] = _catfile
        user = tweakreg_user_catalog(wildcards.product)
        if user:
            inputs["user_catalog"] = user
    return inputs


def abs_refcat_input():
    """Named input {abs_refcat: path} when an absolute catalog file is given, so a new file re-runs the fit."""
    return {"abs_refcat": TWEAKREG_ABS_REFCAT} if TWEAKREG_ABS_REFCAT else {}


def tweakreg_fit_input():
    """Named input {tweakreg_fit: the fit table} when tweakreg runs (the summary's shift column)."""
    return {"tweakreg_fit": LAYOUT.tweakreg_fit()} if TWEAKREG else {}


def aligned_exposure(product):
    """The exposure stage 3 starts from: tweakreg's when it runs, else the calibrated one."""
    return LAYOUT.tweakreg_exposure(product) if TWEAKREG else calibrated_exposure(product)


# mosaic.lyot mask (not official): stage 3 reads each exposure with its Lyot region flagged (rule lyot_mask).
LYOT_MASK = step_params("mosaic")["lyot"] == "mask"


def stage3_start(product):
    """The exposure skymatch (and without it outlier detection or the mosaic) reads: lyot_mask's with mask."""
    return LAYOUT.intermediate_exposure(product, "lyotmask") if LYOT_MASK else aligned_exposure(product)


def aligned_input(wildcards):
    return aligned_exposure(wildcards.product)


def stage3_exposure(product):
    """The exposure outlier detection (and without it the mosaic) reads: skymatch's when it runs."""
    return LAYOUT.skymatch_exposure(product) if SKYMATCH else stage3_start(product)


def stage3_input(wildcards):
    return stage3_exposure(wildcards.product)


def stage3_member(wildcards):
    """The product's place (0-based) among stage 3's exposures: its group id without one (jwst's ``exposure{i}``)."""
    return RATE_NAMES.index(wildcards.product)


def skymatch_levels_input():
    """Named input {levels: skymatch's table} when skymatch runs (the summary's sky column)."""
    return {"levels": LAYOUT.skymatch_levels()} if SKYMATCH else {}


def skylist_input():
    """Named input {skylist: path} with skymethod user, so a new file re-runs skymatch."""
    step = step_params("skymatch")
    return {"skylist": step["skylist"]} if step["skymethod"] == "user" and step["skylist"] else {}


# Outlier detection runs (its crf files feed the mosaic) unless skipped or with one exposure (as jwst).
OUTLIERS = not step_params("outlier_detection")["skip"] and len(RATE_NAMES) >= 2
with refuse_run():
    try:
        check_good_bits(step_params("outlier_detection")["good_bits"])
    except ValueError as exc:
        raise MiricalError("config outlier_detection.good_bits", str(exc)) from None
# Its single-exposure images are drizzled onto jwst's default grid, whatever the mosaic's grid keys.
OUTLIER_GRID = {
    "pixel_scale_ratio": 1.0,
    "pixel_scale": None,
    "rotation": None,
    "crpix": None,
    "crval": None,
    "output_shape": None,
    "allowed_memory": step_params("outlier_detection")[
        "allowed_memory"
    ],  # its memory guard (mirical/drizzle/memory.py)
}


# The step's keys of the pixel map, used by its single-exposure drizzle and its blot.
PIXMAP_KEYS = ("pixmap_stepsize", "pixmap_order")


def outlier_drizzle_params():
    """The single-exposure drizzle: the step's pixfrac, kernel, fillval, weight_type and pixel map on the default
    grid, weight where DQ is within its good_bits; no variances (the median needs none; jwst's enable_var=False)."""
    step = step_params("outlier_detection")
    keys = ("pixfrac", "kernel", "fillval", "weight_type", "good_bits") + PIXMAP_KEYS
    return {**OUTLIER_GRID, **{key: step[key] for key in keys}, "enable_err": False}


# resample_data false: the median of the cal files themselves; no grid and no single-exposure drizzle.
OUTLIER_RESAMPLE = bool(step_params("outlier_detection")["resample_data"])


def outlier_median_inputs(wildcards):
    """Stage 3's exposures (their group ids, or with resample_data false their pixels), the single-exposure
    images and their grid."""
    cals = {"cals": [stage3_exposure(p) for p in RATE_NAMES]}
    if not OUTLIER_RESAMPLE:
        return cals
    parts = expand(rules.outlier_drizzle.output.part, product=RATE_NAMES)
    return {"grid": rules.outlier_grid.output.grid, "parts": parts, **cals}


def outlier_grid_input(wildcards):
    """The grid of the median (none with resample_data false)."""
    return {"grid": rules.outlier_grid.output.grid} if OUTLIER_RESAMPLE else {}


def exposure_for_mosaic(product):
    """The file the mosaic drizzles: the product's crf file when outlier detection runs, else stage 3's input."""
    return LAYOUT.crf(product) if OUTLIERS else stage3_exposure(product)


def mosaic_exposure(wildcards):
    return exposure_for_mosaic(wildcards.product)


def mosaic_inputs(wildcards):
    """The parts in product order (bit i of CON is product i) and the first exposure's headers."""
    first = exposure_for_mosaic(RATE_NAMES[0])
    if step_params("mosaic")["skip"]:
        return {"first": first}
    parts = expand(rules.mosaic_drizzle.output.part, product=RATE_NAMES)
    return {"grid": rules.mosaic_grid.output.grid, "parts": parts, "first": first}


# ----------------------------------------------------------------- the source catalog (rules/source_catalog.smk)
@functools.cache
def catalog_images():
    """The images with a source catalog: the mosaic (the run's name) and, with ``i2d_catalogs``, each i2d.

    None without the mosaic, or when its APCORR or ABVEGAOFFSET cannot be chosen: the official
    step then warns and writes no catalog, and so does this workflow (one warning line).
    """
    options = step_params("source_catalog")
    if options["skip"] or not RATE_NAMES or step_params("mosaic")["skip"]:
        return []
    missing = {t: why for t in IMAGE_REFTYPES if (why := REFERENCES.choose(RATE_NAMES[0], t)[1])}
    if missing:
        from snakemake.logging import logger

        logger.warning("mirical: no source catalog: " + "; ".join(f"{t}: {why}" for t, why in missing.items()))
        return []
    return [NAME] + (RATE_NAMES if options["i2d_catalogs"] else [])


CATALOG_PARAMS = step_params("source_catalog", omit=("i2d_catalogs",))


def catalog_outputs(image):
    """Named outputs: the catalog and, for the segmentation star finder, its map."""
    outputs = {"catalog": LAYOUT.catalog(image)}
    if CATALOG_PARAMS["starfinder"] == "segmentation":
        outputs["segmentation"] = LAYOUT.segmentation(image)
    return outputs


def catalog_product(wildcards):
    """The product whose headers choose the APCORR and ABVEGAOFFSET: the first exposure's for the mosaic."""
    return getattr(wildcards, "product", RATE_NAMES[0] if RATE_NAMES else None)


def catalog_references(wildcards):
    """Named inputs {reftype: path} of the chosen APCORR and ABVEGAOFFSET."""
    chosen = {t: REFERENCES.choose(catalog_product(wildcards), t) for t in IMAGE_REFTYPES}
    return {t: path for t, (path, _) in chosen.items() if path}


def catalog_errors(wildcards):
    """Params: {reftype: why none could be chosen ('' if one was)}."""
    return {t: REFERENCES.choose(catalog_product(wildcards), t)[1] or "" for t in IMAGE_REFTYPES}


def outputs_by_kind():
    """Everything a complete run makes, by kind (mirical.workflow.planning.Layout.products); the API returns it."""
    return LAYOUT.products(
        PRODUCT_NAMES,
        combined_background_products(config, PRODUCTS),
        crf=OUTLIERS,
        ints=INTS_NAMES,
        sky=SKYMATCH,
        tweak=TWEAKREG,
        catalogs=catalog_images(),
        segmentation=step_params("source_catalog")["starfinder"] == "segmentation",
        science_background=SCIENCE_BACKGROUND is not None,
        destripe=DESTRIPE,
        lyot_mask=first_full_frame(config, PRODUCTS) if LYOT_MASK else None,
    )


def all_outputs():
    """Everything a complete run makes."""
    return [path for paths in outputs_by_kind().values() for path in paths]


# What only shows the products: the `products` target leaves them out.
DISPLAY_KINDS = ("plots", "catalog_plot", "summary")


def product_outputs():
    """The science products of a complete run (cal, i2d, crf, mosaic, catalogs, ...): no figures, no summary."""
    return [path for kind, paths in outputs_by_kind().items() if kind not in DISPLAY_KINDS for path in paths]


# ----------------------------------------------------------------- the background (rules/background.smk)
# steps.background.source science: the background of each rate product from the other science exposures
# of its FILTER/SUBARRAY/READPATT (and science_extra), sources masked. One mask job per rate file
# (background_srcmask), which the background jobs of the others read (SCIENCE_BACKGROUND, above).
# The mask's options: its jobs' params (the background jobs re-run through the masks, not their params).
MASK_KEYS = ("mask_nsigma", "mask_npixels", "mask_dilate", "mask_box_size")
# Options of the background from the science only: not params of a dedicated background's jobs.
SCIENCE_KEYS = ("source", "science_extra", "science_statistic")


def background_omit(*keys):
    """The background options that are no params of its jobs (``keys`` and the mask's, and with
    dedicated backgrounds the science source's)."""
    return keys + MASK_KEYS + (() if SCIENCE_BACKGROUND else SCIENCE_KEYS)


def background_inputs(wildcards):
    """Named inputs: the science file and its dedicated backgrounds, or the others and their source masks."""
    if SCIENCE_BACKGROUND is None:
        return {"science": science(wildcards), "backgrounds": backgrounds(wildcards)}
    others = SCIENCE_BACKGROUND.others.get(wildcards.product, [])
    return {
        "science": science(wildcards),
        "backgrounds": [],
        "others": [SCIENCE_BACKGROUND.sources[name] for name in others],
        "masks": [LAYOUT.source_mask(name) for name in others],
    }


def srcmask_rate(wildcards):
    """The rate file of a source mask (a rate product or a science_extra file)."""
    if SCIENCE_BACKGROUND is None or wildcards.product not in SCIENCE_BACKGROUND.sources:
        raise MiricalError("config", f"{wildcards.product!r} has no source mask in this run")
    return SCIENCE_BACKGROUND.sources[wildcards.product]
