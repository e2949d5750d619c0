"""Chinese fonts for outlets that print or draw text, shipped as Python dependencies.

A printed sheet must show real Chinese glyphs on any machine, including one with no
system fonts at all (a minimal container). So the fonts come from PyPI, not from the
system: the package `pylopdf-fonts-zh-cn` carries the upstream Noto Serif SC and Noto
Sans SC OpenType files (the Simplified Chinese "subset" OTFs of notofonts/noto-cjk, about
31,000 characters each: GB 18030's ideographs, Latin, digits, punctuation; SIL Open Font
License 1.1). They are data files only: this module reads them with
`importlib.resources`, it never imports code from that package.

A document embeds only the glyphs it uses. `subset` cuts a font down to the characters of
one document with HarfBuzz's subsetter (`uharfbuzz`, HarfBuzz's own Python binding, with
the library inside its wheel: no system `libharfbuzz-subset` needed). It takes a few
milliseconds; the same cut by fontTools takes seconds per font. The result depends only
on the font file, the text and the uharfbuzz version, so a sheet rendered again years
later is the same bytes as long as both pinned versions are.

An office that wants its own fonts (仿宋, 方正小标宋 for official documents) names font
files in the outlet's settings; `font_file` reads them the same way, and the bundled
fonts remain the fallback for characters they lack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "BUNDLED_PACKAGE",
    "FontFile",
    "FontUnavailable",
    "bundled_sans",
    "bundled_serif",
    "checked_font",
    "font_file",
    "uncovered",
]

BUNDLED_PACKAGE = "pylopdf_fonts_zh_cn"
_SERIF = "NotoSerifSC-Regular.otf"
_SANS = "NotoSansSC-Regular.otf"


class FontUnavailable(Exception):
    """A font file cannot be read or used (missing package, unreadable file)."""


@dataclass(frozen=True, eq=False)
class FontFile:
    """One font file, read once per process, and the characters it has glyphs for."""

    path: Path
    data: bytes
    codepoints: frozenset[int]

    def subset(self, text: str) -> bytes:
        """The font cut down to the glyphs `text` needs (layout features kept)."""
        import uharfbuzz as hb

        wanted = sorted({ord(ch) for ch in text} & self.codepoints)
        spec = hb.SubsetInput()
        spec.unicode_set.update(wanted)
        cut = hb.subset(hb.Face(hb.Blob(self.data)), spec)
        if cut is None:  # HarfBuzz refused (a damaged font): embed it whole
            return self.data
        return bytes(cut.blob.data)


@functools.cache
def font_file(path: Path) -> FontFile:
    """The font at `path` (a .ttf, .otf, or the first face of a .ttc), read once.

    Raises FontUnavailable if it cannot be read or holds no characters."""
    import uharfbuzz as hb

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FontUnavailable(f"cannot read font file {path}: {exc.strerror}") from None
    face = hb.Face(hb.Blob(data))
    codepoints = frozenset(face.unicodes)
    if not codepoints or face.glyph_count <= 1:
        raise FontUnavailable(f"{path} is not a font file HarfBuzz can read")
    return FontFile(path, data, codepoints)


def checked_font(value: Path | None) -> Path | None:
    """A settings validator's check of an office's font file: `value` if HarfBuzz can
    read it (None passes); ValueError saying why not."""
    if value is not None:
        try:
            font_file(value)
        except FontUnavailable as exc:
            raise ValueError(str(exc)) from None
    return value


def _bundled(name: str) -> FontFile:
    try:
        folder = resources.files(BUNDLED_PACKAGE)
    except ModuleNotFoundError:
        raise FontUnavailable(
            f"the font package {BUNDLED_PACKAGE.replace('_', '-')} is not installed "
            "(it is one of syndicate's dependencies: reinstall syndicate)"
        ) from None
    return font_file(Path(str(folder / name)))


def bundled_serif() -> FontFile:
    """Noto Serif SC, the default face for text."""
    return _bundled(_SERIF)


def bundled_sans() -> FontFile:
    """Noto Sans SC, the default face for headings."""
    return _bundled(_SANS)


def uncovered(text: str, fonts: tuple[FontFile, ...]) -> list[str]:
    """Characters of `text` that none of `fonts` can draw (spaces and controls aside),
    in order of first appearance."""
    have = frozenset().union(*(f.codepoints for f in fonts))
    missing: dict[str, None] = {}
    for ch in text:
        if ch.isspace() or not ch.isprintable() or ord(ch) in have:
            continue
        missing.setdefault(ch, None)
    return list(missing)
