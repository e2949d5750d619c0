"""The WeChat official-account adapter, against the loopback fake in syndicate.testing.fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from syndicate_adapters.wechat_mp import (
    WechatMpAdapter,
    WechatMpSettings,
    forget_tokens,
)

from syndicate.application import Disclosures
from syndicate.delivery import Worker
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.outlets import Outlet, load_outlets
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import AdapterContract, FixedClock
from syndicate.testing.fakes import Reply, WechatMpServer
from tests.conftest import content

PORTAL = "https://www.linxi.gov.cn"
APP_ID = "wx0123456789abcdef"
SECRET = "5ecre7a1b2c3d4e5f60718293a4b5c6d"


class TestWechatMpContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = WechatMpAdapter
    settings: ClassVar[dict[str, Any]] = {
        "app_id": APP_ID,
        "app_secret": SECRET,
        "base_url": "http://127.0.0.1:9",
        "portal_url": PORTAL,
    }


@dataclass
class Rig:
    project: Project
    clock: FixedClock
    fake: WechatMpServer
    items: Disclosures
    deliveries: Deliveries
    outlets: dict[str, Outlet]

    def sync(self) -> dict[str, int]:
        self.deliveries.plan()
        worker = Worker(
            self.deliveries, self.items, self.outlets, name="w", clock=self.clock
        )
        try:
            return worker.run_until_idle().outcomes
        finally:
            worker.close()

    def all(self) -> list[Delivery]:
        found = sorted(
            self.deliveries.all_deliveries().values(), key=lambda d: d.item_version
        )
        return [self.deliveries.delivery(d.id) for d in found]

    def last(self) -> Delivery:
        return self.all()[-1]

    def settle(self, seconds: float = 10) -> dict[str, int]:
        self.clock.advance(seconds=seconds)
        return self.sync()


def make_rig(
    project: Project, clock: FixedClock, fake: WechatMpServer, **values: Any
) -> Iterator[Rig]:
    forget_tokens()
    outlets = load_outlets(
        {
            "mp": fake.outlet_table(
                "MP_SECRET", portal_url=PORTAL, timeout=0.5, **values
            )
        },
        Registry.from_entry_points(),
        home=project.home,
        environ={"MP_SECRET": SECRET},
    )
    with (
        project.disclosures(clock=clock) as items,
        project.deliveries(items, clock=clock, outlets=outlets) as log,
    ):
        yield Rig(project, clock, fake, items, log, outlets)


@pytest.fixture
def rig(sqlite_project: Project, clock: FixedClock) -> Iterator[Rig]:
    with WechatMpServer(app_id=APP_ID, secret=SECRET, clock=clock) as fake:
        yield from make_rig(sqlite_project, clock, fake)


# -- settings and rendering ----------------------------------------------------------


def test_the_secret_is_a_secret_in_settings_and_errors() -> None:
    settings = WechatMpSettings.model_validate(
        {"app_id": APP_ID, "app_secret": SECRET, "portal_url": PORTAL}
    )
    assert SECRET not in repr(settings)
    assert settings.masked_secret == "…5c6d"
    with pytest.raises(ValueError, match="AppSecret") as info:
        WechatMpSettings.model_validate(
            {"app_id": APP_ID, "app_secret": SECRET + "!", "portal_url": PORTAL}
        )
    assert SECRET not in str(info.value)


def test_the_rendition_is_the_article_without_secrets() -> None:
    adapter = WechatMpAdapter(
        WechatMpSettings.model_validate(
            {"app_id": APP_ID, "app_secret": SECRET, "portal_url": PORTAL}
        )
    )
    from syndicate.testing import sample_jobs

    jobs = sample_jobs()
    doc = json.loads(adapter.render(jobs[0]).data)
    article = doc["article"]
    assert article["title"] == jobs[0].item.content.title
    assert article["author"] == "临溪县民政局"
    assert "<th>索引号</th>" in article["content"]
    assert "经审批" in article["content"]
    assert article["content_source_url"] == (
        f"{PORTAL}/items/{jobs[0].item.item_id}.html?sd={jobs[0].delivery_id}"
    )
    assert len(__import__("base64").b64decode(doc["cover_jpeg"])) <= 64 * 1024
    correction = json.loads(adapter.render(jobs[2]).data)
    assert correction["article"]["title"].startswith("【更正】")
    for job in jobs:
        assert SECRET.encode() not in adapter.render(job).data


# -- through a Worker ----------------------------------------------------------------


def test_publish_is_submitted_then_confirmed(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"submitted": 1}
    delivery = rig.last()
    assert delivery.state is DeliveryState.SUBMITTED
    assert not delivery.state.settled
    assert delivery.receipt is not None
    assert delivery.receipt["publish_id"].startswith("PUB_")
    assert rig.sync() == {}  # not due before check_at
    assert rig.settle() == {"submitted": 1}  # still publishing (status 1)
    assert rig.settle(30) == {"succeeded": 1}
    delivery = rig.last()
    assert delivery.state is DeliveryState.SUCCEEDED
    assert delivery.receipt is not None
    assert delivery.receipt["article_id"].startswith("ART_")
    assert delivery.receipt["article_url"].startswith("https://mp.weixin.qq.com/s/")
    [published] = rig.fake.published()
    assert published["articles"][0]["title"] == content().title
    assert len(rig.fake.calls("freepublish/submit")) == 1
    [thumb] = rig.fake.materials.values()
    assert thumb.startswith(b"\xff\xd8")


@pytest.mark.parametrize("status", [2, 3, 4, 5, 6])
def test_failed_publish_statuses_fail_with_reasons(rig: Rig, status: int) -> None:
    rig.fake.fail_next(status)
    rig.items.publish(content(), actor="张三")
    rig.sync()
    rig.settle()
    rig.settle(30)
    delivery = rig.last()
    assert delivery.state is DeliveryState.FAILED
    assert delivery.last_error is not None
    assert f"publish_status {status}" in delivery.last_error
    reason = {2: "原创", 3: "常规失败", 4: "审核不通过", 5: "用户删除", 6: "封禁"}
    assert reason[status] in delivery.last_error


def publish_and_confirm(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.sync()
    rig.settle()
    rig.settle(30)
    assert rig.last().state is DeliveryState.SUCCEEDED


@pytest.mark.parametrize("delete", [False, True])
def test_a_revision_is_a_correction_article(
    sqlite_project: Project, clock: FixedClock, delete: bool
) -> None:
    with WechatMpServer(app_id=APP_ID, secret=SECRET, clock=clock) as fake:
        for rig in make_rig(sqlite_project, clock, fake, delete_corrected=delete):
            publish_and_confirm(rig)
            first = rig.last().receipt or {}
            item = rig.items.items()[0]
            rig.items.revise(
                item.id,
                content(body="经审批，新增农村低保对象48户75人。"),
                actor="张三",
                reason="更正人数",
            )
            rig.sync()
            rig.settle()
            rig.settle(30)
            fixed = rig.last()
            assert fixed.operation == "correction"
            assert fixed.state is DeliveryState.SUCCEEDED
            titles = [a["articles"][0]["title"] for a in fake.published()]
            assert titles[-1].startswith("【更正】")
            assert (first["article_id"] in fake.articles) is True
            assert fake.articles[first["article_id"]]["is_deleted"] is delete
            receipt = fixed.receipt or {}
            assert ("deleted" in receipt) is delete


def test_a_withdrawal_deletes_the_article(rig: Rig) -> None:
    publish_and_confirm(rig)
    article = (rig.last().receipt or {})["article_id"]
    item = rig.items.items()[0]
    rig.items.withdraw(item.id, actor="张三", reason="误发")
    assert rig.sync() == {"succeeded": 1}
    withdrawn = rig.last()
    assert withdrawn.operation == "retract"
    assert (withdrawn.receipt or {})["deleted"] == article
    assert rig.fake.published() == []


@dataclass(frozen=True)
class Case:
    api: str
    reply: Reply
    state: DeliveryState
    says: tuple[str, ...]
    retry: tuple[float, float] | None = None


# The fixed clock is 2026-10-09 01:30 UTC = 09:30 Beijing: 14.5 h to midnight, plus 60 s.
QUOTA = 14.5 * 3600 + 60
CASES = {
    "45009-quota": Case(
        "draft/add", Reply(errcode=45009, errmsg="reach max api daily quota limit"),
        DeliveryState.RETRYING, ("quota", "midnight"), (QUOTA, QUOTA),
    ),
    "40164-ip": Case(
        "stable_token", Reply(errcode=40164, errmsg="invalid ip 1.2.3.4, not in whitelist"),
        DeliveryState.FAILED, ("IP白名单", "设置与开发 → 基本配置"),
    ),
    "48001-unauthorized": Case(
        "freepublish/submit", Reply(errcode=48001, errmsg="api unauthorized"),
        DeliveryState.FAILED, ("认证",),
    ),
    "53503-check": Case(
        "freepublish/submit", Reply(errcode=53503), DeliveryState.FAILED, ("发布检查",)
    ),
    "53504-website": Case(
        "freepublish/submit", Reply(errcode=53504), DeliveryState.FAILED, ("官网",)
    ),
    "53505-save": Case(
        "freepublish/submit", Reply(errcode=53505), DeliveryState.FAILED, ("手动保存",)
    ),
    "-1-busy": Case(
        "draft/add", Reply(errcode=-1, errmsg="system error"),
        DeliveryState.RETRYING, ("busy",), (4.0, 6.0),
    ),
    "40125-secret": Case(
        "stable_token", Reply(errcode=40125, errmsg="invalid appsecret"),
        DeliveryState.FAILED, ("app_secret is wrong",),
    ),
    "unknown": Case(
        "draft/add", Reply(errcode=61451, errmsg="invalid parameter"),
        DeliveryState.FAILED, ("61451",),
    ),
    "http-502": Case(
        "draft/add", Reply(status=502, body=b"bad gateway"),
        DeliveryState.RETRYING, ("HTTP 502",), (4.0, 6.0),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_errcode_becomes_the_right_outcome(rig: Rig, case: Case) -> None:
    rig.fake.script(case.api, case.reply)
    rig.items.publish(content(), actor="张三")
    rig.sync()
    delivery = rig.last()
    assert delivery.state is case.state
    assert delivery.last_error is not None
    for fragment in case.says:
        assert fragment in delivery.last_error
    assert SECRET not in delivery.last_error
    failed = [
        e
        for e in rig.deliveries.events.get(delivery.id)
        if isinstance(e, Delivery.Failed)
    ][-1]
    if case.retry is None:
        assert failed.retry_at is None
        return
    assert failed.retry_at is not None
    wait = (failed.retry_at - rig.clock.now).total_seconds()
    assert case.retry[0] <= wait <= case.retry[1]
    rig.clock.advance(seconds=wait)
    assert rig.sync() == {"submitted": 1}


def test_quota_reset_is_midnight_beijing(rig: Rig) -> None:
    rig.fake.script("draft/add", Reply(errcode=45009))
    rig.items.publish(content(), actor="张三")
    rig.sync()
    due = rig.last().due_at.astimezone(CHINA_TZ)
    assert (due.hour, due.minute) == (0, 1)


def test_a_rejected_token_is_refetched_once(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    rig.sync()
    rig.fake.rotate()  # someone else took a new token: ours now answers 42001
    rig.settle()
    assert 42001 in [r.errcode for r in rig.fake.received]
    assert rig.last().state is DeliveryState.SUBMITTED
    assert rig.last().last_error is None
    asked = [json.loads(r.body) for r in rig.fake.calls("stable_token")]
    assert [a["force_refresh"] for a in asked] == [False, False]


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_a_token_errcode_drops_the_cached_token_and_retries_once(
    rig: Rig, errcode: int
) -> None:
    """40001 (invalid credential), 40014 (invalid access_token) and 42001 (expired) on
    an API call: fetch a token again and repeat that call once; no failure recorded."""
    rig.fake.script("draft/add", Reply(errcode=errcode))
    rig.items.publish(content(), actor="张三")
    rig.sync()
    assert rig.last().state is DeliveryState.SUBMITTED
    assert rig.last().last_error is None
    assert [r.errcode for r in rig.fake.calls("draft/add")] == [errcode, 0]
    asked = [json.loads(r.body) for r in rig.fake.calls("stable_token")]
    # The fake still holds the refused token valid, so the plain re-fetch returns the
    # same one and the adapter then forces a new one (which invalidates the old).
    assert [a["force_refresh"] for a in asked] == [False, False, True]


def test_a_second_token_errcode_in_a_row_is_a_failure(rig: Rig) -> None:
    rig.fake.script("draft/add", Reply(errcode=40014), Reply(errcode=40014))
    rig.items.publish(content(), actor="张三")
    rig.sync()
    delivery = rig.last()
    assert delivery.state is DeliveryState.RETRYING
    assert delivery.last_error is not None
    assert "40014" in delivery.last_error
    assert len(rig.fake.calls("draft/add")) == 2  # retried once, not in a loop


def test_the_token_is_refreshed_before_it_expires(
    sqlite_project: Project, clock: FixedClock
) -> None:
    with WechatMpServer(
        app_id=APP_ID, secret=SECRET, clock=clock, expires_in=600
    ) as fake:
        for rig in make_rig(sqlite_project, clock, fake):
            rig.items.publish(content(), actor="张三")
            rig.sync()
            assert len(fake.calls("stable_token")) == 1
            rig.settle()  # 10 s later: cached
            assert len(fake.calls("stable_token")) == 1
            clock.advance(seconds=600 - 300 - 10)  # 5 min before expiry: refresh
            rig.sync()
            assert len(fake.calls("stable_token")) == 2
            assert 42001 not in [r.errcode for r in fake.received]


def test_a_lost_submit_answer_is_reconciled_without_a_second_submit(
    sqlite_project: Project, clock: FixedClock
) -> None:
    with WechatMpServer(
        app_id=APP_ID, secret=SECRET, clock=clock, publish_polls=0
    ) as fake:
        for rig in make_rig(sqlite_project, clock, fake):
            fake.script("freepublish/submit", Reply(drop=True, accept=True))
            rig.items.publish(content(), actor="张三")
            assert rig.sync() == {"succeeded": 1}
            delivery = rig.last()
            assert (delivery.receipt or {})["reconciled"] == "freepublish/batchget"
            assert len(fake.calls("freepublish/submit")) == 1
            assert len(fake.published()) == 1


def test_a_lost_submit_not_found_is_unconfirmed_and_not_resent(rig: Rig) -> None:
    rig.fake.script("freepublish/submit", Reply(drop=True, accept=True))
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"unconfirmed": 1}
    assert "发表记录" in (rig.last().last_error or "")
    rig.clock.advance(days=1)
    assert rig.sync() == {}
    assert len(rig.fake.calls("freepublish/submit")) == 1


def test_limits_are_refused_when_planned(rig: Rig) -> None:
    rig.items.publish(content(body="公" * 25_000), actor="张三")
    rig.deliveries.plan()
    delivery = rig.last()
    assert delivery.state is DeliveryState.FAILED
    assert delivery.attempt == 0
    assert "20,000 characters" in (delivery.last_error or "")
    assert "25," in (delivery.last_error or "")
    assert rig.sync() == {}
    assert rig.fake.received == []


def test_no_secret_reaches_the_store_or_receipts(rig: Rig) -> None:
    publish_and_confirm(rig)
    tokens = rig.fake.tokens
    assert tokens
    for path in Path(rig.project.home).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data, path
            for token in tokens:
                assert token.encode() not in data, path
    receipt = json.dumps(rig.last().receipt)
    assert SECRET not in receipt
    assert not any(t in receipt for t in tokens)
