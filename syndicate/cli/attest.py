"""`syndicate attest`: record that a person put a printed sheet up on a notice board."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from syndicate.attachments import (
    AttachmentStore,
    PreparedAttachment,
    prepare_attachment,
)
from syndicate.cli.output import cli_errors, echo_json, format_time, iso_china
from syndicate.cli.run import engine
from syndicate.cli.state import ActorOption, JsonOption, resolve_actor
from syndicate.domain.base import CHINA_TZ
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.errors import (
    ConflictError,
    DomainError,
    InputError,
    ItemNotFound,
    Problem,
)
from syndicate.planning import Deliveries

__all__ = ["ATTESTATIONS_DIR", "attest", "find_delivery", "register"]

# Under the data directory: photos of posted sheets, content-addressed like attachments
# (`attestations/<2 hex>/<sha256>`), and kept apart from them: nothing publishes them.
ATTESTATIONS_DIR = "attestations"

MAX_PHOTO_BYTES = 50 * 1024 * 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX_PREFIX = re.compile(r"[0-9a-f-]{1,36}")

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


def _parse_time(value: str, problems: list[Problem]) -> datetime | None:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            Problem(
                "--at",
                f"invalid time {value!r}; expected e.g. 2026-10-09T09:30 (China time) "
                "or 2026-10-09T09:30+08:00",
            )
        )
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
    if not 1970 <= moment.year <= 9000:  # far outside, time zones overflow
        problems.append(Problem("--at", f"{value!r} is not a plausible posting time"))
        return None
    return moment


def _read_photo(path: Path, problems: list[Problem]) -> PreparedAttachment | None:
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
        prepared = prepare_attachment(path)
    except OSError as exc:
        problems.append(
            Problem(where, f"cannot read {path}: {exc.strerror or 'unreadable'}")
        )
        return None
    except ValidationError:
        problems.append(
            Problem(where, f"{path.name!r}: the file name must be a plain single line")
        )
        return None
    except ValueError as exc:
        problems.append(Problem(where, str(exc)))
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


def find_delivery(deliveries: Deliveries, text: str) -> Delivery:
    """The delivery whose id is `text` or starts with it (like a git commit prefix)."""
    prefix = text.strip().lower()
    if not _HEX_PREFIX.fullmatch(prefix):
        raise InputError(
            [Problem("DELIVERY", f"{text!r} is not a delivery id (e.g. 3f2a9c1e)")]
        )
    matches = [
        d for d in deliveries.all_deliveries().values() if str(d.id).startswith(prefix)
    ]
    if not matches:
        raise ItemNotFound(f"no delivery {text}; `syndicate status` lists them")
    if len(matches) > 1:
        raise InputError(
            [
                Problem(
                    "DELIVERY",
                    f"{text!r} matches {len(matches)} deliveries; give more digits",
                )
            ]
        )
    return deliveries.delivery(matches[0].id)


def _refuse_state(delivery: Delivery) -> None:
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


def attest(
    ctx: typer.Context,
    delivery: Annotated[
        str,
        typer.Argument(
            metavar="DELIVERY",
            help="Delivery id (or a unique prefix), as `syndicate status` lists it.",
            show_default=False,
        ),
    ],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="NAME",
            help="The person who put the sheet up on the board.",
            show_default=False,
        ),
    ],
    photo: Annotated[
        Path | None,
        typer.Option(
            "--photo",
            metavar="FILE",
            help="A photo of the posted sheet (JPEG, PNG, HEIC…): kept under the data "
            "directory by its sha256, which the event records.",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="When it was put up: ISO 8601, China time unless an offset is given "
            "(e.g. 2026-10-09T09:30).",
            show_default="now",
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            metavar="TEXT",
            help="A remark kept with the attestation (e.g. which board).",
            show_default=False,
        ),
    ] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record that a person put a printed sheet up on a notice board.

    A notice board (政务公开栏) is an outlet nobody can query: `syndicate sync` writes the
    sheet (a PDF) to the outlet's folder and the delivery waits, "awaiting_attestation"
    in `syndicate status`, until someone prints it, posts it, and this command records
    who (--by), when (--at, default now) and, as evidence, a photo of the posted sheet
    (--photo). The operator running the command is recorded as the actor. Only a
    delivery awaiting attestation can be attested, and only once: it is final.

    Example: syndicate attest 3f2a9c1e --by 张敏 --photo board.jpg --at 2026-10-09T09:30
    """
    with cli_errors():
        problems: list[Problem] = []
        who_posted = _line("--by", by, 100, problems)
        remark = _line("--note", note, 500, problems) if note is not None else None
        posted = _parse_time(at, problems) if at is not None else None
        prepared = _read_photo(photo, problems) if photo is not None else None
        if problems:
            raise InputError(problems)
        recorder = _line("--actor", resolve_actor(actor), 100, problems)
        if problems:
            raise InputError(problems)
        with engine(ctx, outlets=False) as run:
            target = find_delivery(run.deliveries, delivery)
            _refuse_state(target)
            now = run.items.clock()
            posted_at = posted or now
            earliest = target.earliest_posting()
            if posted_at > now:
                raise InputError(
                    [Problem("--at", f"{format_time(posted_at)} is in the future")]
                )
            if earliest is not None and posted_at < earliest:
                raise InputError(
                    [
                        Problem(
                            "--at",
                            f"{format_time(posted_at)} is before the sheet was "
                            f"produced ({format_time(target.delivered_at or earliest)})",
                        )
                    ]
                )
            target.attest(
                actor=recorder,
                by=who_posted,
                posted_at=posted_at,
                at=now,
                photo_sha256=prepared.meta.sha256 if prepared else None,
                photo_name=prepared.meta.name if prepared else None,
                note=remark,
            )
            stored: Path | None = None
            if prepared is not None:
                # Before the event: an event never names a photo that is not kept. (A
                # failed save leaves an unreferenced blob, which is harmless.)
                store = AttachmentStore(run.project.store.data_dir / ATTESTATIONS_DIR)
                stored = store.put(prepared)
            try:
                run.deliveries.save(target)
            except IntegrityError:
                raise ConflictError(
                    f"delivery {target.id} changed while attesting (attested by "
                    "someone else?); see `syndicate status` and try again"
                ) from None
            shown = stored
            if stored is not None and stored.is_relative_to(run.project.home):
                shown = stored.relative_to(run.project.home)
            record = _record(run.items.get(target.item_id).content.ref, target, shown)
        if as_json:
            echo_json(record)
            return
        photo_text = (
            f"; photo sha256 {record['photo_sha256']} kept at {record['photo_path']}"
            if stored
            else ""
        )
        typer.echo(
            f"delivery {target.id} attested: {record['ref']} v{target.item_version} on "
            f"{target.outlet} posted by {who_posted} at {format_time(posted_at)} "
            f"(recorded by {recorder}){photo_text}"
        )


def _record(ref: str, delivery: Delivery, stored: Path | None) -> dict[str, Any]:
    done = delivery.attestation
    if done is None:  # pragma: no cover - called right after attesting
        raise DomainError(f"delivery {delivery.id} is not attested")
    return {
        "delivery_id": str(delivery.id),
        "item_id": str(delivery.item_id),
        "ref": ref,
        "outlet": delivery.outlet,
        "version": delivery.item_version,
        "operation": delivery.operation,
        "state": delivery.state.value,
        "file": (delivery.receipt or {}).get("file"),
        "by": done.by,
        "posted_at": iso_china(done.posted_at),
        "actor": done.actor,
        "recorded_at": iso_china(done.timestamp),
        "photo_sha256": done.photo_sha256,
        "photo_name": done.photo_name,
        "photo_path": str(stored) if stored else None,
        "note": done.note,
    }


def register(app: typer.Typer) -> None:
    """Add `attest` to the root app."""
    app.command()(attest)
