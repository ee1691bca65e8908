"""The agreement matrix: small cases for mirical vs the official pipeline (tests/test_official.py).

Each case is an image2 association of rate files written as the official pipeline
writes them (`mast_like.write_mast_rate`, pixel values from `mirical.demo.simulate`) and
the CRDS-format reference files both pipelines are given explicitly (mirical's
``reference_files``, the official ``override_<reftype>``). The dimensions are
combined, not multiplied out:

- subarray FULL, SUB256, SUB64, BRIGHTSKY; reference files either full frame
  (flat and area SUBARRAY = FULL, PHOTOM rows GENERIC: the pipeline cuts the
  exposure's region) or the subarray's own (flat and area cut to it with its
  SUBARRAY/SUBSTRT/SUBSIZE, PHOTOM rows for the subarray next to GENERIC ones);
- 1 to 3 background exposures, each with a NaN + DO_NOT_USE block, a block flagged
  DO_NOT_USE but finite, and unflagged outliers;
- a flat with, inside the exposure, NaN and zero pixels not flagged in its DQ,
  finite pixels flagged NO_FLAT_FIELD, and finite pixels flagged UNRELIABLE_FLAT
  (plus `mirical.demo.simulate.flat_pattern`'s own flagged NaN/zero pixels);
- PHOTOM time dependence linear, exponential or power law; six filters;
- pointings across RA = 0/360 and at |Dec| >= 80 deg, velocity aberration scale
  factors from 0.99995 to 1.0001.

`write_outlier_case` writes the outlier-detection case of tests/test_official_outlier.py
the same way: four dithers with unflagged cosmic-ray hits and a satellite trail, two of
them sharing a jwst group id.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical.formats import dqflags
from mirical.demo import simulate as sim
from mirical.formats.association import make_association
from mirical.formats.subarray import cut

from mast_like import read_plain, write_mast_rate

REFTYPES = ("distortion", "filteroffset", "flat", "photom", "area")
FULL = sim.SUBARRAYS["FULL"]
SUB_PHOTOM_FACTOR = 1.07  # the subarray's own PHOTOM rows differ from GENERIC: the row used shows
UNRELIABLE_FLAT = dqflags.PIXEL["UNRELIABLE_FLAT"]


@dataclass(frozen=True)
class Case:
    """One association of the matrix."""

    name: str
    subarray: str
    filter: str
    own_refs: bool  # the subarray's own flat/area/PHOTOM rows (else full-frame files cut by the pipeline)
    n_science: int
    n_background: int
    time_dependence: str  # linear, exponential or powerlaw
    ra: float
    dec: float
    va_scale: float
    date: str

    def describe(self) -> str:
        refs = f"{self.subarray} refs" if self.own_refs else "FULL refs"
        return (f"{self.subarray}, {self.filter}, {refs}, {self.n_science} sci + {self.n_background} bkg, "
                f"{self.time_dependence} photom, RA {self.ra:.7g} Dec {self.dec:+g}, VA {self.va_scale:.7g}")


CASES = [
    Case("full_f1130w", "FULL", "F1130W", False, 1, 1, "exponential", 53.1625, -27.7914, 1.0000129, "2023-09-14"),
    Case("sub256_f770w_fullrefs", "SUB256", "F770W", False, 2, 2, "linear", 0.0002, 12.5, 1.0000713, "2024-06-01"),
    Case("sub256_f770w_ownrefs", "SUB256", "F770W", True, 2, 1, "powerlaw", 359.9995, -45.0, 0.99995, "2023-01-10"),
    Case("sub64_f560w_fullrefs", "SUB64", "F560W", False, 2, 3, "exponential", 120.3, 85.2, 1.00009, "2022-08-20"),
    Case("sub64_f2100w_ownrefs", "SUB64", "F2100W", True, 1, 2, "linear", 270.0, 88.5, 1.0000402, "2025-03-02"),
    Case("brightsky_f1500w_fullrefs", "BRIGHTSKY", "F1500W", False, 2, 1, "powerlaw", 0.0001, -80.5, 0.9999421,
         "2024-11-30"),
    Case("brightsky_f1000w_ownrefs", "BRIGHTSKY", "F1000W", True, 2, 3, "exponential", 210.8, -86.0, 1.0001,
         "2023-05-05"),
]

TIME_TABLES = {  # one row per PHOTOM row; the columns of the mirimg_photom schema
    "linear": ("TIMECOEFF_LINEAR", {"t0": 59720.0, "lossperyear": 0.031}),
    "exponential": ("TIMECOEFF_EXPONENTIAL", {"t0": sim.TIME_T0, "amplitude": sim.TIME_AMPLITUDE,
                                              "tau": sim.TIME_TAU, "const": sim.TIME_CONST}),
    "powerlaw": ("TIMECOEFF_POWERLAW", {"t0": 59720.0, "year1value": 0.95, "tsoft": 30.0, "alpha": -0.08}),
}


def settings_for(case: Case) -> sim.DemoSettings:
    small = case.subarray == "SUB64"
    return sim.DemoSettings(seed=sum(map(ord, case.name)), n_dithers=case.n_science, filter=case.filter,
                            subarray=case.subarray, n_sources=1 if small else 4, ra=case.ra, dec=case.dec,
                            roll=(case.ra + 77.0) % 360.0, date_obs=f"{case.date}T06:30:00.000",
                            dither_arcsec=[[0.0, 0.0], [0.6, -0.4]] if small else [[0.0, 0.0], [2.1, -1.7]])


# ------------------------------------------------------------------ reference files

@functools.cache
def full_area() -> tuple[np.ndarray, float]:
    """The full-frame pixel area map (one for every case: the AREA file has FILTER N/A)."""
    return sim.pixel_area_map(sim.DemoSettings())


def defective_flat(case: Case, rng: np.random.Generator,
                   n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`sim.flat_pattern` plus, inside the case's subarray: NaN and zero pixels with DQ 0, finite
    NO_FLAT_FIELD pixels, finite UNRELIABLE_FLAT pixels and HOT pixels, a bit the flat's DQ_DEF
    does not define (dropped when the flat is read) (``n`` of each, default one per 4000 pixels)."""
    flat, err, dq = sim.flat_pattern(rng)
    xs, ys, nx, ny = sim.SUBARRAYS[case.subarray]
    n = max(3, nx * ny // 4000) if n is None else n
    rows = rng.integers(ys - 1, ys - 1 + ny, 5 * n)
    cols = rng.integers(max(xs - 1, 4), min(xs - 1 + nx, FULL[2] - 4), 5 * n)
    pixels = (rows, cols)
    dq[pixels] = 0
    flat[rows[:n], cols[:n]] = np.nan
    flat[rows[n:2 * n], cols[n:2 * n]] = 0.0
    dq[rows[2 * n:3 * n], cols[2 * n:3 * n]] |= dqflags.NO_FLAT_FIELD
    dq[rows[3 * n:4 * n], cols[3 * n:4 * n]] |= UNRELIABLE_FLAT
    dq[rows[4 * n:], cols[4 * n:]] |= dqflags.HOT
    return flat, err, dq


def _set_frame(path: Path, subarray: str) -> None:
    """Mark a reference file as covering ``subarray`` (SUBARRAY, SUBSTRT1/2, SUBSIZE1/2)."""
    with fits.open(path, mode="update") as hdul:
        header = hdul[0].header
        header["SUBARRAY"] = subarray
        for key, value in zip(("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2"), sim.SUBARRAYS[subarray]):
            header[key] = value


def write_photom(path: Path, case: Case) -> None:
    """`sim.write_photom` with the case's time dependence, and the subarray's own rows (own_refs)."""
    sim.write_photom(str(path))
    with fits.open(path) as hdul:
        primary, rows = hdul[0].header.copy(), np.array(hdul["PHOTOM"].data)
    if case.own_refs:
        own = rows.copy()
        own["subarray"] = case.subarray
        own["photmjsr"] *= SUB_PHOTOM_FACTOR
        rows = np.concatenate([rows, own])
    extname, coefficients = TIME_TABLES[case.time_dependence]
    columns = [fits.Column("filter", "12A", array=rows["filter"]), fits.Column("subarray", "15A", array=rows["subarray"])]
    columns += [fits.Column(k, "D", array=np.full(len(rows), v)) for k, v in coefficients.items()]
    fits.HDUList([fits.PrimaryHDU(header=primary), fits.BinTableHDU(rows, name="PHOTOM"),
                  fits.BinTableHDU.from_columns(columns, name=extname)]).writeto(path, overwrite=True)


def write_references(case: Case, folder: Path, shared: dict[str, str],
                     flat_defects: int | None = None) -> tuple[dict[str, str], np.ndarray]:
    """The case's flat (``flat_defects``: see `defective_flat`), photom and area (distortion and
    filteroffset are ``shared``): paths by type, and the full-frame flat (what the simulated
    exposures are multiplied by)."""
    folder.mkdir(parents=True)
    frame = sim.SUBARRAYS[case.subarray] if case.own_refs else FULL
    label = case.subarray if case.own_refs else "FULL"
    refs = dict(shared)
    flat, err, dq = defective_flat(case, np.random.default_rng([sim.DemoSettings().seed, len(case.name)]),
                                   flat_defects)
    refs["flat"] = str(folder / f"jwst_miri_flat_{case.filter.lower()}_{label.lower()}.fits")
    sim.write_flat(refs["flat"], cut(flat, FULL, frame), cut(err, FULL, frame), cut(dq, FULL, frame, fill=0),
                   case.filter)
    area, nominal = full_area()
    refs["area"] = str(folder / f"jwst_miri_area_{label.lower()}.fits")
    sim.write_area(refs["area"], cut(area, FULL, frame), nominal)
    for reftype in ("flat", "area"):
        _set_frame(Path(refs[reftype]), label)
    refs["photom"] = str(folder / f"jwst_miri_photom_{case.time_dependence}.fits")
    write_photom(Path(refs["photom"]), case)
    return refs, flat


# ------------------------------------------------------------------ exposures

def spoil_background(arrays: dict, rng: np.random.Generator, k: int, block: int = 8,
                     outlier_fraction: float = 1e-3) -> dict:
    """A NaN + DO_NOT_USE block, a finite DO_NOT_USE block (k-th placement; 1/``block`` of the
    array each way) and unflagged outliers (``outlier_fraction`` of the pixels, at least 4)."""
    ny, nx = arrays["SCI"].shape
    h, w = max(ny // block, 2), max(nx // block, 2)
    nan_block = (slice(k * h, (k + 1) * h), slice(nx // 3, nx // 3 + w))
    flag_block = (slice(ny // 2, ny // 2 + h), slice(k * w, (k + 1) * w))
    for name in ("SCI", "ERR", "VAR_POISSON", "VAR_RNOISE"):
        arrays[name][nan_block] = np.nan
    arrays["DQ"][nan_block] |= dqflags.DO_NOT_USE
    arrays["SCI"][flag_block] *= 3.0
    arrays["DQ"][flag_block] |= dqflags.DO_NOT_USE
    outliers = rng.choice(ny * nx, max(4, int(ny * nx * outlier_fraction)), replace=False)
    arrays["SCI"].flat[outliers] += rng.uniform(50.0, 500.0, outliers.size)
    return arrays


def simulate_plain(path: Path, settings: sim.DemoSettings, dither: int, flat: np.ndarray,
                   truth=None) -> tuple[dict, fits.Header, fits.Header]:
    """The simulator's exposure for ``path`` (dither < 0: a background) of ``truth`` (default
    `sim.make_truth`), written beside it under ``../plain/`` and read back: arrays by extension,
    primary and SCI headers."""
    plain = path.parent.parent / "plain" / path.name
    plain.parent.mkdir(exist_ok=True)
    area, nominal = full_area()
    truth = sim.make_truth(settings) if truth is None else truth
    sim.write_exposure_file(str(plain), settings, dither, truth, {}, area,
                            nominal / sim.ARCSEC2_PER_SR, flat)
    return read_plain(plain)


Spoil = Callable[[dict, int], dict]  # (arrays by extension, exposure index) -> arrays


def write_exposure(path: Path, case: Case, settings: sim.DemoSettings, dither: int, flat: np.ndarray,
                   spoil_k: int | None = None, spoil: Spoil | None = None, truth=None,
                   exposure_number: int = 1, group_keywords: bool = True,
                   nominal: sim.DemoSettings | None = None) -> None:
    """Simulate one rate file (dither < 0: a background) and write it as MAST does; ``spoil_k``:
    `spoil_background`'s k-th placement, else ``spoil(arrays, dither)`` if given. Its exposure
    number is ``exposure_number``; with ``group_keywords`` its visit group, sequence and activity
    are 02, 1, 01 as in MAST files (the official's group id is made of them all), else absent.
    With ``nominal``, the sources are placed at ``settings``' pointing while the headers carry
    ``nominal``'s: a pointing error the headers do not know."""
    arrays, primary, sci = simulate_plain(path, settings, dither, flat, truth)
    if nominal is not None:
        sci.update(sim._sci_header(sim.pointing(nominal, dither)))
    sci["VA_SCALE"] = case.va_scale
    for key in ("RA_REF", "CRVAL1"):
        sci[key] = sci[key] % 360.0
    if spoil_k is not None:
        arrays = spoil_background(arrays, np.random.default_rng([settings.seed, spoil_k]), spoil_k)
    elif spoil is not None:
        arrays = spoil(arrays, dither)
    path.parent.mkdir(exist_ok=True)
    group = {"observation.visit_group": "02", "observation.sequence_id": "1",
             "observation.activity_id": "01"} if group_keywords else {}
    write_mast_rate(path, arrays, primary, sci, **{"observation.exposure_number": f"{exposure_number:05d}"}, **group)


def write_case(case: Case, folder: Path, shared: dict[str, str], settings: sim.DemoSettings | None = None,
               truth=None, spoil_science: Spoil | None = None, spoil_background_k: Spoil | None = None,
               flat_defects: int | None = None, grouped: bool = False, group_keywords: bool = True) -> dict:
    """References, rate files and the image2 association of ``case`` under ``folder``.

    The defaults are the matrix's: `settings_for`, `sim.make_truth`, science as simulated,
    backgrounds spoiled by `spoil_background`; a generated case gives its own (``spoil_science``
    gets the dither index, ``spoil_background_k`` the background's). Each science exposure has
    its own exposure number, or (``grouped``) all share one: the official's outlier detection
    then takes them as one group (their mean is one image of the median). ``group_keywords``: see
    `write_exposure`.
    """
    refs, flat = write_references(case, folder / "reference", shared, flat_defects)
    settings = settings_for(case) if settings is None else settings
    prefix = f"jw0{sum(map(ord, case.name)) % 10000:04d}"
    science = [folder / "mast" / f"{prefix}001001_02101_{i + 1:05d}_mirimage_rate.fits" for i in range(case.n_science)]
    for i, path in enumerate(science):
        write_exposure(path, case, settings, i, flat, spoil=spoil_science, truth=truth,
                       exposure_number=1 if grouped else i + 1, group_keywords=group_keywords)
    background = [folder / "mast" / f"{prefix}002001_02101_{k + 1:05d}_mirimage_rate.fits"
                  for k in range(case.n_background)]
    for k, path in enumerate(background):
        seeded = dataclasses.replace(settings, seed=settings.seed + 7 * k)
        if spoil_background_k is None:
            write_exposure(path, case, seeded, -1, flat, spoil_k=k)
        else:
            write_exposure(path, case, seeded, -1, flat, spoil=lambda arrays, _, k=k: spoil_background_k(arrays, k),
                           truth=truth)
    asn = folder / f"{case.name}_lvl2_asn.json"
    make_association([str(p) for p in science], [str(p) for p in background], case.name, asn)
    return {"asn": str(asn), "refs": refs}


def write_shared(root: Path) -> dict[str, str]:
    """The DISTORTION and FILTEROFFSET files every case shares, in ``root``: paths by type."""
    from mirical.references.distortion import write_distortion_reffile, write_filteroffset_reffile

    shared = {"distortion": str(root / "jwst_miri_distortion_0001.asdf"),
              "filteroffset": str(root / "jwst_miri_filteroffset_0001.asdf")}
    write_distortion_reffile(shared["distortion"])
    write_filteroffset_reffile(shared["filteroffset"])
    return shared


def write_matrix(root: Path, cases: list[Case]) -> dict[str, dict]:
    """Every case under ``root/<case>`` and ``root/cases.json`` for ``tests/official.py cases``."""
    shared = write_shared(root)
    written = {case.name: write_case(case, root / case.name, shared) for case in cases}
    jobs = [{"asn": w["asn"], "refs": w["refs"], "outdir": str(root / name / "official"),
             "mosaic": f"{name}_official"} for name, w in written.items()]
    (root / "cases.json").write_text(json.dumps(jobs, indent=1))
    return written


# ------------------------------------------------------------------ the outlier-detection case

OUTLIER_CASE = Case("outlier_f1000w", "BRIGHTSKY", "F1000W", False, 4, 1, "exponential", 53.1625, -27.7914,
                    1.0000129, "2023-09-14")
#: Exposure numbers of its science exposures (visit group 03, sequence 1, activity 01): the first two share
#: a jwst group id, so the official step drizzles them together into one single-exposure image.
OUTLIER_EXPOSURES = ("00001", "00001", "00003", "00004")
#: Sky of ~45 DN/s in F1000W (the flat is ~1: rate = SB / PHOTMJSR).
OUTLIER_SKY_MJYSR = 45.0 * sim.PHOTMJSR["F1000W"]


def add_cosmic_rays(sci: np.ndarray, usable: np.ndarray, rng: np.random.Generator, hits: int,
                    trail: bool) -> int:
    """Add ``hits`` unflagged cosmic-ray hits of 30-600 DN/s to ``sci`` (in place), 40 % of them clusters of
    2-4 pixels, and with ``trail`` a 2-pixel-wide satellite trail of 80 DN/s across it; only where ``usable``.
    The number of pixels changed."""
    ny, nx = sci.shape
    pixels = set()
    for y, x in zip(rng.integers(2, ny - 2, hits), rng.integers(2, nx - 2, hits)):
        size = int(rng.integers(2, 5)) if rng.random() < 0.4 else 1
        pixels |= {(int(y + rng.integers(-1, 2)), int(x + rng.integers(-1, 2))) for _ in range(size)} | {(y, x)}
    pixels = {p for p in pixels if usable[p]}
    for p in pixels:
        sci[p] += np.float32(rng.uniform(30.0, 600.0))
    if trail:
        track = {(y, x) for x in range(nx) for y in (int(40 + 0.7 * x), int(41 + 0.7 * x)) if y < ny}
        track = {p for p in track if usable[p]}
        for p in track:
            sci[p] += np.float32(80.0)
        pixels |= track
    return len(pixels)


def write_outlier_case(root: Path) -> dict:
    """`OUTLIER_CASE` under ``root``: references, rate files as MAST writes them (four dithers of the demo's
    pattern with `add_cosmic_rays`, a trail in the second; one plain dedicated background), its image2
    association; {"asn", "refs", "products", "injected"}."""
    case = OUTLIER_CASE
    folder = root / case.name
    refs, flat = write_references(case, folder / "reference", write_shared(root))
    settings = dataclasses.replace(settings_for(case), n_dithers=case.n_science, background_mjysr=OUTLIER_SKY_MJYSR,
                                   n_sources=15, dither_arcsec=sim.DemoSettings().dither_arcsec[:case.n_science])
    rng = np.random.default_rng(26)
    observation = {"observation.visit_group": "03", "observation.sequence_id": "1", "observation.activity_id": "01"}
    (folder / "mast").mkdir()
    science, injected = [], 0
    for i, exposure in enumerate(OUTLIER_EXPOSURES):
        path = folder / "mast" / f"jw01234001001_03101_{i + 1:05d}_mirimage_rate.fits"
        arrays, primary, sci = simulate_plain(path, settings, i, flat)
        usable = np.isfinite(arrays["SCI"]) & ((arrays["DQ"] & dqflags.DO_NOT_USE) == 0)
        injected += add_cosmic_rays(arrays["SCI"], usable, rng, 240, trail=i == 1)
        write_mast_rate(path, arrays, primary, sci, **observation, **{"observation.exposure_number": exposure})
        science.append(path)
    background = folder / "mast" / "jw01234002001_03101_00001_mirimage_rate.fits"
    arrays, primary, sci = simulate_plain(background, settings, -1, flat)
    write_mast_rate(background, arrays, primary, sci, **observation, **{"observation.exposure_number": "00001"})
    asn = folder / f"{case.name}_lvl2_asn.json"
    make_association([str(p) for p in science], [str(background)], case.name, asn)
    return {"asn": str(asn), "refs": refs, "products": [f"{case.name}_dither{i + 1}" for i in range(case.n_science)],
            "injected": injected}
