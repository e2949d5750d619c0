"""`syndicate repair`: outlet files written back from the log, recorded as events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import Result

from tests.test_outlet_files import LIST_REF, REF, Cli, file_rows, make_home

OUTLETS = """
[outlets.archive]
kind = "directory"
path = "out/archive"

[outlets.portal]
kind = "portal"
channel = "portal"
path = "out/portal"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"

[outlets.kiosk]
kind = "kiosk"
channel = "kiosk"
path = "out/kiosk"
"""


def events(home: Path) -> int:
    with sqlite3.connect(home / "data" / "deliveries.db") as db:
        count: int = db.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    return count


def repaired_events(home: Path) -> list[dict[str, object]]:
    with sqlite3.connect(home / "data" / "deliveries.db") as db:
        found = db.execute(
            "SELECT state FROM stored_events WHERE topic = ?",
            ("syndicate.Delivery.Repaired",),
        ).fetchall()
    return [json.loads(bytes(state)) for (state,) in found]


def _home(tmp_path: Path) -> tuple[Path, Cli]:
    home, cli = make_home(tmp_path, OUTLETS)
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    assert cli("audit", "consistency").exit_code == 0
    return home, cli


def _spoil(home: Path) -> dict[str, bytes]:
    """Change files on every outlet; the bytes they had, by path under out/."""
    out = home / "out"
    before: dict[str, bytes] = {}

    def keep(path: Path) -> None:
        before[path.relative_to(out).as_posix()] = path.read_bytes()

    pages = sorted((out / "portal" / "items").glob("*.html"))
    for page in pages:
        keep(page)
    pages[0].write_bytes(pages[0].read_bytes() + "<p>广告</p>".encode())
    month = next(
        p
        for p in (out / "portal" / "list" / "all").glob("*.html")
        if p.name != "index.html"
    )
    keep(month)
    month.unlink()
    attachment = next((out / "portal" / "files").glob("*/*"))
    keep(attachment)
    attachment.write_bytes(b"forged")
    keep(out / "portal" / ".well-known" / "syndicate-audit" / "checkpoint.txt")
    (out / "portal" / ".well-known" / "syndicate-audit" / "checkpoint.txt").unlink()
    keep(out / "feeds" / "feed.xml")
    (out / "feeds" / "feed.xml").write_text("<rss/>", "utf-8")
    keep(out / "kiosk" / "manifest.json")
    (out / "kiosk" / "manifest.json").unlink()
    document = next((out / "archive").glob("*.json"))
    keep(document)
    document.write_text("{}", "utf-8")
    (out / "portal" / "promo.html").write_text("<html>假通知</html>", "utf-8")
    return before


def test_repair_rewrites_from_the_log_records_it_and_is_harmless_twice(
    tmp_path: Path,
) -> None:
    home, cli = _home(tmp_path)
    before = _spoil(home)
    broken = cli("audit", "consistency", "--json")
    assert broken.exit_code == 1
    assert len(file_rows(broken)) == 8
    logged = events(home)

    first = cli("repair")
    assert first.exit_code == 1, first.output  # the extra page is left: exit 1
    assert "portal: extra promo.html (left; --delete-extra deletes it)" in first.stdout
    assert "7 file(s) repaired on 4 outlet(s)" in first.stdout
    out = home / "out"
    for relative, data in before.items():
        assert (out / relative).read_bytes() == data, relative
    assert (out / "portal" / "promo.html").exists()
    left = cli("audit", "consistency", "--json")
    assert left.exit_code == 1
    assert set(file_rows(left)) == {("portal", "promo.html")}

    # Recorded: one event per delivery the files belong to, none elsewhere.
    recorded = repaired_events(home)
    assert len(recorded) == events(home) - logged >= 5
    rewritten = {p for e in recorded for p in e["rewritten"]}  # type: ignore[attr-defined]
    assert "feed.xml" in rewritten
    assert "manifest.json" in rewritten
    assert {e["actor"] for e in recorded} == {"审计员"}
    trail = cli("audit", "trail", LIST_REF, "--json")
    assert trail.exit_code == 0, trail.output
    assert any(
        r["event"] == "Repaired" and "files/" in (r["detail"] or "")
        for r in json.loads(trail.stdout)
    )

    cleaned = cli("repair", "--outlet", "portal", "--delete-extra")
    assert cleaned.exit_code == 0, cleaned.output
    assert "portal: deleted extra promo.html" in cleaned.stdout
    assert not (out / "portal" / "promo.html").exists()
    assert cli("audit", "consistency").exit_code == 0
    assert cli("status", "--check").exit_code == 0

    # Twice is harmless: nothing to do, nothing recorded.
    logged = events(home)
    again = cli("repair", "--delete-extra")
    assert again.exit_code == 0, again.output
    assert "nothing to repair on 4 outlet(s)" in again.stdout
    assert events(home) == logged

    # The repair events are covered by the signed log like any other.
    assert cli("audit", "checkpoint").exit_code == 0
    verified = cli("audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["uncovered"] == 0


def test_a_tampered_repair_event_fails_verify(tmp_path: Path) -> None:
    home, cli = _home(tmp_path)
    _spoil(home)
    assert cli("repair", "--delete-extra").exit_code == 0
    assert cli("audit", "checkpoint").exit_code == 0
    assert cli("audit", "verify").exit_code == 0
    with sqlite3.connect(home / "data" / "deliveries.db") as db:
        changed = db.execute(
            "UPDATE stored_events SET state = CAST(REPLACE(CAST(state AS TEXT), "
            "'审计员', '某人') AS BLOB) WHERE topic = 'syndicate.Delivery.Repaired'"
        ).rowcount
    assert changed >= 1
    verified = cli("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stdout.startswith("FAIL altered: ")


def test_repair_of_one_item_touches_only_its_files(tmp_path: Path) -> None:
    home, cli = _home(tmp_path)
    _spoil(home)
    done = cli("repair", REF, "--json")
    assert done.exit_code == 0, done.output
    results = {r["outlet"]: r for r in json.loads(done.stdout)}
    portal = results["portal"]["rewritten"]
    assert len(portal) == 1
    assert next(iter(portal)).startswith("items/")
    assert results["feeds"]["rewritten"] == {}  # the whole feed is no one item's
    left = file_rows(cli("audit", "consistency", "--json"))
    assert ("portal", "promo.html") in left
    assert not any(path.startswith("items/") for _, path in left)


def test_bad_input_exits_2_and_leaves_the_log_unchanged(tmp_path: Path) -> None:
    home, cli = _home(tmp_path)
    _spoil(home)
    logged = events(home)
    page = next((home / "out" / "portal" / "items").glob("*.html")).read_bytes()

    def refused(result: Result, *words: str) -> None:
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        for word in words:
            assert word in result.stderr

    refused(cli("repair", "--outlet", "nowhere"), "--outlet", "nowhere")
    refused(cli("repair", "临溪县民政局/11330100MB0000006R/2099-99999"), "REF")
    refused(cli("repair", "not a ref at all"), "REF")
    assert events(home) == logged
    assert next((home / "out" / "portal" / "items").glob("*.html")).read_bytes() == page
    helped = cli("repair", "--help")
    assert "Example: syndicate repair --outlet portal --delete-extra" in helped.stdout
    assert "syndicate retry" in helped.stdout


def test_repair_never_writes_through_a_linked_folder(tmp_path: Path) -> None:
    home, cli = _home(tmp_path)
    items = home / "out" / "portal" / "items"
    elsewhere = tmp_path / "elsewhere"
    items.rename(elsewhere)
    target = tmp_path / "target"
    target.mkdir()
    items.symlink_to(target)
    done = cli("repair", "--outlet", "portal")
    assert done.exit_code == 1
    assert "items is a symbolic link" in done.stdout
    assert not any(target.iterdir())  # nothing written through the link
    fixed = cli("repair", "--outlet", "portal", "--delete-extra")
    assert fixed.exit_code == 0, fixed.output
    assert (home / "out" / "portal" / "items").is_dir()
    assert not (home / "out" / "portal" / "items").is_symlink()
    assert cli("audit", "consistency").exit_code == 0


def test_repair_waits_while_a_worker_is_delivering_to_the_outlet(
    tmp_path: Path,
) -> None:
    """A live claim means a worker may be writing the folder right now, ahead of the
    log: repairing from the log could put back what it just replaced."""
    from datetime import timedelta

    from syndicate.domain.content import ItemContent
    from syndicate.domain.deliveries import Delivery, DeliveryState
    from syndicate.project import Project

    home, cli = _home(tmp_path)
    page = next((home / "out" / "portal" / "items").glob("*.html"))
    spoilt = page.read_bytes() + "<p>广告</p>".encode()
    page.write_bytes(spoilt)
    project = Project.load(home)
    with project.disclosures() as items, project.deliveries(items) as deliveries:
        first = next(iter(items.items_as_of(items.position())))[0]
        data = first.content.model_dump()
        data["index_no"] = "11330100MB0000006R/2026-09999"
        items.publish(ItemContent.model_validate(data), actor="t")
        deliveries.plan()
        [pending] = [
            d
            for d in deliveries.all_deliveries().values()
            if d.outlet == "portal" and d.state is DeliveryState.PLANNED
        ]
        claimed = deliveries.delivery(pending.id)
        claimed.record(
            Delivery.Claimed,
            at=items.clock(),
            worker="elsewhere",
            attempt=1,
            expires_at=items.clock() + timedelta(minutes=10),
        )
        deliveries.save(claimed)
    logged = events(home)
    busy = cli("repair", "--outlet", "portal")
    assert busy.exit_code == 1, busy.output
    assert "a worker is delivering to portal now" in busy.stdout
    assert page.read_bytes() == spoilt  # left alone
    assert events(home) == logged  # nothing recorded
