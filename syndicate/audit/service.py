"""Audit operations a command runs: open the logs for reading, checkpoint now or when
due, publish checkpoints on the outlets that witness them, compare the outlets with the
log, and repair their files from it.

Outlets are read through an `OutletSet` (`outlet_set`: the home's outlets, adapters and
sessions, built with its attachment store), never through a delivery worker: nothing
here sends."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from syndicate.adapter import WitnessedCheckpoint, Witnesses
from syndicate.application import Disclosures
from syndicate.audit.consistency import Row, Witnessed, check
from syndicate.audit.log import (
    Finding,
    LogReader,
    checkpoint,
    key_paths,
    load_signer,
    open_audit,
    pending_path,
    retired_path,
)
from syndicate.audit.repair import OutletRepair, repair_outlets
from syndicate.audit.store import AuditStore, CheckpointRecord
from syndicate.deliveryindex import IndexRow, Undecodable, fold_rows, index_row
from syndicate.domain.base import format_time
from syndicate.domain.deliveries import Delivery
from syndicate.domain.lifecycle import DueKind
from syndicate.errors import (
    DomainError,
    InputError,
    ItemNotFound,
    Problem,
    SyndicateError,
)
from syndicate.fsutil import fsync_dir, write_atomically
from syndicate.outlets import Outlet
from syndicate.persistence import scrub
from syndicate.planning import Deliveries
from syndicate.project import Project
from syndicate.readmodel import TrackedRows, UnreadablePosition, notifications
from syndicate.signing import (
    Checkpoint,
    KeyFileError,
    Signer,
    Verifier,
    read_signer_file,
    read_verifiers,
    rotation_of,
    write_signer_file,
)
from syndicate.timetable import TIME_TOPICS, TimeRow, expected_rows

__all__ = [
    "auto_checkpoint",
    "checkpointed",
    "consistency_rows",
    "open_reader",
    "read_model_findings",
    "record_checkpoint",
    "repair",
    "rotate_key",
    "timetable_findings",
    "witnessed_checkpoints",
]


@contextmanager
def open_reader(project: Project) -> Iterator[tuple[AuditStore, LogReader]]:
    """The checkpoint store and a reader over both logs of a home."""
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets={}) as deliveries,
        open_audit(project) as store,
    ):
        yield store, LogReader.of(project, items, deliveries)


_REINDEX = "; `syndicate audit reindex` rebuilds it from the log"


def _tracking(
    model: TrackedRows[Any], label: str, log: str, end: int
) -> tuple[list[Finding], int | None]:
    """Findings about a read model's tables and tracking position, and the position to
    compare its rows at (None: nothing to compare). A home whose read model was never
    built has nothing to differ (it is built on first use)."""
    rows_there, mark_there = model.present()
    if not rows_there and not mark_there:
        return [], None
    if not (rows_there and mark_there):
        missing = model.table_names[0 if not rows_there else 1]
        return [
            Finding(
                "read-model",
                f"{label}: its table {missing} is missing (dropped outside syndicate);"
                f" the next command folds it again from the start{_REINDEX}",
            )
        ], None
    try:
        upto = model.position()
    except UnreadablePosition:
        return [
            Finding(
                "read-model",
                f"{label}: its tracking position is not a number: the table was "
                f"edited{_REINDEX}",
            )
        ], None
    if upto > end:
        return [
            Finding(
                "read-model",
                f"{label}: its tracking position {upto} is beyond the end of the "
                f"{log} ({end}): the table was edited{_REINDEX}",
            )
        ], None
    return [], upto


def _model_findings(
    model: TrackedRows[Any], label: str, log: str, fold: Callable[[int], Any]
) -> list[Finding]:
    """Where a read model differs from its log (kind "read-model"): its tables and
    tracking position (`_tracking`), then each row that is missing, extra or not what
    `fold(upto)` gives for the log up to that position."""
    end = model.recorder.max_notification_id() or 0
    found, upto = _tracking(model, label, log, end)
    if upto is None:
        return found
    try:
        lines = model.differences(fold)
    except Exception as exc:  # an event edited so it no longer reads back
        # The tree already names the edited event; the read model cannot be compared
        # with a log that does not fold, and `verify` must never stop on one.
        # Only the error's type: its message may quote the edited row's content.
        return [
            Finding(
                "read-model",
                f"{label}: not compared, the {log} does not fold "
                f"({type(exc).__name__})",
            )
        ]
    return [Finding("read-model", f"{label}: {line}{_REINDEX}") for line in lines]


def read_model_findings(
    deliveries: Deliveries, sqlite_file: Path | None = None
) -> list[Finding]:
    """Where the deliveries read model (`syndicate.deliveryindex`) differs from its
    log: a table missing, a tracking position not a number or beyond the log's end,
    and each row that is missing, extra or not what folding the log up to that
    position gives (kind "read-model")."""

    def fold(position: int) -> dict[str, IndexRow]:
        if deliveries.mapper.cipher is None and deliveries.mapper.compressor is None:
            try:
                return fold_rows(_stored(deliveries, position, sqlite_file))
            except Undecodable:
                pass  # an event to upcast: the domain's own fold reads it
        folded: dict[UUID, Delivery] = {}
        deliveries.fold_into(folded, 0, position)
        return {str(d.id): index_row(d) for d in folded.values()}

    return _model_findings(
        deliveries.index, "deliveries read model", "deliveries log", fold
    )


def timetable_findings(items: Disclosures) -> list[Finding]:
    """Where the items' timetable (`syndicate.timetable`) differs from the items log,
    as `read_model_findings` for the deliveries."""

    def fold(position: int) -> dict[str, TimeRow]:
        found = notifications(items.recorder, stop=position, topics=TIME_TOPICS)
        return expected_rows(found, items.item_at)

    return _model_findings(items.timetable, "timetable", "items log", fold)


def _stored(
    deliveries: Deliveries, upto: int, sqlite_file: Path | None
) -> Iterator[tuple[Any, int, str, bytes]]:
    """(originator id, version, topic, state) of the deliveries log's stored events
    at positions 1 to `upto`, in order: on SQLite read from the file directly
    (read-only; several times faster than building notifications), else in pages."""
    if sqlite_file is not None:
        uri = f"{sqlite_file.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            yield from conn.execute(
                "SELECT originator_id, originator_version, topic, state "
                "FROM stored_events WHERE rowid BETWEEN 1 AND ? ORDER BY rowid",
                (upto,),
            )
        finally:
            conn.close()
        return
    start = 0
    while start < upto:
        page = deliveries.recorder.select_notifications(
            start=start, limit=2000, stop=upto, inclusive_of_start=False
        )
        if not page:
            return
        for n in page:
            yield n.originator_id, n.originator_version, n.topic, n.state
        start = page[-1].id


def record_checkpoint(project: Project, *, trigger: str, actor: str) -> str:
    """Sign and record a checkpoint now; a line saying what happened."""
    signer = load_signer(project)
    with open_reader(project) as (store, reader):
        made = checkpoint(store, reader, signer, trigger=trigger, actor=actor)
        if made is None:
            latest = store.latest()
            number = latest.number if latest else 0
            return f"checkpoint #{number} already covers every event"
        witnessed = _witness(project, store)
    return (
        f"checkpoint #{made.number}: {made.size} events, root {made.root.hex()[:16]}…, "
        f"signed by {made.origin}{_published(witnessed)}"
    )


def _published(witnessed: list[tuple[str, str]]) -> str:
    """`; published on A, B; NOT published on C (why)` for `_witness`'s answer."""
    done = [name for name, problem in witnessed if not problem]
    failed = [f"{name} ({problem})" for name, problem in witnessed if problem]
    return (f"; published on {', '.join(done)}" if done else "") + (
        f"; NOT published on {'; '.join(failed)}" if failed else ""
    )


def _rotation_to(record: CheckpointRecord | None) -> Verifier | None:
    """The new key of a recorded rotation checkpoint (as its note says), else None."""
    if record is None:
        return None
    try:
        rotation = rotation_of(
            Checkpoint.parse(record.note.rsplit("\n\n", 1)[0] + "\n")
        )
    except ValueError:
        return None
    return rotation[1] if rotation else None


def _install(project: Project, old: Verifier, new: Signer) -> None:
    """Make `new` the home's key: the old public key joins keys/audit-retired.pub, the
    public key file holds the new key, and the pending private key file replaces the
    old one (a rename: the old private key file is gone, kept nowhere)."""
    private, public = key_paths(project)
    retired = retired_path(project)
    keys = read_verifiers(retired) if retired.exists() else []
    if old not in keys:
        keys.append(old)
    write_atomically(retired, "".join(k.to_text() + "\n" for k in keys).encode())
    write_atomically(public, (new.verifier().to_text() + "\n").encode())
    os.replace(pending_path(project), private)
    fsync_dir(private.parent)


@contextmanager
def _rotation_lock(pending: Path) -> Iterator[None]:
    """One rotation at a time (an exclusive lock on `<key file>.lock`), so a rotation
    never takes another's pending key for an interrupted one."""
    lock = pending.with_suffix(".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DomainError(
                "another `syndicate audit rotate-key` is running; wait for it"
            ) from None
        yield
    finally:
        os.close(fd)


def rotate_key(project: Project, *, actor: str) -> str:
    """Replace the home's signing key: make a new key pair (same name, so the log's
    origin stays), record a rotation checkpoint signed by the old and the new key, then
    install the new key (`_install`); checkpoints are signed by the new key from then
    on. A line saying what happened.

    Crash-safe: the new private key is written first to `<key file>.new` (mode 0600);
    if the command stops after the rotation checkpoint is recorded but before the key
    is installed, running it again only finishes the installation."""
    old = load_signer(project)
    pending = pending_path(project)
    with _rotation_lock(pending), open_reader(project) as (store, reader):
        latest = store.latest()
        if pending.exists():
            try:
                waiting = read_signer_file(pending)
            except KeyFileError as exc:
                raise DomainError(f"an interrupted key rotation: {exc}") from None
            if _rotation_to(latest) == waiting.verifier():
                _install(project, old.verifier(), waiting)
                witnessed = _witness(project, store)
                assert latest is not None  # noqa: S101 - _rotation_to found it
                return (
                    f"finished the interrupted rotation of checkpoint #{latest.number}:"
                    f" checkpoints are now signed by {waiting.verifier().label}; "
                    f"{old.verifier().label} is retired{_published(witnessed)}"
                )
            pending.unlink()  # a rotation that never recorded its checkpoint
        new = Signer.generate(old.name)
        write_signer_file(pending, new)
        try:
            made = checkpoint(
                store, reader, old, trigger="rotation", actor=actor, rotate_to=new
            )
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
        assert made is not None  # noqa: S101 - a rotation is always recorded
        _install(project, old.verifier(), new)
        witnessed = _witness(project, store)
    return (
        f"checkpoint #{made.number}: {made.size} events, a key rotation signed by "
        f"{old.verifier().label} and {new.verifier().label}; checkpoints are now "
        f"signed by {new.verifier().label}, {old.verifier().label} is retired (its "
        f"public key kept in {retired_path(project)}, its private key deleted)"
        f"{_published(witnessed)}"
    )


def auto_checkpoint(project: Project, trigger: str, *, every: int | None = None) -> str:
    """Checkpoint by itself (end of `sync`; `worker` every `every` events): a line to
    print, or "" when nothing was due. Never fails the command it runs in."""
    private, _ = key_paths(project)
    if not private.exists():
        return (
            f"note: no audit signing key at {private}, so no checkpoint was made; run "
            "`syndicate init` to create one"
        )
    try:
        if every is not None:
            with open_reader(project) as (store, reader):
                latest = store.latest()
                items_end, deliveries_end = reader.ends()
                done = (
                    (latest.items_position + latest.deliveries_position)
                    if latest
                    else 0
                )
                if items_end + deliveries_end - done < every:
                    return ""
        return record_checkpoint(project, trigger=trigger, actor="syndicate")
    except SyndicateError as exc:
        return f"note: no checkpoint was made: {exc}"
    except PersistenceError as exc:
        return f"note: no checkpoint was made: the checkpoint store: {scrub(str(exc))}"


def checkpointed(project: Project) -> int:
    """How many events (items + deliveries positions) the newest checkpoint covers; 0
    when there is none or the checkpoint store cannot be read (the next checkpoint
    attempt says why). Never fails the command it runs in."""
    try:
        with open_audit(project) as store:
            latest = store.latest()
    except (SyndicateError, PersistenceError):
        return 0
    return (latest.items_position + latest.deliveries_position) if latest else 0


def _witnessed(store: AuditStore) -> Witnessed:
    records = [r for r in store.checkpoints() if not r.problem]  # readable ones
    if not records:
        return None
    notes = [
        WitnessedCheckpoint(r.number, r.size, r.root.hex(), r.at, r.note)
        for r in records
    ]
    # The key set, current first, then the retired keys newest first: every key the
    # checkpoints name (each record's key, the old key of each rotation).
    keys: list[str] = []
    for r in records:
        old = _rotation_from(r)
        if old is not None and old not in keys:
            keys.append(old)
        if r.public_key not in keys and _is_key(r.public_key):
            keys.append(r.public_key)
    return notes, "\n".join(reversed(keys))


def _is_key(text: str) -> bool:
    """Whether `text` is a public key text (an edited record's may not be)."""
    try:
        Verifier.from_text(text)
    except ValueError:
        return False
    return "\n" not in text.strip()


def _rotation_from(record: CheckpointRecord) -> str | None:
    try:
        body = Checkpoint.parse(record.note.rsplit("\n\n", 1)[0] + "\n")
        rotation = rotation_of(body)
    except ValueError:
        return None
    return rotation[0].to_text() if rotation else None


def witnessed_checkpoints(project: Project, *, strict: bool = False) -> Witnessed:
    """The checkpoints and key the outlets that witness them were given (every recorded
    checkpoint, the newest one's key); None when there is none, or when the checkpoint
    store cannot be read (with `strict`: `DomainError` then, for callers that must not
    take published checkpoint files for extra ones)."""
    try:
        with open_audit(project) as store:
            return _witnessed(store)
    except (SyndicateError, PersistenceError) as exc:
        if strict:
            raise DomainError(
                f"cannot read the checkpoint store, so the checkpoint files the "
                f"outlets publish cannot be checked: {scrub(str(exc))}"
            ) from None
        return None


def _witness(project: Project, store: AuditStore) -> list[tuple[str, str]]:
    """Publish every checkpoint on the outlets that witness them (portal, feeds): each
    outlet's name and "" or why it refused (a checkpoint not signed by the key valid
    for it: the outlet publishes nothing then, and the command goes on)."""
    outlets, _ = project.outlets_for_reading()
    witnesses = {
        name: adapter
        for name, outlet in outlets.items()
        if isinstance(adapter := outlet.adapter(), Witnesses)
    }
    if not witnesses:
        return []  # nobody to give them to: every checkpoint need not be read
    witnessed = _witnessed(store)
    if witnessed is None:
        return []
    notes, public_key = witnessed
    done: list[tuple[str, str]] = []
    for name, adapter in witnesses.items():
        try:
            adapter.witness(notes, public_key)
        except ValueError as exc:  # a checkpoint the outlet refuses to vouch for
            done.append((name, str(exc)))
            continue
        done.append((name, ""))
    return done


def consistency_rows(
    project: Project,
    outlets: dict[str, Outlet],
    outlet: str | None = None,
    *,
    now: datetime | None = None,
) -> list[Row]:
    """`syndicate.audit.consistency.check` over a home: every item on every outlet (or
    on `outlet`), the outlets read through an `OutletSet` (nothing is sent). Then, as
    of `now` (default: the wall clock), a "stale" row per time-driven change that is
    due but not recorded (a 公示 window that ended, a schedule, a validity that lapsed:
    every outlet still shows the form before it until `sync` records it)."""
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets=outlets) as deliveries,
        project.outlet_set(items, deliveries, outlets) as readers,
    ):
        refs = {s.id: s.ref for s in items.items()}
        rows = list(
            check(readers, refs, outlet, witnessed=witnessed_checkpoints(project))
        )
        for due in items.due(now or datetime.now(UTC)):
            rows.append(
                Row(
                    item_id=UUID(due.item_id),
                    ref=due.ref,
                    outlet=outlet or "(time)",
                    verdict="stale",
                    expected_version=None,
                    shown_version=None,
                    detail=f"{_DUE[due.kind]} due since {format_time(due.at)} China "
                    "time, not recorded yet: every outlet shows the form before it; "
                    "run `syndicate sync`",
                )
            )
        return rows


_DUE = {
    DueKind.RELEASE: "scheduled release (定时发布)",
    DueKind.NOTICE_END: "end of the 公示期",
    DueKind.EXPIRY: "expiry (已失效)",
}


def repair(
    project: Project,
    outlets: dict[str, Outlet],
    *,
    actor: str,
    outlet: str | None = None,
    ref: str | None = None,
    delete_extra: bool = False,
) -> list[OutletRepair]:
    """Write back, from the log, the files of the outlets (or of `outlet`; with `ref`,
    only that item's own files) that drifted or are missing, and record it as
    `Delivery.Repaired` events; extra files are reported, and deleted only with
    `delete_extra` (see `syndicate.audit.repair`).

    Raises `InputError` (nothing written, nothing recorded) for an outlet not in
    `outlets`, one whose files cannot be compared, or a REF that names no item.
    """
    if outlet is not None and outlet not in outlets:
        raise InputError(
            [Problem("--outlet", f"{outlet}: no such outlet in syndicate.toml")]
        )
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets=outlets) as deliveries,
    ):
        only = None
        if ref is not None:
            try:
                only = items.resolve(ref)
            except ItemNotFound as exc:
                raise InputError([Problem("REF", str(exc))]) from None
        with project.outlet_set(items, deliveries, outlets) as readers:
            names = [outlet] if outlet else sorted(outlets)
            fixable = [
                n
                for n in names
                if readers.reads_back(n)
                and callable(getattr(outlets[n].adapter(), "expected_files", None))
            ]
            if outlet is not None and not fixable:
                raise InputError(
                    [
                        Problem(
                            "--outlet",
                            f"{outlet} ({outlets[outlet].kind}): its files cannot be "
                            "compared with the log, so there is nothing to repair",
                        )
                    ]
                )
            return repair_outlets(
                readers,
                fixable,
                actor=actor,
                clock=items.clock,
                item=only,
                witnessed=witnessed_checkpoints(project, strict=True),
                delete_extra=delete_extra,
            )
