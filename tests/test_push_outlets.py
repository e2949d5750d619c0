"""One item, published, revised and withdrawn, across the county's WeChat official account,
three WeCom village groups and two DingTalk township groups, through the command line
against loopback servers that follow each platform's protocol: what every server received,
byte limits and rate limits included.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    WechatMpServer,
    WeComRobotServer,
    toml_table,
)
from tests.conftest import ITEM_FRONT

PORTAL = "https://www.linxi.gov.cn"
WECOM = {f"VILLAGE_{n}_KEY": f"{n:08x}-aaaa-4c1e-9b7f-{n:012x}" for n in range(1, 4)}
DING = {
    f"TOWNSHIP_{n}_TOKEN": (f"{n:02x}" * 32, "SEC" + f"{n + 7:02x}" * 32)
    for n in range(1, 3)
}
WECHAT_APP_ID = "wx0123456789abcdef"
WECHAT_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
# A long notice: about 9,000 bytes of body; groups get a summary and the link.
LONG_BODY = "\n\n".join(
    f"{n}. 柳塘村第{n}组申报户经村民代表大会评议，符合耕地地力保护补贴发放条件，"
    "现予公示，公示期内如有异议请向村委会反映。" * 2
    for n in range(1, 41)
)


def notice(body: str) -> str:
    return f"+++\n{ITEM_FRONT}+++\n{body}\n"


def body_of(message: dict[str, Any]) -> str:
    part = message.get("markdown") or message.get("text") or {}
    return str(part.get("content") or part.get("text") or "")


def test_publish_revise_withdraw_across_wechat_and_five_groups(tmp_path: Path) -> None:
    environ = {**WECOM, **{k: t for k, (t, _) in DING.items()}}
    environ |= {k.replace("TOKEN", "SECRET"): s for k, (_, s) in DING.items()}
    environ["WECHAT_SECRET"] = WECHAT_SECRET
    with (
        WeComRobotServer(keys=WECOM.values()) as wecom,
        DingTalkRobotServer() as ding,
        # Published by the first check (several polls: tests/adapters/test_wechat_mp.py).
        WechatMpServer(
            app_id=WECHAT_APP_ID, secret=WECHAT_SECRET, publish_polls=0
        ) as wechat,
    ):
        for token, secret in DING.values():
            ding.add_robot(token, secret=secret)
        tables = "".join(
            toml_table(f"village-{n}", wecom.outlet_table(name, portal_url=PORTAL))
            for n, name in enumerate(WECOM, start=1)
        ) + "".join(
            toml_table(
                f"township-{n}",
                ding.outlet_table(
                    name,
                    secret_env=name.replace("TOKEN", "SECRET"),
                    portal_url=PORTAL,
                ),
            )
            for n, name in enumerate(DING, start=1)
        )
        tables += toml_table(
            "county-wechat",
            wechat.outlet_table(
                "WECHAT_SECRET", portal_url=PORTAL, delete_corrected=True
            ),
        )
        # WeChat publishes in the background; look again after a second, not ten.
        tables += "[delivery]\nfirst_check_seconds = 1\n"
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", **environ})
        assert (
            runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code
            == 0
        )
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + tables)

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        def sync() -> None:
            """Sync, then sync again once WeChat's publishing job is due a check."""
            assert cli("sync").exit_code == 0
            for _ in range(5):
                rows = json.loads(cli("status", "--json").stdout)
                if not any(r["state"] == "submitted" for r in rows):
                    return
                time.sleep(1.1)
                assert cli("sync").exit_code == 0
            raise AssertionError("WeChat never confirmed the article")

        item = tmp_path / "item.md"
        item.write_text(notice(LONG_BODY), "utf-8")
        assert cli("items", "publish", str(item)).exit_code == 0
        sync()
        revised = tmp_path / "revised.md"
        revised.write_text(notice(LONG_BODY.replace("第1组", "第一组")), "utf-8")
        ref = "临溪县民政局/11330100MB0000006R/2026-00019"
        assert (
            cli("items", "revise", ref, str(revised), "--reason", "更正组名").exit_code
            == 0
        )
        sync()
        withdrawn = cli(
            "items", "withdraw", ref, "--reason", "重新审核", "--note", "名单重新审核"
        )
        assert withdrawn.exit_code == 0
        sync()
        rows = json.loads(cli("status", "--json").stdout)

    assert {r["state"] for r in rows} == {"succeeded"}
    assert {r["version"] for r in rows} == {3}
    assert {r["outlet"] for r in rows} == {
        "county-wechat",
        *(f"village-{n}" for n in range(1, 4)),
        *(f"township-{n}" for n in range(1, 3)),
    }
    # WeChat: the article, then a 【更正】 article (the first one deleted, as configured),
    # then the correction deleted on withdrawal; nothing is left published.
    assert not [code for code in wechat.errcodes() if code]  # nothing refused
    drafts = [json.loads(r.body)["articles"][0] for r in wechat.calls("draft/add")]
    assert len(drafts) == 2
    assert drafts[0]["title"] == "临溪县2026年第一季度城乡最低生活保障审批结果公告"
    assert drafts[1]["title"] == f"【更正】{drafts[0]['title']}"
    assert "更正组名" in drafts[1]["content"]
    assert "柳塘村第一组" in drafts[1]["content"]
    for draft in drafts:
        assert len(draft["content"]) < 20_000
        assert len(draft["content"].encode("utf-8")) < 1024 * 1024
        assert draft["content_source_url"].startswith(f"{PORTAL}/items/")
        assert "<script" not in draft["content"]
    assert len(wechat.calls("freepublish/submit")) == 2  # never resubmitted
    deleted = [
        json.loads(r.body)["article_id"] for r in wechat.calls("freepublish/delete")
    ]
    assert len(deleted) == 2
    assert len(set(deleted)) == 2
    assert wechat.published() == []
    thumbs = wechat.calls("material/add_material")
    assert thumbs
    assert all(len(r.body) <= 64 * 1024 + 4096 for r in thumbs)
    assert set(wecom.errcodes()) == {0}  # the robots never refused anything
    assert set(ding.errcodes()) == {0}
    for key in WECOM.values():
        bodies = [body_of(m) for m in wecom.messages(key)]
        # A notice is a summary and the portal link, never the whole text: one message
        # each for the publication, the correction and the withdrawal.
        assert len(bodies) == 3
        assert all(len(b.encode("utf-8")) <= 4096 for b in bodies)
        first, correction, withdrawal = bodies
        assert first.startswith("### 临溪县2026年第一季度城乡最低生活保障审批结果公告")
        assert "柳塘村第1组" in first
        assert len(first) < len(LONG_BODY) // 10
        assert f"{PORTAL}/items/" in first
        assert "【更正】" in correction.split("\n", 1)[0]
        assert "更正说明：更正组名" in correction
        assert "柳塘村第一组" in correction
        assert "【撤回】" in withdrawal.split("\n", 1)[0]
        assert "名单重新审核" in withdrawal
        assert "柳塘村" not in withdrawal  # the withdrawn text is not repeated
    for token, _ in DING.values():
        messages = ding.messages(token)
        titles = [m["markdown"]["title"] for m in messages]
        assert titles[0].startswith("临溪县")
        assert any(t.startswith("【更正】") for t in titles)
        assert titles[-1].startswith("【撤回】")
    for request in ding.received:
        assert len(request.body) <= 20_000
        assert {"timestamp", "sign"} <= set(request.query)


def test_a_burst_of_notices_waits_for_each_robots_limit(tmp_path: Path) -> None:
    """22 notices at once: each robot gets 20 within the minute, the rest wait for a
    slot (checked before sending), and no robot ever answers 45009 / 410100."""
    token, secret = DING["TOWNSHIP_1_TOKEN"]
    key = WECOM["VILLAGE_1_KEY"]
    environ = {"VILLAGE_1_KEY": key, "T_TOKEN": token, "T_SECRET": secret}
    with WeComRobotServer(keys=[key]) as wecom, DingTalkRobotServer() as ding:
        ding.add_robot(token, secret=secret)
        tables = toml_table(
            "village", wecom.outlet_table("VILLAGE_1_KEY", portal_url=PORTAL)
        ) + toml_table(
            "township",
            ding.outlet_table("T_TOKEN", secret_env="T_SECRET", portal_url=PORTAL),
        )
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", **environ})
        assert (
            runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code
            == 0
        )
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + tables)
        files = []
        for n in range(22):
            path = tmp_path / f"item-{n}.md"
            path.write_text(
                notice(f"第{n}号公告正文。").replace(
                    "2026-00019", f"2026-{n + 100:05}"
                ),
                "utf-8",
            )
            files.append(str(path))
        home_args = ["--home", str(home)]
        assert (
            runner.invoke(app, [*home_args, "items", "publish", *files]).exit_code == 0
        )
        synced = runner.invoke(app, [*home_args, "sync"])
        assert synced.exit_code == 0, synced.output
        rows = json.loads(runner.invoke(app, [*home_args, "status", "--json"]).stdout)
    assert len(wecom.messages(key)) == 20
    assert len(ding.messages(token)) == 20
    assert set(wecom.errcodes()) == {0}
    assert set(ding.errcodes()) == {0}
    for outlet in ("village", "township"):
        states = [r["state"] for r in rows if r["outlet"] == outlet]
        assert states.count("succeeded") == 20
        assert states.count("planned") == 2  # sent when a slot frees, a minute on


def test_a_notice_of_two_messages_takes_two_of_the_robots_slots(tmp_path: Path) -> None:
    """With @all in markdown mode every notice is two messages (the notice, then the
    mention): 12 notices fit 10 to the minute, and the robot never answers 45009."""
    key = WECOM["VILLAGE_1_KEY"]
    with WeComRobotServer(keys=[key]) as wecom:
        table = wecom.outlet_table("VILLAGE_1_KEY", portal_url=PORTAL, mention_all=True)
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", "VILLAGE_1_KEY": key})
        home_args = ["--home", str(home)]
        assert runner.invoke(app, [*home_args, "init", "--no-review"]).exit_code == 0
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + toml_table("village", table))
        files = []
        for n in range(12):
            path = tmp_path / f"item-{n}.md"
            path.write_text(
                notice(f"第{n}号公告正文。").replace(
                    "2026-00019", f"2026-{n + 200:05}"
                ),
                "utf-8",
            )
            files.append(str(path))
        assert (
            runner.invoke(app, [*home_args, "items", "publish", *files]).exit_code == 0
        )
        synced = runner.invoke(app, [*home_args, "sync"])
        assert synced.exit_code == 0, synced.output
        rows = json.loads(runner.invoke(app, [*home_args, "status", "--json"]).stdout)
    messages = wecom.messages(key)
    assert len(messages) == 20
    assert [m["msgtype"] for m in messages] == ["markdown", "text"] * 10
    assert set(wecom.errcodes()) == {0}
    states = [r["state"] for r in rows]
    assert states.count("succeeded") == 10
    assert states.count("planned") == 2
