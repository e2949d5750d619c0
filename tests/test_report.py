"""The audit report renderer: numbers, CSVs, a self-contained escaped HTML page."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from syndicate.audit.report import (
    AnnualStats,
    CauseCount,
    DayCount,
    DeadlineRow,
    DeliveryRow,
    FailureRow,
    LagStat,
    MissingRow,
    ReportData,
    ReturnedRow,
    ReviewStats,
    ReviewTime,
    StateCount,
    UrgentRow,
    by_cause,
    compliance,
    format_duration,
    lag_stats,
    per_day,
    render_html,
    write_report,
)

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
HOSTILE = '<script>alert(1)</script>关于&印发"通知"'
CSVS = [
    "lag_by_outlet.csv",
    "deliveries_per_day.csv",
    "failures_by_cause.csv",
    "deadline_compliance.csv",
    "missing.csv",
    "unconfirmed.csv",
    "awaiting_attestation.csv",
    "late_items.csv",
    "guard_overrides.csv",
    "late_notices.csv",
]


def delivery(
    n: int,
    outlet: str = "portal",
    *,
    lag: float | None = 60,
    state: str = "succeeded",
    at: datetime = T0,
    title: str = "关于做好春耕工作的通知",
) -> DeliveryRow:
    done = None if lag is None else at + timedelta(seconds=lag)
    return DeliveryRow(
        delivery_id=f"d{n:03}",
        outlet=outlet,
        kind=outlet.split("-")[0],
        item_ref=f"XZF/2026-{n:04}",
        title=title,
        version=1,
        state=state,
        planned_at=at,
        done_at=done,
        attempts=1,
    )


def deadline(ref: str, state: str, late_by: int = 0) -> DeadlineRow:
    published = None if state in ("open", "due_soon") else date(2026, 3, 25)
    return DeadlineRow(
        item_ref=ref,
        title=f"事项{ref}",
        formed_on=date(2026, 3, 1),
        due=date(2026, 3, 20),
        published_on=published,
        state=state,
        late_by=late_by,
    )


def sample() -> ReportData:
    portal = [
        delivery(i, "portal", lag=lag) for i, lag in enumerate(range(10, 110, 10))
    ]
    board = [
        delivery(20, "noticeboard-a", lag=3600),
        delivery(21, "noticeboard-a", lag=None, state="awaiting_attestation"),
        delivery(22, "noticeboard-a", lag=7200, at=T0 + timedelta(days=2)),
    ]
    wechat = [
        delivery(30, "wechat_mp", lag=None, state="unconfirmed", title=HOSTILE),
        delivery(31, "wechat_mp", lag=None, state="failed"),
    ]
    failures = [
        FailureRow("wechat_mp", T0, "HTTP 500"),
        FailureRow("wechat_mp", T0, "timeout"),
        FailureRow("rss", T0, "HTTP 500"),
        FailureRow("webhook", T0, "=cmd|' /C calc'!A0"),
    ]
    missing = [
        MissingRow("XZF/2026-0002", HOSTILE, "rss", "missing", "not in the feed"),
        MissingRow("XZF/2026-0001", "通知", "portal", "stale", "v1 shown, v2 current"),
    ]
    deadlines = [
        deadline("A/1", "met"),
        deadline("A/2", "met"),
        deadline("A/3", "late", 3),
        deadline("A/4", "late", 5),
        deadline("A/5", "open"),
        deadline("A/6", "due_soon"),
    ]
    annual = AnnualStats(
        year=2025,
        by_stage={"决策公开": 12, "结果公开": 30},
        by_area={"社会救助": 7},
        by_channel={"政府门户网站": 42, "政务公开栏": 9},
        total_items=42,
        revised=4,
        withdrawn=1,
    )
    return ReportData(
        generated_at=datetime(2026, 3, 31, 16, 30, tzinfo=UTC),
        title="政务公开审计报告",
        deliveries=[*portal, *board, *wechat],
        failures=failures,
        missing=missing,
        deadlines=deadlines,
        annual=annual,
        notes=["2027年节假日安排尚未公布，期限按普通工作日计算。"],
    )


def read_csv(path: Path) -> list[list[str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


class Collect(HTMLParser):
    """Checks nesting of non-void elements and collects attributes and text."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "rect", "line"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"stray </{tag}>"
        assert self.stack.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Collect:
    parser = Collect()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    return parser


# --------------------------------------------------------------------------- numbers


def test_lag_median_and_nearest_rank_p90() -> None:
    stats = lag_stats(sample().deliveries)
    assert stats == [
        LagStat("noticeboard-a", 2, 5400.0, 7200.0),
        LagStat("portal", 10, 55.0, 90.0),  # 10..100 s: p90 is the 9th of 10
    ]
    odd = [delivery(i, lag=v) for i, v in enumerate([5, 1, 3, 100, 2, 4, 6])]
    assert lag_stats(odd) == [LagStat("portal", 7, 4.0, 100.0)]  # rank ceil(6.3)=7
    assert lag_stats([delivery(1, lag=None)]) == []


def test_per_day_uses_beijing_dates_and_fills_gaps() -> None:
    late_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 03-02 in Beijing
    rows = [
        delivery(1, at=datetime(2026, 3, 1, 15, 59, tzinfo=UTC)),  # 23:59 on 03-01
        delivery(2, at=late_utc),
        delivery(3, at=late_utc + timedelta(hours=1)),
        delivery(4, at=datetime(2026, 3, 4, 1, 0, tzinfo=UTC)),
    ]
    assert per_day(rows) == [
        DayCount(date(2026, 3, 1), 1),
        DayCount(date(2026, 3, 2), 2),
        DayCount(date(2026, 3, 3), 0),
        DayCount(date(2026, 3, 4), 1),
    ]
    assert per_day([]) == []
    with pytest.raises(ValueError, match="naive"):
        per_day([delivery(1, at=datetime(2026, 3, 1))])


def test_failures_by_cause_and_compliance() -> None:
    data = sample()
    assert by_cause(data.failures) == [
        CauseCount("HTTP 500", 2),
        CauseCount("=cmd|' /C calc'!A0", 1),
        CauseCount("timeout", 1),
    ]
    assert compliance(data.deadlines) == [
        StateCount("met", "按时", 2),
        StateCount("late", "逾期", 2),
        StateCount("open", "未到期", 1),
        StateCount("due_soon", "即将到期", 1),
    ]
    odd = compliance([deadline("B/1", "waived")])
    assert [(s.state, s.count) for s in odd][-1] == ("waived", 1)
    assert [s.count for s in odd[:4]] == [0, 0, 0, 0]


def test_format_duration_uses_chinese_units() -> None:
    assert format_duration(45) == "45秒"
    assert format_duration(90) == "1.5分钟"
    assert format_duration(7200) == "2小时"
    assert format_duration(3 * 86400) == "3天"


# --------------------------------------------------------------------------- files


def test_writes_html_and_csvs_that_match_the_numbers(tmp_path: Path) -> None:
    out = tmp_path / "report"
    written = write_report(sample(), out)
    assert sorted(p.name for p in written) == sorted(
        ["index.html", *CSVS, "annual_2025.csv"]
    )
    assert all(p.parent == out and p.is_file() for p in written)

    lag = read_csv(out / "lag_by_outlet.csv")
    assert lag[0] == ["outlet", "count", "median_seconds", "p90_seconds"]
    assert [(r[0], int(r[1]), float(r[2]), float(r[3])) for r in lag[1:]] == [
        ("noticeboard-a", 2, 5400.0, 7200.0),
        ("portal", 10, 55.0, 90.0),
    ]
    assert read_csv(out / "deliveries_per_day.csv") == [
        ["date", "count"],
        ["2026-03-01", "14"],
        ["2026-03-02", "0"],
        ["2026-03-03", "1"],
    ]
    causes = read_csv(out / "failures_by_cause.csv")
    assert causes[1] == ["HTTP 500", "2"]
    assert causes[2] == ["'=cmd|' /C calc'!A0", "1"]  # no formula for Excel
    assert read_csv(out / "deadline_compliance.csv")[1:] == [
        ["met", "按时", "2"],
        ["late", "逾期", "2"],
        ["open", "未到期", "1"],
        ["due_soon", "即将到期", "1"],
    ]
    missing = read_csv(out / "missing.csv")
    assert missing[0] == ["item_ref", "title", "outlet", "verdict", "detail"]
    assert [r[0] for r in missing[1:]] == ["XZF/2026-0001", "XZF/2026-0002"]
    assert missing[2][1] == HOSTILE  # raw in the CSV, escaped only in HTML
    unconfirmed = read_csv(out / "unconfirmed.csv")
    assert unconfirmed[0][:3] == ["delivery_id", "outlet", "kind"]
    assert [r[0] for r in unconfirmed[1:]] == ["d030"]
    assert unconfirmed[1][7] == "2026-03-01T10:00:00+08:00"
    assert [r[0] for r in read_csv(out / "awaiting_attestation.csv")[1:]] == ["d021"]
    late = read_csv(out / "late_items.csv")
    assert late[0] == [
        "item_ref",
        "title",
        "formed_on",
        "due",
        "published_on",
        "late_by",
    ]
    assert [(r[0], r[3], int(r[5])) for r in late[1:]] == [
        ("A/4", "2026-03-20", 5),
        ("A/3", "2026-03-20", 3),
    ]
    annual = read_csv(out / "annual_2025.csv")
    assert annual[0] == ["section", "label", "count"]
    assert ["stage", "决策公开", "12"] in annual
    assert ["channel", "政务公开栏", "9"] in annual
    assert ["total", "total_items", "42"] in annual
    assert ["total", "withdrawn", "1"] in annual


def test_html_is_chinese_well_formed_and_shows_the_numbers(tmp_path: Path) -> None:
    write_report(sample(), tmp_path)
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html
    assert '<meta charset="utf-8">' in html
    page = parse(html)
    text = "".join(page.text)
    for heading in (
        "政务公开审计报告",
        "发布到上线用时",
        "每日投递数",
        "失败原因",
        "法定时限达标情况",
        "渠道缺失事项",
        "未确认投递",
        "待张贴确认",
        "逾期事项",
        "年度统计",
        "主动公开政府信息情况",
        "按时",
        "即将到期",
    ):
        assert heading in text, heading
    assert "生成时间：2026-04-01 00:30" in text  # generated_at in Beijing time
    for shown in ("55秒", "1.5分钟", "1.5小时", "2小时", "HTTP 500", "决策公开"):
        assert shown in text, shown
    assert "2027年节假日安排尚未公布" in text
    assert "版本滞后" in text  # verdict label
    svgs = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(svgs) == 4
    assert all(a.get("role") == "img" and a.get("aria-label") for a in svgs)
    assert html.count("<svg") == html.count("<title>") - 1  # + the page title
    links = {a["href"] for tag, a in page.tags if tag == "a" and a.get("href")}
    assert {*CSVS, "annual_2025.csv"} <= links
    ids = {a["id"] for _tag, a in page.tags if a.get("id")}
    assert {h[1:] for h in links if h and h.startswith("#")} <= ids


def test_html_has_no_external_references_and_no_script(tmp_path: Path) -> None:
    write_report(sample(), tmp_path)
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html.lower()
    assert "@import" not in html
    assert "url(" not in html
    for tag, attrs in parse(html).tags:
        for name in ("href", "src", "action", "srcset", "xlink:href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", value, re.I), (
                tag,
                value,
            )


def test_hostile_title_is_escaped() -> None:
    html = render_html(sample())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;关于&amp;印发&quot;通知&quot;" in html
    page = parse(html)
    assert "script" not in {tag for tag, _ in page.tags}
    assert "".join(page.text).count(HOSTILE) == 2  # missing + unconfirmed tables


def test_output_is_deterministic(tmp_path: Path) -> None:
    data = sample()
    shuffled = ReportData(
        generated_at=data.generated_at,
        title=data.title,
        deliveries=list(reversed(data.deliveries)),
        failures=list(reversed(data.failures)),
        missing=list(reversed(data.missing)),
        deadlines=list(reversed(data.deadlines)),
        annual=data.annual,
        notes=data.notes,
    )
    first = write_report(data, tmp_path / "a")
    second = write_report(shuffled, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_empty_report_is_valid_with_header_only_csvs(tmp_path: Path) -> None:
    data = ReportData(
        generated_at=T0,
        title="政务公开审计报告",
        deliveries=[],
        failures=[],
        missing=[],
        deadlines=[],
    )
    written = write_report(data, tmp_path)
    assert sorted(p.name for p in written) == sorted(["index.html", *CSVS])
    for name in CSVS:
        rows = read_csv(tmp_path / name)
        if name == "deadline_compliance.csv":  # the four states, all zero
            assert [r[2] for r in rows[1:]] == ["0", "0", "0", "0"]
        else:
            assert len(rows) == 1, name
            assert all(re.fullmatch(r"[a-z][a-z0-9_]*", h) for h in rows[0])
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    page = parse(html)
    text = "".join(page.text)
    assert text.count("无") >= 7
    assert "年度统计" not in text
    assert "<svg" not in html


# --------------------------------------------------------------------------- review


def review_stats() -> ReviewStats:
    due = T0 + timedelta(hours=24)
    urgent = [
        UrgentRow("XZF/2026-0101", "防汛通知", "publish", T0, "张三", "汛情紧急", due,
                  2, 2, T0 + timedelta(hours=3), "approved"),
        UrgentRow("XZF/2026-0102", "停水通知", "revise", T0 + timedelta(days=1), "张三",
                  "=1+1", due + timedelta(days=1), 2, 1, None, "overdue"),
    ]  # fmt: skip
    times = [
        ReviewTime("科室初审", 2, 7200.0, 10800.0),
        ReviewTime(None, 2, 19800.0, 32400.0),
    ]
    returned = [
        ReturnedRow("XZF/2026-0103", "通知", "科室初审", "李科长",
                    T0 + timedelta(hours=1), HOSTILE, "ab" * 32),
    ]  # fmt: skip
    return ReviewStats(urgent=urgent, times=times, returned=returned, under_review=3)


def test_review_sections_only_when_the_home_reviews(tmp_path: Path) -> None:
    plain = write_report(sample(), tmp_path / "plain")
    assert not {"urgent_releases.csv", "review_time.csv", "returned.csv"} & {
        p.name for p in plain
    }
    assert "紧急发布" not in (tmp_path / "plain" / "index.html").read_text("utf-8")

    stats = review_stats()
    data = replace(sample(), review=stats)
    out = tmp_path / "review"
    written = {p.name for p in write_report(data, out)}
    assert {"urgent_releases.csv", "review_time.csv", "returned.csv"} <= written
    urgent = read_csv(out / "urgent_releases.csv")
    assert urgent[0] == [
        "item_ref", "title", "kind", "released_at", "released_by", "reason", "due",
        "levels", "approved", "approved_at", "state",
    ]  # fmt: skip
    assert urgent[1][3] == "2026-03-01T10:00:00+08:00"
    assert urgent[1][-2:] == ["2026-03-01T13:00:00+08:00", "approved"]
    assert urgent[2][5] == "'=1+1"  # no formula for Excel
    assert urgent[2][-2:] == ["", "overdue"]
    assert read_csv(out / "review_time.csv") == [
        ["level", "count", "median_seconds", "max_seconds"],
        ["科室初审", "2", "7200.0", "10800.0"],
        ["", "2", "19800.0", "32400.0"],
    ]
    returned = read_csv(out / "returned.csv")
    assert returned[1][5] == HOSTILE
    html = (out / "index.html").read_text("utf-8")
    page = parse(html)
    text = "".join(page.text)
    for shown in (
        "紧急发布（未经审核即发布）",
        "已按时补审",
        "补审逾期",
        "提交至发布（合计）",
        "5.5小时",
        "退回事项",
        "当前待审核版本3件",
    ):
        assert shown in text, shown
    assert "<script>" not in html
    overview = text[text.index("概览") :]
    assert "其中补审逾期1" in overview.replace("\n", "")
    # Deterministic whatever order the rows come in.
    shuffled = replace(
        data,
        review=replace(
            stats,
            urgent=list(reversed(stats.urgent)),
            returned=list(reversed(stats.returned)),
        ),
    )
    again = write_report(shuffled, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [
        (out / p.name).read_bytes() for p in again
    ]
