"""`syndicate audit trail | replay | deadlines | report`: reading the logs for auditors.

All four only read: nothing is appended to either log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from syndicate.audit.facts import DeadlineFact
    from syndicate.audit.replay import ReplaySummary
    from syndicate.audit.trail import TrailRow

from syndicate.cli.output import (
    cli_errors,
    echo_file,
    echo_json,
    format_time,
    table,
    width,
)
from syndicate.cli.state import JsonOption, OutletOption, open_engine
from syndicate.errors import InputError, Problem

__all__ = ["parse_today", "progress_bar", "register"]

HolidaysOption = Annotated[
    Path | None,
    typer.Option(
        "--holidays",
        metavar="FILE",
        help="Official holidays and 调休 working days for years chinesecalendar does "
        "not cover: one 'YYYY-MM-DD off|work' a line (docs/audit.md).",
        show_default=False,
    ),
]


def parse_today(today: str | None) -> date | None:
    """The `--today YYYY-MM-DD` option as a date (None when not given); `InputError`
    naming `--today` otherwise."""
    if today is None:
        return None
    try:
        return date.fromisoformat(today.strip())
    except ValueError:
        raise InputError(
            [Problem("--today", f"invalid date {today!r}; expected YYYY-MM-DD")]
        ) from None


def _clip(text: str, columns: int) -> str:
    if width(text) <= columns:
        return text
    out = ""
    for ch in text:
        if width(out + ch) > columns - 1:
            break
        out += ch
    return out + "…"


def _trail_text(rows: list[TrailRow]) -> str:
    from syndicate.audit.trail import compact_receipt

    cells = []
    for r in rows:
        sha = r.content_sha256 or r.rendition_sha256
        notes = "; ".join(x for x in (compact_receipt(r.receipt), r.detail or "") if x)
        cells.append(
            [
                format_time(r.at),
                f"{r.log}:{r.position}",
                r.event,
                _clip(r.actor or "-", 30),
                f"v{r.version}",
                r.outlet or "-",
                "-" if r.attempt is None else str(r.attempt),
                sha[:12] if sha else "-",
                _clip(notes, 100),
            ]
        )
    return table(
        [
            "TIME (China)",
            "LOG:POS",
            "EVENT",
            "ACTOR",
            "VER",
            "OUTLET",
            "TRY",
            "SHA256",
            "RECEIPT / DETAIL",
        ],
        cells,
    )


def trail(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF",
            help="The item: AGENCY/INDEX_NO, its id, or a unique id prefix.",
            show_default=False,
        ),
    ],
    as_json: JsonOption = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print CSV (with a header row) instead.")
    ] = False,
) -> None:
    """Every event about one item, in both logs, in time order.

    Item events (published, revised, withdrawn: actor, content sha256) and every event of
    its deliveries to every outlet (planned, claimed, succeeded, failed, submitted,
    unconfirmed, resolved, attested, superseded, abandoned, released…: worker or
    operator, attempt, receipt, rendition sha256). The actor of `Planned` is "planner";
    of `Attested`, the person who put the sheet up (who recorded it is in the detail).
    Under review (先审后发): Drafted, Submitted (levels, reason), Approved (level and
    reviewer, the content sha256 approved), Returned (level, comment), Released (what it
    made public, the items released with it), UrgentlyReleased (reason, when approval
    afterwards is due) and ApprovedAfterwards (late if after that time).
    Times show in China time; --json and --csv give ISO 8601 with +08:00. Ties in time:
    the items log first, then log position. Exit 1 if there is no such item.

    Example: syndicate audit trail 临溪县民政局/11330100MB0000006R/2026-00019 --csv > trail.csv
    """
    from syndicate.audit.trail import trail_csv

    with cli_errors(), open_engine(ctx) as engine:
        if as_json and as_csv:
            raise InputError([Problem("--json/--csv", "give one of them, not both")])
        found = engine.trail(ref)
        rows = found.rows
        if as_json:
            echo_json([r.as_json() for r in rows])
        elif as_csv:
            typer.echo(trail_csv(rows), nl=False)
        else:
            typer.echo(
                f"{found.ref} ({found.item_id}): {len(rows)} event(s); "
                f"{found.deliveries} delivery(ies) to {found.outlets} outlet(s)\n"
            )
            typer.echo(_trail_text(rows))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback (done, total) drawing a bar on stderr when it is a terminal,
    and doing nothing otherwise."""
    with ExitStack() as stack:
        bars: list[Any] = []

        def advance(done: int, total: int) -> None:
            if not bars:
                if not sys.stderr.isatty() or total <= 0:
                    return
                bars.append(
                    stack.enter_context(
                        typer.progressbar(length=total, label=label, file=sys.stderr)
                    )
                )
            bars[0].update(done - bars[0].pos)

        yield advance


def _print_replay(summary: ReplaySummary, out: Path) -> None:
    rows = []
    for o in summary.outlets:
        state = (
            "replayed"
            if o.configured
            else "does not load"
            if o.problem
            else "not configured"
        )
        rows.append(
            [
                o.name,
                o.kind or "-",
                state + (" (whole set)" if o.whole_set else ""),
                str(o.count),
                str(o.shown) if o.configured else "-",
                str(o.mismatch_count) if o.configured else "-",
            ]
        )
    typer.echo(f"as of {format_time(summary.as_of)} (China time):")
    if rows:
        typer.echo(
            table(["OUTLET", "KIND", "REPLAY", "ITEMS", "SHOWN", "MISMATCHES"], rows)
        )
    else:
        typer.echo("no outlets configured and nothing delivered")
    erased = sorted({pair for o in summary.outlets for pair in o.erased})
    if any(o.erased_count for o in summary.outlets):
        typer.echo("\npersonal data shown then and erased since (个人信息已删除):")
        for ref, name in erased:
            typer.echo(f"  {ref}: {name}: [erased]")
        if any(o.erased_count > len(o.erased) for o in summary.outlets):
            typer.echo(
                "  and more: each outlet's manifest.json names them all "
                "(attachments_erased)"
            )
    if summary.pending:
        typer.echo(f"\nunder review then ({len(summary.pending)} item(s)):")
        typer.echo(
            table(
                ["ITEM", "VER", "STATUS", "REVIEW"],
                [
                    [
                        p.ref,
                        f"v{p.version}",
                        "never released: on no outlet"
                        if p.status == "pending"
                        else p.status,
                        p.review,
                    ]
                    for p in summary.pending
                ],
            )
        )
    typer.echo(
        f"\nwrote {summary.written} file(s) under {out}: replay.json and, per "
        "configured outlet, manifest.json and the renditions it showed"
    )


def replay(
    ctx: typer.Context,
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            metavar="TIME",
            help="ISO 8601: 2026-10-09 (the end of that day; today: now), "
            "2026-10-09T09:30 (China time) or with an offset. Not in the future.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="A new or empty directory for the replay.",
            show_default=False,
        ),
    ],
    outlet: OutletOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild from the log alone what each outlet showed at a moment, and check it.

    For each outlet and item: the latest delivery that had succeeded (or, on a notice
    board, whose sheet was attested as posted) by then. Its rendition is rendered again
    with the outlet's adapter and its sha256 compared with the one the log recorded.
    Writes DIR/<outlet>/<item id>-v<version>.<ext> (removals that left nothing shown
    get no file), DIR/<outlet>/manifest.json, and DIR/replay.json. Whole-set outlets
    (feeds, kiosk bundles) get their one latest rendition. Outlets in the log but not
    configured here are listed in replay.json with the recorded sha256s, without files.
    Items with a version under review then (先审后发) are listed (replay.json:
    pending_review); one never released by then is on no outlet, and a shown item with
    a newer version under review says so in its manifest entry (pending_review).
    Unset secrets do not matter: nothing is sent. Exit 1 if any rendition renders to
    other bytes than the log recorded (each is named); 2 for a bad --as-of.

    Example: syndicate audit replay --as-of 2026-10-09T18:00 --outlet portal --out replay-1009
    """
    from syndicate.engine.audit import ReplayRequest

    with cli_errors():
        request = ReplayRequest.parse(as_of, out, outlet)
        with (
            open_engine(ctx) as engine,
            progress_bar("reading the deliveries log") as advance,
        ):
            summary = engine.replay(request, progress=advance)
        if as_json:
            echo_file(summary.path)  # replay.json: it may be long
        else:
            _print_replay(summary, out)
        for name, r in summary.mismatches:
            got = r.sha256_rerendered or r.error or "nothing"
            typer.echo(
                f"error: {name}: {r.ref} v{r.shown.version} (delivery "
                f"{str(r.shown.delivery_id)[:8]}): the log recorded sha256 "
                f"{r.shown.sha256}, rendering it again gives {got}",
                err=True,
            )
        if (more := summary.mismatch_count - len(summary.mismatches)) > 0:
            typer.echo(
                f"error: and {more} more mismatch(es) listed in {summary.path}",
                err=True,
            )
    if summary.mismatch_count:
        raise typer.Exit(1)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        typer.echo(
            f"warning: {warning}; pass --holidays FILE with that year's official "
            "holidays and 调休 working days",
            err=True,
        )


def _deadline_text(found: list[DeadlineFact]) -> str:
    from syndicate.audit.deadlines import DeadlineState

    rows = []
    for f in found:
        d = f.deadline
        rows.append(
            [
                f.ref,
                _clip(f.title, 30),
                d.formed_on.isoformat() + (" (变更)" if f.changed else ""),
                d.due.isoformat(),
                d.published_on.isoformat() if d.published_on else "-",
                d.state.value + (f" ({f.review})" if f.review else ""),
                str(d.late_by) if d.state is DeadlineState.LATE else "-",
                str(d.remaining)
                if d.state in (DeadlineState.OPEN, DeadlineState.DUE_SOON)
                else "-",
            ]
        )
    return table(
        ["ITEM", "TITLE", "FORMED", "DUE", "PUBLISHED", "STATE", "LATE BY", "LEFT"],
        rows,
    )


def deadlines(
    ctx: typer.Context,
    as_json: JsonOption = False,
    holidays: HolidaysOption = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            metavar="DATE",
            help="Count as if today were DATE (YYYY-MM-DD). Default: today in China.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Statutory deadlines: proactive items against 20 working days from formed_on.

    Art. 26 of the Regulations on Government Information Disclosure: proactively
    disclosed information (主动公开) is due within 20 working days of the day it was
    formed or changed (the first version's formed_on). Publication is the item's
    earliest success (or attested posting) on a public outlet: one configured with a
    channel other than "other", and not internal; with --today, later ones do not
    count yet. Under review (先审后发) the clock runs from formed_on too: an item is
    published only once released and delivered, so slow review shows as late; the
    STATE says what waits for review (JSON: review). States: met, late (LATE BY working days), open, due_soon (at most 5
    working days LEFT).

    A change of the information starts the clock again: a released revision whose
    changed_on (or formed_on) moved gets a row of its own, FORMED marked (变更),
    published when that version was released (JSON: changed). An item scheduled
    (定时发布) for after its due day is late already, before the schedule fires. Working days follow the official calendar (holidays, 调休);
    years it does not cover count weekends only, with a warning on stderr: pass
    --holidays FILE for them. A report, not a check: the exit status is 0 whatever the
    states (1 or 2 only for errors).

    Example: syndicate audit deadlines --today 2026-05-20 --holidays holidays-2027.txt
    """
    from syndicate.audit.deadlines import DeadlineState
    from syndicate.engine.audit import workday_calendar

    with cli_errors():
        calendar = workday_calendar(holidays)
        day = parse_today(today)
        with open_engine(ctx) as engine:
            found = engine.deadlines(day, calendar)
        counts = found.counts
        if as_json:
            echo_json(found.as_json())
        elif found.items:
            typer.echo(_deadline_text(found.items))
        if not as_json:
            typer.echo(
                f"\n{len(found.items)} proactive item(s) as of {found.today}: "
                f"{counts[DeadlineState.MET]} met, {counts[DeadlineState.LATE]} late, "
                f"{counts[DeadlineState.OPEN]} open, "
                f"{counts[DeadlineState.DUE_SOON]} due soon"
            )
        if not found.public_outlets:
            typer.echo(
                "note: no public outlet (one with a channel other than 'other') is "
                "configured; nothing counts as published",
                err=True,
            )
        _warn(found.warnings)


def report(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Directory for index.html and the CSVs (created if needed; files of "
            "the same names are replaced).",
            show_default=False,
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option(
            "--year",
            metavar="YYYY",
            min=1970,
            max=9000,
            help="Add the annual statistics (年度报告) for this year.",
            show_default=False,
        ),
    ] = None,
    holidays: HolidaysOption = None,
) -> None:
    """Write an HTML report with one CSV per table: lags, failures, missing, deadlines.

    index.html is self-contained (inline CSS and charts, no scripts): publish-to-live
    time per outlet, deliveries per day, failures by cause, statutory deadline
    compliance, items missing or stale on an outlet, unconfirmed deliveries, sheets
    awaiting attestation, late items, and with --year the annual counts by 五公开 stage,
    pilot area and channel, revisions and withdrawals. When the home reviews items
    (先审后发) or its log holds review events: urgent releases (released without
    review; approved afterwards, overdue), time from submission to release per review
    level, and returns with the reviewers' comments. The CSVs are UTF-8 with a BOM.

    Example: syndicate audit report --out report-2026 --year 2026
    """
    from syndicate.engine.audit import workday_calendar

    with cli_errors():
        calendar = workday_calendar(holidays)
        with open_engine(ctx) as engine:
            written = engine.report(out, year=year, calendar=calendar)
        for path in written.files:
            typer.echo(str(path))
        data = written.data
        review = ""
        if data.review is not None:
            urgent = data.review.urgent
            overdue = sum(1 for u in urgent if u.state == "overdue")
            review = (
                f", {len(urgent)} urgent release(s) ({overdue} overdue for approval "
                f"afterwards), {len(data.review.returned)} return(s), "
                f"{data.review.under_review} under review"
            )
        typer.echo(
            f"report: {len(data.deliveries)} delivery(ies), {len(data.failures)} "
            f"failure(s), {len(data.missing)} missing or stale, "
            f"{sum(1 for d in data.deadlines if d.state == 'late')} late item(s)"
            f"{review}",
            err=True,
        )
        _warn(written.warnings)


def register(app: typer.Typer) -> None:
    """Add the reading and reporting commands to the `audit` app."""
    for command in (trail, replay, deadlines, report):
        app.command()(command)
