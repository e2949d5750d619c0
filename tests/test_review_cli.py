"""`syndicate review …` and review in `items`, `status` and `outlets check` (先审后发),
on a real SQLite home: every command, and every bad input of issue 15 refused with a
message that names the problem, the right exit code, no traceback, both logs unchanged."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from syndicate.cli import app
from syndicate.engine import Engine
from syndicate.itemfiles import load_item_file
from syndicate.project import Project
from syndicate.testing import log_snapshot
from tests.conftest import ITEM_FILE, content

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "items"
POLICY = EXAMPLES / "03-rural-housing-plan.md"
READING = EXAMPLES / "04-rural-housing-plan-interpretation.md"
POLICY_REF = "临溪县住房和城乡建设局/11330100MB0000003P/2026-00008"
READING_REF = "临溪县住房和城乡建设局/11330100MB0000003P/2026-00009"
REF = "临溪县民政局/11330100MB0000006R/2026-00019"
L1, L2 = "科室初审", "分管领导审签"
TWO_LEVELS = f"""levels = ["{L1}", "{L2}"]
[review.reviewers]
"{L1}" = ["李四", "赵六"]
"{L2}" = ["王五", "李四"]
"""
ARCHIVE = """
[outlets.archive]
kind = "directory"
path = "out"
"""
SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()


class Cli:
    """The app in-process against one home; the author 张三 unless --actor says."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner(
            env={"SYNDICATE_ACTOR": "张三", "REVIEW_SECRET": SECRET}
        )

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    def ok(self, *args: str | Path) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result

    @property
    def config(self) -> Path:
        return self.home / "syndicate.toml"

    def set_review(self, table: str) -> None:
        """Replace the `levels = …` line `init` wrote with `table`."""
        text = self.config.read_text("utf-8")
        new, count = re.subn(
            r'^levels = \[.*\]\n(?:\[review\.reviewers\]\n(?:".*\n)*)?',
            table,
            text,
            count=1,
            flags=re.M,
        )
        assert count == 1
        self.config.write_text(new, "utf-8")

    def logs(self) -> tuple[list[tuple[int, str, bytes]], int, int]:
        """Both logs as they stand: every item event, and the positions."""
        with Engine.open(self.home, environ={}) as engine:
            items = log_snapshot(engine.items)
            deliveries = engine.deliveries.recorder.max_notification_id() or 0
            return items, engine.items.position(), deliveries

    def pending_hash(self, ref: str) -> str:
        digest: str = json.loads(self.ok("review", "show", ref, "--json").stdout)[
            "content_hash"
        ]
        return digest


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path / "home")
    made = runner.ok("init")
    assert "review before release: on" in made.stdout
    runner.set_review(TWO_LEVELS)
    with runner.config.open("a", encoding="utf-8") as config:
        config.write(ARCHIVE)
    return runner


@pytest.fixture
def item(tmp_path: Path) -> Path:
    path = tmp_path / "item.md"
    path.write_text(ITEM_FILE, "utf-8")
    return path


def archived(cli: Cli) -> list[str]:
    out = cli.home / "out"
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


# -- the way through ----------------------------------------------------------------


def test_sync_delivers_nothing_until_every_level_approved(cli: Cli, item: Path) -> None:
    published = cli.ok("items", "publish", item)
    assert "submitted for review (awaiting 科室初审)" in published.stdout
    assert "submitted 1 of 1 item file(s) for review" in published.stderr
    cli.ok("sync")
    assert archived(cli) == []
    status = cli.ok("status")
    assert "review: 1 version(s) not released yet (1 awaiting 科室初审)" in (
        status.stdout
    )

    listed = cli.ok("review", "list")
    assert REF in listed.stdout
    assert "pending" in listed.stdout
    assert L1 in listed.stdout
    [entry] = json.loads(cli.ok("review", "list", "--json").stdout)
    assert (entry["ref"], entry["state"], entry["awaiting"]) == (REF, "pending", L1)

    shown = cli.ok("review", "show", REF)
    digest = cli.pending_hash(REF)
    assert digest == entry["content_hash"]
    assert f"content hash: {digest}" in shown.stdout
    assert f"--level {L1} --hash {digest}" in shown.stdout  # the command to copy
    assert "+title = 临溪县2026年第一季度城乡最低生活保障审批结果公告" in shown.stdout
    assert "nothing of it is public yet" in shown.stdout

    first = cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")
    assert f"awaiting {L2} next" in first.stdout
    cli.ok("sync")
    assert archived(cli) == []  # one level is not enough

    second = cli.ok(
        "review",
        "approve",
        REF,
        "--level",
        L2,
        "--hash",
        digest,
        "--comment",
        "同意发布",
        "--actor",
        "王五",
        "--json",
    )
    change = json.loads(second.stdout)
    assert (change["event"], change["released"], change["awaiting"]) == (
        "Released",
        True,
        None,
    )
    assert archived(cli) == []  # released, not yet delivered
    cli.ok("sync")
    assert len(archived(cli)) == 1
    assert "review:" not in cli.ok("status").stdout
    assert cli.ok("review", "list").stderr.strip() == "nothing awaits review"
    events = [
        json.loads(x)["event"] for x in cli.ok("log", "--json").stdout.split("\n") if x
    ]
    assert events[-3:] == ["Approved", "Approved", "Released"]


def test_a_revision_waits_while_the_released_version_stays(
    cli: Cli, item: Path
) -> None:
    cli.ok("items", "publish", item)
    cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")
    cli.ok("review", "approve", REF, "--level", L2, "--actor", "王五")
    cli.ok("sync")
    [name] = archived(cli)
    before = (cli.home / "out" / name).read_text("utf-8")
    item.write_text(ITEM_FILE.replace("73人", "74人"), "utf-8")
    revised = cli.ok("items", "revise", REF, item, "--reason", "更正人数")
    assert f"for review (awaiting {L1})" in revised.stdout
    assert "outlets keep what they show" in revised.stdout
    cli.ok("sync")
    assert (cli.home / "out" / name).read_text("utf-8") == before
    shown = cli.ok("review", "show", REF).stdout
    assert "-经审批，新增农村低保对象47户73人。" in shown
    assert "+经审批，新增农村低保对象47户74人。" in shown
    [row] = json.loads(cli.ok("status", "--json").stdout)
    review = row["under_review"]
    assert (review["state"], review["awaiting"], review["overdue"]) == (
        "pending",
        L1,
        False,
    )
    assert review["version"] > row["version"] == row["live_version"]
    withdrawn = cli.ok("items", "withdraw", REF, "--reason", "数据待复核", "--json")
    change = json.loads(withdrawn.stdout)
    assert (change["event"], change["released"], change["awaiting"]) == (
        "Submitted",
        False,
        L1,
    )
    text = cli.ok("review", "show", REF).stdout
    assert "taken down from every outlet" in text


def test_return_with_a_comment_then_resubmit(cli: Cli, item: Path) -> None:
    cli.ok("items", "publish", item)
    returned = cli.ok(
        "review", "return", REF, "--comment", "人数写错了", "--actor", "李四"
    )
    assert "returned" in returned.stdout
    assert "nothing was released" in returned.stdout
    [entry] = json.loads(cli.ok("review", "list", "--json").stdout)
    assert entry["state"] == "returned"
    assert entry["returned"]["comment"] == "人数写错了"
    shown = cli.ok("review", "show", REF).stdout
    assert "人数写错了" in shown
    assert "syndicate review resubmit" in shown
    again = cli.ok("review", "resubmit", REF)
    assert f"awaiting {L1}" in again.stdout
    cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")
    cli.ok("review", "approve", REF, "--level", L2, "--actor", "王五")
    cli.ok("sync")
    assert len(archived(cli)) == 1


def test_a_policy_and_its_interpretation_are_one_entry_and_released_together(
    cli: Cli,
) -> None:
    cli.ok("items", "publish", POLICY, READING)
    listed = cli.ok("review", "list").stdout
    assert "+ " in listed
    assert "released together" in listed
    [entry] = json.loads(cli.ok("review", "list", "--json").stdout)
    assert entry["ref"] == POLICY_REF
    assert [m["ref"] for m in entry["members"]] == [READING_REF]
    assert READING_REF in cli.ok("review", "show", POLICY_REF).stdout

    cli.ok("review", "approve", POLICY_REF, "--level", L1, "--actor", "李四")
    waits = cli.ok("review", "approve", POLICY_REF, "--level", L2, "--actor", "王五")
    assert "its last level" in waits.stdout
    assert READING_REF in waits.stdout
    cli.ok("sync")
    assert archived(cli) == []  # the policy waits for its 解读
    cli.ok("review", "approve", READING_REF, "--level", L1, "--actor", "赵六")
    done = cli.ok("review", "approve", READING_REF, "--level", L2, "--actor", "王五")
    assert "released" in done.stdout
    assert f"released together with {POLICY_REF}" in (done.stdout)
    cli.ok("sync")
    assert len(archived(cli)) == 2


def test_urgent_release_goes_out_and_is_approved_afterwards(
    cli: Cli, item: Path
) -> None:
    published = cli.ok("items", "publish", item, "--urgent", "汛情预警")
    assert "released urgently, without review" in published.stdout
    assert "released urgently, without review" in published.stderr  # the summary
    cli.ok("sync")
    assert len(archived(cli)) == 1
    assert "urgent: 1 release(s) without review await approval afterwards" in (
        cli.ok("status").stdout
    )
    assert cli.ok("review", "list").stderr.strip() == "nothing awaits review"
    [entry] = json.loads(cli.ok("review", "list", "--overdue", "--json").stdout)
    assert (entry["state"], entry["reason"], entry["overdue"]) == (
        "urgent",
        "汛情预警",
        False,
    )
    assert "汛情预警" in cli.ok("review", "list", "--overdue").stdout
    # `approve` is for versions under review: it says which command to use.
    wrong = cli("review", "approve", REF, "--level", L1, "--actor", "李四")
    assert wrong.exit_code == 1
    assert "review approve-afterwards" in wrong.stderr
    first = cli.ok(
        "review", "approve-afterwards", REF, "--level", L1, "--actor", "李四"
    )
    assert f"awaiting {L2} next" in first.stdout
    last = cli.ok("review", "approve-afterwards", REF, "--level", L2, "--actor", "王五")
    assert "approved at every level" in last.stdout
    assert cli.ok("review", "list", "--overdue").stderr.strip() == (
        "no urgent release awaits approval afterwards"
    )
    assert "urgent:" not in cli.ok("status").stdout
    # A correction that cannot wait either: out at once, approved afterwards.
    item.write_text(ITEM_FILE.replace("73人", "74人"), "utf-8")
    revised = cli.ok(
        "items", "revise", REF, item, "--reason", "更正", "--urgent", "汛情", "--json"
    )
    change = json.loads(revised.stdout)
    assert (change["event"], change["released"]) == ("UrgentlyReleased", True)
    cli.ok("sync")
    [name] = archived(cli)
    assert "74人" in (cli.home / "out" / name).read_text("utf-8")


def test_publish_json_says_what_was_written(cli: Cli, item: Path) -> None:
    result = cli.ok("items", "publish", item, POLICY, "--json")
    changes = json.loads(result.stdout)
    assert sorted(c["ref"] for c in changes) == sorted([REF, POLICY_REF])
    for change in changes:
        assert (change["event"], change["released"], change["awaiting"]) == (
            "Submitted",
            False,
            L1,
        )
    assert "submitted 2 of 2 item file(s) for review" in result.stderr
    dry = cli.ok("items", "publish", "--dry-run", READING)
    assert "1 would be submitted for review" in dry.stderr


def test_release_urgently_a_version_under_review(cli: Cli, item: Path) -> None:
    cli.ok("items", "publish", item)
    cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")
    done = cli.ok("review", "release-urgently", REF, "--reason", "汛期紧急通知")
    assert "released" in done.stdout
    assert "approve-afterwards" in done.stdout
    cli.ok("sync")
    assert len(archived(cli)) == 1
    [entry] = json.loads(cli.ok("review", "list", "--overdue", "--json").stdout)
    assert entry["reason"] == "汛期紧急通知"


def test_an_overdue_urgent_release_is_flagged(cli: Cli, item: Path) -> None:
    earlier = datetime.now(UTC) - timedelta(hours=30)
    project = Project.load(cli.home, environ={})
    with Engine(project, clock=lambda: earlier) as engine:
        engine.items.publish(
            load_item_file(item).content, actor="张三", urgent="汛情预警"
        )
    listed = cli.ok("review", "list", "--overdue")
    assert "OVERDUE" in listed.stdout
    [entry] = json.loads(cli.ok("review", "list", "--overdue", "--json").stdout)
    assert entry["overdue"] is True
    assert "1 OVERDUE" in cli.ok("status").stdout


def test_list_filters_by_level_and_agency(cli: Cli, item: Path) -> None:
    cli.ok("items", "publish", item, POLICY)
    cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")
    by_level = json.loads(cli.ok("review", "list", "--level", L2, "--json").stdout)
    assert [e["ref"] for e in by_level] == [REF]
    by_agency = json.loads(
        cli.ok("review", "list", "--agency", "临溪县住房和城乡建设局", "--json").stdout
    )
    assert [e["ref"] for e in by_agency] == [POLICY_REF]


def test_review_off_is_said_by_status_and_outlets_check(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    made = cli.ok("init", "--no-review")
    assert "OFF" in made.stdout
    for command in (("status",), ("outlets", "check"), ("status", "--json")):
        said = cli.ok(*command).stderr
        assert "review before release (先审后发) is off ([review] levels = [])" in said
        assert "unreviewed" in said
    # A home made before review existed: no [review] table at all.
    text = cli.config.read_text("utf-8")
    cli.config.write_text(
        re.sub(r"^\[review\]\n(?:[^\[\n].*\n|\n)*", "", text, count=1, flags=re.M),
        "utf-8",
    )
    assert "[review]" not in cli.config.read_text("utf-8").replace("# [review", "")
    for command in (("status",), ("outlets", "check")):
        said = cli.ok(*command).stderr
        assert "syndicate.toml has no [review] table" in said


def test_review_on_says_nothing_and_review_queues_are_flagged(cli: Cli) -> None:
    with cli.config.open("a", encoding="utf-8") as config:
        config.write(
            """
[outlets.review-desk]
kind = "webhook"
url = "https://review.example.gov.cn/hook"
secret = "${REVIEW_SECRET}"
internal = true
review_queue = true
"""
        )
    checked = cli.ok("outlets", "check")
    assert "warning" not in checked.stderr
    desk = next(x for x in checked.stdout.splitlines() if "review-desk" in x)
    assert "review_queue" in desk
    described = {
        o["name"]: o for o in json.loads(cli.ok("outlets", "check", "--json").stdout)
    }
    assert described["review-desk"]["review_queue"] is True
    assert described["archive"]["review_queue"] is False
    assert "warning" not in cli.ok("status").stderr


# -- bad input: message, exit code, no traceback, both logs unchanged ----------------

Setup = Callable[[Cli, Path], None]


def publish(cli: Cli, item: Path) -> None:
    cli.ok("items", "publish", item)


def approve_first(cli: Cli, item: Path) -> None:
    publish(cli, item)
    cli.ok("review", "approve", REF, "--level", L1, "--actor", "李四")


def released(cli: Cli, item: Path) -> None:
    approve_first(cli, item)
    cli.ok("review", "approve", REF, "--level", L2, "--actor", "王五")


OTHER_HASH = "0" * 64

BAD: list[tuple[str, Setup, tuple[str, ...], int, str]] = [
    (
        "unknown-item",
        publish,
        (
            "review",
            "approve",
            "临溪县民政局/11330100MB0000006R/2026-09999",
            "--level",
            L1,
        ),
        1,
        "no item 临溪县民政局/11330100MB0000006R/2026-09999",
    ),
    (
        "already-released",
        released,
        ("review", "approve", REF, "--level", L1, "--actor", "赵六"),
        1,
        "it is released and nothing is under review",
    ),
    (
        "not-a-level",
        publish,
        ("review", "approve", REF, "--level", "审核", "--actor", "李四"),
        2,
        "--level: '审核' is not a review level",
    ),
    (
        "skipped-level",
        publish,
        ("review", "approve", REF, "--level", L2, "--actor", "王五"),
        1,
        f"level '{L2}' of {REF} comes after '{L1}'",
    ),
    (
        "stale-hash",
        publish,
        (
            "review",
            "approve",
            REF,
            "--level",
            L1,
            "--hash",
            OTHER_HASH,
            "--actor",
            "李四",
        ),
        1,
        "the content hash 000000000000… is not the pending version",
    ),
    (
        "malformed-hash",
        publish,
        ("review", "approve", REF, "--level", L1, "--hash", "abc", "--actor", "李四"),
        2,
        "--hash: must be the 64 hex digits of a sha256 hash",
    ),
    (
        "self-approval",
        publish,
        ("review", "approve", REF, "--level", L1, "--actor", "张三"),
        1,
        "张三 submitted this version",
    ),
    (
        "same-person-second-level",
        approve_first,
        ("review", "approve", REF, "--level", L2, "--actor", "李四"),
        1,
        "one person cannot approve two levels",
    ),
    (
        "same-level-twice",
        approve_first,
        ("review", "approve", REF, "--level", L1, "--actor", "李四"),
        1,
        f"level '{L1}' of {REF} was approved already by 李四",
    ),
    (
        "unknown-reviewer",
        publish,
        ("review", "approve", REF, "--level", L1, "--actor", "钱七"),
        1,
        f"钱七 is not a reviewer at level '{L1}'",
    ),
    (
        "return-without-comment",
        publish,
        ("review", "return", REF, "--actor", "李四"),
        2,
        "--comment: required",
    ),
    (
        "return-with-blank-comment",
        publish,
        ("review", "return", REF, "--comment", "  ", "--actor", "李四"),
        2,
        "--comment: required",
    ),
    (
        "return-by-unknown-reviewer",
        publish,
        ("review", "return", REF, "--comment", "不行", "--actor", "钱七"),
        1,
        "钱七 is not a reviewer",
    ),
    (
        "return-at-a-later-level",
        publish,
        (
            "review",
            "return",
            REF,
            "--comment",
            "不行",
            "--level",
            L2,
            "--actor",
            "王五",
        ),
        1,
        f"awaits level '{L1}', not '{L2}'",
    ),
    (
        "urgent-empty-reason",
        lambda cli, item: None,
        ("items", "publish", "ITEM", "--urgent", ""),
        2,
        "--urgent: must not be empty",
    ),
    (
        "urgent-without-value",
        lambda cli, item: None,
        ("items", "publish", "ITEM", "--urgent"),
        2,
        "Option '--urgent' requires an argument",
    ),
    (
        "urgent-swallowing-an-option",
        lambda cli, item: None,
        ("items", "publish", "--urgent", "--reason", "汛情预警", "ITEM"),
        2,
        '--urgent: takes the reason as its value, e.g. --urgent "汛情预警"',
    ),
    (
        "release-urgently-without-reason",
        publish,
        ("review", "release-urgently", REF),
        2,
        "--reason: required",
    ),
    (
        "withdraw-urgent-empty",
        released,
        ("items", "withdraw", REF, "--reason", "错了", "--urgent", " "),
        2,
        "--urgent: must not be empty",
    ),
    (
        "approve-afterwards-without-urgent-release",
        publish,
        ("review", "approve-afterwards", REF, "--level", L1, "--actor", "李四"),
        1,
        "was not released urgently",
    ),
    (
        "resubmit-nothing-returned",
        released,
        ("review", "resubmit", REF),
        1,
        "it is released and nothing is under review",
    ),
    (
        "unknown-level-filter",
        publish,
        ("review", "list", "--level", "审核"),
        2,
        "--level: '审核' is not a review level (levels: 科室初审, 分管领导审签)",
    ),
    (
        "show-nothing-under-review",
        released,
        ("review", "show", REF),
        1,
        "it is released and nothing is under review",
    ),
]


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    cli: Cli,
    item: Path,
    setup: Setup,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    setup(cli, item)
    cli.ok("sync")
    before = cli.logs()
    result = cli(*(str(item) if a == "ITEM" else a for a in args))
    assert result.exit_code == code, result.output
    assert message in result.stderr, result.stderr
    assert result.stdout == ""
    assert cli.logs() == before


def test_urgent_when_review_is_off_is_refused(tmp_path: Path, item: Path) -> None:
    cli = Cli(tmp_path / "home")
    cli.ok("init", "--no-review")
    before = cli.logs()
    result = cli("items", "publish", item, "--urgent", "汛情预警")
    assert result.exit_code == 2
    assert "--urgent: review is off" in result.stderr
    assert cli.logs() == before


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'levels = ["科室初审"]\nlevls = ["x"]\n',
            "review: unknown key(s) levls",
        ),
        (
            'levels = ["科室初审", "科室初审"]\n',
            "review.levels[1]: '科室初审' is listed twice",
        ),
        (
            'levels = ["科室初审"]\n[review.reviewers]\n"X" = ["李四"]\n',
            "review.reviewers: 'X' is not a level (levels: 科室初审)",
        ),
        (
            'levels = ["科室初审"]\n[review.area."低保"]\nlevels = []\n',
            "review.area.\"低保\": unknown pilot area '低保'",
        ),
    ],
    ids=["unknown-key", "level-twice", "unknown-level-name", "unknown-area"],
)
def test_a_bad_review_table_is_named_and_nothing_runs(
    cli: Cli, item: Path, table: str, message: str
) -> None:
    publish(cli, item)
    good = cli.config.read_text("utf-8")
    before = cli.logs()
    cli.set_review(table)
    for command in (
        ("review", "list"),
        ("review", "approve", REF, "--level", L1, "--actor", "李四"),
        ("items", "publish", item),
        ("status",),
        ("outlets", "check"),
        ("sync",),
    ):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.output)
        assert f"error: {message}" in result.stderr, (command, result.stderr)
    cli.config.write_text(good, "utf-8")
    assert cli.logs() == before


def test_review_release_frees_a_policy_whose_draft_interpretation_was_withdrawn(
    tmp_path: Path,
) -> None:
    """The only way out for an approved policy left waiting by a withdrawn 解读 draft."""
    made = Engine.init(tmp_path / "home", environ={})
    home = made.project.home
    with Engine.open(home, environ={}) as engine:
        policy = engine.items.publish(
            content(
                index_no="11330100MB0000006R/2026-00050",
                title="临溪县城乡居民最低生活保障实施细则",
            ),
            actor="张三",
        )
        reading = engine.items.publish(
            content(
                index_no="11330100MB0000006R/2026-00051",
                title="《实施细则》政策解读",
                interprets=str(policy.item_id),
            ),
            actor="张三",
        )
    runner = CliRunner()
    base = ["--home", str(home)]
    approved = runner.invoke(
        app,
        [*base, "review", "approve", policy.ref, "--level", "审核", "--actor", "李四"],
    )
    assert approved.exit_code == 0, approved.output
    early = runner.invoke(
        app, [*base, "review", "release", policy.ref, "--actor", "李四"]
    )
    assert early.exit_code == 1
    assert "not approved yet" in early.output
    assert "Traceback" not in early.output
    gone = runner.invoke(
        app,
        [
            *base,
            "items",
            "withdraw",
            reading.ref,
            "--reason",
            "改用图解",
            "--actor",
            "张三",
        ],
    )
    assert gone.exit_code == 0, gone.output
    done = runner.invoke(
        app, [*base, "review", "release", policy.ref, "--actor", "李四"]
    )
    assert done.exit_code == 0, done.output
    assert f"released {policy.ref}" in done.output
    with Engine.open(home, environ={}) as engine:
        assert engine.items.get(policy.ref).released
