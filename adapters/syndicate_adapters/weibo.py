"""`weibo`: a government Weibo account (政务微博), posting through the Weibo open API.

A thin client of three calls at `{api_base}/2/statuses/…` (docs/outlets/weibo.md):

- **Post.** `POST share.json` with the form fields `access_token` and `status` (the
  text, form-encoded), and a multipart `pic` when the outlet sends pictures.
  `statuses/update` is closed to third-party apps (10014), so `share` is the only way
  to post; Weibo requires its text to hold a link under the app's bound safe domain
  (安全域名), or it answers 10017 `text not find domain!`.
- **Delete.** `POST destroy.json` with `access_token` and `id`.
- **Read.** `GET show.json?access_token=…&id=…` (`read_post`): the only call with the
  token in the query string, which `QuerySecrets` keeps out of urllib3's debug log.

The text is at most 140 characters as Weibo counts them: a character is 1, an ASCII
character ½. The link to the item's portal page is counted at its full length (Weibo
shortens links and counts the short form, so this never undercounts) and is never cut:
the title, the summary or the 更正说明 is shortened with `…` instead. Operator text
cannot start a topic or a mention (`#` and `@` become their full-width forms).

- **Publish.** `【title】summary详见：link`.
- **Revision.** Weibo cannot edit a post (`edits_in_place=False`): the planner sends a
  correction, posted as `【更正】《title》更正说明：reason。详见：link`; a document
  repealed or expired is `【废止】…` / `【失效】…` with its statement.
- **Withdrawal.** `withdraw = "delete"` (default): every post the item has on the
  account (the earlier deliveries' receipts) is destroyed; one Weibo says does not
  exist (20101) is already gone. Where Weibo refuses to delete (10014 no permission,
  20102 not the account's own post) a 【撤回】 notice is posted instead, and the receipt
  says which posts could not be deleted. `withdraw = "notice"` posts the notice and
  deletes nothing. Personal data erased and a 公示 taken down (`after_end = "remove"`)
  always delete, whatever `withdraw` says: there the point is that the text goes.
- **Pictures.** With `picture = true`, the first attachment of the item that is a
  JPEG, PNG or GIF under 5 MB (not sealed) goes with a publication or a correction as
  `pic`; its bytes come from the attachment store (content-addressed, checked against
  their sha256) into the rendition, so `deliver` sends exactly what was rendered.

Errors are mapped by Weibo's `error_code` through one table, `ERRORS` (also in the docs
page): rate limits (10022/10023/10024, 20016) wait until the next full hour (or what a
`Retry-After` says); token errors (21301, 21314-21319, 21327, 21332) fail for good and
say that a person must renew the token; 10017 says how to bind the safe domain; repeat
content (20017, 20019, 20111) is an unknown outcome, never resent blindly: the same text
was most likely posted by an earlier attempt whose answer was lost. HTTP 429 and 5xx
without an error body are transient; a request that never left is transient; a post
whose answer is lost (timeout, reset after sending) is an unknown outcome. A lost answer
to a deletion is transient: deleting again is safe (20101 counts as done).

Secrets: the access token is sent in the form body of `share` and `destroy`, in the query
only for `show`; it never reaches renditions, receipts, messages or logs (Weibo's own
error text is scrubbed before it is shown).

Not `ReadsBack`: `read_back(job)` would have to find the post of the delivery being
checked, but a job carries only the receipts of the item's earlier versions, never the
delivery's own; and Weibo shows a post's links as t.cn short links, not as posted.
`read_post` reads one post by its id (for tests and tools).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

import requests
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ItemView,
    Operation,
    Receipt,
    Rendition,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    BaseAdapter,
    QuerySecrets,
    RequestFailed,
    canonical_json,
    exchange,
    mask,
    open_attachment,
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
from syndicate_adapters._robot import (
    BASE_URL_PATTERN,
    PORTAL_URL_PATTERN,
    parse_json,
    plain_summary,
    time_mark,
)

__all__ = [
    "ERRORS",
    "PIC_BYTES",
    "PIC_TYPES",
    "TEXT_LIMIT",
    "Outcome",
    "Rule",
    "WeiboAdapter",
    "WeiboPost",
    "WeiboSettings",
    "compose",
    "half_units",
    "under_domain",
]

DEFAULT_API_BASE: Final = "https://api.weibo.com"
SHARE: Final = "/2/statuses/share.json"
DESTROY: Final = "/2/statuses/destroy.json"
SHOW: Final = "/2/statuses/show.json"
TEXT_LIMIT: Final = 140  # characters as Weibo counts them (ASCII counts ½)
HALF_UNITS: Final = 2 * TEXT_LIMIT  # the same limit in half units: ASCII 1, others 2
PIC_BYTES: Final = 5 * 1024 * 1024  # a picture must be smaller than this
# The picture types Weibo takes, by media type, with the bytes each file starts with.
PIC_TYPES: Final[Mapping[str, tuple[bytes, ...]]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
# Weibo answers a status object of a few kilobytes; more than this is not the API.
ANSWER_LIMIT: Final = 256 * 1024
# The least room a title keeps beside the link (half units: 【 + 4 characters + …】).
_MIN_TITLE: Final = 12
_LINK_LABEL: Final = "详见："
_DOMAIN_PATTERN: Final = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}"
)
_TOKEN_PATTERN: Final = re.compile(r"[0-9A-Za-z._-]{8,256}")
# Operator text must not start a #topic# or an @mention: full-width look-alikes.
_NEUTRAL: Final = str.maketrans({"#": "\uff03", "@": "\uff20"})
_REMOVALS: Final = (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE)

# The access token travels in the query string of `show` (urllib3 logs it at DEBUG).
_SECRETS: Final = QuerySecrets("access_token").hide_in_logs()


# -- the error table -------------------------------------------------------------------


class Outcome(StrEnum):
    """What an `error_code` means for the delivery."""

    RETRY = "retry"  # transient: the usual backoff
    WAIT = "wait"  # transient: a rate limit, wait until the next full hour
    FAIL = "fail"  # permanent: retrying the same rendition cannot help
    RENEW = "renew"  # permanent: the access token must be renewed by a person
    UNKNOWN = "unknown"  # the post may be up: never resent automatically
    GONE = "gone"  # (destroy, show) the post does not exist: deleted already
    KEPT = "kept"  # (destroy) Weibo will not delete it: post a 撤回 notice instead


@dataclass(frozen=True)
class Rule:
    """One row of `ERRORS`: the outcome of a code for a post (and for a deletion when
    it differs), Weibo's own wording, and what the operator does."""

    outcome: Outcome
    said: str
    advice: str
    on_destroy: Outcome | None = None

    def for_api(self, api: str) -> Outcome:
        """The outcome on `api` ("share", "destroy", "show")."""
        if api == "destroy" and self.on_destroy is not None:
            return self.on_destroy
        if api == "show":
            if self.on_destroy is Outcome.GONE:
                return Outcome.GONE  # no such post: nothing to show
            if self.outcome is Outcome.UNKNOWN:
                return Outcome.RETRY  # reading changes nothing
        return self.outcome


_RENEW: Final = (
    "a person must renew the access token: authorise the app again with the account "
    "(OAuth2 on open.weibo.com), put the new token in the environment variable this "
    "outlet's access_token names, then run `syndicate retry`"
)
_WAIT: Final = "retried after the next full hour (or what Retry-After says)"
_REPEAT: Final = (
    "Weibo says this exact text was posted already, most likely by an earlier attempt "
    "whose answer was lost (or by hand): look at the account's timeline; if the post is "
    "there run `syndicate resolve DELIVERY --sent`, if not `--not-sent` (it is never "
    "resent automatically)"
)
_BUG: Final = "this is a bug in syndicate's Weibo adapter, please report it"

ERRORS: Final[Mapping[int, Rule]] = {
    10001: Rule(Outcome.RETRY, "System error", "retried with the usual backoff"),
    10002: Rule(Outcome.RETRY, "Service unavailable", "retried with the usual backoff"),
    10003: Rule(
        Outcome.RETRY, "Remote service error", "retried with the usual backoff"
    ),
    10009: Rule(
        Outcome.RETRY, "Too many pending tasks, system is busy", "retried later"
    ),
    10022: Rule(Outcome.WAIT, "IP requests out of rate limit", _WAIT),
    10023: Rule(Outcome.WAIT, "User requests out of rate limit", _WAIT),
    10024: Rule(Outcome.WAIT, "User requests for this API out of rate limit", _WAIT),
    20016: Rule(Outcome.WAIT, "Out of limit (posting too often)", _WAIT),
    10008: Rule(Outcome.FAIL, "Param error", _BUG),
    10016: Rule(Outcome.FAIL, "Miss required parameter", _BUG),
    10014: Rule(
        Outcome.FAIL,
        "Insufficient app permissions",
        "the app may not call this API: posting needs statuses/share (write "
        "permission, 高级写入接口) granted to the app on open.weibo.com; a deletion "
        "Weibo refuses is answered with a 【撤回】 notice instead",
        on_destroy=Outcome.KEPT,
    ),
    10017: Rule(
        Outcome.FAIL,
        "text not find domain! / Parameter's value invalid",
        "the post's link is not under the app's safe domain (安全域名): bind the "
        "portal's domain as the app's 安全域名 (open.weibo.com → 我的应用 → 应用信息 → "
        "基本信息), or fix the outlet's safe_domain and portal_url, then run "
        "`syndicate retry`",
    ),
    20005: Rule(
        Outcome.FAIL,
        "Unsupported image type, only suport JPG, GIF, PNG",
        "the picture is not a JPEG, PNG or GIF: replace the attachment or set "
        "picture = false",
    ),
    20006: Rule(
        Outcome.FAIL,
        "Image size too large",
        "the picture is too large for Weibo (under 5 MB): replace the attachment or "
        "set picture = false",
    ),
    20012: Rule(
        Outcome.FAIL,
        "Text too long, please input text less than 140 characters",
        "Weibo counted the text longer than syndicate did: " + _BUG,
    ),
    20017: Rule(Outcome.UNKNOWN, "Repeat content", _REPEAT),
    20019: Rule(Outcome.UNKNOWN, "Repeat content", _REPEAT),
    20111: Rule(Outcome.UNKNOWN, "Repeated weibo text", _REPEAT),
    20018: Rule(
        Outcome.FAIL,
        "Contain illegal website",
        "Weibo refused a link in the text: check the item's text and the outlet's "
        "portal_url, then run `syndicate retry`",
    ),
    20020: Rule(
        Outcome.FAIL,
        "Contain advertising",
        "Weibo's content check refused the text: edit the item, or post it by hand",
    ),
    20021: Rule(
        Outcome.FAIL,
        "Content is illegal",
        "Weibo's content check refused the text: edit the item, or post it by hand",
    ),
    20031: Rule(
        Outcome.FAIL,
        "Test and verify",
        "Weibo wants a verification code for this post: post it by hand in the Weibo "
        "client, then run `syndicate resolve DELIVERY --sent`",
    ),
    20032: Rule(
        Outcome.UNKNOWN,
        "Update success, while server slow now, please wait 1-2 minutes",
        "Weibo took the post but did not say its id: look at the account's timeline, "
        "then run `syndicate resolve DELIVERY --sent` or `--not-sent`",
    ),
    20101: Rule(
        Outcome.FAIL,
        "Target weibo does not exist",
        "the post is not there; for a deletion that means it is gone already",
        on_destroy=Outcome.GONE,
    ),
    20102: Rule(
        Outcome.FAIL,
        "Not your own weibo",
        "the post is not this account's; a deletion is answered with a 【撤回】 notice "
        "instead",
        on_destroy=Outcome.KEPT,
    ),
    21301: Rule(Outcome.RENEW, "Auth failed", _RENEW),
    21314: Rule(Outcome.RENEW, "Token used", _RENEW),
    21315: Rule(Outcome.RENEW, "Token expired", _RENEW),
    21316: Rule(Outcome.RENEW, "Token revoked", _RENEW),
    21317: Rule(Outcome.RENEW, "Token rejected", _RENEW),
    21318: Rule(Outcome.RENEW, "Verifier fail", _RENEW),
    21319: Rule(Outcome.RENEW, "Accessor was revoked", _RENEW),
    21327: Rule(Outcome.RENEW, "expired_token", _RENEW),
    21332: Rule(Outcome.RENEW, "invalid_access_token", _RENEW),
}


# -- settings --------------------------------------------------------------------------


def under_domain(host: str, domain: str) -> bool:
    """Whether `host` is `domain` or one of its subdomains (case-insensitive)."""
    host, domain = host.lower().rstrip("."), domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


class WeiboSettings(BaseModel):
    """`[outlets.NAME]` settings of a government Weibo account."""

    # Validation errors never echo what was typed: it may be the token.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    access_token: SecretStr = Field(
        description="The account's OAuth2 access token for the app, written as "
        "${ENV_VAR}. It expires: a person renews it (see the docs page)."
    )
    safe_domain: str = Field(
        description="The app's bound safe domain (安全域名), e.g. www.linxi.gov.cn: "
        "every post links to a page under it, or Weibo refuses it (10017)."
    )
    portal_url: str = Field(
        pattern=PORTAL_URL_PATTERN,
        description="https base URL of the portal, under safe_domain; posts link to "
        "{portal_url}/items/{item id}.html.",
    )
    api_base: str = Field(
        default=DEFAULT_API_BASE,
        pattern=BASE_URL_PATTERN,
        description="Where the API is (tests point it at a loopback server).",
    )
    withdraw: Literal["delete", "notice"] = Field(
        default="delete",
        description="A withdrawal deletes the item's posts (delete) or posts a "
        "【撤回】 notice (notice).",
    )
    picture: bool = Field(
        default=False,
        description="Send the item's first JPEG/PNG/GIF attachment under 5 MB with a "
        "post.",
    )
    timeout: float = Field(
        default=15.0, gt=0, le=120, description="Seconds per request."
    )

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError(
                "must be the access token: 8 to 256 letters, digits, '.', '_' or '-'"
            )
        return value

    @field_validator("safe_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        domain = value.strip().lower().rstrip(".")
        if "://" in domain or "/" in domain:
            raise ValueError(
                "must be a domain name (www.linxi.gov.cn), without https:// or a path"
            )
        if not _DOMAIN_PATTERN.fullmatch(domain):
            raise ValueError("must be a domain name such as www.linxi.gov.cn")
        return domain

    @field_validator("api_base", "portal_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _portal_under_safe_domain(self) -> WeiboSettings:
        host = urlsplit(self.portal_url).hostname or ""
        if not under_domain(host, self.safe_domain):
            raise ValueError(
                f"portal_url's host {host} is not under safe_domain {self.safe_domain}: "
                "Weibo refuses posts whose link is outside the app's 安全域名 (10017); "
                "set safe_domain to the domain bound to the app"
            )
        return self

    @property
    def token(self) -> str:
        """The access token (secret)."""
        return self.access_token.get_secret_value()

    @property
    def masked_token(self) -> str:
        """The access token as it may be shown."""
        return mask(self.token)


# -- the text --------------------------------------------------------------------------


def half_units(text: str) -> int:
    """The length of `text` as Weibo counts it, in half characters: an ASCII character
    is 1, any other character 2 (140 characters = 280 half units)."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


def _joins(ch: str) -> bool:
    """A character that belongs to the one before it (never cut between them)."""
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me", "Cf")
        or ch in "\ufe0e\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
    )


def _cut(text: str, room: int) -> str:
    """`text` if it fits `room` half units, else its start and `…` within `room`."""
    if half_units(text) <= room:
        return text
    budget = room - half_units("…")
    end, used = 0, 0
    for ch in text:
        width = half_units(ch)
        if used + width > budget:
            break
        used += width
        end += 1
    while 0 < end < len(text) and _joins(text[end]):
        end -= 1  # keep a combining mark or a modifier with its base
    kept = text[:end].rstrip()
    return kept + "…" if kept else ""


def _plain(text: str) -> str:
    """Operator text on one line, unable to start a topic or a mention."""
    return " ".join(text.split()).translate(_NEUTRAL)


def _sentence(text: str) -> str:
    """`text` ending like a sentence (a 。 added unless it ends in punctuation)."""
    return text if not text or text[-1] in "。！？!?…；;." else text + "。"


def compose(
    template: Callable[[str, str], str], title: str, detail: str, link: str
) -> str:
    """The text of a post: `template(title, detail)`, then `详见：link`, within 140.

    The link is never cut. When the whole does not fit, `detail` is shortened (with
    `…`) first, down to nothing; then the title. `template` must word an empty detail
    well (no dangling label). Raises PermanentDeliveryError when not even a short title
    fits beside the link (a portal_url far too long).
    """
    tail = _LINK_LABEL + link
    budget = HALF_UNITS - half_units(tail)
    whole = template(title, detail)
    if half_units(whole) <= budget:
        return whole + tail
    # The template may add words around a detail (a label, a 。): cut, measure, and
    # cut shorter by what is still over, until it fits or nothing of it is left.
    room = budget - half_units(template(title, ""))
    while detail and room >= half_units("……"):
        shortened = _cut(detail, room)
        if not shortened:
            break
        over = half_units(template(title, shortened)) - budget
        if over <= 0:
            return template(title, shortened) + tail
        room -= over
    room = budget - half_units(template("", ""))
    if room < _MIN_TITLE:
        raise PermanentDeliveryError(
            f"the link {link} leaves no room for a title in Weibo's 140 characters: "
            "use a shorter portal_url",
            code="limit",
        )
    return template(_cut(title, room), "") + tail


def _cn_day(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def _post_text(item: ItemView, link: str) -> str:
    summary = _plain(plain_summary(item.content.body, HALF_UNITS + 20))
    # plain_summary cuts at 300 characters with "……": never within the budget, so a
    # summary it shortened is always shortened again here, with one "…".
    return compose(
        lambda title, detail: f"【{title}】{detail}",
        _plain(item.content.title),
        summary,
        link,
    )


def _correction_text(item: ItemView, link: str) -> str:
    mark = time_mark(item)
    if mark is not None:  # 废止 / 失效 / 公示结束: the statement, not a 更正说明
        tag, label, reason = mark.tag, "", mark.statement
    else:
        tag, label, reason = "更正", "更正说明：", item.reason or "内容已更新。"

    def template(title: str, detail: str) -> str:
        said = f"{label}{_sentence(detail)}" if detail else ""
        return f"【{tag}】《{title}》{said}"

    return compose(template, _plain(item.content.title), _plain(reason), link)


def _withdrawal(item: ItemView) -> bool:
    """Whether this version of `item` is its withdrawal (撤回), rather than an erasure
    of personal data (of an item live or withdrawn) or a 公示 taken down."""
    record = next((r for r in item.history if r.version == item.version), None)
    if record is not None and record.event == "Erased":
        return False
    return item.withdrawn


def _removal_text(item: ItemView, link: str) -> str:
    """The notice of a withdrawal (撤回), or of a removal Weibo would not delete: an
    erasure of personal data, or a 公示 taken down when its window ended."""
    title = _plain(item.content.title)
    withdrawal = _withdrawal(item)
    mark = None if item.withdrawn else time_mark(item)
    if not withdrawal and item.erased is not None:
        erased = _plain(item.erased)
        return compose(
            lambda t, d: f"【更正】《{t}》{_sentence(d)}", title, erased, link
        )
    if mark is not None:
        tag, statement = mark.tag, _plain(mark.statement)
        return compose(
            lambda t, d: f"【{tag}】《{t}》{_sentence(d)}", title, statement, link
        )
    when = _cn_day(item.updated_at)

    def withdrawn(title: str, detail: str) -> str:
        said = f"撤回说明：{_sentence(detail)}" if detail else ""
        return f"【撤回】《{title}》已于{when}撤回。{said}请以政府网站公布的信息为准。"

    return compose(withdrawn, title, _plain(item.public_note or ""), link)


def _post_ids(previous: Sequence[Mapping[str, str]]) -> list[str]:
    """The posts the item's earlier deliveries put on the account and no later one
    deleted, oldest first, each once."""
    ids: list[str] = []
    gone: set[str] = set()
    for receipt in previous:
        for key in ("post_id", "notice_id"):
            post = receipt.get(key)
            if post and post not in ids:
                ids.append(post)
        for key in ("destroyed", "already_gone"):
            gone.update(p for p in receipt.get(key, "").split(",") if p)
    return [p for p in ids if p not in gone]


# -- the client ------------------------------------------------------------------------


@dataclass(frozen=True)
class WeiboPost:
    """A post as `show.json` answers it."""

    id: str
    text: str
    created_at: str
    has_picture: bool


class _Lost(Exception):
    """The request was sent and its answer lost (timeout, reset, garbage)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Refused(Exception):
    """Weibo answered with an error body."""

    def __init__(self, code: int, said: str, wait: float | None) -> None:
        super().__init__(f"{code} {said}")
        self.code = code
        self.said = said
        self.wait = wait


def _seconds_to_next_hour(now: datetime) -> float:
    """Seconds until the next full hour, plus a minute (Weibo counts rates per hour)."""
    local = now.astimezone(CHINA_TZ)
    top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return (top - local).total_seconds() + 60


# -- the adapter -----------------------------------------------------------------------


class WeiboAdapter(BaseAdapter[WeiboSettings]):
    """Posts items to a government Weibo account (see the module docstring)."""

    kind: ClassVar[str] = "weibo"
    label: ClassVar[str | None] = "政务微博"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,
        retracts=True,
        deduplicates=False,
    )

    # -- rendering -----------------------------------------------------------------------

    def render(self, job: DeliveryJob) -> Rendition:
        """Canonical JSON of what `deliver` sends: a post, or deletions and the notice
        posted if Weibo refuses them."""
        refuse_review_notice(job, self.kind)
        item = job.item
        link = self._link(job)
        doc: dict[str, Any]
        if job.operation is Operation.RETRACT and (
            self.settings.withdraw == "delete" or not _withdrawal(item)
        ):
            # Deleted, and if Weibo refuses to delete, this notice is posted instead.
            doc = {
                "action": "destroy",
                "destroy": _post_ids(job.previous),
                "fallback": _removal_text(item, link),
            }
        elif job.operation in _REMOVALS:
            doc = {
                "action": "post",
                "kind": "notice",
                "status": _removal_text(item, link),
            }
        elif job.operation in (Operation.CORRECTION, Operation.UPDATE):
            doc = {
                "action": "post",
                "kind": "correction",
                "status": _correction_text(item, link),
            }
            if time_mark(item) is None:  # a 废止 / 失效 notice shows no picture
                doc |= self._picture(job)
        else:
            doc = {
                "action": "post",
                "kind": "publish",
                "status": _post_text(item, link),
            }
            doc |= self._picture(job)
        return Rendition.of(
            canonical_json(doc),
            "application/json",
            key=str(job.delivery_id),
            meta={"action": doc["action"]},
        )

    def _link(self, job: DeliveryJob) -> str:
        """The item's portal page, refused unless it is under the safe domain."""
        base = (job.portal_url or self.settings.portal_url).rstrip("/")
        parts = urlsplit(base)
        host = parts.hostname or ""
        if parts.scheme != "https":
            raise PermanentDeliveryError(
                "the portal link must be an https URL (portal_url)", code="portal_url"
            )
        if not under_domain(host, self.settings.safe_domain):
            raise PermanentDeliveryError(
                f"the portal link's host {host or '(none)'} is not under the outlet's "
                f"safe_domain {self.settings.safe_domain}: Weibo refuses such posts "
                "(10017); bind the portal's domain as the app's 安全域名 and set "
                "safe_domain (and portal_url) to match",
                code="10017",
            )
        return f"{base}/items/{job.item.item_id}.html"

    def _picture(self, job: DeliveryJob) -> dict[str, dict[str, str]]:
        """`{"pic": …}`: the first attachment Weibo takes as a picture, with its bytes;
        empty when there is none (or the outlet sends no pictures)."""
        if not self.settings.picture or job.attachments is None:
            return {}
        item = job.item
        for attachment in item.content.attachments:
            magic = PIC_TYPES.get(attachment.media_type.lower())
            if attachment.sealed or magic is None or attachment.size >= PIC_BYTES:
                continue
            try:
                data = open_attachment(
                    job.attachments, item.item_id, attachment.sha256, sealed=False
                )
            except OSError:
                raise PermanentDeliveryError(
                    f"the picture {attachment.name} ({attachment.sha256[:12]}…) is "
                    "missing from the attachment store: restore it, or set "
                    "picture = false",
                    code="picture",
                ) from None
            if data is None or hashlib.sha256(data).hexdigest() != attachment.sha256:
                raise PermanentDeliveryError(
                    f"the picture {attachment.name} in the attachment store does not "
                    "match its sha256",
                    code="picture",
                )
            if len(data) >= PIC_BYTES or not data.startswith(magic):
                continue  # not the picture its metadata says: text only
            return {
                "pic": {
                    "name": attachment.name,
                    "media_type": attachment.media_type.lower(),
                    "sha256": attachment.sha256,
                    "data": base64.b64encode(data).decode("ascii"),
                }
            }
        return {}

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Post the text (and picture), or delete the earlier posts."""
        doc = json.loads(rendition.data)
        if doc["action"] == "destroy":
            return self._remove(session, doc["destroy"], doc["fallback"])
        post = self._share(session, doc["status"], doc.get("pic"))
        detail = {"post_id": post.id, "created_at": post.created_at}
        if doc.get("kind") == "notice":
            detail["kind"] = "notice"
        return Receipt(remote_id=post.id, detail=detail)

    def _remove(
        self, session: requests.Session, ids: Sequence[str], fallback: str
    ) -> Receipt:
        destroyed: list[str] = []
        gone: list[str] = []
        kept: list[tuple[str, str]] = []
        for post_id in ids:
            try:
                self._call(session, "destroy", {"id": post_id})
            except _Lost as lost:
                # Deleting again is safe (an id already deleted answers 20101).
                raise TransientDeliveryError(
                    f"the answer to deleting post {post_id} was lost ({lost.why}); "
                    "it is asked again",
                    code="transport",
                ) from None
            except _Refused as refused:
                outcome = self._outcome(refused, "destroy")
                if outcome is Outcome.GONE:
                    gone.append(post_id)
                elif outcome is Outcome.KEPT:
                    kept.append((post_id, f"{refused.code} {refused.said}"))
                else:
                    raise self._error(refused, "destroy") from None
            else:
                destroyed.append(post_id)
        detail = {
            "destroyed": ",".join(destroyed),
            "already_gone": ",".join(gone),
        }
        if not ids:
            detail["note"] = "no earlier post of this item on the account"
        if not kept:
            return Receipt(detail=detail)
        notice = self._share(session, fallback, None, after=len(destroyed))
        detail["not_deleted"] = ",".join(post_id for post_id, _ in kept)
        detail["notice_id"] = notice.id
        detail["note"] = (
            "the original post could not be deleted "
            f"({'; '.join(f'{p}: {why}' for p, why in kept)}); a 【撤回】 notice was "
            "posted instead"
        )[:500]
        return Receipt(remote_id=notice.id, detail=detail)

    def _share(
        self,
        session: requests.Session,
        status: str,
        picture: Mapping[str, str] | None,
        *,
        after: int = 0,
    ) -> WeiboPost:
        files = None
        if picture is not None:
            data = base64.b64decode(picture["data"])
            files = {"pic": (picture["name"], data, picture["media_type"])}
        done = f" ({after} earlier posts were deleted first)" if after else ""
        try:
            answer = self._call(session, "share", {"status": status}, files=files)
        except _Lost as lost:
            raise UnknownOutcomeError(
                f"Weibo may have taken the post: its answer was lost ({lost.why})"
                f"{done}. Look at the account's timeline, then run `syndicate resolve "
                "DELIVERY --sent` or `--not-sent` (a resend of a post that is up is "
                "refused as repeat content, 20019)",
                code="lost",
            ) from None
        except _Refused as refused:
            raise self._error(refused, "share") from None
        post = self._post(answer)
        if post is None:
            raise UnknownOutcomeError(
                "Weibo answered the post without its id: look at the account's "
                "timeline, then run `syndicate resolve DELIVERY --sent` or `--not-sent`",
                code="answer",
            )
        return post

    def read_post(self, post_id: str, session: requests.Session) -> WeiboPost | None:
        """The post as Weibo shows it now (`show.json`), None when it does not exist.
        Raises the delivery errors `deliver` does (a lost answer is transient)."""
        try:
            answer = self._call(session, "show", {"id": post_id})
        except _Lost as lost:
            raise TransientDeliveryError(
                f"show: {lost.why}", code="transport"
            ) from None
        except _Refused as refused:
            if self._outcome(refused, "show") is Outcome.GONE:
                return None
            raise self._error(refused, "show") from None
        post = self._post(answer)
        if post is None:
            raise TransientDeliveryError("show answered without a post", code="answer")
        return post

    @staticmethod
    def _post(answer: Mapping[str, Any]) -> WeiboPost | None:
        idstr = answer.get("idstr")
        number = answer.get("id")
        if isinstance(idstr, str) and idstr.isdigit():
            post_id = idstr
        elif isinstance(number, int) and not isinstance(number, bool) and number > 0:
            post_id = str(number)
        else:
            return None
        text = answer.get("text")
        created = answer.get("created_at")
        return WeiboPost(
            id=post_id,
            text=text if isinstance(text, str) else "",
            created_at=created if isinstance(created, str) else "",
            has_picture=bool(answer.get("pic_ids") or answer.get("thumbnail_pic")),
        )

    # -- HTTP ----------------------------------------------------------------------------

    def _call(
        self,
        session: requests.Session,
        api: str,
        fields: Mapping[str, str],
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """One API call; Weibo's answer as a JSON object. Raises `_Refused` for an
        error body, `_Lost` when the answer was lost after sending, and delivery errors
        for the rest."""
        settings = self.settings
        path = {"share": SHARE, "destroy": DESTROY, "show": SHOW}[api]
        form = {"access_token": settings.token, **fields}
        kwargs: dict[str, Any]
        if api == "show":  # the only GET: Weibo takes the token in the query
            method, kwargs = "GET", {"params": form}
        else:  # the token goes in the form body, never in the URL
            method, kwargs = "POST", {"data": form}
            if files is not None:
                kwargs["files"] = dict(files)
        try:
            response = exchange(
                session,
                method,
                settings.api_base + path,
                timeout=settings.timeout,
                limit=ANSWER_LIMIT,
                **kwargs,
            )
        except RequestFailed as exc:
            unsent = unsent_failure(exc, "Weibo", setting="api_base", scrub=self._scrub)
            if unsent is not None:
                raise unsent from None
            raise _Lost(self._scrub(exc.what)) from None
        status = response.status
        wait = retry_after(response.headers, self.clock())
        answer = parse_json(response.body) if response.complete else None
        code = answer.get("error_code") if isinstance(answer, dict) else None
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            said = answer.get("error") if isinstance(answer, dict) else None
            raise _Refused(code, self._said(said), wait)
        if 300 <= status < 400:
            raise PermanentDeliveryError(
                f"Weibo answered {path} with a redirect ({status}); redirects are "
                "never followed: check api_base",
                code=str(status),
            )
        if status == 429 or status >= 500:
            raise TransientDeliveryError(
                f"Weibo answered HTTP {status} to {path}",
                code=str(status),
                retry_after=wait,
            )
        if status != 200:
            raise PermanentDeliveryError(
                f"Weibo answered HTTP {status} to {path} without an error code; check "
                "api_base",
                code=str(status),
            )
        if not isinstance(answer, dict):
            why = response.problem if not response.complete else "not Weibo's JSON"
            raise _Lost(f"the answer to {path} was unusable ({why})")
        return answer

    def _said(self, said: object) -> str:
        """Weibo's error text, short and without secrets."""
        text = said if isinstance(said, str) else ""
        return self._scrub(" ".join(text.split())[:160])

    def _scrub(self, text: str) -> str:
        return _SECRETS.scrub(text, [self.settings.token])

    @staticmethod
    def _outcome(refused: _Refused, api: str) -> Outcome:
        rule = ERRORS.get(refused.code)
        return rule.for_api(api) if rule is not None else Outcome.FAIL

    def _error(self, refused: _Refused, api: str) -> DeliveryError:
        """The delivery error of an error body (GONE and KEPT are the caller's)."""
        code = str(refused.code)
        rule = ERRORS.get(refused.code)
        head = f"Weibo error_code {code} ({refused.said or 'no error text'})"
        if rule is None:
            return PermanentDeliveryError(
                f"{head}: not an error syndicate knows how to recover from; see "
                "Weibo's error code list, then run `syndicate retry`",
                code=code,
            )
        outcome = rule.for_api(api)
        if refused.code == 10017 and "domain" not in refused.said.lower():
            return PermanentDeliveryError(
                f"{head}: Weibo refused a parameter's value; {_BUG}", code=code
            )
        if outcome is Outcome.RETRY:
            return TransientDeliveryError(
                f"{head}: {rule.advice}", code=code, retry_after=refused.wait
            )
        if outcome is Outcome.WAIT:
            wait = refused.wait
            if wait is None:
                wait = _seconds_to_next_hour(self.clock())
            return TransientDeliveryError(
                f"{head}: a rate limit of the account or app; waits {wait:.0f} s",
                code=code,
                retry_after=wait,
            )
        if outcome is Outcome.UNKNOWN:
            return UnknownOutcomeError(f"{head}: {rule.advice}", code=code)
        if outcome is Outcome.RENEW:
            return PermanentDeliveryError(
                f"{head}: Weibo refused the access token ({self.settings.masked_token}); "
                f"{rule.advice}",
                code=code,
            )
        return PermanentDeliveryError(f"{head}: {rule.advice}", code=code)
