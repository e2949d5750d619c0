"""Delivery under hostile or broken receivers: real HTTP over loopback sockets.

Each receiver here misbehaves in one way (a `Retry-After` of 0 or of 2099, a 200 MB
answer, a body or headers trickled a byte at a time, JSON nested too deep, a TLS/plain
mismatch, a name that does not resolve…) and each test says what the worker records, how
long an attempt may take and how much of the answer is read. A fixed clock drives the
schedule; socket timeouts are real (an outlet timeout of 1 s).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel
from syndicate_adapters.dingtalk_group import (
    DingTalkGroupAdapter,
    DingTalkGroupSettings,
)
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings
from syndicate_adapters.wechat_mp import (
    WechatMpAdapter,
    WechatMpSettings,
    forget_tokens,
)
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

from syndicate.delivery import Backoff, Worker
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.netguard import RequestFailed, exchange, guard_session
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"h" * 32).decode()
WECOM_KEY = "hostile-key-0123456789abcdef"
DING_TOKEN = "hostiletoken0123456789abcdef"
APP_SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3t00"
PORTAL = "https://portal.example.gov.cn"
TIMEOUT = 1.0
HUGE = 200_000_000

# -- a receiver that misbehaves ------------------------------------------------------------

Behaviour = Callable[[socket.socket, str], None]


@dataclass
class HostileServer:
    """A raw TCP server on 127.0.0.1: reads each request, then runs `behaviour(conn,
    path)` (or the one for the request's path in `routes`). Counts requests and the
    bytes the behaviours managed to write."""

    behaviour: Behaviour | None = None
    routes: dict[str, Behaviour] = field(default_factory=dict)
    wrap: ssl.SSLContext | None = None
    paths: list[str] = field(default_factory=list)
    first_bytes: list[bytes] = field(default_factory=list)
    written: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(conn)
            conn.settimeout(30)
            if self.wrap is not None:
                try:
                    conn = self.wrap.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client gave up on the handshake
                stack.enter_context(conn)
            while not self._stop.is_set():
                try:
                    request = _read_request(conn)
                except OSError:
                    return
                if request is None:
                    return
                head, path = request
                with self._lock:
                    self.paths.append(path)
                    self.first_bytes.append(head[:16])
                route = path.split("?", 1)[0]
                behaviour = self.routes.get(route) or self.behaviour
                if behaviour is None:
                    return
                try:
                    behaviour(conn, path)
                except OSError:
                    return

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.written += len(data)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _read_request(conn: socket.socket) -> tuple[bytes, str] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None if not data else (data, "")
        data += chunk
        if not data[:1].isupper():
            return data, ""  # not HTTP (a TLS ClientHello): answer it as HTTP does
        if len(data) > 1_000_000:
            return data, ""
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    parts = head.split(b" ")
    path = parts[1].decode("latin-1") if len(parts) > 1 else ""
    return head, path


def answer(
    server: HostileServer,
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Behaviour:
    def run(conn: socket.socket, path: str) -> None:
        lines = [f"HTTP/1.1 {status} X"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        server.send(conn, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return run


def huge(server: HostileServer, status: int = 200) -> Behaviour:
    """Says 200 MB are coming, and sends them as fast as the client takes them."""

    def run(conn: socket.socket, path: str) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {HUGE}\r\n\r\n"
        server.send(conn, head.encode())
        chunk = b"{" * 65536
        sent = 0
        while sent < HUGE:
            server.send(conn, chunk)
            sent += len(chunk)

    return run


def trickle_body(
    server: HostileServer, body: bytes = b'{"errcode": 0}' * 20
) -> Behaviour:
    """Headers at once, then the body a byte every 0.1 s (each read succeeds)."""

    def run(conn: socket.socket, path: str) -> None:
        server.send(
            conn, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body:
            server.send(conn, bytes([byte]))
            time.sleep(0.1)

    return run


def trickle_headers(server: HostileServer) -> Behaviour:
    """The status line and headers a byte every 0.1 s, never finishing in time."""

    def run(conn: socket.socket, path: str) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 200:
            server.send(conn, bytes([byte]))
            time.sleep(0.1)

    return run


def tls_alert(server: HostileServer) -> Behaviour:
    """What a TLS-only port sends back to plain HTTP: a TLS alert record."""

    def run(conn: socket.socket, path: str) -> None:
        server.send(conn, b"\x15\x03\x01\x00\x02\x02\x46")
        conn.close()

    return run


@pytest.fixture
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


# -- outlets on a hostile server -----------------------------------------------------------


def _outlet(name: str, adapter: type[Any], settings: BaseModel, **kw: Any) -> Outlet:
    return Outlet(
        name=name,
        kind=adapter.kind,
        channel=None,
        filter=OutletFilter(),
        settings=settings,
        adapter_class=adapter,
        allow_private_network=True,  # the hostile server is on 127.0.0.1
        **kw,
    )


def webhook(url: str) -> Outlet:
    return _outlet(
        "cms",
        WebhookAdapter,
        WebhookSettings(url=url, secret=SECRET, timeout=TIMEOUT),  # type: ignore[arg-type]
    )


def wecom(base: str) -> Outlet:
    settings = WeComGroupSettings.model_validate(
        {
            "webhook": WECOM_KEY,
            "portal_url": PORTAL,
            "base_url": base,
            "timeout": TIMEOUT,
        }
    )
    return _outlet("village", WeComGroupAdapter, settings, rate_per_minute=20)


def dingtalk(base: str) -> Outlet:
    settings = DingTalkGroupSettings.model_validate(
        {
            "access_token": DING_TOKEN,
            "portal_url": PORTAL,
            "base_url": base,
            "timeout": TIMEOUT,
        }
    )
    return _outlet("ding", DingTalkGroupAdapter, settings, rate_per_minute=20)


def wechat(base: str) -> Outlet:
    settings = WechatMpSettings.model_validate(
        {
            "app_id": "wx0123456789abcdef",
            "app_secret": APP_SECRET,
            "portal_url": PORTAL,
            "base_url": base,
            "timeout": TIMEOUT,
        }
    )
    return _outlet("mp", WechatMpAdapter, settings)


ROBOTS = {"wecom": wecom, "dingtalk": dingtalk}


@dataclass
class Run:
    """What one worker run did to the only delivery (or to each)."""

    deliveries: list[Delivery]
    events: list[list[Any]]
    seconds: float
    now: dt.datetime

    @property
    def only(self) -> Delivery:
        [delivery] = self.deliveries
        return delivery

    def wait(self) -> float:
        return (self.only.due_at - self.now).total_seconds()


@contextlib.contextmanager
def rig(
    project: Project, outlet: Outlet, *, items: int = 1, backoff: Backoff | None = None
) -> Iterator[Callable[[], Run]]:
    """Publish `items` items to `outlet`; each call of the yielded function runs the
    worker once (in real time) and says what the deliveries are now."""
    forget_tokens()
    clock = FixedClock()
    outlets = {outlet.name: outlet}
    with (
        project.disclosures(clock=clock) as log,
        project.deliveries(log, clock=clock, outlets=outlets) as deliveries,
    ):
        for n in range(items):
            log.publish(content(index_no=f"H/2026-{n:03}"), actor="t")
        deliveries.plan()
        worker = Worker(
            deliveries, log, outlets, name="w", clock=clock, backoff=backoff
        )

        def run() -> Run:
            started = time.monotonic()
            worker.run_until_idle()
            seconds = time.monotonic() - started
            found = sorted(
                deliveries.all_deliveries().values(), key=lambda d: d.position
            )
            fresh = [deliveries.delivery(d.id) for d in found]
            events = [list(deliveries.events.get(d.id)) for d in found]
            return Run(fresh, events, seconds, clock.now)

        run.clock = clock  # type: ignore[attr-defined]
        try:
            yield run
        finally:
            worker.close()


def clock_of(run: Callable[[], Run]) -> FixedClock:
    clock: FixedClock = run.clock  # type: ignore[attr-defined]
    return clock


# -- Retry-After: never below the schedule, never beyond a day ---------------------------


@pytest.mark.parametrize("value", ["0", "-5", "0.0001"])
def test_a_zero_or_negative_retry_after_never_beats_the_schedule(
    sqlite_project: Project, value: str
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, 429, headers={"Retry-After": value})
        with rig(sqlite_project, webhook(server.url + "/h"), items=2) as run:
            clock = clock_of(run)
            start = clock.now
            first = run()
            waits = [(d.due_at - clock.now).total_seconds() for d in first.deliveries]
            assert all(4 <= w <= 6 for w in waits), waits  # 5 s ± 20 %, not 1 s
            # An hour of a receiver that always says "come back now".
            while True:
                result = run()
                due = min(d.due_at for d in result.deliveries)
                if due - start > dt.timedelta(hours=1):
                    break
                clock.now = max(clock.now, due)
    # Attempts of each delivery in that hour: at 0, ~5 s, ~5 min, ~35 min.
    assert len(server.paths) <= 2 * 4, len(server.paths)
    for events in result.events:
        hour = [e for e in events if e.timestamp - start <= dt.timedelta(hours=1)]
        assert len(hour) <= 1 + 2 * 5  # Planned, then Claimed + Failed per attempt
    assert all(d.state is DeliveryState.RETRYING for d in result.deliveries)


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Oct 2099 07:28:00 GMT",
        "Wed, 21 Oct 2099 07:28:00 -0000",  # no zone: taken as UTC, not a crash
        "100000000000000000000000",
        "inf",
        "1e400",
    ],
)
def test_a_far_off_retry_after_is_capped_and_retried_until_the_age_limit(
    sqlite_project: Project, value: str
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, 503, headers={"Retry-After": value})
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            clock = clock_of(run)
            first = run()
            assert first.only.state is DeliveryState.RETRYING, first.only.last_error
            assert 4 <= first.wait() <= 86400  # capped at a day, not given up
            while True:
                result = run()
                if result.only.state is not DeliveryState.RETRYING:
                    break
                clock.now = result.only.due_at
    delivery = result.only
    assert delivery.state is DeliveryState.ABANDONED
    # Tried every day until the age limit, the last time at it.
    assert clock.now - delivery.planned_at == dt.timedelta(days=3)
    assert len(server.paths) == 4  # at 0 h, 24 h, 48 h and 72 h
    reason = delivery.last_error or ""
    assert "still failing after 4 attempts over 72 h (the limit is 72 h)" in reason
    assert "503" in reason


def test_garbage_retry_after_falls_back_to_the_schedule(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, 429, headers={"Retry-After": "soon, maybe"})
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            first = run()
    assert first.only.state is DeliveryState.RETRYING
    assert 4 <= first.wait() <= 6


def test_a_retry_after_longer_than_the_schedule_is_honoured(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, 429, headers={"Retry-After": "3600"})
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            assert run().wait() == 3600


def test_the_last_try_is_at_the_age_limit_and_the_message_is_true(
    sqlite_project: Project,
) -> None:
    backoff = Backoff(max_age=dt.timedelta(hours=1))
    with HostileServer() as server:
        server.behaviour = answer(server, 502)
        with rig(sqlite_project, webhook(server.url + "/h"), backoff=backoff) as run:
            clock = clock_of(run)
            while True:
                result = run()
                if result.only.state is not DeliveryState.RETRYING:
                    break
                clock.now = result.only.due_at
    # 0, ~5 s, ~5 min, ~35 min, then 1 h (the 2 h step is cut short to the limit).
    assert len(server.paths) == 5
    assert clock.now - result.only.planned_at == dt.timedelta(hours=1)
    assert "still failing after 5 attempts over 1 h (the limit is 1 h)" in (
        result.only.last_error or ""
    )


# -- huge, slow and broken answers ---------------------------------------------------------


def test_a_huge_answer_is_not_downloaded_by_a_webhook(sqlite_project: Project) -> None:
    with HostileServer() as server:
        server.behaviour = huge(server)
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    assert result.only.state is DeliveryState.SUCCEEDED  # the status is what counts
    # The server could push what fits in the socket buffers, not 200 MB.
    assert server.written < 20_000_000, server.written
    assert result.seconds < 5


def test_a_huge_error_answer_is_a_plain_retry(sqlite_project: Project) -> None:
    with HostileServer() as server:
        server.behaviour = huge(server, status=500)
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    assert result.only.state is DeliveryState.RETRYING
    assert server.written < 20_000_000


def test_a_trickled_body_does_not_hold_a_webhook_worker(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.behaviour = trickle_body(server)
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    # 280 bytes at 10 a second would take 28 s; the attempt ends at the outlet's timeout.
    assert result.seconds < TIMEOUT + 1.5, result.seconds
    assert result.only.state is DeliveryState.SUCCEEDED


def test_trickled_headers_do_not_hold_a_webhook_worker(sqlite_project: Project) -> None:
    with HostileServer() as server:
        server.behaviour = trickle_headers(server)
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    assert result.seconds < TIMEOUT + 1.5, result.seconds
    assert result.only.state is DeliveryState.RETRYING  # webhooks deduplicate
    assert "UnknownOutcomeError" in (result.only.last_error or "")
    assert "within 1 s" in (result.only.last_error or "")


@pytest.mark.parametrize("kind", sorted(ROBOTS))
@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("huge", "larger than 65,536 bytes"),
        ("trickle_body", "did not arrive within 1 s"),
        ("trickle_headers", "no answer from"),
        ("nested_json", "not the robot API's JSON"),
        ("html", "not the robot API's JSON"),
        ("truncated_json", "not the robot API's JSON"),
    ],
)
def test_a_robot_answer_that_cannot_be_read_is_unconfirmed_in_time(
    sqlite_project: Project, kind: str, fault: str, says: str
) -> None:
    with HostileServer() as server:
        server.behaviour = {
            "huge": huge(server),
            "trickle_body": trickle_body(server),
            "trickle_headers": trickle_headers(server),
            "nested_json": answer(server, body=b"[" * 20_000 + b"]" * 20_000),
            "html": answer(
                server,
                body=b"<html>portal login</html>",
                headers={"Content-Type": "text/html"},
            ),
            "truncated_json": answer(server, body=b'{"errcode": 0, "errm'),
        }[fault]
        with rig(sqlite_project, ROBOTS[kind](server.url)) as run:
            result = run()
    delivery = result.only
    # The message may have reached the group: never resent on its own, and said why.
    assert delivery.state is DeliveryState.UNCONFIRMED, delivery.last_error
    assert says in (delivery.last_error or "")
    assert len(server.paths) == 1
    assert result.seconds < TIMEOUT + 1.5, result.seconds
    assert server.written < 20_000_000
    for secret in (WECOM_KEY, DING_TOKEN):
        assert secret not in (delivery.last_error or "")


@pytest.mark.parametrize("kind", sorted(ROBOTS))
@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"Retry-After": "120"}, (120, 120)),
        (429, {}, (4, 6)),
        (429, {"Retry-After": "0"}, (4, 6)),
        (503, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, (86400, 86400)),
        (502, {}, (4, 6)),
    ],
)
def test_robots_honour_retry_after_within_bounds(
    sqlite_project: Project,
    kind: str,
    status: int,
    headers: dict[str, str],
    wait: tuple[float, float],
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, status, headers=headers)
        with rig(sqlite_project, ROBOTS[kind](server.url)) as run:
            result = run()
    assert result.only.state is DeliveryState.RETRYING
    assert wait[0] <= result.wait() <= wait[1]


WECHAT_OK: dict[str, bytes] = {
    "/cgi-bin/stable_token": b'{"access_token": "'
    + b"T" * 40
    + b'", "expires_in": 7200}',
    "/cgi-bin/freepublish/batchget": b'{"total_count": 0, "item_count": 0, "item": []}',
    "/cgi-bin/material/add_material": b'{"media_id": "M1", "url": ""}',
    "/cgi-bin/draft/add": b'{"media_id": "D1"}',
    "/cgi-bin/freepublish/submit": b'{"errcode": 0, "errmsg": "ok", "publish_id": "P1"}',
}


@pytest.mark.parametrize(
    ("api", "fault", "state"),
    [
        ("stable_token", "huge", DeliveryState.RETRYING),
        ("stable_token", "trickle_body", DeliveryState.RETRYING),
        ("stable_token", "nested_json", DeliveryState.RETRYING),
        ("stable_token", "absurd_expiry", DeliveryState.SUBMITTED),
        ("freepublish/batchget", "trickle_headers", DeliveryState.RETRYING),
        ("material/add_material", "huge", DeliveryState.RETRYING),
        ("draft/add", "trickle_body", DeliveryState.RETRYING),
        # The answer to submit is lost: looked up, not found, never resent on its own.
        ("freepublish/submit", "huge", DeliveryState.UNCONFIRMED),
        ("freepublish/submit", "trickle_headers", DeliveryState.UNCONFIRMED),
    ],
)
def test_wechat_calls_read_bounded_answers_in_time(
    sqlite_project: Project, api: str, fault: str, state: DeliveryState
) -> None:
    with HostileServer() as server:
        server.routes = {
            path: answer(server, body=body) for path, body in WECHAT_OK.items()
        }
        server.routes["/cgi-bin/" + api] = {
            "huge": huge(server),
            "trickle_body": trickle_body(server),
            "trickle_headers": trickle_headers(server),
            "nested_json": answer(server, body=b"[" * 20_000 + b"]" * 20_000),
            "absurd_expiry": answer(
                server,
                body=b'{"access_token": "'
                + b"T" * 40
                + b'", "expires_in": 10'
                + b"0" * 30
                + b"}",
            ),
        }[fault]
        with rig(sqlite_project, wechat(server.url)) as run:
            result = run()
    delivery = result.only
    assert delivery.state is state, delivery.last_error
    assert result.seconds < 3 * (TIMEOUT + 1.5), result.seconds
    assert server.written < 20_000_000
    assert APP_SECRET not in (delivery.last_error or "")
    if state is DeliveryState.RETRYING:
        assert "TransientDeliveryError" in (delivery.last_error or "")


# -- failures before anything was sent: named, and safe to retry ---------------------------


def _error_class(run: Run) -> str:
    failed = [e for e in run.events[0] if isinstance(e, Delivery.Failed)]
    return failed[-1].error_class


def test_an_unresolvable_host_is_a_dns_failure_not_an_unknown_outcome(
    sqlite_project: Project,
) -> None:
    # .invalid never resolves (RFC 6761).
    with rig(sqlite_project, webhook("http://receiver.invalid/h")) as run:
        result = run()
    assert result.only.state is DeliveryState.RETRYING
    assert _error_class(result) == "TransientDeliveryError"
    error = result.only.last_error or ""
    assert "cannot resolve receiver.invalid: DNS lookup failed" in error
    assert "nothing was sent" in error
    assert "connection broken" not in error


@pytest.mark.parametrize("kind", sorted(ROBOTS))
def test_robots_tell_dns_failures_from_refused_connections(
    sqlite_project: Project, kind: str, refused_port: int, tmp_path: Path
) -> None:
    with rig(sqlite_project, ROBOTS[kind]("http://robot.invalid")) as run:
        dns = run()
    assert dns.only.state is DeliveryState.RETRYING
    assert "DNS lookup failed" in (dns.only.last_error or "")
    assert "refused" not in (dns.only.last_error or "")
    assert _error_class(dns) == "TransientDeliveryError"
    other, _ = Project.init(tmp_path / "other", environ={}, keys=False, review=False)
    with rig(other, ROBOTS[kind](f"http://127.0.0.1:{refused_port}")) as run:
        refused = run()
    assert refused.only.state is DeliveryState.RETRYING
    assert _error_class(refused) == "TransientDeliveryError"
    assert "connection refused" in (refused.only.last_error or "")
    assert "DNS" not in (refused.only.last_error or "")


def test_https_to_a_plain_http_port_is_a_tls_failure_before_sending(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(server, 400, body=b"plain HTTP here")
        with rig(sqlite_project, webhook(f"https://127.0.0.1:{server.port}/h")) as run:
            result = run()
    assert result.only.state is DeliveryState.RETRYING
    assert _error_class(result) == "TransientDeliveryError"
    error = result.only.last_error or ""
    assert "TLS handshake" in error
    assert "nothing was sent" in error
    # The server saw a TLS ClientHello, never the request.
    assert all(not line.startswith(b"POST") for line in server.first_bytes)


def test_an_untrusted_certificate_is_a_tls_failure_before_sending(
    sqlite_project: Project, self_signed: ssl.SSLContext
) -> None:
    with HostileServer(wrap=self_signed) as server:
        server.behaviour = answer(server, 200)
        with rig(sqlite_project, webhook(f"https://127.0.0.1:{server.port}/h")) as run:
            result = run()
    assert result.only.state is DeliveryState.RETRYING
    assert _error_class(result) == "TransientDeliveryError"
    assert "certificate verify failed" in (result.only.last_error or "")
    assert server.paths == []  # nothing was sent


def test_plain_http_to_a_tls_port_says_to_use_https(sqlite_project: Project) -> None:
    with HostileServer() as server:
        server.behaviour = tls_alert(server)
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    # The request went out in the clear: the outcome is unknown (a webhook resends it).
    assert _error_class(result) == "UnknownOutcomeError"
    assert "use an https:// URL" in (result.only.last_error or "")


def test_a_redirect_is_not_followed_and_its_query_not_shown(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(
            server,
            307,
            headers={"Location": "https://elsewhere.example/h?token=abc123"},
        )
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    assert result.only.state is DeliveryState.FAILED
    error = result.only.last_error or ""
    assert "https://elsewhere.example/h" in error
    assert "abc123" not in error
    assert len(server.paths) == 1


def test_a_check_answered_with_retry_after_zero_keeps_the_check_schedule(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        server.routes = {
            path: answer(server, body=body) for path, body in WECHAT_OK.items()
        }
        server.routes["/cgi-bin/freepublish/get"] = answer(
            server, 503, headers={"Retry-After": "0"}
        )
        with rig(sqlite_project, wechat(server.url)) as run:
            clock = clock_of(run)
            start = clock.now
            result = run()
            assert result.only.state is DeliveryState.SUBMITTED
            while result.only.due_at - start <= dt.timedelta(hours=1):
                clock.now = result.only.due_at
                result = run()
                assert result.only.state is DeliveryState.SUBMITTED
    checks = [p for p in server.paths if p.startswith("/cgi-bin/freepublish/get")]
    # 10 s, 30 s, 1 min, 5 min, 15 min, 30 min apart: 6 checks in the first hour.
    assert len(checks) == 6, len(checks)
    hour = [e for e in result.events[0] if e.timestamp - start <= dt.timedelta(hours=1)]
    assert len(hour) <= 1 + 2 + 2 * 6  # planned, the send, then each check
    assert "503" in (result.only.last_error or "")


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """100 MB of zeros, gzipped to about 100 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * 1_000_000
    return b"".join(packer.compress(block) for _ in range(100)) + packer.flush()


@pytest.mark.parametrize("kind", sorted(ROBOTS))
def test_a_compressed_bomb_is_not_inflated(
    sqlite_project: Project, kind: str, gzip_bomb: bytes
) -> None:
    with HostileServer() as server:
        server.behaviour = answer(
            server, body=gzip_bomb, headers={"Content-Encoding": "gzip"}
        )
        with rig(sqlite_project, ROBOTS[kind](server.url)) as run:
            tracemalloc.start()
            try:
                result = run()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert result.only.state is DeliveryState.UNCONFIRMED
    assert "larger than 65,536 bytes" in (result.only.last_error or "")
    assert peak < 20_000_000, peak  # not the 100 MB it inflates to


def test_a_proxy_that_is_down_is_named_and_nothing_was_sent(refused_port: int) -> None:
    session = guard_session(requests.Session(), allow_private=True)
    session.proxies = {"http": f"http://127.0.0.1:{refused_port}"}
    with pytest.raises(RequestFailed) as info:
        exchange(
            session, "POST", "http://receiver.example/h", timeout=TIMEOUT, limit=10
        )
    assert info.value.sent is False
    assert info.value.code == "connect"
    assert "through the proxy" in info.value.what
    assert "receiver.example" in info.value.what


def _wechat_server(server: HostileServer, **faults: Behaviour) -> None:
    server.routes = {
        path: answer(server, body=body) for path, body in WECHAT_OK.items()
    }
    server.routes.update({"/cgi-bin/" + api: b for api, b in faults.items()})


def test_a_submit_accepted_without_a_publish_id_is_never_resent(
    sqlite_project: Project,
) -> None:
    with HostileServer() as server:
        _wechat_server(
            server,
            **{
                "freepublish/submit": answer(
                    server, body=b'{"errcode": 0, "errmsg": "ok"}'
                )
            },
        )
        with rig(sqlite_project, wechat(server.url)) as run:
            result = run()
    assert result.only.state is DeliveryState.UNCONFIRMED, result.only.last_error
    assert "no usable publish_id" in (result.only.last_error or "")


def test_a_junk_look_up_answer_cannot_turn_a_lost_submit_into_a_resend(
    sqlite_project: Project,
) -> None:
    junk = b'{"total_count": 2, "item": ["junk", {"content": "junk"}, 7]}'
    with HostileServer() as server:
        _wechat_server(
            server,
            **{
                "freepublish/batchget": answer(server, body=junk),
                "freepublish/submit": trickle_headers(server),
            },
        )
        with rig(sqlite_project, wechat(server.url)) as run:
            result = run()
    # Before: the junk made the look-up crash, recorded as a transient "adapter error",
    # and the worker would have published it again.
    assert result.only.state is DeliveryState.UNCONFIRMED, result.only.last_error


def test_a_junk_publish_status_answer_still_confirms(sqlite_project: Project) -> None:
    done = b'{"publish_id": "P1", "publish_status": 0, "article_id": "A1", "article_detail": "junk"}'
    with HostileServer() as server:
        _wechat_server(server, **{"freepublish/get": answer(server, body=done)})
        with rig(sqlite_project, wechat(server.url)) as run:
            clock = clock_of(run)
            result = run()
            clock.now = result.only.due_at
            result = run()
    assert result.only.state is DeliveryState.SUCCEEDED, result.only.last_error
    assert result.only.receipt is not None
    assert result.only.receipt["article_id"] == "A1"


def test_an_endless_stream_of_100_continue_is_cut_off(sqlite_project: Project) -> None:
    with HostileServer() as server:

        def interim(conn: socket.socket, path: str) -> None:
            for _ in range(10_000):
                server.send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
                time.sleep(0.01)

        server.behaviour = interim
        with rig(sqlite_project, webhook(server.url + "/h")) as run:
            result = run()
    assert result.seconds < TIMEOUT + 1.5, result.seconds
    assert result.only.state is DeliveryState.RETRYING
    assert "within 1 s" in (result.only.last_error or "")
