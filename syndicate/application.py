"""`Disclosures`: the only writer of disclosure items.

```python
from syndicate import Disclosures, ItemContent

with Disclosures(store.env_for("Disclosures", create_tables=True)) as log:
    change = log.publish(ItemContent(...), actor="张三")
    log.revise(change.item_id, new_content, reason="更正联系电话", actor="张三")
    log.withdraw(change.item_id, reason="信息有误", public_note="该信息已撤回。", actor="张三")
```

Every method validates first and writes nothing when it refuses; a refused command raises
a `syndicate.errors` exception that says why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import EnvType

from syndicate.attachment_text import blocks_or_reason
from syndicate.attachments import AttachmentStore, PreparedAttachment
from syndicate.domain.base import CHINA_TZ, china_time
from syndicate.domain.content import (
    MAX_NOTICE_LEAD_DAYS,
    ItemContent,
    admission_problems,
    content_hash,
    item_id,
    parse_item_ref,
    valid_content,
)
from syndicate.domain.guard import (
    GuardOverride,
    GuardPolicy,
    GuardRefused,
    GuardReport,
    TextBlockLike,
    check_item,
    content_fields,
)
from syndicate.domain.items import (
    DisclosureItem,
    ItemStatus,
    check_actor,
    check_line,
    check_note,
)
from syndicate.domain.lifecycle import (
    DueChange,
    DueKind,
    NoticePolicy,
    NoticeRefused,
    day_start,
    due_changes,
    notice_problems,
)
from syndicate.domain.pii import find_pii
from syndicate.domain.review import (
    Approval,
    ProposalKind,
    Returned,
    ReviewPolicy,
    ReviewRules,
    content_diff,
)
from syndicate.domain.standard import (
    CATALOGUE_ID,
    CatalogueChange,
    CatalogueEntry,
    CatalogueVersion,
    StandardCatalogue,
    inherit,
)
from syndicate.errors import (
    AlreadyPublished,
    ConflictError,
    DomainError,
    InputError,
    InterpretedItemMissing,
    ItemNotFound,
    Problem,
    ReviewRefused,
    SyndicateError,
)
from syndicate.persistence import (
    ConfiguredEnvironment,
    StoreSettings,
    store_errors,
)
from syndicate.sealing import KeyStore, seal, unseal
from syndicate.timetable import Timetable
from syndicate.views import ItemSummary, LoggedEvent, fold_summaries, logged_events

__all__ = [
    "CHINA_TZ",
    "Change",
    "Clock",
    "Disclosures",
    "ReviewDetail",
    "ReviewEntry",
    "Timetable",
    "system_clock",
]

Clock = Callable[[], datetime]
# Above this many items under review, `reviews()` folds the log once instead of loading
# each item by itself.
_LOAD_ONE_BY_ONE = 200
# Events that carry an item's content, and those after which a version awaits review.
_CONTENT_TOPICS = tuple(
    c.TOPIC
    for c in (
        DisclosureItem.Published,
        DisclosureItem.Drafted,
        DisclosureItem.Revised,
        DisclosureItem.Submitted,
    )
)
_REVIEW_TOPICS = frozenset(
    c.TOPIC
    for c in (
        DisclosureItem.Drafted,
        DisclosureItem.Submitted,
        DisclosureItem.Approved,
        DisclosureItem.Returned,
    )
)
_PAGE = 500
# Stores keep versions as signed 64-bit integers; a larger one cannot even be asked for.
_MAX_VERSION = 2**63 - 1


def system_clock() -> datetime:
    """The wall clock, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Change:
    """What a write did: which item, which version, where in the log, when.

    `event` is the item's last event of the write (`Published`, `Submitted`,
    `Approved`, `Released`, …). `released`: whether what outlets show changed (False
    while a version is under review). `awaiting`: the review level the version waits
    for next (None when released, returned, or waiting only for its bundle).
    """

    item_id: UUID
    ref: str
    version: int
    event: str
    position: int
    timestamp: datetime
    released: bool = True
    awaiting: str | None = None
    # 定时发布: when the version waiting is released (None: not scheduled).
    release_at: datetime | None = None


@dataclass(frozen=True)
class ReviewEntry:
    """One version under review (or urgently released and awaiting approval
    afterwards), as a review queue lists it.

    `state`: "pending" (awaiting `awaiting`), "returned" (see `returned`), "approved"
    (every level; waiting for the items it is released with, `bundle`) or "urgent"
    (released without review; approval afterwards awaits `awaiting`, `due` is when
    it falls due and `overdue` whether that has passed). `members`: the 解读 (or the
    policy) released together with this item, each an entry of its own.
    """

    item_id: UUID
    ref: str
    title: str
    kind: str  # "publish", "revise" or "withdraw"
    state: str
    version: int
    content_hash: str
    submitted_by: str
    submitted_at: datetime
    levels: tuple[str, ...]
    approvals: tuple[Approval, ...]
    awaiting: str | None
    reason: str | None = None
    returned: Returned | None = None
    due: datetime | None = None
    overdue: bool = False
    members: tuple[ReviewEntry, ...] = ()
    # The hash an approval names: the content hash for a new item, for a revision or
    # a withdrawal the hash of the proposal (its 更正说明 or note too; `review_hash`).
    review_hash: str = ""

    def as_json(self) -> dict[str, object]:
        """The object `review list --json` prints for it."""
        return {
            "item_id": str(self.item_id),
            "ref": self.ref,
            "title": self.title,
            "kind": self.kind,
            "state": self.state,
            "version": self.version,
            "content_hash": self.content_hash,
            "review_hash": self.review_hash,
            "submitted_by": self.submitted_by,
            "submitted_at": china_time(self.submitted_at),
            "levels": list(self.levels),
            "approvals": [
                {
                    "level": a.level,
                    "reviewer": a.reviewer,
                    "at": china_time(a.at),
                    "content_hash": a.content_hash,
                    "comment": a.comment,
                }
                for a in self.approvals
            ],
            "awaiting": self.awaiting,
            "reason": self.reason,
            "returned": None
            if self.returned is None
            else {
                "level": self.returned.level,
                "reviewer": self.returned.reviewer,
                "at": china_time(self.returned.at),
                "comment": self.returned.comment,
            },
            "due": None if self.due is None else china_time(self.due),
            "overdue": self.overdue,
            "members": [m.as_json() for m in self.members],
        }


@dataclass(frozen=True)
class ReviewDetail:
    """`review show`: the version under review, what outlets show now, and the diff."""

    entry: ReviewEntry
    live: ItemContent | None  # what outlets show (None: never released)
    proposed: ItemContent | None  # the version under review (None: a withdrawal)
    diff: str  # unified diff, live → proposed ("" for a withdrawal)
    public_note: str = ""  # a withdrawal's note shown in the item's place
    # An urgent release still awaiting approval afterwards while a newer version is
    # under review (`entry` is then that version).
    urgent: ReviewEntry | None = None

    def as_json(self) -> dict[str, object]:
        """The object `review show --json` prints."""
        return {
            **self.entry.as_json(),
            "live": None if self.live is None else self.live.model_dump(mode="json"),
            "proposed": None
            if self.proposed is None
            else self.proposed.model_dump(mode="json"),
            "diff": self.diff,
            "public_note": self.public_note,
            "urgent": None if self.urgent is None else self.urgent.as_json(),
        }


def review_entry(
    item: DisclosureItem, now: datetime, *, urgent_only: bool = False
) -> ReviewEntry | None:
    """The review-queue entry of an item: its version under review, else its urgent
    release awaiting approval afterwards (`urgent_only`: that one, even while a newer
    version is under review); None when there is neither."""
    pending = None if urgent_only else item.pending
    if pending is not None:
        content = pending.content or item.content
        return ReviewEntry(
            item_id=item.id,
            ref=item.ref,
            title=content.title,
            kind=pending.kind.value,
            state=pending.state(),
            version=pending.version,
            content_hash=pending.content_hash,
            submitted_by=pending.submitted_by,
            submitted_at=pending.submitted_at,
            levels=pending.levels,
            approvals=tuple(pending.approvals),
            awaiting=pending.next_level,
            reason=pending.reason,
            returned=pending.returned,
            review_hash=pending.review_hash,
        )
    urgent = item.urgent
    if urgent is not None:
        return ReviewEntry(
            item_id=item.id,
            ref=item.ref,
            title=item.content.title,
            kind=urgent.kind.value,
            state="urgent",
            version=urgent.version,
            content_hash=urgent.content_hash,
            submitted_by=urgent.submitted_by,
            submitted_at=urgent.at,
            levels=urgent.levels,
            approvals=tuple(urgent.approvals),
            awaiting=urgent.next_level,
            reason=urgent.reason,
            due=urgent.due,
            overdue=now >= urgent.due,
            review_hash=urgent.review_hash,
        )
    return None


class Disclosures(ConfiguredEnvironment, Application[UUID]):
    """Publish, revise and withdraw disclosure items; read them and their log."""

    name = "Disclosures"
    # Followers (the planner) read the log in sections of this size.
    log_section_size = 500

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = system_clock,
        attachments: AttachmentStore | None = None,
        store: StoreSettings | None = None,
        review: ReviewPolicy | None = None,
        guard: GuardPolicy | None = None,
        keys: KeyStore | None = None,
        notice: NoticePolicy | None = None,
    ) -> None:
        self.clock = clock
        # 公示期 rules (`[notice]`): after the window, the minimum length.
        self.notice_policy = notice or NoticePolicy()
        # Sealed attachments' keys (`syndicate.sealing`), outside the event stores:
        # by default beside the attachment store.
        self.keys = keys or (
            KeyStore.beside(attachments.root) if attachments is not None else None
        )
        self.attachments = attachments
        self.store = store
        # 先审后发: the policy in force. None: no review (a bare log; `Engine` and
        # `Project.disclosures` always pass the home's `[review]`).
        self.review_policy = review or ReviewPolicy.off()
        # The guard (personal information, 错敏词): on, with the built-in word list,
        # unless the home's `[guard]` says otherwise.
        self.guard_policy = guard or GuardPolicy.default()
        with self._guard():
            super().__init__(env)
        # When each item's next time-driven change falls due, persisted beside the
        # log (`syndicate.timetable`): `sync` reads only the events since.
        self.timetable = Timetable(self.recorder, self.item_at)

    def item_at(self, id_: UUID, version: int) -> DisclosureItem:
        """Item `id_` as of its `version` (folded from its events up to it)."""
        with self._guard():
            return cast(DisclosureItem, self.repository.get(id_, version=version))

    def _guard(self) -> AbstractContextManager[None]:
        return store_errors(self.store) if self.store else nullcontext()

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        return now

    # -- writing -----------------------------------------------------------------------

    def publish(
        self,
        content: ItemContent,
        *,
        actor: str,
        attachments: Sequence[PreparedAttachment] = (),
        urgent: str | None = None,
        override: GuardOverride | None = None,
        release_at: datetime | None = None,
        late_reason: str | None = None,
    ) -> Change:
        """Publish a new item. Raises `AlreadyPublished` if it exists.

        The guard runs first (`check`): personal information, 严重 wording or an
        unchecked attachment raise `GuardRefused` and nothing is stored, unless
        `override` accepts them with a legal basis (recorded as `GuardOverridden`).

        Under review (`[review] levels`), the item is stored and submitted for review
        instead (`Change.released` is False) and reaches no public outlet until it is
        approved at every level. `urgent`: the reason to release it at once anyway
        (`UrgentlyReleased`, to be approved afterwards).

        `release_at` (定时发布): released at that time, not before (after review,
        where it is on); a 公示 whose window starts later waits for its start. A 公示
        that would be late, shorter than `[notice] minimum_working_days` or start
        before it can be released raises `NoticeRefused` unless `late_reason` says
        why (recorded as `NoticeExcepted`). See docs/lifecycle.md.
        """
        return self.publish_many(
            [(content, attachments)],
            actor=actor,
            urgent=urgent,
            override=override,
            release_at=release_at,
            late_reason=late_reason,
        )[0]

    def publish_many(
        self,
        items: Sequence[ItemContent | tuple[ItemContent, Sequence[PreparedAttachment]]],
        *,
        actor: str,
        urgent: str | None = None,
        override: GuardOverride | None = None,
        release_at: datetime | None = None,
        late_reason: str | None = None,
    ) -> list[Change]:
        """Publish several new items in one transaction: all of them or none.

        Interpretations may name a policy published in the same call. Under review,
        each is submitted instead (see `publish`). The guard checks every item first.
        `release_at` and `late_reason` apply to every item (see `publish`).
        """
        actor = check_actor(actor)
        if urgent is not None:
            urgent = check_line("urgent", urgent, 500)
            self._no_personal_data(("urgent", urgent))
        override = self._check_override(override)
        release_at, late_reason = self._check_timing(release_at, late_reason, urgent)
        fulfil = self._fulfiller()
        pairs = [
            (fulfil(valid_content(i[0])), i[1])
            if isinstance(i, tuple)
            else (fulfil(valid_content(i)), ())
            for i in items
        ]
        with self._guard():
            id_list = [content.id for content, _ in pairs]
            ids = set(id_list)
            if len(ids) != len(pairs):
                raise InputError(
                    "the same agency and index_no appear twice in one batch"
                )
            today = today_in_china(self._now)
            by_id = {content.id: content for content, _ in pairs}
            for content, _ in pairs:
                target = by_id.get(content.interprets) if content.interprets else None
                if target is not None and target.interprets is not None:
                    raise InputError(
                        [
                            Problem(
                                "interprets",
                                f"{target.ref} is itself a 解读; name the policy it "
                                "interprets",
                            )
                        ]
                    )
            for content, _ in pairs:
                try:
                    self._admit(content, today)
                    self._check_interprets(content, batch=ids)
                except (InputError, DomainError):
                    # Already published says more (and a re-run of an identical
                    # item is no error at all), whatever the rules say today.
                    self._refuse_if_published(content)
                    raise
            if urgent is not None:
                batch = [content for content, _ in pairs]
                for content in batch:
                    rules = self.review_policy.rules_for(content)
                    self._check_urgent(content, rules, ids)
                    self._check_needs_reading(content, rules, batch)
            for content, prepared in pairs:
                self._check_given(content, prepared)
            accepted = [
                self._guarded(content, prepared, override)
                for content, prepared in pairs
            ]
            times = [
                self._with_policy(content, self._release_time(content, release_at))
                for content, _ in pairs
            ]
            excused = [
                self._check_notice(content, at, late_reason, None)
                for (content, _), at in zip(pairs, times, strict=True)
            ]
            sealed = [self._seal(content, prepared) for content, prepared in pairs]
            pairs = [(content, prepared) for content, prepared, _ in sealed]
            # Before any file is written: a refusal leaves nothing behind. One
            # statement asks which of the batch exist (not one per item).
            existing = self._existing([content.id for content, _ in pairs])
            for content, _ in pairs:
                if content.id in existing:
                    self._refuse_if_published(content)
            aggregates = [
                self._new_item(content, known, actor=actor, release_at=at)
                for (content, _), known, at in zip(pairs, id_list, times, strict=True)
            ]
            for aggregate, findings, problems in zip(
                aggregates, accepted, excused, strict=True
            ):
                self._record_override(aggregate, override, findings, actor=actor)
                self._record_exception(aggregate, late_reason, problems, actor=actor)
            if urgent is not None:
                self._release_new_urgently(aggregates, reason=urgent, actor=actor)
            for content, prepared, key in sealed:
                self._write_files(content, prepared, key)
            try:
                recordings = self.save(*aggregates)
            except IntegrityError:
                for content, _ in pairs:
                    self._refuse_if_published(content)
                raise  # not a duplicate after all: let the store error speak
        return self._changes(recordings, aggregates)

    def _new_item(
        self,
        content: ItemContent,
        known: UUID,
        *,
        actor: str,
        release_at: tuple[datetime, str | None] | None = None,
    ) -> DisclosureItem:
        rules = self.review_policy.rules_for(content)
        now = self._now()
        if release_at is not None:
            return DisclosureItem.hold(
                content,
                rules=rules,
                release_at=release_at[0],
                reason=release_at[1],
                actor=actor,
                at=now,
                known_id=known,
            )
        if not rules.on:
            return DisclosureItem.publish(content, actor=actor, at=now, known_id=known)
        return DisclosureItem.draft(
            content, rules=rules, actor=actor, at=now, known_id=known
        )

    def _release_new_urgently(
        self, items: Sequence[DisclosureItem], *, reason: str, actor: str
    ) -> None:
        """Release new drafts urgently; a policy and the 解读 of it in the same batch
        as one bundle (the last of them, in the order saved, names the others)."""
        ids = {item.id for item in items}
        groups: dict[UUID, list[DisclosureItem]] = {}
        for item in items:
            policy = item.content.interprets
            groups.setdefault(policy if policy in ids else item.id, []).append(item)
        now = self._now()
        for members in groups.values():
            last, others = members[-1], members[:-1]
            for other in others:
                other.release_urgently(
                    reason=reason,
                    rules=self.review_policy.rules_for(other.content),
                    actor=actor,
                    at=now,
                    planned_with=last.id,
                )
            last.release_urgently(
                reason=reason,
                rules=self.review_policy.rules_for(last.content),
                actor=actor,
                at=now,
                bundle=tuple((o.id, o.version) for o in others),
            )

    def _check_urgent(
        self, content: ItemContent, rules: ReviewRules, batch: set[UUID]
    ) -> None:
        """An urgent release skips review; it may not split a policy from its 解读."""
        if not rules.on:
            raise InputError(
                [
                    Problem(
                        "urgent",
                        f"review is off for {content.ref} ([review] levels = []): it "
                        "is released at once without --urgent",
                    )
                ]
            )
        target = content.interprets
        if target is not None and target not in batch and target in self.repository:
            policy = cast(DisclosureItem, self.repository.get(target))
            if policy.status is ItemStatus.PENDING:
                raise ReviewRefused(
                    f"{content.ref} interprets {policy.ref}, which is not released "
                    "yet: a policy and its 解读 are released together, so release the "
                    "policy first"
                )

    def check_publish(
        self,
        contents: Sequence[
            ItemContent | tuple[ItemContent, Sequence[PreparedAttachment]]
        ],
        *,
        actor: str,
        override: GuardOverride | None = None,
        release_at: datetime | None = None,
        late_reason: str | None = None,
    ) -> list[tuple[ItemContent, SyndicateError | None]]:
        """What `publish_many` would say about each item, writing nothing (dry runs);
        the guard's verdict and the 公示期 rules (`NoticeRefused`) included."""
        check_actor(actor)
        override = self._check_override(override)
        release_at, late_reason = self._check_timing(release_at, late_reason, None)
        pairs = [
            (valid_content(c[0]), tuple(c[1]))
            if isinstance(c, tuple)
            else (valid_content(c), ())
            for c in contents
        ]
        batch = {content.id for content, _ in pairs}
        today = today_in_china(self._now)
        verdicts: list[tuple[ItemContent, SyndicateError | None]] = []
        fulfil = self._fulfiller()
        with self._guard():
            for content, prepared in pairs:
                try:
                    content = fulfil(content)
                    self._refuse_if_published(
                        self._seal(content, prepared, create=False)[0]
                    )
                    self._admit(content, today)
                    self._check_interprets(content, batch=batch)
                    self._check_given(content, prepared)
                    self._guarded(content, prepared, override)
                    self._check_notice(
                        content,
                        self._release_time(content, release_at),
                        late_reason,
                        None,
                    )
                except (InputError, DomainError) as exc:
                    verdicts.append((content, exc))
                else:
                    verdicts.append((content, None))
        return verdicts

    def revise(
        self,
        ref: str | UUID,
        content: ItemContent,
        *,
        reason: str,
        actor: str,
        expected_version: int | None = None,
        urgent: str | None = None,
        attachments: Sequence[PreparedAttachment] = (),
        override: GuardOverride | None = None,
        release_at: datetime | None = None,
        late_reason: str | None = None,
    ) -> Change:
        """Replace an item's content with a new version; `reason` is the 更正说明.

        `attachments`: files of the new version not stored yet (those already stored
        are found by their sha256). The guard checks the new version and the 更正说明
        first, as `publish` does.

        Under review the new version is submitted instead, and outlets keep showing
        the released one until it is released (a version still under review is
        replaced, its approvals lapse). `urgent`: release it at once anyway.

        `release_at`: the new version waits for that time (定时发布); a version
        waiting for a schedule already keeps it. `late_reason`: see `publish` (a
        revision is judged only when it changes the 公示期).
        """
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        content = self._fulfiller()(valid_content(content))
        if urgent is not None:
            urgent = check_line("urgent", urgent, 500)
            self._no_personal_data(("urgent", urgent))
        override = self._check_override(override)
        release_at, late_reason = self._check_timing(release_at, late_reason, urgent)
        with self._guard():
            item = self._load(ref, expected_version)
            self._admit(content, today_in_china(self._now))
            self._check_interprets(content, batch=set())
            self._check_given(content, attachments)
            findings = self._guarded(content, attachments, override, reason=reason)
            if release_at is None and item.schedule is not None and urgent is None:
                release_at = item.schedule.release_at  # the waiting version's time
            timing = (
                self._release_time(content, release_at) if not item.released else None
            ) or ((release_at, None) if release_at is not None else None)
            if urgent is not None and timing is not None:
                raise InputError(
                    [
                        Problem(
                            "urgent",
                            f"{item.ref} waits for "
                            f"{timing[0].astimezone(CHINA_TZ):%Y-%m-%d %H:%M} (its "
                            "schedule or the start of its 公示期); an urgent release "
                            "cannot show it earlier",
                        )
                    ]
                )
            # A version held (scheduled, or cancelled and waiting) with review off
            # stays held: a revision does not release it.
            held = (
                item.pending is not None
                and not item.pending.levels
                and item.pending.kind is not ProposalKind.WITHDRAW
            )
            problems = self._check_notice(
                content,
                timing,
                late_reason,
                item.content if item.released else None,
            )
            if item.erasure is not None and any(a.sealed for a in content.attachments):
                raise DomainError(
                    f"{item.ref}: its personal data was erased; publish new personal "
                    "data as a new item, not as a revision of this one"
                )
            content, attachments, key = self._seal(content, attachments)
            rules = self._rules(item, content)
            if urgent is not None:
                self._check_urgent(content, rules, set())
                self._check_not_bundled(item, content)
                if not item.released:
                    self._check_needs_reading(content, rules, ())
            now = self._now()
            self._record_override(
                item, override, findings, actor=actor, content=content
            )
            self._record_exception(
                item, late_reason, problems, actor=actor, content=content
            )
            if timing is not None or (held and not rules.on):
                item.submit_revision(
                    content, reason=reason, rules=rules, actor=actor, at=now, held=True
                )
                if timing is not None and (
                    item.schedule is None or item.schedule.release_at != timing[0]
                ):
                    item.schedule_release(
                        release_at=timing[0], reason=timing[1], actor=actor, at=now
                    )
            elif rules.on:
                item.submit_revision(
                    content, reason=reason, rules=rules, actor=actor, at=now
                )
                if urgent is not None:
                    item.release_urgently(
                        reason=urgent, rules=rules, actor=actor, at=now
                    )
            else:
                item.revise(content, reason=reason, actor=actor, at=now)
            self._write_files(content, attachments, key)
            return self._save(item, "revision")

    def withdraw(
        self,
        ref: str | UUID,
        *,
        reason: str,
        public_note: str = "",
        actor: str,
        expected_version: int | None = None,
        urgent: str | None = None,
    ) -> Change:
        """Withdraw an item everywhere; `public_note` replaces it on outlets.

        Under review, with `[review] withdraw_needs_review` (the default), the
        withdrawal of a released item is submitted for review instead (`urgent`: take
        it down at once anyway). An item never released is withdrawn at once: nothing
        of it is public.
        """
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        public_note = check_note(public_note)
        if urgent is not None:
            urgent = check_line("urgent", urgent, 500)
            self._no_personal_data(("urgent", urgent))
        self._no_personal_data(("reason", reason), ("public_note", public_note))
        with self._guard():
            item = self._load(ref, expected_version)
            rules = self._rules(item, None)
            reviewed = (
                rules.on
                and rules.withdraw_needs_review
                and item.status is ItemStatus.PUBLISHED
            )
            if urgent is not None and not reviewed:
                raise InputError(
                    [
                        Problem(
                            "urgent",
                            f"the withdrawal of {item.ref} is not reviewed (review is "
                            "off, withdraw_needs_review = false, or it was never "
                            "released): it takes effect at once without --urgent",
                        )
                    ]
                )
            now = self._now()
            if reviewed:
                item.submit_withdrawal(
                    reason=reason,
                    public_note=public_note,
                    rules=rules,
                    actor=actor,
                    at=now,
                )
                if urgent is not None:
                    item.release_urgently(
                        reason=urgent, rules=rules, actor=actor, at=now
                    )
            else:
                item.withdraw(
                    reason=reason, public_note=public_note, actor=actor, at=now
                )
            return self._save(item, "withdrawal")

    # -- 先审后发 -----------------------------------------------------------------------

    def approve(
        self,
        ref: str | UUID,
        *,
        level: str,
        content_hash: str,
        actor: str,
        comment: str = "",
        expected_version: int | None = None,
    ) -> Change:
        """Approve the version under review at `level`, naming the content hash read.

        After the last level the version is released (`Change.released`), together
        with the policy or 解读 it is bundled with once all of them are approved; until
        then `Change.event` is `Approved`. Refused (`ReviewRefused`, `InputError`,
        `ConflictError`) with a message that says why, writing nothing.
        """
        actor = check_actor(actor)
        level = check_line("level", level, 50)
        content_hash = _check_hash(content_hash)
        self._no_personal_data(("comment", comment), ("level", level))
        with self._guard():
            item = self._load(ref, expected_version)
            rules = self._rules(item, item.pending.content if item.pending else None)
            self._check_policy_alive(item)
            complete = item.approve(
                level=level,
                content_hash=content_hash,
                rules=rules,
                actor=actor,
                comment=comment,
                at=self._now(),
            )
            if not complete:
                return self._save(item, "approval")
            members = self._bundle(item)
            if not self._releasable(members) or self._waiting(members):
                return self._save(item, "approval")
            return self._release(members, item, actor=actor)

    def release(
        self, ref: str | UUID, *, actor: str, expected_version: int | None = None
    ) -> Change:
        """Release a version approved at every level that waits for the items it is
        released with, once they no longer hold it: a 解读 whose draft was withdrawn or
        that interprets another policy now. Normally the last approval releases; this
        is for a bundle whose other member went away. `ReviewRefused` says what it
        still waits for."""
        actor = check_actor(actor)
        with self._guard():
            item = self._load(ref, expected_version)
            pending = item.pending
            self._check_policy_alive(item)
            self._check_not_early(self._bundle(item) if pending else [item])
            if pending is not None and not self._rules(item, pending.content).on:
                # Review was switched off since it was submitted: release it as
                # review off would have (recorded with no approvals).
                return self._release([item], item, actor=actor, unreviewed=True)
            if pending is None or not pending.approved:
                awaiting = pending.next_level if pending else None
                raise ReviewRefused(
                    f"{item.ref} is not approved at every level"
                    + (f" (awaiting {awaiting!r})" if awaiting else "")
                    if pending
                    else f"{item.ref}: nothing is under review"
                )
            members = self._bundle(item)
            if not self._releasable(members):
                waiting = [
                    m.ref
                    for m in members
                    if m.pending is None or not m.pending.approved
                ]
                raise ReviewRefused(
                    f"{item.ref} is released together with "
                    + (", ".join(waiting) or "a 解读 it requires")
                    + ", which "
                    + ("is" if len(waiting) <= 1 else "are")
                    + " not approved yet"
                )
            return self._release(members, item, actor=actor)

    def return_to_author(
        self,
        ref: str | UUID,
        *,
        comment: str,
        actor: str,
        level: str | None = None,
        content_hash: str | None = None,
        expected_version: int | None = None,
    ) -> Change:
        """Send the version under review back to its author (`comment`: why)."""
        actor = check_actor(actor)
        if content_hash is not None:
            content_hash = _check_hash(content_hash)
        self._no_personal_data(("comment", comment))
        with self._guard():
            item = self._load(ref, expected_version)
            rules = self._rules(item, item.pending.content if item.pending else None)
            item.return_to_author(
                comment=comment,
                rules=rules,
                actor=actor,
                at=self._now(),
                level=level,
                content_hash=content_hash,
            )
            return self._save(item, "return")

    def resubmit(
        self, ref: str | UUID, *, actor: str, expected_version: int | None = None
    ) -> Change:
        """Submit the version under review again, unchanged, at the levels in force."""
        actor = check_actor(actor)
        with self._guard():
            item = self._load(ref, expected_version)
            rules = self._rules(item, item.pending.content if item.pending else None)
            item.resubmit(rules=rules, actor=actor, at=self._now())
            return self._save(item, "resubmission")

    def release_urgently(
        self,
        ref: str | UUID,
        *,
        reason: str,
        actor: str,
        expected_version: int | None = None,
    ) -> Change:
        """Release the version under review now, without (the rest of) its review;
        recorded as `UrgentlyReleased` and to be approved afterwards."""
        actor = check_actor(actor)
        reason = check_line("reason", reason, 500)
        self._no_personal_data(("reason", reason))
        with self._guard():
            item = self._load(ref, expected_version)
            pending = item.pending
            rules = self._rules(item, pending.content if pending else None)
            if pending is not None:
                self._check_not_bundled(item, pending.content or item.content)
                self._check_policy_alive(item)
                self._check_not_early([item])
                if pending.content is not None and not item.released:
                    self._check_needs_reading(pending.content, rules, ())
            item.release_urgently(
                reason=reason, rules=rules, actor=actor, at=self._now()
            )
            return self._save(item, "urgent release")

    def approve_afterwards(
        self,
        ref: str | UUID,
        *,
        level: str,
        content_hash: str,
        actor: str,
        comment: str = "",
        expected_version: int | None = None,
    ) -> Change:
        """Approve an urgent release afterwards at `level` (levels in order)."""
        actor = check_actor(actor)
        level = check_line("level", level, 50)
        content_hash = _check_hash(content_hash)
        self._no_personal_data(("comment", comment), ("level", level))
        with self._guard():
            item = self._load(ref, expected_version)
            rules = self._rules(item, None)
            item.approve_afterwards(
                level=level,
                content_hash=content_hash,
                rules=rules,
                actor=actor,
                comment=comment,
                at=self._now(),
            )
            return self._save(item, "approval afterwards")

    # -- the guard ----------------------------------------------------------------------

    def check(
        self,
        content: ItemContent,
        attachments: Sequence[PreparedAttachment] = (),
        *,
        reason: str | None = None,
    ) -> GuardReport:
        """What the guard finds in `content` (title, body, 发文字号, basis, notes), in
        `reason` (a revision's 更正说明) and in the text of every attachment: those
        given (`attachments`) and those already stored, found by sha256. An
        attachment whose text cannot be read is *unchecked*, never clean; one neither
        given nor stored is left to `publish`, which refuses it. Writes nothing."""
        content = valid_content(content)
        fields = content_fields(content)
        if reason:
            fields.append(("reason", reason))
        given = {p.meta.sha256: p.data for p in attachments}
        texts: list[tuple[str, Sequence[TextBlockLike] | str]] = []
        for meta in content.attachments:
            data = given.get(meta.sha256)
            store = self.attachments
            if data is None and store is not None and store.has(meta.sha256):
                data = store.path_of(meta.sha256).read_bytes()
                if hashlib.sha256(data).hexdigest() != meta.sha256:
                    texts.append(
                        (meta.name, "the stored file does not match the log's digest")
                    )
                    continue
                if meta.sealed:
                    data = self._unsealed(content, data)
                    if data is None:
                        texts.append((meta.name, "erased: its key is gone"))
                        continue
            if data is None:
                continue
            texts.append(
                (
                    meta.name,
                    blocks_or_reason(data, name=meta.name, media_type=meta.media_type),
                )
            )
        return check_item(fields, texts, self.guard_policy, area=content.area)

    def _unsealed(self, content: ItemContent, blob: bytes) -> bytes | None:
        key = self.keys.get(content.id) if self.keys is not None else None
        if key is None:
            return None
        try:
            return unseal(key, content.id, blob)
        except ValueError:
            return None

    def _seal(
        self,
        content: ItemContent,
        prepared: Sequence[PreparedAttachment],
        *,
        create: bool = True,
    ) -> tuple[ItemContent, tuple[PreparedAttachment, ...], bytes | None]:
        """Encrypt the attachments to be sealed (marked so in the content or as given)
        with the item's key: the content and the store get the sealed blobs' digests
        and sizes. Returns the key too when it is new: the caller writes it (with the
        blobs) only once every rule has passed. `create=False` (a dry run): with the
        key the item has, or not at all."""
        by_sha = {p.meta.sha256: p for p in prepared}
        wanted = [
            a
            for a in content.attachments
            if a.sha256 in by_sha and (a.sealed or by_sha[a.sha256].meta.sealed)
        ]
        self._check_sealed_stored(content, by_sha)
        if not wanted:
            return content, tuple(prepared), None
        if self.keys is None:
            raise InputError(
                [Problem("attachments", "this log has no key store for sealed files")]
            )
        key, new = self.keys.get(content.id), None
        if key is None:
            if not create:
                return content, tuple(prepared), None
            key = new = KeyStore.new_key()
        sealed: dict[str, PreparedAttachment] = {}
        for a in wanted:
            plain = by_sha[a.sha256]
            blob = seal(key, content.id, plain.data)
            meta = a.model_copy(
                update={
                    "sha256": hashlib.sha256(blob).hexdigest(),
                    "size": len(blob),
                    "sealed": True,
                }
            )
            sealed[a.sha256] = PreparedAttachment(meta, blob)
        out = tuple(sealed.get(p.meta.sha256, p) for p in prepared)
        attachments = [
            sealed[a.sha256].meta if a.sha256 in sealed else a
            for a in content.attachments
        ]
        return content.model_copy(update={"attachments": attachments}), out, new

    def _check_sealed_stored(
        self, content: ItemContent, given: Mapping[str, PreparedAttachment]
    ) -> None:
        """An attachment marked sealed and named only by digest must be a sealed blob
        of this item already in the store: the log never calls a clear file sealed."""
        for index, a in enumerate(content.attachments):
            if not a.sealed or a.sha256 in given or self.attachments is None:
                continue
            if not self.attachments.has(a.sha256):
                continue  # refused as missing when stored
            blob = self.attachments.path_of(a.sha256).read_bytes()
            if self._unsealed(content, blob) is None:
                raise InputError(
                    [
                        Problem(
                            f"attachments[{index}].sealed",
                            f"{a.name} is not stored sealed for this item; give the "
                            "file itself",
                        )
                    ]
                )

    def _check_given(
        self, content: ItemContent, prepared: Sequence[PreparedAttachment]
    ) -> None:
        """Every file given must be one the content lists (else it would be stored
        unchecked), and no name may carry personal information (it is in the log for
        ever)."""
        named = {a.sha256 for a in content.attachments}
        stray = [p.meta.name for p in prepared if p.meta.sha256 not in named]
        if stray:
            raise InputError(
                [
                    Problem(
                        "attachments",
                        f"{', '.join(stray)}: given as a file, but the content does not "
                        "list it",
                    )
                ]
            )
        self._no_personal_data(
            *(
                (f"attachments[{i}].name", a.name)
                for i, a in enumerate(content.attachments)
            )
        )

    def _write_files(
        self,
        content: ItemContent,
        prepared: Sequence[PreparedAttachment],
        key: bytes | None,
    ) -> None:
        """The new key (if any), then the blobs: written only once every rule passed."""
        if key is not None and self.keys is not None:
            self.keys.put(content.id, key)
        self._store_attachments(content, prepared)

    # -- erasure ---------------------------------------------------------------------

    def erase(
        self,
        ref: str | UUID,
        *,
        reason: str,
        actor: str,
        public_note: str = "",
        expected_version: int | None = None,
    ) -> Change:
        """Erase an item's sealed attachments (个人信息删除): record `Erased`, then
        destroy the item's key, so the sealed blobs the log and the store keep can
        never be opened again. Outlets then show the item without them
        (`public_note`, or a standard statement, in their place); the audit still
        verifies. Refused (nothing written) for an item with no sealed part, a second
        time, and while a version is under review."""
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        public_note = check_note(public_note)
        self._no_personal_data(("reason", reason), ("public_note", public_note))
        with self._guard():
            item = self._load(ref, expected_version)
            if self.keys is None:
                raise InputError(
                    [Problem("", "this log has no key store: nothing is sealed here")]
                )
            if item.erasure is not None and self.keys.get(item.id) is not None:
                self.keys.destroy(item.id)  # an erasure cut short after its event
            item.erase(
                reason=reason, public_note=public_note, actor=actor, at=self._now()
            )
            change = self._save(item, "erasure")
            self.keys.destroy(item.id)
            return change

    def erase_due(self, *, after_days: int, actor: str = "syndicate") -> list[Change]:
        """Erase the sealed attachments of every released item whose 公示期 ended more
        than `after_days` days ago (China dates); `[guard] erase_after_days`, run by
        `sync` and the worker. Items under review wait; each erasure is its own
        event (reason: 公示期满…). Reads the log's content events as bytes, decoding
        only those with a sealed attachment."""
        actor = check_actor(actor)
        today = today_in_china(self._now)
        candidates: set[UUID] = set()
        for notification in self._notifications(topics=_CONTENT_TOPICS):
            if b'"sealed":true' in bytes(notification.state):
                candidates.add(notification.originator_id)
        changes = []
        for id_ in sorted(candidates):
            item = cast(DisclosureItem, self.repository.get(id_))
            period = item.content.notice_period
            if (
                item.erasure is not None
                or (item.pending is not None and item.pending.returned is None)
                or not item.released
                or period is None
                or (today - period.end).days <= after_days
            ):
                continue
            try:
                changes.append(
                    self.erase(
                        id_,
                        reason=f"公示期（至{period.end.isoformat()}）满{after_days}日，"
                        "按规定删除个人信息",
                        actor=actor,
                        expected_version=item.version,
                    )
                )
            except DomainError:
                # Changed a moment ago (a conflict, or erased by another worker): the
                # next run looks again.
                continue
        return changes

    # -- time: 定时发布, 公示期, 时效 (docs/lifecycle.md) -----------------------------------

    def schedule(
        self,
        ref: str | UUID,
        *,
        release_at: datetime | None,
        actor: str,
        reason: str | None = None,
        late_reason: str | None = None,
        expected_version: int | None = None,
    ) -> Change:
        """Move the time the version waiting is released at (`ReleaseScheduled`), or
        cancel its schedule (`release_at=None`, `ScheduleCancelled`: it then waits
        until scheduled again, released with `release`, or withdrawn). Refused for an
        item with nothing waiting, a time not after now or more than a year ahead, a
        time before its 公示期 starts, and (`NoticeRefused`, unless `late_reason`) a
        time that would make its 公示 late or short."""
        actor = check_actor(actor)
        if reason is not None:
            reason = check_line("reason", reason, 500)
            self._no_personal_data(("reason", reason))
        if release_at is not None:
            release_at = self._check_release_at(release_at)
        late_reason = self._check_timing(None, late_reason, None)[1]
        with self._guard():
            item = self._load(ref, expected_version)
            now = self._now()
            if release_at is None:
                item.cancel_schedule(
                    reason=reason or "取消定时发布", actor=actor, at=now
                )
                return self._save(item, "cancelled schedule")
            if item.pending is None:
                raise DomainError(
                    f"{item.ref} has no version waiting to be released: publish or "
                    "revise it with release_at to schedule one"
                )
            start = self._held_until(item.pending.content)
            if start is not None and release_at < start[0] and not item.released:
                raise InputError(
                    [
                        Problem(
                            "release_at",
                            f"{release_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} is "
                            "before its 公示期 starts "
                            f"({start[0]:%Y-%m-%d}); a notice waits for its window",
                        )
                    ]
                )
            content = item.pending.content
            problems: tuple[str, ...] = ()
            if content is not None:
                problems = self._check_notice(
                    content,
                    (release_at, None),
                    late_reason,
                    item.content if item.released else None,
                )
            self._record_exception(
                item, late_reason, problems, actor=actor, content=content
            )
            item.schedule_release(
                release_at=release_at, reason=reason, actor=actor, at=now
            )
            return self._save(item, "schedule")

    def repeal(
        self,
        ref: str | UUID,
        *,
        reason: str,
        actor: str,
        replaced_by: str | UUID | None = None,
        public_note: str = "",
        expected_version: int | None = None,
    ) -> Change:
        """废止: record that a released document is no longer in force (`Repealed`).
        It stays public, marked 已废止, with a link to `replaced_by` (an item released
        and not withdrawn); its 解读 are marked too. Distinct from `withdraw`, which
        takes an item down."""
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        public_note = check_note(public_note)
        self._no_personal_data(("reason", reason), ("public_note", public_note))
        with self._guard():
            item = self._load(ref, expected_version)
            replacement = None
            if replaced_by is not None:
                try:
                    replacement = self.get(replaced_by)
                except ItemNotFound:
                    raise InputError(
                        [
                            Problem(
                                "replaced_by",
                                f"no item {replaced_by} in the log; publish the new "
                                "document first",
                            )
                        ]
                    ) from None
            now = self._now()
            item.mark_repealed(
                reason=reason,
                public_note=public_note,
                replaced_by=replacement,
                actor=actor,
                at=now,
            )
            # Its 解读 lose their force with it: marked in the same transaction.
            readings = []
            for id_ in sorted(self._interpreting(item.id)):
                reading = cast(DisclosureItem, self.repository.get(id_))
                if (
                    reading.status is not ItemStatus.PUBLISHED
                    or reading.content.interprets != item.id
                    or reading.repeal is not None
                    or reading.expired
                ):
                    continue
                reading.mark_repealed(
                    reason=f"所解读的政策文件（{item.ref}）已废止",
                    policy=item.id,
                    actor=actor,
                    at=now,
                )
                readings.append(reading)
            try:
                recordings = self.save(*readings, item)
            except IntegrityError:
                raise ConflictError(
                    f"the repeal of {item.ref} was not saved: another change to it or "
                    "a 解读 of it was saved first; run the command again"
                ) from None
            return self._changes(recordings, [*readings, item])[-1]

    def due(self, until: datetime | None = None) -> list[DueChange]:
        """Every time-driven change due by `until` (default: now by the clock),
        earliest first: scheduled releases, ended windows, lapsed validity."""
        table = self.timetable
        table.refresh()
        until = until or self._now()
        found = []
        # The timetable chooses the items; what is due comes from each item's own
        # events (a row edited to say "due" adds nothing).
        for id_ in table.due(until):
            try:
                item = cast(DisclosureItem, self.repository.get(id_))
            except AggregateNotFoundError:
                continue  # a row for no item (verify names it)
            for change in due_changes(item, until):
                if change.kind is DueKind.RELEASE and not self._releasable(
                    self._bundle(item)
                ):
                    continue  # waits for review, not for the clock
                found.append(change)
        return sorted(found)

    def advance(
        self, *, actor: str = "syndicate", timetable: Timetable | None = None
    ) -> list[Change]:
        """Record every time-driven change due by now (the clock): release what was
        scheduled (once approved), end 公示 windows (`NoticeEnded`, with `[notice]`
        after_end), expire documents past `valid_until` (`Expired`). Run by `sync`
        and the worker; each change is its own event, timestamped now."""
        actor = check_actor(actor)
        table = timetable if timetable is not None else self.timetable
        table.refresh()
        now = self._now()
        changes: list[Change] = []
        for id_ in table.due(now):
            try:
                changes += self._apply_due(id_, now, actor)
            except (DomainError, InputError):
                # Changed a moment ago (another worker, a conflict): the next run
                # looks again.
                continue
            except AggregateNotFoundError:
                continue  # a row for no item (edited in; verify names it)
        table.refresh()
        return changes

    def _apply_due(self, id_: UUID, now: datetime, actor: str) -> list[Change]:
        changes: list[Change] = []
        for _ in range(4):  # a late release may make its window's end due at once
            item = cast(DisclosureItem, self.repository.get(id_))
            due = due_changes(item, now)
            if not due:
                break
            first = due[0]
            if first.kind is DueKind.RELEASE:
                members = self._bundle(item)
                pending = item.pending
                if (
                    pending is not None
                    and len(members) == 1
                    and not self._rules(item, pending.content).on
                    and not pending.approved
                ):
                    # Review was switched off since it was submitted: released as
                    # review off would have (recorded with no approvals), as
                    # `release` does.
                    changes.append(
                        self._release(
                            members, item, actor=actor, unreviewed=True, scheduled=True
                        )
                    )
                    continue
                if not self._releasable(members) or self._waiting(members):
                    due = due[1:]  # waits for review (or a member's own time)
                    if not due:
                        break
                    first = due[0]
                else:
                    changes.append(
                        self._release(members, item, actor=actor, scheduled=True)
                    )
                    continue
            if first.kind is DueKind.NOTICE_END:
                item.end_notice(
                    after_end=self.notice_policy.after_end,
                    notify=self.notice_policy.notify_end,
                    actor=actor,
                    at=now,
                )
                changes.append(self._save(item, "end of the 公示期"))
            elif first.kind is DueKind.EXPIRY:
                item.mark_expired(actor=actor, at=now)
                changes.append(self._save(item, "expiry"))
            else:
                break
        return changes

    # -- the standard catalogue (标准目录) -----------------------------------------------

    def catalogue(self) -> CatalogueVersion | None:
        """The standard catalogue in force, or None when none was imported."""
        found = self.catalogue_aggregate()
        return found.current if found is not None else None

    def _fulfiller(self) -> Callable[[ItemContent], ItemContent]:
        """`standard.inherit` with the catalogue in force, read from the store only
        when some content names a 事项 (or a path), and then once: most items name
        none, and publishing should not replay the catalogue for them."""
        loaded: list[CatalogueVersion | None] = []

        def fulfil(content: ItemContent) -> ItemContent:
            if content.catalogue_item is None and content.catalogue_path is None:
                return content
            if not loaded:
                loaded.append(self.catalogue())
            return inherit(content, loaded[0])

        return fulfil

    def catalogue_aggregate(
        self, *, version: int | None = None
    ) -> StandardCatalogue | None:
        """The catalogue aggregate (every version in `versions`), or None."""
        with self._guard():
            if CATALOGUE_ID not in self.repository:
                return None
            return cast(
                StandardCatalogue, self.repository.get(CATALOGUE_ID, version=version)
            )

    def import_catalogue(
        self,
        entries: Sequence[CatalogueEntry],
        *,
        source: str,
        sha256: str,
        actor: str,
    ) -> tuple[CatalogueVersion, CatalogueChange]:
        """Record a catalogue version: the first (`Started`) or what a later import
        changed (`Adjusted`). An import that changes nothing records nothing and
        returns the version in force with an empty change."""
        actor = check_actor(actor)
        source = check_line("source", source, 300)
        entries = tuple(entries)
        if not entries:
            raise InputError([Problem("catalogue", "has no 事项")])
        codes = [e.code for e in entries]
        if len(set(codes)) != len(codes):
            raise InputError([Problem("catalogue", "two 事项 have the same code")])
        self._no_personal_data(
            *(
                (f"catalogue row {n}", text)
                for n, e in enumerate(entries, start=1)
                for text in (
                    e.code,
                    e.path,
                    e.basis,
                    e.time_limit,
                    e.agency,
                    e.audience,
                    e.level or "",
                    e.category or "",
                    e.supervision or "",
                    *e.other_channels,
                )
            )
        )
        now = self._now()
        with self._guard():
            existing = self.catalogue_aggregate()
            if existing is None:
                catalogue = StandardCatalogue.start(
                    entries, source=source, sha256=sha256, actor=actor, at=now
                )
                change = catalogue.current.change
            else:
                catalogue = existing
                change = catalogue.adjust(
                    entries, source=source, sha256=sha256, actor=actor, at=now
                )
                if not catalogue.pending_events:
                    return catalogue.current, change
            try:
                self.save(catalogue)
            except IntegrityError:
                raise ConflictError(
                    "the standard catalogue was changed by someone else at the "
                    "same time; import again"
                ) from None
        return catalogue.current, change

    def _check_timing(
        self, release_at: datetime | None, late_reason: str | None, urgent: str | None
    ) -> tuple[datetime | None, str | None]:
        if late_reason is not None:
            late_reason = check_line("late_reason", late_reason, 500)
            self._no_personal_data(("late_reason", late_reason))
        if release_at is None:
            return None, late_reason
        self._check_release_at(release_at)
        if urgent is not None:
            raise InputError(
                [
                    Problem(
                        "release_at",
                        "an urgent release is released at once; leave out --urgent "
                        "or the release time",
                    )
                ]
            )
        return release_at, late_reason

    def _check_release_at(self, release_at: object) -> datetime:
        """A release time: aware, after now, at most a year ahead."""
        if not isinstance(release_at, datetime) or release_at.tzinfo is None:
            raise InputError(
                [Problem("release_at", "must be a date and time with a time zone")]
            )
        now = self._now()
        if release_at <= now:
            raise InputError(
                [
                    Problem(
                        "release_at",
                        f"{release_at.isoformat(timespec='minutes')} is not "
                        f"after now ({now.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} China "
                        "time); give a time to come, or leave it out to publish now",
                    )
                ]
            )
        if release_at - now > timedelta(days=MAX_NOTICE_LEAD_DAYS):
            raise InputError(
                [
                    Problem(
                        "release_at",
                        f"{release_at.isoformat(timespec='minutes')} is more than "
                        f"{MAX_NOTICE_LEAD_DAYS} days ahead; schedule it closer to "
                        "its time",
                    )
                ]
            )
        return release_at

    def _held_until(self, content: ItemContent | None) -> tuple[datetime, str] | None:
        """00:00 of the day a 公示 starts, when that is after today."""
        period = content.notice_period if content is not None else None
        if period is None or period.start <= today_in_china(self._now):
            return None
        return day_start(period.start), f"公示期自{period.start.isoformat()}开始"

    def _release_time(
        self, content: ItemContent, release_at: datetime | None
    ) -> tuple[datetime, str | None] | None:
        """When a new item is released: `release_at`, or later, its window's start."""
        start = self._held_until(content)
        if start is not None and (release_at is None or release_at < start[0]):
            return start
        return (release_at, None) if release_at is not None else None

    def _with_policy(
        self, content: ItemContent, timing: tuple[datetime, str | None] | None
    ) -> tuple[datetime, str | None] | None:
        """A 解读 of a policy that waits for a schedule waits for it too (it is never
        shown before the policy it explains)."""
        target = content.interprets
        if target is None or target not in self.repository:
            return timing
        policy = cast(DisclosureItem, self.repository.get(target))
        schedule = policy.schedule
        if policy.released or schedule is None:
            return timing
        if timing is None or timing[0] < schedule.release_at:
            return schedule.release_at, f"随所解读的{policy.ref}定时发布"
        return timing

    def _check_notice(
        self,
        content: ItemContent,
        timing: tuple[datetime, str | None] | None,
        late_reason: str | None,
        before: ItemContent | None,
    ) -> tuple[str, ...]:
        """Refuse a late or short 公示 (`NoticeRefused`) unless `late_reason`;
        returns what the reason accepts."""
        release_day = (
            timing[0].astimezone(CHINA_TZ).date()
            if timing is not None
            else today_in_china(self._now)
        )
        problems = notice_problems(
            content, release_day=release_day, policy=self.notice_policy, before=before
        )
        if problems and late_reason is None:
            raise NoticeRefused(content.ref, problems)
        return tuple(problems)

    def _record_exception(
        self,
        item: DisclosureItem,
        late_reason: str | None,
        problems: tuple[str, ...],
        *,
        actor: str,
        content: ItemContent | None = None,
    ) -> None:
        if late_reason is None or not problems:
            return
        item.excuse_notice(
            content_hash=content_hash(content) if content else item.content_hash,
            reason=late_reason,
            problems=problems,
            actor=actor,
            at=self._now(),
        )

    def _guarded(
        self,
        content: ItemContent,
        attachments: Sequence[PreparedAttachment],
        override: GuardOverride | None,
        *,
        reason: str | None = None,
    ) -> tuple[str, ...]:
        """Refuse (`GuardRefused`) what blocks; return what `override` accepted, as
        the log records it (where and what, never the value)."""
        report = self.check(content, attachments, reason=reason)
        blocking = report.blocking(override)
        if blocking.findings or blocking.unchecked:
            raise GuardRefused(content.ref, blocking)
        still = set(blocking.findings)
        return tuple(
            f"{f.where} {f.kind.label}" + (f"「{f.term}」" if f.term else "")
            for f in report.findings
            if f.blocks and f not in still
        ) + tuple(f"{u.part} ({u.name}) unchecked" for u in report.unchecked)

    def _check_override(self, override: GuardOverride | None) -> GuardOverride | None:
        if override is None:
            return None
        if not isinstance(override, GuardOverride):
            raise InputError([Problem("override", "must be a GuardOverride")])
        if not isinstance(override.basis, str):
            raise InputError([Problem("basis", "must be text: the legal basis")])
        if not (isinstance(override.pii, bool) and isinstance(override.wording, bool)):
            raise InputError(
                [Problem("override", "pii and wording must be True or False")]
            )
        basis = check_line("basis", override.basis, 500)
        if not (override.pii or override.wording):
            raise InputError(
                [Problem("override", "allows nothing: set pii or wording (or both)")]
            )
        self._no_personal_data(("basis", basis))
        return replace(override, basis=basis)

    def _no_personal_data(self, *fields: tuple[str, str]) -> None:
        """Text that only the log keeps (a reason, a basis, a comment) must not hold
        personal information: the log keeps it for ever."""
        if not self.guard_policy.pii:
            return
        problems = [
            Problem(
                name, f"{f.place}: holds a {f.kind.label} ({f.masked}); leave it out"
            )
            for name, text in fields
            if isinstance(text, str)
            for f in find_pii(text)
        ]
        if problems:
            raise InputError(problems)

    def _record_override(
        self,
        item: DisclosureItem,
        override: GuardOverride | None,
        findings: tuple[str, ...],
        *,
        actor: str,
        content: ItemContent | None = None,
    ) -> None:
        if override is None or not findings:
            return
        item.override_guard(
            content_hash=content_hash(content) if content else item.content_hash,
            basis=override.basis,
            personal_information=override.pii,
            wording=override.wording,
            findings=findings,
            actor=actor,
            at=self._now(),
        )

    def _rules(self, item: DisclosureItem, content: ItemContent | None) -> ReviewRules:
        """The review rules for a change of `item` to `content`: those of the new
        content, else of the version outlets show, else of its first draft — the first
        of them with review on. Moving an item (released or a draft) to an agency or
        area without review does not skip review."""
        candidates = [content, item.content if item.released else None, item.drafted]
        rules = self.review_policy.rules_for(item.content)
        for candidate in candidates:
            if candidate is None:
                continue
            rules = self.review_policy.rules_for(candidate)
            if rules.on:
                return rules
        return rules

    def _check_policy_alive(self, item: DisclosureItem) -> None:
        """A 解读 under review whose policy was withdrawn before it was ever released
        is not released (alone, it would explain nothing public)."""
        content = item.pending.content if item.pending else None
        target = content.interprets if content is not None else None
        if target is None or target not in self.repository:
            return
        policy = cast(DisclosureItem, self.repository.get(target))
        if policy.status is ItemStatus.WITHDRAWN and not policy.released:
            raise ReviewRefused(
                f"{item.ref} interprets {policy.ref}, which was withdrawn before it was "
                "ever released: withdraw this 解读 too, or revise it to interpret "
                "another policy"
            )

    def _check_needs_reading(
        self, content: ItemContent, rules: ReviewRules, batch: Sequence[ItemContent]
    ) -> None:
        """A policy whose category needs a 解读 is not released urgently without one
        released with it (in the same command)."""
        if content.interprets is not None or content.category is None:
            return
        if content.category not in rules.requires_interpretation:
            return
        if any(other.interprets == content.id for other in batch):
            return
        raise ReviewRefused(
            f"{content.ref} is a {content.category}, which is released only together "
            "with a 解读 ([review] requires_interpretation): publish it and its 解读 "
            "urgently in one command"
        )

    def _check_not_bundled(self, item: DisclosureItem, content: ItemContent) -> None:
        members = self._bundle(item, content)
        if len(members) > 1:
            others = ", ".join(m.ref for m in members if m.id != item.id)
            raise ReviewRefused(
                f"{item.ref} is released together with {others} (a policy and its "
                "解读): an urgent release would split them; approve them together, or "
                "release the policy urgently before its 解读 is submitted"
            )

    def _bundle(
        self, item: DisclosureItem, content: ItemContent | None = None
    ) -> list[DisclosureItem]:
        """The items released together with `item`: a policy never released and every
        解读 of it under review (同步审签、同步公布). Just `item` when it is in none."""
        content = content or (item.pending.content if item.pending else None)
        content = content or item.content
        root: DisclosureItem | None = None
        if content.interprets is not None and content.interprets in self.repository:
            policy = cast(DisclosureItem, self.repository.get(content.interprets))
            if policy.status is ItemStatus.PENDING:
                root = policy
        if root is None and item.status is ItemStatus.PENDING:
            root = item
        if root is None:
            return [item]
        members = {root.id: item if root.id == item.id else root}
        for other in self._interpreting(root.id):
            if other == item.id:
                members[other] = item
            elif other not in members:
                candidate = cast(DisclosureItem, self.repository.get(other))
                # Under review as a 解读 of the root: a draft, or a released item
                # revised into one.
                if candidate.pending is not None:
                    members[other] = candidate
        members.setdefault(item.id, item)
        return list(members.values())

    def _interpreting(self, policy: UUID) -> set[UUID]:
        """Ids of the items whose latest submitted content interprets `policy`.

        Reads the log's stored notifications and decodes only content events that
        mention the policy's id, or belong to an item found so far: a scan of bytes,
        not of events (a county log holds tens of thousands).
        """
        needle = str(policy).encode()
        found: set[UUID] = set()
        for notification in self._notifications(topics=_CONTENT_TOPICS):
            if needle not in notification.state and notification.originator_id not in (
                found
            ):
                continue
            event = self.mapper.to_domain_event(notification)
            content = getattr(event, "content", None)
            if content is None:
                continue
            if content.interprets == policy:
                found.add(event.originator_id)
            else:
                found.discard(event.originator_id)
        return found

    def _under_review(self) -> set[UUID]:
        """Ids of the items that may have a version under review or an urgent release
        awaiting approval afterwards, from the topics of the stored events alone."""
        last: dict[UUID, str] = {}
        urgent: set[UUID] = set()
        for notification in self._notifications():
            last[notification.originator_id] = notification.topic
            if notification.topic == DisclosureItem.UrgentlyReleased.TOPIC:
                urgent.add(notification.originator_id)
        return urgent | {id_ for id_, topic in last.items() if topic in _REVIEW_TOPICS}

    def _notifications(
        self, topics: Sequence[str] = (), start: int = 0
    ) -> Iterator[Any]:
        """Stored notifications in log order (after `start`), in pages, undecoded."""
        while True:
            with self._guard():
                page = self.recorder.select_notifications(
                    start=start, limit=_PAGE, topics=topics, inclusive_of_start=False
                )
            if not page:
                return
            yield from page
            start = page[-1].id

    def _releasable(self, members: list[DisclosureItem]) -> bool:
        """Every member approved at every level, and a policy whose category needs a
        解读 has one among them."""
        if any(m.pending is None or not m.pending.approved for m in members):
            return False
        for member in members:
            content = member.pending.content if member.pending else None
            if content is None or content.interprets is not None:
                continue
            if member.status is not ItemStatus.PENDING:
                continue  # released before, with its 解读: a revision needs no new one
            needs = self.review_policy.rules_for(content).requires_interpretation
            if content.category in needs and not any(
                (m.pending and m.pending.content and m.pending.content.interprets)
                == member.id
                for m in members
            ):
                return False
        return True

    def _check_not_early(self, members: list[DisclosureItem]) -> None:
        """Refuse to release by hand a version scheduled for later, or a 公示 whose
        window has not started (`ReviewRefused`, saying what to do)."""
        now = self._now()
        for member in members:
            schedule = member.schedule
            if schedule is not None and schedule.release_at > now:
                raise ReviewRefused(
                    f"{member.ref} is scheduled for "
                    f"{schedule.release_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} and "
                    "is released then by itself; to release it earlier, move or "
                    "cancel the schedule first (`syndicate items schedule`)"
                )
            content = member.pending.content if member.pending else None
            held = self._held_until(content) if not member.released else None
            if held is not None:
                raise ReviewRefused(
                    f"{member.ref}: its 公示期 starts on {held[0]:%Y-%m-%d}; a notice "
                    "is not shown before its window (it is released then by itself)"
                )

    def _waiting(self, members: list[DisclosureItem]) -> bool:
        """A member waits for a schedule still to come."""
        now = self._now()
        return any(
            m.schedule is not None and m.schedule.release_at > now for m in members
        )

    def _release(
        self,
        members: list[DisclosureItem],
        item: DisclosureItem,
        *,
        actor: str,
        unreviewed: bool = False,
        scheduled: bool = False,
    ) -> Change:
        """Release `members` in one transaction; the last one names the others."""
        now = self._now()
        others = [m for m in members if m.id != item.id]
        for other in others:
            other.release(
                actor=actor,
                at=now,
                planned_with=item.id,
                scheduled=other.schedule.release_at
                if scheduled and other.schedule
                else None,
            )
        item.release(
            actor=actor,
            at=now,
            bundle=tuple((o.id, o.version) for o in others),
            unreviewed=unreviewed,
            scheduled=item.schedule.release_at if scheduled and item.schedule else None,
        )
        try:
            recordings = self.save(*others, item)
        except IntegrityError:
            raise ConflictError(
                f"the release of {item.ref} was not saved: another change to it or an "
                "item released with it was saved first; read it again with "
                f"`syndicate review show {item.ref}` and approve again"
            ) from None
        return self._changes(recordings, [*others, item])[-1]

    # -- reading: the review queue -----------------------------------------------------

    def reviews(
        self,
        *,
        level: str | None = None,
        overdue: bool = False,
        agency: str | None = None,
        only: UUID | None = None,
    ) -> list[ReviewEntry]:
        """Versions under review, oldest submission first; a policy and the 解读
        released with it are one entry (the 解读 as its `members`).

        `level`: only those awaiting that level (in any member). `overdue`: instead,
        urgent releases awaiting approval afterwards (each says whether it is overdue).
        `agency`: only that agency's items. `only`: only that item, as its own entry
        (read from its own events; the log is not scanned).
        """
        now = self._now()
        with self._guard():
            candidates = {only} if only is not None else self._under_review()
            if len(candidates) > _LOAD_ONE_BY_ONE:  # a long queue: one pass is faster
                items = {
                    item.id: item
                    for item, _ in self.items_as_of(self.position())
                    if item.id in candidates
                }
            else:
                items = {
                    id_: cast(DisclosureItem, self.repository.get(id_))
                    for id_ in candidates
                }
        entries: dict[UUID, ReviewEntry] = {}
        for item in items.values():
            if agency is not None and item.content.agency != agency:
                continue
            entry = review_entry(item, now, urgent_only=overdue)
            if entry is None or (entry.state == "urgent") != overdue:
                continue
            entries[item.id] = entry
        grouped: dict[UUID, list[ReviewEntry]] = {}
        for entry in list(entries.values()):
            item = items[entry.item_id]
            content = item.pending.content if item.pending else None
            policy = content.interprets if content is not None else None
            if (
                not overdue
                and policy in entries
                and policy is not None
                and items[policy].status is ItemStatus.PENDING
                and not entries[policy].members
            ):
                grouped.setdefault(policy, []).append(entries.pop(entry.item_id))
        result = [
            replace(entry, members=tuple(grouped.get(entry.item_id, ())))
            for entry in entries.values()
        ]
        if level is not None:
            result = [
                e
                for e in result
                if e.awaiting == level or any(m.awaiting == level for m in e.members)
            ]
        return sorted(result, key=lambda e: (e.submitted_at, e.ref))

    def review(self, ref: str | UUID) -> ReviewDetail:
        """The version of an item under review (or urgently released), what outlets
        show now, and a readable diff between them. `ReviewRefused` if neither."""
        with self._guard():
            item = self.get(ref)
        entry = review_entry(item, self._now())
        if entry is None:
            state = {
                ItemStatus.PUBLISHED: "it is released and nothing is under review",
                ItemStatus.WITHDRAWN: "it has been withdrawn",
                ItemStatus.PENDING: "nothing is under review",
            }[item.status]
            raise ReviewRefused(f"{item.ref}: {state}")
        live = item.content if item.released else None
        pending = item.pending
        if pending is not None:
            proposed = pending.content
            if pending.kind.value == "withdraw":
                proposed = None
            if live is not None and item.status is not ItemStatus.PUBLISHED:
                live = None
            members = self._bundle(item)
            if len(members) > 1:
                now = self._now()
                entry = replace(
                    entry,
                    members=tuple(
                        e
                        for m in members
                        if m.id != item.id and (e := review_entry(m, now)) is not None
                    ),
                )
            note = pending.public_note
        else:  # urgent: released already; show what was released against before
            proposed = item.content if item.status is ItemStatus.PUBLISHED else None
            before = self.get(item.id, version=entry.version - 1)
            live = before.content if before.status is ItemStatus.PUBLISHED else None
            note = item.withdrawal.public_note if item.withdrawal else ""
        diff = "" if proposed is None else content_diff(live, proposed)
        urgent = (
            review_entry(item, self._now(), urgent_only=True)
            if item.pending is not None and item.urgent is not None
            else None
        )
        return ReviewDetail(
            entry=entry,
            live=live,
            proposed=proposed,
            diff=diff,
            public_note=note,
            urgent=urgent,
        )

    # -- reading -----------------------------------------------------------------------

    def resolve(self, ref: str | UUID) -> UUID:
        """The id of the item a REF names: an id, `AGENCY/INDEX_NO`, or an id prefix."""
        with self._guard():
            candidate = self._id_of(ref)
            if candidate not in self.repository:
                raise ItemNotFound(f"no item {ref} in the log")
            return candidate

    def _id_of(self, ref: str | UUID) -> UUID:
        """The id a REF stands for; only an id prefix needs the log to tell. The
        standard catalogue's id (it shares the log) is no item's."""
        found = self._id_of_any(ref)
        if found == CATALOGUE_ID:
            raise ItemNotFound(
                f"no item {ref} in the log ({CATALOGUE_ID} is the standard catalogue: "
                "`syndicate catalogue history` shows its versions)"
            )
        return found

    def _id_of_any(self, ref: str | UUID) -> UUID:
        if isinstance(ref, UUID):
            return ref
        text = ref.strip()
        if all(c in "0123456789abcdefABCDEF-" for c in text):
            text = text.lower()
        try:
            parsed = parse_item_ref(text)
        except ValueError as exc:
            if len(text) >= 6 and all(c in "0123456789abcdef-" for c in text):
                return self._resolve_prefix(text)
            raise InputError([Problem("REF", str(exc))]) from None
        return parsed if isinstance(parsed, UUID) else item_id(*parsed)

    def _resolve_prefix(self, prefix: str) -> UUID:
        matches = {i for i in self._summaries() if str(i).startswith(prefix)}
        if not matches:
            raise ItemNotFound(f"no item {prefix} in the log")
        if len(matches) > 1:
            raise InputError(
                [Problem("REF", f"{prefix!r} matches {len(matches)} items; give more")]
            )
        return matches.pop()

    def get(self, ref: str | UUID, *, version: int | None = None) -> DisclosureItem:
        """The item as of its latest version, or as of `version`."""
        with self._guard():
            # One read: a missing item and a missing version are both "not found".
            id_ = self._id_of(ref)
            if version is not None and not 1 <= version <= _MAX_VERSION:
                raise ItemNotFound(f"item {ref} has no version {version}")
            try:
                item = cast(DisclosureItem, self.repository.get(id_, version=version))
            except AggregateNotFoundError:
                if version is None:
                    raise ItemNotFound(f"no item {ref} in the log") from None
                item = None
            if item is None or (version is not None and item.version != version):
                # The store treats a version as an upper bound; an operator asking for
                # version 9 of a 3-version item must not be shown version 3.
                raise ItemNotFound(f"item {ref} has no version {version}")
            return item

    def items(
        self,
        *,
        area: str | None = None,
        agency: str | None = None,
        status: ItemStatus | None = None,
    ) -> list[ItemSummary]:
        """Current summaries of all items, oldest publication first."""
        with self._guard():
            found = self._summaries().values()
        return [
            s
            for s in found
            if (area is None or s.area == area)
            and (agency is None or s.agency == agency)
            and (status is None or s.status is status)
        ]

    def read_log(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        item: str | UUID | None = None,
    ) -> Iterator[LoggedEvent]:
        """Stored events in log order, from the position after `after`."""
        with self._guard():
            only = self.resolve(item) if item is not None else None
        refs: dict[UUID, str] = {}
        rows = logged_events(
            self._events(after=after, only=only, catalogue=only is None), refs
        )
        for count, row in enumerate(rows, start=1):
            if row.ref == str(row.item_id):
                refs[row.item_id] = self._ref_of(row.item_id)
                yield replace(row, ref=refs[row.item_id])
            else:
                yield row
            if limit is not None and count >= limit:
                return

    def live_items(self, position: int) -> Iterator[tuple[DisclosureItem, int]]:
        """Items not withdrawn as of a log position, each with its last event's position."""
        for item, at in self.items_as_of(position):
            if item.status is ItemStatus.PUBLISHED:
                yield item, at

    def items_as_of(self, position: int) -> Iterator[tuple[DisclosureItem, int]]:
        """Every item as of a log position (withdrawn ones too), with its last position."""
        items: dict[UUID, tuple[DisclosureItem, int]] = {}
        for at, event in self._events(stop=position):
            if isinstance(event, DisclosureItem.Published | DisclosureItem.Drafted):
                items[event.originator_id] = (
                    cast(DisclosureItem, event.mutate(None)),
                    at,
                )
            elif event.originator_id in items:
                item = items[event.originator_id][0]
                event.mutate(item)
                items[event.originator_id] = (item, at)
        yield from items.values()

    def position(self) -> int:
        """The position of the latest event in the log (0 when empty)."""
        with self._guard():
            return self.recorder.max_notification_id() or 0

    # -- internals ---------------------------------------------------------------------

    def _events(
        self,
        *,
        after: int = 0,
        only: UUID | None = None,
        stop: int | None = None,
        catalogue: bool = False,
    ) -> Iterator[tuple[int, DisclosureItem.Event]]:
        """Decoded item events in log order, read in pages (memory stays bounded);
        with `catalogue`, the standard catalogue's events too (for `read_log`)."""
        start = after
        while True:
            if stop is not None and start >= stop:
                return
            with self._guard():
                page = self.recorder.select_notifications(
                    start=start, limit=_PAGE, stop=stop, inclusive_of_start=False
                )
            if not page:
                return
            for notification in page:
                if notification.originator_id == CATALOGUE_ID and not catalogue:
                    continue  # the standard catalogue shares the log; not an item
                if only is None or notification.originator_id == only:
                    event = self.mapper.to_domain_event(notification)
                    yield notification.id, cast(DisclosureItem.Event, event)
            start = page[-1].id

    def _summaries(self) -> dict[UUID, ItemSummary]:
        return fold_summaries(self._events())

    def summary(self, ref: str | UUID) -> ItemSummary:
        """The current summary of the item `ref` names, from its own events (the log
        is not read). Raises `ItemNotFound`."""
        id_ = self.resolve(ref)
        with self._guard():
            stored = self.recorder.select_events(id_)
            events = [
                (0, cast(DisclosureItem.Event, self.mapper.to_domain_event(e)))
                for e in stored
            ]
        found = fold_summaries(events).get(id_)
        if found is None:
            raise ItemNotFound(f"no item {ref} in the log")
        return found

    def _ref_of(self, id_: UUID) -> str:
        first = cast(DisclosureItem, self.repository.get(id_, version=1))
        return first.ref

    def _load(self, ref: str | UUID, expected_version: int | None) -> DisclosureItem:
        item = self.get(ref)
        if expected_version is not None and item.version != expected_version:
            raise ConflictError(
                f"{item.ref} is at version {item.version}, not {expected_version}: "
                f"it was changed ({self._describe_latest(item)}); review it and try again"
            )
        return item

    @staticmethod
    def _describe_latest(item: DisclosureItem) -> str:
        last = max((*item.history, *item.reviews), key=lambda r: r.version)
        at = last.at.astimezone(CHINA_TZ).isoformat(timespec="seconds")
        return f"{last.event} by {last.actor} at {at}"

    def _save(self, item: DisclosureItem, what: str) -> Change:
        try:
            recordings = self.save(item)
        except IntegrityError:
            current = cast(DisclosureItem, self.repository.get(item.id))
            raise ConflictError(
                f"the {what} of {item.ref} was not saved: another change was saved "
                f"first (version {current.version}, "
                f"{self._describe_latest(current)}); "
                f"review it with `syndicate items show {item.ref}` and run the command "
                "again"
            ) from None
        return self._changes(recordings, [item])[-1]

    def _existing(self, ids: Sequence[UUID]) -> Collection[UUID]:
        """Those of `ids` the log has events of."""
        select = getattr(self.recorder, "select_events_of", None)
        if select is None:  # a log kept in memory: ask one by one
            return {i for i in ids if i in self.repository}
        return set(select(list(ids)))

    def _refuse_if_published(self, content: ItemContent) -> None:
        """Raise `AlreadyPublished` if the item exists, saying how it compares."""
        if content.id not in self.repository:
            return
        existing = cast(DisclosureItem, self.repository.get(content.id))
        at = existing.created_on.astimezone(CHINA_TZ).isoformat(timespec="seconds")
        first = (existing.history or existing.reviews)[0]
        offered = content_hash(content)
        if existing.status is ItemStatus.WITHDRAWN:
            raise AlreadyPublished(
                f"already published: {content.ref} (item {content.id}) was published "
                f"at {at} by {first.actor}; it has been withdrawn, and an index number "
                "is never reused"
            )
        if existing.status is ItemStatus.PENDING:
            same = offered == existing.content_hash
            raise AlreadyPublished(
                f"already submitted for review: {content.ref} (item {content.id}) was "
                f"submitted at {at} by {first.actor}"
                + (
                    " with this very content; nothing to do"
                    if same
                    else "; to submit this content as its new version, use "
                    "`syndicate items revise`"
                ),
                identical=same,
                revisable=not same,
            )
        if offered == existing.content_hash:
            raise AlreadyPublished(
                f"already published, identical: {content.ref} is at version "
                f"{existing.version} with this very content (published at {at} by "
                f"{first.actor}); nothing to do",
                identical=True,
            )
        message = (
            f"already published: {content.ref} (item {content.id}) was published at "
            f"{at} by {first.actor}"
        )
        earlier = [h.version for h in existing.history if h.content_hash == offered]
        if earlier:
            raise AlreadyPublished(
                f"{message}; this content is its version {earlier[-1]}, but it is at "
                f"version {existing.version} now ({self._describe_latest(existing)}): "
                "this content is out of date; nothing was changed"
            )
        raise AlreadyPublished(
            f"{message}, and this content differs from its version "
            f"{existing.version}; to publish it as a new version, use "
            "`syndicate items revise`",
            revisable=True,
        )

    @staticmethod
    def _admit(content: ItemContent, today: date) -> None:
        """The plausibility rules a new version must pass (names, dates, periods)."""
        problems = admission_problems(content, today=today)
        if problems:
            raise InputError(problems)

    def _check_interprets(self, content: ItemContent, *, batch: set[UUID]) -> None:
        target = content.interprets
        if target is None or target in batch:
            return
        if target not in self.repository:
            raise InterpretedItemMissing(
                f"interprets: the policy item {target} is not in the log; publish it "
                "first or in the same command"
            )
        policy = cast(DisclosureItem, self.repository.get(target))
        if policy.status is ItemStatus.WITHDRAWN:
            raise InterpretedItemMissing(
                f"interprets: the policy item {policy.ref} has been withdrawn"
            )
        if policy.repeal is not None:
            raise InputError(
                [
                    Problem(
                        "interprets",
                        f"{policy.ref} was repealed (已废止); a 解读 explains a policy "
                        "in force",
                    )
                ]
            )
        proposed = policy.pending.content if policy.pending else None
        if any(c is not None and c.interprets for c in (policy.content, proposed)):
            raise InputError(
                [
                    Problem(
                        "interprets",
                        f"{policy.ref} is itself a 解读; name the policy it interprets",
                    )
                ]
            )

    def _store_attachments(
        self, content: ItemContent, prepared: Sequence[PreparedAttachment]
    ) -> None:
        if not content.attachments and not prepared:
            return
        if self.attachments is None:
            raise InputError(
                [Problem("attachments", "this log has no attachment store configured")]
            )
        # Blobs first: an orphan blob is harmless, an event naming a missing one is not.
        for item in prepared:
            self.attachments.put(item)
        missing = [
            Problem(
                f"attachments[{index}]",
                f"no stored file with sha256 {a.sha256}; give the file itself",
            )
            for index, a in enumerate(content.attachments)
            if not self.attachments.has(a.sha256)
        ]
        if missing:
            raise InputError(missing)
        # The metadata outlets show must describe the bytes they serve.
        wrong = [
            Problem(f"attachments[{index}].size", f"is {a.size}; the file has {size}")
            for index, a in enumerate(content.attachments)
            if (size := self.attachments.path_of(a.sha256).stat().st_size) != a.size
        ]
        if wrong:
            raise InputError(wrong)

    def _changes(
        self,
        recordings: Sequence[Recording[UUID]],
        aggregates: Sequence[DisclosureItem] = (),
    ) -> list[Change]:
        """One change per item written (its last event), in the order written."""
        saved = {a.id: a for a in aggregates}
        last: dict[UUID, Recording[UUID]] = {}
        for recording in recordings:
            if isinstance(
                recording.domain_event,
                DisclosureItem.GuardOverridden | DisclosureItem.NoticeExcepted,
            ):
                continue  # recorded with the version it covers: that is the change
            last[recording.domain_event.originator_id] = recording
        changes = []
        for id_, recording in last.items():
            event = cast(DisclosureItem.Event, recording.domain_event)
            item = saved.get(id_)
            if item is None:
                item = cast(DisclosureItem, self.repository.get(id_))
            pending = item.pending
            changes.append(
                Change(
                    item_id=id_,
                    ref=item.ref,
                    version=event.originator_version,
                    event=type(event).__name__,
                    position=recording.notification.id,
                    timestamp=event.timestamp,
                    released=item.public_version == event.originator_version,
                    awaiting=pending.next_level if pending else None,
                    release_at=item.schedule.release_at if item.schedule else None,
                )
            )
        return changes


def _check_hash(value: str) -> str:
    """A sha256 content hash as given by a reviewer (64 hex digits, any case)."""
    cleaned = value.strip().lower() if isinstance(value, str) else ""
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise InputError(
            [Problem("content_hash", "must be the 64 hex digits of a sha256 hash")]
        )
    return cleaned


def today_in_china(clock: Clock) -> date:
    """Today's date in China, by the given clock."""
    return clock().astimezone(CHINA_TZ).date()
