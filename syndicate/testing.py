"""Test kit for code built on syndicate: a fixed clock and a log snapshot.

Stable API, like `syndicate.errors`: adapter authors and portal backends may use it in their
own tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicate.application import Disclosures

__all__ = ["FixedClock", "log_snapshot"]


class FixedClock:
    """A clock that says what the test tells it; `advance()` moves it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 10, 9, 1, 30, tzinfo=UTC)
        if self.now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by `timedelta(**delta)` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


def log_snapshot(disclosures: Disclosures) -> list[tuple[int, str, bytes]]:
    """Every stored event as (position, topic, state bytes), to prove nothing changed."""
    rows: list[tuple[int, str, bytes]] = []
    start = 0
    while True:
        page = disclosures.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=False
        )
        if not page:
            return rows
        rows.extend((n.id, n.topic, bytes(n.state)) for n in page)
        start = page[-1].id
