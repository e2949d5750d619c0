"""Deliveries per second to a loopback webhook receiver, three ways, in one run.

    python -m bench.deliver            # 1,000 deliveries each, 3 runs, medians
    python -m bench.deliver --quick    # a smoke run

- **syndicate**: plan + claim + render + signed POST + outcome, every step an event in the
  SQLite log (`synchronous=FULL`): `Planned`, `Claimed`, `Succeeded` per delivery.
- **Apprise**: `json://` notifications of the same item JSON to the same receiver.
- **bare requests**: a `requests.Session` loop POSTing the same bytes — the upper bound.

The receiver is an HTTP/1.1 keep-alive server on 127.0.0.1 with Nagle disabled, in its
own process.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import apprise
import requests

from bench.publish import _contents
from syndicate.engine import Engine
from syndicate.project import Project

SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()


def engine(url: str, count: int, concurrency: int = 1) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        environ = {"BENCH_SECRET": SECRET}
        Project.init(home, environ=environ, keys=False, review=False)
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write(
                f'\n[outlets.cms]\nkind = "webhook"\nurl = "{url}/hook"\n'
                'secret = "${BENCH_SECRET}"\n'
                "allow_private_network = true\n"  # the receiver is on 127.0.0.1
                f"concurrency = {concurrency}\n"
            )
        project = Project.load(home, environ=environ)
        with Engine(project) as run:
            run.items.publish_many(_contents(count, 0), actor="bench")
            # Open the deliveries log and load the outlets before the clock starts,
            # as opening them did before: planning, the worker and sending are timed.
            _ = run.deliveries, run.project.outlets
            start = time.perf_counter()
            run.plan()
            worker = run.worker("bench")
            summary = worker.run_until_idle()
            elapsed = time.perf_counter() - start
            worker.close()
        if summary.outcomes != {"succeeded": count}:
            raise RuntimeError(
                f"engine run did not deliver everything: {summary.outcomes}"
            )
        return count / elapsed


def _payload() -> bytes:
    return _contents(1, 0)[0].model_dump_json().encode()


def with_apprise(url: str, count: int) -> float:
    notifier = apprise.Apprise()
    notifier.add(url.replace("http://", "json://") + "/apprise")
    body = _payload().decode()
    start = time.perf_counter()
    for _ in range(count):
        if not notifier.notify(body=body, title="临溪县政务公开"):
            raise RuntimeError("apprise failed to notify")
    return count / (time.perf_counter() - start)


def bare(url: str, count: int) -> float:
    body = _payload()
    session = requests.Session()
    start = time.perf_counter()
    for _ in range(count):
        session.post(
            url + "/bare", data=body, headers={"content-type": "application/json"}
        ).raise_for_status()
    rate = count / (time.perf_counter() - start)
    session.close()
    return rate


@contextmanager
def receiver(latency_ms: int = 0) -> Iterator[str]:
    """The receiver runs in its own process, like a real one; it answers after
    `latency_ms` milliseconds."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "url"
        command = [sys.executable, "-m", "bench.receiver", str(ready), str(latency_ms)]
        process = subprocess.Popen(command)  # noqa: S603 - our own module
        try:
            deadline = time.monotonic() + 30
            while not ready.exists() or not ready.read_text("utf-8"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start")
                time.sleep(0.05)
            yield ready.read_text("utf-8")
        finally:
            process.terminate()
            process.wait()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="deliveries per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--latency-ms", type=int, default=100, help="the slow receiver's answer time"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="the outlet's setting, slow case"
    )
    args = parser.parse_args(argv)
    slow_count = 100
    if args.quick:
        args.count, args.repeat, slow_count = 50, 1, 20
    cases: dict[str, Callable[[str, int], float]] = {
        "syndicate": engine,
        "apprise": with_apprise,
        "bare requests": bare,
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    with receiver() as url:
        for _ in range(args.repeat):
            for name, case in cases.items():
                results[name].append(case(url, args.count))
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"{args.count} deliveries per run, medians of {args.repeat} runs:")
    for name, rate in medians.items():
        print(f"  {name:<14} {rate:8.0f} deliveries/s")
    vs_apprise = medians["syndicate"] / medians["apprise"]
    vs_bare = medians["syndicate"] / medians["bare requests"]
    print(f"syndicate / apprise: {vs_apprise:.2f} (target >= 1.5)")
    print(f"syndicate / bare requests: {vs_bare:.2f} (target >= 0.6; upper bound 1.0)")
    # A receiver that takes `latency_ms` to answer, as WeChat and robot APIs do: one
    # worker, one delivery at a time vs `concurrency` at once.
    slow: dict[str, list[float]] = {"one at a time": [], "at once": []}
    with receiver(args.latency_ms) as url:
        for _ in range(args.repeat):
            slow["one at a time"].append(engine(url, slow_count, 1))
            slow["at once"].append(engine(url, slow_count, args.concurrency))
    one, many = (statistics.median(slow[k]) for k in ("one at a time", "at once"))
    print(
        f"{slow_count} deliveries to a receiver answering in {args.latency_ms} ms, "
        f"medians of {args.repeat} runs:"
    )
    print(f"  one at a time      {one:8.1f} deliveries/s")
    print(f"  concurrency = {args.concurrency:<4} {many:8.1f} deliveries/s")
    print(f"at once / one at a time: {many / one:.2f} (target >= 8)")
    return {"vs_apprise": vs_apprise, "vs_bare": vs_bare, "concurrent": many / one}


if __name__ == "__main__":
    main()
