"""`noticeboard`: printable A4 sheets (PDF) for a 政务公开栏, put up by a person.

Each delivery becomes one sheet in the outlet's folder, named
`<index no>-<item id prefix>-v<version>-<post|replace|takedown>.pdf`:

- **post** (张贴): title, 发布机构, 索引号, 发布日期, 公示期 (起止日期), the body, a QR code to the
  item's portal page (`{portal_url}/items/{item_id}.html`, the page the portal adapter
  writes), the 监督电话 line, and the content hash (sha256) in small type;
- **replace** (更正): the same, headed 更正 with the 更正说明 and which earlier version it
  replaces (a board cannot edit a sheet in place: the old one comes down, this goes up);
- **takedown** (撤除通知): which notice was withdrawn and when, with the public note.

Rendering is pure and byte-for-byte reproducible: every date printed or stored in the PDF
metadata comes from the item's events (never the wall clock), WeasyPrint writes no random
file identifier, the QR code is a PNG drawn by segno, fonts are found by fontconfig
(Debian's `fonts-noto-cjk`: Noto Serif CJK SC, Noto Sans CJK SC) and embedded as subsets,
and nothing is fetched (only `data:` URLs resolve). Operator text is escaped; the body's
Markdown becomes headings, paragraphs, lists and tables only, sanitised with nh3.

A printed sheet cannot be read back from the board, so the outlet declares
`needs_attestation`: the delivery waits until `syndicate attest` records who put it up.
`read_back` returns the sheet now in the folder, to compare with a fresh render.
"""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

import nh3
import requests
import segno
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ItemView,
    Operation,
    Receipt,
    Rendition,
)
from syndicate.domain.base import CHINA_TZ
from syndicate.errors import PermanentDeliveryError, TransientDeliveryError
from syndicate.fsutil import write_atomically

__all__ = [
    "NoticeboardAdapter",
    "NoticeboardSettings",
    "body_html",
    "item_url",
    "qr_code",
    "render_pdf",
    "sheet_html",
    "sheet_kind",
    "sheet_name",
]

MEDIA_TYPE = "application/pdf"

# One printed line of operator configuration: no control characters.
_ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f]+$"


class NoticeboardSettings(BaseModel):
    """`[outlets.NAME]` settings of a notice board."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(
        description="Folder the sheets (PDF) are written to, for printing."
    )
    portal_url: str = Field(
        pattern=r"^https://[^\s\"'<>\\]+$",
        description="https base URL of the portal; the QR code opens "
        "{portal_url}/items/{item id}.html.",
    )
    board_name: str = Field(
        default="政务公开栏",
        min_length=1,
        max_length=40,
        pattern=_ONE_LINE,
        description="The board's name, printed at the top of every sheet "
        "(e.g. 村务公开栏).",
    )
    contact: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=_ONE_LINE,
        description="Printed as 监督电话：… (a phone number for questions and "
        "complaints).",
    )


# -- what goes on a sheet ----------------------------------------------------------------


def sheet_kind(operation: Operation) -> str:
    """`post`, `replace` (更正) or `takedown` (撤除) for a planned operation."""
    if operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
        return "takedown"
    if operation in (Operation.CORRECTION, Operation.UPDATE):
        return "replace"
    return "post"


def sheet_name(job: DeliveryJob) -> str:
    """The sheet's file name; plain ASCII, unique per item version and kind."""
    item = job.item
    safe = re.sub(r"[^A-Za-z0-9-]+", "_", item.content.index_no).strip("_-")
    safe = safe[:64] or "item"
    # Index numbers are unique per agency only: the item id prefix keeps names apart.
    kind = sheet_kind(job.operation)
    return f"{safe}-{str(item.item_id)[:8]}-v{item.version}-{kind}.pdf"


def item_url(portal_url: str, item: ItemView) -> str:
    """The item's page on the portal (the path the portal adapter writes)."""
    return f"{portal_url.rstrip('/')}/items/{item.item_id}.html"


def qr_code(url: str) -> segno.QRCode:
    """The QR code printed on the sheet (medium error correction, for worn paper)."""
    return segno.make(url, error="m", micro=False)


def _qr_png(url: str) -> bytes:
    # One pixel per module, quiet zone included; CSS scales it without smoothing.
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=1, border=4)
    return out.getvalue()


def _day(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = moment.astimezone(CHINA_TZ).date()
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _w3c(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_BODY_TAGS = {
    "p",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "blockquote",
    "code",
    "pre",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


def body_html(markdown: str) -> str:
    """Operator Markdown as safe HTML: raw HTML is escaped, then a tag allow-list applies.

    Links and images have no place on paper: their text stays, the markup goes.
    """
    rendered = _MARKDOWN.render(markdown)
    return nh3.clean(
        rendered,
        tags=_BODY_TAGS,
        clean_content_tags={"script", "style"},
        attributes={},
        url_schemes=set(),
        strip_comments=True,
        link_rel=None,
    )


_CSS = """
@page {
  size: A4 portrait;
  margin: 18mm 18mm 20mm 18mm;
  @bottom-center {
    content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
    font-family: "Noto Serif CJK SC", "Noto Sans CJK SC";
    font-size: 8pt;
    color: #555;
  }
}
html { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC"; font-size: 12pt;
  line-height: 1.6; color: #000; }
body { margin: 0; }
.board { font-size: 10pt; color: #333;
  border-bottom: 1.5pt solid #b00; padding-bottom: 2mm; margin-bottom: 5mm; }
.board .kind { float: right; font-weight: bold; color: #b00; }
h1 { font-size: 20pt; font-weight: bold; text-align: center; line-height: 1.4;
  margin: 2mm 0 5mm 0; }
table.meta { border-collapse: collapse; width: 100%; font-size: 10.5pt;
  margin-bottom: 5mm; }
table.meta th { font-weight: normal; color: #333;
  text-align: left; white-space: nowrap; width: 24mm; padding: 0.6mm 2mm 0.6mm 0;
  vertical-align: top; }
table.meta td { padding: 0.6mm 0; }
.notice { border: 1pt solid #b00; padding: 3mm 4mm; margin-bottom: 5mm; }
.notice p { margin: 0 0 1mm 0; }
.body p { text-indent: 2em; margin: 0 0 2mm 0; }
.body h1, .body h2, .body h3, .body h4, .body h5, .body h6 { font-size: 13pt;
  text-align: left; margin: 3mm 0 1mm 0; }
.body table { border-collapse: collapse; margin: 2mm 0; font-size: 10.5pt; }
.body th, .body td { border: 0.5pt solid #444; padding: 1mm 2mm; }
.signature { text-align: right; margin-top: 8mm; }
.signature p { margin: 0; }
.footer { margin-top: 8mm; border-top: 0.5pt solid #888; padding-top: 3mm;
  font-size: 9pt; break-inside: avoid; }
.qr { float: left; width: 30mm; margin-right: 5mm; text-align: center; }
.qr img { width: 30mm; height: 30mm; image-rendering: pixelated; display: block; }
.qr p { margin: 1mm 0 0 0; font-size: 8pt; }
.footer p { margin: 0 0 1mm 0; }
.url, .hash { font-size: 7pt; color: #333; word-break: break-all; }
.posting { margin-top: 3mm; }
.clear { clear: both; }
"""


def _meta_rows(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="meta">{cells}</table>'


def _replaced(item: ItemView) -> tuple[int, datetime | None]:
    """The version this one replaces on the board, and when that one was made."""
    earlier = [
        r for r in item.history if r.version < item.version and r.event != "Withdrawn"
    ]
    if earlier:
        return earlier[-1].version, earlier[-1].at
    return item.version - 1, None


def sheet_html(job: DeliveryJob, settings: NoticeboardSettings) -> str:
    """The sheet as an HTML document (every piece of item text escaped)."""
    item = job.item
    c = item.content
    kind = sheet_kind(job.operation)
    esc = html.escape
    url = item_url(settings.portal_url, item)
    qr = base64.b64encode(_qr_png(url)).decode("ascii")
    label = {"post": "公告", "replace": "更正", "takedown": "撤除通知"}[kind]
    period = (
        f"{_day(c.notice_period.start)} 至 {_day(c.notice_period.end)}"
        if c.notice_period
        else None
    )
    meta: list[tuple[str, str]] = [("发布机构", c.agency), ("索引号", c.index_no)]
    if c.doc_no:
        meta.append(("发文字号", c.doc_no))
    parts: list[str] = []
    if kind == "takedown":
        title = "撤除通知"
        meta.append(("原发布日期", _day(item.published_at)))
        meta.append(("撤回日期", _day(item.updated_at)))
        if period:
            meta.append(("原公示期", period))
        parts.append(f"<h1>{title}</h1>")
        parts.append(
            '<div class="notice">'
            f"<p>《{esc(c.title)}》已于{_day(item.updated_at)}撤回，"
            "自即日起从本公开栏撤除。</p>"
            + (f"<p>撤回说明：{esc(item.public_note)}</p>" if item.public_note else "")
            + "</div>"
        )
        parts.append(_meta_rows(meta))
        posting = "张贴说明：撤下原张贴的公告，在原处张贴本通知。"
    else:
        title = c.title
        meta.append(("发布日期", _day(item.published_at)))
        if kind == "replace":
            meta.append(("更正日期", _day(item.updated_at)))
        if period:
            meta.append(("公示期", period))
        meta.append(("公开依据", c.basis))
        parts.append(f"<h1>{esc(title)}</h1>")
        if kind == "replace":
            old, made = _replaced(item)
            when = f"（{_day(made)}）" if made else ""
            parts.append(
                '<div class="notice">'
                f"<p>更正说明：{esc(item.reason or '内容有更新。')}</p>"
                f"<p>本页为第{item.version}版，替换第{old}版{when}。</p>"
                "</div>"
            )
        parts.append(_meta_rows(meta))
        parts.append(f'<div class="body">{body_html(c.body)}</div>')
        posting = (
            "张贴说明：撤下本事项的旧版后张贴本页。"
            if kind == "replace"
            else "张贴说明：张贴于本公开栏。"
        )
    parts.append(
        '<div class="signature">'
        f"<p>{esc(c.agency)}</p><p>{_day(item.updated_at)}</p>"
        "</div>"
    )
    contact = f"<p>监督电话：{esc(settings.contact)}</p>" if settings.contact else ""
    parts.append(
        '<div class="footer">'
        f'<div class="qr"><img src="data:image/png;base64,{qr}" alt="二维码">'
        "<p>扫码查看网上原文</p></div>"
        f'<p class="url">网上原文：{esc(url)}</p>'
        f"{contact}"
        f'<p class="hash">内容哈希（SHA-256）：{item.content_hash}</p>'
        f'<p class="hash">第{item.version}版 · 交付编号：{job.delivery_id}</p>'
        f'<p class="posting">{posting}</p>'
        "<p>张贴人：__________　张贴日期：__________</p>"
        '<div class="clear"></div></div>'
    )
    head_title = f"{label}：{c.title}" if kind != "post" else c.title
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc(head_title)}</title>"
        f'<meta name="author" content="{esc(c.agency)}">'
        # PDF dates come from the item's events: the same job gives the same bytes.
        f'<meta name="dcterms.created" content="{_w3c(item.published_at)}">'
        f'<meta name="dcterms.modified" content="{_w3c(item.updated_at)}">'
        f"<style>{_CSS}</style></head><body>"
        f'<div class="board">{esc(settings.board_name)}'
        f'<span class="kind">{label}</span></div>' + "".join(parts) + "</body></html>"
    )


CJK_FONTS = ("Noto-Serif-CJK-SC", "Noto-Sans-CJK-SC")


def render_pdf(document: str) -> bytes:
    """PDF bytes of a sheet's HTML; reproducible (no identifier, fonts subset).

    WeasyPrint is imported here, not with the module: a machine without Pango can still
    run every other outlet and command. A sheet whose text would fall back to a font
    without Chinese glyphs is refused rather than printed as empty boxes.
    """
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:
        raise PermanentDeliveryError(
            "the noticeboard outlet needs WeasyPrint and the Pango library "
            f"(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}",
            code="weasyprint",
        ) from None
    # Only the sheet's own data: URL (the QR code) loads; nothing from disk or network.
    fetcher = URLFetcher(allowed_protocols={"data"})
    rendered = HTML(string=document, url_fetcher=fetcher).render()
    pdf: bytes = rendered.write_pdf(pdf_identifier=False)
    # Embedded names look like b"/LWGGBP+Noto-Serif-CJK-SC" (a subset tag, then the font).
    used = sorted(
        {
            bytes(font.name).decode("ascii", "replace").split("+")[-1]
            for font in rendered.fonts.values()
        }
    )
    if not any(name.startswith(CJK_FONTS) for name in used):
        raise PermanentDeliveryError(
            "font Noto Serif CJK SC was not found, so Chinese text would print as "
            "empty boxes (Debian: apt-get install fonts-noto-cjk); fonts used: "
            + (", ".join(used) or "none"),
            code="font",
        )
    return pdf


class NoticeboardAdapter:
    """One PDF sheet per delivery in a print folder; a person posts it and attests."""

    kind: ClassVar[str] = "noticeboard"
    Settings: ClassVar[type[BaseModel]] = NoticeboardSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,  # a revision is a replacement sheet (更正)
        retracts=True,  # a withdrawal is a take-down sheet (撤除通知)
        deduplicates=True,  # writing the same file again changes nothing
        reads_back=True,  # the sheet in the folder, not what is on the board
        needs_attestation=True,  # only a person can say it is up
    )

    def __init__(self, settings: BaseModel) -> None:
        if not isinstance(settings, NoticeboardSettings):
            raise TypeError("NoticeboardAdapter needs NoticeboardSettings")
        self.settings = settings

    def render(self, job: DeliveryJob) -> Rendition:
        """The sheet's PDF bytes; `meta` names the file and the kind of sheet."""
        return Rendition.of(
            render_pdf(sheet_html(job, self.settings)),
            MEDIA_TYPE,
            key=str(job.delivery_id),
            meta={"file": sheet_name(job), "sheet": sheet_kind(job.operation)},
        )

    def _target(self, name: str) -> Path:
        root = self.settings.path
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise PermanentDeliveryError(f"refusing to write file name {name!r}")
        target = (root / name).resolve()
        if not target.is_relative_to(root.resolve()):
            raise PermanentDeliveryError(f"refusing to write outside {root}")
        return target

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Write the sheet to the folder atomically (unchanged bytes: left alone)."""
        name = rendition.meta.get("file", "")
        target = self._target(name)
        try:
            if target.is_file() and target.read_bytes() == rendition.data:
                action = "unchanged"
            else:
                write_atomically(target, rendition.data)
                action = "written"
        except PermissionError as exc:
            raise PermanentDeliveryError(
                f"cannot write {target}: permission denied", code="EACCES"
            ) from exc
        except OSError as exc:
            raise TransientDeliveryError(
                f"cannot write {target}: {exc.strerror}", code=str(exc.errno)
            ) from exc
        return Receipt(
            remote_id=str(target),
            detail={
                "file": name,
                "sheet": rendition.meta.get("sheet", ""),
                "action": action,
            },
        )

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The sheet now in the folder for this job, or None if there is none."""
        target = self._target(sheet_name(job))
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError:
            return None
