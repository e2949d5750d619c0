"""The items log on a real store: every rule runs on SQLite files and on PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from syndicate.application import Disclosures
from syndicate.attachments import PreparedAttachment
from syndicate.domain.content import ItemContent, content_hash
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.errors import (
    AlreadyPublished,
    ConflictError,
    InputError,
    InterpretedItemMissing,
    ItemNotFound,
    ItemWithdrawn,
    NothingChanged,
)
from syndicate.project import Project
from syndicate.testing import FixedClock, log_snapshot
from tests.conftest import content

POLICY = content(
    agency="临溪县住房和城乡建设局",
    index_no="11330100MB0000003P/2026-00008",
    title="临溪县2026年农村危房改造实施方案",
    area="农村危房改造",
    stage="决策公开",
)
INTERPRETATION = content(
    agency="临溪县住房和城乡建设局",
    index_no="11330100MB0000003P/2026-00009",
    title="实施方案政策解读",
    area="农村危房改造",
    stage="决策公开",
    interprets="临溪县住房和城乡建设局/11330100MB0000003P/2026-00008",
)


@pytest.fixture
def log(project: Project, clock: FixedClock) -> Iterator[Disclosures]:
    with project.disclosures(clock=clock) as disclosures:
        yield disclosures


def test_publish_appends_one_event_at_version_one(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    assert change.version == 1
    assert change.event == "Published"
    assert change.position == log.position() == 1
    assert change.item_id == content().id
    item = log.get(change.item_id)
    assert item.content == content()
    assert item.content_hash == content_hash(content())
    assert item.history[0].actor == "张三"


def test_publishing_twice_fails_clearly_and_leaves_the_log_unchanged(
    log: Disclosures,
) -> None:
    log.publish(content(), actor="张三")
    before = log_snapshot(log)
    with pytest.raises(AlreadyPublished, match="already published: 临溪县民政局/"):
        log.publish(content(title="换个标题再发一次"), actor="李四")
    assert log_snapshot(log) == before


def test_a_withdrawn_index_number_is_never_reused(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    log.withdraw(change.item_id, reason="信息有误", actor="张三")
    with pytest.raises(AlreadyPublished, match="never reused"):
        log.publish(content(), actor="张三")


def test_revise_and_withdraw_each_add_an_event(
    log: Disclosures, clock: FixedClock
) -> None:
    first = log.publish(content(), actor="张三")
    clock.advance(hours=1)
    second = log.revise(
        first.item_id, content(body="更正后的正文"), reason="更正人数", actor="李四"
    )
    clock.advance(hours=1)
    third = log.withdraw(
        "临溪县民政局/11330100MB0000006R/2026-00019",
        reason="数据待复核",
        public_note="该公告已撤回，复核后重新发布。",
        actor="王五",
    )
    assert (second.version, third.version) == (2, 3)
    rows = list(log.read_log())
    assert [(r.position, r.event, r.version, r.actor) for r in rows] == [
        (1, "Published", 1, "张三"),
        (2, "Revised", 2, "李四"),
        (3, "Withdrawn", 3, "王五"),
    ]
    assert rows[1].reason == "更正人数"
    assert rows[2].timestamp == clock.now
    item = log.get(first.item_id)
    assert item.status is ItemStatus.WITHDRAWN
    assert log.get(first.item_id, version=1).content.body == content().body
    assert log.get(first.item_id, version=2).content.body == "更正后的正文"


def test_refused_commands_never_change_the_log(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    before = log_snapshot(log)
    with pytest.raises(NothingChanged):
        log.revise(change.item_id, content(), reason="原样保存", actor="张三")
    with pytest.raises(InputError):
        log.revise(change.item_id, content(body="新"), reason=" ", actor="张三")
    with pytest.raises(InputError):
        log.revise(
            change.item_id, content(index_no="X/2026-1"), reason="r", actor="张三"
        )
    with pytest.raises(ItemNotFound):
        log.withdraw("临溪县民政局/不存在/2026-1", reason="r", actor="张三")
    with pytest.raises(InputError, match="formed_on"):
        log.revise(
            change.item_id, content(formed_on="2099-01-01"), reason="r", actor="张三"
        )
    log.withdraw(change.item_id, reason="撤回", actor="张三")
    after_withdrawal = log_snapshot(log)
    with pytest.raises(ItemWithdrawn):
        log.revise(change.item_id, content(body="新"), reason="r", actor="张三")
    with pytest.raises(ItemWithdrawn):
        log.withdraw(change.item_id, reason="again", actor="张三")
    assert log_snapshot(log)[: len(before)] == before
    assert log_snapshot(log) == after_withdrawal


def test_concurrent_revisions_one_wins_the_other_gets_a_conflict(
    project: Project, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        project.disclosures(clock=clock) as alice,
        project.disclosures(clock=clock) as bob,
    ):
        item = alice.publish(content(), actor="alice").item_id
        mine = content(body="alice 的更正")
        theirs = content(body="bob 的更正")
        # Interleave deterministically: bob reads version 1, then alice saves version 2
        # before bob saves. Both writers go through the real store.
        original_load = bob._load

        def load_then_let_alice_win(ref: str | UUID, expected: int | None) -> object:
            loaded = original_load(ref, expected)
            alice.revise(item, mine, reason="alice 更正", actor="alice")
            return loaded

        monkeypatch.setattr(bob, "_load", load_then_let_alice_win)
        with pytest.raises(ConflictError) as info:
            bob.revise(item, theirs, reason="bob 更正", actor="bob")
        message = str(info.value)
        assert "was not saved" in message
        assert "version 2" in message
        assert "by alice" in message
        monkeypatch.undo()
        # Nothing lost: alice's revision is stored whole; bob can retry on top of it.
        assert alice.get(item).content.body == "alice 的更正"
        assert [r.actor for r in alice.read_log()] == ["alice", "alice"]
        retry = bob.revise(item, theirs, reason="bob 更正", actor="bob")
        assert retry.version == 3
        assert alice.get(item).content.body == "bob 的更正"


def test_expected_version_guards_against_unseen_changes(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    log.revise(change.item_id, content(body="v2"), reason="r", actor="李四")
    with pytest.raises(ConflictError, match="at version 2, not 1"):
        log.revise(
            change.item_id,
            content(body="v3"),
            reason="r",
            actor="张三",
            expected_version=1,
        )
    assert log.get(change.item_id).version == 2


def test_interpretation_needs_its_policy(log: Disclosures) -> None:
    with pytest.raises(InterpretedItemMissing, match="publish it first"):
        log.publish(INTERPRETATION, actor="张三")
    assert log.position() == 0
    changes = log.publish_many([INTERPRETATION, POLICY], actor="张三")
    assert [c.version for c in changes] == [1, 1]
    assert log.get(INTERPRETATION.id).content.interprets == POLICY.id


def test_interpretation_of_a_withdrawn_policy_is_refused(log: Disclosures) -> None:
    log.publish(POLICY, actor="张三")
    log.withdraw(POLICY.id, reason="废止", actor="张三")
    with pytest.raises(InterpretedItemMissing, match="withdrawn"):
        log.publish(INTERPRETATION, actor="张三")


def test_batch_publish_is_all_or_nothing(log: Disclosures) -> None:
    log.publish(POLICY, actor="张三")
    before = log_snapshot(log)
    with pytest.raises(AlreadyPublished):
        log.publish_many([content(), POLICY], actor="张三")
    assert log_snapshot(log) == before
    with pytest.raises(InputError, match="twice in one batch"):
        log.publish_many([content(), content()], actor="张三")
    assert log_snapshot(log) == before


def test_attachments_are_stored_content_addressed(
    log: Disclosures, project: Project, tmp_path: Path
) -> None:
    source = tmp_path / "名单.csv"
    source.write_text("户主,面积\n王*明,6.20\n", "utf-8")
    prepared = PreparedAttachment.from_file(source)
    item = content(attachments=[prepared.meta.model_dump()])
    log.publish(item, actor="张三", attachments=[prepared])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    stored = project.attachments.path_of(digest)
    assert stored == project.store.data_dir / "attachments" / digest[:2] / digest
    assert stored.read_bytes() == source.read_bytes()
    meta = log.get(item.id).content.attachments[0]
    assert (meta.name, meta.media_type, meta.size, meta.sha256) == (
        "名单.csv",
        "text/csv",
        source.stat().st_size,
        digest,
    )
    # The event keeps metadata only, never the bytes.
    assert all(b"6.20" not in state for _, _, state in log_snapshot(log))


def test_content_naming_an_unknown_attachment_is_refused(log: Disclosures) -> None:
    ghost = {"name": "a.pdf", "media_type": "application/pdf", "size": 1}
    with pytest.raises(InputError, match=r"attachments\[0\]: no stored file"):
        log.publish(content(attachments=[{**ghost, "sha256": "b" * 64}]), actor="张三")
    assert log.position() == 0


def test_refs_resolve_by_id_prefix_and_agency_index(log: Disclosures) -> None:
    change = log.publish(content(), actor="张三")
    assert log.resolve(str(change.item_id)) == change.item_id
    assert log.resolve(str(change.item_id)[:8]) == change.item_id
    assert log.resolve(change.ref) == change.item_id
    with pytest.raises(ItemNotFound):
        log.resolve("临溪县民政局/nope")
    with pytest.raises(ItemNotFound):
        log.resolve("00000000-0000-0000-0000-000000000000")
    with pytest.raises(InputError):
        log.resolve("not a ref")


def test_items_lists_current_state_with_filters(log: Disclosures) -> None:
    log.publish(content(), actor="张三")
    log.publish(POLICY, actor="张三")
    log.revise(
        POLICY.id,
        POLICY.model_copy(update={"title": "新标题"}),
        reason="r",
        actor="张三",
    )
    log.withdraw(content().id, reason="r", actor="张三")
    all_items = {s.id: s for s in log.items()}
    assert all_items[POLICY.id].title == "新标题"
    assert all_items[POLICY.id].version == 2
    assert all_items[content().id].status is ItemStatus.WITHDRAWN
    assert [s.id for s in log.items(area="social_assistance")] == [content().id]
    assert [s.id for s in log.items(status=ItemStatus.PUBLISHED)] == [POLICY.id]
    assert log.items(agency="nobody") == []


def test_log_pages_through_more_events_than_one_page(log: Disclosures) -> None:
    items: list[ItemContent] = [
        content(index_no=f"11330100MB0000006R/2026-{n:05d}") for n in range(1, 1201)
    ]
    log.publish_many(items, actor="批量")
    rows = list(log.read_log())
    assert [r.position for r in rows] == list(range(1, 1201))
    assert [r.position for r in log.read_log(after=1190)] == list(range(1191, 1201))
    assert len(list(log.read_log(limit=5))) == 5
    assert len(log.items()) == 1200


def test_events_are_pydantic_and_survive_a_reopen(
    project: Project, clock: FixedClock
) -> None:
    with project.disclosures(clock=clock) as log:
        log.publish(content(), actor="张三")
    with project.disclosures(clock=clock) as reopened:
        item = reopened.get(content().id)
        assert isinstance(item, DisclosureItem)
        assert item.content == content()
        assert item.created_on == clock.now
