"""`audit consistency` and `status --check` compare every file an outlet owns with what
the log gives: drifted (with the first differing byte), missing, extra, read failed."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from tests.conftest import ITEM_FILE, ITEM_FRONT

REF = "临溪县民政局/11330100MB0000006R/2026-00019"
LIST_REF = "临溪县民政局/11330100MB0000006R/2026-00020"
OUTLETS = """
[outlets.archive]
kind = "directory"
path = "out/archive"

[outlets.portal]
kind = "portal"
channel = "portal"
path = "out/portal"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "out/portal/feeds"
site_url = "https://www.linxi.gov.cn"
hub = "http://127.0.0.1:9/hub"
allow_private_network = true

[outlets.kiosk]
kind = "kiosk"
channel = "kiosk"
path = "out/kiosk"
portal_url = "https://www.linxi.gov.cn"
"""
# A second item, with an attachment.
LIST_FILE = (
    "+++\n"
    + ITEM_FRONT.replace("2026-00019", "2026-00020").replace(
        "第一季度城乡最低生活保障审批结果公告", "第二季度低保名单"
    )
    + 'attachments = [{ path = "list.csv", name = "名单.csv" }]\n'
    + "+++\n名单见附件。\n"
)

Cli = Callable[..., Result]


def make_home(tmp_path: Path, outlets: str = OUTLETS) -> tuple[Path, Cli]:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员"})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(outlets)
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    (tmp_path / "list.md").write_text(LIST_FILE, "utf-8")
    (tmp_path / "list.csv").write_text("序号,户主\n1,李*国\n2,陈*芳\n", "utf-8")
    for name in ("item.md", "list.md"):
        published = cli("items", "publish", str(tmp_path / name))
        assert published.exit_code == 0, published.output
    return home, cli


def rows(result: Result) -> list[dict[str, object]]:
    parsed: list[dict[str, object]] = json.loads(result.stdout)
    return parsed


def file_rows(result: Result) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (str(r["outlet"]), str(r["path"])): r
        for r in rows(result)
        if r["path"] is not None
    }


def item_rows(result: Result) -> dict[tuple[str, str], str]:
    return {
        (str(r["outlet"]), str(r["ref"])): str(r["verdict"])
        for r in rows(result)
        if r["path"] is None
    }


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cli]:
    tmp = tmp_path_factory.mktemp("files")
    home, cli = make_home(tmp)
    # The hub is unreachable: the feeds delivery fails and retries; take the hub out
    # so the rest is delivered, and check the scratch copy never pings it (below).
    config = (home / "syndicate.toml").read_text("utf-8")
    (home / "syndicate.toml").write_text(
        config.replace('hub = "http://127.0.0.1:9/hub"\n', ""), "utf-8"
    )
    synced = cli("sync")
    assert synced.exit_code == 0, synced.output
    checked = cli("audit", "consistency", "--json")
    assert checked.exit_code == 0, checked.output
    assert not file_rows(checked)
    return home, cli


def _page(home: Path, ref_index: str = "2026-00019") -> Path:
    for page in (home / "out" / "portal" / "items").glob("*.html"):
        if ref_index in page.read_text("utf-8"):
            return page
    raise AssertionError("no page")


def _month_page(home: Path) -> Path:
    pages = [
        p
        for p in (home / "out" / "portal" / "list" / "all").glob("*.html")
        if p.name != "index.html"
    ]
    assert len(pages) == 1
    return pages[0]


def _attachment(home: Path) -> Path:
    found = list((home / "out" / "portal" / "files").glob("*/*"))
    assert len(found) == 1
    return found[0]


def _check(cli: Cli) -> Result:
    checked = cli("audit", "consistency", "--json")
    assert checked.exit_code == 1, checked.output
    return checked


@pytest.mark.parametrize(
    "change",
    ["appended", "prepended", "inserted", "attachment", "added page", "deleted list"],
)
def test_every_change_to_the_portal_is_a_mismatch(
    synced: tuple[Path, Cli], change: str, tmp_path: Path
) -> None:
    home, cli = synced
    root = home / "out" / "portal"
    page = _page(home)
    original = page.read_bytes()
    backup = tmp_path / "backup"
    shutil.copytree(root, backup)
    try:
        if change == "appended":
            page.write_bytes(original + b"<p>\xe5\xb9\xbf\xe5\x91\x8a</p>\n")
            spot, verdict, offset = page, "drifted", len(original)
        elif change == "prepended":
            page.write_bytes(b"\xef\xbb\xbf" + original)  # a BOM
            spot, verdict, offset = page, "drifted", 0
        elif change == "inserted":
            cut = original.index(b"</main>")
            page.write_bytes(original[:cut] + "广告".encode() + original[cut:])
            spot, verdict, offset = page, "drifted", cut
        elif change == "attachment":
            spot = _attachment(home)
            data = bytearray(spot.read_bytes())
            data[5] ^= 1  # same size, one bit
            spot.write_bytes(bytes(data))
            verdict, offset = "drifted", 5
        elif change == "added page":
            spot = root / "promo.html"
            spot.write_text("<html>领取补贴</html>", "utf-8")
            verdict, offset = "extra", None
        else:
            spot = _month_page(home)
            spot.unlink()
            verdict, offset = "missing", None
        checked = _check(cli)
        found = file_rows(checked)
        relative = spot.relative_to(root).as_posix()
        assert found[("portal", relative)]["verdict"] == verdict
        if offset is not None:
            assert found[("portal", relative)]["detail"] == (
                f"bytes differ from byte {offset}"
            )
        assert set(found) == {("portal", relative)}  # nothing else, no other outlet
        items = item_rows(checked)
        if change in ("appended", "prepended", "inserted"):
            assert items[("portal", REF)] == "drifted"  # its own page drifted
            assert items[("portal", LIST_REF)] == "in sync"
        if change == "attachment":
            assert items[("portal", LIST_REF)] == "drifted"
            assert found[("portal", relative)]["ref"] == LIST_REF
        text = cli("audit", "consistency", "--outlet", "portal")
        assert text.exit_code == 1
        assert relative in text.stdout
        status = cli("status", "--check", "--outlet", "portal", "--json")
        if change in ("appended", "prepended", "inserted", "attachment"):
            assert status.exit_code == 1, status.output
            shown = {r["ref"]: r["on_outlet"] for r in json.loads(status.stdout)}
            bad = REF if change != "attachment" else LIST_REF
            assert shown[bad].startswith("drifted")
            if change != "attachment":  # read back alone saw no change: the file did
                assert shown[bad].startswith(f"drifted ({relative}: bytes differ")
    finally:
        shutil.rmtree(root)
        shutil.move(backup, root)
    assert cli("audit", "consistency").exit_code == 0


@pytest.mark.parametrize("outlet", ["feeds", "kiosk", "archive"])
def test_drift_missing_and_extra_on_the_other_file_outlets(
    synced: tuple[Path, Cli], outlet: str, tmp_path: Path
) -> None:
    home, cli = synced
    root = {
        "feeds": home / "out" / "portal" / "feeds",
        "kiosk": home / "out" / "kiosk",
        "archive": home / "out" / "archive",
    }[outlet]
    backup = tmp_path / "backup"
    shutil.copytree(root, backup)
    try:
        drifted, missing = {
            "feeds": ("feed.xml", "atom.xml"),
            "kiosk": ("manifest.json", "data.js"),
            "archive": tuple(sorted(p.name for p in root.glob("*.json"))),
        }[outlet]
        with (root / drifted).open("ab") as handle:
            handle.write(b"\n")
        size = (root / drifted).stat().st_size
        (root / missing).unlink()
        (root / "notes.txt").write_text("hello", "utf-8")
        checked = _check(cli)
        found = {
            path: r["verdict"] for (name, path), r in file_rows(checked).items()
            if name == outlet
        }  # fmt: skip
        assert found == {drifted: "drifted", missing: "missing", "notes.txt": "extra"}
        detail = file_rows(checked)[(outlet, drifted)]["detail"]
        assert detail == f"bytes differ from byte {size - 1}"
        assert {n for n, _ in file_rows(checked)} == {outlet}
        assert "in sync" not in {
            v for (name, _), v in item_rows(checked).items() if name == outlet
        }
    finally:
        shutil.rmtree(root)
        shutil.move(backup, root)
    assert cli("audit", "consistency").exit_code == 0


def test_hostile_folders_are_reported_not_followed(
    synced: tuple[Path, Cli], tmp_path: Path
) -> None:
    home, cli = synced
    root = home / "out" / "portal"
    backup = tmp_path / "backup"
    shutil.copytree(root, backup, symlinks=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", "utf-8")
    try:
        # A link to a file outside, a page replaced by a link, a file replaced by a
        # folder, a name that is not UTF-8 and holds a newline, a FIFO, a 4 GiB
        # sparse file in place of the home page, an unreadable stored attachment.
        (root / "leak.txt").symlink_to(secret)
        page = _page(home)
        page.unlink()
        page.symlink_to(secret)
        (root / "sitemap.xml").unlink()
        (root / "sitemap.xml").mkdir()
        (root / "sitemap.xml" / "inner.html").write_text("x", "utf-8")
        odd = os.fsencode(root) + b"/bad\n\xff.html"
        with open(odd, "wb") as handle:
            handle.write(b"x")
        os.mkfifo(root / "pipe.html")
        with (root / "index.html").open("r+b") as handle:
            handle.truncate(4 << 30)
        store = home / "data" / "attachments"
        blob = next(p for p in store.rglob("*") if p.is_file())
        blob_bytes = blob.read_bytes()
        blob.unlink()
        checked = _check(cli)
        found = file_rows(checked)
        assert found[("portal", "leak.txt")]["verdict"] == "extra"
        assert "symbolic link" in str(found[("portal", "leak.txt")]["detail"])
        rel = page.relative_to(root).as_posix()
        assert found[("portal", rel)]["verdict"] == "drifted"
        assert "symbolic link" in str(found[("portal", rel)]["detail"])
        assert found[("portal", "sitemap.xml")]["verdict"] == "drifted"
        assert "folder" in str(found[("portal", "sitemap.xml")]["detail"])
        assert ("portal", "sitemap.xml/inner.html") not in found
        assert found[("portal", "bad\\x0a\\xff.html")]["verdict"] == "extra"
        assert found[("portal", "pipe.html")]["verdict"] == "extra"
        assert found[("portal", "index.html")]["verdict"] == "drifted"
        attachment = _attachment(home).relative_to(root).as_posix()
        assert found[("portal", attachment)]["verdict"] == "read failed"
        assert "top secret" not in checked.stdout
        text = cli("audit", "consistency", "--outlet", "portal")
        assert text.exit_code == 1
        assert "Traceback" not in text.output
        assert "bad\\x0a\\xff.html" in text.stdout
        blob.write_bytes(blob_bytes)
    finally:
        shutil.rmtree(root)
        shutil.copytree(backup, root, symlinks=True)
    assert cli("audit", "consistency").exit_code == 0


def test_an_unreadable_file_is_a_read_failed_row(
    synced: tuple[Path, Cli], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the checker may not open (permissions; simulated, since tests may run as
    root, who opens anything) is a row, not a traceback, and the rest is compared."""
    from syndicate.audit import consistency

    home, cli = synced
    page = _page(home)
    real = consistency._open_plain

    def refuse(path: Path) -> int:
        if path == page:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(consistency, "_open_plain", refuse)
    checked = _check(cli)
    found = file_rows(checked)
    rel = page.relative_to(home / "out" / "portal").as_posix()
    assert found[("portal", rel)]["verdict"] == "read failed"
    assert found[("portal", rel)]["detail"] == "PermissionError: Permission denied"
    assert set(found) == {("portal", rel)}
    assert item_rows(checked)[("portal", REF)] == "read failed"


def test_the_scratch_copy_never_pings_the_hub(tmp_path: Path) -> None:
    """The feeds outlet names a WebSub hub; building its expected files must not
    reach it (a server on the port counts any request)."""
    import http.server
    import threading

    hits: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        _home, cli = make_home(
            tmp_path, OUTLETS.replace("127.0.0.1:9", f"127.0.0.1:{port}")
        )
        assert cli("sync").exit_code == 0
        delivered = len(hits)
        assert delivered >= 1  # deliver pings
        assert cli("audit", "consistency").exit_code == 0
        assert cli("status", "--check").exit_code == 0
        assert len(hits) == delivered
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("live", "offset"),
    [
        (b"a" * (3 << 20), None),  # equal, three chunks
        (b"a" * ((1 << 20) + 5000) + b"b" + b"a" * 999, (1 << 20) + 5000),
        (b"a" * 5000, 5000),  # a prefix of the expected bytes
        (b"a" * (3 << 20) + b"tail", 3 << 20),  # the expected bytes, and more
        (b"", 0),
    ],
)
def test_the_first_differing_byte_is_exact(
    tmp_path: Path, live: bytes, offset: int | None
) -> None:
    from syndicate.adapter import OutletFolder
    from syndicate.audit.consistency import compare_folder

    scratch, root = tmp_path / "scratch", tmp_path / "root"
    scratch.mkdir()
    root.mkdir()
    (scratch / "f.bin").write_bytes(b"a" * (3 << 20))
    (root / "f.bin").write_bytes(live)
    found = compare_folder(scratch, OutletFolder(root=root))
    if offset is None:
        assert found == []
    else:
        assert [(f.path, f.verdict, f.offset) for f in found] == [
            ("f.bin", "drifted", offset)
        ]
