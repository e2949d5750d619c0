"""Attestation: a notice-board sheet waits for a person, and `syndicate attest` records them.

From the aggregate rule, through the worker on a real store, to the command line with a
real project: publish → sync → status → attest (with a photo) → status, and every bad input
refused with a clear message and both logs unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.noticeboard import NoticeboardAdapter, NoticeboardSettings
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.delivery import Worker
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.outlets import Outlet, OutletFilter
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import ITEM_FILE, content

SITE = "https://www.linxi.gov.cn"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4  # a JPEG's start


# -- the rule, on the aggregate ----------------------------------------------------------


def produced(at: datetime) -> Delivery:
    """A delivery whose sheet was written at `at` (awaiting attestation)."""
    d = Delivery.plan(
        item_id=UUID(int=7),
        item_version=1,
        outlet="board",
        operation="publish",
        position=1,
        at=at,
    )
    d.claim(worker="w", at=at, expires_at=at + timedelta(minutes=2))
    d.record(
        Delivery.AwaitingAttestation,
        at=at,
        worker="w",
        attempt=1,
        rendition_sha256="0" * 64,
        receipt={"file": "x-v1-post.pdf"},
    )
    return d


def test_awaiting_attestation_is_settled_but_not_a_problem_nor_done() -> None:
    state = DeliveryState.AWAITING_ATTESTATION
    assert (state.settled, state.problem, state.done) == (True, False, False)
    attested = DeliveryState.ATTESTED
    assert (attested.settled, attested.problem, attested.done) == (True, False, True)
    assert DeliveryState.SUCCEEDED.done


def test_a_delivery_is_attested_once_and_only_while_awaiting() -> None:
    at = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    d = produced(at)
    assert d.state is DeliveryState.AWAITING_ATTESTATION
    assert not d.is_due(at + timedelta(days=30))  # no worker ever takes it again
    assert d.receipt == {"file": "x-v1-post.pdf"}
    later = at + timedelta(hours=2)
    for bad, why in (
        ({"by": " "}, "by must be"),
        ({"by": "张\n敏"}, "by must be"),
        ({"actor": ""}, "actor must be"),
        ({"posted_at": later + timedelta(minutes=1)}, "in the future"),
        ({"posted_at": at - timedelta(hours=1)}, "before the rendition"),
        ({"posted_at": datetime(2026, 10, 9, 10, 0)}, "timezone-aware"),  # naive
        ({"photo_sha256": "ABC"}, "photo_sha256"),
        ({"photo_name": "../x.jpg"}, "photo_name"),
    ):
        fields: dict[str, Any] = {
            "actor": "运维",
            "by": "张敏",
            "posted_at": at + timedelta(hours=1),
            "at": later,
            **bad,
        }
        with pytest.raises(ValueError, match=why):
            d.attest(**fields)
    assert d.state is DeliveryState.AWAITING_ATTESTATION
    d.attest(
        actor="运维",
        by="张敏",
        posted_at=at + timedelta(hours=1),
        at=later,
        photo_sha256="a" * 64,
        photo_name="board.jpg",
        note="村委会门口",
    )
    attested: Delivery = d  # a fresh name: mypy narrowed `d.state` above
    assert attested.state is DeliveryState.ATTESTED
    assert attested.attestation is not None
    assert (attested.attestation.by, attested.attestation.actor) == ("张敏", "运维")
    with pytest.raises(ValueError, match="not awaiting attestation"):
        d.attest(actor="运维", by="李四", posted_at=later, at=later)
    fresh = Delivery.plan(
        item_id=UUID(int=8),
        item_version=1,
        outlet="board",
        operation="publish",
        position=1,
        at=at,
    )
    with pytest.raises(ValueError, match="not awaiting attestation"):
        fresh.attest(actor="运维", by="张敏", posted_at=at, at=at)


def test_an_attestation_is_final_whatever_a_late_worker_records() -> None:
    at = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    d = produced(at)
    d.attest(actor="运维", by="张敏", posted_at=at, at=at + timedelta(hours=1))
    late = at + timedelta(hours=2)
    d.record(Delivery.Released, at=late, worker="slow", attempt=1)
    d.record(
        Delivery.AwaitingAttestation,
        at=late,
        worker="slow",
        attempt=1,
        rendition_sha256="0" * 64,
        receipt={"file": "x-v1-post.pdf"},
    )
    d.record(Delivery.Superseded, at=late, by_version=2)
    assert d.state is DeliveryState.ATTESTED
    assert d.attestation is not None
    assert d.attestation.by == "张敏"


# -- the worker, on a real store ---------------------------------------------------------


@pytest.fixture
def board_rig(
    project: Project, tmp_path: Path
) -> Iterator[tuple[Any, Deliveries, dict[str, Outlet], FixedClock]]:
    clock = FixedClock()
    outlets = {
        "board": Outlet(
            name="board",
            kind="noticeboard",
            channel=None,
            filter=OutletFilter(),
            settings=NoticeboardSettings(path=tmp_path / "sheets", portal_url=SITE),
            adapter_class=NoticeboardAdapter,
        ),
        "archive": Outlet(
            name="archive",
            kind="directory",
            channel=None,
            filter=OutletFilter(),
            settings=DirectorySettings(path=tmp_path / "archive"),
            adapter_class=DirectoryAdapter,
        ),
    }
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        yield items, deliveries, outlets, clock


def board_deliveries(deliveries: Deliveries) -> list[Delivery]:
    return sorted(
        (d for d in deliveries.all_deliveries().values() if d.outlet == "board"),
        key=lambda d: d.item_version,
    )


def sheet_files(tmp_path: Path) -> list[list[str]]:
    names = sorted(p.name for p in (tmp_path / "sheets").iterdir())
    return [n.rsplit("-", 2)[1:] for n in names]


def test_the_worker_leaves_sheets_awaiting_attestation_and_never_resends_them(
    board_rig: tuple[Any, Deliveries, dict[str, Outlet], FixedClock], tmp_path: Path
) -> None:
    items, deliveries, outlets, clock = board_rig
    change = items.publish(content(), actor="t")
    deliveries.plan()
    worker = Worker(deliveries, items, outlets, name="w", clock=clock)
    assert worker.run_until_idle().outcomes["awaiting_attestation"] == 1
    first = board_deliveries(deliveries)[0]
    first.attest(actor="运维", by="张敏", posted_at=clock(), at=clock())
    deliveries.save(first)
    clock.advance(minutes=1)
    items.revise(
        change.item_id, content(body="更正后的正文。"), reason="更正", actor="t"
    )
    deliveries.plan()
    summary = worker.run_until_idle()
    # The posted sheet is replaced: the correction sheet waits for a person too.
    assert summary.outcomes["awaiting_attestation"] == 1
    assert summary.ok
    clock.advance(minutes=1)
    items.withdraw(change.item_id, reason="r", public_note="已撤回。", actor="t")
    deliveries.plan()
    worker.run_until_idle()
    board = board_deliveries(deliveries)
    # The replacement was never put up, so nobody is asked to put it up now; the
    # posted version 1 is what the take-down sheet takes down.
    assert [(d.operation, d.state) for d in board] == [
        ("publish", DeliveryState.ATTESTED),
        ("correction", DeliveryState.SUPERSEDED),
        ("retract", DeliveryState.AWAITING_ATTESTATION),
    ]
    assert sheet_files(tmp_path) == [
        ["v1", "post.pdf"],
        ["v2", "replace.pdf"],
        ["v3", "takedown.pdf"],
    ]
    adapter = NoticeboardAdapter(outlets["board"].settings)
    for d in board:
        job = worker.outlet_set.job(d, {})
        rendition = adapter.render(job)
        assert d.rendition_sha256 == rendition.sha256
        assert d.receipt is not None
        assert d.receipt["file"] == rendition.meta["file"]
        assert adapter.read_back(job, requests.Session()) == rendition.data
    clock.advance(days=10)
    assert worker.run_until_idle().attempted == 0

    last = deliveries.delivery(board[-1].id)
    last.attest(
        actor="运维", by="张敏", posted_at=clock() - timedelta(days=9), at=clock()
    )
    deliveries.save(last)
    again = deliveries.delivery(board[-1].id)  # replayed from the store
    assert again.state is DeliveryState.ATTESTED
    assert again.attestation is not None
    assert again.attestation.by == "张敏"
    assert again.attestation.posted_at == clock() - timedelta(days=9)
    topics = [
        n.topic
        for n in deliveries.recorder.select_notifications(0, 10_000)
        if n.originator_id == board[-1].id
    ]
    assert topics[-2:] == [
        "syndicate.Delivery.AwaitingAttestation",
        "syndicate.Delivery.Attested",
    ]


def test_a_board_is_never_told_to_replace_or_take_down_a_sheet_nobody_posted(
    board_rig: tuple[Any, Deliveries, dict[str, Outlet], FixedClock], tmp_path: Path
) -> None:
    """Published, revised and withdrawn before anyone put a sheet up: the revision is a
    plain posting (not 替换第1版), the withdrawal prints nothing (no 撤除通知 for a sheet
    that is not there), clears the unposted sheets out of the print folder, and needs
    no attestation."""
    items, deliveries, outlets, clock = board_rig
    change = items.publish(content(), actor="t")
    deliveries.plan()
    worker = Worker(deliveries, items, outlets, name="w", clock=clock)
    worker.run_until_idle()
    clock.advance(minutes=1)
    items.revise(
        change.item_id, content(body="更正后的正文。"), reason="更正", actor="t"
    )
    deliveries.plan()
    assert worker.run_until_idle().outcomes["awaiting_attestation"] == 1
    assert sheet_files(tmp_path) == [["v1", "post.pdf"], ["v2", "post.pdf"]]
    clock.advance(minutes=1)
    items.withdraw(change.item_id, reason="r", public_note="已撤回。", actor="t")
    deliveries.plan()
    summary = worker.run_until_idle()
    assert summary.outcomes["succeeded"] >= 1
    board = board_deliveries(deliveries)
    assert [(d.operation, d.state) for d in board] == [
        ("publish", DeliveryState.SUPERSEDED),
        ("correction", DeliveryState.SUPERSEDED),
        ("retract", DeliveryState.SUCCEEDED),
    ]
    assert board[-1].receipt is not None
    assert board[-1].receipt["attestation"] == "none"
    assert sheet_files(tmp_path) == []  # nothing left that someone could post
    # Read back and re-rendered like any delivery: the audit sees it in sync.
    expected, shown = worker.outlet_set.read_outlet(board[-1])
    assert (expected, shown) == (b"", None)


# -- the command line, on a real project -------------------------------------------------


def setup_home(tmp_path: Path, environ: dict[str, str]) -> tuple[CliRunner, Path]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", **environ})
    assert (
        runner.invoke(app, ["--home", str(home), "init", "--no-review"]).exit_code == 0
    )
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            f"""
[outlets.archive]
kind = "directory"
path = "out"

[outlets.board]
kind = "noticeboard"
channel = "noticeboard"
path = "sheets"
portal_url = "{SITE}"
board_name = "临溪村村务公开栏"
contact = "0571-12345678"
"""
        )
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    return runner, home


def snapshots(home: Path, environ: dict[str, str]) -> tuple[Any, Any]:
    """Every stored event of both logs, to prove a refused command wrote nothing."""
    project = Project.load(home, environ=environ)
    with project.disclosures() as items, project.deliveries(items, outlets={}) as d:
        rows = [
            (n.id, n.topic, bytes(n.state))
            for n in d.recorder.select_notifications(0, 100_000)
        ]
        return log_snapshot(items), rows


def test_publish_sync_status_attest_status(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    runner, home = setup_home(tmp_path, environ)

    def cli(*args: str) -> Result:
        result = runner.invoke(app, ["--home", str(home), *args])
        assert "Traceback" not in result.output, result.output
        return result

    assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    assert "1 awaiting_attestation" in synced.stderr

    rows = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}
    assert rows["archive"]["state"] == "succeeded"
    assert rows["archive"]["awaiting_attestation"] == []
    board = rows["board"]
    assert board["state"] == "awaiting_attestation"
    assert board["live_version"] is None  # printed, not yet on the board
    [waiting] = board["awaiting_attestation"]
    assert waiting["delivery_id"] == board["delivery_id"]
    assert waiting["file"].endswith("-v1-post.pdf")
    assert (home / "sheets" / waiting["file"]).is_file()
    text = cli("status").stdout
    assert "awaiting attestation: 1 sheet(s)" in text
    assert board["delivery_id"][:8] in text
    assert waiting["file"] in text

    # Bad input: a clear message naming the field, exit status, and nothing written.
    (tmp_path / "notes.txt").write_text("不是照片", "utf-8")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "board.jpg").write_bytes(PHOTO)
    ident = board["delivery_id"][:8]
    env = {"SYNDICATE_ACTOR": "运维", **environ}
    before = snapshots(home, env)
    cases: list[tuple[list[str], int, str]] = [
        (["attest", ident], 2, "--by"),
        (["attest", ident, "--by", ""], 2, "--by: must not be empty"),
        (["attest", ident, "--by", "   "], 2, "--by: must not be empty"),
        (["attest", ident, "--by", "张\x07敏"], 2, "--by: must be a single line"),
        (
            ["attest", ident, "--by", "张敏", "--photo", str(tmp_path / "nope.jpg")],
            2,
            "--photo: file not found",
        ),
        (
            ["attest", ident, "--by", "张敏", "--photo", str(tmp_path)],
            2,
            "--photo: not a regular file",
        ),
        (
            ["attest", ident, "--by", "张敏", "--photo", str(tmp_path / "notes.txt")],
            2,
            "--photo: notes.txt is not a photo",
        ),
        (
            ["attest", ident, "--by", "张敏", "--photo", str(tmp_path / "empty.jpg")],
            2,
            "is empty",
        ),
        (["attest", ident, "--by", "张敏", "--at", "昨天"], 2, "--at: invalid time"),
        (
            ["attest", ident, "--by", "张敏", "--at", "0001-01-01T00:00+08:00"],
            2,
            "--at: '0001-01-01T00:00+08:00' is not a plausible posting time",
        ),
        (
            ["attest", ident, "--by", "张敏", "--at", "2999-01-01T09:00"],
            2,
            "--at: 2999-01-01 09:00:00 is in the future",
        ),
        (
            ["attest", ident, "--by", "张敏", "--at", "2001-01-01T09:00+08:00"],
            2,
            "is before the sheet was produced",
        ),
        (["attest", "zz-top", "--by", "张敏"], 2, "DELIVERY: 'zz-top' is not"),
        (["attest", "ffffffff", "--by", "张敏"], 1, "no delivery ffffffff"),
        (
            ["attest", rows["archive"]["delivery_id"][:8], "--by", "张敏"],
            1,
            "is succeeded, not awaiting attestation",
        ),
        (["attest", ident, "--by", "张敏", "--actor", ""], 2, "--actor"),
    ]
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.jpg"
        locked.write_bytes(PHOTO)
        locked.chmod(0)
        cases.append(
            (
                ["attest", ident, "--by", "张敏", "--photo", str(locked)],
                2,
                "--photo: cannot read",
            )
        )
    for args, code, fragment in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert fragment in result.output, (args, result.output)
        assert "error" in result.stderr.lower(), (args, result.output)
    assert snapshots(home, env) == before
    assert not (home / "data" / "attestations").exists()

    done = cli(
        "attest",
        ident,
        "--by",
        "张敏",
        "--photo",
        str(tmp_path / "board.jpg"),
        "--note",
        "村委会门口公开栏",
        "--json",
    )
    assert done.exit_code == 0, done.output
    record = json.loads(done.stdout)
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert record["delivery_id"] == board["delivery_id"]
    assert record["state"] == "attested"
    assert (record["by"], record["actor"]) == ("张敏", "运维")
    assert record["photo_sha256"] == digest
    assert record["photo_name"] == "board.jpg"
    assert record["photo_path"] == f"data/attestations/{digest[:2]}/{digest}"
    assert record["file"] == waiting["file"]
    kept = home / "data" / "attestations" / digest[:2] / digest
    assert kept.read_bytes() == PHOTO

    rows = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}
    board = rows["board"]
    assert board["state"] == "attested"
    assert board["live_version"] == 1
    assert board["attested_by"] == "张敏"
    assert board["attested_at"] == record["posted_at"]
    assert datetime.fromisoformat(board["attested_at"]) <= datetime.now(UTC)
    assert board["photo_sha256"] == digest
    assert board["awaiting_attestation"] == []
    text = cli("status").stdout
    assert "attested: 1" in text
    assert "张敏" in text
    assert "awaiting attestation" not in text

    # The event holds who, when and the photo's digest: never its bytes or a path.
    _, stored = snapshots(home, env)
    [(_, _, state)] = [row for row in stored if row[1] == "syndicate.Delivery.Attested"]
    event = json.loads(state)
    assert set(event) == {
        "actor",
        "by",
        "note",
        "photo_name",
        "photo_sha256",
        "posted_at",
        "timestamp",
    }
    assert event["photo_sha256"] == digest
    assert str(tmp_path) not in state.decode()

    # Twice: refused, and nothing changes.
    before = snapshots(home, env)
    twice = cli("attest", ident, "--by", "李四")
    assert twice.exit_code == 1
    assert "attested already: posted by 张敏" in twice.stderr
    assert snapshots(home, env) == before

    # A revision and a withdrawal: a replacement sheet and a take-down sheet to post.
    revised = tmp_path / "revised.md"
    revised.write_text(ITEM_FILE.replace("47户73人", "47户74人"), "utf-8")
    ref = board["ref"]
    assert (
        cli("items", "revise", ref, str(revised), "--reason", "更正人数").exit_code == 0
    )
    assert (
        cli("items", "withdraw", ref, "--reason", "r", "--note", "已撤回").exit_code
        == 0
    )
    assert cli("sync").exit_code == 0
    board = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}[
        "board"
    ]
    assert board["state"] == "awaiting_attestation"
    assert board["live_version"] == 1  # the attested posting is still what is up
    # Revised and withdrawn before anyone printed the correction: only the take-down
    # sheet is worth printing (the correction was superseded unprinted).
    assert [(w["version"], w["operation"]) for w in board["awaiting_attestation"]] == [
        (3, "retract"),
    ]
    assert "awaiting attestation: 1 sheet(s)" in cli("status").stdout
    for w in board["awaiting_attestation"]:
        assert cli("attest", w["delivery_id"], "--by", "张敏").exit_code == 0
    board = {r["outlet"]: r for r in json.loads(cli("status", "--json").stdout)}[
        "board"
    ]
    assert (board["state"], board["live_version"]) == ("attested", "withdrawn")
