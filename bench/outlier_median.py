"""Peak memory and time of the outlier median (the outlier_median job's work) over N single-exposure images.

    python bench/outlier_median.py N [GRID_SIDE [CROP_SIDE]]

Writes N parts (SCI, WHT, CROPX0/CROPY0 as `mirical.steps.mosaic.write_part` does) of
CROP_SIDE² pixels (default 1032, a full MIRI frame) spread over a GRID_SIDE² grid
(default 1400) to a temporary folder, then computes their median as the rule does
(`mirical.steps.outlier_detection.median_image` on the files, a block of rows at a time)
and prints one JSON line: N, the grid, wall seconds, this process's peak RSS (MB) and
what N full grids in float32 would take (the official step's in-memory median cube,
``in_memory=True``: N x grid x 4 bytes, the lower bound of its peak).
"""
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from mirical.steps.outlier_detection import median_image, single_images


def write_parts(folder: Path, n: int, grid: int, crop: int) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        x0, y0 = (int(v) for v in rng.integers(0, grid - crop + 1, 2))
        sci = rng.normal(1.0, 0.1, (crop, crop)).astype(np.float32)
        wht = rng.uniform(0.5, 1.5, (crop, crop)).astype(np.float32)
        header = fits.Header({"CROPX0": x0, "CROPY0": y0})
        path = folder / f"part{i}.fits"
        fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(sci, name="SCI"),
                      fits.ImageHDU(wht, name="WHT")]).writeto(path)
        paths.append(str(path))
    return paths


def main(n: int, grid: int = 1400, crop: int = 1032) -> None:
    with tempfile.TemporaryDirectory(prefix="outlier_median_") as tmp:
        paths = write_parts(Path(tmp), n, grid, crop)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        images = single_images(paths, [None] * len(paths), 0.7)
        median_image(images, (grid, grid))
        wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "grid": [grid, grid], "crop": crop, "wall_s": round(wall, 2),
                      "peak_rss_mb": round(peak, 1), "peak_before_median_mb": round(base, 1),
                      "n_full_grids_float32_mb": round(n * grid * grid * 4 / 2**20, 1)}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
