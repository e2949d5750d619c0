"""How events are stored: canonical JSON, explicit topics, upcasting, durability, isolation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from syndicate.application import Disclosures
from syndicate.domain.base import DomainEvent
from syndicate.errors import ConfigurationError, StoreError
from syndicate.persistence import (
    DurableSQLiteFactory,
    JSONTranscoder,
    PydanticMapper,
    StoreSettings,
    scrub,
)
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.conftest import PG_URL, content, require_postgres


def test_sqlite_is_one_file_per_application_with_synchronous_full(
    sqlite_project: Project,
) -> None:
    with sqlite_project.disclosures() as log:
        log.publish(content(), actor="张三")
        factory = log.factory
        assert isinstance(factory, DurableSQLiteFactory)
        with factory.datastore.get_connection(commit=False) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    db = sqlite_project.store.data_dir / "disclosures.db"
    assert db.is_file()
    with sqlite3.connect(db) as raw:
        topics = [r[0] for r in raw.execute("SELECT topic FROM stored_events")]
    assert topics == ["syndicate.DisclosureItem.Published"]


def test_stored_state_is_canonical_json_without_id_columns(
    sqlite_project: Project,
) -> None:
    clock = FixedClock()
    with sqlite_project.disclosures(clock=clock) as log:
        log.publish(content(), actor="张三")
    db = sqlite_project.store.data_dir / "disclosures.db"
    with sqlite3.connect(db) as raw:
        [(state,)] = raw.execute("SELECT state FROM stored_events").fetchall()
    decoded = json.loads(state)
    assert (
        state
        == json.dumps(
            decoded, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
    )
    assert "originator_id" not in decoded
    assert decoded["actor"] == "张三"
    assert decoded["content"]["area"] == "social_assistance"
    assert decoded["timestamp"] == "2026-10-09T01:30:00Z"
    assert "临溪县民政局".encode() in state  # UTF-8, not \\u escapes


def test_the_shell_environment_cannot_redirect_the_log(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("DISCLOSURES_SQLITE_DBNAME", ":memory:")
    with sqlite_project.disclosures() as log:
        log.publish(content(), actor="张三")
    with sqlite_project.disclosures() as again:
        assert again.position() == 1


class _Renamed(DomainEvent):
    """A test event at class_version 2 whose v1 lacked `language`."""

    TOPIC: ClassVar[str] = "tests.persistence.Renamed"
    class_version: ClassVar[int] = 2
    title: str
    language: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["language"] = "zh-CN"


def test_mapper_upcasts_older_stored_versions() -> None:
    mapper = PydanticMapper(transcoder=JSONTranscoder())
    id_ = uuid4()
    v1_state = {"title": "公告", "timestamp": "2026-10-09T01:30:00Z"}
    stored = StoredEvent(
        originator_id=id_,
        originator_version=1,
        topic=_Renamed.TOPIC,
        state=JSONTranscoder().encode(v1_state),
    )
    from eventsourcing.utils import register_topic

    register_topic(_Renamed.TOPIC, _Renamed)
    event = mapper.to_domain_event(stored)
    assert isinstance(event, _Renamed)
    assert event.language == "zh-CN"
    again = mapper.to_stored_event(event)
    assert json.loads(again.state)["class_version"] == 2
    assert mapper.to_domain_event(again) == event


def test_passwords_are_scrubbed_from_messages() -> None:
    text = "connection to postgresql://syn:s3cret@db:5432/x failed"
    assert scrub(text) == "connection to postgresql://syn:***@db:5432/x failed"
    assert scrub("token s3cret here", "s3cret") == "token *** here"
    settings = StoreSettings(
        data_dir=Path("d"), url="postgresql://syn:s3cret@db:5432/x", schema="s"
    )
    assert "s3cret" not in settings.describe()
    assert "s3cret" not in repr(settings)


def test_store_settings_refuse_bad_values() -> None:
    with pytest.raises(ConfigurationError, match="not 'sqlite' or a postgresql"):
        StoreSettings(data_dir=Path("d"), url="mysql://x")
    with pytest.raises(ConfigurationError, match=r"store\.schema"):
        StoreSettings(data_dir=Path("d"), url="sqlite", schema="a;drop")
    with pytest.raises(ConfigurationError, match="needs a host and a database"):
        StoreSettings(data_dir=Path("d"), url="postgresql://127.0.0.1")


def test_unreachable_postgres_is_a_store_error_without_the_password(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "syndicate.toml").write_text(
        '[store]\nurl = "postgresql://syn@127.0.0.1:1/test"\npassword = "${PGPW}"\n',
        "utf-8",
    )
    project = Project.load(home, environ={"PGPW": "hunter2-secret"})
    with pytest.raises(StoreError) as info:
        project.store.prepare()
    assert "hunter2-secret" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


@pytest.mark.postgres
def test_postgres_store_needs_init_before_use(tmp_path: Path, pg_schema: str) -> None:
    require_postgres()
    home = tmp_path / "home"
    environ = {"SYNDICATE_STORE_URL": PG_URL, "SYNDICATE_STORE_SCHEMA": pg_schema}
    home.mkdir()
    (home / "syndicate.toml").write_text("[store]\n", "utf-8")
    project = Project.load(home, environ=environ)
    with (
        pytest.raises(StoreError, match="run `syndicate init`"),
        project.disclosures() as log,
    ):
        log.position()
    Project.init(home, environ=environ, keys=False, review=False)
    with project.disclosures() as log:
        assert log.position() == 0
        log.publish(content(), actor="张三")
    # Tables are per application and per schema: nothing leaked into `public`.
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s",
                (pg_schema,),
            )
        }
    assert {"disclosures_events", "deliveries_events"} <= tables
    # Each application's events land in its own table (see the note in persistence.py
    # on eventsourcing's shared insert function).
    with psycopg.connect(PG_URL) as conn:
        counts = [
            conn.execute(f'SELECT count(*) FROM "{pg_schema}".{t}').fetchone()
            for t in ("disclosures_events", "deliveries_events")
        ]
    assert counts == [(1,), (0,)]


def test_disclosures_reject_naive_clocks(sqlite_project: Project) -> None:
    from datetime import datetime

    with (
        sqlite_project.disclosures(clock=lambda: datetime(2026, 1, 1)) as log,
        pytest.raises(ValueError, match="timezone-aware"),
    ):
        log.publish(content(), actor="张三")
    assert isinstance(log, Disclosures)
