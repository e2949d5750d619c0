"""Durable file writes: temporary name, fsync, rename, fsync the folder.

A reader never sees half a file, and a write reported as done survives a power loss.
File-based adapters use it too (it is part of the stable extension API).
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_dir", "locked", "replacing", "sync_written", "write_atomically"]


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_written(paths: Iterable[Path], *, roots: Iterable[Path]) -> int:
    """Make durable, all at once, files written (or removed) without an fsync each:
    fsync every one of `paths` still present, then every folder from its parent up to
    the one of `roots` it lies in (a rename, an unlink or a new folder in each), each
    folder once. One commit for many files: what `write_atomically(sync=False)` wrote,
    then this, survives a power loss as if each had been written durably. Returns the
    number of fsyncs."""
    tops = [r.absolute() for r in roots]
    folders: set[Path] = set()
    count = 0
    for path in sorted({p.absolute() for p in paths}):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            count += 1
        top = next((t for t in tops if path.is_relative_to(t)), path.parent)
        folder = path.parent
        while folder not in folders:
            folders.add(folder)
            if folder == top or not folder.is_relative_to(top):
                break
            folder = folder.parent
    for folder in sorted(folders, reverse=True):  # deepest first
        if folder.is_dir():
            fsync_dir(folder)
            count += 1
    return count


def write_atomically(
    target: Path,
    data: bytes,
    *,
    mode: int = 0o644,
    scratch: Path | None = None,
    sync: bool = True,
) -> None:
    """Replace `target` with `data` all at once (creating folders as needed).

    `mode` defaults to world-readable: importers of published files (a CMS, an rsync job)
    often run as another user, and mkstemp alone would make the file owner-only.
    `scratch`: where the temporary copy is written (a folder of the writer's own on the
    same file system, e.g. an outlet's state folder) instead of beside `target`, so a
    process killed mid-write leaves nothing in a published folder; on another file
    system it falls back to beside `target`. `sync=False`: no fsync (readers still
    never see half a file); the caller makes many such writes durable at once with
    `sync_written`.
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
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            Path(tmp).unlink(missing_ok=True)
            write_atomically(target, data, mode=mode, sync=sync)
            return
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync:
        fsync_dir(target.parent)


@contextmanager
def replacing(target: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write `target` as a stream, all at once and durably: the block writes to a
    temporary file beside it (folders made as needed), which then replaces `target`
    (fsync, rename, fsync the folder). If the block raises, `target` is untouched and
    the temporary file removed. For output too long to hold in memory; bytes in hand
    go to `write_atomically`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
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
