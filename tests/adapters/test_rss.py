"""The rss adapter: RSS 2.0 and Atom feeds that readers parse, from the log alone."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import feedparser
import pytest
import requests
from lxml import etree
from syndicate_adapters.rss import TOMBSTONE_NS, RssAdapter, RssSettings

from syndicate.adapter import DeliveryJob, Operation
from syndicate.delivery import Worker
from syndicate.domain.deliveries import DeliveryState
from syndicate.errors import TransientDeliveryError
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import AdapterContract, FixedClock, LoopbackServer, sample_jobs
from tests.conftest import content

SITE = "https://www.linxi.gov.cn"


class TestRssContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = RssAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-feeds", "site_url": SITE}
    network: ClassVar[bool] = False


def files_of(adapter: RssAdapter, job: DeliveryJob) -> dict[str, str]:
    files: dict[str, str] = json.loads(adapter.render(job).data)["files"]
    return files


def adapter(tmp_path: Path, **settings: Any) -> RssAdapter:
    return RssAdapter(
        RssSettings.model_validate(
            {"path": tmp_path / "feeds", "site_url": SITE, **settings}
        )
    )


def test_feeds_parse_and_keep_one_id_across_revisions(tmp_path: Path) -> None:
    published, revised, *_ = sample_jobs()
    rss = adapter(tmp_path)
    before = files_of(rss, replace(published, live_items=(published.item,)))
    after = files_of(rss, replace(revised, live_items=(revised.item,)))
    assert set(before) == set(after)
    assert {
        "feed.xml",
        "atom.xml",
        "stage/result.xml",
        "area/social_assistance.atom",
    } <= set(after)
    for text in after.values():
        parsed = feedparser.parse(text)
        assert not parsed.bozo, parsed.bozo_exception
    old = feedparser.parse(before["atom.xml"]).entries[0]
    new = feedparser.parse(after["atom.xml"]).entries[0]
    assert old.id == new.id == f"urn:uuid:{published.item.item_id}"
    assert new.updated_parsed > old.updated_parsed
    assert "更正说明：更正人数" in new.summary
    rss_item = feedparser.parse(after["feed.xml"]).entries[0]
    assert rss_item.id == new.id
    assert rss_item.link == f"{SITE}/items/{published.item.item_id}.html"


def test_withdrawal_is_a_tombstone_in_atom_and_a_notice_in_rss(tmp_path: Path) -> None:
    *_, withdrawn_job, _ = sample_jobs()
    gone = withdrawn_job.item
    files = files_of(adapter(tmp_path), replace(withdrawn_job, withdrawn_items=(gone,)))
    atom = etree.fromstring(files["atom.xml"].encode())
    [stone] = atom.findall(f"{{{TOMBSTONE_NS}}}deleted-entry")
    assert stone.get("ref") == f"urn:uuid:{gone.item_id}"
    assert stone.get("when") == gone.updated_at.astimezone(stone_tz()).isoformat()
    assert feedparser.parse(files["atom.xml"]).entries == []
    [notice] = feedparser.parse(files["feed.xml"]).entries
    assert notice.id == f"urn:uuid:{gone.item_id}:withdrawn"
    assert notice.title.startswith("[已撤回]")
    assert "该公告已撤回" in notice.summary
    # After notice_days the notice leaves the feed (the tombstone too).
    later = replace(gone, item_id=gone.item_id)
    fresh = replace(withdrawn_job.item, updated_at=gone.updated_at + timedelta(days=40))
    quiet = files_of(
        adapter(tmp_path),
        replace(
            withdrawn_job, item=fresh, live_items=(fresh,), withdrawn_items=(later,)
        ),
    )
    assert "[已撤回]" not in quiet["feed.xml"]


def stone_tz() -> Any:
    from syndicate.domain.base import CHINA_TZ

    return CHINA_TZ


def test_no_markup_or_script_links_from_item_text(tmp_path: Path) -> None:
    job = sample_jobs()[0]
    hostile = content(
        title="<script>alert(1)</script>公告",
        body='[点我](javascript:alert(1)) <img src=x onerror="alert(1)">',
    )
    item = replace(job.item, content=hostile)
    files = files_of(adapter(tmp_path), replace(job, item=item, live_items=(item,)))
    for text in files.values():
        tree = etree.fromstring(text.encode())
        assert tree.findall(".//script") == []
        for element in tree.iter():
            for value in element.attrib.values():
                assert not value.lower().startswith("javascript:")
        for entry in feedparser.parse(text).entries:
            assert all(not link.href.startswith("javascript:") for link in entry.links)


def test_the_worker_keeps_the_feed_folder_equal_to_the_latest_rendition(
    project: Project, tmp_path: Path
) -> None:
    clock = FixedClock()
    rss = Outlet(
        name="feeds",
        kind="rss",
        channel=None,
        filter=OutletFilter(),
        settings=RssSettings.model_validate(
            {"path": tmp_path / "feeds", "site_url": SITE}
        ),
        adapter_class=RssAdapter,
    )
    outlets = {"feeds": rss}
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        a = items.publish(content(index_no="F/2026-1", title="甲公告"), actor="t")
        clock.advance(minutes=1)
        items.publish(
            content(index_no="F/2026-2", title="乙公告", area="就业"), actor="t"
        )
        clock.advance(minutes=1)
        items.revise(
            a.item_id,
            content(index_no="F/2026-1", title="甲公告（更正）"),
            reason="更正标题",
            actor="t",
        )
        clock.advance(minutes=1)
        items.withdraw(a.item_id, reason="r", public_note="已撤回。", actor="t")
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w", clock=clock)
        summary = worker.run_until_idle()
        states = [d.state for d in deliveries.all_deliveries().values()]
        assert (
            states.count(DeliveryState.SUCCEEDED) == 1
        )  # one rendition of the whole set
        assert summary.outcomes["superseded"] == 3
        [done] = [
            d
            for d in deliveries.all_deliveries().values()
            if d.state is DeliveryState.SUCCEEDED
        ]
        job = worker.outlet_set.job(done, {})
        assert (
            RssAdapter(rss.settings).read_back(job, requests.Session())
            == RssAdapter(rss.settings).render(job).data
        )
    titles = [
        e.title
        for e in feedparser.parse((tmp_path / "feeds" / "atom.xml").read_text()).entries
    ]
    assert titles == ["乙公告"]
    assert (tmp_path / "feeds" / "area" / "employment.xml").is_file()


def test_websub_hub_is_pinged_after_the_feeds_change(tmp_path: Path) -> None:
    pings: list[dict[str, list[str]]] = []

    def hub(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        pings.append(parse_qs(body.decode()))
        return 204, {}, b""

    with LoopbackServer(hub) as server:
        rss = adapter(tmp_path, hub=server.url + "/hub")
        job = sample_jobs()[0]
        rss.deliver(
            rss.render(replace(job, live_items=(job.item,))), requests.Session()
        )
    assert {p["hub.url"][0] for p in pings} == {
        f"{SITE}/feeds/feed.xml",
        f"{SITE}/feeds/atom.xml",
    }
    assert all(p["hub.mode"] == ["publish"] for p in pings)
    assert Operation.PUBLISH is job.operation


def test_a_hubs_huge_answer_is_not_read(tmp_path: Path) -> None:
    """A hub that answers with 64 MB: its status counts (202 passes, 503 is a transient
    failure); the body is not what the ping is for (at most 4 KB of it is read, through
    `netguard.exchange`, whose bounds tests/test_hostile_receivers.py measures)."""
    calls: list[int] = []

    def hub(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        calls.append(1)
        return (202 if len(calls) == 1 else 503), {}, b"x" * (64 << 20)

    with LoopbackServer(hub) as server:
        rss = adapter(tmp_path, hub=server.url + "/hub")
        job = sample_jobs()[0]
        rendition = rss.render(replace(job, live_items=(job.item,)))
        with pytest.raises(TransientDeliveryError, match="WebSub hub answered 503"):
            rss.deliver(rendition, requests.Session())
    assert len(calls) == 2


def test_renditions_match_the_golden_files() -> None:
    """The exact feed bytes for the sample jobs are pinned (auditors re-render them)."""
    golden_dir = Path(__file__).parent.parent / "golden" / "rss"
    rss = RssAdapter(RssSettings.model_validate({"path": "unused", "site_url": SITE}))
    jobs = sample_jobs()
    # A whole-set job: the published and revised items live, the withdrawn one gone.
    job = replace(jobs[0], live_items=(jobs[1].item,), withdrawn_items=(jobs[-1].item,))
    files = files_of(rss, job)
    golden = golden_dir / "feeds.json"
    if os.environ.get("SYNDICATE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(
            json.dumps(files, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            "utf-8",
        )
    assert files == json.loads(golden.read_text("utf-8"))


def test_a_whole_set_is_not_written_over_a_later_one(
    project: Project, tmp_path: Path
) -> None:
    """The last look before writing: a set as of a later position (planned by another
    process since this worker chose its batch) makes this one stand down."""
    clock = FixedClock()
    feeds = Outlet(
        name="feeds",
        kind="rss",
        channel=None,
        filter=OutletFilter(),
        settings=RssSettings.model_validate(
            {"path": tmp_path / "feeds", "site_url": SITE}
        ),
        adapter_class=RssAdapter,
    )
    outlets = {"feeds": feeds}
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        items.publish(content(index_no="F/2026-1", title="甲公告"), actor="t")
        deliveries.plan()
        worker = Worker(deliveries, items, outlets, name="w", clock=clock)
        [first] = worker.due(clock())
        assert not worker._superseded_in_store(first, feeds)
        # Meanwhile another process publishes and plans a later set.
        items.publish(content(index_no="F/2026-2", title="乙公告"), actor="t")
        deliveries.plan()
        assert worker._superseded_in_store(first, feeds)
        worker.close()
