"""Engine operations: attest that a person put a notice-board sheet up.

A notice board (政务公开栏) is an outlet nobody can query: the worker writes the sheet
and the delivery waits, "awaiting_attestation", until someone prints and posts it and an
operator records who did, when, and (as evidence) a photo of the posted sheet:

```python
posting = Attestation.of(by="张敏", posted_at="2026-10-09T09:30", photo=Path("board.jpg"))
done = engine.attest("3f2a9c1e", posting, actor="李华")
```
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from syndicate.attachments import AttachmentStore, PreparedAttachment
from syndicate.domain.base import CHINA_TZ, format_time
from syndicate.domain.deliveries import Delivery, DeliveryState, delivery_id
from syndicate.engine._base import EngineBase, store_errors
from syndicate.engine.deliveries import deliveries_by_prefix
from syndicate.errors import (
    ConflictError,
    DomainError,
    InputError,
    ItemNotFound,
    Problem,
)

__all__ = [
    "ATTESTATIONS_DIR",
    "MAX_PHOTO_BYTES",
    "AttestOps",
    "Attestation",
    "Attested",
    "attesting_actor",
]

# Under the data directory: photos of posted sheets, content-addressed like attachments
# (`attestations/<2 hex>/<sha256>`), and kept apart from them: nothing publishes them.
ATTESTATIONS_DIR = "attestations"

MAX_PHOTO_BYTES = 50 * 1024 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX_PREFIX = re.compile(r"[0-9a-f-]{1,36}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

# What a camera or phone writes; anything else is probably the wrong file.
_PHOTO_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF8", "GIF"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WebP"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
)


def _photo_kind(data: bytes) -> str | None:
    for offset, magic, kind in _PHOTO_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return kind
    return None


def _line(field: str, value: str, limit: int, problems: list[Problem]) -> str:
    """`value` NFC-normalised and stripped; a problem for `field` unless it is a
    non-empty single line of at most `limit` characters."""
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        problems.append(Problem(field, "must not be empty"))
    elif _CONTROL.search(text):
        problems.append(
            Problem(field, "must be a single line without control characters")
        )
    elif len(text) > limit:
        problems.append(Problem(field, f"is longer than {limit} characters"))
    return text


def _posting_time(value: str | datetime, problems: list[Problem]) -> datetime | None:
    """When the sheet was put up: ISO 8601 text or a datetime, China time when naive."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            problems.append(
                Problem(
                    "--at",
                    f"invalid time {value!r}; expected e.g. 2026-10-09T09:30 (China "
                    "time) or 2026-10-09T09:30+08:00",
                )
            )
            return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
    if not 1970 <= moment.year <= 9000:  # far outside, time zones overflow
        problems.append(Problem("--at", f"{value!r} is not a plausible posting time"))
        return None
    return moment


def _read_photo(path: Path, problems: list[Problem]) -> PreparedAttachment | None:
    """The photo at `path`, read and hashed (not stored yet); None and a problem when
    it is missing, unreadable, too large, empty or not a photo."""
    where = "--photo"
    if not path.exists():
        problems.append(Problem(where, f"file not found: {path}"))
        return None
    if not path.is_file():
        problems.append(Problem(where, f"not a regular file: {path}"))
        return None
    try:
        if path.stat().st_size > MAX_PHOTO_BYTES:
            problems.append(
                Problem(where, f"{path.name} is larger than {MAX_PHOTO_BYTES} bytes")
            )
            return None
        prepared = PreparedAttachment.from_file(path)
    except OSError as exc:
        problems.append(
            Problem(where, f"cannot read {path}: {exc.strerror or 'unreadable'}")
        )
        return None
    except InputError as exc:
        for problem in exc.problems:
            # The attachment rules say what is wrong with the file or its name; a
            # name the log's model refuses (a newline, a control character) is
            # worded for the operator of this command.
            plain = problem.field == "" or problem.message.startswith("attachment")
            problems.append(
                Problem(
                    where,
                    problem.message
                    if plain
                    else f"{path.name!r}: the file name must be a plain single line",
                )
            )
        return None
    if not prepared.data:
        problems.append(Problem(where, f"{path} is empty"))
        return None
    if _photo_kind(prepared.data) is None:
        problems.append(
            Problem(
                where,
                f"{path.name} is not a photo (expected JPEG, PNG, HEIC, WebP, GIF or "
                "TIFF)",
            )
        )
        return None
    return prepared


def attesting_actor(actor: str) -> str:
    """The operator recording an attestation, NFC-normalised and stripped; raises
    `InputError` (field `--actor`) unless it is a single line of at most 100
    characters. `AttestOps.attest` checks it too: call it first to refuse bad input
    before opening anything."""
    problems: list[Problem] = []
    text = _line("--actor", actor, 100, problems)
    if problems:
        raise InputError(problems)
    return text


@dataclass(frozen=True)
class Attestation:
    """Who put a sheet up, when (None: when it is recorded), a photo of it (read and
    hashed, stored when recorded) and a remark. Build it with `Attestation.of`, which
    checks everything that needs no log."""

    by: str
    posted_at: datetime | None = None
    photo: PreparedAttachment | None = None
    note: str | None = None
    # The sha256 of a photo or screenshot kept elsewhere (a mini-program's upload):
    # recorded as evidence without the file.
    photo_sha256: str | None = None

    @classmethod
    def of(
        cls,
        *,
        by: str,
        posted_at: str | datetime | None = None,
        photo: Path | None = None,
        note: str | None = None,
        photo_sha256: str | None = None,
    ) -> Attestation:
        """Checked input: `by` and `note` single lines (at most 100 and 500
        characters), `posted_at` ISO 8601 text or a datetime (China time unless it
        has an offset), `photo` a readable JPEG, PNG, HEIC, WebP, GIF or TIFF file of
        at most `MAX_PHOTO_BYTES`, or instead `photo_sha256`, the 64 hex digits of a
        screenshot kept elsewhere. Raises `InputError` naming every bad field (as the
        CLI's options: `--by`, `--at`, `--photo`, `--photo-sha256`, `--note`)."""
        problems: list[Problem] = []
        who = _line("--by", by, 100, problems)
        remark = _line("--note", note, 500, problems) if note is not None else None
        moment = _posting_time(posted_at, problems) if posted_at is not None else None
        prepared = _read_photo(photo, problems) if photo is not None else None
        digest = None
        if photo_sha256 is not None:
            digest = photo_sha256.strip().lower()
            if photo is not None:
                problems.append(
                    Problem("--photo-sha256", "give either --photo or --photo-sha256")
                )
            elif not _SHA256.fullmatch(digest):
                problems.append(
                    Problem("--photo-sha256", "must be 64 hexadecimal digits (sha256)")
                )
        if problems:
            raise InputError(problems)
        return cls(
            by=who, posted_at=moment, photo=prepared, note=remark, photo_sha256=digest
        )


@dataclass(frozen=True)
class Attested:
    """A recorded attestation: the delivery (on `outlet`, for the item `ref` at
    `version`) and what its `Attested` event says. `photo_path`: where the photo is
    kept (relative to the home when under it), None without a photo."""

    delivery_id: UUID
    item_id: UUID
    ref: str
    outlet: str
    version: int
    operation: str
    state: DeliveryState
    file: str | None  # the sheet's file in the outlet's folder
    by: str
    posted_at: datetime
    actor: str
    recorded_at: datetime
    photo_sha256: str | None
    photo_name: str | None
    photo_path: Path | None
    note: str | None
    # Deliveries attested with it because the same message carried them (a digest
    # forwarded to a village group as one task).
    together: tuple[UUID, ...] = ()


class AttestOps(EngineBase):
    """Engine operations: attest that a notice-board sheet was posted."""

    def attest(
        self, delivery: str, attestation: Attestation, *, actor: str
    ) -> Attested:
        """Record `attestation` on the delivery whose id is (or starts with)
        `delivery`, by the operator `actor`; keep its photo under the data directory
        (`attestations/`, by sha256) first, so the event never names a photo that is
        not kept.

        Raises `InputError` for a bad actor or id, a posting time in the future or
        before the sheet was produced; `ItemNotFound` when no delivery matches;
        `DomainError` unless the delivery awaits attestation (an attestation is
        final); `ConflictError` if the delivery changed meanwhile.
        """
        recorder = attesting_actor(actor)
        with store_errors():
            target = self._delivery_by_prefix(delivery)
            _refuse_state(target)
            now = self.clock()
            posted_at = attestation.posted_at or now
            earliest = target.earliest_posting()
            if posted_at > now:
                raise InputError(
                    [Problem("--at", f"{format_time(posted_at)} is in the future")]
                )
            if earliest is not None and posted_at < earliest:
                produced = target.delivered_at or earliest
                raise InputError(
                    [
                        Problem(
                            "--at",
                            f"{format_time(posted_at)} is before the sheet was "
                            f"produced ({format_time(produced)})",
                        )
                    ]
                )
            photo = attestation.photo
            siblings = self._same_message(target)
            for attested in (target, *siblings):
                attested.attest(
                    actor=recorder,
                    by=attestation.by,
                    posted_at=posted_at,
                    at=now,
                    photo_sha256=photo.meta.sha256
                    if photo
                    else attestation.photo_sha256,
                    photo_name=photo.meta.name if photo else None,
                    note=attestation.note,
                )
            stored: Path | None = None
            if photo is not None:
                # Before the event: an event never names a photo that is not kept. (A
                # failed save leaves an unreferenced blob, which is harmless.)
                store = AttachmentStore(self.project.store.data_dir / ATTESTATIONS_DIR)
                stored = store.put(photo)
            try:
                self.deliveries.save(target, *siblings)
            except IntegrityError:
                raise ConflictError(
                    f"delivery {target.id} changed while attesting (attested by "
                    "someone else?); see `syndicate status` and try again"
                ) from None
            if stored is not None and stored.is_relative_to(self.project.home):
                stored = stored.relative_to(self.project.home)
            ref = self.items.get(target.item_id).content.ref
        done = target.attestation
        if done is None:  # pragma: no cover - recorded just above
            raise DomainError(f"delivery {target.id} is not attested")
        return Attested(
            delivery_id=target.id,
            item_id=target.item_id,
            ref=ref,
            outlet=target.outlet,
            version=target.item_version,
            operation=target.operation,
            state=target.state,
            file=(target.receipt or {}).get("file"),
            by=done.by,
            posted_at=done.posted_at,
            actor=done.actor,
            recorded_at=done.timestamp,
            photo_sha256=done.photo_sha256,
            photo_name=done.photo_name,
            photo_path=stored,
            note=done.note,
            together=tuple(d.id for d in siblings),
        )

    def attest_item(
        self, outlet: str, ref: str, attestation: Attestation, *, actor: str
    ) -> Attested:
        """`attest` for the item `ref` (`AGENCY/INDEX_NO` or its id) on `outlet`: the
        newest of its renditions there that awaits attestation. For a backend or a
        mini-program that knows the group and the item, not the delivery id.

        Raises `ItemNotFound` for an unknown item or outlet, `DomainError` when none
        of its renditions there awaits attestation, and what `attest` raises."""
        attesting_actor(actor)
        with store_errors():
            if outlet not in self.project.outlets:
                raise ItemNotFound(
                    f"no outlet {outlet!r}; `syndicate outlets check` lists them"
                )
            item = self.items.get(ref)
            found = []
            for version in range(item.version, 0, -1):
                try:
                    found.append(
                        self.deliveries.delivery(delivery_id(item.id, version, outlet))
                    )
                except AggregateNotFoundError:
                    continue
        waiting = [d for d in found if d.state is DeliveryState.AWAITING_ATTESTATION]
        if not waiting:
            raise DomainError(
                f"nothing of {item.content.ref} on {outlet} awaits attestation"
                + ("" if found else " (nothing was sent there)")
            )
        newest = max(waiting, key=lambda d: d.item_version)
        return self.attest(str(newest.id), attestation, actor=actor)

    def _same_message(self, target: Delivery) -> list[Delivery]:
        """The other deliveries awaiting attestation that went in the same message as
        `target` (one part of one digest): a person forwarded them as one."""
        receipt = target.receipt or {}
        together = receipt.get("digest_of")
        if not together:
            return []
        found = []
        for text in together.split(","):
            try:
                other = UUID(text)
            except ValueError:
                continue
            if other == target.id:
                continue
            d = self.deliveries.delivery(other)
            same = (d.receipt or {}).get("digest_part") == receipt.get("digest_part")
            if same and d.state is DeliveryState.AWAITING_ATTESTATION:
                found.append(d)
        return found

    def _delivery_by_prefix(self, text: str) -> Delivery:
        """The delivery whose id is `text` or starts with it (like a git commit
        prefix), as stored now."""
        prefix = text.strip().lower()
        if not _HEX_PREFIX.fullmatch(prefix):
            raise InputError(
                [Problem("DELIVERY", f"{text!r} is not a delivery id (e.g. 3f2a9c1e)")]
            )
        matches = deliveries_by_prefix(self.deliveries, prefix)
        if not matches:
            raise ItemNotFound(f"no delivery {text}; `syndicate status` lists them")
        waiting = [d for d in matches if d.state is DeliveryState.AWAITING_ATTESTATION]
        if len(matches) > 1 and len(waiting) == 1:
            # A 确认码 is 8 digits: another outlet's delivery may share them, but
            # only one of them waits for a person.
            matches = waiting
        if len(matches) > 1:
            raise InputError(
                [
                    Problem(
                        "DELIVERY",
                        f"{text!r} matches {len(matches)} deliveries; give more digits",
                    )
                ]
            )
        return self.deliveries.delivery(matches[0].id)


def _refuse_state(delivery: Delivery) -> None:
    """Raise `DomainError` unless `delivery` awaits attestation, saying why not."""
    if delivery.state is DeliveryState.AWAITING_ATTESTATION:
        return
    done = delivery.attestation
    if done is not None:
        raise DomainError(
            f"delivery {delivery.id} was attested already: posted by {done.by} at "
            f"{format_time(done.posted_at)}, recorded by {done.actor} at "
            f"{format_time(done.timestamp)}; an attestation is never replaced"
        )
    raise DomainError(
        f"delivery {delivery.id} is {delivery.state.value}, not awaiting attestation; "
        "only deliveries to outlets a person puts up (notice boards) wait for it, "
        "once `syndicate sync` has produced their sheet"
    )
