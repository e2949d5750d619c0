"""The standard catalogue's fixed vocabularies: pilot areas, 五公开 stages, attributes, channels.

Each value has a stable English code (what events store) and its Chinese name (what outlets
show). Item files may use either; `parse_*` functions normalise to the code and raise
`ValueError` with a message that lists what is accepted.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import TypeVar

__all__ = [
    "AREAS",
    "DEFAULT_CHANNELS",
    "Attribute",
    "ChannelCategory",
    "DocType",
    "PageKind",
    "PilotArea",
    "Stage",
    "Validity",
    "area_by_code",
    "parse_area",
    "parse_attribute",
    "parse_channel",
    "parse_channels",
    "parse_doc_type",
    "parse_page_kind",
    "parse_stage",
    "parse_validity",
]


E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class PilotArea:
    """One of the 26 pilot areas (试点领域)."""

    number: int
    code: str
    name: str
    body: str


def _load_areas() -> tuple[PilotArea, ...]:
    # Package data, read once at import; not I/O in the sense the domain rule forbids.
    text = resources.files(__package__).joinpath("pilot_areas.toml").read_text("utf-8")
    return tuple(PilotArea(**row) for row in tomllib.loads(text)["area"])


AREAS: tuple[PilotArea, ...] = _load_areas()
_AREA_INDEX: dict[str, PilotArea] = {
    **{a.code: a for a in AREAS},
    **{a.name: a for a in AREAS},
}


def area_by_code(code: str) -> PilotArea:
    """The pilot area with this stored code (KeyError if there is none)."""
    area = _AREA_INDEX[code]
    if area.code != code:
        raise KeyError(code)
    return area


def parse_area(value: str) -> str:
    """Normalise a pilot-area code or Chinese name to its code."""
    area = _AREA_INDEX.get(value.strip())
    if area is None:
        raise ValueError(
            f"unknown pilot area {value!r}; give a code such as 'social_assistance' or a "
            "name such as '社会救助' (`syndicate areas` lists all 26)"
        )
    return area.code


class Stage(StrEnum):
    """五公开: the stage of government work the item discloses."""

    DECISION = "decision"
    EXECUTION = "execution"
    MANAGEMENT = "management"
    SERVICE = "service"
    RESULT = "result"

    @property
    def label(self) -> str:
        """Chinese name as outlets show it."""
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.DECISION: "决策公开",
    Stage.EXECUTION: "执行公开",
    Stage.MANAGEMENT: "管理公开",
    Stage.SERVICE: "服务公开",
    Stage.RESULT: "结果公开",
}


class Attribute(StrEnum):
    """公开属性: how the information is disclosed."""

    PROACTIVE = "proactive"
    ON_REQUEST = "on_request"
    NOT_DISCLOSED = "not_disclosed"

    @property
    def label(self) -> str:
        """Chinese name as outlets show it."""
        return _ATTRIBUTE_LABELS[self]

    @property
    def is_public(self) -> bool:
        """Only proactively disclosed items may ever reach a public outlet."""
        return self is Attribute.PROACTIVE


_ATTRIBUTE_LABELS = {
    Attribute.PROACTIVE: "主动公开",
    Attribute.ON_REQUEST: "依申请公开",
    Attribute.NOT_DISCLOSED: "不予公开",
}


class ChannelCategory(StrEnum):
    """公开渠道: the kinds of outlet an item may be projected to."""

    PORTAL = "portal"
    RSS = "rss"
    NEW_MEDIA = "new_media"
    KIOSK = "kiosk"
    GROUP = "group"
    NOTICEBOARD = "noticeboard"
    SCREEN = "screen"
    GAZETTE = "gazette"

    @property
    def label(self) -> str:
        """Chinese name as outlets show it."""
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS = {
    ChannelCategory.PORTAL: "政府门户网站",
    ChannelCategory.RSS: "RSS订阅",
    ChannelCategory.NEW_MEDIA: "政务新媒体",
    ChannelCategory.KIOSK: "自助终端",
    ChannelCategory.GROUP: "村(居)民群",
    ChannelCategory.NOTICEBOARD: "政务公开栏",
    ChannelCategory.SCREEN: "电子显示屏",
    ChannelCategory.GAZETTE: "政府公报",
}

# An item that names no channels goes to the channels there were before screens and
# the 政府公报 were added, and its content hash is what it was then: an item file
# published again unchanged is still the same item. Screens and the 政府公报 take the
# items marked for them (电子屏, 政府公报; a screen outlet may also serve `kiosk`).
DEFAULT_CHANNELS: tuple[ChannelCategory, ...] = (
    ChannelCategory.PORTAL,
    ChannelCategory.RSS,
    ChannelCategory.NEW_MEDIA,
    ChannelCategory.KIOSK,
    ChannelCategory.GROUP,
    ChannelCategory.NOTICEBOARD,
)


class Validity(StrEnum):
    """时效: whether a document (规章, 规范性文件) is still in force."""

    IN_FORCE = "in_force"
    AMENDED = "amended"
    REPEALED = "repealed"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """Chinese name as outlets show it."""
        return _VALIDITY_LABELS[self]

    @property
    def in_force(self) -> bool:
        """现行有效 or 已修改 (the amended text is in force)."""
        return self in (Validity.IN_FORCE, Validity.AMENDED)


_VALIDITY_LABELS = {
    Validity.IN_FORCE: "现行有效",
    Validity.AMENDED: "已修改",
    Validity.REPEALED: "已废止",
    Validity.EXPIRED: "已失效",
}


class DocType(StrEnum):
    """文件类型: what the 年报's section 二 counts (国办公开办函〔2021〕30号 第二十条)."""

    REGULATION = "regulation"
    NORMATIVE = "normative"
    LICENCE = "licence"
    PENALTY = "penalty"
    COERCION = "coercion"
    FEE = "fee"

    @property
    def label(self) -> str:
        """Chinese name as the 年报 shows it."""
        return _DOC_TYPE_LABELS[self]

    @property
    def counts_decisions(self) -> bool:
        """许可, 处罚, 强制: the 年报 counts 处理决定 (an item may carry several)."""
        return self in (DocType.LICENCE, DocType.PENALTY, DocType.COERCION)

    @property
    def is_document(self) -> bool:
        """规章 and 行政规范性文件: the 年报 counts issued, repealed and in force."""
        return self in (DocType.REGULATION, DocType.NORMATIVE)


_DOC_TYPE_LABELS = {
    DocType.REGULATION: "规章",
    DocType.NORMATIVE: "行政规范性文件",
    DocType.LICENCE: "行政许可",
    DocType.PENALTY: "行政处罚",
    DocType.COERCION: "行政强制",
    DocType.FEE: "行政事业性收费",
}


class PageKind(StrEnum):
    """The pages of a portal's 政府信息公开 section an office writes as items."""

    GUIDE = "guide"
    RULES = "rules"
    ANNUAL_REPORT = "annual_report"
    CATALOGUE = "catalogue"

    @property
    def label(self) -> str:
        """Chinese name as the portal shows it."""
        return _PAGE_KIND_LABELS[self]


_PAGE_KIND_LABELS = {
    PageKind.GUIDE: "政府信息公开指南",
    PageKind.RULES: "政府信息公开制度",
    PageKind.ANNUAL_REPORT: "政府信息公开年报",
    PageKind.CATALOGUE: "标准目录",
}


def _aliases(enum: type[E], labels: dict[E, str], extra: dict[str, E]) -> dict[str, E]:
    table: dict[str, E] = {member.value: member for member in enum}
    table.update({label: member for member, label in labels.items()})
    table.update(extra)
    return table


_STAGE_ALIASES = _aliases(
    Stage,
    _STAGE_LABELS,
    {
        "决策": Stage.DECISION,
        "执行": Stage.EXECUTION,
        "管理": Stage.MANAGEMENT,
        "服务": Stage.SERVICE,
        "结果": Stage.RESULT,
    },
)
_ATTRIBUTE_ALIASES = _aliases(
    Attribute,
    _ATTRIBUTE_LABELS,
    {"主动": Attribute.PROACTIVE, "依申请": Attribute.ON_REQUEST},
)
_CHANNEL_ALIASES = _aliases(
    ChannelCategory,
    _CHANNEL_LABELS,
    {
        "门户网站": ChannelCategory.PORTAL,
        "政府网站": ChannelCategory.PORTAL,
        "政府门户网站": ChannelCategory.PORTAL,
        "新媒体": ChannelCategory.NEW_MEDIA,
        "微信公众号": ChannelCategory.NEW_MEDIA,
        "政务微博": ChannelCategory.NEW_MEDIA,
        "微博": ChannelCategory.NEW_MEDIA,
        "两微一端": ChannelCategory.NEW_MEDIA,
        "自助终端一体机": ChannelCategory.KIOSK,
        "自助终端": ChannelCategory.KIOSK,
        "公开查阅点": ChannelCategory.KIOSK,
        "村民微信群": ChannelCategory.GROUP,
        # The label with full-width brackets, as `parse_channels` normalises it.
        "村（居）民群": ChannelCategory.GROUP,
        "居民微信群": ChannelCategory.GROUP,
        "精准推送": ChannelCategory.GROUP,
        "公开栏": ChannelCategory.NOTICEBOARD,
        "电子屏": ChannelCategory.SCREEN,
        "电子信息屏": ChannelCategory.SCREEN,
        "公报": ChannelCategory.GAZETTE,
    },
)

# The 公开渠道和载体 names of the standard catalogues (标准目录) that stand for more
# than one kind of outlet: a service centre has terminals and screens, a village
# 公示栏 is a board and often an electronic screen beside it.
CATALOGUE_CHANNELS: dict[str, tuple[ChannelCategory, ...]] = {
    "政务服务中心": (ChannelCategory.KIOSK, ChannelCategory.SCREEN),
    "便民服务站": (ChannelCategory.KIOSK, ChannelCategory.SCREEN),
    "便民服务中心": (ChannelCategory.KIOSK, ChannelCategory.SCREEN),
    "村公示栏（电子屏）": (ChannelCategory.NOTICEBOARD, ChannelCategory.SCREEN),
    "社区/企事业单位/村公示栏（电子屏）": (
        ChannelCategory.NOTICEBOARD,
        ChannelCategory.SCREEN,
    ),
    "公示栏（电子屏）": (ChannelCategory.NOTICEBOARD, ChannelCategory.SCREEN),
}

# Catalogue channel names syndicate has no outlet for: said so by name rather than
# "unknown channel", so an office copying its catalogue row knows to leave them out.
NO_OUTLET_CHANNELS = frozenset(
    {
        "发布会/听证会",
        "发布会",
        "听证会",
        "广播电视",
        "纸质媒体",
        "入户/现场",
        "入户",
        "现场",
        "12345政务服务热线",
        "其他",
    }
)

# As catalogues and spreadsheets separate names (a cell may hold line breaks).
_LIST_SEPARATORS = re.compile(r"[、,，;；\n\r\u3000]+")


_VALIDITY_ALIASES = _aliases(
    Validity,
    _VALIDITY_LABELS,
    {"有效": Validity.IN_FORCE, "废止": Validity.REPEALED, "失效": Validity.EXPIRED},
)


_DOC_TYPE_ALIASES = _aliases(
    DocType,
    _DOC_TYPE_LABELS,
    {
        "规范性文件": DocType.NORMATIVE,
        "许可": DocType.LICENCE,
        "处罚": DocType.PENALTY,
        "强制": DocType.COERCION,
        "收费": DocType.FEE,
    },
)
_PAGE_KIND_ALIASES = _aliases(
    PageKind,
    _PAGE_KIND_LABELS,
    {
        "指南": PageKind.GUIDE,
        "公开指南": PageKind.GUIDE,
        "制度": PageKind.RULES,
        "公开制度": PageKind.RULES,
        "年报": PageKind.ANNUAL_REPORT,
        "政府信息公开工作年度报告": PageKind.ANNUAL_REPORT,
        "目录": PageKind.CATALOGUE,
        "公开目录": PageKind.CATALOGUE,
    },
)


def _parse(value: str, table: dict[str, E], what: str) -> E:
    member = table.get(value.strip())
    if member is None:
        choices = ", ".join(
            f"{m.value} ({getattr(m, 'label', '')})"
            for m in dict.fromkeys(table.values())
        )
        raise ValueError(f"unknown {what} {value!r}; expected one of: {choices}")
    return member


def parse_stage(value: str) -> Stage:
    """Normalise a 五公开 stage given in English or Chinese."""
    return _parse(value, _STAGE_ALIASES, "stage")


def parse_attribute(value: str) -> Attribute:
    """Normalise a disclosure attribute given in English or Chinese."""
    return _parse(value, _ATTRIBUTE_ALIASES, "attribute")


def parse_validity(value: str) -> Validity:
    """Normalise a validity (时效) given in English or Chinese."""
    return _parse(value, _VALIDITY_ALIASES, "validity")


def parse_doc_type(value: str) -> DocType:
    """Normalise a document type (文件类型) given in English or Chinese."""
    return _parse(value, _DOC_TYPE_ALIASES, "doc_type")


def parse_page_kind(value: str) -> PageKind:
    """Normalise a 政府信息公开 page kind given in English or Chinese."""
    return _parse(value, _PAGE_KIND_ALIASES, "page_kind")


def parse_channel(value: str) -> ChannelCategory:
    """Normalise a channel category given in English or Chinese."""
    return _parse(value, _CHANNEL_ALIASES, "channel")


def _full_width_brackets(value: str) -> str:
    return value.replace("(", "（").replace(")", "）").strip()


def parse_channels(value: str) -> tuple[ChannelCategory, ...]:
    """The channels one catalogue entry names, in the order given, duplicates dropped.

    `value` may list several names separated as catalogues write them (`、`, `，`,
    `,`, `;`): "政府网站、政府公报、两微一端" is portal, gazette and new_media. A name
    may stand for two kinds of outlet ("村公示栏（电子屏）": noticeboard and screen;
    see `CATALOGUE_CHANNELS`). Raises ValueError naming a part no outlet serves
    (广播电视, 纸质媒体…) or that is unknown."""
    found: dict[ChannelCategory, None] = {}
    for part in _LIST_SEPARATORS.split(value):
        name = _full_width_brackets(part)
        if not name:
            continue
        if name in CATALOGUE_CHANNELS:
            found.update(dict.fromkeys(CATALOGUE_CHANNELS[name]))
            continue
        if name in NO_OUTLET_CHANNELS:
            raise ValueError(
                f"channel {name!r} has no outlet in syndicate (it is published "
                "outside it); leave it out of the item's channels"
            )
        found[parse_channel(name)] = None
    if not found:
        raise ValueError(f"no channel named in {value!r}")
    return tuple(found)
