"""Test kit for code built on syndicate: clock, fake transport, loopback server, contracts.

Stable API, like `syndicate.errors`: adapter authors and portal backends may use it in their
own tests. `AdapterContract` is the contract every adapter passes; `kinds_without_contract`
finds installed adapter kinds that no test holds to it.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from uuid import UUID

import requests
import requests.adapters
from pydantic import ValidationError

from syndicate.adapter import (
    Capabilities,
    Confirms,
    DeliveryJob,
    ItemView,
    Operation,
    ReadsBack,
)
from syndicate.application import Disclosures
from syndicate.errors import DeliveryError

__all__ = [
    "AdapterContract",
    "Answer",
    "FakeTransport",
    "FixedClock",
    "LoopbackServer",
    "kinds_without_contract",
    "log_snapshot",
    "loopback_http_server",
    "sample_jobs",
]


class FixedClock:
    """A clock that says what the test tells it; `advance()` moves it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 10, 9, 1, 30, tzinfo=UTC)
        if self.now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by `timedelta(**delta)` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


def log_snapshot(disclosures: Disclosures) -> list[tuple[int, str, bytes]]:
    """Every stored event as (position, topic, state bytes), to prove nothing changed."""
    rows: list[tuple[int, str, bytes]] = []
    start = 0
    while True:
        page = disclosures.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=False
        )
        if not page:
            return rows
        rows.extend((n.id, n.topic, bytes(n.state)) for n in page)
        start = page[-1].id


class FakeTransport(requests.adapters.BaseAdapter):
    """A `requests` transport that answers from a script and records every request.

    Mount it on a real session: `session.mount("https://", fake)`. Each queued answer is a
    `(status, headers, body)` triple or an exception instance to raise.
    """

    def __init__(self, *answers: tuple[int, dict[str, str], bytes] | Exception) -> None:
        super().__init__()
        self.answers = list(answers)
        self.requests: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"FakeTransport has no answer left for {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers, body = answer
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""

    def session(self) -> requests.Session:
        """A session with this transport mounted for http and https."""
        session = requests.Session()
        session.mount("http://", self)
        session.mount("https://", self)
        return session


Answer = tuple[int, dict[str, str], bytes]
Handler = Callable[[BaseHTTPRequestHandler, bytes], Answer]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that timed out and left is part of a test's script."""


def loopback_http_server(
    answer: Callable[[BaseHTTPRequestHandler, bytes], Answer | None],
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 (a free port) and the thread that
    serves it (not started): every GET, POST, PUT and DELETE is answered with
    `answer(request, body)` as (status, headers, payload); None drops the connection
    unanswered, as does a request whose body was cut short (the sender died). Stop it
    with `server.shutdown()` and `server.server_close()`."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without this every keep-alive request waits ~40 ms for Nagle's algorithm.
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answered = answer(self, body) if len(body) == length else None
            if answered is None:
                self.close_connection = True
                return
            status, headers, payload = answered
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read what the server recorded instead."""

    server = _QuietServer(("127.0.0.1", 0), _Handler)
    # A short poll keeps shutdown() quick (the default waits up to 0.5 s).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    return server, thread


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers with `handler(request, body)`.

    Use it as a context manager; `url` is its base URL and `received` the requests it got,
    as (method, path, headers, body).
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda req, body: (200, {}, b"ok"))
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._server, self._thread = loopback_http_server(self._answer)

    def _answer(self, request: BaseHTTPRequestHandler, body: bytes) -> Answer:
        with self._lock:
            self.received.append(
                (request.command, request.path, dict(request.headers.items()), body)
            )
        return self.handler(request, body)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321"""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class AdapterContract:
    """Contract tests every adapter passes; subclass it in a `Test…` class.

    Set `adapter_class`, `settings` (a valid settings dict) and override `jobs()` if the
    sample jobs do not suit the adapter; override `transport_failure_session()` to give a
    session on which delivery fails at the transport level (default: a FakeTransport that
    raises `ConnectionError`). Adapters that write files rather than talk HTTP may set
    `network = False` to skip the transport test.

    A class named `Test…` whose `adapter_class` is an installed adapter is what
    `kinds_without_contract` counts as that kind's contract test.
    """

    adapter_class: ClassVar[type[Any]]
    settings: ClassVar[dict[str, Any]]
    network: ClassVar[bool] = True

    def make_adapter(self) -> Any:
        settings = self.adapter_class.Settings.model_validate(self.settings)
        return self.adapter_class(settings)

    def jobs(self) -> list[DeliveryJob]:
        return sample_jobs()

    def test_kind_and_entry_point_agree(self) -> None:
        from syndicate.registry import Registry

        registry = Registry.from_entry_points()
        kind = self.adapter_class.kind
        assert kind in registry, f"{kind!r} is not registered in syndicate.adapters"
        assert registry[kind] is self.adapter_class

    def test_settings_reject_an_empty_table(self) -> None:
        if not self.adapter_class.Settings.model_fields:
            return
        required = [
            n
            for n, f in self.adapter_class.Settings.model_fields.items()
            if f.is_required()
        ]
        if required:
            try:
                self.adapter_class.Settings.model_validate({})
            except ValidationError:
                return
            raise AssertionError("Settings accepted an empty table")

    def test_capabilities_are_declared(self) -> None:
        capabilities = self.adapter_class.capabilities
        assert isinstance(capabilities, Capabilities)
        # A flag the core acts on needs the method behind it (`syndicate.adapter`).
        if capabilities.reads_back:
            assert issubclass(self.adapter_class, ReadsBack), "reads_back: no read_back"
        if capabilities.confirms_async:
            assert issubclass(self.adapter_class, Confirms), (
                "confirms_async: no confirm"
            )
        label = getattr(self.adapter_class, "label", None)
        assert label is None or (isinstance(label, str) and label.strip()), (
            f"label {label!r} is not a display name"
        )

    def test_render_is_deterministic_and_hashed(self) -> None:
        for job in self.jobs():
            first = self.make_adapter().render(job)
            second = self.make_adapter().render(job)
            assert first == second, f"two renders of {job.operation} differ"
            assert first.sha256 == hashlib.sha256(first.data).hexdigest()
            assert first.key, "a rendition needs an idempotency key"
            limit = self.adapter_class.capabilities.max_bytes
            if limit is not None:
                assert len(first.data) <= limit

    def test_transport_failures_become_delivery_errors(self) -> None:
        if not self.network:
            return
        adapter = self.make_adapter()
        rendition = adapter.render(self.jobs()[0])
        fake = FakeTransport(requests.ConnectionError("connection reset by peer"))
        try:
            adapter.deliver(rendition, fake.session())
        except DeliveryError:
            return
        raise AssertionError("deliver() let a transport failure through")


def kinds_without_contract(
    registry: Mapping[str, type[Any]], *packages: str
) -> list[str]:
    """The kinds in `registry` that no contract test under `packages` covers, sorted.

    Imports every `test_*` module under the packages (importable names, e.g. "tests"),
    as pytest would, then looks at the `AdapterContract` subclasses that pytest runs
    (named `Test…`): a kind is covered when one's `adapter_class` is the very class
    registered for it. Pass `Registry.from_entry_points()` to check what is installed.
    """
    for package in packages:
        _import_test_modules(package)
    tested = {
        getattr(cls, "adapter_class", None)
        for cls in _subclasses(AdapterContract)
        if cls.__name__.startswith("Test")
    }
    return sorted(kind for kind in registry if registry[kind] not in tested)


def _import_test_modules(package: str) -> None:
    root = importlib.import_module(package)
    for found in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if found.name.rpartition(".")[2].startswith("test_"):
            importlib.import_module(found.name)


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def sample_jobs() -> list[DeliveryJob]:
    """A published, a revised and a withdrawn item, as jobs for contract tests."""
    from syndicate.domain.content import ItemContent, content_hash

    content = ItemContent.model_validate(
        {
            "agency": "临溪县民政局",
            "index_no": "11330100MB0000006R/2026-00019",
            "title": "临溪县2026年第一季度城乡最低生活保障审批结果公告",
            "body": "经审批，新增农村低保对象47户73人。",
            "area": "social_assistance",
            "stage": "result",
            "basis": "《社会救助暂行办法》第十一条",
            "formed_on": "2026-04-10",
        }
    )
    at = datetime(2026, 4, 11, 2, 0, tzinfo=UTC)
    view = ItemView(
        item_id=content.id,
        version=1,
        content=content,
        content_hash=content_hash(content),
        withdrawn=False,
        published_at=at,
        updated_at=at,
    )
    revised = replace(
        view, version=2, reason="更正人数", updated_at=at + timedelta(days=1)
    )
    withdrawn = replace(
        revised,
        version=3,
        withdrawn=True,
        public_note="该公告已撤回。",
        updated_at=at + timedelta(days=2),
    )
    return [
        DeliveryJob(UUID(int=1), "sample", None, Operation.PUBLISH, view),
        DeliveryJob(UUID(int=2), "sample", None, Operation.UPDATE, revised),
        DeliveryJob(UUID(int=3), "sample", None, Operation.CORRECTION, revised),
        DeliveryJob(UUID(int=4), "sample", None, Operation.RETRACT, withdrawn),
        DeliveryJob(
            UUID(int=5), "sample", None, Operation.WITHDRAWAL_NOTICE, withdrawn
        ),
    ]
