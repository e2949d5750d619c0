"""Several hosts against one PostgreSQL store (docs/deployment.md), as separate processes
with separate homes: each "host" has its own copy of syndicate.toml, syndicate.env and
the keys, and they share the store and the data folder. A host's worker may take only
some outlets (`worker --outlet`); a host that dies leaves claims that another host's
worker takes over once their lease ends."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from syndicate.domain.deliveries import Delivery
from syndicate.engine import Engine
from syndicate.project import Project
from syndicate.testing import LoopbackServer
from tests.clihome import CliHome
from tests.conftest import ITEM_FILE, PG_URL, require_postgres
from tests.test_crash import Receiver

SECRET = "whsec_" + base64.b64encode(b"d" * 32).decode()


def _hosts(tmp_path: Path, schema: str, url: str) -> tuple[Path, Path, dict[str, str]]:
    """Two homes ("host A" and "host B") on one store and one data folder."""
    env = {
        "SYNDICATE_STORE_URL": PG_URL,
        "SYNDICATE_STORE_SCHEMA": schema,
        "DEPLOY_SECRET": SECRET,
        "SYNDICATE_ACTOR": "deploy-test",
    }
    shared = tmp_path / "shared-data"
    a, b = tmp_path / "host-a", tmp_path / "host-b"
    CliHome(a, env).ok("init", "--no-review")  # once, on one host: every table
    config = (a / "syndicate.toml").read_text("utf-8")
    config = config.replace('data_dir = "data"', f'data_dir = "{shared}"')
    config += "\n[delivery]\nclaim_seconds = 3\n"
    config += (
        f'\n[outlets.cms]\nkind = "webhook"\nurl = "{url}/cms"\n'
        'secret = "${DEPLOY_SECRET}"\ntimeout = 5\nallow_private_network = true\n'
        f'\n[outlets.files]\nkind = "directory"\npath = "{tmp_path / "web"}"\n'
    )
    (a / "syndicate.toml").write_text(config, "utf-8")
    b.mkdir()
    shutil.copy(a / "syndicate.toml", b / "syndicate.toml")
    shutil.copytree(a / "keys", b / "keys")
    Project.init(a, environ=env, keys=True, review=False)  # the shared data folder
    return a, b, env


def _worker(home: Path, env: dict[str, str], *outlets: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "syndicate", "--home", str(home), "worker"]
    args += ["--poll", "0.2", *(f"--outlet={o}" for o in outlets)]
    # What it says goes to a file beside the home (no pipe is left open when a
    # test kills it).
    with (home.parent / f"{home.name}-worker.log").open("ab") as log:
        return subprocess.Popen(
            args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log
        )


def _publish(cli: CliHome, tmp_path: Path, count: int) -> None:
    folder = tmp_path / "items"
    folder.mkdir(exist_ok=True)
    for n in range(count):
        text = ITEM_FILE.replace("2026-00019", f"2026-3{n:04d}")
        (folder / f"{n}.md").write_text(text, "utf-8")
    cli.ok("items", "publish", str(folder))


def _wait_settled(
    home: Path, env: dict[str, str], count: int
) -> dict[str, Counter[str]]:
    """Wait until every delivery is settled; who claimed what, per outlet."""
    deadline = time.monotonic() + 180
    while True:
        with Engine.open(home, environ=env) as engine:
            view = engine.deliveries.all_deliveries()
            if len(view) >= count and all(d.state.settled for d in view.values()):
                claims: dict[str, Counter[str]] = {}
                for d in view.values():
                    for event in engine.deliveries.events.get(d.id):
                        if isinstance(event, Delivery.Claimed):
                            claims.setdefault(d.outlet, Counter())[event.worker] += 1
                assert {d.state.value for d in view.values()} <= {
                    "succeeded",
                    "superseded",
                }
                return claims
        assert time.monotonic() < deadline, "the workers did not finish"
        time.sleep(0.5)


def _stop(*workers: subprocess.Popen[bytes]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(timeout=30)


@pytest.mark.postgres
def test_two_hosts_split_the_outlets_and_agree_on_the_audit(
    tmp_path: Path, pg_schema: str
) -> None:
    require_postgres()
    receiver = Receiver(delay=0.0)
    with LoopbackServer(receiver) as server:
        a, b, env = _hosts(tmp_path, pg_schema, server.url)
        host_a, host_b = CliHome(a, env), CliHome(b, env)
        on_a = _worker(a, env, "cms")  # the network outlet: any host
        on_b = _worker(b, env, "files")  # the web host serves the folder
        try:
            _publish(host_a, tmp_path, 40)
            claims = _wait_settled(b, env, 80)
        finally:
            _stop(on_a, on_b)
    assert [w.returncode for w in (on_a, on_b)] == [0, 0]
    [cms_worker] = claims["cms"]
    [files_worker] = claims["files"]
    assert cms_worker.endswith(f":{on_a.pid}")
    assert files_worker.endswith(f":{on_b.pid}")
    assert len(receiver.posts) == 40  # each item once
    assert len(list((tmp_path / "web").glob("*.json"))) == 40
    # A checkpoint signed on one host verifies on the other: one key, one log, one
    # read model.
    host_b.ok("audit", "checkpoint")
    for cli in (host_a, host_b):
        verified = cli("audit", "verify")
        assert verified.exit_code == 0, verified.output
        assert "read model" not in verified.output
    bad = host_a("worker", "--outlet", "nope")
    assert bad.exit_code == 2
    assert "--outlet" in bad.output
    assert "'nope': not an outlet in syndicate.toml" in bad.output


@pytest.mark.postgres
def test_a_host_that_dies_leaves_claims_another_host_takes_over(
    tmp_path: Path, pg_schema: str
) -> None:
    require_postgres()
    receiver = Receiver(delay=0.02)  # slow enough to die mid-batch
    with LoopbackServer(receiver) as server:
        a, b, env = _hosts(tmp_path, pg_schema, server.url)
        host_a = CliHome(a, env)
        _publish(host_a, tmp_path, 60)
        on_a = _worker(a, env, "cms")
        deadline = time.monotonic() + 60
        while not receiver.posts:  # host A is sending
            assert time.monotonic() < deadline, "host A never sent"
            time.sleep(0.05)
        on_a.send_signal(signal.SIGKILL)  # host A's power is cut
        on_a.wait()
        on_b = _worker(b, env)
        try:
            claims = _wait_settled(b, env, 120)
        finally:
            _stop(on_b)
    assert any(w.endswith(f":{on_b.pid}") for w in claims["cms"])
    sent = Counter(webhook_id for _, webhook_id, _ in receiver.posts)
    assert len(sent) == 60  # every item reached the outlet
    # At most the claimed batch of the dead host was sent again (the webhook
    # deduplicates by webhook-id; docs/deployment.md).
    assert sum(n - 1 for n in sent.values()) <= 20
