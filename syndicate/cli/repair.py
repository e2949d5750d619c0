"""`syndicate repair`: write back, from the log, outlet files that drifted or went missing."""

from __future__ import annotations

from typing import Annotated

import typer

from syndicate.cli.output import cli_errors, echo_json
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor

__all__ = ["register", "repair"]


def repair(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(
            metavar="[REF]",
            help="Only this item's own files (its page, attachments, document).",
            show_default=False,
        ),
    ] = None,
    outlet: Annotated[
        str | None,
        typer.Option("--outlet", metavar="NAME", help="Only this outlet."),
    ] = None,
    delete_extra: Annotated[
        bool,
        typer.Option(
            "--delete-extra",
            help="Also delete extra files (in the outlet's folder, never produced from "
            "the log). Without it they are only listed.",
        ),
    ] = False,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rewrite, from the log, the outlet files `audit consistency` finds drifted or missing.

    For each outlet whose files can be compared with the log (portal, feeds, kiosk,
    directory), the files it should hold are rebuilt from the renditions the log says
    were delivered and the signed checkpoints, compared byte for byte with its folder,
    and every drifted or missing file is written back (atomically). Each repair is
    recorded as a `Repaired` event on the delivery the files belong to, so `audit trail`
    shows it and `audit verify` covers it. Extra files are listed, and deleted only with
    --delete-extra. Running it again when nothing differs changes nothing.

    Use `syndicate retry` for deliveries that failed; `repair` is for files changed or
    lost on the outlet after a delivery succeeded. Exit 0 when the outlets' files now
    match the log, 1 when something is left (listed), 2 for bad input (nothing written).

    Example: syndicate repair --outlet portal --delete-extra
    """
    from syndicate.engine.repair import repairing_actor

    with cli_errors():
        who = repairing_actor(resolve_actor(actor))
        with open_engine(ctx) as run:
            results = run.repair(ref, outlet, actor=who, delete_extra=delete_extra)
    if as_json:
        echo_json([r.as_json() for r in results])
    else:
        for r in results:
            for path in sorted(r.rewritten):
                typer.echo(f"{r.outlet}: rewrote {path}")
            for path in r.removed:
                typer.echo(f"{r.outlet}: deleted extra {path}")
            for path in r.extra:
                typer.echo(
                    f"{r.outlet}: extra {path} (left; --delete-extra deletes it)"
                )
            for path, why in r.problems:
                typer.echo(f"{r.outlet}: not repaired {path}: {why}")
        done = sum(len(r.rewritten) + len(r.removed) for r in results)
        events = sum(r.events for r in results)
        left = sum(len(r.extra) + len(r.problems) for r in results)
        typer.echo(
            f"{done} file(s) repaired on {len(results)} outlet(s), recorded as "
            f"{events} event(s); {left} left"
            if done or left
            else f"nothing to repair on {len(results)} outlet(s)"
        )
    if any(not r.clean for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `repair` to the root app."""
    app.command()(repair)
