"""A hostile review of issue 19 (standard catalogue, the new item fields, coverage,
`audit inspect`, `audit annual-report`, the portal's 政府信息公开 footer): careless or
hostile operators, receivers and insiders. Tests of behaviour that is right guard it;
each defect found is an `xfail(strict=True)` naming what is wrong."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from syndicate.audit.annual import (
    parse_requests_csv,
    proactive_figures,
    render_markdown,
)
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.standard import CATALOGUE_ID
from syndicate.engine import Engine
from syndicate.errors import ConflictError, InputError
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.catalogue_data import (
    AGENCY,
    CSV_HEADER,
    CSV_LINES,
    ROWS_V1,
    item_data,
    write_csv,
    write_xlsx,
)
from tests.clihome import CliHome
from tests.conftest import content

T0 = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)  # Monday 10:00 in China
APPROVAL = "社会救助/最低生活保障/审批结果"  # 10 working days; portal, board, group
FUNDS = "社会救助/最低生活保障/资金发放"  # 每季度更新
POLICY = "社会救助/最低生活保障/政策法规"  # 20 working days


def engine_of(project: Project, clock: FixedClock) -> Engine:
    return Engine(project, clock=clock)


def item(**overrides: Any) -> ItemContent:
    return ItemContent.model_validate(item_data(**overrides))


def cli_home(tmp_path: Path) -> CliHome:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    return h


def csv_file(path: Path, lines: list[str], header: str = CSV_HEADER) -> Path:
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode("utf-8"))
    return path


# -- hostile catalogue files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        (
            "nul",
            CSV_LINES[0].replace("《社会救助暂行办法》", "《办法》\x00"),
            "column E",
        ),
        ("zero-width", CSV_LINES[0].replace("审批结果", "审批\u200b结果"), "U+200B"),
        ("bidi", CSV_LINES[0].replace("临时救助", "临时\u202e救助"), "U+202E"),
        ("long", CSV_LINES[0].replace("《社会救助暂行办法》", "办" * 501), "column E"),
        ("days", CSV_LINES[0].replace("每月", "999个工作日内"), "not a time limit"),
        ("outlet", CSV_LINES[0].replace("政府网站、公开栏", "飞鸽传书"), "column H"),
        ("mark", CSV_LINES[0].replace("主动公开", "随便"), "column J"),
    ],
)
def test_a_hostile_csv_cell_is_named_and_records_nothing(
    tmp_path: Path, name: str, line: str, expected: str
) -> None:
    h = cli_home(tmp_path)
    h.ok("catalogue", "import", write_csv(tmp_path / "ok.csv", CSV_LINES))
    before = h.items()
    result = h("catalogue", "import", csv_file(tmp_path / f"{name}.csv", [line]))
    assert result.exit_code == 2, result.output
    assert f"sheet {name}, row 2" in result.output
    assert expected in result.output, result.output
    assert h.items() == before


def test_unreadable_csv_files_are_refused_without_a_traceback(tmp_path: Path) -> None:
    h = cli_home(tmp_path)
    # Excel's "Unicode text" (UTF-16): refused, not read as garbage.
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(("\n".join([CSV_HEADER, *CSV_LINES]) + "\n").encode("utf-16"))
    # A cell over the csv module's field limit (131072 characters).
    huge = tmp_path / "huge.csv"
    huge.write_text(CSV_HEADER + '\n"' + "x" * 200_000 + '"\n', "utf-8")
    for path, said in ((utf16, "neither UTF-8 nor GBK"), (huge, "not a readable CSV")):
        result = h("catalogue", "import", path)
        assert result.exit_code == 2, result.output
        assert said in result.output, result.output
    assert h.items() == []


def test_gbk_utf8_and_utf8_with_bom_read_the_same(tmp_path: Path) -> None:
    from syndicate.catalogue_files import read_catalogue

    found = []
    for encoding in ("gb18030", "utf-8", "utf-8-sig"):
        path = write_csv(tmp_path / f"{encoding}.csv", CSV_LINES, encoding=encoding)
        found.append(read_catalogue(path).entries)
    assert found[0] == found[1] == found[2]
    assert [e.code for e in found[0]] == ["SHJZ-01", "SHJZ-02", "SHJZ-03"]


def test_xlsx_numbers_dates_and_formulas_in_cells(tmp_path: Path) -> None:
    from syndicate.catalogue_files import read_catalogue

    header = CSV_HEADER.split(",")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "社会救助"
    sheet.append(header)
    row = CSV_LINES[0].split(",")
    sheet.append([1.0, *row[1:11], datetime(2026, 1, 2, 3, 4), row[12]])
    sheet.append([2, *CSV_LINES[1].split(",")[1:]])
    path = tmp_path / "numbers.xlsx"
    book.save(path)
    entries = read_catalogue(path).entries
    # A number as a code reads as Excel shows it; a date as its ISO day.
    assert [e.code for e in entries] == ["1", "2"]
    assert entries[0].category == "2026-01-02"
    # A formula with no cached value (a workbook no spreadsheet ever calculated) is an
    # empty cell, named, never its formula text taken as the 依据.
    sheet["E3"] = '=CONCATENATE("《","办法》")'
    book.save(path)
    with pytest.raises(InputError) as caught:
        read_catalogue(path)
    assert "row 3, column E (公开依据): 公开依据 is empty" in str(caught.value)


def test_a_reordering_import_records_the_order_and_a_repeat_records_nothing(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "v1.xlsx"), actor="张三")
        moved = write_xlsx(tmp_path / "v2.xlsx", list(reversed(ROWS_V1)))
        second = engine.import_catalogue(moved, actor="张三")
        assert second.recorded
        assert second.change.empty
        assert second.version.version == 2
        assert second.version.entries[0].path.endswith("个人申请情况")
        again = engine.import_catalogue(moved, actor="张三")
        assert not again.recorded
        assert engine.catalogue().version == 2


def test_a_second_import_racing_the_first_is_a_conflict_and_writes_nothing(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock(T0)
    with engine_of(sqlite_project, clock) as a, engine_of(sqlite_project, clock) as b:
        a.import_catalogue(write_xlsx(tmp_path / "v1.xlsx"), actor="张三")
        stale = a.items.catalogue_aggregate()
        b.import_catalogue(write_xlsx(tmp_path / "v2.xlsx", ROWS_V1[:3]), actor="李四")
        before = log_snapshot(b.items)
        # A read the other import overtook: saving on top of it must fail.
        monkeypatch.setattr(a.items, "catalogue_aggregate", lambda **_: stale)
        with pytest.raises(ConflictError, match="import again"):
            a.import_catalogue(
                write_xlsx(tmp_path / "v3.xlsx", ROWS_V1[:2]), actor="张三"
            )
        assert log_snapshot(b.items) == before
        assert [v.actor for v in b.catalogue_versions()] == ["张三", "李四"]


def test_the_export_neutralises_formulas_for_spreadsheets(tmp_path: Path) -> None:
    h = cli_home(tmp_path)
    line = CSV_LINES[0].replace("《社会救助暂行办法》", "=HYPERLINK(1)")
    h.ok("catalogue", "import", write_csv(tmp_path / "c.csv", [line]))
    exported = h.ok("catalogue", "export").stdout
    assert "'=HYPERLINK(1)" in exported
    assert ",=HYPERLINK" not in exported


def test_export_then_import_is_the_identity_for_formula_like_cells(
    tmp_path: Path,
) -> None:
    h = cli_home(tmp_path)
    line = CSV_LINES[0].replace("《社会救助暂行办法》", "-《社会救助暂行办法》")
    h.ok("catalogue", "import", write_csv(tmp_path / "c.csv", [line, *CSV_LINES[1:]]))
    out = tmp_path / "export.csv"
    h.ok("catalogue", "export", "--out", out)
    assert "changes nothing" in h.ok("catalogue", "import", out).stdout


def test_personal_data_in_any_catalogue_cell_is_refused(tmp_path: Path) -> None:
    h = cli_home(tmp_path)
    lines = [
        CSV_LINES[0].replace("SHJZ-01", "11010519491231002X"),
        CSV_LINES[1].replace("决策公开", "联系13812345678"),
        CSV_LINES[2].replace("每年", "每年，咨询13812345678"),
    ]
    result = h("catalogue", "import", write_csv(tmp_path / "pii.csv", lines))
    assert result.exit_code == 2, result.output
    assert h.items() == []


def test_control_characters_in_a_header_never_reach_the_terminal(
    tmp_path: Path,
) -> None:
    h = cli_home(tmp_path)
    header = CSV_HEADER.replace("公开时限", "公开时限（\x07\x08\x7f\x9b\u202e）")
    line = CSV_LINES[0].replace("每月", "999个工作日内")
    result = h("catalogue", "import", csv_file(tmp_path / "h.csv", [line], header))
    assert result.exit_code == 2
    assert "column F" in result.output
    for ch in "\x07\x08\x7f\x9b\u202e":
        assert ch not in result.output


def test_a_file_name_with_control_characters_imports_as_its_dry_run_says(
    tmp_path: Path,
) -> None:
    h = cli_home(tmp_path)
    path = write_csv(tmp_path / "目录\u202e\x07.csv", CSV_LINES)
    dry = h.ok("catalogue", "import", path, "--dry-run")
    assert "\x07" not in dry.output
    assert "\u202e" not in dry.output
    h.ok("catalogue", "import", path)


def test_two_items_with_the_same_path_are_refused(tmp_path: Path) -> None:
    from syndicate.catalogue_files import read_catalogue

    lines = [
        CSV_LINES[0].replace("SHJZ-01", "A-1"),
        CSV_LINES[0].replace("SHJZ-01", "A-2").replace("每月", "10个工作日内"),
    ]
    with pytest.raises(InputError, match="审批结果"):
        read_catalogue(write_csv(tmp_path / "dup.csv", lines))


def test_a_code_equal_to_another_items_path_is_refused_and_a_code_wins(
    tmp_path: Path,
) -> None:
    from syndicate.catalogue_files import read_catalogue
    from syndicate.domain.standard import (
        CatalogueChange,
        CatalogueEntry,
        CatalogueVersion,
    )

    tricky = "社会救助/医疗救助/年度报告"
    lines = [
        CSV_LINES[2].replace(
            "SHJZ-03,,", "B-1,社会救助,"
        ),  # 社会救助/医疗救助/年度报告
        CSV_LINES[0].replace("SHJZ-01", tricky),  # its code is B-1's path
    ]
    with pytest.raises(InputError, match="is the code of the 事项 at"):
        read_catalogue(write_csv(tmp_path / "c.csv", lines))
    # A version holding such 事项 anyway (built in code): the exact code wins,
    # whatever the order of the rows.
    common = {
        "basis": "《办法》",
        "time_limit": "每年",
        "agency": AGENCY,
        "channels": ("portal",),
    }
    by_path = CatalogueEntry.model_validate(
        {
            **common,
            "code": "B-1",
            "level1": "社会救助",
            "level2": "医疗救助",
            "item": "年度报告",
        }
    )
    by_code = CatalogueEntry.model_validate(
        {
            **common,
            "code": tricky,
            "level1": "社会救助",
            "level2": "临时救助",
            "item": "审批结果",
        }
    )
    entries = (by_path, by_code)
    version = CatalogueVersion(
        1, entries, "c.csv", "0" * 64, "张三", T0, CatalogueChange(entries, (), ())
    )
    found = version.find(tricky)
    assert found is not None
    assert found.code == tricky


# -- items and their 事项 ----------------------------------------------------------------


def test_an_item_is_filed_where_the_catalogue_says_and_may_only_be_stricter(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        change = engine.items.publish(
            item(
                catalogue_item=" 社会救助 / 最低生活保障 / 审批结果 ",
                catalogue_path="../../etc/passwd",  # replaced by the 事项's
                time_limit_days=5,
            ),
            actor="张三",
        )
        stored = engine.items.get(change.item_id).content
        assert stored.catalogue_item == APPROVAL
        assert stored.catalogue_path == APPROVAL
        assert stored.time_limit_days == 5
        before = log_snapshot(engine.items)
        with pytest.raises(InputError) as caught:
            engine.items.publish(
                item(index_no="X/2", catalogue_item=APPROVAL, time_limit_days=11),
                actor="张三",
            )
        assert [p.field for p in caught.value.problems] == ["time_limit_days"]
        assert log_snapshot(engine.items) == before


def test_a_batch_with_one_contradicting_item_publishes_nothing(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        good = item(index_no="X/1", catalogue_item=APPROVAL)
        bad = item(index_no="X/2", catalogue_item=APPROVAL, attribute="依申请公开")
        before = log_snapshot(engine.items)
        with pytest.raises(InputError, match="attribute"):
            engine.items.publish_many([good, bad], actor="张三")
        assert log_snapshot(engine.items) == before
        verdicts = engine.items.check_publish([good, bad], actor="张三")
        assert verdicts[0][1] is None
        assert isinstance(verdicts[1][1], InputError)
        assert verdicts[0][0].catalogue_path == APPROVAL  # what publish would store
        assert log_snapshot(engine.items) == before


def test_a_revision_cannot_contradict_its_item(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        change = engine.items.publish(item(catalogue_item=APPROVAL), actor="张三")
        before = log_snapshot(engine.items)
        with pytest.raises(InputError, match="channels"):
            engine.items.revise(
                change.item_id,
                item(catalogue_item=APPROVAL, channels=["portal", "kiosk"]),
                reason="加渠道",
                actor="张三",
            )
        assert log_snapshot(engine.items) == before


def test_a_copy_of_content_naming_an_item_still_takes_the_items_fields(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        original = item(catalogue_item=APPROVAL)
        copy = original.model_copy(
            update={"title": "临溪县2026年4月低保审批结果（二）"}
        )
        change = engine.items.publish(copy, actor="张三")
        assert engine.items.get(change.item_id).content.catalogue_path == APPROVAL


def test_a_revision_cannot_excuse_a_late_first_publication(
    sqlite_project: Project,
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        # An item may not give itself more than Art. 26's 20 working days…
        with pytest.raises(InputError, match=r"longer than Art\. 26 allows"):
            engine.items.publish(
                item(basis="《社会救助暂行办法》", time_limit_days=21), actor="张三"
            )
        # …and a revision widening its own 时限 does not move the first deadline.
        late = item(
            basis="《社会救助暂行办法》", formed_on="2026-04-20", time_limit_days=5
        )
        change = engine.items.publish(late, actor="张三")
        [fact] = engine.deadlines(today=date(2026, 5, 11)).items
        assert fact.deadline.state.value == "late"
        assert fact.deadline.limit_days == 5
        engine.items.revise(
            change.item_id,
            item(
                basis="《社会救助暂行办法》",
                formed_on="2026-04-20",
                time_limit_days=20,
            ),
            reason="更正",
            actor="张三",
        )
        [fact] = engine.deadlines(today=date(2026, 5, 11)).items
        assert fact.deadline.state.value == "late"
        assert fact.deadline.limit_days == 5


@pytest.mark.parametrize(
    "args",
    [
        ("items", "show", str(CATALOGUE_ID)),
        ("audit", "trail", str(CATALOGUE_ID)),
        ("items", "withdraw", str(CATALOGUE_ID), "--reason", "撤回"),
    ],
)
def test_the_catalogue_id_is_no_item(tmp_path: Path, args: tuple[str, ...]) -> None:
    h = cli_home(tmp_path)
    h.ok("catalogue", "import", write_csv(tmp_path / "c.csv", CSV_LINES))
    logged = json.loads(h.ok("log", "--json").stdout.splitlines()[0])
    assert logged["item_id"] == str(CATALOGUE_ID)
    before = h.items()
    result = h(*args)  # CliHome fails on a traceback
    assert result.exit_code in (1, 2)
    assert "no item" in result.output
    assert h.items() == before


def test_log_verify_and_consistency_read_catalogue_events(tmp_path: Path) -> None:
    h = cli_home(tmp_path)
    h.ok("catalogue", "import", write_xlsx(tmp_path / "v1.xlsx"))
    h.ok(
        "catalogue", "import", write_xlsx(tmp_path / "v2.xlsx", list(reversed(ROWS_V1)))
    )
    rows = [json.loads(x) for x in h.ok("log", "--json").stdout.splitlines()]
    assert [r["event"] for r in rows] == ["CatalogueStarted", "CatalogueAdjusted"]
    assert [r["title"] for r in rows] == ["v1.xlsx", "v2.xlsx"]
    h.ok("audit", "checkpoint")
    assert h.ok("audit", "verify").stdout.startswith("OK: 2 events")
    assert "0 mismatched" in h.ok("audit", "consistency").stdout
    assert "0 proactive item(s)" in h.ok("audit", "deadlines").stdout
    assert "5 事项: 5 blank" in h.ok("audit", "coverage").stdout
    assert "no items" in h.ok("items", "list").output
    # An id prefix never names the catalogue.
    prefix = h("items", "withdraw", str(CATALOGUE_ID)[:8], "--reason", "撤回")
    assert prefix.exit_code == 1
    assert "no item" in prefix.output


# -- coverage -----------------------------------------------------------------------------


def _row(report: Any, path: str) -> Any:
    return next(r for r in report.rows if r.entry.path == path)


def test_coverage_counts_quarters_in_china_time(
    sqlite_project: Project, tmp_path: Path
) -> None:
    # 2026-03-31 16:30 UTC is 2026-04-01 00:30 in China: the second quarter.
    clock = FixedClock(datetime(2026, 3, 31, 16, 30, tzinfo=UTC))
    with engine_of(sqlite_project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        engine.items.publish(
            item(catalogue_item=FUNDS, formed_on="2026-03-31"), actor="张三"
        )
        q1 = engine.coverage(quarter="2026Q1", today=date(2026, 4, 5))
        q2 = engine.coverage(quarter=" 2026 q2 ", today=date(2026, 7, 5))
    assert _row(q1, FUNDS).state.value == "blank"
    funds = _row(q2, FUNDS)
    assert funds.state.value == "published"
    assert len(funds.in_quarter) == 1


def test_coverage_of_withdrawn_items_and_orphans(
    sqlite_project: Project, tmp_path: Path
) -> None:
    clock = FixedClock(datetime(2026, 4, 15, 2, 0, tzinfo=UTC))
    with engine_of(sqlite_project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        kept = engine.items.publish(
            item(catalogue_item=FUNDS, formed_on="2026-04-10"), actor="张三"
        )
        gone = engine.items.publish(
            item(index_no="X/2", catalogue_item=APPROVAL, formed_on="2026-04-10"),
            actor="张三",
        )
        engine.items.withdraw(gone.item_id, reason="发布有误", actor="张三")
        clock.now = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)  # the third quarter
        engine.items.withdraw(kept.item_id, reason="过期", actor="张三")
        q2 = engine.coverage(quarter="2026Q2", today=date(2026, 7, 10))
        q3 = engine.coverage(quarter="2026Q3", today=date(2026, 7, 10))
        # The 事项 taken out of the catalogue: its item is an orphan, not a row.
        engine.import_catalogue(
            write_xlsx(
                tmp_path / "v2.xlsx", [r for r in ROWS_V1 if r[1] != "资金发放"]
            ),
            actor="张三",
        )
        clock.now = datetime(2026, 4, 20, 2, 0, tzinfo=UTC)
        orphaned = engine.coverage(quarter="2026Q2", today=date(2026, 6, 1))
        with pytest.raises(InputError, match="--agency"):
            engine.coverage(quarter="2026Q2", agency="临溪县民政局 ")
        other = engine.coverage(quarter="2026Q2", agency=AGENCY, today=date(2026, 6, 1))
    assert _row(q2, APPROVAL).state.value == "blank"  # withdrawn within the quarter
    assert _row(q2, FUNDS).state.value == "published"  # withdrawn only later
    assert _row(q3, FUNDS).state.value == "blank"
    assert all(r.entry.path != FUNDS for r in orphaned.rows)
    assert [code for code, _ in orphaned.orphans] == [FUNDS]
    assert [code for code, _ in other.orphans] == [FUNDS]


def test_a_later_revision_does_not_rewrite_a_past_quarter(
    sqlite_project: Project, tmp_path: Path
) -> None:
    clock = FixedClock(datetime(2026, 4, 15, 2, 0, tzinfo=UTC))
    with engine_of(sqlite_project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        change = engine.items.publish(
            item(catalogue_item=APPROVAL, formed_on="2026-04-10"), actor="张三"
        )
        before = engine.coverage(quarter="2026Q2", today=date(2026, 7, 1))
        assert _row(before, APPROVAL).state.value == "published"
        clock.now = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
        engine.items.revise(
            change.item_id,
            item(catalogue_item=POLICY, formed_on="2026-04-10"),
            reason="归入政策法规",
            actor="张三",
        )
        after = engine.coverage(quarter="2026Q2", today=date(2026, 7, 1))
    assert _row(after, APPROVAL).state.value == "published"
    assert _row(after, POLICY).state.value == "blank"


# -- the 年报 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"doc_type": "licence", "decisions": 0}, "decisions"),
        ({"doc_type": "licence", "decisions": -3}, "decisions"),
        ({"doc_type": "licence", "decisions": True}, "decisions"),
        ({"doc_type": "licence", "decisions": 2.0}, "decisions"),
        ({"doc_type": "normative", "decisions": 2}, "decisions"),
        ({"doc_type": "fee", "fee_wan": "1.23456"}, "fee_wan"),
        ({"doc_type": "fee", "fee_wan": "1e3"}, "fee_wan"),
        ({"doc_type": "fee", "fee_wan": "-1"}, "fee_wan"),
        ({"doc_type": "fee", "fee_wan": "01"}, "fee_wan"),
        ({"doc_type": "fee", "fee_wan": 12.5}, "fee_wan"),
        ({"doc_type": "fee", "fee_wan": "99999999999"}, "fee_wan"),
        ({"doc_type": "licence", "fee_wan": "1"}, "fee_wan"),
    ],
)
def test_bad_figures_for_the_annual_report_are_refused(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as caught:
        content(**fields)
    assert field in {p.field for p in caught.value.problems}


def test_fee_amounts_add_up_exactly_at_the_largest_values(tmp_path: Path) -> None:
    project, _ = Project.init(tmp_path / "home", environ={}, keys=False, review=False)
    clock = FixedClock(datetime(2025, 3, 1, 2, 0, tzinfo=UTC))
    with project.disclosures(clock=clock) as log:
        for n, amount in enumerate(["9999999999.9999"] * 3 + ["0.0001", "0"], 1):
            log.publish(
                content(
                    index_no=f"F/{n}",
                    doc_type="fee",
                    fee_wan=amount,
                    formed_on="2025-02-20",
                ),
                actor="张三",
            )
        log.publish(
            content(
                index_no="L/1",
                doc_type="licence",
                decisions=1_000_000,
                formed_on="2025-02-20",
            ),
            actor="张三",
        )
        found = proactive_figures(
            log, year=2025, cutoff=datetime(2026, 1, 1, tzinfo=CHINA_TZ)
        )
    values = {f.key: f for f in found.figures}
    assert values["fee.amount"].value == Decimal("29999999999.9998")
    assert values["fee.amount"].shown == "29999999999.9998"
    assert values["licence.decisions"].value == 1_000_000


def test_the_requests_csv_refuses_odd_numbers_by_line_and_column() -> None:
    for value, said in (("1.5", "not a whole number"), ("1e3", "not a whole number")):
        data = f"section,row,column,value\n四,行政复议,结果维持,{value}\n".encode()
        with pytest.raises(InputError, match=f"line 2, column value: .*{said}"):
            parse_requests_csv(data, "r.csv")


def test_a_huge_count_in_the_requests_csv_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.csv"
    bad.write_text(
        "section,row,column,value\n四,行政复议,结果维持," + "9" * 5000, "utf-8"
    )
    h = cli_home(tmp_path)
    out = tmp_path / "out"
    result = h(
        "audit", "annual-report", "--year", "2025", "--requests", bad, "--out", out
    )
    assert result.exit_code == 2
    assert "too large" in result.output


def test_the_office_text_is_rendered_without_markup_or_links() -> None:
    html = render_markdown(
        "<script>alert(1)</script>\n\n[点此](javascript:alert(1)) `<img src=x onerror=1>`"
        '\n\n### <b onclick="x">标题</b>\n- **"引号"**'
    )
    for tag in ("<script", "<img", "<b "):
        assert tag not in html
    assert "href" not in html
    assert "&lt;script&gt;" in html
    assert "<strong>&quot;引号&quot;</strong>" in html


# -- audit inspect on odd portal trees -----------------------------------------------------


def _hand_made_site(tmp_path: Path) -> tuple[CliHome, Path]:
    from tests.test_inspect import make_home

    h = make_home(tmp_path, {})
    site = h.home / "out" / "portal"
    site.mkdir(parents=True)
    (site / "index.html").write_text(
        '<html><body><a href="../../etc/passwd">a</a><a href="/../../etc/passwd">b</a>'
        '<a href="%2e%2e/%2e%2e/etc/passwd">c</a><a href="javascript:alert(1)">d</a>'
        '<a href="loop/index.html">e</a><a href="out.html">f</a></body></html>',
        "utf-8",
    )
    os.symlink(".", site / "loop")
    outside = tmp_path / "private.html"
    outside.write_text('<a href="secret-from-outside.html">s</a>', "utf-8")
    os.symlink(outside, site / "out.html")
    return h, site


def _inspect(h: CliHome) -> dict[str, Any]:
    result = h("audit", "inspect", "--json", "--today", "2026-06-01")
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_links_out_of_the_site_are_dead_links_and_symlink_loops_end(
    tmp_path: Path,
) -> None:
    h, _ = _hand_made_site(tmp_path)
    report = _inspect(h)
    messages = [
        f["message"] for f in report["findings"] if f["indicator"] == "dead_link"
    ]
    for link in ("../../etc/passwd", "/../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"):
        assert f"index.html links to {link}: it points outside the site" in messages
    assert "index.html links to out.html: it points outside the site" in messages
    assert not any("javascript:" in m for m in messages)


def test_a_page_symlinked_from_outside_the_site_is_not_read(tmp_path: Path) -> None:
    h, _ = _hand_made_site(tmp_path)
    report = _inspect(h)
    assert not any("secret-from-outside" in f["message"] for f in report["findings"])


def test_a_link_with_an_encoded_nul_is_a_dead_link(tmp_path: Path) -> None:
    h, site = _hand_made_site(tmp_path)
    (site / "nul.html").write_text('<a href="x%00.html">n</a>', "utf-8")
    report = _inspect(h)
    assert any("x%00.html" in f["message"] for f in report["findings"])


# -- the portal's footer settings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("party_mark_url", "javascript:alert(1)"),
        ("apply_url", 'https://x.gov.cn/a"onmouseover=alert(1)'),
        ("apply_url", "https://x.gov.cn/a b"),
        ("report_error_url", "data:text/html,<script>1</script>"),
        ("report_error_url", "//evil.example/"),
        ("party_mark_url", "https://x.gov.cn/" + "a" * 600),
        ("host", "临溪县\n办公室"),
        ("icp", "浙ICP备05000001号<b>"),
        ("police_record", "浙公网安备33010002000001号\"'"),
        ("contact", "电" * 201),
    ],
)
def test_hostile_footer_settings_are_refused(setting: str, value: str) -> None:
    from pydantic import ValidationError
    from syndicate_adapters.portal import PortalSettings

    with pytest.raises(ValidationError) as caught:
        PortalSettings.model_validate(
            {
                "path": "/srv/site",
                "site_url": "https://www.linxi.gov.cn",
                setting: value,
            }
        )
    assert setting in str(caught.value)


def test_footer_text_is_escaped() -> None:
    from syndicate_adapters.portal import PortalSettings, _footer_ids

    settings = PortalSettings(
        path=Path("/srv/site"),
        site_url="https://www.linxi.gov.cn",
        host='<script>alert("x")</script>',
        party_mark_url="https://bszs.conac.cn/sitename?method=show&id=1",
    )
    footer = _footer_ids(settings)
    assert "<script>" not in footer
    assert "&lt;script&gt;" in footer
    assert 'href="https://bszs.conac.cn/sitename?method=show&amp;id=1"' in footer


def test_bidi_overrides_in_footer_settings_are_refused() -> None:
    from pydantic import ValidationError
    from syndicate_adapters.portal import PortalSettings

    with pytest.raises(ValidationError):
        PortalSettings(
            path=Path("/srv/site"),
            site_url="https://www.linxi.gov.cn",
            host="临溪县\u202e室公办",
        )
