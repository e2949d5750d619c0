"""Share cards: a PNG a 网格员 forwards to a village WeChat group, readable on a phone.

A card is 1080 pixels wide (a phone screen at 3x) and as tall as its text needs, up to a
bound: a red band with the issuing agency, the tag (【公示】, 【更正】, 【撤回】…) and the
title in large type, the facts (发布机构, 发布日期, 公示期…) a villager looks for, a
short summary, and a QR code to the item's portal page with the words that tell people
to long-press it (长按识别二维码查看全文), then the source line.

The text is drawn with the bundled Noto Sans SC (`_fonts`), so a card looks the same on a
machine without any font installed, and through Pillow's FreeType: the same text, the
same Pillow release line and the same font file give the same bytes (the PNG carries no
time stamp and no metadata). `draw_card` is pure.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont

from syndicate_adapters._fonts import bundled_sans

__all__ = ["CARD_WIDTH", "Card", "draw_card"]

CARD_WIDTH = 1080
_MARGIN = 72
_MAX_HEIGHT = 4000  # a digest card of many titles stops here (the text says how many)
_RED = (183, 28, 28)
_INK = (33, 33, 33)
_GREY = (97, 97, 97)
_PAPER = (255, 255, 255)
_TINT = (250, 243, 243)


@dataclass(frozen=True)
class Card:
    """What a card shows. `lines`: facts as (label, value); `summary`: plain text;
    `entries`: for a digest card, numbered titles instead of a summary."""

    band: str  # the issuing agency, or the group's name for a digest
    tag: str  # "公示", "更正", "撤回", "" …
    title: str
    facts: tuple[tuple[str, str], ...]
    summary: str
    link: str
    source: str
    entries: tuple[str, ...] = ()


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(bundled_sans().path), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """`text` broken into lines no wider than `width` pixels (between characters: CJK
    text has no spaces; a line never starts with closing punctuation)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for ch in paragraph:
            if (
                line
                and font.getlength(line + ch) > width
                and ch not in "，。、；：！？）》」』"
            ):
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
    return lines


def _qr(link: str, size: int) -> Image.Image:
    code = segno.make(link, error="m", micro=False)
    matrix = [list(row) for row in code.matrix_iter(scale=1, border=2)]
    cells = len(matrix)
    scale = max(1, size // cells)
    image = Image.new("L", (cells, cells), 255)
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image.resize((cells * scale, cells * scale), Image.Resampling.NEAREST)


class _Canvas:
    """Lines laid out top to bottom, then drawn at their final height."""

    def __init__(self) -> None:
        self.ops: list[
            tuple[int, int, str, ImageFont.FreeTypeFont, tuple[int, int, int]]
        ] = []
        self.y = 0

    def text(
        self, text: str, size: int, fill: tuple[int, int, int], gap: int = 12
    ) -> None:
        font = _font(size)
        for line in _wrap(text, font, CARD_WIDTH - 2 * _MARGIN):
            self.ops.append((_MARGIN, self.y, line, font, fill))
            self.y += size + gap

    def space(self, pixels: int) -> None:
        self.y += pixels


def draw_card(card: Card) -> bytes:
    """The card as PNG bytes (deterministic)."""
    canvas = _Canvas()
    band = 150
    canvas.y = band + 56
    heading = f"【{card.tag}】{card.title}" if card.tag else card.title
    canvas.text(heading, 60, _INK, gap=18)
    canvas.space(40)
    facts_top = canvas.y
    for label, value in card.facts:
        canvas.text(f"{label}：{value}", 38, _GREY, gap=14)
    facts_bottom = canvas.y
    canvas.space(28)
    if card.entries:
        for number, entry in enumerate(card.entries, 1):
            canvas.text(f"{number}. {entry}", 40, _INK, gap=14)
            if canvas.y > _MAX_HEIGHT - 700:
                rest = len(card.entries) - number
                if rest:
                    canvas.text(f"……另有{rest}条，详见文字消息", 40, _GREY)
                break
    elif card.summary:
        canvas.text(card.summary, 42, _INK, gap=16)
    canvas.space(40)
    qr_size = 360
    qr_top = canvas.y
    canvas.y += qr_size + 24
    canvas.text("长按识别二维码查看全文", 40, _RED)
    canvas.space(24)
    canvas.text(card.source, 30, _GREY)
    height = min(canvas.y + 48, _MAX_HEIGHT)

    image = Image.new("RGB", (CARD_WIDTH, height), _PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, CARD_WIDTH, band), fill=_RED)
    band_font = _font(46)
    band_text = _wrap(card.band, band_font, CARD_WIDTH - 2 * _MARGIN)[0]
    draw.text((_MARGIN, (band - 46) // 2 - 6), band_text, font=band_font, fill=_PAPER)
    if card.facts:
        draw.rectangle(
            (_MARGIN - 24, facts_top - 16, CARD_WIDTH - _MARGIN + 24, facts_bottom),
            fill=_TINT,
        )
    for x, y, line, font, fill in canvas.ops:
        draw.text((x, y), line, font=font, fill=fill)
    code = _qr(card.link, qr_size)
    image.paste(code, ((CARD_WIDTH - code.width) // 2, qr_top))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def text_lines(values: Sequence[str]) -> str:
    """Lines joined for a card's summary."""
    return "\n".join(v for v in values if v)
