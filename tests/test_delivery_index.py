"""The deliveries read model (syndicate.deliveryindex): kept up to date incrementally,
persisted with its tracking position in the same store as the log (SQLite and
PostgreSQL), rebuilt when missing or asked, checked by `audit verify`, and right after
a process dies between a delivery event and its row update."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.deliveryindex import DeliveryIndex, Undecodable, fold_rows, index_row
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.engine import Engine
from syndicate.persistence import JSONTranscoder, PydanticMapper
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.clihome import CliHome
from tests.conftest import PG_URL, content
from tests.test_delivery import Rig, ScriptedAdapter, open_rig

ACTOR = "张三"
REF = "临溪县民政局/11330100MB0000006R/2026-00019"


@pytest.fixture
def rig(project: Project, clock: FixedClock, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(project, clock, tmp_path) as made:
        yield made


def fold_rows_of(log: Deliveries) -> dict[str, Any]:
    """Every delivery's row as folding the whole log gives it."""
    return {str(d.id): index_row(d) for d in log.all_deliveries().values()}


def numbered(n: int, **fields: Any) -> Any:
    return content(index_no=f"11330100MB0000006R/2026-{n:05d}", **fields)


def publish_some(rig: Rig, count: int) -> list[Any]:
    return [rig.items.publish(numbered(n), actor=ACTOR) for n in range(count)]


# -- kept up to date, incrementally ------------------------------------------------------


def test_the_rows_are_the_fold_of_the_log_after_a_sync(rig: Rig) -> None:
    changes = publish_some(rig, 3)
    rig.items.revise(
        changes[0].item_id, numbered(0, body="v2"), reason="r", actor=ACTOR
    )
    rig.items.withdraw(changes[1].item_id, reason="撤回", actor=ACTOR)
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [ConnectionError("down")]  # one retrying
    rig.worker().run_until_idle()
    index = rig.deliveries.index
    index.catch_up()
    assert index.position() == rig.deliveries.recorder.max_notification_id()
    assert index.rows() == fold_rows_of(rig.deliveries)
    assert index.differences(lambda upto: fold_rows_of(rig.deliveries)) == []
    states = {r.state for r in index.rows().values()}
    assert {"succeeded", "superseded"} <= states


def test_catching_up_reads_only_the_events_appended_since(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_some(rig, 2)
    rig.deliveries.plan()
    rig.worker().run_until_idle()
    index = rig.deliveries.index
    before = index.catch_up()
    assert before > 0
    starts: list[int | None] = []
    select = rig.deliveries.recorder.select_notifications

    def spy(*args: Any, **kw: Any) -> Any:
        starts.append(kw.get("start", args[0] if args else None))
        return select(*args, **kw)

    monkeypatch.setattr(rig.deliveries.recorder, "select_notifications", spy)
    rig.items.publish(content(index_no="X/2026-new"), actor=ACTOR)
    rig.deliveries.plan()
    rig.worker().run_until_idle()
    assert starts, "the worker caught up"
    assert min(s or 0 for s in starts) >= before  # never from the start again
    assert index.rows() == fold_rows_of(rig.deliveries)


def test_workers_and_status_of_one_item_never_fold_the_whole_log(
    tmp_path: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = _home(tmp_path, environ)
    cli.ok("sync")
    (tmp_path / "two.md").write_text(
        (tmp_path / "item.md").read_text("utf-8").replace("2026-00019", "2026-00020"),
        "utf-8",
    )
    cli.ok("items", "publish", str(tmp_path / "two.md"))

    def no_fold(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the whole deliveries log was folded")

    monkeypatch.setattr(Deliveries, "fold_into", no_fold)
    monkeypatch.setattr(Deliveries, "all_deliveries", no_fold)
    with Engine.open(cli.home, environ=environ) as engine:
        result = engine.sync()
        assert result.ok
        [row] = engine.status("临溪县民政局/11330100MB0000006R/2026-00020")
        assert row.state is DeliveryState.SUCCEEDED
        assert row.live_version == 1


def test_a_process_that_lost_the_race_folds_nothing_twice(rig: Rig) -> None:
    publish_some(rig, 2)
    rig.deliveries.plan()
    a = rig.deliveries.index
    rig.worker().run_until_idle()
    a.catch_up()
    rig.items.publish(numbered(9), actor=ACTOR)
    rig.deliveries.plan()  # events A has not folded yet
    # Two processes on one store: B catches up while A holds an old position.
    b = DeliveryIndex(
        rig.deliveries.recorder, rig.deliveries.mapper, rig.deliveries.load_many
    )
    start = a.position()
    page = rig.deliveries.recorder.select_notifications(
        start=start, limit=500, inclusive_of_start=False
    )
    stale = [index_row(d) for d in a._fold(page).values()]
    end = b.catch_up()
    assert end > start
    assert a.commit_page(start, page[-1].id, stale) is False  # refused: B moved it
    assert a.position() == end
    assert a.rows() == fold_rows_of(rig.deliveries)


# -- missing, rebuilt, checked -----------------------------------------------------------


@contextmanager
def raw(project: Project, log: str = "Deliveries") -> Iterator[Any]:
    """A connection to the store of the home's `log`, as an insider with the
    database."""
    if project.store.is_postgres:
        with psycopg.connect(PG_URL, autocommit=True) as pg:
            pg.execute(f'SET search_path TO "{project.store.schema}"')
            yield pg
        return
    lite = sqlite3.connect(project.store.sqlite_path(log))
    try:
        with lite:
            yield lite
    finally:
        lite.close()


def rows_table(project: Project) -> str:
    return "deliveries_index" if project.store.is_postgres else "delivery_index"


def mark_table(project: Project) -> str:
    return f"{rows_table(project)}_position"


def _home(tmp_path: Path, environ: dict[str, str]) -> CliHome:
    cli = CliHome(tmp_path / "home", environ)
    cli.ok("init", "--no-review")
    with (cli.home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
        # Claims of killed processes end soon (the crash tests wait for them).
        config.write("\n[delivery]\nclaim_seconds = 2\n")
    from tests.conftest import ITEM_FILE

    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    cli.ok("items", "publish", str(tmp_path / "item.md"))
    return cli


def _findings(cli: CliHome) -> list[str]:
    result = cli("audit", "verify")
    return [line for line in result.output.splitlines() if "read model" in line]


def test_a_home_without_the_tables_builds_them_on_first_use(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    cli = _home(tmp_path, environ)
    cli.ok("sync")
    project = Project.load(cli.home, environ)
    with raw(project) as conn:  # as a home made before the read model existed
        conn.execute(f"DROP TABLE {rows_table(project)}")
        conn.execute(f"DROP TABLE {mark_table(project)}")
    assert _findings(cli) == []  # nothing built yet: nothing to differ
    status = cli.ok("status", REF, "--json")
    assert '"succeeded"' in status.output
    with Engine.open(cli.home, environ=environ) as engine:
        index = engine.deliveries.index
        assert index.exists()
        assert index.rows() == fold_rows_of(engine.deliveries)


@pytest.mark.parametrize(
    "edit",
    [
        "settled",  # a delivery made to look done: a worker would skip it
        "deleted",  # a delivery's row removed: a worker would never see it
        "forged",  # a row for a delivery the log does not have
        "ahead",  # the tracking position moved past the log's end
        "behind",  # the tracking position moved back: rows ahead of it
    ],
)
def test_every_edit_of_the_read_model_is_a_verify_finding(
    tmp_path: Path, environ: dict[str, str], edit: str
) -> None:
    cli = _home(tmp_path, environ)
    cli.ok("sync")
    assert _findings(cli) == []
    project = Project.load(cli.home, environ)
    rows, mark = rows_table(project), mark_table(project)
    with raw(project) as conn:
        if edit == "settled":
            conn.execute(f"UPDATE {rows} SET state = 'failed', due_us = NULL")
        elif edit == "deleted":
            conn.execute(f"DELETE FROM {rows}")
        elif edit == "forged":
            conn.execute(
                f"INSERT INTO {rows} VALUES ('00000000-0000-0000-0000-00000000000f', "
                "'00000000-0000-0000-0000-000000000001', 1, 'archive', 1, 'planned', "
                "0, NULL, 1)"
            )
        elif edit == "ahead":
            conn.execute(f"UPDATE {mark} SET position = position + 1000")
        else:
            conn.execute(f"UPDATE {mark} SET position = 0")
    found = _findings(cli)
    assert found, f"{edit}: no finding"
    assert cli("audit", "verify").exit_code == 1
    rebuilt = cli.ok("audit", "reindex")
    assert "deliveries read model rebuilt: 1 delivery(ies)" in rebuilt.output
    assert _findings(cli) == []
    assert cli("audit", "verify").exit_code == 0


def test_a_row_is_a_hint_a_worker_checks_against_the_events(rig: Rig) -> None:
    """An insider marks a delivered message due again and forges a newer version:
    the worker sends nothing twice and supersedes nothing."""
    [change] = publish_some(rig, 1)
    rig.deliveries.plan()
    rig.worker().run_until_idle()
    sent = list(ScriptedAdapter.sent["village"])
    rig.items.revise(change.item_id, numbered(0, body="v2"), reason="r", actor=ACTOR)
    rig.deliveries.plan()
    index = rig.deliveries.index
    index.catch_up()
    v1 = delivery_id(change.item_id, 1, "village")
    v2 = delivery_id(change.item_id, 2, "archive")
    with index._transaction(commit=True) as c:
        c.execute(
            index._sql("UPDATE {rows} SET due_us = 0, state = 'planned' WHERE id = ?"),
            (str(v1),),
        )
        c.execute(
            index._sql("UPDATE {rows} SET item_version = 7 WHERE id = ?"), (str(v2),)
        )
    rig.worker().run_until_idle()
    # v1 not sent again; v2 sent once.
    assert [m["v"] for m in ScriptedAdapter.sent["village"]] == [
        *(m["v"] for m in sent),
        2,
    ]
    assert rig.states()[("archive", 2, "update")] is DeliveryState.SUCCEEDED
    index.catch_up()  # the rows the worker's own events touched are right again
    assert index.rows()[str(v2)] == index_row(rig.deliveries.delivery(v2))


# -- a process killed between a delivery event and its row update ------------------------

DYING_SYNC = textwrap.dedent(
    """
    import os, sys
    from syndicate.deliveryindex import DeliveryIndex
    from syndicate.engine import Engine

    limit = int(sys.argv[2])
    calls = [0]
    commit = DeliveryIndex.commit_page

    def dying(self, start, end, rows):
        calls[0] += 1
        if calls[0] >= limit:
            os._exit(137)  # the events are stored; their rows never will be
        return commit(self, start, end, rows)

    DeliveryIndex.commit_page = dying
    with Engine.open(sys.argv[1]) as engine:
        engine.sync()
    """
)


def _publish_many(cli: CliHome, tmp_path: Path, count: int) -> None:
    from tests.conftest import ITEM_FILE

    folder = tmp_path / "many"
    folder.mkdir(exist_ok=True)
    for n in range(count):
        text = ITEM_FILE.replace("2026-00019", f"2026-1{n:04d}")
        (folder / f"{n}.md").write_text(text, "utf-8")
    cli.ok("items", "publish", str(folder))


@pytest.mark.parametrize("limit", [1, 2])
def test_killed_before_the_row_update_status_is_right_afterwards(
    tmp_path: Path, limit: int
) -> None:
    cli = _home(tmp_path, {})
    _publish_many(cli, tmp_path, 30)
    env = {**os.environ, "SYNDICATE_ACTOR": "王五"}
    died = subprocess.run(
        [sys.executable, "-c", DYING_SYNC, str(cli.home), str(limit)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert died.returncode == 137, died.stderr
    with Engine.open(cli.home) as engine:
        stored = engine.deliveries.index.position()
        end = engine.deliveries.recorder.max_notification_id() or 0
        assert stored < end  # the process died with events not yet in the rows
        every = {(r.ref, r.outlet): r for r in engine.status()}  # folds the log
        for (ref, outlet), row in every.items():
            [one] = engine.status(ref, outlet)  # reads the read model
            assert one == row, ref
    assert _findings(cli) == []
    cli.ok("sync")
    with Engine.open(cli.home) as engine:
        assert {r.state for r in engine.status()} == {DeliveryState.SUCCEEDED}
        assert engine.deliveries.index.rows() == fold_rows_of(engine.deliveries)


def test_sigkill_at_random_moments_leaves_the_rows_the_fold_of_the_log(
    tmp_path: Path,
) -> None:
    cli = _home(tmp_path, {})
    _publish_many(cli, tmp_path, 60)
    env = {**os.environ, "SYNDICATE_ACTOR": "王五"}
    command = [sys.executable, "-m", "syndicate", "--home", str(cli.home), "sync"]
    killed = 0
    for delay in (0.4, 0.6, 0.8, 1.0, 1.2, 1.5):
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        with Engine.open(cli.home) as engine:
            index = engine.deliveries.index
            if index.exists():
                assert index.differences(partial(_fold_upto, engine.deliveries)) == []
    assert killed >= 1, "no kill landed while sync ran"
    time.sleep(2.2)  # the killed processes' claims end
    cli.ok("sync")
    with Engine.open(cli.home) as engine:
        assert {r.state for r in engine.status()} == {DeliveryState.SUCCEEDED}
        engine.deliveries.index.catch_up()
        assert engine.deliveries.index.rows() == fold_rows_of(engine.deliveries)


def _fold_upto(log: Deliveries, upto: int) -> dict[str, Any]:
    folded: dict[Any, Any] = {}
    log.fold_into(folded, 0, upto)
    return {str(d.id): index_row(d) for d in folded.values()}


# -- the rows straight from stored events (audit verify) ---------------------------------

T = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
MAPPER = PydanticMapper(transcoder=JSONTranscoder())


def _event(kind: str, n: int) -> tuple[type[Delivery.Event], dict[str, Any]]:
    """One delivery event of `kind` with fields varied by `n`."""
    at = T + timedelta(minutes=n)
    sha = f"{n:064x}"
    made: dict[str, tuple[type[Delivery.Event], dict[str, Any]]] = {
        "claim": (
            Delivery.Claimed,
            {
                "worker": f"w{n % 3}",
                "attempt": n,
                "expires_at": at + timedelta(minutes=2),
            },
        ),
        "release": (Delivery.Released, {"worker": "w", "attempt": n}),
        "succeed": (
            Delivery.Succeeded,
            {"worker": "w", "attempt": n, "rendition_sha256": sha, "receipt": {}},
        ),
        "retry_later": (
            Delivery.Failed,
            {
                "worker": "w",
                "attempt": n,
                "error_class": "TransientDeliveryError",
                "code": None,
                "message": "m",
                "retry_at": at + timedelta(minutes=5),
                "rendition_sha256": None,
            },
        ),
        "fail": (
            Delivery.Failed,
            {
                "worker": "w",
                "attempt": n,
                "error_class": "PermanentDeliveryError",
                "code": "x",
                "message": "m",
                "retry_at": None,
                "rendition_sha256": None,
            },
        ),
        "unconfirmed": (
            Delivery.Unconfirmed,
            {"worker": "w", "attempt": n, "message": "m", "rendition_sha256": None},
        ),
        "abandon": (Delivery.Abandoned, {"reason": "r"}),
        "supersede": (Delivery.Superseded, {"by_version": n}),
        "retry": (Delivery.RetryRequested, {"actor": "a"}),
        "resolve_sent": (Delivery.Resolved, {"actor": "a", "sent": True}),
        "resolve_again": (Delivery.Resolved, {"actor": "a", "sent": False}),
        "await": (
            Delivery.AwaitingAttestation,
            {"worker": "w", "attempt": n, "rendition_sha256": sha, "receipt": {}},
        ),
        "submit": (
            Delivery.Submitted,
            {
                "worker": "w",
                "attempt": n,
                "rendition_sha256": sha,
                "receipt": {"id": "1"},
                "check_at": at + timedelta(minutes=1),
            },
        ),
        "attest": (
            Delivery.Attested,
            {
                "actor": "a",
                "by": "张三",
                "posted_at": at,
                "photo_sha256": None,
                "photo_name": None,
                "note": None,
            },
        ),
        "remind": (Delivery.Reminded, {"worker": "w", "number": n, "ok": True}),
        "repair": (Delivery.Repaired, {"actor": "a", "rewritten": {}, "removed": []}),
    }
    return made[kind]


KINDS = [
    "claim",
    "release",
    "succeed",
    "retry_later",
    "fail",
    "unconfirmed",
    "abandon",
    "supersede",
    "retry",
    "resolve_sent",
    "resolve_again",
    "await",
    "submit",
    "attest",
    "remind",
    "repair",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(st.sampled_from(KINDS), max_size=12), min_size=1, max_size=4))
def test_rows_from_stored_events_are_the_rows_of_the_folded_deliveries(
    histories: list[list[str]],
) -> None:
    """`fold_rows` (what `audit verify` uses) and `index_row` of the domain's own
    fold agree on any history of any event kinds, several deliveries interleaved."""
    deliveries = []
    for n, kinds in enumerate(histories):
        d = Delivery.plan(
            item_id=UUID(int=n + 1),
            item_version=n + 1,
            outlet=f"o{n}",
            operation="publish",
            position=n + 7,
            at=T,
        )
        for step, kind in enumerate(kinds, start=1):
            cls, fields = _event(kind, step)
            d.record(cls, at=T + timedelta(minutes=step), **fields)
        deliveries.append(d)
    pending = [(d, e) for d in deliveries for e in d.collect_events()]
    pending.sort(key=lambda pair: pair[1].originator_version)  # interleaved in the log
    stored = [_tuple(MAPPER.to_stored_event(e)) for _, e in pending]
    assert fold_rows(stored) == {str(d.id): index_row(d) for d in deliveries}


def test_rows_from_stored_events_on_a_real_log(rig: Rig) -> None:
    changes = publish_some(rig, 3)
    rig.items.revise(
        changes[0].item_id, numbered(0, body="v2"), reason="r", actor=ACTOR
    )
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [ConnectionError("down")]
    rig.worker().run_until_idle()
    page = rig.deliveries.recorder.select_notifications(start=1, limit=10_000)
    assert fold_rows(map(_tuple, page)) == fold_rows_of(rig.deliveries)


def test_an_event_to_upcast_is_left_to_the_domain_fold() -> None:
    d = Delivery.plan(
        item_id=UUID(int=1), item_version=1, outlet="o", operation="publish",
        position=1, at=T,
    )  # fmt: skip
    [planned] = [MAPPER.to_stored_event(e) for e in d.collect_events()]
    older = json.loads(planned.state)
    older["class_version"] = 0
    stored = planned.__class__(
        originator_id=planned.originator_id,
        originator_version=1,
        topic=planned.topic,
        state=json.dumps(older).encode(),
    )
    with pytest.raises(Undecodable):
        fold_rows([_tuple(stored)])


def _tuple(stored: Any) -> tuple[Any, int, str, bytes]:
    return (
        stored.originator_id,
        stored.originator_version,
        stored.topic,
        stored.state,
    )


def test_threads_of_one_process_catch_up_together(rig: Rig) -> None:
    """A worker's outlet threads share one read model: catching up from several
    threads at once folds each event once (its cache is changed in place)."""
    publish_some(rig, 40)
    rig.deliveries.plan()
    index = rig.deliveries.index
    errors: list[BaseException] = []
    done = threading.Event()

    def keep_catching_up() -> None:
        try:
            while not done.is_set():
                index.catch_up()
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=keep_catching_up) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        rig.worker().run_until_idle()
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == []
    index.catch_up()
    assert index.rows() == fold_rows_of(rig.deliveries)


def test_reindex_and_worker_outlet_refusals_leave_the_log_unchanged(
    tmp_path: Path,
) -> None:
    cli = _home(tmp_path, {})
    cli.ok("sync")
    items_before = cli.items()
    with Engine.open(cli.home) as engine:
        deliveries_before = engine.deliveries.all_deliveries()
        end_before = engine.deliveries.recorder.max_notification_id()
        rows_before = engine.deliveries.index.rows()
    done = cli.ok("audit", "reindex")
    assert "deliveries read model rebuilt: 1 delivery(ies) up to deliveries-log" in (
        done.output
    )
    bad = cli("worker", "--outlet", "archive", "--outlet", "nope")
    assert bad.exit_code == 2
    assert "--outlet" in bad.output
    assert "'nope': not an outlet in syndicate.toml (outlets: archive)" in bad.output
    elsewhere = CliHome(tmp_path / "not-a-home", {})
    missing = elsewhere("audit", "reindex")
    assert missing.exit_code == 2
    assert "syndicate.toml" in missing.output
    # Rebuilding and refusing wrote no event; the rows are what they were.
    assert cli.items() == items_before
    with Engine.open(cli.home) as engine:
        assert engine.deliveries.all_deliveries().keys() == deliveries_before.keys()
        assert engine.deliveries.recorder.max_notification_id() == end_before
        assert engine.deliveries.index.rows() == rows_before
