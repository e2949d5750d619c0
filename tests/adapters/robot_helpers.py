"""What the group-robot adapter tests share (test_wecom_group, test_dingtalk_group).

A `RobotRig` is a SQLite project whose outlets point at a loopback robot fake
(`syndicate.testing.fakes`), driven by a `Worker` on a `FixedClock`; `Case` and `check_outcome`
describe and check what one scripted robot answer does to a delivery.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from syndicate_adapters._robot import RobotAdapter

from syndicate.adapter import DeliveryJob
from syndicate.application import Disclosures
from syndicate.delivery import Worker
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.outlets import Outlet, load_outlets
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import FixedClock, sample_jobs
from syndicate.testing.fakes import Received, Reply
from tests.conftest import content


def bodies(adapter: RobotAdapter[Any], job: DeliveryJob) -> list[dict[str, Any]]:
    """The request bodies of the adapter's rendition of `job`."""
    data: list[dict[str, Any]] = json.loads(adapter.render(job).data)
    return data


def withdrawal(note: str) -> DeliveryJob:
    """The sample withdrawal notice, with `note` as its public note."""
    job = sample_jobs()[4]
    return replace(job, item=replace(job.item, public_note=note))


# -- a project on a fake -------------------------------------------------------------


class RobotFake(Protocol):
    """What the tests use of a robot fake (`WeComRobotServer`, `DingTalkRobotServer`)."""

    received: list[Received]

    def script(self, robot: str, *replies: Reply) -> None: ...

    def messages(self, robot: str) -> list[dict[str, Any]]: ...

    def errcodes(self, robot: str | None = None) -> list[int | None]: ...


FakeT = TypeVar("FakeT", bound=RobotFake)


@dataclass
class RobotRig(Generic[FakeT]):
    project: Project
    clock: FixedClock
    fake: FakeT
    items: Disclosures
    deliveries: Deliveries
    outlets: dict[str, Outlet]

    def worker(self) -> Worker:
        return Worker(
            self.deliveries, self.items, self.outlets, name="w", clock=self.clock
        )

    def sync(self) -> dict[str, int]:
        self.deliveries.plan()
        worker = self.worker()
        try:
            return worker.run_until_idle().outcomes
        finally:
            worker.close()

    def only(self) -> Delivery:
        """The one delivery not succeeded, or else the only delivery."""
        [delivery] = [
            d
            for d in self.deliveries.all_deliveries().values()
            if d.state is not DeliveryState.SUCCEEDED
        ] or list(self.deliveries.all_deliveries().values())
        return self.deliveries.delivery(delivery.id)

    def failure(self, delivery: Delivery) -> Any:
        return [
            e
            for e in self.deliveries.events.get(delivery.id)
            if isinstance(e, Delivery.Failed)
        ][-1]


@contextmanager
def open_rig(
    project: Project,
    clock: FixedClock,
    fake: FakeT,
    tables: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Iterator[RobotRig[FakeT]]:
    """A rig whose outlets are `tables` (as syndicate.toml would hold them)."""
    outlets = load_outlets(
        dict(tables),
        Registry.from_entry_points(),
        home=project.home,
        environ=dict(environ),
    )
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as log,
    ):
        yield RobotRig(project, clock, fake, items, log, outlets)


# -- scripted answers and what they lead to ------------------------------------------


@dataclass(frozen=True)
class Case:
    replies: tuple[Reply, ...]
    state: DeliveryState
    code: str | None = None
    retry: tuple[float, float] | None = None  # seconds, low and high
    says: tuple[str, ...] = ()
    reached: int = 0  # messages the group shows afterwards


BUSY = (4.0, 6.0)  # the worker's first backoff: 5 s ± 20 %


def failed(errcode: int, errmsg: str, *says: str) -> Case:
    """An errcode answer that fails the delivery for good, saying `says`."""
    return Case(
        (Reply(errcode=errcode, errmsg=errmsg),),
        DeliveryState.FAILED,
        str(errcode),
        None,
        says,
    )


def check_outcome(
    rig: RobotRig[Any], case: Case, robot: str, secrets: Sequence[str]
) -> None:
    """Publish an item, let `robot` answer as `case` scripts, and check the delivery:
    its state, what it says (never any of `secrets`), and when it is tried again."""
    rig.items.publish(content(), actor="张三")
    rig.fake.script(robot, *case.replies)
    rig.sync()
    delivery = rig.only()
    # (Not a test module: pytest does not rewrite these asserts, so they say what failed.)
    assert delivery.state is case.state, (delivery.state, delivery.last_error)
    assert len(rig.fake.messages(robot)) == case.reached
    if case.state is DeliveryState.SUCCEEDED:
        assert delivery.receipt == {"messages": "1"}
        return
    assert delivery.last_error is not None
    for fragment in case.says:
        assert fragment in delivery.last_error, (fragment, delivery.last_error)
    for secret in secrets:
        assert secret not in delivery.last_error
    if case.state is DeliveryState.UNCONFIRMED:
        # Never resent automatically, however long we wait.
        sent = len(rig.fake.received)
        rig.clock.advance(days=1)
        assert rig.sync() == {}
        assert len(rig.fake.received) == sent
        return
    failure = rig.failure(delivery)
    assert failure.code == case.code
    if case.retry is None:
        assert failure.retry_at is None
        return
    wait = (failure.retry_at - rig.clock.now).total_seconds()
    assert case.retry[0] <= wait <= case.retry[1]
    rig.clock.advance(seconds=wait - 1)
    assert rig.sync() == {}  # not before its time
    rig.clock.advance(seconds=1)
    assert rig.sync() == {"succeeded": 1}
    assert len(rig.fake.messages(robot)) == 1


def publish_21_in_a_minute(rig: RobotRig[Any], robot: str) -> None:
    """Publish 21 items at once: 20 go, the 21st a minute later, and the robot never
    refuses one."""
    for n in range(21):
        rig.items.publish(content(index_no=f"X/2026-{n:03}"), actor="张三")
    assert rig.sync() == {"succeeded": 20}
    rig.clock.advance(seconds=59)
    assert rig.sync() == {}
    rig.clock.advance(seconds=1)
    assert rig.sync() == {"succeeded": 1}
    assert len(rig.fake.messages(robot)) == 21
    assert set(rig.fake.errcodes()) == {0}
