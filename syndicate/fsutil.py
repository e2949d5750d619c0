"""Durable file writes: temporary name, fsync, rename, fsync the folder.

A reader never sees half a file, and a write reported as done survives a power loss.
File-based adapters use it too (it is part of the stable extension API).
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["fsync_dir", "locked", "write_atomically"]


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(
    target: Path, data: bytes, *, mode: int = 0o644, scratch: Path | None = None
) -> None:
    """Replace `target` with `data` all at once (creating folders as needed).

    `mode` defaults to world-readable: importers of published files (a CMS, an rsync job)
    often run as another user, and mkstemp alone would make the file owner-only.
    `scratch`: where the temporary copy is written (a folder of the writer's own on the
    same file system, e.g. an outlet's state folder) instead of beside `target`, so a
    process killed mid-write leaves nothing in a published folder; on another file
    system it falls back to beside `target`.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    where = target.parent
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        where = scratch
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            Path(tmp).unlink(missing_ok=True)
            write_atomically(target, data, mode=mode)
            return
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file `path` (created if missing) for the
    block, waiting for another process's to end: for read-modify-write of a file that
    several processes may change at once."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
