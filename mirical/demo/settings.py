"""What the demo simulates and where its files go: the settings and file names alone.

Planning reads these for every run of the demo (which files the simulate rule makes), so this
module imports the standard library only; the simulation itself is `mirical.demo.simulate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DemoSettings:
    """What the demo simulates (the `demo` block of the config)."""

    seed: int = 2024
    n_dithers: int = 4
    filter: str = "F1130W"
    subarray: str = "FULL"
    n_sources: int = 40
    ra: float = 53.1625
    dec: float = -27.7914
    roll: float = 251.3
    ngroups: int = 50
    nints: int = 4
    background_mjysr: float = 25.0
    backgrounds: int = 1  # dedicated background exposures (0 or 1)
    sky_structure: float = 0.0  # the detector-fixed sky pattern's amplitude, times background_mjysr
    date_obs: str = "2023-09-14T03:12:40.000"
    dither_arcsec: list = field(default_factory=lambda: [[0.0, 0.0], [3.1, 5.2], [-4.3, 3.6], [2.4, -4.7],
                                                         [-1.8, -2.9], [5.5, 1.1], [-5.2, -1.3], [0.9, 4.8]])
    stripes: float = 0.0  # DN/s, RMS of the row and of the column stripes of the science exposures (0: none)


def science_name(i: int, settings: DemoSettings) -> str:
    """File name of the i-th (1-based) science exposure, as in the seed notebook."""
    return f"det_image_seq{i}_MIRIMAGE_{settings.filter}exp1_rate.fits"


def background_name(settings: DemoSettings) -> str:
    """File name of the dedicated background exposure."""
    return f"det_image_seq1_MIRIMAGE_{settings.filter}exp1_rate.fits"


REFERENCE_NAMES = {
    "distortion": "jwst_miri_distortion_mirical.asdf",
    "filteroffset": "jwst_miri_filteroffset_mirical.asdf",
    "flat": "jwst_miri_flat_{filter}_mirical.fits",
    "photom": "jwst_miri_photom_mirical.fits",
    "area": "jwst_miri_area_mirical.fits",
    "apcorr": "jwst_miri_apcorr_mirical.fits",
    "abvegaoffset": "jwst_miri_abvegaoffset_mirical.asdf",
}


def reference_paths(folder: str | Path, settings: DemoSettings) -> dict[str, str]:
    """Paths of the demo's reference files inside ``folder``."""
    return {k: str(Path(folder) / v.format(filter=settings.filter.lower()))
            for k, v in REFERENCE_NAMES.items()}
