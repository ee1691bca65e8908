"""The mosaic job's work (mirical.resample.drizzle of N cal files + write), for /usr/bin/time -v.

    python bench/mosaic_scaling.py OUT.fits CAL1 CAL2 ...

Drizzles one exposure at a time, as the mosaic rule does; prints one JSON line.
"""
import json
import resource
import sys
import time

from mirical.resample import drizzle
from mirical.io import write_exposure

PARAMS = {"skip": False, "pixfrac": 1.0, "kernel": "square", "fillval": "NaN", "weight_type": "ivm",
          "pixel_scale_ratio": 1.0, "pixel_scale": None, "rotation": None, "crpix": None,
          "crval": None, "output_shape": None}

out, cals = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
exposure = drizzle(cals, PARAMS)
write_exposure(exposure, out)
print(json.dumps({"n": len(cals), "mosaic_s": round(time.perf_counter() - t, 2),
                  "shape": list(exposure.shape),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
