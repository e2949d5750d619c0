"""The village-group relay adapter (`wechat_relay`) on its own: settings, the task it
renders (card, text, link), how it tells the person on each channel, digests."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from uuid import UUID

import pytest
import requests
import segno
import standardwebhooks
from PIL import Image
from playwright.sync_api import Browser
from pydantic import ValidationError
from syndicate_adapters._card import CARD_WIDTH
from syndicate_adapters.wechat_relay import (
    RelayTask,
    WechatRelayAdapter,
    WechatRelaySettings,
)

from syndicate.adapter import DeliveryJob, Operation, Reminder, ReminderEntry
from syndicate.testing import AdapterContract, LoopbackServer, sample_jobs
from syndicate.testing.fakes import DingTalkRobotServer, WeComRobotServer
from tests.browser import (
    axe_violations,
    browser_fixture,  # noqa: F401  (registers the `browser` fixture)
    format_violations,
    serve_directory,
    visit,
    vnu_errors,
)

PORTAL = "https://www.linxi.gov.cn"
KEY = "693a91f6-7d0c-4bc4-97a0-0ec2f1fa5a01"
TOKEN = "a" * 64


class TestWechatRelayContract(AdapterContract):
    adapter_class = WechatRelayAdapter
    settings: ClassVar[dict[str, Any]] = {
        "group": "柳塘村村民群",
        "relayer": "王芳",
        "portal_url": PORTAL,
        "folder": tempfile.gettempdir() + "/syndicate-relay-contract",
        "notify": "wecom",
        "notify_webhook": KEY,
        "notify_base_url": "http://127.0.0.1:9",
    }


def adapter(tmp_path: Path, **overrides: Any) -> WechatRelayAdapter:
    settings = {
        "group": "柳塘村村民群",
        "relayer": "王芳",
        "portal_url": PORTAL,
        "folder": str(tmp_path / "relay"),
        **overrides,
    }
    return WechatRelayAdapter(WechatRelaySettings.model_validate(settings))


def task_of(relay: WechatRelayAdapter, job: DeliveryJob) -> RelayTask:
    return RelayTask.model_validate(json.loads(relay.render(job).data))


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({"notify": "wecom"}, "needs notify_webhook"),
        ({"notify": "webhook", "notify_webhook": "https://a.example"}, "notify_secret"),
        ({"notify_webhook": KEY}, "nothing is sent"),
        ({"notify": "wecom", "notify_webhook": "not a key!"}, "webhook"),
        ({"group": "a\nb"}, "group"),
        ({"portal_url": "http://insecure.example"}, "portal_url"),
    ],
)
def test_settings_are_checked(
    tmp_path: Path, overrides: dict[str, Any], said: str
) -> None:
    with pytest.raises(ValidationError) as info:
        adapter(tmp_path, **overrides)
    assert said in str(info.value)
    assert "not a key!" not in str(info.value)  # input never echoed


def test_the_card_is_a_phone_sized_png_whose_qr_code_is_the_page(
    tmp_path: Path,
) -> None:
    relay = adapter(tmp_path)
    job = sample_jobs()[0]
    task = task_of(relay, job)
    image = Image.open(io.BytesIO(task.card())).convert("L")
    assert image.width == CARD_WIDTH
    assert 1000 < image.height < 4000
    link = f"{PORTAL}/items/{job.item.item_id}.html"
    assert task.links == (link,)
    assert link in task.text
    assert job.item.content.title in task.text
    # The QR code in the card is segno's code for the link, module for module.
    code = segno.make(link, error="m", micro=False)
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    cells = len(matrix)
    scale = 360 // cells
    left = (CARD_WIDTH - cells * scale) // 2
    top = (
        next(
            y
            for y in range(image.height)
            if image.getpixel((left + scale * 2 + scale // 2, y)) == 0
        )
        - 2 * scale
    )
    for row in range(cells):
        for col in range(cells):
            pixel = image.getpixel(
                (left + col * scale + scale // 2, top + row * scale + scale // 2)
            )
            assert (pixel == 0) == bool(matrix[row][col]), (row, col)
    # Pure: the same job gives the same bytes.
    assert relay.render(job).data == relay.render(job).data


def test_corrections_and_withdrawals_depend_on_what_was_forwarded(
    tmp_path: Path,
) -> None:
    relay = adapter(tmp_path)
    jobs = sample_jobs()
    revised, withdrawn = jobs[2], jobs[4]
    assert revised.operation is Operation.CORRECTION
    assert "【更正】" not in task_of(relay, revised).heading  # nothing forwarded yet
    assert task_of(relay, withdrawn).kind == "none"
    forwarded = ({"task": "forward", "file": "x.png"},)
    revised = replace(revised, previous=forwarded)
    assert task_of(relay, revised).heading.startswith("【更正】")
    assert "更正说明" in task_of(relay, revised).text
    withdrawn = replace(withdrawn, previous=forwarded)
    task = task_of(relay, withdrawn)
    assert task.kind == "forward"
    assert task.heading.startswith("【撤回】")
    # A withdrawal with nothing to forward asks nobody and writes nothing.
    receipt = relay.deliver(relay.render(jobs[4]), requests.Session())
    assert receipt.detail == {"task": "none", "attestation": "none"}
    assert not (tmp_path / "relay").exists()


def test_sheet_only_writes_the_task_folder(tmp_path: Path) -> None:
    relay = adapter(tmp_path)
    job = sample_jobs()[0]
    receipt = relay.deliver(relay.render(job), requests.Session())
    assert receipt.detail["notified"] == "sheet"
    folder = tmp_path / "relay" / "柳塘村村民群"
    sheet = next(folder.glob("*.html")).read_text("utf-8")
    assert "转发任务" in sheet
    assert "王芳" in sheet
    assert job.item.content.title in sheet
    assert f"确认码 <strong>{job.delivery_id.hex[:8]}" in sheet
    assert relay.reminder_schedule() is None  # a sheet cannot remind anyone


def test_dingtalk_tells_the_person_in_markdown(tmp_path: Path) -> None:
    with DingTalkRobotServer() as fake:
        fake.add_robot(TOKEN, keywords=["转发"])
        relay = adapter(
            tmp_path,
            notify="dingtalk",
            notify_webhook=TOKEN,
            notify_base_url=fake.url,
        )
        job = sample_jobs()[0]
        relay.deliver(relay.render(job), requests.Session())
        (sent,) = fake.messages(TOKEN)
        assert sent["msgtype"] == "markdown"
        assert "柳塘村村民群" in sent["markdown"]["text"]
        assert (
            f"[查看全文]({PORTAL}/items/{job.item.item_id}.html)"
            in (sent["markdown"]["text"])
        )
        # A title written as a Markdown link stays text in the 网格员's group.
        hostile = job.item.content.model_copy(
            update={"title": "[点此领取补贴](https://evil.example)"}
        )
        job = replace(job, item=replace(job.item, content=hostile))
        relay.deliver(relay.render(job), requests.Session())
        text = fake.messages(TOKEN)[-1]["markdown"]["text"]
        assert "](https://evil.example)" not in text


def test_a_reminder_names_what_waits(tmp_path: Path) -> None:
    with WeComRobotServer(keys=[KEY]) as fake:
        relay = adapter(
            tmp_path, notify="wecom", notify_webhook=KEY, notify_base_url=fake.url
        )
        job = sample_jobs()[0]
        since = job.item.updated_at
        reminder = Reminder(
            outlet="v",
            number=2,
            at=since.replace(day=since.day + 2),
            entries=(
                ReminderEntry(
                    delivery_id=UUID(int=7),
                    ref=job.item.ref,
                    title=job.item.content.title,
                    operation=Operation.PUBLISH,
                    since=since,
                ),
            ),
        )
        relay.remind(reminder, requests.Session())
        (sent,) = fake.messages(KEY)
        said = sent["text"]["content"]
        assert "第2次提醒" in said
        assert "48小时" in said
        assert job.item.content.title in said


def test_a_digest_lists_every_item_on_one_card(tmp_path: Path) -> None:
    relay = adapter(tmp_path)
    published = sample_jobs()[0]
    jobs = []
    for n in range(5):
        content = published.item.content.model_copy(
            update={"title": f"青石镇第{n + 1}批临时救助审批结果公告"}
        )
        jobs.append(
            replace(
                published,
                delivery_id=UUID(int=n + 1),
                item=replace(
                    published.item, content=content, item_id=UUID(int=n + 100)
                ),
            )
        )
    (message,) = relay.render_digest(jobs)
    assert message.meta["covers"] == ",".join(str(UUID(int=n + 1)) for n in range(5))
    task = RelayTask.model_validate(json.loads(message.data))
    assert task.kind == "digest"
    assert len(task.links) == 5
    assert all(f"第{n + 1}批" in task.text for n in range(5))
    card = Image.open(io.BytesIO(base64.b64decode(task.card_png)))
    assert card.width == CARD_WIDTH
    assert relay.render_digest(jobs)[0].data == message.data


def test_the_task_sheet_is_valid_accessible_html_that_runs_nothing(
    browser: Browser, tmp_path: Path
) -> None:
    """What a 网格员 opens or prints: valid HTML (vnu), no WCAG violation (axe), the
    card shown, and operator text that looks like markup shown as text, never run."""
    relay = adapter(tmp_path, group='柳塘村<script>__pwn("group")</script>村民群')
    job = sample_jobs()[0]
    hostile = job.item.content.model_copy(
        update={"title": '公告<img src=x onerror=__pwn("title")>【重要】'}
    )
    job = replace(job, item=replace(job.item, content=hostile))
    relay.deliver(relay.render(job), requests.Session())
    (folder,) = (tmp_path / "relay").iterdir()
    (sheet,) = folder.glob("*.html")
    assert vnu_errors([sheet]) == []
    with (
        serve_directory(folder) as base,
        visit(browser, base + quote(sheet.name)) as page,
    ):
        page.settle()
        assert not page.xss_hits()
        assert not page.problems()
        body = page.page.inner_text("body")
        assert '<img src=x onerror=__pwn("title")>' in body
        assert page.page.locator("img").evaluate("img => img.naturalWidth") == 1080
        violations = axe_violations(page.page)
        assert violations == [], format_violations(violations)


def test_a_mini_program_backend_gets_the_task_signed(tmp_path: Path) -> None:
    """notify = webhook: the task as JSON (card included), signed per Standard
    Webhooks with the outlet's secret, for a backend that pushes it to the 网格员."""
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    got: list[tuple[dict[str, str], bytes]] = []

    def receive(request: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        got.append(({k.lower(): v for k, v in request.headers.items()}, body))
        return 204, {}, b""

    with LoopbackServer(receive) as server:
        relay = adapter(
            tmp_path,
            notify="webhook",
            notify_webhook=f"{server.url}/relay",
            notify_secret=secret,
        )
        job = sample_jobs()[0]
        relay.deliver(relay.render(job), requests.Session())
    ((headers, body),) = got
    data = standardwebhooks.Webhook(secret).verify(body, headers)
    assert data["type"] == "relay.task"
    assert data["group"] == "柳塘村村民群"
    assert data["confirm"] == job.delivery_id.hex[:8]
    card = Image.open(io.BytesIO(base64.b64decode(data["card_png"])))
    assert card.width == CARD_WIDTH
