"""The one error type users see: a message naming the file and the cause."""

from __future__ import annotations


class MiricalError(Exception):
    """A problem with an input (exposure, reference file, association, config).

    The message always names the offending file (or config key) and the cause,
    so the workflow can print it as one line instead of a traceback.
    """

    def __init__(self, source: str, cause: str) -> None:
        self.source = str(source)
        self.cause = cause
        super().__init__(f"{self.source}: {cause}")
