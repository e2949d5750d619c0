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

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import EnvType

from syndicate.attachments import AttachmentStore, PreparedAttachment
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.content import (
    ItemContent,
    admission_problems,
    content_hash,
    item_id,
    parse_item_ref,
    valid_content,
)
from syndicate.domain.items import (
    DisclosureItem,
    ItemStatus,
    check_actor,
    check_line,
    check_note,
)
from syndicate.errors import (
    AlreadyPublished,
    ConflictError,
    DomainError,
    InputError,
    InterpretedItemMissing,
    ItemNotFound,
    Problem,
    SyndicateError,
)
from syndicate.persistence import (
    ConfiguredEnvironment,
    StoreSettings,
    store_errors,
)
from syndicate.views import ItemSummary, LoggedEvent, fold_summaries, logged_events

__all__ = ["CHINA_TZ", "Change", "Clock", "Disclosures", "system_clock"]

Clock = Callable[[], datetime]
_PAGE = 500
# Stores keep versions as signed 64-bit integers; a larger one cannot even be asked for.
_MAX_VERSION = 2**63 - 1


def system_clock() -> datetime:
    """The wall clock, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Change:
    """What a write did: which item, which version, where in the log, when."""

    item_id: UUID
    ref: str
    version: int
    event: str
    position: int
    timestamp: datetime


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
    ) -> None:
        self.clock = clock
        self.attachments = attachments
        self.store = store
        with self._guard():
            super().__init__(env)

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
    ) -> Change:
        """Publish a new item (version 1). Raises `AlreadyPublished` if it exists."""
        return self.publish_many([(content, attachments)], actor=actor)[0]

    def publish_many(
        self,
        items: Sequence[ItemContent | tuple[ItemContent, Sequence[PreparedAttachment]]],
        *,
        actor: str,
    ) -> list[Change]:
        """Publish several new items in one transaction: all of them or none.

        Interpretations may name a policy published in the same call.
        """
        actor = check_actor(actor)
        pairs = [
            (valid_content(i[0]), i[1])
            if isinstance(i, tuple)
            else (valid_content(i), ())
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
            for content, _ in pairs:
                try:
                    self._admit(content, today)
                    self._check_interprets(content, batch=ids)
                except (InputError, DomainError):
                    # Already published says more (and a re-run of an identical
                    # item is no error at all), whatever the rules say today.
                    self._refuse_if_published(content)
                    raise
            for content, prepared in pairs:
                self._store_attachments(content, prepared)
            aggregates = [
                DisclosureItem.publish(
                    content, actor=actor, at=self._now(), known_id=known
                )
                for (content, _), known in zip(pairs, id_list, strict=True)
            ]
            try:
                recordings = self.save(*aggregates)
            except IntegrityError:
                for content, _ in pairs:
                    self._refuse_if_published(content)
                raise  # not a duplicate after all: let the store error speak
        return self._changes(recordings)

    def check_publish(
        self, contents: Sequence[ItemContent], *, actor: str
    ) -> list[tuple[ItemContent, SyndicateError | None]]:
        """What `publish_many` would say about each item, writing nothing (dry runs)."""
        check_actor(actor)
        contents = [valid_content(c) for c in contents]
        batch = {c.id for c in contents}
        today = today_in_china(self._now)
        verdicts: list[tuple[ItemContent, SyndicateError | None]] = []
        with self._guard():
            for content in contents:
                try:
                    self._refuse_if_published(content)
                    self._admit(content, today)
                    self._check_interprets(content, batch=batch)
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
    ) -> Change:
        """Replace an item's content with a new version; `reason` is the 更正说明."""
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        content = valid_content(content)
        with self._guard():
            item = self._load(ref, expected_version)
            self._admit(content, today_in_china(self._now))
            self._check_interprets(content, batch=set())
            self._store_attachments(content, ())
            item.revise(content, reason=reason, actor=actor, at=self._now())
            return self._save(item, "revision")

    def withdraw(
        self,
        ref: str | UUID,
        *,
        reason: str,
        public_note: str = "",
        actor: str,
        expected_version: int | None = None,
    ) -> Change:
        """Withdraw an item everywhere; `public_note` replaces it on outlets."""
        reason = check_line("reason", reason, 500)
        actor = check_actor(actor)
        public_note = check_note(public_note)
        with self._guard():
            item = self._load(ref, expected_version)
            item.withdraw(
                reason=reason, public_note=public_note, actor=actor, at=self._now()
            )
            return self._save(item, "withdrawal")

    # -- reading -----------------------------------------------------------------------

    def resolve(self, ref: str | UUID) -> UUID:
        """The id of the item a REF names: an id, `AGENCY/INDEX_NO`, or an id prefix."""
        with self._guard():
            candidate = self._id_of(ref)
            if candidate not in self.repository:
                raise ItemNotFound(f"no item {ref} in the log")
            return candidate

    def _id_of(self, ref: str | UUID) -> UUID:
        """The id a REF stands for; only an id prefix needs the log to tell."""
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
        rows = logged_events(self._events(after=after, only=only), refs)
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
            if isinstance(event, DisclosureItem.Published):
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
        self, *, after: int = 0, only: UUID | None = None, stop: int | None = None
    ) -> Iterator[tuple[int, DisclosureItem.Event]]:
        """Decoded events in log order, read in pages (memory stays bounded)."""
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
                if only is None or notification.originator_id == only:
                    event = self.mapper.to_domain_event(notification)
                    yield notification.id, cast(DisclosureItem.Event, event)
            start = page[-1].id

    def _summaries(self) -> dict[UUID, ItemSummary]:
        return fold_summaries(self._events())

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
        last = item.history[-1]
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
        return self._changes(recordings)[-1]

    def _refuse_if_published(self, content: ItemContent) -> None:
        """Raise `AlreadyPublished` if the item exists, saying how it compares."""
        if content.id not in self.repository:
            return
        existing = cast(DisclosureItem, self.repository.get(content.id))
        at = existing.created_on.astimezone(CHINA_TZ).isoformat(timespec="seconds")
        first = existing.history[0]
        offered = content_hash(content)
        if existing.status is ItemStatus.WITHDRAWN:
            raise AlreadyPublished(
                f"already published: {content.ref} (item {content.id}) was published "
                f"at {at} by {first.actor}; it has been withdrawn, and an index number "
                "is never reused"
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

    def _changes(self, recordings: Sequence[Recording[UUID]]) -> list[Change]:
        changes = []
        for recording in recordings:
            event = cast(DisclosureItem.Event, recording.domain_event)
            ref = (
                event.content.ref
                if isinstance(event, DisclosureItem.Published | DisclosureItem.Revised)
                else self._ref_of(event.originator_id)
            )
            changes.append(
                Change(
                    item_id=event.originator_id,
                    ref=ref,
                    version=event.originator_version,
                    event=type(event).__name__,
                    position=recording.notification.id,
                    timestamp=event.timestamp,
                )
            )
        return changes


def today_in_china(clock: Clock) -> date:
    """Today's date in China, by the given clock."""
    return clock().astimezone(CHINA_TZ).date()
