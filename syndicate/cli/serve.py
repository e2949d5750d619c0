"""`syndicate serve`: preview an outlet's files (the portal site, a kiosk bundle) locally."""

from __future__ import annotations

import errno
from typing import Annotated

import typer

from syndicate.cli.output import cli_errors
from syndicate.cli.state import open_engine
from syndicate.errors import InputError

__all__ = ["register"]


def serve(
    ctx: typer.Context,
    outlet: Annotated[
        str | None,
        typer.Option(
            "--outlet",
            help="Outlet to preview (default: the portal outlet).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one)."
        ),
    ] = 8000,
) -> None:
    """Preview an outlet's files (the portal site, a kiosk bundle) at http://127.0.0.1:PORT/.

    Serves the folder the outlet writes to, read-only, on the loopback interface only;
    dot-files (but .well-known/) and files outside the folder are not served.
    Attachments (files/) are sent as downloads, never as pages, with the headers the
    portal's sample nginx.conf sets. Stop with Ctrl+C. This is a preview for people
    checking pages before they go live; publish the folder with your web server.

    Example: syndicate serve --outlet portal --port 8080
    """
    from syndicate.sitehttp import PreviewServer

    with cli_errors():
        with open_engine(ctx) as engine:
            chosen = engine.preview_target(outlet)
        folder = chosen.folder
        try:
            server = PreviewServer(
                folder, port, log=lambda line: typer.echo(line, err=True)
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"--port: {port} is in use on 127.0.0.1; pick another or pass 0"
                ) from None
            raise InputError(
                f"--port: cannot listen on {port}: {exc.strerror}"
            ) from None
    typer.echo(f"serving outlet {chosen.name} ({folder}) at {server.url}", err=False)
    typer.echo("press Ctrl+C to stop", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add `serve` to the root command."""
    app.command()(serve)
