"""The portal adapter: a static government site kept in step with the log, incrementally."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import requests
from playwright.sync_api import Browser
from syndicate_adapters.portal import PortalAdapter, PortalSettings, PortalSite

from bench.portal import item_view_for, job_for
from syndicate.adapter import DeliveryJob
from syndicate.attachments import PreparedAttachment
from syndicate.delivery import Worker
from syndicate.domain.deliveries import DeliveryState
from syndicate.errors import TransientDeliveryError
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.testing import AdapterContract, FixedClock, sample_jobs
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

SITE = "https://www.linxi.gov.cn"
GOLDEN = Path(__file__).parent.parent / "golden" / "portal"
IMAGES = Path(__file__).parent.parent.parent / "docs" / "images"
POLICY = "11330100MB0000001A/2026-00001"
READING = "11330100MB0000001A/2026-00002"
OTHER = "11330100MB0000006R/2026-00019"


class TestPortalContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = PortalAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-site", "site_url": SITE}
    network: ClassVar[bool] = False


def test_renditions_match_the_golden_files() -> None:
    """The exact bytes of each sample rendition are pinned (auditors re-render them)."""
    adapter = PortalAdapter(
        PortalSettings.model_validate({"path": "unused", "site_url": SITE})
    )
    for job in sample_jobs():
        rendition = adapter.render(job)
        golden = GOLDEN / f"{job.operation.value}-v{job.item.version}.json"
        if os.environ.get("SYNDICATE_UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(rendition.data)
        assert rendition.data == golden.read_bytes(), f"{golden.name} changed"


# -- a site driven through the real engine ------------------------------------------------


@dataclass
class Site:
    project: Project
    clock: FixedClock
    outlets: dict[str, Outlet]
    root: Path

    def sync(self) -> dict[str, int]:
        with (
            self.project.disclosures(clock=self.clock) as items,
            self.project.deliveries(
                items, clock=self.clock, outlets=self.outlets
            ) as deliveries,
        ):
            deliveries.plan()
            worker = Worker(
                deliveries,
                items,
                self.outlets,
                name="w",
                clock=self.clock,
                attachments=self.project.attachments.root,
            )
            try:
                summary = worker.run_until_idle()
            finally:
                worker.close()
            states = [d.state for d in deliveries.all_deliveries().values()]
        assert DeliveryState.FAILED not in states, states
        return dict(summary.outcomes)

    def files(self, root: Path | None = None) -> dict[str, bytes]:
        base = root or self.root
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file() and p.name != "lock"
        }

    def page(self, relative: str) -> str:
        return (self.root / relative).read_text("utf-8")


def portal_outlet(name: str, root: Path, **extra: Any) -> Outlet:
    return Outlet(
        name=name,
        kind="portal",
        channel=None,
        filter=OutletFilter(),
        settings=PortalSettings.model_validate(
            {
                "path": root,
                "site_url": SITE,
                "site_name": "临溪县人民政府",
                "site_id_code": "3301000001",
                **extra,
            }
        ),
        adapter_class=PortalAdapter,
    )


@pytest.fixture
def site(sqlite_project: Project, tmp_path: Path) -> Site:
    root = tmp_path / "site"
    return Site(
        sqlite_project,
        FixedClock(),
        {"portal": portal_outlet("portal", root)},
        root,
    )


def publish_three(site: Site, tmp_path: Path) -> dict[str, str]:
    """A policy with an attachment, its interpretation, and an unrelated item."""
    csv = tmp_path / "名单.csv"
    csv.write_text("序号,姓名\n1,王*明\n", encoding="utf-8")
    attachment = PreparedAttachment.from_file(csv)
    with site.project.disclosures(clock=site.clock) as items:
        policy = items.publish(
            content(
                agency="临溪县人民政府办公室",
                index_no=POLICY,
                doc_no="临政办发〔2026〕3号",
                title="临溪县2026年农村危房改造实施方案",
                area="农村危房改造",
                stage="决策公开",
                category="城乡建设",
                body="## 一、目标\n\n全年完成危房改造**120户**。\n\n- 摸底\n- 公示",
                notice_period={"start": "2026-10-09", "end": "2026-10-23"},
                attachments=[attachment.meta.model_dump()],
            ),
            actor="t",
            attachments=[attachment],
        )
        site.clock.advance(minutes=5)
        reading = items.publish(
            content(
                agency="临溪县人民政府办公室",
                index_no=READING,
                title="《临溪县2026年农村危房改造实施方案》政策解读",
                area="农村危房改造",
                stage="决策公开",
                interprets=str(policy.item_id),
                body="一图读懂实施方案。",
            ),
            actor="t",
        )
        site.clock.advance(minutes=5)
        other = items.publish(content(), actor="t")
    return {
        "policy": str(policy.item_id),
        "reading": str(reading.item_id),
        "other": str(other.item_id),
    }


def test_item_pages_carry_every_catalogue_element_and_the_links_both_ways(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    policy = site.page(f"items/{ids['policy']}.html")
    for label in (
        "索引号",
        "发布机构",
        "发文字号",
        "主题分类",
        "发布日期",
        "公开依据",
        "公开方式",
        "公开对象",
        "成文日期",
        "公示期",
    ):
        assert f"<dt>{label}</dt>" in policy, label
    assert "临政办发〔2026〕3号" in policy
    assert "2026-10-09 至 2026-10-23" in policy
    assert "<h3>一、目标</h3>" in policy
    assert "<strong>120户</strong>" in policy
    # The attachment: a download link with size and sha256, and the file itself.
    digest = hashlib.sha256("序号,姓名\n1,王*明\n".encode()).hexdigest()
    assert f"../files/{digest}/%E5%90%8D%E5%8D%95.csv" in policy
    assert digest in policy
    assert "B）" in policy
    assert (
        (site.root / "files" / digest / "名单.csv")
        .read_bytes()
        .startswith("序号".encode())
    )
    # Government page metadata (国办发〔2017〕47号).
    for name, value in (
        ("SiteName", "临溪县人民政府"),
        ("SiteDomain", "www.linxi.gov.cn"),
        ("SiteIDCode", "3301000001"),
        ("ColumnName", "决策公开"),
        ("ArticleTitle", "临溪县2026年农村危房改造实施方案"),
        ("ContentSource", "临溪县人民政府办公室"),
        ("Url", f"{SITE}/items/{ids['policy']}.html"),
    ):
        assert f'<meta name="{name}" content="{value}">' in policy, name
    assert re.search(
        r'<meta name="PubDate" content="\d{4}-\d\d-\d\d \d\d:\d\d">', policy
    )
    # The policy links to its interpretation, and the interpretation to the policy.
    reading = site.page(f"items/{ids['reading']}.html")
    assert f'href="{ids["reading"]}.html"' in policy
    assert "相关解读" in policy
    assert f'href="{ids["policy"]}.html"' in reading
    assert "本文解读的政策文件" in reading
    other = site.page(f"items/{ids['other']}.html")
    assert "相关解读" not in other
    assert "本文解读" not in other


def test_a_revision_shows_its_correction_and_history_and_touches_few_pages(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    before = site.files()
    site.clock.advance(days=2)
    with site.project.disclosures(clock=site.clock) as items:
        items.revise(
            ids["other"],
            content(title="临溪县2026年第一季度城乡最低生活保障审批结果公告（更正）"),
            reason="更正标题中的季度",
            actor="t",
        )
    site.sync()
    after = site.files()
    page = site.page(f"items/{ids['other']}.html")
    assert "更正说明：</strong>更正标题中的季度" in page
    assert "第 1 版" in page
    assert "第 2 版" in page
    assert "更正：更正标题中的季度" in page
    changed = {k for k in after if before.get(k) != after[k]}
    public = {k for k in changed if not k.startswith(".syndicate/")}
    # The item page, its month page and index in four columns, home, agency list,
    # search shard, sitemap month and index: nothing about the other items.
    assert f"items/{ids['other']}.html" in public
    assert f"items/{ids['policy']}.html" not in public
    assert f"items/{ids['reading']}.html" not in public
    assert "index.html" in public
    assert "list/all/index.html" in public
    assert len(public) <= 14, sorted(public)
    assert "（更正）" in site.page("index.html")


def test_a_withdrawal_becomes_a_notice_and_leaves_every_list(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    site.clock.advance(hours=3)
    with site.project.disclosures(clock=site.clock) as items:
        items.withdraw(
            ids["reading"],
            reason="解读内容需重新审核",
            public_note="该解读已撤回，修订后重新发布。",
            actor="t",
        )
    site.sync()
    notice = site.page(f"items/{ids['reading']}.html")
    assert "本信息已撤回" in notice
    assert "该解读已撤回，修订后重新发布。" in notice
    assert "一图读懂" not in notice  # the body is gone
    assert "<dt>撤回日期</dt>" in notice
    lists = [
        p.relative_to(site.root).as_posix()
        for p in site.root.rglob("*")
        if p.is_file()
        and not p.relative_to(site.root).as_posix().startswith((".syndicate", "items/"))
    ]
    for relative in lists:
        text = (site.root / relative).read_bytes().decode("utf-8", "replace")
        assert ids["reading"] not in text, f"{relative} still lists the withdrawn item"
    # The policy no longer links to a withdrawn interpretation.
    assert "相关解读" not in site.page(f"items/{ids['policy']}.html")


def test_an_item_no_longer_for_the_site_leaves_it_without_being_withdrawn(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    with site.project.disclosures(clock=site.clock) as items:
        items.revise(
            ids["other"],
            content(attribute="on_request"),  # 依申请公开: never on a public outlet
            reason="调整为依申请公开",
            actor="t",
        )
    site.sync()
    page = site.page(f"items/{ids['other']}.html")
    assert "本信息已不在本网站公开" in page
    assert "新增农村低保对象" not in page  # the body is gone
    assert ids["other"] not in site.page("index.html")
    assert ids["other"] not in site.page("list/all/index.html")


def test_withdrawn_content_leaves_the_site_attachments_included(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    digest = hashlib.sha256("序号,姓名\n1,王*明\n".encode()).hexdigest()
    assert (site.root / "files" / digest / "名单.csv").is_file()
    with site.project.disclosures(clock=site.clock) as items:
        items.withdraw(ids["policy"], reason="含个人信息", actor="t")
    site.sync()
    assert not (site.root / "files" / digest).exists()
    stored = json.loads(
        (state_folder(site.root) / "entries" / f"{ids['policy']}.json").read_bytes()
    )
    assert stored["entry"]["summary"] == ""
    assert stored["entry"]["attachments"] == []
    assert "危房改造**120户**" not in json.dumps(stored, ensure_ascii=False)
    assert "<title>[已撤回] " in site.page(f"items/{ids['policy']}.html")
    # A portal attached afterwards gets the notice, never the withdrawn file.
    site.outlets["late"] = portal_outlet("late", tmp_path / "late")
    site.sync()
    assert not (tmp_path / "late" / "files").exists()
    assert "本信息已撤回" in (
        tmp_path / "late" / "items" / f"{ids['policy']}.html"
    ).read_text("utf-8")


def test_lists_show_the_beijing_date(site: Site) -> None:
    # 20:30 UTC on 31 January is 04:30 on 1 February in Beijing.
    site.clock.now = datetime(2026, 1, 31, 20, 30, tzinfo=UTC)
    with site.project.disclosures(clock=site.clock) as items:
        change = items.publish(content(formed_on="2026-01-30"), actor="t")
    site.sync()
    home = site.page("index.html")
    assert '<span class="date">2026-02-01</span>' in home
    assert (site.root / "list" / "all" / "2026-02.html").is_file()
    rows = json.loads((site.root / "search" / "2026-02.json").read_bytes())
    assert [r["date"] for r in rows] == ["2026-02-01"]
    page = site.page(f"items/{change.item_id}.html")
    assert '<meta name="PubDate" content="2026-02-01 04:30">' in page


def test_new_settings_reach_every_page(site: Site, tmp_path: Path) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    renamed = portal_outlet("portal", site.root, site_name="临溪县人民政府门户网站")
    site.outlets["portal"] = renamed
    with site.project.disclosures(clock=site.clock) as items:
        items.publish(content(index_no="N/2026-1", title="新公告"), actor="t")
    site.sync()
    for item_id in ids.values():  # pages no delivery touched show the new name too
        assert "临溪县人民政府门户网站" in site.page(f"items/{item_id}.html")


def test_a_full_rebuild_from_the_log_gives_the_same_bytes(
    site: Site, tmp_path: Path
) -> None:
    """Incremental updates over many events = a new outlet backfilled from the log =
    `PortalSite.rebuild` from the stored entries."""
    ids = publish_three(site, tmp_path)
    site.sync()
    with site.project.disclosures(clock=site.clock) as items:
        for n in range(6):
            site.clock.advance(days=17)  # spread over months
            items.publish(
                content(index_no=f"X/2026-{n}", title=f"公告{n}", area="就业"),
                actor="t",
            )
        site.sync()
        site.clock.advance(days=3)
        items.revise(
            ids["reading"],
            content(
                agency="临溪县人民政府办公室",
                index_no=READING,
                title="政策解读（修订）",
                area="就业",
                stage="执行公开",
                body="修订后的解读。",
            ),
            reason="改为执行公开并解除关联",
            actor="t",
        )
        items.withdraw("临溪县民政局/X/2026-1", reason="r", actor="t")
        # The policy was the last item in 决策公开: a fixed column left empty.
        items.withdraw(ids["policy"], reason="r", actor="t")
    site.sync()
    incremental = site.files()
    assert "stage/decision/2026-10.html" not in incremental
    assert "相关解读" not in site.page(f"items/{ids['policy']}.html")

    # A second portal outlet, attached now, is backfilled from the log.
    fresh_root = tmp_path / "fresh"
    site.outlets["fresh"] = portal_outlet("fresh", fresh_root)
    site.sync()
    assert site.files(fresh_root) == incremental

    # And a rebuild from the stored entries alone.
    copy = tmp_path / "copy"
    (copy / ".syndicate").mkdir(parents=True)
    shutil.copytree(
        state_folder(site.root) / "entries", copy / ".syndicate" / "entries"
    )  # the old layout: the state moves out of the web root when the site opens
    shutil.copytree(site.root / "files", copy / "files")
    settings = site.outlets["portal"].settings.model_copy(update={"path": copy})
    assert isinstance(settings, PortalSettings)
    PortalSite(settings, durable=False).rebuild()
    assert site.files(copy) == incremental


def test_a_repealed_document_stays_marked_with_a_link_to_its_replacement(
    site: Site, tmp_path: Path
) -> None:
    """Through the engine (docs/lifecycle.md): 废止 keeps the page, with a banner and
    the link to the new document; its 解读 is marked too; lists tag it 已废止."""
    ids = publish_three(site, tmp_path)
    site.sync()
    site.clock.advance(days=1)
    with site.project.disclosures(clock=site.clock) as items:
        new = items.publish(
            content(
                agency="临溪县人民政府办公室",
                index_no="11330100MB0000001A/2026-00009",
                title="临溪县2026年农村危房改造实施方案（修订）",
                area="农村危房改造",
                stage="决策公开",
            ),
            actor="t",
        )
        site.clock.advance(hours=1)
        items.repeal(ids["policy"], reason="已修订", actor="t", replaced_by=new.item_id)
    site.sync()
    policy = site.page(f"items/{ids['policy']}.html")
    assert '<p class="banner repealed" role="note"><strong>已废止：</strong>' in policy
    assert "临溪县2026年农村危房改造实施方案（修订）" in policy  # the statement
    assert f'<a href="{new.item_id}.html">查看现行文件：' in policy
    assert "<dt>时效</dt><dd>已废止</dd>" in policy
    assert "<title>[已废止] 临溪县2026年农村危房改造实施方案 - " in policy
    reading = site.page(f"items/{ids['reading']}.html")
    assert '<p class="banner repealed" role="note">' in reading
    assert "本解读所对应的政策文件已废止，本解读随之失效。" in reading
    listing = site.page("list/all/index.html")
    assert (
        f'<a href="../../items/{ids["policy"]}.html">临溪县2026年农村危房改造实施方案</a>'
        ' <span class="validity">已废止</span>'
    ) in listing
    assert (
        f'<li><a href="../../items/{new.item_id}.html">' in listing
    )  # in force: no tag
    settings = site.outlets["portal"].settings
    assert isinstance(settings, PortalSettings)
    assert _rebuilt_copy(site.root, settings, tmp_path / "copy") == tree(site.root)


def test_a_notice_removed_at_its_end_leaves_the_site_with_its_window(
    site: Site, tmp_path: Path
) -> None:
    """`[notice] after_end = "remove"`: when the window ends the page becomes a notice
    that says so (not "no longer on this site"), and the item leaves every list."""
    config = site.project.home / "syndicate.toml"
    text = config.read_text("utf-8")
    config.write_text(
        text.replace("\n[notice]\n", '\n[notice]\nafter_end = "remove"\n', 1), "utf-8"
    )
    site.project = Project.load(site.project.home, environ={})
    ids = publish_three(site, tmp_path)
    site.sync()
    assert str(ids["policy"]) in site.page("list/all/index.html")
    site.clock.advance(days=16)  # past 2026-10-23
    with site.project.disclosures(clock=site.clock) as items:
        ended = items.advance(actor="t")  # what `syndicate sync` does first
    assert [c.event for c in ended] == ["NoticeEnded"]
    site.sync()
    page = site.page(f"items/{ids['policy']}.html")
    assert '<p class="badge">公示期已结束</p>' in page
    assert (
        "本公示公示期为2026年10月9日至2026年10月23日，现已结束，按规定不再公开。"
        in page
    )
    assert "本信息已不在本网站公开" not in page
    assert "<title>[公示期已结束] " in page
    for listing in ("index.html", "list/all/index.html", "stage/decision/index.html"):
        assert ids["policy"] not in site.page(listing), listing
    assert not (site.root / "files").exists() or not any(
        (site.root / "files").rglob("名单.csv")
    )


def _rebuilt_copy(root: Path, settings: PortalSettings, into: Path) -> dict[str, bytes]:
    """The site a rebuild makes from `root`'s stored entries and files alone."""
    shutil.rmtree(into, ignore_errors=True)
    shutil.rmtree(state_folder(into), ignore_errors=True)
    (into / ".syndicate").mkdir(parents=True)  # the old layout: moved out on opening
    shutil.copytree(state_folder(root) / "entries", into / ".syndicate" / "entries")
    if (root / "files").is_dir():
        shutil.copytree(root / "files", into / "files")
    PortalSite(settings.model_copy(update={"path": into}), durable=False).rebuild()
    return tree(into)


def state_folder(root: Path) -> Path:
    """Where a portal whose web root is `root` keeps its state by default."""
    return root.with_name(f"{root.name}.syndicate")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def test_an_update_interrupted_at_any_write_is_finished_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash after each write of an update that starts a new month in every column;
    the next delivery (of another item) must leave exactly what a rebuild gives."""
    base = tmp_path / "base"
    settings = PortalSettings.model_validate({"path": base, "site_url": SITE})
    adapter = PortalAdapter(settings)
    session = requests.Session()
    for n in range(0, 60, 3):  # about a month and a half at 20 a day
        adapter.deliver(adapter.render(job_for(item_view_for(n))), session)
    late = adapter.render(job_for(item_view_for(1400)))  # three months later
    other = adapter.render(job_for(item_view_for(10, version=2)))
    real_write = PortalSite._write
    crashes = 0
    for limit in range(0, 60, 2):
        site_dir = tmp_path / "crash"
        shutil.rmtree(site_dir, ignore_errors=True)
        shutil.rmtree(state_folder(site_dir), ignore_errors=True)
        shutil.copytree(base, site_dir)
        shutil.copytree(state_folder(base), state_folder(site_dir))
        crashing = PortalAdapter(settings.model_copy(update={"path": site_dir}))
        writes = {"n": 0}

        def write(
            self: PortalSite,
            relative: str,
            data: str | bytes,
            writes: dict[str, int] = writes,
            limit: int = limit,
            *,
            base: Path | None = None,
        ) -> None:
            writes["n"] += 1
            if writes["n"] > limit:
                raise OSError(5, "simulated crash")
            real_write(self, relative, data, base=base)

        monkeypatch.setattr(PortalSite, "_write", write)
        try:
            crashing.deliver(late, session)
        except TransientDeliveryError:
            crashes += 1
        monkeypatch.setattr(PortalSite, "_write", real_write)
        crashing.deliver(other, session)  # a later, unrelated delivery
        expected = _rebuilt_copy(site_dir, crashing.settings, tmp_path / "expected")
        got = tree(site_dir)
        # The late item's page may be missing if the crash came before its entry was
        # stored (that delivery is retried); everything present must equal a rebuild.
        assert got == expected, f"crash after {limit} writes"
    assert crashes >= 15  # the crash points really were inside the update


def test_read_back_reports_in_sync_drifted_and_missing(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    adapter = PortalAdapter(site.outlets["portal"].settings)
    with site.project.disclosures(clock=site.clock) as items:
        from syndicate.outletset import item_view

        item = items.get(ids["policy"])
    job = DeliveryJob(
        delivery_id=item.id,
        outlet="portal",
        channel=None,
        operation=sample_jobs()[0].operation,
        item=item_view(item),
    )
    expected = adapter.render(job).data
    session = requests.Session()
    assert adapter.read_back(job, session) == expected
    page = site.root / "items" / f"{ids['policy']}.html"
    page.write_text(page.read_text("utf-8").replace("120户", "12户"), "utf-8")
    assert adapter.read_back(job, session) not in (None, expected)
    page.unlink()
    assert adapter.read_back(job, session) is None


def test_the_sitemap_and_search_index_list_the_live_items(
    site: Site, tmp_path: Path
) -> None:
    ids = publish_three(site, tmp_path)
    site.sync()
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    index = ElementTree.fromstring(  # noqa: S314 (our own file)
        (site.root / "sitemap.xml").read_bytes()
    )
    maps = [e.text for e in index.findall("s:sitemap/s:loc", ns)]
    assert f"{SITE}/sitemaps/pages.xml" in maps
    urls: list[str] = []
    for loc in maps:
        assert loc is not None
        tree = ElementTree.fromstring(  # noqa: S314 (our own file)
            (site.root / loc.removeprefix(SITE + "/")).read_bytes()
        )
        urls += [e.text or "" for e in tree.findall("s:url/s:loc", ns)]
    for item_id in ids.values():
        assert f"{SITE}/items/{item_id}.html" in urls
    months = json.loads((site.root / "search" / "index.json").read_bytes())["months"]
    rows = [
        r
        for m in months
        for r in json.loads((site.root / "search" / f"{m}.json").read_bytes())
    ]
    assert {r["url"] for r in rows} == {f"items/{i}.html" for i in ids.values()}


# -- in the browser -----------------------------------------------------------------------

XSS_TEXT = [
    "<script>__pwn('script')</script>",
    "<img src=x onerror=\"__pwn('img')\">",
    '"><svg onload=__pwn("svg")>',
    "'><iframe srcdoc=\"<script>parent.__pwn('srcdoc')</script>\">",
    "</title><script>__pwn('title')</script>",
    "<a href=\"javascript:__pwn('href')\">点我</a>",
    "{{constructor.constructor('__pwn(1)')()}}",
]
XSS_MARKDOWN = "\n\n".join(
    [
        *XSS_TEXT,
        "[链接](javascript:__pwn('md-link'))",
        "![图](x\" onerror=\"__pwn('md-img'))",
        "<details open ontoggle=__pwn('toggle')>",
        "[x](data:text/html,<script>__pwn('data')</script>)",
        "<style>@import 'http://example.invalid/x.css';</style>",
    ]
)


@pytest.fixture
def hostile_site(site: Site, tmp_path: Path) -> tuple[Site, dict[str, str]]:
    """Every operator-written field carries XSS vectors, on every page type."""
    ids = publish_three(site, tmp_path)
    payload = " ".join(XSS_TEXT)
    with site.project.disclosures(clock=site.clock) as items:
        bad = items.publish(
            content(
                agency="临溪县<img src=x onerror=__pwn('agency')>局",
                index_no="XSS/2026-1",
                doc_no="<script>__pwn('doc')</script>",
                category="<svg onload=__pwn('category')>",
                title=("公告" + payload)[:200],
                body=XSS_MARKDOWN,
                audience="<b onmouseover=__pwn('aud')>全社会</b>",
            ),
            actor="t",
        )
        site.clock.advance(minutes=1)
        items.revise(
            bad.item_id,
            content(
                agency="临溪县<img src=x onerror=__pwn('agency')>局",
                index_no="XSS/2026-1",
                title=("更正" + payload)[:200],
                body=XSS_MARKDOWN + "\n\n更正。",
            ),
            reason=payload[:200],
            actor="t",
        )
        gone = items.publish(
            content(index_no="XSS/2026-2", title="待撤回" + payload[:100]), actor="t"
        )
        items.withdraw(gone.item_id, reason="r", public_note=payload[:500], actor="t")
    site.sync()
    return site, {**ids, "bad": str(bad.item_id), "gone": str(gone.item_id)}


def test_no_xss_vector_executes_on_any_page_type(
    browser: Browser, hostile_site: tuple[Site, dict[str, str]]
) -> None:
    site, ids = hostile_site
    bad_agency = next(
        p.parent.relative_to(site.root).as_posix()
        for p in (site.root / "agency").glob("*/index.html")
        if "onerror" in p.read_text("utf-8")
    )
    pages = [
        "index.html",
        f"items/{ids['bad']}.html",
        f"items/{ids['gone']}.html",
        "list/all/index.html",
        f"{bad_agency}/index.html",
        "agency/index.html",
        *sorted(
            p.relative_to(site.root).as_posix()
            for p in site.root.glob("*/*/20*.html")  # month pages of every column
        ),
        *sorted(
            p.relative_to(site.root).as_posix()
            for p in site.root.glob("area/*/index.html")
        ),
        "search.html?q=" + quote("公告"),
        "search.html?q=" + quote("<script>__pwn('q')</script>"),
    ]
    with serve_directory(site.root) as base:
        for page in pages:
            with visit(browser, base + page) as v:
                v.page.wait_for_load_state("networkidle")
                # Hover and click every link-like element a vector could hide in.
                for handle in v.page.query_selector_all("main a, main b, main details"):
                    handle.hover()
                v.settle(200)
                assert v.xss_hits() == [], page
                assert v.dialogs == [], page
                assert v.external_requests == [], page
                assert not v.page_errors, (page, v.page_errors)
        # The search shows hostile titles as text.
        with visit(browser, base + "search.html?q=__pwn") as v:
            v.page.wait_for_selector("#results li")
            shown = v.page.locator("#results li a").all_text_contents()
            assert any("<script>__pwn('script')</script>" in t for t in shown), shown
            assert v.xss_hits() == []


@pytest.fixture
def pages(site: Site, tmp_path: Path) -> tuple[Site, dict[str, str]]:
    ids = publish_three(site, tmp_path)
    site.clock.advance(hours=1)
    with site.project.disclosures(clock=site.clock) as items:
        gone = items.publish(
            content(index_no="W/2026-9", title="2026年招聘会通知"), actor="t"
        )
        items.withdraw(
            gone.item_id,
            reason="延期",
            public_note="原定招聘会延期举办，新的时间另行通知。",
            actor="t",
        )
    site.sync()
    return site, {**ids, "gone": str(gone.item_id)}


def test_pages_are_accessible_valid_and_self_contained(
    browser: Browser, pages: tuple[Site, dict[str, str]], tmp_path: Path
) -> None:
    site, ids = pages
    checked = {
        "home": "index.html",
        "column": "stage/decision/index.html",
        "item": f"items/{ids['policy']}.html",
        "withdrawal": f"items/{ids['gone']}.html",
    }
    problems = vnu_errors(site.root / p for p in [*checked.values(), "search.html"])
    assert problems == [], "\n".join(problems)
    with serve_directory(site.root) as base:
        for width, height in ((1366, 900), (375, 812)):
            for name, page in checked.items():
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
                    # The header search: input and 搜索 button on one line, inside
                    # the page, in normal and in large type.
                    for big in (False, True):
                        (in_top, _), (button_top, right) = v.page.evaluate(
                            "big => { document.documentElement.classList.toggle("
                            "'big', big); return ['.search input', '.search button']"
                            ".map(s => { const r = document.querySelector(s)"
                            ".getBoundingClientRect(); return [r.top, r.right]; }); }",
                            big,
                        )
                        where = f"{name}@{width}{' large type' if big else ''}"
                        assert button_top == in_top, f"{where}: 搜索 wraps"
                        assert right <= width, f"{where}: 搜索 is cut off"
                    v.page.evaluate("document.documentElement.classList.remove('big')")
                    shot = screenshot(v.page, tmp_path / f"portal-{name}-{width}.png")
                    if os.environ.get(
                        "SYNDICATE_UPDATE_SCREENSHOTS"
                    ) == "1" and name in (
                        "home",
                        "item",
                    ):
                        kind = "desktop" if width > 1000 else "mobile"
                        IMAGES.mkdir(parents=True, exist_ok=True)
                        shutil.copy(shot, IMAGES / f"portal-{name}-{kind}.png")


def test_larger_type_contrast_keyboard_and_offline_search(
    browser: Browser, pages: tuple[Site, dict[str, str]]
) -> None:
    site, _ids = pages
    with serve_directory(site.root) as base, visit(browser, base + "index.html") as v:
        page = v.page

        def size() -> float:
            value: float = page.evaluate(
                "parseFloat(getComputedStyle(document.body).fontSize)"
            )
            return value

        normal = size()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "跳到主要内容"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.toggle")
        assert focused == "big"
        page.keyboard.press("Enter")
        assert size() >= normal * 1.2
        page.click("button[data-toggle=contrast]")
        assert page.evaluate("document.documentElement.classList.contains('contrast')")
        assert axe_violations(page) == []
        page.reload()  # remembered
        assert size() >= normal * 1.2
        page.fill("#q", "危房")
        page.keyboard.press("Enter")
        page.wait_for_selector("#results li")
        titles = page.locator("#results li a").all_text_contents()
        assert "临溪县2026年农村危房改造实施方案" in titles
        assert all("招聘会" not in t for t in titles)  # withdrawn: not found
        assert v.problems() == []


def test_serve_previews_the_site_and_hides_its_state(
    site: Site, tmp_path: Path
) -> None:
    publish_three(site, tmp_path)
    home = site.project.home
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[outlets.portal]\nkind = "portal"\npath = "{site.root}"\n'
            f'site_url = "{SITE}"\n'
        )
    site.sync()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syndicate",
            "--home",
            str(home),
            "serve",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" at ")[-1].strip()
        assert url.startswith("http://127.0.0.1:"), line
        with requests.Session() as http:
            home_page = http.get(url + "index.html", timeout=5)
            assert home_page.status_code == 200
            assert home_page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "临溪县" in home_page.text
            entry = next((state_folder(site.root) / "entries").iterdir()).name
            assert not (site.root / ".syndicate").exists()
            assert http.get(url + "items/", timeout=5).status_code in (200, 404)
            for hidden in (
                f".syndicate/entries/{entry}",
                f"%2Esyndicate/entries/{entry}",
                f"items/../.syndicate/entries/{entry}",
                ".syndicate/journal.json",
                "%2Esyndicate/lock",
                "a/../.syndicate/lock",
            ):
                assert http.get(url + hidden, timeout=5).status_code == 404, hidden
            # .well-known/ (the published audit key and checkpoints) is served.
            known = site.root / ".well-known" / "syndicate-audit" / "public-key.txt"
            known.parent.mkdir(parents=True, exist_ok=True)
            known.write_text("k\n")
            served = http.get(
                url + ".well-known/syndicate-audit/public-key.txt", timeout=5
            )
            assert served.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)  # also closes the pipes


def test_serve_explains_what_is_wrong(sqlite_project: Project) -> None:
    from typer.testing import CliRunner

    from syndicate.cli import app

    runner = CliRunner()
    home = str(sqlite_project.home)
    result = runner.invoke(app, ["--home", home, "serve"])
    assert result.exit_code == 2
    assert "--outlet: say which outlet to preview" in result.output
    result = runner.invoke(app, ["--home", home, "serve", "--outlet", "nope"])
    assert result.exit_code == 2
    assert "no outlet 'nope'" in result.output
