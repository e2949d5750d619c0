"""Statutory disclosure deadlines (Art. 26 of the Regulations on Government Information
Disclosure): proactively disclosed information is due within 20 working days of the day
it is formed or changed.

Working days follow the official calendar via ``chinesecalendar`` (weekends, public
holidays and 调休 make-up working days). For years that package does not cover, the
calendar falls back to Monday-Friday plus an operator-supplied holiday file, and
``WorkdayCalendar.warnings()`` names every year answered by weekends alone.

Holiday file format (UTF-8 text, written from the State Council's annual notice)::

    # 2027 holidays
    2027-01-01 off      # New Year's Day (a weekday that is not worked)
    2027-02-06 work     # 调休: a Saturday that is worked

One entry per line: an ISO date ``YYYY-MM-DD`` and the word ``off`` (holiday) or
``work`` (working day). Text after ``#`` is a comment; blank lines are ignored. A date
listed twice, a malformed date or any other word is an error naming the line.

All dates are plain ``datetime.date`` values in China local time (Asia/Shanghai).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

import chinese_calendar

__all__ = [
    "Deadline",
    "DeadlineState",
    "HolidayFileError",
    "WorkdayCalendar",
    "deadline_for",
    "load_holiday_file",
]

_WORDS = {"off": False, "work": True}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = timedelta(days=1)


class HolidayFileError(ValueError):
    """A holiday file is malformed; the message names the file, line and problem."""

    def __init__(self, path: Path, lineno: int, problem: str) -> None:
        super().__init__(f"{path}:{lineno}: {problem}")
        self.path = path
        self.lineno = lineno
        self.problem = problem


def load_holiday_file(path: Path) -> dict[date, bool]:
    """Parse a holiday file into overrides (True = working day, False = day off)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise HolidayFileError(path, 0, f"not valid UTF-8 ({exc.reason})") from exc
    entries: dict[date, bool] = {}
    first_seen: dict[date, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise HolidayFileError(
                path, lineno, f"expected 'YYYY-MM-DD off|work', got {raw.strip()!r}"
            )
        day_text, word = fields
        try:
            if not _DATE.fullmatch(day_text):
                raise ValueError
            day = date.fromisoformat(day_text)
        except ValueError:
            raise HolidayFileError(
                path, lineno, f"invalid date {day_text!r} (expected YYYY-MM-DD)"
            ) from None
        if word.lower() not in _WORDS:
            raise HolidayFileError(
                path, lineno, f"unknown word {word!r} (expected 'off' or 'work')"
            )
        if day in entries:
            raise HolidayFileError(
                path, lineno, f"{day} already listed on line {first_seen[day]}"
            )
        entries[day] = _WORDS[word.lower()]
        first_seen[day] = lineno
    return entries


class WorkdayCalendar:
    """Official working days: overrides, then chinesecalendar, then Monday-Friday."""

    def __init__(self, overrides: dict[date, bool] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._override_years = {d.year for d in self._overrides}
        self.fallback_years: set[int] = set()

    def is_workday(self, d: date) -> bool:
        if d in self._overrides:
            return self._overrides[d]
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._override_years:
                self.fallback_years.add(d.year)
            return d.weekday() < 5

    def warnings(self) -> list[str]:
        version = getattr(chinese_calendar, "__version__", "(unknown version)")
        return [
            f"{year}: not covered by chinesecalendar {version} and no holiday file "
            "entries; counting weekends only"
            for year in sorted(self.fallback_years)
        ]

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself is not counted)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        d = start
        while n:
            d += _ONE_DAY
            if self.is_workday(d):
                n -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days d with a < d <= b (0 if b <= a)."""
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            count += self.is_workday(d)
            d += _ONE_DAY
        return count


class DeadlineState(StrEnum):
    MET = "met"
    LATE = "late"
    OPEN = "open"
    DUE_SOON = "due_soon"


@dataclass(frozen=True)
class Deadline:
    formed_on: date
    due: date
    published_on: date | None
    state: DeadlineState
    late_by: int = 0
    """Working days past ``due`` (to publication, or to today if unpublished); at least
    1 for a LATE item (one published on a rest day right after ``due`` counts as 1)."""
    remaining: int = 0
    """Working days left until ``due`` (open / due_soon only)."""

    def as_json(self) -> dict[str, object]:
        return {
            "formed_on": self.formed_on.isoformat(),
            "due": self.due.isoformat(),
            "published_on": (
                self.published_on.isoformat() if self.published_on else None
            ),
            "state": self.state.value,
            "late_by": self.late_by,
            "remaining": self.remaining,
        }


def deadline_for(
    formed_on: date,
    published_on: date | None,
    *,
    today: date,
    calendar: WorkdayCalendar,
    limit_days: int = 20,
    due_soon_days: int = 5,
) -> Deadline:
    """Classify one item against the Art. 26 limit (``limit_days`` working days)."""
    due = calendar.add_working_days(formed_on, limit_days)
    if published_on is not None:
        if published_on <= due:
            return Deadline(formed_on, due, published_on, DeadlineState.MET)
        # Published on a rest day after the due date: late, by (at least) one day.
        late_by = max(calendar.working_days_between(due, published_on), 1)
        return Deadline(formed_on, due, published_on, DeadlineState.LATE, late_by)
    if today > due:
        late_by = max(calendar.working_days_between(due, today), 1)
        return Deadline(formed_on, due, None, DeadlineState.LATE, late_by)
    remaining = calendar.working_days_between(today, due)
    state = DeadlineState.DUE_SOON if remaining <= due_soon_days else DeadlineState.OPEN
    return Deadline(formed_on, due, None, state, remaining=remaining)
