"""The mosaic's work on N cal files, for /usr/bin/time -v: map/reduce (default) or the serial drizzle.

    python bench/mosaic_scaling.py OUT.fits CAL1 CAL2 ...            # grid, one part per exposure, the sum
    python bench/mosaic_scaling.py --serial OUT.fits CAL1 CAL2 ...   # mirical.steps.resample.drizzle, one at a time

Map/reduce runs the three kinds of job one after the other in this process (the
parts are written beside OUT.fits) and prints the CPU seconds of each; the
projected wall time on C cores is grid + the parts spread over C cores (longest
part at least) + reduce, without the per-job start-up. Prints one JSON line.
"""
import json
import resource
import sys
import time
from pathlib import Path

from mirical.formats.io import write_exposure

PARAMS = {"skip": False, "pixfrac": 1.0, "kernel": "square", "fillval": "NaN", "weight_type": "ivm",
          "pixel_scale_ratio": 1.0, "pixel_scale": None, "rotation": None, "crpix": None,
          "crval": None, "output_shape": None, "pixmap_stepsize": 1.0, "pixmap_order": 1}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def serial(out: str, cals: list[str]) -> dict:
    from mirical.steps.resample import drizzle

    t, c = time.perf_counter(), time.process_time()
    exposure = drizzle(cals, PARAMS)
    write_exposure(exposure, out)
    return {"mosaic_s": round(time.perf_counter() - t, 2), "mosaic_cpu_s": round(time.process_time() - c, 2),
            "shape": list(exposure.shape)}


def map_reduce(out: str, cals: list[str]) -> dict:
    from mirical.steps.mosaic import compute_grid, drizzle_part, mosaic, write_grid, write_part

    folder = Path(out).with_suffix(".parts")
    folder.mkdir(exist_ok=True)
    c = time.process_time()
    write_grid(compute_grid(cals, PARAMS), folder / "grid.asdf")
    grid_cpu = time.process_time() - c
    from mirical.steps.mosaic import read_grid

    parts, part_cpu = [], []
    for i, cal in enumerate(cals):
        c = time.process_time()
        grid = read_grid(folder / "grid.asdf")
        path = folder / f"{i:04d}_mosaic_part.fits"
        write_part(drizzle_part(cal, grid, PARAMS), grid, path, cal)
        part_cpu.append(time.process_time() - c)
        parts.append(str(path))
    c = time.process_time()
    exposure = mosaic(parts, str(folder / "grid.asdf"), cals[0], PARAMS)
    write_exposure(exposure, out)
    reduce_cpu = time.process_time() - c

    def projected(cores: int) -> float:
        return round(grid_cpu + max(max(part_cpu), sum(part_cpu) / cores) + reduce_cpu, 2)

    return {"grid_cpu_s": round(grid_cpu, 2), "parts_cpu_s": round(sum(part_cpu), 2),
            "longest_part_cpu_s": round(max(part_cpu), 2), "reduce_cpu_s": round(reduce_cpu, 2),
            "projected_wall_s": {c: projected(c) for c in (1, 2, 8, 32)}, "shape": list(exposure.shape)}


args = sys.argv[1:]
run = serial if args[:1] == ["--serial"] else map_reduce
args = args[1:] if run is serial else args
result = run(args[0], args[1:])
print(json.dumps({"mode": run.__name__, "n": len(args) - 1, **result, "peak_rss_mb": _peak_mb()}))
