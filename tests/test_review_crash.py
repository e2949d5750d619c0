"""先审后发 across crashes: a bundle is never half-released, and a revision under review
never replaces what outlets show.

The planner runs in a subprocess that plans one items-log event per transaction, so a
kill -9 can land between the `Released` events of a policy and its 解读. It is killed at
chosen positions (a hook in the subprocess kills itself, just before or just after a
given position is recorded) and at random moments; whatever it leaves, the bundle's
deliveries cover both members or neither, and after a restart both exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest

from syndicate.application import Change, Disclosures
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.deliveries import Delivery, delivery_id
from syndicate.domain.items import ItemStatus
from syndicate.engine import Engine
from syndicate.project import Project
from syndicate.testing import FixedClock
from tests.conftest import content

L1, L2 = "科室初审", "分管领导审签"
HOUSING = "临溪县住房和城乡建设局"
OUTLETS = """
[outlets.archive]
kind = "directory"
path = "out/archive"

[outlets.portal]
kind = "portal"
channel = "portal"
path = "out/portal"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"

[outlets.kiosk]
kind = "kiosk"
channel = "kiosk"
path = "out/kiosk"
"""
PLANNED_TO = ("archive", "portal", "feeds", "kiosk")
POLICY = content(
    agency=HOUSING,
    index_no="11330100MB0000003P/2026-00008",
    title="临溪县2026年农村危房改造实施方案",
    area="农村危房改造",
    stage="决策公开",
)
JIEDU = content(
    agency=HOUSING,
    index_no="11330100MB0000003P/2026-00009",
    title="实施方案政策解读",
    area="农村危房改造",
    stage="决策公开",
    interprets=POLICY.id,
)

# The planner, in a process of its own. PLAN_SECTION: items-log events per
# transaction. KILL_BEFORE / KILL_AFTER: SIGKILL itself just before / just after the
# transaction that records that items-log position. PLAN_PAUSE: seconds to wait after
# each transaction (so random kills land mid-work).
PLANNER = """
import os, signal, sys, time
from pathlib import Path
from syndicate.planning import Deliveries
from syndicate.project import Project

Deliveries.pull_section_size = int(os.environ.get("PLAN_SECTION", "500"))
before = int(os.environ.get("KILL_BEFORE", "0"))
after = int(os.environ.get("KILL_AFTER", "0"))
pause = float(os.environ.get("PLAN_PAUSE", "0"))
record = Deliveries._record
started = []

def hooked(self, processing_event):
    tracking = processing_event.tracking  # None: not planning (the outlet register)
    position = tracking.notification_id if tracking else 0
    if tracking and not started:
        started.append(position)
        print("planning", flush=True)  # the parent's cue to start the clock
    if before and position >= before:
        os.kill(os.getpid(), signal.SIGKILL)
    result = record(self, processing_event)
    if after and position >= after:
        os.kill(os.getpid(), signal.SIGKILL)
    if pause and tracking:
        time.sleep(pause)
    return result

Deliveries._record = hooked
project = Project.load(Path(sys.argv[1]), os.environ)
with project.disclosures() as items, project.deliveries(items) as deliveries:
    deliveries.plan()
    print("planned to", deliveries.position())
"""


def review_home(project: Project, environ: dict[str, str]) -> Project:
    """`project`'s home with two review levels and the outlets above."""
    path = project.config_path
    text, count = re.subn(
        r"^levels = \[\]$",
        f'levels = ["{L1}", "{L2}"]',
        path.read_text("utf-8"),
        count=1,
        flags=re.MULTILINE,
    )
    assert count == 1
    path.write_text(text + OUTLETS, "utf-8")
    return Project.load(project.home, environ)


def approve_all(items: Disclosures, ref: UUID) -> Change:
    pending = items.get(ref).pending
    assert pending is not None
    digest = pending.review_hash
    items.approve(ref, level=L1, content_hash=digest, actor="李四")
    return items.approve(ref, level=L2, content_hash=digest, actor="王五")


def filler(n: int) -> ItemContent:
    return content(
        index_no=f"11330100MB0000006R/2026-{100 + n:05d}",
        title=f"临溪县社会救助公告第{n}号",
        body=f"第{n}号公告：经审批，新增救助对象{n}户。",
    )


@dataclass
class Home:
    project: Project
    environ: dict[str, str]
    policy_released: int  # items-log position of the policy's Released event
    bundle_released: int  # ... of the 解读's, which plans both
    end: int  # the last items-log position

    def plan(self, **hooks: str) -> subprocess.CompletedProcess[str]:
        """Run the planner subprocess to its end (or its kill)."""
        return subprocess.run(
            [sys.executable, "-c", PLANNER, str(self.project.home)],
            env={**os.environ, **self.environ, **hooks},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def kill_while_planning(self, delay: float) -> int:
        """Start the planner (one event per transaction, slowed down), SIGKILL it
        `delay` seconds after it recorded its first position; its return code."""
        process = subprocess.Popen(
            [sys.executable, "-c", PLANNER, str(self.project.home)],
            env={
                **os.environ,
                **self.environ,
                "PLAN_SECTION": "1",
                "PLAN_PAUSE": "0.004",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        process.stdout.readline()  # "planning", or "" if it had nothing to plan
        time.sleep(delay)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        process.stdout.close()
        return process.returncode

    def state(self) -> tuple[int, dict[UUID, Delivery], Counter[UUID]]:
        """The planner's position, every delivery, and how often each was planned."""
        with (
            self.project.disclosures() as items,
            self.project.deliveries(items, outlets={}) as deliveries,
        ):
            planned: Counter[UUID] = Counter()
            start = 0
            while True:
                page = deliveries.recorder.select_notifications(
                    start=start, limit=500, inclusive_of_start=False
                )
                if not page:
                    break
                for n in page:
                    if n.topic.endswith("Delivery.Planned"):
                        planned[UUID(str(n.originator_id))] += 1
                start = page[-1].id
            return deliveries.position(), deliveries.all_deliveries(), planned

    def bundle_planned(self) -> bool:
        """Whether the bundle is planned: for both members on every outlet, at the 解读's
        Released position, or for neither on any (anything else fails)."""
        position, deliveries, planned = self.state()
        got = {
            (item_id, outlet): deliveries.get(delivery_id(item_id, version, outlet))
            for item_id, version in self.members()
            for outlet in PLANNED_TO
        }
        present = {key for key, d in got.items() if d is not None}
        assert present in (set(), set(got)), f"half a bundle planned: {sorted(present)}"
        assert all(planned[d.id] == 1 for d in got.values() if d is not None)
        assert all(
            d.position == self.bundle_released and d.operation == "publish"
            for d in got.values()
            if d is not None
        )
        # Planned exactly when the planner got past the 解读's Released event.
        assert bool(present) == (position >= self.bundle_released), position
        return bool(present)

    def members(self) -> list[tuple[UUID, int]]:
        with self.project.disclosures() as items:
            return [
                (POLICY.id, items.get(POLICY.id).public_version),
                (JIEDU.id, items.get(JIEDU.id).public_version),
            ]


@pytest.fixture
def home(project: Project, environ: dict[str, str]) -> Home:
    """A home with items under review: fillers released before and after a policy and
    its 解读, which are released together by the 解读's last approval."""
    project = review_home(project, environ)
    with project.disclosures(clock=FixedClock()) as items:
        items.publish_many([filler(n) for n in range(30)], actor="张三")
        for n in range(12):
            approve_all(items, filler(n).id)
        items.publish(POLICY, actor="张三")
        items.publish(JIEDU, actor="孙七")
        waiting = approve_all(items, POLICY.id)
        assert (waiting.event, waiting.released) == ("Approved", False)
        released = approve_all(items, JIEDU.id)
        assert (released.event, released.released) == ("Released", True)
        for n in range(12, 24):
            approve_all(items, filler(n).id)
        rows = list(items.read_log(item=POLICY.id))
        policy_released = next(r.position for r in rows if r.event == "Released")
        end = items.position()
    assert policy_released < released.position < end
    return Home(project, environ, policy_released, released.position, end)


def test_planner_killed_between_the_releases_of_a_bundle_plans_it_once(
    home: Home,
) -> None:
    one = {"PLAN_SECTION": "1"}
    # Killed just after recording the policy's Released: nothing of the bundle.
    run = home.plan(**one, KILL_AFTER=str(home.policy_released))
    assert run.returncode == -9, run.stderr
    assert home.state()[0] == home.policy_released
    assert not home.bundle_planned()
    # Killed just before recording the 解读's (which plans both): still nothing.
    run = home.plan(**one, KILL_BEFORE=str(home.bundle_released))
    assert run.returncode == -9, run.stderr
    assert home.state()[0] == home.bundle_released - 1
    assert not home.bundle_planned()
    # Killed just after it: both, on every outlet.
    run = home.plan(**one, KILL_AFTER=str(home.bundle_released))
    assert run.returncode == -9, run.stderr
    assert home.state()[0] == home.bundle_released
    assert home.bundle_planned()
    # Restarted: planned to the end, the bundle still exactly once.
    run = home.plan()
    assert run.returncode == 0, run.stderr
    position, deliveries, planned = home.state()
    assert position == home.end
    assert home.bundle_planned()
    assert set(planned.values()) == {1}
    # 24 fillers and the two members, each on every outlet; the drafts nowhere.
    assert len(deliveries) == 26 * len(PLANNED_TO)


@pytest.mark.parametrize("seed", [3])
def test_planner_killed_at_random_never_plans_half_a_bundle(
    home: Home, seed: int
) -> None:
    rng = random.Random(seed)
    mid_work = 0
    for _ in range(4):
        code = home.kill_while_planning(rng.uniform(0.0, 0.8))
        position = home.state()[0]
        mid_work += code == -9 and 0 < position < home.end
        home.bundle_planned()
        if position == home.end:
            break
    assert mid_work >= 1, "no kill landed while the planner worked"
    run = home.plan()
    assert run.returncode == 0, run.stderr
    assert home.state()[0] == home.end
    assert home.bundle_planned()
    assert set(home.state()[2].values()) == {1}


# -- a revision under review leaves what outlets show ----------------------------------------


def folder_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def engine(project: Project, environ: dict[str, str]) -> Iterator[Engine]:
    """An engine on a home under review with a directory outlet and the portal."""
    path = project.config_path
    text, count = re.subn(
        r"^levels = \[\]$",
        f'levels = ["{L1}", "{L2}"]',
        path.read_text("utf-8"),
        count=1,
        flags=re.MULTILINE,
    )
    assert count == 1
    path.write_text(
        text
        + '\n[outlets.archive]\nkind = "directory"\npath = "out/archive"\n'
        + '\n[outlets.portal]\nkind = "portal"\npath = "out/portal"\n'
        + 'site_url = "https://www.linxi.gov.cn"\nsite_name = "临溪县人民政府"\n',
        "utf-8",
    )
    with Engine(Project.load(project.home, environ), clock=FixedClock()) as made:
        yield made


def test_revision_under_review_leaves_the_released_version_on_every_outlet(
    engine: Engine,
) -> None:
    items = engine.items
    out = engine.project.home / "out"
    first = content()
    items.publish(first, actor="张三")
    released = approve_all(items, first.id)
    assert engine.sync().ok
    shown = folder_digest(out)
    document = out / "archive" / f"{first.id}.json"
    old_hash = content_hash(first)
    assert json.loads(document.read_text("utf-8"))["content_hash"] == old_hash
    assert {(r.outlet, r.live_version) for r in engine.status()} == {
        ("archive", released.version),
        ("portal", released.version),
    }

    second = content(body="经审批，新增农村低保对象48户75人。")
    change = items.revise(first.id, second, reason="更正户数", actor="张三")
    assert (change.event, change.released, change.awaiting) == ("Submitted", False, L1)
    pending = items.get(first.id).pending
    assert pending is not None
    assert pending.content_hash == content_hash(second)
    digest = pending.review_hash  # approvals name the proposal: content and 更正说明
    # Under review, and approved at the first level: outlets keep the released one.
    for step in ("submitted", "approved once"):
        result = engine.sync()
        assert result.ok, (step, result)
        assert result.outcomes == {}, (step, result)
        assert folder_digest(out) == shown, step
        item = items.get(first.id)
        assert (item.content_hash, item.public_version) == (old_hash, released.version)
        rows = engine.status(check=True)
        assert {(r.outlet, r.version, r.live_version, r.on_outlet) for r in rows} == {
            ("archive", released.version, released.version, "in sync"),
            ("portal", released.version, released.version, "in sync"),
        }, step
        if step == "submitted":
            items.approve(first.id, level=L1, content_hash=digest, actor="李四")

    final = items.approve(first.id, level=L2, content_hash=digest, actor="王五")
    assert final.released
    assert engine.sync().outcomes == {"succeeded": 2}
    assert json.loads(document.read_text("utf-8"))["content_hash"] == content_hash(
        second
    )
    page = out / "portal" / "items" / f"{first.id}.html"
    assert "48户75人" in page.read_text("utf-8")
    changed = folder_digest(out)
    assert changed != shown
    assert {
        (r.outlet, r.live_version, r.on_outlet) for r in engine.status(check=True)
    } == {
        ("archive", final.version, "in sync"),
        ("portal", final.version, "in sync"),
    }


def test_items_list_and_status_name_an_item_released_after_review(
    engine: Engine,
) -> None:
    """Minimal case: `items list` and `status` know an item that began as a draft, and
    show the hash released, not the one under review."""
    items = engine.items
    first = content()
    items.publish(first, actor="张三")
    approve_all(items, first.id)
    items.revise(first.id, content(body="更正后的正文。"), reason="更正", actor="张三")
    engine.sync()
    (summary,) = items.items()
    assert (summary.id, summary.status) == (first.id, ItemStatus.PUBLISHED)
    assert summary.content_hash == content_hash(first)
    assert {r.ref for r in engine.status()} == {first.ref}
