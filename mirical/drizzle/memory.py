"""The memory guard of resample, the mosaic and outlier detection: refuse a grid too big for memory.

As the official ``allowed_memory`` parameter of the resample and outlier_detection steps
(``float(default=None)`` in jwst 1.x, checked by stdatamodels' ``check_memory_allocation``;
jwst 3.0.0 with stcal 1.20 no longer has it): the fraction of the available memory (free RAM
+ free swap) that the output may take; None reads the environment variable
``DMODEL_ALLOWED_MEMORY``. Where the official makes no check when neither is set, mirical
still refuses a grid that needs more than all the available memory (it could not be
allocated anyway), before allocating anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from mirical.errors import MiricalError

ENV = "DMODEL_ALLOWED_MEMORY"
#: Bytes per output pixel of what each step holds at once on its grid (its output and work arrays).
BYTES_PER_PIXEL = {"resample": 40, "mosaic": 48, "outlier_detection": 16}


def available_memory() -> int:
    """Free RAM (MemAvailable) + free swap in bytes, as the official counts (include_swap)."""
    try:
        fields = {}
        with open("/proc/meminfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields[key] = int(value.split()[0]) * 1024
        return fields.get("MemAvailable", fields.get("MemFree", 0)) + fields.get("SwapFree", 0)
    except (OSError, ValueError, IndexError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def allowed_fraction(params: Mapping) -> float | None:
    """The step's ``allowed_memory``, else ``$DMODEL_ALLOWED_MEMORY``, else None."""
    value = params.get("allowed_memory")
    if value is None and os.environ.get(ENV, "").strip():
        text = os.environ[ENV].strip()
        try:
            value = float(text)
        except ValueError:
            raise MiricalError(f"environment variable {ENV}", f"{text!r} is not a number (a fraction such as 0.5)") \
                from None
    return None if value is None else float(value)


def human(size: float) -> str:
    """A byte count as '149.0 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def check_memory(shape: Sequence[int], step: str, params: Mapping, source: str = "") -> int:
    """Refuse (MiricalError naming ``output_shape`` and the memory needed) a grid of ``shape`` (ny, nx)
    whose arrays for ``step`` need more than ``allowed_memory`` of the available memory; the bytes needed."""
    ny, nx = int(shape[0]), int(shape[1])
    needed = ny * nx * BYTES_PER_PIXEL[step]
    fraction = allowed_fraction(params)
    available = available_memory()
    allowed = available * (1.0 if fraction is None else fraction)
    if needed > allowed:
        limit = (f"allowed_memory={fraction} of the {human(available)} available" if fraction is not None
                 else f"the {human(available)} available")
        raise MiricalError(source or f"config {step}",
                           f"the output grid of {nx} x {ny} pixels (output_shape) would need {human(needed)} of "
                           f"memory, more than {limit}: set a smaller output_shape (or pixel_scale_ratio), "
                           "or raise allowed_memory")
    return needed
