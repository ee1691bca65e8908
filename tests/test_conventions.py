"""Snakemake's conventions: lint-clean, snakefmt-formatted, a conda env per rule that lists what it imports."""
import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO

# Import name -> distribution name, where they differ (pip and conda-forge alike for these).
DISTRIBUTION = {"yaml": "pyyaml", "stsci": "stsci.imagestats"}
# pyproject (PyPI) name -> conda-forge name, where they differ.
CONDA_NAME = {"matplotlib": "matplotlib-base"}  # matplotlib without the GUI toolkits
# In pyproject but not in the jobs' env: Snakemake runs the jobs (its script preamble puts
# its own import path on each job's sys.path; it is not imported by any script).
NOT_IN_JOB_ENV = {"snakemake"}


def test_snakemake_lint_is_clean(tmp_path):
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(tmp_path), "--lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_check_passes():
    snakefmt = Path(sys.executable).parent / "snakefmt"
    result = subprocess.run([str(snakefmt), "--check", "Snakefile", "rules/"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr + "\n(run: snakefmt Snakefile rules/)"


def _rules() -> dict[str, dict]:
    """{rule: {"file", "conda", "script", "code"}} from rules/*.smk (code: has script/shell/run/wrapper)."""
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^\s*rule (\w+):", text, flags=re.M)]
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(text), None)]):
            block = text[start:end]
            conda = re.search(r"^\s*conda:\s*\n\s*\"([^\"]+)\"", block, flags=re.M)
            script = re.search(r"^\s*script:\s*\n\s*\"([^\"]+)\"", block, flags=re.M)
            rules[name] = {
                "file": path,
                "conda": (path.parent / conda.group(1)).resolve() if conda else None,
                "script": (path.parent / script.group(1)).resolve() if script else None,
                "code": bool(re.search(r"^\s*(script|shell|run|wrapper|notebook):", block, flags=re.M)),
            }
    return rules


def _optional(tree: ast.AST) -> set[int]:
    """ids of import nodes inside ``try: ... except ImportError`` (an optional package, e.g. crds)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            found |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return found


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (also inside functions), optional ones left out."""
    names = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    optional = _optional(tree)
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module.split(".")[0] == "mirical":  # from mirical.formats import io
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def third_party_imports(script: Path) -> set[str]:
    """Distribution names the script needs, through the mirical modules it imports too."""
    needed, seen, todo = set(), set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "mirical":
                parts = name.split(".")
                packages = [REPO.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts) + 1)]
                todo += [p for p in (REPO.joinpath(*parts).with_suffix(".py"), *packages) if p.is_file()]
            elif top not in sys.stdlib_module_names:
                needed.add(canonicalize_name(DISTRIBUTION.get(top, top)))
    return needed


def _env_packages(path: Path) -> dict[str, str]:
    """{conda package: pinned version} of an environment file (python left out)."""
    env = yaml.safe_load(path.read_text())
    packages = {}
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"{path.name}: only conda packages, no pip section ({dep})"
        name, sep, version = dep.partition("=")
        assert sep and re.fullmatch(r"\d+(\.\d+)*", version), f"{path.name}: {dep} is not pinned as name=version"
        packages[name] = version
    assert env["channels"][0] == "conda-forge", path.name
    return packages


def _pyproject_dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(d) for d in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def test_every_rule_that_runs_code_has_an_environment():
    rules = _rules()
    assert {"simulate", "background", "assign_wcs", "flat_field", "photom", "resample", "mosaic",
            "summary", "association"} <= set(rules)
    for name, rule in rules.items():
        if rule["code"]:
            assert rule["conda"] is not None, f"rule {name} ({rule['file'].name}) has no conda: environment"
            assert rule["conda"].is_file() and rule["conda"].parent == REPO / "envs", name


def test_each_rule_environment_lists_what_its_script_imports():
    checked = 0
    for name, rule in _rules().items():
        if rule["script"] is None:
            continue
        env = {canonicalize_name(p) for p in _conda_to_pypi(_env_packages(rule["conda"]))}
        missing = third_party_imports(rule["script"]) - env
        assert not missing, f"rule {name}: {rule['conda'].name} lacks {sorted(missing)} ({rule['script'].name})"
        checked += 1
    assert checked >= 12  # the rules that have a script


def _conda_to_pypi(packages: dict[str, str]) -> dict[str, str]:
    back = {conda: pypi for pypi, conda in CONDA_NAME.items()}
    return {back.get(name, name): version for name, version in packages.items() if name != "python"}


def test_import_scan_sees_mirical_modules_and_lazy_imports():
    # photom's script imports mirical.references.selection, which imports asdf inside a function
    assert {"numpy", "astropy", "asdf"} <= third_party_imports(REPO / "scripts" / "photom.py")
    assert "matplotlib" in third_party_imports(REPO / "scripts" / "plot_mosaic.py")
    assert "drizzle" in third_party_imports(REPO / "scripts" / "mosaic.py")
    # runner.reference -> reffiles reads YAML; crds (optional, try/except ImportError) is not needed
    # the background from the science exposures: scipy (filling pixels without a value); the source masks'
    # photutils only in their own rule's script, so a photutils release does not re-run the calibration
    assert third_party_imports(REPO / "scripts" / "background.py") == {"numpy", "astropy", "asdf", "pyyaml", "scipy"}
    assert {"photutils", "scipy"} <= third_party_imports(REPO / "scripts" / "background_srcmask.py")


def test_environments_and_pyproject_are_in_step():
    pyproject = _pyproject_dependencies()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    listed = set()
    for path in envs:
        packages = _conda_to_pypi(_env_packages(path))
        assert "python" in yaml.safe_load(path.read_text())["dependencies"][0], path.name
        for name, version in packages.items():
            key = canonicalize_name(name)
            assert key in pyproject, f"{path.name}: {name} is not a run-time dependency in pyproject.toml"
            assert pyproject[key].specifier.contains(version), \
                f"{path.name}: {name}={version} is outside pyproject's {pyproject[key]}"
            listed.add(key)
    assert listed == set(pyproject) - NOT_IN_JOB_ENV, "pyproject.toml and envs/ list different packages"


def test_readme_shows_the_demo_figure_and_the_ways_to_run():
    readme = (REPO / "README.md").read_text()
    figure = REPO / "docs" / "demo.png"
    assert "](docs/demo.png)" in readme and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.stat().st_size < 200_000
    what_you_get = readme.split("## What you get", 1)[1].split("\n## ", 1)[0]
    for item in ("**cal**", "**i2d**", "**mosaic**", "**intermediates**", "**figures**", "**summary table**",
                 "**report**", "**logs**", "mirical run ", "mirical.run(", "mirical.make_association(",
                 "--report report.html"):
        assert item in what_you_get, item
