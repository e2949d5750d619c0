"""The adapter contract: how syndicate talks to one kind of outlet. Stable extension API.

An adapter is a class with:

- `kind`: its name, equal to its entry-point name in the `syndicate.adapters` group;
- `Settings`: a pydantic model that validates one `[outlets.NAME]` table of syndicate.toml
  (secrets as `SecretStr`, written in the file as `${ENV_VAR}`);
- `capabilities`: what the outlet can do, which drives planning (adapters never decide
  policy: a revision on an outlet that cannot edit becomes a correction message because the
  planner says so, not the adapter);
- `render(job) -> Rendition`: pure and deterministic — the same job gives the same bytes,
  years later, which is what lets an auditor re-render and compare hashes;
- `deliver(rendition, session) -> Receipt`: the only I/O, through the injected
  `requests.Session` (never a module-level `requests.post`, never hidden retries). It
  raises `TransientDeliveryError`, `PermanentDeliveryError` or `UnknownOutcomeError`
  (from `syndicate.errors`) and nothing else;
- optionally `label`: the outlet kind's name as people read it (`"微信公众号"`), shown in
  audit reports; `adapter_label` reads it, and a kind without one is shown as itself.

`syndicate.adapterkit.BaseAdapter` gives a class all of that but `kind`, `capabilities`,
`render` and `deliver` (see there).

Optional capabilities are the protocols below; an adapter that has one says so by
inheriting it (then mypy checks its signature), and the core asks with `isinstance`:

- `ReadsBack`: `read_back(job, session) -> bytes | None`, what the outlet shows now;
- `Confirms`: `confirm(receipt, session) -> Receipt | None`, for outlets whose
  capabilities say `confirms_async`;
- `DeliversMany`: `deliver_many(renditions, session)`, a batch at once (one durable
  commit for a folder's many files), for outlets that deduplicate;
- `TakesInventory`: `inventory(session) -> set[UUID]`, the items the outlet shows;
- `Witnesses`: `witness(checkpoints, public_key)`, publish the audit checkpoints;
- `ExpectsFiles`: `expected_files(scratch, renditions, checkpoints, public_key)`, what
  the folder of an outlet that writes files should hold;
- `ChecksContent`: the class method `check_content(content) -> str | None`, why an item
  cannot go to the outlet at all;
- `Digests`: `render_digest(jobs) -> list[Rendition]`, several deliveries in one
  message (outlets with `digest_minutes`);
- `Reminds`: `reminder_schedule()` and `remind(reminder, session)`, for outlets a
  person puts renditions up on.

Their docstrings state each contract.

```python
class MyAdapter:
    kind = "my_outlet"
    Settings = MySettings
    capabilities = Capabilities(edits_in_place=False, retracts=False, deduplicates=False)

    def __init__(self, settings: MySettings) -> None: ...
    def render(self, job: DeliveryJob) -> Rendition: ...
    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt: ...
```

What an adapter sees of an item is re-exported here (`ItemContent`, `Stage`,
`ChannelCategory`, `VersionRecord`, the pilot areas' `area_by_code`), so adapters import this module, `syndicate.adapterkit`
and `syndicate.errors`, never syndicate's internals.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable
from uuid import UUID

import requests
from pydantic import BaseModel, ConfigDict, Field

from syndicate.domain.base import china_time, format_time
from syndicate.domain.catalogue import ChannelCategory, PilotArea, Stage, area_by_code
from syndicate.domain.content import ItemContent, canonical_json
from syndicate.domain.items import VersionRecord
from syndicate.errors import DeliveryError

__all__ = [
    "Capabilities",
    "ChannelAdapter",
    "ChannelCategory",
    "ChecksContent",
    "Confirms",
    "DeliversMany",
    "DeliveryJob",
    "Digests",
    "ExpectsFiles",
    "ItemContent",
    "ItemView",
    "Operation",
    "OutletFolder",
    "PilotArea",
    "ReadsBack",
    "Receipt",
    "Reminder",
    "ReminderEntry",
    "ReminderSchedule",
    "Reminds",
    "Rendition",
    "ReviewNotice",
    "Stage",
    "TakesInventory",
    "VersionRecord",
    "WitnessedCheckpoint",
    "Witnesses",
    "adapter_label",
    "area_by_code",
    "canonical_document",
    "item_document",
]


class Capabilities(BaseModel):
    """What an outlet can do. The planner's rules are driven by these, and only these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edits_in_place: bool = Field(
        description="A new version replaces the old one where readers see it."
    )
    retracts: bool = Field(description="A withdrawn item can be taken down.")
    whole_set: bool = Field(
        default=False,
        description="Each rendition is the whole set of live items (a feed, a bundle), "
        "not one item.",
    )
    deduplicates: bool = Field(
        default=False,
        description="The outlet recognises a resent rendition by its key, so a delivery "
        "whose outcome is unknown may be sent again safely.",
    )
    confirms_async: bool = Field(
        default=False, description="Success is known only later, through `confirm`."
    )
    max_bytes: int | None = Field(
        default=None, description="Largest rendition the outlet accepts, in bytes."
    )
    reads_back: bool = Field(
        default=False, description="`read_back` returns what the outlet shows now."
    )
    max_per_minute: int | None = Field(
        default=None,
        description="The platform's own limit of sends a minute; an outlet's "
        "`rate_per_minute` defaults to it and may not exceed it.",
    )
    keeps_withdrawn: bool = Field(
        default=False,
        description="A withdrawn item stays on the outlet as a withdrawal notice, so an "
        "outlet attached later is backfilled with withdrawn items too.",
    )
    needs_attestation: bool = Field(
        default=False,
        description="A person puts each rendition up (a printed sheet on a notice "
        "board): a delivery awaits `syndicate attest` after the rendition is produced.",
    )
    needs_history: bool = Field(
        default=False,
        description="Whole-set outlets only: the job also carries every earlier "
        "released version of each item in the set (`DeliveryJob.past_versions`), for "
        "an outlet that shows an item as it stood at an earlier time (a 政府公报 issue "
        "compiled when its period closed).",
    )
    review_notices: bool = Field(
        default=False,
        description="The adapter renders review notices (待审核 / 已退回 / 已发布), so "
        "an internal outlet of its kind may set `review_queue = true`.",
    )
    concurrent_sends: bool = Field(
        default=False,
        description="Several deliveries to one outlet may be rendered and sent at "
        "once, from several threads, each with its own HTTP session: the adapter keeps "
        "no state between sends that two at once could spoil. An outlet of its kind "
        "may then set `concurrency` above 1.",
    )


class Operation(StrEnum):
    """What a delivery asks the outlet to do; chosen by the planner."""

    PUBLISH = "publish"
    UPDATE = "update"
    CORRECTION = "correction"
    RETRACT = "retract"
    WITHDRAWAL_NOTICE = "withdrawal_notice"
    # To a `review_queue` outlet only: a version was submitted, returned or released.
    REVIEW_NOTICE = "review_notice"


@dataclass(frozen=True)
class ReviewNotice:
    """What a review notice tells an office's review queue (`review_queue` outlets).

    `stage`: "submitted" (待审核 at `level`), "approved" (one level approved, 待审核 at
    the next, `level`), "returned" (已退回 at `level`, `comment` says why), "released"
    (已发布) or "urgent" (紧急发布, `comment` is the reason). `title` and
    `content_hash` are the version under review's, which is not public yet: a review
    queue is an internal outlet.
    """

    stage: str
    kind: str  # "publish", "revise" or "withdraw"
    item_id: UUID
    ref: str
    title: str
    version: int
    content_hash: str
    actor: str
    at: datetime
    level: str | None = None
    comment: str = ""

    @property
    def label(self) -> str:
        """The stage as the office reads it."""
        return {
            "submitted": "待审核",
            "approved": "待审核",
            "returned": "已退回",
            "released": "已发布",
            "urgent": "紧急发布",
        }.get(self.stage, self.stage)

    @property
    def kind_label(self) -> str:
        """What the version does, in Chinese."""
        return {"publish": "新发布", "revise": "更正", "withdraw": "撤回"}.get(
            self.kind, self.kind
        )

    def text(self) -> str:
        """The notice as plain text (group robots send this)."""
        lines = [f"【{self.label}】{self.title}", f"事项：{self.ref}"]
        lines.append(f"类型：{self.kind_label}")
        if self.level:
            lines.append(f"审核环节：{self.level}")
        who = {
            "submitted": "提交人",
            "approved": "上一环节审核人",
            "returned": "退回人",
            "released": "审签人",
            "urgent": "紧急发布人",
        }.get(self.stage, "操作人")
        lines.append(f"{who}：{self.actor}")
        lines.append(f"时间：{format_time(self.at)}")
        if self.comment:
            reason = "紧急发布理由" if self.stage == "urgent" else "意见"
            lines.append(f"{reason}：{self.comment}")
        lines.append(f"内容哈希：{self.content_hash[:16]}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, str | int | None]:
        """The notice as a JSON object (webhooks send this)."""
        return {
            "type": f"review.{self.stage}",
            "stage": self.stage,
            "label": self.label,
            "kind": self.kind,
            "item_id": str(self.item_id),
            "ref": self.ref,
            "title": self.title,
            "version": self.version,
            "content_hash": self.content_hash,
            "actor": self.actor,
            "at": china_time(self.at),
            "level": self.level,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class ItemView:
    """An item as of one version: everything an adapter may show."""

    item_id: UUID
    version: int
    content: ItemContent
    content_hash: str
    withdrawn: bool
    published_at: datetime
    updated_at: datetime
    reason: str | None = None
    public_note: str | None = None
    # Every version up to this one, oldest first (the 更正说明 list of a portal page).
    history: tuple[VersionRecord, ...] = ()
    # Set once the item's sealed attachments were erased (个人信息删除): the statement
    # outlets show in their place. `content` then no longer lists them, and its body
    # ends with the statement.
    erased: str | None = None
    # Time (docs/lifecycle.md). `notice_ended`: the 公示期 is over, and what the home
    # does then ("hide_details": `content` no longer lists the attachments, "keep",
    # "remove"); `content.body` then ends with a 【公示期已结束】 line. `repealed` /
    # `expired`: the statement of a document no longer in force (废止 / 已失效; the body
    # ends with it too, and `content.validity` says so), with the item that replaces
    # it (`replaced_by`, `replaced_by_ref`). `policy_repealed`: a 解读 whose policy was
    # repealed. `release_at`: the schedule a released version kept (定时发布).
    notice_ended: str | None = None
    repealed: str | None = None
    expired: str | None = None
    replaced_by: UUID | None = None
    replaced_by_ref: str | None = None
    policy_repealed: bool = False

    @property
    def in_force(self) -> bool:
        """Neither repealed nor expired."""
        return self.repealed is None and self.expired is None

    @property
    def ref(self) -> str:
        """`AGENCY/INDEX_NO`."""
        return self.content.ref


@dataclass(frozen=True)
class DeliveryJob:
    """Everything `render` may use. Pinned by the delivery, so it can be rebuilt later."""

    delivery_id: UUID
    outlet: str
    channel: ChannelCategory | None
    operation: Operation
    item: ItemView
    # For whole-set outlets: every item live on this outlet as of the delivery's position,
    # and those withdrawn from it by then (for tombstones and withdrawal notices).
    live_items: Sequence[ItemView] = field(default_factory=tuple)
    withdrawn_items: Sequence[ItemView] = field(default_factory=tuple)
    # The outlet's public base URL of the portal, when configured (for links back).
    portal_url: str | None = None
    # The project's content-addressed attachment store (`<root>/<sha[:2]>/<sha>`), for
    # outlets that publish attachment files; None when the worker has none.
    attachments: Path | None = None
    # Receipts of the earlier versions of the item that succeeded on this outlet, oldest
    # first (e.g. the article ids a correction or a withdrawal refers to).
    previous: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    # For `Operation.REVIEW_NOTICE` (review-queue outlets) only: what happened.
    review: ReviewNotice | None = None
    # For whole-set outlets whose capabilities say `needs_history`: the earlier released
    # versions of every item in `live_items` and `withdrawn_items` (each an `ItemView`
    # as of that version: its `updated_at` is when that version became public), oldest
    # first per item. Empty for every other outlet.
    past_versions: Sequence[ItemView] = field(default_factory=tuple)


class Rendition(BaseModel):
    """The exact bytes an adapter produced for an outlet, and their sha256."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: bytes
    media_type: str
    sha256: str
    key: str = Field(
        description="Idempotency key: the delivery id, kept across retries."
    )
    meta: Mapping[str, str] = Field(
        default_factory=dict,
        description="Deterministic instructions for `deliver`, e.g. a file path.",
    )

    @classmethod
    def of(
        cls,
        data: bytes,
        media_type: str,
        *,
        key: str,
        meta: Mapping[str, str] | None = None,
    ) -> Rendition:
        """A rendition with its digest computed."""
        return cls(
            data=data,
            media_type=media_type,
            sha256=hashlib.sha256(data).hexdigest(),
            key=key,
            meta=dict(meta or {}),
        )


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A signed checkpoint of the audit log, as outlets publish it (`witness`).

    `note` is the whole signed note (C2SP signed-note: the checkpoint body — origin, tree
    size, base64 root — a blank line, then signature lines); an auditor verifies it with
    the verifier key the outlet publishes next to it.
    """

    number: int
    size: int
    root_hex: str
    at: datetime
    note: str


@dataclass(frozen=True)
class OutletFolder:
    """What an outlet's folder should hold, as `expected_files` describes it.

    `root`: the live folder the outlet owns (every file in it is compared; a file there
    that the scratch copy lacks is "extra"). `linked`: files not written into the
    scratch folder because their bytes are already kept elsewhere, by relative path
    (the portal's attachments, `files/<sha256>/<name>`, whose bytes are the attachment
    store's `<sha256[:2]>/<sha256>`): compared with that file, never copied. `owners`:
    the items a file belongs to (an item page, its attachments), so a drifted file
    makes its items' rows drifted too. `skip`: folders under `root`, relative, that are
    not the outlet's own files (never compared, never repaired).
    """

    root: Path
    linked: Mapping[str, Path] = field(default_factory=dict)
    owners: Mapping[str, tuple[UUID, ...]] = field(default_factory=dict)
    skip: tuple[str, ...] = ()


class Receipt(BaseModel):
    """What the outlet said when it took a rendition (no secrets: it is stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    remote_id: str | None = None
    detail: Mapping[str, str] = Field(default_factory=dict)


@runtime_checkable
class ChannelAdapter(Protocol):
    """The protocol every adapter class satisfies.

    An adapter may also declare `label: ClassVar[str]`, the kind's display name
    (`adapter_label`); it is optional, so it is not a member here.
    """

    kind: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]
    capabilities: ClassVar[Capabilities]

    def render(self, job: DeliveryJob) -> Rendition:
        """Pure and deterministic: the same job always gives the same bytes."""
        ...

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        """Hand the rendition to the outlet; the only I/O an adapter does."""
        ...


def adapter_label(adapter_class: type) -> str | None:
    """The display name an adapter class declares (`label`), or None without one."""
    label = getattr(adapter_class, "label", None)
    return label if isinstance(label, str) and label else None


# -- optional capabilities -----------------------------------------------------------
# Each is a protocol an adapter inherits to say it has the capability (mypy then checks
# the method's signature); the core asks `isinstance(adapter, ReadsBack)`. The methods
# are abstract: inheriting one without implementing it fails at instantiation.


@runtime_checkable
class ReadsBack(Protocol):
    """An outlet whose current content can be read (declare `reads_back=True` too)."""

    @abstractmethod
    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """What the outlet shows now for `job`, in the form `render` gives (so the
        bytes compare with a fresh rendition), or None when it shows nothing."""


@runtime_checkable
class Confirms(Protocol):
    """An outlet that takes a rendition now and says later whether it went up
    (declare `confirms_async=True` too)."""

    @abstractmethod
    def confirm(self, receipt: Receipt, session: requests.Session) -> Receipt | None:
        """The final receipt of a submitted delivery, None while it is still pending.

        The worker records `Submitted` after `deliver` and calls this with that receipt
        when a check is due; a receipt from `deliver` whose `detail["confirmed"]` is
        "yes" needs no check. Raises the delivery errors `deliver` may raise."""


@runtime_checkable
class DeliversMany(Protocol):
    """An outlet that takes several renditions at once more cheaply than one by one: a
    folder the outlet writes (one durable commit for many files, and pages that show
    many items written once). Only for outlets that deduplicate (`deduplicates=True`):
    a batch interrupted before its outcomes are recorded is sent again whole."""

    @abstractmethod
    def deliver_many(
        self, renditions: Sequence[Rendition], session: requests.Session
    ) -> list[Receipt | DeliveryError]:
        """Hand every rendition to the outlet; one entry per rendition, in order: its
        receipt, or the delivery error that stopped that one alone (the others still
        delivered). Everything delivered is durable when it returns. Raising instead
        fails the whole batch with that error, as `deliver` would fail one."""


@runtime_checkable
class TakesInventory(Protocol):
    """An outlet the public reads that can list what it shows."""

    @abstractmethod
    def inventory(self, session: requests.Session) -> set[UUID]:
        """The ids of every item the outlet shows anything for, withdrawal notices
        included: `syndicate audit consistency` reports an item the log never sent
        there as "extra"."""


@runtime_checkable
class Witnesses(Protocol):
    """An outlet the public reads that publishes the audit log's signed checkpoints."""

    @abstractmethod
    def witness(
        self, checkpoints: Sequence[WitnessedCheckpoint], public_key: str
    ) -> None:
        """Publish the checkpoints (newest last) and the verifier keys.

        Called with the whole list each time: it must be idempotent. `public_key` is
        one verifier key per line, the key in force first and the keys it replaced
        after it; each checkpoint verifies under the key in force for it
        (`syndicate.adapterkit.checked_checkpoints` checks them so). Raises ValueError,
        before publishing anything, for a checkpoint an auditor would reject."""


@runtime_checkable
class ExpectsFiles(Protocol):
    """An outlet that writes files and can say what its folder should hold."""

    @abstractmethod
    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """Write into the empty folder `scratch` exactly what the outlet's folder
        would hold after `deliver` of `renditions` (the log's delivered ones, in log
        order) and, when `public_key` is not None, `witness(checkpoints, public_key)`,
        doing no network I/O; return the `OutletFolder` naming the live folder and the
        files whose bytes live elsewhere. `syndicate audit consistency` and
        `syndicate repair` compare the live folder with it byte for byte."""


@runtime_checkable
class Digests(Protocol):
    """An outlet that can carry several deliveries in one message (a digest): an
    outlet with `digest_minutes` set gathers what became due within that many minutes
    (`sync` sends what is due at once) and the worker renders them together."""

    @abstractmethod
    def render_digest(self, jobs: Sequence[DeliveryJob]) -> list[Rendition]:
        """The messages that carry `jobs` (in log order, at least two), in the order
        they are sent; pure and deterministic like `render`. Each rendition's
        `meta["covers"]` lists the delivery ids it carries (comma-separated, in the
        jobs' order); every job is covered by exactly one rendition, and no rendition
        is larger than the outlet's `max_bytes`. Raises `PermanentDeliveryError` when
        the jobs cannot go together (the worker then sends them one by one)."""


@dataclass(frozen=True)
class ReminderEntry:
    """One rendition a person still has to put up: which delivery, what item, since
    when."""

    delivery_id: UUID
    ref: str
    title: str
    operation: Operation
    since: datetime


@dataclass(frozen=True)
class Reminder:
    """A reminder to the person who puts an outlet's renditions up (a 网格员 who
    forwards to a village group): what has waited, and how many reminders this is for
    the oldest of them (`number`, 1 for the first)."""

    outlet: str
    number: int
    at: datetime
    entries: tuple[ReminderEntry, ...]

    @property
    def since(self) -> datetime:
        """When the oldest entry became ready."""
        return min(entry.since for entry in self.entries)


@dataclass(frozen=True)
class ReminderSchedule:
    """When an outlet reminds: `after` a rendition waited that long, then every
    `every`, at most `limit` times per rendition."""

    after: timedelta
    every: timedelta
    limit: int


@runtime_checkable
class Reminds(Protocol):
    """An outlet a person puts renditions up on (`needs_attestation`) that can remind
    that person when one waits too long."""

    @abstractmethod
    def reminder_schedule(self) -> ReminderSchedule | None:
        """When to remind (from the outlet's settings), or None never to."""

    @abstractmethod
    def remind(self, reminder: Reminder, session: requests.Session) -> Receipt:
        """Send `reminder`; raises the delivery errors `deliver` may raise."""


@runtime_checkable
class ChecksContent(Protocol):
    """An outlet that cannot take some items at all (a length limit). The adapter
    class satisfies it, with a class method: the planner asks before any attempt."""

    @abstractmethod
    def check_content(self, content: ItemContent) -> str | None:
        """Why an item with this content cannot go to the outlet, or None. The planner
        records such a delivery as failed at once, with this reason."""


def item_document(job: DeliveryJob) -> dict[str, Any]:
    """The item as a JSON-ready document: what machine outlets (files, webhooks) carry."""
    item = job.item
    return {
        "item_id": str(item.item_id),
        "ref": item.ref,
        "version": item.version,
        "operation": job.operation.value,
        "status": "withdrawn" if item.withdrawn else "published",
        "content": item.content.model_dump(mode="json"),
        "content_hash": item.content_hash,
        "published_at": item.published_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "reason": item.reason,
        "public_note": item.public_note,
    }


def canonical_document(job: DeliveryJob) -> bytes:
    """`item_document` as canonical JSON bytes (sorted keys, UTF-8)."""
    return canonical_json(item_document(job))
