"""The `syndicate` command line: output, JSON shapes, exit codes, and refusals that write nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.errors import ConfigurationError
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
    result = runner("init", "--no-review")
    assert result.exit_code == 0, result.output
    return runner


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path / "home", {})
    assert runner("init", "--no-review").exit_code == 0
    return runner


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_init_writes_a_commented_config_and_is_safe_to_rerun(tmp_path: Path) -> None:
    runner = Cli(tmp_path / "home", {})
    first = runner("init", "--no-review")
    assert first.exit_code == 0
    assert "created" in first.stdout
    config = (tmp_path / "home" / "syndicate.toml").read_text("utf-8")
    assert config.count("#") > 5
    assert 'url = "sqlite"' in config
    assert (tmp_path / "home" / "data").is_dir()
    second = runner("init", "--no-review")
    assert second.exit_code == 0
    assert "kept existing" in second.stdout


def test_init_config_has_outlet_examples_that_work_when_uncommented(
    tmp_path: Path,
) -> None:
    runner = Cli(tmp_path / "home", {"VILLAGE_GROUP_WEBHOOK": "0a1b2c3d-demo-4e5f"})
    assert runner("init", "--no-review").exit_code == 0
    config = tmp_path / "home" / "syndicate.toml"
    template = config.read_text("utf-8")
    # An example is a run of "# " lines from "# [outlets.NAME]" to a blank line.
    blocks = re.findall(r"^# \[outlets\.[^\n]*\n(?:# [^\n]*\n)*", template, re.M)
    kinds = [re.search(r'^# kind = "(\w+)"', b, re.M) for b in blocks]
    assert sorted(k[1] for k in kinds if k) == sorted(
        ["portal", "rss", "kiosk", "noticeboard", "wecom_group", "directory"]
    )
    assert "${VILLAGE_GROUP_WEBHOOK}" in template  # secrets only as references
    assert runner("outlets", "check").stderr.startswith("no outlets configured")
    for block in blocks:
        config.write_text(template + "\n" + re.sub(r"^# ", "", block, flags=re.M))
        checked = runner("outlets", "check", "--json")
        assert checked.exit_code == 0, (block, checked.output)
        [outlet] = json.loads(checked.stdout)
        assert f"[outlets.{outlet['name']}]" in block
    everything = "".join(re.sub(r"^# ", "", b, flags=re.M) for b in blocks)
    config.write_text(template + "\n" + everything)
    checked = runner("outlets", "check")
    assert checked.exit_code == 0, checked.output
    assert len(checked.stdout.splitlines()) == 6
    assert "0a1b2c3d" not in checked.stdout  # the robot key stays masked
    # Unset optional settings are shown as unset, not as the text "None".
    assert '"None"' not in checked.stdout
    assert '"contact": null' in checked.stdout
    rows = json.loads(runner("outlets", "check", "--json").stdout)
    board = next(r for r in rows if r["kind"] == "noticeboard")
    assert board["settings"]["contact"] is None
    assert board["settings"]["board_name"] == "村务公开栏"


def test_commands_refuse_a_missing_store_and_create_nothing(tmp_path: Path) -> None:
    """Only `init` creates a store: a missing data directory is more likely a disk
    that is not mounted than a new home."""
    home = tmp_path / "home"
    runner = Cli(home, {})
    assert runner("init", "--no-review").exit_code == 0
    data = home / "data"
    (home / "item.md").write_text(GOOD, "utf-8")
    assert runner("items", "publish", home / "item.md").exit_code == 0
    moved = tmp_path / "unmounted"
    data.rename(moved)
    for args in (
        ["items", "list"],
        ["items", "publish", str(home / "item.md")],
        ["log"],
        ["status"],
        ["sync"],
        ["retry"],
        ["audit", "verify"],
        ["audit", "checkpoints"],
    ):
        result = runner(*args)
        assert result.exit_code == 2, (args, result.output)
        assert f"{data} does not exist" in result.stderr, (args, result.stderr)
        assert "syndicate init" in result.stderr
        assert not data.exists(), args
    # Checking syndicate.toml alone does not need the store.
    assert runner("outlets", "check").exit_code == 0
    assert not data.exists()
    # One file gone from an existing data directory: refused too, naming the file.
    moved.rename(data)
    (data / "disclosures.db").rename(tmp_path / "disclosures.db")
    result = runner("items", "list")
    assert result.exit_code == 2
    assert f"{data / 'disclosures.db'} does not exist" in result.stderr
    assert not (data / "disclosures.db").exists()
    # The library refuses the same way.
    project = Project.load(home, environ={})
    with pytest.raises(ConfigurationError, match=r"disclosures\.db does not exist"):
        project.disclosures()
    (tmp_path / "disclosures.db").rename(data / "disclosures.db")
    listed = runner("items", "list", "--json")
    assert listed.exit_code == 0
    assert len(json.loads(listed.stdout)) == 1


def test_publish_counts_a_file_given_twice_once_and_refuses_a_second_file_for_the_same_item(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    a = write(tmp_path, "a.md", GOOD)
    twice = sqlite_cli("items", "publish", "--dry-run", a, a)
    assert twice.exit_code == 0, twice.output
    assert "checked 1 file(s): 1 would publish" in twice.stderr
    assert f"{a}: given more than once; counted once" in twice.stderr
    assert twice.stdout.count("ok ") == 1
    b = write(tmp_path, "b.md", GOOD.replace("47户73人", "47户74人"))
    same = sqlite_cli("items", "publish", "--dry-run", a, b)
    assert same.exit_code == 1, same.output
    assert f"error: {b}: the same item as {a}" in same.stderr
    assert "checked 2 file(s): 1 would publish, 1 would be refused" in same.stderr
    before = sqlite_cli.snapshot()
    assert before == []
    real = sqlite_cli("items", "publish", a, b, a)
    assert real.exit_code == 1
    assert f"error: {b}: the same item as {a}" in real.stderr
    assert "published 1 of 2 item file(s); 1 refused" in real.stderr
    assert len(real.stdout.splitlines()) == 1
    assert len(sqlite_cli.snapshot()) == 1


def test_publish_reports_every_problem_of_a_file(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    bad = GOOD.replace('area = "社会救助"', 'area = "无此领域"').replace(
        "formed_on = 2026-04-10", 'formed_on = 2026-04-10\nattribute = "不予公开"'
    )
    path = write(tmp_path, "bad.md", bad.replace("+++\n经", 'body = "x"\n+++\n经'))
    result = sqlite_cli("items", "publish", "--dry-run", path)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [e.split(": ")[2] for e in errors] == ["body", "area", "attribute_basis"]
    date = write(tmp_path, "date.md", GOOD.replace("2026-04-10", "2026-13-45"))
    result = sqlite_cli("items", "publish", date)
    assert result.exit_code == 2
    assert (
        f"error: {date}: formed_on: 2026-13-45 is not a valid date: month must be in 1..12 (line 8)"
        in result.stderr
    )
    assert sqlite_cli.snapshot() == []


def test_publish_revise_withdraw_and_read_back(cli: Cli, tmp_path: Path) -> None:
    published = cli(
        "items", "publish", EXAMPLES, "--late-reason", "补录：示例公示已于当时张贴"
    )
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
    # v1 Published, v2 NoticeExcepted (its window ended long ago: --late-reason).
    assert "now version 3" in revised.stdout

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
    assert (shown["version"], shown["status"]) == (4, "withdrawn")
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
    # 12 published, 3 late notices accepted (NoticeExcepted), a revision, a withdrawal.
    assert len(records) == 17
    assert sum(r["event"] == "NoticeExcepted" for r in records) == 3
    for record in records:
        assert {"position", "timestamp", "item_id", "version", "event", "actor"} <= set(
            record
        )
    assert [r["position"] for r in records] == list(range(1, 18))
    assert {r["actor"] for r in records} == {"测试员"}
    assert records[-1]["event"] == "Withdrawn"
    assert records[-1]["timestamp"].endswith("+08:00")


def test_text_outputs_show_the_catalogue_and_history(sqlite_cli: Cli) -> None:
    cli = sqlite_cli
    cli("items", "publish", EXAMPLES, "--late-reason", "补录：示例公示已于当时张贴")
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
            ["bad.md: title: invalid TOML value", "(line 4)"],
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
    result = sqlite_cli(
        "items",
        "publish",
        "--dry-run",
        EXAMPLES,
        "--late-reason",
        "补录：示例公示已于当时张贴",
    )
    assert result.exit_code == 0
    assert result.stdout.count("ok  ") == 12
    assert sqlite_cli.snapshot() == []


def test_domain_refusals_exit_1_and_write_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", GOOD)
    assert cli("items", "publish", path).exit_code == 0
    before = cli.snapshot()
    changed = write(tmp_path, "b.md", GOOD.replace("47户", "48户"))
    again = cli("items", "publish", changed)
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
    for step in ("submitted", "returned", "released", "revised", "withdrew", "urgent"):
        assert f"\n  {step} " in result.stdout or f"\n{step} " in result.stdout, step
    assert "“监督电话未注明受理时间，请补充后重新提交。”" in result.stdout
    assert "syndicate --home syndicate-demo items list" in result.stdout
    assert "syndicate --home syndicate-demo review list --overdue" in result.stdout
    project = Project.load(tmp_path / "syndicate-demo", environ={})
    assert project.review.rules.names == ("科室初审", "分管领导审签")
    with project.disclosures() as log:
        rows = list(log.read_log())
    events = [r.event for r in rows]
    # Review is on: nothing was published unreviewed. The 12 examples, an urgent item
    # and the 临时救助 list were drafted; the examples, one revision, one withdrawal and
    # the list were approved at both levels and released; the urgent item was released
    # at once; the list's sealed attachment was then erased.
    assert "Published" not in events
    assert "Revised" not in events
    assert "Withdrawn" not in events
    # Time (docs/lifecycle.md): two examples wait for their time (one scheduled, one
    # whose 公示期 starts later), approved but not released; a revised plan is
    # published and the old plan repealed with its 解读.
    # Two 规范性文件 for last month's 政府公报 issue come first (reviewed, released);
    # the 政府信息公开指南 and the 标准目录 page come last (reviewed, released).
    assert events.count("Drafted") == 15 + 2 + 2
    assert events.count("Released") == 12 - 2 + 2 + 1 + 1 + 2 + 2
    assert events.count("Approved") == 2 * (12 + 2 + 1 + 1 + 2 + 2)
    assert events.count("ReleaseScheduled") == 2
    assert events.count("Repealed") == 2
    assert events.count("Returned") == 1
    urgent = events.index("UrgentlyReleased")
    assert events[urgent + 1] == "ApprovedAfterwards"
    listed = [
        r.event for r in rows if r.ref == "临溪县民政局/11330100MB0000006R/2026-00033"
    ]
    assert listed == [
        "Drafted",
        "Submitted",
        "Approved",
        "Approved",
        "Released",
        "Erased",
    ]
    assert "GuardOverridden" not in events  # the list was fixed, not let through
    # Each level approved by its named reviewer, never by the author ("demo").
    assert {(r.level, r.actor) for r in rows if r.event == "Approved"} == {
        ("科室初审", "政务公开办 李静"),
        ("分管领导审签", "副县长 陈明"),
    }
    # The returned item: back to its author with the comment, revised, then approved.
    returned = [
        (r.event, r.reason)
        for r in rows
        if r.ref == "临溪县民政局/11330100MB0000006R/2026-00019"
    ]
    assert [e for e, _ in returned] == [
        "Drafted",
        "Submitted",
        "Returned",
        "Submitted",
        "Approved",
        "Approved",
        "Released",
    ]
    assert returned[2][1] == "监督电话未注明受理时间，请补充后重新提交。"
    # The policy waited, approved, for its 解读; both were released in one write.
    policy = "临溪县住房和城乡建设局/11330100MB0000003P/2026-00008"
    interpretation = "临溪县住房和城乡建设局/11330100MB0000003P/2026-00009"
    released = {r.ref: r.position for r in rows if r.event == "Released"}

    def approvals(ref: str) -> list[int]:
        return [r.position for r in rows if r.ref == ref and r.event == "Approved"]

    assert max(approvals(policy)) < min(approvals(interpretation)) < released[policy]
    assert released[interpretation] - released[policy] == 2  # 解读: Approved, Released
    # The revision and the withdrawal of released items were reviewed too.
    subsidy = [r.event for r in rows if r.ref == SUBSIDY_REF]
    assert subsidy[-4:] == ["Submitted", "Approved", "Approved", "Released"]
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0
    assert (tmp_path / "syndicate-demo-2" / "syndicate.toml").is_file()
    taken = runner.invoke(app, ["demo", "--home", "syndicate-demo"])
    assert taken.exit_code == 2
    assert "not empty" in taken.stderr
    taken = runner.invoke(app, ["--home", "syndicate-demo", "demo"])
    assert taken.exit_code == 2
    assert "not empty" in taken.stderr


def test_demo_honours_the_global_home_and_leaves_it_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SYNDICATE_DEMO_"):
            monkeypatch.delenv(name)
    home = tmp_path / "elsewhere" / "try"
    result = CliRunner().invoke(app, ["--home", str(home), "demo"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "syndicate-demo").exists()
    assert (home / "syndicate.toml").is_file()
    assert f"syndicate --home {home} items list" in result.stdout
    # The secrets the demo made up are in the home's syndicate.env, owner-only, and
    # nowhere in syndicate.toml, the output or the stored events.
    env_file = home / "syndicate.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    secrets = [
        line.split("=", 1)[1]
        for line in env_file.read_text("utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert len(secrets) == 7  # + the 网格员s' robot key and the Weibo token
    stored = b"".join(p.read_bytes() for p in (home / "data").rglob("*") if p.is_file())
    config = (home / "syndicate.toml").read_text("utf-8")
    assert "syndicate.env" in result.stdout
    for secret in secrets:
        assert secret not in result.output
        assert secret not in config
        assert secret.encode() not in stored
    # Later commands load the outlets without any variable set in the shell.
    runner = CliRunner(env={"SYNDICATE_ACTOR": "ci"})
    synced = runner.invoke(app, ["--home", str(home), "sync"])
    assert synced.exit_code == 0, synced.output
    checked = runner.invoke(app, ["--home", str(home), "outlets", "check"])
    assert checked.exit_code == 0, checked.output
    assert all(secret not in checked.output for secret in secrets)
    # A syndicate.env others can read is refused, without showing what is in it.
    env_file.chmod(0o644)
    refused = runner.invoke(app, ["--home", str(home), "sync"])
    assert refused.exit_code == 2
    assert "chmod 600" in refused.stderr
    assert all(secret not in refused.output for secret in secrets)


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
