"""The trail of one item: every event about it in both logs, in time order.

Items-log events (published, revised, withdrawn; under 先审后发 drafted, submitted,
approved, returned, released, urgently released, approved afterwards) and the events of
every delivery of the item to any outlet (planned, claimed, succeeded, failed, attested
…) become `TrailRow`s. They are sorted by time; at equal times the items log comes
first, then log position.

Review events carry the content hash they are about (`content_sha256`: the version
submitted, approved at a level, returned, released) and a `detail`: the levels a
submission goes through and its reason, the level and the reviewer's comment of an
approval or a return, what a release made public (and the items released with it), an
urgent release's reason and the time its approval afterwards is due.

The deliveries log is read once, in pages, and only the item's deliveries are kept: a
delivery belongs to the item when its `Planned` event names it, and every later event of
that delivery follows its `Planned` in the log. Only those events are decoded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Notification

from syndicate.application import CHINA_TZ, Disclosures
from syndicate.audit.facts import delivery_events, notifications, plain_state
from syndicate.domain.deliveries import Delivery
from syndicate.domain.items import DisclosureItem
from syndicate.domain.review import ProposalKind
from syndicate.planning import Deliveries

__all__ = [
    "TRAIL_FIELDS",
    "TrailRow",
    "compact_receipt",
    "delivery_row",
    "item_rows",
    "safe_csv",
    "spreadsheet_safe",
    "trail",
    "trail_csv",
]

ITEMS_LOG = "items"
DELIVERIES_LOG = "deliveries"


@dataclass(frozen=True)
class TrailRow:
    """One event about an item, from either log."""

    at: datetime
    log: str  # "items" or "deliveries"
    position: int  # in that log
    event: str  # the event class name: Published, Planned, Succeeded, …
    actor: str | None
    version: int  # the item version it is about
    outlet: str | None = None
    delivery_id: UUID | None = None
    attempt: int | None = None
    receipt: Mapping[str, str] | None = None
    content_sha256: str | None = None  # item events
    rendition_sha256: str | None = None  # delivery events that carry one
    detail: str | None = None  # operation, reason, error, who posted …

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        """Time, then the items log before the deliveries log, then position."""
        return self.at, 0 if self.log == ITEMS_LOG else 1, self.position

    def as_json(self) -> dict[str, Any]:
        """The object `audit trail --json` prints for this row: the `TRAIL_FIELDS`, the
        time in ISO 8601 with +08:00."""
        return {
            "time": self.at.astimezone(CHINA_TZ).isoformat(),
            "log": self.log,
            "position": self.position,
            "event": self.event,
            "actor": self.actor,
            "version": self.version,
            "outlet": self.outlet,
            "delivery_id": str(self.delivery_id) if self.delivery_id else None,
            "attempt": self.attempt,
            "receipt": dict(self.receipt) if self.receipt is not None else None,
            "content_sha256": self.content_sha256,
            "rendition_sha256": self.rendition_sha256,
            "detail": self.detail,
        }


# The columns of a trail as JSON keys and CSV header, in order.
TRAIL_FIELDS = (
    "time",
    "log",
    "position",
    "event",
    "actor",
    "version",
    "outlet",
    "delivery_id",
    "attempt",
    "receipt",
    "content_sha256",
    "rendition_sha256",
    "detail",
)


def spreadsheet_safe(value: Any) -> Any:
    """A cell a spreadsheet would take for a formula (= + - @), prefixed with '."""
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def safe_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text: `header`, then `rows`, every cell a spreadsheet would take for a
    formula prefixed with ' (`spreadsheet_safe`), LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def trail_csv(rows: Iterable[TrailRow]) -> str:
    """The trail as CSV: a `TRAIL_FIELDS` header row, then one line per row (receipts
    on one line, empty cells for None, cells a spreadsheet would take for a formula
    prefixed with ')."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRAIL_FIELDS)
    for row in rows:
        data = row.as_json()
        data["receipt"] = compact_receipt(row.receipt)
        writer.writerow(
            ["" if data[k] is None else spreadsheet_safe(data[k]) for k in TRAIL_FIELDS]
        )
    return buffer.getvalue()


def compact_receipt(receipt: Mapping[str, str] | None) -> str:
    """`remote_id=… k=v …`: a receipt on one line (receipts never hold secrets)."""
    if not receipt:
        return ""
    keys = sorted(receipt, key=lambda k: (k != "remote_id", k))
    return " ".join(f"{k}={receipt[k]}" for k in keys)


def _iso(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def _actor(event: Delivery.Event) -> str | None:
    if isinstance(event, Delivery.Planned):
        return "planner"
    if isinstance(event, Delivery.Attested):
        return event.by  # who put the sheet up; `actor` recorded it (in `detail`)
    for name in ("worker", "actor"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            return value
    return None


def _detail(event: Delivery.Event) -> str | None:
    if isinstance(event, Delivery.Planned):
        return f"operation={event.operation} item_position={event.position}"
    if isinstance(event, Delivery.Claimed):
        return f"until {_iso(event.expires_at)}"
    if isinstance(event, Delivery.Failed):
        code = f" [{event.code}]" if event.code else ""
        retry = f"; retry at {_iso(event.retry_at)}" if event.retry_at else "; final"
        return f"{event.error_class}{code}: {event.message}{retry}"
    if isinstance(event, Delivery.Unconfirmed):
        return event.message
    if isinstance(event, Delivery.Abandoned):
        return event.reason
    if isinstance(event, Delivery.Superseded):
        return f"by v{event.by_version}"
    if isinstance(event, Delivery.Resolved):
        return "sent" if event.sent else "not sent"
    if isinstance(event, Delivery.Submitted):
        text = f"check at {_iso(event.check_at)}"
        return f"{text}; {event.message}" if event.message else text
    if isinstance(event, Delivery.Repaired):
        parts = []
        if event.rewritten:
            parts.append(f"rewrote {', '.join(sorted(event.rewritten))}")
        if event.removed:
            parts.append(f"deleted extra {', '.join(event.removed)}")
        return "; ".join(parts) or None
    if isinstance(event, Delivery.Reminded):
        if event.ok:
            return f"reminder {event.number} (recorded as it was sent)"
        return f"reminder {event.number} failed: {event.message}"
    if isinstance(event, Delivery.Attested):
        parts = [
            f"posted at {_iso(event.posted_at)}",
            f"recorded by {event.actor}",
        ]
        if event.photo_sha256:
            parts.append(f"photo sha256={event.photo_sha256}")
        if event.note:
            parts.append(event.note)
        return "; ".join(parts)
    return None


def delivery_row(
    position: int, event: Delivery.Event, planned: Delivery.Planned
) -> TrailRow:
    """A delivery event as a trail row; `planned` is its delivery's first event."""
    receipt = getattr(event, "receipt", None)
    attempt = getattr(event, "attempt", None)
    sha = getattr(event, "rendition_sha256", None)
    return TrailRow(
        at=event.timestamp,
        log=DELIVERIES_LOG,
        position=position,
        event=type(event).__name__,
        actor=_actor(event),
        version=planned.item_version,
        outlet=planned.outlet,
        delivery_id=event.originator_id,
        attempt=attempt if isinstance(attempt, int) else None,
        receipt=dict(receipt) if isinstance(receipt, Mapping) else None,
        rendition_sha256=sha if isinstance(sha, str) else None,
        detail=_detail(event),
    )


# How a trail names what a version under review proposes.
_PROPOSAL = {
    ProposalKind.PUBLISH: "publication",
    ProposalKind.REVISE: "revision",
    ProposalKind.WITHDRAW: "withdrawal",
}


class _ItemDetails:
    """The digest and detail of each of one item's events, read in order (a release
    says what it released: the item's last submission)."""

    def __init__(self, items: Disclosures) -> None:
        self.items = items
        self.proposal: tuple[ProposalKind, tuple[str, ...]] | None = None
        self.due: datetime | None = None

    def digest(self, event: DisclosureItem.Event) -> str | None:
        if isinstance(event, DisclosureItem.Withdrawn):
            return None
        value = getattr(event, "content_hash", None)
        return value if isinstance(value, str) else None

    def detail(self, event: DisclosureItem.Event) -> str | None:
        if isinstance(event, DisclosureItem.Revised | DisclosureItem.Withdrawn):
            return event.reason
        if isinstance(event, DisclosureItem.Drafted):
            return "stored for review; not public"
        if isinstance(event, DisclosureItem.Submitted):
            self.proposal = (event.kind, event.levels)
            text = (
                f"{_PROPOSAL[event.kind]} submitted for review at "
                f"{' → '.join(event.levels)}"
            )
            return f"{text}; reason: {event.reason}" if event.reason else text
        if isinstance(event, DisclosureItem.Approved):
            return _with_comment(f"approved at level {event.level}", event.comment)
        if isinstance(event, DisclosureItem.Returned):
            return f"returned to the author at level {event.level}: {event.comment}"
        if isinstance(event, DisclosureItem.Released):
            return self._released(event)
        if isinstance(event, DisclosureItem.UrgentlyReleased):
            what = _PROPOSAL[self.proposal[0]] if self.proposal else "version"
            levels = " → ".join(self.proposal[1]) if self.proposal else "every level"
            self.proposal, self.due = None, event.due
            return (
                f"{what} released urgently, without review: {event.reason}; to be "
                f"approved afterwards at {levels} by {_iso(event.due)}"
            )
        if isinstance(event, DisclosureItem.Erased):
            return (
                f"personal data erased: {event.reason}; the key of "
                f"{'; '.join(event.parts)} was destroyed (the sealed blobs stay)"
            )
        if isinstance(event, DisclosureItem.GuardOverridden):
            allowed = " and ".join(
                what
                for what, on in (
                    ("personal information", event.personal_information),
                    ("wording", event.wording),
                )
                if on
            )
            return (
                f"the guard's findings ({allowed}) accepted on the basis "
                f"{event.basis!r}: " + "; ".join(event.findings)
            )
        if isinstance(event, DisclosureItem.ReleaseScheduled):
            text = f"release scheduled for {_iso(event.release_at)}"
            return f"{text}: {event.reason}" if event.reason else text
        if isinstance(event, DisclosureItem.ScheduleCancelled):
            return f"scheduled release cancelled: {event.reason}"
        if isinstance(event, DisclosureItem.NoticeExcepted):
            return f"a late or short 公示 accepted: {event.reason}; " + "; ".join(
                event.problems
            )
        if isinstance(event, DisclosureItem.NoticeEnded):
            return (
                f"公示期 (to {event.end.isoformat()}) ended; outlets: {event.after_end}"
                + (", groups notified" if event.notify else "")
            )
        if isinstance(event, DisclosureItem.Repealed):
            text = f"repealed (废止): {event.reason}"
            return text + (
                f"; replaced by {event.replaced_by_ref}"
                if event.replaced_by_ref
                else ""
            )
        if isinstance(event, DisclosureItem.Expired):
            return f"expired (已失效): valid until {event.valid_until.isoformat()}"
        if isinstance(event, DisclosureItem.ApprovedAfterwards):
            text = f"approved afterwards at level {event.level}"
            if self.due is not None and event.timestamp > self.due:
                text += f" (after the due time {_iso(self.due)})"
            return _with_comment(text, event.comment)
        return None

    def _released(self, event: DisclosureItem.Released) -> str:
        if self.proposal is None:
            text = "released"
        else:
            kind, levels = self.proposal
            text = f"{_PROPOSAL[kind]} released, approved at {' → '.join(levels)}"
        self.proposal = None
        if event.bundle:
            others = ", ".join(self._ref(member) for member, _ in event.bundle)
            text += f"; released together with {others}"
        elif event.planned_with is not None:
            text += f"; released together with {self._ref(event.planned_with)}"
        return text

    def _ref(self, item_id: UUID) -> str:
        try:
            return self.items.get(item_id).ref
        except Exception:  # a damaged or missing item: the id still says which one
            return str(item_id)


def _with_comment(text: str, comment: str) -> str:
    return f"{text}: {comment}" if comment else text


def item_rows(items: Disclosures, item_id: UUID) -> list[TrailRow]:
    """The item's own events (items log), in log order, as trail rows."""
    details = _ItemDetails(items)
    rows = []
    for n in notifications(items):
        if n.originator_id != item_id:
            continue
        event = cast(DisclosureItem.Event, items.mapper.to_domain_event(n))
        rows.append(
            TrailRow(
                at=event.timestamp,
                log=ITEMS_LOG,
                position=n.id,
                event=type(event).__name__,
                actor=event.actor,
                version=event.originator_version,
                content_sha256=details.digest(event),
                detail=details.detail(event),
            )
        )
    return rows


def trail(items: Disclosures, deliveries: Deliveries, item_id: UUID) -> list[TrailRow]:
    """Every event about the item in both logs, oldest first (see `TrailRow.sort_key`)."""
    rows = item_rows(items, item_id)
    planned: dict[UUID, Delivery.Planned] = {}
    needle = str(item_id).encode()
    quick = plain_state(deliveries)

    def keep(n: Notification) -> bool:
        if n.originator_id in planned:
            return True
        # A Planned event names its item; a byte search spares decoding the others.
        return n.topic == Delivery.Planned.TOPIC and (not quick or needle in n.state)

    for position, event in delivery_events(deliveries, keep=keep):
        if isinstance(event, Delivery.Planned):
            if event.item_id != item_id:
                continue
            planned[event.originator_id] = event
        first = planned.get(event.originator_id)
        if first is not None:
            rows.append(delivery_row(position, event, first))
    rows.sort(key=lambda r: r.sort_key)
    return rows
