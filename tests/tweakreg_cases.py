"""Stage-3 alignment cases, drawn from a seed, written the way the official pipeline writes its files.

Each case is two visits of three dithers of a BRIGHTSKY field (`official_matrix`'s writers,
pixel values from `mirical.demo.simulate`): point sources with the filter's Gaussian PSF, a
pointing error of the second visit that its headers do not know (the sources are placed with the
true pointing, the headers carry the nominal one), a sky offset and unflagged cosmic-ray hits
in each exposure. `draw` picks every number from the seed; ``few_stars`` draws fewer stars than
tweakreg's ``minobj`` (15), so no exposure can be aligned. `write_cases` writes them and the ``cases.json`` of
``tests/official.py cases`` (Image2Pipeline, TweakRegStep, SkyMatchStep, OutlierDetectionStep,
ResampleStep; no i2d per exposure).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mirical.demo import simulate as sim
from mirical.formats.association import make_association

from mirical.formats import dqflags

from official_matrix import Case, add_cosmic_rays, write_exposure, write_references, write_shared

N_VISITS, N_DITHERS = 2, 3
VA_SCALE = sim.pointing(sim.DemoSettings(), 0)["VA_SCALE"]  # the simulator's: the true WCS is the headers'
FILTERS = ("F770W", "F1000W", "F560W")  # their MIRI tweakreg values fit a shift and a rotation, minobj 15
REPO = Path(__file__).resolve().parents[1]
COSMIC_RAYS = 60  # unflagged hits per exposure, for outlier detection to find


@dataclass(frozen=True)
class AlignCase:
    """One drawn case: the field, its sources, the second visit's pointing error, the sky offsets."""

    name: str
    seed: int
    filter: str
    n_stars: int
    ra: float
    dec: float
    roll: float
    dithers: tuple  # (dx, dy) arcsec of each exposure, visit after visit
    shift_arcsec: tuple  # the second visit's true pointing minus its nominal one: (east, north)
    rotation_deg: float  # the second visit's true roll minus its nominal one
    sky_dn: tuple  # DN/s added to each exposure

    @property
    def products(self) -> list[str]:
        return [f"{self.name}_dither{i + 1}" for i in range(N_VISITS * N_DITHERS)]

    def visit(self, index: int) -> int:
        """The visit (0 or 1) of the index-th exposure."""
        return index // N_DITHERS

    def describe(self) -> str:
        east, north = self.shift_arcsec
        return (f"seed {self.seed}: BRIGHTSKY, {self.filter}, {self.n_stars} stars, {N_VISITS} visits x {N_DITHERS} "
                f"dithers, visit 2 off by ({east:+.3f}, {north:+.3f}) arcsec and {self.rotation_deg:+.3f} deg")

    def nominal(self) -> sim.DemoSettings:
        """What the headers say (both visits)."""
        return sim.DemoSettings(seed=self.seed, n_dithers=N_VISITS * N_DITHERS, filter=self.filter,
                                subarray="BRIGHTSKY", n_sources=self.n_stars, ra=self.ra, dec=self.dec,
                                roll=self.roll, date_obs="2024-03-21T04:00:00.000",
                                dither_arcsec=[list(d) for d in self.dithers])

    def true(self, index: int) -> sim.DemoSettings:
        """Where the index-th exposure really points."""
        nominal = self.nominal()
        if self.visit(index) == 0:
            return nominal
        east, north = self.shift_arcsec
        return dataclasses.replace(nominal, ra=self.ra + east / 3600.0 / np.cos(np.radians(self.dec)),
                                   dec=self.dec + north / 3600.0, roll=self.roll + self.rotation_deg)


def tweakreg_options(filter_name: str) -> dict:
    """TweakRegStep's options for ``filter_name``: mirical's defaults for it (the MIRI values of the CRDS
    pars-tweakregstep files in config.yaml, which the offline official run does not read), with its catalogs
    saved."""
    block = yaml.safe_load((REPO / "config.yaml").read_text())["tweakreg"]
    return {"save_catalogs": True, **block["filters"][filter_name]}


def draw(seed: int, few_stars: bool = False) -> AlignCase:
    """A case drawn from ``seed``: shift 0.1-0.5 arcsec in any direction, rotation 0.02-0.05 deg either way,
    30-45 stars (``few_stars``: 5-10), sky offsets within +-0.8 DN/s, dithers within +-3 arcsec."""
    rng = np.random.default_rng(seed)
    size, angle = rng.uniform(0.1, 0.5), rng.uniform(0.0, 2.0 * np.pi)
    return AlignCase(
        name=f"align{seed}", seed=seed, filter=str(rng.choice(FILTERS)),
        n_stars=int(rng.integers(5, 11) if few_stars else rng.integers(30, 46)),
        ra=float(rng.uniform(5.0, 355.0)), dec=float(rng.uniform(-70.0, 70.0)), roll=float(rng.uniform(0.0, 360.0)),
        dithers=tuple(tuple(float(v) for v in d) for d in rng.uniform(-3.0, 3.0, (N_VISITS * N_DITHERS, 2))),
        shift_arcsec=(float(size * np.cos(angle)), float(size * np.sin(angle))),
        rotation_deg=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.05)),
        sky_dn=tuple(float(v) for v in rng.uniform(-0.8, 0.8, N_VISITS * N_DITHERS)))


def write_case(case: AlignCase, folder: Path, shared: dict[str, str]) -> dict:
    """References, rate files (as MAST writes them), the image2 association and the truth of ``case``
    under ``folder``: {"asn", "refs"}."""
    matrix_case = Case(case.name, "BRIGHTSKY", case.filter, False, N_VISITS * N_DITHERS, 0, "exponential",
                       case.ra, case.dec, VA_SCALE, "2024-03-21")
    refs, flat = write_references(matrix_case, folder / "reference", shared)
    nominal = case.nominal()
    truth = sim.make_truth(nominal)
    truth.write(folder / "truth.ecsv")

    def add_sky(arrays: dict, index: int) -> dict:
        arrays["SCI"] += np.float32(case.sky_dn[index])
        usable = np.isfinite(arrays["SCI"]) & ((arrays["DQ"] & dqflags.DO_NOT_USE) == 0)
        add_cosmic_rays(arrays["SCI"], usable, np.random.default_rng([case.seed, index]), COSMIC_RAYS, trail=False)
        return arrays

    science = []
    for i in range(N_VISITS * N_DITHERS):
        visit, exposure = divmod(i, N_DITHERS)
        name = f"jw01234{case.seed % 1000:03d}{visit + 1:03d}_02101_{exposure + 1:05d}_mirimage_rate.fits"
        path = folder / "mast" / name
        write_exposure(path, matrix_case, case.true(i), i, flat, spoil=add_sky, truth=truth, exposure_number=i + 1,
                       nominal=nominal)
        science.append(str(path))
    asn = folder / f"{case.name}_lvl2_asn.json"
    make_association(science, [], case.name, asn)
    return {"asn": str(asn), "refs": refs}


def write_cases(root: Path, cases: list[AlignCase]) -> dict[str, dict]:
    """Every case under ``root/<name>`` and ``root/cases.json`` for ``tests/official.py cases``."""
    shared = write_shared(root)
    written = {case.name: write_case(case, root / case.name, shared) for case in cases}
    jobs = [{"asn": w["asn"], "refs": w["refs"], "outdir": str(root / case.name / "official"),
             "mosaic": f"{case.name}_official", "steps": {"resample": {"skip": True}},
             "tweakreg": tweakreg_options(case.filter), "outlier": {}} for case, w in zip(cases, written.values())]
    (root / "cases.json").write_text(json.dumps(jobs, indent=1))
    return written
