"""先审后发 as a property: no sequence of review commands lets an unreleased version out.

Seeded random sequences of publish (plain items, policies, their 解读, pairs), approvals
at right and wrong levels, with stale hashes, by the author or by someone who may not
act, returns, resubmissions, revisions, withdrawals, urgent releases and approvals
afterwards, with the planner run in between, on SQLite and PostgreSQL. After every
command and every planner run the deliveries log is checked against the items log:

- a refused command leaves the items log byte for byte as it was;
- every `Released` version was approved at every level, over its hash, by distinct
  people other than its author;
- every delivery to a public outlet is for a version at which what outlets show changed,
  and renders content that was released then, never a version only submitted;
- whole-set outlets (feeds, kiosk) list exactly the items released and live as of the
  delivery's log position, never a pending one;
- a policy never released and its 解读 are released in one write, and every outlet gets
  deliveries for all of them or none, at one log position;
- every public change is planned to every outlet that takes it, and nothing else is.

A failing seed is in the test id; run it alone to replay it.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from syndicate.adapter import Operation
from syndicate.application import Change, Disclosures
from syndicate.delivery import Worker
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.deliveries import Delivery, delivery_id
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.review import ReviewPolicy
from syndicate.errors import SyndicateError
from syndicate.outletset import OutletSet
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import content

L1, L2 = "科室初审", "分管领导审签"
AUTHORS = ("张三", "孙七")
LEADERS = ("王五", "赵六")
PEOPLE = (*AUTHORS, "李四", *LEADERS)
NEEDS_JIEDU = "规范性文件"
HOUSING = "临溪县住房和城乡建设局"
# Areas as the content stores them (codes), as the filtered outlet's `areas` names one.
RELIEF_AREA = content().area
OTHER_AREA = content(area="农村危房改造", stage="决策公开").area
SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()

OUTLETS = """
[outlets.archive]
kind = "directory"
path = "out/archive"

[outlets.relief]
kind = "directory"
path = "out/relief"
areas = ["社会救助"]

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

[outlets.review-desk]
kind = "webhook"
url = "https://review.linxi.gov.cn/hook"
secret = "${REVIEW_HOOK_SECRET}"
internal = true
review_queue = true

[review.reviewers]
"分管领导审签" = ["王五", "赵六"]
"""
# Outlets that take every item (no filter): every public change is planned to each.
STEPS = 70
TAKE_ALL = ("archive", "portal", "feeds", "kiosk")
WHOLE_SET = ("feeds", "kiosk")
QUEUE = "review-desk"
REMOVALS = {Operation.RETRACT.value, Operation.WITHDRAWAL_NOTICE.value}
PUBLIC_EVENTS = {"Released", "UrgentlyReleased", "Withdrawn"}


def review_home(project: Project, environ: dict[str, str]) -> Project:
    """`project`'s home with two review levels, a 解读 rule and the outlets above."""
    path = project.config_path
    text, count = re.subn(
        r"^levels = \[\]$",
        f'levels = ["{L1}", "{L2}"]\nrequires_interpretation = ["{NEEDS_JIEDU}"]',
        path.read_text("utf-8"),
        count=1,
        flags=re.MULTILINE,
    )
    assert count == 1
    path.write_text(text + OUTLETS, "utf-8")
    return Project.load(project.home, {**environ, "REVIEW_HOOK_SECRET": SECRET})


# -- reading the logs -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One stored item event, decoded."""

    position: int
    item_id: UUID
    version: int
    event: str
    raw: DisclosureItem.Event


def log_rows(items: Disclosures) -> list[Row]:
    """Every stored event of the items log, decoded, in log order."""
    rows: list[Row] = []
    start = 0
    while True:
        page = items.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=False
        )
        if not page:
            return rows
        for notification in page:
            event = items.mapper.to_domain_event(notification)
            assert isinstance(event, DisclosureItem.Event)
            rows.append(
                Row(
                    notification.id,
                    event.originator_id,
                    event.originator_version,
                    type(event).__name__,
                    event,
                )
            )
        start = page[-1].id


@dataclass
class Bundle:
    """Items released together by one approval: (item id, version) and the position
    of the last `Released` event, where the planner plans them all."""

    members: list[tuple[UUID, int]]
    position: int


@dataclass
class Checker:
    """Checks the deliveries log against the items log (see the module docstring)."""

    items: Disclosures
    deliveries: Deliveries
    outlet_set: OutletSet
    bundles: list[Bundle] = field(default_factory=list)
    checked: set[UUID] = field(default_factory=set)
    cache: dict[tuple[UUID, int], DisclosureItem] = field(default_factory=dict)

    def at(self, item_id: UUID, version: int) -> DisclosureItem:
        key = (item_id, version)
        if key not in self.cache:
            self.cache[key] = self.items.get(item_id, version=version)
        return self.cache[key]

    def check(self) -> None:
        rows = log_rows(self.items)
        by_key = {(r.item_id, r.version): r for r in rows}
        by_position = {r.position: r for r in rows}
        public = self._public_changes(rows)
        self._check_releases(rows)
        released_hashes = self._released_hashes(public, by_key)
        planned_to = self.deliveries.position()
        deliveries = self.deliveries.all_deliveries()
        for d in deliveries.values():
            if d.id in self.checked:
                continue
            if d.operation == Operation.REVIEW_NOTICE.value:
                self._check_notice(d, by_key)
            else:
                self._check_delivery(d, by_key, by_position, public, released_hashes)
                if d.outlet in WHOLE_SET:
                    self._check_whole_set(d, rows)
            self.checked.add(d.id)
        self._check_complete(deliveries, public, by_key, planned_to)
        self._check_bundles(deliveries, planned_to)

    def _public_changes(self, rows: list[Row]) -> set[tuple[UUID, int]]:
        """Versions at which what outlets show changed, checked against the events."""
        changes: set[tuple[UUID, int]] = set()
        for row in rows:
            # Review is on for every item: nothing is released at once.
            assert row.event not in ("Published", "Revised"), row
            item = self.at(row.item_id, row.version)
            if item.public_version == row.version:
                assert row.event in PUBLIC_EVENTS, row
                changes.add((row.item_id, row.version))
            elif row.event in ("Released", "UrgentlyReleased"):
                raise AssertionError(f"{row} released nothing")
            elif row.event == "Withdrawn":
                # Only a draft never released is withdrawn without changing outlets.
                assert self.at(row.item_id, row.version - 1).public_version == 0
        return changes

    def _check_releases(self, rows: list[Row]) -> None:
        """Every `Released` version was approved at every level over its hash by
        distinct people other than its author, each allowed at their level."""
        for row in rows:
            if row.event != "Released":
                continue
            event = row.raw
            assert isinstance(event, DisclosureItem.Released)
            before = self.at(row.item_id, row.version - 1)
            pending = before.pending
            assert pending is not None, row
            assert pending.returned is None, row
            assert pending.levels == (L1, L2)
            assert [a.level for a in pending.approvals] == [L1, L2], row
            assert {a.content_hash for a in pending.approvals} == {pending.review_hash}
            assert event.content_hash == pending.content_hash
            reviewers = [a.reviewer for a in pending.approvals]
            assert len(set(reviewers)) == 2, reviewers
            assert pending.submitted_by not in reviewers
            assert reviewers[1] in LEADERS
            if pending.content is not None:
                assert content_hash(pending.content) == pending.content_hash

    def _released_hashes(
        self, public: set[tuple[UUID, int]], by_key: dict[tuple[UUID, int], Row]
    ) -> dict[UUID, dict[int, str]]:
        """Per item, the content hash shown from each public change on, checked
        against the hash its releasing event names."""
        hashes: dict[UUID, dict[int, str]] = defaultdict(dict)
        for item_id, version in public:
            item = self.at(item_id, version)
            assert item.status is not ItemStatus.PENDING
            last = item.history[-1]
            assert last.version == version
            event = by_key[(item_id, version)].raw
            if item.status is ItemStatus.PUBLISHED:
                assert isinstance(
                    event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased
                )
                assert event.content_hash == item.content_hash
                assert last.content_hash == item.content_hash
                assert content_hash(item.content) == item.content_hash
            hashes[item_id][version] = item.content_hash
        return hashes

    def _check_notice(self, d: Delivery, by_key: dict[tuple[UUID, int], Row]) -> None:
        assert d.outlet == QUEUE, f"a review notice went to {d.outlet}"
        row = by_key[(d.item_id, d.item_version)]
        assert row.event in (
            "Submitted",
            "Approved",
            "Returned",
            "Released",
            "UrgentlyReleased",
        ), row
        job = self.outlet_set.job(d)
        assert job.review is not None
        assert job.review.item_id == d.item_id
        assert job.review.version == d.item_version

    def _check_delivery(
        self,
        d: Delivery,
        by_key: dict[tuple[UUID, int], Row],
        by_position: dict[int, Row],
        public: set[tuple[UUID, int]],
        released_hashes: dict[UUID, dict[int, str]],
    ) -> None:
        key = (d.item_id, d.item_version)
        assert d.outlet != QUEUE, f"{d.outlet} (a review queue) got an item"
        assert key in public, f"{d.outlet} got {key}, where nothing was released"
        row = by_key[key]
        if d.position != row.position:
            # Planned with the last release of its bundle (a policy and its 解读,
            # approved, or published urgently in one command).
            releases = DisclosureItem.Released | DisclosureItem.UrgentlyReleased
            assert isinstance(row.raw, releases), row
            last = by_position[d.position]
            assert row.raw.planned_with == last.item_id, (row, last)
            assert isinstance(last.raw, releases)
            assert type(last.raw) is type(row.raw)
            assert key in last.raw.bundle
        job = self.outlet_set.job(d)
        view = job.item
        assert view.item_id == d.item_id
        assert view.version == d.item_version
        assert view.content_hash == content_hash(view.content)
        # The content released at that version: never one only submitted.
        assert view.content_hash == released_hashes[d.item_id][d.item_version]
        item = self.at(*key)
        if item.status is ItemStatus.WITHDRAWN:
            assert d.operation in REMOVALS, d

    def _live_as_of(self, rows: list[Row], position: int) -> set[tuple[UUID, str]]:
        """(item, hash) of every item released and not withdrawn as of `position`."""
        latest: dict[UUID, int] = {}
        for row in rows:
            if row.position <= position:
                latest[row.item_id] = row.version
        live: set[tuple[UUID, str]] = set()
        for item_id, version in latest.items():
            item = self.at(item_id, version)
            if item.public_version and item.status is ItemStatus.PUBLISHED:
                live.add((item_id, item.content_hash))
        return live

    def _check_whole_set(self, d: Delivery, rows: list[Row]) -> None:
        job = self.outlet_set.job(d)
        listed = {(v.item_id, v.content_hash) for v in job.live_items}
        for view in (*job.live_items, *job.withdrawn_items):
            item = self.at(view.item_id, view.version)
            assert item.status is not ItemStatus.PENDING, view
            assert item.public_version == view.version
        assert listed == self._live_as_of(rows, d.position), (
            f"{d.outlet} at position {d.position} lists other items than were "
            "released and live then"
        )

    def _check_complete(
        self,
        deliveries: dict[UUID, Delivery],
        public: set[tuple[UUID, int]],
        by_key: dict[tuple[UUID, int], Row],
        planned_to: int,
    ) -> None:
        """Every public change planned so far is on every outlet taking it; nothing
        else is on any public outlet."""
        expected: set[tuple[UUID, int, str]] = set()
        for item_id, version in public:
            if by_key[(item_id, version)].position > planned_to:
                continue
            for outlet in TAKE_ALL:
                expected.add((item_id, version, outlet))
            after = self.at(item_id, version)
            before = self.at(item_id, version - 1)
            took = before.public_version > 0 and before.status is ItemStatus.PUBLISHED
            took = took and before.content.area == RELIEF_AREA
            takes = after.status is ItemStatus.PUBLISHED
            takes = takes and after.content.area == RELIEF_AREA
            if took or takes:
                expected.add((item_id, version, "relief"))
        planned = {
            (d.item_id, d.item_version, d.outlet)
            for d in deliveries.values()
            if d.operation != Operation.REVIEW_NOTICE.value
        }
        assert planned == expected, (
            f"planned but not public: {sorted(map(str, planned - expected))}; "
            f"public but not planned: {sorted(map(str, expected - planned))}"
        )

    def _check_bundles(self, deliveries: dict[UUID, Delivery], planned_to: int) -> None:
        for bundle in self.bundles:
            for outlet in (*TAKE_ALL, "relief"):
                got = [
                    deliveries.get(delivery_id(item_id, version, outlet))
                    for item_id, version in bundle.members
                ]
                if bundle.position > planned_to:
                    assert got == [None] * len(got)
                    continue
                if outlet in TAKE_ALL:
                    assert None not in got, (outlet, bundle)
                assert {d.position for d in got if d is not None} <= {bundle.position}


# -- the random driver -------------------------------------------------------------------


@dataclass
class Driver:
    """Issues random commands and checks each write; the oracle for refusals is
    computed from the item as it was before the command."""

    items: Disclosures
    deliveries: Deliveries
    checker: Checker
    rng: random.Random
    roles: dict[UUID, str] = field(default_factory=dict)  # plain, policy, jiedu
    counter: int = 0
    refusals: int = 0
    stats: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    # content ------------------------------------------------------------------------

    def plain(self) -> ItemContent:
        n = self.next_number()
        return content(
            index_no=f"11330100MB0000006R/2026-{300 + n:05d}",
            title=f"临溪县社会救助公告第{n}号",
            body=f"第{n}号公告：经审批，新增救助对象{n}户。",
        )

    def policy(self) -> ItemContent:
        n = self.next_number()
        return content(
            agency=HOUSING,
            index_no=f"11330100MB0000003P/2026-{300 + n:05d}",
            title=f"临溪县农村危房改造实施办法第{n}号",
            body=f"第{n}号政策文件正文。",
            area="农村危房改造",
            stage="决策公开",
            category=self.rng.choice([None, NEEDS_JIEDU]),
        )

    def jiedu(self, target: UUID) -> ItemContent:
        n = self.next_number()
        return content(
            agency=HOUSING,
            index_no=f"11330100MB0000003P/2026-{300 + n:05d}",
            title=f"第{n}号政策解读",
            body=f"第{n}号解读：一图读懂实施办法。",
            area="农村危房改造",
            stage="决策公开",
            interprets=target,
        )

    def revised(self, item: DisclosureItem) -> ItemContent:
        base = item.pending.content if item.pending and item.pending.content else None
        data = (base or item.content).model_dump(mode="json")
        data["body"] = f"{data['body']}（第{self.next_number()}次更正）"
        if self.roles[item.id] == "plain" and self.rng.random() < 0.3:
            # Moves the item on or off the filtered outlet.
            data["area"] = OTHER_AREA if data["area"] == RELIEF_AREA else RELIEF_AREA
        return ItemContent.model_validate(data)

    # commands -----------------------------------------------------------------------

    def step(self) -> None:
        actions: list[tuple[Callable[[], None], int]] = [
            (self.publish, 3 if len(self.roles) < 10 else 0),
            (self.approve, 14),
            (self.return_, 1),
            (self.resubmit, 1),
            (self.revise, 2),
            (self.withdraw, 1),
            (self.urgent, 1),
            (self.afterwards, 2),
            (self.plan, 2),
        ]
        action = self.rng.choices(
            [a for a, _ in actions], weights=[w for _, w in actions]
        )[0]
        action()

    def plan(self) -> None:
        self.deliveries.plan()
        self.checker.check()
        self.stats["plan"] += 1

    def current(self) -> dict[UUID, DisclosureItem]:
        return {i: self.items.get(i) for i in self.roles}

    def run(
        self,
        name: str,
        command: Callable[[], Change | list[Change]],
        expect: bool | None,
        *,
        may_release: bool = False,
        released: bool | None = False,
    ) -> bool:
        """Run a command; check what it wrote (or, refused, that it wrote nothing).
        Returns whether it was carried out."""
        before = self.current()
        snapshot = log_snapshot(self.items)
        start = snapshot[-1][0] if snapshot else 0
        refused: SyndicateError | None = None
        try:
            result = command()
        except SyndicateError as exc:
            refused = exc
        if refused is not None:
            assert expect is not True, f"{name} refused: {refused}"
            assert log_snapshot(self.items) == snapshot, f"refused {name} wrote"
            self.refusals += 1
            self.stats[f"{name} refused"] += 1
            return False
        assert expect is not False, f"{name} should have been refused"
        self.stats[name] += 1
        changes = result if isinstance(result, list) else [result]
        rows = [r for r in log_rows(self.items) if r.position > start]
        assert rows, f"{name} wrote nothing"
        assert max(c.position for c in changes) == rows[-1].position
        for change in changes:
            at_change = self.items.get(change.item_id, version=change.version)
            assert change.released == (at_change.public_version == change.version)
            if released is not None:
                assert change.released is released, (name, change)
        releases = [r for r in rows if r.event in ("Released", "UrgentlyReleased")]
        if not may_release:
            assert not releases, f"{name} released {releases}"
        self.check_write(name, rows, before)
        return True

    def check_write(
        self, name: str, rows: list[Row], before: dict[UUID, DisclosureItem]
    ) -> None:
        """A policy never released and its 解读 under review go out in one write."""
        released = [r for r in rows if r.event == "Released"]
        if not released:
            return
        assert name == "approve", f"{name} released {released}"
        ids = {r.item_id for r in released}
        for row in released:
            old = before.get(row.item_id)
            assert old is not None
            assert old.pending is not None
            proposal = old.pending.content
            # A 解读 of a policy never released goes out with the policy.
            target = proposal.interprets if proposal else None
            if target is not None and target in before:
                policy = before[target]
                if policy.status is ItemStatus.PENDING:
                    assert target in ids, f"{row} released without its policy"
            # A policy never released goes out with every 解读 of it under review.
            if old.status is ItemStatus.PENDING:
                for other in before.values():
                    pending = other.pending
                    if (
                        other.status is ItemStatus.PENDING
                        and pending is not None
                        and pending.content is not None
                        and pending.content.interprets == row.item_id
                    ):
                        assert other.id in ids, f"{row} released without {other.ref}"
                if proposal is not None and proposal.category == NEEDS_JIEDU:
                    assert any(
                        (p := before[i].pending) is not None
                        and p.content is not None
                        and p.content.interprets == row.item_id
                        for i in ids
                    ), f"{row}: a {NEEDS_JIEDU} released without a 解读"
        # One write: the Released events close it, the approving item's last.
        assert rows[-1].event == "Released"
        assert all(r.event in ("Approved", "Released") for r in rows), rows
        assert {r.item_id for r in rows} == ids
        if len(released) > 1:
            assert rows[-1].raw.bundle  # type: ignore[attr-defined]
            named = {(i, v) for i, v in rows[-1].raw.bundle}  # type: ignore[attr-defined]
            assert named == {(r.item_id, r.version) for r in released[:-1]}
            for r in released[:-1]:
                assert r.raw.planned_with == rows[-1].item_id  # type: ignore[attr-defined]
            self.checker.bundles.append(
                Bundle([(r.item_id, r.version) for r in released], rows[-1].position)
            )
            self.stats["bundle"] += 1

    def pick(self, where: Callable[[DisclosureItem], bool]) -> DisclosureItem | None:
        found = [i for i in self.current().values() if where(i)]
        return self.rng.choice(found) if found else None

    def publish(self) -> None:
        author = self.rng.choice(AUTHORS)
        urgent = "汛情紧急，先行发布" if self.rng.random() < 0.12 else None
        shape = self.rng.choice(["plain", "policy", "pair", "jiedu", "jiedu"])
        expect: bool | None = True
        if shape == "plain":
            batch = [(self.plain(), "plain")]
        elif shape == "policy":
            batch = [(self.policy(), "policy")]
            if urgent is not None:
                expect = False  # its category needs a 解读 released with it
        elif shape == "pair":
            policy = self.policy()
            batch = [(policy, "policy"), (self.jiedu(policy.id), "jiedu")]
        else:
            target = self.pick(lambda i: self.roles[i.id] == "policy")
            if target is None:
                return
            batch = [(self.jiedu(target.id), "jiedu")]
            if target.status is ItemStatus.WITHDRAWN:
                expect = False
            elif urgent is not None:
                expect = target.status is ItemStatus.PUBLISHED
        done = self.run(
            "publish",
            lambda: self.items.publish_many(
                [c for c, _ in batch], actor=author, urgent=urgent
            ),
            expect,
            may_release=urgent is not None,
            released=urgent is not None,
        )
        if done:
            for c, role in batch:
                self.roles[c.id] = role

    def approve(self) -> None:
        # Mostly versions a reviewer can act on; sometimes one returned to its author.
        returned = self.rng.random() < 0.1
        item = self.pick(
            lambda i: i.pending is not None and (returned or i.pending.returned is None)
        )
        if item is None:
            return
        pending = item.pending
        assert pending is not None
        done = [a.reviewer for a in pending.approvals]
        level = pending.next_level or self.rng.choice((L1, L2))
        allowed = LEADERS if level == L2 else PEOPLE
        fit = [p for p in allowed if p != pending.submitted_by and p not in done]
        actor = self.rng.choice(fit or PEOPLE)
        digest = pending.review_hash
        mistake = self.rng.choices(
            ["none", "level", "stale", "self", "outsider", "twice"],
            weights=[20, 1, 1, 1, 1, 1],
        )[0]
        if mistake == "level":
            level = L1 if level == L2 else L2
        elif mistake == "stale":
            older = [r.content_hash for r in item.reviews if r.content_hash]
            older += [item.content_hash, "0" * 64]
            digest = self.rng.choice([h for h in older if h != digest] or ["0" * 64])
        elif mistake == "self":
            actor = pending.submitted_by
        elif mistake == "outsider":
            actor = "李四"  # may not act at the second level
        elif mistake == "twice" and done:
            actor = done[-1]
        expect = (
            pending.returned is None
            and level == pending.next_level
            and digest == pending.review_hash
            and actor != pending.submitted_by
            and actor not in done
            and (level != L2 or actor in LEADERS)
        )
        self.run(
            "approve",
            lambda: self.items.approve(
                item.id, level=level, content_hash=digest, actor=actor
            ),
            expect,
            may_release=True,
            released=None,  # the last level releases, unless its bundle waits
        )

    def return_(self) -> None:
        item = self.pick(lambda i: i.pending is not None)
        if item is None:
            return
        pending = item.pending
        assert pending is not None
        actor = self.rng.choice(PEOPLE)
        level = pending.next_level
        expect = (
            pending.returned is None
            and level is not None
            and (level != L2 or actor in LEADERS)
        )
        self.run(
            "return",
            lambda: self.items.return_to_author(
                item.id, comment="请核实数据", actor=actor
            ),
            expect,
        )

    def resubmit(self) -> None:
        item = self.pick(lambda i: i.status is not ItemStatus.WITHDRAWN)
        if item is None:
            return
        actor = self.rng.choice(AUTHORS)
        self.run(
            "resubmit",
            lambda: self.items.resubmit(item.id, actor=actor),
            item.pending is not None,
        )

    def revise(self) -> None:
        item = self.pick(lambda i: True)
        if item is None:
            return
        urgent = "更正错误数据，先行发布" if self.rng.random() < 0.15 else None
        new = self.revised(item)
        expect: bool | None = item.status is not ItemStatus.WITHDRAWN
        target = new.interprets
        if (
            expect
            and target is not None
            and self.items.get(target).status is ItemStatus.WITHDRAWN
        ):
            expect = False
        if expect and urgent is not None:
            expect = None  # refused if it would split a policy from its 解读
        actor = self.rng.choice(AUTHORS)
        self.run(
            "revise",
            lambda: self.items.revise(
                item.id, new, reason="更正数据", actor=actor, urgent=urgent
            ),
            expect,
            may_release=urgent is not None,
            released=urgent is not None,
        )

    def withdraw(self) -> None:
        item = self.pick(lambda i: True)
        if item is None:
            return
        urgent = "信息有误，立即撤回" if self.rng.random() < 0.25 else None
        pending = item.pending
        released = item.status is ItemStatus.PUBLISHED
        if item.status is ItemStatus.WITHDRAWN:
            expect = False
        elif urgent is not None:
            expect = released
        else:
            expect = not (
                released and pending is not None and pending.kind.value == "withdraw"
            )
        self.run(
            "withdraw",
            lambda: self.items.withdraw(
                item.id,
                reason="信息有误",
                public_note="该信息已撤回。",
                actor=self.rng.choice(AUTHORS),
                urgent=urgent,
            ),
            expect,
            may_release=urgent is not None,
            released=urgent is not None,
        )

    def urgent(self) -> None:
        item = self.pick(lambda i: i.pending is not None)
        if item is None:
            return
        self.run(
            "urgent",
            lambda: self.items.release_urgently(
                item.id, reason="汛情紧急", actor=self.rng.choice(AUTHORS)
            ),
            None,  # refused when it would split a policy from its 解读
            may_release=True,
            released=True,
        )

    def afterwards(self) -> None:
        item = self.pick(lambda i: i.urgent is not None)
        if item is None:
            return
        urgent = item.urgent
        assert urgent is not None
        done = [a.reviewer for a in urgent.approvals]
        level = urgent.next_level or L1
        allowed = LEADERS if level == L2 else PEOPLE
        authors = {urgent.submitted_by, urgent.actor}
        fit = [p for p in allowed if p not in authors and p not in done]
        actor = self.rng.choice(fit or PEOPLE)
        digest = urgent.review_hash
        if self.rng.random() < 0.25:
            digest, level = self.rng.choice(
                [("1" * 64, level), (digest, L2 if level == L1 else L1)]
            )
        expect = (
            level == urgent.next_level
            and digest == urgent.review_hash
            and actor not in authors
            and actor not in done
            and (level != L2 or actor in LEADERS)
        )
        self.run(
            "afterwards",
            lambda: self.items.approve_afterwards(
                item.id, level=level, content_hash=digest, actor=actor
            ),
            expect,
        )


@pytest.fixture
def review_project(project: Project, environ: dict[str, str]) -> Project:
    return review_home(project, environ)


@dataclass
class Logs:
    items: Disclosures
    deliveries: Deliveries
    outlet_set: OutletSet
    clock: FixedClock


@pytest.fixture
def logs(review_project: Project) -> Iterator[Logs]:
    clock = FixedClock()
    project = review_project
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock) as deliveries,
        project.outlet_set(items, deliveries, project.outlets, clock=clock) as outlets,
    ):
        yield Logs(items, deliveries, outlets, clock)


def _archive_files(folder: Path) -> dict[UUID, dict[str, Any]]:
    if not folder.is_dir():
        return {}
    return {
        UUID(p.stem): json.loads(p.read_text("utf-8")) for p in folder.glob("*.json")
    }


@pytest.mark.parametrize("seed", [11, 23, 37, 41, 5, 6])
def test_random_review_sequences_never_release_unapproved_content(
    logs: Logs, review_project: Project, seed: int
) -> None:
    checker = Checker(logs.items, logs.deliveries, logs.outlet_set)
    driver = Driver(logs.items, logs.deliveries, checker, random.Random(seed))
    assert review_project.review.on  # the home's [review] is in force
    for _ in range(STEPS):
        driver.step()
    driver.plan()
    # The sequence exercised what it is meant to (not only refusals or publishes).
    assert driver.stats["approve"] >= 5, dict(driver.stats)
    assert driver.refusals >= 2, dict(driver.stats)
    assert any(d.item_version for d in logs.deliveries.all_deliveries().values())
    # A worker delivers the hand-off folders: exactly what is released and live.
    outlets = review_project.outlets
    worker = Worker(
        logs.deliveries,
        logs.items,
        {n: outlets[n] for n in ("archive", "relief")},
        name="w",
        clock=logs.clock,
    )
    try:
        summary = worker.run_until_idle()
    finally:
        worker.close()
    assert summary.ok, summary
    for name, area in (("archive", None), ("relief", RELIEF_AREA)):
        files = _archive_files(review_project.home / "out" / name)
        expected = {}
        for item_id in driver.roles:
            item = logs.items.get(item_id)
            live = item.public_version and item.status is ItemStatus.PUBLISHED
            if live and (area is None or item.content.area == area):
                expected[item_id] = (item.public_version, item.content_hash)
        assert {
            i: (doc["version"], doc["content_hash"]) for i, doc in files.items()
        } == expected, name


# -- the same rules, one scenario at a time ------------------------------------------------


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


def pending_hash(items: Disclosures, ref: UUID) -> str:
    pending = items.get(ref).pending
    assert pending is not None
    return pending.review_hash


def approve_all(items: Disclosures, ref: UUID, *, first: str = "李四") -> Change:
    digest = pending_hash(items, ref)
    items.approve(ref, level=L1, content_hash=digest, actor=first)
    return items.approve(ref, level=L2, content_hash=digest, actor="王五")


def test_policy_and_interpretation_are_released_in_one_write(logs: Logs) -> None:
    items, deliveries = logs.items, logs.deliveries
    checker = Checker(items, deliveries, logs.outlet_set)
    items.publish(POLICY, actor="张三")
    items.publish(JIEDU, actor="孙七")
    # The policy approved at every level waits for its 解读: nothing goes out.
    waiting = approve_all(items, POLICY.id)
    assert (waiting.event, waiting.released, waiting.awaiting) == (
        "Approved",
        False,
        None,
    )
    assert items.get(POLICY.id).status is ItemStatus.PENDING
    deliveries.plan()
    checker.check()
    public = [
        d
        for d in deliveries.all_deliveries().values()
        if d.operation != Operation.REVIEW_NOTICE.value
    ]
    assert public == []
    digest = pending_hash(items, JIEDU.id)
    items.approve(JIEDU.id, level=L1, content_hash=digest, actor="李四")
    start = items.position()
    change = items.approve(JIEDU.id, level=L2, content_hash=digest, actor="赵六")
    assert (change.event, change.released) == ("Released", True)
    rows = [r for r in log_rows(items) if r.position > start]
    # One write: the 解读's last approval and both releases, the 解读's last (it names
    # the policy's, and plans both).
    assert len(rows) == 3
    assert {(r.item_id, r.event) for r in rows} == {
        (JIEDU.id, "Approved"),
        (POLICY.id, "Released"),
        (JIEDU.id, "Released"),
    }
    assert (rows[-1].item_id, rows[-1].event) == (JIEDU.id, "Released")
    released = [r for r in rows if r.event == "Released"]
    assert released[-1].position == change.position
    checker.bundles.append(
        Bundle([(r.item_id, r.version) for r in released], change.position)
    )
    deliveries.plan()
    checker.check()
    for outlet in TAKE_ALL:
        planned = [
            d
            for d in deliveries.all_deliveries().values()
            if d.outlet == outlet and d.operation == "publish"
        ]
        assert {d.item_id for d in planned} == {POLICY.id, JIEDU.id}, outlet
        assert {d.position for d in planned} == {change.position}


def test_whole_set_outlets_list_items_released_after_review(logs: Logs) -> None:
    """Minimal case: one item, released after review, is on the feeds and the kiosk."""
    items, deliveries = logs.items, logs.deliveries
    items.publish(content(), actor="张三")
    approve_all(items, content().id)
    deliveries.plan()
    for outlet in WHOLE_SET:
        (d,) = [d for d in deliveries.all_deliveries().values() if d.outlet == outlet]
        job = logs.outlet_set.job(d)
        assert [v.item_id for v in job.live_items] == [content().id], outlet


def test_whole_set_outlets_skip_drafts_withdrawn_before_release(logs: Logs) -> None:
    """Minimal case: a draft withdrawn before review was never public; the feeds and
    the kiosk render without it (not fail on it)."""
    items, deliveries = logs.items, logs.deliveries
    abandoned = content(index_no="11330100MB0000006R/2026-00020")
    items.publish(abandoned, actor="张三")
    items.withdraw(abandoned.id, reason="重复录入", actor="张三")
    items.publish(content(), actor="张三")
    approve_all(items, content().id)
    deliveries.plan()
    for outlet in WHOLE_SET:
        (d,) = [d for d in deliveries.all_deliveries().values() if d.outlet == outlet]
        job = logs.outlet_set.job(d)
        assert [v.item_id for v in job.live_items] == [content().id], outlet
        assert job.withdrawn_items == (), outlet


def test_outlet_added_later_is_backfilled_with_released_versions_only(
    review_project: Project,
) -> None:
    clock = FixedClock()
    project = review_project
    outlets = project.outlets
    first = {"archive": outlets["archive"]}
    with project.disclosures(clock=clock) as items:
        released = content()
        pending = content(index_no="11330100MB0000006R/2026-00020")
        abandoned = content(index_no="11330100MB0000006R/2026-00021")
        items.publish_many([released, pending, abandoned], actor="张三")
        approve_all(items, released.id)
        # A draft withdrawn before review: nothing of it was ever public, so the
        # portal (which keeps withdrawn items as notices) gets nothing of it either.
        items.withdraw(abandoned.id, reason="重复录入", actor="张三")
        items.revise(
            released.id,
            content(body="更正后的正文。"),
            reason="更正",
            actor="张三",
        )
        with project.deliveries(items, clock=clock, outlets=first) as deliveries:
            deliveries.plan()
            assert deliveries.position() == items.position()
        both = {"archive": outlets["archive"], "portal": outlets["portal"]}
        with project.deliveries(items, clock=clock, outlets=both) as deliveries:
            deliveries.plan()
            planned = {
                (d.outlet, d.item_id, d.item_version, d.operation)
                for d in deliveries.all_deliveries().values()
            }
        # The released version, not the revision under review, and not the drafts;
        # just what the archive got by planning.
        public = items.get(released.id).public_version
        assert planned == {
            ("archive", released.id, public, "publish"),
            ("portal", released.id, public, "publish"),
        }


def test_revision_of_released_policy_that_needs_a_jiedu_is_released(
    logs: Logs,
) -> None:
    """`requires_interpretation` holds a policy's first release for its 解读; once
    both are out, a correction of the policy is released like any other."""
    items = logs.items
    policy = content(
        agency=HOUSING,
        index_no="11330100MB0000003P/2026-00008",
        title="临溪县2026年农村危房改造实施方案",
        area="农村危房改造",
        stage="决策公开",
        category=NEEDS_JIEDU,
    )
    items.publish_many([policy, JIEDU], actor="张三")
    assert approve_all(items, policy.id).released is False  # waits for its 解读
    assert approve_all(items, JIEDU.id).released is True
    assert items.get(policy.id).status is ItemStatus.PUBLISHED
    corrected = content(**{**policy.model_dump(), "body": "更正后的实施方案正文。"})
    items.revise(policy.id, corrected, reason="更正补助标准", actor="张三")
    change = approve_all(items, policy.id)
    assert (change.event, change.released) == ("Released", True)
    assert items.get(policy.id).content_hash == content_hash(corrected)


def test_refused_approvals_write_nothing(logs: Logs) -> None:
    """The refusals the random test provokes, each once, named."""
    items = logs.items
    items.publish(content(), actor="张三")
    digest = pending_hash(items, content().id)
    snapshot = log_snapshot(items)
    attempts: list[tuple[str, Callable[[], Change]]] = [
        (
            "wrong level",
            lambda: items.approve(
                content().id, level=L2, content_hash=digest, actor="王五"
            ),
        ),
        (
            "stale hash",
            lambda: items.approve(
                content().id, level=L1, content_hash="a" * 64, actor="李四"
            ),
        ),
        (
            "self-approval",
            lambda: items.approve(
                content().id, level=L1, content_hash=digest, actor="张三"
            ),
        ),
        (
            "unknown level",
            lambda: items.approve(
                content().id, level="局长", content_hash=digest, actor="李四"
            ),
        ),
    ]
    for what, attempt in attempts:
        with pytest.raises(SyndicateError):
            attempt()
        assert log_snapshot(items) == snapshot, what
    items.approve(content().id, level=L1, content_hash=digest, actor="王五")
    snapshot = log_snapshot(items)
    for what, actor in (("twice", "王五"), ("not a leader", "李四")):
        with pytest.raises(SyndicateError):
            items.approve(content().id, level=L2, content_hash=digest, actor=actor)
        assert log_snapshot(items) == snapshot, what


def test_policy_object_from_code_matches_the_configured_one(
    review_project: Project,
) -> None:
    """`ReviewPolicy.of` and the home's [review] give the same rules (the random test
    relies on the home's)."""
    rules = review_project.review.rules_for(content())
    made = ReviewPolicy.of(
        [L1, (L2, LEADERS)], requires_interpretation=[NEEDS_JIEDU]
    ).rules_for(content())
    assert rules == made
