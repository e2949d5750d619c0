"""Item files: TOML, JSON, or Markdown with TOML front matter, all with the same fields.

```
+++
agency = "某县民政局"
index_no = "000014349/2026-00012"
title = "关于2026年第一季度城乡低保对象名单的公示"
area = "社会救助"        # code or Chinese name
stage = "结果公开"
basis = "《社会救助暂行办法》"
formed_on = 2026-03-28
attachments = ["低保名单.csv"]     # paths relative to this file
+++
正文（Markdown）……
```

Loading reads and hashes attachments but stores nothing: a file with any problem is
refused whole, with every problem listed by field.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from syndicate.attachments import (
    MAX_ATTACHMENT_BYTES,
    PreparedAttachment,
)
from syndicate.domain.catalogue import Attribute, parse_attribute
from syndicate.domain.content import (
    Admission,
    ItemContent,
    content_rules,
    item_id,
    missing_basis,
    parse_item_ref,
)
from syndicate.errors import InputError, Problem

__all__ = [
    "ITEM_SUFFIXES",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENTS_BYTES",
    "MAX_ITEM_FILE_BYTES",
    "Duplicate",
    "LoadedItem",
    "expand_paths",
    "in_publish_order",
    "load_item_file",
    "parse_item",
    "without_duplicates",
]

ITEM_SUFFIXES = (".toml", ".json", ".md", ".markdown")
_FENCE = "+++"
# The body is at most 1,000,000 characters: 4 MB of UTF-8, 6 MB written as JSON \u escapes.
MAX_ITEM_FILE_BYTES = 16 * 1024 * 1024
# Attachments are read into memory before anything is stored.
MAX_ATTACHMENTS = 100
MAX_ATTACHMENTS_BYTES = 5 * MAX_ATTACHMENT_BYTES
# No field takes a number; a longer one is refused before Python converts it (int()
# refuses more than 4,300 digits, and is slow well before that).
_MAX_NUMBER_DIGITS = 40


@dataclass(frozen=True)
class LoadedItem:
    """A validated item file: its content and the attachments it brings."""

    source: Path
    content: ItemContent
    attachments: tuple[PreparedAttachment, ...]


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the item files directly inside it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and p.suffix.lower() in ITEM_SUFFIXES
                and not p.name.startswith(".")
            )
            if not found:
                raise InputError(
                    f"{path}: no item files (*.toml, *.json, *.md) in this directory"
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def _duplicate_keys(
    problems: list[Problem], where: str
) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that notes keys given twice (and keeps reading)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(Problem(key, "given twice in the same object"))
        return dict(pairs)

    return hook


_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_KEY = re.compile(r"\s*([A-Za-z0-9_.\"-]+?)\s*=\s*(.*)")
_DATE_LIKE = re.compile(r"(\d{4}-\d{1,2}-\d{1,2})\b")


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str, offset: int) -> Problem:
    """A TOML syntax error as a problem of the field on its line, when there is one.

    `offset` is the number of file lines before `text` (the '+++' line of front matter).
    """
    message = str(exc)
    lines = text.splitlines()
    found = _TOML_WHERE.search(message)
    if found is None:
        end = message.removesuffix("(at end of document)").strip()
        filled = [n for n, line in enumerate(lines, start=1) if line.strip()]
        if end == message or not filled or not end.startswith("Cannot overwrite"):
            return Problem("", f"invalid TOML: {message}")
        # A key given again on the last line is only noticed at the end.
        number, reason = filled[-1], end
    else:
        number = int(found.group(1))
        reason = message[: found.start()].strip()
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    where = f"line {number + offset}"
    key = _TOML_KEY.match(line)
    if key is None:
        return Problem("", f"invalid TOML at {where}: {reason}")
    field, value = key.group(1).strip('"'), key.group(2).split("#", 1)[0].strip()
    if reason.startswith(("Cannot overwrite a value", "Cannot declare")):
        return Problem(field, f"given twice; keep one ({where})")
    written = _DATE_LIKE.match(value)
    if written:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", written.group(1)):
            return Problem(
                field,
                f"{written.group(1)} is not a valid date: write it as YYYY-MM-DD, "
                f"e.g. 2026-03-01 ({where})",
            )
        try:
            date.fromisoformat(written.group(1))
        except ValueError as bad:
            return Problem(
                field, f"{written.group(1)} is not a valid date: {bad} ({where})"
            )
    if not value:
        return Problem(field, f"has no value after '=' ({where})")
    return Problem(field, f"invalid TOML value {value}: {reason} ({where})")


@dataclass(frozen=True)
class _Unreadable:
    """A JSON value no field can take, kept in place so the problem names its field."""

    problem: str


def _json_int(text: str) -> int | _Unreadable:
    digits = len(text.lstrip("-"))
    if digits > _MAX_NUMBER_DIGITS:
        return _Unreadable(
            f"is a number with {digits} digits; no field takes a number (write text "
            'in quotes, dates as "YYYY-MM-DD")'
        )
    return int(text)


def _json_float(text: str) -> float | _Unreadable:
    if len(text) > _MAX_NUMBER_DIGITS:
        return _Unreadable(
            f"is a number {len(text)} characters long; no field takes a number (write "
            'text in quotes, dates as "YYYY-MM-DD")'
        )
    return float(text)


def _json_constant(text: str) -> _Unreadable:
    return _Unreadable(
        f"{text} is not JSON (no field takes a number); write text in quotes"
    )


def _unreadable_values(data: dict[str, Any]) -> list[Problem]:
    """Problems for the `_Unreadable` values anywhere in `data`, by field path."""
    problems: list[Problem] = []
    stack: list[tuple[str, Any]] = list(data.items())
    while stack:  # no recursion: the data may be nested as deep as the parser allows
        path, value = stack.pop()
        if isinstance(value, _Unreadable):
            problems.append(Problem(path, value.problem))
        elif isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return sorted(problems, key=lambda p: p.field)


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _read_text(path: Path) -> str:
    """The file as text: a regular file of bounded size, UTF-8, no NUL bytes."""
    try:
        if not path.is_file():
            raise InputError(
                "not a regular file (a directory, FIFO, device or socket); "
                "give an item file"
            )
        size = path.stat().st_size
        if size > MAX_ITEM_FILE_BYTES:
            raise InputError(_too_big(size))
        with path.open("rb") as handle:
            # Bounded even if the size changed since stat (a file being written).
            data = handle.read(MAX_ITEM_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_ITEM_FILE_BYTES:
        raise InputError(_too_big(len(data)))
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise InputError(
                f"the file is {encoding} text (it starts with a {encoding} byte order "
                "mark); save it as UTF-8"
            )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            f"the file contains a NUL byte (line {line}): it is binary, not a text "
            "item file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"the file is not UTF-8 text (the first bad byte is at line {line}, byte "
            f"{column}); save it as UTF-8 (files from older Chinese editors are often "
            "GBK)"
        ) from None
    return text.removeprefix("\ufeff")


def _too_big(size: int) -> str:
    return (
        f"the file is {size:,} bytes; item files are at most "
        f"{MAX_ITEM_FILE_BYTES:,} bytes (the body at most 1,000,000 characters); "
        "put large documents in attachments"
    )


_HUGE_DIGITS = re.compile(r"[+-]?\d[\d_]{4300,}")


def _huge_toml_number(text: str, offset: int) -> Problem:
    """The field holding a number Python refuses to convert (more than 4,300 digits)."""
    message = (
        "is a number with more than 4,300 digits; no field takes a number (write "
        'text in quotes, dates as "YYYY-MM-DD")'
    )
    for number, line in enumerate(text.splitlines(), start=1):
        key = _TOML_KEY.match(line)
        if key is not None and _HUGE_DIGITS.match(key.group(2).strip()):
            return Problem(
                key.group(1).strip('"'), f"{message} (line {number + offset})"
            )
    return Problem("", f"a value {message}")


def _split_front_matter(text: str) -> tuple[str, str]:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise InputError(
            "a Markdown item file must start with TOML front matter between "
            "'+++' lines, followed by the body"
        )
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == _FENCE:
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise InputError("the front matter has no closing '+++' line")


def _parse_raw(path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """The file's fields, and problems found on the way that do not stop reading;
    `InputError` when the file cannot be read as fields at all."""
    suffix = path.suffix.lower()
    if suffix not in ITEM_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(none)'!r}; item files are .toml, "
            ".json, or .md with +++ TOML front matter"
        )
    text = _read_text(path)
    data: Any
    problems: list[Problem] = []
    if suffix == ".json":
        try:
            data = json.loads(
                text,
                object_pairs_hook=_duplicate_keys(problems, ""),
                parse_int=_json_int,
                parse_float=_json_float,
                parse_constant=_json_constant,
            )
        except RecursionError:
            raise InputError("the JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise InputError("a JSON item file must hold one object")
        problems.extend(_unreadable_values(data))
        return dict(data), problems
    body: str | None = None
    if suffix in (".md", ".markdown"):
        text, body = _split_front_matter(text)
    offset = 0 if body is None else 1
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError("the TOML is nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        # Count lines from the top of the file, not from the first '+++'.
        problem = _toml_problem(exc, text, offset)
        if body is not None and not problem.field:
            problem = Problem("", problem.message.replace("TOML", "TOML front matter"))
        raise InputError([problem]) from None
    except ValueError:  # int() refused a number of more than 4,300 digits
        raise InputError([_huge_toml_number(text, offset)]) from None
    if body is not None:
        if "body" in data and body.strip():
            problems.append(
                Problem("body", "given in the front matter and after it; keep one")
            )
        else:
            data["body"] = data.get("body", body)
    return dict(data), problems


def _attachments(
    raw: Any, base: Path
) -> tuple[list[Any], list[PreparedAttachment], list[Problem]]:
    if raw is None:
        return [], [], []
    if not isinstance(raw, list):
        return (
            [],
            [],
            [Problem("attachments", "must be a list of file paths or tables")],
        )
    if len(raw) > MAX_ATTACHMENTS:
        return (
            [],
            [],
            [
                Problem(
                    "attachments",
                    f"lists {len(raw)} files; at most {MAX_ATTACHMENTS} (put the rest "
                    "in an archive)",
                )
            ],
        )
    metas: list[Any] = []
    prepared: list[PreparedAttachment] = []
    problems: list[Problem] = []
    total = 0
    for index, entry in enumerate(raw):
        where = f"attachments[{index}]"
        spec = {"path": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            problems.append(Problem(where, "needs a path (a string, or path = ...)"))
            continue
        unknown = set(spec) - {"path", "name", "media_type", "sealed"}
        if unknown:
            problems.append(
                Problem(where, f"unknown field(s) {', '.join(sorted(unknown))}")
            )
            continue
        if "\x00" in spec["path"] or not spec["path"].strip():
            problems.append(Problem(where, "path is empty or holds a NUL character"))
            continue
        try:
            path = (base / spec["path"]).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
            problems.append(Problem(where, f"cannot follow the path: {exc}"))
            continue
        if not path.is_relative_to(base.resolve()):
            problems.append(
                Problem(where, "must be a file in the item file's folder or below it")
            )
            continue
        if path.is_dir():
            problems.append(
                Problem(where, f"{spec['path']} is a directory, not a file")
            )
            continue
        if path.exists() and not path.is_file():
            problems.append(
                Problem(
                    where,
                    f"{spec['path']} is not a regular file (a FIFO, device or socket)",
                )
            )
            continue
        try:
            size = path.stat().st_size if path.exists() else 0
        except OSError:
            size = 0
        if size <= MAX_ATTACHMENT_BYTES and total + size > MAX_ATTACHMENTS_BYTES:
            problems.append(
                Problem(
                    where,
                    f"the attachments together exceed {MAX_ATTACHMENTS_BYTES:,} bytes "
                    "per item",
                )
            )
            continue
        if size <= MAX_ATTACHMENT_BYTES:
            total += size
        sealed = spec.get("sealed", False)
        if not isinstance(sealed, bool):
            problems.append(Problem(f"{where}.sealed", "must be true or false"))
            continue
        try:
            item = PreparedAttachment.from_file(
                path,
                name=spec.get("name"),
                media_type=spec.get("media_type"),
                sealed=sealed,
            )
        except InputError as exc:
            problems.extend(
                Problem(f"{where}.{p.field}" if p.field else where, p.message)
                for p in exc.problems
            )
            continue
        except OSError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        metas.append(item.meta.model_dump())
        prepared.append(item)
    return metas, prepared, problems


def _raw_rules(data: dict[str, Any], metas: list[Any]) -> list[Problem]:
    """The cross-field rules over raw fields, as far as those fields are readable
    (pydantic skips them once any field is invalid)."""
    attribute: Attribute | None = None
    raw = data.get("attribute", Attribute.PROACTIVE.value)
    if isinstance(raw, str):
        try:
            attribute = parse_attribute(raw)
        except ValueError:
            attribute = None
    basis = data.get("attribute_basis")
    agency, index_no = data.get("agency"), data.get("index_no")
    own = (
        item_id(agency, index_no)
        if isinstance(agency, str) and isinstance(index_no, str)
        else None
    )
    interprets: UUID | None = None
    target = data.get("interprets")
    if isinstance(target, str):
        try:
            ref = parse_item_ref(target)
            interprets = ref if isinstance(ref, UUID) else item_id(*ref)
        except ValueError:
            interprets = None
    return content_rules(
        attribute=attribute,
        attribute_basis=basis if isinstance(basis, str) else None,
        interprets=interprets,
        own_id=own,
        attachment_names=[m["name"] for m in metas],
    ) + missing_basis(data)


def _top(field: str) -> str:
    """The top-level field of a path such as `notice_period.start` or `attachments[0]`."""
    return field.split(".")[0].split("[")[0]


def parse_item(
    data: dict[str, Any],
    *,
    base: Path,
    problems: Sequence[Problem] = (),
    today: date | None = None,
) -> tuple[ItemContent, tuple[PreparedAttachment, ...]]:
    """Validate a mapping of item fields; attachment paths are relative to `base`.

    Every problem is reported (`InputError`), with `problems` found earlier (while
    reading the file) first: each field's, each cross-field rule's, and each
    plausibility rule's (`syndicate.domain.content.admission_problems`; those relative
    to the clock only when `today` is given).
    """
    data = dict(data)
    found = list(problems)
    # A field already found unreadable (a 5,000-digit number) is not judged again.
    unreadable = {_top(p.field) for p in _unreadable_values(data)}
    for field in unreadable:
        data.pop(field, None)
    metas, prepared, attachment_problems = _attachments(
        data.pop("attachments", None), base
    )
    found.extend(attachment_problems)
    data["attachments"] = metas
    try:
        content = ItemContent.model_validate(
            data, context={"admission": Admission(today)}
        )
    except InputError as exc:
        found.extend(p for p in exc.problems if _top(p.field) not in unreadable)
        found.extend(p for p in _raw_rules(data, metas) if p not in found)
    if found:
        raise InputError(found)
    return content, tuple(prepared)


def load_item_file(path: Path, *, today: date | None = None) -> LoadedItem:
    """Read and validate one item file; `InputError` names the file and every problem
    found in it (all fields, not just the first). `today` (in China) adds the
    plausibility rules relative to the clock (`formed_on` not in the future …)."""
    try:
        data, problems = _parse_raw(path)
        content, prepared = parse_item(
            data, base=path.parent, problems=problems, today=today
        )
    except InputError as exc:
        raise exc.with_source(str(path)) from None
    return LoadedItem(path, content, prepared)


@dataclass(frozen=True)
class Duplicate:
    """An item file in a batch that is the same item as an earlier one: the same file
    given twice (`same_file`), or another file with the same agency and index number
    (the same item id)."""

    item: LoadedItem
    first: LoadedItem

    @property
    def same_file(self) -> bool:
        """The very same file was given twice (or reached twice through a folder)."""
        return self.item.source.resolve() == self.first.source.resolve()

    def __str__(self) -> str:
        if self.same_file:
            return f"{self.item.source}: given more than once; counted once"
        return (
            f"{self.item.source}: the same item as {self.first.source} "
            f"({self.item.content.ref}: agency and index_no identify an item); "
            "an item is published once, then revised"
        )


def without_duplicates(
    loaded: Sequence[LoadedItem],
) -> tuple[list[LoadedItem], list[Duplicate]]:
    """The first file of each item id in a batch, and the later ones that repeat it."""
    first: dict[UUID, LoadedItem] = {}
    duplicates: list[Duplicate] = []
    for item in loaded:
        earlier = first.get(item.content.id)
        if earlier is None:
            first[item.content.id] = item
        else:
            duplicates.append(Duplicate(item, earlier))
    return list(first.values()), duplicates


def load_item_files(
    paths: Sequence[Path], *, today: date | None = None
) -> list[LoadedItem | InputError]:
    """Load every file; a bad one yields its `InputError` in place of the item."""
    results: list[LoadedItem | InputError] = []
    for path in paths:
        try:
            results.append(load_item_file(path, today=today))
        except InputError as exc:
            results.append(exc)
    return results


def in_publish_order(loaded: list[LoadedItem]) -> list[LoadedItem]:
    """`loaded` in an order that publishes: policies before the interpretations (解读)
    that name them in the same batch (`interprets`), otherwise as given."""
    ids = {item.content.id: item for item in loaded}
    depth: dict[UUID, int] = {}

    def level(item: LoadedItem, seen: frozenset[UUID] = frozenset()) -> int:
        key = item.content.id
        if key not in depth:
            target = item.content.interprets
            parent = ids.get(target) if target is not None else None
            depth[key] = (
                0
                if parent is None or target in seen
                else 1 + level(parent, seen | {key})
            )
        return depth[key]

    return sorted(loaded, key=level)
