"""Claims held by a worker that died (issue 13, item 4): `sync` says how many, by whom and
until when, exits 3, and `status` shows them; nobody takes a claim over before its lease
ends, however dead its holder looks."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from typer.testing import CliRunner

from syndicate.cli import app
from syndicate.delivery import HeldClaim, RunSummary, Worker, _process_gone, held_claims
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import FixedClock, LoopbackServer
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"h" * 32).decode()
HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_process_gone_is_only_said_when_certain() -> None:
    gone = dead_pid()
    assert _process_gone(f"sync@{HOST}:{gone}")
    assert not _process_gone(f"sync@{HOST}:{os.getpid()}")  # this very process
    assert not _process_gone(f"worker@{HOST}:1")  # init: exists (maybe not ours)
    assert not _process_gone(f"sync@other-host.example:{gone}")  # cannot know
    for odd in ("w1", "sync@", f"sync@{HOST}:", f"sync@{HOST}:99999999999", "@:1"):
        assert not _process_gone(odd), odd


@pytest.fixture
def home(project: Project, tmp_path: Path, clock: FixedClock) -> Iterator[Any]:
    outlets = {
        "archive": Outlet(
            "archive",
            "directory",
            None,
            OutletFilter(),
            DirectorySettings(path=tmp_path / "archive"),
            DirectoryAdapter,
        )
    }
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        yield items, deliveries, outlets


def test_a_dead_workers_claims_are_reported_until_they_expire(
    home: Any, clock: FixedClock
) -> None:
    items, deliveries, outlets = home
    published = [
        items.publish(content(index_no=f"HELD/2026-{n:05d}"), actor="t")
        for n in range(3)
    ]
    deliveries.plan()
    # A worker on this host claimed every delivery, then died (kill -9).
    dead = f"sync@{HOST}:{dead_pid()}"
    lease = timedelta(minutes=2)
    for d in deliveries.all_deliveries().values():
        fresh = deliveries.delivery(d.id)
        fresh.claim(worker=dead, at=clock(), expires_at=clock() + lease)
        deliveries.save(fresh)
    # A revision arrives meanwhile: its delivery waits behind the held claim.
    items.revise(
        published[0].item_id,
        content(index_no="HELD/2026-00000", body="更正"),
        reason="r",
        actor="t",
    )
    deliveries.plan()
    clock.advance(seconds=30)
    worker = Worker(deliveries, items, outlets, name="sync@here:1", clock=clock)
    try:
        summary = worker.run_until_idle(RunSummary())
        assert summary.ok  # nothing failed ...
        assert not summary.complete  # ... but not everything due was delivered
        assert summary.attempted == 0
        assert len(summary.held) == 3
        assert summary.waiting == 1
        assert {h.worker for h in summary.held} == {dead}
        assert all(h.process_gone and h.outlet == "archive" for h in summary.held)
        assert summary.held_until == clock() + lease - timedelta(seconds=30)
        # The library call gives the same, for any view of the log.
        view = deliveries.all_deliveries().values()
        assert held_claims(view, clock()) == summary.held
        assert held_claims(view, clock(), exclude_worker=dead) == []
        assert held_claims(view, clock(), outlets={"elsewhere"}) == []
        # Once the lease ends, the next run takes the claims over and delivers.
        clock.advance(minutes=2)
        summary = worker.run_until_idle(RunSummary())
        assert summary.complete
        assert summary.ok
        # v1 of the revised item is superseded by v2 (a latest-only outlet).
        assert summary.outcomes == {"succeeded": 3, "superseded": 1}
        assert held_claims(deliveries.all_deliveries().values(), clock()) == []
    finally:
        worker.close()


class Stall:
    """A webhook receiver that holds the first request until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.got = threading.Event()

    def __call__(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.got.set()
        self.release.wait(30)
        return 204, {}, b""


def test_sync_after_a_killed_sync_says_what_is_held_and_exits_3(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    stall = Stall()
    with LoopbackServer(stall) as server:
        home = tmp_path / "home"
        project, _ = Project.init(home, environ=environ, keys=False, review=False)
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write(
                "\n[delivery]\nclaim_seconds = 600\n"
                f'\n[outlets.cms]\nkind = "webhook"\nurl = "{server.url}/hook"\n'
                'secret = "${CMS_SECRET}"\nallow_private_network = true\n'
            )
        env = {**environ, "CMS_SECRET": SECRET, "SYNDICATE_ACTOR": "t"}
        project = Project.load(home, environ=env)
        with project.disclosures() as items:
            items.publish_many(
                [content(index_no=f"KILL/2026-{n:05d}") for n in range(16)],
                actor="t",
            )
        killed = subprocess.Popen(
            [sys.executable, "-m", "syndicate", "--home", str(home), "sync"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert stall.got.wait(60), "the sync never sent anything"
        finally:
            killed.kill()  # SIGKILL: no chance to give its claims back
            killed.wait()
            stall.release.set()
        runner = CliRunner(env=env)
        synced = runner.invoke(app, ["--home", str(home), "sync"])
        assert synced.exit_code == 3, synced.output
        who = f"sync@{HOST}:{killed.pid}"
        assert (
            f"held: 16 delivery(ies) on cms claimed by {who} (no such process on this "
            "host any more" in synced.stderr
        ), synced.stderr
        assert "run `syndicate sync` again after" in synced.stderr
        # No traceback of syndicate's (the loopback server may print its own broken
        # pipe to the dead client into the captured stderr).
        assert isinstance(synced.exception, SystemExit)
        # status shows the claims, who holds them and until when.
        shown = runner.invoke(app, ["--home", str(home), "status", "--json"])
        assert shown.exit_code == 0, shown.output
        rows = json.loads(shown.stdout)
        assert len(rows) == 16
        assert {r["state"] for r in rows} == {"claimed"}
        assert {r["claimed_by"] for r in rows} == {who}
        until = {datetime.fromisoformat(r["claim_expires_at"]) for r in rows}
        assert len(until) == 1
        [expires] = until
        assert (
            timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
        )
        text = runner.invoke(app, ["--home", str(home), "status"])
        assert f"claimed: 16 delivery(ies) held by {who} until" in text.stdout
        # After the lease, a worker takes the claims over and delivers them.
        project = Project.load(home, environ=env)
        with (
            project.disclosures() as items,
            project.deliveries(items) as deliveries,
        ):
            later = Worker(
                deliveries,
                items,
                project.outlets,
                name="later",
                clock=lambda: datetime.now(UTC) + timedelta(minutes=11),
            )
            try:
                summary = later.run_until_idle()
            finally:
                later.close()
        assert summary.outcomes == {"succeeded": 16}
        assert summary.complete
        states = {
            r["state"]
            for r in json.loads(
                runner.invoke(app, ["--home", str(home), "status", "--json"]).stdout
            )
        }
        assert states == {DeliveryState.SUCCEEDED.value}


def test_held_claim_is_a_plain_value() -> None:
    claim = HeldClaim(
        delivery_id=uuid4(),
        item_id=uuid4(),
        item_version=1,
        outlet="cms",
        worker="w",
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert not claim.process_gone


def test_status_never_prints_a_receivers_control_characters(
    sqlite_project: Project,
) -> None:
    """A receiver's error text (a robot's errmsg, a Location) reaches `last_error`:
    printed raw, it could clear the screen, retitle the terminal or hide text."""
    home = sqlite_project.home
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write('\n[outlets.archive]\nkind = "directory"\npath = "out"\n')
    project = Project.load(home, environ={})
    hostile = "errmsg \x1b]0;pwned\x07\x1b[2J\u202egnp.exe\x9b31m"
    with project.disclosures() as items, project.deliveries(items) as deliveries:
        items.publish(content(), actor="t")
        deliveries.plan()
        [planned] = deliveries.all_deliveries().values()
        d = deliveries.delivery(planned.id)
        now = datetime.now(UTC)
        d.claim(worker="w\x1b[31m", at=now, expires_at=now + timedelta(minutes=5))
        d.record(
            Delivery.Failed,
            at=now,
            worker="w",
            attempt=1,
            error_class="TransientDeliveryError",
            code=None,
            message=hostile,
            retry_at=now + timedelta(minutes=5),
            rendition_sha256=None,
        )
        d.claim(
            worker="w\x1b[31m",
            at=now + timedelta(minutes=5),
            expires_at=now + timedelta(minutes=9),
        )
        deliveries.save(d)
    shown = CliRunner().invoke(app, ["--home", str(home), "status"])
    assert shown.exit_code == 0, shown.output
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in shown.stdout
    assert "\\x1b[31m" in shown.stdout  # the claiming worker's name, escaped
    as_json = CliRunner().invoke(app, ["--home", str(home), "status", "--json"])
    [row] = json.loads(as_json.stdout)
    assert row["claimed_by"] == "w\x1b[31m"  # JSON carries the data as it is
