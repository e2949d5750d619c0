"""A secret canary for the 政务微博 outlet: the access token is a random value, the outlet
is driven through successes and failures from the command line (a token Weibo refuses
and echoes back, an expired token, a rate limit, a deletion Weibo refuses), a post is
read back with the token in the query string, and then every byte syndicate kept or
showed is searched for the token — raw, base64, hex and URL-encoded. Zero hits.

Searched: the home's files (the SQLite databases with their WAL files, kept alive by
open readers; syndicate.toml; the audit export), the output of every command (the JSON
exports of `log`, `status` and `outlets check` included) and every log record at DEBUG.
"""

from __future__ import annotations

import base64
import logging
import secrets
import sqlite3
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests
from syndicate_adapters.weibo import WeiboAdapter, WeiboSettings
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.testing.fakes import Reply, toml_table
from syndicate.testing.weibo import WeiboServer
from tests.conftest import ITEM_FILE, ITEM_FRONT

PORTAL = "https://www.linxi.gov.cn"
REF = "临溪县民政局/11330100MB0000006R/2026-00019"


def encodings(secret: str) -> set[bytes]:
    """The forms a leaked secret could take."""
    raw = secret.encode()
    return {
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        quote(secret, safe="").encode(),
        quote_plus(secret).encode(),
    }


def test_the_weibo_token_is_never_kept_or_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="markdown_it")
    caplog.set_level(logging.DEBUG)
    token = "2.00" + secrets.token_hex(16)
    forms = encodings(token)
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", "CANARY_WEIBO": token})
    outputs: list[Result] = []

    def cli(*args: str) -> Result:
        result = runner.invoke(app, ["--home", str(home), *args])
        outputs.append(result)
        return result

    with WeiboServer(tokens=[token]) as weibo:
        assert cli("init", "--no-review").exit_code == 0
        table = weibo.outlet_table("CANARY_WEIBO", portal_url=PORTAL, timeout=5)
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + toml_table("linxi-weibo", table))
        (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
        # Keep a reader on each database, so no closing connection can checkpoint and
        # delete the WAL files: what was written must still be there to be searched.
        readers = [sqlite3.connect(db) for db in sorted((home / "data").glob("*.db"))]
        for reader in readers:
            reader.execute("SELECT count(*) FROM sqlite_master").fetchone()

        cli("outlets", "check")
        cli("outlets", "check", "--json")
        assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
        # Weibo refuses the token and (as a hostile server might) says it back.
        weibo.script(
            "share", Reply(errcode=21332, errmsg=f"invalid_access_token: {token}")
        )
        assert cli("sync").exit_code == 1
        cli("status", "--json")
        cli("status")
        cli("log", "--json")
        cli("retry")
        assert cli("sync").exit_code == 0
        # Revised while the token has expired: failed, renewed, retried.
        weibo.expire(token)
        revised = tmp_path / "revised.md"
        revised.write_text(f"+++\n{ITEM_FRONT}+++\n经审批，新增48户75人。\n", "utf-8")
        assert (
            cli("items", "revise", REF, str(revised), "--reason", "更正人数").exit_code
            == 0
        )
        assert cli("sync").exit_code == 1
        cli("status", "--json")
        weibo.add_token(token)
        cli("retry")
        assert cli("sync").exit_code == 0
        # Withdrawn where Weibo will not delete: a 【撤回】 notice instead.
        weibo.destroy_allowed = False
        assert (
            cli(
                "items", "withdraw", REF, "--reason", "重新审核", "--note", "撤回"
            ).exit_code
            == 0
        )
        assert cli("sync").exit_code == 0
        for args in (
            ("status", "--json"),
            ("status", "--check", "--json"),
            ("log", "--json"),
            ("audit", "checkpoint"),
            ("audit", "verify", "--json"),
            ("audit", "export", str(home / "export")),
            ("audit", "consistency", "--json"),
        ):
            cli(*args)
        # `show` is the one call with the token in the URL: urllib3 logs that URL.
        ours = ("kind", "channel", "allow_private_network")
        settings = {k: v for k, v in table.items() if k not in ours}
        adapter = WeiboAdapter(
            WeiboSettings.model_validate(settings | {"access_token": token})
        )
        posts = [p.id for p in weibo.live()]
        with requests.Session() as session:
            shown = [adapter.read_post(post, session) for post in posts]
        assert all(p is not None for p in shown)
        assert [c.error_code for c in weibo.calls("share")] == [
            21332,
            None,
            21327,
            None,
            None,
        ]
        assert len(posts) == 3  # the post, the 更正, the 撤回 notice
        assert weibo.calls("show")

    contents = {}
    for path in home.rglob("*"):
        try:
            contents[path] = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue
    for reader in readers:
        reader.close()
    assert any(p.name.endswith("-wal") and contents[p] for p in contents)
    shown_text = (
        "".join(o.stdout + o.stderr for o in outputs).encode() + caplog.text.encode()
    )
    assert b"21332" in shown_text  # the failures really happened and were reported
    assert b"21327" in shown_text
    assert b"renew the access token" in shown_text
    assert b"access_token=***" in shown_text  # urllib3's line for show, redacted
    for path, data in contents.items():
        leaked = [form for form in forms if form in data]
        assert not leaked, f"the token is in {path.relative_to(home)}"
    leaked = [form for form in forms if form in shown_text]
    assert not leaked, "the token is in the output or the logs"
