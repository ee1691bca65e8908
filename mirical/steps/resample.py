"""The resample step (rule resample): the ``_i2d`` of one cal exposure, drizzled onto its own grid.

The mosaic step drizzles every dither with the same pieces (`mirical.drizzle.i2d`).
The output grid is computed from the footprints first (headers and WCS only),
then the exposures are drizzled one at a time, so memory is the output plus a
single input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mirical.drizzle.i2d import add_exposure, grid, grid_pixel_scale_ratio, i2d_exposure, make_resampler
from mirical.drizzle.memory import check_memory
from mirical.formats.io import Exposure, read_exposure
from mirical.steps import set_step_status


def drizzle(paths: Sequence[str], params: Mapping) -> Exposure:
    """Drizzle the cal files ``paths`` (one at a time) into one i2d exposure.

    A grid too big for ``allowed_memory`` is refused before anything is allocated (`mirical.drizzle.memory`).
    """
    out_wcs, shape, pixel_scale, wcss = grid(paths, params)
    check_memory(shape, "resample", params, "config steps.resample")
    resampler = make_resampler(out_wcs, shape, params, grid_pixel_scale_ratio(params, pixel_scale, paths[0], wcss[0]),
                               pixel_scale)
    first: Exposure | None = None
    for path, wcs in zip(paths, wcss):
        exposure = read_exposure(path)
        add_exposure(resampler, exposure, wcs)
        if first is None:
            first = exposure
            first.arrays = {}
        del exposure
    # the official's i2d takes only its schema's metadata from the cal file: no group id
    out = i2d_exposure(first, out_wcs, shape, resampler.finish(), bool(params.get("output_wcs")), ("group_id",))
    set_step_status(out, "resample", "COMPLETE")
    return out
