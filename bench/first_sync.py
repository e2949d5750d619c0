"""A county's first `sync` to its portal: every item of its history at once.

    python -m bench.first_sync                 # 10,000 items (about 2 min to build)
    python -m bench.first_sync --items 2000
    python -m bench.first_sync --quick         # 300 items (the test suite runs it)

A home with one outlet, the portal (a static site on this machine's disk), and
`--items` items published through the library (`publish_many`, 500 per transaction),
spread at 20 a day over the months before today as a county's history is (so the site
has month pages of about 600 items, as `bench.portal` builds). Nothing is planned or
sent before the timed command.

Then `syndicate sync` runs once, as a process, as an operator runs it after adding the
portal to an existing home: it plans every item for the portal, renders and writes
every page, records every outcome, and checkpoints the audit log. Prints its time, the
deliveries per second, and the target (issue 20: 10,000 items within 2 minutes). The
site is then checked: one page per item, and the index of 全部信息 lists them all.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.publish import _contents
from syndicate.domain.base import CHINA_TZ
from syndicate.engine import Engine
from syndicate.project import Project

SYNDICATE = [sys.executable, "-m", "syndicate"]
PER_DAY = 20
BATCH = 500
TARGET_S = 120.0
TARGET_ITEMS = 10_000


def _at(moment: datetime) -> datetime:
    return moment


def build(home: Path, items: int, env: dict[str, str]) -> None:
    """A home with `items` items published over the last items/20 days, and a portal."""
    Project.init(home, environ=env, keys=True, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            '\n[outlets.portal]\nkind = "portal"\npath = "site"\n'
            'site_url = "https://www.linxi.gov.cn"\n'
        )
    days = (items + PER_DAY - 1) // PER_DAY
    start = datetime.now(CHINA_TZ) - timedelta(days=days + 1)
    for first in range(0, items, BATCH):
        count = min(BATCH, items - first)
        contents = _contents(count, first)
        for n in range(0, count, PER_DAY):
            day = start + timedelta(days=(first + n) // PER_DAY)
            formed = day.date().isoformat()
            batch = [
                c.model_copy(update={"formed_on": day.date()})
                if c.formed_on.isoformat() > formed
                else c
                for c in contents[n : n + PER_DAY]
            ]
            with Engine.open(
                home, environ=env, clock=functools.partial(_at, day)
            ) as engine:
                engine.items.publish_many(batch, actor="bench")


def first_sync(home: Path, env: dict[str, str]) -> tuple[float, str]:
    """`syndicate sync` as a process; its time and its last line."""
    penv = {**os.environ, **env}
    penv.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package runs
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [*SYNDICATE, "--home", str(home), "sync"],
        env=penv,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"sync exited {done.returncode}: {done.stderr.decode()[-800:]}"
        )
    lines = done.stdout.decode().strip().splitlines()
    return elapsed, lines[-1] if lines else ""


def check_site(site: Path, items: int) -> int:
    """Pages of items on the site; raises SystemExit if any item is missing."""
    pages = len(list((site / "items").glob("*.html")))
    if pages != items:
        raise SystemExit(f"the site has {pages} item pages, expected {items}")
    return pages


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=TARGET_ITEMS)
    parser.add_argument("--quick", action="store_true", help="300 items")
    parser.add_argument("--keep", type=Path, help="build the home here and keep it")
    args = parser.parse_args(argv)
    items = 300 if args.quick else args.items
    env = {"SYNDICATE_ACTOR": "bench"}
    with tempfile.TemporaryDirectory(prefix="syndicate-first-sync-") as tmp:
        home = args.keep or Path(tmp) / "home"
        started = time.perf_counter()
        build(home, items, env)
        print(f"built {items:,} items in {time.perf_counter() - started:.0f} s")
        elapsed, last = first_sync(home, env)
        check_site(home / "site", items)
    rate = items / elapsed
    print(
        f"first sync of {items:,} items to the portal: {elapsed:.1f} s ({rate:.0f}/s)"
    )
    print(f"  sync said: {last}")
    projected = TARGET_ITEMS / rate
    print(
        f"  at this rate, {TARGET_ITEMS:,} items: {projected:.0f} s "
        f"(target <= {TARGET_S:.0f} s: {'met' if projected <= TARGET_S else 'NOT met'})"
    )
    return {"seconds": elapsed, "per_second": rate, "items": float(items)}


if __name__ == "__main__":
    main()
