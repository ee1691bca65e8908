"""The glue every workflow script shares: logging, clear errors, reference checks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from mirical.errors import MiricalError

log = logging.getLogger("mirical")


def main(snakemake: Any, body: Callable[[Any], None]) -> None:
    """Run ``body(snakemake)`` logging to the job's log; an input problem is one clear line.

    Where the Snakefile started a warm worker (``$MIRICAL_WORKER``, `mirical.workflow.worker`) of this
    Python, the job runs in a child forked from it (the same script, log and exit status).
    """
    if os.environ.get("MIRICAL_WORKER"):
        # Imported by name: the worker only changes which process runs the job, not its outputs
        # (tests/test_worker.py), so it is not part of any step's code hash (mirical/workflow/code_hash.py).
        import importlib

        delegate = importlib.import_module("mirical.workflow.worker").delegate
        status = delegate(os.environ["MIRICAL_WORKER"], snakemake.log[0] if snakemake.log else None)
        if status is not None:
            sys.exit(status)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        os.makedirs(os.path.dirname(os.path.abspath(snakemake.log[0])), exist_ok=True)
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)
    try:
        body(snakemake)
    except MiricalError as exc:
        log.error("%s", exc)
        logging.shutdown()
        sys.exit(1)
    except Exception:  # a bug: keep the traceback in the job's log too, not only on the terminal
        log.exception("unexpected error in rule %s", getattr(snakemake, "rule", "?"))
        logging.shutdown()
        sys.exit(1)


def is_named(snakemake: Any, reftype: str, path: str) -> bool:
    """True when ``path`` is the file the config names in ``reference_files`` (not a folder's or CRDS's choice)."""
    named = (snakemake.config.get("reference_files") or {}).get(reftype)
    return bool(named) and os.path.isfile(named) and os.path.samefile(named, path)


def reference(snakemake: Any, reftype: str, exposure_header: Any, exposure_path: str) -> str:
    """The reference file of ``reftype`` for this job, checked against the exposure.

    A file chosen from a folder or by CRDS must fit as CRDS requires; a file the
    user named is used as the official override is, with one warning line for
    what it is used despite (`reffiles.named_reference_warnings`).
    """
    error = snakemake.params.errors.get(reftype)
    if error:
        raise MiricalError(exposure_path, f"no {reftype} reference file: {error}")
    path = str(getattr(snakemake.input, reftype))
    from mirical.references.selection import ReferenceFileError, ReferenceSelectionError, named_reference_warnings, select

    name = os.path.basename(exposure_path)
    try:
        if is_named(snakemake, reftype, path):
            warned = named_reference_warnings(reftype, path, exposure_header, name)
            if warned:
                log.warning("%s: used as named in reference_files although %s", name, "; ".join(warned))
            return path
        return select(reftype, path, exposure_header, name)
    except ReferenceFileError as exc:
        raise MiricalError(exc.path, exc.reason) from None
    except ReferenceSelectionError as exc:
        raise MiricalError(path, str(exc)) from None


def named_warnings(snakemake: Any, references: dict[str, str], exposure_header: Any,
                   exposure_path: str) -> dict[str, list[str]]:
    """For the provenance: reference type -> what each named file was used despite.

    A mismatch that its step would refuse is recorded too: its step was skipped.
    """
    from mirical.references.selection import ReferenceSelectionError, named_reference_warnings

    out = {}
    for reftype, path in references.items():
        if is_named(snakemake, reftype, path):
            try:
                out[reftype] = named_reference_warnings(reftype, path, exposure_header,
                                                        os.path.basename(exposure_path))
            except ReferenceSelectionError as exc:
                out[reftype] = [str(exc)]
    return out
