"""How events are stored: JSON encoding, the pydantic mapper, SQLite and PostgreSQL settings.

Stored form of an event (what an auditor sees in the `state` column): the event's fields
except `originator_id` and `originator_version` (they are columns already) as canonical
JSON: sorted keys, compact separators, UTF-8. Events with `class_version` > 1 also carry
`class_version`; older stored versions are upcast on read.

SQLite (the embedded default): one database file per application under the data
directory, WAL journal, `PRAGMA synchronous=FULL` on every connection, so a committed event
survives power loss. PostgreSQL (scale-out): tables are created once by `syndicate init`;
every other process opens the store with table creation off, because concurrent
`CREATE TABLE`/`CREATE FUNCTION` from several workers crashes one of them.

On both stores the recorders read only the rows the audit log's Merkle tree covers
(positions 1 and up): an aggregate read that meets another row refuses it with
`UnauditedRowError`, and `rows_outside()` lists such rows for `audit verify`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar, cast
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    ApplicationRecorder,
    ConnectionPoolClosedError,
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Notification,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Transcoder,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, get_topic, resolve_topic
from pydantic import SecretStr

from syndicate.domain.base import DomainEvent
from syndicate.errors import ConfigurationError, StoreError

__all__ = [
    "ConfiguredEnvironment",
    "DurableSQLiteFactory",
    "JSONTranscoder",
    "NamedLogRecorders",
    "OutsideRow",
    "PydanticMapper",
    "StoreSettings",
    "UnauditedRowError",
    "log_name",
    "store_errors",
]


class JSONTranscoder(Transcoder):
    """Canonical JSON (sorted keys, compact, UTF-8) with the standard library."""

    def encode(self, obj: Any) -> bytes:
        return json.dumps(
            obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to stored events and back, with upcasting."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        state = event.model_dump(
            mode="json", exclude={"originator_id", "originator_version"}
        )
        if type(event).class_version > 1:
            state["class_version"] = type(event).class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        state: dict[str, Any] = self.transcoder.decode(data)
        cls: type[DomainEvent] = resolve_topic(stored_event.topic)
        stored_version = state.pop("class_version", 1)
        for version in range(stored_version, cls.class_version):
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        originator_id = stored_event.originator_id
        event = cls(
            originator_id=originator_id
            if isinstance(originator_id, UUID)
            else UUID(str(originator_id)),
            originator_version=stored_event.originator_version,
            **state,
        )
        return cast(DomainEventProtocol[UUID], event)


class ConfiguredEnvironment:
    """Mixin for applications: configuration comes from syndicate only.

    eventsourcing merges `os.environ` into every application's settings; a stray
    PERSISTENCE_MODULE or SQLITE_DBNAME in an operator's shell must not redirect the log.
    """

    # Every log: JSON with sorted keys, events as pydantic models with stable topics.
    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": get_topic(JSONTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        merged = dict(type(self).env)
        merged.update(env or {})
        return Environment(name, merged)


class _FullSyncPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        # SQLite's compiled default is usually FULL already; we do not rely on that.
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL;")
        return connection


# -- the rows the application reads are the rows the audit log hashes ---------------------
#
# eventsourcing selects an aggregate's events by originator id alone, whatever their
# position, but notifications (and so the Merkle tree, the `log` and the planner) by
# position, from 1 up. A row put at position 0 or below (SQLite rowid, PostgreSQL
# notification_id) by hand would be replayed into an item and yet be in no leaf. The
# recorders below close that gap: notifications never go below position 1, and an
# aggregate read that meets a row outside the audited positions refuses, naming it.

_LOG_NAMES = {
    "Disclosures": "items log",
    "Deliveries": "deliveries log",
    "Audit": "checkpoint store",
}


def log_name(app_name: str) -> str:
    """How messages name an application's log ("items log", "deliveries log", ...)."""
    return _LOG_NAMES.get(app_name, f"{app_name} log")


class UnauditedRowError(StoreError):
    """A stored event the application would read lies outside the positions the audit
    log covers (only an edit made outside syndicate puts one there)."""


@dataclass(frozen=True)
class OutsideRow:
    """A stored row the application can read that the audit log does not cover."""

    log: str
    position: int | None
    originator_id: str
    originator_version: int | None
    topic: str
    why: str = "outside the audited positions (1 and up)"

    def describe(self) -> str:
        at = "no position" if self.position is None else f"position {self.position}"
        return (
            f"{self.log}: a stored event at {at} ({self.originator_id} version "
            f"{self.originator_version}, {self.topic}) is {self.why}"
        )


def refuse_unaudited(
    log: str, position: int | None, originator_id: object, version: object
) -> NoReturn:
    """Raise `UnauditedRowError` for a row an aggregate read met outside the tree."""
    at = "no position" if position is None else f"position {position}"
    raise UnauditedRowError(
        f"{log}: the stored event of {originator_id} version {version} is at {at}, "
        "outside the positions the audit log covers (1 and up); syndicate never writes "
        "there, so it was added outside syndicate and is not read (run `syndicate audit "
        "verify`, then remove the row)"
    )


def first_audited(start: int | None, inclusive: bool) -> tuple[int, bool]:
    """A notification selection's start, never below position 1."""
    if start is None or (start < 1 if inclusive else start < 0):
        return 1, True
    return start, inclusive


class AuditedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder reading only what the audit log covers."""

    log_name: str = "log"

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        # eventsourcing's statement and row building, with the rowid, then checked.
        table = self.events_table_name  # eventsourcing's own constant, not input
        statement = f"SELECT rowid, * FROM {table} WHERE originator_id=? "  # noqa: S608
        params: list[Any] = [
            originator_id.hex if isinstance(originator_id, UUID) else originator_id
        ]
        if gt is not None:
            statement += "AND originator_version>? "
            params.append(gt)
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += "ORDER BY originator_version " + ("DESC " if desc else "ASC ")
        if limit is not None:
            statement += "LIMIT ? "
            params.append(limit)
        return self._audited(statement, params)

    def _audited(self, statement: str, params: Sequence[Any]) -> list[StoredEvent]:
        """The stored events `statement` (selecting `rowid, *`) finds; a row outside
        the audited positions is refused (`UnauditedRowError`)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            rows = c.fetchall()
        for row in rows:
            if row["rowid"] < 1:
                refuse_unaudited(
                    self.log_name,
                    row["rowid"],
                    row["originator_id"],
                    row["originator_version"],
                )
        return [
            StoredEvent(
                originator_id=self.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

    def select_events_of(
        self, originator_ids: Sequence[UUID]
    ) -> dict[UUID, list[StoredEvent]]:
        """Every stored event of each of `originator_ids` (one statement per 500),
        in version order; a row outside the audited positions is refused as in
        `select_events`."""
        table = self.events_table_name  # eventsourcing's own constant, not input
        found: dict[UUID, list[StoredEvent]] = {}
        for at in range(0, len(originator_ids), 500):
            chunk = [i.hex for i in originator_ids[at : at + 500]]
            marks = ", ".join("?" for _ in chunk)
            statement = (
                f"SELECT rowid, * FROM {table} WHERE originator_id IN ({marks}) "  # noqa: S608 - constant name, bound values
                "ORDER BY originator_id, originator_version"
            )
            for stored in self._audited(statement, chunk):
                id_ = UUID(str(stored.originator_id))
                found.setdefault(id_, []).append(stored)
        return found

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
        return super().select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive
        )

    def max_notification_id(self) -> int | None:  # type: ignore[override]
        top: int | None = super().max_notification_id()
        return top if top is not None and top > 0 else None

    def rows_outside(self) -> list[OutsideRow]:
        """Rows at positions the audit log never reads (rowid 0 or below)."""
        with self.datastore.transaction(commit=False) as c:
            columns = "rowid, CAST(originator_id AS BLOB) AS o, originator_version, "
            columns += "CAST(topic AS BLOB) AS t"
            table = self.events_table_name  # eventsourcing's own constant, not input
            c.execute(f"SELECT {columns} FROM {table} WHERE rowid <= 0 ORDER BY rowid")  # noqa: S608
            rows = c.fetchall()
        return [
            OutsideRow(
                self.log_name,
                row["rowid"],
                _text(row["o"]),
                row["originator_version"],
                _text(row["t"]),
            )
            for row in rows
        ]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class AuditedSQLiteProcessRecorder(
    SQLiteProcessRecorder, AuditedSQLiteApplicationRecorder
):
    """The process recorder (events and tracking) reading only what the audit covers."""


if TYPE_CHECKING:
    _Factory = InfrastructureFactory[Any]
else:
    _Factory = object


class NamedLogRecorders(_Factory):
    """A factory mixin: its recorders know which log they hold (`log_name`), so the
    rows they refuse (`UnauditedRowError`) name it. Put it before the factory class."""

    def application_recorder(self) -> ApplicationRecorder:
        # A mixin before a concrete factory: super() is that factory's method.
        return _named(super().application_recorder(), self.env.name)  # type: ignore[safe-super]

    def process_recorder(self) -> ProcessRecorder:
        return _named(super().process_recorder(), self.env.name)  # type: ignore[safe-super]


_Recorder = TypeVar("_Recorder", bound=ApplicationRecorder)


def _named(recorder: _Recorder, app_name: str) -> _Recorder:
    if hasattr(recorder, "log_name"):
        recorder.log_name = log_name(app_name)
    return recorder


class DurableSQLiteFactory(NamedLogRecorders, SQLiteFactory):
    """eventsourcing's SQLite factory with `synchronous=FULL` on every connection, and
    recorders that read only the rows the audit log covers."""

    application_recorder_class = AuditedSQLiteApplicationRecorder
    process_recorder_class = AuditedSQLiteProcessRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        old = self.datastore.pool
        self.datastore.pool = _FullSyncPool(
            db_name=old.db_name,
            lock_timeout=old.lock_timeout,
            pool_size=old.pool_size,
            max_overflow=old.max_overflow,
            pool_timeout=old.pool_timeout,
            max_age=old.max_age,
            pre_ping=old.pre_ping,
        )
        old.close()


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def has_password(url: str) -> bool:
    """Whether a URL carries a password (with or without a user name)."""
    try:
        return urlsplit(url).password is not None or scrub(url) != url
    except ValueError:
        return scrub(url) != url


def scrub(text: str, *secrets: str | None) -> str:
    """Remove passwords from text that may include a connection URL or a known secret."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True, repr=False)
class StoreSettings:
    """Where the event log lives: `sqlite` (files under data_dir) or a PostgreSQL URL."""

    data_dir: Path
    url: str = "sqlite"
    schema: str = "public"
    password: SecretStr | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.url != "sqlite" and not self.url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise ConfigurationError(
                f"store.url: {scrub(self.url)!r} is not 'sqlite' or a postgresql:// URL"
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", self.schema):
            raise ConfigurationError(
                f"store.schema: {self.schema!r} is not a plain PostgreSQL identifier"
            )
        if self.is_postgres:
            example = "postgresql://syndicate@127.0.0.1:5432/syndicate"
            try:
                parts = urlsplit(self.url)
                hostname, _ = parts.hostname, parts.port
            except ValueError:
                raise ConfigurationError(
                    f"store.url: not a valid URL (check the host and port), e.g. {example}"
                ) from None
            if not hostname or not parts.path.strip("/"):
                raise ConfigurationError(
                    f"store.url: a PostgreSQL URL needs a host and a database, e.g. {example}"
                )

    def __repr__(self) -> str:
        # The URL may hold a password (from SYNDICATE_STORE_URL): never show it.
        return f"StoreSettings({self.describe()!r})"

    @property
    def is_postgres(self) -> bool:
        """True when the log lives in PostgreSQL."""
        return self.url != "sqlite"

    def sqlite_path(self, app_name: str) -> Path:
        """The SQLite file of one application."""
        return self.data_dir / f"{app_name.lower()}.db"

    def describe(self) -> str:
        """Where the store is, without any password."""
        if not self.is_postgres:
            return f"SQLite files in {self.data_dir}"
        parts = urlsplit(self.url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return (
            f"PostgreSQL {user}{parts.hostname}{port}{parts.path} "
            f"(schema {self.schema})"
        )

    def _password(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        parts = urlsplit(self.url)
        return unquote(parts.password) if parts.password else None

    def scrub(self, text: str) -> str:
        """`text` with this store's password removed."""
        return scrub(text, self._password())

    def env_for(self, app_name: str, *, create_tables: bool) -> dict[str, str]:
        """The eventsourcing environment of one application on this store."""
        env = {"CREATE_TABLE": "y" if create_tables else "n"}
        if not self.is_postgres:
            env["PERSISTENCE_MODULE"] = get_topic(DurableSQLiteFactory)
            env["SQLITE_DBNAME"] = str(self.sqlite_path(app_name))
            env["SQLITE_LOCK_TIMEOUT"] = "10"
            return env
        parts = urlsplit(self.url)
        env.update(
            PERSISTENCE_MODULE="syndicate.persistence_pg:AuditedPostgresFactory",
            POSTGRES_DBNAME=unquote(parts.path.strip("/")),
            POSTGRES_HOST=parts.hostname or "",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or ""),
            POSTGRES_PASSWORD=self._password() or "",
            POSTGRES_SCHEMA=self.schema,
            POSTGRES_CONNECT_TIMEOUT="5",
            POSTGRES_POOL_SIZE="2",
            POSTGRES_MAX_OVERFLOW="4",
            # Off on purpose: eventsourcing 9.5.6 names its insert function
            # es_insert_events_uuid for every application in a schema, so with two
            # applications (items, deliveries) the last one created wins and the other's
            # events land in the wrong table. Plain INSERTs are slower but correct.
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
        return env

    def prepare(self) -> None:
        """Create what must exist before tables can be: the data dir, the PG schema."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.is_postgres:
            return
        import psycopg

        env = self.env_for("x", create_tables=True)
        with store_errors(self):
            try:
                with psycopg.connect(
                    dbname=env["POSTGRES_DBNAME"],
                    host=env["POSTGRES_HOST"],
                    port=int(env["POSTGRES_PORT"]),
                    user=env["POSTGRES_USER"] or None,
                    password=env["POSTGRES_PASSWORD"] or None,
                    connect_timeout=5,
                    autocommit=True,
                ) as conn:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot prepare {self.describe()}: {self.scrub(str(exc).strip())}"
                ) from None


@contextmanager
def store_errors(settings: StoreSettings) -> Iterator[None]:
    """Turn the store's infrastructure errors into `StoreError`s without secrets.

    `IntegrityError` (a concurrent write) passes through: the application handles it.
    """
    try:
        yield
    except IntegrityError:
        raise
    except ConnectionPoolClosedError:
        raise StoreError(
            f"{settings.describe()}: this log was closed (its engine or `with` block "
            "ended); open it again"
        ) from None
    except PersistenceError as exc:
        message = settings.scrub(str(exc).strip()) or type(exc).__name__
        if "does not exist" in message and settings.is_postgres:
            raise StoreError(
                f"{settings.describe()} has no syndicate tables yet; "
                "run `syndicate init` once to create them"
            ) from None
        raise StoreError(f"{settings.describe()}: {message}") from None
