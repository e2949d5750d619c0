"""Facts read from the two logs for audit reports: streaming readers, deadlines, reports.

Everything here only reads. The logs are read in pages of notifications (never all at
once), up to the position they had when reading started, so a log growing meanwhile
cannot make a reader loop or mix two moments. What is kept in memory is one small record
per item (and, for `report_data`, per delivery: the report lists every one of them).

Counting rules, stated once:

- An item's **first publication on a public outlet** is the earliest `Succeeded` of a
  delivery of it (not a removal, not a review notice) to an outlet configured with a
  channel (not "other")
  and not internal; for outlets a person puts up (notice boards) the posting time of its
  `Attested` event counts instead. Versions reach an outlet in order, so that is the
  first version's when it went up; any version counts because a first version revised
  before it was sent is superseded, never sent, and the item was still published. This
  is what the statutory deadline (Art. 26: 20 working days from the first version's
  `formed_on`) is measured against; it applies to items whose first version is
  proactively disclosed (主动公开).
- 先审后发: a reviewed item's first version is its draft (`Drafted`), but nothing of it
  is delivered to any public outlet before its first `Released` or `UrgentlyReleased`,
  so the clock runs on while it is under review and slow review shows as late. Its
  `published_at` (the annual counts) is that first release. A draft withdrawn before
  it was ever released (abandoned) has no deadline and is not counted.
- A delivery is **done** when it succeeded or was attested (`DeliveryState.done`); its
  done time is the time of that `Succeeded` event (or of `Resolved` with `sent`), or the
  attested posting time.
- An (item, outlet) is **missing** or **stale** when the item's newest delivery there is
  not done: "missing" if nothing of the item was ever done there, "stale" if an older
  version was. A whole-set outlet (a feed) counts as up to date when a done delivery to it
  covers the newest one's log position. Removals that never reached an outlet that never
  showed the item are not missing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from syndicate.adapter import adapter_label
from syndicate.application import CHINA_TZ, Disclosures
from syndicate.audit.deadlines import (
    Deadline,
    DeadlineState,
    WorkdayCalendar,
    deadline_for,
)
from syndicate.audit.report import (
    AnnualStats,
    DeadlineRow,
    DeliveryRow,
    FailureRow,
    LateNoticeRow,
    MissingRow,
    OverrideRow,
    ReportData,
)
from syndicate.audit.reviews import ReviewFold
from syndicate.domain.catalogue import Attribute, Stage, area_by_code
from syndicate.domain.content import ART_26_DAYS, ItemContent
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.domain.items import DisclosureItem
from syndicate.domain.review import ProposalKind
from syndicate.domain.standard import CATALOGUE_ID
from syndicate.outlets import Outlet
from syndicate.planning import Deliveries
from syndicate.views import ReviewTracker

__all__ = [
    "DELIVERY_TOPICS",
    "DeadlineFact",
    "ItemFacts",
    "ItemFold",
    "OutletInfo",
    "deadline_facts",
    "deadline_rows",
    "delivery_events",
    "first_public_publication",
    "item_events",
    "item_facts",
    "notifications",
    "outlet_info",
    "plain_state",
    "report_data",
    "short_cause",
]

PAGE = 500
REMOVALS = frozenset({"retract", "withdrawal_notice"})
# Deliveries that do not show the item: removals, and review notices to review queues.
NOT_SHOWN = REMOVALS | {"review_notice"}

DELIVERY_TOPICS: tuple[str, ...] = tuple(
    cls.TOPIC
    for cls in (
        Delivery.Planned,
        Delivery.Claimed,
        Delivery.Released,
        Delivery.Succeeded,
        Delivery.Failed,
        Delivery.Unconfirmed,
        Delivery.Abandoned,
        Delivery.Superseded,
        Delivery.RetryRequested,
        Delivery.Resolved,
        Delivery.AwaitingAttestation,
        Delivery.Submitted,
        Delivery.Attested,
        Delivery.Reminded,
        Delivery.Repaired,
    )
)


# -- reading ---------------------------------------------------------------------------


def notifications(
    app: Application[UUID],
    *,
    topics: Sequence[str] = (),
    after: int = 0,
    stop: int | None = None,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[Notification]:
    """Stored events of an application in log order, a page at a time.

    Reads up to `stop` (default: the log's last position when called). `topics` filters
    in the store itself. `on_page(position)` is told how far each page reached.
    """
    if stop is None:
        stop = app.recorder.max_notification_id() or 0
    start = after
    while start < stop:
        page = app.recorder.select_notifications(
            start=start,
            limit=PAGE,
            stop=stop,
            topics=list(topics),
            inclusive_of_start=False,
        )
        if not page:
            break
        yield from page
        start = page[-1].id
        if on_page is not None:
            on_page(start)
    if on_page is not None:
        on_page(stop)


def item_events(
    items: Disclosures, *, stop: int | None = None
) -> Iterator[tuple[int, DisclosureItem.Event]]:
    """Decoded item events with their items-log positions."""
    for n in notifications(items, stop=stop):
        if n.originator_id == CATALOGUE_ID:
            continue  # the standard catalogue shares the items log
        event = items.mapper.to_domain_event(n)
        yield n.id, cast(DisclosureItem.Event, event)


def delivery_events(
    deliveries: Deliveries,
    *,
    topics: Sequence[str] = DELIVERY_TOPICS,
    keep: Callable[[Notification], bool] | None = None,
    stop: int | None = None,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, Delivery.Event]]:
    """Decoded delivery events with their deliveries-log positions.

    `keep` looks at a stored notification before it is decoded (decoding is most of
    the cost of reading a long log); rate slots and the outlet register are never read.
    """
    for n in notifications(deliveries, topics=topics, stop=stop, on_page=on_page):
        if keep is not None and not keep(n):
            continue
        event = deliveries.mapper.to_domain_event(n)
        yield n.id, cast(Delivery.Event, event)


def plain_state(app: Application[UUID]) -> bool:
    """Whether stored states are plain JSON (no compression, no cipher): then a byte
    search in a notification's state is a safe pre-filter before decoding it."""
    mapper: Any = app.mapper
    return mapper.compressor is None and mapper.cipher is None


# -- items -------------------------------------------------------------------------------


@dataclass
class ItemFacts:
    """What reports need of one item: its identity, first version and later changes."""

    id: UUID
    ref: str
    title: str  # the newest public version's (never released: the latest draft's)
    version: int
    published_at: datetime | None  # its first release; None: never released
    formed_on: date  # the first version's (the statutory clock)
    proactive: bool  # the first version is 主动公开
    stage: str  # the first version's
    area: str  # the first version's
    revised: list[datetime] = field(default_factory=list)
    withdrawn_at: datetime | None = None
    abandoned: bool = False  # withdrawn before it was ever released
    review: str | None = None  # what waits for review now (`ReviewTracker.describe`)
    # Changes of the information itself (a version whose `changed_on` or `formed_on`
    # moved): the day it changed and when the version carrying it was released (None:
    # not yet). Each starts the Art. 26 clock again.
    changes: list[tuple[date, datetime | None]] = field(default_factory=list)
    # The time the version waiting is scheduled for (定时发布), if any.
    scheduled: datetime | None = None
    information_day: date | None = None  # the newest shown version's changed/formed day
    # The standard catalogue's 事项 the newest shown version fulfils, and the working
    # days its 时限 allows (None: the Art. 26 default of 20).
    catalogue_item: str | None = None
    time_limit_days: int | None = None
    agency: str = ""
    # The 时限 of the first public version (until it is released: of the version
    # waiting), which its first deadline counts with; each change's own, in step with
    # `changes`; and the 事项 each public version fulfilled, from when it was public.
    first_limit_days: int | None = None
    change_limits: list[int | None] = field(default_factory=list)
    catalogue_history: list[tuple[datetime, str | None]] = field(default_factory=list)


def information_day(content: ItemContent) -> date:
    """The day a version's information was last formed or changed."""
    return content.changed_on or content.formed_on


class ItemFold:
    """`ItemFacts` folded from item events in log order (`add` each event)."""

    def __init__(self) -> None:
        self.found: dict[UUID, ItemFacts] = {}
        self.reviews = ReviewTracker()

    def add(self, event: DisclosureItem.Event) -> None:
        """Take one item event (in log order) into account."""
        id_ = event.originator_id
        pending = self.reviews.proposal(id_)
        released = self.reviews.apply(event)
        if isinstance(event, DisclosureItem.Published | DisclosureItem.Drafted):
            c = event.content
            self.found[id_] = ItemFacts(
                id=id_,
                ref=c.ref,
                title=c.title,
                version=event.originator_version,
                published_at=(
                    event.timestamp
                    if isinstance(event, DisclosureItem.Published)
                    else None
                ),
                formed_on=c.formed_on,
                proactive=c.attribute is Attribute.PROACTIVE,
                stage=c.stage.value,
                area=c.area,
                catalogue_item=c.catalogue_item,
                time_limit_days=c.time_limit_days,
                agency=c.agency,
                first_limit_days=c.time_limit_days,
                catalogue_history=(
                    [(event.timestamp, c.catalogue_item)]
                    if isinstance(event, DisclosureItem.Published)
                    else []
                ),
            )
            return
        facts = self.found.get(id_)
        if facts is None:
            return
        facts.version = event.originator_version
        if isinstance(event, DisclosureItem.ReleaseScheduled):
            facts.scheduled = event.release_at
        elif isinstance(event, DisclosureItem.ScheduleCancelled):
            facts.scheduled = None
        if isinstance(event, DisclosureItem.Revised):
            facts.title = event.content.title
            facts.catalogue_item = event.content.catalogue_item
            facts.time_limit_days = event.content.time_limit_days
            facts.catalogue_history.append(
                (event.timestamp, event.content.catalogue_item)
            )
            if facts.published_at is None:  # a draft released at once
                facts.published_at = event.timestamp
                facts.first_limit_days = event.content.time_limit_days
            else:
                facts.revised.append(event.timestamp)
                self._changed(facts, event.content, event.timestamp)
        elif isinstance(event, DisclosureItem.Withdrawn):
            if facts.published_at is None:
                facts.abandoned = True
            else:
                facts.withdrawn_at = event.timestamp
        elif isinstance(event, DisclosureItem.Submitted):
            if facts.published_at is None and event.content is not None:
                facts.title = event.content.title
                facts.first_limit_days = event.content.time_limit_days
        elif isinstance(
            event, DisclosureItem.Released | DisclosureItem.UrgentlyReleased
        ):
            if released is ProposalKind.WITHDRAW:
                facts.withdrawn_at = event.timestamp
            else:
                content = pending[1] if pending else None
                if content is not None:
                    facts.title = content.title
                    facts.catalogue_item = content.catalogue_item
                    facts.time_limit_days = content.time_limit_days
                facts.catalogue_history.append((event.timestamp, facts.catalogue_item))
                if facts.published_at is None:
                    facts.published_at = event.timestamp
                    facts.first_limit_days = facts.time_limit_days
                else:
                    facts.revised.append(event.timestamp)
                    if content is not None:
                        self._changed(facts, content, event.timestamp)
            facts.scheduled = None
        if facts.published_at is not None and facts.information_day is None:
            facts.information_day = facts.formed_on
        facts.review = self.reviews.describe(id_)

    @staticmethod
    def _changed(facts: ItemFacts, content: ItemContent, at: datetime) -> None:
        """A released revision: a change of the information when its day moved."""
        day = information_day(content)
        before = facts.information_day or facts.formed_on
        if day > before:
            facts.changes.append((day, at))
            facts.change_limits.append(content.time_limit_days)
        facts.information_day = max(day, before)


def item_facts(items: Disclosures) -> dict[UUID, ItemFacts]:
    """One `ItemFacts` per item, in order of its first event."""
    fold = ItemFold()
    for _, event in item_events(items):
        fold.add(event)
    return fold.found


# -- outlets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutletInfo:
    """What reports say about an outlet named in the log or the configuration."""

    name: str
    kind: str
    channel: str | None  # a ChannelCategory value; None for "other" or unknown
    configured: bool
    public: bool  # counts for the statutory deadline
    whole_set: bool
    label: str  # how annual statistics group it


def outlet_info(
    outlets: Mapping[str, Outlet], kinds: Mapping[str, str | None], name: str
) -> OutletInfo:
    """Describe `name`: from its loaded configuration, else from its `kind` alone."""
    outlet = outlets.get(name)
    if outlet is not None:
        channel = outlet.channel
        label = (
            channel.label
            if channel is not None
            else (adapter_label(outlet.adapter_class) or "")
        )
        return OutletInfo(
            name=name,
            kind=outlet.kind,
            channel=channel.value if channel is not None else None,
            configured=True,
            public=channel is not None and not outlet.internal,
            whole_set=outlet.capabilities.whole_set,
            label=label or f"其他（{outlet.kind}）",
        )
    kind = kinds.get(name) or "unknown"
    return OutletInfo(
        name=name,
        kind=kind,
        channel=None,
        configured=name in kinds,
        public=False,
        whole_set=False,
        label=f"未配置渠道（{name}）",
    )


# -- deadlines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineFact:
    """One proactively disclosed item against its statutory deadline; `review`: what
    waits for review now (e.g. "pending 科室初审" for an item never released)."""

    item_id: UUID
    ref: str
    title: str
    deadline: Deadline
    review: str | None = None
    # The clock of a change of the information (changed_on), not of the first version.
    changed: bool = False

    def as_json(self) -> dict[str, object]:
        """The object `audit deadlines --json` prints for this item (`review` only when
        something waits for review)."""
        data: dict[str, object] = {
            "item_id": str(self.item_id),
            "ref": self.ref,
            "title": self.title,
            **self.deadline.as_json(),
        }
        if self.review is not None:
            data["review"] = self.review
        if self.changed:
            data["changed"] = True
        return data


def _scheduled_late(
    deadline: Deadline, scheduled: datetime | None, calendar: WorkdayCalendar
) -> Deadline:
    """An unpublished item scheduled to be released after its due day is late
    already: say so before the schedule fires."""
    if scheduled is None or deadline.published_on is not None:
        return deadline
    day = china_date(scheduled)
    if day <= deadline.due or deadline.state is DeadlineState.LATE:
        return deadline
    late_by = max(calendar.working_days_between(deadline.due, day), 1)
    return replace(
        deadline,
        published_on=None,
        state=DeadlineState.LATE,
        late_by=late_by,
        remaining=0,
    )


def _done_moment(event: Delivery.Event) -> datetime | None:
    """When this event put a rendition up: Succeeded's time, or the posting time."""
    if isinstance(event, Delivery.Succeeded):
        return event.timestamp
    if isinstance(event, Delivery.Attested):
        return event.posted_at
    return None


def first_public_publication(
    deliveries: Deliveries, item_ids: Iterable[UUID], public: Iterable[str]
) -> dict[UUID, datetime]:
    """For each item, the earliest time it went up on a public outlet (module notes)."""
    wanted = set(item_ids)
    outlets = set(public)
    showing: dict[UUID, UUID] = {}  # delivery id -> item id
    earliest: dict[UUID, datetime] = {}
    topics = (Delivery.Planned.TOPIC, Delivery.Succeeded.TOPIC, Delivery.Attested.TOPIC)

    def keep(n: Notification) -> bool:
        return n.topic == Delivery.Planned.TOPIC or n.originator_id in showing

    for _, event in delivery_events(deliveries, topics=topics, keep=keep):
        if isinstance(event, Delivery.Planned):
            if (
                event.operation not in NOT_SHOWN
                and event.outlet in outlets
                and event.item_id in wanted
            ):
                showing[event.originator_id] = event.item_id
            continue
        moment = _done_moment(event)
        item = showing.get(event.originator_id)
        if moment is None or item is None:
            continue
        if item not in earliest or moment < earliest[item]:
            earliest[item] = moment
    return earliest


def china_date(moment: datetime) -> date:
    """The date in China at `moment`."""
    return moment.astimezone(CHINA_TZ).date()


def deadline_facts(
    facts: Mapping[UUID, ItemFacts],
    published: Mapping[UUID, datetime],
    *,
    today: date,
    calendar: WorkdayCalendar,
) -> list[DeadlineFact]:
    """Every proactively disclosed item against Art. 26, by due date then ref.

    Counted as of `today`: a publication on a later day counts as not yet made.
    """
    found = []
    for item in facts.values():
        if not item.proactive or item.abandoned:
            continue
        moment = published.get(item.id)
        # As of `today`: a publication after it has not happened yet.
        day = china_date(moment) if moment is not None else None
        deadline = deadline_for(
            item.formed_on,
            day if day is not None and day <= today else None,
            today=today,
            calendar=calendar,
            limit_days=item.first_limit_days or ART_26_DAYS,
        )
        deadline = _scheduled_late(deadline, item.scheduled, calendar)
        found.append(DeadlineFact(item.id, item.ref, item.title, deadline, item.review))
        for (changed, released), limit in zip(
            item.changes, item.change_limits, strict=True
        ):
            on = china_date(released) if released is not None else None
            found.append(
                DeadlineFact(
                    item.id,
                    item.ref,
                    item.title,
                    deadline_for(
                        changed,
                        on if on is not None and on <= today else None,
                        today=today,
                        calendar=calendar,
                        limit_days=limit or ART_26_DAYS,
                    ),
                    item.review,
                    changed=True,
                )
            )
    found.sort(key=lambda f: (f.deadline.due, f.ref))
    return found


def deadline_rows(found: Iterable[DeadlineFact]) -> list[DeadlineRow]:
    """Deadline facts as report rows."""
    return [
        DeadlineRow(
            item_ref=f.ref,
            title=f.title,
            formed_on=f.deadline.formed_on,
            due=f.deadline.due,
            published_on=f.deadline.published_on,
            state=f.deadline.state.value,
            late_by=f.deadline.late_by,
        )
        for f in found
    ]


# -- the report --------------------------------------------------------------------------


def short_cause(event: Delivery.Failed) -> str:
    """A failure's cause, short enough to group by: its code and the message's start.

    Failure messages never hold secrets (adapters and the worker keep them out of every
    event), so nothing needs masking here.
    """
    line = (event.message.strip().splitlines() or [""])[0].strip()
    if len(line) > 60:
        line = line[:59] + "…"
    text = line or event.error_class
    return f"[{event.code}] {text}" if event.code else text


@dataclass
class _Tracked:
    """One delivery while the deliveries log is folded for the report."""

    delivery: Delivery
    planned_at: datetime  # of the Planned event: a retry does not move it
    done_at: datetime | None = None  # the latest time it was put up
    first_done: datetime | None = None  # the earliest Succeeded or attested posting


def _fold_deliveries(
    deliveries: Deliveries,
) -> tuple[dict[UUID, _Tracked], list[tuple[str, Delivery.Failed]]]:
    tracked: dict[UUID, _Tracked] = {}
    failures: list[tuple[str, Delivery.Failed]] = []
    for _, event in delivery_events(deliveries):
        if isinstance(event, Delivery.Planned):
            aggregate = cast(Delivery, event.mutate(None))
            tracked[event.originator_id] = _Tracked(aggregate, event.timestamp)
            continue
        t = tracked.get(event.originator_id)
        if t is None:
            continue
        was_attested = t.delivery.state is DeliveryState.ATTESTED
        event.mutate(t.delivery)
        if was_attested:
            continue  # final: a late worker's record changes nothing
        if isinstance(event, Delivery.Failed):
            failures.append((t.delivery.outlet, event))
        moment = _done_moment(event)
        if moment is not None and (t.first_done is None or moment < t.first_done):
            t.first_done = moment
        if moment is None and isinstance(event, Delivery.Resolved) and event.sent:
            moment = event.timestamp
        if moment is not None:
            t.done_at = moment
    return tracked, failures


def _missing(
    tracked: Iterable[_Tracked],
    facts: Mapping[UUID, ItemFacts],
    outlets: Mapping[str, OutletInfo],
) -> list[MissingRow]:
    by_pair: dict[tuple[UUID, str], list[Delivery]] = {}
    newest_done: dict[str, int] = {}  # whole-set outlets: log position covered
    for t in tracked:
        d = t.delivery
        info = outlets.get(d.outlet)
        if info is None or not info.configured:
            continue
        by_pair.setdefault((d.item_id, d.outlet), []).append(d)
        if info.whole_set and d.state.done:
            newest_done[d.outlet] = max(newest_done.get(d.outlet, 0), d.position)
    rows = []
    for (item_id, outlet), found in by_pair.items():
        found.sort(key=lambda d: d.item_version)
        latest = found[-1]
        if latest.state.done:
            continue
        if outlets[outlet].whole_set and newest_done.get(outlet, 0) >= latest.position:
            continue
        older_done = any(d.state.done for d in found[:-1])
        if latest.operation == "review_notice":
            continue  # a notice to a review queue, not the item itself
        if latest.operation in REMOVALS and not older_done:
            continue  # never shown there, and nothing to take down
        item = facts.get(item_id)
        detail = f"v{latest.item_version} {latest.operation}: {latest.state.value}"
        if latest.last_error:
            detail += f" ({latest.last_error[:100]})"
        rows.append(
            MissingRow(
                item_ref=item.ref if item else str(item_id),
                title=item.title if item else "",
                outlet=outlet,
                verdict="stale" if older_done else "missing",
                detail=detail,
            )
        )
    return rows


def _annual(
    year: int,
    facts: Mapping[UUID, ItemFacts],
    tracked: Iterable[_Tracked],
    outlets: Mapping[str, OutletInfo],
) -> AnnualStats:
    firsts = [
        f
        for f in facts.values()
        if f.proactive
        and f.published_at is not None
        and china_date(f.published_at).year == year
    ]
    by_stage: dict[str, int] = {}
    for stage in Stage:  # the 五公开 order, each listed even when 0
        by_stage[stage.label] = sum(1 for f in firsts if f.stage == stage.value)
    by_area: dict[str, int] = {}
    for f in sorted(firsts, key=lambda f: _area_number(f.area)):
        name = _area_name(f.area)
        by_area[name] = by_area.get(name, 0) + 1
    by_channel: dict[str, int] = {}
    for t in tracked:
        d = t.delivery
        if (
            not d.state.done
            or t.done_at is None
            or china_date(t.done_at).year != year
            or d.operation in NOT_SHOWN
        ):
            continue
        info = outlets.get(d.outlet)
        label = info.label if info else d.outlet
        by_channel[label] = by_channel.get(label, 0) + 1
    return AnnualStats(
        year=year,
        by_stage=by_stage,
        by_area=by_area,
        by_channel=dict(sorted(by_channel.items())),
        total_items=len(firsts),
        revised=sum(
            1
            for f in facts.values()
            if any(china_date(r).year == year for r in f.revised)
        ),
        withdrawn=sum(
            1
            for f in facts.values()
            if f.withdrawn_at is not None and china_date(f.withdrawn_at).year == year
        ),
    )


def _area_name(code: str) -> str:
    try:
        return area_by_code(code).name
    except KeyError:
        return code


def _area_number(code: str) -> int:
    try:
        return area_by_code(code).number
    except KeyError:
        return 10_000


def report_data(
    items: Disclosures,
    deliveries: Deliveries,
    *,
    outlets: Mapping[str, Outlet],
    kinds: Mapping[str, str | None],
    problems: Mapping[str, str],
    now: datetime,
    calendar: WorkdayCalendar,
    year: int | None = None,
    review: bool = False,
) -> ReportData:
    """Everything `write_report` shows, read from the logs.

    `outlets` are the loaded outlets; `kinds` every configured outlet's `kind` (loaded or
    not); `problems` why some did not load. Deliveries to outlets that are not configured
    are listed but not counted as missing. The review sections (`ReportData.review`) are
    there when `review` (the home reviews items) or the log has review events.
    """
    fold, reviews = ItemFold(), ReviewFold()
    overridden: list[DisclosureItem.GuardOverridden] = []
    excepted: list[DisclosureItem.NoticeExcepted] = []
    for _, event in item_events(items):
        fold.add(event)
        reviews.add(event)
        if isinstance(event, DisclosureItem.GuardOverridden):
            overridden.append(event)
        elif isinstance(event, DisclosureItem.NoticeExcepted):
            excepted.append(event)
    facts = fold.found
    tracked, failed = _fold_deliveries(deliveries)
    names = set(kinds) | {t.delivery.outlet for t in tracked.values()}
    info = {name: outlet_info(outlets, kinds, name) for name in names}
    public = {name for name, i in info.items() if i.public}
    published: dict[UUID, datetime] = {}
    for t in tracked.values():
        d, moment = t.delivery, t.first_done
        if d.operation in NOT_SHOWN or d.outlet not in public or moment is None:
            continue
        if d.item_id not in published or moment < published[d.item_id]:
            published[d.item_id] = moment
    today = china_date(now)
    deadlines = deadline_facts(facts, published, today=today, calendar=calendar)
    rows = []
    for t in tracked.values():
        d = t.delivery
        item = facts.get(d.item_id)
        rows.append(
            DeliveryRow(
                delivery_id=str(d.id),
                outlet=d.outlet,
                kind=info[d.outlet].kind,
                item_ref=item.ref if item else str(d.item_id),
                title=item.title if item else "",
                version=d.item_version,
                state=d.state.value,
                planned_at=t.planned_at,
                done_at=t.done_at if d.state.done else None,
                attempts=d.attempt,
            )
        )
    rows.sort(key=lambda r: (r.planned_at, r.delivery_id))
    failures = [
        FailureRow(outlet=outlet, at=event.timestamp, cause=short_cause(event))
        for outlet, event in failed
    ]
    notes = list(calendar.warnings())
    for name in sorted(names):
        if name in problems:
            notes.append(f"outlet {name} does not load here ({problems[name]})")
        elif not info[name].configured:
            notes.append(
                f"outlet {name} is in the log but not configured here: its deliveries "
                "are listed, not checked for missing items"
            )
    title = "政务公开发布审计报告" + (f"（{year}年）" if year is not None else "")
    return ReportData(
        generated_at=now,
        title=title,
        deliveries=rows,
        failures=failures,
        missing=_missing(tracked.values(), facts, info),
        deadlines=deadline_rows(deadlines),
        annual=_annual(year, facts, tracked.values(), info) if year else None,
        notes=notes,
        review=reviews.stats(now) if review or reviews.seen else None,
        overrides=[
            OverrideRow(
                *_named(facts, e),
                basis=e.basis,
                personal_information=e.personal_information,
                wording=e.wording,
                findings=e.findings,
                content_hash=e.content_hash,
            )
            for e in overridden
        ],
        late_notices=[
            LateNoticeRow(
                *_named(facts, e),
                reason=e.reason,
                problems=e.problems,
                content_hash=e.content_hash,
            )
            for e in excepted
        ],
    )


def _named(
    facts: Mapping[UUID, ItemFacts], event: DisclosureItem.Event
) -> tuple[str, str, int, datetime, str]:
    """The first columns of a report row about one event: the item's ref and title,
    the event's version, time and actor."""
    item = facts.get(event.originator_id)
    return (
        item.ref if item else str(event.originator_id),
        item.title if item else "",
        event.originator_version,
        event.timestamp,
        event.actor,
    )
