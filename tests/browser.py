"""A headless-browser harness for tests of the HTML outlets (portal site, kiosk bundle).

Import the session fixture into a test module and ask for it by name::

    from tests.browser import browser_fixture  # noqa: F401  (registers `browser`)
    from tests.browser import serve_directory, visit

    def test_page(browser: Browser, tmp_path: Path) -> None:
        with serve_directory(tmp_path) as base, visit(browser, base + "index.html") as v:
            assert not v.problems()

What is here:

* ``browser``: Debian's chromium driven by Playwright, launched once per test session.
* ``serve_directory``: a folder served over HTTP on 127.0.0.1 at an ephemeral port.
* ``visit``: one page in a fresh browser context that records console errors, uncaught
  exceptions, dialogs (``alert()``), HTTP errors and every request to a host other than
  127.0.0.1 (those are aborted, never fetched), plus an XSS marker: every frame gets
  ``window.__pwn(x)``, which appends ``x`` to ``window.__xss``.
* ``axe_violations`` / ``format_violations``: WCAG checks with axe-core.
* ``vnu_errors``: the Nu HTML Checker over many files in one Java process.
* ``screenshot``: a full-page PNG.

The checkers come from npm (``tools/package.json``): run ``npm ci --prefix tools``.

Missing tools (playwright, chromium, java, the npm packages) skip the tests locally; under
CI (``CI=true`` or ``SYNDICATE_REQUIRE_BROWSER=1``) they fail them instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypedDict
from urllib.parse import unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Dialog,
        Page,
        Playwright,
        Request,
        Response,
        Route,
        WebSocketRoute,
    )
    from playwright.sync_api import Error as PlaywrightError

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"
AXE_JS = TOOLS_DIR / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = TOOLS_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
NPM_HINT = "run `npm ci --prefix tools`"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
)
LOCAL_HOST = "127.0.0.1"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

# Defined in every frame before any of the page's scripts run. An XSS corpus uses
# `__pwn(1)` as its payload; `Visit.xss_hits()` reads back what ran.
XSS_MARKER_SCRIPT = """
(() => {
  const hits = [];
  Object.defineProperty(window, "__xss", { value: hits, configurable: false });
  Object.defineProperty(window, "__pwn", {
    value: (x) => { hits.push(x === undefined ? null : x); },
    configurable: false,
  });
})();
"""


# --------------------------------------------------------------------------- skip/fail


def browser_required() -> bool:
    """True under CI (CI=true or SYNDICATE_REQUIRE_BROWSER=1): missing tools fail tests."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("SYNDICATE_REQUIRE_BROWSER") == "1"
    )


def unavailable(reason: str) -> NoReturn:
    """Skip the current test (locally) or fail it (under CI) because a tool is missing."""
    if browser_required():
        pytest.fail(f"{reason} (mandatory under CI / SYNDICATE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


# --------------------------------------------------------------------------- browser


class _SharedBrowser:
    """One Playwright driver and one chromium for the whole session.

    Every module that imports the ``browser`` fixture gets its own copy of the fixture
    definition, and the sync Playwright API cannot run twice at once in one thread, so
    the copies share this reference-counted instance instead of each launching one.
    """

    def __init__(self) -> None:
        self._users = 0
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def acquire(self) -> Browser:
        if self._browser is None:
            self._browser = self._launch()
        self._users += 1
        return self._browser

    def release(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        browser, self._browser = self._browser, None
        driver, self._playwright = self._playwright, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if driver is not None:
                driver.stop()

    def _launch(self) -> Browser:
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError as exc:
            unavailable(f"playwright is not installed: {exc}")
        if not os.access(CHROMIUM, os.X_OK):
            unavailable(f"chromium is missing at {CHROMIUM} (apt-get install chromium)")
        driver = sync_playwright().start()
        try:
            browser = driver.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
            )
        except Error as exc:
            driver.stop()
            unavailable(f"chromium at {CHROMIUM} did not start: {exc.message}")
        self._playwright = driver
        return browser


_shared = _SharedBrowser()


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """Headless chromium (Debian's, via Playwright), shared by the whole session.

    Importing this object into a test module registers the fixture ``browser`` there.
    """
    instance = _shared.acquire()
    try:
        yield instance
    finally:
        _shared.release()


# `from tests.browser import browser` works too, but ruff then reports every
# `browser` parameter as F811 (redefinition of the unused import); importing
# `browser_fixture` avoids that.
browser = browser_fixture


# --------------------------------------------------------------------------- server

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".pdf": "application/pdf",
    ".woff2": "font/woff2",
}


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up early; report anything else."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler_class(
    root: Path, log: list[str] | None
) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = CONTENT_TYPES

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def send_head(self) -> Any:
            if log is not None:
                log.append(self.path)
            return super().send_head()

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve_directory(path: Path, *, log: list[str] | None = None) -> Iterator[str]:
    """Serve ``path`` over HTTP on 127.0.0.1; yield the base URL ``http://127.0.0.1:PORT/``.

    When ``log`` is given, the path of every GET/HEAD request is appended to it.
    """
    if not path.is_dir():
        raise NotADirectoryError(path)
    server = _QuietServer((LOCAL_HOST, 0), _handler_class(path, log))
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"serve {path}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


# --------------------------------------------------------------------------- visit


def is_external(url: str) -> bool:
    """True for network URLs (http, https, ws, wss) to any host but 127.0.0.1."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https", "ws", "wss"} and (
        parts.hostname != LOCAL_HOST
    )


@dataclass
class Visit:
    """A page opened by :func:`visit`, and everything it did wrong so far."""

    page: Page
    context: BrowserContext = field(repr=False)
    response: Response | None = field(default=None, repr=False)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def xss_hits(self) -> list[Any]:
        """Arguments of every ``__pwn(x)`` call that ran, across all frames."""
        hits: list[Any] = []
        for frame in self.page.frames:
            if frame.is_detached():
                continue
            hits.extend(frame.evaluate("() => (window.__xss || []).slice()"))
        return hits

    def settle(self, ms: float = 100) -> None:
        """Let timers and pending events run, then deliver their reports."""
        self.page.wait_for_timeout(ms)

    def problems(self) -> list[str]:
        """Everything recorded, prefixed by kind; empty for a clean page."""
        return [
            *(f"console error: {m}" for m in self.console_errors),
            *(f"page error: {m}" for m in self.page_errors),
            *(f"external request: {u}" for u in self.external_requests),
            *(f"http error: {m}" for m in self.http_errors),
            *(f"dialog: {m}" for m in self.dialogs),
        ]

    # Recorders, registered by `visit`.

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # An aborted external request also logs "Failed to load resource"; it is
        # reported once, as an external request.
        if message.location.get("url") in self.external_requests:
            return
        self.console_errors.append(message.text)

    def _on_page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(
            f"{error.name}: {error.message}" if error.name else error.message
        )

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.http_errors.append(f"{response.status} {response.url}")

    def _on_request_failed(self, request: Request) -> None:
        # ERR_ABORTED is a request the page itself cancelled (e.g. by navigating on).
        failure = request.failure or "failed"
        if request.url in self.external_requests or "ERR_ABORTED" in failure:
            return
        self.http_errors.append(f"{failure} {request.url}")

    def _block(self, route: Route) -> None:
        self.external_requests.append(route.request.url)
        route.abort("blockedbyclient")

    def _block_websocket(self, ws: WebSocketRoute) -> None:
        self.external_requests.append(ws.url)
        ws.close()


@contextlib.contextmanager
def visit(
    browser: Browser,
    url: str,
    *,
    width: int = 1366,
    height: int = 900,
    locale: str | None = None,
    javascript: bool = True,
    wait_until: Literal["commit", "domcontentloaded", "load", "networkidle"] = "load",
    service_workers: Literal["allow", "block"] = "block",
    timeout_ms: float = 15_000,
) -> Iterator[Visit]:
    """Open ``url`` in a fresh context at ``width`` x ``height`` and wait for ``wait_until``.

    Requests to hosts other than 127.0.0.1 are aborted and listed in
    ``external_requests``; dialogs are recorded and dismissed. Service workers are
    blocked by default because request interception cannot see through them. The
    context is closed on exit.
    """
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        java_script_enabled=javascript,
        service_workers=service_workers,
    )
    try:
        context.set_default_timeout(timeout_ms)
        context.add_init_script(XSS_MARKER_SCRIPT)
        page = context.new_page()
        result = Visit(page=page, context=context)
        context.route(is_external, result._block)
        context.route_web_socket(is_external, result._block_websocket)
        page.on("console", result._on_console)
        page.on("pageerror", result._on_page_error)
        page.on("dialog", result._on_dialog)
        page.on("response", result._on_response)
        page.on("requestfailed", result._on_request_failed)
        result.response = page.goto(url, wait_until=wait_until)
        # A round trip delivers the events that arrived while loading.
        page.evaluate("0")
        yield result
    finally:
        context.close()


# --------------------------------------------------------------------------- axe


class AxeNode(TypedDict):
    target: str
    html: str
    summary: str


class AxeViolation(TypedDict):
    id: str
    impact: str | None
    help: str
    help_url: str
    nodes: list[AxeNode]


@functools.cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        unavailable(f"axe-core is missing at {AXE_JS}: {NPM_HINT}")
    return AXE_JS.read_text(encoding="utf-8")


_AXE_RUN = """
async ([tags, disabled]) => {
  const rules = {};
  for (const id of disabled) rules[id] = { enabled: false };
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    rules,
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact ?? null,
    help: v.help,
    help_url: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => (Array.isArray(t) ? t.join(" >>> ") : t)).join(" | "),
      html: n.html,
      summary: n.failureSummary ?? "",
    })),
  }));
}
"""


def axe_violations(
    page: Page,
    *,
    tags: Sequence[str] = WCAG_TAGS,
    disable: Sequence[str] = (),
) -> list[AxeViolation]:
    """Run axe-core on the page's document; return its violations for ``tags``.

    axe is evaluated through the DevTools protocol, so a page's Content-Security-Policy
    does not stop it. ``disable`` lists rule ids to leave out.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    violations: list[AxeViolation] = page.evaluate(
        _AXE_RUN, [list(tags), list(disable)]
    )
    return violations


def format_violations(violations: Iterable[AxeViolation]) -> str:
    """A readable, multi-line account of axe violations for assertion messages."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"[{v['impact'] or '-'}] {v['id']}: {v['help']} ({v['help_url']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['html']}")
    return "\n".join(lines) or "no violations"


# --------------------------------------------------------------------------- vnu


def _file_url_path(url: str) -> str:
    """The local path in a ``file:`` URL as vnu writes it (``file:/a/b.html``)."""
    return "/" + unquote(url.removeprefix("file:")).lstrip("/")


def vnu_errors(paths: Iterable[Path]) -> list[str]:
    """Check HTML files with the Nu HTML Checker; return ``file:line: message`` errors.

    All files are checked by one Java process. An empty list means every file is valid.
    """
    files = list(paths)
    if not files:
        return []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(path)  # vnu ignores missing files silently
    java = shutil.which("java")
    if java is None:
        unavailable("java is missing (apt-get install default-jre-headless)")
    if not VNU_JAR.is_file():
        unavailable(f"the Nu HTML Checker is missing at {VNU_JAR}: {NPM_HINT}")
    names = {str(path.resolve()): str(path) for path in files}
    done = subprocess.run(
        [
            java,
            "-Dfile.encoding=UTF-8",
            "-jar",
            str(VNU_JAR),
            "--errors-only",
            "--format",
            "json",
            *names,
        ],
        capture_output=True,
        check=False,
        timeout=600,
    )
    # vnu writes its report to stderr and exits 1 when it found errors.
    report = done.stderr.decode("utf-8", errors="replace")
    try:
        messages = json.loads(report)["messages"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"vnu exited {done.returncode} without a JSON report:\n{report}"
        ) from None
    errors: list[str] = []
    for message in messages:
        if message.get("type") not in {"error", "non-document-error"}:
            continue
        url = message.get("url")
        where = (
            names.get(_file_url_path(url), _file_url_path(url))
            if isinstance(url, str) and url.startswith("file:")
            else url or "vnu"
        )
        line = message.get("firstLine", message.get("lastLine"))
        if line is not None:
            where = f"{where}:{line}"
        errors.append(f"{where}: {message.get('message', message)}")
    if done.returncode not in {0, 1} and not errors:
        raise RuntimeError(f"vnu exited {done.returncode}:\n{report}")
    return errors


# --------------------------------------------------------------------------- screenshot


def screenshot(page: Page, path: Path, *, full_page: bool = True) -> Path:
    """Save a (full-page) PNG of ``page`` at ``path``, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page, type="png")
    return path
