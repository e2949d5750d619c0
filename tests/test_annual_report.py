"""The 政府信息公开工作年度报告 (年报): part 二 counted from the log, each figure with the
events it counts; parts 三 and 四 from a CSV; parts 一, 五, 六 from Markdown; HTML, PDF
and JSON written; the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest

from syndicate.application import Change
from syndicate.audit.annual import parse_text, render_markdown
from syndicate.engine import Engine
from syndicate.errors import InputError
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.clihome import CliHome
from tests.conftest import PG_URL, content

CN = ZoneInfo("Asia/Shanghai")
A, B = "临溪县民政局", "临溪县财政局"
DATA = Path(__file__).resolve().parent / "data"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=CN)


def build(project: Project) -> dict[str, Change]:
    """The log the figures are counted from (hand counts in `test_each_figure_…`)."""
    clock = FixedClock(at(2025, 6, 1))
    done: dict[str, Change] = {}
    with project.disclosures(clock=clock) as log:

        def pub(name: str, **fields: Any) -> None:
            fields.setdefault("agency", A)
            fields.setdefault("formed_on", clock.now.date().isoformat())
            fields.setdefault("title", f"临溪县{name}号文件")
            done[name] = log.publish(
                content(index_no=f"11330100MB0000006R/{name}", **fields), actor="张三"
            )

        def ref(name: str) -> str:
            return done[name].ref

        # 2025: last year's documents and a licence.
        pub("N0", doc_type="normative")
        pub("R0", doc_type="regulation")
        pub("L0", doc_type="licence", decisions=5)
        # 2026.
        clock.now = at(2026, 3, 1)
        pub("R1", doc_type="regulation")
        pub("N1", doc_type="normative")
        pub("N2", doc_type="normative")
        pub("L1", doc_type="licence", decisions=3)
        pub("L2", doc_type="licence")
        pub("P1", doc_type="penalty", decisions=2)
        pub("C1", doc_type="coercion")
        pub("F1", doc_type="fee", fee_wan="12.35")
        pub("F2", doc_type="fee", fee_wan="0.1")
        pub("Q", doc_type="normative", attribute="on_request")
        pub("BR", doc_type="regulation", agency=B)
        pub("BF", doc_type="fee", fee_wan="100", agency=B)
        pub("X", title="临溪县民政局政务公开工作动态")  # no doc_type
        clock.now = at(2026, 4, 1)
        done["L1rev"] = log.revise(
            ref("L1"),
            content(
                agency=A,
                index_no="11330100MB0000006R/L1",
                title="临溪县L1号文件",
                formed_on="2026-03-01",
                doc_type="licence",
                decisions=4,
            ),
            reason="更正处理决定数量",
            actor="张三",
        )
        clock.now = at(2026, 5, 1)
        done["R0rep"] = log.repeal(ref("R0"), reason="已被新规章取代", actor="张三")
        clock.now = at(2026, 6, 1)
        done["N2wd"] = log.withdraw(ref("N2"), reason="发布有误", actor="张三")
        clock.now = at(2026, 8, 1)
        done["N1rev"] = log.revise(
            ref("N1"),
            content(
                agency=A,
                index_no="11330100MB0000006R/N1",
                title="临溪县N1号文件",
                formed_on="2026-03-01",
                doc_type="normative",
                validity="repealed",
            ),
            reason="宣布废止",
            actor="张三",
        )
        clock.now = at(2026, 9, 1)
        pub("P2", doc_type="penalty")
        # After the year's end: none of this changes 2026's figures.
        clock.now = at(2027, 1, 2)
        pub("R2", doc_type="regulation")
        log.repeal(ref("N0"), reason="废止", actor="张三")
        log.withdraw(ref("P2"), reason="撤回", actor="张三")
    return done


def engine_at(project: Project, now: datetime | None = None) -> Engine:
    return Engine(project, clock=FixedClock(now or at(2027, 1, 10)))


def events(result: Any, key: str) -> list[tuple[int, str, str, str | None]]:
    figure = result.report.figure(key)
    return [(e.position, e.ref, e.event, e.value) for e in figure.events]


@pytest.fixture
def built(sqlite_project: Project) -> dict[str, Change]:
    return build(sqlite_project)


def test_each_figure_matches_a_hand_count_with_the_events_it_counts(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    c = built
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(2026, agency=A, out=tmp_path / "out")
    values = {f.key: f.value for f in result.figures}
    assert values == {
        "regulation.issued": 1,  # R1 (BR is another agency's, R2 is 2027's)
        "regulation.repealed": 1,  # R0, repealed in May
        "regulation.in_force": 1,  # R1 (R0 repealed)
        "normative.issued": 1,  # N1 (N2 withdrawn, Q on request)
        "normative.repealed": 1,  # N1, its validity revised to repealed
        "normative.in_force": 1,  # N0 of 2025 (repealed only in 2027)
        "licence.decisions": 5,  # L1 corrected to 4, L2 1 by default; L0 is 2025's
        "penalty.decisions": 3,  # P1 2, P2 1 (withdrawn only in 2027)
        "coercion.decisions": 1,
        "fee.amount": Decimal("12.45"),  # exact: 12.35 + 0.1
    }
    assert result.report.figure("fee.amount").shown == "12.45"

    def pos(name: str) -> tuple[int, str]:
        return c[name].position, c[name].ref

    assert events(result, "regulation.issued") == [(*pos("R1"), "Published", None)]
    assert events(result, "regulation.repealed") == [(*pos("R0rep"), "Repealed", None)]
    assert events(result, "regulation.in_force") == [(*pos("R1"), "Published", None)]
    assert events(result, "normative.issued") == [(*pos("N1"), "Published", None)]
    assert events(result, "normative.repealed") == [(*pos("N1rev"), "Revised", None)]
    assert events(result, "normative.in_force") == [(*pos("N0"), "Published", None)]
    assert events(result, "licence.decisions") == [
        (*pos("L1"), "Published", "4"),
        (*pos("L2"), "Published", "1"),
    ]
    # The corrected figure names the version it came from.
    first = result.report.figure("licence.decisions").events[0]
    assert first.value_position == c["L1rev"].position
    assert events(result, "penalty.decisions") == [
        (*pos("P1"), "Published", "2"),
        (*pos("P2"), "Published", "1"),
    ]
    assert events(result, "coercion.decisions") == [(*pos("C1"), "Published", "1")]
    assert events(result, "fee.amount") == [
        (*pos("F1"), "Published", "12.35"),
        (*pos("F2"), "Published", "0.1"),
    ]
    # The withdrawn document counts nowhere and is listed as left out, with why.
    assert [(x.ref, x.withdrawn.position) for x in result.report.excluded] == [
        (c["N2"].ref, c["N2wd"].position)
    ]
    assert result.report.title == "临溪县民政局2026年政府信息公开工作年度报告"
    assert result.report.complete


def test_the_agency_filter_and_every_agency_together(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    with engine_at(sqlite_project) as engine:
        everyone = engine.annual_report(2026, out=tmp_path / "all")
        other = engine.annual_report(2026, agency=B, out=tmp_path / "b")
        nobody = engine.annual_report(2026, agency="临溪县不存在局", out=tmp_path / "n")
    every = {f.key: f.value for f in everyone.figures}
    assert every["regulation.issued"] == 2
    assert every["regulation.in_force"] == 2
    assert every["fee.amount"] == Decimal("112.45")
    assert every["licence.decisions"] == 5
    assert any("2 agencies" in w for w in everyone.warnings)
    assert everyone.report.title == "2026年政府信息公开工作年度报告"
    mine = {f.key: f.value for f in other.figures if f.value}
    assert mine == {
        "regulation.issued": 1,
        "regulation.in_force": 1,
        "fee.amount": Decimal("100"),
    }
    assert events(other, "regulation.issued") == [
        (built["BR"].position, built["BR"].ref, "Published", None)
    ]
    assert other.report.title.startswith(B)
    assert all(f.value == 0 for f in nobody.figures)
    assert any("no released item of agency" in w for w in nobody.warnings)


def test_the_json_and_html_link_each_figure_to_its_events(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(2026, agency=A, out=tmp_path / "out")
    assert [p.name for p in result.files] == [
        "index.html",
        "年报-2026.pdf",
        "annual-report.json",
    ]
    data = json.loads(result.json.read_text("utf-8"))
    by_key = {f["key"]: f for f in data["proactive"]}
    assert by_key["fee.amount"]["value"] == "12.45"
    assert by_key["licence.decisions"]["value"] == 5
    assert [e["position"] for e in by_key["licence.decisions"]["events"]] == [
        built["L1"].position,
        built["L2"].position,
    ]
    assert by_key["normative.repealed"]["events"][0]["event"] == "Revised"
    assert data["requests"] is None
    assert data["excluded"][0]["ref"] == built["N2"].ref
    assert data["files"][-1].endswith("annual-report.json")
    page = result.html.read_text("utf-8")
    # The figure links to its anchor, where its events are listed with positions.
    assert '<a class="figure" href="#f-licence-decisions"' in page
    anchor = page.index('id="f-licence-decisions"')
    listing = page[anchor : page.index("</table>", anchor)]
    assert f"<td>{built['L1'].position}</td>" in listing
    assert built["L2"].ref in listing
    assert "syndicate audit trail" in page
    assert "<script" not in page


REQUESTS = """\
section,row,column,value
三,一、本年新收政府信息公开申请数量,自然人,10
三,一、本年新收政府信息公开申请数量,商业企业,2
三,二、上年结转政府信息公开申请数量,自然人,1
三,（一）予以公开,自然人,6
三,（二）部分公开,商业企业,1
三,(三)不予公开/1.属于国家秘密,自然人,1
三,（四）无法提供/1.本机关不掌握相关政府信息,自然人,2
三,（六）其他处理/3.其他,商业企业,1
三,（七）总计,自然人,9
三,四、结转下年度继续办理,自然人,2
三,一、本年新收政府信息公开申请数量,总计,12
四,行政复议,结果维持,1
四,行政复议,尚未审结,1
四,行政复议,总计,2
四,行政诉讼/未经复议直接起诉,结果纠正,1
四,复议后起诉,其他结果,3
"""


def test_parts_three_and_four_from_a_csv(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    csv_file = tmp_path / "requests.csv"
    csv_file.write_bytes(REQUESTS.encode("utf-8-sig"))  # as Excel saves it
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(
            2026, agency=A, requests_csv=csv_file, out=tmp_path / "out"
        )
    tables = result.report.requests
    assert tables is not None
    r = tables.requests
    assert r[("一、本年新收政府信息公开申请数量", "总计")] == 12
    assert r[("（七）总计", "自然人")] == 9
    assert r[("（七）总计", "商业企业")] == 2  # computed: (二) 1 + (六)3 1
    assert r[("（七）总计", "总计")] == 11
    assert r[("（三）不予公开/1.属于国家秘密", "自然人")] == 1
    assert r[("四、结转下年度继续办理", "总计")] == 2
    assert r[("（五）不予处理/2.重复申请", "科研机构")] == 0  # not listed: 0
    v = tables.reviews
    assert v[("行政复议", "总计")] == 2
    assert v[("行政诉讼/未经复议直接起诉", "总计")] == 1
    assert v[("行政诉讼/复议后起诉", "总计")] == 3
    data = json.loads(result.json.read_text("utf-8"))
    assert data["requests"]["三"]["（七）总计"]["总计"] == 11
    assert data["requests"]["四"]["行政复议"]["结果维持"] == 1
    page = result.html.read_text("utf-8")
    assert "未导入" not in page
    assert "申请人情况" in page
    assert "复议后起诉" in page


BAD = [
    ("三,（八）其他,自然人,1\n", "line 2, column row", "unknown row"),
    ("三,（一）予以公开,个体户,1\n", "line 2, column column", "unknown column"),
    ("三,（一）予以公开,自然人,1.5\n", "line 2, column value", "not a whole number"),
    ("三,（一）予以公开,自然人,abc\n", "line 2, column value", "not a whole number"),
    ("三,（一）予以公开,自然人,-2\n", "line 2, column value", "negative"),
    ("五,（一）予以公开,自然人,1\n", "line 2, column section", "unknown section"),
    ("三,（三）不予公开,自然人,1\n", "line 2, column row", "is a heading"),
    (
        "四,行政复议,结果维持,1\n四,行政复议,总计,3\n",
        "line 3, column value",
        "行政复议 / 总计 is 3 but",
    ),
    (
        "三,（一）予以公开,自然人,1\n三,（一）予以公开,自然人,1\n",
        "line 3, column row",
        "given twice (also on line 2)",
    ),
    (
        "三,一、本年新收政府信息公开申请数量,自然人,5\n三,（一）予以公开,自然人,4\n",
        "line 2, column value",
        "一 + 二 = 5 but 三（七）总计 + 四 = 4",
    ),
    ("三,（一）予以公开,自然人\n", "line 2, column -", "has 3 fields"),
]


@pytest.mark.parametrize(("lines", "where", "what"), BAD)
def test_a_bad_csv_is_refused_naming_its_line_and_column_and_writes_nothing(
    sqlite_project: Project,
    built: dict[str, Change],
    tmp_path: Path,
    lines: str,
    where: str,
    what: str,
) -> None:
    csv_file = tmp_path / "requests.csv"
    csv_file.write_text("section,row,column,value\n" + lines, "utf-8")
    out = tmp_path / "out"
    with engine_at(sqlite_project) as engine:
        before = log_snapshot(engine.items)
        with pytest.raises(InputError) as caught:
            engine.annual_report(2026, requests_csv=csv_file, out=out)
        assert log_snapshot(engine.items) == before
    text = "\n".join(caught.value.lines())
    assert f"requests.csv: {where}: " in text
    assert what in text
    assert not out.exists()


def test_a_csv_without_its_header_is_refused_at_line_one(tmp_path: Path) -> None:
    from syndicate.audit.annual import parse_requests_csv

    with pytest.raises(InputError, match="line 1: the header must be"):
        parse_requests_csv("三,（一）予以公开,自然人,1\n".encode(), "r.csv")


def test_without_a_csv_parts_three_and_four_say_not_imported(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(2026, agency=A, out=tmp_path / "out")
    page = result.html.read_text("utf-8")
    three = page[page.index('id="s三"') : page.index('id="s四"')]
    four = page[page.index('id="s四"') : page.index('id="s五"')]
    for part in (three, four):
        assert "未导入" in part
        assert '<td class="n">0</td>' not in part  # not zeros: not known
        assert '<td class="n">—</td>' in part
    assert any("未导入" in w for w in result.warnings)


TEXT = """\
# 临溪县民政局2026年政府信息公开工作年度报告

## 一、总体情况

本年度，我局坚持以**公开为常态**、不公开为例外，
全面推进政务公开。<script>alert("x")</script>

### （一）主动公开

- 公开规范性文件 *1* 件
- 公开 <img src=x onerror=alert(1)> 许可结果

## 五、存在的主要问题及改进情况

1. 基层公开标准化有待加强
2. 解读形式较单一
"""


def test_the_offices_text_is_rendered_safely_with_placeholders_for_missing_parts(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    md = tmp_path / "text.md"
    md.write_text(TEXT, "utf-8")
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(2026, agency=A, text_md=md, out=tmp_path / "o")
    page = result.html.read_text("utf-8")
    one = page[page.index('id="s一"') : page.index('id="s二"')]
    assert "<strong>公开为常态</strong>、不公开为例外，全面推进政务公开。" in one
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in one
    assert "<h3>（一）主动公开</h3>" in one
    assert "<li>公开规范性文件 <em>1</em> 件</li>" in one
    assert "&lt;img src=x onerror=alert(1)&gt;" in one
    assert "<script" not in page
    assert "<img" not in page
    five = page[page.index('id="s五"') : page.index('id="s六"')]
    assert "<ol><li>基层公开标准化有待加强</li><li>解读形式较单一</li></ol>" in five
    six = page[page.index('id="s六"') : page.index('id="evidence"')]
    assert 'class="placeholder"' in six
    assert "信息处理费" in six
    assert any("part 六 has no text" in w for w in result.warnings)
    assert not any("part 一" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("## 一、总体情况\n好\n## 二、主动公开\n表\n", "line 3", "unknown section"),
        ("## 一、总体情况\n好\n## 总体情况\n又\n", "line 3", "given twice"),
        ("开头的话\n## 一、总体情况\n好\n", "line 1", "before the first section"),
    ],
)
def test_a_bad_text_file_is_refused_naming_the_line(
    text: str, where: str, what: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_text(text, "t.md")
    assert f"t.md: {where}: " in str(caught.value)
    assert what in str(caught.value)


def test_markdown_subset_escapes_everything_it_does_not_know() -> None:
    out = render_markdown(
        '[链接](javascript:alert(1)) <a href="x">a</a>\n\n**粗** `<b>` *斜*'
    )
    assert "<a " not in out
    assert "<b>" not in out
    assert "&lt;a href=&quot;x&quot;&gt;" in out
    assert "<strong>粗</strong> <code>&lt;b&gt;</code> <em>斜</em>" in out


def test_the_pdf_renders_with_the_title(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    with engine_at(sqlite_project) as engine:
        result = engine.annual_report(2026, agency=A, out=tmp_path / "out")
    reader = pypdf.PdfReader(str(result.pdf))
    assert len(reader.pages) >= 2
    first = reader.pages[0].extract_text()
    assert "临溪县民政局2026年政府信息公开工作年度报告" in first.replace(" ", "")


def test_a_year_not_begun_is_refused_and_the_current_year_is_partial(
    sqlite_project: Project, built: dict[str, Change], tmp_path: Path
) -> None:
    with (
        engine_at(sqlite_project) as engine,
        pytest.raises(InputError, match="year: 2028"),
    ):
        engine.annual_report(2028, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with engine_at(sqlite_project, at(2026, 7, 1)) as engine:
        mid = engine.annual_report(2026, agency=A, out=tmp_path / "mid")
    assert not mid.report.complete
    values = {f.key: f.value for f in mid.figures}
    # As of 1 July: N1 not yet repealed, P2 not yet published.
    assert values["normative.repealed"] == 0
    assert values["normative.in_force"] == 2
    assert values["penalty.decisions"] == 2
    assert "本年度尚未结束" in mid.html.read_text("utf-8")


# -- the command line ---------------------------------------------------------------


def small_home(home: Path, environ: dict[str, str] | None = None) -> Project:
    project, _ = Project.init(home, environ=environ or {}, keys=False, review=False)
    clock = FixedClock(at(2025, 3, 1))
    with project.disclosures(clock=clock) as log:
        log.publish(
            content(
                index_no="11330100MB0000006R/2025-1",
                title="临溪县最低生活保障审批办法",
                formed_on="2025-03-01",
                doc_type="normative",
            ),
            actor="张三",
        )
        log.publish(
            content(
                index_no="11330100MB0000006R/2025-2",
                title="临溪县行政许可决定",
                formed_on="2025-03-01",
                doc_type="licence",
                decisions=7,
            ),
            actor="张三",
        )
    return project


def test_the_command_writes_the_report_with_no_system_fonts(tmp_path: Path) -> None:
    """A subprocess, so fontconfig starts with the empty configuration (CI's)."""
    home = tmp_path / "home"
    small_home(home)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "syndicate",
            "--home",
            str(home),
            "audit",
            "annual-report",
            "--year",
            "2025",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={
            **os.environ,
            "FONTCONFIG_FILE": str(DATA / "fontconfig-empty.conf"),
            "SYNDICATE_STORE_URL": "sqlite",
        },
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_key = {f["key"]: f["value"] for f in data["proactive"]}
    assert by_key["normative.issued"] == 1
    assert by_key["licence.decisions"] == 7
    assert data["title"] == "临溪县民政局2025年政府信息公开工作年度报告"
    assert "warning: no --requests CSV" in result.stderr
    pdf = out / "年报-2025.pdf"
    text = pypdf.PdfReader(str(pdf)).pages[0].extract_text().replace(" ", "")
    assert data["title"] in text
    resources: list[Any] = [
        page["/Resources"] for page in pypdf.PdfReader(str(pdf)).pages
    ]
    fonts = {
        str(f["/BaseFont"]).partition("+")[2]
        for found in resources
        for f in found["/Font"].values()
    }
    assert {f.split("-Bold")[0] for f in fonts} <= {"Annual-Serif-SC", "Annual-Sans-SC"}
    assert json.loads((out / "annual-report.json").read_text("utf-8"))["proactive"]


def test_the_command_refuses_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    small_home(home)
    cli = CliHome(home)
    before = cli.items()
    bad = tmp_path / "bad.csv"
    bad.write_text("section,row,column,value\n四,行政复议,结果维持,-1\n", "utf-8")
    out = tmp_path / "out"
    result = cli("audit", "annual-report", "--year", "2025", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    refused = cli(
        "audit", "annual-report", "--year", "2025", "--requests", bad, "--out", out
    )
    assert refused.exit_code == 2
    assert "bad.csv: line 2, column value: '-1' is negative" in refused.output
    missing = cli(
        "audit",
        "annual-report",
        "--year",
        "2025",
        "--text",
        tmp_path / "none.md",
        "--out",
        out,
    )
    assert missing.exit_code == 2
    assert "--text: " in missing.output
    assert "is not a file" in missing.output
    future = cli("audit", "annual-report", "--year", "2099", "--out", out)
    assert future.exit_code == 2
    assert "--year: 2099" in future.output
    assert cli.items() == before


@pytest.mark.postgres
def test_on_postgresql_the_figures_are_the_same(tmp_path: Path, pg_schema: str) -> None:
    env = {"SYNDICATE_STORE_URL": PG_URL, "SYNDICATE_STORE_SCHEMA": pg_schema}
    project = small_home(tmp_path / "home", env)
    with Engine(project, clock=FixedClock(at(2026, 1, 5))) as engine:
        result = engine.annual_report(2025, out=tmp_path / "out")
    values = {f.key: f.value for f in result.figures}
    assert values["normative.issued"] == values["normative.in_force"] == 1
    assert values["licence.decisions"] == 7
    assert [e.position for e in result.report.figure("licence.decisions").events] == [2]
