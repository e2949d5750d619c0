"""What the application reads and what the audit log hashes are the same rows (issue 13).

A row put by hand where the Merkle tree never reads (position 0 or below, no position,
a shared position) must be a finding of `audit verify`, and the application must refuse
to replay it rather than act on it unnoticed. Also: a state blob retyped to text, and a
checkpoint record that does not parse, are findings, not an OK or a traceback.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.sql import SQL
from typer.testing import CliRunner, Result

from syndicate.audit.log import load_verifier, verify
from syndicate.audit.service import open_reader
from syndicate.audit.store import RecordedCheckpoint
from syndicate.cli import app
from syndicate.domain.items import DisclosureItem
from syndicate.persistence import UnauditedRowError
from syndicate.project import Project
from tests.conftest import ITEM_FILE, PG_URL, content, require_postgres

REF = "临溪县民政局/11330100MB0000006R/2026-00019"
TABLES = {"items": "disclosures", "deliveries": "deliveries", "audit": "audit"}


class Store:
    """Raw SQL on a home's store, as someone with the database but not the key."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.pg = project.store.is_postgres

    @contextmanager
    def _sqlite(self, log: str) -> Iterator[sqlite3.Connection]:
        path = self.project.store.sqlite_path(TABLES[log].capitalize())
        with sqlite3.connect(path) as conn:
            yield conn
        conn.close()

    def _table(self, log: str) -> str:
        return f'"{self.project.store.schema}".{TABLES[log]}_events'

    def rows(self, log: str) -> list[tuple[int, str, int, str, bytes]]:
        """(position, originator id (hex), version, topic, state) of every row."""
        if self.pg:
            with psycopg.connect(PG_URL) as conn:
                found = conn.execute(
                    "SELECT notification_id, replace(originator_id::text, '-', ''), "
                    f"originator_version, topic, state FROM {self._table(log)} "
                    "ORDER BY notification_id"
                ).fetchall()
            return [(p, o, v, t, bytes(s)) for p, o, v, t, s in found]
        with self._sqlite(log) as conn:
            return list(
                conn.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    "FROM stored_events ORDER BY rowid"
                )
            )

    def insert(
        self,
        log: str,
        position: int | None,
        originator: str,
        version: int,
        topic: str,
        state: bytes,
    ) -> None:
        if self.pg:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(
                    f"INSERT INTO {self._table(log)} (originator_id, "
                    "originator_version, topic, state, notification_id) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (UUID(originator), version, topic, state, position),
                )
            return
        assert position is not None
        with self._sqlite(log) as conn:
            conn.execute(
                "INSERT INTO stored_events (rowid, originator_id, originator_version, "
                "topic, state) VALUES (?, ?, ?, ?, ?)",
                (position, originator, version, topic, state),
            )

    def execute(self, log: str, sql: str, *params: Any) -> None:
        """`sql` with {table} for the log's events table."""
        if self.pg:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(
                    sql.format(table=self._table(log)).replace("?", "%s"), params
                )
            return
        with self._sqlite(log) as conn:
            conn.execute(sql.format(table="stored_events"), params)

    def delete(self, log: str, originator: str, version: int) -> None:
        key = "%s::uuid" if self.pg else "?"
        self.execute(
            log,
            f"DELETE FROM {{table}} WHERE originator_id = {key} "
            "AND originator_version = ?",
            originator if not self.pg else str(UUID(originator)),
            version,
        )


def _home(
    tmp_path: Path, environ: dict[str, str]
) -> tuple[Project, Callable[..., Result]]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员", **environ})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    return Project.load(home, environ=environ), cli


def _verdict(project: Project) -> Any:
    key = load_verifier(project)
    with open_reader(project) as (store, reader):
        return verify(reader, list(store.checkpoints()), key)


def _forged_revision(project: Project) -> tuple[str, int, str, bytes]:
    """A `Revised` event of the item, as the library would store it as version 2."""
    with project.disclosures() as log:
        item = log.get(REF)
        item.revise(
            content(title="伪造的标题"), reason="伪造", actor="某人", at=log._now()
        )
        stored = log.mapper.to_stored_event(item.collect_events()[0])
    return item.id.hex, stored.originator_version, stored.topic, stored.state


@pytest.mark.parametrize("position", [0, -1])
def test_a_revision_put_below_position_1_is_found_and_never_replayed(
    tmp_path: Path, environ: dict[str, str], position: int
) -> None:
    project, cli = _home(tmp_path, environ)
    assert _verdict(project).ok
    originator, version, topic, state = _forged_revision(project)
    assert version == 2
    Store(project).insert("items", position, originator, version, topic, state)

    verdict = _verdict(project)
    assert not verdict.ok
    [finding] = verdict.findings
    assert finding.kind == "outside"
    assert f"items log: a stored event at position {position} " in finding.message
    assert "version 2, syndicate.DisclosureItem.Revised" in finding.message

    with project.disclosures() as log:
        with pytest.raises(UnauditedRowError, match=f"at position {position}, outside"):
            log.get(REF)
        with pytest.raises(UnauditedRowError):  # nothing is built on it either
            log.revise(REF, content(body="真的修订。"), reason="r", actor="张三")
        assert [e.version for e in log.read_log()] == [1]
        assert [e.version for e in log.read_log(after=-5)] == [1]
        assert [s.version for s in log.items()] == [1]
        assert log.position() == 1

    shown = cli("items", "show", REF)
    assert shown.exit_code == 1
    assert f"position {position}, outside the positions the audit log covers" in (
        shown.stderr
    )
    assert "伪造的标题" not in shown.output
    assert "Traceback" not in shown.output
    logged = cli("log", "--json")
    assert "伪造" not in logged.output
    verified = cli("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stdout.startswith("FAIL outside: items log: a stored event at ")
    exported = cli("audit", "export", str(tmp_path / f"export{position}"))
    assert exported.exit_code == 0, exported.output
    assert "1 stored row(s) lie outside the positions" in exported.stderr


def test_the_planner_never_plans_a_row_below_position_1(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    project, cli = _home(tmp_path, environ)
    store = Store(project)
    before = store.rows("deliveries")
    # A second item's publication, put where notifications never reach.
    with project.disclosures() as log:
        item = DisclosureItem.publish(
            content(index_no="11330100MB0000006R/2026-00099"), actor="某人",
            at=log._now(),
        )  # fmt: skip
        stored = log.mapper.to_stored_event(item.collect_events()[0])
    store.insert("items", -5, item.id.hex, 1, stored.topic, stored.state)
    assert cli("sync").exit_code == 0
    assert store.rows("deliveries") == before  # nothing planned, nothing delivered
    assert [f.kind for f in _verdict(project).findings] == ["outside"]


def test_a_planner_position_beyond_the_items_log_is_found(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    project, _ = _home(tmp_path, environ)
    if project.store.is_postgres:
        table = f'"{project.store.schema}".deliveries_tracking'
        with psycopg.connect(PG_URL, autocommit=True) as pg:
            pg.execute(f"UPDATE {table} SET notification_id = 1000")
    else:
        path = project.store.sqlite_path("Deliveries")
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE tracking SET notification_id = 1000")
        conn.close()
    [finding] = _verdict(project).findings
    assert finding.kind == "outside"
    assert "tracking position 1000 is beyond the end of the items log (1)" in (
        finding.message
    )


def test_rows_outside_the_tree_are_found_every_time(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    """The tamper test's kind "rows the audit does not cover": random rows of every
    log (items, deliveries, checkpoints) at random uncovered places, copies of real
    rows with a new version; each one is found, and the application refuses it."""
    project, _ = _home(tmp_path, environ)
    store = Store(project)
    rng = random.Random(20261202)
    places: list[int | str | None] = [0, -1, -2, -(2**62)]
    if store.pg:
        places += [None, "shared"]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for name in TABLES.values():  # as an attacker would, to share a position
                schema = project.store.schema
                conn.execute(f'DROP INDEX "{schema}".{name}_events_notification_id_idx')
                conn.execute(
                    f'ALTER TABLE "{schema}".{name}_events '
                    "ALTER COLUMN notification_id DROP NOT NULL"
                )
    missed: list[str] = []
    # Every log at every kind of place, twice, each time a different row copied.
    trials = [(log, place) for log in TABLES for place in places] * 2
    for trial, (log, place) in enumerate(trials):
        rows = store.rows(log)
        _, originator, _, topic, state = rng.choice(rows)
        new_version = max(v for _, o, v, _, _ in rows if o == originator) + 1
        at = rng.choice([p for p, *_ in rows]) if place == "shared" else place
        assert not isinstance(at, str)
        store.insert(log, at, originator, new_version, topic, state)
        verdict = _verdict(project)
        kinds = {f.kind for f in verdict.findings}
        if log == "audit":  # the checkpoint store's own reader names it
            found = any(
                "checkpoint store: a stored event at" in f.message
                for f in verdict.findings
            )
        else:
            found = "outside" in kinds
        if not found:
            missed.append(f"trial {trial}: {log} at {at}: {verdict.findings}")
        if log == "items" and place != "shared":
            with project.disclosures() as items, pytest.raises(UnauditedRowError):
                items.get(UUID(originator))
        store.delete(log, originator, new_version)
        assert _verdict(project).ok, f"trial {trial}: the row was not removed"
    assert not missed, missed


@pytest.mark.postgres
def test_finding_shared_positions_is_not_quadratic_on_postgresql(
    tmp_path: Path, pg_schema: str
) -> None:
    # `... OR notification_id IN (subquery)` is planned as a filter with a subquery
    # (a "hashed SubPlan" while the positions fit in work_mem, and beyond that one
    # scanned again for every row: verify of a county's 4.5 million delivery events
    # never ended). The statement must hold no subquery filter at all.
    require_postgres()
    environ = {"SYNDICATE_STORE_URL": PG_URL, "SYNDICATE_STORE_SCHEMA": pg_schema}
    project, _ = _home(tmp_path, environ)
    with project.disclosures() as items, project.deliveries(items, outlets={}) as log:
        recorder: Any = log.recorder
        with psycopg.connect(PG_URL) as conn:
            plan = conn.execute(
                SQL("EXPLAIN ") + recorder.outside_statement()
            ).fetchall()
        assert recorder.rows_outside() == []
    text = "\n".join(row[0] for row in plan)
    assert "SubPlan" not in text, text


def test_a_state_retyped_to_text_is_altered(tmp_path: Path) -> None:
    """eventsourcing reads a text state as well as a blob, so the leaf must differ."""
    project, cli = _home(tmp_path, {})
    Store(project).execute(
        "items", "UPDATE {table} SET state = CAST(state AS TEXT) WHERE rowid = 1"
    )
    verified = cli("audit", "verify", "--json")
    assert verified.exit_code == 1
    [finding] = json.loads(verified.stdout)["findings"]
    assert finding["kind"] == "altered"
    assert finding["leaf_index"] == 0


@pytest.mark.parametrize(
    "state", [b"{", b"[]", b'{"number": 1}', b"\xff not UTF-8"], ids=str
)
def test_a_corrupt_checkpoint_record_is_a_finding(
    tmp_path: Path, environ: dict[str, str], state: bytes
) -> None:
    project, cli = _home(tmp_path, environ)
    Store(project).execute("audit", "UPDATE {table} SET state = ?", state)
    verified = cli("audit", "verify", "--json")
    assert verified.exit_code == 1, verified.output
    assert "Traceback" not in verified.output
    findings = json.loads(verified.stdout)["findings"]
    assert findings[0]["kind"] == "checkpoint"
    assert (
        "checkpoint store position 1 is not a readable checkpoint record"
        in (findings[0]["message"])
    )
    text = cli("audit", "verify")
    assert text.exit_code == 1
    assert text.stdout.startswith("FAIL checkpoint: checkpoint store position 1 ")
    # Nothing can be signed on top of it: a clear refusal, not a traceback.
    (tmp_path / "v2.md").write_text(ITEM_FILE.replace("47户", "48户"), "utf-8")
    cli("items", "revise", REF, str(tmp_path / "v2.md"), "--reason", "改")
    made = cli("audit", "checkpoint")
    assert made.exit_code == 1
    assert "not a readable checkpoint record" in made.stderr
    assert "Traceback" not in made.output
    # An export carries the finding to the auditor.
    out = tmp_path / "export"
    assert cli("audit", "export", str(out)).exit_code == 0
    offline = cli("audit", "verify", "--export", str(out))
    assert offline.exit_code == 1
    assert "not a readable checkpoint record" in offline.stdout
    listed = cli("audit", "checkpoints")
    assert listed.exit_code == 0
    assert "#?     unreadable record: checkpoint store position 1" in listed.stdout
    assert "1-01-01" not in listed.stdout  # no made-up time or size


def test_a_checkpoint_row_below_position_1_blocks_nothing_silently(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    """A row squatting on the next checkpoint's id: checkpointing refuses clearly and
    verify names the row."""
    project, cli = _home(tmp_path, environ)
    store = Store(project)
    _, _, _, topic, state = store.rows("audit")[0]

    squat = RecordedCheckpoint.id_for(2).hex
    store.insert("audit", -1, squat, 1, topic, state)
    (tmp_path / "v2.md").write_text(ITEM_FILE.replace("47户", "48户"), "utf-8")
    assert (
        cli("items", "revise", REF, str(tmp_path / "v2.md"), "--reason", "改").exit_code
        == 0
    )
    made = cli("audit", "checkpoint")
    assert made.exit_code == 1, made.output
    assert "refused the next number" in made.stderr
    assert "Traceback" not in made.output
    verified = cli("audit", "verify")
    assert verified.exit_code == 1
    assert "checkpoint store: a stored event at position -1" in verified.stdout


@pytest.mark.postgres
def test_a_column_retyped_on_postgresql_is_refused_clearly(
    tmp_path: Path, pg_schema: str
) -> None:
    """PostgreSQL types a column, not a row: a `state` retyped to text breaks every
    read; `verify`, `items show` and `log` say so in one line, not a traceback."""
    _, cli = _home(
        tmp_path,
        {"SYNDICATE_STORE_URL": PG_URL, "SYNDICATE_STORE_SCHEMA": pg_schema},
    )
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            f'ALTER TABLE "{pg_schema}".disclosures_events ALTER COLUMN state '
            "TYPE text USING convert_from(state, 'UTF8')"
        )
    for args in (("audit", "verify"), ("items", "show", REF), ("log",)):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "holds a row of another column type than eventsourcing writes" in (
            result.stderr
        )
        assert "Traceback" not in result.output
