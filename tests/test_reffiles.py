"""Tests for mirical.references.selection: CRDS-like reference selection on tiny files."""

from __future__ import annotations

import os
import json
import re

import asdf
import pytest
from astropy.io import fits

from mirical.references import selection as reffiles
from mirical.references.selection import ReferenceFileError, ReferenceSelectionError

EXPOSURE = {
    "TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE",
    "EXP_TYPE": "MIR_IMAGE", "FILTER": "F770W", "READPATT": "FASTR1",
    "SUBARRAY": "FULL", "DATE-OBS": "2023-06-01", "TIME-OBS": "12:00:00.000",
}
FLAT_KEYS = {"INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "FILTER": "F770W",
             "BAND": "N/A", "READPATT": "ANY", "SUBARRAY": "FULL",
             "USEAFTER": "2022-01-01T00:00:00"}


def exposure(**changes):
    return {**EXPOSURE, **changes}


def write_fits(path, reftype="FLAT", **keys):
    hdu = fits.PrimaryHDU()
    hdu.header["REFTYPE"] = reftype
    for key, value in keys.items():
        hdu.header[key] = value
    fits.HDUList([hdu, fits.ImageHDU(name="SCI", data=[[1.0, 1.0]])]).writeto(path)
    return path


def write_flat(path, **changes):
    return write_fits(path, **{**FLAT_KEYS, **changes})


def write_asdf(path, meta):
    asdf.AsdfFile({"meta": meta, "filters": []}).write_to(path)
    return path


@pytest.fixture
def flats(tmp_path):
    """Two dated flats for each of F770W and F1130W, plus a photom file."""
    for filt in ("F770W", "F1130W"):
        write_flat(tmp_path / f"flat_{filt}_2022.fits", FILTER=filt)
        write_flat(tmp_path / f"flat_{filt}_2023.fits", FILTER=filt,
                   USEAFTER="2023-03-01T00:00:00")
    write_fits(tmp_path / "photom.fits", reftype="PHOTOM", INSTRUME="MIRI",
               DETECTOR="MIRIMAGE", USEAFTER="2022-01-01T00:00:00")
    return tmp_path


@pytest.mark.parametrize("filt", ["F770W", "F1130W"])
@pytest.mark.parametrize(("date", "year"), [("2022-08-01", 2022), ("2023-06-01", 2023)])
def test_folder_picks_newest_useafter_before_observation(flats, filt, date, year):
    chosen = reffiles.select("flat", flats, exposure(FILTER=filt, **{"DATE-OBS": date}), "e1")
    assert chosen == str(flats / f"flat_{filt}_{year}.fits")


def test_expstart_used_without_date_obs(flats):
    header = exposure()
    del header["DATE-OBS"], header["TIME-OBS"]
    header["EXPSTART"] = 59900.0  # 2022-11-14
    assert reffiles.select("flat", flats, header, "e1").endswith("flat_F770W_2022.fits")


def test_exposure_without_date(flats):
    header = exposure()
    del header["DATE-OBS"]
    with pytest.raises(ReferenceSelectionError, match="exposure e9: no DATE-OBS"):
        reffiles.select("flat", flats, header, "e9")


def test_useafter_boundary_is_inclusive(flats):
    header = exposure(**{"DATE-OBS": "2023-03-01", "TIME-OBS": "00:00:00"})
    assert reffiles.select("flat", flats, header, "e1").endswith("flat_F770W_2023.fits")


def test_pattern_keyword(tmp_path):
    write_flat(tmp_path / "flat.fits", FILTER="F560W", P_FILTER="F560W|F770W|")
    assert reffiles.select("flat", tmp_path, exposure(), "e1").endswith("flat.fits")
    with pytest.raises(ReferenceSelectionError, match=re.escape("FILTER F560W|F770W|")):
        reffiles.select("flat", tmp_path, exposure(FILTER="F1130W"), "e1")


def test_not_applicable_and_generic_match_anything(tmp_path):
    path = write_flat(tmp_path / "flat.fits", FILTER="N/A", SUBARRAY="GENERIC")
    meta = reffiles.read_reference_meta(path)
    assert reffiles.matches(meta, exposure(FILTER="F2100W", SUBARRAY="SUB256"), "flat")
    assert not reffiles.matches(meta, exposure(DETECTOR="MIRIFUSHORT"), "flat")


def test_specific_reference_beats_not_applicable(tmp_path):
    """CRDS weighting: a literal match outranks N/A, whatever the USEAFTER."""
    write_flat(tmp_path / "full.fits", USEAFTER="2022-01-01T00:00:00")
    write_flat(tmp_path / "generic.fits", SUBARRAY="GENERIC", USEAFTER="2023-01-01T00:00:00")
    assert reffiles.select("flat", tmp_path, exposure(), "e1").endswith("full.fits")
    chosen = reffiles.select("flat", tmp_path, exposure(SUBARRAY="BRIGHTSKY"), "e1")
    assert chosen.endswith("generic.fits")


def test_lower_weight_used_when_better_match_is_too_new(tmp_path):
    write_flat(tmp_path / "full.fits", USEAFTER="2024-01-01T00:00:00")
    write_flat(tmp_path / "generic.fits", SUBARRAY="GENERIC")
    assert reffiles.select("flat", tmp_path, exposure(), "e1").endswith("generic.fits")


def test_full_frame_flat_does_not_match_subarray(tmp_path):
    """CRDS-strict (a folder's or CRDS's choice, re-checked by the job)."""
    path = write_flat(tmp_path / "flat.fits")
    with pytest.raises(ReferenceSelectionError, match="SUBARRAY FULL but the exposure has SUB256"):
        reffiles.select("flat", path, exposure(SUBARRAY="SUB256"), "e1")
    folder = tmp_path / "folder"
    folder.mkdir()
    write_flat(folder / "flat.fits")
    with pytest.raises(ReferenceSelectionError, match="SUBARRAY FULL but the exposure has SUB256"):
        reffiles.select("flat", folder, exposure(SUBARRAY="SUB256"), "e1")


# --- a file the user named: used as the official override is ------------------

def test_named_file_that_fits_has_no_warning(flats):
    assert reffiles.named_reference_warnings("flat", flats / "flat_F770W_2022.fits", exposure(), "e1") == []


def test_named_full_frame_flat_for_a_subarray_is_a_warning(tmp_path):
    path = write_flat(tmp_path / "flat.fits")
    warned = reffiles.named_reference_warnings("flat", path, exposure(SUBARRAY="SUB256"), "e1")
    assert warned == [f"flat reference {path} is for SUBARRAY FULL but the exposure has SUB256"]


def test_named_file_subarray_readpatt_and_useafter_are_warnings(tmp_path):
    path = write_flat(tmp_path / "flat.fits", READPATT="SLOWR1", USEAFTER="2024-01-01T00:00:00")
    warned = reffiles.named_reference_warnings("flat", path, exposure(SUBARRAY="BRIGHTSKY"), "e1")
    assert warned == [
        f"flat reference {path} is for READPATT SLOWR1 but the exposure has FASTR1",
        f"flat reference {path} is for SUBARRAY FULL but the exposure has BRIGHTSKY",
        f"flat reference {path} has USEAFTER 2024-01-01T00:00:00, later than the exposure (2023-06-01T12:00:00)",
    ]


@pytest.mark.parametrize(("keys", "reftype", "message"), [
    ({"FILTER": "F1130W"}, "flat", "is for FILTER F1130W but the exposure has F770W"),
    ({"DETECTOR": "MIRIFULONG"}, "flat", "is for DETECTOR MIRIFULONG but the exposure has MIRIMAGE"),
    ({"INSTRUME": "NIRCAM"}, "flat", "is for INSTRUME NIRCAM but the exposure has MIRI"),
    ({}, "photom", "has REFTYPE FLAT"),
])
def test_named_file_that_changes_the_science_is_refused(tmp_path, keys, reftype, message):
    path = write_flat(tmp_path / "flat.fits", **keys)
    with pytest.raises(ReferenceSelectionError) as err:
        reffiles.named_reference_warnings(reftype, path, exposure(SUBARRAY="SUB256"), "jw01_mirimage")
    assert message in str(err.value) and str(path) in str(err.value) and "jw01_mirimage" in str(err.value)


def test_no_match_names_exposure_and_type(flats):
    with pytest.raises(ReferenceSelectionError) as err:
        reffiles.select("flat", flats, exposure(FILTER="F2100W"), "jw01_mirimage")
    assert "jw01_mirimage" in str(err.value) and "flat" in str(err.value)
    assert "FILTER" in str(err.value)


def test_only_too_new_references(flats):
    with pytest.raises(ReferenceSelectionError, match="USEAFTER"):
        reffiles.select("flat", flats, exposure(**{"DATE-OBS": "2021-01-01"}), "e1")


def test_tie_names_both_files(flats):
    write_flat(flats / "flat_F770W_2023_copy.fits", USEAFTER="2023-03-01 00:00:00")
    with pytest.raises(ReferenceSelectionError) as err:
        reffiles.select("flat", flats, exposure(), "e1")
    assert str(err.value).endswith("flat_F770W_2023.fits, flat_F770W_2023_copy.fits")


def test_given_file_mismatch_message(flats):
    path = flats / "flat_F770W_2022.fits"
    with pytest.raises(ReferenceSelectionError) as err:
        reffiles.select("flat", path, exposure(FILTER="F1130W"), "jw02_mirimage")
    message = str(err.value)
    assert "flat reference" in message and "jw02_mirimage" in message
    assert "FILTER F770W but the exposure has F1130W" in message


def test_given_file_wrong_reftype(flats):
    with pytest.raises(ReferenceSelectionError, match="REFTYPE PHOTOM"):
        reffiles.select("flat", flats / "photom.fits", exposure(), "e1")


def test_given_file_too_new(flats):
    with pytest.raises(ReferenceSelectionError, match="later than exposure e1"):
        reffiles.select("flat", flats / "flat_F770W_2023.fits",
                        exposure(**{"DATE-OBS": "2022-06-01"}), "e1")


def test_photom_ignores_filter(flats):
    chosen = reffiles.select("photom", flats, exposure(FILTER="F2550W"), "e1")
    assert chosen.endswith("photom.fits")


def test_asdf_meta_and_selection(tmp_path):
    meta = {"reftype": "FILTEROFFSET", "useafter": "2022-05-01T00:00:00",
            "instrument": {"name": "MIRI", "detector": "MIRIMAGE"},
            "exposure": {"type": "MIR_IMAGE", "p_exptype": "MIR_IMAGE|MIR_TACQ|"}}
    write_asdf(tmp_path / "filteroffset.asdf", meta)
    write_asdf(tmp_path / "distortion.asdf", {**meta, "reftype": "DISTORTION"})
    read = reffiles.read_reference_meta(tmp_path / "filteroffset.asdf")
    assert read["REFTYPE"] == "FILTEROFFSET" and read["P_EXP_TY"] == "MIR_IMAGE|MIR_TACQ|"
    assert read["DETECTOR"] == "MIRIMAGE" and read["USEAFTER"] == "2022-05-01T00:00:00"
    assert reffiles.select("filteroffset", tmp_path, exposure(), "e1").endswith(
        "filteroffset.asdf")
    assert reffiles.select("distortion", tmp_path, exposure(), "e1").endswith(
        "distortion.asdf")
    with pytest.raises(ReferenceSelectionError, match="EXP_TYPE"):
        reffiles.select("filteroffset", tmp_path, exposure(EXP_TYPE="MIR_LYOT"), "e1")


def test_fits_meta_keys(flats):
    meta = reffiles.read_reference_meta(flats / "flat_F770W_2022.fits")
    assert meta["REFTYPE"] == "FLAT" and meta["READPATT"] == "ANY"
    assert "P_FILTER" not in meta


@pytest.mark.parametrize("keep", [200, 3000, 7000])
def test_truncated_fits(tmp_path, keep):
    good = write_flat(tmp_path / "good.fits")
    bad = tmp_path / "bad.fits"
    bad.write_bytes(good.read_bytes()[:keep])
    with pytest.raises(ReferenceFileError, match="bad.fits"):
        reffiles.read_reference_meta(bad)
    good.unlink()
    with pytest.raises(ReferenceFileError, match="bad.fits"):
        reffiles.select("flat", tmp_path, exposure(), "e1")


def test_truncated_asdf(tmp_path):
    import numpy as np

    good = tmp_path / "good.asdf"
    asdf.AsdfFile({"meta": {"reftype": "DISTORTION"}, "data": np.arange(500.0)}).write_to(good)
    for keep in (100, len(good.read_bytes()) - 1000):
        bad = tmp_path / "bad.asdf"
        bad.write_bytes(good.read_bytes()[:keep])
        with pytest.raises(ReferenceFileError, match="bad.asdf"):
            reffiles.read_reference_meta(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ReferenceFileError, match="nothere.fits"):
        reffiles.read_reference_meta(tmp_path / "nothere.fits")


def test_selection_record(flats):
    path = str(flats / "flat_F770W_2022.fits")
    record = reffiles.selection_record({"flat": path})
    json.dumps(record)
    entry = record["flat"]
    assert entry["name"] == "flat_F770W_2022.fits" and entry["keyword"] == "R_FLAT"
    assert entry["value"] == os.path.basename(path) and entry["useafter"] == "2022-01-01T00:00:00"
    assert len(entry["sha256"]) == 64
    crds_entry = reffiles.selection_record({"flat": path}, "jwst_0001.pmap")["flat"]
    assert crds_entry["value"] == "crds://flat_F770W_2022.fits"
    assert crds_entry["crds_context"] == "jwst_0001.pmap"
    assert entry["warnings"] == []
    warned = reffiles.selection_record({"flat": path}, warnings={"flat": ["is for SUBARRAY FULL"]})
    assert warned["flat"]["warnings"] == ["is for SUBARRAY FULL"]


# --- CRDS, on a hand-made offline cache ------------------------------------

PMAP = """header = {
    'derived_from' : 'mirical test',
    'mapping' : 'PIPELINE',
    'name' : 'jwst_0001.pmap',
    'observatory' : 'JWST',
    'parkey' : ('META.INSTRUMENT.NAME',),
    'sha1sum' : '0',
}

selector = {
    'MIRI' : 'jwst_miri_0001.imap',
}
"""
IMAP = """header = {
    'derived_from' : 'mirical test',
    'instrument' : 'MIRI',
    'mapping' : 'INSTRUMENT',
    'name' : 'jwst_miri_0001.imap',
    'observatory' : 'JWST',
    'parkey' : ('REFTYPE',),
    'sha1sum' : '0',
}

selector = {
    'flat' : 'jwst_miri_flat_0001.rmap',
}
"""
RMAP = """header = {
    'classes' : ('Match', 'UseAfter'),
    'derived_from' : 'mirical test',
    'filekind' : 'FLAT',
    'instrument' : 'MIRI',
    'mapping' : 'REFERENCE',
    'name' : 'jwst_miri_flat_0001.rmap',
    'observatory' : 'JWST',
    'parkey' : (('META.INSTRUMENT.DETECTOR', 'META.INSTRUMENT.FILTER', \
'META.INSTRUMENT.BAND', 'META.EXPOSURE.READPATT', 'META.SUBARRAY.NAME'), \
('META.OBSERVATION.DATE', 'META.OBSERVATION.TIME')),
    'sha1sum' : '0',
    'substitutions' : {
        'META.SUBARRAY.NAME' : {
            'GENERIC' : 'N/A',
        },
    },
}

selector = Match({
    ('MIRIMAGE', 'F770W', 'N/A', 'ANY', 'FULL') : UseAfter({
        '2022-01-01 00:00:00' : 'jwst_miri_flat_0001.fits',
        '2023-03-01 00:00:00' : 'jwst_miri_flat_0002.fits',
    }),
    ('MIRIMAGE', 'F770W', 'N/A', 'ANY', 'GENERIC') : UseAfter({
        '2022-01-01 00:00:00' : 'jwst_miri_flat_0003.fits',
    }),
})
"""
SERVER_CONFIG = ("{'observatory': 'jwst', 'operational_context': 'jwst_0001.pmap', "
                 "'edit_context': 'jwst_0001.pmap', 'bad_files': '', 'bad_files_list': [], "
                 "'force_remote_mode': False, 'last_synced': '2024-01-01 00:00:00'}\n")


@pytest.fixture
def crds_cache(tmp_path):
    """A CRDS cache with one MIRI flat rmap and the same flats as a folder."""
    from crds.core import rmap
    root = tmp_path / "crds"
    mappings = root / "mappings" / "jwst"
    refs = root / "references" / "jwst" / "miri"
    for folder in (mappings, refs, root / "config" / "jwst"):
        folder.mkdir(parents=True)
    (root / "config" / "jwst" / "server_config").write_text(SERVER_CONFIG)
    (root / "config" / "jwst" / "ref_cache_subdir_mode").write_text("instrument")
    for name, text in (("jwst_0001.pmap", PMAP), ("jwst_miri_0001.imap", IMAP),
                       ("jwst_miri_flat_0001.rmap", RMAP)):
        (mappings / name).write_text(text)
        rmap.Mapping.from_file(str(mappings / name), ignore_checksum=True).write()
    folder = tmp_path / "folder"
    folder.mkdir()
    for number, changes in ((1, {}), (2, {"USEAFTER": "2023-03-01T00:00:00"}),
                            (3, {"SUBARRAY": "GENERIC"})):
        write_flat(refs / f"jwst_miri_flat_000{number}.fits", **changes)
        write_flat(folder / f"jwst_miri_flat_000{number}.fits", **changes)
    return root, folder


@pytest.mark.parametrize(("date", "subarray", "expected"), [
    ("2022-08-01", "FULL", "jwst_miri_flat_0001.fits"),
    ("2023-06-01", "FULL", "jwst_miri_flat_0002.fits"),
    ("2023-06-01", "SUB256", "jwst_miri_flat_0003.fits"),
])
def test_crds_cache_agrees_with_folder(crds_cache, date, subarray, expected):
    root, folder = crds_cache
    header = exposure(SUBARRAY=subarray, **{"DATE-OBS": date})
    chosen = reffiles.select_with_crds("flat", header, root, "jwst_0001.pmap", "e1")
    assert chosen == str(root / "references" / "jwst" / "miri" / expected)
    assert reffiles.select("flat", folder, header, "e1") == str(folder / expected)


def test_crds_no_match(crds_cache):
    root, _ = crds_cache
    with pytest.raises(ReferenceSelectionError, match="jw03_mirimage"):
        reffiles.select_with_crds("flat", exposure(FILTER="F1130W"), root,
                                  "jwst_0001.pmap", "jw03_mirimage")


def test_crds_not_a_cache(tmp_path):
    with pytest.raises(ReferenceSelectionError, match="not a synced CRDS cache"):
        reffiles.select_with_crds("flat", exposure(), tmp_path, "jwst_0001.pmap", "e1")


def test_selection_key_holds_what_selection_reads():
    """Exposures alike in every selector and in time share a key; any selector or time splits them."""
    key = reffiles.selection_key("flat", exposure())
    assert reffiles.selection_key("FLAT", exposure(TARGNAME="other")) == key
    assert reffiles.selection_key("flat", exposure(EXPSTART=60000.5)) != key
    assert reffiles.selection_key("flat", exposure(FILTER="F1130W")) != key
    assert reffiles.selection_key("flat", exposure(**{"DATE-OBS": "2023-01-01"})) != key
    assert reffiles.selection_key("photom", exposure()) != key
    # distortion does not look at FILTER: two filters choose alike
    assert (reffiles.selection_key("distortion", exposure(FILTER="F1130W"))
            == reffiles.selection_key("distortion", exposure()))


def test_asdf_truncated_inside_a_block_is_caught_by_the_block_walk(tmp_path):
    import numpy as np

    good = tmp_path / "good.asdf"
    asdf.AsdfFile({"meta": {"reftype": "DISTORTION", "useafter": "2022-01-01T00:00:00"},
                   "data": np.arange(500.0)}).write_to(good)
    raw = good.read_bytes()
    reffiles._check_asdf_blocks(good)  # complete: no error
    start = raw.index(b"\xd3BLK")
    bad = tmp_path / "bad.asdf"
    bad.write_bytes(raw[: start + 100])  # the YAML tree intact, the block cut
    with pytest.raises(ValueError, match="inside a binary block"):
        reffiles._check_asdf_blocks(bad)
    assert reffiles.read_reference_meta(good)["USEAFTER"] == "2022-01-01T00:00:00"
