"""Top-level commands: init, log, areas, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syndicate.cli.output import (
    cli_errors,
    echo_json,
    echo_json_line,
    format_time,
    iso_china,
    table,
)
from syndicate.cli.state import JsonOption, open_engine, state_of
from syndicate.errors import InputError, Problem

__all__ = ["register"]


def init(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store URL to write into a new syndicate.toml: 'sqlite' (default) or "
            "postgresql://USER@HOST:5432/DBNAME.",
            show_default=False,
        ),
    ] = None,
    no_review: Annotated[
        bool,
        typer.Option(
            "--no-review",
            help="Write [review] levels = [] into a new syndicate.toml: items go out "
            "as soon as they are published, unreviewed. Default: one review level "
            '("审核"); see docs/review.md.',
        ),
    ] = False,
) -> None:
    """Create syndicate.toml (commented) and the data directory, and set up the store.

    A new syndicate.toml asks for review before release (先审后发): one level, "审核".
    Change the levels and reviewers in its [review] table (docs/review.md).

    Safe to run again: an existing syndicate.toml is kept, and the store's tables are
    created if they are missing. On PostgreSQL, run it once before starting workers.

    Example: syndicate --home /srv/disclosure init
    """
    from syndicate.engine import Engine

    with cli_errors():
        made = Engine.init(state_of(ctx).home, store_url=store, review=not no_review)
        project = made.project
        typer.echo(
            f"{'created' if made.created else 'kept existing'} {project.config_path}"
        )
        typer.echo(f"event store: {project.store.describe()}")
        typer.echo(
            f"{'created' if made.key_created else 'kept existing'} audit signing key "
            f"{made.private_key} (keep it secret and backed up; it is never printed)"
        )
        typer.echo(f"audit public key ({made.public_key}): {made.public_key_text}")
        if made.created:
            typer.echo(
                "review before release: on, one level"
                if not no_review
                else "review before release: OFF ([review] levels = []): items go "
                "out unreviewed"
            )
        typer.echo(
            "next: pick outlets from the commented examples at the end of "
            f"{project.config_path.name} and check them with `syndicate outlets check`; "
            "publish with `syndicate items publish PATH...` (docs/items.md) and deliver "
            "with `syndicate sync` (docs/quickstart.md walks through it)"
        )


def log(
    ctx: typer.Context,
    item: Annotated[
        str | None,
        typer.Option("--item", metavar="REF", help="Only this item's events."),
    ] = None,
    after: Annotated[
        int, typer.Option("--after", min=0, help="Start after this log position.")
    ] = 0,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Print at most this many.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON Lines, one event per line.")
    ] = False,
) -> None:
    """Print the event log in order: position, time, item, version, event, actor.

    Example: syndicate log --item 某县民政局/000014349/2026-00012 --json
    """
    with cli_errors(), open_engine(ctx) as engine:
        rows = engine.items.read_log(after=after, limit=limit, item=item)
        if as_json:
            for row in rows:
                record = row.as_json()
                record["timestamp"] = iso_china(row.timestamp)
                echo_json_line(record)
            return
        lines = [
            [
                str(r.position),
                format_time(r.timestamp),
                r.ref,
                f"v{r.version}",
                r.event,
                r.actor,
                (f"[{r.level}] " if r.level else "") + (r.reason or r.title or ""),
            ]
            for r in rows
        ]
        if not lines:
            typer.echo("the log is empty", err=True)
            return
        typer.echo(
            table(
                [
                    "POS",
                    "TIME (UTC+8)",
                    "ITEM",
                    "VER",
                    "EVENT",
                    "ACTOR",
                    "TITLE/REASON",
                ],
                lines,
            )
        )


def areas(as_json: JsonOption = False) -> None:
    """List the 26 pilot areas (试点领域): codes and Chinese names for item files.

    Example: syndicate areas --json
    """
    from syndicate.domain.catalogue import AREAS

    if as_json:
        echo_json(
            [
                {"number": a.number, "code": a.code, "name": a.name, "body": a.body}
                for a in AREAS
            ]
        )
        return
    rows = [[str(a.number), a.code, a.name, a.body] for a in AREAS]
    typer.echo(table(["#", "CODE", "NAME", "USUAL RESPONSIBLE BODY"], rows))


def demo(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Directory for the demo home; must be new or empty. "
            "Same as the global --home.",
            show_default="a new ./syndicate-demo directory",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Create a demo home; review and release the example items, revise one, withdraw one.

    Review before release at two levels: one item is returned with a comment and
    resubmitted, a policy and its 解读 are released together, a flood warning is
    released urgently and approved afterwards. It delivers them to every kind of outlet (loopback fakes for the pushed ones),
    checks the result, and prints what happened and what to run next. The home is
    --home (global or here) if given on the command line, which must be a new or empty
    directory, so the demo never writes into a real project; SYNDICATE_HOME is not
    used. Without it: a new ./syndicate-demo (./syndicate-demo-2, … if taken).

    Example: syndicate --home /tmp/try-syndicate demo
    """
    from syndicate.demo import run_demo

    with cli_errors():
        # Only a --home typed on the command line: SYNDICATE_HOME usually points at a
        # real project, and the demo is not for one.
        source = ctx.find_root().get_parameter_source("home")
        given = source is not None and source.name == "COMMANDLINE"
        if home is None and given:
            home = state_of(ctx).home
        elif home is not None and given and home != state_of(ctx).home:
            raise InputError(
                [Problem("--home", "given twice with different directories")]
            )
        run_demo(home, echo=typer.echo)


def register(app: typer.Typer) -> None:
    """Add the top-level commands to the root app."""
    app.command()(init)
    app.command()(log)
    app.command()(areas)
    app.command()(demo)
