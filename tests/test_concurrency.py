"""Delivery concurrency (issue 20): one worker sends to several outlets at once
(`[delivery] parallel_outlets`) and several deliveries to one outlet at once where its
adapter allows (`concurrency`), against loopback receivers that take 100 ms to answer;
every delivery still arrives once, with its full trail."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from syndicate.engine import Engine
from syndicate.errors import ConfigurationError
from syndicate.project import Project
from syndicate.testing import LoopbackServer
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"c" * 32).decode()
LATENCY = 0.1


class SlowReceiver:
    """Answers every POST after `LATENCY` seconds; counts how many were in flight at
    once, and which webhook-ids arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.ids: Counter[str] = Counter()

    def __call__(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.ids[request.headers["webhook-id"]] += 1
        time.sleep(LATENCY)
        with self.lock:
            self.now -= 1
        return 204, {}, b""


def _home(
    tmp_path: Path, urls: dict[str, str], *, concurrency: int | None, parallel: int
) -> Path:
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[delivery]\nparallel_outlets = {parallel}\n")
        for name, url in urls.items():
            config.write(
                f'\n[outlets.{name}]\nkind = "webhook"\nurl = "{url}/{name}"\n'
                'secret = "${CONC_SECRET}"\nallow_private_network = true\n'
            )
            if concurrency is not None:
                config.write(f"concurrency = {concurrency}\n")
    return home


def _publish(home: Path, count: int) -> None:
    with Engine.open(home, environ={"CONC_SECRET": SECRET}) as engine:
        engine.items.publish_many(
            [content(index_no=f"CONC/2026-{n:05d}") for n in range(count)],
            actor="测试",
        )


def _sync(home: Path) -> Counter[str]:
    """Sync; how many events of each kind the deliveries log then holds."""
    with Engine.open(home, environ={"CONC_SECRET": SECRET}) as engine:
        result = engine.sync()
        assert result.ok, result
        trail: Counter[str] = Counter()
        for d in engine.deliveries.all_deliveries().values():
            for event in engine.deliveries.events.get(d.id):
                trail[type(event).__name__] += 1
    return trail


def test_one_outlet_takes_several_deliveries_at_once(tmp_path: Path) -> None:
    receiver = SlowReceiver()
    with LoopbackServer(receiver) as server:
        home = _home(tmp_path, {"cms": server.url}, concurrency=8, parallel=1)
        _publish(home, 40)
        trail = _sync(home)
    assert receiver.most >= 5, f"at most {receiver.most} in flight"
    assert len(receiver.ids) == 40
    assert set(receiver.ids.values()) == {1}  # each delivery once
    assert trail["Planned"] == trail["Claimed"] == trail["Succeeded"] == 40


def test_one_at_a_time_without_concurrency(tmp_path: Path) -> None:
    receiver = SlowReceiver()
    with LoopbackServer(receiver) as server:
        home = _home(tmp_path, {"cms": server.url}, concurrency=None, parallel=1)
        _publish(home, 10)
        trail = _sync(home)
    assert receiver.most == 1
    assert trail["Succeeded"] == 10


def test_several_outlets_at_once(tmp_path: Path) -> None:
    receiver = SlowReceiver()
    with LoopbackServer(receiver) as server:
        urls = dict.fromkeys(("cms-a", "cms-b", "cms-c"), server.url)
        home = _home(tmp_path, urls, concurrency=None, parallel=3)
        _publish(home, 6)
        trail = _sync(home)
    assert receiver.most >= 2, "the outlets were sent to one after another"
    assert len(receiver.ids) == 18
    assert set(receiver.ids.values()) == {1}
    assert trail["Succeeded"] == 18


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            '[outlets.files]\nkind = "directory"\npath = "out"\nconcurrency = 4\n',
            "outlets.files.concurrency: directory outlets send one delivery at a time",
        ),
        (
            '[outlets.cms]\nkind = "webhook"\nurl = "https://cms.example.cn/h"\n'
            'secret = "${CONC_SECRET}"\nconcurrency = 33\n',
            "outlets.cms.concurrency: must be a whole number from 1 to 32",
        ),
        (
            '[outlets.cms]\nkind = "webhook"\nurl = "https://cms.example.cn/h"\n'
            'secret = "${CONC_SECRET}"\nconcurrency = "many"\n',
            "outlets.cms.concurrency: must be a whole number from 1 to 32",
        ),
        (
            '[outlets.cms]\nkind = "webhook"\nurl = "https://cms.example.cn/h"\n'
            'secret = "${CONC_SECRET}"\nconcurrency = 4\nrate_per_minute = 20\n',
            "outlets.cms.concurrency: an outlet with a rate limit",
        ),
        (
            "[delivery]\nparallel_outlets = 0\n",
            "delivery.parallel_outlets: must be a whole number from 1 to 32",
        ),
    ],
)
def test_concurrency_settings_are_checked(
    tmp_path: Path, table: str, problem: str
) -> None:
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + table)
    with pytest.raises(ConfigurationError) as refused:
        _outlets_of(home)
    assert problem in str(refused.value)


def _outlets_of(home: Path) -> object:
    return Project.load(home, environ={"CONC_SECRET": SECRET}).outlets


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path: Path) -> None:
    """Concurrent sends keep the claim and outcome trail: after a stop mid-batch
    (claims given back or left to expire), a later sync delivers the rest, once each
    on the outlet's side (it deduplicates by webhook-id)."""
    receiver = SlowReceiver()
    with LoopbackServer(receiver) as server:
        home = _home(tmp_path, {"cms": server.url}, concurrency=8, parallel=1)
        _publish(home, 30)
        with Engine.open(home, environ={"CONC_SECRET": SECRET}) as engine:
            engine.plan()
            worker = engine.worker("w")
            timer = threading.Timer(
                0.15, lambda: setattr(worker, "stop_requested", True)
            )
            timer.start()
            worker.run_until_idle()
            timer.join()
            worker.close()
        trail = _sync(home)
    assert len(receiver.ids) == 30
    assert trail["Succeeded"] == 30
    claimed = trail["Claimed"]
    assert claimed >= 30
    # What was claimed and not sent was given back (Released) before the stop.
    assert claimed - 30 == trail["Released"]
