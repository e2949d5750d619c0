"""Engine operations on a home's configuration: making the home, adapter kinds, and the
configured outlets (list with their status, add, check, detach).

```python
from syndicate.engine import Engine

made = Engine.init("/srv/disclosure")  # syndicate.toml, the stores, the audit key pair
with Engine(made.project) as engine:
    engine.add_outlet(
        "county-cms",
        "webhook",
        {"url": "https://cms.example.gov.cn/hook", "secret": "${CMS_SECRET}"},
        channel="portal",
    )
    for outlet in engine.outlets():
        print(outlet.name, outlet.state, outlet.problem or "")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Unpack, cast

from syndicate.audit.log import ensure_keys, key_paths, open_audit
from syndicate.domain.outlets import OutletRegister
from syndicate.engine._base import EngineBase, store_errors
from syndicate.errors import InputError, Problem
from syndicate.outlets import OutletDescription, OutletKind, outlet_kinds
from syndicate.project import OutletOptions, Project, home_lock

__all__ = ["HomeInit", "OutletOps", "OutletState", "OutletStatus"]


@dataclass(frozen=True)
class HomeInit:
    """What `Engine.init` did to a home."""

    project: Project
    created: bool  # syndicate.toml was written now (False: an existing one was kept)
    key_created: bool  # the audit signing key pair was made now (False: kept)
    private_key: Path  # the signing key: secret, never printed; back it up
    public_key: Path  # the public key file auditors verify checkpoints with
    public_key_text: str = field(repr=False)  # the public key, as in `public_key`


OutletState = Literal["ok", "new", "invalid", "removed"]


@dataclass(frozen=True)
class OutletStatus:
    """One outlet configured in syndicate.toml or attached in the store."""

    name: str
    kind: str | None  # as written in its table; None if not configured or not written
    configured: bool  # syndicate.toml has its `[outlets.NAME]` table
    problem: str | None  # why its table does not load (an unset variable included)
    attached_at: int | None  # the items-log position it was backfilled as of, if so
    description: OutletDescription | None  # as `outlets check` shows it, if it loads

    @property
    def state(self) -> OutletState:
        """`ok` (loads, attached); `new` (loads; the next planning run attaches and
        backfills it); `invalid` (its table does not load: `problem` says why);
        `removed` (attached but gone from syndicate.toml: planning refuses until it
        is put back or detached)."""
        if not self.configured:
            return "removed"
        if self.problem is not None:
            return "invalid"
        return "ok" if self.attached_at is not None else "new"


class OutletOps(EngineBase):
    """Engine operations on a home's configuration: making the home, adapter kinds, and
    the configured outlets (list with their status, add, check, detach)."""

    @classmethod
    def init(
        cls,
        home: Path | str,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        review: bool = True,
    ) -> HomeInit:
        """Make (or complete) a home as `syndicate init` does: syndicate.toml
        (commented; `store_url` written in it, default `sqlite`), the data directory,
        the tables of the items, deliveries and checkpoint stores, and the audit
        signing key pair (`SYNDICATE_AUDIT_KEY` or keys/audit-signing.key, and
        keys/audit-signing.pub).

        Safe to run again: an existing syndicate.toml and key pair are kept; missing
        tables are created. Open the home afterwards with `Engine(result.project)` or
        `Engine.open(home)`. `ConfigurationError` if the configuration is wrong (a
        password in `store_url`, say), `StoreError` if the store cannot be reached.

        `Project.init` makes the same home but the checkpoint store, which SQLite
        makes on first use and PostgreSQL needs made here.

        `review`: a new syndicate.toml asks for one review level (先审后发,
        `[review] levels = ["审核"]`); False writes `levels = []` (no review).
        """
        with store_errors():
            project, created = Project.init(
                Path(home),
                store_url=store_url,
                environ=environ,
                keys=False,
                review=review,
            )
            # Another init of this home may be making these now: take turns.
            with home_lock(project.home):
                with open_audit(project, create_tables=True):
                    pass
                verifier, key_created = ensure_keys(project)
        private, public = key_paths(project)
        return HomeInit(
            project=project,
            created=created,
            key_created=key_created,
            private_key=private,
            public_key=public,
            public_key_text=verifier.to_text(),
        )

    def outlet_kinds(self) -> list[OutletKind]:
        """The adapter kinds this home can use (its registry: by default those
        installed), sorted; `syndicate.outlets.outlet_kinds()` needs no home."""
        return outlet_kinds(self.project.registry)

    def check_outlets(self) -> list[OutletDescription]:
        """Validate every `[outlets.NAME]` table and describe the outlets, by name,
        secrets masked (`syndicate outlets check`). Reads only syndicate.toml (and the
        environment); `ConfigurationError` names the outlet and field of the first
        problem."""
        return [outlet.describe() for outlet in self.project.outlets.values()]

    def outlets(self) -> list[OutletStatus]:
        """Every outlet configured in syndicate.toml or attached in the store, by name,
        with its status: whether its table loads, and whether the planner has attached
        (backfilled) it. Unlike `check_outlets`, a table that does not load is a status,
        not an error. Reads the deliveries log; records nothing."""
        loaded, problems = self.project.outlets_and_problems()
        with store_errors():
            # Read-only: `Deliveries.register()` would record the register's opening.
            repository = self.deliveries.repository
            attached: dict[str, int] = (
                cast(OutletRegister, repository.get(OutletRegister.ID)).attached
                if OutletRegister.ID in repository
                else {}
            )
        configured = set(self.project.outlet_names)
        return [
            OutletStatus(
                name=name,
                kind=self.project.outlet_kind(name),
                configured=name in configured,
                problem=problems.get(name),
                attached_at=attached.get(name),
                description=loaded[name].describe() if name in loaded else None,
            )
            for name in sorted(configured | set(attached))
        ]

    def add_outlet(
        self,
        name: str,
        kind: str,
        settings: Mapping[str, Any],
        **options: Unpack[OutletOptions],
    ) -> OutletDescription:
        """Add `[outlets.NAME]` to syndicate.toml and describe it: `Project.add_outlet`
        (validated as loading validates it, secrets only as `${ENV_VAR}`, appended as
        text with the rest of the file kept; `options` are `channel`, `agencies`,
        `areas`, `audiences`, `internal`, `rate_per_minute`, `digest_minutes`,
        `allow_private_network`).
        This engine plans for it from its next `plan()`, which attaches it and
        backfills it with the live items it takes; other processes once restarted."""
        outlet = self.project.add_outlet(name, kind, settings, **options)
        self._planning = False  # the next plan() loads the outlets again
        return outlet.describe()

    def detach_outlet(self, name: str, *, actor: str) -> None:
        """Record (with `actor`) that the outlet `name`, removed from syndicate.toml on
        purpose, is forgotten: until then planning refuses, in case the removal was a
        stale configuration. Its past deliveries stay in the log; adding it back later
        backfills it again. `InputError` if it is still configured or not attached."""
        if name in self.project.outlet_names:
            # The next planning run would attach it again and backfill it: a detach
            # that does nothing but confuse the register.
            raise InputError(
                [
                    Problem(
                        "NAME",
                        f"outlet {name!r} is still in syndicate.toml; delete its "
                        f"[outlets.{name}] table first (and restart workers without it)",
                    )
                ]
            )
        log = self.deliveries
        with store_errors():
            log.detach(name, actor=actor)
