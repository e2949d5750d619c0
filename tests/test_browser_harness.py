"""The browser harness detects what it claims to: each check fires on a bad page only."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import tests.browser
from tests.browser import (
    REPO_ROOT,
    axe_violations,
    browser_fixture,  # registers the session fixture `browser` in this module
    browser_required,
    format_violations,
    is_external,
    screenshot,
    serve_directory,
    unavailable,
    visit,
    vnu_errors,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CLEAN_HEAD = '<meta charset="utf-8"><title>临溪县政府信息公开</title>'


def page(body: str, *, head: str = CLEAN_HEAD, lang: str = "zh-CN") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>{head}</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_console_errors_are_reported(browser: Browser, tmp_path: Path) -> None:
    write(tmp_path, "a.html", page('<script>console.error("坏了", 42)</script>'))
    write(tmp_path, "b.html", page('<script>console.log("fine")</script><p>好</p>'))
    with serve_directory(tmp_path) as base:
        with visit(browser, base + "a.html") as bad:
            assert bad.console_errors == ["坏了 42"]
        with visit(browser, base + "b.html") as good:
            assert good.problems() == []


def test_uncaught_exceptions_are_reported(browser: Browser, tmp_path: Path) -> None:
    write(
        tmp_path,
        "index.html",
        page(
            "<script>setTimeout(() => { throw new TypeError('later') }, 0);"
            "missingFunction();</script>"
        ),
    )
    with serve_directory(tmp_path) as base, visit(browser, base) as v:
        v.settle(50)
        assert v.page_errors == [
            "ReferenceError: missingFunction is not defined",
            "TypeError: later",
        ]
        assert v.console_errors == []


def test_external_requests_are_recorded_and_never_fetched(
    browser: Browser, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    write(elsewhere, "y.png", "not really a PNG")
    fetched: list[str] = []
    with serve_directory(elsewhere, log=fetched) as other:
        # Same machine, but a host other than 127.0.0.1: it counts as external.
        foreign = other.replace("127.0.0.1", "localhost") + "y.png"
        write(
            site,
            "index.html",
            page(
                '<img src="http://example.invalid/x.png" alt="x">'
                f'<img src="{foreign}" alt="y">'
                '<script>new WebSocket("wss://example.invalid/live")</script>'
            ),
        )
        with serve_directory(site) as base, visit(browser, base) as v:
            assert sorted(v.external_requests) == sorted(
                ["http://example.invalid/x.png", foreign, "wss://example.invalid/live"]
            )
            broken = v.page.evaluate(
                "() => [...document.images].map((i) => i.complete && !i.naturalWidth)"
            )
            assert broken == [True, True]
            assert v.console_errors == []
            assert v.http_errors == []
    assert fetched == []


def test_is_external() -> None:
    assert not is_external("http://127.0.0.1:8000/a.html")
    assert not is_external("data:image/png;base64,AAAA")
    assert not is_external("about:blank")
    assert is_external("https://cdn.example.com/x.js")
    assert is_external("http://localhost:8000/")
    assert is_external("ws://example.invalid/")


def test_dialogs_and_the_xss_marker_show_executed_script(
    browser: Browser, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "xss.html",
        page(
            "<script>alert(1)</script>"
            '<img src="data:," alt="" onerror="__pwn(2)">'
            '<iframe title="f" srcdoc="<script>__pwn(3)</script>"></iframe>'
        ),
    )
    write(tmp_path, "safe.html", page("<p>&lt;script&gt;__pwn(1)&lt;/script&gt;</p>"))
    with serve_directory(tmp_path) as base:
        with visit(browser, base + "xss.html") as v:
            v.settle(50)
            assert v.dialogs == ["1"]
            assert sorted(v.xss_hits()) == [2, 3]
        with visit(browser, base + "safe.html") as v:
            assert v.dialogs == []
            assert v.xss_hits() == []


def test_axe_finds_missing_alt_and_low_contrast(
    browser: Browser, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "bad.html",
        page(
            '<main><h1>公告</h1><img src="data:image/gif;base64,'
            'R0lGODlhAQABAAAAACw=">'
            '<p style="color:#bbb;background:#fff">低对比度的文字</p></main>'
        ),
    )
    write(
        tmp_path,
        "good.html",
        page(
            '<main><h1>公告</h1><img src="data:image/gif;base64,'
            'R0lGODlhAQABAAAAACw=" alt="县徽">'
            '<p style="color:#222;background:#fff">清晰的文字</p>'
            '<a href="good.html">返回首页</a></main>'
        ),
    )
    with serve_directory(tmp_path) as base:
        with visit(browser, base + "bad.html") as v:
            violations = axe_violations(v.page)
            assert {x["id"] for x in violations} == {"image-alt", "color-contrast"}
            report = format_violations(violations)
            assert "image-alt" in report
            assert "color-contrast" in report
            assert "<img" in report
        with visit(browser, base + "good.html") as v:
            violations = axe_violations(v.page)
            assert violations == [], format_violations(violations)
    assert format_violations([]) == "no violations"


def test_axe_runs_despite_a_strict_content_security_policy(
    browser: Browser, tmp_path: Path
) -> None:
    csp = (
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'none'\">"
    )
    write(tmp_path, "index.html", page("<main><h1>公告</h1></main>", head=csp, lang=""))
    with serve_directory(tmp_path) as base, visit(browser, base) as v:
        assert [x["id"] for x in axe_violations(v.page)] == [
            "document-title",
            "html-has-lang",
        ]


def test_vnu_reports_broken_html_per_file(tmp_path: Path) -> None:
    # (`<div><p></div>` is valid HTML5: the `</div>` closes the `<p>` implicitly.)
    bad = write(tmp_path, "bad.html", page("<p><div>块</div></p><span><div></span>"))
    good = write(tmp_path, "good.html", page("<main><h1>公告</h1><p>内容</p></main>"))
    errors = vnu_errors([bad, good])
    assert errors
    assert all(e.startswith(f"{bad}:") for e in errors), errors
    assert any("“p” end tag" in e for e in errors), errors
    assert not any(str(good) in e for e in errors)


def test_vnu_refuses_missing_files(tmp_path: Path) -> None:
    assert vnu_errors([]) == []
    with pytest.raises(FileNotFoundError):
        vnu_errors([tmp_path / "absent.html"])


def test_serve_directory_content_types(tmp_path: Path) -> None:
    expected = {
        "a.html": "text/html; charset=utf-8",
        "a.json": "application/json; charset=utf-8",
        "a.js": "text/javascript; charset=utf-8",
        "a.css": "text/css; charset=utf-8",
        "a.svg": "image/svg+xml; charset=utf-8",
        "a.xml": "application/xml; charset=utf-8",
        "a.png": "image/png",
        "a.pdf": "application/pdf",
    }
    for name in expected:
        write(tmp_path, name, "内容")
    log: list[str] = []
    with serve_directory(tmp_path, log=log) as base:
        assert base.startswith("http://127.0.0.1:")
        assert base.endswith("/")
        port = int(base.rstrip("/").rsplit(":", 1)[1])
        for name, content_type in expected.items():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/" + name)
                response = connection.getresponse()
                assert response.status == 200
                assert response.headers["Content-Type"] == content_type
                assert response.read().decode("utf-8") == "内容"
            finally:
                connection.close()
    assert log == [f"/{name}" for name in expected]


def test_screenshot_writes_a_png(browser: Browser, tmp_path: Path) -> None:
    write(tmp_path, "index.html", page("<h1>截图</h1>" + "<p>行</p>" * 80))
    with serve_directory(tmp_path) as base, visit(browser, base, width=400) as v:
        shot = screenshot(v.page, tmp_path / "shots" / "deep" / "page.png")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    height = int.from_bytes(data[20:24], "big")
    assert height > 900  # the whole page, not only the viewport


def test_missing_tools_skip_locally_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SYNDICATE_REQUIRE_BROWSER", raising=False)
    assert not browser_required()
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        unavailable("no chromium")
    monkeypatch.setenv("SYNDICATE_REQUIRE_BROWSER", "1")
    assert browser_required()
    with pytest.raises(pytest.fail.Exception, match="no chromium"):
        unavailable("no chromium")
    monkeypatch.delenv("SYNDICATE_REQUIRE_BROWSER")
    monkeypatch.setenv("CI", "true")
    assert browser_required()


def run_pytest(
    folder: Path, module: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run pytest on one small test module in ``folder``, from the repository root."""
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (folder / "test_inner.py").write_text(textwrap.dedent(module), encoding="utf-8")
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CI", "SYNDICATE_REQUIRE_BROWSER", "PYTEST_ADDOPTS"}
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(folder)],
        cwd=REPO_ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_fixture_imported_as_browser_works(
    browser: Browser, tmp_path: Path
) -> None:
    assert tests.browser.browser is browser_fixture
    assert browser.is_connected()
    done = run_pytest(
        tmp_path,
        """
        from tests.browser import browser  # noqa: F401

        def test_it(browser):
            assert browser.is_connected()
            assert browser.version
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


MISSING_CHROMIUM = """
    import tests.browser
    from tests.browser import browser_fixture  # noqa: F401

    tests.browser.CHROMIUM = "/nonexistent/chromium"

    def test_one(browser):
        pass

    def test_two(browser):
        pass
"""


def test_a_missing_chromium_skips_locally(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, MISSING_CHROMIUM)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 skipped" in done.stdout
    assert "chromium is missing at /nonexistent/chromium" in done.stdout


def test_a_missing_chromium_fails_under_ci(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, MISSING_CHROMIUM, SYNDICATE_REQUIRE_BROWSER="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 errors" in done.stdout
    assert "mandatory under CI" in done.stdout
