"""The guard before review and release (issue 16): personal information and 错敏词 in
an item's text and attachments stop it with nothing stored; an override is recorded
with its basis; `items check` lists and fixes; `audit report` and `trail` show the
overrides. Generated numbers only, never real people's."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicate.application import Disclosures
from syndicate.attachments import PreparedAttachment
from syndicate.domain.content import ItemContent
from syndicate.domain.guard import (
    GuardOverride,
    GuardPolicy,
    GuardRefused,
    MaskRule,
    check_blocks,
    check_item,
)
from syndicate.domain.items import ItemStatus
from syndicate.domain.pii import PiiKind
from syndicate.domain.review import ReviewPolicy
from syndicate.domain.wording import builtin_word_list, parse_word_list
from syndicate.errors import ConfigurationError, InputError
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.clihome import CliHome
from tests.conftest import ITEM_FRONT, content
from tests.test_pii import make_card, make_id, make_mobile

RNG = random.Random(16)
ID = make_id(RNG)
MOBILE = make_mobile(RNG)
CARD = make_card(RNG)


def masked_id(value: str = ID) -> str:
    return value[:6] + "*" * 8 + value[-4:]


def subsidy_csv(rows: list[tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["序号", "户主", "身份证号码", "联系电话"])
    for n, (name, id_, phone) in enumerate(rows, 1):
        writer.writerow([n, name, id_, phone])
    return out.getvalue().encode("utf-8")


@pytest.fixture
def log(sqlite_project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    with sqlite_project.disclosures(clock=clock) as items:
        yield items


# -- the pure guard ---------------------------------------------------------------------


def test_a_finding_names_its_part_place_and_masked_form() -> None:
    report = check_item(
        [("title", "名单"), ("body", f"第一行\n户主 张某 {ID} 联系 {MOBILE}")],
        [],
        GuardPolicy.default(),
    )
    assert [f.message for f in report.findings] == [
        f"body 第2行 第7列: 身份证号未去标识化 (应为 {masked_id()})",
        f"body 第2行 第29列: 手机号码未去标识化 (应为 {MOBILE[:3]}****{MOBILE[-4:]})",
    ]
    assert report.blocks
    assert ID not in json.dumps(report.as_json(), ensure_ascii=False)


def test_masking_is_configurable_per_area_and_refuses_too_little() -> None:
    policy = GuardPolicy(
        masking={PiiKind.ID_CARD: MaskRule(4, 2)},
        area_masking={"social_assistance": {PiiKind.ID_CARD: MaskRule(1, 1)}},
    )
    text = f"身份证 {ID}"
    [other] = check_item([("body", text)], [], policy, area="rural_housing").findings
    [social] = check_item(
        [("body", text)], [], policy, area="social_assistance"
    ).findings
    assert other.suggestion == ID[:4] + "*" * 12 + ID[-2:]
    assert social.suggestion == ID[0] + "*" * 16 + ID[-1]
    from syndicate.domain.guard import parse_mask_rule

    with pytest.raises(InputError, match="hide at least 8"):
        parse_mask_rule(PiiKind.ID_CARD, "6+6", field_name="guard.masking.id_card")
    with pytest.raises(InputError, match='"HEAD\\+TAIL"'):
        parse_mask_rule(PiiKind.MOBILE, "3-4", field_name="guard.masking.mobile")


class Block:
    def __init__(self, rows: list[list[str]], label: str = "", table: bool = True):
        self.label = label
        self.rows = tuple(tuple(r) for r in rows)
        self.table = table


def test_a_number_split_across_two_cells_is_found() -> None:
    rows = [["序号", "身份证号码（前段）", "（后段）"], ["1", ID[:6], ID[6:]]]
    [finding] = check_blocks("attachments[0]", [Block(rows)], GuardPolicy.default())
    assert finding.place == "第2行 第2列至第3列"
    assert finding.suggestion == f"{ID[:6]} {'*' * 8}{ID[-4:]}"
    # Two ordinary numbers side by side are not joined into one.
    assert not check_blocks("a", [Block([["2026", "0410"]])], GuardPolicy.default())


def test_each_cell_is_checked_on_its_own_and_sheets_are_named() -> None:
    # A row number before an ID in the next cell must not swallow the ID.
    rows = [["6", ID, MOBILE, CARD]]
    found = check_blocks(
        "attachments[1]", [Block(rows, label="Sheet1")], GuardPolicy.default()
    )
    assert [(f.kind.value, f.place) for f in found] == [
        ("id_card", "Sheet1 第1行 第2列"),
        ("mobile", "Sheet1 第1行 第3列"),
        ("bank_card", "Sheet1 第1行 第4列"),
    ]


def test_words_block_by_severity() -> None:
    words = parse_word_list(
        "错误领导名\t正确领导名\t严重\n值得商榷\t\t提示\n", name="本县.txt"
    )
    policy = GuardPolicy(word_lists=(words,))
    report = check_item([("body", "值得商榷。错误领导名同志")], [], policy)
    assert [(f.term, f.blocks) for f in report.findings] == [
        ("值得商榷", False),
        ("错误领导名", True),
    ]
    assert (
        "错敏词「错误领导名」（严重；建议改为「正确领导名」；依据：本县.txt）"
        in report.lines()[1]
    )
    assert report.blocking(GuardOverride("核实无误", pii=False, wording=True)).clean
    assert not report.blocking(GuardOverride("x", pii=True)).clean
    strict = GuardPolicy(word_lists=(words,), caution_blocks=True)
    assert all(
        f.blocks for f in check_item([("body", "值得商榷")], [], strict).findings
    )


def test_an_unreadable_attachment_is_unchecked_not_clean() -> None:
    report = check_item(
        [], [("扫描件.pdf", "PDF has no text layer")], GuardPolicy.default()
    )
    assert not report.clean
    assert report.blocks
    assert report.lines() == [
        "attachments[0] (扫描件.pdf): unchecked: PDF has no text layer"
    ]
    assert report.blocking(GuardOverride("已人工核对", pii=True)).clean


# -- the items log ----------------------------------------------------------------------


def _csv_attachment(rows: list[tuple[str, str, str]]) -> PreparedAttachment:
    return PreparedAttachment.from_bytes(subsidy_csv(rows), name="名单.csv")


def _with(attachment: PreparedAttachment, **fields: object) -> ItemContent:
    return content(attachments=[attachment.meta.model_dump()], **fields)


def test_publish_is_refused_with_nothing_stored(log: Disclosures) -> None:
    before = log_snapshot(log)
    attachment = _csv_attachment(
        [("张某某", masked_id(), "138****0000"), ("李某", ID, "")]
    )
    with pytest.raises(GuardRefused) as refused:
        log.publish(
            _with(attachment),
            actor="张三",
            attachments=[attachment],
        )
    message = str(refused.value)
    assert (
        f"attachments[0] 第3行 第3列: 身份证号未去标识化 (应为 {masked_id()})"
        in message
    )
    assert ID not in message
    assert log_snapshot(log) == before
    assert log.attachments is not None
    assert not log.attachments.has(attachment.meta.sha256)  # no blob left behind


def test_an_override_is_recorded_with_its_basis_and_never_the_number(
    log: Disclosures,
) -> None:
    body = f"失信被执行人：王某，身份证号码 {ID}。"
    change = log.publish(
        content(body=body),
        actor="张三",
        override=GuardOverride("《失信被执行人名单信息公布办法》第七条"),
    )
    assert change.event == "Published"
    assert change.released
    item = log.get(change.item_id)
    [record] = item.overrides
    assert record.reason == "《失信被执行人名单信息公布办法》第七条"
    assert record.content_hash == item.content_hash
    events = log_snapshot(log)
    [(_, _, state)] = [e for e in events if e[1].endswith("GuardOverridden")]
    assert "body 第1行 第17列 身份证号" in state.decode()
    assert ID not in state.decode()


@pytest.mark.parametrize(
    ("basis", "problem"),
    [
        ("", "basis: must not be empty"),
        (f"见 {ID}", "basis: 第1行 第3列: holds a 身份证号"),
    ],
)
def test_a_bad_basis_is_refused(log: Disclosures, basis: str, problem: str) -> None:
    before = log_snapshot(log)
    with pytest.raises(InputError, match=problem):
        log.publish(content(body=ID), actor="张三", override=GuardOverride(basis))
    assert log_snapshot(log) == before


def test_an_override_of_nothing_records_nothing(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三", override=GuardOverride("以防万一"))
    assert log.get(change.item_id).overrides == []


def test_under_review_the_guard_runs_before_the_reviewer_sees_it(
    sqlite_project: Project, clock: FixedClock
) -> None:
    policy = ReviewPolicy.of([("审核", [])])
    with Disclosures(
        sqlite_project.store.env_for("Disclosures", create_tables=False),
        clock=clock,
        attachments=sqlite_project.attachments,
        review=policy,
    ) as log:
        before = log_snapshot(log)
        with pytest.raises(GuardRefused):
            log.publish(content(body=f"联系电话 {MOBILE}"), actor="张三")
        assert log_snapshot(log) == before
        change = log.publish(content(), actor="张三")
        assert change.event == "Submitted"
        with pytest.raises(GuardRefused, match="reason"):
            log.revise(
                change.item_id,
                content(body="更正后"),
                reason=f"更正户主电话为 {MOBILE}",
                actor="张三",
            )
        with pytest.raises(InputError, match="comment"):
            log.return_to_author(
                change.item_id, comment=f"第2户银行卡 {CARD} 有误", actor="李四"
            )
        assert log.get(change.item_id).status is ItemStatus.PENDING


def test_withdrawal_notes_and_reasons_never_carry_personal_data(
    log: Disclosures,
) -> None:
    change = log.publish(content(), actor="张三")
    before = log_snapshot(log)
    with pytest.raises(InputError, match="public_note"):
        log.withdraw(
            change.item_id, reason="有误", public_note=f"{ID} 户已核销", actor="张三"
        )
    assert log_snapshot(log) == before


def test_revise_takes_new_attachments_and_checks_them(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    clean = _csv_attachment([("张某某", masked_id(), "")])
    dirty = _csv_attachment([("张某某", ID, "")])
    with pytest.raises(GuardRefused, match="attachments\\[0\\]"):
        log.revise(
            change.item_id,
            _with(dirty),
            reason="补充名单",
            actor="张三",
            attachments=[dirty],
        )
    revised = log.revise(
        change.item_id,
        _with(clean),
        reason="补充名单",
        actor="张三",
        attachments=[clean],
    )
    assert revised.version == 2


def test_an_unreadable_attachment_stops_publishing_until_allowed(
    log: Disclosures,
) -> None:
    scan = PreparedAttachment.from_bytes(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 64, name="名单.png"
    )
    with pytest.raises(GuardRefused, match="unchecked"):
        log.publish(_with(scan), actor="张三", attachments=[scan])
    change = log.publish(
        _with(scan),
        actor="张三",
        attachments=[scan],
        override=GuardOverride("扫描件已由两人人工核对，不含个人信息"),
    )
    [record] = log.get(change.item_id).overrides
    assert (record.reason or "").startswith("扫描件")


def test_the_built_in_list_blocks_a_serious_term(log: Disclosures) -> None:
    serious = next(
        r for r in builtin_word_list().rules if r.severity.value == "serious"
    )
    with pytest.raises(GuardRefused, match=serious.term):
        log.publish(content(body=f"有关{serious.term}的情况"), actor="张三")
    change = log.publish(
        content(body=f"有关{serious.term}的情况"),
        actor="张三",
        override=GuardOverride("引用原文，经审核无误", pii=False, wording=True),
    )
    assert log.get(change.item_id).overrides[0].event == "GuardOverridden"


# -- configuration ----------------------------------------------------------------------


def _home_with(tmp_path: Path, guard: str) -> Path:
    """A home whose [guard] table (which `init` writes, all commented) holds `guard`:
    its keys first, then any sub-tables."""
    project, _ = Project.init(tmp_path / "home", environ={}, keys=False, review=False)
    text = project.config_path.read_text("utf-8")
    assert text.count("\n[guard]\n") == 1
    project.config_path.write_text(
        text.replace(
            "\n[guard]\n",
            "\n[guard]\n" + guard.strip().removeprefix("[guard]\n") + "\n",
        ),
        "utf-8",
    )
    return project.home


def test_word_lists_and_masking_come_from_the_home(tmp_path: Path) -> None:
    home = _home_with(
        tmp_path,
        '\n[guard]\nword_lists = ["words.txt"]\n[guard.masking]\nmobile = "3+2"\n'
        '[guard.area."社会救助".masking]\nid_card = "3+3"\n',
    )
    (home / "words.txt").write_text("# 本县\n词语|建议\n临西县|临溪县\n", "utf-8")
    policy = Project.load(home, environ={}).guard
    report = check_item(
        [("body", f"临西县 {MOBILE} {ID}")], [], policy, area="social_assistance"
    )
    assert [f.suggestion for f in report.findings] == [
        "临溪县",
        MOBILE[:3] + "******" + MOBILE[-2:],
        ID[:3] + "*" * 12 + ID[-3:],
    ]


def test_unreadable_attachments_may_be_reported_only(tmp_path: Path) -> None:
    home = _home_with(tmp_path, 'unreadable_attachments = "warn"')
    policy = Project.load(home, environ={}).guard
    report = check_item([], [("scan.png", "cannot read text in images")], policy)
    assert report.unchecked
    assert not report.blocks
    assert not report.clean
    assert report.blocking().clean
    project = Project.load(home, environ={})
    with project.disclosures() as log:
        scan = PreparedAttachment.from_bytes(b"\x89PNG\r\n\x1a\n", name="scan.png")
        change = log.publish(_with(scan), actor="张三", attachments=[scan])
        assert log.get(change.item_id).overrides == []  # nothing was overridden


@pytest.mark.parametrize(
    ("guard", "words", "message"),
    [
        ('word_lists = ["missing.txt"]', None, r"guard\.word_lists\[0\]: no such file"),
        (
            'word_lists = ["w.txt"]',
            "好\t坏\t高\n",
            r"guard\.word_lists\[0\]: w\.txt: line 1",
        ),
        ('[guard.masking]\nid_card = "9+9"', None, "guard.masking.id_card"),
        ('[guard.area."不存在的领域".masking]\nmobile = "3+4"', None, "guard.area"),
        ("colour = 1", None, "colour"),
        ('unreadable_attachments = "ignore"', None, "block.*warn"),
    ],
)
def test_bad_guard_settings_are_named(
    tmp_path: Path, guard: str, words: str | None, message: str
) -> None:
    table = guard if guard.startswith("[") else f"[guard]\n{guard}"
    home = _home_with(tmp_path, "\n" + table + "\n")
    if words is not None:
        (home / "w.txt").write_text(words, "utf-8")
    with pytest.raises(ConfigurationError, match=message):
        _ = Project.load(home, environ={}).guard


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path) -> CliHome:
    runner = CliHome(tmp_path / "home", actor="张三")
    assert runner("init", "--no-review").exit_code == 0
    return runner


def _item_dir(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    folder = tmp_path / "items"
    (folder / "att").mkdir(parents=True)
    (folder / "att" / "名单.csv").write_bytes(subsidy_csv(rows))
    (folder / "list.md").write_text(
        f'+++\n{ITEM_FRONT}attachments = ["att/名单.csv"]\n+++\n'
        f"户主联系电话：{MOBILE}\n",
        "utf-8",
    )
    return folder


def test_items_check_lists_fixes_and_rechecks(cli: CliHome, tmp_path: Path) -> None:
    folder = _item_dir(tmp_path, [("张某", ID, ""), ("李某", masked_id(), "")])
    (folder / "另一份名单.csv").write_bytes(subsidy_csv([("王某", "", MOBILE)]))
    result = cli("items", "check", folder)
    assert result.exit_code == 1, result.output
    assert (
        f"body 第1行 第8列: 手机号码未去标识化 (应为 {MOBILE[:3]}****{MOBILE[-4:]})"
        in result.stdout
    )
    assert (
        f"attachments[0] 第2行 第3列: 身份证号未去标识化 (应为 {masked_id()})"
        in result.stdout
    )
    assert "file 第2行 第4列: 手机号码" in result.stdout  # the loose CSV, as a document
    assert ID not in result.output
    assert MOBILE not in result.output
    assert "checked 2 file(s): 0 clean, 2 would be stopped" in result.stderr

    data = json.loads(cli("items", "check", folder, "--json").stdout)
    assert {d["kind"] for d in data} == {"item", "document"}
    assert all(d["blocks"] for d in data)

    out = tmp_path / "fixed"
    fixed = cli("items", "check", folder, "--fix", out)
    assert fixed.exit_code == 1  # the originals still hold the numbers
    assert (out / "att" / "名单.csv").is_file()
    assert (out / "list.md").is_file()
    assert ID not in (out / "att" / "名单.csv").read_text("utf-8")
    assert masked_id() in (out / "att" / "名单.csv").read_text("utf-8")
    again = cli("items", "check", out)
    assert again.exit_code == 0, again.output
    assert "2 clean, 0 would be stopped" in again.stderr
    # The masked copy publishes.
    published = cli("items", "publish", out / "list.md")
    assert published.exit_code == 0, published.output


def test_items_publish_is_stopped_and_allowed_with_a_basis(
    cli: CliHome, tmp_path: Path
) -> None:
    folder = _item_dir(tmp_path, [("张某", ID, "")])
    before = cli.items()
    stopped = cli("items", "publish", folder / "list.md")
    assert stopped.exit_code == 1
    assert "the guard stopped it" in stopped.stderr
    assert "--allow-pii" in stopped.stderr
    assert ID not in stopped.output
    assert cli.items() == before
    dry = cli("items", "publish", "--dry-run", folder / "list.md")
    assert dry.exit_code == 1
    assert "guard" in dry.stderr
    for args, message in [
        (["--allow-pii"], "--basis: required"),
        (["--basis", "x"], "--basis: goes with --allow-pii"),
        (["--allow-pii", "--basis", f"号码{ID}"], "holds a 身份证号"),
    ]:
        bad = cli("items", "publish", folder / "list.md", *args)
        assert bad.exit_code == 2, bad.output
        assert message in bad.stderr
        assert ID not in bad.output
        assert cli.items() == before
    ok = cli(
        "items",
        "publish",
        folder / "list.md",
        "--allow-pii",
        "--basis",
        "《某办法》第七条 惩戒公示",
    )
    assert ok.exit_code == 0, ok.output
    trail = cli("audit", "trail", "临溪县民政局/11330100MB0000006R/2026-00019")
    assert "accepted on the basis '《某办法》第七条 惩戒公示'" in trail.stdout
    report = tmp_path / "report"
    assert cli("audit", "report", "--out", report).exit_code == 0
    rows = list(
        csv.reader(io.StringIO((report / "guard_overrides.csv").read_text("utf-8-sig")))
    )
    assert len(rows) == 2
    assert "《某办法》第七条 惩戒公示" in rows[1]
    assert "个人信息与错敏词放行记录" in (report / "index.html").read_text("utf-8")
    assert cli("audit", "checkpoint").exit_code == 0
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_items_check_bad_input(cli: CliHome, tmp_path: Path) -> None:
    missing = cli("items", "check", tmp_path / "nope")
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.stderr
    bad = tmp_path / "bad.md"
    bad.write_text("+++\ntitle = 1\n+++\nx", "utf-8")
    result = cli("items", "check", bad)
    assert result.exit_code == 2
    assert "bad.md" in result.stderr
