"""The one error type users see: a message naming the file and the cause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MiricalError(Exception):
    """A problem with an input (exposure, reference file, association, config).

    The message always names the offending file (or config key) and the cause,
    so the workflow can print it as one line instead of a traceback.
    """

    def __init__(self, source: str, cause: str) -> None:
        self.source = str(source)
        self.cause = cause
        super().__init__(f"{self.source}: {cause}")


class Refusal(SystemExit):
    """A `MiricalError` that stops the whole run before any job: its lines on stderr, exit status 1.

    A SystemExit, so Snakemake passes it on without a traceback; `mirical.api.run` raises the
    `MiricalError` it carries instead.
    """

    def __init__(self, error: MiricalError) -> None:
        super().__init__("\n".join(f"mirical: {line}" for line in str(error).splitlines()))
        self.error = error


@contextmanager
def refuse_run() -> Iterator[None]:
    """Turn a `MiricalError` raised inside the block (planning, the config, the lock) into a `Refusal`."""
    try:
        yield
    except MiricalError as exc:
        raise Refusal(exc) from None
