"""Audit operations a command runs: open the logs for reading, checkpoint now or when
due, and publish checkpoints on the outlets that witness them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import PersistenceError

from syndicate.adapter import WitnessedCheckpoint
from syndicate.audit.consistency import Row, check
from syndicate.audit.log import (
    LogReader,
    checkpoint,
    key_paths,
    load_signer,
    open_audit,
)
from syndicate.audit.store import AuditStore
from syndicate.delivery import Worker
from syndicate.errors import SyndicateError
from syndicate.outlets import Outlet
from syndicate.persistence import scrub
from syndicate.project import Project

__all__ = [
    "auto_checkpoint",
    "checkpointed",
    "consistency_rows",
    "open_reader",
    "record_checkpoint",
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


def _witness(project: Project, store: AuditStore) -> list[str]:
    """Publish every checkpoint on the outlets that witness them (portal, feeds)."""
    records = list(store.checkpoints())
    if not records:
        return []
    notes = [
        WitnessedCheckpoint(r.number, r.size, r.root.hex(), r.at, r.note)
        for r in records
    ]
    outlets, _ = project.outlets_for_reading()
    done: list[str] = []
    for name, outlet in outlets.items():
        adapter = outlet.adapter()
        witness = getattr(adapter, "witness", None)
        if witness is None:
            continue
        witness(notes, records[-1].public_key)
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
            return list(check(worker, refs, outlet))
        finally:
            worker.close()
