"""Cross-outlet consistency: does every outlet show what the log says it should?

Per item and outlet, against the newest version planned for that outlet:

- outlets that read back (portal files, feeds, kiosk bundle, directory, notice-board
  sheet files): "in sync" (the outlet's bytes equal the rendition of the newest
  delivery), "stale" (they equal the rendition of an older version), "missing" (nothing
  there), "drifted" (other bytes), "read failed"; and "extra" for items the outlet shows
  (`inventory`) that the log never sent there. A notice-board sheet whose file is right
  but whose posting is not attested yet is "awaiting attestation" (not a mismatch);
- outlets that cannot give back bytes but list what they show (WeChat, through
  `freepublish/batchget`): "in sync" if a delivered item is listed (or a retracted one is
  not), "missing" / "stale" otherwise, and "extra" for listed items never sent there;
- outlets that cannot be read back (robots, webhooks, outlets whose settings do not load
  here): their last recorded delivery or attestation: "recorded" (the newest version
  succeeded or was attested), "awaiting attestation", otherwise "stale" (an older
  version is the newest recorded) or "missing".

Whole-set outlets (feeds) hold one rendition for every item: each item's row reflects
the comparison of the outlet with its newest whole-set delivery.

Files. An outlet whose adapter offers `expected_files` (portal, feeds, kiosk, directory)
is also compared file by file: the adapter writes into an empty scratch folder what its
folder would hold given the renditions the log says were delivered there (each item's
newest done delivery, in log order; for whole-set outlets the newest done whole-set
rendition) and the signed checkpoints (for outlets that witness them), and every file
of the live folder is compared byte for byte with it (`compare_folder`). Each difference
is a row with a `path`: "drifted" (with the first differing byte offset), "missing",
"extra" (in the folder, never produced from the log) or "read failed". An item whose
own files (its page, its attachments, its document) differ is not "in sync"; neither is
a whole-set outlet with any file that differs. Symbolic links, folders and special
files in the live folder are never followed or opened: where a file is expected they
are "drifted", elsewhere "extra". Folders of other outlets nested in an outlet's folder
are left to those outlets.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from syndicate.adapter import (
    ExpectsFiles,
    Operation,
    OutletFolder,
    WitnessedCheckpoint,
)
from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.outletset import OutletSet

__all__ = [
    "MISMATCHES",
    "FileFinding",
    "Row",
    "Witnessed",
    "check",
    "compare_folder",
    "expected_folder",
    "file_findings",
    "nested_folders",
    "shown_path",
]

# The signed checkpoints and the verifier key, as outlets that witness them were given
# them; None: no checkpoint yet.
Witnessed = tuple[Sequence[WitnessedCheckpoint], str] | None
_NOBODY = UUID(int=0)
_CHUNK = 1 << 20

MISMATCHES = frozenset({"stale", "missing", "drifted", "extra", "read failed"})


@dataclass(frozen=True)
class Row:
    """One item on one outlet, or (with `path`) one file of an outlet's folder."""

    item_id: UUID
    ref: str
    outlet: str
    verdict: str
    expected_version: int | None
    shown_version: int | None
    detail: str = ""
    # A file of the outlet (relative to its folder) for file-level rows; None for the
    # rows about an item.
    path: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict not in MISMATCHES

    def as_json(self) -> dict[str, object]:
        return {
            "item_id": str(self.item_id),
            "ref": self.ref,
            "outlet": self.outlet,
            "verdict": self.verdict,
            "expected_version": self.expected_version,
            "shown_version": self.shown_version,
            "detail": self.detail,
            "path": self.path,
            "ok": self.ok,
        }


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileFinding:
    """One file of an outlet's folder that is not what the log gives."""

    raw: str  # relative path as the file system spells it (for repair)
    verdict: str  # drifted | missing | extra | read failed
    detail: str
    offset: int | None = None
    owners: tuple[UUID, ...] = ()
    kind: str = "file"  # what the live folder holds there: file, folder, link, special

    @property
    def path(self) -> str:
        """The relative path, safe to print (see `shown_path`)."""
        return shown_path(self.raw)


def shown_path(raw: str) -> str:
    """A relative path as a printable line: bytes that are not UTF-8 as `\\xNN`,
    control characters as `\\xNN` too, so a file name cannot break a table or a
    terminal, and JSON output never fails on it."""
    text = os.fsencode(raw).decode("utf-8", "backslashreplace")
    return "".join(
        f"\\x{ord(c):02x}" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c
        for c in text
    )


def _first_difference(live: int, expected: Path) -> int | None:
    """Offset of the first byte where the open file `live` and `expected` differ (the
    shorter one's length if one is a prefix of the other); None when equal."""
    offset = 0
    # Buffered readers return whole chunks until the end (os.read may return less).
    with open(live, "rb", closefd=False) as mine, expected.open("rb") as other:
        while True:
            a = mine.read(_CHUNK)
            b = other.read(_CHUNK)
            if a != b:
                n = min(len(a), len(b))
                lo = 0
                while lo < n and a[lo] == b[lo]:
                    step = 4096
                    if a[lo : lo + step] == b[lo : lo + step]:
                        lo += step
                    else:
                        break
                while lo < n and a[lo] == b[lo]:
                    lo += 1
                return offset + lo
            if not a:
                return None
            offset += len(a)


def _open_plain(path: Path) -> int:
    """Open a regular file for reading without following a link or blocking on a
    FIFO put in its place; raises OSError (ELOOP, ENXIO…) or IsADirectoryError."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{path} is not a regular file")
    return fd


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special"


def _why(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"[:200]


def compare_folder(
    scratch: Path, folder: OutletFolder, exclude: Iterable[str] = ()
) -> list[FileFinding]:
    """Every file of `folder.root` compared with the expected copy in `scratch` (and the
    linked files); the differences, in path order."""
    expected: dict[str, Path] = {}
    for base, _dirs, names in os.walk(scratch):
        for name in names:
            full = Path(base, name)
            expected[full.relative_to(scratch).as_posix()] = full
    expected.update(folder.linked)
    skip = {*folder.skip, *exclude}
    live: dict[str, str] = {}  # relative path -> kind
    findings: list[FileFinding] = []
    root = folder.root
    if root.exists() and not root.is_dir():
        findings.append(
            FileFinding(".", "read failed", f"{root} is not a folder", kind="special")
        )
    elif root.is_dir():
        stack = [""]
        while stack:
            rel = stack.pop()
            try:
                with os.scandir(root / rel if rel else root) as entries:
                    found = [(e.name, _kind(e)) for e in entries]
            except OSError as exc:
                findings.append(
                    FileFinding(rel or ".", "read failed", _why(exc), kind="folder")
                )
                continue
            for name, what in found:
                path = f"{rel}/{name}" if rel else name
                if path in skip:
                    continue
                if what == "folder" and path not in expected:
                    stack.append(path)
                else:
                    live[path] = what
    for path in sorted(set(expected) | set(live)):
        owners = tuple(folder.owners.get(path, ()))
        kind = live.get(path)
        if path not in expected:
            what = {"link": "a symbolic link", "special": "a special file"}.get(
                kind or "", "a file"
            )
            findings.append(
                FileFinding(
                    path,
                    "extra",
                    f"{what} the log never produced",
                    owners=owners,
                    kind=kind or "file",
                )
            )
            continue
        if kind is None:
            findings.append(
                FileFinding(path, "missing", "the log gives this file", owners=owners)
            )
            continue
        if kind != "file":
            what = {
                "link": "a symbolic link",
                "folder": "a folder",
                "special": "a special file",
            }[kind]
            findings.append(
                FileFinding(
                    path,
                    "drifted",
                    f"{what} where the log gives a file",
                    offset=0,
                    owners=owners,
                    kind=kind,
                )
            )
            continue
        try:
            fd = _open_plain(root / path)
        except OSError as exc:
            findings.append(FileFinding(path, "read failed", _why(exc), owners=owners))
            continue
        try:
            offset = _first_difference(fd, expected[path])
        except OSError as exc:
            side = "" if path not in folder.linked else "the stored copy: "
            findings.append(
                FileFinding(path, "read failed", side + _why(exc), owners=owners)
            )
            continue
        finally:
            os.close(fd)
        if offset is not None:
            findings.append(
                FileFinding(
                    path,
                    "drifted",
                    f"bytes differ from byte {offset}",
                    offset=offset,
                    owners=owners,
                )
            )
    findings.sort(key=lambda f: f.raw)
    return findings


def _delivered(
    view: Mapping[UUID, Delivery], outlet: str, whole: bool
) -> list[Delivery]:
    """The deliveries whose renditions the outlet holds: each item's newest done one
    (the newest done whole set), in log order."""
    done = [d for d in view.values() if d.outlet == outlet and d.state.done]
    if whole:
        return [max(done, key=lambda d: (d.position, d.item_version))] if done else []
    newest: dict[UUID, Delivery] = {}
    for d in done:
        if d.item_id not in newest or newest[d.item_id].item_version < d.item_version:
            newest[d.item_id] = d
    return sorted(newest.values(), key=lambda d: (d.position, d.item_version))


def expected_folder(
    outlets: OutletSet,
    outlet: str,
    scratch: Path,
    witnessed: Witnessed = None,
    view: Mapping[UUID, Delivery] | None = None,
) -> tuple[OutletFolder, list[Delivery]] | None:
    """Write what the outlet's folder should hold into the empty folder `scratch`
    (see the module doc); the folder description and the deliveries used. None when
    the adapter cannot say (no `expected_files`)."""
    config = outlets.outlets[outlet]
    adapter = config.adapter()
    if not isinstance(adapter, ExpectsFiles):
        return None
    view = outlets.deliveries.all_deliveries() if view is None else view
    used = _delivered(view, outlet, config.capabilities.whole_set)
    renditions = [outlets.render_again(d)[1] for d in used]
    checkpoints, key = witnessed if witnessed and witnessed[0] else ((), None)
    folder = adapter.expected_files(scratch, renditions, checkpoints, key)
    return folder, used


def nested_folders(outlets: OutletSet, outlet: str, root: Path) -> list[str]:
    """Folders of other outlets inside this outlet's folder (they check their own)."""
    base = root.resolve()
    found = []
    for name, config in outlets.outlets.items():
        path = getattr(config.settings, "path", None)
        if name == outlet or not isinstance(path, Path):
            continue
        other = path.resolve()
        if other != base and other.is_relative_to(base):
            found.append(other.relative_to(base).as_posix())
    return found


def file_findings(
    outlets: OutletSet,
    outlet: str,
    witnessed: Witnessed = None,
    view: Mapping[UUID, Delivery] | None = None,
) -> list[FileFinding] | None:
    """The files of the outlet's folder that differ from what the log gives; None when
    the adapter cannot say."""
    with tempfile.TemporaryDirectory(prefix="syndicate-expected-") as tmp:
        scratch = Path(tmp) / "files"
        scratch.mkdir()
        built = expected_folder(outlets, outlet, scratch, witnessed, view)
        if built is None:
            return None
        folder, _ = built
        return compare_folder(
            scratch, folder, nested_folders(outlets, outlet, folder.root)
        )


def _file_verdict(
    verdict: tuple[str, int | None, str], findings: Sequence[FileFinding]
) -> tuple[str, int | None, str]:
    """An "in sync" verdict corrected by the findings about the item's (or the whole
    set's) files."""
    if verdict[0] != "in sync" or not findings:
        return verdict
    first = findings[0]
    more = f" (and {len(findings) - 1} more files)" if len(findings) > 1 else ""
    if all(f.verdict == "missing" for f in findings):
        return "missing", None, f"{first.path} is missing{more}"
    if all(f.verdict == "read failed" for f in findings):
        return "read failed", None, f"{first.path}: {first.detail}{more}"
    return "drifted", None, f"{first.path}: {first.verdict}, {first.detail}{more}"


def _recorded(newest: Delivery, done: list[Delivery]) -> tuple[str, int | None, str]:
    if newest.state is DeliveryState.AWAITING_ATTESTATION:
        shown = done[-1].item_version if done else None
        return "awaiting attestation", shown, "the sheet waits for `syndicate attest`"
    if newest.state.done:
        last = newest.attestation
        when = newest.delivered_at.isoformat() if newest.delivered_at else "-"
        how = (
            f"attested: posted by {last.by} at {last.posted_at.isoformat()}"
            if last is not None
            else f"{newest.state.value} at {when}"
        )
        return "recorded", newest.item_version, how
    if done:
        return "stale", done[-1].item_version, f"newest is {newest.state.value}"
    return "missing", None, f"newest is {newest.state.value}"


def _listed(newest: Delivery, listed: bool) -> tuple[str, int | None, str]:
    """The verdict for an outlet that lists the items it shows (no bytes to compare)."""
    if newest.operation == Operation.RETRACT:
        if listed:
            return "stale", None, "still listed by the outlet after its removal"
        return "in sync", newest.item_version, "removed, and not listed by the outlet"
    if listed:
        return "in sync", newest.item_version, "listed by the outlet"
    return "missing", None, "delivered, but not listed by the outlet"


def _read(
    outlets: OutletSet, newest: Delivery, done: list[Delivery]
) -> tuple[str, int | None, str]:
    try:
        expected, shown = outlets.read_outlet(newest)
    except Exception as exc:  # a broken file, an unreachable API: report it, go on
        return "read failed", None, f"{type(exc).__name__}: {exc}"[:200]
    if not expected:  # the newest is a removal: nothing should be shown
        if shown is None:
            return "in sync", newest.item_version, "removed"
        return "stale", None, "still shown after its removal"
    if shown == expected:
        return "in sync", newest.item_version, ""
    if shown is None:
        return "missing", None, ""
    for older in reversed(done):
        if older.item_version < newest.item_version:
            try:
                if outlets.rendition_of(older) == shown:
                    return "stale", older.item_version, ""
            except Exception:  # noqa: S112 - an old rendition that no longer renders
                continue
    return "drifted", None, "the outlet shows bytes the log never sent"


def check(
    outlets: OutletSet,
    refs: dict[UUID, str],
    outlet: str | None = None,
    *,
    witnessed: Witnessed = None,
) -> Iterator[Row]:
    """Every item and outlet row: outlets in name order; per outlet its items in ref
    order, then its file rows in path order, then the items it shows that the log never
    sent there. `witnessed`: the checkpoints the outlets that witness them were given
    (the audit store's)."""
    view = outlets.deliveries.all_deliveries()
    groups: dict[tuple[str, UUID], list[Delivery]] = {}
    for d in view.values():
        if outlet in (None, d.outlet):
            groups.setdefault((d.outlet, d.item_id), []).append(d)
    names = sorted({name for name, _ in groups} | ({outlet} if outlet else set()))
    for name in names:
        keys = sorted(
            (k for k in groups if k[0] == name), key=lambda k: refs.get(k[1], "")
        )
        # An outlet no longer configured, or one whose settings do not load here (an
        # unset secret), is reported from the log like one that cannot be read.
        readable = name in outlets.outlets and outlets.reads_back(name)
        whole = readable and outlets.outlets[name].capabilities.whole_set
        findings: list[FileFinding] | None = None
        if readable:
            # A render that fails, a scratch folder that cannot be made: one row.
            try:
                findings = file_findings(outlets, name, witnessed, view)
            except Exception as exc:
                yield Row(
                    _NOBODY,
                    "-",
                    name,
                    "read failed",
                    None,
                    None,
                    f"cannot compare the files: {type(exc).__name__}: {exc}"[:200],
                    path=".",
                )
        owned: dict[UUID, list[FileFinding]] = {}
        for finding in findings or ():
            for owner in finding.owners:
                owned.setdefault(owner, []).append(finding)
        set_verdict: tuple[str, int | None, str] | None = None
        if readable and whole:
            latest = max(
                (d for k in keys for d in groups[k] if d.state.done),
                key=lambda d: d.position,
                default=None,
            )
            set_verdict = (
                _read(outlets, latest, []) if latest else ("missing", None, "")
            )
            set_verdict = _file_verdict(set_verdict, findings or ())
        # Outlets that cannot give back bytes but can list what they show (WeChat:
        # freepublish/batchget) are checked item by item against that list.
        listing: set[UUID] | None = None
        listing_error = ""
        if not readable and name in outlets.outlets:
            try:
                listing = outlets.inventory(name)
            except Exception as exc:  # an unreachable API: reported per item
                listing_error = f"{type(exc).__name__}: {exc}"[:200]
        sent: set[UUID] = set()
        for key in keys:
            deliveries = sorted(groups[key], key=lambda d: d.item_version)
            newest = deliveries[-1]
            done = [d for d in deliveries if d.state.done]
            if done:
                sent.add(key[1])
            if not readable:
                verdict = _recorded(newest, done)
                if listing_error and verdict[0] == "recorded":
                    verdict = ("read failed", None, listing_error)
                elif listing is not None and verdict[0] == "recorded":
                    verdict = _listed(newest, key[1] in listing)
            elif set_verdict is not None:
                verdict = set_verdict
                if verdict[0] == "in sync" and not newest.state.done:
                    newest_done = done[-1].item_version if done else None
                    verdict = (
                        ("stale", newest_done, f"newest is {newest.state.value}")
                        if newest.state is not DeliveryState.SUPERSEDED
                        else verdict
                    )
            else:
                verdict = _file_verdict(
                    _read(outlets, newest, done), owned.get(key[1], ())
                )
                if (
                    verdict[0] == "in sync"
                    and newest.state is DeliveryState.AWAITING_ATTESTATION
                ):  # the sheet file is right; whether it hangs on the board is not known
                    verdict = (
                        "awaiting attestation",
                        verdict[1],
                        "the sheet file matches the log; its posting waits for "
                        "`syndicate attest`",
                    )
            yield Row(
                key[1],
                refs.get(key[1], str(key[1])),
                name,
                verdict[0],
                newest.item_version,
                verdict[1],
                verdict[2],
            )
        for finding in findings or ():
            owner = finding.owners[0] if finding.owners else _NOBODY
            yield Row(
                owner,
                refs.get(owner, "-"),
                name,
                finding.verdict,
                None,
                None,
                finding.detail,
                path=finding.path,
            )
        if listing is not None:
            yield from _extras(
                listing - sent - {k[1] for k in keys},
                refs,
                name,
                "listed by the outlet",
            )
        if readable:
            try:
                shown = outlets.inventory(name)
            except Exception as exc:  # reported as a row
                yield Row(
                    UUID(int=0), "-", name, "read failed", None, None, str(exc)[:200]
                )
                continue
            yield from _extras(
                (shown or set()) - sent - {k[1] for k in keys},
                refs,
                name,
                "on the outlet",
            )


def _extras(
    ids: set[UUID], refs: Mapping[UUID, str], outlet: str, where: str
) -> Iterator[Row]:
    """An "extra" row for each item the outlet shows that the log never sent there."""
    for extra in sorted(ids):
        yield Row(
            extra,
            refs.get(extra, str(extra)),
            outlet,
            "extra",
            None,
            None,
            f"{where}, but the log never delivered it there",
        )
