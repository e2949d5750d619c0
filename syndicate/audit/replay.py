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

Memory stays bounded however long the log is, by revisions or by items: the deliveries
log is streamed once, and the latest delivery shown of each (outlet, item) is kept in a
scratch SQLite file inside the output folder (removed at the end), not in memory — with
a bounded cache of which delivery belongs to which (outlet, item), falling back to the
store on a miss. Items are read from the items log per needed (item, version), through
the repository. The items log is streamed once for what was under review and what was
erased, keeping only those items. Each manifest and replay.json are written as they are
read back from the scratch file, in order; the summary keeps counts, the first
`KEPT_MISMATCHES` mismatches, the erased attachments and the items under review.
"""

from __future__ import annotations

import errno
import io
import json
import mimetypes
import shutil
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, cast
from uuid import UUID

from syndicate.application import CHINA_TZ, Disclosures
from syndicate.audit.facts import delivery_events, item_events
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.domain.items import DisclosureItem
from syndicate.fsutil import replacing, write_atomically
from syndicate.outlets import Outlet
from syndicate.outletset import OutletSet
from syndicate.planning import Deliveries
from syndicate.views import ReviewTracker

__all__ = [
    "KEPT_MISMATCHES",
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

# Deliveries whose (outlet, item) is remembered in memory; a replay moves older ones
# to its scratch file, `shown_as_of` asks the store again.
_CACHE = 8_192
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
    front of the store, so memory does not grow with the log. With `spill` (a replay's
    scratch file), what the cache cannot hold moves there, not away: a log that plans
    many deliveries before any succeeds (a first plan to 500 village groups) is not
    read again from the store one delivery at a time."""

    def __init__(self, deliveries: Deliveries, spill: _ScratchDB | None = None) -> None:
        self.deliveries = deliveries
        self.spill = spill
        self.cache: OrderedDict[UUID, tuple[str, UUID, int, str]] = OrderedDict()

    def remember(self, event: Delivery.Planned) -> None:
        self.cache[event.originator_id] = (
            event.outlet,
            event.item_id,
            event.item_version,
            event.operation,
        )
        if len(self.cache) <= _CACHE:
            return
        if self.spill is None:
            self.cache.popitem(last=False)
            return
        rows = []
        for _ in range(max(1, len(self.cache) // 2)):  # the older half
            id_, (outlet, item, version, operation) = self.cache.popitem(last=False)
            rows.append((str(id_), outlet, str(item), version, operation))
        self.spill.run_many(
            "INSERT OR REPLACE INTO planned VALUES (?, ?, ?, ?, ?)", rows
        )

    def forget(self, id_: UUID) -> None:
        """The delivery is settled: no later event will ask about it (or, rarely, one
        does and is answered from the store)."""
        self.cache.pop(id_, None)

    def get(self, id_: UUID) -> tuple[str, UUID, int, str]:
        # Taken out, not just read: a delivery succeeds once, so the cache holds only
        # deliveries still in flight, however long the log.
        found = self.cache.pop(id_, None)
        if found is None and self.spill is not None:
            spilled = self.spill.rows(
                "SELECT outlet, item, version, operation FROM planned "
                "WHERE delivery = ?",
                (str(id_),),
            )
            if spilled:
                outlet, item, version, operation = spilled[0]
                found = (outlet, UUID(item), version, operation)
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
    """For each (outlet, item), the latest delivery put up at or before `as_of`, in
    memory (one entry per outlet and item: `replay` keeps them on disk instead)."""
    shown: dict[tuple[str, UUID], Shown] = {}
    for candidate in _candidates(deliveries, as_of, outlet=outlet, on_page=on_page):
        key = (candidate.outlet, candidate.item_id)
        current = shown.get(key)
        if current is None or candidate.order >= current.order:
            shown[key] = candidate
    return shown


def _candidates(
    deliveries: Deliveries,
    as_of: datetime,
    *,
    outlet: str | None,
    on_page: Callable[[int], None] | None,
    spill: _ScratchDB | None = None,
) -> Iterator[Shown]:
    """Every delivery put up at or before `as_of` (on `outlet`), in log order: the
    latest of each (outlet, item) by `Shown.order` is what the outlet showed."""
    planned = _Planned(deliveries, spill)
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
        yield candidate


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
    return _scan_items(items, as_of)[0]


def _scan_items(
    items: Disclosures, as_of: datetime
) -> tuple[dict[UUID, PendingReview], dict[UUID, int]]:
    """One pass over the items log: what was under review at `as_of`
    (`pending_as_of`), and each erased item's latest erasure (its event's version, at
    any time: data erased since is not shown again)."""
    tracker = ReviewTracker()
    waiting: dict[UUID, int] = {}  # item id -> its version as of `as_of`
    erased: dict[UUID, int] = {}
    for _, event in item_events(items):
        id_ = event.originator_id
        if isinstance(event, DisclosureItem.Erased):
            erased[id_] = event.originator_version
        if event.timestamp > as_of:
            continue
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
    return found, erased


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

# Mismatches kept in the summary (and printed by the CLI), the first in replay.json's
# order; replay.json lists them all. Erased attachments kept per outlet, likewise (the
# manifests name them all).
KEPT_MISMATCHES = 1_000
KEPT_ERASED = 1_000


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
    """One outlet's part of a replay: counts, and what needs a person's eyes.

    `count`: the items replayed (a configured outlet) or listed with their recorded
    sha256 (an outlet not configured here); `shown`: those with a file; `mismatch_count`:
    those whose rendition came back different or could not be rendered, of which the
    first `KEPT_MISMATCHES` of the replay (in replay.json's order) are in `mismatches`
    (all are in replay.json and the outlet's manifest.json); `erased_count`: sealed
    attachments shown then and erased since, the first `KEPT_ERASED` of them as (ref,
    attachment) in `erased` (the manifest's `attachments_erased` name them all).
    """

    name: str
    kind: str | None
    configured: bool
    whole_set: bool
    count: int = 0
    shown: int = 0
    mismatch_count: int = 0
    mismatches: list[Replayed] = field(default_factory=list)
    erased: list[tuple[str, str]] = field(default_factory=list)
    erased_count: int = 0
    problem: str | None = None  # why a configured outlet could not be loaded

    def as_json(self) -> dict[str, Any]:
        """The outlet's entry in replay.json, without the `recorded` list (an outlet
        not configured here: read it from replay.json)."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "configured": self.configured,
            "whole_set": self.whole_set,
            "items": self.count,
            "shown": self.shown,
            "mismatches": self.mismatch_count,
        }
        if self.problem:
            data["problem"] = self.problem
        return data


@dataclass
class ReplaySummary:
    """What a replay found and wrote: replay.json (`path`) holds every detail."""

    as_of: datetime
    out: Path
    outlets: list[OutletReplay]
    written: int  # files written under `out`, replay.json included
    pending: list[PendingReview] = field(default_factory=list)  # by ref

    @property
    def path(self) -> Path:
        """replay.json."""
        return self.out / "replay.json"

    @property
    def mismatches(self) -> list[tuple[str, Replayed]]:
        """(outlet, item) pairs whose re-rendered digest differs from the log's: the
        first `KEPT_MISMATCHES` (`mismatch_count` says how many there were)."""
        return [(o.name, r) for o in self.outlets for r in o.mismatches]

    @property
    def mismatch_count(self) -> int:
        """How many renditions came back different, or could not be rendered."""
        return sum(o.mismatch_count for o in self.outlets)

    def counts(self) -> dict[str, int]:
        """replay.json's `counts`."""
        configured = [o for o in self.outlets if o.configured]
        return {
            "outlets": len(self.outlets),
            "configured": len(configured),
            "not_configured": len(self.outlets) - len(configured),
            "items": sum(o.count for o in configured),
            "shown": sum(o.shown for o in configured),
            "mismatches": self.mismatch_count,
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
        write_atomically(folder / name, rendition.data)
    return Replayed(
        shown=shown,
        ref=ref,
        sha256_rerendered=rendition.sha256,
        media_type=rendition.media_type,
        file=name,
    )


def _erased_since(
    items: Disclosures, shown: Shown, erasures: Mapping[UUID, int]
) -> tuple[str, ...]:
    """The sealed attachments `shown` carried whose data has been erased since."""
    erased_at = erasures.get(shown.item_id)
    if erased_at is None or shown.version >= erased_at:
        return ()
    then = items.get(shown.item_id, version=shown.version).content
    return tuple(a.name for a in then.attachments if a.sealed)


# -- JSON written as it is read --------------------------------------------------------


class _Rows:
    """A list in a JSON document whose elements are produced while it is written."""

    def __init__(self, rows: Callable[[], Iterator[Any]]) -> None:
        self.rows = rows


def _write_json(fh: IO[str], value: Any, level: int = 0) -> None:
    """Write `value` as `json.dumps(value, ensure_ascii=False, sort_keys=True,
    indent=2)` would, byte for byte, where any `_Rows` is a list written element by
    element (never held whole)."""
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        if not value:
            fh.write("{}")
            return
        fh.write("{")
        for n, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError(f"a JSON key must be text, not {key!r}")
            fh.write(("," if n else "") + "\n" + pad)
            fh.write(json.dumps(key, ensure_ascii=False) + ": ")
            _write_json(fh, value[key], level + 1)
        fh.write("\n" + "  " * level + "}")
    elif isinstance(value, list | tuple | _Rows):
        rows = value.rows() if isinstance(value, _Rows) else iter(value)
        first = True
        for element in rows:
            fh.write(("[" if first else ",") + "\n" + pad)
            _write_json(fh, element, level + 1)
            first = False
        fh.write("[]" if first else "\n" + "  " * level + "]")
    else:
        fh.write(json.dumps(value, ensure_ascii=False))


def _dump(path: Path, data: Any) -> None:
    """Write `data` (which may hold `_Rows`) to `path`, whole or not at all."""
    with replacing(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        _write_json(text, data)
        text.write("\n")
        text.flush()
        text.detach()  # `replacing` closes the file itself


# -- the scratch file ------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE = 1_000
_UPSERT = (
    "INSERT INTO shown (at_us, delivery, item, outlet, version, operation, at, "
    "position, event_version, sha) VALUES (?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (outlet, item) DO UPDATE SET delivery = excluded.delivery, "
    "version = excluded.version, operation = excluded.operation, at = excluded.at, "
    "at_us = excluded.at_us, position = excluded.position, "
    "event_version = excluded.event_version, sha = excluded.sha "
    "WHERE excluded.at_us > shown.at_us "
    "OR (excluded.at_us = shown.at_us AND excluded.position >= shown.position)"
)
_SHOWN_PAGE = (
    "SELECT delivery, item, outlet, version, operation, at, position, event_version, "
    "sha FROM shown WHERE outlet = ? AND item > ? ORDER BY item LIMIT ?"
)
_LATEST = (
    "SELECT delivery, item, outlet, version, operation, at, position, event_version, "
    "sha FROM shown WHERE outlet = ? ORDER BY at_us DESC, position DESC LIMIT 1"
)
_ENTRIES_PAGE = (
    "SELECT ref, version, item, json FROM entry WHERE outlet = ? "
    "AND (ref, version, item) > (?, ?, ?) ORDER BY ref, version, item LIMIT ?"
)
_MISMATCHES_PAGE = (
    "SELECT outlet, ref, version, item, json FROM entry WHERE mismatch = 1 "
    "AND (outlet, ref, version, item) > (?, ?, ?, ?) "
    "ORDER BY outlet, ref, version, item LIMIT ?"
)


class _ScratchDB:
    """The scratch file's connection. Its failures (a full disk or a quota under the
    output folder) are `OSError`s naming the file, never the event store's errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._io():
            self.conn = sqlite3.connect(path)

    @contextmanager
    def _io(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise OSError(
                errno.EIO,
                f"cannot use the replay's scratch file ({exc}); check the space and "
                "permissions where --out is",
                str(self.path),
            ) from None

    def script(self, sql: str) -> None:
        with self._io():
            self.conn.executescript(sql)

    def run(self, sql: str, args: Sequence[Any] = ()) -> None:
        with self._io():
            self.conn.execute(sql, args)

    def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._io():
            self.conn.executemany(sql, rows)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._io():
            return self.conn.execute(sql, args).fetchall()

    def commit(self) -> None:
        with self._io():
            self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class _Scratch:
    """What a replay keeps per (outlet, item), in a SQLite file of its own: the latest
    delivery shown (`shown`), each replayed item's manifest entry (`entry`, kept in
    manifest order by its key), and what `_Planned` cannot hold in memory (`planned`).
    Nothing in it is durable or needed after the replay."""

    def __init__(self, folder: Path) -> None:
        self.db = _ScratchDB(folder / "replay.sqlite")
        self.db.script(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA cache_size = -8000;
            CREATE TABLE shown (
                outlet TEXT NOT NULL, item TEXT NOT NULL, delivery TEXT NOT NULL,
                version INTEGER NOT NULL, operation TEXT NOT NULL, at TEXT NOT NULL,
                at_us INTEGER NOT NULL, position INTEGER NOT NULL,
                event_version INTEGER NOT NULL, sha TEXT NOT NULL,
                PRIMARY KEY (outlet, item)
            ) WITHOUT ROWID;
            CREATE TABLE entry (
                outlet TEXT NOT NULL, ref TEXT NOT NULL, version INTEGER NOT NULL,
                item TEXT NOT NULL, mismatch INTEGER NOT NULL, json TEXT NOT NULL,
                PRIMARY KEY (outlet, ref, version, item)
            ) WITHOUT ROWID;
            CREATE TABLE planned (
                delivery TEXT PRIMARY KEY, outlet TEXT NOT NULL, item TEXT NOT NULL,
                version INTEGER NOT NULL, operation TEXT NOT NULL
            ) WITHOUT ROWID;
            """
        )

    def keep_latest(self, candidates: Iterable[Shown]) -> None:
        """Fold `candidates` (in log order): per (outlet, item), the latest by
        `Shown.order` stays."""
        page: list[tuple[Any, ...]] = []
        for s in candidates:
            page.append(
                (
                    (s.at - _EPOCH) // timedelta(microseconds=1),
                    str(s.delivery_id),
                    str(s.item_id),
                    s.outlet,
                    s.version,
                    s.operation,
                    s.at.isoformat(),
                    s.position,
                    s.event_version,
                    s.sha256,
                )
            )
            if len(page) >= _PAGE:
                self.db.run_many(_UPSERT, page)
                page = []
        self.db.run_many(_UPSERT, page)
        self.db.commit()

    def outlets(self) -> set[str]:
        return {name for (name,) in self.db.rows("SELECT DISTINCT outlet FROM shown")}

    def count(self, outlet: str) -> int:
        found = self.db.rows("SELECT count(*) FROM shown WHERE outlet = ?", (outlet,))
        return int(found[0][0])

    def shown(self, outlet: str) -> Iterator[Shown]:
        """The outlet's rows by item id, a page at a time."""
        after = ""
        while True:
            page = self.db.rows(_SHOWN_PAGE, (outlet, after, _PAGE))
            if not page:
                return
            for row in page:
                yield _shown(row)
            after = page[-1][1]

    def latest(self, outlet: str) -> Shown | None:
        """The outlet's latest row by `Shown.order` (a whole-set outlet's one)."""
        found = self.db.rows(_LATEST, (outlet,))
        return _shown(found[0]) if found else None

    def add_entry(self, outlet: str, replayed: Replayed) -> None:
        self.db.run(
            "INSERT INTO entry VALUES (?,?,?,?,?,?)",
            (
                outlet,
                replayed.ref,
                replayed.shown.version,
                str(replayed.shown.item_id),
                0 if replayed.match else 1,
                json.dumps(replayed.as_json(), ensure_ascii=False),
            ),
        )

    def entries(self, outlet: str) -> Iterator[Any]:
        """The outlet's manifest entries in manifest order: by ref, version, item id."""
        self.db.commit()
        key: tuple[Any, ...] = ("", -1, "")  # before every row
        while page := self.db.rows(_ENTRIES_PAGE, (outlet, *key, _PAGE)):
            for *_, text in page:
                yield json.loads(text)
            key = page[-1][:3]

    def mismatches(self) -> Iterator[Any]:
        """Every outlet's mismatched entries, each with its outlet's name, by outlet
        then in manifest order."""
        self.db.commit()
        key: tuple[Any, ...] = ("", "", -1, "")
        while page := self.db.rows(_MISMATCHES_PAGE, (*key, _PAGE)):
            for name, *_, text in page:
                yield {"outlet": name, **json.loads(text)}
            key = page[-1][:4]

    def close(self) -> None:
        self.db.close()


def _shown(row: tuple[Any, ...]) -> Shown:
    delivery, item, outlet, version, operation, at, position, event_version, sha = row
    return Shown(
        delivery_id=UUID(delivery),
        item_id=UUID(item),
        outlet=outlet,
        version=version,
        operation=operation,
        at=datetime.fromisoformat(at),
        position=position,
        event_version=event_version,
        sha256=sha,
    )


# -- the whole replay ------------------------------------------------------------------


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
    `kind` of configured outlets that did not load. Memory does not grow with the items
    shown (module notes); a scratch folder `out/.replay-*` is removed at the end.
    """
    kinds = kinds or {}
    problems = problems or {}
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    scratch_folder: Path | None = None
    scratch: _Scratch | None = None
    finished = False
    try:
        scratch_folder = Path(tempfile.mkdtemp(prefix=".replay-", dir=out))
        scratch = _Scratch(scratch_folder)
        pending, erasures = _scan_items(items, as_of)
        scratch.keep_latest(
            _candidates(
                deliveries, as_of, outlet=only, on_page=on_page, spill=scratch.db
            )
        )
        names = scratch.outlets() | {n for n in outlets if only is None or n == only}
        readers = OutletSet(
            {n: o for n, o in outlets.items() if n in names},
            items=items,
            deliveries=deliveries,
            attachments=attachments,
        )
        result: list[OutletReplay] = []
        written = 0
        room = KEPT_MISMATCHES  # mismatches the summary may still keep
        try:
            for name in sorted(names):
                outlet = outlets.get(name)
                if outlet is None:
                    result.append(
                        OutletReplay(
                            name=name,
                            kind=kinds.get(name),
                            configured=False,
                            whole_set=False,
                            count=scratch.count(name),
                            problem=problems.get(name),
                        )
                    )
                    continue
                whole_set = outlet.capabilities.whole_set
                part = OutletReplay(
                    name=name, kind=outlet.kind, configured=True, whole_set=whole_set
                )
                folder = out / name
                folder.mkdir(parents=True, exist_ok=True)
                found: Iterable[Shown] = scratch.shown(name)
                if whole_set:
                    latest = scratch.latest(name)
                    found = [] if latest is None else [latest]
                for s in found:
                    done = _render_one(items, deliveries, readers, s, folder)
                    gone = _erased_since(items, s, erasures)
                    if gone:
                        done = replace(done, erased=gone)
                        part.erased_count += len(gone)
                        part.erased = _first(
                            part.erased + [(done.ref, g) for g in gone], KEPT_ERASED
                        )
                    waiting = pending.get(s.item_id)
                    if waiting is not None and s.operation != "review_notice":
                        done = replace(done, review=waiting.review)
                    scratch.add_entry(name, done)
                    part.count += 1
                    if done.file is not None:
                        part.shown += 1
                        written += 1
                    if not done.match:
                        part.mismatch_count += 1
                        if room > 0:
                            part.mismatches.append(done)
                            if len(part.mismatches) >= 2 * room:
                                part.mismatches = _first_replayed(part.mismatches, room)
                    if on_item is not None:
                        on_item(1)
                part.mismatches = _first_replayed(part.mismatches, room)
                room -= len(part.mismatches)
                _dump(
                    folder / "manifest.json",
                    {
                        "outlet": name,
                        "kind": outlet.kind,
                        "whole_set": whole_set,
                        "as_of": as_of.astimezone(CHINA_TZ).isoformat(),
                        "items": _Rows(partial(scratch.entries, name)),
                    },
                )
                written += 1
                result.append(part)
        finally:
            readers.close()
        summary = ReplaySummary(
            as_of=as_of,
            out=out,
            outlets=result,
            written=written + 1,
            pending=sorted(pending.values(), key=lambda p: (p.ref, str(p.item_id))),
        )
        _dump(summary.path, _replay_json(summary, scratch, items))
        finished = True
        return summary
    finally:
        if scratch is not None:
            scratch.close()
        if scratch_folder is not None:
            shutil.rmtree(scratch_folder, ignore_errors=True)
        if created and not finished:
            with suppress(OSError):  # failed before writing anything: leave no folder
                out.rmdir()


def _first(pairs: list[tuple[str, str]], room: int) -> list[tuple[str, str]]:
    """The first `room` distinct pairs, in order."""
    return sorted(set(pairs))[:room]


def _first_replayed(found: list[Replayed], room: int) -> list[Replayed]:
    """The first `room` of `found` in manifest order (ref, version, item id)."""
    found.sort(key=lambda r: (r.ref, r.shown.version, str(r.shown.item_id)))
    return found[:room]


def _replay_json(
    summary: ReplaySummary, scratch: _Scratch, items: Disclosures
) -> dict[str, Any]:
    """replay.json, its long lists read from `scratch` as they are written."""

    def recorded(name: str) -> Iterator[dict[str, Any]]:
        for s in scratch.shown(name):
            yield {
                "id": str(s.item_id),
                "ref": _ref(items, s.item_id, s.version),
                "version": s.version,
                "delivery_id": str(s.delivery_id),
                "delivered_at": s.at.astimezone(CHINA_TZ).isoformat(),
                "operation": s.operation,
                "sha256_recorded": s.sha256,
            }

    outlets = []
    for o in summary.outlets:
        data = o.as_json()
        if not o.configured:
            data["recorded"] = _Rows(partial(recorded, o.name))
        outlets.append(data)
    return {
        "as_of": summary.as_of.astimezone(CHINA_TZ).isoformat(),
        "outlets": outlets,
        "counts": summary.counts(),
        "mismatches": _Rows(scratch.mismatches),
        "pending_review": [p.as_json() for p in summary.pending],
    }
