"""先审后发 in the audit report: urgent releases, time in review, returns.

`ReviewFold` reads item events in log order (one small record per item under review,
plus one row per urgent release and per return) and gives the report's `ReviewStats`.

Counting rules:

- **Time at a level**: from the submission of the version that was released (or the
  previous level's approval of it) to this level's approval. Only versions released
  after approval at every level count (`Released`), not urgent releases.
- **Submission to release**: from the first submission since the item's last public
  change (so a version returned and submitted again counts from its first submission)
  to its `Released` event.
- **Urgent releases** (`UrgentlyReleased`): each with the levels it is to be approved at
  afterwards and the `due` time recorded on the event (`[review] urgent_review_hours`
  after the release). As of the report's time: `approved` (every level approved
  afterwards by `due`), `approved_late` (after `due`), `awaiting` (not yet due), `superseded` (a later urgent release of the item replaced it
  before it was approved afterwards: that one is to be approved instead),
  `overdue` (due, not approved at every level).
- **Returns** (`Returned`): one row each, with the level, reviewer and comment.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from syndicate.audit.report import ReturnedRow, ReviewStats, ReviewTime, UrgentRow
from syndicate.domain.items import DisclosureItem
from syndicate.domain.review import ProposalKind

__all__ = ["ReviewFold"]

# Events that exist only under review: a log with any of them had review on.
_REVIEW_EVENTS = (
    DisclosureItem.Drafted,
    DisclosureItem.Submitted,
    DisclosureItem.Approved,
    DisclosureItem.Returned,
    DisclosureItem.Released,
    DisclosureItem.UrgentlyReleased,
    DisclosureItem.ApprovedAfterwards,
)


@dataclass
class _Submission:
    at: datetime
    kind: ProposalKind
    levels: tuple[str, ...]
    approvals: list[tuple[str, datetime]] = field(default_factory=list)
    returned: bool = False


@dataclass
class _Urgent:
    item_id: UUID
    kind: ProposalKind
    at: datetime
    actor: str
    reason: str
    due: datetime
    levels: int
    approved: int = 0
    approved_at: datetime | None = None
    # A later urgent release of the same item replaced this one before it was
    # approved afterwards: the item keeps (and reviewers approve) the later one only.
    superseded_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.superseded_at is not None:
            return "superseded"
        if self.approved_at is not None:
            return "approved" if self.approved_at <= self.due else "approved_late"
        return "overdue" if now > self.due else "awaiting"


class ReviewFold:
    """Review facts folded from item events in log order (`add` each event)."""

    def __init__(self) -> None:
        self.seen = False  # any review event in the log
        self._refs: dict[UUID, str] = {}
        self._titles: dict[UUID, str] = {}
        self._levels: dict[str, list[float]] = {}  # level -> seconds, first-seen order
        self._totals: list[float] = []
        self._started: dict[UUID, datetime] = {}  # first submission since last release
        self._open: dict[UUID, _Submission] = {}  # the version under review
        self._urgent: list[_Urgent] = []
        self._latest_urgent: dict[UUID, _Urgent] = {}
        self._returned: list[tuple[UUID, DisclosureItem.Returned]] = []

    def add(self, event: DisclosureItem.Event) -> None:
        """Take one item event (in log order) into account."""
        id_ = event.originator_id
        if isinstance(event, _REVIEW_EVENTS):
            self.seen = True
        if isinstance(
            event,
            DisclosureItem.Published | DisclosureItem.Drafted | DisclosureItem.Revised,
        ):
            self._refs[id_] = event.content.ref
            self._titles[id_] = event.content.title
        if isinstance(
            event,
            DisclosureItem.Published
            | DisclosureItem.Revised
            | DisclosureItem.Withdrawn,
        ):
            self._started.pop(id_, None)  # changed at once: no review cycle open
            self._open.pop(id_, None)
        elif isinstance(event, DisclosureItem.Submitted):
            if event.content is not None:
                self._titles[id_] = event.content.title
            for level in event.levels:
                self._levels.setdefault(level, [])
            self._started.setdefault(id_, event.timestamp)
            self._open[id_] = _Submission(event.timestamp, event.kind, event.levels)
        elif isinstance(event, DisclosureItem.Approved):
            if id_ in self._open:
                self._open[id_].approvals.append((event.level, event.timestamp))
        elif isinstance(event, DisclosureItem.Returned):
            self._returned.append((id_, event))
            if id_ in self._open:
                self._open[id_].returned = True
        elif isinstance(event, DisclosureItem.Released):
            self._released(id_, event)
        elif isinstance(event, DisclosureItem.UrgentlyReleased):
            self._urgently(id_, event)
        elif isinstance(event, DisclosureItem.ApprovedAfterwards):
            urgent = self._latest_urgent.get(id_)
            if urgent is not None and urgent.approved_at is None:
                urgent.approved += 1
                if urgent.approved >= urgent.levels:
                    urgent.approved_at = event.timestamp

    def _released(self, id_: UUID, event: DisclosureItem.Released) -> None:
        submission = self._open.pop(id_, None)
        started = self._started.pop(id_, None)
        if submission is None:  # the log was read from after its submission
            return
        previous = submission.at
        for level, at in submission.approvals:
            waited = (at - previous).total_seconds()
            self._levels.setdefault(level, []).append(waited)
            previous = at
        start = started or submission.at
        self._totals.append((event.timestamp - start).total_seconds())

    def _urgently(self, id_: UUID, event: DisclosureItem.UrgentlyReleased) -> None:
        submission = self._open.pop(id_, None)
        self._started.pop(id_, None)
        urgent = _Urgent(
            item_id=id_,
            kind=submission.kind if submission else ProposalKind.PUBLISH,
            at=event.timestamp,
            actor=event.actor,
            reason=event.reason,
            due=event.due,
            levels=len(submission.levels) if submission else 0,
        )
        earlier = self._latest_urgent.get(id_)
        if earlier is not None and earlier.approved_at is None:
            earlier.superseded_at = event.timestamp
        self._urgent.append(urgent)
        self._latest_urgent[id_] = urgent

    def stats(self, now: datetime) -> ReviewStats:
        """The report's review section as of `now`."""
        times = [
            ReviewTime(level, len(v), statistics.median(v), max(v))
            for level, v in self._levels.items()
            if v
        ]
        if self._totals:
            times.append(
                ReviewTime(
                    None,
                    len(self._totals),
                    statistics.median(self._totals),
                    max(self._totals),
                )
            )
        urgent = [
            UrgentRow(
                item_ref=self._ref(u.item_id),
                title=self._titles.get(u.item_id, ""),
                kind=u.kind.value,
                released_at=u.at,
                released_by=u.actor,
                reason=u.reason,
                due=u.due,
                levels=u.levels,
                approved=u.approved,
                approved_at=u.approved_at,
                state=u.state(now),
            )
            for u in self._urgent
        ]
        returned = [
            ReturnedRow(
                item_ref=self._ref(id_),
                title=self._titles.get(id_, ""),
                level=e.level,
                reviewer=e.actor,
                at=e.timestamp,
                comment=e.comment,
                content_hash=e.content_hash,
            )
            for id_, e in self._returned
        ]
        return ReviewStats(
            urgent=urgent,
            times=times,
            returned=returned,
            under_review=sum(1 for s in self._open.values() if not s.returned),
        )

    def _ref(self, item_id: UUID) -> str:
        return self._refs.get(item_id, str(item_id))
