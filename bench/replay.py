"""Replay memory as the log grows by items: `syndicate audit replay` as a process.

    python -m bench.replay                 # 5,000 items vs 50,000 (about 10 min to build)
    python -m bench.replay --homes D       # keep the built homes in D; reuse them next time
    python -m bench.replay --quick         # 100 vs 1,000 (the test suite runs it)

Two homes with the same outlets (two `directory` outlets, one file per item), one with
ten times the items of the other. Every item is published through `Disclosures` and
delivered by the real worker, so each delivery's recorded sha256 is that of a real
rendition and replay renders every one of them again. Then `syndicate audit replay
--as-of <today>` runs as a process on each home, as an auditor runs it, and its peak
RSS (`bench.measure`: its own, not the benchmark's) is measured; the ratio large / small is printed against the target
(issue 20: at most 1.3x for a log ten times larger by items). `bench.audit` measures
the same for a log ten times larger by revisions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.measure import measured
from bench.publish import _contents
from syndicate.domain.base import CHINA_TZ
from syndicate.engine import Engine
from syndicate.project import Project

SYNDICATE = [sys.executable, "-m", "syndicate"]
OUTLETS = """
[outlets.archive]
kind = "directory"
path = "out"

[outlets.mirror]
kind = "directory"
path = "mirror"
"""
BATCH = 1000


def build(home: Path, items: int) -> None:
    """A home with `items` items, each delivered to both outlets by the worker."""
    Project.init(home, environ={}, keys=True, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(OUTLETS)
    with Engine.open(home, environ={}) as engine:
        for start in range(0, items, BATCH):
            count = min(BATCH, items - start)
            engine.items.publish_many(_contents(count, start), actor="bench")
        engine.plan()
        worker = engine.worker("bench", hold_digests=False)
        try:
            worker.run_until_idle()
        finally:
            worker.close()


def replay_process(home: Path, out: Path) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of `syndicate audit replay` as a process."""
    env = dict(os.environ, SYNDICATE_HOME=str(home))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package runs
    day = datetime.now(CHINA_TZ).date().isoformat()
    argv = [*SYNDICATE, "audit", "replay", "--as-of", day, "--out", str(out)]
    run = measured(argv, env, cwd=home, stdout=False)
    if run.returncode != 0:
        raise SystemExit(f"replay exited {run.returncode}: {run.stderr[-800:]}")
    return run.seconds, run.max_rss


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 vs 1,000 items")
    parser.add_argument("--items", type=int, default=5_000, help="the small home's")
    parser.add_argument(
        "--homes",
        type=Path,
        help="build the homes here and keep them; reuse them if they are there",
    )
    args = parser.parse_args(argv)
    small = 100 if args.quick else args.items
    figures: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, items in (("small", small), ("large", small * 10)):
            home = (args.homes or Path(tmp)) / f"replay-{items}"
            if (home / "syndicate.toml").exists():
                print(f"reusing the home of {items:,} items in {home}")
            else:
                started = time.perf_counter()
                build(home, items)
                print(
                    f"built a home of {items:,} items (2 outlets) in "
                    f"{time.perf_counter() - started:.0f} s"
                )
            replay_process(home, Path(tmp) / f"warm-{label}")  # byte code, file cache
            figures[label] = replay_process(home, Path(tmp) / f"{label}-replay")
            seconds, peak = figures[label]
            print(
                f"{label}: {items:,} items: replay {seconds:.1f} s, "
                f"peak RSS {peak / 2**20:.0f} MiB"
            )
    ratio = figures["large"][1] / figures["small"][1]
    print(f"replay peak RSS large / small: {ratio:.2f}x  (target <= 1.3, items x10)")
    return {
        "replay_rss_ratio": ratio,
        "small_rss": float(figures["small"][1]),
        "large_rss": float(figures["large"][1]),
        "small_seconds": figures["small"][0],
        "large_seconds": figures["large"][0],
    }


if __name__ == "__main__":
    main()
