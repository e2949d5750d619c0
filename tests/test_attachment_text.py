"""Reading and rewriting the text of attachments (syndicate.attachment_text).

Every file is built here: CSV in the encodings Chinese offices save, XLSX with openpyxl,
DOCX by hand (a minimal valid package), PDF with WeasyPrint (a subset of the packaged
Noto Sans SC font, so it needs no system font). The numbers are generated."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import random
import re
import warnings
import zipfile
from importlib import resources
from typing import Any

import openpyxl
import pytest

from syndicate.attachment_text import (
    AttachmentText,
    TextBlock,
    Unreadable,
    read_attachment_text,
    replace_in_attachment,
)
from tests.test_pii import make_id, make_mobile

RNG = random.Random(20240501)
ID = make_id(RNG)
ID2 = make_id(RNG)
MOBILE = make_mobile(RNG)
DIGIT_ID = next(i for i in (make_id(RNG) for _ in range(50)) if i[-1].isdigit())

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def read(data: bytes, name: str, media_type: str = "") -> AttachmentText:
    text = read_attachment_text(data, name=name, media_type=media_type)
    assert isinstance(text, AttachmentText), text
    return text


def unreadable(data: bytes, name: str, media_type: str = "") -> str:
    result = read_attachment_text(data, name=name, media_type=media_type)
    assert isinstance(result, Unreadable), result
    assert "\n" not in result.reason
    return result.reason


def rewrite(
    data: bytes, name: str, edits: dict[tuple[int, int, int], str], media_type: str = ""
) -> bytes:
    result = replace_in_attachment(data, name=name, media_type=media_type, edits=edits)
    assert isinstance(result, bytes), result
    return result


# --------------------------------------------------------------------------- CSV

ROWS = [
    ["姓名", "身份证号", "住址"],
    ["张三", ID, "北京市海淀区, 1号"],  # an ASCII comma inside a field
    ["李四", ID2, '说"明"\n第二行'],  # a quote and a line break inside a field
]


def csv_bytes(rows: list[list[str]], encoding: str, delimiter: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("gb18030", "\t"), ("utf-8", ";")],
)
def test_csv_in_the_encodings_and_delimiters_offices_save(
    encoding: str, delimiter: str
) -> None:
    data = csv_bytes(ROWS, encoding, delimiter)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really not UTF-8: the fallback is exercised
    text = read(data, "名单.CSV")
    assert text.blocks == (TextBlock("", tuple(map(tuple, ROWS)), table=True),)


def test_csv_keeps_blank_records_so_row_indices_are_stable() -> None:
    text = read(f"a,b\n\n{MOBILE},x\n".encode(), "x.csv")
    assert text.blocks[0].rows == (("a", "b"), (), (MOBILE, "x"))


def test_text_that_is_not_text_is_unreadable() -> None:
    assert "UTF-8" in unreadable(b"\x81\x30\xff\xfe\x00abc\xff", "x.txt")
    assert "NUL" in unreadable(b"abc\x00\x00def", "x.csv")


# --------------------------------------------------------------------------- text, HTML


def test_text_and_markdown_are_lines() -> None:
    data = f"第一行\r\n身份证号：{ID}\r\n\r\n末行".encode()
    text = read(data, "说明.txt")
    assert text.blocks == (
        TextBlock(
            "", (("第一行",), (f"身份证号：{ID}",), ("",), ("末行",)), table=False
        ),
    )
    assert read(b"# T\n- a\n", "README.md").blocks[0].rows == (("# T",), ("- a",))
    # Excel's "Unicode text" is UTF-16 with a BOM.
    utf16 = f"\ufeff姓名\t电话\r\n张三\t{MOBILE}\r\n".encode("utf-16-le")
    assert read(utf16, "导出.txt").blocks[0].rows == (
        ("姓名\t电话",),
        (f"张三\t{MOBILE}",),
    )


def test_html_is_stripped_to_text_lines() -> None:
    html = f"""<!doctype html><html><head><title>公示</title>
    <script>document.write("不执行")</script></head>
    <body><h1>名单 &amp; 公示</h1><p>申请人
    张三<br>电话&#65306;{MOBILE}</p>
    <table><tr><td>李四</td><td>{ID2}</td></tr></table>
    <!-- 原始身份证号 {ID} -->
    <img src="x.png" alt="签名 张三"></body></html>"""
    rows = read(html.encode("gb18030"), "公示.htm").blocks[0].rows
    lines = [row[0] for row in rows]
    assert "名单 & 公示" in lines
    assert "申请人 张三" in lines  # a line break in the source is a space
    assert f"电话：{MOBILE}" in lines
    assert f"李四\t{ID2}" in lines  # cells stay apart
    assert f"原始身份证号 {ID}" in lines  # a comment is in the published file
    assert "签名 张三" in lines
    assert 'document.write("不执行")' in lines  # script is text, never run
    assert all(line == line.strip() and line for line in lines)


# --------------------------------------------------------------------------- XLSX


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "名单"
    sheet.append(["姓名", "身份证号", "电话", "出生日期", "金额", "公式"])
    sheet.append(
        ["张三", ID, int(MOBILE), dt.date(1990, 3, 7), 1234.5, "=E2*2"]
    )  # the ID stored as text, the phone number as a number
    sheet["A4"] = "隔一行"
    sheet["C4"] = dt.datetime(2024, 5, 1, 8, 30)
    other = workbook.create_sheet("汇总")
    other["A1"] = 3.0
    other["C2"] = float(DIGIT_ID)  # an ID typed as a number: a float, digits lost
    hidden = workbook.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    hidden["B1"] = MOBILE
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_cells_read_the_way_a_person_sees_them() -> None:
    text = read(xlsx_bytes(), "名单.xlsx")
    assert [b.label for b in text.blocks] == ["名单", "汇总", "隐藏"]
    assert all(b.table for b in text.blocks)
    assert text.blocks[0].rows == (
        ("姓名", "身份证号", "电话", "出生日期", "金额", "公式"),
        # no cached value for the formula (openpyxl computes none): an empty cell
        ("张三", ID, MOBILE, "1990-03-07", "1234.5"),
        (),
        ("隔一行", "", "2024-05-01 08:30:00"),  # cell index = column - 1
    )
    as_float = text.blocks[1].rows[1][2]
    assert text.blocks[1].rows == (("3",), ("", "", as_float))
    assert re.fullmatch(r"\d{18}", as_float)
    assert as_float[:15] == DIGIT_ID[:15]
    assert text.blocks[2].rows == (("", MOBILE),)  # hidden sheets are published too


def replace_member(data: bytes, name: str, change: bytes | None) -> bytes:
    """The zip `data` with member `name` replaced (or added when absent)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
        if change is not None:
            target.writestr(name, change)
    return out.getvalue()


def test_xlsx_with_a_wrong_declared_size_is_still_read_to_the_end() -> None:
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    wrong = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', sheet)
    assert wrong != sheet
    text = read(replace_member(data, "xl/worksheets/sheet1.xml", wrong), "x.xlsx")
    assert text.blocks[0].rows[3][0] == "隔一行"


def test_xlsx_with_a_dtd_is_refused() -> None:
    data = xlsx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert not sheet.startswith(b"<?xml")
    dtd = b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
    bomb = dtd + sheet.replace(b"<sheetPr>", b"<sheetPr>&b;", 1)
    changed = replace_member(data, "xl/worksheets/sheet1.xml", bomb)
    assert "DTD" in unreadable(changed, "x.xlsx")


# --------------------------------------------------------------------------- DOCX

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOCUMENT_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<w:document xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    f' xmlns:w="{W}"'
    ' xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'
    ' mc:Ignorable="w14"><w:body>'
)


def cell(*paragraphs: str) -> str:
    inner = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    return f"<w:tc><w:tcPr/>{inner}</w:tc>"


BODY = (
    # A tab stop in the paragraph properties is not text; the ID is split over runs
    # with different formatting, as Word often stores it.
    '<w:p w14:paraId="1A2B3C4D"><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/>'
    "</w:tabs></w:pPr>"
    "<w:r><w:rPr><w:b/></w:rPr><w:t>姓名：张三</w:t></w:r>"
    '<w:r><w:tab/><w:t xml:space="preserve">身份证号 </w:t></w:r>'
    f"<w:r><w:rPr><w:i/></w:rPr><w:t>{ID[:6]}</w:t></w:r><w:r><w:t>{ID[6:]}</w:t></w:r>"
    "</w:p>"
    f"<w:p><w:r><w:t>第一行</w:t><w:br/><w:t>电话 {MOBILE}</w:t></w:r></w:p>"
    "<w:tbl><w:tblPr/>"
    f"<w:tr>{cell('姓名')}{cell('身份证号')}</w:tr>"
    f"<w:tr>{cell('李四', '（村民）')}"
    "<w:tc>"
    f"<w:p><w:r><w:t>{ID2}</w:t></w:r></w:p>"
    f"<w:tbl><w:tr>{cell('内表')}</w:tr></w:tbl>"  # a nested table stays in its cell
    "</w:tc></w:tr>"
    "</w:tbl>"
    "<w:p/><w:p><w:pPr/></w:p>"
    "<w:p><w:r><w:t>结尾</w:t></w:r></w:p>"
    "<w:tbl><w:tr>" + cell("表二") + "</w:tr></w:tbl>"
    "<w:sectPr/>"
)


def docx_bytes(body: str = BODY, *, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr(
            "word/document.xml", DOCUMENT_START + body + "</w:body></w:document>"
        )
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


DOCX_BLOCKS = (
    TextBlock(
        "",
        (
            (f"姓名：张三\t身份证号 {ID}",),
            ("第一行",),
            (f"电话 {MOBILE}",),
            ("",),
            ("",),
            ("结尾",),
        ),
        table=False,
    ),
    TextBlock(
        "表格1", (("姓名", "身份证号"), ("李四\n（村民）", f"{ID2}\n内表")), table=True
    ),
    TextBlock("表格2", (("表二",),), table=True),
)


def test_docx_paragraphs_then_tables() -> None:
    assert read(docx_bytes(), "通知.docx").blocks == DOCX_BLOCKS
    assert read(docx_bytes(), "通知", DOCX).blocks == DOCX_BLOCKS  # by media type


def test_docx_with_a_dtd_is_refused() -> None:
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml")
    bomb = xml.replace(b"?>", b'?><!DOCTYPE w:document [<!ENTITY a "x">]>', 1)
    changed = replace_member(data, "word/document.xml", bomb)
    assert "DTD" in unreadable(changed, "x.docx")


# --------------------------------------------------------------------------- PDF


def _weasyprint() -> Any:
    """WeasyPrint, imported quietly: on a machine without system fonts it warns at
    import ("No fonts configured"), which the test run treats as an error; the PDFs
    made here bring their own font."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Expect ugly output")
        warnings.filterwarnings(
            "ignore", message=".*HarfBuzz-Subset", category=DeprecationWarning
        )
        import weasyprint
    return weasyprint


def pdf_bytes(html_body: str) -> bytes:
    """A PDF from WeasyPrint, its font a subset of the packaged Noto Sans SC."""
    import uharfbuzz as hb

    weasyprint = _weasyprint()
    font = resources.files("pylopdf_fonts_zh_cn").joinpath("NotoSansSC-Regular.otf")
    spec = hb.SubsetInput()
    spec.unicode_set.update(sorted({ord(c) for c in html_body}))
    cut = hb.subset(hb.Face(hb.Blob(font.read_bytes())), spec)
    url = "data:font/otf;base64," + base64.b64encode(bytes(cut.blob.data)).decode()
    style = (
        f"@font-face {{ font-family: T; src: url({url}) }} body {{ font-family: T }}"
        " .next { break-before: page }"
    )
    pdf: bytes = weasyprint.HTML(
        string=f"<style>{style}</style>{html_body}"
    ).write_pdf()
    return pdf


def test_pdf_text_layer_page_by_page() -> None:
    data = pdf_bytes(
        f"<p>身份证号 {ID}</p><p>电话 {MOBILE}</p><p class=next>第二页 {ID2}</p>"
    )
    text = read(data, "公示.pdf")
    assert [b.label for b in text.blocks] == ["第1页", "第2页"]
    assert text.blocks[0] == TextBlock(
        "第1页", ((f"身份证号 {ID}",), (f"电话 {MOBILE}",)), table=False
    )
    assert text.blocks[1].rows == ((f"第二页 {ID2}",),)


def test_pdf_without_text_is_a_scan_to_check_by_eye() -> None:
    data = (
        _weasyprint()
        .HTML(string='<div style="width: 5cm; height: 5cm; background: #c00"></div>')
        .write_pdf()
    )
    reason = unreadable(data, "扫描件.pdf")
    assert "no text layer" in reason
    assert "by eye" in reason


def test_password_protected_pdf() -> None:
    from pypdf import PdfReader, PdfWriter

    plain = pdf_bytes(f"<p>{MOBILE}</p>")
    locked, open_to_all = PdfWriter(), PdfWriter()
    for writer, password in ((locked, "secret"), (open_to_all, "")):
        writer.append(PdfReader(io.BytesIO(plain)))
        writer.encrypt(
            user_password=password, owner_password="owner", algorithm="AES-128"
        )
    out1, out2 = io.BytesIO(), io.BytesIO()
    locked.write(out1)
    open_to_all.write(out2)
    assert "password" in unreadable(out1.getvalue(), "x.pdf")
    assert read(out2.getvalue(), "x.pdf").blocks[0].rows == ((MOBILE,),)


# --------------------------------------------------------------------------- unreadable

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(20)


@pytest.mark.parametrize(
    ("name", "media_type", "says"),
    [
        ("扫描件.png", "image/png", "by eye"),
        ("照片.JPG", "", "by eye"),
        ("附件", "image/tiff", "by eye"),
        ("表.xls", XLSX, ".xlsx"),  # the extension decides, not the media type
        ("通知.doc", "", ".docx"),
        ("通知.wps", "", ".docx"),
        ("发票.ofd", "", "PDF"),
        ("材料.zip", "", "attach the files"),
        ("材料.rar", "", "attach the files"),
        ("数据.xyz", "application/octet-stream", "PDF, DOCX, XLSX, CSV or TXT"),
    ],
)
def test_unreadable_types_say_what_to_do(name: str, media_type: str, says: str) -> None:
    assert says in unreadable(PNG, name, media_type)


def test_no_extension_falls_back_to_the_media_type() -> None:
    data = f"姓名,电话\n张三,{MOBILE}\n".encode()
    text = read(data, "附件", "text/csv; charset=utf-8")
    assert text.blocks[0].rows == (("姓名", "电话"), ("张三", MOBILE))


def garbage_cases() -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    noise = rng.randbytes(4096)
    xlsx, docx = xlsx_bytes(), docx_bytes()
    pdf = pdf_bytes("<p>1</p>")
    ole = bytes.fromhex("d0cf11e0a1b11ae1") + noise
    return [
        ("x.xlsx", noise),
        ("x.xlsx", b""),
        ("x.xlsx", xlsx[: len(xlsx) // 2]),
        ("x.xlsx", ole),  # an .xls or a password-protected workbook renamed
        ("x.xlsx", replace_member(xlsx, "xl/workbook.xml", b"<not xml")),
        ("x.docx", noise),
        ("x.docx", docx[: len(docx) // 2]),
        ("x.docx", ole),
        ("x.docx", replace_member(docx, "word/document.xml", None)),
        ("x.docx", replace_member(docx, "word/document.xml", b"<w:document><w:body>")),
        ("x.pdf", noise),
        ("x.pdf", b""),
        ("x.pdf", pdf[: len(pdf) // 2]),
        ("x.pdf", b"%PDF-1.7\n" + noise),
    ]


@pytest.mark.parametrize(("name", "data"), garbage_cases())
def test_bad_bytes_are_unreadable_never_an_exception(name: str, data: bytes) -> None:
    reason = unreadable(data, name)
    assert reason


@pytest.mark.parametrize("name", ["bomb.xlsx", "bomb.docx"])
def test_a_zip_bomb_is_refused_before_unpacking(name: str) -> None:
    base = xlsx_bytes() if name.endswith(".xlsx") else docx_bytes()
    out = io.BytesIO(base)
    chunk = bytes(1 << 20)
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("zeros.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(210):  # 210 MB of zeros, under 1 MB packed
            member.write(chunk)
    data = out.getvalue()
    assert len(data) < 2 << 20
    assert "200 MB" in unreadable(data, name)


# --------------------------------------------------------------------------- rewrite


def masked(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def test_csv_rewrite_keeps_encoding_delimiter_and_the_other_records() -> None:
    data = csv_bytes(ROWS, "gb18030", "\t")
    new = rewrite(data, "名单.csv", {(0, 1, 1): masked(ID), (0, 2, 2): "已删"})
    with pytest.raises(UnicodeDecodeError):
        new.decode("utf-8")
    expected = [ROWS[0], ["张三", masked(ID), ROWS[1][2]], ["李四", ID2, "已删"]]
    assert new == csv_bytes(expected, "gb18030", "\t")
    assert read(new, "名单.csv").blocks[0].rows == tuple(map(tuple, expected))


def test_csv_rewrite_leaves_untouched_records_byte_for_byte() -> None:
    # Fields quoted where they need not be, and a BOM: kept outside the edited record.
    data = f'\ufeff"姓名","电话"\r\n"张三","{MOBILE}"\r\n"李四","{MOBILE}"'.encode()
    new = rewrite(data, "x.csv", {(0, 1, 1): "138****0000"})
    assert (
        new == f'\ufeff"姓名","电话"\r\n张三,138****0000\r\n"李四","{MOBILE}"'.encode()
    )


def test_text_rewrite_replaces_lines_and_keeps_their_endings() -> None:
    data = f"甲\r\n身份证号：{ID}\r\n乙".encode("gb18030")
    new = rewrite(
        data, "x.txt", {(0, 1, 0): f"身份证号：{masked(ID)}", (0, 2, 0): "丙"}
    )
    assert new == f"甲\r\n身份证号：{masked(ID)}\r\n丙".encode("gb18030")


def test_xlsx_rewrite_changes_only_the_edited_cells() -> None:
    data = xlsx_bytes()
    before = read(data, "x.xlsx")
    edits = {(0, 1, 2): "138****0000", (0, 1, 1): masked(ID), (2, 0, 1): "=不是公式"}
    after = read(rewrite(data, "x.xlsx", edits), "x.xlsx")
    for b, block in enumerate(before.blocks):
        for r, row in enumerate(block.rows):
            for c, text in enumerate(row):
                assert after.blocks[b].rows[r][c] == edits.get((b, r, c), text)
    workbook = openpyxl.load_workbook(io.BytesIO(rewrite(data, "x.xlsx", edits)))
    assert workbook["名单"]["C2"].data_type == "s"  # was a number
    assert workbook["隐藏"]["B1"].data_type == "s"
    assert workbook["名单"]["F2"].value == "=E2*2"  # formulas are kept
    assert workbook["隐藏"].sheet_state == "hidden"


def test_docx_rewrite_splices_the_edited_text_and_keeps_everything_else() -> None:
    data = docx_bytes(extra={"word/styles.xml": b"<w:styles/>"})
    edits = {
        (0, 0, 0): f"姓名：张三\t身份证号 {masked(ID)}",
        (0, 2, 0): "电话 <已删除> & 核对",
        (0, 3, 0): "原为空段落",
        (0, 4, 0): "第二个空段落",
        (1, 1, 0): "李四\n（**）",  # two lines for two paragraphs: the shape is kept
        (1, 1, 1): f"{masked(ID2)}\n内表",
    }
    new = rewrite(data, "通知.docx", edits)
    after = read(new, "通知.docx").blocks
    for b, block in enumerate(DOCX_BLOCKS):
        assert after[b].label == block.label
        assert after[b].table == block.table
        assert len(after[b].rows) == len(block.rows)
        for r, row in enumerate(block.rows):
            expected = tuple(edits.get((b, r, c), t) for c, t in enumerate(row))
            assert after[b].rows[r] == expected
    with (
        zipfile.ZipFile(io.BytesIO(data)) as old_zip,
        zipfile.ZipFile(io.BytesIO(new)) as new_zip,
    ):
        assert old_zip.namelist() == new_zip.namelist()
        for name in old_zip.namelist():
            if name != "word/document.xml":
                assert new_zip.read(name) == old_zip.read(name)
        xml = new_zip.read("word/document.xml").decode()
    # Namespace declarations and untouched elements are the original bytes.
    assert xml.startswith(DOCUMENT_START)
    assert "<w:tbl><w:tr><w:tc><w:tcPr/><w:p><w:r><w:t>表二</w:t>" in xml
    # The edited paragraph's text is now in its first run, with that run's formatting.
    assert (
        '<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">姓名：张三</w:t><w:tab/>'
        f'<w:t xml:space="preserve">身份证号 {masked(ID)}</w:t></w:r>'
    ) in xml
    assert ID not in xml
    assert ID[6:] not in xml  # the second half had a run of its own


def test_docx_line_break_edits_stay_in_their_paragraph() -> None:
    new = rewrite(docx_bytes(), "x.docx", {(0, 1, 0): "第一行\n插入"})
    rows = read(new, "x.docx").blocks[0].rows
    assert rows[1:4] == (("第一行",), ("插入",), (f"电话 {MOBILE}",))


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("x.pdf", b"%PDF-1.7", "cannot rewrite a PDF"),
        ("x.html", b"<p>1</p>", "cannot rewrite an HTML"),
        ("x.png", PNG, "by eye"),
        ("x.xlsx", b"garbage", "not a valid XLSX"),
    ],
)
def test_what_cannot_be_rewritten(name: str, data: bytes, says: str) -> None:
    result = replace_in_attachment(
        data, name=name, media_type="", edits={(0, 0, 0): "x"}
    )
    assert isinstance(result, Unreadable)
    assert says in result.reason


def test_an_edit_outside_the_text_is_a_caller_bug() -> None:
    data = b"a,b\n"
    with pytest.raises(ValueError, match=r"\(0, 0, 2\)"):
        replace_in_attachment(data, name="x.csv", media_type="", edits={(0, 0, 2): ""})
    unchanged = {(0, 0, 1): "b"}
    assert (
        replace_in_attachment(data, name="x.csv", media_type="", edits=unchanged)
        is data
    )
