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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syndicate.attachments import PreparedAttachment, prepare_attachment
from syndicate.domain.content import ItemContent, problems_from_validation_error
from syndicate.errors import InputError, Problem

__all__ = [
    "ITEM_SUFFIXES",
    "LoadedItem",
    "expand_paths",
    "load_item_file",
    "parse_item",
]

ITEM_SUFFIXES = (".toml", ".json", ".md", ".markdown")
_FENCE = "+++"


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


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise InputError([Problem(k, "given twice in the same object") for k in twice])
    return dict(pairs)


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


def _parse_raw(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in ITEM_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(none)'!r}; item files are .toml, "
            ".json, or .md with +++ TOML front matter"
        )
    try:
        text = path.read_text("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}") from None
    data: Any
    if suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except RecursionError:
            raise InputError("the JSON is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise InputError("a JSON item file must hold one object")
        return dict(data)
    body: str | None = None
    if suffix in (".md", ".markdown"):
        text, body = _split_front_matter(text)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError("the TOML is nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if body is not None:
            # Count lines from the top of the file, not from the first '+++'.
            message = re.sub(
                r"line (\d+)", lambda m: f"line {int(m.group(1)) + 1}", message
            )
        where = " front matter" if body is not None else ""
        raise InputError(f"invalid TOML{where}: {message}") from None
    if body is not None:
        if "body" in data and body.strip():
            raise InputError(
                [Problem("body", "given in the front matter and after it; keep one")]
            )
        data.setdefault("body", body)
    return dict(data)


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
    metas: list[Any] = []
    prepared: list[PreparedAttachment] = []
    problems: list[Problem] = []
    for index, entry in enumerate(raw):
        where = f"attachments[{index}]"
        spec = {"path": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            problems.append(Problem(where, "needs a path (a string, or path = ...)"))
            continue
        unknown = set(spec) - {"path", "name", "media_type"}
        if unknown:
            problems.append(
                Problem(where, f"unknown field(s) {', '.join(sorted(unknown))}")
            )
            continue
        path = (base / spec["path"]).resolve()
        if not path.is_relative_to(base.resolve()):
            problems.append(
                Problem(where, "must be a file in the item file's folder or below it")
            )
            continue
        try:
            item = prepare_attachment(
                path,
                name=spec.get("name"),
                media_type=spec.get("media_type"),
            )
        except ValidationError as exc:
            problems.extend(
                Problem(f"{where}.{p.field}" if p.field else where, p.message)
                for p in problems_from_validation_error(exc)
            )
            continue
        except (OSError, ValueError) as exc:
            problems.append(Problem(where, str(exc)))
            continue
        metas.append(item.meta.model_dump())
        prepared.append(item)
    return metas, prepared, problems


def parse_item(
    data: dict[str, Any], *, base: Path
) -> tuple[ItemContent, tuple[PreparedAttachment, ...]]:
    """Validate a mapping of item fields; attachment paths are relative to `base`."""
    data = dict(data)
    metas, prepared, problems = _attachments(data.pop("attachments", None), base)
    data["attachments"] = metas
    try:
        content = ItemContent.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation_error(exc))
    if problems:
        raise InputError(problems)
    return content, tuple(prepared)


def load_item_file(path: Path) -> LoadedItem:
    """Read and validate one item file; `InputError` names the file and each field."""
    try:
        content, prepared = parse_item(_parse_raw(path), base=path.parent)
    except InputError as exc:
        raise exc.with_source(str(path)) from None
    return LoadedItem(path, content, prepared)


def load_item_files(paths: Sequence[Path]) -> list[LoadedItem | InputError]:
    """Load every file; a bad one yields its `InputError` in place of the item."""
    results: list[LoadedItem | InputError] = []
    for path in paths:
        try:
            results.append(load_item_file(path))
        except InputError as exc:
            results.append(exc)
    return results
