"""The standard catalogue (标准目录): what an office must disclose, 事项 by 事项, versioned.

A catalogue lists 事项: each has a path (一级事项 / 二级事项 / 公开内容), the 依据, the
时限, the 主体 (agency), the 渠道和载体, the 对象, the 方式 (主动 / 依申请), the 层级,
and, as 济源's eleven elements add, the 事项类别 and the 监督投诉 contact. The catalogue
is adjusted over time (动态调整): `StandardCatalogue` is an aggregate in the items log,
started by its first import (`Started`) and changed by each later one (`Adjusted`,
recording the 事项 added, removed and changed), so every version stays in the trail and
is covered by `audit verify`.

An item fulfils a 事项 (`ItemContent.catalogue_item`, its code or its path) and takes
from it what it leaves out (`inherit`): 依据, 对象, 方式, 渠道, 时限, 监督投诉. What it
gives must agree with the 事项 (`Contradiction` problems otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import CanInitAggregate
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from syndicate.domain.base import Aggregate
from syndicate.domain.catalogue import (
    Attribute,
    ChannelCategory,
    parse_attribute,
)
from syndicate.domain.content import ITEM_NAMESPACE, ItemContent, _line
from syndicate.errors import InputError, Problem

__all__ = [
    "CATALOGUE_ID",
    "CatalogueChange",
    "CatalogueEntry",
    "CatalogueVersion",
    "Period",
    "StandardCatalogue",
    "diff",
    "inherit",
    "parse_time_limit",
]

# The one catalogue of a home (a county office keeps one; its rows name their 主体).
CATALOGUE_ID = uuid5(ITEM_NAMESPACE, "standard-catalogue")

Text = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=500)]
ShortText = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=100)]
MAX_ENTRIES = 5000


class Period(StrEnum):
    """How often a 事项 must have something new (its 时限 says 每月, 每季度, 每年)."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"

    @property
    def label(self) -> str:
        """Chinese name as a catalogue writes it."""
        return {
            Period.MONTH: "每月",
            Period.QUARTER: "每季度",
            Period.HALF_YEAR: "每半年",
            Period.YEAR: "每年",
        }[self]


_DAYS = re.compile(r"(\d{1,3})\s*个?\s*工作日")
_NATURAL_DAYS = re.compile(r"(\d{1,3})\s*(?:个自然日|日|天)内")
_PERIODS = (
    (re.compile(r"每月|按月|月度"), Period.MONTH),
    (re.compile(r"每季|按季|季度"), Period.QUARTER),
    (re.compile(r"每半年|半年度"), Period.HALF_YEAR),
    (re.compile(r"每年|按年|年度|每一年"), Period.YEAR),
)


def parse_time_limit(text: str) -> tuple[int | None, Period | None]:
    """The working days and the period a 时限 states, either or both None.

    "自信息形成或者变更之日起20个工作日内" is (20, None); "每季度更新" is (None,
    QUARTER); "实时", "长期公开" are (None, None). Natural days ("7日内") count as
    working days here, the stricter reading."""
    days: int | None = None
    if (found := _DAYS.search(text)) or (found := _NATURAL_DAYS.search(text)):
        days = int(found.group(1))
    if days is not None and not 1 <= days <= 366:
        raise ValueError(f"{text!r}: {days} working days is not a time limit")
    period = next((p for pattern, p in _PERIODS if pattern.search(text)), None)
    return days, period


class CatalogueEntry(BaseModel):
    """One 事项 of the catalogue, as its version records it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Text
    level1: ShortText
    level2: ShortText | None = None
    item: ShortText
    basis: Text
    time_limit: Text
    time_limit_days: Annotated[int, Field(ge=1, le=366)] | None = None
    period: Period | None = None
    agency: ShortText
    channels: tuple[ChannelCategory, ...]
    # 渠道 the catalogue names that syndicate has no outlet for (发布会, 广播电视…).
    other_channels: tuple[ShortText, ...] = ()
    audience: ShortText = "全社会"
    attribute: Attribute = Attribute.PROACTIVE
    level: ShortText | None = None
    category: ShortText | None = None
    supervision: Text | None = None
    area: ShortText | None = None

    @property
    def path(self) -> str:
        """一级事项/二级事项/公开内容, as items may name it."""
        return "/".join(p for p in (self.level1, self.level2, self.item) if p)


@dataclass(frozen=True)
class CatalogueChange:
    """What one import changed: 事项 added, removed (codes) and changed."""

    added: tuple[CatalogueEntry, ...]
    removed: tuple[str, ...]
    changed: tuple[CatalogueEntry, ...]

    @property
    def empty(self) -> bool:
        """Nothing changed."""
        return not (self.added or self.removed or self.changed)


def diff(
    old: dict[str, CatalogueEntry], new: dict[str, CatalogueEntry]
) -> CatalogueChange:
    """What changed from `old` to `new` (both by code), in the new order."""
    return CatalogueChange(
        added=tuple(e for code, e in new.items() if code not in old),
        removed=tuple(code for code in old if code not in new),
        changed=tuple(e for code, e in new.items() if code in old and old[code] != e),
    )


@dataclass(frozen=True)
class CatalogueVersion:
    """A version of the catalogue: its 事项 in order, and where it came from."""

    version: int
    entries: tuple[CatalogueEntry, ...]
    source: str
    sha256: str
    actor: str
    at: datetime
    change: CatalogueChange

    def find(self, ref: str) -> CatalogueEntry | None:
        """The 事项 with this code or path (spaces around `/` ignored)."""
        code = ref.strip()
        wanted = "/".join(p.strip() for p in code.split("/"))
        # A code first, across every 事项; then a path.
        for entry in self.entries:
            if entry.code == code:
                return entry
        for entry in self.entries:
            if entry.path == wanted:
                return entry
        return None


class StandardCatalogue(Aggregate):
    """The home's standard catalogue, version by version. Only `Disclosures` saves it."""

    TOPIC = "syndicate.StandardCatalogue"

    class Event(Aggregate.Event):
        """Base of the catalogue's events."""

        actor: ShortText
        source: Annotated[str, Field(max_length=300)]
        sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

        def apply(self, aggregate: Any) -> None:
            catalogue: StandardCatalogue = aggregate
            catalogue.on(self)

    class Started(Event, CanInitAggregate[UUID]):
        """The first catalogue was imported."""

        TOPIC: ClassVar[str] = "syndicate.StandardCatalogue.Started"
        originator_topic: str
        entries: tuple[CatalogueEntry, ...]

    class Adjusted(Event):
        """动态调整: a later import added, removed and changed 事项."""

        TOPIC: ClassVar[str] = "syndicate.StandardCatalogue.Adjusted"
        added: tuple[CatalogueEntry, ...]
        removed: tuple[str, ...]
        changed: tuple[CatalogueEntry, ...]
        # The order of the codes in the new version (a move is a change of order).
        order: tuple[str, ...]

    if TYPE_CHECKING:
        entries: dict[str, CatalogueEntry]
        versions: list[CatalogueVersion]

    @classmethod
    def start(
        cls,
        entries: tuple[CatalogueEntry, ...],
        *,
        source: str,
        sha256: str,
        actor: str,
        at: datetime,
    ) -> StandardCatalogue:
        """The catalogue's first version."""
        return cls._create(
            cls.Started,
            id=CATALOGUE_ID,
            entries=entries,
            source=source,
            sha256=sha256,
            actor=actor,
            timestamp=at,
        )

    def adjust(
        self,
        entries: tuple[CatalogueEntry, ...],
        *,
        source: str,
        sha256: str,
        actor: str,
        at: datetime,
    ) -> CatalogueChange:
        """Record what `entries` change; nothing when they change nothing."""
        new = {e.code: e for e in entries}
        change = diff(self.entries, new)
        if change.empty and list(new) == list(self.entries):
            return change
        self.trigger_event(
            self.Adjusted,
            added=change.added,
            removed=change.removed,
            changed=change.changed,
            order=tuple(new),
            source=source,
            sha256=sha256,
            actor=actor,
            timestamp=at,
        )
        return change

    def on(self, event: Event) -> None:
        """Fold one event into the current entries and the list of versions."""
        if isinstance(event, StandardCatalogue.Started):
            self.entries = {e.code: e for e in event.entries}
            self.versions = []
            change = CatalogueChange(added=event.entries, removed=(), changed=())
        elif isinstance(event, StandardCatalogue.Adjusted):
            merged = {
                **self.entries,
                **{e.code: e for e in event.added + event.changed},
            }
            self.entries = {code: merged[code] for code in event.order}
            change = CatalogueChange(
                added=event.added, removed=event.removed, changed=event.changed
            )
        else:  # pragma: no cover - every event class is handled above
            raise TypeError(type(event).__name__)
        self.versions.append(
            CatalogueVersion(
                version=event.originator_version,
                entries=tuple(self.entries.values()),
                source=event.source,
                sha256=event.sha256,
                actor=event.actor,
                at=event.timestamp,
                change=change,
            )
        )

    @property
    def current(self) -> CatalogueVersion:
        """The version in force."""
        return self.versions[-1]


# -- items fulfil 事项 ------------------------------------------------------------------

# What an item takes from its 事项 when it leaves the field out.
_INHERITED = ("basis", "audience", "attribute", "channels", "supervision")


def inherit(content: ItemContent, version: CatalogueVersion | None) -> ItemContent:
    """`content` with what its 事项 says filled in, or `InputError` naming each
    contradiction (an outlet the 事项 does not list, another 对象 or 方式, a longer
    时限). Content naming no 事项 is returned as it is."""
    ref = content.catalogue_item
    if ref is None:
        if content.catalogue_path is not None and version is not None:
            raise InputError(
                [
                    Problem(
                        "catalogue_path",
                        "this home has a standard catalogue: name the 事项 with "
                        f"catalogue_item = {content.catalogue_path!r} instead (the "
                        "path is then filled in from the catalogue)",
                    )
                ]
            )
        return content
    if version is None:
        raise InputError(
            [
                Problem(
                    "catalogue_item",
                    f"names 事项 {ref!r}, but this home has no standard catalogue; "
                    "import one with `syndicate catalogue import FILE` or leave "
                    "catalogue_item out",
                )
            ]
        )
    entry = version.find(ref)
    if entry is None:
        raise InputError(
            [
                Problem(
                    "catalogue_item",
                    f"{ref!r} is no 事项 of the standard catalogue (version "
                    f"{version.version}); give its code or its path "
                    "一级事项/二级事项/公开内容 (`syndicate catalogue show` lists them)",
                )
            ]
        )
    given = content.model_fields_set
    problems = _contradictions(content, entry, given)
    if problems:
        raise InputError(problems)
    update: dict[str, Any] = {
        "catalogue_item": entry.code,
        "catalogue_path": entry.path,
    }
    if "basis" not in given or content.basis is None:
        update["basis"] = entry.basis
    if "audience" not in given:
        update["audience"] = entry.audience
    if "attribute" not in given:
        update["attribute"] = entry.attribute
    if "channels" not in given:
        update["channels"] = list(entry.channels)
    if "supervision" not in given and entry.supervision is not None:
        update["supervision"] = entry.supervision
    if content.time_limit_days is None and entry.time_limit_days is not None:
        update["time_limit_days"] = entry.time_limit_days
    if all(content.model_dump().get(k) == v for k, v in update.items()):
        return content
    return content.model_copy(update=update)


# 公开对象 a catalogue writes for "a group it does not name": an item names which.
_SOME_GROUP = frozenset({"特定群体", "特定对象", "特定人群"})


def _same_audience(given: str, listed: str) -> bool:
    """Whether an item's 对象 agrees with its 事项's: the same, or a named group
    where the 事项 says 特定群体."""
    return given == listed or (listed in _SOME_GROUP and given != "全社会")


def _contradictions(
    content: ItemContent, entry: CatalogueEntry, given: set[str]
) -> list[Problem]:
    where = f"事项 {entry.path}"
    problems = []
    if "channels" in given:
        extra = [c for c in content.channels if c not in entry.channels]
        if extra:
            listed = "、".join(c.label for c in entry.channels)
            problems.append(
                Problem(
                    "channels",
                    f"{'、'.join(c.label for c in extra)} not listed by {where} "
                    f"(it lists {listed}); leave channels out to take the 事项's, or "
                    "adjust the catalogue",
                )
            )
    if "audience" in given and not _same_audience(content.audience, entry.audience):
        problems.append(
            Problem(
                "audience",
                f"{content.audience!r} contradicts {where}, whose 公开对象 is "
                f"{entry.audience!r}; leave audience out to take it",
            )
        )
    if "attribute" in given and content.attribute is not entry.attribute:
        problems.append(
            Problem(
                "attribute",
                f"{content.attribute.label} contradicts {where}, whose 公开方式 is "
                f"{entry.attribute.label}; leave attribute out to take it",
            )
        )
    if (
        content.time_limit_days is not None
        and entry.time_limit_days is not None
        and content.time_limit_days > entry.time_limit_days
    ):
        problems.append(
            Problem(
                "time_limit_days",
                f"{content.time_limit_days} working days is longer than {where} "
                f"allows ({entry.time_limit}); an item may only be stricter",
            )
        )
    return problems


def attribute_of(text: str) -> Attribute:
    """A 公开方式 cell ("主动公开", "依申请公开") as an `Attribute`."""
    return parse_attribute(text)
