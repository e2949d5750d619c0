"""`syndicate outlets …`: installed adapter kinds and the configured outlets."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from syndicate.cli.output import cli_errors, echo_json, table
from syndicate.cli.state import ActorOption, JsonOption, open_engine, resolve_actor
from syndicate.outlets import outlet_kinds

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

    Exit 2 with the outlet and field named when something is wrong.

    Example: syndicate outlets check
    """
    with cli_errors(), open_engine(ctx, store=False) as engine:
        described = engine.check_outlets()
        if as_json:
            echo_json([outlet.as_json() for outlet in described])
            return
        if not described:
            typer.echo("no outlets configured; add [outlets.NAME] tables", err=True)
            return
        for outlet in described:
            settings = json.dumps(dict(outlet.settings), ensure_ascii=False)
            flags = "".join(
                f"  {flag}"
                for flag, on in (
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
