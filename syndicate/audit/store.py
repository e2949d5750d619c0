"""Where signed checkpoints are recorded: the `Audit` application, one aggregate each.

A checkpoint is recorded as the created event of its own aggregate, whose id is derived
from its number, so two processes that checkpoint at once cannot both record number k:
the second one's save fails and it starts again from the new latest checkpoint. The
store is separate from the two logs the Merkle tree covers (SQLite: `data/audit.db`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, cast
from uuid import UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import CanInitAggregate
from eventsourcing.utils import get_topic

from syndicate.domain.base import Aggregate
from syndicate.errors import StoreError
from syndicate.persistence import ConfiguredEnvironment, JSONTranscoder, PydanticMapper

__all__ = [
    "AUDIT_NAMESPACE",
    "AuditStore",
    "CheckpointRecord",
    "RecordedCheckpoint",
    "strict_base64",
    "strict_hex",
    "strict_int",
    "strict_list",
    "strict_str",
]

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
    # Why this record could not be read (a row of the checkpoint store that is not a
    # checkpoint syndicate wrote); "" for every record that reads.
    problem: str = ""

    @classmethod
    def unreadable(cls, problem: str) -> CheckpointRecord:
        """A stand-in for a stored row that is not a readable checkpoint: `verify`
        reports `problem` and trusts nothing else about it."""
        return cls(
            number=-1,
            origin="",
            size=-1,
            root=b"",
            items_position=-1,
            deliveries_position=-1,
            segment=b"",
            peaks=(),
            note="",
            public_key="",
            trigger="",
            actor="",
            at=datetime.min.replace(tzinfo=UTC),
            problem=problem,
        )

    def as_json(self) -> dict[str, object]:
        """The record as one line of `checkpoints.jsonl` in an export."""
        if self.problem:
            return {"number": None, "note": "", "problem": self.problem}
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
        """Read one `checkpoints.jsonl` line strictly (ValueError/KeyError/TypeError
        if malformed; see `strict_int`, `strict_hex`, `strict_base64`)."""
        return cls(
            number=strict_int(doc["number"]),
            origin=strict_str(doc["origin"]),
            size=strict_int(doc["size"]),
            root=strict_hex(doc["root"]),
            items_position=strict_int(doc["items_position"]),
            deliveries_position=strict_int(doc["deliveries_position"]),
            segment=strict_base64(doc["segment"]),
            peaks=tuple(strict_hex(p) for p in strict_list(doc["peaks"])),
            note=strict_str(doc["note"]),
            public_key=strict_str(doc["public_key"]),
            trigger=strict_str(doc["trigger"]),
            actor=strict_str(doc["actor"]),
            at=datetime.fromisoformat(strict_str(doc["at"])),
        )

    @classmethod
    def of(cls, event: RecordedCheckpoint.Made) -> CheckpointRecord:
        return cls(
            number=event.number,
            origin=event.origin,
            size=event.size,
            root=_or(strict_hex, event.root, b""),
            items_position=event.items_position,
            deliveries_position=event.deliveries_position,
            segment=_or(strict_base64, event.segment, b"\0"),
            peaks=tuple(_or(strict_hex, p, b"") for p in event.peaks),
            note=event.note,
            public_key=event.public_key,
            trigger=event.trigger,
            actor=event.actor,
            at=event.timestamp,
        )


# -- strict field formats: one value, one spelling ----------------------------------------
#
# The unsigned fields of a record are checked against its signed note; a spelling the
# library never writes (upper-case hex, a number as a string, base64 that is not
# canonical) gets a value no note can match, so it is a finding rather than accepted.

_HEX32 = re.compile(r"[0-9a-f]{64}")


def strict_int(value: object) -> int:
    """A JSON integer (not a boolean, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def strict_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def strict_list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{value!r} is not a list")
    return value


def strict_hex(value: object) -> bytes:
    """A 32-byte hash as 64 lower-case hex digits."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise ValueError("not 64 lower-case hex digits")
    return bytes.fromhex(value)


def strict_base64(value: object) -> bytes:
    """Whole 32-byte hashes as canonical standard base64 (padded, no line breaks)."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None
    if base64.b64encode(data).decode("ascii") != value or len(data) % 32:
        raise ValueError("not canonical base64 of whole 32-byte hashes")
    return data


def _or(parse: Callable[[object], bytes], value: object, spoilt: bytes) -> bytes:
    try:
        return parse(value)
    except (TypeError, ValueError):
        return spoilt


class AuditStore(ConfiguredEnvironment, Application[UUID]):
    """Recorded checkpoints, in the order they were made."""

    name = "Audit"
    env: ClassVar[dict[str, str]] = {
        "TRANSCODER_TOPIC": get_topic(JSONTranscoder),
        "MAPPER_TOPIC": get_topic(PydanticMapper),
    }

    def checkpoints(self) -> Iterator[CheckpointRecord]:
        """Every recorded checkpoint, oldest first, read in pages. A stored row that
        is not a readable checkpoint (edited outside syndicate), or that lies where
        the store is never read (position 0 or below), comes as
        `CheckpointRecord.unreadable` saying why, first the latter, then in order."""
        rows_outside = getattr(self.recorder, "rows_outside", None)
        if callable(rows_outside):
            for row in rows_outside():
                yield CheckpointRecord.unreadable(row.describe())
        start = 0
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=_PAGE, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                yield self._read(notification)
            start = page[-1].id

    def _read(self, notification: Any) -> CheckpointRecord:
        where = f"checkpoint store position {notification.id}"
        try:
            event = self.mapper.to_domain_event(notification)
            if not isinstance(event, RecordedCheckpoint.Made):
                raise TypeError(f"a {notification.topic} event, not a checkpoint")
            return CheckpointRecord.of(event)
        except Exception as exc:  # any edit of a row is a finding, not a traceback
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return CheckpointRecord.unreadable(
                f"{where} is not a readable checkpoint record ({reason[:200]}): "
                "the checkpoint store was edited outside syndicate"
            )

    def latest(self) -> CheckpointRecord | None:
        """The newest recorded checkpoint, if any; StoreError if it cannot be read
        (nothing can be signed on top of it)."""
        top = self.recorder.max_notification_id()
        if not top:
            return None
        page = self.recorder.select_notifications(start=top, limit=1)
        record = self._read(page[0])
        if record.problem:
            raise StoreError(
                f"{record.problem}; no checkpoint can follow it (run `syndicate audit "
                "verify`)"
            )
        return record

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
