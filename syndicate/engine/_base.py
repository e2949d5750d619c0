"""The composition root: one place that opens a home's logs, its outlets and the worker.

Every operation the CLI, `syndicate demo`, the benchmarks and a portal backend run goes
through an `Engine` (see `syndicate.engine`); this module holds the part they share: the
project, the two logs opened lazily (and closed together), the one place a delivery
`Worker` is built, and the mapping of infrastructure failures to `StoreError`.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests
from eventsourcing.persistence import PersistenceError

from syndicate.application import Clock, Disclosures, system_clock
from syndicate.delivery import Backoff, Worker
from syndicate.domain.base import format_time
from syndicate.errors import InputError, Problem, StoreError, SyndicateError
from syndicate.outlets import Outlet
from syndicate.outletset import OutletSet
from syndicate.persistence import scrub
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.registry import Registry

__all__ = ["EngineBase", "store_error", "store_errors", "worker_name"]


def worker_name(role: str) -> str:
    """A worker's name as claims record it: `ROLE@HOST:PID` (a held claim names it, and
    `sync` tells when that process is gone)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def store_error(exc: PersistenceError | sqlite3.Error) -> StoreError:
    """An infrastructure failure as the `StoreError` an operator can act on."""
    if isinstance(exc, sqlite3.Error):  # e.g. a damaged database file
        return StoreError(
            f"event store: {exc}; check the files under the data directory"
        )
    return StoreError(f"event store: {scrub(str(exc))}")  # outside a known store


@contextmanager
def store_errors() -> Iterator[None]:
    """Raise what the event store or SQLite raise as `StoreError` (secrets scrubbed).

    Every `Engine` operation runs inside it, so callers catch `SyndicateError` only.
    """
    try:
        yield
    except SyndicateError:
        raise
    except (PersistenceError, sqlite3.Error) as exc:
        raise store_error(exc) from None


class EngineBase:
    """A home's project with its logs opened on first use; close it (or use `with`).

    The items log (`items`, a `Disclosures`) and the deliveries log (`deliveries`, whose
    planner follows the items log) are opened only when an operation needs them, so
    commands that read only syndicate.toml or the audit store do not touch them.
    """

    def __init__(
        self,
        project: Project,
        *,
        clock: Clock = system_clock,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        self.project = project
        self.clock = clock
        self.session_factory = session_factory
        self._items: Disclosures | None = None
        self._deliveries: Deliveries | None = None
        self._planning = False

    @classmethod
    def open(
        cls,
        home: Path | str,
        *,
        environ: Mapping[str, str] | None = None,
        registry: Registry | None = None,
        clock: Clock = system_clock,
        session_factory: Callable[[], requests.Session] = requests.Session,
        require_store: bool = True,
    ) -> Self:
        """The engine of the home at `home` (made by `Project.init`/`syndicate init`).

        Raises `ConfigurationError` if syndicate.toml is missing or wrong, or (with
        `require_store`) if its SQLite store is missing.
        """
        project = Project.load(Path(home), environ, registry=registry)
        if require_store:
            project.require_store()
        return cls(project, clock=clock, session_factory=session_factory)

    # -- the logs --------------------------------------------------------------------

    @property
    def items(self) -> Disclosures:
        """The items log: publish, revise, withdraw, get, resolve a REF."""
        if self._items is None:
            with store_errors():
                self._items = self.project.disclosures(clock=self.clock)
        return self._items

    @property
    def deliveries(self) -> Deliveries:
        """The deliveries log. Opened without the configured outlets, so reading it works
        while an outlet's table is wrong; `plan()` loads them first."""
        if self._deliveries is None:
            items = self.items
            with store_errors():
                self._deliveries = self.project.deliveries(
                    items, clock=self.clock, outlets={}
                )
        return self._deliveries

    def plan(self) -> int:
        """Plan deliveries for item events not planned yet; returns how many were seen.

        Raises `ConfigurationError` if an outlet in syndicate.toml does not load.
        """
        log = self.deliveries
        if not self._planning:
            log.outlets = dict(self.project.outlets)
            self._planning = True
        with store_errors():
            return log.plan()

    # -- one clock (docs/lifecycle.md) ------------------------------------------------

    def fix_clock(self, now: datetime, *, ahead: bool = False) -> None:
        """Run this engine at `now` from here on (`syndicate sync --now`: rehearsals
        and tests). Refused (`InputError`, nothing changed) for a naive time, one
        earlier than any event already in either log (the log's times never go
        back), one after 2199, and — unless `ahead` (`--rehearsal`: a copy of a home
        run through days to come) — one later than the wall clock: events recorded
        ahead of time cannot be taken back."""
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise InputError([Problem("now", "needs a date, a time and a time zone")])
        if now.year > 2199:
            raise InputError([Problem("now", f"{now:%Y} is not a year to rehearse")])
        if not ahead and now > system_clock() + timedelta(minutes=1):
            raise InputError(
                [
                    Problem(
                        "now",
                        f"{format_time(now)} is ahead of the real clock: every event "
                        "recorded then is dated in the future for good; only on a "
                        "rehearsal copy of a home, with --rehearsal",
                    )
                ]
            )
        with store_errors():
            latest = max(
                (
                    t
                    for t in (latest_time(self.items), latest_time(self.deliveries))
                    if t is not None
                ),
                default=None,
            )
        if latest is not None and now < latest:
            raise InputError(
                [
                    Problem(
                        "now",
                        f"{format_time(now)} is before the newest event in the log "
                        f"({format_time(latest)} China time); the log's times "
                        "never go back",
                    )
                ]
            )
        fixed = _Fixed(now)
        self.clock = fixed
        for log in (self._items, self._deliveries):
            if log is not None:
                log.clock = fixed

    # -- the worker ------------------------------------------------------------------

    def worker(
        self,
        role: str = "worker",
        *,
        outlets: Mapping[str, Outlet] | None = None,
        hold_digests: bool = True,
    ) -> Worker:
        """A delivery worker named `ROLE@HOST:PID`, with the home's lease, backoff and
        attachments; on `outlets` (default: the configured ones). Close it when done.
        `hold_digests`: outlets with `digest_minutes` wait for their window (a
        running worker); False sends what is due at once (`sync`).

        The only place a `Worker` is built: every caller gets the same settings. It
        sends through the same kind of `OutletSet` that `reader()` gives.
        """
        settings = self.project.delivery
        return Worker(
            self.deliveries,
            self.items,
            self.reader(outlets),
            name=worker_name(role),
            clock=self.clock,
            lease=timedelta(seconds=settings.claim_seconds),
            backoff=Backoff(
                max_age=timedelta(hours=settings.max_age_hours)
            ).with_first_check(settings.first_check_seconds),
            hold_digests=hold_digests,
            parallel_outlets=settings.parallel_outlets,
        )

    def reader(self, outlets: Mapping[str, Outlet] | None = None) -> OutletSet:
        """`outlets` (default: the configured ones) with their adapters and sessions,
        to render again and read back, never to send: for `status --check`,
        consistency, repair and replay. Close it when done."""
        return self.project.outlet_set(
            self.items,
            self.deliveries,
            self.project.outlets if outlets is None else outlets,
            clock=self.clock,
            session_factory=self.session_factory,
        )

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Close the logs that were opened."""
        if self._deliveries is not None:
            self._deliveries.close()
            self._deliveries = None
        if self._items is not None:
            self._items.close()
            self._items = None
        self._planning = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Fixed:
    """A clock that always says the same moment (`Engine.fix_clock`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def latest_time(log: Any) -> datetime | None:
    """The latest timestamp of any event stored in an eventsourcing application (not
    only the newest event's: a rehearsal ahead of the clock leaves later times before
    earlier ones). Reads every stored event's JSON: for `--now` only."""
    latest: datetime | None = None
    start = 0
    while True:
        page = log.recorder.select_notifications(
            start=start, limit=1000, inclusive_of_start=False
        )
        if not page:
            return latest
        for notification in page:
            stamp = json.loads(bytes(notification.state)).get("timestamp")
            if not isinstance(stamp, str):
                continue
            moment = datetime.fromisoformat(stamp)
            if latest is None or moment > latest:
                latest = moment
        start = page[-1].id
