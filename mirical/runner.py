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
    """Run ``body(snakemake)`` logging to the job's log; an input problem is one clear line."""
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


def reference(snakemake: Any, reftype: str, exposure_header: Any, exposure_path: str) -> str:
    """The reference file of ``reftype`` for this job, checked against the exposure."""
    error = snakemake.params.errors.get(reftype)
    if error:
        raise MiricalError(exposure_path, f"no {reftype} reference file: {error}")
    path = str(getattr(snakemake.input, reftype))
    from mirical.reffiles import ReferenceFileError, ReferenceSelectionError, select

    try:
        return select(reftype, path, exposure_header, os.path.basename(exposure_path))
    except ReferenceFileError as exc:
        raise MiricalError(exc.path, exc.reason) from None
    except ReferenceSelectionError as exc:
        raise MiricalError(path, str(exc)) from None
