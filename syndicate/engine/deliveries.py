"""Engine operations on deliveries: sync, run a worker, status rows, read-back checks,
retry and resolve.

```python
with Engine.open(home) as engine:
    result = engine.sync()                   # plan, deliver what is due, checkpoint
    for row in engine.status(item_id):       # one item on every outlet
        print(row.outlet, row.state, row.live_version)
```

Deliveries are written only by the worker (`sync`, `run_worker`) and by the two
operator decisions recorded here: `retry` and `resolve`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from syndicate.application import Timetable
from syndicate.audit.consistency import FileFinding, file_findings
from syndicate.audit.service import (
    auto_checkpoint,
    checkpointed,
    witnessed_checkpoints,
)
from syndicate.delivery import HeldClaim, RunSummary, Worker
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.domain.items import check_actor
from syndicate.domain.lifecycle import DueKind, due_at
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import InputError, ItemNotFound, Problem, SyndicateError
from syndicate.outlets import Outlet
from syndicate.planning import Deliveries
from syndicate.views import OutletStatus, outlet_status

__all__ = [
    "AwaitingSheet",
    "DeliveryOps",
    "DeliveryState",
    "HeldClaim",
    "Progress",
    "Resolution",
    "RunSummary",
    "Scheduled",
    "StatusRow",
    "StopFlag",
    "SyncResult",
    "WorkerRun",
    "checkpoint_due",
    "deliveries_by_prefix",
]

# What read-back may say without anything being wrong: the outlet shows the last
# delivery, it cannot be read, or nothing was delivered there yet.
_FINE = frozenset({"in sync", "cannot read back", None})
_SHOWN = frozenset(
    {
        DeliveryState.SUCCEEDED,
        DeliveryState.AWAITING_ATTESTATION,
        DeliveryState.ATTESTED,
    }
)

Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]
"""A progress display for `sync`: called with how many deliveries are due (only when
some are), it returns a context manager, entered around the delivering, that yields the
callback to call with 1 after each delivery moved on (e.g. a progress bar's update)."""


@dataclass
class SyncResult(RunSummary):
    """What `sync` did: the `RunSummary` facts (`planned_events`, `outcomes`, `held`,
    `waiting`, `ok`, `complete`) and `checkpoint`, the line the automatic checkpoint
    said ("" when none was due; it starts with "note:" when none could be made)."""

    checkpoint: str = ""
    erased: list[str] = field(default_factory=list)  # refs erased on schedule
    # Time-driven changes recorded first (docs/lifecycle.md): (ref, event), e.g.
    # ("县民政局/2026-001", "Released"), ("…", "NoticeEnded"), ("…", "Expired").
    timed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerRun:
    """What `run_worker` did before it stopped: its name and the outcomes it counted."""

    name: str
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AwaitingSheet:
    """A notice-board sheet produced and waiting for a person to post it (and for
    `attest` to record who did)."""

    delivery_id: UUID
    version: int
    operation: str
    file: str | None  # the sheet's file in the outlet's folder
    since: datetime | None  # when it was produced
    # How long it has waited (as of the engine's clock when `status` ran), and how
    # many reminders its person was sent (outlets that remind: village relays).
    waited: timedelta | None = None
    reminders: int = 0


@dataclass(frozen=True)
class Scheduled:
    """A version waiting for its scheduled release (待发布): when, and the review
    level it still waits for (None: approved, or review off)."""

    item_id: UUID
    ref: str
    release_at: datetime
    awaiting: str | None
    reason: str | None


@dataclass(frozen=True)
class StatusRow:
    """One item on one outlet, as `status` reports it.

    `delivery_id`, `version`, `operation`: the item's newest delivery there. On a
    whole-set outlet (feeds, kiosk bundle) whose later rendition of the whole set took
    that delivery over, `carried_by` is that rendition and `state`, `attempts`,
    `last_error`, `next_try` and the claim are its own. `live_version`: what readers see
    there now (a version, "withdrawn", or None for nothing). `next_try`: the next
    attempt (retrying) or check with the outlet (submitted). `claimed_by` and
    `claim_expires_at`: the worker holding a claim and until when nobody else may take
    it (a killed worker's claim waits for this too). `attested_*`: who posted the newest
    notice-board sheet; `awaiting_attestation`: sheets still to post. `on_outlet`: with
    `check`, what read-back says about the last delivery ("in sync", "drifted (…)",
    "missing", "not removed", "read failed: …", "cannot read back", "not configured: …",
    or None when nothing was delivered there).
    """

    item_id: UUID
    ref: str
    outlet: str
    delivery_id: UUID
    version: int
    operation: str
    state: DeliveryState
    live_version: int | str | None
    carried_by: UUID | None
    attempts: int
    last_error: str | None
    next_try: datetime | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    attested_by: str | None
    attested_at: datetime | None
    photo_sha256: str | None
    awaiting_attestation: tuple[AwaitingSheet, ...]
    on_outlet: str | None = None
    # The item's personal data was erased (`items erase`) and this outlet got nothing
    # after it: what it holds (a group message) cannot be recalled. When, or None.
    not_recalled: datetime | None = None

    @property
    def out_of_sync(self) -> bool:
        """Read-back found the outlet not showing the last delivery (or could not say
        because the outlet's configuration does not load)."""
        return self.on_outlet not in _FINE


@dataclass(frozen=True)
class Resolution:
    """An unconfirmed delivery settled by an operator: `sent` (recorded as delivered)
    or not (queued to be sent again), recorded at `at`."""

    delivery_id: UUID
    sent: bool
    at: datetime


class StopFlag:
    """A request to stop `run_worker`, safe to set from a signal handler.

    It takes no lock (a `threading.Event` does, and setting one from a signal handler
    can deadlock the thread it interrupts), and it reaches the running worker at once:
    one that was about to send gives its claim back instead.
    """

    def __init__(self) -> None:
        self._set = False
        self._workers: list[Worker] = []

    def set(self) -> None:
        """Ask the worker to stop after its current attempt."""
        self._set = True
        for worker in self._workers:
            worker.stop_requested = True

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._set

    def _attach(self, worker: Worker) -> None:
        """Pass a stop on to `worker` while it runs."""
        self._workers.append(worker)
        if self._set:
            worker.stop_requested = True

    def _detach(self, worker: Worker) -> None:
        self._workers.remove(worker)


def checkpoint_due(
    total: int, covered: int, waited: float, every: int, interval: float
) -> int | None:
    """Whether a worker should try to checkpoint now, as the `every` to pass to
    `auto_checkpoint` (re-checked there against the store): `every` once that many
    events are not covered, 1 once `interval` seconds passed with any uncovered."""
    if total - covered >= every:
        return every
    if total > covered and waited >= interval:
        return 1
    return None


class DeliveryOps(EngineBase):
    """Engine operations: sync, run a worker, status rows, read-back checks, retry,
    resolve."""

    # -- delivering ------------------------------------------------------------------

    def sync(self, *, progress: Progress | None = None) -> SyncResult:
        """Plan deliveries for new item events, deliver everything due now, then sign
        a checkpoint if one is due; returns what happened.

        `result.ok` is False if any attempt failed (it will be retried later), failed
        for good, was abandoned or is unconfirmed; `result.complete` is False if
        deliveries due now are held by another worker's claim (`held`, `waiting`).
        Raises `ConfigurationError` if an outlet does not load, `StoreError` if the
        store fails. `progress`: see `Progress`.
        """
        timed = self.advance()
        erased = self.erase_due()
        result = SyncResult(planned_events=self.plan(), erased=erased, timed=timed)
        with store_errors():
            # A sync sends what is due now: digests do not wait for their window.
            worker = self.worker("sync", hold_digests=False)
            try:
                due = len(worker.due(worker.clock())) if progress else 0
                with progress(due) if progress and due else nullcontext() as step:
                    worker.run_until_idle(result, on_progress=step)
                result.reminded = worker.remind()
            finally:
                worker.close()
        result.checkpoint = auto_checkpoint(self.project, "sync")
        return result

    def advance(self, timetable: Timetable | None = None) -> list[tuple[str, str]]:
        """Record the time-driven changes due by the engine's clock (scheduled
        releases, ended 公示 windows, lapsed validity), before planning; returns (ref,
        event) of each. `sync` and the worker run it; see `Disclosures.advance`."""
        return [(c.ref, c.event) for c in self.items.advance(timetable=timetable)]

    def erase_due(self) -> list[str]:
        """With `[guard] erase_after_days`, erase the sealed parts whose 公示期 ended
        that long ago (before planning, so outlets drop them in the same run); the
        refs erased."""
        days = self.project.erase_after_days
        if days is None:
            return []
        return [c.ref for c in self.items.erase_due(after_days=days)]

    def run_worker(
        self,
        *,
        poll: float = 1.0,
        stop: StopFlag | threading.Event | None = None,
        on_start: Callable[[str], None] | None = None,
        on_round: Callable[[RunSummary], None] | None = None,
        on_checkpoint: Callable[[str], None] | None = None,
        outlets: Collection[str] | None = None,
    ) -> WorkerRun:
        """Plan and deliver continuously, looking for work every `poll` seconds, until
        `stop` is set (a `StopFlag` from a signal handler, or a `threading.Event` set by
        another thread; without one, until the process ends).

        Calls `on_start(name)` once the worker (`worker@HOST:PID`) is built,
        `on_round(summary)` after each round that moved deliveries on, and
        `on_checkpoint(line)` with what each automatic checkpoint said (a line said
        before, such as a missing signing key, is not repeated). A checkpoint is signed
        once `[audit] checkpoint_every` events are not covered by the newest one, or
        `checkpoint_minutes` after the last try when any are.

        A stopped worker finishes its current attempt or gives its claim back. A
        `StopFlag` reaches it at once; an `Event` is seen between deliveries.
        `outlets`: deliver only to these configured outlets (it still plans for all):
        on several hosts, a file outlet's worker runs where its folder is served.

        Raises `InputError` for a `poll` that is not a positive number, or an outlet
        that is not configured (field `--outlet`).
        """
        if not poll > 0:  # zero, negative or NaN: a busy loop that never looks up
            raise InputError(
                [Problem("poll", f"must be more than 0 seconds, not {poll}")]
            )
        chosen = self._chosen_outlets(outlets)
        flag = stop if stop is not None else StopFlag()
        runner = self.worker("worker", outlets=chosen)
        total_outcomes: dict[str, int] = {}

        def stopping(_: int = 0) -> None:
            # An Event cannot tell the worker itself; look after each delivery.
            if flag.is_set():
                runner.stop_requested = True

        try:
            if isinstance(flag, StopFlag):
                flag._attach(runner)
            if on_start:
                on_start(runner.name)
            told: set[str] = set()
            every = self.project.audit.checkpoint_every
            interval = self.project.audit.checkpoint_minutes * 60
            counted = checkpointed(self.project)  # events the newest one covers
            tried = time.monotonic()
            erased_at = -math.inf
            # When each item's next time-driven change is due, kept up to date from
            # the log's new events only: a round looks at the items due, not the log.
            timetable = self.items.timetable
            stopping()
            while not runner.stop_requested:
                self.advance(timetable)
                # Scheduled erasure reads the log's content events: hourly is enough
                # for a limit counted in days.
                if time.monotonic() - erased_at >= 3600:
                    self.erase_due()
                    erased_at = time.monotonic()
                summary = RunSummary(planned_events=self.plan())
                with store_errors():
                    runner.run_until_idle(summary, on_progress=stopping)
                    summary.reminded = runner.remind()
                for outcome, count in summary.outcomes.items():
                    total_outcomes[outcome] = total_outcomes.get(outcome, 0) + count
                if summary.attempted and on_round:
                    on_round(summary)
                # Counting events is cheap on the open logs; the checkpoint store is
                # only opened once `checkpoint_every` more have been logged than the
                # newest checkpoint covers, or `checkpoint_minutes` after the last try.
                total = self._logged()
                due = checkpoint_due(
                    total, counted, time.monotonic() - tried, every, interval
                )
                if due:
                    said = auto_checkpoint(self.project, "worker", every=due)
                    tried = time.monotonic()
                    # Another worker may have checkpointed (nothing due here): count
                    # from what is covered. Without a key, wait for the next round.
                    counted = (
                        total
                        if said.startswith("note:")
                        else checkpointed(self.project)
                    )
                    if said and said not in told:  # a missing key is said once
                        if on_checkpoint:
                            on_checkpoint(said)
                        told.add(said)
                # Short sleeps, so a stop is seen within 0.1 s (no Event.wait: a
                # signal handler may set the flag while this thread waits).
                deadline = time.monotonic() + poll
                while not runner.stop_requested and time.monotonic() < deadline:
                    time.sleep(min(0.1, poll))
                    stopping()
        finally:
            runner.close()
            if isinstance(flag, StopFlag) and runner in flag._workers:
                flag._detach(runner)
        return WorkerRun(runner.name, total_outcomes)

    def _chosen_outlets(
        self, names: Collection[str] | None
    ) -> dict[str, Outlet] | None:
        """The configured outlets `names` names (None: all); `InputError` (field
        `--outlet`) for a name that is not configured."""
        if names is None:
            return None
        configured = self.project.outlets
        unknown = sorted(set(names) - set(configured))
        if unknown or not names:
            listed = ", ".join(repr(n) for n in unknown) or "none given"
            raise InputError(
                [
                    Problem(
                        "--outlet",
                        f"{listed}: not an outlet in syndicate.toml (outlets: "
                        f"{', '.join(configured) or 'none'})",
                    )
                ]
            )
        return {n: configured[n] for n in configured if n in set(names)}

    def _logged(self) -> int:
        """Events in both logs (items + deliveries positions)."""
        with store_errors():
            logged = self.deliveries.recorder.max_notification_id() or 0
            return self.items.position() + logged

    # -- reading status --------------------------------------------------------------

    def known_outlet(self, outlet: str | None) -> None:
        """Raise `InputError` (field `--outlet`) unless `outlet` is None or names an
        outlet in syndicate.toml or in the deliveries log (removed from the file)."""
        if outlet is None:
            return
        configured = self.project.outlet_names
        if outlet in configured:
            return
        with store_errors():
            self.deliveries.index.catch_up()
            logged = self.deliveries.index.outlets()
        if outlet in logged:
            return  # removed from syndicate.toml, still in the log
        raise InputError(
            [
                Problem(
                    "--outlet",
                    f"no outlet {outlet!r} in syndicate.toml or in the deliveries log "
                    f"(outlets: {', '.join(configured) or 'none'})",
                )
            ]
        )

    def scheduled(self, ref: str | UUID | None = None) -> list[Scheduled]:
        """Versions waiting for a scheduled release (待发布), the earliest first; only
        the item `ref` names when given."""
        with store_errors():
            only = self.items.resolve(ref) if ref is not None else None
            if only is not None:
                # One item: its own next changes, from its own events.
                upcoming = sorted(due_at(self.items.get(only)) or [])
            else:
                # The timetable chooses the items; each one's changes are read from
                # its own events (a row edited in for no item adds nothing).
                table = self.items.timetable
                table.refresh()
                upcoming = []
                for id_ in table.waiting():
                    try:
                        upcoming += due_at(self.items.get(id_))
                    except ItemNotFound:
                        continue
                upcoming.sort()
            found = []
            for change in upcoming:
                if change.kind is not DueKind.RELEASE:
                    continue
                if only is not None and change.item_id != str(only):
                    continue
                item = self.items.get(UUID(change.item_id))
                pending = item.pending
                found.append(
                    Scheduled(
                        item_id=item.id,
                        ref=item.ref,
                        release_at=change.at,
                        awaiting=pending.next_level if pending else None,
                        reason=item.schedule.reason if item.schedule else None,
                    )
                )
        return found

    def status(
        self,
        ref: str | UUID | None = None,
        outlet: str | None = None,
        *,
        check: bool = False,
    ) -> list[StatusRow]:
        """Each item on each outlet it has deliveries for, sorted by REF then outlet;
        only the item `ref` names (an id, `AGENCY/INDEX_NO` or an id prefix) and only
        `outlet` when given. With `check`, each row's `on_outlet` says what reading the
        outlet back shows (nothing is sent).

        Raises `InputError` for an unknown outlet, `ItemNotFound` for a REF that names
        no item.
        """
        self.known_outlet(outlet)
        with store_errors():
            only = self.items.resolve(ref) if ref is not None else None
            view = self._status_view(only)
            summaries = (
                {s.id: s for s in self.items.items()}
                if only is None
                else {only: self.items.summary(only)}
            )
        refs = {id_: s.ref for id_, s in summaries.items()}
        now = self.clock()
        whole = {
            n for n in {d.outlet for d in view.values()} if self.project.whole_set(n)
        }
        rows = [
            _row(s, refs.get(s.item_id, str(s.item_id)), now)
            for s in outlet_status(
                view.values(), whole_set=whole, item=only, outlet=outlet
            )
        ]
        for index, row in enumerate(rows):
            summary = summaries.get(row.item_id)
            erased = summary.erased if summary is not None else None
            if erased is not None and row.version < erased[0]:
                rows[index] = replace(row, not_recalled=erased[1])
        rows.sort(key=lambda r: (r.ref, r.outlet))
        return self._checked(rows, view) if check else rows

    def _status_view(self, only: UUID | None) -> dict[UUID, Delivery]:
        """The deliveries `status` reads: every one (a fold of the log), or for one
        item its own, from the deliveries read model, and on each whole-set outlet it
        is on, the newest rendition planned and the newest done (what shows it)."""
        if only is None:
            return self.deliveries.all_deliveries()
        index = self.deliveries.index
        index.catch_up()
        mine = index.load(index.ids_of(only))
        extra: list[UUID] = []
        for name in sorted({d.outlet for d in mine}):
            if self.project.whole_set(name):
                for done in (False, True):
                    found = index.furthest_id(name, done=done)
                    if found is not None:
                        extra.append(found)
        view = {d.id: d for d in mine}
        for d in index.load(extra):
            view.setdefault(d.id, d)
        return view

    def _checked(
        self, rows: list[StatusRow], view: dict[UUID, Delivery]
    ) -> list[StatusRow]:
        """`rows` with `on_outlet` set: what read-back says about the last delivery."""
        outlets, problems = self.project.outlets_for_reading()
        delivered = [d for d in view.values() if d.state in _SHOWN]
        # A whole-set outlet holds its newest rendition, whichever item it was for.
        newest: dict[str, Delivery] = {}
        for d in delivered:
            if d.outlet not in newest or d.position > newest[d.outlet].position:
                newest[d.outlet] = d
        verdicts: dict[UUID, str] = {}
        files: dict[str, list[FileFinding] | str | None] = {}
        witnessed = witnessed_checkpoints(self.project)
        checked = []
        reader = self.reader(outlets)

        def files_verdict(row: StatusRow, whole: bool) -> str:
            """ "in sync", unless a file the row's item owns (any file, on a whole-set
            outlet) differs from what the log gives (see `audit consistency`). Each
            outlet's folder is compared once (`files`)."""
            name = row.outlet
            if name not in files:
                try:
                    files[name] = file_findings(reader, name, witnessed)
                except Exception as exc:  # a render or a scratch folder that fails
                    files[name] = f"read failed: {type(exc).__name__}: {exc}"[:200]
            found = files[name]
            if isinstance(found, str):
                return found
            mine = [f for f in found or () if whole or row.item_id in f.owners]
            if not mine:
                return "in sync"
            more = f" and {len(mine) - 1} more" if len(mine) > 1 else ""
            return f"{mine[0].verdict} ({mine[0].path}: {mine[0].detail}{more})"

        try:
            for row in rows:
                if row.outlet in problems:
                    verdict = self._unloadable(row.outlet, problems)
                    checked.append(replace(row, on_outlet=verdict))
                    continue
                mine = [
                    d
                    for d in delivered
                    if d.item_id == row.item_id and d.outlet == row.outlet
                ]
                cfg = outlets.get(row.outlet)
                whole = cfg is not None and cfg.capabilities.whole_set
                if whole:
                    # The folder holds the newest whole set, whichever item it was for.
                    mine = [newest[row.outlet]] if row.outlet in newest else []
                if not mine:
                    checked.append(replace(row, on_outlet=None))
                    continue
                last = max(mine, key=lambda d: d.item_version)
                if last.id not in verdicts:  # a whole set is read once
                    verdicts[last.id] = reader.check_outlet(last)
                on_outlet = verdicts[last.id]
                if on_outlet == "in sync" and cfg is not None:
                    on_outlet = files_verdict(row, whole)
                checked.append(replace(row, on_outlet=on_outlet))
        finally:
            reader.close()
        return checked

    def _unloadable(self, name: str, problems: dict[str, str]) -> str:
        """An outlet whose table does not load: fine if it could not be read back
        anyway."""
        kind = self.project.outlet_kind(name)
        try:
            if kind and not self.project.registry[kind].capabilities.reads_back:
                return "cannot read back"
        except SyndicateError:
            pass
        return f"not configured: {problems[name]}"

    # -- operator decisions ----------------------------------------------------------

    def retry(
        self, ref: str | UUID | None = None, outlet: str | None = None, *, actor: str
    ) -> int:
        """Queue failed and abandoned deliveries (of the item `ref` names, on `outlet`,
        when given) for another attempt, each recorded with `actor`; returns how many.
        The next `sync` or worker round attempts them.

        Raises `InputError` for an unknown outlet, `ItemNotFound` for an unknown REF.
        """
        actor = check_actor(actor)
        self.known_outlet(outlet)
        count = 0
        retryable = (DeliveryState.FAILED, DeliveryState.ABANDONED)
        with store_errors():
            only = self.items.resolve(ref) if ref is not None else None
            index = self.deliveries.index
            index.catch_up()
            chosen = index.load(index.ids_in(retryable))
            for d in chosen:
                if d.state not in retryable:
                    continue
                if (only and d.item_id != only) or (outlet and d.outlet != outlet):
                    continue
                fresh = self.deliveries.delivery(d.id)
                if fresh.state not in retryable:  # it moved on since the view was read
                    continue
                fresh.record(Delivery.RetryRequested, at=self.clock(), actor=actor)
                self.deliveries.save(fresh)
                count += 1
        return count

    def resolve(self, delivery: str, *, sent: bool, actor: str) -> Resolution:
        """Settle the unconfirmed delivery whose id is (or starts with) `delivery`
        after an operator checked the outlet: `sent` records it as delivered, otherwise
        it is sent again.

        Raises `ItemNotFound` when no delivery matches, `InputError` (field DELIVERY)
        when several do or it is not unconfirmed.
        """
        actor = check_actor(actor)
        prefix = delivery.strip().lower()
        if not prefix:
            raise InputError([Problem("DELIVERY", "give a delivery id (or its start)")])
        with store_errors():
            matches = self._matching(prefix)
            if not matches:
                raise ItemNotFound(f"no delivery {delivery}")
            if len(matches) > 1:
                raise InputError(
                    [Problem("DELIVERY", f"{delivery!r} matches {len(matches)}")]
                )
            fresh = self.deliveries.delivery(matches[0].id)
            if fresh.state is not DeliveryState.UNCONFIRMED:
                raise InputError(
                    [
                        Problem(
                            "DELIVERY",
                            f"is {fresh.state.value}; only unconfirmed ones resolve",
                        )
                    ]
                )
            at = self.clock()
            fresh.record(Delivery.Resolved, at=at, actor=actor, sent=sent)
            if sent and fresh.rendition_sha256 and self._person_puts_up(fresh.outlet):
                # Sent to the person who puts it up (a 网格员's task): it still waits
                # for them, as if the outlet had answered.
                fresh.record(
                    Delivery.AwaitingAttestation,
                    at=at,
                    worker=actor,
                    attempt=fresh.attempt,
                    rendition_sha256=fresh.rendition_sha256,
                    receipt=dict(fresh.receipt or {}),
                )
            self.deliveries.save(fresh)
        return Resolution(fresh.id, sent, at)

    def _person_puts_up(self, outlet: str) -> bool:
        """Whether the configured outlet `outlet` needs attestation (False when it is
        not configured or does not load)."""
        found, _ = self.project.outlets_and_problems()
        target = found.get(outlet)
        return target is not None and target.capabilities.needs_attestation

    def _matching(self, prefix: str) -> list[Delivery]:
        """Deliveries whose id starts with `prefix` (like a git commit prefix)."""
        with store_errors():
            return deliveries_by_prefix(self.deliveries, prefix)


def deliveries_by_prefix(log: Deliveries, prefix: str) -> list[Delivery]:
    """The deliveries in `log` whose id starts with `prefix`, as folded from the log
    (`resolve` and `attest` say how many matched in their own words)."""
    log.index.catch_up()
    found = log.index.load(log.index.ids_starting(prefix))
    return [d for d in found if str(d.id).startswith(prefix)]


def _row(s: OutletStatus, ref: str, now: datetime) -> StatusRow:
    """The status row of one item on one outlet."""
    newest = s.delivery
    attested = newest.attestation
    shown = s.carried_by or newest  # the delivery whose claim and tries show
    claimed = s.state is DeliveryState.CLAIMED
    return StatusRow(
        item_id=s.item_id,
        ref=ref,
        outlet=s.outlet,
        delivery_id=newest.id,
        version=newest.item_version,
        operation=newest.operation,
        state=s.state,
        live_version=s.live_version,
        carried_by=s.carried_by.id if s.carried_by else None,
        attempts=s.attempts,
        last_error=s.last_error,
        next_try=s.due_at,
        claimed_by=shown.claimed_by if claimed else None,
        claim_expires_at=shown.claim_expires_at if claimed else None,
        attested_by=attested.by if attested else None,
        attested_at=attested.posted_at if attested else None,
        photo_sha256=attested.photo_sha256 if attested else None,
        awaiting_attestation=tuple(
            AwaitingSheet(
                delivery_id=d.id,
                version=d.item_version,
                operation=d.operation,
                file=(d.receipt or {}).get("file"),
                since=d.delivered_at,
                waited=now - d.delivered_at if d.delivered_at else None,
                reminders=getattr(d, "reminders", 0),
            )
            for d in s.awaiting
        ),
    )
