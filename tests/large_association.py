"""A large association of header-only rate files, and the job counts of a dry run: for tests/test_rerun.py
and bench/dag_scale.py (which times the dry run)."""

from __future__ import annotations

import re
from pathlib import Path


def write_large_association(folder: Path, n: int, demo_data: Path, refs: str = "folder") -> Path:
    """N header-only science files + 1 background, their association and a config; returns the config."""
    from astropy.io import fits

    from mirical.formats.association import make_association
    from mirical.steps import REFTYPES

    folder, demo_data = Path(folder).resolve(), Path(demo_data).resolve()
    rate = sorted((demo_data / "IMA_science").glob("*_rate.fits"))[0]
    header = fits.getheader(rate, 0)
    (folder / "science").mkdir(parents=True, exist_ok=True)
    (folder / "background").mkdir(parents=True, exist_ok=True)
    science = []
    for i in range(n):
        path = folder / "science" / f"jw01234001001_{i + 1:05d}_mirimage_rate.fits"
        fits.PrimaryHDU(header=header).writeto(path, overwrite=True)
        science.append(str(path))
    background = folder / "background" / "jw01234002001_00001_mirimage_rate.fits"
    fits.PrimaryHDU(header=header).writeto(background, overwrite=True)
    asn = folder / "big_lvl2_asn.json"
    make_association(science, [str(background)], "big", asn)
    reference = demo_data / "reference"
    if refs == "folder":
        chosen = {t: str(reference) for t in REFTYPES}
    else:
        chosen = {t: str(next(reference.glob(f"jwst_miri_{t}_*"))) for t in REFTYPES}
    config = folder / "big.yaml"
    lines = ["name: big", "output_dir: out", f"association: {asn}", "reference_files:"]
    lines += [f"  {t}: {p}" for t, p in chosen.items()]
    config.write_text("\n".join(lines) + "\n")
    return config



def job_counts(output: str) -> dict[str, int]:
    """The `Job stats` table of a Snakemake dry run: {rule: count} (without `total`)."""
    counts = {}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    for line in lines[start + 3:]:
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not match:
            break
        if match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts
