"""`witness`: the portal and the feeds publish the audit log's signed checkpoints."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from lxml import etree
from playwright.sync_api import Browser
from syndicate_adapters.portal import PortalAdapter, PortalSettings, PortalSite
from syndicate_adapters.rss import RssAdapter, RssSettings

from bench.portal import item_view_for, job_for
from syndicate.adapter import DeliveryJob, Operation, WitnessedCheckpoint
from syndicate.signing import Checkpoint, Signer
from tests.browser import (
    axe_violations,
    browser_fixture,  # noqa: F401  (registers the `browser` fixture)
    format_violations,
    serve_directory,
    visit,
    vnu_errors,
)

SITE = "https://www.linxi.gov.cn"
ORIGIN = "www.linxi.gov.cn/syndicate"
SIGNER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
KEY = SIGNER.verifier().to_text()
START = datetime(2026, 4, 11, 2, 0, tzinfo=UTC)
SESSION = requests.Session()
WELL_KNOWN = ".well-known/syndicate-audit"


def checkpoint(
    number: int,
    size: int | None = None,
    *,
    signer: Signer = SIGNER,
    origin: str = ORIGIN,
) -> WitnessedCheckpoint:
    size = number * 617 if size is None else size
    root = hashlib.sha256(f"root {number}".encode()).digest()
    note = signer.sign(Checkpoint(origin, size, root).body())
    return WitnessedCheckpoint(
        number=number,
        size=size,
        root_hex=root.hex(),
        at=START + timedelta(hours=number, seconds=number),
        note=note,
    )


def portal(root: Path, **settings: str) -> PortalAdapter:
    return PortalAdapter(
        PortalSettings.model_validate(
            {"path": root, "site_url": SITE, "site_name": "临溪县人民政府", **settings}
        )
    )


def site_with_items(root: Path, count: int = 3) -> PortalAdapter:
    adapter = portal(root)
    for n in range(count):
        adapter.deliver(adapter.render(job_for(item_view_for(n))), SESSION)
    return adapter


def tree(root: Path, under: str = "") -> dict[str, bytes]:
    base = root / under if under else root
    if not base.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def witness_files(root: Path) -> dict[str, bytes]:
    return {**tree(root, WELL_KNOWN), **tree(root, "audit")}


def notes_in(feed: bytes) -> list[str]:
    """The text of each Atom entry's content, exactly as the file has it."""
    atom = "{http://www.w3.org/2005/Atom}"
    tree = etree.fromstring(feed)
    return [e.text or "" for e in tree.iterfind(f"{atom}entry/{atom}content")]


def utc(parsed: time.struct_time) -> datetime:
    """A feedparser time (UTC) as a datetime."""
    return datetime(*parsed[:6], tzinfo=UTC)


def row_numbers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="checkpoint-(\d+)">', page)]


# -- the portal ---------------------------------------------------------------------------


def test_the_portal_publishes_every_note_the_key_and_the_newest(
    tmp_path: Path,
) -> None:
    root = tmp_path / "site"
    adapter = site_with_items(root)
    first = [checkpoint(1), checkpoint(2, 1234)]
    adapter.witness(first, KEY)
    audit = root / WELL_KNOWN
    assert (audit / "public-key.txt").read_text("utf-8") == KEY + "\n"
    assert (audit / "checkpoint.txt").read_text("utf-8") == first[1].note
    assert (audit / "checkpoints" / "1.txt").read_text("utf-8") == first[0].note
    assert (audit / "checkpoints" / "2.txt").read_text("utf-8") == first[1].note
    assert first[1].note.startswith(f"{ORIGIN}\n1234\n")
    page = (root / "audit" / "index.html").read_text("utf-8")
    assert row_numbers(page) == [2, 1]
    assert "<td>1,234</td>" in page
    assert first[1].root_hex in page
    assert f'href="../{WELL_KNOWN}/checkpoints/2.txt"' in page
    assert "2026-04-11 12:00:02" in page  # 02:00 UTC + 2 h 2 s, in Beijing time
    assert "syndicate audit verify --export DIR --pubkey public-key.txt" in page
    assert KEY in page
    assert "<title>审计检查点 - 临溪县人民政府</title>" in page

    # The whole list again, plus one: the new one is added, nothing else changes.
    before = witness_files(root)
    adapter.witness([*first, checkpoint(3)], KEY)
    after = witness_files(root)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {
        f"{WELL_KNOWN}/checkpoints/3.txt",
        f"{WELL_KNOWN}/checkpoint.txt",
        "audit/index.html",
        "audit/checkpoints.xml",
    }
    assert (audit / "checkpoint.txt").read_text("utf-8") == checkpoint(3).note
    assert row_numbers((root / "audit" / "index.html").read_text("utf-8")) == [3, 2, 1]


def test_witness_is_idempotent_and_rewrites_nothing(tmp_path: Path) -> None:
    root = tmp_path / "site"
    adapter = site_with_items(root)
    checkpoints = [checkpoint(n) for n in range(1, 5)]
    adapter.witness(checkpoints, KEY + "\n")  # a key file's text, newline and all
    files = witness_files(root)
    state = adapter.site.state / "witness.json"
    assert state.is_file()
    assert not (root / ".syndicate").exists()
    names = [root / k for k in files] + [state]
    stamps = {k: k.stat().st_mtime_ns for k in names}
    adapter.witness(list(reversed(checkpoints)), KEY)  # the order given is not kept
    assert witness_files(root) == files
    assert {k: k.stat().st_mtime_ns for k in names} == stamps
    # Another site given the same checkpoints has the same bytes.
    other = tmp_path / "other"
    site_with_items(other).witness(checkpoints, KEY)
    assert witness_files(other) == files


def test_rebuild_and_deliveries_keep_the_witness_files(tmp_path: Path) -> None:
    root = tmp_path / "site"
    adapter = site_with_items(root)
    adapter.witness([checkpoint(1), checkpoint(2)], KEY)
    kept = witness_files(root)
    PortalSite(adapter.settings).rebuild()
    assert witness_files(root) == kept
    adapter.deliver(adapter.render(job_for(item_view_for(40))), SESSION)
    gone = replace(item_view_for(1), version=2, withdrawn=True)
    notice = replace(job_for(gone), operation=Operation.WITHDRAWAL_NOTICE)
    adapter.deliver(adapter.render(notice), SESSION)
    assert witness_files(root) == kept
    # The footer of every page links to the audit page; it and the sitemap list it.
    for page in root.rglob("*.html"):
        depth = len(page.relative_to(root).parts) - 1
        assert f'href="{"../" * depth}audit/index.html"' in page.read_text("utf-8")
    assert f"{SITE}/audit/index.html" in (root / "sitemaps/pages.xml").read_text()


def test_a_rebuild_needs_no_witness_files(tmp_path: Path) -> None:
    """Rebuilding from the stored entries alone gives the page with no checkpoints, and
    the same bytes as a site that was never witnessed."""
    witnessed = tmp_path / "witnessed"
    site_with_items(witnessed).witness([checkpoint(1)], KEY)
    plain = tmp_path / "plain"
    site_with_items(plain)
    empty = (plain / "audit" / "index.html").read_text("utf-8")
    assert "本网站尚未发布审计检查点" in empty
    assert "<tr" not in empty
    copy = tmp_path / "copy"
    (copy / ".syndicate").mkdir(parents=True)
    shutil.copytree(
        witnessed.with_name("witnessed.syndicate") / "entries",
        copy / ".syndicate" / "entries",
    )  # the old layout: the state moves out of the web root when the site opens
    settings = PortalSettings.model_validate(
        {"path": copy, "site_url": SITE, "site_name": "临溪县人民政府"}
    )
    PortalSite(settings, durable=False).rebuild()
    assert not (copy / ".well-known").exists()
    assert tree(copy) == tree(plain)


def test_new_settings_re_render_the_audit_page_with_its_checkpoints(
    tmp_path: Path,
) -> None:
    root = tmp_path / "site"
    site_with_items(root).witness([checkpoint(1), checkpoint(2)], KEY)
    renamed = portal(root, site_name="临溪县人民政府门户网站")
    renamed.deliver(renamed.render(job_for(item_view_for(50))), SESSION)
    page = (root / "audit" / "index.html").read_text("utf-8")
    assert "<title>审计检查点 - 临溪县人民政府门户网站</title>" in page
    assert row_numbers(page) == [2, 1]
    feed = feedparser.parse((root / "audit" / "checkpoints.xml").read_bytes())
    assert feed.feed.title == "临溪县人民政府门户网站：审计检查点"


def test_a_witness_on_a_new_site_makes_a_whole_site(tmp_path: Path) -> None:
    root = tmp_path / "site"
    portal(root).witness([checkpoint(1)], KEY)
    assert (root / "assets" / "site.css").is_file()
    assert (root / "index.html").is_file()
    assert row_numbers((root / "audit" / "index.html").read_text("utf-8")) == [1]


def test_the_page_escapes_what_the_note_and_key_say(tmp_path: Path) -> None:
    root = tmp_path / "site"
    hostile = "<script>__pwn('origin')</script>&<b>"  # the origin is the key's name
    signer = Signer(hostile, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    key = signer.verifier().to_text()
    adapter = site_with_items(root, 1)
    adapter.witness([checkpoint(1, signer=signer, origin=hostile)], key)
    page = (root / "audit" / "index.html").read_text("utf-8")
    assert "<script>__pwn" not in page
    assert (
        "&lt;script&gt;__pwn(&#x27;origin&#x27;)&lt;/script&gt;&amp;&lt;b&gt;" in page
    )
    assert (
        "&lt;script&gt;__pwn(&#x27;origin&#x27;)&lt;/script&gt;&amp;&lt;b&gt;+" in page
    )  # the key text
    feed = feedparser.parse((root / "audit" / "checkpoints.xml").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    note = checkpoint(1, signer=signer, origin=hostile).note
    assert feed.entries[0].content[0].value == note.strip()  # feedparser strips
    assert notes_in((root / "audit" / "checkpoints.xml").read_bytes()) == [note]


@pytest.mark.parametrize(
    ("problem", "bad"),
    [
        ("another key", lambda: checkpoint(2, signer=Signer.generate(ORIGIN))),
        ("size differs", lambda: replace(checkpoint(2), size=5)),
        ("root differs", lambda: replace(checkpoint(2), root_hex="00" * 32)),
        ("not a note", lambda: replace(checkpoint(2), note="hello\n")),
        ("negative number", lambda: replace(checkpoint(2), number=-1)),
        ("given twice", lambda: checkpoint(1)),
        ("another log", lambda: checkpoint(2, origin="another-log")),
    ],
)
def test_a_checkpoint_that_would_not_verify_is_refused_before_any_write(
    tmp_path: Path, problem: str, bad: Callable[[], WitnessedCheckpoint]
) -> None:
    root = tmp_path / "site"
    adapter = site_with_items(root, 1)
    adapter.witness([checkpoint(1)], KEY)
    before = tree(root)
    with pytest.raises(ValueError, match="checkpoint"):
        adapter.witness([checkpoint(1), bad()], KEY)
    assert tree(root) == before, problem


def test_a_malformed_key_is_refused(tmp_path: Path) -> None:
    adapter = portal(tmp_path / "site")
    with pytest.raises(ValueError, match="key"):
        adapter.witness([checkpoint(1)], "not a key")
    assert not (tmp_path / "site").exists()


# -- the Atom feeds -----------------------------------------------------------------------


def test_the_checkpoint_feeds_parse_with_one_entry_per_checkpoint(
    tmp_path: Path,
) -> None:
    checkpoints = [checkpoint(n) for n in (1, 2, 12)]
    checkpoints[2] = checkpoint(12, 1234)
    root = tmp_path / "site"
    site_with_items(root, 1).witness(checkpoints, KEY)
    folder = tmp_path / "feeds"
    feeds = RssAdapter(RssSettings(path=folder, site_url=SITE))
    feeds.witness(checkpoints, KEY)
    parsed = {
        "portal": feedparser.parse((root / "audit" / "checkpoints.xml").read_bytes()),
        "rss": feedparser.parse((folder / "checkpoints.xml").read_bytes()),
    }
    for name, feed in parsed.items():
        assert not feed.bozo, (name, feed.bozo_exception)
        assert [e.id for e in feed.entries] == [
            f"urn:syndicate:checkpoint:{ORIGIN}:{n}" for n in (12, 2, 1)
        ]
        newest = feed.entries[0]
        assert newest.title == "审计检查点 #12：1,234 个事件"
        assert newest.content[0].value == checkpoints[2].note.strip()
        assert newest.content[0].type == "text/plain"
        assert newest.link == f"{SITE}/{WELL_KNOWN}/checkpoints/12.txt"
        assert utc(newest.updated_parsed) == checkpoints[2].at
        assert utc(feed.feed.updated_parsed) == checkpoints[2].at
    assert parsed["portal"].feed.id == f"{SITE}/audit/checkpoints.xml"
    assert parsed["rss"].feed.id == f"{SITE}/feeds/checkpoints.xml"
    exact = notes_in((root / "audit" / "checkpoints.xml").read_bytes())
    assert exact == [c.note for c in reversed(checkpoints)]
    assert notes_in((folder / "checkpoints.xml").read_bytes()) == exact
    # The entries are the same on both outlets.
    assert [(e.id, e.title, e.content, e.link) for e in parsed["portal"].entries] == [
        (e.id, e.title, e.content, e.link) for e in parsed["rss"].entries
    ]


def test_the_feeds_outlet_keeps_its_checkpoint_feed(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    feeds = RssAdapter(RssSettings(path=folder, site_url=SITE))
    feeds.witness([], KEY)
    assert not (folder / "checkpoints.xml").exists()  # nothing to witness yet
    feeds.witness([checkpoint(1), checkpoint(2)], KEY)
    target = folder / "checkpoints.xml"
    data, stamp = target.read_bytes(), target.stat().st_mtime_ns
    feeds.witness([checkpoint(2), checkpoint(1)], KEY)
    assert (target.read_bytes(), target.stat().st_mtime_ns) == (data, stamp)
    view = item_view_for(3)
    job = DeliveryJob(
        delivery_id=uuid.uuid4(),
        outlet="feeds",
        channel=None,
        operation=Operation.PUBLISH,
        item=view,
        live_items=(view,),
    )
    feeds.deliver(feeds.render(job), SESSION)
    assert target.read_bytes() == data
    assert feeds.read_back(job, SESSION) == feeds.render(job).data
    assert feeds.inventory(SESSION) == {view.item_id}
    feeds.witness([checkpoint(1), checkpoint(2), checkpoint(3)], KEY)
    entries = feedparser.parse(target.read_bytes()).entries
    assert [e.title for e in entries] == [
        f"审计检查点 #{n}：{n * 617:,} 个事件" for n in (3, 2, 1)
    ]


# -- in the browser -----------------------------------------------------------------------


def test_the_audit_page_is_valid_accessible_and_inert(
    browser: Browser, tmp_path: Path
) -> None:
    root = tmp_path / "site"
    adapter = site_with_items(root)
    empty = tmp_path / "empty-audit.html"
    shutil.copy(root / "audit" / "index.html", empty)
    hostile = "<svg/onload=__pwn(1)>"
    signer = Signer(hostile, Ed25519PrivateKey.from_private_bytes(b"k" * 32))
    adapter.witness(
        [checkpoint(n, signer=signer, origin=hostile) for n in range(1, 13)],
        signer.verifier().to_text(),
    )
    problems = vnu_errors([root / "audit" / "index.html", empty])
    assert problems == [], "\n".join(problems)
    shutil.copy(empty, root / "audit" / "empty.html")
    with serve_directory(root) as base:
        for page in ("audit/index.html", "audit/empty.html"):
            for width, height in ((1366, 900), (375, 812)):
                with visit(browser, base + page, width=width, height=height) as v:
                    v.page.wait_for_load_state("networkidle")
                    for handle in v.page.query_selector_all("main a, main code"):
                        handle.hover()
                    v.settle(100)
                    assert v.xss_hits() == [], page
                    assert v.problems() == [], (page, width, v.problems())
                    violations = axe_violations(v.page)
                    assert violations == [], f"{page}@{width}: " + format_violations(
                        violations
                    )
                    overflow = v.page.evaluate(
                        "document.documentElement.scrollWidth > window.innerWidth"
                    )
                    assert not overflow, f"{page} scrolls sideways at {width}px"
        # The note files it links to are there and are the notes.
        with visit(browser, base + "audit/index.html") as v:
            href = v.page.locator("#checkpoint-12 a").get_attribute("href")
            assert href is not None
            answer = v.page.request.get(base + "audit/" + href)
            assert answer.status == 200
            assert answer.text() == checkpoint(12, signer=signer, origin=hostile).note
