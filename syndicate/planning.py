"""Planning: which item event goes to which outlet, as what. Exactly once.

`plan_operation` is the whole policy, a pure function of the item event, the content before
and after it, and the outlet (its filters and declared capabilities):

| item event | outlet takes the item… | operation |
|---|---|---|
| Published | now | publish |
| Revised | before and now | update if it edits in place, else correction (更正) |
| Revised | now, not before (e.g. it became proactive) | publish |
| Revised | before, not now (e.g. it became not-disclosed) | retract if it can, else withdrawal notice |
| Withdrawn | before | retract if it can, else withdrawal notice (撤回) |
| anything | neither | nothing |

`Deliveries` is the tracked process that applies it: it follows the items log and records
one `Delivery.Planned` per (item event, matching outlet) in the same transaction as its
tracking position, so a crash and restart never plans an event twice or skips one.

Outlets added later are *attached*: the first planner run that sees a new outlet backfills
it with the current state of every live item it takes (as of the planner's position), and
records that it did, so it happens once. `syndicate sync` and `syndicate worker` do this
automatically before planning; see docs/delivery.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast
from uuid import UUID, uuid5

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.system import ProcessApplication
from eventsourcing.utils import Environment, EnvType, get_topic

from syndicate.adapter import Operation
from syndicate.application import Clock, Disclosures, system_clock
from syndicate.domain.base import Aggregate
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import DELIVERY_NAMESPACE, Delivery
from syndicate.domain.items import DisclosureItem
from syndicate.outlets import Outlet
from syndicate.persistence import JSONTranscoder, PydanticMapper

__all__ = ["Deliveries", "OutletAttachment", "plan_operation"]


def plan_operation(
    event: str,
    before: ItemContent | None,
    after: ItemContent,
    outlet: Outlet,
) -> Operation | None:
    """The operation an item event becomes on an outlet, or None (see module table)."""
    caps = outlet.capabilities
    took = before is not None and outlet.accepts(before)
    takes = outlet.accepts(after)
    gone = Operation.RETRACT if caps.retracts else Operation.WITHDRAWAL_NOTICE
    if event == "Published":
        return Operation.PUBLISH if takes else None
    if event == "Revised":
        if took and takes:
            return Operation.UPDATE if caps.edits_in_place else Operation.CORRECTION
        if takes:
            return Operation.PUBLISH
        return gone if took else None
    if event == "Withdrawn":
        return gone if took else None
    raise ValueError(f"unknown item event {event!r}")


class OutletAttachment(Aggregate):
    """Records that an outlet was backfilled, once, as of an items-log position."""

    TOPIC = "syndicate.OutletAttachment"

    class Event(Aggregate.Event):
        """Base of the attachment's events."""

    class Attached(Event, CanInitAggregate[UUID]):
        """The outlet joined; live items as of `position` were planned for it."""

        TOPIC: ClassVar[str] = "syndicate.OutletAttachment.Attached"
        originator_topic: str
        outlet: str
        position: int
        backfilled: int

    @staticmethod
    def id_for(outlet: str) -> UUID:
        """The attachment id of an outlet name."""
        return uuid5(DELIVERY_NAMESPACE, f"outlet:{outlet}")


class Deliveries(ProcessApplication[UUID]):
    """The deliveries log; its planner follows the items log."""

    name = "Deliveries"
    pull_section_size = 500
    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": get_topic(JSONTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        items: Disclosures,
        outlets: Mapping[str, Outlet],
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(env)
        self.items = items
        self.outlets = dict(outlets)
        self.clock = clock
        self.follow(items.name, items.notification_log)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # As for Disclosures: only syndicate's configuration decides where the log lives.
        merged = dict(type(self).env)
        merged.update(env or {})
        return Environment(name, merged)

    # -- planning ------------------------------------------------------------------------

    def position(self) -> int:
        """The last items-log position planned."""
        return self.recorder.max_tracking_id(self.items.name) or 0

    def plan(self) -> int:
        """Attach new outlets, then plan every unplanned item event. Returns events seen."""
        self.attach_new_outlets()
        before = self.position()
        while True:
            try:
                self.pull_and_process(self.items.name)
            except IntegrityError:
                # Another planner (another worker process) recorded the same position
                # first; continue from the tracking position it left.
                continue
            break
        return self.position() - before

    def policy(
        self, domain_event: Any, processing_event: ProcessingEvent[UUID]
    ) -> None:
        event = cast(DisclosureItem.Event, domain_event)
        after, before = self._contents(event)
        position = (
            processing_event.tracking.notification_id
            if processing_event.tracking
            else 0
        )
        for outlet in self.outlets.values():
            operation = plan_operation(type(event).__name__, before, after, outlet)
            if operation is None:
                continue
            processing_event.collect_events(
                Delivery.plan(
                    item_id=event.originator_id,
                    item_version=event.originator_version,
                    outlet=outlet.name,
                    operation=operation.value,
                    position=position,
                    at=event.timestamp,
                )
            )

    def _contents(
        self, event: DisclosureItem.Event
    ) -> tuple[ItemContent, ItemContent | None]:
        if isinstance(event, DisclosureItem.Published):
            return event.content, None
        previous = self.items.get(
            event.originator_id, version=event.originator_version - 1
        )
        if isinstance(event, DisclosureItem.Revised):
            return event.content, previous.content
        return previous.content, previous.content

    def attach_new_outlets(self) -> list[str]:
        """Backfill outlets seen for the first time with the live items they take."""
        attached = []
        for name, outlet in self.outlets.items():
            if OutletAttachment.id_for(name) in self.repository:
                continue
            position = self.position()
            now = self.clock()
            planned: list[Aggregate] = []
            for item, at_position in self.items.live_items(position):
                if not outlet.accepts(item.content):
                    continue
                delivery = Delivery.plan(
                    item_id=item.id,
                    item_version=item.version,
                    outlet=name,
                    operation=Operation.PUBLISH.value,
                    position=at_position,
                    at=now,
                )
                if delivery.id not in self.repository:
                    planned.append(delivery)
            attachment = OutletAttachment._create(
                OutletAttachment.Attached,
                id=OutletAttachment.id_for(name),
                timestamp=now,
                outlet=name,
                position=position,
                backfilled=len(planned),
            )
            try:
                self.save(attachment, *planned)
            except IntegrityError:
                continue  # another process attached it at the same moment
            attached.append(name)
        return attached

    # -- reading -------------------------------------------------------------------------

    def delivery(self, id_: UUID) -> Delivery:
        """The delivery with this id, as stored now."""
        return cast(Delivery, self.repository.get(id_))

    def all_deliveries(self, after: int = 0) -> dict[UUID, Delivery]:
        """Every delivery folded from the log (from position `after`)."""
        folded: dict[UUID, Delivery] = {}
        self.fold_into(folded, after)
        return folded

    def fold_into(self, folded: dict[UUID, Delivery], after: int) -> int:
        """Apply deliveries-log events after `after` to `folded`; returns the new position."""
        start = after
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=500, inclusive_of_start=False
            )
            if not page:
                return start
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                if not isinstance(event, Delivery.Event):
                    continue
                if isinstance(event, Delivery.Planned):
                    folded[event.originator_id] = cast(Delivery, event.mutate(None))
                elif event.originator_id in folded:
                    event.mutate(folded[event.originator_id])
            start = page[-1].id
