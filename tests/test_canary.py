"""Secret canaries: every secret of every push outlet is a random value, the outlets are
driven through successes and failures, and then every byte syndicate kept or showed is
searched for each canary — raw, base64, hex and URL-encoded. Zero hits.

Searched: the SQLite files of the home (with their WAL files, kept alive by open readers),
syndicate.toml, every outlet folder, the output of every command (including the JSON
exports of `log`, `status` and `outlets check`), and every log record at DEBUG level.
"""

from __future__ import annotations

import base64
import logging
import secrets
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.testing import LoopbackServer
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    Reply,
    WechatMpServer,
    WeComRobotServer,
    loopback_outlet_keys,
    toml_table,
)
from tests.conftest import ITEM_FILE

PORTAL = "https://www.linxi.gov.cn"


def encodings(secret: str) -> set[bytes]:
    """The forms a leaked secret could take."""
    raw = secret.encode()
    forms = {
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        quote(secret, safe="").encode(),
        quote_plus(secret).encode(),
    }
    return {f for f in forms if len(f) >= 16}


def test_no_secret_of_any_push_outlet_is_kept_or_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="markdown_it")
    caplog.set_level(logging.DEBUG)
    webhook_key = secrets.token_bytes(32)
    canaries = {
        "CANARY_WEBHOOK": "whsec_" + base64.b64encode(webhook_key).decode(),
        "CANARY_WECOM": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-4c1e-9b7f-"
        f"{secrets.token_hex(6)}",
        "CANARY_DING_TOKEN": secrets.token_hex(32),
        "CANARY_DING_SECRET": "SEC" + secrets.token_hex(32),
        "CANARY_WECHAT": secrets.token_hex(16),
        # The robot that tells a 网格员 what to forward to a village group.
        "CANARY_GRID": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-4c1e-9b7f-"
        f"{secrets.token_hex(6)}",
    }
    forms = {name: encodings(value) for name, value in canaries.items()}
    # The webhook's signing key is the base64 part; search its bytes too.
    forms["CANARY_WEBHOOK"] |= {
        base64.b64encode(webhook_key),
        webhook_key.hex().encode(),
        quote(base64.b64encode(webhook_key).decode(), safe="").encode(),
    }
    hits: list[int] = []

    def receive(request: object, body: bytes) -> tuple[int, dict[str, str], bytes]:
        hits.append(1)
        return (410, {}, b"") if len(hits) == 1 else (204, {}, b"")

    with (
        LoopbackServer(receive) as receiver,
        WeComRobotServer(
            keys=[canaries["CANARY_WECOM"], canaries["CANARY_GRID"]]
        ) as wecom,
        DingTalkRobotServer() as ding,
        WechatMpServer(
            app_id="wx0123456789abcdef", secret=canaries["CANARY_WECHAT"]
        ) as wechat,
    ):
        ding.add_robot(
            canaries["CANARY_DING_TOKEN"], secret=canaries["CANARY_DING_SECRET"]
        )
        tables = (
            toml_table(
                "cms",
                {
                    "kind": "webhook",
                    "url": f"{receiver.url}/hook",
                    "secret": "${CANARY_WEBHOOK}",
                    **loopback_outlet_keys(),
                },
            )
            + toml_table(
                "village", wecom.outlet_table("CANARY_WECOM", portal_url=PORTAL)
            )
            + toml_table(
                "township",
                ding.outlet_table(
                    "CANARY_DING_TOKEN",
                    secret_env="CANARY_DING_SECRET",
                    portal_url=PORTAL,
                ),
            )
            + toml_table(
                "wechat", wechat.outlet_table("CANARY_WECHAT", portal_url=PORTAL)
            )
            + toml_table(
                "relay",
                {
                    "kind": "wechat_relay",
                    "channel": "group",
                    "group": "柳塘村村民群",
                    "relayer": "王芳",
                    "portal_url": PORTAL,
                    "folder": "relay",
                    "notify": "wecom",
                    "notify_webhook": "${CANARY_GRID}",
                    "notify_base_url": wecom.url,
                    "remind_after_hours": 0.0003,
                    "remind_every_hours": 0.0003,
                    **loopback_outlet_keys(),
                },
            )
            + "[delivery]\nfirst_check_seconds = 1\n"
        )
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", **canaries})
        assert (
            runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code
            == 0
        )
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + tables)
        (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
        # Keep a reader on each database, so no closing connection can checkpoint and
        # delete the WAL files: what was written must still be there to be searched.
        readers = [sqlite3.connect(db) for db in sorted((home / "data").glob("*.db"))]
        for reader in readers:
            reader.execute("SELECT count(*) FROM sqlite_master").fetchone()

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        outputs = [cli("outlets", "check"), cli("outlets", "check", "--json")]
        outputs.append(cli("items", "publish", str(tmp_path / "item.md")))
        assert outputs[-1].exit_code == 0, outputs[-1].output
        # Failures first: a 410 from the webhook, a bad-key answer from WeCom (whose
        # message names the key, masked), a signature refusal from DingTalk.
        wecom.script(canaries["CANARY_WECOM"], Reply(errcode=93000))
        # The 网格员's robot refuses once too (the message masks the key).
        wecom.script(canaries["CANARY_GRID"], Reply(errcode=93000))
        ding.script(
            canaries["CANARY_DING_TOKEN"],
            Reply(errcode=310000, errmsg="sign not match"),
        )
        # WeChat refuses the server's IP, naming it (as WeChat does).
        wechat.script(
            "stable_token",
            Reply(errcode=40164, errmsg="invalid ip 10.1.2.3, not in whitelist"),
        )
        outputs.append(cli("sync"))
        assert outputs[-1].exit_code == 1
        outputs += [cli("status", "--json"), cli("status"), cli("log", "--json")]
        outputs.append(cli("retry"))
        outputs.append(cli("sync"))
        time.sleep(1.1)  # WeChat's first check is due (first_check_seconds = 1)
        outputs.append(cli("sync"))
        outputs += [
            cli("status", "--json"),
            cli("status", "--check", "--json"),
            cli("log", "--json"),
            cli("audit", "checkpoint"),
            cli("audit", "pubkey"),
            cli("audit", "verify", "--json"),
            cli("audit", "export", str(home / "export")),
            cli("audit", "consistency", "--json"),
        ]
        assert len(wecom.messages(canaries["CANARY_WECOM"])) == 1
        # The task (text and card), then a reminder (after about a second).
        told = [m["msgtype"] for m in wecom.messages(canaries["CANARY_GRID"])]
        assert told[:2] == ["text", "image"]
        assert len(told) >= 3
        assert len(ding.messages(canaries["CANARY_DING_TOKEN"])) == 1
        assert len(hits) == 2
        assert len(wechat.calls("freepublish/submit")) == 1
        assert wechat.calls("freepublish/get")  # confirmed, and read back by --check
        tokens = list(wechat.tokens)
    assert tokens
    # Access tokens are credentials too: none may be kept or shown either.
    for n, token in enumerate(tokens):
        forms[f"wechat access token {n}"] = encodings(token)

    # The audit signing key is a secret too: its seed must be nowhere but its own file.
    key_file = home / "keys" / "audit-signing.key"
    seed = key_file.read_text().strip().split("+", 4)[4]  # base64 may hold "+"
    forms["audit signing key"] = encodings(seed) | {
        base64.b64decode(seed)[1:].hex().encode(),
        base64.b64encode(base64.b64decode(seed)[1:]),
    }
    contents = {}
    for path in home.rglob("*"):
        if path == key_file:
            continue
        try:
            contents[path] = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue
    kept = list(contents)
    for reader in readers:
        reader.close()
    assert any(p.name.endswith("-wal") and contents[p] for p in kept)
    shown = (
        "".join(o.stdout + o.stderr for o in outputs).encode() + caplog.text.encode()
    )
    assert b"93000" in shown  # the failures really happened and were reported
    assert "IP白名单".encode() in shown
    for name, variants in forms.items():
        for path in kept:
            if path.name == "syndicate.toml":
                continue  # it holds ${ENV} references only; checked below
            data = contents[path]
            leaked = [v for v in variants if v in data]
            assert not leaked, f"{name} is in {path.relative_to(home)}"
        leaked = [v for v in variants if v in shown]
        assert not leaked, f"{name} is in the output or the logs"
    written = (home / "syndicate.toml").read_text("utf-8")
    assert not any(value in written for value in canaries.values())
