"""`wechat_mp`: a WeChat official account (微信公众号), publishing through 发布能力.

A thin client of the official API (no wechatpy), at `{base_url}/cgi-bin/…`:

- **Token.** `POST /cgi-bin/stable_token` with `force_refresh: false`, cached per process
  (shared by every adapter instance of the same AppID) until five minutes before it
  expires. The stable token endpoint does not rotate a token that is still valid, so any
  number of worker processes may fetch it and all get the same one: none of them
  invalidates the others', which is what the "one central refresher" rule protects
  against. On 40001/40014/42001 the cache is dropped and the token fetched again once
  (`force_refresh: true` only if WeChat hands back the very token it just refused), then
  the call is repeated once; a second refusal is transient.
- **Publish / correction.** First a look at the recent publications
  (`freepublish/batchget`) for this delivery's tag, so an earlier attempt that went
  through is never published twice; then the cover (`material/add_material`, type thumb,
  ≤ 64 KB JPG; a fixed default cover, since items carry no image), `draft/add`, and
  `freepublish/submit` → `publish_id`. The delivery is then `Submitted`: `confirm` polls
  `freepublish/get` until the article is published (receipt: `article_id`,
  `article_url`) or failed (status 2-6). A correction (更正) is a new article titled
  `【更正】…`; with `delete_corrected = true` the earlier articles are deleted once the
  correction is published. A correction that time caused (a document repealed or
  expired) is titled `【废止】…` / `【失效】…` and says the statement where a 更正说明
  would be (`syndicate_adapters._robot.time_mark`).
- **Withdrawal.** `freepublish/delete` of every article the item's earlier deliveries
  published here (their receipts), recorded as done at once.
- **Errors.** HTTP 200 with `errcode`: 45009 (daily quota) waits until the quota resets
  at midnight Beijing time; -1 is retried; 40164/89503 (IP allow-list), 48001 (no
  permission), 53503-53505 (publish refused), credential errors and unknown errcodes fail
  for good with what to do. A `submit` whose answer is lost is looked up in the recent
  publications at once; if it is not there, the delivery is `Unconfirmed`.

Capabilities: `deduplicates=False`. The look-up finds an article only once WeChat has
finished publishing it (`batchget` lists published articles, not jobs in progress), so a
resend right after a lost answer could still publish twice; the worker therefore never
resends on its own, and the look-up protects the resend an operator allows.

Secrets: the AppSecret and the access token never reach renditions, receipts, events,
logs or messages (shown masked, `…` and the last four characters at most).

Hostile or broken servers: every call (token, cover upload, draft, submit, checks,
deletions) is bounded by `timeout` in all (connect, TLS, send, status line, headers,
body) and reads at most 1 MiB of the answer; an answer that is larger, slow, broken off
or not JSON is a lost answer (transient; for `submit`, the look-up above). A call that
failed before anything was sent (DNS, refused, TLS handshake, connect timeout) is
transient and says which; 429 and 5xx are transient and honour `Retry-After`.

`inventory` pages through every published article (`freepublish/batchget`, deleted ones
skipped) and returns the items whose 阅读原文 link points at `{portal_url}/items/<id>.html`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final
from uuid import UUID

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from syndicate.adapter import (
    Capabilities,
    ChecksContent,
    Confirms,
    DeliveryJob,
    ItemContent,
    Operation,
    Receipt,
    Rendition,
    TakesInventory,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    UUID_PATTERN,
    BaseAdapter,
    QuerySecrets,
    RequestFailed,
    canonical_json,
    exchange,
    mask,
    refuse_review_notice,
    retry_after,
    unsent_failure,
)
from syndicate.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate_adapters._html import day, esc, markdown_html
from syndicate_adapters._robot import check_status, parse_json, time_mark

__all__ = [
    "CONTENT_BYTES",
    "CONTENT_CHARS",
    "THUMB_BYTES",
    "WechatMpAdapter",
    "WechatMpSettings",
    "article_html",
]

DEFAULT_BASE_URL: Final = "https://api.weixin.qq.com"
CONTENT_CHARS: Final = 20_000  # draft content must be shorter than this…
CONTENT_BYTES: Final = 1_000_000  # …and than 1 MB
THUMB_BYTES: Final = 64 * 1024
DIGEST_CHARS: Final = 54
REFRESH_MARGIN: Final = timedelta(minutes=5)
BATCH: Final = 20  # freepublish/batchget takes at most 20 at a time
TOKEN_ERRORS: Final = frozenset({40001, 40014, 42001})
# The most of an answer read: a page of `freepublish/batchget` without content is a few
# tens of kilobytes; more is not the API (and is never downloaded).
ANSWER_LIMIT: Final = 1024 * 1024
_PORTAL_URL_PATTERN: Final = r"^https://[^\s\"'<>\\()\[\]?#]+$"
_BASE_URL_PATTERN: Final = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8"}
_SOURCE_ITEM: Final = re.compile(rf"items/({UUID_PATTERN})\.html(?:[?#].*)?", re.DOTALL)
_REMOVALS: Final = (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE)
_PUBLISH_FAILURES: Final = {
    2: "原创声明失败 (the originality claim failed)",
    3: "常规失败 (publishing failed)",
    4: "平台审核不通过 (the platform's review refused it)",
    5: "成功后用户删除所有文章 (published, then deleted by a user)",
    6: "成功后系统封禁所有文章 (published, then blocked by the platform)",
}
_IP_ADVICE: Final = (
    "add this server's outbound IP to the official account's IP allow-list "
    "(公众平台 → 设置与开发 → 基本配置 → IP白名单), then run `syndicate retry`"
)
_PERMANENT: Final = {
    40164: "this server's IP is not on the allow-list: " + _IP_ADVICE,
    89503: "an administrator must confirm this server's IP first (公众平台 shows the "
    "request); or " + _IP_ADVICE,
    48001: "the official account has no permission for this API (api unauthorized): "
    "publishing through the API needs a verified (认证) account",
    53503: "the draft did not pass WeChat's publish check (该草稿未通过发布检查): "
    "look at it in 公众平台 → 草稿箱",
    53504: "WeChat wants this draft published from the 公众平台 website "
    "(需前往公众平台官网使用草稿)",
    53505: "WeChat wants the draft saved by hand before it is published "
    "(请手动保存成功后再发表): save and publish it in 公众平台 → 草稿箱, then run "
    "`syndicate resolve DELIVERY --sent`",
    40013: "app_id is not a valid AppID (check it in 公众平台 → 设置与开发 → 基本配置)",
    40125: "app_secret is wrong: copy it again from 公众平台 → 设置与开发 → 基本配置",
    40243: "the AppSecret is frozen: reset it in 公众平台 → 设置与开发 → 基本配置",
    41004: "the AppSecret is missing",
    50004: "this account may not call the token API (banned)",
    50007: "the official account is frozen",
    40006: "WeChat refused the cover image's size (a thumb is at most 64 KB)",
    40007: "WeChat says a media_id is invalid",
    40002: "invalid grant_type (a bug in the adapter)",
}
_DEFAULT_COVER_B64: Final = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwz"
    "Oko+MzZGNywtQFdBRkxOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09P"
    "T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT0//wAARCABkAOsDASIAAhEBAxEB/8QA"
    "GgABAQEBAQEBAAAAAAAAAAAAAAQGBQMBAv/EADYQAAECAgkCAwUIAwAAAAAAAAABAgMEERUWVGSTo9Hi"
    "BTESIVEGIkFhcRQjMlKBkaGxE5Ki/8QAGQEBAAMBAQAAAAAAAAAAAAAAAAIDBAEG/8QAJxEAAgECBwAD"
    "AAIDAAAAAAAAAAECE1EEERIVUqHRAyExccEiYeH/2gAMAwEAAhEDEQA/AOAADCepAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB9a1z3oxjVc5y0IiJSqqGtc96MY1XOctCIiU"
    "qqmgiRIPs9LLAgK2L1GI334ndIaeibfHuvwQp+X5dGUYrNsjKWX0v050PofU4sNHtlHIi/mcjV/ZVpJZ"
    "mUmJV/hmYL4a0qieJKEWjvQvxPaJ1XqEWIr3TsdFX8r1an7J5F0h1x7qZXqy/aJWI1GKqp5t+fl5r/fx"
    "+tbliI/5NJqyzz/70RzmvtnFBd1bp9XzLUhv/wAkCK3xwonqn17Kv09U9SE0QmpxUo/jJpprNAAEjoAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB0PZ+GyL1uWa9KURyu/VEVU/lEPPq8R8Xq82560qkVzf0RaE/h"
    "EPGTmHSs3CmG00w3I6hFopT4pT8+x1OvyXiiL1SUVsSVj0KqsSjwr28/qv8APkvzyyenEJy/Gsl/Of8A"
    "f9Fb+p5s4oB7yUpGnplsCXbS5e6r2anqvyNMpKKzf4WN5fbOr1D772V6fHiecRj1htX0b7yUf8p+xwzs"
    "+0EaHDZLdNl3o5kq2iIrfJFf8fL17/7KcYz4ROnndtr+GyHx/gABpJgAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAu6b1SN0/xsRrYsCJ+OE/zRfX6LR5EIIzhGa0yWaONJrJnc+3dAjfeR+mRGRF7thr7qfShU/o"
    "/EfrjYcF8DpcoyUY5PCsRPxqidlp+C9/Xv3OMChYT48/vN/6bbRGnEAA0kwAAAAAAAAAAAAAAAAAADTW"
    "Sx2jyFksdo8jFuGG5dPwqrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZk"
    "GmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZ"
    "kGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQu"
    "ZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQ"
    "uZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgrQuZkGmsljtHkLJY7R5DcMNy6fgr"
    "QucKsZ++zOa7cVjP32ZzXbkwNVOFkWaVYprGfvszmu3FYz99mc125MBThZDSrFNYz99mc124rGfvszmu"
    "3JgKcLIaVYprGfvszmu3FYz99mc125MBThZDSrFNYz99mc124rGfvszmu3JgKcLIaVYprGfvszmu3FYz"
    "99mc125MBThZDSrFNYz99mc124rGfvszmu3JgKcLIaVYprGfvszmu3FYz99mc125MBThZDSrFNYz99mc"
    "124rGfvszmu3JgKcLIaVYprGfvszmu3FYz99mc125MBThZDSrFNYz99mc124rGfvszmu3JgKcLIaVYpr"
    "Gfvszmu3FYz99mc125MBThZDSrFNYz99mc124rGfvszmu3JgKcLIaVYprGfvszmu3FYz99mc125MBThZ"
    "DSrFNYz99mc124rGfvszmu3JgKcLIaVYAAmdAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAP/"
    "2Q=="
)


# The access token travels in the query string (urllib3 logs it at DEBUG).
_SECRETS: Final = QuerySecrets("access_token", "secret").hide_in_logs()


# -- the token cache, shared by every adapter instance in the process ------------------


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: datetime


_TOKENS: dict[tuple[str, str], _Token] = {}
_TOKENS_LOCK = threading.RLock()  # re-entered by `_scrub` from `_token`


def forget_tokens() -> None:
    """Drop every cached access token (tests; a changed AppSecret)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


# -- settings ----------------------------------------------------------------------------


class WechatMpSettings(BaseModel):
    """`[outlets.NAME]` settings of a WeChat official account."""

    # Validation errors never echo what was typed: it may be the AppSecret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    app_id: str = Field(
        pattern=r"^wx[0-9a-f]{16}$",
        description="The AppID (开发者ID), wx + 16 hex digits "
        "(公众平台 → 设置与开发 → 基本配置).",
    )
    app_secret: SecretStr = Field(
        description="The AppSecret (开发者密码), written as ${ENV_VAR}."
    )
    portal_url: str = Field(
        pattern=_PORTAL_URL_PATTERN,
        description="https base URL of the portal; 阅读原文 links to "
        "{portal_url}/items/{item id}.html.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        pattern=_BASE_URL_PATTERN,
        description="Where the API is (tests point it at a loopback server).",
    )
    delete_corrected: bool = Field(
        default=False,
        description="Delete the earlier articles once a correction (更正) is published.",
    )
    open_comment: bool = Field(default=False, description="Open comments on articles.")
    timeout: float = Field(
        default=15.0, gt=0, le=120, description="Seconds per request."
    )

    @field_validator("app_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[0-9A-Za-z]{16,64}", value.get_secret_value()):
            raise ValueError("must be the AppSecret: 16 to 64 letters and digits")
        return value

    @field_validator("base_url", "portal_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def masked_secret(self) -> str:
        """The AppSecret as it may be shown."""
        return mask(self.app_secret.get_secret_value())


# -- the article -------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")


def _facts(content: ItemContent, date_label: str, date: str) -> list[tuple[str, str]]:
    facts = [("发布机构", content.agency), ("索引号", content.index_no)]
    if content.doc_no:
        facts.append(("发文字号", content.doc_no))
    facts.append((date_label, date))
    facts.append(("公开依据", content.basis or ""))
    if content.notice_period:
        period = content.notice_period
        facts.append(
            ("公示期", f"{period.start.isoformat()} 至 {period.end.isoformat()}")
        )
    return facts


def article_html(
    content: ItemContent,
    *,
    date_label: str = "发布日期",
    date: str = "0000-00-00",
    reason: str | None = None,
    reason_label: str = "更正说明",
) -> str:
    """The article body: a table of catalogue elements, a 更正说明 (or what
    `reason_label` names, e.g. a 废止说明), the item's text.

    Markdown rendered with raw HTML off and cleaned against an allow-list: no script,
    no style, no event handlers reach WeChat (which strips JS anyway).
    """
    rows = "".join(
        f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>"
        for label, value in _facts(content, date_label, date)
    )
    parts = [f"<table><tbody>{rows}</tbody></table>"]
    if reason is not None:
        parts.append(f"<p><strong>{esc(reason_label)}：</strong>{esc(reason)}</p>")
    parts.append(markdown_html(content.body))
    return "\n".join(parts)


def _limit_problem(html: str) -> str | None:
    chars, size = len(html), len(html.encode("utf-8"))
    if chars >= CONTENT_CHARS:
        return (
            f"the article would be {chars:,} characters of HTML; a WeChat article "
            f"must be shorter than {CONTENT_CHARS:,} characters: shorten the body or "
            "publish it on the portal only"
        )
    if size >= CONTENT_BYTES:
        return (
            f"the article would be {size:,} bytes; a WeChat article must be smaller "
            "than 1 MB"
        )
    return None


def _digest(html: str) -> str:
    text = " ".join(_TAG.sub(" ", html).split())
    return text if len(text) <= DIGEST_CHARS else text[: DIGEST_CHARS - 2] + "……"


def _article_ids(previous: Sequence[Mapping[str, str]]) -> list[str]:
    """Article ids published by earlier deliveries and not deleted since (a correction
    with `delete_corrected` records what it deleted), oldest first, each once."""
    ids: list[str] = []
    gone: set[str] = set()
    for receipt in previous:
        article = receipt.get("article_id")
        if article and article not in ids:
            ids.append(article)
        gone.update(a for a in receipt.get("deleted", "").split(",") if a)
    return [a for a in ids if a not in gone]


def _next_midnight_beijing(now: datetime) -> float:
    """Seconds until the daily API quota resets (00:00 Beijing time), plus a minute."""
    local = now.astimezone(CHINA_TZ)
    midnight = (local + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return (midnight - local).total_seconds() + 60


def _dicts(value: object) -> list[dict[str, Any]]:
    """The objects in a JSON list from WeChat (anything else in it, or no list: none)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


class _Lost(Exception):
    """The request was sent and its answer lost (timeout, reset, garbage)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


# -- the adapter -------------------------------------------------------------------------


class WechatMpAdapter(
    BaseAdapter[WechatMpSettings], Confirms, TakesInventory, ChecksContent
):
    """Publishes items as WeChat official-account articles (see the module docstring)."""

    kind: ClassVar[str] = "wechat_mp"
    label: ClassVar[str | None] = "微信公众号"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,
        retracts=True,
        deduplicates=False,
        confirms_async=True,
    )
    platform: ClassVar[str] = "WeChat"

    # -- planning and rendering ---------------------------------------------------------

    @classmethod
    def check_content(cls, content: ItemContent) -> str | None:
        """Why the item cannot become an article at all (WeChat's length limits)."""
        return _limit_problem(article_html(content, date_label="更正日期", reason=""))

    def render(self, job: DeliveryJob) -> Rendition:
        """Canonical JSON of what `deliver` sends: the article and cover, or deletions."""
        refuse_review_notice(job, self.kind)
        tag = str(job.delivery_id)
        previous = _article_ids(job.previous)
        if job.operation in _REMOVALS:
            doc: dict[str, Any] = {"operation": "delete", "article_ids": previous}
            return Rendition.of(
                canonical_json(doc),
                "application/json",
                key=tag,
                meta={"operation": "delete"},
            )
        item = job.item
        content = item.content
        correction = job.operation in (Operation.CORRECTION, Operation.UPDATE)
        mark = time_mark(item) if correction else None
        if mark is not None:  # 废止 / 失效: the statement, not a 更正说明
            title = f"【{mark.tag}】{content.title}"
            html = article_html(
                content,
                date_label=mark.date_label,
                date=mark.date,
                reason=mark.statement,
                reason_label=mark.note_label,
            )
        else:
            title = f"【更正】{content.title}" if correction else content.title
            html = article_html(
                content,
                date_label="更正日期" if correction else "发布日期",
                date=day(item.updated_at if correction else item.published_at),
                reason=(item.reason or "内容已更新。") if correction else None,
            )
        problem = _limit_problem(html)
        if problem is not None:
            raise PermanentDeliveryError(problem, code="limit")
        portal = self.settings.portal_url
        comment = 1 if self.settings.open_comment else 0
        article = {
            "title": title,
            "author": content.agency,
            "digest": _digest(markdown_html(content.body)),
            "content": html,
            # 阅读原文 → the portal page; `sd` tags the article with this delivery, so a
            # lost `submit` answer can be looked up among the recent publications.
            "content_source_url": f"{portal}/items/{item.item_id}.html?sd={tag}",
            "need_open_comment": comment,
            "only_fans_can_comment": 0,
        }
        doc = {
            "operation": "correction" if correction else "publish",
            "article": article,
            "cover_jpeg": _DEFAULT_COVER_B64,
            "tag": tag,
            "delete_after": previous
            if correction and self.settings.delete_corrected
            else [],
        }
        return Rendition.of(
            canonical_json(doc),
            "application/json",
            key=tag,
            meta={"operation": doc["operation"]},
        )

    # -- delivering ---------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Publish (submit) the article, or delete the earlier ones."""
        doc = json.loads(rendition.data)
        if doc["operation"] == "delete":
            deleted = self._delete_all(session, doc["article_ids"])
            return Receipt(detail={"deleted": ",".join(deleted), "confirmed": "yes"})
        tag = doc["tag"]
        found = self._find_published(session, tag)
        if found is not None:
            return found  # an earlier attempt went through: never publish it twice
        cover = base64.b64decode(doc["cover_jpeg"])
        if len(cover) > THUMB_BYTES:
            raise PermanentDeliveryError("the cover is over 64 KB", code="thumb")
        thumb = self._call(
            session,
            "material/add_material",
            params={"type": "thumb"},
            files={"media": ("cover.jpg", cover, "image/jpeg")},
        )
        thumb_id = self._field(thumb, "media_id", "material/add_material")
        article = {**doc["article"], "thumb_media_id": thumb_id}
        draft = self._call(session, "draft/add", body={"articles": [article]})
        draft_id = self._field(draft, "media_id", "draft/add")
        try:
            submitted = self._call(
                session, "freepublish/submit", body={"media_id": draft_id}, lost_ok=True
            )
        except _Lost as lost:
            found = self._find_published(session, tag, lenient=True)
            if found is not None:
                return found
            raise UnknownOutcomeError(
                f"WeChat took the publish request but its answer was lost ({lost.why}), "
                "and the article is not among the recent publications yet (it may "
                "still be publishing): look in 公众平台 → 发表记录, then run `syndicate "
                "resolve DELIVERY --sent` or `--not-sent` (a resend looks again first)",
                code="submit_lost",
            ) from None
        try:
            publish_id = self._field(submitted, "publish_id", "freepublish/submit")
        except TransientDeliveryError:
            # WeChat took the job (errcode 0) but did not say which: sending it again
            # could publish it twice.
            raise UnknownOutcomeError(
                "WeChat accepted the publish request but its answer has no usable "
                "publish_id: look in 公众平台 → 发表记录, then run `syndicate resolve "
                "DELIVERY --sent` or `--not-sent`",
                code="submit_unclear",
            ) from None
        detail = {
            "publish_id": publish_id,
            "draft_media_id": draft_id,
            "thumb_media_id": thumb_id,
        }
        if doc["delete_after"]:
            detail["delete_after"] = ",".join(doc["delete_after"])
        return Receipt(remote_id=publish_id, detail=detail)

    def confirm(self, receipt: Receipt, session: requests.Session) -> Receipt | None:
        """Ask `freepublish/get` how the publication ended; None while publishing."""
        publish_id = receipt.remote_id or receipt.detail.get("publish_id")
        if not publish_id:
            raise PermanentDeliveryError(
                "the receipt has no publish_id to ask about", code="receipt"
            )
        try:
            answer = self._call(
                session, "freepublish/get", body={"publish_id": publish_id}
            )
        except _Lost as lost:  # not raised without lost_ok; kept for mypy's sake
            raise TransientDeliveryError(lost.why) from None
        status = answer.get("publish_status")
        if status == 1:
            return None
        if status in _PUBLISH_FAILURES:
            failed = answer.get("fail_idx") or []
            which = f" (articles {failed})" if failed else ""
            raise PermanentDeliveryError(
                f"WeChat did not publish it: publish_status {status} "
                f"{_PUBLISH_FAILURES[status]}{which}",
                code=f"publish_status_{status}",
            )
        if status != 0:
            raise TransientDeliveryError(
                f"freepublish/get answered publish_status {status!r}", code="status"
            )
        article_id = str(answer.get("article_id") or "")
        detail_ = answer.get("article_detail")
        items = _dicts(detail_.get("item") if isinstance(detail_, dict) else None)
        url = str(items[0].get("article_url", "")) if items else ""
        detail = {"article_id": article_id, "article_url": url}
        old = [a for a in receipt.detail.get("delete_after", "").split(",") if a]
        if old:
            detail["deleted"] = ",".join(self._delete_all(session, old))
        return Receipt(remote_id=publish_id, detail=detail)

    # -- the client ---------------------------------------------------------------------

    def _find_published(
        self, session: requests.Session, tag: str, *, lenient: bool = False
    ) -> Receipt | None:
        """A recent publication tagged with this delivery, as a final receipt."""
        try:
            answer = self._call(
                session,
                "freepublish/batchget",
                body={"offset": 0, "count": BATCH, "no_content": 1},
            )
        except DeliveryError:
            if lenient:
                return None
            raise
        needle = f"sd={tag}"
        for entry in _dicts(answer.get("item")):
            content = entry.get("content")
            news = content.get("news_item") if isinstance(content, dict) else None
            for article in _dicts(news):
                source = str(article.get("content_source_url", ""))
                if needle in source and not article.get("is_deleted"):
                    return Receipt(
                        remote_id=str(entry.get("article_id", "")),
                        detail={
                            "article_id": str(entry.get("article_id", "")),
                            "article_url": str(article.get("url", "")),
                            "reconciled": "freepublish/batchget",
                            "confirmed": "yes",
                        },
                    )
        return None

    def inventory(self, session: requests.Session) -> set[UUID]:
        """The items of every article the account shows now: all pages of
        `freepublish/batchget`, deleted articles skipped, 阅读原文 links parsed for
        `{portal_url}/items/<id>.html` (anything else is not one of ours)."""
        found: set[UUID] = set()
        prefix = self.settings.portal_url + "/"
        seen: set[str] = set()
        offset = 0
        while True:
            answer = self._call(
                session,
                "freepublish/batchget",
                body={"offset": offset, "count": BATCH, "no_content": 1},
            )
            entries = answer.get("item")
            if not isinstance(entries, list) or not entries:
                break
            fresh = False
            for entry in entries:
                if not isinstance(entry, dict):
                    continue
                article_id = str(entry.get("article_id", ""))
                fresh = fresh or article_id not in seen
                seen.add(article_id)
                content = entry.get("content")
                news = content.get("news_item") if isinstance(content, dict) else None
                for article in news if isinstance(news, list) else []:
                    if not isinstance(article, dict) or article.get("is_deleted"):
                        continue
                    source = str(article.get("content_source_url") or "")
                    match = _SOURCE_ITEM.fullmatch(source.removeprefix(prefix))
                    if source.startswith(prefix) and match:
                        found.add(UUID(match[1]))
            offset += len(entries)
            total = answer.get("total_count")
            if not fresh or len(entries) < BATCH:
                break  # the last page (or an API that ignores the offset)
            if isinstance(total, int) and offset >= total:
                break
        return found

    def _delete_all(self, session: requests.Session, ids: Sequence[str]) -> list[str]:
        """Delete each article; one already gone (53600) counts as deleted."""
        for article_id in ids:
            try:
                self._call(
                    session,
                    "freepublish/delete",
                    body={"article_id": article_id, "index": 0},
                    gone_ok=True,
                )
            except _Lost as lost:  # not raised without lost_ok
                raise TransientDeliveryError(lost.why) from None
        return list(ids)

    @staticmethod
    def _field(answer: Mapping[str, Any], name: str, api: str) -> str:
        value = answer.get(name)
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            raise TransientDeliveryError(
                f"{api} answered without {name}", code="answer"
            )
        return str(value)

    def _token(self, session: requests.Session, *, force: bool = False) -> str:
        """The access token: cached until shortly before it expires (see module doc)."""
        settings = self.settings
        key = (settings.base_url, settings.app_id)
        with _TOKENS_LOCK:
            now = self.clock()
            cached = _TOKENS.get(key)
            if cached is not None and not force and now < cached.refresh_at:
                return cached.value
            body = {
                "grant_type": "client_credential",
                "appid": settings.app_id,
                "secret": settings.app_secret.get_secret_value(),
                "force_refresh": force,
            }
            try:
                answer = self._post(session, "stable_token", None, body=body)
            except _Lost as lost:
                raise TransientDeliveryError(
                    f"no access token: {lost.why}", code="token"
                ) from None
            errcode = answer.get("errcode") or 0
            if errcode:
                if errcode == 40001:  # on the token endpoint: a wrong AppSecret
                    errcode = 40125
                raise self._error(errcode, str(answer.get("errmsg", "")))
            token = answer.get("access_token")
            expires = answer.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires, int):
                raise TransientDeliveryError(
                    "stable_token answered without a token", code="token"
                )
            # WeChat says 7200; an absurd answer must neither overflow nor pin a token
            # for days.
            expires = min(max(expires, 0), 7200)
            margin = min(REFRESH_MARGIN, timedelta(seconds=expires / 2))
            refresh_at = now + timedelta(seconds=expires) - margin
            _TOKENS[key] = _Token(token, refresh_at)
            return token

    def _drop_token(self, token: str) -> None:
        key = (self.settings.base_url, self.settings.app_id)
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached is not None and cached.value == token:
                del _TOKENS[key]

    def _call(
        self,
        session: requests.Session,
        api: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        lost_ok: bool = False,
        gone_ok: bool = False,
    ) -> dict[str, Any]:
        """One API call with the token; refetch the token once if WeChat refuses it.

        A lost answer raises `_Lost` when `lost_ok` (the caller decides what it means),
        otherwise a transient error: every call but `submit` is safe to repeat.
        """
        token = self._token(session)
        for retry in (False, True):
            try:
                answer = self._post(
                    session, api, token, body=body, params=params, files=files
                )
            except _Lost as lost:
                if lost_ok:
                    raise
                raise TransientDeliveryError(
                    f"{api}: {lost.why}", code="transport"
                ) from None
            errcode = answer.get("errcode") or 0
            if errcode in TOKEN_ERRORS and not retry:
                # Refused token: fetch again (another process may have a newer one);
                # force a new one only if WeChat hands back the one it just refused.
                self._drop_token(token)
                fresh = self._token(session)
                token = fresh if fresh != token else self._token(session, force=True)
                continue
            if errcode == 53600 and gone_ok:
                return answer
            if errcode:
                raise self._error(int(errcode), str(answer.get("errmsg", "")))
            return answer
        raise TransientDeliveryError(
            "WeChat refused the access token even after fetching a new one",
            code="token",
        )

    def _post(
        self,
        session: requests.Session,
        api: str,
        token: str | None,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        query = {**({"access_token": token} if token else {}), **(params or {})}
        kwargs: dict[str, Any] = {}
        if files is not None:
            kwargs["files"] = dict(files)
        else:
            kwargs["data"] = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = _HEADERS
        try:
            response = exchange(
                session,
                "POST",
                f"{self.settings.base_url}/cgi-bin/{api}",
                params=query,
                timeout=self.settings.timeout,
                limit=ANSWER_LIMIT,
                **kwargs,
            )
        except RequestFailed as exc:
            unsent = unsent_failure(exc, "WeChat")
            if unsent is not None:
                raise unsent from None
            raise _Lost(exc.what) from None
        check_status(
            "WeChat",
            response.status,
            api,
            retry_after=retry_after(response.headers, self.clock()),
        )
        if not response.complete:
            raise _Lost(response.problem or "the answer was incomplete")
        answer = parse_json(response.body)
        if not isinstance(answer, dict):
            raise _Lost("the answer was not the API's JSON")
        errcode = answer.get("errcode", 0)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise _Lost("the answer's errcode was not a number")
        return answer

    def _scrub(self, text: str) -> str:
        secrets = [self.settings.app_secret.get_secret_value()]
        with _TOKENS_LOCK:
            cached = _TOKENS.get((self.settings.base_url, self.settings.app_id))
        if cached is not None:
            secrets.append(cached.value)
        return _SECRETS.scrub(text, secrets)

    def _error(self, errcode: int, errmsg: str) -> DeliveryError:
        """The delivery error for a non-zero errcode."""
        said = self._scrub(errmsg.split(" rid:")[0].split(", hint:")[0].strip()[:160])
        head = f"WeChat errcode {errcode} {said}".rstrip()
        code = str(errcode)
        if errcode == 45009:
            wait = _next_midnight_beijing(self.clock())
            return TransientDeliveryError(
                f"{head}: the daily API quota is used up; it resets at midnight "
                f"Beijing time, so this waits {wait:.0f} s",
                code=code,
                retry_after=wait,
            )
        if errcode == -1:
            return TransientDeliveryError(f"{head}: WeChat is busy", code=code)
        if errcode in TOKEN_ERRORS:
            return TransientDeliveryError(f"{head}: access token refused", code=code)
        advice = _PERMANENT.get(errcode)
        if advice is not None:
            return PermanentDeliveryError(f"{head}: {advice}", code=code)
        return PermanentDeliveryError(
            f"{head}: not an error syndicate knows how to recover from; see the "
            "WeChat error code list, then run `syndicate retry`",
            code=code,
        )
