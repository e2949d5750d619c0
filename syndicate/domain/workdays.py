"""Official working days in China (Asia/Shanghai dates).

Working days follow the official calendar via ``chinesecalendar`` (weekends, public
holidays and 调休 make-up working days). For years that package does not cover, the
calendar falls back to Monday-Friday plus an operator-supplied holiday file, and
``WorkdayCalendar.warnings()`` names every year answered by weekends alone. The holiday
file format is described in `syndicate.audit.deadlines`. Used by the Art. 26 deadlines
and by the minimum length of a 公示期 (`[notice] minimum_working_days`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

__all__ = ["HolidayFileError", "WorkdayCalendar", "load_holiday_file"]

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

    def working_days_in(self, start: date, end: date) -> int:
        """Working days d with start <= d <= end (a 公示期, both ends inclusive)."""
        return self.working_days_between(start - _ONE_DAY, end)
