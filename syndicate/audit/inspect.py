"""Self-inspection against the indicators of 国办秘函〔2019〕19号 (《政府网站与政务新媒体
检查指标》) that a machine can check, read from the two logs, the outlet configuration
and the portal's generated files (docs/inspection.md states every rule and its source).

The portal is inspected as an inspector sees it: its output folder is walked and every
``.html`` file parsed with the standard library's ``html.parser``. Column pages are the
pages that carry a ``ColumnDescription`` meta (the portal writes it on each column's
index page only); the dates a column lists are the ``<span class="date">`` of its rows,
the publication dates the portal shows. Nothing of the portal adapter is imported (the
core never imports the built-in adapters): the rules read the HTML the portal writes.

Thresholds (19号, part 1 单项否决, and the 2017 普查 table it carries over):

- 首页不更新: the home page lists nothing published in the last 14 days → veto.
- 栏目不更新: a dynamic column (动态类: 全部信息, the 五公开 and 公开领域 columns) with
  nothing new for 14 days, a policy or notice column (政策文件、通知公告) for 180 days.
  19号 vetoes a site with at least 5 such columns, or at least 10 columns that should be
  updated and are not (stale and empty together); fewer are deductions.
- 空白栏目: a column listing nothing; at least 5 → veto, fewer → deduction.
- 链接可用性: a deduction for every dead link (19号 gives no veto threshold for links).
- 内容不更新 (政务新媒体): no successful delivery to a new-media account in the 14 days
  before the day of inspection → veto.

The other checks (publication dates, 解读, 公示 windows, catalogue time limits) are
deductions, except a page whose PubDate disagrees with the log (伪造发稿日期) → veto.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote
from uuid import UUID

from syndicate.application import CHINA_TZ as _CHINA
from syndicate.audit.deadlines import DeadlineState, WorkdayCalendar, deadline_for
from syndicate.audit.facts import (
    NOT_SHOWN,
    ItemFacts,
    china_date,
    delivery_events,
    outlet_info,
)
from syndicate.domain.catalogue import Attribute, ChannelCategory
from syndicate.domain.deliveries import Delivery
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.outlets import Outlet
from syndicate.planning import Deliveries

__all__ = [
    "DYNAMIC_DAYS",
    "EMPTY_COLUMNS_VETO",
    "HOME_DAYS",
    "NEW_MEDIA_DAYS",
    "POLICY_DAYS",
    "STALE_COLUMNS_VETO",
    "UNUPDATED_COLUMNS_VETO",
    "Finding",
    "InspectionReport",
    "Severity",
    "SitePage",
    "inspect_home",
    "read_site",
]

HOME_DAYS = 14  # 首页不更新: 2 weeks
DYNAMIC_DAYS = 14  # 动态、要闻类栏目: 2 weeks
POLICY_DAYS = 180  # 通知公告、政策文件类栏目: 6 months
NEW_MEDIA_DAYS = 14  # 政务新媒体: 监测时间点前2周内无更新
STALE_COLUMNS_VETO = 5  # 栏目不更新 (1): at least 5 columns not updated
UNUPDATED_COLUMNS_VETO = 10  # 栏目不更新 (2): at least 10 should-update columns
EMPTY_COLUMNS_VETO = 5  # 栏目不更新 (3): at least 5 空白栏目

SOURCE_19 = "国办秘函〔2019〕19号"


class Severity(StrEnum):
    """单项否决 (the site fails whatever else it scores) or 扣分 (points off)."""

    VETO = "veto"
    DEDUCTION = "deduction"

    @property
    def label(self) -> str:
        """The Chinese word for it."""
        return "单项否决" if self is Severity.VETO else "扣分"


@dataclass(frozen=True)
class Finding:
    """One problem an inspector would find: the indicator (`indicator`, a stable id;
    `name`, in Chinese as the indicator wording has it), how it counts, what it is
    about (an item's `ref`, an `outlet`, a `path` in the outlet's folder), what is wrong
    (`message`) and what to do (`action`); `source`: the document the rule comes from."""

    indicator: str
    name: str
    severity: Severity
    message: str
    action: str
    ref: str | None = None
    outlet: str | None = None
    path: str | None = None
    source: str = SOURCE_19

    def as_json(self) -> dict[str, object]:
        """The object `audit inspect --json` prints for this finding."""
        return {
            "indicator": self.indicator,
            "name": self.name,
            "severity": self.severity.value,
            "ref": self.ref,
            "outlet": self.outlet,
            "path": self.path,
            "message": self.message,
            "action": self.action,
            "source": self.source,
        }


@dataclass(frozen=True)
class InspectionReport:
    """The findings as of `today`, veto findings first; `notes`: what was not checked
    and why (no portal outlet, an outlet that does not load, calendar gaps);
    `checked`: what was looked at (pages, links, columns, new-media accounts)."""

    today: date
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def vetoes(self) -> list[Finding]:
        """The 单项否决 findings."""
        return [f for f in self.findings if f.severity is Severity.VETO]

    @property
    def deductions(self) -> list[Finding]:
        """The 扣分 findings."""
        return [f for f in self.findings if f.severity is Severity.DEDUCTION]

    @property
    def passed(self) -> bool:
        """No veto finding: the site would not fail outright."""
        return not self.vetoes

    def as_json(self) -> dict[str, object]:
        """The object `audit inspect --json` prints."""
        return {
            "today": self.today.isoformat(),
            "passed": self.passed,
            "summary": {"veto": len(self.vetoes), "deduction": len(self.deductions)},
            "findings": [f.as_json() for f in self.findings],
            "notes": list(self.notes),
            "checked": dict(self.checked),
        }


# -- the portal's pages ------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PUBDATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
_ITEM_PAGE = re.compile(
    r"items/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.html"
)
_EXTERNAL = ("http:", "https:", "mailto:", "tel:", "javascript:", "data:", "//")


@dataclass
class SitePage:
    """What the inspection needs of one HTML page: its `<meta name>` values, the ids
    it defines, the links it holds (href and src), the dates its lists show, its
    `<dt>`/`<dd>` pairs and the classes of its `<article>`."""

    path: str  # relative to the site's root, with /
    metas: dict[str, str] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    terms: dict[str, str] = field(default_factory=dict)
    articles: list[str] = field(default_factory=list)
    says_empty: bool = False  # an element of class "empty" (暂无信息)

    @property
    def newest(self) -> date | None:
        """The newest date the page shows: of its list rows, or of the item it
        shows (its 发布日期)."""
        shown = _parse_day(self.terms.get("发布日期", "")[:10])
        return max([*self.dates, *([shown] if shown else [])], default=None)

    def lists_items(self) -> bool:
        """Whether the page links to an item page or shows a dated row."""
        if self.dates or "发布日期" in self.terms:
            return True
        return any(
            _ITEM_PAGE.fullmatch(_target(self.path, link)) for link in self.links
        )


def _parse_day(text: str) -> date | None:
    """A `YYYY-MM-DD` date, or None."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class _Parser(HTMLParser):
    def __init__(self, page: SitePage) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._date_depth = 0
        self._date_text = ""
        self._term: str | None = None
        self._in: str | None = None  # "dt" or "dd"
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        page = self.page
        if "id" in values:
            page.ids.add(values["id"])
        if tag == "a" and "name" in values:
            page.ids.add(values["name"])
        if tag == "meta" and "name" in values:
            page.metas[values["name"]] = values.get("content", "")
        if tag == "link" and "canonical" in values.get("rel", "").split():
            pass  # an absolute URL of the page itself
        else:
            for attr in ("href", "src"):
                if attr in values:
                    page.links.append(values[attr])
        if tag == "article":
            page.articles.append(values.get("class", ""))
        classes = values.get("class", "").split()
        if "empty" in classes:
            page.says_empty = True
        if tag == "span" and "date" in classes:
            self._date_depth = 1
            self._date_text = ""
        elif self._date_depth:
            self._date_depth += 1
        if tag in ("dt", "dd"):
            self._in, self._text = tag, ""

    def handle_endtag(self, tag: str) -> None:
        if self._date_depth:
            self._date_depth -= 1
            if not self._date_depth:
                text = self._date_text.strip()
                shown = _parse_day(text)
                if shown is not None:
                    self.page.dates.append(shown)
        if tag == "dt" and self._in == "dt":
            self._term, self._in = self._text.strip(), None
        elif tag == "dd" and self._in == "dd":
            if self._term is not None:
                self.page.terms[self._term] = self._text.strip()
            self._term, self._in = None, None

    def handle_data(self, data: str) -> None:
        if self._date_depth:
            self._date_text += data
        if self._in is not None:
            self._text += data


# A generated page is a few hundred kilobytes at most; a bigger file is not read (an
# inspector's crawler would give up too), so a planted giant cannot exhaust memory.
MAX_PAGE_BYTES = 20 * 1024 * 1024


def read_site(root: Path) -> dict[str, SitePage]:
    """Every `.html` page under `root` (dot-folders skipped), parsed, by its path;
    files that lead out of the site (symlinks) or are larger than `MAX_PAGE_BYTES`
    are not read."""
    pages: dict[str, SitePage] = {}
    inside = root.resolve()
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in relative.split("/")[:-1]):
            continue
        try:
            if not path.is_file() or not path.resolve().is_relative_to(inside):
                continue
            if path.stat().st_size > MAX_PAGE_BYTES:
                continue
        except (OSError, ValueError):
            continue
        page = SitePage(relative)
        parser = _Parser(page)
        parser.feed(path.read_text("utf-8", errors="replace"))
        parser.close()
        pages[relative] = page
    return pages


# -- what the logs say -------------------------------------------------------------------


@dataclass
class _Done:
    """Deliveries folded: per outlet the newest done moment; per item its earliest
    done showing delivery to each outlet."""

    newest: dict[str, datetime] = field(default_factory=dict)
    shown: dict[tuple[UUID, str], datetime] = field(default_factory=dict)

    def first_on(self, item_id: UUID, outlets: Iterable[str]) -> datetime | None:
        found = [m for o in outlets if (m := self.shown.get((item_id, o))) is not None]
        return min(found, default=None)


def _fold(deliveries: Deliveries, until: datetime) -> _Done:
    """Done deliveries up to `until` (later ones have not happened as of the day)."""
    planned: dict[UUID, Delivery.Planned] = {}
    done = _Done()
    topics = (Delivery.Planned.TOPIC, Delivery.Succeeded.TOPIC, Delivery.Attested.TOPIC)
    for _, event in delivery_events(deliveries, topics=topics):
        if isinstance(event, Delivery.Planned):
            planned[event.originator_id] = event
            continue
        moment = (
            event.posted_at
            if isinstance(event, Delivery.Attested)
            else event.timestamp
            if isinstance(event, Delivery.Succeeded)
            else None
        )
        plan = planned.get(event.originator_id)
        if moment is None or plan is None or moment > until:
            continue
        outlet = plan.outlet
        if outlet not in done.newest or moment > done.newest[outlet]:
            done.newest[outlet] = moment
        if plan.operation in NOT_SHOWN:
            continue
        key = (plan.item_id, outlet)
        if key not in done.shown or moment < done.shown[key]:
            done.shown[key] = moment
    return done


# -- the checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    path: str
    name: str
    kind: str
    newest: date | None
    empty: bool
    limit: int | None  # days it may go without an update; None: not inspected


# Columns whose update duty is not a fixed period: a list by publisher (navigation),
# the 法定主动公开内容 tree (each 事项 has its own 时限, checked per item).
_NO_PERIOD_KINDS = frozenset({"发布机构", "法定主动公开内容"})
_DYNAMIC_KINDS = frozenset({"五公开", "公开领域", "信息列表"})
_POLICY_WORDS = ("政策", "文件", "规章", "通知", "公告")


def _column_limit(name: str, kind: str) -> int | None:
    """How long a column may go without a new item (docs/inspection.md)."""
    if kind in _NO_PERIOD_KINDS:
        return None
    if any(word in name for word in _POLICY_WORDS):
        return POLICY_DAYS
    if kind in _DYNAMIC_KINDS:
        return DYNAMIC_DAYS
    return None  # 指南, 制度, 年报, 标准目录 and the like: only checked for being empty


def _columns(pages: Mapping[str, SitePage]) -> list[_Column]:
    """The column pages: those with a ColumnDescription meta, but a section's own
    index (频道页: its ColumnName is its ColumnType, e.g. 政府信息公开), which only
    gathers its columns."""
    found = []
    for page in pages.values():
        if "ColumnDescription" not in page.metas:
            continue
        name = page.metas.get("ColumnName", page.path)
        kind = page.metas.get("ColumnType", "")
        if name == kind:
            continue
        found.append(
            _Column(
                page.path,
                name,
                kind,
                page.newest,
                page.says_empty and not page.lists_items(),
                _column_limit(name, kind),
            )
        )
    return found


def _portal_findings(
    outlet: str,
    root: Path,
    pages: Mapping[str, SitePage],
    *,
    today: date,
    newest_delivery: datetime | None,
    items: Mapping[UUID, DisclosureItem],
    checked: dict[str, int],
) -> list[Finding]:
    found: list[Finding] = []
    repair = f"run `syndicate repair --outlet {outlet}` to write it again from the log"
    delivered = (
        f"; its newest successful delivery was on {china_date(newest_delivery)}"
        if newest_delivery is not None
        else "; nothing was ever delivered to it"
    )
    home = pages.get("index.html")
    if home is None:
        found.append(
            Finding(
                "site_unreachable",
                "站点无法访问",
                Severity.VETO,
                f"the portal has no home page ({root / 'index.html'} does not exist)"
                + delivered,
                f"run `syndicate sync` (nothing delivered yet) or {repair}; check that "
                "the web server publishes this folder",
                outlet=outlet,
                path="index.html",
            )
        )
    else:
        newest = max(home.dates, default=None)
        if newest is None or (today - newest).days > HOME_DAYS:
            shown = (
                f"its newest item is dated {newest}, {(today - newest).days} days ago"
                if newest is not None
                else "it lists no dated item"
            )
            found.append(
                Finding(
                    "home_not_updated",
                    "首页不更新",
                    Severity.VETO,
                    f"the home page has not been updated for more than {HOME_DAYS} "
                    f"days: {shown}" + delivered,
                    "publish the information that is due (工作动态, 通知公告, results) "
                    "and run `syndicate sync`; a home page must show something new at "
                    "least every two weeks",
                    outlet=outlet,
                    path="index.html",
                )
            )
    columns = _columns(pages)
    checked["columns"] = checked.get("columns", 0) + len(columns)
    empty = [c for c in columns if c.empty]
    stale = [
        (c, newest, limit)
        for c in columns
        if not c.empty
        and (newest := c.newest) is not None
        and (limit := c.limit) is not None
        and (today - newest).days > limit
    ]
    too_many = len(stale) + len(empty) >= UNUPDATED_COLUMNS_VETO
    stale_veto = len(stale) >= STALE_COLUMNS_VETO or too_many
    empty_veto = len(empty) >= EMPTY_COLUMNS_VETO or too_many
    tally = (
        f"{len(stale)} column(s) not updated and {len(empty)} empty; 19号 vetoes "
        f"{STALE_COLUMNS_VETO} not updated, {EMPTY_COLUMNS_VETO} empty or "
        f"{UNUPDATED_COLUMNS_VETO} together"
    )
    for c, newest, limit in sorted(stale, key=lambda s: s[0].path):
        kind = "policy/notice" if limit == POLICY_DAYS else "dynamic"
        found.append(
            Finding(
                "column_not_updated",
                "栏目不更新",
                Severity.VETO if stale_veto else Severity.DEDUCTION,
                f"{kind} column {c.name} ({c.kind}) has had nothing new for "
                f"{(today - newest).days} days (newest {newest}; allowed "
                f"{limit}); {tally}",
                f"publish the column's due information ({c.name}) and run "
                "`syndicate sync`; if nothing is due there, say so with a dated notice",
                outlet=outlet,
                path=c.path,
            )
        )
    for c in sorted(empty, key=lambda c: c.path):
        found.append(
            Finding(
                "empty_column",
                "空白栏目",
                Severity.VETO if empty_veto else Severity.DEDUCTION,
                f"column {c.name} ({c.kind}) lists nothing; {tally}",
                f"publish the information this column is for ({c.name}); a column "
                "that has none to publish should be removed from the site",
                outlet=outlet,
                path=c.path,
            )
        )
    found += _link_findings(outlet, root, pages, checked)
    found += _date_findings(outlet, pages, items, repair)
    return found


def _link_findings(
    outlet: str, root: Path, pages: Mapping[str, SitePage], checked: dict[str, int]
) -> list[Finding]:
    found = []
    base = root.resolve()
    count = 0
    for page in pages.values():
        seen: set[str] = set()
        for link in page.links:
            link = link.strip()
            if not link or link in seen or link.lower().startswith(_EXTERNAL):
                continue
            seen.add(link)
            count += 1
            problem = _dead(base, page, link, pages)
            if problem is None:
                continue
            attachment = "/files/" in f"/{_target(page.path, link)}"
            found.append(
                Finding(
                    "dead_link",
                    "链接可用性",
                    Severity.DEDUCTION,
                    f"{page.path} links to {link}: {problem}"
                    + (" (an attachment)" if attachment else ""),
                    f"run `syndicate repair --outlet {outlet}` to restore pages and "
                    "attachments from the log; a link edited into a page by hand is "
                    "replaced by the page's logged version",
                    outlet=outlet,
                    path=page.path,
                )
            )
    checked["links"] = checked.get("links", 0) + count
    return found


def _target(page: str, link: str) -> str:
    """`link` (without query or fragment), resolved from the folder of `page`."""
    path = link.split("#", 1)[0].split("?", 1)[0]
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(path)))


def _dead(
    root: Path, page: SitePage, link: str, pages: Mapping[str, SitePage]
) -> str | None:
    """Why `link` on `page` leads nowhere, or None when it resolves."""
    fragment = link.split("#", 1)[1] if "#" in link else None
    rest = link.split("#", 1)[0].split("?", 1)[0]
    if not rest:  # "#main" or "?q=": this page
        if fragment and unquote(fragment) not in page.ids:
            return f"no element with id {fragment!r} on the page"
        return None
    if rest.startswith("/"):
        relative = posixpath.normpath(unquote(rest).lstrip("/"))
    else:
        relative = _target(page.path, link)
    if relative == ".." or relative.startswith("../"):
        return "it points outside the site"
    target = root / relative
    if "\x00" in relative:
        return "it cannot be resolved (a NUL byte in the link)"
    try:
        if not target.resolve().is_relative_to(root):
            return "it points outside the site"
    except (OSError, ValueError):
        return "it cannot be resolved"
    if target.is_dir():
        target = target / "index.html"
        relative = posixpath.join(relative, "index.html")
    if not target.is_file():
        return "no such file in the site"
    if fragment and relative in pages and unquote(fragment) not in pages[relative].ids:
        return f"{relative} has no element with id {fragment!r}"
    return None


def _date_findings(
    outlet: str,
    pages: Mapping[str, SitePage],
    items: Mapping[UUID, DisclosureItem],
    repair: str,
) -> list[Finding]:
    found = []
    for page in pages.values():
        match = _ITEM_PAGE.fullmatch(page.path)
        if match is None:
            continue
        item = items.get(UUID(match.group(1)))
        ref = item.ref if item is not None else None
        pubdate = page.metas.get("PubDate", "").strip()
        live = any("item" in c.split() for c in page.articles)
        missing = []
        if not _PUBDATE.fullmatch(pubdate):
            missing.append("no PubDate meta (YYYY-MM-DD HH:MM)")
        if live and not page.terms.get("发布日期"):
            missing.append("no 发布日期 in its index table")
        if missing:
            found.append(
                Finding(
                    "no_publication_date",
                    "未注明信息发布时间",
                    Severity.DEDUCTION,
                    f"item page {page.path} shows no publication date: "
                    + "; ".join(missing)
                    + " (a page without one counts as not updated)",
                    repair,
                    ref=ref,
                    outlet=outlet,
                    path=page.path,
                )
            )
            continue
        if item is None or not item.history:
            continue  # a page the log does not account for: `audit consistency`
        logged = item.history[0].at.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M")
        if pubdate != logged:
            found.append(
                Finding(
                    "false_publication_date",
                    "伪造发稿日期",
                    Severity.VETO,
                    f"item page {page.path} says it was published {pubdate}; the "
                    f"log says {logged} (China time)",
                    f"{repair}, and find out who changed the page "
                    "(`syndicate audit consistency`)",
                    ref=ref,
                    outlet=outlet,
                    path=page.path,
                )
            )
    return found


def _new_media_findings(
    outlets: Mapping[str, Outlet], done: _Done, today: date
) -> tuple[list[Finding], int]:
    found = []
    accounts = [
        o
        for o in outlets.values()
        if o.channel is ChannelCategory.NEW_MEDIA and not o.internal
    ]
    for o in sorted(accounts, key=lambda o: o.name):
        newest = done.newest.get(o.name)
        day = china_date(newest) if newest is not None else None
        if day is not None and (today - day).days <= NEW_MEDIA_DAYS:
            continue
        when = (
            f"its newest successful delivery was on {day}, {(today - day).days} days "
            "ago"
            if day is not None
            else "nothing was ever delivered to it"
        )
        found.append(
            Finding(
                "new_media_silent",
                "内容不更新",
                Severity.VETO,
                f"new-media account {o.name} ({o.kind}) has not been updated in the "
                f"{NEW_MEDIA_DAYS} days before {today}: {when}",
                "publish to it (items whose channels include new_media) and run "
                "`syndicate sync`; `syndicate status` shows deliveries that failed; an "
                "account with nothing to say should be closed (关停) or merged",
                outlet=o.name,
            )
        )
    return found, len(accounts)


def _shown(item: DisclosureItem) -> bool:
    """Released, not withdrawn, proactively disclosed: what the public sees."""
    return (
        bool(item.history)
        and item.status is ItemStatus.PUBLISHED
        and item.content.attribute is Attribute.PROACTIVE
    )


def _policy_findings(items: Mapping[UUID, DisclosureItem]) -> list[Finding]:
    interpreted = {
        i.content.interprets
        for i in items.values()
        if _shown(i) and i.content.interprets is not None
    }
    found = []
    for item in items.values():
        kind = item.content.doc_type
        if not _shown(item) or kind is None or not kind.is_document:
            continue
        validity = item.validity
        if validity is not None and not validity.in_force:
            continue  # repealed or expired: no longer needs one
        if item.id in interpreted:
            continue
        found.append(
            Finding(
                "policy_without_interpretation",
                "政策解读",
                Severity.DEDUCTION,
                f"{kind.label} {item.content.title!r} has no published 解读 linked to "
                "it (no live item interprets it)",
                f"publish a 解读 with `interprets` naming {item.ref} (the portal links "
                "the two both ways); a 解读 under review counts once released",
                ref=item.ref,
            )
        )
    return found


def _notice_findings(
    items: Mapping[UUID, DisclosureItem], done: _Done, public: Sequence[str]
) -> list[Finding]:
    found = []
    for item in items.values():
        period = item.content.notice_period
        if period is None or not item.history:
            continue
        moment = done.first_on(item.id, public) or item.history[0].at
        day = china_date(moment)
        if day <= period.start:
            continue
        ended = day > period.end
        reason = item.exceptions[-1].reason if item.exceptions else None
        what = (
            f"after its window ended ({period.start} to {period.end})"
            if ended
            else f"{(day - period.start).days} day(s) after its window opened "
            f"({period.start} to {period.end}): it was up for fewer days than announced"
        )
        found.append(
            Finding(
                "notice_late",
                "公示发布不及时",
                Severity.DEDUCTION,
                f"公示 {item.content.title!r} was first published on {day}, {what}"
                + (f"; recorded reason: {reason}" if reason else ""),
                "publish a 公示 before its window opens (schedule it with release_at); "
                "where it ran late, publish it again with a new full window",
                ref=item.ref,
                source="政府信息公开条例 / 基层政务公开标准目录（公示期）",
            )
        )
    return found


def _time_limit_findings(
    items: Mapping[UUID, DisclosureItem],
    facts: Mapping[UUID, ItemFacts],
    done: _Done,
    public: Sequence[str],
    today: date,
    calendar: WorkdayCalendar,
) -> list[Finding]:
    found = []
    for item in items.values():
        fact = facts.get(item.id)
        if fact is None or not fact.proactive or fact.abandoned:
            continue
        # The 时限 as `audit deadlines` takes it: the first public version's for the
        # first clock, each change's own for its clock (a later revision cannot widen
        # a deadline already missed). Items that name no 时限 are `audit deadlines`'.
        moment = done.first_on(item.id, public)
        day = china_date(moment) if moment is not None else None
        clocks: list[tuple[date, date | None, bool, int | None]] = [
            (fact.formed_on, day, False, fact.first_limit_days)
        ]
        for (moved, released), own in zip(
            fact.changes, fact.change_limits, strict=True
        ):
            clocks.append(
                (
                    moved,
                    china_date(released) if released is not None else None,
                    True,
                    own,
                )
            )
        for start, published, changed, limit in clocks:
            if limit is None:
                continue
            deadline = deadline_for(
                start,
                published if published is not None and published <= today else None,
                today=today,
                calendar=calendar,
                limit_days=limit,
            )
            if deadline.state is not DeadlineState.LATE:
                continue
            when = (
                f"published on {deadline.published_on}"
                if deadline.published_on is not None
                else "not published yet"
            )
            found.append(
                Finding(
                    "late_by_time_limit",
                    "超过公开时限",
                    Severity.DEDUCTION,
                    f"{item.content.title!r} ({'changed' if changed else 'formed'} on "
                    f"{start}) was due within {limit} working days, by "
                    f"{deadline.due}; {when}, {deadline.late_by} working day(s) late",
                    "publish it now if it is not published; set the catalogue 事项's "
                    "时限 into the office's routine (a schedule or a reminder) so the "
                    "next one is on time",
                    ref=item.ref,
                    source="政府信息公开条例第二十六条 / 标准目录（公开时限）",
                )
            )
    return found


# -- the inspection ----------------------------------------------------------------------

_ORDER = (
    "site_unreachable",
    "home_not_updated",
    "column_not_updated",
    "empty_column",
    "new_media_silent",
    "false_publication_date",
    "dead_link",
    "no_publication_date",
    "policy_without_interpretation",
    "notice_late",
    "late_by_time_limit",
)


def _sort_key(f: Finding) -> tuple[int, int, str, str, str]:
    order = _ORDER.index(f.indicator) if f.indicator in _ORDER else len(_ORDER)
    return (
        0 if f.severity is Severity.VETO else 1,
        order,
        f.outlet or "",
        f.path or "",
        f.ref or "",
    )


def inspect_home(
    items: Sequence[DisclosureItem],
    facts: Mapping[UUID, ItemFacts],
    deliveries: Deliveries,
    *,
    outlets: Mapping[str, Outlet],
    problems: Mapping[str, str],
    kinds: Mapping[str, str | None],
    today: date,
    calendar: WorkdayCalendar,
) -> InspectionReport:
    """Every check (module notes) as of the end of `today` (China): `items` every item
    as it stands, `facts` their `ItemFacts`, `outlets` those that load (`problems`:
    why the others do not; `kinds`: every configured outlet's kind)."""
    until = datetime.combine(today + timedelta(days=1), datetime.min.time(), _CHINA)
    done = _fold(deliveries, until)
    by_id = {i.id: i for i in items}
    public = sorted(n for n in kinds if outlet_info(outlets, kinds, n).public)
    notes: list[str] = []
    checked: dict[str, int] = {}
    findings: list[Finding] = []
    portals = sorted(n for n, o in outlets.items() if o.kind == "portal")
    broken = sorted(n for n in problems if kinds.get(n) == "portal")
    for name in broken:
        notes.append(
            f"portal outlet {name} does not load ({problems[name]}): its pages were "
            "not inspected"
        )
    if not portals and not broken:
        notes.append(
            "no portal outlet is configured: the home page, columns, links and "
            "publication dates of a portal were not inspected"
        )
    pages_seen = 0
    for name in portals:
        root = getattr(outlets[name].settings, "path", None)
        if not isinstance(root, Path):
            notes.append(f"portal outlet {name} names no folder: not inspected")
            continue
        pages = read_site(root) if root.is_dir() else {}
        pages_seen += len(pages)
        findings += _portal_findings(
            name,
            root,
            pages,
            today=today,
            newest_delivery=done.newest.get(name),
            items=by_id,
            checked=checked,
        )
        notes.append(
            f"portal outlet {name}: {len(pages)} page(s) under {root} read as they "
            "are now (--today does not turn the files back)"
        )
    checked["pages"] = pages_seen
    media, accounts = _new_media_findings(outlets, done, today)
    findings += media
    checked["new_media_accounts"] = accounts
    for name in sorted(problems):
        if name not in broken:
            notes.append(f"outlet {name} does not load ({problems[name]}): not checked")
    if not accounts:
        notes.append("no new-media outlet (channel new_media) is configured")
    findings += _policy_findings(by_id)
    findings += _notice_findings(by_id, done, public)
    findings += _time_limit_findings(by_id, facts, done, public, today, calendar)
    checked["items"] = len(items)
    notes += calendar.warnings()
    findings.sort(key=_sort_key)
    return InspectionReport(today, findings, notes, checked)
