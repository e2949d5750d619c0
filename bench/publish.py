"""Publish throughput of syndicate vs a bare eventsourcing Application, on SQLite files.

    python -m bench.publish            # full run (2,000 single publishes, 5 x 1,000 batch)
    python -m bench.publish --quick    # a smoke run, seconds

Both sides write to a fresh SQLite file in WAL mode with synchronous=FULL and save a
one-event aggregate whose stored JSON payload is the same disclosure content, so the
ratio shows what syndicate's own work costs: validation of the command, the content hash,
the pydantic mapper, the publish-once id. Inputs are built before timing on both sides.
Each case runs `--repeat` times, alternating sides; the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from syndicate.domain.content import ItemContent
from syndicate.project import Project


class BareItem(Aggregate):
    """The baseline: a plain eventsourcing aggregate with one created event."""

    @event("Published")
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload


def _contents(count: int, offset: int) -> list[ItemContent]:
    body = "经审批，新增农村低保对象47户73人。" * 12
    return [
        ItemContent.model_validate(
            {
                "agency": "临溪县民政局",
                "index_no": f"11330100MB0000006R/2026-{offset + n:06d}",
                "title": f"临溪县2026年城乡最低生活保障审批结果公告（第{n}批）",
                "body": body,
                "area": "social_assistance",
                "stage": "result",
                "basis": "《社会救助暂行办法》第十一条",
                "formed_on": "2026-04-10",
            }
        )
        for n in range(count)
    ]


def _bare_app(directory: Path) -> Application:  # type: ignore[type-arg]
    return Application(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(directory / "bare.db"),
        }
    )


def _time(fn: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = fn()
    return count / (time.perf_counter() - start)


def library_single(contents: list[ItemContent]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = Project.init(
            Path(tmp) / "home", environ={}, keys=False, review=False
        )
        with project.disclosures() as log:

            def run() -> int:
                for content in contents:
                    log.publish(content, actor="bench")
                return len(contents)

            return _time(run)


def bare_single(contents: list[ItemContent]) -> float:
    payloads = [c.model_dump(mode="json") for c in contents]
    with tempfile.TemporaryDirectory() as tmp:
        app = _bare_app(Path(tmp))

        def run() -> int:
            for payload in payloads:
                app.save(BareItem(payload))
            return len(payloads)

        try:
            return _time(run)
        finally:
            app.close()


def library_batch(batches: list[list[ItemContent]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = Project.init(
            Path(tmp) / "home", environ={}, keys=False, review=False
        )
        with project.disclosures() as log:

            def run() -> int:
                for batch in batches:
                    log.publish_many(batch, actor="bench")
                return sum(len(b) for b in batches)

            return _time(run)


def bare_batch(batches: list[list[ItemContent]]) -> float:
    payloads = [[c.model_dump(mode="json") for c in batch] for batch in batches]
    with tempfile.TemporaryDirectory() as tmp:
        app = _bare_app(Path(tmp))

        def run() -> int:
            for batch in payloads:
                app.save(*[BareItem(p) for p in batch])
            return sum(len(b) for b in payloads)

        try:
            return _time(run)
        finally:
            app.close()


def _median_pair(
    ours: Callable[[], float], baseline: Callable[[], float], repeat: int
) -> tuple[float, float]:
    mine, theirs = [], []
    for _ in range(repeat):
        theirs.append(baseline())
        mine.append(ours())
    return statistics.median(mine), statistics.median(theirs)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=2000, help="single publishes")
    parser.add_argument("--batch", type=int, default=1000, help="items per batch")
    parser.add_argument("--batches", type=int, default=10, help="batches per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.single, args.batch, args.batches, args.repeat = 50, 100, 1, 1
    print("SQLite files, WAL, synchronous=FULL; medians of --repeat runs")
    singles = _contents(args.single, 0)
    batches = [
        _contents(args.batch, 100_000 + b * args.batch) for b in range(args.batches)
    ]
    ours, base = _median_pair(
        lambda: library_single(singles), lambda: bare_single(singles), args.repeat
    )
    single_ratio = ours / base
    print(
        f"single publish: syndicate {ours:8.0f}/s   bare eventsourcing {base:8.0f}/s"
        f"   ratio {single_ratio:.2f} (target >= 0.80)"
    )
    ours_b, base_b = _median_pair(
        lambda: library_batch(batches), lambda: bare_batch(batches), args.repeat
    )
    batch_ratio = ours_b / base_b
    print(
        f"batch of {args.batch}: syndicate {ours_b:8.0f}/s   bare eventsourcing "
        f"{base_b:8.0f}/s   ratio {batch_ratio:.2f} (target >= 0.70)"
    )
    return {"single_ratio": single_ratio, "batch_ratio": batch_ratio}


if __name__ == "__main__":
    main()
