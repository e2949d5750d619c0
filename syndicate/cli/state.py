"""What the root command hands to every subcommand, and options they share."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from syndicate.engine import Engine
    from syndicate.project import Project

from syndicate.errors import InputError

__all__ = [
    "ActorOption",
    "CliState",
    "JsonOption",
    "OnlyItemArgument",
    "OutletOption",
    "open_engine",
    "resolve_actor",
    "state_of",
]


@dataclass
class CliState:
    """Global options."""

    home: Path

    def project(self, *, store: bool = True) -> Project:
        """The home's project; `ConfigurationError` if it is not initialised, or if its
        store is missing (only `init` creates one) unless `store` is False (for
        commands that only read syndicate.toml)."""
        from syndicate.project import Project

        project = Project.load(self.home)
        if store:
            project.require_store()
        return project


def state_of(ctx: typer.Context) -> CliState:
    """The global options of the running command."""
    state: CliState = ctx.obj
    return state


@contextmanager
def open_engine(ctx: typer.Context, *, store: bool = True) -> Iterator[Engine]:
    """The engine of the home the command runs on, closed when the block ends."""
    from syndicate.engine import Engine

    with Engine(state_of(ctx).project(store=store)) as engine:
        yield engine


ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        envvar="SYNDICATE_ACTOR",
        help="Who is doing this; recorded on the event. Default: your OS user name.",
        show_default=False,
    ),
]

OnlyItemArgument = Annotated[
    str | None,
    typer.Argument(metavar="[REF]", help="Only this item.", show_default=False),
]

OutletOption = Annotated[
    str | None, typer.Option("--outlet", metavar="NAME", help="Only this outlet.")
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts instead of text.")
]


def resolve_actor(actor: str | None) -> str:
    """The actor to record: --actor, SYNDICATE_ACTOR, or the OS user."""
    if actor is not None:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise InputError(
            "cannot tell who you are; pass --actor NAME or set SYNDICATE_ACTOR"
        ) from None
