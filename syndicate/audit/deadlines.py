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

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from syndicate.domain.workdays import (
    HolidayFileError,
    WorkdayCalendar,
    load_holiday_file,
)

__all__ = [
    "Deadline",
    "DeadlineState",
    "HolidayFileError",
    "WorkdayCalendar",
    "deadline_for",
    "load_holiday_file",
]


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
    limit_days: int = 20
    """The working days allowed: 20 (Art. 26) or the catalogue 事项's 时限."""

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
            "limit_days": self.limit_days,
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
            return Deadline(
                formed_on, due, published_on, DeadlineState.MET, limit_days=limit_days
            )
        # Published on a rest day after the due date: late, by (at least) one day.
        late_by = max(calendar.working_days_between(due, published_on), 1)
        return Deadline(
            formed_on,
            due,
            published_on,
            DeadlineState.LATE,
            late_by,
            limit_days=limit_days,
        )
    if today > due:
        late_by = max(calendar.working_days_between(due, today), 1)
        return Deadline(
            formed_on, due, None, DeadlineState.LATE, late_by, limit_days=limit_days
        )
    remaining = calendar.working_days_between(today, due)
    state = DeadlineState.DUE_SOON if remaining <= due_soon_days else DeadlineState.OPEN
    return Deadline(
        formed_on, due, None, state, remaining=remaining, limit_days=limit_days
    )
