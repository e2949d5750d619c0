"""Replay "as of": what each outlet showed at a moment, rebuilt from the logs alone.

For each outlet and item, the outlet showed the rendition of the item's latest delivery
there that had been put up by then: the latest `Succeeded` event at or before the moment,
or, on outlets a person puts up (notice boards), the latest `Attested` whose posting time
is at or before it. A removal is a delivery like any other: its rendition is a withdrawal
notice (kept) or empty bytes (the item was not shown). On whole-set outlets (feeds, kiosk
bundles) every rendition is the whole set, so only the latest one of the outlet counts.

Each such rendition is rendered again with the outlet's adapter from the job the worker
built for it (`OutletSet.render_again`: the item at the delivery's version, the live set
at its log position, the receipts of earlier versions as they stood when it was
rendered), and its sha256 is compared with the `rendition_sha256` the log recorded.
Renders are pure, so the same bytes come back years later unless the adapter, its
settings or the log changed.

先审后发: only released versions are ever delivered to an outlet that shows items, so
an item never released by the moment is on no such outlet; the items log, read up to the
moment, says which items had a version under review then (`pending_as_of`): replay.json
lists them (`pending_review`) and a shown item with a newer version under review says so
in its manifest entry. A review queue (`review_queue = true`) shows review notices,
which are replayed like any other rendition (operation `review_notice`).

Memory stays bounded however long the log is: the deliveries log is streamed once, and
only the latest state of each (outlet, item) is kept — plus a bounded cache of which
delivery belongs to which (outlet, item), falling back to the store on a miss. Items are
read from the items log per needed (item, version), through the repository. The items
log is streamed once for what was under review, keeping only the items that were.
"""

from __future__ import annotations

import json
import mimetypes
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from syndicate.application import CHINA_TZ, Disclosures
from syndicate.audit.facts import delivery_events, item_events
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.fsutil import write_atomically
from syndicate.outlets import Outlet
from syndicate.outletset import OutletSet
from syndicate.planning import Deliveries
from syndicate.views import ReviewTracker

__all__ = [
    "OutletReplay",
    "PendingReview",
    "ReplaySummary",
    "Replayed",
    "Shown",
    "extension",
    "parse_moment",
    "pending_as_of",
    "replay",
    "shown_as_of",
]

# Deliveries whose (outlet, item) is remembered without asking the store.
_CACHE = 65_536
_TOPICS = (
    Delivery.Planned.TOPIC,
    Delivery.Succeeded.TOPIC,
    Delivery.Attested.TOPIC,
    Delivery.Superseded.TOPIC,
    Delivery.Abandoned.TOPIC,
)
_END_OF_DAY = time(23, 59, 59, 999_999)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment: a date alone is the end of that day in China, a time without
    an offset is China time. `ValueError` if it is neither."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, _END_OF_DAY, tzinfo=CHINA_TZ)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}; expected e.g. 2026-10-09 (the end of that day), "
            "2026-10-09T09:30 (China time) or 2026-10-09T09:30+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    if not 1970 <= moment.year <= 9000:
        raise ValueError(f"{text!r} is not a plausible time")
    return moment


@dataclass(frozen=True)
class Shown:
    """The delivery an outlet showed for an item as of the moment."""

    delivery_id: UUID
    item_id: UUID
    outlet: str
    version: int
    operation: str
    at: datetime  # when it went up: Succeeded's time, or the attested posting time
    position: int  # deliveries-log position of that event
    event_version: int  # its version within the delivery's events
    sha256: str  # rendition_sha256 the log recorded

    @property
    def order(self) -> tuple[datetime, int]:
        """Later put up wins; the log position breaks ties."""
        return self.at, self.position


class _Planned:
    """Which (outlet, item, version, operation) each delivery is: a bounded cache in
    front of the store, so memory does not grow with the log."""

    def __init__(self, deliveries: Deliveries) -> None:
        self.deliveries = deliveries
        self.cache: OrderedDict[UUID, tuple[str, UUID, int, str]] = OrderedDict()

    def remember(self, event: Delivery.Planned) -> None:
        self.cache[event.originator_id] = (
            event.outlet,
            event.item_id,
            event.item_version,
            event.operation,
        )
        if len(self.cache) > _CACHE:
            self.cache.popitem(last=False)

    def forget(self, id_: UUID) -> None:
        """The delivery is settled: no later event will ask about it (or, rarely, one
        does and is answered from the store)."""
        self.cache.pop(id_, None)

    def get(self, id_: UUID) -> tuple[str, UUID, int, str]:
        # Taken out, not just read: a delivery succeeds once, so the cache holds only
        # deliveries still in flight, however long the log.
        found = self.cache.pop(id_, None)
        if found is None:
            first = cast(Delivery, self.deliveries.repository.get(id_, version=1))
            found = (first.outlet, first.item_id, first.item_version, first.operation)
        return found


def shown_as_of(
    deliveries: Deliveries,
    as_of: datetime,
    *,
    outlet: str | None = None,
    on_page: Callable[[int], None] | None = None,
) -> dict[tuple[str, UUID], Shown]:
    """For each (outlet, item), the latest delivery put up at or before `as_of`."""
    planned = _Planned(deliveries)
    shown: dict[tuple[str, UUID], Shown] = {}
    for position, event in delivery_events(deliveries, topics=_TOPICS, on_page=on_page):
        if isinstance(event, Delivery.Planned):
            planned.remember(event)
            continue
        if isinstance(event, Delivery.Superseded | Delivery.Abandoned):
            planned.forget(event.originator_id)
            continue
        candidate: Shown | None = None
        if isinstance(event, Delivery.Succeeded):
            if event.timestamp > as_of:
                continue
            name, item_id, version, operation = planned.get(event.originator_id)
            candidate = Shown(
                delivery_id=event.originator_id,
                item_id=item_id,
                outlet=name,
                version=version,
                operation=operation,
                at=event.timestamp,
                position=position,
                event_version=event.originator_version,
                sha256=event.rendition_sha256,
            )
        elif isinstance(event, Delivery.Attested):
            if event.posted_at > as_of:
                continue
            # The sheet's digest is on its AwaitingAttestation event: read the delivery
            # as it stood when attested (attestations are few: one per posted sheet).
            d = cast(
                Delivery,
                deliveries.repository.get(
                    event.originator_id, version=event.originator_version
                ),
            )
            if d.state is not DeliveryState.ATTESTED or d.rendition_sha256 is None:
                continue
            candidate = Shown(
                delivery_id=d.id,
                item_id=d.item_id,
                outlet=d.outlet,
                version=d.item_version,
                operation=d.operation,
                at=event.posted_at,
                position=position,
                event_version=event.originator_version,
                sha256=d.rendition_sha256,
            )
        if candidate is None or (outlet is not None and candidate.outlet != outlet):
            continue
        key = (candidate.outlet, candidate.item_id)
        current = shown.get(key)
        if current is None or candidate.order >= current.order:
            shown[key] = candidate
    return shown


@dataclass(frozen=True)
class PendingReview:
    """An item with a version under review (or an urgent release awaiting approval
    afterwards) as of the moment. `status`: "pending" (never released by then: on no
    outlet), "published" or "withdrawn" (what outlets showed); `review`: what waited
    (`syndicate.views.ReviewTracker.describe`)."""

    item_id: UUID
    ref: str
    version: int
    status: str
    review: str

    def as_json(self) -> dict[str, Any]:
        """Its entry in replay.json's `pending_review`."""
        return {
            "id": str(self.item_id),
            "ref": self.ref,
            "version": self.version,
            "status": self.status,
            "review": self.review,
        }


def pending_as_of(items: Disclosures, as_of: datetime) -> dict[UUID, PendingReview]:
    """The items that had something under review at `as_of` (the items log read up to
    then, by event time). Only those items are kept while reading, and each is then
    read at its version as of `as_of`."""
    tracker = ReviewTracker()
    waiting: dict[UUID, int] = {}  # item id -> its version as of `as_of`
    for _, event in item_events(items):
        if event.timestamp > as_of:
            continue
        id_ = event.originator_id
        tracker.apply(event)
        if tracker.describe(id_) is None:
            waiting.pop(id_, None)
        else:
            waiting[id_] = event.originator_version
    found = {}
    for id_, version in waiting.items():
        item = items.get(id_, version=version)
        found[id_] = PendingReview(
            id_, item.ref, version, item.status.value, tracker.describe(id_) or ""
        )
    return found


# -- re-rendering ----------------------------------------------------------------------


def _fold(events: Iterable[Any], *, until: datetime | None = None) -> Delivery | None:
    """A delivery from its events, those after `until` left out."""
    delivery: Delivery | None = None
    for event in events:
        if until is not None and event.timestamp > until:
            break
        delivery = cast(Delivery, event.mutate(delivery))
    return delivery


def _as_rendered(
    deliveries: Deliveries, shown: Shown
) -> tuple[Delivery, tuple[dict[str, str], ...]]:
    """The delivery as it stood when put up, and the receipts its job carried.

    The rendition was made in the attempt whose claim preceded it (a later claim that
    only asked an asynchronous outlet for confirmation renders nothing); earlier
    versions' receipts count as they stood at that claim.
    """
    delivery: Delivery | None = None
    rendered_at: datetime | None = None
    for stored in deliveries.events.get(shown.delivery_id, lte=shown.event_version):
        event = cast(Delivery.Event, stored)
        if isinstance(event, Delivery.Claimed) and (
            delivery is None or not delivery.confirming
        ):
            rendered_at = event.timestamp
        delivery = cast(Delivery, event.mutate(delivery))
    if delivery is None:
        raise LookupError(f"delivery {shown.delivery_id} is not in the log")
    until = rendered_at or shown.at
    previous = []
    for version in range(1, delivery.item_version):
        older_id = delivery_id(delivery.item_id, version, delivery.outlet)
        older = _fold(deliveries.events.get(older_id), until=until)
        if older is not None and older.state.done and older.receipt:
            previous.append(dict(older.receipt))
    return delivery, tuple(previous)


_EXTENSIONS = {
    "application/json": "json",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/atom+xml": "xml",
    "application/rss+xml": "xml",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/zip": "zip",
}


def extension(media_type: str) -> str:
    """A file extension for a rendition's media type (`bin` when unknown)."""
    base = media_type.split(";", 1)[0].strip().lower()
    if base in _EXTENSIONS:
        return _EXTENSIONS[base]
    for suffix in ("json", "xml", "zip"):
        if base.endswith(f"+{suffix}"):
            return suffix
    guessed = mimetypes.guess_extension(base)
    return guessed.lstrip(".") if guessed else "bin"


# -- the whole replay ------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """One item on one outlet as of the moment, rendered again (or why not)."""

    shown: Shown
    ref: str
    sha256_rerendered: str | None
    media_type: str | None
    file: str | None  # relative to the outlet's folder; None when nothing was shown
    error: str | None = None
    review: str | None = None  # what of the item was under review at the moment
    # Sealed attachments it showed then whose data was erased since (个人信息删除):
    # the replay names them and shows "[erased]" for what they held.
    erased: tuple[str, ...] = ()

    @property
    def match(self) -> bool:
        """The bytes rendered again have the digest the log recorded."""
        return self.sha256_rerendered == self.shown.sha256

    def as_json(self) -> dict[str, Any]:
        """The manifest entry."""
        s = self.shown
        return {
            "id": str(s.item_id),
            "ref": self.ref,
            "version": s.version,
            "delivery_id": str(s.delivery_id),
            "delivered_at": s.at.astimezone(CHINA_TZ).isoformat(),
            "operation": s.operation,
            "sha256_recorded": s.sha256,
            "sha256_rerendered": self.sha256_rerendered,
            "match": self.match,
            "shown": self.file is not None,
            "file": self.file,
            "media_type": self.media_type,
            **({"error": self.error} if self.error else {}),
            **({"pending_review": self.review} if self.review else {}),
            **(
                {"attachments_erased": dict.fromkeys(self.erased, "[erased]")}
                if self.erased
                else {}
            ),
        }


@dataclass
class OutletReplay:
    """One outlet's part of a replay."""

    name: str
    kind: str | None
    configured: bool
    whole_set: bool
    items: list[Replayed] = field(default_factory=list)
    recorded: list[Shown] = field(default_factory=list)  # outlets not configured
    problem: str | None = None  # why a configured outlet could not be loaded

    @property
    def mismatches(self) -> list[Replayed]:
        """Items whose rendition came back different (or could not be rendered)."""
        return [r for r in self.items if not r.match]

    def as_json(self, refs: Mapping[UUID, str]) -> dict[str, Any]:
        """The outlet's entry in replay.json."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "configured": self.configured,
            "whole_set": self.whole_set,
            "items": len(self.items) if self.configured else len(self.recorded),
            "shown": sum(1 for r in self.items if r.file is not None),
            "mismatches": len(self.mismatches),
        }
        if self.problem:
            data["problem"] = self.problem
        if not self.configured:
            data["recorded"] = [
                {
                    "id": str(s.item_id),
                    "ref": refs.get(s.item_id, str(s.item_id)),
                    "version": s.version,
                    "delivery_id": str(s.delivery_id),
                    "delivered_at": s.at.astimezone(CHINA_TZ).isoformat(),
                    "operation": s.operation,
                    "sha256_recorded": s.sha256,
                }
                for s in self.recorded
            ]
        return data


@dataclass
class ReplaySummary:
    """What a replay found and wrote."""

    as_of: datetime
    outlets: list[OutletReplay]
    files: list[Path]
    refs: dict[UUID, str] = field(default_factory=dict)  # of items on outlets not here
    pending: list[PendingReview] = field(default_factory=list)  # by ref

    @property
    def mismatches(self) -> list[tuple[str, Replayed]]:
        """(outlet, item) pairs whose re-rendered digest differs from the log's."""
        return [(o.name, r) for o in self.outlets for r in o.mismatches]

    def as_json(self) -> dict[str, Any]:
        """replay.json."""
        configured = [o for o in self.outlets if o.configured]
        return {
            "as_of": self.as_of.astimezone(CHINA_TZ).isoformat(),
            "outlets": [o.as_json(self.refs) for o in self.outlets],
            "counts": {
                "outlets": len(self.outlets),
                "configured": len(configured),
                "not_configured": len(self.outlets) - len(configured),
                "items": sum(len(o.items) for o in configured),
                "shown": sum(
                    1 for o in configured for r in o.items if r.file is not None
                ),
                "mismatches": len(self.mismatches),
            },
            "mismatches": [
                {"outlet": name, **r.as_json()} for name, r in self.mismatches
            ],
            "pending_review": [p.as_json() for p in self.pending],
        }


def _ref(items: Disclosures, item_id: UUID, version: int) -> str:
    try:
        return items.get(item_id, version=version).ref
    except Exception:  # a damaged or missing item: the id still says which one
        return str(item_id)


def _render_one(
    items: Disclosures,
    deliveries: Deliveries,
    outlets: OutletSet,
    shown: Shown,
    folder: Path,
    files: list[Path],
) -> Replayed:
    try:
        delivery, previous = _as_rendered(deliveries, shown)
        job, rendition = outlets.render_again(delivery, previous)
    except Exception as exc:  # report it as a mismatch; replay the rest
        return Replayed(
            shown=shown,
            ref=_ref(items, shown.item_id, shown.version),
            sha256_rerendered=None,
            media_type=None,
            file=None,
            error=f"cannot render again: {type(exc).__name__}: {exc}"[:300],
        )
    ref = job.item.ref
    name = None
    if rendition.data:
        name = f"{shown.item_id}-v{shown.version}.{extension(rendition.media_type)}"
        path = folder / name
        write_atomically(path, rendition.data)
        files.append(path)
    return Replayed(
        shown=shown,
        ref=ref,
        sha256_rerendered=rendition.sha256,
        media_type=rendition.media_type,
        file=name,
    )


def _dump(path: Path, data: Any, files: list[Path]) -> None:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    write_atomically(path, text.encode("utf-8"))
    files.append(path)


def _erased_since(
    items: Disclosures, shown: Shown, erasures: dict[UUID, int | None]
) -> tuple[str, ...]:
    """The sealed attachments `shown` carried whose data has been erased since."""
    if shown.item_id not in erasures:
        erasure = items.get(shown.item_id).erasure
        erasures[shown.item_id] = erasure.version if erasure else None
    erased_at = erasures[shown.item_id]
    if erased_at is None or shown.version >= erased_at:
        return ()
    then = items.get(shown.item_id, version=shown.version).content
    return tuple(a.name for a in then.attachments if a.sealed)


def replay(
    items: Disclosures,
    deliveries: Deliveries,
    *,
    as_of: datetime,
    out: Path,
    outlets: Mapping[str, Outlet],
    kinds: Mapping[str, str | None] | None = None,
    problems: Mapping[str, str] | None = None,
    only: str | None = None,
    attachments: Path | None = None,
    on_page: Callable[[int], None] | None = None,
    on_item: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Rebuild what each outlet (or `only` one) showed at `as_of`, into `out`.

    Writes `out/<outlet>/<item id>-v<version>.<ext>` for every non-empty rendition of a
    configured outlet, `out/<outlet>/manifest.json`, and `out/replay.json`. Outlets in
    the log that are not configured here (or do not load: `problems`) are listed in
    replay.json with the digests the log recorded, and get no files. `kinds` names the
    `kind` of configured outlets that did not load.
    """
    kinds = kinds or {}
    problems = problems or {}
    pending = pending_as_of(items, as_of)
    shown = shown_as_of(deliveries, as_of, outlet=only, on_page=on_page)
    names = {o for o, _ in shown} | {n for n in outlets if only is None or n == only}
    by_outlet: dict[str, list[Shown]] = {n: [] for n in names}
    for (name, _), s in shown.items():
        by_outlet[name].append(s)
    files: list[Path] = []
    result: list[OutletReplay] = []
    refs: dict[UUID, str] = {}
    erasures: dict[UUID, int | None] = {}
    readers = OutletSet(
        {n: o for n, o in outlets.items() if n in names},
        items=items,
        deliveries=deliveries,
        attachments=attachments,
    )
    try:
        for name in sorted(names):
            outlet = outlets.get(name)
            found = sorted(by_outlet[name], key=lambda s: (str(s.item_id), s.version))
            if outlet is None:
                for s in found:
                    refs.setdefault(s.item_id, _ref(items, s.item_id, s.version))
                result.append(
                    OutletReplay(
                        name=name,
                        kind=kinds.get(name),
                        configured=False,
                        whole_set=False,
                        recorded=found,
                        problem=problems.get(name),
                    )
                )
                continue
            whole_set = outlet.capabilities.whole_set
            if whole_set and found:
                found = [max(found, key=lambda s: s.order)]
            part = OutletReplay(
                name=name, kind=outlet.kind, configured=True, whole_set=whole_set
            )
            folder = out / name
            folder.mkdir(parents=True, exist_ok=True)
            for s in found:
                done = _render_one(items, deliveries, readers, s, folder, files)
                gone = _erased_since(items, s, erasures)
                if gone:
                    done = replace(done, erased=gone)
                waiting = pending.get(s.item_id)
                if waiting is not None and s.operation != "review_notice":
                    done = replace(done, review=waiting.review)
                part.items.append(done)
                if on_item is not None:
                    on_item(1)
            part.items.sort(key=lambda r: (r.ref, r.shown.version))
            _dump(
                folder / "manifest.json",
                {
                    "outlet": name,
                    "kind": outlet.kind,
                    "whole_set": whole_set,
                    "as_of": as_of.astimezone(CHINA_TZ).isoformat(),
                    "items": [r.as_json() for r in part.items],
                },
                files,
            )
            result.append(part)
    finally:
        readers.close()
    summary = ReplaySummary(
        as_of=as_of,
        outlets=result,
        files=files,
        refs=refs,
        pending=sorted(pending.values(), key=lambda p: (p.ref, str(p.item_id))),
    )
    _dump(out / "replay.json", summary.as_json(), files)
    return summary
