"""The code hash of a workflow step: everything that shapes its outputs, as one short digest.

A rule passes the hash as a parameter, so Snakemake re-runs the step (and what
follows) when it changes. It covers the step's script, every ``mirical`` module
the script imports, transitively (read from the source with ``ast``, imports
inside functions included; ``mirical/__init__.py`` and the ``__init__.py`` of every
sub-package on the way run with any of them), and the installed versions of the
third-party libraries those files import (read with ``importlib.metadata``:
nothing is imported). Files are named relative to
the repository, so the hash does not depend on where the checkout lives.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

PACKAGE = "mirical"
# Import name -> distribution name, where the two differ.
DISTRIBUTIONS = {"yaml": "pyyaml"}
# Distributions loaded by entry point, never imported by name, that shape what an imported library
# writes: asdf serializes astropy models (the gwcs transforms) through asdf-astropy.
PLUGINS = {"asdf": ("asdf-astropy",)}
NOT_INSTALLED = "not installed"


@functools.lru_cache(maxsize=None)
def _imported_names(source: bytes) -> tuple[str, ...]:
    """Dotted names of every module ``source`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return tuple(names)


def dependencies(script: Path, package_dir: Path) -> tuple[list[Path], list[str]]:
    """(files, libraries): ``script`` and the package modules it runs, and the third-party imports.

    ``package_dir`` is the ``mirical`` folder; libraries are top-level import names,
    the standard library left out; both lists sorted.
    """
    files, libraries = {script}, set()
    todo = [script]
    while todo:
        for name in _imported_names(todo.pop().read_bytes()):
            top = name.partition(".")[0]
            if top != PACKAGE:
                if top not in sys.stdlib_module_names:
                    libraries.add(top)
                continue
            parts = name.split(".")[1:]
            # The package's and every sub-package's __init__.py on the way (they run on import), then the module.
            candidates = [package_dir.joinpath(*parts[:i], "__init__.py") for i in range(len(parts) + 1)]
            if parts:
                candidates.append(package_dir.joinpath(*parts).with_suffix(".py"))
            for path in candidates:
                if path.is_file() and path not in files:
                    files.add(path)
                    todo.append(path)
    return sorted(files), sorted(libraries)


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution`` (its metadata only), or 'not installed'."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return NOT_INSTALLED


def library_versions(libraries: Iterable[str], version: Callable[[str], str] = installed_version) -> dict[str, str]:
    """{distribution: version} of the libraries (import names) and their plugins.

    ``version`` looks one distribution up (the workflow passes a cached
    `installed_version`, so each is read once per planning).
    """
    distributions = set()
    for name in libraries:
        distributions.add(DISTRIBUTIONS.get(name, name))
        distributions.update(PLUGINS.get(name, ()))
    return {d: version(d) for d in sorted(distributions)}


def code_hash(script: Path, package_dir: Path, version: Callable[[str], str] = installed_version) -> str:
    """16 hex digits of sha256 over the step's files (relative name and bytes) and library versions."""
    root = package_dir.parent
    files, libraries = dependencies(script, package_dir)
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for distribution, number in library_versions(libraries, version).items():
        digest.update(f"{distribution}=={number}\0".encode())
    return digest.hexdigest()[:16]
