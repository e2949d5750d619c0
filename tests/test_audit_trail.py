"""`syndicate audit trail`: every event about one item, from both logs, in time order."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.noticeboard import NoticeboardAdapter, NoticeboardSettings
from typer.testing import CliRunner, Result

from syndicate.audit.trail import compact_receipt, trail
from syndicate.cli import app
from syndicate.delivery import Worker
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import ITEM_FILE, content

SITE = "https://www.linxi.gov.cn"
REF = "临溪县民政局/11330100MB0000006R/2026-00019"
HEX64 = re.compile(r"[0-9a-f]{64}")

OUTLETS = f"""
[outlets.archive]
kind = "directory"
path = "out"

[outlets.portal]
kind = "portal"
channel = "portal"
path = "site"
site_url = "{SITE}"
site_name = "临溪县人民政府"
site_id_code = "3301000001"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "feeds"
site_url = "{SITE}"
site_name = "临溪县人民政府"
"""


class Home:
    """A syndicate home with a folder, a portal and a feed, driven by the CLI."""

    def __init__(
        self, tmp_path: Path, environ: dict[str, str], outlets: str = OUTLETS
    ) -> None:
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.environ = {"SYNDICATE_ACTOR": "运维", **environ}
        self.runner = CliRunner(env=self.environ)
        assert self("init", "--no-review").exit_code == 0
        with (self.home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write(outlets)

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        return result

    def ok(self, *args: str | Path) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    def item(self, name: str, text: str = ITEM_FILE) -> Path:
        path = self.tmp / name
        path.write_text(text, "utf-8")
        return path

    def snapshot(self) -> tuple[Any, Any]:
        """Every stored event of both logs, to prove a command wrote nothing."""
        project = Project.load(self.home, environ=self.environ)
        with project.disclosures() as items, project.deliveries(items, outlets={}) as d:
            rows = [
                (n.id, n.topic, bytes(n.state))
                for n in d.recorder.select_notifications(0, 1_000_000)
            ]
            return log_snapshot(items), rows

    def trail(self, ref: str = REF) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(
            self.ok("audit", "trail", ref, "--json").stdout
        )
        return rows


def test_trail_shows_publish_plan_succeed_on_each_outlet_in_order(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    h = Home(tmp_path, environ)
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    # Another item later (published together, the feed's first set would be replaced
    # by the second before it is written: superseded, not sent).
    other = h.item("other.md", ITEM_FILE.replace("2026-00019", "2026-00020"))
    h.ok("items", "publish", other)
    h.ok("sync")
    shown = json.loads(h.ok("items", "show", REF, "--json").stdout)

    rows = h.trail()
    first = rows[0]
    assert (first["log"], first["event"], first["actor"], first["version"]) == (
        "items",
        "Published",
        "运维",
        1,
    )
    assert first["content_sha256"] == shown["content_hash"]
    times = [datetime.fromisoformat(r["time"]) for r in rows]
    assert times == sorted(times)
    assert all(t.utcoffset() == timedelta(hours=8) for t in times)
    deliveries = [r for r in rows if r["log"] == "deliveries"]
    assert {r["outlet"] for r in deliveries} == {"archive", "portal", "feeds"}
    # Only this item's deliveries: the other item's are not in its trail.
    assert len({r["delivery_id"] for r in deliveries}) == 3
    for outlet in ("archive", "portal", "feeds"):
        mine = [r for r in deliveries if r["outlet"] == outlet]
        assert [r["event"] for r in mine] == ["Planned", "Claimed", "Succeeded"]
        planned, claimed, succeeded = mine
        assert planned["actor"] == "planner"
        assert "operation=publish" in planned["detail"]
        assert claimed["actor"] == succeeded["actor"]
        assert claimed["actor"].startswith("sync@")
        assert (claimed["attempt"], succeeded["attempt"]) == (1, 1)
        assert HEX64.fullmatch(succeeded["rendition_sha256"])
        assert succeeded["receipt"]
        assert planned["position"] < claimed["position"] < succeeded["position"]
        assert planned["content_sha256"] is None

    h.ok(
        "items",
        "revise",
        REF,
        h.item("v2.md", ITEM_FILE.replace("47户73人", "47户74人")),
        "--reason",
        "更正人数",
    )
    h.ok("sync")
    rows = h.trail()
    revised = [r for r in rows if r["event"] == "Revised"]
    assert len(revised) == 1
    assert revised[0]["detail"] == "更正人数"
    assert revised[0]["content_sha256"] != first["content_sha256"]
    after = rows[rows.index(revised[0]) + 1 :]
    assert {(r["outlet"], r["version"]) for r in after} == {
        ("archive", 2),
        ("portal", 2),
        ("feeds", 2),
    }
    assert {r["detail"] for r in after if r["event"] == "Planned"} == {
        "operation=update item_position=3"
    }

    # CSV: a header row, then the same rows; receipts compact.
    text = h.ok("audit", "trail", REF, "--csv").stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == len(rows)
    assert list(table[0]) == [
        "time",
        "log",
        "position",
        "event",
        "actor",
        "version",
        "outlet",
        "delivery_id",
        "attempt",
        "receipt",
        "content_sha256",
        "rendition_sha256",
        "detail",
    ]
    for line, row in zip(table, rows, strict=True):
        assert line["event"] == row["event"]
        assert line["time"] == row["time"]
        assert line["rendition_sha256"] == (row["rendition_sha256"] or "")
        assert line["receipt"] == compact_receipt(row["receipt"])

    # Text: a table in China time, by the id prefix too.
    result = h.ok("audit", "trail", shown["id"][:8])
    assert f"{REF} ({shown['id']})" in result.stdout
    assert "Published" in result.stdout
    assert "Succeeded" in result.stdout
    assert "planner" in result.stdout
    assert first["time"][:19].replace("T", " ") in result.stdout


def test_trail_refuses_unknown_or_bad_refs_and_writes_nothing(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    h = Home(tmp_path, environ)
    h.ok("items", "publish", h.item("item.md"))
    h.ok("sync")
    before = h.snapshot()
    for args, code, fragment in (
        (["临溪县民政局/nope"], 1, "no item 临溪县民政局/nope"),
        (["ffffffff-ffff-5fff-8fff-ffffffffffff"], 1, "no item"),
        (["abcdef12"], 1, "no item abcdef12"),
        (["nonsense"], 2, "REF"),
        ([REF, "--json", "--csv"], 2, "--json/--csv"),
    ):
        result = h("audit", "trail", *args)
        assert result.exit_code == code, (args, result.output)
        assert fragment in result.stderr, (args, result.output)
        assert result.stderr.startswith("error: "), result.stderr
        assert result.stdout == ""
    h.ok("audit", "trail", REF)
    assert h.snapshot() == before


def test_trail_names_failures_attestations_and_their_actors(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """On the library: a failed attempt, a printed sheet, and who posted it."""
    clock = FixedClock()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be", "utf-8")
    outlets = {
        "archive": Outlet(
            name="archive",
            kind="directory",
            channel=None,
            filter=OutletFilter(),
            settings=DirectorySettings(path=blocked),
            adapter_class=DirectoryAdapter,
        ),
        "board": Outlet(
            name="board",
            kind="noticeboard",
            channel=None,
            filter=OutletFilter(),
            settings=NoticeboardSettings(path=tmp_path / "sheets", portal_url=SITE),
            adapter_class=NoticeboardAdapter,
        ),
    }
    with (
        sqlite_project.disclosures(clock=clock) as items,
        sqlite_project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        change = items.publish(content(), actor="张三")
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w1", clock=clock)
        outcomes = worker.run_until_idle().outcomes
        assert outcomes == {"retrying": 1, "awaiting_attestation": 1}
        [sheet] = [
            d for d in deliveries.all_deliveries().values() if d.outlet == "board"
        ]
        clock.advance(hours=1)
        fresh = deliveries.delivery(sheet.id)
        fresh.attest(
            actor="运维",
            by="张敏",
            posted_at=clock() - timedelta(minutes=30),
            at=clock(),
            note="村委会门口",
        )
        deliveries.save(fresh)
        rows = trail(items, deliveries, change.item_id)
    events = [(r.outlet, r.event, r.actor) for r in rows]
    assert events[0] == (None, "Published", "张三")
    assert ("archive", "Failed", "w1") in events
    assert ("board", "AwaitingAttestation", "w1") in events
    assert events[-1] == ("board", "Attested", "张敏")
    attested = rows[-1]
    assert attested.detail is not None
    assert "recorded by 运维" in attested.detail
    assert "posted at 2026-10-09T10:00:00+08:00" in attested.detail
    [failed] = [r for r in rows if r.event == "Failed"]
    assert failed.attempt == 1
    assert failed.detail is not None
    assert "TransientDeliveryError" in failed.detail
    assert "retry at" in failed.detail
    [awaiting] = [r for r in rows if r.event == "AwaitingAttestation"]
    assert awaiting.receipt is not None
    assert "file" in awaiting.receipt
    assert awaiting.rendition_sha256 == sheet.rendition_sha256


@pytest.mark.parametrize(
    ("receipt", "text"),
    [
        (None, ""),
        ({}, ""),
        ({"pages": "3", "remote_id": "a/b.html"}, "remote_id=a/b.html pages=3"),
        ({"b": "2", "a": "1"}, "a=1 b=2"),
    ],
)
def test_compact_receipt(receipt: dict[str, str] | None, text: str) -> None:
    assert compact_receipt(receipt) == text
