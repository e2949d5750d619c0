"""Scale-out: four worker processes share one PostgreSQL store."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from syndicate.domain.deliveries import Delivery
from syndicate.project import Project
from syndicate.testing import LoopbackServer
from tests.conftest import PG_URL, content, require_postgres
from tests.test_crash import Receiver

SECRET = "whsec_" + base64.b64encode(b"p" * 32).decode()


@pytest.mark.postgres
def test_four_workers_share_one_postgres_store(tmp_path: Path, pg_schema: str) -> None:
    require_postgres()
    environ = {
        "SYNDICATE_STORE_URL": PG_URL,
        "SYNDICATE_STORE_SCHEMA": pg_schema,
        "SCALE_SECRET": SECRET,
        "SYNDICATE_ACTOR": "scale-test",
    }
    receiver = Receiver(delay=0.003)
    with LoopbackServer(receiver) as server:
        home = tmp_path / "home"
        Project.init(home, environ=environ, keys=False, review=False)
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n[delivery]\nclaim_seconds = 10\n")
            for name in ("cms-a", "cms-b"):
                config.write(
                    f'\n[outlets.{name}]\nkind = "webhook"\nurl = "{server.url}/{name}"\n'
                    'secret = "${SCALE_SECRET}"\n'
                    "allow_private_network = true\n"  # the receiver is on 127.0.0.1
                )
        project = Project.load(home, environ=environ)
        with project.disclosures() as items:
            batch = [content(index_no=f"SCALE/2026-{n:05d}") for n in range(200)]
            items.publish_many(batch, actor="scale-test")
            for item in batch[:50]:
                items.revise(
                    item.id,
                    content(index_no=item.index_no, body="更正"),
                    reason="r",
                    actor="t",
                )
            latest = {str(s.id): s.version for s in items.items()}
        command = [
            sys.executable,
            "-m",
            "syndicate",
            "--home",
            str(home),
            "worker",
            "--poll",
            "0.2",
        ]
        env = {**os.environ, **environ}
        logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
        workers = []
        for log in logs:
            with log.open("wb") as handle:
                workers.append(
                    subprocess.Popen(
                        command, env=env, stdout=subprocess.DEVNULL, stderr=handle
                    )
                )
        try:
            deadline = time.monotonic() + 180
            with (
                project.disclosures() as items,
                project.deliveries(items) as deliveries,
            ):
                while True:
                    view = deliveries.all_deliveries()
                    settled = [d for d in view.values() if d.state.settled]
                    if len(view) >= 2 * 250 and len(settled) == len(view):
                        break
                    assert time.monotonic() < deadline, "workers did not finish"
                    time.sleep(0.5)
                claims = Counter(
                    event.worker
                    for d in view.values()
                    for event in deliveries.events.get(d.id)
                    if isinstance(event, Delivery.Claimed)
                )
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(timeout=30) for worker in workers]
    assert codes == [0, 0, 0, 0], [log.read_text() for log in logs]
    assert len(claims) >= 2, f"work was not shared: {claims}"
    states = Counter(d.state.value for d in view.values())
    assert set(states) <= {"succeeded", "superseded"}, states
    held: dict[tuple[str, str], int] = {}
    bodies: dict[str, set[bytes]] = {}
    for outlet, msg_id, body in receiver.posts:
        bodies.setdefault(msg_id, set()).add(body)
        data = json.loads(body)["data"]
        key = (outlet, data["item_id"])
        held[key] = max(held.get(key, 0), data["version"])
    assert all(len(b) == 1 for b in bodies.values())
    for outlet in ("cms-a", "cms-b"):
        for item_id, version in latest.items():
            assert held[(outlet, item_id)] == version
    # Without crashes, no delivery is sent twice.
    assert len(receiver.posts) == len(bodies)
