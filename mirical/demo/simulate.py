"""The embedded demo: a deterministic MIRI imager observation and its reference files.

What the seed notebook reduced (a MIRISim 4-point dither of a galaxy in F1130W
plus one dedicated background exposure), made here from a seed: point sources
and an exponential-disk galaxy at known RA/Dec and fluxes (``truth.ecsv``), a
sky + telescope background with a gradient, the flat's pattern, Poisson and
read noise consistent with VAR_POISSON/VAR_RNOISE/ERR, DQ with reference
columns, hot pixels and jumps, and realistic headers and pointings. Sources are
placed with a WCS built from the same DISTORTION/FILTEROFFSET reference files
the workflow uses (the real MIRI imager distortion solution).

Flux convention (the one that makes calwebb_image2 + resample flux conserving):
the flat absorbs the pixel-area variation, so a source of surface brightness
SB gives ``rate = flat * SB / c`` and a point source of flux F puts
``rate = flat * F_pix / (PIXAR_SR * AREA * c)`` in a pixel, where ``c`` is the
PHOTOM conversion and ``AREA`` the relative pixel area of the AREA reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical import __version__
from mirical.demo.settings import DemoSettings, background_name, reference_paths, science_name
from mirical.formats import dqflags
from mirical.formats.atomic import atomic_path
from mirical.formats.imager_geometry import REGIONS
from mirical.formats.io import write_atomic
from mirical.formats.subarray import FULL_SHAPE

ARCSEC2_PER_SR = (180.0 / np.pi * 3600.0) ** 2
MJYSR_PER_UJYA2 = 1.0 / 23.5044

# MIRI imager subarrays: (SUBSTRT1, SUBSTRT2, SUBSIZE1, SUBSIZE2), from the SIAF
# (XDetRef - XSciRef + 1, YDetRef - YSciRef + 1, XSciSize, YSciSize); the coronagraph
# subarrays (MASK*) as the imager reads them out around each mask.
SUBARRAYS = {
    "FULL": (1, 1, 1032, 1024),
    "BRIGHTSKY": (457, 51, 512, 512),
    "SUB256": (413, 51, 256, 256),
    "SUB128": (1, 891, 136, 128),
    "SUB64": (1, 779, 72, 64),
    "MASK1065": REGIONS["4qpm1065"][1],
    "MASK1140": REGIONS["4qpm1140"][1],
    "MASK1550": REGIONS["4qpm1550"][1],
    "MASKLYOT": REGIONS["lyot"][1],
}
APERTURES = {name: f"MIRIM_{name}" for name in SUBARRAYS}
# Ideal-frame orientation of the MIRI imager (SIAF MIRIM_FULL, PRDOPSSOC-075).
V3I_YANG = 4.83544897
VPARITY = -1

# Representative (not CRDS) conversion factors, (MJy/sr)/(DN/s).
PHOTMJSR = {"F560W": 0.568, "F770W": 0.319, "F1000W": 0.455, "F1130W": 1.363,
            "F1280W": 0.523, "F1500W": 0.516, "F1800W": 0.595, "F2100W": 0.627,
            "F2550W": 2.381}
# Representative time dependence (exponential, rows aligned with PHOTOM).
TIME_T0 = 59720.0
TIME_AMPLITUDE, TIME_TAU, TIME_CONST = 0.08, 400.0, 0.92

PSF_FWHM_ARCSEC = {"F560W": 0.207, "F770W": 0.269, "F1000W": 0.328, "F1130W": 0.375,
                   "F1280W": 0.420, "F1500W": 0.488, "F1800W": 0.591, "F2100W": 0.674,
                   "F2550W": 0.803}
# Representative (not CRDS) Vega flux densities (Jy) in the MIRI imager filters: the demo's
# ABVEGAOFFSET is m_AB - m_Vega = 2.5 log10(3631 Jy / F_Vega).
VEGA_JY = {"F560W": 115.6, "F770W": 64.8, "F1000W": 38.9, "F1130W": 30.9, "F1280W": 24.3,
           "F1500W": 17.4, "F1800W": 12.1, "F2100W": 9.1, "F2550W": 6.3}
# Encircled-energy fractions of the demo's APCORR rows (those of the MIRI CDP).
APCORR_EE = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GAIN = 4.0          # e-/DN
READ_NOISE_DN = 6.0  # per frame
TFRAME = 2.775       # s, FASTR1 full frame


# --------------------------------------------------------------------------- geometry

def detector_model(settings: DemoSettings):
    """Distortion model with the filter offset applied (full-frame 0-based pixels -> V2,V3)."""
    from astropy.modeling.models import Shift

    from mirical.references.distortion import distortion_model, filter_offsets

    col, row = _filter_offset(filter_offsets(), settings.filter)
    return (Shift(col) & Shift(row)) | distortion_model()


def _filter_offset(entries: list[dict], filter_name: str) -> tuple[float, float]:
    for entry in entries:
        if entry["filter"] == filter_name:
            return float(entry["column_offset"]), float(entry["row_offset"])
    raise ValueError(f"no filter offset for {filter_name}")


def pixel_area_map(settings: DemoSettings) -> tuple[np.ndarray, float]:
    """Relative pixel-area map (full frame) and the nominal area in arcsec^2."""
    model = detector_model(settings)
    ny, nx = FULL_SHAPE
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    h = 0.5
    v2x1, v3x1 = model(x + h, y)
    v2x0, v3x0 = model(x - h, y)
    v2y1, v3y1 = model(x, y + h)
    v2y0, v3y0 = model(x, y - h)
    area = np.abs((v2x1 - v2x0) * (v3y1 - v3y0) - (v2y1 - v2y0) * (v3x1 - v3x0))
    nominal = float(np.mean(area[:, 4:-4]))
    return (area / nominal).astype(np.float32), nominal


def pointing(settings: DemoSettings, dither: int) -> dict:
    """Pointing keywords of dither ``dither`` (0-based; -1 for the background field)."""
    xstart, ystart, xsize, ysize = SUBARRAYS[settings.subarray]
    xref = xstart - 1 + (xsize + 1) / 2.0 - 1.0  # 0-based full-frame centre of the aperture
    yref = ystart - 1 + (ysize + 1) / 2.0 - 1.0
    v2_ref, v3_ref = (float(v) for v in detector_model(settings)(xref, yref))
    if dither < 0:
        ra, dec = settings.ra + 0.25, settings.dec + 0.1  # an empty field nearby
    else:
        dx, dy = settings.dither_arcsec[dither % len(settings.dither_arcsec)]
        ra = settings.ra + dx / 3600.0 / np.cos(np.radians(settings.dec))
        dec = settings.dec + dy / 3600.0
    return {
        "V2_REF": v2_ref, "V3_REF": v3_ref, "ROLL_REF": settings.roll,
        "RA_REF": ra, "DEC_REF": dec, "VA_SCALE": 1.0000129,
        "XREF_SCI": xref - (xstart - 1) + 1.0, "YREF_SCI": yref - (ystart - 1) + 1.0,
    }


def exposure_wcs(settings: DemoSettings, pointing_keys: dict):
    """The gwcs of an exposure, built by mirical's assign_wcs from the demo references."""
    from mirical.references.distortion import distortion_model, filter_offsets
    from mirical.steps.assign_wcs import build_wcs

    col, row = _filter_offset(filter_offsets(), settings.filter)
    xstart, ystart, xsize, ysize = SUBARRAYS[settings.subarray]
    return build_wcs(distortion_model(), col, row, pointing_keys,
                     substrt=(xstart, ystart), subsize=(xsize, ysize))


# --------------------------------------------------------------------------- truth

def make_truth(settings: DemoSettings):
    """Point sources and the galaxy: positions and fluxes (an astropy Table)."""
    from astropy.table import Table

    rng = np.random.default_rng(settings.seed)
    _, _, xsize, ysize = SUBARRAYS[settings.subarray]
    margin = max(np.abs(settings.dither_arcsec).max(), 1.0) + 2.0  # every source in every dither
    half = 0.5 * min(xsize, ysize) * 0.11 - margin
    clear = min(8.0, 0.5 * half)  # keep clear of the galaxy
    n = settings.n_sources
    cosd = np.cos(np.radians(settings.dec))
    placed: list[tuple[float, float]] = []
    for _ in range(200 * n):
        dx, dy = rng.uniform(-half, half, 2)
        if np.hypot(dx, dy) > clear and all(np.hypot(dx - px, dy - py) > 3.0 for px, py in placed):
            placed.append((dx, dy))
            if len(placed) == n:
                break
    else:
        raise ValueError(f"cannot place {n} separated sources in a {settings.subarray} field")
    offsets = np.array(placed)
    flux = np.exp(rng.uniform(np.log(500.0), np.log(5000.0), n))
    table = Table()
    table["id"] = np.arange(1, n + 2)
    table["kind"] = ["point"] * n + ["galaxy"]
    table["ra"] = np.append(settings.ra + offsets[:, 0] / 3600.0 / cosd, settings.ra)
    table["dec"] = np.append(settings.dec + offsets[:, 1] / 3600.0, settings.dec)
    table["flux_ujy"] = np.append(flux, 20000.0)
    table["scale_arcsec"] = np.append(np.zeros(n), 2.0)
    table["axis_ratio"] = np.append(np.ones(n), 0.6)
    table["pa_deg"] = np.append(np.zeros(n), 30.0)
    table.meta["filter"] = settings.filter
    table.meta["psf_fwhm_arcsec"] = PSF_FWHM_ARCSEC[settings.filter]
    table.meta["seed"] = settings.seed
    table.meta["comment"] = "mirical demo truth; fluxes in microJy"
    return table


# --------------------------------------------------------------------------- rendering

def _gauss_integral(edges: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    from scipy.special import erf

    cdf = 0.5 * (1.0 + erf((edges - centre) / (np.sqrt(2.0) * sigma)))
    return np.diff(cdf)


def render_scene(settings: DemoSettings, wcs, truth, area: np.ndarray, pixar_sr: float,
                 shape: tuple[int, int]) -> np.ndarray:
    """Source flux per pixel in MJy/sr-equivalent surface brightness on the subarray."""
    ny, nx = shape
    scene = np.zeros(shape, dtype=np.float64)
    sigma = PSF_FWHM_ARCSEC[settings.filter] / 2.3548 / 0.1108
    points = truth[truth["kind"] == "point"]
    xs, ys = wcs.invert(np.asarray(points["ra"]), np.asarray(points["dec"]), with_bounding_box=False)
    r = int(np.ceil(8 * sigma))
    for x0, y0, flux in zip(xs, ys, points["flux_ujy"]):
        if not (np.isfinite(x0) and np.isfinite(y0)):
            continue
        ix, iy = int(round(x0)), int(round(y0))
        xa, xb = max(ix - r, 0), min(ix + r + 1, nx)
        ya, yb = max(iy - r, 0), min(iy + r + 1, ny)
        if xa >= xb or ya >= yb:
            continue
        fx = _gauss_integral(np.arange(xa, xb + 1) - 0.5, x0, sigma)
        fy = _gauss_integral(np.arange(ya, yb + 1) - 0.5, y0, sigma)
        flux_mjy = flux * 1e-12 * np.outer(fy, fx)
        scene[ya:yb, xa:xb] += flux_mjy / (pixar_sr * area[ya:yb, xa:xb])
    galaxy = truth[truth["kind"] == "galaxy"][0]
    gx, gy = wcs.invert(galaxy["ra"], galaxy["dec"], with_bounding_box=False)
    box = int(12 * galaxy["scale_arcsec"] / 0.11)
    xa, xb = max(int(gx) - box, 0), min(int(gx) + box + 1, nx)
    ya, yb = max(int(gy) - box, 0), min(int(gy) + box + 1, ny)
    if xa < xb and ya < yb:
        yy, xx = np.mgrid[ya:yb, xa:xb]
        ra, dec = wcs(xx.astype(float), yy.astype(float))
        scene[ya:yb, xa:xb] += _disk(ra, dec, galaxy)
    return scene


def _disk(ra: np.ndarray, dec: np.ndarray, galaxy) -> np.ndarray:
    """Exponential disk surface brightness in MJy/sr."""
    dx = (ra - galaxy["ra"]) * np.cos(np.radians(galaxy["dec"])) * 3600.0
    dy = (dec - galaxy["dec"]) * 3600.0
    pa = np.radians(galaxy["pa_deg"])
    major = -dx * np.sin(pa) + dy * np.cos(pa)
    minor = dx * np.cos(pa) + dy * np.sin(pa)
    q, h = galaxy["axis_ratio"], galaxy["scale_arcsec"]
    radius = np.hypot(major, minor / q)
    i0 = galaxy["flux_ujy"] / (2.0 * np.pi * h * h * q)  # microJy / arcsec^2
    return i0 * np.exp(-radius / h) * MJYSR_PER_UJYA2


def background_sb(shape: tuple[int, int], frame: tuple[int, int, int, int], level: float) -> np.ndarray:
    """Sky + telescope background (MJy/sr) with a gradient fixed to the detector."""
    xstart, ystart, _, _ = frame
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    xf, yf = x + xstart - 1, y + ystart - 1
    return level * (1.0 + 0.04 * (xf - 516.0) / 1032.0 + 0.02 * (yf - 512.0) / 1024.0)


def sky_pattern(shape: tuple[int, int], frame: tuple[int, int, int, int]) -> np.ndarray:
    """A sky pattern fixed on the detector, about -0.5 to 1: a radial glow and rings (as MIRI's "tree rings")."""
    xstart, ystart, _, _ = frame
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    xf, yf = x + xstart - 1, y + ystart - 1
    glow = np.exp(-np.hypot(xf - 300.0, yf - 700.0) / 250.0)
    rings = 0.5 * np.sin(2.0 * np.pi * np.hypot(xf + 400.0, yf - 1500.0) / 150.0)
    return glow + rings


def sky_sb(shape: tuple[int, int], frame: tuple[int, int, int, int], settings: DemoSettings) -> np.ndarray:
    """The whole sky of every exposure (MJy/sr): `background_sb` plus the detector-fixed `sky_pattern`."""
    sb = background_sb(shape, frame, settings.background_mjysr)
    if settings.sky_structure:
        sb = sb + settings.sky_structure * settings.background_mjysr * sky_pattern(shape, frame)
    return sb


def true_sky_rate(settings: DemoSettings, dither: int, flat_full: np.ndarray) -> np.ndarray:
    """The noiseless sky (DN/s) of exposure ``dither`` (0-based; -1 the background), as `write_exposure_file`
    makes it: what a background subtraction should remove."""
    from mirical.formats.subarray import cut

    frame = SUBARRAYS[settings.subarray]
    flat = cut(flat_full, (1, 1, 1032, 1024), frame, fill=np.nan)
    flat_safe = np.where(np.isfinite(flat) & (flat != 0), flat, 1.0)
    expmid = _exposure_mjd(settings, dither)[2]
    return flat_safe * sky_sb((frame[3], frame[2]), frame, settings) / conversion_factor(settings, expmid)


def _exposure_mjd(settings: DemoSettings, dither: int):
    """(start time, EXPSTART, EXPMID, EXPEND) of exposure ``dither`` (-1: the background)."""
    from astropy.time import Time, TimeDelta

    index = dither + 1 if dither >= 0 else 0
    start = Time(settings.date_obs, format="isot", scale="utc") + TimeDelta(index * 0.02, format="jd")
    expstart = start.mjd
    expend = expstart + exposure_times(settings)["DURATION"] / 86400.0
    return start, expstart, 0.5 * (expstart + expend), expend


def flat_pattern(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-frame flat: large-scale vignetting-like shape, pixel response, bad pixels."""
    ny, nx = FULL_SHAPE
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    r2 = ((x - 600.0) / 700.0) ** 2 + ((y - 512.0) / 700.0) ** 2
    flat = (1.0 - 0.05 * r2 + 0.01 * np.sin(x / 37.0) * np.cos(y / 53.0)) * rng.normal(1.0, 0.01, (ny, nx))
    err = np.full((ny, nx), 0.004) * flat
    dq = np.zeros((ny, nx), dtype=np.uint32)
    dead = rng.choice(ny * nx, 300, replace=False)
    flat.flat[dead[:150]] = 0.0
    flat.flat[dead[150:]] = np.nan
    flat[:, :4] = np.nan
    flat[:, -4:] = np.nan
    dq[:, :4] |= dqflags.DO_NOT_USE | dqflags.REFERENCE_PIXEL
    dq[:, -4:] |= dqflags.DO_NOT_USE | dqflags.REFERENCE_PIXEL
    dq[~np.isfinite(flat) | (flat == 0)] |= dqflags.DO_NOT_USE | dqflags.NO_FLAT_FIELD
    return flat.astype(np.float32), err.astype(np.float32), dq


# --------------------------------------------------------------------------- reference files

def _ref_header(reftype: str, useafter: str, description: str, **extra) -> fits.Header:
    header = fits.Header()
    header["TELESCOP"] = "JWST"
    header["INSTRUME"] = "MIRI"
    header["DETECTOR"] = "MIRIMAGE"
    header["REFTYPE"] = reftype
    header["EXP_TYPE"] = "MIR_IMAGE"
    header["USEAFTER"] = useafter
    header["AUTHOR"] = "mirical demo"
    header["PEDIGREE"] = "DUMMY"
    header["DESCRIP"] = description
    header["ORIGIN"] = "mirical"
    for key, value in extra.items():
        header[key.replace("_", "-") if key == "DATE_OBS" else key] = value
    return header


def write_flat(path: str, flat: np.ndarray, err: np.ndarray, dq: np.ndarray, filter_name: str,
               useafter: str = "2022-05-01T00:00:00") -> None:
    """A CRDS-format MIRI imager FLAT (SCI, ERR, DQ, DQ_DEF)."""
    header = _ref_header("FLAT", useafter, f"mirical demo flat for {filter_name}", FILTER=filter_name,
                         BAND="N/A", READPATT="ANY", SUBARRAY="GENERIC", SUBSTRT1=1, SUBSTRT2=1,
                         SUBSIZE1=1032, SUBSIZE2=1024, DATAMODL="FlatModel")
    hdus = fits.HDUList([fits.PrimaryHDU(header=header),
                         fits.ImageHDU(flat, name="SCI"), fits.ImageHDU(err, name="ERR"),
                         fits.ImageHDU(dq, name="DQ"), _dq_def()])
    write_atomic(hdus, path)


def _dq_def() -> fits.BinTableHDU:
    names = ["DO_NOT_USE", "NO_FLAT_FIELD", "UNRELIABLE_FLAT", "REFERENCE_PIXEL"]
    values = [dqflags.PIXEL[n] for n in names]
    cols = [fits.Column("BIT", "J", array=[int(np.log2(v)) for v in values]),
            fits.Column("VALUE", "K", array=values),
            fits.Column("NAME", "40A", array=names),
            fits.Column("DESCRIPTION", "80A", array=["Bad pixel", "Flat field cannot be measured",
                                                      "Flat variance large", "Reference pixel"])]
    return fits.BinTableHDU.from_columns(cols, name="DQ_DEF")


def write_photom(path: str, useafter: str = "2022-05-01T00:00:00") -> None:
    """A CRDS-format MIRI imager PHOTOM file with an exponential time dependence."""
    filters = list(PHOTMJSR)
    n = len(filters)
    header = _ref_header("PHOTOM", useafter, "mirical demo photom (representative values)",
                         DATAMODL="MirImgPhotomModel", PIXAR_SR=0.0, PIXAR_A2=0.0)
    del header["PIXAR_SR"], header["PIXAR_A2"]
    photom = fits.BinTableHDU.from_columns([
        fits.Column("filter", "12A", array=filters),
        fits.Column("subarray", "15A", array=["GENERIC"] * n),
        fits.Column("photmjsr", "E", array=[PHOTMJSR[f] for f in filters]),
        fits.Column("uncertainty", "E", array=[0.02 * PHOTMJSR[f] for f in filters]),
    ], name="PHOTOM")
    # filter/subarray columns as in the MIRI CDP (mirimg_photom.schema: without them the
    # official MirImgPhotomModel refuses the table); rows follow the PHOTOM rows.
    timecoeff = fits.BinTableHDU.from_columns([
        fits.Column("filter", "12A", array=filters),
        fits.Column("subarray", "15A", array=["GENERIC"] * n),
        fits.Column("t0", "D", array=[TIME_T0] * n),
        fits.Column("amplitude", "D", array=[TIME_AMPLITUDE] * n),
        fits.Column("tau", "D", array=[TIME_TAU] * n),
        fits.Column("const", "D", array=[TIME_CONST] * n),
    ], name="TIMECOEFF_EXPONENTIAL")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=header), photom, timecoeff]), path)


def write_area(path: str, area: np.ndarray, nominal_a2: float, useafter: str = "2022-05-01T00:00:00") -> None:
    """A CRDS-format AREA file: relative pixel areas, PIXAR_SR/PIXAR_A2 in the header."""
    header = _ref_header("AREA", useafter, "mirical demo pixel area map from the distortion",
                         FILTER="N/A", SUBARRAY="GENERIC", SUBSTRT1=1, SUBSTRT2=1, SUBSIZE1=1032,
                         SUBSIZE2=1024, DATAMODL="PixelAreaModel")
    header["PIXAR_A2"] = (nominal_a2, "nominal pixel area, arcsec^2")
    header["PIXAR_SR"] = (nominal_a2 / ARCSEC2_PER_SR, "nominal pixel area, sr")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(area, name="SCI")]), path)


def encircled_energy_radii(fwhm_pix: float, fractions: tuple[float, ...]) -> np.ndarray:
    """Radii (pixels) of circular apertures holding ``fractions`` of a demo point source in a drizzled image.

    The simulated PSF is a Gaussian of FWHM ``fwhm_pix`` integrated over a detector pixel
    (`render_scene`). Drizzling it (pixfrac 1, same pixel scale) averages the input pixels
    overlapping each output pixel, weighted by the overlap: a convolution with two more unit
    boxes; aperture photometry of the output pixels (exact overlap) adds the fourth. Along x and
    y alike, so the image is the outer product of one profile.
    """
    from scipy.special import erf

    step = 1.0 / 40
    half = int(np.ceil(8 * fwhm_pix / step))
    u = np.arange(-half, half + 1) * step
    sigma = fwhm_pix / 2.3548
    # the Gaussian integrated over a pixel centred at u
    profile = 0.5 * (erf((u + 0.5) / (np.sqrt(2) * sigma)) - erf((u - 0.5) / (np.sqrt(2) * sigma)))
    box = np.where(np.abs(u) <= 0.5, step, 0.0)
    for _ in range(3):
        profile = np.convolve(profile, box, mode="same")
    image = np.outer(profile, profile) / profile.sum() ** 2
    radius = np.hypot(*np.meshgrid(u, u)).ravel()
    order = np.argsort(radius)
    energy = np.cumsum(image.ravel()[order])
    return np.interp(fractions, energy, radius[order])


def write_apcorr(path: str, useafter: str = "2022-05-01T00:00:00") -> None:
    """A CRDS-format MIRI imager APCORR (MirImgApcorrModel): per filter and subarray, the radius
    (native pixels) of each encircled energy, the correction to total flux and the background annulus.

    The annulus is far out (the Gaussian has no flux there), so the correction is 1 / EE.
    """
    rows = []
    for filter_name, fwhm_arcsec in PSF_FWHM_ARCSEC.items():
        fwhm = fwhm_arcsec / 0.1108
        radii = encircled_energy_radii(fwhm, APCORR_EE)
        skyin = float(np.ceil(4 * fwhm))
        for subarray in SUBARRAYS:
            rows += [(filter_name, subarray, ee, r, 1.0 / ee, skyin, skyin + 5.0) for ee, r in zip(APCORR_EE, radii)]
    columns = list(zip(*rows))
    header = _ref_header("APCORR", useafter, "mirical demo aperture corrections (its Gaussian PSF)",
                         DATAMODL="MirImgApcorrModel")
    table = fits.BinTableHDU.from_columns([
        fits.Column("filter", "12A", array=columns[0]),
        fits.Column("subarray", "17A", array=columns[1]),
        *(fits.Column(name, "E", array=values) for name, values in
          zip(("eefraction", "radius", "apcorr", "skyin", "skyout"), columns[2:])),
    ], name="APCORR")
    write_atomic(fits.HDUList([fits.PrimaryHDU(header=header), table]), path)


def write_abvegaoffset(path: str, useafter: str = "2022-05-01T00:00:00") -> None:
    """A CRDS-format ABVEGAOFFSET (ABVegaOffsetModel, ASDF): m_AB - m_Vega per MIRI filter."""
    from astropy.table import Table

    from mirical.formats.asdf_extension import asdf_bytes
    from mirical.formats.atomic import atomic_path

    offsets = Table({"filter": list(VEGA_JY),
                     "abvega_offset": np.array([2.5 * np.log10(3631.0 / f) for f in VEGA_JY.values()], np.float32)})
    meta = {"telescope": "JWST", "reftype": "ABVEGAOFFSET", "useafter": useafter, "pedigree": "DUMMY",
            "author": "mirical demo", "origin": "mirical", "description": "mirical demo AB-Vega offsets",
            "instrument": {"name": "MIRI", "detector": "MIRIMAGE"}, "exposure": {"type": "MIR_IMAGE"},
            "model_type": "ABVegaOffsetModel"}
    with atomic_path(path) as partial:
        partial.write_bytes(asdf_bytes({"meta": meta, "abvega_offset": offsets}))


def write_reference_files(folder: str | Path, settings: DemoSettings) -> dict[str, str]:
    """Write the CRDS-format reference files of the demo; returns their paths."""
    from mirical.references.distortion import write_distortion_reffile, write_filteroffset_reffile

    paths = reference_paths(folder, settings)
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_distortion_reffile(paths["distortion"])
    write_filteroffset_reffile(paths["filteroffset"])
    rng = np.random.default_rng([settings.seed, 1])
    write_flat(paths["flat"], *flat_pattern(rng), settings.filter)
    write_photom(paths["photom"])
    area, nominal = pixel_area_map(settings)
    write_area(paths["area"], area, nominal)
    write_apcorr(paths["apcorr"])
    write_abvegaoffset(paths["abvegaoffset"])
    return paths


# --------------------------------------------------------------------------- exposures

def conversion_factor(settings: DemoSettings, expmid: float) -> float:
    """The demo's true photometric conversion at ``expmid`` (MJD)."""
    corr = TIME_AMPLITUDE * np.exp(-(expmid - TIME_T0) / TIME_TAU) + TIME_CONST
    return PHOTMJSR[settings.filter] / corr


def exposure_times(settings: DemoSettings) -> dict[str, float]:
    """Exposure-time keywords for FASTR1 with the demo's NGROUPS/NINTS."""
    frame = SUBARRAYS[settings.subarray]
    tframe = TFRAME * frame[2] * frame[3] / (1032 * 1024) if settings.subarray != "FULL" else TFRAME
    tframe = max(tframe, 0.0856)
    effexptm = tframe * (settings.ngroups - 1) * settings.nints
    return {"TFRAME": tframe, "TGROUP": tframe, "EFFEXPTM": effexptm, "TMEASURE": effexptm,
            "EFFINTTM": tframe * (settings.ngroups - 1), "DURATION": tframe * settings.ngroups * settings.nints}


def write_exposure_file(path: str, settings: DemoSettings, dither: int, truth, refs: dict,
                        area_full: np.ndarray, pixar_sr: float, flat_full: np.ndarray) -> None:
    """Simulate and write one rate file (``dither`` < 0: the background exposure)."""
    from mirical.formats.subarray import cut

    frame = SUBARRAYS[settings.subarray]
    shape = (frame[3], frame[2])
    full = (1, 1, 1032, 1024)
    keys = pointing(settings, dither)
    times = exposure_times(settings)
    index = dither + 1 if dither >= 0 else 0
    start, expstart, expmid, expend = _exposure_mjd(settings, dither)
    c = conversion_factor(settings, expmid)

    rng = np.random.default_rng([settings.seed, 100 + index])
    flat = cut(flat_full, full, frame, fill=np.nan)
    area = cut(area_full, full, frame, fill=np.nan)
    flat_safe = np.where(np.isfinite(flat) & (flat != 0), flat, 1.0)
    sb = sky_sb(shape, frame, settings)
    if dither >= 0:
        wcs = exposure_wcs(settings, keys)
        sb = sb + render_scene(settings, wcs, truth, np.where(np.isfinite(area), area, 1.0), pixar_sr, shape)
    rate_true = flat_safe * sb / c
    t = times["EFFEXPTM"]
    var_p = np.maximum(rate_true, 0.0) / (GAIN * t)
    n = settings.ngroups
    var_r = np.full(shape, 12.0 * READ_NOISE_DN**2 / (n * (n * n - 1) * times["TGROUP"] ** 2) / settings.nints)
    err = np.sqrt(var_p + var_r)
    sci = rate_true + rng.normal(0.0, 1.0, shape) * err
    if dither >= 0 and settings.stripes > 0:
        sci = sci + stripe_pattern(settings, index, frame)
    dq = np.zeros(shape, dtype=np.uint32)
    xs = frame[0] - 1
    fx = np.arange(shape[1]) + xs
    refcols = (fx < 4) | (fx >= 1028)
    dq[:, refcols] |= dqflags.DO_NOT_USE | dqflags.REFERENCE_PIXEL
    hot = rng.choice(shape[0] * shape[1], max(1, shape[0] * shape[1] // 5000), replace=False)
    sci.flat[hot] += rng.uniform(200.0, 2000.0, hot.size)
    dq.flat[hot] |= dqflags.DO_NOT_USE | dqflags.HOT
    jumps = rng.choice(shape[0] * shape[1], max(1, shape[0] * shape[1] // 400), replace=False)
    dq.flat[jumps] |= dqflags.JUMP_DET

    primary = _exposure_primary(settings, dither, frame, times, start, expstart, expmid, expend)
    sci_header = _sci_header(keys)
    hdus = [fits.PrimaryHDU(header=primary),
            fits.ImageHDU(sci.astype(np.float32), header=sci_header, name="SCI"),
            fits.ImageHDU(err.astype(np.float32), name="ERR"),
            fits.ImageHDU(dq, name="DQ"),
            fits.ImageHDU(var_p.astype(np.float32), name="VAR_POISSON"),
            fits.ImageHDU(var_r.astype(np.float32), name="VAR_RNOISE")]
    for hdu in hdus[1:]:
        hdu.header["EXTVER"] = 1
    hdus[2].header["BUNIT"] = "DN/s"
    # Every JWST product has the ASDF extension; the official datamodels refuse a file
    # without one (stdatamodels read_metadata: KeyError 'ASDF'). The tree is empty: the
    # FITS keywords carry the metadata.
    from mirical.formats.asdf_extension import make_hdu

    hdus.append(make_hdu({}))
    write_atomic(fits.HDUList(hdus), path)


def stripe_pattern(settings: DemoSettings, index: int, frame: tuple[int, int, int, int]) -> np.ndarray:
    """Row plus column stripes of exposure ``index`` on ``frame`` (DN/s): one normal offset of RMS
    ``settings.stripes`` per full-frame row and one per column, from their own random stream."""
    rng = np.random.default_rng([settings.seed, 300 + index])
    rows = rng.normal(0.0, settings.stripes, FULL_SHAPE[0])
    columns = rng.normal(0.0, settings.stripes, FULL_SHAPE[1])
    x, y, nx, ny = frame
    return rows[y - 1:y - 1 + ny, None] + columns[None, x - 1:x - 1 + nx]


def _exposure_primary(settings: DemoSettings, dither: int, frame, times, start, expstart, expmid, expend) -> fits.Header:
    h = fits.Header()
    h["DATE"] = (settings.date_obs, "creation date (fixed: reproducible)")
    h["ORIGIN"] = "mirical"
    h["TIMESYS"] = "UTC"
    h["FILETYPE"] = "countrate"
    h["DATAMODL"] = "ImageModel"
    h["TELESCOP"] = "JWST"
    h["CAL_VER"] = f"mirical-demo {__version__}"
    h["TITLE"] = "mirical demo: galaxy field, 4-point dither" if dither >= 0 else "mirical demo: background"
    h["TARGNAME"] = "DEMO-GALAXY" if dither >= 0 else "DEMO-BACKGROUND"
    h["TARG_RA"] = settings.ra if dither >= 0 else settings.ra + 0.25
    h["TARG_DEC"] = settings.dec if dither >= 0 else settings.dec + 0.1
    h["PROGRAM"] = "01234"
    h["OBSERVTN"] = "001" if dither >= 0 else "002"
    h["VISIT"] = "001"
    # with the visit group, sequence and activity, as MAST's: each exposure has its own jwst group id (without
    # them image2 gives every cal file the same one, and stage 3 would take all exposures as one group)
    h["VISITGRP"] = "03"
    h["SEQ_ID"] = "1"
    h["ACT_ID"] = "01"
    h["EXPOSURE"] = str(dither + 1 if dither >= 0 else 1)
    h["INSTRUME"] = "MIRI"
    h["DETECTOR"] = "MIRIMAGE"
    h["FILTER"] = settings.filter
    h["CHANNEL"] = "N/A"
    h["BAND"] = "N/A"
    h["EXP_TYPE"] = "MIR_IMAGE"
    h["READPATT"] = "FASTR1"
    h["NINTS"] = settings.nints
    h["NGROUPS"] = settings.ngroups
    h["NFRAMES"] = 1
    h["GROUPGAP"] = 0
    h["DATE-OBS"] = start.isot.split("T")[0]
    h["TIME-OBS"] = start.isot.split("T")[1]
    h["EXPSTART"] = expstart
    h["EXPMID"] = expmid
    h["EXPEND"] = expend
    for key, value in times.items():
        h[key] = value
    h["SUBARRAY"] = settings.subarray
    h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"] = frame
    h["FASTAXIS"] = 1
    h["SLOWAXIS"] = 2
    h["APERNAME"] = APERTURES[settings.subarray]
    h["PATTTYPE"] = "4-POINT" if dither >= 0 else "NONE"
    h["PATT_NUM"] = dither + 1 if dither >= 0 else 1
    h["NUMDTHPT"] = settings.n_dithers if dither >= 0 else 1
    h["BKGDTARG"] = dither < 0
    for step in ("S_DQINIT", "S_SATURA", "S_REFPIX", "S_LINEAR", "S_DARK", "S_JUMP", "S_RAMP"):
        h[step] = "COMPLETE"
    return h


def _sci_header(keys: dict) -> fits.Header:
    h = fits.Header()
    h["BUNIT"] = "DN/s"
    h["RADESYS"] = "ICRS"
    h["VA_SCALE"] = keys["VA_SCALE"]
    h["V2_REF"] = keys["V2_REF"]
    h["V3_REF"] = keys["V3_REF"]
    h["VPARITY"] = VPARITY
    h["V3I_YANG"] = V3I_YANG
    h["RA_REF"] = keys["RA_REF"]
    h["DEC_REF"] = keys["DEC_REF"]
    h["ROLL_REF"] = keys["ROLL_REF"]
    h["PA_V3"] = keys["ROLL_REF"]
    h["XREF_SCI"] = keys["XREF_SCI"]
    h["YREF_SCI"] = keys["YREF_SCI"]
    h["PA_APER"] = keys["ROLL_REF"] - VPARITY * V3I_YANG
    # The coarse pointing WCS a rate file carries before assign_wcs (no distortion).
    theta = np.radians(h["PA_APER"])
    scale = 0.11 / 3600.0
    h["WCSAXES"] = 2
    h["CRPIX1"], h["CRPIX2"] = keys["XREF_SCI"], keys["YREF_SCI"]
    h["CRVAL1"], h["CRVAL2"] = keys["RA_REF"], keys["DEC_REF"]
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["CDELT1"], h["CDELT2"] = scale, scale
    h["PC1_1"], h["PC1_2"] = -np.cos(theta), np.sin(theta)
    h["PC2_1"], h["PC2_2"] = np.sin(theta), np.cos(theta)
    return h


def simulate(folder: str | Path, settings: DemoSettings) -> dict[str, list[str] | str]:
    """Write the whole demo into ``folder``: references, science, background, truth."""
    folder = Path(folder)
    refs = write_reference_files(folder / "reference", settings)
    truth = make_truth(settings)
    with fits.open(refs["area"]) as hdul:
        area_full = hdul["SCI"].data.astype(np.float64)
        pixar_sr = float(hdul[0].header["PIXAR_SR"])
    with fits.open(refs["flat"]) as hdul:
        flat_full = hdul["SCI"].data.astype(np.float64)
    science = []
    for i in range(settings.n_dithers):
        path = folder / "IMA_science" / science_name(i + 1, settings)
        write_exposure_file(str(path), settings, i, truth, refs, area_full, pixar_sr, flat_full)
        science.append(str(path))
    background = [folder / "IMA_background" / background_name(settings)] if settings.backgrounds else []
    for path in background:
        write_exposure_file(str(path), settings, -1, truth, refs, area_full, pixar_sr, flat_full)
    truth_path = folder / "truth.ecsv"
    with atomic_path(truth_path) as partial:
        truth.write(partial, format="ascii.ecsv", overwrite=True)
    return {"science": science, "background": [str(p) for p in background], "truth": str(truth_path), **refs}
