"""`inventory`: what each outlet shows, read from the outlet itself (not from the log)."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.kiosk import KioskAdapter, KioskSettings
from syndicate_adapters.portal import PortalAdapter, PortalSettings
from syndicate_adapters.rss import RssAdapter, RssSettings
from syndicate_adapters.wechat_mp import (
    WechatMpAdapter,
    WechatMpSettings,
    forget_tokens,
)

from bench.portal import item_view_for, job_for
from syndicate.adapter import DeliveryJob, ItemView, Operation
from syndicate.testing.fakes import WechatMpServer

SITE = "https://www.linxi.gov.cn"
APP_ID = "wx0123456789abcdef"
SECRET = "5ecre7a1b2c3d4e5f60718293a4b5c6d"
STRANGER = UUID("0f0e0d0c-0b0a-4909-8807-060504030201")
SESSION = requests.Session()


def withdrawn(view: ItemView) -> ItemView:
    return replace(
        view,
        version=view.version + 1,
        withdrawn=True,
        public_note="该信息已撤回。",
        updated_at=view.updated_at + timedelta(days=1),
    )


def notice_job(view: ItemView) -> DeliveryJob:
    return replace(job_for(view), operation=Operation.WITHDRAWAL_NOTICE)


def whole_set(
    live: list[ItemView], gone: list[ItemView], outlet: str = "feeds"
) -> DeliveryJob:
    newest = max((*live, *gone), key=lambda v: v.updated_at)
    return DeliveryJob(
        delivery_id=uuid.uuid4(),
        outlet=outlet,
        channel=None,
        operation=Operation.PUBLISH,
        item=newest,
        live_items=tuple(live),
        withdrawn_items=tuple(gone),
    )


def junk(folder: Path, names: dict[str, str]) -> None:
    for name, text in names.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")


# -- portal -------------------------------------------------------------------------------


def test_portal_inventory_reads_the_item_pages(tmp_path: Path) -> None:
    root = tmp_path / "site"
    portal = PortalAdapter(PortalSettings(path=root, site_url=SITE))
    assert portal.inventory(SESSION) == set()
    views = [item_view_for(n) for n in range(4)]
    for view in views:
        portal.deliver(portal.render(job_for(view)), SESSION)
    assert portal.inventory(SESSION) == {v.item_id for v in views}
    # A withdrawal leaves a notice page: still shown.
    portal.deliver(portal.render(notice_job(withdrawn(views[0]))), SESSION)
    assert "本信息已撤回" in (root / "items" / f"{views[0].item_id}.html").read_text(
        "utf-8"
    )
    assert portal.inventory(SESSION) == {v.item_id for v in views}
    # A page copied in by hand counts; the log (and the stored entries) never saw it.
    shutil.copy(
        root / "items" / f"{views[1].item_id}.html",
        root / "items" / f"{STRANGER}.html",
    )
    assert portal.inventory(SESSION) == {STRANGER, *(v.item_id for v in views)}
    # A page removed by hand is gone, although its stored entry remains.
    (root / "items" / f"{views[2].item_id}.html").unlink()
    assert (portal.site.state / "entries" / f"{views[2].item_id}.json").is_file()
    assert views[2].item_id not in portal.inventory(SESSION)
    # Names that are not item pages are ignored, not fatal.
    junk(
        root / "items",
        {
            "not-a-uuid.html": "<p>x</p>",
            f"{STRANGER}.html.bak": "x",
            f".tmp-{STRANGER}.html": "x",
            "0f0e0d0c0b0a4909880706050403020.html": "x",
            "index.html": "x",
        },
    )
    (root / "items" / f"{uuid.uuid4()}.html").mkdir()  # a folder, not a page
    assert portal.inventory(SESSION) == {
        STRANGER,
        views[0].item_id,
        views[1].item_id,
        views[3].item_id,
    }


# -- rss ----------------------------------------------------------------------------------


def test_rss_inventory_reads_the_entry_ids_of_the_feeds(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    feeds = RssAdapter(RssSettings(path=folder, site_url=SITE))
    assert feeds.inventory(SESSION) == set()
    views = [item_view_for(n) for n in range(5)]
    feeds.deliver(feeds.render(whole_set(views, [])), SESSION)
    assert feeds.inventory(SESSION) == {v.item_id for v in views}
    # A withdrawal within notice_days: an RSS notice and an Atom tombstone.
    gone = withdrawn(views[0])
    feeds.deliver(feeds.render(whole_set(views[1:], [gone])), SESSION)
    assert f"urn:uuid:{gone.item_id}:withdrawn" in (folder / "feed.xml").read_text()
    assert feeds.inventory(SESSION) == {v.item_id for v in views}
    # Long after, the notice has left the feeds, and so has the item.
    later = replace(views[1], updated_at=gone.updated_at + timedelta(days=90))
    feeds.deliver(feeds.render(whole_set([later, *views[2:]], [gone])), SESSION)
    assert feeds.inventory(SESSION) == {v.item_id for v in views[1:]}


def test_rss_inventory_counts_a_hand_made_entry_and_skips_junk(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    feeds = RssAdapter(RssSettings(path=folder, site_url=SITE))
    views = [item_view_for(n) for n in range(2)]
    feeds.deliver(feeds.render(whole_set(views, [])), SESSION)
    feed = folder / "feed.xml"
    text = feed.read_text("utf-8")
    extra = (
        f'<item><title>手工添加</title><guid isPermaLink="false">urn:uuid:{STRANGER}'
        "</guid></item>\n<item><guid>urn:uuid:not-an-id</guid></item>\n"
        "<item><guid>https://elsewhere.example/1</guid></item>\n</channel>"
    )
    feed.write_text(text.replace("</channel>", extra), "utf-8")
    assert feeds.inventory(SESSION) == {STRANGER, *(v.item_id for v in views)}
    junk(
        folder,
        {
            "atom.xml": "<feed><entry>unterminated",
            "stage/decision.xml": "",
            "area/x.atom": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
            '"file:///etc/passwd">]><feed xmlns="http://www.w3.org/2005/Atom">'
            "<entry><id>&e;</id></entry></feed>",
        },
    )
    assert feeds.inventory(SESSION) == {STRANGER, *(v.item_id for v in views)}


# -- kiosk --------------------------------------------------------------------------------


def test_kiosk_inventory_reads_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "kiosk"
    kiosk = KioskAdapter(KioskSettings(path=folder))
    assert kiosk.inventory(SESSION) == set()
    views = [item_view_for(n) for n in range(3)]
    kiosk.deliver(kiosk.render(whole_set(views, [], "kiosk")), SESSION)
    assert kiosk.inventory(SESSION) == {v.item_id for v in views}
    # A withdrawn item leaves the kiosk (no notice there).
    gone = withdrawn(views[0])
    kiosk.deliver(kiosk.render(whole_set(views[1:], [gone], "kiosk")), SESSION)
    assert kiosk.inventory(SESSION) == {v.item_id for v in views[1:]}
    # An entry added to the manifest by hand counts; malformed entries do not.
    manifest_path = folder / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text("utf-8"))
    manifest["items"] += [
        {"id": str(STRANGER), "title": "手工添加"},
        {"id": "not-an-id"},
        {"id": 7},
        "junk",
        {},
    ]
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    assert kiosk.inventory(SESSION) == {STRANGER, *(v.item_id for v in views[1:])}
    for broken in ("{", "[]", '{"items": 3}', ""):
        manifest_path.write_text(broken, "utf-8")
        assert kiosk.inventory(SESSION) == set()


# -- directory ----------------------------------------------------------------------------


def test_directory_inventory_reads_the_item_documents(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    directory = DirectoryAdapter(DirectorySettings(path=folder))
    assert directory.inventory(SESSION) == set()
    views = [item_view_for(n) for n in range(3)]
    for view in views:
        directory.deliver(
            directory.render(replace(job_for(view), outlet="dir")), SESSION
        )
    assert directory.inventory(SESSION) == {v.item_id for v in views}
    # A withdrawal deletes the document: nothing is shown for it any more.
    directory.deliver(directory.render(notice_job(withdrawn(views[0]))), SESSION)
    assert directory.inventory(SESSION) == {v.item_id for v in views[1:]}
    junk(
        folder,
        {
            f"{STRANGER}.json": "{}",  # copied in by hand: counts
            "readme.json": "{}",
            f"{uuid.uuid4()}.txt": "x",
            f".tmp-{uuid.uuid4()}.json": "x",
        },
    )
    assert directory.inventory(SESSION) == {STRANGER, *(v.item_id for v in views[1:])}


# -- wechat_mp ----------------------------------------------------------------------------


@pytest.fixture
def fake() -> Any:
    forget_tokens()
    with WechatMpServer(app_id=APP_ID, secret=SECRET, publish_polls=0) as server:
        yield server
    forget_tokens()


def test_wechat_inventory_pages_through_the_published_articles(
    fake: WechatMpServer,
) -> None:
    mp = WechatMpAdapter(
        WechatMpSettings.model_validate(
            {
                "app_id": APP_ID,
                "app_secret": SECRET,
                "portal_url": SITE,
                "base_url": fake.url,
                "timeout": 5,
            }
        )
    )
    assert mp.inventory(SESSION) == set()
    views = [item_view_for(n) for n in range(23)]  # more than one page of 20
    receipts = {}
    for view in views:
        submitted = mp.deliver(mp.render(job_for(view)), SESSION)
        done = mp.confirm(submitted, SESSION)
        assert done is not None
        receipts[view.item_id] = dict(done.detail)
    assert mp.inventory(SESSION) == {v.item_id for v in views}
    batchgets = fake.calls("freepublish/batchget")
    assert len(batchgets) >= 2
    # A withdrawal deletes the article: it is no longer shown.
    gone = withdrawn(views[0])
    mp.deliver(
        mp.render(replace(notice_job(gone), previous=(receipts[gone.item_id],))),
        SESSION,
    )
    assert mp.inventory(SESSION) == {v.item_id for v in views[1:]}
    # An article someone published by hand with a 阅读原文 link to the portal counts;
    # links elsewhere or not to an item page do not.
    hand_made = [
        f"{SITE}/items/{STRANGER}.html",
        f"{SITE}/items/not-an-id.html",
        f"https://elsewhere.example/items/{uuid.uuid4()}.html",
        f"{SITE}/index.html",
        "",
    ]
    for n, source in enumerate(hand_made):
        fake.articles[f"HAND_{n}"] = {
            "article_id": f"HAND_{n}",
            "articles": [{"title": "手工", "content_source_url": source}],
            "url": f"https://mp.weixin.qq.com/s/HAND_{n}",
            "is_deleted": False,
        }
    assert mp.inventory(SESSION) == {STRANGER, *(v.item_id for v in views[1:])}
