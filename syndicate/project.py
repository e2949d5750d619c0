"""A syndicate home: `syndicate.toml` plus the data directory, and the wiring around them.

This is the composition root: it reads configuration, builds `StoreSettings`, and opens
the applications with the right environment. Nothing else reads syndicate.toml.

Configuration sources, later ones winning: `syndicate.toml`, then `SYNDICATE_STORE_URL`
and `SYNDICATE_STORE_SCHEMA` in the environment. Secrets are written in the file as
`${ENV_VAR}` references and resolved only in memory. Variables come from the
environment and, for those it does not set, from an optional `syndicate.env` file in
the home (`KEY=VALUE` lines, readable by its owner only): a home can keep its secrets
next to it without putting them in syndicate.toml (the demo home does).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from syndicate.application import Clock, Disclosures, system_clock
from syndicate.attachments import AttachmentStore
from syndicate.errors import ConfigurationError
from syndicate.outlets import ENV_REF, Outlet, expand_env, load_outlets
from syndicate.persistence import StoreSettings, has_password
from syndicate.planning import Deliveries
from syndicate.registry import Registry

__all__ = [
    "CONFIG_NAME",
    "CONFIG_TEMPLATE",
    "ENV_FILE_NAME",
    "AuditSettings",
    "DeliverySettings",
    "Project",
    "read_env_file",
]


@dataclass(frozen=True)
class DeliverySettings:
    """`[delivery]`: how long a worker's claim lasts, and when to give up."""

    claim_seconds: int = 120
    max_age_hours: int = 72
    # The first look at a delivery an outlet confirms asynchronously (WeChat publishing).
    first_check_seconds: int = 10


@dataclass(frozen=True)
class AuditSettings:
    """`[audit]`: how often workers sign a checkpoint of the log by themselves: once
    `checkpoint_every` events are not covered yet, or `checkpoint_minutes` after the
    last try when any are."""

    checkpoint_every: int = 1000
    checkpoint_minutes: int = 10


CONFIG_NAME = "syndicate.toml"
ENV_FILE_NAME = "syndicate.env"
_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of a home's `syndicate.env` (blank lines and `#` comments
    skipped, values optionally in matching quotes); {} if there is none.

    Refused (`ConfigurationError`, naming the line, never a value) when the file is
    readable by others than its owner, or when a line is not `KEY=VALUE`.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if os.name == "posix" and mode & 0o077:
        raise ConfigurationError(
            f"{path}: holds secrets but others may read it; run `chmod 600 {path}`"
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read it: {exc}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(stripped)
        if match is None:
            raise ConfigurationError(
                f"{path}, line {number}: expected KEY=VALUE (the value is not shown)"
            )
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


CONFIG_TEMPLATE = """\
# syndicate project configuration, created by `syndicate init`.
# Reference: docs/configuration.md. Secrets never go in this file: write them as
# "${ENV_VAR}" references and set the variable in the environment.

[store]
# Where the event log lives:
#   "sqlite"                              embedded default: one SQLite file per
#                                         application under data_dir
#   "postgresql://USER@HOST:5432/DBNAME"  PostgreSQL, for several workers or machines
# SYNDICATE_STORE_URL in the environment overrides this value.
url = "{url}"

# Directory for SQLite files and attachment files, relative to this file.
data_dir = "data"

# PostgreSQL only: the schema that holds the tables (SYNDICATE_STORE_SCHEMA overrides),
# and the password as an environment variable reference.
# schema = "public"
# password = "${SYNDICATE_PG_PASSWORD}"

# -- Outlets ----------------------------------------------------------------------
# One [outlets.NAME] table per outlet; NAME is yours to choose. To use an example,
# delete the "# " in front of its lines and change the values. Then check them with
# `syndicate outlets check`, and deliver with `syndicate sync`. Every setting of
# every kind: docs/configuration.md and docs/outlets/.

# The government portal as a static site for PC and mobile, written to a folder
# that your web server publishes (preview it with `syndicate serve`):
# [outlets.portal]
# kind = "portal"
# channel = "portal"
# path = "outlets/portal"                  # the web root, relative to this file
# site_url = "https://www.example.gov.cn"  # where that folder is published
# site_name = "某某县人民政府"
# feeds_url = "https://www.example.gov.cn/feeds/feed.xml"

# RSS 2.0 and Atom feeds, here inside the portal's folder:
# [outlets.feeds]
# kind = "rss"
# channel = "rss"
# path = "outlets/portal/feeds"
# site_url = "https://www.example.gov.cn"
# site_name = "某某县人民政府"

# An offline touch-screen bundle for a service-hall kiosk (自助终端):
# [outlets.kiosk-hall]
# kind = "kiosk"
# channel = "kiosk"
# path = "outlets/kiosk-hall"
# title = "某某县政务服务中心 · 政务公开查询"
# portal_url = "https://www.example.gov.cn"

# Printable A4 sheets for a notice board (政务公开栏), with a QR code to the portal
# page; whoever posts a sheet records it with `syndicate attest`:
# [outlets.village-board]
# kind = "noticeboard"
# channel = "noticeboard"
# path = "outlets/village-board"
# portal_url = "https://www.example.gov.cn"
# board_name = "村务公开栏"

# A WeCom group robot for a village's residents' group (村民微信群). The robot's
# webhook URL is a secret: set VILLAGE_GROUP_WEBHOOK in the environment (or in a
# syndicate.env file next to this one, readable by its owner only), never here.
# [outlets.village-group]
# kind = "wecom_group"
# channel = "group"
# webhook = "${VILLAGE_GROUP_WEBHOOK}"
# portal_url = "https://www.example.gov.cn"
# areas = ["社会救助", "涉农补贴"]          # only items of these pilot areas

# A folder of JSON documents, one per item, for other systems to pick up:
# [outlets.archive]
# kind = "directory"
# path = "outlets/archive"
"""

_STORE_KEYS = {"url", "data_dir", "schema", "password"}


class _Placeholders(Mapping[str, str]):
    """The environment, with every variable set (unset ones to a placeholder)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, key: str) -> str:
        return self._environ.get(key, "unset")

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


class Project:
    """A loaded syndicate home."""

    def __init__(
        self,
        home: Path,
        store: StoreSettings,
        *,
        delivery: DeliverySettings | None = None,
        audit: AuditSettings | None = None,
        outlet_tables: Any = None,
        environ: Mapping[str, str] | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.home = home
        self.store = store
        self.delivery = delivery or DeliverySettings()
        self.audit = audit or AuditSettings()
        self._outlet_tables = outlet_tables
        self._environ = dict(os.environ if environ is None else environ)
        self._registry = registry
        self._outlets: dict[str, Outlet] | None = None

    @property
    def registry(self) -> Registry:
        """Installed adapters (from entry points unless a registry was given)."""
        if self._registry is None:
            self._registry = Registry.from_entry_points()
        return self._registry

    @property
    def outlets(self) -> dict[str, Outlet]:
        """The configured outlets by name, validated (`ConfigurationError` if not)."""
        if self._outlets is None:
            self._outlets = load_outlets(
                self._outlet_tables,
                self.registry,
                home=self.home,
                environ=self._environ,
            )
        return self._outlets

    def outlet_kind(self, name: str) -> str | None:
        """The `kind` written in `[outlets.NAME]`, even if the table does not load."""
        tables = self._outlet_tables
        table = tables.get(name) if isinstance(tables, dict) else None
        kind = table.get("kind") if isinstance(table, dict) else None
        return kind if isinstance(kind, str) else None

    @property
    def outlet_names(self) -> list[str]:
        """The names of the `[outlets.NAME]` tables, even those that do not load."""
        tables = self._outlet_tables
        return sorted(tables) if isinstance(tables, dict) else []

    def whole_set(self, name: str) -> bool:
        """Whether the configured outlet `name` holds the whole set of live items in each
        rendition (feeds, kiosk bundles); False when unknown (not configured, or a kind
        not installed)."""
        kind = self.outlet_kind(name)
        if kind is None:
            return False
        try:
            return self.registry[kind].capabilities.whole_set
        except ConfigurationError:
            return False

    def outlets_for_reading(self) -> tuple[dict[str, Outlet], dict[str, str]]:
        """The outlets, for commands that only read their files (`serve`, `status
        --check`), and the problems of those that cannot be loaded, by name.

        An unset `${ENV}` secret does not stop an outlet here, since nothing is sent.
        """
        tables = self._outlet_tables
        if not isinstance(tables, dict):
            return self.outlets, {}  # raises the configuration error
        found: dict[str, Outlet] = {}
        problems: dict[str, str] = {}
        for name, table in tables.items():
            try:
                found |= load_outlets(
                    {name: table},
                    self.registry,
                    home=self.home,
                    environ=_Placeholders(self._environ),
                )
            except ConfigurationError as exc:
                problems[name] = str(exc)
        return found, problems

    @property
    def config_path(self) -> Path:
        """The home's syndicate.toml."""
        return self.home / CONFIG_NAME

    @property
    def attachments(self) -> AttachmentStore:
        """Where attachment files are kept."""
        return AttachmentStore(self.store.data_dir / "attachments")

    @classmethod
    def load(
        cls,
        home: Path,
        environ: Mapping[str, str] | None = None,
        *,
        registry: Registry | None = None,
    ) -> Project:
        """Read `home/syndicate.toml`; `ConfigurationError` says what is wrong."""
        environ = os.environ if environ is None else environ
        home = home.resolve()
        path = home / CONFIG_NAME
        if not path.is_file():
            raise ConfigurationError(
                f"{home} is not a syndicate home (no {CONFIG_NAME}); run "
                "`syndicate init` there first, or point --home / SYNDICATE_HOME at one"
            )
        return cls._load_file(home, path, environ, registry=registry)

    @classmethod
    def _load_file(
        cls,
        home: Path,
        path: Path,
        environ: Mapping[str, str] | None,
        *,
        registry: Registry | None = None,
    ) -> Project:
        environ = os.environ if environ is None else environ
        home = home.resolve()
        environ = {**read_env_file(home / ENV_FILE_NAME), **environ}
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
        return cls(
            home,
            cls._store(home, data, environ, path),
            delivery=cls._delivery(data.get("delivery", {})),
            audit=cls._audit(data.get("audit", {})),
            outlet_tables=data.get("outlets"),
            environ=environ,
            registry=registry,
        )

    @staticmethod
    def _store(
        home: Path, data: dict[str, Any], environ: Mapping[str, str], path: Path
    ) -> StoreSettings:
        unknown = set(data) - {"store", "outlets", "delivery", "audit"}
        if unknown:
            raise ConfigurationError(
                f"{path}: unknown section(s) {', '.join(sorted(unknown))}"
            )
        table = data.get("store", {})
        if not isinstance(table, dict):
            raise ConfigurationError(f"{path}: [store] must be a table")
        extra = set(table) - _STORE_KEYS
        if extra:
            raise ConfigurationError(
                f"store: unknown key(s) {', '.join(sorted(extra))}; "
                f"expected {', '.join(sorted(_STORE_KEYS))}"
            )
        for key, value in table.items():
            if not isinstance(value, str):
                raise ConfigurationError(f"store.{key}: must be a string")
        url = table.get("url", "sqlite")
        if "password" in table and not ENV_REF.fullmatch(table["password"]):
            raise ConfigurationError(
                'store.password: write it as "${ENV_VAR}" and set that variable; '
                f"secrets are never kept in {CONFIG_NAME}"
            )
        if has_password(url):
            raise ConfigurationError(
                "store.url: holds a password; move it to "
                'password = "${ENV_VAR}" (or set SYNDICATE_STORE_URL in the environment)'
            )
        url = environ.get("SYNDICATE_STORE_URL") or expand_env(
            url, "store.url", environ
        )
        schema = environ.get("SYNDICATE_STORE_SCHEMA") or table.get("schema", "public")
        password = (
            SecretStr(expand_env(table["password"], "store.password", environ))
            if "password" in table
            else None
        )
        data_dir = home / expand_env(
            table.get("data_dir", "data"), "store.data_dir", environ
        )
        return StoreSettings(
            data_dir=data_dir, url=url.strip(), schema=schema, password=password
        )

    @staticmethod
    def _delivery(table: Any) -> DeliverySettings:
        if not isinstance(table, dict):
            raise ConfigurationError("[delivery] must be a table")
        known = {"claim_seconds", "max_age_hours", "first_check_seconds"}
        extra = set(table) - known
        if extra:
            raise ConfigurationError(
                f"delivery: unknown key(s) {', '.join(sorted(extra))}; expected "
                f"{', '.join(sorted(known))}"
            )
        for key, value in table.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"delivery.{key}: must be a whole number >= 1")
        return DeliverySettings(**table)

    @staticmethod
    def _audit(table: Any) -> AuditSettings:
        if not isinstance(table, dict):
            raise ConfigurationError("[audit] must be a table")
        known = {"checkpoint_every", "checkpoint_minutes"}
        extra = set(table) - known
        if extra:
            raise ConfigurationError(
                f"audit: unknown key(s) {', '.join(sorted(extra))}; expected "
                f"{', '.join(sorted(known))}"
            )
        for key, value in table.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"audit.{key}: must be a whole number >= 1")
        return AuditSettings(**table)

    @classmethod
    def init(
        cls,
        home: Path,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> tuple[Project, bool]:
        """Create (or check) a home: syndicate.toml, the data dir, the store's tables.

        Returns the project and whether syndicate.toml was created now. Running it
        again is safe: an existing syndicate.toml is kept as it is.
        """
        home.mkdir(parents=True, exist_ok=True)
        path = home / CONFIG_NAME
        created = not path.exists()
        if created:
            url = store_url or "sqlite"
            if has_password(url):
                raise ConfigurationError(
                    "--store: the URL holds a password; set it with "
                    'password = "${ENV_VAR}" in syndicate.toml instead'
                )
            # Check the new configuration (and reach its store) before writing it, so a
            # failed init leaves nothing behind that would block the next attempt.
            draft = home / f".{CONFIG_NAME}.new"
            draft.write_text(CONFIG_TEMPLATE.replace("{url}", url), "utf-8")
            try:
                project = cls._load_file(home, draft, environ)
                project.store.prepare()
                with (
                    project.disclosures(create_tables=True) as items,
                    project.deliveries(items, create_tables=True, outlets={}),
                ):
                    pass
            except BaseException:
                draft.unlink(missing_ok=True)
                raise
            draft.replace(path)
        project = cls.load(home, environ)
        project.store.prepare()
        project.attachments.root.mkdir(parents=True, exist_ok=True)
        with (
            project.disclosures(create_tables=True) as items,
            project.deliveries(items, create_tables=True, outlets={}),
        ):
            pass
        return project, created

    def require_store(self, *names: str) -> None:
        """Refuse (`ConfigurationError`) unless the SQLite store `init` made is there.

        Only `init` creates a store: a data directory or database file that is missing
        is more likely an unmounted disk or a wrong `data_dir` than a new home, and
        silently starting an empty log there would look like every item vanished.
        PostgreSQL is checked when it is opened: outside `init` tables are never
        created there, and a missing table is a `StoreError` naming `syndicate init`.
        """
        if self.store.is_postgres:
            return
        data_dir = self.store.data_dir
        if not data_dir.is_dir():
            raise ConfigurationError(
                f"store.data_dir: {data_dir} does not exist; syndicate creates it only "
                "in `syndicate init`. If the disk holding it is not mounted, mount it; "
                f"if data_dir in {self.config_path} is wrong, fix it; for a new home, "
                "run `syndicate init`"
            )
        for name in names or (Disclosures.name, Deliveries.name):
            path = self.store.sqlite_path(name)
            if not path.is_file():
                raise ConfigurationError(
                    f"store: {path} does not exist, so the {name.lower()} log would "
                    f"start empty; restore it from a backup, fix data_dir in "
                    f"{self.config_path}, or run `syndicate init` for a new home"
                )

    def disclosures(
        self, *, clock: Clock = system_clock, create_tables: bool = False
    ) -> Disclosures:
        """Open the items log. Close it (or use `with`) when done.

        Outside `init` (`create_tables=False`), a missing SQLite store is refused
        (`require_store`) rather than created empty.
        """
        # SQLite's CREATE TABLE IF NOT EXISTS is safe from any process once the file
        # exists; on PostgreSQL only `syndicate init` creates tables (see
        # syndicate.persistence).
        create = create_tables or not self.store.is_postgres
        if not create_tables:
            self.require_store(Disclosures.name)
        return Disclosures(
            self.store.env_for(Disclosures.name, create_tables=create),
            clock=clock,
            attachments=self.attachments,
            store=self.store,
        )

    def deliveries(
        self,
        items: Disclosures,
        *,
        clock: Clock = system_clock,
        create_tables: bool = False,
        outlets: dict[str, Outlet] | None = None,
    ) -> Deliveries:
        """Open the deliveries log (its planner follows `items`). Close it when done."""
        create = create_tables or not self.store.is_postgres
        if not create_tables:
            self.require_store(Deliveries.name)
        return Deliveries(
            self.store.env_for(Deliveries.name, create_tables=create),
            items=items,
            outlets=self.outlets if outlets is None else outlets,
            clock=clock,
        )
