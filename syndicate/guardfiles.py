"""The guard over files on disk: `syndicate items check FILE|DIR [--fix OUT]`.

A path is an item file (`.toml`, `.json`, or Markdown with `+++` front matter: checked
with every attachment it names) or a document of its own (a CSV, XLSX, DOCX, PDF or text
file an operator is about to attach: checked as an attachment). Nothing here reads or
writes a log; `Disclosures.check` is the same guard over content on its way in.

`--fix OUT` writes a masked copy of each file under OUT, the layout kept (an item file's
attachments beside it as its paths say): personal information masked by the policy's
rules, words replaced where the list suggests a replacement. What cannot be fixed that
way (a number split across two cells, a word without a replacement, a PDF) is reported
for a person to fix, and the copy is checked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from syndicate.attachment_text import (
    AttachmentText,
    Unreadable,
    blocks_or_reason,
    read_attachment_text,
    replace_in_attachment,
)
from syndicate.attachments import MAX_ATTACHMENT_BYTES, guess_media_type
from syndicate.domain.guard import (
    GuardFinding,
    GuardPolicy,
    GuardReport,
    TextBlockLike,
    UncheckedPart,
    check_blocks,
    check_item,
    content_fields,
)
from syndicate.domain.pii import find_pii
from syndicate.domain.wording import replace_words
from syndicate.errors import InputError, Problem
from syndicate.fsutil import write_atomically
from syndicate.itemfiles import load_item_file

__all__ = ["FileCheck", "check_paths", "fix_text", "write_fixed"]


@dataclass(frozen=True)
class FileCheck:
    """The guard's verdict on one file: `report`, or `error` when the file is not a
    valid item file (then nothing was checked)."""

    source: Path
    kind: str  # "item" or "document"
    report: GuardReport = field(default_factory=GuardReport)
    error: InputError | None = None
    area: str | None = None
    attachments: tuple[tuple[Path, str], ...] = ()  # (path on disk, relative path)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"file": str(self.source), "kind": self.kind}
        if self.error is not None:
            out["error"] = self.error.lines()
        else:
            out.update(self.report.as_json())
        return out


def _is_item_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".toml", ".json"):
        return True
    if suffix in (".md", ".markdown"):
        try:
            with path.open("rb") as f:
                head = f.read(8)
        except OSError:
            return False
        return head.lstrip(b"\xef\xbb\xbf").startswith(b"+++")
    return False


def _files(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder it is relative to) for each file given or under a folder."""
    out: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                out.append((child, path))
        elif path.is_file():
            out.append((path, path.parent))
        elif path.exists():
            raise InputError([Problem("", f"{path} is not a regular file or a folder")])
        else:
            raise InputError([Problem("", f"no such file or folder: {path}")])
    return out


def _document_text(path: Path) -> AttachmentText | Unreadable:
    try:
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            return Unreadable(f"larger than {MAX_ATTACHMENT_BYTES:,} bytes")
        data = path.read_bytes()
    except OSError as exc:
        return Unreadable(f"cannot read the file: {exc.strerror}")
    return read_attachment_text(
        data, name=path.name, media_type=guess_media_type(path.name)
    )


def _attachment_paths(path: Path) -> tuple[tuple[Path, str], ...]:
    """The attachments an item file names, as (path on disk, path as written)."""
    import tomllib

    from syndicate.itemfiles import _parse_raw

    try:
        data, _ = _parse_raw(path)
    except (InputError, OSError, tomllib.TOMLDecodeError):
        return ()
    raw = data.get("attachments")
    out = []
    base = path.parent.resolve()
    for entry in raw if isinstance(raw, list) else ():
        spec = entry if isinstance(entry, str) else (entry or {}).get("path")
        if not isinstance(spec, str):
            continue
        try:
            found = (path.parent / spec).resolve()
        except (OSError, RuntimeError):
            continue
        if found.is_relative_to(base):  # the loader refuses any other
            out.append((found, str(found.relative_to(base))))
    return tuple(out)


def check_paths(
    paths: Sequence[Path], policy: GuardPolicy, *, today: date | None = None
) -> list[FileCheck]:
    """The guard over every file given and every file under each folder given.

    Item files are checked with their attachments (`attachments[0] 第3行 第2列`); the
    attachments they name are not checked again as documents of their own."""
    files = _files(paths)
    items = [(p, base) for p, base in files if _is_item_file(p)]
    named: set[Path] = set()
    checks: list[FileCheck] = []
    for path, _ in items:
        attachments = _attachment_paths(path)
        named.update(a.resolve() for a, _ in attachments)
        try:
            loaded = load_item_file(path, today=today)
        except InputError as exc:
            checks.append(FileCheck(path, "item", error=exc))
            continue
        content = loaded.content
        fields = content_fields(content)
        texts: list[tuple[str, Sequence[TextBlockLike] | str]] = []
        for prepared in loaded.attachments:
            meta = prepared.meta
            texts.append(
                (
                    meta.name,
                    blocks_or_reason(
                        prepared.data, name=meta.name, media_type=meta.media_type
                    ),
                )
            )
        report = check_item(fields, texts, policy, area=content.area)
        checks.append(
            FileCheck(path, "item", report, area=content.area, attachments=attachments)
        )
    for path, _ in files:
        if _is_item_file(path) or path.resolve() in named:
            continue
        text = _document_text(path)
        if isinstance(text, Unreadable):
            unread = UncheckedPart(
                "file", path.name, text.reason, blocks=policy.unreadable_blocks
            )
            report = GuardReport((), (unread,))
        else:
            report = GuardReport(tuple(check_blocks("file", text.blocks, policy)))
        checks.append(FileCheck(path, "document", report))
    return checks


def fix_text(text: str, policy: GuardPolicy, *, area: str | None = None) -> str:
    """`text` with every personal number masked by the policy's rules and every word
    with a suggested replacement replaced."""
    if policy.pii:
        out: list[str] = []
        at = 0
        for f in find_pii(text):
            out.append(text[at : f.start])
            out.append(policy.mask_rule(f.kind, area).apply(f.text))
            at = f.end
        out.append(text[at:])
        text = "".join(out)
    return replace_words(text, policy.matcher.find(text))


def _fix_document(
    data: bytes, name: str, policy: GuardPolicy, area: str | None
) -> bytes | Unreadable:
    text = read_attachment_text(data, name=name, media_type=guess_media_type(name))
    if isinstance(text, Unreadable):
        return text
    edits: dict[tuple[int, int, int], str] = {}
    for b, block in enumerate(text.blocks):
        for r, row in enumerate(block.rows):
            for c, cell in enumerate(row):
                fixed = fix_text(cell, policy, area=area)
                if fixed != cell:
                    edits[(b, r, c)] = fixed
    if not edits:
        return data
    return replace_in_attachment(
        data, name=name, media_type=guess_media_type(name), edits=edits
    )


@dataclass(frozen=True)
class FixResult:
    """What `write_fixed` wrote, and what it could not fix (for a person)."""

    written: tuple[Path, ...]
    not_fixed: tuple[str, ...]


def _unfixable(finding: GuardFinding) -> str | None:
    if (
        finding.kind.personal
        and finding.cell is None
        and finding.part.startswith(("attachments", "file"))
    ):
        return f"{finding.message}: split across cells; fix it by hand"
    if not finding.kind.personal and not finding.suggestion:
        return f"{finding.message}: no replacement suggested; rephrase it by hand"
    return None


def write_fixed(
    check: FileCheck, root: Path, out: Path, policy: GuardPolicy
) -> FixResult:
    """Write a masked copy of `check.source` (and an item file's attachments) under
    `out`, at its path relative to `root`. Refuses to write over the source."""
    if check.error is not None:
        raise check.error
    written: list[Path] = []
    not_fixed = [m for f in check.report.findings if (m := _unfixable(f))]
    source = check.source
    target = out / source.relative_to(root)
    if target.resolve() == source.resolve():
        raise InputError([Problem("--fix", "OUT must not be the folder being checked")])
    if check.kind == "item":
        text = source.read_text("utf-8-sig")
        write_atomically(target, fix_text(text, policy, area=check.area).encode())
        written.append(target)
        pairs = [(a, target.parent / rel) for a, rel in check.attachments]
    else:
        pairs = [(source, target)]
    for path, dest in pairs:
        if not dest.resolve().is_relative_to(out.resolve()) or (
            dest.resolve() == path.resolve()
        ):
            not_fixed.append(f"{path.name}: not fixed: its copy would not be under OUT")
            continue
        data = path.read_bytes()
        fixed = _fix_document(data, path.name, policy, check.area)
        if isinstance(fixed, Unreadable):
            not_fixed.append(f"{path.name}: not fixed: {fixed.reason}")
            continue
        write_atomically(dest, fixed)
        written.append(dest)
    return FixResult(tuple(written), tuple(dict.fromkeys(not_fixed)))
