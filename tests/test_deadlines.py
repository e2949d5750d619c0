"""Art. 26 deadlines: 20 working days on the official calendar, with a holiday-file
fallback for years chinesecalendar does not cover."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.audit.deadlines import (
    DeadlineState,
    HolidayFileError,
    WorkdayCalendar,
    deadline_for,
    load_holiday_file,
)


def due(formed_on: date, cal: WorkdayCalendar | None = None) -> date:
    return (cal or WorkdayCalendar()).add_working_days(formed_on, 20)


def test_national_day_2025_matches_chinese_calendar() -> None:
    # Source data: Oct 1-8 off, Sun Sept 28 and Sat Oct 11 are 调休 working days.
    off = [date(2025, 10, d) for d in range(1, 9)]
    assert not any(chinese_calendar.is_workday(d) for d in off)
    assert chinese_calendar.is_workday(date(2025, 9, 28))
    assert chinese_calendar.is_workday(date(2025, 10, 11))
    # Formed Fri Sept 26. Working days after it: Sept 28, 29, 30 (3); Oct 9, 10, 11 (6);
    # Oct 13-17 (11); Oct 20-24 (16); Oct 27, 28, 29, 30 (20) -> due Thu Oct 30.
    assert due(date(2025, 9, 26)) == date(2025, 10, 30)


def test_spring_festival_2026() -> None:
    # Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are 调休 working days.
    assert chinese_calendar.is_workday(date(2026, 2, 14))
    assert not chinese_calendar.is_workday(date(2026, 2, 23))
    # Formed Tue Feb 10: Feb 11, 12, 13, 14 (4); Feb 24-28 (9); Mar 2-6 (14);
    # Mar 9-13 (19); Mar 16 (20).
    assert due(date(2026, 2, 10)) == date(2026, 3, 16)


def test_ordinary_month_2024() -> None:
    # Formed Fri Nov 1, 2024; no holidays: four full weeks -> Fri Nov 29.
    assert due(date(2024, 11, 1)) == date(2024, 11, 29)
    assert WorkdayCalendar().add_working_days(date(2024, 11, 1), 0) == date(2024, 11, 1)


FORMED = date(2024, 11, 1)  # due Fri 2024-11-29


@pytest.mark.parametrize(
    ("published", "today", "state", "late_by", "remaining"),
    [
        (date(2024, 11, 29), date(2025, 1, 6), DeadlineState.MET, 0, 0),
        (date(2024, 11, 5), date(2024, 11, 5), DeadlineState.MET, 0, 0),
        (date(2024, 12, 4), date(2025, 1, 6), DeadlineState.LATE, 3, 0),  # Dec 2-4
        (None, date(2024, 12, 6), DeadlineState.LATE, 5, 0),  # Dec 2-6, unpublished
        (None, date(2024, 11, 29), DeadlineState.DUE_SOON, 0, 0),
        (None, date(2024, 11, 22), DeadlineState.DUE_SOON, 0, 5),  # Nov 25-29
        (None, date(2024, 11, 21), DeadlineState.OPEN, 0, 6),
    ],
)
def test_states(
    published: date | None,
    today: date,
    state: DeadlineState,
    late_by: int,
    remaining: int,
) -> None:
    d = deadline_for(FORMED, published, today=today, calendar=WorkdayCalendar())
    assert (d.due, d.published_on, d.state) == (date(2024, 11, 29), published, state)
    assert (d.late_by, d.remaining) == (late_by, remaining)


def test_as_json_and_limits() -> None:
    d = deadline_for(
        FORMED,
        None,
        today=date(2024, 11, 1),
        calendar=WorkdayCalendar(),
        limit_days=5,
        due_soon_days=2,
    )
    assert d.as_json() == {
        "formed_on": "2024-11-01",
        "due": "2024-11-08",
        "published_on": None,
        "state": "open",
        "late_by": 0,
        "remaining": 5,
        "limit_days": 5,
    }


def test_fallback_2027_counts_weekends_and_warns() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 3, 1))
    cal = WorkdayCalendar()
    # Formed Mon Mar 1, 2027: Mar 2-5 (4), 8-12 (9), 15-19 (14), 22-26 (19), 29 (20).
    assert due(date(2027, 3, 1), cal) == date(2027, 3, 29)
    assert cal.fallback_years == {2027}
    [warning] = cal.warnings()
    assert warning.startswith("2027: not covered by chinesecalendar 1.11.0")
    assert warning.endswith("no holiday file entries; counting weekends only")
    # Covered years never warn.
    cal = WorkdayCalendar()
    due(date(2026, 12, 1), cal)
    assert cal.warnings() == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_holiday_file_overrides_2027(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# 2027 notice (hypothetical)\n\n"
        "2027-03-10 off   # Wednesday\n"
        "2027-03-11 OFF\n"
        "  2027-03-13 work  # 调休 Saturday\n",
    )
    overrides = load_holiday_file(path)
    assert overrides == {
        date(2027, 3, 10): False,
        date(2027, 3, 11): False,
        date(2027, 3, 13): True,
    }
    cal = WorkdayCalendar(overrides)
    # Mar 2-5 (4), 8, 9 (6), 12 (7), Sat 13 (8), 15-19 (13), 22-26 (18), 29, 30 (20).
    assert due(date(2027, 3, 1), cal) == date(2027, 3, 30)
    assert cal.fallback_years == set()
    assert cal.warnings() == []
    # Each override on its own moves the date.
    off_only = WorkdayCalendar({date(2027, 3, 10): False})
    assert due(date(2027, 3, 1), off_only) == date(2027, 3, 30)
    work_only = WorkdayCalendar({date(2027, 3, 13): True})
    assert due(date(2027, 3, 1), work_only) == date(2027, 3, 26)
    # Entries for 2027 do not silence 2028.
    cal = WorkdayCalendar(overrides)
    cal.working_days_between(date(2027, 12, 20), date(2028, 1, 10))
    assert [w[:5] for w in cal.warnings()] == ["2028:"]


def test_override_beats_chinese_calendar() -> None:
    cal = WorkdayCalendar({date(2025, 10, 9): False})
    assert not cal.is_workday(date(2025, 10, 9))
    assert cal.is_workday(date(2025, 10, 10))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("2027-01-01 off\n2027-13-01 off\n", 2, "invalid date '2027-13-01'"),
        ("# c\n\n2027/01/01 off\n", 3, "invalid date '2027/01/01'"),
        ("2027-01-01 holiday\n", 1, "unknown word 'holiday'"),
        ("2027-01-01 off\n2027-01-01 work\n", 2, "2027-01-01 already listed on line 1"),
        ("2027-01-01\n", 1, "expected 'YYYY-MM-DD off|work'"),
        ("2027-01-01 off extra\n", 1, "expected 'YYYY-MM-DD off|work'"),
    ],
)
def test_holiday_file_errors(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HolidayFileError) as info:
        load_holiday_file(path)
    assert str(info.value).startswith(f"{path}:{line}: {problem}")
    assert isinstance(info.value, ValueError)
    assert info.value.lineno == line


def test_working_days_between_edges() -> None:
    cal = WorkdayCalendar()
    a = date(2025, 9, 26)
    assert cal.working_days_between(a, a) == 0
    assert cal.working_days_between(a, a - timedelta(days=3)) == 0
    assert cal.working_days_between(a, date(2025, 10, 8)) == 3  # Sept 28-30
    with pytest.raises(ValueError, match="n must be >= 0"):
        cal.add_working_days(a, -1)


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    n=st.integers(min_value=0, max_value=40),
)
def test_add_then_count_roundtrip(start: date, n: int) -> None:
    cal = WorkdayCalendar()
    end = cal.add_working_days(start, n)
    assert cal.working_days_between(start, end) == n
    assert n == 0 or cal.is_workday(end)


def test_published_on_a_rest_day_after_the_due_date_is_late_by_one() -> None:
    calendar = WorkdayCalendar()
    # Formed 2024-11-01 (Friday) is due 2024-11-29 (Friday); Saturday 11-30 is a rest day.
    deadline = deadline_for(
        date(2024, 11, 1),
        date(2024, 11, 30),
        today=date(2024, 12, 10),
        calendar=calendar,
    )
    assert deadline.due == date(2024, 11, 29)
    assert deadline.state is DeadlineState.LATE
    assert deadline.late_by == 1
