"""先审后发 in the library: the domain rules, the items log, and what the planner plans."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from syndicate.application import Disclosures
from syndicate.domain.content import content_hash
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.domain.review import ReviewPolicy
from syndicate.errors import (
    ConflictError,
    InputError,
    ItemWithdrawn,
    NothingChanged,
    ReviewRefused,
)
from syndicate.outlets import load_outlets
from syndicate.outletset import OutletSet
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import FixedClock
from tests.conftest import content

TWO_LEVELS = ReviewPolicy.of(
    [("科室初审", ["李四", "赵六"]), ("分管领导审签", ["王五", "赵六"])]
)
POLICY = content(
    index_no="11330100MB0000006R/2026-00050",
    title="临溪县城乡居民最低生活保障实施细则",
    category="行政规范性文件",
)


@pytest.fixture
def review_project(project: Project) -> Project:
    """The parametrised project with two review levels and named reviewers."""
    config = project.config_path
    config.write_text(
        config.read_text("utf-8").replace(
            "levels = []", 'levels = ["科室初审", "分管领导审签"]'
        )
        + '\n[review.reviewers]\n"科室初审" = ["李四", "赵六"]\n'
        '"分管领导审签" = ["王五", "赵六"]\n',
        "utf-8",
    )
    return Project.load(project.home, environ=dict(project._environ))


@pytest.fixture
def log(review_project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    with review_project.disclosures(clock=clock) as items:
        yield items


def approve_all(
    log: Disclosures, ref: str, *, first: str = "李四", second: str = "王五"
) -> None:
    digest = log.get(ref).pending.review_hash  # type: ignore[union-attr]
    log.approve(ref, level="科室初审", content_hash=digest, actor=first)
    log.approve(ref, level="分管领导审签", content_hash=digest, actor=second)


# -- configuration ---------------------------------------------------------------------


def test_the_home_config_is_the_policy(review_project: Project) -> None:
    rules = review_project.review.rules_for(content())
    assert rules.names == ("科室初审", "分管领导审签")
    assert rules.level("科室初审").reviewers == {"李四", "赵六"}  # type: ignore[union-attr]
    assert review_project.review.configured
    assert review_project.review.on


def test_a_home_without_a_review_table_is_off_and_says_so(tmp_path: Path) -> None:
    project, _ = Project.init(tmp_path / "h", environ={}, keys=False)
    text = project.config_path.read_text("utf-8")
    assert 'levels = ["审核"]' in text  # init writes one level by default
    project.config_path.write_text(text.split("[review]")[0], "utf-8")
    bare = Project.load(project.home, environ={})
    assert not bare.review.on
    assert not bare.review.configured


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[review]\nlevels = ["甲", "甲"]\n', "review.levels[1]: '甲' is listed twice"),
        ('[review]\nlevels = ["甲", ""]\n', "review.levels[1]: must be a level name"),
        ('[review]\nlevels = ["甲"]\ncolour = 1\n', "unknown key(s) colour"),
        (
            '[review]\nlevels = ["甲"]\n[review.reviewers]\n"乙" = ["x"]\n',
            "review.reviewers: '乙' is not a level",
        ),
        ("[review]\nallow_self_review = true\n", "review.levels: missing"),
        (
            '[review]\nlevels = ["甲"]\n[review.area."火星"]\nlevels = []\n',
            "review.area",
        ),
        (
            '[review]\nlevels = ["甲"]\nurgent_review_hours = 0\n',
            "review.urgent_review_hours",
        ),
    ],
)
def test_bad_review_tables_name_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    from syndicate.errors import ConfigurationError

    home = tmp_path / "h"
    home.mkdir()
    (home / "syndicate.toml").write_text('[store]\nurl = "sqlite"\n' + table, "utf-8")
    with pytest.raises(ConfigurationError, match=None) as caught:
        Project.load(home, environ={})
    assert message in str(caught.value)


def test_overrides_by_agency_win_over_area(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "syndicate.toml").write_text(
        '[store]\nurl = "sqlite"\n[review]\nlevels = ["初审", "终审"]\n'
        '[review.area."社会救助"]\nlevels = ["初审"]\nrequires_interpretation = ["行政规范性文件"]\n'
        '[review.agency."临溪县民政局"]\nlevels = []\n',
        "utf-8",
    )
    policy = Project.load(home, environ={}).review
    assert policy.rules_for(content()).names == ()
    other = content(agency="临溪县财政局")
    assert policy.rules_for(other).names == ("初审",)
    assert policy.rules_for(other).requires_interpretation == {"行政规范性文件"}
    assert policy.rules_for(
        content(agency="临溪县财政局", area="财政预决算")
    ).names == (
        "初审",
        "终审",
    )


# -- the items log ---------------------------------------------------------------------


def test_publish_submits_and_approvals_release_in_order(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    assert (change.event, change.released, change.awaiting) == (
        "Submitted",
        False,
        "科室初审",
    )
    item = log.get(change.item_id)
    assert item.status is ItemStatus.PENDING
    assert item.public_version == 0
    digest = item.pending.content_hash  # type: ignore[union-attr]
    assert digest == content_hash(content())
    # the second level cannot go first
    with pytest.raises(ReviewRefused, match="comes after '科室初审'"):
        log.approve(change.ref, level="分管领导审签", content_hash=digest, actor="王五")
    first = log.approve(change.ref, level="科室初审", content_hash=digest, actor="李四")
    assert (first.event, first.released, first.awaiting) == (
        "Approved",
        False,
        "分管领导审签",
    )
    last = log.approve(
        change.ref, level="分管领导审签", content_hash=digest, actor="王五"
    )
    assert (last.event, last.released) == ("Released", True)
    item = log.get(change.item_id)
    assert item.status is ItemStatus.PUBLISHED
    assert item.public_version == last.version
    assert [r.event for r in item.history] == ["Published"]
    assert item.history[0].actor == "张三"
    assert [r.event for r in item.reviews] == [
        "Drafted",
        "Submitted",
        "Approved",
        "Approved",
        "Released",
    ]


def test_refusals_name_the_problem_and_write_nothing(log: Disclosures) -> None:
    ref = log.publish(content(), actor="张三").ref
    digest = log.get(ref).pending.content_hash  # type: ignore[union-attr]
    before = log.position()
    cases: list[tuple[type[Exception], str, dict[str, str]]] = [
        (ReviewRefused, "is not the pending version", {"content_hash": "0" * 64}),
        (InputError, "content_hash: must be the 64 hex", {"content_hash": "abc"}),
        (InputError, "'终审' is not a review level", {"level": "终审"}),
        (ReviewRefused, "not a reviewer at level '科室初审'", {"actor": "王五"}),
        (ReviewRefused, "submitted this version", {"actor": "张三"}),
    ]
    for error, message, override in cases:
        args = {
            "level": "科室初审",
            "content_hash": digest,
            "actor": "李四",
            **override,
        }
        with pytest.raises(error, match=message):
            log.approve(
                ref,
                level=args["level"],
                content_hash=args["content_hash"],
                actor=args["actor"],
            )
    log.approve(ref, level="科室初审", content_hash=digest, actor="赵六")
    with pytest.raises(ConflictError, match="approved already by 赵六"):
        log.approve(ref, level="科室初审", content_hash=digest, actor="李四")
    with pytest.raises(ReviewRefused, match="cannot approve two levels"):
        log.approve(ref, level="分管领导审签", content_hash=digest, actor="赵六")
    with pytest.raises(InputError, match="comment"):
        log.return_to_author(ref, comment="  ", actor="王五")
    with pytest.raises(InputError, match="reason: must not be empty"):
        log.release_urgently(ref, reason="", actor="张三")
    assert log.position() == before + 1  # only 赵六's approval


def test_self_review_only_when_allowed(
    review_project: Project, clock: FixedClock
) -> None:
    policy = ReviewPolicy.of(["审核"], allow_self_review=True)
    with review_project.disclosures(clock=clock) as base:
        log = Disclosures(base.env, clock=clock, review=policy)
        ref = log.publish(content(), actor="张三").ref
        digest = log.get(ref).pending.content_hash  # type: ignore[union-attr]
        assert log.approve(
            ref, level="审核", content_hash=digest, actor="张三"
        ).released


def test_a_stale_approval_never_releases_changed_content(log: Disclosures) -> None:
    ref = log.publish(content(), actor="张三").ref
    read = log.get(ref).pending.content_hash  # type: ignore[union-attr]
    log.revise(ref, content(body="改过的正文。"), reason="补充", actor="张三")
    with pytest.raises(ReviewRefused, match="changed after you read it"):
        log.approve(ref, level="科室初审", content_hash=read, actor="李四")
    item = log.get(ref)
    assert item.pending.content.body == "改过的正文。"  # type: ignore[union-attr]
    assert item.status is ItemStatus.PENDING


def test_return_then_revise_resubmits_from_the_first_level(log: Disclosures) -> None:
    ref = log.publish(content(), actor="张三").ref
    digest = log.get(ref).pending.content_hash  # type: ignore[union-attr]
    log.approve(ref, level="科室初审", content_hash=digest, actor="李四")
    returned = log.return_to_author(ref, comment="人数写错了", actor="王五")
    assert returned.event == "Returned"
    with pytest.raises(ReviewRefused, match="returned to its author"):
        log.approve(ref, level="分管领导审签", content_hash=digest, actor="王五")
    entry = log.reviews()[0]
    assert entry.state == "returned"
    assert entry.returned.comment == "人数写错了"  # type: ignore[union-attr]
    again = log.revise(
        ref, content(body="新增农村低保对象47户74人。"), reason="改人数", actor="张三"
    )
    assert again.awaiting == "科室初审"
    approve_all(log, ref)
    item = log.get(ref)
    assert item.content.body == "新增农村低保对象47户74人。"
    assert [r.event for r in item.history] == ["Published"]  # one public version


def test_a_revision_leaves_the_released_version_until_released(
    log: Disclosures,
) -> None:
    ref = log.publish(content(), actor="张三").ref
    approve_all(log, ref)
    released = log.get(ref)
    log.revise(ref, content(title="更正后的标题"), reason="标题有误", actor="张三")
    item = log.get(ref)
    assert item.content.title == released.content.title
    assert item.public_version == released.public_version
    assert item.pending.kind.value == "revise"  # type: ignore[union-attr]
    with pytest.raises(NothingChanged):
        log.revise(ref, content(title="更正后的标题"), reason="again", actor="张三")
    detail = log.review(ref)
    assert "-title = 临溪县2026年第一季度城乡最低生活保障审批结果公告" in detail.diff
    assert "+title = 更正后的标题" in detail.diff
    approve_all(log, ref)
    item = log.get(ref)
    assert item.content.title == "更正后的标题"
    assert [(r.event, r.reason) for r in item.history] == [
        ("Published", None),
        ("Revised", "标题有误"),
    ]


def test_withdrawal_is_reviewed_unless_configured_otherwise(
    log: Disclosures, clock: FixedClock
) -> None:
    ref = log.publish(content(), actor="张三").ref
    approve_all(log, ref)
    change = log.withdraw(ref, reason="信息有误", public_note="已撤回。", actor="张三")
    assert not change.released
    assert log.get(ref).status is ItemStatus.PUBLISHED
    approve_all(log, ref)
    item = log.get(ref)
    assert item.status is ItemStatus.WITHDRAWN
    assert item.withdrawal.public_note == "已撤回。"  # type: ignore[union-attr]
    with pytest.raises(ItemWithdrawn):
        log.revise(ref, content(body="x"), reason="r", actor="张三")
    fast = Disclosures(
        log.env,
        clock=clock,
        review=ReviewPolicy.of(["审核"], withdraw_needs_review=False),
    )
    other = fast.publish(
        content(index_no="11330100MB0000006R/2026-00077"), actor="张三"
    ).ref
    fast.approve(
        other,
        level="审核",
        content_hash=fast.get(other).content_hash,
        actor="李四",
    )
    assert fast.withdraw(other, reason="错", actor="张三").released


def test_a_draft_is_abandoned_at_once(log: Disclosures) -> None:
    ref = log.publish(content(), actor="张三").ref
    change = log.withdraw(ref, reason="不发了", actor="张三")
    assert change.event == "Withdrawn"
    item = log.get(ref)
    assert item.status is ItemStatus.WITHDRAWN
    assert item.history == []
    assert log.reviews() == []


def test_urgent_release_and_approval_afterwards(
    log: Disclosures, clock: FixedClock
) -> None:
    change = log.publish(content(), actor="张三", urgent="汛情预警")
    assert (change.event, change.released) == ("UrgentlyReleased", True)
    item = log.get(change.ref)
    assert item.status is ItemStatus.PUBLISHED
    assert log.reviews() == []
    [entry] = log.reviews(overdue=True)
    assert entry.state == "urgent"
    assert entry.reason == "汛情预警"
    assert not entry.overdue
    assert entry.due == item.urgent.at + timedelta(hours=24)  # type: ignore[union-attr]
    clock.advance(hours=25)
    assert log.reviews(overdue=True)[0].overdue
    digest = item.content_hash
    with pytest.raises(ReviewRefused, match="submitted this version"):
        log.approve_afterwards(
            change.ref, level="科室初审", content_hash=digest, actor="张三"
        )
    log.approve_afterwards(
        change.ref, level="科室初审", content_hash=digest, actor="李四"
    )
    log.approve_afterwards(
        change.ref, level="分管领导审签", content_hash=digest, actor="王五"
    )
    assert log.get(change.ref).urgent is None
    assert log.reviews(overdue=True) == []


def test_two_reviewers_at_once_one_wins(log: Disclosures) -> None:
    ref = log.publish(content(), actor="张三").ref
    digest = log.get(ref).pending.content_hash  # type: ignore[union-attr]
    results: list[object] = []
    barrier = threading.Barrier(2)
    original = log._load

    def slow_load(ref_: str | UUID, expected: int | None) -> DisclosureItem:
        item = original(ref_, expected)
        barrier.wait(timeout=10)
        return item

    log._load = slow_load  # type: ignore[method-assign,assignment]

    def act(who: str) -> None:
        try:
            results.append(
                log.approve(ref, level="科室初审", content_hash=digest, actor=who)
            )
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=act, args=(w,)) for w in ("李四", "赵六")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(conflicts) == 1
    assert "was not saved: another change" in str(conflicts[0])
    assert len(log.get(ref).pending.approvals) == 1  # type: ignore[union-attr]


# -- bundles -----------------------------------------------------------------------------


def interpretation(policy_id: object, n: int = 51) -> object:
    return content(
        index_no=f"11330100MB0000006R/2026-000{n}",
        title="《临溪县城乡居民最低生活保障实施细则》政策解读",
        interprets=str(policy_id),
    )


def test_a_policy_and_its_interpretation_are_released_together(
    log: Disclosures,
) -> None:
    policy = log.publish(POLICY, actor="张三")
    reading = log.publish(interpretation(policy.item_id), actor="张三")  # type: ignore[arg-type]
    [entry] = log.reviews()
    assert entry.ref == policy.ref
    assert [m.ref for m in entry.members] == [reading.ref]
    approve_all(log, policy.ref)
    assert log.get(policy.ref).status is ItemStatus.PENDING  # waits for its 解读
    assert log.reviews()[0].state == "approved"
    with pytest.raises(ReviewRefused, match="released together"):
        log.release_urgently(reading.ref, reason="快", actor="张三")
    approve_all(log, reading.ref)
    p, r = log.get(policy.ref), log.get(reading.ref)
    assert p.status is r.status is ItemStatus.PUBLISHED
    events = list(log.read_log())
    released = [e for e in events if e.event == "Released"]
    assert [e.item_id for e in released] == [policy.item_id, reading.item_id]
    # one transaction: the policy's release, the 解读's last approval and its release
    tail = [(e.event, e.item_id) for e in events if e.position >= released[0].position]
    assert tail == [
        ("Released", policy.item_id),
        ("Approved", reading.item_id),
        ("Released", reading.item_id),
    ]


def test_a_policy_that_needs_an_interpretation_waits_for_one(
    review_project: Project, clock: FixedClock
) -> None:
    policy = ReviewPolicy.of(["审核"], requires_interpretation=["行政规范性文件"])
    with review_project.disclosures(clock=clock) as base:
        log = Disclosures(base.env, clock=clock, review=policy)
        ref = log.publish(POLICY, actor="张三").ref
        digest = log.get(ref).pending.content_hash  # type: ignore[union-attr]
        change = log.approve(ref, level="审核", content_hash=digest, actor="李四")
        assert not change.released
        assert log.get(ref).status is ItemStatus.PENDING
        reading = log.publish(interpretation(change.item_id), actor="张三")  # type: ignore[arg-type]
        digest = log.get(reading.ref).pending.content_hash  # type: ignore[union-attr]
        assert log.approve(
            reading.ref, level="审核", content_hash=digest, actor="李四"
        ).released
        assert log.get(ref).status is ItemStatus.PUBLISHED


# -- planning ----------------------------------------------------------------------------


OUTLETS = """
[outlets.archive]
kind = "directory"
path = "outlets/archive"

[outlets.queue]
kind = "webhook"
url = "http://127.0.0.1:9/review"
secret = "${HOOK_SECRET}"
internal = true
review_queue = true
allow_private_network = true
"""


@pytest.fixture
def planner(
    review_project: Project, log: Disclosures, clock: FixedClock
) -> Iterator[Deliveries]:
    outlets = load_outlets(
        __import__("tomllib").loads(OUTLETS)["outlets"],
        Registry.from_entry_points(),
        home=review_project.home,
        environ={"HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    )
    with review_project.deliveries(log, clock=clock, outlets=outlets) as deliveries:
        yield deliveries


def planned(planner: Deliveries) -> list[tuple[str, int, str, str]]:
    planner.plan()
    return sorted(
        (d.outlet, d.item_version, d.operation, str(d.item_id)[:8])
        for d in planner.all_deliveries().values()
    )


def test_public_outlets_get_released_versions_only(
    planner: Deliveries, log: Disclosures
) -> None:
    ref = log.publish(content(), actor="张三").ref
    item_id = str(log.get(ref).id)[:8]
    assert planned(planner) == [("queue", 2, "review_notice", item_id)]
    approve_all(log, ref)
    assert ("archive", 5, "publish", item_id) in planned(planner)
    log.revise(ref, content(body="第二版。"), reason="更正", actor="张三")
    rows = planned(planner)
    assert [r for r in rows if r[0] == "archive"] == [
        ("archive", 5, "publish", item_id)
    ]
    approve_all(log, ref)
    rows = planned(planner)
    assert ("archive", 9, "update", item_id) in rows
    notices = [r[1] for r in rows if r[0] == "queue"]
    assert notices == [
        2,
        3,
        5,
        6,
        7,
        9,
    ]  # submitted, approved (next: L2), released; twice


def test_review_notices_render_what_is_under_review(
    planner: Deliveries, log: Disclosures, review_project: Project
) -> None:
    ref = log.publish(content(), actor="张三").ref
    log.return_to_author(ref, comment="附件缺失", actor="李四")
    planner.plan()
    notices = sorted(
        (d for d in planner.all_deliveries().values() if d.outlet == "queue"),
        key=lambda d: d.item_version,
    )
    with OutletSet(
        planner.outlets, items=log, deliveries=planner, attachments=None
    ) as outlets:
        jobs = [outlets.job(d) for d in notices]
    assert [j.review.label for j in jobs] == ["待审核", "已退回"]  # type: ignore[union-attr]
    assert jobs[1].review.comment == "附件缺失"  # type: ignore[union-attr]
    assert jobs[0].review.level == "科室初审"  # type: ignore[union-attr]


def test_a_bundle_is_planned_at_its_last_release(
    planner: Deliveries, log: Disclosures
) -> None:
    policy = log.publish(POLICY, actor="张三")
    reading = log.publish(interpretation(policy.item_id), actor="张三")  # type: ignore[arg-type]
    approve_all(log, policy.ref)
    planner.plan()
    public = [d for d in planner.all_deliveries().values() if d.outlet == "archive"]
    assert public == []
    approve_all(log, reading.ref)
    planner.plan()
    public = [d for d in planner.all_deliveries().values() if d.outlet == "archive"]
    assert {d.item_id for d in public} == {policy.item_id, reading.item_id}
    assert len({d.position for d in public}) == 1


def test_whole_set_jobs_never_list_unreleased_items(
    planner: Deliveries, log: Disclosures
) -> None:
    first = log.publish(content(), actor="张三").ref
    approve_all(log, first)
    log.publish(
        content(index_no="11330100MB0000006R/2026-00088", title="草稿"), actor="张三"
    )
    log.revise(first, content(title="未审核的新标题"), reason="r", actor="张三")
    planner.plan()
    delivery = next(
        d for d in planner.all_deliveries().values() if d.outlet == "archive"
    )
    with OutletSet(
        planner.outlets, items=log, deliveries=planner, attachments=None
    ) as outlets:
        job = outlets.job(delivery)
        every = [job.item, *log.live_items(log.position())]
    assert job.item.content.title == content().title
    assert all(
        getattr(i, "status", ItemStatus.PUBLISHED) is ItemStatus.PUBLISHED
        for i in every[1:]
    )
    assert [i[0].content.title for i in log.live_items(log.position())] == [
        content().title
    ]


def test_an_approved_policy_is_released_once_its_draft_interpretation_goes(
    log: Disclosures,
) -> None:
    policy = log.publish(POLICY, actor="张三")
    reading = log.publish(interpretation(policy.item_id), actor="张三")  # type: ignore[arg-type]
    approve_all(log, policy.ref)
    with pytest.raises(ReviewRefused, match="not approved yet"):
        log.release(policy.ref, actor="王五")
    log.return_to_author(reading.ref, comment="解读太长", actor="李四")
    log.withdraw(reading.ref, reason="改用图解", actor="张三")  # a draft: at once
    change = log.release(policy.ref, actor="王五")
    assert change.released
    assert log.get(policy.ref).status is ItemStatus.PUBLISHED


def test_a_policy_and_its_interpretation_released_urgently_together_are_one_bundle(
    planner: Deliveries, log: Disclosures
) -> None:
    policy_id = POLICY.id
    changes = log.publish_many(
        [POLICY, interpretation(policy_id)],  # type: ignore[list-item]
        actor="张三",
        urgent="防汛政策，即时施行",
    )
    assert [c.event for c in changes] == ["UrgentlyReleased", "UrgentlyReleased"]
    first = log.get(changes[0].item_id)
    assert first.status is ItemStatus.PUBLISHED
    planner.plan()
    public = [d for d in planner.all_deliveries().values() if d.outlet == "archive"]
    assert {d.item_id for d in public} == {c.item_id for c in changes}
    assert {d.position for d in public} == {changes[1].position}
