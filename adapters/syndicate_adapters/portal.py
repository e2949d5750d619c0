"""`portal`: the government portal (政府门户网站) as a static site, PC and mobile.

Each delivery renders one item (pure): its catalogue entry and its article, the HTML of
the item page's main content (every catalogue element, the sanitised body, attachments
with size and sha256, the version history with each 更正说明), or a withdrawal notice.
`deliver` stores that rendition verbatim under `entries/` in the outlet's state folder (outside
the web root: `state_path`, by default the sibling folder `<web root>.syndicate`) and
re-renders only the pages that show the item:

- its own page, and the pages of the items it is linked with (a policy and its 解读, both
  directions);
- the month pages and index pages of its columns (全部, its 五公开 stage, its pilot area,
  its agency) — a column's items are filed by the month they were first published, so a
  revision touches one month page per column and a new month touches its neighbours;
- the home page, the agency list, the search shard of its month and the search index, the
  sitemap of its month and the sitemap index.

Time (docs/lifecycle.md): a document repealed (废止) or expired (已失效) keeps its page,
with a banner saying so at the top (a link to the document that replaces it) and its
时效 in the lists; a 公示 whose window ended says so in a banner, and one removed then
(`[notice] after_end = "remove"`) becomes a notice and leaves every list, as a withdrawn
item does. An entry holds the time keys only when they are set, so what was rendered
before keeps its bytes.

Every site page is a pure function of the set of stored entries, so rebuilding the whole
site from the entries (`PortalSite.rebuild`) gives the same bytes as the incremental
updates did. Files are written to a temporary name and renamed; a journal makes a delivery
interrupted half-way finish on the next one; a lock serialises concurrent workers.

`witness` publishes the audit log's signed checkpoints and the verifier key (under
`.well-known/syndicate-audit/`), the 审计检查点 page `audit/index.html` and its Atom feed
`audit/checkpoints.xml`. Those files are not derived from the entries: a rebuild leaves
them in place (it re-renders the page and the feed from the state's `witness.json`, or
writes the page with no checkpoints on a site that never had any), and needs none of them.
`inventory` lists the item pages on disk.

Attachments are published on the site's own origin (`files/<sha256>/<name>`), so an HTML
or SVG attachment served as a page would run as the site. The state folder also gets
`nginx.conf` and `apache.conf` (`server_configs`): web-server snippets that send every
attachment as a sandboxed download and the pages with security headers, the same headers
`syndicate serve` sends (`syndicate.sitehttp`).

State used to live in `<web root>/.syndicate/`, where the web server published it. A site
that still has it there moves it to the state folder the first time it is opened (one
rename; across file systems a copy renamed into place, then the old folder removed).

`expected_files` builds, in a scratch folder, the site the log's renditions and the
witnessed checkpoints give (the same code as `deliver`, with no attachment copied: they
are named as links to the attachment store), for `syndicate audit consistency` and
`syndicate repair`.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit
from uuid import UUID

import requests
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from syndicate.adapter import (
    Capabilities,
    DeliversMany,
    DeliveryJob,
    ExpectsFiles,
    ItemView,
    Operation,
    OutletFolder,
    ReadsBack,
    Receipt,
    Rendition,
    Stage,
    TakesInventory,
    WitnessedCheckpoint,
    Witnesses,
)
from syndicate.adapterkit import (
    ATTACHMENT_HEADERS,
    ATTACHMENT_TYPE,
    ATTACHMENTS,
    CHINA_TZ,
    PAGE_HEADERS,
    UUID_PATTERN,
    BaseAdapter,
    PublishedCheckpoint,
    canonical_json,
    checked_checkpoints,
    file_errors,
    fsync_dir,
    open_attachment,
    refuse_review_notice,
    remove_file,
    sync_written,
    write_file,
)
from syndicate.errors import DeliveryError, PermanentDeliveryError, StoreError
from syndicate_adapters._html import (
    area_name,
    day,
    esc,
    human_size,
    markdown_html,
    minute,
)
from syndicate_adapters.rss import CHECKPOINT_NOTES, checkpoint_feed

__all__ = ["PortalAdapter", "PortalSettings", "PortalSite"]

SCHEMA = 2
LEGACY_STATE = ".syndicate"  # the state folder inside the web root, before it moved out
AUDIT = ".well-known/syndicate-audit"
_URL = r"^https?://[^\s\"'<>]+$"
_ITEM_PAGE = re.compile(rf"{UUID_PATTERN}\.html")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
# A name the file system refuses is an attachment's: the operator renames it.
_NAME_ADVICE = (
    "rename the attachment (file systems allow 255 bytes, about 85 Chinese characters) "
    "and revise the item"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ICP = re.compile(r"[\u4e00-\u9fff]{1,3}ICP备[0-9]{4,12}号(?:-[0-9]{1,4})?")
_POLICE = re.compile(r"[\u4e00-\u9fff]{1,3}公网安备 ?([0-9]{6,20})号")
ICP_URL = "https://beian.miit.gov.cn/"
POLICE_URL = "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode="
# The national 「我为政府网站找错」 platform's page of one site (`report_error_url =
# "auto"`), as government sites link it: site_code is the 网站标识码.
REPORT_ERROR_URL = "https://zfwzgl.www.gov.cn/exposure/jiucuo.html"


def _refused(message: str) -> PydanticCustomError:
    """A settings error that reads as `message` alone (no "Value error, " before it)."""
    return PydanticCustomError(
        "portal_setting", message.replace("{", "(").replace("}", ")")
    )


def _checked_url(value: str) -> str:
    """An http(s) URL a footer or the section may link to, or ValueError saying why."""
    if _CONTROL.search(value) or re.search(r"[\s\"'<>\\]", value):
        raise _refused("must be a URL without spaces, quotes or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused("must be an http:// or https:// URL with a host")
    return value


class PortalSettings(BaseModel):
    """`[outlets.NAME]` settings of a portal outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Folder the site is written to (the web root).")
    state_path: Path | None = Field(
        default=None,
        description="Folder for the outlet's state (stored renditions, column indexes, "
        "journal, lock); never inside the web root. Default: the sibling folder "
        "`<web root>.syndicate`.",
    )
    site_url: str = Field(
        pattern=_URL,
        description="Public base URL of the site; used for the sitemap and page metadata.",
    )
    site_name: str = Field(
        default="政府信息公开", min_length=1, max_length=100, description="网站名称."
    )
    site_id_code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]{1,20}$",
        description="网站标识码 (SiteIDCode), e.g. 1304000009.",
    )
    home_count: int = Field(
        default=20, ge=1, le=200, description="Latest items on the home page."
    )
    feeds_url: str | None = Field(
        default=None,
        pattern=_URL,
        description="Public URL of the RSS feed to link from every page (an rss outlet).",
    )
    contact: str | None = Field(
        default=None,
        max_length=200,
        description="Footer line: who runs the site and how to reach them (联系方式: "
        "phone, address); also shown under 依申请公开 when `apply_url` is not set.",
    )
    host: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="主办单位, e.g. 临溪县人民政府办公室 (footer).",
    )
    icp: str | None = Field(
        default=None,
        max_length=50,
        description="ICP备案号, e.g. 浙ICP备05000001号-1 (footer, linking to "
        "https://beian.miit.gov.cn/).",
    )
    police_record: str | None = Field(
        default=None,
        max_length=50,
        description="公安机关备案号, e.g. 浙公网安备33010002000001号 (footer, linking to "
        "the national record site).",
    )
    party_mark_url: str | None = Field(
        default=None,
        max_length=500,
        description="URL of the 党政机关网站标识 record (footer link 党政机关).",
    )
    report_error_url: str | None = Field(
        default=None,
        max_length=500,
        description="「我为政府网站找错」 link (footer): a URL, or `auto` for the national "
        "platform's page of this site (needs `site_id_code`).",
    )
    apply_url: str | None = Field(
        default=None,
        max_length=500,
        description="依申请公开: URL of the application form or platform. Unset: the "
        "section says how to apply (the guide, `host`, `contact`).",
    )

    @field_validator(
        "site_name", "contact", "host", "icp", "police_record", mode="before"
    )
    @classmethod
    def _printable(cls, value: object) -> object:
        if isinstance(value, str) and _CONTROL.search(value):
            raise _refused("must not contain control characters (line breaks, tabs)")
        if isinstance(value, str) and any(
            unicodedata.category(ch) in ("Cf", "Zl", "Zp") for ch in value
        ):
            # A bidi override or zero-width character would reorder or hide what
            # every page's footer shows, as item text refuses them too.
            raise _refused(
                "must not contain invisible or direction-changing characters "
                "(zero-width spaces, bidi overrides)"
            )
        return value

    @field_validator("icp")
    @classmethod
    def _icp(cls, value: str | None) -> str | None:
        if value is not None and not _ICP.fullmatch(value):
            raise _refused(
                "must be an ICP备案号 as the MIIT record gives it, e.g. "
                "浙ICP备05000001号 or 浙ICP备05000001号-1"
            )
        return value

    @field_validator("police_record")
    @classmethod
    def _police(cls, value: str | None) -> str | None:
        if value is not None and not _POLICE.fullmatch(value):
            raise _refused(
                "must be a 公安机关备案号 as the record gives it, e.g. "
                "浙公网安备33010002000001号"
            )
        return value

    @field_validator("party_mark_url", "apply_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return None if value is None else _checked_url(value)

    @field_validator("report_error_url")
    @classmethod
    def _report_error(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if value == "auto":
            if not info.data.get("site_id_code"):
                raise _refused(
                    '"auto" builds the national 找错 link from the 网站标识码: set '
                    "site_id_code too, or give the URL"
                )
            return value
        return _checked_url(value)

    @field_validator("state_path")
    @classmethod
    def _state_outside_the_site(
        cls, value: Path | None, info: ValidationInfo
    ) -> Path | None:
        root = info.data.get("path")
        if value is None or not isinstance(root, Path):
            return value
        state, site = value.absolute(), root.absolute()
        if state.is_relative_to(site) or site.is_relative_to(state):
            raise ValueError(
                f"{state} must be outside the web root {site} (and not contain it): "
                "the web server would publish the state"
            )
        return value

    def state_folder(self) -> Path:
        """Where the state lives: `state_path`, or `<web root>.syndicate` beside it."""
        if self.state_path is not None:
            return self.state_path
        return self.path.with_name(f"{self.path.name}.syndicate")


# -- entries ------------------------------------------------------------------------------


def _plain(text: str, limit: int = 120) -> str:
    """A short plain-text summary of Markdown (for lists, search and Description)."""
    text = re.sub(r"[#>*_`|\[\]()!~-]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _agency_slug(agency: str) -> str:
    return hashlib.sha256(agency.encode("utf-8")).hexdigest()[:12]


def _entry(item: ItemView, gone: bool) -> dict[str, Any]:
    c = item.content
    return (
        {
            "id": str(item.item_id),
            "ref": item.ref,
            "version": item.version,
            "content_hash": item.content_hash,
            "title": c.title,
            "agency": c.agency,
            "index_no": c.index_no,
            "doc_no": c.doc_no,
            "stage": c.stage.value,
            "area": c.area,
            "category": c.category,
            "interprets": str(c.interprets) if c.interprets else None,
            "published_at": item.published_at.isoformat(),
            "updated_at": item.updated_at.isoformat(),
            "month": day(item.published_at)[:7],
            "withdrawn": item.withdrawn,
            # Gone: withdrawn, or no longer for this site. Its page is a notice, it leaves
            # every list, and nothing of its content is kept (no summary, no attachments).
            "gone": gone,
            "summary": "" if gone else _plain(c.body),
            "attachments": []
            if gone
            else [
                {"name": a.name, "sha256": a.sha256, "size": a.size}
                | ({"sealed": True} if a.sealed else {})
                for a in c.attachments
            ],
        }
        | _time_keys(item, gone)
        | _section_keys(item, gone)
    )


def _section_keys(item: ItemView, gone: bool) -> dict[str, Any]:
    """What files an item in the 政府信息公开 section, as entry keys: its page kind
    (and a 年报's year), its 文件类型 and its place in the catalogue tree.

    Only the keys that are set, as with the time keys: renditions made before the
    section existed keep their bytes."""
    c = item.content
    keys: dict[str, Any] = {}
    if gone:
        return keys
    if c.page_kind is not None:
        keys["page_kind"] = c.page_kind.value
        if c.page_kind == "annual_report":
            keys["report_year"] = c.formed_on.year
    if c.doc_type is not None:
        keys["doc_type"] = c.doc_type.value
    if c.catalogue_path is not None:
        nodes = _catalogue_nodes(c.catalogue_path)
        if nodes:
            keys["catalogue_path"] = nodes[-1]
    return keys


def _catalogue_nodes(path: str) -> list[str]:
    """`A/B/C` → [`A`, `A/B`, `A/B/C`]: the nodes of the tree an item is filed under."""
    parts = [p.strip() for p in path.split("/") if p.strip()]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


# The 标准目录 page shows the catalogue item's CSV as a table, up to these limits.
_TABLE_ROWS = 2000
_TABLE_COLUMNS = 30
_TABLE_CELL = 500


def _catalogue_table(job: DeliveryJob, gone: bool) -> dict[str, Any] | None:
    """The table of a 标准目录 item's first CSV attachment (media type text/csv, never
    a sealed one), read from the attachment store, for the entry; None if there is
    none. A CSV that cannot be read as text gives an entry saying so."""
    item = job.item
    c = item.content
    if gone or c.page_kind != "catalogue":
        return None
    found = next(
        (a for a in c.attachments if a.media_type == "text/csv" and not a.sealed),
        None,
    )
    if found is None:
        return None
    if job.attachments is None:
        raise PermanentDeliveryError(
            f"attachment {found.name} cannot be read for the 标准目录 page: no "
            "attachment store given"
        )
    try:
        raw = open_attachment(job.attachments, item.item_id, found.sha256, sealed=False)
    except FileNotFoundError:
        raise PermanentDeliveryError(
            f"attachment {found.name} ({found.sha256[:12]}…) is missing from the "
            f"attachment store {job.attachments}"
        ) from None
    except (ValueError, StoreError) as exc:
        raise PermanentDeliveryError(f"attachment {found.name}: {exc}") from None
    if raw is None or hashlib.sha256(raw).hexdigest() != found.sha256:
        raise PermanentDeliveryError(
            f"attachment {found.name} in the store does not match its sha256"
        )
    return {"name": found.name, "sha256": found.sha256} | _csv_rows(raw)


def _csv_rows(raw: bytes) -> dict[str, Any]:
    """`header`, `rows` (at most `_TABLE_ROWS`) and `total` of a CSV file (UTF-8, with
    or without BOM, or GB 18030 as Excel saves it in China), or `error`."""
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        return {"error": "附件不是可识别的文本表格"}
    try:
        parsed = [
            [_CONTROL.sub(" ", cell).strip()[:_TABLE_CELL] for cell in row]
            for row in csv.reader(io.StringIO(text, newline=""))
        ]
    except csv.Error:
        return {"error": "附件不是有效的 CSV 表格"}
    parsed = [row for row in parsed if any(row)]
    if not parsed:
        return {"error": "附件中没有数据"}
    width = min(max(len(row) for row in parsed), _TABLE_COLUMNS)
    header, *rows = ([*row[:width], *[""] * (width - len(row))] for row in parsed)
    return {"header": header, "rows": rows[:_TABLE_ROWS], "total": len(rows)}


# The validity labels (时效) of a document no longer in force: lists tag them.
_LAPSED = frozenset({"已废止", "已失效"})


def _time_keys(item: ItemView, gone: bool) -> dict[str, Any]:
    """What time changed of an item (docs/lifecycle.md), as entry keys.

    Only the keys that are set: an entry rendered before time marks existed keeps its
    bytes (auditors re-render old deliveries and compare hashes)."""
    keys: dict[str, Any] = {}
    if item.notice_ended is not None:
        keys["notice_ended"] = item.notice_ended
    if gone:
        return keys
    if item.content.validity is not None:
        keys["validity"] = item.content.validity.label
    if item.repealed is not None:
        keys["repealed"] = True
    if item.expired is not None:
        keys["expired"] = True
    return keys


def _lapsed(entry: Mapping[str, Any]) -> str | None:
    """The validity label a list shows next to an entry no longer in force, or None."""
    label = entry.get("validity")
    if label in _LAPSED:
        return str(label)
    if entry.get("repealed"):
        return "已废止"
    if entry.get("expired"):
        return "已失效"
    return None


def _cn_day(value: date) -> str:
    """`2026年4月1日`: a date as the notices write it."""
    return f"{value.year}年{value.month}月{value.day}日"


def _notice_window(item: ItemView) -> str:
    """`本公示公示期为A至B`, or a plain `本公示公示期` without a window."""
    period = item.content.notice_period
    if period is None:
        return "本公示公示期"
    return f"本公示公示期为{_cn_day(period.start)}至{_cn_day(period.end)}"


def _banners(item: ItemView) -> list[str]:
    """The notes at the top of a live item page that time changed: 已废止 (with a link
    to the document that replaces it), 已失效, a 解读 whose policy was repealed, and a
    公示 whose window ended."""
    found = []
    if item.repealed is not None:  # a 解读 whose policy was repealed says why itself
        link = ""
        if item.replaced_by is not None:
            text = (
                f"查看现行文件：{item.replaced_by_ref}"
                if item.replaced_by_ref
                else "查看现行文件"
            )
            link = f' <a href="{item.replaced_by}.html">{esc(text)}</a>'
        found.append(
            '<p class="banner repealed" role="note">'
            f"<strong>已废止：</strong>{esc(item.repealed)}{link}</p>"
        )
    elif item.expired is not None:
        found.append(
            '<p class="banner expired" role="note">'
            f"<strong>已失效：</strong>{esc(item.expired)}</p>"
        )
    if item.notice_ended is not None:
        hidden = (
            "公示名单及附件不再展示。" if item.notice_ended == "hide_details" else ""
        )
        found.append(
            '<p class="banner notice-ended" role="note">'
            f"<strong>公示期已结束：</strong>{esc(_notice_window(item))}，现已结束。"
            f"{hidden}</p>"
        )
    return found


def _file_href(sha256: str, name: str) -> str:
    return f"../files/{sha256}/{quote(name)}"


def _article(item: ItemView, gone: bool) -> str:
    """The item page's own content: everything the item's events say, nothing else."""
    c = item.content
    if gone:
        if item.withdrawn:
            badge, when, what = "本信息已撤回", "撤回日期", "撤回说明"
            note = item.public_note or "该信息已撤回。"
        elif item.notice_ended == "remove":  # a 公示 taken down once its window ended
            badge, when, what = "公示期已结束", "撤除日期", "说明"
            note = f"{_notice_window(item)}，现已结束，按规定不再公开。"
        else:  # still published, but no longer for this site
            badge, when, what = "本信息已不在本网站公开", "调整日期", "说明"
            note = "该信息的公开方式或范围已调整，不再在本网站公开。"
        return (
            '<article class="notice withdrawn">\n'
            f"<h1>{esc(c.title)}</h1>\n"
            f'<p class="badge">{badge}</p>\n'
            "<dl>\n"
            f"<dt>索引号</dt><dd>{esc(c.index_no)}</dd>\n"
            f"<dt>发布机构</dt><dd>{esc(c.agency)}</dd>\n"
            f"<dt>{when}</dt><dd>{minute(item.updated_at)}</dd>\n"
            f"<dt>{what}</dt><dd>{esc(note)}</dd>\n"
            "</dl>\n"
            "</article>"
        )
    rows = [
        ("索引号", c.index_no),
        ("发布机构", c.agency),
        ("发文字号", c.doc_no or "无"),
        ("主题分类", c.category or area_name(c.area)),
        ("公开领域", area_name(c.area)),
        ("五公开", c.stage.label),
        ("成文日期", c.formed_on.isoformat()),
        ("发布日期", minute(item.published_at)),
        ("更新日期", minute(item.updated_at)),
        ("公开依据", c.basis or ""),
        ("公开方式", c.attribute.label),
        ("公开对象", c.audience),
    ]
    if c.notice_period:
        rows.append(
            (
                "公示期",
                f"{c.notice_period.start.isoformat()} 至 {c.notice_period.end.isoformat()}",
            )
        )
    if c.validity is not None:
        rows.append(("时效", c.validity.label))
    if c.valid_until is not None:
        rows.append(("有效期至", c.valid_until.isoformat()))
    # The standard catalogue's elements, when the item fulfils a 事项 (items without
    # them render exactly as before).
    if c.catalogue_path is not None:
        rows.append(("所属事项", c.catalogue_path))
    if c.time_limit_days is not None:
        rows.append(("公开时限", f"信息形成或变更之日起{c.time_limit_days}个工作日内"))
    if c.doc_type is not None:
        rows.append(("文件类型", c.doc_type.label))
    if c.supervision is not None:
        rows.append(("监督投诉", c.supervision))
    meta = "\n".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    parts = [
        '<article class="item">',
        f"<h1>{esc(c.title)}</h1>",
        *_banners(item),
        '<section aria-labelledby="meta-h"><h2 id="meta-h" class="sr-only">信息索引</h2>',
        f'<dl class="meta">\n{meta}\n</dl></section>',
    ]
    if item.version > 1 and item.reason:
        parts.append(
            f'<p class="correction"><strong>更正说明：</strong>{esc(item.reason)}</p>'
        )
    parts.append(f'<div class="body">\n{markdown_html(c.body)}\n</div>')
    if c.attachments:
        links = "\n".join(
            f'<li><a href="{esc(_file_href(a.sha256, a.name))}" download>'
            f"{esc(a.name)}</a> <span>（{human_size(a.size)}）</span> "
            f'<span class="hash">SHA-256：<code>{a.sha256}</code></span></li>'
            for a in c.attachments
        )
        parts.append(
            '<section aria-labelledby="att-h"><h2 id="att-h">附件</h2>'
            f"<ul>\n{links}\n</ul></section>"
        )
    history = [r for r in item.history if r.version <= item.version]
    if history:
        lines = []
        # Numbered by release (第 1 版, 第 2 版, …), not by log event: the item's
        # review rounds are no business of the page (without review they agree).
        for number, r in enumerate(history, start=1):
            what = {
                "Published": "发布",
                "Revised": "更正",
                "Withdrawn": "撤回",
                "Erased": "个人信息删除",
                "NoticeEnded": "公示期结束",
                "Repealed": "废止",
                "Expired": "失效",
            }.get(r.event, r.event)
            note = f"：{esc(r.reason)}" if r.reason and r.event != "Published" else ""
            lines.append(
                f"<tr><td>第 {number} 版</td><td>{minute(r.at)}</td>"
                f"<td>{what}{note}</td></tr>"
            )
        parts.append(
            '<section aria-labelledby="hist-h"><h2 id="hist-h">版本记录</h2>'
            '<table class="history"><thead><tr><th scope="col">版本</th>'
            '<th scope="col">时间</th><th scope="col">说明</th></tr></thead><tbody>\n'
            + "\n".join(lines)
            + "\n</tbody></table></section>"
        )
    parts.append(
        f'<p class="hash">内容哈希（SHA-256）：<code>{item.content_hash}</code></p>'
    )
    parts.append("</article>")
    return "\n".join(parts)


# -- page furniture -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Head:
    title: str
    column: str
    column_type: str
    extra: Mapping[str, str] = field(default_factory=dict)


def _footer_ids(s: PortalSettings) -> str:
    """The footer's identifiers (国办秘函〔2019〕19号 checks each): 主办单位, 网站标识码,
    ICP备案号, 公安机关备案号, 党政机关 and 「我为政府网站找错」; only those set."""
    lines = []
    if s.host:
        lines.append(f"<p>主办单位：{esc(s.host)}</p>")
    ids = []
    if s.site_id_code:
        ids.append(f"<span>网站标识码：{esc(s.site_id_code)}</span>")
    if s.icp:
        ids.append(f'<a href="{ICP_URL}" rel="noopener">{esc(s.icp)}</a>')
    if s.police_record:
        match = _POLICE.fullmatch(s.police_record)
        digits = match[1] if match else ""
        ids.append(
            f'<a href="{esc(POLICE_URL + digits)}" rel="noopener">'
            f"{esc(s.police_record)}</a>"
        )
    if ids:
        lines.append('<p class="ids">' + "\n".join(ids) + "</p>")
    marks = []
    if s.party_mark_url:
        marks.append(
            f'<a class="mark" href="{esc(s.party_mark_url)}" rel="noopener">党政机关</a>'
        )
    if s.report_error_url:
        marks.append(
            f'<a class="mark" href="{esc(_report_error_href(s))}" rel="noopener">'
            "我为政府网站找错</a>"
        )
    if marks:
        lines.append('<p class="marks">' + "\n".join(marks) + "</p>")
    return "".join(lines)


def _report_error_href(s: PortalSettings) -> str:
    if s.report_error_url == "auto":
        return (
            f"{REPORT_ERROR_URL}?site_code={quote(s.site_id_code or '')}"
            f"&url={quote(s.site_url, safe='')}"
        )
    return s.report_error_url or ""


class _Layout:
    def __init__(self, settings: PortalSettings) -> None:
        self.s = settings
        self.ids = _footer_ids(settings)

    def page(self, depth: int, head: _Head, main: str, *, canonical: str) -> str:
        s = self.s
        up = "../" * depth
        metas = {
            "SiteName": s.site_name,
            "SiteDomain": urlsplit(s.site_url).hostname or "",
            **({"SiteIDCode": s.site_id_code} if s.site_id_code else {}),
            "ColumnName": head.column,
            "ColumnType": head.column_type,
            **head.extra,
        }
        meta = "\n".join(
            f'<meta name="{esc(k)}" content="{esc(v)}">' for k, v in metas.items()
        )
        nav = "\n".join(
            f'<li><a href="{up}stage/{st.value}/index.html">{st.label}</a></li>'
            for st in Stage
        )
        feed = (
            f'<link rel="alternate" type="application/rss+xml" title="订阅" '
            f'href="{esc(s.feeds_url)}">\n'
            if s.feeds_url
            else ""
        )
        contact = f"<p>{esc(s.contact)}</p>" if s.contact else ""
        return (
            "<!DOCTYPE html>\n"
            '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(head.title)} - {esc(s.site_name)}</title>\n"
            f"{meta}\n"
            f'<link rel="canonical" href="{esc(canonical)}">\n'
            f'<link rel="stylesheet" href="{up}assets/site.css">\n'
            f'<link rel="icon" href="{up}assets/favicon.svg" type="image/svg+xml">\n'
            f"{feed}"
            "</head>\n<body>\n"
            '<a class="skip" href="#main">跳到主要内容</a>\n'
            '<header class="top"><div class="wrap">\n'
            f'<p class="site"><a href="{up}index.html">{esc(s.site_name)}</a></p>\n'
            '<div class="tools">'
            '<button type="button" data-toggle="big" aria-pressed="false">大字版</button>'
            '<button type="button" data-toggle="contrast" aria-pressed="false">'
            "高对比度</button></div>\n"
            f'<form class="search" role="search" action="{up}search.html" method="get">'
            '<label for="q">站内搜索</label>'
            '<input id="q" name="q" type="search" autocomplete="off">'
            '<button type="submit">搜索</button></form>\n'
            '</div>\n<nav class="columns" aria-label="栏目导航"><ul class="wrap">\n'
            f'<li><a href="{up}index.html">首页</a></li>\n'
            f'<li><a href="{up}xxgk/index.html">政府信息公开</a></li>\n{nav}\n'
            f'<li><a href="{up}list/all/index.html">全部信息</a></li>\n'
            f'<li><a href="{up}agency/index.html">发布机构</a></li>\n'
            "</ul></nav></header>\n"
            f'<main id="main" class="wrap" tabindex="-1">\n{main}\n</main>\n'
            f'<footer class="foot"><div class="wrap"><p>{esc(s.site_name)}</p>{contact}'
            f"{self.ids}"
            f'<p><a href="{up}sitemap.xml">网站地图</a> | '
            f'<a href="{up}audit/index.html">审计检查点</a></p></div></footer>\n'
            f'<script src="{up}assets/site.js"></script>\n'
            "</body>\n</html>\n"
        )


def _row_title(row: Mapping[str, Any], up: str) -> str:
    """A row's link, and the validity of a document no longer in force after it."""
    link = f'<a href="{up}{row["url"]}">{esc(row["title"])}</a>'
    label = row.get("validity")
    if not label:
        return link
    return f'<span>{link} <span class="validity">{esc(label)}</span></span>'


def _rows_list(rows: Iterable[Mapping[str, Any]], up: str) -> str:
    items = "\n".join(
        f'<li>{_row_title(r, up)}<span class="date">{r["date"]}</span></li>'
        for r in rows
    )
    return (
        f'<ul class="list">\n{items}\n</ul>'
        if items
        else '<p class="empty">暂无信息。</p>'
    )


# -- columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    key: str  # state folder name, e.g. "stage-decision"
    path: str  # public folder, e.g. "stage/decision"
    name: str  # ColumnName
    kind: str  # ColumnType

    @property
    def depth(self) -> int:
        return self.path.count("/") + 1

    @property
    def fixed(self) -> bool:
        """全部信息, the five stage columns and the columns of the 政府信息公开 section
        are always on the site, even empty."""
        return (
            self.key == "all"
            or self.key.startswith("stage-")
            or self.key in _SECTION_KEYS
        )

    @property
    def paged(self) -> bool:
        """Has month pages; the 指南, 标准目录 and 年报 columns are one page each."""
        return self.key not in _SINGLE_PAGE

    @property
    def node(self) -> bool:
        """A node of the 法定主动公开内容 tree (its name is the node's path)."""
        return self.key.startswith(_NODE)

    @property
    def label(self) -> str:
        """What the column's pages call it."""
        return self.name.rsplit("/", 1)[-1] if self.node else self.name


# -- the 政府信息公开 section's columns (国办发〔2017〕47号; docs/outlets/portal.md) --------
_SECTION_KIND = "政府信息公开"
_GUIDE = _Column("xxgk-guide", "xxgk/guide", "政府信息公开指南", _SECTION_KIND)
_RULES = _Column("xxgk-rules", "xxgk/rules", "政府信息公开制度", _SECTION_KIND)
_POLICY = _Column("xxgk-policy", "xxgk/policy", "政策文件", _SECTION_KIND)
_READING = _Column("xxgk-reading", "xxgk/reading", "政策解读", _SECTION_KIND)
_ANNUAL = _Column("xxgk-annual", "xxgk/annual", "政府信息公开年报", _SECTION_KIND)
_STANDARD = _Column("xxgk-standard", "xxgk/standard", "标准目录", _SECTION_KIND)
_SECTION = (_GUIDE, _RULES, _POLICY, _READING, _ANNUAL, _STANDARD)
_SECTION_KEYS = frozenset(c.key for c in _SECTION)
_SINGLE_PAGE = frozenset({_GUIDE.key, _STANDARD.key, _ANNUAL.key})
_PAGE_KINDS = {
    "guide": _GUIDE,
    "rules": _RULES,
    "annual_report": _ANNUAL,
    "catalogue": _STANDARD,
}
_POLICY_TYPES = frozenset({"regulation", "normative"})  # 规章, 行政规范性文件
_NODE = "xxgk-cat-"
_TREE = "xxgk/catalogue"  # 法定主动公开内容: the tree page and its nodes' folders
_SECTION_PAGES = ("xxgk/index.html", f"{_TREE}/index.html")


def _node_column(node: str) -> _Column:
    slug = hashlib.sha256(node.encode("utf-8")).hexdigest()[:12]
    return _Column(f"{_NODE}{slug}", f"{_TREE}/{slug}", node, "法定主动公开内容")


def _section_columns(entry: Mapping[str, Any]) -> list[_Column]:
    """The columns of the 政府信息公开 section that list a live entry."""
    found = []
    kind = entry.get("page_kind")
    if kind in _PAGE_KINDS:
        found.append(_PAGE_KINDS[kind])
    if entry.get("doc_type") in _POLICY_TYPES or entry.get("validity"):
        found.append(_POLICY)
    if entry["interprets"]:
        found.append(_READING)
    path = entry.get("catalogue_path")
    if path:
        found += [_node_column(n) for n in _catalogue_nodes(path)]
    return found


def _fixed_columns() -> list[_Column]:
    return [
        _Column("all", "list/all", "全部信息", "信息列表"),
        *(
            _Column(f"stage-{st.value}", f"stage/{st.value}", st.label, "五公开")
            for st in Stage
        ),
        *_SECTION,
    ]


def _columns_of(entry: Mapping[str, Any]) -> list[_Column]:
    if entry["gone"]:
        return []
    stage = Stage(entry["stage"])
    slug = _agency_slug(entry["agency"])
    return [
        _Column("all", "list/all", "全部信息", "信息列表"),
        _Column(f"stage-{stage.value}", f"stage/{stage.value}", stage.label, "五公开"),
        _Column(
            f"area-{entry['area']}",
            f"area/{entry['area']}",
            area_name(entry["area"]),
            "公开领域",
        ),
        _Column(f"agency-{slug}", f"agency/{slug}", entry["agency"], "发布机构"),
        *_section_columns(entry),
    ]


def _row(entry: Mapping[str, Any], col: _Column) -> dict[str, Any]:
    """An item as a column lists it; 全部信息 keeps what search and sitemaps need too."""
    row = {
        "id": entry["id"],
        "title": entry["title"],
        "date": day(datetime.fromisoformat(entry["published_at"])),
        "published_at": entry["published_at"],
        "updated_at": entry["updated_at"],
        "url": f"items/{entry['id']}.html",
    }
    lapsed = _lapsed(entry)
    if lapsed is not None:
        row["validity"] = lapsed
    if col.key == "all":
        row |= {k: entry[k] for k in ("agency", "index_no", "doc_no", "summary")}
    if col.key == _ANNUAL.key:
        row["year"] = entry.get("report_year")
    return row


def _sort(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, with the id as a tie-break (a total order, so pages are stable)."""
    return sorted(rows, key=lambda r: (r["published_at"], r["id"]), reverse=True)


def _section_crumbs(col: _Column, up: str) -> str:
    """The 当前位置 line of a section column's pages (none for the other columns)."""
    if not (col.key in _SECTION_KEYS or col.node):
        return ""
    parts = [
        f'<a href="{up}index.html">首页</a>',
        f'<a href="{up}xxgk/index.html">政府信息公开</a>',
    ]
    if col.node:
        parts.append(f'<a href="{up}{_TREE}/index.html">法定主动公开内容</a>')
        for node in _catalogue_nodes(col.name)[:-1]:
            parts.append(
                f'<a href="{up}{_node_column(node).path}/index.html">'
                f"{esc(node.rsplit('/', 1)[-1])}</a>"
            )
    parts.append(esc(col.label))
    return '<nav class="crumbs" aria-label="当前位置">' + " / ".join(parts) + "</nav>\n"


_ITEM_LINK = re.compile(rf'href="({UUID_PATTERN})\.html"')


def _relocated(article: str, up: str) -> str:
    """An item's stored article (written for `items/`) for a page `up` below the root:
    its attachment links and its links to other items made to work from there."""
    article = article.replace('href="../files/', f'href="{up}files/')
    return _ITEM_LINK.sub(lambda m: f'href="{up}items/{m[1]}.html"', article)


def _table_html(table: Mapping[str, Any] | None, up: str) -> str:
    """The 标准目录 CSV as a table: header cells as column headers, a caption, inside
    a region that scrolls sideways (and takes the keyboard focus to do so)."""
    if not table:
        return ""
    link = (
        f'<a href="{esc(_file_href(table["sha256"], table["name"]).replace("../", up, 1))}"'
        f" download>{esc(table['name'])}</a>"
    )
    if "error" in table:
        return (
            '<section aria-labelledby="table-h"><h2 id="table-h">目录内容</h2>\n'
            f'<p class="empty">{esc(table["error"])}，请下载附件 {link} 查看。</p>'
            "</section>"
        )
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in table["header"])
    body = "\n".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
        for row in table["rows"]
    )
    shown, total = len(table["rows"]), table["total"]
    note = (
        f"<p>共 {total} 行，此处显示前 {shown} 行，完整内容请下载附件 {link}。</p>"
        if total > shown
        else f"<p>共 {total} 行，据附件 {link} 生成。</p>"
    )
    return (
        '<section aria-labelledby="table-h"><h2 id="table-h">目录内容</h2>\n'
        f"{note}\n"
        '<div class="table-scroll" role="region" aria-labelledby="table-h" '
        'tabindex="0">\n'
        f'<table class="catalogue"><caption>{esc(table["name"])}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>\n"
        "</div></section>"
    )


# -- the site -----------------------------------------------------------------------------


_DROPPED = object()  # a state file a batch removes (in the memo until it is flushed)


def _boot_id() -> str | None:
    """This boot of the machine (Linux), or None where it cannot be told."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _trusted_journal(journal: Any) -> dict[str, Any]:
    """The journal as `recover` may act on it, or ValueError: only item ids that are
    UUIDs, and stored renditions of the item they are stored for. Anything else (a
    journal edited by hand, a forged one) is not followed: the site is rebuilt from
    the entries and nothing is put back, so no name from it reaches a path."""

    def item_id(value: Any) -> str:
        if not isinstance(value, str) or str(UUID(value)) != value:
            raise ValueError("not an item id")
        return value

    def entry_of(entry: Any, expected: str) -> None:
        if (
            not isinstance(entry, dict)
            or entry.get("id") != expected
            or not isinstance(entry.get("month"), str)
            or not _MONTH.fullmatch(entry["month"])
        ):
            raise ValueError("another item's entry, or no month")

    if not isinstance(journal, dict):
        raise ValueError("not a journal")
    try:
        if "id" in journal:
            if journal.get("old") is not None:
                entry_of(journal["old"], item_id(journal["id"]))
            else:
                item_id(journal["id"])
            return journal
        for e in journal.get("batch", []):
            stored = e["stored"]
            if stored is not None:
                entry_of(stored["entry"], item_id(e["id"]))
                if not isinstance(stored["article"], str):
                    raise ValueError("no article")
            else:
                item_id(e["id"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed: {exc!r}") from None
    return journal


@dataclass
class _Batch:
    """What a batch has changed and not yet rendered, flushed or made durable."""

    states: set[str] = field(default_factory=set)  # state files to write or remove
    synced: set[Path] = field(default_factory=set)  # files to make durable
    items: set[str] = field(default_factory=set)  # item pages to render
    touched: set[tuple[str, str]] = field(default_factory=set)  # (column, month)
    grown: set[str] = field(default_factory=set)  # columns whose month list changed
    columns: dict[str, _Column] = field(default_factory=dict)
    journal: bool = False  # a journal covers this batch: drop it once durable
    pages: int = 0


class PortalSite:
    """The site folder: its stored entries, the derived state, and every page."""

    def __init__(self, settings: PortalSettings, *, durable: bool = True) -> None:
        self.settings = settings
        self.root = settings.path
        self.state = settings.state_folder()
        self.layout = _Layout(settings)
        self.durable = durable
        self._memo: dict[str, Any] = {}
        self._batch: _Batch | None = None
        self._site_hash: str | None = None
        self.migrate()

    def migrate(self) -> None:
        """Move a state folder left inside the web root (`.syndicate/`) out of it.

        Done once, when the site is first opened: one atomic rename on the same file
        system; across file systems, a copy renamed into place, then the old folder
        removed. If the state folder exists already, the old one is left where it is
        (`syndicate audit consistency` reports its files as extra). Nothing to do when
        there is no old folder, or it cannot be moved (then it stays in use)."""
        old = self.root / LEGACY_STATE
        if self.state.exists() or not old.is_dir() or old.is_symlink():
            return
        try:
            self.state.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(old, self.state)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                staging = self.state.with_name(f".{self.state.name}.moving")
                shutil.rmtree(staging, ignore_errors=True)
                shutil.copytree(old, staging, symlinks=True)
                os.rename(staging, self.state)
                shutil.rmtree(old)
            if self.durable:
                fsync_dir(self.state.parent)
                fsync_dir(self.root)
        except FileNotFoundError:
            return  # another process moved it a moment ago
        except OSError:
            if not self.state.exists():
                self.state = old  # cannot move it: keep using it where it is

    # -- files ------------------------------------------------------------------------

    def _write(
        self, relative: str, data: str | bytes, *, base: Path | None = None
    ) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        target = (self.root if base is None else base) / relative
        # Temporary copies go to the state folder: a worker killed mid-write leaves
        # nothing in the web root (`recover` clears them, under the lock). In a batch
        # nothing is synced here: `_commit` makes every file durable at once.
        batch = self._batch
        wrote = write_file(
            target,
            raw,
            durable=self.durable and batch is None,
            scratch=self.state / "tmp",
        )
        if batch is not None and wrote:
            batch.synced.add(target)

    def _remove(self, relative: str, *, base: Path | None = None) -> None:
        target = (self.root if base is None else base) / relative
        batch = self._batch
        removed = remove_file(target, durable=self.durable and batch is None)
        if batch is not None and removed:
            batch.synced.add(target)

    def _json(self, relative: str, default: Any) -> Any:
        """A state file, read once per locked update (callers may change it in place,
        then must `_put_json` it)."""
        if relative in self._memo:
            found = self._memo[relative]
            return default if found is _DROPPED else found
        path = self.state / relative
        if not path.is_file():
            return default
        value = json.loads(path.read_bytes())
        self._memo[relative] = value
        return value

    def _put_json(self, relative: str, value: Any) -> None:
        self._memo[relative] = value
        if self._batch is not None:
            self._batch.states.add(relative)  # written once, by `_flush`
        else:
            self._write(relative, canonical_json(value), base=self.state)

    def _drop_tree(self, relative: str) -> None:
        shutil.rmtree(self.state / relative, ignore_errors=True)
        for key in [k for k in self._memo if k.startswith(relative + "/")]:
            del self._memo[key]
        if self._batch is not None:
            self._batch.states = {
                k for k in self._batch.states if not k.startswith(relative + "/")
            }
            self._batch.synced.add(self.state / relative)

    def _drop_json(self, relative: str) -> None:
        if self._batch is not None:
            self._memo[relative] = _DROPPED
            self._batch.states.add(relative)
            return
        self._remove(relative, base=self.state)
        self._memo.pop(relative, None)

    # -- writing in batches ---------------------------------------------------------------

    @contextlib.contextmanager
    def _batched(self) -> Iterator[_Batch]:
        """Stage changes, then render the pages they touch once, write the state files
        once, and make every file durable at once (`_commit`). Under the lock; nested
        calls share the outer batch."""
        if self._batch is not None:
            yield self._batch
            return
        self._batch = batch = _Batch()
        try:
            yield batch
            self._finish()
            self._flush()
            self._commit()
        finally:
            self._batch = None

    def _flush(self) -> None:
        """Write the state files the batch changed (the fingerprint last: a rebuild
        that did not finish is done again)."""
        batch = self._batch
        assert batch is not None  # noqa: S101 - only inside `_batched`
        names = sorted(batch.states, key=lambda k: (k == "site.json", k))
        batch.states = set()
        for relative in names:
            value = self._memo.get(relative, _DROPPED)
            if value is _DROPPED:
                self._memo.pop(relative, None)
                self._remove(relative, base=self.state)
            else:
                self._write(relative, canonical_json(value), base=self.state)

    def _commit(self) -> None:
        """One durable commit for everything the batch wrote or removed; then the
        journal goes (durably), so the batch counts as done only once it is on disk."""
        batch = self._batch
        assert batch is not None  # noqa: S101 - only inside `_batched`
        if self.durable and batch.synced:
            sync_written(batch.synced, roots=(self.root, self.state))
        batch.synced = set()
        if batch.journal:
            remove_file(self.state / "journal.json", durable=self.durable)
            batch.journal = False

    def _begin(self, journal: Mapping[str, Any]) -> None:
        """Write the journal, durably, before anything it covers."""
        batch = self._batch
        assert batch is not None  # noqa: S101 - only inside `_batched`
        write_file(
            self.state / "journal.json",
            canonical_json(journal),
            durable=self.durable,
            scratch=self.state / "tmp",
        )
        batch.journal = True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time, across processes."""
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.state / "lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._memo.clear()  # another process may have changed the state
            try:
                yield
            finally:
                self._memo.clear()
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- entries ------------------------------------------------------------------------

    def stored(self, item_id: str) -> dict[str, Any] | None:
        """The stored rendition of an item (entry, article), or None."""
        found: dict[str, Any] | None = self._json(f"entries/{item_id}.json", None)
        return found

    def entry(self, item_id: str) -> dict[str, Any] | None:
        stored = self.stored(item_id)
        return None if stored is None else dict(stored["entry"])

    def entry_ids(self) -> list[str]:
        folder = self.state / "entries"
        if not folder.is_dir():
            return []
        return sorted(
            p.stem for p in folder.glob("*.json") if not p.name.startswith(".")
        )

    # -- applying a rendition -----------------------------------------------------------

    def apply(self, data: bytes, attachments: Path | None) -> int:
        """Store one item's rendition and re-render what shows it; pages written."""
        (error,), pages = self.apply_many([(data, attachments)])
        if error is not None:
            raise error
        return pages

    def apply_many(
        self, renditions: Sequence[tuple[bytes, Path | None]]
    ) -> tuple[list[DeliveryError | None], int]:
        """Store several items' renditions (each with its attachment store) and
        re-render what shows them: every page once, every state file once, one durable
        commit for all of it. Returns, per rendition, None (stored, or older than the
        version the site has: a late, older version never replaces a newer one) or the
        error that stopped that one alone (an attachment that cannot be copied); and
        the pages written. Any other error stops the whole batch, and the journal
        finishes or undoes it on the next call (`recover`)."""
        parsed = [json.loads(data) for data, _ in renditions]
        results: list[DeliveryError | None] = []
        with self.locked():
            self.recover()
            if self._json("site.json", None) != self._fingerprint():
                # New settings or templates: every page must show them, not only the
                # pages these deliveries touch.
                self.rebuild(locked=True)
            with self._batched() as batch:
                olds: dict[str, Any] = {}
                for new in parsed:
                    item_id = new["entry"]["id"]
                    if item_id not in olds:
                        olds[item_id] = self.stored(item_id)
                self._begin(
                    {
                        "batch": [{"id": i, "stored": o} for i, o in olds.items()],
                        "boot": _boot_id(),
                    }
                )
                self.write_assets()
                for (data, attachments), new in zip(renditions, parsed, strict=True):
                    entry = new["entry"]
                    old = self.entry(entry["id"])
                    if old is not None and old["version"] > entry["version"]:
                        results.append(None)
                        continue
                    try:
                        with file_errors(
                            "cannot write the site",
                            name_advice=_NAME_ADVICE,
                        ):
                            self._copy_attachments(entry, attachments)
                    except DeliveryError as exc:
                        results.append(exc)
                        continue
                    self._write(f"entries/{entry['id']}.json", data, base=self.state)
                    self._memo[f"entries/{entry['id']}.json"] = new
                    self._stage(old, entry)
                    results.append(None)
        return results, batch.pages

    def recover(self, attachments: Path | None = None) -> None:
        """Finish, or undo and rebuild, what an interrupted batch left (the journal says
        which), and clear the temporary copies a killed writer left (none is being
        written: the lock is held).

        The journal is written durably before anything of its batch. If the machine
        has not restarted since (the same boot), every write the batch made is still
        there — a killed process loses nothing already written — and re-staging the
        batch's items finishes it. After a restart, files written without their own
        fsync may be empty or torn: the entries the batch replaced are put back as the
        journal holds them and the whole site is rebuilt from the entries; the batch's
        deliveries were not recorded as done, so the worker sends them again."""
        scratch = self.state / "tmp"
        if scratch.is_dir():
            for stale in scratch.iterdir():
                if stale.is_file() and stale.name.startswith(".tmp-"):
                    stale.unlink(missing_ok=True)
        path = self.state / "journal.json"
        if not path.is_file():
            return
        try:
            journal = _trusted_journal(json.loads(path.read_bytes()))
        except ValueError:
            journal = {"rebuild": True}
        boot = _boot_id()
        with self._batched() as batch:
            batch.journal = True  # dropped once this recovery is durable
            if "id" in journal:  # one update written durably (before batches)
                staged = [(journal["old"], journal["id"])]
            elif "batch" in journal and boot is not None and journal["boot"] == boot:
                staged = [
                    (None if e["stored"] is None else e["stored"]["entry"], e["id"])
                    for e in journal["batch"]
                ]
            else:
                for e in journal.get("batch", []):
                    relative = f"entries/{e['id']}.json"
                    if e["stored"] is None:  # new in the batch: its page goes too
                        self._remove(relative, base=self.state)
                        self._remove(f"items/{e['id']}.html")
                    else:
                        self._write(
                            relative, canonical_json(e["stored"]), base=self.state
                        )
                self.rebuild(locked=True)
                return
            for old, item_id in staged:
                entry = self.entry(item_id)
                if entry is not None:
                    self._stage(old, entry, all_neighbours=True)

    def _copy_attachments(
        self, entry: Mapping[str, Any], attachments: Path | None
    ) -> None:
        sealed: dict[str, str] = dict(self._json("sealed.json", {}))
        for a in entry["attachments"]:
            target = f"files/{a['sha256']}/{a['name']}"
            present = self.root / target
            expected = sealed.get(target) if a.get("sealed") else a["sha256"]
            if (
                expected is not None
                and present.is_file()
                and hashlib.sha256(present.read_bytes()).hexdigest() == expected
            ):
                continue
            if attachments is None:
                raise PermanentDeliveryError(
                    f"attachment {a['name']} cannot be copied: no attachment store given"
                )
            try:
                raw = open_attachment(
                    attachments,
                    UUID(entry["id"]),
                    a["sha256"],
                    sealed=bool(a.get("sealed")),
                )
            except FileNotFoundError:
                raise PermanentDeliveryError(
                    f"attachment {a['name']} ({a['sha256'][:12]}…) is missing from "
                    f"the attachment store {attachments}"
                ) from None
            except (ValueError, StoreError) as exc:
                raise PermanentDeliveryError(f"attachment {a['name']}: {exc}") from None
            if raw is None:
                raise PermanentDeliveryError(
                    f"attachment {a['name']} is sealed and its item's key is gone "
                    "(erased, or removed from the data directory by hand): it cannot be "
                    "published; after `items erase` a version without it follows"
                )
            if not a.get("sealed") and hashlib.sha256(raw).hexdigest() != a["sha256"]:
                raise PermanentDeliveryError(
                    f"attachment {a['name']} in the store does not match its sha256"
                )
            if a.get("sealed"):
                sealed[target] = hashlib.sha256(raw).hexdigest()
                self._put_json("sealed.json", sealed)
            self._write(target, raw)

    def _stage(
        self,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any],
        *,
        all_neighbours: bool = False,
    ) -> None:
        """Bring the derived state up to date for one changed entry, and note the pages
        to render at the end of the batch (`_finish`).

        `all_neighbours`: re-render the adjacent month pages of every touched column,
        as when finishing an interrupted update (its state may already be current, so
        whether a column's month list changed can no longer be told).
        """
        batch = self._batch
        assert batch is not None  # noqa: S101 - only inside `_batched`
        item_id = new["id"]
        for entry, keep in ((old, False), (new, True)):
            if entry is None:
                continue
            for col in _columns_of(entry):
                batch.columns[col.key] = col
                row = _row(entry, col) if keep else None
                grown = self._file_row(col, entry["month"], item_id, row)
                if grown or all_neighbours:
                    batch.grown.add(col.key)
                batch.touched.add((col.key, entry["month"]))
        self._files(old, new)
        self._links(old, new)
        batch.items.update({item_id, *self._related_ids(old, new)})

    def _finish(self) -> None:
        """Render every page the batch's changes touch, each once, from the final
        state: the items' own pages and their linked items', the month pages (and,
        where a column's month list changed, their neighbours), the column indexes and
        the pages about the whole site."""
        batch = self._batch
        assert batch is not None  # noqa: S101 - only inside `_batched`
        count = 0
        for rid in sorted(batch.items):
            count += self._item_page(rid)
        pages: set[tuple[str, str]] = set()
        for key, month in batch.touched:
            pages.add((key, month))
            if key in batch.grown:
                pages.update((key, m) for m in _neighbours(self._months(key), month))
        for key, month in sorted(pages):
            count += self._month_page(batch.columns[key], month, self._months(key))
        for key in sorted({key for key, _ in batch.touched}):
            col = batch.columns[key]
            months = self._months(key)
            if not months:  # no items left: no state (as a rebuild would have none)
                self._drop_tree(f"columns/{key}")
            if months or col.fixed:
                count += self._column_index(col, months)
            else:  # the column has no items left: it leaves the site
                self._remove(f"{col.path}/index.html")
        if batch.touched:
            count += self._site_pages({m for _, m in batch.touched})
        batch.pages += count
        batch.items, batch.touched, batch.grown = set(), set(), set()

    def _site_pages(self, months: Iterable[str]) -> int:
        """The pages about the whole site, given the months of 全部信息 that changed."""
        for month in sorted(months):
            self._search_shard(month)
            self._sitemap_month(month)
        self._search_index()
        self._sitemap_index()
        self._agency_index()
        self._home()
        return 6 + self._section_pages()

    # -- derived state ------------------------------------------------------------------

    def _month_rows(self, key: str, month: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self._json(f"columns/{key}/{month}.json", {})
        return found

    def _months(self, key: str) -> dict[str, int]:
        found: dict[str, int] = self._json(f"columns/{key}/months.json", {})
        return found

    def _file_row(
        self, col: _Column, month: str, item_id: str, row: dict[str, Any] | None
    ) -> bool:
        """Put (or with None, take) an item's row in a column month; True if the
        column's month list changed."""
        rows = self._month_rows(col.key, month)
        if row is None:
            if rows.pop(item_id, None) is None:
                return False
        else:
            rows[item_id] = row
        months = self._months(col.key)
        changed = (month in months) != bool(rows)
        if col.key == "all":
            self._lastmod(month, rows)
        if rows:
            self._put_json(f"columns/{col.key}/{month}.json", rows)
            months[month] = len(rows)
        else:
            self._drop_json(f"columns/{col.key}/{month}.json")
            months.pop(month, None)
        self._put_json(f"columns/{col.key}/months.json", dict(sorted(months.items())))
        self._put_json(f"columns/{col.key}/column.json", col.__dict__)
        return changed

    def _lastmod(self, month: str, rows: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep the newest update per month of 全部信息, for the sitemap index."""
        lastmod: dict[str, str] = dict(self._json("lastmod.json", {}))
        if rows:
            lastmod[month] = max(r["updated_at"] for r in rows.values())
        else:
            lastmod.pop(month, None)
        if lastmod:
            self._put_json("lastmod.json", dict(sorted(lastmod.items())))
        else:
            self._drop_json("lastmod.json")

    def _files(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        """Keep `files.json` (which live items use each attachment file) and delete a
        file once no live item uses it: a withdrawn attachment leaves the site."""

        def paths(entry: Mapping[str, Any] | None) -> set[str]:
            if entry is None or entry["gone"]:
                return set()
            return {f"{a['sha256']}/{a['name']}" for a in entry["attachments"]}

        before, after = paths(old), paths(new)
        if before == after:
            return
        users: dict[str, list[str]] = dict(self._json("files.json", {}))
        for path in before - after:
            left = [i for i in users.get(path, []) if i != new["id"]]
            if left:
                users[path] = left
            else:
                users.pop(path, None)
                self._remove(f"files/{path}")
                sealed = dict(self._json("sealed.json", {}))
                if sealed.pop(f"files/{path}", None) is not None:
                    self._put_json("sealed.json", sealed)
                folder = self.root / "files" / path.split("/")[0]
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        for path in after - before:
            users[path] = sorted({*users.get(path, []), new["id"]})
        if users:
            self._put_json("files.json", dict(sorted(users.items())))
        else:
            self._drop_json("files.json")

    def _fingerprint(self) -> str:
        """What every page depends on besides the entries: settings, schema, assets.

        Computed once per site object, not on every delivery."""
        if self._site_hash is None:
            parts = [
                self.settings.model_dump_json(exclude={"path", "state_path"}).encode(),
                str(SCHEMA).encode(),
                *(_asset(n) for n in _ASSETS),
                Path(__file__).read_bytes(),  # the templates live in this module
            ]
            self._site_hash = hashlib.sha256(b"\0".join(parts)).hexdigest()
        return self._site_hash

    def _links(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        """Keep `links/<policy id>.json`: the live items that interpret it."""
        item_id = new["id"]
        was = old["interprets"] if old and not old["gone"] else None
        now = new["interprets"] if not new["gone"] else None
        if was == now:
            return
        if was:
            ids = [i for i in self._json(f"links/{was}.json", []) if i != item_id]
            if ids:
                self._put_json(f"links/{was}.json", ids)
            else:
                self._drop_json(f"links/{was}.json")
        if now:
            ids = sorted({*self._json(f"links/{now}.json", []), item_id})
            self._put_json(f"links/{now}.json", ids)

    def _related_ids(
        self, old: Mapping[str, Any] | None, new: Mapping[str, Any]
    ) -> set[str]:
        ids = {e["interprets"] for e in (old, new) if e is not None and e["interprets"]}
        ids.update(self._json(f"links/{new['id']}.json", []))
        return {i for i in ids if self.entry(i) is not None}

    # -- pages ----------------------------------------------------------------------------

    def _url(self, relative: str) -> str:
        return f"{self.settings.site_url.rstrip('/')}/{relative}"

    def _item_page(self, item_id: str) -> int:
        stored = self.stored(item_id)
        if stored is None:
            return 0
        entry = stored["entry"]
        related = []
        target = entry["interprets"]
        if target and not entry["gone"]:
            policy = self.entry(target)
            if policy is not None and not policy["gone"]:
                related.append(("本文解读的政策文件", [policy]))
        if not entry["gone"]:
            readings = [self.entry(i) for i in self._json(f"links/{item_id}.json", [])]
            live = [e for e in readings if e is not None and not e["gone"]]
            if live:
                related.append(("相关解读", live))
        aside = ""
        if related:
            blocks = []
            for label, entries in related:
                links = "\n".join(
                    f'<li><a href="{e["id"]}.html">{esc(e["title"])}</a></li>'
                    for e in sorted(entries, key=lambda e: e["id"])
                )
                blocks.append(f"<h2>{label}</h2>\n<ul>\n{links}\n</ul>")
            aside = (
                '\n<aside class="related" aria-label="相关链接">\n'
                + "\n".join(blocks)
                + "\n</aside>"
            )
        crumbs = (
            '<nav class="crumbs" aria-label="当前位置"><a href="../index.html">首页</a>'
            f' / <a href="../stage/{entry["stage"]}/index.html">'
            f"{Stage(entry['stage']).label}</a></nav>"
        )
        extra = {
            "ArticleTitle": entry["title"],
            "PubDate": minute(datetime.fromisoformat(entry["published_at"])),
            "ContentSource": entry["agency"],
            "Author": entry["agency"],
            "Keywords": " ".join(
                k for k in (entry["category"], area_name(entry["area"])) if k
            ),
            "Description": entry["summary"]
            if not entry["gone"]
            else "本信息已不再公开",
            "Url": self._url(f"items/{item_id}.html"),
        }
        head = _Head(
            title=_page_prefix(entry) + entry["title"],
            column=Stage(entry["stage"]).label,
            column_type="信息公开",
            extra=extra,
        )
        html = self.layout.page(
            1,
            head,
            f"{crumbs}\n{stored['article']}{aside}",
            canonical=self._url(f"items/{item_id}.html"),
        )
        self._write(f"items/{item_id}.html", html)
        return 1

    def _month_page(self, col: _Column, month: str, months: Mapping[str, int]) -> int:
        target = f"{col.path}/{month}.html"
        if not col.paged:
            return 0
        rows = _sort(list(self._month_rows(col.key, month).values()))
        if not rows:
            self._remove(target)
            return 0
        up = "../" * col.depth
        older, newer = _adjacent(months, month)
        pager = ['<nav class="pager" aria-label="翻页">']
        if newer:
            pager.append(f'<a href="{newer}.html">较新：{newer}</a>')
        pager.append('<a href="index.html">栏目首页</a>')
        if older:
            pager.append(f'<a href="{older}.html">较早：{older}</a>')
        pager.append("</nav>")
        main = (
            f"{_section_crumbs(col, up)}"
            f"<h1>{esc(col.label)} · {month}</h1>\n"
            f"<p>本月共 {len(rows)} 条。</p>\n"
            f"{_rows_list(rows, up)}\n" + "".join(pager)
        )
        head = _Head(f"{col.label} {month}", col.label, col.kind)
        self._write(
            target,
            self.layout.page(col.depth, head, main, canonical=self._url(target)),
        )
        return 1

    def _column_index(self, col: _Column, months: Mapping[str, int]) -> int:
        if col.key in (_GUIDE.key, _STANDARD.key):
            return self._latest_page(col, months)
        if col.key == _ANNUAL.key:
            return self._annual_page(col, months)
        target = f"{col.path}/index.html"
        up = "../" * col.depth
        total = sum(months.values())
        ordered = sorted(months, reverse=True)
        latest: list[dict[str, Any]] = []
        for month in ordered:
            latest += _sort(list(self._month_rows(col.key, month).values()))
            if len(latest) >= self.settings.home_count:
                break
        archive = "\n".join(
            f'<li><a href="{m}.html">{m}</a>（{months[m]} 条）</li>' for m in ordered
        )
        main = (
            f"{_section_crumbs(col, up)}"
            f"<h1>{esc(col.label)}</h1>\n<p>共 {total} 条信息。</p>\n"
            f"{self._children(col, up)}"
            f"<h2>最新信息</h2>\n"
            f"{_rows_list(latest[: self.settings.home_count], up)}\n"
            f'<h2>按月浏览</h2>\n<ul class="months">\n{archive}\n</ul>'
        )
        if not archive and col.key in _SECTION_KEYS:  # empty: 暂无信息 says it all
            main = main.replace('\n<h2>按月浏览</h2>\n<ul class="months">\n\n</ul>', "")
        head = _Head(col.label, col.label, col.kind, {"ColumnDescription": col.label})
        self._write(
            target,
            self.layout.page(col.depth, head, main, canonical=self._url(target)),
        )
        return 1

    # -- the 政府信息公开 section ----------------------------------------------------------

    def _all_rows(self, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        """A column's rows, newest first (the newest `limit` of them)."""
        found: list[dict[str, Any]] = []
        for month in sorted(self._months(key), reverse=True):
            found += _sort(list(self._month_rows(key, month).values()))
            if limit is not None and len(found) >= limit:
                break
        return found if limit is None else found[:limit]

    def _section_page(self, col: _Column, main: str) -> int:
        head = _Head(col.label, col.label, col.kind, {"ColumnDescription": col.label})
        target = f"{col.path}/index.html"
        self._write(
            target,
            self.layout.page(col.depth, head, main, canonical=self._url(target)),
        )
        return 1

    def _latest_page(self, col: _Column, months: Mapping[str, int]) -> int:
        """政府信息公开指南, 标准目录: the newest live item of the column, shown as a
        page (the 标准目录's CSV attachment as a table), and the earlier ones listed."""
        up = "../" * col.depth
        rows = self._all_rows(col.key)
        stored = self.stored(rows[0]["id"]) if rows else None
        crumbs = _section_crumbs(col, up)
        if stored is None:
            main = f'{crumbs}<h1>{esc(col.label)}</h1>\n<p class="empty">暂无信息。</p>'
            return self._section_page(col, main)
        main = crumbs + _relocated(stored["article"], up)
        if col.key == _STANDARD.key:
            main += "\n" + _table_html(stored["entry"].get("table"), up)
        if len(rows) > 1:
            main += (
                f'\n<section aria-labelledby="older-h"><h2 id="older-h">往期'
                f"{esc(col.label)}</h2>\n{_rows_list(rows[1:], up)}</section>"
            )
        return self._section_page(col, main)

    def _annual_page(self, col: _Column, months: Mapping[str, int]) -> int:
        """政府信息公开年报, by the year each report covers (its 成文日期), newest first."""
        up = "../" * col.depth
        years: dict[int, list[dict[str, Any]]] = {}
        for row in self._all_rows(col.key):
            years.setdefault(int(row.get("year") or 0), []).append(row)
        parts = [f"{_section_crumbs(col, up)}<h1>{esc(col.label)}</h1>"]
        if not years:
            parts.append('<p class="empty">暂无信息。</p>')
        for year in sorted(years, reverse=True):
            parts.append(
                f'<section aria-labelledby="y{year}-h"><h2 id="y{year}-h">{year}年</h2>'
                f"\n{_rows_list(years[year], up)}</section>"
            )
        return self._section_page(col, "\n".join(parts))

    def _children(self, col: _Column, up: str) -> str:
        """A catalogue node's page: the nodes under it, with their counts."""
        if not col.node:
            return ""
        prefix = col.name + "/"
        below = [
            (c, n)
            for c, n in self._column_summaries(_NODE)
            if c.name.startswith(prefix) and "/" not in c.name[len(prefix) :]
        ]
        if not below:
            return ""
        links = "\n".join(
            f'<li><a href="{up}{c.path}/index.html">{esc(c.label)}</a>（{n} 条）</li>'
            for c, n in sorted(below, key=lambda cn: cn[0].name)
        )
        return f'<h2>下级事项</h2>\n<ul class="grid">\n{links}\n</ul>\n'

    def _section_pages(self) -> int:
        """The section's index page and its 法定主动公开内容 tree page."""
        self._tree_page()
        self._section_index()
        return 2

    def _tree_page(self) -> None:
        nodes = self._column_summaries(_NODE)
        children: dict[str, list[tuple[_Column, int]]] = {}
        for c, n in nodes:
            parent = c.name.rsplit("/", 1)[0] if "/" in c.name else ""
            children.setdefault(parent, []).append((c, n))

        def branch(parent: str) -> str:
            found = sorted(children.get(parent, []), key=lambda cn: cn[0].name)
            if not found:
                return ""
            items = "\n".join(
                f'<li><a href="../../{c.path}/index.html">{esc(c.label)}</a>'
                f"（{n} 条）{branch(c.name)}</li>"
                for c, n in found
            )
            return f'\n<ul class="tree">\n{items}\n</ul>'

        total = sum(n for c, n in children.get("", []))
        tree = branch("")
        crumbs = (
            '<nav class="crumbs" aria-label="当前位置"><a href="../../index.html">首页</a>'
            ' / <a href="../index.html">政府信息公开</a> / 法定主动公开内容</nav>\n'
        )
        main = f"{crumbs}<h1>法定主动公开内容</h1>\n" + (
            f"<p>按标准目录的一级事项、二级事项和公开内容分类，共 {total} 条信息。</p>"
            f"{tree}"
            if tree
            else '<p class="empty">暂无信息。</p>'
        )
        target = f"{_TREE}/index.html"
        head = _Head(
            "法定主动公开内容",
            "法定主动公开内容",
            _SECTION_KIND,
            {"ColumnDescription": "法定主动公开内容"},
        )
        self._write(
            target, self.layout.page(2, head, main, canonical=self._url(target))
        )

    def _section_index(self) -> None:
        """xxgk/index.html: every column of the section, with its newest items."""
        s = self.settings
        up = "../"
        blocks: list[tuple[str, str, str]] = []  # (id, heading, content)

        def count(col: _Column) -> int:
            return sum(self._months(col.key).values())

        def latest(col: _Column, n: int = 5) -> str:
            rows = self._all_rows(col.key, n)
            total = f"<p>共 {count(col)} 条。</p>\n" if rows and n > 1 else ""
            return total + _rows_list(rows, up)

        def link(col: _Column) -> str:
            return (
                f'<a href="{col.path.removeprefix("xxgk/")}/index.html">{col.label}</a>'
            )

        blocks.append(("guide", link(_GUIDE), latest(_GUIDE, 1)))
        blocks.append(("rules", link(_RULES), latest(_RULES)))
        tops = sorted(
            ((c, n) for c, n in self._column_summaries(_NODE) if "/" not in c.name),
            key=lambda cn: cn[0].name,
        )
        tree = (
            '<ul class="grid">\n'
            + "\n".join(
                f'<li><a href="{c.path.removeprefix("xxgk/")}/index.html">'
                f"{esc(c.label)}</a>（{n} 条）</li>"
                for c, n in tops
            )
            + "\n</ul>"
            if tops
            else '<p class="empty">暂无信息。</p>'
        )
        blocks.append(
            ("tree", '<a href="catalogue/index.html">法定主动公开内容</a>', tree)
        )
        blocks.append(("policy", link(_POLICY), latest(_POLICY)))
        blocks.append(("reading", link(_READING), latest(_READING)))
        areas = sorted(self._column_summaries("area-"), key=lambda c: c[0].key)
        area_links = (
            '<ul class="grid">\n'
            + "\n".join(
                f'<li><a href="{up}{c.path}/index.html">{esc(c.name)}</a>（{n} 条）</li>'
                for c, n in areas
            )
            + "\n</ul>"
            if areas
            else '<p class="empty">暂无信息。</p>'
        )
        blocks.append(("areas", "重点领域", area_links))
        reports = sorted(  # the newest years first, as the 年报 page shows them
            self._all_rows(_ANNUAL.key),
            key=lambda r: (int(r.get("year") or 0), r["published_at"], r["id"]),
            reverse=True,
        )
        annual = (f"<p>共 {len(reports)} 条。</p>\n" if reports else "") + _rows_list(
            reports[:5], up
        )
        blocks.append(("annual", link(_ANNUAL), annual))
        if s.apply_url:
            apply = (
                f'<p><a href="{esc(s.apply_url)}" rel="noopener">在线提交政府信息公开申请'
                "</a></p>"
            )
        else:
            office = f"向{esc(s.host)}" if s.host else ""
            apply = (
                f'<p>依申请公开：请按<a href="guide/index.html">政府信息公开指南</a>'
                f"所列方式{office}提出申请。</p>"
                + (f"<p>{esc(s.contact)}</p>" if s.contact else "")
            )
        blocks.append(("apply", "依申请公开", apply))
        blocks.append(("standard", link(_STANDARD), latest(_STANDARD, 1)))
        sections = "\n".join(
            f'<section aria-labelledby="x-{key}-h"><h2 id="x-{key}-h">{heading}</h2>\n'
            f"{content}</section>"
            for key, heading, content in blocks
        )
        main = (
            '<nav class="crumbs" aria-label="当前位置"><a href="../index.html">首页</a>'
            " / 政府信息公开</nav>\n<h1>政府信息公开</h1>\n"
            f'<div class="xxgk">\n{sections}\n</div>'
        )
        head = _Head(
            "政府信息公开",
            "政府信息公开",
            _SECTION_KIND,
            {"ColumnDescription": "政府信息公开"},
        )
        self._write(
            "xxgk/index.html",
            self.layout.page(1, head, main, canonical=self._url("xxgk/index.html")),
        )

    def _column_summaries(self, prefix: str) -> list[tuple[_Column, int]]:
        folder = self.state / "columns"
        keys = (
            {sub.name for sub in folder.glob(f"{prefix}*")}
            if folder.is_dir()
            else set()
        )
        # A batch's new columns are in the memo until it is flushed.
        keys.update(
            k.split("/")[1]
            for k in self._memo
            if k.startswith(f"columns/{prefix}") and k.endswith("/months.json")
        )
        found = []
        for key in sorted(keys):
            total = sum(self._months(key).values())
            if total:
                col = _Column(**self._json(f"columns/{key}/column.json", {}))
                found.append((col, total))
        return found

    def _agency_index(self) -> None:
        agencies = sorted(self._column_summaries("agency-"), key=lambda c: c[0].name)
        items = "\n".join(
            f'<li><a href="../{c.path}/index.html">{esc(c.name)}</a>（{n} 条）</li>'
            for c, n in agencies
        )
        main = f'<h1>发布机构</h1>\n<ul class="months">\n{items}\n</ul>'
        head = _Head("发布机构", "发布机构", "发布机构")
        self._write(
            "agency/index.html",
            self.layout.page(1, head, main, canonical=self._url("agency/index.html")),
        )

    def _home(self) -> None:
        months = self._months("all")
        latest: list[dict[str, Any]] = []
        for month in sorted(months, reverse=True):
            latest += _sort(list(self._month_rows("all", month).values()))
            if len(latest) >= self.settings.home_count:
                break
        stages = {c.key: n for c, n in self._column_summaries("stage-")}
        stage_links = "\n".join(
            f'<li><a href="stage/{st.value}/index.html">{st.label}</a>'
            f"（{stages.get('stage-' + st.value, 0)} 条）</li>"
            for st in Stage
        )
        areas = sorted(self._column_summaries("area-"), key=lambda c: c[0].key)
        area_links = "\n".join(
            f'<li><a href="{c.path}/index.html">{esc(c.name)}</a>（{n} 条）</li>'
            for c, n in areas
        )
        section_links = "\n".join(
            f'<li><a href="{c.path}/index.html">{c.label}</a></li>'
            for c in (_GUIDE, _RULES)
        ) + (
            f'\n<li><a href="{_TREE}/index.html">法定主动公开内容</a></li>\n'
            + "\n".join(
                f'<li><a href="{c.path}/index.html">{c.label}</a></li>'
                for c in (_POLICY, _READING, _ANNUAL, _STANDARD)
            )
        )
        main = (
            '<h1 class="sr-only">首页</h1>\n'
            '<section aria-labelledby="latest-h"><h2 id="latest-h">最新信息</h2>\n'
            f"{_rows_list(latest[: self.settings.home_count], '')}\n"
            '<p><a href="list/all/index.html">更多信息</a></p></section>\n'
            '<section aria-labelledby="stage-h"><h2 id="stage-h">五公开</h2>\n'
            f'<ul class="grid">\n{stage_links}\n</ul></section>\n'
            '<section aria-labelledby="xxgk-h"><h2 id="xxgk-h">'
            '<a href="xxgk/index.html">政府信息公开</a></h2>\n'
            f'<ul class="grid">\n{section_links}\n</ul></section>\n'
            '<section aria-labelledby="area-h"><h2 id="area-h">重点领域</h2>\n'
            f'<ul class="grid">\n{area_links}\n</ul></section>'
        )
        head = _Head("首页", "首页", "首页")
        self._write(
            "index.html",
            self.layout.page(0, head, main, canonical=self._url("index.html")),
        )

    def _search_shard(self, month: str) -> None:
        rows = _sort(list(self._month_rows("all", month).values()))
        if not rows:
            self._remove(f"search/{month}.json")
            return
        public = [
            {k: r[k] for k in ("title", "agency", "index_no", "doc_no", "date", "url")}
            | {"summary": r["summary"]}
            for r in rows
        ]
        self._write(f"search/{month}.json", canonical_json(public))

    def _search_index(self) -> None:
        months = sorted(self._months("all"), reverse=True)
        self._write("search/index.json", canonical_json({"months": months}))

    def _sitemap_month(self, month: str) -> None:
        rows = sorted(self._month_rows("all", month).values(), key=lambda r: r["id"])
        target = f"sitemaps/{month}.xml"
        if not rows:
            self._remove(target)
            return
        urls = "\n".join(
            f"<url><loc>{esc(self._url(r['url']))}</loc>"
            f"<lastmod>{r['updated_at']}</lastmod></url>"
            for r in rows
        )
        self._write(
            target,
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{urls}\n</urlset>\n",
        )

    def _sitemap_index(self) -> None:
        months = sorted(self._months("all"))
        lines = [
            f"<sitemap><loc>{esc(self._url('sitemaps/pages.xml'))}</loc></sitemap>"
        ]
        lastmod: dict[str, str] = self._json("lastmod.json", {})
        for month in months:
            last = lastmod[month]
            lines.append(
                f"<sitemap><loc>{esc(self._url(f'sitemaps/{month}.xml'))}</loc>"
                f"<lastmod>{last}</lastmod></sitemap>"
            )
        self._write(
            "sitemap.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(lines)
            + "\n</sitemapindex>\n",
        )
        pages = [
            "index.html",
            "list/all/index.html",
            "agency/index.html",
            "audit/index.html",
            *_SECTION_PAGES,
        ]
        pages += [f"{c.path}/index.html" for c in _fixed_columns()][1:]
        urls = "\n".join(f"<url><loc>{esc(self._url(p))}</loc></url>" for p in pages)
        self._write(
            "sitemaps/pages.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{urls}\n</urlset>\n",
        )

    def write_assets(self) -> None:
        """The shared stylesheet, scripts and the search page (fixed bytes)."""
        for name in _ASSETS:
            self._write(f"assets/{name}", _asset(name))
        main = (
            "<h1>站内搜索</h1>\n"
            '<p id="search-status" role="status" aria-live="polite">'
            "请输入关键词，例如：低保、预算、公示。</p>\n"
            '<ol id="results" class="list"></ol>\n'
            '<script src="assets/search.js"></script>'
        )
        head = _Head("站内搜索", "站内搜索", "搜索")
        self._write(
            "search.html",
            self.layout.page(0, head, main, canonical=self._url("search.html")),
        )
        for col in _fixed_columns():
            if not (self.root / col.path / "index.html").is_file():
                self._column_index(col, self._months(col.key))
        if not all((self.root / p).is_file() for p in _SECTION_PAGES):
            self._section_pages()
        if not (self.root / "audit" / "index.html").is_file():
            self._audit_pages(self._json("witness.json", None))
        self.write_server_configs()

    def write_server_configs(self) -> None:
        """`nginx.conf` and `apache.conf` in the state folder: the headers attachments
        and pages need (see `server_configs`). Not in the web root, so never published;
        not written while the state is still inside it (a site that could not move its
        old `.syndicate/` folder)."""
        state, root = self.state.absolute(), self.root.absolute()
        if state.is_relative_to(root):
            return
        for name, text in server_configs(self.settings).items():
            self._write(name, text, base=self.state)

    # -- whole site ---------------------------------------------------------------------

    def rebuild(self, *, locked: bool = False) -> int:
        """Every page again from the stored entries alone; returns pages written.

        One batch: every file written without an fsync each, then all made durable at
        once; a journal makes a rebuild cut short run again on the next update."""
        if not locked:
            with self.locked():
                return self.rebuild(locked=True)
        if self._batch is None:
            # A batch cut short by a power loss may have left entries torn: its
            # journal puts them back first (and a rebuild's journal must not replace it).
            self.recover()
        with self._batched() as batch:
            if not batch.journal:
                self._begin({"rebuild": True})
            return self._rebuild()

    def _rebuild(self) -> int:
        self._drop_tree("columns")
        self._drop_tree("links")
        entries = [e for i in self.entry_ids() if (e := self.entry(i))]
        rows: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        cols: dict[str, _Column] = {}
        links: dict[str, list[str]] = {}
        users: dict[str, list[str]] = {}
        for col in _fixed_columns():
            cols[col.key] = col
        for e in entries:
            for col in _columns_of(e):
                cols[col.key] = col
                rows.setdefault((col.key, e["month"]), {})[e["id"]] = _row(e, col)
            if e["interprets"] and not e["gone"]:
                links.setdefault(e["interprets"], []).append(e["id"])
            if not e["gone"]:
                for a in e["attachments"]:
                    path = f"{a['sha256']}/{a['name']}"
                    users.setdefault(path, []).append(e["id"])
        for target, ids in links.items():
            self._put_json(f"links/{target}.json", sorted(ids))
        self._drop_json("files.json")
        if users:
            self._put_json(
                "files.json", {k: sorted(v) for k, v in sorted(users.items())}
            )
        months: dict[str, dict[str, int]] = {}
        self._drop_json("lastmod.json")
        for (key, month), found in sorted(rows.items()):
            self._put_json(f"columns/{key}/{month}.json", found)
            if key == "all":
                self._lastmod(month, found)
            months.setdefault(key, {})[month] = len(found)
        for key, col in cols.items():
            if key not in months:
                continue
            self._put_json(
                f"columns/{key}/months.json", dict(sorted(months[key].items()))
            )
            self._put_json(f"columns/{key}/column.json", col.__dict__)
        count = 0
        for e in entries:
            count += self._item_page(e["id"])
        for key, col in cols.items():
            for month in months.get(key, {}):
                count += self._month_page(col, month, months[key])
            count += self._column_index(col, months.get(key, {}))
        count += self._site_pages(months.get("all", {}))
        self.write_assets()
        # The audit page from the witness state, or saying no checkpoint is published
        # yet; but checkpoints published and their state lost: it stays as it is.
        witnessed = self._json("witness.json", None)
        if (
            witnessed is not None
            or not (self.root / AUDIT / "checkpoint.txt").is_file()
        ):
            self._audit_pages(witnessed)
        self._prune(entries, cols, months)
        self._prune_files(set(users))
        self._put_json("site.json", self._fingerprint())
        return count

    def _prune_files(self, used: set[str]) -> None:
        base = self.root / "files"
        if not base.is_dir():
            return
        for f in sorted(base.glob("*/*")):
            if f.is_file() and f.relative_to(base).as_posix() not in used:
                f.unlink()
        for folder in base.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _prune(
        self,
        entries: list[dict[str, Any]],
        cols: Mapping[str, _Column],
        months: Mapping[str, Mapping[str, int]],
    ) -> None:
        """Remove pages no entry accounts for any more (after a rebuild)."""
        keep = {
            f"{c.path}/{m}.html" for k, c in cols.items() for m in months.get(k, {})
        }
        keep |= {f"{c.path}/index.html" for c in cols.values()}
        keep |= {f"{c.path}/index.html" for c in _fixed_columns()}
        keep |= set(_SECTION_PAGES)
        for folder in ("list", "stage", "area", "agency", "xxgk"):
            base = self.root / folder
            if not base.is_dir():
                continue
            for page in base.rglob("*.html"):
                relative = page.relative_to(self.root).as_posix()
                if relative not in keep and relative != "agency/index.html":
                    page.unlink()
        all_months = set(months.get("all", {}))
        for folder, suffix in (("search", ".json"), ("sitemaps", ".xml")):
            base = self.root / folder
            if base.is_dir():
                for f in base.glob(f"*{suffix}"):
                    if f.stem not in all_months and f.stem not in ("index", "pages"):
                        f.unlink()

    # -- audit checkpoints --------------------------------------------------------------

    def witness(self, checkpoints: Sequence[PublishedCheckpoint], key: str) -> None:
        """Publish checked checkpoints (oldest first) and the verifier key text (one
        key per line: the current key, then the retired ones).

        Every file is written atomically, under the lock, and only if its bytes change:
        each note, the key, the newest note, the state the page is re-rendered from on a
        rebuild, then the page and the feed."""
        with self.locked():
            self.recover()  # a batch cut short: finish (or undo) it first
            if self._json("site.json", None) != self._fingerprint():
                self.rebuild(locked=True)  # the page's links need a current site
            self.write_assets()
            for c in checkpoints:
                self._write(f"{AUDIT}/checkpoints/{c.number}.txt", c.note)
            self._write(f"{AUDIT}/public-key.txt", key + "\n")
            if checkpoints:
                self._write(f"{AUDIT}/checkpoint.txt", checkpoints[-1].note)
            state = {
                "public_key": key,
                "checkpoints": [
                    {
                        "number": c.number,
                        "size": c.size,
                        "root_hex": c.root_hex,
                        "at": c.at.isoformat(),
                        "note": c.note,
                        "origin": c.origin,
                    }
                    for c in checkpoints
                ],
            }
            self._put_json("witness.json", state)
            self._audit_pages(state)

    def _audit_pages(self, state: Mapping[str, Any] | None) -> None:
        """The 审计检查点 page and (with checkpoints) its Atom feed, from the state."""
        checkpoints = [
            PublishedCheckpoint(
                number=c["number"],
                size=c["size"],
                root_hex=c["root_hex"],
                at=datetime.fromisoformat(c["at"]),
                note=c["note"],
                origin=c["origin"],
            )
            for c in (state or {}).get("checkpoints", [])
        ]
        key: str | None = state["public_key"] if state else None
        head = _Head("审计检查点", "审计检查点", "审计")
        self._write(
            "audit/index.html",
            self.layout.page(
                1,
                head,
                _audit_main(checkpoints, key),
                canonical=self._url("audit/index.html"),
            ),
        )
        if checkpoints:
            self._write(
                "audit/checkpoints.xml",
                checkpoint_feed(
                    checkpoints,
                    self_url=self._url("audit/checkpoints.xml"),
                    site_url=self.settings.site_url,
                    title=f"{self.settings.site_name}：审计检查点",
                    author=self.settings.site_name,
                ),
            )

    def inventory(self) -> set[UUID]:
        """The items with a page in `items/` (withdrawal notices included), read from
        the folder, not from the stored entries: a page copied in by hand counts."""
        folder = self.root / "items"
        if not folder.is_dir():
            return set()
        return {
            UUID(p.name.removesuffix(".html"))
            for p in folder.iterdir()
            if _ITEM_PAGE.fullmatch(p.name) and p.is_file()
        }

    # -- the expected site --------------------------------------------------------------

    def build(self, renditions: Iterable[bytes]) -> None:
        """Store the renditions (a newer version of an item wins over an older one, as in
        `apply`) and render the whole site from them; attachments are not copied."""
        with self.locked():
            newest: dict[str, tuple[int, bytes]] = {}
            for data in renditions:
                entry = json.loads(data)["entry"]
                known = newest.get(entry["id"])
                if known is None or known[0] <= entry["version"]:
                    newest[entry["id"]] = (entry["version"], data)
            for item_id, (_, data) in sorted(newest.items()):
                self._write(f"entries/{item_id}.json", data, base=self.state)
            if newest:
                self.rebuild(locked=True)

    def attachment_users(self) -> dict[str, list[str]]:
        """`files/<sha256>/<name>` → ids of the live items that link to it."""
        users: dict[str, list[str]] = self._json("files.json", {})
        return {f"files/{k}": list(v) for k, v in users.items()}

    # -- reading back -------------------------------------------------------------------

    def read_back(self, item_id: str) -> bytes | None:
        """The item's rendition as the site holds it, or None when it is not there.

        The stored entry is returned only if the public page still carries the article
        verbatim and every attachment file still has its sha256; otherwise the page bytes
        are returned, so a comparison with the expected rendition reports the drift.
        """
        raw_path = self.state / "entries" / f"{item_id}.json"
        page = self.root / "items" / f"{item_id}.html"
        if not raw_path.is_file() or not page.is_file():
            return None
        raw = raw_path.read_bytes()
        stored = json.loads(raw)
        shown = page.read_bytes()
        if stored["article"].encode("utf-8") not in shown:
            return shown
        sealed: dict[str, str] = self._json("sealed.json", {})
        for a in stored["entry"]["attachments"]:
            target = f"files/{a['sha256']}/{a['name']}"
            # A sealed file is published opened: its digest is the one taken when it
            # was copied (the log holds the sealed blob's).
            expected = sealed.get(target) if a.get("sealed") else a["sha256"]
            f = self.root / target
            if (
                not f.is_file()
                or hashlib.sha256(f.read_bytes()).hexdigest() != expected
            ):
                return shown
        return raw


def _audit_main(checkpoints: Sequence[PublishedCheckpoint], key: str | None) -> str:
    """The main content of `audit/index.html`: the key, how to verify, every checkpoint
    newest first."""
    notes = f"../{CHECKPOINT_NOTES}/"
    parts = [
        '<nav class="crumbs" aria-label="当前位置"><a href="../index.html">首页</a>'
        " / 审计检查点</nav>",
        "<h1>审计检查点（日志公证）</h1>",
        "<p>本网站发布、更正和撤回的每一条政务公开信息，都作为一个事件记入发布系统的审计"
        "日志。审计日志是一棵 Merkle 树（RFC 6962）：已记录的事件一旦被改动、删除或调换"
        "顺序，树的根哈希就会改变。发布机关定期对日志的事件数和根哈希签名，形成检查点，"
        "在此公开发布，供公众保存和核对。</p>",
    ]
    if key is None:
        parts.append('<p class="empty">本网站尚未发布审计检查点。</p>')
        return "\n".join(parts)
    current, *retired = key.splitlines() or [""]
    old = (
        "<p>已停用的公钥（轮换前的检查点由它们签名；每次轮换由新旧两把密钥共同签名的"
        "检查点交接，公钥文件中也列出它们）：</p>\n"
        + "".join(
            f'<p class="hash retired"><code>{esc(k)}</code></p>\n' for k in retired
        )
        if retired
        else ""
    )
    parts.append(
        '<section aria-labelledby="key-h"><h2 id="key-h">验证公钥</h2>\n'
        "<p>检查点用下面的 Ed25519 公钥签名（C2SP signed-note 格式）：</p>\n"
        f'<p class="hash"><code>{esc(current)}</code></p>\n'
        f"{old}"
        f'<p><a href="../{AUDIT}/public-key.txt">下载公钥文件 public-key.txt</a></p>'
        "</section>"
    )
    parts.append(
        '<section aria-labelledby="how-h"><h2 id="how-h">如何验证</h2>\n<ol>\n'
        "<li>下载公钥文件 <code>public-key.txt</code>，并保存本页列出的检查点文件。</li>\n"
        "<li>向发布机关获取审计日志的导出目录（由 <code>syndicate audit export</code> "
        "生成）。</li>\n"
        "<li>运行 <code>syndicate audit verify --export DIR --pubkey public-key.txt"
        "</code>（DIR 为导出目录），核对导出中的检查点签名、事件数和根哈希。</li>\n"
        "<li>将结果与本页公布的检查点逐一比对：同一编号的事件数和根哈希必须一致，"
        "否则说明日志已被改写。</li>\n</ol>\n"
        f"<p>最新的检查点也发布在 <code>/{AUDIT}/checkpoint.txt</code>。</p></section>"
    )
    if not checkpoints:
        parts.append('<p class="empty">本网站尚未发布审计检查点。</p>')
        return "\n".join(parts)
    origins = "、".join(
        f"<code>{esc(o)}</code>" for o in sorted({c.origin for c in checkpoints})
    )
    rows = []
    for c in sorted(checkpoints, key=lambda c: c.number, reverse=True):
        at = c.at.astimezone(CHINA_TZ)
        rows.append(
            f'<tr id="checkpoint-{c.number}"><td>#{c.number}</td>'
            f'<td><time datetime="{at.isoformat()}">'
            f"{at.strftime('%Y-%m-%d %H:%M:%S')}</time></td>"
            f"<td>{c.size:,}</td>"
            f'<td class="hash"><code>{esc(c.root_hex)}</code></td>'
            f'<td><a href="{notes}{c.number}.txt">{c.number}.txt</a></td></tr>'
        )
    parts.append(
        '<section aria-labelledby="list-h"><h2 id="list-h">检查点列表</h2>\n'
        f"<p>共 {len(checkpoints)} 个检查点，最新的在前（时间为北京时间）。"
        f"日志标识：{origins}。"
        '<a href="checkpoints.xml">订阅检查点（Atom）</a></p>\n'
        '<table class="history checkpoints"><thead><tr>'
        '<th scope="col">编号</th><th scope="col">时间</th>'
        '<th scope="col">事件数</th><th scope="col">根哈希（SHA-256）</th>'
        '<th scope="col">签名检查点</th></tr></thead><tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table></section>"
    )
    return "\n".join(parts)


def _page_prefix(entry: Mapping[str, Any]) -> str:
    """What an item page's title says before the item's title, if anything."""
    if entry["withdrawn"]:
        return "[已撤回] "
    if entry["gone"]:
        if entry.get("notice_ended") == "remove":
            return "[公示期已结束] "
        return "[已不在本网站公开] "
    lapsed = _lapsed(entry)
    return f"[{lapsed}] " if lapsed else ""


def _adjacent(months: Mapping[str, int], month: str) -> tuple[str | None, str | None]:
    ordered = sorted(months)
    older = [m for m in ordered if m < month]
    newer = [m for m in ordered if m > month]
    return (older[-1] if older else None, newer[0] if newer else None)


def _neighbours(months: Mapping[str, int], month: str) -> list[str]:
    return [m for m in _adjacent(months, month) if m is not None]


_ASSETS = ("site.css", "site.js", "search.js", "favicon.svg")


def _nginx_headers(headers: Iterable[tuple[str, str]], indent: str = "") -> str:
    return "".join(f'{indent}add_header {k} "{v}" always;\n' for k, v in headers)


def _apache_headers(headers: Iterable[tuple[str, str]], indent: str = "") -> str:
    return "".join(f'{indent}Header always set {k} "{v}"\n' for k, v in headers)


def server_configs(settings: PortalSettings) -> dict[str, str]:
    """Sample web-server configuration for the site: {file name: text}.

    Attachments (`files/`) are sent as downloads that never run as the site: type
    `application/octet-stream`, `Content-Disposition: attachment`, `nosniff` and a
    sandboxing Content-Security-Policy; every other response gets the page headers of
    `syndicate.sitehttp` (what `syndicate serve` sends); dot-files are refused except
    `.well-known/`. Both files are snippets to include in the server block that
    publishes the web root."""
    root = settings.path.absolute()
    state = settings.state_folder().absolute()
    host = urlsplit(settings.site_url).hostname or "_"
    files = root / ATTACHMENTS
    head = (
        f"# Written by syndicate (portal outlet) for the site in {root}\n"
        f"# ({settings.site_url}); rewritten when syndicate writes the site, so copy it\n"
        "# elsewhere before changing it. It lives in the outlet's state folder, outside\n"
        "# the web root, and is not published.\n#\n"
    )
    why = (
        "# Attachments (files/<sha256>/<name>) are whatever people uploaded, HTML and\n"
        "# SVG with scripts included. Served from this origin as a page they would run\n"
        "# as the site; so: always a download, of no renderable type, in a sandbox.\n"
    )
    nginx = (
        head + "# Include it inside the server block that publishes the site:\n#\n"
        "#     server {\n"
        "#         listen 443 ssl;\n"
        f"#         server_name {host};\n"
        f"#         root {root};\n"
        f"#         include {state / 'nginx.conf'};\n"
        "#     }\n#\n"
        "# nginx drops inherited add_header lines in a block that has add_header lines\n"
        "# of its own: a location you add with add_header must repeat the ones below.\n"
        "# Add Strict-Transport-Security where TLS is set up.\n\n"
        "# Pages: scripts, styles, images and requests from the site itself only.\n"
        "charset utf-8;\n"
        f"{_nginx_headers(PAGE_HEADERS)}\n"
        f"{why}"
        "# The browser takes the file name from the URL (UTF-8, percent-encoded) and\n"
        "# the page's download link. ^~ keeps regular-expression locations (a PHP\n"
        "# handler, the dot-file rule) away from attachments.\n"
        f"location ^~ /{ATTACHMENTS}/ {{\n"
        "    types { }\n"
        f"    default_type {ATTACHMENT_TYPE};\n"
        "    autoindex off;\n"
        '    add_header Content-Disposition "attachment";\n'
        f"{_nginx_headers(ATTACHMENT_HEADERS, '    ')}"
        "}\n\n"
        "# Dot-files and dot-folders are not published, except .well-known/ (the\n"
        "# audit key and checkpoints; remove this location if you have one already).\n"
        "location ^~ /.well-known/ { }\n"
        "location ~ /\\. { deny all; }\n"
    )
    apache = (
        head + "# Include it inside the <VirtualHost> that publishes the site (needs\n"
        "# mod_headers):\n#\n"
        f'#     ServerName {host}\n#     DocumentRoot "{root}"\n'
        f'#     Include "{state / "apache.conf"}"\n#\n'
        "# Add Strict-Transport-Security where TLS is set up.\n\n"
        "# Pages: scripts, styles, images and requests from the site itself only.\n"
        "AddDefaultCharset utf-8\n"
        f"{_apache_headers(PAGE_HEADERS)}\n"
        f"{why}"
        "# The browser takes the file name from the URL (UTF-8, percent-encoded) and\n"
        "# the page's download link. <Location> is merged last, so no handler (PHP)\n"
        "# and no type mapping applies to attachments; an attachment named .htaccess\n"
        "# is never read as configuration.\n"
        f'<Directory "{files}">\n'
        "    AllowOverride None\n"
        "    Options None\n"
        "</Directory>\n"
        f'<Location "/{ATTACHMENTS}/">\n'
        "    SetHandler None\n"
        f"    ForceType {ATTACHMENT_TYPE}\n"
        "    DirectoryIndex disabled\n"
        '    Header set Content-Disposition "attachment"\n'
        f"{_apache_headers(ATTACHMENT_HEADERS, '    ')}"
        "</Location>\n\n"
        "# Dot-files and dot-folders are not published, except .well-known/ (the\n"
        "# audit key and checkpoints).\n"
        '<LocationMatch "/\\.(?!well-known/)">\n'
        "    Require all denied\n"
        "</LocationMatch>\n"
    )
    return {"nginx.conf": nginx, "apache.conf": apache}


def _asset(name: str) -> bytes:
    return (Path(__file__).parent / "portal_assets" / name).read_bytes()


class PortalAdapter(
    BaseAdapter[PortalSettings],
    DeliversMany,
    ReadsBack,
    TakesInventory,
    Witnesses,
    ExpectsFiles,
):
    """A static site: one item's rendition per delivery, the pages it affects re-rendered."""

    kind: ClassVar[str] = "portal"
    label: ClassVar[str | None] = "政府门户网站"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,
        retracts=True,  # the page becomes a withdrawal notice and leaves every list
        keeps_withdrawn=True,
        deduplicates=True,  # applying the same rendition again changes nothing
        reads_back=True,
    )

    def __init__(self, settings: BaseModel) -> None:
        super().__init__(settings)
        self.site = PortalSite(self.settings)

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        item = job.item
        # Withdrawn, or no longer for this outlet (e.g. no longer proactively disclosed):
        # the page becomes a notice and the item leaves every list.
        # A 公示 removed once its window ended is gone too, whatever comes after.
        gone = (
            item.withdrawn
            or item.notice_ended == "remove"
            or job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE)
        )
        entry = _entry(item, gone)
        table = _catalogue_table(job, gone)
        if table is not None:
            entry["table"] = table
        data = canonical_json(
            {"schema": SCHEMA, "entry": entry, "article": _article(item, gone)}
        )
        meta = {}
        if job.attachments is not None and item.content.attachments:
            meta["attachments"] = str(job.attachments)
        return Rendition.of(
            data,
            "application/vnd.syndicate.portal+json",
            key=str(job.delivery_id),
            meta=meta,
        )

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        (result,) = self.deliver_many([rendition], session)
        if isinstance(result, DeliveryError):
            raise result
        return result

    def deliver_many(
        self, renditions: Sequence[Rendition], session: requests.Session
    ) -> list[Receipt | DeliveryError]:
        """Apply the renditions in one batch (`PortalSite.apply_many`): each page the
        batch touches is rendered once, and one durable commit covers every file."""
        given = [
            (r.data, Path(r.meta["attachments"]) if r.meta.get("attachments") else None)
            for r in renditions
        ]
        # A name the file system refuses is an attachment's: the operator renames it.
        with file_errors(
            "cannot write the site",
            name_advice=_NAME_ADVICE,
        ):
            errors, pages = self.site.apply_many(given)
        detail = {"pages": str(pages)}
        if len(renditions) > 1:
            detail["batch"] = str(len(renditions))
        out: list[Receipt | DeliveryError] = []
        for rendition, error in zip(renditions, errors, strict=True):
            if error is not None:
                out.append(error)
                continue
            entry = json.loads(rendition.data)["entry"]
            out.append(Receipt(remote_id=f"items/{entry['id']}.html", detail=detail))
        return out

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The item's rendition as the site holds it (see `PortalSite.read_back`)."""
        return self.site.read_back(str(job.item.item_id))

    def inventory(self, session: requests.Session) -> set[UUID]:
        """Every item with a page on the site, notices included (from `items/`)."""
        return self.site.inventory()

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The site the renditions and checkpoints give, written into `scratch` by the
        code `deliver` and `witness` use; its state goes to a temporary folder, and
        attachments are named as links to the attachment store, not copied."""
        with tempfile.TemporaryDirectory(prefix="syndicate-portal-state-") as state:
            settings = self.settings.model_copy(
                update={"path": scratch, "state_path": Path(state) / "state"}
            )
            site = PortalSite(settings, durable=False)
            site.build(r.data for r in renditions)
            if public_key is not None:
                key, checked = checked_checkpoints(checkpoints, public_key)
                site.witness(checked, key)
            with site.locked():
                users = site.attachment_users()
        stores = {
            json.loads(r.data)["entry"]["id"]: r.meta.get("attachments", "")
            for r in renditions
        }
        linked: dict[str, Path] = {}
        owners: dict[str, tuple[UUID, ...]] = {}
        for relative, ids in users.items():
            sha = relative.split("/")[1]
            store = next((stores[i] for i in ids if stores.get(i)), "")
            linked[relative] = (
                Path(store) / sha[:2] / sha if store else scratch / relative
            )
            owners[relative] = tuple(UUID(i) for i in ids)
        for page in (scratch / "items").glob("*.html"):
            if _ITEM_PAGE.fullmatch(page.name):
                owners[f"items/{page.name}"] = (UUID(page.stem),)
        return OutletFolder(root=self.settings.path, linked=linked, owners=owners)

    def witness(
        self, checkpoints: Sequence[WitnessedCheckpoint], public_key: str
    ) -> None:
        """Publish the signed checkpoints and the verifier key (see the module doc).

        Raises ValueError, before writing anything, if the key is malformed or a note
        does not verify under it or disagrees with its checkpoint's size or root."""
        key, checked = checked_checkpoints(checkpoints, public_key)
        self.site.witness(checked, key)


def item_url(site_url: str, item_id: UUID | str) -> str:
    """The public URL of an item's page on a portal at `site_url`."""
    return f"{site_url.rstrip('/')}/items/{item_id}.html"
