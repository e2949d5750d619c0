"""Coverage: each 事项 of the standard catalogue against what was published for it.

What an inspector does with a county's catalogue: for every 事项, look for what was
published, and note the blanks (空白). A 事项 with no public item at all is `blank`;
a 事项 whose 时限 says 每月 / 每季度 / 每半年 / 每年 needs something new in each such
period: a period that ended in the quarter with nothing is `missing`, one not over yet
with nothing is `open`. Items withdrawn before the quarter's end do not count. Items
naming a 事项 the catalogue no longer lists are reported apart (`orphans`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from syndicate.audit.facts import ItemFacts
from syndicate.audit.trail import safe_csv
from syndicate.domain.base import CHINA_TZ, china_time
from syndicate.domain.standard import CatalogueEntry, CatalogueVersion, Period
from syndicate.errors import InputError, Problem

__all__ = [
    "CoverageReport",
    "CoverageRow",
    "CoverageState",
    "CoveredItem",
    "Quarter",
    "coverage",
    "coverage_csv",
]

_QUARTER = re.compile(r"^\s*(\d{4})\s*[Qq]\s*([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter in China time, e.g. 2026Q2 (April to June)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """`2026Q2` → Quarter(2026, 2); `InputError` (field --quarter) otherwise."""
        found = _QUARTER.match(text)
        if found is None or not 2000 <= int(found.group(1)) <= 2199:
            raise InputError(
                [
                    Problem(
                        "--quarter",
                        f"{text!r} is not a quarter; write it as 2026Q2 (year, Q, 1-4)",
                    )
                ]
            )
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        """The quarter `day` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        """Its first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """Its last day."""
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


class CoverageState(StrEnum):
    """What an inspector would say of one 事项 in the quarter."""

    PUBLISHED = "published"  # something public for it (in each period it needs)
    BLANK = "blank"  # 空白: nothing public for it, ever
    MISSING = "missing"  # a period it needs ended in the quarter with nothing
    OPEN = "open"  # nothing yet in a period that has not ended

    @property
    def label(self) -> str:
        """Chinese name as a 检查 sheet writes it."""
        return {
            CoverageState.PUBLISHED: "已公开",
            CoverageState.BLANK: "空白",
            CoverageState.MISSING: "本期未更新",
            CoverageState.OPEN: "本期待公开",
        }[self]


@dataclass(frozen=True)
class CoveredItem:
    """A public item fulfilling a 事项, and the times it became public or changed."""

    item_id: UUID
    ref: str
    title: str
    published_at: datetime
    changed_at: tuple[datetime, ...]

    def as_json(self) -> dict[str, object]:
        """JSON form."""
        return {
            "item_id": str(self.item_id),
            "ref": self.ref,
            "title": self.title,
            "published_at": china_time(self.published_at),
            "changed_at": [china_time(t) for t in self.changed_at],
        }


@dataclass(frozen=True)
class CoverageRow:
    """One 事项 of the catalogue and what was published for it."""

    entry: CatalogueEntry
    state: CoverageState
    items: tuple[CoveredItem, ...]
    in_quarter: tuple[str, ...]  # refs of items public or changed in the quarter
    missing: tuple[str, ...]  # periods (2026-04, 2026Q2, 2026H1, 2026) with nothing

    def as_json(self) -> dict[str, object]:
        """JSON form."""
        e = self.entry
        return {
            "code": e.code,
            "path": e.path,
            "agency": e.agency,
            "time_limit": e.time_limit,
            "period": e.period.value if e.period else None,
            "state": self.state.value,
            "items": [i.as_json() for i in self.items],
            "in_quarter": list(self.in_quarter),
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class CoverageReport:
    """Every 事项 (of one agency, or all) against the log, for one quarter."""

    quarter: Quarter
    today: date
    catalogue_version: int
    rows: tuple[CoverageRow, ...]
    # Public items naming a 事项 this catalogue version does not list (code, refs).
    orphans: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def blanks(self) -> tuple[CoverageRow, ...]:
        """The 事项 an inspector would mark: blank or missing in the quarter."""
        return tuple(
            r
            for r in self.rows
            if r.state in (CoverageState.BLANK, CoverageState.MISSING)
        )

    def as_json(self) -> dict[str, object]:
        """JSON form."""
        counts = {s.value: 0 for s in CoverageState}
        for row in self.rows:
            counts[row.state.value] += 1
        return {
            "quarter": str(self.quarter),
            "today": self.today.isoformat(),
            "catalogue_version": self.catalogue_version,
            "counts": counts,
            "rows": [r.as_json() for r in self.rows],
            "orphans": [{"code": c, "refs": list(r)} for c, r in self.orphans],
        }


def _china(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


def _windows(period: Period, quarter: Quarter) -> list[tuple[str, date, date]]:
    """The periods of `period` that end within `quarter`: (label, first, last day)."""
    y = quarter.year
    if period is Period.MONTH:
        found = []
        for month in range(quarter.start.month, quarter.end.month + 1):
            first = date(y, month, 1)
            last = (
                date(y, 12, 31)
                if month == 12
                else date(y, month + 1, 1) - timedelta(days=1)
            )
            found.append((f"{y}-{month:02d}", first, last))
        return found
    if period is Period.QUARTER:
        return [(str(quarter), quarter.start, quarter.end)]
    if period is Period.HALF_YEAR:
        if quarter.number == 2:
            return [(f"{y}H1", date(y, 1, 1), date(y, 6, 30))]
        if quarter.number == 4:
            return [(f"{y}H2", date(y, 7, 1), date(y, 12, 31))]
        return []
    if quarter.number == 4:
        return [(str(y), date(y, 1, 1), date(y, 12, 31))]
    return []


def coverage(
    version: CatalogueVersion,
    facts: Mapping[UUID, ItemFacts],
    *,
    quarter: Quarter,
    today: date,
    agency: str | None = None,
) -> CoverageReport:
    """Each 事项 of `version` (of `agency`, when given) against the items' facts, as
    of the end of `quarter` (or `today`, if earlier)."""
    as_of = min(quarter.end, today)
    by_code: dict[str, list[CoveredItem]] = {}
    for f in facts.values():
        if f.published_at is None or _china(f.published_at) > as_of:
            continue
        if f.withdrawn_at is not None and _china(f.withdrawn_at) <= as_of:
            continue
        # Each public version counts for the 事项 it fulfilled when it was public: a
        # revision naming another 事项 later does not rewrite an earlier quarter.
        times: dict[str, list[datetime]] = {}
        for at, code in f.catalogue_history:
            if code is not None and _china(at) <= as_of:
                times.setdefault(code, []).append(at)
        for code, moments in times.items():
            by_code.setdefault(code, []).append(
                CoveredItem(
                    item_id=f.id,
                    ref=f.ref,
                    title=f.title,
                    published_at=moments[0],
                    changed_at=tuple(moments[1:]),
                )
            )
    rows = []
    for entry in version.entries:
        if agency is not None and entry.agency != agency:
            continue
        items = tuple(by_code.get(entry.code, ()))
        rows.append(_row(entry, items, quarter, today))
    listed = {e.code for e in version.entries}
    orphans = tuple(
        (code, tuple(i.ref for i in items))
        for code, items in sorted(by_code.items())
        if code not in listed
        and (agency is None or any(i.ref.startswith(f"{agency}/") for i in items))
    )
    return CoverageReport(
        quarter=quarter,
        today=today,
        catalogue_version=version.version,
        rows=tuple(rows),
        orphans=orphans,
    )


def _times(item: CoveredItem) -> Iterable[date]:
    yield _china(item.published_at)
    yield from (_china(t) for t in item.changed_at)


def _row(
    entry: CatalogueEntry,
    items: tuple[CoveredItem, ...],
    quarter: Quarter,
    today: date,
) -> CoverageRow:
    in_quarter = tuple(
        i.ref
        for i in items
        if any(quarter.start <= d <= quarter.end for d in _times(i))
    )
    if not items:
        return CoverageRow(entry, CoverageState.BLANK, items, in_quarter, ())
    if entry.period is None:
        return CoverageRow(entry, CoverageState.PUBLISHED, items, in_quarter, ())
    missing: list[str] = []
    open_ = False
    for label, first, last in _windows(entry.period, quarter):
        if first > today:
            continue  # not begun
        if any(first <= d <= min(last, today) for i in items for d in _times(i)):
            continue
        if last >= today:
            open_ = True
        else:
            missing.append(label)
    if missing:
        state = CoverageState.MISSING
    elif open_:
        state = CoverageState.OPEN
    else:
        state = CoverageState.PUBLISHED
    return CoverageRow(entry, state, items, in_quarter, tuple(missing))


_CSV_HEADER = (
    "事项编码",
    "一级事项",
    "二级事项",
    "公开内容",
    "公开主体",
    "公开时限",
    "状态",
    "state",
    "本季度公开",
    "已公开信息",
    "未更新期间",
)


def coverage_csv(report: CoverageReport) -> str:
    """The report as CSV (UTF-8 text; a header row in Chinese, one row per 事项)."""
    return safe_csv(
        _CSV_HEADER,
        (
            (
                row.entry.code,
                row.entry.level1,
                row.entry.level2 or "",
                row.entry.item,
                row.entry.agency,
                row.entry.time_limit,
                row.state.label,
                row.state.value,
                "；".join(row.in_quarter),
                "；".join(i.ref for i in row.items),
                "；".join(row.missing),
            )
            for row in report.rows
        ),
    )
