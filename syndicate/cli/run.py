"""Delivery commands: sync, worker, status, retry, resolve."""

from __future__ import annotations

import signal
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from syndicate.cli.output import (
    cli_errors,
    echo_json,
    format_time,
    iso_china,
    option_names,
    table,
)
from syndicate.cli.review import ReviewState, review_off_warning
from syndicate.cli.state import (
    ActorOption,
    JsonOption,
    OnlyItemArgument,
    OutletOption,
    open_engine,
    resolve_actor,
)

if TYPE_CHECKING:
    from syndicate.engine.deliveries import HeldClaim, RunSummary, StatusRow

from syndicate.errors import InputError, Problem

__all__ = ["register"]


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


@contextmanager
def _progress_bar(due: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while `sync` delivers `due` deliveries."""
    with typer.progressbar(length=due, label="delivering", file=sys.stderr) as bar:
        yield bar.update


def sync(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TIME",
            help="Run as if it were TIME (China time, e.g. 2026-06-20T09:00): for "
            "rehearsals and tests only. Every event is recorded at TIME; refused if "
            "the log holds a later event (its times never go back), and if TIME is "
            "ahead of the real clock without --rehearsal.",
            show_default=False,
        ),
    ] = None,
    rehearsal: Annotated[
        bool,
        typer.Option(
            "--rehearsal",
            help="Allow --now ahead of the real clock: on a rehearsal copy of a home "
            "only, since what it records (releases, ended windows, expiries) is dated "
            "in the future for good.",
        ),
    ] = False,
) -> None:
    """Plan deliveries for new item events, then deliver everything due now, and exit.

    First it records what time made due (docs/lifecycle.md): scheduled releases
    (定时发布), 公示 windows that ended (公示期已结束), documents past valid_until
    (已失效).

    Exit 0 if every attempt succeeded, 1 if any failed (and will be retried later),
    failed for good, was abandoned or is unconfirmed; `syndicate status` says which.
    Exit 3 if nothing failed but deliveries due now are held by another worker's
    claim (a running worker, or one that was killed: its claims wait until their
    lease ends); it says how many, by whom and until when.

    Example: syndicate --home /srv/disclosure sync
    """
    from syndicate.domain.lifecycle import parse_time

    with cli_errors(), open_engine(ctx) as run:
        if rehearsal and now is None:
            raise InputError([Problem("--rehearsal", "goes with --now TIME")])
        if now is not None:
            with option_names({"now": "--now"}):
                run.fix_clock(parse_time("--now", now), ahead=rehearsal)
        result = run.sync(progress=_progress_bar if sys.stderr.isatty() else None)
        for ref, event in result.timed:
            typer.echo(f"{_TIMED.get(event, event)}: {ref}", err=True)
        for ref in result.erased:
            typer.echo(
                f"erased the sealed attachments of {ref}: its 公示期 ended more than "
                "[guard] erase_after_days ago",
                err=True,
            )
        _print_summary(result)
        for line in held_lines(result.held, result.waiting):
            typer.echo(line, err=True)
        said = result.checkpoint
        if said:
            typer.echo(said, err=said.startswith("note:"))
        if not result.ok:
            raise typer.Exit(1)
        if not result.complete:
            raise typer.Exit(HELD_EXIT)


_TIMED = {
    "Released": "released on schedule (定时发布)",
    "NoticeEnded": "公示期已结束",
    "Expired": "expired (已失效)",
}


def worker(
    ctx: typer.Context,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between looks for work.")
    ] = 1.0,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--outlet",
            metavar="NAME",
            help="Deliver only to this outlet (repeatable; default: every outlet). "
            "For several hosts: run the file outlets' worker on the host that serves "
            "their folder (docs/deployment.md). Every worker still plans for all.",
        ),
    ] = None,
) -> None:
    """Plan and deliver continuously until SIGTERM or Ctrl-C.

    Several workers may run at once, on one machine or many (PostgreSQL store); a claim
    is exclusive, and a stopped worker finishes its current attempt or gives its claim
    back before it exits. See docs/deployment.md for several hosts.

    Example: syndicate worker --poll 0.5
    Example: syndicate worker --outlet portal --outlet feeds   # on the web host
    """
    from syndicate.engine.deliveries import StopFlag

    with cli_errors(), open_engine(ctx) as run:
        stop = StopFlag()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {
            s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            done = run.run_worker(
                poll=poll,
                stop=stop,
                outlets=only or None,
                on_start=lambda name: typer.echo(f"worker {name} started", err=True),
                on_round=_print_summary,
                on_checkpoint=lambda said: typer.echo(said, err=True),
            )
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        typer.echo(f"worker {done.name} stopped", err=True)


def _when(moment: datetime | None) -> str | None:
    """A time for JSON output (None stays None)."""
    return iso_china(moment) if moment else None


def _clock(moment: datetime | None) -> str:
    """A time for a table column: China time to the second, or "-"."""
    return iso_china(moment)[:19].replace("T", " ") if moment else "-"


def _status_json(row: StatusRow, *, check: bool, review: ReviewState) -> dict[str, Any]:
    """The object `status --json` prints for one row (`on_outlet` only with --check;
    `under_review`: the item's version under review or urgent release awaiting
    approval afterwards, or None)."""
    record: dict[str, Any] = {
        "item_id": str(row.item_id),
        "ref": row.ref,
        "outlet": row.outlet,
        "delivery_id": str(row.delivery_id),
        "version": row.version,
        "operation": row.operation,
        "state": row.state.value,
        "live_version": row.live_version,
        "carried_by": str(row.carried_by) if row.carried_by else None,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_try": _when(row.next_try),
        "claimed_by": row.claimed_by,
        "claim_expires_at": _when(row.claim_expires_at),
        "attested_by": row.attested_by,
        "attested_at": _when(row.attested_at),
        "photo_sha256": row.photo_sha256,
        "awaiting_attestation": [
            {
                "delivery_id": str(w.delivery_id),
                "version": w.version,
                "operation": w.operation,
                "file": w.file,
                "since": _when(w.since),
                "waited_hours": round(w.waited.total_seconds() / 3600, 1)
                if w.waited is not None
                else None,
                "reminders": w.reminders,
            }
            for w in row.awaiting_attestation
        ],
        "under_review": review.of(row.item_id),
        "not_recalled": _when(row.not_recalled),
    }
    if check:
        record["on_outlet"] = row.on_outlet
    return record


def _print_not_recalled(rows: list[StatusRow]) -> None:
    """Outlets that still hold what was sent before an item's personal data was erased."""
    kept = [r for r in rows if r.not_recalled is not None]
    if kept:
        typer.echo(
            f"\nnot recalled: {len(kept)} outlet(s) got the item before its personal "
            "data was erased and cannot take anything back (a message in a group stays "
            "there); tell their members if it matters:"
        )
        for r in kept:
            erased = _clock(r.not_recalled) if r.not_recalled else "-"
            typer.echo(f"  {r.ref}  {r.outlet}  v{r.version}  (erased {erased})")


def _span(waited: timedelta | None) -> str:
    """How long something waited, as people say it: `3d 4h`, `5h 20m`, `12m`."""
    if waited is None:
        return "-"
    minutes = max(0, int(waited.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _print_attestations(rows: list[StatusRow]) -> None:
    """Sheets waiting for a person to post them, and who posted the newest ones."""
    waiting = [(r, w) for r in rows for w in r.awaiting_attestation]
    if waiting:
        typer.echo(
            f"\nawaiting attestation: {len(waiting)} sheet(s) or relay task(s) for a "
            "person to post or forward, longest waiting first; then record who did "
            "each with `syndicate attest DELIVERY --by NAME [--photo FILE]`"
        )
        waiting.sort(key=lambda rw: -(rw[1].waited or timedelta()).total_seconds())
        typer.echo(
            table(
                [
                    "DELIVERY",
                    "ITEM",
                    "OUTLET",
                    "VER",
                    "SINCE",
                    "WAITING",
                    "REMINDED",
                    "FILE",
                ],
                [
                    [
                        str(w.delivery_id)[:8],
                        r.ref,
                        r.outlet,
                        f"v{w.version}",
                        _clock(w.since),
                        _span(w.waited),
                        str(w.reminders) if w.reminders else "-",
                        printable(w.file or "-"),
                    ]
                    for r, w in waiting
                ],
            )
        )
    attested = [r for r in rows if r.attested_by is not None]
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
                        str(r.delivery_id)[:8],
                        r.ref,
                        r.outlet,
                        f"v{r.version}",
                        r.attested_by or "",
                        _clock(r.attested_at),
                        (r.photo_sha256 or "-")[:16],
                    ]
                    for r in attested
                ],
            )
        )


def status(
    ctx: typer.Context,
    ref: OnlyItemArgument = None,
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

    It also counts the versions awaiting review (先审后发) and the urgent releases
    awaiting approval afterwards (OVERDUE once past [review] urgent_review_hours), and
    warns when review is off, so items go out unreviewed. With --json, each row's
    `under_review` says what of its item awaits review; `syndicate review list --json`
    lists the whole queue.

    Example: syndicate status 临溪县民政局/11330100MB0000006R/2026-00019 --outlet cms --json
    """
    with cli_errors(), open_engine(ctx) as run:
        rows = run.status(ref, outlet, check=check)
        review = ReviewState.read(run, ref)
        if as_json:
            echo_json([_status_json(r, check=check, review=review) for r in rows])
        elif not rows:
            typer.echo(
                "no deliveries yet; configure outlets and run `syndicate sync`",
                err=True,
            )
        else:
            _print_status(rows, check=check)
        if not as_json and (lines := review.lines()):
            typer.echo(("\n" if rows else "") + "\n".join(lines))
        waiting = run.scheduled(ref)
        if waiting and not as_json:
            typer.echo(f"\n待发布 (scheduled, {len(waiting)}):")
            for w in waiting:
                state = f"  awaiting review ({w.awaiting})" if w.awaiting else ""
                why = f"  ({w.reason})" if w.reason else ""
                typer.echo(f"  {format_time(w.release_at)}  {w.ref}{why}{state}")
        # Last, so it is what the operator reads.
        if warning := review_off_warning(run.project.review):
            typer.echo(warning, err=True)
    if check and any(r.out_of_sync for r in rows):
        raise typer.Exit(1)


def _print_status(rows: list[StatusRow], *, check: bool) -> None:
    from syndicate.engine.deliveries import DeliveryState

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
                    r.ref,
                    r.outlet,
                    r.state.value,
                    f"v{r.version}",
                    "-" if r.live_version is None else str(r.live_version),
                    str(r.attempts),
                    _clock(r.next_try or r.claim_expires_at),
                    printable((r.last_error or "")[:80]),
                ]
                for r in rows
            ],
        )
    )
    carried = sum(1 for r in rows if r.carried_by)
    if carried:
        typer.echo(
            f"\nwhole set: {carried} row(s) of feeds or kiosk outlets show the later "
            "rendition of the whole set that carries the item's version there"
        )
    claimed = [r for r in rows if r.claim_expires_at]
    if claimed:
        workers = sorted({printable(r.claimed_by or "?") for r in claimed})
        until = max(r.claim_expires_at for r in claimed if r.claim_expires_at)
        typer.echo(
            f"\nclaimed: {len(claimed)} delivery(ies) held by {', '.join(workers)} "
            f"until {_clock(until)}"
            "; nobody else takes them before (NEXT TRY), even if that worker died"
        )
    submitted = sum(1 for r in rows if r.state is DeliveryState.SUBMITTED)
    if submitted:
        typer.echo(
            f"\nsubmitted: {submitted} delivery(ies) accepted by the outlet and not yet "
            "confirmed; the worker checks again at NEXT TRY"
        )
    _print_attestations(rows)
    _print_not_recalled(rows)
    if check:
        _print_checks(rows)


def _print_checks(rows: list[StatusRow]) -> None:
    checked = [r for r in rows if r.on_outlet]
    bad = [r for r in checked if r.out_of_sync]
    typer.echo(
        f"\nread back: {len(checked)} checked, "
        f"{sum(r.on_outlet == 'in sync' for r in checked)} in sync, {len(bad)} not"
    )
    if bad:
        typer.echo(
            table(
                ["ITEM", "OUTLET", "VER", "ON OUTLET"],
                [
                    [
                        r.ref,
                        r.outlet,
                        f"v{r.version}",
                        printable(r.on_outlet or ""),
                    ]
                    for r in bad
                ],
            )
        )


def retry(
    ctx: typer.Context,
    ref: OnlyItemArgument = None,
    outlet: OutletOption = None,
    actor: ActorOption = None,
) -> None:
    """Queue failed and abandoned deliveries for another attempt (recorded, with the actor).

    Example: syndicate retry --outlet county-platform
    """
    with cli_errors(), open_engine(ctx) as run:
        count = run.retry(ref, outlet, actor=resolve_actor(actor))
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
    with cli_errors(), open_engine(ctx) as run:
        if sent is None:
            raise InputError([Problem("--sent/--not-sent", "say which one is true")])
        done = run.resolve(delivery, sent=sent, actor=resolve_actor(actor))
        verdict = "recorded as delivered" if sent else "queued to be sent again"
        typer.echo(f"delivery {done.delivery_id} {verdict} ({format_time(done.at)})")


def register(app: typer.Typer) -> None:
    """Add the delivery commands to the root app."""
    for command in (sync, worker, status, retry, resolve):
        app.command()(command)
