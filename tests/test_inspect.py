"""`syndicate audit inspect`: the 国办秘函〔2019〕19号 indicators a machine can check
(docs/inspection.md), on homes built through the library and the command line with a
fixed clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syndicate.attachments import PreparedAttachment
from syndicate.audit.inspect import Severity
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.engine import Engine
from syndicate.testing import FixedClock
from syndicate.testing.fakes import WechatMpServer, toml_table
from tests.clihome import CliHome
from tests.conftest import content

PORTAL = "https://www.linxi.gov.cn"
START = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA_TZ)
DAY = START.date()
STAGES = ("decision", "execution", "management", "service", "result")
PORTAL_TABLE = toml_table(
    "portal",
    {
        "kind": "portal",
        "channel": "portal",
        "path": "out/portal",
        "site_url": PORTAL,
        "site_name": "临溪县人民政府",
    },
)


@pytest.fixture
def wechat() -> Iterator[WechatMpServer]:
    with WechatMpServer(
        app_id="wx0123456789abcdef", secret="s" * 32, publish_polls=0
    ) as server:
        yield server


def make_home(
    tmp_path: Path,
    environ: dict[str, str],
    *,
    portal: bool = True,
    wechat: WechatMpServer | None = None,
) -> CliHome:
    env = {**environ, "WX_SECRET": "s" * 32}
    home = CliHome(tmp_path / "home", env)
    home.ok("init", "--no-review")
    tables = PORTAL_TABLE if portal else ""
    if wechat is not None:
        tables += toml_table(
            "wechat", wechat.outlet_table("WX_SECRET", portal_url=PORTAL)
        )
    tables += "[delivery]\nfirst_check_seconds = 1\n"
    config = home.home / "syndicate.toml"
    config.write_text(config.read_text("utf-8") + "\n" + tables, "utf-8")
    return home


def open_engine(home: CliHome, clock: FixedClock) -> Engine:
    return Engine.open(home.home, environ=home.env, clock=clock)


def settle(engine: Engine, clock: FixedClock) -> None:
    """Sync until nothing waits (WeChat confirms a moment later)."""
    for _ in range(20):
        engine.sync()
        waiting = [
            r
            for r in engine.status()
            if r.state.value in ("planned", "submitted", "claimed", "retrying")
        ]
        if not waiting:
            return
        clock.advance(seconds=30)
    raise AssertionError(f"deliveries still waiting: {waiting}")


def portal_only(**fields: object) -> ItemContent:
    """Item content for the portal alone (no new-media delivery)."""
    return content(channels=["portal"], **fields)


def publish(home: CliHome, clock: FixedClock, *items: ItemContent) -> None:
    with open_engine(home, clock) as engine:
        for item in items:
            engine.items.publish(item, actor="张三")
        settle(engine, clock)


def publish_clean(home: CliHome, clock: FixedClock) -> None:
    """What a portal needs to show no empty column: every 五公开 stage, each column of
    the 政府信息公开 section (指南, 制度, 年报, 标准目录, a policy and its 解读) and a
    catalogue node; all on the portal alone, in 社会救助."""
    pages = [
        portal_only(
            index_no="C-1",
            title="临溪县民政局政府信息公开指南",
            page_kind="guide",
            stage="服务公开",
        ),
        portal_only(
            index_no="C-2",
            title="临溪县民政局政府信息公开制度",
            page_kind="rules",
            stage="管理公开",
        ),
        portal_only(
            index_no="C-3",
            title="临溪县民政局2025年政府信息公开工作年度报告",
            page_kind="annual_report",
            formed_on="2026-01-20",
        ),
        portal_only(
            index_no="C-4",
            title="临溪县社会救助领域基层政务公开标准目录",
            page_kind="catalogue",
            stage="执行公开",
        ),
        portal_only(
            index_no="C-5",
            title="临溪县最低生活保障审批结果",
            catalogue_path="社会救助/最低生活保障/审批结果",
        ),
    ]
    policy = portal_only(
        index_no="C-6",
        title="临溪县社会救助实施办法",
        stage="决策公开",
        doc_type="normative",
        validity="in_force",
    )
    with open_engine(home, clock) as engine:
        for item in [*pages, policy]:
            engine.items.publish(item, actor="张三")
        engine.items.publish(
            portal_only(
                index_no="C-7",
                title="《临溪县社会救助实施办法》政策解读",
                interprets=engine.items.resolve(policy.ref),
            ),
            actor="张三",
        )
        settle(engine, clock)


def inspect(home: CliHome, today: date, *more: str) -> tuple[int, dict[str, Any]]:
    result = home("audit", "inspect", "--json", "--today", today.isoformat(), *more)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def by_indicator(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    findings = report["findings"]
    assert isinstance(findings, list)
    for f in findings:
        found.setdefault(f["indicator"], []).append(f)
    return found


def test_a_fresh_home_passes_and_two_weeks_later_fails(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = make_home(tmp_path, environ)
    clock = FixedClock(START)
    publish_clean(home, clock)
    code, report = inspect(home, DAY)
    assert code == 0, report
    assert report["passed"] is True
    assert report["findings"] == []
    checked = report["checked"]
    assert isinstance(checked, dict)
    assert checked["links"] > 100
    assert checked["pages"] > 20
    assert checked["columns"] > 10
    text = home("audit", "inspect", "--today", DAY.isoformat())
    assert text.exit_code == 0
    assert "pass (no veto finding)" in text.stdout
    # 14 days on: still within two weeks.
    code, report = inspect(home, DAY + timedelta(days=14))
    assert code == 0, report
    # 15 days on with no update: the home page and seven dynamic columns; the policy
    # columns (政策文件, 政策解读) have six months.
    late = home("audit", "inspect", "--today", (DAY + timedelta(days=15)).isoformat())
    assert late.exit_code == 1
    assert late.stdout.startswith("1. [单项否决] 首页不更新")
    assert "FAIL (单项否决)" in late.stdout
    code, report = inspect(home, DAY + timedelta(days=15))
    assert code == 1
    found = by_indicator(report)
    [home_page] = found.pop("home_not_updated")
    assert home_page["severity"] == "veto"
    assert home_page["path"] == "index.html"
    assert "15 days ago" in home_page["message"]
    stale = found.pop("column_not_updated")
    assert sorted(f["path"] for f in stale) == [
        "area/social_assistance/index.html",
        "list/all/index.html",
        *(f"stage/{s}/index.html" for s in sorted(STAGES)),
    ]
    assert {f["severity"] for f in stale} == {"veto"}  # 5 or more: the 19号 threshold
    assert found == {}
    # Six months on, the policy columns too.
    code, report = inspect(home, DAY + timedelta(days=181))
    paths = {f["path"] for f in by_indicator(report)["column_not_updated"]}
    assert {"xxgk/policy/index.html", "xxgk/reading/index.html"} <= paths
    # New items bring the home page and their columns back; four columns stay
    # behind, fewer than 5: deductions.
    clock.now = START + timedelta(days=15)
    publish(
        home,
        clock,
        portal_only(index_no="N-1", area="养老服务", stage="决策公开"),
        portal_only(index_no="N-2", area="养老服务", stage="执行公开"),
    )
    code, report = inspect(home, DAY + timedelta(days=15))
    assert code == 0, report
    stale = by_indicator(report)["column_not_updated"]
    assert sorted(f["path"] for f in stale) == [
        "area/social_assistance/index.html",
        "stage/management/index.html",
        "stage/result/index.html",
        "stage/service/index.html",
    ]
    assert {f["severity"] for f in stale} == {"deduction"}


def test_an_empty_portal_fails_and_no_portal_is_said_not_to_be_checked(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = make_home(tmp_path, environ)
    code, report = inspect(home, DAY)
    assert code == 1
    assert [f["indicator"] for f in report["findings"]] == ["site_unreachable"]
    bare = make_home(tmp_path / "bare", environ, portal=False)
    code, report = inspect(bare, DAY)
    assert code == 0
    assert report["findings"] == []
    assert any("no portal outlet is configured" in n for n in report["notes"])
    text = bare("audit", "inspect", "--today", DAY.isoformat())
    assert text.exit_code == 0
    assert "no portal outlet is configured" in text.stderr


def test_a_silent_new_media_account_is_a_veto(
    tmp_path: Path, environ: dict[str, str], wechat: WechatMpServer
) -> None:
    home = make_home(tmp_path, environ, wechat=wechat)
    clock = FixedClock(START)
    publish_clean(home, clock)
    code, report = inspect(home, DAY)
    assert code == 1
    [silent] = report["findings"]
    assert (silent["outlet"], silent["name"], silent["severity"]) == (
        "wechat",
        "内容不更新",
        "veto",
    )
    assert "nothing was ever delivered" in silent["message"]
    # An article to the account: updated, for two weeks.
    publish(home, clock, content(index_no="M-2", title="临溪县养老服务补贴发放公告"))
    assert wechat.published()
    code, report = inspect(home, DAY)
    assert code == 0, report
    assert "new_media_silent" not in by_indicator(report)
    code, report = inspect(home, DAY + timedelta(days=20))
    [silent] = by_indicator(report)["new_media_silent"]
    assert "20 days ago" in silent["message"]


def test_dead_links_name_the_page_and_the_link(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = make_home(tmp_path, environ)
    clock = FixedClock(START)
    attachment = PreparedAttachment.from_bytes(
        "项目,金额\n低保补助,100\n".encode(), name="明细.csv"
    )
    item = portal_only(index_no="L-1", attachments=[attachment.meta.model_dump()])
    publish_clean(home, clock)
    with open_engine(home, clock) as engine:
        engine.items.publish(item, actor="张三", attachments=[attachment])
        settle(engine, clock)
        item_id = engine.items.resolve(item.ref)
    site = home.home / "out" / "portal"
    code, report = inspect(home, DAY)
    assert code == 0
    assert "dead_link" not in by_indicator(report)
    [file] = (site / "files").glob("*/*.csv")
    file.unlink()
    page = site / "items" / f"{item_id}.html"
    text = page.read_text("utf-8")
    page.write_text(
        text.replace(
            '<a class="skip" href="#main">',
            '<a href="../nowhere.html">x</a><a href="#gone">y</a>'
            '<a href="https://example.org/x">z</a><a class="skip" href="#main">',
        ),
        "utf-8",
    )
    code, report = inspect(home, DAY)
    assert code == 0  # dead links are deductions (19号 gives no veto for them)
    dead = by_indicator(report)["dead_link"]
    assert {f["path"] for f in dead} == {f"items/{item_id}.html"}
    messages = sorted(f["message"] for f in dead)
    assert len(messages) == 3, messages
    assert any("%E6%98%8E%E7%BB%86.csv" in m and "an attachment" in m for m in messages)
    assert any("../nowhere.html: no such file" in m for m in messages)
    assert any("#gone: no element with id 'gone'" in m for m in messages)
    assert all(f["ref"] is None and f["outlet"] == "portal" for f in dead)
    assert "syndicate repair --outlet portal" in dead[0]["action"]


def test_page_dates_policies_notices_and_time_limits(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = make_home(tmp_path, environ)
    clock = FixedClock(START)
    publish_clean(home, clock)
    policy = portal_only(
        index_no="P-1",
        title="临溪县最低生活保障实施办法",
        stage="决策公开",
        doc_type="normative",
        validity="in_force",
    )
    explained = portal_only(
        index_no="P-2", title="临溪县养老服务规定", doc_type="regulation"
    )
    notice = portal_only(
        index_no="N-1",
        title="临溪县2026年低保初审名单公示",
        notice_period={"start": "2026-05-29", "end": "2026-06-12"},
    )
    on_time = portal_only(
        index_no="N-2",
        title="临溪县2026年特困供养初审名单公示",
        notice_period={"start": "2026-06-01", "end": "2026-06-12"},
    )
    # 10 working days from Mon 2026-05-11 end on 2026-05-25: published 06-01, late.
    late = portal_only(index_no="T-1", formed_on="2026-05-11", time_limit_days=10)
    timely = portal_only(index_no="T-2", formed_on="2026-05-25", time_limit_days=10)
    with open_engine(home, clock) as engine:
        items = engine.items
        for item in (policy, explained, on_time, late, timely):
            items.publish(item, actor="张三")
        items.publish(notice, actor="张三", late_reason="补录：已在村公示栏张贴")
        settle(engine, clock)
        explained_id = items.resolve(explained.ref)
        items.publish(
            portal_only(
                index_no="P-3",
                title="《临溪县养老服务规定》解读",
                interprets=explained_id,
            ),
            actor="张三",
        )
        settle(engine, clock)
        report = engine.inspect(today=DAY)
        assert report.passed
        found: dict[str, list[str]] = {}
        for f in report.findings:
            found.setdefault(f.indicator, []).append(f.ref or "")
        assert found["policy_without_interpretation"] == [policy.ref]
        assert found["notice_late"] == [notice.ref]
        assert found["late_by_time_limit"] == [late.ref]
        [lag] = [f for f in report.findings if f.indicator == "late_by_time_limit"]
        assert "by 2026-05-25" in lag.message
        assert "published on 2026-06-01" in lag.message
        assert lag.severity is Severity.DEDUCTION
        [window] = [f for f in report.findings if f.indicator == "notice_late"]
        assert "3 day(s) after its window opened" in window.message
        assert "补录" in window.message
        # A page stripped of its date, and one whose PubDate was moved back.
        site = home.home / "out" / "portal" / "items"
        undated = site / f"{items.resolve(timely.ref)}.html"
        text = undated.read_text("utf-8")
        undated.write_text(
            text.replace('<meta name="PubDate"', '<meta name="X"').replace(
                "<dt>发布日期</dt>", "<dt>日期</dt>"
            ),
            "utf-8",
        )
        backdated = site / f"{items.resolve(on_time.ref)}.html"
        text = backdated.read_text("utf-8")
        backdated.write_text(
            text.replace(
                '<meta name="PubDate" content="2026-06-01 09:00">',
                '<meta name="PubDate" content="2026-05-20 09:00">',
            ),
            "utf-8",
        )
        report = engine.inspect(today=DAY)
    assert not report.passed
    [forged] = report.vetoes
    assert (forged.name, forged.ref) == ("伪造发稿日期", on_time.ref)
    assert "2026-05-20 09:00" in forged.message
    assert "2026-06-01 09:00" in forged.message
    [bare] = [f for f in report.findings if f.indicator == "no_publication_date"]
    assert bare.ref == timely.ref
    assert "no PubDate meta" in bare.message
    assert "no 发布日期" in bare.message
    assert report.findings[0] is forged


def test_json_shape_and_bad_input(tmp_path: Path, environ: dict[str, str]) -> None:
    home = make_home(tmp_path, environ)
    clock = FixedClock(START)
    publish(home, clock, portal_only(index_no="J-1"))
    code, report = inspect(home, DAY + timedelta(days=30))
    assert code == 1
    assert set(report) == {"today", "passed", "summary", "findings", "notes", "checked"}
    assert report["today"] == "2026-07-01"
    assert report["passed"] is False
    findings = report["findings"]
    assert isinstance(findings, list)
    assert report["summary"] == {
        "veto": sum(f["severity"] == "veto" for f in findings),
        "deduction": sum(f["severity"] == "deduction" for f in findings),
    }
    assert set(findings[0]) == {
        "indicator",
        "name",
        "severity",
        "ref",
        "outlet",
        "path",
        "message",
        "action",
        "source",
    }
    assert findings[0]["name"] == "首页不更新"
    assert findings[0]["source"] == "国办秘函〔2019〕19号"
    bad = home("audit", "inspect", "--today", "2026-13-01")
    assert bad.exit_code == 2
    assert "--today" in bad.stderr
