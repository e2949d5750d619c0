"""`syndicate audit inspect`: self-inspection against 国办秘函〔2019〕19号."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from syndicate.audit.inspect import Finding, InspectionReport

from syndicate.cli.audit_reports import parse_today
from syndicate.cli.output import cli_errors, echo_json
from syndicate.cli.state import JsonOption, open_engine

__all__ = ["register"]


def _where(f: Finding) -> str:
    parts = [p for p in (f.outlet, f.path, f.ref) if p]
    return " · ".join(parts) if parts else "-"


def _text(found: InspectionReport) -> str:
    lines = []
    for number, f in enumerate(found.findings, start=1):
        lines.append(
            f"{number}. [{f.severity.label}] {f.name} ({f.indicator})  {_where(f)}"
        )
        lines.append(f"   {f.message}")
        lines.append(f"   what to do: {f.action}")
    vetoes, deductions = len(found.vetoes), len(found.deductions)
    verdict = "FAIL (单项否决)" if vetoes else "pass (no veto finding)"
    checked = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in found.checked.items())
    lines.append(
        f"\n{verdict} as of {found.today}: {vetoes} veto, {deductions} deduction "
        f"finding(s); checked {checked}"
    )
    return "\n".join(lines).lstrip("\n")


def inspect(
    ctx: typer.Context,
    as_json: JsonOption = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            metavar="DATE",
            help="Inspect as if today were DATE (YYYY-MM-DD). Default: today in China. "
            "The portal's files are read as they are now.",
            show_default=False,
        ),
    ] = None,
    holidays: Annotated[
        Path | None,
        typer.Option(
            "--holidays",
            metavar="FILE",
            help="Official holidays and 调休 working days for years chinesecalendar "
            "does not cover: one 'YYYY-MM-DD off|work' a line (docs/audit.md).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Self-inspection against 国办秘函〔2019〕19号 (政府网站与政务新媒体检查指标).

    What a machine can check, from the logs, the outlet configuration and the
    portal's folder: the home page and columns not updated (2 weeks; policy and
    notice columns 6 months), empty columns, dead links and item pages without a
    publication date, new-media accounts silent for 2 weeks, policies (规章,
    规范性文件) without a 解读, 公示 published after their window opened, items later
    than their catalogue 时限 (time_limit_days). Veto findings (单项否决) are listed
    first; each names the page or item and what to do (docs/inspection.md).

    Exit status 1 when there is any veto finding, 0 otherwise (2 for bad input).

    Example: syndicate audit inspect --today 2026-06-15 --json
    """
    from syndicate.engine.audit import workday_calendar

    with cli_errors():
        calendar = workday_calendar(holidays)
        day = parse_today(today)
        with open_engine(ctx) as engine:
            found = engine.inspect(today=day, calendar=calendar)
    if as_json:
        echo_json(found.as_json())
    else:
        typer.echo(_text(found))
        for note in found.notes:
            typer.echo(f"note: {note}", err=True)
    if found.vetoes:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `syndicate audit`."""
    app.command()(inspect)
