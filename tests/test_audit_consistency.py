"""`syndicate audit consistency`: every outlet read back and compared with the log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner, Result

from syndicate.cli import app
from tests.conftest import ITEM_FILE

REF = "临溪县民政局/11330100MB0000006R/2026-00019"
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
site_id_code = "3301000001"

[outlets.feeds]
kind = "rss"
channel = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"

[outlets.board]
kind = "noticeboard"
channel = "noticeboard"
path = "out/board"
portal_url = "https://www.linxi.gov.cn"
"""


def verdicts(result: Result) -> dict[tuple[str, str], str]:
    """The item rows' verdicts (file rows, which have a `path`, left out)."""
    return {
        (r["outlet"], r["ref"]): r["verdict"]
        for r in json.loads(result.stdout)
        if r["path"] is None
    }


def files(result: Result) -> dict[tuple[str, str], dict[str, object]]:
    """The file rows, by outlet and path."""
    return {
        (r["outlet"], r["path"]): r
        for r in json.loads(result.stdout)
        if r["path"] is not None
    }


def test_consistency_names_stale_missing_drifted_and_extra(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    home = tmp_path / "home"
    runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员", **environ})

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["--home", str(home), *args])

    assert cli("init", "--no-review").exit_code == 0
    with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
        config.write(OUTLETS)
    (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
    assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
    assert cli("sync").exit_code == 0
    checked = cli("audit", "consistency", "--json")
    assert checked.exit_code == 0, checked.output
    seen = verdicts(checked)
    assert seen == {
        ("archive", REF): "in sync",
        ("portal", REF): "in sync",
        ("feeds", REF): "in sync",
        ("board", REF): "awaiting attestation",  # the sheet file is right
    }
    # A revision logged but not yet delivered: every outlet still shows version 1.
    (tmp_path / "v2.md").write_text(ITEM_FILE.replace("47户", "48户"), "utf-8")
    assert (
        cli(
            "items", "revise", REF, str(tmp_path / "v2.md"), "--reason", "更正"
        ).exit_code
        == 0
    )
    from syndicate.project import Project

    project = Project.load(home, environ)
    with project.disclosures() as items, project.deliveries(items) as deliveries:
        assert deliveries.plan() == 1
    stale = cli("audit", "consistency", "--json")
    assert stale.exit_code == 1
    assert verdicts(stale)[("archive", REF)] == "stale"
    assert verdicts(stale)[("portal", REF)] == "stale"
    rows = {r["outlet"]: r for r in json.loads(stale.stdout)}
    assert (rows["portal"]["expected_version"], rows["portal"]["shown_version"]) == (
        2,
        1,
    )
    assert cli("sync").exit_code == 0
    assert cli("audit", "consistency").exit_code == 0
    # Now change the outlets behind syndicate's back.
    out = home / "out"
    page = next((out / "portal" / "items").glob("*.html"))
    page.write_text(page.read_text("utf-8").replace("</h1>", "（改）</h1>"), "utf-8")
    next((out / "archive").glob("*.json")).unlink()
    shutil.copy(
        page, out / "portal" / "items" / "00000000-0000-4000-8000-00000000beef.html"
    )
    broken = cli("audit", "consistency", "--json")
    assert broken.exit_code == 1
    found = verdicts(broken)
    assert found[("portal", REF)] == "drifted"
    assert found[("archive", REF)] == "missing"
    assert found[("portal", "00000000-0000-4000-8000-00000000beef")] == "extra"
    assert found[("feeds", REF)] == "in sync"
    text = cli("audit", "consistency", "--outlet", "portal")
    assert text.exit_code == 1
    assert "drifted" in text.stdout
    assert "archive" not in text.stdout
    # Two item rows (drifted, extra) and two file rows (the page, the copied page).
    assert "4 mismatched" in text.stdout
    assert "items/00000000-0000-4000-8000-00000000beef.html" in text.stdout
    unknown = cli("audit", "consistency", "--outlet", "nowhere")
    assert unknown.exit_code == 2
    assert "--outlet nowhere" in unknown.stderr


def test_wechat_is_checked_against_what_it_lists(tmp_path: Path) -> None:
    import time

    from syndicate.testing.fakes import WechatMpServer, toml_table

    secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    with WechatMpServer(
        app_id="wx0123456789abcdef", secret=secret, publish_polls=0
    ) as wechat:
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "审计员", "WX_SECRET": secret})

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        assert cli("init", "--no-review").exit_code == 0
        table = wechat.outlet_table("WX_SECRET", portal_url="https://www.linxi.gov.cn")
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write(toml_table("wechat", table))
            config.write("[delivery]\nfirst_check_seconds = 1\n")
        (tmp_path / "item.md").write_text(ITEM_FILE, "utf-8")
        assert cli("items", "publish", str(tmp_path / "item.md")).exit_code == 0
        assert cli("sync").exit_code == 0
        time.sleep(1.1)
        assert cli("sync").exit_code == 0
        listed = cli("audit", "consistency", "--json")
        assert listed.exit_code == 0, listed.output
        assert verdicts(listed) == {("wechat", REF): "in sync"}
        assert json.loads(listed.stdout)[0]["detail"] == "listed by the outlet"
        # Someone deletes the article in the WeChat back office.
        for article in wechat.articles.values():
            article["is_deleted"] = True
        gone = cli("audit", "consistency", "--json")
        assert gone.exit_code == 1
        assert verdicts(gone) == {("wechat", REF): "missing"}
        # Withdrawn: deleted on WeChat, and not listed is now what the log expects.
        withdrawn = cli("items", "withdraw", REF, "--reason", "重审", "--note", "重审")
        assert withdrawn.exit_code == 0, withdrawn.output
        for article in wechat.articles.values():
            article["is_deleted"] = False
        assert cli("sync").exit_code == 0
        assert not wechat.published()
        removed = cli("audit", "consistency", "--json")
        assert removed.exit_code == 0, removed.output
        assert verdicts(removed) == {("wechat", REF): "in sync"}
