"""The dither mosaic as map/reduce: one grid, one drizzle per exposure, one sum.

1. `write_grid`: the output grid (gwcs, shape, PXSCLRT) from all exposures'
   footprints, or the ``output_wcs`` file's, computed once (`mirical.drizzle.i2d.grid`)
   and written to an ASDF file with its pixel scale, that every later job reads, so
   all of them use the same grid.
2. `drizzle_part` (map, one job per exposure): the exposure drizzled alone
   onto the crop of the grid that its pixels reach. The part holds the
   exposure's drizzled SCI and weight WHT (drizzle's running weighted mean and
   weight sum over its own pixels), its coverage CON (1 where it has weight),
   its resampled variances VAR_* (drizzled sqrt(var), squared; before any
   weighting or 1/PXSCLRT**2) only with ``enable_err``, and with ``propagate_dq``
   drizzle's DQ (OR of the DQ of the input pixels reaching each output pixel).
   That is a single-exposure image on the common grid, what stage-3 outlier
   detection needs too. CON is in every part (the reduce needs the coverage).
3. `reduce_parts` (reduce, streaming the parts one at a time):
   SCI = sum(WHT_i * SCI_i) / sum(WHT_i) and WHT = sum(WHT_i), summed in
   float64 and rounded once to float32; bit i of CON plane i // 32 set where
   part i covers (drizzle's context bitfield); the variances accumulated exactly
   as the serial drizzle does, from the same per-exposure arrays
   (`Resampler.add_variances`); DQ the OR of the parts' DQ. The output arrays
   follow the options as in the serial drizzle: CON only with ``enable_ctx``,
   ERR with ``enable_err``, VAR_* with ``report_var`` too, DQ with ``propagate_dq``.

The serial drizzle (`mirical.steps.resample.drizzle`) updates SCI as a float32 running
mean, contribution by contribution; the sum above is the same mean, rounded
differently: SCI and WHT agree to float32 rounding (tests/test_mosaic.py). The
per-exposure variances are the serial ones except where drizzle's arithmetic on
the crop's shifted coordinates rounds differently (1 pixel of 1.2 M, 1 ulp, in a
full-frame test), so VAR_* and ERR are the serial numbers to float32 rounding.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical.errors import MiricalError
from mirical.formats.atomic import atomic_path
from mirical.formats.io import VARIANCES, Exposure, read_exposure, write_atomic
from mirical.steps import set_step_status

#: Keywords of the exposure copied into its part: the summed time keywords of the mosaic.
TIME_KEYWORDS = ("EFFEXPTM", "TMEASURE", "DURATION", "EXPSTART", "EXPEND")
#: The extensions of a part file in order (VAR_* only with enable_err, DQ only with propagate_dq).
PART_ARRAYS = ("SCI", "WHT", "CON", *VARIANCES, "DQ")


@dataclass
class Grid:
    """The mosaic's output grid: gwcs, (ny, nx), PXSCLRT, pixel scale (arcsec; None: that of the
    TAN gwcs) and whether it is an ``output_wcs`` file's (FITS WCS then its linear approximation,
    else the TAN header)."""

    wcs: object
    shape: tuple[int, int]
    pixel_scale_ratio: float
    pixel_scale: float | None = None
    given: bool = False


@dataclass
class Part:
    """One exposure drizzled onto a crop of the grid starting at grid pixel (x0, y0)."""

    x0: int
    y0: int
    grid_shape: tuple[int, int]
    arrays: dict[str, np.ndarray]  # SCI, WHT, CON; VAR_* with enable_err; DQ with propagate_dq
    times: dict[str, float | None]  # TIME_KEYWORDS

    @property
    def region(self) -> tuple[slice, slice]:
        """The crop as slices of the grid."""
        ny, nx = self.arrays["SCI"].shape
        return slice(self.y0, self.y0 + ny), slice(self.x0, self.x0 + nx)


# ----------------------------------------------------------------- 1. the grid
def compute_grid(paths: Sequence[str], params: Mapping, step: str = "mosaic") -> Grid:
    """The output grid covering the cal files ``paths`` (`mirical.drizzle.i2d.grid`) and its PXSCLRT.

    PXSCLRT is ``pixel_scale_ratio``, or with ``pixel_scale`` or ``output_wcs``
    set, the output scale over the first exposure's pixel (PIXAR_SR, else its
    mean pixel area), as the serial drizzle derives it. A grid too big for the
    ``allowed_memory`` of ``step`` (mosaic or outlier_detection) is refused here,
    before any job allocates it (`mirical.drizzle.memory`).
    """
    from mirical.drizzle.i2d import grid, grid_pixel_scale_ratio
    from mirical.drizzle.memory import check_memory

    out_wcs, shape, pixel_scale, wcss = grid(paths, params)
    check_memory(shape, step, params, f"config {step}")
    ratio = grid_pixel_scale_ratio(params, pixel_scale, paths[0], wcss[0])
    return Grid(out_wcs, (int(shape[0]), int(shape[1])), ratio, float(pixel_scale), bool(params.get("output_wcs")))


def write_grid(grid: Grid, path: str | os.PathLike) -> None:
    """Write ``grid`` as an ASDF file (byte-reproducible)."""
    from mirical.formats.asdf_extension import asdf_bytes

    tree = {"wcs": grid.wcs, "shape": list(grid.shape), "pixel_scale_ratio": grid.pixel_scale_ratio,
            "pixel_scale": grid.pixel_scale, "given": grid.given}
    _write_bytes(asdf_bytes(tree), path)


def read_grid(path: str | os.PathLike) -> Grid:
    """The grid written by `write_grid`."""
    import asdf

    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            tree = af.tree
            return Grid(tree["wcs"], (int(tree["shape"][0]), int(tree["shape"][1])),
                        float(tree["pixel_scale_ratio"]), _float(tree.get("pixel_scale")), bool(tree.get("given", False)))
    except (OSError, ValueError, KeyError) as exc:
        raise MiricalError(str(path), f"not a mosaic grid file ({exc})") from None


def copy_grid(source: str | os.PathLike, path: str | os.PathLike, params: Mapping, step: str = "mosaic") -> Grid:
    """Copy the grid file ``source`` (`write_grid`'s, computed with the same files and grid keys) to ``path``,
    once the ``allowed_memory`` of ``step`` allows its shape; the grid (its gwcs None: not deserialised)."""
    from asdf.util import load_yaml

    from mirical.drizzle.memory import check_memory

    data = Path(source).read_bytes()
    try:
        tree = load_yaml(io.BytesIO(data))
        grid = Grid(None, (int(tree["shape"][0]), int(tree["shape"][1])), float(tree["pixel_scale_ratio"]),
                    _float(tree.get("pixel_scale")), bool(tree.get("given", False)))
    except (ValueError, KeyError, TypeError) as exc:
        raise MiricalError(str(source), f"not a mosaic grid file ({exc})") from None
    check_memory(grid.shape, step, params, f"config {step}")
    _write_bytes(data, path)
    return grid


def _write_bytes(data: bytes, path: str | os.PathLike) -> None:
    """Write ``data`` to a temporary name beside ``path`` and rename it when complete."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# ----------------------------------------------------------------- 2. map: one exposure
def crop_margin(params: Mapping, pixel_scale_ratio: float) -> int:
    """Output pixels beyond the input pixel centres that any kernel can reach (lanczos3: 3 / PXSCLRT)."""
    return math.ceil(3.0 * max(1.0, float(params["pixfrac"])) / pixel_scale_ratio) + 2


def crop(pixmap: np.ndarray, grid_shape: Sequence[int], margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, nx, ny) of the grid crop holding every mapped pixel centre plus ``margin``."""
    x, y = pixmap[..., 0], pixmap[..., 1]
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("no input pixel maps onto the grid")
    x0 = max(0, math.floor(x[ok].min()) - margin)
    y0 = max(0, math.floor(y[ok].min()) - margin)
    x1 = min(int(grid_shape[1]), math.ceil(x[ok].max()) + margin + 1)
    y1 = min(int(grid_shape[0]), math.ceil(y[ok].max()) + margin + 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError("the exposure falls outside the grid")
    return x0, y0, x1 - x0, y1 - y0


def drizzle_part(path: str, grid: Grid, params: Mapping) -> Part:
    """The cal file ``path`` drizzled alone onto the crop of ``grid`` that it reaches."""
    from mirical.drizzle.i2d import exposure_wcs

    exposure = read_exposure(path)
    return drizzle_exposure(exposure, exposure_wcs(path, exposure.asdf), grid, params)


def grid_map(wcs, shape: Sequence[int], grid: Grid, params: Mapping):
    """The `mirical.drizzle.exposure_map.ExposureMap` of an exposure (gwcs ``wcs``, array ``shape``) onto
    ``grid``, with the step's ``pixmap_stepsize`` and ``pixmap_order``."""
    from mirical.drizzle.exposure_map import exposure_map
    from mirical.drizzle.i2d import pixmap_options

    return exposure_map(wcs, shape, grid.wcs, *pixmap_options(params))


def drizzle_exposure(exposure: Exposure, wcs, grid: Grid, params: Mapping, mapping=None) -> Part:
    """`drizzle_part` of an exposure in memory with its gwcs ``wcs``, or (``wcs`` None) with its pixel map
    onto ``grid``, ``mapping`` (`grid_map`, e.g. read from the file outlier detection wrote)."""
    from mirical.drizzle.i2d import add_exposure, exposure_time, make_resampler

    if mapping is None:
        mapping = grid_map(wcs, exposure.shape, grid, params)
    elif mapping.pixmap.shape[:2] != exposure.shape:
        raise MiricalError(exposure.path, f"its {exposure.shape} pixels differ from its pixel map's "
                           f"{mapping.pixmap.shape[:2]}")
    try:
        x0, y0, nx, ny = crop(mapping.pixmap, grid.shape, crop_margin(params, grid.pixel_scale_ratio))
    except ValueError as exc:
        raise MiricalError(exposure.path, f"cannot drizzle onto the mosaic grid: {exc}") from None
    pixmap = mapping.pixmap - np.array([x0, y0], dtype=float)  # exact: 0 < x - x0 <= x is a multiple of ulp(x)
    resampler = make_resampler(grid.wcs, (ny, nx), params, grid.pixel_scale_ratio, grid.pixel_scale,
                               enable_ctx=True)
    # the exposure's resampled variances as they are (the sum weights them): not accumulated on the crop
    variances = add_exposure(resampler, exposure, wcs, pixmap=pixmap, input_range=mapping.pixel_range,
                             accumulate=False)
    result = resampler.drizzled()
    arrays = {"SCI": result["SCI"], "WHT": result["WHT"], "CON": result["CON"][0], **variances}
    if "DQ" in result:
        arrays["DQ"] = result["DQ"]
    times = {key: _float(exposure.get(key)) for key in TIME_KEYWORDS}
    times["EFFEXPTM"] = exposure_time(exposure)  # EFFEXPTM, else XPOSURE
    return Part(x0, y0, grid.shape, arrays, times)


def write_part(part: Part, grid: Grid, path: str | os.PathLike, source: str) -> None:
    """Write ``part`` as FITS: the arrays as image extensions, SCI with the crop's TAN WCS."""
    from mirical.drizzle.i2d import grid_header

    primary = fits.Header()
    primary["FILENAME"] = Path(path).name
    primary["CALFILE"] = (Path(source).name, "exposure drizzled into this part")
    primary["CROPX0"] = (part.x0, "first grid column of this crop (0-based)")
    primary["CROPY0"] = (part.y0, "first grid row of this crop (0-based)")
    primary["GRIDNX"] = (part.grid_shape[1], "columns of the mosaic grid")
    primary["GRIDNY"] = (part.grid_shape[0], "rows of the mosaic grid")
    primary["PXSCLRT"] = grid.pixel_scale_ratio
    for key, value in part.times.items():
        if value is not None:
            primary[key] = value
    sci_header = grid_header(grid.wcs, grid.shape, grid.given)
    sci_header["CRPIX1"] -= part.x0
    sci_header["CRPIX2"] -= part.y0
    hdus = [fits.PrimaryHDU(header=primary), fits.ImageHDU(part.arrays["SCI"], sci_header, name="SCI")]
    for name in PART_ARRAYS[1:]:
        if name in part.arrays:
            hdus.append(fits.ImageHDU(part.arrays[name], name=name))
            if name in VARIANCES:
                hdus[-1].header["BUNIT"] = ("(MJy/sr)**2", "drizzled, before weights and 1/PXSCLRT**2")
    write_atomic(fits.HDUList(hdus), path)


def read_part(path: str | os.PathLike) -> Part:
    """A part written by `write_part`."""
    path = str(path)
    try:
        with fits.open(path) as hdul:
            h = hdul[0].header
            arrays = {name: np.asarray(hdul[name].data) for name in PART_ARRAYS if name in hdul}
            for name in ("SCI", "WHT", "CON"):
                if name not in arrays:
                    raise KeyError(f"no {name} extension")
            return Part(int(h["CROPX0"]), int(h["CROPY0"]), (int(h["GRIDNY"]), int(h["GRIDNX"])), arrays,
                        {key: _float(h.get(key)) for key in TIME_KEYWORDS})
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a mosaic part ({exc})") from None


# ----------------------------------------------------------------- 3. reduce: the sum
def reduce_parts(parts: Iterable[Part], count: int, grid: Grid, params: Mapping) -> dict:
    """The mosaic arrays from ``count`` parts in input order (streamed): `Resampler.finish`'s dict."""
    from mirical.drizzle.i2d import fillval, make_resampler

    ny, nx = grid.shape
    resampler = make_resampler(grid.wcs, grid.shape, params, grid.pixel_scale_ratio, grid.pixel_scale)
    weighted = np.zeros(grid.shape)
    dq = np.zeros(grid.shape, np.uint32)
    weight = np.zeros(grid.shape)
    touched = np.zeros(grid.shape, bool)
    con = np.zeros(((count - 1) // 32 + 1, ny, nx), np.int32)
    n = 0
    for i, part in enumerate(parts):
        if part.grid_shape != grid.shape:
            raise ValueError(f"part {i} was drizzled onto a {part.grid_shape} grid, not {grid.shape}")
        region = part.region
        wht = part.arrays["WHT"].astype(float)
        hit = wht != 0
        weighted[region][hit] += wht[hit] * part.arrays["SCI"][hit]
        weight[region] += wht
        touched[region] |= hit
        con[i // 32][region] |= np.where(part.arrays["CON"] != 0, np.uint32(1 << (i % 32)).view(np.int32), 0)
        times = part.times
        if resampler.propagate_dq:
            if "DQ" not in part.arrays:
                raise ValueError(f"part {i} has no DQ (drizzled without propagate_dq)")
            dq[region] |= part.arrays["DQ"]
        if resampler.enable_err and not set(VARIANCES) <= set(part.arrays):
            raise ValueError(f"part {i} has no variances (drizzled without enable_err)")
        resampler.add_variances({name: part.arrays[name] for name in VARIANCES if resampler.enable_err},
                                times["EFFEXPTM"] if times["TMEASURE"] is None else times["TMEASURE"], region)
        resampler.record(times["EFFEXPTM"], times["TMEASURE"], times["DURATION"], times["EXPSTART"], times["EXPEND"])
        n += 1
    if n != count:
        raise ValueError(f"{n} parts, expected {count}")
    sci = np.full(grid.shape, fillval(params["fillval"]), np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        sci[touched] = weighted[touched] / weight[touched]
    return resampler.result(sci, weight.astype(np.float32), con if params.get("enable_ctx", True) else None,
                            dq)


def header_exposure(path: str) -> Exposure:
    """The headers and ASDF extension of a cal file, without its arrays (the mosaic's header source)."""
    try:
        with fits.open(path) as hdul:
            return Exposure(primary=hdul[0].header.copy(), sci_header=hdul["SCI"].header.copy(), arrays={},
                            asdf=hdul["ASDF"].copy() if "ASDF" in hdul else None, path=path)
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None


def mosaic(part_paths: Sequence[str], grid_path: str, first_cal: str, params: Mapping) -> Exposure:
    """The i2d mosaic from the parts (in input order), the grid and the first cal file's headers."""
    from mirical.drizzle.i2d import i2d_exposure

    grid = read_grid(grid_path)
    try:
        result = reduce_parts((read_part(p) for p in part_paths), len(part_paths), grid, params)
    except ValueError as exc:
        raise MiricalError(grid_path, f"the parts do not fit this grid: {exc}") from None
    out = i2d_exposure(header_exposure(first_cal), grid.wcs, grid.shape, result, grid.given)
    set_step_status(out, "mosaic", "COMPLETE")
    return out


def _float(value) -> float | None:
    return None if value is None else float(value)
