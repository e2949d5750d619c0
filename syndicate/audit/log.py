"""The tamper-evident audit log: an RFC 6962 Merkle tree over every stored event of the
items log and the deliveries log, signed checkpoints, verification, export and proofs.

Leaves (specified for independent verifiers in docs/audit.md):

- Leaf data is the UTF-8 bytes of a canonical JSON object (keys sorted, no spaces,
  non-ASCII kept as is) with the stored event exactly as the store holds it:
  `{"log": "items"|"deliveries", "originator_id": "<uuid>", "originator_version": n,
  "position": <notification id>, "state": "<stored state, UTF-8 text>", "topic": "<topic>"}`
  (`state_base64` instead of `state` if the stored bytes are not UTF-8). An export's
  `events.jsonl` holds exactly these bytes, one leaf per line.
- Leaf hash = SHA-256(0x00 ‖ data); nodes = SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1).
- Order: checkpoints cut both logs into segments. Segment k is the items-log events with
  positions in (items_position of checkpoint k-1, items_position of k], in position order,
  then the deliveries-log events in (deliveries_position of k-1, of k]. Events after the
  newest checkpoint follow the same rule, up to the current end of each log. So the tree
  only ever grows by appending, whatever order the two logs were written in.

A checkpoint is a C2SP signed note whose body is `<origin>\\n<size>\\n<base64 root>\\n`
plus one extension line `positions items=<i> deliveries=<d>\\n` that pins the segment
bounds, signed with the home's Ed25519 key (`keys/audit-signing.key`, outside the log).
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import ctypes
import functools
import json
import os
import re
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from syndicate.audit import merkle
from syndicate.audit.merkle import (
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from syndicate.audit.store import (
    AuditStore,
    CheckpointRecord,
    strict_base64,
    strict_hex,
    strict_int,
    strict_list,
    strict_str,
)
from syndicate.errors import ConfigurationError, InputError, StoreError
from syndicate.fsutil import write_atomically
from syndicate.project import Project
from syndicate.signing import (
    ROTATION,
    Checkpoint,
    CheckpointFormatError,
    KeyChain,
    KeyFileError,
    SignatureError,
    Signer,
    Verifier,
    read_signer_file,
    read_verifiers,
    rotation_of,
    sign_note,
)

__all__ = [
    "Finding",
    "Kept",
    "Leaf",
    "LeafHashes",
    "LogReader",
    "ProofRejected",
    "Verdict",
    "checkpoint",
    "ensure_keys",
    "export_log",
    "key_paths",
    "key_set",
    "leaf_data",
    "load_keys",
    "open_audit",
    "prove",
    "reachable_keys",
    "read_kept_checkpoint",
    "read_trusted_key",
    "read_trusted_keys",
    "retired_path",
    "verify",
    "verify_export",
    "verify_leaves",
    "verify_proof",
]

LOGS = ("items", "deliveries")
_quote = json.encoder.encode_basestring  # JSON string literal, non-ASCII kept
_PAGE = 500
_CHUNK = 1 << 13  # positions per piece of work on the compiled path
_MAX_PIECES = 256
_POSITIONS = re.compile(r"positions items=(0|[1-9]\d*) deliveries=(0|[1-9]\d*)")
# The SQLite column types eventsourcing writes (as `typeof` names them).
_TYPES = (b"text", b"integer", b"text", b"blob")


# -- leaves -----------------------------------------------------------------------------


def leaf_data(
    log: str,
    position: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The leaf data of one stored event (see the module docstring).

    Written out by hand, keys in sorted order, because this runs once per event when
    verifying: it equals `json.dumps(doc, sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))` of the documented object (a test checks that).
    """
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError:
        field_, text = "state_base64", base64.b64encode(state).decode("ascii")
    else:
        field_ = "state"
    return (
        f'{{"log":{_quote(log)},"originator_id":{_quote(str(originator_id))},'
        f'"originator_version":{int(originator_version)},"position":{int(position)},'
        f'"{field_}":{_quote(text)},"topic":{_quote(topic)}}}'
    ).encode()


def _stored_leaf(log: str, row: tuple[Any, ...]) -> bytes:
    """The leaf data of a row read straight from a SQLite log file.

    eventsourcing keeps ids there as 32 hex digits; leaves carry the hyphenated form on
    every store. A row that is not what eventsourcing writes (a column of another type,
    text that is not UTF-8: only an edit made outside the library does that) gets the
    leaf `{"log": ..., "position": ..., "unreadable": "<Python repr of the columns>"}`,
    which can never equal a real event's leaf, so verification reports it as altered.
    """
    position, originator, version, topic, state, *types = row
    try:
        if types and tuple(types) != _TYPES:
            # SQLite hands a column retyped by hand (a blob cast to text) back as
            # the same bytes: only its type tells it from what eventsourcing wrote.
            raise TypeError("unexpected column type")
        if not (isinstance(version, int) and isinstance(state, bytes)):
            raise TypeError("unexpected column type")
        h = originator.decode("utf-8")
        uid = (
            f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            if len(h) == 32
            else str(UUID(h))
        )
        return leaf_data(log, position, uid, version, topic.decode("utf-8"), state)
    except (AttributeError, TypeError, ValueError):
        columns = tuple(
            value.decode("utf-8", "backslashreplace")
            if isinstance(value, bytes) and kind == b"text"
            else value
            for value, kind in zip(row[1:5], types or [b""] * 4, strict=True)
        )
        doc = {"log": log, "position": position, "unreadable": repr(columns)}
        return json.dumps(
            doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")


@dataclass(frozen=True)
class Leaf:
    """One leaf: which event it is, and its data."""

    log: str
    position: int
    data: bytes

    @property
    def hash(self) -> bytes:
        return leaf_hash(self.data)

    def where(self) -> str:
        return f"{self.log} log position {self.position}"


@dataclass
class LeafHashes:
    """Leaf hashes in leaf order, packed (32 bytes each), and where each leaf is from."""

    hashes: bytes | bytearray
    where: Callable[[int], str]

    def __len__(self) -> int:
        return len(self.hashes) // HASH_SIZE

    @classmethod
    def of(cls, leaves: Sequence[Leaf]) -> LeafHashes:
        """The hashes of leaves already read (an export's lines)."""
        datas = [leaf.data for leaf in leaves]
        hashes = (
            merkle._native.leaf_hashes(datas)
            if merkle._native is not None
            else b"".join(leaf_hash(d) for d in datas)
        )
        return cls(hashes, lambda i: leaves[i].where())


@dataclass
class _Run:
    """Consecutive events of one log: their leaf hashes and positions."""

    log: str
    hashes: bytearray = field(default_factory=bytearray)
    positions: array[int] = field(default_factory=lambda: array("q"))

    def add(self, digest: bytes, position: int) -> None:
        self.hashes += digest
        self.positions.append(position)

    def extend(self, other: _Run) -> None:
        self.hashes += other.hashes
        self.positions.extend(other.positions)


THREADS_ENV = "SYNDICATE_AUDIT_THREADS"


@functools.cache
def _same_sqlite(address: int) -> bool:
    """Whether Python's sqlite3 module uses the SQLite library at `address` (the
    compiled module's). Two copies of SQLite in one process must never open the same
    file: closing a connection in one drops the other's POSIX locks (corruption; see
    sqlite.org/howtocorrupt.html). A Python that carries its own SQLite inside its
    sqlite3 module therefore reads through Python instead."""
    import _sqlite3

    try:
        library = ctypes.CDLL(_sqlite3.__file__)
        theirs = ctypes.cast(library.sqlite3_libversion, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return False
    return theirs == address


def _compiled_sqlite() -> bool:
    """Whether SQLite files may be read by the compiled module here."""
    native = merkle._native
    return native is not None and _same_sqlite(native.sqlite_address())


def _workers() -> int:
    """Threads that hash the log: SYNDICATE_AUDIT_THREADS, else the usable cores (at
    most 4: reading the files is the limit beyond that)."""
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


class _Recorder(Protocol):
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Any]: ...

    def max_notification_id(self) -> int | None: ...


class LogReader:
    """Reads the stored events of both logs as leaves, in pages (memory stays bounded)."""

    def __init__(
        self,
        items: _Recorder,
        deliveries: _Recorder,
        *,
        sqlite_files: dict[str, Path] | None = None,
        leader: str | None = None,
    ) -> None:
        self._recorders = {"items": items, "deliveries": deliveries}
        # The name under which the deliveries log tracks the items log (its planner's
        # position), when the deliveries recorder keeps one.
        self._leader = leader
        # On SQLite, reading the table directly (read-only) is several times faster
        # than building eventsourcing's notification objects; the rows are the same.
        self._files = sqlite_files or {}

    @classmethod
    def of(cls, project: Project, items: Any, deliveries: Any) -> LogReader:
        """A reader over a home's two open logs."""
        files = (
            None
            if project.store.is_postgres
            else {
                "items": project.store.sqlite_path(items.name),
                "deliveries": project.store.sqlite_path(deliveries.name),
            }
        )
        return cls(
            items.recorder, deliveries.recorder, sqlite_files=files, leader=items.name
        )

    def outside(self) -> list[str]:
        """What the application reads that the tree does not cover, one line each:
        stored events at positions the tree never reads (0 or below; on PostgreSQL
        also none, or one two rows share), and a planner position beyond the end of
        the items log (the planner would skip the events it claims to have planned)."""
        found: list[str] = []
        for recorder in self._recorders.values():
            rows_outside = getattr(recorder, "rows_outside", None)
            if callable(rows_outside):
                found += [row.describe() for row in rows_outside()]
        tracked = getattr(self._recorders["deliveries"], "max_tracking_id", None)
        if self._leader is not None and callable(tracked):
            planned, end = tracked(self._leader) or 0, self.ends()[0]
            if planned > end:
                found.append(
                    f"deliveries log: its planner's tracking position {planned} is "
                    f"beyond the end of the items log ({end}): the tracking table was "
                    "edited, and the planner would skip the items events up to it"
                )
        return found

    def ends(self) -> tuple[int, int]:
        """The current last position of the items log and of the deliveries log."""
        return (
            max(self._recorders["items"].max_notification_id() or 0, 0),
            max(self._recorders["deliveries"].max_notification_id() or 0, 0),
        )

    def read(self, log: str, after: int, upto: int) -> Iterator[Leaf]:
        """Events of `log` with positions in (after, upto], in position order."""
        if log in self._files:
            yield from self._read_file(log, after, upto)
            return
        recorder = self._recorders[log]
        start = after
        while start < upto:
            page = recorder.select_notifications(
                start=start, limit=_PAGE, stop=upto, inclusive_of_start=False
            )
            if not page:
                return
            for n in page:
                data = leaf_data(
                    log, n.id, n.originator_id, n.originator_version, n.topic, n.state
                )
                yield Leaf(log, n.id, data)
            start = page[-1].id

    def _read_file(self, log: str, after: int, upto: int) -> Iterator[Leaf]:
        uri = f"{self._files[log].resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        # Text arrives as bytes, decoded below, so that a row edited into text that is
        # not UTF-8 becomes an unreadable leaf rather than an error for the whole page.
        connection.text_factory = bytes
        try:
            start = after
            while start < upto:
                rows = connection.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state, "
                    "typeof(originator_id), typeof(originator_version), "
                    "typeof(topic), typeof(state) "
                    "FROM stored_events WHERE rowid > ? AND rowid <= ? "
                    "ORDER BY rowid LIMIT ?",
                    (start, upto, _PAGE * 4),
                ).fetchall()
                if not rows:
                    return
                for row in rows:
                    yield Leaf(log, row[0], _stored_leaf(log, row))
                start = rows[-1][0]
        finally:
            connection.close()

    def _hash_range(self, log: str, after: int, upto: int) -> _Run:
        """Leaf hashes of `log`'s events with positions in (after, upto]: compiled from
        the SQLite file when possible, else through `read`."""
        run = _Run(log)
        path = self._files.get(log)
        if path is None or not _compiled_sqlite():
            for leaf in self.read(log, after, upto):
                run.add(leaf.hash, leaf.position)
            return run
        start = after
        while start < upto:
            try:
                hashes, positions, odd = merkle._native.sqlite_leaves(  # type: ignore[union-attr]
                    os.fsencode(path), log, start, upto, max(upto - start, 1)
                )
            except (OSError, ValueError):  # unreadable here: the Python path says why
                for leaf in self.read(log, start, upto):
                    run.add(leaf.hash, leaf.position)
                return run
            run.hashes += hashes
            run.positions.frombytes(positions)
            if not odd:
                break
            # A row the compiled path does not encode (a column of another type, text
            # that is not UTF-8: only edits outside the library): Python does.
            for leaf in self._read_file(log, odd - 1, odd):
                run.add(leaf.hash, leaf.position)
            start = odd
        return run

    def _hash_logs(self, upto: Sequence[int]) -> list[_Run]:
        """Leaf hashes of each log up to its `upto`. On the compiled path the logs are
        cut into pieces hashed on all cores (the compiled code runs without the GIL)."""
        workers = _workers()
        if workers == 1 or not self._files or not _compiled_sqlite():
            return [self._hash_range(log, 0, upto[k]) for k, log in enumerate(LOGS)]
        with ThreadPoolExecutor(workers) as pool:
            pieces = [
                [
                    pool.submit(self._hash_range, log, after, until)
                    for after, until in self._pieces(log, end)
                ]
                for log, end in zip(LOGS, upto, strict=True)
            ]
            runs = []
            for log, futures in zip(LOGS, pieces, strict=True):
                run = _Run(log)
                for future in futures:
                    run.extend(future.result())
                runs.append(run)
        return runs

    def _pieces(self, log: str, upto: int) -> list[tuple[int, int]]:
        """(after, upto] position ranges covering the log up to `upto`: `_CHUNK`
        positions each, and never more than `_MAX_PIECES` (a log edited outside the
        library could hold a position near 2**63: not one piece per gap)."""
        path = self._files.get(log)
        if path is None:
            return [(0, upto)]
        uri = f"{path.resolve().as_uri()}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
                low, high = connection.execute(  # one index lookup each
                    "SELECT (SELECT min(rowid) FROM stored_events WHERE rowid > 0), "
                    "(SELECT max(rowid) FROM stored_events WHERE rowid <= ?)",
                    (upto,),
                ).fetchone()
        except sqlite3.Error:
            return [(0, upto)]  # the reader says what is wrong
        if low is None or high is None or high < low:
            return [(0, upto)]
        start = low - 1
        size = max(_CHUNK, -(-(upto - start) // _MAX_PIECES))
        # Nothing lies at or below `start`: the first piece begins there.
        return [(after, min(after + size, upto)) for after in range(start, upto, size)]

    def leaf_hashes(
        self, bounds: Sequence[tuple[int, int]], end: tuple[int, int]
    ) -> LeafHashes:
        """The hashes of `leaves(bounds, end)`, in the same order, without building
        each leaf in Python where the compiled path can read the store."""
        upto = [end[0], end[1]]
        for bound in bounds:
            upto = [max(upto[0], bound[0]), max(upto[1], bound[1])]
        runs = self._hash_logs(upto)
        # Interleave the two logs segment by segment, as `leaves` does.
        hashes = bytearray()
        pieces: list[tuple[int, _Run, int]] = []  # (first leaf, run, first in run)
        taken = [0, 0]
        for bound in [*bounds, (upto[0], upto[1])]:
            for k, run in enumerate(runs):
                stop = max(bisect.bisect_right(run.positions, bound[k]), taken[k])
                if stop > taken[k]:
                    pieces.append((len(hashes) // HASH_SIZE, run, taken[k]))
                    hashes += run.hashes[taken[k] * HASH_SIZE : stop * HASH_SIZE]
                    taken[k] = stop
        starts = [piece[0] for piece in pieces]

        def where(index: int) -> str:
            first, run, offset = pieces[bisect.bisect_right(starts, index) - 1]
            return f"{run.log} log position {run.positions[offset + index - first]}"

        return LeafHashes(hashes, where)

    def segment_hashes(self, start: tuple[int, int], end: tuple[int, int]) -> bytes:
        """The leaf hashes of `segment(start, end)`, packed."""
        return bytes(
            self._hash_range("items", start[0], end[0]).hashes
            + self._hash_range("deliveries", start[1], end[1]).hashes
        )

    def segment(self, start: tuple[int, int], end: tuple[int, int]) -> Iterator[Leaf]:
        """The leaves between two pairs of positions, in leaf order."""
        yield from self.read("items", start[0], end[0])
        yield from self.read("deliveries", start[1], end[1])

    def leaves(
        self, bounds: Sequence[tuple[int, int]], end: tuple[int, int]
    ) -> Iterator[Leaf]:
        """Every leaf in leaf order: the segments cut by `bounds`, then up to `end`."""
        previous = (0, 0)
        for bound in [*bounds, end]:
            upto = (max(bound[0], previous[0]), max(bound[1], previous[1]))
            yield from self.segment(previous, upto)
            previous = upto


# -- keys and the store -------------------------------------------------------------------


def key_paths(project: Project) -> tuple[Path, Path]:
    """The home's signing key files (`Project.key_paths`)."""
    return project.key_paths()


def ensure_keys(project: Project) -> tuple[Verifier, bool]:
    """Create the home's signing key pair if there is none (`Project.ensure_keys`)."""
    return project.ensure_keys()


def retired_path(project: Project) -> Path:
    """keys/audit-retired.pub: the home's retired public keys, one per line, oldest
    first (`rotate_key` appends the key it retires)."""
    return project.home / "keys" / "audit-retired.pub"


def pending_path(project: Project) -> Path:
    """Where a rotation keeps the new private key until the rotation checkpoint is
    recorded: the private key file's name plus `.new`, beside it."""
    private, _ = key_paths(project)
    return private.with_name(private.name + ".new")


def load_signer(project: Project) -> Signer:
    """The home's signing key; ConfigurationError saying how to get one if missing."""
    private, _ = key_paths(project)
    try:
        return read_signer_file(private)
    except KeyFileError as exc:
        raise ConfigurationError(f"audit signing key: {exc}") from None


Keys = Verifier | Sequence[Verifier]


def key_set(keys: Keys) -> list[Verifier]:
    """A key or a sequence of keys as a list without repeats (order kept)."""
    return [keys] if isinstance(keys, Verifier) else list(dict.fromkeys(keys))


def read_trusted_keys(path: Path, *, what: str = "--pubkey") -> list[Verifier]:
    """The keys in a public key file an auditor gives (one per line); InputError naming
    `what` if it is not one."""
    if not path.is_file():
        raise InputError(f"{what} {path}: not found")
    try:
        return read_verifiers(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {path}: not a public key file ({exc})") from None


def read_trusted_key(path: Path, *, what: str = "--pubkey") -> Verifier:
    """The first key of a public key file (the current key of a home's key set)."""
    return read_trusted_keys(path, what=what)[0]


def load_verifier(project: Project, path: Path | None = None) -> Verifier:
    """The current public key: the first of `path` if given, else the home's."""
    if path is not None:
        return read_trusted_key(path)
    return load_keys(project)[0]


def load_keys(project: Project, paths: Sequence[Path] = ()) -> list[Verifier]:
    """The trusted key set: the keys of every file in `paths` (each one key per line),
    else the home's: its current public key first, then its retired keys, newest
    first."""
    if paths:
        return key_set([k for path in paths for k in read_trusted_keys(path)])
    _, public = key_paths(project)
    if not public.exists():
        raise InputError(
            f"{public}: no public key; run `syndicate init` to create the key pair"
        )
    keys = read_trusted_keys(public, what="public key")
    retired = retired_path(project)
    if retired.exists():
        keys += reversed(read_trusted_keys(retired, what="retired keys"))
    return key_set(keys)


def reachable_keys(records: Sequence[CheckpointRecord], keys: Keys) -> list[Verifier]:
    """`keys` and every key a trusted key handed over to by a rotation checkpoint among
    `records` (signed by both): the keys a kept checkpoint may be signed by."""
    found = key_set(keys)
    for record in records:
        try:
            body = Checkpoint.parse(record.note.rsplit("\n\n", 1)[0] + "\n")
            rotation = rotation_of(body)
        except (SignatureError, ValueError):
            continue
        if rotation is None or rotation[0] not in found or rotation[1] in found:
            continue
        try:
            rotation[0].verify(record.note)
            rotation[1].verify(record.note)
        except SignatureError:
            continue
        found.append(rotation[1])
    return found


def open_audit(project: Project, *, create_tables: bool = False) -> AuditStore:
    """Open the checkpoint store. Close it (or use `with`) when done."""
    create = create_tables or not project.store.is_postgres
    return AuditStore(project.store.env_for(AuditStore.name, create_tables=create))


# -- checkpoints --------------------------------------------------------------------------


def _bounds(records: Iterable[CheckpointRecord]) -> list[tuple[int, int]]:
    return [(r.items_position, r.deliveries_position) for r in records]


def checkpoint(
    store: AuditStore,
    reader: LogReader,
    signer: Signer,
    *,
    trigger: str,
    actor: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rotate_to: Signer | None = None,
) -> CheckpointRecord | None:
    """Sign and record a checkpoint of everything logged so far; None if nothing was
    logged since the newest checkpoint. Safe to call from several processes at once.

    `signer` must be the key in force (the newest checkpoint's signer, or the key it
    rotated to): else `StoreError`, nothing recorded. With `rotate_to`, the checkpoint
    is a rotation checkpoint (recorded even if nothing was logged): its body carries
    `key-rotation <signer's key> <rotate_to's key>` and it is signed by both, so a
    verifier who trusts the old key learns the new one from it."""
    for _ in range(5):
        latest = store.latest()
        if latest is not None and not _in_force(latest.note, signer.verifier()):
            raise StoreError(
                f"the signing key {signer.verifier().label} is not the key in force "
                f"after checkpoint #{latest.number} (it is not signed by it, or it "
                "rotated to another key): finish an interrupted rotation with "
                "`syndicate audit rotate-key`, or restore the signing key (see "
                "docs/audit.md, Keys)"
            )
        end = reader.ends()
        start = (
            (latest.items_position, latest.deliveries_position) if latest else (0, 0)
        )
        end = (max(end[0], start[0]), max(end[1], start[1]))
        if end == start and rotate_to is None:
            return None  # nothing logged since the newest checkpoint (or at all)
        tree = (
            CompactRange.resume(latest.size, latest.peaks) if latest else CompactRange()
        )
        segment = reader.segment_hashes(start, end)
        for offset in range(0, len(segment), HASH_SIZE):
            tree.append(segment[offset : offset + HASH_SIZE])
        extensions = [f"positions items={end[0]} deliveries={end[1]}"]
        signers = [signer]
        if rotate_to is not None:
            new = rotate_to.verifier()
            extensions.append(
                f"{ROTATION} {signer.verifier().to_text()} {new.to_text()}"
            )
            signers.append(rotate_to)
        body = Checkpoint(
            origin=signer.name,
            size=tree.size,
            root=tree.root(),
            extensions=tuple(extensions),
        )
        try:
            return store.record(
                number=(latest.number + 1) if latest else 1,
                origin=signer.name,
                size=tree.size,
                root=tree.root().hex(),
                items_position=end[0],
                deliveries_position=end[1],
                segment=base64.b64encode(segment).decode("ascii"),
                peaks=[p.hex() for p in tree.peaks],
                note=sign_note(body.body(), *signers),
                public_key=signers[-1].verifier().to_text(),
                trigger=trigger,
                actor=actor,
                timestamp=clock(),
            )
        except IntegrityError:
            continue  # another process recorded this number first: start again
    raise StoreError(
        "could not record a checkpoint: the checkpoint store refused the next number "
        "five times (another process kept checkpointing, or a row was put there by "
        "hand: run `syndicate audit verify`)"
    )


def _in_force(note: str, key: Verifier) -> bool:
    """Whether `key` is the key in force after the checkpoint `note`: it signed it, and
    it is not a rotation to another key."""
    try:
        rotation = rotation_of(Checkpoint.parse(key.verify(note)))
    except SignatureError:
        return False
    return rotation is None or rotation[1] == key


# -- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem `verify` found. `kind`: altered, deleted, inserted, reordered,
    truncated (events), or signature, checkpoint, consistency (checkpoints)."""

    kind: str
    message: str
    leaf_index: int | None = None
    checkpoint: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": self.message,
            "leaf_index": self.leaf_index,
            "checkpoint": self.checkpoint,
        }


@dataclass
class Verdict:
    """What `verify` concluded."""

    events: int = 0
    checkpoints: int = 0
    covered: int = 0
    root: bytes = b""
    key: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def uncovered(self) -> int:
        """Events logged after the newest checkpoint (not yet protected)."""
        return max(self.events - self.covered, 0)

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "covered": self.covered,
            "uncovered": self.uncovered,
            "root": self.root.hex(),
            "key": self.key,
            "findings": [f.as_json() for f in self.findings],
        }


@dataclass(frozen=True)
class _Signed:
    record: CheckpointRecord
    body: Checkpoint
    bounds: tuple[int, int]
    # The keys valid for it: the key in force, or for a rotation the old and new key.
    keys: tuple[Verifier, ...]
    # The key in force after it (for a rotation, the new key).
    key: Verifier


@dataclass(frozen=True)
class Kept:
    """A checkpoint an auditor kept, and the trusted keys that signed it."""

    body: Checkpoint
    keys: tuple[Verifier, ...]


def _check_checkpoints(
    records: Sequence[CheckpointRecord], keys: Keys, verdict: Verdict
) -> list[_Signed]:
    """The checkpoints whose signature, numbering and fields hold up; findings for the
    rest (any finding here already fails the verdict). Each checkpoint must be signed
    by the key valid for it (`KeyChain`): the first by a trusted key, later ones by the
    key in force, a rotation by the key in force and the new key."""
    chain = KeyChain(key_set(keys))
    trusted: list[_Signed] = []
    expected = 0
    for record in records:
        if record.problem:
            verdict.findings.append(Finding("checkpoint", record.problem))
            continue
        expected += 1
        label = f"checkpoint #{record.number}"
        if record.number != expected:
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label} is where #{expected} should be: a checkpoint was "
                    "removed, added or reordered",
                    checkpoint=record.number,
                )
            )
        before = chain.current
        try:
            body, key = chain.verify(record.note)
        except CheckpointFormatError as exc:  # signed, yet not a checkpoint body
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label}: its note is signed by the trusted key, but its body "
                    f"is not a checkpoint ({exc})",
                    checkpoint=record.number,
                )
            )
            continue
        except SignatureError as exc:
            by = ""
            try:
                other = Verifier.from_text(record.public_key)
                other.verify(record.note)
                if other not in (before, *chain.trusted):
                    by = f" (it is signed by another key, {other.label})"
            except ValueError:
                pass
            verdict.findings.append(
                Finding(
                    "signature",
                    f"{label} is not signed by the trusted key: {exc}{by}",
                    checkpoint=record.number,
                )
            )
            continue
        signer = before if before is not None else key
        rotation = rotation_of(body)
        if rotation is not None:
            signer = rotation[0]
        positions = [m for e in body.extensions if (m := _POSITIONS.fullmatch(e))]
        differ = [
            name
            for name, same in (
                ("origin", record.origin == body.origin == key.name),
                ("size", body.size == record.size),
                ("root", body.root == record.root),
                ("positions extension", len(positions) == 1),
                ("public_key", record.public_key == key.to_text()),
            )
            if not same
        ]
        if differ:
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label}: the recorded fields differ from what was signed "
                    f"({', '.join(differ)})",
                    checkpoint=record.number,
                )
            )
            continue
        bounds = (int(positions[0].group(1)), int(positions[0].group(2)))
        if bounds != (record.items_position, record.deliveries_position):
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label}: the recorded positions differ from the signed ones "
                    f"(items={bounds[0]} deliveries={bounds[1]})",
                    checkpoint=record.number,
                )
            )
            continue
        if trusted and (
            body.size < trusted[-1].body.size
            or bounds[0] < trusted[-1].bounds[0]
            or bounds[1] < trusted[-1].bounds[1]
        ):
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label} covers less than the checkpoint before it",
                    checkpoint=record.number,
                )
            )
            continue
        valid = (signer, key) if rotation is not None else (key,)
        trusted.append(_Signed(record, body, bounds, valid, key))
    return trusted


def _recorded_hashes(trusted: Sequence[_Signed]) -> list[bytes] | None:
    """The leaf hashes the checkpoints recorded, if they reproduce every signed root."""
    hashes: list[bytes] = []
    tree = CompactRange()
    for signed in trusted:
        segment = signed.record.segment
        if len(segment) % 32:
            return None
        for offset in range(0, len(segment), 32):
            digest = segment[offset : offset + 32]
            hashes.append(digest)
            tree.append(digest)
        if tree.size != signed.body.size or tree.root() != signed.body.root:
            return None
    return hashes


def _classify(recorded: Sequence[bytes], current: Sequence[bytes], i: int) -> str:
    """What kind of change makes `current` differ from `recorded` first at index i."""
    if i >= len(current):
        return "truncated"
    # Alignment first: the rest shifted by one means one leaf came in or went out,
    # even when that leaf is a copy of another event.
    ahead = recorded[i : i + 8]
    if ahead and current[i + 1 : i + 1 + len(ahead)] == ahead:
        return "inserted"
    behind = current[i : i + 8]
    if recorded[i + 1 : i + 1 + len(behind)] == behind and i + 1 < len(recorded):
        return "deleted"
    mine, theirs = recorded[i], current[i]
    now, then = set(current), set(recorded)
    if i + 1 < len(recorded) and theirs == recorded[i + 1] and mine not in now:
        return "deleted"
    if i + 1 < len(current) and current[i + 1] == mine and theirs not in then:
        return "inserted"
    if mine in now and theirs in then:
        return "reordered"
    if mine not in now and theirs not in then:
        return "altered"
    return "deleted" if mine not in now else "inserted"


def _describe(kind: str, index: int, where: str, number: int, size: int) -> str:
    text = {
        "altered": f"leaf {index} ({where}) was altered",
        "deleted": f"leaf {index} was deleted ({where} is now in its place)",
        "inserted": f"leaf {index} ({where}) was inserted",
        "reordered": f"leaf {index} ({where}) was moved: the log's events were "
        "reordered",
        "truncated": f"the log was truncated: it ends after leaf {index - 1}",
    }[kind]
    return f"{text}; checkpoint #{number} (signed over {size} events) no longer matches"


def _verify_leaves(
    leaves: LeafHashes, trusted: Sequence[_Signed], verdict: Verdict
) -> MerkleTree:
    tree = MerkleTree.packed(leaves.hashes)
    verdict.events = tree.size
    verdict.root = tree.root()
    previous: _Signed | None = None
    for signed in trusted:
        size, root = signed.body.size, signed.body.root
        number = signed.record.number
        matches = size <= tree.size and tree.root(size) == root
        if not matches:
            recorded = _recorded_hashes(trusted)
            current = tree.leaves()
            if recorded is not None:
                first = next(
                    (
                        i
                        for i in range(min(len(recorded), len(current)))
                        if recorded[i] != current[i]
                    ),
                    min(len(recorded), len(current)),
                )
                kind = _classify(recorded, current, first)
                at = (
                    leaves.where(first) if first < len(leaves) else "the end of the log"
                )
                verdict.findings.append(
                    Finding(
                        kind,
                        _describe(kind, first, at, number, size),
                        leaf_index=first,
                        checkpoint=number,
                    )
                )
            else:
                low = previous.body.size if previous else 0
                kind = "truncated" if size > tree.size else "altered"
                verdict.findings.append(
                    Finding(
                        kind,
                        f"checkpoint #{number} does not match the log: it changed "
                        f"within leaves {low}..{size - 1} (the recorded leaf hashes "
                        "were changed too, so the exact leaf cannot be named)",
                        leaf_index=low,
                        checkpoint=number,
                    )
                )
            return tree
        if previous is not None:
            old = previous.body
            try:
                proof = (
                    tree.consistency_proof(old.size, size)
                    if 0 < old.size < size
                    else []
                )
                if old.size > 0:
                    verify_consistency(old.size, size, proof, old.root, root)
            except (ProofError, ValueError) as exc:
                verdict.findings.append(
                    Finding(
                        "consistency",
                        f"checkpoints #{previous.record.number} and #{number} are not "
                        f"consistent: {exc}",
                        checkpoint=number,
                    )
                )
                return tree
        verdict.covered = size
        previous = signed
    _check_records(tree, leaves, trusted, verdict)
    return tree


def _check_records(
    tree: MerkleTree,
    leaves: LeafHashes,
    trusted: Sequence[_Signed],
    verdict: Verdict,
) -> None:
    """Once the log matches every signed root: the unsigned leaf hashes and peaks
    recorded with each checkpoint must be the log's own (an edited record would
    mislead whoever names a changed leaf or resumes the tree from it)."""
    start = 0
    for signed in trusted:
        record, size = signed.record, signed.body.size
        ours = bytes(leaves.hashes[start * HASH_SIZE : size * HASH_SIZE])
        if record.segment != ours or tuple(record.peaks) != tree.peaks(size):
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"checkpoint #{record.number}: its recorded leaf hashes or peaks "
                    "are not the log's (the record was edited beside its signed note)",
                    checkpoint=record.number,
                )
            )
            return
        start = size


def _check_kept(
    tree: MerkleTree,
    records: Sequence[CheckpointRecord],
    trusted: Sequence[_Signed],
    kept: Sequence[Kept | Checkpoint],
    verdict: Verdict,
) -> None:
    """What the recorded checkpoints cannot show alone: that there are any, and that
    none was removed or rewritten since the checkpoints an auditor kept."""
    if not trusted and not any(r.note for r in records) and tree.size:
        verdict.findings.append(
            Finding(
                "checkpoint",
                f"no signed checkpoint: nothing proves the log's {tree.size} events "
                "are unchanged (`syndicate audit checkpoint` makes one; auditors: "
                "compare with a checkpoint you kept, --checkpoint FILE)",
            )
        )
    # Several checkpoints may share a tree head (a rotation with nothing logged since).
    recorded: dict[tuple[int, bytes], list[_Signed]] = {}
    for signed in trusted:
        recorded.setdefault((signed.body.size, signed.body.root), []).append(signed)
    for one in kept:
        body = one.body if isinstance(one, Kept) else one
        label = f"the kept checkpoint of {body.size} events"
        if body.size > tree.size:
            verdict.findings.append(
                Finding(
                    "truncated",
                    f"{label} is longer than the log ({tree.size} events): the log "
                    "was truncated",
                    leaf_index=tree.size,
                )
            )
        elif tree.root(body.size) != body.root:
            verdict.findings.append(
                Finding(
                    "altered",
                    f"the log's first {body.size} events no longer give the root of "
                    f"{label}: events were altered, deleted, inserted or reordered",
                )
            )
        elif (body.size, body.root) not in recorded:
            verdict.findings.append(
                Finding(
                    "checkpoint",
                    f"{label} is not among the recorded checkpoints: recorded "
                    "checkpoints were removed",
                )
            )
        elif isinstance(one, Kept) and not any(
            k in match.keys
            for match in recorded[body.size, body.root]
            for k in one.keys
        ):
            match = recorded[body.size, body.root][-1]
            verdict.findings.append(
                Finding(
                    "signature",
                    f"{label} is signed by {', '.join(k.label for k in one.keys)}, "
                    f"not by the key valid for checkpoint #{match.record.number} "
                    f"({', '.join(k.label for k in match.keys)})",
                    checkpoint=match.record.number,
                )
            )


def _key_labels(trusted: Sequence[_Signed], keys: Keys) -> str:
    """The keys that signed the trusted checkpoints, oldest first (else the trusted)."""
    used = list(dict.fromkeys(k for s in trusted for k in s.keys)) or key_set(keys)
    return ", ".join(k.label for k in used)


def verify(
    reader: LogReader,
    records: Sequence[CheckpointRecord],
    keys: Keys,
    kept: Sequence[Kept | Checkpoint] = (),
) -> Verdict:
    """Recompute the tree from the stored events; check every checkpoint's signature
    (by the key valid for it, `KeyChain`), that each matches the log, that consecutive
    ones are consistent, and that the log still matches each checkpoint an auditor
    `kept` (already verified, `read_kept_checkpoint`)."""
    verdict = Verdict(checkpoints=_count(records))
    trusted = _check_checkpoints(records, keys, verdict)
    verdict.key = _key_labels(trusted, keys)
    bounds = [s.bounds for s in trusted]
    tree = _verify_leaves(reader.leaf_hashes(bounds, reader.ends()), trusted, verdict)
    verdict.findings += [
        Finding(
            "outside",
            f"{line}: the application reads it, the audit log does not cover it",
        )
        for line in reader.outside()
    ]
    _check_kept(tree, records, trusted, kept, verdict)
    return verdict


def _count(records: Sequence[CheckpointRecord]) -> int:
    return sum(1 for r in records if not r.problem)


# -- export -------------------------------------------------------------------------------

EVENTS_FILE = "events.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
PUBLIC_KEY_FILE = "public-key.txt"


def export_log(
    reader: LogReader,
    records: Sequence[CheckpointRecord],
    keys: Keys,
    out: Path,
    on_leaf: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Write the leaves (events.jsonl, in leaf order), the checkpoints (rotation
    checkpoints among them) and the public keys (public-key.txt: one per line, the
    current key first, then the retired ones) to `out`. Returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    bounds = _bounds(r for r in records if not r.problem)
    count = 0
    tmp = out / f".{EVENTS_FILE}.tmp"
    with tmp.open("wb") as events:
        for leaf in reader.leaves(bounds, reader.ends()):
            events.write(leaf.data + b"\n")
            count += 1
            if on_leaf:
                on_leaf()
        events.flush()
        os.fsync(events.fileno())
    tmp.replace(out / EVENTS_FILE)
    lines = "".join(
        json.dumps(r.as_json(), ensure_ascii=False, sort_keys=True) + "\n"
        for r in records
    )
    write_atomically(out / CHECKPOINTS_FILE, lines.encode("utf-8"))
    write_atomically(
        out / PUBLIC_KEY_FILE,
        "".join(k.to_text() + "\n" for k in key_set(keys)).encode(),
    )
    return {
        "events": count,
        "checkpoints": _count(records),
        "outside": len(reader.outside()),
    }


def read_export(directory: Path) -> tuple[list[Leaf], list[CheckpointRecord]]:
    """The leaves (in file order) and checkpoints of an export; InputError if a file is
    missing. A `checkpoints.jsonl` line that is not a record becomes an unreadable record
    (a `checkpoint` finding), like a garbled record in the store."""
    events = directory / EVENTS_FILE
    checkpoints = directory / CHECKPOINTS_FILE
    for path in (events, checkpoints):
        if not path.is_file():
            raise InputError(f"--export {directory}: no {path.name} (not an export?)")
    leaves: list[Leaf] = []
    with events.open("rb") as handle:
        for line in handle:
            data = line[:-1] if line.endswith(b"\n") else line
            log, position = "?", -1
            try:
                doc = json.loads(data)
                log, position = str(doc["log"]), int(doc["position"])
            except (ValueError, KeyError, TypeError):
                pass  # an unreadable line is still a leaf: its hash will not match
            leaves.append(Leaf(log, position, data))
    records: list[CheckpointRecord] = []
    for number, line in enumerate(checkpoints.read_bytes().splitlines(), start=1):
        try:
            doc = json.loads(line)
        except ValueError as exc:
            doc = exc
        if not isinstance(doc, dict) or not isinstance(doc.get("note"), str):
            # A garbled record is evidence, not bad input: a checkpoint finding (exit
            # 1), as a garbled record in the store is.
            records.append(
                CheckpointRecord.unreadable(
                    f"{CHECKPOINTS_FILE} line {number} is not a checkpoint record (a "
                    "JSON object with a `note`)"
                )
            )
            continue
        records.append(_record_as_given(doc))
    return leaves, records


def _record_as_given(doc: dict[str, Any]) -> CheckpointRecord:
    """A `checkpoints.jsonl` record whose unsigned fields may have been spoilt: a field
    that does not parse gets a value no signed note can match, so `verify` reports a
    checkpoint finding (exit 1) instead of refusing the export as unreadable."""

    def field_(key: str, parse: Callable[[Any], Any], spoilt: Any) -> Any:
        try:
            return parse(doc[key])
        except (ValueError, KeyError, TypeError):
            return spoilt

    return CheckpointRecord(
        number=field_("number", strict_int, -1),
        origin=field_("origin", strict_str, ""),
        size=field_("size", strict_int, -1),
        root=field_("root", strict_hex, b""),
        items_position=field_("items_position", strict_int, -1),
        deliveries_position=field_("deliveries_position", strict_int, -1),
        segment=field_("segment", strict_base64, b"\0"),
        peaks=field_(
            "peaks", lambda v: tuple(strict_hex(p) for p in strict_list(v)), (b"",)
        ),
        note=str(doc["note"]),
        public_key=field_("public_key", strict_str, ""),
        trigger=field_("trigger", strict_str, ""),
        actor=field_("actor", strict_str, ""),
        at=field_(
            "at",
            lambda v: datetime.fromisoformat(strict_str(v)),
            datetime.min.replace(tzinfo=UTC),
        ),
        problem=field_("problem", strict_str, ""),
    )


def verify_leaves(
    leaves: Sequence[Leaf],
    records: Sequence[CheckpointRecord],
    keys: Keys,
    kept: Sequence[Kept | Checkpoint] = (),
) -> Verdict:
    """`verify` over leaves already in leaf order (an export's lines, as given)."""
    verdict = Verdict(checkpoints=_count(records))
    trusted = _check_checkpoints(records, keys, verdict)
    verdict.key = _key_labels(trusted, keys)
    tree = _verify_leaves(LeafHashes.of(leaves), trusted, verdict)
    if not verdict.findings:
        _check_order(leaves, trusted, verdict)
    _check_kept(tree, records, trusted, kept, verdict)
    return verdict


def _check_order(
    leaves: Sequence[Leaf], trusted: Sequence[_Signed], verdict: Verdict
) -> None:
    """Leaves given in a file (an export) must be where the signed positions put them:
    in segment k, the items log's events with positions in (iₖ₋₁, iₖ] ascending, then
    the deliveries log's in (dₖ₋₁, dₖ] ascending; after the newest checkpoint, the same
    with no upper bound. (Read from a store, the order is built by that rule.)"""
    start, previous = 0, (0, 0)
    cuts: list[tuple[int, tuple[int, int] | None, int | None]] = [
        (s.body.size, s.bounds, s.record.number) for s in trusted
    ]
    cuts.append((len(leaves), None, None))
    for size, bounds, number in cuts:
        last = list(previous)
        phase = 0
        for index in range(start, min(size, len(leaves))):
            leaf = leaves[index]
            k = LOGS.index(leaf.log) if leaf.log in LOGS else -1
            if not (
                k >= phase
                and leaf.position > last[k]
                and (bounds is None or leaf.position <= bounds[k])
            ):
                if bounds is None:
                    rule = (
                        f"after checkpoint #{trusted[-1].record.number}: "
                        if trusted
                        else ""
                    ) + (
                        f"items log positions above {previous[0]}, then deliveries "
                        f"log positions above {previous[1]}"
                    )
                else:
                    rule = (
                        f"checkpoint #{number} signed items log positions "
                        f"{previous[0] + 1}..{bounds[0]}, then deliveries log positions "
                        f"{previous[1] + 1}..{bounds[1]}"
                    )
                verdict.findings.append(
                    Finding(
                        "reordered",
                        f"leaf {index} ({leaf.where()}) is not where the leaf order "
                        f"puts it ({rule}, each in position order)",
                        leaf_index=index,
                        checkpoint=number,
                    )
                )
                return
            phase, last[k] = k, leaf.position
        start = size
        if bounds is not None:
            previous = bounds


def verify_export(
    directory: Path, keys: Keys, kept: Sequence[Kept | Checkpoint] = ()
) -> Verdict:
    """`verify` over an export: no database, no network."""
    leaves, records = read_export(directory)
    return verify_leaves(leaves, records, keys, kept)


def read_kept_checkpoint(path: Path, keys: Keys) -> Kept:
    """A checkpoint an auditor kept (a signed note, such as the portal's
    .well-known/syndicate-audit/checkpoint.txt), verified with the trusted keys (give
    `reachable_keys` to accept keys a trusted key rotated to); InputError naming the
    file otherwise. `verify` then checks that it was signed by the key valid for it."""
    try:
        note = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--checkpoint {path}: cannot read ({exc})") from None
    signers: list[Verifier] = []
    problem = ""
    for key in key_set(keys):
        try:
            text = key.verify(note)
        except SignatureError as exc:
            problem = problem or str(exc)
            continue
        signers.append(key)
    if not signers:
        labels = ", ".join(k.label for k in key_set(keys))
        raise InputError(
            f"--checkpoint {path}: not a checkpoint signed by {labels} ({problem})"
        )
    verifier = signers[0]
    try:
        body = Checkpoint.parse(text)
    except SignatureError as exc:  # signed, but its body is not a checkpoint
        raise InputError(
            f"--checkpoint {path}: signed by {verifier.label}, but its body is not a "
            f"checkpoint ({exc})"
        ) from None
    if body.origin != verifier.name:
        raise InputError(
            f"--checkpoint {path}: a checkpoint of log {body.origin!r}, not of "
            f"{verifier.name!r}"
        )
    return Kept(body, tuple(signers))


# -- proofs -------------------------------------------------------------------------------


def prove(
    reader: LogReader,
    records: Sequence[CheckpointRecord],
    keys: Keys,
    wanted: Callable[[Leaf], bool],
) -> dict[str, Any]:
    """Inclusion proofs, against the newest checkpoint, for every leaf `wanted` picks.

    The bundle holds the signed checkpoint, the public key, and per leaf its index, data
    and audit path (base64), so `verify_proof` (or any RFC 6962 verifier) checks it
    offline. Leaves logged after that checkpoint are listed as not yet covered. If the
    key was rotated, the bundle (format `syndicate-inclusion-proofs/2`) also carries
    the rotation checkpoints' notes, oldest first, so a verifier who trusts an older
    key follows the handovers to the key that signed the checkpoint.
    """
    verdict = Verdict()
    trusted = _check_checkpoints(records, keys, verdict)
    if verdict.findings or not trusted:
        problem = verdict.findings[0].message if verdict.findings else "none yet"
        raise InputError(
            f"no trusted checkpoint to prove against ({problem}); run "
            "`syndicate audit checkpoint` (and `syndicate audit verify`)"
        )
    newest = trusted[-1]
    hashes = bytearray()
    picked: list[tuple[int, Leaf]] = []
    for index, leaf in enumerate(
        reader.leaves([s.bounds for s in trusted], reader.ends())
    ):
        hashes += leaf.hash
        if wanted(leaf):
            picked.append((index, leaf))
    tree = MerkleTree.packed(hashes)
    size = newest.body.size
    if tree.size < size or tree.root(size) != newest.body.root:
        raise InputError(
            "the log no longer matches the newest checkpoint; run "
            "`syndicate audit verify` to see where"
        )
    proofs = [
        {
            "leaf_index": index,
            "leaf": leaf.data.decode("utf-8"),
            "proof": [
                base64.b64encode(h).decode() for h in tree.inclusion_proof(index, size)
            ],
        }
        for index, leaf in picked
        if index < size
    ]
    rotations = [s.record.note for s in trusted if len(s.keys) > 1]
    bundle: dict[str, Any] = {
        "format": PROOFS_V2 if rotations else PROOFS_V1,
        "checkpoint": newest.record.note,
        "public_key": newest.key.to_text(),
        "tree_size": size,
        "proofs": proofs,
        "not_yet_covered": [leaf.where() for index, leaf in picked if index >= size],
    }
    if rotations:
        bundle["rotations"] = rotations
    return bundle


PROOFS_V1 = "syndicate-inclusion-proofs/1"
PROOFS_V2 = "syndicate-inclusion-proofs/2"  # /1 plus `rotations`


class ProofRejected(Exception):
    """A proof bundle is well formed but does not prove what it claims."""


_BUNDLE_KEYS = {
    "format",
    "checkpoint",
    "public_key",
    "tree_size",
    "proofs",
    "not_yet_covered",
}
_PROOF_KEYS = {"leaf_index", "leaf", "proof"}


def _bundle_key(bundle: dict[str, Any], keys: Keys) -> Verifier:
    """The key that signed a bundle's checkpoint, once it is trusted: in `keys`, or
    reached from a key in `keys` through the bundle's `rotations` (each signed by the
    key before it and by the new key, oldest first). ProofRejected otherwise."""
    trusted = key_set(keys)
    try:
        claimed = Verifier.from_text(strict_str(bundle["public_key"]))
    except (TypeError, ValueError):
        raise ProofRejected(
            "the bundle's public_key is not a key that signed its checkpoint"
        ) from None
    reached = list(trusted)
    for number, note in enumerate(bundle.get("rotations", []), start=1):
        try:
            _split = note.rsplit("\n\n", 1)[0] + "\n"
            rotation = rotation_of(Checkpoint.parse(_split))
            if rotation is None:
                raise SignatureError("it is not a rotation checkpoint")
            old, new = rotation
            if new in reached:
                continue
            if old not in reached:
                raise SignatureError(f"it hands over from {old.label}, not trusted")
            Checkpoint.parse(old.verify(note))
            new.verify(note)
        except SignatureError as exc:
            raise ProofRejected(
                f"the bundle's rotation {number} does not hand over from a trusted "
                f"key: {exc}"
            ) from None
        reached.append(new)
    if claimed not in reached:
        labels = ", ".join(k.label for k in trusted)
        raise ProofRejected(
            f"the bundle's public_key is not the key of a trusted signer: "
            f"{claimed.label} is not trusted ({labels}) and no rotation in the "
            "bundle hands over to it"
        )
    return claimed


def verify_proof(bundle: object, keys: Keys) -> list[str]:
    """Check a `prove` bundle offline; returns a line per proven event. Raises
    InputError if the bundle is malformed, ProofRejected if it does not verify.

    Every field is checked: `format`, the signed `checkpoint`, `public_key` (a
    trusted key's text, or one the bundle's `rotations` hand over to from a trusted
    key), `tree_size` (the note's size), `not_yet_covered` (a list of strings), and in
    each proof exactly `leaf_index` (an integer below the size), `leaf` (a string) and
    `proof` (a list of canonical base64 32-byte hashes)."""
    if not isinstance(bundle, dict):
        raise InputError("not a proof bundle: expected a JSON object")
    checkpoint_note, proofs = bundle.get("checkpoint"), bundle.get("proofs")
    if not isinstance(checkpoint_note, str) or not isinstance(proofs, list):
        raise InputError(
            "not a proof bundle: it needs a `checkpoint` text and a `proofs` list"
        )
    v2 = bundle.get("format") == PROOFS_V2
    fields = _BUNDLE_KEYS | {"rotations"} if v2 else _BUNDLE_KEYS
    unknown = sorted(set(bundle) - fields)
    missing = sorted(fields - set(bundle))
    if unknown or missing:
        raise InputError(
            "not a proof bundle of format syndicate-inclusion-proofs/1: "
            + "; ".join(
                part
                for part in (
                    f"unknown field(s) {', '.join(unknown)}" if unknown else "",
                    f"missing field(s) {', '.join(missing)}" if missing else "",
                )
                if part
            )
        )
    if bundle["format"] not in (PROOFS_V1, PROOFS_V2):
        raise InputError(
            f"not a proof bundle: format {bundle['format']!r}, expected "
            f"{PROOFS_V1!r} or {PROOFS_V2!r}"
        )
    rotations = bundle.get("rotations", [])
    if not isinstance(rotations, list) or not all(
        isinstance(r, str) for r in rotations
    ):
        raise InputError("not a proof bundle: `rotations` is not a list of notes")
    covered = bundle["not_yet_covered"]
    if not isinstance(covered, list) or not all(isinstance(c, str) for c in covered):
        raise InputError("not a proof bundle: `not_yet_covered` is not a list of text")
    verifier = _bundle_key(bundle, keys)
    try:
        text = verifier.verify(checkpoint_note)
    except SignatureError as exc:
        raise ProofRejected(f"the bundle's checkpoint does not verify: {exc}") from None
    try:
        body = Checkpoint.parse(text)
    except SignatureError as exc:  # signed, but its body is not a checkpoint
        raise ProofRejected(
            f"the bundle's checkpoint is signed by {verifier.label}, but its body is "
            f"not a checkpoint ({exc})"
        ) from None
    if body.origin != verifier.name:
        raise ProofRejected(
            f"the bundle's checkpoint is of log {body.origin!r}, not of "
            f"{verifier.name!r}"
        )
    if bundle["public_key"] != verifier.to_text():
        raise ProofRejected(
            f"the bundle's public_key is not the key that signed its checkpoint "
            f"({verifier.label})"
        )
    size = bundle["tree_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size != body.size:
        raise ProofRejected(
            f"the bundle's tree_size ({size!r}) is not its signed checkpoint's size "
            f"({body.size})"
        )
    if not proofs:
        raise ProofRejected("the bundle proves no events (its `proofs` list is empty)")
    lines: list[str] = []
    for number, entry in enumerate(proofs, start=1):
        try:
            if not isinstance(entry, dict):
                raise TypeError("not an object")
            if set(entry) != _PROOF_KEYS:
                raise ValueError(
                    f"fields {', '.join(sorted(entry))}, expected leaf, leaf_index, "
                    "proof"
                )
            data = strict_str(entry["leaf"]).encode("utf-8")
            index = strict_int(entry["leaf_index"])
            path = [strict_base64(p) for p in strict_list(entry["proof"])]
            if any(len(h) != HASH_SIZE for h in path):
                raise ValueError("a proof hash is not 32 bytes")
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"proofs entry {number}: malformed ({exc})") from None
        try:
            if not 0 <= index < body.size:
                raise ProofError(
                    f"leaf index {index} is not in the tree of {body.size} events"
                )
            verify_inclusion(leaf_hash(data), index, body.size, path, body.root)
        except ProofError as exc:
            raise ProofRejected(f"proof for leaf {index}: {exc}") from None
        try:
            doc = json.loads(data)
            doc = doc if isinstance(doc, dict) else {}
        except ValueError:
            doc = {}
        lines.append(
            f"leaf {index}: {doc.get('log')} log position {doc.get('position')} "
            f"({doc.get('topic')}) is in the log of {body.size} events signed by "
            f"{verifier.label}"
        )
    return lines
