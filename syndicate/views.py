"""Read models: summaries for listing, rows for `syndicate log`, rows for `status`.

They are pure folds over decoded events (or over deliveries folded from the deliveries
log), so the same log always gives the same view; the applications feed them.

先审后发: a summary shows what outlets show (a released item keeps its released title and
hash while a new version is under review); an item never released has status `pending`
and shows its latest draft. `ItemSummary.review` says what waits for review
(`ReviewTracker.describe`); log rows of review events carry their `level`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.review import ProposalKind
from syndicate.domain.standard import StandardCatalogue

__all__ = [
    "ItemSummary",
    "LoggedEvent",
    "OutletStatus",
    "ReviewTracker",
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
    reason: str | None  # a revision's or withdrawal's reason; a reviewer's comment
    content_hash: str | None
    # Review events: the level approved, returned or approved afterwards; for
    # `Submitted`, the levels it goes through, in order ("科室初审 → 分管领导审签").
    level: str | None = None

    def as_json(self) -> dict[str, object]:
        """The JSON Lines record of `syndicate log --json` (`level` only for the review
        events that have one)."""
        data: dict[str, object] = {
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
        if self.level is not None:
            data["level"] = self.level
        return data


@dataclass
class ItemSummary:
    """The current state of one item, for `items list`.

    Title, area, stage, attribute and hash are what outlets show (for an item never
    released, status `pending`: its latest draft). `published_at` is its first release
    (None while never released); `review` what waits for review, if anything
    (`ReviewTracker.describe`).
    """

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
    published_at: datetime | None
    updated_at: datetime
    review: str | None = None
    # When its sealed attachments were erased (the Erased event's version and time).
    erased: tuple[int, datetime] | None = None

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`."""
        return f"{self.agency}/{self.index_no}"

    def show(self, content: ItemContent, digest: str) -> None:
        """What outlets show is now `content` (hash `digest`)."""
        self.title = content.title
        self.area = content.area
        self.stage = content.stage.value
        self.attribute = content.attribute.value
        self.content_hash = digest

    def as_json(self) -> dict[str, object]:
        """The object `items list --json` prints for this item (`review` only when
        something waits for review; `published_at` null while never released)."""
        data: dict[str, object] = {
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
            "published_at": (
                self.published_at.isoformat() if self.published_at else None
            ),
            "updated_at": self.updated_at.isoformat(),
        }
        if self.review is not None:
            data["review"] = self.review
        return data


Positioned = tuple[int, DisclosureItem.Event]

# How a proposal is named in `ReviewTracker.describe` (a new item: no word).
_WHAT = {
    ProposalKind.PUBLISH: "",
    ProposalKind.REVISE: "revision ",
    ProposalKind.WITHDRAW: "withdrawal ",
}


@dataclass
class _Proposal:
    """A version under review, as far as the log has told."""

    kind: ProposalKind
    content: ItemContent | None
    content_hash: str
    levels: tuple[str, ...]
    approved: int = 0
    returned_at: str | None = None  # the level that returned it


@dataclass
class _Urgent:
    """An urgent release awaiting approval afterwards."""

    levels: tuple[str, ...]
    due: datetime
    approved: int = 0


class ReviewTracker:
    """What waits for review, item by item, folded from item events in log order.

    `apply` every event (any item, in log order); `describe(item_id)` then says what
    waits: "pending 科室初审" (a new item awaiting that level), "revision pending …",
    "withdrawal pending …", "returned at 科室初审", "approved, awaiting the items
    released with it", "urgent, approval afterwards at 科室初审 due
    2026-11-03T09:00+08:00" (joined by "; " when an urgent release awaits approval
    afterwards and a newer version is under review too), or None.
    """

    def __init__(self) -> None:
        self._proposals: dict[UUID, _Proposal] = {}
        self._urgent: dict[UUID, _Urgent] = {}

    def apply(self, event: DisclosureItem.Event) -> ProposalKind | None:
        """Take `event` into account; for a release (`Released`, `UrgentlyReleased`),
        the kind of the proposal it released (None if the log was read from after its
        submission), else None."""
        id_ = event.originator_id
        if isinstance(event, DisclosureItem.Submitted):
            self._proposals[id_] = _Proposal(
                event.kind, event.content, event.content_hash, event.levels
            )
        elif isinstance(event, DisclosureItem.Approved):
            if id_ in self._proposals:
                self._proposals[id_].approved += 1
        elif isinstance(event, DisclosureItem.Returned):
            if id_ in self._proposals:
                self._proposals[id_].returned_at = event.level
        elif isinstance(
            event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased
        ):
            released = self._proposals.pop(id_, None)
            if isinstance(event, DisclosureItem.UrgentlyReleased):
                levels = released.levels if released else ()
                self._urgent[id_] = _Urgent(levels, event.due)
            return released.kind if released else None
        elif isinstance(event, DisclosureItem.ApprovedAfterwards):
            urgent = self._urgent.get(id_)
            if urgent is not None:
                urgent.approved += 1
                if urgent.approved >= len(urgent.levels):
                    del self._urgent[id_]
        elif isinstance(
            event,
            DisclosureItem.Published
            | DisclosureItem.Revised
            | DisclosureItem.Withdrawn,
        ):
            self._proposals.pop(id_, None)  # released at once: nothing under review
        return None

    def proposal(self, item_id: UUID) -> tuple[ProposalKind, ItemContent | None] | None:
        """The kind and content of the version under review (content None for a
        withdrawal), or None."""
        found = self._proposals.get(item_id)
        return (found.kind, found.content) if found else None

    def describe(self, item_id: UUID) -> str | None:
        """What waits for review for the item (class notes), or None."""
        parts = []
        found = self._proposals.get(item_id)
        if found is not None:
            what = _WHAT[found.kind]
            if found.returned_at is not None:
                parts.append(f"{what}returned at {found.returned_at}")
            elif found.approved < len(found.levels):
                parts.append(f"{what}pending {found.levels[found.approved]}")
            else:
                parts.append(f"{what}approved, awaiting the items released with it")
        urgent = self._urgent.get(item_id)
        if urgent is not None:
            due = urgent.due.astimezone(CHINA_TZ).isoformat(timespec="minutes")
            level = (
                f" at {urgent.levels[urgent.approved]}"
                if urgent.approved < len(urgent.levels)
                else ""
            )
            parts.append(f"urgent, approval afterwards{level} due {due}")
        return "; ".join(parts) or None


def _summary(event: DisclosureItem.Published | DisclosureItem.Drafted) -> ItemSummary:
    c = event.content
    released = isinstance(event, DisclosureItem.Published)
    return ItemSummary(
        id=event.originator_id,
        agency=c.agency,
        index_no=c.index_no,
        title=c.title,
        area=c.area,
        stage=c.stage.value,
        attribute=c.attribute.value,
        version=event.originator_version,
        status=ItemStatus.PUBLISHED if released else ItemStatus.PENDING,
        content_hash=event.content_hash,
        published_at=event.timestamp if released else None,
        updated_at=event.timestamp,
    )


def fold_summaries(events: Iterable[Positioned]) -> dict[UUID, ItemSummary]:
    """Current summary of every item, from its events in log order."""
    items: dict[UUID, ItemSummary] = {}
    reviews = ReviewTracker()
    for _, event in events:
        id_ = event.originator_id
        pending = reviews.proposal(id_)
        released = reviews.apply(event)
        if isinstance(event, DisclosureItem.Published | DisclosureItem.Drafted):
            items[id_] = _summary(event)
            continue
        summary = items.get(id_)
        if summary is None:  # the log was read from a later position
            continue
        summary.version = event.originator_version
        summary.updated_at = event.timestamp
        if isinstance(event, DisclosureItem.Revised):
            summary.show(event.content, event.content_hash)
            if summary.status is ItemStatus.PENDING:  # a draft, released at once
                summary.status = ItemStatus.PUBLISHED
                summary.published_at = event.timestamp
        elif isinstance(event, DisclosureItem.Withdrawn):
            summary.status = ItemStatus.WITHDRAWN
        elif isinstance(event, DisclosureItem.Erased):
            summary.erased = (event.originator_version, event.timestamp)
        elif isinstance(event, DisclosureItem.Submitted):
            if summary.status is ItemStatus.PENDING and event.content is not None:
                summary.show(event.content, event.content_hash)  # the latest draft
        elif isinstance(
            event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased
        ):
            if released is ProposalKind.WITHDRAW:
                summary.status = ItemStatus.WITHDRAWN
            else:
                content = pending[1] if pending else None
                if content is not None:
                    summary.show(content, event.content_hash)
                summary.status = ItemStatus.PUBLISHED
                if summary.published_at is None:
                    summary.published_at = event.timestamp
        summary.review = reviews.describe(id_)
    return items


def logged_events(
    events: Iterable[Positioned], refs: dict[UUID, str]
) -> Iterator[LoggedEvent]:
    """Log rows; `refs` maps item ids to `AGENCY/INDEX_NO` and learns from the events
    that carry content (Published, Drafted, Revised, Submitted)."""
    for position, event in events:
        if isinstance(event, StandardCatalogue.Event):
            yield catalogue_row(position, event)
            continue
        title = reason = digest = level = None
        if isinstance(
            event,
            DisclosureItem.Published | DisclosureItem.Revised | DisclosureItem.Drafted,
        ):
            refs[event.originator_id] = event.content.ref
            title, digest = event.content.title, event.content_hash
        if isinstance(
            event,
            DisclosureItem.Revised | DisclosureItem.Withdrawn | DisclosureItem.Erased,
        ):
            reason = event.reason
        elif isinstance(event, DisclosureItem.GuardOverridden):
            digest, reason = event.content_hash, f"guard overridden: {event.basis}"
        elif isinstance(event, DisclosureItem.NoticeExcepted):
            digest, reason = event.content_hash, f"late notice accepted: {event.reason}"
        elif isinstance(
            event, DisclosureItem.Repealed | DisclosureItem.ScheduleCancelled
        ):
            reason = event.reason
        elif isinstance(event, DisclosureItem.ReleaseScheduled):
            reason = f"release at {event.release_at.isoformat()}"
        elif isinstance(event, DisclosureItem.Submitted):
            if event.content is not None:
                refs[event.originator_id] = event.content.ref
                title = event.content.title
            digest, reason = event.content_hash, event.reason
            level = " → ".join(event.levels)
        elif isinstance(
            event,
            DisclosureItem.Approved
            | DisclosureItem.ApprovedAfterwards
            | DisclosureItem.Returned,
        ):
            digest, level, reason = (
                event.content_hash,
                event.level,
                event.comment or None,
            )
        elif isinstance(event, DisclosureItem.Released):
            digest = event.content_hash
        elif isinstance(event, DisclosureItem.UrgentlyReleased):
            digest, reason = event.content_hash, event.reason
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
            level=level,
        )


# What `syndicate log` shows in the REF column for the standard catalogue's events.
CATALOGUE_REF = "标准目录"


def catalogue_row(position: int, event: StandardCatalogue.Event) -> LoggedEvent:
    """A standard-catalogue event as a log row: `CatalogueStarted` or
    `CatalogueAdjusted`, the file it was imported from as its title, what changed as
    its reason and the file's sha256 as its hash."""
    if isinstance(event, StandardCatalogue.Adjusted):
        reason = (
            f"{len(event.added)} added, {len(event.removed)} removed, "
            f"{len(event.changed)} changed"
        )
    elif isinstance(event, StandardCatalogue.Started):
        reason = f"{len(event.entries)} 事项"
    else:  # pragma: no cover - every stored catalogue event is one of the two
        reason = None
    return LoggedEvent(
        position=position,
        timestamp=event.timestamp,
        item_id=event.originator_id,
        ref=CATALOGUE_REF,
        version=event.originator_version,
        event=f"Catalogue{type(event).__name__}",
        actor=event.actor,
        title=event.source,
        reason=reason,
        content_hash=event.sha256,
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


def _later(a: Delivery, b: Delivery) -> bool:
    """Whether `a` was planned after `b` on their outlet (ties, a bundle planned at
    one position, by version, then id: the order the deliveries read model uses)."""
    return (a.position, a.item_version, str(a.id)) > (
        b.position,
        b.item_version,
        str(b.id),
    )


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
        if d.outlet not in newest_any or _later(d, newest_any[d.outlet]):
            newest_any[d.outlet] = d
        if d.state.done and (
            d.outlet not in newest_done or _later(d, newest_done[d.outlet])
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
