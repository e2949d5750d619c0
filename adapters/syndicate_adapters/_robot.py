"""What the group-robot outlets (`wecom_group`, `dingtalk_group`) share.

- **Message text.** `notice_for` turns a delivery job into a `Notice` (heading, facts,
  paragraphs, a link back to the portal), which each adapter writes as Markdown or plain
  text. Operator text is neutralised (`md_text`) so a title cannot become a link or a
  font tag in a group chat.
- **Time.** A correction that time caused (a document repealed or expired, a 公示期
  over: the version's own history record says so) is not a 更正: `time_mark` gives its
  tag (废止, 失效, 公示结束), the statement said in place of the 更正说明, and the date it
  shows. The WeChat official account uses it too.
- **Review notices.** A `review_queue` outlet gets `Operation.REVIEW_NOTICE` deliveries;
  `review_text` gives their text, from `job.review` (the version under review), never
  from `job.item` (what outlets show, which may be another version). The robots send it
  as plain `text` messages, without mentions: Markdown would need the operator text
  neutralised, and a review queue is an office's working group, not an announcement.
- **Splitting.** `split_text` cuts a long message into chunks that fit a byte budget, at
  paragraph boundaries first, then line ends, then sentence ends, and only as a last
  resort between two characters (never inside one, never before a combining mark).
  Concatenating the chunks gives back the text exactly.
- **Settings.** `normalise_settings` accepts the robot's secret as the whole webhook
  URL or as the bare value, and keeps the value.
- **Sending.** `RobotAdapter.render` writes the request bodies as the rendition;
  `RobotAdapter.deliver` posts the rendition's request bodies one by one
  through the injected session (no redirects, no retries), enforces the robot's own
  20-messages-a-minute window before sending, and maps transport failures and `errcode`
  answers to the delivery errors the worker understands (-1 is busy everywhere; an
  adapter names the errcodes its platform documents). Once a message of a delivery
  has reached the group, any later failure is an unknown outcome: sending the delivery
  again would repeat what the group has already seen.
- **Hostile or broken answers.** Each request goes through `syndicate.netguard.exchange`:
  `timeout` bounds it as a whole (a trickled answer is cut off), at most 64 KiB of the
  answer is read, and JSON nested too deep to parse is "not the robot API's JSON". A
  failure before anything was sent (DNS, connection refused, TLS handshake) is transient
  and named; one after sending is an unknown outcome. 429 and 5xx honour `Retry-After`
  (the worker never waits less than its own schedule, nor more than a day).
- **Secrets.** Robot keys, access tokens and signatures travel in the query string. They
  never appear in messages (`mask` shows the last four characters at most), and the
  kit's `QuerySecrets` filter on urllib3's loggers blanks `key=`, `access_token=` and
  `sign=` values, because urllib3 logs request URLs at DEBUG level.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Final, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
from markdown_it import MarkdownIt
from pydantic import BaseModel, SecretStr

from syndicate.adapter import DeliveryJob, ItemView, Operation, Receipt, Rendition
from syndicate.adapterkit import (
    BaseAdapter,
    Exchange,
    QuerySecrets,
    RequestFailed,
    canonical_json,
    exchange,
    retry_after,
    unsent_failure,
)
from syndicate.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate_adapters._html import day

__all__ = [
    "ANSWER_LIMIT",
    "BASE_URL_PATTERN",
    "PORTAL_URL_PATTERN",
    "Notice",
    "RateWindow",
    "RobotAdapter",
    "TimeMark",
    "check_bodies",
    "check_parts",
    "json_len",
    "md_text",
    "normalise_settings",
    "notice_for",
    "number_label",
    "parse_json",
    "plain_summary",
    "review_text",
    "secret_from_url",
    "split_text",
    "time_mark",
    "utf8_len",
]

# An https base URL that is safe inside a Markdown link: no spaces, quotes, brackets.
PORTAL_URL_PATTERN: Final = r"^https://[^\s\"'<>\\()\[\]]+$"
# Where a robot API is: http(s), a host, maybe a path; no query or fragment.
BASE_URL_PATTERN: Final = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
SUMMARY_CHARS: Final = 200
WINDOW: Final = timedelta(seconds=60)
_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8"}
# The robots answer a few dozen bytes of JSON; more than this is not the robot API.
ANSWER_LIMIT: Final = 64 * 1024


# -- secrets -------------------------------------------------------------------------

# WeCom's robot key, DingTalk's access token and request signature.
_SECRETS: Final = QuerySecrets("key", "access_token", "sign").hide_in_logs()


def secret_from_url(
    value: str, *, base_url: str, path: str, param: str, example: str
) -> str:
    """The `param` value of a pasted webhook URL, checked against `base_url`.

    The URL must be `{base_url}{path}?{param}=…`: a key is never sent to another host
    than the one the outlet names. Messages never contain the value.
    """
    parts = urlsplit(value.strip())
    base = urlsplit(base_url)
    found = parse_qs(parts.query).get(param, [""])[0].strip()
    if parts.scheme not in ("http", "https") or not parts.netloc or not found:
        raise ValueError(f"give the webhook URL ({example}) or just its {param} value")
    host = parts.netloc.rpartition("@")[2].lower()  # never show credentials
    if (parts.scheme, host) != (base.scheme, base.netloc.lower()):
        raise ValueError(
            f"the webhook URL points at {parts.scheme}://{host}, but base_url "
            f"is {base.scheme}://{base.netloc}; give just the {param} value, or set "
            "base_url to match"
        )
    if parts.path.rstrip("/") != base.path.rstrip("/") + path:
        raise ValueError(f"the webhook URL's path must be {path} (as in {example})")
    return found


def normalise_settings(
    data: Any, *, field: str, param: str, default_base_url: str, path: str
) -> Any:
    """Raw settings with `base_url` trimmed and `field` kept as the bare secret.

    `field` may hold the whole webhook URL (`{base_url}{path}?{param}=…`, checked by
    `secret_from_url`; errors name `field`) or just the value, which is stripped. Meant
    for a settings model's `mode="before"` validator; anything but a dict passes as is.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    base = data.get("base_url", default_base_url)
    if isinstance(base, str):
        data["base_url"] = base = base.strip().rstrip("/")
    value = data.get(field)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, str) and isinstance(base, str) and "://" in text:
        try:
            data[field] = secret_from_url(
                text,
                base_url=base,
                path=path,
                param=param,
                example=f"{default_base_url}{path}?{param}=…",
            )
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
    elif isinstance(text, str):
        data[field] = text.strip()
    return data


# -- message text --------------------------------------------------------------------

# Characters that make Markdown structure in the robots' dialects, and full-width
# look-alikes shown instead (written as escapes: they look the same as the originals).
_MD_SAFE = str.maketrans(
    {
        "[": "\uff3b",
        "]": "\uff3d",
        "<": "\uff1c",
        ">": "\uff1e",
        "*": "\uff0a",
        "`": "\uff40",
        "_": "\uff3f",
        "~": "\uff5e",
    }
)
_LINE_START_MARK = re.compile(r"(?m)^(\s*)#")


def md_text(text: str) -> str:
    """Operator text for a robot Markdown message: no links, tags, emphasis or headings."""
    return _LINE_START_MARK.sub("\\1\uff03", text.translate(_MD_SAFE))


_PARSER: Final = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLOCK_END = re.compile(r"_close$")


def _plain_text(markdown: str) -> str:
    """The words of operator Markdown, whitespace collapsed: what a reader reads."""
    out: list[str] = []
    for token in _PARSER.parse(markdown):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    out.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    out.append(" ")
        elif token.type in ("fence", "code_block"):
            out.append(token.content)
        elif _BLOCK_END.search(token.type):
            out.append(" ")
    return " ".join("".join(out).split())


def _is_joiner(ch: str) -> bool:
    """True for characters that belong to the character before them."""
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me")
        or ch in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin tone modifiers
    )


def plain_summary(markdown: str, limit: int = SUMMARY_CHARS) -> str:
    """The first `limit` characters of the body as plain text, `……` if cut."""
    text = _plain_text(markdown)
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 1 and _is_joiner(text[cut]):
        cut -= 1
    return text[:cut].rstrip() + "……"


@dataclass(frozen=True)
class TimeMark:
    """What time changed of an item, as a notice says it (docs/lifecycle.md).

    `tag`: "废止", "失效" or "公示结束"; `statement`: said in place of a 更正说明;
    `date_label` and `date`: the day it happened, as a fact (`YYYY-MM-DD`)."""

    tag: str
    statement: str
    date_label: str
    date: str

    @property
    def note_label(self) -> str:
        """What the statement is called (`废止说明`), where a 更正说明 would be."""
        return {"公示结束": "公示说明"}.get(self.tag, f"{self.tag}说明")


_TIME_EVENTS: Final = frozenset({"Repealed", "Expired", "NoticeEnded"})


def _cn_day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def time_mark(item: ItemView) -> TimeMark | None:
    """The time change this version of `item` is, or None for a change of its text.

    The version's own history record tells (`Repealed`, `Expired`, `NoticeEnded`): a
    repealed document revised later is corrected, not repealed again. Without a record
    for the version, the view's fields decide: `repealed`, else `expired`, else
    `notice_ended`."""
    record = next(
        (r for r in reversed(item.history) if r.version == item.version), None
    )
    event = record.event if record is not None else None
    if event is not None and event not in _TIME_EVENTS:
        return None
    when = day(item.updated_at)
    if item.repealed is not None and event in (None, "Repealed"):
        return TimeMark("废止", item.repealed, "废止日期", when)
    if item.expired is not None and event in (None, "Expired"):
        return TimeMark("失效", item.expired, "失效日期", when)
    period = item.content.notice_period
    if item.notice_ended is not None and event in (None, "NoticeEnded"):
        window = (
            f"公示期为{_cn_day(period.start)}至{_cn_day(period.end)}"
            if period is not None
            else "公示期"
        )
        statement = f"《{item.content.title}》{window}，现已结束。" + {
            "hide_details": "公示名单及附件不再展示。",
            "remove": "该公示已按规定撤下，不再公开。",
        }.get(item.notice_ended, "")
        end = period.end.isoformat() if period is not None else when
        return TimeMark("公示结束", statement, "结束日期", end)
    return None


@dataclass(frozen=True)
class Notice:
    """What a robot message says, before it is written as Markdown or text."""

    tag: str  # "" (a publication), "更正", "撤回", or a time mark's ("废止", …)
    title: str
    facts: tuple[tuple[str, str], ...]
    paragraphs: tuple[str, ...]
    link_label: str
    link: str

    @property
    def heading(self) -> str:
        """The title line: `【更正】title`, or the title alone for a publication."""
        return f"【{self.tag}】{self.title}" if self.tag else self.title

    def markdown(self, level: int, heading: str | None = None) -> str:
        """The notice as robot Markdown; operator text neutralised."""
        blocks = [f"{'#' * level} {md_text(heading or self.heading)}"]
        if self.facts:
            blocks.append(
                "\n".join(f"> {label}：{md_text(value)}" for label, value in self.facts)
            )
        blocks += [md_text(p) for p in self.paragraphs]
        blocks.append(f"[{self.link_label}]({self.link})")
        return "\n\n".join(blocks)

    def text(self) -> str:
        """The notice as plain text (WeCom `text` messages)."""
        head = [self.heading, *(f"{label}：{value}" for label, value in self.facts)]
        blocks = ["\n".join(head), *self.paragraphs, f"{self.link_label}：{self.link}"]
        return "\n\n".join(blocks)


def notice_for(job: DeliveryJob, portal_url: str) -> Notice:
    """The notice a delivery sends: a publication, a 更正 or a 撤回 message, or for a
    correction that time caused a 废止, 失效 or 公示结束 one (`time_mark`)."""
    if job.operation is Operation.REVIEW_NOTICE:
        raise ValueError("a review notice shows job.review, not the item: review_text")
    item = job.item
    content = item.content
    link = f"{portal_url.rstrip('/')}/items/{item.item_id}.html"
    if job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
        when = day(item.updated_at)
        paragraphs = [
            f"《{content.title}》已于{when}撤回，请以政府网站公布的信息为准。"
        ]
        if item.public_note:
            paragraphs.append(f"撤回说明：{item.public_note}")
        return Notice(
            tag="撤回",
            title=content.title,
            facts=(
                ("发布机构", content.agency),
                ("索引号", content.index_no),
                ("原发布日期", day(item.published_at)),
                ("撤回日期", when),
            ),
            paragraphs=tuple(paragraphs),
            link_label="查看撤回说明",
            link=link,
        )
    correction = job.operation in (Operation.CORRECTION, Operation.UPDATE)
    mark = time_mark(item) if correction else None
    if mark is not None:
        return _time_notice(item, mark, link)
    facts = [("发布机构", content.agency)]
    facts.append(("更正日期" if correction else "发布日期", day(item.updated_at)))
    facts.append(("索引号", content.index_no))
    if content.doc_no:
        facts.append(("发文字号", content.doc_no))
    if content.notice_period:
        period = content.notice_period
        facts.append(
            ("公示期", f"{period.start.isoformat()} 至 {period.end.isoformat()}")
        )
    paragraphs = []
    if correction:
        paragraphs.append(f"更正说明：{item.reason or '内容已更新。'}")
    paragraphs.append(plain_summary(content.body))
    return Notice(
        tag="更正" if correction else "",
        title=content.title,
        facts=tuple(facts),
        paragraphs=tuple(paragraphs),
        link_label="查看原文",
        link=link,
    )


def _time_notice(item: ItemView, mark: TimeMark, link: str) -> Notice:
    """A 废止, 失效 or 公示结束 message: the statement, not the text again."""
    content = item.content
    facts = [("发布机构", content.agency), ("索引号", content.index_no)]
    if content.doc_no:
        facts.append(("发文字号", content.doc_no))
    period = content.notice_period
    if mark.tag == "公示结束" and period is not None:
        facts.append(
            ("公示期", f"{period.start.isoformat()} 至 {period.end.isoformat()}")
        )
    else:
        facts.append(("原发布日期", day(item.published_at)))
        facts.append((mark.date_label, mark.date))
    return Notice(
        tag=mark.tag,
        title=content.title,
        facts=tuple(facts),
        paragraphs=(mark.statement,),
        link_label="查看原文",
        link=link,
    )


def robot_rate_key(platform: str, secret: str) -> str:
    """A robot's identity for shared rate limits: a digest of its platform and key
    (outlets sending through the same robot share its 20 a minute), never the key."""
    return hashlib.sha256(f"{platform}:{secret}".encode()).hexdigest()[:32]


def _digest_entry(notice: Notice) -> str:
    """One item of a digest message: its heading as a link, the first two facts."""
    facts = " · ".join(md_text(value) for _, value in notice.facts[:2])
    return f"- [{md_text(notice.heading)}]({notice.link})\n  {facts}"


def review_text(job: DeliveryJob) -> str:
    """The text of a review notice (`Operation.REVIEW_NOTICE`): `job.review`'s title,
    stage, level and comment, never `job.item`'s (that is the version outlets show, which
    may not be the one under review)."""
    if job.review is None:
        raise PermanentDeliveryError(
            "a review-notice delivery without its notice (job.review is None): this is "
            "a bug in syndicate, please report it",
            code="no_review",
        )
    return job.review.text()


# -- splitting -----------------------------------------------------------------------


def utf8_len(text: str) -> int:
    """Bytes of `text` in UTF-8."""
    return len(text.encode("utf-8"))


def json_len(text: str) -> int:
    """Bytes of `text` inside a JSON string (UTF-8, escapes counted, quotes not)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def number_label(index: int, total: int) -> str:
    """`（2/3）`: the number of a part."""
    return f"（{index}/{total}）"


# Coarsest first: blank-line paragraph ends, line ends, sentence ends. A separator stays
# with the text before it, so the pieces concatenate back to the original.
_LEVELS: Final = (
    re.compile(r"(?<=\n\n)(?!\n)"),
    re.compile(r"(?<=\n)(?!\n)"),
    re.compile("(?<=[。！？；!?;])(?![。！？；!?;\u201d\u2019」』）)])"),
)


def _hard_pieces(
    text: str, budget: int, measure: Callable[[str], int]
) -> Iterator[str]:
    """Pieces of at most `budget`, cut between characters (never before a joiner)."""
    start, size = 0, 0
    for index, ch in enumerate(text):
        width = measure(ch)
        if width > budget:
            raise ValueError(f"one character is wider than the budget of {budget}")
        if size + width > budget:
            cut = index
            while cut > start + 1 and _is_joiner(text[cut]):
                cut -= 1  # keep a combining mark or emoji modifier with its base
            if measure(text[cut:index]) + width > budget:
                cut = index  # a cluster longer than the budget: no way to keep it whole
            yield text[start:cut]
            start = cut
            size = measure(text[start:index])
        size += width
    if start < len(text):
        yield text[start:]


def _pieces(
    text: str, budget: int, measure: Callable[[str], int], level: int = 0
) -> Iterator[str]:
    if measure(text) <= budget:
        yield text
        return
    if level == len(_LEVELS):
        yield from _hard_pieces(text, budget, measure)
        return
    for piece in _LEVELS[level].split(text):
        if piece:
            yield from _pieces(piece, budget, measure, level + 1)


def split_text(
    text: str, budget: int, measure: Callable[[str], int] = utf8_len
) -> list[str]:
    """Chunks of `text`, each at most `budget` by `measure`, that concatenate to `text`.

    Chunks end at paragraph boundaries where possible; a paragraph too long by itself is
    cut at line ends, then sentence ends, then between characters. `measure` must be
    additive (the size of a string is the sum of its characters' sizes), as UTF-8 and
    JSON-escaped lengths are.
    """
    if budget < 8:
        raise ValueError("budget too small to split into")
    chunks: list[str] = []
    current, size = "", 0
    for piece in _pieces(text, budget, measure):
        width = measure(piece)
        if current and size + width > budget:
            chunks.append(current)
            current, size = "", 0
        current += piece
        size += width
    if current or not chunks:
        chunks.append(current)
    return chunks


# -- rate window ---------------------------------------------------------------------


class RateWindow:
    """Messages sent by one robot in the last 60 s, and a pause the platform imposed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: deque[datetime] = deque()
        self.paused_until: datetime | None = None

    def wait(self, now: datetime, count: int) -> float:
        """Seconds until `count` more messages may go (0.0: now)."""
        while self.sent and now - self.sent[0] >= WINDOW:
            self.sent.popleft()
        pause = 0.0
        if self.paused_until is not None and now < self.paused_until:
            pause = (self.paused_until - now).total_seconds()
        excess = len(self.sent) + min(count, self.limit) - self.limit
        if excess <= 0:
            return pause
        free_at = self.sent[excess - 1] + WINDOW
        return max(pause, (free_at - now).total_seconds())

    def record(self, now: datetime) -> None:
        """One message went out."""
        self.sent.append(now)

    def pause(self, now: datetime, seconds: float) -> None:
        """The platform asked for a pause: send nothing before it ends."""
        self.paused_until = now + timedelta(seconds=seconds)


# -- sending -------------------------------------------------------------------------


_RobotSettings = TypeVar("_RobotSettings", bound=BaseModel)


class RobotAdapter(BaseAdapter[_RobotSettings]):
    """The rendition and delivery half shared by the robot adapters; subclasses say what
    to send, how to address, what errcodes mean and which secrets to keep out of
    messages."""

    platform: ClassVar[str]
    per_minute: ClassVar[int] = 20
    # The end of the message for an errcode the adapter does not know.
    unknown_errcode_advice: ClassVar[str] = "fix the cause, then run `syndicate retry`"

    def __init__(self, settings: BaseModel) -> None:
        super().__init__(settings)
        self._window = RateWindow(self.per_minute)

    # Subclasses provide these six.
    @property
    def portal_url(self) -> str:
        """The portal's base URL messages link to (the outlet's `portal_url`)."""
        raise NotImplementedError

    @property
    def timeout(self) -> float:
        """Seconds per request (the outlet's `timeout`)."""
        raise NotImplementedError

    def bodies(self, job: DeliveryJob) -> list[dict[str, Any]]:
        """The request bodies a delivery sends, in order."""
        raise NotImplementedError

    def _url(self, now: datetime) -> str:
        raise NotImplementedError

    def _known_error(self, errcode: int, said: str) -> DeliveryError | str | None:
        """What a non-zero errcode the platform documents means: the delivery error, or
        the advice of a permanent failure; None for any other errcode. `said` is the
        platform's errmsg as `_errmsg` shortens it."""
        raise NotImplementedError

    def _secrets(self) -> list[str]:
        raise NotImplementedError

    def render(self, job: DeliveryJob) -> Rendition:
        bodies = self.bodies(job)
        return Rendition.of(
            canonical_json(bodies),
            "application/json",
            key=str(job.delivery_id),
            meta={"messages": str(len(bodies))},
        )

    # -- digests (`digest_minutes`) ----------------------------------------------------

    # Bytes of Markdown one digest message may hold (the platform's limit, less room).
    digest_limit: ClassVar[int] = 3800

    def digest_bodies(self, title: str, markdown: str) -> list[dict[str, Any]]:
        """The request bodies of one digest message (subclasses say how)."""
        raise NotImplementedError

    def render_digest(self, jobs: Sequence[DeliveryJob]) -> list[Rendition]:
        """Several notices as one Markdown message, or as few as the byte limit
        allows: a heading with the count, then per item its 【tag】 title as a link, the
        agency and date; the parts numbered when there are several."""
        portal = self.portal_url
        entries = [(job, _digest_entry(notice_for(job, portal))) for job in jobs]
        parts: list[list[tuple[DeliveryJob, str]]] = [[]]
        used = 0
        for job, entry in entries:
            size = utf8_len(entry) + 2
            if parts[-1] and used + size > self.digest_limit - 200:
                parts.append([])
                used = 0
            parts[-1].append((job, entry))
            used += size
        total = len(parts)
        renditions = []
        for index, part in enumerate(parts, 1):
            count = len(part)
            numbered = f"（{index}/{total}）" if total > 1 else ""
            title = f"政务公开信息{count}条{numbered}"
            text = "\n\n".join(
                [f"### 【政务公开】{title}", *(entry for _, entry in part)]
            )
            bodies = self.digest_bodies(title, text)
            renditions.append(
                Rendition.of(
                    canonical_json(bodies),
                    "application/json",
                    key=str(part[0][0].delivery_id),
                    meta={
                        "messages": str(len(bodies)),
                        "covers": ",".join(str(job.delivery_id) for job, _ in part),
                    },
                )
            )
        return renditions

    def _error(self, errcode: int, errmsg: str) -> DeliveryError:
        """The delivery error for a non-zero errcode."""
        said = self._errmsg(errmsg)
        code = str(errcode)
        if errcode == -1:
            return TransientDeliveryError(
                f"{self.platform} is busy (-1 {said}); trying again later", code=code
            )
        known = self._known_error(errcode, said)
        if isinstance(known, DeliveryError):
            return known
        if known is None:
            known = (
                f"{self.platform} refused the message: errcode {errcode} ({said}); "
                f"{self.unknown_errcode_advice}"
            )
        return PermanentDeliveryError(known, code=code)

    def _scrub(self, text: str) -> str:
        return _SECRETS.scrub(text, self._secrets())

    def _errmsg(self, errmsg: str) -> str:
        """The platform's errmsg, short and without secrets (drops the `hint` suffix)."""
        short = errmsg.split(", hint:")[0].strip()
        return self._scrub(short[:160])

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Post each request body in order; see the module docstring for the rules."""
        bodies = [canonical_json(body) for body in json.loads(rendition.data)]
        total = len(bodies)
        now = self.clock()
        wait = self._window.wait(now, total)
        if wait > 0:
            raise TransientDeliveryError(
                f"{self.platform} robots take {self.per_minute} messages a minute; "
                f"this delivery needs {total}, so it waits {wait:.0f} s (nothing sent)",
                code="rate_limit",
                retry_after=wait,
            )
        for sent, body in enumerate(bodies):
            try:
                self._post_one(session, body)
            except DeliveryError as exc:
                if sent == 0:
                    raise
                raise self._partial(exc, sent, total) from None
        return Receipt(detail={"messages": str(total)})

    def _partial(
        self, exc: DeliveryError, sent: int, total: int
    ) -> UnknownOutcomeError:
        first = "message 1" if sent == 1 else f"messages 1-{sent}"
        fate = (
            "may or may not have arrived"
            if isinstance(exc, UnknownOutcomeError)
            else "was not sent"
        )
        return UnknownOutcomeError(
            f"{first} of {total} reached the group; message {sent + 1} {fate}: {exc}. "
            f"Sending again would repeat {first}: check the group, post what is "
            "missing by hand if you like, then run `syndicate resolve DELIVERY --sent` "
            "(or --not-sent to send every part again)",
            code=exc.code,
        )

    def _post_one(self, session: requests.Session, body: bytes) -> None:
        now = self.clock()
        try:
            answer = exchange(
                session,
                "POST",
                self._url(now),
                data=body,
                headers=_HEADERS,
                timeout=self.timeout,
                limit=ANSWER_LIMIT,
            )
        except RequestFailed as exc:
            unsent = unsent_failure(exc, self.platform, scrub=self._scrub)
            if unsent is not None:
                raise unsent from None
            self._window.record(now)
            if exc.code == "timeout":
                raise UnknownOutcomeError(
                    f"no answer from {self.platform} within {self.timeout:g} s (the "
                    "message was sent); it may have arrived, and the robot cannot be "
                    "asked",
                    code=exc.code,
                ) from None
            raise UnknownOutcomeError(
                f"the connection to {self.platform} broke after the message was sent "
                f"({self._scrub(exc.detail)}); the robot cannot be asked whether it "
                "arrived",
                code=exc.code,
            ) from None
        self._window.record(now)
        self._check(answer, now)

    def _check(self, response: Exchange, now: datetime) -> None:
        check_status(
            self.platform,
            response.status,
            retry_after=retry_after(response.headers, now),
        )
        answer = parse_json(response.body) if response.complete else None
        errcode = answer.get("errcode") if isinstance(answer, dict) else None
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            why = (
                response.problem
                if not response.complete
                else "not the robot API's JSON"
            )
            raise UnknownOutcomeError(
                f"{self.platform} answered HTTP 200 without an errcode ({why}); the "
                "message may have arrived",
                code="unparseable",
            )
        if errcode == 0:
            return
        errmsg = answer.get("errmsg") if isinstance(answer, dict) else None
        error = self._error(errcode, errmsg if isinstance(errmsg, str) else "")
        if isinstance(error, TransientDeliveryError) and error.retry_after:
            self._window.pause(now, error.retry_after)
        raise error


def parse_json(body: bytes) -> Any:
    """The JSON value of an answer, or None if it is not JSON (also for nesting too
    deep to parse, which a hostile server can send in a few kilobytes)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def check_parts(total: int, limit: int, platform: str) -> None:
    """Refuse a notice that needs more than `limit` messages (a bug guard)."""
    if total > limit:
        raise PermanentDeliveryError(
            f"the notice needs {total} {platform} messages; at most {limit} are "
            "sent per delivery",
            code="too_large",
        )


def check_bodies(
    bodies: Sequence[dict[str, object]], limit: int, platform: str
) -> None:
    """Refuse a rendition whose request bodies exceed `limit` bytes (a bug guard)."""
    for body in bodies:
        if len(canonical_json(body)) > limit:
            raise PermanentDeliveryError(
                f"a {platform} request body would exceed {limit} bytes",
                code="too_large",
            )


def check_status(
    platform: str,
    status: int,
    api: str | None = None,
    *,
    retry_after: float | None = None,
) -> None:
    """The HTTP status of a platform API that answers 200 with an errcode body:
    redirects (never followed) and other non-200 answers become delivery errors
    (429 and 5xx transient, with the answer's `Retry-After` if it had one)."""
    if 300 <= status < 400:
        raise PermanentDeliveryError(
            f"{platform} answered with a redirect ({status}); redirects are never "
            "followed: check base_url",
            code=str(status),
        )
    if status == 429 or status >= 500:
        raise TransientDeliveryError(
            f"{platform} answered HTTP {status}",
            code=str(status),
            retry_after=retry_after,
        )
    if status != 200:
        to = f" to {api}" if api else ""
        raise PermanentDeliveryError(
            f"{platform} answered HTTP {status}{to}; check base_url", code=str(status)
        )
