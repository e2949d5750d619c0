"""`noticeboard`: printable A4 sheets (PDF) for a 政务公开栏, put up by a person.

Each delivery becomes one sheet in the outlet's folder, named
`<index no>-<item id prefix>-v<version>-<post|replace|takedown>.pdf`:

- **post** (张贴): title, 发布机构, 索引号, 发布日期, 公示期 (起止日期), the body, a QR code to the
  item's portal page (`{portal_url}/items/{item_id}.html`, the page the portal adapter
  writes), the 监督电话 line, and the content hash (sha256) in small type;
- **replace** (更正): the same, headed 更正 with the 更正说明 and which earlier version it
  replaces (a board cannot edit a sheet in place: the old one comes down, this goes up);
- **takedown** (撤除通知): which notice was withdrawn and when, with the public note.

What a board shows is what a person put up, so a sheet refers only to sheets whose posting
was attested (`job.previous`): a revision of an item whose earlier sheet was never posted
is a plain posting (not "替换第1版"), and a withdrawal of an item none of whose sheets
was posted prints nothing: the delivery removes the unposted sheets of the item from the
print folder and succeeds without waiting for a person (`detail["attestation"] == "none"`).

Rendering is pure and byte-for-byte reproducible: every date printed or stored in the PDF
metadata comes from the item's events (never the wall clock), WeasyPrint writes no random
file identifier, the QR code is a PNG drawn by segno, and nothing is fetched (only `data:`
URLs resolve). The fonts ship with syndicate (`_fonts`: Noto Serif SC for text, Noto Sans
SC for headings, from a PyPI package), so no system font is needed; an office's own font
files (`body_font`, `heading_font`) come first where configured. Each sheet embeds only
the glyphs it uses, and a sheet with a character no font can print is refused rather than
printed with an empty box. Operator text is escaped; the body's Markdown becomes headings,
paragraphs, lists and tables only, sanitised with nh3.

A printed sheet cannot be read back from the board, so the outlet declares
`needs_attestation`: the delivery waits until `syndicate attest` records who put it up.
`read_back` returns the sheet now in the folder, to compare with a fresh render.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from string import Template
from typing import ClassVar, Protocol

import nh3
import requests
import segno
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ItemView,
    Operation,
    ReadsBack,
    Receipt,
    Rendition,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    BaseAdapter,
    FolderWriter,
    file_errors,
    refuse_review_notice,
)
from syndicate.errors import PermanentDeliveryError
from syndicate_adapters._fonts import (
    FontFile,
    FontUnavailable,
    bundled_sans,
    bundled_serif,
    checked_font,
    font_file,
    uncovered,
)

__all__ = [
    "NoticeboardAdapter",
    "NoticeboardSettings",
    "SheetFont",
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
    body_font: Path | None = Field(
        default=None,
        description="A font file (.ttf, .otf, .ttc) for the text, e.g. an office's "
        "仿宋_GB2312; characters it lacks fall back to Noto Serif SC, which ships "
        "with syndicate (the default).",
    )
    heading_font: Path | None = Field(
        default=None,
        description="A font file for the title, e.g. 方正小标宋简体; characters it "
        "lacks fall back to Noto Sans SC, which ships with syndicate (the default).",
    )

    @field_validator("body_font", "heading_font")
    @classmethod
    def _readable_font(cls, value: Path | None) -> Path | None:
        return checked_font(value)


# -- what goes on a sheet ----------------------------------------------------------------


_SHEET_FILE = re.compile(r"-v(\d+)-(?:post|replace|takedown)\.pdf$")


def posted_versions(job: DeliveryJob) -> list[int]:
    """The item's earlier versions whose sheet was put up on this board (attested),
    oldest first, from the receipts the job carries."""
    found = []
    for receipt in job.previous:
        match = _SHEET_FILE.search(receipt.get("file", ""))
        if match and receipt.get("sheet") != "takedown":
            found.append(int(match.group(1)))
    return sorted(found)


def sheet_kind(job: DeliveryJob) -> str:
    """`post`, `replace` (更正), `takedown` (撤除), or `none` (nothing to print).

    A board changes only what a person put up: a revision replaces a posted sheet (else
    it is a posting), a withdrawal takes one down (else there is nothing to print)."""
    posted = bool(posted_versions(job))
    if job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
        return "takedown" if posted else "none"
    if job.operation in (Operation.CORRECTION, Operation.UPDATE) and posted:
        return "replace"
    return "post"


def _file_stem(job: DeliveryJob) -> str:
    item = job.item
    safe = re.sub(r"[^A-Za-z0-9-]+", "_", item.content.index_no).strip("_-")
    safe = safe[:64] or "item"
    # Index numbers are unique per agency only: the item id prefix keeps names apart.
    return f"{safe}-{str(item.item_id)[:8]}"


def sheet_name(job: DeliveryJob) -> str:
    """The sheet's file name; plain ASCII, unique per item version and kind."""
    return f"{_file_stem(job)}-v{job.item.version}-{sheet_kind(job)}.pdf"


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


# Font families of a sheet: the office's own file first where configured, then the font
# that ships with syndicate (see `_fonts`). The names are syndicate's own, so a system font
# of the same family can never stand in for the pinned file.
BODY_FAMILIES = ("Sheet Body", "Syndicate Noto Serif SC")
HEADING_FAMILIES = ("Sheet Heading", "Syndicate Noto Sans SC")


def _families(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


_CSS = Template("""
@page {
  size: A4 portrait;
  margin: 18mm 18mm 20mm 18mm;
  @bottom-center {
    content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
    font-family: $body;
    font-size: 8pt;
    color: #555;
  }
}
html { font-family: $body; font-size: 12pt;
  line-height: 1.6; color: #000; }
body { margin: 0; }
.board { font-size: 10pt; color: #333;
  border-bottom: 1.5pt solid #b00; padding-bottom: 2mm; margin-bottom: 5mm; }
.board .kind { float: right; font-family: $heading; color: #b00; }
h1 { font-family: $heading; font-size: 20pt; font-weight: normal;
  text-align: center; line-height: 1.4; margin: 2mm 0 5mm 0; }
table.meta { border-collapse: collapse; width: 100%; font-size: 10.5pt;
  margin-bottom: 5mm; }
table.meta th { font-weight: normal; color: #333;
  text-align: left; white-space: nowrap; width: 24mm; padding: 0.6mm 2mm 0.6mm 0;
  vertical-align: top; }
table.meta td { padding: 0.6mm 0; }
.notice { border: 1pt solid #b00; padding: 3mm 4mm; margin-bottom: 5mm; }
.notice p { margin: 0 0 1mm 0; }
.body p { text-indent: 2em; margin: 0 0 2mm 0; }
.body h1, .body h2, .body h3, .body h4, .body h5, .body h6 { font-family: $heading;
  font-size: 13pt; font-weight: normal; text-align: left; margin: 3mm 0 1mm 0; }
strong, th { font-family: $heading; font-weight: normal; }
.body table { border-collapse: collapse; margin: 2mm 0; font-size: 10.5pt; }
.body th, .body td { border: 0.5pt solid #444; padding: 1mm 2mm; }
/* The signature and the QR/posting block stay with the end of the text: never alone
   on a page of their own. */
.signature { text-align: right; margin-top: 8mm; break-before: avoid;
  break-inside: avoid; }
.signature p { margin: 0; }
.footer { margin-top: 8mm; border-top: 0.5pt solid #888; padding-top: 3mm;
  font-size: 9pt; break-before: avoid; break-inside: avoid; }
.qr { float: left; width: 30mm; margin-right: 5mm; text-align: center; }
.qr img { width: 30mm; height: 30mm; image-rendering: pixelated; display: block; }
.qr p { margin: 1mm 0 0 0; font-size: 8pt; }
.footer p { margin: 0 0 1mm 0; }
.url, .hash { font-size: 7pt; color: #333; word-break: break-all; }
.posting { margin-top: 3mm; }
.clear { clear: both; }
""")
_STYLE = _CSS.substitute(
    body=_families(BODY_FAMILIES), heading=_families(HEADING_FAMILIES)
)


def _meta_rows(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="meta">{cells}</table>'


def _release_number(item: ItemView, version: int) -> int:
    """Which release of the item `version` is (1, 2, …), as the public counts them;
    without review the same as the version."""
    released = [r.version for r in item.history if r.version <= version]
    return len(released) or version


def _replaced(job: DeliveryJob) -> tuple[int, datetime | None]:
    """The posted version this one replaces on the board, and when that one was made."""
    old = posted_versions(job)[-1]
    made = [r.at for r in job.item.history if r.version == old]
    return old, made[0] if made else None


def sheet_html(job: DeliveryJob, settings: NoticeboardSettings) -> str:
    """The sheet as an HTML document (every piece of item text escaped)."""
    item = job.item
    c = item.content
    kind = sheet_kind(job)
    if kind == "none":
        raise ValueError("nothing to print: no sheet of this item was posted")
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
        erased = item.erased is not None and not item.withdrawn
        meta.append(("撤除日期" if erased else "撤回日期", _day(item.updated_at)))
        if period:
            meta.append(("原公示期", period))
        parts.append(f"<h1>{title}</h1>")
        if item.erased is not None and not item.withdrawn:
            # Personal data erased: the posted notice (with its list) comes down.
            parts.append(
                '<div class="notice">'
                f"<p>《{esc(c.title)}》所附个人信息已按规定删除，原张贴的公告及名单"
                "自即日起从本公开栏撤除。</p>"
                f"<p>说明：{esc(item.erased)}</p></div>"
            )
        else:
            parts.append(
                '<div class="notice">'
                f"<p>《{esc(c.title)}》已于{_day(item.updated_at)}撤回，"
                "自即日起从本公开栏撤除。</p>"
                + (
                    f"<p>撤回说明：{esc(item.public_note)}</p>"
                    if item.public_note
                    else ""
                )
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
        meta.append(("公开依据", c.basis or ""))
        parts.append(f"<h1>{esc(title)}</h1>")
        if kind == "replace":
            old, made = _replaced(job)
            when = f"（{_day(made)}）" if made else ""
            parts.append(
                '<div class="notice">'
                f"<p>更正说明：{esc(item.reason or '内容有更新。')}</p>"
                f"<p>本页为第{_release_number(item, item.version)}版，替换第"
                f"{_release_number(item, old)}版{when}。</p>"
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
        f'<p class="hash">第{_release_number(item, item.version)}版 · '
        f"交付编号：{job.delivery_id}</p>"
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
        f"<style>{_STYLE}</style></head><body>"
        f'<div class="board">{esc(settings.board_name)}'
        f'<span class="kind">{label}</span></div>' + "".join(parts) + "</body></html>"
    )


class SheetFont(BaseModel):
    """One font family a sheet's CSS names, and the file that provides it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    family: str
    font: FontFile


class _OfficeFonts(Protocol):
    """Settings naming an office's own font files (the notice board's, the 公报's)."""

    @property
    def body_font(self) -> Path | None: ...

    @property
    def heading_font(self) -> Path | None: ...


def sheet_fonts(settings: _OfficeFonts) -> tuple[SheetFont, ...]:
    """The families `BODY_FAMILIES` and `HEADING_FAMILIES` name, for these settings
    (any with `body_font` and `heading_font`: the 政府公报 uses it too).

    Raises PermanentDeliveryError (code "font") if a font cannot be read."""
    try:
        fonts = [
            SheetFont(family=BODY_FAMILIES[1], font=bundled_serif()),
            SheetFont(family=HEADING_FAMILIES[1], font=bundled_sans()),
        ]
        if settings.body_font is not None:
            fonts.append(
                SheetFont(family=BODY_FAMILIES[0], font=font_file(settings.body_font))
            )
        if settings.heading_font is not None:
            fonts.append(
                SheetFont(
                    family=HEADING_FAMILIES[0], font=font_file(settings.heading_font)
                )
            )
    except FontUnavailable as exc:
        raise PermanentDeliveryError(str(exc), code="font") from None
    return tuple(fonts)


# Text WeasyPrint draws that is not in the document: the page counter (@page) and list
# markers (• ◦ ▪ for nested lists, "1." for numbered ones). A subset without them would
# send the renderer to whatever system font has them.
_GENERATED_TEXT = "第页共/0123456789.•◦▪"
_STYLE_OR_TITLE = re.compile(r"<(style|title)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def visible_text(document: str) -> str:
    """The characters a sheet prints: its text without markup, plus the page counter."""
    text = html.unescape(_TAG.sub(" ", _STYLE_OR_TITLE.sub(" ", document)))
    return text + _GENERATED_TEXT


def _font_faces(fonts: Sequence[SheetFont], text: str) -> str:
    """`@font-face` rules embedding each font cut down to `text` (as data: URLs)."""
    rules = []
    for face in fonts:
        data = base64.b64encode(face.font.subset(text)).decode("ascii")
        rules.append(
            f'@font-face {{ font-family: "{face.family}"; '
            f'src: url("data:font/otf;base64,{data}"); }}'
        )
    return "\n".join(rules)


class _DropSubsetNotice(logging.Filter):
    """WeasyPrint logs, per font, that it subsets with fontTools when the system has no
    HarfBuzz-Subset library. Our fonts come cut to size already (see `_fonts`), so the
    notice says nothing an operator can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "HarfBuzz-Subset" not in record.getMessage()


_QUIET = _DropSubsetNotice()


def _weasyprint() -> tuple[type, type, type, type]:
    """WeasyPrint's HTML, CSS, FontConfiguration and URLFetcher, imported on first use.

    Imported here, not with the module: a machine without Pango still runs every other
    outlet and command. WeasyPrint warns at import that HarfBuzz-Subset "will be
    required by future versions" when the system lacks it; the pinned range does not
    require it, and that warning must not reach operators (or fail a test run)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*HarfBuzz-Subset", category=DeprecationWarning
            )
            warnings.filterwarnings("ignore", message=".*Expect ugly output")
            from weasyprint import CSS, HTML
            from weasyprint.text.fonts import FontConfiguration
            from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PermanentDeliveryError(
            "the noticeboard outlet needs the Pango library to draw its sheets (on "
            "Debian or Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0); "
            f"every other outlet works without it ({first})",
            code="system-library",
        ) from None
    logging.getLogger("weasyprint").addFilter(_QUIET)
    return HTML, CSS, FontConfiguration, URLFetcher


_RENDERING = threading.Lock()


@contextlib.contextmanager
def _reproducible() -> Iterator[None]:
    """The same sheet gives the same bytes on every machine and every run.

    WeasyPrint cuts each embedded font to the glyphs a page uses, with the system's
    HarfBuzz-Subset library where there is one, else with fontTools. The two give
    different bytes, and fontTools stamps the font with the current time. So, while a
    sheet is written, fontTools is used everywhere and its clock is fixed (the
    reproducible-builds variable SOURCE_DATE_EPOCH, which fontTools reads); both are put
    back afterwards. One sheet at a time per process, since both are process-wide."""
    import weasyprint.pdf.fonts as pdf_fonts

    with _RENDERING:
        saved_epoch = os.environ.get("SOURCE_DATE_EPOCH")
        saved_subset = pdf_fonts.harfbuzz_subset
        os.environ["SOURCE_DATE_EPOCH"] = "0"
        pdf_fonts.harfbuzz_subset = None
        try:
            yield
        finally:
            pdf_fonts.harfbuzz_subset = saved_subset
            if saved_epoch is None:
                os.environ.pop("SOURCE_DATE_EPOCH", None)
            else:
                os.environ["SOURCE_DATE_EPOCH"] = saved_epoch


def render_pdf(document: str, fonts: Sequence[SheetFont]) -> bytes:
    """PDF bytes of a sheet's HTML with `fonts`; reproducible (no identifier, the fonts
    cut to the sheet's characters).

    Raises PermanentDeliveryError: code "font" if the text has characters none of the
    fonts can draw (they would print as empty boxes), "system-library" without Pango.
    """
    text = visible_text(document)
    missing = uncovered(text, tuple(face.font for face in fonts))
    if missing:
        shown = "、".join(f"{ch} (U+{ord(ch):04X})" for ch in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise PermanentDeliveryError(
            f"no font can print {shown}{more}: they would be empty boxes on paper; "
            "set the outlet's body_font (or heading_font) to a font file that has them",
            code="font",
        )
    html_class, css_class, font_configuration, url_fetcher = _weasyprint()
    # Only data: URLs (the fonts, the QR code) load; nothing from disk or network.
    fetcher = url_fetcher(allowed_protocols={"data"})
    with _reproducible(), warnings.catch_warnings():
        # Said when the system has no fonts at all; the sheet brings its own.
        warnings.filterwarnings("ignore", message=".*Expect ugly output")
        config = font_configuration()
        faces = css_class(
            string=_font_faces(fonts, text), font_config=config, url_fetcher=fetcher
        )
        rendered = html_class(string=document, url_fetcher=fetcher).render(
            stylesheets=[faces], font_config=config
        )
        pdf: bytes = rendered.write_pdf(pdf_identifier=False)
    # Embedded names look like b"/LWGGBP+Syndicate-Noto-Serif-SC" (a subset tag, then
    # the family): a sheet drawn in any other font is not the sheet we mean to print.
    ours = {face.family.replace(" ", "-") for face in fonts}
    used = {
        bytes(font.name).decode("ascii", "replace").split("+")[-1]
        for font in rendered.fonts.values()
    }
    strangers = sorted(used - ours)
    if strangers or not used:
        raise PermanentDeliveryError(
            "the sheet would print in fonts syndicate did not choose: "
            + (", ".join(strangers) or "none"),
            code="font",
        )
    return pdf


class NoticeboardAdapter(BaseAdapter[NoticeboardSettings], ReadsBack):
    """One PDF sheet per delivery in a print folder; a person posts it and attests."""

    kind: ClassVar[str] = "noticeboard"
    label: ClassVar[str | None] = "政务公开栏"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,  # a revision is a replacement sheet (更正)
        retracts=True,  # a withdrawal is a take-down sheet (撤除通知)
        deduplicates=True,  # writing the same file again changes nothing
        reads_back=True,  # the sheet in the folder, not what is on the board
        needs_attestation=True,  # only a person can say it is up
    )

    def __init__(self, settings: BaseModel) -> None:
        super().__init__(settings)
        self._fonts: tuple[SheetFont, ...] | None = None

    @property
    def fonts(self) -> tuple[SheetFont, ...]:
        """The sheet's fonts, read on first use (a few MB: not at configuration load)."""
        if self._fonts is None:
            self._fonts = sheet_fonts(self.settings)
        return self._fonts

    def render(self, job: DeliveryJob) -> Rendition:
        """The sheet's PDF bytes; `meta` names the file and the kind of sheet."""
        refuse_review_notice(job, self.kind)
        kind = sheet_kind(job)
        if kind == "none":
            # Withdrawn before any sheet went up: nothing to print; the delivery clears
            # the item's unposted sheets out of the print folder.
            return Rendition.of(
                b"",
                MEDIA_TYPE,
                key=str(job.delivery_id),
                meta={
                    "sheet": "none",
                    "clear": _file_stem(job),
                    "below": str(job.item.version),
                },
            )
        return Rendition.of(
            render_pdf(sheet_html(job, self.settings), self.fonts),
            MEDIA_TYPE,
            key=str(job.delivery_id),
            meta={"file": sheet_name(job), "sheet": kind},
        )

    @property
    def _folder(self) -> FolderWriter:
        return FolderWriter(self.settings.path)

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Write the sheet to the folder atomically (unchanged bytes: left alone).

        A rendition with nothing to print (`sheet` "none") removes the item's earlier
        sheets from the folder instead (none was posted), and its receipt says no
        attestation is needed."""
        if rendition.meta.get("sheet") == "none":
            return self._clear(rendition)
        name = rendition.meta.get("file", "")
        folder = self._folder
        target = folder.file(name)
        with file_errors(f"cannot write {target}"):
            written = folder.write(name, rendition.data)
        action = "written" if written else "unchanged"
        return Receipt(
            remote_id=str(target),
            detail={
                "file": name,
                "sheet": rendition.meta.get("sheet", ""),
                "action": action,
            },
        )

    def _clear(self, rendition: Rendition) -> Receipt:
        stem = rendition.meta.get("clear", "")
        below = int(rendition.meta.get("below", "0") or 0)
        if not re.fullmatch(r"[A-Za-z0-9_-]+-[0-9a-f]{8}", stem):
            raise PermanentDeliveryError(f"refusing to clear sheets named {stem!r}")
        removed = []
        root = self.settings.path
        with file_errors(f"cannot clear unposted sheets in {root}"):
            for path in sorted(root.glob(f"{stem}-v*.pdf")) if root.is_dir() else []:
                match = _SHEET_FILE.search(path.name)
                earlier = match is not None and int(match.group(1)) < below
                if earlier and self._folder.remove(path.name):
                    removed.append(path.name)
        return Receipt(
            remote_id=str(root),
            detail={
                "sheet": "none",
                "attestation": "none",
                "removed": " ".join(removed),
            },
        )

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The sheet now in the folder for this job, or None if there is none."""
        if sheet_kind(job) == "none":
            return None
        target = self._folder.file(sheet_name(job))
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError:
            return None
