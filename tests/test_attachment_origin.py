"""Attachments never run as the portal's origin (issue 13, item 6).

An HTML or SVG attachment served from the site's own origin as a page would run its
script as the site. `syndicate serve` sends everything under `files/` as a download in a
sandbox, sends `nosniff` and a Content-Security-Policy with every other response, and
refuses dot-files, symlinks out of the folder and foreign `Host` names; the portal writes
nginx and Apache configuration that does the same, outside the web root.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError
from syndicate_adapters.portal import PortalAdapter, PortalSettings, server_configs

from syndicate.attachments import PreparedAttachment
from syndicate.delivery import Worker
from syndicate.domain.deliveries import DeliveryState
from syndicate.domain.guard import GuardOverride
from syndicate.outlets import Outlet, OutletFilter
from syndicate.project import Project
from syndicate.sitehttp import PreviewServer, content_disposition
from syndicate.testing import FixedClock
from tests.browser import (
    browser_fixture,  # noqa: F401  (registers `browser`)
    visit,
)
from tests.conftest import content

SITE = "https://www.linxi.gov.cn"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
SANDBOX = "default-src 'none'; sandbox"
PDF_NAME = "临溪县2026年预算公开.pdf"
ATTACHMENTS = {
    "page.html": b"<!DOCTYPE html><title>x</title><script>__pwn(1);alert(document.domain)</script>",
    "chart.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>__pwn(2);alert(document.domain)</script></svg>"
    ),
    "data.xml": (
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">'
        b"<script>__pwn(3);alert(1)</script></html>"
    ),
    PDF_NAME: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "index.html": b"<script>alert(1)</script>",
}


def attachment_headers(name: str) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": content_disposition(name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX,
    }


def fetch(url: str, method: str = "GET", **options: Any) -> requests.Response:
    with requests.Session() as http:
        return http.request(method, url, timeout=5, **options)


def security_headers(response: requests.Response) -> dict[str, str]:
    wanted = (
        "Content-Type",
        "Content-Disposition",
        "X-Content-Type-Options",
        "Content-Security-Policy",
        "Referrer-Policy",
        "X-Frame-Options",
    )
    return {k: response.headers[k] for k in wanted if k in response.headers}


# -- a real portal, published through the worker, previewed by `syndicate serve` ------


@dataclass
class Served:
    url: str
    root: Path
    item: str
    files: dict[str, str]  # attachment name → its href under the site root


@pytest.fixture
def served(sqlite_project: Project, tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "site"
    outlet = Outlet(
        name="portal",
        kind="portal",
        channel=None,
        filter=OutletFilter(),
        settings=PortalSettings.model_validate({"path": root, "site_url": SITE}),
        adapter_class=PortalAdapter,
    )
    prepared = []
    for name, data in ATTACHMENTS.items():
        source = tmp_path / "uploads" / name
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(data)
        prepared.append(PreparedAttachment.from_file(source))
    clock = FixedClock()
    with sqlite_project.disclosures(clock=clock) as items:
        item = items.publish(
            content(attachments=[a.meta.model_dump() for a in prepared]),
            actor="t",
            attachments=prepared,
            # An image, XML and a file named .pdf the guard cannot read: checked by eye.
            override=GuardOverride("附件已人工核对，不含个人信息"),
        )
    with (
        sqlite_project.disclosures(clock=clock) as items,
        sqlite_project.deliveries(
            items, clock=clock, outlets={"portal": outlet}
        ) as deliveries,
    ):
        deliveries.plan()
        worker = Worker(
            deliveries,
            items,
            {"portal": outlet},
            name="w",
            clock=clock,
            attachments=sqlite_project.attachments.root,
        )
        try:
            worker.run_until_idle()
        finally:
            worker.close()
        states = [d.state for d in deliveries.all_deliveries().values()]
    assert states == [DeliveryState.SUCCEEDED], states
    with (sqlite_project.home / "syndicate.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[outlets.portal]\nkind = "portal"\npath = "{root}"\n')
        f.write(f'site_url = "{SITE}"\n')
    files = {
        a.meta.name: f"files/{a.meta.sha256}/{quote(a.meta.name)}" for a in prepared
    }
    home = str(sqlite_project.home)
    with subprocess.Popen(
        [sys.executable, "-m", "syndicate", "--home", home, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            url = line.split(" at ")[-1].strip()
            assert url.startswith("http://127.0.0.1:"), line
            yield Served(url, root, str(item.item_id), files)
        finally:
            process.terminate()
            _, err = process.communicate(timeout=10)
        assert "Traceback" not in err, err


def test_every_attachment_is_a_sandboxed_download_with_its_name(
    served: Served,
) -> None:
    page = fetch(f"{served.url}items/{served.item}.html")
    assert page.status_code == 200
    for name, href in served.files.items():
        assert f'href="../{href}" download' in page.text  # the page links it so
        got = fetch(served.url + href)
        assert got.status_code == 200, name
        assert got.content == ATTACHMENTS[name]
        assert security_headers(got) == attachment_headers(name), name
        head = fetch(served.url + href, "HEAD")
        assert security_headers(head) == attachment_headers(name), name


def test_exact_headers_for_html_svg_xml_and_a_chinese_pdf(served: Served) -> None:
    def get(name: str) -> dict[str, str]:
        return security_headers(fetch(served.url + served.files[name]))

    sandboxed = {
        "Content-Type": "application/octet-stream",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    assert get("page.html") == {
        **sandboxed,
        "Content-Disposition": 'attachment; filename="page.html"',
    }
    assert get("chart.svg") == {
        **sandboxed,
        "Content-Disposition": 'attachment; filename="chart.svg"',
    }
    assert get("data.xml") == {
        **sandboxed,
        "Content-Disposition": 'attachment; filename="data.xml"',
    }
    assert get(PDF_NAME) == {
        **sandboxed,
        "Content-Disposition": (
            "attachment; filename=\"_2026_.pdf\"; filename*=UTF-8''"
            "%E4%B8%B4%E6%BA%AA%E5%8E%BF2026%E5%B9%B4%E9%A2%84%E7%AE%97%E5%85%AC%E5%BC%80.pdf"
        ),
    }


def test_no_attachment_folder_is_a_page_or_a_listing(served: Served) -> None:
    index = served.files["index.html"].rsplit("/", 1)[0]
    for path in (f"{index}/", index, "files/", "files", f"{index}/nothing.html"):
        got = fetch(served.url + path, allow_redirects=False)
        assert got.status_code == 404, path
        assert "<script>" not in got.text
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Content-Security-Policy"] == SANDBOX
        assert "Content-Disposition" not in got.headers


def test_pages_get_nosniff_and_a_policy_that_allows_the_sites_own_assets(
    served: Served,
) -> None:
    for path, kind in (
        ("index.html", "text/html; charset=utf-8"),
        (f"items/{served.item}.html", "text/html; charset=utf-8"),
        ("search.html", "text/html; charset=utf-8"),
        ("assets/site.js", "text/javascript; charset=utf-8"),
        ("assets/search.js", "text/javascript; charset=utf-8"),
        ("assets/site.css", "text/css; charset=utf-8"),
        ("sitemap.xml", "application/xml; charset=utf-8"),
    ):
        got = fetch(served.url + path)
        assert got.status_code == 200, path
        assert security_headers(got) == {
            "Content-Type": kind,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": PAGE_CSP,
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Frame-Options": "SAMEORIGIN",
        }, path
    missing = fetch(served.url + "nothing.html")
    assert missing.status_code == 404
    assert missing.headers["X-Content-Type-Options"] == "nosniff"
    assert missing.headers["Content-Security-Policy"] == PAGE_CSP
    # The pages use nothing the policy refuses: no inline script or style, nothing
    # from elsewhere.
    text = fetch(served.url + "search.html").text
    assert "<script>" not in text
    assert "style=" not in text
    assert "<style" not in text
    assert '<script src="assets/search.js"></script>' in text


def test_the_state_dot_files_symlinks_and_foreign_hosts_are_refused(
    served: Served, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    (served.root / "leak.txt").symlink_to(secret)
    (served.root / "out").symlink_to(tmp_path, target_is_directory=True)
    (served.root / ".hidden").write_text("hidden\n")
    (served.root / "alias").symlink_to(served.root / ".hidden")
    for path in (
        "leak.txt",
        "out/secret.txt",
        "alias",
        ".hidden",
        "%2Ehidden",
        "../secret.txt",
        "%2e%2e/secret.txt",
        "items/..%2f..%2fsecret.txt",
        "%00",
        "index.html%00.txt",
        "../site.syndicate/site.json",
        "site.syndicate/site.json",
    ):
        got = fetch(served.url + path, allow_redirects=False)
        assert got.status_code == 404, path
        assert "secret" not in got.text
        assert "hidden" not in got.text
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    port = served.url.split(":")[-1].rstrip("/")
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.2:{port}"):
        got = fetch(served.url + "index.html", headers={"Host": host})
        assert got.status_code == 403, host
    for host in (f"localhost:{port}", f"LOCALHOST:{port}"):
        got = fetch(served.url + "index.html", headers={"Host": host})
        assert got.status_code == 200, host


def test_a_raw_request_without_host_and_a_dropped_download_leave_no_traceback(
    served: Served,
) -> None:
    port = int(served.url.split(":")[-1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"\r\nX-Content-Type-Options: nosniff\r\n" in answer
    assert b"\r\nServer: syndicate-preview\r\n" in answer  # no Python version
    big = served.root / "files" / ("0" * 64) / "big.bin"
    big.parent.mkdir()
    big.write_bytes(bytes(32 << 20))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(f"GET /files/{'0' * 64}/big.bin HTTP/1.0\r\n\r\n".encode())
        assert raw.recv(1024).startswith(b"HTTP/1.0 200 OK\r\n")
        # Reset the connection mid-download, as a browser does when cancelled.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert fetch(served.url + "index.html").status_code == 200  # still serving
    # (the fixture asserts that the server printed no traceback)


# -- the library: content disposition, and the server in-process ----------------------


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("a b (1).docx", 'attachment; filename="a b (1).docx"'),
        (
            "名单.csv",
            "attachment; filename=\"_.csv\"; filename*=UTF-8''%E5%90%8D%E5%8D%95.csv",
        ),
        (
            'a"b;c%.txt',
            "attachment; filename=\"a_b_c_.txt\"; filename*=UTF-8''a%22b%3Bc%25.txt",
        ),
        ("通知", "attachment; filename=\"_\"; filename*=UTF-8''%E9%80%9A%E7%9F%A5"),
    ],
)
def test_content_disposition_follows_rfc_6266_and_8187(name: str, header: str) -> None:
    assert content_disposition(name) == header
    assert header.isascii()


def test_the_preview_server_in_process(tmp_path: Path) -> None:
    (tmp_path / "files" / "abc").mkdir(parents=True)
    (tmp_path / "files" / "abc" / "x.svg").write_bytes(ATTACHMENTS["chart.svg"])
    (tmp_path / "index.html").write_text("<p>hi</p>\n")
    lines: list[str] = []
    server = PreviewServer(tmp_path, 0, log=lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        got = fetch(server.url + "files/abc/x.svg")
        assert security_headers(got) == attachment_headers("x.svg")
        page = fetch(server.url)
        assert page.headers["Content-Security-Policy"] == PAGE_CSP
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert any('"GET /files/abc/x.svg HTTP/1.1" 200' in line for line in lines), lines


# -- the sample web-server configuration ----------------------------------------------


def test_the_portal_writes_server_configuration_outside_the_web_root(
    served: Served,
) -> None:
    state = served.root.with_name("site.syndicate")
    nginx = (state / "nginx.conf").read_text("utf-8")
    apache = (state / "apache.conf").read_text("utf-8")
    assert not list(served.root.rglob("*.conf"))  # nothing of it is published
    assert fetch(served.url + "nginx.conf").status_code == 404
    settings = PortalSettings.model_validate({"path": served.root, "site_url": SITE})
    assert server_configs(settings) == {"nginx.conf": nginx, "apache.conf": apache}
    assert f"include {state.absolute() / 'nginx.conf'};" in nginx
    assert "charset utf-8;\n" in nginx
    assert "AddDefaultCharset utf-8\n" in apache
    files = nginx[nginx.index("location ^~ /files/ {") :].split("\n}\n", 1)[0]
    assert files.splitlines()[1:] == [
        "    types { }",
        "    default_type application/octet-stream;",
        "    autoindex off;",
        '    add_header Content-Disposition "attachment";',
        '    add_header X-Content-Type-Options "nosniff" always;',
        f'    add_header Content-Security-Policy "{SANDBOX}" always;',
    ]
    assert f'add_header Content-Security-Policy "{PAGE_CSP}" always;\n' in nginx
    assert 'add_header X-Content-Type-Options "nosniff" always;\n' in nginx
    assert "location ^~ /.well-known/ { }\nlocation ~ /\\. { deny all; }\n" in nginx
    block = apache[apache.index('<Location "/files/">') :].split("</Location>")[0]
    assert block.splitlines()[1:] == [
        "    SetHandler None",
        "    ForceType application/octet-stream",
        "    DirectoryIndex disabled",
        '    Header set Content-Disposition "attachment"',
        '    Header always set X-Content-Type-Options "nosniff"',
        f'    Header always set Content-Security-Policy "{SANDBOX}"',
    ]
    assert f'<Directory "{served.root.absolute() / "files"}">\n' in apache
    assert "    AllowOverride None\n" in apache
    assert f'Header always set Content-Security-Policy "{PAGE_CSP}"\n' in apache


def test_no_server_configuration_inside_the_web_root(tmp_path: Path) -> None:
    # A site whose old `.syndicate/` state could not be moved out keeps using it; the
    # configuration is then not written there (the web server might publish it).
    root = tmp_path / "site"
    adapter = PortalAdapter(
        PortalSettings.model_validate(
            {"path": root, "site_url": SITE, "state_path": tmp_path / "state"}
        )
    )
    adapter.site.state = root / ".syndicate"
    adapter.site.write_assets()
    assert (root / "search.html").is_file()
    assert not list(tmp_path.rglob("*.conf"))


# -- in a browser ---------------------------------------------------------------------


def test_opening_an_attachment_url_downloads_it_and_runs_nothing(
    browser: Browser, served: Served
) -> None:
    with visit(browser, f"{served.url}items/{served.item}.html") as v:
        for name in ("page.html", "chart.svg", "data.xml", PDF_NAME):
            with (
                v.page.expect_download() as download,
                contextlib.suppress(PlaywrightError),  # "download is starting"
            ):
                v.page.goto(served.url + served.files[name])
            assert download.value.suggested_filename == name
            v.settle(200)
        assert v.page.url == f"{served.url}items/{served.item}.html"
        assert v.dialogs == []
        assert v.xss_hits() == []
        assert v.problems() == []


def test_the_sites_own_scripts_work_under_its_policy(
    browser: Browser, served: Served
) -> None:
    with visit(browser, f"{served.url}search.html?q={quote('低保')}") as v:
        v.page.wait_for_selector("#results li")
        assert v.page.locator("#results li").count() == 1
        assert "找到 1 条" in v.page.inner_text("#search-status")
        v.page.click("button[data-toggle=big]")
        assert "big" in (v.page.get_attribute("html", "class") or "")
        v.settle()
        assert v.problems() == []  # a refused script, style or request is an error here
    with visit(browser, f"{served.url}items/{served.item}.html") as v:
        v.page.click("button[data-toggle=contrast]")
        assert "contrast" in (v.page.get_attribute("html", "class") or "")
        v.settle()
        assert v.problems() == []
