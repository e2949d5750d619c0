"""Loopback fakes of the group robots (WeCom 群机器人, DingTalk 自定义机器人).

Each fake is an HTTP/1.1 server on 127.0.0.1 that follows the robot's documented protocol
(docs/outlets/wecom_group.md, docs/outlets/dingtalk_group.md): HTTP 200 with an
`{"errcode", "errmsg"}` body for every answer, the platform's checks and error codes, and a
sliding 60-second window of 20 messages a robot. It records every request, and the messages
it accepted per key or token, for assertions. Its clock is injectable (a
`syndicate.testing.FixedClock` shared with the worker lets a test move time on without
waiting).

Scripted answers override the normal handling for the next requests to one robot: an
errcode, an HTTP status, a raw body, a delay (to make the client time out) or a dropped
connection after the body was read (an unknown outcome), each optionally with the message
accepted first:

```python
with WeComRobotServer(keys=["k-0001-…"], clock=clock) as wecom:
    wecom.script("k-0001-…", Reply(), Reply(errcode=45009))  # 1st normal, 2nd refused
    …
    assert [m["msgtype"] for m in wecom.messages("k-0001-…")] == ["markdown"]
```

Importable without test-only dependencies (standard library only, plus syndicate itself),
so `syndicate demo` can use it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from syndicate.outlets import outlet_toml
from syndicate.testing import Answer, loopback_http_server

__all__ = [
    "DingTalkRobotServer",
    "LoopbackFake",
    "Received",
    "Reply",
    "WeComRobotServer",
    "WechatMpServer",
    "loopback_outlet_keys",
    "toml_table",
]

Clock = Callable[[], datetime]
WINDOW = timedelta(seconds=60)


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one request; `Reply()` means "handle it normally".

    - `errcode` (with optional `errmsg`): answer HTTP 200 with this errcode; the message is
      not accepted.
    - `status` / `body`: answer with this HTTP status and raw body.
    - `drop`: read the request, then close the connection without answering.
    - `accept`: with `drop`, handle the message normally first (it reaches the group, but
      the sender cannot know).
    - `delay`: wait this many seconds before answering (handled normally, unless an
      errcode is given); longer than the client's timeout, it is a read timeout after the
      message was taken.
    """

    errcode: int | None = None
    errmsg: str | None = None
    status: int | None = None
    body: bytes | None = None
    drop: bool = False
    delay: float = 0.0
    accept: bool = False


@dataclass(frozen=True)
class Received:
    """One request the fake got, and what it answered (`errcode` None: no errcode)."""

    robot: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    errcode: int | None
    at: datetime


@dataclass
class _Answer:
    status: int = 200
    payload: bytes = b""
    drop: bool = False
    delay: float = 0.0


def _errbody(errcode: int, errmsg: str) -> bytes:
    return json.dumps(
        {"errcode": errcode, "errmsg": errmsg}, ensure_ascii=False
    ).encode("utf-8")


class LoopbackFake:
    """A fake platform API served on 127.0.0.1 in a background thread: its `url`,
    `start`/`close`, and use as a context manager. Subclasses set `_server` and
    `_thread` from `syndicate.testing.loopback_http_server`."""

    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (an outlet's `base_url`)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RobotServer(LoopbackFake):
    """The HTTP plumbing and bookkeeping both fakes share."""

    send_path: ClassVar[str]
    robot_param: ClassVar[str]

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        per_minute: int = 20,
        latency: float = 0.0,
    ) -> None:
        self.clock: Clock = clock or _system_clock
        self.per_minute = per_minute
        # Seconds every answer takes (a real robot API across the internet: ~0.1 s).
        self.latency = latency
        self.received: list[Received] = []
        self._accepted: dict[str, list[dict[str, Any]]] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._sent_at: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()
        self._server, self._thread = loopback_http_server(self._answer)

    def _answer(self, request: BaseHTTPRequestHandler, body: bytes) -> Answer | None:
        answer = self._handle(
            request.command,
            request.path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            request.client_address[0],
        )
        if answer.delay or self.latency:
            time.sleep(max(answer.delay, self.latency))
        if answer.drop:
            return None
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return answer.status, headers, answer.payload

    # -- scripting and assertions --------------------------------------------------------

    def script(self, robot: str, *replies: Reply) -> None:
        """Answer the next requests to `robot` with `replies`, in order."""
        with self._lock:
            self._scripts.setdefault(robot, deque()).extend(replies)

    def messages(self, robot: str) -> list[dict[str, Any]]:
        """The message bodies `robot` accepted, in order (what its group shows)."""
        with self._lock:
            return list(self._accepted.get(robot, []))

    def errcodes(self, robot: str | None = None) -> list[int | None]:
        """The errcodes answered, in order (to `robot`, or to every robot)."""
        with self._lock:
            return [r.errcode for r in self.received if robot in (None, r.robot)]

    # -- handling ------------------------------------------------------------------------

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, ip: str
    ) -> _Answer:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        robot = query.get(self.robot_param, "")
        now = self.clock()
        with self._lock:
            script = self._scripts.get(robot)
            reply = script.popleft() if script else Reply()
            if method != "POST" or parts.path != self.send_path:
                answer, errcode = _Answer(404, b'{"error": "not found"}'), None
            elif reply.errcode is not None:
                said = reply.errmsg or f"scripted error {reply.errcode}"
                errcode = reply.errcode
                answer = _Answer(payload=_errbody(errcode, said), delay=reply.delay)
            elif reply.status is not None or reply.body is not None:
                answer = _Answer(reply.status or 200, reply.body or b"")
                errcode = None
            elif reply.drop and not reply.accept:
                answer, errcode = _Answer(drop=True), None
            else:
                errcode, errmsg, message = self._check(robot, query, headers, body, ip)
                if errcode == 0 and message is not None:
                    self._accepted.setdefault(robot, []).append(message)
                    self._sent_at.setdefault(robot, deque()).append(now)
                answer = _Answer(
                    payload=_errbody(errcode, errmsg),
                    drop=reply.drop,
                    delay=reply.delay,
                )
                if reply.drop:
                    errcode = None  # nothing was answered
            self.received.append(
                Received(robot, parts.path, query, headers, body, errcode, now)
            )
        return answer

    def _window_full(self, robot: str, now: datetime) -> bool:
        sent = self._sent_at.setdefault(robot, deque())
        while sent and now - sent[0] >= WINDOW:
            sent.popleft()
        return len(sent) >= self.per_minute

    def _check(
        self,
        robot: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        ip: str,
    ) -> tuple[int, str, dict[str, Any] | None]:
        """(errcode, errmsg, the accepted message or None). Called under the lock."""
        raise NotImplementedError

    # -- configuration helpers -----------------------------------------------------------

    def _table(self, kind: str, **values: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "channel": "group",
            "base_url": self.url,
            **loopback_outlet_keys(),
            **values,
        }


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class WeComRobotServer(_RobotServer):
    """A fake `qyapi.weixin.qq.com` serving `/cgi-bin/webhook/send?key=KEY`.

    Unknown key → 93000; invalid JSON → 40035; unknown or upper-case `msgtype` → 40008;
    `text.content` over 2048 bytes or `markdown.content` over 4096 bytes → 40058; more than
    `per_minute` accepted messages in 60 s → 45009 (no lock-out beyond the window).
    """

    send_path = "/cgi-bin/webhook/send"
    robot_param = "key"
    _LIMITS: ClassVar[dict[str, int]] = {
        "text": 2048,
        "markdown": 4096,
        "markdown_v2": 4096,
    }
    _TYPES: ClassVar[set[str]] = {
        "text",
        "markdown",
        "markdown_v2",
        "image",
        "news",
        "file",
        "voice",
        "template_card",
    }

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        clock: Clock | None = None,
        per_minute: int = 20,
        latency: float = 0.0,
    ) -> None:
        super().__init__(clock=clock, per_minute=per_minute, latency=latency)
        self.keys: set[str] = set(keys)

    def add_key(self, key: str) -> None:
        """A robot with this key now exists."""
        with self._lock:
            self.keys.add(key)

    def remove_key(self, key: str) -> None:
        """The robot is removed from its group (its key gives 93000 from now on)."""
        with self._lock:
            self.keys.discard(key)

    @staticmethod
    def _hint(errcode: int, ip: str) -> str:
        return (
            f", hint: [1760000000_{errcode}_fake], from ip: {ip}, more info at "
            f"https://open.work.weixin.qq.com/devtool/query?e={errcode}"
        )

    def _check(
        self,
        robot: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        ip: str,
    ) -> tuple[int, str, dict[str, Any] | None]:
        if robot not in self.keys:
            return 93000, "invalid webhook url" + self._hint(93000, ip), None
        message = _json_object(body)
        if message is None:
            return 40035, "invalid json" + self._hint(40035, ip), None
        msgtype = message.get("msgtype")
        if msgtype not in self._TYPES or not isinstance(message.get(msgtype), dict):
            return 40008, "invalid message type" + self._hint(40008, ip), None
        if msgtype == "image":
            problem = _image_problem(message["image"])
            if problem is not None:
                return problem[0], problem[1] + self._hint(problem[0], ip), None
        limit = self._LIMITS.get(msgtype)
        content = message[msgtype].get("content")
        if limit is not None:
            if not isinstance(content, str) or not content:
                return 40035, "empty content" + self._hint(40035, ip), None
            if len(content.encode("utf-8")) > limit:
                return (
                    40058,
                    f"{msgtype}.content exceed max length {limit}. invalid Request "
                    "Parameter" + self._hint(40058, ip),
                    None,
                )
        if self._window_full(robot, self.clock()):
            return 45009, "api freq out of limit" + self._hint(45009, ip), None
        return 0, "ok", message

    def outlet_table(
        self, key_env: str, *, portal_url: str, **values: Any
    ) -> dict[str, Any]:
        """An `[outlets.NAME]` table for a `wecom_group` outlet on this fake.

        `key_env` names the environment variable holding the key; `values` are more
        settings (`mention_all`, `msgtype`, outlet filters…).
        """
        return self._table(
            "wecom_group",
            webhook=f"${{{key_env}}}",
            portal_url=portal_url,
            **values,
        )


def _image_problem(image: dict[str, Any]) -> tuple[int, str] | None:
    """What is wrong with a WeCom robot `image` message: `base64` must decode to a
    JPEG or PNG of at most 2 MB whose MD5 (hex) is `md5`. (The codes are the fake's
    choice where the documentation names none: 40009 for the size, 40035 otherwise.)"""
    data, md5 = image.get("base64"), image.get("md5")
    if not isinstance(data, str) or not isinstance(md5, str):
        return 40035, "image needs base64 and md5"
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        return 40035, "invalid base64"
    if len(raw) > 2 * 1024 * 1024:
        return 40009, "invalid image size"
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() != md5:
        return 40035, "image md5 not match"
    if not (raw.startswith(b"\x89PNG\r\n\x1a\n") or raw.startswith(b"\xff\xd8\xff")):
        return 40035, "image must be jpg or png"
    return None


@dataclass
class _DingTalkRobot:
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] | None = None
    throttled_until: datetime | None = None


class DingTalkRobotServer(_RobotServer):
    """A fake `oapi.dingtalk.com` serving `/robot/send?access_token=T[&timestamp&sign]`.

    Checks, in order: the token (→ 400101); `Content-Type: application/json` (→ 43004);
    the body ≤ 20000 bytes (→ 460101, an assumed code: the real one is undocumented);
    valid JSON (→ 40035); the signature, when the robot has a secret — both parameters
    present (→ 310000 sign not match), `timestamp` within
    3600 s of the fake's clock (→ 310000 invalid timestamp) and `sign` equal to
    base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) after one URL-decoding (→ 310000
    sign not match); the IP allow-list (→ 310000); the message type (→ 400105) and its
    required fields (→ 40035); the keywords (→ 310000 keywords not in content). Then the
    rate: while throttled, 410100; the 21st message in 60 s → 410100 and a 10-minute
    throttle.
    """

    send_path = "/robot/send"
    robot_param = "access_token"
    body_limit = 20_000
    throttle = timedelta(minutes=10)
    _TYPES: ClassVar[set[str]] = {"text", "link", "markdown", "actionCard", "feedCard"}

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        per_minute: int = 20,
        latency: float = 0.0,
    ) -> None:
        super().__init__(clock=clock, per_minute=per_minute, latency=latency)
        self.robots: dict[str, _DingTalkRobot] = {}

    def add_robot(
        self,
        token: str,
        *,
        secret: str | None = None,
        keywords: Sequence[str] = (),
        allowed_ips: Sequence[str] | None = None,
    ) -> None:
        """A robot with this token (and security settings) now exists."""
        with self._lock:
            self.robots[token] = _DingTalkRobot(
                secret=secret,
                keywords=tuple(keywords),
                allowed_ips=None if allowed_ips is None else tuple(allowed_ips),
            )

    def throttled_until(self, token: str) -> datetime | None:
        """When the robot's 10-minute throttle ends (None: not throttled)."""
        with self._lock:
            robot = self.robots.get(token)
            return robot.throttled_until if robot else None

    @staticmethod
    def expected_sign(secret: str, timestamp: str) -> str:
        """The documented signature (base64, before URL encoding)."""
        digest = hmac.new(
            secret.encode("utf-8"),
            f"{timestamp}\n{secret}".encode(),
            hashlib.sha256,
        ).digest()
        return base64.b64encode(digest).decode("ascii")

    def _check(
        self,
        robot: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        ip: str,
    ) -> tuple[int, str, dict[str, Any] | None]:
        config = self.robots.get(robot)
        if config is None:
            return 400101, "access_token不存在", None
        if "application/json" not in headers.get("content-type", ""):
            return 43004, "无效的HTTP HEADER Content-Type", None
        if len(body) > self.body_limit:
            return (
                460101,
                "body 大小不合法;解决方案:请保持大小在 20000bytes 以内",
                None,
            )
        message = _json_object(body)
        if message is None:
            return 40035, "缺少参数 json", None
        now = self.clock()
        if config.secret is not None:
            stamp = query.get("timestamp", "")
            if not stamp or "sign" not in query:
                return 310000, "sign not match", None
            try:
                moment = datetime.fromtimestamp(int(stamp) / 1000, UTC)
            except (ValueError, OverflowError, OSError):
                return 310000, "invalid timestamp", None
            if abs((now - moment).total_seconds()) > 3600:
                return 310000, "invalid timestamp", None
            expected = self.expected_sign(config.secret, stamp)
            if not hmac.compare_digest(query.get("sign", ""), expected):
                return 310000, "sign not match", None
        if config.allowed_ips is not None and ip not in config.allowed_ips:
            return 310000, f"ip {ip} not in whitelist", None
        msgtype = message.get("msgtype")
        if msgtype not in self._TYPES:
            return 400105, "不支持的消息类型", None
        inner = message.get(msgtype)
        if not isinstance(inner, dict):
            return 40035, f"缺少参数 {msgtype}", None
        if msgtype == "markdown":
            for name in ("title", "text"):
                if not isinstance(inner.get(name), str) or not inner[name]:
                    return 40035, f"缺少参数 markdown.{name}", None
            content = inner["text"]
        elif msgtype == "text":
            content = inner.get("content")
            if not isinstance(content, str) or not content:
                return 40035, "缺少参数 text.content", None
        else:
            content = json.dumps(inner, ensure_ascii=False)
        if config.keywords and not any(k in content for k in config.keywords):
            return 310000, "keywords not in content", None
        if config.throttled_until is not None and now < config.throttled_until:
            return 410100, "发送速度太快而限流", None
        if self._window_full(robot, now):
            config.throttled_until = now + self.throttle
            return 410100, "发送速度太快而限流", None
        return 0, "ok", message

    def outlet_table(
        self,
        token_env: str,
        *,
        portal_url: str,
        secret_env: str | None = None,
        **values: Any,
    ) -> dict[str, Any]:
        """An `[outlets.NAME]` table for a `dingtalk_group` outlet on this fake.

        `token_env` (and `secret_env`) name the environment variables holding the token
        (and the 加签 secret); `values` are more settings (`keyword`, `at_all`, filters…).
        """
        secrets = {"secret": f"${{{secret_env}}}"} if secret_env else {}
        return self._table(
            "dingtalk_group",
            access_token=f"${{{token_env}}}",
            portal_url=portal_url,
            **secrets,
            **values,
        )


def loopback_outlet_keys() -> dict[str, Any]:
    """Outlet-table keys an outlet needs to reach a loopback fake: the network guard
    refuses loopback addresses unless the outlet allows its private network."""
    return {"allow_private_network": True}


def toml_table(name: str, table: Mapping[str, Any]) -> str:
    """`[outlets.NAME]` and its keys as TOML text (`syndicate.outlets.outlet_toml`)."""
    return outlet_toml(name, table)


@dataclass
class _PublishJob:
    publish_id: str
    draft: list[dict[str, Any]]
    polls_left: int
    fail_status: int | None
    article_id: str | None = None


class WechatMpServer(_RobotServer):
    """A fake `api.weixin.qq.com` for one official account (发布能力 only).

    - `/cgi-bin/stable_token` (POST JSON) and `/cgi-bin/token` (GET): wrong AppID → 40013,
      wrong secret → 40125. `stable_token` with `force_refresh: false` returns the current
      token while it is valid; `force_refresh: true` and `/cgi-bin/token` issue a new one,
      which makes the previous one answer 42001 (as does an expired one). Tokens live
      `expires_in` seconds of the fake's clock.
    - `material/add_material?type=thumb` (multipart field `media`; a thumb over 64 KB →
      40006), `draft/add` (unknown thumb → 40007; content ≥ 20,000 characters → 45002),
      `freepublish/submit` (→ `publish_id`), `freepublish/get` (status 1 for
      `publish_polls` polls, then 0 with `article_id` / `article_detail`, or the status
      set with `fail_next`), `freepublish/delete` (unknown or deleted → 53600),
      `freepublish/batchget` (published articles, newest first).
    - `script(api, Reply(...))` answers the next calls to `api` (e.g. "freepublish/submit")
      with scripted errcodes, HTTP answers, delays or dropped connections (`accept=True`:
      handled first, then dropped). `calls(api)` lists what each API received.
    """

    send_path = "/cgi-bin/"
    robot_param = ""
    thumb_limit = 64 * 1024

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        clock: Clock | None = None,
        expires_in: int = 7200,
        publish_polls: int = 1,
    ) -> None:
        super().__init__(clock=clock)
        self.app_id = app_id
        self.secret = secret
        self.expires_in = expires_in
        self.publish_polls = publish_polls
        self.tokens: list[str] = []  # every token issued, oldest first
        self.token_expires: datetime | None = None
        self.materials: dict[str, bytes] = {}
        self.drafts: dict[str, list[dict[str, Any]]] = {}
        self.jobs: dict[str, _PublishJob] = {}
        self.articles: dict[str, dict[str, Any]] = {}  # article_id → record
        self._fail_next: deque[int] = deque()
        self._counter = 0

    def __enter__(self) -> WechatMpServer:
        self.start()
        return self

    # -- scripting -----------------------------------------------------------------------

    def fail_next(self, *statuses: int) -> None:
        """The next publish jobs end with these `publish_status` values (2-6)."""
        with self._lock:
            self._fail_next.extend(statuses)

    def rotate(self) -> str:
        """Issue a new token as another client would (`/cgi-bin/token`)."""
        with self._lock:
            return self._issue()

    def calls(self, api: str) -> list[Received]:
        """Requests to `api` (e.g. "freepublish/submit"), in order."""
        with self._lock:
            return [r for r in self.received if r.robot == api]

    def published(self) -> list[dict[str, Any]]:
        """Articles published and not deleted, oldest first."""
        with self._lock:
            return [a for a in self.articles.values() if not a["is_deleted"]]

    def outlet_table(
        self, secret_env: str, *, portal_url: str, **values: Any
    ) -> dict[str, Any]:
        """An `[outlets.NAME]` table for a `wechat_mp` outlet on this fake."""
        return {
            "kind": "wechat_mp",
            "channel": "new_media",
            "base_url": self.url,
            **loopback_outlet_keys(),
            "app_id": self.app_id,
            "app_secret": f"${{{secret_env}}}",
            "portal_url": portal_url,
            **values,
        }

    # -- handling ------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    def _issue(self) -> str:
        digest = hashlib.sha256(
            f"{self.secret}:{len(self.tokens)}".encode()
        ).hexdigest()
        token = f"{len(self.tokens):02d}_{digest}{digest}"
        self.tokens.append(token)
        self.token_expires = self.clock() + timedelta(seconds=self.expires_in)
        return token

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, ip: str
    ) -> _Answer:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        api = parts.path.removeprefix("/cgi-bin/")
        now = self.clock()
        with self._lock:
            script = self._scripts.get(api)
            reply = script.popleft() if script else Reply()
            if reply.errcode is not None:
                said = reply.errmsg or f"scripted error {reply.errcode}"
                errcode: int | None = reply.errcode
                answer = _Answer(
                    payload=_errbody(reply.errcode, said), delay=reply.delay
                )
            elif reply.status is not None or reply.body is not None:
                answer, errcode = _Answer(reply.status or 200, reply.body or b""), None
            elif reply.drop and not reply.accept:
                answer, errcode = _Answer(drop=True), None
            else:
                result = self._api(method, api, query, headers, body, now)
                errcode = int(result.get("errcode", 0))
                payload = json.dumps(result, ensure_ascii=False).encode("utf-8")
                answer = _Answer(payload=payload, drop=reply.drop, delay=reply.delay)
                if reply.drop:
                    errcode = None
            self.received.append(
                Received(api, parts.path, query, headers, body, errcode, now)
            )
        return answer

    def _token_error(
        self, query: Mapping[str, str], now: datetime
    ) -> dict[str, Any] | None:
        token = query.get("access_token", "")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        current = self.tokens[-1]
        expired = self.token_expires is not None and now >= self.token_expires
        if token != current or expired:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _api(
        self,
        method: str,
        api: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> dict[str, Any]:
        if api in ("stable_token", "token"):
            asked: dict[str, Any] = (
                _json_object(body) if api == "stable_token" else dict(query)
            ) or {}
            if asked.get("appid") != self.app_id:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if asked.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            valid = bool(self.tokens) and (
                self.token_expires is not None and now < self.token_expires
            )
            if api == "token" or asked.get("force_refresh") or not valid:
                self._issue()
            expires = self.token_expires or now
            left = int((expires - now).total_seconds())
            return {"access_token": self.tokens[-1], "expires_in": left}
        problem = self._token_error(query, now)
        if problem is not None:
            return problem
        if api == "material/add_material":
            media = _multipart_field(headers.get("content-type", ""), body, "media")
            if media is None:
                return {"errcode": 41005, "errmsg": "media data missing"}
            if query.get("type") == "thumb" and len(media) > self.thumb_limit:
                return {"errcode": 40006, "errmsg": "invalid meida size"}
            media_id = self._next_id("THUMB_")
            self.materials[media_id] = media
            return {"media_id": media_id}
        data = _json_object(body)
        if data is None:
            return {"errcode": 44002, "errmsg": "empty post data"}
        if api == "draft/add":
            articles: list[dict[str, Any]] = list(data.get("articles") or [])
            for article in articles:
                if article.get("thumb_media_id") not in self.materials:
                    return {"errcode": 40007, "errmsg": "invalid media_id"}
                if len(article.get("content", "")) >= 20_000:
                    return {"errcode": 45002, "errmsg": "content size out of limit"}
            media_id = self._next_id("DRAFT_")
            self.drafts[media_id] = articles
            return {"media_id": media_id}
        if api == "freepublish/submit":
            draft = self.drafts.pop(str(data.get("media_id")), None)
            if draft is None:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            job = _PublishJob(
                self._next_id("PUB_"),
                draft,
                self.publish_polls,
                self._fail_next.popleft() if self._fail_next else None,
            )
            self.jobs[job.publish_id] = job
            if job.polls_left <= 0:
                self._finish(job)
            return {"errcode": 0, "errmsg": "ok", "publish_id": job.publish_id}
        if api == "freepublish/get":
            found = self.jobs.get(str(data.get("publish_id")))
            if found is None:
                return {"errcode": 40007, "errmsg": "invalid publish_id"}
            if found.polls_left > 0:
                found.polls_left -= 1
                return {
                    "publish_id": found.publish_id,
                    "publish_status": 1,
                    "fail_idx": [],
                }
            self._finish(found)
            if found.fail_status is not None:
                return {
                    "publish_id": found.publish_id,
                    "publish_status": found.fail_status,
                    "fail_idx": [1] if found.fail_status in (2, 4) else [],
                }
            record = self.articles[found.article_id or ""]
            return {
                "publish_id": found.publish_id,
                "publish_status": 0,
                "article_id": found.article_id,
                "article_detail": {
                    "count": 1,
                    "item": [{"idx": 1, "article_url": record["url"]}],
                },
                "fail_idx": [],
            }
        if api == "freepublish/delete":
            gone = self.articles.get(str(data.get("article_id")))
            if gone is None or gone["is_deleted"]:
                return {"errcode": 53600, "errmsg": "Article ID 无效"}
            gone["is_deleted"] = True
            return {"errcode": 0, "errmsg": "ok"}
        if api == "freepublish/batchget":
            offset, count = int(data.get("offset", 0)), int(data.get("count", 20))
            if not 1 <= count <= 20:
                return {"errcode": 40097, "errmsg": "invalid args"}
            newest = list(reversed(self.articles.values()))[offset : offset + count]
            items = []
            for record in newest:
                news = [
                    {
                        **{
                            k: v
                            for k, v in a.items()
                            if k != "content" or not data.get("no_content")
                        },
                        "url": record["url"],
                        "is_deleted": record["is_deleted"],
                    }
                    for a in record["articles"]
                ]
                items.append(
                    {"article_id": record["article_id"], "content": {"news_item": news}}
                )
            return {
                "total_count": len(self.articles),
                "item_count": len(items),
                "item": items,
            }
        return {"errcode": 404, "errmsg": f"unknown api {api}"}

    def _finish(self, job: _PublishJob) -> None:
        if job.fail_status is not None or job.article_id is not None:
            return
        job.polls_left = 0
        article_id = self._next_id("ART_")
        job.article_id = article_id
        self.articles[article_id] = {
            "article_id": article_id,
            "articles": job.draft,
            "url": f"https://mp.weixin.qq.com/s/{article_id}",
            "is_deleted": False,
        }


def _multipart_field(content_type: str, body: bytes, name: str) -> bytes | None:
    """The bytes of form field `name` in a multipart/form-data body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None
