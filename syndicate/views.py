"""Read models folded from the items log: summaries for listing, rows for `syndicate log`.

They are pure folds over decoded events in log order, so the same log always gives the
same view; the application feeds them pages of notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from syndicate.domain.items import DisclosureItem, ItemStatus

__all__ = ["ItemSummary", "LoggedEvent", "fold_summaries", "logged_events"]


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
