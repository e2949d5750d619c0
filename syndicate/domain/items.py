"""`DisclosureItem` (政务公开事项): published once, revised, withdrawn; every change an event.

Rules enforced here, with plain values and no I/O:

- the id is uuid5(agency, index_no), so a second publication of the same item cannot be
  stored (the store refuses the duplicate first event; the application reports it);
- a revision may not change the item's identity (agency, index_no), and a revision
  identical to the current content is refused ("nothing changed");
- a withdrawn item cannot be revised or withdrawn again;
- every event records the actor who caused it.

先审后发 (`syndicate.domain.review`): under review a new item is `Drafted` and
`Submitted`, a revision or a withdrawal is `Submitted`; `Approved` at each level the
submission recorded, in order, each naming the content hash it approves; `Returned` sends
it back to its author; `Released` makes it public. `UrgentlyReleased` makes it public at
once and `ApprovedAfterwards` approves it later. The item's `content`, `status` and
`history` are always what outlets show (for an item never released: its draft, status
`pending`); the version under review is `pending`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import CanInitAggregate
from pydantic import AwareDatetime, BeforeValidator, Field

from syndicate.domain.base import CHINA_TZ, Aggregate
from syndicate.domain.catalogue import Validity
from syndicate.domain.content import ItemContent, _line, _multiline, content_hash
from syndicate.domain.pii import find_pii
from syndicate.domain.review import (
    PUBLIC_EVENT,
    Approval,
    Pending,
    ProposalKind,
    Returned,
    ReviewRules,
    UrgentRelease,
)
from syndicate.domain.status import ItemStatus
from syndicate.errors import (
    ConflictError,
    DomainError,
    InputError,
    ItemWithdrawn,
    NothingChanged,
    Problem,
    ReviewRefused,
)

__all__ = [
    "AFTER_END",
    "DisclosureItem",
    "Erasure",
    "Expiry",
    "ItemStatus",
    "NoticeEnd",
    "Repeal",
    "Schedule",
    "VersionRecord",
    "Withdrawal",
    "check_actor",
    "check_line",
    "check_note",
]

Actor = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=100)]
Reason = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=500)]
Note = Annotated[str, BeforeValidator(_multiline), Field(max_length=2000)]
LevelName = Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=50)]
Comment = Annotated[str, BeforeValidator(_multiline), Field(max_length=2000)]
Member = tuple[UUID, int]
_T = TypeVar("_T")


@dataclass(frozen=True)
class VersionRecord:
    """One entry of an item's history, as the portal's 更正说明 list shows it."""

    version: int
    event: str
    at: datetime
    actor: str
    content_hash: str | None
    reason: str | None
    level: str | None = None


@dataclass(frozen=True)
class Erasure:
    """When and why an item's sealed parts were erased, and what outlets say."""

    reason: str
    public_note: str
    actor: str
    timestamp: datetime
    version: int
    parts: tuple[str, ...]


# What the portal and the feeds do with a 公示 once its window ended ([notice] after_end).
AFTER_END = ("hide_details", "keep", "remove")


@dataclass(frozen=True)
class Schedule:
    """定时发布: the version waiting (`pending`) is released at `release_at`, not
    before (review, where configured, still approves it first)."""

    release_at: datetime
    actor: str
    at: datetime
    version: int
    reason: str | None


@dataclass(frozen=True)
class NoticeEnd:
    """The 公示期 ending on `end` is over (recorded the next day, China time)."""

    end: date
    after_end: str  # one of AFTER_END, as configured when it was recorded
    notify: bool  # group robots get a short notice
    at: datetime
    version: int


@dataclass(frozen=True)
class Repeal:
    """废止: the document was repealed (it stays public, as history)."""

    reason: str
    public_note: str
    replaced_by: UUID | None
    replaced_by_ref: str | None
    replaced_by_title: str | None
    actor: str
    at: datetime
    version: int
    policy: UUID | None = None  # a 解读 marked with the policy it interprets


@dataclass(frozen=True)
class Expiry:
    """已失效: `valid_until` passed (recorded by itself the next day)."""

    valid_until: date
    at: datetime
    version: int


@dataclass(frozen=True)
class Withdrawal:
    """How a released item was taken down (what outlets show in its place)."""

    reason: str
    public_note: str
    actor: str
    timestamp: datetime


def _check_line(field: str, value: str, limit: int) -> str:
    try:
        cleaned = _line(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise InputError([Problem(field, str(exc))]) from None
    if not cleaned:
        raise InputError([Problem(field, "must not be empty")])
    if len(cleaned) > limit:
        raise InputError([Problem(field, f"is longer than {limit} characters")])
    return str(cleaned)


def check_line(field: str, value: str, limit: int) -> str:
    """Validate a one-line command argument (a reason), naming the field."""
    return _check_line(field, value, limit)


def check_note(note: str) -> str:
    """Validate and normalise a public note (multi-line, at most 2000 characters)."""
    try:
        cleaned = str(_multiline(note))
    except ValueError as exc:
        raise InputError([Problem("public_note", str(exc))]) from None
    if len(cleaned) > 2000:
        raise InputError([Problem("public_note", "is longer than 2000 characters")])
    return cleaned


def check_actor(actor: str) -> str:
    """Validate and normalise the actor name recorded on every event (a name, never
    an ID or phone number: the log keeps it for ever)."""
    name = _check_line("actor", actor, 100)
    for found in find_pii(name):
        raise InputError(
            [
                Problem(
                    "actor",
                    f"holds a {found.kind.label} ({found.masked}); give a name",
                )
            ]
        )
    return name


class DisclosureItem(Aggregate):
    """A disclosure item and its versions. Only `Disclosures` saves it."""

    TOPIC = "syndicate.DisclosureItem"

    class Event(Aggregate.Event):
        """Base of the item's events; each records who caused it."""

        actor: Actor

        def record(self) -> VersionRecord:
            """This event as an entry of the item's history."""
            return VersionRecord(
                version=self.originator_version,
                event=type(self).__name__,
                at=self.timestamp,
                actor=self.actor,
                content_hash=getattr(self, "content_hash", None),
                reason=getattr(self, "reason", None) or getattr(self, "comment", None),
                level=getattr(self, "level", None),
            )

    class Published(Event, CanInitAggregate[UUID]):
        """The item was published (version 1), released at once (review off)."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Published"
        originator_topic: str
        content: ItemContent
        content_hash: str

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item._begin(self.content, self.content_hash, ItemStatus.PUBLISHED)
            item._seen(self.content)
            item.history = [self.record()]
            item.public_version = self.originator_version

    class Revised(Event):
        """The item's content was replaced at once (review off); `reason` is the
        public 更正说明."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Revised"
        content: ItemContent
        content_hash: str
        reason: Reason

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            first = item.status is ItemStatus.PENDING
            item._seen(self.content)
            item.content = self.content
            item.content_hash = self.content_hash
            item.status = ItemStatus.PUBLISHED
            item.pending = None
            record = self.record()
            if first:  # a draft released by a revision once review was switched off
                record = VersionRecord(
                    record.version,
                    "Published",
                    record.at,
                    record.actor,
                    record.content_hash,
                    None,
                )
            item.history.append(record)
            item.public_version = self.originator_version
            item.schedule = None  # released at once: nothing waits any more

    class Withdrawn(Event):
        """The item was withdrawn (撤回) at once; `public_note` is shown where it was."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Withdrawn"
        reason: Reason
        public_note: Note = ""

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            was_public = item.status is ItemStatus.PUBLISHED
            item.status = ItemStatus.WITHDRAWN
            item.pending = None
            item.schedule = None
            item.withdrawal = Withdrawal(
                self.reason, self.public_note, self.actor, self.timestamp
            )
            if was_public:
                item.history.append(self.record())
                item.public_version = self.originator_version
            else:  # a draft abandoned: nothing was ever public
                item.reviews.append(self.record())

    # -- 先审后发 -------------------------------------------------------------------------

    class Drafted(Event, CanInitAggregate[UUID]):
        """A new item stored for review (version 1); not public until released."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Drafted"
        originator_topic: str
        content: ItemContent
        content_hash: str

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item._begin(self.content, self.content_hash, ItemStatus.PENDING)
            item._seen(self.content)
            item.drafted = self.content
            item.history = []
            item.reviews.append(self.record())

    class Submitted(Event):
        """A version was submitted for review at `levels`, in order."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Submitted"
        kind: ProposalKind
        content: ItemContent | None = None
        content_hash: str
        reason: Reason | None = None
        public_note: Note = ""
        levels: tuple[LevelName, ...]
        # A resubmission by someone else keeps the author (who may not approve it).
        author: Actor | None = None

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            before = item.pending
            if self.content is not None:
                item._seen(self.content)
            submitters = {self.actor}
            if self.author is not None and before is not None:
                submitters |= before.submitters | {self.author}
            item.pending = Pending(
                kind=self.kind,
                version=self.originator_version,
                content=self.content,
                content_hash=self.content_hash,
                submitted_by=self.author or self.actor,
                submitted_at=self.timestamp,
                levels=self.levels,
                reason=self.reason,
                public_note=self.public_note,
                submitters=frozenset(submitters),
            )
            if item.status is ItemStatus.PENDING and self.content is not None:
                item.content = self.content  # a draft shows its latest version
                item.content_hash = self.content_hash
            if self.kind is ProposalKind.WITHDRAW:
                item.schedule = None  # a withdrawal replaces the waiting version
            item.reviews.append(self.record())

    class Approved(Event):
        """A reviewer approved the pending version (`content_hash`) at `level`."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Approved"
        level: LevelName
        content_hash: str
        comment: Comment = ""

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            _present(item.pending).approvals.append(
                Approval(
                    self.level,
                    self.actor,
                    self.timestamp,
                    self.content_hash,
                    self.comment,
                )
            )
            item.reviews.append(self.record())

    class Returned(Event):
        """A reviewer sent the pending version back to its author, saying why."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Returned"
        level: LevelName
        content_hash: str
        comment: Reason

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            _present(item.pending).returned = Returned(
                self.level, self.actor, self.timestamp, self.comment
            )
            item.reviews.append(self.record())

    class Released(Event):
        """The approved pending version became public.

        A policy and its 解读 are released in one transaction: every member's event but
        the last names the last (`planned_with`), and the last lists every member it is
        released with (`bundle`: item id and version), so the planner plans them all at
        once, at the last one's position, or none of them.
        """

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Released"
        content_hash: str
        bundle: tuple[Member, ...] = ()
        planned_with: UUID | None = None
        # Released by the clock at the time a schedule (`ReleaseScheduled`) set.
        scheduled: AwareDatetime | None = None

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            pending = _present(item.pending)
            item.reviews.append(self.record())
            item._make_public(pending, self)

    class UrgentlyReleased(Event):
        """The pending version was made public without review (`reason`); it is to be
        approved afterwards, at every level, by `due`. A policy and its 解读 published
        urgently in one command are one bundle, as with `Released`."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.UrgentlyReleased"
        content_hash: str
        reason: Reason
        due: AwareDatetime
        bundle: tuple[Member, ...] = ()
        planned_with: UUID | None = None

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            pending = _present(item.pending)
            item.reviews.append(self.record())
            item.urgent = UrgentRelease(
                version=self.originator_version,
                kind=pending.kind,
                content_hash=self.content_hash,
                reason=self.reason,
                actor=self.actor,
                at=self.timestamp,
                due=self.due,
                levels=pending.levels,
                submitted_by=pending.submitted_by,
                review_hash=pending.review_hash,
            )
            item._make_public(pending, self)

    class ApprovedAfterwards(Event):
        """A reviewer approved an urgent release afterwards at `level`."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.ApprovedAfterwards"
        level: LevelName
        content_hash: str
        comment: Comment = ""

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            urgent = _present(item.urgent)
            urgent.approvals.append(
                Approval(
                    self.level,
                    self.actor,
                    self.timestamp,
                    self.content_hash,
                    self.comment,
                )
            )
            if urgent.next_level is None:
                item.urgent = None
            item.reviews.append(self.record())

    class GuardOverridden(Event):
        """The guard's findings on a version were accepted, with their legal basis
        (e.g. 失信惩戒公示): recorded with the version it covers, before that version's
        own event. `findings` say where and what (`attachments[0] 第3行 第2列
        身份证号`), never the value found."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.GuardOverridden"
        content_hash: str
        basis: Reason
        personal_information: bool
        wording: bool
        findings: tuple[Annotated[str, Field(max_length=300)], ...]

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.overrides.append(self.record())

        def record(self) -> VersionRecord:
            return VersionRecord(
                version=self.originator_version,
                event=type(self).__name__,
                at=self.timestamp,
                actor=self.actor,
                content_hash=self.content_hash,
                reason=self.basis,
            )

    class Erased(Event):
        """The item's sealed attachments were erased (个人信息删除): their key was
        destroyed after this event was stored. `parts` name them (attachment name and
        sealed blob digest); `public_note` is what outlets say in their place."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Erased"
        reason: Reason
        public_note: Note = ""
        parts: tuple[Annotated[str, Field(max_length=400)], ...]

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.erasure = Erasure(
                self.reason,
                self.public_note,
                self.actor,
                self.timestamp,
                self.originator_version,
                self.parts,
            )
            item.history.append(self.record())
            if item.status is not ItemStatus.PENDING:
                item.public_version = self.originator_version

    # -- time (docs/lifecycle.md) ----------------------------------------------------------

    class ReleaseScheduled(Event):
        """定时发布: the version waiting is to be released at `release_at`, not before
        (set, or moved, before it fires)."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.ReleaseScheduled"
        release_at: AwareDatetime
        reason: Reason | None = None

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.schedule = Schedule(
                self.release_at,
                self.actor,
                self.timestamp,
                self.originator_version,
                self.reason,
            )
            item.reviews.append(self.record())

    class ScheduleCancelled(Event):
        """The schedule was cancelled before it fired: the version waits, unreleased,
        until it is scheduled again, released or withdrawn."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.ScheduleCancelled"
        reason: Reason

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.schedule = None
            item.reviews.append(self.record())

    class NoticeExcepted(Event):
        """A late or short 公示 was accepted (`reason`), recorded with the version it
        covers, before that version's own event: `problems` say what was late."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.NoticeExcepted"
        content_hash: str
        reason: Reason
        problems: tuple[Annotated[str, Field(max_length=300)], ...]

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.exceptions.append(self.record())

    class NoticeEnded(Event):
        """The 公示期 ending on `end` is over: outlets show the item's "notice ended"
        form (`after_end`: hide_details, keep or remove; `notify`: group robots get a
        short notice)."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.NoticeEnded"
        end: date
        after_end: Annotated[str, Field(pattern="^(hide_details|keep|remove)$")]
        notify: bool = False

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.notice_end = NoticeEnd(
                self.end,
                self.after_end,
                self.notify,
                self.timestamp,
                self.originator_version,
            )
            item.history.append(self.record())
            item.public_version = self.originator_version

        def record(self) -> VersionRecord:
            return _time_record(self, f"公示期已于{_day(self.end)}结束。")

    class Repealed(Event):
        """废止: the document is no longer in force; it stays public as history,
        marked, with a link to `replaced_by` when one replaces it."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Repealed"
        reason: Reason
        public_note: Note = ""
        replaced_by: UUID | None = None
        replaced_by_ref: Annotated[str, Field(max_length=400)] | None = None
        replaced_by_title: Annotated[str, Field(max_length=200)] | None = None
        # A 解读 repealed with the policy it interprets (that policy's id).
        policy: UUID | None = None

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.repeal = Repeal(
                self.reason,
                self.public_note,
                self.replaced_by,
                self.replaced_by_ref,
                self.replaced_by_title,
                self.actor,
                self.timestamp,
                self.originator_version,
                self.policy,
            )
            item.history.append(self.record())
            item.public_version = self.originator_version

        def record(self) -> VersionRecord:
            return _time_record(self, repeal_statement(self))

    class Expired(Event):
        """已失效: `valid_until` passed; the document stays public, marked."""

        TOPIC: ClassVar[str] = "syndicate.DisclosureItem.Expired"
        valid_until: date

        def apply(self, aggregate: Any) -> None:
            item: DisclosureItem = aggregate
            item.expiry = Expiry(
                self.valid_until, self.timestamp, self.originator_version
            )
            item.history.append(self.record())
            item.public_version = self.originator_version

        def record(self) -> VersionRecord:
            return _time_record(
                self, f"本文件有效期至{_day(self.valid_until)}，已失效。"
            )

    if TYPE_CHECKING:
        # State, set by the events' apply methods. Declared for type checkers only:
        # class-level annotations would make eventsourcing turn the class into a
        # dataclass with a generated __init__.
        content: ItemContent
        content_hash: str
        status: ItemStatus
        withdrawal: Withdrawal | None
        history: list[VersionRecord]
        reviews: list[VersionRecord]
        pending: Pending | None
        urgent: UrgentRelease | None
        public_version: int
        drafted: ItemContent | None  # a reviewed item's first draft (its review rules)
        overrides: list[VersionRecord]  # the guard's overrides (GuardOverridden)
        sealed: dict[str, str]  # sealed blob digest -> attachment name, every version
        erasure: Erasure | None  # when its sealed parts were erased (Erased)
        schedule: Schedule | None  # 定时发布 of the version waiting
        exceptions: list[VersionRecord]  # late or short notices accepted
        notice_end: NoticeEnd | None  # the 公示期 is over (NoticeEnded)
        repeal: Repeal | None  # 废止 (Repealed)
        expiry: Expiry | None  # 已失效 (Expired)

    def _begin(self, content: ItemContent, digest: str, status: ItemStatus) -> None:
        self.drafted = None
        self.content = content
        self.content_hash = digest
        self.status = status
        self.withdrawal = None
        self.reviews = []
        self.overrides = []
        self.sealed = {}
        self.erasure = None
        self.schedule = None
        self.exceptions = []
        self.notice_end = None
        self.repeal = None
        self.expiry = None
        self.pending = None
        self.urgent = None
        self.public_version = 0

    def _check_not_erased(self, pending: Pending) -> None:
        """A returned version with sealed files cannot go on once they were erased."""
        content = pending.content
        if (
            self.erasure is not None
            and content is not None
            and any(a.sealed for a in content.attachments)
        ):
            raise ReviewRefused(
                f"{self.ref}: the sealed files of the version under review were erased; "
                "submit a new version (`syndicate items revise`) without them"
            )

    def _seen(self, content: ItemContent) -> None:
        for a in content.attachments:
            if a.sealed:
                self.sealed[a.sha256] = a.name

    def _make_public(self, pending: Pending, event: DisclosureItem.Event) -> None:
        """Apply a released proposal: what outlets show changes at this version."""
        if pending.kind is ProposalKind.WITHDRAW:
            self.status = ItemStatus.WITHDRAWN
            self.withdrawal = Withdrawal(
                pending.reason or "",
                pending.public_note,
                pending.submitted_by,
                event.timestamp,
            )
        else:
            self.content = _present(pending.content)
            self.content_hash = pending.content_hash
            self.status = ItemStatus.PUBLISHED
        self.history.append(
            VersionRecord(
                version=event.originator_version,
                event=PUBLIC_EVENT[pending.kind],
                at=event.timestamp,
                actor=pending.submitted_by,
                content_hash=(
                    None
                    if pending.kind is ProposalKind.WITHDRAW
                    else pending.content_hash
                ),
                reason=None if pending.kind is ProposalKind.PUBLISH else pending.reason,
            )
        )
        self.public_version = event.originator_version
        self.pending = None
        self.schedule = None

    # -- erasure ----------------------------------------------------------------------------

    def erase(
        self, *, reason: str, public_note: str = "", actor: str, at: datetime
    ) -> tuple[str, ...]:
        """Record that the sealed attachments are erased (the caller then destroys the
        key); returns the sealed blob digests. Refused for an item with nothing sealed,
        a second time, and while a version is under review."""
        reason = _check_line("reason", reason, 500)
        note = check_note(public_note)
        if not self.sealed:
            raise DomainError(
                f"{self.ref} has no sealed part: only attachments published with "
                "sealed = true can be erased (the log keeps everything else for ever)"
            )
        if self.erasure is not None:
            raise DomainError(
                f"{self.ref}: its sealed parts were erased already, on "
                f"{self.erasure.timestamp.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} by "
                f"{self.erasure.actor}"
            )
        if self.pending is not None and self.pending.returned is None:
            raise ReviewRefused(
                f"{self.ref} has a version under review: release, return or withdraw it "
                "before erasing the item's personal data"
            )
        parts = tuple(
            f"{name} (sealed sha256 {digest})" for digest, name in self.sealed.items()
        )
        self.trigger_event(
            self.Erased,
            timestamp=at,
            reason=reason,
            public_note=note,
            parts=parts,
            actor=check_actor(actor),
        )
        return tuple(self.sealed)

    # -- the guard ------------------------------------------------------------------------

    def override_guard(
        self,
        *,
        content_hash: str,
        basis: str,
        personal_information: bool,
        wording: bool,
        findings: tuple[str, ...],
        actor: str,
        at: datetime,
    ) -> None:
        """Record that the guard's findings on the version with `content_hash` were
        accepted on `basis` (the caller then records that version)."""
        self.trigger_event(
            self.GuardOverridden,
            timestamp=at,
            content_hash=content_hash,
            basis=_check_line("basis", basis, 500),
            personal_information=personal_information,
            wording=wording,
            findings=findings,
            actor=check_actor(actor),
        )

    # -- commands: released at once (review off) ---------------------------------------

    @classmethod
    def publish(
        cls,
        content: ItemContent,
        *,
        actor: str,
        at: datetime,
        known_id: UUID | None = None,
    ) -> DisclosureItem:
        """A new item at version 1 (pending its first event).

        `known_id` saves recomputing `content.id` when the caller has it already.
        """
        return cls._create(
            cls.Published,
            id=known_id or content.id,
            timestamp=at,
            content=content,
            content_hash=content_hash(content),
            actor=check_actor(actor),
        )

    def revise(
        self, content: ItemContent, *, reason: str, actor: str, at: datetime
    ) -> None:
        """Replace the content; refused after withdrawal or when nothing changed."""
        reason, new_hash = self._check_revision(content, reason)
        self.trigger_event(
            self.Revised,
            timestamp=at,
            content=content,
            content_hash=new_hash,
            reason=reason,
            actor=check_actor(actor),
        )

    def withdraw(
        self, *, reason: str, public_note: str = "", actor: str, at: datetime
    ) -> None:
        """Take the item down everywhere; refused if it is withdrawn already."""
        reason, note = self._check_withdrawal(reason, public_note)
        self.trigger_event(
            self.Withdrawn,
            timestamp=at,
            reason=reason,
            public_note=note,
            actor=check_actor(actor),
        )

    def _check_revision(self, content: ItemContent, reason: str) -> tuple[str, str]:
        self._require_live("revise")
        problems = [
            Problem(
                field,
                f"a revision cannot change the item's {field} "
                f"(it is {getattr(self.content, field)!r}); publish a new item instead",
            )
            for field in ("agency", "index_no")
            if getattr(content, field) != getattr(self.content, field)
        ]
        if problems:
            raise InputError(problems)
        reason = _check_line("reason", reason, 500)
        new_hash = content_hash(content)
        pending = self.pending
        if (
            pending is not None
            and pending.content_hash == new_hash
            and not (pending.returned)
        ):
            raise NothingChanged(
                f"nothing changed: the revision of {self.content.ref} is identical to "
                f"the version submitted for review at version {pending.version}"
            )
        if new_hash == self.content_hash and (
            pending is None or pending.kind is not ProposalKind.PUBLISH
        ):
            raise NothingChanged(
                f"nothing changed: the revision of {self.content.ref} is identical to "
                f"version {self.public_version or self.version}"
            )
        return reason, new_hash

    def _check_withdrawal(self, reason: str, public_note: str) -> tuple[str, str]:
        self._require_live("withdraw")
        reason = _check_line("reason", reason, 500)
        try:
            note = _multiline(public_note)
        except ValueError as exc:
            raise InputError([Problem("public_note", str(exc))]) from None
        if len(note) > 2000:
            raise InputError([Problem("public_note", "is longer than 2000 characters")])
        return reason, note

    # -- commands: time (docs/lifecycle.md) ------------------------------------------------

    @classmethod
    def hold(
        cls,
        content: ItemContent,
        *,
        rules: ReviewRules,
        release_at: datetime,
        reason: str | None = None,
        actor: str,
        at: datetime,
        known_id: UUID | None = None,
    ) -> DisclosureItem:
        """A new item waiting for `release_at` (and for review, where it is on):
        `Drafted`, `Submitted` (no level with review off), `ReleaseScheduled`."""
        item = cls.draft(
            content, rules=rules, actor=actor, at=at, known_id=known_id, held=True
        )
        item.schedule_release(release_at=release_at, reason=reason, actor=actor, at=at)
        return item

    def schedule_release(
        self,
        *,
        release_at: datetime,
        reason: str | None = None,
        actor: str,
        at: datetime,
    ) -> None:
        """Set or move the time the version waiting is released at (after `at`)."""
        self._require_live("schedule")
        self._require_pending("schedule")
        if release_at.tzinfo is None:
            raise InputError([Problem("release_at", "needs a time zone (e.g. +08:00)")])
        if release_at <= at:
            raise InputError(
                [
                    Problem(
                        "release_at",
                        f"{release_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} is not "
                        f"after now ({at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} China "
                        "time); give a time to come, or release it now",
                    )
                ]
            )
        if self.schedule is not None and self.schedule.release_at == release_at:
            raise NothingChanged(
                f"nothing changed: {self.ref} is scheduled for that time already"
            )
        self.trigger_event(
            self.ReleaseScheduled,
            timestamp=at,
            release_at=release_at,
            reason=None if reason is None else _check_line("reason", reason, 500),
            actor=check_actor(actor),
        )

    def cancel_schedule(self, *, reason: str, actor: str, at: datetime) -> None:
        """Cancel the schedule: the version waits until scheduled again or released."""
        if self.schedule is None:
            raise DomainError(f"{self.ref} has no scheduled release to cancel")
        self.trigger_event(
            self.ScheduleCancelled,
            timestamp=at,
            reason=_check_line("reason", reason, 500),
            actor=check_actor(actor),
        )

    def excuse_notice(
        self,
        *,
        content_hash: str,
        reason: str,
        problems: tuple[str, ...],
        actor: str,
        at: datetime,
    ) -> None:
        """Record that a late or short 公示 was accepted on `reason` (the caller then
        records the version it covers)."""
        self.trigger_event(
            self.NoticeExcepted,
            timestamp=at,
            content_hash=content_hash,
            reason=_check_line("late_reason", reason, 500),
            problems=tuple(p[:300] for p in problems),
            actor=check_actor(actor),
        )

    def end_notice(
        self, *, after_end: str, notify: bool, actor: str, at: datetime
    ) -> None:
        """Record that the 公示期 is over (the clock does, the day after it ends)."""
        period = self.content.notice_period
        if self.status is not ItemStatus.PUBLISHED or period is None:
            raise DomainError(f"{self.ref} is not a released 公示 with a notice period")
        if self.notice_over:
            raise DomainError(f"the 公示期 of {self.ref} was recorded as ended already")
        if after_end not in AFTER_END:
            raise InputError(
                [Problem("after_end", f"must be one of {', '.join(AFTER_END)}")]
            )
        self.trigger_event(
            self.NoticeEnded,
            timestamp=at,
            end=period.end,
            after_end=after_end,
            notify=notify,
            actor=check_actor(actor),
        )

    def mark_repealed(
        self,
        *,
        reason: str,
        public_note: str = "",
        replaced_by: DisclosureItem | None = None,
        policy: UUID | None = None,
        actor: str,
        at: datetime,
    ) -> None:
        """废止 (`policy`: a 解读 marked with the policy it interprets): refused for an item never released, withdrawn, already repealed or
        expired, and for a replacement that is this item, unreleased or withdrawn."""
        reason = _check_line("reason", reason, 500)
        note = check_note(public_note)
        self._require_live("repeal")
        if not self.released:
            raise DomainError(
                f"{self.ref} was never released: there is nothing public to repeal "
                "(withdraw the draft instead)"
            )
        if self.repeal is not None:
            raise DomainError(
                f"{self.ref} was repealed already, on "
                f"{self.repeal.at.astimezone(CHINA_TZ):%Y-%m-%d} by {self.repeal.actor}"
            )
        if self.expired and self.expiry is not None:
            raise DomainError(
                f"{self.ref} expired on {self.expiry.valid_until} (已失效); a document "
                "no longer in force cannot be repealed"
            )
        if replaced_by is not None:
            problem = None
            if replaced_by.id == self.id:
                problem = "is this item itself"
            elif not replaced_by.released:
                problem = f"{replaced_by.ref} was never released"
            elif replaced_by.status is ItemStatus.WITHDRAWN:
                problem = f"{replaced_by.ref} was withdrawn"
            elif replaced_by.repeal is not None or replaced_by.expired:
                problem = f"{replaced_by.ref} is no longer in force itself"
            if problem is not None:
                raise InputError([Problem("replaced_by", problem)])
        self.trigger_event(
            self.Repealed,
            timestamp=at,
            reason=reason,
            public_note=note,
            replaced_by=replaced_by.id if replaced_by else None,
            replaced_by_ref=replaced_by.ref if replaced_by else None,
            replaced_by_title=replaced_by.content.title if replaced_by else None,
            policy=policy,
            actor=check_actor(actor),
        )

    def mark_expired(self, *, actor: str, at: datetime) -> None:
        """已失效: recorded by the clock the day after `valid_until`."""
        until = self.content.valid_until
        if (
            until is None
            or self.status is not ItemStatus.PUBLISHED
            or self.repeal is not None
            or self.expired
        ):
            raise DomainError(f"{self.ref} has no validity to lapse")
        self.trigger_event(
            self.Expired, timestamp=at, valid_until=until, actor=check_actor(actor)
        )

    @property
    def notice_over(self) -> bool:
        """The 公示期 of the content shown ended and that was recorded."""
        period = self.content.notice_period
        return (
            self.notice_end is not None
            and period is not None
            and period.end == self.notice_end.end
        )

    @property
    def expired(self) -> bool:
        """The `valid_until` of the content shown passed and that was recorded (a
        revision that moves `valid_until` makes the document in force again)."""
        return (
            self.expiry is not None
            and self.content.valid_until == self.expiry.valid_until
        )

    @property
    def validity(self) -> Validity | None:
        """时效 as outlets show it: repealed or expired by event, else as declared."""
        if self.repeal is not None:
            return Validity.REPEALED
        if self.expired:
            return Validity.EXPIRED
        return self.content.validity

    # -- commands: 先审后发 --------------------------------------------------------------

    @classmethod
    def draft(
        cls,
        content: ItemContent,
        *,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        known_id: UUID | None = None,
        held: bool = False,
    ) -> DisclosureItem:
        """A new item stored and submitted for review (versions 1 and 2, pending);
        `held`: waiting for a schedule, with no review level if review is off."""
        actor = check_actor(actor)
        digest = content_hash(content)
        item = cls._create(
            cls.Drafted,
            id=known_id or content.id,
            timestamp=at,
            content=content,
            content_hash=digest,
            actor=actor,
        )
        item._submit(
            rules,
            kind=ProposalKind.PUBLISH,
            content=content,
            digest=digest,
            reason=None,
            note="",
            actor=actor,
            at=at,
            held=held,
        )
        return item

    def submit_revision(
        self,
        content: ItemContent,
        *,
        reason: str,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        held: bool = False,
    ) -> None:
        """Submit a new version for review; what outlets show stays as it is until it
        is released. Replaces a version still under review (its approvals lapse).
        `held`: it waits for a schedule (no review level if review is off)."""
        reason, digest = self._check_revision(content, reason)
        kind = (
            ProposalKind.PUBLISH
            if self.status is ItemStatus.PENDING
            else ProposalKind.REVISE
        )
        self._submit(
            rules,
            kind=kind,
            content=content,
            digest=digest,
            reason=reason,
            note="",
            actor=check_actor(actor),
            at=at,
            held=held,
        )

    def submit_withdrawal(
        self,
        *,
        reason: str,
        public_note: str = "",
        rules: ReviewRules,
        actor: str,
        at: datetime,
    ) -> None:
        """Submit the withdrawal of a released item for review."""
        reason, note = self._check_withdrawal(reason, public_note)
        if self.status is not ItemStatus.PUBLISHED:
            raise ReviewRefused(
                f"{self.ref} was never released: withdraw it at once (nothing public "
                "to review)"
            )
        if self.pending is not None and self.pending.kind is ProposalKind.WITHDRAW:
            raise ReviewRefused(
                f"the withdrawal of {self.ref} is under review already (submitted at "
                f"version {self.pending.version} by {self.pending.submitted_by})"
            )
        self._submit(
            rules,
            kind=ProposalKind.WITHDRAW,
            content=None,
            digest=self.content_hash,
            reason=reason,
            note=note,
            actor=check_actor(actor),
            at=at,
        )

    def resubmit(self, *, rules: ReviewRules, actor: str, at: datetime) -> None:
        """Submit the pending version again, unchanged, at the levels configured now
        (after a return the author disagrees with, or after the levels changed)."""
        pending = self._require_pending("resubmit")
        self._check_not_erased(pending)
        self._submit(
            rules,
            kind=pending.kind,
            content=pending.content,
            digest=pending.content_hash,
            reason=pending.reason,
            note=pending.public_note,
            actor=check_actor(actor),
            at=at,
            author=pending.submitted_by,
        )

    def _submit(
        self,
        rules: ReviewRules,
        *,
        kind: ProposalKind,
        content: ItemContent | None,
        digest: str,
        reason: str | None,
        note: str,
        actor: str,
        at: datetime,
        author: str | None = None,
        held: bool = False,
    ) -> None:
        if not rules.on and not held:
            raise ReviewRefused(
                f"{self.ref}: review is off for this item ([review] levels = [])"
            )
        self.trigger_event(
            self.Submitted,
            timestamp=at,
            kind=kind,
            content=content,
            content_hash=digest,
            reason=reason,
            public_note=note,
            # Held for a schedule with review off: no level to approve.
            levels=rules.names if rules.on else (),
            author=author,
            actor=actor,
        )

    def approve(
        self,
        *,
        level: str,
        content_hash: str,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        comment: str = "",
    ) -> bool:
        """Approve the pending version at `level`; True when every level has approved.

        Refused unless `content_hash` is the pending version's, `level` is the next one,
        `actor` may act at it, did not submit the version (unless self-review is
        allowed) and approved no other level of it.
        """
        actor = check_actor(actor)
        pending = self._require_pending("approve")
        if pending.returned is not None:
            raise ReviewRefused(
                f"{self.ref} was returned to its author at level "
                f"{pending.returned.level} by {pending.returned.reviewer}: waiting for a "
                "new version (`syndicate items revise`) or a resubmission"
            )
        self._check_reviewer(
            pending.levels,
            pending.approvals,
            level=level,
            digest=content_hash,
            expected=pending.review_hash,
            authors=pending.submitters | {pending.submitted_by},
            rules=rules,
            actor=actor,
            what="the pending version",
        )
        self.trigger_event(
            self.Approved,
            timestamp=at,
            level=level,
            content_hash=content_hash,
            comment=_comment(comment),
            actor=actor,
        )
        return _present(self.pending).approved

    def return_to_author(
        self,
        *,
        comment: str,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        level: str | None = None,
        content_hash: str | None = None,
    ) -> None:
        """Send the pending version back to its author at the level awaited now."""
        actor = check_actor(actor)
        pending = self._require_pending("return")
        if pending.returned is not None:
            raise ReviewRefused(
                f"{self.ref} was returned already, at level {pending.returned.level} "
                f"by {pending.returned.reviewer}"
            )
        awaited = pending.next_level
        if awaited is None:
            raise ReviewRefused(
                f"{self.ref} is approved at every level and waits only for the items "
                "it is released with; withdraw it instead"
            )
        level = awaited if level is None else level
        if level != awaited:
            raise ReviewRefused(f"{self.ref} awaits level {awaited!r}, not {level!r}")
        comment = _check_line("comment", comment, 500)
        if content_hash is not None and content_hash != pending.review_hash:
            raise ReviewRefused(_stale(self.ref, content_hash, pending.review_hash))
        rule = rules.level(level)
        if rule is None or not rule.allows(actor):
            raise ReviewRefused(_not_reviewer(actor, level, rule))
        self.trigger_event(
            self.Returned,
            timestamp=at,
            level=level,
            content_hash=pending.review_hash,
            comment=comment,
            actor=actor,
        )

    def release(
        self,
        *,
        actor: str,
        at: datetime,
        bundle: tuple[Member, ...] = (),
        planned_with: UUID | None = None,
        unreviewed: bool = False,
        scheduled: datetime | None = None,
    ) -> None:
        """Make the pending version public; it must be approved at every level
        (`unreviewed`: not, because review was switched off since it was submitted).
        `scheduled`: the time of the schedule this release keeps (the clock's)."""
        pending = self._require_pending("release")
        if not pending.approved and not unreviewed:
            raise ReviewRefused(
                f"{self.ref} is not approved at every level (awaiting "
                f"{pending.next_level!r})"
            )
        self.trigger_event(
            self.Released,
            timestamp=at,
            content_hash=pending.content_hash,
            bundle=bundle,
            planned_with=planned_with,
            scheduled=scheduled,
            actor=check_actor(actor),
        )

    def release_urgently(
        self,
        *,
        reason: str,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        bundle: tuple[Member, ...] = (),
        planned_with: UUID | None = None,
    ) -> None:
        """Make the pending version public now, without review; approved afterwards."""
        pending = self._require_pending("release urgently")
        self._check_not_erased(pending)
        reason = _check_line("reason", reason, 500)
        self.trigger_event(
            self.UrgentlyReleased,
            timestamp=at,
            content_hash=pending.content_hash,
            reason=reason,
            due=rules.urgent_due(at),
            bundle=bundle,
            planned_with=planned_with,
            actor=check_actor(actor),
        )

    def approve_afterwards(
        self,
        *,
        level: str,
        content_hash: str,
        rules: ReviewRules,
        actor: str,
        at: datetime,
        comment: str = "",
    ) -> None:
        """Approve an urgent release afterwards at `level` (the same rules as before
        release: the hash released, levels in order, no self- or double approval)."""
        actor = check_actor(actor)
        urgent = self.urgent
        if urgent is None:
            raise ReviewRefused(
                f"{self.ref} has no urgent release awaiting approval afterwards"
            )
        self._check_reviewer(
            urgent.levels,
            urgent.approvals,
            level=level,
            digest=content_hash,
            expected=urgent.review_hash,
            authors=frozenset({urgent.submitted_by, urgent.actor}),
            rules=rules,
            actor=actor,
            what="the urgently released version",
            gone_level_ok=True,
        )
        self.trigger_event(
            self.ApprovedAfterwards,
            timestamp=at,
            level=level,
            content_hash=content_hash,
            comment=_comment(comment),
            actor=actor,
        )

    def _check_reviewer(
        self,
        levels: tuple[str, ...],
        approvals: list[Approval],
        *,
        level: str,
        digest: str,
        expected: str,
        authors: frozenset[str],
        rules: ReviewRules,
        actor: str,
        what: str,
        gone_level_ok: bool = False,
    ) -> None:
        if level not in levels:
            raise InputError(
                [
                    Problem(
                        "level",
                        f"{level!r} is not a review level of {self.ref} (its levels: "
                        f"{', '.join(levels)})",
                    )
                ]
            )
        done = {a.level for a in approvals}
        if level in done:
            by = next(a for a in approvals if a.level == level)
            raise ConflictError(
                f"level {level!r} of {self.ref} was approved already by {by.reviewer}"
            )
        awaited = levels[len(approvals)]
        if level != awaited:
            raise ReviewRefused(
                f"level {level!r} of {self.ref} comes after {awaited!r}, which has not "
                "approved yet: levels are taken in order"
            )
        if digest != expected:
            raise ReviewRefused(_stale(self.ref, digest, expected, what))
        if actor in authors and not rules.allow_self_review:
            raise ReviewRefused(
                f"{actor} submitted this version of {self.ref} (or released it) and "
                "cannot approve it (set [review] allow_self_review = true for an office "
                "of one)"
            )
        rule = rules.level(level)
        if rule is None and gone_level_ok:
            return  # a level renamed since: anyone but the author may approve it
        if rule is None or not rule.allows(actor):
            raise ReviewRefused(_not_reviewer(actor, level, rule))
        twice = [a.level for a in approvals if a.reviewer == actor]
        if twice:
            raise ReviewRefused(
                f"{actor} approved level {twice[0]!r} of this version of {self.ref} "
                "already; one person cannot approve two levels"
            )

    def _require_pending(self, verb: str) -> Pending:
        if self.pending is None:
            state = {
                ItemStatus.PUBLISHED: "it is released and nothing is under review",
                ItemStatus.WITHDRAWN: "it has been withdrawn",
                ItemStatus.PENDING: "nothing is under review",
            }[self.status]
            raise ReviewRefused(f"cannot {verb} {self.ref}: {state}")
        return self.pending

    def _require_live(self, verb: str) -> None:
        if self.status is ItemStatus.WITHDRAWN and self.withdrawal is not None:
            when = self.withdrawal.timestamp.astimezone(CHINA_TZ).isoformat(
                timespec="seconds"
            )
            raise ItemWithdrawn(
                f"cannot {verb} {self.content.ref}: it was withdrawn at {when} "
                f"by {self.withdrawal.actor}"
            )

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`."""
        return self.content.ref

    @property
    def released(self) -> bool:
        """Whether any version of the item was ever public."""
        return self.public_version > 0


def _present(value: _T | None) -> _T:
    """`value`, which an earlier event set (a log applied out of order is corrupt)."""
    if value is None:
        raise ValueError("review event applied to an item with nothing under review")
    return value


def _comment(comment: str) -> str:
    try:
        cleaned = str(_multiline(comment))
    except ValueError as exc:
        raise InputError([Problem("comment", str(exc))]) from None
    if len(cleaned) > 2000:
        raise InputError([Problem("comment", "is longer than 2000 characters")])
    return cleaned


def _stale(
    ref: str, offered: str, expected: str, what: str = "the pending version"
) -> str:
    return (
        f"the content hash {offered[:12]}… is not {what} of {ref} "
        f"({expected[:12]}…): it changed after you read it; read it again with "
        f"`syndicate review show {ref}`"
    )


def _not_reviewer(actor: str, level: str, rule: object) -> str:
    if rule is None:
        return (
            f"level {level!r} is no longer configured in [review] levels; resubmit the "
            "version (`syndicate review resubmit`) to review it at the levels in force"
        )
    return f"{actor} is not a reviewer at level {level!r} ([review] reviewers)"


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def repeal_statement(event: DisclosureItem.Repealed | Repeal) -> str:
    """What outlets say of a repealed document (its public note, or a standard line)."""
    if event.public_note:
        return " ".join(event.public_note.split())
    if event.policy is not None:
        return "本解读所对应的政策文件已废止，本解读随之失效。"
    when = (
        event.timestamp if isinstance(event, DisclosureItem.Repealed) else event.at
    ).astimezone(CHINA_TZ)
    text = f"本文件已于{_day(when.date())}废止"
    if event.replaced_by_title:
        text += f"，由《{event.replaced_by_title}》替代"
    return text + "。"


def _time_record(event: DisclosureItem.Event, statement: str) -> VersionRecord:
    return VersionRecord(
        version=event.originator_version,
        event=type(event).__name__,
        at=event.timestamp,
        actor=event.actor,
        content_hash=None,
        reason=statement,
    )
