"""What a run makes, from its config: the products, their reference files and every output path.

Used when Snakemake reads the workflow (``rules/common.smk`` keeps only the
glue) and by the Python API; nothing here reads image data (only primary
headers, for the reference choice).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass

from mirical.errors import MiricalError
from mirical.formats.association import Product, check_product_name, load_association, products_from_lists, run_name
from mirical.steps import REFTYPES


def expand(patterns: list[str], key: str) -> list[str]:
    """Paths from a list of paths/globs, sorted per pattern; a pattern matching nothing is an error."""
    paths = []
    for pattern in patterns:
        hits = sorted(glob.glob(os.path.expanduser(pattern)))
        if not hits:
            raise MiricalError(f"config {key}", f"{pattern!r} matches no file")
        paths.extend(hit for hit in hits if hit not in paths)  # a file two patterns match: once
    return paths


def resolved_name(config: Mapping) -> str:
    """The run's name: the config's ``name``, else derived (`mirical.formats.association.run_name`)."""
    science = [] if uses_demo(config) or config.get("association") else expand(config["science"], "science")
    return run_name(config.get("name"), config.get("association"), science)


@dataclass(frozen=True)
class Demo:
    """The embedded demo's files under ``{output_dir}/demo_data`` (absolute paths)."""

    folder: str
    science: list[str]
    background: list[str]
    references: dict[str, str]  # reftype -> path


def demo_files(out: str, demo_config: Mapping) -> Demo:
    """Where the simulate rule writes the demo of ``demo_config`` (the config's ``demo:``)."""
    from mirical.demo.settings import DemoSettings, background_name, reference_paths, science_name

    settings = DemoSettings(**demo_config)
    folder = os.path.abspath(f"{out}/demo_data")
    return Demo(folder=folder,
                science=[f"{folder}/IMA_science/{science_name(i + 1, settings)}" for i in range(settings.n_dithers)],
                background=[f"{folder}/IMA_background/{background_name(settings)}"] if settings.backgrounds else [],
                references=reference_paths(f"{folder}/reference", settings))


def uses_demo(config: Mapping) -> bool:
    """Neither science files nor an association given: the run calibrates the embedded demo."""
    return not config.get("science") and not config.get("association")


def plan_products(config: Mapping, demo: Demo | None) -> list[Product]:
    """The run's products: the demo's, the association's, or from the science/background lists; checked."""
    name = config["name"]
    source = config.get("association") or "config"
    if demo is not None:
        products = products_from_lists(demo.science, demo.background, name)
    elif config.get("association"):
        products = load_association(config["association"])
    else:
        products = products_from_lists(expand(config["science"], "science"),
                                       expand(config.get("background") or [], "background"), name)
    for product in products:
        check_product_name(product.name, source)
        if product.name == name:
            raise MiricalError(source, f"product name {name!r} is the run's `name`: its _i2d.fits would be the mosaic's")
    return products


def combined_background_products(config: Mapping, products: list[Product]) -> list[str]:
    """Products whose combined background is written: ``save_combined_background`` set, the step not
    skipped, and background members to combine (as the official step, which writes it only then);
    with ``source: science`` every rate product."""
    options = config["steps"]["background"]
    if not options.get("save_combined_background") or options["skip"]:
        return []
    if options.get("source") == "science":
        return [p.name for p in products if not p.ints]
    return [p.name for p in products if p.backgrounds]


@dataclass(frozen=True)
class ScienceBackgrounds:
    """``steps.background.source: science``: the rate files with a source mask and each product's others."""

    sources: dict[str, str]  # mask name (a product, or bkgextra{i}_{stem} for science_extra) -> rate path
    others: dict[str, list[str]]  # product -> mask names of the other exposures of its group, in order


def science_backgrounds(config: Mapping, products: list[Product]) -> ScienceBackgrounds | None:
    """What a background from the science exposures reads (None: not asked for, or the step skipped).

    A product's others are the rate files of the same FILTER, SUBARRAY and READPATT (primary headers;
    files not written yet, the demo's, are one group) among the science and ``science_extra``.
    """
    options = config["steps"]["background"]
    if options.get("source") != "science" or options["skip"]:
        return None
    sources = {p.name: p.science for p in products if not p.ints}
    extra = expand(list(options.get("science_extra") or []), "steps.background.science_extra")
    for i, path in enumerate(p for p in extra if p not in sources.values()):
        sources[f"bkgextra{i + 1}_{os.path.basename(path).removesuffix('.fits')}"] = path
    keys = {name: _group_key(path) for name, path in sources.items()}
    others = {p.name: [] if p.ints else [n for n in sources if n != p.name and keys[n] == keys[p.name]]
              for p in products}  # a rateints product is refused by its job
    return ScienceBackgrounds(sources, others)


def _group_key(path: str) -> tuple[str, ...] | None:
    """FILTER, SUBARRAY, READPATT of a rate file (None before it exists: the demo's, all alike)."""
    if not os.path.exists(path):
        return None
    from astropy.io import fits

    from mirical.steps.background import group_key

    try:
        with open(path, "rb") as f:
            return group_key(fits.Header.fromfile(f))
    except OSError as exc:
        raise MiricalError(path, f"not a readable FITS file ({exc})") from None


def first_full_frame(config: Mapping, products: list[Product]) -> str | None:
    """The first full-frame rate product (``mosaic.lyot: mask``'s figure), None if there is none.

    Full frame: the demo's ``subarray``, else SUBARRAY in the rate file's primary header.
    """
    rate = [p for p in products if not p.ints]
    if uses_demo(config):
        from mirical.demo.settings import DemoSettings

        full = DemoSettings(**(config.get("demo") or {})).subarray == "FULL"
        return rate[0].name if rate and full else None
    from astropy.io import fits

    for product in rate:
        try:
            with open(product.science, "rb") as f:
                subarray = fits.Header.fromfile(f).get("SUBARRAY", "")
        except OSError as exc:
            raise MiricalError(product.science, f"not a readable FITS file ({exc})") from None
        if str(subarray).strip().upper() == "FULL":
            return product.name
    return None


class References:
    """The reference file of each type for each product, chosen once (``choose``)."""

    def __init__(self, config: Mapping, products: Mapping[str, Product], demo: Demo | None = None):
        self.sources = dict(config.get("reference_files") or {})
        self.crds = config.get("crds")
        self.products = products
        self.demo = demo
        self._chosen: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._headers: dict[str, dict] = {}
        self._folder_choices: dict[tuple, str] = {}  # (folder, selection key) -> file; failures are not kept

    def _header(self, path: str) -> dict:
        """Primary header of an exposure, read once however many reference types need it."""
        if path not in self._headers:
            from astropy.io import fits

            with open(path, "rb") as f:
                self._headers[path] = dict(fits.Header.fromfile(f).items())  # a dict: lookups are cheap
        return self._headers[path]

    def choose(self, product: str, reftype: str) -> tuple[str | None, str | None]:
        """(path, None) for the reference file of ``reftype`` for ``product``, or (None, why not)."""
        key = (product, reftype)
        if key not in self._chosen:
            try:
                self._chosen[key] = self._choose(self.products[product].science, reftype)
            except Exception as exc:  # reported by the job that needs the file, not here
                self._chosen[key] = (None, str(exc))
        return self._chosen[key]

    def _choose(self, science: str, reftype: str) -> tuple[str | None, str | None]:
        if self.demo is not None:
            return self.demo.references[reftype], None
        source = self.sources.get(reftype)
        if self.crds and not source:
            from mirical.references.selection import select_with_crds

            return select_with_crds(reftype, self._header(science), self.crds["path"], self.crds.get("context")), None
        if not source:
            return None, f"reference_files.{reftype} is not set in the config"
        if not os.path.exists(source):
            return None, f"{source} does not exist (reference_files.{reftype})"
        if os.path.isdir(source):
            from mirical.references.selection import select, selection_key

            header = self._header(science)
            same = (source, selection_key(reftype, header))  # exposures alike choose alike
            if same not in self._folder_choices:
                self._folder_choices[same] = select(reftype, source, header, os.path.basename(science))
            return self._folder_choices[same], None
        return source, None

    def chosen(self, product: str) -> dict[str, str]:
        """{reftype: path} of every reference file chosen for ``product``."""
        paths = {t: self.choose(product, t)[0] for t in REFTYPES}
        return {t: path for t, path in paths.items() if path}

    def errors(self, product: str, reftypes: tuple[str, ...]) -> dict[str, str]:
        """{reftype: why no reference file could be chosen ('' if one was)}."""
        return {t: self.choose(product, t)[1] or "" for t in reftypes}


@dataclass(frozen=True)
class Layout:
    """Every output path of a run named ``name`` writing to ``out`` (a product may be "{product}")."""

    out: str
    name: str

    @classmethod
    def from_config(cls, config: Mapping) -> Layout:
        return cls((config.get("output_dir") or f"results/{config['name']}").rstrip("/"), config["name"])

    @property
    def intermediate(self) -> str:
        return f"{self.out}/intermediate"

    @property
    def logs(self) -> str:
        return f"{self.out}/logs"

    @property
    def benchmarks(self) -> str:
        """Per-job wall time and peak memory (Snakemake benchmark: files)."""
        return f"{self.out}/benchmarks"

    @property
    def plots(self) -> str:
        """Quicklook PNGs."""
        return f"{self.out}/plots"

    def association(self) -> str:
        return f"{self.out}/{self.name}_lvl2_asn.json"

    def intermediate_exposure(self, product: str, suffix: str) -> str:
        """A step's output before the cal file: suffix bkgsub, wcs or flat."""
        return f"{self.intermediate}/{product}_{suffix}.fits"

    def source_mask(self, name: str) -> str:
        """The source mask of a rate file (``steps.background.source: science``)."""
        return f"{self.intermediate}/{name}_srcmask.fits"

    def combined_background(self, product: str) -> str:
        """The background step's combined background (``steps.background.save_combined_background``)."""
        return f"{self.intermediate}/{product}_combinedbackground.fits"

    def cal(self, product: str) -> str:
        return f"{self.out}/{product}_cal.fits"

    def calints(self, product: str) -> str:
        """The calibrated exposure of a rateints product: one image per integration."""
        return f"{self.out}/{product}_calints.fits"

    def calibrated(self, product: str, ints: bool) -> str:
        """The product's calibrated exposure: its calints file (``ints``) or its cal file."""
        return self.calints(product) if ints else self.cal(product)

    def refs(self, product: str) -> str:
        """The provenance record of the product's reference files."""
        return f"{self.intermediate}/{product}_refs.json"

    def i2d(self, product: str) -> str:
        return f"{self.out}/{product}_i2d.fits"

    def mosaic(self) -> str:
        return f"{self.out}/{self.name}_i2d.fits"

    def mosaic_grid(self) -> str:
        """The mosaic's output grid (intermediate, read by every mosaic job)."""
        return f"{self.intermediate}/{self.name}_mosaic_grid.asdf"

    def mosaic_part(self, product: str) -> str:
        """One exposure drizzled alone onto its crop of the mosaic grid (intermediate)."""
        return f"{self.intermediate}/{product}_mosaic_part.fits"

    def outlier_grid(self) -> str:
        """Outlier detection's grid: the default grid of all cal files (intermediate)."""
        return f"{self.intermediate}/{self.name}_outlier_grid.asdf"

    def outlier_i2d(self, product: str) -> str:
        """One exposure drizzled alone onto its crop of the outlier grid (intermediate)."""
        return f"{self.intermediate}/{product}_outlier_i2d.fits"

    def median(self) -> str:
        """The median of the single-exposure images (intermediate)."""
        return f"{self.intermediate}/{self.name}_median.fits"

    def tweakreg_catalog(self, product: str, catalog_format: str = "ecsv") -> str:
        """tweakreg's source catalog of an exposure (intermediate; ``catalog_format`` ecsv or fits)."""
        return f"{self.intermediate}/{product}_tweakreg_catalog.{catalog_format}"

    def tweakreg_fit(self) -> str:
        """tweakreg's fit of every exposure (intermediate)."""
        return f"{self.intermediate}/{self.name}_tweakreg_fit.ecsv"

    def tweakreg_matches(self) -> str:
        """tweakreg's matched sources and their residuals (intermediate; the figure's)."""
        return f"{self.intermediate}/{self.name}_tweakreg_matches.ecsv"

    def tweakreg_exposure(self, product: str) -> str:
        """The cal file with tweakreg's corrected gwcs, what skymatch (and after it stage 3) reads."""
        return f"{self.intermediate}/{product}_tweakreg.fits"

    def skymatch_levels(self) -> str:
        """The sky level of every exposure (skymatch's table, intermediate)."""
        return f"{self.intermediate}/{self.name}_skymatch_levels.ecsv"

    def skymatch_exposure(self, product: str) -> str:
        """The exposure with its sky level (BKGLEVEL, ...), what outlier detection and the mosaic read."""
        return f"{self.intermediate}/{product}_skymatch.fits"

    def crf(self, product: str) -> str:
        """The cal file with its outliers flagged (stage 3's name)."""
        return f"{self.out}/{product}_crf.fits"

    def catalog(self, image: str) -> str:
        """The source catalog of an i2d (the mosaic: ``image`` is the run's name; else a product)."""
        return f"{self.out}/{image}_cat.ecsv"

    def segmentation(self, image: str) -> str:
        """The segmentation map of the source catalog of an i2d."""
        return f"{self.out}/{image}_segm.fits"

    def plot(self, what: str) -> str:
        """A quicklook figure: {product}_rate_cal, {product}_steps, {name}_mosaic, _weight, _footprints."""
        return f"{self.plots}/{what}.png"

    def summary(self, ext: str) -> str:
        """The per-product table: ext html or csv."""
        return f"{self.out}/{self.name}_summary.{ext}"

    def products(self, products: list[str], combined_background: list[str] = (),
                 crf: bool = False, ints: list[str] = (), sky: bool = False, catalogs: list[str] = (),
                 segmentation: bool = True, tweak: bool = False,
                 science_background: bool = False, destripe: bool = False,
                 lyot_mask: str | None = None) -> dict[str, list[str]]:
        """The files a complete run of ``products`` makes, by kind (what ``rule all`` asks for).

        ``combined_background``: the products whose combined background is saved;
        ``crf``: outlier detection runs, so each rate product has a crf file too;
        ``sky``: skymatch runs (its levels table);
        ``tweak``: tweakreg runs (its fit table and figure);
        ``ints``: the rateints products (a calints file each; no i2d, figures or place in the
        mosaic: the mosaic is made of the other products, if any);
        ``catalogs``: the i2d images (the run's name for the mosaic) with a source catalog, and with
        it a ``segmentation`` map (the segmentation star finder's);
        ``science_background``: backgrounds come from the science exposures (the first one's figure);
        ``destripe``: destripe runs (the first rate product's figure);
        ``lyot_mask``: the product of the Lyot mask figure (``mosaic.lyot: mask``; `first_full_frame`).
        """
        per_integration = set(ints)
        rate = [p for p in products if p not in per_integration]
        plots = [self.plot(f"{p}_rate_cal") for p in rate] + [self.plot(f"{p}_steps") for p in rate[:1]]
        plots += [self.plot(f"{p}_outliers") for p in rate[:1]] if crf else []
        plots += [self.plot(f"{self.name}_{what}") for what in ("mosaic", "weight", "footprints") if rate]
        plots += [self.plot(f"{self.name}_tweakreg")] if tweak and rate else []
        plots += [self.plot(f"{self.name}_skymatch")] if sky and rate else []
        plots += [self.plot(f"{p}_background") for p in rate[:1]] if science_background else []
        plots += [self.plot(f"{p}_destripe") for p in rate[:1]] if destripe else []
        plots += [self.plot(f"{lyot_mask}_lyotmask")] if lyot_mask in rate else []
        return {
            "association": [self.association()],
            "cal": [self.cal(p) for p in rate],
            "calints": [self.calints(p) for p in products if p in per_integration],
            "tweakreg": [self.tweakreg_fit()] if tweak and rate else [],
            "skymatch": [self.skymatch_levels()] if sky and rate else [],
            "crf": [self.crf(p) for p in rate] if crf else [],
            "i2d": [self.i2d(p) for p in rate],
            "refs": [self.refs(p) for p in products],
            "combined_background": [self.combined_background(p) for p in combined_background],
            "mosaic": [self.mosaic()] if rate else [],
            "plots": plots,
            "catalog": [self.catalog(i) for i in catalogs],
            "catalog_plot": [self.plot(f"{self.name}_catalog")] if self.name in catalogs else [],
            "segmentation": [self.segmentation(i) for i in catalogs] if segmentation else [],
            "summary": [self.summary("html"), self.summary("csv")],
        }
