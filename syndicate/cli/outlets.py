"""`syndicate outlets …`: installed adapter kinds and the configured outlets."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from syndicate.cli.output import cli_errors, echo_json, table
from syndicate.cli.review import review_off_warning
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor

__all__ = ["app"]

app = typer.Typer(
    help="Adapter kinds and configured outlets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("list")
def list_kinds(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List installed adapter kinds: module, distribution and version.

    Adapters come from the `syndicate.adapters` entry-point group; built-in ones too.

    Example: syndicate outlets list --json
    """
    from syndicate.outlets import outlet_kinds

    with cli_errors():
        # No home needed: the kinds installed in this environment.
        kinds = outlet_kinds()
        if as_json:
            echo_json([k.as_json() for k in kinds])
            return
        typer.echo(
            table(
                ["KIND", "MODULE", "DISTRIBUTION", "VERSION"],
                [[k.kind, k.module, k.distribution, k.version] for k in kinds],
            )
        )


@app.command()
def check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Validate the [outlets.NAME] tables of syndicate.toml; print them, secrets masked.

    Exit 2 with the outlet and field named when something is wrong. Warns when
    review before release (先审后发, [review] in syndicate.toml) is off: items then go
    out unreviewed. An outlet with `review_queue = true` is flagged: it receives
    review notices only, never items.

    Example: syndicate outlets check
    """
    with cli_errors(), open_engine(ctx, store=False) as engine:
        described = engine.check_outlets()
        warning = review_off_warning(engine.project.review)
        if as_json:
            echo_json([outlet.as_json() for outlet in described])
        elif not described:
            typer.echo("no outlets configured; add [outlets.NAME] tables", err=True)
        for outlet in [] if as_json else described:
            settings = json.dumps(dict(outlet.settings), ensure_ascii=False)
            flags = "".join(
                f"  {flag}"
                for flag, on in (
                    ("review_queue", outlet.review_queue),
                    ("internal", outlet.internal),
                    ("allow_private_network", outlet.allow_private_network),
                )
                if on
            )
            rate = outlet.rate_per_minute
            typer.echo(
                f"ok  {outlet.name}  kind={outlet.kind}  channel={outlet.channel}"
                + (f"  rate_per_minute={rate}" if rate else "")
                + f"{flags}  settings={settings}"
            )
        # Last, so it is what the operator reads.
        if warning:
            typer.echo(warning, err=True)


@app.command()
def detach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The outlet to forget.")],
    actor: ActorOption = None,
) -> None:
    """Forget an outlet removed from syndicate.toml on purpose (recorded, with the actor).

    Until then, workers refuse to plan, in case the removal was a stale configuration.
    Adding the outlet back later backfills it again with every live item.

    Example: syndicate outlets detach old-village-group --actor 张三
    """
    with cli_errors(), open_engine(ctx) as engine:
        engine.detach_outlet(name, actor=resolve_actor(actor))
        typer.echo(f"detached {name}; its past deliveries stay in the log")
