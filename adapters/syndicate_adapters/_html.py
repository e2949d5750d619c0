"""HTML helpers shared by the page outlets (portal, kiosk).

Operator text reaches a page in exactly two ways: escaped (`esc`) or as Markdown rendered
by markdown-it with raw HTML disabled and then cleaned by nh3 against a short allow-list
(`markdown_html`). Nothing else an operator writes becomes markup.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Final

import nh3
from markdown_it import MarkdownIt

from syndicate.adapter import area_by_code
from syndicate.adapterkit import CHINA_TZ

__all__ = [
    "area_name",
    "day",
    "esc",
    "human_size",
    "markdown_html",
    "minute",
]

_MARKDOWN: Final = MarkdownIt("commonmark", {"html": False}).enable("table")

_TAGS: Final = {
    "p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a", "code", "pre", "hr",
}  # fmt: skip
_ATTRIBUTES: Final = {"a": {"href", "title"}, "ol": {"start"}}
_SCHEMES: Final = {"http", "https", "mailto"}
_HEADING = re.compile(r"<(/?)h([1-6])>")


def esc(text: str) -> str:
    """Text escaped for HTML content and double-quoted attributes."""
    return html.escape(text, quote=True)


def markdown_html(text: str) -> str:
    """Operator Markdown as safe HTML; headings start at h2 (the page title is h1)."""
    raw = _MARKDOWN.render(text)
    raw = _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 1, 6)}>", raw)
    return nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def minute(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM` in Beijing time (the PubDate form of government pages)."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def day(moment: datetime) -> str:
    """`YYYY-MM-DD` in Beijing time."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d")


def area_name(code: str) -> str:
    """The Chinese name of a pilot area code."""
    return area_by_code(code).name


def human_size(size: int) -> str:
    """A byte count as people read it (1.2 MB)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
