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
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from syndicate.adapter import Operation
from syndicate.delivery import Worker
from syndicate.domain.deliveries import Delivery, DeliveryState

__all__ = ["MISMATCHES", "Row", "check"]

MISMATCHES = frozenset({"stale", "missing", "drifted", "extra", "read failed"})


@dataclass(frozen=True)
class Row:
    """One item on one outlet."""

    item_id: UUID
    ref: str
    outlet: str
    verdict: str
    expected_version: int | None
    shown_version: int | None
    detail: str = ""

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
            "ok": self.ok,
        }


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
    worker: Worker, newest: Delivery, done: list[Delivery]
) -> tuple[str, int | None, str]:
    try:
        expected, shown = worker.read_outlet(newest)
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
                if worker.rendition_of(older) == shown:
                    return "stale", older.item_version, ""
            except Exception:  # noqa: S112 - an old rendition that no longer renders
                continue
    return "drifted", None, "the outlet shows bytes the log never sent"


def check(
    worker: Worker, refs: dict[UUID, str], outlet: str | None = None
) -> Iterator[Row]:
    """Every item and outlet row, outlets in name order, items in ref order."""
    view = worker.deliveries.all_deliveries()
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
        readable = name in worker.outlets and worker.reads_back(name)
        whole = readable and worker.outlets[name].capabilities.whole_set
        set_verdict: tuple[str, int | None, str] | None = None
        if readable and whole:
            latest = max(
                (d for k in keys for d in groups[k] if d.state.done),
                key=lambda d: d.position,
                default=None,
            )
            set_verdict = _read(worker, latest, []) if latest else ("missing", None, "")
        # Outlets that cannot give back bytes but can list what they show (WeChat:
        # freepublish/batchget) are checked item by item against that list.
        listing: set[UUID] | None = None
        listing_error = ""
        if not readable and name in worker.outlets:
            try:
                listing = worker.inventory(name)
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
                verdict = _read(worker, newest, done)
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
        if listing is not None:
            for extra in sorted(listing - sent - {k[1] for k in keys}):
                yield Row(
                    extra,
                    refs.get(extra, str(extra)),
                    name,
                    "extra",
                    None,
                    None,
                    "listed by the outlet, but the log never delivered it there",
                )
        if readable:
            try:
                shown = worker.inventory(name)
            except Exception as exc:  # reported as a row
                yield Row(
                    UUID(int=0), "-", name, "read failed", None, None, str(exc)[:200]
                )
                continue
            for extra in sorted((shown or set()) - sent - {k[1] for k in keys}):
                yield Row(
                    extra,
                    refs.get(extra, str(extra)),
                    name,
                    "extra",
                    None,
                    None,
                    "on the outlet, but the log never delivered it there",
                )
