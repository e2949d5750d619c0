"""Standard catalogues (标准目录) from the spreadsheets offices keep: XLSX or CSV.

Catalogues come as the seeds and the county offices write them: a title row, a header
row in Chinese (一级事项, 二级事项, 公开内容, 公开依据, 公开时限, 公开主体, 公开渠道和载体,
公开对象, 公开方式, 公开层级; 济源's eleven elements add 事项类别 and 监督投诉), often a
second header row where 公开对象, 公开方式 or 公开层级 split into columns marked √
(全社会 | 特定群体, 主动 | 依申请, 县级 | 乡级), and 一级事项 / 二级事项 in merged cells
over the rows below them. A CSV exported from such a sheet has the merged cells empty;
they are filled from the row above. Every problem is named by sheet, row and column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syndicate.domain.catalogue import (
    NO_OUTLET_CHANNELS,
    ChannelCategory,
    parse_area,
    parse_attribute,
    parse_channels,
)
from syndicate.domain.content import problems_from_validation_error
from syndicate.domain.standard import MAX_ENTRIES, CatalogueEntry, parse_time_limit
from syndicate.errors import InputError, Problem

__all__ = ["MAX_CATALOGUE_BYTES", "CatalogueFile", "read_catalogue"]

MAX_CATALOGUE_BYTES = 20 * 1024 * 1024
# What an XLSX may unpack to (a 20 MB zip of repeated XML could unpack to gigabytes),
# and the columns read (a catalogue has fewer than 30; a merged range over 16,384
# columns would otherwise be filled cell by cell).
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 200
_HEADER_SCAN = 20  # rows searched for the header (title rows come first)

# Header text → field. Headers are compared without spaces, brackets' contents kept.
_HEADERS: dict[str, str] = {
    "事项编码": "code",
    "编码": "code",
    "事项代码": "code",
    "一级事项": "level1",
    "二级事项": "level2",
    "三级事项": "item",
    "公开内容": "item",
    "公开内容（要素）": "item",
    "公开事项": "item",
    "公开要素": "item",
    "公开依据": "basis",
    "依据": "basis",
    "公开时限": "time_limit",
    "时限": "time_limit",
    "公开主体": "agency",
    "主体": "agency",
    "责任主体": "agency",
    "公开渠道和载体": "channels",
    "公开渠道": "channels",
    "渠道和载体": "channels",
    "公开对象": "audience",
    "对象": "audience",
    "公开方式": "attribute",
    "方式": "attribute",
    "公开层级": "level",
    "层级": "level",
    "事项类别": "category",
    "监督投诉": "supervision",
    "监督投诉渠道": "supervision",
    "监督投诉方式": "supervision",
    "领域": "area",
    "所属领域": "area",
}
_REQUIRED = ("level1", "item", "basis", "time_limit", "agency", "channels")
_NAMES = {
    "level1": "一级事项",
    "item": "公开内容",
    "basis": "公开依据",
    "time_limit": "公开时限",
    "agency": "公开主体",
    "channels": "公开渠道和载体",
}
# Columns that a second header row may split into marked sub-columns.
_SPLIT = frozenset({"audience", "attribute", "level", "channels"})
_NO_MARKS = frozenset({"○", "\u00d7", "否", "N", "n", "0", "-", "\u2014"})
_MARKS = frozenset({"√", "✓", "✔", "●", "■", "是", "Y", "y", "yes", "Yes", "1"})


@dataclass(frozen=True)
class CatalogueFile:
    """A catalogue read from a file: its 事项 in order, the file's name and sha256."""

    entries: tuple[CatalogueEntry, ...]
    source: str
    sha256: str
    sheets: tuple[str, ...]


@dataclass(frozen=True)
class _Column:
    index: int
    field: str
    header: str
    sub: str | None  # the sub-column's label under a split header


def read_catalogue(path: Path) -> CatalogueFile:
    """Read a catalogue from `path` (.xlsx or .csv); `InputError` names every problem
    by sheet, row and column (nothing is read partly)."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(
            [Problem("FILE", f"{path.name}: give an .xlsx or a .csv catalogue")]
        )
    try:
        size = path.stat().st_size
        if size > MAX_CATALOGUE_BYTES:
            raise InputError(
                [
                    Problem(
                        "FILE",
                        f"{path.name} is {size} bytes; a catalogue is at most "
                        f"{MAX_CATALOGUE_BYTES} bytes",
                    )
                ]
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            [Problem("FILE", f"cannot read {path}: {exc.strerror or exc}")]
        ) from None
    sheets = (
        _xlsx_sheets(data, path.name) if suffix == ".xlsx" else _csv_sheet(data, path)
    )
    entries = _entries(sheets)
    return CatalogueFile(
        entries=entries,
        source=_printable(path.name),
        sha256=hashlib.sha256(data).hexdigest(),
        sheets=tuple(name for name, _ in sheets),
    )


# -- reading cells ----------------------------------------------------------------------

Grid = list[list[str]]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_sheets(data: bytes, name: str) -> list[tuple[str, Grid]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise InputError(
                [
                    Problem(
                        "FILE",
                        f"{name} unpacks to {unpacked} bytes; a catalogue workbook "
                        f"unpacks to at most {MAX_UNPACKED_BYTES}",
                    )
                ]
            )
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(
            [Problem("FILE", f"{name} is not a readable XLSX workbook ({exc})")]
        ) from None
    sheets = []
    for sheet in book.worksheets:
        grid: Grid = [
            [_cell_text(v) for v in row[:MAX_COLUMNS]]
            for row in sheet.iter_rows(values_only=True)
        ]
        # A merged cell holds its value in the top-left cell only; the catalogue
        # means it for every cell it spans (一级事项 over the rows below it).
        for merged in sheet.merged_cells.ranges:
            first, last = merged.min_row - 1, min(merged.max_row, len(grid))
            left, right = merged.min_col - 1, min(merged.max_col, MAX_COLUMNS)
            if first >= len(grid) or left >= right:
                continue
            head = grid[first]
            top = head[left] if left < len(head) else ""
            for r in range(first, last):
                row = grid[r]
                while len(row) < right:
                    row.append("")
                for c in range(left, right):
                    row[c] = top
        sheets.append((_printable(sheet.title), grid))
    book.close()
    return sheets


def _unguarded(cell: str) -> str:
    """A cell as it was before a spreadsheet-safe export prefixed it with ' (a cell
    starting with = + - @ would be a formula), so export → import is the identity."""
    if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@"):
        return cell[1:]
    return cell


def _printable(name: str) -> str:
    """A sheet's or file's name as messages show it: characters that would reorder or
    hide text on a terminal (controls, bidi overrides) replaced by "?"."""
    return "".join(
        "?" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in name
    )


def _csv_sheet(data: bytes, path: Path) -> list[tuple[str, Grid]]:
    # Excel in China saves CSV as GB18030 (GBK); others as UTF-8, often with a BOM.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte string
        raise InputError([Problem("FILE", f"{path.name} is neither UTF-8 nor GBK")])
    try:
        grid = [
            [_unguarded(c.strip()) for c in row]
            for row in csv.reader(io.StringIO(text))
        ]
    except csv.Error as exc:
        raise InputError(
            [Problem("FILE", f"{path.name} is not a readable CSV ({exc})")]
        ) from None
    return [(_printable(path.stem), grid)]


# -- headers ----------------------------------------------------------------------------


def _normal(header: str) -> str:
    return "".join(header.split()).replace("(", "（").replace(")", "）")


def _field(header: str) -> str | None:
    text = _normal(header)
    if text in _HEADERS:
        return _HEADERS[text]
    # 公开内容（要素）, 公开时限（工作日）: the name before a bracket.
    base = text.split("（")[0]
    return _HEADERS.get(base)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _find_header(grid: Grid) -> int | None:
    for i, row in enumerate(grid[:_HEADER_SCAN]):
        fields = {_field(c) for c in row if c}
        if "level1" in fields and "item" in fields:
            return i
    return None


def _columns(grid: Grid, at: int) -> tuple[list[_Column], int]:
    """The columns of the header row at `at`, and the first data row."""
    header = grid[at]
    below = grid[at + 1] if at + 1 < len(grid) else []
    columns: list[_Column] = []
    seen: dict[str, list[int]] = {}
    for j, text in enumerate(header):
        field = _field(text) if text else None
        if field is not None:
            seen.setdefault(field, []).append(j)

    # The row below is a second header row when it holds nothing under the columns
    # that do not split (merged down, or left empty) and labels under those that do.
    def under(j: int) -> str:
        return below[j] if j < len(below) else ""

    plain = [j for f, indexes in seen.items() if f not in _SPLIT for j in indexes]
    split = all(under(j) in ("", header[j]) for j in plain) and any(
        under(j) and under(j) != header[j]
        for f, indexes in seen.items()
        if f in _SPLIT
        for j in indexes
    )
    for j, text in enumerate(header):
        field = _field(text) if text else None
        if field is None:
            continue
        sub = below[j] if split and field in _SPLIT and j < len(below) else None
        # A header merged down over both rows repeats itself below: not a sub-column.
        if sub is not None and (sub == text or _field(sub) is not None):
            sub = None
        columns.append(_Column(j, field, text, sub or None))
    return columns, at + (2 if split else 1)


# -- rows -------------------------------------------------------------------------------


def _entries(sheets: Sequence[tuple[str, Grid]]) -> tuple[CatalogueEntry, ...]:
    problems: list[Problem] = []
    entries: list[tuple[str, CatalogueEntry]] = []
    found_header = False
    for name, grid in sheets:
        at = _find_header(grid)
        if at is None:
            if any(any(c for c in row) for row in grid):
                # A cover or notes sheet; said so only if no sheet has a catalogue.
                continue
            continue
        found_header = True
        columns, start = _columns(grid, at)
        have = {c.field for c in columns}
        twice = _repeated_columns(columns)
        if twice:
            problems.append(Problem(f"sheet {name}, row {at + 1}", twice))
            continue
        missing = [f for f in _REQUIRED if f not in have]
        if missing:
            problems.append(
                Problem(
                    f"sheet {name}, row {at + 1}",
                    "missing column "
                    + "、".join(_NAMES[f] for f in missing)
                    + " (the header row needs 一级事项, 公开内容, 公开依据, 公开时限, "
                    "公开主体 and 公开渠道和载体; docs/catalogue.md)",
                )
            )
            continue
        entries.extend(_sheet_entries(name, grid, columns, start, problems))
    if not found_header:
        names = "、".join(name for name, _ in sheets)
        problems.append(
            Problem(
                f"sheet {names}",
                "no header row found in the first 20 rows: a catalogue has a row "
                "naming 一级事项 and 公开内容 (docs/catalogue.md)",
            )
        )
    where: dict[str, str] = {}
    paths: dict[str, str] = {}
    for place, entry in entries:
        if entry.code in where:
            problems.append(
                Problem(
                    place,
                    f"事项 {entry.code!r} appears twice (first at {where[entry.code]}); "
                    "each 事项 is listed once",
                )
            )
        else:
            where[entry.code] = place
        if entry.path in paths:
            problems.append(
                Problem(
                    place,
                    f"事项 {entry.path} appears twice (first at {paths[entry.path]}); "
                    "each 事项 is listed once, under one code",
                )
            )
        else:
            paths[entry.path] = place
    codes = {entry.code: place for place, entry in entries}
    for place, entry in entries:
        other = codes.get(entry.path)
        if other is not None and other != place:
            problems.append(
                Problem(
                    place,
                    f"the path {entry.path} is the code of the 事项 at {other}; an "
                    "item naming it could mean either (give that 事项 another code)",
                )
            )
    if len(entries) > MAX_ENTRIES:
        problems.append(
            Problem(
                "FILE", f"{len(entries)} 事项; a catalogue holds at most {MAX_ENTRIES}"
            )
        )
    if not entries and not problems:
        problems.append(Problem("FILE", "the catalogue lists no 事项"))
    if problems:
        raise InputError(problems)
    return tuple(entry for _, entry in entries)


def _repeated_columns(columns: list[_Column]) -> str | None:
    """Why the header is ambiguous (two columns for one element), or None. Columns
    split under one header (√ columns) are one element."""
    seen: dict[str, _Column] = {}
    for column in columns:
        first = seen.get(column.field)
        if first is None:
            seen[column.field] = column
            continue
        if column.sub is not None and first.sub is not None:
            continue
        return (
            f"columns {_column_letter(first.index)} ({_printable(first.header)}) and "
            f"{_column_letter(column.index)} ({_printable(column.header)}) both give "
            f"{column.field}; keep one"
        )
    return None


def _sheet_entries(
    name: str,
    grid: Grid,
    columns: list[_Column],
    start: int,
    problems: list[Problem],
) -> Iterator[tuple[str, CatalogueEntry]]:
    previous: dict[str, str] = {}
    area_of_sheet = _sheet_area(name)
    for r in range(start, len(grid)):
        row = grid[r]
        cells = {c.index: (row[c.index] if c.index < len(row) else "") for c in columns}
        if not any(cells.values()):
            continue
        place = f"sheet {name}, row {r + 1}"
        values: dict[str, Any] = {}
        row_problems: list[Problem] = []
        marked: dict[str, list[str]] = {}
        for column in columns:
            text = cells[column.index]
            if column.sub is not None:
                if text in _MARKS:
                    marked.setdefault(column.field, []).append(column.sub)
                elif text and text not in _NO_MARKS:
                    row_problems.append(
                        Problem(
                            _where(name, r, column),
                            f"{text!r} is not a mark; write √ in the column that "
                            "applies and leave the others empty",
                        )
                    )
                continue
            if text:
                values[column.field] = text
        for field, subs in marked.items():
            values[field] = "、".join(subs)
        # Cells of merged 一级/二级事项 exported to CSV are empty: the row above's.
        if "level1" not in values and "level1" in previous:
            values["level1"] = previous["level1"]
            if "level2" not in values and "level2" in previous:
                values["level2"] = previous["level2"]
        for field in ("level1", "level2"):
            if field in values:
                previous[field] = values[field]
            else:
                previous.pop(field, None)
        entry = _entry(name, r, columns, values, area_of_sheet, row_problems)
        problems.extend(row_problems)
        if entry is not None:
            yield place, entry


def _where(sheet: str, r: int, column: _Column) -> str:
    label = _printable(column.header) + (
        f"/{_printable(column.sub)}" if column.sub else ""
    )
    return (
        f"sheet {sheet}, row {r + 1}, column {_column_letter(column.index)} ({label})"
    )


def _sheet_area(name: str) -> str | None:
    for candidate in (name, name.removesuffix("领域"), name.split("领域")[0]):
        try:
            return parse_area(candidate)
        except ValueError:
            continue
    return None


def _entry(
    sheet: str,
    r: int,
    columns: list[_Column],
    values: dict[str, Any],
    area_of_sheet: str | None,
    problems: list[Problem],
) -> CatalogueEntry | None:
    by_field = {c.field: c for c in columns}

    def fail(field: str, message: str) -> None:
        problems.append(Problem(_where(sheet, r, by_field[field]), message))

    for field in _REQUIRED:
        if not values.get(field):
            fail(field, f"{_NAMES[field]} is empty; every 事项 needs one")
    data: dict[str, Any] = {
        k: v for k, v in values.items() if k not in ("channels", "attribute", "area")
    }
    if "time_limit" in values:
        try:
            days, period = parse_time_limit(values["time_limit"])
            data["time_limit_days"], data["period"] = days, period
        except ValueError as exc:
            fail("time_limit", str(exc))
    if "channels" in values:
        outlets: list[ChannelCategory] = []
        others: list[str] = []
        for part in _split(values["channels"]):
            if part in NO_OUTLET_CHANNELS:
                others.append(part)
                continue
            try:
                outlets.extend(parse_channels(part))
            except ValueError as exc:
                fail("channels", str(exc))
        data["channels"] = tuple(dict.fromkeys(outlets))
        data["other_channels"] = tuple(dict.fromkeys(others))
    if "attribute" in values:
        try:
            data["attribute"] = parse_attribute(values["attribute"].split("、")[0])
        except ValueError as exc:
            fail("attribute", str(exc))
    if "audience" in values:
        data["audience"] = values["audience"].split("、")[0]
    area = values.get("area")
    if area:
        try:
            data["area"] = parse_area(area)
        except ValueError as exc:
            fail("area", str(exc))
    elif area_of_sheet is not None:
        data["area"] = area_of_sheet
    if problems:
        return None
    path = "/".join(
        p for p in (data.get("level1"), data.get("level2"), data.get("item")) if p
    )
    data.setdefault("code", path)
    try:
        return CatalogueEntry.model_validate(data)
    except ValidationError as exc:
        for problem in problems_from_validation_error(exc):
            field = problem.field.split(".")[0].split("[")[0]
            if field in by_field:
                fail(field, problem.message)
            else:
                problems.append(Problem(f"sheet {sheet}, row {r + 1}", str(problem)))
        return None


def _split(value: str) -> list[str]:
    parts = []
    for chunk in (
        value.replace("，", "、").replace(",", "、").replace("；", "、").split("、")
    ):
        for line in chunk.splitlines():
            text = line.strip().replace("(", "（").replace(")", "）")
            if text:
                parts.append(text)
    return parts
