"""PostgreSQL recorders that read only the rows the audit log covers (see
`syndicate.persistence`): its own module, so that a SQLite home never imports psycopg's
pool. Selected with `PERSISTENCE_MODULE=syndicate.persistence_pg:AuditedPostgresFactory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composed, Identifier

from syndicate.errors import StoreError
from syndicate.persistence import (
    NamedLogRecorders,
    OutsideRow,
    first_audited,
    refuse_unaudited,
)

__all__ = [
    "AuditedPostgresApplicationRecorder",
    "AuditedPostgresFactory",
    "AuditedPostgresProcessRecorder",
]


class AuditedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder reading only what the audit log covers."""

    log_name: str = "log"

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        # eventsourcing's statement (`SELECT *`, notification_id included), checked.
        statement = self.select_events_statement
        params: list[Any] = [originator_id]
        if gt is not None:
            params.append(gt)
            statement += SQL(" AND originator_version > %s")
        if lte is not None:
            params.append(lte)
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(" ORDER BY originator_version")
        statement += SQL(" DESC") if desc else SQL(" ASC")
        if limit is not None:
            params.append(limit)
            statement += SQL(" LIMIT %s")
        return self._audited(statement, params, prepare=True)

    def _audited(
        self, statement: SQL | Composed, params: Sequence[Any], *, prepare: bool = False
    ) -> list[StoredEvent]:
        """The stored events `statement` (selecting `notification_id` and the event
        columns) finds; a row outside the audited positions is refused."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=prepare)
            rows = curs.fetchall()
        for row in rows:
            position = row["notification_id"]
            if position is None or position < 1:
                refuse_unaudited(
                    self.log_name,
                    position,
                    row["originator_id"],
                    row["originator_version"],
                )
        try:
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in rows
            ]
        except TypeError as exc:
            raise self._altered(exc) from None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(
        self, originator_ids: Sequence[UUID]
    ) -> dict[UUID, list[StoredEvent]]:
        """Every stored event of each of `originator_ids` (one statement), in version
        order; a row outside the audited positions is refused as in
        `select_events`."""
        if not originator_ids:
            return {}
        table = self._events_table
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {0} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(table)
        found: dict[UUID, list[StoredEvent]] = {}
        for stored in self._audited(statement, [list(originator_ids)]):
            found.setdefault(UUID(str(stored.originator_id)), []).append(stored)
        return found

    @property
    def _events_table(self) -> Composed:
        """The events table, schema-qualified, for a statement."""
        return SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )

    def _altered(self, exc: Exception) -> StoreError:
        """A column retyped by hand (`state` as text, ...): eventsourcing's row
        building fails on it; say so instead of a traceback."""
        return StoreError(
            f"{self.log_name}: table {self.datastore.schema}.{self.events_table_name} "
            f"holds a row of another column type than eventsourcing writes ({exc}): "
            "it was altered outside syndicate, and nothing is read from it"
        )

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        start, inclusive = first_audited(start, inclusive_of_start)
        try:
            selected: Sequence[Notification] = super().select_notifications(
                start, limit, stop, topics, inclusive_of_start=inclusive
            )
        except TypeError as exc:
            raise self._altered(exc) from None
        return selected

    def max_notification_id(self) -> int | None:
        top = super().max_notification_id()
        return top if top is not None and top > 0 else None

    def rows_outside(self) -> list[OutsideRow]:
        """Rows the audit log never reads: no position, a position of 0 or below, or
        a position two rows share (the unique index on it was dropped)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.outside_statement())
            rows = curs.fetchall()
        return [
            OutsideRow(
                self.log_name,
                row["notification_id"],
                str(row["originator_id"]),
                row["originator_version"],
                str(row["topic"]),
                *(("at a position another row has too",) if row["shared"] else ()),
            )
            for row in rows
        ]

    def outside_statement(self) -> Composed:
        """The statement `rows_outside` runs."""
        table = self._events_table
        # Two branches, not `... OR notification_id IN (subquery)`: PostgreSQL plans
        # that OR as a subquery scanned again for every row (quadratic: hours at a
        # county's 4.5 million delivery events); here the positions two rows share
        # come from one pass over the position index, joined back.
        return SQL(
            "SELECT notification_id, originator_id, originator_version, topic, "
            "FALSE AS shared FROM {0} "
            "WHERE notification_id IS NULL OR notification_id <= 0 "
            "UNION ALL "
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
            "TRUE AS shared FROM {0} AS e JOIN (SELECT notification_id FROM {0} "
            "WHERE notification_id > 0 GROUP BY notification_id "
            "HAVING count(*) > 1) AS d ON d.notification_id = e.notification_id "
            "ORDER BY notification_id, originator_id, originator_version"
        ).format(table)


class AuditedPostgresProcessRecorder(
    PostgresProcessRecorder, AuditedPostgresApplicationRecorder
):
    """The process recorder (events and tracking) reading only what the audit covers."""


class AuditedPostgresFactory(NamedLogRecorders, PostgresFactory):
    """eventsourcing's PostgreSQL factory with the recorders above."""

    application_recorder_class = AuditedPostgresApplicationRecorder
    process_recorder_class = AuditedPostgresProcessRecorder
