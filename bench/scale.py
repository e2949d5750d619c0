"""A county-sized log: what one new revision and `status REF` cost as the log grows.

    python -m bench.scale                  # 100,000 items vs 100, on SQLite
    python -m bench.scale --items 20000    # a smaller large home
    python -m bench.scale --store postgresql://127.0.0.1:5432/test
    python -m bench.scale --quick          # 1,000 vs 100 (the CI smoke run)
    python -m bench.scale --county         # one county-sized home on PostgreSQL:
                                           # every command on it (bench/county.py)

Two homes with the same outlets — a webhook to a loopback receiver in its own process
and `--outlets` directory outlets (files per item, latest-only) — one holding `--items`
items, the other 100. Each item is published (`publish_many`, 1,000 per transaction)
and planned by the real planner; its deliveries are then recorded done as a worker
records them (`Claimed`, `Succeeded`, 1,000 per transaction) without sending: what an
outlet's own work costs per item is measured by `bench.portal` and `bench.deliver`.
Building the large home is not timed, except its first command after the build, which
builds the deliveries read model from the whole log once (`first sync`).

Then, on each home, several times: revise one item and run `syndicate sync` as a
process, as an operator does (whole process: start-up, opening the store, planning the
revision, sending it to every outlet, checkpointing), and `syndicate status REF` as a
process; and the same two in this process (`Engine.open` … `sync()`), which leaves out
the interpreter's start-up. Prints the medians and large / small for each (target,
issue 20: at most 2x).
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.deliver import receiver
from bench.publish import _contents
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.engine import Engine
from syndicate.project import Project

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
SYNDICATE = [sys.executable, "-m", "syndicate"]
BATCH = 1000
SMALL = 100


def _environ(store: str | None, schema: str) -> dict[str, str]:
    env = {"BENCH_SECRET": SECRET, "SYNDICATE_ACTOR": "bench"}
    if store:
        env["SYNDICATE_STORE_URL"] = store
        env["SYNDICATE_STORE_SCHEMA"] = schema
    return env


def build(
    home: Path, items: int, outlets: int, url: str, env: dict[str, str]
) -> list[uuid.UUID]:
    """A home with `items` items, every delivery done; the item ids."""
    Project.init(home, environ=env, keys=True, review=False)
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[outlets.cms]\nkind = "webhook"\nurl = "{url}/hook"\n'
            'secret = "${BENCH_SECRET}"\nallow_private_network = true\n'
        )
        for n in range(outlets):
            config.write(f'\n[outlets.files{n}]\nkind = "directory"\npath = "out{n}"\n')
    ids: list[uuid.UUID] = []
    with Engine.open(home, environ=env) as engine:
        for start in range(0, items, BATCH):
            count = min(BATCH, items - start)
            contents = _timed(_contents(count, start), start)
            changes = engine.items.publish_many(contents, actor="bench")
            ids += [c.item_id for c in changes]
        engine.plan()
        log = engine.deliveries
        now = engine.clock()
        batch: list[Delivery] = []
        for d in log.all_deliveries().values():
            if d.state is not DeliveryState.PLANNED:
                continue
            mark_sent(d, now, "0" * 64)
            batch.append(d)
            if len(batch) >= BATCH:
                log.save(*batch)
                batch = []
        if batch:
            log.save(*batch)
    return ids


def mark_sent(d: Delivery, now: datetime, sha256: str) -> None:
    """Record `d` claimed and sent (`Succeeded`, rendition `sha256`), as a worker
    named bench would after sending it; the caller saves it."""
    d.claim(worker="bench", at=now, expires_at=now + timedelta(minutes=2))
    d.record(
        Delivery.Succeeded,
        at=now,
        worker="bench",
        attempt=d.attempt,
        rendition_sha256=sha256,
        receipt={},
    )


def _timed(contents: list[ItemContent], offset: int) -> list[ItemContent]:
    """As a county's log has them: one item in 20 a 公示 whose window is open (30
    days from today), one in 10 a document valid until next year. Both wait for the
    clock: `sync` must find them without reading every item."""
    today = datetime.now(CHINA_TZ).date()
    out = []
    for n, content in enumerate(contents, start=offset):
        extra: dict[str, Any] = {}
        if n % 20 == 0:
            end = today + timedelta(days=30)
            extra["notice_period"] = {"start": today, "end": end}
        elif n % 10 == 5:
            extra["validity"] = "in_force"
            extra["valid_until"] = today + timedelta(days=365)
        if extra:
            data = content.model_dump(exclude_unset=True) | extra
            content = ItemContent.model_validate(data)
        out.append(content)
    return out


def _process(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - our own interpreter and command
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-800:]}"
        )
    return elapsed


def _revise(home: Path, env: dict[str, str], item: uuid.UUID, n: int) -> str:
    """Revise `item` (round `n`); its REF."""
    with Engine.open(home, environ=env) as engine:
        current = engine.items.get(item)
        data = current.content.model_dump(exclude_unset=True)
        data["body"] = f"{current.content.body}\n\n第{n}次更正。"
        engine.items.revise(
            item, ItemContent.model_validate(data), reason="更正", actor="bench"
        )
        return current.ref


def measure(
    home: Path, ids: list[uuid.UUID], env: dict[str, str], rounds: int
) -> dict[str, float]:
    """Medians (s) of one revision's sync and of status REF, as processes and in
    this process; and the first command after the build (`first sync`)."""
    penv = {**os.environ, **env}
    # As an installed package runs (see bench.startup): with its byte code.
    penv.pop("PYTHONDONTWRITEBYTECODE", None)
    base = [*SYNDICATE, "--home", str(home)]
    timings: dict[str, list[float]] = {
        "sync (process)": [],
        "status REF (process)": [],
        "sync (in process)": [],
        "status REF (in process)": [],
    }
    first = _process([*base, "sync"], penv)  # builds the read model from the log
    for n in range(rounds):
        item = ids[(n * 7919) % len(ids)]
        ref = _revise(home, env, item, n)
        timings["sync (process)"].append(_process([*base, "sync"], penv))
        timings["status REF (process)"].append(_process([*base, "status", ref], penv))
        ref = _revise(home, env, item, n + rounds)

        def in_process(call: Callable[[Engine], Any]) -> float:
            started = time.perf_counter()
            with Engine.open(home, environ=env) as engine:
                call(engine)
            return time.perf_counter() - started

        timings["sync (in process)"].append(in_process(_synced))
        timings["status REF (in process)"].append(
            in_process(functools.partial(_status, ref=ref))
        )
    medians = {name: statistics.median(values) for name, values in timings.items()}
    medians["first sync"] = first
    return medians


def _status(engine: Engine, *, ref: str) -> None:
    engine.status(ref)


def _synced(engine: Engine) -> None:
    result = engine.sync()
    if not result.ok:
        raise SystemExit(f"sync did not deliver everything: {result}")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="the large home")
    parser.add_argument("--outlets", type=int, default=2, help="directory outlets")
    parser.add_argument("--rounds", type=int, default=5, help="revisions per home")
    parser.add_argument("--store", help="a PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--quick", action="store_true", help="1,000 vs 100, 2 rounds")
    parser.add_argument(
        "--county",
        action="store_true",
        help="one county-sized home instead (default 100,000 items, 500 village "
        "groups, on PostgreSQL; --store sqlite for the default store): every command "
        "on it as a process, and 4 workers vs 1 (bench/county.py)",
    )
    parser.add_argument("--villages", type=int, default=500, help="--county's groups")
    parser.add_argument(
        "--burst", type=int, default=4, help="--county: new items per worker run"
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, help="--county: robots' answer time (s)"
    )
    parser.add_argument(
        "--homes",
        type=Path,
        help="--county: build the home in DIR and keep it (its PostgreSQL schema "
        "too); a later run with the same DIR measures it again without building",
    )
    parser.add_argument(
        "--no-audit",
        action="store_true",
        help="--county: leave out audit verify, consistency and replay (with --homes: "
        "measure the commands and workers again on a county built before)",
    )
    args = parser.parse_args(argv)
    if args.county:
        from bench.county import PG_URL, county

        if args.quick:
            args.items, args.villages, args.burst, args.rounds = 300, 20, 2, 2
        return county(
            items=args.items,
            villages=args.villages,
            store=args.store or PG_URL,
            burst_items=args.burst,
            latency=args.latency,
            rounds=min(args.rounds, 3),
            homes=args.homes,
            audit=not args.no_audit,
        )
    if args.quick:
        args.items, args.rounds = 1000, 2
    figures: dict[str, dict[str, float]] = {}
    with receiver() as url, tempfile.TemporaryDirectory() as tmp:
        for label, count in (("small", SMALL), ("large", args.items)):
            schema = f"bench_scale_{label}_{uuid.uuid4().hex[:8]}"
            env = _environ(args.store, schema)
            home = Path(tmp) / label
            started = time.perf_counter()
            ids = build(home, count, args.outlets, url, env)
            built = time.perf_counter() - started
            print(f"{label}: {count:,} items built in {built:.0f} s", flush=True)
            figures[label] = measure(home, ids, env, args.rounds)
            if args.store:
                _drop(args.store, schema)
    small, large = figures["small"], figures["large"]
    outlets = args.outlets + 1
    print(
        f"\n{args.items:,} items vs {SMALL}, {outlets} outlets, "
        f"{'PostgreSQL' if args.store else 'SQLite'}, medians of {args.rounds}:"
    )
    print(f"  {'':<26}{'small':>9}{'large':>9}{'large/small':>13}")
    ratios: dict[str, float] = {}
    for name in small:
        ratio = large[name] / small[name]
        ratios[name] = ratio
        print(f"  {name:<26}{small[name]:8.3f}s{large[name]:8.3f}s{ratio:12.2f}x")
    print("targets (issue 20): one revision's sync and status REF, large/small <= 2x")
    return ratios


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
