"""Fault matrix over real loopback sockets, on a fixed clock: each fault ends in its state."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from datetime import timedelta

import pytest
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings

from syndicate.delivery import Worker
from syndicate.domain.deliveries import DeliveryState
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"f" * 32).decode()


class FaultServer:
    """A raw TCP server that misbehaves in one chosen way per connection."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.hits = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)  # the request has been sent by now
                if self.mode == "reset":
                    conn.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0"
                    )
                elif self.mode == "garbage":
                    conn.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
                elif self.mode == "slow":
                    time.sleep(1.5)
                elif self.mode == "redirect":
                    conn.sendall(
                        b"HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/steal\r\n"
                        b"Content-Length: 0\r\n\r\n"
                    )
                elif self.mode == "retry-after":
                    conn.sendall(
                        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 90\r\n"
                        b"Content-Length: 0\r\n\r\n"
                    )

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


def run(project: Project, url: str) -> tuple[DeliveryState, float | None, str]:
    clock = FixedClock()
    hook = Outlet(
        name="cms",
        kind="webhook",
        channel=None,
        filter=OutletFilter(),
        settings=WebhookSettings(url=url, secret=SECRET, timeout=1),  # type: ignore[arg-type]
        adapter_class=WebhookAdapter,
        allow_private_network=True,  # the fault server is on 127.0.0.1
    )
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets={"cms": hook}) as deliveries,
    ):
        items.publish(content(), actor="t")
        deliveries.plan()
        Worker(deliveries, items, {"cms": hook}, name="w", clock=clock).run_until_idle()
        [d] = deliveries.all_deliveries().values()
        wait = (
            (d.due_at - clock.now).total_seconds()
            if d.state is DeliveryState.RETRYING
            else None
        )
        return d.state, wait, d.last_error or ""


@pytest.mark.parametrize(
    ("mode", "state", "wait", "error"),
    [
        ("reset", DeliveryState.RETRYING, (4, 6), "UnknownOutcomeError"),
        ("garbage", DeliveryState.RETRYING, (4, 6), "UnknownOutcomeError"),
        ("slow", DeliveryState.RETRYING, (4, 6), "UnknownOutcomeError"),
        ("redirect", DeliveryState.FAILED, None, "never followed"),
        ("retry-after", DeliveryState.RETRYING, (90, 90), "429"),
    ],
)
def test_fault_ends_in_its_documented_state(
    sqlite_project: Project,
    mode: str,
    state: DeliveryState,
    wait: tuple[float, float] | None,
    error: str,
) -> None:
    with FaultServer(mode) as server:
        got_state, got_wait, got_error = run(
            sqlite_project, f"http://127.0.0.1:{server.port}/h"
        )
    assert server.hits == 1  # one attempt, no hidden retries, no redirect followed
    assert got_state is state
    assert error in got_error
    if wait is None:
        assert got_wait is None
    else:
        assert got_wait is not None
        assert wait[0] <= got_wait <= wait[1]


def test_connection_refused_is_a_safe_retry(
    sqlite_project: Project, refused_port: int
) -> None:
    state, wait, error = run(sqlite_project, f"http://127.0.0.1:{refused_port}/h")
    assert state is DeliveryState.RETRYING
    assert wait is not None
    assert 4 <= wait <= 6
    assert "connection refused" in error


def test_three_days_of_failures_are_simulated_then_abandoned(
    sqlite_project: Project, refused_port: int
) -> None:
    clock = FixedClock()
    hook = Outlet(
        name="cms",
        kind="webhook",
        channel=None,
        filter=OutletFilter(),
        settings=WebhookSettings.model_validate(
            {
                "url": f"http://127.0.0.1:{refused_port}/h",
                "secret": SECRET,
                "timeout": 1,
            }
        ),
        adapter_class=WebhookAdapter,
        allow_private_network=True,  # the fault server is on 127.0.0.1
    )
    started = time.monotonic()
    with (
        sqlite_project.disclosures(clock=clock) as items,
        sqlite_project.deliveries(
            items, clock=clock, outlets={"cms": hook}
        ) as deliveries,
    ):
        items.publish(content(), actor="t")
        deliveries.plan()
        worker = Worker(deliveries, items, {"cms": hook}, name="w", clock=clock)
        waits = []
        while True:
            worker.run_until_idle()
            [d] = deliveries.all_deliveries().values()
            if d.state is not DeliveryState.RETRYING:
                break
            waits.append((d.due_at - clock.now).total_seconds())
            clock.now = d.due_at
    assert d.state is DeliveryState.ABANDONED
    assert clock.now - d.planned_at <= timedelta(days=3)
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000]
    for got, want in zip(waits, schedule, strict=False):
        assert want * 0.8 <= got <= want * 1.2
    assert len(waits) >= 7
    assert time.monotonic() - started < 5
