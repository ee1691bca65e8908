"""mirical: JWST MIRI imager Stage-2 calibration as a Snakemake workflow.

``mirical.run(...)`` runs the workflow (see `mirical.api.run`) and
``mirical.make_association(...)`` writes an image2 association; both are loaded
on first use, so ``import mirical`` stays cheap (no astropy, no snakemake).
"""

# The version, written only here: pyproject.toml reads it, `mirical --version` prints it, and every product
# records it (FITS MIRICALV and HISTORY, the association's code_version, refs.json, the summary page).
__version__ = "0.1.0"

__all__ = ["run", "make_association", "__version__"]

_LAZY = {"run": "mirical.api", "make_association": "mirical.formats.association"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mirical' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
