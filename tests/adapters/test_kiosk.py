"""The kiosk adapter: an offline touch bundle, checked on disk and in headless chromium.

Golden files: `tests/golden/kiosk/`; regenerate with `SYNDICATE_UPDATE_GOLDEN=1`.
Screenshots: always saved under the test's tmp folder; `SYNDICATE_UPDATE_SCREENSHOTS=1`
also writes the committed ones in `docs/images/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote
from uuid import UUID

import pytest
import requests
from pydantic import BaseModel, ValidationError
from syndicate_adapters.kiosk import KioskAdapter, KioskSettings, body_html, js_json
from typer.testing import CliRunner

from syndicate import adapterkit
from syndicate.adapter import Capabilities, DeliveryJob, ItemView, Operation, Rendition
from syndicate.cli import app
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import (
    Attachment,
    ItemContent,
    canonical_json,
    content_hash,
)
from syndicate.domain.items import VersionRecord
from syndicate.errors import PermanentDeliveryError, TransientDeliveryError
from syndicate.itemfiles import load_item_file
from syndicate.testing import AdapterContract, sample_jobs
from tests.browser import (
    Visit,
    axe_violations,
    browser,  # noqa: F401
    format_violations,
    screenshot,
    serve_directory,
    visit,
    vnu_errors,
)
from tests.conftest import ITEM_FILE, content

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "kiosk"
IMAGES = REPO / "docs" / "images"
PORTAL = "https://www.linxi.gov.cn"
T0 = datetime(2026, 4, 11, 2, 0, tzinfo=UTC)


class TestKioskContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = KioskAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-kiosk"}
    network: ClassVar[bool] = False


# -- helpers --------------------------------------------------------------------------


def view(
    item: ItemContent,
    *,
    at: datetime = T0,
    published: datetime | None = None,
    version: int = 1,
    reason: str | None = None,
    withdrawn: bool = False,
    history: Sequence[VersionRecord] = (),
) -> ItemView:
    return ItemView(
        item_id=item.id,
        version=version,
        content=item,
        content_hash=content_hash(item),
        withdrawn=withdrawn,
        published_at=published or at,
        updated_at=at,
        reason=reason,
        history=tuple(history),
    )


def record(
    item: ItemView, version: int, event: str, at: datetime, reason: str | None = None
) -> VersionRecord:
    return VersionRecord(version, event, at, "测试", item.content_hash, reason)


def job(
    live: Sequence[ItemView], withdrawn: Sequence[ItemView] = (), *, number: int = 1
) -> DeliveryJob:
    first = (*live, *withdrawn)[0]
    return DeliveryJob(
        UUID(int=number),
        "kiosk-hall",
        None,
        Operation.PUBLISH,
        first,
        live_items=tuple(live),
        withdrawn_items=tuple(withdrawn),
    )


def make(path: Path, **settings: Any) -> KioskAdapter:
    return KioskAdapter(KioskSettings.model_validate({"path": path, **settings}))


def files_of(adapter: KioskAdapter, delivery: DeliveryJob) -> dict[str, str]:
    files: dict[str, str] = json.loads(adapter.render(delivery).data)["files"]
    return files


def manifest_of(files: dict[str, str]) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(files["manifest.json"])
    return manifest


def item_data(files: dict[str, str], item_id: UUID) -> dict[str, Any]:
    """The object an item file hands the page (`KIOSK.items["<id>"] = {...};`)."""
    text = files[f"items/{item_id}.js"]
    prefix = f'KIOSK.items["{item_id}"] = '
    assert text.startswith(prefix)
    assert text.endswith(";\n")
    data: dict[str, Any] = json.loads(text[len(prefix) : -2])
    return data


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the bundle -----------------------------------------------------------------------


def test_manifest_lists_exactly_the_live_items_in_their_notice_period(
    tmp_path: Path,
) -> None:
    plain = view(content(index_no="K-1", title="甲公告"), at=T0)
    # Ends on the day the bundle is built (Beijing time): still shown, dates are inclusive.
    ending = view(
        content(
            index_no="K-2",
            title="乙公示",
            notice_period={"start": "2026-04-04", "end": "2026-04-11"},
        ),
        at=T0 + timedelta(hours=1),
    )
    ended = view(
        content(
            index_no="K-3",
            title="丙公示",
            notice_period={"start": "2026-04-01", "end": "2026-04-10"},
        ),
        at=T0 + timedelta(hours=2),
    )
    gone = view(
        content(index_no="K-4", title="丁公告"),
        at=T0 + timedelta(hours=3),
        version=2,
        withdrawn=True,
    )
    files = files_of(make(tmp_path), job([plain, ending, ended], [gone]))
    manifest = manifest_of(files)

    assert manifest["schema_version"] == 1
    # The newest event among the outlet's items, the withdrawal included; no wall clock.
    assert manifest["built_at"] == "2026-04-11T13:00:00+08:00"
    assert [e["id"] for e in manifest["items"]] == [
        str(ending.item_id),
        str(plain.item_id),
    ]
    for entry, item in zip(manifest["items"], [ending, plain], strict=True):
        assert entry["version"] == item.version
        assert entry["content_hash"] == item.content_hash
        assert entry["ref"] == item.ref
        assert entry["title"] == item.content.title
        assert entry["file"] == f"items/{item.item_id}.js"
        assert entry["sha256"] == sha(files[entry["file"]])
    assert manifest["items"][0]["notice_period"] == {
        "start": "2026-04-04",
        "end": "2026-04-11",
    }
    assert manifest["items"][1]["notice_period"] is None
    assert set(files) == {
        "index.html",
        "manifest.json",
        "data.js",
        "assets/kiosk.css",
        "assets/kiosk.js",
        f"items/{plain.item_id}.js",
        f"items/{ending.item_id}.js",
    }
    assert manifest["files"] == {
        path: sha(text) for path, text in files.items() if path != "manifest.json"
    }
    for text in files.values():
        assert str(ended.item_id) not in text
        assert str(gone.item_id) not in text
    page = files["index.html"]
    assert f'src="items/{plain.item_id}.js?v=' in page
    assert '<html lang="zh-CN">' in page


def test_a_withdrawn_item_disappears_and_other_files_in_the_folder_stay(
    tmp_path: Path,
) -> None:
    root = tmp_path / "kiosk"
    kiosk = make(root)
    a = view(content(index_no="W-1", title="甲公告"), at=T0)
    b = view(content(index_no="W-2", title="乙公告"), at=T0 + timedelta(minutes=1))
    kiosk.deliver(kiosk.render(job([a, b])), requests.Session())
    assert (root / "items" / f"{b.item_id}.js").is_file()
    foreign = {
        root / "README.txt": "机房值班电话",
        root / "items" / "notes.txt": "not ours",
        root / "items" / f"{b.item_id}.js.bak": "not ours either",
        root / "assets" / "logo.png": "png",
    }
    for path, text in foreign.items():
        path.write_text(text, "utf-8")

    withdrawn = replace(
        b, version=2, withdrawn=True, updated_at=T0 + timedelta(minutes=2)
    )
    kiosk.deliver(kiosk.render(job([a], [withdrawn])), requests.Session())

    assert not (root / "items" / f"{b.item_id}.js").exists()
    assert (root / "items" / f"{a.item_id}.js").is_file()
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    assert [e["id"] for e in manifest["items"]] == [str(a.item_id)]
    assert str(b.item_id) not in (root / "index.html").read_text("utf-8")
    for path, text in foreign.items():
        assert path.read_text("utf-8") == text


def test_a_revision_replaces_the_item_in_place_with_its_correction_note(
    tmp_path: Path,
) -> None:
    kiosk = make(tmp_path)
    first = view(content(index_no="R-1"), at=T0)
    fixed = content(index_no="R-1", body="经审批，新增农村低保对象47户74人。")
    later = T0 + timedelta(days=1)
    second = view(
        fixed,
        at=later,
        published=T0,
        version=2,
        reason="更正人数",
        history=(
            record(first, 1, "Published", T0),
            record(first, 2, "Revised", later, "更正人数"),
        ),
    )
    before = files_of(kiosk, job([first]))
    after = files_of(kiosk, job([second], number=2))

    assert set(before) == set(after)  # the same file, rewritten
    old, new = item_data(before, first.item_id), item_data(after, first.item_id)
    assert (old["version"], new["version"]) == (1, 2)
    assert old["corrections"] == []
    assert new["corrections"] == [
        {"version": 2, "date": "2026-04-12", "reason": "更正人数"}
    ]
    assert "74人" in new["body_html"]
    assert new["published"] == "2026-04-11"
    assert new["updated"] == "2026-04-12 10:00"
    [entry] = manifest_of(after)["items"]
    assert (entry["version"], entry["content_hash"]) == (2, second.content_hash)

    # Without a history (an older job) the version's own reason is the note.
    _, revised, *_ = sample_jobs()
    files = files_of(kiosk, replace(revised, live_items=(revised.item,)))
    assert item_data(files, revised.item.item_id)["corrections"] == [
        {"version": 2, "date": "2026-04-12", "reason": "更正人数"}
    ]


def test_render_depends_on_the_set_not_on_order_or_delivery(tmp_path: Path) -> None:
    items = [
        view(content(index_no=f"D-{n}", title=f"公告{n}"), at=T0 + timedelta(hours=n))
        for n in range(4)
    ]
    kiosk = make(tmp_path)
    one = kiosk.render(job(items, number=1))
    other = kiosk.render(job(list(reversed(items)), number=9))
    assert one.data == other.data
    assert one.key != other.key


def test_body_html_is_sanitised_and_links_become_text() -> None:
    html = body_html(
        "详见[门户网站](https://www.linxi.gov.cn/a.html)，或 <https://www.linxi.gov.cn/b>，"
        "或来信 <mailto:xinxi@linxi.gov.cn>。\n\n"
        "<img src=x onerror=__pwn(1)> [x](javascript:__pwn(3)) <script>__pwn(2)</script>\n\n"
        "| 户主 | 人数 |\n|---|---|\n| 张某 | 3 |"
    )
    assert "门户网站（https://www.linxi.gov.cn/a.html）" in html
    assert html.count("https://www.linxi.gov.cn/b") == 1
    assert "来信 xinxi@linxi.gov.cn。" in html
    assert "<a" not in html
    assert "<img" not in html
    assert "<script" not in html
    assert "&lt;img src=x onerror=__pwn(1)&gt;" in html
    assert "<table>" in html


def test_a_link_with_a_title_keeps_its_address() -> None:
    html = body_html('[门户](https://www.linxi.gov.cn "县政府门户")\n\n3. 三\n4. 四')
    assert "门户（https://www.linxi.gov.cn）" in html
    assert '<ol start="3">' in html


def test_script_data_cannot_end_its_script() -> None:
    value = {"t": "</script><script>__pwn(5)</script>\u2028&amp;\u2029<!--"}
    text = js_json(value)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_hostile_text_stays_text_in_every_file(tmp_path: Path) -> None:
    base = content(index_no="X-1")
    hostile = base.model_copy(
        update={
            "title": "</script><script>__pwn(5)</script>\u2028",
            "agency": '"><svg onload=__pwn(4)>',
            "body": "<img src=x onerror=__pwn(1)>\n\n[x](javascript:__pwn(3))",
        }
    )
    files = files_of(make(tmp_path, title='"><b>厅</b>'), job([view(hostile)]))
    for path, text in files.items():
        if path.endswith(".js") and path != "assets/kiosk.js":
            assert "<" not in text, path
            assert "\u2028" not in text, path
    page = files["index.html"]
    assert "<b>" not in page
    assert "&quot;&gt;&lt;b&gt;厅&lt;/b&gt;" in page
    data = item_data(files, hostile.id)
    assert data["title"] == hostile.title
    assert "<img" not in data["body_html"]
    assert "href" not in data["body_html"]


@pytest.mark.parametrize(
    "bad",
    [
        {"idle_seconds": 5},
        {"idle_seconds": 3601},
        {"portal_url": "http://www.linxi.gov.cn"},
        {"portal_url": 'https://www.linxi.gov.cn/"><script>'},
        {"title": "政务\n公开"},
        {"title": ""},
        {"home_items": 0},
        {"colour": "red"},
    ],
)
def test_settings_are_validated(tmp_path: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KioskSettings.model_validate({"path": tmp_path, **bad})


def test_defaults() -> None:
    settings = KioskSettings.model_validate({"path": "kiosk"})
    assert (settings.title, settings.idle_seconds, settings.portal_url) == (
        "政务公开查询",
        90,
        None,
    )
    caps = KioskAdapter.capabilities
    assert caps == Capabilities(
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,
        reads_back=True,
    )


def test_a_qr_code_of_the_portal_page_only_when_a_portal_is_configured(
    tmp_path: Path,
) -> None:
    item = view(content())
    with_portal = item_data(
        files_of(make(tmp_path, portal_url=PORTAL + "/"), job([item])), item.item_id
    )
    link = f"{PORTAL}/items/{item.item_id}.html"
    assert with_portal["portal_link"] == link
    assert with_portal["qr"].startswith("data:image/svg+xml")
    assert "<svg" in unquote(with_portal["qr"])
    without = item_data(files_of(make(tmp_path), job([item])), item.item_id)
    assert without["qr"] is None
    assert without["portal_link"] is None


@pytest.mark.parametrize("name", ["published", "revised", "withdrawn"])
def test_golden_renditions(tmp_path: Path, name: str) -> None:
    published, revised, _, withdrawn, _ = sample_jobs()
    jobs = {
        "published": replace(published, live_items=(published.item,)),
        "revised": replace(revised, live_items=(revised.item,)),
        "withdrawn": replace(withdrawn, withdrawn_items=(withdrawn.item,)),
    }
    files = files_of(make(tmp_path, title="临溪县政务公开查询"), jobs[name])
    # The assets are pinned by their hashes in the manifest.
    kept = {p: t for p, t in files.items() if not p.startswith("assets/")}
    folder = GOLDEN / name
    if os.environ.get("SYNDICATE_UPDATE_GOLDEN") == "1":
        for path, text in kept.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text, "utf-8")
    stored = {
        p.relative_to(folder).as_posix(): p.read_text("utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    assert stored == kept, "run with SYNDICATE_UPDATE_GOLDEN=1 and review the diff"


# -- delivering -----------------------------------------------------------------------


def test_read_back_equals_the_rendition_until_someone_tampers(tmp_path: Path) -> None:
    root = tmp_path / "kiosk"
    kiosk = make(root)
    a = view(content(index_no="B-1"), at=T0)
    b = view(content(index_no="B-2"), at=T0 + timedelta(minutes=1))
    delivery = job([a, b])
    session = requests.Session()
    assert kiosk.read_back(delivery, session) is None  # nothing there yet
    rendition = kiosk.render(delivery)
    kiosk.deliver(rendition, session)
    assert kiosk.read_back(delivery, session) == rendition.data

    item_file = root / "items" / f"{a.item_id}.js"
    item_file.write_text(item_file.read_text("utf-8").replace("47户", "470户"))
    assert kiosk.read_back(delivery, session) != rendition.data
    kiosk.deliver(rendition, session)
    assert kiosk.read_back(delivery, session) == rendition.data

    stray = root / "items" / f"{UUID(int=7)}.js"
    stray.write_text("KIOSK.items['x'] = {};", "utf-8")
    assert kiosk.read_back(delivery, session) != rendition.data
    kiosk.deliver(rendition, session)
    assert not stray.exists()
    (root / "manifest.json").unlink()
    assert kiosk.read_back(delivery, session) != rendition.data


@pytest.mark.parametrize(
    "path",
    ["../escape.js", "items/../../escape.js", "/etc/escape.js", "items/x/../y.js"],
)
def test_deliver_writes_only_bundle_files_inside_the_folder(
    tmp_path: Path, path: str
) -> None:
    kiosk = make(tmp_path / "kiosk")
    rendition = Rendition.of(
        canonical_json({"files": {path: "x"}}), "application/json", key="k"
    )
    with pytest.raises(PermanentDeliveryError):
        kiosk.deliver(rendition, requests.Session())
    assert not (tmp_path / "escape.js").exists()


def test_deliver_refuses_a_folder_that_leads_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "kiosk", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "items").symlink_to(outside)
    kiosk = make(root)
    with pytest.raises(PermanentDeliveryError):
        kiosk.deliver(kiosk.render(job([view(content())])), requests.Session())
    assert list(outside.iterdir()) == []


def test_file_system_errors_are_delivery_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("a file where the folder should be", "utf-8")
    kiosk = make(occupied)
    rendition = kiosk.render(job([view(content())]))
    with pytest.raises(TransientDeliveryError):
        kiosk.deliver(rendition, requests.Session())

    def denied(target: Path, data: bytes, *, mode: int = 0o644) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    # The kit writes every file outlet's files.
    monkeypatch.setattr(adapterkit, "write_atomically", denied)
    with pytest.raises(PermanentDeliveryError):
        make(tmp_path / "kiosk").deliver(rendition, requests.Session())


def test_publish_revise_withdraw_through_a_project(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "运维"})

    def cli(*args: str) -> None:
        result = runner.invoke(app, ["--home", str(home), *args])
        assert result.exit_code == 0, result.output + result.stderr

    cli("init", "--no-review")
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            """
[outlets.kiosk-hall]
kind = "kiosk"
channel = "kiosk"
path = "kiosk-hall"
title = "临溪县政务服务中心"
idle_seconds = 60
"""
        )
    item_file = tmp_path / "item.md"
    item_file.write_text(ITEM_FILE, "utf-8")
    bundle = home / "kiosk-hall"
    ref = "临溪县民政局/11330100MB0000006R/2026-00019"
    item_id = content().id

    def manifest() -> dict[str, Any]:
        data: dict[str, Any] = json.loads((bundle / "manifest.json").read_text("utf-8"))
        return data

    cli("items", "publish", str(item_file))
    cli("sync")
    [entry] = manifest()["items"]
    assert (entry["id"], entry["version"]) == (str(item_id), 1)
    assert manifest()["title"] == "临溪县政务服务中心"
    assert (bundle / entry["file"]).is_file()

    item_file.write_text(ITEM_FILE.replace("73人", "74人"), "utf-8")
    cli("items", "revise", ref, str(item_file), "--reason", "更正保障人数")
    cli("sync")
    [entry] = manifest()["items"]
    assert entry["version"] == 2
    files = {
        p.relative_to(bundle).as_posix(): p.read_text("utf-8")
        for p in bundle.rglob("*")
        if p.is_file()
    }
    data = item_data(files, item_id)
    assert "74人" in data["body_html"]
    assert [c["reason"] for c in data["corrections"]] == ["更正保障人数"]

    cli("items", "withdraw", ref, "--reason", "数据有误", "--note", "该公告已撤回。")
    cli("sync")
    assert manifest()["items"] == []
    assert not (bundle / entry["file"]).exists()
    assert list((bundle / "items").iterdir()) == []


# -- in the browser -------------------------------------------------------------------

# The kiosk's own clock in the browser tests: the EIA notice (公示期 07-21 to 07-27) is
# under notice, and every example item formed by then is published.
NOW = datetime(2026, 7, 22, 10, 0, tzinfo=CHINA_TZ)
IDLE = 120
XSS = [
    "<img src=x onerror=__pwn(1)>",
    "<script>__pwn(2)</script>",
    "[x](javascript:__pwn(3))",
    '"><svg onload=__pwn(4)>',
    "</script><script>__pwn(5)</script>",
    "\u2028__pwn(6)\u2029",
    "<a href='javascript:__pwn(7)'>点我</a>",
    '<iframe srcdoc="<script>parent.__pwn(8)</script>"></iframe>',
    "javascript:__pwn(9)",
]


@dataclass(frozen=True)
class Demo:
    root: Path
    manifest: dict[str, Any]
    revised: ItemView  # the EIA notice, version 2 with an attachment


def demo_items() -> tuple[list[ItemView], ItemView]:
    """The example items formed by NOW, published the next morning; one revised."""
    views: list[ItemView] = []
    for path in sorted((REPO / "examples" / "items").iterdir()):
        if path.suffix not in {".md", ".toml", ".json"}:
            continue
        item = load_item_file(path).content
        at = datetime.combine(item.formed_on + timedelta(days=1), time(9, 30), CHINA_TZ)
        if at <= NOW:
            views.append(view(item, at=at))
    [eia] = [v for v in views if "环境影响" in v.content.title]
    data = eia.content.model_dump(mode="json")
    data["body"] = eia.content.body.replace("0571-00000000", "0571-00000001")
    data["attachments"] = [
        {
            "name": "环境影响报告表（公示本）.pdf",
            "media_type": "application/pdf",
            "size": 2_345_678,
            "sha256": hashlib.sha256(b"eia report").hexdigest(),
        }
    ]
    fixed = ItemContent.model_validate(data)
    later = eia.published_at + timedelta(minutes=40)
    reason = "更正联系电话，补充环境影响报告表公示本"
    revised = view(
        fixed,
        at=later,
        published=eia.published_at,
        version=2,
        reason=reason,
        history=(
            record(eia, 1, "Published", eia.published_at),
            record(eia, 2, "Revised", later, reason),
        ),
    )
    return [revised if v is eia else v for v in views], revised


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("kiosk-demo")
    items, revised = demo_items()
    kiosk = make(root, title="临溪县政务公开查询", idle_seconds=IDLE, portal_url=PORTAL)
    kiosk.deliver(kiosk.render(job(items)), requests.Session())
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    return Demo(root, manifest, revised)


@contextlib.contextmanager
def kiosk_page(chromium: Browser, url: str) -> Iterator[Visit]:
    """The kiosk at 1080x1920, its clock starting at NOW."""
    with visit(chromium, url, width=1080, height=1920) as v:
        v.page.clock.install(time=NOW)
        v.page.reload()
        wait_for_screen(v.page, "home")
        yield v


def freeze(page: Page) -> None:
    """Stop the page's clock: from now on timers fire only through `run_for`.

    (Not earlier: axe-core schedules its work on timers, and would wait forever.)
    """
    now = page.evaluate("Date.now()") / 1000
    page.clock.pause_at(datetime.fromtimestamp(now + 1, UTC))


def wait_for_screen(page: Page, screen: str) -> None:
    # A selector, not wait_for_function: polling a JS predicate is an eval that the
    # bundle's Content Security Policy refuses.
    page.wait_for_selector(f'body[data-screen="{screen}"]', state="attached")


def shown_ids(page: Page) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "[data-item]", "nodes => nodes.map(n => n.dataset.item)"
    )
    return ids


_MEASURE = """
() => {
  const small = [], tiny = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest("noscript")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 24) small.push(`${el.tagName} ${size}px ${n.textContent.trim().slice(0, 20)}`);
  }
  const targets = "button, a, input, select, textarea, summary, [role=button], [onclick]";
  for (const el of document.querySelectorAll(targets)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.width < 48 || box.height < 48) {
      tiny.push(`${el.tagName} ${box.width}x${box.height} ${el.textContent.trim().slice(0, 20)}`);
    }
  }
  const wide = document.documentElement.scrollWidth > window.innerWidth;
  return { small, tiny, wide };
}
"""


def check_screen(page: Page) -> None:
    """Large type, large targets, no sideways scrolling, no WCAG 2.1 A/AA violations."""
    measured = page.evaluate(_MEASURE)
    assert measured["small"] == [], "text under 24 px"
    assert measured["tiny"] == [], "touch targets under 48 px"
    assert not measured["wide"], "the page scrolls sideways"
    violations = axe_violations(page)
    assert violations == [], format_violations(violations)


def save_screenshot(page: Page, tmp_path: Path, name: str, whole: bool) -> None:
    """A test artifact; with SYNDICATE_UPDATE_SCREENSHOTS=1 also the committed image.

    `whole`: the full screen as a viewport that tall shows it (the sticky 返回首页 bar
    at its foot, where a full-page capture would draw it mid-screen).
    """
    viewport = page.viewport_size
    assert viewport is not None
    if whole:
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": viewport["width"], "height": height})
    try:
        screenshot(page, tmp_path / name, full_page=False)
        if os.environ.get("SYNDICATE_UPDATE_SCREENSHOTS") == "1":
            screenshot(page, IMAGES / name, full_page=False)
    finally:
        page.set_viewport_size(viewport)


def test_the_kiosk_in_chromium(
    browser: Browser,  # noqa: F811
    demo: Demo,
    tmp_path: Path,
) -> None:
    entries = demo.manifest["items"]
    eia = str(demo.revised.item_id)
    with serve_directory(demo.root) as base, kiosk_page(browser, base) as v:
        page = v.page
        # Home: the latest items and the ways to browse.
        assert shown_ids(page) == [e["id"] for e in entries[:5]]
        assert page.title() == "临溪县政务公开查询"
        assert page.is_hidden("#home-button")
        check_screen(page)
        save_screenshot(page, tmp_path, "kiosk.png", whole=False)

        # By 五公开 stage.
        page.click('[data-stage="result"]')
        wait_for_screen(page, "stage")
        assert shown_ids(page) == [e["id"] for e in entries if e["stage"] == "result"]
        assert page.text_content("#screen-title") == "结果公开"
        check_screen(page)

        # By pilot area, then one item.
        page.click("#home-button")
        wait_for_screen(page, "home")
        page.click('[data-area="environmental_protection"]')
        wait_for_screen(page, "area")
        assert shown_ids(page) == [
            e["id"] for e in entries if e["area"] == "environmental_protection"
        ]
        assert page.text_content(f'[data-item="{eia}"]') is not None
        assert "公示中" in (page.text_content(f'[data-item="{eia}"]') or "")
        page.click(f'[data-item="{eia}"]')
        wait_for_screen(page, "item")
        text = page.inner_text("#screen")
        revised = demo.revised.content
        for expected in (
            revised.title,
            revised.agency,
            revised.index_no,
            "2026-07-21 至 2026-07-27（公示中）",
            "更正说明",
            "第 2 版（2026-07-21）：更正联系电话，补充环境影响报告表公示本",
            "0571-00000001",
            "环境影响报告表（公示本）.pdf",
            "大小：2.2 MB",
            revised.attachments[0].sha256,
            f"{PORTAL}/items/{eia}.html",
        ):
            assert expected in text, expected
        assert page.eval_on_selector(".qr img", "img => img.naturalWidth") > 0
        (tmp_path / "item-screen.html").write_text(page.content(), "utf-8")
        check_screen(page)
        save_screenshot(page, tmp_path, "kiosk-item.png", whole=True)

        # Idle: back home after idle_seconds without a touch, not before.
        freeze(page)
        page.mouse.click(540, 40)  # a touch (on the title bar) restarts the count
        page.clock.run_for((IDLE - 1) * 1000)
        assert page.evaluate("document.body.dataset.screen") == "item"
        page.mouse.click(540, 40)
        page.clock.run_for((IDLE - 1) * 1000)
        assert page.evaluate("document.body.dataset.screen") == "item"
        page.clock.run_for(2000)
        wait_for_screen(page, "home")

        # Days later, on the kiosk's own clock, the ended notice is no longer shown.
        assert eia in shown_ids(page)
        page.clock.fast_forward(6 * 24 * 3600 * 1000)  # 2026-07-28
        page.clock.run_for((IDLE + 1) * 1000)
        page.wait_for_selector(f'[data-item="{eia}"]', state="detached")
        assert page.query_selector('[data-area="environmental_protection"]') is None
        page.evaluate(f"location.hash = '#/item/{eia}'")
        wait_for_screen(page, "item")
        assert page.text_content("#screen-title") == "该信息已不在展示范围"
        assert v.problems() == []

    errors = vnu_errors([demo.root / "index.html", tmp_path / "item-screen.html"])
    assert errors == []


def test_the_bundle_also_works_opened_from_disk(
    browser: Browser,  # noqa: F811
    demo: Demo,
) -> None:
    with visit(
        browser, (demo.root / "index.html").as_uri(), width=1080, height=1920
    ) as v:
        wait_for_screen(v.page, "home")
        assert len(shown_ids(v.page)) == 5
        v.page.click("[data-item]")
        wait_for_screen(v.page, "item")
        v.settle()
        assert v.problems() == []


def test_hostile_text_runs_nothing_in_the_browser(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    root = tmp_path / "kiosk"
    items: list[ItemView] = []
    for n, payload in enumerate(XSS):
        # pydantic's model_copy skips validation (ItemContent's own validates): the
        # adapter must be safe on its own.
        hostile = BaseModel.model_copy(
            content(index_no=f"XSS-{n}", stage="服务公开"),
            update={
                "title": f"标题{payload}",
                "agency": f"机构{payload}",
                "doc_no": payload,
                "body": f"正文{payload}\n\n{payload}\n\n# {payload}",
                "attachments": (
                    Attachment.model_construct(
                        name=payload, media_type="text/plain", size=10, sha256="0" * 64
                    ),
                ),
            },
        )
        items.append(view(hostile, at=T0 + timedelta(minutes=n)))
    kiosk = make(root, title=f"终端{XSS[3]}", portal_url=PORTAL)
    kiosk.deliver(kiosk.render(job(items)), requests.Session())
    with serve_directory(root) as base, kiosk_page(browser, base) as v:
        page = v.page
        assert page.title() == f"终端{XSS[3]}"
        page.click("[data-stage=service]")
        wait_for_screen(page, "stage")
        assert len(shown_ids(page)) == len(XSS)
        for item in items:
            page.click("#home-button")
            wait_for_screen(page, "home")
            page.evaluate(f"location.hash = '#/item/{item.item_id}'")
            wait_for_screen(page, "item")
            # Shown as the very text, not as markup.
            assert page.text_content("#screen-title") == item.content.title
            assert item.content.agency in (page.text_content(".meta") or "")
            assert item.content.attachments[0].name in page.inner_text(".files")
        v.settle()
        assert v.xss_hits() == []
        assert v.dialogs == []
        assert v.problems() == []


def test_a_served_kiosk_reloads_itself_when_a_new_bundle_arrives(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    root = tmp_path / "kiosk"
    kiosk = make(root, idle_seconds=IDLE)
    first = view(content(index_no="N-1", title="第一条公告"), at=T0)
    kiosk.deliver(kiosk.render(job([first])), requests.Session())
    with serve_directory(root) as base, kiosk_page(browser, base) as v:
        assert shown_ids(v.page) == [str(first.item_id)]
        second = view(
            content(index_no="N-2", title="第二条公告"), at=T0 + timedelta(hours=1)
        )
        kiosk.deliver(kiosk.render(job([first, second])), requests.Session())
        v.page.clock.run_for((IDLE + 1) * 1000)
        v.page.wait_for_selector(f'[data-item="{second.item_id}"]', timeout=10_000)
        wait_for_screen(v.page, "home")
        assert shown_ids(v.page) == [str(second.item_id), str(first.item_id)]
        assert v.problems() == []
