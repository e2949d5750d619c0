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
| Erased (sealed parts erased) | before | update if it edits in place, else retract if it can, else nothing (a group message cannot be recalled) |
| NoticeEnded (公示期已结束) | before | after_end "remove": retract if it can, else update where it edits in place; otherwise update where it edits in place; a posted sheet (attested outlet) is taken down; a WeChat article stays unless "remove"; group robots: a short notice with `notify_end`, else nothing |
| Repealed (废止), Expired (已失效) | before | update if it edits in place, else take a posted sheet down, else a notice (更正 form, marked 废止 / 已失效) |
| anything | neither | nothing |

`Deliveries` is the tracked process that applies it: it follows the items log and records
one `Delivery.Planned` per (item event, matching outlet) in the same transaction as its
tracking position, so a crash and restart never plans an event twice or skips one.

Limits are checked here, not when a delivery fails: an adapter may offer a class method
`check_content(content) -> str | None`; when it names a problem (a body longer than the
outlet takes), the delivery is recorded `Planned` and then `Failed` (permanent, code
"limit") in the same transaction, so `syndicate status` shows it at once and no worker
ever calls the outlet for it. Removals (retract, withdrawal notice) are never refused.

先审后发: only changes of what outlets show are planned to public outlets — `Published`,
`Revised` and `Withdrawn` (review off) and `Released` / `UrgentlyReleased` (the
version under review, as the publish, revision or withdrawal it proposes). Review events
(`Drafted`, `Submitted`, `Approved`, `Returned`, `ApprovedAfterwards`) reach no public
outlet; outlets with `review_queue = true` get a review notice for them instead. A policy
and its 解读 released together are planned together, at the position of the last of
their `Released` events (the others name it, `planned_with`), so a planner that stops
between them has planned neither.

Outlets added later are *attached*: the first planner run that sees a new outlet backfills
it with the current state of every live item it takes (as of the planner's position), and
records that it did in the shared `OutletRegister`, so it happens once. `syndicate sync`
and `syndicate worker` do this automatically before planning; a process whose
configuration lacks an attached outlet refuses to plan. See docs/delivery.md.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError
from eventsourcing.system import ProcessApplication
from eventsourcing.utils import EnvType

from syndicate.adapter import ChecksContent, Operation, ReviewNotice
from syndicate.application import Clock, Disclosures, system_clock
from syndicate.deliveryindex import DeliveryIndex
from syndicate.domain.base import Aggregate
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.outlets import OutletRegister, RateSlot
from syndicate.domain.review import PUBLIC_EVENT, ProposalKind
from syndicate.errors import ConfigurationError, InputError, Problem
from syndicate.outlets import Outlet
from syndicate.persistence import ConfiguredEnvironment

__all__ = [
    "Deliveries",
    "DeliveryView",
    "content_problem",
    "plan_operation",
    "planned_delivery",
    "review_notice",
]


# One public change: (item id, version, event name, content before, content after,
# and for NoticeEnded what the home does after a window: after_end, notify).
Transition = tuple[UUID, int, str, ItemContent | None, ItemContent, tuple[str, bool]]
_NO_FORM = ("hide_details", False)


def review_notice(item: DisclosureItem) -> ReviewNotice | None:
    """The notice a review queue gets for the item's latest event, or None.

    Submitted: 待审核 at the first level; Approved (not the last level): 待审核 at the
    next; Returned: 已退回; Released: 已发布; UrgentlyReleased: 紧急发布. `item` is the
    item as of that event's version.
    """
    if not item.reviews or item.reviews[-1].version != item.version:
        return None
    record = item.reviews[-1]
    pending = item.pending
    stages = {
        "Submitted": "submitted",
        "Approved": "approved",
        "Returned": "returned",
        "Released": "released",
        "UrgentlyReleased": "urgent",
    }
    stage = stages.get(record.event)
    if stage is None:
        return None
    level: str | None = None
    comment = record.reason or ""
    if stage in ("submitted", "approved"):
        if pending is None or pending.next_level is None:
            return None  # the last level approved: the release notice follows
        level = pending.next_level
    elif stage == "returned":
        level = record.level
    if pending is not None:
        kind = pending.kind.value
        content = pending.content or item.content
        digest = pending.content_hash
    else:
        last = item.history[-1]
        kind = {v: k for k, v in PUBLIC_EVENT.items()}[last.event].value
        content = item.content
        digest = item.content_hash
    return ReviewNotice(
        stage=stage,
        kind=kind,
        item_id=item.id,
        ref=content.ref,
        title=content.title,
        version=item.version,
        content_hash=digest,
        actor=record.actor,
        at=record.at,
        level=level,
        comment=comment,
    )


def plan_operation(
    event: str,
    before: ItemContent | None,
    after: ItemContent,
    outlet: Outlet,
    *,
    after_end: str = "hide_details",
    notify: bool = False,
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
    if event == "Erased":
        # Personal data erased: shown again without it where the outlet edits in
        # place; taken down where it can be (a WeChat article, a posted sheet); a
        # group message cannot be recalled.
        if not took:
            return None
        if caps.edits_in_place:
            return Operation.UPDATE
        return Operation.RETRACT if caps.retracts else None
    if event == "NoticeEnded":
        if not took:
            return None
        if after_end == "remove" and caps.retracts:
            return Operation.RETRACT
        if caps.edits_in_place:
            return Operation.UPDATE
        if caps.retracts and caps.needs_attestation:
            return Operation.RETRACT  # a printed 公示 comes down when its window ends
        if not caps.retracts and notify:
            return Operation.CORRECTION  # a short 公示结束 notice to the group
        return None
    if event in ("Repealed", "Expired"):
        if not took:
            return None
        if caps.edits_in_place:
            return Operation.UPDATE
        if caps.retracts and caps.needs_attestation:
            return Operation.RETRACT
        return Operation.CORRECTION
    raise ValueError(f"unknown item event {event!r}")


_REMOVALS = (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE)
# How long one `plan()` may spend attaching new outlets before it plans and hands
# back (`Deliveries.attach_new_outlets`); at least one outlet is attached per call.
ATTACH_SECONDS = 30.0


def content_problem(outlet: Outlet, content: ItemContent) -> str | None:
    """Why the outlet cannot take `content` at all (its adapter's `check_content`)."""
    checker = outlet.adapter_class
    if not isinstance(checker, ChecksContent):
        return None
    problem = checker.check_content(content)
    return problem if isinstance(problem, str) and problem else None


def planned_delivery(
    outlet: Outlet,
    content: ItemContent,
    *,
    item_id: UUID,
    item_version: int,
    operation: Operation,
    position: int,
    at: datetime,
) -> Delivery:
    """A new delivery; failed at once (code "limit") if the outlet cannot take it."""
    delivery = Delivery.plan(
        item_id=item_id,
        item_version=item_version,
        outlet=outlet.name,
        operation=operation.value,
        position=position,
        at=at,
    )
    problem = None if operation in _REMOVALS else content_problem(outlet, content)
    if problem is not None:
        delivery.record(
            Delivery.Failed,
            at=at,
            worker="planner",
            attempt=0,
            error_class="PermanentDeliveryError",
            code="limit",
            message=f"{outlet.name}: {problem}"[:500],
            retry_at=None,
            rendition_sha256=None,
        )
    return delivery


# What the deliveries log stores. Reading the log resolves each stored event's topic to
# its class, so every one of them is imported with the log, whoever opens it.
STORED: tuple[type[Aggregate], ...] = (Delivery, OutletRegister, RateSlot)


class Deliveries(ConfiguredEnvironment, ProcessApplication[UUID]):
    """The deliveries log; its planner follows the items log."""

    name = "Deliveries"
    pull_section_size = 500

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
        # The persisted read model of the deliveries (rows beside the log).
        self.index = DeliveryIndex(self.recorder, self.mapper, self.load_many)

    # -- planning ------------------------------------------------------------------------

    def position(self) -> int:
        """The last items-log position planned."""
        return self.recorder.max_tracking_id(self.items.name) or 0

    def plan(self) -> int:
        """Attach new outlets, then plan every unplanned item event. Returns events seen."""
        self.check_outlets()
        self.attach_new_outlets()
        before = self.position()
        stalled = 0
        while True:
            mark = self.position()
            try:
                self.pull_and_process(self.items.name)
            except IntegrityError:
                # Another planner (another worker process) recorded the same position
                # first; continue from the tracking position it left. If no planner
                # moved it, the conflict is not another planner's: do not spin.
                stalled = stalled + 1 if self.position() == mark else 0
                if stalled >= 3:
                    raise
                continue
            break
        return self.position() - before

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        """Plan a whole section of the items log (up to 500 events) per transaction.

        eventsourcing's default commits once per event; here the deliveries of every
        event in the section and the tracking position of its last event are recorded
        together. Still exactly once: the section is planned entirely or not at all, and
        the tracking record refuses a position that was recorded already.
        """
        if start is None:
            start = self.recorder.max_tracking_id(leader_name)
        for notifications in self.pull_notifications(
            leader_name, start=start, stop=stop, inclusive_of_start=False
        ):
            jobs = self.convert_notifications(
                leader_name, self.filter_received_notifications(notifications)
            )
            if not jobs:
                continue
            processing_event = ProcessingEvent[UUID](tracking=jobs[-1][1])
            for domain_event, tracking in jobs:
                self._plan_event(
                    domain_event, tracking.notification_id, processing_event
                )
            with self.processing_lock:
                self._record(processing_event)

    def policy(
        self, domain_event: Any, processing_event: ProcessingEvent[UUID]
    ) -> None:
        """Plan one event (eventsourcing's per-event path; `pull_and_process` batches)."""
        tracking = processing_event.tracking
        self._plan_event(
            domain_event, tracking.notification_id if tracking else 0, processing_event
        )

    def _plan_event(
        self, domain_event: Any, position: int, processing_event: ProcessingEvent[UUID]
    ) -> None:
        if not isinstance(domain_event, DisclosureItem.Event):
            return  # the standard catalogue shares the items log; nothing to plan
        event = domain_event
        # When it was planned: the age limit counts from here, so a planner that was
        # down for days does not abandon on first failure.
        now = self.clock()
        if (
            isinstance(event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased)
            and event.planned_with
        ):
            return  # planned with the last release event of its bundle
        for item_id, version, name, before, after, form in self._transitions(event):
            for outlet in self.outlets.values():
                operation = plan_operation(
                    name, before, after, outlet, after_end=form[0], notify=form[1]
                )
                if operation is None:
                    continue
                processing_event.collect_events(
                    planned_delivery(
                        outlet,
                        after,
                        item_id=item_id,
                        item_version=version,
                        operation=operation,
                        position=position,
                        at=now,
                    )
                )
        queues = [o for o in self.outlets.values() if o.review_queue]
        if queues:
            self._plan_notices(event, queues, position, processing_event, now)

    def _plan_notices(
        self,
        event: DisclosureItem.Event,
        queues: list[Outlet],
        position: int,
        processing_event: ProcessingEvent[UUID],
        now: datetime,
    ) -> None:
        members: list[tuple[UUID, int]] = [
            (event.originator_id, event.originator_version)
        ]
        if isinstance(event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased):
            members += list(event.bundle)
        for item_id, version in members:
            item = self.items.get(item_id, version=version)
            if review_notice(item) is None:
                continue
            for outlet in queues:
                processing_event.collect_events(
                    Delivery.plan(
                        item_id=item_id,
                        item_version=version,
                        outlet=outlet.name,
                        operation=Operation.REVIEW_NOTICE.value,
                        position=position,
                        at=now,
                    )
                )

    def _transitions(self, event: DisclosureItem.Event) -> list[Transition]:
        """The changes of what outlets show that `event` makes (none for review
        events; a bundle's last `Released` makes one per member)."""
        id_, version = event.originator_id, event.originator_version
        if isinstance(event, DisclosureItem.Published):
            return [(id_, version, "Published", None, event.content, _NO_FORM)]
        if isinstance(event, DisclosureItem.Revised):
            previous = self.items.get(id_, version=version - 1)
            if previous.status is ItemStatus.PENDING:
                return [(id_, version, "Published", None, event.content, _NO_FORM)]
            return [
                (id_, version, "Revised", previous.content, event.content, _NO_FORM)
            ]
        if isinstance(event, DisclosureItem.Withdrawn):
            previous = self.items.get(id_, version=version - 1)
            if previous.status is not ItemStatus.PUBLISHED:
                return []  # a draft abandoned: it was never public
            return [
                (
                    id_,
                    version,
                    "Withdrawn",
                    previous.content,
                    previous.content,
                    _NO_FORM,
                )
            ]
        if isinstance(
            event,
            DisclosureItem.Erased
            | DisclosureItem.NoticeEnded
            | DisclosureItem.Repealed
            | DisclosureItem.Expired,
        ):
            previous = self.items.get(id_, version=version - 1)
            if previous.status is not ItemStatus.PUBLISHED:
                return []  # withdrawn (nothing of it shown) or never released
            form = (
                (event.after_end, event.notify)
                if isinstance(event, DisclosureItem.NoticeEnded)
                else _NO_FORM
            )
            name = type(event).__name__
            return [(id_, version, name, previous.content, previous.content, form)]
        if isinstance(event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased):
            members = [(id_, version), *event.bundle]
        else:
            return []
        return [self._released(*member) for member in members]

    def _released(self, item_id: UUID, version: int) -> Transition:
        """The public change of the version released at `version`."""
        previous = self.items.get(item_id, version=version - 1)
        pending = previous.pending
        if pending is None:
            raise ValueError(
                f"item {item_id} version {version} releases nothing under review"
            )
        before = previous.content if previous.status is ItemStatus.PUBLISHED else None
        if pending.kind is ProposalKind.WITHDRAW:
            return (
                item_id,
                version,
                "Withdrawn",
                previous.content,
                previous.content,
                _NO_FORM,
            )
        after = pending.content or previous.content
        return (item_id, version, PUBLIC_EVENT[pending.kind], before, after, _NO_FORM)

    def register(self) -> OutletRegister:
        """The shared outlet register (opened on first use)."""
        if OutletRegister.ID in self.repository:
            return cast(OutletRegister, self.repository.get(OutletRegister.ID))
        register = OutletRegister.open(at=self.clock())
        try:
            self.save(register)
        except IntegrityError:  # another process opened it this instant
            return cast(OutletRegister, self.repository.get(OutletRegister.ID))
        return register

    def check_outlets(self) -> None:
        """Refuse to plan with an outlet list older than the store's."""
        missing = sorted(set(self.register().attached) - set(self.outlets))
        if missing:
            raise ConfigurationError(
                f"outlet(s) {', '.join(missing)} are attached in the store but not "
                "configured here: this process has an out-of-date syndicate.toml "
                "(restart it), or they were removed on purpose (run `syndicate outlets "
                "detach NAME`)"
            )

    def attach_new_outlets(self, budget: float = ATTACH_SECONDS) -> list[str]:
        """Backfill outlets seen for the first time with the live items they take (and,
        for outlets that keep withdrawal notices, the withdrawn ones).

        Each outlet is attached in its own transaction (the register's entry with its
        backfill); all the new outlets of a call share one reading of the items log
        (read again only if another process planned meanwhile): a table of 500 village
        groups added at once reads the log once, not 500 times. After `budget`
        seconds the call returns with at least one outlet attached and the next call
        goes on, so a worker keeps planning and sending new items while a large
        backfill proceeds. Gives up after 10 conflicts with another process attaching
        at the same time (the next call goes on)."""
        attached: list[str] = []
        conflicts = 0
        until = time.monotonic() + budget
        live: tuple[int, list[tuple[DisclosureItem, int]]] | None = None
        while conflicts < 10 and not (attached and time.monotonic() > until):
            register = self.register()
            new = [n for n in self.outlets if n not in register.attached]
            if not new:
                return attached
            name = new[0]
            outlet = self.outlets[name]
            position = self.position()
            if live is None or live[0] != position:
                live = None  # one reading held at a time
                released = [
                    (item, at)
                    for item, at in self.items.items_as_of(position)
                    if item.released  # never released (a draft, abandoned): not public
                ]
                live = (position, released)
            now = self.clock()
            candidates: list[Delivery] = []
            keeps = outlet.capabilities.keeps_withdrawn
            for item, at_position in live[1]:
                withdrawn = item.status is ItemStatus.WITHDRAWN
                if (withdrawn and not keeps) or not outlet.accepts(item.content):
                    continue
                if (
                    item.notice_over
                    and item.notice_end is not None
                    and item.notice_end.after_end == "remove"
                ):
                    continue  # taken down once its 公示期 ended: not backfilled
                if (
                    not withdrawn
                    and item.notice_over
                    and outlet.capabilities.needs_attestation
                ):
                    continue  # a notice board gets no sheet for a window that ended
                gone = (
                    Operation.RETRACT
                    if outlet.capabilities.retracts
                    else Operation.WITHDRAWAL_NOTICE
                )
                operation = gone if withdrawn else Operation.PUBLISH
                delivery = planned_delivery(
                    outlet,
                    item.content,
                    item_id=item.id,
                    # What outlets show is the version last released, whatever is
                    # under review since.
                    item_version=item.public_version,
                    operation=operation,
                    position=at_position,
                    at=now,
                )
                candidates.append(delivery)
            made = self._existing([d.id for d in candidates])
            planned: list[Aggregate] = [d for d in candidates if d.id not in made]
            register.attach(name, position=position, backfilled=len(planned), at=now)
            try:
                self.save(register, *planned)
            except IntegrityError:
                conflicts += 1
                continue  # another process changed the register: look again
            attached.append(name)
        return attached

    def _existing(self, ids: list[UUID]) -> set[UUID]:
        """Which of `ids` the log holds (planned by another process meanwhile): one
        statement per 500 where the store offers it."""
        select = getattr(self.recorder, "select_events_of", None)
        if select is None:
            return {i for i in ids if i in self.repository}
        return set(select(ids))

    def detach(self, outlet: str, *, actor: str) -> None:
        """Forget an outlet on purpose; adding it again later backfills it again."""
        register = self.register()
        if outlet not in register.attached:
            raise InputError([Problem("NAME", f"outlet {outlet!r} is not attached")])
        register.detach(outlet, actor=actor, at=self.clock())
        self.save(register)

    # -- reading -------------------------------------------------------------------------

    def delivery(self, id_: UUID) -> Delivery:
        """The delivery with this id, as stored now."""
        return cast(Delivery, self.repository.get(id_))

    def find(self, id_: UUID) -> Delivery | None:
        """The delivery with this id as stored now, or None when there is none."""
        return self._load(id_, None)

    def load_many(self, wanted: Mapping[UUID, int | None]) -> dict[UUID, Delivery]:
        """The deliveries `wanted` names, each folded from its own events up to the
        version given (all of them for None); those with no events are left out.
        One statement per 500 where the store offers it."""
        select = getattr(self.recorder, "select_events_of", None)
        if select is None:
            loaded = {i: self._load(i, v) for i, v in wanted.items()}
            return {i: d for i, d in loaded.items() if d is not None}
        found: dict[UUID, Delivery] = {}
        for id_, stored in select(list(wanted)).items():
            upto = wanted.get(id_)
            delivery: Any = None
            for record in stored:
                if upto is not None and record.originator_version > upto:
                    break
                event = self.mapper.to_domain_event(record)
                if not isinstance(event, Delivery.Event):
                    delivery = None  # not a delivery's id
                    break
                delivery = event.mutate(delivery)
            if isinstance(delivery, Delivery):
                found[id_] = delivery
        return found

    def _load(self, id_: UUID, version: int | None) -> Delivery | None:
        try:
            found: object = self.repository.get(id_, version=version)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Delivery) else None

    def all_deliveries(self, after: int = 0) -> dict[UUID, Delivery]:
        """Every delivery folded from the log (from position `after`)."""
        folded: dict[UUID, Delivery] = {}
        self.fold_into(folded, after)
        return folded

    def fold_into(
        self, folded: dict[UUID, Delivery], after: int, upto: int | None = None
    ) -> int:
        """Apply deliveries-log events after `after` (up to `upto`, when given) to
        `folded`; returns the new position."""
        start = after
        while True:
            if upto is not None and start >= upto:
                return start
            page = self.recorder.select_notifications(
                start=start, limit=500, stop=upto, inclusive_of_start=False
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


class DeliveryView:
    """What a worker reads of the deliveries: the persisted read model
    (`DeliveryIndex`) to choose, each delivery's own events to act on.

    `refresh()` folds the events appended since the index's tracking position (a few,
    not the whole log); the questions (`due`, `in_states`, `newest`, `furthest`) are
    indexed queries; the deliveries they return are read from their events, so they
    are as stored now, and a copy a caller changes is its own.
    """

    def __init__(self, log: Deliveries) -> None:
        self.log = log
        self.index = log.index

    def refresh(self) -> None:
        """Catch up with the log."""
        self.index.catch_up()

    def get(self, id_: UUID) -> Delivery | None:
        """The delivery with this id as stored now, or None."""
        return self.log.find(id_)

    def due(self, now: datetime, outlets: Collection[str]) -> list[Delivery]:
        """Deliveries on `outlets` a worker may claim at `now`, in items-log order
        (each checked against its events: a row is only a hint)."""
        found = self.index.load(self.index.due_ids(now, outlets))
        return [d for d in found if d.outlet in outlets and d.is_due(now)]

    def in_states(
        self, states: Collection[DeliveryState], outlets: Collection[str]
    ) -> list[Delivery]:
        """Deliveries on `outlets` in one of `states`, in items-log order."""
        found = self.index.load(self.index.ids_in(states, outlets))
        return [d for d in found if d.outlet in outlets and d.state in states]

    def newest(self, item_id: UUID, outlet: str, *, above: int = 0) -> int:
        """The newest version of the item planned for `outlet` (0 when none). A
        version the index names above `above` (a version the caller holds, so known
        to be in the log) is believed only when its delivery is in the log."""
        version = self.index.newest_version(item_id, outlet)
        while (
            version > above
            and self.log.find(delivery_id(item_id, version, outlet)) is None
        ):
            version -= 1
        return version

    def furthest(self, outlet: str) -> int:
        """The furthest items-log position planned on `outlet` (0 when none), as the
        delivery the index names there says."""
        id_ = self.index.furthest_id(outlet)
        found = self.log.find(id_) if id_ is not None else None
        return found.position if found is not None and found.outlet == outlet else 0
