"""A loopback fake of the Weibo open API (`api.weibo.com`) for one app's posts.

It follows what docs/outlets/weibo.md says Weibo does, on 127.0.0.1:

- `POST /2/statuses/share.json` (form-encoded or multipart; fields `access_token`,
  `status`, optional file `pic`) posts; `POST /2/statuses/destroy.json` (`access_token`,
  `id`) deletes; `GET /2/statuses/show.json?access_token=…&id=…` shows a post;
  `/2/statuses/update.json` is closed (10014), any other path is 10020.
- Success answers HTTP 200 with the status object (`id`, `idstr`, `created_at`,
  `text`, `user`, and `pic_ids` / `thumbnail_pic` with a picture). Errors answer
  `{"error", "error_code", "request"}`, HTTP 403 for permission and token errors and
  400 for the others.
- Checks of `share`, in order: the token (unknown → 21332 invalid_access_token, one
  made to expire with `expire` → 21327 expired_token); `status` present (→ 10016); a
  link under `safe_domain` in the text (→ 10017 `text not find domain!`); the length
  (→ 20012); the picture (not JPEG/PNG/GIF by its first bytes → 20005, 5 MB or more →
  20006); the same text accepted from the token within `repeat_window` (→ 20019
  `repeat content!`); `per_hour` posts accepted from the token in the last hour (→
  10023 `User requests out of rate limit!`).
- The length is the fake's own count, stricter than Weibo's: a character is 1, an
  ASCII character ½, links at their full length (Weibo shortens them first); more than
  140 → 20012 `Text too long, please input text less than 140 characters!`, a code of
  Weibo's published list chosen by the fake.
- `destroy`: an unknown or deleted id → 20101 `target weibo does not exist!`; another
  token's post → 20102; with `destroy_allowed = False` → 10014 `Insufficient app
  permissions!`. `show`: an unknown or deleted id → 20101.

`script(api, Reply(...))` (`api`: "share", "destroy" or "show"; `Reply` from
`syndicate.testing.fakes`) answers the next calls with an error code (`errcode`,
`errmsg`; HTTP 400 unless `status` says otherwise), a raw HTTP answer (`status`,
`body`: a 502, garbage), a delay, or a dropped connection (`drop`; with `accept`, the
call is handled first, so the post is up and the client never hears of it). Every
request is recorded (`received`, `calls(api)`); the posts are in `posts` (`live()`:
not deleted). Its clock is injectable, like the other fakes'. Standard library only
(plus syndicate), so `syndicate demo` can run one.

```python
with WeiboServer(tokens=[token], safe_domain="www.linxi.gov.cn") as weibo:
    table = weibo.outlet_table("WEIBO_TOKEN", portal_url="https://www.linxi.gov.cn")
    weibo.script("share", Reply(errcode=10023))  # the next post hits the rate limit
```
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syndicate.testing import Answer, loopback_http_server
from syndicate.testing.fakes import LoopbackFake, Reply, loopback_outlet_keys

__all__ = ["WeiboPostRecord", "WeiboRequest", "WeiboServer", "weibo_length"]

Clock = Callable[[], datetime]
SHARE = "/2/statuses/share.json"
DESTROY = "/2/statuses/destroy.json"
SHOW = "/2/statuses/show.json"
UPDATE = "/2/statuses/update.json"
_APIS = {SHARE: "share", DESTROY: "destroy", SHOW: "show", UPDATE: "update"}
_URL = re.compile(r"https?://[^\s\u3000-\u303f\uff00-\uffef]+")
_PICTURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
_FIRST_ID = 5_012_000_000_000_000
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
_BEIJING = timedelta(hours=8)


def _system_clock() -> datetime:
    return datetime.now(UTC)


def weibo_length(text: str) -> float:
    """The fake's count of a post's length: 1 a character, ½ an ASCII character (links
    too, at their full length)."""
    return sum(0.5 if ord(ch) < 128 else 1.0 for ch in text)


def _created_at(moment: datetime) -> str:
    """Weibo's `created_at` form, in Beijing time: `Fri Oct 09 09:30:00 +0800 2026`."""
    local = moment.astimezone(UTC) + _BEIJING
    return (
        f"{_WEEKDAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} "
        f"{local:%H:%M:%S} +0800 {local.year}"
    )


@dataclass
class WeiboPostRecord:
    """A post the fake took: its text, picture, who posted it, and if it is deleted."""

    id: str
    text: str
    token: str
    at: datetime
    picture: bytes | None = None
    deleted: bool = False

    def status(self, uid: int, screen_name: str) -> dict[str, Any]:
        """The status object Weibo answers for it."""
        found: dict[str, Any] = {
            "created_at": _created_at(self.at),
            "id": int(self.id),
            "idstr": self.id,
            "mid": self.id,
            "text": self.text,
            "source": '<a href="https://open.weibo.com" rel="nofollow">未通过审核应用</a>',
            "user": {"id": uid, "idstr": str(uid), "screen_name": screen_name},
            "reposts_count": 0,
            "comments_count": 0,
            "attitudes_count": 0,
        }
        if self.picture is not None:
            pic = f"{int(self.id):x}"
            found["pic_ids"] = [pic]
            found["thumbnail_pic"] = f"https://wx1.sinaimg.cn/thumbnail/{pic}.jpg"
        return found


@dataclass(frozen=True)
class WeiboRequest:
    """One request the fake got, and the error code it answered (None: none)."""

    api: str
    method: str
    path: str
    query: Mapping[str, str]
    fields: Mapping[str, str]
    files: Mapping[str, bytes]
    headers: Mapping[str, str]
    error_code: int | None
    at: datetime


@dataclass
class _Answer:
    status: int = 200
    payload: bytes = b""
    drop: bool = False
    delay: float = 0.0
    error_code: int | None = None


@dataclass
class _Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


class WeiboServer(LoopbackFake):
    """A fake `api.weibo.com` for one app and its accounts' tokens (module docstring)."""

    text_limit = 140
    pic_limit = 5 * 1024 * 1024

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (),
        safe_domain: str = "www.linxi.gov.cn",
        clock: Clock | None = None,
        per_hour: int | None = None,
        repeat_window: timedelta = timedelta(hours=24),
        destroy_allowed: bool = True,
        uid: int = 7_301_234_567,
        screen_name: str = "临溪发布",
    ) -> None:
        self.clock: Clock = clock or _system_clock
        self.tokens: set[str] = set(tokens)
        self.expired: set[str] = set()
        self.safe_domain = safe_domain.lower()
        self.per_hour = per_hour
        self.repeat_window = repeat_window
        self.destroy_allowed = destroy_allowed
        self.uid = uid
        self.screen_name = screen_name
        self.received: list[WeiboRequest] = []
        self.posts: dict[str, WeiboPostRecord] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._next = _FIRST_ID
        self._server, self._thread = loopback_http_server(self._answer)

    # -- configuration and scripting -----------------------------------------------------

    def add_token(self, token: str) -> None:
        """A valid access token from now on."""
        with self._lock:
            self.tokens.add(token)
            self.expired.discard(token)

    def expire(self, token: str) -> None:
        """The token expired: every call with it answers 21327 expired_token."""
        with self._lock:
            self.expired.add(token)

    def script(self, api: str, *replies: Reply) -> None:
        """Answer the next calls to `api` ("share", "destroy", "show") with `replies`."""
        with self._lock:
            self._scripts.setdefault(api, deque()).extend(replies)

    def outlet_table(
        self,
        token_env: str,
        *,
        portal_url: str,
        safe_domain: str | None = None,
        **values: Any,
    ) -> dict[str, Any]:
        """An `[outlets.NAME]` table for a `weibo` outlet on this fake; `token_env`
        names the environment variable that holds the access token."""
        return {
            "kind": "weibo",
            "channel": "new_media",
            "api_base": self.url,
            **loopback_outlet_keys(),
            "access_token": f"${{{token_env}}}",
            "safe_domain": safe_domain or self.safe_domain,
            "portal_url": portal_url,
            **values,
        }

    # -- assertions ----------------------------------------------------------------------

    def calls(self, api: str) -> list[WeiboRequest]:
        """The requests to `api`, in order."""
        with self._lock:
            return [r for r in self.received if r.api == api]

    def error_codes(self, api: str | None = None) -> list[int | None]:
        """The error codes answered (None: a success or no error body), in order."""
        with self._lock:
            return [r.error_code for r in self.received if api in (None, r.api)]

    def live(self) -> list[WeiboPostRecord]:
        """The posts not deleted, oldest first (what the account shows)."""
        with self._lock:
            return [p for p in self.posts.values() if not p.deleted]

    # -- handling ------------------------------------------------------------------------

    def _answer(self, request: BaseHTTPRequestHandler, body: bytes) -> Answer | None:
        answer = self._handle(
            request.command,
            request.path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        if answer.delay:
            time.sleep(answer.delay)
        if answer.drop:
            return None
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        return answer.status, headers, answer.payload

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> _Answer:
        parts = urlsplit(target)
        query = {
            k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
        }
        api = _APIS.get(parts.path, "unknown")
        form = (
            _form(headers.get("content-type", ""), body) if method == "POST" else None
        )
        now = self.clock()
        with self._lock:
            script = self._scripts.get(api)
            reply = script.popleft() if script else Reply()
            if reply.errcode is not None:
                answer = self._error(
                    parts.path,
                    reply.errcode,
                    reply.errmsg or f"scripted error {reply.errcode}",
                    status=reply.status,
                )
                answer.delay = reply.delay
            elif reply.status is not None or reply.body is not None:
                answer = _Answer(reply.status or 200, reply.body or b"")
            elif reply.drop and not reply.accept:
                answer = _Answer(drop=True)
            else:
                answer = self._api(api, method, parts.path, query, form, now)
                answer.drop, answer.delay = reply.drop, reply.delay
            self.received.append(
                WeiboRequest(
                    api=api,
                    method=method,
                    path=parts.path,
                    query=query,
                    fields=dict(form.fields) if form else {},
                    files=dict(form.files) if form else {},
                    headers=headers,
                    error_code=None if answer.drop else answer.error_code,
                    at=now,
                )
            )
        return answer

    def _error(
        self, path: str, code: int, said: str, *, status: int | None = None
    ) -> _Answer:
        forbidden = code == 10014 or 21300 <= code < 21400
        payload = json.dumps(
            {"error": said, "error_code": code, "request": path}, ensure_ascii=False
        ).encode("utf-8")
        return _Answer(status or (403 if forbidden else 400), payload, error_code=code)

    def _ok(self, found: dict[str, Any]) -> _Answer:
        return _Answer(200, json.dumps(found, ensure_ascii=False).encode("utf-8"))

    def _api(
        self,
        api: str,
        method: str,
        path: str,
        query: Mapping[str, str],
        form: _Form | None,
        now: datetime,
    ) -> _Answer:
        if api == "unknown":
            return self._error(path, 10020, "Request Api not found!")
        if api == "update":
            return self._error(path, 10014, "Insufficient app permissions!")
        wanted = "GET" if api == "show" else "POST"
        if method != wanted:
            return self._error(
                path, 10021, "HTTP method is not suported for this request!"
            )
        fields = query if api == "show" else (form.fields if form else {})
        token = fields.get("access_token", "")
        if token in self.expired:
            return self._error(path, 21327, "expired_token")
        if token not in self.tokens:
            return self._error(path, 21332, "invalid_access_token")
        if api == "show":
            found = self.posts.get(fields.get("id", ""))
            if found is None or found.deleted:
                return self._error(path, 20101, "target weibo does not exist!")
            return self._ok(found.status(self.uid, self.screen_name))
        if api == "destroy":
            return self._destroy(path, token, fields)
        return self._share(path, token, form or _Form(), now)

    def _destroy(self, path: str, token: str, fields: Mapping[str, str]) -> _Answer:
        found = self.posts.get(fields.get("id", ""))
        if found is None or found.deleted:
            return self._error(path, 20101, "target weibo does not exist!")
        if found.token != token:
            return self._error(path, 20102, "not your own weibo!")
        if not self.destroy_allowed:
            return self._error(path, 10014, "Insufficient app permissions!")
        found.deleted = True
        return self._ok(found.status(self.uid, self.screen_name))

    def _share(self, path: str, token: str, form: _Form, now: datetime) -> _Answer:
        text = form.fields.get("status", "")
        if not text:
            return self._error(
                path, 10016, "miss required parameter (status), see doc for more info."
            )
        if not any(self._safe(url) for url in _URL.findall(text)):
            return self._error(path, 10017, "text not find domain!")
        if weibo_length(text) > self.text_limit:
            return self._error(
                path,
                20012,
                "Text too long, please input text less than 140 characters!",
            )
        picture = form.files.get("pic")
        if picture is not None:
            if not picture.startswith(_PICTURES):
                return self._error(
                    path, 20005, "Unsupported image type, only suport JPG, GIF, PNG!"
                )
            if len(picture) >= self.pic_limit:
                return self._error(path, 20006, "Image size too large.")
        mine = [p for p in self.posts.values() if p.token == token]
        if any(p.text == text and now - p.at < self.repeat_window for p in mine):
            return self._error(path, 20019, "repeat content!")
        hour = [p for p in mine if now - p.at < timedelta(hours=1)]
        if self.per_hour is not None and len(hour) >= self.per_hour:
            return self._error(path, 10023, "User requests out of rate limit!")
        self._next += 1
        post = WeiboPostRecord(
            id=str(self._next),
            text=text,
            token=token,
            at=now,
            picture=picture,
        )
        self.posts[post.id] = post
        return self._ok(post.status(self.uid, self.screen_name))

    def _safe(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return host == self.safe_domain or host.endswith("." + self.safe_domain)


def _form(content_type: str, body: bytes) -> _Form:
    """The fields (and files) of a form-encoded or multipart/form-data body."""
    form = _Form()
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            if part.get_filename() is not None:
                form.files[name] = payload
            else:
                form.fields[name] = payload.decode("utf-8", "replace")
        return form
    text = body.decode("utf-8", "replace")
    form.fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    return form
