"""The screen adapter: the LCD page and the LED file, on disk, through the engine and in
headless chromium at 1920x1080 and 1080x1920.

Screenshots are always saved under the test's tmp folder; `SYNDICATE_UPDATE_SCREENSHOTS=1`
also writes the committed ones in `docs/images/` (run it with a CJK font, e.g.
`FONTCONFIG_FILE` naming a config whose `<dir>` is the `pylopdf_fonts_zh_cn` package).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import requests
from pydantic import BaseModel, ValidationError
from syndicate_adapters.kiosk import _qr
from syndicate_adapters.screen import (
    ScreenAdapter,
    ScreenSettings,
    cells,
    led_safe,
    screen_items,
    summary_paragraphs,
    wrap_cells,
)

from syndicate import adapterkit
from syndicate.adapter import Capabilities, DeliveryJob, ItemView, Rendition
from syndicate.domain.content import ItemContent, canonical_json
from syndicate.engine import Engine
from syndicate.errors import PermanentDeliveryError
from syndicate.testing import AdapterContract, FixedClock
from tests.adapters.test_kiosk import NOW, PORTAL, T0, demo_items, freeze, job, view
from tests.browser import (
    Visit,
    axe_violations,
    browser,  # noqa: F401
    format_violations,
    screenshot,
    serve_directory,
    visit,
    vnu_errors,
)
from tests.conftest import content

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
SECONDS = 15
FILES = {
    "lcd/index.html",
    "lcd/items.json",
    "lcd/bundle.js",
    "led/notice.txt",
    "led/preview.html",
}


class TestScreenContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = ScreenAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-screen"}
    network: ClassVar[bool] = False


# -- helpers --------------------------------------------------------------------------


def make(path: Path, **settings: Any) -> ScreenAdapter:
    return ScreenAdapter(ScreenSettings.model_validate({"path": path, **settings}))


def unpack(rendition: Rendition) -> tuple[dict[str, str], dict[str, bytes]]:
    data = json.loads(rendition.data)
    binary = {p: base64.b64decode(b) for p, b in data["binary"].items()}
    return data["files"], binary


def manifest(adapter: ScreenAdapter, delivery: DeliveryJob) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        unpack(adapter.render(delivery))[0]["lcd/items.json"]
    )
    return found


def lcd_ids(found: dict[str, Any]) -> list[str]:
    return [e["id"] for e in found["items"]]


def led_lines(adapter: ScreenAdapter, delivery: DeliveryJob) -> list[str]:
    data = unpack(adapter.render(delivery))[1]["led/notice.txt"]
    text = data.decode(adapter.settings.led_encoding.replace("utf-8", "utf-8-sig"))
    assert text.endswith("\r\n")
    return text[:-2].split("\r\n")


def notice(
    index_no: str, start: str, end: str, title: str = "拟审批公示"
) -> ItemContent:
    return content(
        index_no=index_no,
        title=f"关于青石镇污水处理厂扩建工程{title}",
        stage="执行公开",
        area="环境保护",
        notice_period={"start": start, "end": end},
    )


def at(day: str) -> datetime:
    """10:00 on `day`, China time."""
    return datetime.fromisoformat(f"{day}T10:00:00+08:00")


# -- what is shown, in what order ---------------------------------------------------------


def test_items_json_lists_what_each_screen_shows(tmp_path: Path) -> None:
    plain = view(content(index_no="S-1", title="甲公告"), at=T0)
    policy = view(
        content(index_no="S-2", title="乙方案", doc_no="临建〔2026〕12号"),
        at=T0 + timedelta(hours=1),
    )
    gone = replace(
        view(content(index_no="S-3", title="丙公告"), at=T0 + timedelta(hours=2)),
        version=2,
        withdrawn=True,
    )
    adapter = make(tmp_path, title="青石镇便民服务中心 · 政务公开", led_max_items=1)
    rendition = adapter.render(job([plain, policy], [gone]))
    text, binary = unpack(rendition)
    assert set(text) | set(binary) == FILES
    found = json.loads(text["lcd/items.json"])

    assert found["kind"] == "syndicate.screen"
    assert found["title"] == "青石镇便民服务中心 · 政务公开"
    # The newest event among the outlet's items, the withdrawal included; no wall clock.
    assert found["built_at"] == "2026-04-11T12:00:00+08:00"
    assert lcd_ids(found) == [str(policy.item_id), str(plain.item_id)]
    for entry, item in zip(found["items"], [policy, plain], strict=True):
        assert (entry["version"], entry["content_hash"], entry["title"]) == (
            item.version,
            item.content_hash,
            item.content.title,
        )
    assert found["led"]["items"] == [str(policy.item_id)]  # led_max_items = 1
    assert [e["led"] for e in found["items"]] == [True, False]
    assert found["led"]["encoding"] == "gb18030"
    assert found["led"]["substituted"] == []
    # Every other file's hash, the LED file's over its exact bytes.
    assert found["files"] == {
        **{
            p: hashlib.sha256(t.encode("utf-8")).hexdigest()
            for p, t in text.items()
            if p != "lcd/items.json"
        },
        "led/notice.txt": hashlib.sha256(binary["led/notice.txt"]).hexdigest(),
    }
    page = text["lcd/index.html"]
    assert page.index("乙方案") < page.index("甲公告")
    assert "临建〔2026〕12号" in page
    assert str(gone.item_id) not in "".join(text.values())
    assert text["lcd/bundle.js"] == (
        f'window.screenBundle && window.screenBundle("{found["bundle"]}");\n'
    )
    assert f'data-bundle="{found["bundle"]}"' in page


def test_render_depends_on_the_set_not_on_order_or_delivery(tmp_path: Path) -> None:
    items = [
        view(content(index_no=f"D-{n}", title=f"公告{n}"), at=T0 + timedelta(hours=n))
        for n in range(4)
    ]
    adapter = make(tmp_path, portal_url=PORTAL)
    one = adapter.render(job(items, number=1))
    other = adapter.render(job(list(reversed(items)), number=9))
    assert one.data == other.data
    assert one.key != other.key
    # A changed setting changes the bundle's name, so a screen reloads into it.
    slower = make(tmp_path, portal_url=PORTAL, seconds_per_page=30).render(
        job(items, number=1)
    )
    assert (
        json.loads(unpack(slower)[0]["lcd/items.json"])["bundle"]
        != json.loads(unpack(one)[0]["lcd/items.json"])["bundle"]
    )


def test_a_qr_code_of_the_portal_page_only_with_a_portal(tmp_path: Path) -> None:
    item = view(content())
    link = f"{PORTAL}/items/{item.item_id}.html"

    def page(adapter: ScreenAdapter, delivery: DeliveryJob) -> str:
        return unpack(adapter.render(delivery))[0]["lcd/index.html"]

    assert '<aside class="qr">' not in page(make(tmp_path), job([item]))
    configured = page(make(tmp_path, portal_url=PORTAL + "/"), job([item]))
    given = page(make(tmp_path), replace(job([item]), portal_url=PORTAL))
    assert configured == given
    assert '<aside class="qr"><img src="data:image/svg+xml' in configured
    # The code holds the item's portal address (segno's SVG: its path is the data).
    assert _qr(link) in html.unescape(configured)


def test_notices_first_ending_soonest_then_newest_first(tmp_path: Path) -> None:
    old = view(content(index_no="O-1", title="旧公告"), at=at("2026-07-01"))
    new = view(content(index_no="O-2", title="新公告"), at=at("2026-07-10"))
    # Revised later: a correction does not move an item forward.
    fixed = replace(old, version=2, updated_at=at("2026-07-21"))
    late = view(notice("O-3", "2026-07-20", "2026-07-30"), at=at("2026-07-20"))
    soon = view(notice("O-4", "2026-07-16", "2026-07-24"), at=at("2026-07-16"))
    shown = screen_items([fixed, new, late, soon], at("2026-07-21"))
    assert [i.item_id for i in shown] == [
        soon.item_id,
        late.item_id,
        new.item_id,
        old.item_id,
    ]


@pytest.mark.parametrize(
    ("built", "on_lcd", "on_led"),
    [
        # Live before its window opens (the core holds a 公示 until then, so only a
        # hand-made job has this): on the page, which shows it from its first day on
        # the screen's clock; not in the LED file, which has no clock.
        ("2026-07-20", True, False),
        ("2026-07-21", True, True),  # the first day
        ("2026-07-27", True, True),  # the last day: dates are inclusive
        ("2026-07-28", False, False),  # over, even before the log says so
    ],
)
def test_a_notice_shows_only_while_its_window_is_open(
    tmp_path: Path, built: str, on_lcd: bool, on_led: bool
) -> None:
    item = view(notice("N-1", "2026-07-21", "2026-07-27"), at=at("2026-07-19"))
    other = view(content(index_no="N-2"), at=at(built))
    adapter = make(tmp_path)
    delivery = job([item, other])
    found = manifest(adapter, delivery)
    assert (str(item.item_id) in lcd_ids(found)) is on_lcd
    assert (str(item.item_id) in found["led"]["items"]) is on_led
    page = unpack(adapter.render(delivery))[0]["lcd/index.html"]
    if on_lcd:
        assert (
            f'data-item="{item.item_id}" data-notice-start="2026-07-21" '
            'data-notice-end="2026-07-27"'
        ) in page
        assert "公示期：2026年7月21日至7月27日" in page
    lines = led_lines(adapter, delivery)
    assert any("【公示】" in line for line in lines) is on_led
    assert ("公示期：2026年7月21日至7月27日" in lines) is on_led


def test_the_log_ends_a_notice_whatever_the_date(tmp_path: Path) -> None:
    item = view(notice("E-1", "2026-07-21", "2026-07-27"), at=at("2026-07-21"))
    for after_end in ("hide_details", "keep", "remove"):
        ended = replace(item, version=2, notice_ended=after_end)
        found = manifest(make(tmp_path), job([ended]))
        assert found["items"] == []
        assert found["led"]["items"] == []


def test_only_documents_in_force_are_shown(tmp_path: Path) -> None:
    base = {"stage": "决策公开", "area": "农村危房改造"}
    kept = view(content(index_no="V-1", validity="现行有效", **base), at=T0)
    amended = view(content(index_no="V-2", validity="已修改", **base), at=T0)
    repealed = replace(
        view(content(index_no="V-3", **base), at=T0),
        version=2,
        repealed="本文件已于2026年4月11日废止。",
    )
    expired = replace(
        view(content(index_no="V-4", **base), at=T0),
        version=2,
        expired="本文件已于2026年4月11日失效。",
    )
    declared = view(content(index_no="V-5", validity="已废止", **base), at=T0)
    lapsing = view(content(index_no="V-6", valid_until="2026-04-10", **base), at=T0)
    lasting = view(content(index_no="V-7", valid_until="2026-04-11", **base), at=T0)
    reading = replace(
        view(content(index_no="V-8", **base), at=T0), policy_repealed=True
    )
    items = [kept, amended, repealed, expired, declared, lapsing, lasting, reading]
    found = manifest(make(tmp_path), job(items))
    assert set(lcd_ids(found)) == {
        str(kept.item_id),
        str(amended.item_id),
        str(lasting.item_id),
    }
    assert set(found["led"]["items"]) == set(lcd_ids(found))
    page = unpack(make(tmp_path).render(job(items)))[0]["lcd/index.html"]
    # The page drops it by itself after its last valid day.
    assert 'data-valid-until="2026-04-11"' in page


def test_the_summary_is_plain_short_and_link_free(tmp_path: Path) -> None:
    body = (
        "## 一、项目概况\n\n"
        "详见[门户网站](https://www.linxi.gov.cn/a.html)（https://www.linxi.gov.cn/a.html），"
        "或来信 xinxi@linxi.gov.cn。\n\n"
        "| 户主 | 人数 |\n|---|---|\n| 张某 | 3 |\n\n"
        "- 项目名称：青石镇污水处理厂 *扩建* 工程\n\n"
        "<script>__pwn(1)</script>" + "公示期间，公众可以反映意见。" * 30 + "\n\n"
        "## 二、名单\n\n| 户主 | 人数 |\n|---|---|\n| 李某 | 2 |\n\n## 三、监督\n\n电话。"
    )
    paragraphs = summary_paragraphs(body)
    assert [p.text for p in paragraphs[:3]] == [
        "一、项目概况",
        "详见门户网站，或来信 。",
        "项目名称：青石镇污水处理厂 扩建 工程",
    ]
    assert [p.heading for p in paragraphs[:3]] == [True, False, False]
    assert not any("张某" in p.text or "http" in p.text for p in paragraphs)
    # A heading over nothing but a table is left out with it.
    assert [p.text for p in paragraphs[-2:]] == ["三、监督", "电话。"]
    item = view(content(index_no="T-1", body=body))
    page = unpack(make(tmp_path).render(job([item])))[0]["lcd/index.html"]
    assert "<script>__pwn" not in page
    assert "&lt;script&gt;__pwn(1)&lt;/script&gt;" in page
    # At most 300 characters of the body; the page keeps what fits its box.
    summary = page[page.index('<div class="summary">') :]
    summary = summary[: summary.index("</div>")]
    shown = "".join(html.unescape(p) for p in re.findall(r"<p[^>]*>(.*?)</p>", summary))
    assert 250 <= len(shown) <= 300
    assert shown.endswith("公示期间，公众可以反映意见。")  # cut after a sentence
    # The LED line skips the heading.
    lines = led_lines(make(tmp_path), job([item]))
    assert (
        lines[lines.index("发布日期：2026年4月11日") + 1] == "详见门户网站，或来信 。"
    )


# -- the LED file -------------------------------------------------------------------------


def test_the_led_file_is_gb18030_with_crlf_lines_that_fit(tmp_path: Path) -> None:
    items = [
        view(
            notice("L-1", "2026-04-08", "2026-04-16", "环境影响报告表拟审批的公示"),
            at=T0,
        ),
        view(
            content(
                index_no="L-2",
                title="临溪县2026年“春风行动”暨民营企业招聘月现场招聘会通知（第2期）",
                body="时间：2026-04-18 09:00—12:00，地点：县人力资源市场。" * 3,
            ),
            at=T0 - timedelta(days=1),
        ),
    ]
    adapter = make(tmp_path, title="青石镇便民服务中心 · 政务公开")
    data = unpack(adapter.render(job(items)))[1]["led/notice.txt"]
    text = data.decode("gb18030")
    assert text.encode("gb18030") == data
    assert "\n" not in text.replace("\r\n", "")
    assert "\r" not in text.replace("\r\n", "")
    lines = text[:-2].split("\r\n")
    assert lines[:2] == ["青石镇便民服务中心 · 政务公开", ""]
    assert lines[2:6] == [
        "【公示】关于青石镇污水处理厂扩建",  # 16 characters: 32 cells
        "工程环境影响报告表拟审批的公示",
        "公示期：2026年4月8日至4月16日",
        "经审批，新增农村低保对象47户73…",
    ]
    assert lines[6] == ""
    assert all(cells(line) <= 32 for line in lines)
    assert "2026-04-18" in text  # a date is never cut in two


@pytest.mark.parametrize("width", [8, 13, 20, 32, 64])
def test_no_led_line_is_longer_than_the_setting(tmp_path: Path, width: int) -> None:
    titles = [
        "临溪县2026年第一季度城乡最低生活保障审批结果公告",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "“春风行动”，《实施方案》。。。（补充说明）……",
        "Room 301, No. 8 Qingshi Road · 0571-00000000 · 2026-07-21",
    ]
    items = [
        view(content(index_no=f"W-{n}", title=title), at=T0 + timedelta(minutes=n))
        for n, title in enumerate(titles)
    ]
    adapter = make(tmp_path, led_line_chars=width)
    lines = led_lines(adapter, job(items))
    assert all(cells(line) <= width for line in lines), lines
    assert not any(line[:1] in "，。、）》”…" for line in lines if line), lines
    assert not any(line != line.strip() for line in lines), lines


def test_wrap_keeps_numbers_whole_and_punctuation_off_the_line_start() -> None:
    assert wrap_cells("公示期：2026-07-21至2026-07-27", 16) == [
        "公示期：",
        "2026-07-21至",
        "2026-07-27",
    ]
    assert wrap_cells("一二三四五六七，八", 14) == ["一二三四五六", "七，八"]
    assert wrap_cells("x" * 20, 8) == ["x" * 8, "x" * 8, "x" * 4]
    assert cells("汉A·“”…，") == 13


@pytest.mark.parametrize(
    ("encoding", "missing"),
    [
        ("gb2312", ["堃", "𠮷", "😀", "€"]),
        ("gbk", ["𠮷", "😀", "€"]),  # Python's GBK has no 0x80 (€) either
        ("gb18030", []),
        ("utf-8", []),
    ],
)
def test_characters_an_encoding_lacks_are_replaced_and_listed(
    tmp_path: Path, encoding: str, missing: list[str]
) -> None:
    title = "王堃𠮷家庭😀补贴€公示"
    item = view(content(index_no="G-1", title=title))
    adapter = make(tmp_path / encoding, led_encoding=encoding)
    rendition = adapter.render(job([item]))
    text, binary = unpack(rendition)
    data = binary["led/notice.txt"]
    if encoding == "utf-8":
        assert data.startswith(b"\xef\xbb\xbf")  # the BOM Windows software looks for
    decoded = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    shown = title
    for ch in missing:
        shown = shown.replace(ch, "□")
    assert shown in decoded
    found = json.loads(text["lcd/items.json"])
    assert [s["char"] for s in found["led"]["substituted"]] == missing
    assert all(s["item"] == str(item.item_id) for s in found["led"]["substituted"])
    # The page shows the title as it is: the screen PC's browser has the fonts.
    assert title in text["lcd/index.html"]
    receipt = adapter.deliver(rendition, requests.Session())
    if missing:
        warning = receipt.detail["warning"]
        assert f"{len(missing)} character(s) not in {encoding}" in warning
        assert "堃 U+5803" in warning or encoding != "gb2312"
        assert "以下字符无法用" in text["led/preview.html"]
    else:
        assert "warning" not in receipt.detail


def test_only_replacements_left_on_the_board_are_listed(tmp_path: Path) -> None:
    body = "经审批，新增农村低保对象47户73人，名单另行张贴公示。户主王堃。"
    item = view(content(index_no="G-2", title="低保审批结果公告𠮷", body=body))
    adapter = make(tmp_path, led_encoding="gb2312", led_line_chars=32)
    lines = led_lines(adapter, job([item]))
    assert "低保审批结果公告□" in lines
    assert lines[-1] == "经审批，新增农村低保对象47户73…"  # 堃 is cut off
    found = manifest(adapter, job([item]))
    assert found["led"]["substituted"] == [
        {"char": "𠮷", "code": "U+20BB7", "item": str(item.item_id)}
    ]


def test_led_safe_drops_what_a_board_cannot_draw() -> None:
    assert led_safe("甲\u200b乙\t丙\n丁\u2028戊  己", "gb2312") == (
        "甲乙 丙 丁 戊 己",
        [],
    )
    assert led_safe("e\u0301", "gb2312") == ("é", [])  # NFC first: é is in GB2312
    assert led_safe("\ud800", "utf-8") == ("□", ["\ud800"])
    assert led_safe("甲\ue000", "gb18030") == ("甲□", ["\ue000"])  # no board has it


# -- delivering -----------------------------------------------------------------------


def test_each_file_is_replaced_atomically_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "screen"
    adapter = make(root)
    a = view(content(index_no="B-1"), at=T0)
    b = view(content(index_no="B-2"), at=T0 + timedelta(minutes=1))
    delivery = job([a, b])
    session = requests.Session()
    assert adapter.read_back(delivery, session) is None  # nothing there yet

    written: list[str] = []
    atomic = adapterkit.write_atomically

    def spy(target: Path, data: bytes, **kwargs: Any) -> None:
        written.append(target.relative_to(root).as_posix())
        atomic(target, data, **kwargs)

    # Every file goes through the kit's temporary-file-and-rename write, bundle.js last.
    monkeypatch.setattr(adapterkit, "write_atomically", spy)
    rendition = adapter.render(delivery)
    adapter.deliver(rendition, session)
    assert sorted(written) == sorted(FILES)
    assert written[-3:] == ["lcd/index.html", "lcd/items.json", "lcd/bundle.js"]
    assert adapter.read_back(delivery, session) == rendition.data
    written.clear()
    adapter.deliver(rendition, session)
    assert written == []  # unchanged files are left alone

    led = root / "led" / "notice.txt"
    led.write_bytes(led.read_bytes().replace("47户".encode("gb18030"), b"470"))
    assert adapter.read_back(delivery, session) != rendition.data
    adapter.deliver(rendition, session)
    assert adapter.read_back(delivery, session) == rendition.data
    assert written == ["led/notice.txt"]
    (root / "lcd" / "index.html").unlink()
    assert adapter.read_back(delivery, session) != rendition.data


def test_a_withdrawn_item_leaves_and_other_files_stay(tmp_path: Path) -> None:
    root = tmp_path / "screen"
    adapter = make(root)
    a = view(content(index_no="W-1", title="甲公告"), at=T0)
    b = view(content(index_no="W-2", title="乙公告"), at=T0 + timedelta(minutes=1))
    adapter.deliver(adapter.render(job([a, b])), requests.Session())
    assert adapter.inventory(requests.Session()) == {a.item_id, b.item_id}
    foreign = {root / "README.txt": "机房值班电话", root / "lcd" / "logo.png": "png"}
    for path, text in foreign.items():
        path.write_text(text, "utf-8")

    withdrawn = replace(
        b, version=2, withdrawn=True, updated_at=T0 + timedelta(hours=1)
    )
    adapter.deliver(adapter.render(job([a], [withdrawn])), requests.Session())
    assert adapter.inventory(requests.Session()) == {a.item_id}
    for name in FILES - {"led/notice.txt"}:
        assert "乙公告" not in (root / name).read_text("utf-8"), name
    assert "乙公告" not in (root / "led" / "notice.txt").read_text("gb18030")
    for path, text in foreign.items():
        assert path.read_text("utf-8") == text


@pytest.mark.parametrize(
    "files",
    [
        {"files": {"../escape.html": "x"}, "binary": {}},
        {"files": {"lcd/other.html": "x"}, "binary": {}},
        {"files": {}, "binary": {"led/../../escape.txt": "eA=="}},
        {"files": {}, "binary": {"led/notice.txt": "not base64!"}},
        {"files": {"lcd/index.html": "x"}},
    ],
)
def test_deliver_writes_only_its_own_files(
    tmp_path: Path, files: dict[str, Any]
) -> None:
    adapter = make(tmp_path / "screen")
    rendition = Rendition.of(canonical_json(files), "application/json", key="k")
    with pytest.raises(PermanentDeliveryError):
        adapter.deliver(rendition, requests.Session())
    assert not (tmp_path / "escape.html").exists()
    assert not (tmp_path / "screen").exists()


def test_deliver_refuses_a_folder_that_leads_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "screen", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "led").symlink_to(outside)
    adapter = make(root)
    with pytest.raises(PermanentDeliveryError):
        adapter.deliver(adapter.render(job([view(content())])), requests.Session())
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"resolution": "1920*1080"},
        {"resolution": "320x240"},
        {"resolution": "9600x1080"},
        {"resolution": "3840x480"},  # 8:1
        {"seconds_per_page": 2},
        {"led_line_chars": 4},
        {"led_encoding": "big5"},
        {"led_max_items": 0},
        {"portal_url": "http://www.linxi.gov.cn"},
        {"title": "政务\n公开"},
        {"colour": "red"},
    ],
)
def test_settings_are_validated(tmp_path: Path, bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ScreenSettings.model_validate({"path": tmp_path, **bad})


def test_defaults() -> None:
    settings = ScreenSettings.model_validate({"path": "screen"})
    assert settings.size == (1920, 1080)
    assert (settings.seconds_per_page, settings.led_line_chars) == (SECONDS, 32)
    assert (settings.led_encoding, settings.led_max_items) == ("gb18030", 10)
    assert ScreenSettings.model_validate(
        {"path": "s", "resolution": "1080x1920"}
    ).size == (1080, 1920)
    assert ScreenAdapter.capabilities == Capabilities(
        edits_in_place=True,
        retracts=True,
        whole_set=True,
        deduplicates=True,
        reads_back=True,
    )
    assert ScreenAdapter.label == "电子显示屏"


# -- through the engine ---------------------------------------------------------------


def test_publish_withdraw_and_audit_through_the_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = FixedClock(datetime(2026, 7, 22, 1, 0, tzinfo=UTC))
    Engine.init(home, environ={}, review=False)
    with Engine.open(home, environ={}, clock=clock) as engine:
        engine.add_outlet(
            "hall-screen",
            "screen",
            {"path": "screens/hall", "title": "青石镇便民服务中心 · 政务公开"},
            channel="screen",
        )
        # Marked for the screens as the catalogue writes it (items that name no
        # channels keep the six they had before screens existed).
        eia = content(
            **notice("2026-00031", "2026-07-22", "2026-07-30").model_dump(
                mode="json", exclude={"channels"}
            )
            | {
                "agency": "临溪县生态环境局",
                "formed_on": "2026-07-21",
                "channels": ["政府网站、政务服务中心"],
            }
        )
        policy = content(
            index_no="2026-00032",
            title="临溪县农村危房改造实施方案",
            formed_on="2026-07-20",
            channels=["电子屏"],
        )
        engine.items.publish(eia, actor="县生态环境局 陈静")
        engine.items.publish(policy, actor="县住建局 王敏")
        engine.sync()
        root = home / "screens" / "hall"
        shown = json.loads((root / "lcd" / "items.json").read_text("utf-8"))
        assert set(lcd_ids(shown)) == {str(eia.id), str(policy.id)}
        assert lcd_ids(shown)[0] == str(eia.id)  # the 公示 first

        clock.advance(hours=1)
        engine.items.withdraw(
            policy.id,
            reason="内容有误",
            public_note="该信息已撤回。",
            actor="县住建局 王敏",
        )
        engine.sync()
        shown = json.loads((root / "lcd" / "items.json").read_text("utf-8"))
        assert lcd_ids(shown) == [str(eia.id)]
        assert shown["led"]["items"] == [str(eia.id)]
        assert "危房" not in (root / "lcd" / "index.html").read_text("utf-8")
        report = engine.consistency("hall-screen")
        assert report.mismatched == []
        assert {r.verdict for r in report.rows} == {"in sync"}

        # Someone edits the LED file on the share: drifted, file by file.
        led = root / "led" / "notice.txt"
        original = led.read_bytes()
        led.write_bytes(original + "广告".encode("gb18030"))
        report = engine.consistency("hall-screen")
        drifted = {(r.path, r.verdict) for r in report.mismatched}
        assert ("led/notice.txt", "drifted") in drifted
        assert {r.verdict for r in report.mismatched if r.path is None} == {"drifted"}
        [repaired] = engine.repair(outlet="hall-screen", actor="运维 李强")
        assert set(repaired.rewritten) == {"led/notice.txt"}
        assert led.read_bytes() == original
        assert engine.consistency("hall-screen").mismatched == []

        # The window ends: the next sync takes the 公示 off both screens.
        clock.advance(days=9)
        engine.sync()
        shown = json.loads((root / "lcd" / "items.json").read_text("utf-8"))
        assert shown["items"] == []
        assert "暂无公开信息。" in led.read_text("gb18030")
        assert engine.consistency("hall-screen").mismatched == []


# -- in the browser -------------------------------------------------------------------


@dataclass(frozen=True)
class Hall:
    root: Path
    manifest: dict[str, Any]
    size: tuple[int, int]


def hall_screens(root: Path, resolution: str) -> Hall:
    items, _ = demo_items()
    adapter = make(
        root,
        title="青石镇便民服务中心 · 政务公开",
        resolution=resolution,
        portal_url=PORTAL,
        led_max_items=3,
    )
    adapter.deliver(adapter.render(job(items)), requests.Session())
    found = json.loads((root / "lcd" / "items.json").read_text("utf-8"))
    return Hall(root, found, adapter.settings.size)


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    return hall_screens(tmp_path_factory.mktemp("screen-landscape"), "1920x1080")


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    return hall_screens(tmp_path_factory.mktemp("screen-portrait"), "1080x1920")


@contextlib.contextmanager
def screen_page(
    chromium: Browser, url: str, size: tuple[int, int], now: datetime = NOW
) -> Iterator[Visit]:
    """The page at `size`, its clock starting at `now`."""
    with visit(chromium, url, width=size[0], height=size[1]) as v:
        v.page.clock.install(time=now)
        v.page.reload()
        v.page.wait_for_selector("body[data-current]", state="attached")
        yield v


def current(page: Page) -> str:
    shown: str = page.evaluate("document.body.dataset.current")
    return shown


_LAYOUT = """
() => {
  const root = document.documentElement;
  const stage = document.querySelector(".stage").getBoundingClientRect();
  const slide = document.querySelector(".slide:not([hidden])");
  const out = [];
  for (const el of slide.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left < stage.left - 1 || box.right > stage.right + 1 ||
        box.top < stage.top - 1 || box.bottom > stage.bottom + 1) {
      out.push(`${el.tagName}.${el.className} outside the screen`);
    }
  }
  const summary = slide.querySelector(".summary");
  if (summary && summary.scrollHeight > summary.clientHeight + 1) out.push("summary overflows");
  for (const p of slide.querySelectorAll(".summary p")) {
    if (p.getBoundingClientRect().bottom > summary.getBoundingClientRect().bottom + 1) {
      out.push("a summary line is cut");
    }
  }
  const ending = summary && summary.lastElementChild;
  if (ending && ending.classList.contains("heading")) out.push("a heading ends the summary");
  const title = slide.querySelector(".title");
  // Clamped at three lines, a title hides a whole line or more (a tall font's glyphs
  // may stick out of their line by a few pixels: that is no clipping).
  const line = title ? parseFloat(getComputedStyle(title).lineHeight) : 0;
  if (title && title.scrollHeight - title.clientHeight > line / 2) out.push("title clipped");
  return {
    width: root.scrollWidth, height: root.scrollHeight,
    inner: [window.innerWidth, window.innerHeight],
    stage: [stage.width, stage.height], problems: out,
  };
}
"""


def check_layout(page: Page, size: tuple[int, int]) -> None:
    """No scrollbars, the stage exactly the screen, nothing of the page outside it."""
    measured = page.evaluate(_LAYOUT)
    assert (measured["width"], measured["height"]) == size
    assert measured["inner"] == list(size)
    assert [round(n) for n in measured["stage"]] == list(size)
    assert measured["problems"] == [], (current(page), measured["problems"])


def save_screenshot(page: Page, tmp_path: Path, name: str) -> None:
    screenshot(page, tmp_path / name, full_page=False)
    if os.environ.get("SYNDICATE_UPDATE_SCREENSHOTS") == "1":
        screenshot(page, IMAGES / name, full_page=False)


@pytest.mark.parametrize("layout", ["landscape", "portrait"])
def test_the_page_fits_the_screen_and_loops(
    browser: Browser,  # noqa: F811
    request: pytest.FixtureRequest,
    tmp_path: Path,
    layout: str,
) -> None:
    hall: Hall = request.getfixturevalue(layout)
    entries = hall.manifest["items"]
    ids = [e["id"] for e in entries]
    log: list[str] = []
    with (
        serve_directory(hall.root, log=log) as base,
        screen_page(browser, base + "lcd/index.html", hall.size) as v,
    ):
        page = v.page
        assert page.title() == "青石镇便民服务中心 · 政务公开"
        # The EIA notice (公示期 07-21 to 07-27) leads: the only 公示 on show.
        first = entries[0]
        assert first["notice_period"] == {"start": "2026-07-21", "end": "2026-07-27"}
        assert current(page) == first["id"]
        title = page.locator(f'[data-item="{first["id"]}"] .title')
        assert title.is_visible()
        assert title.inner_text() == first["title"]
        assert (
            page.inner_text(f'[data-item="{first["id"]}"] .left') == "公示期还剩 6 天"
        )
        assert page.inner_text("#counter") == f"1 / {len(ids)}"
        assert "2026年7月22日 星期三 10:00" in page.inner_text("#clock")
        assert page.is_visible(f'[data-item="{first["id"]}"] .qr img')
        check_layout(page, hall.size)
        violations = axe_violations(page)
        assert violations == [], format_violations(violations)
        if layout == "landscape":
            save_screenshot(page, tmp_path, "screen-lcd-landscape.png")

        # One item a page, SECONDS each, in order, then round again.
        freeze(page)  # the time it took to get here counts towards the first page
        for _ in range(SECONDS + 1):
            if current(page) != first["id"]:
                break
            page.clock.run_for(1000)
        previous = ids[1]
        for n, item_id in enumerate([*ids[1:], ids[0]], start=2):
            if n > 2:
                page.clock.run_for((SECONDS - 1) * 1000)
                assert current(page) == previous
                if n <= len(ids):
                    page.clock.run_for(1000)
                else:  # the loop starts again: the page first looks for a new bundle
                    with page.expect_request("**/lcd/bundle.js?t=*"):
                        page.clock.run_for(1000)
            assert current(page) == item_id
            previous = item_id
            assert page.is_visible(f'[data-item="{item_id}"] .title')
            assert (
                page.inner_text("#counter") == f"{(n - 1) % len(ids) + 1} / {len(ids)}"
            )
            check_layout(page, hall.size)
            shown = next(e for e in entries if e["id"] == item_id)
            if layout == "portrait" and shown["title"].endswith("实施方案"):
                save_screenshot(page, tmp_path, "screen-lcd-portrait.png")
        # At the end of the loop the page asked for bundle.js, and for nothing else.
        # The browser reports a request when it sends it; the server's thread records
        # it a moment later: wait for that record (at most 2 s) before comparing.
        deadline = time.monotonic() + 2
        while not any(p.startswith("/lcd/bundle.js") for p in log):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        asked = [p.split("?")[0] for p in log if p != "/lcd/index.html"]
        assert asked == ["/lcd/bundle.js"]
        v.settle()
        assert v.problems() == []


def test_the_screens_clock_opens_and_closes_notices(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    running = view(notice("C-1", "2026-07-21", "2026-07-27"), at=at("2026-07-21"))
    coming = view(
        notice("C-2", "2026-07-25", "2026-07-31", "补充公示"), at=at("2026-07-21")
    )
    plain = view(
        content(index_no="C-3", title="青石镇便民服务指南"), at=at("2026-07-20")
    )
    root = tmp_path / "screen"
    adapter = make(root, seconds_per_page=5)
    adapter.deliver(adapter.render(job([running, coming, plain])), requests.Session())

    def loop(page: Page) -> list[str]:
        """The items one whole loop shows, from the next page on."""
        seen: list[str] = []
        for _ in range(4):
            page.clock.run_for(5000)
            if current(page) in seen:
                break
            seen.append(current(page))
        return seen

    size = (1920, 1080)
    with (
        serve_directory(root) as base,
        screen_page(browser, base + "lcd/index.html", size) as v,
    ):
        page = v.page
        freeze(page)
        assert sorted(loop(page)) == sorted([str(running.item_id), str(plain.item_id)])
        page.clock.fast_forward(4 * 24 * 3600 * 1000)  # 2026-07-26
        # A loop, in the page's order: the notice ending first leads.
        order = [str(running.item_id), str(coming.item_id), str(plain.item_id)]
        seen = loop(page)
        assert len(seen) == 3
        assert " ".join(seen) in " ".join(order * 2)
        while current(page) != str(running.item_id):
            page.clock.run_for(5000)
        assert (
            page.inner_text(f'[data-item="{running.item_id}"] .left')
            == "公示期还剩 2 天"
        )
        page.clock.fast_forward(24 * 3600 * 1000)  # 2026-07-27, its last day
        while current(page) != str(running.item_id):
            page.clock.run_for(5000)
        assert (
            page.inner_text(f'[data-item="{running.item_id}"] .left')
            == "今天是公示期最后一天"
        )
        page.clock.fast_forward(24 * 3600 * 1000)  # 2026-07-28: over
        assert sorted(loop(page)) == sorted([str(coming.item_id), str(plain.item_id)])
        page.clock.fast_forward(
            4 * 24 * 3600 * 1000
        )  # 2026-08-01: nothing but the guide
        assert loop(page) == [str(plain.item_id)]
        assert page.inner_text("#counter") == "1 / 1"
        v.settle()
        assert v.problems() == []


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_a_screen_reloads_itself_when_a_new_bundle_arrives(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
    scheme: str,
) -> None:
    root = tmp_path / "screen"
    adapter = make(root, seconds_per_page=5)
    first = view(content(index_no="R-1", title="第一条公告"), at=T0)
    adapter.deliver(adapter.render(job([first])), requests.Session())
    size = (1920, 1080)
    with contextlib.ExitStack() as stack:
        if scheme == "http":
            url = stack.enter_context(serve_directory(root)) + "lcd/index.html"
        else:
            url = (root / "lcd" / "index.html").as_uri()
        v = stack.enter_context(screen_page(browser, url, size))
        assert current(v.page) == str(first.item_id)
        v.page.clock.run_for(6000)  # a loop ends: the same bundle, no reload
        assert current(v.page) == str(first.item_id)
        second = view(
            content(index_no="R-2", title="第二条公告"), at=T0 + timedelta(hours=1)
        )
        adapter.deliver(adapter.render(job([first, second])), requests.Session())
        v.page.clock.run_for(6000)
        v.page.wait_for_selector(f'[data-item="{second.item_id}"]', state="attached")
        v.page.wait_for_selector("body[data-current]", state="attached")
        assert current(v.page) == str(second.item_id)
        assert v.page.inner_text("#counter") == "1 / 2"
        assert v.problems() == []


def test_an_empty_screen_says_so(browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "screen"
    adapter = make(root, resolution="1080x1920")
    gone = replace(view(content()), withdrawn=True, version=2)
    adapter.deliver(adapter.render(job([], [gone])), requests.Session())
    assert "暂无公开信息。" in (root / "led" / "notice.txt").read_text("gb18030")
    with screen_page(
        browser, (root / "lcd" / "index.html").as_uri(), (1080, 1920)
    ) as v:
        assert current(v.page) == ""
        assert v.page.is_visible("#empty")
        assert v.page.inner_text("#counter") == "0 / 0"
        v.page.clock.run_for(16_000)
        assert v.page.is_visible("#empty")
        assert v.problems() == []


def test_the_led_preview_and_the_html_are_valid(
    browser: Browser,  # noqa: F811
    landscape: Hall,
    tmp_path: Path,
) -> None:
    preview = landscape.root / "led" / "preview.html"
    with visit(browser, preview.as_uri(), width=900, height=900) as v:
        rows = v.page.eval_on_selector_all(
            ".row", "rows => rows.map(r => r.textContent)"
        )
        text = (landscape.root / "led" / "notice.txt").read_bytes().decode("gb18030")
        assert rows == text.split("\r\n")[:-1]
        assert v.page.is_visible(".board")
        violations = axe_violations(v.page)
        assert violations == [], format_violations(violations)
        assert v.problems() == []
        screenshot(v.page, tmp_path / "screen-led.png")
        if os.environ.get("SYNDICATE_UPDATE_SCREENSHOTS") == "1":
            # The dot matrix compresses badly: 32 colours keep it under 300 KB.
            from PIL import Image

            image = Image.open(screenshot(v.page, IMAGES / "screen-led.png"))
            image.convert("RGB").quantize(colors=32).save(
                IMAGES / "screen-led.png", optimize=True
            )
    errors = vnu_errors([landscape.root / "lcd" / "index.html", preview])
    assert errors == []


def test_hostile_text_runs_nothing_in_the_browser(
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    payloads = [
        "<img src=x onerror=__pwn(1)>",
        "</script><script>__pwn(2)</script>",
        '"><svg onload=__pwn(3)>',
        "[x](javascript:__pwn(4))",
    ]
    items: list[ItemView] = []
    for n, payload in enumerate(payloads):
        hostile = BaseModel.model_copy(
            content(index_no=f"X-{n}"),
            update={
                "title": f"标题{payload}",
                "agency": f"机构{payload}",
                "doc_no": payload,
                "body": f"正文{payload}\n\n{payload}",
            },
        )
        items.append(view(hostile, at=T0 + timedelta(minutes=n)))
    root = tmp_path / "screen"
    adapter = make(root, title=f"大厅{payloads[2]}", seconds_per_page=5)
    adapter.deliver(adapter.render(job(items)), requests.Session())
    with screen_page(
        browser, (root / "lcd" / "index.html").as_uri(), (1920, 1080)
    ) as v:
        assert v.page.title() == f"大厅{payloads[2]}"
        for item in reversed(items):
            assert v.page.text_content(f'[data-item="{item.item_id}"] .title') == (
                item.content.title
            )
            v.page.clock.run_for(5000)
        v.settle()
        assert v.xss_hits() == []
        assert v.problems() == []
