"""skymatch: the sky level of each exposure, matched in the overlaps (jwst 3.0.0's SkyMatchStep).

The facts of the official step (stcal's ``skymatch``), written here anew:

- Footprint: the exposure's pixel-corner border (x, y from -0.5 to n - 0.5, corners plus
  vertices at most ``stepsize`` pixels apart) through the gwcs onto the sky, a
  spherical polygon.
- Statistic: stsci.imagestats' ``skystat`` (mode, median, midpt or mean) of the good pixels
  (DQ within ``dqbits``, finite SCI) between ``lower`` and ``upper``, clipped ``nclip``
  times at ``lsigma``/``usigma``, histogram bins of ``binwidth`` sigma; it is None (no
  level) with no pixel left or a non-finite result.
- Sky groups: exposures sharing jwst's group id (`mirical.formats.groups.exposure_group`;
  one without is alone) are one unit with one level, as the official's ``SkyGroup``.
  A unit's statistic in its overlap with another unit is the pixel-weighted mean (weight
  n_k) of its members' statistics s_k, each over the member's pixels inside its
  intersections with the other unit's member footprints (their union), n the sum of the
  n_k; its whole statistic (``local``) is the smallest of its members'.
- ``match``: for each pair of units (i, j) the statistic s_ij of i's pixels inside the
  overlap with j and its pixel count n_ij; a pair counts when both directions have pixels.
  Each pair gives the equation w (d_i - d_j) = w (s_ij - s_ji), w = (n_ij + n_ji) / 2; the
  minimum-norm least-squares solution d, shifted so that its smallest (``match_down``)
  or largest value is 0, is the level of every member. A unit in no pair has no level.
- ``local``: the whole statistic of each unit. ``global``: the smallest statistic of all
  exposures, for every exposure. ``global+match``: the match levels plus the smallest
  (statistic minus match level) of all exposures. ``user``: the levels of ``skylist``
  (lines "file level", matched by the file name's stem without its suffix), per exposure.
- Each exposure with a level gets BKGLEVEL, BKGSUB (= ``subtract``), BKGMETH and
  S_SKYMAT = COMPLETE, the others S_SKYMAT = SKIPPED only. With ``subtract`` the level is
  subtracted from SCI. One exposure with ``match`` has no pair: SKIPPED, as the official.
  Downstream: the drizzle subtracts BKGLEVEL where BKGSUB is false
  (`mirical.drizzle.i2d.unsubtracted_level`), and outlier detection adds it back to the blotted
  median (`mirical.steps.outlier_detection.background_level`).

Exposures are read one at a time (the official's ``in_memory=False``): first the
footprints (the gwcs only; `read_footprint`, the workflow's table `write_footprints`), then
each exposure's statistics against every footprint (`measure_exposure`, one workflow job
each, its table `write_stats`), the solution (`solve_measured`) and the writing pass;
memory holds one exposure whatever their number. `solve` is the three in one process.

Why not stcal's module at run time (measured on this machine, Python 3.11):
stcal 1.x requires pyarrow, scikit-image, shapely, astropy-healpix, requests and tweakwcs
besides what mirical has: about 235 MB installed (stcal 12 MB, pyarrow 170 MB,
scikit-image 32 MB) against 16 MB for spherical-geometry (15 MB) and stsci.imagestats
(0.7 MB), which this module uses directly. Import cost after gwcs is a few ms either way
(``python -X importtime``: stcal.skymatch 2-11 ms, spherical_geometry.polygon +
stsci.imagestats 1.7 ms). stcal's ``SkyImage`` holds every image and mask in memory at
once, which the one-exposure-at-a-time reading above avoids. The pixel scan of a polygon
is gwcs's ``region.Polygon`` (gwcs is a run-time dependency already).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirical.errors import MiricalError

#: The columns of the levels table.
COLUMNS = ("product", "file", "level", "status", "method", "subtracted")
#: The columns of the footprints table (one row per exposure) and of an exposure's stats table (one row per
#: other sky group): `write_footprints`, `write_stats`.
FOOTPRINT_COLUMNS = ("product", "file", "group", "prior", "ra", "dec")
STATS_COLUMNS = ("group", "stat", "npix")
#: jwst's file-name suffixes, removed from a file's stem before it is matched with the skylist.
SUFFIXES = ("cal", "crf", "rate", "skymatch", "skymatchstep", "tweakreg", "tweakregstep", "outlierdetection", "i2d")


@dataclass
class SkyExposure:
    """One exposure as skymatch sees it before reading its pixels: footprint, gwcs, shape, earlier level."""

    product: str
    path: str
    wcs: object
    shape: tuple[int, int]
    polygon: object
    prior: float  # the level already subtracted (BKGSUB true, with ``subtract``), else 0
    group: str | None = None  # jwst's group id (`mirical.formats.groups.exposure_group`); None: alone
    vertices: tuple[np.ndarray, np.ndarray] | None = None  # RA, Dec the polygon is made of (`footprint_vertices`)


# ----------------------------------------------------------------- the statistic
def sky_statistic(values: np.ndarray, params: Mapping) -> tuple[float | None, int]:
    """(statistic, pixels used) of ``values`` as the config's ``skystat``; (None, 0) if there is none."""
    from stsci.imagestats import ImageStats

    stat = params["skystat"]
    try:
        result = ImageStats(image=values, fields=f"npix,{stat}", lower=params["lower"], upper=params["upper"],
                            nclip=params["nclip"], lsig=params["lsigma"], usig=params["usigma"],
                            binwidth=params["binwidth"])
    except ValueError:
        return None, 0
    value = getattr(result, stat)
    if value is None or not math.isfinite(value):
        return None, 0
    return float(value), int(result.npix)


# ----------------------------------------------------------------- footprints
def border(shape: Sequence[int], stepsize: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Closed pixel-corner border (x, y) of an image: counter-clockwise from (-0.5, -0.5)."""
    ny, nx = shape
    nodes_x = 2 if stepsize is None else max(2, math.ceil((nx + 1.0) / stepsize))
    nodes_y = 2 if stepsize is None else max(2, math.ceil((ny + 1.0) / stepsize))
    xs = np.linspace(-0.5, nx - 0.5, nodes_x)
    ys = np.linspace(-0.5, ny - 0.5, nodes_y)[1:-1]
    x = np.concatenate([xs, np.full(ys.size, nx - 0.5), xs[::-1], np.full(ys.size, -0.5), xs[:1]])
    y = np.concatenate([np.full(xs.size, -0.5), ys, np.full(xs.size, ny - 0.5), ys[::-1], [-0.5]])
    return x, y


def footprint_vertices(wcs, shape: Sequence[int], stepsize: int | None) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (degrees) of the exposure's footprint vertices, a closed border (`border`) through the gwcs."""
    ra, dec = wcs(*border(shape, stepsize), with_bounding_box=False)
    ra, dec = np.array(ra, float), np.array(dec, float)
    ra[-1], dec[-1] = ra[0], dec[0]  # closed exactly, whatever the transform's rounding
    return ra, dec


def spherical_polygon(ra: np.ndarray, dec: np.ndarray):
    """The spherical polygon of closed RA, Dec vertices (the same vertices give the same polygon, bit for bit)."""
    from spherical_geometry.polygon import SphericalPolygon

    return SphericalPolygon.from_radec(ra, dec)


def footprint(wcs, shape: Sequence[int], stepsize: int | None):
    """The exposure's footprint on the sky, a spherical polygon."""
    return spherical_polygon(*footprint_vertices(wcs, shape, stepsize))


def overlap_mask(wcs, shape: Sequence[int], own, other) -> np.ndarray | None:
    """Pixels of an exposure (gwcs ``wcs``, footprint ``own``) inside its overlap with footprint ``other``;
    None where the overlap has no area."""
    from gwcs.region import Polygon
    from spherical_geometry.polygon import MalformedPolygonError

    try:
        overlap = own.intersection(other)
    except MalformedPolygonError:  # nearly identical footprints: the official takes the whole footprint
        overlap = own.copy()
    if abs(overlap.area()) == 0.0:
        return None
    mask = np.zeros(shape, bool)
    for ra, dec in overlap.to_radec():
        if len(ra) < 4:
            continue
        x, y = wcs.invert(ra, dec, with_bounding_box=False)
        mask = Polygon(True, list(zip(x, y))).scan(mask)
    return mask


# ----------------------------------------------------------------- solutions
def match_levels(stat: np.ndarray, npix: np.ndarray, match_down: bool) -> np.ndarray:
    """Relative levels (NaN: in no pair) from ``stat[i, j]``/``npix[i, j]``: unit i's statistic and pixels
    in its overlap with unit j (NaN/0 where none). The least-squares solution of the module docstring."""
    n = len(stat)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if npix[i, j] > 0 and npix[j, i] > 0]
    levels = np.full(n, np.nan)
    if not pairs:
        return levels
    rows = np.zeros((len(pairs), n))
    rhs = np.zeros(len(pairs))
    for row, (i, j) in enumerate(pairs):
        weight = 0.5 * (npix[i, j] + npix[j, i])
        rows[row, i], rows[row, j] = weight, -weight
        rhs[row] = weight * (stat[i, j] - stat[j, i])
    solution = np.linalg.pinv(rows, rcond=1e-12) @ rhs
    used = sorted({k for pair in pairs for k in pair})
    levels[used] = solution[used]
    levels[used] -= levels[used].min() if match_down else levels[used].max()
    return levels


def global_levels(stats: Sequence[float | None], matched: Sequence[float | None]) -> list[float | None]:
    """``global`` (``matched`` all None) or ``global+match``: each matched level (0 if None) plus the
    smallest of (statistic minus matched level); ``matched`` itself if there is no statistic.

    ``stats`` of ``global+match`` with ``subtract`` are already of the matched-subtracted data
    (pass ``matched`` as zeros for the base then; `solve` does)."""
    rest = [s - (m or 0.0) for s, m in zip(stats, matched) if s is not None]
    if not rest:
        return list(matched)
    base = min(rest)
    return [(m or 0.0) + base for m in matched]


def user_levels(skylist: str, names: Sequence[Sequence[str]]) -> list[float]:
    """The ``skylist`` level (as float32, as the official reads it) of each exposure, known by any of its
    ``names`` (its product, its science file): lines "file level", matched by stem without jwst suffix."""
    if not skylist:
        raise MiricalError("config skymatch.skylist", "skymethod 'user' needs a skylist file")
    entries: dict[str, list[float]] = {}
    try:
        lines = Path(skylist).read_text().splitlines()
    except OSError as exc:
        raise MiricalError(skylist, f"cannot read the skylist ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        words = line.split("#")[0].split()
        if not words:
            continue
        try:
            name, level = words[0], float(words[1])
        except (IndexError, ValueError):
            raise MiricalError(skylist, f"line {number} is not 'file level': {line.strip()!r}") from None
        entries.setdefault(stem(name), []).append(level)
    count = sum(len(v) for v in entries.values())
    if count != len(names):
        raise MiricalError(skylist, f"{count} levels for {len(names)} exposures")
    levels = []
    for keys in names:
        found = [level for key in dict.fromkeys(stem(k) for k in keys) for level in entries.get(key, [])]
        if len(found) != 1:
            why = "is not in" if not found else "is more than once in"
            raise MiricalError(skylist, f"exposure {stem(keys[0])!r} {why} the skylist")
        levels.append(float(np.float32(found[0])))
    return levels


def stem(path: str) -> str:
    """The file name without folder, extension and jwst suffix: jw..._mirimage."""
    name = Path(path).stem
    head, _, tail = name.rpartition("_")
    return head if head and tail in SUFFIXES else name


# ----------------------------------------------------------------- the job
def header_and_wcs(path: str) -> tuple[object, object, tuple[int, int]]:
    """Primary header, gwcs and (ny, nx) of an exposure file, without its arrays."""
    from astropy.io import fits

    from mirical.formats.asdf_extension import read_tree

    try:
        with fits.open(path) as hdul:
            primary, sci = hdul[0].header.copy(), hdul["SCI"].header
            shape = (int(sci["NAXIS2"]), int(sci["NAXIS1"]))
            wcs = (read_tree(hdul["ASDF"]).get("meta") or {}).get("wcs") if "ASDF" in hdul else None
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None
    if wcs is None:
        raise MiricalError(path, "no gwcs (meta.wcs in the ASDF extension): assign_wcs has not run")
    return primary, wcs, shape


def read_footprint(product: str, path: str, params: Mapping, polygon: bool = True) -> SkyExposure:
    """Footprint (without ``polygon``: none), gwcs, shape, earlier level and group id of a cal file (headers
    and gwcs only)."""
    from mirical.formats.groups import file_group

    primary, wcs, shape = header_and_wcs(path)
    subtracted, level = primary.get("BKGSUB"), primary.get("BKGLEVEL")
    if subtracted is None and level is not None:
        raise MiricalError(path, "BKGLEVEL is set but BKGSUB is not")
    if subtracted is not None and level is None:
        raise MiricalError(path, "BKGSUB is set but BKGLEVEL is not")
    if subtracted is not None and bool(subtracted) != bool(params["subtract"]):
        raise MiricalError(path, f"BKGSUB={bool(subtracted)} from an earlier sky matching differs from "
                                 f"skymatch.subtract={bool(params['subtract'])}")
    prior = float(level) if params["subtract"] and level is not None else 0.0
    if not polygon:
        return SkyExposure(product, path, wcs, shape, None, prior, file_group(path))
    vertices = footprint_vertices(wcs, shape, params["stepsize"])
    return SkyExposure(product, path, wcs, shape, spherical_polygon(*vertices), prior, file_group(path), vertices)


def good_data(path: str, dqbits) -> tuple[np.ndarray, np.ndarray]:
    """SCI (float32) and its good pixels (finite, DQ within ``dqbits``) of an exposure file."""
    from mirical.formats.dqflags import good_pixels
    from mirical.formats.io import read_exposure

    arrays = read_exposure(path, ints=False).arrays
    sci = arrays["SCI"]
    good = np.isfinite(sci)
    if dqbits is not None:
        good &= good_pixels(arrays["DQ"], dqbits)
    return sci, good


def sky_groups(exposures: Sequence[SkyExposure]) -> list[list[int]]:
    """The units of the match: the indices of the exposures sharing a group id (one without is alone), in the
    order of their first exposure, as jwst's ``group_indices``."""
    from mirical.formats.groups import group_names

    members: dict[str, list[int]] = {}
    for i, name in enumerate(group_names([exposure.group for exposure in exposures])):
        members.setdefault(name, []).append(i)
    return list(members.values())


def measure(exposures: Sequence[SkyExposure], groups: Sequence[Sequence[int]], params: Mapping, pairs: bool,
            whole: bool, log=None) -> tuple[np.ndarray, np.ndarray, list[float | None]]:
    """Reading one exposure at a time: ``stat[i, g]``, ``npix[i, g]`` (with ``pairs``), exposure i's statistic
    and pixels inside its intersections with the footprints of ``groups[g]``'s members (not its own group;
    NaN/0 where none), and each whole exposure's statistic (with ``whole``): `measure_exposure` of each."""
    n = len(exposures)
    stat, npix = np.full((n, len(groups)), np.nan), np.zeros((n, len(groups)))
    whole_stats: list[float | None] = [None] * n
    for i, exposure in enumerate(exposures):
        stat[i], npix[i], whole_stats[i] = measure_exposure(i, exposures, groups, params, pairs, whole)
        if log is not None:
            log.info("%s: statistics measured", exposure.product)
    return stat, npix, whole_stats


def measure_exposure(i: int, exposures: Sequence[SkyExposure], groups: Sequence[Sequence[int]], params: Mapping,
                     pairs: bool, whole: bool) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Exposure i's row of `measure` (its pixels read from its file; its gwcs, shape and footprint needed with
    ``pairs``, the other exposures' footprints only): ``stat[g]``, ``npix[g]`` and its whole statistic."""
    exposure = exposures[i]
    own = next(g for g, members in enumerate(groups) if i in members)
    stat, npix = np.full(len(groups), np.nan), np.zeros(len(groups))
    whole_stat = None
    sci, good = good_data(exposure.path, params["dqbits"])
    if whole:
        whole_stat = sky_statistic(sci[good], params)[0]
    for g, members in enumerate(groups if pairs else ()):
        if g == own:
            continue
        masks = [overlap_mask(exposure.wcs, exposure.shape, exposure.polygon, exposures[k].polygon)
                 for k in members]
        masks = [mask for mask in masks if mask is not None]
        if not masks:
            continue
        value, count = sky_statistic(sci[np.logical_or.reduce(masks) & good], params)
        if value is not None and count > 0:
            stat[g], npix[g] = value, count
    return stat, npix, whole_stat


def measured(params: Mapping) -> tuple[bool, bool]:
    """(pairs, whole): whether `measure` takes the overlap statistics and the whole exposures' for the config's
    ``skymethod`` (not ``user``); ``global+match`` with ``subtract`` takes the latter in `solve_measured`."""
    method = params["skymethod"]
    late_global = method == "global+match" and params["subtract"]
    return "match" in method, method != "match" and not late_global


def group_overlaps(stat: np.ndarray, npix: np.ndarray, groups: Sequence[Sequence[int]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``stat[g, h]``, ``npix[g, h]`` of group g in its overlap with group h from its members' (`measure`):
    a lone exposure's own; a group's the pixel-weighted mean of its members' with pixels, and their sum."""
    m = len(groups)
    group_stat, group_npix = np.full((m, m), np.nan), np.zeros((m, m))
    for g, members in enumerate(groups):
        for h in range(m):
            used = [i for i in members if npix[i, h] > 0]
            if h == g or not used:
                continue
            if len(members) == 1:
                group_stat[g, h], group_npix[g, h] = stat[used[0], h], npix[used[0], h]
                continue
            weights = npix[used, h]
            group_npix[g, h] = weights.sum()
            group_stat[g, h] = float(np.dot(stat[used, h], weights)) / group_npix[g, h]
    return group_stat, group_npix


def local_levels(stats: Sequence[float | None], groups: Sequence[Sequence[int]]) -> list[float | None]:
    """``local``: each exposure's level is the smallest statistic of its group's members (None: none has one)."""
    levels: list[float | None] = [None] * len(stats)
    for members in groups:
        found = [stats[i] for i in members if stats[i] is not None]
        for i in members:
            levels[i] = min(found) if found else None
    return levels


def solve(exposures: Sequence[SkyExposure], params: Mapping, log=None) -> list[float | None]:
    """The sky level (None: none) of each exposure for the config's ``skymethod`` (not ``user``): `measure`,
    then `solve_measured`."""
    groups = sky_groups(exposures)
    return solve_measured(exposures, *measure(exposures, groups, params, *measured(params), log=log), params)


def solve_measured(exposures: Sequence[SkyExposure], stat: np.ndarray, npix: np.ndarray,
                   stats: Sequence[float | None], params: Mapping) -> list[float | None]:
    """The sky level (None: none) of each exposure from what `measure` found (``stat``, ``npix``, ``stats``);
    ``global+match`` with ``subtract`` reads each exposure again (the statistic of its matched-subtracted data)."""
    method = params["skymethod"]
    late_global = method == "global+match" and params["subtract"]
    groups = sky_groups(exposures)
    stats = list(stats)
    matched: list[float | None] = [None] * len(exposures)
    if "match" in method:
        relative = match_levels(*group_overlaps(stat, npix, groups), params["match_down"])
        for g, members in enumerate(groups):
            for i in members:
                matched[i] = float(relative[g]) if math.isfinite(relative[g]) else None
        if method == "match":
            return matched
    if method == "local":
        return local_levels(stats, groups)
    if late_global:  # the statistic of the matched-subtracted data, as the official subtracts first
        for i, exposure in enumerate(exposures):
            sci, good = good_data(exposure.path, params["dqbits"])
            stats[i] = sky_statistic((sci - (matched[i] or 0.0))[good], params)[0]
        base = global_levels(stats, [None] * len(exposures))
        return [(m or 0.0) + b if b is not None else m for m, b in zip(matched, base)]
    return global_levels(stats, matched)


def apply_level(exposure, level: float | None, prior: float, params: Mapping) -> None:
    """Record ``level`` (the new level; None: none) on an exposure in memory (`mirical.formats.io.Exposure`)."""
    from mirical.steps import set_step_status

    if level is None:
        set_step_status(exposure, "skymatch", "SKIPPED")
        return
    primary = exposure.primary
    primary["BKGLEVEL"] = (prior + level, "sky level [MJy/sr] (skymatch)")
    primary["BKGSUB"] = (bool(params["subtract"]), "sky level subtracted from SCI")
    primary["BKGMETH"] = (str(params["skymethod"]), "skymatch method")
    if params["subtract"]:
        exposure.arrays["SCI"] = exposure.arrays["SCI"] - level
    set_step_status(exposure, "skymatch", "COMPLETE")


def write_levels(rows: Sequence[Mapping], path: str | os.PathLike) -> None:
    """The levels table (ECSV, `COLUMNS`; level empty where there is none)."""
    from astropy.table import Table

    from mirical.formats.atomic import atomic_path

    table = Table(rows=[[np.nan if c == "level" and row[c] is None else row[c] for c in COLUMNS] for row in rows],
                  names=COLUMNS, dtype=[str, str, float, str, str, bool])
    table["level"].unit = "MJy / sr"
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_levels(path: str | os.PathLike) -> dict[str, float | None]:
    """{product: level or None} of a levels table."""
    from astropy.table import Table

    try:
        table = Table.read(path, format="ascii.ecsv")
    except (OSError, ValueError) as exc:
        raise MiricalError(str(path), f"not a skymatch levels table ({exc})") from None
    return {str(r["product"]): (float(r["level"]) if r["status"] == "COMPLETE" else None) for r in table}


# ----------------------------------------------------------------- the jobs' tables
def group_labels(exposures: Sequence[SkyExposure], groups: Sequence[Sequence[int]]) -> list[str]:
    """The name of each sky group of `sky_groups` (its group id; a lone exposure's ``exposure{i}``)."""
    from mirical.formats.groups import group_names

    names = group_names([exposure.group for exposure in exposures])
    return [names[members[0]] for members in groups]


def write_footprints(exposures: Sequence[SkyExposure], path: str | os.PathLike) -> None:
    """The footprints table (ECSV, `FOOTPRINT_COLUMNS`) of exposures from `read_footprint`: product, cal file,
    group id (a lone exposure's ``exposure{i}``), earlier level and the footprint's RA, Dec vertices, every
    float written as Python's repr, so that `read_footprints` gives the same polygons bit for bit."""
    from astropy.table import Table

    from mirical.formats.atomic import atomic_path
    from mirical.formats.groups import group_names

    ra, dec = np.empty(len(exposures), object), np.empty(len(exposures), object)
    for k, exposure in enumerate(exposures):
        ra[k], dec[k] = exposure.vertices
    table = Table([[e.product for e in exposures], [os.path.basename(e.path) for e in exposures],
                   group_names([e.group for e in exposures]), np.array([e.prior for e in exposures], float), ra, dec],
                  names=FOOTPRINT_COLUMNS)
    table["prior"].unit = "MJy / sr"
    table["ra"].unit = table["dec"].unit = "deg"
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_footprints(path: str | os.PathLike, files: Sequence[str] = ()) -> list[SkyExposure]:
    """The exposures of a footprints table (`write_footprints`), without gwcs and shape. The table names each
    file without its folder (the same table wherever the run is): an exposure's path is the one of ``files``
    of that name, else the name alone."""
    from astropy.table import Table

    try:
        table = Table.read(path, format="ascii.ecsv")
        missing = [c for c in FOOTPRINT_COLUMNS if c not in table.colnames]
    except (OSError, ValueError) as exc:
        raise MiricalError(str(path), f"not a skymatch footprints table ({exc})") from None
    if missing:
        raise MiricalError(str(path), f"not a skymatch footprints table (no column {', '.join(missing)})")
    paths = {os.path.basename(f): str(f) for f in files}
    exposures = []
    for row in table:
        ra, dec = np.asarray(row["ra"], float), np.asarray(row["dec"], float)
        exposures.append(SkyExposure(str(row["product"]), paths.get(str(row["file"]), str(row["file"])), None, None,
                                     spherical_polygon(ra, dec), float(row["prior"]), str(row["group"]), (ra, dec)))
    return exposures


def write_stats(product: str, names: Sequence[str], own: int, stat: np.ndarray, npix: np.ndarray,
                whole: float | None, path: str | os.PathLike) -> None:
    """One exposure's statistics (`measure_exposure`; ECSV, `STATS_COLUMNS`): a row per sky group (``names``)
    but its own (``own``), stat NaN and npix 0 where it has no overlap; meta ``product`` and ``whole``."""
    from astropy.table import Table

    from mirical.formats.atomic import atomic_path

    others = [g for g in range(len(names)) if g != own]
    table = Table([[names[g] for g in others], np.array([stat[g] for g in others], float),
                   np.array([npix[g] for g in others], np.int64)], names=STATS_COLUMNS)
    table["stat"].unit = "MJy / sr"
    table.meta.update(product=product, whole=whole)
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_measured(exposures: Sequence[SkyExposure], paths: Sequence[str | os.PathLike]
                  ) -> tuple[np.ndarray, np.ndarray, list[float | None]]:
    """`measure`'s (stat, npix, whole statistics) from each exposure's stats table (``paths``, in order)."""
    from astropy.table import Table

    groups = sky_groups(exposures)
    names = group_labels(exposures, groups)
    stat, npix = np.full((len(exposures), len(groups)), np.nan), np.zeros((len(exposures), len(groups)))
    stats: list[float | None] = [None] * len(exposures)
    for i, (exposure, path) in enumerate(zip(exposures, paths, strict=True)):
        try:
            table = Table.read(path, format="ascii.ecsv")
            rows = {str(row["group"]): (float(row["stat"]), int(row["npix"])) for row in table}
        except (OSError, ValueError, KeyError) as exc:
            raise MiricalError(str(path), f"not a skymatch stats table ({exc})") from None
        own = next(g for g, members in enumerate(groups) if i in members)
        expected = [name for g, name in enumerate(names) if g != own]
        if table.meta.get("product") != exposure.product or sorted(rows) != sorted(expected):
            raise MiricalError(str(path), f"not the statistics of {exposure.product} against the sky groups "
                                          f"{', '.join(expected) or '(none)'}")
        for g, name in enumerate(names):
            if name in rows:
                stat[i, g], npix[i, g] = rows[name]
        whole = table.meta.get("whole")
        stats[i] = None if whole is None else float(whole)
    return stat, npix, stats
