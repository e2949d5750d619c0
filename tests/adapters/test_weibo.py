"""The 政务微博 adapter, against the loopback fake in syndicate.testing.weibo."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from pydantic import ValidationError
from syndicate_adapters.weibo import (
    ERRORS,
    PIC_BYTES,
    Outcome,
    WeiboAdapter,
    WeiboSettings,
    half_units,
)
from typer.testing import CliRunner, Result

from syndicate.adapter import DeliveryJob, Operation, Rendition, VersionRecord
from syndicate.application import Disclosures
from syndicate.cli import app
from syndicate.delivery import Worker
from syndicate.domain.deliveries import Delivery
from syndicate.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate.outlets import Outlet, load_outlets
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.registry import Registry
from syndicate.testing import AdapterContract, FakeTransport, FixedClock, sample_jobs
from syndicate.testing.fakes import Reply, toml_table
from syndicate.testing.weibo import WeiboServer, weibo_length
from tests.conftest import ITEM_FRONT, content

PORTAL = "https://www.linxi.gov.cn"
DOMAIN = "www.linxi.gov.cn"
TOKEN = "2.00Lx9aBcDeFgHiJkLmNoPqRsTuVwXyZ01"
# The fixed clock is 2026-10-09 01:30 UTC = 09:30 Beijing: 30 min to the next full
# hour, plus the minute the adapter adds.
NEXT_HOUR = 30 * 60 + 60
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class TestWeiboContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = WeiboAdapter
    settings: ClassVar[dict[str, Any]] = {
        "access_token": TOKEN,
        "safe_domain": DOMAIN,
        "portal_url": PORTAL,
        "api_base": "http://127.0.0.1:9",
    }


def make(api_base: str = "http://127.0.0.1:9", **values: Any) -> WeiboAdapter:
    settings = WeiboSettings.model_validate(
        {
            "access_token": TOKEN,
            "safe_domain": DOMAIN,
            "portal_url": PORTAL,
            "api_base": api_base,
            "timeout": 2,
            **values,
        }
    )
    adapter = WeiboAdapter(settings)
    adapter.clock = FixedClock()
    return adapter


def jobs() -> dict[str, DeliveryJob]:
    publish, _, correction, retract, notice = sample_jobs()
    return {
        "publish": publish,
        "correction": correction,
        "retract": retract,
        "notice": notice,
    }


def doc(rendition: Rendition) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(rendition.data)
    return found


def after(job: DeliveryJob, *receipts: dict[str, str]) -> DeliveryJob:
    """`job` with the receipts of the item's earlier deliveries."""
    return replace(job, previous=tuple(receipts))


@pytest.fixture
def weibo(clock: FixedClock) -> Iterator[WeiboServer]:
    with WeiboServer(tokens=[TOKEN], safe_domain=DOMAIN, clock=clock) as fake:
        yield fake


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as plain:  # no network guard: the fake is on 127.0.0.1
        yield plain


def send(adapter: WeiboAdapter, job: DeliveryJob, session: requests.Session) -> Any:
    return adapter.deliver(adapter.render(job), session)


# -- settings ----------------------------------------------------------------------------


def test_the_token_is_a_secret_in_settings_and_their_errors() -> None:
    adapter = make()
    assert TOKEN not in repr(adapter.settings)
    assert adapter.settings.masked_token == "…yZ01"
    with pytest.raises(ValidationError, match="access token") as info:
        WeiboSettings.model_validate(
            {
                "access_token": TOKEN + " !",
                "safe_domain": DOMAIN,
                "portal_url": PORTAL,
            }
        )
    assert TOKEN not in str(info.value)


def test_the_portal_must_be_under_the_safe_domain() -> None:
    with pytest.raises(ValidationError, match="not under safe_domain"):
        make(portal_url="https://www.example.gov.cn")
    with pytest.raises(ValidationError, match="domain name"):
        make(safe_domain="https://www.linxi.gov.cn")
    # The safe domain itself or any subdomain of it is fine; case and a final dot not.
    assert make(safe_domain="Linxi.GOV.cn.").settings.safe_domain == "linxi.gov.cn"
    make(portal_url="https://gk.www.linxi.gov.cn")
    with pytest.raises(ValidationError):
        make(safe_domain="linxi.gov.cn", portal_url="https://notlinxi.gov.cn")


# -- the text ----------------------------------------------------------------------------


def link_of(job: DeliveryJob) -> str:
    return f"{PORTAL}/items/{job.item.item_id}.html"


def test_a_publication_is_title_summary_and_link() -> None:
    job = jobs()["publish"]
    found = doc(make().render(job))
    assert found == {
        "action": "post",
        "kind": "publish",
        "status": "【临溪县2026年第一季度城乡最低生活保障审批结果公告】"
        f"经审批，新增农村低保对象47户73人。详见：{link_of(job)}",
    }


def test_half_units_count_ascii_as_half() -> None:
    assert half_units("公告") == 4
    assert half_units("2026") == 4
    assert half_units("…") == 2
    assert weibo_length("公告2026") == 4.0


def with_content(job: DeliveryJob, **changes: Any) -> DeliveryJob:
    item = replace(job.item, content=content(**changes))
    return replace(job, item=item)


def test_a_long_body_is_cut_with_an_ellipsis_and_the_link_kept_whole() -> None:
    body = "经审批，" + "新增农村低保对象47户73人，" * 40
    job = with_content(jobs()["publish"], body=body)
    status = doc(make().render(job))["status"]
    link = link_of(job)
    assert status.endswith("…详见：" + link)
    assert half_units(status) <= 280
    assert half_units(status) >= 277  # filled up, not cut short
    assert weibo_length(status) <= 140


def test_ascii_in_the_summary_counts_half() -> None:
    body = "A" * 300
    job = with_content(jobs()["publish"], body=body)
    status = doc(make().render(job))["status"]
    title = "【临溪县2026年第一季度城乡最低生活保障审批结果公告】"
    kept = status.removeprefix(title).split("…详见：")[0]
    budget = 280 - half_units(title) - half_units("…详见：" + link_of(job))
    assert set(kept) == {"A"}
    assert len(kept) == budget  # one half unit each


def test_a_title_too_long_for_the_limit_is_cut_too() -> None:
    job = with_content(jobs()["publish"], title="关于" + "临溪县城乡最低生活保障" * 18)
    status = doc(make().render(job))["status"]
    assert status.startswith("【关于临溪县")
    assert "…】详见：" + link_of(job) in status
    assert "经审批" not in status  # the summary went first
    assert half_units(status) <= 280


def test_a_portal_url_too_long_for_any_title_is_refused() -> None:
    adapter = make(portal_url=PORTAL + "/" + "a" * 200)
    with pytest.raises(PermanentDeliveryError, match="shorter portal_url") as info:
        adapter.render(jobs()["publish"])
    assert info.value.code == "limit"


def test_operator_text_cannot_start_a_topic_or_a_mention() -> None:
    job = with_content(
        jobs()["publish"], title="#临溪# 公告", body="请 @临溪发布 转发 #话题#"
    )
    status = doc(make().render(job))["status"]
    assert "#" not in status.split("详见：")[0]
    assert "@" not in status
    assert "\uff03临溪\uff03" in status  # full-width number signs
    assert "\uff20临溪发布" in status  # a full-width commercial at


def test_a_correction_says_so_and_why() -> None:
    job = jobs()["correction"]
    found = doc(make().render(job))
    assert found["kind"] == "correction"
    assert found["status"] == (
        "【更正】《临溪县2026年第一季度城乡最低生活保障审批结果公告》"
        f"更正说明：更正人数。详见：{link_of(job)}"
    )
    silent = replace(job, item=replace(job.item, reason=None))
    assert "更正说明：内容已更新。" in doc(make().render(silent))["status"]
    # A long reason is cut before the title is.
    long = replace(job, item=replace(job.item, reason="更正人数" * 60))
    status = doc(make().render(long))["status"]
    assert (
        "《临溪县2026年第一季度城乡最低生活保障审批结果公告》更正说明：更正人数"
        in status
    )
    assert "…详见：" in status
    assert half_units(status) <= 280


def test_a_repealed_document_is_a_repeal_notice() -> None:
    job = jobs()["correction"]
    repealed = replace(
        job,
        item=replace(job.item, reason=None, repealed="本文件已于2026年5月1日废止。"),
    )
    status = doc(make().render(repealed))["status"]
    assert status.startswith("【废止】《临溪县")
    assert "本文件已于2026年5月1日废止。" in status


def test_a_withdrawal_deletes_every_post_not_yet_deleted() -> None:
    job = after(
        jobs()["retract"],
        {"remote_id": "11", "post_id": "11", "created_at": "x"},
        {"remote_id": "12", "post_id": "12"},
        {"destroyed": "11", "already_gone": ""},  # an erasure took the first one down
        {"remote_id": "13", "post_id": "13"},
    )
    found = doc(make().render(job))
    assert found["action"] == "destroy"
    assert found["destroy"] == ["12", "13"]
    assert found["fallback"] == (
        "【撤回】《临溪县2026年第一季度城乡最低生活保障审批结果公告》已于2026年4月13日"
        "撤回。撤回说明：该公告已撤回。请以政府网站公布的信息为准。"
        f"详见：{link_of(job)}"
    )


def test_a_withdrawal_posts_a_notice_when_so_configured() -> None:
    job = after(jobs()["retract"], {"post_id": "11"})
    found = doc(make(withdraw="notice").render(job))
    assert found["action"] == "post"
    assert found["kind"] == "notice"
    assert found["status"].startswith("【撤回】《临溪县")
    # An erasure still deletes: the point is that the text goes.
    erased = replace(
        job,
        item=replace(job.item, withdrawn=False, erased="个人信息已按规定删除。"),
    )
    found = doc(make(withdraw="notice").render(erased))
    assert found["action"] == "destroy"
    assert found["destroy"] == ["11"]
    assert found["fallback"].startswith("【更正】《临溪县")
    assert "个人信息已按规定删除。" in found["fallback"]
    # So does the erasure of an item withdrawn before (its version says "Erased").
    record = VersionRecord(4, "Erased", job.item.updated_at, "张三", None, "删除")
    both = replace(
        job,
        item=replace(
            job.item, version=4, erased="个人信息已按规定删除。", history=(record,)
        ),
    )
    found = doc(make(withdraw="notice").render(both))
    assert found["action"] == "destroy"
    assert found["fallback"].startswith("【更正】《临溪县")


def test_a_portal_link_outside_the_safe_domain_fails_before_sending() -> None:
    job = replace(jobs()["publish"], portal_url="https://www.example.gov.cn")
    with pytest.raises(PermanentDeliveryError, match="safe_domain") as info:
        make().render(job)
    assert info.value.code == "10017"
    assert "安全域名" in str(info.value)
    plain = replace(jobs()["publish"], portal_url="http://www.linxi.gov.cn")
    with pytest.raises(PermanentDeliveryError, match="https") as info:
        make().render(plain)
    assert info.value.code == "portal_url"


def test_a_table_outside_the_safe_domain_is_refused_when_loaded(tmp_path: Path) -> None:
    table = {
        "kind": "weibo",
        "channel": "new_media",
        "access_token": "${WEIBO_TOKEN}",
        "safe_domain": "www.qingshi.gov.cn",
        "portal_url": PORTAL,
    }
    with pytest.raises(ConfigurationError, match="safe_domain") as info:
        load_outlets(
            {"weibo": table},
            Registry.from_entry_points(),
            home=tmp_path,
            environ={"WEIBO_TOKEN": TOKEN},
        )
    assert "outlets.weibo" in str(info.value)
    assert TOKEN not in str(info.value)


def test_renditions_hold_no_secret_and_are_keyed_by_delivery() -> None:
    adapter = make()
    for job in sample_jobs():
        rendition = adapter.render(job)
        assert TOKEN.encode() not in rendition.data
        assert rendition.key == str(job.delivery_id)


def test_review_notices_are_refused() -> None:
    job = replace(jobs()["publish"], operation=Operation.REVIEW_NOTICE)
    with pytest.raises(PermanentDeliveryError, match="review"):
        make().render(job)


# -- pictures ----------------------------------------------------------------------------


def store(root: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (root / digest[:2]).mkdir(parents=True, exist_ok=True)
    (root / digest[:2] / digest).write_bytes(data)
    return digest


def attachment(
    root: Path, data: bytes, name: str, media_type: str, **more: Any
) -> dict[str, Any]:
    digest = store(root, data)
    return {
        "name": name,
        "media_type": media_type,
        "size": len(data),
        "sha256": digest,
        **more,
    }


def picture_job(root: Path, *attachments: dict[str, Any]) -> DeliveryJob:
    job = with_content(jobs()["publish"], attachments=list(attachments))
    return replace(job, attachments=root)


def test_the_first_picture_goes_with_the_post(tmp_path: Path) -> None:
    pdf = attachment(tmp_path, b"%PDF-1.7\n", "名单.pdf", "application/pdf")
    jpeg = attachment(tmp_path, JPEG, "现场.jpg", "image/jpeg")
    png = attachment(tmp_path, PNG, "图.png", "image/png")
    job = picture_job(tmp_path, pdf, jpeg, png)
    first = make(picture=True).render(job)
    assert first == make(picture=True).render(job)  # deterministic
    pic = doc(first)["pic"]
    assert pic["name"] == "现场.jpg"
    assert pic["media_type"] == "image/jpeg"
    assert base64.b64decode(pic["data"]) == JPEG
    assert "pic" not in doc(make().render(job))  # picture = false (the default)
    assert "pic" not in doc(make(picture=True).render(replace(job, attachments=None)))


@pytest.mark.parametrize(
    "case", ["sealed", "not an image", "type lies", "5 MB", "declared 5 MB"]
)
def test_pictures_weibo_cannot_take_are_left_out(tmp_path: Path, case: str) -> None:
    if case == "sealed":
        found = attachment(tmp_path, JPEG, "a.jpg", "image/jpeg", sealed=True)
    elif case == "not an image":
        found = attachment(tmp_path, b"<svg/>", "a.svg", "image/svg+xml")
    elif case == "type lies":
        found = attachment(tmp_path, b"%PDF-1.7", "a.jpg", "image/jpeg")
    elif case == "5 MB":
        found = attachment(tmp_path, JPEG + bytes(PIC_BYTES), "a.jpg", "image/jpeg")
    else:
        found = attachment(tmp_path, JPEG, "a.jpg", "image/jpeg")
        found["size"] = PIC_BYTES
    rendition = make(picture=True).render(picture_job(tmp_path, found))
    assert "pic" not in doc(rendition)


def test_a_picture_missing_from_the_store_fails_for_good(tmp_path: Path) -> None:
    found = attachment(tmp_path, JPEG, "a.jpg", "image/jpeg")
    (tmp_path / found["sha256"][:2] / found["sha256"]).unlink()
    with pytest.raises(PermanentDeliveryError, match="missing from the attachment"):
        make(picture=True).render(picture_job(tmp_path, found))


def test_a_picture_is_posted_as_multipart_pic(
    tmp_path: Path, weibo: WeiboServer, session: requests.Session
) -> None:
    job = picture_job(tmp_path, attachment(tmp_path, JPEG, "现场.jpg", "image/jpeg"))
    adapter = make(weibo.url, picture=True)
    receipt = send(adapter, job, session)
    [post] = weibo.live()
    assert post.picture == JPEG
    assert post.id == receipt.remote_id
    [call] = weibo.calls("share")
    assert call.headers["content-type"].startswith("multipart/form-data")
    assert call.fields["status"] == doc(adapter.render(job))["status"]
    shown = adapter.read_post(post.id, session)
    assert shown is not None
    assert shown.has_picture


@pytest.mark.parametrize(
    ("data", "code"), [(b"%PDF-1.7", "20005"), (JPEG + bytes(PIC_BYTES), "20006")]
)
def test_the_fake_checks_pictures(
    weibo: WeiboServer, session: requests.Session, data: bytes, code: str
) -> None:
    """What the adapter never sends, the fake still refuses as Weibo does."""
    adapter = make(weibo.url)
    status = doc(adapter.render(jobs()["publish"]))["status"]
    pic = {"name": "a.jpg", "media_type": "image/jpeg", "sha256": "0" * 64}
    pic["data"] = base64.b64encode(data).decode()
    body = json.dumps({"action": "post", "status": status, "pic": pic}).encode()
    with pytest.raises(PermanentDeliveryError) as info:
        adapter.deliver(Rendition.of(body, "application/json", key="k"), session)
    assert info.value.code == code
    assert weibo.live() == []


# -- delivering --------------------------------------------------------------------------


def test_a_post_sends_the_token_in_the_form_body_only(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    job = jobs()["publish"]
    receipt = send(adapter, job, session)
    [post] = weibo.live()
    assert post.text == doc(adapter.render(job))["status"]
    assert receipt.remote_id == post.id
    assert receipt.detail["post_id"] == post.id
    assert receipt.detail["created_at"] == "Fri Oct 09 09:30:00 +0800 2026"
    [call] = weibo.calls("share")
    assert call.method == "POST"
    assert call.path == "/2/statuses/share.json"
    assert call.query == {}
    assert call.fields["access_token"] == TOKEN
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert TOKEN not in json.dumps(receipt.model_dump())


def test_publish_correct_withdraw_by_deleting(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    every = jobs()
    first = send(adapter, every["publish"], session)
    fixed = send(adapter, after(every["correction"], first.detail), session)
    assert [p.text[:4] for p in weibo.live()] == ["【临溪县", "【更正】"]
    gone = send(adapter, after(every["retract"], first.detail, fixed.detail), session)
    assert weibo.live() == []
    assert gone.detail["destroyed"] == f"{first.remote_id},{fixed.remote_id}"
    assert [c.fields["id"] for c in weibo.calls("destroy")] == [
        first.remote_id,
        fixed.remote_id,
    ]
    assert all(c.fields["access_token"] == TOKEN for c in weibo.calls("destroy"))
    assert "notice_id" not in gone.detail


def test_a_post_already_gone_counts_as_deleted(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    first = send(adapter, jobs()["publish"], session)
    withdrawal = after(jobs()["retract"], first.detail, {"post_id": "5012999999999999"})
    gone = send(adapter, withdrawal, session)
    assert gone.detail["destroyed"] == first.remote_id
    assert gone.detail["already_gone"] == "5012999999999999"
    assert weibo.error_codes("destroy") == [None, 20101]
    # Nothing to delete at all: done, and said so.
    nothing = send(adapter, jobs()["retract"], session)
    assert nothing.detail["note"] == "no earlier post of this item on the account"


@pytest.mark.parametrize("refusal", ["10014", "20102"])
def test_a_deletion_weibo_refuses_becomes_a_withdrawal_notice(
    weibo: WeiboServer, session: requests.Session, refusal: str
) -> None:
    adapter = make(weibo.url)
    first = send(adapter, jobs()["publish"], session)
    if refusal == "10014":
        weibo.destroy_allowed = False
    else:
        weibo.script("destroy", Reply(errcode=20102, errmsg="not your own weibo!"))
    gone = send(adapter, after(jobs()["retract"], first.detail), session)
    original, notice = weibo.live()
    assert original.id == first.remote_id
    assert notice.text.startswith("【撤回】《临溪县")
    assert "撤回说明：该公告已撤回。" in notice.text
    assert gone.remote_id == notice.id
    assert gone.detail["notice_id"] == notice.id
    assert gone.detail["not_deleted"] == first.remote_id
    assert gone.detail["destroyed"] == ""
    assert "could not be deleted" in gone.detail["note"]
    assert refusal in gone.detail["note"]


def test_a_withdrawal_notice_posts_and_deletes_nothing(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url, withdraw="notice")
    first = send(adapter, jobs()["publish"], session)
    notice = send(adapter, after(jobs()["retract"], first.detail), session)
    assert weibo.calls("destroy") == []
    assert [p.id for p in weibo.live()] == [first.remote_id, notice.remote_id]
    assert notice.detail["kind"] == "notice"


# -- errors ------------------------------------------------------------------------------

EXPECTED: dict[Outcome, type[DeliveryError]] = {
    Outcome.RETRY: TransientDeliveryError,
    Outcome.WAIT: TransientDeliveryError,
    Outcome.FAIL: PermanentDeliveryError,
    Outcome.RENEW: PermanentDeliveryError,
    Outcome.UNKNOWN: UnknownOutcomeError,
}


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_each_error_code_of_a_post_is_mapped_by_the_table(
    weibo: WeiboServer, session: requests.Session, code: int
) -> None:
    rule = ERRORS[code]
    said = f"{rule.said} (token {TOKEN})"  # a hostile echo of the token
    weibo.script("share", Reply(errcode=code, errmsg=said))
    with pytest.raises(DeliveryError) as info:
        send(make(weibo.url), jobs()["publish"], session)
    error = info.value
    assert type(error) is EXPECTED[rule.outcome]
    assert error.code == str(code)
    assert str(code) in str(error)
    assert TOKEN not in str(error)
    if rule.outcome is Outcome.WAIT:
        assert error.retry_after == NEXT_HOUR
    if rule.outcome is Outcome.RENEW:
        assert "renew the access token" in str(error)
    if code == 10017:
        assert "安全域名" in str(error)
    assert weibo.live() == []


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_each_error_code_of_a_deletion_is_mapped_by_the_table(
    weibo: WeiboServer, session: requests.Session, code: int
) -> None:
    adapter = make(weibo.url)
    first = send(adapter, jobs()["publish"], session)
    weibo.script("destroy", Reply(errcode=code, errmsg=ERRORS[code].said))
    outcome = ERRORS[code].for_api("destroy")
    withdrawal = after(jobs()["retract"], first.detail)
    if outcome is Outcome.GONE:
        assert send(adapter, withdrawal, session).detail["already_gone"]
        return
    if outcome is Outcome.KEPT:
        assert send(adapter, withdrawal, session).detail["notice_id"]
        return
    with pytest.raises(DeliveryError) as info:
        send(adapter, withdrawal, session)
    assert type(info.value) is EXPECTED[outcome]
    assert info.value.code == str(code)


def test_an_unknown_error_code_fails_for_good_with_weibos_text(
    weibo: WeiboServer, session: requests.Session
) -> None:
    weibo.script("share", Reply(errcode=20999, errmsg="something new"))
    with pytest.raises(PermanentDeliveryError, match="20999 \\(something new\\)"):
        send(make(weibo.url), jobs()["publish"], session)


def test_a_10017_about_another_parameter_is_not_called_a_domain_problem(
    weibo: WeiboServer, session: requests.Session
) -> None:
    weibo.script("share", Reply(errcode=10017, errmsg="Parameter (id)'s value invalid"))
    with pytest.raises(PermanentDeliveryError) as info:
        send(make(weibo.url), jobs()["publish"], session)
    assert "安全域名" not in str(info.value)
    assert "bug" in str(info.value)


def test_the_fake_refuses_a_link_outside_its_safe_domain(
    clock: FixedClock, session: requests.Session
) -> None:
    """The app is bound to another domain than the outlet says: Weibo's 10017."""
    with WeiboServer(tokens=[TOKEN], safe_domain="www.qingshi.gov.cn") as fake:
        with pytest.raises(PermanentDeliveryError, match="安全域名") as info:
            send(make(fake.url), jobs()["publish"], session)
        assert fake.error_codes() == [10017]
    assert info.value.code == "10017"
    assert "text not find domain!" in str(info.value)


def test_an_expired_or_unknown_token_needs_a_person(
    weibo: WeiboServer, session: requests.Session
) -> None:
    weibo.expire(TOKEN)
    with pytest.raises(PermanentDeliveryError, match="renew the access token") as info:
        send(make(weibo.url), jobs()["publish"], session)
    assert info.value.code == "21327"
    assert TOKEN not in str(info.value)
    weibo.add_token(TOKEN)
    weibo.tokens.discard(TOKEN)
    with pytest.raises(PermanentDeliveryError, match="invalid_access_token"):
        send(make(weibo.url), jobs()["publish"], session)


def test_the_same_text_twice_is_an_unknown_outcome(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    send(adapter, jobs()["publish"], session)
    again = replace(jobs()["publish"], delivery_id=jobs()["notice"].delivery_id)
    with pytest.raises(UnknownOutcomeError, match="resolve") as info:
        send(adapter, again, session)
    assert info.value.code == "20019"
    assert len(weibo.live()) == 1


def test_the_per_hour_limit_waits_for_the_next_hour(
    clock: FixedClock, session: requests.Session
) -> None:
    with WeiboServer(tokens=[TOKEN], clock=clock, per_hour=1) as fake:
        adapter = make(fake.url)
        send(adapter, jobs()["publish"], session)
        with pytest.raises(TransientDeliveryError) as info:
            send(adapter, jobs()["correction"], session)
        assert info.value.code == "10023"
        assert info.value.retry_after == NEXT_HOUR
        clock.advance(hours=1)
        send(adapter, jobs()["correction"], session)
        assert len(fake.live()) == 2


def test_the_fake_counts_140_characters(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    link = link_of(jobs()["publish"])
    fits = "公" * (140 - int(weibo_length("详见：" + link) + 0.5)) + "详见：" + link
    over = "公" + fits
    for status, ok in ((fits, True), (over, False)):
        body = json.dumps({"action": "post", "status": status}).encode()
        rendition = Rendition.of(body, "application/json", key=status[:8])
        if ok:
            adapter.deliver(rendition, session)
        else:
            with pytest.raises(PermanentDeliveryError) as info:
                adapter.deliver(rendition, session)
            assert info.value.code == "20012"
    assert weibo.error_codes("share") == [None, 20012]


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (
            Reply(status=502, body=b"<html>bad gateway</html>"),
            TransientDeliveryError,
            None,
        ),
        (Reply(status=500, body=b""), TransientDeliveryError, None),
        (Reply(status=302, body=b""), PermanentDeliveryError, None),
        (Reply(status=404, body=b"not found"), PermanentDeliveryError, None),
        (Reply(status=200, body=b"{}"), UnknownOutcomeError, None),
        (Reply(status=200, body=b"<html>"), UnknownOutcomeError, None),
        (Reply(drop=True), UnknownOutcomeError, None),
    ],
    ids=["502", "500", "redirect", "404", "no id", "not json", "dropped"],
)
def test_http_failures_of_a_post(
    weibo: WeiboServer,
    session: requests.Session,
    reply: Reply,
    error: type[DeliveryError],
    retry_after: float | None,
) -> None:
    weibo.script("share", reply)
    with pytest.raises(error) as info:
        send(make(weibo.url), jobs()["publish"], session)
    assert info.value.retry_after == retry_after


def test_a_post_whose_answer_is_lost_is_up_and_never_resent_blindly(
    weibo: WeiboServer, session: requests.Session
) -> None:
    weibo.script("share", Reply(drop=True, accept=True))
    adapter = make(weibo.url)
    with pytest.raises(UnknownOutcomeError, match="resolve"):
        send(adapter, jobs()["publish"], session)
    assert len(weibo.live()) == 1  # it did go up
    # An operator who resends anyway is told it is there: 20019, still unknown.
    with pytest.raises(UnknownOutcomeError) as info:
        send(adapter, jobs()["publish"], session)
    assert info.value.code == "20019"
    assert len(weibo.live()) == 1


def test_a_timeout_after_sending_is_an_unknown_outcome() -> None:
    fake = FakeTransport(requests.ReadTimeout("read timed out"))
    with pytest.raises(UnknownOutcomeError):
        send(make("https://api.weibo.com"), jobs()["publish"], fake.session())
    [sent] = fake.requests
    assert sent.url == "https://api.weibo.com/2/statuses/share.json"
    assert TOKEN not in (sent.url or "")


def test_429_honours_retry_after() -> None:
    fake = FakeTransport((429, {"Retry-After": "120"}, b""))
    with pytest.raises(TransientDeliveryError) as info:
        send(make("https://api.weibo.com"), jobs()["publish"], fake.session())
    assert info.value.retry_after == 120


def test_nothing_sent_is_transient(session: requests.Session) -> None:
    with WeiboServer() as fake:
        url = fake.url  # a port nothing listens on once it is closed
    with pytest.raises(TransientDeliveryError, match="nothing was sent"):
        send(make(url), jobs()["publish"], session)


def test_a_lost_answer_to_a_deletion_is_asked_again(
    weibo: WeiboServer, session: requests.Session
) -> None:
    adapter = make(weibo.url)
    first = send(adapter, jobs()["publish"], session)
    weibo.script("destroy", Reply(drop=True, accept=True))
    withdrawal = after(jobs()["retract"], first.detail)
    with pytest.raises(TransientDeliveryError, match="asked again"):
        send(adapter, withdrawal, session)
    assert weibo.live() == []
    gone = send(adapter, withdrawal, session)  # the retry: 20101, already gone
    assert gone.detail["already_gone"] == first.remote_id


def test_statuses_update_is_closed(
    weibo: WeiboServer, session: requests.Session
) -> None:
    answer = session.post(
        f"{weibo.url}/2/statuses/update.json",
        data={"access_token": TOKEN, "status": "x"},
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "error": "Insufficient app permissions!",
        "error_code": 10014,
        "request": "/2/statuses/update.json",
    }


# -- reading a post ----------------------------------------------------------------------


def test_read_post_shows_what_was_posted_then_nothing(
    weibo: WeiboServer,
    session: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    adapter = make(weibo.url)
    job = jobs()["publish"]
    first = send(adapter, job, session)
    shown = adapter.read_post(first.remote_id, session)
    assert shown is not None
    assert shown.text == doc(adapter.render(job))["status"]
    assert not shown.has_picture
    [call] = weibo.calls("show")
    assert call.method == "GET"
    assert call.query["access_token"] == TOKEN  # show takes it in the query…
    assert TOKEN not in caplog.text  # …which urllib3's debug log never shows
    assert "access_token=***" in caplog.text
    send(adapter, after(jobs()["retract"], first.detail), session)
    assert adapter.read_post(first.remote_id, session) is None
    weibo.expire(TOKEN)
    with pytest.raises(PermanentDeliveryError, match="renew"):
        adapter.read_post(first.remote_id, session)


def test_the_adapter_does_not_claim_to_read_back() -> None:
    """`read_back` cannot find the delivery's own post (see docs/outlets/weibo.md)."""
    from syndicate.adapter import ReadsBack

    assert WeiboAdapter.capabilities.reads_back is False
    assert not issubclass(WeiboAdapter, ReadsBack)


# -- through a Worker --------------------------------------------------------------------


@dataclass
class Rig:
    clock: FixedClock
    fake: WeiboServer
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

    def last(self) -> Delivery:
        found = max(
            self.deliveries.all_deliveries().values(), key=lambda d: d.item_version
        )
        return self.deliveries.delivery(found.id)


@pytest.fixture
def rig(sqlite_project: Project, clock: FixedClock) -> Iterator[Rig]:
    with WeiboServer(tokens=[TOKEN], clock=clock) as fake:
        outlets = load_outlets(
            {"weibo": fake.outlet_table("WEIBO_TOKEN", portal_url=PORTAL, timeout=2)},
            Registry.from_entry_points(),
            home=sqlite_project.home,
            environ={"WEIBO_TOKEN": TOKEN},
        )
        with (
            sqlite_project.disclosures(clock=clock) as items,
            sqlite_project.deliveries(items, clock=clock, outlets=outlets) as log,
        ):
            yield Rig(clock, fake, items, log, outlets)


def test_a_rate_limit_is_retried_after_the_next_hour(rig: Rig) -> None:
    rig.fake.script(
        "share", Reply(errcode=10023, errmsg="User requests out of rate limit!")
    )
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"retrying": 1}
    delivery = rig.last()
    failed = [
        e
        for e in rig.deliveries.events.get(delivery.id)
        if isinstance(e, Delivery.Failed)
    ][-1]
    assert failed.retry_at is not None
    assert (failed.retry_at - rig.clock.now).total_seconds() == NEXT_HOUR
    rig.clock.advance(seconds=NEXT_HOUR)
    assert rig.sync() == {"succeeded": 1}
    assert len(rig.fake.live()) == 1


def test_an_expired_token_fails_until_a_person_renews_it(rig: Rig) -> None:
    rig.fake.expire(TOKEN)
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"failed": 1}
    error = rig.last().last_error or ""
    assert "21327" in error
    assert "renew the access token" in error
    assert TOKEN not in error


def test_a_lost_post_is_unconfirmed_and_not_resent(rig: Rig) -> None:
    rig.fake.script("share", Reply(drop=True, accept=True))
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"unconfirmed": 1}
    rig.clock.advance(days=1)
    assert rig.sync() == {}
    assert len(rig.fake.calls("share")) == 1


def test_a_withdrawal_weibo_will_not_delete_is_a_notice_in_the_log(rig: Rig) -> None:
    rig.items.publish(content(), actor="张三")
    assert rig.sync() == {"succeeded": 1}
    posted = rig.last().receipt or {}
    rig.fake.destroy_allowed = False
    item = rig.items.items()[0]
    rig.items.withdraw(item.id, actor="张三", reason="误发", public_note="误发，撤回。")
    assert rig.sync() == {"succeeded": 1}
    withdrawn = rig.last()
    assert withdrawn.operation == "retract"
    receipt = withdrawn.receipt or {}
    assert receipt["not_deleted"] == posted["post_id"]
    assert "could not be deleted" in receipt["note"]
    _, notice = rig.fake.live()
    assert notice.text.startswith("【撤回】")
    assert "撤回说明：误发，撤回。" in notice.text


# -- end to end: the command line ------------------------------------------------------


def test_publish_revise_withdraw_through_the_command_line(tmp_path: Path) -> None:
    with WeiboServer(tokens=[TOKEN]) as fake:
        home = tmp_path / "home"
        runner = CliRunner(env={"SYNDICATE_ACTOR": "运维", "WEIBO_TOKEN": TOKEN})

        def cli(*args: str) -> Result:
            return runner.invoke(app, ["--home", str(home), *args])

        assert cli("init", "--no-review").exit_code == 0
        table = toml_table(
            "linxi-weibo", fake.outlet_table("WEIBO_TOKEN", portal_url=PORTAL)
        )
        with (home / "syndicate.toml").open("a", encoding="utf-8") as config:
            config.write("\n" + table)
        checked = cli("outlets", "check")
        assert checked.exit_code == 0, checked.output
        assert TOKEN not in checked.output
        item = tmp_path / "item.md"
        item.write_text(f"+++\n{ITEM_FRONT}+++\n经审批，新增农村低保对象47户73人。\n")
        assert cli("items", "publish", str(item)).exit_code == 0
        assert cli("sync").exit_code == 0
        item.write_text(f"+++\n{ITEM_FRONT}+++\n经审批，新增农村低保对象48户75人。\n")
        ref = "临溪县民政局/11330100MB0000006R/2026-00019"
        revised = cli("items", "revise", ref, str(item), "--reason", "更正人数")
        assert revised.exit_code == 0, revised.output
        assert cli("sync").exit_code == 0
        [first, fixed] = fake.live()
        assert first.text.startswith(
            "【临溪县2026年第一季度城乡最低生活保障审批结果公告】"
        )
        assert "47户73人" in first.text
        assert fixed.text.startswith("【更正】《临溪县")
        assert "更正说明：更正人数。" in fixed.text
        assert fixed.text.endswith(".html")
        withdrawn = cli(
            "items", "withdraw", ref, "--reason", "重新审核", "--note", "撤回"
        )
        assert withdrawn.exit_code == 0, withdrawn.output
        assert cli("sync").exit_code == 0
        rows = json.loads(cli("status", "--json").stdout)
        assert fake.live() == []
        assert [c.fields["id"] for c in fake.calls("destroy")] == [first.id, fixed.id]
        assert set(fake.error_codes()) == {None}
    assert [(r["version"], r["state"]) for r in rows] == [(3, "succeeded")]
    assert {r["outlet"] for r in rows} == {"linxi-weibo"}
