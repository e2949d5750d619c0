"""`syndicate audit report --out DIR`: a self-contained HTML report plus one CSV per view.

A pure renderer: plain dataclasses in, files out. The caller reads the event logs and
fills a `ReportData`; nothing here touches a database or the clock (the only time shown
is `ReportData.generated_at`), so the same input always gives byte-identical files.

`index.html` is one file with inline CSS and inline SVG charts, no scripts and no
external references; every chart and table links to the CSV that holds its data. The
CSVs are UTF-8 with a BOM (so Excel on Chinese Windows opens them), with English
snake_case headers and ISO dates/times in China time (Asia/Shanghai).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from syndicate.fsutil import write_atomically
from syndicate.registry import kind_label

__all__ = [
    "AnnualStats",
    "CauseCount",
    "DayCount",
    "DeadlineRow",
    "DeliveryRow",
    "FailureRow",
    "LagStat",
    "LateNoticeRow",
    "MissingRow",
    "OverrideRow",
    "ReportData",
    "ReturnedRow",
    "ReviewStats",
    "ReviewTime",
    "StateCount",
    "UrgentRow",
    "by_cause",
    "compliance",
    "format_duration",
    "lag_stats",
    "per_day",
    "render_html",
    "write_report",
]

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: str
    outlet: str
    kind: str
    item_ref: str
    title: str
    version: int
    state: str
    planned_at: datetime
    done_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class FailureRow:
    outlet: str
    at: datetime
    cause: str


@dataclass(frozen=True)
class MissingRow:
    item_ref: str
    title: str
    outlet: str
    verdict: str
    detail: str


@dataclass(frozen=True)
class DeadlineRow:
    item_ref: str
    title: str
    formed_on: date
    due: date
    published_on: date | None
    state: str
    late_by: int


@dataclass(frozen=True)
class AnnualStats:
    year: int
    by_stage: dict[str, int]
    by_area: dict[str, int]
    by_channel: dict[str, int]
    total_items: int
    revised: int
    withdrawn: int


@dataclass(frozen=True)
class UrgentRow:
    """A version released without review (紧急发布), to be approved afterwards."""

    item_ref: str
    title: str
    kind: str  # what it released: publish, revise, withdraw
    released_at: datetime
    released_by: str
    reason: str
    due: datetime  # approval afterwards due (recorded on the event)
    levels: int  # levels to approve afterwards
    approved: int  # levels approved afterwards so far
    approved_at: datetime | None  # when the last level approved afterwards
    state: str  # approved, approved_late, awaiting, overdue


@dataclass(frozen=True)
class OverrideRow:
    """A version published although the guard found personal information, 严重
    wording or an unreadable attachment, on a recorded legal basis (放行)."""

    item_ref: str
    title: str
    version: int
    at: datetime
    actor: str
    basis: str
    personal_information: bool
    wording: bool
    findings: tuple[str, ...]
    content_hash: str


@dataclass(frozen=True)
class LateNoticeRow:
    """A 公示 published although late, short or started before its release, with the
    reason recorded (`NoticeExcepted`)."""

    item_ref: str
    title: str
    version: int
    at: datetime
    actor: str
    reason: str
    problems: tuple[str, ...]
    content_hash: str


@dataclass(frozen=True)
class ReviewTime:
    """How long reviews took at one level (`level` None: submission to release)."""

    level: str | None
    count: int
    median_seconds: float
    max_seconds: float


@dataclass(frozen=True)
class ReturnedRow:
    """A version a reviewer returned to its author (退回), with the reviewer's comment."""

    item_ref: str
    title: str
    level: str
    reviewer: str
    at: datetime
    comment: str
    content_hash: str


@dataclass(frozen=True)
class ReviewStats:
    """先审后发 in the report: urgent releases, time in review, returns, and how many
    versions are under review now."""

    urgent: Sequence[UrgentRow]
    times: Sequence[ReviewTime]
    returned: Sequence[ReturnedRow]
    under_review: int = 0


@dataclass(frozen=True)
class ReportData:
    generated_at: datetime
    title: str
    deliveries: Sequence[DeliveryRow]
    failures: Sequence[FailureRow]
    missing: Sequence[MissingRow]
    deadlines: Sequence[DeadlineRow]
    annual: AnnualStats | None = None
    notes: Sequence[str] = ()
    review: ReviewStats | None = None  # None: no review in the home or its log
    overrides: Sequence[OverrideRow] = ()  # the guard's overrides, in log order
    late_notices: Sequence[LateNoticeRow] = ()  # late or short 公示 accepted


@dataclass(frozen=True)
class LagStat:
    outlet: str
    count: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class CauseCount:
    cause: str
    count: int


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


VERDICT_LABELS = {
    "missing": "缺失",
    "stale": "版本滞后",
    "drifted": "内容不一致",
    "extra": "多余（不应存在）",
}
DEADLINE_LABELS = {
    "met": "按时",
    "late": "逾期",
    "open": "未到期",
    "due_soon": "即将到期",
}
URGENT_LABELS = {
    "approved": "已按时补审",
    "approved_late": "逾期后补审",
    "awaiting": "待补审（未到期）",
    "overdue": "补审逾期",
    "superseded": "已被后续紧急发布取代",
}
KIND_LABELS = {"publish": "首次发布", "revise": "更正", "withdraw": "撤回"}


# --------------------------------------------------------------------------- helpers


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime in report data: {moment!r}")
    return moment.astimezone(CHINA)


def lag_stats(rows: Iterable[DeliveryRow]) -> list[LagStat]:
    """Per outlet, median and 90th percentile (nearest rank) of done_at - planned_at."""
    lags: dict[str, list[float]] = {}
    for row in rows:
        if row.done_at is not None:
            seconds = (row.done_at - row.planned_at).total_seconds()
            lags.setdefault(row.outlet, []).append(seconds)
    stats = []
    for outlet in sorted(lags):
        values = sorted(lags[outlet])
        rank = (9 * len(values) + 9) // 10  # ceil(0.9 n) without float error
        stats.append(
            LagStat(outlet, len(values), statistics.median(values), values[rank - 1])
        )
    return stats


def per_day(rows: Iterable[DeliveryRow]) -> list[DayCount]:
    """Deliveries per China-local planning date, days without any filled with zero."""
    counts = Counter(_local(row.planned_at).date() for row in rows)
    if not counts:
        return []
    day, last, days = min(counts), max(counts), []
    while day <= last:
        days.append(DayCount(day, counts[day]))
        day += timedelta(days=1)
    return days


def by_cause(rows: Iterable[FailureRow]) -> list[CauseCount]:
    """Failures per cause, most frequent first (ties by cause)."""
    counts = Counter(row.cause.strip() or "unknown" for row in rows)
    return [CauseCount(c, n) for c, n in sorted(counts.items(), key=_by_count)]


def _by_count(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]


def compliance(rows: Iterable[DeadlineRow]) -> list[StateCount]:
    """Deadline states: met/late/open/due_soon always (maybe 0), then others by name."""
    counts = Counter(row.state for row in rows)
    states = [*DEADLINE_LABELS, *sorted(set(counts) - set(DEADLINE_LABELS))]
    return [StateCount(s, DEADLINE_LABELS.get(s, s), counts[s]) for s in states]


def format_duration(seconds: float) -> str:
    """Human Chinese units: 秒, 分钟, 小时, 天."""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    for limit, unit, label in (
        (60, 1, "秒"),
        (3600, 60, "分钟"),
        (172800, 3600, "小时"),
    ):
        if s < limit:
            return f"{sign}{_trim(s / unit)}{label}"
    return f"{sign}{_trim(s / 86400)}天"


def _trim(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _when(moment: datetime | None) -> str:
    return "" if moment is None else _local(moment).strftime("%Y-%m-%d %H:%M")


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else _local(moment).isoformat()


# --------------------------------------------------------------------------- CSV

Cell = str | int | float


def _cell(value: Cell) -> Cell:
    # A text cell starting with = + - @ is a formula to Excel: neutralise it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------- SVG

WIDTH = 720
FONTS = "PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif"
# Presentation attributes, not CSS classes: PDF renderers ignore page CSS inside SVG.
COLOURS = {
    "a": "#1f5fa8",
    "b": "#b5561b",
    "met": "#2e7d32",
    "late": "#b00020",
    "open": "#1f5fa8",
    "due_soon": "#b5561b",
}


def _text_width(text: str) -> float:
    return sum(13.0 if ord(c) > 0x2E7F else 7.5 for c in text)  # at 13px


def _clip(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg_open(height: float, title: str, summary: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'font-size="13" fill="#1a1a1a" font-family="{FONTS}" '
        f'aria-label="{escape(summary)}"><title>{escape(title)}</title>'
    )


def _hbars(
    title: str, summary: str, bars: Sequence[tuple[str, float, str, str]]
) -> str:
    """Horizontal bars: (label, value, value shown as text, CSS class)."""
    if not bars:
        return ""
    label_w = min(320.0, max(_text_width(_clip(b[0])) for b in bars) * 1.1 + 16)
    span = WIDTH - label_w - 100
    peak = max(max(b[1] for b in bars), 0) or 1
    parts = [_svg_open(26 * len(bars) + 8, title, summary)]
    for i, (label, value, text, cls) in enumerate(bars):
        y, w = 4 + 26 * i, max(value, 0) / peak * span
        parts.append(
            f'<text x="{label_w - 8:.0f}" y="{y + 17}" text-anchor="end">'
            f"{escape(_clip(label))}</text>"
            f'<rect fill="{COLOURS.get(cls, "#666")}" x="{label_w:.0f}" y="{y + 4}" width="{w:.1f}" '
            f'height="18"/><text x="{label_w + w + 6:.1f}" y="{y + 17}">'
            f"{escape(text)}</text>"
        )
    return "".join(parts) + "</svg>"


def _vbars(title: str, summary: str, days: Sequence[DayCount]) -> str:
    """Vertical bars, one per day, with a date label every few days."""
    if not days:
        return ""
    height, left, base, top = 220, 40, 180, 20
    step = (WIDTH - left - 10) / len(days)
    bar_w, every = min(max(step * 0.7, 1.0), 48.0), -(-len(days) // 8)
    peak = max(d.count for d in days) or 1
    parts = [
        _svg_open(height, title, summary),
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="#555"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end">0</text>',
    ]
    for i, d in enumerate(days):
        x, h = left + i * step + (step - bar_w) / 2, d.count / peak * (base - top)
        parts.append(
            f'<rect fill="{COLOURS["a"]}" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"/>'
        )
        middle = x + bar_w / 2
        if len(days) <= 31 and d.count:
            parts.append(
                f'<text x="{middle:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
                f'font-size="11">{d.count}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{middle:.1f}" y="{base + 18}" text-anchor="middle">'
                f"{d.day:%m-%d}</text>"
            )
    return "".join(parts) + "</svg>"


# --------------------------------------------------------------------------- HTML

CSS = """
body{margin:0;color:#1a1a1a;background:#fff;line-height:1.6;font-family:"PingFang SC",
"Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif}
header{background:#9f1d20;color:#fff;padding:1rem 1.5rem}
header h1{margin:0;font-size:1.6rem}header p{margin:.25rem 0 0}
main{max-width:62rem;margin:0 auto;padding:.5rem 1.5rem 2rem}
h2{font-size:1.25rem;border-left:4px solid #9f1d20;padding-left:.5rem;margin:2rem 0 .75rem}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;padding:0}
a{color:#0b4f9c}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:.5rem 0}
caption{text-align:left;font-weight:bold;padding:.25rem 0}
th,td{border:1px solid #bdbdbd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}th.group{background:#e4e9f2}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;width:100%;max-width:720px;height:auto;margin:.5rem 0}
th{white-space:nowrap}th[scope=row]{font-weight:normal;background:#fff}
.none{color:#444}.csv{font-size:.9rem}
@media print{header{background:none;color:#000}a{color:#000}}
"""

Show = Callable[[Cell], Cell]


def _same(value: Cell) -> Cell:
    return value


def _labelled(labels: dict[str, str]) -> Show:
    return lambda value: labels.get(str(value), str(value))


def _kind(value: Cell) -> Cell:
    """An outlet kind as its adapter names it (`label`), else as it is."""
    return kind_label(str(value))


def _minutes(value: Cell) -> Cell:
    return str(value)[:16].replace("T", " ")  # ISO with offset -> "YYYY-MM-DD HH:MM"


def _seconds(value: Cell) -> Cell:
    return format_duration(float(value))


# Columns: (CSV header, Chinese header or "" to hide it in HTML, how HTML shows it).
Columns = Sequence[tuple[str, str, Show]]
DELIVERY_COLUMNS: Columns = (
    ("delivery_id", "投递编号", _same),
    ("outlet", "渠道", _same),
    ("kind", "渠道类型", _kind),
    ("item_ref", "事项（索引号）", _same),
    ("title", "标题", _same),
    ("version", "版本", _same),
    ("state", "", _same),
    ("planned_at", "计划投递时间", _minutes),
    ("done_at", "", _same),
    ("attempts", "尝试次数", _same),
)


def _table(columns: Columns, rows: Sequence[Sequence[Cell]]) -> str:
    if not rows:
        return '<p class="none">无</p>'
    keep = [i for i, c in enumerate(columns) if c[1]]
    head = "".join(f'<th scope="col">{escape(columns[i][1])}</th>' for i in keep)
    body = []
    for row in rows:
        cells = [(columns[i][2](row[i])) for i in keep]
        body.append(
            "<tr>"
            + "".join(
                f'<td class="n">{v}</td>'
                if isinstance(v, int | float)
                else f"<td>{escape(v)}</td>"
                for v in cells
            )
            + "</tr>"
        )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _section(anchor: str, heading: str, body: str, csv_name: str = "") -> str:
    link = (
        f'<p class="csv">数据下载：<a href="{csv_name}">{csv_name}</a>（CSV，UTF-8）</p>'
        if csv_name
        else ""
    )
    return (
        f'<section id="{anchor}" aria-labelledby="{anchor}-h">'
        f'<h2 id="{anchor}-h">{escape(heading)}</h2>{body}{link}</section>'
    )


class _Report:
    """Collects the HTML sections (anchor, heading, markup) and the CSV files."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, str, str]] = []
        self.files: dict[str, bytes] = {}

    def add(
        self,
        anchor: str,
        heading: str,
        columns: Columns,
        rows: Sequence[Sequence[Cell]],
        before: str = "",
        table: str | None = None,
    ) -> None:
        name = f"{anchor}.csv"
        self.files[name] = _csv([c[0] for c in columns], rows)
        html = before + (_table(columns, rows) if table is None else table)
        self.sections.append((anchor, heading, _section(anchor, heading, html, name)))


def _build(data: ReportData) -> tuple[str, dict[str, bytes]]:
    r = _Report()
    deliveries = list(data.deliveries)

    lags = lag_stats(deliveries)
    bars: list[tuple[str, float, str, str]] = []
    for s in lags:
        for what, value, cls in (
            ("中位数", s.median_seconds, "a"),
            ("90分位", s.p90_seconds, "b"),
        ):
            bars.append(
                (f"{_clip(s.outlet, 15)} {what}", value, format_duration(value), cls)
            )
    text = "；".join(f"{b[0]}：{b[2]}" for b in bars) or "无"
    r.add(
        "lag_by_outlet",
        "发布到上线用时",
        (
            ("outlet", "渠道", _same),
            ("count", "已完成投递数", _same),
            ("median_seconds", "中位数", _seconds),
            ("p90_seconds", "90分位数", _seconds),
        ),
        [[s.outlet, s.count, s.median_seconds, s.p90_seconds] for s in lags],
        "<p>从计划投递到渠道上线（或确认张贴）的用时，按渠道统计中位数和90分位数"
        "（最近秩法）。</p>" + _hbars("各渠道发布到上线用时", text, bars),
    )

    days = per_day(deliveries)
    rows: list[list[Cell]] = [[d.day.isoformat(), d.count] for d in days]
    cols: Columns = (("date", "日期", _same), ("count", "投递数", _same))
    peak = f"，单日最多{max(d.count for d in days)}次" if days else ""
    text = f"共{len(days)}天，合计{len(deliveries)}次投递{peak}"
    table = _table(cols, rows)
    if days:
        table = (
            f"<details><summary>逐日数据（{len(days)}天）</summary>{table}</details>"
        )
    chart = "<p>按计划投递时间的北京时间日期统计。</p>" + _vbars(
        "每日投递数", text, days
    )
    r.add("deliveries_per_day", "每日投递数", cols, rows, chart, table)

    causes = by_cause(data.failures)
    text = "；".join(f"{c.cause}：{c.count}次" for c in causes) or "无"
    chart = _hbars(
        "失败原因", text, [(c.cause, c.count, f"{c.count}次", "b") for c in causes]
    )
    cols = (("cause", "失败原因", _same), ("count", "次数", _same))
    r.add(
        "failures_by_cause",
        "失败原因",
        cols,
        [[c.cause, c.count] for c in causes],
        chart,
    )

    states = compliance(data.deadlines)
    text = "；".join(f"{s.label}：{s.count}件" for s in states)
    bars = [
        (
            s.label,
            s.count,
            f"{s.count}件",
            s.state if s.state in DEADLINE_LABELS else "other",
        )
        for s in states
    ]
    chart = _hbars("法定时限达标情况", text, bars) if data.deadlines else ""
    cols = (("state", "", _same), ("label", "状态", _same), ("count", "事项数", _same))
    rows = [[s.state, s.label, s.count] for s in states]
    r.add("deadline_compliance", "法定时限达标情况", cols, rows, chart)

    missing = sorted(data.missing, key=lambda m: (m.item_ref, m.outlet, m.verdict))
    cols = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("outlet", "渠道", _same),
        ("verdict", "核对结论", _labelled(VERDICT_LABELS)),
        ("detail", "说明", _same),
    )
    rows = [[m.item_ref, m.title, m.outlet, m.verdict, m.detail] for m in missing]
    r.add("missing", "渠道缺失事项", cols, rows)

    for state, heading in (
        ("unconfirmed", "未确认投递"),
        ("awaiting_attestation", "待张贴确认"),
    ):
        chosen = sorted(
            (d for d in deliveries if d.state == state),
            key=lambda d: (d.planned_at, d.delivery_id),
        )
        rows = [_delivery_cells(d) for d in chosen]
        r.add(state, heading, DELIVERY_COLUMNS, rows)

    late = sorted(
        (d for d in data.deadlines if d.state == "late"),
        key=lambda d: (-d.late_by, d.due, d.item_ref),
    )
    cols = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("formed_on", "信息形成日期", _same),
        ("due", "法定公开期限", _same),
        ("published_on", "公开日期", lambda v: v or "尚未公开"),
        ("late_by", "逾期（工作日）", _same),
    )
    rows = [_late_cells(d) for d in late]
    r.add("late_items", "逾期事项", cols, rows)

    _overrides(r, data.overrides)
    _late_notices(r, data.late_notices)
    if data.review is not None:
        _review(r, data.review)
    if data.annual is not None:
        _annual(r, data.annual)
    return _page(data, r.sections), r.files


def _overrides(r: _Report, overrides: Sequence[OverrideRow]) -> None:
    """Every publication the guard stopped and an operator let through, with why."""
    cols: Columns = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("version", "版本", _same),
        ("at", "放行时间", _minutes),
        ("actor", "放行人", _same),
        ("basis", "依据", _same),
        ("allowed", "放行内容", _same),
        ("findings", "检出情况", _same),
        ("content_hash", "内容哈希", _same),
    )
    rows: list[list[Cell]] = [
        [
            o.item_ref,
            o.title,
            o.version,
            _iso(o.at),
            o.actor,
            o.basis,
            "、".join(
                what
                for what, on in (
                    ("个人信息", o.personal_information),
                    ("错敏词", o.wording),
                )
                if on
            ),
            "；".join(o.findings),
            o.content_hash,
        ]
        for o in overrides
    ]
    r.add(
        "guard_overrides",
        "个人信息与错敏词放行记录",
        cols,
        rows,
        f"<p>发布前检查发现个人信息、严重错敏词或无法读取的附件，经填写依据后放行发布的版本"
        f"共{len(overrides)}件（--allow-pii / --allow-wording）。检出情况只记位置和类别，"
        "不记号码本身。</p>",
    )


def _late_notices(r: _Report, notices: Sequence[LateNoticeRow]) -> None:
    """Every 公示 published late or short, and the reason given (--late-reason)."""
    cols: Columns = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("version", "版本", _same),
        ("at", "记录时间", _minutes),
        ("actor", "操作人", _same),
        ("reason", "说明理由", _same),
        ("problems", "问题", _same),
        ("content_hash", "内容哈希", _same),
    )
    rows: list[list[Cell]] = [
        [
            n.item_ref,
            n.title,
            n.version,
            _iso(n.at),
            n.actor,
            n.reason,
            "；".join(n.problems),
            n.content_hash,
        ]
        for n in notices
    ]
    r.add(
        "late_notices",
        "公示期逾期或不足放行记录",
        cols,
        rows,
        f"<p>公示期已过、短于最低工作日数或早于发布日开始，经说明理由后发布的版本"
        f"共{len(notices)}件（--late-reason）。</p>",
    )


def _review(r: _Report, review: ReviewStats) -> None:
    """先审后发: urgent releases, time from submission to release, returns."""
    urgent = sorted(review.urgent, key=lambda u: (u.released_at, u.item_ref))
    cols: Columns = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("kind", "发布类型", _labelled(KIND_LABELS)),
        ("released_at", "紧急发布时间", _minutes),
        ("released_by", "发布人", _same),
        ("reason", "紧急发布理由", _same),
        ("due", "补审期限", _minutes),
        ("levels", "审核层级数", _same),
        ("approved", "已补审层级数", _same),
        ("approved_at", "补审完成时间", lambda v: _minutes(v) or "—"),
        ("state", "补审情况", _labelled(URGENT_LABELS)),
    )
    rows: list[list[Cell]] = [
        [
            u.item_ref,
            u.title,
            u.kind,
            _iso(u.released_at),
            u.released_by,
            u.reason,
            _iso(u.due),
            u.levels,
            u.approved,
            _iso(u.approved_at),
            u.state,
        ]
        for u in urgent
    ]
    late = sum(1 for u in urgent if u.state in ("overdue", "approved_late"))
    r.add(
        "urgent_releases",
        "紧急发布（未经审核即发布）",
        cols,
        rows,
        f"<p>未经逐级审核即对外发布的版本共{len(urgent)}件，须在补审期限（紧急发布时"
        f"按 urgent_review_hours 记录）内逐级补审；其中逾期未补审或逾期后补审{late}件。"
        "</p>",
    )

    cols = (
        ("level", "审核层级", lambda v: v or "提交至发布（合计）"),
        ("count", "件数", _same),
        ("median_seconds", "中位数", _seconds),
        ("max_seconds", "最长", _seconds),
    )
    rows = [
        [t.level or "", t.count, t.median_seconds, t.max_seconds] for t in review.times
    ]
    r.add(
        "review_time",
        "提交至发布用时（按审核层级）",
        cols,
        rows,
        "<p>各审核层级：从提交（或上一层级审核通过）到该层级审核通过的用时；合计：从"
        "首次提交（含退回后重新提交）到发布的用时。只统计经逐级审核后发布的版本。"
        f"当前待审核版本{review.under_review}件。</p>",
    )

    returned = sorted(review.returned, key=lambda x: (x.at, x.item_ref))
    cols = (
        ("item_ref", "事项（索引号）", _same),
        ("title", "标题", _same),
        ("level", "退回层级", _same),
        ("reviewer", "审核人", _same),
        ("at", "退回时间", _minutes),
        ("comment", "退回意见", _same),
        ("content_hash", "", _same),
    )
    rows = [
        [
            x.item_ref,
            x.title,
            x.level,
            x.reviewer,
            _iso(x.at),
            x.comment,
            x.content_hash,
        ]
        for x in returned
    ]
    r.add(
        "returned",
        "退回事项",
        cols,
        rows,
        f"<p>审核人退回作者修改共{len(returned)}次"
        f"（涉及{len({x.item_ref for x in returned})}个事项）。</p>",
    )


def _late_cells(d: DeadlineRow) -> list[Cell]:
    published = d.published_on.isoformat() if d.published_on else ""
    cells: list[Cell] = [
        d.item_ref,
        d.title,
        d.formed_on.isoformat(),
        d.due.isoformat(),
    ]
    return [*cells, published, d.late_by]


def _delivery_cells(d: DeliveryRow) -> list[Cell]:
    cells: list[Cell] = [d.delivery_id, d.outlet, d.kind, d.item_ref, d.title]
    return [*cells, d.version, d.state, _iso(d.planned_at), _iso(d.done_at), d.attempts]


EMPTY_ROW = '<tr><td colspan="2">无</td></tr>'


def _annual(r: _Report, a: AnnualStats) -> None:
    """Shaped like 年度报告 table 二 “主动公开政府信息情况”; dict order is kept."""
    groups = (
        ("stage", "按“五公开”环节", a.by_stage),
        ("area", "按基层政务公开试点领域", a.by_area),
        ("channel", "按公开渠道（发布件数）", a.by_channel),
        (
            "total",
            "合计",
            {
                "total_items": a.total_items,
                "revised": a.revised,
                "withdrawn": a.withdrawn,
            },
        ),
    )
    shown = {
        "total_items": "本年主动公开事项",
        "revised": "其中：本年修订",
        "withdrawn": "其中：本年撤回（废止）",
    }
    bodies = []
    for section, heading, counts in groups:
        trs = "".join(
            f'<tr><th scope="row">{escape(shown.get(k, k) if section == "total" else k)}'
            f'</th><td class="n">{v}</td></tr>'
            for k, v in counts.items()
        )
        bodies.append(
            f'<tbody><tr><th colspan="2" scope="rowgroup" class="group">{heading}</th>'
            f"</tr>{trs or EMPTY_ROW}</tbody>"
        )
    table = (
        f'<div class="scroll"><table><caption>主动公开政府信息情况（{a.year}年）'
        '</caption><thead><tr><th scope="col">信息内容</th><th scope="col">件数</th>'
        f"</tr></thead>{''.join(bodies)}</table></div>"
    )
    cols = (("section", "", _same), ("label", "", _same), ("count", "", _same))
    rows: list[list[Cell]] = [[s, k, v] for s, _h, c in groups for k, v in c.items()]
    r.add(f"annual_{a.year}", f"年度统计（{a.year}年）", cols, rows, table=table)


def _page(data: ReportData, sections: list[tuple[str, str, str]]) -> str:
    ds = data.deliveries
    overview: list[list[Cell]] = [
        ["投递记录", len(ds)],
        ["已上线或已确认张贴", sum(1 for d in ds if d.done_at is not None)],
        ["失败记录", len(data.failures)],
        ["未确认投递", sum(1 for d in ds if d.state == "unconfirmed")],
        ["待张贴确认", sum(1 for d in ds if d.state == "awaiting_attestation")],
        ["渠道缺失事项", len(data.missing)],
        ["逾期事项", sum(1 for d in data.deadlines if d.state == "late")],
        ["个人信息与错敏词放行", len(data.overrides)],
        ["公示期逾期或不足放行", len(data.late_notices)],
    ]
    if data.review is not None:
        urgent = data.review.urgent
        overview += [
            ["紧急发布（未经审核即发布）", len(urgent)],
            ["其中补审逾期", sum(1 for u in urgent if u.state == "overdue")],
            ["退回次数", len(data.review.returned)],
            ["待审核版本", data.review.under_review],
        ]
    cols: Columns = (("item", "项目", _same), ("count", "数量", _same))
    first = [("overview", "概览", _section("overview", "概览", _table(cols, overview)))]
    if data.notes:
        notes = "".join(f"<li>{escape(n)}</li>" for n in data.notes)
        first.append(("notes", "提示", _section("notes", "提示", f"<ul>{notes}</ul>")))
    sections = first + sections
    nav = "".join(f'<li><a href="#{a}">{escape(h)}</a></li>' for a, h, _ in sections)
    title = escape(data.title)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body><header>"
        f"<h1>{title}</h1><p>生成时间：{_when(data.generated_at)}（北京时间）</p></header>"
        f'<main><nav aria-label="目录"><ul>{nav}</ul></nav>'
        + "".join(html for _, _, html in sections)
        + "</main></body></html>\n"
    )


def render_html(data: ReportData) -> str:
    """The report's `index.html` as text."""
    return _build(data)[0]


def write_report(data: ReportData, out: Path) -> list[Path]:
    """Write `index.html` and the CSVs into `out` (created if needed); return the paths."""
    html, files = _build(data)
    written = [out / "index.html"]
    write_atomically(written[0], html.encode("utf-8"))
    for name, content in files.items():
        write_atomically(out / name, content)
        written.append(out / name)
    return written
