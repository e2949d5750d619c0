"""先审后发 in the audit: review events in the signed Merkle log, `audit trail`,
`audit replay`, `audit report`, `audit deadlines`, and the item summaries and log rows.

Homes are real SQLite homes made with `syndicate init --no-review`, then given a
two-level `[review]` table with reviewers; the review itself is driven through the
library with a fixed clock (so times are known), and the audit is read with the CLI.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result

from syndicate.audit.deadlines import WorkdayCalendar, deadline_for
from syndicate.audit.reviews import ReviewFold
from syndicate.cli import app
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.review import ReviewPolicy
from syndicate.engine import Engine
from syndicate.testing import FixedClock
from syndicate.views import fold_summaries, logged_events
from tests.clihome import impersonate
from tests.conftest import content
from tests.test_audit_trail import SITE

LEVELS = ("科室初审", "分管领导审签")
AUTHOR, FIRST, SECOND = "张三", "李科长", "王副县长"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in China
AGENCY = "临溪县民政局"
SERIES = "11330100MB0000006R"

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


def ref(index: str) -> str:
    return f"{AGENCY}/{SERIES}/{index}"


def item(index: str, **overrides: Any) -> ItemContent:
    return content(index_no=f"{SERIES}/{index}", **overrides)


def china(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat()


class ReviewHome:
    """A home with two review levels (each with one reviewer), an archive folder and a
    portal; the library acts on it with `clock`, the CLI reads it."""

    def __init__(self, tmp_path: Path, hours: int = 24) -> None:
        self.home = tmp_path / "home"
        self.tmp = tmp_path
        self.runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员"})
        self.ok("init", "--no-review")
        config = self.home / "syndicate.toml"
        text = config.read_text("utf-8")
        levels = ", ".join(f'"{level}"' for level in LEVELS)
        assert "\nlevels = []\n" in text
        text = text.replace(
            "\nlevels = []\n",
            f"\nlevels = [{levels}]\nurgent_review_hours = {hours}\n",
            1,
        )
        text += (
            f'\n[review.reviewers]\n"{LEVELS[0]}" = ["{FIRST}"]\n'
            f'"{LEVELS[1]}" = ["{SECOND}"]\n{OUTLETS}'
        )
        config.write_text(text, "utf-8")
        self.clock = FixedClock(T0)

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        return result

    def ok(self, *args: str | Path) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str | Path) -> Any:
        return json.loads(self.ok(*args).stdout)

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        with Engine.open(self.home, clock=self.clock, environ={}) as engine:
            yield engine

    def at(self, moment: datetime) -> None:
        self.clock.now = moment

    def pending_hash(self, engine: Engine, index: str) -> str:
        pending = engine.items.get(ref(index)).pending
        assert pending is not None
        return pending.review_hash

    def approve(self, engine: Engine, index: str, level: int, **kw: Any) -> None:
        engine.items.approve(
            ref(index),
            level=LEVELS[level],
            content_hash=self.pending_hash(engine, index),
            actor=(FIRST, SECOND)[level],
            **kw,
        )

    def afterwards(self, engine: Engine, index: str, level: int) -> None:
        urgent = engine.items.get(ref(index)).urgent
        assert urgent is not None
        engine.items.approve_afterwards(
            ref(index),
            level=LEVELS[level],
            content_hash=urgent.review_hash,
            actor=(FIRST, SECOND)[level],
        )

    def sync(self) -> None:
        with self.engine() as engine:
            assert engine.sync().ok


# The scenario shared by the trail, report, replay, deadline and summary tests:
# A: submitted, returned, submitted again, approved at both levels (released);
# B: approved and released quickly, then a revision submitted (under review);
# C: released urgently, approved afterwards at the first level in time and at the
#    second after its due time; D: released urgently, never approved afterwards;
# E: submitted, never reviewed; F: submitted and withdrawn (abandoned) at once.
A, B, C, D, E, F = (f"2026-3000{n}" for n in range(1, 7))
FORMED = {
    A: date(2026, 9, 1),
    B: date(2026, 10, 30),
    C: date(2026, 10, 30),
    D: date(2026, 10, 30),
    E: date(2026, 10, 8),
    F: date(2026, 10, 8),
}
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def scenario(h: ReviewHome) -> dict[str, Any]:
    """Run the shared scenario; returns the hashes and times the tests check."""
    seen: dict[str, Any] = {}
    with h.engine() as engine:
        items = engine.items
        h.at(T0)
        items.publish(item(A, formed_on=FORMED[A]), actor=AUTHOR)
        seen["a1"] = h.pending_hash(engine, A)
        h.at(T0 + HOUR)
        items.return_to_author(ref(A), comment="请补充审批依据", actor=FIRST)
        h.at(T0 + 2 * HOUR)
        items.revise(
            ref(A),
            item(A, formed_on=FORMED[A], body="经审批，新增农村低保对象48户75人。"),
            reason="补充依据",
            actor=AUTHOR,
        )
        seen["a2"] = h.pending_hash(engine, A)
        h.at(T0 + 5 * HOUR)
        h.approve(engine, A, 0, comment="同意")
        h.at(T0 + 9 * HOUR)
        h.approve(engine, A, 1)
        seen["a_released"] = T0 + 9 * HOUR
    h.at(T0 + 9 * HOUR + timedelta(minutes=1))
    h.sync()
    with h.engine() as engine:
        items = engine.items
        h.at(T0 + DAY)
        items.publish(item(B, formed_on=FORMED[B]), actor=AUTHOR)
        seen["b1"] = h.pending_hash(engine, B)
        h.at(T0 + DAY + HOUR)
        h.approve(engine, B, 0)
        h.at(T0 + DAY + 2 * HOUR)
        h.approve(engine, B, 1)
    h.at(T0 + DAY + 2 * HOUR + timedelta(minutes=1))
    h.sync()
    with h.engine() as engine:
        items = engine.items
        h.at(T0 + 2 * DAY)
        items.revise(
            ref(B),
            item(B, formed_on=FORMED[B], body="经审批，新增农村低保对象47户74人。"),
            reason="更正人数",
            actor=AUTHOR,
        )
        pending = engine.items.get(ref(B)).pending
        assert pending is not None
        seen["b2"] = pending.content_hash
        h.at(T0 + 3 * DAY)
        items.publish(item(C, formed_on=FORMED[C]), actor=AUTHOR, urgent="防汛紧急通知")
        seen["c_due"] = T0 + 4 * DAY
    h.at(T0 + 3 * DAY + timedelta(minutes=1))
    h.sync()
    with h.engine() as engine:
        items = engine.items
        h.at(T0 + 3 * DAY + 2 * HOUR)
        h.afterwards(engine, C, 0)
        h.at(T0 + 3 * DAY + 30 * HOUR)  # after the 24 hours
        h.afterwards(engine, C, 1)
        h.at(T0 + 4 * DAY)
        items.publish(item(D, formed_on=FORMED[D]), actor=AUTHOR, urgent="停水通知")
        seen["d_due"] = T0 + 5 * DAY
        items.publish(item(E, formed_on=FORMED[E]), actor=AUTHOR)
        items.publish(item(F, formed_on=FORMED[F]), actor=AUTHOR)
        items.withdraw(ref(F), reason="误录", actor=AUTHOR)
    h.at(T0 + 4 * DAY + timedelta(minutes=1))
    h.sync()
    return seen


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ReviewHome, dict[str, Any]]:
    h = ReviewHome(tmp_path_factory.mktemp("review"))
    return h, scenario(h)


def test_trail_shows_submission_approvals_release_returns_and_urgent_releases(
    shared: tuple[ReviewHome, dict[str, Any]],
) -> None:
    h, seen = shared
    rows = h.json("audit", "trail", ref(A), "--json")
    mine = [r for r in rows if r["log"] == "items"]
    assert [(r["event"], r["actor"]) for r in mine] == [
        ("Drafted", AUTHOR),
        ("Submitted", AUTHOR),
        ("Returned", FIRST),
        ("Submitted", AUTHOR),
        ("Approved", FIRST),
        ("Approved", SECOND),
        ("Released", SECOND),
    ]
    _, submitted, returned, again, first, second, released = mine
    assert submitted["content_sha256"] == returned["content_sha256"] == seen["a1"]
    assert submitted["detail"] == (
        "publication submitted for review at 科室初审 → 分管领导审签"
    )
    assert (
        returned["detail"] == "returned to the author at level 科室初审: 请补充审批依据"
    )
    assert again["detail"] == (
        "publication submitted for review at 科室初审 → 分管领导审签; reason: 补充依据"
    )
    # Each approval names the level, the reviewer and the hash it approved: the
    # version released, not the one returned.
    assert {first["content_sha256"], second["content_sha256"]} == {seen["a2"]}
    assert released["content_sha256"] == seen["a2"] != seen["a1"]
    assert first["detail"] == "approved at level 科室初审: 同意"
    assert second["detail"] == "approved at level 分管领导审签"
    assert released["detail"] == (
        "publication released, approved at 科室初审 → 分管领导审签"
    )
    assert released["time"] == china(seen["a_released"])
    # Nothing was planned for any outlet before the release, and only its version.
    deliveries = [r for r in rows if r["log"] == "deliveries"]
    assert {r["outlet"] for r in deliveries} == {"archive", "portal"}
    assert {r["version"] for r in deliveries} == {released["version"]}
    assert rows.index(released) < min(rows.index(r) for r in deliveries)

    rows = h.json("audit", "trail", ref(C), "--json")
    events = [
        (r["event"], r["actor"], r["detail"]) for r in rows if r["log"] == "items"
    ]
    due = seen["c_due"].astimezone(CHINA_TZ).isoformat(timespec="seconds")
    assert events == [
        ("Drafted", AUTHOR, "stored for review; not public"),
        (
            "Submitted",
            AUTHOR,
            "publication submitted for review at 科室初审 → 分管领导审签",
        ),
        (
            "UrgentlyReleased",
            AUTHOR,
            "publication released urgently, without review: 防汛紧急通知; to be "
            f"approved afterwards at 科室初审 → 分管领导审签 by {due}",
        ),
        ("ApprovedAfterwards", FIRST, "approved afterwards at level 科室初审"),
        (
            "ApprovedAfterwards",
            SECOND,
            f"approved afterwards at level 分管领导审签 (after the due time {due})",
        ),
    ]

    # The text table says the same, and a revision under review shows its reason.
    text = h.ok("audit", "trail", ref(B)).stdout
    assert (
        "revision submitted for review at 科室初审 → 分管领导审签; reason: 更正人数"
        in text
    )
    assert seen["b2"][:12] in text


def test_report_lists_urgent_releases_review_times_and_returns(
    shared: tuple[ReviewHome, dict[str, Any]],
) -> None:
    h, seen = shared
    out = h.tmp / "report"
    result = h.ok("audit", "report", "--out", out)
    assert (
        "2 urgent release(s) (1 overdue for approval afterwards), 1 return(s), "
        "2 under review" in result.stderr
    )
    for name in ("urgent_releases.csv", "review_time.csv", "returned.csv"):
        assert str(out / name) in result.stdout.split()

    urgent = {r["item_ref"]: r for r in read_csv(out / "urgent_releases.csv")}
    assert set(urgent) == {ref(C), ref(D)}
    c, d = urgent[ref(C)], urgent[ref(D)]
    assert (c["state"], c["levels"], c["approved"]) == ("approved_late", "2", "2")
    assert c["reason"] == "防汛紧急通知"
    assert c["released_by"] == AUTHOR
    assert c["due"] == china(seen["c_due"])
    assert c["approved_at"] == china(T0 + 3 * DAY + 30 * HOUR)
    assert (d["state"], d["approved"], d["approved_at"]) == ("overdue", "0", "")
    assert d["due"] == china(seen["d_due"])
    assert {c["kind"], d["kind"]} == {"publish"}

    # A: 3 h at the first level (from its second submission), 4 h at the second,
    # 9 h from its first submission; B: 1 h, 1 h, 2 h.
    times = {r["level"]: r for r in read_csv(out / "review_time.csv")}
    assert list(times) == [*LEVELS, ""]
    hours = {
        level: (int(r["count"]), float(r["median_seconds"]), float(r["max_seconds"]))
        for level, r in times.items()
    }
    assert hours == {
        LEVELS[0]: (2, 2 * 3600.0, 3 * 3600.0),
        LEVELS[1]: (2, 2.5 * 3600.0, 4 * 3600.0),
        "": (2, 5.5 * 3600.0, 9 * 3600.0),
    }

    [returned] = read_csv(out / "returned.csv")
    assert returned == {
        "item_ref": ref(A),
        "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
        "level": LEVELS[0],
        "reviewer": FIRST,
        "at": china(T0 + HOUR),
        "comment": "请补充审批依据",
        "content_hash": seen["a1"],
    }
    html = (out / "index.html").read_text("utf-8")
    for shown in (
        "紧急发布（未经审核即发布）",
        "补审逾期",
        "逾期后补审",
        "请补充审批依据",
    ):
        assert shown in html, shown
    assert "提交至发布（合计）" in html
    assert "9小时" in html


def test_replay_says_what_was_pending_and_shows_only_released_versions(
    shared: tuple[ReviewHome, dict[str, Any]],
) -> None:
    h, seen = shared
    # While A was returned to its author: nothing of it on any outlet.
    out = h.tmp / "replay-returned"
    moment = china(T0 + 90 * timedelta(minutes=1))
    result = h.ok("audit", "replay", "--as-of", moment, "--out", out)
    assert "never released: on no outlet" in result.stdout
    summary = json.loads((out / "replay.json").read_text("utf-8"))
    assert summary["counts"]["items"] == 0
    [pending] = summary["pending_review"]
    assert (pending["ref"], pending["status"], pending["review"]) == (
        ref(A),
        "pending",
        "returned at 科室初审",
    )
    for outlet in ("archive", "portal"):
        manifest = json.loads((out / outlet / "manifest.json").read_text("utf-8"))
        assert manifest["items"] == []

    # At the end: A, B (released version), C, D shown; B's revision, D's approval
    # afterwards and E are pending; F was never shown.
    out = h.tmp / "replay-end"
    h.ok("audit", "replay", "--as-of", china(T0 + 5 * DAY), "--out", out)
    summary = json.loads((out / "replay.json").read_text("utf-8"))
    pending = {p["ref"]: (p["status"], p["review"]) for p in summary["pending_review"]}
    due = seen["d_due"].astimezone(CHINA_TZ).isoformat(timespec="minutes")
    assert pending == {
        ref(B): ("published", "revision pending 科室初审"),
        ref(D): ("published", f"urgent, approval afterwards at 科室初审 due {due}"),
        ref(E): ("pending", "pending 科室初审"),
    }
    assert summary["mismatches"] == []
    manifest = json.loads((out / "portal" / "manifest.json").read_text("utf-8"))
    shown = {e["ref"]: e for e in manifest["items"]}
    assert set(shown) == {ref(A), ref(B), ref(C), ref(D)}
    assert shown[ref(B)]["pending_review"] == "revision pending 科室初审"
    assert "pending_review" not in shown[ref(A)]
    archived = json.loads((out / "archive" / shown[ref(B)]["file"]).read_text("utf-8"))
    assert archived["content_hash"] == seen["b1"]  # the released version, not b2


def test_deadlines_count_to_the_first_release_and_say_what_waits(
    shared: tuple[ReviewHome, dict[str, Any]],
) -> None:
    h, _ = shared
    today = date(2026, 12, 31)
    data = h.json("audit", "deadlines", "--today", today.isoformat(), "--json")
    rows = {r["ref"]: r for r in data["items"]}
    assert ref(F) not in rows  # abandoned before it was ever released
    cal = WorkdayCalendar()
    published = {
        A: date(2026, 11, 2),
        B: date(2026, 11, 3),
        C: date(2026, 11, 5),
        D: date(2026, 11, 6),
        E: None,
    }
    for index, day in published.items():
        expected = deadline_for(FORMED[index], day, today=today, calendar=cal)
        row = rows[ref(index)]
        assert {k: row[k] for k in expected.as_json()} == expected.as_json(), index
    # A was formed long before its slow review ended: late; E is still under review.
    assert rows[ref(A)]["state"] == "late"
    assert "review" not in rows[ref(A)]
    assert (rows[ref(E)]["state"], rows[ref(E)]["review"]) == (
        "late",
        "pending 科室初审",
    )
    assert rows[ref(B)]["review"] == "revision pending 科室初审"
    text = h.ok("audit", "deadlines", "--today", today.isoformat()).stdout
    assert "late (pending 科室初审)" in text


def test_item_summaries_and_log_rows_understand_review_events(
    shared: tuple[ReviewHome, dict[str, Any]],
) -> None:
    h, seen = shared
    listed = {
        s["index_no"].split("/")[-1]: s for s in h.json("items", "list", "--json")
    }
    assert (listed[E]["status"], listed[E]["review"]) == ("pending", "pending 科室初审")
    assert listed[E]["published_at"] is None
    # B: the released title and hash, and the revision under review.
    assert listed[B]["status"] == "published"
    assert listed[B]["content_hash"] == seen["b1"]
    assert listed[B]["review"] == "revision pending 科室初审"
    assert listed[B]["published_at"] == (T0 + DAY + 2 * HOUR).isoformat()
    assert listed[A]["content_hash"] == seen["a2"]
    assert "review" not in listed[A]
    assert "review" not in listed[C]
    assert listed[F]["status"] == "withdrawn"
    assert listed[D]["review"].startswith("urgent, approval afterwards at 科室初审 due")

    lines = h.ok("log", "--item", ref(A), "--json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["event"] for r in rows] == [
        "Drafted",
        "Submitted",
        "Returned",
        "Submitted",
        "Approved",
        "Approved",
        "Released",
    ]
    assert [r.get("level") for r in rows] == [
        None,
        "科室初审 → 分管领导审签",
        "科室初审",
        "科室初审 → 分管领导审签",
        "科室初审",
        "分管领导审签",
        None,
    ]
    assert rows[2]["reason"] == "请补充审批依据"
    assert rows[4]["reason"] == "同意"
    assert rows[0]["ref"] == ref(A)
    assert {r["content_hash"] for r in rows[3:]} == {seen["a2"]}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# -- the signed Merkle log covers review events -----------------------------------------


def _approved_home(tmp_path: Path) -> tuple[ReviewHome, int, str]:
    """A home whose one item is approved at the first level, checkpointed; returns
    the Approved event's items-log position and its content hash."""
    h = ReviewHome(tmp_path)
    with h.engine() as engine:
        engine.items.publish(item(A), actor=AUTHOR)
        h.at(T0 + HOUR)
        h.approve(engine, A, 0)
    h.sync()  # signs a checkpoint over every event
    db = h.home / "data" / "disclosures.db"
    with sqlite3.connect(db) as conn:
        [(position, state)] = conn.execute(
            "SELECT rowid, CAST(state AS TEXT) FROM stored_events WHERE topic = ?",
            ("syndicate.DisclosureItem.Approved",),
        ).fetchall()
    return h, position, json.loads(state)["content_hash"]


@pytest.mark.parametrize(
    ("old", "new", "field", "forged"),
    [
        # An approval moved to another version…
        (None, "0" * 64, "content_sha256", "0" * 64),
        # …or to another level.
        (
            '"level":"科室初审"',
            '"level":"分管领导审签"',
            "detail",
            "approved at level 分管领导审签",
        ),
    ],
    ids=["content_hash", "level"],
)
def test_an_altered_approval_fails_verify_naming_it(
    tmp_path: Path, old: str | None, new: str, field: str, forged: str
) -> None:
    h, position, digest = _approved_home(tmp_path)
    assert h.ok("audit", "verify").stdout.startswith("OK")
    with sqlite3.connect(h.home / "data" / "disclosures.db") as conn:
        changed = conn.execute(
            "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), ?, ?) "
            "AS BLOB) WHERE rowid = ? AND topic = ?",
            (old or digest, new, position, "syndicate.DisclosureItem.Approved"),
        ).rowcount
    assert changed == 1
    # The application reads the forged approval as if it were real…
    rows = h.json("audit", "trail", ref(A), "--json")
    [approved] = [r for r in rows if r["event"] == "Approved"]
    assert approved["position"] == position
    assert approved[field] == forged
    # …and the Merkle log says it was altered, naming its position.
    verified = h("audit", "verify")
    assert verified.exit_code == 1, verified.output
    assert verified.stdout.startswith("FAIL altered: leaf ")
    assert f"(items log position {position})" in verified.stdout
    doc = json.loads(h("audit", "verify", "--json").stdout)
    assert doc["ok"] is False
    assert doc["findings"][0]["kind"] == "altered"


def test_a_deleted_return_fails_verify(tmp_path: Path) -> None:
    """Hiding that a reviewer returned a version (deleting its Returned event) is
    caught: the log no longer gives the signed root."""
    h = ReviewHome(tmp_path)
    with h.engine() as engine:
        engine.items.publish(item(A), actor=AUTHOR)
        h.at(T0 + HOUR)
        engine.items.return_to_author(ref(A), comment="数据有误", actor=FIRST)
        h.at(T0 + 2 * HOUR)
        engine.items.resubmit(ref(A), actor=AUTHOR)
    h.sync()
    with sqlite3.connect(h.home / "data" / "disclosures.db") as conn:
        assert (
            conn.execute(
                "DELETE FROM stored_events WHERE topic = ?",
                ("syndicate.DisclosureItem.Returned",),
            ).rowcount
            == 1
        )
    verified = h("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stdout.startswith("FAIL deleted: leaf 2 was deleted")


# -- the report's review facts, without a home ---------------------------------------------


def test_urgent_states_as_of_the_report_time() -> None:
    """awaiting before the due time, overdue after it; no reviewed release to time."""
    rules = ReviewPolicy.of(LEVELS, urgent_review_hours=24).rules
    draft = DisclosureItem.draft(item(A), rules=rules, actor=AUTHOR, at=T0)
    draft.release_urgently(reason="紧急", rules=rules, actor=AUTHOR, at=T0)
    fold = ReviewFold()
    for event in draft.collect_events():
        fold.add(cast(DisclosureItem.Event, event))
    [row] = fold.stats(T0 + 23 * HOUR).urgent
    assert (row.state, row.levels, row.approved, row.due) == (
        "awaiting",
        2,
        0,
        T0 + DAY,
    )
    stats = fold.stats(T0 + 25 * HOUR)
    assert [u.state for u in stats.urgent] == ["overdue"]
    assert stats.under_review == 0
    assert stats.times == []  # an urgent release is no reviewed release
    assert fold.seen


def test_summaries_follow_a_reviewed_withdrawal_and_keep_old_rows_as_they_were() -> (
    None
):
    """A withdrawal is public only once released; a draft shows as pending."""
    rules = ReviewPolicy.of(LEVELS).rules
    clock = FixedClock(T0)
    one = DisclosureItem.draft(item(A), rules=rules, actor=AUTHOR, at=clock.now)
    events: list[DisclosureItem.Event] = []

    def folded() -> Any:
        events.extend(cast(DisclosureItem.Event, e) for e in one.collect_events())
        return fold_summaries(enumerate(events, start=1))[one.id]

    summary = folded()
    assert (summary.status, summary.review, summary.published_at) == (
        ItemStatus.PENDING,
        "pending 科室初审",
        None,
    )
    for level, reviewer in zip(LEVELS, (FIRST, SECOND), strict=True):
        clock.advance(hours=1)
        one.approve(
            level=level,
            content_hash=one.content_hash,
            rules=rules,
            actor=reviewer,
            at=clock.now,
        )
    one.release(actor=SECOND, at=clock.now)
    summary = folded()
    assert (summary.status, summary.review) == (ItemStatus.PUBLISHED, None)
    assert summary.published_at == T0 + 2 * HOUR
    clock.advance(hours=1)
    one.submit_withdrawal(reason="政策废止", rules=rules, actor=AUTHOR, at=clock.now)
    summary = folded()
    assert (summary.status, summary.review) == (
        ItemStatus.PUBLISHED,
        "withdrawal pending 科室初审",
    )
    assert one.pending is not None
    withdrawal = one.pending.review_hash
    for level, reviewer in zip(LEVELS, (FIRST, SECOND), strict=True):
        one.approve(
            level=level,
            content_hash=withdrawal,
            rules=rules,
            actor=reviewer,
            at=clock.now,
        )
    one.release(actor=SECOND, at=clock.now)
    summary = folded()
    assert (summary.status, summary.review) == (ItemStatus.WITHDRAWN, None)
    assert summary.as_json()["status"] == "withdrawn"
    assert "review" not in summary.as_json()
    rows = list(logged_events(enumerate(events, start=1), {}))
    assert rows[5].event == "Submitted"
    assert rows[5].as_json()["level"] == "科室初审 → 分管领导审签"
    assert rows[5].reason == "政策废止"
    assert rows[-1].event == "Released"
    assert "level" not in rows[-1].as_json()

    # Review off: the rows and summaries of the old events are what they always were.
    old = DisclosureItem.publish(item(B), actor=AUTHOR, at=T0)
    old.revise(
        item(B, body="更正后的正文。"), reason="更正", actor=AUTHOR, at=T0 + HOUR
    )
    plain = [
        (n, cast(DisclosureItem.Event, e))
        for n, e in enumerate(old.collect_events(), 1)
    ]
    [published, revised] = [r.as_json() for r in logged_events(plain, {})]
    assert set(published) == {
        "position", "timestamp", "item_id", "ref", "version", "event", "actor",
        "title", "reason", "content_hash",
    }  # fmt: skip
    assert (revised["reason"], revised["ref"]) == ("更正", ref(B))
    summary = fold_summaries(plain)[old.id].as_json()
    assert summary["published_at"] == T0.isoformat()
    assert summary["updated_at"] == (T0 + HOUR).isoformat()
    assert "review" not in summary


REVIEW_TOPICS = [
    f"syndicate.DisclosureItem.{name}"
    for name in (
        "Drafted",
        "Submitted",
        "Approved",
        "Returned",
        "Released",
        "UrgentlyReleased",
        "ApprovedAfterwards",
    )
]


def test_every_review_event_is_covered_by_verify(tmp_path: Path) -> None:
    """Each new event kind, altered in the store (its actor renamed), is a finding of
    `audit verify` at its position: none of them is read by the application without
    being in the signed tree."""
    h = ReviewHome(tmp_path)
    scenario(h)
    assert h.ok("audit", "verify").stdout.startswith("OK")
    db = h.home / "data" / "disclosures.db"
    pristine = db.read_bytes()
    for topic in REVIEW_TOPICS:
        position = impersonate(db, topic)
        verified = h("audit", "verify")
        assert verified.exit_code == 1, (topic, verified.output)
        assert f"(items log position {position})" in verified.stdout, topic
        db.write_bytes(pristine)
    assert h.ok("audit", "verify").stdout.startswith("OK")
