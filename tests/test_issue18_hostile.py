"""A hostile review of issue 18: village groups reached through a person
(`wechat_relay`), digests, reminders, attestation of digests, `[[outlets.NAME.each]]`
and the catalogue's channel vocabulary.

Each test plays a careless or hostile operator, 网格员, receiver or insider and
documents a defended case. The review found 17 defects, each first written here as a
strict xfail; all were fixed in the same issue, and their tests now pass (the closing
note of issue 18 lists them).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
import requests
import segno
from PIL import Image
from syndicate_adapters.wechat_relay import (
    RelayTask,
    WechatRelayAdapter,
    WechatRelaySettings,
)

from syndicate.adapter import DeliveryJob, Receipt, Rendition
from syndicate.domain.catalogue import ChannelCategory, parse_channels
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.engine import Engine
from syndicate.engine.attest import Attestation
from syndicate.engine.audit import ReplayRequest
from syndicate.errors import ConflictError, DomainError, SyndicateError
from syndicate.testing import FixedClock, LoopbackServer, sample_jobs
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    Reply,
    WeComRobotServer,
    toml_table,
)
from tests.clihome import CliHome
from tests.conftest import ITEM_FRONT, content

PORTAL = "https://www.linxi.gov.cn"
GRID = "0a1b2c3d-5c1e-4d2a-9b7f-0000000000a1"
VILLAGE = "0a1b2c3d-5c1e-4d2a-9b7f-0000000000b2"
TOKEN = "d" * 64
C = ChannelCategory
# 196 characters: with a 第N批 prefix, a title at the log's limit (200).
LONG_TITLE = ("临溪县城乡最低生活保障审批结果公告" * 12)[:196]


# -- helpers ---------------------------------------------------------------------------


def relay(name: str, **values: Any) -> str:
    """`[outlets.NAME]` of a village group relay (a sheet unless told otherwise)."""
    table: dict[str, Any] = {
        "kind": "wechat_relay",
        "channel": "group",
        "portal_url": PORTAL,
        "folder": "relay",
        "allow_private_network": True,
        **values,
    }
    if "each" not in values and "group" not in values:
        table.setdefault("group", "柳塘村村民群")
        table.setdefault("relayer", "王芳")
    return toml_table(name, table)


def township(fake: WeComRobotServer, villages: int, **values: Any) -> str:
    """One table, one entry per village, every 网格员 told through the same robot
    (the work group's robot, as docs/outlets/wechat_relay.md configures it)."""
    entries = [
        {"id": f"v{n}", "group": f"第{n + 1}村村民群", "relayer": f"网格员{n + 1}"}
        for n in range(villages)
    ]
    return relay(
        "qingshi",
        notify="wecom",
        notify_webhook="${GRID_ROBOT}",
        notify_base_url=fake.url,
        each=entries,
        **values,
    )


def make_home(tmp_path: Path, tables: str, **env: str) -> CliHome:
    home = CliHome(tmp_path / "home", {"GRID_ROBOT": GRID, "VILLAGE": VILLAGE, **env})
    home.ok("init", "--no-review")
    config = home.home / "syndicate.toml"
    config.write_text(config.read_text("utf-8") + "\n" + tables, "utf-8")
    return home


def open_engine(home: CliHome, clock: FixedClock) -> Engine:
    return Engine.open(home.home, environ=home.env, clock=clock)


def states(engine: Engine) -> dict[tuple[str, str, int], DeliveryState]:
    """(outlet, title, version) → state of every delivery."""
    found = {}
    for d in engine.deliveries.all_deliveries().values():
        title = engine.items.get(d.item_id).content.title
        found[(d.outlet, title, d.item_version)] = d.state
    return found


def delivery_of(engine: Engine, outlet: str, title: str, version: int) -> Delivery:
    for d in engine.deliveries.all_deliveries().values():
        if (
            d.outlet == outlet
            and d.item_version == version
            and engine.items.get(d.item_id).content.title == title
        ):
            return d
    raise LookupError((outlet, title, version))


def deliveries_log(engine: Engine) -> list[tuple[int, str, bytes]]:
    """Every stored delivery event, to prove a refusal changed nothing."""
    rows: list[tuple[int, str, bytes]] = []
    start = 0
    while True:
        page = engine.deliveries.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=False
        )
        if not page:
            return rows
        rows.extend((n.id, n.topic, bytes(n.state)) for n in page)
        start = page[-1].id


def adapter(tmp_path: Path, **overrides: Any) -> WechatRelayAdapter:
    settings = {
        "group": "柳塘村村民群",
        "relayer": "王芳",
        "portal_url": PORTAL,
        "folder": str(tmp_path / "relay"),
        **overrides,
    }
    return WechatRelayAdapter(WechatRelaySettings.model_validate(settings))


def jobs_titled(*titles: str) -> list[DeliveryJob]:
    """Publication jobs with these titles, realistic (random-looking) ids."""
    published = sample_jobs()[0]
    made = []
    for n, title in enumerate(titles):
        item = replace(
            published.item,
            content=published.item.content.model_copy(update={"title": title}),
            item_id=uuid5(UUID(int=0), f"item-{n}"),
        )
        made.append(
            replace(published, delivery_id=uuid5(UUID(int=1), f"d-{n}"), item=item)
        )
    return made


def task_of(rendition: Rendition) -> RelayTask:
    return RelayTask.model_validate(json.loads(rendition.data))


def qr_modules(png: bytes, link: str) -> tuple[int, int]:
    """(pure black pixels on the card, those the whole QR code of `link` has). In
    grey levels the card's darkest ink is 33 and its red band 74: only the code's
    dark modules are 0, so a code cut off by the card's height shows fewer."""
    black = Image.open(io.BytesIO(png)).convert("L").histogram()[0]
    code = segno.make(link, error="m", micro=False)
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    scale = max(1, 360 // len(matrix))
    dark = sum(1 for row in matrix for cell in row if cell)
    return black, dark * scale * scale


class Killed(BaseException):
    """The worker process dies (SIGKILL): nothing after it runs."""


@pytest.fixture
def fake() -> Iterator[WeComRobotServer]:
    with WeComRobotServer(keys=[GRID, VILLAGE]) as server:
        yield server


def texts(fake: WeComRobotServer, key: str) -> list[str]:
    return [
        m["text"]["content"] if m["msgtype"] == "text" else m["markdown"]["content"]
        for m in fake.messages(key)
        if m["msgtype"] in ("text", "markdown")
    ]


# -- digests: exactly once, nothing lost -----------------------------------------------


def test_a_digest_part_that_fails_is_sent_alone_later_and_nothing_twice(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    """Part 1 of a digest reaches the group, part 2 is refused (robot busy): part 2's
    deliveries retry one by one, part 1's are never sent again, and the audit
    re-renders part 1 from the log."""
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {"digest_minutes": 10}
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        titles = [
            f"临溪县2026年第{n + 1}批城乡最低生活保障审批结果公告" for n in range(20)
        ]
        for n, title in enumerate(titles):
            engine.items.publish(
                content(index_no=f"11330100MB0000006R/2026-{n + 700:05}", title=title),
                actor="张三",
            )
        fake.script(VILLAGE, Reply(), Reply(errcode=-1))
        first = engine.sync()
        assert first.outcomes.get("succeeded", 0) > 0
        assert first.outcomes.get("retrying", 0) > 0
        parts = {
            (d.receipt or {}).get("digest_part")
            for d in engine.deliveries.all_deliveries().values()
            if d.state is DeliveryState.SUCCEEDED
        }
        assert parts
        assert all(p and p.startswith("1/") for p in parts)
        clock.advance(seconds=30)
        second = engine.sync()
        assert second.outcomes == {"succeeded": first.outcomes["retrying"]}
        shown = "\n".join(texts(fake, VILLAGE))
        for title in titles:
            assert shown.count(title) == 1, title
        summary = engine.replay(ReplayRequest(as_of=clock(), out=tmp_path / "replay"))
        assert not summary.mismatches


def test_a_worker_killed_after_sending_a_digest_never_sends_it_again(
    tmp_path: Path, fake: WeComRobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {"digest_minutes": 10}
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        for n in range(3):
            engine.items.publish(
                content(index_no=f"K-{n}", title=f"青石镇第{n + 1}批公告"), actor="张三"
            )
        engine.plan()
        worker = engine.worker("doomed", hold_digests=False)
        robot = worker.outlet_set.adapter("village")
        sent = robot.deliver

        def dies_after_sending(rendition: Rendition, session: requests.Session) -> Any:
            sent(rendition, session)
            raise Killed

        monkeypatch.setattr(robot, "deliver", dies_after_sending)
        try:
            with pytest.raises(Killed):
                worker.run_until_idle()
        finally:
            worker.close()
        assert len(fake.messages(VILLAGE)) == 1
        # Within the lease nobody touches the claims; after it, nobody resends.
        assert engine.sync().outcomes == {}
        clock.advance(minutes=5)
        assert engine.sync().outcomes == {"unconfirmed": 3}
        assert len(fake.messages(VILLAGE)) == 1


def test_a_rate_limited_digest_goes_part_by_part_each_item_once(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    """One message a minute: the parts without a slot are given back and digested
    again later; every item reaches the group exactly once and every part replays."""
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {
        "digest_minutes": 30,
        "rate_per_minute": 1,
    }
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        titles = [
            f"临溪县2026年第{n + 1}批城乡最低生活保障审批结果公告" for n in range(40)
        ]
        for n, title in enumerate(titles):
            engine.items.publish(content(index_no=f"X-{n}", title=title), actor="张三")
        sent = []
        for _ in range(5):
            sent.append(sum(engine.sync().outcomes.values()))
            clock.advance(seconds=61)
        assert sum(sent) == 40
        assert len(fake.messages(VILLAGE)) == len([n for n in sent if n])
        shown = "\n".join(texts(fake, VILLAGE))
        assert [shown.count(title) for title in titles] == [1] * 40
        summary = engine.replay(ReplayRequest(as_of=clock(), out=tmp_path / "r"))
        assert not summary.mismatches


def test_a_robot_answering_a_digest_oddly_is_never_sent_it_again(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {"digest_minutes": 10}
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        for n in range(3):
            engine.items.publish(content(index_no=f"O-{n}"), actor="张三")
        fake.script(
            VILLAGE, Reply(status=200, body=b"<html>\xe6\xac\xa2\xe8\xbf\x8e</html>")
        )
        assert engine.sync().outcomes == {"unconfirmed": 3}
        clock.advance(hours=1)
        assert engine.sync().outcomes == {}
        (d, *_) = engine.deliveries.all_deliveries().values()
        assert d.rendition_sha256  # what may have arrived is named by its hash
    assert len(fake.received) == 1


def test_a_relay_digest_forwards_only_the_newest_version_of_an_item(
    tmp_path: Path,
) -> None:
    home = make_home(tmp_path, relay("liutang", digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        first = engine.items.publish(
            content(index_no="V-1", title="柳塘村低保名单公示"), actor="张三"
        )
        engine.items.revise(
            first.item_id,
            content(index_no="V-1", title="柳塘村低保名单公示", body="共52户。"),
            reason="户数有误",
            actor="张三",
        )
        engine.items.publish(
            content(index_no="V-2", title="东庄村修路公告"), actor="张三"
        )
        assert engine.sync().outcomes == {
            "superseded": 1,
            "awaiting_attestation": 2,
        }
        found = states(engine)
        assert found[("liutang", "柳塘村低保名单公示", 1)] is DeliveryState.SUPERSEDED
        sheet = next((home.home / "relay").rglob("digest-*.txt")).read_text("utf-8")
        assert "柳塘村低保名单公示" in sheet
        assert "东庄村修路公告" in sheet
        assert "【更正】" not in sheet  # the group never had the first version


def test_review_notices_never_wait_for_a_digest_window(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    queue = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {
        "digest_minutes": 30,
        "internal": True,
        "review_queue": True,
    }
    home = CliHome(tmp_path / "home", {"VILLAGE": VILLAGE})
    home.ok("init")  # review on
    config = home.home / "syndicate.toml"
    config.write_text(
        config.read_text("utf-8") + "\n" + toml_table("queue", queue), "utf-8"
    )
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        for n in range(3):
            engine.items.publish(content(index_no=f"R-{n}"), actor="张三")
        engine.plan()
        worker = engine.worker("w")
        try:
            assert worker.run_until_idle().outcomes == {"succeeded": 3}
            assert worker.digest_held(clock()) == 0
        finally:
            worker.close()
    assert len(fake.messages(VILLAGE)) == 3


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            '[outlets.archive]\nkind = "directory"\npath = "out"\ndigest_minutes = 30\n',
            "outlets.archive.digest_minutes: directory outlets cannot gather",
        ),
        (relay("r", digest_minutes=0), "outlets.r.digest_minutes"),
        (relay("r", digest_minutes=1441), "outlets.r.digest_minutes"),
        (relay("r", digest_minutes="30"), "outlets.r.digest_minutes"),
        (relay("r", digest_minutes=True), "outlets.r.digest_minutes"),
        (relay("r", digest_minutes=2.5), "outlets.r.digest_minutes"),
    ],
)
def test_a_bad_digest_setting_is_named(tmp_path: Path, table: str, said: str) -> None:
    home = make_home(tmp_path, table)
    result = home("outlets", "check")
    assert result.exit_code == 2
    assert said in result.output


def test_an_item_withdrawn_inside_the_window_is_never_announced(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {"digest_minutes": 30}
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        wrong = engine.items.publish(
            content(index_no="W-1", title="柳塘村低保名单公示（误发）"), actor="张三"
        )
        engine.items.publish(
            content(index_no="W-2", title="东庄村修路公告"), actor="张三"
        )
        engine.plan()
        worker = engine.worker("w")
        try:
            assert worker.run_until_idle().attempted == 0  # held for the window
            clock.advance(minutes=10)
            engine.items.withdraw(
                wrong.item_id, reason="含个人信息", public_note="已撤回", actor="张三"
            )
            engine.plan()
            worker.run_until_idle()
            clock.advance(minutes=21)
            worker.run_until_idle()
        finally:
            worker.close()
    lines = [line for text in texts(fake, VILLAGE) for line in text.splitlines()]
    assert any("东庄村修路公告" in line for line in lines)
    # The withdrawn item may at most be named in a 撤回 line, never announced.
    named = [line for line in lines if "柳塘村低保名单公示（误发）" in line]
    assert all("撤回" in line for line in named), named


def test_a_relay_digest_task_fits_the_robots_minute(tmp_path: Path) -> None:
    relay_ = adapter(tmp_path, notify="wecom", notify_webhook=GRID)
    renditions = relay_.render_digest(
        jobs_titled(*(f"第{n}批{LONG_TITLE}" for n in range(60)))
    )
    assert all(int(r.meta["messages"]) <= 20 for r in renditions)


def test_groups_told_through_one_robot_never_end_unconfirmed(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(tmp_path, township(fake, 7, digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        for n in range(4):
            engine.items.publish(
                content(index_no=f"B-{n}", title=f"第{n}批{LONG_TITLE}"[:200]),
                actor="张三",
            )
        result = engine.sync()
    assert "unconfirmed" not in result.outcomes, result.outcomes


# -- attesting digests -----------------------------------------------------------------


def test_a_digest_is_attested_once_for_its_task_only(tmp_path: Path) -> None:
    """A digest task with a 撤回 of a never-forwarded item beside it: confirming the
    task attests what the task carried, nothing else; a second confirmation through a
    sibling's code is refused and changes nothing."""
    home = make_home(tmp_path, relay("liutang", digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        gone = engine.items.publish(
            content(index_no="A-0", title="旧公告"), actor="张三"
        )
        engine.sync()
        engine.items.withdraw(gone.item_id, reason="作废", actor="张三")
        for n, title in enumerate(("柳塘村修路公告", "柳塘村低保公示")):
            engine.items.publish(
                content(index_no=f"A-{n + 1}", title=title), actor="张三"
            )
        clock.advance(minutes=1)
        assert engine.sync().outcomes == {"succeeded": 1, "awaiting_attestation": 2}
        road = delivery_of(engine, "liutang", "柳塘村修路公告", 1)
        aid = delivery_of(engine, "liutang", "柳塘村低保公示", 1)
        assert (road.receipt or {})["digest_of"] == (aid.receipt or {})["digest_of"]
        withdrawn = delivery_of(engine, "liutang", "旧公告", 2)
        assert (withdrawn.receipt or {}).get("attestation") == "none"
        clock.advance(minutes=5)
        done = engine.attest(
            str(aid.id)[:8], Attestation.of(by="王芳"), actor="镇政务公开办 赵敏"
        )
        assert done.together == (road.id,)
        found = states(engine)
        assert found[("liutang", "柳塘村修路公告", 1)] is DeliveryState.ATTESTED
        assert found[("liutang", "旧公告", 2)] is DeliveryState.SUCCEEDED
        assert found[("liutang", "旧公告", 1)] is DeliveryState.SUPERSEDED
        before = deliveries_log(engine)
        with pytest.raises(DomainError, match="attested already"):
            engine.attest(str(road.id)[:8], Attestation.of(by="李强"), actor="赵敏")
        assert deliveries_log(engine) == before


def test_two_people_confirming_one_digest_at_once_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(tmp_path, relay("liutang", digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        for n in range(2):
            engine.items.publish(
                content(index_no=f"P-{n}", title=f"公告{n}"), actor="张三"
            )
        engine.sync()
        first = delivery_of(engine, "liutang", "公告0", 1)
        second = delivery_of(engine, "liutang", "公告1", 1)
    clock.advance(minutes=5)
    with open_engine(home, clock) as one, open_engine(home, clock) as other:
        looked_up = one._same_message

        def meanwhile(target: Delivery) -> list[Delivery]:
            # 李强 confirms through the other code while 王芳's confirmation runs.
            other.attest(str(second.id)[:8], Attestation.of(by="李强"), actor="李")
            return looked_up(target)

        monkeypatch.setattr(one, "_same_message", meanwhile)
        with pytest.raises(ConflictError):
            one.attest(str(first.id)[:8], Attestation.of(by="王芳"), actor="赵")
        done = other.deliveries.delivery(first.id).attestation
        assert done is not None
        assert done.by == "李强"


def test_resolving_an_unconfirmed_relay_task_still_waits_for_the_person(
    tmp_path: Path,
) -> None:
    with WeComRobotServer(keys=[GRID], per_minute=1) as busy:
        home = make_home(
            tmp_path,
            relay(
                "liutang",
                notify="wecom",
                notify_webhook="${GRID_ROBOT}",
                notify_base_url=busy.url,
            ),
        )
        clock = FixedClock()
        with open_engine(home, clock) as engine:
            engine.items.publish(content(), actor="张三")
            # The text went, the card hit the robot's limit: an unknown outcome.
            assert engine.sync().outcomes == {"unconfirmed": 1}
            (task,) = engine.deliveries.all_deliveries().values()
            engine.resolve(str(task.id), sent=True, actor="运维")
            after = engine.deliveries.delivery(task.id)
    assert after.state is DeliveryState.AWAITING_ATTESTATION


def test_the_audit_re_renders_a_digest_after_later_versions_and_confirmations(
    tmp_path: Path,
) -> None:
    home = make_home(tmp_path, relay("liutang", digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        made = [
            engine.items.publish(
                content(index_no=f"D-{n}", title=f"青石镇第{n + 1}批救助公告"),
                actor="张三",
            )
            for n in range(2)
        ]
        engine.sync()
        clock.advance(hours=1)
        code = str(delivery_of(engine, "liutang", "青石镇第1批救助公告", 1).id)[:8]
        engine.attest(code, Attestation.of(by="王芳"), actor="赵敏")
        clock.advance(hours=1)
        engine.items.revise(
            made[0].item_id,
            content(index_no="D-0", title="青石镇第1批救助公告", body="更正后。"),
            reason="金额有误",
            actor="张三",
        )
        engine.sync()
        corrected = delivery_of(engine, "liutang", "青石镇第1批救助公告", 2)
        assert corrected.state is DeliveryState.AWAITING_ATTESTATION
        sheet = next((home.home / "relay").rglob("*-v2-correction-*.txt"))
        assert sheet.read_text("utf-8").startswith("【更正】")
        clock.advance(hours=1)
        engine.attest_item(
            "liutang", made[0].ref, Attestation.of(by="王芳"), actor="赵敏"
        )
        clock.advance(hours=1)
        summary = engine.replay(ReplayRequest(as_of=clock(), out=tmp_path / "r"))
        assert not summary.mismatches
        assert sum(o.count for o in summary.outlets if o.configured) >= 2


def test_a_confirmation_landing_while_a_digest_goes_out_replays_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(tmp_path, relay("liutang", digest_minutes=30))
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        first = engine.items.publish(
            content(index_no="L-1", title="柳塘村低保名单公示"), actor="张三"
        )
        engine.sync()
        old = delivery_of(engine, "liutang", "柳塘村低保名单公示", 1)
        clock.advance(hours=1)
        engine.items.revise(
            first.item_id,
            content(index_no="L-1", title="柳塘村低保名单公示", body="共52户。"),
            reason="户数有误",
            actor="张三",
        )
        engine.items.publish(
            content(index_no="L-2", title="东庄村修路公告"), actor="张三"
        )
        send = WechatRelayAdapter.deliver

        def person_confirms_meanwhile(
            self: WechatRelayAdapter, rendition: Rendition, session: requests.Session
        ) -> Receipt:
            receipt = send(self, rendition, session)
            if task_of(rendition).kind == "digest":
                clock.advance(seconds=5)
                engine.attest(str(old.id)[:8], Attestation.of(by="王芳"), actor="赵")
            return receipt

        monkeypatch.setattr(WechatRelayAdapter, "deliver", person_confirms_meanwhile)
        engine.sync()
        monkeypatch.undo()
        clock.advance(minutes=5)
        code = str(delivery_of(engine, "liutang", "东庄村修路公告", 1).id)[:8]
        engine.attest(code, Attestation.of(by="王芳"), actor="赵")
        clock.advance(minutes=5)
        summary = engine.replay(ReplayRequest(as_of=clock(), out=tmp_path / "r"))
    assert not summary.mismatches


# -- reminders -------------------------------------------------------------------------


def test_a_failing_robot_gets_no_reminder_storm(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(
        tmp_path,
        relay(
            "liutang",
            notify="wecom",
            notify_webhook="${GRID_ROBOT}",
            notify_base_url=fake.url,
            remind_limit=2,
        ),
    )
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        item = engine.items.publish(content(), actor="张三")
        engine.sync()
        told = len(fake.messages(GRID))
        clock.advance(hours=25)
        fake.script(GRID, Reply(errcode=93000))
        (failed,) = engine.sync().reminded
        assert (failed.number, failed.ok) == (1, False)
        assert GRID not in (failed.message or "")
        for _ in range(3):  # every round of a busy worker: not asked again
            assert engine.sync().reminded == []
        clock.advance(hours=24)
        assert [(r.number, r.ok) for r in engine.sync().reminded] == [(2, True)]
        clock.advance(hours=48)
        assert engine.sync().reminded == []  # remind_limit = 2
        assert len(fake.messages(GRID)) == told + 1
        trail = engine.trail(item.ref)
        said = [r.detail or "" for r in trail.rows if r.event == "Reminded"]
        assert any("reminder 1 failed" in s for s in said), said
        assert all(GRID not in s for s in said)


def test_no_reminder_for_a_task_withdrawn_or_superseded(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(
        tmp_path,
        relay(
            "liutang",
            notify="wecom",
            notify_webhook="${GRID_ROBOT}",
            notify_base_url=fake.url,
        ),
    )
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        gone = engine.items.publish(
            content(index_no="G-1", title="作废公告"), actor="张三"
        )
        kept = engine.items.publish(
            content(index_no="G-2", title="修订公告"), actor="张三"
        )
        engine.sync()
        engine.items.withdraw(gone.item_id, reason="作废", actor="张三")
        engine.items.revise(
            kept.item_id,
            content(index_no="G-2", title="修订公告", body="新版。"),
            reason="修订",
            actor="张三",
        )
        engine.sync()
        clock.advance(hours=25)
        (reminder,) = engine.sync().reminded
        # Only the revision's task waits; the withdrawn and replaced ones do not.
        (waiting,) = reminder.deliveries
        assert waiting == delivery_of(engine, "liutang", "修订公告", 2).id
        said = fake.messages(GRID)[-1]["text"]["content"]
        assert "作废公告" not in said


@pytest.mark.parametrize(
    "settings",
    [
        {"notify": "wecom", "notify_webhook": GRID, "remind_limit": 0},
        {"notify": "wecom", "notify_webhook": GRID, "remind_after_hours": 0},
        {},  # a sheet: nobody to remind
    ],
)
def test_reminders_that_cannot_or_must_not_go(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    assert adapter(tmp_path, **settings).reminder_schedule() is None


def test_two_workers_remind_a_person_once(
    tmp_path: Path, fake: WeComRobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(
        tmp_path,
        relay(
            "liutang",
            notify="wecom",
            notify_webhook="${GRID_ROBOT}",
            notify_base_url=fake.url,
        ),
    )
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        engine.items.publish(content(), actor="张三")
        engine.sync()
        told = len(fake.messages(GRID))
        clock.advance(hours=25)
        one, other = engine.worker("one"), engine.worker("other")
        try:
            robot = one.outlet_set.adapter("liutang")
            assert isinstance(robot, WechatRelayAdapter)
            remind = robot.remind

            def at_the_same_time(reminder: Any, session: requests.Session) -> Any:
                other.remind()
                return remind(reminder, session)

            monkeypatch.setattr(robot, "remind", at_the_same_time)
            one.remind()
        finally:
            one.close()
            other.close()
    assert len(fake.messages(GRID)) == told + 1


# -- one table, many outlets -----------------------------------------------------------


@pytest.mark.parametrize(
    ("tables", "said"),
    [
        (relay("q", each=[1, 2]), "outlets.q.each[0]: must be a table"),
        (relay("q", each=[]), "outlets.q.each: must be a non-empty list"),
        (
            relay("q", each=[{"id": "x", "each": [{"id": "y"}]}]),
            "outlets.q.each[0].each: set it on [outlets.q], not per entry",
        ),
        (
            relay("q", each=[{"id": "x" * 41, "group": "g", "relayer": "r"}]),
            "outlets.q.each[0].id",
        ),
        (
            relay("q", each=[{"id": "x", "group": "g", "relayer": "r"}] * 2),
            "'x' is listed twice",
        ),
        (
            relay("q", each=[{"id": "a", "group": "g", "relayer": "r"}]) + relay("q-a"),
            "outlets.q.each: an entry's outlet name (NAME-ID) is also the name",
        ),
        (
            relay("q", each=[{"id": "b-c", "group": "g", "relayer": "r"}])
            + relay("q-b", each=[{"id": "c", "group": "g2", "relayer": "r"}]),
            "an entry's outlet name (NAME-ID) is also the name",
        ),
        (
            relay("q", each=[{"id": "x", "group": "g", "relayer": "王\u0007芳"}]),
            "outlets.q-x.relayer",
        ),
        (
            relay(
                "q",
                notify="wecom",
                each=[
                    {"id": "x", "group": "g", "relayer": "r", "notify_webhook": GRID}
                ],
            ),
            "outlets.q-x.notify_webhook: a secret",
        ),
    ],
)
def test_a_bad_each_list_is_named_and_never_echoes_a_secret(
    tmp_path: Path, tables: str, said: str
) -> None:
    home = make_home(tmp_path, tables)
    result = home("outlets", "check")
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert GRID not in result.output


def test_a_long_each_list_with_secrets_per_entry_is_shown_masked(
    tmp_path: Path,
) -> None:
    entries = [
        {"id": f"v{n}", "group": f"第{n}村村民群", "relayer": f"网格员{n}"}
        for n in range(300)
    ]
    entries[7]["notify_webhook"] = "${VILLAGE}"
    home = make_home(
        tmp_path,
        relay("q", notify="wecom", notify_webhook="${GRID_ROBOT}", each=entries),
    )
    for args in (("outlets", "check"), ("outlets", "check", "--json")):
        result = home.ok(*args)
        assert GRID not in result.output
        assert VILLAGE not in result.output
    listed, _ = json.JSONDecoder().raw_decode(
        home.ok("outlets", "check", "--json").output
    )
    names = {o["name"] for o in listed}
    assert names == {f"q-v{n}" for n in range(300)}


def test_adding_an_outlet_under_an_expanded_name_is_refused(tmp_path: Path) -> None:
    home = make_home(
        tmp_path, relay("q", each=[{"id": "x", "group": "g", "relayer": "r"}])
    )
    before = (home.home / "syndicate.toml").read_bytes()
    with (
        Engine.open(home.home, environ=home.env) as engine,
        pytest.raises(SyndicateError, match="already in"),
    ):
        engine.add_outlet(
            "q-x",
            "wechat_relay",
            {"group": "g", "relayer": "r", "portal_url": PORTAL, "folder": "relay"},
        )
    assert (home.home / "syndicate.toml").read_bytes() == before


def test_adding_a_table_with_an_each_list_is_refused_or_done(tmp_path: Path) -> None:
    home = make_home(tmp_path, "")
    config = home.home / "syndicate.toml"
    before = config.read_bytes()
    # Refused in words, or added as the entries' outlets: either is fine.
    with (
        Engine.open(home.home, environ=home.env) as engine,
        contextlib.suppress(SyndicateError),
    ):
        engine.add_outlet(
            "qingshi",
            "wechat_relay",
            {
                "portal_url": PORTAL,
                "folder": "relay",
                "each": [{"id": "liutang", "group": "柳塘村村民群", "relayer": "王芳"}],
            },
        )
    with Engine.open(home.home, environ=home.env) as engine:
        added = "qingshi-liutang" in engine.project.outlet_names
    assert added or config.read_bytes() == before


def test_add_outlet_takes_digest_minutes(tmp_path: Path) -> None:
    home = make_home(tmp_path, "")
    window: dict[str, Any] = {"digest_minutes": 30}  # as the other table options
    with Engine.open(home.home, environ=home.env) as engine:
        engine.add_outlet(
            "liutang",
            "wechat_relay",
            {"group": "g", "relayer": "r", "portal_url": PORTAL, "folder": "relay"},
            **window,
        )
        assert engine.project.outlets["liutang"].digest_minutes == 30


def test_an_each_table_with_a_bad_name_is_told_what_is_wrong(tmp_path: Path) -> None:
    table = relay("qs", each=[{"id": "liutang", "group": "g", "relayer": "r"}])
    home = make_home(tmp_path, table.replace("outlets.qs", 'outlets."青石镇"'))
    result = home("outlets", "check")
    assert result.exit_code == 2
    assert "longer than" not in result.output


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"remind_after_hours": -1}, "outlets.liutang.remind_after_hours"),
        ({"remind_limit": 100}, "outlets.liutang.remind_limit"),
        ({"remind_every_hours": 0}, "outlets.liutang.remind_every_hours"),
        ({"notify": "WECOM"}, "outlets.liutang.notify"),
        ({"portal_url": "http://www.linxi.gov.cn"}, "outlets.liutang.portal_url"),
        ({"notify": "wecom", "notify_webhook": GRID}, "notify_webhook: a secret"),
        ({"notify": "wecom"}, "needs notify_webhook"),
        ({"notify_webhook": "${GRID_ROBOT}"}, "nothing is sent"),
        ({"group": "柳塘村\n村民群"}, "outlets.liutang.group"),
        ({"timeout": 0}, "outlets.liutang.timeout"),
    ],
)
def test_a_bad_relay_setting_is_named_without_its_value(
    tmp_path: Path, values: dict[str, Any], said: str
) -> None:
    home = make_home(tmp_path, relay("liutang", **values))
    result = home("outlets", "check")
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert GRID not in result.output


# -- the channel vocabulary ------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "channels"),
    [
        ("政府网站 、 政府公报", (C.PORTAL, C.GAZETTE)),
        ("、政府网站、、", (C.PORTAL,)),
        ("村公示栏(电子屏）", (C.NOTICEBOARD, C.SCREEN)),
        ("portal，村民微信群；group", (C.PORTAL, C.GROUP)),
        ("\u3000政府网站\u3000", (C.PORTAL,)),
        ("便民服务站、自助终端", (C.KIOSK, C.SCREEN)),
    ],
)
def test_channels_typed_loosely_still_parse(
    written: str, channels: tuple[ChannelCategory, ...]
) -> None:
    assert parse_channels(written) == channels


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("", "no channel named"),
        ("、 ，", "no channel named"),
        ("政府 网站", "unknown channel '政府 网站'"),
        ("政府网站、广播电视", "'广播电视' has no outlet"),
        ("政府\u200b网站", "unknown channel"),
    ],
)
def test_channels_refused_say_which_part(written: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_channels(written)


def test_an_item_file_with_bad_channels_is_refused_by_field(tmp_path: Path) -> None:
    home = make_home(tmp_path, "")
    before = home.items()
    path = tmp_path / "item.md"
    path.write_text(
        f'+++\n{ITEM_FRONT}channels = "政府网站、纸质媒体"\n+++\n正文。\n', "utf-8"
    )
    result = home("items", "publish", path)
    assert result.exit_code != 0
    assert "channels" in result.output
    assert "纸质媒体" in result.output
    assert home.items() == before


@pytest.mark.parametrize("written", ["政府网站\n政府公报", "政府网站\u3000政府公报"])
def test_channels_separated_as_spreadsheets_do(written: str) -> None:
    assert parse_channels(written) == (C.PORTAL, C.GAZETTE)


# -- cards, texts and what the person is told ------------------------------------------


def test_a_hostile_title_is_text_in_the_task_sheet(tmp_path: Path) -> None:
    home = make_home(tmp_path, relay("liutang"))
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>柳塘村公示'
    clock = FixedClock()
    with open_engine(home, clock) as engine:
        engine.items.publish(content(title=hostile), actor="张三")
        engine.sync()
    sheet = next((home.home / "relay").rglob("*.html")).read_text("utf-8")
    assert "<script>" not in sheet
    assert "<img src=x" not in sheet
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in sheet


@pytest.mark.parametrize("mark", ["\u202e", "\u200b", "\u2066", "\ufeff"])
def test_invisible_characters_never_reach_a_card(mark: str) -> None:
    with pytest.raises(SyndicateError, match="title"):
        content(title=f"柳塘村{mark}低保名单公示")


def test_the_longest_title_and_reason_keep_the_whole_qr_code(tmp_path: Path) -> None:
    relay_ = adapter(tmp_path)
    revised = sample_jobs()[2]
    item = replace(
        revised.item,
        content=revised.item.content.model_copy(
            update={"title": LONG_TITLE, "agency": "临" * 100}
        ),
        reason="更" * 500,
    )
    job = replace(revised, item=item, previous=({"task": "forward"},))
    task = task_of(relay_.render(job))
    black, expected = qr_modules(task.card(), task.links[0])
    assert black == expected
    assert len(task.card()) < 2 * 1024 * 1024


def test_a_digest_of_long_titles_keeps_the_qr_code_and_fits_wecom(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    relay_ = adapter(
        tmp_path, notify="wecom", notify_webhook=GRID, notify_base_url=fake.url
    )
    messages = relay_.render_digest(
        jobs_titled(*(f"第{n}批{LONG_TITLE}" for n in range(12)))
    )
    for message in messages:  # a long burst is cut into several tasks
        task = task_of(message)
        black, expected = qr_modules(task.card(), PORTAL + "/")
        assert black == expected
        relay_.deliver(message, requests.Session())
        sent = fake.messages(GRID)
        assert [m["msgtype"] for m in sent][-1] == "image"
        assert all(
            len(m["text"]["content"].encode("utf-8")) <= 2048
            for m in sent
            if m["msgtype"] == "text"
        )
        told = "".join(m["text"]["content"] for m in sent if m["msgtype"] == "text")
        assert f"确认码 {task.confirm}" in told


def test_the_longest_withdrawal_note_keeps_the_qr_code(tmp_path: Path) -> None:
    relay_ = adapter(tmp_path)
    withdrawn = sample_jobs()[4]
    job = replace(
        withdrawn,
        previous=({"task": "forward"},),
        item=replace(withdrawn.item, public_note="名单有误，重新公示。" * 200),
    )
    task = task_of(relay_.render(job))
    assert task.kind == "forward"
    black, expected = qr_modules(task.card(), task.links[0])
    assert black == expected


def test_a_title_cannot_put_a_link_in_a_dingtalk_task(tmp_path: Path) -> None:
    with DingTalkRobotServer() as ding:
        ding.add_robot(TOKEN)
        relay_ = adapter(
            tmp_path, notify="dingtalk", notify_webhook=TOKEN, notify_base_url=ding.url
        )
        (job,) = jobs_titled("请点击[这里确认转发](https://evil.example/x)领取补贴")
        relay_.deliver(relay_.render(job), requests.Session())
        (sent,) = ding.messages(TOKEN)
    links = re.findall(r"\]\((\S+?)\)", sent["markdown"]["text"])
    assert all(link.startswith(PORTAL) for link in links), links


def test_a_long_dingtalk_task_keeps_its_confirmation_code(tmp_path: Path) -> None:
    """(Fixed: a long burst is several tasks, each told in parts, the 确认码 first.)"""
    with DingTalkRobotServer() as ding:
        ding.add_robot(TOKEN)
        relay_ = adapter(
            tmp_path, notify="dingtalk", notify_webhook=TOKEN, notify_base_url=ding.url
        )
        jobs = jobs_titled(*(f"第{n}批{LONG_TITLE}" for n in range(30)))
        messages = relay_.render_digest(jobs)
        for message in messages:
            relay_.deliver(message, requests.Session())
        told = "".join(m["markdown"]["text"] for m in ding.messages(TOKEN))
    for message in messages:
        assert f"确认码 {task_of(message).confirm}" in told
    assert all(str(job.item.item_id) in told for job in jobs)


@pytest.mark.parametrize(
    "group",
    [
        "柳塘村\x85村民群",
        "柳塘村\u2028村民群",
        "柳塘村\u202e群民村",
        "柳塘\u200b村",
        " ",
    ],
)
def test_a_group_name_with_invisible_or_control_characters_is_refused(
    tmp_path: Path, group: str
) -> None:
    with pytest.raises(ValueError, match="group"):
        adapter(tmp_path, group=group)


def test_two_groups_of_the_same_name_keep_their_own_task_sheets(
    tmp_path: Path,
) -> None:
    entries = [
        {"id": "a", "group": "新村村民群", "relayer": "王芳"},
        {"id": "b", "group": "新村村民群", "relayer": "李强"},
    ]
    home = make_home(tmp_path, relay("q", each=entries))
    with open_engine(home, FixedClock()) as engine:
        engine.items.publish(content(), actor="张三")
        assert engine.sync().outcomes == {"awaiting_attestation": 2}
    sheets = [p.read_text("utf-8") for p in (home.home / "relay").rglob("*.html")]
    assert any("王芳" in s for s in sheets)
    assert any("李强" in s for s in sheets)


# -- secrets ---------------------------------------------------------------------------


def test_a_dingtalk_refusal_never_names_the_token_or_secret(tmp_path: Path) -> None:
    secret = "SEC" + "5" * 64
    with DingTalkRobotServer() as ding:
        ding.add_robot(TOKEN, secret=secret)
        relay_ = adapter(
            tmp_path,
            notify="dingtalk",
            notify_webhook=TOKEN,
            notify_secret=secret,
            notify_base_url=ding.url,
        )
        ding.script(TOKEN, Reply(errcode=310000, errmsg=f"sign not match {TOKEN}"))
        (job,) = jobs_titled("柳塘村公告")
        rendition = relay_.render(job)
        with pytest.raises(SyndicateError) as info:
            relay_.deliver(rendition, requests.Session())
        said = str(info.value)
        assert TOKEN not in said
        assert secret not in said
        receipt = relay_.deliver(rendition, requests.Session())
    kept = rendition.data + json.dumps(dict(receipt.detail)).encode()
    for path in (tmp_path / "relay").rglob("*"):
        if path.is_file():
            kept += path.read_bytes()
    assert TOKEN.encode() not in kept
    assert secret.encode() not in kept


def test_a_webhook_notify_url_never_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "tokcanary7f3e9a2b1c"
    signing = "whsec_" + base64.b64encode(b"k" * 32).decode()
    caplog.set_level(logging.DEBUG)
    with LoopbackServer(lambda request, body: (500, {}, b"no")) as receiver:
        home = make_home(
            tmp_path,
            relay(
                "liutang",
                notify="webhook",
                notify_webhook="${HOOK}",
                notify_secret="${HOOK_SECRET}",
            ),
            HOOK=f"{receiver.url}/hook/{canary}?token={canary}",
            HOOK_SECRET=signing,
        )
        with open_engine(home, FixedClock()) as engine:
            engine.items.publish(content(), actor="张三")
            assert engine.sync().outcomes == {"retrying": 1}
        assert len(receiver.received) == 1
    assert canary not in caplog.text


# -- operators' input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--by", "王\n芳"), "--by"),
        (("--by", "王芳", "--at", "2099-01-01T00:00"), "--at"),
        (("--by", "王芳", "--at", "yesterday"), "--at"),
        (("--by", "王芳", "--photo-sha256", "xyz"), "--photo-sha256"),
        (("--by", "王芳", "--note", "a\x00b"), "--note"),
    ],
)
def test_a_bad_confirmation_is_named_and_changes_nothing(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    home = make_home(tmp_path, relay("liutang"))
    with open_engine(home, FixedClock()) as engine:
        engine.items.publish(content(), actor="张三")
        engine.sync()
        (task,) = engine.deliveries.all_deliveries().values()
        before = deliveries_log(engine)
    result = home("attest", str(task.id)[:8], *args)
    assert result.exit_code != 0
    assert said in result.output
    with open_engine(home, FixedClock()) as engine:
        assert deliveries_log(engine) == before


# Two outlets whose deliveries of `content()` v1 share their first 8 hex digits
# (found by search; delivery ids are uuid5 of item, version and outlet, fixed forever).
SAME_CODE = ("g23429", "g81192", "439b5dca")


def test_a_confirmation_code_shared_with_another_outlets_delivery(
    tmp_path: Path,
) -> None:
    group, archive, code = SAME_CODE
    home = make_home(
        tmp_path,
        relay(group)
        + f'\n[outlets.{archive}]\nkind = "directory"\npath = "outlets/archive"\n',
    )
    with open_engine(home, FixedClock()) as engine:
        engine.items.publish(content(), actor="张三")
        engine.sync()
        found = {
            d.outlet: d.state
            for d in engine.deliveries.all_deliveries().values()
            if str(d.id).startswith(code)
        }
        assert found == {
            group: DeliveryState.AWAITING_ATTESTATION,
            archive: DeliveryState.SUCCEEDED,
        }
        done = engine.attest(code, Attestation.of(by="王芳"), actor="赵敏")
    assert done.outlet == group


def test_a_confirmation_naming_another_outlet_is_refused(tmp_path: Path) -> None:
    home = make_home(
        tmp_path,
        relay(
            "q",
            each=[
                {"id": "a", "group": "柳塘村村民群", "relayer": "王芳"},
                {"id": "b", "group": "东庄村村民群", "relayer": "李强"},
            ],
        ),
    )
    with open_engine(home, FixedClock()) as engine:
        engine.items.publish(content(), actor="张三")
        engine.sync()
        other = next(
            d for d in engine.deliveries.all_deliveries().values() if d.outlet == "q-b"
        )
    result = home("attest", str(other.id)[:8], "--outlet", "q-a", "--by", "王芳")
    assert result.exit_code != 0
