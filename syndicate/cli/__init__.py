"""The `syndicate` command line: one module per noun, thin commands over the library.

Exit codes: 0 success; 1 a domain error (already published, conflict, not found…) or an
unreachable store; 2 bad input or usage. Expected errors print one `error:` line per
problem on stderr, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syndicate.cli import (
    attest,
    audit,
    catalogue,
    commands,
    items,
    outlets,
    repair,
    review,
    run,
    serve,
)
from syndicate.cli.state import CliState

__all__ = ["app", "main"]

app = typer.Typer(
    name="syndicate",
    help=(
        "Publish government disclosure items (政务公开事项) once, as events, and keep "
        "every outlet in step with an auditable log.\n\n"
        "Start with `syndicate demo`, or `syndicate init` in a new directory."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version as dist_version

        typer.echo(f"syndicate {dist_version('syndicate')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path,
        typer.Option(
            "--home",
            envvar="SYNDICATE_HOME",
            help="Project directory holding syndicate.toml and the data.",
            show_default="current directory",
            file_okay=False,
        ),
    ] = Path(),
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(home=home)


app.add_typer(items.app, name="items")
app.add_typer(outlets.app, name="outlets")
app.add_typer(review.app, name="review")
app.add_typer(audit.app, name="audit")
app.add_typer(catalogue.app, name="catalogue")
commands.register(app)
run.register(app)
attest.register(app)
serve.register(app)
repair.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
