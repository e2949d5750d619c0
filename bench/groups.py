"""A burst of items to many village groups, with and without digests.

    python -m bench.groups              # 500 groups x 30 items (about 30 minutes)
    python -m bench.groups --quick      # 20 groups x 30 items (about 2 minutes)

Each group is a DingTalk group robot on one loopback fake (`DingTalkRobotServer`) that
answers after `--latency` seconds (0.1: a robot API across the internet) and enforces
the platform's rate: 20 messages a minute, then 410100 and a 10-minute penalty. The
home lists the groups in one table (`[[outlets.villages.each]]`), publishes `--items`
items at once, and `syndicate worker` runs as a process, the way an office runs it,
until every group has every item; then it is stopped.

Two runs in the same invocation: without digests (one message per item and group), and
with `digest_minutes = 1` (the items due within a minute go as one message, or a few
when one would be too long). For each it reports the wall time from the worker's start
to the last item reaching the last group, the messages sent, the penalties (410100
answers), the worker's peak memory (max RSS), and the lower bounds: the rate limit's
(a robot may take 20 messages a minute, so N messages need ceil(N/20)-1 minutes; a
digest waits its minute), and the latency's (one worker sends one message at a time,
so messages x latency).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from syndicate.domain.content import ItemContent
from syndicate.engine import Engine
from syndicate.project import Project
from syndicate.testing.fakes import DingTalkRobotServer

PORTAL = "https://www.linxi.gov.cn"
_ITEM = re.compile(r"BENCH(\d{4})号")


def token(n: int) -> str:
    return f"{n:064x}"


def contents(items: int) -> list[ItemContent]:
    return [
        ItemContent.model_validate(
            {
                "agency": "临溪县青石镇人民政府",
                "index_no": f"11330100MB0000006R/2026-{n + 1000:05}",
                "title": f"青石镇2026年第{n + 1}批临时救助审批结果公告（BENCH{n:04}号）",
                "body": "经审批，同意给予临时救助。详见附件名单。",
                "area": "社会救助",
                "stage": "结果公开",
                "basis": "《社会救助暂行办法》",
                "formed_on": "2026-11-30",
                "channels": ["group"],
            }
        )
        for n in range(items)
    ]


@dataclass
class Run:
    digest: bool
    wall: float
    messages: int
    penalties: int
    max_rss_mb: float
    rate_bound: float
    latency_bound: float

    @property
    def bound(self) -> float:
        """The least wall time possible: without digests the rate waits overlap the
        sends to other groups; a digest's window passes before anything is sent."""
        if self.digest:
            return self.rate_bound + self.latency_bound
        return max(self.rate_bound, self.latency_bound)

    def line(self) -> str:
        bound = self.bound
        return (
            f"{'digest' if self.digest else 'no digest':<10} wall {self.wall:7.1f} s  "
            f"messages {self.messages:6d}  penalties {self.penalties}  "
            f"worker max RSS {self.max_rss_mb:6.1f} MB  lower bound {bound:7.1f} s "
            f"(rate {self.rate_bound:.0f} s, latency {self.latency_bound:.0f} s)  "
            f"wall/bound {self.wall / bound if bound else float('nan'):.2f}"
        )


def run(groups: int, items: int, latency: float, digest: bool) -> Run:
    with (
        tempfile.TemporaryDirectory() as tmp,
        DingTalkRobotServer(latency=latency) as fake,
    ):
        home = Path(tmp) / "home"
        environ = {f"ROBOT_{n:04}": token(n) for n in range(groups)}
        for n in range(groups):
            fake.add_robot(token(n))
        Project.init(home, environ=environ, keys=False, review=False)
        table = [
            "\n[outlets.villages]",
            'kind = "dingtalk_group"',
            'channel = "group"',
            f'portal_url = "{PORTAL}"',
            f'base_url = "{fake.url}"',
            "allow_private_network = true",
        ]
        if digest:
            table.append("digest_minutes = 1")
        for n in range(groups):
            table += [
                "[[outlets.villages.each]]",
                f'id = "v{n:04}"',
                f'access_token = "${{ROBOT_{n:04}}}"',
            ]
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n".join(table) + "\n")
        project = Project.load(home, environ=environ)
        with Engine(project) as engine:
            engine.items.publish_many(contents(items), actor="bench")
        env = {**os.environ, **environ, "SYNDICATE_ACTOR": "bench"}
        start = time.perf_counter()
        worker = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "syndicate", "--home", str(home), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        want = groups * items
        try:
            while True:
                time.sleep(0.5)
                reached: set[tuple[int, str]] = set()
                for n in range(groups):
                    for message in fake.messages(token(n)):
                        text = message.get("markdown", {}).get("text", "")
                        reached.update((n, m) for m in _ITEM.findall(text))
                if len(reached) >= want:
                    break
                if worker.poll() is not None:
                    raise SystemExit(f"the worker stopped early ({worker.returncode})")
            wall = time.perf_counter() - start
        finally:
            worker.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(worker.pid, 0)
            # Reaped here (for its rusage): tell the Popen object.
            worker.returncode = os.waitstatus_to_exitcode(status)
        messages = sum(len(fake.messages(token(n))) for n in range(groups))
        penalties = sum(1 for code in fake.errcodes() if code == 410100)
        per_group = messages / groups
        rate_bound = 60.0 if digest else max(0, math.ceil(per_group / 20) - 1) * 60.0
        return Run(
            digest=digest,
            wall=wall,
            messages=messages,
            penalties=penalties,
            max_rss_mb=usage.ru_maxrss / 1024,
            rate_bound=rate_bound,
            latency_bound=messages * latency,
        )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--quick", action="store_true", help="20 groups")
    parser.add_argument(
        "--only", choices=["digest", "plain"], help="one of the two runs only"
    )
    args = parser.parse_args(argv)
    groups = 20 if args.quick else args.groups
    print(
        f"{groups} groups x {args.items} items, robot latency {args.latency} s, "
        "20 messages a minute per robot"
    )
    modes = {"digest": (True,), "plain": (False,)}.get(args.only or "", (False, True))
    runs = [run(groups, args.items, args.latency, digest) for digest in modes]
    for result in runs:
        print(result.line(), flush=True)
    if len(runs) == 1:
        return {"penalties": float(runs[0].penalties)}
    plain, digested = runs
    figures = {
        "message_ratio": digested.messages / plain.messages,
        "wall_ratio": digested.wall / plain.wall,
        "penalties": float(plain.penalties + digested.penalties),
    }
    print(
        f"digest / no digest: messages {figures['message_ratio']:.3f}, "
        f"wall {figures['wall_ratio']:.3f}"
    )
    return figures


if __name__ == "__main__":
    main()
