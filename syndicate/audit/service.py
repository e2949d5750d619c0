"""Audit operations a command runs: open the logs for reading, checkpoint now or when
due, publish checkpoints on the outlets that witness them, compare the outlets with the
log, and repair their files from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import PersistenceError

from syndicate.adapter import WitnessedCheckpoint
from syndicate.audit.consistency import Row, Witnessed, check
from syndicate.audit.log import (
    LogReader,
    checkpoint,
    key_paths,
    load_signer,
    open_audit,
)
from syndicate.audit.repair import OutletRepair, repair_outlets
from syndicate.audit.store import AuditStore
from syndicate.delivery import Worker
from syndicate.errors import (
    DomainError,
    InputError,
    ItemNotFound,
    Problem,
    SyndicateError,
)
from syndicate.outlets import Outlet
from syndicate.persistence import scrub
from syndicate.project import Project

__all__ = [
    "auto_checkpoint",
    "checkpointed",
    "consistency_rows",
    "open_reader",
    "record_checkpoint",
    "repair",
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
    extra = f"; published on {', '.join(witnessed)}" if witnessed else ""
    return (
        f"checkpoint #{made.number}: {made.size} events, root {made.root.hex()[:16]}…, "
        f"signed by {made.origin}{extra}"
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
    return notes, records[-1].public_key


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


def _witness(project: Project, store: AuditStore) -> list[str]:
    """Publish every checkpoint on the outlets that witness them (portal, feeds)."""
    witnessed = _witnessed(store)
    if witnessed is None:
        return []
    notes, public_key = witnessed
    outlets, _ = project.outlets_for_reading()
    done: list[str] = []
    for name, outlet in outlets.items():
        adapter = outlet.adapter()
        witness = getattr(adapter, "witness", None)
        if witness is None:
            continue
        witness(notes, public_key)
        done.append(name)
    return done


def consistency_rows(
    project: Project, outlets: dict[str, Outlet], outlet: str | None = None
) -> list[Row]:
    """`syndicate.audit.consistency.check` over a home: every item on every outlet (or
    on `outlet`), the outlets read with a worker that sends nothing."""
    with (
        project.disclosures() as items,
        project.deliveries(items, outlets=outlets) as deliveries,
    ):
        refs = {s.id: s.ref for s in items.items()}
        worker = Worker(
            deliveries,
            items,
            outlets,
            name="audit",
            attachments=project.attachments.root,
        )
        try:
            return list(
                check(worker, refs, outlet, witnessed=witnessed_checkpoints(project))
            )
        finally:
            worker.close()


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
        worker = Worker(
            deliveries,
            items,
            outlets,
            name="repair",
            attachments=project.attachments.root,
        )
        try:
            names = [outlet] if outlet else sorted(outlets)
            fixable = [
                n
                for n in names
                if worker.reads_back(n)
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
                worker,
                fixable,
                actor=actor,
                clock=items.clock,
                item=only,
                witnessed=witnessed_checkpoints(project, strict=True),
                delete_extra=delete_extra,
            )
        finally:
            worker.close()
