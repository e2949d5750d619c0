"""Repair: write back, from the log, the files of an outlet that drifted or went missing.

For each outlet whose adapter offers `expected_files` (portal, feeds, kiosk, directory),
the expected folder is built in a scratch folder exactly as `audit consistency` builds it
and compared with the live folder (`compare_folder`). Then:

- a **drifted** or **missing** file is written back from the expected copy (or, for an
  attachment, streamed from the attachment store): to a temporary name in the same
  folder, fsynced, then renamed over the old one, so a reader never sees half a file. A
  symbolic link or special file in its place is replaced, never followed; a *folder* in
  its place is left alone (it may hold anything) and reported;
- an **extra** file (one the log never produced) is reported, and deleted only when the
  caller asks (`delete_extra`): it may be a file someone put there on purpose (a
  verification file of a search engine, a hand-made page), and deleting it cannot be
  undone. A symbolic link is deleted as a link, never its target; folders are never
  removed;
- a file that cannot be read is reported and left alone;
- nothing is written through a folder that is a symbolic link: a parent that is not a
  real folder under the outlet's folder stops that file (reported).

What was done is recorded as `Delivery.Repaired` events on the deliveries whose
renditions account for the files (see `syndicate.domain.deliveries`), after the files
are written, in one transaction per outlet; only what was actually written or deleted is
recorded. Running it again finds nothing to do and records nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from syndicate.audit.consistency import (
    FileFinding,
    Witnessed,
    compare_folder,
    expected_folder,
    nested_folders,
    shown_path,
)
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.errors import ConflictError
from syndicate.fsutil import fsync_dir, replacing
from syndicate.outletset import OutletSet

__all__ = ["OutletRepair", "repair_outlets"]


@dataclass
class OutletRepair:
    """What `repair_outlets` did on one outlet."""

    outlet: str
    rewritten: dict[str, str] = field(default_factory=dict)  # path -> sha256
    removed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # left in place
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    events: int = 0

    @property
    def clean(self) -> bool:
        """Nothing is left that `audit consistency` would report as a file mismatch."""
        return not self.extra and not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "outlet": self.outlet,
            "rewritten": dict(self.rewritten),
            "removed": list(self.removed),
            "extra": list(self.extra),
            "problems": [{"path": p, "why": w} for p, w in self.problems],
            "events": self.events,
            "clean": self.clean,
        }


def _real_parents(root: Path, relative: str) -> str | None:
    """Why a file cannot be written at `relative` under `root` (a parent that is a link
    or not a folder), or None when every existing parent is a real folder."""
    here = root
    for part in Path(relative).parts[:-1]:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return None  # created as a real folder when written
        if stat.S_ISLNK(mode):
            return f"{shown_path(here.relative_to(root).as_posix())} is a symbolic link"
        if not stat.S_ISDIR(mode):
            return f"{shown_path(here.relative_to(root).as_posix())} is not a folder"
    return None


def _install(source: Path, target: Path) -> str:
    """Copy `source` over `target` atomically (streamed; the link or special file at
    `target` is replaced, never followed); the sha256 of the bytes written."""
    digest = hashlib.sha256()
    with replacing(target) as out, source.open("rb") as src:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _fix(
    finding: FileFinding,
    root: Path,
    source: Path,
    result: OutletRepair,
    delete_extra: bool,
) -> None:
    path = finding.path
    if finding.verdict == "read failed":
        result.problems.append((path, f"cannot be read: {finding.detail}"))
        return
    if finding.verdict == "extra":
        if not delete_extra:
            result.extra.append(path)
            return
        try:
            (root / finding.raw).unlink()  # a link is removed as a link
            fsync_dir((root / finding.raw).parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            result.problems.append((path, f"cannot delete: {exc.strerror or exc}"))
            return
        result.removed.append(path)
        return
    if finding.kind == "folder":
        result.problems.append(
            (path, "a folder is where the file belongs; move it away, then repair")
        )
        return
    blocked = _real_parents(root, finding.raw)
    if blocked is not None:
        result.problems.append((path, f"not written: {blocked}"))
        return
    try:
        result.rewritten[path] = _install(source, root / finding.raw)
    except OSError as exc:
        result.problems.append((path, f"cannot write: {exc.strerror or exc}"))


def _record(
    outlets: OutletSet,
    used: Sequence[Delivery],
    findings: dict[str, FileFinding],
    result: OutletRepair,
    actor: str,
    at: datetime,
) -> None:
    """`Delivery.Repaired` on the deliveries that account for what was done."""
    if not used or not (result.rewritten or result.removed):
        return
    by_item = {d.item_id: d for d in used}
    newest = max(used, key=lambda d: (d.position, d.item_version))
    rewritten: dict[UUID, dict[str, str]] = {}
    removed: dict[UUID, list[str]] = {}
    for path, sha in result.rewritten.items():
        owners = [by_item[o] for o in findings[path].owners if o in by_item]
        for d in owners or [newest]:
            rewritten.setdefault(d.id, {})[path] = sha
    for path in result.removed:
        removed.setdefault(newest.id, []).append(path)
    ids = sorted({*rewritten, *removed})
    for _ in range(5):
        fresh = [outlets.deliveries.delivery(i) for i in ids]
        for d in fresh:
            d.record(
                Delivery.Repaired,
                at=at,
                actor=actor,
                rewritten=rewritten.get(d.id, {}),
                removed=removed.get(d.id, []),
            )
        try:
            outlets.deliveries.save(*fresh)
        except IntegrityError:
            continue  # a worker appended meanwhile: load again and append after it
        result.events = len(fresh)
        return
    raise ConflictError(
        f"outlet {result.outlet}: files were repaired, but recording it kept "
        "conflicting with other writers; run `syndicate repair` again to record it"
    )


def repair_outlets(
    outlet_set: OutletSet,
    outlets: Iterable[str],
    *,
    actor: str,
    clock: Callable[[], datetime],
    item: UUID | None = None,
    witnessed: Witnessed = None,
    delete_extra: bool = False,
) -> list[OutletRepair]:
    """Repair the files of the outlets of `outlet_set` named in `outlets` (those whose
    adapter can say what they should hold; others are skipped), and record it in the
    set's deliveries log. With `item`, only that item's own files (its page,
    attachments, document, kiosk file), on every outlet that has any."""
    view = outlet_set.deliveries.all_deliveries()
    results: list[OutletRepair] = []
    now = clock()
    for name in outlets:
        busy = sorted(
            str(d.id)[:8]
            for d in view.values()
            if d.outlet == name
            and d.state is DeliveryState.CLAIMED
            and not d.is_due(now)
        )
        if busy:
            # A worker holds a live claim: it may be writing this folder now, and the
            # log does not say so yet. Repairing from the log could put back what it
            # just replaced; wait until the outlet is idle.
            result = OutletRepair(name)
            result.problems.append(
                (
                    "-",
                    f"a worker is delivering to {name} now (delivery "
                    f"{', '.join(busy)}); run repair again when it is idle",
                )
            )
            results.append(result)
            continue
        with tempfile.TemporaryDirectory(prefix="syndicate-repair-") as tmp:
            scratch = Path(tmp) / "files"
            scratch.mkdir()
            built = expected_folder(outlet_set, name, scratch, witnessed, view)
            if built is None:
                continue
            folder, used = built
            found = compare_folder(
                scratch, folder, nested_folders(outlet_set, name, folder.root)
            )
            if item is not None:
                found = [f for f in found if item in f.owners]
            result = OutletRepair(name)
            if not used:  # no rendition to repair from, and none to record it on
                result.problems += [
                    (f.path, f"{f.verdict}; nothing was delivered to {name} yet")
                    for f in found
                ]
                results.append(result)
                continue
            for finding in found:
                source = folder.linked.get(finding.raw, scratch / finding.raw)
                _fix(finding, folder.root, source, result, delete_extra)
            by_path = {f.path: f for f in found}
            _record(outlet_set, used, by_path, result, actor, clock())
            results.append(result)
    return results
