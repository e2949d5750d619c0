"""Standard catalogues as offices write them, built in the tests (XLSX with merged
cells and a two-row header, GBK CSV with the merged cells left empty)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook

TITLE = "临溪县社会救助领域基层政务公开标准目录"
HEADER = [
    "序号",
    "一级事项",
    "二级事项",
    "公开内容（要素）",
    "公开依据",
    "公开时限",
    "公开主体",
    "公开渠道和载体",
    "公开对象",
    "",
    "公开方式",
    "",
    "公开层级",
    "",
    "监督投诉",
]
SUB = [
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "全社会",
    "特定群体",
    "主动",
    "依申请",
    "县级",
    "乡级",
    "",
]
AGENCY = "临溪县民政局"
BASIS = "《社会救助暂行办法》《最低生活保障审核确认办法》"
HOTLINE = "临溪县民政局 0571-12345678"

# (二级事项, 公开内容, 时限, 渠道, 全社会?, 主动?) under 一级事项 最低生活保障 then 特困人员救助供养.
ROWS_V1 = [
    (
        "最低生活保障",
        "政策法规",
        "信息形成或变更之日起20个工作日内",
        "政府网站、两微一端、公开栏",
        True,
        True,
    ),
    (
        "最低生活保障",
        "审批结果",
        "信息形成或变更之日起10个工作日内",
        "政府网站、公开栏、村（居）民群",
        True,
        True,
    ),
    ("最低生活保障", "资金发放", "每季度更新", "政府网站、公开栏", True, True),
    (
        "特困人员救助供养",
        "审批结果",
        "信息形成或变更之日起10个工作日内",
        "政府网站、发布会",
        True,
        True,
    ),
    ("特困人员救助供养", "个人申请情况", "实时", "政府网站", False, False),
]


def write_xlsx(
    path: Path, rows: list[tuple[str, str, str, str, bool, bool]] = ROWS_V1
) -> Path:
    """A catalogue as county offices write it: a merged title row, a two-row header
    (公开对象, 公开方式, 公开层级 split into √ columns), 一级事项 merged over all its
    rows and each 二级事项 merged over its own."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "社会救助"
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    sheet.append(SUB)
    for parent in (9, 11, 13):  # 公开对象, 公开方式, 公开层级 over two columns
        sheet.merge_cells(
            start_row=2, start_column=parent, end_row=2, end_column=parent + 1
        )
    for col in range(1, 9):
        sheet.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    sheet.merge_cells(start_row=2, start_column=15, end_row=3, end_column=15)
    first = 4
    for n, (level2, item, limit, channels, public, proactive) in enumerate(rows, 1):
        sheet.append(
            [
                n,
                "社会救助" if n == 1 else None,
                level2,
                item,
                BASIS,
                limit,
                AGENCY,
                channels,
                "√" if public else None,
                None if public else "√",
                "√" if proactive else None,
                None if proactive else "√",
                "√",
                None,
                HOTLINE,
            ]
        )
    last = first + len(rows) - 1
    sheet.merge_cells(start_row=first, start_column=2, end_row=last, end_column=2)
    # Each 二级事项 merged over its rows, its value in the top cell only.
    start = first
    for r in range(first + 1, last + 2):
        above = sheet.cell(row=start, column=3).value
        here = sheet.cell(row=r, column=3).value if r <= last else None
        if r > last or here != above:
            if r - 1 > start:
                for k in range(start + 1, r):
                    sheet.cell(row=k, column=3).value = None
                sheet.merge_cells(
                    start_row=start, start_column=3, end_row=r - 1, end_column=3
                )
            start = r
    book.save(path)
    return path


CSV_HEADER = "事项编码,一级事项,二级事项,公开内容,公开依据,公开时限,公开主体,公开渠道和载体,公开对象,公开方式,公开层级,事项类别,监督投诉"


def write_csv(path: Path, lines: list[str], *, encoding: str = "gb18030") -> Path:
    """A catalogue exported to CSV (GBK, as Excel in China saves it)."""
    path.write_bytes(("\n".join([CSV_HEADER, *lines]) + "\n").encode(encoding))
    return path


CSV_LINES = [
    f"SHJZ-01,社会救助,临时救助,审批结果,《社会救助暂行办法》,每月,{AGENCY},政府网站、公开栏,全社会,主动公开,县级,结果公开,{HOTLINE}",
    f"SHJZ-02,,,救助标准,《社会救助暂行办法》,信息形成之日起15个工作日内,{AGENCY},政府网站,全社会,主动公开,县级,决策公开,",
    f"SHJZ-03,,医疗救助,年度报告,《社会救助暂行办法》,每年,{AGENCY},政府网站,全社会,主动公开,县级,结果公开,",
]


def item_data(**overrides: Any) -> dict[str, Any]:
    """The fields of a 低保 审批结果 item of 临溪县民政局; keyword arguments replace or
    add fields (no `basis`: give one, or a `catalogue_item` to take the 事项's)."""
    data: dict[str, Any] = {
        "agency": AGENCY,
        "index_no": "11330100MB0000006R/2026-00050",
        "title": "临溪县2026年4月最低生活保障审批结果公示",
        "body": "经审批，新增低保对象12户。",
        "area": "社会救助",
        "stage": "结果公开",
        "formed_on": "2026-05-08",
    }
    data.update(overrides)
    return data
