"""Rows kept beside an event log with the log position they are folded up to.

A read model answers a question about a log (which deliveries are due, which items
wait for the clock) without folding the whole log at every start. `TrackedRows` is
what the read models share: their tables, in the same store as the log (the log's
SQLite file, or the home's PostgreSQL schema), and their tracking position.

Catching up is exactly once and safe with several processes: a page's rows and the
new tracking position are written in one transaction that first moves the position
from the value it read (compare and set, `commit_page`); a process that loses the
race rolls back and reads again. A process killed between a log event and the row
update leaves the position before that event, so the next reader applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteDatastore

from syndicate.errors import StoreError

__all__ = [
    "TrackedRows",
    "UnreadablePosition",
    "compare_rows",
    "from_micros",
    "micros",
    "notifications",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(at: datetime | None) -> int | None:
    """Microseconds since 1970 (UTC) of `at` (None stays None)."""
    return None if at is None else (at - _EPOCH) // _US


def from_micros(value: int, tz: Any = UTC) -> datetime:
    """The moment `micros` gave `value`, in `tz` (the latest moment Python can hold in
    `tz` when it is beyond that: a date stored as "never")."""
    try:
        return (_EPOCH + value * _US).astimezone(tz)
    except OverflowError:
        return datetime.max.replace(tzinfo=tz)


def notifications(
    recorder: ApplicationRecorder,
    *,
    start: int = 0,
    stop: int | None = None,
    topics: Sequence[str] = (),
    page: int = 2000,
) -> Iterator[Any]:
    """The log's stored notifications after `start` (up to `stop`, of `topics`), in
    log order, read `page` at a time."""
    while stop is None or start < stop:
        found = recorder.select_notifications(
            start=start, limit=page, stop=stop, topics=topics, inclusive_of_start=False
        )
        if not found:
            return
        yield from found
        start = found[-1].id


def compare_rows(
    want: Mapping[str, Any], have: Mapping[str, Any], what: str, columns: Sequence[str]
) -> list[str]:
    """How the stored rows `have` differ from the rows `want` the log gives (both by
    key, `what` naming a key's kind, e.g. "delivery"), one line each."""
    found = []
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key), have.get(key)
        if h is None:
            found.append(f"{what} {key} has no row (its events ask for one)")
        elif w is None:
            found.append(f"{what} {key} has a row its events do not ask for")
        elif w != h:
            fields = [c for c in columns if getattr(w, c) != getattr(h, c)]
            found.append(
                f"{what} {key}: the row's {', '.join(fields)} differ from its events"
            )
    return found


class _Lost(Exception):
    """Another process moved the tracking position first (the transaction rolls back)."""


class UnreadablePosition(Exception):
    """The tracking position is not a number (the table was edited by hand)."""


def _position(row: Any) -> int:
    if row is None:
        return 0
    value = row["position"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnreadablePosition("the tracking position is not a number")
    return value


_Row = TypeVar("_Row", bound=tuple[Any, ...])


class TrackedRows(Generic[_Row]):
    """The tables of one read model of the log `recorder` records: `names` gives the
    rows' and the tracking position's table names on SQLite and on PostgreSQL (there
    in the recorder's schema); `columns` the rows' columns, the first the key;
    `schema(big)` the CREATE statements with `{rows}` and `{mark}` for the names and
    `big` for a 64-bit integer type."""

    #: (rows, mark) on SQLite; (rows, mark) on PostgreSQL.
    names: tuple[tuple[str, str], tuple[str, str]]
    columns: tuple[str, ...]
    #: The name of the tracking position's row.
    mark_name: str
    #: What a row's key names, in findings ("delivery", "item").
    row_kind: str

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        datastore: Any = getattr(recorder, "datastore", None)
        self._sqlite = isinstance(datastore, SQLiteDatastore)
        self._datastore = datastore
        (lite_rows, lite_mark), (pg_rows, pg_mark) = self.names
        # A log kept in memory (eventsourcing's POPO recorder, never a home's) has no
        # tables: the read model says so when it is used, not when the log is made.
        self._unsupported = not self._sqlite and not hasattr(datastore, "schema")
        if self._sqlite or self._unsupported:
            self._rows, self._mark, self._p = lite_rows, lite_mark, "?"
            self._bare = (lite_rows, lite_mark)
        else:
            schema = str(datastore.schema).replace('"', '""')
            self._rows = f'"{schema}".{pg_rows}'
            self._mark = f'"{schema}".{pg_mark}'
            self._p = "%s"
            self._bare = (pg_rows, pg_mark)
        self._ready = False

    def schema(self, big: str) -> list[str]:
        """The CREATE statements of the rows' table and its indexes."""
        raise NotImplementedError

    def make_row(self, values: Sequence[Any]) -> _Row:
        """A row from its values as stored (in `columns` order)."""
        raise NotImplementedError

    @property
    def table_names(self) -> tuple[str, str]:
        """The rows' and the tracking position's table names (unqualified)."""
        return self._bare

    @property
    def index_prefix(self) -> str:
        """What the rows' index names start with (unique within the store)."""
        return self._bare[0]

    # -- the tables --------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return (
            text.replace("{rows}", self._rows)
            .replace("{mark}", self._mark)
            .replace("?", self._p)
        )

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Any]:
        with self._datastore.transaction(commit=commit) as cursor:
            yield cursor

    def create(self, *, restart: bool = False) -> None:
        """Create the tables (and indexes) if they do not exist; with `restart`, the
        tracking position goes back to 0 (one of the tables was missing: rows folded
        before it was dropped cannot be trusted to be there)."""
        big = "INTEGER" if self._sqlite else "BIGINT"
        statements = [
            *self.schema(big),
            f"CREATE TABLE IF NOT EXISTS {{mark}} (name TEXT PRIMARY KEY, "
            f"position {big} NOT NULL)",
        ]
        with self._transaction(commit=True) as c:
            for statement in statements:
                c.execute(self._sql(statement))
            c.execute(
                self._sql(
                    "INSERT INTO {mark} (name, position) VALUES (?, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (self.mark_name,),
            )
            if restart:
                c.execute(
                    self._sql("UPDATE {mark} SET position = 0 WHERE name = ?"),
                    (self.mark_name,),
                )
        self._ready = True

    def present(self) -> tuple[bool, bool]:
        """Whether the rows' table and the tracking position's table are there."""
        if self._unsupported:
            return False, False
        with self._transaction(commit=False) as c:
            if self._sqlite:
                c.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name IN (?, ?)",
                    self._bare,
                )
                names = {str(r["name"]) for r in c.fetchall()}
                return self._bare[0] in names, self._bare[1] in names
            c.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS rows, "
                "to_regclass(%s) IS NOT NULL AS mark",
                (self._rows, self._mark),
            )
            found = c.fetchone()
            return bool(found["rows"]), bool(found["mark"])

    def exists(self) -> bool:
        """Whether the tables are there."""
        return all(self.present())

    def _ensure(self) -> None:
        if self._ready:
            return
        if self._unsupported:
            raise StoreError(
                f"{type(self).__name__} needs a log stored in SQLite or PostgreSQL "
                "(this one is kept in memory)"
            )
        present = self.present()
        if all(present):
            self._ready = True
            with self._transaction(commit=False) as c:
                c.execute(
                    self._sql("SELECT position FROM {mark} WHERE name = ?"),
                    (self.mark_name,),
                )
                if c.fetchone() is not None:
                    return
        # One table of the two dropped: fold from the start (with only the rows
        # gone, going on from the old position would leave every earlier row out).
        restart = any(present)
        try:
            self.create(restart=restart)
        except Exception:
            # Another process created them this instant (PostgreSQL refuses a second
            # concurrent CREATE); they are there now, or the error is real.
            if not self.exists():
                raise
            self.create(restart=restart)

    def position(self) -> int:
        """The log position the rows are folded up to (`UnreadablePosition` when it
        is not a number)."""
        self._ensure()
        with self._transaction(commit=False) as c:
            c.execute(
                self._sql("SELECT position FROM {mark} WHERE name = ?"),
                (self.mark_name,),
            )
            return _position(c.fetchone())

    def beyond_log(self, position: int) -> bool:
        """Whether `position` lies beyond the log's end (the position was edited)."""
        return position > (self.recorder.max_notification_id() or 0)

    def start(self) -> int | None:
        """Where to fold on from: the tracking position, or None when it cannot be
        trusted (not a number, or beyond the log's end: it was edited by hand) and the
        rows must be folded from the start."""
        try:
            position = self.position()
        except UnreadablePosition:
            return None
        return None if self.beyond_log(position) else position

    def commit_page(
        self,
        start: int,
        end: int,
        rows: Sequence[Sequence[Any]],
        still: Callable[[Any], bool] | None = None,
    ) -> bool:
        """Move the tracking position from `start` to `end` and upsert `rows` (values
        in `columns` order), in one transaction; False (nothing written) when the
        position was not `start` any more (another process folded the page), or when
        `still(cursor)`, asked once the position row is locked, says the stored rows
        the page was folded from have changed meanwhile (a rebuild that came back to
        the same position)."""
        columns = ", ".join(self.columns)
        marks = ", ".join("?" for _ in self.columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns[1:])
        upsert = self._sql(
            f"INSERT INTO {{rows}} ({columns}) VALUES ({marks}) "  # noqa: S608 - constant names; values are parameters
            f"ON CONFLICT ({self.columns[0]}) DO UPDATE SET {updates}"
        )
        try:
            with self._transaction(commit=True) as c:
                c.execute(
                    self._sql(
                        "UPDATE {mark} SET position = ? WHERE name = ? AND position = ?"
                    ),
                    (end, self.mark_name, start),
                )
                if self._changed(c) != 1:
                    raise _Lost
                if still is not None and not still(c):
                    raise _Lost
                if rows:
                    c.executemany(upsert, [tuple(r) for r in rows])
        except _Lost:
            return False
        return True

    def _changed(self, cursor: Any) -> int:
        if self._sqlite:
            return int(cursor.sqlite_cursor.rowcount)
        return int(cursor.rowcount)

    def reset(self) -> None:
        """Forget every row; the tracking position goes back to 0."""
        self._ensure()
        with self._transaction(commit=True) as c:
            c.execute(self._sql("DELETE FROM {rows}"))
            c.execute(
                self._sql("UPDATE {mark} SET position = 0 WHERE name = ?"),
                (self.mark_name,),
            )

    # -- asking ------------------------------------------------------------------------

    def select(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows `query` (with `{rows}` for the table, `?` for parameters) finds."""
        self._ensure()
        with self._transaction(commit=False) as c:
            c.execute(self._sql(query), params)
            return list(c.fetchall())

    def one(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Column `v` of the first row `query` finds (None when none)."""
        found = self.select(query, params)
        return found[0]["v"] if found else None

    def snapshot(self) -> tuple[int, list[tuple[Any, ...]]]:
        """The tracking position and every row as stored (values in `columns` order),
        read at one instant (one read transaction; on PostgreSQL a repeatable-read
        one)."""
        self._ensure()
        columns = ", ".join(self.columns)
        with self._transaction(commit=False) as c:
            if not self._sqlite:
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.execute(
                self._sql("SELECT position FROM {mark} WHERE name = ?"),
                (self.mark_name,),
            )
            mark = c.fetchone()
            c.execute(self._sql(f"SELECT {columns} FROM {{rows}}"))  # noqa: S608 - constant names
            stored = c.fetchall()
        rows = [tuple(r.values() if isinstance(r, dict) else r) for r in stored]
        return _position(mark), rows

    # -- checking (audit verify) -------------------------------------------------------

    def stored(self) -> tuple[int, dict[str, _Row]]:
        """The tracking position and every row as stored, by key, read at one
        instant. As read: a value of another type (written by hand) simply differs."""
        upto, stored = self.snapshot()
        rows = (self.make_row(r) for r in stored)
        return upto, {str(row[0]): row for row in rows}

    def differences(self, fold: Callable[[int], Mapping[str, _Row]]) -> list[str]:
        """How the stored rows differ from the log, one line each. `fold(upto)` gives
        every row of the log folded up to the tracking position `upto`."""
        upto, have = self.stored()
        return compare_rows(fold(upto), have, self.row_kind, self.columns)
