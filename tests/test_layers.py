"""The package's layers (docs/development.md): every import in mirical/ goes down, never back up to a step."""
import ast
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGE = REPO / "mirical"
# Each layer and what its modules may import besides themselves, ``mirical.errors`` and ``mirical``'s
# own ``__init__`` (the version); the top modules (api, cli, __main__) may import anything.
BELOW = {
    "formats": set(),
    "references": {"formats"},
    "drizzle": {"formats", "references"},
    "steps": {"formats", "references", "drizzle"},
    "demo": {"formats", "references", "drizzle", "steps"},
    "products": {"formats", "references", "drizzle", "steps"},
    "workflow": {"formats", "references", "drizzle", "steps", "demo", "products"},
}
FREE = {"mirical", "mirical.errors"}


def mirical_imports(path) -> set[str]:
    """Dotted names of the mirical modules ``path`` imports (inside functions too; ``from a import b`` gives
    ``a.b`` when ``a/b.py`` is a module, else ``a``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.split(".")[0] == "mirical"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "mirical":
            for alias in node.names:
                module = f"{node.module}.{alias.name}"
                names.add(module if PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py").is_file()
                          else node.module)
    return names


def layer(module: str) -> str:
    """The layer of a dotted mirical module name: its sub-package, else the module itself (top)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mirical"


def violations(path) -> list[str]:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    own = ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)
    if len(own.split(".")) < 3 and own.split(".")[-1] not in BELOW:
        return []  # a top module: api, cli, errors, __main__, __init__
    here = layer(own)
    bad = []
    for name in sorted(mirical_imports(path) - FREE):
        there = layer(name)
        if there == here:
            # within the steps: the table (mirical.steps) only, never another step's module
            if here == "steps" and name != "mirical.steps" and own != "mirical.steps":
                bad.append(f"{own} imports another step's module {name}")
        elif there not in BELOW.get(here, set()):
            bad.append(f"{own} ({here}) imports {name} ({there})")
    return bad


def test_every_import_goes_down():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 30
    assert {path.parent.name for path in modules} >= set(BELOW)
    assert [line for path in modules for line in violations(path)] == []


@pytest.mark.parametrize("source, expected", [
    ("from mirical.steps.assign_wcs import s_region\n",
     ["mirical.drizzle.x (drizzle) imports mirical.steps.assign_wcs (steps)"]),
    ("def f():\n    from mirical.steps import set_step_status\n",
     ["mirical.drizzle.x (drizzle) imports mirical.steps (steps)"]),
    ("import mirical.workflow.runner\n", ["mirical.drizzle.x (drizzle) imports mirical.workflow.runner (workflow)"]),
    ("from mirical.formats import io\nfrom mirical.errors import MiricalError\nfrom mirical import __version__\n", []),
])
def test_the_scan_sees_an_upward_import(tmp_path, monkeypatch, source, expected):
    """A module in drizzle/ that climbs up is caught, also inside a function; imports down are not."""
    package = tmp_path / "mirical"
    (package / "drizzle").mkdir(parents=True)
    (package / "formats").mkdir()
    (package / "formats" / "io.py").write_text("")
    path = package / "drizzle" / "x.py"
    path.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert violations(path) == expected


def test_a_step_importing_another_step_is_caught(tmp_path, monkeypatch):
    package = tmp_path / "mirical"
    (package / "steps").mkdir(parents=True)
    (package / "steps" / "resample.py").write_text("")
    path = package / "steps" / "mosaic.py"
    path.write_text("from mirical.steps.resample import grid\nfrom mirical.steps import set_step_status\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert violations(path) == ["mirical.steps.mosaic imports another step's module mirical.steps.resample"]


def test_planning_imports_no_astropy(tmp_path):
    """Planning (every snakemake call, every cluster job's too) runs no numerical module of ours: astropy's
    import alone costs ~1 s of every run (numpy comes with Snakemake's own YAML templating)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(tmp_path), "--cores", "1", "-n", "--config", "output_dir=out"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "snakemake.workflow" in imported and "mirical.workflow.planning" in imported
    assert [name for name in imported if name.split(".")[0] in ("astropy", "gwcs", "asdf", "scipy", "matplotlib")] == []
