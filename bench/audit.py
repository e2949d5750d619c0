"""Audit at scale: verify rate vs a raw read of the same log, replay memory as the log
grows, and the time to prove one item's events.

    python -m bench.audit            # a 200,000-event log vs a 20,000-event one (minutes)
    python -m bench.audit --quick    # a smoke run, seconds
    python -m bench.audit --homes D  # keep the built logs in D and reuse them next time

The log is real: items published and revised through `Disclosures`, every version
delivered to a `directory` outlet by the worker, so both logs hold what they hold in
production. The large log has ten times the events of the small one over the same
items (more revisions), which is how a log grows in a long-running deployment.

- verify ratio = (events per second verified: recompute every leaf, the tree, each
  checkpoint's signature and consistency) / (events per second of a raw sqlite3 read of
  both event tables, every column fetched, best of three), in the same run. Target ≥ 0.8.
  Verify runs as users run it (compiled leaf hashing when built, one thread per core, at
  most 4); the same on one thread and in pure Python are printed beside it.
- replay memory ratio = peak traced memory (tracemalloc) of `replay` as of the end of
  the large log / the same for the small log. Target ≤ 1.3.
- prove: seconds for `prove` of one item's events against the newest checkpoint.
- verify as a process = (seconds of a process that reads the same rows with sqlite3) /
  (seconds of `syndicate audit verify` as a process, as users run it: start-up, every
  check, the read models' included), best of three each. Target (issue 20) ≥ 0.8. The
  in-process figures of the read models' checks (`read_model_findings`,
  `timetable_findings`) are printed beside it: they say what bounds it.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicate.audit import merkle
from syndicate.audit.log import (
    THREADS_ENV,
    LogReader,
    Verdict,
    _workers,
    checkpoint,
    ensure_keys,
    load_signer,
    open_audit,
    prove,
    verify,
)
from syndicate.audit.replay import replay
from syndicate.audit.service import read_model_findings, timetable_findings
from syndicate.domain.content import ItemContent
from syndicate.engine import Engine
from syndicate.project import Project

OUTLET = """
[outlets.archive]
kind = "directory"
path = "out"
"""


def _content(n: int, round_: int) -> ItemContent:
    return ItemContent.model_validate(
        {
            "agency": "临溪县民政局",
            "index_no": f"11330100MB0000006R/2026-{n:06d}",
            "title": f"临溪县城乡最低生活保障审批结果公告（第{n}批）",
            "body": f"经审批，新增农村低保对象{47 + round_}户{73 + round_}人。" * 8,
            "area": "social_assistance",
            "stage": "result",
            "basis": "《社会救助暂行办法》第十一条",
            "formed_on": "2026-04-10",
        }
    )


def build(home: Path, items: int, events: int) -> Project:
    """A home whose two logs hold about `events` events over `items` items."""
    project, _ = Project.init(home, environ={}, keys=False, review=False)
    with project.config_path.open("a", encoding="utf-8") as config:
        config.write(OUTLET)
    project = Project.load(home, environ={})
    ensure_keys(project)
    with Engine(project) as engine:
        log = engine.items
        worker = engine.worker("bench")
        log.publish_many([_content(n, 0) for n in range(items)], actor="bench")
        total = 0
        round_ = 0
        while True:
            engine.plan()
            worker.run_until_idle()
            logged = engine.deliveries.recorder.max_notification_id() or 0
            total = log.position() + logged
            if total >= events:
                break
            round_ += 1
            for n in range(items):
                log.revise(
                    _content(n, 0).id,
                    _content(n, round_),
                    reason=f"第{round_}次更正",
                    actor="bench",
                )
        worker.close()
    return project


# The raw read as a process of its own: every column of both event tables.
RAW_READ = """
import sqlite3, sys
count = 0
for path in sys.argv[1:]:
    with sqlite3.connect(path) as conn:
        for row in conn.execute("SELECT * FROM stored_events ORDER BY rowid"):
            count += len(row)
print(count)
"""


def _process(argv: list[str]) -> float:
    """Wall seconds of `argv` as a process (byte code written, as installed)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and command
        argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def _raw_read(project: Project) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    for name in ("disclosures", "deliveries"):
        with sqlite3.connect(project.store.sqlite_path(name)) as conn:
            for row in conn.execute("SELECT * FROM stored_events ORDER BY rowid"):
                count += len(row)
    return count, time.perf_counter() - started


def measure(project: Project, out: Path) -> dict[str, float]:
    signer = load_signer(project)
    verifier = signer.verifier()
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets={}) as deliveries,
        open_audit(project) as store,
    ):
        reader = LogReader.of(project, items, deliveries)
        checkpoint(store, reader, signer, trigger="bench", actor="bench")
        records = list(store.checkpoints())
        _raw_read(project)  # warm the page cache for both sides
        raw = min(_raw_read(project)[1] for _ in range(3))

        def timed(threads: str | None, compiled: bool = True) -> tuple[float, Verdict]:
            saved = merkle._native
            os.environ.pop(THREADS_ENV, None)
            if threads:
                os.environ[THREADS_ENV] = threads
            if not compiled:
                merkle._native = None
            try:
                started = time.perf_counter()
                verdict = verify(reader, records, verifier)
                return time.perf_counter() - started, verdict
            finally:
                os.environ.pop(THREADS_ENV, None)
                merkle._native = saved

        verified, verdict = min(timed(None) for _ in range(3))
        assert verdict.ok, verdict.findings  # noqa: S101 - a broken bench must stop
        one_thread = min(timed("1")[0] for _ in range(3))
        python = timed("1", compiled=False)[0]
        target = items.recorder.select_notifications(start=1, limit=1)[0].originator_id
        started = time.perf_counter()
        bundle = prove(
            reader, records, verifier, lambda leaf: str(target) in leaf.data.decode()
        )
        proved = time.perf_counter() - started
        assert bundle["proofs"]  # noqa: S101
    with project.disclosures() as items, project.deliveries(items) as deliveries:
        tracemalloc.start()
        replay(
            items,
            deliveries,
            as_of=datetime.now(UTC),
            out=out,
            outlets=project.outlets,
            attachments=project.attachments.root,
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    with Engine(project) as engine:
        started = time.perf_counter()
        read_model_findings(engine.deliveries, engine._sqlite_file())
        read_model = time.perf_counter() - started
        started = time.perf_counter()
        timetable_findings(engine.items)
        timetable = time.perf_counter() - started
    files = [str(project.store.sqlite_path(n)) for n in ("disclosures", "deliveries")]
    verify_argv = [sys.executable, "-m", "syndicate", "--home", str(project.home)]
    verify_argv += ["audit", "verify"]
    raw_argv = [sys.executable, "-c", RAW_READ, *files]
    _process(verify_argv)  # byte code and file cache, once
    verify_process = min(_process(verify_argv) for _ in range(3))
    raw_process = min(_process(raw_argv) for _ in range(3))
    return {
        "events": float(verdict.events),
        "raw_seconds": raw,
        "verify_seconds": verified,
        "verify_one_thread_seconds": one_thread,
        "verify_python_seconds": python,
        "prove_seconds": proved,
        "replay_peak_bytes": float(peak),
        "read_model_check_seconds": read_model,
        "timetable_check_seconds": timetable,
        "verify_process_seconds": verify_process,
        "raw_process_seconds": raw_process,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument(
        "--homes",
        type=Path,
        help="build the logs here and keep them; reuse them if they are there",
    )
    args = parser.parse_args(argv)
    items, small, large = (20, 400, 4_000) if args.quick else (500, 20_000, 200_000)
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, events in (("small", small), ("large", large)):
            home = (args.homes or Path(tmp)) / label
            if args.homes and (home / "syndicate.toml").exists():
                project = Project.load(home, environ={})
                print(f"reusing the {label} log in {home}")
            else:
                started = time.perf_counter()
                project = build(home, items, events)
                print(
                    f"built a {label} log over {items} items in "
                    f"{time.perf_counter() - started:.0f} s"
                )
            figures[label] = measure(project, Path(tmp) / f"{label}-replay")
    big = figures["large"]
    verify_ratio = big["raw_seconds"] / big["verify_seconds"]
    memory_ratio = big["replay_peak_bytes"] / figures["small"]["replay_peak_bytes"]
    for label, f in figures.items():
        print(
            f"{label}: {f['events']:,.0f} events; raw read {f['raw_seconds']:.2f} s, "
            f"verify {f['verify_seconds']:.2f} s "
            f"({f['events'] / f['verify_seconds']:,.0f} events/s), prove one item "
            f"{f['prove_seconds']:.2f} s, replay peak "
            f"{f['replay_peak_bytes'] / 1e6:.1f} MB"
        )
    print(
        f"verify / raw read (rate): {verify_ratio:.2f}x  (target >= 0.8; "
        f"{_workers()} threads, compiled leaf hashing: "
        f"{'yes' if merkle._native else 'NO'})"
    )
    print(
        f"  the same on one thread: {big['raw_seconds'] / big['verify_one_thread_seconds']:.2f}x; "
        f"pure Python on one thread: {big['raw_seconds'] / big['verify_python_seconds']:.2f}x"
    )
    print(f"replay peak memory large / small: {memory_ratio:.2f}x  (target <= 1.3)")
    process_ratio = big["raw_process_seconds"] / big["verify_process_seconds"]
    print(
        f"verify as a process / sqlite3 read as a process: {process_ratio:.2f}x  "
        f"(target >= 0.8; {big['verify_process_seconds']:.2f} s vs "
        f"{big['raw_process_seconds']:.2f} s; in process, the read model's check "
        f"{big['read_model_check_seconds']:.2f} s, the timetable's "
        f"{big['timetable_check_seconds']:.2f} s)"
    )
    return {
        "verify_process_ratio": process_ratio,
        "verify_ratio": verify_ratio,
        "verify_one_thread_ratio": big["raw_seconds"]
        / big["verify_one_thread_seconds"],
        "replay_memory_ratio": memory_ratio,
        "prove_seconds": big["prove_seconds"],
    }


if __name__ == "__main__":
    main()
