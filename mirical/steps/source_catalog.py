"""The source catalog of a drizzled image (jwst 3.0.0 ``source_catalog``), with photutils.

1. The image (MJy/sr) becomes Jy per pixel (PIXAR_SR); pixels whose ERR is not finite
   or whose weight is 0 are masked (no coverage).
2. Detection on the background-subtracted image (`detect`): photutils' Background2D
   (``bkg_boxsize`` meshes, 3x3 filter, 3-sigma clipped median), a threshold of
   ``snr_threshold`` times its RMS, then photutils' SourceFinder on the image convolved with a
   Gaussian of FWHM ``kernel_fwhm`` (segmentation, deblended) -- or DAOStarFinder /
   IRAFStarFinder (``starfinder`` dao / iraf; no segmentation map then).
3. Photometry (`measure`): photutils' circular apertures of the APCORR radii at
   ``aperture_ee1/2/3`` % encircled energy less the local background (the sigma-clipped
   median in the APCORR annulus), the aperture correction to total, AB and Vega magnitudes
   (ABVEGAOFFSET), concentration indices and ``is_extended``, DAOFind sharpness and roundness
   at the centroids, the nearest neighbour, and the segment
   (isophotal) quantities of photutils' SourceCatalog.

The catalog has the official's columns, names, units, descriptions, formats and metadata
(`write_catalog`); the segmentation map is written as the official's SegmentationMapModel.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from mirical.errors import MiricalError

log = logging.getLogger("mirical")

#: The photutils SourceCatalog columns detection keeps (its defaults, the ellipticity and the sky bounding box).
SEGMENT_COLUMNS = ("label", "x_centroid", "y_centroid", "area", "semimajor_axis", "semiminor_axis", "orientation",
                   "segment_flux", "segment_flux_err", "ellipticity",
                   "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur")
#: Versions recorded in the catalog's metadata (photutils records more).
VERSION_KEYS = ("Python", "numpy", "scipy", "astropy", "photutils", "gwcs")
FALLBACK_KRON = (2.5, 1.4, 0.0)  # photutils' default, used when ``kron_params`` is null (as the official)


@dataclass(frozen=True)
class Image:
    """A drizzled image in Jy per pixel, its coverage mask, WCS and the keywords the catalog reads."""

    data: np.ndarray  # astropy Quantity, Jy
    err: np.ndarray  # astropy Quantity, Jy
    coverage: np.ndarray  # True: no data (ERR not finite or weight 0)
    wcs: object  # gwcs
    filter: str
    subarray: str
    pixel_scale_ratio: float
    crpix: tuple[float, float]  # 1-based


@dataclass(frozen=True)
class Apertures:
    """The three apertures (radii in output pixels), their corrections to total and the background annulus."""

    ee: np.ndarray
    radii: np.ndarray
    corrections: np.ndarray
    annulus: tuple[float, float]

    def meta(self) -> dict:
        """As the official's ``aperture_params`` catalog metadata."""
        return {"aperture_ee": self.ee, "aperture_radii": self.radii, "aperture_corrections": self.corrections,
                "bkg_aperture_inner_radius": self.annulus[0], "bkg_aperture_outer_radius": self.annulus[1]}


def read_image(path: str) -> tuple[Image, fits.HDUList]:
    """The i2d at ``path`` in Jy per pixel (with its coverage mask) and its HDUs (for the segmentation map)."""
    import astropy.units as u

    from mirical.drizzle.i2d import exposure_wcs

    try:
        hdul = fits.open(path, memmap=False)
        primary, sci = hdul[0].header, hdul["SCI"].header
        data, err, weight = (np.array(hdul[name].data) for name in ("SCI", "ERR", "WHT"))
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable i2d file with SCI, ERR and WHT ({exc})") from None
    for key, header in (("BUNIT", sci), ("BUNIT", hdul["ERR"].header)):
        if str(header.get(key, "")).strip() != "MJy/sr":
            raise MiricalError(path, f"SCI and ERR must be in MJy/sr, not {header.get(key)!r}")
    pixar_sr = sci.get("PIXAR_SR", primary.get("PIXAR_SR"))
    if pixar_sr is None:
        raise MiricalError(path, "keyword PIXAR_SR is missing: cannot convert MJy/sr to Jy")
    coverage = np.isnan(err) | (weight == 0)
    to_jy = 1.0e6 * float(pixar_sr)
    data *= to_jy  # in the arrays' float32, as the official
    err *= to_jy
    ratio = primary.get("PXSCLRT", sci.get("PXSCLRT"))
    if ratio is None:
        log.warning("%s: no PXSCLRT, the native pixel scale is assumed (as the official)", path)
    image = Image(data=data << u.Jy, err=err << u.Jy, coverage=coverage,
                  wcs=exposure_wcs(path, hdul["ASDF"] if "ASDF" in hdul else None),
                  filter=str(primary.get("FILTER", "")).strip(), subarray=str(primary.get("SUBARRAY", "")).strip(),
                  pixel_scale_ratio=1.0 if ratio is None else float(ratio),
                  crpix=(float(sci["CRPIX1"]), float(sci["CRPIX2"])))
    return image, hdul


# ----------------------------------------------------------------- reference files

def read_apertures(path: str, image: Image, ee: tuple[int, int, int]) -> Apertures:
    """The APCORR rows of the image's filter and subarray at the encircled energies ``ee`` (percent)."""
    ee = np.array(ee).astype(int)
    if len(ee) != 3 or not np.all(ee[1:] > ee[:-1]) or np.any((ee <= 0) | (ee >= 100)):
        raise MiricalError("config source_catalog.aperture_ee1/2/3", f"{list(ee)}: 3 increasing integers in 1..99")
    try:
        table = fits.getdata(path, "APCORR")
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable APCORR reference file ({exc})") from None
    rows = table[(table["filter"] == image.filter) & (table["subarray"] == image.subarray)]
    if len(rows) == 0:
        raise MiricalError(path, f"no APCORR row for filter {image.filter} and subarray {image.subarray}")
    percent = np.round(rows["eefraction"] * 100)
    chosen = []
    for value in ee:
        match = rows[percent == value]
        if len(match) != 1:
            raise MiricalError(path, f"{len(match)} APCORR rows of {value} % encircled energy (one needed)")
        chosen.append(match[0])
    skyin, skyout = np.unique([r["skyin"] for r in chosen]), np.unique([r["skyout"] for r in chosen])
    if len(skyin) != 1 or len(skyout) != 1:
        raise MiricalError(path, "the chosen APCORR rows have different background annuli (skyin, skyout)")
    ratio = image.pixel_scale_ratio  # native pixels to output pixels
    return Apertures(ee=ee, radii=np.array([r["radius"] for r in chosen]) / ratio,
                     corrections=np.array([r["apcorr"] for r in chosen]),
                     annulus=(skyin[0] / ratio, skyout[0] / ratio))


def read_abvega_offset(path: str, image: Image) -> float:
    """m_AB - m_Vega of the image's filter from an ABVEGAOFFSET reference file (ASDF)."""
    import asdf

    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            table = af.tree["abvega_offset"]
            rows = [row for row in table if str(row["filter"]).strip() == image.filter]
            offsets = [row["abvega_offset"] for row in rows]
    except (OSError, ValueError, KeyError) as exc:
        raise MiricalError(path, f"not a readable ABVEGAOFFSET reference file ({exc})") from None
    if len(offsets) != 1:
        raise MiricalError(path, f"{len(offsets)} ABVEGAOFFSET rows for filter {image.filter} (one needed)")
    return offsets[0]


# ----------------------------------------------------------------- detection

def background(image: Image, box_size: int):
    """photutils' Background2D of the image (the whole unmasked image as one mesh if the boxes fail)."""
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.background import Background2D, MedianBackground

    options = dict(filter_size=(3, 3), coverage_mask=image.coverage, sigma_clip=SigmaClip(sigma=3.0),
                   bkg_estimator=MedianBackground())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            return Background2D(image.data, box_size, **options)
        except ValueError:
            log.info("background: not estimable in %d-pixel meshes, one mesh of the whole image", box_size)
            return Background2D(image.data, image.data.shape, exclude_percentile=100.0, **options)


def detect(image: Image, params: Mapping):
    """Detected sources: (photutils table, SegmentationImage or None) on the background-subtracted image."""
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.utils import NoDetectionsWarning

    bkg = background(image, int(params["bkg_boxsize"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        threshold = params["snr_threshold"] * bkg.background_rms
    data = image.data - bkg.background
    fwhm = float(params["kernel_fwhm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)  # no source: an empty catalog
        return _find(image, data, threshold, fwhm, params)


def _find(image: Image, data, threshold, fwhm: float, params: Mapping):
    """The star finder of ``params`` on the background-subtracted ``data``: (table, SegmentationImage or None)."""
    from astropy.convolution import Gaussian2DKernel, convolve
    from astropy.stats import gaussian_fwhm_to_sigma
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils import use_future_column_names
    from photutils.detection import DAOStarFinder, IRAFStarFinder
    from photutils.segmentation import SourceCatalog, SourceFinder

    if params["starfinder"] != "segmentation":
        finder = DAOStarFinder if params["starfinder"] == "dao" else IRAFStarFinder
        options = dict(sigma_radius=params["sigma_radius"],
                       min_separation=max(2, int(params["minsep_fwhm"] * fwhm + 0.5)),
                       sharpness_range=(params["sharplo"], params["sharphi"]),
                       roundness_range=(params["roundlo"], params["roundhi"]),
                       peak_max=params["peakmax"], n_brightest=params["brightest"])
        with use_future_column_names():
            found = finder(np.median(threshold), fwhm, **options)(data, mask=image.coverage)
        return found, None
    if fwhm > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            convolved = convolve(data, Gaussian2DKernel(fwhm * gaussian_fwhm_to_sigma), mask=image.coverage)
    else:
        convolved = data
    finder = SourceFinder(params["npixels"], connectivity=int(params["connectivity"]), deblend=params["deblend"],
                          n_levels=params["nlevels"], contrast=params["contrast"], mode=params["multithresh_mode"],
                          relabel=True, progress_bar=False)
    segmentation = finder(convolved, threshold, mask=image.coverage)
    if segmentation is None:
        return None, None
    kron = params["kron_params"]
    with use_future_column_names():
        table = SourceCatalog(data, segmentation, mask=image.coverage, convolved_data=convolved, error=image.err,
                              wcs=image.wcs, local_bkg_width=params["localbkg_width"],
                              aperture_mask_method=params["apermask_method"],
                              kron_params=tuple(kron) if kron else FALLBACK_KRON).to_table(columns=SEGMENT_COLUMNS)
    return table, segmentation


# ----------------------------------------------------------------- photometry

# (official column, photutils column of the detection table); a missing one is NaN (dao/iraf star finders)
SEGMENT_SOURCE = {"label": ("label", "id"), "xcentroid": ("x_centroid", "xcentroid"),
                  "ycentroid": ("y_centroid", "ycentroid"), "isophotal_flux": ("segment_flux", "flux"),
                  "isophotal_flux_err": ("segment_flux_err",), "isophotal_area": ("area", "npix"),
                  "semimajor_sigma": ("semimajor_axis",), "semiminor_sigma": ("semiminor_axis",),
                  "ellipticity": ("ellipticity",), "orientation": ("orientation", "pa"),
                  "sky_bbox_ll": ("sky_bbox_ll",), "sky_bbox_ul": ("sky_bbox_ul",), "sky_bbox_lr": ("sky_bbox_lr",),
                  "sky_bbox_ur": ("sky_bbox_ur",)}

DESCRIPTIONS = {
    "label": "Unique source identification label number",
    "xcentroid": "X pixel value of the source centroid (0 indexed)",
    "ycentroid": "Y pixel value of the source centroid (0 indexed)",
    "sky_centroid": "ICRS Sky coordinate of the source centroid",
    "isophotal_flux": "Isophotal flux",
    "isophotal_flux_err": "Isophotal flux error",
    "isophotal_abmag": "Isophotal AB magnitude",
    "isophotal_abmag_err": "Isophotal AB magnitude error",
    "isophotal_vegamag": "Isophotal Vega magnitude",
    "isophotal_vegamag_err": "Isophotal Vega magnitude error",
    "isophotal_area": "Isophotal area",
    "semimajor_sigma": "1-sigma standard deviation along the semimajor axis of the 2D Gaussian function that has "
                       "the same second-order central moments as the source",
    "semiminor_sigma": "1-sigma standard deviation along the semiminor axis of the 2D Gaussian function that has "
                       "the same second-order central moments as the source",
    "ellipticity": "1 minus the ratio of the 1-sigma lengths of the semimajor and semiminor axes",
    "orientation": "The angle (degrees) between the positive X axis and the major axis (increases "
                   "counter-clockwise)",
    "sky_orientation": "The position angle (degrees) from North of the major axis",
    **{f"sky_bbox_{corner}": f"Sky coordinate of the {name} vertex of the minimal bounding box of the source"
       for corner, name in (("ll", "lower-left"), ("ul", "upper-left"), ("lr", "lower-right"),
                            ("ur", "upper-right"))},
    "aper_bkg_flux": "The local background value calculated as the sigma-clipped median value in the background "
                     "annulus aperture",
    "aper_bkg_flux_err": "The standard error of the sigma-clipped median background value",
    "is_extended": "Flag indicating whether the source is extended",
    "sharpness": "The DAOFind source sharpness statistic",
    "roundness": "The DAOFind source roundness statistic",
    "nn_label": "The label number of the nearest neighbor",
    "nn_dist": "The distance in pixels to the nearest neighbor",
}
#: Columns before the aperture columns, and after the extras (the official's order).
LEADING = ("label", "xcentroid", "ycentroid", "sky_centroid")
TRAILING = ("isophotal_flux", "isophotal_flux_err", "isophotal_abmag", "isophotal_abmag_err", "isophotal_vegamag",
            "isophotal_vegamag_err", "isophotal_area", "semimajor_sigma", "semiminor_sigma", "ellipticity",
            "orientation", "sky_orientation", "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur")
KINDS = {"flux": ("Flux", "flux"), "abmag": ("AB magnitude", "AB magnitude"),
         "vegamag": ("Vega magnitude", "Vega magnitude")}


def aperture_columns(ee: np.ndarray) -> dict[str, str]:
    """{name: description} of the background and aperture columns, in the official's order."""
    columns = {name: DESCRIPTIONS[name] for name in ("aper_bkg_flux", "aper_bkg_flux_err")}
    for kind, (title, lower) in KINDS.items():
        for value in ee:
            where = f"within the {value}% encircled energy circular aperture"
            columns[f"aper{value}_{kind}"] = f"{title} {where}"
            columns[f"aper{value}_{kind}_err"] = f"{title} error {where}"
        based = f"based on the {ee[-1]}% encircled energy circular aperture; should be used only for unresolved sources."
        columns[f"aper_total_{kind}"] = f"Total aperture-corrected {lower} {based}"
        columns[f"aper_total_{kind}_err"] = f"Total aperture-corrected {lower} error {based}"
    return columns


CI_PAIRS = ((0, 1), (1, 2), (0, 2))  # (smaller, larger) aperture of each concentration index


def ci_columns(ee: np.ndarray) -> dict[str, str]:
    """{name: description} of the concentration indices, ``CI_{larger}_{smaller}``."""
    return {f"CI_{ee[j]}_{ee[i]}": f"Concentration index calculated as (aper{ee[j]}_flux / aper{ee[i]}_flux)"
            for i, j in CI_PAIRS}


def abmag(flux, flux_err) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitude and its error of fluxes in Jy; NaN for negative fluxes."""
    flux, flux_err = (np.asarray(getattr(x, "value", x), dtype=float) for x in (flux, flux_err))
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = -2.5 * np.log10(flux) + 8.9
        err = 2.5 * np.log10(1.0 + flux_err / flux)
    negative = flux < 0
    mag[negative] = np.nan
    err[negative] = np.nan
    return mag, err


def local_background(data, xy: np.ndarray, annulus: tuple[float, float]):
    """Sigma-clipped median in the annulus around each source and its standard error, sqrt(pi / 2N) * std."""
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.aperture import CircularAnnulus

    clip = SigmaClip(sigma=3.0)
    medians, errors = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", AstropyUserWarning)
        for mask in CircularAnnulus(xy, *annulus).to_mask(method="center"):
            values = clip(mask.get_values(data.value), masked=False)
            medians.append(np.median(values))
            errors.append(np.sqrt(np.pi / (2.0 * values.size)) * np.std(values))
    return np.array(medians) << data.unit, np.array(errors) << data.unit


def dao_statistics(data, xy: np.ndarray, kernel_fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """DAOFind sharpness and (symmetry) roundness of the sources at ``xy`` in the image ``data``.

    DAOFind's statistics (Stetson 1987) with its kernel: a Gaussian of FWHM ``kernel_fwhm`` cut
    at max(2, 1.5 sigma) and shifted to zero sum. photutils computes them only for the sources
    its DAOStarFinder keeps (it drops those with a non-finite centroid fit), so they are
    computed here for every source, on windows of the kernel's size centred on the nearest pixel.
    """
    from astropy.convolution import Gaussian2DKernel
    from astropy.nddata.utils import NoOverlapError, extract_array
    from astropy.stats import gaussian_fwhm_to_sigma
    from scipy import ndimage

    sigma = kernel_fwhm * gaussian_fwhm_to_sigma
    reach = max(2.0, 1.5 * sigma)
    size = 2 * int(reach) + 1
    c = size // 2
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (np.hypot(xx - c, yy - c) <= reach).astype(int)
    gauss = Gaussian2DKernel(sigma, x_size=size, y_size=size).array
    gauss = gauss / gauss.max() * inside
    n = inside.sum()
    kernel = (gauss - gauss.sum() / n) / (np.sum(gauss**2) - gauss.sum() ** 2 / n) * inside
    values = data.value
    convolved = ndimage.convolve(values, kernel, mode="constant", cval=0.0)

    def windows(image: np.ndarray) -> np.ndarray:
        out = []
        for x, y in xy:
            try:
                out.append(extract_array(image, kernel.shape, (y, x), fill_value=0.0))
            except NoOverlapError:
                out.append(np.zeros(kernel.shape))
        return np.array(out)

    window, window_conv = windows(values), windows(convolved)
    peak, conv_peak = window[:, c, c], window_conv[:, c, c]
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpness = (peak - (np.sum(window * inside, axis=(1, 2)) - peak) / (n - 1)) / conv_peak
        window_conv[:, c, c] = 0.0
        quadrants = (-window_conv[:, :c + 1, c + 1:].sum(axis=(1, 2)) + window_conv[:, :c, :c + 1].sum(axis=(1, 2))
                     - window_conv[:, c:, :c].sum(axis=(1, 2)) + window_conv[:, c + 1:, c:].sum(axis=(1, 2)))
        total = np.abs(window_conv).sum(axis=(1, 2))
        total[total == 0] = np.nan
        roundness = 2.0 * quadrants / total
    return sharpness, roundness


def sky_orientation(image: Image, orientation):
    """Position angle (east of north) of the major axis: the orientation less the angle of north at CRPIX."""
    import astropy.units as u

    centre = image.wcs.pixel_to_world(image.crpix[0] - 1, image.crpix[1] - 1)
    x0, y0 = image.wcs.world_to_pixel(centre)
    x1, y1 = image.wcs.world_to_pixel(centre.directional_offset_by(0.0, 1 * u.arcsec))
    north = (np.arctan2(y1 - y0, x1 - x0) * u.radian).to(u.deg)
    return ((180.0 * u.deg) - north + orientation) % (360 * u.deg)


def nearest_neighbours(labels: np.ndarray, xy: np.ndarray):
    """Label of and distance (pixels) to each source's nearest neighbour; -1 and NaN without one."""
    import astropy.units as u
    from scipy.spatial import KDTree

    if len(xy) == 1:
        return np.array([-1]), np.array([np.nan]) * u.pix
    distance, index = KDTree(xy).query(xy, k=[2])
    return labels[index[:, 0]], distance[:, 0] * u.pix


def measure(image: Image, found, apertures: Apertures, abvega_offset: float, params: Mapping):
    """The catalog (astropy QTable) of the detected sources ``found``, with the official's columns."""
    import astropy.units as u
    from astropy.table import QTable
    from photutils.aperture import CircularAperture, aperture_photometry

    columns: dict[str, object] = {}
    for name, sources in SEGMENT_SOURCE.items():
        present = [c for c in sources if c in found.colnames]
        columns[name] = found[present[0]] if present else np.full(len(found), np.nan)
    xy = np.transpose([np.asarray(columns["xcentroid"], float), np.asarray(columns["ycentroid"], float)])
    finite = np.isfinite(xy).all(axis=1)
    xy[~finite] = -1000.0  # off the image: NaN photometry
    columns["sky_centroid"] = image.wcs.pixel_to_world(columns["xcentroid"], columns["ycentroid"])
    for prefix in ("isophotal",):
        mag, err = abmag(columns[f"{prefix}_flux"], columns[f"{prefix}_flux_err"])
        columns.update({f"{prefix}_abmag": mag, f"{prefix}_abmag_err": err,
                        f"{prefix}_vegamag": mag - abvega_offset, f"{prefix}_vegamag_err": err})
    columns["sky_orientation"] = sky_orientation(image, columns["orientation"])
    bkg, bkg_err = local_background(image.data, xy, apertures.annulus)
    columns["aper_bkg_flux"], columns["aper_bkg_flux_err"] = bkg, bkg_err
    circles = [CircularAperture(xy, radius) for radius in apertures.radii]
    table = aperture_photometry(image.data, circles, error=image.err)
    ee = apertures.ee
    for i, (value, circle) in enumerate(zip(ee, circles)):
        flux = table[f"aperture_sum_{i}"] - bkg * circle.area
        flux_err = table[f"aperture_sum_err_{i}"]
        columns[f"aper{value}_flux"], columns[f"aper{value}_flux_err"] = flux, flux_err
    correction = apertures.corrections[-1]
    columns["aper_total_flux"] = correction * columns[f"aper{ee[-1]}_flux"]
    columns["aper_total_flux_err"] = correction * columns[f"aper{ee[-1]}_flux_err"]
    for which in [*(str(v) for v in ee), "_total"]:
        mag, err = abmag(columns[f"aper{which}_flux"], columns[f"aper{which}_flux_err"])
        columns.update({f"aper{which}_abmag": mag, f"aper{which}_abmag_err": err,
                        f"aper{which}_vegamag": mag - abvega_offset, f"aper{which}_vegamag_err": err})
    with np.errstate(divide="ignore", invalid="ignore"):
        for (i, j), name in zip(CI_PAIRS, ci_columns(ee)):
            columns[name] = columns[f"aper{ee[j]}_flux"].value / columns[f"aper{ee[i]}_flux"].value
    names = list(ci_columns(ee))
    columns["is_extended"] = ((columns[names[0]] > params["ci1_star_threshold"])
                              & (columns[names[1]] > params["ci2_star_threshold"]))
    columns["sharpness"], columns["roundness"] = dao_statistics(image.data, xy, params["kernel_fwhm"])
    labels = np.asarray(columns["label"])
    columns["nn_label"], columns["nn_dist"] = nearest_neighbours(labels, xy)
    columns["nn_label"][~finite] = -1
    columns["nn_dist"][~finite] = np.nan
    descriptions = {**{n: DESCRIPTIONS[n] for n in LEADING}, **aperture_columns(ee), **ci_columns(ee),
                    **{n: DESCRIPTIONS[n] for n in ("is_extended", "sharpness", "roundness", "nn_label", "nn_dist")},
                    **{n: DESCRIPTIONS[n] for n in TRAILING}}
    catalog = QTable()
    for name, text in descriptions.items():
        catalog[name] = columns[name]
        catalog[name].info.description = text
        catalog[name].info.format = column_format(name)
    return catalog


def column_format(name: str) -> str | None:
    """The official's display format of a column."""
    if name in ("xcentroid", "ycentroid") or name.startswith("CI_"):
        return ".4f"
    if "flux" in name:
        return ".6e"
    if "mag" in name or name in ("nn_dist", "sharpness", "roundness", "semimajor_sigma", "semiminor_sigma",
                                 "ellipticity", "orientation", "sky_orientation"):
        return ".6f"
    return None


def catalog_meta(found, apertures: Apertures, abvega_offset: float, version: str, date: str | None) -> dict:
    """The catalog's metadata as the official's: photutils' (date, versions, options), apertures, AB-Vega offset.

    ``date``: the image's DATE instead of the time of the run (photutils'), so a re-run writes the same bytes.
    """
    meta = dict(found.meta)
    if date:
        meta["date"] = date
    key = "version" if "version" in meta else "versions"
    if key in meta:
        versions = dict(meta[key], mirical=version)
        meta[key] = {name: versions[name] for name in (*VERSION_KEYS, "mirical") if name in versions}
    return {**meta, "aperture_params": apertures.meta(), "abvega_offset": abvega_offset}


# ----------------------------------------------------------------- the step

def source_catalog(i2d: str, apcorr: str, abvegaoffset: str, params: Mapping):
    """(catalog QTable, segmentation labels or None, the i2d's HDUs) of an i2d file.

    With no source found the catalog has the columns but no row (the official writes no file then)
    and the segmentation map is all 0.
    """
    from astropy.table import QTable

    from mirical import __version__

    image, hdul = read_image(i2d)
    ee = (params["aperture_ee1"], params["aperture_ee2"], params["aperture_ee3"])
    apertures = read_apertures(apcorr, image, ee)
    offset = read_abvega_offset(abvegaoffset, image)
    found, segmentation = detect(image, params)
    labels = None if params["starfinder"] != "segmentation" else np.zeros(image.data.shape, np.uint32)
    if segmentation is not None:
        labels = segmentation.data
    if found is None or len(found) == 0:
        log.warning("%s: no sources found: the catalog is empty", i2d)
        names = [*LEADING, *aperture_columns(apertures.ee), *ci_columns(apertures.ee), "is_extended", "sharpness",
                 "roundness", "nn_label", "nn_dist", *TRAILING]
        return QTable(names=names, dtype=[float] * len(names)), labels, hdul
    catalog = measure(image, found, apertures, offset, params)
    catalog.meta.update(catalog_meta(found, apertures, offset, __version__, hdul[0].header.get("DATE")))
    return catalog, labels, hdul


def write_catalog(catalog, path: str) -> None:
    """The catalog as ECSV (atomically)."""
    from mirical.formats.atomic import atomic_path

    with atomic_path(path) as partial:
        catalog.write(partial, format="ascii.ecsv", overwrite=True)


#: SCI keywords of the i2d the segmentation map keeps (its WCS, as the official's wcsinfo).
SEGM_SCI_KEYWORDS = ("WCSAXES", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2",
                     "CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2", "S_REGION", "XREF_SCI", "YREF_SCI")


def write_segmentation(labels: np.ndarray, hdul: fits.HDUList, path: str) -> None:
    """The segmentation map as the official's SegmentationMapModel: the i2d's primary header, the labels
    (uint32) in SCI with the i2d's WCS keywords, and its ASDF extension (the gwcs)."""
    import os

    from mirical.formats.io import write_atomic

    primary = hdul[0].header.copy()
    primary["FILENAME"] = os.path.basename(path)
    primary["DATAMODL"] = "SegmentationMapModel"
    sci = fits.Header([(key, hdul["SCI"].header[key]) for key in SEGM_SCI_KEYWORDS if key in hdul["SCI"].header])
    hdus = [fits.PrimaryHDU(header=primary), fits.ImageHDU(labels.astype(np.uint32), header=sci, name="SCI")]
    if "ASDF" in hdul:
        hdus.append(hdul["ASDF"].copy())
    write_atomic(fits.HDUList(hdus), path)
