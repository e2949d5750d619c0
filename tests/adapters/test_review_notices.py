"""Review notices (先审后发): the robots and the webhook as an office's review queue.

A `review_queue` outlet gets `Operation.REVIEW_NOTICE` deliveries whose `job.review` says
what happened to the version under review; `job.item` is what outlets show, which may be
another version, so nothing of it may reach the notice. Every other kind refuses such a
job, and configuration refuses `review_queue` where it cannot work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
import standardwebhooks
from syndicate_adapters.dingtalk_group import (
    BODY_LIMIT,
    DingTalkGroupAdapter,
    DingTalkGroupSettings,
)
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

from syndicate.adapter import DeliveryJob, Operation, Rendition, ReviewNotice
from syndicate.adapterkit import BaseAdapter, canonical_json
from syndicate.errors import ConfigurationError, PermanentDeliveryError
from syndicate.outlets import load_outlets
from syndicate.registry import Registry
from syndicate.testing import FixedClock, LoopbackServer, sample_jobs
from syndicate.testing.fakes import (
    DingTalkRobotServer,
    WeComRobotServer,
    loopback_outlet_keys,
)
from tests.adapters.test_dingtalk_group import KEYWORD, TOKEN
from tests.adapters.test_dingtalk_group import SECRET as DINGTALK_SECRET
from tests.adapters.test_webhook import SECRET as WEBHOOK_SECRET
from tests.adapters.test_wecom_group import KEY

PORTAL = "https://www.linxi.gov.cn"
# The version under review: not what job.item (the released version) shows.
TITLE = "临溪县2026年第二季度临时救助审批结果公告"
AT = datetime(2026, 4, 20, 1, 30, tzinfo=UTC)
REVIEWED_KINDS = {"wecom_group", "dingtalk_group", "webhook"}


def notice(stage: str = "submitted", **changes: Any) -> ReviewNotice:
    values: dict[str, Any] = {
        "stage": stage,
        "kind": "revise",
        "item_id": UUID(int=7),
        "ref": "11330100MB0000006R/2026-00019",
        "title": TITLE,
        "version": 4,
        "content_hash": "ab" * 32,
        "actor": "李四",
        "at": AT,
        "level": "科室审核",
        "comment": "",
    }
    return ReviewNotice(**(values | changes))


def review_job(review: ReviewNotice | None) -> DeliveryJob:
    """A review-notice delivery; its item is the released version 1 (another title)."""
    published = sample_jobs()[0]
    return replace(
        published,
        delivery_id=UUID(int=99),
        outlet="review-desk",
        operation=Operation.REVIEW_NOTICE,
        review=review,
    )


ITEM = sample_jobs()[0].item  # what must never show in a notice


def wecom(base_url: str = "http://127.0.0.1:9", **values: Any) -> WeComGroupAdapter:
    return WeComGroupAdapter(
        WeComGroupSettings.model_validate(
            {"webhook": KEY, "base_url": base_url, "portal_url": PORTAL, **values}
        )
    )


def dingtalk(
    base_url: str = "http://127.0.0.1:9", **values: Any
) -> DingTalkGroupAdapter:
    return DingTalkGroupAdapter(
        DingTalkGroupSettings.model_validate(
            {
                "access_token": TOKEN,
                "secret": DINGTALK_SECRET,
                "keyword": KEYWORD,
                "base_url": base_url,
                "portal_url": PORTAL,
                **values,
            }
        )
    )


def webhook(url: str = "http://127.0.0.1:9/hook") -> WebhookAdapter:
    return WebhookAdapter(
        WebhookSettings.model_validate({"url": url, "secret": WEBHOOK_SECRET})
    )


def robot_texts(rendition: Rendition) -> list[str]:
    """The text contents of a robot rendition's request bodies, in order."""
    bodies: list[dict[str, Any]] = json.loads(rendition.data)
    assert [b["msgtype"] for b in bodies] == ["text"] * len(bodies)
    return [b["text"]["content"] for b in bodies]


ADAPTERS: dict[str, Callable[[], BaseAdapter[Any]]] = {
    "wecom_group": wecom,
    "dingtalk_group": dingtalk,
    "webhook": webhook,
}

STAGES = [
    ("submitted", "待审核", "科室审核", ""),
    ("approved", "待审核", "分管领导审签", "同意，请分管领导审签。"),
    ("returned", "已退回", "科室审核", "第三条人数与附件不符，请核对后重新提交。"),
    ("released", "已发布", None, ""),
    ("urgent", "紧急发布", None, "台风预警信息须立即发布，事后补审。"),
]


# -- rendering -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
@pytest.mark.parametrize(
    ("stage", "label", "level", "comment"), STAGES, ids=[s[0] for s in STAGES]
)
def test_a_notice_shows_its_stage_level_and_comment_never_the_item(
    kind: str, stage: str, label: str, level: str | None, comment: str
) -> None:
    review = notice(stage, level=level, comment=comment)
    job = review_job(review)
    rendition = ADAPTERS[kind]().render(job)
    assert rendition == ADAPTERS[kind]().render(job)  # deterministic
    text = rendition.data.decode("utf-8")
    assert label in text
    assert TITLE in text
    if level is not None:
        assert level in text
    else:
        assert "审核环节" not in text
    if comment:
        assert comment in text
    assert "李四" in text
    # Nothing of the version outlets show (job.item) leaks into the notice.
    assert ITEM.content.title not in text
    assert ITEM.content.body not in text
    assert str(ITEM.item_id) not in text


@pytest.mark.parametrize("kind", ["wecom_group", "dingtalk_group"])
def test_robots_send_the_notice_text_as_one_text_message(kind: str) -> None:
    review = notice("returned", comment="请补充审批依据。")
    [content] = robot_texts(ADAPTERS[kind]().render(review_job(review)))
    expected = review.text()
    if kind == "dingtalk_group":
        expected = f"【{KEYWORD}】{expected}"  # the robot's keyword, put in
    assert content == expected


def test_wecom_never_mentions_everyone_with_a_notice() -> None:
    for msgtype in ("markdown", "text"):
        adapter = wecom(mention_all=True, msgtype=msgtype)
        bodies = json.loads(adapter.render(review_job(notice())).data)
        assert bodies == [{"msgtype": "text", "text": {"content": notice().text()}}]
        # (The same outlet mentions everyone with an item notice.)
        assert "@all" in adapter.render(sample_jobs()[0]).data.decode("utf-8")


def test_dingtalk_never_mentions_everyone_with_a_notice() -> None:
    adapter = dingtalk(at_all=True)
    [body] = json.loads(adapter.render(review_job(notice())).data)
    assert "at" not in body
    assert "isAtAll" in adapter.render(sample_jobs()[0]).data.decode("utf-8")


def test_the_webhook_body_is_the_notice_in_the_usual_envelope() -> None:
    review = notice("urgent", level=None, comment="防汛紧急通知。")
    rendition = webhook().render(review_job(review))
    assert json.loads(rendition.data) == {
        "type": "review.urgent",
        "timestamp": AT.isoformat(),
        "data": review.as_json(),
    }
    assert rendition.key == f"msg_{UUID(int=99).hex}"
    assert rendition.media_type == "application/json"


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_a_review_notice_job_without_its_notice_fails_for_good(kind: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"job\.review is None"):
        ADAPTERS[kind]().render(review_job(None))


def test_a_long_comment_is_split_within_wecoms_text_limit() -> None:
    comment = "\n\n".join(
        f"{n}. 经核对，第{n}项的金额与原始凭证不一致，请逐项核实后重新提交审核。" * 6
        for n in range(1, 9)
    )
    review = notice("returned", comment=comment[:2000])
    contents = robot_texts(wecom().render(review_job(review)))
    assert len(contents) > 1
    assert all(len(c.encode("utf-8")) <= 2048 for c in contents)
    total = len(contents)
    prefixes = [f"（{n}/{total}）\n" for n in range(1, total + 1)]
    assert all(c.startswith(p) for c, p in zip(contents, prefixes, strict=True))
    rejoined = "".join(
        c.removeprefix(p) for c, p in zip(contents, prefixes, strict=True)
    )
    assert rejoined == review.text()


def test_an_oversized_notice_is_split_within_dingtalks_body_limit() -> None:
    # Longer than any the log allows (2000-character comments): the guard still holds.
    review = notice("returned", comment="核对" * 4000)
    rendition = dingtalk().render(review_job(review))
    bodies = json.loads(rendition.data)
    assert len(bodies) == int(rendition.meta["messages"]) > 1
    assert all(len(canonical_json(body)) <= BODY_LIMIT for body in bodies)
    contents = robot_texts(rendition)
    total = len(contents)
    heads = [f"【{KEYWORD}】（{n}/{total}）\n\n" for n in range(1, total + 1)]
    assert all(c.startswith(h) for c, h in zip(contents, heads, strict=True))
    rejoined = "".join(c.removeprefix(h) for c, h in zip(contents, heads, strict=True))
    assert rejoined == review.text()


# -- delivering through the loopback fakes -------------------------------------------


def test_wecom_delivers_a_notice_to_the_group(clock: FixedClock) -> None:
    review = notice("submitted")
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        adapter = wecom(fake.url, mention_all=True)
        receipt = adapter.deliver(
            adapter.render(review_job(review)), requests.Session()
        )
        assert receipt.detail == {"messages": "1"}
        assert fake.messages(KEY) == [
            {"msgtype": "text", "text": {"content": review.text()}}
        ]


def test_wecom_delivers_a_long_notice_in_parts_the_robot_accepts(
    clock: FixedClock,
) -> None:
    review = notice("returned", comment="请核对各户的补助金额与公示名单。" * 120)
    with WeComRobotServer(keys=[KEY], clock=clock) as fake:
        adapter = wecom(fake.url)
        rendition = adapter.render(review_job(review))
        adapter.deliver(rendition, requests.Session())
        messages = fake.messages(KEY)
        assert len(messages) == int(rendition.meta["messages"]) > 1
        assert set(fake.errcodes()) == {0}  # none over the 2048-byte text limit


def test_dingtalk_delivers_a_signed_notice_with_its_keyword(clock: FixedClock) -> None:
    review = notice("returned", comment="请补充审批依据。")
    with DingTalkRobotServer(clock=clock) as fake:
        fake.add_robot(TOKEN, secret=DINGTALK_SECRET, keywords=[KEYWORD])
        adapter = dingtalk(fake.url, at_all=True)
        adapter.clock = clock
        adapter.deliver(adapter.render(review_job(review)), requests.Session())
        [message] = fake.messages(TOKEN)
        assert message == {
            "msgtype": "text",
            "text": {"content": f"【{KEYWORD}】{review.text()}"},
        }
        assert "已退回" in message["text"]["content"]


def test_the_webhook_receiver_verifies_the_signed_notice() -> None:
    verifier = standardwebhooks.Webhook(WEBHOOK_SECRET)
    got: list[tuple[dict[str, str], Any]] = []

    def receive(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        got.append((headers, verifier.verify(body, headers)))
        return 204, {}, b""

    review = notice("returned", comment="附件缺少盖章页。")
    with LoopbackServer(receive) as server:
        hook = webhook(server.url + "/hook")
        rendition = hook.render(review_job(review))
        receipt = hook.deliver(rendition, requests.Session())
    assert receipt.remote_id == rendition.key
    [(headers, payload)] = got
    assert headers["webhook-id"] == rendition.key
    assert payload["type"] == "review.returned"
    assert payload["data"] == review.as_json()
    assert payload["data"]["label"] == "已退回"
    assert payload["data"]["comment"] == "附件缺少盖章页。"


# -- every other kind refuses a review notice ----------------------------------------

OTHER_SETTINGS: dict[str, dict[str, Any]] = {
    "directory": {"path": "unused-out"},
    "gazette": {"path": "unused-gazette", "title": "临溪县人民政府公报"},
    "screen": {"path": "unused-screen"},
    "kiosk": {"path": "unused-kiosk"},
    "noticeboard": {
        "path": "unused-sheets",
        "portal_url": PORTAL,
        "board_name": "临溪村村务公开栏",
        "contact": "0571-12345678",
    },
    "portal": {"path": "unused-site", "site_url": PORTAL},
    "rss": {"path": "unused-feeds", "site_url": PORTAL},
    "wechat_mp": {
        "app_id": "wx0123456789abcdef",
        "app_secret": "5ecre7a1b2c3d4e5f60718293a4b5c6d",
        "base_url": "http://127.0.0.1:9",
        "portal_url": PORTAL,
    },
    "wechat_relay": {
        "group": "柳塘村村民群",
        "relayer": "王芳",
        "portal_url": PORTAL,
        "folder": "unused-relay",
    },
    "weibo": {
        "access_token": "2.00Lx9aBcDeFgHiJkLmNoPqRsTuVwXyZ01",
        "safe_domain": "www.linxi.gov.cn",
        "portal_url": PORTAL,
        "api_base": "http://127.0.0.1:9",
    },
}


def test_only_the_robots_and_the_webhook_take_review_notices() -> None:
    registry = Registry.from_entry_points()
    takes = {kind for kind in registry if registry[kind].capabilities.review_notices}
    assert takes == REVIEWED_KINDS
    # Every other installed kind is checked below (a new kind must be added there).
    assert set(registry) - takes == set(OTHER_SETTINGS)


@pytest.mark.parametrize("kind", sorted(OTHER_SETTINGS))
def test_other_kinds_refuse_a_review_notice_instead_of_rendering_the_item(
    kind: str,
) -> None:
    adapter_class: Any = Registry.from_entry_points()[kind]
    adapter = adapter_class(adapter_class.Settings.model_validate(OTHER_SETTINGS[kind]))
    adapter.render(sample_jobs()[0])  # the settings are fine for an item
    with pytest.raises(PermanentDeliveryError, match="cannot take review notices"):
        adapter.render(review_job(notice()))


# -- configuration -------------------------------------------------------------------


def load(tmp_path: Path, name: str, table: dict[str, Any]) -> Any:
    return load_outlets(
        {name: table},
        Registry.from_entry_points(),
        home=tmp_path,
        environ={"DESK_KEY": KEY},
    )[name]


def robot_table(**values: Any) -> dict[str, Any]:
    return {
        "kind": "wecom_group",
        "channel": "group",
        "webhook": "${DESK_KEY}",
        "portal_url": PORTAL,
        "base_url": "http://127.0.0.1:9",
        **loopback_outlet_keys(),
        **values,
    }


def test_an_internal_robot_may_be_a_review_queue(tmp_path: Path) -> None:
    desk = load(tmp_path, "review-desk", robot_table(internal=True, review_queue=True))
    assert desk.review_queue
    assert desk.internal


def test_a_review_queue_must_be_internal(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, "review-desk", robot_table(review_queue=True))
    message = str(info.value)
    assert "outlets.review-desk.review_queue" in message
    assert "internal = true" in message


def test_a_portal_cannot_be_a_review_queue(tmp_path: Path) -> None:
    table = {
        "kind": "portal",
        "channel": "portal",
        "path": "out/portal",
        "site_url": PORTAL,
        "site_name": "临溪县人民政府",
        "internal": True,
        "review_queue": True,
    }
    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, "intranet", table)
    message = str(info.value)
    assert "outlets.intranet.review_queue" in message
    assert "portal outlets cannot take review notices" in message
