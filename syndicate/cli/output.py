"""Printing helpers shared by the CLI modules: errors, tables, times, JSON."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from syndicate.application import Change

from syndicate.errors import InputError, Problem, SyndicateError

__all__ = [
    "change_json",
    "cli_errors",
    "echo_file",
    "echo_json",
    "echo_json_line",
    "fail",
    "format_time",
    "iso_china",
    "option_names",
    "report",
    "table",
    "width",
]


def format_time(moment: datetime) -> str:
    """A moment as operators read it: China time, to the second
    (`syndicate.domain.base.format_time`, imported when first needed)."""
    from syndicate.domain.base import format_time as formatted

    return formatted(moment)


def iso_china(moment: datetime) -> str:
    """ISO 8601 in China time (`syndicate.domain.base.china_time`)."""
    from syndicate.domain.base import china_time

    return china_time(moment)


def fail(message: str, code: int) -> NoReturn:
    """Print one `error:` line to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def report(exc: SyndicateError) -> None:
    """Print an expected error, one line per problem, to stderr."""
    from syndicate.domain.pii import mask

    lines = exc.lines() if isinstance(exc, InputError) else [str(exc)]
    for line in lines:
        # A number the operator typed (as a REF, a level, a file name) is never
        # echoed whole: personal information stays out of terminals and their logs.
        typer.echo(f"error: {mask(line)}", err=True)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Expected errors become one clear line and an exit code, never a traceback.

    Event-store and SQLite failures raised outside an engine operation are mapped to
    `StoreError` here too (`syndicate.engine.store_errors`), so they read the same.
    """
    from syndicate.domain.pii import mask
    from syndicate.engine import store_errors

    try:
        with store_errors():
            yield
    except SyndicateError as exc:
        report(exc)
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:  # the file system said no (permissions, not a directory, …)
        where = f"{exc.filename}: " if exc.filename else ""
        fail(mask(f"{where}{exc.strerror or exc}"), 1)


@contextmanager
def option_names(names: Mapping[str, str]) -> Iterator[None]:
    """Input errors from the library name the command's options, not its parameters
    (`content_hash` → `--hash`): the operator reads what they typed."""
    try:
        yield
    except InputError as exc:
        if not any(p.field in names for p in exc.problems):
            raise
        raise InputError(
            [Problem(names.get(p.field, p.field), p.message) for p in exc.problems],
            source=exc.source,
        ) from None


def change_json(change: Change) -> dict[str, Any]:
    """A write's outcome as commands print it with --json: `released` says whether
    outlets show it now (False: submitted, or approved at a level and waiting for
    the next, `awaiting`)."""
    from syndicate.domain.base import china_time as iso_china

    return {
        "item_id": str(change.item_id),
        "ref": change.ref,
        "version": change.version,
        "event": change.event,
        "position": change.position,
        "timestamp": iso_china(change.timestamp),
        "released": change.released,
        "awaiting": change.awaiting,
        "release_at": iso_china(change.release_at) if change.release_at else None,
    }


def width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table; the last column is never padded."""
    widths = [width(h) for h in headers]
    for row in rows:
        widths = [max(w, width(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [_pad(c, w) for c, w in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def echo_json(data: Any) -> None:
    """Print JSON (UTF-8, not ASCII-escaped), sorted keys for stable output."""
    typer.echo(json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2))


def echo_file(path: Path) -> None:
    """Print a text file (UTF-8) a piece at a time, as it is: for JSON written by a
    command that may be too long to hold."""
    with path.open(encoding="utf-8") as text:
        while piece := text.read(1 << 16):
            typer.echo(piece, nl=False)


def echo_json_line(data: Any) -> None:
    """Print one JSON Lines record."""
    typer.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
