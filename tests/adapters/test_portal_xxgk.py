"""The portal's 政府信息公开 section and its footer identifiers (issue 19, part 4).

Driven through the real engine (items log, planner, worker) as `test_portal.py` does;
the browser checks (axe-core, Nu HTML checker) at 1366 px and 375 px widths."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import Browser
from pydantic import ValidationError
from syndicate_adapters.portal import PortalSettings

from syndicate.attachments import PreparedAttachment
from syndicate.errors import ConfigurationError
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.adapters.test_portal import (
    SITE,
    Site,
    _rebuilt_copy,
    portal_outlet,
    tree,
)
from tests.browser import (
    axe_violations,
    browser_fixture,  # noqa: F401  (registers the `browser` fixture)
    format_violations,
    serve_directory,
    visit,
    vnu_errors,
)
from tests.conftest import content

FOOTER = {
    "host": "临溪县人民政府办公室",
    "contact": "联系电话：0571-00000000　地址：临溪县人民路1号",
    "icp": "浙ICP备05000001号-1",
    "police_record": "浙公网安备33010002000001号",
    "party_mark_url": "https://bszs.conac.cn/sitename?method=show&id=0123456789ABCDEF",
    "report_error_url": "auto",
}
CATALOGUE_CSV = (
    "一级事项,二级事项,公开内容,公开依据,公开时限\n"
    "社会救助,最低生活保障,审批结果,《社会救助暂行办法》,20个工作日\n"
    "社会救助,特困人员救助供养,审批结果,《社会救助暂行办法》,20个工作日\n"
    '财政预决算,部门预算,预算公开,"《预算法》第十四条, 第二款",批复后20日内\n'
)


class _Links(HTMLParser):
    """Every `<a href>` of a page with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.append((self._href, "".join(self._text).strip()))
            self._href = None


def links(html: str) -> dict[str, str]:
    """Link text → href (the last one wins)."""
    parser = _Links()
    parser.feed(html)
    return {text: href for href, text in parser.found}


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def section(html: str, heading_id: str) -> str:
    """The `<section>` labelled by `heading_id`."""
    start = html.index(f'<section aria-labelledby="{heading_id}">')
    return html[start : html.index("</section>", start)]


def publish(site: Site, **fields: Any) -> str:
    attachments = fields.pop("attachments", [])
    with site.project.disclosures(clock=site.clock) as items:
        item = items.publish(
            content(
                **fields,
                attachments=[a.meta.model_dump() for a in attachments],
            ),
            actor="t",
            attachments=attachments,
        )
    site.clock.advance(minutes=5)
    return str(item.item_id)


@pytest.fixture
def xxgk(sqlite_project: Project, tmp_path: Path) -> tuple[Site, dict[str, str]]:
    """A site with every column of the section filled, and every footer setting."""
    root = tmp_path / "site"
    site = Site(
        sqlite_project,
        FixedClock(),
        {"portal": portal_outlet("portal", root, **FOOTER)},
        root,
    )
    ids: dict[str, str] = {}
    ids["old_guide"] = publish(
        site,
        index_no="G/2025-1",
        title="临溪县人民政府信息公开指南（2025年版）",
        page_kind="guide",
        formed_on="2025-01-10",
    )
    ids["guide"] = publish(
        site,
        index_no="G/2026-1",
        title="临溪县人民政府信息公开指南（2026年版）",
        page_kind="guide",
        body="## 一、主动公开\n\n本机关主动公开的政府信息，见法定主动公开内容。",
        formed_on="2026-01-10",
    )
    ids["rules"] = publish(
        site,
        index_no="R/2026-1",
        title="临溪县政府信息公开保密审查制度",
        page_kind="rules",
    )
    for key, path, title in (
        ("low1", "社会救助/最低生活保障/审批结果", "2026年第一季度低保审批结果"),
        ("low2", "社会救助 / 最低生活保障 / 审批结果", "2026年第二季度低保审批结果"),
        ("care", "社会救助/特困人员救助供养/审批结果", "2026年特困供养审批结果"),
        ("budget", "财政预决算/部门预算/预算公开", "临溪县民政局2026年部门预算"),
    ):
        ids[key] = publish(
            site, index_no=f"C/2026-{key}", title=title, catalogue_path=path
        )
    ids["policy"] = publish(
        site,
        agency="临溪县人民政府办公室",
        index_no="P/2026-1",
        doc_no="临政办发〔2026〕3号",
        title="临溪县最低生活保障审核确认办法",
        doc_type="normative",
        validity="in_force",
    )
    ids["reading"] = publish(
        site,
        agency="临溪县人民政府办公室",
        index_no="P/2026-2",
        title="《临溪县最低生活保障审核确认办法》政策解读",
        interprets=ids["policy"],
    )
    ids["report2025"] = publish(
        site,
        index_no="A/2026-1",
        title="临溪县人民政府2025年政府信息公开工作年度报告",
        page_kind="annual_report",
        formed_on="2025-12-31",
    )
    ids["report2024"] = publish(
        site,
        index_no="A/2025-1",
        title="临溪县人民政府2024年政府信息公开工作年度报告",
        page_kind="annual_report",
        formed_on="2024-12-31",
    )
    csv = tmp_path / "标准目录.csv"
    csv.write_text(CATALOGUE_CSV, encoding="utf-8")
    ids["standard"] = publish(
        site,
        index_no="S/2026-1",
        title="临溪县基层政务公开标准目录",
        page_kind="catalogue",
        attachments=[PreparedAttachment.from_file(csv, media_type="text/csv")],
    )
    ids["plain"] = publish(site, index_no="X/2026-1", title="一条普通公告")
    site.sync()
    return site, ids


def test_the_section_index_links_every_column_and_is_linked_everywhere(
    xxgk: tuple[Site, dict[str, str]],
) -> None:
    site, ids = xxgk
    index = site.page("xxgk/index.html")
    found = links(main_of(index))
    assert found["政府信息公开指南"] == "guide/index.html"
    assert found["政府信息公开制度"] == "rules/index.html"
    assert found["法定主动公开内容"] == "catalogue/index.html"
    assert found["政策文件"] == "policy/index.html"
    assert found["政策解读"] == "reading/index.html"
    assert found["政府信息公开年报"] == "annual/index.html"
    assert found["标准目录"] == "standard/index.html"
    assert found["社会救助"].startswith("../area/")  # the existing area column
    for target in set(found.values()) - {"#main"}:  # every link resolves
        if not target.startswith("http"):
            assert (site.root / "xxgk" / target).resolve().is_file(), target
    # The newest items of each column, with the latest guide only.
    assert "（2026年版）" in section(index, "x-guide-h")
    assert "（2025年版）" not in section(index, "x-guide-h")
    assert "保密审查制度" in section(index, "x-rules-h")
    annual = section(index, "x-annual-h")  # by the year reported on, newest first
    assert annual.index("2025年政府信息") < annual.index("2024年政府信息")
    # 依申请公开 without apply_url: how to apply, with the office and its contact.
    apply = section(index, "x-apply-h")
    assert "依申请公开" in apply
    assert "临溪县人民政府办公室" in apply
    assert "0571-00000000" in apply
    assert links(apply)["政府信息公开指南"] == "guide/index.html"
    # From the masthead of every page and from the home page.
    for page in ("index.html", f"items/{ids['plain']}.html", "stage/result/index.html"):
        nav = site.page(page).split('<nav class="columns"', 1)[1].split("</nav>")[0]
        assert "政府信息公开" in links(nav)
    assert links(section(site.page("index.html"), "xxgk-h"))["政府信息公开"] == (
        "xxgk/index.html"
    )


def test_apply_url_is_linked_when_set(sqlite_project: Project, tmp_path: Path) -> None:
    root = tmp_path / "site"
    site = Site(
        sqlite_project,
        FixedClock(),
        {
            "portal": portal_outlet(
                "portal", root, apply_url="https://ysqgk.linxi.gov.cn/apply"
            )
        },
        root,
    )
    publish(site)
    site.sync()
    apply = section(site.page("xxgk/index.html"), "x-apply-h")
    assert links(apply) == {
        "在线提交政府信息公开申请": "https://ysqgk.linxi.gov.cn/apply"
    }


def test_the_catalogue_tree_groups_items_by_their_path(
    xxgk: tuple[Site, dict[str, str]],
) -> None:
    site, _ids = xxgk
    page = site.page("xxgk/catalogue/index.html")
    body = main_of(page)
    # Three levels, each with the number of items under it; spaces around "/" do not
    # make a second node.
    assert "共 4 条信息" in body
    top = re.findall(r"<a href=\"[^\"]+\">([^<]+)</a>（(\d+) 条）", body)
    assert top == [
        ("社会救助", "3"),
        ("最低生活保障", "2"),
        ("审批结果", "2"),
        ("特困人员救助供养", "1"),
        ("审批结果", "1"),
        ("财政预决算", "1"),
        ("部门预算", "1"),
        ("预算公开", "1"),
    ]
    # Items without a catalogue_path are not in the tree.
    assert "一条普通公告" not in body
    assert "指南" not in body
    tree_links = links(body)
    leaf = site.root / "xxgk" / "catalogue" / tree_links["最低生活保障"]
    node = leaf.read_text("utf-8")
    assert "共 2 条信息" in node
    assert "第一季度低保审批结果" in node
    assert "第二季度低保审批结果" in node
    assert "特困供养" not in main_of(node).split("<h2>最新信息</h2>")[1]
    crumbs = links(node.split('<nav class="crumbs"', 1)[1].split("</nav>")[0])
    assert list(crumbs) == ["首页", "政府信息公开", "法定主动公开内容", "社会救助"]
    assert (leaf.parent / crumbs["社会救助"]).resolve() == (
        site.root / "xxgk" / "catalogue" / tree_links["社会救助"]
    ).resolve()
    # A node page links the nodes under it.
    top_page = (site.root / "xxgk/catalogue" / tree_links["社会救助"]).read_text()
    assert "下级事项" in top_page
    assert "特困人员救助供养" in top_page
    # Item pages linked from a node page exist.
    for title, href in links(main_of(node)).items():
        if "审批结果" in title:
            assert (leaf.parent / href).resolve().is_file()


def test_withdrawing_the_last_item_of_a_node_takes_the_node_off_the_site(
    xxgk: tuple[Site, dict[str, str]], tmp_path: Path
) -> None:
    site, ids = xxgk
    leaf = links(main_of(site.page("xxgk/catalogue/index.html")))["财政预决算"]
    with site.project.disclosures(clock=site.clock) as items:
        items.withdraw(ids["budget"], reason="错发", actor="t")
        items.withdraw(ids["low1"], reason="错发", actor="t")
    site.sync()
    body = main_of(site.page("xxgk/catalogue/index.html"))
    assert "财政预决算" not in body
    assert "共 2 条信息" in body
    assert not (site.root / "xxgk" / "catalogue" / leaf).exists()
    # What the incremental updates left is what a rebuild from the entries gives.
    settings = site.outlets["portal"].settings
    assert isinstance(settings, PortalSettings)
    assert _rebuilt_copy(site.root, settings, tmp_path / "copy") == tree(site.root)


def test_guide_standard_catalogue_and_annual_reports_are_pages(
    xxgk: tuple[Site, dict[str, str]],
) -> None:
    site, ids = xxgk
    guide = site.page("xxgk/guide/index.html")
    assert "<h1>临溪县人民政府信息公开指南（2026年版）</h1>" in guide
    older = section(guide, "older-h")
    assert links(older)["临溪县人民政府信息公开指南（2025年版）"] == (
        f"../../items/{ids['old_guide']}.html"
    )
    # The 标准目录: the catalogue item, its CSV as a table with column headers.
    standard = site.page("xxgk/standard/index.html")
    assert "<h1>临溪县基层政务公开标准目录</h1>" in standard
    table = section(standard, "table-h")
    assert '<th scope="col">一级事项</th>' in table
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])
    assert len(rows) == 3
    assert re.findall(r"<td>(.*?)</td>", rows[2]) == [
        "财政预决算",
        "部门预算",
        "预算公开",
        "《预算法》第十四条, 第二款",
        "批复后20日内",
    ]
    assert "共 3 行" in table
    download = links(table)["标准目录.csv"]
    assert download.startswith("../../files/")
    assert (site.root / "xxgk" / "standard" / unquote(download)).resolve().is_file()
    # 年报 by the year they cover, newest first.
    annual = main_of(site.page("xxgk/annual/index.html"))
    assert annual.index('<h2 id="y2025-h">2025年</h2>') < annual.index(
        '<h2 id="y2024-h">2024年</h2>'
    )
    assert "2025年政府信息公开工作年度报告" in section(annual, "y2025-h")
    assert "2024年政府信息公开工作年度报告" in section(annual, "y2024-h")
    assert "2024年政府" not in section(annual, "y2025-h")


def test_policies_and_their_readings_are_listed_and_linked_both_ways(
    xxgk: tuple[Site, dict[str, str]],
) -> None:
    site, ids = xxgk
    policies = main_of(site.page("xxgk/policy/index.html"))
    readings = main_of(site.page("xxgk/reading/index.html"))
    assert links(policies)["临溪县最低生活保障审核确认办法"] == (
        f"../../items/{ids['policy']}.html"
    )
    assert "政策解读" not in policies.split("<h2>最新信息</h2>")[1]
    assert links(readings)["《临溪县最低生活保障审核确认办法》政策解读"] == (
        f"../../items/{ids['reading']}.html"
    )
    assert "一条普通公告" not in policies + readings
    policy = site.page(f"items/{ids['policy']}.html")
    reading = site.page(f"items/{ids['reading']}.html")
    assert links(section_aside(policy))[
        "《临溪县最低生活保障审核确认办法》政策解读"
    ] == (f"{ids['reading']}.html")
    assert links(section_aside(reading))["临溪县最低生活保障审核确认办法"] == (
        f"{ids['policy']}.html"
    )


def section_aside(html: str) -> str:
    return html.split('<aside class="related"', 1)[1].split("</aside>", 1)[0]


def test_the_footer_shows_each_identifier_with_its_link(
    xxgk: tuple[Site, dict[str, str]],
) -> None:
    site, ids = xxgk
    for page in ("index.html", "xxgk/index.html", f"items/{ids['plain']}.html"):
        foot = site.page(page).split('<footer class="foot">', 1)[1]
        assert "主办单位：临溪县人民政府办公室" in foot
        assert "联系电话：0571-00000000" in foot
        assert "网站标识码：3301000001" in foot
        found = links(foot)
        assert found["浙ICP备05000001号-1"] == "https://beian.miit.gov.cn/"
        assert found["浙公网安备33010002000001号"] == (
            "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode="
            "33010002000001"
        )
        assert found["党政机关"] == FOOTER["party_mark_url"]
        assert found["我为政府网站找错"] == (
            "https://zfwzgl.www.gov.cn/exposure/jiucuo.html?site_code=3301000001"
            "&url=https%3A%2F%2Fwww.linxi.gov.cn"
        )


def test_a_site_without_the_settings_shows_none_and_empty_columns_say_so(
    sqlite_project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    site = Site(
        sqlite_project, FixedClock(), {"portal": portal_outlet("portal", root)}, root
    )
    publish(site)
    site.sync()
    foot = site.page("index.html").split('<footer class="foot">', 1)[1]
    for absent in ("主办单位", "ICP备", "公网安备", "党政机关", "找错"):
        assert absent not in foot
    assert "网站标识码：3301000001" in foot  # site_id_code was set before
    index = site.page("xxgk/index.html")
    for heading in (
        "guide",
        "rules",
        "tree",
        "policy",
        "reading",
        "annual",
        "standard",
    ):
        assert '<p class="empty">暂无信息。</p>' in section(index, f"x-{heading}-h")
    assert "社会救助" in section(index, "x-areas-h")  # the item's pilot area
    for page in (
        "xxgk/guide/index.html",
        "xxgk/rules/index.html",
        "xxgk/catalogue/index.html",
        "xxgk/policy/index.html",
        "xxgk/reading/index.html",
        "xxgk/annual/index.html",
        "xxgk/standard/index.html",
    ):
        assert '<p class="empty">暂无信息。</p>' in main_of(site.page(page)), page
    apply = section(index, "x-apply-h")
    assert "依申请公开" in apply
    assert '<a href="http' not in apply


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("icp", "ICP 05000001", "ICP备案号"),
        ("icp", "浙ICP备05000001号\n", "control characters"),
        ("police_record", "浙公网安备号", "公安机关备案号"),
        ("party_mark_url", "javascript:alert(1)", "http:// or https://"),
        ("apply_url", "ftp://example.cn/apply", "http:// or https://"),
        ("apply_url", 'https://example.cn/"onmouseover', "without spaces, quotes"),
        ("report_error_url", "https://", "http:// or https://"),
        ("host", "临溪县\x07人民政府", "control characters"),
        ("contact", "电话：1\r\n地址：2", "control characters"),
        ("host", "县" * 101, "at most 100"),
    ],
)
def test_bad_footer_settings_are_refused_naming_the_setting(
    field: str, value: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PortalSettings.model_validate({"path": "site", "site_url": SITE, field: value})
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert not errors[0]["msg"].startswith("Value error")  # read as it is
    assert says in errors[0]["msg"]


def test_a_bad_setting_in_the_home_is_named_in_the_error(
    sqlite_project: Project,
) -> None:
    config = sqlite_project.home / "syndicate.toml"
    config.write_text(
        config.read_text("utf-8")
        + '\n[outlets.portal]\nkind = "portal"\npath = "site"\n'
        f'site_url = "{SITE}"\nicp = "ICP 05000001"\n',
        "utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        _ = Project.load(sqlite_project.home, environ={}).outlets
    assert str(caught.value).startswith(
        "outlets.portal.icp: must be an ICP备案号 as the MIIT record gives it"
    )


def test_report_error_auto_needs_the_site_code() -> None:
    with pytest.raises(ValidationError) as caught:
        PortalSettings.model_validate(
            {"path": "site", "site_url": SITE, "report_error_url": "auto"}
        )
    assert "site_id_code" in caught.value.errors()[0]["msg"]
    given = PortalSettings.model_validate(
        {
            "path": "site",
            "site_url": SITE,
            "report_error_url": "https://zfwzgl.www.gov.cn/exposure/jiucuo.html?x=1",
        }
    )
    assert given.report_error_url is not None


def test_a_gb18030_csv_and_a_long_one_become_tables(
    sqlite_project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    site = Site(
        sqlite_project, FixedClock(), {"portal": portal_outlet("portal", root)}, root
    )
    rows = "事项,时限\n" + "".join(f"事项{n},20个工作日\n" for n in range(2500))
    csv = tmp_path / "目录.csv"
    csv.write_bytes(rows.encode("gb18030"))
    publish(
        site,
        index_no="S/1",
        title="标准目录",
        page_kind="catalogue",
        attachments=[PreparedAttachment.from_file(csv, media_type="text/csv")],
    )
    site.sync()
    table = section(site.page("xxgk/standard/index.html"), "table-h")
    assert '<th scope="col">事项</th>' in table
    assert "<td>事项2</td>" in table
    assert "<td>事项2000</td>" not in table
    assert "共 2500 行，此处显示前 2000 行" in table


# -- in the browser -----------------------------------------------------------------------

SECTION_PAGES = [
    "xxgk/index.html",
    "xxgk/guide/index.html",
    "xxgk/rules/index.html",
    "xxgk/catalogue/index.html",
    "xxgk/policy/index.html",
    "xxgk/reading/index.html",
    "xxgk/annual/index.html",
    "xxgk/standard/index.html",
]


def test_section_pages_are_accessible_and_valid_at_both_widths(
    browser: Browser, xxgk: tuple[Site, dict[str, str]]
) -> None:
    site, ids = xxgk
    node = links(main_of(site.page("xxgk/catalogue/index.html")))["审批结果"]
    pages = [
        *SECTION_PAGES,
        os.path.normpath(f"xxgk/catalogue/{node}"),
        "index.html",
        f"items/{ids['plain']}.html",
    ]
    problems = vnu_errors(site.root / p for p in pages)
    assert problems == [], "\n".join(problems)
    with serve_directory(site.root) as base:
        for width, height in ((1366, 900), (375, 812)):
            for page in pages:
                with visit(browser, base + page, width=width, height=height) as v:
                    v.page.wait_for_load_state("networkidle")
                    assert v.problems() == [], (page, width, v.problems())
                    violations = axe_violations(v.page)
                    assert violations == [], f"{page}@{width}: " + format_violations(
                        violations
                    )
                    overflow = v.page.evaluate(
                        "document.documentElement.scrollWidth > window.innerWidth"
                    )
                    assert not overflow, f"{page} scrolls sideways at {width}px"


def test_empty_section_pages_are_accessible_and_valid(
    browser: Browser, sqlite_project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    site = Site(
        sqlite_project, FixedClock(), {"portal": portal_outlet("portal", root)}, root
    )
    publish(site)
    site.sync()
    problems = vnu_errors(site.root / p for p in SECTION_PAGES)
    assert problems == [], "\n".join(problems)
    with serve_directory(site.root) as base:
        for width, height in ((1366, 900), (375, 812)):
            for page in SECTION_PAGES:
                with visit(browser, base + page, width=width, height=height) as v:
                    v.page.wait_for_load_state("networkidle")
                    assert v.problems() == [], (page, width, v.problems())
                    violations = axe_violations(v.page)
                    assert violations == [], f"{page}@{width}: " + format_violations(
                        violations
                    )


def test_an_item_page_shows_the_elements_it_takes_from_its_catalogue_item(
    sqlite_project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    site = Site(
        sqlite_project, FixedClock(), {"portal": portal_outlet("portal", root)}, root
    )
    fulfils = publish(
        site,
        index_no="C/2026-9",
        catalogue_path="社会救助/最低生活保障/审批结果",
        time_limit_days=10,
        supervision="临溪县民政局 0571-12345678",
        doc_type="licence",
    )
    plain = publish(site, index_no="X/2026-9", title="一条普通公告")
    site.sync()
    page = main_of(site.page(f"items/{fulfils}.html"))
    assert "<dt>所属事项</dt><dd>社会救助/最低生活保障/审批结果</dd>" in page
    assert "<dt>公开时限</dt><dd>信息形成或变更之日起10个工作日内</dd>" in page
    assert "<dt>文件类型</dt><dd>行政许可</dd>" in page
    assert "<dt>监督投诉</dt><dd>临溪县民政局 0571-12345678</dd>" in page
    other = main_of(site.page(f"items/{plain}.html"))
    assert "所属事项" not in other
    assert "监督投诉" not in other
