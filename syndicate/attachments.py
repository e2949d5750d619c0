"""Content-addressed attachment files (附件) under the data directory.

An attachment is stored once, at `attachments/<first two hex digits>/<sha256>`, however
many items or versions refer to it; events record only its name, media type, size and
sha256. Files are written to a temporary name and renamed, so a crash never leaves a
partial blob under a valid name.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from syndicate.domain.content import Attachment
from syndicate.fsutil import write_atomically

__all__ = ["MAX_ATTACHMENT_BYTES", "AttachmentStore", "PreparedAttachment"]

MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024

# Types outlets commonly offer for download; mimetypes' table misses some of them.
_EXTRA_TYPES = {
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".ofd": "application/ofd",
    ".wps": "application/vnd.ms-works",
}


def guess_media_type(name: str) -> str:
    """Media type from the file extension; application/octet-stream when unknown."""
    suffix = Path(name).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class PreparedAttachment:
    """An attachment read and hashed but not stored yet."""

    meta: Attachment
    data: bytes


class AttachmentStore:
    """Blobs addressed by their sha256 under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this digest lives (it may not exist)."""
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path_of(sha256).is_file()

    def put(self, prepared: PreparedAttachment) -> Path:
        """Store a prepared attachment (idempotent) and return its path."""
        target = self.path_of(prepared.meta.sha256)
        if target.is_file():
            return target
        write_atomically(target, prepared.data, mode=0o644)
        return target


# File systems allow 255 bytes per name; leave room for a temporary-file prefix.
MAX_NAME_BYTES = 240


def prepare_attachment(
    path: Path, *, name: str | None = None, media_type: str | None = None
) -> PreparedAttachment:
    """Read and hash a file. Raises OSError or ValueError with an operator's message."""
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    size = path.stat().st_size
    if size > MAX_ATTACHMENT_BYTES:
        raise ValueError(
            f"{path.name} is {size} bytes; attachments are limited to "
            f"{MAX_ATTACHMENT_BYTES} bytes"
        )
    shown = name or path.name
    if len(shown.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(
            f"attachment name {shown[:20]}… is {len(shown.encode('utf-8'))} bytes in "
            f"UTF-8; outlets write it as a file name, so keep it under "
            f"{MAX_NAME_BYTES} bytes (about {MAX_NAME_BYTES // 3} Chinese characters)"
        )
    if shown.startswith("."):
        raise ValueError(
            f"attachment name {shown!r} starts with a dot; web servers hide such files"
        )
    data = path.read_bytes()
    meta = Attachment(
        name=shown,
        media_type=media_type or guess_media_type(shown),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return PreparedAttachment(meta, data)
