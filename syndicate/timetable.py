"""The timetable: when each item's next time-driven change falls due, kept beside the
items log.

A scheduled release (定时发布), the end of a 公示 window and a lapsed validity are
recorded by `sync` and the worker when their time comes (`Disclosures.advance`). To
know which items wait for the clock, `Timetable` keeps one row per item whose events
ever mentioned a window, a validity or a schedule, with the log position the rows
are folded up to (`syndicate.readmodel`): a command reads only the events appended
since, not the whole items log.

Only items whose stored events mention a window, a validity or a schedule get a row;
an item whose last event settled everything its events ever asked of the clock
(withdrawn; its window ended and it never had a validity or a schedule; expired and
never had a window) is not loaded. Every other row's times come from `due_at` of the
item as of the last time-relevant event read (its `version`), so they are the same
whichever process computed them and when.

What a row holds is derived, never trusted on its own: each change is applied to the
item loaded from its own events (`due_changes`), so a row that says "due" too early
changes nothing; a row that hides or delays a change would keep a window open or a
release waiting, so `audit verify` computes every row from the log (`expected_rows`)
and names each that differs (`differences`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from syndicate.domain.base import CHINA_TZ
from syndicate.domain.items import DisclosureItem
from syndicate.domain.lifecycle import DueChange, DueKind, due_at
from syndicate.readmodel import (
    TrackedRows,
    from_micros,
    micros,
    notifications,
)

__all__ = ["TIME_TOPICS", "TimeRow", "Timetable", "expected_rows"]

# Events after which an item's time-driven changes may differ.
TIME_TOPICS = tuple(
    c.TOPIC
    for c in (
        DisclosureItem.Published,
        DisclosureItem.Drafted,
        DisclosureItem.Revised,
        DisclosureItem.Submitted,
        DisclosureItem.Released,
        DisclosureItem.UrgentlyReleased,
        DisclosureItem.Withdrawn,
        DisclosureItem.ReleaseScheduled,
        DisclosureItem.ScheduleCancelled,
        DisclosureItem.NoticeEnded,
        DisclosureItem.Repealed,
        DisclosureItem.Expired,
    )
)
# Stored JSON that gives an item a time-driven change, as bits of a row's `marks`.
_NOTICE, _VALIDITY, _SCHEDULE = 1, 2, 4
_MARKS = (
    (b'"notice_period":{', _NOTICE),
    (b'"valid_until":"', _VALIDITY),
    (b'"release_at":"', _SCHEDULE),
)
# Events read per transaction (a long rebuild commits as it goes).
PAGE = 2000
# Item ids per statement when reading the rows of a page's items.
_CHUNK = 500
_COLUMNS = (
    "item_id",
    "version",
    "marks",
    "last_topic",
    "ref",
    "release_us",
    "notice_end_us",
    "expiry_us",
    "next_us",
)
_KIND_COLUMNS = (
    (DueKind.RELEASE, "release_us"),
    (DueKind.NOTICE_END, "notice_end_us"),
    (DueKind.EXPIRY, "expiry_us"),
)

#: Loads an item as of a version of it.
Loader = Callable[[UUID, int], DisclosureItem]


class TimeRow(NamedTuple):
    """What the timetable keeps of one item: the last time-relevant event read (its
    version and topic), which marks its events ever carried, and when each kind of
    change falls due (µs since 1970; None: not waiting)."""

    item_id: str
    version: int
    marks: int
    last_topic: str
    ref: str | None
    release_us: int | None
    notice_end_us: int | None
    expiry_us: int | None
    next_us: int | None

    def changes(self) -> list[DueChange]:
        """The row's changes, earliest first."""
        found = []
        for kind, column in _KIND_COLUMNS:
            at = getattr(self, column)
            # A value edited to another type is no time (verify names the row).
            if isinstance(at, int) and not isinstance(at, bool):
                when = from_micros(at, CHINA_TZ)
                found.append(DueChange(when, kind, self.item_id, self.ref or ""))
        return sorted(found)


def _marks_of(state: Any) -> int:
    # A state retyped to text in the database reads back the same (the tree names it).
    state = state.encode() if isinstance(state, str) else bytes(state)
    bits = 0
    for text, bit in _MARKS:
        if text in state:
            bits |= bit
    return bits


def _settled(last: str, marks: int) -> bool:
    """Whether the item's last event settled everything its events asked."""
    if last == DisclosureItem.Withdrawn.TOPIC:
        return True
    if last == DisclosureItem.NoticeEnded.TOPIC:
        return marks & ~_NOTICE == 0
    if last == DisclosureItem.Expired.TOPIC:
        return marks & ~_VALIDITY == 0
    return False


def time_row(id_: UUID, version: int, marks: int, last: str, load: Loader) -> TimeRow:
    """The row of item `id_`, whose last time-relevant event is `version` (`last`)."""
    if _settled(last, marks):
        return TimeRow(str(id_), version, marks, last, None, None, None, None, None)
    item = load(id_, version)
    at: dict[DueKind, int | None] = {}
    for change in due_at(item):
        at.setdefault(change.kind, micros(change.at))
    release, notice_end, expiry = (at.get(kind) for kind, _ in _KIND_COLUMNS)
    present = [t for t in (release, notice_end, expiry) if t is not None]
    return TimeRow(
        str(id_),
        version,
        marks,
        last,
        item.ref,
        release,
        notice_end,
        expiry,
        min(present) if present else None,
    )


def _scan(
    notifications: Iterable[Any], known: Callable[[UUID], bool]
) -> dict[UUID, list[Any]]:
    """Per item timed in `notifications` (those with a mark, and those `known` to have
    a row): [marks, last topic, last version]."""
    seen: dict[UUID, list[Any]] = {}
    for n in notifications:
        id_ = n.originator_id
        bits = _marks_of(n.state)
        entry = seen.get(id_)
        if entry is None:
            if not bits and not known(id_):
                continue
            seen[id_] = [bits, n.topic, n.originator_version]
        else:
            entry[0] |= bits
            entry[1], entry[2] = n.topic, n.originator_version
    return seen


def expected_rows(notifications: Iterable[Any], load: Loader) -> dict[str, TimeRow]:
    """Every row of the log's time-relevant `notifications` (in log order), as folding
    them from the start gives it (for `audit verify`)."""
    folded = _scan(notifications, lambda _: False)  # one pass from the start
    return {
        str(id_): time_row(id_, version, bits, last, load)
        for id_, (bits, last, version) in folded.items()
    }


def _ids(rows: Iterable[TimeRow]) -> list[UUID]:
    """The rows' item ids (a row whose id was edited into something else is left
    out; verify names it)."""
    found = []
    for r in rows:
        try:
            found.append(UUID(str(r.item_id)))
        except ValueError:
            continue
    return found


class Timetable(TrackedRows[TimeRow]):
    """The persisted timetable of an items log (see the module's docstring):
    `recorder` is the log's, `load(id, version)` reads an item from its events."""

    names = (
        ("timetable", "timetable_position"),
        ("disclosures_timetable", "disclosures_timetable_position"),
    )
    columns = _COLUMNS
    mark_name = "items"
    row_kind = "item"

    def __init__(self, recorder: ApplicationRecorder, load: Loader) -> None:
        super().__init__(recorder)
        self._load = load
        self._folding = threading.RLock()
        # A log kept in memory (no tables): the rows, folded from the start each time.
        self._memory: dict[str, TimeRow] = {}

    def make_row(self, values: Sequence[Any]) -> TimeRow:
        return TimeRow._make(values)

    def schema(self, big: str) -> list[str]:
        prefix = self.index_prefix
        return [
            "CREATE TABLE IF NOT EXISTS {rows} (item_id TEXT PRIMARY KEY, "
            "version INTEGER NOT NULL, marks INTEGER NOT NULL, "
            f"last_topic TEXT NOT NULL, ref TEXT, release_us {big}, "
            f"notice_end_us {big}, expiry_us {big}, next_us {big})",
            f"CREATE INDEX IF NOT EXISTS {prefix}_next ON {{rows}} (next_us) "
            "WHERE next_us IS NOT NULL",
        ]

    # -- keeping up --------------------------------------------------------------------

    def refresh(self, on_events: Callable[[int], None] | None = None) -> int:
        """Fold the time-relevant events appended since the tracking position into the
        rows; returns the new position. `on_events(n)` is told of each page."""
        with self._folding:
            if self._unsupported:
                found = notifications(self.recorder, topics=TIME_TOPICS, page=PAGE)
                self._memory = expected_rows(found, self._load)
                return self.recorder.max_notification_id() or 0
            self._ensure()
            start = self.start()
            if start is None:
                # The position was edited: folding on from there would miss changes.
                self.reset()
                start = 0
            while True:
                page = self.recorder.select_notifications(
                    start=start,
                    limit=PAGE,
                    topics=TIME_TOPICS,
                    inclusive_of_start=False,
                )
                if not page:
                    return start
                end = page[-1].id
                ids = {UUID(str(n.originator_id)) for n in page}
                known = self._marks_of_items(ids)
                seen = _scan(page, known.__contains__)
                rows = [
                    time_row(id_, version, bits | known.get(id_, 0), last, self._load)
                    for id_, (bits, last, version) in seen.items()
                ]

                def unchanged(
                    cursor: Any, ids: set[UUID] = ids, known: dict[UUID, int] = known
                ) -> bool:
                    # The rows were folded from `known`: a rebuild that came back to
                    # this position meanwhile may have other rows (ABA).
                    return self._marks_of_items(ids, cursor) == known

                if not self.commit_page(start, end, rows, unchanged):
                    # Another process folded it (or rebuilt meanwhile): read on
                    # from where it is now.
                    again = self.start()
                    if again is None:
                        self.reset()
                    start = again or 0
                    continue
                if on_events is not None:
                    on_events(len(page))
                start = end

    def _marks_of_items(
        self, ids: Iterable[UUID], cursor: Any = None
    ) -> dict[UUID, int]:
        """The stored marks of those of `ids` that have a row (read with `cursor`,
        inside its transaction, when given)."""
        wanted = sorted(str(i) for i in ids)
        found: dict[UUID, int] = {}
        for at in range(0, len(wanted), _CHUNK):
            chunk = wanted[at : at + _CHUNK]
            query = (
                "SELECT item_id, marks FROM {rows} WHERE item_id IN "  # noqa: S608 - constant names; values are parameters
                f"({', '.join('?' for _ in chunk)})"
            )
            if cursor is None:
                got = self.select(query, chunk)
            else:
                cursor.execute(self._sql(query), chunk)
                got = cursor.fetchall()
            for r in got:
                marks = r["marks"]
                # A value edited to another type: no marks (verify names the row).
                found[UUID(str(r["item_id"]))] = marks if isinstance(marks, int) else 0
        return found

    def rebuild(self, on_events: Callable[[int], None] | None = None) -> int:
        """Forget every row and fold the whole log again; returns the position."""
        with self._folding:
            self.reset()
            return self.refresh(on_events)

    # -- asking ------------------------------------------------------------------------

    def _waiting(self, until: datetime | None = None) -> list[TimeRow]:
        """The rows with a change to come (due by `until`), the earliest first."""
        if self._unsupported:
            bound = micros(until)
            found = [
                r
                for r in self._memory.values()
                if r.next_us is not None and (bound is None or r.next_us <= bound)
            ]
            return sorted(found, key=lambda r: (r.next_us, r.item_id))
        where, params = "next_us IS NOT NULL", []
        if until is not None:
            where, params = f"{where} AND next_us <= ?", [micros(until)]
        query = (
            f"SELECT {', '.join(_COLUMNS)} FROM {{rows}} WHERE {where} "  # noqa: S608 - constant names; values are parameters
            "ORDER BY next_us, item_id"
        )
        return [
            self.make_row(tuple(r.values() if isinstance(r, dict) else r))
            for r in self.select(query, params)
        ]

    def due(self, now: datetime) -> list[UUID]:
        """Items with a change due by `now`, the earliest first (a row whose id was
        edited into something else is left out; verify names it)."""
        return _ids(self._waiting(now))

    def waiting(self) -> list[UUID]:
        """Items with a change still to come, the earliest first."""
        return _ids(self._waiting())

    def changes(self, until: datetime) -> list[DueChange]:
        """Every change due by `until`, earliest first."""
        rows = self._waiting(until)
        return sorted(c for r in rows for c in r.changes() if c.at <= until)

    def upcoming(self) -> list[DueChange]:
        """Every change still to come, earliest first."""
        return sorted(c for r in self._waiting() for c in r.changes())

    def next_at(self) -> datetime | None:
        """When the next change falls due (None: nothing waits)."""
        if self._unsupported:
            waiting = self._waiting()
            found = waiting[0].next_us if waiting else None
        else:
            found = self.one("SELECT min(next_us) AS v FROM {rows}")
        if not isinstance(found, int) or isinstance(found, bool):
            return None  # none, or a value edited to another type (verify names it)
        return from_micros(found, CHINA_TZ)

    # -- checking (audit verify) -------------------------------------------------------
