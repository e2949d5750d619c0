"""Engine operations: write back, from the log, outlet files that drifted or went missing.

`repair` is for files changed or lost on an outlet after a delivery succeeded (use
`retry` for deliveries that failed). The work is `syndicate.audit.service.repair`'s;
this layer checks the operator's input against the home's outlets first.
"""

from __future__ import annotations

from syndicate.audit.repair import OutletRepair
from syndicate.audit.service import repair as repair_files
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import InputError, Problem

__all__ = ["OutletRepair", "RepairOps", "repairing_actor"]


def repairing_actor(actor: str) -> str:
    """The operator recording a repair, stripped; raises `InputError` (field
    `--actor`) unless it is a non-empty single line. `RepairOps.repair` checks it too:
    call it first to refuse bad input before opening anything."""
    who = actor.strip()
    if not who or any(ord(c) < 0x20 for c in who):
        raise InputError([Problem("--actor", "must be a non-empty single line")])
    return who


class RepairOps(EngineBase):
    """Engine operations: write back drifted or missing outlet files from the log."""

    def repair(
        self,
        ref: str | None = None,
        outlet: str | None = None,
        *,
        actor: str,
        delete_extra: bool = False,
    ) -> list[OutletRepair]:
        """Rewrite, from the log, the files `audit consistency` finds drifted or
        missing on every outlet whose files can be compared with the log (or only on
        `outlet`; with `ref`, only that item's own files), recording each repair as a
        `Repaired` event by `actor`. Extra files are listed, and deleted only with
        `delete_extra`. One result per outlet; `clean` says nothing is left.

        Raises `InputError` (nothing written) for a bad actor, an outlet that is not
        configured, does not load or cannot be compared, or a REF naming no item.
        """
        who = repairing_actor(actor)
        outlets, problems = self.project.outlets_for_reading()
        if outlet is not None and outlet in problems:
            raise InputError([Problem("--outlet", f"{outlet}: {problems[outlet]}")])
        if outlet is not None and outlet not in outlets:
            known = ", ".join(sorted(outlets)) or "none"
            raise InputError(
                [
                    Problem(
                        "--outlet",
                        f"{outlet}: no such outlet in syndicate.toml (outlets: {known})",
                    )
                ]
            )
        with store_errors():
            return repair_files(
                self.project,
                outlets,
                actor=who,
                outlet=outlet,
                ref=ref,
                delete_extra=delete_extra,
            )
