"""tweakreg's source catalog of one exposure (jwst 3.0.0's ``make_tweakreg_catalog``).

The facts of the official step, written here anew:

- Masked: pixels with DO_NOT_USE or NON_SCIENCE in DQ (the coverage mask).
- Background: photutils ``Background2D`` in boxes of ``bkg_boxsize`` pixels, 3x3 median
  filter, 3-sigma clipping, ``MedianBackground``; when the boxes fail, one box of the whole
  array with ``exclude_percentile`` 100; when that fails too, a warning and no sources.
- Threshold: ``snr_threshold`` x the background RMS image, on SCI minus the background.
- ``iraf`` (default) and ``dao``: photutils' IRAFStarFinder / DAOStarFinder with the
  threshold image's median, FWHM ``kernel_fwhm``, ``sigma_radius``, minimum separation
  ``max(2, int(minsep_fwhm * kernel_fwhm + 0.5))`` pixels, sharpness (``sharplo``,
  ``sharphi``), roundness (``roundlo``, ``roundhi``), ``peakmax`` and the ``brightest``.
- ``segmentation``: SCI minus background convolved with a Gaussian of FWHM ``kernel_fwhm``
  (masked pixels left out), photutils' SourceFinder (``npixels``, ``connectivity``,
  ``nlevels``, ``contrast``, ``multithresh_mode``, ``deblend``) on the per-pixel threshold,
  then SourceCatalog (ERR as the error, ``localbkg_width``, ``apermask_method``,
  ``kron_params``, default 2.5, 1.4, 0.0).
- The catalog: ``id``, ``x``, ``y`` (0-based pixel centroids), ``flux``; sources outside the
  gwcs bounding box (strictly inside its edges) are dropped. A user catalog
  (``use_custom_catalogs``, ``catfile``) replaces the search: its ``x``/``y`` columns (or
  ``xcentroid``/``x_centroid``...), filtered the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mirical.errors import MiricalError

#: The columns of a tweakreg catalog, as the official step saves them (``save_catalogs``).
COLUMNS = ("id", "x", "y", "flux")
#: The table formats of ``catalog_format`` and astropy's name for each.
FORMATS = {"ecsv": "ascii.ecsv", "fits": "fits"}


def coverage_mask(dq: np.ndarray) -> np.ndarray:
    """True where a pixel is left out of the search: DO_NOT_USE or NON_SCIENCE."""
    from mirical.formats.dqflags import DO_NOT_USE, NON_SCIENCE

    return (dq & (DO_NOT_USE | NON_SCIENCE)) != 0


def background(data: np.ndarray, mask: np.ndarray, boxsize: int, log=None):
    """photutils' Background2D as the official (None when it cannot be estimated at all)."""
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.background import Background2D, MedianBackground

    options = dict(filter_size=(3, 3), coverage_mask=mask, sigma_clip=SigmaClip(sigma=3.0),
                   bkg_estimator=MedianBackground())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            return Background2D(data, int(boxsize), **options)
        except ValueError:
            pass
        try:
            bkg = Background2D(data, data.shape, exclude_percentile=100.0, **options)
        except ValueError as exc:
            if log:
                log.warning("Error determining sky background: %s", exc)
            return None
    if log:
        log.info("Background could not be estimated in meshes. Using the entire unmasked array for background "
                 "estimation: bkg_boxsize=%s.", data.shape)
    return bkg


def _star_finder(params: Mapping, threshold: float):
    from photutils.detection import DAOStarFinder, IRAFStarFinder

    finder = IRAFStarFinder if params["starfinder"] == "iraf" else DAOStarFinder
    separation = max(2, int(params["minsep_fwhm"] * params["kernel_fwhm"] + 0.5))
    return finder(threshold, params["kernel_fwhm"], sigma_radius=params["sigma_radius"],
                  min_separation=separation, sharpness_range=(params["sharplo"], params["sharphi"]),
                  roundness_range=(params["roundlo"], params["roundhi"]), peak_max=params["peakmax"],
                  n_brightest=params["brightest"])


def _segmentation(data: np.ndarray, threshold: np.ndarray, error: np.ndarray, mask: np.ndarray,
                  params: Mapping):
    from astropy.convolution import Gaussian2DKernel, convolve
    from astropy.stats import gaussian_fwhm_to_sigma
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.segmentation import SourceCatalog, SourceFinder

    convolved = data
    if params["kernel_fwhm"] > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            convolved = convolve(data, Gaussian2DKernel(params["kernel_fwhm"] * gaussian_fwhm_to_sigma), mask=mask)
    finder = SourceFinder(n_pixels=params["npixels"], connectivity=int(params["connectivity"]),
                          deblend=params["deblend"], n_levels=params["nlevels"], contrast=params["contrast"],
                          mode=params["multithresh_mode"], progress_bar=False)
    segments = finder(convolved, threshold, mask=mask)
    if segments is None:
        return None
    kron = tuple(params["kron_params"]) if params["kron_params"] else (2.5, 1.4, 0.0)
    catalog = SourceCatalog(data, segments, mask=mask, convolved_data=convolved, error=error,
                            local_bkg_width=params["localbkg_width"],
                            aperture_mask_method=params["apermask_method"], kron_params=kron)
    return {"id": catalog.label, "x": catalog.x_centroid, "y": catalog.y_centroid, "flux": catalog.segment_flux}


def find_sources(sci: np.ndarray, err: np.ndarray, dq: np.ndarray, params: Mapping, log=None):
    """The official search on one image: an astropy Table with `COLUMNS` (empty when nothing is found)."""
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.utils import NoDetectionsWarning

    mask = coverage_mask(dq)
    bkg = background(sci, mask, params["bkg_boxsize"], log)
    if bkg is None:
        return empty_catalog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        threshold = params["snr_threshold"] * bkg.background_rms
    data = sci - bkg.background
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        if params["starfinder"] == "segmentation":
            columns = _segmentation(data, threshold, err, mask, params)
        else:
            found = _star_finder(params, float(np.median(threshold)))(data, mask=mask)
            columns = None if found is None else {"id": found["id"], "x": found["x_centroid"],
                                                  "y": found["y_centroid"], "flux": found["flux"]}
    if columns is None or len(columns["id"]) == 0:
        if log:
            log.warning("No sources found in the image.")
        return empty_catalog()
    return _table(columns)


def _table(columns: Mapping):
    from astropy.table import Table

    return Table({"id": np.asarray(columns["id"], np.int64), "x": np.asarray(columns["x"], float),
                  "y": np.asarray(columns["y"], float), "flux": np.asarray(columns["flux"], float)})


def empty_catalog():
    """A catalog with no source."""
    return _table({name: [] for name in COLUMNS})


def within_bounding_box(catalog, bounding_box):
    """The sources strictly inside ``((xmin, xmax), (ymin, ymax))`` (all of them for None)."""
    if bounding_box is None or len(catalog) == 0:
        return catalog
    (xmin, xmax), (ymin, ymax) = bounding_box
    x, y = np.asarray(catalog["x"]), np.asarray(catalog["y"])
    return catalog[(x > xmin) & (x < xmax) & (y > ymin) & (y < ymax)]


def exposure_bounding_box(exposure):
    """((xmin, xmax), (ymin, ymax)) of the gwcs in an `mirical.formats.io.Exposure`'s ASDF extension (None without)."""
    from mirical.formats.asdf_extension import read_tree

    if exposure.asdf is None:
        return None
    wcs = (read_tree(exposure.asdf).get("meta") or {}).get("wcs")
    if wcs is None or wcs.bounding_box is None:
        return None
    return wcs.bounding_box.bounding_box(order="F")


# ----------------------------------------------------------------- user catalogs
def parse_catfile(path: str) -> dict[str, str | None]:
    """The ``catfile``: lines "image catalog" (catalog relative to the catfile's folder); an image alone: no
    user catalog for it (the search runs). Comments (#) and blank lines are skipped."""
    file = Path(path)
    if not file.is_file():
        raise MiricalError("config tweakreg.catfile", f"{path}: file does not exist")
    out: dict[str, str | None] = {}
    for number, line in enumerate(file.read_text().splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2:
            raise MiricalError(path, f"line {number}: 'catfile' can contain at most two columns")
        out[words[0]] = str(file.parent / words[1]) if len(words) == 2 else None
    return out


def user_catalog_for(catalogs: Mapping[str, str | None], names: tuple[str, ...]) -> str | None:
    """The user catalog of an exposure known by any of ``names`` (cal file, rate file, product); None: search."""
    for name in names:
        if catalogs.get(name):
            return catalogs[name]
    return None


def read_user_catalog(path: str):
    """A user catalog with ``x``/``y`` (or ``xcentroid``/``x_centroid``, ``ycentroid``/``y_centroid``) columns."""
    from mirical.formats.io import read_catalog  # not at import: the Snakefile imports this module to plan

    table = read_catalog(path)
    for axis in ("x", "y"):
        if axis in table.colnames:
            continue
        for name in (f"{axis}centroid", f"{axis}_centroid"):
            if name in table.colnames:
                table.rename_column(name, axis)
                break
        else:
            raise MiricalError(path, f"a tweakreg catalog needs a column {axis!r}, {axis}centroid or {axis}_centroid")
    return table


def write_catalog(catalog, path: str, catalog_format: str, name: str) -> None:
    """Write the catalog (``catalog_format`` ecsv or fits) atomically; ``name`` is its ``meta['name']``."""
    from mirical.formats.atomic import atomic_path

    catalog = catalog.copy()
    catalog.meta.clear()
    catalog.meta["name"] = name
    with atomic_path(path) as tmp:
        catalog.write(tmp, format=FORMATS[catalog_format], overwrite=True)
