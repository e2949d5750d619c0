"""`syndicate serve`: preview an outlet's files (the portal site, a kiosk bundle) locally."""

from __future__ import annotations

import errno
import functools
import posixpath
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import typer

from syndicate.cli.output import cli_errors
from syndicate.cli.state import state_of
from syndicate.errors import DomainError, InputError
from syndicate.outlets import Outlet

__all__ = ["register"]


class _Preview(SimpleHTTPRequestHandler):
    """Static files with UTF-8 text types; hidden files (the site's state) are not served."""

    extensions_map = {  # noqa: RUF012 (the base class declares it)
        **SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".xml": "application/xml; charset=utf-8",
        ".atom": "application/atom+xml; charset=utf-8",
        ".svg": "image/svg+xml",
        ".csv": "text/csv; charset=utf-8",
    }

    def send_head(self) -> Any:
        parts = posixpath.normpath(unquote(urlsplit(self.path).path)).split("/")
        # Hidden files and folders (the outlet's .syndicate/ state) are never served;
        # .well-known/ (RFC 8615: the published audit key and checkpoints) is.
        if any(p.startswith(".") and p != ".well-known" for p in parts if p):
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        typer.echo(f"{self.address_string()} {format % args}", err=True)


def _pick(
    outlets: dict[str, Outlet], problems: dict[str, str], name: str | None
) -> tuple[Outlet, Path]:
    foldered = {
        n: o
        for n, o in outlets.items()
        if isinstance(getattr(o.settings, "path", None), Path)
    }
    if name is not None:
        if name in problems:
            raise InputError(f"--outlet: {problems[name]}")
        if name not in outlets:
            raise InputError(
                f"--outlet: no outlet {name!r} in syndicate.toml "
                f"(outlets: {', '.join(sorted(outlets)) or 'none'})"
            )
        if name not in foldered:
            raise InputError(
                f"--outlet: {name} ({outlets[name].kind}) does not write files to a "
                "folder, so there is nothing to preview"
            )
        chosen = foldered[name]
    else:
        portals = [o for o in foldered.values() if o.kind == "portal"]
        candidates = portals or list(foldered.values())
        if len(candidates) != 1:
            names = ", ".join(sorted(foldered)) or "none"
            raise InputError(
                f"--outlet: say which outlet to preview (outlets with files: {names})"
            )
        chosen = candidates[0]
    folder: Path = chosen.settings.path  # type: ignore[attr-defined]
    if not folder.is_dir():
        raise DomainError(
            f"outlet {chosen.name} has nothing at {folder} yet; run `syndicate sync` first"
        )
    return chosen, folder


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
    the outlet's state folder is not served. Stop with Ctrl+C. This is a preview for
    people checking pages before they go live; publish the folder with your web server.

    Example: syndicate serve --outlet portal --port 8080
    """
    with cli_errors():
        chosen, folder = _pick(*state_of(ctx).project().outlets_for_reading(), outlet)
        handler = functools.partial(_Preview, directory=str(folder))
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"--port: {port} is in use on 127.0.0.1; pick another or pass 0"
                ) from None
            raise InputError(
                f"--port: cannot listen on {port}: {exc.strerror}"
            ) from None
    url = f"http://127.0.0.1:{server.server_port}/"
    typer.echo(f"serving outlet {chosen.name} ({folder}) at {url}", err=False)
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
