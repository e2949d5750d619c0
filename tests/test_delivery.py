"""Planner and worker on a real store (SQLite and PostgreSQL), with a fixed clock."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import pytest
import requests
import standardwebhooks
from pydantic import BaseModel, ConfigDict
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings

from syndicate.adapter import Capabilities, DeliveryJob, Operation, Receipt, Rendition
from syndicate.application import Disclosures
from syndicate.delivery import Backoff, Worker
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.domain.outlets import OutletRegister, RateSlot
from syndicate.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate.outlets import Outlet, OutletFilter
from syndicate.outletset import OutletSet
from syndicate.planning import Deliveries, plan_operation
from syndicate.project import Project
from syndicate.testing import FixedClock, LoopbackServer, sample_jobs
from tests.conftest import content

SECRET = "whsec_" + base64.b64encode(b"w" * 32).decode()


class ScriptSettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str


class ScriptedAdapter:
    """A message outlet (no edits, no retraction, no dedupe) answering from a script."""

    kind: ClassVar[str] = "scripted"
    Settings: ClassVar[type[BaseModel]] = ScriptSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False, deduplicates=False
    )
    script: ClassVar[dict[str, list[Exception]]] = {}
    sent: ClassVar[dict[str, list[dict[str, Any]]]] = {}

    def __init__(self, settings: BaseModel) -> None:
        assert isinstance(settings, ScriptSettings)
        self.name = settings.name

    def render(self, job: DeliveryJob) -> Rendition:
        body = {
            "op": job.operation.value,
            "v": job.item.version,
            "title": job.item.content.title,
        }
        return Rendition.of(
            json.dumps(body).encode(), "application/json", key=str(job.delivery_id)
        )

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        queue = self.script.setdefault(self.name, [])
        if queue:
            raise queue.pop(0)
        self.sent.setdefault(self.name, []).append(json.loads(rendition.data))
        return Receipt(remote_id=rendition.key)


def outlet(name: str, adapter: type[Any], settings: BaseModel, **kw: Any) -> Outlet:
    return Outlet(
        name=name,
        kind=adapter.kind,
        channel=kw.pop("channel", None),
        filter=kw.pop("filter", OutletFilter()),
        settings=settings,
        adapter_class=adapter,
        **kw,
    )


@dataclass
class Rig:
    project: Project
    clock: FixedClock
    items: Disclosures
    deliveries: Deliveries
    outlets: dict[str, Outlet]

    def worker(self, name: str = "w1", **kw: Any) -> Worker:
        return Worker(
            self.deliveries, self.items, self.outlets, name=name, clock=self.clock, **kw
        )

    def states(self) -> dict[tuple[str, int, str], DeliveryState]:
        return {
            (d.outlet, d.item_version, d.operation): d.state
            for d in self.deliveries.all_deliveries().values()
        }


@pytest.fixture
def rig(project: Project, clock: FixedClock, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(project, clock, tmp_path) as made:
        yield made


@contextmanager
def open_rig(project: Project, clock: FixedClock, tmp_path: Path) -> Iterator[Rig]:
    """A planner and worker rig: a directory outlet ("archive") and a scripted message
    outlet ("village") on `project`'s store."""
    ScriptedAdapter.script.clear()
    ScriptedAdapter.sent.clear()
    outlets = {
        "archive": outlet(
            "archive", DirectoryAdapter, DirectorySettings(path=tmp_path / "archive")
        ),
        "village": outlet("village", ScriptedAdapter, ScriptSettings(name="village")),
    }
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as deliveries,
    ):
        yield Rig(project, clock, items, deliveries, outlets)


# -- pure planning rules ---------------------------------------------------------------


def test_plan_operation_follows_capabilities() -> None:
    editable = outlet("e", DirectoryAdapter, DirectorySettings(path=Path("x")))
    message = outlet("m", ScriptedAdapter, ScriptSettings(name="m"))
    c, c2 = content(), content(title="更正后的标题")
    assert plan_operation("Published", None, c, editable) is Operation.PUBLISH
    assert plan_operation("Revised", c, c2, editable) is Operation.UPDATE
    assert plan_operation("Revised", c, c2, message) is Operation.CORRECTION
    assert plan_operation("Withdrawn", c, c, editable) is Operation.RETRACT
    assert plan_operation("Withdrawn", c, c, message) is Operation.WITHDRAWAL_NOTICE


def test_items_that_are_not_proactive_never_reach_public_outlets() -> None:
    public = outlet("p", ScriptedAdapter, ScriptSettings(name="p"))
    internal = outlet("i", ScriptedAdapter, ScriptSettings(name="i"), internal=True)
    secret = content(attribute="not_disclosed", attribute_basis="涉及个人隐私")
    assert plan_operation("Published", None, secret, public) is None
    assert plan_operation("Published", None, secret, internal) is Operation.PUBLISH
    # Becoming not-disclosed takes it down; becoming proactive puts it up.
    assert (
        plan_operation("Revised", content(), secret, public)
        is Operation.WITHDRAWAL_NOTICE
    )
    assert plan_operation("Revised", secret, content(), public) is Operation.PUBLISH
    assert plan_operation("Withdrawn", secret, secret, public) is None


def test_filters_and_channels_restrict_an_outlet() -> None:
    township = outlet(
        "t",
        ScriptedAdapter,
        ScriptSettings(name="t"),
        channel=None,
        filter=OutletFilter(agencies=("临溪县青石镇人民政府",)),
    )
    assert plan_operation("Published", None, content(), township) is None
    ours = content(agency="临溪县青石镇人民政府")
    assert plan_operation("Published", None, ours, township) is Operation.PUBLISH


# -- planner on a store ----------------------------------------------------------------


def test_planning_is_exactly_once_across_restarts(rig: Rig, project: Project) -> None:
    change = rig.items.publish(content(), actor="张三")
    rig.items.revise(change.item_id, content(body="更正"), reason="r", actor="张三")
    assert rig.deliveries.plan() == 2
    assert rig.deliveries.plan() == 0
    with project.deliveries(rig.items, clock=rig.clock, outlets=rig.outlets) as again:
        assert again.plan() == 0
        assert again.position() == 2
    assert rig.states() == {
        ("archive", 1, "publish"): DeliveryState.PLANNED,
        ("archive", 2, "update"): DeliveryState.PLANNED,
        ("village", 1, "publish"): DeliveryState.PLANNED,
        ("village", 2, "correction"): DeliveryState.PLANNED,
    }


def test_a_new_outlet_is_backfilled_once_with_live_items(
    rig: Rig, tmp_path: Path
) -> None:
    live = rig.items.publish(content(), actor="张三")
    gone = rig.items.publish(content(index_no="X/2026-2"), actor="张三")
    rig.items.withdraw(gone.item_id, reason="r", actor="张三")
    rig.items.revise(live.item_id, content(body="v2"), reason="r", actor="张三")
    rig.deliveries.plan()
    late = outlet("late", DirectoryAdapter, DirectorySettings(path=tmp_path / "late"))
    rig.deliveries.outlets["late"] = late
    assert rig.deliveries.attach_new_outlets() == ["late"]
    assert rig.deliveries.attach_new_outlets() == []
    late_ones = [
        d for d in rig.deliveries.all_deliveries().values() if d.outlet == "late"
    ]
    assert [(d.item_id, d.item_version, d.operation) for d in late_ones] == [
        (live.item_id, 2, "publish")
    ]


def test_many_new_outlets_attach_in_one_call_from_one_reading_of_the_items_log(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A township adds a table of 30 village groups at once: every group is attached
    # and backfilled by the next plan, and the items log is read once for all.
    live = [
        rig.items.publish(content(index_no=f"V/2026-{n}"), actor="张三")
        for n in range(3)
    ]
    rig.deliveries.plan()
    readings = 0
    as_of = rig.items.items_as_of

    def counted(position: int) -> Iterator[tuple[Any, int]]:
        nonlocal readings
        readings += 1
        return as_of(position)

    monkeypatch.setattr(rig.items, "items_as_of", counted)
    names = [f"village-v{n:02}" for n in range(30)]
    for name in names:
        rig.deliveries.outlets[name] = outlet(
            name, DirectoryAdapter, DirectorySettings(path=tmp_path / name)
        )
    assert rig.deliveries.attach_new_outlets() == names
    assert readings == 1
    assert rig.deliveries.attach_new_outlets() == []
    assert set(names) <= set(rig.deliveries.register().attached)
    backfilled = {
        (d.outlet, d.item_id)
        for d in rig.deliveries.all_deliveries().values()
        if d.outlet in names
    }
    assert backfilled == {(n, c.item_id) for n in names for c in live}


def test_attaching_outlets_hands_back_after_its_budget_and_goes_on_next_time(
    rig: Rig, tmp_path: Path
) -> None:
    made = [
        rig.items.publish(content(index_no=f"B/2026-{n}"), actor="张三")
        for n in range(2)
    ]
    rig.deliveries.plan()
    names = [f"group-{n}" for n in range(3)]
    for name in names:
        rig.deliveries.outlets[name] = outlet(
            name, DirectoryAdapter, DirectorySettings(path=tmp_path / name)
        )
    # No time to spare: one outlet per call (never none), each backfilled whole.
    assert [rig.deliveries.attach_new_outlets(budget=0) for _ in range(4)] == [
        ["group-0"],
        ["group-1"],
        ["group-2"],
        [],
    ]
    backfilled = sorted(
        (d.outlet, str(d.item_id))
        for d in rig.deliveries.all_deliveries().values()
        if d.outlet in names
    )
    assert backfilled == sorted((n, str(c.item_id)) for n in names for c in made)


def test_a_backfill_skips_what_was_planned_for_the_outlet_before_it_was_attached(
    rig: Rig, tmp_path: Path
) -> None:
    # A process planned the new outlet's deliveries of new item events before any
    # attached it (pull_and_process plans for every configured outlet): the backfill
    # must not plan them again (the same delivery id would refuse the whole save).
    rig.deliveries.plan()
    late = outlet("late", DirectoryAdapter, DirectorySettings(path=tmp_path / "late"))
    rig.deliveries.outlets["late"] = late
    first = rig.items.publish(content(index_no="P/2026-1"), actor="张三")
    rig.deliveries.pull_and_process(rig.items.name)
    assert rig.deliveries.attach_new_outlets() == ["late"]
    ours = [d for d in rig.deliveries.all_deliveries().values() if d.outlet == "late"]
    assert [(d.item_id, d.item_version) for d in ours] == [(first.item_id, 1)]


# -- worker ----------------------------------------------------------------------------


def test_workers_sharing_a_store_take_the_outlets_in_orders_of_their_own(
    rig: Rig,
) -> None:
    # Four workers that all took 500 village groups in the same order claimed the
    # same group's deliveries at the same moment, again and again (bench.scale
    # --county: four workers slower than one). Each now has its own order, the same
    # every time for the same name; what is in each queue keeps its order.
    queues = [[f"group-{n}", f"group-{n}-later"] for n in range(40)]
    orders = {
        name: rig.worker(name).outlet_order(queues)
        for name in ("worker@a:1", "worker@a:2", "worker@b:1")
    }
    firsts = {tuple(q[0] for q in order) for order in orders.values()}
    assert len(firsts) == 3  # three different orders
    for order in orders.values():
        assert sorted(order) == sorted(queues)  # the same queues, each unchanged
    assert rig.worker("worker@a:1").outlet_order(queues) == orders["worker@a:1"]
    assert queues[0] == ["group-0", "group-0-later"]  # the caller's list untouched


def test_sync_delivers_everything_and_supersedes_on_latest_only_outlets(
    rig: Rig, tmp_path: Path
) -> None:
    change = rig.items.publish(content(), actor="张三")
    rig.items.revise(change.item_id, content(body="v2"), reason="更正", actor="张三")
    rig.deliveries.plan()
    summary = rig.worker().run_until_idle()
    assert summary.ok
    assert rig.states() == {
        ("archive", 1, "publish"): DeliveryState.SUPERSEDED,
        ("archive", 2, "update"): DeliveryState.SUCCEEDED,
        ("village", 1, "publish"): DeliveryState.SUCCEEDED,
        ("village", 2, "correction"): DeliveryState.SUCCEEDED,
    }
    # The message outlet got both, in order; the file shows only the latest.
    assert [(m["op"], m["v"]) for m in ScriptedAdapter.sent["village"]] == [
        ("publish", 1),
        ("correction", 2),
    ]
    document = json.loads((tmp_path / "archive" / f"{change.item_id}.json").read_text())
    assert document["version"] == 2
    succeeded = rig.deliveries.delivery(delivery_id(change.item_id, 2, "archive"))
    assert succeeded.rendition_sha256 is not None


def test_transient_failures_back_off_with_jitter_then_abandon(rig: Rig) -> None:
    backoff = Backoff(max_age=timedelta(hours=1))
    rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [TransientDeliveryError("502", code="502")] * 10
    worker = rig.worker(backoff=backoff)
    worker.run_until_idle()
    d = next(
        x for x in rig.deliveries.all_deliveries().values() if x.outlet == "village"
    )
    assert d.state is DeliveryState.RETRYING
    wait = (d.due_at - rig.clock.now).total_seconds()
    assert 4.0 <= wait <= 6.0  # 5 s ± 20 %
    assert d.last_error is not None
    assert "502" in d.last_error
    rig.clock.advance(seconds=6)
    worker.run_until_idle()
    d = rig.deliveries.delivery(d.id)
    assert d.attempt == 2
    assert 240 <= (d.due_at - rig.clock.now).total_seconds() <= 360  # 5 min ± 20 %
    for _ in range(3):
        rig.clock.now = d.due_at
        worker.run_until_idle()
        d = rig.deliveries.delivery(d.id)
    assert d.state is DeliveryState.ABANDONED
    assert "still failing" in (d.last_error or "")


def test_retry_after_overrides_the_schedule(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [
        TransientDeliveryError("429", code="429", retry_after=120)
    ]
    rig.worker().run_until_idle()
    d = next(
        x for x in rig.deliveries.all_deliveries().values() if x.outlet == "village"
    )
    assert d.due_at == rig.clock.now + timedelta(seconds=120)


def test_permanent_failure_waits_for_an_operator(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [
        PermanentDeliveryError("rejected", code="48001")
    ]
    summary = rig.worker().run_until_idle()
    assert not summary.ok
    d = next(
        x for x in rig.deliveries.all_deliveries().values() if x.outlet == "village"
    )
    assert d.state is DeliveryState.FAILED
    rig.clock.advance(days=1)
    assert rig.worker().run_until_idle().attempted == 0
    fresh = rig.deliveries.delivery(d.id)
    fresh.record(Delivery.RetryRequested, at=rig.clock.now, actor="运维")
    rig.deliveries.save(fresh)
    assert rig.worker().run_until_idle().outcomes == {"succeeded": 1}


def test_unknown_outcome_on_a_channel_without_dedupe_is_never_resent(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [UnknownOutcomeError("timeout", code="timeout")]
    summary = rig.worker().run_until_idle()
    assert summary.outcomes["unconfirmed"] == 1
    d = next(
        x for x in rig.deliveries.all_deliveries().values() if x.outlet == "village"
    )
    rig.clock.advance(days=10)
    assert rig.worker().run_until_idle().attempted == 0
    assert ScriptedAdapter.sent.get("village") is None
    fresh = rig.deliveries.delivery(d.id)
    fresh.record(Delivery.Resolved, at=rig.clock.now, actor="运维", sent=False)
    rig.deliveries.save(fresh)
    rig.worker().run_until_idle()
    assert len(ScriptedAdapter.sent["village"]) == 1


def test_an_expired_claim_is_taken_over_but_never_blindly_resent(rig: Rig) -> None:
    change = rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    for name in ("archive", "village"):
        d = rig.deliveries.delivery(delivery_id(change.item_id, 1, name))
        d.claim(
            worker="dead",
            at=rig.clock.now,
            expires_at=rig.clock.now + timedelta(minutes=2),
        )
        rig.deliveries.save(d)
    assert rig.worker().run_until_idle().attempted == 0  # claims still held
    rig.clock.advance(minutes=3)
    rig.worker().run_until_idle()
    states = rig.states()
    # The file outlet deduplicates: resend. The message outlet cannot: unconfirmed.
    assert states[("archive", 1, "publish")] is DeliveryState.SUCCEEDED
    assert states[("village", 1, "publish")] is DeliveryState.UNCONFIRMED
    assert ScriptedAdapter.sent.get("village") is None


def test_claims_are_exclusive_between_workers(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.deliveries.plan()
    one, two = rig.worker("w1"), rig.worker("w2")
    [first, *_] = one.due(rig.clock.now)
    assert two.due(rig.clock.now)[0].id == first.id
    assert one.attempt(first.id) == "succeeded"
    assert two.attempt(first.id) is None
    history = [type(e).__name__ for e in rig.deliveries.events.get(first.id)]
    assert history == ["Planned", "Claimed", "Succeeded"]


def test_rate_limit_holds_across_workers(rig: Rig) -> None:
    rig.outlets["village"] = outlet(
        "village", ScriptedAdapter, ScriptSettings(name="village"), rate_per_minute=3
    )
    for n in range(7):
        rig.items.publish(content(index_no=f"X/2026-{n}"), actor="张三")
    rig.deliveries.plan()
    workers = [rig.worker("w1"), rig.worker("w2")]
    for worker in workers:
        worker.run_until_idle()
    assert len(ScriptedAdapter.sent["village"]) == 3
    rig.clock.advance(seconds=30)
    for worker in workers:
        worker.run_until_idle()
    assert len(ScriptedAdapter.sent["village"]) == 3
    rig.clock.advance(seconds=31)
    for worker in workers:
        worker.run_until_idle()
    assert len(ScriptedAdapter.sent["village"]) == 6
    rig.clock.advance(seconds=61)
    workers[1].run_until_idle()
    assert len(ScriptedAdapter.sent["village"]) == 7


def test_signed_webhook_end_to_end_with_the_reference_verifier(
    project: Project,
) -> None:
    # Receivers check the signature timestamp against their own clock (±5 min).
    clock = FixedClock(datetime.now(UTC))
    verifier = standardwebhooks.Webhook(SECRET)
    got: list[tuple[str, Any]] = []
    answers = iter([500, 200, 200])

    def receive(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        got.append((headers["webhook-id"], verifier.verify(body, headers)))
        return next(answers), {}, b""

    with LoopbackServer(receive) as server:
        hook = outlet(
            "cms",
            WebhookAdapter,
            WebhookSettings(url=server.url + "/hook", secret=SECRET, timeout=5),  # type: ignore[arg-type]
            allow_private_network=True,  # the receiver is on 127.0.0.1
        )
        with (
            project.disclosures(clock=clock) as items,
            project.deliveries(items, clock=clock, outlets={"cms": hook}) as deliveries,
        ):
            change = items.publish(content(), actor="张三")
            deliveries.plan()
            worker = Worker(deliveries, items, {"cms": hook}, name="w", clock=clock)
            assert worker.run_until_idle().outcomes == {"retrying": 1}
            clock.advance(seconds=10)
            items.withdraw(change.item_id, reason="r", actor="张三")
            deliveries.plan()
            assert worker.run_until_idle().outcomes == {"superseded": 1, "succeeded": 1}
    # First attempt got a 500; the v1 publish was then superseded by the withdrawal.
    assert [payload["type"] for _, payload in got] == [
        "item.published",
        "item.withdrawn",
    ]


# -- regressions found in review ---------------------------------------------------------


class DedupeAdapter(ScriptedAdapter):
    """A message outlet that deduplicates, so the worker batches it."""

    kind: ClassVar[str] = "dedupe"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False, deduplicates=True
    )
    during: ClassVar[list[Any]] = []

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        if self.during:
            self.during.pop(0)()
        return super().deliver(rendition, session)


def test_a_conflict_in_a_batch_loses_no_outcome(rig: Rig) -> None:
    rig.outlets = {"hub": outlet("hub", DedupeAdapter, ScriptSettings(name="hub"))}
    rig.deliveries.outlets = dict(rig.outlets)
    for n in range(5):
        rig.items.publish(content(index_no=f"B/2026-{n}"), actor="t")
    rig.deliveries.plan()
    a, b = rig.worker("a"), rig.worker("b")
    first = a.due(rig.clock.now)[0].id

    def takeover() -> None:
        # Mid-batch, a's lease runs out and b takes the first delivery over.
        rig.clock.advance(minutes=3)
        DedupeAdapter.during.clear()
        b.attempt(first)

    DedupeAdapter.during[:] = [lambda: None, takeover]
    a.run_until_idle()
    b.run_until_idle()
    a.run_until_idle()
    states = {d.state for d in rig.deliveries.all_deliveries().values()}
    assert states == {DeliveryState.SUCCEEDED}


def test_latest_only_outlet_never_ends_with_an_older_version(
    rig: Rig, tmp_path: Path
) -> None:
    change = rig.items.publish(content(), actor="t")
    rig.deliveries.plan()
    v1 = rig.deliveries.delivery(delivery_id(change.item_id, 1, "archive"))
    v1.claim(
        worker="slow", at=rig.clock.now, expires_at=rig.clock.now + timedelta(minutes=2)
    )
    rig.deliveries.save(v1)  # a slow worker is writing v1 right now
    rig.items.withdraw(change.item_id, reason="r", actor="t")
    rig.deliveries.plan()
    other = rig.worker("other")
    assert [
        d.item_version for d in other.due(rig.clock.now) if d.outlet == "archive"
    ] == []
    # The slow worker's claim lapses; its v1 is superseded, v2 (the take-down) goes out.
    rig.clock.advance(minutes=3)
    other.run_until_idle()
    assert not (tmp_path / "archive" / f"{change.item_id}.json").exists()
    assert rig.states()[("archive", 2, "retract")] is DeliveryState.SUCCEEDED


def test_absurd_retry_after_does_not_crash_the_worker(rig: Rig) -> None:
    rig.items.publish(content(), actor="t")
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [
        TransientDeliveryError("429", code="429", retry_after=float("inf"))
    ]
    summary = rig.worker().run_until_idle()
    # It asks to wait forever: capped at a day, and tried again then (not abandoned).
    assert summary.outcomes == {"retrying": 1, "succeeded": 1}
    d = next(
        x for x in rig.deliveries.all_deliveries().values() if x.outlet == "village"
    )
    assert d.due_at == rig.clock.now + timedelta(days=1)


def test_a_process_with_an_out_of_date_outlet_list_refuses_to_plan(
    rig: Rig, project: Project, tmp_path: Path
) -> None:
    rig.items.publish(content(), actor="t")
    rig.deliveries.plan()
    stale = {"archive": rig.outlets["archive"]}
    with project.deliveries(rig.items, clock=rig.clock, outlets=stale) as old:
        with pytest.raises(ConfigurationError, match="village"):
            old.plan()
        old.detach("village", actor="运维")
        old.plan()
    rig.deliveries.plan()  # the full list attaches village again, with a backfill
    village = [
        d for d in rig.deliveries.all_deliveries().values() if d.outlet == "village"
    ]
    assert len(village) == 1


def test_rate_limited_outlets_wait_instead_of_churning(rig: Rig) -> None:
    rig.outlets["village"] = outlet(
        "village", ScriptedAdapter, ScriptSettings(name="village"), rate_per_minute=1
    )
    for n in range(4):
        rig.items.publish(content(index_no=f"R/2026-{n}"), actor="t")
    rig.deliveries.plan()
    worker = rig.worker()
    for _ in range(30):
        worker.run_until_idle()
        rig.clock.advance(seconds=2)
    sent = [
        d for d in rig.deliveries.all_deliveries().values() if d.outlet == "village"
    ]
    assert sum(d.state is DeliveryState.SUCCEEDED for d in sent) == 1
    assert all(d.attempt <= 1 for d in sent)
    events = sum(len(list(rig.deliveries.events.get(d.id))) for d in sent)
    assert events <= 4 + 2  # Planned x4, Claimed + Succeeded once


def test_the_age_limit_counts_from_planning_not_from_the_item_event(rig: Rig) -> None:
    rig.items.publish(content(), actor="t")
    rig.clock.advance(days=5)  # the planner was down for five days
    rig.deliveries.plan()
    ScriptedAdapter.script["village"] = [TransientDeliveryError("503", code="503")]
    assert rig.worker().run_until_idle().outcomes.get("retrying") == 1


def test_directory_files_are_readable_by_other_users(tmp_path: Path) -> None:
    adapter = DirectoryAdapter(DirectorySettings(path=tmp_path / "out"))
    job = sample_jobs()[0]
    adapter.deliver(adapter.render(job), requests.Session())
    mode = (tmp_path / "out" / f"{job.item.item_id}.json").stat().st_mode
    assert mode & 0o777 == 0o644


def test_outlet_sessions_read_proxy_settings_once_and_honour_no_proxy(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    def hook(url: str) -> Outlet:
        settings = WebhookSettings.model_validate({"url": url, "secret": SECRET})
        return outlet("h", WebhookAdapter, settings)

    def outlets(url: str) -> OutletSet:
        return OutletSet({"h": hook(url)}, items=rig.items, deliveries=rig.deliveries)

    inside = outlets("http://127.0.0.1:9/x")
    outside = outlets("http://cms.example/x")
    assert "http" not in inside.proxies("h", "http://127.0.0.1:9/x")
    assert (
        outside.proxies("h", "http://cms.example/x")["http"]
        == "http://proxy.invalid:3128"
    )
    assert not outside.session("h").trust_env


OUTLET_STATE_TOPICS = {
    "syndicate.OutletRegister.Opened",
    "syndicate.OutletRegister.Attached",
    "syndicate.OutletRegister.Detached",
    "syndicate.RateSlot.Opened",
    "syndicate.RateSlot.Taken",
}


def test_outlet_state_is_stored_under_the_topics_it_always_had(rig: Rig) -> None:
    # OutletRegister and RateSlot moved (to syndicate.domain.outlets): stores written
    # before must replay, so the topics stored stay what they were.
    rig.deliveries.plan()  # opens the register and attaches both outlets
    rig.deliveries.detach("archive", actor="t")
    now = rig.clock.now
    slot = RateSlot.open("village", 0, delivery=UUID(int=1), at=now)
    rig.deliveries.save(slot)
    rig.clock.advance(seconds=60)
    assert slot.is_free(rig.clock.now)
    slot.take(delivery=UUID(int=2), at=rig.clock.now)
    rig.deliveries.save(slot)
    stored = rig.deliveries.recorder.select_notifications(start=0, limit=100)
    assert {n.topic for n in stored} == OUTLET_STATE_TOPICS
    again: object = rig.deliveries.repository.get(RateSlot.id_for("village", 0))
    assert isinstance(again, RateSlot)
    assert again.last_taken == rig.clock.now
    assert not again.is_free(rig.clock.now)
    assert rig.deliveries.register().attached.keys() == {"village"}
    # Their ids are derived, and stored too.
    register_id, slot_id = OutletRegister.ID, slot.id
    assert register_id == UUID("76c0b0b6-e2d4-546b-864c-4f54d718967b")
    assert slot_id == UUID("c83e2a83-35a5-59e2-874a-d73c7819d31b")


def test_opening_the_deliveries_log_is_enough_to_read_every_topic_it_stores() -> None:
    # A process that reads the log (audit, a status page) may never import the worker.
    script = (
        "import syndicate.planning\n"
        "from eventsourcing.utils import resolve_topic\n"
        f"for topic in {sorted(OUTLET_STATE_TOPICS)!r}:\n"
        "    print(resolve_topic(topic).__module__)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert set(found.stdout.split()) == {"syndicate.domain.outlets"}
