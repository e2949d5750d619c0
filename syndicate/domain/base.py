"""Pydantic domain events on eventsourcing aggregates.

Events are frozen pydantic models with explicit, stable topics (`TOPIC`), so renaming or
moving a class never breaks replay of a stored log. Schema changes get a `class_version`
and `upcast_vN_vM` static methods, which `syndicate.persistence.PydanticMapper` applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = ["CHINA_TZ", "Aggregate", "DomainEvent", "china_time", "format_time"]

# Display time zone. China has kept UTC+8 without daylight saving since 1991, so a fixed
# offset is exact for every date this log can hold; no tz database is needed.
CHINA_TZ = timezone(timedelta(hours=8), "CST")


def format_time(moment: datetime) -> str:
    """A moment as operators read it in messages and tables: China time, to the second."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def china_time(moment: datetime) -> str:
    """ISO 8601 in China time (+08:00), for JSON."""
    return moment.astimezone(CHINA_TZ).isoformat()


class DomainEvent(BaseModel):
    """Base of every stored event: who it belongs to, its position in that stream, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[str]
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: AwareDatetime


class Aggregate(BaseAggregate[UUID]):
    """An event-sourced aggregate whose events are pydantic models.

    Subclasses declare their own `Event(Aggregate.Event)` and a first event that also
    subclasses `CanInitAggregate[UUID]` with an `originator_topic: str` field. (A shared
    `Created` base here would be re-declared on every subclass by eventsourcing's
    metaclass, and then need an explicit topic of its own.)
    """

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        """Base of an aggregate's events (never stored itself)."""

        timestamp: AwareDatetime

    def __init__(self) -> None:
        """State is set by the created event's `apply`, not by arguments."""
