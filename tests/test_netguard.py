"""The network guard: no request reaches loopback, private or other internal addresses.

Decisions are tested as tables; the connect path over real loopback sockets with a fake
resolver (`socket.getaddrinfo` patched), so nothing here touches the internet.
"""

from __future__ import annotations

import base64
import http.client
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from pydantic import BaseModel, ConfigDict, HttpUrl, SecretStr
from syndicate_adapters.rss import RssAdapter, RssSettings
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

from syndicate.adapter import Capabilities, DeliveryJob, Receipt, Rendition
from syndicate.delivery import Worker
from syndicate.domain.deliveries import DeliveryState
from syndicate.errors import ConfigurationError
from syndicate.netguard import (
    BlockedAddressError,
    GuardedAdapter,
    OutboundEnvironment,
    blocked_cause,
    check_address,
    check_url,
    guard_session,
)
from syndicate.outlets import Outlet, OutletFilter, load_outlets
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import FakeTransport, FixedClock, LoopbackServer
from syndicate.testing.fakes import WeComRobotServer
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()
PUBLIC = "93.184.216.34"  # an ordinary public address; never actually connected to

# -- addresses -----------------------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("169.254.0.1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.255", "carrier-grade NAT"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("192.0.2.10", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
    ("240.0.0.1", "reserved"),
    ("::1", "loopback"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fec0::1", "site-local"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("4000::1", "special-purpose"),  # unallocated: not global
    # IPv6 forms that carry an IPv4 address
    ("::ffff:127.0.0.1", "IPv4-mapped address that carries 127.0.0.1, a loopback"),
    ("::ffff:169.254.169.254", "carries 169.254.169.254, a link-local"),
    ("::ffff:10.0.0.5", "carries 10.0.0.5, a private"),
    ("64:ff9b::7f00:1", "NAT64 address that carries 127.0.0.1, a loopback"),
    ("64:ff9b::a00:5", "NAT64 address that carries 10.0.0.5"),
    ("64:ff9b:1::5db8:d822", "local-use NAT64"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:5db8:d822::1", "6to4"),  # refused outright, whatever it embeds
    ("2001::5efe:7f00:1", "Teredo"),
]
NEVER = [
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("ff02::1", "multicast"),
    ("::ffff:224.0.0.1", "multicast"),
]
ALLOWED = [
    PUBLIC,
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below carrier-grade NAT
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.1",
    "192.169.0.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:93.184.216.34",  # IPv4-mapped public
    "64:ff9b::5db8:d822",  # NAT64 of a public address
]


@pytest.mark.parametrize(("ip", "what"), REFUSED)
def test_internal_ranges_are_refused_unless_the_outlet_allows_them(
    ip: str, what: str
) -> None:
    reason = check_address(ip)
    assert reason is not None
    assert what in reason
    assert check_address(ip, allow_private=True) is None


@pytest.mark.parametrize(("ip", "what"), NEVER)
def test_non_destinations_are_refused_even_for_intranet_outlets(
    ip: str, what: str
) -> None:
    for allow_private in (False, True):
        reason = check_address(ip, allow_private=allow_private)
        assert reason is not None
        assert what in reason


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_pass(ip: str) -> None:
    assert check_address(ip) is None


def test_check_address_takes_ipaddress_objects_and_rejects_garbage() -> None:
    import ipaddress

    assert check_address(ipaddress.ip_address("10.1.1.1")) == "a private address"
    with pytest.raises(ValueError, match="does not appear to be"):
        check_address("localhost")


# -- URLs ----------------------------------------------------------------------------------

BAD_URLS = [
    # alternative IPv4 notations: refused outright, naming what they mean
    ("http://2130706433/", "non-standard way to write 127.0.0.1 (a loopback address)"),
    ("http://0177.0.0.1/", "non-standard way to write 127.0.0.1"),
    ("http://0x7f.1/", "non-standard way to write 127.0.0.1"),
    ("http://0x7F.0.0.1/", "non-standard way to write 127.0.0.1"),
    ("http://127.1/", "non-standard way to write 127.0.0.1"),
    ("http://127.0.1/", "non-standard way to write 127.0.0.1"),
    ("http://0/", "non-standard way to write 0.0.0.0"),
    ("http://017700000001/", "non-standard way to write 127.0.0.1"),
    ("http://127.0.0.1./", "non-standard way to write 127.0.0.1"),
    ("http://0xa9fea9fe/", "non-standard way to write 169.254.169.254"),
    ("http://0x5d.0xb8.0xd8.0x22/", f"write the address as {PUBLIC}"),  # even public
    ("http://256.0.0.1/", "looks like an IPv4 address but is not one"),
    ("http://1.2.3.4.5/", "looks like an IPv4 address but is not one"),
    ("http://4294967296/", "looks like an IPv4 address but is not one"),
    ("http://intranet.09/", "looks like an IPv4 address but is not one"),
    # literals
    ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
    ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.1.1/", "carrier-grade NAT"),
    ("http://0.0.0.0:80/", "unspecified"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is an IPv4-mapped address"),
    ("http://[::ffff:7f00:1]/", "carries 127.0.0.1"),
    ("http://[64:ff9b::7f00:1]/", "carries 127.0.0.1"),
    ("http://[2002:7f00:1::]/", "6to4"),
    ("http://[fe80::1%25eth0]:8080/", "fe80::1 is a link-local address"),
    ("http://[fd00::1]/", "unique-local"),
    # names
    ("http://localhost:8080/", "localhost is a loopback name"),
    ("http://LOCALHOST./", "loopback name"),
    ("http://api.localhost/", "loopback name"),
    # full-width letters and digits, ideographic dots: IDNA (UTS #46) maps them to ASCII
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "loopback name"),
    (
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
        "127.0.0.1 is a loopback address",
    ),
    ("http://127\u30020\u30020\u30021/", "127.0.0.1 is a loopback address"),
    # shape
    ("ftp://example.com/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("//example.com/", "only http and https URLs are allowed, not no scheme"),
    ("https://user:hunter2@example.com/", "user name or password"),
    ("https://example.com@127.0.0.1/", "user name or password"),
    ("http://example.com\\@127.0.0.1/", "backslashes"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com\t/", "control characters"),
    ("http:///path", "no host"),
    ("http://[::1/", "not well formed"),
    ("http://[v1.fe]/", "not a valid IPv6 address"),
    ("http://example.com:99999/", "port"),
    ("http://%6c%6f%63%61%6c%68%6f%73%74/", "percent-encoded"),
    ("http://a..b/", "not well formed"),
    ("http://exa$mple.com/", "not a valid name"),
]
GOOD_URLS = [
    "https://example.com/hook?key=abc",
    "HTTPS://Example.COM:8443/Hook",
    "https://example.com./hook",  # fully qualified, trailing dot
    f"http://{PUBLIC}/x",
    "http://[2606:4700:4700::1111]:80/x",
    "https://bücher.example/",  # IDNA
    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
    "http://10.example.com/",  # a name that merely starts with a number
    "http://0x7f.example/",
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_check_url_refuses_with_a_clear_reason(url: str, problem: str) -> None:
    with pytest.raises(BlockedAddressError) as info:
        check_url(url, allow_private=False)
    assert problem in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "meta-data" not in str(info.value)  # never the path


@pytest.mark.parametrize("url", GOOD_URLS)
def test_check_url_lets_public_urls_through(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://10.0.0.5/",
        "http://localhost/",
        "http://[fe80::1%25eth0]/",
        "http://[::ffff:192.168.0.1]/",
    ],
)
def test_allow_private_lets_intranet_urls_through(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/", "http://0.0.0.0/", "http://224.0.0.1/", "ftp://10.0.0.1/"],
)
def test_allow_private_still_refuses_ambiguous_and_non_destinations(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        check_url(url, allow_private=True)


def test_only_internal_refusals_suggest_the_flag() -> None:
    with pytest.raises(BlockedAddressError) as loopback:
        check_url("http://127.0.0.1/", allow_private=False)
    assert loopback.value.private
    assert "allow_private_network = true" in str(loopback.value)
    with pytest.raises(BlockedAddressError) as multicast:
        check_url("http://224.0.0.1/", allow_private=False)
    assert not multicast.value.private
    assert "allow_private_network" not in str(multicast.value)


# -- the connect path ----------------------------------------------------------------------


class Resolver:
    """A fake DNS: names map to a list of answers, one list per lookup (the last repeats)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.asked: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, *args: Any
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        if name not in self.answers:
            return self._real(host, port, family, type, *args)
        queue = self.answers[name]
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        port_number = int(port or 0)
        found: list[Any] = []
        for ip in ips:
            if ":" in ip:
                found.append(
                    (
                        socket.AF_INET6,
                        socket.SOCK_STREAM,
                        6,
                        "",
                        (ip, port_number, 0, 0),
                    )
                )
            else:
                found.append(
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port_number))
                )
        return found


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    return Resolver(monkeypatch)


def port_of(server: LoopbackServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def guarded(*, allow_private: bool) -> requests.Session:
    session = guard_session(requests.Session(), allow_private=allow_private)
    session.trust_env = False  # no proxy from the test machine's environment
    return session


def test_a_request_to_loopback_fails_before_a_byte_is_sent() -> None:
    with LoopbackServer() as server, guarded(allow_private=False) as session:
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback"):
            session.post(server.url + "/hook", data=b"x", timeout=5)
        assert server.received == []


def test_a_name_that_resolves_to_loopback_is_refused_at_connect_time(
    resolver: Resolver,
) -> None:
    with LoopbackServer() as server, guarded(allow_private=False) as session:
        resolver.add("cms.example", ["127.0.0.1"])
        url = f"http://cms.example:{port_of(server)}/hook"
        check_url(url, allow_private=False)  # the name itself is fine …
        with pytest.raises(BlockedAddressError) as info:
            session.post(url, data=b"x", timeout=5)  # … what it resolves to is not
        assert "cms.example resolves to 127.0.0.1, a loopback address" in str(
            info.value
        )
        assert server.received == []


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        (["10.0.0.5"], "resolves to 10.0.0.5, a private address"),
        (["169.254.169.254"], "link-local"),
        (["::1"], "resolves to ::1, a loopback address"),
        (["::ffff:127.0.0.1"], "resolves to ::ffff:127.0.0.1, an IPv4-mapped"),
        ([PUBLIC, "10.0.0.5"], "resolves to 10.0.0.5"),  # one bad answer is enough
        (["0.0.0.0"], "unspecified"),  # noqa: S104 - an address under test
    ],
)
def test_every_resolved_address_is_checked_before_connecting(
    resolver: Resolver,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[str],
    problem: str,
) -> None:
    connected: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda s, a: connected.append(a))
    resolver.add("cms.example", answers)
    with (
        guarded(allow_private=False) as session,
        pytest.raises(BlockedAddressError) as info,
    ):
        session.get("https://cms.example/x", timeout=5)
    assert problem in str(info.value)
    assert connected == []


def test_dns_rebinding_cannot_move_the_connection_after_the_check(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once; the connection goes to the address that was checked."""
    connected: list[Any] = []

    def connect(sock: socket.socket, address: Any) -> None:
        connected.append(address)
        raise ConnectionRefusedError(111, "Connection refused (test)")

    with LoopbackServer() as server:
        port = port_of(server)
        # First answer public (checked), any later answer loopback (the rebinding).
        resolver.add("rebind.example", [PUBLIC], ["127.0.0.1"])
        monkeypatch.setattr(socket.socket, "connect", connect)
        with (
            guarded(allow_private=False) as session,
            pytest.raises(requests.ConnectionError) as info,
        ):
            session.post(f"http://rebind.example:{port}/hook", data=b"x", timeout=5)
        assert not isinstance(info.value, BlockedAddressError)
        assert resolver.asked.count("rebind.example") == 1
        assert connected == [(PUBLIC, port)]
        assert server.received == []


def test_intranet_outlets_connect_to_the_checked_address_with_the_name_as_host(
    resolver: Resolver,
) -> None:
    with LoopbackServer() as server, guarded(allow_private=True) as session:
        resolver.add("cms.intranet", ["127.0.0.1"])
        port = port_of(server)
        response = session.post(
            f"http://cms.intranet:{port}/hook", data=b"x", timeout=5
        )
        assert response.status_code == 200
        [(method, path, headers, body)] = server.received
        assert (method, path, body) == ("POST", "/hook", b"x")
        assert headers["Host"] == f"cms.intranet:{port}"


def test_intranet_outlets_still_refuse_non_destinations(resolver: Resolver) -> None:
    resolver.add("odd.intranet", ["224.0.0.1"])
    with guarded(allow_private=True) as session, pytest.raises(BlockedAddressError):
        session.get("http://odd.intranet/", timeout=5)


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class TlsServer:
    """An HTTPS server on 127.0.0.1 that records the SNI name and the Host header."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                outer.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        def remember(sock: Any, name: str | None, ctx: Any) -> None:
            outer.sni.append(name)

        context.sni_callback = remember
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_https_keeps_the_name_for_sni_certificate_checks_and_host(
    tmp_path: Path, resolver: Resolver
) -> None:
    cert, key = _self_signed(tmp_path, "receiver.test")
    with TlsServer(cert, key) as server, guarded(allow_private=True) as session:
        resolver.add("receiver.test", ["127.0.0.1"])
        session.verify = str(cert)
        response = session.get(f"https://receiver.test:{server.port}/x", timeout=5)
        assert response.text == "ok"
        assert server.sni == ["receiver.test"]
        assert server.hosts == [f"receiver.test:{server.port}"]
        # The certificate names receiver.test, not 127.0.0.1: verification used the name.
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://127.0.0.1:{server.port}/x", timeout=5)


def test_redirects_to_another_host_are_not_followed(resolver: Resolver) -> None:
    def handler(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if request.path == "/away":
            return 307, {"Location": f"http://elsewhere.test:{port}/steal"}, b""
        if request.path == "/moved":
            return 302, {"Location": "/here"}, b""
        return 200, {}, b"ok"

    resolver.add("elsewhere.test", ["127.0.0.1"])
    with LoopbackServer(handler) as server, guarded(allow_private=True) as session:
        port = port_of(server)
        # Even a caller that asks for redirects gets the 3xx back, and nothing is sent on.
        away = session.post(server.url + "/away", data=b"x", allow_redirects=True)
        assert away.status_code == 307
        assert [r[1] for r in server.received] == ["/away"]
        assert "elsewhere.test" not in resolver.asked
        # Within the same host a redirect is still followed (and still guarded).
        moved = session.get(server.url + "/moved", allow_redirects=True)
        assert (moved.status_code, len(moved.history)) == (200, 1)


def test_a_proxy_is_trusted_and_the_target_is_still_checked() -> None:
    with LoopbackServer() as proxy, guarded(allow_private=False) as session:
        proxies = {"http": proxy.url}
        # The proxy sits on 127.0.0.1: it is configured by the operator, so trusted.
        response = session.get("http://cms.example/x", proxies=proxies, timeout=5)
        assert response.status_code == 200
        assert proxy.received[0][1] == "http://cms.example/x"
        # A private target is refused before anything reaches the proxy.
        with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.5 is a private"):
            session.get("http://10.0.0.5/x", proxies=proxies, timeout=5)
        assert len(proxy.received) == 1


def test_guard_session_replaces_network_transports_and_keeps_fakes() -> None:
    real = guard_session(requests.Session(), allow_private=True)
    transport = real.get_adapter("https://example.com/")
    assert isinstance(transport, GuardedAdapter)
    assert transport.allow_private
    fake = FakeTransport((200, {}, b"ok"))
    kept = guard_session(fake.session())
    assert kept.get_adapter("https://example.com/") is fake
    assert kept.post("http://127.0.0.1/x").status_code == 200  # fakes open no sockets


def test_blocked_cause_finds_the_refusal_under_an_adapters_wrapping() -> None:
    refusal = BlockedAddressError("10.0.0.5 is a private address", private=True)

    def wrapping_adapter() -> None:
        try:
            raise refusal
        except requests.ConnectionError as exc:
            raise RuntimeError("connection broken") from exc

    with pytest.raises(RuntimeError) as wrapped:
        wrapping_adapter()
    assert blocked_cause(wrapped.value) is refusal
    assert blocked_cause(RuntimeError("other")) is None


# -- outlet configuration ------------------------------------------------------------------


class RobotSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: SecretStr
    mirrors: list[str] = []
    status_page: HttpUrl | None = None


class RobotAdapter:
    """A stand-in adapter whose URL is itself a secret (it carries a key)."""

    kind: ClassVar[str] = "robot"
    Settings: ClassVar[type[BaseModel]] = RobotSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )

    def __init__(self, settings: BaseModel) -> None:
        self.settings = settings

    def render(self, job: DeliveryJob) -> Rendition:
        return Rendition.of(b"{}", "application/json", key="k")

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        return Receipt()


REGISTRY = Registry(
    {"webhook": WebhookAdapter, "robot": RobotAdapter, "rss": RssAdapter}
)


def load(tables: dict[str, Any], tmp_path: Path, **environ: str) -> dict[str, Outlet]:
    return load_outlets(
        tables, REGISTRY, home=tmp_path, environ={"HOOK_SECRET": SECRET, **environ}
    )


def hook_table(url: str, **more: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "secret": "${HOOK_SECRET}", **more}


def test_loading_refuses_a_private_url_naming_the_field_not_the_url(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load({"cms": hook_table("http://10.0.0.5/hooks?token=TOPSECRET")}, tmp_path)
    message = str(info.value)
    assert message.startswith("outlets.cms.url: 10.0.0.5 is a private address")
    assert "allow_private_network = true" in message
    assert "TOPSECRET" not in message
    assert "/hooks" not in message
    assert SECRET not in message


def test_loading_checks_every_url_setting_including_links_and_lists(
    tmp_path: Path,
) -> None:
    rss = {"kind": "rss", "path": "feeds", "site_url": "https://www.linxi.gov.cn"}
    load({"feeds": {**rss, "hub": "https://hub.example/"}}, tmp_path)
    with pytest.raises(ConfigurationError, match=r"outlets\.feeds\.hub: localhost is"):
        load({"feeds": {**rss, "hub": "http://localhost:8080/"}}, tmp_path)
    with pytest.raises(ConfigurationError, match=r"outlets\.feeds\.site_url: .*127"):
        load({"feeds": {**rss, "site_url": "http://127.1"}}, tmp_path)
    robot = {"kind": "robot", "endpoint": "${ROBOT_URL}"}
    with pytest.raises(ConfigurationError, match=r"outlets\.bot\.mirrors\[1\]: "):
        load(
            {"bot": {**robot, "mirrors": ["https://a.example", "http://[::1]/"]}},
            tmp_path,
            ROBOT_URL="https://robot.example/send?key=k",
        )
    with pytest.raises(ConfigurationError, match=r"outlets\.bot\.status_page: 10\.1"):
        load(
            {"bot": {**robot, "status_page": "http://10.1.2.3/status"}},
            tmp_path,
            ROBOT_URL="https://robot.example/send?key=k",
        )


def test_a_secret_url_is_never_shown_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load(
            {"bot": {"kind": "robot", "endpoint": "${ROBOT_URL}"}},
            tmp_path,
            ROBOT_URL="https://169.254.169.254/send?key=TOPSECRET",
        )
    message = str(info.value)
    assert message.startswith("outlets.bot.endpoint: refused (a link-local address")
    assert "not shown" in message
    assert "allow_private_network = true" in message
    assert "TOPSECRET" not in message
    assert "169.254.169.254" not in message


def test_allow_private_network_lets_an_intranet_outlet_load(tmp_path: Path) -> None:
    outlets = load(
        {
            "cms": hook_table("http://10.0.0.5/hook", allow_private_network=True),
            "pub": hook_table("https://cms.example/hook"),
        },
        tmp_path,
    )
    assert outlets["cms"].allow_private_network
    assert not outlets["pub"].allow_private_network
    assert "allow_private_network" not in outlets["cms"].masked_settings()
    with pytest.raises(ConfigurationError, match="allow_private_network: must be true"):
        load(
            {"cms": hook_table("http://10.0.0.5/", allow_private_network="yes")},
            tmp_path,
        )
    with pytest.raises(ConfigurationError, match="non-standard way"):
        load(
            {"cms": hook_table("http://0x0a.5/", allow_private_network=True)}, tmp_path
        )


def test_outlets_check_names_the_field_and_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from syndicate.cli import app

    Project.init(tmp_path / "home", environ={}, keys=False, review=False)
    with (tmp_path / "home" / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            '\n[outlets.cms]\nkind = "webhook"\n'
            'url = "http://169.254.169.254/latest?k=TOPSECRET"\n'
            'secret = "${HOOK_SECRET}"\n'
        )
    result = CliRunner(env={"HOOK_SECRET": SECRET}).invoke(
        app, ["--home", str(tmp_path / "home"), "outlets", "check"]
    )
    assert result.exit_code == 2
    assert "outlets.cms.url: 169.254.169.254 is a link-local address" in result.output
    assert "TOPSECRET" not in result.output


# -- end to end ----------------------------------------------------------------------------


def _deliver_once(project: Project, outlet: Outlet) -> tuple[DeliveryState, str]:
    clock = FixedClock()
    outlets = {outlet.name: outlet}
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        items.publish(content(), actor="t")
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w", clock=clock)
        try:
            worker.run_until_idle()
        finally:
            worker.close()
        [delivery] = deliveries.all_deliveries().values()
        return delivery.state, delivery.last_error or ""


def _webhook(url: str, **flags: Any) -> Outlet:
    return Outlet(
        name="cms",
        kind="webhook",
        channel=None,
        filter=OutletFilter(),
        settings=WebhookSettings.model_validate({"url": url, "secret": SECRET}),
        adapter_class=WebhookAdapter,
        **flags,
    )


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def test_a_webhook_to_a_loopback_receiver_fails_for_good_and_sends_nothing(
    sqlite_project: Project, loopback: LoopbackServer
) -> None:
    state, error = _deliver_once(sqlite_project, _webhook(loopback.url + "/hook"))
    assert state is DeliveryState.FAILED  # permanent: no retry is scheduled
    assert error.startswith(
        "PermanentDeliveryError: outlets.cms: 127.0.0.1 is a loopback address; "
        "set allow_private_network = true"
    )
    assert loopback.received == []


def test_a_name_that_now_resolves_inside_fails_for_good_with_the_address_named(
    sqlite_project: Project, resolver: Resolver
) -> None:
    resolver.add("cms.example", ["10.0.0.5"])
    state, error = _deliver_once(sqlite_project, _webhook("https://cms.example/hook"))
    assert state is DeliveryState.FAILED
    assert (
        "outlets.cms: cms.example resolves to 10.0.0.5, a private address; "
        "set allow_private_network = true" in error
    )


def test_the_flag_lets_the_same_delivery_through(
    sqlite_project: Project, loopback: LoopbackServer
) -> None:
    outlet = _webhook(loopback.url + "/hook", allow_private_network=True)
    state, _ = _deliver_once(sqlite_project, outlet)
    assert state is DeliveryState.SUCCEEDED
    assert len(loopback.received) == 1


def test_a_websub_hub_on_loopback_is_refused_too(
    sqlite_project: Project, loopback: LoopbackServer, tmp_path: Path
) -> None:
    settings = RssSettings.model_validate(
        {
            "path": tmp_path / "feeds",
            "site_url": "https://www.linxi.gov.cn",
            "hub": loopback.url + "/hub",
        }
    )
    rss = Outlet(
        name="feeds",
        kind="rss",
        channel=None,
        filter=OutletFilter(),
        settings=settings,
        adapter_class=RssAdapter,
    )
    state, error = _deliver_once(sqlite_project, rss)
    assert state is DeliveryState.FAILED
    assert "outlets.feeds: 127.0.0.1 is a loopback address" in error
    assert loopback.received == []


# -- proxies from the environment, on every outlet ----------------------------------------

ROBOT_KEY = "693a91f6-7d0c-4bc4-97a0-0ec2f1fa5a01"
PORTAL_URL = "https://www.linxi.gov.cn"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def forward(
    request: BaseHTTPRequestHandler, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """What a forwarding HTTP proxy answers: the request sent on to the absolute URL
    it names, and the answer passed back."""
    target = urlsplit(request.path)
    assert target.hostname is not None  # a proxy is asked with absolute URLs only
    hop_by_hop = {
        "connection",
        "keep-alive",
        "proxy-connection",
        "host",
        "content-length",
    }
    headers = {k: v for k, v in request.headers.items() if k.lower() not in hop_by_hop}
    upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
    try:
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request(request.command, path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        kind = answer.getheader("Content-Type") or "application/octet-stream"
        return answer.status, {"Content-Type": kind}, payload
    finally:
        upstream.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A forwarding proxy on loopback, named by HTTP_PROXY (and nothing else)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with LoopbackServer(forward) as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        yield server


def _robot(fake: WeComRobotServer, **flags: Any) -> Outlet:
    # The endpoint setting is `base_url` (and a `webhook` key), not `url`.
    settings = WeComGroupSettings.model_validate(
        {"webhook": ROBOT_KEY, "base_url": fake.url, "portal_url": PORTAL_URL}
    )
    return Outlet(
        name="village",
        kind="wecom_group",
        channel=None,
        filter=OutletFilter(),
        settings=settings,
        adapter_class=WeComGroupAdapter,
        **flags,
    )


def test_a_robot_outlet_goes_through_the_environments_proxy(
    sqlite_project: Project, proxy: LoopbackServer
) -> None:
    with WeComRobotServer(keys=[ROBOT_KEY]) as fake:
        outlet = _robot(fake, allow_private_network=True)
        state, error = _deliver_once(sqlite_project, outlet)
        assert state is DeliveryState.SUCCEEDED, error
        assert len(fake.messages(ROBOT_KEY)) == 1
    [(method, target, _, _)] = proxy.received
    assert method == "POST"
    assert target.startswith(f"{fake.url}/cgi-bin/webhook/send?key=")


def test_no_proxy_sends_a_robot_outlet_straight_to_its_host(
    sqlite_project: Project, proxy: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with WeComRobotServer(keys=[ROBOT_KEY]) as fake:
        outlet = _robot(fake, allow_private_network=True)
        state, error = _deliver_once(sqlite_project, outlet)
        assert state is DeliveryState.SUCCEEDED, error
        assert len(fake.messages(ROBOT_KEY)) == 1
    assert proxy.received == []


def test_a_proxy_is_no_way_around_the_guard(
    sqlite_project: Project, proxy: LoopbackServer
) -> None:
    # The target is checked before a proxy is chosen: a loopback robot without
    # allow_private_network is refused, and the proxy never hears of it.
    with WeComRobotServer(keys=[ROBOT_KEY]) as fake:
        state, error = _deliver_once(sqlite_project, _robot(fake))
        assert fake.received == []
    assert state is DeliveryState.FAILED
    assert "outlets.village: 127.0.0.1 is a loopback address" in error
    assert proxy.received == []


class PingSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str  # not called `url`


class PingAdapter:
    """A stand-in adapter that posts to its `endpoint`."""

    kind: ClassVar[str] = "ping"
    Settings: ClassVar[type[BaseModel]] = PingSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )

    def __init__(self, settings: PingSettings) -> None:
        self.settings = settings

    def render(self, job: DeliveryJob) -> Rendition:
        return Rendition.of(b"{}", "application/json", key="k")

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        session.post(self.settings.endpoint, data=rendition.data, timeout=5)
        return Receipt()


def test_the_environment_is_read_once_per_destination_not_on_every_request(
    sqlite_project: Project, proxy: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock()
    with LoopbackServer() as receiver:
        outlets = {
            "ping": Outlet(
                name="ping",
                kind="ping",
                channel=None,
                filter=OutletFilter(),
                settings=PingSettings(endpoint=receiver.url + "/ping"),
                adapter_class=PingAdapter,
                allow_private_network=True,
            )
        }
        with (
            sqlite_project.disclosures(clock=clock) as items,
            sqlite_project.deliveries(items, clock=clock, outlets=outlets) as log,
        ):
            worker = Worker(log, items, outlets, name="w", clock=clock)
            try:
                for n in range(2):
                    items.publish(content(index_no=f"X/2026-{n:03}"), actor="t")
                    log.plan()
                    assert worker.run_until_idle().outcomes == {"succeeded": 1}
                    # Too late: the worker's sessions resolved the endpoint's proxy.
                    monkeypatch.delenv("HTTP_PROXY", raising=False)
            finally:
                worker.close()
        assert len(receiver.received) == 2
    assert len(proxy.received) == 2


def test_the_environment_names_a_proxy_per_destination_and_a_ca_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.invalid:3128")
    monkeypatch.setenv("NO_PROXY", ".gov.cn,10.0.0.0/8,cms.example:8443")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/county-ca.pem")
    environment = OutboundEnvironment()
    proxied = {"https": "http://egress.invalid:3128"}
    assert environment.proxies("https://qyapi.weixin.qq.com/x") == proxied
    assert environment.proxies("https://www.linxi.gov.cn/x") == {}
    assert environment.proxies("https://10.1.2.3/x") == {}
    assert environment.proxies("https://cms.example:8443/x") == {}
    assert environment.proxies("https://cms.example/x") == proxied
    assert environment.proxies("http://qyapi.weixin.qq.com/x") == {}  # no HTTP_PROXY
    sent: dict[str, Any] = {"verify": True, "proxies": {"https": "http://mine:1"}}
    environment.apply("https://qyapi.weixin.qq.com/x", sent)
    # What the caller gave wins; default verification uses the bundle.
    assert sent == {
        "verify": "/etc/ssl/county-ca.pem",
        "proxies": {"https": "http://mine:1"},
    }
    for verify in (False, "/own/ca.pem"):
        kept: dict[str, Any] = {"verify": verify}
        environment.apply("https://www.linxi.gov.cn/x", kept)
        assert kept == {"verify": verify, "proxies": {}}
