"""The code hash of a step: its script, the package modules it imports transitively, library versions."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO
from mirical.workflow.code_hash import code_hash, dependencies, installed_version, library_versions

VERSIONS = {"numpy": "2.0.0", "asdf": "3.0.0", "asdf-astropy": "0.6.0", "pyyaml": "6.0"}


def fake_version(table):
    return lambda name: table.get(name, "not installed")


@pytest.fixture
def repo(tmp_path) -> Path:
    """A tiny checkout: scripts/step.py -> mirical.a (-> mirical.b lazily) ; mirical.c unused."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "mirical").mkdir()
    (root / "scripts" / "step.py").write_text("import json\nfrom mirical.a import run\nrun()\n")
    (root / "mirical" / "__init__.py").write_text('__version__ = "1"\n')
    (root / "mirical" / "a.py").write_text(
        "import os\nfrom mirical import __version__\n\n\ndef run():\n    from mirical import b\n    return b.f()\n")
    (root / "mirical" / "b.py").write_text("import numpy as np\nimport yaml\n\n\ndef f():\n    return np.pi\n")
    (root / "mirical" / "c.py").write_text("import asdf\n")
    return root


def step_hash(root: Path, versions=VERSIONS) -> str:
    return code_hash(root / "scripts" / "step.py", root / "mirical", fake_version(versions))


def test_dependencies_follow_imports_transitively_and_skip_the_standard_library(repo):
    files, libraries = dependencies(repo / "scripts" / "step.py", repo / "mirical")
    names = [p.relative_to(repo).as_posix() for p in files]
    assert sorted(names) == ["mirical/__init__.py", "mirical/a.py", "mirical/b.py", "scripts/step.py"]
    assert libraries == ["numpy", "yaml"]


def test_library_versions_map_import_names_and_add_plugins():
    versions = library_versions(["numpy", "yaml", "asdf", "drizzle"], fake_version(VERSIONS))
    assert versions == {"asdf": "3.0.0", "asdf-astropy": "0.6.0", "drizzle": "not installed",
                        "numpy": "2.0.0", "pyyaml": "6.0"}


def test_installed_version_reads_metadata():
    import numpy

    assert installed_version("numpy") == numpy.__version__
    assert installed_version("no-such-distribution-mirical") == "not installed"


def test_hash_changes_with_an_imported_module_even_a_comment(repo):
    before = step_hash(repo)
    assert len(before) == 16 and int(before, 16) >= 0
    with open(repo / "mirical" / "b.py", "a") as f:
        f.write("# a comment\n")
    assert step_hash(repo) != before


def test_hash_ignores_a_module_the_step_does_not_import(repo):
    before = step_hash(repo)
    (repo / "mirical" / "c.py").write_text("import asdf\nX = 1\n")
    (repo / "mirical" / "d.py").write_text("Y = 2\n")
    assert step_hash(repo) == before


def test_hash_changes_with_the_package_init(repo):
    before = step_hash(repo)
    (repo / "mirical" / "__init__.py").write_text('__version__ = "2"\n')
    assert step_hash(repo) != before


def test_hash_changes_with_a_used_library_version_only(repo):
    before = step_hash(repo)
    assert step_hash(repo, {**VERSIONS, "numpy": "2.0.1"}) != before
    assert step_hash(repo, {**VERSIONS, "asdf": "9.9.9", "asdf-astropy": "9.9"}) == before  # only c.py uses asdf


def test_hash_does_not_depend_on_where_the_checkout_lives(repo, tmp_path):
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(repo, moved)
    assert step_hash(moved) == step_hash(repo)


@pytest.mark.parametrize("script, has, lacks", [
    ("plot_mosaic", {"mirical/products/plots.py"}, {"mirical/formats/io.py", "mirical/drizzle/engine.py"}),
    ("resample", {"mirical/drizzle/engine.py", "mirical/drizzle/grid.py", "mirical/formats/io.py", "mirical/formats/dqflags.py"},
     {"mirical/products/plots.py", "mirical/demo/simulate.py"}),
    ("background", {"mirical/steps/background.py", "mirical/formats/io.py", "mirical/formats/subarray.py"},
     {"mirical/steps/flat_field.py", "mirical/products/plots.py"}),
])
def test_workflow_scripts_see_their_modules(script, has, lacks):
    files, _ = dependencies(REPO / "scripts" / f"{script}.py", REPO / "mirical")
    names = {p.relative_to(REPO).as_posix() for p in files}
    assert has <= names and not lacks & names, names


def test_resample_hash_covers_drizzle_and_figures_cover_matplotlib():
    _, resample = dependencies(REPO / "scripts" / "resample.py", REPO / "mirical")
    _, plot = dependencies(REPO / "scripts" / "plot_exposure.py", REPO / "mirical")
    assert {"drizzle", "gwcs", "numpy", "astropy", "scipy"} <= set(resample) and "matplotlib" not in resample
    assert "matplotlib" in plot and "drizzle" not in plot
