"""`syndicate audit trail | replay | deadlines | report`: reading the logs for auditors.

All four only read: nothing is appended to either log.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from syndicate.audit.deadlines import (
    DeadlineState,
    HolidayFileError,
    WorkdayCalendar,
    load_holiday_file,
)
from syndicate.audit.facts import (
    DeadlineFact,
    deadline_facts,
    first_public_publication,
    item_facts,
    outlet_info,
    report_data,
)
from syndicate.audit.replay import ReplaySummary, parse_moment
from syndicate.audit.replay import replay as replay_as_of
from syndicate.audit.report import write_report
from syndicate.audit.trail import TrailRow, compact_receipt
from syndicate.audit.trail import trail as item_trail
from syndicate.cli.output import (
    cli_errors,
    echo_json,
    format_time,
    iso_china,
    table,
    width,
)
from syndicate.cli.run import Engine, OutletOption, engine
from syndicate.cli.state import JsonOption
from syndicate.domain.base import CHINA_TZ
from syndicate.errors import InputError, Problem
from syndicate.outlets import Outlet

__all__ = ["register"]

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

_TRAIL_FIELDS = (
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


def _trail_json(row: TrailRow) -> dict[str, Any]:
    return {
        "time": iso_china(row.at),
        "log": row.log,
        "position": row.position,
        "event": row.event,
        "actor": row.actor,
        "version": row.version,
        "outlet": row.outlet,
        "delivery_id": str(row.delivery_id) if row.delivery_id else None,
        "attempt": row.attempt,
        "receipt": dict(row.receipt) if row.receipt is not None else None,
        "content_sha256": row.content_sha256,
        "rendition_sha256": row.rendition_sha256,
        "detail": row.detail,
    }


def _spreadsheet_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _trail_csv(rows: list[TrailRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_TRAIL_FIELDS)
    for row in rows:
        data = _trail_json(row)
        data["receipt"] = compact_receipt(row.receipt)
        writer.writerow(
            [
                "" if data[k] is None else _spreadsheet_safe(data[k])
                for k in _TRAIL_FIELDS
            ]
        )
    return buffer.getvalue()


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
    Times show in China time; --json and --csv give ISO 8601 with +08:00. Ties in time:
    the items log first, then log position. Exit 1 if there is no such item.

    Example: syndicate audit trail 临溪县民政局/11330100MB0000006R/2026-00019 --csv > trail.csv
    """
    with cli_errors(), engine(ctx, outlets=False) as run:
        if as_json and as_csv:
            raise InputError([Problem("--json/--csv", "give one of them, not both")])
        item_id = run.items.resolve(ref)
        rows = item_trail(run.items, run.deliveries, item_id)
        if as_json:
            echo_json([_trail_json(r) for r in rows])
        elif as_csv:
            typer.echo(_trail_csv(rows), nl=False)
        else:
            item = run.items.get(item_id)
            deliveries = {r.delivery_id for r in rows if r.delivery_id}
            outlets = {r.outlet for r in rows if r.outlet}
            typer.echo(
                f"{item.ref} ({item_id}): {len(rows)} event(s); "
                f"{len(deliveries)} delivery(ies) to {len(outlets)} outlet(s)\n"
            )
            typer.echo(_trail_text(rows))


def _today_alone(text: str, now: datetime) -> bool:
    """Whether `text` is a date alone, and today's in China."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10 and day == now.astimezone(CHINA_TZ).date()


def _check_out(out: Path) -> bool:
    """Refuse an --out that would mix a replay with other files; True if it exists."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise InputError([Problem("--out", f"{out} exists and is not a directory")])
    if any(out.iterdir()):
        raise InputError(
            [
                Problem(
                    "--out",
                    f"{out} is not empty; give a new or empty directory (a replay never "
                    "mixes with older files)",
                )
            ]
        )
    return True


@contextmanager
def _progress(label: str, length: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty() or length <= 0:
        yield None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def _loaded_outlets(
    run: Engine,
) -> tuple[dict[str, Outlet], dict[str, str], dict[str, str | None]]:
    """Outlets that load for reading (unset secrets do not stop them), the problems of
    those that do not, and every configured outlet's kind."""
    outlets, problems = run.project.outlets_for_reading()
    kinds = {n: run.project.outlet_kind(n) for n in [*outlets, *problems]}
    return outlets, problems, kinds


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
        count = len(o.items) if o.configured else len(o.recorded)
        rows.append(
            [
                o.name,
                o.kind or "-",
                state + (" (whole set)" if o.whole_set else ""),
                str(count),
                str(sum(1 for r in o.items if r.file is not None))
                if o.configured
                else "-",
                str(len(o.mismatches)) if o.configured else "-",
            ]
        )
    typer.echo(f"as of {format_time(summary.as_of)} (China time):")
    if rows:
        typer.echo(
            table(["OUTLET", "KIND", "REPLAY", "ITEMS", "SHOWN", "MISMATCHES"], rows)
        )
    else:
        typer.echo("no outlets configured and nothing delivered")
    typer.echo(
        f"\nwrote {len(summary.files)} file(s) under {out}: replay.json and, per "
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
    Unset secrets do not matter: nothing is sent. Exit 1 if any rendition renders to
    other bytes than the log recorded (each is named); 2 for a bad --as-of.

    Example: syndicate audit replay --as-of 2026-10-09T18:00 --outlet portal --out replay-1009
    """
    with cli_errors():
        try:
            moment = parse_moment(as_of)
        except ValueError as exc:
            raise InputError([Problem("--as-of", str(exc))]) from None
        existed = _check_out(out)
        with engine(ctx, outlets=False) as run:
            now = run.items.clock()
            if moment > now and _today_alone(as_of, now):
                moment = now  # "as of today": until now
            if moment > now:
                raise InputError(
                    [
                        Problem(
                            "--as-of",
                            f"{format_time(moment)} is in the future (it is "
                            f"{format_time(now)} now, China time)",
                        )
                    ]
                )
            outlets, problems, kinds = _loaded_outlets(run)
            stop = run.deliveries.recorder.max_notification_id() or 0
            with _progress("reading the deliveries log", stop) as advance:
                reached = [0]

                def on_page(position: int) -> None:
                    if advance is not None:
                        advance(position - reached[0])
                    reached[0] = position

                summary = replay_as_of(
                    run.items,
                    run.deliveries,
                    as_of=moment,
                    out=out,
                    outlets=outlets,
                    kinds=kinds,
                    problems=problems,
                    only=outlet,
                    attachments=run.project.attachments.root,
                    on_page=on_page,
                )
        if outlet is not None and not summary.outlets:
            for path in summary.files:
                path.unlink(missing_ok=True)
            if not existed:
                out.rmdir()
            raise InputError(
                [
                    Problem(
                        "--outlet", f"no outlet {outlet!r} is configured or in the log"
                    )
                ]
            )
        if as_json:
            echo_json(summary.as_json())
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
    if summary.mismatches:
        raise typer.Exit(1)


def _calendar(holidays: Path | None) -> WorkdayCalendar:
    if holidays is None:
        return WorkdayCalendar()
    try:
        return WorkdayCalendar(load_holiday_file(holidays))
    except HolidayFileError as exc:
        raise InputError([Problem("--holidays", str(exc))]) from None
    except OSError as exc:
        raise InputError(
            [Problem("--holidays", f"cannot read {holidays}: {exc.strerror or exc}")]
        ) from None


def _warn(calendar: WorkdayCalendar) -> None:
    for warning in calendar.warnings():
        typer.echo(
            f"warning: {warning}; pass --holidays FILE with that year's official "
            "holidays and 调休 working days",
            err=True,
        )


_STATES = (
    DeadlineState.MET,
    DeadlineState.LATE,
    DeadlineState.OPEN,
    DeadlineState.DUE_SOON,
)


def _deadline_text(found: list[DeadlineFact]) -> str:
    rows = []
    for f in found:
        d = f.deadline
        rows.append(
            [
                f.ref,
                _clip(f.title, 30),
                d.formed_on.isoformat(),
                d.due.isoformat(),
                d.published_on.isoformat() if d.published_on else "-",
                d.state.value,
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
    count yet. States: met, late (LATE BY working days), open, due_soon (at most 5
    working days LEFT). Working days follow the official calendar (holidays, 调休);
    years it does not cover count weekends only, with a warning on stderr: pass
    --holidays FILE for them. A report, not a check: the exit status is 0 whatever the
    states (1 or 2 only for errors).

    Example: syndicate audit deadlines --today 2026-05-20 --holidays holidays-2027.txt
    """
    with cli_errors():
        calendar = _calendar(holidays)
        day: date | None = None
        if today is not None:
            try:
                day = date.fromisoformat(today.strip())
            except ValueError:
                raise InputError(
                    [Problem("--today", f"invalid date {today!r}; expected YYYY-MM-DD")]
                ) from None
        with engine(ctx, outlets=False) as run:
            day = day or run.items.clock().astimezone(CHINA_TZ).date()
            outlets, _, kinds = _loaded_outlets(run)
            public = {n for n in kinds if outlet_info(outlets, kinds, n).public}
            facts = item_facts(run.items)
            wanted = [f.id for f in facts.values() if f.proactive]
            published = first_public_publication(run.deliveries, wanted, public)
            found = deadline_facts(facts, published, today=day, calendar=calendar)
        counts = {s: sum(1 for f in found if f.deadline.state is s) for s in _STATES}
        if as_json:
            echo_json(
                {
                    "today": day.isoformat(),
                    "public_outlets": sorted(public),
                    "items": [f.as_json() for f in found],
                    "summary": {s.value: n for s, n in counts.items()},
                    "warnings": calendar.warnings(),
                }
            )
        elif found:
            typer.echo(_deadline_text(found))
        if not as_json:
            typer.echo(
                f"\n{len(found)} proactive item(s) as of {day}: "
                f"{counts[DeadlineState.MET]} met, {counts[DeadlineState.LATE]} late, "
                f"{counts[DeadlineState.OPEN]} open, "
                f"{counts[DeadlineState.DUE_SOON]} due soon"
            )
        if not public:
            typer.echo(
                "note: no public outlet (one with a channel other than 'other') is "
                "configured; nothing counts as published",
                err=True,
            )
        _warn(calendar)


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
    pilot area and channel, revisions and withdrawals. The CSVs are UTF-8 with a BOM.

    Example: syndicate audit report --out report-2026 --year 2026
    """
    with cli_errors():
        calendar = _calendar(holidays)
        if out.exists() and not out.is_dir():
            raise InputError([Problem("--out", f"{out} exists and is not a directory")])
        with engine(ctx, outlets=False) as run:
            outlets, problems, kinds = _loaded_outlets(run)
            data = report_data(
                run.items,
                run.deliveries,
                outlets=outlets,
                kinds=kinds,
                problems=problems,
                now=run.items.clock(),
                calendar=calendar,
                year=year,
            )
        written = write_report(data, out)
        for path in written:
            typer.echo(str(path))
        typer.echo(
            f"report: {len(data.deliveries)} delivery(ies), {len(data.failures)} "
            f"failure(s), {len(data.missing)} missing or stale, "
            f"{sum(1 for d in data.deadlines if d.state == 'late')} late item(s)",
            err=True,
        )
        _warn(calendar)


def register(app: typer.Typer) -> None:
    """Add the reading and reporting commands to the `audit` app."""
    for command in (trail, replay, deadlines, report):
        app.command()(command)
