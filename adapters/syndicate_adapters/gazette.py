"""`gazette`: the 政府公报 — numbered periodic issues (web pages and PDF) and their database.

A 政府公报 compiles, period by period (a month by default, or a quarter), the 规章 and
行政规范性文件 released in the period into a numbered issue (「2026年第11期」, 「总第11期」)
with a table of contents (目录), printed as a PDF and shown as web pages. The outlet
writes, in its folder:

```
index.html                          公报数据库: every issue by year, newest first
issues.json                         the machine manifest (each issue's entries)
assets/gazette.css                  the pages' style sheet
<year>/index.html                   the year's issues, their 目录, a file index
<year>/<N>/index.html               issue N of the year: 目录, the documents in full,
                                    更正, 撤回 / 废止 / 失效 notes
<year>/<N>/issue.json               the issue's full content, as data
<year>/<N>/gazette-<year>-<N>.pdf   the issue as print: cover, 目录 with page numbers, text
```

Which items: those whose `content.channels` include `gazette` (an item that names no
channels does not). The outlet itself takes every item change (configure it without a
channel restriction), because an issue closes at the first change after its period: the
issue of a period is compiled when a job's newest time (`as of`: the newest `updated_at`
of the job's items and their past versions) lies past the period's end. The open period
is never published.

An issue is compiled from the versions public by its period's end only (the job carries
every earlier released version, `Capabilities.needs_history`), so once compiled it never
changes: a later revision of a document appears as a 更正 in the issue of the period it
happened in, a withdrawal (撤回), repeal (废止) or expiry (失效) as a note in that period's
issue. Periods with nothing are skipped; issues are numbered consecutively within the year
(年第N期) and overall (总第N期).

- 本期文件: gazette documents first public (as gazette documents) by the end of the
  period and in no earlier issue, each as it stood at the end of the period;
- 更正: documents of an earlier issue whose text was revised within the period (the text
  at the period's end, with each revision's 更正说明);
- notes: gazette documents withdrawn, repealed or expired within the period (title, 文号,
  date and the public statement).

The rendition carries the folder's data and lists as canonical JSON
(`file_set_rendition`): every issue's full content (`<year>/<N>/issue.json`), the year
pages, the database page, the manifest and the style sheet. An issue's page and PDF are
drawn from its `issue.json` alone, which names the layout they are drawn with (a digest of
the drawing code, the fonts and the libraries' versions): `deliver` draws them only for an
issue whose data in the folder is not already the rendition's, so a change draws the new
issue only, and an upgrade that would draw differently draws every issue again. PDFs are
drawn like the notice board's sheets (`noticeboard.render_pdf`: the bundled Noto fonts
cut to size, WeasyPrint with its randomness and clock removed), so the same issue gives
the same bytes on any machine. `expected_files` draws every issue anew for `audit
consistency` and `repair`; `read_back` reads the files the rendition carries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Final, Literal
from uuid import UUID

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndicate.adapter import (
    Capabilities,
    ChannelCategory,
    DeliveryJob,
    ExpectsFiles,
    ItemView,
    OutletFolder,
    ReadsBack,
    Receipt,
    Rendition,
    TakesInventory,
    VersionRecord,
    WitnessedCheckpoint,
)
from syndicate.adapterkit import (
    CHINA_TZ,
    UUID_PATTERN,
    BaseAdapter,
    FolderWriter,
    canonical_json,
    file_errors,
    file_set,
    file_set_rendition,
    read_file_set,
    refuse_review_notice,
)
from syndicate.errors import PermanentDeliveryError
from syndicate_adapters import _html as _html_module
from syndicate_adapters import noticeboard as _noticeboard_module
from syndicate_adapters._fonts import (
    checked_font,
)
from syndicate_adapters._html import esc, markdown_html
from syndicate_adapters.noticeboard import (
    BODY_FAMILIES,
    HEADING_FAMILIES,
    SheetFont,
    render_pdf,
    sheet_fonts,
)
from syndicate_adapters.noticeboard import body_html as print_body_html

__all__ = [
    "MEDIA_TYPE",
    "GazetteAdapter",
    "GazetteSettings",
    "compile_issues",
    "issue_files",
    "print_html",
]

MEDIA_TYPE: Final = "application/vnd.syndicate.gazette+json"
SCHEMA: Final = 1
_ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$"
_UUID: Final = re.compile(UUID_PATTERN)
# Libraries whose versions change how an issue's page and PDF are drawn: part of each
# issue's layout digest, so an upgrade draws the issues again instead of leaving pages
# and PDFs the audit would call drifted.
_LAYOUT_LIBRARIES: Final = (
    "weasyprint",
    "pydyf",
    "fonttools",
    "uharfbuzz",
    "markdown-it-py",
    "nh3",
)


class GazetteSettings(BaseModel):
    """`[outlets.NAME]` settings of a 政府公报."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(
        description="Folder the gazette's pages and PDFs are written to."
    )
    title: str = Field(
        min_length=2,
        max_length=40,
        pattern=_ONE_LINE,
        description="The gazette's name, e.g. 临溪县人民政府公报.",
    )
    publisher: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        pattern=_ONE_LINE,
        description="编辑出版单位, printed on the cover and every page's foot, e.g. "
        "临溪县人民政府办公室.",
    )
    period: Literal["month", "quarter"] = Field(
        default="month",
        description="How often an issue appears: month (月刊) or quarter (季刊).",
    )
    portal_url: str | None = Field(
        default=None,
        pattern=r"^https://[^\s\"'<>\\]+$",
        description="https base URL of the portal; each document then links to "
        "{portal_url}/items/{item id}.html.",
    )
    body_font: Path | None = Field(
        default=None,
        description="A font file for the PDF's text (e.g. 仿宋_GB2312); characters "
        "it lacks fall back to Noto Serif SC, which ships with syndicate.",
    )
    heading_font: Path | None = Field(
        default=None,
        description="A font file for the PDF's titles (e.g. 方正小标宋简体); characters "
        "it lacks fall back to Noto Sans SC, which ships with syndicate.",
    )

    @field_validator("body_font", "heading_font")
    @classmethod
    def _readable_font(cls, value: Path | None) -> Path | None:
        return checked_font(value)


# -- periods ------------------------------------------------------------------------------

_MONTHS: Final = {"month": 1, "quarter": 3}
_QUARTERS: Final = ("一", "二", "三", "四")


def period_index(kind: str, moment: datetime) -> int:
    """The period (months or quarters since year 0, China time) holding `moment`."""
    local = moment.astimezone(CHINA_TZ)
    return (local.year * 12 + local.month - 1) // _MONTHS[kind]


def period_start(kind: str, index: int) -> datetime:
    """The first moment of period `index` (midnight China time)."""
    year, month0 = divmod(index * _MONTHS[kind], 12)
    return datetime(year, month0 + 1, 1, tzinfo=CHINA_TZ)


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _period_facts(kind: str, index: int) -> dict[str, str]:
    start = period_start(kind, index)
    after = period_start(kind, index + 1)
    last = (after - timedelta(days=1)).date()
    if kind == "month":
        label = f"{start.year}年{start.month}月"
    else:
        label = f"{start.year}年第{_QUARTERS[(start.month - 1) // 3]}季度"
    return {
        "kind": kind,
        "start": start.date().isoformat(),
        "end": last.isoformat(),
        "label": label,
        "span": f"{_day(start.date())}至{_day(last)}",
    }


# -- compiling issues ---------------------------------------------------------------------


def _gazette(view: ItemView) -> bool:
    return ChannelCategory.GAZETTE in view.content.channels


def _iso(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


@dataclass
class _Item:
    """One item's released versions (oldest first) and its public history."""

    views: list[ItemView]
    records: list[VersionRecord]

    @property
    def first(self) -> ItemView:
        return self.views[0]

    def as_of(self, end: datetime) -> ItemView | None:
        """The version public just before `end`, or None."""
        found = None
        for view in self.views:
            if view.updated_at < end:
                found = view
        return found

    def before(self, version: int) -> ItemView | None:
        """The newest version older than `version`."""
        found = None
        for view in self.views:
            if view.version < version:
                found = view
        return found

    def at(self, version: int) -> ItemView | None:
        for view in self.views:
            if view.version == version:
                return view
        return None


def _synthesised(views: Sequence[ItemView]) -> list[VersionRecord]:
    """A history for views that carry none (hand-built jobs): one record per version."""
    records = []
    previous: ItemView | None = None
    for view in views:
        if previous is None:
            event = "Published"
        elif view.withdrawn and not previous.withdrawn:
            event = "Withdrawn"
        elif view.repealed and not previous.repealed:
            event = "Repealed"
        elif view.expired and not previous.expired:
            event = "Expired"
        else:
            event = "Revised"
        reason = {
            "Repealed": view.repealed,
            "Expired": view.expired,
            "Withdrawn": view.public_note,
        }.get(event, view.reason)
        records.append(
            VersionRecord(
                view.version, event, view.updated_at, "", view.content_hash, reason
            )
        )
        previous = view
    return records


def _items(job: DeliveryJob) -> dict[UUID, _Item]:
    """Every item of the job with all its released versions (duplicates folded)."""
    found: dict[tuple[UUID, int], ItemView] = {}
    for view in (*job.past_versions, *job.live_items, *job.withdrawn_items, job.item):
        found.setdefault((view.item_id, view.version), view)
    grouped: dict[UUID, list[ItemView]] = {}
    for key in sorted(found, key=lambda k: (str(k[0]), k[1])):
        grouped.setdefault(key[0], []).append(found[key])
    items = {}
    for item_id, views in grouped.items():
        views.sort(key=lambda v: (v.updated_at, v.version))
        newest = max(views, key=lambda v: v.version)
        records = list(newest.history) or _synthesised(views)
        records.sort(key=lambda r: (r.at, r.version))
        items[item_id] = _Item(views, records)
    return items


def as_of(job: DeliveryJob) -> datetime:
    """The newest time the job knows of: what the outlet shows is as of then."""
    return max(
        v.updated_at
        for v in (*job.past_versions, *job.live_items, *job.withdrawn_items, job.item)
    )


def _portal_link(portal_url: str | None, item_id: UUID) -> str | None:
    if portal_url is None:
        return None
    return f"{portal_url.rstrip('/')}/items/{item_id}.html"


def _document(item: _Item, state: ItemView, portal_url: str | None) -> dict[str, Any]:
    c = state.content
    return {
        "item_id": str(state.item_id),
        "ref": state.ref,
        "version": state.version,
        "content_hash": state.content_hash,
        "title": c.title,
        "agency": c.agency,
        "index_no": c.index_no,
        "doc_no": c.doc_no,
        "formed_on": c.formed_on.isoformat(),
        "published_at": _iso(item.first.updated_at),
        "validity": c.validity.label if c.validity is not None else None,
        "valid_until": c.valid_until.isoformat() if c.valid_until else None,
        "body": c.body,
        # Sealed attachments hold personal data for a limited time: never in a gazette.
        "attachments": [a.name for a in c.attachments if not a.sealed],
        "url": _portal_link(portal_url, state.item_id),
    }


def _printed(view: ItemView) -> tuple[Any, ...]:
    """What an issue prints of a version: a revision that changes none of it (only
    the outlets it goes to, say) is no 更正."""
    c = view.content
    return (
        c.title,
        c.agency,
        c.index_no,
        c.doc_no,
        c.formed_on,
        c.validity,
        c.valid_until,
        c.body,
        tuple(a.name for a in c.attachments if not a.sealed),
    )


_NOTE_LABELS: Final = {"Withdrawn": "撤回", "Repealed": "废止", "Expired": "失效"}
_NOTE_KINDS: Final = {
    "Withdrawn": "withdrawn",
    "Repealed": "repealed",
    "Expired": "expired",
}


def _note(
    item: _Item, record: VersionRecord, portal_url: str | None
) -> dict[str, Any] | None:
    """The note on a withdrawal, repeal or expiry; None unless the document was a
    gazette document before it."""
    before = item.before(record.version)
    after = item.at(record.version)
    shown = before or after
    if shown is None or not _gazette(shown):
        return None
    c = shown.content
    if record.event == "Withdrawn":
        statement = (after.public_note if after else None) or "该文件已撤回。"
    else:
        statement = record.reason or ""
        if not statement and after is not None:
            statement = after.repealed or after.expired or ""
    return {
        "kind": _NOTE_KINDS[record.event],
        "label": _NOTE_LABELS[record.event],
        "item_id": str(shown.item_id),
        "ref": shown.ref,
        "version": after.version if after else record.version,
        "content_hash": (after or shown).content_hash,
        "title": c.title,
        "agency": c.agency,
        "doc_no": c.doc_no,
        "at": _iso(record.at),
        "statement": statement,
        "replaced_by_ref": after.replaced_by_ref if after else None,
        "url": _portal_link(portal_url, shown.item_id),
    }


@dataclass
class _Bucket:
    """What one period's issue holds, before numbering."""

    documents: list[tuple[tuple[str, str], dict[str, Any]]] = field(
        default_factory=list
    )
    corrections: list[tuple[tuple[str, str], dict[str, Any], int]] = field(
        default_factory=list
    )
    notes: list[tuple[tuple[str, str], dict[str, Any], int | None]] = field(
        default_factory=list
    )


def _first_issue(
    labels: Mapping[int, tuple[str, str]], earlier: int | None, now: int
) -> dict[str, str] | None:
    """The issue (label, page) a document first appeared in, if not this one."""
    if earlier is None or earlier == now or earlier not in labels:
        return None
    label, path = labels[earlier]
    return {"label": label, "path": path}


def compile_issues(
    job: DeliveryJob, settings: GazetteSettings
) -> tuple[list[dict[str, Any]], str | None]:
    """The closed issues as of the job (oldest first, without their layout), and the
    last day compiled (the end of the last closed period), None before any
    gazette document."""
    kind = settings.period
    # Links to the portal: the outlet's own setting, else the job's.
    portal = settings.portal_url or job.portal_url
    items = _items(job)
    newest = as_of(job)
    last_closed = period_index(kind, newest) - 1
    buckets: dict[int, _Bucket] = {}
    first_period: int | None = None
    for item in items.values():
        marked = [v.updated_at for v in item.views if _gazette(v)]
        if not marked:
            continue
        begins = period_index(kind, min(marked))
        first_period = begins if first_period is None else min(first_period, begins)
        times = [v.updated_at for v in item.views] + [r.at for r in item.records]
        appeared: int | None = None
        for p in sorted({period_index(kind, t) for t in times}):
            if p > last_closed:
                break
            start, end = period_start(kind, p), period_start(kind, p + 1)
            state = item.as_of(end)
            within = [r for r in item.records if start <= r.at < end]
            live = state is not None and not state.withdrawn and _gazette(state)
            bucket = buckets.setdefault(p, _Bucket())
            if appeared is None:
                if live and state is not None:
                    entry = _document(item, state, portal)
                    bucket.documents.append(
                        ((entry["published_at"], entry["ref"]), entry)
                    )
                    appeared = p
            elif live and state is not None:
                revisions = [r for r in within if r.event == "Revised"]
                earlier = item.as_of(start)
                if revisions and (
                    earlier is None or _printed(earlier) != _printed(state)
                ):
                    entry = _document(item, state, portal)
                    entry["revisions"] = [
                        {"version": r.version, "at": _iso(r.at), "reason": r.reason}
                        for r in revisions
                    ]
                    key = (_iso(revisions[0].at), entry["ref"])
                    bucket.corrections.append((key, entry, appeared))
            for record in within:
                if record.event in _NOTE_LABELS:
                    note = _note(item, record, portal)
                    if note is not None:
                        key = (note["at"], note["ref"])
                        bucket.notes.append((key, note, appeared))
    if first_period is None or last_closed < first_period:
        return [], None
    issues: list[dict[str, Any]] = []
    labels: dict[int, tuple[str, str]] = {}
    per_year: dict[int, int] = {}
    for p in sorted(buckets):
        bucket = buckets[p]
        if not (bucket.documents or bucket.corrections or bucket.notes):
            continue
        facts = _period_facts(kind, p)
        year = int(facts["start"][:4])
        per_year[year] = per_year.get(year, 0) + 1
        number = per_year[year]
        total = len(issues) + 1
        labels[p] = (f"{year}年第{number}期", f"{year}/{number}/index.html")
        documents = [e for _, e in sorted(bucket.documents, key=lambda t: t[0])]
        corrections = [
            {**entry, "first_issue": _first_issue(labels, earlier, p)}
            for _, entry, earlier in sorted(bucket.corrections, key=lambda t: t[0])
        ]
        notes = [
            {**entry, "first_issue": _first_issue(labels, seen, p)}
            for _, entry, seen in sorted(bucket.notes, key=lambda t: t[0])
        ]
        for n, entry in enumerate(documents, 1):
            entry["anchor"] = f"doc-{n}"
        for n, entry in enumerate(corrections, 1):
            entry["anchor"] = f"fix-{n}"
        for n, entry in enumerate(notes, 1):
            entry["anchor"] = f"note-{n}"
        after = period_start(kind, p + 1).date()
        issues.append(
            {
                "schema": SCHEMA,
                "gazette": settings.title,
                "publisher": settings.publisher,
                "year": year,
                "number": number,
                "total": total,
                "label": f"{year}年第{number}期",
                "period": facts,
                "published_on": after.isoformat(),
                "documents": documents,
                "corrections": corrections,
                "notes": notes,
                "pdf": {"file": f"gazette-{year}-{number}.pdf"},
            }
        )
    through = (period_start(kind, last_closed + 1) - timedelta(days=1)).date()
    return issues, through.isoformat()


# -- web pages ------------------------------------------------------------------------------

_HEADING = re.compile(r"<(/?)h([1-6])\b")


@functools.lru_cache(maxsize=4096)
def web_body(markdown: str) -> str:
    """A document's body as safe HTML for an issue page, its headings moved so the
    highest is an h4 (the document's title is an h3), their order kept."""
    safe = markdown_html(markdown)
    levels = [int(m[2]) for m in _HEADING.finditer(safe)]
    if not levels:
        return safe
    shift = 4 - min(levels)
    return _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + shift, 6)}", safe)


def _date_of(iso: str) -> str:
    return _day(date.fromisoformat(iso[:10]))


def _page(title: str, root: str, body: str, description: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<meta name="description" content="{esc(description)}">\n'
        '<meta name="generator" content="syndicate gazette">\n'
        f'<link rel="stylesheet" href="{root}assets/gazette.css">\n'
        "</head>\n<body>\n" + body + "</body>\n</html>\n"
    )


def _masthead(gazette: str, root: str, crumbs: Sequence[tuple[str, str | None]]) -> str:
    trail = []
    for label, href in crumbs:
        if href is None:
            trail.append(f'<li aria-current="page">{esc(label)}</li>')
        else:
            trail.append(f'<li><a href="{esc(href)}">{esc(label)}</a></li>')
    return (
        '<header class="masthead">\n'
        f'<p class="gazette-name"><a href="{root}index.html">{esc(gazette)}</a></p>\n'
        '<nav class="crumbs" aria-label="当前位置"><ol>'
        + "".join(trail)
        + "</ol></nav>\n</header>\n"
    )


def _footer(gazette: str, publisher: str | None) -> str:
    who = f"编辑出版：{esc(publisher)}　" if publisher else ""
    return (
        '<footer class="colophon">\n'
        f"<p>{who}《{esc(gazette)}》刊登的规章和行政规范性文件文本为标准文本。</p>\n"
        "<p>公报一经出版不再改动：文件修改的，在后续一期以“更正”刊登；文件撤回、废止、"
        "失效的，在当期说明。</p>\n</footer>\n"
    )


def _doc_no(entry: Mapping[str, Any]) -> str:
    return f"（{entry['doc_no']}）" if entry.get("doc_no") else ""


def _toc_lists(issue: Mapping[str, Any], prefix: str) -> str:
    """The issue's 目录 as linked lists (`prefix`: the path of the issue page)."""
    parts = []
    for key, heading in _SECTIONS:
        entries = issue[key]
        if not entries:
            continue
        items = []
        for entry in entries:
            tag = f"【{entry['label']}】" if key == "notes" else ""
            items.append(
                f'<li><a href="{prefix}#{entry["anchor"]}">{tag}'
                f"{esc(entry['title'])}</a>"
                f'<span class="doc-no">{esc(_doc_no(entry))}</span></li>'
            )
        parts.append(
            f'<li class="toc-section"><span class="toc-heading">{heading}</span>'
            f'<ol class="toc-entries">{"".join(items)}</ol></li>'
        )
    return f'<ol class="toc">{"".join(parts)}</ol>'


_SECTIONS: Final = (
    ("documents", "本期文件"),
    ("corrections", "更正"),
    ("notes", "文件撤回、废止、失效情况"),
)


def _meta_list(rows: Iterable[tuple[str, str | None]]) -> str:
    cells = "".join(
        f"<div><dt>{esc(label)}</dt><dd>{esc(value)}</dd></div>"
        for label, value in rows
        if value
    )
    return f'<dl class="meta">{cells}</dl>'


def _document_meta(entry: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    return [
        ("发布机构", entry["agency"]),
        ("索引号", entry["index_no"]),
        ("成文日期", _date_of(entry["formed_on"])),
        ("发布日期", _date_of(entry["published_at"])),
        ("时效", entry.get("validity")),
        (
            "有效期至",
            _date_of(entry["valid_until"]) if entry.get("valid_until") else None,
        ),
    ]


def _article(entry: Mapping[str, Any], correction: bool) -> str:
    anchor = entry["anchor"]
    parts = [
        f'<article class="document" id="{anchor}" aria-labelledby="{anchor}-title">',
        f'<h3 id="{anchor}-title">{esc(entry["title"])}</h3>',
    ]
    if entry.get("doc_no"):
        parts.append(f'<p class="doc-no">{esc(entry["doc_no"])}</p>')
    if correction:
        first = entry.get("first_issue")
        where = (
            f'原载<a href="../../{esc(first["path"])}">{esc(first["label"])}</a>。'
            if first
            else ""
        )
        notes = "".join(
            f"<li>{_date_of(r['at'])}：{esc(r['reason'] or '内容有更新。')}</li>"
            for r in entry["revisions"]
        )
        parts.append(
            f'<div class="correction"><p><strong>更正说明：</strong>{where}'
            f"现刊登更正后的文本。</p><ul>{notes}</ul></div>"
        )
    parts.append(_meta_list(_document_meta(entry)))
    parts.append(f'<div class="body">{web_body(entry["body"])}</div>')
    if entry["attachments"]:
        names = "".join(f"<li>{esc(name)}</li>" for name in entry["attachments"])
        parts.append(f'<div class="attachments"><p>附件：</p><ul>{names}</ul></div>')
    if entry.get("url"):
        parts.append(
            f'<p class="source">网上原文：<a href="{esc(entry["url"])}">'
            f"{esc(entry['url'])}</a></p>"
        )
    parts.append("</article>")
    return "\n".join(parts) + "\n"


def _note_article(entry: Mapping[str, Any]) -> str:
    anchor = entry["anchor"]
    first = entry.get("first_issue")
    where = (
        f'（原载<a href="../../{esc(first["path"])}">{esc(first["label"])}</a>）'
        if first
        else ""
    )
    replaced = (
        f"<p>替代文件：{esc(entry['replaced_by_ref'])}</p>"
        if entry.get("replaced_by_ref")
        else ""
    )
    source = (
        f'<p class="source">网上原文：<a href="{esc(entry["url"])}">'
        f"{esc(entry['url'])}</a></p>"
        if entry.get("url")
        else ""
    )
    return (
        f'<article class="note" id="{anchor}" aria-labelledby="{anchor}-title">\n'
        f'<h3 id="{anchor}-title"><span class="tag">{esc(entry["label"])}</span>'
        f"{esc(entry['title'])}</h3>\n"
        f"<p>{esc(entry['agency'])}{esc(_doc_no(entry))}{where}，"
        f"于{_date_of(entry['at'])}{esc(entry['label'])}。</p>\n"
        f"<p>说明：{esc(entry['statement'])}</p>\n{replaced}{source}</article>\n"
    )


def issue_page(issue: Mapping[str, Any]) -> str:
    """The web page of one issue."""
    gazette, label = issue["gazette"], issue["label"]
    heading = f"{gazette} {label}"
    period = issue["period"]
    body = [
        _masthead(
            gazette,
            "../../",
            [
                ("公报数据库", "../../index.html"),
                (f"{issue['year']}年", "../index.html"),
                (label, None),
            ],
        ),
        '<main id="main">\n',
        f'<h1><span class="name">{esc(gazette)}</span>'
        f'<span class="number">{esc(label)}（总第{issue["total"]}期）</span></h1>\n',
        _meta_list(
            [
                ("出版日期", _date_of(issue["published_on"])),
                ("收录期间", period["span"]),
                ("编辑出版", issue.get("publisher")),
            ]
        ),
        f'<p class="download"><a href="{esc(issue["pdf"]["file"])}">'
        f"下载本期PDF版（{esc(label)}）</a></p>\n",
        '<nav class="contents" aria-labelledby="toc-title">'
        '<h2 id="toc-title">目录</h2>\n' + _toc_lists(issue, "") + "</nav>\n",
    ]
    if issue["documents"]:
        body.append('<section aria-labelledby="documents-title">\n')
        body.append('<h2 id="documents-title">本期文件</h2>\n')
        body.extend(_article(e, correction=False) for e in issue["documents"])
        body.append("</section>\n")
    if issue["corrections"]:
        body.append('<section aria-labelledby="corrections-title">\n')
        body.append('<h2 id="corrections-title">更正</h2>\n')
        body.extend(_article(e, correction=True) for e in issue["corrections"])
        body.append("</section>\n")
    if issue["notes"]:
        body.append('<section aria-labelledby="notes-title">\n')
        body.append('<h2 id="notes-title">文件撤回、废止、失效情况</h2>\n')
        body.extend(_note_article(e) for e in issue["notes"])
        body.append("</section>\n")
    body.append("</main>\n")
    body.append(_footer(gazette, issue.get("publisher")))
    titles = "、".join(e["title"] for e in issue["documents"][:5])
    return _page(heading, "../../", "".join(body), f"{heading}：{titles}")


def _issue_summary(issue: Mapping[str, Any], prefix: str) -> str:
    """One issue in a list: its number, date, PDF and 目录 (`prefix`: the path from
    the listing page to the year folder's parent, with the issue's year folder)."""
    path = f"{prefix}{issue['number']}/index.html"
    pdf = f"{prefix}{issue['number']}/{issue['pdf']['file']}"
    count = len(issue["documents"])
    return (
        f'<li class="issue" id="issue-{issue["year"]}-{issue["number"]}">'
        f'<h3><a href="{esc(path)}">{esc(issue["label"])}</a>'
        f'<span class="total">总第{issue["total"]}期</span></h3>'
        f'<p class="issue-facts">出版日期：{_date_of(issue["published_on"])}'
        f"　收录期间：{esc(issue['period']['span'])}　本期文件{count}件"
        f'　<a href="{esc(pdf)}">PDF版</a></p>' + _toc_lists(issue, path) + "</li>\n"
    )


def database_page(
    settings: GazetteSettings, issues: Sequence[Mapping[str, Any]], through: str | None
) -> str:
    """The 公报数据库: every issue by year, newest first."""
    gazette = settings.title
    years = sorted({i["year"] for i in issues}, reverse=True)
    documents = sum(len(i["documents"]) for i in issues)
    body = [
        _masthead(gazette, "", [("公报数据库", None)]),
        '<main id="main">\n',
        f"<h1>{esc(gazette)}数据库</h1>\n",
        '<p class="intro">本库收录历期《'
        + esc(gazette)
        + "》，按年份浏览，每期提供网页版和PDF版。刊登的规章和行政规范性文件可按"
        "标题、文号、发布机构在本页查找。</p>\n",
    ]
    if through is not None:
        body.append(
            f'<p class="counts">收录至{_date_of(through)}，共{len(issues)}期，'
            f"刊登文件{documents}件。</p>\n"
        )
    if not issues:
        body.append('<p class="empty">暂无公报。</p>\n')
    else:
        links = "".join(f'<li><a href="{y}/index.html">{y}年</a></li>' for y in years)
        body.append(
            f'<nav class="years" aria-label="按年份浏览"><ol>{links}</ol></nav>\n'
        )
    for year in years:
        listed = [i for i in reversed(issues) if i["year"] == year]
        body.append(f'<section aria-labelledby="y{year}">\n')
        body.append(
            f'<h2 id="y{year}"><a href="{year}/index.html">{year}年</a>'
            f'<span class="count">共{len(listed)}期</span></h2>\n'
        )
        body.append('<ol class="issues">\n')
        body.extend(_issue_summary(i, f"{year}/") for i in listed)
        body.append("</ol>\n</section>\n")
    body.append("</main>\n")
    body.append(_footer(gazette, settings.publisher))
    return _page(
        f"{gazette}数据库", "", "".join(body), f"{gazette}：历期公报及刊登文件"
    )


def year_page(
    settings: GazetteSettings, year: int, issues: Sequence[Mapping[str, Any]]
) -> str:
    """One year's issues (newest first) and an index of the year's documents."""
    gazette = settings.title
    listed = list(reversed(issues))
    body = [
        _masthead(
            gazette,
            "../",
            [("公报数据库", "../index.html"), (f"{year}年", None)],
        ),
        '<main id="main">\n',
        f"<h1>{esc(gazette)} {year}年</h1>\n",
        f'<p class="counts">{year}年共出版{len(issues)}期。</p>\n',
        '<section aria-labelledby="issues-title">\n'
        '<h2 id="issues-title">各期目录</h2>\n<ol class="issues">\n',
    ]
    body.extend(_issue_summary(i, "") for i in listed)
    body.append("</ol>\n</section>\n")
    rows = []
    for issue in issues:
        path = f"{issue['number']}/index.html"
        for key, _ in _SECTIONS:
            for entry in issue[key]:
                kind = {"documents": "文件", "corrections": "更正"}.get(
                    key, entry.get("label", "")
                )
                rows.append(
                    f'<tr><td><a href="{path}#{entry["anchor"]}">'
                    f"{esc(entry['title'])}</a></td>"
                    f"<td>{esc(entry.get('doc_no') or '—')}</td>"
                    f"<td>{esc(entry['agency'])}</td><td>{esc(kind)}</td>"
                    f"<td>{esc(issue['label'])}</td></tr>"
                )
    body.append(
        '<section aria-labelledby="index-title">\n'
        f'<h2 id="index-title">{year}年文件索引</h2>\n'
        '<div class="table-wrap"><table class="file-index">'
        f"<caption>{year}年各期刊登的文件、更正和说明</caption>"
        '<thead><tr><th scope="col">标题</th><th scope="col">文号</th>'
        '<th scope="col">发布机构</th><th scope="col">类别</th>'
        '<th scope="col">期次</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>\n</section>\n"
    )
    body.append("</main>\n")
    body.append(_footer(gazette, settings.publisher))
    return _page(
        f"{gazette} {year}年", "../", "".join(body), f"{gazette}{year}年各期目录"
    )


def manifest(
    settings: GazetteSettings,
    issues: Sequence[Mapping[str, Any]],
    through: str | None,
    digests: Mapping[tuple[int, int], str],
) -> dict[str, Any]:
    """`issues.json`: each issue's number, period, files and entries (`digests`: the
    sha256 of each issue's `issue.json`, by year and number)."""
    listed = []
    for issue in issues:
        entries = []
        for key, kind in (("documents", None), ("corrections", "correction")):
            for e in issue[key]:
                entries.append(
                    {
                        "kind": kind or "document",
                        "item_id": e["item_id"],
                        "ref": e["ref"],
                        "version": e["version"],
                        "content_hash": e["content_hash"],
                        "title": e["title"],
                        "doc_no": e.get("doc_no"),
                        "anchor": e["anchor"],
                    }
                )
        for e in issue["notes"]:
            entries.append(
                {
                    "kind": e["kind"],
                    "item_id": e["item_id"],
                    "ref": e["ref"],
                    "version": e["version"],
                    "content_hash": e["content_hash"],
                    "title": e["title"],
                    "doc_no": e.get("doc_no"),
                    "anchor": e["anchor"],
                }
            )
        folder = f"{issue['year']}/{issue['number']}"
        listed.append(
            {
                "year": issue["year"],
                "number": issue["number"],
                "total": issue["total"],
                "label": issue["label"],
                "period": issue["period"],
                "published_on": issue["published_on"],
                "page": f"{folder}/index.html",
                "data": f"{folder}/issue.json",
                "pdf": f"{folder}/{issue['pdf']['file']}",
                "data_sha256": digests[(issue["year"], issue["number"])],
                "entries": entries,
            }
        )
    return {
        "schema": SCHEMA,
        "kind": "syndicate.gazette",
        "gazette": settings.title,
        "publisher": settings.publisher,
        "period": settings.period,
        "through": through,
        "issues": listed,
    }


def _json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# -- the print version --------------------------------------------------------------------

_PRINT_CSS: Final = """
@page {
  size: A4 portrait;
  margin: 25mm 22mm 22mm 22mm;
  @top-center { content: string(running); font-family: $body; font-size: 9pt;
    color: #333; }
  @bottom-center { content: "— " counter(page) " —"; font-family: $body;
    font-size: 10pt; }
}
@page :first {
  margin: 0;
  @top-center { content: none; }
  @bottom-center { content: none; }
}
html { font-family: $body; font-size: 12pt; line-height: 1.65; color: #000; }
body { margin: 0; }
.glyphs { display: none; }
.running { string-set: running content(); height: 0; margin: 0; overflow: hidden;
  visibility: hidden; }
.cover { height: 290mm; box-sizing: border-box;
  padding: 40mm 22mm 20mm 22mm; text-align: center; break-after: page;
  position: relative; }
.cover .name { font-family: $heading; color: #c00; font-size: 40pt;
  letter-spacing: 4pt; line-height: 1.25; margin: 0 0 10mm 0; }
.cover .rule { border-top: 2.5pt solid #c00; margin: 0 0 10mm 0; }
.cover .number { font-family: $heading; font-size: 22pt; margin: 0 0 4mm 0; }
.cover .total { font-size: 14pt; margin: 0 0 4mm 0; }
.cover .date { font-size: 14pt; margin: 0; }
.cover .span { font-size: 11pt; color: #333; margin: 3mm 0 0 0; }
.cover .imprint { position: absolute; left: 22mm; right: 22mm; bottom: 25mm;
  font-size: 12pt; border-top: 1pt solid #c00; padding-top: 4mm; }
.cover .imprint p { margin: 0 0 1mm 0; }
h2.part { font-family: $heading; font-weight: normal; font-size: 18pt;
  text-align: center; margin: 0 0 6mm 0; }
.contents { break-after: page; }
.contents h3 { font-family: $heading; font-weight: normal; font-size: 13pt;
  margin: 5mm 0 2mm 0; bookmark-level: none; }
.contents ol { list-style: none; margin: 0; padding: 0; }
.contents li { margin: 0 0 2mm 0; }
.contents a { color: #000; text-decoration: none; }
.contents a::after { content: leader(".") target-counter(attr(href url), page); }
.contents .doc-no { display: block; font-size: 10pt; color: #333; margin-left: 2em; }
section.part { break-before: page; }
section.part:first-of-type { break-before: auto; }
article { margin: 0 0 10mm 0; }
article h3 { font-family: $heading; font-weight: normal; font-size: 17pt;
  text-align: center; line-height: 1.4; margin: 4mm 0 2mm 0; break-after: avoid; }
article .doc-no { text-align: center; margin: 0 0 4mm 0; break-after: avoid; }
table.meta { border-collapse: collapse; font-size: 10pt; margin: 0 0 4mm 0;
  width: 100%; break-inside: avoid; }
table.meta th { font-weight: normal; text-align: left; color: #333;
  white-space: nowrap; width: 22mm; padding: 0.3mm 2mm 0.3mm 0; vertical-align: top; }
table.meta td { padding: 0.3mm 0; }
.body p { text-indent: 2em; margin: 0 0 2mm 0; }
.body h1, .body h2, .body h3, .body h4, .body h5, .body h6 { font-family: $heading;
  font-weight: normal; font-size: 13pt; margin: 3mm 0 1mm 0; break-after: avoid;
  bookmark-level: none; }
.body table { border-collapse: collapse; margin: 2mm 0; font-size: 10.5pt; }
.body th, .body td { border: 0.5pt solid #444; padding: 1mm 2mm; }
strong, th { font-family: $heading; font-weight: normal; }
.correction, .note-box { border: 1pt solid #c00; padding: 2mm 4mm; margin: 0 0 4mm 0; }
.correction p, .note-box p { margin: 0 0 1mm 0; }
.correction ul { margin: 0; padding-left: 1.5em; }
.attachments { margin: 2mm 0 0 0; }
.attachments p { margin: 0; }
.source { font-size: 8.5pt; color: #333; word-break: break-all; margin: 2mm 0 0 0; }
.tag { color: #c00; }
"""


def _families(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


_PRINT_STYLE: Final = _PRINT_CSS.replace("$body", _families(BODY_FAMILIES)).replace(
    "$heading", _families(HEADING_FAMILIES)
)


@functools.lru_cache(maxsize=4096)
def _print_body(markdown: str) -> str:
    return print_body_html(markdown)


def _meta_table(rows: Iterable[tuple[str, str | None]]) -> str:
    cells = "".join(
        f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>"
        for label, value in rows
        if value
    )
    return f'<table class="meta">{cells}</table>'


def _print_article(entry: Mapping[str, Any], kind: str) -> str:
    parts = [f'<article id="{entry["anchor"]}">']
    if kind == "notes":
        parts.append(
            f'<h3><span class="tag">【{esc(entry["label"])}】</span>'
            f"{esc(entry['title'])}</h3>"
        )
        first = entry.get("first_issue")
        where = f"（原载{esc(first['label'])}）" if first else ""
        replaced = (
            f"<p>替代文件：{esc(entry['replaced_by_ref'])}</p>"
            if entry.get("replaced_by_ref")
            else ""
        )
        parts.append(
            '<div class="note-box">'
            f"<p>{esc(entry['agency'])}{esc(_doc_no(entry))}{where}，"
            f"于{_date_of(entry['at'])}{esc(entry['label'])}。</p>"
            f"<p>说明：{esc(entry['statement'])}</p>{replaced}</div>"
        )
    else:
        parts.append(f"<h3>{esc(entry['title'])}</h3>")
        if entry.get("doc_no"):
            parts.append(f'<p class="doc-no">{esc(entry["doc_no"])}</p>')
        if kind == "corrections":
            first = entry.get("first_issue")
            where = f"原载{esc(first['label'])}。" if first else ""
            notes = "".join(
                f"<li>{_date_of(r['at'])}：{esc(r['reason'] or '内容有更新。')}</li>"
                for r in entry["revisions"]
            )
            parts.append(
                '<div class="correction">'
                f"<p><strong>更正说明：</strong>{where}现刊登更正后的文本。</p>"
                f"<ul>{notes}</ul></div>"
            )
        parts.append(_meta_table(_document_meta(entry)))
        parts.append(f'<div class="body">{_print_body(entry["body"])}</div>')
        if entry["attachments"]:
            names = "、".join(esc(n) for n in entry["attachments"])
            parts.append(f'<div class="attachments"><p>附件：{names}</p></div>')
    if entry.get("url"):
        parts.append(f'<p class="source">网上原文：{esc(entry["url"])}</p>')
    parts.append("</article>")
    return "".join(parts)


def print_html(issue: Mapping[str, Any]) -> str:
    """The issue as an HTML document for WeasyPrint: cover, 目录 with page numbers, the
    documents, 更正 and notes. Depends on the issue's data only."""
    gazette, label = issue["gazette"], issue["label"]
    published = _date_of(issue["published_on"])
    publisher = issue.get("publisher")
    imprint = [f"<p>编辑出版：{esc(publisher)}</p>"] if publisher else []
    imprint.append(f"<p>出版日期：{published}</p>")
    toc = []
    for key, heading in _SECTIONS:
        if not issue[key]:
            continue
        entries = "".join(
            f'<li><a href="#{e["anchor"]}">'
            + (f"【{esc(e['label'])}】" if key == "notes" else "")
            + f"{esc(e['title'])}</a>"
            + (
                f'<span class="doc-no">{esc(e["doc_no"])}</span>'
                if e.get("doc_no")
                else ""
            )
            + "</li>"
            for e in issue[key]
        )
        toc.append(f"<h3>{heading}</h3><ol>{entries}</ol>")
    sections = []
    for key, heading in _SECTIONS:
        if not issue[key]:
            continue
        articles = "".join(_print_article(e, key) for e in issue[key])
        sections.append(
            f'<section class="part"><h2 class="part">{heading}</h2>{articles}</section>'
        )
    created = f"{issue['published_on']}T00:00:00+08:00"
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc(gazette)} {esc(label)}</title>"
        f'<meta name="author" content="{esc(publisher or gazette)}">'
        f'<meta name="keywords" content="{esc(gazette)}, {esc(label)}">'
        f'<meta name="dcterms.created" content="{created}">'
        f'<meta name="dcterms.modified" content="{created}">'
        f"<style>{_PRINT_STYLE}</style></head><body>"
        # The characters the page margins draw (`— 3 —`), so the cut fonts have them.
        '<p class="glyphs">—</p>'
        '<div class="cover">'
        f'<p class="name">{esc(gazette)}</p><div class="rule"></div>'
        f'<p class="number">{esc(label)}</p>'
        f'<p class="total">（总第{issue["total"]}期）</p>'
        f'<p class="date">{published}出版</p>'
        f'<p class="span">收录{esc(issue["period"]["span"])}发布的规章和行政规范性文件</p>'
        f'<div class="imprint">{"".join(imprint)}</div></div>'
        f'<p class="running">{esc(gazette)}　{esc(label)}</p>'
        '<nav class="contents"><h2 class="part">目　录</h2>'
        + "".join(toc)
        + "</nav>"
        + "".join(sections)
        + "</body></html>"
    )


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def _library_versions() -> dict[str, str]:
    return {name: _version(name) for name in _LAYOUT_LIBRARIES}


def _code_digest() -> str:
    """sha256 of the modules that turn an issue's data into its page and PDF."""
    digest = hashlib.sha256()
    for module in (__file__, _html_module.__file__, _noticeboard_module.__file__):
        try:
            digest.update(Path(str(module)).read_bytes())
        except OSError:  # an installation without sources: its version says enough
            digest.update(_version("syndicate").encode())
    return digest.hexdigest()


_CODE: Final = _code_digest()


def layout_digest(fonts: Mapping[str, str]) -> str:
    """What turns an issue's data into its page and PDF, as one sha256: the code that
    draws them, the fonts (sha256 by family) and the versions of the libraries that
    shape the bytes. Each issue's data carries it, so an upgrade that would draw an
    issue differently makes its data differ, and `deliver` draws it again."""
    pinned = {"code": _CODE, "fonts": dict(fonts), "libraries": _library_versions()}
    return hashlib.sha256(canonical_json(pinned)).hexdigest()


# -- the folder -----------------------------------------------------------------------------


def issue_files(
    settings: GazetteSettings,
    issues: Sequence[dict[str, Any]],
    through: str | None,
    layout: str,
) -> dict[str, str]:
    """The folder's files that the rendition carries ({relative path: text}): every
    issue's data (`<year>/<N>/issue.json`, which its page and PDF are drawn from), the
    year pages, the database page, the manifest and the style sheet."""
    files: dict[str, str] = {"assets/gazette.css": GAZETTE_CSS}
    digests: dict[tuple[int, int], str] = {}
    for issue in issues:
        issue["layout"] = layout
        text = _json_text(issue)
        files[f"{issue['year']}/{issue['number']}/issue.json"] = text
        digests[(issue["year"], issue["number"])] = _sha(text)
    for year in sorted({i["year"] for i in issues}):
        files[f"{year}/index.html"] = year_page(
            settings, year, [i for i in issues if i["year"] == year]
        )
    files["index.html"] = database_page(settings, issues, through)
    files["issues.json"] = _json_text(manifest(settings, issues, through, digests))
    return files


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_YEAR = re.compile(r"^[0-9]{4}$")
_NUMBER = re.compile(r"^[1-9][0-9]?$")
_PDF_NAME = re.compile(r"^gazette-([0-9]{4})-([1-9][0-9]?)\.pdf$")
_ROOT_FILES: Final = ("index.html", "issues.json", "assets/gazette.css")


def _is_rendition_file(relative: str) -> bool:
    """A name a rendition may carry."""
    if relative in _ROOT_FILES:
        return True
    parts = relative.split("/")
    if len(parts) == 2:
        return bool(_YEAR.match(parts[0])) and parts[1] == "index.html"
    if len(parts) == 3:
        return (
            bool(_YEAR.match(parts[0]))
            and bool(_NUMBER.match(parts[1]))
            and parts[2] == "issue.json"
        )
    return False


def _years(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [
        p
        for p in sorted(root.iterdir())
        if _YEAR.match(p.name) and p.is_dir() and not p.is_symlink()
    ]


def _issue_folders(root: Path) -> list[Path]:
    return [
        n
        for year in _years(root)
        for n in sorted(year.iterdir())
        if _NUMBER.match(n.name) and n.is_dir() and not n.is_symlink()
    ]


def _rendition_files(root: Path) -> list[Path]:
    """The files of the folder that renditions carry (what `read_back` reads)."""
    found = [root / name for name in _ROOT_FILES]
    found += [year / "index.html" for year in _years(root)]
    found += [folder / "issue.json" for folder in _issue_folders(root)]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def _drawn_files(folder: Path) -> list[Path]:
    """The files of an issue folder drawn from its data: its page and its PDF."""
    found = [folder / "index.html"]
    found += [
        p
        for p in sorted(folder.iterdir())
        if _PDF_NAME.match(p.name)
        and p.name == f"gazette-{folder.parent.name}-{folder.name}.pdf"
    ]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def _issue_data(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


_PDF_CACHE: dict[str, bytes] = {}
_PDF_CACHE_SIZE: Final = 16


class GazetteAdapter(
    BaseAdapter[GazetteSettings], ReadsBack, TakesInventory, ExpectsFiles
):
    """The 政府公报: its closed issues as pages and PDFs, and the 公报数据库."""

    kind: ClassVar[str] = "gazette"
    label: ClassVar[str | None] = "政府公报"
    capabilities: ClassVar[Capabilities] = Capabilities(
        # Each rendition is the whole folder: the planner's update and retract both
        # mean "write the set again"; released issues never change within it.
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,  # writing the same folder again changes nothing
        reads_back=True,
        keeps_withdrawn=True,  # a withdrawn document stays in the issues it was in
        needs_history=True,  # issues are compiled from the versions of their time
    )

    def __init__(self, settings: BaseModel) -> None:
        super().__init__(settings)
        self._fonts: tuple[SheetFont, ...] | None = None
        self._layout: str | None = None

    # -- fonts ----------------------------------------------------------------------------

    @property
    def fonts(self) -> tuple[SheetFont, ...]:
        """The PDF's fonts (the office's own first where configured), read on first use.

        Raises PermanentDeliveryError (code "font") if a font cannot be read."""
        if self._fonts is None:
            self._fonts = sheet_fonts(self.settings)
        return self._fonts

    @property
    def layout(self) -> str:
        """This outlet's `layout_digest` (its fonts read on first use)."""
        if self._layout is None:
            self._layout = layout_digest(
                {face.family: _font_sha256(face.font.data) for face in self.fonts}
            )
        return self._layout

    # -- rendering --------------------------------------------------------------------------

    def files(self, job: DeliveryJob) -> dict[str, str]:
        """The rendition's files as of the job."""
        issues, through = compile_issues(job, self.settings)
        return issue_files(self.settings, issues, through, self.layout)

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        return file_set_rendition(self.files(job), MEDIA_TYPE, key=str(job.delivery_id))

    # -- delivering -------------------------------------------------------------------------

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Draw the page and PDF of each new or changed issue, then write the data and
        the lists (the manifest last), then remove what no longer belongs."""
        files = file_set(rendition)
        root = self.settings.path
        drawn = self._write(FolderWriter(root), files, reuse=True)
        issues = sum(1 for name in files if name.endswith("/issue.json"))
        return Receipt(
            remote_id=str(root),
            detail={"issues": str(issues), "drawn": str(drawn)},
        )

    def _write(
        self, folder: FolderWriter, files: Mapping[str, str], *, reuse: bool
    ) -> int:
        """Make the folder hold `files` and the page and PDF of each issue; returns how
        many issues were drawn. `reuse`: an issue whose data in the folder is already
        the rendition's keeps its page and PDF (they are drawn from that data)."""
        for relative in files:
            if not _is_rendition_file(relative):
                raise PermanentDeliveryError(
                    f"refusing to write {relative!r}: not a gazette file"
                )
        root = folder.root
        kept: set[str] = set()
        drawn = 0
        with file_errors(f"cannot write the gazette in {root}"):
            for relative in sorted(files):
                if not relative.endswith("/issue.json"):
                    continue
                base = relative.removesuffix("issue.json")
                issue = _issue_data(files[relative])
                year, number = relative.split("/")[:2]
                pdf = f"{base}gazette-{year}-{number}.pdf"
                page = f"{base}index.html"
                kept.update((pdf, page))
                if (
                    reuse
                    and _read_text(folder.path(relative)) == files[relative]
                    and folder.path(pdf).is_file()
                    and folder.path(page).is_file()
                ):
                    continue
                # Drawn before the data is written: a crash in between leaves old
                # data, so the next delivery draws the issue again.
                folder.write(pdf, self.pdf(issue))
                folder.write(page, issue_page(issue).encode("utf-8"))
                drawn += 1
            folder.write_set(
                files, _rendition_files, last=("index.html", "issues.json")
            )
            for issue_folder in _issue_folders(root):
                for stale in _drawn_files(issue_folder):
                    relative = stale.relative_to(root).as_posix()
                    if relative not in kept:
                        folder.remove(relative)
                _remove_if_empty(issue_folder)
            for year_folder in _years(root):
                _remove_if_empty(year_folder)
        return drawn

    def pdf(self, issue: Mapping[str, Any]) -> bytes:
        """The issue's PDF, drawn from its data with this outlet's fonts."""
        if issue.get("layout") != self.layout:
            raise PermanentDeliveryError(
                f"issue {issue.get('label')}: its data was compiled for another layout "
                "(another version of the gazette outlet, other fonts); render it again",
                code="stale-rendition",
            )
        source = print_html(issue)
        key = hashlib.sha256(
            canonical_json({"source": source, "layout": self.layout})
        ).hexdigest()
        cached = _PDF_CACHE.get(key)
        if cached is None:
            cached = render_pdf(source, self.fonts)
            if len(_PDF_CACHE) >= _PDF_CACHE_SIZE:
                _PDF_CACHE.pop(next(iter(_PDF_CACHE)))
            _PDF_CACHE[key] = cached
        return cached

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The folder the newest rendition gives, every issue drawn anew (a gazette
        publishes no checkpoints)."""
        owners: dict[str, tuple[UUID, ...]] = {}
        if renditions:
            files = file_set(renditions[-1])
            self._write(FolderWriter(scratch, durable=False), files, reuse=False)
            for relative, text in files.items():
                if not relative.endswith("/issue.json"):
                    continue
                issue = _issue_data(text)
                ids = tuple(
                    sorted(
                        {
                            UUID(e["item_id"])
                            for key, _ in _SECTIONS
                            for e in issue[key]
                        },
                        key=str,
                    )
                )
                base = relative.removesuffix("issue.json")
                year, number = relative.split("/")[:2]
                for name in (
                    "index.html",
                    "issue.json",
                    f"gazette-{year}-{number}.pdf",
                ):
                    owners[base + name] = ids
        return OutletFolder(root=self.settings.path, owners=owners)

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The folder's files that renditions carry, in the rendition's form (the
        issue pages and PDFs drawn from them are compared by `expected_files`)."""
        return read_file_set(self.settings.path, _rendition_files)

    def inventory(self, session: requests.Session) -> set[UUID]:
        """Every item an issue in the folder's `issues.json` names."""
        try:
            data = json.loads((self.settings.path / "issues.json").read_bytes())
        except (OSError, ValueError):
            return set()
        found: set[UUID] = set()
        issues = data.get("issues") if isinstance(data, dict) else None
        for issue in issues if isinstance(issues, list) else []:
            entries = issue.get("entries") if isinstance(issue, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                ref = entry.get("item_id") if isinstance(entry, dict) else None
                if isinstance(ref, str) and _UUID.fullmatch(ref):
                    found.add(UUID(ref))
        return found


@functools.lru_cache(maxsize=8)
def _font_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remove_if_empty(folder: Path) -> None:
    try:
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError:
        pass


# The style sheet is part of the rendition: changing it changes the folder's bytes.
GAZETTE_CSS: Final = """/* syndicate gazette: the 公报数据库 and its issues. */
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  font-family: "Noto Serif SC", "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", "Songti SC", serif;
  font-size: 17px;
  line-height: 1.8;
  color: #111;
  background: #fff;
  overflow-wrap: anywhere;
}
a { color: #0b4f9c; }
a:focus-visible { outline: 3px solid #ffbf00; outline-offset: 2px; }
.masthead { background: #a3141c; color: #fff; padding: 16px 24px 10px; }
.masthead a { color: #fff; }
.gazette-name { margin: 0; font-size: 28px; font-weight: 700; letter-spacing: 0.12em;
  font-family: "Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; }
.gazette-name a { text-decoration: none; }
.crumbs ol { list-style: none; margin: 6px 0 0; padding: 0; display: flex;
  flex-wrap: wrap; gap: 4px 0; font-size: 15px; }
.crumbs li + li::before { content: "\\203A"; margin: 0 8px; }
main { display: block; max-width: 960px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 30px; line-height: 1.35; margin: 8px 0 16px; text-align: center; }
h1 .name { display: block; color: #a3141c; letter-spacing: 0.08em; }
h1 .number { display: block; font-size: 22px; }
h2 { font-size: 23px; border-bottom: 2px solid #a3141c; padding-bottom: 4px;
  margin: 32px 0 16px; }
h2 .count, h3 .total { font-size: 15px; font-weight: 400; color: #444; margin-left: 12px; }
h3 { font-size: 20px; margin: 24px 0 8px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px;
  margin: 0 0 16px; padding: 12px 16px; background: #f6f3ee; border-radius: 4px; }
.meta div { display: contents; }
.meta dt { color: #444; }
.meta dd { margin: 0; }
.download a, .issue-facts a { font-weight: 700; }
.contents { border: 1px solid #c9c2b8; padding: 4px 20px 12px; border-radius: 4px; }
.contents h2 { border: 0; text-align: center; letter-spacing: 0.5em; }
.toc, .toc-entries, .issues { list-style: none; margin: 0; padding: 0; }
.toc-heading { display: block; font-weight: 700; margin: 10px 0 4px; }
.toc-entries li { margin: 0 0 6px; padding-left: 1em; }
.doc-no { color: #444; }
.toc .doc-no { margin-left: 4px; font-size: 15px; }
.document, .note { border-top: 1px solid #c9c2b8; padding-top: 8px; margin-top: 24px; }
.document h3, .note h3 { text-align: center; font-size: 22px; }
h2 + .document, h2 + .note { border-top: 0; margin-top: 0; padding-top: 0; }
.document > .doc-no { text-align: center; margin: 0 0 12px; }
.correction { border-left: 6px solid #a3141c; background: #fbf1f1; padding: 8px 16px;
  margin: 0 0 16px; }
.correction p, .correction ul { margin: 0; }
.body p { text-indent: 2em; margin: 0 0 0.8em; }
.body h4, .body h5, .body h6 { font-size: 18px; margin: 1em 0 0.4em; }
.body table, .file-index { border-collapse: collapse; width: 100%; }
.body th, .body td, .file-index th, .file-index td { border: 1px solid #999;
  padding: 4px 8px; text-align: left; vertical-align: top; }
.table-wrap { overflow-x: auto; }
.file-index caption { text-align: left; color: #444; padding-bottom: 4px; }
.source { font-size: 15px; color: #444; }
.tag { display: inline-block; background: #a3141c; color: #fff; border-radius: 3px;
  padding: 0 8px; margin-right: 8px; font-size: 16px; vertical-align: middle; }
.years ol { list-style: none; margin: 0 0 8px; padding: 0; display: flex;
  flex-wrap: wrap; gap: 8px 20px; }
.issue { border-bottom: 1px solid #ddd; padding-bottom: 12px; }
.issue h3 { margin-bottom: 2px; }
.issue-facts { margin: 0 0 6px; color: #333; }
.empty, .intro, .counts { color: #333; }
.colophon { border-top: 2px solid #a3141c; max-width: 960px; margin: 0 auto;
  padding: 12px 20px 32px; font-size: 15px; color: #333; }
.colophon p { margin: 0 0 4px; }
@media print {
  .masthead { background: none; color: #a3141c; }
  .masthead a { color: #a3141c; }
}
"""
