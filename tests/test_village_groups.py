"""Village groups at scale, through the CLI: 500 WeCom group robots in one project.

Each group is its own outlet with its own robot key (an environment variable), all on one
loopback fake. Publishing two items and running `syndicate sync` must reach every group
exactly once per item, and no key may be written anywhere: not in the SQLite files (the
WAL included), not in the CLI's output, not in logs.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    Reply,
    WeComRobotServer,
    toml_table,
)
from tests.conftest import ITEM_FRONT

GROUPS = 500
PORTAL = "https://www.linxi.gov.cn"
TITLES = (
    "柳塘村2026年耕地地力保护补贴发放名单公示",
    "青石镇2026年临时救助审批结果公告",
)


def key_for(n: int) -> str:
    """A robot key shaped like WeCom's (a UUID), distinct per group."""
    return f"{n:08x}-5c1e-4d2a-9b7f-{n * 7919:012x}"


def item_file(index: int) -> str:
    front = ITEM_FRONT.replace(
        'index_no = "11330100MB0000006R/2026-00019"',
        f'index_no = "11330100MB0000006R/2026-{index + 100:05}"',
    ).replace(
        'title = "临溪县2026年第一季度城乡最低生活保障审批结果公告"',
        f'title = "{TITLES[index]}"',
    )
    return f"+++\n{front}+++\n第{index + 1}项公开内容。\n\n详见附件名单。\n"


def setup(
    tmp_path: Path, tables: str, environ: dict[str, str]
) -> tuple[Path, CliRunner]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", **environ})
    assert (
        runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code == 0
    )
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + tables)
    for index in range(len(TITLES)):
        (tmp_path / f"item-{index}.md").write_text(item_file(index), "utf-8")
    return home, runner


def test_500_village_groups_each_get_every_message_once_and_no_key_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="markdown_it")  # chatty, and holds no keys
    caplog.set_level(logging.DEBUG)  # (last: it sets the capturing handler's level)
    keys = {f"GROUP_{n:03}_KEY": key_for(n) for n in range(GROUPS)}
    with WeComRobotServer(keys=keys.values()) as fake:
        tables = "\n".join(
            toml_table(
                f"village-{n:03}",
                fake.outlet_table(f"GROUP_{n:03}_KEY", portal_url=PORTAL),
            )
            for n in range(GROUPS)
        )
        home, runner = setup(tmp_path, tables, keys)
        # Hold the databases open, so the CLI's closing connections cannot checkpoint
        # and delete the WAL files: what was written must be there to be searched.
        readers = [sqlite3.connect(db) for db in sorted((home / "data").glob("*.db"))]
        for reader in readers:
            reader.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        outputs = [cli("outlets", "check")]
        outputs.append(
            cli(
                "items",
                "publish",
                str(tmp_path / "item-0.md"),
                str(tmp_path / "item-1.md"),
            )
        )
        assert outputs[-1].exit_code == 0, outputs[-1].output
        synced = cli("sync")
        outputs.append(synced)
        assert synced.exit_code == 0, synced.output
        assert f"{GROUPS * 2} succeeded" in synced.stderr
        again = cli("sync")  # nothing more to send
        outputs.append(again)
        assert again.exit_code == 0
        status = cli("status", "--json")
        outputs.append(status)
        outputs.append(cli("status"))

    rows = json.loads(status.stdout)
    assert len(rows) == GROUPS * 2
    assert {r["state"] for r in rows} == {"succeeded"}
    # Every group got exactly its two messages, once each, and nothing else.
    assert len(fake.received) == GROUPS * 2
    assert set(fake.errcodes()) == {0}
    for key in keys.values():
        shown = [m["markdown"]["content"].split("\n", 1)[0] for m in fake.messages(key)]
        assert sorted(shown) == sorted(f"### {title}" for title in TITLES)
    # No key anywhere it could be kept or seen.
    secrets = [key.encode() for key in keys.values()]
    stored = [p for p in (home / "data").rglob("*") if p.is_file()]
    wal = [p for p in stored if p.name.endswith("-wal")]
    assert wal
    assert all(p.stat().st_size > 0 for p in wal)
    for path in [*stored, home / "syndicate.toml"]:
        data = path.read_bytes()
        assert not any(s in data for s in secrets), f"a robot key is in {path}"
    for reader in readers:
        reader.close()
    assert "key=***" in caplog.text  # urllib3 logged each request line, redacted
    text = "".join(o.stdout + o.stderr for o in outputs) + caplog.text
    assert not any(key in text for key in keys.values())
    assert "village-000" in outputs[0].stdout  # the outlets were checked and listed


def test_an_unconfirmed_message_waits_for_an_operator(tmp_path: Path) -> None:
    wecom_key = key_for(1)
    token = "d1" * 32
    secret = "SEC" + "5f" * 32
    environ = {
        "LIUTANG_KEY": wecom_key,
        "QINGSHI_TOKEN": token,
        "QINGSHI_SECRET": secret,
    }
    with WeComRobotServer(keys=[wecom_key]) as wecom, DingTalkRobotServer() as ding:
        ding.add_robot(token, secret=secret, keywords=["公开"])
        tables = toml_table(
            "liutang", wecom.outlet_table("LIUTANG_KEY", portal_url=PORTAL)
        ) + toml_table(
            "qingshi",
            ding.outlet_table(
                "QINGSHI_TOKEN",
                secret_env="QINGSHI_SECRET",
                portal_url=PORTAL,
                keyword="公开",
                at_all=True,
            ),
        )
        home, runner = setup(tmp_path, tables, environ)

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        assert cli("items", "publish", str(tmp_path / "item-0.md")).exit_code == 0
        # The WeCom robot takes the message, but the connection drops before it answers.
        wecom.script(wecom_key, Reply(drop=True, accept=True))
        first = cli("sync")
        assert first.exit_code == 1
        assert "1 unconfirmed" in first.stderr
        assert "1 succeeded" in first.stderr
        rows = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}
        assert rows["qingshi"]["state"] == "succeeded"
        assert rows["liutang"]["state"] == "unconfirmed"
        assert "not resent automatically" in rows["liutang"]["last_error"]
        assert cli("sync").exit_code == 0  # nothing is resent by itself
        assert len(wecom.received) == 1
        # The operator sees the message in the group and says so.
        resolved = cli("resolve", rows["liutang"]["delivery_id"][:8], "--sent")
        assert resolved.exit_code == 0, resolved.output
        assert "recorded as delivered" in resolved.stdout
        assert cli("sync").exit_code == 0
        rows = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}
        assert rows["liutang"]["state"] == "succeeded"
    assert len(wecom.messages(wecom_key)) == 1
    [signed] = ding.received
    assert signed.errcode == 0
    assert {"timestamp", "sign"} <= set(signed.query)
    [message] = ding.messages(token)
    assert message["at"] == {"isAtAll": True}
    assert message["markdown"]["title"].startswith("【公开】")
