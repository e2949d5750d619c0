"""Read models: summaries for listing, rows for `syndicate log`, rows for `status`.

They are pure folds over decoded events (or over deliveries folded from the deliveries
log), so the same log always gives the same view; the applications feed them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.domain.items import DisclosureItem, ItemStatus

__all__ = [
    "ItemSummary",
    "LoggedEvent",
    "OutletStatus",
    "fold_summaries",
    "logged_events",
    "outlet_status",
]


@dataclass(frozen=True)
class LoggedEvent:
    """One stored event as `syndicate log` shows it."""

    position: int
    timestamp: datetime
    item_id: UUID
    ref: str
    version: int
    event: str
    actor: str
    title: str | None
    reason: str | None
    content_hash: str | None

    def as_json(self) -> dict[str, object]:
        """The JSON Lines record of `syndicate log --json`."""
        return {
            "position": self.position,
            "timestamp": self.timestamp.isoformat(),
            "item_id": str(self.item_id),
            "ref": self.ref,
            "version": self.version,
            "event": self.event,
            "actor": self.actor,
            "title": self.title,
            "reason": self.reason,
            "content_hash": self.content_hash,
        }


@dataclass
class ItemSummary:
    """The current state of one item, for `items list`."""

    id: UUID
    agency: str
    index_no: str
    title: str
    area: str
    stage: str
    attribute: str
    version: int
    status: ItemStatus
    content_hash: str
    published_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`."""
        return f"{self.agency}/{self.index_no}"

    def as_json(self) -> dict[str, object]:
        """The object `items list --json` prints for this item."""
        return {
            "id": str(self.id),
            "agency": self.agency,
            "index_no": self.index_no,
            "title": self.title,
            "area": self.area,
            "stage": self.stage,
            "attribute": self.attribute,
            "version": self.version,
            "status": self.status.value,
            "content_hash": self.content_hash,
            "published_at": self.published_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


Positioned = tuple[int, DisclosureItem.Event]


def fold_summaries(events: Iterable[Positioned]) -> dict[UUID, ItemSummary]:
    """Current summary of every item, from its events in log order."""
    items: dict[UUID, ItemSummary] = {}
    for _, event in events:
        if isinstance(event, DisclosureItem.Published):
            c = event.content
            items[event.originator_id] = ItemSummary(
                id=event.originator_id,
                agency=c.agency,
                index_no=c.index_no,
                title=c.title,
                area=c.area,
                stage=c.stage.value,
                attribute=c.attribute.value,
                version=event.originator_version,
                status=ItemStatus.PUBLISHED,
                content_hash=event.content_hash,
                published_at=event.timestamp,
                updated_at=event.timestamp,
            )
            continue
        summary = items.get(event.originator_id)
        if summary is None:  # the log was read from a later position
            continue
        summary.version = event.originator_version
        summary.updated_at = event.timestamp
        if isinstance(event, DisclosureItem.Revised):
            summary.title = event.content.title
            summary.area = event.content.area
            summary.stage = event.content.stage.value
            summary.attribute = event.content.attribute.value
            summary.content_hash = event.content_hash
        elif isinstance(event, DisclosureItem.Withdrawn):
            summary.status = ItemStatus.WITHDRAWN
    return items


def logged_events(
    events: Iterable[Positioned], refs: dict[UUID, str]
) -> Iterator[LoggedEvent]:
    """Log rows; `refs` maps item ids to `AGENCY/INDEX_NO` and learns from Published."""
    for position, event in events:
        title = reason = digest = None
        if isinstance(event, DisclosureItem.Published | DisclosureItem.Revised):
            refs[event.originator_id] = event.content.ref
            title, digest = event.content.title, event.content_hash
        if isinstance(event, DisclosureItem.Revised | DisclosureItem.Withdrawn):
            reason = event.reason
        yield LoggedEvent(
            position=position,
            timestamp=event.timestamp,
            item_id=event.originator_id,
            ref=refs.get(event.originator_id, str(event.originator_id)),
            version=event.originator_version,
            event=type(event).__name__,
            actor=event.actor,
            title=title,
            reason=reason,
            content_hash=digest,
        )


# Operations that take an item down (planning's removals), by value: views sit below the
# adapter contract in the layers.
_REMOVALS = ("retract", "withdrawal_notice")
# States in which a delivery's last error is history, not news: the rendition is out
# (or replaced), so showing an old failure beside it would mislead.
_NO_ERROR = {
    DeliveryState.SUCCEEDED,
    DeliveryState.AWAITING_ATTESTATION,
    DeliveryState.ATTESTED,
    DeliveryState.SUPERSEDED,
}


@dataclass(frozen=True)
class OutletStatus:
    """One item on one outlet, as `syndicate status` shows it.

    `delivery` is the item's newest delivery there (highest version). `carried_by` is
    set on a whole-set outlet (feeds, kiosk bundle) when that delivery was superseded
    by a later rendition of the whole set: then `state`, `attempts` and `last_error`
    are that rendition's, since it is what brings the item's version to the outlet.
    `live_version` is the version readers see there now: a number, "withdrawn" when a
    removal is what is shown, or None when nothing of the item is shown.
    """

    item_id: UUID
    outlet: str
    delivery: Delivery
    state: DeliveryState
    attempts: int
    last_error: str | None
    due_at: datetime | None
    live_version: int | str | None
    carried_by: Delivery | None
    awaiting: tuple[Delivery, ...]


def _live(delivery: Delivery) -> int | str:
    return "withdrawn" if delivery.operation in _REMOVALS else delivery.item_version


def outlet_status(
    deliveries: Iterable[Delivery],
    *,
    whole_set: Collection[str] = (),
    item: UUID | None = None,
    outlet: str | None = None,
) -> list[OutletStatus]:
    """Status of each (item, outlet) pair that has deliveries, optionally only one
    item or one outlet. `whole_set` names the outlets whose every rendition holds the
    whole set of live items (capabilities.whole_set).

    A whole-set outlet shows, for every item, the version its newest *done* rendition
    (whichever item it was planned for) carried: the item's latest delivery planned at
    or before that rendition's log position. Elsewhere an item shows the version of its
    own newest done delivery.
    """
    everything = list(deliveries)
    newest_done: dict[str, Delivery] = {}  # whole-set outlets: the rendition shown
    newest_any: dict[str, Delivery] = {}  # whole-set outlets: the newest planned
    for d in everything:
        if d.outlet not in whole_set:
            continue
        if d.outlet not in newest_any or d.position > newest_any[d.outlet].position:
            newest_any[d.outlet] = d
        if d.state.done and (
            d.outlet not in newest_done or d.position > newest_done[d.outlet].position
        ):
            newest_done[d.outlet] = d
    groups: dict[tuple[UUID, str], list[Delivery]] = {}
    for d in everything:
        if (item is None or d.item_id == item) and (
            outlet is None or d.outlet == outlet
        ):
            groups.setdefault((d.item_id, d.outlet), []).append(d)
    rows = []
    for (item_id, name), mine in groups.items():
        mine.sort(key=lambda d: d.item_version)
        newest = mine[-1]
        shown: Delivery = newest
        carried: Delivery | None = None
        live: int | str | None = None
        if name in whole_set:
            top = newest_done.get(name)
            if top is not None:
                before = [d for d in mine if d.position <= top.position]
                live = _live(before[-1]) if before else None
            latest = newest_any.get(name)
            if (
                newest.state is DeliveryState.SUPERSEDED
                and latest is not None
                and latest.position > newest.position
            ):
                carried = shown = latest
        else:
            done = [d for d in mine if d.state.done]
            live = _live(done[-1]) if done else None
        rows.append(
            OutletStatus(
                item_id=item_id,
                outlet=name,
                delivery=newest,
                state=shown.state,
                attempts=shown.attempt,
                last_error=None if shown.state in _NO_ERROR else shown.last_error,
                due_at=shown.due_at
                if shown.state in (DeliveryState.RETRYING, DeliveryState.SUBMITTED)
                else None,
                live_version=live,
                carried_by=carried,
                awaiting=tuple(
                    d for d in mine if d.state is DeliveryState.AWAITING_ATTESTATION
                ),
            )
        )
    return rows
