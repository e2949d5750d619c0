"""`Delivery`: one item version on one outlet, and every attempt to put it there.

Planned once (its id is uuid5 of item, version and outlet), then claimed, attempted and
settled by workers; every step is an event, failed attempts included, so the trail of an
item on an outlet is a replay of its deliveries.

States (`DeliveryState`), and who moves a delivery between them:

```
planned ──claim──▶ claimed ──▶ succeeded
   ▲                  │ ├────▶ retrying (due again at retry_at) ──claim──▶ …
   │                  │ ├────▶ failed (permanent: an operator must act; `syndicate retry`)
   │                  │ ├────▶ unconfirmed (outcome unknown, channel cannot deduplicate:
   │                  │ │        never resent automatically; `syndicate resolve`)
   └──── released ◀───┘ ├────▶ abandoned (older than the maximum age)
                        ├────▶ awaiting_attestation ──attest──▶ attested
                        │        (outlets that need a person to put the rendition up,
                        │         e.g. a printed sheet on a notice board)
                        └────▶ submitted ──claim (check)──▶ succeeded | failed |
                                 submitted again (still pending) | abandoned
planned / retrying ──▶ superseded (a newer version replaces it on a latest-only outlet)
```

Attestation: on an outlet whose capabilities say `needs_attestation`, the worker records
`AwaitingAttestation` (same fields as `Succeeded`) instead of `Succeeded`: the sheet exists,
but nobody has put it up yet. `Attested` (who posted it, when, the sha256 of a photo) is
recorded by an operator with `syndicate attest`, and settles it as `attested`. Both facts are
in the log itself, so replaying it gives the same states whatever the configuration says
today, and logs written before attestation existed load unchanged.

Asynchronous confirmation: on an outlet whose capabilities say `confirms_async` (a WeChat
official account publishes an article minutes after accepting it), the worker records
`Submitted` (the receipt so far, and `check_at`) instead of `Succeeded`. A submitted
delivery is due again at `check_at`; the worker claims it and asks the adapter's
`confirm(receipt, session)`, never rendering or sending again: the answer becomes
`Succeeded`, `Failed`, or another `Submitted` with a later `check_at`. Submitted is not
settled (a worker will look again) and not a problem. Logs written before it existed load
unchanged: nothing old produces the new event.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import CanInitAggregate
from pydantic import AwareDatetime

from syndicate.domain.base import Aggregate

__all__ = ["DELIVERY_NAMESPACE", "Delivery", "DeliveryState", "delivery_id"]

# Never change: delivery ids derived from it are stored in every delivery event.
DELIVERY_NAMESPACE = UUID("0d6f1c2e-9b3a-5c47-8e21-7a4b5c6d7e8f")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The worker that produced a sheet and the operator who attests it may be on machines
# whose clocks differ a little; a posting time this much before the sheet is accepted.
_CLOCK_SKEW = timedelta(minutes=5)


def delivery_id(item_id: UUID, version: int, outlet: str) -> UUID:
    """The one delivery of an item version to an outlet: planning is exactly-once."""
    return uuid5(DELIVERY_NAMESPACE, f"{item_id}:{version}:{outlet}")


class DeliveryState(StrEnum):
    """Where a delivery stands."""

    PLANNED = "planned"
    CLAIMED = "claimed"
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    ABANDONED = "abandoned"
    SUPERSEDED = "superseded"
    AWAITING_ATTESTATION = "awaiting_attestation"
    ATTESTED = "attested"
    SUBMITTED = "submitted"

    @property
    def settled(self) -> bool:
        """No worker will touch it again without an operator."""
        return self in _SETTLED

    @property
    def problem(self) -> bool:
        """It needs an operator's attention."""
        return self in _PROBLEMS

    @property
    def done(self) -> bool:
        """The rendition is on the outlet (for attested outlets: a person said so)."""
        return self in (DeliveryState.SUCCEEDED, DeliveryState.ATTESTED)


_SETTLED = {
    DeliveryState.SUCCEEDED,
    DeliveryState.FAILED,
    DeliveryState.UNCONFIRMED,
    DeliveryState.ABANDONED,
    DeliveryState.SUPERSEDED,
    # No worker ever sends it again; a person puts it up and `syndicate attest` records
    # that. Waiting for a person is the normal course, not a problem.
    DeliveryState.AWAITING_ATTESTATION,
    DeliveryState.ATTESTED,
}
_PROBLEMS = {DeliveryState.FAILED, DeliveryState.UNCONFIRMED, DeliveryState.ABANDONED}


class Delivery(Aggregate):
    """One item version on one outlet. Planned by the planner; moved on by workers."""

    TOPIC = "syndicate.Delivery"

    class Event(Aggregate.Event):
        """Base of a delivery's events."""

        def apply(self, aggregate: Any) -> None:
            delivery: Delivery = aggregate
            delivery.on(self)

    class Planned(Event, CanInitAggregate[UUID]):
        """The planner decided the item version goes to the outlet, as `operation`."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Planned"
        originator_topic: str
        item_id: UUID
        item_version: int
        outlet: str
        operation: str
        position: int  # position of the item event in the items log

    class Claimed(Event):
        """A worker took the delivery for one attempt, until `expires_at`."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Claimed"
        worker: str
        attempt: int
        expires_at: datetime

    class Released(Event):
        """A worker gave the claim back without sending (e.g. shutting down)."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Released"
        worker: str
        attempt: int

    class Succeeded(Event):
        """The outlet took the rendition."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Succeeded"
        worker: str
        attempt: int
        rendition_sha256: str
        receipt: dict[str, str]

    class Failed(Event):
        """An attempt failed; `retry_at` is None when retrying cannot help."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Failed"
        worker: str
        attempt: int
        error_class: str
        code: str | None
        message: str
        retry_at: datetime | None
        rendition_sha256: str | None

    class Unconfirmed(Event):
        """The outcome is unknown and the channel cannot deduplicate: not resent."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Unconfirmed"
        worker: str
        attempt: int
        message: str
        rendition_sha256: str | None

    class Abandoned(Event):
        """Given up: older than the maximum age, or as decided by an operator."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Abandoned"
        reason: str

    class Superseded(Event):
        """A newer version replaces this one on an outlet that shows only the latest."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Superseded"
        by_version: int

    class RetryRequested(Event):
        """An operator asked for another attempt (`syndicate retry`)."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.RetryRequested"
        actor: str

    class Resolved(Event):
        """An operator settled an unconfirmed delivery (`syndicate resolve`)."""

        TOPIC: ClassVar[str] = "syndicate.Delivery.Resolved"
        actor: str
        sent: bool

    class AwaitingAttestation(Event):
        """The outlet took the rendition, and a person must now put it up.

        Recorded instead of `Succeeded` on outlets whose capabilities say
        `needs_attestation` (a notice board: the sheet is in the print folder).
        """

        TOPIC: ClassVar[str] = "syndicate.Delivery.AwaitingAttestation"
        worker: str
        attempt: int
        rendition_sha256: str
        receipt: dict[str, str]

    class Submitted(Event):
        """The outlet accepted the rendition and will say later whether it is up.

        Recorded instead of `Succeeded` on outlets whose capabilities say
        `confirms_async`, and again after each check that finds it still pending (or
        could not ask: then `message` says why). Due again at `check_at`.
        """

        TOPIC: ClassVar[str] = "syndicate.Delivery.Submitted"
        worker: str
        attempt: int
        rendition_sha256: str
        receipt: dict[str, str]
        check_at: datetime
        message: str | None = None

    class Attested(Event):
        """A person put the rendition up; an operator recorded it (`syndicate attest`).

        `by` posted it at `posted_at`; `actor` recorded it (the event's timestamp). The
        photo, if any, is kept content-addressed under the data directory: the event
        holds only its sha256 and plain file name, never its bytes or a path.
        """

        TOPIC: ClassVar[str] = "syndicate.Delivery.Attested"
        actor: str
        by: str
        posted_at: AwareDatetime
        photo_sha256: str | None
        photo_name: str | None
        note: str | None

    class Reminded(Event):
        """The person who puts the rendition up was reminded that it still waits
        (outlets that `Reminds`: a 网格员 who forwards to a village group).

        `number`: the reminder's number for this delivery (1 for the first); `ok`:
        whether the reminder reached them (`message` says why not). A worker records
        the reminder before sending it (so two workers never both send it); one that
        then failed is recorded again, with the same number, `ok` false and the
        reason. The state does not change: the delivery still awaits attestation.
        """

        TOPIC: ClassVar[str] = "syndicate.Delivery.Reminded"
        worker: str
        number: int
        ok: bool
        message: str | None = None

    class Repaired(Event):
        """An operator rewrote files of the outlet from the log (`syndicate repair`).

        Recorded on the delivery whose rendition accounts for the files: an item's own
        files (its page, its attachments, its document) on that item's newest done
        delivery, the outlet's shared files (lists, feeds, checkpoints) on its newest
        done delivery. `rewritten`: relative path → sha256 of the bytes written back;
        `removed`: extra files deleted (paths printable, as `audit consistency` shows
        them). The delivery's state does not change: it was done, and is again.
        """

        TOPIC: ClassVar[str] = "syndicate.Delivery.Repaired"
        actor: str
        rewritten: dict[str, str]
        removed: list[str]

    if TYPE_CHECKING:
        item_id: UUID
        item_version: int
        outlet: str
        operation: str
        position: int
        planned_at: datetime
        state: DeliveryState
        attempt: int
        due_at: datetime
        claimed_by: str | None
        claim_expires_at: datetime | None
        last_error: str | None
        rendition_sha256: str | None
        receipt: dict[str, str] | None
        delivered_at: datetime | None
        attestation: Delivery.Attested | None
        # The newest failed attempt (its error class, code and message), until the
        # delivery is planned again; None if no attempt failed.
        last_failure: Delivery.Failed | None
        # The receipt of the last `Submitted` while the outlet has not confirmed it
        # (None otherwise), and how many times it was recorded (the check schedule).
        submitted: dict[str, str] | None
        checks: int
        # Reminders sent to the person who puts it up, and the last one's time.
        reminders: int
        reminded_at: datetime | None

    def on(self, event: Delivery.Event) -> None:
        """Apply an event to the state (the one place state changes)."""
        if getattr(self, "state", None) is DeliveryState.ATTESTED and isinstance(
            event, _WORKER_EVENTS
        ):
            # An attestation is final: a late worker's record (an expired claim that
            # finished after another worker and the operator) changes nothing.
            return
        if isinstance(event, Delivery.Planned):
            self.item_id = event.item_id
            self.item_version = event.item_version
            self.outlet = event.outlet
            self.operation = event.operation
            self.position = event.position
            self.planned_at = event.timestamp
            self.state = DeliveryState.PLANNED
            self.attempt = 0
            self.due_at = event.timestamp
            self.claimed_by = None
            self.claim_expires_at = None
            self.last_error = None
            self.rendition_sha256 = None
            self.receipt = None
            self.delivered_at = None
            self.attestation = None
            self.last_failure = None
            self.submitted = None
            self.checks = 0
            self.reminders = 0
            self.reminded_at = None
        elif isinstance(event, Delivery.Claimed):
            self.state = DeliveryState.CLAIMED
            self.attempt = event.attempt
            self.claimed_by = event.worker
            self.claim_expires_at = event.expires_at
        elif isinstance(event, Delivery.Released):
            # A check given back leaves the delivery submitted; a send, planned.
            pending = getattr(self, "submitted", None) is not None
            self.state = DeliveryState.SUBMITTED if pending else DeliveryState.PLANNED
            self.attempt = event.attempt - 1  # given back unsent: not an attempt
            self.due_at = event.timestamp
            self.claimed_by = self.claim_expires_at = None
        elif isinstance(event, Delivery.Submitted):
            self.state = DeliveryState.SUBMITTED
            self.rendition_sha256 = event.rendition_sha256
            self.claimed_by = self.claim_expires_at = None
            self.receipt = dict(event.receipt)
            self.submitted = dict(event.receipt)
            self.checks = getattr(self, "checks", 0) + 1
            self.due_at = event.check_at
            if event.message is not None:
                self.last_error = event.message
        elif isinstance(event, Delivery.Succeeded):
            self.submitted = None
            self.state = DeliveryState.SUCCEEDED
            self.rendition_sha256 = event.rendition_sha256
            self.claimed_by = self.claim_expires_at = None
            self.receipt = dict(event.receipt)
            self.delivered_at = event.timestamp
        elif isinstance(event, Delivery.AwaitingAttestation):
            self.state = DeliveryState.AWAITING_ATTESTATION
            self.rendition_sha256 = event.rendition_sha256
            self.claimed_by = self.claim_expires_at = None
            self.receipt = dict(event.receipt)
            self.delivered_at = event.timestamp
        elif isinstance(event, Delivery.Attested):
            self.state = DeliveryState.ATTESTED
            self.attestation = event
        elif isinstance(event, Delivery.Reminded):
            # A reminder that failed after it was recorded is recorded again with the
            # same number: it counts once.
            self.reminders = max(getattr(self, "reminders", 0), event.number)
            self.reminded_at = event.timestamp
        elif isinstance(event, Delivery.Failed):
            self.submitted = None
            self.last_error = f"{event.error_class}: {event.message}"
            self.last_failure = event
            self.rendition_sha256 = event.rendition_sha256
            self.claimed_by = self.claim_expires_at = None
            if event.retry_at is None:
                self.state = DeliveryState.FAILED
            else:
                self.state = DeliveryState.RETRYING
                self.due_at = event.retry_at
        elif isinstance(event, Delivery.Unconfirmed):
            self.submitted = None
            self.state = DeliveryState.UNCONFIRMED
            self.last_error = event.message
            self.rendition_sha256 = event.rendition_sha256
            self.claimed_by = self.claim_expires_at = None
        elif isinstance(event, Delivery.Abandoned):
            self.submitted = None
            self.state = DeliveryState.ABANDONED
            self.last_error = event.reason
        elif isinstance(event, Delivery.Superseded):
            self.state = DeliveryState.SUPERSEDED
        elif isinstance(event, Delivery.RetryRequested):
            self.submitted = None
            self.state = DeliveryState.PLANNED
            self.due_at = event.timestamp
            # A retry starts a fresh age window: the operator took responsibility.
            self.planned_at = event.timestamp
        elif isinstance(event, Delivery.Resolved):
            self.submitted = None
            self.state = (
                DeliveryState.SUCCEEDED if event.sent else DeliveryState.PLANNED
            )
            self.due_at = event.timestamp
            if not event.sent:
                self.planned_at = event.timestamp

    # -- commands ------------------------------------------------------------------------

    @classmethod
    def plan(
        cls,
        *,
        item_id: UUID,
        item_version: int,
        outlet: str,
        operation: str,
        position: int,
        at: datetime,
    ) -> Delivery:
        """A new delivery (pending its Planned event)."""
        return cls._create(
            cls.Planned,
            id=delivery_id(item_id, item_version, outlet),
            timestamp=at,
            item_id=item_id,
            item_version=item_version,
            outlet=outlet,
            operation=operation,
            position=position,
        )

    @property
    def due_from(self) -> datetime | None:
        """From when a worker may claim it (None: not until something else happens,
        such as an operator's retry). The deliveries read model keeps it as a column."""
        if self.state in (
            DeliveryState.PLANNED,
            DeliveryState.RETRYING,
            DeliveryState.SUBMITTED,
        ):
            return self.due_at
        if self.state is DeliveryState.CLAIMED:
            return self.claim_expires_at
        return None

    def is_due(self, now: datetime) -> bool:
        """A worker may claim it now."""
        due = self.due_from
        return due is not None and due <= now

    def claim(self, *, worker: str, at: datetime, expires_at: datetime) -> None:
        """Take the delivery for one attempt."""
        if not self.is_due(at):
            raise ValueError(f"delivery {self.id} is {self.state}, not due")
        attempt = self.attempt + 1
        self.trigger_event(
            self.Claimed,
            timestamp=at,
            worker=worker,
            attempt=attempt,
            expires_at=expires_at,
        )

    def record(
        self, event_class: type[Delivery.Event], *, at: datetime, **fields: Any
    ) -> None:
        """Append an outcome or operator event."""
        self.trigger_event(event_class, timestamp=at, **fields)

    @property
    def confirming(self) -> bool:
        """The outlet took the rendition; what is left is asking whether it is up."""
        return getattr(self, "submitted", None) is not None

    def remind(
        self, *, worker: str, at: datetime, ok: bool, message: str | None
    ) -> None:
        """Record a reminder to the person who puts the rendition up (numbered)."""
        if self.state is not DeliveryState.AWAITING_ATTESTATION:
            raise ValueError(
                f"delivery {self.id} is {self.state}, not awaiting attestation"
            )
        self.trigger_event(
            self.Reminded,
            timestamp=at,
            worker=worker,
            number=getattr(self, "reminders", 0) + 1,
            ok=ok,
            message=None if message is None else message[:500],
        )

    def earliest_posting(self) -> datetime | None:
        """The earliest posting time `attest` accepts (the rendition's time, less skew)."""
        if self.delivered_at is None:
            return None
        return self.delivered_at - _CLOCK_SKEW

    def attest(
        self,
        *,
        actor: str,
        by: str,
        posted_at: datetime,
        at: datetime,
        photo_sha256: str | None = None,
        photo_name: str | None = None,
        note: str | None = None,
    ) -> None:
        """Record that `by` put the rendition up at `posted_at` (once, and only then).

        Raises `ValueError` unless the delivery awaits attestation, `posted_at` lies
        between the delivery and `at`, and the names are non-empty single lines.
        """
        if self.state is not DeliveryState.AWAITING_ATTESTATION:
            raise ValueError(
                f"delivery {self.id} is {self.state}, not awaiting attestation"
            )
        for name, value in (("actor", actor), ("by", by)):
            if not value.strip() or _CONTROL.search(value):
                raise ValueError(f"{name} must be a non-empty single line")
        if posted_at.tzinfo is None:
            raise ValueError("posted_at must be timezone-aware")
        earliest = self.earliest_posting()
        if earliest is not None and posted_at < earliest:
            raise ValueError("posted_at is before the rendition was produced")
        if posted_at > at:
            raise ValueError("posted_at is in the future")
        if photo_sha256 is not None and not _SHA256.fullmatch(photo_sha256):
            raise ValueError("photo_sha256 must be 64 lowercase hex digits")
        if photo_name is not None and (
            not photo_name or "/" in photo_name or "\\" in photo_name
        ):
            raise ValueError("photo_name must be a plain file name")
        self.trigger_event(
            self.Attested,
            timestamp=at,
            actor=actor,
            by=by,
            posted_at=posted_at,
            photo_sha256=photo_sha256,
            photo_name=photo_name,
            note=note,
        )


_WORKER_EVENTS = (
    Delivery.Claimed,
    Delivery.Released,
    Delivery.Succeeded,
    Delivery.AwaitingAttestation,
    Delivery.Submitted,
    Delivery.Failed,
    Delivery.Unconfirmed,
    Delivery.Abandoned,
    Delivery.Superseded,
)
