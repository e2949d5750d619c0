"""An item's channels written the way the standard catalogues (标准目录) write their
公开渠道和载体 column: one name per outlet kind, several in one string, names that stand
for two kinds, and the names syndicate has no outlet for, refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicate.domain.catalogue import (
    DEFAULT_CHANNELS,
    ChannelCategory,
    parse_channels,
)
from syndicate.domain.content import content_hash
from syndicate.errors import InputError
from syndicate.itemfiles import load_item_file
from syndicate.testing import sample_jobs
from tests.conftest import ITEM_FRONT, content

C = ChannelCategory


@pytest.mark.parametrize(
    ("written", "channels"),
    [
        ("政府网站", (C.PORTAL,)),
        ("政府公报", (C.GAZETTE,)),
        ("两微一端", (C.NEW_MEDIA,)),
        ("政务微博", (C.NEW_MEDIA,)),
        ("公开查阅点", (C.KIOSK,)),
        ("政务服务中心", (C.KIOSK, C.SCREEN)),
        ("便民服务站", (C.KIOSK, C.SCREEN)),
        ("村公示栏（电子屏）", (C.NOTICEBOARD, C.SCREEN)),
        ("村公示栏(电子屏)", (C.NOTICEBOARD, C.SCREEN)),
        ("社区/企事业单位/村公示栏（电子屏）", (C.NOTICEBOARD, C.SCREEN)),
        ("精准推送", (C.GROUP,)),
        ("电子屏", (C.SCREEN,)),
        ("政府网站、政府公报、两微一端", (C.PORTAL, C.GAZETTE, C.NEW_MEDIA)),
        ("政府网站，政务服务中心; 政府网站", (C.PORTAL, C.KIOSK, C.SCREEN)),
        ("gazette", (C.GAZETTE,)),
    ],
)
def test_catalogue_names_map_to_channels(
    written: str, channels: tuple[ChannelCategory, ...]
) -> None:
    assert parse_channels(written) == channels


@pytest.mark.parametrize("name", ["广播电视", "纸质媒体", "发布会/听证会", "入户/现场"])
def test_channels_without_an_outlet_are_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}.*has no outlet"):
        parse_channels(f"政府网站、{name}")
    with pytest.raises(InputError) as info:
        content(channels=[f"政府网站、{name}"])
    assert "channels" in str(info.value)


def test_unknown_names_list_what_works() -> None:
    with pytest.raises(ValueError, match=r"unknown channel '微视频'.*portal"):
        parse_channels("微视频")


def test_an_item_takes_the_catalogue_row_as_written() -> None:
    item = content(channels=["政府网站、政府公报、村公示栏（电子屏）"])
    assert item.channels == (C.PORTAL, C.NOTICEBOARD, C.SCREEN, C.GAZETTE)
    # The same channels typed another way hash the same.
    again = content(channels=["gazette", "screen", "noticeboard", "portal"])
    assert again.channels == item.channels


def test_items_without_channels_keep_the_channels_and_hash_they_had() -> None:
    """Screens and the 政府公报 came later: an item that names no channels still has
    the six channels (and so the content hash) it had before, so an item file
    published again unchanged is the same item, not a conflicting one."""
    item = content()
    assert item.channels == DEFAULT_CHANNELS
    assert C.GAZETTE not in item.channels
    assert C.SCREEN not in item.channels
    # The sample item's hash, as the notice-board golden sheet printed it before.
    sample = sample_jobs()[0].item.content
    assert content_hash(sample) == (
        "c400e4c842e811b23534b76824f743d9c50dbaa3b214bce3f94a41b42e3de5df"
    )


def test_an_item_file_writes_channels_as_its_catalogue_does(tmp_path: Path) -> None:
    front = ITEM_FRONT + 'channels = "政府网站、两微一端、政务服务中心"\n'
    path = tmp_path / "item.md"
    path.write_text(f"+++\n{front}+++\n正文。\n", "utf-8")
    loaded = load_item_file(path)
    assert loaded.content.channels == (C.PORTAL, C.NEW_MEDIA, C.KIOSK, C.SCREEN)
