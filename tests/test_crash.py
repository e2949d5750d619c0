"""Crash tests with real processes: kill -9 the CLI at random moments; nothing is lost.

The seed is printed on failure (pytest shows the parametrised id), so a failing run can be
replayed. `slow` variants run more kills; CI runs them too.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from syndicate_adapters.portal import PortalSettings, PortalSite

from syndicate.project import Project
from syndicate.testing import LoopbackServer
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OUTLETS = ("cms-a", "cms-b", "cms-c")


class Receiver:
    """Records every signed POST: which outlet, which webhook-id, which body."""

    def __init__(self, delay: float) -> None:
        self.posts: list[tuple[str, str, bytes]] = []
        self.delay = delay

    def __call__(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        # A receiver that takes a moment keeps the worker busy long enough for kills to
        # land mid-delivery rather than after the work is done.
        time.sleep(self.delay)
        self.posts.append(
            (request.path.strip("/"), request.headers["webhook-id"], body)
        )
        return 204, {}, b""


def _home(tmp_path: Path, url: str) -> Path:
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n[delivery]\nclaim_seconds = 2\n")
        for name in OUTLETS:
            config.write(
                f'\n[outlets.{name}]\nkind = "webhook"\nurl = "{url}/{name}"\n'
                'secret = "${CRASH_SECRET}"\ntimeout = 5\n'
                "allow_private_network = true\n"  # the receiver is on 127.0.0.1
            )
    return home


def _cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syndicate", "--home", str(home), *args]


def _env() -> dict[str, str]:
    return {**os.environ, "CRASH_SECRET": SECRET, "SYNDICATE_ACTOR": "crash-test"}


def _kill_repeatedly(command: list[str], kills: int, rng: random.Random) -> int:
    done = 0
    upper = 1.1  # lowered when a run ends before its kill: the work left shrinks
    for _ in range(kills):
        process = subprocess.Popen(
            command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait = rng.uniform(0.35, upper)  # past interpreter start-up, into the work
        time.sleep(wait)
        if process.poll() is None:
            process.kill()
            done += 1
        else:
            upper = max(0.4, 0.9 * wait)
        process.wait()
    return done


def _integrity(home: Path) -> None:
    for db in (home / "data").glob("*.db"):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _sync_kills(tmp_path: Path, kills: int, seed: int, delay: float) -> None:
    rng = random.Random(seed)
    receiver = Receiver(delay)
    with LoopbackServer(receiver) as server:
        home = _home(tmp_path, server.url)
        project = Project.load(home, environ={"CRASH_SECRET": SECRET})
        with project.disclosures() as items:
            batch = [content(index_no=f"CRASH/2026-{n:05d}") for n in range(500)]
            items.publish_many(batch, actor="crash-test")
            for item in rng.sample(batch, 150):
                items.revise(
                    item.id,
                    content(index_no=item.index_no, body="更正"),
                    reason="r",
                    actor="t",
                )
            withdrawn = rng.sample(batch, 50)
            for item in withdrawn:
                items.withdraw(item.id, reason="r", actor="t")
            latest = {str(s.id): s.version for s in items.items()}
        killed = _kill_repeatedly(_cli(home, "sync"), kills, rng)
        assert killed >= kills * 0.8, "most kills must land while the worker runs"
        deadline = time.monotonic() + 120
        while True:
            done = subprocess.run(
                _cli(home, "sync"), env=_env(), capture_output=True, check=False
            )
            status = subprocess.run(
                _cli(home, "status", "--json"),
                env=_env(),
                capture_output=True,
                check=True,
            )
            rows = json.loads(status.stdout)
            if done.returncode == 0 and all(r["state"] == "succeeded" for r in rows):
                break
            assert time.monotonic() < deadline, "deliveries did not settle"
            time.sleep(2.2)  # let claims held by killed workers expire
    _integrity(home)
    assert len(rows) == 500 * len(OUTLETS)
    # What each receiver holds: the newest version it was sent of each item.
    bodies: dict[str, set[bytes]] = defaultdict(set)
    held: dict[tuple[str, str], tuple[int, str]] = {}
    for outlet, msg_id, body in receiver.posts:
        bodies[msg_id].add(body)
        message = json.loads(body)
        key = (outlet, message["data"]["item_id"])
        version = message["data"]["version"]
        if key not in held or held[key][0] < version:
            held[key] = (version, message["type"])
    assert all(len(b) == 1 for b in bodies.values()), "a resend changed the body"
    for outlet in OUTLETS:
        for item_id, version in latest.items():
            assert held[(outlet, item_id)][0] == version, (outlet, item_id)
    gone = {str(i.id) for i in withdrawn}
    assert {k[1] for k, v in held.items() if v[1] == "item.withdrawn"} == gone
    duplicates = len(receiver.posts) - len(bodies)
    # A kill can strand at most one claimed batch (20 for deduplicating outlets).
    assert duplicates <= killed * 20, f"{duplicates} duplicate POSTs for {killed} kills"


def test_killed_sync_loses_nothing(tmp_path: Path) -> None:
    _sync_kills(tmp_path, kills=50, seed=20261122, delay=0.012)


@pytest.mark.slow
def test_killed_sync_loses_nothing_200_kills(tmp_path: Path) -> None:
    _sync_kills(tmp_path, kills=200, seed=7, delay=0.05)


def test_killed_publish_never_leaves_half_an_item(tmp_path: Path) -> None:
    COUNT = 1500  # enough files that publishing outlasts the kill delay
    rng = random.Random(99)
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    files = tmp_path / "items"
    files.mkdir()
    for n in range(COUNT):
        data = content(index_no=f"PUB/2026-{n:05d}", title=f"第{n}号公告").model_dump(
            mode="json"
        )
        (files / f"{n:04d}.json").write_text(
            json.dumps(data, ensure_ascii=False), "utf-8"
        )
    killed = _kill_repeatedly(_cli(home, "items", "publish", str(files)), 15, rng)
    assert killed >= 10
    rerun = subprocess.run(
        _cli(home, "items", "publish", str(files)),
        env=_env(),
        capture_output=True,
        check=False,
    )
    assert rerun.returncode in (0, 1), rerun.stderr  # 1: some were published already
    _integrity(home)
    listed = json.loads(
        subprocess.run(
            _cli(home, "items", "list", "--json"),
            env=_env(),
            capture_output=True,
            check=True,
        ).stdout
    )
    assert len(listed) == COUNT
    assert {r["version"] for r in listed} == {1}
    assert sorted(r["title"] for r in listed) == sorted(
        f"第{n}号公告" for n in range(COUNT)
    )


def test_killed_sync_to_the_portal_leaves_the_site_a_rebuild_gives(
    tmp_path: Path,
) -> None:
    """The portal takes its deliveries in batches of up to 200, with one durable commit
    each: kill -9 `sync` inside them, then sync to the end. Every item shows its newest
    version, `audit consistency` finds the site byte for byte as the log says, and the
    site equals a rebuild from its stored entries."""
    rng = random.Random(20261205)
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            "\n[delivery]\nclaim_seconds = 2\n"
            '\n[outlets.portal]\nkind = "portal"\npath = "site"\n'
            'site_url = "https://www.linxi.gov.cn"\n'
        )
    project = Project.load(home, environ={})
    with project.disclosures() as items:
        batch = [content(index_no=f"SITE/2026-{n:05d}") for n in range(900)]
        items.publish_many(batch, actor="crash-test")
        for item in rng.sample(batch, 100):
            items.revise(
                item.id,
                content(index_no=item.index_no, body="更正"),
                reason="r",
                actor="t",
            )
        for item in rng.sample(batch, 40):
            items.withdraw(item.id, reason="r", actor="t")
    killed = mid_batch = 0
    journal = home / "site.syndicate" / "journal.json"
    for _ in range(8):
        process = subprocess.Popen(
            _cli(home, "sync"),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Into a batch: wait for one to start (its journal), however slow the
        # machine's start-up and planning, then a moment more.
        started = time.monotonic()
        while not journal.exists() and process.poll() is None:
            assert time.monotonic() - started < 120, "no batch started"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
        if process.poll() is None:
            process.kill()
            killed += 1
        process.wait()
        mid_batch += journal.exists()  # killed inside a batch: the next one finishes it
    assert killed >= 5, "most kills must land while the worker runs"
    assert mid_batch >= 2, "some kills must land inside a batch"
    deadline = time.monotonic() + 180
    while True:
        done = subprocess.run(
            _cli(home, "sync"), env=_env(), capture_output=True, check=False
        )
        if done.returncode == 0:
            break
        assert time.monotonic() < deadline, done.stdout + done.stderr
        time.sleep(2.2)  # let claims held by killed workers expire
    _integrity(home)
    site = home / "site"
    assert len(list((site / "items").glob("*.html"))) == 900
    checked = subprocess.run(
        _cli(home, "audit", "consistency", "--outlet", "portal"),
        env=_env(),
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout.decode()[-2000:]
    state = home / "site.syndicate"
    assert not (state / "journal.json").exists()
    copy = tmp_path / "copy"
    shutil.copytree(state / "entries", copy / ".syndicate" / "entries")
    settings = PortalSettings(path=copy, site_url="https://www.linxi.gov.cn")
    PortalSite(settings, durable=False).rebuild()

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and "audit" not in p.parts and ".well-known" not in p.parts
        }

    assert files(site) == files(copy)
