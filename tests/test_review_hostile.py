"""先审后发 against careless and hostile operators, reviewers, authors and insiders.

Each test tries to get unapproved content onto a public outlet, to approve something
other than what was read, to split a policy from its 解读, to make the audit or the
review queue lie, to leak a version under review through a public outlet, or to wedge
the review. Tests marked `xfail(strict=True, reason="BUG: …")` show a real bug (the
suite stays green while it is visible); the others are attacks that hold.

Every home is a real SQLite home in a tmp dir; the CLI runs in-process (CliRunner).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from syndicate.application import Disclosures
from syndicate.audit.reviews import ReviewFold
from syndicate.cli import app
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.review import ProposalKind
from syndicate.engine import Engine
from syndicate.errors import (
    ConflictError,
    InputError,
    ItemWithdrawn,
    ReviewRefused,
    SyndicateError,
)
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import content

L1, L2 = "科室初审", "分管领导审签"
TWO = f'levels = ["{L1}", "{L2}"]'
LISTED = f'{TWO}\n[review.reviewers]\n"{L1}" = ["李四", "赵六"]\n"{L2}" = ["王五"]'
REF = "临溪县民政局/11330100MB0000006R/2026-00019"
SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()


def make_home(tmp_path: Path, review: str, outlets: str = "") -> Project:
    """A SQLite home whose `[review]` levels line is replaced by `review`."""
    project, _ = Project.init(tmp_path / "home", environ={}, keys=False, review=False)
    text = project.config_path.read_text("utf-8")
    assert "\nlevels = []\n" in text
    text = text.replace("\nlevels = []\n", f"\n{review}\n", 1)
    project.config_path.write_text(text + outlets, "utf-8")
    return Project.load(project.home, environ={})


def set_review(project: Project, old: str, new: str) -> Project:
    """The home with `old` replaced by `new` in syndicate.toml, loaded again."""
    text = project.config_path.read_text("utf-8")
    assert old in text
    project.config_path.write_text(text.replace(old, new, 1), "utf-8")
    return Project.load(project.home, environ={})


@contextmanager
def opened(project: Project, clock: FixedClock | None = None) -> Iterator[Disclosures]:
    with project.disclosures(clock=clock or FixedClock()) as log:
        yield log


def pending_hash(log: Disclosures, ref: str) -> str:
    pending = log.get(ref).pending
    assert pending is not None
    return pending.review_hash


def approve_all(
    log: Disclosures, ref: str, first: str = "李四", second: str = "王五"
) -> bool:
    digest = pending_hash(log, ref)
    log.approve(ref, level=L1, content_hash=digest, actor=first)
    return log.approve(ref, level=L2, content_hash=digest, actor=second).released


def numbered(n: int, **fields: Any) -> ItemContent:
    return content(index_no=f"11330100MB0000006R/2026-{n:05d}", **fields)


def policy() -> ItemContent:
    return numbered(
        50, title="临溪县城乡居民最低生活保障实施细则", category="行政规范性文件"
    )


def reading(
    of: object, n: int = 51, title: str = "《实施细则》政策解读"
) -> ItemContent:
    return numbered(n, title=title, interprets=str(of))


class Cli:
    """The app in-process against one home; exceptions other than exits fail."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner(env={"SYNDICATE_ACTOR": "张三", "S": SECRET})

    def __call__(self, *args: str | Path) -> Result:
        result = self.runner.invoke(app, ["--home", str(self.home), *map(str, args)])
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            repr(result.exception)
        )
        return result


# == approving something other than what was read ===================================


def test_a_stale_or_earlier_hash_never_approves_and_upper_case_is_the_same_hash(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        released = pending_hash(log, ref)
        assert approve_all(log, ref)
        log.revise(ref, content(body="第二版。"), reason="更正", actor="张三")
        read = pending_hash(log, ref)
        # the hash of the released version (what the portal prints) approves nothing
        with pytest.raises(ReviewRefused, match="changed after you read it"):
            log.approve(ref, level=L1, content_hash=released, actor="李四")
        # a revision between reading and approving: the hash read is stale
        log.revise(ref, content(body="第三版。"), reason="更正", actor="张三")
        before = log_snapshot(log)
        with pytest.raises(ReviewRefused, match="changed after you read it"):
            log.approve(ref, level=L1, content_hash=read, actor="李四")
        with pytest.raises(ConflictError):  # and with the version read, a conflict
            log.approve(
                ref,
                level=L1,
                content_hash=pending_hash(log, ref),
                actor="李四",
                expected_version=log.get(ref).version - 1,
            )
        assert log_snapshot(log) == before
        # a hash in upper case, with blanks, is the same hash
        current = pending_hash(log, ref)
        change = log.approve(
            ref, level=L1, content_hash=f"  {current.upper()} ", actor="李四"
        )
        assert change.event == "Approved"
        for bad in (current[:63], current + "0", "g" * 64, ""):
            with pytest.raises(InputError, match="content_hash"):
                log.approve(ref, level=L2, content_hash=bad, actor="王五")
        assert log.get(ref).content.body == "经审批，新增农村低保对象47户73人。"


def test_the_cli_approve_without_hash_racing_a_revision_approves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`review approve` without --hash reads the hash, then approves: a revision saved
    in between (another process) is refused, never approved."""
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
    original = Disclosures.review
    raced: list[bool] = []

    def racing(self: Disclosures, item: Any) -> Any:
        detail = original(self, item)
        if not raced:
            raced.append(True)
            with Engine.open(project.home, environ={"S": SECRET}) as other:
                other.items.revise(
                    ref, content(body="偷偷改过的正文。"), reason="改", actor="张三"
                )
        return detail

    monkeypatch.setattr(Disclosures, "review", racing)
    cli = Cli(project.home)
    result = cli("review", "approve", ref, "--level", L1, "--actor", "李四")
    assert raced
    assert result.exit_code == 1, result.output
    assert "changed after you read it" in result.stderr
    monkeypatch.setattr(Disclosures, "review", original)
    with opened(project) as log:
        pending = log.get(ref).pending
        assert pending is not None
        assert pending.approvals == []
        assert pending.content is not None
        assert pending.content.body == "偷偷改过的正文。"
    # with --hash in upper case, the CLI approves the version read
    digest = pending.review_hash.upper()
    ok = cli(
        "review", "approve", ref, "--level", L1, "--hash", digest, "--actor", "李四"
    )
    assert ok.exit_code == 0, ok.output


def test_an_approval_binds_the_withdrawal_note_it_read(tmp_path: Path) -> None:
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        approve_all(log, ref)
        log.withdraw(ref, reason="信息有误", public_note="该信息已撤回。", actor="张三")
        read = log.review(ref)
        assert read.public_note == "该信息已撤回。"
        digest = read.entry.review_hash
        # the author swaps the note: a revision in between lets a new withdrawal in
        log.revise(ref, content(body="临时"), reason="临时", actor="张三")
        log.withdraw(
            ref,
            reason="领导要求",
            public_note="本政策已废止，已发放的补贴须全额退回。",
            actor="张三",
        )
        with pytest.raises(ReviewRefused):
            log.approve(ref, level=L1, content_hash=digest, actor="李四")


def test_an_approval_binds_the_correction_reason_it_read(tmp_path: Path) -> None:
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        approve_all(log, ref)
        log.revise(ref, content(body="第二版。"), reason="更正联系电话", actor="张三")
        digest = pending_hash(log, ref)  # what 李四 read, with its reason
        log.revise(ref, content(body="中间版。"), reason="x", actor="张三")
        log.revise(
            ref, content(body="第二版。"), reason="根据领导指示取消补贴", actor="张三"
        )
        # The same content under another 更正说明 is another proposal: another hash.
        pending = log.get(ref).pending
        assert pending is not None
        assert pending.content_hash == content_hash(content(body="第二版。"))
        assert pending_hash(log, ref) != digest
        with pytest.raises(ReviewRefused):
            log.approve(ref, level=L1, content_hash=digest, actor="李四")


def test_a_hash_read_for_a_revision_does_not_approve_a_withdrawal(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        approve_all(log, ref, first="赵六")
        log.revise(ref, content(body="第二版。"), reason="更正", actor="张三")
        read_by_li = log.review(ref).entry.review_hash  # 李四 reads the revision
        approve_all(log, ref, first="赵六")  # his colleague approves it meanwhile
        log.withdraw(ref, reason="不再公开", public_note="已撤回。", actor="张三")
        pending = log.get(ref).pending
        assert pending is not None
        assert pending.kind is ProposalKind.WITHDRAW
        with pytest.raises(ReviewRefused):
            log.approve(ref, level=L1, content_hash=read_by_li, actor="李四")


# == who approves ===================================================================


@pytest.mark.parametrize(
    "disguise",
    ["张三\u3000", " 张三 ", "张三\n"],
    ids=["full-width-space", "blanks", "newline"],
)
def test_an_author_cannot_pass_as_someone_else_by_blanks(
    tmp_path: Path, disguise: str
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        with pytest.raises((ReviewRefused, InputError)):
            log.approve(ref, level=L1, content_hash=digest, actor=disguise)
        assert log.get(ref).pending.approvals == []  # type: ignore[union-attr]


def test_nfd_and_invisible_characters_do_not_make_another_person(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="Zoë Li").ref
        digest = pending_hash(log, ref)
        with pytest.raises(ReviewRefused, match="cannot approve it"):
            log.approve(ref, level=L1, content_hash=digest, actor="Zoe\u0308 Li")
        for hidden in ("Zoë\u200b Li", "Zoë Li\u202e", "Zo\u00adë Li"):
            with pytest.raises(InputError, match="actor"):
                log.approve(ref, level=L1, content_hash=digest, actor=hidden)
        # the level name is normalised the same way (a full-width space typed after it)
        change = log.approve(
            ref, level=f"{L1}\u3000", content_hash=digest, actor="李四"
        )
        assert change.awaiting == L2


def test_a_listed_reviewer_cannot_be_impersonated_by_a_lookalike(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, LISTED)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        for lookalike in ("李 四", "李四四", "李\u3000四", "Li Si"):
            with pytest.raises(ReviewRefused, match="is not a reviewer"):
                log.approve(ref, level=L1, content_hash=digest, actor=lookalike)
        with pytest.raises(ReviewRefused, match="is not a reviewer"):
            log.return_to_author(ref, comment="退", actor="李 四")
        # one person, two levels: refused even where the lists would allow it
        log.approve(ref, level=L1, content_hash=digest, actor="赵六")
        with pytest.raises(ReviewRefused, match="is not a reviewer"):
            log.approve(ref, level=L2, content_hash=digest, actor="赵六")
        assert log.get(ref).status is ItemStatus.PENDING


def test_resubmitting_does_not_turn_the_author_into_a_reviewer(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        log.return_to_author(ref, comment="再看看", actor="李四")
        log.resubmit(ref, actor="赵六")  # a colleague clicks "resubmit"
        digest = pending_hash(log, ref)
        with pytest.raises(ReviewRefused, match="cannot approve it"):
            log.approve(ref, level=L1, content_hash=digest, actor="张三")


def test_the_author_cannot_approve_an_urgent_release_afterwards(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        urgent = log.get(ref).urgent
        assert urgent is not None
        with pytest.raises(ReviewRefused, match="cannot approve it"):
            log.approve_afterwards(
                ref, level=L1, content_hash=urgent.review_hash, actor="张三"
            )
        with pytest.raises(ReviewRefused, match="comes after"):
            log.approve_afterwards(
                ref, level=L2, content_hash=urgent.review_hash, actor="王五"
            )


# == comments ========================================================================


def test_very_long_or_broken_comments_are_refused_cleanly(tmp_path: Path) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        before = log_snapshot(log)
        with pytest.raises(InputError, match="comment"):
            log.approve(
                ref, level=L1, content_hash=digest, actor="李四", comment="长" * 2001
            )
        with pytest.raises(InputError, match="comment"):
            log.approve(
                ref, level=L1, content_hash=digest, actor="李四", comment="a\x1b[2Jb"
            )
        with pytest.raises(InputError, match="comment"):
            log.return_to_author(ref, comment="退" * 501, actor="李四")
        with pytest.raises(InputError, match="comment"):
            log.return_to_author(ref, comment="  \u3000 ", actor="李四")
        assert log_snapshot(log) == before
        log.approve(
            ref, level=L1, content_hash=digest, actor="李四", comment="好" * 2000
        )
    cli = Cli(project.home)
    for args in (
        ("review", "return", ref, "--comment", "退" * 501, "--actor", "王五"),
        ("review", "return", ref, "--comment", "第一行\n第二行", "--actor", "王五"),
        ("review", "approve", ref, "--level", L2, "--comment", "x" * 2001),
    ):
        result = cli(*args, "--actor", "王五")
        assert result.exit_code == 2, (args[:2], result.output)
        assert "comment" in result.stderr


# == a policy and its 解读 ===========================================================


def test_a_reading_of_a_reading_does_not_release_a_reading_before_its_policy(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        p = log.publish(policy(), actor="张三")
        a = log.publish(reading(p.item_id), actor="张三")
        with pytest.raises(InputError, match="is itself a 解读"):
            log.publish(reading(a.item_id, 52, "解读的解读"), actor="张三")
        approve_all(log, a.ref)  # the 解读 waits for its policy
        assert log.get(p.ref).status is ItemStatus.PENDING
        assert log.get(a.ref).status is ItemStatus.PENDING


def test_every_version_under_review_is_in_the_review_list(tmp_path: Path) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        p = log.publish(policy(), actor="张三")
        a = log.publish(reading(p.item_id), actor="张三")
        with pytest.raises(InputError, match="is itself a 解读"):
            log.publish(reading(a.item_id, 52, "解读的解读"), actor="张三")
        listed = {e.item_id for top in log.reviews() for e in (top, *top.members)}
        assert listed == {p.item_id, a.item_id}


def test_a_reading_of_a_withdrawn_policy_draft_is_not_released(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        p = log.publish(policy(), actor="张三")
        a = log.publish(reading(p.item_id), actor="张三")
        approve_all(log, a.ref)
        log.withdraw(p.ref, reason="政策暂不出台", actor="张三")
        with pytest.raises(SyndicateError):
            log.release(a.ref, actor="王五")
        assert log.get(a.ref).status is ItemStatus.PENDING


def test_a_policy_waits_for_a_reading_under_review_as_a_revision(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        old = log.publish(numbered(51, title="旧文"), actor="张三").ref
        approve_all(log, old)
        p = log.publish(policy(), actor="张三")
        log.revise(
            old,
            reading(p.item_id),
            reason="改为政策解读",
            actor="张三",
        )
        approve_all(log, p.ref)
        item = log.get(old)
        split = (
            log.get(p.ref).status is ItemStatus.PUBLISHED and item.pending is not None
        )
        assert not split


def test_two_readings_one_returned_hold_the_policy_back_everywhere(
    tmp_path: Path,
) -> None:
    outlets = '\n[outlets.archive]\nkind = "directory"\npath = "out"\n'
    project = make_home(tmp_path, TWO, outlets)
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        log = engine.items
        p = log.publish(policy(), actor="张三")
        a1 = log.publish(reading(p.item_id), actor="张三")
        a2 = log.publish(reading(p.item_id, 52, "图解"), actor="张三")
        approve_all(log, p.ref)
        approve_all(log, a1.ref)
        log.return_to_author(a2.ref, comment="图解有误", actor="李四")
        for ref in (p.ref, a1.ref):
            with pytest.raises(ReviewRefused, match="not approved yet"):
                log.release(ref, actor="王五")
            with pytest.raises(ReviewRefused, match="released together"):
                log.release_urgently(ref, reason="急", actor="王五")
        with pytest.raises(ReviewRefused, match="released together"):
            log.revise(
                a2.ref,
                reading(p.item_id, 52, "图解二"),
                reason="改",
                actor="张三",
                urgent="急",
            )
        engine.sync()
        assert not (project.home / "out").exists() or not list(
            (project.home / "out").iterdir()
        )
        log.revise(
            a2.ref, reading(p.item_id, 52, "图解（改）"), reason="改", actor="张三"
        )
        assert approve_all(log, a2.ref)
        assert {log.get(r).status for r in (p.ref, a1.ref, a2.ref)} == {
            ItemStatus.PUBLISHED
        }
        engine.sync()
        assert len(list((project.home / "out").iterdir())) == 3


def test_requires_interpretation_holds_for_an_urgent_release(tmp_path: Path) -> None:
    project = make_home(
        tmp_path, 'levels = ["审核"]\nrequires_interpretation = ["行政规范性文件"]'
    )
    with opened(project) as log:
        with pytest.raises(SyndicateError):
            log.publish(policy(), actor="张三", urgent="即时施行")
        assert policy().id not in log.repository


# == config between submission and approval =========================================


def test_levels_renamed_between_submit_and_approve_need_a_resubmission(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        log.approve(ref, level=L1, content_hash=digest, actor="李四")
    project = set_review(project, TWO, 'levels = ["初审", "终审"]')
    with opened(project) as log:
        with pytest.raises(ReviewRefused, match="resubmit"):
            log.approve(ref, level=L2, content_hash=digest, actor="王五")
        with pytest.raises(InputError, match="not a review level"):
            log.approve(ref, level="终审", content_hash=digest, actor="王五")
        change = log.resubmit(ref, actor="张三")
        assert change.awaiting == "初审"
        log.approve(ref, level="初审", content_hash=digest, actor="李四")
        assert log.approve(
            ref, level="终审", content_hash=digest, actor="王五"
        ).released


def test_an_urgent_release_survives_renamed_levels(tmp_path: Path) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        urgent = log.get(ref).urgent
        assert urgent is not None
    project = set_review(project, TWO, 'levels = ["初审", "终审"]')
    with opened(project) as log:
        done = False
        for level in (L1, "初审"):
            try:
                log.approve_afterwards(
                    ref, level=level, content_hash=urgent.review_hash, actor="李四"
                )
            except SyndicateError:
                continue
            done = True
        assert done


def test_versions_under_review_have_a_way_out_when_review_is_switched_off(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
    project = set_review(project, TWO, "levels = []")
    with opened(project) as log:
        attempts: tuple[Callable[[], object], ...] = (
            lambda: log.approve(ref, level=L1, content_hash=digest, actor="李四"),
            lambda: log.resubmit(ref, actor="张三"),
            lambda: log.release(ref, actor="张三"),
        )
        outcomes = []
        for attempt in attempts:
            try:
                attempt()
            except SyndicateError as exc:
                outcomes.append(str(exc))
            else:
                outcomes.append("ok")
        assert "ok" in outcomes, outcomes


# == areas with review off ==========================================================

AREA_OFF = f'{TWO}\n\n[review.area."涉农补贴"]\nlevels = []'


def test_moving_a_draft_to_an_unreviewed_area_does_not_skip_review(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, AREA_OFF)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        moved = log.revise(
            ref, content(area="涉农补贴", body="一"), reason="r", actor="张三"
        )
        assert not moved.released  # the first move is submitted at the old levels
        again = log.revise(
            ref, content(area="涉农补贴", body="未经审核"), reason="r", actor="张三"
        )
        assert not again.released
        assert log.get(ref).status is ItemStatus.PENDING


def test_a_draft_moved_to_an_unreviewed_area_can_be_approved(tmp_path: Path) -> None:
    project = make_home(tmp_path, AREA_OFF)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        log.revise(ref, content(area="涉农补贴", body="一"), reason="r", actor="张三")
        assert approve_all(log, ref)


def test_a_released_item_moved_to_an_unreviewed_area_is_still_reviewed(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, AREA_OFF)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        approve_all(log, ref)
        for body in ("一", "二"):
            change = log.revise(
                ref, content(area="涉农补贴", body=body), reason="r", actor="张三"
            )
            assert not change.released
        assert log.get(ref).content.area == "social_assistance"
        assert approve_all(log, ref)


# == names in syndicate.toml ========================================================


def test_an_invisible_character_in_a_level_name_is_refused_cleanly(
    tmp_path: Path,
) -> None:

    def load_and_publish() -> None:
        project = make_home(tmp_path, 'levels = ["审核\u200b"]')
        with opened(project) as log:
            log.publish(content(), actor="张三")

    with pytest.raises(SyndicateError):
        load_and_publish()


def test_a_level_name_as_written_in_the_config_can_be_approved(
    tmp_path: Path,
) -> None:
    level = "\uf9e1审"  # 李 (U+F9E1, a compatibility ideograph; NFC: U+674E)
    project = make_home(tmp_path, f'levels = ["{level}"]')
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        assert log.approve(ref, level=level, content_hash=digest, actor="李四").released


@pytest.mark.parametrize(
    "listed",
    ["李科长\u3000", "\uf9e1科长"],
    ids=["trailing-full-width-space", "compatibility-ideograph"],
)
def test_a_listed_reviewer_typing_the_listed_name_may_approve(
    tmp_path: Path, listed: str
) -> None:
    project = make_home(
        tmp_path, f'levels = ["审核"]\n[review.reviewers]\n"审核" = ["{listed}"]'
    )
    with opened(project) as log:
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        assert log.approve(
            ref, level="审核", content_hash=digest, actor=listed
        ).released


# == urgent releases ================================================================


def test_an_urgent_withdrawal_is_removed_at_once_and_approved_afterwards(
    tmp_path: Path,
) -> None:
    outlets = '\n[outlets.archive]\nkind = "directory"\npath = "out"\n'
    project = make_home(tmp_path, TWO, outlets)
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        log = engine.items
        ref = log.publish(content(), actor="张三").ref
        live = pending_hash(log, ref)
        approve_all(log, ref)
        engine.sync()
        assert len(list((project.home / "out").iterdir())) == 1
        change = log.withdraw(
            ref, reason="预警解除", public_note="已撤回。", actor="张三", urgent="紧急"
        )
        assert change.released
        assert change.event == "UrgentlyReleased"
        engine.sync()
        assert list((project.home / "out").iterdir()) == []
        urgent = log.get(ref).urgent
        assert urgent is not None
        assert urgent.kind is ProposalKind.WITHDRAW
        assert urgent.content_hash == live
        with pytest.raises(ItemWithdrawn):
            log.revise(ref, content(body="复活"), reason="r", actor="张三")
        log.approve_afterwards(
            ref, level=L1, content_hash=urgent.review_hash, actor="李四"
        )
        log.approve_afterwards(
            ref, level=L2, content_hash=urgent.review_hash, actor="王五"
        )
        assert log.get(ref).urgent is None
        assert log.reviews(overdue=True) == []


def test_approval_afterwards_names_the_version_released_urgently(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, TWO)
    with opened(project) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        urgent = log.get(ref).urgent
        assert urgent is not None
        log.revise(ref, content(body="水位更新。"), reason="更新", actor="张三")
        later = pending_hash(log, ref)
        approve_all(log, ref)  # released normally since
        with pytest.raises(ReviewRefused, match="changed after you read it"):
            log.approve_afterwards(ref, level=L1, content_hash=later, actor="李四")
        log.approve_afterwards(
            ref, level=L1, content_hash=urgent.review_hash.upper(), actor="李四"
        )
        log.approve_afterwards(
            ref, level=L2, content_hash=urgent.review_hash, actor="王五"
        )
        assert log.get(ref).urgent is None


def test_a_pending_revision_does_not_hide_an_urgent_release(tmp_path: Path) -> None:
    clock = FixedClock()
    project = make_home(tmp_path, TWO)
    with opened(project, clock) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        log.revise(ref, content(body="错字"), reason="错字", actor="张三")
        clock.advance(hours=48)
        assert log.get(ref).urgent is not None
        [entry] = log.reviews(overdue=True)
        assert entry.overdue


def test_the_cli_approves_an_urgent_release_afterwards_while_a_revision_waits(
    tmp_path: Path,
) -> None:
    project = make_home(tmp_path, 'levels = ["审核"]')
    with opened(project) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        urgent = log.get(ref).urgent
        assert urgent is not None
        log.revise(ref, content(body="错字"), reason="错字", actor="张三")
    result = Cli(project.home)(
        "review", "approve-afterwards", ref, "--level", "审核",
        "--hash", urgent.review_hash, "--actor", "李四",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_second_urgent_release_does_not_erase_the_first(tmp_path: Path) -> None:
    clock = FixedClock()
    project = make_home(tmp_path, TWO)
    with opened(project, clock) as log:
        ref = log.publish(content(), actor="张三", urgent="汛情预警").ref
        log.revise(
            ref, content(body="水位更新。"), reason="更新", actor="张三", urgent="汛情"
        )
        clock.advance(hours=48)
        fold = ReviewFold()
        for _, event in log._events():
            fold.add(event)
        open_in_audit = [
            u for u in fold.stats(clock()).urgent if u.state in ("awaiting", "overdue")
        ]
        assert len(open_in_audit) == len(log.reviews(overdue=True))


# == public outlets ==================================================================

PUBLIC = """
[outlets.portal]
kind = "portal"
path = "out/portal"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"
site_id_code = "3301000001"

[outlets.feeds]
kind = "rss"
path = "out/feeds"
site_url = "https://www.linxi.gov.cn"

[outlets.kiosk]
kind = "kiosk"
path = "out/kiosk"

[outlets.board]
kind = "noticeboard"
path = "out/board"
portal_url = "https://www.linxi.gov.cn"
"""

LATE = """
[outlets.late-portal]
kind = "portal"
path = "out/late"
site_url = "https://www.linxi.gov.cn"
site_name = "临溪县人民政府"
site_id_code = "3301000001"

[outlets.desk]
kind = "webhook"
url = "http://127.0.0.1:9/review"
secret = "${S}"
internal = true
review_queue = true
allow_private_network = true
"""


def _everything(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_nothing_under_review_reaches_a_public_outlet_even_one_added_later(
    tmp_path: Path,
) -> None:
    """Portal pages and lists, RSS, the kiosk manifest, the noticeboard and a portal
    attached later (backfill) show released versions only: a pending revision's
    title, body, reason and return comment, a draft's title, a pending withdrawal's
    note and a returned version's comment appear nowhere."""
    project = make_home(tmp_path, TWO, PUBLIC)
    secrets = [
        "秘密标题甲",
        "秘密正文乙",
        "秘密原因丙",
        "退回意见丁",
        "草稿标题戊",
        "撤回说明己",
    ]
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        log = engine.items
        x = log.publish(content(), actor="张三").ref
        approve_all(log, x)
        y = log.publish(numbered(20, title="另一条"), actor="张三").ref
        approve_all(log, y)
        engine.sync()
        log.revise(
            x,
            content(title=secrets[0], body=secrets[1]),
            reason=secrets[2],
            actor="张三",
        )
        log.return_to_author(x, comment=secrets[3], actor="李四")
        log.publish(numbered(21, title=secrets[4]), actor="张三")
        log.withdraw(y, reason="撤", public_note=secrets[5], actor="张三")
        z = log.publish(numbered(22, title="第三条"), actor="张三").ref
        approve_all(log, z)  # re-renders every list and feed
        assert engine.sync().ok
    project.config_path.write_text(
        project.config_path.read_text("utf-8") + LATE, "utf-8"
    )
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        engine.sync()
        assert (project.home / "out" / "late").exists()
        planned = engine.deliveries.all_deliveries().values()
        desk = [d for d in planned if d.outlet == "desk"]
        assert desk == []  # a review queue attached later is backfilled with nothing
    shown = _everything(project.home / "out")
    assert b"\xe5\x8f\xa6\xe4\xb8\x80\xe6\x9d\xa1" in shown  # 另一条 is public
    for secret in secrets:
        assert secret.encode() not in shown, secret


def test_public_version_numbers_do_not_count_review_rounds(tmp_path: Path) -> None:
    outlets = PUBLIC.split("\n[outlets.feeds]")[0]
    project = make_home(tmp_path, TWO, outlets)
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        log = engine.items
        smooth = log.publish(content(), actor="张三").ref
        approve_all(log, smooth)
        rough = log.publish(numbered(20, title="另一条"), actor="张三").ref
        for _ in range(3):
            log.return_to_author(rough, comment="再改", actor="李四")
            log.resubmit(rough, actor="张三")
        approve_all(log, rough)
        engine.sync()
    labels = set()
    for page in (project.home / "out" / "portal").rglob("*.html"):
        labels |= set(re.findall(r"第 (\d+) 版", page.read_text("utf-8")))
    assert len(labels) == 1, labels  # both items: one release each


def test_a_review_queue_must_be_internal_and_of_a_notice_kind(tmp_path: Path) -> None:
    project = make_home(tmp_path, TWO)
    base = project.config_path.read_text("utf-8")
    cli = Cli(project.home)
    for table, said in (
        (
            'kind = "webhook"\nurl = "https://h.example/r"\nsecret = "${S}"\n',
            "set internal = true",
        ),
        (
            'kind = "portal"\npath = "out/p"\nsite_url = "https://a.example"\n'
            "internal = true\n",
            "portal outlets cannot take review notices",
        ),
        (
            'kind = "kiosk"\npath = "out/k"\ninternal = true\n',
            "kiosk outlets cannot take review notices",
        ),
    ):
        project.config_path.write_text(
            base + f"\n[outlets.q]\n{table}review_queue = true\n", "utf-8"
        )
        result = cli("outlets", "check")
        assert result.exit_code == 2, result.output
        assert said in result.stderr


def test_review_events_never_plan_a_public_delivery(tmp_path: Path) -> None:
    """Submitted, Approved, Returned, a resubmission and a replaced revision: no
    public delivery until the release, then exactly the released version."""
    outlets = '\n[outlets.archive]\nkind = "directory"\npath = "out"\n'
    project = make_home(tmp_path, TWO, outlets)
    with Engine.open(project.home, environ={"S": SECRET}) as engine:
        log = engine.items
        ref = log.publish(content(), actor="张三").ref
        digest = pending_hash(log, ref)
        log.approve(ref, level=L1, content_hash=digest, actor="李四")
        log.return_to_author(ref, comment="改", actor="王五")
        log.resubmit(ref, actor="张三")
        log.revise(ref, content(body="终稿。"), reason="r", actor="张三")
        engine.plan()
        assert engine.deliveries.all_deliveries() == {}
        assert approve_all(log, ref)
        engine.plan()
        [delivery] = engine.deliveries.all_deliveries().values()
        item = log.get(ref, version=delivery.item_version)
        assert isinstance(item, DisclosureItem)
        assert item.content.body == "终稿。"
        assert delivery.operation == "publish"
