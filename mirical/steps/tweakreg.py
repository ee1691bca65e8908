"""tweakreg: the exposures' WCS aligned on their sources (jwst 3.0.0's TweakRegStep, stcal 1.20's tweakreg).

The facts of the official step, written here anew; the matching and fitting are tweakwcs's
(``XYXYMatch``, ``align_wcs``, ``JWSTWCSCorrector``), as the official's:

- Each exposure's catalog (`mirical.steps.tweakreg_catalog`), sources strictly inside the
  gwcs bounding box, with its gwcs, V2_REF/V3_REF/ROLL_REF and jwst's group id
  (`mirical.formats.groups`; one without is alone, ``exposure{i:04d}``) makes one corrector.
- Without ``abs_refcat`` and with one group: nothing to align, every exposure SKIPPED with the
  official's two warnings.
- Relative alignment (two groups or more): ``separation`` must exceed ``tolerance`` x sqrt(2);
  ``align_wcs`` with ``XYXYMatch(searchrad, separation, use2dhist, tolerance, xoffset,
  yoffset)``, ``enforce_user_order``, ``expand_refcat``, ``minobj``, ``fitgeometry``, ``nclip``
  and clipping at ``sigma`` x the RMSE. Fewer than two groups with sources, or several sources
  matched to one, is the official's warning and no relative alignment. A solution that moves any
  footprint corner by ``2 (searchrad + tolerance)`` arcsec or more (with ``use2dhist`` false:
  ``2 (max(|xoffset|, |yoffset|) + tolerance)``) is rejected with the official's warning.
- Absolute alignment (``abs_refcat``, a catalog FILE with RA/DEC or ``sky_centroid`` columns;
  the web catalogs need the network and are refused): ``expand_refcat`` true, every exposure one
  group, ``align_wcs`` on the catalog with the ``abs_*`` parameters (``xoffset``/``yoffset`` 0),
  after the relative alignment; fewer than ``abs_minobj`` catalog sources: the official's
  warning and every exposure SKIPPED.
- No alignment done: every exposure SKIPPED, WCS unchanged. Otherwise every exposure
  COMPLETE; those whose fit status is SUCCESS get the corrected gwcs: the frame ``v2v3corr``
  after ``v2v3vacorr`` (tweakwcs's tangent-plane correction, one affine transformation in the
  tangent plane at V2_REF/V3_REF/ROLL_REF), named ``FIT-LVL3-{abs_refcat}`` after an absolute
  alignment, the new S_REGION and, with ``sip_approx``, the new SIP header (``sip_*``; a failed
  SIP fit is a warning and keeps the old header).

The align job writes the fit table (one row per exposure: status, fitted shift, rotation,
scale, RMSE, matches, and the total correction of its own tangent plane, a 2x2 matrix and a
shift); the per-exposure job rebuilds the corrected gwcs from it (`corrected_wcs`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirical.errors import MiricalError

log = logging.getLogger("mirical")

#: The official's web catalogs (GSSS and the S3 Gaia copies), which need the network.
WEB_CATALOGS = ("GAIAREFCAT", "GAIADR3", "GAIADR2", "GAIADR1", "GAIADR3_S3")
#: Columns of the fit table.
FIT_COLUMNS = ("product", "file", "group", "status", "fit_status", "fitgeom", "xshift", "yshift", "rotation",
               "scale", "rmse", "mae", "nmatches", "nsources", "applied", "wcs_name", "a11", "a12", "a21", "a22",
               "tx", "ty")
#: Columns of the matches table (the figure): matched sources and their residuals after the fit.
MATCH_COLUMNS = ("product", "x", "y", "dra", "ddec")
_RAD2ARCSEC = 3600.0 * math.degrees(1.0)


class AlignmentSkipped(Exception):
    """The alignment could not be done: the official's warning is the message."""


@dataclass
class AlignInput:
    """One exposure as the alignment sees it: gwcs, reference angles, group and catalog."""

    product: str
    path: str
    wcs: object
    wcsinfo: dict
    group: str | None
    catalog: object  # astropy Table with x, y


# ----------------------------------------------------------------- reading
def read_wcs(path: str):
    """(gwcs, SCI header, jwst's group id) of a cal file, without its arrays."""
    from astropy.io import fits

    from mirical.formats.asdf_extension import read_tree
    from mirical.formats.groups import exposure_group

    try:
        with fits.open(path, memmap=False) as hdul:
            asdf_hdu = hdul["ASDF"] if "ASDF" in hdul else None
            tree = read_tree(asdf_hdu) if asdf_hdu is not None else {}
            group = exposure_group(hdul[0].header, asdf_hdu)
            sci = hdul["SCI"].header.copy()
    except (OSError, KeyError) as exc:
        raise MiricalError(path, f"not a readable cal file ({exc})") from None
    wcs = (tree.get("meta") or {}).get("wcs")
    if wcs is None:
        raise MiricalError(path, "no gwcs in the ASDF extension (assign_wcs not run)")
    return wcs, sci, group


def reference_angles(sci_header, path: str) -> dict:
    """V2_REF, V3_REF (arcsec) and ROLL_REF (deg) of an exposure, as tweakwcs's ``wcsinfo``."""
    try:
        return {"v2_ref": float(sci_header["V2_REF"]), "v3_ref": float(sci_header["V3_REF"]),
                "roll_ref": float(sci_header["ROLL_REF"])}
    except KeyError as exc:
        raise MiricalError(path, f"keyword {exc.args[0]} missing from the SCI header (needed by tweakreg)") from None


def read_input(product: str, cal_path: str, catalog_path: str) -> AlignInput:
    """An exposure's gwcs, angles, group id and catalog (sources inside the bounding box)."""
    from astropy.table import Table

    wcs, sci, group = read_wcs(cal_path)
    catalog = Table.read(catalog_path)
    bbox = wcs.bounding_box.bounding_box(order="F") if wcs.bounding_box is not None else None
    if bbox is not None and len(catalog):
        (xmin, xmax), (ymin, ymax) = bbox
        x, y = np.asarray(catalog["x"]), np.asarray(catalog["y"])
        catalog = catalog[(x > xmin) & (x < xmax) & (y > ymin) & (y < ymax)]
    catalog.meta["name"] = Path(cal_path).stem.strip("_- ")
    return AlignInput(product, cal_path, wcs, reference_angles(sci, cal_path), group, catalog)


# ----------------------------------------------------------------- the absolute reference catalog
def check_abs_refcat(value: str | None) -> str | None:
    """The ``abs_refcat`` file path (None for none); a web catalog name or a missing file is refused."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    if value.upper() in WEB_CATALOGS:
        raise MiricalError("config tweakreg.abs_refcat", f"{value} is a web catalog and mirical runs without "
                           "network access: give a catalog file with RA and DEC columns")
    if not Path(value).is_file():
        raise MiricalError("config tweakreg.abs_refcat", f"{value}: file does not exist")
    return value


def read_abs_refcat(path: str):
    """The absolute reference catalog with RA and DEC columns (any case, or ``sky_centroid``)."""
    from astropy.table import Table

    from mirical.formats.io import read_catalog

    table = read_catalog(path)
    upper = [name.upper() for name in table.colnames]
    if upper.count("RA") > 1 or upper.count("DEC") > 1:
        raise MiricalError(path, "several RA and/or DEC columns (column names are case-insensitive)")
    if upper.count("RA") == 1 and upper.count("DEC") == 1:
        ra = table.colnames[upper.index("RA")]
        dec = table.colnames[upper.index("DEC")]
        if "SKY_CENTROID" in upper:
            log.warning("Absolute reference catalog contains both RA/DEC and sky_centroid columns. "
                        "Ignoring sky_centroid.")
        out = Table({"RA": np.asarray(table[ra], float), "DEC": np.asarray(table[dec], float)})
    elif upper.count("SKY_CENTROID") == 1:
        sky = table[table.colnames[upper.index("SKY_CENTROID")]]
        out = Table({"RA": np.asarray(sky.ra.deg, float), "DEC": np.asarray(sky.dec.deg, float)})
    else:
        raise MiricalError(path, "neither RA/DEC nor sky_centroid columns: not an absolute reference catalog")
    out.meta["name"] = Path(path).name
    return out


# ----------------------------------------------------------------- the alignment
def _correctors(inputs: Sequence[AlignInput]):
    from tweakwcs.correctors import JWSTWCSCorrector

    from mirical.formats.groups import group_names

    groups = group_names([item.group for item in inputs])
    return [JWSTWCSCorrector(wcs=item.wcs, wcsinfo=item.wcsinfo,
                             meta={"catalog": item.catalog, "name": item.catalog.meta["name"], "group_id": group})
            for item, group in zip(inputs, groups, strict=True)], groups


def _align(correctors, refcat, params: Mapping, prefix: str, **extra) -> None:
    """tweakwcs's ``align_wcs`` with the step's parameters (``prefix`` '' or 'abs_'); its two failures that
    the official turns into warnings raise AlignmentSkipped."""
    from tweakwcs.imalign import align_wcs
    from tweakwcs.matchutils import XYXYMatch

    if params[f"{prefix}separation"] <= math.sqrt(2.0) * params[f"{prefix}tolerance"]:
        raise AlignmentSkipped(f"Parameter '{prefix}separation' must be larger than '{prefix}tolerance' by at least "
                               "a factor of sqrt(2) to avoid source confusion.")
    offsets = (params["xoffset"], params["yoffset"]) if not prefix else (0.0, 0.0)
    match = XYXYMatch(searchrad=params[f"{prefix}searchrad"], separation=params[f"{prefix}separation"],
                      use2dhist=params[f"{prefix}use2dhist"], tolerance=params[f"{prefix}tolerance"],
                      xoffset=offsets[0], yoffset=offsets[1])
    try:
        align_wcs(correctors, refcat=refcat, minobj=params[f"{prefix}minobj"], match=match,
                  fitgeom=params[f"{prefix}fitgeometry"], nclip=params[f"{prefix}nclip"],
                  sigma=(params[f"{prefix}sigma"], "rmse"), clip_accum=False, **extra)
    except ValueError as exc:
        if exc.args and exc.args[0] == "Too few input images (or groups of images) with non-empty catalogs.":
            tail = ("At least two exposures are required for image alignment. Nothing to do." if not prefix else
                    "At least one exposure is required to align images to an absolute reference catalog. "
                    "Alignment to an absolute reference catalog will not be performed.")
            raise AlignmentSkipped(exc.args[0] + tail) from None
        raise
    except RuntimeError as exc:
        if exc.args and str(exc.args[0]).startswith("Number of output coordinates exceeded allocation"):
            raise AlignmentSkipped(str(exc.args[0]) + "Multiple sources within specified tolerance matched to a "
                                   "single reference source. Try to adjust 'tolerance' and/or 'separation' "
                                   "parameters.") from None
        raise


def _largest_move(corrector) -> float:
    """The largest shift (arcsec) of the footprint corners between the corrected and the original gwcs."""
    from astropy.coordinates import SkyCoord

    new = corrector.wcs.footprint(axis_type="spatial")
    old = corrector.original_wcs.footprint(axis_type="spatial")
    separation = SkyCoord(old[:, 0], old[:, 1], unit="deg").separation(SkyCoord(new[:, 0], new[:, 1], unit="deg"))
    return float(np.max(separation.arcsec))


def check_small(correctors, params: Mapping) -> None:
    """The official's check of the relative solution: no footprint corner moved by the limit or more."""
    if params["use2dhist"]:
        limit = 2.0 * (params["searchrad"] + params["tolerance"])
    else:
        limit = 2.0 * (max(abs(params["xoffset"]), abs(params["yoffset"])) + params["tolerance"])
    for corrector in correctors:
        if not _largest_move(corrector) < limit:
            raise AlignmentSkipped(f"WCS has been tweaked by more than {10 * params['tolerance']} arcsec "
                                   "Skipping relative alignment...")


def align(inputs: Sequence[AlignInput], params: Mapping, refcat=None) -> tuple[list, bool, str | None]:
    """Align the exposures as the official: (correctors, done, why not) with ``done`` False when every
    exposure is SKIPPED (``why``: the official's warning)."""
    correctors, groups = _correctors(inputs)
    if refcat is None and len(set(groups)) == 1:
        return correctors, False, ("At least two exposures are required for image alignment. "
                                   "Nothing to do. Skipping 'TweakRegStep'...")
    why = None
    relative_done = False
    if len(set(groups)) > 1:
        try:
            _align(correctors, None, params, "", enforce_user_order=params["enforce_user_order"],
                   expand_refcat=True if refcat is not None else params["expand_refcat"])
            check_small(correctors, params)
            relative_done = True
        except AlignmentSkipped as exc:
            why = str(exc)
            if refcat is not None:  # the absolute alignment goes on; otherwise the caller reports it
                log.warning("%s", why)
    if refcat is None:
        return correctors, relative_done, why
    if len(refcat) < params["abs_minobj"]:
        why = (f"Not enough sources ({len(refcat)}) in the reference catalog for the single-group alignment step "
               "to perform a fit. Skipping alignment to the input reference catalog!")
        return correctors, False, why
    for corrector in correctors:
        corrector.meta["group_id"] = 987654  # one group, as the official
        if "REFERENCE" in corrector.meta.get("fit_info", {}).get("status", ""):
            del corrector.meta["fit_info"]
    try:
        _align(correctors, refcat, params, "abs_", enforce_user_order=True, expand_refcat=False)
    except AlignmentSkipped as exc:
        return correctors, False, str(exc)
    return correctors, True, why


def total_correction(corrector) -> tuple[np.ndarray, np.ndarray]:
    """The corrector's whole tangent-plane correction: (2x2 matrix, shift in arcsec); identity when none."""
    wcs = corrector.wcs
    frames = wcs.available_frames
    if "v2v3corr" not in frames:
        return np.eye(2), np.zeros(2)
    affine = wcs.pipeline[frames.index("v2v3corr") - 1].transform["tp_affine"]
    return np.array(affine.matrix.value, float), np.array(affine.translation.value, float) * _RAD2ARCSEC


def fit_rows(inputs: Sequence[AlignInput], correctors, done: bool, abs_refcat: str | None) -> list[dict]:
    """One fit table row per exposure (`FIT_COLUMNS`); its group is jwst's group id (`exposure{i:04d}` alone)."""
    from mirical.formats.groups import group_names

    rows = []
    groups = group_names([item.group for item in inputs])
    for item, corrector, group in zip(inputs, correctors, groups, strict=True):
        info = corrector.meta.get("fit_info", {}) if done else {}
        fit_status = str(info.get("status", "SKIPPED" if not done else "FAILED: not aligned"))
        applied = done and "SUCCESS" in fit_status
        matrix, shift = total_correction(corrector) if applied else (np.eye(2), np.zeros(2))
        fitted = "shift" in info
        rows.append({
            "product": item.product, "file": Path(item.path).name, "group": group,
            "status": "COMPLETE" if done else "SKIPPED", "fit_status": fit_status,
            "fitgeom": str(info.get("fitgeom", "")),
            "xshift": float(info["shift"][0]) if fitted else 0.0, "yshift": float(info["shift"][1]) if fitted else 0.0,
            "rotation": float(info["proper_rot"]) if fitted else 0.0,
            "scale": float(info["<scale>"]) if fitted else 1.0,
            "rmse": float(info["rmse"]) if fitted else float("nan"), "mae": float(info["mae"]) if fitted else float("nan"),
            "nmatches": int(info.get("nmatches", 0)), "nsources": len(item.catalog), "applied": bool(applied),
            "wcs_name": f"FIT-LVL3-{abs_refcat}" if applied and abs_refcat else "",
            "a11": matrix[0, 0], "a12": matrix[0, 1], "a21": matrix[1, 0], "a22": matrix[1, 1],
            "tx": shift[0], "ty": shift[1],
        })
    return rows


def match_rows(inputs: Sequence[AlignInput], correctors, done: bool) -> list[dict]:
    """The matched sources of every fitted exposure and their residuals (arcsec, RA cos Dec and Dec) from the
    nearest source of the other exposures, all on their corrected WCS: what the figure shows."""
    from astropy.coordinates import SkyCoord

    if not done:
        return []
    sky = []
    for item, corrector in zip(inputs, correctors, strict=True):
        x, y = np.asarray(item.catalog["x"], float), np.asarray(item.catalog["y"], float)
        ra, dec = corrector.wcs(x, y, with_bounding_box=False) if x.size else (x, y)
        sky.append(SkyCoord(np.atleast_1d(ra), np.atleast_1d(dec), unit="deg"))
    rows = []
    for k, (item, corrector) in enumerate(zip(inputs, correctors, strict=True)):
        matched = np.asarray(corrector.meta.get("fit_info", {}).get("matched_input_idx", []), int)
        others = [coords for j, coords in enumerate(sky) if j != k and len(coords)]
        if not matched.size or not others:
            continue
        other = SkyCoord(np.concatenate([c.ra.deg for c in others]), np.concatenate([c.dec.deg for c in others]),
                         unit="deg")
        mine = sky[k][matched]
        nearest, _, _ = mine.match_to_catalog_sky(other)
        dra, ddec = other[nearest].spherical_offsets_to(mine)
        for i, dx, dy in zip(matched, dra.arcsec, ddec.arcsec, strict=True):
            rows.append({"product": item.product, "x": float(item.catalog["x"][i]), "y": float(item.catalog["y"][i]),
                         "dra": float(dx), "ddec": float(dy)})
    return rows


def write_table(rows: list[dict], columns: Sequence[str], path: str, meta: Mapping | None = None) -> None:
    """An ECSV table of ``rows`` (``columns`` in order), written atomically."""
    from astropy.table import Table

    from mirical.formats.atomic import atomic_path

    table = Table(rows=[[row[c] for c in columns] for row in rows], names=columns) if rows else Table(names=columns)
    table.meta.update(meta or {})
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_fit(path: str, product: str) -> dict:
    """The fit table's row of ``product``, with the table's ``meta`` under ``"meta"``."""
    from astropy.table import Table

    table = Table.read(path)
    for row in table:
        if row["product"] == product:
            return {**{c: row[c].item() if hasattr(row[c], "item") else row[c] for c in table.colnames},
                    "meta": dict(table.meta)}
    raise MiricalError(path, f"no row for {product} in the tweakreg fit table")


# ----------------------------------------------------------------- applying the fit to one exposure
def corrected_wcs(wcs, wcsinfo: Mapping, row: Mapping):
    """The gwcs with the fit table row's tangent-plane correction (the ``v2v3corr`` frame), named as the row says."""
    from tweakwcs.correctors import JWSTWCSCorrector

    corrector = JWSTWCSCorrector(wcs=wcs, wcsinfo=dict(wcsinfo))
    matrix = [[row["a11"], row["a12"]], [row["a21"], row["a22"]]]
    corrector.set_correction(matrix=matrix, shift=[row["tx"], row["ty"]])
    new = corrector.wcs
    if row.get("wcs_name"):
        new.name = row["wcs_name"]
    return new


def apply_fit(exposure, row: Mapping, params: Mapping) -> None:
    """Apply the fit table row to an `mirical.formats.io.Exposure` as the official: the corrected gwcs, S_REGION and
    SIP header where the fit succeeded; S_TWKREG as the row's status."""
    import warnings

    from mirical.drizzle.grid import s_region
    from mirical.formats.asdf_extension import read_tree, with_wcs
    from mirical.formats.sip import existing_crpix, replace_wcs_keywords, sip_header
    from mirical.steps import set_step_status

    if row["status"] != "COMPLETE":
        set_step_status(exposure, "tweakreg", "SKIPPED")
        return
    if row["applied"]:
        wcs = (read_tree(exposure.asdf).get("meta") or {})["wcs"]
        new = corrected_wcs(wcs, reference_angles(exposure.sci_header, exposure.path), row)
        exposure.sci_header["S_REGION"] = s_region(new)
        if params["sip_approx"]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sip = sip_header(new, exposure.shape, existing_crpix(exposure.sci_header),
                                     max_pix_error=params["sip_max_pix_error"], degree=params["sip_degree"],
                                     max_inv_pix_error=params["sip_max_inv_pix_error"],
                                     inv_degree=params["sip_inv_degree"], npoints=params["sip_npoints"])
                replace_wcs_keywords(exposure.sci_header, sip)
            except (ValueError, RuntimeError) as exc:
                log.warning("Failed to update 'meta.wcsinfo' with FITS SIP approximation. Reported error is: %s",
                            exc.args[0] if exc.args else exc)
        exposure.asdf = with_wcs(exposure.asdf, new)
    set_step_status(exposure, "tweakreg", "COMPLETE")
