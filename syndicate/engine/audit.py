"""Engine operations behind `syndicate audit …`: checkpoints and keys, verify, export,
prove, consistency, trail, replay, deadlines and reports.

Everything here only reads the two logs, except `record_checkpoint` and `rotate_key`,
which record a signed checkpoint. The checkpoint store and the Merkle log over both logs
are opened through `syndicate.audit.service.open_reader`.

What an auditor does without a home (a directory that is not a syndicate home, a copy of
an export or a proof bundle and a public key) needs no `Engine`: `open_export` /
`verify_export`, `open_proof` / `verify_proof_file`, `trusted_keys` and
`workday_calendar` are module functions.

```python
from syndicate.engine import Engine
from syndicate.engine.audit import verify_export

with Engine.open("/srv/disclosure") as engine:
    engine.record_checkpoint(actor="张三")
    engine.export_log(Path("audit-2026"))
verdict = verify_export(Path("audit-2026"), [Path("linxi-audit.pub")])
assert verdict.ok, verdict.findings
```
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from syndicate.audit import merkle
from syndicate.audit.consistency import Row
from syndicate.audit.deadlines import (
    DeadlineState,
    HolidayFileError,
    WorkdayCalendar,
    load_holiday_file,
)
from syndicate.audit.facts import (
    DeadlineFact,
    china_date,
    deadline_facts,
    first_public_publication,
    item_facts,
    outlet_info,
    report_data,
)
from syndicate.audit.log import (
    EVENTS_FILE,
    PUBLIC_KEY_FILE,
    Leaf,
    ProofRejected,
    Verdict,
    export_log,
    load_keys,
    open_audit,
    prove,
    reachable_keys,
    read_export,
    read_kept_checkpoint,
    read_trusted_keys,
    verify,
    verify_leaves,
    verify_proof,
)
from syndicate.audit.replay import ReplaySummary, parse_moment
from syndicate.audit.replay import replay as replay_as_of
from syndicate.audit.report import ReportData, write_report
from syndicate.audit.service import (
    consistency_rows,
    open_reader,
    read_model_findings,
    record_checkpoint,
    rotate_key,
    timetable_findings,
)
from syndicate.audit.store import CheckpointRecord
from syndicate.audit.trail import TrailRow
from syndicate.audit.trail import trail as item_trail
from syndicate.domain.base import format_time
from syndicate.domain.items import check_actor
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import DomainError, InputError, Problem
from syndicate.outlets import Outlet
from syndicate.signing import Verifier

__all__ = [
    "AuditOps",
    "ConsistencyReport",
    "DeadlineReport",
    "ExportResult",
    "ExportToVerify",
    "PreviewTarget",
    "ProofBundle",
    "ProofCheck",
    "ProofFile",
    "Reindexed",
    "ReplayRequest",
    "ReportResult",
    "Trail",
    "hashing_is_compiled",
    "open_export",
    "open_proof",
    "trusted_keys",
    "verify_export",
    "verify_proof_file",
    "workday_calendar",
]


# -- without a home: exports, proof bundles, keys, calendars ---------------------------


def hashing_is_compiled() -> bool:
    """Whether the compiled hashing module was built at install; without it the
    Merkle tree is computed in pure Python (same result, slower)."""
    return merkle.is_compiled()


def trusted_keys(files: Sequence[Path]) -> list[Verifier]:
    """The keys of every public key file (one key per line), in order, without
    repeats; `InputError` naming `--pubkey FILE` for a file that is not one."""
    return list(dict.fromkeys(k for f in files for k in read_trusted_keys(f)))


@dataclass(frozen=True)
class ExportToVerify:
    """An export (`AuditOps.export_log`) and the keys it is verified with.

    `own_key` is True when no key was pinned and the export's own public-key.txt is
    trusted: a verifier should say so, since whoever changed the log could have
    changed that file too.
    """

    directory: Path
    keys: list[Verifier]
    own_key: bool

    def verify(self, kept: Sequence[Path] = ()) -> Verdict:
        """Recompute the Merkle tree of the export and check every checkpoint, and each
        `kept` signed checkpoint file (see `syndicate.audit.log.verify`). Raises
        `InputError` for an unreadable export or kept checkpoint; a changed log is a
        verdict with findings, not an error."""
        leaves, records = read_export(self.directory)
        reached = reachable_keys(records, self.keys)
        signed = [read_kept_checkpoint(f, reached) for f in kept]
        return verify_leaves(leaves, records, self.keys, signed)


def open_export(directory: Path, pubkeys: Sequence[Path] = ()) -> ExportToVerify:
    """An export to verify, trusting the keys of `pubkeys` (or, if none is given, the
    export's own public-key.txt). Raises `InputError` if `directory` holds no
    events.jsonl or a key file is not one."""
    if not (directory / EVENTS_FILE).is_file():
        raise InputError(
            f"--export {directory}: no {EVENTS_FILE} (not an `audit export`?)"
        )
    keys = trusted_keys(list(pubkeys) or [directory / PUBLIC_KEY_FILE])
    return ExportToVerify(directory, keys, own_key=not pubkeys)


def verify_export(
    directory: Path, pubkeys: Sequence[Path] = (), kept: Sequence[Path] = ()
) -> Verdict:
    """`open_export(directory, pubkeys).verify(kept)`: verify an export offline."""
    return open_export(directory, pubkeys).verify(kept)


@dataclass(frozen=True)
class ProofCheck:
    """What checking a proof bundle concluded: `proven` has one line per event it
    proves; when not `ok`, `problem` says why it proves nothing."""

    ok: bool
    proven: list[str]
    problem: str | None

    def as_json(self) -> dict[str, object]:
        """The object `audit verify --proof --json` prints."""
        return {"ok": self.ok, "proven": self.proven, "problem": self.problem}


@dataclass(frozen=True)
class ProofFile:
    """An inclusion-proof bundle read from a file, and the keys it is checked with
    (`own_key`: no key was pinned, so the bundle's own public_key is trusted)."""

    path: Path
    bundle: dict[str, Any]
    keys: Verifier | list[Verifier]
    own_key: bool

    def check(self) -> ProofCheck:
        """Verify the bundle offline (`syndicate.audit.log.verify_proof`). Raises
        `InputError` for a malformed bundle; one that does not prove what it claims is
        a `ProofCheck` that is not ok."""
        try:
            lines = verify_proof(self.bundle, self.keys)
        except ProofRejected as exc:
            return ProofCheck(ok=False, proven=[], problem=str(exc))
        return ProofCheck(ok=True, proven=lines, problem=None)


def open_proof(path: Path, pubkeys: Sequence[Path] = ()) -> ProofFile:
    """A proof bundle (`AuditOps.prove`) to check with the keys of `pubkeys`, or, if
    none is given, with its own public_key. Raises `InputError` if the file cannot be
    read, is not a JSON object, or (unpinned) its public_key is not a key."""
    try:
        bundle = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"--proof {path}: cannot read ({exc})") from None
    if not isinstance(bundle, dict):
        raise InputError(f"--proof {path}: not a proof bundle (a JSON object)")
    if pubkeys:
        return ProofFile(path, bundle, trusted_keys(pubkeys), own_key=False)
    try:
        key = Verifier.from_text(str(bundle.get("public_key", "")))
    except ValueError as exc:
        raise InputError(
            f"--proof {path}: its public_key is not a key ({exc})"
        ) from None
    return ProofFile(path, bundle, key, own_key=True)


def verify_proof_file(path: Path, pubkeys: Sequence[Path] = ()) -> ProofCheck:
    """`open_proof(path, pubkeys).check()`: check a proof bundle offline."""
    return open_proof(path, pubkeys).check()


def workday_calendar(holidays: Path | None = None) -> WorkdayCalendar:
    """The official working-day calendar, with a holiday file's days (one
    'YYYY-MM-DD off|work' a line) for years it does not cover; `InputError` naming
    `--holidays` if that file cannot be read or is wrong."""
    if holidays is None:
        return WorkdayCalendar()
    try:
        return WorkdayCalendar(load_holiday_file(holidays))
    except HolidayFileError as exc:
        raise InputError([Problem("--holidays", str(exc))]) from None
    except OSError as exc:
        raise InputError(
            [Problem("--holidays", f"cannot read {holidays}: {exc.strerror or exc}")]
        ) from None


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    """What `export_log` wrote; `outside`: stored rows outside the positions the audit
    log covers (not exported; `verify_log` on the store says more)."""

    directory: Path
    events: int
    checkpoints: int
    outside: int


@dataclass(frozen=True)
class Reindexed:
    """What `reindex` did: the deliveries read model folded from the log up to
    `position`, with one row per delivery (`rows`); the timetable folded from the
    items log up to `timetable_position`, with one row per item ever timed
    (`timetable_rows`); `differed`: how many rows the old ones had wrong or missing
    (what `verify_log` reported)."""

    position: int
    rows: int
    differed: int
    timetable_position: int = 0
    timetable_rows: int = 0


@dataclass(frozen=True)
class ProofBundle:
    """Inclusion proofs for an item's events against the newest checkpoint (the
    `syndicate-inclusion-proofs` JSON object, in `bundle`)."""

    bundle: dict[str, Any]

    @property
    def proofs(self) -> int:
        """How many events it proves."""
        return len(self.bundle["proofs"])

    @property
    def not_yet_covered(self) -> int:
        """How many of the item's events are newer than the newest checkpoint."""
        return len(self.bundle["not_yet_covered"])

    def text(self) -> str:
        """The bundle as the JSON text `audit prove` writes (with a final newline)."""
        return json.dumps(self.bundle, ensure_ascii=False, indent=1) + "\n"

    def write(self, path: Path) -> None:
        """Write `text()` to `path`."""
        path.write_text(self.text(), "utf-8")


@dataclass(frozen=True)
class ConsistencyReport:
    """Every (item, outlet) and outlet file compared with the log, and the configured
    outlets that were not checked because they do not load (name: why)."""

    rows: list[Row]
    problems: dict[str, str]

    @property
    def mismatched(self) -> list[Row]:
        """The rows that are not consistent."""
        return [r for r in self.rows if not r.ok]


@dataclass(frozen=True)
class Trail:
    """Every event about one item in both logs, in time order (`TrailRow.sort_key`)."""

    item_id: UUID
    ref: str
    rows: list[TrailRow]

    @property
    def deliveries(self) -> int:
        """How many deliveries of the item the trail holds."""
        return len({r.delivery_id for r in self.rows if r.delivery_id})

    @property
    def outlets(self) -> int:
        """To how many outlets."""
        return len({r.outlet for r in self.rows if r.outlet})


@dataclass(frozen=True)
class ReplayRequest:
    """What `AuditOps.replay` rebuilds: the outlets (or `outlet`) as of `as_of`, into
    the new or empty directory `out`. `day` is set when the moment was given as a date
    alone: if that is today (in China), the replay runs until now, not the end of the
    day."""

    as_of: datetime
    out: Path
    outlet: str | None = None
    day: date | None = None

    @classmethod
    def parse(cls, as_of: str, out: Path, outlet: str | None = None) -> ReplayRequest:
        """A request from an operator's text (see `syndicate.audit.replay.parse_moment`:
        a date, a China-time moment, or one with an offset). Raises `InputError` naming
        `--as-of` or `--out` for a bad moment or an `out` that is not new or empty."""
        try:
            moment = parse_moment(as_of)
        except ValueError as exc:
            raise InputError([Problem("--as-of", str(exc))]) from None
        _check_out(out)
        return cls(moment, out, outlet, _date_alone(as_of))


def _date_alone(text: str) -> date | None:
    """The date `text` gives, if it is a date alone (YYYY-MM-DD)."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if len(value) == 10 else None


def _check_out(out: Path) -> bool:
    """Refuse an `out` that would mix a replay with other files; True if it exists."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise InputError([Problem("--out", f"{out} exists and is not a directory")])
    if any(out.iterdir()):
        raise InputError(
            [
                Problem(
                    "--out",
                    f"{out} is not empty; give a new or empty directory (a replay never "
                    "mixes with older files)",
                )
            ]
        )
    return True


# The order `DeadlineReport.counts` (and the summary line) give the states in.
_STATES = (
    DeadlineState.MET,
    DeadlineState.LATE,
    DeadlineState.OPEN,
    DeadlineState.DUE_SOON,
)


@dataclass(frozen=True)
class DeadlineReport:
    """Proactively disclosed items against their statutory deadline as of `today`;
    `public_outlets`: the outlets whose publication counts (none: nothing counts as
    published); `warnings`: years the working-day calendar does not cover."""

    today: date
    public_outlets: list[str]
    items: list[DeadlineFact]
    warnings: list[str]

    @property
    def counts(self) -> dict[DeadlineState, int]:
        """How many items are in each state (met, late, open, due soon)."""
        return {s: sum(1 for f in self.items if f.deadline.state is s) for s in _STATES}

    def as_json(self) -> dict[str, object]:
        """The object `audit deadlines --json` prints."""
        return {
            "today": self.today.isoformat(),
            "public_outlets": self.public_outlets,
            "items": [f.as_json() for f in self.items],
            "summary": {s.value: n for s, n in self.counts.items()},
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class ReportResult:
    """What `report` read (`data`) and the files it wrote, index.html first;
    `warnings`: years the working-day calendar does not cover."""

    data: ReportData
    files: list[Path]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PreviewTarget:
    """The outlet `syndicate serve` previews and the folder it writes to."""

    name: str
    kind: str
    folder: Path


# -- operations on a home ----------------------------------------------------------------


class AuditOps(EngineBase):
    """Engine operations: checkpoints, keys, verify, export, prove, consistency, trail,
    replay, deadlines, report (and the outlet folder `serve` previews)."""

    # -- the signed Merkle log ----------------------------------------------------------

    def record_checkpoint(self, *, actor: str, trigger: str = "manual") -> str:
        """Sign the tree head over both logs and record it as a checkpoint, then publish
        it on the outlets that witness checkpoints; a line saying what happened (or that
        the newest checkpoint already covers every event). Raises `InputError` /
        `ConfigurationError` if the signing key is missing or wrong."""
        actor = check_actor(actor)
        with store_errors():
            return record_checkpoint(self.project, trigger=trigger, actor=actor)

    def checkpoints(self) -> list[CheckpointRecord]:
        """The recorded checkpoints, oldest first (unreadable rows included, with their
        `problem`)."""
        with store_errors(), open_audit(self.project) as store:
            return list(store.checkpoints())

    def public_keys(self) -> list[Verifier]:
        """The keys that verify this home's checkpoints: the current key first, then
        the retired ones, newest first. `InputError` if there is no key pair."""
        return load_keys(self.project)

    def rotate_key(self, *, actor: str) -> str:
        """Replace the signing key, handed over in a checkpoint signed by both keys (see
        `syndicate.audit.service.rotate_key`; running it again finishes an interrupted
        rotation); a line saying what happened."""
        actor = check_actor(actor)
        with store_errors():
            return rotate_key(self.project, actor=actor)

    def verify_log(
        self, pubkeys: Sequence[Path] = (), kept: Sequence[Path] = ()
    ) -> Verdict:
        """Recompute the Merkle tree over the store and check every checkpoint, and each
        `kept` signed checkpoint file, with the keys of `pubkeys` (default: the home's).
        A changed log is a verdict with findings; `InputError` for a bad key or kept
        checkpoint file."""
        keys = load_keys(self.project, pubkeys)
        with store_errors(), open_reader(self.project) as (store, reader):
            records = list(store.checkpoints())
            reached = reachable_keys(records, keys)
            signed = [read_kept_checkpoint(f, reached) for f in kept]
            verdict = verify(reader, records, keys, signed)
            verdict.findings += read_model_findings(
                self.deliveries, self._sqlite_file()
            )
            verdict.findings += timetable_findings(self.items)
            return verdict

    def _sqlite_file(self) -> Path | None:
        """The deliveries log's SQLite file (None on PostgreSQL)."""
        store = self.project.store
        return None if store.is_postgres else store.sqlite_path(self.deliveries.name)

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> Reindexed:
        """Rebuild the deliveries read model (`syndicate.deliveryindex`) from the log:
        after `verify_log` reports a "read-model" finding, or to start afresh. Every
        command keeps it up to date by itself; nothing is lost by rebuilding it.
        `progress(done, total)` is told of the events folded."""
        with store_errors():
            differed = len(read_model_findings(self.deliveries, self._sqlite_file()))
            differed += len(timetable_findings(self.items))
            total = (self.deliveries.recorder.max_notification_id() or 0) + (
                self.items.recorder.max_notification_id() or 0
            )
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                if progress is not None:
                    progress(min(done, total), total)

            position = self.deliveries.index.rebuild(advance)
            rows = len(self.deliveries.index.rows())
            # The timetable reads only the items log's time-relevant events.
            timed = self.items.timetable.rebuild(advance)
            timed_rows = len(self.items.timetable.stored()[1])
            if progress is not None:
                progress(total, total)
        return Reindexed(
            position=position,
            rows=rows,
            differed=differed,
            timetable_position=timed,
            timetable_rows=timed_rows,
        )

    def export_log(self, out: Path) -> ExportResult:
        """Write the audit log for an auditor into `out` (a new or empty directory):
        events.jsonl, checkpoints.jsonl and public-key.txt (docs/audit.md). Raises
        `InputError` if `out` is not empty."""
        keys = load_keys(self.project)
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: not a directory; export into a new directory")
        if out.exists() and any(out.iterdir()):
            raise InputError(f"{out}: not empty; export into a new directory")
        with store_errors(), open_reader(self.project) as (store, reader):
            counts = export_log(reader, list(store.checkpoints()), keys, out)
        return ExportResult(
            directory=out,
            events=counts["events"],
            checkpoints=counts["checkpoints"],
            outside=counts.get("outside", 0),
        )

    def prove(self, ref: str) -> ProofBundle:
        """Inclusion proofs for the events of the item `ref` names (items log) and of
        its deliveries (deliveries log) against the newest trusted checkpoint. Raises
        `ItemNotFound`, or `InputError` if there is no trusted checkpoint or the log no
        longer matches it."""
        keys = load_keys(self.project)
        with store_errors():
            item_id = str(self.items.resolve(ref))
            # From the log itself, not the read model: a proof names what the log has.
            ids = {
                str(d.id)
                for d in self.deliveries.all_deliveries().values()
                if str(d.item_id) == item_id
            } | {item_id}

            def wanted(leaf: Leaf) -> bool:
                doc = json.loads(leaf.data)
                return str(doc["originator_id"]) in ids

            with open_reader(self.project) as (store, reader):
                return ProofBundle(
                    prove(reader, list(store.checkpoints()), keys, wanted)
                )

    # -- outlets against the log ----------------------------------------------------------

    def consistency(
        self, outlet: str | None = None, *, exclude: Collection[str] = ()
    ) -> ConsistencyReport:
        """Compare every outlet (or `outlet`) but those in `exclude` with the log, per
        item and per file (see `syndicate.audit.consistency`). Outlets that do not load
        are not checked (named in `problems`); `InputError` for an `outlet` not in
        syndicate.toml."""
        outlets, problems = self.project.outlets_for_reading()
        outlets = {n: o for n, o in outlets.items() if n not in exclude}
        if outlet is not None and outlet not in outlets and outlet not in problems:
            raise InputError(f"--outlet {outlet}: no such outlet in syndicate.toml")
        with store_errors():
            rows = consistency_rows(self.project, outlets, outlet, now=self.clock())
        return ConsistencyReport(rows, problems)

    def preview_target(self, outlet: str | None = None) -> PreviewTarget:
        """The outlet whose folder `syndicate serve` previews: `outlet`, else the one
        portal outlet (else the one outlet) that writes files to a folder. Raises
        `InputError` if that is not one outlet writing to a folder, `DomainError` if the
        folder does not exist yet."""
        outlets, problems = self.project.outlets_for_reading()
        foldered = {
            n: o
            for n, o in outlets.items()
            if isinstance(getattr(o.settings, "path", None), Path)
        }
        if outlet is not None:
            if outlet in problems:
                raise InputError(f"--outlet: {problems[outlet]}")
            if outlet not in outlets:
                raise InputError(
                    f"--outlet: no outlet {outlet!r} in syndicate.toml "
                    f"(outlets: {', '.join(sorted(outlets)) or 'none'})"
                )
            if outlet not in foldered:
                raise InputError(
                    f"--outlet: {outlet} ({outlets[outlet].kind}) does not write files "
                    "to a folder, so there is nothing to preview"
                )
            chosen = foldered[outlet]
        else:
            portals = [o for o in foldered.values() if o.kind == "portal"]
            candidates = portals or list(foldered.values())
            if len(candidates) != 1:
                names = ", ".join(sorted(foldered)) or "none"
                raise InputError(
                    f"--outlet: say which outlet to preview (outlets with files: {names})"
                )
            chosen = candidates[0]
        folder: Path = chosen.settings.path  # type: ignore[attr-defined]
        if not folder.is_dir():
            raise DomainError(
                f"outlet {chosen.name} has nothing at {folder} yet; run `syndicate "
                "sync` first"
            )
        return PreviewTarget(chosen.name, chosen.kind, folder)

    # -- reading the logs -----------------------------------------------------------------

    def trail(self, ref: str) -> Trail:
        """Every event about the item `ref` names, in both logs, in time order.
        `ItemNotFound` if there is no such item."""
        with store_errors():
            item_id = self.items.resolve(ref)
            rows = item_trail(self.items, self.deliveries, item_id)
            return Trail(item_id, self.items.get(item_id).ref, rows)

    def replay(
        self,
        request: ReplayRequest,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplaySummary:
        """Rebuild from the log alone what each outlet showed at `request.as_of`, render
        it again and compare it with the sha256 the log recorded, writing the files
        under `request.out` (see `syndicate.audit.replay.replay`). `progress(done,
        total)` is told how far the deliveries log has been read.

        Raises `InputError` for a moment in the future, an `out` that is not new or
        empty, or an outlet neither configured nor in the log (then nothing is left in
        `out`). Mismatches are in the summary, not errors.
        """
        existed = _check_out(request.out)
        with store_errors():
            now = self.clock()
            moment = request.as_of
            if moment > now and request.day == china_date(now):
                moment = now  # "as of today": until now
            if moment > now:
                raise InputError(
                    [
                        Problem(
                            "--as-of",
                            f"{format_time(moment)} is in the future (it is "
                            f"{format_time(now)} now, China time)",
                        )
                    ]
                )
            outlets, problems, kinds = self._outlets_with_kinds()
            total = self.deliveries.recorder.max_notification_id() or 0

            def on_page(position: int) -> None:
                if progress is not None:
                    progress(position, total)

            summary = replay_as_of(
                self.items,
                self.deliveries,
                as_of=moment,
                out=request.out,
                outlets=outlets,
                kinds=kinds,
                problems=problems,
                only=request.outlet,
                attachments=self.project.attachments.root,
                on_page=on_page,
            )
        if request.outlet is not None and not summary.outlets:
            # Nothing to replay (nothing but replay.json was written): leave `out` as
            # it was found.
            summary.path.unlink(missing_ok=True)
            if not existed:
                request.out.rmdir()
            raise InputError(
                [
                    Problem(
                        "--outlet",
                        f"no outlet {request.outlet!r} is configured or in the log",
                    )
                ]
            )
        return summary

    def deadlines(
        self, today: date | None = None, calendar: WorkdayCalendar | None = None
    ) -> DeadlineReport:
        """Proactively disclosed items against Art. 26 (20 working days from the first
        version's formed_on; a released change of the information, changed_on, gets a
        fact of its own; an item scheduled after its due day is late already), counted as of `today` (default: today in China) with
        `calendar` (default: the official one; see `workday_calendar`). Under review
        the first version is the draft and publication comes only after the first
        release, so an item still under review counts as not published; each item
        says what waits for review (`DeadlineFact.review`)."""
        calendar = calendar if calendar is not None else WorkdayCalendar()
        with store_errors():
            day = today or china_date(self.clock())
            outlets, _, kinds = self._outlets_with_kinds()
            public = {n for n in kinds if outlet_info(outlets, kinds, n).public}
            facts = item_facts(self.items)
            wanted = [f.id for f in facts.values() if f.proactive]
            published = first_public_publication(self.deliveries, wanted, public)
            found = deadline_facts(facts, published, today=day, calendar=calendar)
        return DeadlineReport(day, sorted(public), found, calendar.warnings())

    def report(
        self,
        out: Path,
        *,
        year: int | None = None,
        calendar: WorkdayCalendar | None = None,
    ) -> ReportResult:
        """Write the HTML report (index.html) and one CSV per table into `out` (created
        if needed; files of the same names are replaced); with `year`, the annual
        statistics too; when the home reviews items (or its log holds review events),
        the 先审后发 sections (urgent releases, time in review, returns). `InputError`
        if `out` exists and is not a directory."""
        calendar = calendar if calendar is not None else WorkdayCalendar()
        if out.exists() and not out.is_dir():
            raise InputError([Problem("--out", f"{out} exists and is not a directory")])
        with store_errors():
            outlets, problems, kinds = self._outlets_with_kinds()
            data = report_data(
                self.items,
                self.deliveries,
                outlets=outlets,
                kinds=kinds,
                problems=problems,
                now=self.clock(),
                calendar=calendar,
                year=year,
                review=self.project.review.on,
            )
        return ReportResult(data, write_report(data, out), calendar.warnings())

    def _outlets_with_kinds(
        self,
    ) -> tuple[dict[str, Outlet], dict[str, str], Mapping[str, str | None]]:
        """Outlets that load for reading (unset secrets do not stop them), the problems
        of those that do not, and every configured outlet's kind."""
        outlets, problems = self.project.outlets_for_reading()
        kinds = {n: self.project.outlet_kind(n) for n in [*outlets, *problems]}
        return outlets, problems, kinds
