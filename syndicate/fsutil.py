"""Durable file writes: temporary name, fsync, rename, fsync the folder.

A reader never sees half a file, and a write reported as done survives a power loss.
File-based adapters use it too (it is part of the stable extension API).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["fsync_dir", "write_atomically"]


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `target` with `data` all at once (creating folders as needed).

    `mode` defaults to world-readable: importers of published files (a CMS, an rsync job)
    often run as another user, and mkstemp alone would make the file owner-only.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
