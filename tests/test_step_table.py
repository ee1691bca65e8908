"""The step table (mirical/steps/__init__.py) against the rules, scripts and config it describes."""
import ast

import pytest
import yaml

from conftest import REPO
from mirical.formats.io import Exposure
from mirical.steps import CAL_STEPS, IMAGE_REFTYPES, REFTYPES, STEPS, mark_skipped, skipped, step_config


def test_derived_lists():
    assert CAL_STEPS == ("S_BKDSUB", "S_WCS", "S_FLAT", "S_PHOTOM")
    assert REFTYPES == ("distortion", "filteroffset", "flat", "photom", "area")
    assert IMAGE_REFTYPES == ("apcorr", "abvegaoffset")


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_step_has_its_rule_script_module_and_config(step):
    assert (REPO / "rules" / f"{step.name}.smk").is_file()
    script = ast.parse((REPO / "scripts" / f"{step.name}.py").read_text())
    imported = {n.module for n in ast.walk(script) if isinstance(n, ast.ImportFrom)}
    assert f"mirical.steps.{step.module}" in imported
    defaults = yaml.safe_load((REPO / "config.yaml").read_text())
    # the official steps run by default; the options beyond the official pipeline do not
    assert step_config(defaults, step.name)["skip"] is (step.name in ("destripe",))


def _exposure():
    from astropy.io import fits

    return Exposure(primary=fits.Header(), sci_header=fits.Header(), arrays={}, asdf=None, path="x.fits")


def test_skipped_marks_and_reports():
    exposure = _exposure()
    assert skipped(exposure, "flat_field", {"skip": False}, "p") is False
    assert "S_FLAT" not in exposure.primary
    assert skipped(exposure, "flat_field", {"skip": True}, "p") is True
    assert exposure.primary["S_FLAT"] == "SKIPPED"
    other = _exposure()
    assert skipped(other, "background", {"skip": False}, "p", "no background members") is True
    assert other.primary["S_BKDSUB"] == "SKIPPED"
    mark_skipped(other, "mosaic", "m", "skip requested")
    assert other.primary["S_RESAMP"] == "SKIPPED"


def test_what_other_parts_read_from_the_table():
    from mirical.demo.settings import REFERENCE_NAMES
    from mirical.products.plots import STEP_TITLES
    from mirical.references.selection import EXPOSURE_SELECTORS, REF_KEYWORDS

    # the demo writes, and selection knows, every reference type a step reads
    assert tuple(REFERENCE_NAMES) == REFTYPES + IMAGE_REFTYPES
    assert set(EXPOSURE_SELECTORS) == set(REFTYPES + IMAGE_REFTYPES)
    # the cal file names the calibration's reference files (R_*); the catalog's are in its own metadata
    assert set(REF_KEYWORDS) == set(REFTYPES)
    # the step strip: the rate file, then the steps with a panel, in step order
    assert STEP_TITLES == {"rate": "rate (Level 2A)", "bkgsub": "background subtracted", "flat": "flat-fielded",
                           "cal": "cal (Level 2B)"}
    suffixes = [step.suffix for step in STEPS if step.cal]
    assert suffixes == ["bkgsub", "wcs", "flat", "cal"]


def test_the_table_imports_nothing_of_mirical():
    """Every layer reads the table; importing it must not bring a module whose change would re-run them all."""
    tree = ast.parse((REPO / "mirical" / "steps" / "__init__.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {name for name in imported if name.startswith("mirical")}
