"""Where signed checkpoints are recorded: the `Audit` application, one aggregate each.

A checkpoint is recorded as the created event of its own aggregate, whose id is derived
from its number, so two processes that checkpoint at once cannot both record number k:
the second one's save fails and it starts again from the new latest checkpoint. The
store is separate from the two logs the Merkle tree covers (SQLite: `data/audit.db`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import CanInitAggregate
from eventsourcing.utils import get_topic

from syndicate.domain.base import Aggregate
from syndicate.persistence import ConfiguredEnvironment, JSONTranscoder, PydanticMapper

__all__ = ["AUDIT_NAMESPACE", "AuditStore", "CheckpointRecord", "RecordedCheckpoint"]

AUDIT_NAMESPACE = UUID("6c1b8f0e-2d7a-5e43-9a1f-0b5d3c2e7f81")
_PAGE = 200


class RecordedCheckpoint(Aggregate):
    """One signed checkpoint of the audit log."""

    TOPIC = "syndicate.Checkpoint"

    class Event(Aggregate.Event):
        """Base of a checkpoint's events."""

        def apply(self, aggregate: Any) -> None:
            """Checkpoints never change after they are made."""

    class Made(Event, CanInitAggregate[UUID]):
        """A checkpoint was signed and recorded.

        `segment` is the leaf hashes added since the previous checkpoint (base64 of the
        32-byte hashes, concatenated), kept so that `verify` can name the first leaf that
        changed; `peaks` (hex) let the next checkpoint continue the tree without reading
        the log again. Neither is trusted by `verify` unless it reproduces the signed roots.
        """

        TOPIC: ClassVar[str] = "syndicate.Checkpoint.Made"
        originator_topic: str
        number: int
        origin: str
        size: int
        root: str
        items_position: int
        deliveries_position: int
        segment: str
        peaks: list[str]
        note: str
        public_key: str
        trigger: str
        actor: str

    @staticmethod
    def id_for(number: int) -> UUID:
        """The deterministic aggregate id of checkpoint `number`."""
        return uuid5(AUDIT_NAMESPACE, f"checkpoint:{number}")


@dataclass(frozen=True)
class CheckpointRecord:
    """A recorded checkpoint, as read back (or as read from an export)."""

    number: int
    origin: str
    size: int
    root: bytes
    items_position: int
    deliveries_position: int
    segment: bytes
    peaks: tuple[bytes, ...]
    note: str
    public_key: str
    trigger: str
    actor: str
    at: datetime

    def as_json(self) -> dict[str, object]:
        """The record as one line of `checkpoints.jsonl` in an export."""
        return {
            "number": self.number,
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "items_position": self.items_position,
            "deliveries_position": self.deliveries_position,
            "segment": base64.b64encode(self.segment).decode("ascii"),
            "peaks": [p.hex() for p in self.peaks],
            "note": self.note,
            "public_key": self.public_key,
            "trigger": self.trigger,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CheckpointRecord:
        """Read one `checkpoints.jsonl` line (ValueError/KeyError/TypeError if malformed)."""
        return cls(
            number=int(doc["number"]),
            origin=str(doc["origin"]),
            size=int(doc["size"]),
            root=bytes.fromhex(str(doc["root"])),
            items_position=int(doc["items_position"]),
            deliveries_position=int(doc["deliveries_position"]),
            segment=base64.b64decode(str(doc["segment"]), validate=True),
            peaks=tuple(bytes.fromhex(str(p)) for p in doc["peaks"]),
            note=str(doc["note"]),
            public_key=str(doc["public_key"]),
            trigger=str(doc["trigger"]),
            actor=str(doc["actor"]),
            at=datetime.fromisoformat(str(doc["at"])),
        )

    @classmethod
    def of(cls, event: RecordedCheckpoint.Made) -> CheckpointRecord:
        return cls(
            number=event.number,
            origin=event.origin,
            size=event.size,
            root=bytes.fromhex(event.root),
            items_position=event.items_position,
            deliveries_position=event.deliveries_position,
            segment=base64.b64decode(event.segment),
            peaks=tuple(bytes.fromhex(p) for p in event.peaks),
            note=event.note,
            public_key=event.public_key,
            trigger=event.trigger,
            actor=event.actor,
            at=event.timestamp,
        )


class AuditStore(ConfiguredEnvironment, Application[UUID]):
    """Recorded checkpoints, in the order they were made."""

    name = "Audit"
    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": get_topic(JSONTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }

    def checkpoints(self) -> Iterator[CheckpointRecord]:
        """Every recorded checkpoint, oldest first, read in pages."""
        start = 0
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=_PAGE, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, RecordedCheckpoint.Made):
                    yield CheckpointRecord.of(event)
            start = page[-1].id

    def latest(self) -> CheckpointRecord | None:
        """The newest recorded checkpoint, if any."""
        top = self.recorder.max_notification_id()
        if not top:
            return None
        page = self.recorder.select_notifications(start=top, limit=1)
        event = self.mapper.to_domain_event(page[0])
        return CheckpointRecord.of(cast(RecordedCheckpoint.Made, event))

    def record(self, **fields: Any) -> CheckpointRecord:
        """Record checkpoint `fields["number"]`; IntegrityError if it exists already."""
        made = RecordedCheckpoint._create(
            RecordedCheckpoint.Made,
            id=RecordedCheckpoint.id_for(int(fields["number"])),
            **fields,
        )
        event = cast(RecordedCheckpoint.Made, made.pending_events[0])
        self.save(made)
        return CheckpointRecord.of(event)
