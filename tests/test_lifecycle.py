"""Time on every outlet (issue 17, docs/lifecycle.md): scheduled release, the 公示期
window, validity and repeal, one clock. A fixed clock runs a month on every outlet
kind, with `audit consistency` clean at each step; bad input is refused with the log
unchanged, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import sys
import time as time_module
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from syndicate.domain.base import CHINA_TZ
from syndicate.domain.lifecycle import NoticeRefused
from syndicate.engine import Engine
from syndicate.engine.attest import Attestation
from syndicate.errors import DomainError, InputError, NothingChanged, ReviewRefused
from syndicate.project import Project
from syndicate.testing import FixedClock, LoopbackServer, log_snapshot
from syndicate.testing.fakes import WechatMpServer, WeComRobotServer, toml_table
from tests.clihome import CliHome, impersonate
from tests.conftest import content

PORTAL = "https://www.linxi.gov.cn"
START = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA_TZ)


def china(day: str, hour: int = 9) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), CHINA_TZ) + (
        timedelta(hours=hour)
    )


@pytest.fixture
def wechat() -> Iterator[WechatMpServer]:
    with WechatMpServer(
        app_id="wx0123456789abcdef", secret="s" * 32, publish_polls=0
    ) as server:
        yield server


@pytest.fixture
def wecom() -> Iterator[WeComRobotServer]:
    with WeComRobotServer(keys=["k" * 36]) as server:
        yield server


def make_home(
    tmp_path: Path,
    environ: dict[str, str],
    wechat: WechatMpServer,
    wecom: WeComRobotServer,
    notice: str = "",
) -> CliHome:
    env = {**environ, "WX_SECRET": "s" * 32, "WECOM_KEY": "k" * 36}
    home = CliHome(tmp_path / "home", env)
    home.ok("init", "--no-review")
    files = {
        "portal": {"kind": "portal", "site_url": PORTAL, "site_name": "临溪县人民政府"},
        "feeds": {"kind": "rss", "site_url": PORTAL, "site_name": "临溪县人民政府"},
        "kiosk": {"kind": "kiosk", "portal_url": PORTAL},
        "board": {"kind": "noticeboard", "portal_url": PORTAL},
    }
    tables = "".join(
        toml_table(
            name,
            {**table, "channel": name if name != "feeds" else "rss"}
            | {"path": f"outlets/{name}"},
        )
        if name != "board"
        else toml_table(
            name, {**table, "channel": "noticeboard", "path": f"outlets/{name}"}
        )
        for name, table in files.items()
    )
    tables += toml_table("wechat", wechat.outlet_table("WX_SECRET", portal_url=PORTAL))
    tables += toml_table("village", wecom.outlet_table("WECOM_KEY", portal_url=PORTAL))
    tables += "[delivery]\nfirst_check_seconds = 1\n"
    config = home.home / "syndicate.toml"
    text = config.read_text("utf-8")
    # `init` writes [notice] with its keys commented out: set them there.
    text = text.replace("[notice]\n", "[notice]\n" + notice, 1)
    config.write_text(text + "\n" + tables, "utf-8")
    return home


def open_engine(home: CliHome, clock: FixedClock) -> Engine:
    return Engine.open(home.home, environ=home.env, clock=clock)


def settle(engine: Engine, clock: FixedClock) -> None:
    """Sync until nothing waits (WeChat confirms a moment later); attest every sheet."""
    for _ in range(20):
        engine.sync()
        rows = engine.status()
        waiting = [
            r
            for r in rows
            if r.state.value in ("planned", "submitted", "claimed", "retrying")
        ]
        for row in rows:
            for sheet in row.awaiting_attestation:
                engine.attest(
                    str(sheet.delivery_id),
                    Attestation.of(by="村委会 李静"),
                    actor="李静",
                )
        if not waiting:
            return
        clock.advance(seconds=30)
    raise AssertionError(f"deliveries still waiting: {waiting}")


def assert_consistent(engine: Engine) -> None:
    report = engine.consistency()
    bad = [(r.ref, r.outlet, r.verdict, r.detail, r.path) for r in report.mismatched]
    assert not bad, bad


def events(engine: Engine) -> Counter[tuple[str, str]]:
    """(ref, event) counts over the items log."""
    return Counter((e.ref, e.event) for e in engine.items.read_log())


def portal_page(home: CliHome, engine: Engine, ref: str) -> str:
    id_ = engine.items.resolve(ref)
    return (home.home / "outlets" / "portal" / "items" / f"{id_}.html").read_text(
        "utf-8"
    )


def test_a_month_of_time_reaches_every_outlet_and_stays_consistent(
    tmp_path: Path,
    environ: dict[str, str],
    wechat: WechatMpServer,
    wecom: WeComRobotServer,
) -> None:
    home = make_home(tmp_path, environ, wechat, wecom)
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        # A 公示 whose window starts in two days: held until then (待发布).
        notice = content(
            index_no="LX-2026-0601",
            title="柳塘村2026年耕地地力保护补贴发放名单公示",
            notice_period={"start": "2026-06-03", "end": "2026-06-11"},
        )
        held = items.publish(notice, actor="张三")
        assert not held.released
        assert held.release_at == china("2026-06-03", 0)
        # A scheduled release (定时发布).
        later = items.publish(
            content(index_no="LX-2026-0602", title="临溪县2026年夏粮收购政策公告"),
            actor="张三",
            release_at=china("2026-06-05", 8),
        )
        assert later.release_at == china("2026-06-05", 8)
        # An old regulation, a new one that replaces it, and one valid to 6-20.
        old = content(
            index_no="LX-2019-0003",
            title="临溪县农村宅基地管理办法",
            validity="现行有效",
            formed_on="2019-03-01",
        )
        new = content(
            index_no="LX-2026-0031",
            title="临溪县农村宅基地管理办法（2026年修订）",
            validity="现行有效",
            formed_on="2026-05-20",
        )
        short = content(
            index_no="LX-2026-0040",
            title="临溪县2026年春耕临时补助办法",
            validity="in_force",
            valid_until="2026-06-20",
            formed_on="2026-05-01",
        )
        for c in (old, new, short):
            items.publish(c, actor="张三")
        assert [s.ref for s in engine.scheduled()] == [held.ref, later.ref]
        settle(engine, clock)
        assert_consistent(engine)

        repealed_on = date(2026, 6, 15)
        seen: list[tuple[date, set[str]]] = []
        for day in range(1, 31):
            clock.now = START + timedelta(days=day)
            today = clock.now.date()
            if today == repealed_on:
                items.repeal(
                    old.ref,
                    reason="县政府令第12号",
                    actor="王五",
                    replaced_by=new.ref,
                )
            result = engine.sync()
            seen.append((today, {f"{ref} {event}" for ref, event in result.timed}))
            settle(engine, clock)
            assert_consistent(engine)
            # The kiosk never shows a notice outside its window.
            kiosk = (home.home / "outlets" / "kiosk").rglob("*.json")
            shown = "".join(p.read_text("utf-8") for p in kiosk)
            inside = date(2026, 6, 3) <= today <= date(2026, 6, 11)
            assert (notice.title in shown) == inside, today

        fired = {day: what for day, what in seen if what}
        assert fired == {
            date(2026, 6, 3): {f"{notice.ref} Released"},
            date(2026, 6, 5): {f"{later.ref} Released"},
            date(2026, 6, 12): {f"{notice.ref} NoticeEnded"},
            date(2026, 6, 21): {f"{short.ref} Expired"},
        }
        counts = events(engine)
        for ref, event in [
            (notice.ref, "Released"),
            (later.ref, "Released"),
            (notice.ref, "NoticeEnded"),
            (short.ref, "Expired"),
            (old.ref, "Repealed"),
        ]:
            assert counts[(ref, event)] == 1, (ref, event)

        # Portal: the notice page stays, marked, without its list; the repealed
        # regulation links to the new one; the lapsed one says so.
        page = portal_page(home, engine, notice.ref)
        assert "公示期已结束" in page
        page = portal_page(home, engine, old.ref)
        assert "已废止" in page
        assert f"{engine.items.resolve(new.ref)}.html" in page
        assert "已失效" in portal_page(home, engine, short.ref)
        # Feeds carry the updates.
        feed = "".join(
            p.read_text("utf-8")
            for p in (home.home / "outlets" / "feeds").rglob("*.xml")
        )
        assert "已废止" in feed
        # The notice board got a take-down sheet for the ended notice (attested).
        rows = {(r.ref, r.outlet): r for r in engine.status() if r.outlet == "board"}
        assert rows[(notice.ref, "board")].operation == "retract"
        # Group robots: nothing for the window's end (notify_end is off), a 废止 notice.
        texts = [json.dumps(m, ensure_ascii=False) for m in wecom.messages("k" * 36)]
        assert not any("公示结束" in t for t in texts)
        assert any("废止" in t and "宅基地" in t for t in texts)
        # WeChat: the article of the notice stays (after_end = hide_details).
        assert not wechat.calls("freepublish/delete")


def test_after_end_remove_takes_the_notice_down_and_notify_end_tells_the_groups(
    tmp_path: Path,
    environ: dict[str, str],
    wechat: WechatMpServer,
    wecom: WeComRobotServer,
) -> None:
    home = make_home(
        tmp_path,
        environ,
        wechat,
        wecom,
        notice='after_end = "remove"\nnotify_end = true\n',
    )
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        notice = content(
            index_no="LX-2026-0701",
            title="柳塘村低保对象公示",
            notice_period={"start": "2026-06-01", "end": "2026-06-09"},
        )
        engine.items.publish(notice, actor="张三")
        settle(engine, clock)
        clock.now = china("2026-06-10", 8)
        assert [d.kind.value for d in engine.items.due()] == ["notice_end"]
        # Due but not recorded: consistency says every outlet is stale in time.
        report = engine.consistency()
        assert any(
            r.verdict == "stale" and "公示期" in r.detail for r in report.mismatched
        )
        settle(engine, clock)
        assert_consistent(engine)
        rows = {r.outlet: r for r in engine.status(notice.ref)}
        assert rows["portal"].operation == "retract"
        assert rows["wechat"].operation == "retract"
        assert rows["village"].operation == "correction"
        assert wechat.calls("freepublish/delete")
        page = portal_page(home, engine, notice.ref)
        assert "公示期已结束" in page
        texts = [json.dumps(m, ensure_ascii=False) for m in wecom.messages("k" * 36)]
        assert any("公示" in t and "结束" in t for t in texts[1:])


def test_review_still_comes_first_and_a_schedule_can_move_or_be_cancelled(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "home", environ)
    home.ok("init")  # review on: one level, 审核
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        c = content(index_no="LX-2026-0801", title="临溪县防汛工作通知")
        change = items.publish(c, actor="张三", release_at=china("2026-06-02"))
        assert change.release_at == china("2026-06-02")
        moved = items.schedule(c.ref, release_at=china("2026-06-03"), actor="张三")
        assert moved.event == "ReleaseScheduled"
        with pytest.raises(NothingChanged):
            items.schedule(c.ref, release_at=china("2026-06-03"), actor="张三")
        clock.now = china("2026-06-04")
        assert items.advance() == []  # not approved yet: it waits for review
        detail = items.review(c.ref)
        approved = items.approve(
            c.ref,
            level=detail.entry.awaiting or "审核",
            content_hash=detail.entry.content_hash,
            actor="李四",
        )
        assert approved.released  # past its time: released by the last approval
        d = content(index_no="LX-2026-0802", title="临溪县防汛工作通知（二）")
        items.publish(d, actor="张三", release_at=china("2026-06-08"))
        cancelled = items.schedule(d.ref, release_at=None, actor="张三")
        assert cancelled.event == "ScheduleCancelled"
        assert [s.ref for s in engine.scheduled()] == []
        clock.now = china("2026-06-09")
        assert items.advance() == []


BAD = [
    (
        "end before start",
        {"notice_period": {"start": "2026-06-10", "end": "2026-06-02"}},
        {},
        InputError,
        "notice_period",
    ),
    (
        "release_at in the past",
        {},
        {"release_at": datetime(2026, 5, 1, tzinfo=UTC)},
        InputError,
        "release_at",
    ),
    (
        "release_at with no zone",
        {},
        {"release_at": datetime(2026, 7, 1)},
        InputError,
        "release_at",
    ),
    ("unknown validity", {"validity": "暂行"}, {}, InputError, "validity"),
    (
        "valid_until before formed_on",
        {"valid_until": "2026-01-01"},
        {},
        InputError,
        "valid_until",
    ),
    (
        "a window that has ended",
        {"notice_period": {"start": "2026-05-01", "end": "2026-05-12"}},
        {},
        NoticeRefused,
        "notice_period.end",
    ),
    (
        "a window too short",
        {"notice_period": {"start": "2026-06-01", "end": "2026-06-02"}},
        {},
        NoticeRefused,
        "working day",
    ),
    (
        "a window that started before release",
        {"notice_period": {"start": "2026-05-28", "end": "2026-06-12"}},
        {},
        NoticeRefused,
        "notice_period.start",
    ),
]


@pytest.mark.parametrize(
    ("case", "fields", "options", "error", "message"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_time_input_is_refused_with_the_log_unchanged(
    tmp_path: Path,
    environ: dict[str, str],
    case: str,
    fields: dict[str, object],
    options: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        before = log_snapshot(engine.items)
        with pytest.raises(error) as raised:
            engine.items.publish(
                content(index_no="BAD-1", **fields),
                actor="张三",
                **options,  # type: ignore[arg-type]
            )
        assert message in str(raised.value)
        assert log_snapshot(engine.items) == before


def test_a_late_notice_is_published_with_its_reason_recorded_and_reported(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        late = content(
            index_no="LATE-1",
            notice_period={"start": "2026-04-02", "end": "2026-04-08"},
        )
        change = engine.items.publish(
            late, actor="张三", late_reason="补录：已于4月在村公示栏张贴"
        )
        assert change.released
        item = engine.items.get(late.ref)
        [exception] = item.exceptions
        assert exception.reason == "补录：已于4月在村公示栏张贴"
        # Released with an ended window: the clock ends it at the next run.
        assert [(c.ref, c.event) for c in engine.items.advance()] == [
            (late.ref, "NoticeEnded")
        ]
    home.ok("audit", "report", "--out", tmp_path / "r")
    csv = (tmp_path / "r" / "late_notices.csv").read_text("utf-8")
    assert "补录" in csv
    assert late.index_no in csv


def test_repeal_refuses_what_cannot_be_repealed_with_the_log_unchanged(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        a = content(index_no="R-1", title="临溪县甲办法")
        b = content(index_no="R-2", title="临溪县乙办法")
        gone = content(index_no="R-3", title="临溪县丙办法")
        for c in (a, b, gone):
            items.publish(c, actor="张三")
        items.withdraw(gone.ref, reason="发布错误", actor="张三")
        before = log_snapshot(items)
        cases: list[tuple[dict[str, object], type[Exception], str]] = [
            (
                {"ref": a.ref, "replaced_by": "临溪县民政局/不存在"},
                InputError,
                "replaced_by",
            ),
            ({"ref": a.ref, "replaced_by": gone.ref}, InputError, "withdrawn"),
            ({"ref": a.ref, "replaced_by": a.ref}, InputError, "itself"),
            ({"ref": gone.ref}, DomainError, "withdrawn"),
            ({"ref": a.ref, "reason": ""}, InputError, "reason"),
        ]
        for kwargs, error, message in cases:
            args: dict[str, object] = {"reason": "县政府令第12号", **kwargs}
            ref = args.pop("ref")
            with pytest.raises(error, match=message):
                items.repeal(ref, actor="王五", **args)  # type: ignore[arg-type]
            assert log_snapshot(items) == before
        items.repeal(a.ref, reason="县政府令第12号", actor="王五", replaced_by=b.ref)
        with pytest.raises(DomainError, match="repealed already"):
            items.repeal(a.ref, reason="再次", actor="王五")
        with pytest.raises(InputError, match="no longer in force"):
            items.repeal(b.ref, reason="x", actor="王五", replaced_by=a.ref)


def test_sync_now_never_goes_back_and_the_cli_explains_bad_times(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    path = tmp_path / "item.toml"
    path.write_text(
        'agency = "临溪县民政局"\nindex_no = "CLI-1"\ntitle = "临溪县通知"\n'
        'body = "正文"\narea = "社会救助"\nstage = "结果公开"\nbasis = "条例"\n'
        "formed_on = 2026-04-10\n",
        "utf-8",
    )
    future = (datetime.now(CHINA_TZ) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    out = home.ok("items", "publish", path, "--release-at", future)
    assert "待发布" in out.stdout
    status = home.ok("status")
    assert "待发布" in status.stdout
    assert "CLI-1" in status.stdout
    before = home.items()
    refused = home("sync", "--now", "2020-01-01T09:00")
    assert refused.exit_code == 2
    assert "never go back" in refused.stderr
    assert "Traceback" not in refused.output
    past = home("items", "publish", path, "--release-at", "2020-01-01T09:00")
    assert past.exit_code == 2
    assert "--release-at" in past.stderr
    assert "not after now" in past.stderr
    assert home.items() == before
    unknown = home(
        "items",
        "repeal",
        "临溪县民政局/CLI-1",
        "--reason",
        "x",
        "--replaced-by",
        "无/此",
    )
    assert unknown.exit_code == 2
    assert "--replaced-by" in unknown.stderr
    assert "Traceback" not in unknown.output
    assert home.items() == before
    neither = home("items", "schedule", "临溪县民政局/CLI-1")
    assert neither.exit_code == 2
    assert "--at" in neither.stderr
    bad = home("sync", "--now", "tomorrow")
    assert bad.exit_code == 2
    assert "--now" in bad.stderr
    assert home.items() == before
    later = (datetime.now(CHINA_TZ) + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    ahead = home("sync", "--now", later)
    assert ahead.exit_code == 2
    assert "--rehearsal" in ahead.stderr
    assert home.items() == before
    ran = home.ok("sync", "--now", later, "--rehearsal")
    assert "released on schedule" in ran.stderr


def test_deadlines_follow_changes_and_a_late_schedule_shows_before_it_fires(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)  # 2026-06-01
    with open_engine(home, clock) as engine:
        items = engine.items
        # Formed 2026-05-25: due 20 working days later (late June); scheduled for July.
        late = content(index_no="DL-1", formed_on="2026-05-25")
        items.publish(late, actor="张三", release_at=china("2026-07-20"))
        # Published now, then its information changes on 06-10 (released on 06-12).
        changing = content(index_no="DL-2", formed_on="2026-05-28")
        items.publish(changing, actor="张三")
        clock.now = china("2026-06-12")
        items.revise(
            changing.ref,
            changing.model_copy(
                update={"changed_on": "2026-06-10", "body": "新标准。"}
            ),
            reason="补助标准调整",
            actor="张三",
        )
        report = engine.deadlines(today=date(2026, 6, 12))
        rows = {(f.ref, f.changed): f.deadline for f in report.items}
        scheduled = rows[(late.ref, False)]
        assert scheduled.state.value == "late"  # before its schedule fires
        assert scheduled.due < date(2026, 7, 20)
        change = rows[(changing.ref, True)]
        assert change.formed_on == date(2026, 6, 10)
        assert change.published_on == date(2026, 6, 12)
        assert change.state.value == "met"
        # A revision that does not move the day starts no clock.
        items.revise(
            changing.ref,
            items.get(changing.ref).content.model_copy(
                update={"body": "新标准（二）。"}
            ),
            reason="文字更正",
            actor="张三",
        )
        again = engine.deadlines(today=date(2026, 6, 12))
        assert sum(f.ref == changing.ref for f in again.items) == 2


def test_time_driven_changes_survive_kill_9_of_sync_at_random_points(
    tmp_path: Path,
) -> None:
    """`sync --now` killed at random moments across a month: every scheduled release,
    window end and expiry is recorded once, delivered, and consistency is clean."""
    rng = random.Random(20261204)
    received: list[tuple[str, bytes]] = []

    def receiver(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        time_module.sleep(0.03)  # keep the worker busy enough for kills to land
        received.append((request.path.strip("/"), body))
        return 204, {}, b""

    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    env = {**os.environ, "CRASH_SECRET": secret, "SYNDICATE_ACTOR": "crash-test"}
    with LoopbackServer(receiver) as server:
        home = tmp_path / "home"
        Project.init(home, environ={}, keys=False, review=False)
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write(
                "\n[delivery]\nclaim_seconds = 2\n"
                '\n[outlets.portal]\nkind = "portal"\nchannel = "portal"\n'
                'path = "outlets/portal"\nsite_url = "https://www.linxi.gov.cn"\n'
                'site_name = "临溪县人民政府"\n'
            )
            for name in ("cms-a", "cms-b"):
                config.write(
                    f'\n[outlets.{name}]\nkind = "webhook"\nurl = "{server.url}/{name}"\n'
                    'secret = "${CRASH_SECRET}"\ntimeout = 5\n'
                    "allow_private_network = true\n"
                )
        clock = FixedClock(START)
        with Engine.open(home, environ={"CRASH_SECRET": secret}, clock=clock) as engine:
            expected: Counter[tuple[str, str]] = Counter()
            for n in range(40):
                end = date(2026, 6, 3) + timedelta(days=n % 25)
                c = content(
                    index_no=f"TIME/2026-{n:05d}",
                    notice_period={"start": "2026-06-01", "end": end.isoformat()},
                )
                engine.items.publish(c, actor="张三", late_reason="演练")
                expected[(c.ref, "NoticeEnded")] = 1
            for n in range(10):
                c = content(index_no=f"SCHED/2026-{n:05d}")
                engine.items.publish(
                    c, actor="张三", release_at=START + timedelta(days=2 + 2 * n)
                )
                expected[(c.ref, "Released")] = 1
            for n in range(10):
                c = content(
                    index_no=f"VALID/2026-{n:05d}",
                    valid_until=(date(2026, 6, 5) + timedelta(days=2 * n)).isoformat(),
                )
                engine.items.publish(c, actor="张三")
                expected[(c.ref, "Expired")] = 1
        moment = START
        kills = 0
        # How long a sync takes here (the last one that ran to its end): a kill is
        # aimed within it, so most kills land however fast this machine is that day.
        took = 1.4
        for step in range(1, 11):
            moment = START + timedelta(days=3 * step)
            for _ in range(2):
                moment += timedelta(seconds=3)  # past the killed worker's lease
                process = subprocess.Popen(
                    [*_sync(home), "--now", moment.isoformat()],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time_module.sleep(rng.uniform(0.3, max(0.4, 0.9 * took)))
                if process.poll() is None:
                    process.kill()
                    kills += 1
                process.wait()
            for _ in range(10):
                moment += timedelta(seconds=3)
                started = time_module.monotonic()
                done = subprocess.run(
                    [*_sync(home), "--now", moment.isoformat()],
                    env=env,
                    capture_output=True,
                    check=False,
                )
                if done.returncode == 0:
                    took = time_module.monotonic() - started
                    break
            assert done.returncode == 0, done.stderr.decode()
            clock = FixedClock(moment)
            with Engine.open(
                home, environ={"CRASH_SECRET": secret}, clock=clock
            ) as engine:
                assert_consistent(engine)
                counts = events(engine)
                for key, count in counts.items():
                    if key[1] in ("NoticeEnded", "Released", "Expired"):
                        assert count == 1, key  # never twice, whatever was killed
        assert kills >= 10, f"most kills must land while sync runs ({kills} of 20)"
        # A write cut short leaves its temporary copy in the portal's state folder,
        # never in the web root, and the next delivery clears it.
        assert not list((home / "outlets" / "portal").rglob(".tmp-*"))
        assert {k: counts[k] for k in expected} == expected
        # Every webhook receiver got each item's newest version.
        newest: dict[tuple[str, str], int] = {}
        for outlet, body in received:
            data = json.loads(body)["data"]
            key = (outlet, data["item_id"])
            newest[key] = max(newest.get(key, 0), data["version"])
        with Engine.open(home, environ={"CRASH_SECRET": secret}) as engine:
            for summary in engine.items.items():
                for outlet in ("cms-a", "cms-b"):
                    if summary.version and summary.status.value == "published":
                        item = engine.items.get(summary.id)
                        assert newest[(outlet, str(summary.id))] == item.public_version


def _sync(home: Path) -> list[str]:
    return [sys.executable, "-m", "syndicate", "--home", str(home), "sync"]


def test_every_time_event_is_in_the_signed_tree(tmp_path: Path) -> None:
    """Each new event (schedule, cancellation, late notice, window end, repeal,
    expiry) altered by an insider with the file is a finding of `audit verify` at its
    position; the replay shows the forms by time."""
    home = CliHome(tmp_path / "home", {"SYNDICATE_STORE_URL": "sqlite"})
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        late = content(
            index_no="T-1", notice_period={"start": "2026-05-01", "end": "2026-05-20"}
        )
        items.publish(late, actor="张三", late_reason="补录")
        a = content(index_no="T-2", validity="现行有效", valid_until="2026-06-01")
        b = content(index_no="T-3", title="临溪县新办法")
        items.publish(a, actor="张三")
        items.publish(b, actor="张三")
        c = content(index_no="T-4")
        items.publish(c, actor="张三", release_at=china("2026-06-09"))
        items.schedule(c.ref, release_at=None, actor="张三")
        items.repeal(b.ref, reason="县政府令第3号", actor="王五")
        clock.now = china("2026-06-03")
        timed = {(ch.ref, ch.event) for ch in items.advance()}
        assert timed == {(late.ref, "NoticeEnded"), (a.ref, "Expired")}
    home.ok("audit", "checkpoint")
    assert home.ok("audit", "verify").stdout.startswith("OK")
    trail = home.ok("audit", "trail", late.ref).stdout
    assert "late or short 公示 accepted: 补录" in trail
    assert "公示期 (to 2026-05-20) ended" in trail
    db = home.home / "data" / "disclosures.db"
    pristine = db.read_bytes()
    for topic in (
        "ReleaseScheduled",
        "ScheduleCancelled",
        "NoticeExcepted",
        "NoticeEnded",
        "Repealed",
        "Expired",
    ):
        position = impersonate(db, f"syndicate.DisclosureItem.{topic}")
        verified = home("audit", "verify")
        assert verified.exit_code == 1, (topic, verified.output)
        assert f"(items log position {position})" in verified.stdout, topic
        db.write_bytes(pristine)


# -- what a hostile review found (docs/security.md, "Time") ------------------------------


def test_placeholder_dates_and_far_schedules_are_refused(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        before = log_snapshot(items)
        with pytest.raises(InputError, match="valid_until"):
            items.publish(content(index_no="H-1", valid_until="9999-12-31"), actor="甲")
        with pytest.raises(InputError, match="more than 366 days ahead"):
            items.publish(
                content(index_no="H-2"),
                actor="甲",
                release_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
            )
        items.publish(
            content(index_no="H-3"), actor="甲", release_at=china("2026-06-09")
        )
        before = log_snapshot(items)
        with pytest.raises(InputError, match="release_at"):
            items.schedule(
                "临溪县民政局/H-3",
                release_at="2026-06-20T09:00",  # type: ignore[arg-type]
                actor="甲",
            )
        assert log_snapshot(items) == before
        # Ahead of the real clock needs `ahead`; the latest time anywhere counts.
        with pytest.raises(InputError, match="rehearsal"):
            engine.fix_clock(datetime(2099, 1, 1, tzinfo=UTC))
        with pytest.raises(InputError, match="never go back"):
            engine.fix_clock(datetime(2026, 5, 1, tzinfo=UTC))


def test_nothing_scheduled_or_held_is_released_early_by_hand(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        a = content(index_no="E-1")
        items.publish(a, actor="甲", release_at=china("2026-06-05"))
        held = content(
            index_no="E-2", notice_period={"start": "2026-06-10", "end": "2026-06-20"}
        )
        items.publish(held, actor="甲")
        before = log_snapshot(items)
        for ref in (a.ref, held.ref):
            with pytest.raises(ReviewRefused, match=r"schedule|公示期"):
                items.release(ref, actor="乙")
        # A 解读 of the scheduled policy waits for it.
        reading = content(index_no="E-3", title="关于E-1的解读", interprets=a.ref)
        change = items.publish(reading, actor="甲")
        assert not change.released
        assert change.release_at == china("2026-06-05")
        assert log_snapshot(items)[: len(before)] == before
        # Moving a held 公示's release past its window is judged as publishing is.
        with pytest.raises(NoticeRefused, match="notice_period"):
            items.schedule(held.ref, release_at=china("2026-06-22"), actor="甲")
        # Cancelled, then revised: it stays held (review off releases nothing).
        items.schedule(a.ref, release_at=None, actor="甲")
        revised = items.revise(
            a.ref, a.model_copy(update={"body": "改正文"}), reason="改", actor="甲"
        )
        assert not revised.released
        assert items.get(a.ref).status.value == "pending"


def test_review_and_time_together(tmp_path: Path, environ: dict[str, str]) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init")  # review on: one level, 审核
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items

        def approve(ref: str) -> None:
            items.approve(
                ref,
                level="审核",
                content_hash=items.review(ref).entry.review_hash,
                actor="李四",
            )

        w = content(index_no="RV-1")
        items.publish(w, actor="张三", urgent="汛情")
        items.revise(
            w.ref,
            w.model_copy(update={"body": "新"}),
            reason="r",
            actor="张三",
            release_at=china("2026-06-20"),
        )
        items.withdraw(w.ref, reason="撤回", actor="张三")
        assert items.get(w.ref).schedule is None  # the withdrawal replaced it
        approve(w.ref)
        assert items.get(w.ref).status.value == "withdrawn"
        # Scheduled and not approved by its time: not stale, it waits for review.
        s = content(index_no="RV-2")
        items.publish(s, actor="张三", release_at=china("2026-06-03"))
        clock.now = china("2026-06-04")
        assert items.due() == []
        assert not [r for r in engine.consistency().mismatched if r.ref == s.ref]
        # A 解读 of a repealed policy is refused; an expiry moved is in force again.
        p = content(index_no="RV-3", valid_until="2026-06-05")
        items.publish(p, actor="张三", urgent="急")
        items.repeal(p.ref, reason="废止", actor="王五")
        with pytest.raises(InputError, match="repealed"):
            items.publish(
                content(index_no="RV-4", interprets=p.ref), actor="张三", urgent="急"
            )


def test_an_expiry_moved_by_a_revision_is_in_force_again(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init", "--no-review")
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        items = engine.items
        c = content(index_no="X-1", valid_until="2026-06-02")
        items.publish(c, actor="甲")
        clock.now = china("2026-06-03")
        assert [e for _, e in engine.advance()] == ["Expired"]
        assert items.get(c.ref).validity is not None
        assert items.get(c.ref).validity.value == "expired"  # type: ignore[union-attr]
        items.revise(
            c.ref,
            c.model_copy(update={"valid_until": "2026-12-31"}),
            reason="延长有效期",
            actor="甲",
        )
        item = items.get(c.ref)
        assert not item.expired
        assert [d.kind.value for d in items.due(china("2027-01-02"))] == ["expiry"]


def test_review_switched_off_after_scheduling_releases_at_the_time(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = CliHome(tmp_path / "h", environ)
    home.ok("init")
    clock = FixedClock(START)
    c = content(index_no="T-OFF")
    with open_engine(home, clock) as engine:
        engine.items.publish(c, actor="张三", release_at=china("2026-06-03"))
    config = home.home / "syndicate.toml"
    text = config.read_text("utf-8")
    config.write_text(
        re.sub(r"(?m)^levels = .*$", "levels = []", text, count=1), "utf-8"
    )
    clock.now = china("2026-06-04")
    with open_engine(home, clock) as engine:
        assert [(r, e) for r, e in engine.advance()] == [(c.ref, "Released")]


def test_a_killed_portal_write_leaves_nothing_in_the_web_root(tmp_path: Path) -> None:
    """What kill -9 leaves mid-write (a temporary copy) is in the state folder, and
    the next delivery, under the site's lock, clears it."""
    home = CliHome(tmp_path / "home", {"SYNDICATE_STORE_URL": "sqlite"})
    home.ok("init", "--no-review")
    with (home.home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            '\n[outlets.portal]\nkind = "portal"\nchannel = "portal"\n'
            'path = "outlets/portal"\nsite_url = "https://www.linxi.gov.cn"\n'
            'site_name = "临溪县人民政府"\n'
        )
    clock = FixedClock(START)
    with open_engine(home, clock) as engine:
        engine.items.publish(content(index_no="K-1"), actor="甲")
        engine.sync()
        state = home.home / "outlets" / "portal.syndicate"  # the site's state folder
        left = state / "tmp" / ".tmp-killed"
        left.write_bytes(b"half a page")
        engine.items.publish(content(index_no="K-2"), actor="甲")
        engine.sync()
        assert not left.exists()
        assert not list((home.home / "outlets" / "portal").rglob(".tmp-*"))
        assert_consistent(engine)
