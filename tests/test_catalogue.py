"""The standard catalogue (issue 19): import from XLSX and CSV, versions, items that
fulfil 事项, the catalogue's time limits in `audit deadlines`, coverage, and the audit
covering every catalogue event."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicate.domain.catalogue import ChannelCategory
from syndicate.domain.standard import Period, parse_time_limit
from syndicate.engine import Engine
from syndicate.errors import InputError
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.catalogue_data import (
    AGENCY,
    CSV_LINES,
    HOTLINE,
    ROWS_V1,
    item_data,
    write_csv,
    write_xlsx,
)
from tests.clihome import CliHome, impersonate
from tests.conftest import content

T0 = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in China
APPROVAL = "社会救助/最低生活保障/审批结果"


def engine_of(project: Project, clock: FixedClock) -> Engine:
    return Engine(project, clock=clock)


def item(**overrides: Any) -> Any:
    return item_data(**overrides)


def publish(engine: Engine, **overrides: Any) -> Any:
    from syndicate.domain.content import ItemContent

    return engine.items.publish(
        ItemContent.model_validate(item(**overrides)), actor="张三"
    )


# -- reading catalogues -------------------------------------------------------------------


def test_time_limits_are_read_as_offices_write_them() -> None:
    assert parse_time_limit("自信息形成或者变更之日起20个工作日内") == (20, None)
    assert parse_time_limit("10个工作日内") == (10, None)
    assert parse_time_limit("每季度更新") == (None, Period.QUARTER)
    assert parse_time_limit("按月公开") == (None, Period.MONTH)
    assert parse_time_limit("实时") == (None, None)
    assert parse_time_limit("7日内") == (7, None)


def test_an_xlsx_with_merged_cells_and_a_two_row_header_is_read(
    project: Project, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "临溪县社会救助标准目录.xlsx")
    with engine_of(project, FixedClock(T0)) as engine:
        result = engine.import_catalogue(path, actor="张三")
        assert result.recorded
        assert result.version.version == 1
        entries = {e.path: e for e in engine.catalogue().entries}
    # 一级事项 merged over every row and each 二级事项 over its own reach every row.
    assert list(entries) == [
        "社会救助/最低生活保障/政策法规",
        APPROVAL,
        "社会救助/最低生活保障/资金发放",
        "社会救助/特困人员救助供养/审批结果",
        "社会救助/特困人员救助供养/个人申请情况",
    ]
    approval = entries[APPROVAL]
    assert approval.time_limit_days == 10
    assert approval.channels == (
        ChannelCategory.PORTAL,
        ChannelCategory.NOTICEBOARD,
        ChannelCategory.GROUP,
    )
    assert approval.agency == AGENCY
    assert approval.supervision == HOTLINE
    assert approval.area == "social_assistance"  # from the sheet's name
    assert approval.level == "县级"
    # √ under 特定群体 and 依申请 in the split header columns.
    private = entries["社会救助/特困人员救助供养/个人申请情况"]
    assert private.audience == "特定群体"
    assert private.attribute.value == "on_request"
    # 发布会 has no outlet: kept apart, not refused.
    assert entries["社会救助/特困人员救助供养/审批结果"].other_channels == ("发布会",)
    assert entries["社会救助/最低生活保障/资金发放"].period is Period.QUARTER


def test_a_gbk_csv_fills_merged_cells_from_the_row_above(
    project: Project, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "目录.csv", CSV_LINES)
    with engine_of(project, FixedClock(T0)) as engine:
        engine.import_catalogue(path, actor="张三")
        found = engine.catalogue()
    assert [(e.code, e.path) for e in found.entries] == [
        ("SHJZ-01", "社会救助/临时救助/审批结果"),
        ("SHJZ-02", "社会救助/临时救助/救助标准"),
        ("SHJZ-03", "社会救助/医疗救助/年度报告"),
    ]
    assert found.entries[0].category == "结果公开"
    assert found.entries[1].time_limit_days == 15


def test_a_second_version_records_what_changed_and_keeps_the_first(
    project: Project, tmp_path: Path
) -> None:
    clock = FixedClock(T0)
    with engine_of(project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "v1.xlsx"), actor="张三")
        v2_rows = [r for r in ROWS_V1 if r[1] != "政策法规"]  # one removed
        v2_rows[0] = (*v2_rows[0][:2], "5个工作日内", *v2_rows[0][3:])  # one changed
        v2_rows.append(
            ("特困人员救助供养", "资金发放", "每月", "政府网站", True, True)
        )  # one added
        clock.advance(days=30)
        result = engine.import_catalogue(
            write_xlsx(tmp_path / "v2.xlsx", v2_rows), actor="李四"
        )
        assert result.version.version == 2
        assert [e.path for e in result.change.added] == [
            "社会救助/特困人员救助供养/资金发放"
        ]
        assert result.change.removed == ("社会救助/最低生活保障/政策法规",)
        assert [e.path for e in result.change.changed] == [APPROVAL]
        # The same file again changes nothing and records nothing.
        before = log_snapshot(engine.items)
        again = engine.import_catalogue(tmp_path / "v2.xlsx", actor="李四")
        assert not again.recorded
        assert again.change.empty
        assert log_snapshot(engine.items) == before
        versions = engine.catalogue_versions()
        assert [v.version for v in versions] == [1, 2]
        assert [v.actor for v in versions] == ["张三", "李四"]
        old = engine.catalogue(1)
        assert old.find(APPROVAL) is not None
        assert old.find(APPROVAL).time_limit_days == 10  # type: ignore[union-attr]
        assert engine.catalogue().find(APPROVAL).time_limit_days == 5  # type: ignore[union-attr]
        assert engine.catalogue(1).find("社会救助/最低生活保障/政策法规") is not None
        assert engine.catalogue().find("社会救助/最低生活保障/政策法规") is None


# -- bad catalogues ------------------------------------------------------------------------


def _bad_xlsx(path: Path, header: list[str], row: list[Any]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "目录"
    sheet.append(header)
    sheet.append(row)
    book.save(path)
    return path


GOOD_HEADER = [
    "一级事项",
    "二级事项",
    "公开内容",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
]
GOOD_ROW = [
    "社会救助",
    "低保",
    "审批结果",
    "《办法》",
    "10个工作日内",
    AGENCY,
    "政府网站",
]


@pytest.mark.parametrize(
    ("name", "header", "row", "expected"),
    [
        (
            "missing header",
            [h for h in GOOD_HEADER if h != "公开依据"],
            [c for c in GOOD_ROW if c != "《办法》"],
            ["sheet 目录, row 1", "missing column 公开依据"],
        ),
        (
            "unknown channel",
            GOOD_HEADER,
            [*GOOD_ROW[:6], "政府网站、飞鸽传书"],
            ["sheet 目录, row 2, column G (公开渠道和载体)", "飞鸽传书"],
        ),
        (
            "empty required cell",
            GOOD_HEADER,
            [*GOOD_ROW[:5], None, GOOD_ROW[6]],
            ["sheet 目录, row 2, column F (公开主体)", "公开主体 is empty"],
        ),
        (
            "no header row",
            ["名称", "内容"],
            ["a", "b"],
            ["no header row found"],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isascii() else "",
)
def test_a_bad_xlsx_is_named_by_sheet_row_and_column_and_records_nothing(
    tmp_path: Path, name: str, header: list[str], row: list[Any], expected: list[str]
) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    h.ok("catalogue", "import", write_xlsx(tmp_path / "ok.xlsx"))
    before = h.items()
    result = h("catalogue", "import", _bad_xlsx(tmp_path / "bad.xlsx", header, row))
    assert result.exit_code == 2, result.output
    for part in expected:
        assert part in result.output, (name, result.output)
    assert h.items() == before


def test_duplicate_codes_and_a_bad_mark_are_each_named(
    project: Project, tmp_path: Path
) -> None:
    lines = [CSV_LINES[0], CSV_LINES[1], CSV_LINES[0].replace("审批结果", "审批结果二")]
    path = write_csv(tmp_path / "dup.csv", lines)
    with engine_of(project, FixedClock(T0)) as engine:
        before = log_snapshot(engine.items)
        with pytest.raises(InputError) as caught:
            engine.import_catalogue(path, actor="张三")
        assert log_snapshot(engine.items) == before
    text = str(caught.value)
    assert "sheet dup, row 4" in text
    assert "'SHJZ-01' appears twice (first at sheet dup, row 2)" in text


def test_not_a_catalogue_file_is_refused(
    sqlite_project: Project, tmp_path: Path
) -> None:
    bogus = tmp_path / "目录.xlsx"
    bogus.write_bytes(b"not a zip")
    other = tmp_path / "目录.pdf"
    other.write_bytes(b"%PDF")
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        with pytest.raises(InputError, match="not a readable XLSX"):
            engine.import_catalogue(bogus, actor="张三")
        with pytest.raises(InputError, match=r"give an \.xlsx or a \.csv"):
            engine.import_catalogue(other, actor="张三")
        with pytest.raises(InputError, match="cannot read"):
            engine.import_catalogue(tmp_path / "missing.csv", actor="张三")


# -- items fulfil 事项 --------------------------------------------------------------------


def test_an_item_takes_what_its_item_of_the_catalogue_says(
    project: Project, tmp_path: Path
) -> None:
    with engine_of(project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        change = publish(engine, catalogue_item=APPROVAL)
        stored = engine.items.get(change.item_id).content
    assert stored.catalogue_item == APPROVAL  # the code (here: the path)
    assert stored.catalogue_path == APPROVAL
    assert stored.basis == "《社会救助暂行办法》《最低生活保障审核确认办法》"
    assert stored.channels == (
        ChannelCategory.PORTAL,
        ChannelCategory.GROUP,
        ChannelCategory.NOTICEBOARD,
    )
    assert stored.time_limit_days == 10
    assert stored.supervision == HOTLINE
    assert stored.audience == "全社会"


def test_an_item_names_its_item_by_code_and_its_own_basis_wins(
    project: Project, tmp_path: Path
) -> None:
    with engine_of(project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_csv(tmp_path / "c.csv", CSV_LINES), actor="张三")
        change = publish(
            engine,
            catalogue_item="SHJZ-02",
            basis="《临溪县临时救助实施细则》",
            time_limit_days=5,
        )
        stored = engine.items.get(change.item_id).content
    assert stored.catalogue_item == "SHJZ-02"
    assert stored.catalogue_path == "社会救助/临时救助/救助标准"
    assert stored.basis == "《临溪县临时救助实施细则》"
    assert stored.time_limit_days == 5  # stricter than the 事项's 15: kept


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"channels": ["portal", "rss"]}, "channels", "RSS订阅 not listed by 事项"),
        ({"attribute": "依申请公开"}, "attribute", "contradicts 事项"),
        ({"audience": "特定群体"}, "audience", "contradicts 事项"),
        ({"time_limit_days": 30}, "time_limit_days", "longer than 事项"),
        ({"catalogue_item": "社会救助/不存在/事项"}, "catalogue_item", "is no 事项"),
    ],
)
def test_an_item_that_contradicts_its_item_is_refused(
    project: Project,
    tmp_path: Path,
    overrides: dict[str, Any],
    field: str,
    words: str,
) -> None:
    with engine_of(project, FixedClock(T0)) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        before = log_snapshot(engine.items)
        with pytest.raises(InputError) as caught:
            publish(engine, **{"catalogue_item": APPROVAL, **overrides})
        assert log_snapshot(engine.items) == before
    [problem] = caught.value.problems
    assert problem.field == field
    assert words in problem.message


def test_without_a_catalogue_items_publish_as_before_but_cannot_name_one(
    sqlite_project: Project,
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        engine.items.publish(content(), actor="张三")
        with pytest.raises(InputError, match="has no standard catalogue"):
            publish(engine, catalogue_item=APPROVAL)
        with pytest.raises(InputError, match="basis: required field is missing"):
            publish(engine)  # neither basis nor catalogue_item


def test_an_item_file_names_its_item_through_the_cli(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    h.ok("catalogue", "import", write_xlsx(tmp_path / "c.xlsx"))
    path = tmp_path / "item.md"
    path.write_text(
        "+++\n"
        f'agency = "{AGENCY}"\n'
        'index_no = "11330100MB0000006R/2026-00051"\n'
        'title = "2026年4月低保审批结果"\n'
        'area = "社会救助"\n'
        'stage = "结果公开"\n'
        "formed_on = 2026-04-30\n"
        f'catalogue_item = "{APPROVAL}"\n'
        'channels = ["portal", "rss"]\n'
        "+++\n正文。\n",
        encoding="utf-8",
    )
    before = h.items()
    refused = h("items", "publish", path)
    assert refused.exit_code == 2
    assert "channels" in refused.output
    assert "RSS订阅 not listed" in refused.output
    assert h.items() == before
    path.write_text(
        path.read_text("utf-8").replace('channels = ["portal", "rss"]\n', "")
    )
    h.ok("items", "publish", path)
    shown = h.ok("items", "show", f"{AGENCY}/11330100MB0000006R/2026-00051", "--json")
    doc = json.loads(shown.stdout)
    found = json.dumps(doc, ensure_ascii=False)
    assert APPROVAL in found
    assert "《最低生活保障审核确认办法》" in found


# -- deadlines and coverage -----------------------------------------------------------------


def test_deadlines_use_the_time_limit_of_the_item(
    sqlite_project: Project, tmp_path: Path
) -> None:
    clock = FixedClock(T0)
    with engine_of(sqlite_project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        # Formed 2026-04-20 (Mon): 10 working days (May Day holiday) end before 5-11.
        publish(engine, catalogue_item=APPROVAL, formed_on="2026-04-20")
        publish(
            engine,
            index_no="11330100MB0000006R/2026-00052",
            basis="《社会救助暂行办法》",
            formed_on="2026-04-20",
        )
        report = engine.deadlines(today=date(2026, 5, 11))
    by_ref = {f.ref.rsplit("-", 1)[1]: f.deadline for f in report.items}
    assert by_ref["00050"].limit_days == 10
    assert by_ref["00052"].limit_days == 20
    assert by_ref["00050"].due < by_ref["00052"].due
    # No public outlet here: neither counts as published; 10 days are over by 5-11.
    assert by_ref["00050"].state.value == "late"
    assert by_ref["00052"].state.value in ("open", "due_soon")


def test_coverage_lists_blanks_and_missing_periods(
    project: Project, tmp_path: Path
) -> None:
    clock = FixedClock(datetime(2026, 4, 15, 2, 0, tzinfo=UTC))
    with engine_of(project, clock) as engine:
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        publish(engine, catalogue_item=APPROVAL, formed_on="2026-04-10")
        publish(
            engine,
            index_no="11330100MB0000006R/2026-00053",
            catalogue_item="社会救助/最低生活保障/资金发放",
            title="2026年第一季度低保资金发放情况",
            formed_on="2026-04-10",
        )
        q2 = engine.coverage(quarter="2026Q2", today=date(2026, 7, 5))
        q3 = engine.coverage(quarter="2026Q3", today=date(2026, 10, 8))
        open_q3 = engine.coverage(quarter="2026Q3", today=date(2026, 8, 1))
        with pytest.raises(InputError, match="2026Q5"):
            engine.coverage(quarter="2026Q5")
        with pytest.raises(InputError, match="--agency"):
            engine.coverage(agency="别的局")
    states = {
        r.entry.item + "@" + (r.entry.level2 or ""): r.state.value for r in q2.rows
    }
    assert states == {
        "政策法规@最低生活保障": "blank",
        "审批结果@最低生活保障": "published",
        "资金发放@最低生活保障": "published",
        "审批结果@特困人员救助供养": "blank",
        "个人申请情况@特困人员救助供养": "blank",
    }
    funds = next(r for r in q3.rows if r.entry.item == "资金发放")
    assert funds.state.value == "missing"
    assert funds.missing == ("2026Q3",)
    assert (
        next(r for r in open_q3.rows if r.entry.item == "资金发放").state.value
        == "open"
    )
    assert len(q2.blanks) == 3
    doc = q2.as_json()
    assert doc["counts"] == {"published": 2, "blank": 3, "missing": 0, "open": 0}


def test_coverage_cli_prints_text_json_and_csv(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    refused = h("audit", "coverage")
    assert refused.exit_code == 2
    assert "no standard catalogue" in refused.output
    h.ok("catalogue", "import", write_xlsx(tmp_path / "c.xlsx"))
    text = h.ok("audit", "coverage", "--quarter", "2026Q2").stdout
    assert "空白" in text
    assert "政策法规" in text
    doc = json.loads(h.ok("audit", "coverage", "--quarter", "2026Q2", "--json").stdout)
    assert doc["quarter"] == "2026Q2"
    assert len(doc["rows"]) == 5
    rows = list(csv.reader(io.StringIO(h.ok("audit", "coverage", "--csv").stdout)))
    assert rows[0][:4] == ["事项编码", "一级事项", "二级事项", "公开内容"]
    assert len(rows) == 6
    bad = h("audit", "coverage", "--quarter", "Q2")
    assert bad.exit_code == 2
    assert "--quarter" in bad.output


def test_catalogue_commands_show_history_and_export_round_trip(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    assert "no standard catalogue" in h.ok("catalogue", "history").stdout
    dry = h.ok("catalogue", "import", write_xlsx(tmp_path / "c.xlsx"), "--dry-run")
    assert "nothing recorded" in dry.stdout
    assert h.ok("catalogue", "history", "--json").stdout.strip() == "[]"
    h.ok("catalogue", "import", tmp_path / "c.xlsx")
    assert APPROVAL in h.ok("catalogue", "show").stdout
    out = tmp_path / "export.csv"
    h.ok("catalogue", "export", "--out", out)
    # The export reads back as the same 事项: importing it changes nothing.
    again = h.ok("catalogue", "import", out)
    assert "changes nothing" in again.stdout
    history = json.loads(h.ok("catalogue", "history", "--json").stdout)
    assert [v["version"] for v in history] == [1]
    bad = h("catalogue", "show", "--version", "7")
    assert bad.exit_code == 2
    assert "no catalogue version 7" in bad.output


# -- the audit covers the catalogue ----------------------------------------------------------


def test_every_catalogue_event_is_covered_by_verify(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    h.ok("catalogue", "import", write_xlsx(tmp_path / "v1.xlsx"))
    h.ok("catalogue", "import", write_xlsx(tmp_path / "v2.xlsx", ROWS_V1[:3]))
    h.ok("audit", "checkpoint")
    assert h.ok("audit", "verify").stdout.startswith("OK")
    db = h.home / "data" / "disclosures.db"
    pristine = db.read_bytes()
    for topic in (
        "syndicate.StandardCatalogue.Started",
        "syndicate.StandardCatalogue.Adjusted",
    ):
        position = impersonate(db, topic)
        # The application reads the forged actor…
        history = json.loads(h.ok("catalogue", "history", "--json").stdout)
        assert any(v["actor"].startswith("冒名") for v in history)
        # …and the signed log names the altered event.
        verified = h("audit", "verify")
        assert verified.exit_code == 1, (topic, verified.output)
        assert f"(items log position {position})" in verified.stdout, topic
        db.write_bytes(pristine)
    assert h.ok("audit", "verify").stdout.startswith("OK")


def test_a_catalogue_row_deleted_from_the_store_fails_verify(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    h.ok("catalogue", "import", write_xlsx(tmp_path / "v1.xlsx"))
    h.ok("catalogue", "import", write_xlsx(tmp_path / "v2.xlsx", ROWS_V1[:3]))
    h.ok("audit", "checkpoint")
    with sqlite3.connect(h.home / "data" / "disclosures.db") as conn:
        conn.execute(
            "DELETE FROM stored_events WHERE topic = 'syndicate.StandardCatalogue.Adjusted'"
        )
    verified = h("audit", "verify")
    assert verified.exit_code == 1, verified.output


def test_personal_information_in_a_catalogue_is_refused(
    sqlite_project: Project, tmp_path: Path
) -> None:
    line = CSV_LINES[0].replace(HOTLINE, "张科长 13812345678")
    path = write_csv(tmp_path / "pii.csv", [line])
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        before = log_snapshot(engine.items)
        with pytest.raises(InputError) as caught:
            engine.import_catalogue(path, actor="张三")
        assert log_snapshot(engine.items) == before
    text = str(caught.value)
    assert "catalogue row 1" in text
    assert "13812345678" not in text  # masked, never echoed


def test_a_dry_run_of_item_files_fills_in_from_the_catalogue(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    h.ok("catalogue", "import", write_csv(tmp_path / "c.csv", CSV_LINES))
    path = tmp_path / "item.md"
    path.write_text(
        "+++\n"
        f'agency = "{AGENCY}"\n'
        'index_no = "11330100MB0000006R/2026-00060"\n'
        'title = "2026年4月临时救助审批结果"\n'
        'area = "社会救助"\n'
        'stage = "结果公开"\n'
        "formed_on = 2026-04-30\n"
        'catalogue_item = "SHJZ-01"\n'
        "+++\n正文。\n",
        encoding="utf-8",
    )
    before = h.items()
    h.ok("items", "publish", "--dry-run", path)
    assert h.items() == before
    h.ok("items", "publish", path)
    assert len(h.items()) > len(before)


def test_a_path_without_its_item_is_refused_once_there_is_a_catalogue(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        # No catalogue yet: the path alone places the item in the portal's tree.
        publish(engine, catalogue_path=APPROVAL, basis="《社会救助暂行办法》")
        engine.import_catalogue(write_xlsx(tmp_path / "c.xlsx"), actor="张三")
        with pytest.raises(InputError) as caught:
            publish(
                engine,
                index_no="11330100MB0000006R/2026-00070",
                catalogue_path=APPROVAL,
                basis="《社会救助暂行办法》",
            )
    [problem] = caught.value.problems
    assert problem.field == "catalogue_path"
    assert "catalogue_item" in problem.message


def test_hostile_workbooks_are_refused_or_read_safely(
    sqlite_project: Project, tmp_path: Path
) -> None:
    import zipfile

    from openpyxl import load_workbook

    # A workbook that unpacks to far more than it weighs (a zip bomb's shape).
    bomb = write_xlsx(tmp_path / "bomb.xlsx")
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.xml", b"\0" * (210 * 1024 * 1024))
    assert bomb.stat().st_size < 2 * 1024 * 1024
    # A merged range over every column Excel has, and a sheet name that would reorder
    # the terminal's text.
    wide = write_xlsx(tmp_path / "wide.xlsx")
    book = load_workbook(wide)
    sheet = book.active
    assert sheet is not None
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=16384)
    sheet.title = "社会救助\u202e"
    book.save(wide)
    with engine_of(sqlite_project, FixedClock(T0)) as engine:
        before = log_snapshot(engine.items)
        with pytest.raises(InputError, match="unpacks to"):
            engine.import_catalogue(bomb, actor="张三")
        assert log_snapshot(engine.items) == before
        read = engine.import_catalogue(wide, actor="张三")
    assert len(read.version.entries) == len(ROWS_V1)
    assert read.sheets == ("社会救助?",)


def test_export_of_a_version_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    h = CliHome(tmp_path / "home")
    h.ok("init", "--no-review")
    none_yet = h("catalogue", "export")
    assert none_yet.exit_code == 2
    assert "no standard catalogue yet" in none_yet.output
    h.ok("catalogue", "import", write_xlsx(tmp_path / "c.xlsx"))
    before = h.items()
    out = tmp_path / "export.csv"
    refused = h("catalogue", "export", "--version", "3", "--out", out)
    assert refused.exit_code == 2
    assert "no catalogue version 3; versions are 1 to 1" in refused.output
    assert not out.exists()
    assert h.items() == before
