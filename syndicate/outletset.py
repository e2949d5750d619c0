"""The outlet set: each configured outlet's adapter and HTTP session, ready to use.

An `OutletSet` holds, for every outlet it was given, one adapter instance and one
guarded `requests.Session`, and does with them everything that sends nothing: build the
job a delivery renders (`job`), render a delivery again (`render_again`), read back
what an outlet shows (`read_outlet`, `check_outlet`) and list what it holds
(`inventory`). The delivery worker (`syndicate.delivery.Worker`) sends through one;
audit (consistency, repair, replay) and `status --check` read through one and never
build a worker.

Sessions: no retries mounted (every attempt is an event), guarded by
`syndicate.netguard` (internal addresses refused unless the outlet sets
`allow_private_network = true`; no redirects to other hosts), and, unless the session
factory opted out of the environment (`trust_env = False`), every request goes through
the proxy the environment names for its URL (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
NO_PROXY) and verifies TLS against its CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE),
whatever the outlet's settings are called. The environment is read once per outlet set
(proxies: once per scheme, host and port), not on every request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from uuid import UUID

import requests
from pydantic import BaseModel

from syndicate.adapter import (
    ChannelAdapter,
    DeliveryJob,
    Digests,
    ItemView,
    Operation,
    ReadsBack,
    Rendition,
    TakesInventory,
)
from syndicate.application import Clock, Disclosures, system_clock
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.catalogue import Validity
from syndicate.domain.content import ItemContent
from syndicate.domain.deliveries import Delivery, delivery_id
from syndicate.domain.items import DisclosureItem, Erasure, ItemStatus, repeal_statement
from syndicate.netguard import GuardedAdapter, OutboundEnvironment, guard_session
from syndicate.outlets import Outlet
from syndicate.planning import Deliveries, DeliveryView, review_notice

__all__ = ["ItemCache", "OutletSet", "item_view", "timed_content"]

# Items loaded at a version, by (item id, version): one batch of jobs shares them.
ItemCache = dict[tuple[UUID, int], DisclosureItem]


def item_view(item: DisclosureItem) -> ItemView:
    """What adapters see of an item at the version it was loaded at: what was released
    by then (never a version under review; its dates are those of its releases)."""
    if not item.history:
        raise ValueError(f"{item.ref} was never released: no outlet may show it")
    first, last = item.history[0], item.history[-1]
    changes = [r for r in item.history if r.event not in _MARKS]
    content, erased = item.content, None
    if item.erasure is not None:
        content, erased = erased_content(item.content, item.erasure)
    content, marks = timed_content(item, content)
    return ItemView(
        item_id=item.id,
        version=item.public_version,
        content=content,
        content_hash=item.content_hash,
        withdrawn=item.status is ItemStatus.WITHDRAWN,
        published_at=first.at,
        updated_at=last.at,
        reason=changes[-1].reason if changes else None,
        public_note=item.withdrawal.public_note if item.withdrawal else None,
        history=tuple(item.history),
        erased=erased,
        **marks,
    )


# History entries that mark a version rather than change its text.
_MARKS = frozenset({"Erased", "NoticeEnded", "Repealed", "Expired"})


def timed_content(
    item: DisclosureItem, content: ItemContent
) -> tuple[ItemContent, dict[str, Any]]:
    """What outlets show of an item once time changed it (docs/lifecycle.md): after
    its 公示期 (a closing line; with "hide_details" without its attachments), once
    repealed or expired (a line saying so, and `validity`). Returns the content and the
    `ItemView` fields that say why. Not re-validated, as `erased_content`."""
    marks: dict[str, Any] = {}
    update: dict[str, Any] = {}
    lines: list[str] = []
    period = content.notice_period
    if item.notice_over and item.notice_end is not None and period is not None:
        marks["notice_ended"] = item.notice_end.after_end
        lines.append(
            f"【公示期已结束】本公示公示期为{_day(period.start)}至{_day(period.end)}，"
            "现已结束。"
            + (
                "公示名单及附件不再展示。"
                if item.notice_end.after_end == "hide_details"
                else ""
            )
        )
        if item.notice_end.after_end == "hide_details":
            update["attachments"] = ()
    if item.repeal is not None:
        statement = repeal_statement(item.repeal)
        if item.repeal.policy is not None:
            marks["policy_repealed"] = True
        marks["repealed"] = statement
        marks["replaced_by"] = item.repeal.replaced_by
        marks["replaced_by_ref"] = item.repeal.replaced_by_ref
        update["validity"] = Validity.REPEALED
        lines.append(f"【已废止】{statement}")
    elif item.expired and item.expiry is not None:
        statement = f"本文件有效期至{_day(item.expiry.valid_until)}，已失效。"
        marks["expired"] = statement
        update["validity"] = Validity.EXPIRED
        lines.append(f"【已失效】{statement}")
    if not lines:
        return content, marks
    update["body"] = content.body + "".join(f"\n\n> {line}" for line in lines)
    return BaseModel.model_copy(content, update=update), marks


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def erased_content(content: ItemContent, erasure: Erasure) -> tuple[ItemContent, str]:
    """What outlets show of an item whose sealed attachments were erased: the content
    without them, the statement put in their place appended to the body (so every
    outlet shows it), and that statement."""
    gone = [a.name for a in content.attachments if a.sealed]
    when = erasure.timestamp.astimezone(CHINA_TZ)
    names = "、".join(f"《{n}》" for n in gone) or "所附名单"
    statement = erasure.public_note or (
        f"本信息所附个人信息（{names}）已于{when.year}年{when.month}月{when.day}日"
        "按规定删除。"
    )
    # Not re-validated: a body at its length limit still shows, with the statement.
    shown = BaseModel.model_copy(
        content,
        update={
            "attachments": tuple(a for a in content.attachments if not a.sealed),
            "body": f"{content.body}\n\n> 【个人信息已按规定删除】"
            + " ".join(statement.split()),
        },
    )
    return shown, statement


def _draft_view(item: DisclosureItem) -> ItemView:
    """The item as a review queue sees it: its released state, or its draft."""
    if item.history:
        return item_view(item)
    return ItemView(
        item_id=item.id,
        version=item.version,
        content=item.content,
        content_hash=item.content_hash,
        withdrawn=False,
        published_at=item.created_on,
        updated_at=item.modified_on,
    )


def _outlet_session(
    outlet: Outlet,
    factory: Callable[[], requests.Session],
    environment: OutboundEnvironment,
) -> requests.Session:
    """A new session for `outlet`, from `factory`, guarded (`syndicate.netguard`).

    Unless the new session ignores the environment already (`trust_env = False`), it
    stops reading it itself (requests would on every request) and its transport takes
    proxies and the CA bundle from `environment` instead, per request URL: so every
    request of every outlet honours HTTP(S)_PROXY and NO_PROXY, whichever settings
    field names its endpoint.
    """
    session = factory()
    if not session.trust_env:
        return guard_session(session, allow_private=outlet.allow_private_network)
    session.trust_env = False
    return guard_session(
        session,
        allow_private=outlet.allow_private_network,
        environment=environment,
    )


class OutletSet:
    """The outlets a worker sends to or an auditor reads, each with its adapter and
    session; close it when done (or use `with`).

    `deliveries`: the deliveries log whose earlier receipts a job carries (`previous`:
    a correction on a message outlet names the message it corrects), read through a
    `DeliveryView` (`view`) that the worker using the set shares. `items`: the items log
    jobs are built from. `attachments`: the attachment store's folder, given to every
    job. `clock`: given to adapters that keep one (`adapter.clock`), for what they
    stamp at delivery time; rendering never reads it.
    """

    def __init__(
        self,
        outlets: Mapping[str, Outlet],
        *,
        items: Disclosures,
        deliveries: Deliveries,
        clock: Clock = system_clock,
        session_factory: Callable[[], requests.Session] = requests.Session,
        attachments: Path | None = None,
    ) -> None:
        self.outlets = dict(outlets)
        self.items = items
        self.deliveries = deliveries
        self.view = DeliveryView(deliveries)
        self.clock = clock
        self.attachments = attachments
        environment = OutboundEnvironment()
        self._sessions = {
            name: _outlet_session(outlet, session_factory, environment)
            for name, outlet in self.outlets.items()
        }
        # Sessions lent to the threads of an outlet that sends several at once,
        # kept for the next batch; made as the outlet's own session is.
        self._spare: dict[str, list[requests.Session]] = {}
        self._lent: list[requests.Session] = []
        self._spare_lock = threading.Lock()
        self._session_factory = session_factory
        self._environment = environment
        self._adapters = {name: o.adapter() for name, o in self.outlets.items()}
        for adapter in self._adapters.values():
            if hasattr(adapter, "clock"):
                adapter.clock = clock

    # -- what it holds -------------------------------------------------------------------

    def adapter(self, outlet: str) -> ChannelAdapter:
        """The adapter instance of `outlet` (KeyError: not in the set)."""
        return self._adapters[outlet]

    def session(self, outlet: str) -> requests.Session:
        """The HTTP session of `outlet` (KeyError: not in the set)."""
        return self._sessions[outlet]

    @contextmanager
    def borrowed_session(self, outlet: str) -> Iterator[requests.Session]:
        """An HTTP session of `outlet` for one thread of a batch sent at once (the
        outlet's `concurrency`): guarded as its own session is, returned to a spare
        list when done, closed with the set."""
        with self._spare_lock:
            spare = self._spare.setdefault(outlet, [])
            session = spare.pop() if spare else None
        if session is None:
            session = _outlet_session(
                self.outlets[outlet], self._session_factory, self._environment
            )
            with self._spare_lock:
                self._lent.append(session)
        try:
            yield session
        finally:
            with self._spare_lock:
                self._spare[outlet].append(session)

    def proxies(self, outlet: str, url: str) -> dict[str, str]:
        """The proxies a request of `outlet` to `url` goes through, as its session's
        transport resolves them from the environment ({}: straight to `url`, also when
        the session ignores the environment)."""
        transport = self._sessions[outlet].get_adapter(url)
        if isinstance(transport, GuardedAdapter) and transport.environment is not None:
            return dict(transport.environment.proxies(url))
        return {}

    def close(self) -> None:
        """Release the HTTP sessions."""
        for session in self._sessions.values():
            session.close()
        with self._spare_lock:
            for session in self._lent:
                session.close()
            self._lent.clear()
            self._spare.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- jobs and renditions (pure) ------------------------------------------------------

    def job(
        self,
        delivery: Delivery,
        loaded: ItemCache | None = None,
        previous: Sequence[dict[str, str]] | None = None,
    ) -> DeliveryJob:
        """The job `delivery` renders: the item at the delivery's version, for a
        whole-set outlet every item it takes as of the delivery's log position, and
        `previous` (default: the receipts of the item's earlier versions on the same
        outlet, from `view`). `loaded`: items loaded already, filled as items are read
        (a batch of jobs shares it). Raises KeyError for an outlet not in the set, and
        what the items log raises."""
        outlet = self.outlets[delivery.outlet]
        loaded = {} if loaded is None else loaded
        key = (delivery.item_id, delivery.item_version)
        if key not in loaded:
            loaded[key] = cast(
                DisclosureItem,
                self.items.repository.get(
                    delivery.item_id, version=delivery.item_version
                ),
            )
        item = loaded[key]
        operation = Operation(delivery.operation)
        if operation is Operation.REVIEW_NOTICE:
            notice = review_notice(item)
            if notice is None:
                raise ValueError(
                    f"delivery {delivery.id}: item version {item.version} is no review "
                    "event"
                )
            return DeliveryJob(
                delivery_id=delivery.id,
                outlet=outlet.name,
                channel=outlet.channel,
                operation=operation,
                item=_draft_view(item),
                review=notice,
            )
        live: list[ItemView] = []
        withdrawn: list[ItemView] = []
        past: list[ItemView] = []
        if outlet.capabilities.whole_set:
            for other, _ in self.items.items_as_of(delivery.position):
                if not other.released:
                    continue  # never released (a draft, or one abandoned): on no outlet
                if not outlet.accepts(other.content):
                    continue
                view = item_view(other)
                # A 公示 removed once its window ended leaves the set as a withdrawn
                # item does (a feed's tombstone).
                gone = view.withdrawn or view.notice_ended == "remove"
                (withdrawn if gone else live).append(view)
                if outlet.capabilities.needs_history:
                    past.extend(self._past_views(other))
        return DeliveryJob(
            delivery_id=delivery.id,
            outlet=outlet.name,
            channel=outlet.channel,
            operation=operation,
            item=item_view(item),
            live_items=tuple(live),
            withdrawn_items=tuple(withdrawn),
            attachments=self.attachments,
            previous=self._previous(delivery) if previous is None else tuple(previous),
            past_versions=tuple(past),
        )

    def _past_views(self, item: DisclosureItem) -> list[ItemView]:
        """`item` as of each earlier version that changed what outlets show, oldest
        first (`DeliveryJob.past_versions`)."""
        versions = sorted({r.version for r in item.history} - {item.version})
        views = []
        for version in versions:
            earlier = cast(
                DisclosureItem, self.items.repository.get(item.id, version=version)
            )
            if earlier.history:
                views.append(item_view(earlier))
        return views

    def _claimed_at(self, id_: UUID) -> datetime | None:
        """When the delivery's last send was claimed (a check claims nothing new)."""
        claimed = None
        sending = True
        for stored in self.deliveries.events.get(id_):
            event = cast(Delivery.Event, stored)
            if isinstance(event, Delivery.Submitted):
                sending = False
            elif isinstance(event, Delivery.Claimed) and sending:
                claimed = event.timestamp
        return claimed

    def _previous_at(
        self, delivery: Delivery, until: datetime
    ) -> tuple[dict[str, str], ...]:
        """`_previous` as it stood at `until`: the receipts of the item's earlier
        versions that were done on the outlet by then."""
        found: list[dict[str, str]] = []
        for version in range(1, delivery.item_version):
            older: Delivery | None = None
            for stored in self.deliveries.events.get(
                delivery_id(delivery.item_id, version, delivery.outlet)
            ):
                event = cast(Delivery.Event, stored)
                if event.timestamp > until:
                    break
                older = cast(Delivery, event.mutate(older))
            if older is not None and older.state.done and older.receipt:
                found.append(dict(older.receipt))
        return tuple(found)

    def _previous(self, delivery: Delivery) -> tuple[dict[str, str], ...]:
        """Receipts of the item's earlier versions that succeeded on the same outlet.

        Oldest first, each read from its events. An item's versions reach a message
        outlet in order (the worker's `_waits_for_older`), so by the time this one is
        sent the earlier ones are settled.
        """
        if delivery.item_version <= 1:
            return ()
        ids = [
            delivery_id(delivery.item_id, v, delivery.outlet)
            for v in range(1, delivery.item_version)
        ]
        found: list[dict[str, str]] = []
        for older in map(self.view.get, ids):
            if older is not None and older.state.done and older.receipt:
                found.append(dict(older.receipt))
        return tuple(found)

    def render_again(
        self, delivery: Delivery, previous: Sequence[dict[str, str]] | None = None
    ) -> tuple[DeliveryJob, Rendition]:
        """The job and rendition the worker produced for `delivery`, produced again
        (pure). `previous`: the receipts of the item's earlier versions as they stood
        then (a replay gives them); by default they come from `view`."""
        job = self.job(delivery, previous=previous)
        adapter = self._adapters[delivery.outlet]
        together = (delivery.receipt or {}).get("digest_of")
        if together and isinstance(adapter, Digests):
            return job, self._digest_part(delivery, together, job, adapter)
        return job, adapter.render(job)

    def _digest_part(
        self, delivery: Delivery, together: str, job: DeliveryJob, adapter: Digests
    ) -> Rendition:
        """The message of a digest (`digest_of`: the deliveries sent together, in
        order) that carried `delivery`, rendered again."""
        loaded: ItemCache = {}
        jobs = []
        # The digest's deliveries were claimed together: the others' earlier
        # receipts count as they stood then, as the target's do.
        claimed = self._claimed_at(delivery.id)
        for text in together.split(","):
            other = UUID(text)
            if other == delivery.id:
                jobs.append(job)
                continue
            found = self.deliveries.delivery(other)
            previous = None if claimed is None else self._previous_at(found, claimed)
            jobs.append(self.job(found, loaded, previous=previous))
        for rendition in adapter.render_digest(jobs):
            if str(delivery.id) in rendition.meta.get("covers", "").split(","):
                return rendition
        raise ValueError(f"delivery {delivery.id} is in no message of its digest")

    def rendition_of(self, delivery: Delivery) -> bytes:
        """The delivery's rendition, rendered again from the log (pure)."""
        return self.render_again(delivery)[1].data

    # -- reading outlets -----------------------------------------------------------------

    def reads_back(self, outlet: str) -> bool:
        """Whether the outlet is in the set and can show what it holds."""
        config = self.outlets.get(outlet)
        adapter = self._adapters.get(outlet)
        return (
            config is not None
            and config.capabilities.reads_back
            and isinstance(adapter, ReadsBack)
        )

    def read_outlet(self, delivery: Delivery) -> tuple[bytes, bytes | None]:
        """The delivery's rendition (rendered again) and what its outlet shows for the
        same item now (None: nothing). Raises whatever rendering or reading raises."""
        job, rendition = self.render_again(delivery)
        adapter = self._adapters[delivery.outlet]
        if not isinstance(adapter, ReadsBack):
            raise TypeError(f"{delivery.outlet}: the adapter cannot read back")
        shown = adapter.read_back(job, self._sessions[delivery.outlet])
        return rendition.data, shown

    def check_outlet(self, delivery: Delivery) -> str:
        """Compare what the outlet shows now with this delivery's rendition.

        Returns "in sync", "drifted" (the outlet shows other bytes), "missing" (nothing
        there), "not removed" (a removal that the outlet still shows), "read failed: …"
        (reading or re-rendering raised), or "cannot read back" (the adapter has no
        `read_back`, or the outlet is not in the set).
        """
        if not self.reads_back(delivery.outlet):
            return "cannot read back"
        try:
            expected, shown = self.read_outlet(delivery)
        except Exception as exc:  # a broken file, a render error: report, go on
            return f"read failed: {type(exc).__name__}: {exc}"[:200]
        if not expected:  # a removal: the outlet should show nothing
            return "in sync" if shown is None else "not removed"
        if shown is None:
            return "missing"
        return "in sync" if shown == expected else "drifted"

    def inventory(self, outlet: str) -> set[UUID] | None:
        """Ids of every item the outlet shows (adapters with `inventory`), else None."""
        adapter = self._adapters.get(outlet)
        if not isinstance(adapter, TakesInventory):
            return None
        return adapter.inventory(self._sessions[outlet])
