"""The content model: what it accepts, how it normalises, what it refuses and how it says so."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from syndicate.domain.catalogue import (
    AREAS,
    DEFAULT_CHANNELS,
    Attribute,
    ChannelCategory,
    Stage,
)
from syndicate.domain.content import (
    ItemContent,
    content_hash,
    item_id,
    parse_item_ref,
)
from syndicate.errors import InputError, Problem
from tests.conftest import content


def problems(**overrides: Any) -> list[Problem]:
    with pytest.raises(InputError) as info:
        content(**overrides)
    return list(info.value.problems)


def test_twenty_six_pilot_areas_with_unique_codes_and_names() -> None:
    assert len(AREAS) == 26
    assert len({a.code for a in AREAS}) == 26
    assert len({a.name for a in AREAS}) == 26
    assert [a.number for a in AREAS] == list(range(1, 27))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("社会救助", "social_assistance"),
        ("social_assistance", "social_assistance"),
        (" 涉农补贴 ", "agricultural_subsidies"),
    ],
)
def test_area_accepts_code_or_chinese_name(given: str, stored: str) -> None:
    assert content(area=given).area == stored


def test_unknown_area_names_the_field_and_how_to_fix_it() -> None:
    [problem] = problems(area="低保")
    assert problem.field == "area"
    assert "unknown pilot area '低保'" in problem.message
    assert "syndicate areas" in problem.message


@pytest.mark.parametrize(
    ("given", "stage"),
    [("结果公开", Stage.RESULT), ("决策", Stage.DECISION), ("service", Stage.SERVICE)],
)
def test_stage_accepts_english_and_chinese(given: str, stage: Stage) -> None:
    assert content(stage=given).stage is stage


def test_unknown_stage_lists_the_choices() -> None:
    [problem] = problems(stage="公开")
    assert problem.field == "stage"
    assert "decision (决策公开)" in problem.message


def test_defaults_audience_attribute_and_all_channels() -> None:
    item = content()
    assert item.audience == "全社会"
    assert item.attribute is Attribute.PROACTIVE
    assert item.channels == DEFAULT_CHANNELS
    assert ChannelCategory.GAZETTE not in item.channels
    assert item.attachments == ()


def test_channels_are_normalised_to_one_order_without_duplicates() -> None:
    item = content(channels=["村民微信群", "portal", "portal", "公开栏"])
    assert item.channels == (
        ChannelCategory.PORTAL,
        ChannelCategory.GROUP,
        ChannelCategory.NOTICEBOARD,
    )
    assert content_hash(item) == content_hash(
        content(channels=["noticeboard", "group", "portal"])
    )


def test_empty_channel_list_is_refused() -> None:
    [problem] = problems(channels=[])
    assert problem.field == "channels"


def test_not_disclosed_requires_a_basis() -> None:
    [problem] = problems(attribute="不予公开")
    assert problem.field == "attribute_basis"
    assert "not_disclosed" in problem.message
    item = content(attribute="not_disclosed", attribute_basis="涉及个人隐私")
    assert not item.is_public


def test_on_request_items_are_not_public() -> None:
    assert not content(attribute="依申请公开").is_public
    assert content().is_public


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-13-01", "invalid date '2026-13-01'"),
        ("01/04/2026", "expected YYYY-MM-DD"),
        (20260410, "expected a date"),
    ],
)
def test_bad_dates_say_what_a_date_looks_like(value: object, fragment: str) -> None:
    [problem] = problems(formed_on=value)
    assert problem.field == "formed_on"
    assert fragment in problem.message


def test_notice_period_end_before_start_is_refused() -> None:
    [problem] = problems(notice_period={"start": "2026-04-08", "end": "2026-04-02"})
    assert problem.field == "notice_period"
    assert "before start" in problem.message
    ok = content(notice_period={"start": "2026-04-02", "end": "2026-04-08"})
    assert ok.notice_period is not None
    assert ok.notice_period.end == date(2026, 4, 8)


def test_missing_and_unknown_fields_are_each_named() -> None:
    data = content().model_dump()
    del data["basis"]
    data["titel"] = "typo"
    with pytest.raises(InputError) as info:
        ItemContent.model_validate(data)
    found = {p.field: p.message for p in info.value.problems}
    assert found["basis"] == "required field is missing"
    assert "unknown field" in found["titel"]


def test_control_characters_are_refused_in_every_text_field() -> None:
    assert problems(title="标题\x07")[0].field == "title"
    assert problems(body="正文\x00")[0].field == "body"


def test_text_is_nfc_normalised_so_the_hash_does_not_depend_on_typing() -> None:
    decomposed = unicodedata.normalize("NFD", "Café 公告")
    assert decomposed != "Café 公告"
    a = content(title=decomposed)
    b = content(title="Café 公告")
    assert a.title == b.title
    assert content_hash(a) == content_hash(b)


def test_body_line_ends_and_trailing_blanks_are_normalised() -> None:
    item = content(body="第一段  \r\n\r\n第二段\r\n\n")
    assert item.body == "第一段\n\n第二段"


def test_content_hash_changes_with_any_field() -> None:
    base = content()
    assert content_hash(base) != content_hash(content(title="另一个标题"))
    assert content_hash(base) != content_hash(content(formed_on="2026-04-11"))
    assert len(content_hash(base)) == 64


def test_item_id_is_uuid5_of_agency_and_index_no() -> None:
    first = item_id("临溪县民政局", "000014349/2026-00012")
    assert first == item_id(" 临溪县民政局 ", "000014349/2026-00012")
    assert first.version == 5
    assert first != item_id("临溪县民政局", "000014349/2026-00013")
    assert first != item_id("临溪县财政局", "000014349/2026-00012")
    assert content().id == item_id(content().agency, content().index_no)


def test_refs_split_at_the_first_slash() -> None:
    assert parse_item_ref("临溪县民政局/000014349/2026-00012") == (
        "临溪县民政局",
        "000014349/2026-00012",
    )
    some = UUID("6a9252e5-061d-5981-963f-c2311a499a67")
    assert parse_item_ref(str(some)) == some
    with pytest.raises(ValueError, match="neither an item id nor AGENCY/INDEX_NO"):
        parse_item_ref("临溪县民政局")


def test_agency_may_not_contain_a_slash_and_index_no_no_spaces() -> None:
    assert problems(agency="县/局")[0].field == "agency"
    assert problems(index_no="0001 2026")[0].field == "index_no"


def test_interprets_accepts_a_ref_and_stores_the_policy_id() -> None:
    item = content(interprets="临溪县住房和城乡建设局/11330100MB0000003P/2026-00008")
    assert item.interprets == item_id(
        "临溪县住房和城乡建设局", "11330100MB0000003P/2026-00008"
    )
    [problem] = problems(interprets=f"{content().agency}/{content().index_no}")
    assert problem.field == "interprets"
    assert "cannot interpret itself" in problem.message


def test_attachments_need_a_plain_name_and_a_digest() -> None:
    good = {"name": "名单.csv", "media_type": "text/csv", "size": 3, "sha256": "a" * 64}
    assert content(attachments=[good]).attachments[0].name == "名单.csv"
    found = problems(attachments=[{**good, "name": "../名单.csv", "sha256": "x"}])
    assert {p.field for p in found} == {"attachments[0].name", "attachments[0].sha256"}
    [dup] = problems(attachments=[good, good])
    assert dup.field == "attachments"
