"""`syndicate outlets …`: installed adapter kinds and the configured outlets."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from syndicate.cli.output import cli_errors, echo_json, table
from syndicate.cli.state import ActorOption, JsonOption, resolve_actor, state_of
from syndicate.errors import InputError, Problem

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
    from syndicate.registry import Registry

    with cli_errors():
        registry = Registry.from_entry_points()
        rows = [registry.info(kind) for kind in registry]
        if as_json:
            echo_json([r.__dict__ for r in rows])
            return
        typer.echo(
            table(
                ["KIND", "MODULE", "DISTRIBUTION", "VERSION"],
                [[r.kind, r.module, r.distribution, r.version] for r in rows],
            )
        )


@app.command()
def check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Validate the [outlets.NAME] tables of syndicate.toml; print them, secrets masked.

    Exit 2 with the outlet and field named when something is wrong.

    Example: syndicate outlets check
    """
    with cli_errors():
        outlets = state_of(ctx).project(store=False).outlets
        described = [
            {
                "name": o.name,
                "kind": o.kind,
                "channel": o.channel.value if o.channel else "other",
                "agencies": list(o.filter.agencies),
                "areas": list(o.filter.areas),
                "audiences": list(o.filter.audiences),
                "internal": o.internal,
                "rate_per_minute": o.rate_per_minute,
                "allow_private_network": o.allow_private_network,
                # Unset optional settings are null (not the text "None").
                "settings": {
                    k: None if v is None else str(v)
                    for k, v in o.masked_settings().items()
                },
            }
            for o in outlets.values()
        ]
        if as_json:
            echo_json(described)
            return
        if not described:
            typer.echo("no outlets configured; add [outlets.NAME] tables", err=True)
            return
        for outlet in described:
            settings = json.dumps(outlet["settings"], ensure_ascii=False)
            flags = "".join(
                f"  {flag}"
                for flag in ("internal", "allow_private_network")
                if outlet[flag]
            )
            rate = outlet["rate_per_minute"]
            typer.echo(
                f"ok  {outlet['name']}  kind={outlet['kind']}  "
                f"channel={outlet['channel']}"
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
    with cli_errors():
        project = state_of(ctx).project()
        if name in project.outlet_names:
            # The next planner run would attach it again and backfill it: a detach
            # that does nothing but confuse the register.
            raise InputError(
                [
                    Problem(
                        "NAME",
                        f"outlet {name!r} is still in syndicate.toml; delete its "
                        f"[outlets.{name}] table first (and restart workers without it)",
                    )
                ]
            )
        with (
            project.disclosures() as items,
            project.deliveries(items, outlets={}) as log,
        ):
            log.detach(name, actor=resolve_actor(actor))
        typer.echo(f"detached {name}; its past deliveries stay in the log")
