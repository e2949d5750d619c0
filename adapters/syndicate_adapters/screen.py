"""`screen`: the electronic screens of service halls and township centres (电子显示屏).

Two kinds of screen hang in a 政务服务大厅 or a 便民服务中心, and one outlet feeds both:

- **LCD panels** driven by a small PC or an Android box that shows a local web page in a
  full-screen browser: `lcd/index.html` is one self-contained page (inline CSS and
  JavaScript, no network, no web fonts) that loops through the items on show, one a
  page, `seconds_per_page` each;
- **LED text boards** (red or two-colour dot matrix) whose controller software imports
  a plain text file: `led/notice.txt`, lines of at most `led_line_chars` display cells,
  CRLF line endings, in `led_encoding` (GB18030 by default).

```
lcd/index.html      the page (items, layout, script: everything inline)
lcd/items.json      what the bundle shows, for machines: items, LED details, file hashes
lcd/bundle.js       `screenBundle("<bundle>")`: the page loads it at the end of each loop
                    and reloads itself when it names a new bundle (works from file://)
led/notice.txt      the LED export (bytes in the chosen encoding)
led/preview.html    the LED export drawn as a dot-matrix board, for the office to check
```

Each rendition is the whole folder as of the delivery's log position, as canonical JSON:
`{"files": {path: text}, "binary": {path: base64}}` (the LED file is not UTF-8, so its
exact bytes travel as base64). Its bytes depend only on the log and the settings: the
"built" time is the newest event among the outlet's items, never the wall clock.

What is shown (`screen_items`): live items in force only. A withdrawn item disappears; a
document repealed or expired (废止, 已失效, or a declared validity that is not in force,
or a `valid_until` already past) and a 解读 of a repealed policy leave the screen; a
公示 whose window the log says is over (`NoticeEnded`, whatever `after_end` says) or
that ended before the bundle was built leaves it too. The page also hides, on the
screen's own clock, a 公示 outside its window and a document past its `valid_until`,
and counts a 公示's remaining days. The LED file has no clock: it shows only 公示
whose window contains the day the bundle was built (the clock's next event rewrites it).

Order: 公示 under way first, the window that ends soonest first; then the rest, newest
first by first publication (a correction does not move an item forward).

LED cells: LED controllers draw a Chinese character in a 16x16 cell and an ASCII
character in an 8x16 half cell (the GB2312 byte count), so a line of `led_line_chars`
cells holds half as many Chinese characters. Full-width, wide and East-Asian
"ambiguous" characters (Chinese punctuation, `·`, `“”`, `…`) count 2; the rest 1.
Characters the encoding cannot represent become `□`, listed in `items.json`
(`led.substituted`) and in the delivery's receipt.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, NamedTuple
from uuid import UUID

import nh3
import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ExpectsFiles,
    ItemView,
    OutletFolder,
    ReadsBack,
    Receipt,
    Rendition,
    TakesInventory,
    WitnessedCheckpoint,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    BaseAdapter,
    FolderWriter,
    canonical_json,
    file_errors,
    read_file_set,
    refuse_review_notice,
)
from syndicate.errors import PermanentDeliveryError
from syndicate_adapters._html import area_name, esc, markdown_html, minute
from syndicate_adapters.kiosk import _qr, _sha, shown_items

__all__ = [
    "SCHEMA",
    "ScreenAdapter",
    "ScreenSettings",
    "cells",
    "led_safe",
    "screen_items",
    "summary_paragraphs",
    "wrap_cells",
]

SCHEMA: Final = 1
_ASSETS: Final = Path(__file__).parent / "screen_assets"
PAGE: Final = "lcd/index.html"
ITEMS: Final = "lcd/items.json"
BUNDLE: Final = "lcd/bundle.js"
LED: Final = "led/notice.txt"
PREVIEW: Final = "led/preview.html"
_TEXT_FILES: Final = (PAGE, ITEMS, BUNDLE, PREVIEW)
_BINARY_FILES: Final = (LED,)
_SUBSTITUTE: Final = "□"  # in GB2312 (A1F5), so in every encoding offered


class ScreenSettings(BaseModel):
    """`[outlets.NAME]` settings of a screen outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Folder the screens read (relative to the home).")
    title: str = Field(
        default="政务公开",
        min_length=1,
        max_length=40,
        pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
        description="The header of every page and the first line of the LED file.",
    )
    resolution: str = Field(
        default="1920x1080",
        pattern=r"^[0-9]{3,4}x[0-9]{3,4}$",
        description="The LCD panel's size in pixels, WIDTHxHEIGHT (1080x1920: "
        "portrait); the page is laid out for exactly this size and scaled to the "
        "window.",
    )
    seconds_per_page: int = Field(
        default=15, ge=5, le=300, description="Seconds each item stays on the LCD."
    )
    lcd_max_items: int = Field(
        default=30, ge=1, le=200, description="At most this many items in the loop."
    )
    portal_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s\"'<>\\]+$",
        description="Public https base URL of the portal; each page then shows a QR "
        "code of `{portal_url}/items/{item_id}.html`.",
    )
    led_line_chars: int = Field(
        default=32,
        ge=8,
        le=256,
        description="Display cells a line of the LED board holds (a Chinese "
        "character takes 2, an ASCII character 1).",
    )
    led_max_items: int = Field(
        default=10, ge=1, le=100, description="At most this many items in the LED file."
    )
    led_encoding: Literal["gb18030", "gbk", "gb2312", "utf-8"] = Field(
        default="gb18030",
        description="Encoding of led/notice.txt, as the controller software reads it.",
    )

    @field_validator("resolution")
    @classmethod
    def _sane_resolution(cls, value: str) -> str:
        width, height = (int(n) for n in value.split("x"))
        if not (480 <= width <= 7680 and 480 <= height <= 7680):
            raise ValueError("width and height must each be 480 to 7680 pixels")
        if max(width, height) > 4 * min(width, height):
            raise ValueError("a screen is at most 4 times as long as it is high")
        return value

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        width, height = self.resolution.split("x")
        return int(width), int(height)


# -- what is shown ----------------------------------------------------------------------


def _in_force(item: ItemView, today: date) -> bool:
    validity = item.content.validity
    until = item.content.valid_until
    return (
        item.in_force
        and not item.policy_repealed
        and (validity is None or validity.in_force)
        and (until is None or until >= today)
    )


def screen_items(live: Iterable[ItemView], built: datetime) -> list[ItemView]:
    """The items a screen shows as of `built`, in the order it shows them.

    Live items in force (kiosk's `shown_items`: no ended 公示, nothing withdrawn; and
    here nothing repealed, expired or past its `valid_until`); 公示 first, the window
    that ends soonest first, then the rest newest first by first publication."""
    today = built.astimezone(CHINA_TZ).date()
    kept = [i for i in shown_items(live, built) if _in_force(i, today)]
    newest = sorted(kept, key=lambda i: (i.published_at, str(i.item_id)), reverse=True)
    return sorted(
        newest,
        key=lambda i: (
            (0, i.content.notice_period.end)
            if i.content.notice_period
            else (1, date.min)
        ),
    )


def _under_notice(item: ItemView, today: date) -> bool:
    period = item.content.notice_period
    return period is None or period.start <= today <= period.end


# -- text ------------------------------------------------------------------------------

_TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)
_HEADING = re.compile(r"<h[1-6]>(.*?)</h[1-6]>", re.DOTALL)
_HEADING_MARK: Final = "\ue000"  # private use; removed from the body first
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|blockquote|pre)>|<br\s*/?>|<hr\s*/?>")
_ADDRESS = re.compile(
    r"(?:https?://|mailto:|www\.)[A-Za-z0-9._~:/?#@!$&'*+,;=%-]*"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    re.ASCII,
)
_EMPTY_BRACKETS = re.compile(r"[（(]\s*[)）]")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = "。；！？"
# The most of a body a page carries; the page itself then keeps what fits its box.
_SUMMARY_CHARS: Final = 300


class Paragraph(NamedTuple):
    """A paragraph of a body as plain text; `heading`: it was a heading."""

    text: str
    heading: bool = False


@functools.lru_cache(maxsize=1024)
def summary_paragraphs(markdown: str) -> tuple[Paragraph, ...]:
    """The body as plain paragraphs for a screen: no markup, no tables (名单 belong on
    the portal), no web or mail addresses (a screen has nothing to follow; the QR code
    leads to the page)."""
    rendered = _TABLE.sub("\n", markdown_html(markdown).replace(_HEADING_MARK, ""))
    rendered = _HEADING.sub(lambda m: f"\n{_HEADING_MARK}{m[1]}\n", rendered)
    text = html.unescape(nh3.clean(_BLOCK_END.sub("\n", rendered), tags=set()))
    paragraphs = []
    for line in text.splitlines():
        heading = line.startswith(_HEADING_MARK)
        line = _EMPTY_BRACKETS.sub("", _ADDRESS.sub("", line.lstrip(_HEADING_MARK)))
        line = _SPACE.sub(" ", line).strip()
        if line:
            paragraphs.append(Paragraph(line, heading))
    # A heading whose section held only a table (or nothing) heads nothing here.
    return tuple(
        p
        for p, following in zip(paragraphs, [*paragraphs[1:], None], strict=True)
        if not p.heading or (following is not None and not following.heading)
    )


def _trimmed(paragraphs: Sequence[Paragraph], budget: int) -> list[Paragraph]:
    """At most `budget` characters of the paragraphs, ending at a sentence if one ends
    near the cut, else with "……"."""
    kept: list[Paragraph] = []
    left = budget
    for paragraph in paragraphs:
        text = paragraph.text
        if len(text) <= left:
            kept.append(paragraph)
            left -= len(text)
            continue
        cut = text[:left]
        end = max(cut.rfind(mark) for mark in _SENTENCE_END)
        if end >= left * 0.6:
            kept.append(paragraph._replace(text=cut[: end + 1]))
        elif left >= 20:
            kept.append(paragraph._replace(text=cut.rstrip("，、；：,;: ") + "……"))
        break
    return kept


def _chinese_date(day_: date) -> str:
    return f"{day_.year}年{day_.month}月{day_.day}日"


def _period_text(start: date, end: date) -> str:
    """`2026年7月21日至7月27日` (the year once, unless the window spans two)."""
    last = f"{end.month}月{end.day}日" if end.year == start.year else _chinese_date(end)
    return f"{_chinese_date(start)}至{last}"


# -- LED text ----------------------------------------------------------------------------

# An ASCII run (a number, a date, a word) stays on one line when it fits one.
_TOKEN = re.compile(r"[0-9A-Za-z]+(?:[-./:%][0-9A-Za-z]+)*|\s+|.", re.DOTALL)
# Characters that never begin a line (行首禁则).
_NO_LINE_START: Final = frozenset("，。、；：？！）》」』】〕〉”\u2019…·%,.;:?!)]}")
_WIDE: Final = frozenset({"W", "F", "A"})


def cells(text: str) -> int:
    """Display cells `text` takes on an LED board: 2 for a full-width, wide or
    East-Asian ambiguous character (what a Chinese font draws in a 16x16 cell), 1 for
    the rest (an 8x16 half cell)."""
    return sum(2 if unicodedata.east_asian_width(ch) in _WIDE else 1 for ch in text)


def wrap_cells(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells: numbers and words kept whole when they
    fit a line, closing punctuation never at the start of a line (the word before it
    comes down with it, when the two fit a line)."""
    lines: list[str] = []
    line: list[str] = []  # the current line's tokens
    for token in _TOKEN.findall(text):
        if token.isspace():
            if line and cells("".join(line)) < width:
                line.append(" ")
            continue
        for piece in [token] if cells(token) <= width else list(token):
            if cells("".join(line)) + cells(piece) <= width:
                line.append(piece)
                continue
            carried: list[str] = []
            if piece in _NO_LINE_START:
                # Back to the last token that may begin a line, if there is one.
                start = len(line) - 1
                while start > 0 and (
                    line[start] in _NO_LINE_START or line[start] == " "
                ):
                    start -= 1
                if start > 0 and cells("".join(line[start:])) + cells(piece) <= width:
                    line, carried = line[:start], line[start:]
            if "".join(line).strip():
                lines.append("".join(line).rstrip())
            line = [*carried, piece]
    if "".join(line).strip():
        lines.append("".join(line).rstrip())
    return lines


def _truncate(text: str, width: int) -> str:
    """`text` cut to one line of `width` cells, ending with "…" when cut."""
    if cells(text) <= width:
        return text
    out, used = "", 2  # the "…"
    for ch in text:
        size = cells(ch)
        if used + size > width:
            break
        out, used = out + ch, used + size
    return out.rstrip() + "…"


def _at_most(lines: list[str], count: int, width: int) -> list[str]:
    """The first `count` lines, the last of them cut with "…" if there were more."""
    if len(lines) <= count:
        return lines
    return [*lines[: count - 1], _truncate("".join(lines[count - 1 :]), width)]


@functools.lru_cache(maxsize=8192)
def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _led_chars(text: str, encoding: str, substitute: Callable[[str], str]) -> str:
    """NFC, without control or format characters, runs of white space as one space,
    and `substitute(ch)` for each character `encoding` cannot represent (private-use
    ones too: no board has their glyphs)."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category in ("Cf", "Mn", "Me"):
            continue  # zero-width: nothing a board can draw
        if category in ("Cc", "Zl", "Zp") or ch.isspace():
            ch = " "
        elif category == "Co" or not _encodable(ch, encoding):
            ch = substitute(ch)
        out.append(ch)
    return _SPACE.sub(" ", "".join(out)).strip()


def led_safe(text: str, encoding: str) -> tuple[str, list[str]]:
    """`text` as one LED line may hold it, every character `encoding` cannot
    represent replaced by "□"; and the characters replaced, in order."""
    missing: list[str] = []

    def substitute(ch: str) -> str:
        missing.append(ch)
        return _SUBSTITUTE

    return _led_chars(text, encoding, substitute), missing


# Stand-ins for replaced characters while lines are laid out: private-use characters
# of plane 15, two cells wide like "□" (East-Asian ambiguous), one per replacement, so
# only what is left on the board after truncation is reported.
_STAND_IN: Final = 0xF0000
_STAND_INS: Final = 0xFFFE


class _LedText:
    """The LED lines of one bundle, and every character shown as "□"."""

    def __init__(self, settings: ScreenSettings) -> None:
        self.width = settings.led_line_chars
        self.encoding = settings.led_encoding
        self.lines: list[str] = []
        self._replaced: list[tuple[str, str]] = []  # (character, item id)

    def clean(self, text: str, item: ItemView | None) -> str:
        owner = str(item.item_id) if item else ""

        def stand_in(ch: str) -> str:
            if len(self._replaced) >= _STAND_INS:
                return _SUBSTITUTE  # (too many to tell apart: not listed)
            self._replaced.append((ch, owner))
            return chr(_STAND_IN + len(self._replaced) - 1)

        return _led_chars(text, self.encoding, stand_in)

    def finish(self) -> tuple[list[str], list[dict[str, str]]]:
        """The lines as the board shows them, and what was replaced in them."""
        substituted: list[dict[str, str]] = []
        shown: list[str] = []
        for line in self.lines:
            out = []
            for ch in line:
                index = ord(ch) - _STAND_IN
                if 0 <= index < len(self._replaced):
                    original, owner = self._replaced[index]
                    entry = {
                        "char": original,
                        "code": f"U+{ord(original):04X}",
                        "item": owner,
                    }
                    if entry not in substituted:
                        substituted.append(entry)
                    ch = _SUBSTITUTE
                out.append(ch)
            shown.append("".join(out))
        return shown, substituted

    def add(self, text: str, item: ItemView | None, *, lines: int) -> None:
        self.lines += _at_most(
            wrap_cells(self.clean(text, item), self.width), lines, self.width
        )

    def item(self, item: ItemView) -> None:
        content = item.content
        period = content.notice_period
        self.add(("【公示】" if period else "") + content.title, item, lines=3)
        if period:
            self.add(f"公示期：{_period_text(period.start, period.end)}", item, lines=2)
        else:
            self.add(
                f"发布日期：{_chinese_date(_china_day(item.published_at))}",
                item,
                lines=2,
            )
        text = [p.text for p in summary_paragraphs(content.body) if not p.heading]
        if text:
            self.lines.append(_truncate(self.clean(text[0], item), self.width))


def _led_lines(
    settings: ScreenSettings, items: Sequence[ItemView]
) -> tuple[list[str], list[dict[str, str]]]:
    """The LED file's lines: the title, a blank line, then the items with a blank line
    between them; and the characters shown as "□"."""
    led = _LedText(settings)
    led.add(settings.title, None, lines=2)
    for item in items:
        led.lines.append("")
        led.item(item)
    if not items:
        led.lines.append("")
        led.add("暂无公开信息。", None, lines=1)
    return led.finish()


def _led_bytes(lines: Sequence[str], encoding: str) -> bytes:
    """The lines with CRLF endings, encoded (UTF-8 with a BOM, which Windows controller
    software needs to tell it from the ANSI code page)."""
    text = "".join(f"{line}\r\n" for line in lines)
    if encoding == "utf-8":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return text.encode(encoding)


def _china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


# -- the page ---------------------------------------------------------------------------


@functools.cache
def _asset(name: str) -> str:
    return (_ASSETS / name).read_text("utf-8")


def _csp_hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest())
    return f"'sha256-{digest.decode('ascii')}'"


def _portal_link(base: str | None, item: ItemView) -> str | None:
    return f"{base.rstrip('/')}/items/{item.item_id}.html" if base else None


def _slide(item: ItemView, link: str | None, first: bool) -> str:
    content = item.content
    period = content.notice_period
    attributes = f' data-item="{item.item_id}"'
    if period:
        attributes += (
            f' data-notice-start="{period.start.isoformat()}"'
            f' data-notice-end="{period.end.isoformat()}"'
        )
    if content.valid_until:
        attributes += f' data-valid-until="{content.valid_until.isoformat()}"'
    tags = ['<span class="tag notice">公示</span>'] if period else []
    tags += [
        f'<span class="tag">{esc(content.stage.label)}</span>',
        f'<span class="tag">{esc(area_name(content.area))}</span>',
    ]
    meta = [
        f"<span>发布机构：{esc(content.agency)}</span>",
        f"<span>发布日期：{_chinese_date(_china_day(item.published_at))}</span>",
    ]
    if content.doc_no:
        meta.append(f"<span>文号：{esc(content.doc_no)}</span>")
    if item.version > 1:
        meta.append(
            f"<span>更新日期：{_chinese_date(_china_day(item.updated_at))}</span>"
        )
    parts = [
        f'<p class="tags">{"".join(tags)}</p>',
        f'<h2 class="title">{esc(content.title)}</h2>',
        f'<p class="meta">{"".join(meta)}</p>',
    ]
    if period:
        parts.append(
            f'<p class="period">公示期：{_period_text(period.start, period.end)}'
            '<strong class="left"></strong></p>'
        )
    summary = _trimmed(summary_paragraphs(content.body), _SUMMARY_CHARS)
    parts.append(
        '<div class="summary">'
        + "".join(
            f'<p class="heading">{esc(p.text)}</p>'
            if p.heading
            else f"<p>{esc(p.text)}</p>"
            for p in summary
        )
        + "</div>"
    )
    qr = ""
    if link:
        qr = (
            f'<aside class="qr"><img src="{esc(_qr(link))}" alt="本信息在门户网站的二维码"'
            ' width="296" height="296"><p>手机扫码<br>查看全文</p></aside>'
        )
    hidden = "" if first else " hidden"
    return (
        f'<article class="slide"{attributes}{hidden}>'
        f'<div class="text">{"".join(parts)}</div>{qr}</article>'
    )


def _document(
    title: str, style: str, body: str, *, script: str = "", attributes: str = ""
) -> str:
    """A whole page: its style and script inline, allowed by their hashes alone (and
    the page may load scripts from its own folder: bundle.js), images only as data."""
    scripts = f"script-src 'self' {_csp_hash(script)}; " if script else ""
    tail = f"<script>{script}</script>\n" if script else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; {scripts}style-src {_csp_hash(style)}; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="generator" content="syndicate screen">
<link rel="icon" href="data:,">
<title>{esc(title)}</title>
<style>{style}</style>
</head>
<body{attributes}>
{body}{tail}</body>
</html>
"""


def _page(
    settings: ScreenSettings,
    slides: Sequence[str],
    built: datetime,
    bundle: str,
) -> str:
    width, height = settings.size
    style = (
        f":root {{ --u: min(calc(100vw / {width}), calc(100vh / {height})); "
        f"--stage-width: calc({width} * var(--u)); "
        f"--stage-height: calc({height} * var(--u)); }}\n" + _asset("screen.css")
    )
    layout = "portrait" if height > width else "landscape"
    empty = " hidden" if slides else ""
    count = f"1 / {len(slides)}" if slides else "0 / 0"
    slide_lines = "".join(s + "\n" for s in slides)
    body = f"""<div class="stage">
<header class="top"><h1>{esc(settings.title)}</h1><p class="clock" id="clock"></p></header>
<main>
{slide_lines}<article class="slide empty" id="empty"{empty}><p>暂无公开信息</p></article>
</main>
<footer class="bottom"><p class="counter" id="counter">{count}</p><div class="progress" aria-hidden="true"><span id="progress"></span></div><p class="built">信息更新至 <time datetime="{built.isoformat()}">{esc(minute(built))}</time></p></footer>
</div>
"""
    return _document(
        settings.title,
        style,
        body,
        script=_asset("screen.js"),
        attributes=(
            f' class="{layout}" data-seconds="{settings.seconds_per_page}"'
            f' data-bundle="{bundle}"'
        ),
    )


def _preview(
    settings: ScreenSettings,
    lines: Sequence[str],
    substituted: Sequence[dict[str, str]],
) -> str:
    width = settings.led_line_chars * 24  # a half cell: 8 dots, 3 px apart
    style = f".row {{ width: {width}px; }}\n" + _asset("led.css")
    rows = "".join(
        '<div class="row">'
        + "".join(f'<span class="c{cells(ch)}">{esc(ch)}</span>' for ch in line)
        + "</div>\n"
        for line in lines
    )
    warning = ""
    if substituted:
        listed = "".join(
            f"<li>{esc(s['char'])}（{s['code']}）</li>" for s in substituted
        )
        warning = (
            f'<div class="warning"><p>以下字符无法用 {settings.led_encoding.upper()} '
            f"编码，已替换为“{_SUBSTITUTE}”：</p><ul>{listed}</ul></div>\n"
        )
    body = f"""<main>
<h1>LED 条屏预览</h1>
<p class="about">led/notice.txt：{settings.led_encoding.upper()} 编码，CRLF 换行，每行不超过 {settings.led_line_chars} 个半角字符宽度（汉字占 2 个），共 {len(lines)} 行。</p>
<div class="board">
{rows}</div>
{warning}</main>
"""
    return _document(f"LED 条屏预览 · {settings.title}", style, body)


def _item_entry(item: ItemView, led_ids: set[UUID]) -> dict[str, Any]:
    period = item.content.notice_period
    return {
        "id": str(item.item_id),
        "ref": item.ref,
        "version": item.version,
        "content_hash": item.content_hash,
        "title": item.content.title,
        "published_at": item.published_at.astimezone(CHINA_TZ).isoformat(),
        "updated_at": item.updated_at.astimezone(CHINA_TZ).isoformat(),
        "notice_period": (
            {"start": period.start.isoformat(), "end": period.end.isoformat()}
            if period
            else None
        ),
        "valid_until": (
            item.content.valid_until.isoformat() if item.content.valid_until else None
        ),
        "led": item.item_id in led_ids,
    }


class ScreenAdapter(
    BaseAdapter[ScreenSettings], ReadsBack, TakesInventory, ExpectsFiles
):
    """The LCD page and the LED file for the live items, one rendition per log position."""

    kind: ClassVar[str] = "screen"
    label: ClassVar[str | None] = "电子显示屏"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,  # writing the same files again changes nothing
        reads_back=True,
    )

    # -- rendering -----------------------------------------------------------------------

    def files(self, job: DeliveryJob) -> tuple[dict[str, str], dict[str, bytes]]:
        """The folder as ({path: text}, {path: bytes})."""
        settings = self.settings
        moments = [i.updated_at for i in (*job.live_items, *job.withdrawn_items)] or [
            job.item.updated_at
        ]
        built = max(moments).astimezone(CHINA_TZ)
        today = built.date()
        shown = screen_items(job.live_items, built)
        lcd = shown[: settings.lcd_max_items]
        on_led = [i for i in shown if _under_notice(i, today)][: settings.led_max_items]

        led_lines, substituted = _led_lines(settings, on_led)
        led_data = _led_bytes(led_lines, settings.led_encoding)

        portal = settings.portal_url or job.portal_url
        slides = [
            _slide(item, _portal_link(portal, item), n == 0)
            for n, item in enumerate(lcd)
        ]
        led_ids = {i.item_id for i in on_led}
        entries = [_item_entry(i, led_ids) for i in lcd]
        on_lcd = {i.item_id for i in lcd}
        entries += [_item_entry(i, led_ids) for i in on_led if i.item_id not in on_lcd]
        config = {
            "title": settings.title,
            "resolution": settings.resolution,
            "seconds_per_page": settings.seconds_per_page,
            "led_encoding": settings.led_encoding,
            "led_line_chars": settings.led_line_chars,
        }
        # One name for this exact bundle: the page compares it with bundle.js's.
        bundle = hashlib.sha256(
            canonical_json(
                {
                    "config": config,
                    "built_at": built.isoformat(),
                    "items": entries,
                    "slides": [_sha(s) for s in slides],
                    "assets": [_sha(_asset(n)) for n in ("screen.css", "screen.js")],
                    "led": hashlib.sha256(led_data).hexdigest(),
                }
            )
        ).hexdigest()
        text = {
            PAGE: _page(settings, slides, built, bundle),
            PREVIEW: _preview(settings, led_lines, substituted),
            BUNDLE: f'window.screenBundle && window.screenBundle("{bundle}");\n',
        }
        manifest = {
            "schema_version": SCHEMA,
            "kind": "syndicate.screen",
            **config,
            "built_at": built.isoformat(),
            "bundle": bundle,
            "items": entries,
            "led": {
                "file": LED,
                "encoding": settings.led_encoding,
                "line_cells": settings.led_line_chars,
                "lines": len(led_lines),
                "items": [str(i.item_id) for i in on_led],
                "substituted": substituted,
            },
            "files": {
                **{path: _sha(body) for path, body in text.items()},
                LED: hashlib.sha256(led_data).hexdigest(),
            },
        }
        text[ITEMS] = (
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        )
        return text, {LED: led_data}

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        text, binary = self.files(job)
        data = {
            "files": text,
            "binary": {
                p: base64.b64encode(b).decode("ascii") for p, b in binary.items()
            },
        }
        return Rendition.of(
            canonical_json(data),
            "application/vnd.syndicate.screen+json",
            key=str(job.delivery_id),
        )

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        text, binary = _unpack(rendition)
        root = self.settings.path
        self._write(FolderWriter(root), text, binary)
        detail = {"files": str(len(text) + len(binary))}
        substituted = _substituted(text)
        if substituted:
            detail["warning"] = (
                f"led/notice.txt: {len(substituted)} character(s) not in "
                f"{self.settings.led_encoding} shown as {_SUBSTITUTE}: "
                + ", ".join(substituted)
            )
        return Receipt(remote_id=str(root), detail=detail)

    @staticmethod
    def _write(
        folder: FolderWriter, text: dict[str, str], binary: dict[str, bytes]
    ) -> None:
        # The LED file and its preview first, then the page, the manifest, and
        # bundle.js last: a page that sees the new bundle name reloads into the new
        # page. Every file is replaced atomically (a temporary file, then a rename).
        with file_errors("cannot write the screen folder"):
            for relative, data in binary.items():
                folder.write(relative, data)
            folder.write_set(text, _text_files, last=(PAGE, ITEMS, BUNDLE))

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The folder the newest rendition (the last given) gives, written into
        `scratch` with `deliver`'s code (screens publish no checkpoints)."""
        if renditions:
            text, binary = _unpack(renditions[-1])
            self._write(FolderWriter(scratch, durable=False), text, binary)
        return OutletFolder(root=self.settings.path)

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The folder's files now, in the rendition's form."""
        root = self.settings.path
        texts = read_file_set(root, _text_files)
        if texts is None:
            return None
        binary = {
            relative: base64.b64encode((root / relative).read_bytes()).decode("ascii")
            for relative in _BINARY_FILES
            if _is_plain_file(root / relative)
        }
        return canonical_json({"files": json.loads(texts)["files"], "binary": binary})

    def inventory(self, session: requests.Session) -> set[UUID]:
        """The items `lcd/items.json` lists (on the LCD, the LED or both); none when
        it is missing or malformed (its drift is reported file by file anyway)."""
        try:
            entries = json.loads((self.settings.path / ITEMS).read_bytes())["items"]
            return {UUID(e["id"]) for e in entries}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return set()


def _unpack(rendition: Rendition) -> tuple[dict[str, str], dict[str, bytes]]:
    """The files of a screen rendition; PermanentDeliveryError for anything but the
    outlet's own file names (renditions are stored and replayed years later)."""
    try:
        data = json.loads(rendition.data)
        text = dict(data["files"])
        binary = {
            p: base64.b64decode(b, validate=True) for p, b in data["binary"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise PermanentDeliveryError(f"not a screen rendition: {exc}") from None
    for relative in text:
        if relative not in _TEXT_FILES:
            raise PermanentDeliveryError(
                f"refusing to write {relative!r}: not a screen file"
            )
    for relative in binary:
        if relative not in _BINARY_FILES:
            raise PermanentDeliveryError(
                f"refusing to write {relative!r}: not a screen file"
            )
    return text, binary


def _substituted(text: dict[str, str]) -> list[str]:
    """`char U+XXXX` of each character the LED file shows as "□" (from items.json)."""
    try:
        listed = json.loads(text[ITEMS])["led"]["substituted"]
        return list(dict.fromkeys(f"{s['char']} {s['code']}" for s in listed))
    except (KeyError, ValueError, TypeError):
        return []


def _is_plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _text_files(root: Path) -> list[Path]:
    """The outlet's UTF-8 files in the folder; anything else there is left alone."""
    return [root / name for name in _TEXT_FILES if _is_plain_file(root / name)]
