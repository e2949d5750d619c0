"""The DingTalk group robot adapter, against the loopback fake in syndicate.testing.fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import ValidationError
from syndicate_adapters._robot import notice_for
from syndicate_adapters.dingtalk_group import (
    BODY_LIMIT,
    DingTalkGroupAdapter,
    DingTalkGroupSettings,
    sign,
)

from syndicate.domain.content import canonical_json, problems_from_validation_error
from syndicate.domain.deliveries import DeliveryState
from syndicate.errors import (
    PermanentDeliveryError,
    TransientDeliveryError,
)
from syndicate.project import Project
from syndicate.testing import AdapterContract, FixedClock, sample_jobs
from syndicate.testing.fakes import DingTalkRobotServer, Reply
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

PORTAL = "https://www.linxi.gov.cn"
TOKEN = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
SECRET = "SEC0123456789abcdef0123456789abcdef"
KEYWORD = "政务公开"


class TestDingTalkGroupContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = DingTalkGroupAdapter
    settings: ClassVar[dict[str, Any]] = {
        "access_token": TOKEN,
        "secret": SECRET,
        "keyword": KEYWORD,
        "base_url": "http://127.0.0.1:9",
        "portal_url": PORTAL,
    }


def make(base_url: str = "http://127.0.0.1:9", **values: Any) -> DingTalkGroupAdapter:
    settings = DingTalkGroupSettings.model_validate(
        {
            "access_token": TOKEN,
            "secret": SECRET,
            "base_url": base_url,
            "portal_url": PORTAL,
            **values,
        }
    )
    return DingTalkGroupAdapter(settings)


# -- settings ------------------------------------------------------------------------


def test_a_full_webhook_url_and_a_bare_token_are_the_same_setting() -> None:
    url = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
    pasted = DingTalkGroupSettings.model_validate(
        {"access_token": url, "portal_url": PORTAL}
    )
    assert pasted.token == TOKEN
    assert pasted.secret is None
    assert TOKEN not in repr(pasted)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (
            {"access_token": f"https://evil.example/robot/send?access_token={TOKEN}"},
            "points at https://evil.example",
        ),
        ({"access_token": "short"}, "access_token"),
        ({"secret": "0123456789abcdef0123"}, "starts with SEC"),
        ({"keyword": "两\n行"}, "pattern"),
        ({"keyword": "很" * 21}, "longer than 20"),
    ],
    ids=["other-host", "bad-token", "secret-without-SEC", "keyword-lines", "keyword"],
)
def test_settings_refuse_bad_values_without_echoing_secrets(
    values: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError) as info:
        make(**values)
    text = str(info.value)
    assert TOKEN not in text
    assert "0123456789abcdef0123" not in text
    problems = problems_from_validation_error(info.value)
    assert any(says in f"{p.field} {p.message}" for p in problems), problems


# -- signing -------------------------------------------------------------------------


def test_signature_known_answer() -> None:
    # Computed independently: printf '1791509400000\nSEC…' | openssl dgst -sha256 -hmac SEC…
    assert sign(SECRET, 1791509400000) == "DmgJoKW5DRCD+gTpAmX20J9dAWyOMKua+hsyajvxBog="


def test_the_url_is_signed_per_attempt_and_encoded_once(clock: FixedClock) -> None:
    adapter = make()
    url = adapter._url(clock.now)
    query = urlsplit(url).query
    assert "sign=DmgJoKW5DRCD%2BgTpAmX20J9dAWyOMKua%2BhsyajvxBog%3D" in query
    assert parse_qs(query) == {
        "access_token": [TOKEN],
        "timestamp": ["1791509400000"],
        "sign": ["DmgJoKW5DRCD+gTpAmX20J9dAWyOMKua+hsyajvxBog="],
    }
    later = adapter._url(clock.advance(seconds=1))
    assert "timestamp=1791509401000" in later
    assert "sign=" not in make(secret=None)._url(clock.now)


def test_the_fake_verifies_signatures(clock: FixedClock) -> None:
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, secret=SECRET)
        adapter = make(fake.url)
        adapter.clock = clock
        rendition = adapter.render(sample_jobs()[0])
        adapter.deliver(rendition, requests.Session())
        [message] = fake.messages(TOKEN)
        assert message == json.loads(rendition.data)[0]
        # A different secret: refused, for good, with advice and no secret in it.
        wrong = make(fake.url, secret="SECffffffffffffffffffffffffffffffff")
        wrong.clock = clock
        with pytest.raises(PermanentDeliveryError) as info:
            wrong.deliver(rendition, requests.Session())
        assert info.value.code == "310000"
        assert "sign not match" in str(info.value)
        assert "加签" in str(info.value)
        assert "SECffff" not in str(info.value)
        # A clock more than an hour off: invalid timestamp.
        skewed = make(fake.url)
        skewed.clock = lambda: clock.now - timedelta(hours=1, seconds=1)
        with pytest.raises(PermanentDeliveryError, match="clock is more than an hour"):
            skewed.deliver(rendition, requests.Session())
        skewed.clock = lambda: clock.now - timedelta(minutes=59)
        skewed.deliver(rendition, requests.Session())
        # No secret configured, but the robot signs: say so.
        unsigned = make(fake.url, secret=None)
        with pytest.raises(PermanentDeliveryError, match="requires signed requests"):
            unsigned.deliver(rendition, requests.Session())
    assert fake.errcodes() == [0, 310000, 310000, 0, 310000]


def test_keywords_and_ip_allow_lists(clock: FixedClock) -> None:
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, keywords=[KEYWORD])
        plain = make(fake.url, secret=None)
        with pytest.raises(PermanentDeliveryError) as info:
            plain.deliver(plain.render(sample_jobs()[0]), requests.Session())
        assert "keyword" in str(info.value)
        keyed = make(fake.url, secret=None, keyword=KEYWORD)
        keyed.deliver(keyed.render(sample_jobs()[0]), requests.Session())
        [message] = fake.messages(TOKEN)
        assert KEYWORD in message["markdown"]["title"]
        assert KEYWORD in message["markdown"]["text"]
        fake.add_robot(TOKEN, allowed_ips=["10.1.2.3"])
        with pytest.raises(PermanentDeliveryError, match="IP address is not allowed"):
            plain.deliver(plain.render(sample_jobs()[0]), requests.Session())


# -- rendering -----------------------------------------------------------------------


def test_messages_have_a_title_and_chinese_text() -> None:
    publish, _, correction, _, notice = (
        bodies(make(keyword=KEYWORD, at_all=True), j) for j in sample_jobs()
    )
    [published] = publish
    assert published["msgtype"] == "markdown"
    assert published["at"] == {"isAtAll": True}
    title = published["markdown"]["title"]
    assert title == "【政务公开】临溪县2026年第一季度城乡最低生活保障审批结果公告"
    text = published["markdown"]["text"]
    assert text.startswith(f"#### {title}\n\n> 发布机构：临溪县民政局\n")
    assert "[查看原文](https://www.linxi.gov.cn/items/" in text
    assert correction[0]["markdown"]["title"].startswith("【政务公开】【更正】")
    assert "更正说明：更正人数" in correction[0]["markdown"]["text"]
    assert notice[0]["markdown"]["title"].startswith("【政务公开】【撤回】")
    # A keyword already in the title is not added again; no mention unless asked.
    [own] = bodies(make(keyword="公告"), sample_jobs()[0])
    assert own["markdown"]["title"].startswith("临溪县")
    assert "at" not in own


def test_the_rendition_holds_neither_token_nor_signature() -> None:
    adapter = make(keyword=KEYWORD)
    for job in sample_jobs():
        rendition = adapter.render(job)
        assert TOKEN.encode() not in rendition.data
        assert SECRET.encode() not in rendition.data
        assert b"sign" not in rendition.data
        assert b"timestamp" not in rendition.data
        assert rendition.meta == {"messages": "1"}


def test_a_body_over_20000_bytes_is_split_into_numbered_parts() -> None:
    # Longer than the log allows (2000 characters), to exercise the limit itself.
    note = "\n\n".join(
        f"{n}. 名单：" + "张三（1.2亩）、“李四”（0.8亩）、" * 40 for n in range(14)
    )
    job = withdrawal(note)
    adapter = make(keyword=KEYWORD, at_all=True)
    parts = bodies(adapter, job)
    assert len(parts) == 2
    whole = notice_for(job, PORTAL).markdown(
        level=4, heading=f"【{KEYWORD}】" + notice_for(job, PORTAL).heading
    )
    assert len(canonical_json({"markdown": {"text": whole}})) > BODY_LIMIT
    rebuilt = ""
    for index, part in enumerate(parts, 1):
        assert len(canonical_json(part)) <= BODY_LIMIT
        assert part["markdown"]["title"].endswith(f"（{index}/2）")
        assert KEYWORD in part["markdown"]["text"]
        head, chunk = part["markdown"]["text"].split("\n\n", 1)
        assert head.endswith(f"（{index}/2）")
        rebuilt += chunk
    assert rebuilt == whole
    assert "at" in parts[0]
    assert "at" not in parts[1]
    assert adapter.render(job).meta == {"messages": "2"}


# -- against the fake: through a Worker and a Project ---------------------------------


Rig = RobotRig[DingTalkRobotServer]


def outlet_tables(fake: DingTalkRobotServer) -> dict[str, Any]:
    """The outlet under test, as syndicate.toml would hold it (see loopback_outlet_keys)."""
    return {
        "village": fake.outlet_table(
            "VILLAGE_TOKEN",
            secret_env="VILLAGE_SECRET",
            portal_url=PORTAL,
            keyword=KEYWORD,
            timeout=0.5,
        )
    }


@pytest.fixture
def rig(sqlite_project: Project, clock: FixedClock) -> Iterator[Rig]:
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, secret=SECRET, keywords=[KEYWORD])
        with open_rig(
            sqlite_project,
            clock,
            fake,
            outlet_tables(fake),
            {"VILLAGE_TOKEN": TOKEN, "VILLAGE_SECRET": SECRET},
        ) as rig:
            yield rig


CASES = {
    "ok": Case((), DeliveryState.SUCCEEDED, reached=1),
    "410100-throttled": Case(
        (Reply(errcode=410100, errmsg="发送速度太快而限流"),),
        DeliveryState.RETRYING,
        "410100",
        (600, 600),
        ("10 minutes",),
    ),
    "130101-too-fast": Case(
        (Reply(errcode=130101, errmsg="send too fast, exceed 20 times per minute"),),
        DeliveryState.RETRYING,
        "130101",
        (600, 600),
        ("send too fast",),
    ),
    "-1-busy": Case(
        (Reply(errcode=-1, errmsg="系统繁忙"),),
        DeliveryState.RETRYING,
        "-1",
        BUSY,
        ("busy",),
    ),
    "310000-sign": failed(310000, "sign not match", "加签", "secret"),
    "310000-timestamp": failed(310000, "invalid timestamp", "clock", "NTP"),
    "310000-keyword": failed(310000, "keywords not in content", "`keyword`"),
    "310000-ip": failed(310000, "ip 1.2.3.4 not in whitelist", "IP 地址"),
    "310000-other": failed(310000, "消息校验未通过", "安全设置"),
    "400101-no-token": failed(400101, "access_token不存在", "…1f3a", "syndicate retry"),
    "400102-disabled": failed(400102, "机器人已停用", "enable it"),
    "400106-no-robot": failed(400106, "机器人不存在", "add a new custom robot"),
    "400013-group-gone": failed(400013, "群已被解散", "remove this outlet"),
    "400105-msgtype": failed(400105, "不支持的消息类型", "bug"),
    "40035-parameter": failed(40035, "缺少参数 json", "bug"),
    "43004-content-type": failed(43004, "无效的HTTP HEADER Content-Type", "bug"),
    "430101-unsafe-link": failed(430101, "不安全的外链", "portal_url"),
    "430102-text": failed(430102, "不合适的文本", "content check"),
    "430103-image": failed(430103, "不合适的图片", "content check"),
    "430104-content": failed(430104, "不合适的内容", "content check"),
    "unknown-errcode": failed(300005, "token is not exist", "errcode 300005"),
    "http-503": Case(
        (Reply(status=503, body=b""),), DeliveryState.RETRYING, "503", BUSY
    ),
    "unparseable": Case(
        (Reply(body=b"not json"),),
        DeliveryState.UNCONFIRMED,
        says=("without an errcode",),
    ),
    "dropped-after-taking-it": Case(
        (Reply(drop=True, accept=True),),
        DeliveryState.UNCONFIRMED,
        says=("broke after the message was sent",),
        reached=1,
    ),
    "timeout": Case(
        (Reply(delay=1.0),),
        DeliveryState.UNCONFIRMED,
        says=("no answer from DingTalk within 0.5 s",),
        reached=1,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_answer_becomes_the_right_outcome(rig: Rig, case: Case) -> None:
    check_outcome(rig, case, TOKEN, secrets=[TOKEN, SECRET])


def test_21_items_in_a_minute_the_21st_waits_and_nothing_is_throttled(
    rig: Rig,
) -> None:
    publish_21_in_a_minute(rig, TOKEN)  # never a 410100
    assert rig.fake.throttled_until(TOKEN) is None


def test_the_fake_throttles_for_ten_minutes_after_21_in_a_minute(
    clock: FixedClock,
) -> None:
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, secret=SECRET)
        session = requests.Session()
        body = canonical_json(
            {"msgtype": "text", "text": {"content": "测试"}}
        )  # raw requests: the adapter's own window would hold the 21st back

        def send() -> int:
            stamp = str(int(clock.now.timestamp() * 1000))
            response = session.post(
                f"{fake.url}/robot/send",
                params={
                    "access_token": TOKEN,
                    "timestamp": stamp,
                    "sign": fake.expected_sign(SECRET, stamp),
                },
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            assert response.status_code == 200
            code: int = response.json()["errcode"]
            return code

        assert [send() for _ in range(20)] == [0] * 20
        assert send() == 410100
        assert fake.throttled_until(TOKEN) == clock.now + timedelta(minutes=10)
        clock.advance(minutes=5)
        assert send() == 410100  # the window is free, the throttle is not
        clock.advance(minutes=5)
        assert send() == 0


def test_after_410100_the_adapter_sends_nothing_for_ten_minutes(
    clock: FixedClock,
) -> None:
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, secret=SECRET)
        fake.script(TOKEN, Reply(errcode=410100, errmsg="发送速度太快而限流"))
        adapter = make(fake.url)
        adapter.clock = clock
        rendition = adapter.render(sample_jobs()[0])
        with pytest.raises(TransientDeliveryError) as info:
            adapter.deliver(rendition, requests.Session())
        assert (info.value.code, info.value.retry_after) == ("410100", 600.0)
        clock.advance(minutes=9)
        with pytest.raises(TransientDeliveryError) as held:
            adapter.deliver(rendition, requests.Session())
        assert held.value.code == "rate_limit"
        assert held.value.retry_after == 60.0
        assert len(fake.received) == 1
        clock.advance(minutes=1)
        adapter.deliver(rendition, requests.Session())
        assert len(fake.messages(TOKEN)) == 1
