"""The WeCom group robot adapter, against the loopback fake in syndicate.testing.fakes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from syndicate_adapters._robot import (
    _is_joiner,
    json_len,
    md_text,
    notice_for,
    plain_summary,
    split_text,
    utf8_len,
)
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

from syndicate.adapter import Operation
from syndicate.domain.content import problems_from_validation_error
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate.outlets import load_outlets
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import AdapterContract, FixedClock, sample_jobs
from syndicate.testing.fakes import Reply, WeComRobotServer
from tests.adapters.robot_helpers import (
    BUSY,
    Case,
    RobotRig,
    bodies,
    check_outcome,
    failed,
    open_rig,
    publish_21_in_a_minute,
    withdrawal,
)
from tests.conftest import content

PORTAL = "https://www.linxi.gov.cn"
KEY = "693a91f6-7d0c-4bc4-97a0-0ec2f1fa5a01"
OTHER_KEY = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
MASKED = "…5a01"


class TestWeComGroupContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = WeComGroupAdapter
    settings: ClassVar[dict[str, Any]] = {
        "webhook": KEY,
        "base_url": "http://127.0.0.1:9",
        "portal_url": PORTAL,
    }


def make(base_url: str = "http://127.0.0.1:9", **values: Any) -> WeComGroupAdapter:
    settings = WeComGroupSettings.model_validate(
        {"webhook": KEY, "base_url": base_url, "portal_url": PORTAL, **values}
    )
    return WeComGroupAdapter(settings)


def long_note(paragraphs: int = 8) -> str:
    """A withdrawal note near the 2000-character limit, in paragraphs."""
    sentence = "经复核，原公示名单中部分农户的承包面积统计有误，现予撤回并重新核定。"
    return "\n\n".join(
        f"{n + 1}. " + sentence * 7 for n in range(paragraphs)
    )  # ~240 characters each


# -- settings ------------------------------------------------------------------------


def test_a_full_webhook_url_and_a_bare_key_are_the_same_setting() -> None:
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    pasted = WeComGroupSettings.model_validate({"webhook": url, "portal_url": PORTAL})
    bare = WeComGroupSettings.model_validate({"webhook": KEY, "portal_url": PORTAL})
    assert pasted.key == bare.key == KEY
    assert pasted.masked_key == MASKED
    assert KEY not in repr(pasted)
    assert pasted.base_url == "https://qyapi.weixin.qq.com"


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        (
            {"webhook": f"https://evil.example/cgi-bin/webhook/send?key={KEY}"},
            "webhook",
            "points at https://evil.example",
        ),
        (
            {"webhook": f"https://qyapi.weixin.qq.com/other?key={KEY}"},
            "webhook",
            "path must be /cgi-bin/webhook/send",
        ),
        ({"webhook": f"{KEY} extra!"}, "webhook", "webhook URL or its key"),
        ({"portal_url": "http://www.linxi.gov.cn"}, "portal_url", "pattern"),
        ({"msgtype": "news"}, "msgtype", "markdown"),
        ({"base_url": "ftp://x"}, "base_url", "pattern"),
    ],
    ids=["other-host", "other-path", "bad-key", "http-portal", "msgtype", "base-url"],
)
def test_settings_refuse_bad_values_without_echoing_the_key(
    values: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as info:
        WeComGroupSettings.model_validate(
            {"webhook": KEY, "portal_url": PORTAL, **values}
        )
    assert KEY not in str(info.value)
    problems = problems_from_validation_error(info.value)
    assert any(says in p.message for p in problems), problems
    assert any(p.field in (field, "") for p in problems)


def test_the_key_is_a_secret_in_syndicate_toml(tmp_path: Path) -> None:
    table = {"kind": "wecom_group", "webhook": KEY, "portal_url": PORTAL}
    with pytest.raises(ConfigurationError) as info:
        load_outlets(
            {"g": table}, Registry.from_entry_points(), home=tmp_path, environ={}
        )
    assert 'write it as "${ENV_VAR}"' in str(info.value)
    assert KEY not in str(info.value)
    table["webhook"] = "${G_KEY}"
    [outlet] = load_outlets(
        {"g": table},
        Registry.from_entry_points(),
        home=tmp_path,
        environ={"G_KEY": KEY},
    ).values()
    assert outlet.rate_per_minute == 20  # the platform's limit, by default
    assert KEY not in json.dumps(outlet.masked_settings(), default=str)
    with pytest.raises(ConfigurationError, match="at most 20"):
        load_outlets(
            {"g": {**table, "rate_per_minute": 30}},
            Registry.from_entry_points(),
            home=tmp_path,
            environ={"G_KEY": KEY},
        )


def test_the_network_guard_covers_base_url(tmp_path: Path) -> None:
    # Loopback fakes need allow_private_network = true (loopback_outlet_keys adds it).
    table = {
        "kind": "wecom_group",
        "webhook": "${G_KEY}",
        "portal_url": PORTAL,
        "base_url": "http://127.0.0.1:9",
    }
    with pytest.raises(ConfigurationError) as info:
        load_outlets(
            {"g": table},
            Registry.from_entry_points(),
            home=tmp_path,
            environ={"G_KEY": KEY},
        )
    assert "base_url" in str(info.value)
    assert KEY not in str(info.value)


# -- rendering -----------------------------------------------------------------------


def test_messages_say_what_happened_in_chinese() -> None:
    publish, _, correction, _, notice = (bodies(make(), j) for j in sample_jobs())
    [published] = publish
    assert published["msgtype"] == "markdown"
    text = published["markdown"]["content"]
    item_id = sample_jobs()[0].item.item_id
    assert text.startswith("### 临溪县2026年第一季度城乡最低生活保障审批结果公告\n")
    for line in (
        "> 发布机构：临溪县民政局",
        "> 发布日期：2026-04-11",  # 02:00 UTC is 10:00 in Beijing
        "> 索引号：11330100MB0000006R/2026-00019",
        "经审批，新增农村低保对象47户73人。",
        f"[查看原文]({PORTAL}/items/{item_id}.html)",
    ):
        assert line in text
    fixed = correction[0]["markdown"]["content"]
    assert fixed.startswith("### 【更正】临溪县")
    assert "> 更正日期：2026-04-12" in fixed
    assert "更正说明：更正人数" in fixed
    withdrawn = notice[0]["markdown"]["content"]
    assert withdrawn.startswith("### 【撤回】临溪县")
    assert "撤回说明：该公告已撤回。" in withdrawn
    assert "> 撤回日期：2026-04-13" in withdrawn
    assert "新增农村低保对象" not in withdrawn  # the withdrawn text is not repeated
    assert "查看撤回说明" in withdrawn


def test_text_messages_and_mentions() -> None:
    plain = make(msgtype="text", mention_all=True)
    [message] = bodies(plain, sample_jobs()[0])
    assert message["msgtype"] == "text"
    assert message["text"]["mentioned_mobile_list"] == ["@all"]
    assert "查看原文：https://www.linxi.gov.cn/items/" in message["text"]["content"]
    assert "###" not in message["text"]["content"]
    # Markdown cannot mention: a short text message with the mention follows.
    markdown, mention = bodies(make(mention_all=True), sample_jobs()[0])
    assert markdown["msgtype"] == "markdown"
    assert mention == {
        "msgtype": "text",
        "text": {
            "content": "请查看上方政务公开信息。",
            "mentioned_mobile_list": ["@all"],
        },
    }
    assert make(mention_all=True).render(sample_jobs()[0]).meta == {"messages": "2"}


def test_the_rendition_is_the_request_bodies_without_the_key() -> None:
    adapter = make()
    for job in sample_jobs():
        rendition = adapter.render(job)
        assert KEY.encode() not in rendition.data
        assert rendition.key == str(job.delivery_id)
        assert rendition.media_type == "application/json"
        # Canonical JSON: sorted keys, no spaces, UTF-8 (not \u escapes).
        parsed = json.loads(rendition.data)
        assert rendition.data == json.dumps(
            parsed, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")


def test_summary_is_plain_text_of_the_first_200_characters() -> None:
    body = (
        "## 一、补贴对象\n\n**实际种粮农民**，详见[名单](http://x.example)。\n\n"
        + "- 第一组\n- 第二组\n\n"
        + "补贴标准按照每亩一百零五元执行。" * 20
    )
    summary = plain_summary(body)
    assert summary.startswith(
        "一、补贴对象 实际种粮农民，详见名单。 第一组 第二组 补贴"
    )
    assert summary.endswith("……")
    assert len(summary) == 202
    assert plain_summary("很短。") == "很短。"
    job = sample_jobs()[0]
    long_job = replace(
        job,
        item=replace(job.item, content=content(body=body, area="social_assistance")),
    )
    [message] = bodies(make(), long_job)
    assert summary in message["markdown"]["content"]
    assert "http://x.example" not in message["markdown"]["content"]


def test_operator_text_cannot_make_links_or_tags() -> None:
    title = '[点此领取补贴](http://evil.example) <font color="warning">急</font> *重要*'
    job = sample_jobs()[0]
    job = replace(job, item=replace(job.item, content=content(title=title)))
    [message] = bodies(make(), job)
    text = message["markdown"]["content"]
    assert "](http://evil" not in text
    assert "<font" not in text
    assert "*重要*" not in text
    assert md_text("# 标题\n  #二") == "\uff03 标题\n  \uff03二"
    # Exactly one link: the portal's.
    assert text.count("](") == 1


def test_a_long_notice_is_split_into_numbered_parts_under_4096_bytes() -> None:
    job = withdrawal(long_note(8))
    whole = notice_for(job, PORTAL).markdown(level=3)
    assert utf8_len(whole) > 4096
    parts = [b["markdown"]["content"] for b in bodies(make(), job)]
    assert len(parts) == 2
    assert make().render(job).meta == {"messages": "2"}
    rebuilt = ""
    for index, part in enumerate(parts, 1):
        assert len(part.encode("utf-8")) <= 4096
        label = f"（{index}/{len(parts)}）\n"
        assert part.startswith(label)
        rebuilt += part.removeprefix(label)
    assert rebuilt == whole
    # Parts end at paragraph boundaries.
    assert parts[0].endswith("\n\n")
    assert parts[1].split("\n", 1)[1].startswith(("1", "2", "3", "4", "5", "6", "7"))
    # Text messages have half the room.
    texts = [b["text"]["content"] for b in bodies(make(msgtype="text"), job)]
    assert len(texts) >= 4
    assert all(len(t.encode("utf-8")) <= 2048 for t in texts)


# -- splitting -----------------------------------------------------------------------

CLUSTERS = ["a", "中", "。", "\n", "\n\n", "e\u0301", "👍🏽", "👨\u200d👩", '"', "\\"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(CLUSTERS), max_size=400),
    st.integers(min_value=12, max_value=80),
    st.sampled_from([utf8_len, json_len]),
)
def test_split_text_properties(clusters: list[str], budget: int, measure: Any) -> None:
    text = "".join(clusters)
    chunks = split_text(text, budget, measure)
    assert "".join(chunks) == text
    assert all(measure(c) <= budget for c in chunks)
    assert all(c for c in chunks) or chunks == [""]
    for chunk in chunks[1:]:
        assert not _is_joiner(chunk[0]), "a chunk starts inside a character"
        chunk.encode("utf-8")  # valid text, no lone surrogates


def test_split_prefers_paragraphs_then_lines_then_sentences() -> None:
    paragraphs = ["第一段。" * 10, "第二段。" * 10, "第三段。" * 10]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, utf8_len(paragraphs[0]) + 10)
    assert chunks == [paragraphs[0] + "\n\n", paragraphs[1] + "\n\n", paragraphs[2]]
    one = "一句话。" * 30
    cut = split_text(one, 40)
    assert all(c.endswith("。") for c in cut)
    hard = split_text("字" * 50, 30)
    assert [len(c) for c in hard] == [10, 10, 10, 10, 10]


# -- against the fake: adapter alone -------------------------------------------------


def test_delivery_reaches_the_group_with_the_right_request(clock: FixedClock) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        adapter = make(fake.url)
        receipt = adapter.deliver(adapter.render(sample_jobs()[0]), requests.Session())
        assert receipt.detail == {"messages": "1"}
        [got] = fake.received
        assert got.path == "/cgi-bin/webhook/send"
        assert got.query == {"key": KEY}
        assert got.headers["content-type"] == "application/json; charset=utf-8"
        assert "\\u" not in got.body.decode("utf-8")  # UTF-8, not ASCII escapes
        [message] = fake.messages(KEY)
        assert message["markdown"]["content"].startswith("### 临溪县")


def test_a_pasted_url_and_a_bare_key_reach_the_same_robot(clock: FixedClock) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        pasted = make(fake.url, webhook=f"{fake.url}/cgi-bin/webhook/send?key={KEY}")
        pasted.deliver(pasted.render(sample_jobs()[0]), requests.Session())
        assert len(fake.messages(KEY)) == 1


def test_redirects_are_never_followed(clock: FixedClock) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        fake.script(KEY, Reply(status=307, body=b""))
        adapter = make(fake.url)
        with pytest.raises(PermanentDeliveryError, match="never followed"):
            adapter.deliver(adapter.render(sample_jobs()[0]), requests.Session())
        assert len(fake.received) == 1


def test_the_key_never_reaches_messages_or_logs(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with WeComRobotServer(keys=[OTHER_KEY], clock=clock) as fake:
        adapter = make(fake.url)
        with pytest.raises(PermanentDeliveryError) as info:
            adapter.deliver(adapter.render(sample_jobs()[0]), requests.Session())
    assert info.value.code == "93000"
    assert MASKED in str(info.value)
    assert "群设置 → 群机器人" in str(info.value)
    assert KEY not in str(info.value)
    assert "key=***" in caplog.text  # urllib3 logged the request line, redacted
    assert KEY not in caplog.text


def test_the_robots_window_is_enforced_before_sending(clock: FixedClock) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        adapter = make(fake.url)
        adapter.clock = clock
        session = requests.Session()
        single = adapter.render(sample_jobs()[0])
        for _ in range(19):
            adapter.deliver(single, session)
        two = make(fake.url, mention_all=True)
        two.clock, two._window = clock, adapter._window  # the same robot
        with pytest.raises(TransientDeliveryError) as info:
            two.deliver(two.render(sample_jobs()[0]), session)
        assert info.value.code == "rate_limit"
        assert info.value.retry_after == 60.0
        assert "nothing sent" in str(info.value)
        assert len(fake.received) == 19
        clock.advance(seconds=60)
        two.deliver(two.render(sample_jobs()[0]), session)
        assert fake.errcodes() == [0] * 21


def test_45009_pauses_the_robot_for_a_minute(clock: FixedClock) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        fake.script(KEY, Reply(errcode=45009, errmsg="api freq out of limit"))
        adapter = make(fake.url)
        adapter.clock = clock
        rendition = adapter.render(sample_jobs()[0])
        with pytest.raises(TransientDeliveryError) as info:
            adapter.deliver(rendition, requests.Session())
        assert (info.value.code, info.value.retry_after) == ("45009", 60.0)
        clock.advance(seconds=30)
        with pytest.raises(TransientDeliveryError, match="nothing sent"):
            adapter.deliver(rendition, requests.Session())
        assert len(fake.received) == 1  # the pause held it back
        clock.advance(seconds=30)
        adapter.deliver(rendition, requests.Session())
        assert len(fake.messages(KEY)) == 1


def test_a_connection_lost_on_a_later_part_is_an_unknown_outcome(
    clock: FixedClock,
) -> None:
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        fake.script(KEY, Reply(), Reply(drop=True))
        adapter = make(fake.url)
        rendition = adapter.render(withdrawal(long_note(8)))
        with pytest.raises(UnknownOutcomeError) as info:
            adapter.deliver(rendition, requests.Session())
        assert info.value.code == "connection"
        assert (
            "message 1 of 2 reached the group; message 2 may or may not have arrived"
            in str(info.value)
        )
        assert len(fake.messages(KEY)) == 1


def test_connection_refused_before_sending_is_transient() -> None:
    adapter = make("http://127.0.0.1:9")
    with pytest.raises(TransientDeliveryError) as info:
        adapter.deliver(adapter.render(sample_jobs()[0]), requests.Session())
    assert info.value.code == "connect"


# -- against the fake: through a Worker and a Project ---------------------------------


Rig = RobotRig[WeComRobotServer]


def outlet_tables(fake: WeComRobotServer, **values: Any) -> dict[str, Any]:
    """The outlet under test, as syndicate.toml would hold it (see loopback_outlet_keys)."""
    return {
        "village": fake.outlet_table(
            "VILLAGE_KEY", portal_url=PORTAL, timeout=0.5, **values
        )
    }


@pytest.fixture
def rig(sqlite_project: Project, clock: FixedClock) -> Iterator[Rig]:
    with (
        WeComRobotServer(keys=[KEY], clock=clock) as fake,
        open_rig(
            sqlite_project,
            clock,
            fake,
            outlet_tables(fake),
            {"VILLAGE_KEY": KEY},
        ) as rig,
    ):
        yield rig


CASES = {
    "ok": Case((), DeliveryState.SUCCEEDED, reached=1),
    "45009-rate-limit": Case(
        (Reply(errcode=45009, errmsg="api freq out of limit"),),
        DeliveryState.RETRYING,
        "45009",
        (60, 60),
        ("45009", "60 s"),
    ),
    "-1-busy": Case(
        (Reply(errcode=-1, errmsg="system busy"),),
        DeliveryState.RETRYING,
        "-1",
        BUSY,
        ("busy",),
    ),
    "93000-bad-url": failed(
        93000,
        "invalid webhook url, hint: [x], from ip: 1",
        MASKED,
        "群设置 → 群机器人",
        "syndicate retry",
    ),
    "93004-disabled": failed(93004, "robot disabled", "disabled"),
    "93008-not-in-group": failed(93008, "not in chat", "no longer in the group"),
    "40008-msgtype": failed(40008, "invalid message type", "msgtype"),
    "40058-too-long": failed(40058, "markdown.content exceed max length 4096.", "bug"),
    "unknown-errcode": failed(
        60020,
        "not allow to access from your ip",
        "errcode 60020",
        "not allow to access",
    ),
    "http-502": Case(
        (Reply(status=502, body=b"Bad Gateway"),),
        DeliveryState.RETRYING,
        "502",
        BUSY,
        ("HTTP 502",),
    ),
    "http-429": Case(
        (Reply(status=429, body=b""),), DeliveryState.RETRYING, "429", BUSY
    ),
    "http-302": Case(
        (Reply(status=302, body=b""),),
        DeliveryState.FAILED,
        "302",
        None,
        ("never followed",),
    ),
    "http-404": Case(
        (Reply(status=404, body=b"no"),),
        DeliveryState.FAILED,
        "404",
        None,
        ("base_url",),
    ),
    "unparseable": Case(
        (Reply(body=b"<html>gateway</html>"),),
        DeliveryState.UNCONFIRMED,
        says=("without an errcode", "not resent"),
    ),
    "dropped-after-taking-it": Case(
        (Reply(drop=True, accept=True),),
        DeliveryState.UNCONFIRMED,
        says=("broke after the message was sent",),
        reached=1,
    ),
    "dropped-before-taking-it": Case(
        (Reply(drop=True),),
        DeliveryState.UNCONFIRMED,
        says=("broke after the message was sent",),
    ),
    "timeout": Case(
        (Reply(delay=1.0),),
        DeliveryState.UNCONFIRMED,
        says=("no answer from WeCom within 0.5 s",),
        reached=1,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_answer_becomes_the_right_outcome(rig: Rig, case: Case) -> None:
    check_outcome(rig, case, KEY, secrets=[KEY])


def test_a_removed_robot_fails_for_good_with_advice(rig: Rig) -> None:
    rig.fake.remove_key(KEY)
    rig.items.publish(content(), actor="张三")
    rig.sync()
    delivery = rig.only()
    assert delivery.state is DeliveryState.FAILED
    assert delivery.last_error is not None
    assert "93000 invalid webhook url" in delivery.last_error
    assert KEY not in delivery.last_error


def test_a_part_failing_after_others_were_sent_is_unconfirmed(rig: Rig) -> None:
    rig.outlets.update(
        load_outlets(
            outlet_tables(rig.fake, mention_all=True),
            Registry.from_entry_points(),
            home=rig.project.home,
            environ={"VILLAGE_KEY": KEY},
        )
    )
    change = rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"succeeded": 1}
    rig.items.withdraw(
        change.item_id, reason="统计有误", public_note=long_note(8), actor="张三"
    )
    rig.fake.script(KEY, Reply(), Reply(errcode=45009, errmsg="api freq out of limit"))
    assert rig.sync() == {"unconfirmed": 1}
    delivery = rig.only()
    assert delivery.operation == Operation.WITHDRAWAL_NOTICE.value
    assert delivery.last_error is not None
    assert "message 1 of 3 reached the group; message 2 was not sent" in (
        delivery.last_error
    )
    assert "syndicate resolve" in delivery.last_error
    shown = [m["msgtype"] for m in rig.fake.messages(KEY)]
    assert shown == ["markdown", "text", "markdown"]  # publish + mention, part 1
    rig.clock.advance(hours=2)
    assert rig.sync() == {}  # never resent by itself
    # The operator checked the group and wants every part sent again.
    delivery.record(Delivery.Resolved, at=rig.clock.now, actor="运维", sent=False)
    rig.deliveries.save(delivery)
    assert rig.sync() == {"succeeded": 1}
    assert len(rig.fake.messages(KEY)) == 3 + 3


def test_21_items_in_a_minute_the_21st_waits_and_the_robot_never_refuses(
    rig: Rig,
) -> None:
    publish_21_in_a_minute(rig, KEY)  # never a 45009
    assert all(
        d.state is DeliveryState.SUCCEEDED
        for d in rig.deliveries.all_deliveries().values()
    )


def test_a_correction_follows_the_publication(rig: Rig) -> None:
    change = rig.items.publish(content(), actor="张三")
    rig.sync()
    rig.clock.advance(hours=1)
    rig.items.revise(
        change.item_id,
        content(body="经审批，新增农村低保对象48户75人。"),
        reason="更正户数和人数",
        actor="张三",
    )
    assert rig.sync() == {"succeeded": 1}
    first, second = rig.fake.messages(KEY)
    assert "47户73人" in first["markdown"]["content"]
    text = second["markdown"]["content"]
    assert text.startswith("### 【更正】")
    assert "更正说明：更正户数和人数" in text
    assert "48户75人" in text


def test_timestamps_only_come_from_the_clock(rig: Rig) -> None:
    # Rendering twice, a day apart, gives the same bytes (the audit re-renders).
    rig.items.publish(content(), actor="张三")
    rig.sync()
    delivery = rig.only()
    first = rig.fake.received[0].body
    rig.clock.advance(days=1)
    worker = rig.worker()
    job = worker.outlet_set.job(delivery, {})
    again = worker.outlet_set.adapter("village").render(job)
    assert json.loads(again.data) == [json.loads(first)]
    assert again.sha256 == delivery.rendition_sha256
    worker.close()
