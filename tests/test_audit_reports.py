"""`syndicate audit deadlines` and `syndicate audit report`, on homes built with the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicate.audit.deadlines import WorkdayCalendar, deadline_for
from syndicate.audit.facts import short_cause
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.deliveries import Delivery
from tests.conftest import ITEM_FILE
from tests.test_audit_trail import REF, SITE, Home

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
"""


def item_text(index: str, formed_on: date, extra: str = "") -> str:
    """The conftest item under another index number, formed on `formed_on`."""
    text = ITEM_FILE.replace("2026-00019", index).replace(
        "formed_on = 2026-04-10",
        f"formed_on = {formed_on.isoformat()}\n{extra}".rstrip(),
    )
    return text


def ref(index: str) -> str:
    return REF.replace("2026-00019", index)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_deadline_states_with_hand_made_formed_on_dates(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    today = datetime.now(CHINA_TZ).date()
    cal = WorkdayCalendar()
    soon = today - timedelta(days=1)
    while (
        cal.add_working_days(soon, 20) < today
        or cal.working_days_between(today, cal.add_working_days(soon, 20)) > 5
    ):
        soon -= timedelta(days=1)  # formed early enough that 5 or fewer days are left
    items = {
        "met": ("2026-10001", today - timedelta(days=1), ""),
        "late": ("2026-10002", today - timedelta(days=120), ""),
        # Only for notice boards, and none is configured: it reaches the archive
        # (channel "other"), which does not count as publication.
        "open": ("2026-10003", today - timedelta(days=1), 'channels = ["noticeboard"]'),
        "due_soon": ("2026-10004", soon, 'channels = ["noticeboard"]'),
        "not proactive": ("2026-10005", today, 'attribute = "依申请公开"'),
    }
    h = Home(tmp_path, environ, OUTLETS)
    for index, formed_on, extra in items.values():
        h.ok(
            "items",
            "publish",
            h.item(f"{index}.md", item_text(index, formed_on, extra)),
        )
    h.ok("sync")
    before = h.snapshot()

    result = h.ok("audit", "deadlines", "--today", today.isoformat(), "--json")
    data = json.loads(result.stdout)
    assert data["today"] == today.isoformat()
    assert data["public_outlets"] == ["portal"]
    got = {row["ref"]: row for row in data["items"]}
    assert ref("2026-10005") not in got  # only proactive items have the deadline
    for state, (index, formed_on, _) in items.items():
        if state == "not proactive":
            continue
        row = got[ref(index)]
        published = today if state in ("met", "late") else None
        expected = deadline_for(formed_on, published, today=today, calendar=cal)
        assert row["state"] == state, row
        assert row == {
            "item_id": row["item_id"],
            "ref": ref(index),
            "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
            **expected.as_json(),
        }
    assert got[ref("2026-10002")]["late_by"] > 0
    assert data["summary"] == {"met": 1, "late": 1, "open": 1, "due_soon": 1}
    assert [r["due"] for r in data["items"]] == sorted(r["due"] for r in data["items"])

    text = h.ok("audit", "deadlines", "--today", today.isoformat())
    assert "4 proactive item(s)" in text.stdout
    assert "1 met, 1 late, 1 open, 1 due soon" in text.stdout
    for state in ("met", "late", "open", "due_soon"):
        assert f"  {state}  " in text.stdout

    # As of a day before the publications, none of them had happened yet.
    earlier = today - timedelta(days=1)
    data = json.loads(
        h.ok("audit", "deadlines", "--today", earlier.isoformat(), "--json").stdout
    )
    met = {r["ref"]: r for r in data["items"]}[ref("2026-10001")]
    assert (met["state"], met["published_on"]) == ("open", None)

    # Years the official calendar does not cover: a warning naming --holidays, exit 0.
    late = h.ok("audit", "deadlines", "--today", "2099-06-01")
    assert "warning: 2099" in late.stderr
    assert "--holidays FILE" in late.stderr
    assert h.snapshot() == before


def test_a_first_version_revised_before_it_was_sent_still_counts(
    tmp_path: Path,
) -> None:
    """The portal never got version 1 (superseded by version 2 before it was sent):
    the item was published when version 2 went up."""
    today = datetime.now(CHINA_TZ).date()
    h = Home(tmp_path, {}, OUTLETS)
    formed = today - timedelta(days=2)
    h.ok("items", "publish", h.item("v1.md", item_text("2026-20001", formed)))
    v2 = item_text("2026-20001", formed).replace("47户73人", "47户74人")
    h.ok("items", "revise", ref("2026-20001"), h.item("v2.md", v2), "--reason", "更正")
    h.ok("sync")
    states = {
        r["outlet"]: (r["version"], r["state"])
        for r in json.loads(h.ok("status", "--json").stdout)
    }
    assert states["portal"] == (2, "succeeded")
    portal_v1 = [
        r["event"]
        for r in h.trail(ref("2026-20001"))
        if r["outlet"] == "portal" and r["version"] == 1
    ]
    assert portal_v1 == ["Planned", "Superseded"]
    data = json.loads(h.ok("audit", "deadlines", "--json").stdout)
    [row] = data["items"]
    assert (row["state"], row["published_on"]) == ("met", today.isoformat())
    assert row["formed_on"] == formed.isoformat()


def test_deadlines_refuse_bad_options(tmp_path: Path) -> None:
    h = Home(tmp_path, {}, OUTLETS)
    bad = tmp_path / "holidays.txt"
    bad.write_text("2027-01-01 maybe\n", "utf-8")
    good = tmp_path / "ok.txt"
    good.write_text("2099-06-01 off  # a made-up holiday\n", "utf-8")
    for args, fragment in (
        (["--today", "tomorrow"], "--today: invalid date 'tomorrow'"),
        (["--holidays", str(bad)], "--holidays: "),
        (["--holidays", str(bad)], "holidays.txt:1: unknown word 'maybe'"),
        (["--holidays", str(tmp_path / "none.txt")], "--holidays: cannot read"),
    ):
        result = h("audit", "deadlines", *args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.stderr, (args, result.output)
    result = h.ok("audit", "deadlines", "--holidays", good)
    assert "0 proactive item(s)" in result.stdout


def test_report_writes_html_and_csvs_with_the_expected_counts(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    outlets = OUTLETS + '\n[outlets.mirror]\nkind = "directory"\npath = "mirror"\n'
    h = Home(tmp_path, environ, outlets)
    a, b, c = ref("2026-00019"), ref("2026-00020"), ref("2026-00021")
    h.ok("items", "publish", h.item("a.md"))
    h.ok(
        "items",
        "publish",
        h.item("b.md", ITEM_FILE.replace("2026-00019", "2026-00020")),
    )
    h.ok("sync")
    # The mirror's folder becomes a file: every later write there fails.
    shutil.rmtree(h.home / "mirror")
    (h.home / "mirror").write_text("not a folder", "utf-8")
    revised = h.item("a2.md", ITEM_FILE.replace("47户73人", "47户74人"))
    h.ok("items", "revise", a, revised, "--reason", "更正人数")
    h.ok(
        "items",
        "publish",
        h.item("c.md", ITEM_FILE.replace("2026-00019", "2026-00021")),
    )
    assert h("sync").exit_code == 1
    before = h.snapshot()

    year = datetime.now(CHINA_TZ).year
    out = tmp_path / "report"
    result = h.ok("audit", "report", "--out", out, "--year", str(year))
    listed = result.stdout.split()
    assert str(out / "index.html") in listed
    assert str(out / "missing.csv") in listed
    assert all(Path(p).is_file() for p in listed)
    assert "report: 12 delivery(ies), 2 failure(s), 2 missing or stale" in result.stderr
    html = (out / "index.html").read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert f"政务公开发布审计报告（{year}年）" in html

    missing = read_csv(out / "missing.csv")
    assert {(m["item_ref"], m["outlet"], m["verdict"]) for m in missing} == {
        (a, "mirror", "stale"),
        (c, "mirror", "missing"),
    }
    assert all(
        m["detail"].startswith(("v2 update: retrying", "v1 publish: retrying"))
        for m in missing
    )
    causes = read_csv(out / "failures_by_cause.csv")
    assert sum(int(c["count"]) for c in causes) == 2
    compliance = {
        r["state"]: int(r["count"]) for r in read_csv(out / "deadline_compliance.csv")
    }
    assert compliance == {"met": 0, "late": 3, "open": 0, "due_soon": 0}
    late = read_csv(out / "late_items.csv")
    assert {r["item_ref"] for r in late} == {a, b, c}
    lags = {r["outlet"]: int(r["count"]) for r in read_csv(out / "lag_by_outlet.csv")}
    assert lags == {"archive": 4, "portal": 4, "mirror": 2}
    per_day = read_csv(out / "deliveries_per_day.csv")
    assert sum(int(r["count"]) for r in per_day) == 12
    assert read_csv(out / "unconfirmed.csv") == []
    assert read_csv(out / "awaiting_attestation.csv") == []
    annual = {
        (r["section"], r["label"]): int(r["count"])
        for r in read_csv(out / f"annual_{year}.csv")
    }
    assert annual[("total", "total_items")] == 3
    assert annual[("total", "revised")] == 1
    assert annual[("total", "withdrawn")] == 0
    assert annual[("stage", "结果公开")] == 3
    assert annual[("stage", "决策公开")] == 0
    assert annual[("area", "社会救助")] == 3
    assert annual[("channel", "政府门户网站")] == 4
    assert annual[("channel", "其他（directory）")] == 6
    assert h.snapshot() == before

    # Without --year: no annual table; an earlier year counts nothing.
    again = h.ok("audit", "report", "--out", tmp_path / "plain")
    assert not any("annual_" in p for p in again.stdout.split())
    old = h.ok("audit", "report", "--out", tmp_path / "old", "--year", "2001")
    rows = read_csv(tmp_path / "old" / "annual_2001.csv")
    assert {int(r["count"]) for r in rows} == {0}, old.output
    assert (
        h("audit", "report", "--out", tmp_path / "x", "--year", "nope").exit_code == 2
    )


def test_short_cause_groups_by_code_and_message_start() -> None:
    def failed(**fields: Any) -> Delivery.Failed:
        base: dict[str, Any] = {
            "originator_id": "00000000-0000-0000-0000-000000000001",
            "originator_version": 2,
            "timestamp": datetime(2026, 10, 9, tzinfo=UTC),
            "worker": "w",
            "attempt": 1,
            "error_class": "PermanentDeliveryError",
            "code": None,
            "message": "HTTP 410",
            "retry_at": None,
            "rendition_sha256": None,
        }
        return Delivery.Failed(**{**base, **fields})

    assert short_cause(failed()) == "HTTP 410"
    assert short_cause(failed(code="410")) == "[410] HTTP 410"
    long = short_cause(failed(message="x" * 100 + "\nsecond line"))
    assert long == "x" * 59 + "…"
    assert short_cause(failed(message="  ")) == "PermanentDeliveryError"


@pytest.mark.parametrize("year", ["1969", "9001"])
def test_report_year_out_of_range_is_a_usage_error(tmp_path: Path, year: str) -> None:
    h = Home(tmp_path, {}, OUTLETS)
    result = h("audit", "report", "--out", tmp_path / "r", "--year", year)
    assert result.exit_code == 2
    assert not (tmp_path / "r").exists()
