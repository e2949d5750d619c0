"""The noticeboard adapter: reproducible A4 sheets (PDF) for a 政务公开栏, written to a folder.

Renders are shared within the module (WeasyPrint takes a few hundred milliseconds each).
Golden files: `tests/golden/noticeboard/`; regenerate them after an intended change with
`SYNDICATE_UPDATE_GOLDEN=1 pytest tests/adapters/test_noticeboard.py`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pypdf
import pytest
import requests
from pydantic import ValidationError
from syndicate_adapters.noticeboard import (
    NoticeboardAdapter,
    NoticeboardSettings,
    body_html,
    item_url,
    qr_code,
    sheet_html,
    sheet_name,
)

from syndicate import adapterkit
from syndicate.adapter import DeliveryJob, Rendition
from syndicate.domain.content import NoticePeriod
from syndicate.domain.items import VersionRecord
from syndicate.errors import PermanentDeliveryError, TransientDeliveryError
from syndicate.testing import AdapterContract, sample_jobs
from tests.conftest import content

SITE = "https://www.linxi.gov.cn"
SETTINGS: dict[str, Any] = {
    "path": "unused-sheets",
    "portal_url": SITE,
    "board_name": "临溪村村务公开栏",
    "contact": "0571-12345678",
}
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "noticeboard"
A4 = (595.28, 841.89)  # points


class TestNoticeboardContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = NoticeboardAdapter
    settings: ClassVar[dict[str, Any]] = SETTINGS
    network: ClassVar[bool] = False

    def jobs(self) -> list[DeliveryJob]:
        # The operations the planner gives this outlet (it cannot edit in place, it can
        # retract): post, correction, retract, each after the earlier sheet was posted.
        # `update` and `withdrawal_notice` render the same kinds of sheet (see the
        # golden files).
        published, _, correction, retract, _ = posted_jobs()
        return [published, correction, retract]


def make(path: Path | str = "unused-sheets", **overrides: Any) -> NoticeboardAdapter:
    return NoticeboardAdapter(
        NoticeboardSettings.model_validate({**SETTINGS, "path": path, **overrides})
    )


def posted_receipt(version: int) -> dict[str, str]:
    """The receipt of a sheet of the sample item that a person put up (attested)."""
    name = f"11330100MB0000006R_2026-00019-383741f6-v{version}-post.pdf"
    return {"remote_id": f"sheets/{name}", "file": name, "sheet": "post"}


def posted_jobs() -> list[DeliveryJob]:
    """The sample jobs, each version after the first following a posted sheet."""
    return [
        replace(job, previous=(posted_receipt(1),)) if job.item.version > 1 else job
        for job in sample_jobs()
    ]


def posted_job() -> DeliveryJob:
    """The sample item with a 公示期, as a first posting."""
    job = sample_jobs()[0]
    period = NoticePeriod(start=date(2026, 4, 11), end=date(2026, 4, 25))
    c = job.item.content.model_copy(update={"notice_period": period})
    return replace(job, item=replace(job.item, content=c))


def revised_job() -> DeliveryJob:
    """The sample correction after version 1 was posted, with the history a real item
    carries."""
    job = posted_jobs()[2]
    at = job.item.published_at
    history = (
        VersionRecord(1, "Published", at, "t", job.item.content_hash, None),
        VersionRecord(
            2, "Revised", job.item.updated_at, "t", job.item.content_hash, "更正人数"
        ),
    )
    return replace(job, item=replace(job.item, history=history))


def _sample(index: int) -> Callable[[], DeliveryJob]:
    return lambda: sample_jobs()[index]


def long_job(paragraphs: int) -> DeliveryJob:
    """The sample posting with a body long enough to need a second page."""
    job = sample_jobs()[0]
    body = "\n\n".join(
        f"第{n}条　" + "村民代表会议评议结果在村务公开栏张贴公示，接受群众监督。" * 3
        for n in range(1, paragraphs + 1)
    )
    c = job.item.content.model_copy(update={"body": body})
    return replace(job, item=replace(job.item, content=c))


_JOBS: dict[str, Callable[[], DeliveryJob]] = {
    "sample": _sample(0),
    "posted": posted_job,
    "revised": revised_job,
    "withdrawn": lambda: posted_jobs()[3],
}


@functools.cache
def rendered(name: str) -> Rendition:
    """One render per job for the whole module."""
    rendition: Rendition = make().render(_JOBS[name]())
    return rendition


def text_of(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """Extracted text without the line breaks and spaces layout puts in."""
    return re.sub(r"\s+", "", text)


# -- what is on a sheet ------------------------------------------------------------------


def test_a_posting_is_one_a4_page_with_the_items_facts() -> None:
    job = posted_job()
    rendition = rendered("posted")
    assert rendition.media_type == "application/pdf"
    assert rendition.meta["file"].endswith("-v1-post.pdf")
    reader = pypdf.PdfReader(io.BytesIO(rendition.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4[0]) < 1
    assert abs(float(box.height) - A4[1]) < 1
    text = flat(text_of(rendition.data))
    c = job.item.content
    for expected in (
        c.title,
        f"发布机构{c.agency}",
        f"索引号{c.index_no}",
        "发布日期2026年4月11日",  # 02:00 UTC is 10:00 in China
        "公示期2026年4月11日至2026年4月25日",
        "经审批，新增农村低保对象47户73人。",
        f"内容哈希（SHA-256）：{job.item.content_hash}",
        "扫码查看网上原文",
        item_url(SITE, job.item),
        "监督电话：0571-12345678",
        "临溪村村务公开栏",
    ):
        assert flat(expected) in text, expected
    assert "更正" not in text
    assert "撤除" not in text


def embedded_fonts(data: bytes) -> dict[str, int]:
    """BaseFont name → size of the embedded font program, for every font of a PDF."""
    found: dict[str, int] = {}
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font: Any = ref.get_object()
            [descendant] = font["/DescendantFonts"]
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            program = descriptor.get("/FontFile3") or descriptor.get("/FontFile2")
            assert program is not None, font  # embedded, not left to the viewer
            found[str(font["/BaseFont"])] = len(program.get_object().get_data())
    return found


def test_the_embedded_fonts_are_the_shipped_noto_fonts_cut_to_size() -> None:
    fonts = embedded_fonts(rendered("posted").data)
    families = set()
    for name, size in fonts.items():
        prefix, _, family = name.lstrip("/").partition("+")
        assert re.fullmatch(r"[A-Z]{6}", prefix), name  # a subset
        families.add(family)
        # The whole Noto Serif SC is 11 MB: a sheet carries only the glyphs it uses.
        assert size < 150_000, (name, size)
    # Text in the serif, the title and the sheet's label in the sans.
    assert families == {"Syndicate-Noto-Serif-SC", "Syndicate-Noto-Sans-SC"}
    assert len(rendered("posted").data) < 1_000_000


LISTS = (
    "## 名单\n\n- 张**（3人）\n  - 李**\n    - 王**\n\n1. 第一项\n2. 第二项\n\n"
    "| 户主 | 人数 |\n|---|---|\n| 赵** | 2 |\n\n> 引用：监督电话见下。"
)


@pytest.mark.parametrize("config", ["fontconfig-empty.conf", "fontconfig-dejavu.conf"])
def test_a_sheet_needs_no_system_font(config: str) -> None:
    """With fontconfig seeing no font at all (a minimal container) or DejaVu only (a
    stock machine), a sheet with every kind of body markup renders with the shipped
    fonts alone, and its bytes are those rendered here."""
    script = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from syndicate_adapters.noticeboard import NoticeboardAdapter as A\n"
        "from syndicate.testing import sample_jobs\n"
        f"settings = A.Settings.model_validate({SETTINGS!r})\n"
        "job = sample_jobs()[0]\n"
        f"c = job.item.content.model_copy(update={{'body': {LISTS!r}}})\n"
        "job = replace(job, item=replace(job.item, content=c))\n"
        "print(A(settings).render(job).sha256)\n"
    )
    conf = Path(__file__).resolve().parent.parent / "data" / config
    result = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FONTCONFIG_FILE": str(conf)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no WeasyPrint warnings for an operator to puzzle over
    job = sample_jobs()[0]
    c = job.item.content.model_copy(update={"body": LISTS})
    here = make().render(replace(job, item=replace(job.item, content=c)))
    assert result.stdout.strip() == here.sha256
    fonts = {name.partition("+")[2] for name in embedded_fonts(here.data)}
    assert fonts == {"Syndicate-Noto-Serif-SC", "Syndicate-Noto-Sans-SC"}


def test_the_qr_code_drawn_is_the_items_portal_url() -> None:
    job = posted_job()
    url = f"{SITE}/items/{job.item.item_id}.html"
    assert item_url(SITE + "/", job.item) == url
    reader = pypdf.PdfReader(io.BytesIO(rendered("posted").data))
    [image] = reader.pages[0].images
    assert image.image is not None
    pixels = image.image.convert("L")
    width, height = pixels.size
    drawn = [
        [_dark(pixels.getpixel((x, y))) for x in range(width)] for y in range(height)
    ]
    expected = [
        [bool(module) for module in row]
        for row in qr_code(url).matrix_iter(scale=1, border=4)
    ]
    assert drawn == expected


def _dark(value: Any) -> bool:
    return isinstance(value, int | float) and value < 128


def test_a_revision_is_a_replacement_sheet_with_its_correction_note() -> None:
    rendition = rendered("revised")
    assert rendition.meta == {
        "file": sheet_name(revised_job()),
        "sheet": "replace",
    }
    assert rendition.meta["file"].endswith("-v2-replace.pdf")
    text = flat(text_of(rendition.data))
    assert "更正说明：更正人数" in text
    assert "本页为第2版，替换第1版（2026年4月11日）。" in text
    assert "更正日期2026年4月12日" in text
    assert revised_job().item.content.title in text
    assert "张贴说明：撤下本事项的旧版后张贴本页。" in text


def test_a_revision_names_the_version_posted_on_the_board() -> None:
    """Version 3 after version 1 was posted (version 2 never was) replaces version 1."""
    job = revised_job()
    last = job.item.history[-1]
    history = (*job.item.history, replace(last, version=3))
    v3 = replace(job, item=replace(job.item, version=3, history=history))
    text = flat(text_of(make().render(v3).data))
    assert "本页为第3版，替换第1版（2026年4月11日）。" in text


def test_sheets_number_versions_by_release_not_by_review_events() -> None:
    """Under review an item's public versions are events 4, 9, …: the sheet says which
    release it is (第2版), not how many review events came before."""
    job = revised_job()
    first, second = job.item.history[0], job.item.history[-1]
    history = (replace(first, version=4), replace(second, version=9))
    reviewed = replace(
        job,
        item=replace(job.item, version=9, history=history),
        previous=tuple(
            {**receipt, "version": "4"} if "version" in receipt else receipt
            for receipt in job.previous
        ),
    )
    text = flat(text_of(make().render(reviewed).data))
    assert "本页为第2版" in text
    assert "第9版" not in text


def test_a_revision_of_a_sheet_never_posted_is_a_posting() -> None:
    """Nothing of the item hangs on the board: the new version is posted, it replaces
    nothing (no "替换第1版" for a sheet nobody put up)."""
    job = replace(revised_job(), previous=())
    rendition = make().render(job)
    assert rendition.meta["sheet"] == "post"
    assert rendition.meta["file"].endswith("-v2-post.pdf")
    text = flat(text_of(rendition.data))
    assert "替换" not in text
    assert "更正说明" not in text
    assert "张贴说明：张贴于本公开栏。" in text
    assert job.item.content.title in text


def test_a_withdrawal_is_a_takedown_sheet() -> None:
    job = posted_jobs()[3]
    rendition = rendered("withdrawn")
    assert rendition.meta["sheet"] == "takedown"
    assert rendition.meta["file"].endswith("-v3-takedown.pdf")
    text = flat(text_of(rendition.data))
    assert "撤除通知" in text
    assert f"《{job.item.content.title}》已于2026年4月13日撤回" in text
    assert "撤回说明：该公告已撤回。" in text
    assert job.item.content.body not in text  # the withdrawn text is not reprinted
    assert job.item.content_hash in text


def test_a_withdrawal_before_any_posting_prints_nothing_and_clears_the_folder(
    tmp_path: Path,
) -> None:
    job = sample_jobs()[3]  # version 3, withdrawn; no sheet of it was ever posted
    board = make(tmp_path / "sheets")
    rendition = board.render(job)
    assert rendition.data == b""
    assert rendition.meta["sheet"] == "none"
    folder = tmp_path / "sheets"
    folder.mkdir()
    stem = "11330100MB0000006R_2026-00019-383741f6"
    unposted = [f"{stem}-v1-post.pdf", f"{stem}-v2-post.pdf"]
    kept = [
        f"{stem}-v3-post.pdf",  # not below the withdrawn version: not ours to clear
        "11330100MB0000006R_2026-00019-deadbeef-v1-post.pdf",  # another item
        "notes.txt",
    ]
    for name in unposted + kept:
        (folder / name).write_bytes(b"%PDF-")
    receipt = board.deliver(rendition, requests.Session())
    assert receipt.detail == {
        "sheet": "none",
        "attestation": "none",  # nothing for a person to put up or take down
        "removed": " ".join(unposted),
    }
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
    assert board.read_back(job, requests.Session()) is None
    hostile = Rendition.of(
        b"", rendition.media_type, key="k", meta={"sheet": "none", "clear": "../x"}
    )
    with pytest.raises(PermanentDeliveryError):
        board.deliver(hostile, requests.Session())


def test_the_qr_block_never_stands_alone_on_a_page() -> None:
    """However the text ends, the signature and the QR/posting block share their page
    with the end of the text."""
    for paragraphs in (14, 16, 18, 20, 22):
        data = make().render(long_job(paragraphs)).data
        pages = [
            flat(p.extract_text()) for p in pypdf.PdfReader(io.BytesIO(data)).pages
        ]
        assert len(pages) >= 2, paragraphs
        [qr_page] = [p for p in pages if "扫码查看网上原文" in p and "张贴人" in p]
        assert f"第{paragraphs}条" in qr_page, (paragraphs, qr_page[:80])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_operator_text_never_becomes_markup() -> None:
    job = sample_jobs()[0]
    hostile = content(
        title='<img src="https://evil.example/x.png">公告',
        agency="临溪县<b>民政局",
        body=(
            "<script>alert(1)</script>\n\n[点我](https://evil.example) "
            '![x](https://evil.example/y.png) <img src=x onerror="alert(1)">\n\n'
            "## 名单\n\n- 张**\n- 李**\n\n| 姓名 | 人数 |\n|---|---|\n| 王** | 3 |"
        ),
    )
    page = sheet_html(
        replace(job, item=replace(job.item, content=hostile)),
        NoticeboardSettings.model_validate(SETTINGS),
    )
    parser = _Tags()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags
    assert "a" not in tags
    assert "b" not in tags
    assert tags.count("img") == 1  # the QR code, nothing else
    for tag, attrs in parser.tags:
        for value in attrs.values():
            assert "evil.example" not in (value or ""), (tag, attrs)
    assert {"h2", "li", "table", "td"} <= set(tags)  # the Markdown subset survives
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "临溪县&lt;b&gt;民政局" in page


def test_body_markdown_is_sanitised_after_rendering() -> None:
    assert body_html("**要点**\n\n1. 一\n2. 二") == (
        "<p><strong>要点</strong></p>\n<ol>\n<li>一</li>\n<li>二</li>\n</ol>\n"
    )
    assert body_html('<p onclick="x()">hi</p>') == (
        '<p>&lt;p onclick="x()"&gt;hi&lt;/p&gt;</p>\n'
    )


def test_sheet_names_are_plain_ascii_and_unique_per_item() -> None:
    job = sample_jobs()[0]
    odd = content(index_no="临溪/2026/../00019", agency="另一个局")
    name = sheet_name(replace(job, item=replace(job.item, content=odd)))
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.pdf", name), name
    assert name.endswith("-v1-post.pdf")
    assert sheet_name(job) != name


def test_settings_are_validated() -> None:
    for bad in (
        {"portal_url": "http://www.linxi.gov.cn"},  # a printed link lives for years
        {"portal_url": "https://x.example/a b"},
        {"board_name": "一行\n两行"},
        {"board_name": ""},
        {"contact": ""},
        {"colour": "red"},
    ):
        with pytest.raises(ValidationError):
            NoticeboardSettings.model_validate({**SETTINGS, **bad})
    minimal = NoticeboardSettings.model_validate({"path": "x", "portal_url": SITE})
    assert (minimal.board_name, minimal.contact) == ("政务公开栏", None)
    assert (minimal.body_font, minimal.heading_font) == (None, None)


def test_font_settings_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "notes.ttf").write_text("not a font", "utf-8")
    for value, message in (
        (tmp_path / "missing.ttf", "cannot read font file"),
        (tmp_path / "notes.ttf", "is not a font file"),
        (tmp_path, "cannot read font file"),
    ):
        with pytest.raises(ValidationError, match=message) as caught:
            NoticeboardSettings.model_validate({**SETTINGS, "body_font": value})
        assert caught.value.errors()[0]["loc"] == ("body_font",)


def test_an_offices_own_font_comes_first(tmp_path: Path) -> None:
    """A configured font file prints what it has; the shipped fonts the rest."""
    from syndicate_adapters._fonts import bundled_sans

    own = tmp_path / "office-heading.otf"
    # A stand-in for an office's 方正小标宋 file: a font that has only some characters.
    own.write_bytes(bundled_sans().subset("临溪县最低生活保障"))
    board = make(heading_font=own)
    data = board.render(posted_job()).data
    families = {name.partition("+")[2] for name in embedded_fonts(data)}
    assert "Sheet-Heading" in families  # the office's font is used
    assert "Syndicate-Noto-Sans-SC" in families  # and the fallback, for the rest
    assert posted_job().item.content.title in flat(text_of(data))


# -- reproducibility and golden files ----------------------------------------------------


def test_renders_are_byte_identical_in_another_process() -> None:
    here = rendered("sample").sha256
    script = (
        "from syndicate_adapters.noticeboard import NoticeboardAdapter as A\n"
        "from syndicate.testing import sample_jobs\n"
        f"settings = A.Settings.model_validate({SETTINGS!r})\n"
        "print(A(settings).render(sample_jobs()[0]).sha256)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "12345", "TZ": "America/New_York"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == here


def test_renditions_match_the_golden_files() -> None:
    """Text (as pypdf extracts it) and sha256 of each sample job's sheet."""
    update = os.environ.get("SYNDICATE_UPDATE_GOLDEN") == "1"
    adapter = make()
    hashes: dict[str, Any] = {}
    for index, job in enumerate(posted_jobs(), start=1):
        name = f"{index}-{job.operation.value}"
        rendition = rendered("sample") if index == 1 else adapter.render(job)
        text = text_of(rendition.data)
        hashes[name] = {"file": rendition.meta["file"], "sha256": rendition.sha256}
        path = GOLDEN / f"{name}.txt"
        if update:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
        assert path.read_text("utf-8") == text, (
            f"{name}: the sheet's text changed; if intended, regenerate with "
            "SYNDICATE_UPDATE_GOLDEN=1"
        )
    index_path = GOLDEN / "sha256.json"
    if update:
        index_path.write_text(
            json.dumps(hashes, indent=2, sort_keys=True) + "\n", "utf-8"
        )
    assert json.loads(index_path.read_text("utf-8")) == hashes, (
        "the sheets' bytes changed (a layout, WeasyPrint or font change?); if "
        "intended, regenerate with SYNDICATE_UPDATE_GOLDEN=1"
    )


# -- delivering and reading back ---------------------------------------------------------


def test_deliver_writes_the_sheet_and_read_back_compares_it(tmp_path: Path) -> None:
    board = make(tmp_path / "sheets")
    job = posted_job()
    rendition = rendered("posted")
    session = requests.Session()
    assert board.read_back(job, session) is None  # nothing delivered yet
    receipt = board.deliver(rendition, session)
    target = tmp_path / "sheets" / rendition.meta["file"]
    assert receipt.remote_id == str(target)
    assert receipt.detail == {
        "file": rendition.meta["file"],
        "sheet": "post",
        "action": "written",
    }
    assert target.read_bytes() == rendition.data
    assert board.read_back(job, session) == rendition.data
    again = board.deliver(rendition, session)  # a resend changes nothing
    assert again.detail["action"] == "unchanged"
    target.write_bytes(rendition.data + b"% altered\n")
    tampered = board.read_back(job, session)
    assert tampered is not None
    assert tampered != rendition.data
    board.deliver(rendition, session)  # a new attempt repairs it
    assert board.read_back(job, session) == rendition.data
    assert [p.name for p in (tmp_path / "sheets").iterdir()] == [target.name]


def test_deliver_refuses_file_names_outside_the_folder(tmp_path: Path) -> None:
    board = make(tmp_path / "sheets")
    good = rendered("posted")
    for name in ("../escape.pdf", ".hidden.pdf", "", "a/b.pdf", "..\\x.pdf"):
        bad = Rendition.of(
            good.data, good.media_type, key=good.key, meta={"file": name}
        )
        with pytest.raises(PermanentDeliveryError):
            board.deliver(bad, requests.Session())
    assert not (tmp_path / "escape.pdf").exists()


def test_file_system_errors_become_delivery_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TransientDeliveryError):
        make(blocker).deliver(rendered("posted"), requests.Session())

    def denied(target: Path, data: bytes, *, mode: int = 0o644) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    # The kit writes every file outlet's files.
    monkeypatch.setattr(adapterkit, "write_atomically", denied)
    with pytest.raises(PermanentDeliveryError, match="permission denied"):
        make(tmp_path / "sheets").deliver(rendered("posted"), requests.Session())


def test_pdf_metadata_comes_from_the_item_not_the_clock() -> None:
    """Dates from the item's events and no random file identifier: years later, a
    re-render gives the same bytes."""
    reader = pypdf.PdfReader(io.BytesIO(rendered("revised").data))
    info: Any = reader.metadata
    assert info is not None
    assert info["/CreationDate"] == "D:20260411100000+08'00"  # published
    assert info["/ModDate"] == "D:20260412100000+08'00"  # revised
    assert info["/Author"] == "临溪县民政局"
    assert str(info["/Title"]).startswith("更正：")
    assert "/ID" not in reader.trailer


def test_a_sheet_is_refused_when_no_font_would_print_a_character() -> None:
    """A rare character (CJK Extension B, as in some names) that no configured font has
    would print as an empty box: the sheet is refused, naming the character."""
    job = posted_job()
    c = job.item.content.model_copy(update={"body": "公示对象：王𠀀（1户）。"})
    with pytest.raises(PermanentDeliveryError, match=r"𠀀 \(U\+20000\)") as caught:
        make().render(replace(job, item=replace(job.item, content=c)))
    assert caught.value.code == "font"
    assert "body_font" in str(caught.value)


def test_without_weasyprint_only_the_noticeboard_fails(tmp_path: Path) -> None:
    """A machine without Pango runs every other outlet and command."""
    fake = tmp_path / "fake" / "weasyprint"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise OSError(\"cannot load library 'libpango-1.0-0'\")\n", "utf-8"
    )
    script = (
        "import syndicate_adapters.noticeboard as nb\n"
        "from syndicate.cli import app\n"
        "from typer.testing import CliRunner\n"
        "out = CliRunner().invoke(app, ['outlets', 'list'])\n"
        "assert out.exit_code == 0, out.output\n"
        "assert 'noticeboard' in out.output\n"
        "try:\n"
        "    nb.render_pdf('<p>x</p>', nb.sheet_fonts(nb.NoticeboardSettings(\n"
        "        path='x', portal_url='https://x.cn')))\n"
        "except nb.PermanentDeliveryError as exc:\n"
        "    print('refused:', exc.code, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'fake'}"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "refused: system-library the noticeboard outlet needs the Pango library"
        in done.stdout
    )
    assert "apt-get install libpango-1.0-0" in done.stdout
