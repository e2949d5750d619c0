"""Delivery commands: sync, worker, status, retry, resolve."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Annotated, Any
from uuid import UUID

import typer

from syndicate.application import Disclosures
from syndicate.audit.consistency import FileFinding, Witnessed, file_findings
from syndicate.audit.service import (
    auto_checkpoint,
    checkpointed,
    witnessed_checkpoints,
)
from syndicate.cli.output import (
    cli_errors,
    echo_json,
    format_time,
    iso_china,
    table,
)
from syndicate.cli.state import ActorOption, JsonOption, resolve_actor, state_of
from syndicate.delivery import Backoff, HeldClaim, RunSummary, Worker
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.errors import InputError, ItemNotFound, Problem, SyndicateError
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.views import outlet_status

__all__ = ["register"]

OutletOption = Annotated[
    str | None, typer.Option("--outlet", metavar="NAME", help="Only this outlet.")
]


@dataclass
class Engine:
    """The two logs of a home, opened together."""

    project: Project
    items: Disclosures
    deliveries: Deliveries

    def worker(self, name: str) -> Worker:
        settings = self.project.delivery
        return Worker(
            self.deliveries,
            self.items,
            self.project.outlets,
            name=name,
            lease=timedelta(seconds=settings.claim_seconds),
            backoff=Backoff(
                max_age=timedelta(hours=settings.max_age_hours)
            ).with_first_check(settings.first_check_seconds),
            attachments=self.project.attachments.root,
        )


@contextmanager
def engine(ctx: typer.Context, *, outlets: bool = True) -> Iterator[Engine]:
    project = state_of(ctx).project()
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets=None if outlets else {}) as deliveries,
    ):
        yield Engine(project, items, deliveries)


def _worker_name(prefix: str) -> str:
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}"


# `sync`: nothing failed, but deliveries due now are held by another worker's claim.
HELD_EXIT = 3


def printable(text: str) -> str:
    """`text` safe to print to a terminal: control and format characters (escape
    sequences, bidirectional overrides) as `\\x1b`-style escapes.

    Errors come from receivers (a robot's errmsg, a redirect's Location); one must not
    be able to clear the operator's screen, retitle the window or hide text.
    """
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


def _print_summary(summary: RunSummary) -> None:
    parts = [
        f"{count} {outcome}" for outcome, count in sorted(summary.outcomes.items())
    ]
    typer.echo(
        f"planned {summary.planned_events} new item event(s); "
        f"attempts: {', '.join(parts) if parts else 'none due'}",
        err=True,
    )


def held_lines(held: list[HeldClaim], waiting: int = 0) -> list[str]:
    """What is held by other workers' claims, one line per worker (soonest first)."""
    by_worker: dict[str, list[HeldClaim]] = {}
    for claim in held:
        by_worker.setdefault(claim.worker, []).append(claim)
    lines = []
    for worker, claims in by_worker.items():
        outlets = sorted({c.outlet for c in claims})
        until = max(c.expires_at for c in claims)
        gone = (
            " (no such process on this host any more: it was stopped or killed)"
            if claims[0].process_gone
            else ""
        )
        lines.append(
            f"held: {len(claims)} delivery(ies) on {', '.join(outlets)} claimed by "
            f"{printable(worker)}{gone} until {format_time(until)}"
        )
    if waiting:
        lines.append(f"held: {waiting} more wait behind them (later versions)")
    if held:
        lines.append(
            "held: no worker takes a claim over before it expires (its holder may still "
            "be sending); run `syndicate sync` again after "
            f"{format_time(max(c.expires_at for c in held))}, or keep a "
            "`syndicate worker` running"
        )
    return lines


def sync(ctx: typer.Context) -> None:
    """Plan deliveries for new item events, then deliver everything due now, and exit.

    Exit 0 if every attempt succeeded, 1 if any failed (and will be retried later),
    failed for good, was abandoned or is unconfirmed; `syndicate status` says which.
    Exit 3 if nothing failed but deliveries due now are held by another worker's
    claim (a running worker, or one that was killed: its claims wait until their
    lease ends); it says how many, by whom and until when.

    Example: syndicate --home /srv/disclosure sync
    """
    with cli_errors(), engine(ctx) as run:
        summary = RunSummary(planned_events=run.deliveries.plan())
        worker = run.worker(_worker_name("sync"))
        try:
            due = len(worker.due(worker.clock()))
            if sys.stderr.isatty() and due:
                with typer.progressbar(
                    length=due, label="delivering", file=sys.stderr
                ) as bar:
                    worker.run_until_idle(summary, on_progress=bar.update)
            else:
                worker.run_until_idle(summary)
        finally:
            worker.close()
        _print_summary(summary)
        for line in held_lines(summary.held, summary.waiting):
            typer.echo(line, err=True)
        said = auto_checkpoint(run.project, "sync")
        if said:
            typer.echo(said, err=said.startswith("note:"))
        if not summary.ok:
            raise typer.Exit(1)
        if not summary.complete:
            raise typer.Exit(HELD_EXIT)


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


def worker(
    ctx: typer.Context,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between looks for work.")
    ] = 1.0,
) -> None:
    """Plan and deliver continuously until SIGTERM or Ctrl-C.

    Several workers may run at once, on one machine or many (PostgreSQL store); a claim
    is exclusive, and a stopped worker finishes its current attempt or gives its claim
    back before it exits.

    Example: syndicate worker --poll 0.5
    """
    with cli_errors(), engine(ctx) as run:
        runner = run.worker(_worker_name("worker"))

        def stop(signum: int, frame: FrameType | None) -> None:
            runner.stop_requested = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        typer.echo(f"worker {runner.name} started", err=True)
        told: set[str] = set()
        every = run.project.audit.checkpoint_every
        interval = run.project.audit.checkpoint_minutes * 60
        counted = checkpointed(run.project)  # events the newest checkpoint covers
        tried = time.monotonic()
        try:
            while not runner.stop_requested:
                summary = RunSummary(planned_events=run.deliveries.plan())
                runner.run_until_idle(summary)
                if summary.attempted:
                    _print_summary(summary)
                # Counting events is cheap on the open logs; the checkpoint store is
                # only opened once `checkpoint_every` more have been logged than the
                # newest checkpoint covers, or `checkpoint_minutes` after the last try.
                logged = run.deliveries.recorder.max_notification_id() or 0
                total = run.items.position() + logged
                due = checkpoint_due(
                    total, counted, time.monotonic() - tried, every, interval
                )
                if due:
                    said = auto_checkpoint(run.project, "worker", every=due)
                    tried = time.monotonic()
                    # Another worker may have checkpointed (nothing due here): count
                    # from what is covered. Without a key, wait for the next round.
                    counted = (
                        total if said.startswith("note:") else checkpointed(run.project)
                    )
                    if said and said not in told:  # a missing key is said once
                        typer.echo(said, err=True)
                        told.add(said)
                deadline = time.monotonic() + poll
                while not runner.stop_requested and time.monotonic() < deadline:
                    time.sleep(min(0.1, poll))
        finally:
            runner.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        typer.echo(f"worker {runner.name} stopped", err=True)


def _known_outlet(run: Engine, outlet: str | None) -> None:
    """`--outlet NAME` names an outlet in syndicate.toml or in the deliveries log."""
    if outlet is None:
        return
    configured = run.project.outlet_names
    if outlet in configured:
        return
    if any(d.outlet == outlet for d in run.deliveries.all_deliveries().values()):
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


def _rows(run: Engine, ref: str | None, outlet: str | None) -> list[dict[str, Any]]:
    only = run.items.resolve(ref) if ref else None
    view = run.deliveries.all_deliveries().values()
    whole = {name for name in {d.outlet for d in view} if run.project.whole_set(name)}
    refs = {s.id: s.ref for s in run.items.items()}
    rows = []
    for s in outlet_status(view, whole_set=whole, item=only, outlet=outlet):
        newest = s.delivery
        attested = newest.attestation
        shown = s.carried_by or newest
        claimed = s.state is DeliveryState.CLAIMED
        rows.append(
            {
                "item_id": str(s.item_id),
                "ref": refs.get(s.item_id, str(s.item_id)),
                "outlet": s.outlet,
                "delivery_id": str(newest.id),
                "version": newest.item_version,
                "operation": newest.operation,
                "state": s.state.value,
                "live_version": s.live_version,
                # Whole-set outlets: the later rendition of the whole set that took
                # this item's newest delivery over (its state, tries and error show).
                "carried_by": str(s.carried_by.id) if s.carried_by else None,
                "attempts": s.attempts,
                "last_error": s.last_error,
                # Retrying: the next attempt; submitted: the next check with the outlet.
                "next_try": iso_china(s.due_at) if s.due_at else None,
                # Claimed: which worker holds it, and until when (no one else may
                # take it before; a killed worker's claim waits for this too).
                "claimed_by": shown.claimed_by if claimed else None,
                "claim_expires_at": (
                    iso_china(shown.claim_expires_at)
                    if claimed and shown.claim_expires_at
                    else None
                ),
                # Notice boards: who put the newest sheet up, and sheets still to post.
                "attested_by": attested.by if attested else None,
                "attested_at": iso_china(attested.posted_at) if attested else None,
                "photo_sha256": attested.photo_sha256 if attested else None,
                "awaiting_attestation": [
                    {
                        "delivery_id": str(d.id),
                        "version": d.item_version,
                        "operation": d.operation,
                        "file": (d.receipt or {}).get("file"),
                        "since": iso_china(d.delivered_at) if d.delivered_at else None,
                    }
                    for d in s.awaiting
                ],
            }
        )
    rows.sort(key=lambda r: (r["ref"], r["outlet"]))
    return rows


def _print_attestations(rows: list[dict[str, Any]]) -> None:
    """Sheets waiting for a person to post them, and who posted the newest ones."""
    waiting = [(r, w) for r in rows for w in r["awaiting_attestation"]]
    if waiting:
        typer.echo(
            f"\nawaiting attestation: {len(waiting)} sheet(s) to print and post; then "
            "record who posted each with `syndicate attest DELIVERY --by NAME "
            "[--photo FILE]`"
        )
        typer.echo(
            table(
                ["DELIVERY", "ITEM", "OUTLET", "VER", "SINCE", "FILE"],
                [
                    [
                        w["delivery_id"][:8],
                        r["ref"],
                        r["outlet"],
                        f"v{w['version']}",
                        (w["since"] or "-")[:19].replace("T", " "),
                        printable(w["file"] or "-"),
                    ]
                    for r, w in waiting
                ],
            )
        )
    attested = [r for r in rows if r["attested_by"] is not None]
    if attested:
        typer.echo(f"\nattested: {len(attested)}")
        typer.echo(
            table(
                [
                    "DELIVERY",
                    "ITEM",
                    "OUTLET",
                    "VER",
                    "POSTED BY",
                    "POSTED AT",
                    "PHOTO",
                ],
                [
                    [
                        r["delivery_id"][:8],
                        r["ref"],
                        r["outlet"],
                        f"v{r['version']}",
                        r["attested_by"],
                        r["attested_at"][:19].replace("T", " "),
                        (r["photo_sha256"] or "-")[:16],
                    ]
                    for r in attested
                ],
            )
        )


def status(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="[REF]", help="Only this item.", show_default=False),
    ] = None,
    outlet: OutletOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also read back each outlet that supports it (files of the portal, "
            "feeds, kiosk, notice board) and compare with the expected rendition.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show each item on each outlet: state, version live there, attempts, last error, next try.

    Notice-board sheets waiting for a person to post them are listed separately
    ("awaiting attestation", see `syndicate attest`), with who posted the newest ones.
    With --check, an ON OUTLET column says whether the outlet shows exactly what was
    delivered last: in sync, drifted (someone changed it), missing, not removed, or
    cannot read back. Exit 1 if any outlet is not in sync.

    Example: syndicate status 临溪县民政局/11330100MB0000006R/2026-00019 --outlet cms --json
    """
    with cli_errors(), engine(ctx, outlets=False) as run:
        _known_outlet(run, outlet)
        rows = _rows(run, ref, outlet)
        if check:
            _check_outlets(run, rows)
        if as_json:
            echo_json(rows)
        elif not rows:
            typer.echo(
                "no deliveries yet; configure outlets and run `syndicate sync`",
                err=True,
            )
        else:
            _print_status(rows, check=check)
    if check and any(r["on_outlet"] not in _FINE for r in rows):
        raise typer.Exit(1)


def _print_status(rows: list[dict[str, Any]], *, check: bool) -> None:
    typer.echo(
        table(
            [
                "ITEM",
                "OUTLET",
                "STATE",
                "VER",
                "LIVE",
                "TRIES",
                "NEXT TRY",
                "LAST ERROR",
            ],
            [
                [
                    r["ref"],
                    r["outlet"],
                    r["state"],
                    f"v{r['version']}",
                    "-" if r["live_version"] is None else str(r["live_version"]),
                    str(r["attempts"]),
                    _next_try(r),
                    printable((r["last_error"] or "")[:80]),
                ]
                for r in rows
            ],
        )
    )
    carried = sum(1 for r in rows if r["carried_by"])
    if carried:
        typer.echo(
            f"\nwhole set: {carried} row(s) of feeds or kiosk outlets show the later "
            "rendition of the whole set that carries the item's version there"
        )
    claimed = [r for r in rows if r["claim_expires_at"]]
    if claimed:
        workers = sorted({printable(r["claimed_by"] or "?") for r in claimed})
        typer.echo(
            f"\nclaimed: {len(claimed)} delivery(ies) held by {', '.join(workers)} "
            f"until {max(r['claim_expires_at'] for r in claimed)[:19].replace('T', ' ')}"
            "; nobody else takes them before (NEXT TRY), even if that worker died"
        )
    submitted = sum(1 for r in rows if r["state"] == DeliveryState.SUBMITTED.value)
    if submitted:
        typer.echo(
            f"\nsubmitted: {submitted} delivery(ies) accepted by the outlet and not yet "
            "confirmed; the worker checks again at NEXT TRY"
        )
    _print_attestations(rows)
    if check:
        _print_checks(rows)


def _next_try(row: dict[str, Any]) -> str:
    """NEXT TRY: the next attempt or check; for a claim, when it can be taken over."""
    when = row["next_try"] or row["claim_expires_at"]
    return str(when)[:19].replace("T", " ") if when else "-"


_FINE = {"in sync", "cannot read back", None}


def _check_outlets(run: Engine, rows: list[dict[str, Any]]) -> None:
    """Add `on_outlet` to each row: what read-back says about the last delivery."""
    view = run.deliveries.all_deliveries()
    outlets, problems = run.project.outlets_for_reading()
    worker = Worker(
        run.deliveries,
        run.items,
        outlets,
        name="status-check",
        attachments=run.project.attachments.root,
    )
    shown = {DeliveryState.SUCCEEDED, DeliveryState.AWAITING_ATTESTATION}
    shown.add(DeliveryState.ATTESTED)
    delivered = [d for d in view.values() if d.state in shown]
    # A whole-set outlet holds its newest rendition, whichever item it was planned for.
    newest: dict[str, Delivery] = {}
    for d in delivered:
        if d.outlet not in newest or d.position > newest[d.outlet].position:
            newest[d.outlet] = d
    verdicts: dict[UUID, str] = {}
    files: dict[str, list[FileFinding] | str | None] = {}
    witnessed = witnessed_checkpoints(run.project)
    try:
        for row in rows:
            mine = [
                d
                for d in delivered
                if str(d.item_id) == row["item_id"] and d.outlet == row["outlet"]
            ]
            if row["outlet"] in problems:
                row["on_outlet"] = _unloadable(run.project, row["outlet"], problems)
                continue
            cfg = outlets.get(row["outlet"])
            if cfg is not None and cfg.capabilities.whole_set:
                # The folder holds the newest whole set, whichever item it was for.
                mine = [newest[row["outlet"]]] if row["outlet"] in newest else []
            if not mine:
                row["on_outlet"] = None
                continue
            last = max(mine, key=lambda d: d.item_version)
            if last.id not in verdicts:
                verdicts[last.id] = worker.check_outlet(last)
            row["on_outlet"] = verdicts[last.id]
            if row["on_outlet"] == "in sync" and cfg is not None:
                row["on_outlet"] = _files_verdict(
                    worker, row, cfg.capabilities.whole_set, files, witnessed
                )
    finally:
        worker.close()


def _files_verdict(
    worker: Worker,
    row: dict[str, Any],
    whole: bool,
    files: dict[str, list[FileFinding] | str | None],
    witnessed: Witnessed,
) -> str:
    """ "in sync", unless a file the row's item owns (any file, on a whole-set outlet)
    differs from what the log gives (see `syndicate audit consistency`)."""
    name = row["outlet"]
    if name not in files:
        try:
            files[name] = file_findings(worker, name, witnessed)
        except Exception as exc:  # a render or a scratch folder that fails
            files[name] = f"read failed: {type(exc).__name__}: {exc}"[:200]
    found = files[name]
    if isinstance(found, str):
        return found
    mine = [f for f in found or () if whole or UUID(row["item_id"]) in f.owners]
    if not mine:
        return "in sync"
    more = f" and {len(mine) - 1} more" if len(mine) > 1 else ""
    return f"{mine[0].verdict} ({mine[0].path}: {mine[0].detail}{more})"


def _unloadable(project: Project, name: str, problems: dict[str, str]) -> str:
    """An outlet whose table does not load: fine if it could not be read back anyway."""
    kind = project.outlet_kind(name)
    try:
        if kind and not project.registry[kind].capabilities.reads_back:
            return "cannot read back"
    except SyndicateError:
        pass
    return f"not configured: {problems[name]}"


def _print_checks(rows: list[dict[str, Any]]) -> None:
    checked = [r for r in rows if r.get("on_outlet")]
    bad = [r for r in checked if r["on_outlet"] not in _FINE]
    typer.echo(
        f"\nread back: {len(checked)} checked, "
        f"{sum(r['on_outlet'] == 'in sync' for r in checked)} in sync, {len(bad)} not"
    )
    if bad:
        typer.echo(
            table(
                ["ITEM", "OUTLET", "VER", "ON OUTLET"],
                [
                    [
                        r["ref"],
                        r["outlet"],
                        f"v{r['version']}",
                        printable(r["on_outlet"]),
                    ]
                    for r in bad
                ],
            )
        )


def retry(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="[REF]", help="Only this item.", show_default=False),
    ] = None,
    outlet: OutletOption = None,
    actor: ActorOption = None,
) -> None:
    """Queue failed and abandoned deliveries for another attempt (recorded, with the actor).

    Example: syndicate retry --outlet county-platform
    """
    with cli_errors(), engine(ctx, outlets=False) as run:
        who = resolve_actor(actor)
        _known_outlet(run, outlet)
        only = run.items.resolve(ref) if ref else None
        count = 0
        for d in run.deliveries.all_deliveries().values():
            if d.state not in (DeliveryState.FAILED, DeliveryState.ABANDONED):
                continue
            if (only and d.item_id != only) or (outlet and d.outlet != outlet):
                continue
            fresh = run.deliveries.delivery(d.id)
            fresh.record(Delivery.RetryRequested, at=run.items.clock(), actor=who)
            run.deliveries.save(fresh)
            count += 1
        typer.echo(
            f"queued {count} delivery(ies) for another attempt; run `syndicate sync`"
        )


def resolve(
    ctx: typer.Context,
    delivery: Annotated[
        str,
        typer.Argument(
            metavar="DELIVERY",
            help="Delivery id (or a unique prefix).",
            show_default=False,
        ),
    ],
    sent: Annotated[
        bool | None,
        typer.Option(
            "--sent/--not-sent",
            help="--sent: you checked and it arrived (recorded as delivered); "
            "--not-sent: it did not (it will be sent again).",
            show_default=False,
        ),
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Settle an unconfirmed delivery after checking the outlet by hand.

    Example: syndicate resolve 3f2a9c1e --sent
    """
    with cli_errors(), engine(ctx, outlets=False) as run:
        if sent is None:
            raise InputError([Problem("--sent/--not-sent", "say which one is true")])
        matches = [
            d
            for d in run.deliveries.all_deliveries().values()
            if str(d.id).startswith(delivery.strip())
        ]
        if not matches:
            raise ItemNotFound(f"no delivery {delivery}")
        if len(matches) > 1:
            raise InputError(
                [Problem("DELIVERY", f"{delivery!r} matches {len(matches)}")]
            )
        fresh = run.deliveries.delivery(matches[0].id)
        if fresh.state is not DeliveryState.UNCONFIRMED:
            raise InputError(
                [
                    Problem(
                        "DELIVERY",
                        f"is {fresh.state.value}; only unconfirmed ones resolve",
                    )
                ]
            )
        fresh.record(
            Delivery.Resolved,
            at=run.items.clock(),
            actor=resolve_actor(actor),
            sent=sent,
        )
        run.deliveries.save(fresh)
        verdict = "recorded as delivered" if sent else "queued to be sent again"
        typer.echo(f"delivery {fresh.id} {verdict} ({format_time(run.items.clock())})")


def register(app: typer.Typer) -> None:
    """Add the delivery commands to the root app."""
    for command in (sync, worker, status, retry, resolve):
        app.command()(command)
