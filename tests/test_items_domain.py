"""DisclosureItem rules with plain values: no store involved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicate.domain.content import content_hash
from syndicate.domain.items import DisclosureItem, ItemStatus
from syndicate.errors import InputError, ItemWithdrawn, NothingChanged
from tests.conftest import content

T0 = datetime(2026, 10, 9, 1, 30, tzinfo=UTC)
T1 = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)


def published() -> DisclosureItem:
    return DisclosureItem.publish(content(), actor="张三", at=T0)


def test_publish_is_version_one_with_actor_hash_and_stable_topic() -> None:
    item = published()
    [event] = item.pending_events
    assert isinstance(event, DisclosureItem.Published)
    assert event.originator_version == 1
    assert event.actor == "张三"
    assert event.timestamp == T0
    assert event.content_hash == content_hash(content())
    assert type(event).TOPIC == "syndicate.DisclosureItem.Published"
    assert item.id == content().id
    assert item.status is ItemStatus.PUBLISHED


def test_revision_records_reason_actor_and_new_hash() -> None:
    item = published()
    item.revise(content(title="更正后的标题"), reason="更正标题", actor="李四", at=T1)
    event = item.pending_events[-1]
    assert isinstance(event, DisclosureItem.Revised)
    assert (event.originator_version, event.reason, event.actor) == (
        2,
        "更正标题",
        "李四",
    )
    assert item.content.title == "更正后的标题"
    assert [h.event for h in item.history] == ["Published", "Revised"]
    assert item.history[1].reason == "更正标题"


def test_identical_revision_is_refused_as_nothing_changed() -> None:
    item = published()
    with pytest.raises(NothingChanged, match="nothing changed"):
        item.revise(content(), reason="再次保存", actor="张三", at=T1)
    assert len(item.pending_events) == 1


def test_revision_cannot_change_identity() -> None:
    item = published()
    with pytest.raises(InputError) as info:
        item.revise(content(index_no="OTHER/2026-1"), reason="x", actor="张三", at=T1)
    assert [p.field for p in info.value.problems] == ["index_no"]


def test_reason_and_actor_must_not_be_blank() -> None:
    item = published()
    with pytest.raises(InputError, match="reason: must not be empty"):
        item.revise(content(title="新"), reason="  ", actor="张三", at=T1)
    with pytest.raises(InputError, match="actor: must not be empty"):
        item.withdraw(reason="r", actor="", at=T1)
    with pytest.raises(InputError, match="actor"):
        DisclosureItem.publish(content(), actor="\n", at=T0)


def test_withdrawn_item_cannot_be_revised_or_withdrawn_again() -> None:
    item = published()
    item.withdraw(reason="信息有误", public_note="该信息已撤回。", actor="张三", at=T1)
    assert item.status is ItemStatus.WITHDRAWN
    assert item.withdrawal is not None
    assert item.withdrawal.public_note == "该信息已撤回。"
    with pytest.raises(ItemWithdrawn, match="cannot revise"):
        item.revise(content(title="新"), reason="x", actor="张三", at=T1)
    with pytest.raises(ItemWithdrawn, match="cannot withdraw"):
        item.withdraw(reason="again", actor="张三", at=T1)
    assert len(item.pending_events) == 2
