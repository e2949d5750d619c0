"""Safe outbound HTTP: refuse requests that would reach into the operator's own network.

An outlet's URL comes from configuration, a receiver's redirect or a name server, and any
of them can point at the machine syndicate runs on, the intranet around it, or a cloud
metadata service (server-side request forgery, SSRF). The guard works in three places:

1. **Configured URLs**, when outlets are loaded (`syndicate.outlets`): `check_url` refuses
   other schemes than http/https, `user:password@` in the URL, hosts that are not well
   formed, numeric hosts written in any but the plain dotted-decimal form (`2130706433`,
   `0177.0.0.1`, `0x7f.1`, `127.1`: refused outright as ambiguous, naming the address
   they stand for), `localhost`, and IP literals in the refused ranges.
2. **Every request**, in `GuardedAdapter.send`: the same `check_url` on the request URL.
3. **Every connection**: the adapter's urllib3 connections resolve the host name
   themselves, refuse it when *any* address it resolves to is in a refused range, and
   connect only to the addresses they checked. The name is resolved once per connection,
   so a name server that answers differently the second time (DNS rebinding) cannot
   redirect the connection after the check. TLS still verifies the certificate against
   the host name (SNI and hostname checks use the name, not the address), and the
   `Host` header is the name from the URL.

Refused ranges (`check_address`): loopback, private (RFC 1918, unique-local), link-local
(including cloud metadata at 169.254.169.254), carrier-grade NAT, benchmarking,
documentation, IETF protocol assignments and reserved space, deprecated IPv6 site-local,
the IPv6 discard prefix, IPv6 forms that carry an IPv4 address (IPv4-mapped and the
well-known NAT64 prefix are judged by the IPv4 address they carry; IPv4-compatible,
IPv4-translated, 6to4, Teredo and local-use NAT64 are refused outright: they are obsolete
or local transition mechanisms that no public receiver needs, and Teredo hides its
address), and anything else `ipaddress` does not call global. `allow_private` (the
per-outlet `allow_private_network = true`) lets all of these through except addresses
that are never a destination: unspecified (0.0.0.0/8, ::), multicast and broadcast.

**Proxies.** When a proxy is configured (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, resolved
per request URL with `NO_PROXY` honoured: `OutboundEnvironment`), the connection goes to
the proxy, which is trusted: it is not checked, and it resolves the target's name itself.
The target URL is still checked by `check_url` (scheme, credentials, IP literals,
`localhost`) before the proxy is chosen, but a *name* that resolves to a private address
is the proxy's to refuse. A host that `NO_PROXY` covers is connected to directly, and
guarded like any other.

**Redirects.** Adapters never follow redirects (`allow_redirects=False`). As a safety net,
`guard_session` makes the session decline any redirect to another scheme, host or port
(an upgrade from http to https on the same host is followed): the 3xx response is
returned to the caller as if redirects were off. A same-host redirect still goes
through the guard like any request.

Refusals raise `BlockedAddressError`, a `requests.ConnectionError`, before a byte is
sent; the worker turns it into a permanent delivery failure (retrying cannot help).

**Bounded exchanges.** Adapters send through `exchange`: one request whose `timeout` is a
deadline for all of it (a watchdog thread shuts the socket down when it passes, so a
receiver trickling its headers or body cannot hold a worker), whose answer is read up to a
byte limit (the rest is never downloaded), and whose failure is named (`RequestFailed`:
DNS failure, refused, TLS handshake, timeout, broken connection) together with whether any
of the request was sent, which guarded connections track exactly. `retry_after` parses a
`Retry-After` header (seconds or HTTP date).
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import math
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import unquote, urljoin, urlsplit

import idna
import requests
import requests.adapters
import urllib3.exceptions
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE
from requests.exceptions import InvalidSchema
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.poolmanager import PoolManager
from urllib3.util.connection import allowed_gai_family

__all__ = [
    "PRIVATE_NETWORK_HINT",
    "BlockedAddressError",
    "Exchange",
    "GuardedAdapter",
    "OutboundEnvironment",
    "RequestFailed",
    "blocked_cause",
    "check_address",
    "check_url",
    "exchange",
    "guard_session",
    "retry_after",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PRIVATE_NETWORK_HINT = (
    "set allow_private_network = true on the outlet if it is meant to reach an "
    "intranet host"
)


class BlockedAddressError(requests.exceptions.ConnectionError):
    """The guard refused a URL or an address; nothing was sent.

    `problem` says what and why, and never contains the URL's path, query or credentials
    (a webhook URL may be a secret); `reason` is the same without the host (e.g. "a
    loopback address"); `host` and `address` are what was refused, when known;
    `private` is true when `allow_private_network = true` would let it through.
    """

    def __init__(
        self,
        problem: str,
        *,
        host: str | None = None,
        address: str | None = None,
        private: bool = False,
        reason: str | None = None,
        request: requests.PreparedRequest | None = None,
    ) -> None:
        self.problem = problem
        self.reason = reason or problem
        self.host = host
        self.address = address
        self.private = private
        text = f"{problem}; {PRIVATE_NETWORK_HINT}" if private else problem
        super().__init__(text, request=request)

    def __str__(self) -> str:
        return str(self.args[0])

    def again(self, request: requests.PreparedRequest | None) -> BlockedAddressError:
        """The same refusal, attached to `request`."""
        return BlockedAddressError(
            self.problem,
            host=self.host,
            address=self.address,
            private=self.private,
            reason=self.reason,
            request=request,
        )


# -- addresses -----------------------------------------------------------------------------

_NEVER = "never"  # refused even with allow_private: not a destination at all
_INTERNAL = "internal"  # refused unless allow_private
_EMBEDS = "embeds"  # judge the IPv4 address the IPv6 address carries


@dataclass(frozen=True)
class _Range:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    what: str
    rule: str


def _table(*rows: tuple[str, str, str]) -> tuple[_Range, ...]:
    return tuple(_Range(ipaddress.ip_network(n), what, rule) for n, what, rule in rows)


# Checked in order; the first range that contains the address decides.
_IPV4 = _table(
    ("0.0.0.0/8", "an unspecified ('this network') address", _NEVER),
    ("10.0.0.0/8", "a private address", _INTERNAL),
    ("100.64.0.0/10", "a carrier-grade NAT (shared) address", _INTERNAL),
    ("127.0.0.0/8", "a loopback address", _INTERNAL),
    (
        "169.254.0.0/16",
        "a link-local address (cloud metadata services live here)",
        _INTERNAL,
    ),
    ("172.16.0.0/12", "a private address", _INTERNAL),
    ("192.0.0.0/24", "an IETF protocol assignment (reserved) address", _INTERNAL),
    ("192.0.2.0/24", "a documentation address", _INTERNAL),
    ("192.88.99.0/24", "a deprecated 6to4 relay address", _INTERNAL),
    ("192.168.0.0/16", "a private address", _INTERNAL),
    ("198.18.0.0/15", "a benchmarking address", _INTERNAL),
    ("198.51.100.0/24", "a documentation address", _INTERNAL),
    ("203.0.113.0/24", "a documentation address", _INTERNAL),
    ("224.0.0.0/4", "a multicast address", _NEVER),
    ("255.255.255.255/32", "the broadcast address", _NEVER),
    ("240.0.0.0/4", "a reserved address", _INTERNAL),
)
_IPV6 = _table(
    ("::/128", "an unspecified address", _NEVER),
    ("::1/128", "a loopback address", _INTERNAL),
    ("::ffff:0:0/96", "an IPv4-mapped address", _EMBEDS),
    ("::ffff:0:0:0/96", "an IPv4-translated address", _INTERNAL),
    ("::/96", "an IPv4-compatible address (deprecated)", _INTERNAL),
    ("64:ff9b::/96", "a NAT64 address", _EMBEDS),
    ("64:ff9b:1::/48", "a local-use NAT64 address", _INTERNAL),
    ("100::/64", "a discard-only address", _INTERNAL),
    ("2001::/32", "a Teredo address (it hides an IPv4 address)", _INTERNAL),
    ("2001:db8::/32", "a documentation address", _INTERNAL),
    ("2002::/16", "a 6to4 address (it embeds an IPv4 address)", _INTERNAL),
    ("3fff::/20", "a documentation address", _INTERNAL),
    ("5f00::/16", "a segment-routing address", _INTERNAL),
    ("fc00::/7", "a private (unique-local) address", _INTERNAL),
    ("fe80::/10", "a link-local address", _INTERNAL),
    ("fec0::/10", "a site-local address (deprecated)", _INTERNAL),
    ("ff00::/8", "a multicast address", _NEVER),
)


def _as_address(ip: str | IPAddress) -> IPAddress:
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    # A zone id (fe80::1%eth0) names the interface, not the address: judge the address.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(address.packed)
    return address


def _show(address: IPAddress) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped else str(address)


def _classify(address: IPAddress) -> tuple[str, bool] | None:
    """(what it is, whether `allow_private` permits it), or None for a public address."""
    table = _IPV4 if address.version == 4 else _IPV6
    for row in table:
        if address not in row.network:
            continue
        if row.rule == _EMBEDS:
            assert isinstance(address, ipaddress.IPv6Address)  # noqa: S101 - by table
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            found = _classify(inner)
            if found is None:
                return None
            what, permitted = found
            return f"{row.what} that carries {inner}, {what}", permitted
        return row.what, row.rule != _NEVER
    # Whatever the table misses and ipaddress still does not consider public.
    if address.is_multicast or address.is_unspecified:
        return "not a unicast address", False
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or not address.is_global
    ):
        return "a special-purpose (non-public) address", True
    return None


def check_address(ip: str | IPAddress, *, allow_private: bool = False) -> str | None:
    """Why an HTTP request must not go to `ip` (e.g. "a loopback address"), or None.

    `allow_private` (an intranet outlet) permits every refused range except those that are
    never a destination (unspecified, multicast, broadcast). Raises `ValueError` if `ip`
    is not an IP address.
    """
    found = _classify(_as_address(ip))
    if found is None:
        return None
    what, permitted = found
    return None if permitted and allow_private else what


def _refuse_address(
    address: IPAddress, name: str | None = None, *, allow_private: bool
) -> None:
    """Raise `BlockedAddressError` if `address` (what `name` resolved to) is refused."""
    found = _classify(address)
    if found is None:
        return
    what, permitted = found
    if permitted and allow_private:
        return
    shown = _show(address)
    if name is None or name == shown:
        problem = f"{shown} is {what}"
    else:
        problem = f"{name} resolves to {shown}, {what}"
    raise BlockedAddressError(
        problem, host=name or shown, address=shown, private=permitted, reason=what
    )


# -- URLs ----------------------------------------------------------------------------------

_HEX_DIGITS = frozenset("0123456789abcdef")


def _ends_in_number(labels: list[str]) -> bool:
    """The WHATWG URL rule: a host whose last label is numeric is an IPv4 address."""
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last.startswith("0x") and set(last[2:]) <= _HEX_DIGITS


def _ipv4_number(part: str) -> int | None:
    if part.startswith("0x"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits:
        return 0 if base == 16 else None
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def _parse_ipv4(labels: list[str]) -> ipaddress.IPv4Address | None:
    """An IPv4 address written the ways `inet_aton` and browsers accept, or None."""
    if len(labels) > 4:
        return None
    numbers = [_ipv4_number(part) for part in labels]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    value = values[-1]
    for index, n in enumerate(values[:-1]):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _is_plain_dotted_quad(labels: list[str]) -> bool:
    return len(labels) == 4 and all(
        p.isascii() and p.isdigit() and (p == "0" or not p.startswith("0"))
        for p in labels
    )


def _split_netloc(netloc: str) -> tuple[str, str]:
    """(host, port text) of an authority without credentials."""
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise BlockedAddressError("the URL's IPv6 host has no closing ']'")
        host, rest = netloc[: close + 1], netloc[close + 1 :]
        if rest and not rest.startswith(":"):
            raise BlockedAddressError("the URL's host is not well formed")
        return host, rest[1:]
    host, _, port = netloc.partition(":")
    if ":" in port:
        raise BlockedAddressError("the URL's host is not well formed")
    return host, port


def _check_ipv6_literal(host: str, *, allow_private: bool) -> None:
    inner = unquote(host[1:-1])
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError:
        raise BlockedAddressError(
            f"the URL's host {host} is not a valid IPv6 address",
            reason="the host is not a valid IPv6 address",
        ) from None
    _refuse_address(_as_address(address), allow_private=allow_private)


def _ascii_host(host: str) -> str:
    """The host as requests sends it: IDNA (UTS #46) for names that are not ASCII."""
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        raise BlockedAddressError(
            "the URL's host is not a valid international domain name"
        ) from None


def _check_name(host: str, *, allow_private: bool) -> None:
    encoded = _ascii_host(host)
    labels = encoded.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels = labels[:-1]  # one trailing dot: a fully qualified name
    if not encoded or any(not label for label in labels):
        raise BlockedAddressError(
            f"the URL's host {host!r} is not well formed",
            reason="the host is not well formed",
        )
    if _ends_in_number(labels):
        address = _parse_ipv4(labels)
        if address is None:
            raise BlockedAddressError(
                f"the URL's host {host!r} looks like an IPv4 address but is not one",
                reason="the host looks like an IPv4 address but is not one",
            )
        if not _is_plain_dotted_quad(labels) or encoded.endswith("."):
            found = _classify(address)
            kind = f" ({found[0]})" if found else ""
            raise BlockedAddressError(
                f"the URL's host {host!r} is a non-standard way to write "
                f"{address}{kind}; write the address as {address}",
                host=host,
                address=str(address),
                reason="the host is an IPv4 address in a non-standard notation",
            )
        _refuse_address(address, allow_private=allow_private)
        return
    for label in labels:
        if len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label):
            raise BlockedAddressError(
                f"the URL's host {host!r} is not a valid name",
                reason="the host is not a valid name",
            )
    if len(encoded) > 254:
        raise BlockedAddressError("the URL's host name is too long")
    if labels[-1] == "localhost" and not allow_private:
        raise BlockedAddressError(
            f"{host} is a loopback name",
            host=host,
            private=True,
            reason="a loopback name",
        )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL syndicate must not send a request to; return None if it may.

    Raises `BlockedAddressError` naming the problem (never the URL's path, query or
    credentials). Names are not resolved here; connections check what they resolve to.
    """
    if any(c <= " " or c in "\x7f\\" for c in url):
        raise BlockedAddressError(
            "the URL contains spaces, control characters or backslashes; "
            "percent-encode them"
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BlockedAddressError("the URL is not well formed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise BlockedAddressError(f"only http and https URLs are allowed, not {shown}")
    netloc = parts.netloc
    if "@" in netloc:
        raise BlockedAddressError(
            "the URL carries a user name or password (user:password@host); "
            "credentials belong in the outlet's secret settings"
        )
    host, port = _split_netloc(netloc)
    if not host:
        raise BlockedAddressError("the URL has no host")
    if port and (not port.isascii() or not port.isdigit() or int(port) > 65535):
        raise BlockedAddressError("the URL's port is not a number from 0 to 65535")
    if "%" in host and not host.startswith("["):
        raise BlockedAddressError(
            f"the URL's host {host!r} is percent-encoded; write it plainly",
            reason="the host is percent-encoded",
        )
    if host.startswith("["):
        _check_ipv6_literal(host, allow_private=allow_private)
    else:
        _check_name(host, allow_private=allow_private)


# -- connections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Guard:
    allow_private: bool

    def open(
        self,
        host: str,
        port: int | None,
        *,
        timeout: object,
        source_address: tuple[str, int] | None,
        socket_options: list[tuple[int, int, int | bytes]] | None,
    ) -> socket.socket:
        """Resolve `host` once, check every address, connect to a checked one."""
        name = host[1:-1] if host.startswith("[") else host
        found = socket.getaddrinfo(name, port, allowed_gai_family(), socket.SOCK_STREAM)
        if not found:
            raise OSError(f"{host} resolves to no address")
        shown = name.rstrip(".")
        for *_, sockaddr in found:
            address = _as_address(str(sockaddr[0]))
            _refuse_address(address, shown, allow_private=self.allow_private)
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in found:
            sock = None
            try:
                sock = socket.socket(family, kind, proto)
                for option in socket_options or ():
                    sock.setsockopt(*option)
                if timeout is None or isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)  # the address checked above, never the name
                return sock
            except OSError as exc:
                error = exc
                if sock is not None:
                    sock.close()
        assert error is not None  # noqa: S101 - found is not empty
        raise error


_STRICT = _Guard(allow_private=False)


class _Refused(NewConnectionError):
    """urllib3's view of a refusal: the connection was never made."""

    def __init__(self, conn: HTTPConnection, blocked: BlockedAddressError) -> None:
        super().__init__(conn, f"Failed to establish a new connection: {blocked}")
        self.blocked = blocked


class _GuardedConnection(HTTPConnection):
    guard: _Guard = _STRICT

    def _new_conn(self) -> socket.socket:
        watch = _active_watch()
        if watch is not None:
            watch.guarded = True
        sock = self._open()
        if watch is not None:
            watch.attach(sock)  # from here on the deadline can cut this connection
        return sock

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        watch = _active_watch()
        if watch is not None:
            watch.guarded = True
            if self.sock is None:
                self.connect()  # failing here, nothing of the request was sent
            watch.attach(cast(socket.socket, self.sock))
            watch.sent = True  # from here on the receiver may have seen the request
        super().request(method, url, *args, **kwargs)

    def _open(self) -> socket.socket:
        if self.proxy is not None:
            return super()._new_conn()  # the connection goes to the trusted proxy
        try:
            sock = self.guard.open(
                self._dns_host,
                self.port,
                timeout=self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except BlockedAddressError as exc:
            raise _Refused(self, exc) from exc
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                self,
                f"Connection to {self.host} timed out. "
                f"(connect timeout={self.timeout})",
            ) from exc
        except OSError as exc:
            raise NewConnectionError(
                self, f"Failed to establish a new connection: {exc}"
            ) from exc
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection
    guard: _Guard = _STRICT

    def _new_conn(self) -> Any:
        conn = cast(_GuardedConnection, super()._new_conn())
        conn.guard = self.guard
        return conn


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection
    guard: _Guard = _STRICT

    def _new_conn(self) -> Any:
        conn = cast(_GuardedConnection, super()._new_conn())
        conn.guard = self.guard
        return conn


class _GuardedPoolManager(PoolManager):
    def __init__(self, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard
        self.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        if isinstance(pool, _GuardedHTTPPool | _GuardedHTTPSPool):
            pool.guard = self.guard
        return pool


def _walk(exc: object, seen: set[int]) -> Iterator[BaseException]:
    # Causes and contexts, urllib3's `reason`, and errors passed as arguments (requests
    # wraps urllib3's errors that way); a bounded walk, each error once.
    if not isinstance(exc, BaseException) or id(exc) in seen or len(seen) > 50:
        return
    seen.add(id(exc))
    yield exc
    for inner in (
        getattr(exc, "blocked", None),
        exc.__cause__,
        exc.__context__,
        getattr(exc, "reason", None),
        *exc.args,
    ):
        yield from _walk(inner, seen)


def blocked_cause(exc: BaseException) -> BlockedAddressError | None:
    """The guard's refusal behind `exc` (its causes, context and wrapped errors), if any.

    Adapters wrap transport errors in their own (`TransientDeliveryError(...) from exc`);
    this finds the refusal underneath so the worker can treat it as permanent.
    """
    for found in _walk(exc, set()):
        if isinstance(found, BlockedAddressError):
            return found
    return None


class OutboundEnvironment:
    """What the process environment says about outbound HTTP, read once.

    Proxies: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case),
    resolved for a URL exactly as requests resolves them (NO_PROXY hosts, domain
    suffixes, `host:port`, IPv4 CIDR ranges and `*`), once per scheme, host and port,
    then remembered. CA bundle: `REQUESTS_CA_BUNDLE`, else `CURL_CA_BUNDLE`, read when
    made. A `GuardedAdapter` given one applies it to every request it sends, so a
    session can stop reading the environment itself (`trust_env = False`), which
    requests would otherwise do again on every request.
    """

    def __init__(self) -> None:
        self.ca_bundle: str | None = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or None
        )
        self._proxies: dict[tuple[str, str, int | None], dict[str, str]] = {}

    def proxies(self, url: str) -> Mapping[str, str]:
        """`{scheme: proxy URL}` for a request to `url`, or `{}`: no proxy is named for
        its scheme, or NO_PROXY covers its host."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:  # not a URL a request can go to; check_url refuses it
            port = None
        key = (parts.scheme, parts.hostname or "", port)
        found = self._proxies.get(key)
        if found is None:
            named = get_environ_proxies(url)  # {} when NO_PROXY covers the host
            proxy = named.get(parts.scheme, named.get("all"))
            found = {parts.scheme: proxy} if proxy else {}
            self._proxies[key] = found  # a race only resolves the same answer twice
        return found

    def apply(self, url: str, kwargs: dict[str, Any]) -> None:
        """Add the environment's settings to a transport's `send` arguments for a
        request to `url`: its proxy under any the caller gave (the session's or the
        request's own win, as with requests), and the CA bundle where the caller asked
        for default verification (`verify=True`)."""
        kwargs["proxies"] = {**self.proxies(url), **(kwargs.get("proxies") or {})}
        if kwargs.get("verify", True) is True and self.ca_bundle:
            kwargs["verify"] = self.ca_bundle


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """A `requests` transport that refuses unsafe destinations before sending a byte.

    Mount it for `http://` and `https://` (`guard_session` does). With `allow_private`
    (an intranet outlet) only unspecified, multicast and broadcast addresses are refused.
    With an `environment`, each request that passes the check goes through the proxy
    the environment names for its URL and uses its CA bundle (see `OutboundEnvironment`);
    the check comes first, so a proxy never carries a request the guard refuses.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        environment: OutboundEnvironment | None = None,
        **kwargs: Any,
    ) -> None:
        self.guard = _Guard(allow_private=allow_private)  # init_poolmanager needs it
        self.environment = environment
        super().__init__(**kwargs)

    @property
    def allow_private(self) -> bool:
        """Whether private, loopback and link-local addresses are allowed."""
        return self.guard.allow_private

    def init_poolmanager(
        self,
        connections: int,
        maxsize: int,
        block: bool = DEFAULT_POOLBLOCK,
        **pool_kwargs: Any,
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            getattr(self, "guard", _STRICT),
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            **pool_kwargs,
        )

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        try:
            check_url(request.url or "", allow_private=self.guard.allow_private)
            if self.environment is not None:
                self.environment.apply(request.url or "", kwargs)
            return super().send(request, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            blocked = blocked_cause(exc)
            if blocked is None:
                raise
            if blocked is exc:
                raise blocked.again(request) from None
            raise blocked.again(request) from exc


def _same_origin(old: str, new: str) -> bool:
    """Same host and port; the scheme may stay or go from http to https."""
    a, b = urlsplit(old), urlsplit(new)
    try:
        a_port = a.port or (443 if a.scheme == "https" else 80)
        b_port = b.port or (443 if b.scheme == "https" else 80)
    except ValueError:
        return False
    if (a.hostname or "").rstrip(".") != (b.hostname or "").rstrip("."):
        return False
    if a.scheme == b.scheme:
        return a_port == b_port
    return a.scheme == "http" and b.scheme == "https" and b_port == 443


def guard_session(
    session: requests.Session,
    *,
    allow_private: bool = False,
    environment: OutboundEnvironment | None = None,
) -> requests.Session:
    """Make `session` safe for outbound requests, and return it.

    Every mounted `HTTPAdapter` (the real network transport) is replaced by a
    `GuardedAdapter` with the same pool sizes and retries (and `environment`: the
    proxies and CA bundle its requests use; give it to a session whose `trust_env` is
    off); other transports (the test kit's `FakeTransport`) open no connections and are
    left as they are, and so is a `GuardedAdapter` mounted already. Redirects to
    another host are no longer followed.
    """
    for prefix, transport in list(session.adapters.items()):
        if isinstance(transport, GuardedAdapter) or not isinstance(
            transport, requests.adapters.HTTPAdapter
        ):
            continue
        session.mount(
            prefix,
            GuardedAdapter(
                allow_private=allow_private,
                environment=environment,
                pool_connections=getattr(
                    transport, "_pool_connections", DEFAULT_POOLSIZE
                ),
                pool_maxsize=getattr(transport, "_pool_maxsize", DEFAULT_POOLSIZE),
                max_retries=transport.max_retries,
                pool_block=getattr(transport, "_pool_block", DEFAULT_POOLBLOCK),
            ),
        )
        transport.close()
    find_target: Callable[[requests.Response], str | None] = session.get_redirect_target

    def same_host_target(response: requests.Response) -> str | None:
        target = find_target(response)
        if target is None or _same_origin(response.url, urljoin(response.url, target)):
            return target
        return None  # not followed: the caller sees the 3xx response itself

    # An instance attribute shadows the method (the session came from a factory).
    session.get_redirect_target = same_host_target  # type: ignore[method-assign,assignment]
    return session


# -- bounded exchanges ---------------------------------------------------------------------

_local = threading.local()


def _active_watch() -> _Watch | None:
    watch: _Watch | None = getattr(_local, "watch", None)
    return watch


class _Watch:
    """The deadline of one request, and how far the request got.

    When the deadline passes, the watchdog thread shuts down (`SHUT_RDWR`) every socket
    the request used: a read or write blocked on it returns at once, whatever phase the
    request is in (TLS handshake, sending, waiting for the status line, trickled
    headers or body), and the request fails. The watch keeps its own duplicate of each
    socket's descriptor, so it never touches a descriptor the connection has closed
    (and the system may have reused). Guarded connections (`GuardedAdapter`) report to
    it; other transports do not, and then only the checks between body reads apply.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.guarded = False  # a guarded connection took part: `sent` is exact
        self.sent = False  # bytes of the request may have left
        self.expired = False
        self.done = False
        self.ends = time.monotonic() + seconds
        self._dups: list[int] = []  # our own duplicates of the sockets' descriptors
        self._lock = threading.Lock()

    @property
    def left(self) -> float:
        """Seconds left before the deadline."""
        return self.ends - time.monotonic()

    def attach(self, sock: socket.socket) -> None:
        """Cut `sock` too when the deadline passes (at once, if it has passed)."""
        try:
            dup = os.dup(sock.fileno())
        except (OSError, ValueError):
            return  # already closed: nothing left to cut
        with self._lock:
            if self.done:
                os.close(dup)
                return
            self._dups.append(dup)
            if self.expired:
                _cut(dup)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for dup in self._dups:
                _cut(dup)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            dups, self._dups = self._dups, []
        for dup in dups:
            with contextlib.suppress(OSError):
                os.close(dup)


class _Watchdog:
    """One daemon thread that expires watches at their deadlines (no thread per
    request). Finished watches are dropped when their deadline comes up."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._count = itertools.count()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._ready:
            heapq.heappush(self._heap, (watch.ends, next(self._count), watch))
            if self._thread is None or not self._thread.is_alive():
                # (Also after a fork: the child has no watchdog thread.)
                self._thread = threading.Thread(
                    target=self._run, name="syndicate-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._ready.notify()  # it sleeps until a later deadline: wake it

    def _run(self) -> None:
        while True:
            due: list[_Watch] = []
            with self._ready:
                now = time.monotonic()
                while self._heap and (self._heap[0][0] <= now or self._heap[0][2].done):
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = self._heap[0][0] - now if self._heap else None
                    self._ready.wait(wait)
                    continue
            for watch in due:
                watch.expire()  # does nothing to a finished watch


_WATCHDOG = _Watchdog()


def _cut(fd: int) -> None:
    """Shut down the socket behind descriptor `fd` (ours), both ways."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the descriptor stays ours, closed by `finish`


@dataclass(frozen=True)
class Exchange:
    """What a receiver answered to one request, read within bounds.

    `body` is at most the `limit` given to `exchange`; `complete` is False when the
    answer's body was longer, broke off, or did not arrive in time, and `problem` then
    says which (the status line and headers did arrive).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    complete: bool = True
    problem: str | None = None


class RequestFailed(Exception):
    """A request got no answer (not even a status line); `what` says what happened.

    `code`: "blocked" (the guard refused the destination), "url" (the URL is not
    valid), "dns" (the host name did not resolve), "connect" (refused, unreachable or
    the connection timed out), "tls" (the TLS handshake failed), "timeout" (no answer in
    time), "connection" (the connection broke or the answer was not HTTP), "transport"
    (anything else). `sent`: False when nothing of the request was sent (always safe to
    retry), True when the receiver may have seen it, None when that cannot be told
    (only for transports that are not guarded). `detail` is the short cause (e.g.
    "connection reset by the receiver") for adapters that word their own message.
    Messages name the host, never the URL's path or query (they may hold a key).
    """

    def __init__(
        self, what: str, *, code: str, sent: bool | None, detail: str = ""
    ) -> None:
        super().__init__(what)
        self.what = what
        self.code = code
        self.sent = sent
        self.detail = detail or what


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    limit: int,
    **kwargs: Any,
) -> Exchange:
    """Send one request and read at most `limit` bytes of its answer, within `timeout`.

    `timeout` bounds the whole exchange (connecting, TLS, sending, waiting, reading),
    not only each read: a receiver that trickles a byte a second is cut off when it is
    up (on guarded sessions exactly; on others between reads). Redirects are never
    followed. A body longer than `limit` is not read further: its connection is closed
    and the answer marked incomplete. Raises `RequestFailed` when there is no answer at
    all; never raises on a broken or slow body once the status line has arrived.
    """
    watch = _Watch(timeout)
    outer = _active_watch()
    _local.watch = watch
    headers = {"Accept-Encoding": "identity", **dict(kwargs.pop("headers", None) or {})}
    try:
        _WATCHDOG.add(watch)
        try:
            response = session.request(
                method,
                url,
                headers=headers,
                timeout=(timeout, timeout),
                stream=True,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise _failure(exc, watch, url) from exc
        try:
            body, problem = _read(response, limit, watch)
        finally:
            response.close()  # a connection not read to its end is closed, not reused
    finally:
        watch.finish()
        _local.watch = outer
    return Exchange(
        status=response.status_code,
        headers=response.headers,
        body=body,
        complete=problem is None,
        problem=problem,
    )


_BODY_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def _read(
    response: requests.Response, limit: int, watch: _Watch
) -> tuple[bytes, str | None]:
    raw = response.raw
    if raw is None or not hasattr(raw, "read"):  # built in memory (a test transport)
        content = response.content or b""
        if len(content) > limit:
            return content[:limit], _too_large(limit)
        return content, None
    chunks: list[bytes] = []
    size = 0
    problem: str | None = None
    try:
        while size <= limit:
            if watch.expired or watch.left <= 0:
                problem = f"the answer's body did not arrive within {watch.seconds:g} s"
                break
            chunk = raw.read(min(65536, limit + 1 - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except _BODY_ERRORS as exc:
        problem = (
            f"the answer's body did not arrive within {watch.seconds:g} s"
            if watch.expired
            else f"the answer's body broke off ({_cause(exc)})"
        )
    body = b"".join(chunks)
    if size > limit:
        return body[:limit], _too_large(limit)
    return body, problem


def _too_large(limit: int) -> str:
    return (
        f"the answer is larger than {limit:,} bytes; only the first {limit:,} were read"
    )


def _chain(exc: BaseException) -> list[BaseException]:
    return list(_walk(exc, set()))


def _cause(exc: BaseException) -> str:
    """A short, secret-free name for what broke a connection."""
    found = _chain(exc)
    for kind, words in (
        (ConnectionResetError, "connection reset by the receiver"),
        (BrokenPipeError, "the receiver closed the connection while it was sent"),
        (http.client.RemoteDisconnected, "the receiver closed the connection"),
        (http.client.IncompleteRead, "the answer was cut short"),
        (http.client.BadStatusLine, "the answer was not HTTP"),
        (http.client.LineTooLong, "the answer's header lines were too long"),
        (ssl.SSLError, "TLS error"),
        (TimeoutError, "timed out"),
    ):
        if any(isinstance(e, kind) for e in found):
            return words
    return type(exc).__name__


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or "the receiver"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "the receiver"


def _failure(exc: requests.RequestException, watch: _Watch, url: str) -> RequestFailed:
    """Name what happened to a request that got no answer, and whether it was sent."""
    host = _host(url)
    found = _chain(exc)
    blocked = blocked_cause(exc)
    if blocked is not None:
        return RequestFailed(str(blocked), code="blocked", sent=False)
    if isinstance(
        exc, requests.exceptions.InvalidURL | requests.exceptions.URLRequired
    ):
        return RequestFailed("the URL is not valid", code="url", sent=False)
    if isinstance(exc, requests.exceptions.MissingSchema | InvalidSchema):
        return RequestFailed("the URL is not valid", code="url", sent=False)
    sent: bool | None = watch.sent if watch.guarded else None
    seconds = f"{watch.seconds:g} s"
    if watch.expired:
        if sent is False:
            return RequestFailed(
                f"could not reach {host} within {seconds}; nothing was sent",
                code="connect",
                sent=False,
            )
        return RequestFailed(
            f"no complete answer from {host} within {seconds} after the request was "
            "sent",
            code="timeout",
            sent=sent,
        )
    if isinstance(exc, requests.exceptions.ProxyError):
        why = next(
            (e.strerror for e in found if isinstance(e, OSError) and e.strerror),
            _cause(exc),
        )
        return RequestFailed(
            f"cannot reach {host} through the proxy ({why}); nothing was sent",
            code="connect",
            sent=False,
        )
    dns = next((e for e in found if isinstance(e, socket.gaierror)), None)
    if dns is not None or any(isinstance(e, NameResolutionError) for e in found):
        why = f" ({dns.strerror})" if dns is not None and dns.strerror else ""
        return RequestFailed(
            f"cannot resolve {_bare(host)}: DNS lookup failed{why}; nothing was sent",
            code="dns",
            sent=False,
        )
    if any(isinstance(e, ConnectionRefusedError) for e in found):
        return RequestFailed(
            f"{host} refused the connection (connection refused); nothing was sent",
            code="connect",
            sent=False,
        )
    if isinstance(exc, requests.ConnectTimeout):
        return RequestFailed(
            f"connecting to {host} timed out after {seconds}; nothing was sent",
            code="connect",
            sent=False,
        )
    connect = next((e for e in found if isinstance(e, NewConnectionError)), None)
    if connect is not None:
        why = next(
            (e.strerror for e in found if isinstance(e, OSError) and e.strerror),
            "no connection",
        )
        return RequestFailed(
            f"cannot connect to {host} ({why}); nothing was sent",
            code="connect",
            sent=False,
        )
    tls = next((e for e in found if isinstance(e, ssl.SSLError)), None)
    if isinstance(exc, requests.exceptions.SSLError) and sent is not True:
        return RequestFailed(
            f"the TLS handshake with {host} failed ({_tls_reason(tls)}); nothing was "
            "sent",
            code="tls",
            sent=False if sent is False or tls is not None else None,
        )
    if isinstance(exc, requests.Timeout):
        return RequestFailed(
            f"no answer from {host} within {seconds} after the request was sent",
            code="timeout",
            sent=True if sent is None else sent,
        )
    if sent is None and "refused" in str(exc).lower():
        # An unguarded transport (a test double) that only says so in words.
        return RequestFailed(
            f"{host} refused the connection (connection refused); nothing was sent",
            code="connect",
            sent=False,
        )
    if sent is False:
        return RequestFailed(
            f"the connection to {host} failed before the request was sent "
            f"({_cause(exc)}); nothing was sent",
            code="connect",
            sent=False,
        )
    if any(isinstance(e, http.client.BadStatusLine) for e in found):
        hint = ""
        line = next(
            (str(e.args[0]) for e in found if isinstance(e, http.client.BadStatusLine)),
            "",
        )
        if line.lstrip("'").startswith(_TLS_RECORDS):
            hint = " (it speaks TLS there: use an https:// URL)"
        return RequestFailed(
            f"{host} answered with something that is not HTTP{hint}, after the request "
            "was sent",
            code="connection",
            sent=sent,
            detail=f"the answer was not HTTP{hint}",
        )
    if isinstance(
        exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        return RequestFailed(
            f"the connection to {host} broke after the request was sent ({_cause(exc)})",
            code="connection",
            sent=sent,
            detail=_cause(exc),
        )
    return RequestFailed(
        f"the request to {host} failed ({_cause(exc)})",
        code="transport",
        sent=sent,
        detail=_cause(exc),
    )


# A TLS alert or handshake record (as http.client shows the line, or its repr).
_TLS_RECORDS = ("\x15\x03", "\x16\x03", "\\x15\\x03", "\\x16\\x03")


def _bare(host: str) -> str:
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _tls_reason(error: ssl.SSLError | None) -> str:
    if error is None:
        return "TLS error"
    reason = getattr(error, "reason", None) or ""
    verify = getattr(error, "verify_message", None)
    if verify:
        return f"certificate verify failed: {verify}"
    if reason == "WRONG_VERSION_NUMBER":
        return "the server does not speak TLS on this port: use an http:// URL or the right port"
    return str(reason).lower().replace("_", " ") if reason else type(error).__name__


# -- Retry-After ---------------------------------------------------------------------------

_WEEK = 7 * 24 * 3600.0


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks to wait, or None (absent or not understood).

    Delta-seconds or an HTTP date (one without a zone is taken as UTC); a time in the
    past is 0; anything beyond a week (or "inf") is a week. The worker's backoff makes
    it sane (never below the schedule, at most a day), so this only has to parse.
    """
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            return None
        return min(max(0.0, seconds), _WEEK)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), _WEEK)
