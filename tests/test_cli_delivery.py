"""`syndicate sync | status | retry | resolve` against a loopback webhook and a folder."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.engine import Engine
from syndicate.project import Project
from syndicate.testing import LoopbackServer, log_snapshot
from tests.conftest import ITEM_FILE

SECRET = "whsec_" + base64.b64encode(b"c" * 32).decode()


class Receiver:
    def __init__(self) -> None:
        self.status = 200
        self.ids: list[str] = []

    def __call__(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.ids.append(request.headers["webhook-id"])
        return self.status, {}, b""


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def setup_home(
    tmp_path: Path, url: str, environ: dict[str, str]
) -> tuple[CliRunner, Path]:
    home = tmp_path / "home"
    runner = CliRunner(env={"CMS_SECRET": SECRET, "SYNDICATE_ACTOR": "运维", **environ})
    assert (
        runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code == 0
    )
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            f"""
[outlets.archive]
kind = "directory"
path = "out"

[outlets.cms]
kind = "webhook"
channel = "portal"
url = "{url}/hook"
secret = "${{CMS_SECRET}}"
allow_private_network = true  # the receiver is on 127.0.0.1
"""
        )
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    return runner, home


def test_sync_status_retry(
    tmp_path: Path, receiver: Receiver, environ: dict[str, str]
) -> None:
    with LoopbackServer(receiver) as server:
        runner, home = setup_home(tmp_path, server.url, environ)

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
        receiver.status = 410
        failed = cli("sync")
        assert failed.exit_code == 1
        assert "1 failed" in failed.stderr
        rows = json.loads(cli("status", "--json").stdout)
        by_outlet = {r["outlet"]: r for r in rows}
        assert by_outlet["archive"]["state"] == "succeeded"
        assert by_outlet["archive"]["live_version"] == 1
        assert by_outlet["cms"]["state"] == "failed"
        assert "410" in by_outlet["cms"]["last_error"]
        again = cli("sync")
        assert again.exit_code == 0  # nothing due: the failed one waits
        receiver.status = 200
        retried = cli("retry", "--outlet", "cms")
        assert "queued 1" in retried.stdout
        assert cli("sync").exit_code == 0
        rows = json.loads(cli("status", "--json").stdout)
        assert {r["outlet"]: r["state"] for r in rows} == {
            "archive": "succeeded",
            "cms": "succeeded",
        }
        # Once it succeeded, the failure before it is history, not the row's news.
        assert {r["outlet"]: r["last_error"] for r in rows} == {
            "archive": None,
            "cms": None,
        }
        assert "410" not in cli("status").stdout
        # Both attempts carried the same webhook-id: receivers deduplicate on it.
        assert len(receiver.ids) == 2
        assert len(set(receiver.ids)) == 1
        text = cli("status").stdout
        assert "cms" in text
        assert "succeeded" in text


def test_resolve_needs_an_unconfirmed_delivery(
    tmp_path: Path, receiver: Receiver
) -> None:
    with LoopbackServer(receiver) as server:
        runner, home = setup_home(tmp_path, server.url, {})
        runner.invoke(
            app, ["--home", str(home), "items", "publish", str(tmp_path / "item.md")]
        )
        runner.invoke(app, ["--home", str(home), "sync"])
        rows = json.loads(
            runner.invoke(app, ["--home", str(home), "status", "--json"]).stdout
        )
        done = rows[0]["delivery_id"]
        result = runner.invoke(
            app, ["--home", str(home), "resolve", done[:8], "--sent"]
        )
        assert result.exit_code == 2
        assert "only unconfirmed ones resolve" in result.stderr
        missing = runner.invoke(
            app, ["--home", str(home), "resolve", "ffffffff", "--sent"]
        )
        assert missing.exit_code == 1


def test_demo_delivers_to_every_outlet_and_status_shows_latest_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in (
        "SYNDICATE_DEMO_WEBHOOK_SECRET",
        "SYNDICATE_DEMO_WECOM_KEY",
        "SYNDICATE_DEMO_DINGTALK_TOKEN",
        "SYNDICATE_DEMO_DINGTALK_SECRET",
        "SYNDICATE_DEMO_WECHAT_SECRET",
    ):
        monkeypatch.delenv(variable, raising=False)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "signed POSTs received" in result.stdout
    status = CliRunner().invoke(app, ["--home", "syndicate-demo", "status", "--json"])
    rows = json.loads(status.stdout)
    project = Project.load(tmp_path / "syndicate-demo", environ={})
    with project.disclosures() as items:
        latest = {str(s.id): s.status.value for s in items.items()}
        log = list(items.read_log())
    # What outlets may show: the versions released (after review, or urgently).
    releases = {
        (str(r.item_id), r.version)
        for r in log
        if r.event in ("Released", "UrgentlyReleased", "Erased", "Repealed")
    }
    public = {str(i): v for i, v in sorted(releases, key=lambda pair: pair[1])}
    # The 12 examples but the 2 waiting for their time, the urgent item, the 临时救助
    # list, the revised plan that replaced a repealed one, and the two 规范性文件 of last
    # month's 政府公报 issue, and the 政府信息公开 section's 指南 and 标准目录 page.
    assert len(public) == 12 - 2 + 3 + 2 + 2
    erased = next(str(r.item_id) for r in log if r.event == "Erased")
    assert {r["outlet"] for r in rows} == {
        "archive",
        "county-platform",
        "review-desk",
        "portal",
        "feeds",
        "kiosk-hall",
        "village-board",
        "liutang-village",
        "qingshi-township",
        "linxi-wechat",
        "qingshi-relay-liutang",
        "qingshi-relay-dongzhuang",
        "linxi-weibo",
        "screen-hall",
        "gazette",
    }
    # No public outlet was ever sent a version that was not released: every delivery
    # planned, delivered or superseded (the review desk gets notices, not items).
    with Engine(project) as engine:
        planned = engine.deliveries.all_deliveries().values()
        public_deliveries = [d for d in planned if d.outlet != "review-desk"]
        assert public_deliveries
        for delivery in public_deliveries:
            assert (str(delivery.item_id), delivery.item_version) in releases
        notices = [d for d in planned if d.outlet == "review-desk"]
        assert {d.operation for d in notices} == {"review_notice"}
    # 12 examples, the revised plan and its approval at the first level (delivered
    # before the second, as the demo syncs only at the end of its story).
    # (and the two 规范性文件's releases, each its one 已发布: the earlier notices were
    # superseded before the first sync, as the desk shows only the latest; and the
    # 政府信息公开指南 and the 标准目录 page, released after review, each its 已发布).
    desk = next(line for line in result.stdout.splitlines() if "review-desk" in line)
    assert "14 待审核" in desk
    assert "1 已退回" in desk
    assert "16 已发布" in desk
    assert "1 紧急发布" in result.stdout
    for row in rows:
        if row["outlet"] == "review-desk":
            assert row["state"] == "succeeded"
            continue
        if row["item_id"] == erased:
            # Shown again without the list (or taken down); the groups keep the
            # message they got, which `status` says cannot be recalled.
            groups = (
                "liutang-village",
                "qingshi-township",
                # A village group's task went to its 网格员 before the erasure.
                "qingshi-relay-liutang",
                "qingshi-relay-dongzhuang",
            )
            assert (row["not_recalled"] is not None) == (row["outlet"] in groups)
            continue
        version, state = public[row["item_id"]], latest[row["item_id"]]
        assert row["version"] == version
        if row["outlet"] == "village-board" and row["operation"] == "retract":
            # The repealed plan (and its 解读): a take-down of a sheet never posted
            # needs nobody; one posted would wait for a person.
            assert row["state"] in ("succeeded", "awaiting_attestation")
            continue
        if row["outlet"] == "village-board":  # printed sheets wait for a person
            assert row["state"] == "awaiting_attestation"
            assert row["live_version"] is None
            continue
        if row["outlet"].startswith("qingshi-relay-"):
            # 王芳 confirmed forwarding to her group; 李强's tasks wait. A withdrawal
            # or take-down of what was never forwarded asks nobody (succeeded).
            waiting = row["outlet"].endswith("dongzhuang")
            removal = row["operation"] in ("retract", "withdrawal_notice")
            allowed = {"superseded", "succeeded"} if removal else {"superseded"}
            allowed |= {"awaiting_attestation"} if waiting else {"attested"}
            assert row["state"] in allowed, row
            continue
        if row["state"] == "superseded":  # whole-set outlets: a later set replaced it
            continue
        assert row["state"] == "succeeded"
        assert row["live_version"] == ("withdrawn" if state == "withdrawn" else version)
    for outlet in ("portal", "feeds", "kiosk-hall"):
        assert any(r["outlet"] == outlet and r["state"] == "succeeded" for r in rows), (
            outlet
        )
    assert "messages received by the demo's WeCom robot" in result.stdout
    assert "messages received by the demo's DingTalk robot" in result.stdout
    # WeChat confirmed every article the demo submitted (none left `submitted`).
    # Deleted: the withdrawn item's article and the erased list's.
    assert "articles published by the demo's WeChat API (2 deleted" in result.stdout
    assert {r["state"] for r in rows if r["outlet"] == "linxi-wechat"} == {"succeeded"}
    # The demo ends like a real run: a signed checkpoint, a clean verify and a clean
    # consistency check.
    assert "checkpoint #1: " in result.stdout
    assert "verify: OK" in result.stdout
    assert "consistency: OK" in result.stdout
    verified = CliRunner().invoke(app, ["--home", "syndicate-demo", "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    portal = tmp_path / "syndicate-demo" / "outlets" / "portal"
    assert (portal / ".well-known" / "syndicate-audit" / "checkpoint.txt").is_file()
    assert "serve" in result.stdout
    assert "attest" in result.stdout
    # Everything on the file outlets is exactly what the log says it should be.
    check = CliRunner().invoke(
        app, ["--home", "syndicate-demo", "status", "--check", "--json"]
    )
    assert check.exit_code == 0, check.output
    verdicts = {(r["outlet"], r["on_outlet"]) for r in json.loads(check.stdout)}
    pushed = {
        "county-platform",
        "review-desk",
        "liutang-village",
        "qingshi-township",
        "linxi-wechat",
        "qingshi-relay-liutang",
        "qingshi-relay-dongzhuang",
        "linxi-weibo",
    }
    assert {v for o, v in verdicts if o not in pushed} == {"in sync"}
    assert {v for o, v in verdicts if o in pushed} == {"cannot read back"}
    page = next(
        (tmp_path / "syndicate-demo" / "outlets" / "portal" / "items").iterdir()
    )
    page.write_text(page.read_text("utf-8").replace("</h1>", "（改）</h1>"), "utf-8")
    check = CliRunner().invoke(app, ["--home", "syndicate-demo", "status", "--check"])
    assert check.exit_code == 1
    assert "drifted" in check.stdout
    check = CliRunner().invoke(
        app, ["--home", "syndicate-demo", "status", "--check", "--json"]
    )
    assert check.exit_code == 1  # scripts see the drift too
    assert "drifted" in {r["on_outlet"] for r in json.loads(check.stdout)}
    secret = "SYNDICATE_DEMO_WEBHOOK_SECRET"
    config = (tmp_path / "syndicate-demo" / "syndicate.toml").read_text("utf-8")
    assert f"${{{secret}}}" in config
    assert "whsec_" not in config


def test_the_webhook_secret_never_reaches_the_store_or_output(
    tmp_path: Path, receiver: Receiver
) -> None:
    with LoopbackServer(receiver) as server:
        runner, home = setup_home(tmp_path, server.url, {})
        outputs = [
            runner.invoke(app, ["--home", str(home), *args]).output
            for args in (
                ["items", "publish", str(tmp_path / "item.md")],
                ["outlets", "check"],
                ["sync"],
                ["status", "--json"],
                ["log", "--json"],
            )
        ]
        receiver.status = 500
        outputs.append(runner.invoke(app, ["--home", str(home), "sync"]).output)
    raw = SECRET.removeprefix("whsec_")
    canaries = [SECRET, raw, base64.b64decode(raw).decode()]
    stored = b"".join(p.read_bytes() for p in (home / "data").rglob("*") if p.is_file())
    for canary in canaries:
        assert canary.encode() not in stored
        assert all(canary not in out for out in outputs)


def test_delivery_commands_refuse_bad_input_and_write_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    with LoopbackServer(receiver) as server:
        runner, home = setup_home(tmp_path, server.url, {})

        def cli(*args: str) -> Result:
            result = runner.invoke(app, ["--home", str(home), *args])
            assert "Traceback" not in result.output, result.output
            return result

        cli("items", "publish", str(tmp_path / "item.md"))
        cli("sync")
        project = Project.load(home, environ={"CMS_SECRET": SECRET})

        def logs() -> tuple[object, object]:
            with (
                project.disclosures() as items,
                project.deliveries(items, outlets={}) as d,
            ):
                return log_snapshot(items), len(
                    list(d.recorder.select_notifications(0, 10000))
                )

        before = logs()
        cases = [
            (["status", "not-a-ref"], 2, "REF:"),
            (["status", "临溪县民政局/none"], 1, "no item"),
            (["retry", "临溪县民政局/none"], 1, "no item"),
            (["resolve", "0000", "--sent"], 1, "no delivery"),
            (["resolve", rows_id(cli)], 2, "--sent/--not-sent"),
            (["outlets", "detach", "nothing-here"], 2, "is not attached"),
            (["worker", "--poll", "0"], 2, "--poll"),
            # Every command that takes --outlet refuses one that does not exist.
            (["status", "--outlet", "nosuch"], 2, "'nosuch'"),
            (["retry", "--outlet", "nosuch"], 2, "'nosuch'"),
            (["serve", "--outlet", "nosuch"], 2, "'nosuch'"),
            (["audit", "consistency", "--outlet", "nosuch"], 2, "nosuch"),
            (
                [
                    "audit",
                    "replay",
                    "--as-of",
                    "2026-01-01",
                    "--out",
                    str(tmp_path / "replay"),
                    "--outlet",
                    "nosuch",
                ],
                2,
                "'nosuch'",
            ),
        ]
        for args, code, fragment in cases:
            result = cli(*args)
            assert result.exit_code == code, (args, result.output)
            assert fragment in result.output, (args, result.output)
        assert logs() == before


def rows_id(cli: object) -> str:
    rows = json.loads(cli("status", "--json").stdout)  # type: ignore[operator]
    return str(rows[0]["delivery_id"])[:8]


def test_status_shows_items_live_in_every_whole_set_rendition(tmp_path: Path) -> None:
    """Feeds and kiosk bundles hold every live item in each rendition: an item whose own
    rendition was replaced by a later one of the whole set is live there."""
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维"})

    def cli(*args: str) -> Result:
        result = runner.invoke(app, ["--home", str(home), *args])
        assert "Traceback" not in result.output, result.output
        return result

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            """
[outlets.feeds]
kind = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"

[outlets.kiosk]
kind = "kiosk"
path = "out/kiosk"
"""
        )
    items = tmp_path / "items"
    items.mkdir()
    for number in (19, 20, 21):
        (items / f"{number}.md").write_text(
            ITEM_FILE.replace("2026-00019", f"2026-000{number}"), "utf-8"
        )
    assert cli("items", "publish", str(items)).exit_code == 0
    assert cli("sync").exit_code == 0
    rows = json.loads(cli("status", "--json").stdout)
    assert len(rows) == 6
    for row in rows:
        assert (row["state"], row["live_version"], row["last_error"]) == (
            "succeeded",
            1,
            None,
        ), row
    # One rendition per outlet was written (the last, holding all three items); the
    # other two items' rows name it.
    carried = [r for r in rows if r["carried_by"]]
    assert len(carried) == 4
    assert {r["outlet"] for r in carried} == {"feeds", "kiosk"}
    text = cli("status").stdout
    assert "superseded" not in text
    assert "whole set: 4 row(s)" in text
    first = "临溪县民政局/11330100MB0000006R/2026-00019"
    assert cli("items", "withdraw", first, "--reason", "有误").exit_code == 0
    assert cli("sync").exit_code == 0
    rows = json.loads(cli("status", "--json").stdout)
    live = {(r["ref"][-5:], r["outlet"]): r["live_version"] for r in rows}
    assert live == {
        ("00019", "feeds"): "withdrawn",
        ("00019", "kiosk"): "withdrawn",
        ("00020", "feeds"): 1,
        ("00020", "kiosk"): 1,
        ("00021", "feeds"): 1,
        ("00021", "kiosk"): 1,
    }


FAKE_WEASYPRINT = (
    "raise OSError(\"cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot "
    'open shared object file: No such file or directory")\n'
)


def test_demo_without_pango_serves_every_other_outlet_and_says_so_once(
    tmp_path: Path,
) -> None:
    """WeasyPrint without Pango fails on import with OSError; the demo goes on."""
    fake = tmp_path / "fake" / "weasyprint"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_WEASYPRINT, "utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SYNDICATE_", "PYTHONPATH"))
    }
    env["PYTHONPATH"] = str(tmp_path / "fake")
    result = subprocess.run(
        [sys.executable, "-m", "syndicate", "--home", str(tmp_path / "d"), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    board = [line for line in lines if "village-board" in line]
    assert len(board) == 1, board  # said once, not once per sheet
    [line] = board
    assert re.match(r"  village-board +not served: ", line), line
    assert "Pango" in line or "pango" in line
    assert len(line) < 600
    assert "consistency: OK" in result.stdout
    assert "signed POSTs received" in result.stdout  # the other outlets were served


def test_demo_fails_clearly_when_an_outlet_fails_for_another_reason(
    tmp_path: Path,
) -> None:
    """Any failure other than a missing system library still fails the demo."""
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "sitecustomize.py").write_text(
        "import syndicate_adapters.noticeboard as n\n"
        "from syndicate.errors import PermanentDeliveryError\n"
        "def broken(*args, **kwargs):\n"
        "    raise PermanentDeliveryError('printer on fire', code='EIO')\n"
        "n.render_pdf = broken\n",
        "utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SYNDICATE_", "PYTHONPATH"))
    }
    env["PYTHONPATH"] = str(tmp_path / "fake")
    result = subprocess.run(
        [sys.executable, "-m", "syndicate", "--home", str(tmp_path / "d"), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    # The first outlet named: the 政府公报 draws its PDF with the same function.
    assert "village-board" in errors[0] or "gazette" in errors[0]
    assert "printer on fire" in errors[0]
