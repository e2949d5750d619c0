"""A county's whole history on one store, and what each command costs on it.

    python -m bench.scale --county                  # 100,000 items, 500 village groups
    python -m bench.scale --county --items 20000    # a smaller county
    python -m bench.scale --county --store sqlite   # the embedded default instead
    python -m bench.scale --county --quick          # 300 items, 20 groups (the tests)
    python -m bench.scale --county --homes DIR      # keep the built county in DIR (and
                                                    # its schema); again: measure it again
    python -m bench.scale --county --homes DIR --no-audit   # commands and workers only

At full size the build takes about 25 minutes on a 2-core machine and the audit
commands about 45 more (replay renders 1.5 million deliveries).

Issue 20, part 6. One home on PostgreSQL (`--store`, default the local server) with
the outlets of a county: 500 village groups (DingTalk group robots, one table with an
`each` entry per group, taking only 社会救助 items) and 8 others — three webhooks (the
county's CMS, the city's platform, the 12345 hotline), the township cadres' DingTalk
group, a WeCom group of the county office, and three directory outlets (files per
item). One item in 70 is a 社会救助 item that every village group receives; as in
`bench.scale`, one in 20 has an open 公示 window and one in 10 a validity date, so the
clock has work. 100,000 items make about 1.5 million deliveries and 4.6 million
delivery events.

Built in chunks of 1,000 items: published (`publish_many`), planned by the real planner;
the deliveries to the robots and webhooks are recorded done as a worker records them
(`Claimed`, `Succeeded`) with the sha256 of their real rendition, without sending; the
directory outlets' deliveries are made by the real worker (`Engine.sync`), which writes
their files. So `audit replay` and `audit consistency` have real work and must find
nothing wrong.

Then, each as a process as an operator or auditor runs it (time and peak RSS):
`sync` after publishing one new item (8 deliveries) and `status REF` (medians of 3);
`sync` of one new 社会救助 item (every village group too); one `worker` and then four
`worker`s sending `--burst` new 社会救助 items to the village groups, whose robots
answer in `--latency` seconds (deliveries a second, four against one); then
`audit verify`, `audit consistency` and `audit replay`, each of which must exit 0. The
machine is printed with the figures (docs/performance.md records them).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.deliver import receiver
from bench.measure import Measured, measured
from bench.publish import _contents
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.engine import Engine
from syndicate.outletset import OutletSet
from syndicate.testing.fakes import DingTalkRobotServer, WeComRobotServer

PG_URL = "postgresql://127.0.0.1:5432/test"
SYNDICATE = [sys.executable, "-m", "syndicate"]
CHUNK = 1000
VILLAGE_EVERY = 70  # one item in 70 is for the village groups
PORTAL = "https://www.linxi.gov.cn"
WEBHOOKS = ("cms", "city", "hotline")
DIRECTORIES = ("archive", "kiosk-files", "screen-files")
OFFICE_KEY = "0a1b2c3d-bench-4c1e-9b7f-0123456789ab"
KEPT = "bench-county.json"  # in a home kept with --homes: what reusing it needs


def token(n: int) -> str:
    return f"{n:064x}"


def run(argv: list[str], env: dict[str, str]) -> Measured:
    """Run one command as a process (`bench.measure`); exits the benchmark if the
    command fails: a county's log must verify, replay and compare clean."""
    print(f"  {time.strftime('%H:%M:%S')} {' '.join(argv[4:])[:60]}", flush=True)
    done = measured(argv, env)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[2:])} exited {done.returncode}:\n"
            f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
        )
    return done


def contents(count: int, offset: int) -> list[ItemContent]:
    """`count` items from number `offset`: one in `VILLAGE_EVERY` a 社会救助 item for
    the village groups, the rest about 养老服务; windows and validity as in
    `bench.scale`."""
    from bench.scale import _timed

    out = []
    for n, content in enumerate(_timed(_contents(count, offset), offset), start=offset):
        data = content.model_dump(exclude_unset=True)
        if n % VILLAGE_EVERY == 0:
            data["title"] = f"临溪县2026年城乡最低生活保障审批结果公告（第{n}号）"
        else:
            data["area"] = "elderly_care"
            data["title"] = f"临溪县2026年养老服务补贴发放情况公示（第{n}号）"
        out.append(ItemContent.model_validate(data))
    return out


def configure(
    home: Path, villages: int, hook: str, dingtalk: str, wecom: str
) -> dict[str, str]:
    """Append the county's outlets to syndicate.toml; the environment they refer to."""
    env = {f"ROBOT_{n:04}": token(n) for n in range(villages)}
    env |= {"TOWNSHIP_ROBOT": token(90000), "OFFICE_ROBOT": OFFICE_KEY}
    lines: list[str] = []
    for name in WEBHOOKS:
        lines += [
            f"[outlets.{name}]",
            'kind = "webhook"',
            f'url = "{hook}/{name}"',
            'secret = "${BENCH_SECRET}"',
            "allow_private_network = true",
        ]
    for name in DIRECTORIES:
        lines += [f"[outlets.{name}]", 'kind = "directory"', f'path = "out/{name}"']
    robot = [
        'kind = "dingtalk_group"',
        'channel = "group"',
        f'portal_url = "{PORTAL}"',
        f'base_url = "{dingtalk}"',
        "allow_private_network = true",
    ]
    lines += ["[outlets.township]", *robot, 'access_token = "${TOWNSHIP_ROBOT}"']
    lines += [
        "[outlets.office]",
        'kind = "wecom_group"',
        f'portal_url = "{PORTAL}"',
        f'base_url = "{wecom}"',
        'webhook = "${OFFICE_ROBOT}"',
        "allow_private_network = true",
    ]
    lines += ["[outlets.villages]", *robot, 'areas = ["社会救助"]']
    for n in range(villages):
        lines += [
            "[[outlets.villages.each]]",
            f'id = "v{n:04}"',
            f'access_token = "${{ROBOT_{n:04}}}"',
        ]
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write("\n" + "\n".join(lines) + "\n")
    return env


def build(home: Path, items: int, env: dict[str, str], progress: bool) -> int:
    """Publish and deliver `items` items (see the module's help); how many
    deliveries that made."""
    deliveries = 0
    started = time.perf_counter()
    with Engine.open(home, environ=env) as engine:
        outlets = OutletSet(
            engine.project.outlets, items=engine.items, deliveries=engine.deliveries
        )
        files = set(DIRECTORIES)
        for start in range(0, items, CHUNK):
            count = min(CHUNK, items - start)
            changes = engine.items.publish_many(contents(count, start), actor="bench")
            if len(changes) != count:
                raise SystemExit(f"published {len(changes)} of {count} items")
            log = engine.deliveries
            before = log.recorder.max_notification_id() or 0
            engine.plan()
            planned = log.all_deliveries(after=before)
            deliveries += len(planned)
            _record_sent(engine, outlets, planned, files)
            result = engine.sync()
            if not result.ok:
                raise SystemExit(f"the directory outlets failed: {result}")
            if progress:
                done = start + count
                rate = done / (time.perf_counter() - started)
                print(f"  built {done:,} / {items:,} items ({rate:.0f} /s)", flush=True)
        outlets.close()
    return deliveries


def _record_sent(
    engine: Engine,
    outlets: OutletSet,
    planned: dict[uuid.UUID, Delivery],
    files: set[str],
) -> None:
    """Record every planned delivery but the file outlets' done, as a worker would
    after sending it, with its real rendition's sha256."""
    from bench.scale import mark_sent

    now = engine.clock()
    loaded: dict[tuple[uuid.UUID, int], object] = {}
    batch: list[Delivery] = []
    for d in planned.values():
        if d.state is not DeliveryState.PLANNED or d.outlet in files:
            continue
        job = outlets.job(d, loaded, previous=())  # type: ignore[arg-type]
        rendition = outlets.adapter(d.outlet).render(job)
        mark_sent(d, now, rendition.sha256)
        batch.append(d)
        if len(batch) >= CHUNK:
            engine.deliveries.save(*batch)
            batch = []
    if batch:
        engine.deliveries.save(*batch)


def publish(home: Path, env: dict[str, str], count: int, offset: int) -> list[str]:
    """Publish `count` new items numbered from `offset`; their refs."""
    with Engine.open(home, environ=env) as engine:
        changes = engine.items.publish_many(contents(count, offset), actor="bench")
        return [c.ref for c in changes]


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def check(self) -> None:
        """Exit the benchmark if a worker has stopped by itself."""
        for worker, log in zip(self.processes, self.logs, strict=True):
            if worker.poll() is not None:
                text = log.read_text("utf-8", "replace")[-1500:]
                raise SystemExit(f"a worker stopped early:\n{text}")

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for worker in self.processes:
            stat = Path(f"/proc/{worker.pid}/stat").read_text("ascii")
            fields = stat.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total


@contextmanager
def workers(argv: list[str], env: dict[str, str], count: int) -> Iterator[Workers]:
    """`count` worker processes while the block runs, stopped (SIGTERM) after it."""
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"worker-{n}.log" for n in range(count)]
        started = []
        for log in logs:
            with log.open("wb") as err:
                started.append(
                    subprocess.Popen(  # noqa: S603 - our own CLI
                        argv, env=env, stdout=subprocess.DEVNULL, stderr=err
                    )
                )
        running = Workers(started, logs)
        try:
            yield running
            running.check()
        finally:
            for worker in started:
                worker.send_signal(signal.SIGTERM)
            for worker in started:
                worker.wait(timeout=60)


def burst(
    home: Path,
    env: dict[str, str],
    fake: DingTalkRobotServer,
    villages: int,
    items: int,
    offset: int,
    count: int,
) -> tuple[float, float]:
    """Deliveries to the village groups a second with `count` worker processes, from
    their start to the last group's last message of `items` new 社会救助 items; and
    the workers' CPU time per delivery (s), start-up included."""
    numbers = range(offset, offset + items * VILLAGE_EVERY, VILLAGE_EVERY)
    with Engine.open(home, environ=env) as engine:
        village = [contents(1, n)[0] for n in numbers]
        engine.items.publish_many(village, actor="bench")
    tokens = [token(n) for n in range(villages)]
    before = sum(len(fake.messages(t)) for t in tokens)
    want = before + villages * items
    argv = [*SYNDICATE, "--home", str(home), "worker", "--poll", "0.2"]
    started = time.perf_counter()
    with workers(argv, env, count) as running:
        deadline = started + 3600
        while sum(len(fake.messages(t)) for t in tokens) < want:
            running.check()
            if time.perf_counter() > deadline:
                raise SystemExit("the workers did not reach every group in an hour")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        cpu = running.cpu_seconds()
    return villages * items / wall, cpu / (villages * items)


def county(
    *,
    items: int,
    villages: int,
    store: str,
    burst_items: int,
    latency: float,
    rounds: int = 3,
    homes: Path | None = None,
    audit: bool = True,
) -> dict[str, float]:
    """Build the county (or, with `homes`, reuse the one built there before), measure
    it, print the figures; returns them."""
    from bench.scale import SECRET, _drop

    figures: dict[str, float] = {}
    lines: list[str] = []
    # A benchmark stopped with SIGTERM still drops its schema (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def note(name: str, timed: Measured) -> None:
        figures[name] = timed.seconds
        figures[f"{name} (MiB)"] = timed.max_rss_mib
        lines.append(
            f"| {name} | {timed.seconds:.2f} s | {timed.max_rss_mib:.0f} MiB |"
        )

    with (
        receiver() as hook,
        DingTalkRobotServer(latency=latency) as dingtalk,
        WeComRobotServer(keys=[OFFICE_KEY]) as wecom,
        tempfile.TemporaryDirectory() as tmp,
    ):
        urls = {"hook": hook, "dingtalk": dingtalk.url, "wecom": wecom.url}
        home = (homes or Path(tmp)) / "county"
        kept = home / KEPT
        if kept.exists():  # built by an earlier run: reuse it
            saved = json.loads(kept.read_text("utf-8"))
            items, villages = saved["items"], saved["villages"]
            schema, offset = saved["schema"], saved["next_number"]
            config = (home / "syndicate.toml").read_text("utf-8")
            for name, url in saved["urls"].items():  # this run's fakes, in two
                config = config.replace(url, f"@{name}@")  # steps: a new port may
            for name, url in urls.items():  # be an old one of another fake
                config = config.replace(f"@{name}@", url)
            (home / "syndicate.toml").write_text(config, "utf-8")
            figures |= {k: float(v) for k, v in saved["figures"].items()}
        else:
            schema, offset = f"bench_county_{uuid.uuid4().hex[:8]}", items
        env = {"BENCH_SECRET": SECRET, "SYNDICATE_ACTOR": "bench"}
        env |= {f"ROBOT_{n:04}": token(n) for n in range(villages)}
        if store != "sqlite":
            env |= {"SYNDICATE_STORE_URL": store, "SYNDICATE_STORE_SCHEMA": schema}
        for n in range(villages):
            dingtalk.add_robot(token(n))
        dingtalk.add_robot(token(90000))

        def keep() -> None:
            kept.write_text(
                json.dumps(
                    {
                        "items": items,
                        "villages": villages,
                        "schema": schema,
                        "next_number": offset + VILLAGE_EVERY,
                        "urls": urls,
                        "figures": {
                            k: figures[k]
                            for k in ("build", "deliveries", "delivery events")
                        },
                    }
                ),
                "utf-8",
            )

        try:
            if not kept.exists():
                Engine.init(home, environ=env, review=False)  # and checkpoint store
                env |= configure(home, villages, hook, dingtalk.url, wecom.url)
                started = time.perf_counter()
                figures["deliveries"] = float(
                    build(home, items, env, progress=items > CHUNK)
                )
                figures["build"] = time.perf_counter() - started
                figures["delivery events"] = _events(home, env)
                if homes:
                    keep()
            else:
                env |= {"TOWNSHIP_ROBOT": token(90000), "OFFICE_ROBOT": OFFICE_KEY}
            penv = {**os.environ, **env}
            penv.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package runs
            base = [*SYNDICATE, "--home", str(home)]
            print(
                f"built in {figures['build']:.0f} s: {items:,} items, "
                f"{int(figures['deliveries']):,} deliveries, "
                f"{int(figures['delivery events']):,} delivery events",
                flush=True,
            )
            syncs, statuses = [], []
            for _ in range(rounds):
                offset += 1
                while offset % VILLAGE_EVERY == 0:
                    offset += 1
                (ref,) = publish(home, env, 1, offset)
                syncs.append(run([*base, "sync"], penv))
                statuses.append(run([*base, "status", ref], penv))
            note("sync, one new item (8 deliveries), median", _median(syncs))
            note("status REF, median", _median(statuses))
            offset = (offset // VILLAGE_EVERY + 1) * VILLAGE_EVERY
            publish(home, env, 1, offset)
            note(
                f"sync, one new 社会救助 item ({villages + 8} deliveries)",
                run([*base, "sync"], penv),
            )
            rates = {}
            for count in (1, 4):
                offset = (offset // VILLAGE_EVERY + 1) * VILLAGE_EVERY
                rates[count], cpu = burst(
                    home, penv, dingtalk, villages, burst_items, offset, count
                )
                offset += burst_items * VILLAGE_EVERY
                figures[f"workers {count} CPU per delivery"] = cpu
                lines.append(
                    f"| {count} worker(s): {burst_items} items to {villages} groups "
                    f"(robots answer in {latency * 1000:.0f} ms) | "
                    f"{rates[count]:.1f} deliveries/s | workers' CPU "
                    f"{cpu * 1000:.1f} ms a delivery |"
                )
            figures["workers 4 vs 1"] = rates[4] / rates[1]
            run([*base, "sync"], penv)  # what the workers left (other outlets)
            if homes:
                keep()  # the numbers used so far, and this run's fakes
            if audit:
                note("audit verify", run([*base, "audit", "verify"], penv))
                note("audit consistency", run([*base, "audit", "consistency"], penv))
                replayed = Path(tmp) / "replay"
                as_of = ["--as-of", _now(), "--out", str(replayed)]
                note(
                    "audit replay (every outlet, as of now)",
                    run([*base, "audit", "replay", *as_of], penv),
                )
        finally:
            if store != "sqlite" and not homes:
                _drop(store, schema)
    print(f"\nmachine: {_machine(store)}")
    print(
        f"{items:,} items, {villages} village groups + 8 outlets, "
        f"{int(figures['delivery events']):,} delivery events, "
        f"{'SQLite' if store == 'sqlite' else 'PostgreSQL'}; built in "
        f"{figures['build']:.0f} s\n"
    )
    print("| command, as a process | time | peak RSS |\n|---|---|---|")
    print("\n".join(lines))
    cpu = figures["workers 4 CPU per delivery"]
    print(
        f"\n4 workers vs 1: {figures['workers 4 vs 1']:.2f}x (target 3.5x); "
        f"the workers' CPU alone bounds {os.cpu_count()} cores at "
        f"{(os.cpu_count() or 1) / cpu:.0f} deliveries/s"
    )
    return figures


def _now() -> str:
    return datetime.now(CHINA_TZ).isoformat(timespec="seconds")


def _median(timed: list[Measured]) -> Measured:
    seconds = statistics.median(t.seconds for t in timed)
    rss = int(statistics.median(t.max_rss for t in timed))
    return Measured(seconds, rss, 0, "", "")


def _events(home: Path, env: dict[str, str]) -> float:
    """The deliveries log's length (its last position)."""
    with Engine.open(home, environ=env) as engine:
        return float(engine.deliveries.recorder.max_notification_id() or 0)


def _machine(store: str) -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    text = (
        f"{platform.machine()}, {cpus} CPUs, {memory:.0f} GiB, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.platform()}"
    )
    if store != "sqlite":
        import psycopg

        with psycopg.connect(store) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        text += f", PostgreSQL {row[0] if row else '?'} on the same machine"
    return text
