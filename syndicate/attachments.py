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

from pydantic import ValidationError

from syndicate.domain.content import Attachment, problems_from_validation_error
from syndicate.errors import InputError, Problem
from syndicate.fsutil import write_atomically

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "AttachmentStore",
    "PreparedAttachment",
    "guess_media_type",
]

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
    """An attachment (附件) read and hashed but not stored yet: what `Disclosures.publish`
    and `revise` take beside the content, whose `attachments` list holds each `meta`.

    Build one with `PreparedAttachment.from_file(path)` or, for bytes a backend received,
    `PreparedAttachment.from_bytes(data, name="名单.pdf")`. Both refuse with `InputError`
    (a name with directories or a leading dot, a name too long for a file system, more
    than `MAX_ATTACHMENT_BYTES`) and never store anything: the items log stores the bytes
    by their sha256 when the item is published.
    """

    meta: Attachment
    data: bytes

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        name: str,
        media_type: str | None = None,
        sealed: bool = False,
    ) -> PreparedAttachment:
        """The attachment `name` holding `data`; the media type is guessed from the
        name's extension unless given. `sealed`: it holds personal data public for a
        limited time; publishing stores it encrypted with the item's key, so it can
        be erased later (`Disclosures.erase`)."""
        if not isinstance(data, bytes | bytearray):
            raise InputError([Problem("", "the attachment's data must be bytes")])
        if not isinstance(name, str) or (
            media_type is not None and not isinstance(media_type, str)
        ):
            raise InputError([Problem("name", "must be text")])
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InputError([_too_large(name, len(data))])
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, e.g. from JSON's "\ud800"
            raise InputError([Problem("name", "is not valid Unicode text")]) from None
        try:
            meta = Attachment(
                name=name,
                media_type=media_type or guess_media_type(name),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                sealed=sealed,
            )
        except ValidationError as exc:
            raise InputError(problems_from_validation_error(exc)) from None
        # On the name as the log keeps it (stripped, NFC): " .htaccess" is ".htaccess".
        problem = _name_problem(meta.name)
        if problem:
            raise InputError([Problem("", problem)])
        return cls(meta, data)

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        name: str | None = None,
        media_type: str | None = None,
        sealed: bool = False,
    ) -> PreparedAttachment:
        """The file at `path`, named `name` (default: the file's name). A missing file
        or one too large is refused before it is read; `OSError` if it cannot be read."""
        path = Path(path)
        if not path.is_file():
            raise InputError([Problem("", f"file not found: {path}")])
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            raise InputError([_too_large(path.name, size)])
        return cls.from_bytes(
            path.read_bytes(),
            name=path.name if name is None else name,
            media_type=media_type,
            sealed=sealed,
        )


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


def _too_large(name: str, size: int) -> Problem:
    return Problem(
        "",
        f"{name} is {size} bytes; attachments are limited to "
        f"{MAX_ATTACHMENT_BYTES} bytes",
    )


def _name_problem(shown: str) -> str | None:
    """Why `shown` cannot be an attachment's file name on every outlet, or None."""
    if len(shown.encode("utf-8")) > MAX_NAME_BYTES:
        return (
            f"attachment name {shown[:20]}… is {len(shown.encode('utf-8'))} bytes in "
            f"UTF-8; outlets write it as a file name, so keep it under "
            f"{MAX_NAME_BYTES} bytes (about {MAX_NAME_BYTES // 3} Chinese characters)"
        )
    if shown.startswith("."):
        return (
            f"attachment name {shown!r} starts with a dot; web servers hide such files"
        )
    return None
