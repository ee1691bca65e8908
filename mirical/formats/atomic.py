"""Atomic output: write to a temporary name beside the file, rename it when complete."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield ``.{name}.part`` beside ``path`` to write to; it becomes ``path`` when the block ends.

    The temporary name is fixed, not random: a job killed outright (SIGKILL, a lost
    node) leaves at most that one file, and the job's re-run writes and renames it,
    so no partial file outlives a resumed run. On an error it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
