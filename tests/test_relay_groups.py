"""Village WeChat groups reached through a person (`wechat_relay`), and digests.

One township table lists its village groups (`[[outlets.NAME.each]]`); each group is an
outlet whose deliveries wait until the 网格员 who forwards to it confirms. The tests drive
the real engine against the loopback WeCom robot the 网格员s' work group has: what they
are told (the task text, then the share card as an image), confirmation by 确认码 and by
outlet + item, reminders on the schedule, 更正 and 撤回 by the same path, and digests that
gather a burst of items into one message on group robots and relays alike — with the
audit re-rendering every digest message from the log.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from syndicate.domain.deliveries import DeliveryState
from syndicate.engine import Engine
from syndicate.engine.attest import Attestation
from syndicate.engine.audit import ReplayRequest
from syndicate.errors import DomainError, InputError
from syndicate.testing import FixedClock
from syndicate.testing.fakes import WeComRobotServer, toml_table
from tests.clihome import CliHome
from tests.conftest import content

PORTAL = "https://www.linxi.gov.cn"
GRID_KEY = "0a1b2c3d-5c1e-4d2a-9b7f-000000000001"
VILLAGE_KEY = "0a1b2c3d-5c1e-4d2a-9b7f-000000000002"
GROUPS = {"liutang": ("柳塘村村民群", "王芳"), "dongzhuang": ("东庄村村民群", "李强")}


def township(fake: WeComRobotServer, **extra: Any) -> str:
    """One table for the township, one entry per village group."""
    table = {
        "kind": "wechat_relay",
        "channel": "group",
        "portal_url": PORTAL,
        "folder": "relay",
        "notify": "wecom",
        "notify_webhook": "${GRID_ROBOT}",
        "notify_base_url": fake.url,
        "allow_private_network": True,
        "remind_after_hours": 24,
        "remind_every_hours": 24,
        "remind_limit": 2,
        **extra,
    }
    text = toml_table("qingshi", table)
    for id_, (group, relayer) in GROUPS.items():
        text += (
            f'\n[[outlets.qingshi.each]]\nid = "{id_}"\ngroup = "{group}"\n'
            f'relayer = "{relayer}"\n'
        )
    return text


def make_home(tmp_path: Path, tables: str) -> CliHome:
    home = CliHome(tmp_path / "home", {"GRID_ROBOT": GRID_KEY, "VILLAGE": VILLAGE_KEY})
    home.ok("init", "--no-review")
    config = home.home / "syndicate.toml"
    config.write_text(config.read_text("utf-8") + "\n" + tables, "utf-8")
    return home


def assert_replays(engine: Engine, clock: FixedClock, out: Path, shown: int) -> None:
    """Replay as of now re-renders every rendition on the outlets (each digest
    message from all the deliveries it carried) and finds the log's hashes."""
    summary = engine.replay(ReplayRequest(as_of=clock(), out=out))
    assert not summary.mismatches, summary.mismatches
    assert sum(o.count for o in summary.outlets if o.configured) >= shown


def confirm_codes(fake: WeComRobotServer) -> list[str]:
    """The 确认码 in the task texts the 网格员s' robot received, in order."""
    codes = []
    for message in fake.messages(GRID_KEY):
        if message["msgtype"] == "text":
            codes += re.findall(r"确认码 ([0-9a-f]{8})", message["text"]["content"])
    return codes


@pytest.fixture
def fake() -> Any:
    with WeComRobotServer(keys=[GRID_KEY, VILLAGE_KEY]) as server:
        yield server


def test_one_table_lists_the_groups_and_each_is_an_outlet(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(tmp_path, township(fake))
    listed = home.ok("outlets", "check", "--json")
    outlets, _ = json.JSONDecoder().raw_decode(listed.output)
    names = {o["name"] for o in outlets}
    assert {"qingshi-liutang", "qingshi-dongzhuang"} <= names
    assert "qingshi" not in names
    assert GRID_KEY not in listed.output


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('[[outlets.qingshi.each]]\nid = "a b"\n', "each[0].id"),
        ('[[outlets.qingshi.each]]\ngroup = "x"\n', "each[0].id"),
        (
            '[[outlets.qingshi.each]]\nid = "x"\nkind = "rss"\n',
            "each[0].kind: set it on [outlets.qingshi]",
        ),
    ],
)
def test_a_bad_group_list_is_named(
    tmp_path: Path, fake: WeComRobotServer, entry: str, said: str
) -> None:
    table = toml_table(
        "qingshi",
        {
            "kind": "wechat_relay",
            "portal_url": PORTAL,
            "folder": "relay",
            "relayer": "王芳",
            "group": "g",
        },
    )
    home = make_home(tmp_path, table + "\n" + entry)
    result = home("outlets", "check")
    assert result.exit_code != 0
    assert said in result.output


def test_relay_round_trip_through_a_person(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(tmp_path, township(fake))
    clock = FixedClock()
    with Engine.open(home.home, environ=home.env, clock=clock) as engine:
        item = engine.items.publish(
            content(
                agency="临溪县青石镇人民政府",
                title="柳塘村2026年耕地地力保护补贴发放名单公示",
                channels=["精准推送", "政府网站"],
            ),
            actor="张三",
        )
        result = engine.sync()
        assert result.outcomes == {"awaiting_attestation": 2}

        # Each 网格员 got the task (text, then the card) through the robot.
        messages = fake.messages(GRID_KEY)
        assert [m["msgtype"] for m in messages] == ["text", "image"] * 2
        task = messages[0]["text"]["content"]
        assert "柳塘村村民群" in task or "东庄村村民群" in task
        assert f"{PORTAL}/items/{item.item_id}.html" in task
        card = base64.b64decode(messages[1]["image"]["base64"])
        assert (
            hashlib.md5(card, usedforsecurity=False).hexdigest()
            == (messages[1]["image"]["md5"])
        )
        image = Image.open(io.BytesIO(card))
        assert image.format == "PNG"
        assert image.width == 1080
        # The materials are in the task folder, per group.
        folder = home.home / "relay" / "柳塘村村民群"
        assert sorted(p.suffix for p in folder.iterdir()) == [".html", ".png", ".txt"]
        text = next(folder.glob("*.txt")).read_text("utf-8")
        assert text.startswith("柳塘村2026年耕地地力保护补贴发放名单公示")

        # status: both groups wait, with how long.
        clock.advance(hours=3)
        rows = {r.outlet: r for r in engine.status()}
        waiting = rows["qingshi-liutang"].awaiting_attestation
        assert len(waiting) == 1
        assert waiting[0].waited is not None
        assert waiting[0].waited.total_seconds() == pytest.approx(3 * 3600)

        # 王芳 confirms with the code she was sent and a screenshot's hash.
        codes = confirm_codes(fake)
        liutang = rows["qingshi-liutang"].delivery_id
        code = next(c for c in codes if str(liutang).startswith(c))
        shot = "ab" * 32
        done = engine.attest(
            code,
            Attestation.of(by="王芳", photo_sha256=shot),
            actor="镇政务公开办 赵敏",
        )
        assert done.outlet == "qingshi-liutang"
        assert done.photo_sha256 == shot

        # 25 hours on: a reminder for the other group only, recorded on its delivery.
        before = len(fake.messages(GRID_KEY))
        clock.advance(hours=22)
        reminded = engine.sync().reminded
        assert [r.outlet for r in reminded] == ["qingshi-dongzhuang"]
        reminder = fake.messages(GRID_KEY)[before]["text"]["content"]
        assert "东庄村村民群" in reminder
        assert "第1次提醒" in reminder
        assert engine.sync().reminded == []  # not again within remind_every_hours
        clock.advance(hours=24)
        assert [r.number for r in engine.sync().reminded] == [2]
        clock.advance(hours=24)
        assert engine.sync().reminded == []  # remind_limit = 2
        rows = {r.outlet: r for r in engine.status()}
        assert rows["qingshi-dongzhuang"].awaiting_attestation[0].reminders == 2

        # A revision: the forwarded group gets a 【更正】 task; the group that never
        # got the first version gets the new one as a plain task, the old one retired.
        engine.items.revise(
            item.item_id,
            content(
                agency="临溪县青石镇人民政府",
                title="柳塘村2026年耕地地力保护补贴发放名单公示",
                body="经审核，补贴对象共52户。",
                channels=["精准推送", "政府网站"],
            ),
            actor="张三",
            reason="补贴对象户数有误",
        )
        engine.sync()
        texts = [
            m["text"]["content"]
            for m in fake.messages(GRID_KEY)
            if m["msgtype"] == "text"
        ]
        to_liutang = [t for t in texts if "柳塘村村民群" in t]
        to_dongzhuang = [t for t in texts if "东庄村村民群" in t and "转发任务" in t]
        assert "【更正】" in to_liutang[-1]
        assert "补贴对象户数有误" in to_liutang[-1]
        assert "【更正】" not in to_dongzhuang[-1]
        states = {
            (d.outlet, d.item_version): d.state
            for d in engine.deliveries.all_deliveries().values()
        }
        assert states[("qingshi-dongzhuang", 1)] is DeliveryState.SUPERSEDED

        # Confirm by outlet and item, as a mini-program backend would.
        engine.attest_item(
            "qingshi-liutang",
            item.ref,
            Attestation.of(by="王芳"),
            actor="镇政务公开办 赵敏",
        )
        with pytest.raises(DomainError, match="awaits attestation"):
            engine.attest_item(
                "qingshi-liutang", item.ref, Attestation.of(by="王芳"), actor="赵敏"
            )

        # A withdrawal: a 【撤回】 task where it was forwarded; nothing where not.
        engine.items.withdraw(
            item.item_id,
            actor="张三",
            reason="名单有误",
            public_note="名单有误，重新公示",
        )
        engine.sync()
        final = {
            d.outlet: d
            for d in engine.deliveries.all_deliveries().values()
            if d.item_version == 3
        }
        assert final["qingshi-liutang"].state is DeliveryState.AWAITING_ATTESTATION
        assert final["qingshi-dongzhuang"].state is DeliveryState.SUCCEEDED
        assert (final["qingshi-dongzhuang"].receipt or {}).get("attestation") == "none"
        assert "【撤回】" in fake.messages(GRID_KEY)[-2]["text"]["content"]

        # The audit re-renders every task from the log and finds them the same.
        assert_replays(engine, clock, tmp_path / "replay", shown=2)
        trail = engine.trail(item.ref)
        assert any(
            r.event == "Reminded" and "reminder 2 (recorded" in (r.detail or "")
            for r in trail.rows
        )
    # The CLI lists what waits, longest first, with the reminders sent.
    shown = home.ok("status")
    assert "WAITING" in shown.output
    assert "REMINDED" in shown.output
    assert GRID_KEY not in shown.output


def test_attest_input_is_checked(tmp_path: Path, fake: WeComRobotServer) -> None:
    with pytest.raises(InputError, match="--photo-sha256"):
        Attestation.of(by="王芳", photo_sha256="not-a-hash")
    home = make_home(tmp_path, township(fake))
    before = home.items()
    result = home("attest", "--by", "王芳")
    assert result.exit_code != 0
    assert "DELIVERY" in result.output
    result = home("attest", "--by", "王芳", "--outlet", "nope", "--item", "x/1")
    assert result.exit_code != 0
    assert home.items() == before


def test_a_relay_digest_is_one_task_and_one_confirmation(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    home = make_home(tmp_path, township(fake, digest_minutes=30))
    clock = FixedClock()
    with Engine.open(home.home, environ=home.env, clock=clock) as engine:
        refs = []
        for n in range(3):
            change = engine.items.publish(
                content(
                    index_no=f"11330100MB0000006R/2026-{n + 300:05}",
                    title=f"青石镇2026年第{n + 1}批临时救助审批结果公告",
                    channels=["group"],
                ),
                actor="张三",
            )
            refs.append(change.ref)
        # A running worker waits for the window; then one task per group.
        engine.plan()
        worker = engine.worker("test")
        try:
            assert worker.run_until_idle().attempted == 0
            assert worker.digest_held(clock()) == 6
            clock.advance(minutes=31)
            summary = worker.run_until_idle()
        finally:
            worker.close()
        assert summary.outcomes == {"awaiting_attestation": 6}
        texts = [
            m["text"]["content"]
            for m in fake.messages(GRID_KEY)
            if m["msgtype"] == "text"
        ]
        assert len(texts) == 2
        assert all(t.count("青石镇2026年第") == 3 for t in texts)
        code = confirm_codes(fake)[0]
        done = engine.attest(code, Attestation.of(by="王芳"), actor="赵敏")
        assert len(done.together) == 2
        states = [
            d.state
            for d in engine.deliveries.all_deliveries().values()
            if d.outlet == done.outlet
        ]
        assert states == [DeliveryState.ATTESTED] * 3
        # The audit re-renders the digest task from the log.
        # (only the attested group shows them: the other has not forwarded yet)
        assert_replays(engine, clock, tmp_path / "replay", shown=3)


def test_group_robots_gather_a_burst_into_few_messages(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    table = fake.outlet_table("VILLAGE", portal_url=PORTAL) | {"digest_minutes": 10}
    home = make_home(tmp_path, toml_table("village", table))
    clock = FixedClock()
    with Engine.open(home.home, environ=home.env, clock=clock) as engine:
        for n in range(40):
            engine.items.publish(
                content(
                    index_no=f"11330100MB0000006R/2026-{n + 400:05}",
                    title=f"临溪县2026年第{n + 1}批城乡最低生活保障审批结果公告",
                ),
                actor="张三",
            )
        result = engine.sync()  # a sync does not wait for the window
        assert result.outcomes == {"succeeded": 40}
        sent = fake.messages(VILLAGE_KEY)
        assert 2 <= len(sent) <= 4  # instead of 40, under 4096 bytes each
        shown = "\n".join(m["markdown"]["content"] for m in sent)
        assert all(f"第{n + 1}批" in shown for n in range(40))
        receipts = [
            d.receipt or {} for d in engine.deliveries.all_deliveries().values()
        ]
        assert {r["digest_part"] for r in receipts} == {
            f"{i}/{len(sent)}" for i in range(1, len(sent) + 1)
        }
        # Replay re-renders each digest message and compares its hash.
        assert_replays(engine, clock, tmp_path / "replay", shown=40)
        report = engine.consistency()
        assert not report.mismatched


def alter(db: Path, topic: str, old: str, new: str) -> int:
    """Change `old` to `new` in the first stored event of `topic` (an insider with the
    file); its position."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT rowid FROM stored_events WHERE topic = ? AND "
            "instr(CAST(state AS TEXT), ?) > 0 ORDER BY rowid",
            (topic, old),
        ).fetchall()
        assert rows, f"no {topic} holding {old} in {db}"
        position = int(rows[0][0])
        conn.execute(
            "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) "
            "AS BLOB) WHERE rowid = ?",
            (old, new, position),
        )
    conn.close()
    return position


def test_reminders_digests_and_confirmations_are_in_the_signed_tree(
    tmp_path: Path, fake: WeComRobotServer
) -> None:
    """A reminder, a digest's record of what it carried and a confirmation's
    screenshot hash, each altered by an insider with the file, are findings of
    `audit verify` at their position."""
    home = make_home(tmp_path, township(fake, digest_minutes=5))
    clock = FixedClock()
    with Engine.open(home.home, environ=home.env, clock=clock) as engine:
        for n in range(2):
            engine.items.publish(
                content(index_no=f"T-{n}", title=f"青石镇第{n + 1}批公告"), actor="张三"
            )
        engine.sync()
        code = confirm_codes(fake)[0]
        engine.attest(
            code, Attestation.of(by="王芳", photo_sha256="cd" * 32), actor="赵敏"
        )
        clock.advance(hours=25)
        assert len(engine.sync().reminded) == 1
    home.ok("audit", "checkpoint")
    assert home.ok("audit", "verify").stdout.startswith("OK")
    db = home.home / "data" / "deliveries.db"
    pristine = db.read_bytes()
    for topic, old, new in (
        ("Reminded", '"number":1', '"number":7'),
        ("AwaitingAttestation", '"digest_part":"1/1"', '"digest_part":"2/2"'),
        ("Attested", "cd" * 32, "ef" * 32),
    ):
        position = alter(db, f"syndicate.Delivery.{topic}", old, new)
        verified = home("audit", "verify")
        assert verified.exit_code == 1, (topic, verified.output)
        assert f"position {position})" in verified.stdout, topic
        db.write_bytes(pristine)
    assert home.ok("audit", "verify").stdout.startswith("OK")
