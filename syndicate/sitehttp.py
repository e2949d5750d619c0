"""How an outlet's folder is served over HTTP: the headers, and the loopback preview.

A site written by an outlet (the portal) holds two kinds of file. Its own pages, scripts
and styles, which syndicate wrote; and attachments (`files/<sha256>/<name>`), which are
whatever people uploaded: a PDF, but also an HTML page or an SVG image with a script in
it. Served from the site's own origin as `text/html` or `image/svg+xml`, such a file would
run its script *as the site* (stored XSS). So every attachment is sent as a download,
never as a page:

- `Content-Type: application/octet-stream` (no browser renders that);
- `Content-Disposition: attachment` with the file name (RFC 6266; a non-ASCII name as
  `filename*=UTF-8''…`, RFC 5987/8187, after an ASCII stand-in for old clients);
- `X-Content-Type-Options: nosniff`, so the type is not guessed from the bytes;
- `Content-Security-Policy: default-src 'none'; sandbox`, so even a browser that opens it
  anyway gives it no scripts, no requests and a unique opaque origin.

Every other response gets `nosniff`, a policy that allows scripts, styles, images and
requests from the site itself only (the portal's `assets/site.js` and `search.js` work;
inline scripts and other origins do not), a referrer policy and a framing rule.

`PreviewServer` serves a folder that way on 127.0.0.1 (`syndicate serve`). It also refuses
(404) dot-files and dot-folders other than `.well-known/`, anything whose real path (after
symlinks) is outside the folder, directories under `files/` (no listing; an attachment
named `index.html` is not a page), and (403) requests whose `Host` is not the loopback
address it listens on, so a web page cannot reach the preview through DNS rebinding. The
portal's sample web-server configuration (`nginx.conf`, `apache.conf` in its state
folder) sends the same headers.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import sys
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "ATTACHMENTS",
    "ATTACHMENT_HEADERS",
    "ATTACHMENT_POLICY",
    "ATTACHMENT_TYPE",
    "PAGE_HEADERS",
    "PAGE_POLICY",
    "PreviewHandler",
    "PreviewServer",
    "content_disposition",
]

ATTACHMENTS = "files"  # the folder of attachments in a site (`files/<sha256>/<name>`)
ATTACHMENT_TYPE = "application/octet-stream"
ATTACHMENT_POLICY = "default-src 'none'; sandbox"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
NOSNIFF = ("X-Content-Type-Options", "nosniff")
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    NOSNIFF,
    ("Content-Security-Policy", PAGE_POLICY),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "SAMEORIGIN"),
)
"""Headers for every response that is not an attachment."""
ATTACHMENT_HEADERS: tuple[tuple[str, str], ...] = (
    NOSNIFF,
    ("Content-Security-Policy", ATTACHMENT_POLICY),
)
"""Headers for every response under `files/`, besides its type and disposition."""

_PLAIN_NAME = re.compile(r"[A-Za-z0-9 ._()+,=@~-]+")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9 ._()+,=@~-]+")


def content_disposition(name: str) -> str:
    """`attachment` with `name` (RFC 6266): quoted if plain ASCII, otherwise an ASCII
    stand-in followed by the exact name as `filename*=UTF-8''…` (RFC 8187), which every
    current browser prefers."""
    if _PLAIN_NAME.fullmatch(name):
        return f'attachment; filename="{name}"'
    stand_in = _NOT_PLAIN.sub("_", name).strip() or "download"
    return (
        f"attachment; filename=\"{stand_in}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


def _hidden(parts: list[str] | tuple[str, ...]) -> bool:
    return any(p.startswith(".") and p != ".well-known" for p in parts if p)


class PreviewHandler(SimpleHTTPRequestHandler):
    """Static files with UTF-8 text types and the headers above; see the module doc."""

    server_version = "syndicate-preview"
    sys_version = ""
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
        ".txt": "text/plain; charset=utf-8",
    }

    _attachment = False
    _download: str | None = None
    _status = 0

    def version_string(self) -> str:
        return self.server_version  # not Python's version

    def send_head(self) -> Any:
        self._attachment, self._download = False, None
        if not self._host_allowed():
            self.send_error(403, "Use the address syndicate serve printed")
            return None
        decoded = unquote(urlsplit(self.path).path)
        parts = posixpath.normpath(decoded).split("/")
        self._attachment = [p for p in parts if p][:1] == [ATTACHMENTS]
        # Dot-files and dot-folders (an outlet's old .syndicate/ state) are never served;
        # .well-known/ (RFC 8615: the published audit key and checkpoints) is.
        if "\0" in decoded or _hidden(parts):
            self.send_error(404, "Not found")
            return None
        path = self.translate_path(self.path)
        root = os.path.realpath(self.directory)
        real = os.path.realpath(path)
        inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
        if not inside or _hidden(Path(os.path.relpath(real, root)).parts):
            self.send_error(
                404, "Not found"
            )  # a symlink out of the folder, or to a dot-file
            return None
        if self._attachment:
            if not os.path.isfile(real):  # no listing, no index.html under files/
                self.send_error(404, "Not found")
                return None
            self._download = os.path.basename(path)
        return super().send_head()

    def _host_allowed(self) -> bool:
        host = self.headers.get("Host")
        if (
            host is None
        ):  # HTTP/1.0 without Host: not a browser, so not a rebinding page
            return True
        port = getattr(self.server, "server_port", 0)
        names = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if port == 80:
            names |= {"127.0.0.1", "localhost"}
        return host.strip().lower() in names

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        if self._attachment:
            return ATTACHMENT_TYPE
        return super().guess_type(path)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def end_headers(self) -> None:
        if self._attachment:
            for name, value in ATTACHMENT_HEADERS:
                self.send_header(name, value)
            if self._download is not None and self._status == 200:
                self.send_header(
                    "Content-Disposition", content_disposition(self._download)
                )
        else:
            for name, value in PAGE_HEADERS:
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log = getattr(self.server, "log", None)
        if log is not None:
            log(f"{self.address_string()} {format % args}")


class PreviewServer(ThreadingHTTPServer):
    """`folder` served by `PreviewHandler` on 127.0.0.1:`port` (0 picks a free port).

    Binding errors are the caller's (OSError). `log` receives one line per request."""

    daemon_threads = True

    def __init__(
        self, folder: Path, port: int = 0, *, log: Callable[[str], None] | None = None
    ) -> None:
        self.folder = folder
        self.log = log
        handler = functools.partial(PreviewHandler, directory=str(folder))
        super().__init__(("127.0.0.1", port), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that cancels a download or closes the connection early is routine;
        # anything else still gets the standard report.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
