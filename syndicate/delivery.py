"""The worker: claim a due delivery, render it, deliver it, record what happened.

At-least-once, with every attempt an event:

1. **Claim** (`Claimed`, a lease until `expires_at`): optimistic concurrency on the
   delivery makes the claim exclusive across processes. A dead worker's claim expires and
   another worker takes it over — and if the outlet cannot deduplicate, the taker records
   `Unconfirmed` instead of sending again, because the dead worker may have sent it.
2. **Render** (pure) and check the outlet's length limit.
3. **Rate limit**: an outlet with `rate_per_minute` takes one of that many *slots*; a slot
   is used at most once per 60 s, by optimistic concurrency in the shared store, so the
   limit holds across any number of worker processes.
4. **Deliver** through a plain `requests.Session` (no retries mounted: every attempt is an
   event) and record `Succeeded`, `Failed` (with the next try, or none when retrying cannot
   help), `Unconfirmed`, or `Abandoned` once a delivery is older than the maximum age.

Backoff: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h… with ±20 % jitter (derived from the
delivery id and attempt, so it is reproducible); an outlet's `Retry-After` (or rate-limit
error code, mapped by its adapter) can lengthen a wait, never shorten it, and is capped at
a day (`Backoff`). Maximum age: 3 days; a wait that would end beyond it is cut short, so
the last try happens at the maximum age, and only a delivery still failing then is
`Abandoned`.

Asynchronous confirmation: on an outlet whose capabilities say `confirms_async`, a
successful `deliver` records `Submitted` with the time of the first check. A submitted
delivery is claimed like any other when due, but the worker then calls the adapter's
`confirm(receipt, session)` instead of rendering and sending: a receipt records
`Succeeded` (the two receipts merged), None records `Submitted` again with the next check
(10 s, 30 s, 1 min, 5 min, 15 min, then every 30 min), `PermanentDeliveryError` records
`Failed`, any other error is noted on a new `Submitted` and checked again later. One that
is still pending beyond the maximum age is `Abandoned`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import os
import queue
import random
import re
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from uuid import UUID

import requests
from eventsourcing.persistence import IntegrityError, PersistenceError

from syndicate.adapter import (
    ChannelAdapter,
    Confirms,
    DeliversMany,
    DeliveryJob,
    Digests,
    Operation,
    Receipt,
    Reminder,
    ReminderEntry,
    ReminderSchedule,
    Reminds,
    Rendition,
)
from syndicate.application import Clock, Disclosures, system_clock
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.domain.outlets import RateSlot
from syndicate.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate.netguard import blocked_cause
from syndicate.outlets import Outlet
from syndicate.outletset import ItemCache, OutletSet
from syndicate.planning import Deliveries

_T = TypeVar("_T")

__all__ = [
    "Backoff",
    "HeldClaim",
    "RunSummary",
    "Worker",
    "held_claims",
]


@dataclass(frozen=True)
class Backoff:
    """When to try again after a failed attempt, and when to give up.

    A receiver's `Retry-After` (or an adapter's rate-limit wait) can only lengthen a
    wait, never shorten it: the wait is at least this attempt's step of the schedule
    (with its jitter), and at most `max_retry_after`. So a receiver that answers
    `Retry-After: 0` is tried no more often than one that says nothing, and one that asks
    for the year 2099 is tried again within a day, until `max_age` is up. Sends of one
    delivery are therefore at least 4 s, 4 min, 24 min, 96 min… apart (the schedule
    less its jitter): at most 4 in any hour, 5 counting the last try at `max_age`.
    """

    schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    jitter: float = 0.2
    max_age: timedelta = timedelta(days=3)
    # When to ask an outlet that confirms asynchronously again (no jitter: checks only
    # read, so several landing at once cost nothing but a request each).
    checks: tuple[float, ...] = (10, 30, 60, 300, 900, 1800)
    # The longest wait an outlet may ask for; beyond it the delivery is tried anyway
    # (a day: WeChat's daily quota resets at midnight Beijing time).
    max_retry_after: float = 86400.0

    def with_first_check(self, seconds: float) -> Backoff:
        """This policy with the first check after `seconds` (later checks unchanged,
        never earlier than the first)."""
        later = tuple(max(c, seconds) for c in self.checks[1:])
        return replace(self, checks=(seconds, *later))

    def _asked(self, retry_after: float | None) -> float:
        """What an outlet asked for, made sane: 0 for nothing, negative or NaN; at most
        `max_retry_after` (also for "inf" and absurd values)."""
        if retry_after is None or math.isnan(retry_after) or retry_after <= 0:
            return 0.0
        return min(retry_after, self.max_retry_after)

    def check_delay(self, checks: int, retry_after: float | None = None) -> float:
        """Seconds until the next check, after `checks` recorded submissions: the check
        schedule, or longer if the outlet asked for longer."""
        step = float(self.checks[min(max(checks, 0), len(self.checks) - 1)])
        return max(step, self._asked(retry_after))

    def delay(self, delivery: UUID, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1`: this attempt's step of the
        schedule (± jitter), or longer if the outlet asked for longer."""
        base = self.schedule[min(max(attempt, 1), len(self.schedule)) - 1]
        digest = hashlib.sha256(f"{delivery}:{attempt}".encode()).digest()
        spread = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF  # 0..1, reproducible
        return max(
            base * (1 - self.jitter + 2 * self.jitter * spread),
            self._asked(retry_after),
        )


_WORKER_NAME = re.compile(r"[^@\s]+@(?P<host>[^\s:]+):(?P<pid>[0-9]{1,10})")


def _process_gone(worker: str) -> bool:
    """Whether `worker` (a CLI worker name, `sync@HOST:PID`) names a process on this
    host that no longer exists. False whenever that cannot be known for sure: another
    host, a name of another form, or a process that exists (even if its pid was reused
    by another program since, or is not ours to signal)."""
    match = _WORKER_NAME.fullmatch(worker)
    if match is None or match["host"] != socket.gethostname():
        return False
    pid = int(match["pid"])
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False
    return False


@dataclass(frozen=True)
class HeldClaim:
    """A delivery held by a worker's claim whose lease has not ended yet.

    No other worker takes it before `expires_at`: the holder may still be sending it.
    `process_gone`: the claim names a process on this host that no longer exists (a
    worker that was killed), so nothing will happen to it until the lease ends. It is
    only a hint for the operator: on a host whose processes live in separate pid
    namespaces (containers sharing a host name) a live worker can look gone, so
    syndicate never takes a claim over early because of it.
    """

    delivery_id: UUID
    item_id: UUID
    item_version: int
    outlet: str
    worker: str
    expires_at: datetime
    process_gone: bool = False


def held_claims(
    deliveries: Iterable[Delivery],
    now: datetime,
    *,
    outlets: Collection[str] | None = None,
    exclude_worker: str | None = None,
) -> list[HeldClaim]:
    """Deliveries on a live claim at `now` (lease not ended), soonest expiry first.

    `outlets`: only these; `exclude_worker`: not the claims of this worker (its own).
    """
    held = []
    gone: dict[str, bool] = {}
    for d in deliveries:
        expires = d.claim_expires_at
        if d.state is not DeliveryState.CLAIMED or expires is None or expires <= now:
            continue
        if outlets is not None and d.outlet not in outlets:
            continue
        worker = d.claimed_by or "?"
        if worker == exclude_worker:
            continue
        if worker not in gone:
            gone[worker] = _process_gone(worker)
        held.append(
            HeldClaim(
                delivery_id=d.id,
                item_id=d.item_id,
                item_version=d.item_version,
                outlet=d.outlet,
                worker=worker,
                expires_at=expires,
                process_gone=gone[worker],
            )
        )
    held.sort(key=lambda h: (h.expires_at, h.outlet, str(h.delivery_id)))
    return held


@dataclass(frozen=True)
class ReminderSent:
    """One reminder to the person who puts an outlet's renditions up: the deliveries
    it named, its number (for the delivery reminded most), whether it reached them."""

    outlet: str
    deliveries: tuple[UUID, ...]
    number: int
    ok: bool
    message: str | None


def _reminder_due(
    delivery: Delivery, now: datetime, schedule: ReminderSchedule
) -> bool:
    """Whether a delivery awaiting attestation is due a reminder under `schedule`."""
    count = getattr(delivery, "reminders", 0)
    if count >= schedule.limit or delivery.delivered_at is None:
        return False
    if count == 0:
        return now - delivery.delivered_at >= schedule.after
    last = getattr(delivery, "reminded_at", None) or delivery.delivered_at
    return now - last >= schedule.every


@dataclass
class RunSummary:
    """What one `sync` (or a stretch of `worker`) did.

    `held`: when the run ended, deliveries it could not move on because another
    worker's claim on them had not expired yet (a worker still busy, or one that died:
    its claims wait for their lease to end); `waiting`: deliveries due now that wait
    behind one of those (a later version of the same item on the same outlet).
    """

    planned_events: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    held: list[HeldClaim] = field(default_factory=list)
    waiting: int = 0
    # Reminders sent (or tried) to people who put renditions up (`Worker.remind`).
    reminded: list[ReminderSent] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        """Add one outcome."""
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def attempted(self) -> int:
        """Deliveries this run moved on."""
        return sum(self.outcomes.values())

    @property
    def ok(self) -> bool:
        """No attempt failed, was abandoned or ended unconfirmed."""
        return not any(
            self.outcomes.get(k)
            for k in ("retrying", "failed", "abandoned", "unconfirmed")
        )

    @property
    def held_until(self) -> datetime | None:
        """When the last of the held claims expires (None: nothing is held)."""
        return max((h.expires_at for h in self.held), default=None)

    @property
    def complete(self) -> bool:
        """Nothing due was left behind another worker's claim."""
        return not self.held and not self.waiting


_PUT_UP = {DeliveryState.AWAITING_ATTESTATION, DeliveryState.ATTESTED}


def _stored_receipt(receipt: Receipt) -> dict[str, str]:
    """A receipt as the flat mapping delivery events store."""
    return {
        **({"remote_id": receipt.remote_id} if receipt.remote_id else {}),
        **dict(receipt.detail),
    }


def _final(receipt: Receipt) -> bool:
    """An asynchronous outlet may say at once that nothing is left to confirm (a
    deletion, or a publication found already done): `detail["confirmed"] == "yes"`."""
    return receipt.detail.get("confirmed") == "yes"


class Worker:
    """Moves due deliveries on; several may run at once against one store.

    The delivery loop: choose what is due, claim it, decide, render and send through its
    outlet's adapter and session, confirm, back off, take rate slots, record the outcome.
    The adapters and sessions are an `OutletSet` (`outlet_set`): `outlets` is either
    the outlets to deliver to (the worker opens a set on them, with `session_factory`,
    `clock` and `attachments`) or a set opened already on the same two logs (then those
    three are the set's). Either way the worker closes the set when it is closed.
    """

    def __init__(
        self,
        deliveries: Deliveries,
        items: Disclosures,
        outlets: Mapping[str, Outlet] | OutletSet,
        *,
        name: str,
        clock: Clock = system_clock,
        backoff: Backoff | None = None,
        lease: timedelta = timedelta(minutes=2),
        session_factory: Callable[[], requests.Session] = requests.Session,
        batch_size: int = 20,
        many_batch_size: int = 200,
        attachments: Path | None = None,
        hold_digests: bool = True,
        parallel_outlets: int = 1,
    ) -> None:
        if isinstance(outlets, OutletSet):
            if outlets.deliveries is not deliveries or outlets.items is not items:
                raise ValueError("the outlet set reads other logs than the worker")
            self.outlet_set = outlets
        else:
            self.outlet_set = OutletSet(
                outlets,
                items=items,
                deliveries=deliveries,
                clock=clock,
                session_factory=session_factory,
                attachments=attachments,
            )
        self.deliveries = deliveries
        self.items = items
        self.outlets = self.outlet_set.outlets
        self.name = name
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.batch_size = batch_size
        # Outlets that take a batch at once (`DeliversMany`: one durable commit for a
        # folder's many files) get larger groups.
        self.many_batch_size = many_batch_size
        self.attachments = self.outlet_set.attachments
        # Shared with the outlet set, which reads earlier receipts from it.
        self._view = self.outlet_set.view
        self.stop_requested = False
        # Outlets with `digest_minutes` wait that long after their oldest new delivery
        # before sending (a worker); `sync` sends what is due at once.
        self.hold_digests = hold_digests
        # How many outlets are sent to at once (`[delivery] parallel_outlets`); each
        # outlet's own batches stay in order, one after another.
        self.parallel_outlets = max(1, parallel_outlets)
        # The order this worker takes the outlets in, when several at once: its own
        # (seeded by its name), so workers sharing a store spread over the outlets
        # instead of all reaching for the same outlet's claims at the same moment.
        self._spread = random.Random(name)  # noqa: S311 - an order, not a secret
        # The HTTP session a thread of a batch sent at once uses (an outlet's
        # `concurrency`); unset: the outlet's own session.
        self._local = threading.local()

    def close(self) -> None:
        """Release the HTTP sessions."""
        self.outlet_set.close()

    # -- choosing ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with the deliveries log (incrementally)."""
        self._view.refresh()

    def due(self, now: datetime) -> list[Delivery]:
        """Deliveries a worker may claim now, in items-log order."""
        self.refresh()
        chosen = self._view.due(now, self.outlets)
        chosen = [d for d in chosen if not self._waits_for_older(d, now)]
        if self.hold_digests:
            opens = self._digest_opens(chosen)
            chosen = [
                d
                for d in chosen
                if d.outlet not in opens
                or not _digestible(d)
                or now >= opens[d.outlet]
                or self._withdrawn_before_sent(d, self.outlets[d.outlet])
            ]
        return chosen

    def _digest_opens(self, chosen: list[Delivery]) -> dict[str, datetime]:
        """For each outlet with `digest_minutes`: when its digest may go (its oldest
        new delivery's planning time plus that many minutes)."""
        opens: dict[str, datetime] = {}
        for d in chosen:
            minutes = self.outlets[d.outlet].digest_minutes
            if not minutes or not _digestible(d):
                continue
            at = d.planned_at + timedelta(minutes=minutes)
            if d.outlet not in opens or at < opens[d.outlet]:
                opens[d.outlet] = at
        return opens

    def digest_held(self, now: datetime) -> int:
        """How many due deliveries wait for their outlet's digest window."""
        if not self.hold_digests:
            return 0
        self.refresh()
        chosen = self._view.due(now, self.outlets)
        opens = self._digest_opens(chosen)
        return sum(
            1
            for d in chosen
            if d.outlet in opens and _digestible(d) and now < opens[d.outlet]
        )

    def _latest_only(self, outlet: Outlet) -> bool:
        caps = outlet.capabilities
        # A sheet not printed yet is not worth printing once a newer one is planned.
        return caps.edits_in_place or caps.whole_set or caps.needs_attestation

    def _waits_for_older(self, d: Delivery, now: datetime) -> bool:
        """An item's versions reach an outlet in order.

        Message outlets: an earlier version settles first. Latest-only outlets: a newer
        version waits while an older one is being sent (a live claim), so the older
        write cannot land after the newer one and bring back what it replaced.
        """
        latest_only = self._latest_only(self.outlets[d.outlet])
        for version in range(1, d.item_version):
            older = self._view.get(delivery_id(d.item_id, version, d.outlet))
            if older is None or older.state.settled:
                continue
            if not latest_only:
                return True
            if older.state is DeliveryState.CLAIMED and not older.is_due(now):
                return True
        return False

    def _newer_version(self, d: Delivery) -> int | None:
        """The newest version planned for the same item and outlet, if newer than `d`.

        Read from this worker's view of the log: a newer delivery planned elsewhere a
        moment ago may be missed, and then `d` is sent and superseded on the outlet by
        the newer one right after, which leaves the outlet just as right.
        """
        newest = self._view.newest(d.item_id, d.outlet, above=d.item_version)
        return newest if newest > d.item_version else None

    # -- doing ---------------------------------------------------------------------------

    def run_until_idle(
        self,
        summary: RunSummary | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> RunSummary:
        """Attempt every delivery due now (and those that become due while running)."""
        summary = summary or RunSummary()
        while not self.stop_requested:
            batch = self.due(self.clock())
            if not batch:
                break
            progressed = 0
            for outcome in self._run_groups(list(self._groups(batch))):
                summary.count(outcome)
                progressed += 1
                if on_progress:
                    on_progress(1)
            if progressed == 0:
                break  # everything due is held by others or throttled
        if not self.stop_requested:
            self._note_held(summary, self.clock())
        return summary

    def _run_group(self, group: list[Delivery], digest: bool) -> list[str | None]:
        if digest:
            return self._attempt_digest(group)
        if len(group) > 1:
            return self._attempt_group(group)
        return [self.attempt(group[0].id)]

    def _run_groups(self, groups: list[tuple[list[Delivery], bool]]) -> Iterator[str]:
        """Attempt `groups`, yielding each outcome as it is known. Each outlet's groups
        run in order, one after another (outlets sharing an account: as one outlet);
        up to `parallel_outlets` outlets at once (a slow outlet does not hold the
        others up)."""
        # One queue per account: outlets that send through the same account (village
        # groups one robot tells, `Outlet.rate_key`) stay in one queue, so what one
        # person receives (a task, then its card) is never interleaved.
        by_outlet: dict[str, list[tuple[list[Delivery], bool]]] = {}
        for group, digest in groups:
            key = self.outlets[group[0].outlet].rate_key
            by_outlet.setdefault(key, []).append((group, digest))
        if self.parallel_outlets == 1 or len(by_outlet) == 1:
            for group, digest in groups:
                if self.stop_requested:
                    return
                yield from (o for o in self._run_group(group, digest) if o is not None)
            return
        done: queue.SimpleQueue[list[str | None] | None] = queue.SimpleQueue()

        def one_outlet(mine: list[tuple[list[Delivery], bool]]) -> None:
            try:
                for group, digest in mine:
                    if self.stop_requested:
                        break
                    done.put(self._run_group(group, digest))
            finally:
                done.put(None)  # this outlet is finished

        threads = min(self.parallel_outlets, len(by_outlet))
        queues = self.outlet_order(list(by_outlet.values()))
        with ThreadPoolExecutor(threads, thread_name_prefix="outlet") as pool:
            futures = [pool.submit(one_outlet, mine) for mine in queues]
            finished = 0
            while finished < len(futures):
                outcomes = done.get()
                if outcomes is None:
                    finished += 1
                    continue
                yield from (o for o in outcomes if o is not None)
            for future in futures:
                future.result()  # an error in a thread is raised here, as before

    def outlet_order(self, queues: list[_T]) -> list[_T]:
        """The order this worker takes its outlets' queues in when it sends to
        several at once: shuffled by a generator seeded with its name, so workers
        sharing a store start on different outlets instead of all claiming the same
        outlet's deliveries at the same moment (each queue's own order is kept)."""
        ordered = list(queues)
        self._spread.shuffle(ordered)
        return ordered

    def remind(self) -> list[ReminderSent]:
        """Remind the people who put renditions up (outlets that `Reminds`) of those
        that waited past the outlet's schedule: one reminder per outlet naming every
        rendition due one, recorded on each delivery (`Delivery.Reminded`) whether it
        reached them or not, so a failing channel is not asked again every round."""
        now = self.clock()
        self.refresh()
        waiting: dict[str, list[Delivery]] = {}
        for d in self._view.in_states(
            {DeliveryState.AWAITING_ATTESTATION}, self.outlets
        ):
            waiting.setdefault(d.outlet, []).append(d)
        sent: list[ReminderSent] = []
        for name in sorted(waiting):
            adapter = self.outlet_set.adapter(name)
            if not isinstance(adapter, Reminds):
                continue
            schedule = adapter.reminder_schedule()
            if schedule is None:
                continue
            due = [d for d in waiting[name] if _reminder_due(d, now, schedule)]
            if not due:
                continue
            outlet = self.outlets[name]
            due.sort(key=lambda d: (d.delivered_at or now, d.position))
            if outlet.rate_per_minute and not self._take_slots(outlet, due[0], 1):
                continue
            entries = []
            for d in due:
                item = self.items.get(d.item_id, version=d.item_version)
                entries.append(
                    ReminderEntry(
                        delivery_id=d.id,
                        ref=item.content.ref,
                        title=item.content.title,
                        operation=Operation(d.operation),
                        since=d.delivered_at or now,
                    )
                )
            number = max(getattr(d, "reminders", 0) for d in due) + 1
            # Recorded first, in one transaction: a second worker reminding the same
            # tasks at the same moment conflicts here and sends nothing.
            claimed = []
            for d in due:
                fresh = self.deliveries.delivery(d.id)
                waits = fresh.state is DeliveryState.AWAITING_ATTESTATION
                if not waits or getattr(fresh, "reminders", 0) != getattr(
                    d, "reminders", 0
                ):
                    continue
                fresh.remind(worker=self.name, at=now, ok=True, message=None)
                claimed.append(fresh)
            if not claimed:
                continue
            try:
                self.deliveries.save(*claimed)
            except IntegrityError:
                continue  # another worker is reminding them
            ids = {c.id for c in claimed}
            reminder = Reminder(
                outlet=name,
                number=number,
                at=now,
                entries=tuple(e for e in entries if e.delivery_id in ids),
            )
            ok, message = True, None
            try:
                adapter.remind(reminder, self.outlet_set.session(name))
            except DeliveryError as exc:
                ok, message = False, str(exc)
            except Exception as exc:  # an adapter bug must not stop the worker
                ok, message = False, f"adapter error: {exc!r}"
            if not ok:
                for done in claimed:
                    failed = self.deliveries.delivery(done.id)
                    failed.record(
                        Delivery.Reminded,
                        at=self.clock(),
                        worker=self.name,
                        number=getattr(failed, "reminders", 0),
                        ok=False,
                        message=(message or "")[:500],
                    )
                    with contextlib.suppress(IntegrityError):
                        self.deliveries.save(failed)
            sent.append(
                ReminderSent(name, tuple(c.id for c in claimed), number, ok, message)
            )
        return sent

    def held(self, now: datetime) -> list[HeldClaim]:
        """Deliveries on this worker's outlets held by another worker's live claim."""
        self.refresh()
        return held_claims(
            self._view.in_states({DeliveryState.CLAIMED}, self.outlets),
            now,
            outlets=self.outlets,
            exclude_worker=self.name,
        )

    def _note_held(self, summary: RunSummary, now: datetime) -> None:
        """Record in `summary` what is left behind other workers' live claims."""
        summary.held = self.held(now)
        ids = {h.delivery_id for h in summary.held}
        if not ids:
            summary.waiting = 0
            return
        summary.waiting = sum(
            1
            for d in self._view.due(now, self.outlets)
            if any(
                delivery_id(d.item_id, v, d.outlet) in ids
                for v in range(1, d.item_version)
            )
        )

    def _groups(self, batch: list[Delivery]) -> Iterator[tuple[list[Delivery], bool]]:
        """Batch what is safe to batch; one at a time for everything else. Yields each
        group and whether it is a digest.

        Outlets with `digest_minutes` get everything due for them as one digest (one
        message, or a few when it is too large for one). Outlets that deduplicate and
        have no rate limit are claimed and recorded `batch_size` at a time (one commit
        each way; `many_batch_size` for outlets that take them in one call,
        `DeliversMany`): if the worker dies mid-batch, the claims expire and the batch
        is resent, which such outlets absorb. Outlets that cannot deduplicate get one
        delivery per claim, so a crash leaves at most one delivery unconfirmed.
        """
        digests: dict[str, list[Delivery]] = {}
        # One outlet per group: an outlet's batches may then be sent several at once
        # (its `concurrency`) and outlets side by side (`parallel_outlets`).
        groups: dict[str, list[Delivery]] = {}
        for delivery in batch:
            outlet = self.outlets[delivery.outlet]
            if (
                outlet.digest_minutes
                and _digestible(delivery)
                and not outlet.capabilities.confirms_async
            ):
                digests.setdefault(outlet.name, []).append(delivery)
            elif outlet.capabilities.deduplicates and not outlet.rate_per_minute:
                group = groups.setdefault(outlet.name, [])
                group.append(delivery)
                many = isinstance(self.outlet_set.adapter(outlet.name), DeliversMany)
                if len(group) >= (self.many_batch_size if many else self.batch_size):
                    yield group, False
                    groups[outlet.name] = []
            else:
                yield [delivery], False
        for group in groups.values():
            if group:
                yield group, False
        for together in digests.values():
            yield together, len(together) > 1

    def _attempt_digest(self, group: list[Delivery]) -> list[str | None]:
        """Claim a digest's deliveries in one transaction, send them as the messages
        the adapter's `render_digest` makes, record each delivery's outcome with the
        message that carried it."""
        now = self.clock()
        outlet = self.outlets[group[0].outlet]
        ready: list[Delivery] = []
        settled: list[tuple[Delivery, str]] = []
        alone: list[tuple[Delivery, bool]] = []
        for seen in group:
            delivery = copy.deepcopy(seen)
            decision = self._decide(delivery, now)
            if decision == "claim":
                took_over = delivery.state is DeliveryState.CLAIMED
                delivery.claim(worker=self.name, at=now, expires_at=now + self.lease)
                if took_over:
                    alone.append((delivery, took_over))
                else:
                    ready.append(delivery)
            elif decision is not None:
                settled.append((delivery, decision))
        claimed = [*ready, *(d for d, _ in alone)]
        try:
            self.deliveries.save(*claimed, *[d for d, _ in settled])
        except IntegrityError:
            return [self.attempt(d.id) for d in group]
        outcomes: list[str | None] = [outcome for _, outcome in settled]
        items: ItemCache = {}
        done = [(d, self._execute(d, took_over, items)) for d, took_over in alone]
        if len(ready) == 1:
            done.append((ready[0], self._execute(ready[0], False, items)))
        elif ready:
            done += self._execute_digest(outlet, ready, items)
        pending = [(d, d.collect_events(), o) for d, o in done]
        try:
            self.deliveries.save(*[e for _, events, _ in pending for e in events])
        except IntegrityError:
            for delivery, events, outcome in pending:
                self._save_events(delivery.id, list(events), outcome)
        self._retire_older_sheets(done)
        outcomes += [None if o == "released" else o for _, o in done]
        return outcomes

    def _execute_digest(
        self, outlet: Outlet, deliveries: list[Delivery], items: ItemCache
    ) -> list[tuple[Delivery, str]]:
        """Render claimed deliveries as one digest and send it; record (not save)
        each delivery's outcome."""
        adapter = self.outlet_set.adapter(outlet.name)
        try:
            jobs = [self.outlet_set.job(d, items) for d in deliveries]
        except PersistenceError as exc:
            error = TransientDeliveryError(f"store error: {exc}")
            return [
                (d, self._failed(d, error, None, permanent=False)) for d in deliveries
            ]
        try:
            renditions = _checked_digest(
                adapter, jobs, deliveries, outlet.capabilities.max_bytes
            )
        except Exception:
            # They cannot go together (or the adapter's digest has a bug): each is
            # rendered and sent on its own, and says for itself what is wrong.
            return [(d, self._execute(d, False, items)) for d in deliveries]
        by_id = {str(d.id): d for d in deliveries}
        together = ",".join(str(d.id) for d in deliveries)
        results: list[tuple[Delivery, str]] = []
        for index, rendition in enumerate(renditions, 1):
            covered = [by_id[i] for i in rendition.meta["covers"].split(",")]
            part = {"digest_of": together, "digest_part": f"{index}/{len(renditions)}"}
            if (
                self.stop_requested
                or not all(self._lease_left(d, outlet) for d in covered)
                or not self._take_slots(outlet, covered[0], _messages(rendition))
            ):
                for d in covered:
                    d.record(
                        Delivery.Released,
                        at=self.clock(),
                        worker=self.name,
                        attempt=d.attempt,
                    )
                    results.append((d, "released"))
                continue
            results += [
                (d, outcome)
                for d, outcome in zip(
                    covered,
                    self._send_part(outlet, adapter, rendition, covered, part),
                    strict=True,
                )
            ]
        return results

    def _send_part(
        self,
        outlet: Outlet,
        adapter: ChannelAdapter,
        rendition: Rendition,
        covered: list[Delivery],
        part: dict[str, str],
    ) -> list[str]:
        """Deliver one message of a digest; record each covered delivery's outcome."""
        try:
            receipt = self._deliver(outlet, adapter, rendition)
        except UnknownOutcomeError as exc:
            if outlet.capabilities.deduplicates:
                return [
                    self._failed(d, exc, rendition, permanent=False) for d in covered
                ]
            for d in covered:
                d.record(
                    Delivery.Unconfirmed,
                    at=self.clock(),
                    worker=self.name,
                    attempt=d.attempt,
                    message=f"{exc} (code {exc.code}); sent as part of a digest of "
                    f"{len(covered)}; not resent automatically",
                    rendition_sha256=rendition.sha256,
                )
            return ["unconfirmed"] * len(covered)
        except PermanentDeliveryError as exc:
            return [self._failed(d, exc, rendition, permanent=True) for d in covered]
        except DeliveryError as exc:
            return [self._failed(d, exc, rendition, permanent=False) for d in covered]
        except Exception as exc:  # an adapter bug: record it, try later
            error = TransientDeliveryError(f"adapter error: {exc!r}")
            return [self._failed(d, error, rendition, permanent=False) for d in covered]
        stored = {**_stored_receipt(receipt), **part}
        attested = (
            outlet.capabilities.needs_attestation
            and receipt.detail.get("attestation") != "none"
        )
        for d in covered:
            d.record(
                Delivery.AwaitingAttestation if attested else Delivery.Succeeded,
                at=self.clock(),
                worker=self.name,
                attempt=d.attempt,
                rendition_sha256=rendition.sha256,
                receipt=stored,
            )
        return ["awaiting_attestation" if attested else "succeeded"] * len(covered)

    def attempt(self, id_: UUID) -> str | None:
        """One attempt at one delivery; returns the outcome, or None if not taken."""
        now = self.clock()
        delivery = self.deliveries.delivery(id_)
        decision = self._decide(delivery, now)
        if decision != "claim":
            return None if decision is None else self._save_outcome(delivery, decision)
        took_over = delivery.state is DeliveryState.CLAIMED
        delivery.claim(worker=self.name, at=now, expires_at=now + self.lease)
        try:
            self.deliveries.save(delivery)
        except IntegrityError:
            return None  # another worker claimed it first
        outcome = self._execute(delivery, took_over, {})
        if outcome == "released":
            self._save_outcome(delivery, outcome)
            return None
        saved = self._save_outcome(delivery, outcome)
        self._retire_older_sheets([(delivery, saved)])
        return saved

    def _attempt_group(self, group: list[Delivery]) -> list[str | None]:
        """Claim a group in one transaction, deliver each, record outcomes in one."""
        now = self.clock()
        ready: list[tuple[Delivery, bool]] = []
        settled: list[tuple[Delivery, str]] = []
        for seen in group:
            delivery = (
                seen  # read from its events for this batch; a stale one fails to save
            )
            decision = self._decide(delivery, now)
            if decision == "claim":
                took_over = delivery.state is DeliveryState.CLAIMED
                delivery.claim(worker=self.name, at=now, expires_at=now + self.lease)
                ready.append((delivery, took_over))
            elif decision is not None:
                settled.append((delivery, decision))
        try:
            self.deliveries.save(*[d for d, _ in ready], *[d for d, _ in settled])
        except IntegrityError:
            # Someone else moved one of them: fall back to one at a time, from the store.
            return [self.attempt(d.id) for d in group]
        outcomes: list[str | None] = [outcome for _, outcome in settled]
        items: ItemCache = {}
        done = self._execute_all(ready, items)
        # save() takes the events off the aggregates: keep them, so a conflict on one
        # delivery cannot lose the others' outcomes.
        pending = [(d, d.collect_events(), o) for d, o in done]
        try:
            self.deliveries.save(*[e for _, events, _ in pending for e in events])
        except IntegrityError:
            for delivery, events, outcome in pending:
                self._save_events(delivery.id, list(events), outcome)
        self._retire_older_sheets(done)
        outcomes += [None if o == "released" else o for _, o in done]
        return outcomes

    def _execute_all(
        self, ready: list[tuple[Delivery, bool]], items: ItemCache
    ) -> list[tuple[Delivery, str]]:
        """`_execute` each claimed delivery of one outlet: one after another, or up to
        the outlet's `concurrency` at once, each thread with its own HTTP session."""
        if not ready:
            return []
        outlet = self.outlets[ready[0][0].outlet]
        if isinstance(self.outlet_set.adapter(outlet.name), DeliversMany):
            return self._execute_many(ready, items)
        at_once = min(outlet.concurrency, len(ready))
        if at_once <= 1:
            return [(d, self._execute(d, took_over, items)) for d, took_over in ready]

        def one(pair: tuple[Delivery, bool]) -> tuple[Delivery, str]:
            delivery, took_over = pair
            with self.outlet_set.borrowed_session(outlet.name) as session:
                self._local.session = session
                try:
                    return delivery, self._execute(delivery, took_over, items)
                finally:
                    self._local.session = None

        with ThreadPoolExecutor(at_once, thread_name_prefix="send") as pool:
            return list(pool.map(one, ready))

    def _retire_older_sheets(self, done: list[tuple[Delivery, str]]) -> None:
        """A newer sheet replaces older ones still waiting for a person to post them:
        they are recorded as superseded, so nobody is asked to post an outdated one."""
        for delivery, outcome in done:
            outlet = self.outlets.get(delivery.outlet)
            if outcome not in ("awaiting_attestation", "succeeded") or not (
                outlet is not None and outlet.capabilities.needs_attestation
            ):
                continue
            for version in range(1, delivery.item_version):
                older_id = delivery_id(delivery.item_id, version, delivery.outlet)
                seen = self._view.get(older_id)
                if seen is None or seen.state is not DeliveryState.AWAITING_ATTESTATION:
                    continue
                fresh = self.deliveries.delivery(older_id)
                if fresh.state is not DeliveryState.AWAITING_ATTESTATION:
                    continue
                fresh.record(
                    Delivery.Superseded,
                    at=self.clock(),
                    by_version=delivery.item_version,
                )
                with contextlib.suppress(IntegrityError):
                    self.deliveries.save(fresh)

    def _decide(self, delivery: Delivery, now: datetime) -> str | None:
        """ "claim", an outcome recorded without sending ("superseded"), or None (skip)."""
        outlet = self.outlets.get(delivery.outlet)
        if outlet is None or not delivery.is_due(now):
            return None
        if delivery.confirming:
            return "claim"  # a check sends nothing: no superseding, no rate slot
        if self._latest_only(outlet):
            newer = self._newer_version(delivery)
            if newer is not None:
                delivery.record(Delivery.Superseded, at=now, by_version=newer)
                return "superseded"
        if (
            outlet.capabilities.whole_set
            and self._view.furthest(outlet.name) > delivery.position
        ):
            # A later rendition of the whole set replaces this one entirely.
            delivery.record(
                Delivery.Superseded, at=now, by_version=delivery.item_version
            )
            return "superseded"
        if self._withdrawn_before_sent(delivery, outlet):
            # Held for a digest and withdrawn meanwhile: never announce it.
            newest = self._view.newest(delivery.item_id, delivery.outlet)
            delivery.record(Delivery.Superseded, at=now, by_version=newest)
            return "superseded"
        if outlet.rate_per_minute and not self._slot_free(outlet, now):
            return None  # wait for a slot rather than claim and give back
        return "claim"

    def _withdrawn_before_sent(self, delivery: Delivery, outlet: Outlet) -> bool:
        """A first send on a digest outlet whose item has a newer version planned
        there that takes it down: the item was withdrawn while this one waited."""
        if not outlet.digest_minutes or not _digestible(delivery):
            return False
        newest = self._view.newest(
            delivery.item_id, delivery.outlet, above=delivery.item_version
        )
        if newest <= delivery.item_version:
            return False
        newer = self._view.get(delivery_id(delivery.item_id, newest, delivery.outlet))
        return newer is not None and newer.operation in _REMOVALS

    def _execute(
        self,
        delivery: Delivery,
        took_over: bool,
        items: ItemCache,
    ) -> str:
        """Render and deliver a claimed delivery; record (not save) what happened."""
        prepared = self._prepare(delivery, took_over, items)
        if isinstance(prepared, str):
            return prepared
        outlet = self.outlets[delivery.outlet]
        adapter = self.outlet_set.adapter(outlet.name)
        try:
            receipt = self._deliver(outlet, adapter, prepared)
        except Exception as exc:
            return self._not_sent(delivery, outlet, prepared, exc)
        return self._sent(delivery, outlet, prepared, receipt)

    def _execute_many(
        self, ready: list[tuple[Delivery, bool]], items: ItemCache
    ) -> list[tuple[Delivery, str]]:
        """`_execute` for an outlet that takes a batch at once (`DeliversMany`): every
        claimed delivery rendered and checked, then one `deliver_many` call for those
        still to send, then each outcome recorded (not saved)."""
        outlet = self.outlets[ready[0][0].outlet]
        adapter = self.outlet_set.adapter(outlet.name)
        assert isinstance(adapter, DeliversMany)  # noqa: S101 - checked by the caller
        prepared = [(d, self._prepare(d, took_over, items)) for d, took_over in ready]
        sending = [r for _, r in prepared if isinstance(r, Rendition)]
        results: list[Receipt | Exception] = []
        if sending:
            try:
                results = list(
                    self._guarded(outlet, lambda s: adapter.deliver_many(sending, s))
                )
                if len(results) != len(sending):
                    raise TransientDeliveryError(
                        f"adapter error: deliver_many answered {len(results)} of "
                        f"{len(sending)} renditions"
                    )
            except Exception as exc:
                results = [exc] * len(sending)
        answers = iter(results)
        done: list[tuple[Delivery, str]] = []
        for delivery, rendition in prepared:
            if isinstance(rendition, str):
                done.append((delivery, rendition))
                continue
            answer = next(answers)
            if isinstance(answer, Receipt):
                outcome = self._sent(delivery, outlet, rendition, answer)
            else:
                outcome = self._not_sent(delivery, outlet, rendition, answer)
            done.append((delivery, outcome))
        return done

    def _prepare(
        self,
        delivery: Delivery,
        took_over: bool,
        items: ItemCache,
    ) -> str | Rendition:
        """A claimed delivery's rendition, ready to send; or the outcome recorded (not
        saved) instead: a check made, a render that failed, a claim given back."""
        outlet = self.outlets[delivery.outlet]
        attempt = delivery.attempt
        if delivery.confirming:
            # Checking only reads, so an expired claim is safe to take over.
            return self._confirm(delivery, outlet)
        if took_over and not outlet.capabilities.deduplicates:
            delivery.record(
                Delivery.Unconfirmed,
                at=self.clock(),
                worker=self.name,
                attempt=attempt,
                message="a worker's claim expired before it recorded an outcome; it may "
                "have sent this already, and the outlet cannot tell: resolve it with "
                "`syndicate resolve`",
                rendition_sha256=None,
            )
            return "unconfirmed"
        adapter = self.outlet_set.adapter(outlet.name)
        try:
            job = self.outlet_set.job(delivery, items)
        except PersistenceError as exc:  # the store hiccuped: try again later
            return self._failed(
                delivery,
                TransientDeliveryError(f"store error: {exc}"),
                None,
                permanent=False,
            )
        try:
            rendition = adapter.render(job)
            limit = outlet.capabilities.max_bytes
            if limit is not None and len(rendition.data) > limit:
                raise PermanentDeliveryError(
                    f"rendition is {len(rendition.data)} bytes; {outlet.name} accepts "
                    f"at most {limit}",
                    code="too_large",
                )
        except PermanentDeliveryError as exc:
            return self._failed(delivery, exc, None, permanent=True)
        except (
            Exception
        ) as exc:  # a bug in an adapter's render must not stop the worker
            return self._failed(
                delivery,
                PermanentDeliveryError(f"render failed: {exc!r}"),
                None,
                permanent=True,
            )
        if (
            self.stop_requested
            or not self._lease_left(delivery, outlet)
            or self._superseded_in_store(delivery, outlet)
            or not self._take_slots(outlet, delivery, _messages(rendition))
        ):
            delivery.record(
                Delivery.Released, at=self.clock(), worker=self.name, attempt=attempt
            )
            return "released"
        return rendition

    def _not_sent(
        self, delivery: Delivery, outlet: Outlet, rendition: Rendition, exc: Exception
    ) -> str:
        """Record (not save) what a send that raised `exc` means."""
        if isinstance(exc, UnknownOutcomeError):
            if outlet.capabilities.deduplicates:
                return self._failed(delivery, exc, rendition, permanent=False)
            delivery.record(
                Delivery.Unconfirmed,
                at=self.clock(),
                worker=self.name,
                attempt=delivery.attempt,
                message=f"{exc} (code {exc.code}); not resent automatically",
                rendition_sha256=rendition.sha256,
            )
            return "unconfirmed"
        if isinstance(exc, PermanentDeliveryError):
            return self._failed(delivery, exc, rendition, permanent=True)
        if isinstance(exc, DeliveryError):
            return self._failed(delivery, exc, rendition, permanent=False)
        # An adapter bug: record it, try later.
        return self._failed(
            delivery,
            TransientDeliveryError(f"adapter error: {exc!r}"),
            rendition,
            permanent=False,
        )

    def _sent(
        self, delivery: Delivery, outlet: Outlet, rendition: Rendition, receipt: Receipt
    ) -> str:
        """Record (not save) a send the outlet took."""
        attempt = delivery.attempt
        stored = _stored_receipt(receipt)
        if outlet.capabilities.confirms_async and not _final(receipt):
            # Accepted, not yet up: a later check (`_confirm`) says how it ended.
            now = self.clock()
            delivery.record(
                Delivery.Submitted,
                at=now,
                worker=self.name,
                attempt=attempt,
                rendition_sha256=rendition.sha256,
                receipt=stored,
                check_at=now + timedelta(seconds=self.backoff.check_delay(0)),
            )
            return "submitted"
        # On outlets a person puts up (notice boards) the rendition is ready, not yet
        # seen: the delivery waits for `syndicate attest`, and no worker touches it again
        # — unless the outlet says there is nothing for a person to do (a withdrawal of
        # an item none of whose sheets was ever posted).
        attested = (
            outlet.capabilities.needs_attestation
            and receipt.detail.get("attestation") != "none"
        )
        delivery.record(
            Delivery.AwaitingAttestation if attested else Delivery.Succeeded,
            at=self.clock(),
            worker=self.name,
            attempt=attempt,
            rendition_sha256=rendition.sha256,
            receipt=stored,
        )
        return "awaiting_attestation" if attested else "succeeded"

    def _confirm(self, delivery: Delivery, outlet: Outlet) -> str:
        """Ask the outlet how a submitted delivery ended; record (not save) the answer."""
        adapter = self.outlet_set.adapter(outlet.name)
        submitted = dict(delivery.submitted or {})
        sha256 = delivery.rendition_sha256 or ""
        if not isinstance(adapter, Confirms):
            return self._failed(
                delivery,
                PermanentDeliveryError(
                    f"{outlet.name}: the adapter confirms asynchronously but has no "
                    "`confirm` method",
                    code="no_confirm",
                ),
                None,
                permanent=True,
            )
        sent = Receipt(
            remote_id=submitted.get("remote_id"),
            detail={k: v for k, v in submitted.items() if k != "remote_id"},
        )
        error: DeliveryError | None = None
        try:
            answer = adapter.confirm(sent, self.outlet_set.session(outlet.name))
        except PermanentDeliveryError as exc:
            return self._failed(delivery, exc, None, permanent=True)
        except DeliveryError as exc:
            answer, error = None, exc
        except Exception as exc:  # an adapter bug: note it, look again later
            answer = None
            error = TransientDeliveryError(f"adapter error: {exc!r}")
        now = self.clock()
        if answer is not None:
            delivery.record(
                Delivery.Succeeded,
                at=now,
                worker=self.name,
                attempt=delivery.attempt,
                rendition_sha256=sha256,
                receipt={**submitted, **_stored_receipt(answer)},
            )
            return "succeeded"
        wait = self.backoff.check_delay(
            delivery.checks, error.retry_after if error else None
        )
        check_at = self._next_try(delivery, now, wait, self.backoff.checks[0])
        if check_at is None:
            why = f"; last error: {error}" if error else ""
            delivery.record(
                Delivery.Abandoned,
                at=now,
                reason=f"{outlet.name} had not confirmed it after {delivery.checks} "
                f"checks over {_span(now - delivery.planned_at)} (the limit is "
                f"{_span(self.backoff.max_age)}){why}"[:500],
            )
            return "abandoned"
        delivery.record(
            Delivery.Submitted,
            at=now,
            worker=self.name,
            attempt=delivery.attempt,
            rendition_sha256=sha256,
            receipt=submitted,
            check_at=check_at,
            message=(
                f"could not check: {type(error).__name__}: {error}"[:500]
                if error
                else None
            ),
        )
        return "submitted"

    def _deliver(
        self, outlet: Outlet, adapter: ChannelAdapter, rendition: Rendition
    ) -> Receipt:
        """`adapter.deliver`; a destination the network guard refused fails for good.

        The guard refuses before sending anything, and every adapter wraps transport
        errors its own way (transient, unknown outcome…). Whatever the wrapping, the
        refusal underneath means the outlet's configuration points somewhere it must not:
        retrying cannot help, so it becomes one `PermanentDeliveryError` here, for all
        adapters alike.
        """
        return self._guarded(outlet, lambda s: adapter.deliver(rendition, s))

    def _guarded(self, outlet: Outlet, send: Callable[[requests.Session], _T]) -> _T:
        """`send(session)`, with a network guard's refusal made permanent (see
        `_deliver`)."""
        try:
            session = getattr(self._local, "session", None)
            if session is None:
                session = self.outlet_set.session(outlet.name)
            return send(session)
        except Exception as exc:
            blocked = blocked_cause(exc)
            if blocked is None:
                raise
            raise PermanentDeliveryError(
                f"outlets.{outlet.name}: {blocked}", code="blocked_address"
            ) from exc

    def _failed(
        self,
        delivery: Delivery,
        exc: DeliveryError,
        rendition: Rendition | None,
        *,
        permanent: bool,
    ) -> str:
        now = self.clock()
        retry_at = None
        outcome = "failed"
        give_up = False
        if not permanent:
            wait = self.backoff.delay(delivery.id, delivery.attempt, exc.retry_after)
            retry_at = self._next_try(delivery, now, wait, self.backoff.schedule[0])
            if retry_at is None:  # the maximum age is up: this was the last try
                give_up = True
                retry_at = now + timedelta(seconds=wait)
            outcome = "retrying"
        delivery.record(
            Delivery.Failed,
            at=now,
            worker=self.name,
            attempt=delivery.attempt,
            error_class=type(exc).__name__,
            code=exc.code,
            message=str(exc)[:500],
            retry_at=retry_at,
            rendition_sha256=(
                rendition.sha256
                if rendition
                else delivery.rendition_sha256
                if delivery.confirming
                else None
            ),
        )
        if give_up:
            tries = (
                "1 attempt" if delivery.attempt == 1 else f"{delivery.attempt} attempts"
            )
            delivery.record(
                Delivery.Abandoned,
                at=now,
                reason=f"still failing after {tries} over "
                f"{_span(now - delivery.planned_at)} (the limit is "
                f"{_span(self.backoff.max_age)}); last error: {exc}"[:500],
            )
            outcome = "abandoned"
        return outcome

    def _next_try(
        self, delivery: Delivery, now: datetime, wait: float, least: float
    ) -> datetime | None:
        """When to try again after waiting `wait` seconds, or None: the maximum age is up.

        A wait that would end beyond the maximum age is cut short to end at it (one last
        try then, so a far-off `Retry-After` never gives up early), unless fewer than
        `least` seconds (the schedule's first step) are left: then there is no last try.
        """
        deadline = delivery.planned_at + self.backoff.max_age
        wanted = now + timedelta(seconds=wait)
        if wanted <= deadline:
            return wanted
        if (deadline - now).total_seconds() >= least:
            return deadline
        return None

    def _save_outcome(self, delivery: Delivery, outcome: str) -> str:
        """Save, and never lose an outcome to a concurrent change of the delivery."""
        return self._save_events(delivery.id, list(delivery.collect_events()), outcome)

    def _save_events(self, id_: UUID, pending: list[Any], outcome: str) -> str:
        for _ in range(10):
            try:
                self.deliveries.save(*pending)
                return outcome
            except IntegrityError:
                # Someone appended meanwhile (an expired claim taken over): append the
                # same facts after theirs — except "released" and "superseded", which
                # must not undo another worker's live claim.
                fresh = self.deliveries.delivery(id_)
                if fresh.state in _PUT_UP:
                    # Another worker produced the sheet (and maybe a person attested
                    # it): this late attempt's record would only undo that.
                    return outcome
                for raw in pending:
                    event = cast(Delivery.Event, raw)
                    if (
                        isinstance(event, Delivery.Released | Delivery.Superseded)
                        and fresh.state is DeliveryState.CLAIMED
                    ):
                        continue
                    fields = event.model_dump(
                        exclude={"originator_id", "originator_version", "timestamp"}
                    )
                    fresh.record(type(event), at=event.timestamp, **fields)
                pending = list(fresh.collect_events())
        raise RuntimeError(f"could not record the outcome of delivery {id_}")

    def _lease_left(self, delivery: Delivery, outlet: Outlet) -> bool:
        """The claim is still ours: a long batch must not send on an expired claim.

        (Another worker may have taken it over; then it is theirs to send.)
        """
        expires = delivery.claim_expires_at
        return expires is not None and self.clock() < expires

    def _superseded_in_store(self, delivery: Delivery, outlet: Outlet) -> bool:
        """Last look before sending to a latest-only outlet: is a newer version planned?

        If delivery v exists, the outlet took the item at v, so the planner plans v+1
        for it whenever the item has a version v+1: checking that one id is exact.
        """
        if not self._latest_only(outlet):
            return False
        if outlet.capabilities.whole_set:
            # A whole set as of a later log position replaces this one entirely; another
            # worker may have planned (or written) it since this batch was chosen.
            self.refresh()
            return self._view.furthest(outlet.name) > delivery.position
        newer = delivery_id(
            delivery.item_id, delivery.item_version + 1, delivery.outlet
        )
        return newer in self.deliveries.repository

    def _slot_free(self, outlet: Outlet, now: datetime) -> bool:
        """Whether a rate slot is free now (a peek; `_take_slots` takes them for real)."""
        return self._free_slots(outlet, now) > 0

    def _take_slots(self, outlet: Outlet, delivery: Delivery, count: int) -> bool:
        """Take `count` rate slots (one per message the platform will count), or none.

        A notice split into k messages costs k of the robot's 20 a minute. If fewer
        than `count` slots are free, the delivery waits; slots taken on the way stay
        taken for their minute, which only errs on the side of sending later. More
        messages than the whole limit take every slot (the adapter sends the rest as
        the platform allows).
        """
        limit = outlet.rate_per_minute
        if not limit:
            return True
        wanted = min(max(count, 1), limit)
        if wanted > 1 and self._free_slots(outlet, self.clock()) < wanted:
            return False
        return all(self._take_slot(outlet, delivery) for _ in range(wanted))

    def _free_slots(self, outlet: Outlet, now: datetime) -> int:
        free = 0
        for index in range(outlet.rate_per_minute or 0):
            slot_id = RateSlot.id_for(outlet.rate_key, index)
            if slot_id not in self.deliveries.repository:
                free += 1
                continue
            slot = cast(RateSlot, self.deliveries.repository.get(slot_id))
            if slot.is_free(now):
                free += 1
        return free

    def _take_slot(self, outlet: Outlet, delivery: Delivery) -> bool:
        limit = outlet.rate_per_minute
        if not limit:
            return True
        now = self.clock()
        for index in range(limit):
            slot_id = RateSlot.id_for(outlet.rate_key, index)
            try:
                if slot_id in self.deliveries.repository:
                    slot = cast(RateSlot, self.deliveries.repository.get(slot_id))
                    if not slot.is_free(now):
                        continue
                    slot.take(delivery=delivery.id, at=now)
                else:
                    slot = RateSlot.open(
                        outlet.rate_key, index, delivery=delivery.id, at=now
                    )
                self.deliveries.save(slot)
            except IntegrityError:
                continue  # another worker took this slot this instant
            return True
        return False


def _span(span: timedelta) -> str:
    """A duration as an operator reads it: "72 h", "2 h 5 min", "45 min", "5 s"."""
    seconds = max(int(span.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


# Operations that take an item down: never held for a digest window (an item
# withdrawn because it was wrong must not wait, nor go out after it was withdrawn).
_REMOVALS = frozenset({Operation.RETRACT.value, Operation.WITHDRAWAL_NOTICE.value})


def _digestible(delivery: Delivery) -> bool:
    """A delivery that may go in a digest: a first send of a publication or a
    correction (not a retry, a check, a withdrawal or a review notice)."""
    return (
        delivery.state is DeliveryState.PLANNED
        and delivery.operation != Operation.REVIEW_NOTICE.value
        and delivery.operation not in _REMOVALS
        and not delivery.confirming
    )


def _checked_digest(
    adapter: ChannelAdapter,
    jobs: list[DeliveryJob],
    deliveries: list[Delivery],
    max_bytes: int | None,
) -> list[Rendition]:
    """The adapter's digest of `jobs`, checked: every delivery in exactly one
    message, none too large. Raises PermanentDeliveryError (send them one by one)
    when the adapter cannot digest or broke the rules."""
    if not isinstance(adapter, Digests):
        raise PermanentDeliveryError("the adapter makes no digests", code="no_digest")
    renditions = adapter.render_digest(jobs)
    covered = [i for r in renditions for i in r.meta.get("covers", "").split(",")]
    if sorted(covered) != sorted(str(d.id) for d in deliveries):
        raise PermanentDeliveryError(
            "the digest does not carry each delivery exactly once", code="bad_digest"
        )
    if max_bytes is not None and any(len(r.data) > max_bytes for r in renditions):
        raise PermanentDeliveryError("a digest message is too large", code="too_large")
    return renditions


def _messages(rendition: Rendition) -> int:
    """How many messages the platform will count for this rendition (`meta["messages"]`
    from adapters that split a notice; 1 otherwise)."""
    try:
        return max(int(rendition.meta.get("messages", "1")), 1)
    except ValueError:
        return 1
