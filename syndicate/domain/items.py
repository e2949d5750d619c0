"""`DisclosureItem` (政务公开事项): published once, revised, withdrawn; every change an event.

Rules enforced here, with plain values and no I/O:

- the id is uuid5(agency, index_no), so a second publication of the same item cannot be
  stored (the store refuses the duplicate first event; the application reports it);
- a revision may not change the item's identity (agency, index_no), and a revision
  identical to the current content is refused ("nothing changed");
- a withdrawn item cannot be revised or withdrawn again;
- every event records the actor who caused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import CanInitAggregate
from pydantic import BeforeValidator, Field

from syndicate.domain.base import CHINA_TZ, Aggregate
from syndicate.domain.content import ItemContent, _line, _multiline, content_hash
from syndicate.errors import InputError, ItemWithdrawn, NothingChanged, Problem

__all__ = [
    "DisclosureItem",
    "ItemStatus",
    "VersionRecord",
    "check_actor",
    "check_line",
    "check_note",
]

Actor = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=100)]
Reason = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=500)]
Note = Annotated[str, BeforeValidator(_multiline), Field(max_length=2000)]


class ItemStatus(StrEnum):
    """Whether the item is live on its outlets or has been withdrawn."""

    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class VersionRecord:
    """One entry of an item's history, as the portal's 更正说明 list shows it."""

    version: int
    event: str
    at: datetime
    actor: str
    content_hash: str | None
    reason: str | None


def _check_line(field: str, value: str, limit: int) -> str:
    try:
        cleaned = _line(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise InputError([Problem(field, str(exc))]) from None
    if not cleaned:
        raise InputError([Problem(field, "must not be empty")])
    if len(cleaned) > limit:
        raise InputError([Problem(field, f"is longer than {limit} characters")])
    return str(cleaned)


def check_line(field: str, value: str, limit: int) -> str:
    """Validate a one-line command argument (a reason), naming the field."""
    return _check_line(field, value, limit)


def check_note(note: str) -> str:
    """Validate and normalise a public note (multi-line, at most 2000 characters)."""
    try:
        cleaned = str(_multiline(note))
    except ValueError as exc:
        raise InputError([Problem("public_note", str(exc))]) from None
    if len(cleaned) > 2000:
        raise InputError([Problem("public_note", "is longer than 2000 characters")])
    return cleaned


def check_actor(actor: str) -> str:
    """Validate and normalise the actor name recorded on every event."""
    return _check_line("actor", actor, 100)


class DisclosureItem(Aggregate):
    """A disclosure item and its versions. Only `Disclosures` saves it."""

    TOPIC = "syndicate.DisclosureItem"

    class Event(Aggregate.Event):
        """Base of the item's events; each records who caused it."""

        actor: Actor

        def record(self) -> VersionRecord:
            """This event as an entry of the item's history."""
            return VersionRecord(
                version=self.originator_version,
                event=type(self).__name__,
                at=self.timestamp,
                actor=self.actor,
                content_hash=getattr(self, "content_hash", None),
                reason=getattr(self, "reason", None),
            )

    class Published(Event, CanInitAggregate[UUID]):
        """The item was published (version 1)."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Published"
        originator_topic: str
        content: ItemContent
        content_hash: str

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.content = self.content
            item.content_hash = self.content_hash
            item.status = ItemStatus.PUBLISHED
            item.withdrawal = None
            item.history = [self.record()]

    class Revised(Event):
        """The item's content was replaced; `reason` is the public 更正说明."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Revised"
        content: ItemContent
        content_hash: str
        reason: Reason

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.content = self.content
            item.content_hash = self.content_hash
            item.history.append(self.record())

    class Withdrawn(Event):
        """The item was withdrawn (撤回); `public_note` is shown where it used to be."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Withdrawn"
        reason: Reason
        public_note: Note = ""

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.status = ItemStatus.WITHDRAWN
            item.withdrawal = self
            item.history.append(self.record())

    if TYPE_CHECKING:
        # State, set by the events' apply methods. Declared for type checkers only:
        # class-level annotations would make eventsourcing turn the class into a
        # dataclass with a generated __init__.
        content: ItemContent
        content_hash: str
        status: ItemStatus
        withdrawal: DisclosureItem.Withdrawn | None
        history: list[VersionRecord]

    @classmethod
    def publish(
        cls,
        content: ItemContent,
        *,
        actor: str,
        at: datetime,
        known_id: UUID | None = None,
    ) -> DisclosureItem:
        """A new item at version 1 (pending its first event).

        `known_id` saves recomputing `content.id` when the caller has it already.
        """
        return cls._create(
            cls.Published,
            id=known_id or content.id,
            timestamp=at,
            content=content,
            content_hash=content_hash(content),
            actor=check_actor(actor),
        )

    def revise(
        self, content: ItemContent, *, reason: str, actor: str, at: datetime
    ) -> None:
        """Replace the content; refused after withdrawal or when nothing changed."""
        self._require_live("revise")
        problems = [
            Problem(
                field,
                f"a revision cannot change the item's {field} "
                f"(it is {getattr(self.content, field)!r}); publish a new item instead",
            )
            for field in ("agency", "index_no")
            if getattr(content, field) != getattr(self.content, field)
        ]
        if problems:
            raise InputError(problems)
        reason = _check_line("reason", reason, 500)
        new_hash = content_hash(content)
        if new_hash == self.content_hash:
            raise NothingChanged(
                f"nothing changed: the revision of {self.content.ref} is identical to "
                f"version {self.version}"
            )
        self.trigger_event(
            self.Revised,
            timestamp=at,
            content=content,
            content_hash=new_hash,
            reason=reason,
            actor=check_actor(actor),
        )

    def withdraw(
        self, *, reason: str, public_note: str = "", actor: str, at: datetime
    ) -> None:
        """Take the item down everywhere; refused if it is withdrawn already."""
        self._require_live("withdraw")
        reason = _check_line("reason", reason, 500)
        try:
            note = _multiline(public_note)
        except ValueError as exc:
            raise InputError([Problem("public_note", str(exc))]) from None
        if len(note) > 2000:
            raise InputError([Problem("public_note", "is longer than 2000 characters")])
        self.trigger_event(
            self.Withdrawn,
            timestamp=at,
            reason=reason,
            public_note=note,
            actor=check_actor(actor),
        )

    def _require_live(self, verb: str) -> None:
        if self.status is ItemStatus.WITHDRAWN and self.withdrawal is not None:
            when = self.withdrawal.timestamp.astimezone(CHINA_TZ).isoformat(
                timespec="seconds"
            )
            raise ItemWithdrawn(
                f"cannot {verb} {self.content.ref}: it was withdrawn at {when} "
                f"by {self.withdrawal.actor}"
            )

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`."""
        return self.content.ref
