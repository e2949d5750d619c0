"""The portal outlet: a full site rebuild, and what one revision costs as the site grows.

    python -m bench.portal            # 10,000 items vs 100, 5 revisions each, medians
    python -m bench.portal --quick    # a smoke run (1,000 vs 100)

- **rebuild**: `PortalSite.rebuild` from 10,000 stored renditions — every item page, the
  month and index pages of every column, the home page, search shards and sitemaps —
  reported in pages per second (files written without fsync, then one `sync`).
- **revision**: render + deliver of one revised item, on a site holding N items, with the
  durable writes a worker does (fsync per file). The ratio revision(10,000) /
  revision(100) shows whether a revision re-renders the world; the target is at most 2x.

Items are spread at 20 a day (a busy county), so the 10,000-item site spans about 17
months and its month pages hold about 600 items each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from syndicate_adapters.portal import PortalAdapter, PortalSettings, PortalSite

from syndicate.adapter import DeliveryJob, ItemView, Operation
from syndicate.domain.catalogue import AREAS, Stage
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.items import VersionRecord

START = datetime(2025, 1, 1, 1, tzinfo=UTC)
PER_DAY = 20
AGENCIES = [f"临溪县第{n}局" for n in range(1, 21)]


def item_view_for(n: int, version: int = 1) -> ItemView:
    areas = [a.code for a in AREAS]
    published = START + timedelta(days=n / PER_DAY)
    updated = published + timedelta(days=version - 1)
    content = ItemContent.model_validate(
        {
            "agency": AGENCIES[n % len(AGENCIES)],
            "index_no": f"11330100MB{n:08d}/2026-{n:05d}",
            "title": f"临溪县关于第{n}号事项的公告" + ("（更正）" * (version - 1)),
            "body": f"## 说明\n\n第{n}号事项的正文。\n\n- 要点一\n- 要点二\n" * 3,
            "area": areas[n % len(areas)],
            "stage": list(Stage)[n % len(Stage)].value,
            "basis": "《中华人民共和国政府信息公开条例》",
            "formed_on": published.date().isoformat(),
        }
    )
    history = tuple(
        VersionRecord(
            version=v,
            event="Published" if v == 1 else "Revised",
            at=published + timedelta(days=v - 1),
            actor="bench",
            content_hash=None,
            reason=None if v == 1 else "更正标题",
        )
        for v in range(1, version + 1)
    )
    return ItemView(
        item_id=content.id,
        version=version,
        content=content,
        content_hash=content_hash(content),
        withdrawn=False,
        published_at=published,
        updated_at=updated,
        reason=None if version == 1 else "更正标题",
        history=history,
    )


def job_for(view: ItemView) -> DeliveryJob:
    return DeliveryJob(
        delivery_id=uuid.uuid4(),
        outlet="portal",
        channel=None,
        operation=Operation.PUBLISH if view.version == 1 else Operation.UPDATE,
        item=view,
    )


def _site(root: Path, count: int) -> tuple[PortalAdapter, float, int]:
    """A site of `count` items built by a rebuild; returns the rebuild's time and pages."""
    settings = PortalSettings(path=root, site_url="https://www.linxi.gov.cn")
    adapter = PortalAdapter(settings)
    entries = settings.state_folder() / "entries"
    entries.mkdir(parents=True)
    for n in range(count):
        view = item_view_for(n)
        (entries / f"{view.item_id}.json").write_bytes(
            adapter.render(job_for(view)).data
        )
    site = PortalSite(settings, durable=False)
    start = time.perf_counter()
    pages = site.rebuild()
    os.sync()
    return adapter, time.perf_counter() - start, pages


def _revision_seconds(adapter: PortalAdapter, count: int, runs: int) -> float:
    session = requests.Session()
    times = []
    for r in range(runs):
        view = item_view_for((count * (r + 1)) // (runs + 1), version=2 + r)
        start = time.perf_counter()
        adapter.deliver(adapter.render(job_for(view)), session)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    large, small, runs = (1_000, 100, 3) if args.quick else (10_000, 100, 5)
    with tempfile.TemporaryDirectory() as tmp:
        big, rebuild_s, pages = _site(Path(tmp) / "large", large)
        print(
            f"rebuild of {large:,} items: {pages:,} pages in {rebuild_s:.1f} s "
            f"= {pages / rebuild_s:,.0f} pages/s"
        )
        large_s = _revision_seconds(big, large, runs)
        little, _, _ = _site(Path(tmp) / "small", small)
        small_s = _revision_seconds(little, small, runs)
    ratio = large_s / small_s
    print(
        f"one revision with {small:,} items: {small_s * 1000:.1f} ms (median of {runs})"
    )
    print(
        f"one revision with {large:,} items: {large_s * 1000:.1f} ms (median of {runs})"
    )
    print(f"revision {large:,} / {small:,}: {ratio:.2f}x (target <= 2x)")
    return {"pages_per_second": pages / rebuild_s, "revision_ratio": ratio}


if __name__ == "__main__":
    main(sys.argv[1:])
