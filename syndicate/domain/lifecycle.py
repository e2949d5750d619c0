"""Time on every outlet: scheduled release, the 公示期 window, validity (docs/lifecycle.md).

Pure rules, no I/O and no clock of their own: every function takes the moment or the
day it judges by, so one clock (`Disclosures.clock`, `syndicate sync --now`) drives
them all.

- `NoticePolicy`: the home's `[notice]` (what outlets do once a window ended, whether
  group robots hear of it, the minimum length of a window per area) and the working-day
  calendar it counts with.
- `notice_problems`: why a 公示 may not be released as given (late, short, or starting
  before it can be released); refused unless a late reason is recorded
  (`NoticeExcepted`).
- `due_at`: when the item's next time-driven change falls due (a scheduled release,
  the end of its window, its expiry), or None; `due_changes` lists those due by a
  moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.items import AFTER_END, DisclosureItem, ItemStatus
from syndicate.domain.workdays import WorkdayCalendar
from syndicate.errors import DomainError, InputError, Problem

__all__ = [
    "DueChange",
    "DueKind",
    "NoticePolicy",
    "NoticeRefused",
    "day_start",
    "due_at",
    "due_changes",
    "notice_problems",
    "parse_time",
]

_ONE_DAY = timedelta(days=1)


def day_start(day: date) -> datetime:
    """00:00 China time of `day` (when a window starts; the day after one ends)."""
    return datetime.combine(day, time(0), CHINA_TZ)


@dataclass(frozen=True)
class NoticePolicy:
    """`[notice]`: what outlets do once a 公示期 ended, and how short one may be.

    `after_end`: "hide_details" (the page stays, marked 公示期已结束, without the list
    and its attachments; the default), "keep" (marked, with everything) or "remove"
    (taken down where the outlet can be). `notify_end`: group robots send a short
    notice when a window ends. `minimum_working_days`: the shortest window, in working
    days (both ends counted), with `area_minimum` per pilot area (e.g. 社会救助 7).
    """

    after_end: str = "hide_details"
    notify_end: bool = False
    minimum_working_days: int = 5
    area_minimum: Mapping[str, int] = field(default_factory=dict)
    calendar: WorkdayCalendar = field(default_factory=WorkdayCalendar)

    def __post_init__(self) -> None:
        if self.after_end not in AFTER_END:
            raise ValueError(f"after_end must be one of {', '.join(AFTER_END)}")

    def minimum_for(self, area: str) -> int:
        """The shortest window for an item of `area`, in working days."""
        return self.area_minimum.get(area, self.minimum_working_days)


class NoticeRefused(DomainError):
    """A 公示 would be late, short or start before it can be released: nothing was
    stored. `problems` say what; `late_reason` (`--late-reason`) accepts them."""

    def __init__(self, ref: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{ref}: this 公示 cannot be released as given; nothing was stored:\n  "
            + "\n  ".join(problems)
            + '\nfix notice_period, or give --late-reason "…" (late_reason=) to '
            "publish it anyway: the reason is recorded and listed by `audit report`"
        )


def notice_problems(
    content: ItemContent,
    *,
    release_day: date,
    policy: NoticePolicy,
    before: ItemContent | None = None,
) -> list[str]:
    """Why the 公示 in `content` may not be released on `release_day` (China).

    A first release: its window must not have ended, must not have started before
    `release_day`, and must be at least the area's minimum of working days. A revision
    (`before`: the content shown now) is judged only when it changes the window, and
    then only for ending in the past and for length (a running window started before).
    """
    period = content.notice_period
    if period is None or (before is not None and before.notice_period == period):
        return []
    problems = []
    if period.end < release_day:
        problems.append(
            f"notice_period.end: the window ended on {period.end}, before it can be "
            f"released ({release_day}); a 公示 published after its window proves "
            "nothing to the people it concerns"
        )
    elif before is None and period.start < release_day:
        problems.append(
            f"notice_period.start: {period.start} is before the day it can be "
            f"released ({release_day}): it would be up for fewer days than it announces"
        )
    minimum = policy.minimum_for(content.area)
    days = policy.calendar.working_days_in(period.start, period.end)
    if days < minimum:
        problems.append(
            f"notice_period: {period.start} to {period.end} has {days} working "
            f"day{'s' if days != 1 else ''}; a 公示 in {content.area} needs at least "
            f"{minimum} ([notice] minimum_working_days)"
        )
    return problems


class DueKind(StrEnum):
    """A time-driven change of an item."""

    RELEASE = "release"  # 定时发布
    NOTICE_END = "notice_end"  # 公示期已结束
    EXPIRY = "expiry"  # 已失效


@dataclass(frozen=True, order=True)
class DueChange:
    """One time-driven change of one item, and when it falls due."""

    at: datetime
    kind: DueKind
    item_id: str
    ref: str


def due_at(item: DisclosureItem) -> list[DueChange]:
    """Every time-driven change the item waits for, earliest first."""
    found: list[DueChange] = []
    id_, ref = str(item.id), item.ref
    if item.status is ItemStatus.WITHDRAWN:
        return found
    if item.schedule is not None and item.pending is not None:
        found.append(DueChange(item.schedule.release_at, DueKind.RELEASE, id_, ref))
    if item.status is ItemStatus.PUBLISHED:
        period = item.content.notice_period
        if period is not None and not item.notice_over:
            found.append(
                DueChange(_day_after(period.end), DueKind.NOTICE_END, id_, ref)
            )
        until = item.content.valid_until
        if until is not None and item.repeal is None and not item.expired:
            found.append(DueChange(_day_after(until), DueKind.EXPIRY, id_, ref))
    return sorted(found)


def _day_after(day: date) -> datetime:
    """00:00 of the day after `day` (a stored date at the end of the calendar never
    falls due, rather than overflow)."""
    if day >= date.max - _ONE_DAY:
        return datetime.max.replace(tzinfo=CHINA_TZ)
    return day_start(day + _ONE_DAY)


def due_changes(item: DisclosureItem, now: datetime) -> list[DueChange]:
    """The item's time-driven changes due by `now`."""
    return [d for d in due_at(item) if d.at <= now]


def parse_time(field: str, value: str) -> datetime:
    """A time an operator typed (`2026-12-08T09:00`, `2026-12-08 09:00`, with or
    without seconds or a zone; China time unless it names its zone)."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            [
                Problem(
                    field,
                    f"{value!r} is not a time; write it as 2026-12-08T09:00 (China "
                    "time)",
                )
            ]
        ) from None
    if len(text) <= 10:  # a date alone: its first minute
        raise InputError(
            [Problem(field, f"{value!r} has no time of day; e.g. {text}T09:00")]
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
