"""One version: mirical.__version__, read by pyproject, printed by the CLI, recorded in every product."""
import subprocess
import sys
import tomllib

from astropy.io import fits

import mirical
from conftest import REPO
from mirical.formats.association import make_association
from mirical.formats.io import Exposure, add_history
from mirical.products.summary import write_html
from mirical.references.selection import provenance_record


def test_written_in_one_place():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "mirical.__version__"}
    assert [line for line in (REPO / "mirical" / "__init__.py").read_text().splitlines()
            if line.startswith("__version__")] == [f'__version__ = "{mirical.__version__}"']


def test_cli_prints_it():
    result = subprocess.run([sys.executable, "-m", "mirical", "--version"], cwd=REPO, capture_output=True, text=True)
    assert result.stdout == f"mirical {mirical.__version__}\n"


def test_every_product_records_it(tmp_path):
    version = mirical.__version__
    exposure = Exposure(primary=fits.Header(), sci_header=fits.Header(), arrays={}, asdf=None, path="x.fits")
    add_history(exposure, "flat_field", {"skip": False})
    assert exposure.primary["MIRICALV"] == version
    assert exposure.primary["HISTORY"][0] == f"mirical {version} flat_field skip=False"
    assert provenance_record("p", "/a/p_rate.fits", {}, {})["software"] == f"mirical {version}"
    write_html([], tmp_path / "s.html", "run")
    assert f"<p>mirical {version}</p>" in (tmp_path / "s.html").read_text()
    assert make_association([str(tmp_path / "jw01_rate.fits")], [], "a")["code_version"] == f"mirical {version}"
