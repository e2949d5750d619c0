"""The `syndicate` command line: output, JSON shapes, exit codes, and refusals that write nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.project import Project
from syndicate.testing import log_snapshot
from tests.conftest import ITEM_FILE as GOOD

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "items"
SUBSIDY = EXAMPLES / "05-farmland-subsidy-notice.md"
SUBSIDY_REF = "临溪县青石镇人民政府/11330100MB0000005X/2026-00031"


class Cli:
    """Runs the app in-process against one home, as one actor."""

    def __init__(self, home: Path, environ: dict[str, str]) -> None:
        self.home = home
        self.runner = CliRunner(env={"SYNDICATE_ACTOR": "测试员", **environ})

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        return result

    def snapshot(self) -> list[tuple[int, str, bytes]]:
        with Project.load(self.home, self.runner.env_environ()).disclosures() as log:  # type: ignore[attr-defined]
            return log_snapshot(log)


def _env_environ(self: CliRunner) -> dict[str, str]:
    return {k: v for k, v in self.env.items() if v is not None}


CliRunner.env_environ = _env_environ  # type: ignore[attr-defined]


@pytest.fixture
def cli(tmp_path: Path, environ: dict[str, str]) -> Cli:
    runner = Cli(tmp_path / "home", environ)
    result = runner("init")
    assert result.exit_code == 0, result.output
    return runner


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path / "home", {})
    assert runner("init").exit_code == 0
    return runner


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_init_writes_a_commented_config_and_is_safe_to_rerun(tmp_path: Path) -> None:
    runner = Cli(tmp_path / "home", {})
    first = runner("init")
    assert first.exit_code == 0
    assert "created" in first.stdout
    config = (tmp_path / "home" / "syndicate.toml").read_text("utf-8")
    assert config.count("#") > 5
    assert 'url = "sqlite"' in config
    assert (tmp_path / "home" / "data").is_dir()
    second = runner("init")
    assert second.exit_code == 0
    assert "kept existing" in second.stdout


def test_publish_revise_withdraw_and_read_back(cli: Cli, tmp_path: Path) -> None:
    published = cli("items", "publish", EXAMPLES)
    assert published.exit_code == 0, published.output
    ids = [line.split()[0] for line in published.stdout.splitlines()]
    assert len(ids) == 12
    assert all(len(i) == 36 for i in ids)

    revised_file = write(
        tmp_path, "rev.md", SUBSIDY.read_text("utf-8").replace("6.20", "6.50")
    )
    # The attachment path is relative to the item file.
    (tmp_path / "attachments").mkdir()
    (tmp_path / "attachments" / "liutang-subsidy-2026.csv").write_bytes(
        (EXAMPLES / "attachments" / "liutang-subsidy-2026.csv").read_bytes()
    )
    revised = cli("items", "revise", SUBSIDY_REF, revised_file, "--reason", "更正面积")
    assert revised.exit_code == 0, revised.output
    assert "now version 2" in revised.stdout

    withdrawn = cli(
        "items",
        "withdraw",
        SUBSIDY_REF,
        "--reason",
        "重新核实",
        "--note",
        "该公示已撤回。",
    )
    assert withdrawn.exit_code == 0, withdrawn.output

    shown = json.loads(cli("items", "show", SUBSIDY_REF, "--json").stdout)
    assert {"id", "agency", "index_no", "title", "version", "status"} <= set(shown)
    assert (shown["version"], shown["status"]) == (3, "withdrawn")
    assert [h["event"] for h in shown["history"]] == [
        "Published",
        "Revised",
        "Withdrawn",
    ]
    assert shown["history"][1]["reason"] == "更正面积"
    assert shown["withdrawal"]["public_note"] == "该公示已撤回。"
    assert (
        shown["content"]["attachments"][0]["name"] == "柳塘村耕地地力保护补贴名单.csv"
    )

    listed = json.loads(cli("items", "list", "--json").stdout)
    assert isinstance(listed, list)
    assert len(listed) == 12
    for row in listed:
        assert {"id", "agency", "index_no", "title", "version", "status"} <= set(row)
    assert {r["status"] for r in listed} == {"published", "withdrawn"}

    lines = cli("log", "--json").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 14
    for record in records:
        assert {"position", "timestamp", "item_id", "version", "event", "actor"} <= set(
            record
        )
    assert [r["position"] for r in records] == list(range(1, 15))
    assert {r["actor"] for r in records} == {"测试员"}
    assert records[-1]["event"] == "Withdrawn"
    assert records[-1]["timestamp"].endswith("+08:00")


def test_text_outputs_show_the_catalogue_and_history(sqlite_cli: Cli) -> None:
    cli = sqlite_cli
    cli("items", "publish", EXAMPLES)
    shown = cli("items", "show", SUBSIDY_REF)
    assert shown.exit_code == 0
    for label in (
        "索引号",
        "发布机构",
        "试点领域",
        "五公开",
        "公开依据",
        "公示期",
        "附件",
    ):
        assert label in shown.stdout
    assert "History" in shown.stdout
    listed = cli("items", "list", "--area", "涉农补贴")
    assert listed.exit_code == 0
    assert SUBSIDY_REF in listed.stdout
    assert len(listed.stdout.splitlines()) == 2
    log = cli("log", "--limit", "3")
    assert len(log.stdout.splitlines()) == 4
    assert "Published" in log.stdout
    assert cli("areas").stdout.count("\n") == 27


def test_actor_option_and_environment_are_recorded(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path, "a.md", GOOD)
    assert sqlite_cli("items", "publish", path, "--actor", "王科长").exit_code == 0
    [record] = [json.loads(x) for x in sqlite_cli("log", "--json").stdout.splitlines()]
    assert record["actor"] == "王科长"


@pytest.mark.parametrize(
    ("mutation", "fragments"),
    [
        (
            lambda t: t.replace('basis = "《社会救助暂行办法》第十一条"\n', ""),
            ["basis: required field is missing"],
        ),
        (lambda t: t.replace("社会救助", "低保"), ["area: unknown pilot area '低保'"]),
        (
            lambda t: t.replace("2026-04-10", '"2026-02-30"'),
            ["formed_on: invalid date '2026-02-30'"],
        ),
        (
            lambda t: t.replace('title = "', "title = "),
            ["invalid TOML front matter", "line 4"],
        ),
        (
            lambda t: t.replace('stage = "结果公开"', 'stge = "结果公开"'),
            ["stge: unknown field", "stage: required"],
        ),
    ],
    ids=["missing-field", "unknown-area", "bad-date", "invalid-toml", "typo-field"],
)
def test_bad_item_files_exit_2_name_file_and_field_and_write_nothing(
    sqlite_cli: Cli, tmp_path: Path, mutation: object, fragments: list[str]
) -> None:
    path = write(tmp_path, "bad.md", mutation(GOOD))  # type: ignore[operator]
    before = sqlite_cli.snapshot()
    result = sqlite_cli("items", "publish", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr
    assert all(
        line.startswith(f"error: {path}: ") for line in result.stderr.splitlines()[:-1]
    )
    assert sqlite_cli.snapshot() == before


def test_invalid_json_file_exits_2(sqlite_cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{"agency": "临溪县民政局",}')
    result = sqlite_cli("items", "publish", path)
    assert result.exit_code == 2
    assert f"error: {path}: invalid JSON at line 1" in result.stderr
    assert sqlite_cli.snapshot() == []


def test_one_bad_file_does_not_stop_the_good_ones(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.md", GOOD)
    bad = write(tmp_path, "bad.md", GOOD.replace("社会救助", "低保"))
    result = sqlite_cli("items", "publish", good, bad)
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 1
    assert "published 1 of 2" in result.stderr
    assert len(sqlite_cli.snapshot()) == 1


def test_dry_run_checks_without_publishing(sqlite_cli: Cli) -> None:
    result = sqlite_cli("items", "publish", "--dry-run", EXAMPLES)
    assert result.exit_code == 0
    assert result.stdout.count("ok  ") == 12
    assert sqlite_cli.snapshot() == []


def test_domain_refusals_exit_1_and_write_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", GOOD)
    assert cli("items", "publish", path).exit_code == 0
    before = cli.snapshot()
    again = cli("items", "publish", path)
    assert again.exit_code == 1
    assert "already published" in again.stderr
    same = cli(
        "items",
        "revise",
        "临溪县民政局/11330100MB0000006R/2026-00019",
        path,
        "--reason",
        "x",
    )
    assert same.exit_code == 1
    assert "nothing changed" in same.stderr
    unknown = cli("items", "show", "临溪县民政局/no-such-index")
    assert unknown.exit_code == 1
    assert "no item 临溪县民政局/no-such-index" in unknown.stderr
    stale = cli(
        "items",
        "withdraw",
        "临溪县民政局/11330100MB0000006R/2026-00019",
        "--reason",
        "x",
        "--if-version",
        "7",
    )
    assert stale.exit_code == 1
    assert "not 7" in stale.stderr
    assert cli.snapshot() == before
    assert (
        cli(
            "items",
            "withdraw",
            "临溪县民政局/11330100MB0000006R/2026-00019",
            "--reason",
            "x",
        ).exit_code
        == 0
    )
    twice = cli(
        "items",
        "withdraw",
        "临溪县民政局/11330100MB0000006R/2026-00019",
        "--reason",
        "x",
    )
    assert twice.exit_code == 1
    assert "was withdrawn" in twice.stderr


def test_usage_errors_exit_2(sqlite_cli: Cli, tmp_path: Path) -> None:
    malformed = sqlite_cli("items", "show", "not-a-ref")
    assert malformed.exit_code == 2
    assert (
        "REF: 'not-a-ref' is neither an item id nor AGENCY/INDEX_NO" in malformed.stderr
    )
    missing_reason = sqlite_cli("items", "withdraw", "x/y")
    assert missing_reason.exit_code == 2
    assert "--reason" in missing_reason.output
    no_file = sqlite_cli("items", "publish", tmp_path / "nope.md")
    assert no_file.exit_code == 2
    assert "no such file or directory" in no_file.stderr
    bad_area = sqlite_cli("items", "list", "--area", "火星")
    assert bad_area.exit_code == 2
    assert "--area: unknown pilot area" in bad_area.stderr


def test_an_uninitialised_home_says_to_run_init(tmp_path: Path) -> None:
    result = Cli(tmp_path / "empty", {})("items", "list")
    assert result.exit_code == 2
    assert "run `syndicate init`" in result.stderr


def test_bad_configuration_is_named_and_secrets_stay_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "syndicate.toml"
    config.write_text('[store]\nurl = "postgresql://u:pw-literal@h/db"\n', "utf-8")
    result = Cli(home, {})("items", "list")
    assert result.exit_code == 2
    assert "store.url: holds a password" in result.stderr
    assert "pw-literal" not in result.output
    config.write_text(
        '[store]\npassword = "${MISSING_PW}"\nurl = "postgresql://u@h/db"\n', "utf-8"
    )
    result = Cli(home, {})("items", "list")
    assert result.exit_code == 2
    assert "environment variable MISSING_PW is not set" in result.stderr
    config.write_text("[stor]\n", "utf-8")
    assert "unknown section(s) stor" in Cli(home, {})("items", "list").stderr


def test_demo_builds_a_fresh_home_and_says_what_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "published" in result.stdout
    assert "revised" in result.stdout
    assert "withdrew" in result.stdout
    assert "syndicate --home syndicate-demo items list" in result.stdout
    project = Project.load(tmp_path / "syndicate-demo", environ={})
    with project.disclosures() as log:
        events = [r.event for r in log.read_log()]
    assert events.count("Published") == 12
    assert events[-2:] == ["Revised", "Withdrawn"]
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0
    assert (tmp_path / "syndicate-demo-2" / "syndicate.toml").is_file()
    taken = runner.invoke(app, ["demo", "--home", "syndicate-demo"])
    assert taken.exit_code == 2
    assert "not empty" in taken.stderr


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNDICATE_ACTOR": "ci"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    module = _run(sys.executable, "-m", "syndicate", "--help", cwd=tmp_path)
    assert module.returncode == 0
    assert "items" in module.stdout
    script = Path(sys.executable).parent / "syndicate"
    failed = _run(
        str(script), "--home", str(tmp_path), "items", "show", "x/y", cwd=tmp_path
    )
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: ")
    assert "Traceback" not in failed.stderr
    version = _run(str(script), "--version", cwd=tmp_path)
    assert version.stdout.startswith("syndicate ")
