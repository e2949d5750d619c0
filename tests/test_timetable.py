"""The timetable (syndicate.timetable): which items wait for the clock (公示 ends,
scheduled releases, validity), persisted beside the items log with its tracking
position on SQLite and PostgreSQL, read incrementally by `sync`, rebuilt when missing
or asked, checked row by row by `audit verify`, and right after a process dies
between an event and its row update (issue 20)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from syndicate.application import Disclosures
from syndicate.audit.service import timetable_findings
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.lifecycle import DueKind, due_at
from syndicate.engine import Engine
from syndicate.errors import SyndicateError
from syndicate.project import Project
from syndicate.readmodel import notifications
from syndicate.testing import FixedClock
from syndicate.timetable import TIME_TOPICS, Timetable, expected_rows
from tests.clihome import CliHome
from tests.conftest import content
from tests.test_delivery_index import raw as raw_store

START = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA_TZ)
ACTOR = "张三"


def numbered(n: int, **fields: Any) -> Any:
    return content(index_no=f"LX-2026-{n:04d}", **fields)


@pytest.fixture
def engine(project: Project, environ: dict[str, str]) -> Iterator[Engine]:
    clock = FixedClock(START)
    with Engine.open(project.home, environ=environ, clock=clock) as opened:
        yield opened


def clock_of(engine: Engine) -> FixedClock:
    clock = engine.items.clock
    assert isinstance(clock, FixedClock)
    return clock


def expected(items: Disclosures) -> dict[str, Any]:
    """Every row as folding the whole items log from the start gives it."""
    return expected_rows(items._notifications(topics=TIME_TOPICS), items.item_at)


def brute_force_due(engine: Engine, now: datetime) -> list[UUID]:
    """Items with a change due by `now`, from every item of the log (earliest first)."""
    ready = []
    for summary in engine.items.items():
        item = engine.items.get(summary.id)
        found = due_at(item)
        if found and found[0].at <= now:
            ready.append((found[0].at, item.id))
    return [id_ for _, id_ in sorted(ready)]


def test_the_rows_follow_a_month_of_random_changes(engine: Engine) -> None:
    """Random publications with windows, validities and schedules, revisions that move
    them, withdrawals, and the clock running: after every step the stored rows are the
    fold of the whole log, and what is due is what every item says."""
    items, clock = engine.items, clock_of(engine)
    rng = random.Random(20)
    refs: list[str] = []
    for step in range(60):
        action = rng.choice(["publish", "publish", "revise", "withdraw", "time"])
        day = (clock.now + timedelta(days=rng.randint(0, 6))).date()
        if action == "publish" or not refs:
            n = len(refs)
            kind = rng.choice(["notice", "validity", "schedule", "plain"])
            fields: dict[str, Any] = {}
            release_at = None
            if kind == "notice":
                fields["notice_period"] = {
                    "start": clock.now.date().isoformat(),
                    "end": (day + timedelta(days=12)).isoformat(),
                }
            elif kind == "validity":
                fields |= {"validity": "in_force", "valid_until": day.isoformat()}
                fields["formed_on"] = "2026-05-01"
            elif kind == "schedule":
                release_at = clock.now + timedelta(hours=rng.randint(1, 100))
            refs.append(numbered(n).ref)
            items.publish(numbered(n, **fields), actor=ACTOR, release_at=release_at)
        elif action == "revise":
            ref = rng.choice(refs)
            item = items.get(items.resolve(ref))
            if item.status.value == "published" and item.pending is None:
                data = item.content.model_dump(exclude_unset=True)
                if data.get("notice_period"):
                    end = date.fromisoformat(str(data["notice_period"]["end"]))
                    moved = end + timedelta(days=rng.randint(-2, 3))
                    start = date.fromisoformat(str(data["notice_period"]["start"]))
                    data["notice_period"]["end"] = max(moved, start).isoformat()
                data["body"] = f"{item.content.body}（更正{step}）"
                # A window already over cannot move back: refused.
                with suppress(SyndicateError):
                    items.revise(
                        item.id,
                        type(item.content).model_validate(data),
                        reason="更正",
                        actor=ACTOR,
                    )
        elif action == "withdraw":
            ref = rng.choice(refs)
            with suppress(SyndicateError):  # withdrawn already, or not released
                items.withdraw(items.resolve(ref), reason="撤回", actor=ACTOR)
        else:
            clock.now += timedelta(hours=rng.randint(6, 60))
            engine.advance()
        table = items.timetable
        table.refresh()
        assert table.position() == max(
            (n.id for n in items._notifications(topics=TIME_TOPICS)), default=0
        )
        assert table.stored()[1] == expected(engine.items), f"step {step}: {action}"
        assert table.due(clock.now) == brute_force_due(engine, clock.now)
    assert any(r.next_us is not None for r in table.stored()[1].values())
    kinds = {c.kind for c in table.upcoming()}
    assert {DueKind.NOTICE_END, DueKind.EXPIRY} <= kinds


def test_sync_reads_only_the_events_appended_since(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = engine.items
    for n in range(3):
        items.publish(
            numbered(n, notice_period={"start": "2026-06-01", "end": "2026-06-09"}),
            actor=ACTOR,
        )
    engine.sync()
    before = items.timetable.position()
    assert before > 0
    starts: list[int] = []
    select = items.recorder.select_notifications

    def spy(*args: Any, **kw: Any) -> Any:
        if kw.get("topics") == TIME_TOPICS:
            starts.append(int(kw["start"]))
        return select(*args, **kw)

    monkeypatch.setattr(items.recorder, "select_notifications", spy)
    items.publish(numbered(9), actor=ACTOR)
    engine.sync()
    assert starts, "sync caught the timetable up"
    assert min(starts) >= before  # never from the start again
    clock_of(engine).now = datetime(2026, 6, 10, 1, tzinfo=CHINA_TZ)
    ended = engine.sync()
    assert sorted(e for _, e in ended.timed) == ["NoticeEnded"] * 3
    assert min(starts) >= before
    assert items.timetable.due(clock_of(engine).now) == []
    assert items.timetable.stored()[1] == expected(engine.items)


def test_killed_between_an_event_and_its_row_the_next_reader_applies_it(
    engine: Engine, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    items = engine.items
    window = {"start": "2026-06-01", "end": "2026-06-05"}
    change = items.publish(numbered(1, notice_period=window), actor=ACTOR)
    items.timetable.refresh()

    def dying(self: Timetable, start: int, end: int, *rest: Any) -> bool:
        raise KeyboardInterrupt  # the process stops before the rows are written

    items.publish(numbered(2, notice_period=window), actor=ACTOR)
    with monkeypatch.context() as patched:
        patched.setattr(Timetable, "commit_page", dying)
        with pytest.raises(KeyboardInterrupt):
            items.timetable.refresh()
    # A new process: the second item's row is written by the next reader.
    with Engine.open(
        engine.project.home, environ=environ, clock=clock_of(engine)
    ) as again:
        clock_of(engine).now = datetime(2026, 6, 6, 1, tzinfo=CHINA_TZ)
        timed = again.sync().timed
        assert len(timed) == 2
        assert {ref for ref, _ in timed} == {numbered(1).ref, numbered(2).ref}
        assert again.items.timetable.stored()[1] == expected(again.items)
        assert again.items.get(change.item_id).notice_over


def test_several_processes_fold_each_page_once(engine: Engine) -> None:
    """Two timetables over one log (two processes): the one that lost the race writes
    nothing and reads on from the winner's position."""
    items = engine.items
    for n in range(4):
        items.publish(
            numbered(n, notice_period={"start": "2026-06-01", "end": "2026-06-05"}),
            actor=ACTOR,
        )
    a = Timetable(items.recorder, items.item_at)
    b = Timetable(items.recorder, items.item_at)
    start = a.position()
    end = b.refresh()
    assert end > start
    assert a.commit_page(start, end, []) is False  # refused: b moved it
    assert a.refresh() == end
    assert a.stored() == b.stored()
    assert len(a.stored()[1]) == 4


def raw(project: Project) -> AbstractContextManager[Any]:
    """A connection to the home's items store, as an insider with the database."""
    return raw_store(project, "Disclosures")


def tables(project: Project) -> tuple[str, str]:
    rows = "disclosures_timetable" if project.store.is_postgres else "timetable"
    return rows, f"{rows}_position"


def _home(tmp_path: Path, environ: dict[str, str]) -> CliHome:
    cli = CliHome(tmp_path / "home", environ)
    cli.ok("init", "--no-review")
    with (cli.home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    today = datetime.now(CHINA_TZ).date()
    window = f"{{ start = {today}, end = {today + timedelta(days=30)} }}"
    item = tmp_path / "item.md"
    item.write_text(
        '+++\nagency = "临溪县民政局"\nindex_no = "LX-2026-0001"\n'
        'title = "柳塘村2026年耕地地力保护补贴发放名单公示"\narea = "社会救助"\n'
        'stage = "结果公开"\nbasis = "《社会救助暂行办法》第十一条"\n'
        "formed_on = 2026-04-10\n"
        f"notice_period = {window}\n+++\n"
        "名单如下。\n",
        "utf-8",
    )
    cli.ok("items", "publish", str(item))
    return cli


def _findings(cli: CliHome) -> list[str]:
    result = cli("audit", "verify")
    return [line for line in result.output.splitlines() if "timetable" in line]


@pytest.mark.parametrize(
    "edit",
    [
        "delayed",  # a window's end moved later: it would stay open on every outlet
        "deleted",  # the row removed: the window would never end
        "forged",  # a row for an item whose events ask for none
        "ahead",  # the tracking position moved past the log's end
        "behind",  # the tracking position moved back: rows ahead of it
    ],
)
def test_every_edit_of_the_timetable_is_a_verify_finding(
    tmp_path: Path, environ: dict[str, str], edit: str
) -> None:
    cli = _home(tmp_path, environ)
    cli.ok("sync")
    assert _findings(cli) == []
    assert cli("audit", "verify").exit_code == 0
    project = Project.load(cli.home, environ)
    rows, mark = tables(project)
    with raw(project) as conn:
        if edit == "delayed":
            conn.execute(
                f"UPDATE {rows} SET notice_end_us = notice_end_us + 86400000000, "
                "next_us = next_us + 86400000000"
            )
        elif edit == "deleted":
            conn.execute(f"DELETE FROM {rows}")
        elif edit == "forged":
            conn.execute(
                f"INSERT INTO {rows} VALUES ('00000000-0000-0000-0000-00000000000f', "
                "1, 1, 'x', NULL, NULL, NULL, NULL, 0)"
            )
        elif edit == "ahead":
            conn.execute(f"UPDATE {mark} SET position = position + 1000")
        else:
            conn.execute(f"UPDATE {mark} SET position = 0")
    found = _findings(cli)
    assert found, f"{edit}: no finding"
    assert all("audit reindex" in line for line in found)
    assert cli("audit", "verify").exit_code == 1
    rebuilt = cli.ok("audit", "reindex")
    assert "timetable rebuilt: 1 item(s) ever timed" in rebuilt.output
    assert _findings(cli) == []
    assert cli("audit", "verify").exit_code == 0


def test_a_row_due_too_early_changes_nothing(engine: Engine) -> None:
    """An insider marks a window as ended now: the item's own events say it is not,
    so nothing is recorded."""
    items = engine.items
    change = items.publish(
        numbered(1, notice_period={"start": "2026-06-01", "end": "2026-06-20"}),
        actor=ACTOR,
    )
    table = items.timetable
    table.refresh()
    with table._transaction(commit=True) as c:
        c.execute(table._sql("UPDATE {rows} SET next_us = 0, notice_end_us = 0"))
    assert table.due(clock_of(engine).now) == [change.item_id]
    assert engine.advance() == []
    assert not items.get(change.item_id).notice_over


def test_an_old_home_builds_the_timetable_on_first_use(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    cli = _home(tmp_path, environ)
    project = Project.load(cli.home, environ)
    rows, mark = tables(project)
    with raw(project) as conn:  # as a home made before the timetable existed
        conn.execute(f"DROP TABLE {rows}")
        conn.execute(f"DROP TABLE {mark}")
    assert _findings(cli) == []  # nothing built yet: nothing to differ
    cli.ok("status")  # lists what is scheduled: reads the timetable
    cli.ok("sync")
    with Engine.open(cli.home, environ=environ) as engine:
        table = engine.items.timetable
        assert table.exists()
        [row] = table.stored()[1].values()
        assert row.notice_end_us is not None
        assert table.stored()[1] == expected(engine.items)


def test_a_log_kept_in_memory_still_advances() -> None:
    """A library user's in-memory log (eventsourcing's default, no tables): the
    timetable folds it from the start each time instead of persisting rows."""
    clock = FixedClock(START)
    window = {"start": "2026-06-01", "end": "2026-06-05"}
    with Disclosures(clock=clock) as items:
        change = items.publish(numbered(1, notice_period=window), actor=ACTOR)
        assert not items.timetable.exists()
        items.timetable.refresh()
        assert [c.kind for c in items.timetable.upcoming()] == [DueKind.NOTICE_END]
        assert items.advance() == []
        clock.now = datetime(2026, 6, 6, 1, tzinfo=CHINA_TZ)
        assert [c.event for c in items.advance()] == ["NoticeEnded"]
        assert items.get(change.item_id).notice_over
        assert items.timetable.next_at() is None


# -- found by a hostile review -----------------------------------------------------------


@pytest.mark.parametrize("dropped", ["rows", "mark"])
def test_dropping_one_of_the_tables_folds_again_from_the_start(
    engine: Engine, environ: dict[str, str], dropped: str
) -> None:
    """With only the rows gone, going on from the old position would leave every
    earlier item out: no window would ever end. Verify names the missing table; the
    next command folds the log from the start."""
    items = engine.items
    window = {"start": "2026-06-01", "end": "2026-06-05"}
    change = items.publish(numbered(1, notice_period=window), actor=ACTOR)
    table = items.timetable
    table.refresh()
    name = table.table_names[0 if dropped == "rows" else 1]
    with table._transaction(commit=True) as c:
        c.execute(table._sql("DROP TABLE {" + dropped + "}"))
    [finding] = timetable_findings(items)
    assert f"its table {name} is missing" in finding.message
    clock = clock_of(engine)
    clock.now = datetime(2026, 6, 6, 1, tzinfo=CHINA_TZ)
    with Engine.open(engine.project.home, environ=environ, clock=clock) as again:
        assert [c.event for c in again.items.advance()] == ["NoticeEnded"]
        assert again.items.get(change.item_id).notice_over
        assert timetable_findings(again.items) == []


def test_rows_for_no_item_neither_stop_sync_nor_record_anything(
    engine: Engine,
) -> None:
    """An insider adds rows due now for an item that does not exist and for an id
    that is not one: the real item's window still ends, and nothing else happens."""
    items = engine.items
    window = {"start": "2026-06-01", "end": "2026-06-05"}
    change = items.publish(numbered(1, notice_period=window), actor=ACTOR)
    table = items.timetable
    table.refresh()
    with table._transaction(commit=True) as c:
        for forged in ("00000000-0000-0000-0000-00000000000f", "not-an-id"):
            c.execute(
                table._sql(
                    "INSERT INTO {rows} VALUES (?, 1, 1, 'x', 'X/1', 0, NULL, NULL, 0)"
                ),
                (forged,),
            )
    clock_of(engine).now = datetime(2026, 6, 6, 1, tzinfo=CHINA_TZ)
    assert [c.ref for c in items.due()] == [numbered(1).ref]
    assert engine.scheduled() == []
    result = engine.sync()
    assert [(ref, event) for ref, event in result.timed] == [
        (numbered(1).ref, "NoticeEnded")
    ]
    assert items.get(change.item_id).notice_over
    found = timetable_findings(items)
    assert len(found) == 2
    assert all("has a row its events do not ask for" in f.message for f in found)


def test_a_position_that_is_not_a_number_is_a_finding_and_is_folded_again(
    tmp_path: Path,
) -> None:
    """SQLite keeps what is written whatever the column's type: a tracking position
    edited to text is a finding of verify (no traceback), and the next command, or
    `audit reindex`, folds the log again. Both read models."""
    cli = _home(tmp_path, {})
    cli.ok("sync")
    project = Project.load(cli.home, {})
    with raw(project) as conn:
        conn.execute("UPDATE timetable_position SET position = 'abc'")
    with raw_store(project) as conn:
        conn.execute("UPDATE delivery_index_position SET position = 'abc'")
    verified = cli("audit", "verify")
    assert verified.exit_code == 1
    assert "Traceback" not in verified.output
    assert "timetable: its tracking position is not a number" in verified.output
    assert (
        "deliveries read model: its tracking position is not a number"
        in verified.output
    )
    rebuilt = cli.ok("audit", "reindex")
    assert "2 row(s) differed before" in rebuilt.output
    assert cli("audit", "verify").exit_code == 0
    with raw(project) as conn:
        conn.execute("UPDATE timetable_position SET position = 'abc'")
    cli.ok("sync")  # folds it again by itself
    assert cli("audit", "verify").exit_code == 0


def test_a_rebuild_that_comes_back_to_the_same_position_voids_a_fold(
    tmp_path: Path,
) -> None:
    """A worker folds a page from the rows it read; meanwhile `audit reindex` empties
    the table and folds back to exactly the worker's position (ABA). The worker's
    compare-and-set would pass; the marks it folded from are checked again inside
    the same transaction, so it reads again instead of writing rows that leave the
    released window out."""
    project, _ = Project.init(tmp_path / "home", environ={}, keys=False, review=True)
    clock = FixedClock(START)
    with project.disclosures(clock=clock) as items:
        window = {"start": "2026-06-01", "end": "2026-06-12"}
        change = items.publish(numbered(1, notice_period=window), actor=ACTOR)
        worker = Timetable(items.recorder, items.item_at)
        reindex = Timetable(items.recorder, items.item_at)
        caught_up = worker.refresh()
        pending = items.get(change.item_id).pending
        assert pending is not None
        items.approve(
            change.item_id,
            level=pending.next_level or "",
            content_hash=pending.review_hash,
            actor="李四",
        )  # `Released`: its stored state carries no window of its own
        read = worker._marks_of_items
        raced: list[bool] = []

        def interleaved(ids: Any, cursor: Any = None) -> dict[UUID, int]:
            if cursor is None and not raced:
                raced.append(True)
                reindex.reset()  # the reindex starts: no rows, position 0
                known = read(ids)  # the worker reads the half-built table
                upto = notifications(items.recorder, stop=caught_up, topics=TIME_TOPICS)
                rows = expected_rows(upto, items.item_at).values()
                assert reindex.commit_page(0, caught_up, list(rows))
                return known
            return read(ids, cursor)

        worker._marks_of_items = interleaved  # type: ignore[method-assign]
        worker.refresh()
        reindex.refresh()
        assert raced
        assert worker.stored()[1] == expected(items)
        clock.now = datetime(2026, 6, 13, 9, tzinfo=CHINA_TZ)
        assert [c.event for c in items.advance(timetable=worker)] == ["NoticeEnded"]
