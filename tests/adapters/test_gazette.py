"""The gazette adapter (政府公报): numbered issues compiled per period, immutable once
compiled, as pages, data and PDF; the 公报数据库; and the whole path through the engine.

Jobs are built as the core builds them for a `needs_history` outlet: every item's
versions public by the job's time, the newest in `live_items` / `withdrawn_items`, the
earlier ones in `past_versions`, each with the history it had then. PDFs are drawn by
WeasyPrint (a few hundred milliseconds each): tests keep to a few short documents.

Screenshots: always saved under the test's tmp folder; `SYNDICATE_UPDATE_SCREENSHOTS=1`
also writes the committed ones in `docs/images/` (with a Chinese font chromium can find:
on a machine without one, point `FONTCONFIG_FILE` at a configuration that lists the folder
of the bundled Noto fonts, package `pylopdf_fonts_zh_cn`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

import pypdf
import pytest
import requests
from pydantic import BaseModel, ValidationError
from syndicate_adapters import gazette
from syndicate_adapters.gazette import GazetteAdapter, GazetteSettings

from syndicate.adapter import DeliveryJob, ItemView, Operation, Receipt
from syndicate.adapterkit import file_set, file_set_rendition
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.catalogue import Validity
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.items import VersionRecord
from syndicate.engine import Engine
from syndicate.errors import PermanentDeliveryError
from syndicate.project import Project
from syndicate.testing import AdapterContract, FixedClock
from tests.browser import (
    axe_violations,
    browser_fixture,  # noqa: F401  (registers the `browser` fixture)
    format_violations,
    screenshot,
    serve_directory,
    visit,
    vnu_errors,
)
from tests.conftest import content

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
PORTAL = "https://www.linxi.gov.cn"
TITLE = "临溪县人民政府公报"
PUBLISHER = "临溪县人民政府办公室"
SESSION = requests.Session()


def china(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ)


def document(n: int, **overrides: Any) -> ItemContent:
    """A 规范性文件 marked for the gazette (and the portal)."""
    data: dict[str, Any] = {
        "agency": "临溪县人民政府办公室",
        "index_no": f"11330100MB0000001A/2026-{n:05d}",
        "doc_no": f"临政办发〔2026〕{n}号",
        "title": f"临溪县农村危房改造管理办法（第{n}号）",
        "body": f"## 第一条\n\n为规范农村危房改造，制定本办法。\n\n## 第二条\n\n本办法第{n}号自发布之日起施行。",
        "area": "农村危房改造",
        "stage": "决策公开",
        "basis": "《中华人民共和国政府信息公开条例》第二十条",
        "formed_on": "2026-09-20",
        "validity": "现行有效",
        "channels": ["portal", "gazette"],
    }
    data.update(overrides)
    return content(**data)


def _record(version: int, event: str, at: datetime, reason: str | None) -> Any:
    return VersionRecord(version, event, at, "测试", None, reason)


@dataclass
class Doc:
    """One item's released versions, made the way the core makes its views."""

    views: list[ItemView] = field(default_factory=list)

    @classmethod
    def published(cls, item: ItemContent, at: datetime) -> Doc:
        view = ItemView(
            item_id=item.id,
            version=1,
            content=item,
            content_hash=content_hash(item),
            withdrawn=False,
            published_at=at,
            updated_at=at,
            history=(_record(1, "Published", at, None),),
        )
        return cls([view])

    @property
    def last(self) -> ItemView:
        return self.views[-1]

    def _next(self, event: str, at: datetime, said: str | None, **change: Any) -> Doc:
        last = self.last
        version = last.version + 1
        self.views.append(
            replace(
                last,
                version=version,
                updated_at=at,
                history=(*last.history, _record(version, event, at, said)),
                **change,
            )
        )
        return self

    def revised(self, at: datetime, reason: str, **fields: Any) -> Doc:
        item = self.last.content.model_copy(update=fields)
        return self._next(
            "Revised",
            at,
            reason,
            content=item,
            content_hash=content_hash(item),
            reason=reason,
        )

    def withdrawn(self, at: datetime, note: str) -> Doc:
        return self._next("Withdrawn", at, "内部原因", withdrawn=True, public_note=note)

    def _marked(self, event: str, at: datetime, statement: str, **marks: Any) -> Doc:
        label = "已废止" if event == "Repealed" else "已失效"
        validity = Validity.REPEALED if event == "Repealed" else Validity.EXPIRED
        # Not re-validated, as the core's `timed_content`.
        shown = BaseModel.model_copy(
            self.last.content,
            update={
                "body": self.last.content.body + f"\n\n> 【{label}】{statement}",
                "validity": validity,
            },
        )
        return self._next(event, at, statement, content=shown, **marks)

    def repealed(self, at: datetime, statement: str) -> Doc:
        return self._marked("Repealed", at, statement, repealed=statement)

    def expired(self, at: datetime, statement: str) -> Doc:
        return self._marked("Expired", at, statement, expired=statement)

    def as_of(self, moment: datetime) -> list[ItemView]:
        return [v for v in self.views if v.updated_at <= moment]


def job_at(docs: Iterable[Doc], moment: datetime, number: int = 1) -> DeliveryJob:
    """The job of a delivery made by a change at `moment` (a notice not for the
    gazette, published then): every version public by then."""
    tick = Doc.published(
        content(index_no="LX-TICK", title="临溪县政务公开工作动态"), moment
    )
    live: list[ItemView] = []
    gone: list[ItemView] = []
    past: list[ItemView] = []
    for doc in [*docs, tick]:
        views = doc.as_of(moment)
        if not views:
            continue
        (gone if views[-1].withdrawn else live).append(views[-1])
        past.extend(views[:-1])
    return DeliveryJob(
        UUID(int=number),
        "gazette",
        None,
        Operation.UPDATE,
        tick.last,
        live_items=tuple(live),
        withdrawn_items=tuple(gone),
        past_versions=tuple(past),
    )


def make(path: Path | str = "unused-gazette", **overrides: Any) -> GazetteAdapter:
    settings = {
        "path": path,
        "title": TITLE,
        "publisher": PUBLISHER,
        "portal_url": PORTAL,
        **overrides,
    }
    return GazetteAdapter(GazetteSettings.model_validate(settings))


def rendered_files(adapter: GazetteAdapter, job: DeliveryJob) -> dict[str, str]:
    return file_set(adapter.render(job))


def issues_of(files: dict[str, str]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(files["issues.json"])["issues"]
    return listed


def issue(files: dict[str, str], year: int, number: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files[f"{year}/{number}/issue.json"])
    return data


def titles(entries: Sequence[dict[str, Any]]) -> list[str]:
    return [e["title"] for e in entries]


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def pdf_text(data: bytes) -> list[str]:
    """Each page's text, without the spaces and line breaks layout puts in."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [re.sub(r"\s+", "", page.extract_text()) for page in reader.pages]


class TestGazetteContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = GazetteAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-gazette", "title": TITLE}
    network: ClassVar[bool] = False

    def jobs(self) -> list[DeliveryJob]:
        a = Doc.published(document(1), china("2026-10-12"))
        b = Doc.published(document(2), china("2026-10-20"))
        b.revised(china("2026-11-05"), "更正第二条", body="更正后的条文。")
        plain = Doc.published(content(), china("2026-11-06"))
        return [
            job_at([a, b, plain], china("2026-10-31")),
            job_at([a, b, plain], china("2026-11-06"), number=2),
        ]


# -- compiling issues ----------------------------------------------------------------------


def test_an_issue_holds_the_periods_documents_as_they_stood_at_its_end() -> None:
    a = Doc.published(document(1), china("2026-10-12"))
    b = Doc.published(
        document(2, title="临溪县农村低保审批管理办法"), china("2026-10-08")
    )
    b.revised(china("2026-10-30"), "更正第二条", body="## 第二条\n\n修订后的条文。")
    b.revised(china("2026-11-02"), "再次更正", body="## 第二条\n\n十一月的条文。")
    plain = Doc.published(content(), china("2026-10-15"))  # names no channels
    portal_only = Doc.published(document(3, channels=["portal"]), china("2026-10-16"))
    later = Doc.published(document(4), china("2026-11-01", 0))  # the open period
    docs = [a, b, plain, portal_only, later]
    adapter = make()

    # Until something changes after October, October is open: no issue.
    before = rendered_files(adapter, job_at(docs, china("2026-10-31", 23)))
    assert issues_of(before) == []
    assert sorted(before) == ["assets/gazette.css", "index.html", "issues.json"]
    assert "暂无公报" in before["index.html"]

    files = rendered_files(adapter, job_at(docs, china("2026-11-02")))
    [listed] = issues_of(files)
    assert (listed["year"], listed["number"], listed["total"]) == (2026, 1, 1)
    assert listed["label"] == "2026年第1期"
    assert listed["period"]["start"] == "2026-10-01"
    assert listed["period"]["end"] == "2026-10-31"
    assert listed["published_on"] == "2026-11-01"
    # In the order they were first published; b as it stood on October 31.
    assert [e["item_id"] for e in listed["entries"]] == [
        str(b.last.item_id),
        str(a.last.item_id),
    ]
    v2 = b.views[1]
    assert listed["entries"][0] == {
        "kind": "document",
        "item_id": str(v2.item_id),
        "ref": v2.ref,
        "version": 2,
        "content_hash": v2.content_hash,
        "title": "临溪县农村低保审批管理办法",
        "doc_no": "临政办发〔2026〕2号",
        "anchor": "doc-1",
    }
    data = issue(files, 2026, 1)
    assert data["documents"][0]["body"] == "## 第二条\n\n修订后的条文。"
    assert data["corrections"] == []
    assert data["notes"] == []
    assert data["documents"][0]["url"] == f"{PORTAL}/items/{v2.item_id}.html"
    assert set(files) == {
        "assets/gazette.css",
        "index.html",
        "issues.json",
        "2026/index.html",
        "2026/1/issue.json",
    }
    # The manifest names the data's digest.
    assert (
        listed["data_sha256"]
        == hashlib.sha256(files["2026/1/issue.json"].encode()).hexdigest()
    )
    assert "临溪县农村低保审批管理办法" in files["index.html"]
    assert "临政办发〔2026〕2号" in files["2026/index.html"]


def test_issues_are_numbered_within_the_year_and_overall_skipping_empty_periods() -> (
    None
):
    docs = [
        Doc.published(document(1), china("2026-10-12")),
        # November has nothing.
        Doc.published(document(2), china("2026-12-31", 23)),
        Doc.published(document(3), china("2027-02-03")),
        Doc.published(document(4), china("2027-03-05")),
    ]
    files = rendered_files(make(), job_at(docs, china("2027-03-05")))
    assert [
        (i["label"], i["total"], i["period"]["label"], i["published_on"], i["page"])
        for i in issues_of(files)
    ] == [
        ("2026年第1期", 1, "2026年10月", "2026-11-01", "2026/1/index.html"),
        ("2026年第2期", 2, "2026年12月", "2027-01-01", "2026/2/index.html"),
        ("2027年第1期", 3, "2027年2月", "2027-03-01", "2027/1/index.html"),
    ]
    assert json.loads(files["issues.json"])["through"] == "2027-02-28"
    database = files["index.html"]
    # Newest year first, newest issue first.
    assert database.index("2027年第1期") < database.index("2026年第2期")
    assert database.index("2026年第2期") < database.index("2026年第1期")
    assert "收录至2027年2月28日，共3期，刊登文件3件。" in database

    quarterly = rendered_files(
        make(period="quarter"), job_at(docs, china("2027-04-01"))
    )
    assert [(i["label"], i["period"]["label"]) for i in issues_of(quarterly)] == [
        ("2026年第1期", "2026年第四季度"),
        ("2027年第1期", "2027年第一季度"),
    ]
    assert issue(quarterly, 2026, 1)["period"]["span"] == (
        "2026年10月1日至2026年12月31日"
    )


def test_documents_link_to_the_portal_when_one_is_known() -> None:
    doc = Doc.published(document(1), china("2026-10-09"))
    job = job_at([doc], china("2026-11-02"))
    link = f"{PORTAL}/items/{doc.last.item_id}.html"
    without = issue(rendered_files(make(portal_url=None), job), 2026, 1)
    assert without["documents"][0]["url"] is None
    given = replace(job, portal_url=PORTAL)
    assert (
        issue(rendered_files(make(portal_url=None), given), 2026, 1)["documents"][0][
            "url"
        ]
        == link
    )


def test_only_documents_marked_for_the_gazette_are_compiled() -> None:
    marked = Doc.published(document(1, channels=["gazette"]), china("2026-10-02"))
    default = Doc.published(content(), china("2026-10-03"))
    other = Doc.published(document(2, channels=["portal", "rss"]), china("2026-10-04"))
    # A change to an item never marked for the gazette: no 更正, no note.
    other.revised(china("2026-11-03"), "更正", body="更正后的条文。")
    default.withdrawn(china("2026-11-04"), "已撤回。")
    files = rendered_files(
        make(), job_at([marked, default, other], china("2026-12-01"))
    )
    [only] = issues_of(files)
    assert [e["item_id"] for e in only["entries"]] == [str(marked.last.item_id)]


def test_a_document_added_to_the_gazette_later_appears_in_that_periods_issue() -> None:
    doc = Doc.published(document(1, channels=["portal"]), china("2026-09-10"))
    doc.revised(china("2026-10-10"), "列入政府公报", channels=["portal", "gazette"])
    files = rendered_files(make(), job_at([doc], china("2026-11-01")))
    [only] = issues_of(files)
    assert only["label"] == "2026年第1期"
    assert only["period"]["label"] == "2026年10月"
    entry = issue(files, 2026, 1)["documents"][0]
    assert entry["version"] == 2
    assert entry["published_at"].startswith("2026-09-10")


@pytest.fixture(scope="module")
def history() -> list[Doc]:
    """Four October documents; in November one is revised, one withdrawn, one repealed,
    one expires, and a new one is published; December brings another change."""
    a = Doc.published(document(1), china("2026-10-09"))
    b = Doc.published(document(2), china("2026-10-13"))
    c = Doc.published(document(3), china("2026-10-20"))
    d = Doc.published(
        document(4, valid_until="2026-11-20", title="临溪县2026年秋冬临时救助办法"),
        china("2026-10-27"),
    )
    e = Doc.published(document(5), china("2026-11-03"))
    a.revised(
        china("2026-11-10"),
        "更正第二条施行日期",
        body="## 第一条\n\n为规范农村危房改造，制定本办法。\n\n## 第二条\n\n本办法自2026年12月1日起施行。",
    )
    b.withdrawn(china("2026-11-12"), "该文件因上位法调整已撤回。")
    c.repealed(
        china("2026-11-15"),
        "本文件已于2026年11月15日废止，由《临溪县农村危房改造管理办法（2026年修订）》替代。",
    )
    d.expired(china("2026-11-21", 0), "本文件有效期至2026年11月20日，已失效。")
    december = Doc.published(content(index_no="LX-2026-1201"), china("2026-12-02"))
    return [a, b, c, d, e, december]


@pytest.fixture(scope="module")
def issued(
    history: list[Doc], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]]:
    """The gazette folder after a delivery on November 3 and one on December 2: its
    files after each, and the receipts."""
    root = tmp_path_factory.mktemp("gazette") / "gazette"
    adapter = make(root)
    first = adapter.deliver(
        adapter.render(job_at(history, china("2026-11-03"))), SESSION
    )
    november = folder_bytes(root)
    second = adapter.deliver(
        adapter.render(job_at(history, china("2026-12-02"), number=2)), SESSION
    )
    return root, november, folder_bytes(root), [first, second]


def test_a_compiled_issue_never_changes_and_later_changes_go_to_the_next_issue(
    history: list[Doc],
    issued: tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]],
) -> None:
    root, november, december, receipts = issued
    october_files = [
        "2026/1/index.html",
        "2026/1/issue.json",
        "2026/1/gazette-2026-1.pdf",
    ]
    for name in october_files:
        assert name in november, name
        # Revised, withdrawn, repealed, expired since: the October issue is the same.
        assert december[name] == november[name], name
    # One issue drawn each time: December's delivery did not draw October again.
    assert receipts[0].detail["drawn"] == "1"
    assert receipts[1].detail["drawn"] == "1"

    october = json.loads(december["2026/1/issue.json"])
    assert titles(october["documents"]) == [
        d.views[0].content.title for d in history[:4]
    ]
    assert october["documents"][0]["version"] == 1
    assert "本办法第1号自发布之日起施行" in october["documents"][0]["body"]

    nov = json.loads(december["2026/2/issue.json"])
    a, b, c, d, e, _ = history
    assert (nov["label"], nov["total"]) == ("2026年第2期", 2)
    assert titles(nov["documents"]) == [e.last.content.title]
    [fix] = nov["corrections"]
    assert fix["item_id"] == str(a.last.item_id)
    assert fix["version"] == 2
    assert "本办法自2026年12月1日起施行" in fix["body"]
    assert fix["revisions"] == [
        {
            "version": 2,
            "at": "2026-11-10T09:00:00+08:00",
            "reason": "更正第二条施行日期",
        }
    ]
    assert fix["first_issue"] == {"label": "2026年第1期", "path": "2026/1/index.html"}
    assert [(n["kind"], n["label"], n["item_id"]) for n in nov["notes"]] == [
        ("withdrawn", "撤回", str(b.last.item_id)),
        ("repealed", "废止", str(c.last.item_id)),
        ("expired", "失效", str(d.last.item_id)),
    ]
    assert nov["notes"][0]["statement"] == "该文件因上位法调整已撤回。"
    assert nov["notes"][1]["statement"].startswith("本文件已于2026年11月15日废止")
    assert nov["notes"][2]["statement"] == "本文件有效期至2026年11月20日，已失效。"
    assert all(n["first_issue"]["label"] == "2026年第1期" for n in nov["notes"])

    page = december["2026/2/index.html"].decode()
    for expected in (
        "更正说明",
        '原载<a href="../../2026/1/index.html">2026年第1期</a>',
        "更正第二条施行日期",
        "文件撤回、废止、失效情况",
        "该文件因上位法调整已撤回。",
        "于2026年11月21日失效",
    ):
        assert expected in page, expected
    manifest = json.loads(december["issues.json"])
    kinds = [(en["kind"], en["version"]) for en in manifest["issues"][1]["entries"]]
    assert kinds == [
        ("document", 1),
        ("correction", 2),
        ("withdrawn", 2),
        ("repealed", 2),
        ("expired", 2),
    ]
    adapter = make(root)
    assert adapter.inventory(SESSION) == {d.last.item_id for d in history[:5]}


def test_a_document_withdrawn_within_its_own_period_is_only_noted() -> None:
    doc = Doc.published(document(1), china("2026-10-09"))
    doc.withdrawn(china("2026-10-10"), "发布有误，已撤回。")
    kept = Doc.published(document(2), china("2026-10-11"))
    files = rendered_files(make(), job_at([doc, kept], china("2026-11-01")))
    data = issue(files, 2026, 1)
    assert titles(data["documents"]) == [kept.last.content.title]
    [note] = data["notes"]
    assert (note["label"], note["statement"], note["first_issue"]) == (
        "撤回",
        "发布有误，已撤回。",
        None,
    )


def test_a_revision_of_a_withdrawn_document_is_no_correction() -> None:
    doc = Doc.published(document(1), china("2026-10-09"))
    doc.revised(china("2026-11-02"), "更正", body="更正后的条文。")
    doc.withdrawn(china("2026-11-03"), "已撤回。")
    files = rendered_files(make(), job_at([doc], china("2026-12-01")))
    data = issue(files, 2026, 2)
    assert data["corrections"] == []
    assert [n["kind"] for n in data["notes"]] == ["withdrawn"]


def test_a_revision_that_changes_nothing_printed_is_no_correction() -> None:
    doc = Doc.published(document(1), china("2026-10-09"))
    doc.revised(
        china("2026-11-02"), "增加发布渠道", channels=["portal", "kiosk", "gazette"]
    )
    fresh = Doc.published(document(2), china("2026-11-05"))
    files = rendered_files(make(), job_at([doc, fresh], china("2026-12-01")))
    november = issue(files, 2026, 2)
    assert titles(november["documents"]) == [fresh.last.content.title]
    assert november["corrections"] == []


def test_views_without_history_are_compiled_from_their_versions() -> None:
    """Hand-built jobs (no `history`): each version counts as its own change."""
    doc = Doc.published(document(1), china("2026-10-09"))
    doc.revised(china("2026-11-02"), "更正条文", body="更正后的条文。")
    bare = Doc([replace(v, history=()) for v in doc.views])
    files = rendered_files(make(), job_at([bare], china("2026-12-01")))
    assert (
        issue(files, 2026, 2)["corrections"][0]["revisions"][0]["reason"] == "更正条文"
    )


def test_rendering_is_pure_whatever_order_the_job_lists_items_in() -> None:
    docs = [Doc.published(document(n), china(f"2026-10-{n + 10}")) for n in range(1, 4)]
    docs[0].revised(china("2026-11-02"), "更正", body="更正后的条文。")
    job = job_at(docs, china("2026-12-01"))
    shuffled = replace(
        job,
        live_items=tuple(reversed(job.live_items)),
        past_versions=tuple(reversed(job.past_versions)),
    )
    assert make().render(job).data == make().render(shuffled).data


def test_operator_text_never_becomes_markup(tmp_path: Path) -> None:
    hostile = Doc.published(
        document(
            1,
            title="<script>alert(1)</script>办法",
            doc_no='临政发〔2026〕1号"><img src=x onerror=alert(2)>',
            body="<img src=x onerror=alert(3)>\n\n[点我](javascript:alert(4))",
        ),
        china("2026-10-09"),
    )
    adapter = make(tmp_path / "g")
    adapter.pdf = lambda issue: b"%PDF stand-in"  # type: ignore[method-assign]
    adapter.deliver(adapter.render(job_at([hostile], china("2026-11-02"))), SESSION)
    for name in ("index.html", "2026/index.html", "2026/1/index.html"):
        page = (tmp_path / "g" / name).read_text("utf-8")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;办法" in page, name
        assert "<script" not in page, name
        assert "<img" not in page, name
        assert 'href="javascript:' not in page, name
    printed = gazette.print_html(
        issue(file_set(adapter.render(job_at([hostile], china("2026-11-02")))), 2026, 1)
    )
    assert "<script>alert" not in printed
    assert "<img src=x" not in printed


def test_settings_are_validated(tmp_path: Path) -> None:
    for bad in (
        {"path": "g"},  # no title
        {"path": "g", "title": "公报\n第二行"},
        {"path": "g", "title": TITLE, "period": "week"},
        {"path": "g", "title": TITLE, "portal_url": "http://www.linxi.gov.cn"},
        {"path": "g", "title": TITLE, "body_font": str(tmp_path / "missing.ttf")},
    ):
        with pytest.raises(ValidationError):
            GazetteSettings.model_validate(bad)


def test_deliver_refuses_names_that_are_not_gazette_files(tmp_path: Path) -> None:
    adapter = make(tmp_path / "g")
    for name in ("../escape.html", "2026/1/index.html", "notes.txt", "2026/1/x.pdf"):
        rendition = file_set_rendition({name: "x"}, gazette.MEDIA_TYPE, key="k")
        with pytest.raises(PermanentDeliveryError):
            adapter.deliver(rendition, SESSION)
    assert not (tmp_path / "escape.html").exists()


def test_one_change_among_five_years_of_documents_is_quick(tmp_path: Path) -> None:
    """200 gazette documents a year for five years: rendering the set and delivering a
    change in the open period takes a fraction of a second and draws nothing."""
    start = china("2021-01-01")
    docs = [
        Doc.published(document(n), start + timedelta(hours=n * 43))
        for n in range(1, 1001)
    ]
    for doc in docs[::7]:
        doc.revised(
            doc.last.updated_at + timedelta(days=40), "更正", body="更正后的条文。"
        )
    moment = max(v.updated_at for d in docs for v in d.views)
    adapter = make(tmp_path / "g")
    drawn: list[str] = []

    def draw(issue: Mapping[str, Any]) -> bytes:
        drawn.append(issue["label"])
        return b"%PDF-1.7 stand-in"

    adapter.pdf = draw  # type: ignore[method-assign]
    first = adapter.render(job_at(docs, moment))
    adapter.deliver(first, SESSION)
    assert len(drawn) == len(issues_of(file_set(first))) > 55
    drawn.clear()

    docs.append(Doc.published(document(2000), moment + timedelta(minutes=5)))
    job = job_at(docs, moment + timedelta(minutes=5), number=2)
    began = time.perf_counter()
    receipt = adapter.deliver(adapter.render(job), SESSION)
    elapsed = time.perf_counter() - began
    assert drawn == []
    assert receipt.detail["drawn"] == "0"
    assert elapsed < 2.0, f"render + deliver took {elapsed:.2f} s"


# -- the PDF -----------------------------------------------------------------------------


def embedded_fonts(data: bytes) -> set[str]:
    found = set()
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font: Any = ref.get_object()
            [descendant] = font["/DescendantFonts"]
            descriptor = descendant.get_object()["/FontDescriptor"].get_object()
            program = descriptor.get("/FontFile3") or descriptor.get("/FontFile2")
            assert program is not None, font  # embedded, not left to the viewer
            found.add(str(font["/BaseFont"]).partition("+")[2])
    return found


def test_the_pdf_has_a_cover_a_table_of_contents_with_page_numbers_and_the_text(
    history: list[Doc],
    issued: tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]],
) -> None:
    _, _, december, _ = issued
    data = december["2026/2/gazette-2026-2.pdf"]
    pages = pdf_text(data)
    cover, contents = pages[0], pages[1]
    for expected in (
        TITLE,
        "2026年第2期",
        "（总第2期）",
        "2026年12月1日出版",
        PUBLISHER,
    ):
        assert expected in cover, expected
    assert "目录" in contents
    a, b, c, d, e, _ = history
    # Each 目录 line ends with the page its entry starts on.
    for title, tag in (
        (e.last.content.title, ""),
        (a.last.content.title, ""),
        (b.last.content.title, "【撤回】"),
        (c.last.content.title, "【废止】"),
        (d.last.content.title, "【失效】"),
    ):
        line = re.search(re.escape(tag + title) + r"\.+(\d+)", contents)
        assert line is not None, title
        page = int(line.group(1))
        assert title in pages[page - 1], (title, page)
        assert f"—{page}—" in pages[page - 1]
    body = "".join(pages[2:])
    for expected in (
        "本期文件",
        "更正说明",
        "原载2026年第1期",
        "更正第二条施行日期",
        "本办法自2026年12月1日起施行",
        "该文件因上位法调整已撤回。",
        f"网上原文：{PORTAL}/items/{a.last.item_id}.html",
        f"{TITLE}2026年第2期",  # the running head
    ):
        assert expected in body, expected
    assert embedded_fonts(data) == {"Syndicate-Noto-Serif-SC", "Syndicate-Noto-Sans-SC"}
    reader = pypdf.PdfReader(io.BytesIO(data))
    # Bookmarks: the 目录, each part, and each entry under its part.
    outline: list[Any] = list(reader.outline)
    assert [o.title for o in outline if not isinstance(o, list)] == [
        "目　录",
        "本期文件",
        "更正",
        "文件撤回、废止、失效情况",
    ]
    assert [o.title for o in outline[-1]] == [
        f"【撤回】{b.last.content.title}",
        f"【废止】{c.last.content.title}",
        f"【失效】{d.last.content.title}",
    ]
    info = reader.metadata
    assert info is not None
    assert info.title == f"{TITLE} 2026年第2期"
    assert str(info["/CreationDate"]).startswith("D:20261201000000")


def test_the_pdf_is_the_same_bytes_when_drawn_again(
    history: list[Doc],
    issued: tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]],
) -> None:
    _, november, _, _ = issued
    files = rendered_files(make(), job_at(history, china("2026-11-03")))
    gazette._PDF_CACHE.clear()
    again = make().pdf(issue(files, 2026, 1))
    assert again == november["2026/1/gazette-2026-1.pdf"]


def test_data_for_another_layout_is_refused() -> None:
    doc = Doc.published(document(1), china("2026-10-09"))
    files = rendered_files(make(), job_at([doc], china("2026-11-01")))
    data = issue(files, 2026, 1)
    with pytest.raises(PermanentDeliveryError, match="another layout"):
        make().pdf({**data, "layout": "0" * 64})


# -- the folder: read back, expected files ---------------------------------------------------


def test_the_folder_is_what_expected_files_gives_and_read_back_is_the_rendition(
    history: list[Doc],
    issued: tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]],
    tmp_path: Path,
) -> None:
    root, _, december, _ = issued
    adapter = make(root)
    rendition = adapter.render(job_at(history, china("2026-12-02"), number=2))
    assert adapter.read_back(job_at(history, china("2026-12-02")), SESSION) == (
        rendition.data
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    expected = adapter.expected_files(scratch, [rendition], (), None)
    assert expected.root == root
    assert folder_bytes(scratch) == december
    a = history[0]
    assert a.last.item_id in expected.owners["2026/2/gazette-2026-2.pdf"]
    assert a.last.item_id in expected.owners["2026/1/index.html"]


def test_files_of_an_issue_no_longer_compiled_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "g"
    doc = Doc.published(document(1), china("2026-10-09"))
    adapter = make(root)
    adapter.pdf = lambda issue: b"%PDF stand-in"  # type: ignore[method-assign]
    adapter.deliver(adapter.render(job_at([doc], china("2026-11-01"))), SESSION)
    assert (root / "2026" / "1" / "gazette-2026-1.pdf").is_file()
    (root / "notes.txt").write_text("not ours", "utf-8")
    # Reconfigured as a quarterly: October's monthly issue is replaced.
    quarterly = make(root, period="quarter")
    quarterly.pdf = lambda issue: b"%PDF stand-in"  # type: ignore[method-assign]
    quarterly.deliver(quarterly.render(job_at([doc], china("2026-11-01"))), SESSION)
    assert sorted(folder_bytes(root)) == [
        "assets/gazette.css",
        "index.html",
        "issues.json",
        "notes.txt",
    ]


# -- in the browser --------------------------------------------------------------------------


def test_the_pages_in_chromium_pass_axe_and_the_html_checker(
    browser: Browser,
    issued: tuple[Path, dict[str, bytes], dict[str, bytes], list[Receipt]],
    tmp_path: Path,
) -> None:
    root, _, _, _ = issued
    pages = ["index.html", "2026/index.html", "2026/1/index.html", "2026/2/index.html"]
    with serve_directory(root) as base:
        for name in pages:
            with visit(browser, base + name) as v:
                v.settle()
                assert v.problems() == [], (name, v.problems())
                violations = axe_violations(v.page)
                assert violations == [], (name, format_violations(violations))
                width = v.page.evaluate("document.documentElement.scrollWidth")
                assert width <= 1366, name
                if name in ("index.html", "2026/2/index.html"):
                    shot = (
                        "gazette-database.png"
                        if name == "index.html"
                        else ("gazette-issue.png")
                    )
                    screenshot(v.page, tmp_path / shot)
                    if os.environ.get("SYNDICATE_UPDATE_SCREENSHOTS") == "1":
                        screenshot(v.page, IMAGES / shot)
        # Every link of the database page leads somewhere.
        with visit(browser, base + "index.html") as v:
            links = v.page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        assert links
        for link in links:
            assert link.startswith(base), link
            assert SESSION.get(link, timeout=10).status_code == 200, link
        # A phone-sized screen does not scroll sideways.
        with visit(browser, base + "2026/2/index.html", width=375, height=800) as v:
            width = v.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375
    assert vnu_errors([root / name for name in pages]) == []


# -- through the engine ------------------------------------------------------------------------

OUTLET = f"""
[outlets.gazette]
kind = "gazette"
path = "outlets/gazette"
title = "{TITLE}"
publisher = "{PUBLISHER}"
portal_url = "{PORTAL}"
"""


def test_a_home_publishes_issues_as_months_close_and_keeps_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Project.init(home, environ={}, keys=False, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(OUTLET)
    root = home / "outlets" / "gazette"
    clock = FixedClock(china("2026-10-12"))
    with Engine.open(home, environ={}, clock=clock) as engine:
        items = engine.items
        first, second = document(1), document(2)
        items.publish(first, actor="张三")
        clock.advance(days=5)
        items.publish(second, actor="张三")
        items.publish(content(), actor="张三")  # not for the gazette
        engine.sync()
        assert json.loads((root / "issues.json").read_text("utf-8"))["issues"] == []

        clock.now = china("2026-11-03")
        items.publish(document(3), actor="张三")
        engine.sync()
        october = root / "2026" / "1"
        kept = folder_bytes(october)
        assert sorted(kept) == ["gazette-2026-1.pdf", "index.html", "issue.json"]
        data = json.loads(kept["issue.json"])
        assert titles(data["documents"]) == [first.title, second.title]

        clock.now = china("2026-11-10")
        revised = first.model_copy(update={"body": "## 第一条\n\n修订后的办法。"})
        items.revise(first.ref, revised, reason="修订第一条", actor="李四")
        engine.sync()
        assert folder_bytes(october) == kept
        assert not (root / "2026" / "2").exists()

        clock.now = china("2026-12-02")
        items.publish(document(4), actor="张三")
        engine.sync()
        assert folder_bytes(october) == kept
        november = json.loads((root / "2026" / "2" / "issue.json").read_text("utf-8"))
        assert november["label"] == "2026年第2期"
        assert titles(november["documents"]) == [document(3).title]
        [fix] = november["corrections"]
        assert (fix["title"], fix["revisions"][0]["reason"]) == (
            first.title,
            "修订第一条",
        )
        assert fix["body"] == "## 第一条\n\n修订后的办法。"

        report = engine.consistency()
        assert [(r.verdict, r.path) for r in report.mismatched] == []
        assert {r.outlet for r in report.rows} == {"gazette"}

        pdf = october / "gazette-2026-1.pdf"
        pdf.write_bytes(pdf.read_bytes() + b"% appended\n")
        report = engine.consistency()
        drifted = {(r.verdict, r.path) for r in report.mismatched}
        assert ("drifted", "2026/1/gazette-2026-1.pdf") in drifted
        # Every item of the gazette reflects it.
        assert {r.verdict for r in report.mismatched if r.path is None} == {"drifted"}

        engine.repair(actor="审计员")
        assert folder_bytes(october) == kept
        assert engine.consistency().mismatched == []
