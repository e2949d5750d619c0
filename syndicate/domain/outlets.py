"""Outlet state shared by every process using a store: the register and the rate slots.

Both aggregates live in the deliveries log next to the `Delivery` aggregates, and both
are changed under optimistic concurrency, so any number of planner and worker processes
on any number of machines agree on them without talking to each other:

- `OutletRegister`: which outlets the planner plans for (attached, backfilled once,
  detached on purpose by an operator);
- `RateSlot`: one of an outlet's `rate_per_minute` send slots, used at most once per
  `RateSlot.WINDOW`.

Their events keep the topics they were first stored with (`syndicate.OutletRegister.*`,
`syndicate.RateSlot.*`), whatever module defines them: stores written before these
classes moved here replay unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import CanInitAggregate

from syndicate.domain.base import Aggregate
from syndicate.domain.deliveries import DELIVERY_NAMESPACE

__all__ = ["OutletRegister", "RateSlot"]


class OutletRegister(Aggregate):
    """Which outlets the planner plans for, shared by every process using the store.

    An outlet is attached once, backfilled with the live items as of a position, and
    planned for from then on. A process whose configuration lacks an attached outlet
    refuses to plan (its outlet list is out of date), so no item event is planned
    without an outlet that the others expect it to reach.
    """

    TOPIC = "syndicate.OutletRegister"
    ID: ClassVar[UUID] = uuid5(DELIVERY_NAMESPACE, "outlet-register")

    class Event(Aggregate.Event):
        """Base of the register's events."""

        def apply(self, aggregate: Any) -> None:
            register: OutletRegister = aggregate
            register.on(self)

    class Opened(Event, CanInitAggregate[UUID]):
        """The register exists (no outlets yet)."""

        TOPIC: ClassVar[str] = "syndicate.OutletRegister.Opened"
        originator_topic: str

    class Attached(Event):
        """An outlet joined; live items as of `position` were planned for it."""

        TOPIC: ClassVar[str] = "syndicate.OutletRegister.Attached"
        outlet: str
        position: int
        backfilled: int

    class Detached(Event):
        """An operator removed an outlet on purpose (`syndicate outlets detach`)."""

        TOPIC: ClassVar[str] = "syndicate.OutletRegister.Detached"
        outlet: str
        actor: str

    if TYPE_CHECKING:
        attached: dict[str, int]

    @classmethod
    def open(cls, *, at: datetime) -> OutletRegister:
        """The store's one register, new (pending its Opened event)."""
        return cls._create(cls.Opened, id=cls.ID, timestamp=at)

    def attach(
        self, outlet: str, *, position: int, backfilled: int, at: datetime
    ) -> None:
        """Record that `outlet` joined, with `backfilled` deliveries planned for the
        live items as of items-log `position`."""
        self.trigger_event(
            self.Attached,
            timestamp=at,
            outlet=outlet,
            position=position,
            backfilled=backfilled,
        )

    def detach(self, outlet: str, *, actor: str, at: datetime) -> None:
        """Record that `actor` removed `outlet` on purpose (the caller checks that it
        is attached)."""
        self.trigger_event(self.Detached, timestamp=at, outlet=outlet, actor=actor)

    def on(self, event: OutletRegister.Event) -> None:
        """Apply an event to the state."""
        if isinstance(event, OutletRegister.Opened):
            self.attached = {}
        elif isinstance(event, OutletRegister.Attached):
            self.attached[event.outlet] = event.position
        elif isinstance(event, OutletRegister.Detached):
            self.attached.pop(event.outlet, None)


class RateSlot(Aggregate):
    """One of an outlet's `rate_per_minute` send slots; each is used once per `WINDOW`.

    A slot is opened the first time it is taken; taking it again appends `Taken`. Two
    workers taking the same slot at once conflict on its version, so only one of them
    uses it: the limit holds across processes.
    """

    TOPIC = "syndicate.RateSlot"
    # How long a taken slot stays taken (the platforms count sends per minute).
    WINDOW: ClassVar[timedelta] = timedelta(seconds=60)

    class Event(Aggregate.Event):
        """Base of a slot's events."""

        def apply(self, aggregate: Any) -> None:
            slot: RateSlot = aggregate
            slot.last_taken = self.timestamp

    class Opened(Event, CanInitAggregate[UUID]):
        """The slot exists (taken for the first time)."""

        TOPIC: ClassVar[str] = "syndicate.RateSlot.Opened"
        originator_topic: str
        outlet: str
        index: int
        delivery: UUID

    class Taken(Event):
        """A delivery used the slot."""

        TOPIC: ClassVar[str] = "syndicate.RateSlot.Taken"
        delivery: UUID

    if TYPE_CHECKING:
        last_taken: datetime

    @staticmethod
    def id_for(outlet: str, index: int) -> UUID:
        """Deterministic id of slot `index` of an outlet."""
        return uuid5(DELIVERY_NAMESPACE, f"slot:{outlet}:{index}")

    @classmethod
    def open(cls, outlet: str, index: int, *, delivery: UUID, at: datetime) -> RateSlot:
        """Slot `index` of `outlet`, taken for the first time by `delivery` at `at`
        (pending its Opened event)."""
        return cls._create(
            cls.Opened,
            id=cls.id_for(outlet, index),
            timestamp=at,
            outlet=outlet,
            index=index,
            delivery=delivery,
        )

    def is_free(self, now: datetime) -> bool:
        """Whether the slot may be taken at `now` (its last use is a window ago)."""
        return now - self.last_taken >= self.WINDOW

    def take(self, *, delivery: UUID, at: datetime) -> None:
        """Use the slot for `delivery` (the caller checks `is_free` first)."""
        self.trigger_event(self.Taken, timestamp=at, delivery=delivery)
