"""The guard, sealing and erasure (issue 16) against a careless or hostile operator,
receiver or insider.

The promises under attack: (1) a 身份证号, mobile or bank card number never reaches the
log, the attachment store in clear, an outlet, an output or an error message unless an
override with a basis lets it; (2) a refused command leaves the items log unchanged and
stores no attachment blob; (3) after `erase`, no byte of a sealed attachment's plaintext
is left anywhere syndicate wrote, and `audit verify` still passes; (4) every bad input
gets a clear message naming the field, exit 2 (bad input) or 1 (a refusal), and no
traceback.

Tests marked `xfail(strict=True)` document a promise that does not hold yet (the reason
says what happens); they start to fail the day it is fixed, and then lose the mark.
Generated numbers only (tests/test_pii.py), never real people's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import secrets
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import UUID

import openpyxl
import pytest

from syndicate.application import Disclosures
from syndicate.attachments import PreparedAttachment
from syndicate.domain.content import ItemContent
from syndicate.domain.guard import GuardOverride, GuardRefused
from syndicate.domain.items import ItemStatus
from syndicate.domain.review import ReviewPolicy
from syndicate.errors import DomainError, InputError, SyndicateError
from syndicate.outletset import item_view
from syndicate.project import Project
from syndicate.sealing import KeyStore, unseal
from syndicate.testing import FixedClock, log_snapshot
from syndicate.testing.fakes import toml_table
from tests.clihome import CliHome
from tests.conftest import ITEM_FRONT, content
from tests.test_attachment_text import cell, docx_bytes, pdf_bytes
from tests.test_erasure import sealed_item
from tests.test_pii import make_card, make_id, make_mobile


def _id_without_x(rng: random.Random) -> str:
    """A generated 身份证号 whose check character is a digit (it can be a number)."""
    while True:
        number = make_id(rng)
        if number[-1].isdigit():
            return number


RNG = random.Random(1616)
ID = _id_without_x(RNG)
MOBILE = make_mobile(RNG)
CARD = make_card(RNG)
NUMBERS = (ID, MOBILE, CARD)
FULL_WIDTH = {ord(d): 0xFF10 + int(d) for d in "0123456789"}

PORTAL = "https://www.linxi.gov.cn"
REF = "临溪县农业农村局/11330100MB0000004X/2026-00021"


def canary_list() -> tuple[bytes, str]:
    """A masked 公示 list (it passes the guard) whose row carries a random marker."""
    marker = secrets.token_hex(8)
    text = f"序号,户主,身份证号码\n1,李{marker},330122********1231\n"
    return text.encode("utf-8"), marker


def holding(root: Path, *needles: str) -> list[Path]:
    """Every file under `root` that holds one of `needles` (UTF-8 or UTF-16)."""
    forms = [f(n) for n in needles for f in (str.encode, _utf16)]
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(form in data for form in forms):
                found.append(path)
    return found


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def no_number_in(text: str) -> None:
    for number in NUMBERS:
        assert number not in text, text
        assert number.translate(FULL_WIDTH) not in text, text


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def log(sqlite_project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    with sqlite_project.disclosures(clock=clock) as items:
        yield items


@pytest.fixture
def reviewed(sqlite_project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    """The same log with one review level (审核)."""
    with Disclosures(
        sqlite_project.store.env_for("Disclosures", create_tables=False),
        clock=clock,
        attachments=sqlite_project.attachments,
        review=ReviewPolicy.of([("审核", [])]),
    ) as items:
        yield items


def store_files(project: Project) -> set[Path]:
    """The blobs of the attachment store and the key files beside it."""
    data = project.store.data_dir
    roots = [data / "attachments", data / "sealing-keys"]
    return {p for r in roots if r.is_dir() for p in r.rglob("*") if p.is_file()}


class Home(CliHome):
    """A home on SQLite with a portal outlet, driven through the CLI."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "home")
        self.root = root
        self.ok("init", "--no-review")
        portal = toml_table(
            "portal",
            {
                "kind": "portal",
                "channel": "portal",
                "path": "outlets/portal",
                "site_url": PORTAL,
                "site_name": "临溪县人民政府",
            },
        )
        with (self.home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + portal)
        self.items_dir = root / "items"
        self.items_dir.mkdir()

    def log(self) -> list[tuple[int, str, bytes]]:
        return self.items()

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.items_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, "utf-8")
        return path

    @property
    def portal(self) -> Path:
        return self.home / "outlets" / "portal"

    @property
    def keys(self) -> list[Path]:
        return sorted((self.home / "data" / "sealing-keys").glob("*.key"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def publish_sealed_list(home: Home, **item: str) -> str:
    """Publish the sealed canary list (as `REF`); return its marker."""
    data, marker = canary_list()
    home.write("名单.csv", data)
    home.ok("items", "publish", home.write("list.md", sealed_item(**item)))
    return marker


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _attach(data: bytes, name: str, *, sealed: bool = False) -> PreparedAttachment:
    return PreparedAttachment.from_bytes(data, name=name, sealed=sealed)


def _with(*attachments: PreparedAttachment, **fields: Any) -> ItemContent:
    return content(attachments=[a.meta.model_dump() for a in attachments], **fields)


# == (1) numbers smuggled where the guard may not look ==================================


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", f"关于户主{ID}的公示"),
        ("body", f"户主联系电话：{MOBILE}"),
        ("doc_no", f"临民〔2026〕{MOBILE}号"),
        ("basis", f"《办法》第七条；账户 {CARD}"),
        ("attribute_basis", f"申请人{ID}"),
        ("audience", f"户主{MOBILE}"),
    ],
)
def test_every_field_the_guard_reads_stops_a_number(
    log: Disclosures, field: str, value: str
) -> None:
    before = log_snapshot(log)
    with pytest.raises(GuardRefused, match=f"{field} 第1行") as refused:
        log.publish(content(**{field: value}), actor="张三")
    no_number_in(str(refused.value))
    assert log_snapshot(log) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param(
            "category",
            f"户主{ID}",
        ),
        pytest.param(
            "agency",
            f"临溪县民政局{MOBILE}",
        ),
        pytest.param(
            "index_no",
            ID,
        ),
    ],
)
def test_fields_the_guard_skips_do_not_smuggle_a_number(
    log: Disclosures, field: str, value: str
) -> None:
    before = log_snapshot(log)
    with pytest.raises((GuardRefused, InputError)) as refused:
        log.publish(content(**{field: value}), actor="张三")
    assert field in str(refused.value)
    no_number_in(str(refused.value))
    assert log_snapshot(log) == before


def test_an_attachment_name_does_not_smuggle_a_number(log: Disclosures) -> None:
    clean = _attach(b"a,b\n1,2\n", f"{ID}.csv")
    before = log_snapshot(log)
    with pytest.raises((GuardRefused, InputError)) as refused:
        log.publish(_with(clean), actor="张三", attachments=[clean])
    no_number_in(str(refused.value))
    assert log_snapshot(log) == before


def test_the_actor_name_does_not_smuggle_a_number(log: Disclosures) -> None:
    before = log_snapshot(log)
    with pytest.raises(InputError, match="actor"):
        log.publish(content(), actor=f"张三 {MOBILE}")
    assert log_snapshot(log) == before


# -- text only the log keeps ---------------------------------------------------------------


def test_text_only_the_log_keeps_is_refused_with_the_field_named(
    reviewed: Disclosures,
) -> None:
    change = reviewed.publish(content(), actor="张三")
    item = reviewed.get(change.item_id)
    before = log_snapshot(reviewed)
    attempts: list[tuple[str, Callable[[], object]]] = [
        (
            "comment",
            lambda: reviewed.approve(
                change.item_id,
                level="审核",
                content_hash=item.content_hash,
                actor="李四",
                comment=f"核对 {ID}",
            ),
        ),
        (
            "comment",
            lambda: reviewed.return_to_author(
                change.item_id, comment=f"请致电 {MOBILE}", actor="李四"
            ),
        ),
        (
            "public_note",
            lambda: reviewed.withdraw(
                change.item_id, reason="有误", public_note=f"卡号{CARD}", actor="张三"
            ),
        ),
        (
            "reason",
            lambda: reviewed.withdraw(change.item_id, reason=f"户主{ID}", actor="张三"),
        ),
        (
            "basis",
            lambda: reviewed.publish(
                content(index_no="11330100MB0000006R/2026-00701", body=ID),
                actor="张三",
                override=GuardOverride(f"户主本人 {MOBILE} 同意"),
            ),
        ),
    ]
    for field, attempt in attempts:
        with pytest.raises(InputError) as refused:
            attempt()
        assert [p.field for p in refused.value.problems] == [field]
        no_number_in(str(refused.value))
    assert log_snapshot(reviewed) == before


def _urgent_publish(log: Disclosures, _: UUID) -> object:
    return log.publish(
        content(index_no="11330100MB0000006R/2026-00702"),
        actor="张三",
        urgent=f"户主{MOBILE}急需",
    )


def _urgent_revise(log: Disclosures, item: UUID) -> object:
    return log.revise(
        item,
        content(body="更正后"),
        reason="更正",
        actor="张三",
        urgent=f"户主{MOBILE}急需",
    )


def _urgent_withdraw(log: Disclosures, item: UUID) -> object:
    return log.withdraw(item, reason="撤回", actor="张三", urgent=f"户主{MOBILE}急需")


def _urgent_release(log: Disclosures, item: UUID) -> object:
    # The revision under review is made before the log is snapshot (see the test).
    return log.release_urgently(item, reason=f"户主{MOBILE}急需", actor="张三")


_URGENT_UNCHECKED = (
    "docs/personal-data.md says an urgent reason holding a number is refused (exit 2), "
    "but Disclosures.publish_many/revise/withdraw/release_urgently only check_line() "
    "it: the number is stored in UrgentlyReleased"
)


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(f)
        for f in (_urgent_publish, _urgent_revise, _urgent_withdraw, _urgent_release)
    ],
)
def test_an_urgent_reason_never_carries_a_number(
    reviewed: Disclosures, attempt: Callable[[Disclosures, UUID], object]
) -> None:
    change = reviewed.publish(content(), actor="张三")
    reviewed.approve(
        change.item_id,
        level="审核",
        content_hash=reviewed.get(change.item_id).content_hash,
        actor="李四",
    )
    if attempt is _urgent_release:  # a version under review to release
        reviewed.revise(
            change.item_id, content(body="更正后"), reason="更正", actor="张三"
        )
    before = log_snapshot(reviewed)
    with pytest.raises(InputError, match=r"urgent|reason") as refused:
        attempt(reviewed, change.item_id)
    no_number_in(str(refused.value))
    assert log_snapshot(reviewed) == before


def test_a_correction_note_with_a_number_needs_a_basis_and_records_where(
    log: Disclosures,
) -> None:
    change = log.publish(content(), actor="张三")
    before = log_snapshot(log)
    with pytest.raises(GuardRefused, match="reason 第1行 第5列") as refused:
        log.revise(
            change.item_id, content(body="更正后"), reason=f"更正户主{ID}", actor="张三"
        )
    no_number_in(str(refused.value))
    assert log_snapshot(log) == before
    log.revise(
        change.item_id,
        content(body="更正后"),
        reason=f"更正户主{ID}",
        actor="张三",
        override=GuardOverride("《办法》第七条 依法公示"),
    )
    [record] = log.get(change.item_id).overrides
    assert record.reason == "《办法》第七条 依法公示"
    [(_, _, state)] = [e for e in log_snapshot(log) if e[1].endswith("Overridden")]
    assert "reason 第1行 第5列 身份证号" in state.decode()
    assert ID not in state.decode()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["withdraw", REF, "--reason", f"户主{ID}"], "--reason"),
        (["erase", REF, "--reason", "公示期满", "--note", f"请致电{MOBILE}"], "--note"),
        (["erase", REF, "--reason", f"卡号{CARD}"], "--reason"),
        pytest.param(
            ["withdraw", REF, "--reason", "有误", "--note", f"户主{ID}"],
            "--note",
        ),
    ],
)
def test_free_text_with_a_number_names_the_option_typed(
    home: Home, args: list[str], option: str
) -> None:
    publish_sealed_list(home)
    before = home.log()
    result = home("items", *args)
    assert result.exit_code == 2, result.output
    assert f"error: {option}: 第1行" in result.output
    no_number_in(result.output)
    assert home.log() == before


def test_an_id_typed_as_a_ref_is_not_echoed(home: Home) -> None:
    for args in (
        ["items", "show", ID],
        ["items", "erase", f"临溪县民政局/{ID}", "--reason", "公示期满"],
    ):
        result = home(*args)
        assert result.exit_code in (1, 2)
        no_number_in(result.output)


def test_a_review_level_with_a_number_is_not_echoed(reviewed: Disclosures) -> None:
    change = reviewed.publish(content(), actor="张三")
    with pytest.raises(SyndicateError) as refused:
        reviewed.approve(
            change.item_id,
            level=f"审核{MOBILE}",
            content_hash=reviewed.get(change.item_id).content_hash,
            actor="李四",
        )
    no_number_in(str(refused.value))


# -- numbers inside attachments -------------------------------------------------------------


def _xlsx(
    *rows: list[Any], comment: str | None = None, hidden: list[Any] | None = None
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if hidden is not None:  # a second sheet, hidden from whoever opens the file
        other = workbook.create_sheet("底稿")
        other.append(hidden)
        other.sheet_state = "hidden"
    if comment is not None:
        from openpyxl.comments import Comment

        sheet["A1"].comment = Comment(comment, "经办人")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _zip(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


_ODS = {
    "mimetype": "application/vnd.oasis.opendocument.spreadsheet",
    "content.xml": '<office:document-content xmlns:office="urn:oasis:names:tc:'
    f'opendocument:xmlns:office:1.0"><t>{ID}</t></office:document-content>',
}
_DOCX_TABLE = (
    f"<w:tbl><w:tr>{cell('户主')}{cell('身份证号')}</w:tr>"
    f"<w:tr>{cell('张某')}{cell(ID)}</w:tr></w:tbl><w:sectPr/>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_with(part: str, xml: str) -> bytes:
    return docx_bytes(
        "<w:p><w:r><w:t>正文</w:t></w:r></w:p><w:sectPr/>",
        extra={part: xml.encode("utf-8")},
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "split.xlsx",
            _xlsx(["序号", "身份证号码（前6位）", "（后12位）"], [1, ID[:6], ID[6:]]),
        ),
        ("hidden.xlsx", _xlsx(["序号", "户主"], hidden=["", "", "", "", "", MOBILE])),
        ("full-width.csv", _csv([["序号", "身份证"], ["1", ID.translate(FULL_WIDTH)]])),
        ("table.docx", docx_bytes(_DOCX_TABLE)),
        (
            "gbk.csv",
            _csv([["序号", "户主", "身份证号码"], ["1", "张某", ID]], "gb18030"),
        ),
        (
            "utf16.csv",
            b"\xff\xfe" + f"序号\t电话\r\n1\t{MOBILE}\r\n".encode("utf-16-le"),
        ),
        ("bom-crlf.csv", b"\xef\xbb\xbf" + f"序号,卡号\r\n1,{CARD}\r\n".encode()),
        ("list.html", f"<table><tr><td>张某</td><td>{ID}</td></tr></table>".encode()),
        (
            "entities.html",
            ("<p>" + "".join(f"&#{ord(c)};" for c in ID) + "</p>").encode(),
        ),
        ("公示.pdf", pdf_bytes(f"<p>户主 张某</p><p>身份证号 {ID}</p>")),
        ("renamed.txt", f"1,{ID}\n".encode()),
    ],
)
def test_numbers_hidden_in_attachments_are_found(
    log: Disclosures, sqlite_project: Project, name: str, data: bytes
) -> None:
    attachment = _attach(data, name)
    report = log.check(_with(attachment), [attachment])
    assert report.blocks
    assert any(f.kind.personal for f in report.findings), report.lines()
    before, blobs = log_snapshot(log), store_files(sqlite_project)
    with pytest.raises(GuardRefused, match="attachments\\[0\\]") as refused:
        log.publish(_with(attachment), actor="张三", attachments=[attachment])
    no_number_in(str(refused.value))
    no_number_in(json.dumps(refused.value.report.as_json(), ensure_ascii=False))
    assert log_snapshot(log) == before
    assert store_files(sqlite_project) == blobs


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("zip-renamed.xlsx", _zip({"名单.csv": f"1,{ID}\n"})),
        ("ods-renamed.xlsx", _zip(_ODS)),
        ("odt-renamed.docx", _zip(_ODS)),
        ("xlsx-renamed.csv", _xlsx([ID])),
        ("pdf-renamed.txt", pdf_bytes(f"<p>{ID}</p>")),
        ("utf16-without-bom.csv", f"1,{ID}\n".encode("utf-16-le")),
        ("no-extension", f"1,{ID}\n".encode()),
    ],
)
def test_files_in_disguise_are_unchecked_never_clean(
    log: Disclosures, name: str, data: bytes
) -> None:
    attachment = _attach(data, name)
    report = log.check(_with(attachment), [attachment])
    assert report.unchecked, report.lines()
    assert report.blocks
    no_number_in("\n".join(report.lines()))


_MISSED = (
    "the guard reports the attachment clean, and it is published with the number: "
)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "number.xlsx",
            _xlsx([int(ID)]),
            marks=pytest.mark.xfail(
                strict=True,
                reason=_MISSED + "an ID typed into a number cell is stored as a float "
                "(8.1000019…e+17, Excel keeps 15 digits); _cell_text gives the rounded "
                "digits, whose check digit fails. Region, birth date and most of the "
                "sequence are still there (documented as not detected)",
            ),
        ),
        pytest.param(
            "three-cells.xlsx",
            _xlsx([1, ID[:6], ID[6:14], ID[14:]]),
            marks=pytest.mark.xfail(
                strict=True,
                reason=_MISSED
                + "check_blocks joins only two neighbouring cells; an ID "
                "in three (地址码 | 出生日期码 | 顺序码+校验码) is missed",
            ),
        ),
        pytest.param(
            "split.html",
            f"<table><tr><td>{ID[:6]}</td><td>{ID[6:]}</td></tr></table>".encode(),
        ),
        pytest.param(
            "tel.html",
            f'<p><a href="tel:{MOBILE}">联系村委会</a></p>'.encode(),
        ),
    ],
)
def test_numbers_the_guard_misses_in_attachments(
    log: Disclosures, name: str, data: bytes
) -> None:
    attachment = _attach(data, name)
    assert log.check(_with(attachment), [attachment]).blocks


_UNREAD = (
    "documented as not read, but then reported clean (not unchecked), although the "
    "part is published with the file: "
)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "footer.docx",
            _docx_with(
                "word/footer1.xml",
                f'<w:ftr xmlns:w="{_W}"><w:p><w:r><w:t>{ID}</w:t></w:r></w:p></w:ftr>',
            ),
        ),
        pytest.param(
            "comments.docx",
            _docx_with(
                "word/comments.xml",
                f'<w:comments xmlns:w="{_W}"><w:comment w:id="0"><w:p><w:r>'
                f"<w:t>{MOBILE}</w:t></w:r></w:p></w:comment></w:comments>",
            ),
        ),
        pytest.param(
            "tracked.docx",
            docx_bytes(
                '<w:p><w:del w:id="1" w:author="经办人"><w:r>'
                f"<w:delText>{ID}</w:delText></w:r></w:del></w:p><w:sectPr/>"
            ),
        ),
        pytest.param(
            "comment.xlsx",
            _xlsx(["名单"], comment=f"户主 {ID}"),
        ),
    ],
)
def test_parts_the_guard_cannot_read_are_not_called_clean(
    log: Disclosures, name: str, data: bytes
) -> None:
    attachment = _attach(data, name)
    report = log.check(_with(attachment), [attachment])
    assert not report.clean


# == overrides =============================================================================


@pytest.mark.parametrize(
    "basis",
    [
        "   ",
        "依" * 10_000,
        "《办法》\x1b[31m第七条",
        "《办法》\n第七条",
        "《办法》\x00",
    ],
)
def test_a_bad_basis_on_the_command_line_is_bad_input(home: Home, basis: str) -> None:
    folder = home.items_dir / "pii"
    folder.mkdir()
    (folder / "list.md").write_text(
        f"+++\n{ITEM_FRONT}+++\n户主身份证号 {ID}\n", "utf-8"
    )
    before = home.log()
    result = home(
        "items", "publish", folder / "list.md", "--allow-pii", "--basis", basis
    )
    assert result.exit_code == 2, result.output
    assert "--basis" in result.output
    assert "\x1b" not in result.output
    no_number_in(result.output)
    assert home.log() == before


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (GuardOverride(None), "basis"),  # type: ignore[arg-type]
        pytest.param(
            GuardOverride(123),  # type: ignore[arg-type]
            "basis",
        ),
        (GuardOverride(""), "basis"),
        (GuardOverride("依法", pii=False, wording=False), "override"),
        ({"basis": "依法", "pii": True}, "override"),
    ],
)
def test_library_overrides_of_the_wrong_shape_are_bad_input(
    log: Disclosures, override: Any, field: str
) -> None:
    before = log_snapshot(log)
    with pytest.raises(InputError) as refused:
        log.publish(content(body=ID), actor="张三", override=override)
    assert [p.field for p in refused.value.problems] == [field]
    assert log_snapshot(log) == before


def test_an_override_flag_that_is_not_a_bool_is_refused(log: Disclosures) -> None:
    before = log_snapshot(log)
    with pytest.raises((InputError, GuardRefused)):
        log.publish(
            content(body=f"户主 {ID}"),
            actor="张三",
            override=GuardOverride("依法", pii="no"),  # type: ignore[arg-type]
        )
    assert log_snapshot(log) == before


def test_an_override_of_a_clean_revision_records_nothing(home: Home) -> None:
    home.ok("items", "publish", home.write("a.md", f"+++\n{ITEM_FRONT}+++\n正文\n"))
    revised = home.write("b.md", f"+++\n{ITEM_FRONT}+++\n正文（更正）\n")
    home.ok(
        "items",
        "revise",
        "临溪县民政局/11330100MB0000006R/2026-00019",
        revised,
        "--reason",
        "更正",
        "--allow-pii",
        "--allow-wording",
        "--basis",
        "以防万一",
    )
    assert not [e for e in home.log() if e[1].endswith("GuardOverridden")]


# == sealing ===============================================================================


@pytest.mark.parametrize("value", ['"yes"', "1", '"true"', "[true]"])
def test_sealed_must_be_true_or_false(home: Home, value: str) -> None:
    data, _ = canary_list()
    home.write("名单.csv", data)
    result = home("items", "publish", home.write("list.md", sealed_item(sealed=value)))
    assert result.exit_code == 2, result.output
    assert "attachments[0].sealed: must be true or false" in result.output
    assert home.log() == []
    assert not home.keys


def test_a_sealed_and_a_plain_attachment_cannot_share_a_name(home: Home) -> None:
    data, marker = canary_list()
    home.write("名单.csv", data)
    home.write("副本.csv", data)
    text = sealed_item().replace(
        "sealed = true }]",
        'sealed = true }, { path = "副本.csv", name = "柳塘村补贴名单.csv" }]',
    )
    result = home("items", "publish", home.write("list.md", text))
    assert result.exit_code == 2, result.output
    assert "two attachments have the same name" in result.output
    assert home.log() == []
    assert not holding(home.home, marker)


def test_a_revision_names_a_sealed_file_by_its_sealed_digest_and_is_checked(
    log: Disclosures,
) -> None:
    listed = _attach(
        _csv([["户主", "身份证号码"], ["张某", ID]]), "名单.csv", sealed=True
    )
    change = log.publish(
        _with(listed),
        actor="张三",
        attachments=[listed],
        override=GuardOverride("《失信被执行人名单信息公布办法》第七条"),
    )
    stored = log.get(change.item_id).content
    [meta] = stored.attachments
    assert meta.sealed
    assert meta.sha256 != listed.meta.sha256
    revision = stored.model_copy(update={"body": "更正后的说明"})
    before = log_snapshot(log)
    # No file given: the guard opens the stored blob and finds the ID again.
    with pytest.raises(GuardRefused, match="attachments\\[0\\] 第2行 第2列"):
        log.revise(change.item_id, revision, reason="更正说明", actor="张三")
    assert log_snapshot(log) == before
    revised = log.revise(
        change.item_id,
        revision,
        reason="更正说明",
        actor="张三",
        override=GuardOverride("《失信被执行人名单信息公布办法》第七条"),
    )
    assert revised.version == 4  # v1-2 overridden and published, v3-4 the same


def test_two_items_sealing_one_list_get_blobs_only_their_own_key_opens(
    log: Disclosures, sqlite_project: Project
) -> None:
    data, marker = canary_list()
    first, second = (
        log.publish(
            _with(_attach(data, "名单.csv", sealed=True), index_no=index_no),
            actor="张三",
            attachments=[_attach(data, "名单.csv", sealed=True)],
        )
        for index_no in (
            "11330100MB0000006R/2026-00801",
            "11330100MB0000006R/2026-00802",
        )
    )
    keys = KeyStore.beside(sqlite_project.attachments.root)
    blobs = {}
    for change in (first, second):
        [meta] = log.get(change.item_id).content.attachments
        blobs[change.item_id] = sqlite_project.attachments.path_of(meta.sha256)
    assert len(set(blobs.values())) == 2
    key_a, key_b = keys.get(first.item_id), keys.get(second.item_id)
    assert key_a is not None
    assert key_b is not None
    assert key_a != key_b
    assert unseal(key_a, first.item_id, blobs[first.item_id].read_bytes()) == data
    for key, item, blob in (
        (key_a, first.item_id, blobs[second.item_id]),
        (key_b, second.item_id, blobs[first.item_id]),
        (key_a, second.item_id, blobs[first.item_id]),
    ):
        with pytest.raises(ValueError, match=r"does not open|not a sealed"):
            unseal(key, item, blob.read_bytes())
    assert not holding(sqlite_project.store.data_dir, marker)


def test_a_key_removed_by_hand_fails_the_portal_delivery_saying_why(home: Home) -> None:
    marker = publish_sealed_list(home)
    [key] = home.keys
    key.unlink()
    result = home("sync")
    assert result.exit_code == 1
    status = home.ok("status", "--json").stdout
    assert "PermanentDeliveryError" in status
    assert "key" in status
    assert not holding(home.portal, marker)
    assert not holding(home.portal, "[erased]")  # nothing published in its place
    home.ok("audit", "verify")


def test_a_damaged_key_fails_the_portal_delivery_saying_why(home: Home) -> None:
    marker = publish_sealed_list(home)
    [key] = home.keys
    key.write_bytes(b"short")
    assert home("sync").exit_code == 1
    status = home.ok("status", "--json").stdout
    assert "damaged" in status
    assert not holding(home.portal, marker)


def test_a_damaged_key_is_a_clear_error_on_revise(home: Home) -> None:
    publish_sealed_list(home)
    [key] = home.keys
    key.write_bytes(b"short")
    before = home.log()
    result = home(
        "items",
        "revise",
        REF,
        home.write("list.md", sealed_item(body="更正后的说明")),
        "--reason",
        "更正",
    )
    assert result.exit_code in (1, 2)
    assert "damaged" in result.output
    assert home.log() == before


def test_a_blob_swapped_between_items_never_opens(home: Home) -> None:
    marker_a = publish_sealed_list(home)
    store = home.home / "data" / "attachments"
    [blob_a] = [p for p in store.rglob("*") if p.is_file()]
    data_b, marker_b = canary_list()
    home.write("b/名单.csv", data_b)
    home.ok(
        "items",
        "publish",
        home.write("b/list.md", sealed_item().replace("2026-00021", "2026-00022")),
    )
    [blob_b] = [p for p in store.rglob("*") if p.is_file() and p != blob_a]
    blob_b.write_bytes(blob_a.read_bytes())  # an insider swaps the files
    assert home("sync").exit_code == 1
    rows = json.loads(home.ok("status", "--json").stdout)
    failed = [r for r in rows if r["state"] == "failed"]
    assert [r["ref"] for r in failed] == [REF.replace("2026-00021", "2026-00022")]
    assert "does not match its sha256" in failed[0]["last_error"]
    # A's list is on the portal once, under A; never under B's name.
    assert len(holding(home.portal, marker_a)) == 1
    assert not holding(home.portal, marker_b)


def test_a_file_marked_sealed_is_never_stored_in_clear(
    log: Disclosures, sqlite_project: Project
) -> None:
    data, marker = canary_list()
    plain = _attach(data, "名单.csv")  # the caller forgot sealed=True here…
    marked = content(
        attachments=[plain.meta.model_dump() | {"sealed": True}]
    )  # …not here
    try:
        change = log.publish(marked, actor="张三", attachments=[plain])
    except InputError:
        assert log_snapshot(log) == []
    else:
        log.erase(change.item_id, reason="公示期满", actor="王五")
    assert not holding(sqlite_project.store.data_dir, marker)


def test_a_file_the_content_does_not_name_is_not_stored(
    log: Disclosures, sqlite_project: Project
) -> None:
    stray = _attach(_csv([["户主", "身份证号码"], ["张某", ID]]), "名单.csv")
    with contextlib.suppress(InputError, GuardRefused):
        log.publish(content(), actor="张三", attachments=[stray])
    assert not holding(sqlite_project.store.data_dir, ID)


def _again(log: Disclosures, item: UUID) -> Callable[[], object]:
    extra = _attach(b"a,b\n1,2\n", "补充.csv")
    return lambda: log.publish(_with(extra), actor="张三", attachments=[extra])


def _again_sealed(log: Disclosures, item: UUID) -> Callable[[], object]:
    extra = _attach(b"a,b\n1,3\n", "补充.csv", sealed=True)
    return lambda: log.publish(_with(extra), actor="张三", attachments=[extra])


def _moved(log: Disclosures, item: UUID) -> Callable[[], object]:
    extra = _attach(b"a,b\n1,4\n", "补充.csv")
    other = _with(extra, index_no="11330100MB0000006R/2026-00999")
    return lambda: log.revise(
        item, other, reason="更正", actor="张三", attachments=[extra]
    )


def _withdrawn(log: Disclosures, item: UUID) -> Callable[[], object]:
    log.withdraw(item, reason="撤回", actor="张三")
    extra = _attach(b"a,b\n1,5\n", "补充.csv")
    return lambda: log.revise(
        item, _with(extra), reason="补充", actor="张三", attachments=[extra]
    )


_LEFT_BEHIND = (
    "refused after Disclosures._store_attachments ran (publish: AlreadyPublished "
    "from the IntegrityError path; revise: the aggregate's own refusal): the log is "
    "unchanged but the blob (and for a sealed file, the new key) stays"
)


@pytest.mark.parametrize(
    "refusal",
    [pytest.param(f) for f in (_again, _again_sealed, _moved, _withdrawn)],
)
def test_a_refused_command_stores_no_blob_and_no_key(
    log: Disclosures,
    sqlite_project: Project,
    refusal: Callable[[Disclosures, UUID], Callable[[], object]],
) -> None:
    change = log.publish(content(), actor="张三")
    attempt = refusal(log, change.item_id)
    before, files = log_snapshot(log), store_files(sqlite_project)
    with pytest.raises(SyndicateError):
        attempt()
    assert log_snapshot(log) == before
    assert store_files(sqlite_project) == files


def test_refusals_before_storing_leave_nothing(
    log: Disclosures, sqlite_project: Project
) -> None:
    listed = _attach(
        _csv([["户主", "电话"], ["张某", MOBILE]]), "名单.csv", sealed=True
    )
    before, files = log_snapshot(log), store_files(sqlite_project)
    with pytest.raises(GuardRefused):
        log.publish(_with(listed), actor="张三", attachments=[listed])
    with pytest.raises(InputError, match="urgent"):
        log.publish(_with(listed), actor="张三", attachments=[listed], urgent="急")
    assert log_snapshot(log) == before
    assert store_files(sqlite_project) == files  # no blob, no key


def test_a_dry_run_of_a_published_sealed_item_agrees_with_the_real_run(
    home: Home,
) -> None:
    publish_sealed_list(home)
    path = home.items_dir / "list.md"
    real = home("items", "publish", path)
    assert real.exit_code == 0
    assert "identical" in real.output
    dry = home("items", "publish", "--dry-run", path)
    assert dry.exit_code == 0, dry.output
    assert "identical" in dry.output


# == erasure ===============================================================================


def test_erasure_covers_a_sealed_file_a_later_revision_removed(
    log: Disclosures, sqlite_project: Project
) -> None:
    data, marker = canary_list()
    listed = _attach(data, "名单.csv", sealed=True)
    change = log.publish(_with(listed), actor="张三", attachments=[listed])
    [meta] = log.get(change.item_id).content.attachments
    log.revise(
        change.item_id, content(body="名单已撤下"), reason="撤下名单", actor="张三"
    )
    erased = log.erase(change.item_id, reason="公示期满", actor="王五")
    assert erased.event == "Erased"
    keys = KeyStore.beside(sqlite_project.attachments.root)
    assert keys.get(change.item_id) is None
    blob = sqlite_project.attachments.path_of(meta.sha256)
    assert blob.is_file()  # kept, unreadable
    assert not holding(sqlite_project.store.data_dir, marker)
    item = log.get(change.item_id)
    assert item.erasure is not None
    assert "名单.csv" in item.erasure.parts[0]


def test_erase_twice_withdrawn_revised_and_withdrawn_again(
    log: Disclosures, sqlite_project: Project
) -> None:
    data, marker = canary_list()
    listed = _attach(data, "名单.csv", sealed=True)

    def publish(index_no: str) -> UUID:
        return log.publish(
            _with(listed, index_no=index_no), actor="张三", attachments=[listed]
        ).item_id

    # Erase a withdrawn item: allowed, and outlets keep showing it as withdrawn.
    withdrawn = publish("11330100MB0000006R/2026-00811")
    log.withdraw(withdrawn, reason="有误", actor="张三")
    log.erase(withdrawn, reason="公示期满", actor="王五")
    view = item_view(log.get(withdrawn))
    assert view.withdrawn
    before = log_snapshot(log)
    with pytest.raises(DomainError, match="erased already"):
        log.erase(withdrawn, reason="公示期满", actor="王五")
    assert log_snapshot(log) == before

    # Erase, then revise (no sealed part) and withdraw: the statement stays.
    item = publish("11330100MB0000006R/2026-00812")
    log.erase(item, reason="公示期满", actor="王五")
    revised = content(index_no="11330100MB0000006R/2026-00812", body="说明已更正")
    log.revise(item, revised, reason="更正", actor="张三")
    view = item_view(log.get(item))
    assert "个人信息已按规定删除" in view.content.body
    assert not view.content.attachments
    log.withdraw(item, reason="撤回", actor="张三")
    assert log.get(item).status is ItemStatus.WITHDRAWN
    assert not holding(sqlite_project.store.data_dir, marker)


def test_erase_due_waits_until_the_day_after_the_period(
    log: Disclosures, clock: FixedClock
) -> None:
    today = clock().date().isoformat()  # 2026-10-09 in China too (09:30)
    listed = _attach(b"a,b\n1,2\n", "名单.csv", sealed=True)
    change = log.publish(
        _with(listed, notice_period={"start": "2026-10-01", "end": today}),
        actor="张三",
        attachments=[listed],
        late_reason="补录",
    )
    assert log.erase_due(after_days=0) == []  # the period ends today
    clock.advance(days=1)
    [erased] = log.erase_due(after_days=0)
    assert erased.item_id == change.item_id
    assert log.erase_due(after_days=0) == []


def test_erase_with_a_stale_version_is_a_refusal(home: Home) -> None:
    publish_sealed_list(home)
    before = home.log()
    result = home("items", "erase", REF, "--reason", "公示期满", "--if-version", "7")
    assert result.exit_code == 1
    assert "is at version 1, not 7" in result.output
    assert home.log() == before
    assert home.keys
    for args, field in (
        (["--if-version", "0"], "--if-version"),
        (["--note", "x" * 3000], "--note"),
        (["--reason", "   "], "--reason"),
    ):
        bad = home("items", "erase", REF, "--reason", "公示期满", *args)
        assert bad.exit_code == 2, bad.output
        assert field in bad.output
    assert home.log() == before


def test_after_erasure_no_output_holds_the_list_and_the_audit_verifies(
    home: Home,
) -> None:
    marker = publish_sealed_list(home)
    home.ok("sync")
    assert holding(home.portal, marker)
    home.ok("audit", "checkpoint")
    erased = home.ok("items", "erase", REF, "--reason", "公示期满", "--json")
    assert json.loads(erased.stdout)["event"] == "Erased"
    home.ok("sync")
    for args in (
        ["items", "show", REF],
        ["items", "show", REF, "--json"],
        ["items", "show", REF, "--version", "1", "--json"],
        ["log", "--json"],
        ["audit", "trail", REF],
        ["status", "--json"],
    ):
        home.ok(*args)
    home.ok("audit", "checkpoint")
    verified = home.ok("audit", "verify")
    assert "FAIL" not in verified.output
    assert not holding(home.home, marker)
    assert not any(marker in output.output for output in home.outputs)


def test_a_returned_revision_does_not_block_erasure_for_ever(
    reviewed: Disclosures, clock: FixedClock
) -> None:
    listed = _attach(b"a,b\n1,2\n", "名单.csv", sealed=True)
    change = reviewed.publish(
        _with(listed, notice_period={"start": "2026-10-01", "end": "2026-10-08"}),
        actor="张三",
        attachments=[listed],
        late_reason="补录",
    )
    reviewed.approve(
        change.item_id,
        level="审核",
        content_hash=reviewed.get(change.item_id).content_hash,
        actor="李四",
    )
    released = reviewed.get(change.item_id).content
    reviewed.revise(
        change.item_id,
        released.model_copy(update={"body": "更正"}),
        reason="更正",
        actor="张三",
    )
    reviewed.return_to_author(change.item_id, comment="不必更正", actor="李四")
    clock.advance(days=60)
    erased = reviewed.erase_due(after_days=30)
    assert [c.item_id for c in erased] == [change.item_id]


def test_erasing_an_item_with_a_long_body_takes_the_list_off_the_portal(
    home: Home,
) -> None:
    marker = publish_sealed_list(home, body="公示。" * 333_333)
    home.ok("sync")
    home.ok("items", "erase", REF, "--reason", "公示期满")
    home.ok("sync")
    assert not holding(home.portal, marker)


# == items check ===========================================================================


class _Timeout(Exception):
    pass


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail (instead of hanging) if a command blocks on a FIFO."""

    def ring(signum: int, frame: FrameType | None) -> None:
        raise _Timeout("blocked: a FIFO was opened?")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_items_check_takes_odd_folders_in_its_stride(
    home: Home, tmp_path: Path, alarm: None
) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.csv")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "bom.csv").write_bytes(
        b"\xef\xbb\xbf" + f"序号,身份证\r\n1,{ID}\r\n".encode()
    )
    (folder / "one-line.txt").write_bytes(("公示" * 1_500_000 + f" {MOBILE}").encode())
    result = home("items", "check", folder)
    assert result.exit_code == 1, result.output
    assert "bom.csv: blocks publishing" in result.output
    assert "one-line.txt: blocks publishing" in result.output
    assert "file 第2行 第2列: 身份证号" in result.output
    assert "empty.csv" not in result.stdout  # clean
    no_number_in(result.output)
    data = json.loads(home("items", "check", folder, "--json").stdout)
    names = {Path(d["file"]).name for d in data}
    assert names >= {"empty.csv", "bom.csv", "one-line.txt"}
    assert "pipe.csv" not in names
    no_number_in(json.dumps(data, ensure_ascii=False))


def test_fix_keeps_a_bom_and_crlf_and_never_writes_over_the_folder(
    home: Home, tmp_path: Path
) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    original = b"\xef\xbb\xbf" + f"序号,身份证\r\n1,{ID}\r\n".encode()
    (folder / "名单.csv").write_bytes(original)
    same = home("items", "check", folder, "--fix", folder)
    assert same.exit_code == 2
    assert "--fix" in same.output
    also_same = home("items", "check", folder / "名单.csv", "--fix", folder)
    assert also_same.exit_code == 2
    assert (folder / "名单.csv").read_bytes() == original
    inside = folder / "masked"
    fixed = home("items", "check", folder, "--fix", inside)
    assert fixed.exit_code == 1
    assert (folder / "名单.csv").read_bytes() == original
    masked = (inside / "名单.csv").read_bytes()
    assert masked.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in masked
    assert ID.encode() not in masked
    assert f"{ID[:6]}{'*' * 8}{ID[-4:]}".encode() in masked
    assert sorted(p.name for p in folder.rglob("*")) == [
        "masked",
        "名单.csv",
        "名单.csv",
    ]


def test_fix_never_writes_outside_out(home: Home, tmp_path: Path) -> None:
    folder = tmp_path / "items"
    (folder / "att").mkdir(parents=True)
    original = _csv([["序号", "身份证"], ["1", ID]])
    (folder / "att" / "名单.csv").write_bytes(original)
    (folder / "list.md").write_text(
        f'+++\n{ITEM_FRONT}attachments = ["{folder}/att/名单.csv"]\n+++\n正文\n',
        "utf-8",
    )
    out = tmp_path / "out"
    home("items", "check", folder, "--fix", out)
    assert (folder / "att" / "名单.csv").read_bytes() == original


def test_fix_into_a_file_is_bad_input(home: Home, tmp_path: Path) -> None:
    (tmp_path / "名单.csv").write_bytes(_csv([["1", ID]]))
    (tmp_path / "out").write_text("not a folder")
    result = home("items", "check", tmp_path / "名单.csv", "--fix", tmp_path / "out")
    assert result.exit_code == 2
    assert "--fix" in result.output


def test_a_fifo_named_directly_is_not_called_missing(
    home: Home, tmp_path: Path, alarm: None
) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    result = home("items", "check", tmp_path / "pipe.csv")
    assert result.exit_code == 2
    assert "not a regular file" in result.output


def test_an_unreadable_file_is_unchecked(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "名单.csv"
    locked.write_bytes(_csv([["1", ID]]))
    # A file its reader may not open (as root, chmod 0 does not stop a read: the
    # refusal is made where it would come from, the read).
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = home("items", "check", locked)
    assert result.exit_code == 1
    assert "unchecked" in result.output
