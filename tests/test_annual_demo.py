"""The 年报's computed table (part 二) against a hand count on the demo's log (issue 19).

The demo is run as an operator runs it; the hand count reads only what `syndicate log
--json` and `syndicate items show --json` print, not the 年报's own code: an item counts
as 制发 in the year of its first release, as 废止 in the year of its `Repealed` event, as
现行有效 when released, not withdrawn and not repealed; 处理决定 add `decisions`
(default 1).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from syndicate.domain.base import CHINA_TZ
from tests.clihome import CliHome

RELEASES = ("Published", "Released", "UrgentlyReleased")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> CliHome:
    home = tmp_path_factory.mktemp("annual") / "syndicate-demo"
    h = CliHome(home, actor="demo")
    result = h("demo", "--home", home)
    assert result.exit_code == 0, result.output
    return h


def _hand_count(h: CliHome, year: int) -> dict[str, int]:
    rows = [
        json.loads(line)
        for line in h.ok("log", "--json").stdout.splitlines()
        if line.strip()
    ]
    refs = {r["ref"] for r in rows if r["ref"] != "标准目录"}
    content = {
        ref: json.loads(h.ok("items", "show", ref, "--json").stdout)["content"]
        for ref in sorted(refs)
    }

    def year_of(row: dict[str, str]) -> int:
        return datetime.fromisoformat(row["timestamp"]).astimezone(CHINA_TZ).year

    first_release: dict[str, dict[str, str]] = {}
    repealed: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["event"] in RELEASES and r["ref"] not in first_release:
            first_release[r["ref"]] = r
        if r["event"] == "Repealed":
            repealed[r["ref"]] = r
    counts = {
        "normative.issued": 0,
        "normative.repealed": 0,
        "normative.in_force": 0,
        "licence.decisions": 0,
    }
    for ref, c in content.items():
        if c.get("attribute", "proactive") != "proactive" or ref not in first_release:
            continue
        shown = json.loads(h.ok("items", "show", ref, "--json").stdout)
        if shown["status"] == "withdrawn":
            continue
        if c.get("doc_type") == "normative":
            if year_of(first_release[ref]) == year:
                counts["normative.issued"] += 1
            if ref in repealed and year_of(repealed[ref]) == year:
                counts["normative.repealed"] += 1
            if ref not in repealed:
                counts["normative.in_force"] += 1
        if c.get("doc_type") == "licence" and year_of(first_release[ref]) == year:
            counts["licence.decisions"] += c.get("decisions") or 1
    return counts


def test_the_annual_report_matches_a_hand_count_of_the_demo_log(
    demo: CliHome, tmp_path: Path
) -> None:
    year = datetime.now(CHINA_TZ).year
    expected = _hand_count(demo, year)
    # The demo has something to count: its 规范性文件 (the two for the 政府公报, the
    # plan and the revised plan that replaced it) and the repealed plan.
    assert expected["normative.in_force"] >= 3
    assert expected["normative.repealed"] == 1
    out = tmp_path / "nianbao"
    report = json.loads(
        demo.ok(
            "audit", "annual-report", "--year", str(year), "--out", out, "--json"
        ).stdout
    )
    figures = {f["key"]: f for f in report["proactive"]}
    for key, value in expected.items():
        assert figures[key]["value"] == value, (key, figures[key])
    # A count lists one event per document counted.
    for key in ("normative.issued", "normative.repealed", "normative.in_force"):
        assert len(figures[key]["events"]) == expected[key]
    positions = {
        r["position"]: r
        for r in (
            json.loads(line)
            for line in demo.ok("log", "--json").stdout.splitlines()
            if line.strip()
        )
    }
    for event in figures["normative.issued"]["events"]:
        logged = positions[event["position"]]
        assert logged["ref"] == event["ref"]
        assert logged["event"] == event["event"]
    assert (out / "index.html").is_file()
    assert (out / f"年报-{year}.pdf").is_file()


def test_the_demo_log_shows_the_catalogue_and_coverage_and_inspect_end_it(
    demo: CliHome,
) -> None:
    log = demo.ok("log", "--json").stdout
    assert '"event": "CatalogueStarted"' in log
    coverage = json.loads(demo.ok("audit", "coverage", "--json").stdout)
    assert coverage["counts"]["blank"] == 2
    assert coverage["counts"]["published"] == 4
    inspected = demo("audit", "inspect", "--json")
    assert inspected.exit_code in (0, 1)
    doc = json.loads(inspected.stdout)
    assert (inspected.exit_code == 1) == (doc["summary"]["veto"] > 0)
    names = {f["name"] for f in doc["findings"]}
    # The demo's 年报 and 制度 columns are empty; its policies have no 解读 of their own.
    assert "空白栏目" in names
    assert "政策解读" in names


def test_status_of_one_item_is_its_rows_in_the_status_of_everything(
    demo: CliHome,
) -> None:
    """`status REF` reads the deliveries read model and the item's own events;
    `status` folds both logs. On the demo's log (reviews, bundles, erasure, whole-set
    outlets, people who put sheets up) they agree on every row (issue 20)."""
    from datetime import UTC

    from syndicate.engine import Engine

    with Engine.open(demo.home) as engine:
        engine.fix_clock(datetime.now(UTC))  # one "now" for how long sheets waited
        every = engine.status()
        refs = sorted({r.ref for r in every})
        assert len(refs) > 10
        for ref in refs:
            assert engine.status(ref) == [r for r in every if r.ref == ref], ref
        scheduled = engine.scheduled()
        for ref in sorted({s.ref for s in scheduled} | set(refs[:5])):
            assert engine.scheduled(ref) == [s for s in scheduled if s.ref == ref]
    # What `status --json` says is under review, per row: the same for one item
    # (read from its own events) as in the status of everything.
    whole = json.loads(demo.ok("status", "--json").stdout)
    under = {r["ref"]: r["under_review"] for r in whole}
    assert any(v is not None for v in under.values()), "the demo has reviews"
    for ref, state in under.items():
        rows = json.loads(demo.ok("status", ref, "--json").stdout)
        assert {json.dumps(r["under_review"]) for r in rows} == {json.dumps(state)}


def test_the_read_model_check_of_verify_agrees_with_the_domain_on_the_demo_log(
    demo: CliHome,
) -> None:
    """`audit verify` computes the deliveries read model's rows from the stored JSON
    (`fold_rows`); on the demo's log (attestations, reminders, digests, relays,
    retries) they are the rows of the domain's own fold, and the stored rows."""
    from syndicate.deliveryindex import fold_rows, index_row
    from syndicate.engine import Engine

    with Engine.open(demo.home) as engine:
        log = engine.deliveries
        stored = log.recorder.select_notifications(start=1, limit=1_000_000)
        rows = fold_rows(
            (n.originator_id, n.originator_version, n.topic, n.state) for n in stored
        )
        assert rows == {str(d.id): index_row(d) for d in log.all_deliveries().values()}
        assert {r.state for r in rows.values()} >= {"succeeded", "awaiting_attestation"}
        log.index.catch_up()
        assert log.index.rows() == rows
