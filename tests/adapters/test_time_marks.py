"""Time on the outlets this file covers (issue 17, docs/lifecycle.md): a 公示期 that
ended, a document repealed (废止) or expired (已失效), as the portal, the kiosk, the feeds,
the group robots and the WeChat official account show them.

The views are built as the core builds them (`syndicate.outletset.timed_content`): the
shown content's body ends with the statement, `validity` says 已废止 / 已失效, and the
version's history record is the time event.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
from lxml import etree
from playwright.sync_api import Browser
from pydantic import BaseModel
from syndicate_adapters.dingtalk_group import (
    DingTalkGroupAdapter,
    DingTalkGroupSettings,
)
from syndicate_adapters.kiosk import KioskAdapter, KioskSettings, shown_items
from syndicate_adapters.portal import PortalAdapter, PortalSettings
from syndicate_adapters.rss import RssAdapter, RssSettings
from syndicate_adapters.wechat_mp import WechatMpAdapter, WechatMpSettings
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

from syndicate.adapter import DeliveryJob, ItemContent, ItemView, Operation
from syndicate.domain.catalogue import Validity
from syndicate.domain.content import content_hash
from syndicate.domain.items import VersionRecord
from tests.browser import (
    axe_violations,
    browser_fixture,  # noqa: F401  (registers the `browser` fixture)
    format_violations,
    serve_directory,
    visit,
    vnu_errors,
)
from tests.conftest import content

SITE = "https://www.linxi.gov.cn"
T0 = datetime(2026, 4, 11, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
REPLACEMENT = UUID("0f0e0d0c-0b0a-4908-8706-050403020100")
REPLACEMENT_REF = "临溪县人民政府办公室/11330100MB0000001A/2026-00077"
REPEALED = (
    "本文件已于2026年12月4日废止，由《临溪县农村危房改造管理办法（2026年修订）》替代。"
)
EXPIRED = "本文件有效期至2026年12月3日，已失效。"
AFTER_END = ("hide_details", "keep", "remove")
LIST_CSV = "序号,姓名\n1,王*明\n".encode()
LIST_SHA = "e8d08beaa7550b7e592a72df787070e3a56d976814188b7c4a2ab6aa05babb35"
POLICY_REPEALED = "本解读所对应的政策文件已废止，本解读随之失效。"


# -- views as the core shows them --------------------------------------------------------


def _record(version: int, event: str, at: datetime, reason: str | None = None) -> Any:
    return VersionRecord(version, event, at, "测试", None, reason)


def published(item: ItemContent | None = None) -> ItemView:
    shown = item or content(
        agency="临溪县人民政府办公室",
        index_no="11330100MB0000001A/2026-00001",
        doc_no="临政办发〔2026〕3号",
        title="临溪县农村危房改造管理办法",
        area="农村危房改造",
        stage="决策公开",
        body="## 第一条\n\n为规范农村危房改造，制定本办法。",
    )
    return ItemView(
        item_id=shown.id,
        version=1,
        content=shown,
        content_hash=content_hash(shown),
        withdrawn=False,
        published_at=T0,
        updated_at=T0,
        history=(_record(1, "Published", T0),),
    )


def _shown(view: ItemView, line: str, **update: Any) -> ItemContent:
    """The content outlets show once time changed it: not re-validated, as the core's
    (`BaseModel.model_copy`), the body ending with `line`."""
    body = view.content.body + f"\n\n> {line}"
    return BaseModel.model_copy(view.content, update={"body": body, **update})


def later(
    view: ItemView, event: str, statement: str, shown: ItemContent, **marks: Any
) -> ItemView:
    """`view` one version on: the time event `event` recorded at LATER."""
    version = view.version + 1
    return replace(
        view,
        version=version,
        content=shown,
        updated_at=LATER,
        history=(*view.history, _record(version, event, LATER, statement)),
        **marks,
    )


def repealed(view: ItemView | None = None, *, replaced: bool = True) -> ItemView:
    view = view or published()
    shown = _shown(view, f"【已废止】{REPEALED}", validity=Validity.REPEALED)
    marks: dict[str, Any] = {"repealed": REPEALED}
    if replaced:
        marks |= {"replaced_by": REPLACEMENT, "replaced_by_ref": REPLACEMENT_REF}
    return later(view, "Repealed", REPEALED, shown, **marks)


def expired() -> ItemView:
    """A document in force until 2026-12-03 (a 规范性文件 with a term), expired."""
    view = published(
        content(
            agency="临溪县人民政府办公室",
            index_no="11330100MB0000001A/2026-00002",
            doc_no="临政办发〔2026〕4号",
            title="临溪县2026年冬春农村困难群众临时救助工作方案",
            validity="现行有效",
            valid_until="2026-12-03",
        )
    )
    shown = _shown(view, f"【已失效】{EXPIRED}", validity=Validity.EXPIRED)
    return later(view, "Expired", EXPIRED, shown, expired=EXPIRED)


def notice(after_end: str) -> ItemView:
    """A 公示 (2026-04-13 to 2026-04-24) whose window ended, as `after_end` shows it."""
    item = content(
        # One item per after_end, so a site can show them side by side.
        index_no=f"11330100MB0000006R/2026-0003{AFTER_END.index(after_end)}",
        title="临溪县2026年第二批农村低保拟纳入对象公示",
        body="拟纳入对象12户。",
        notice_period={"start": "2026-04-13", "end": "2026-04-24"},
        attachments=[
            {
                "name": "拟纳入名单.csv",
                "media_type": "text/csv",
                "size": 24,
                "sha256": LIST_SHA,
            }
        ],
    )
    view = published(item)
    line = "【公示期已结束】本公示公示期为2026年4月13日至2026年4月24日，现已结束。"
    update: dict[str, Any] = {}
    if after_end == "hide_details":
        line += "公示名单及附件不再展示。"
        update["attachments"] = ()
    shown = _shown(view, line, **update)
    return later(
        view,
        "NoticeEnded",
        "公示期已于2026年4月24日结束。",
        shown,
        notice_ended=after_end,
    )


def job(
    item: ItemView,
    operation: Operation = Operation.UPDATE,
    *,
    live: tuple[ItemView, ...] = (),
    withdrawn: tuple[ItemView, ...] = (),
    number: int = 7,
) -> DeliveryJob:
    return DeliveryJob(
        UUID(int=number),
        "outlet",
        None,
        operation,
        item,
        live_items=live,
        withdrawn_items=withdrawn,
    )


# -- portal ---------------------------------------------------------------------------


def portal(tmp_path: Path) -> PortalAdapter:
    return PortalAdapter(
        PortalSettings.model_validate({"path": tmp_path / "site", "site_url": SITE})
    )


def rendered(tmp_path: Path, delivery: DeliveryJob) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(portal(tmp_path).render(delivery).data)
    return data


def test_portal_a_repealed_page_says_so_at_the_top_and_links_its_replacement(
    tmp_path: Path,
) -> None:
    view = repealed()
    data = rendered(tmp_path, job(view))
    article = data["article"]
    banner = (
        '<p class="banner repealed" role="note"><strong>已废止：</strong>'
        f"{REPEALED} "
        f'<a href="{REPLACEMENT}.html">查看现行文件：{REPLACEMENT_REF}</a></p>'
    )
    assert banner in article
    # At the top: right under the title, before the catalogue elements.
    assert article.index(banner) < article.index('<dl class="meta">')
    assert "<dt>时效</dt><dd>已废止</dd>" in article
    assert "<td>废止：" + REPEALED in article  # the 版本记录 row
    assert data["entry"]["validity"] == "已废止"
    assert data["entry"]["repealed"] is True
    assert not data["entry"]["gone"]
    without = rendered(tmp_path, job(repealed(replaced=False)))["article"]
    assert 'class="banner repealed"' in without
    assert "查看现行文件" not in without


def test_portal_an_expired_page_and_a_reading_whose_policy_was_repealed(
    tmp_path: Path,
) -> None:
    article = rendered(tmp_path, job(expired()))["article"]
    assert (
        f'<p class="banner expired" role="note"><strong>已失效：</strong>{EXPIRED}</p>'
    ) in article
    assert "<dt>时效</dt><dd>已失效</dd>" in article
    assert "<dt>有效期至</dt><dd>2026-12-03</dd>" in article
    reading = published(
        content(index_no="R/2026-1", title="《临溪县农村危房改造管理办法》政策解读")
    )
    shown = _shown(reading, f"【已废止】{POLICY_REPEALED}", validity=Validity.REPEALED)
    marked = later(
        reading,
        "Repealed",
        POLICY_REPEALED,
        shown,
        repealed=POLICY_REPEALED,
        policy_repealed=True,
    )
    article = rendered(tmp_path, job(marked))["article"]
    assert (
        f'<p class="banner repealed" role="note"><strong>已废止：</strong>{POLICY_REPEALED}</p>'
        in article
    )


def test_portal_a_notice_whose_window_ended(tmp_path: Path) -> None:
    data = rendered(tmp_path, job(notice("hide_details")))
    article = data["article"]
    assert (
        '<p class="banner notice-ended" role="note"><strong>公示期已结束：</strong>'
        "本公示公示期为2026年4月13日至2026年4月24日，现已结束。"
        "公示名单及附件不再展示。</p>"
    ) in article
    assert "拟纳入名单.csv" not in article  # the core hid the attachments
    assert data["entry"]["attachments"] == []
    assert data["entry"]["notice_ended"] == "hide_details"
    assert "validity" not in data["entry"]
    kept = rendered(tmp_path, job(notice("keep")))["article"]
    assert "现已结束。</p>" in kept
    assert "拟纳入名单.csv" in kept


def test_portal_a_notice_removed_at_its_end_is_taken_down_with_its_window(
    tmp_path: Path,
) -> None:
    data = rendered(tmp_path, job(notice("remove"), Operation.RETRACT))
    article = data["article"]
    assert '<p class="badge">公示期已结束</p>' in article
    assert (
        "本公示公示期为2026年4月13日至2026年4月24日，现已结束，按规定不再公开。"
        in article
    )
    assert "本信息已不在本网站公开" not in article
    assert "拟纳入对象12户" not in article
    assert data["entry"]["gone"] is True
    assert data["entry"]["summary"] == ""
    # Whatever comes after (an update where a retraction was expected): still gone.
    assert rendered(tmp_path, job(notice("remove")))["entry"]["gone"] is True


def test_portal_entries_without_time_keep_their_bytes(tmp_path: Path) -> None:
    """Nothing time-related is added to an entry that time never changed (the golden
    files pin the exact bytes; this names the keys)."""
    entry = rendered(tmp_path, job(published(), Operation.PUBLISH))["entry"]
    for key in ("validity", "repealed", "expired", "notice_ended"):
        assert key not in entry


def portal_site(tmp_path: Path) -> tuple[PortalAdapter, dict[str, ItemView]]:
    """A site through the adapter: a repealed, an expired and a plain document, a
    notice that ended (kept) and one removed at its end."""
    adapter = portal(tmp_path)
    session = requests.Session()
    shown = {
        "law": repealed(),
        "old": expired(),
        "plain": published(content()),
        "ended": notice("keep"),
        "gone": notice("remove"),
    }
    deliveries = [
        job(published(), Operation.PUBLISH),
        job(shown["plain"], Operation.PUBLISH),
        job(published(notice("keep").content), Operation.PUBLISH),
        job(shown["law"]),
        job(shown["old"]),
        job(shown["ended"]),
        job(shown["gone"], Operation.RETRACT),
    ]
    store = tmp_path / "attachments"
    blob = store / LIST_SHA[:2] / LIST_SHA
    blob.parent.mkdir(parents=True)
    blob.write_bytes(LIST_CSV)
    for number, delivery in enumerate(deliveries, start=1):
        numbered = replace(delivery, delivery_id=UUID(int=number), attachments=store)
        rendition = adapter.render(numbered)
        adapter.deliver(rendition, session)
    return adapter, shown


def test_portal_site_lists_tag_lapsed_documents_and_drop_removed_notices(
    tmp_path: Path,
) -> None:
    adapter, shown = portal_site(tmp_path)
    law, gone, plain = shown["law"], shown["gone"], shown["plain"]
    root = tmp_path / "site"
    listing = (root / "list/all/index.html").read_text("utf-8")
    assert (
        f'<li><span><a href="../../items/{law.item_id}.html">{law.content.title}</a> '
        '<span class="validity">已废止</span></span>'
    ) in listing
    assert f'<li><a href="../../items/{plain.item_id}.html">' in listing
    assert str(gone.item_id) not in listing
    assert str(gone.item_id) not in (root / "index.html").read_text("utf-8")
    page = (root / f"items/{law.item_id}.html").read_text("utf-8")
    assert f"<title>[已废止] {law.content.title} - " in page
    notice_page = (root / f"items/{gone.item_id}.html").read_text("utf-8")
    assert f"<title>[公示期已结束] {gone.content.title} - " in notice_page
    search = json.loads((root / "search" / "2026-04.json").read_bytes())
    assert f"items/{gone.item_id}.html" not in {r["url"] for r in search}
    assert f"items/{law.item_id}.html" in {r["url"] for r in search}
    # A rebuild from the stored entries gives the same pages.
    ended = shown["ended"]
    assert (root / "files" / LIST_SHA / "拟纳入名单.csv").is_file()  # "keep"
    assert f"items/{ended.item_id}.html" in listing
    # A rebuild from the stored entries gives the same pages.
    before = {p: p.read_bytes() for p in sorted(root.rglob("*.html"))}
    adapter.site.rebuild()
    assert {p: p.read_bytes() for p in sorted(root.rglob("*.html"))} == before


def test_portal_time_pages_are_valid_and_accessible(
    browser: Browser, tmp_path: Path
) -> None:
    _adapter, shown = portal_site(tmp_path)
    root = tmp_path / "site"
    pages = {
        "repealed": f"items/{shown['law'].item_id}.html",
        "expired": f"items/{shown['old'].item_id}.html",
        "ended": f"items/{shown['ended'].item_id}.html",
        "removed": f"items/{shown['gone'].item_id}.html",
        "list": "list/all/index.html",
        "home": "index.html",
    }
    problems = vnu_errors(root / p for p in pages.values())
    assert problems == [], "\n".join(problems)
    with serve_directory(root) as base:
        for width, height in ((1366, 900), (375, 812)):
            for name, page in pages.items():
                with visit(browser, base + page, width=width, height=height) as v:
                    v.page.wait_for_load_state("networkidle")
                    assert v.problems() == [], (name, width, v.problems())
                    violations = axe_violations(v.page)
                    assert violations == [], f"{name}@{width}: " + format_violations(
                        violations
                    )
                    overflow = v.page.evaluate(
                        "document.documentElement.scrollWidth > window.innerWidth"
                    )
                    assert not overflow, f"{name} scrolls sideways at {width}px"


# -- kiosk ----------------------------------------------------------------------------


def kiosk(tmp_path: Path) -> KioskAdapter:
    return KioskAdapter(KioskSettings.model_validate({"path": tmp_path / "kiosk"}))


def kiosk_files(tmp_path: Path, live: tuple[ItemView, ...]) -> dict[str, str]:
    delivery = job(live[0], live=live)
    files: dict[str, str] = json.loads(kiosk(tmp_path).render(delivery).data)["files"]
    return files


def kiosk_item(files: dict[str, str], item: ItemView) -> dict[str, Any]:
    text = files[f"items/{item.item_id}.js"]
    data: dict[str, Any] = json.loads(text.split(" = ", 1)[1].removesuffix(";\n"))
    return data


def test_kiosk_hides_a_notice_once_the_log_says_its_window_is_over() -> None:
    # Built on the window's last day, by the kiosk's reckoning still under notice…
    built = datetime(2026, 4, 24, 12, 0, tzinfo=UTC)
    running = published(notice("keep").content)
    assert shown_items([running], built) == [running]
    # …but the log recorded its end (whatever after_end says): not shown.
    for after_end in AFTER_END:
        assert shown_items([notice(after_end)], built) == []


def test_kiosk_tags_documents_no_longer_in_force(tmp_path: Path) -> None:
    law, old, plain = repealed(), expired(), published(content())
    files = kiosk_files(tmp_path, (law, old, plain, notice("keep")))
    manifest = json.loads(files["manifest.json"])
    assert {e["id"] for e in manifest["items"]} == {
        str(law.item_id),
        str(old.item_id),
        str(plain.item_id),
    }
    assert kiosk_item(files, law)["lapsed"] == {
        "label": "已废止",
        "statement": REPEALED,
    }
    assert kiosk_item(files, law)["validity"] == "已废止"
    data = kiosk_item(files, old)
    assert data["lapsed"] == {"label": "已失效", "statement": EXPIRED}
    assert data["valid_until"] == "2026-12-03"
    assert kiosk_item(files, plain)["lapsed"] is None
    assert kiosk_item(files, plain)["validity"] is None


def test_kiosk_shows_the_tag_and_the_statement_in_chromium(
    browser: Browser, tmp_path: Path
) -> None:
    adapter = kiosk(tmp_path)
    law, plain = repealed(), published(content())
    adapter.deliver(
        adapter.render(job(law, live=(law, plain, notice("keep")))), requests.Session()
    )
    with (
        serve_directory(tmp_path / "kiosk") as base,
        visit(browser, base + "index.html", width=1080, height=1920) as v,
    ):
        page = v.page
        page.wait_for_selector('body[data-screen="home"]', state="attached")
        ids = page.eval_on_selector_all(
            "[data-item]", "nodes => nodes.map(n => n.dataset.item)"
        )
        assert sorted(ids) == sorted([str(law.item_id), str(plain.item_id)])
        assert page.text_content(f'[data-item="{law.item_id}"] .tag.lapsed') == "已废止"
        assert page.query_selector(f'[data-item="{plain.item_id}"] .tag') is None
        page.click(f'[data-item="{law.item_id}"]')
        page.wait_for_selector('body[data-screen="item"]', state="attached")
        assert page.text_content(".lapsed-note") == f"已废止：{REPEALED}"
        text = page.inner_text("#screen")
        assert "时效\n已废止" in text or "时效\t已废止" in text
        violations = axe_violations(page)
        assert violations == [], format_violations(violations)
        assert v.problems() == []


# -- group robots ---------------------------------------------------------------------

PORTAL = "https://www.linxi.gov.cn"


def wecom(**values: Any) -> WeComGroupAdapter:
    settings = WeComGroupSettings.model_validate(
        {
            "webhook": "693a91f6-7d0c-4bc4-97a0-0ec2f1fa5a01",
            "base_url": "http://127.0.0.1:9",
            "portal_url": PORTAL,
            **values,
        }
    )
    return WeComGroupAdapter(settings)


def dingtalk() -> DingTalkGroupAdapter:
    settings = DingTalkGroupSettings.model_validate(
        {
            "access_token": "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e",
            "base_url": "http://127.0.0.1:9",
            "portal_url": PORTAL,
        }
    )
    return DingTalkGroupAdapter(settings)


def robot_text(adapter: Any, delivery: DeliveryJob) -> str:
    bodies = json.loads(adapter.render(delivery).data)
    parts = []
    for body in bodies:
        kind = body["msgtype"]
        part = body[kind].get("content") or body[kind].get("text", "")
        parts.append(part)
    return "\n".join(parts)


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_robots_say_repealed_and_expired_not_corrected(msgtype: str) -> None:
    adapter = wecom(msgtype=msgtype)
    law = repealed()
    text = robot_text(adapter, job(law, Operation.CORRECTION))
    assert f"【废止】{law.content.title}" in text
    assert REPEALED in text
    assert "更正" not in text
    assert "废止日期：2026-12-04" in text
    assert f"{PORTAL}/items/{law.item_id}.html" in text
    old = expired()
    text = robot_text(adapter, job(old, Operation.CORRECTION))
    assert f"【失效】{old.content.title}" in text
    assert EXPIRED in text
    assert "更正" not in text


def test_robots_say_a_window_ended_with_its_closing_line() -> None:
    for after_end, closing in (
        ("hide_details", "现已结束。公示名单及附件不再展示。"),
        ("keep", "现已结束。"),
        ("remove", "现已结束。该公示已按规定撤下，不再公开。"),
    ):
        ended = notice(after_end)
        for adapter in (wecom(), dingtalk()):
            text = robot_text(adapter, job(ended, Operation.CORRECTION))
            assert f"【公示结束】{ended.content.title}" in text
            assert (
                f"《{ended.content.title}》公示期为2026年4月13日至2026年4月24日，"
                + closing
            ) in text
            assert "公示期：2026-04-13 至 2026-04-24" in text
            assert "更正说明" not in text
            assert "拟纳入对象12户" not in text  # the statement, not the text again


def test_robots_correct_a_repealed_document_revised_later() -> None:
    """A version that changed the text is a 更正 even of a repealed document."""
    law = repealed()
    revised = replace(
        law,
        version=3,
        reason="更正替代文件名称",
        history=(*law.history, _record(3, "Revised", LATER, "更正替代文件名称")),
    )
    text = robot_text(wecom(), job(revised, Operation.CORRECTION))
    assert f"【更正】{law.content.title}" in text
    assert "更正说明：更正替代文件名称" in text
    assert "【废止】" not in text


def test_dingtalk_titles_and_a_long_statement_still_fits() -> None:
    adapter = dingtalk()
    law = repealed()
    [body] = json.loads(adapter.render(job(law, Operation.CORRECTION)).data)
    assert body["markdown"]["title"] == f"【废止】{law.content.title}"
    # The longest statement (a public note is at most 2000 characters, in one
    # paragraph) under the longest title: split within each robot's byte limits.
    long = "本文件已废止。" + "相关事项按新办法执行。" * 181
    assert len(long) <= 2000
    title = "临溪县" + "农村危房改造" * 32 + "办法"
    assert len(title) <= 200
    marked = replace(
        law,
        repealed=long,
        content=BaseModel.model_copy(law.content, update={"title": title}),
    )
    for robot, limit, part in (
        (wecom(msgtype="text"), 2048, lambda b: b["text"]["content"]),
        (wecom(), 4096, lambda b: b["markdown"]["content"]),
        (dingtalk(), 20_000, lambda b: json.dumps(b, ensure_ascii=False)),
    ):
        bodies = json.loads(robot.render(job(marked, Operation.CORRECTION)).data)
        parts = [part(b) for b in bodies]
        assert all(len(p.encode()) <= limit for p in parts), robot.kind
        assert len(parts) > 1 or robot.kind == "dingtalk_group"
        assert "".join(parts).count("相关事项按新办法执行。") == 181
        assert "【废止】" in parts[0]
        assert all("更正" not in p for p in parts)


# -- WeChat official account ----------------------------------------------------------


def wechat() -> WechatMpAdapter:
    return WechatMpAdapter(
        WechatMpSettings.model_validate(
            {
                "app_id": "wx0123456789abcdef",
                "app_secret": "5ecre7a1b2c3d4e5f60718293a4b5c6d",
                "portal_url": PORTAL,
            }
        )
    )


def article(delivery: DeliveryJob) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(wechat().render(delivery).data)["article"]
    return data


def test_wechat_a_repealed_or_expired_document_is_titled_so() -> None:
    law = repealed()
    found = article(job(law, Operation.CORRECTION))
    assert found["title"] == f"【废止】{law.content.title}"
    assert f"<p><strong>废止说明：</strong>{REPEALED}</p>" in found["content"]
    assert "<th>废止日期</th><td>2026-12-04</td>" in found["content"]
    assert "更正" not in found["content"]
    old = expired()
    found = article(job(old, Operation.CORRECTION))
    assert found["title"] == f"【失效】{old.content.title}"
    assert f"<p><strong>失效说明：</strong>{EXPIRED}</p>" in found["content"]
    # An ordinary correction is still one.
    plain = replace(published(), version=2, reason="更正人数", updated_at=LATER)
    found = article(job(plain, Operation.CORRECTION))
    assert found["title"] == f"【更正】{plain.content.title}"
    assert "<strong>更正说明：</strong>更正人数" in found["content"]


# -- feeds ----------------------------------------------------------------------------


def feeds(tmp_path: Path, delivery: DeliveryJob) -> dict[str, str]:
    adapter = RssAdapter(
        RssSettings.model_validate({"path": tmp_path / "feeds", "site_url": SITE})
    )
    files: dict[str, str] = json.loads(adapter.render(delivery).data)["files"]
    return files


def test_feeds_mark_lapsed_entries(tmp_path: Path) -> None:
    law, old, plain = repealed(), expired(), published(content())
    files = feeds(tmp_path, job(law, live=(law, old, plain)))
    rss = etree.fromstring(files["feed.xml"].encode())
    titles = {i.findtext("guid"): i.findtext("title") for i in rss.iter("item")}
    assert titles[f"urn:uuid:{law.item_id}"] == f"【已废止】{law.content.title}"
    assert titles[f"urn:uuid:{old.item_id}"] == f"【已失效】{old.content.title}"
    assert titles[f"urn:uuid:{plain.item_id}"] == plain.content.title
    text = next(
        i.findtext("description")
        for i in rss.iter("item")
        if i.findtext("guid") == f"urn:uuid:{law.item_id}"
    )
    assert text is not None
    assert text.startswith(f"已废止：{REPEALED}\n")
    assert "时效：已废止" in text


def test_feeds_treat_a_notice_removed_at_its_end_as_withdrawn(tmp_path: Path) -> None:
    gone, plain = notice("remove"), published(content())
    # Listed as live by mistake, or as withdrawn as the core does: the same feeds.
    listed_live = feeds(tmp_path, job(gone, live=(gone, plain)))
    listed_gone = feeds(tmp_path, job(gone, live=(plain,), withdrawn=(gone,)))
    assert listed_live == listed_gone
    rss = etree.fromstring(listed_live["feed.xml"].encode())
    guids = [i.findtext("guid") for i in rss.iter("item")]
    assert f"urn:uuid:{gone.item_id}" not in guids
    assert f"urn:uuid:{gone.item_id}:withdrawn" in guids
    item = next(
        i
        for i in rss.iter("item")
        if i.findtext("guid") == f"urn:uuid:{gone.item_id}:withdrawn"
    )
    assert item.findtext("title") == f"[公示期已结束] {gone.content.title}"
    assert "按规定不再公开" in (item.findtext("description") or "")
    assert "撤回" not in (item.findtext("description") or "")
    atom = etree.fromstring(listed_live["atom.xml"].encode())
    ns = {
        "a": "http://www.w3.org/2005/Atom",
        "at": "http://purl.org/atompub/tombstones/1.0",
    }
    assert f"urn:uuid:{gone.item_id}" not in [
        e.text for e in atom.iterfind("a:entry/a:id", ns)
    ]
    [tombstone] = atom.iterfind("at:deleted-entry", ns)
    assert tombstone.get("ref") == f"urn:uuid:{gone.item_id}"
    assert "按规定不再公开" in (tombstone.findtext("at:comment", namespaces=ns) or "")
    # Withdrawn items keep their own notice.
    withdrawn = replace(plain, withdrawn=True, public_note="该公告已撤回。")
    files = feeds(tmp_path, job(withdrawn, withdrawn=(withdrawn,)))
    assert f"[已撤回] {plain.content.title}" in files["feed.xml"]
    assert "撤回说明：该公告已撤回。" in files["feed.xml"]
