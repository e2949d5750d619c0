"""A syndicate home: `syndicate.toml` plus the data directory, and the wiring around them.

This is the composition root: it reads configuration, builds `StoreSettings`, and opens
the applications with the right environment. Nothing else reads syndicate.toml.

Configuration sources, later ones winning: `syndicate.toml`, then `SYNDICATE_STORE_URL`
and `SYNDICATE_STORE_SCHEMA` in the environment. Secrets are written in the file as
`${ENV_VAR}` references and resolved only in memory. Variables come from the
environment and, for those it does not set, from an optional `syndicate.env` file in
the home (`KEY=VALUE` lines, readable by its owner only): a home can keep its secrets
next to it without putting them in syndicate.toml (the demo home does).

Each table of the file is a pydantic model (`ConfigFile`: `StoreTable`, `DeliverySettings`,
`AuditSettings`; the outlets' `syndicate.outlets.OutletTable`) whose errors are
`ConfigurationError`s naming the section and key (`delivery.claim_seconds: must be a
whole number >= 1`). Unknown sections and keys are refused; an outlet table's keys that
are not syndicate's are its adapter's settings, validated by the adapter.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path, PurePath
from typing import Annotated, Any, Self, TypedDict

import requests
from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from syndicate.application import Clock, Disclosures, system_clock
from syndicate.attachments import AttachmentStore
from syndicate.domain.catalogue import parse_area
from syndicate.domain.content import _line
from syndicate.domain.guard import GuardPolicy, MaskRule, parse_mask_rule
from syndicate.domain.lifecycle import NoticePolicy
from syndicate.domain.pii import PiiKind
from syndicate.domain.review import LevelRule, Override, ReviewPolicy, ReviewRules
from syndicate.domain.wording import builtin_word_list, parse_word_list
from syndicate.domain.workdays import (
    HolidayFileError,
    WorkdayCalendar,
    load_holiday_file,
)
from syndicate.errors import ConfigurationError, InputError
from syndicate.fsutil import locked, write_atomically
from syndicate.outlets import (
    ENV_REF,
    ConfigTable,
    Flag,
    Outlet,
    OutletTable,
    WholeNumber,
    configuration_error,
    expand_each,
    expand_env,
    load_outlets,
    outlet_place,
    outlet_toml,
    refused,
    refused_as_said,
    says,
    toml_string,
)
from syndicate.outletset import OutletSet
from syndicate.persistence import StoreSettings, has_password
from syndicate.planning import Deliveries
from syndicate.registry import Registry
from syndicate.signing import (
    Signer,
    Verifier,
    read_signer_file,
    write_signer_file,
    write_verifier_file,
)

__all__ = [
    "CONFIG_NAME",
    "CONFIG_TEMPLATE",
    "ENV_FILE_NAME",
    "KEY_ENV",
    "AuditSettings",
    "ConfigFile",
    "DeliverySettings",
    "GuardTable",
    "OutletOptions",
    "Project",
    "ReviewTable",
    "StoreTable",
    "home_lock",
    "read_env_file",
]


class DeliverySettings(ConfigTable):
    """`[delivery]`: how long a worker's claim lasts, and when to give up."""

    claim_seconds: WholeNumber = 120
    max_age_hours: WholeNumber = 72
    # The first look at a delivery an outlet confirms asynchronously (WeChat publishing).
    first_check_seconds: WholeNumber = 10
    # How many outlets one worker sends to at the same time (1: one after another).
    parallel_outlets: Annotated[
        WholeNumber, says("must be a whole number from 1 to 32")
    ] = 4

    @field_validator("parallel_outlets", mode="after")
    @classmethod
    def _threads(cls, value: int) -> int:
        if not 1 <= value <= 32:
            raise refused("must be a whole number from 1 to 32")
        return value

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`[delivery] must be a table`."""
        return refused_as_said("[delivery] must be a table")


class AuditSettings(ConfigTable):
    """`[audit]`: how often workers sign a checkpoint of the log by themselves: once
    `checkpoint_every` events are not covered yet, or `checkpoint_minutes` after the
    last try when any are."""

    checkpoint_every: WholeNumber = 1000
    checkpoint_minutes: WholeNumber = 10

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`[audit] must be a table`."""
        return refused_as_said("[audit] must be a table")


def _config_name(value: str) -> str:
    """A name as the log records it (NFC, trimmed, no invisible characters), so the
    level or person named here is the one `--level` and `--actor` name."""
    try:
        cleaned = str(_line(value))
    except ValueError as exc:
        raise refused(str(exc)) from None
    if not cleaned:
        raise refused("must not be empty")
    return cleaned


LevelName = Annotated[
    str,
    Field(strict=True, min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$"),
    says("must be a level name: a one-line string of 1 to 50 characters"),
    AfterValidator(_config_name),
]
ActorName = Annotated[
    str,
    Field(strict=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
    says("must be a person's name: a one-line string of 1 to 100 characters"),
    AfterValidator(_config_name),
]


def _level_keys(reviewers: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """`[review.reviewers]` with its level names as the log records them."""
    if reviewers is None:
        return None
    return {_config_name(level): names for level, names in reviewers.items()}


class ReviewOverride(ConfigTable):
    """`[review.agency."…"]` / `[review.area."…"]`: what differs for those items."""

    levels: list[LevelName] | None = None
    reviewers: dict[str, list[ActorName]] | None = None
    allow_self_review: Flag | None = None
    withdraw_needs_review: Flag | None = None
    requires_interpretation: list[LevelName] | None = None

    _keys = field_validator("reviewers", mode="after")(_level_keys)

    @model_validator(mode="after")
    def _levels_are_unique(self) -> Self:
        _check_levels(self.levels, self.reviewers, where="")
        return self


def _check_levels(
    levels: list[str] | None,
    reviewers: dict[str, list[str]] | None,
    *,
    where: str,
    default: list[str] | None = None,
) -> None:
    names = levels if levels is not None else (default or [])
    if levels is not None:
        seen: set[str] = set()
        for index, name in enumerate(levels):
            if name.strip() != name:
                raise refused_as_said(
                    f"review{where}.levels[{index}]: {name!r} has spaces at an end"
                )
            if name in seen:
                raise refused_as_said(
                    f"review{where}.levels[{index}]: {name!r} is listed twice"
                )
            seen.add(name)
    for level in reviewers or {}:
        if level not in names:
            raise refused_as_said(
                f"review{where}.reviewers: {level!r} is not a level "
                f"(levels: {', '.join(names) or 'none'})"
            )


class ReviewTable(ConfigTable):
    """`[review]`: 先审后发. `levels` in order (`[]`: no review), who may act at each
    (`reviewers`; a level not listed: anyone but the author), and overrides per agency
    (`[review.agency."…"]`) or area (`[review.area."…"]`)."""

    levels: list[LevelName]
    reviewers: dict[str, list[ActorName]] = Field(default_factory=dict)
    allow_self_review: Flag = False
    withdraw_needs_review: Flag = True
    urgent_review_hours: WholeNumber = 24
    requires_interpretation: list[LevelName] = Field(default_factory=list)
    agency: dict[str, ReviewOverride] = Field(default_factory=dict)
    area: dict[str, ReviewOverride] = Field(default_factory=dict)

    _keys = field_validator("reviewers", mode="after")(_level_keys)

    @field_validator("agency", mode="after")
    @classmethod
    def _agency_names(
        cls, value: dict[str, ReviewOverride]
    ) -> dict[str, ReviewOverride]:
        return {_config_name(name): override for name, override in value.items()}

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`[review] must be a table`."""
        return refused_as_said("[review] must be a table")

    @model_validator(mode="before")
    @classmethod
    def _levels_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "levels" not in data:
            raise refused_as_said(
                "review.levels: missing; list the review levels in order, e.g. "
                'levels = ["科室初审", "分管领导审签"], or levels = [] for no review'
            )
        return data

    @model_validator(mode="after")
    def _known_levels(self) -> Self:
        _check_levels(self.levels, self.reviewers, where="")
        for kind, table in (("agency", self.agency), ("area", self.area)):
            for name, override in table.items():
                _check_levels(
                    override.levels,
                    override.reviewers,
                    where=f".{kind}.{toml_key(name)}",
                    default=self.levels,
                )
        for name in self.area:
            try:
                parse_area(name)
            except ValueError as exc:
                raise refused_as_said(f"review.area.{toml_key(name)}: {exc}") from None
        return self

    def policy(self) -> ReviewPolicy:
        """The review policy this table describes."""

        def rules(
            levels: list[str], reviewers: dict[str, list[str]]
        ) -> tuple[LevelRule, ...]:
            return tuple(
                LevelRule(name, frozenset(reviewers.get(name, ()))) for name in levels
            )

        def override(o: ReviewOverride) -> Override:
            levels = o.levels if o.levels is not None else self.levels
            reviewers = o.reviewers if o.reviewers is not None else self.reviewers
            return Override(
                levels=(
                    None
                    if o.levels is None and o.reviewers is None
                    else rules(levels, reviewers)
                ),
                allow_self_review=o.allow_self_review,
                withdraw_needs_review=o.withdraw_needs_review,
                requires_interpretation=(
                    None
                    if o.requires_interpretation is None
                    else frozenset(o.requires_interpretation)
                ),
            )

        return ReviewPolicy(
            ReviewRules(
                levels=rules(self.levels, self.reviewers),
                allow_self_review=self.allow_self_review,
                withdraw_needs_review=self.withdraw_needs_review,
                urgent_review_hours=self.urgent_review_hours,
                requires_interpretation=frozenset(self.requires_interpretation),
            ),
            agencies={k: override(v) for k, v in self.agency.items()},
            areas={parse_area(k): override(v) for k, v in self.area.items()},
        )


class MaskingTable(ConfigTable):
    """`[guard.masking]`: how many characters of each number a published list keeps
    (`"HEAD+TAIL"`, e.g. `id_card = "6+4"`)."""

    id_card: str | None = None
    mobile: str | None = None
    bank_card: str | None = None

    def rules(self, where: str) -> dict[PiiKind, MaskRule]:
        out = {}
        for kind in PiiKind:
            value = getattr(self, kind.value)
            if value is not None:
                try:
                    out[kind] = parse_mask_rule(
                        kind, value, field_name=f"{where}.{kind}"
                    )
                except InputError as exc:
                    raise refused_as_said(str(exc.problems[0])) from None
        return out


class GuardAreaTable(ConfigTable):
    """`[guard.area."社会救助"]`: what differs for the items of one 试点领域."""

    masking: MaskingTable = Field(default_factory=MaskingTable)


class GuardTable(ConfigTable):
    """`[guard]`: the check before review and release (docs/personal-data.md).

    `personal_information`: look for 身份证号, mobile and bank card numbers (default
    on). `word_lists`: operator 错敏词 files, relative to syndicate.toml, checked with
    the built-in list. `caution_blocks`: 提示-level words block too. `masking` and
    `area."…".masking`: the masked form proposed."""

    personal_information: Flag = True
    word_lists: list[Annotated[str, Field(strict=True, min_length=1)]] = Field(
        default_factory=list
    )
    caution_blocks: Flag = False
    erase_after_days: WholeNumber | None = None
    unreadable_attachments: Annotated[
        str,
        Field(strict=True, pattern="^(block|warn)$"),
        says('must be "block" (the default) or "warn"'),
    ] = "block"
    masking: MaskingTable = Field(default_factory=MaskingTable)
    area: dict[str, GuardAreaTable] = Field(default_factory=dict)

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`[guard] must be a table`."""
        return refused_as_said("[guard] must be a table")

    @model_validator(mode="after")
    def _valid_rules(self) -> Self:
        self.masking.rules("guard.masking")
        for name, table in self.area.items():
            try:
                parse_area(name)
            except ValueError as exc:
                raise refused_as_said(f"guard.area.{toml_key(name)}: {exc}") from None
            table.masking.rules(f"guard.area.{toml_key(name)}.masking")
        return self

    def policy(self, home: Path) -> GuardPolicy:
        """The policy, reading the word lists (`ConfigurationError` naming the file
        and line of a bad one)."""
        lists = []  # the operator's first: a term in both lists follows the operator's
        for index, name in enumerate(self.word_lists):
            path = home / name
            where = f"guard.word_lists[{index}]"
            try:
                text = path.read_text("utf-8-sig")
            except FileNotFoundError:
                raise ConfigurationError(f"{where}: no such file: {path}") from None
            except UnicodeDecodeError:
                raise ConfigurationError(
                    f"{where}: {path} is not UTF-8 text; save it as UTF-8"
                ) from None
            except OSError as exc:
                raise ConfigurationError(
                    f"{where}: cannot read {path}: {exc.strerror}"
                ) from None
            try:
                lists.append(parse_word_list(text, name=name))
            except InputError as exc:
                raise ConfigurationError(
                    f"{where}: " + "; ".join(str(p) for p in exc.problems)
                ) from None
        return GuardPolicy(
            pii=self.personal_information,
            word_lists=(*lists, builtin_word_list()),
            masking={**GuardPolicy().masking, **self.masking.rules("guard.masking")},
            area_masking={
                parse_area(name): table.masking.rules("")
                for name, table in self.area.items()
            },
            caution_blocks=self.caution_blocks,
            unreadable_blocks=self.unreadable_attachments == "block",
        )


class NoticeAreaTable(ConfigTable):
    """`[notice.area."…"]`: the minimum 公示期 of one pilot area."""

    minimum_working_days: WholeNumber


class NoticeTable(ConfigTable):
    """`[notice]`: time on every outlet (docs/lifecycle.md).

    `after_end`: what the portal and the feeds do once a 公示期 ended ("hide_details",
    the default: the page stays, marked, without the list and its attachments; "keep";
    "remove"). `notify_end`: group robots send a short notice when it ends.
    `minimum_working_days` (default 5) and `area."…".minimum_working_days`: the
    shortest window accepted without `--late-reason`. `holidays`: a holiday file for
    years the built-in calendar does not cover (docs/deadlines)."""

    after_end: Annotated[
        str,
        Field(strict=True, pattern="^(hide_details|keep|remove)$"),
        says('must be "hide_details" (the default), "keep" or "remove"'),
    ] = "hide_details"
    notify_end: Flag = False
    minimum_working_days: WholeNumber = 5
    holidays: Annotated[str, Field(strict=True, min_length=1)] | None = None
    area: dict[str, NoticeAreaTable] = Field(default_factory=dict)

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`[notice] must be a table`."""
        return refused_as_said("[notice] must be a table")

    @model_validator(mode="after")
    def _valid_areas(self) -> Self:
        for name in self.area:
            try:
                parse_area(name)
            except ValueError as exc:
                raise refused_as_said(f"notice.area.{toml_key(name)}: {exc}") from None
        return self

    def policy(self, home: Path) -> NoticePolicy:
        """The policy, reading the holiday file (`ConfigurationError` naming it)."""
        overrides = {}
        if self.holidays is not None:
            try:
                overrides = load_holiday_file(home / self.holidays)
            except FileNotFoundError:
                raise ConfigurationError(
                    f"notice.holidays: no such file: {home / self.holidays}"
                ) from None
            except (HolidayFileError, OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"notice.holidays: {exc}") from None
        return NoticePolicy(
            after_end=self.after_end,
            notify_end=self.notify_end,
            minimum_working_days=self.minimum_working_days,
            area_minimum={
                parse_area(name): t.minimum_working_days
                for name, t in self.area.items()
            },
            calendar=WorkdayCalendar(overrides),
        )


def toml_key(name: str) -> str:
    """A table key as written in TOML (quoted unless bare)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else toml_string(name)


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

[review]
# 先审后发: every new item, revision and withdrawal is approved at each level, in
# order, before it reaches a public outlet (docs/review.md). levels = [] turns review
# off: then items go out as soon as they are published.
levels = {levels}
# Who may approve or return at each level (a level not listed: anyone but the author):
# [review.reviewers]
# "审核" = ["李四", "王五"]
# allow_self_review = false      # true only for an office of one person
# withdraw_needs_review = true   # false: a withdrawal goes out at once
# urgent_review_hours = 24       # an urgent release must be approved afterwards by then

[guard]
# Before review and release, every item is checked for 身份证号, mobile and bank card
# numbers and 错敏词, in its text and its attachments (docs/personal-data.md); a
# finding stops it unless --allow-pii / --allow-wording --basis "…" is given.
# word_lists = ["错敏词.txt"]      # your own lists (one term per line), with the built-in one
# caution_blocks = false          # true: 提示-level words stop publishing too
# unreadable_attachments = "block" # "warn": a scan or image the guard cannot read is
#                                 # reported, not stopped (default: stopped until
#                                 # --allow-pii --basis "已人工核对…")
# erase_after_days = 30           # erase sealed attachments (sealed = true) this many
#                                 # days after the 公示期 ends, at the next sync
# [guard.masking]                 # what a masked number keeps: first + last characters
# id_card = "6+4"
# mobile = "3+4"
# bank_card = "6+4"

[notice]
# 公示期 on every outlet (docs/lifecycle.md). When a window ends (at the next sync),
# the portal and the feeds show the item marked 公示期已结束; a notice board gets a
# take-down sheet; the kiosk hides it.
# after_end = "hide_details"      # "keep": list and attachments stay; "remove": taken
#                                 # down where the outlet can be (WeChat article deleted)
# notify_end = false              # true: village-group robots get a short notice
# minimum_working_days = 5        # a shorter window needs --late-reason "…"
# [notice.area."社会救助"]
# minimum_working_days = 7        # e.g. 低保 notices

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


def _file(info: ValidationInfo) -> str:
    """The syndicate.toml being validated (the validation context), for messages."""
    return str(info.context) if info.context is not None else CONFIG_NAME


Text = Annotated[str, Field(strict=True), says("must be a string")]
"""A TOML string."""


class StoreTable(ConfigTable):
    """`[store]` as written in syndicate.toml. `settings()` resolves it (environment
    variables, `SYNDICATE_STORE_URL` and `SYNDICATE_STORE_SCHEMA`) into the
    `StoreSettings` the logs are opened with, which check the URL and schema."""

    url: Text = "sqlite"
    data_dir: Text = "data"
    # `schema` would shadow a (deprecated) BaseModel method: the key is its alias.
    schema_name: Text = Field("public", alias="schema")
    password: Annotated[Text | None, says("must be a string")] = None

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """`PATH: [store] must be a table`."""
        return refused_as_said(f"{_file(info)}: [store] must be a table")

    @model_validator(mode="after")
    def _no_password_written_down(self) -> Self:
        if self.password is not None and not ENV_REF.fullmatch(self.password):
            raise refused_as_said(
                'store.password: write it as "${ENV_VAR}" and set that variable; '
                f"secrets are never kept in {CONFIG_NAME}"
            )
        if has_password(self.url):
            raise refused_as_said(
                "store.url: holds a password; move it to "
                'password = "${ENV_VAR}" (or set SYNDICATE_STORE_URL in the environment)'
            )
        return self

    def settings(self, home: Path, environ: Mapping[str, str]) -> StoreSettings:
        """The store this table describes for the home at `home`: `${ENV}` references
        expanded (`ConfigurationError` naming one that is not set), the environment's
        `SYNDICATE_STORE_URL` and `SYNDICATE_STORE_SCHEMA` winning over the file."""
        url = environ.get("SYNDICATE_STORE_URL") or expand_env(
            self.url, "store.url", environ
        )
        schema = environ.get("SYNDICATE_STORE_SCHEMA") or self.schema_name
        password = (
            None
            if self.password is None
            else SecretStr(expand_env(self.password, "store.password", environ))
        )
        data_dir = home / expand_env(self.data_dir, "store.data_dir", environ)
        return StoreSettings(
            data_dir=data_dir, url=url.strip(), schema=schema, password=password
        )


class ConfigFile(ConfigTable):
    """syndicate.toml, validated: its sections, each a model.

    The `[outlets.NAME]` tables are kept as written (`outlets`) and validated when the
    outlets are first used (`OutletTable`, through `Project.outlets`): a command that
    does not need them works while one of them is wrong, and names the problem when it
    does need them.
    """

    store: StoreTable = Field(default_factory=StoreTable)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    review: ReviewTable | None = None
    guard: GuardTable = Field(default_factory=GuardTable)
    notice: NoticeTable = Field(default_factory=NoticeTable)
    outlets: Any = None

    @classmethod
    def unknown_keys(cls, keys: list[str], info: ValidationInfo) -> PydanticCustomError:
        """`PATH: unknown section(s) …`."""
        return refused_as_said(f"{_file(info)}: unknown section(s) {', '.join(keys)}")

    @classmethod
    def read(cls, path: Path) -> ConfigFile:
        """Parse and validate the file at `path`; `ConfigurationError` names the first
        problem (the file, a section or a `section.key`)."""
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> ConfigFile:
        """Parse and validate `text`, the contents of the file at `path`."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
        try:
            return cls.model_validate(data, context=path)
        except ValidationError as exc:
            raise configuration_error(exc) from None


def _plain(value: Any) -> Any:
    """A setting given from Python as TOML would read it back: paths as text, tuples
    as lists, mappings as dicts (anything else as it is: validation judges it)."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, Mapping):
        return {key: _plain(inner) for key, inner in value.items()}
    return value


class OutletOptions(TypedDict, total=False):
    """The keywords of `Project.add_outlet` besides the adapter's settings: syndicate's
    own keys of an outlet table (see `syndicate.outlets.OutletTable`)."""

    channel: str
    agencies: Sequence[str]
    areas: Sequence[str]
    audiences: Sequence[str]
    internal: bool
    rate_per_minute: int | None
    digest_minutes: int | None
    allow_private_network: bool


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


def home_lock(home: Path) -> AbstractContextManager[None]:
    """The home's lock (`.syndicate.toml.lock`), held while syndicate.toml, the stores'
    tables or the key pair are being made or changed, so two processes take turns."""
    return locked(home / f".{CONFIG_NAME}.lock")


# Where the audit signing key is, when it is not keys/audit-signing.key in the home.
KEY_ENV = "SYNDICATE_AUDIT_KEY"


class Project:
    """A loaded syndicate home."""

    def __init__(
        self,
        home: Path,
        store: StoreSettings,
        *,
        delivery: DeliverySettings | None = None,
        audit: AuditSettings | None = None,
        review: ReviewPolicy | None = None,
        guard: GuardTable | GuardPolicy | None = None,
        notice: NoticeTable | None = None,
        outlet_tables: Any = None,
        environ: Mapping[str, str] | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.home = home
        self.store = store
        self.delivery = delivery or DeliverySettings()
        self.audit = audit or AuditSettings()
        # No [review] table (a home made before review existed): off, and said so.
        self.review = review or ReviewPolicy.off(configured=False)
        self._guard_table = guard if isinstance(guard, GuardTable) else GuardTable()
        self._guard: GuardPolicy | None = (
            guard if isinstance(guard, GuardPolicy) else None
        )
        self._notice_table = notice or NoticeTable()
        self._notice: NoticePolicy | None = None
        self._outlet_tables = expand_each(outlet_tables)
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
        return self._load_each(_Placeholders(self._environ))

    def outlets_and_problems(self) -> tuple[dict[str, Outlet], dict[str, str]]:
        """Every outlet whose table loads, and the problem of each that does not, by
        name (`outlets` raises at the first problem instead). An unset `${ENV}`
        variable is a problem here: the outlet could not send."""
        return self._load_each(self._environ)

    def _load_each(
        self, environ: Mapping[str, str]
    ) -> tuple[dict[str, Outlet], dict[str, str]]:
        tables = self._outlet_tables
        if not isinstance(tables, dict):
            return self.outlets, {}  # raises the configuration error
        found: dict[str, Outlet] = {}
        problems: dict[str, str] = {}
        for name, table in tables.items():
            try:
                found |= load_outlets(
                    {name: table}, self.registry, home=self.home, environ=environ
                )
            except ConfigurationError as exc:
                problems[name] = str(exc)
        return found, problems

    def add_outlet(
        self,
        name: str,
        kind: str,
        settings: Mapping[str, Any],
        *,
        channel: str = "other",
        agencies: Sequence[str] = (),
        areas: Sequence[str] = (),
        audiences: Sequence[str] = (),
        internal: bool = False,
        rate_per_minute: int | None = None,
        digest_minutes: int | None = None,
        allow_private_network: bool = False,
    ) -> Outlet:
        """Add `[outlets.NAME]` to syndicate.toml and return the outlet, loaded.

        The table is validated first, exactly as loading validates it (the adapter's
        `Settings`, the URL rules, the same `ConfigurationError` messages), with this
        home's environment: a secret is given as a `${ENV_VAR}` reference (a literal
        one is refused) and the variable must be set. `settings` are the adapter's own
        (`syndicate outlets list` shows the kinds); text, numbers, booleans, lists and
        tables of them, and paths (written as text, relative to the home unless
        absolute). A name that is already in syndicate.toml is refused.

        The table is appended at the end of the file as text, so the rest of it, its
        comments included, stays as it was; the file is replaced all at once. A file
        that cannot take the table there (its outlets written as an inline table) is
        refused and left alone. Running workers keep their outlets until restarted.
        """
        where = outlet_place(name)
        table: dict[str, Any] = {"kind": kind}
        if channel != "other":
            table["channel"] = channel
        for key, names in (
            ("agencies", agencies),
            ("areas", areas),
            ("audiences", audiences),
        ):
            if names:
                # One name as text is one entry, as in syndicate.toml (not its letters).
                table[key] = [names] if isinstance(names, str) else list(names)
        # As given, not by truthiness: "false" must be refused as loading refuses it,
        # never turned into `true` (or quietly dropped).
        if internal is not False:
            table["internal"] = internal
        if allow_private_network is not False:
            table["allow_private_network"] = allow_private_network
        if rate_per_minute is not None:
            table["rate_per_minute"] = rate_per_minute
        if digest_minutes is not None:
            table["digest_minutes"] = digest_minutes
        reserved = OutletTable.syndicate_keys()
        if "each" in settings:
            raise ConfigurationError(
                f"{where}.each: a table listing several outlets is written by hand "
                "(see docs/configuration.md); add each outlet with its own name here"
            )
        for key, value in settings.items():
            if key in reserved:
                raise ConfigurationError(
                    f"{where}.{key}: not an adapter setting; give it as the "
                    f"{key} argument"
                )
            table[key] = _plain(value)
        # Another process may add an outlet at the same moment: one at a time, each
        # reading the file as the one before left it.
        with home_lock(self.home):
            return self._append_outlet(name, table)

    def _append_outlet(self, name: str, table: dict[str, Any]) -> Outlet:
        where = outlet_place(name)
        # The file as it is now: it may have changed since this project loaded it.
        path = self.config_path
        text = path.read_text("utf-8")
        tables = ConfigFile.parse(text, path).outlets
        data = tomllib.loads(text)
        if tables is not None and not isinstance(tables, dict):
            load_outlets(tables, self.registry, home=self.home, environ=self._environ)
        if name in (tables or {}) or name in expand_each(tables or {}):
            raise ConfigurationError(
                f"{where}: already in {path}; choose another name, or change that "
                "table there"
            )
        outlet = load_outlets(
            {name: table}, self.registry, home=self.home, environ=self._environ
        )[name]
        added = (
            text
            + ("\n" if text and not text.endswith("\n") else "")
            + ("\n" if text else "")
            + outlet_toml(name, table)
        )
        expected = {**data, "outlets": {**(tables or {}), name: table}}
        try:
            fits = tomllib.loads(added) == expected
        except tomllib.TOMLDecodeError:
            fits = False
        if not fits:
            raise ConfigurationError(
                f"{path}: [outlets.{name}] cannot be added at its end (are the "
                "outlets written as an inline table?); add the table by hand"
            )
        write_atomically(path, added.encode("utf-8"), mode=path.stat().st_mode & 0o777)
        self._outlet_tables = expand_each(expected["outlets"])
        self._outlets = None
        return outlet

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
        config = ConfigFile.read(path)
        return cls(
            home,
            config.store.settings(home, environ),
            delivery=config.delivery,
            audit=config.audit,
            review=None if config.review is None else config.review.policy(),
            guard=config.guard,
            notice=config.notice,
            outlet_tables=config.outlets,
            environ=environ,
            registry=registry,
        )

    @classmethod
    def init(
        cls,
        home: Path,
        *,
        store_url: str | None = None,
        environ: Mapping[str, str] | None = None,
        keys: bool = True,
        review: bool = True,
    ) -> tuple[Project, bool]:
        """Create (or check) a home: syndicate.toml, the data dir, the store's tables
        and (unless `keys` is False) the audit signing key pair, as `syndicate init`
        does (`ensure_keys`).

        `review`: the new syndicate.toml asks for one review level (`levels =
        ["审核"]`); False writes `levels = []` (no review: items go out at once).

        Returns the project and whether syndicate.toml was created now. Running it
        again is safe: an existing syndicate.toml and key pair are kept.

        The audit checkpoint store is made on first use on SQLite; on PostgreSQL, where
        only init creates tables, `syndicate.engine.Engine.init` (what `syndicate init`
        runs) makes it too, and tells about the key it made.
        """
        home.mkdir(parents=True, exist_ok=True)
        # Two inits of one home at once (two operators, two containers): one at a time;
        # the second finds the first one's syndicate.toml and keeps it.
        with home_lock(home):
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
                draft.write_text(
                    CONFIG_TEMPLATE.replace('"{url}"', toml_string(url)).replace(
                        "{levels}", '["审核"]' if review else "[]"
                    ),
                    "utf-8",
                )
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
                project.deliveries(items, create_tables=True, outlets={}) as log,
            ):
                log.index.create()  # the deliveries read model's tables
                items.timetable.create()  # and the items' timetable
            if keys:
                project.ensure_keys()
        return project, created

    def key_paths(self) -> tuple[Path, Path]:
        """The private key file that signs audit checkpoints (`SYNDICATE_AUDIT_KEY`, or
        keys/audit-signing.key under the home) and its public key file
        (keys/audit-signing.pub under the home)."""
        configured = self._environ.get(KEY_ENV)
        private = (
            Path(configured) if configured else self.home / "keys/audit-signing.key"
        )
        return private, self.home / "keys" / "audit-signing.pub"

    def ensure_keys(self) -> tuple[Verifier, bool]:
        """Create the signing key pair if there is none; returns the public key and
        whether it was created now. An existing private key is kept (its public key
        file written again if missing). The private key is never printed."""
        private, public = self.key_paths()
        if private.exists():
            signer = read_signer_file(private)
            if not public.exists():
                write_verifier_file(public, signer.verifier())
            return signer.verifier(), False
        signer = Signer.generate(f"syndicate-audit-{secrets.token_hex(4)}")
        write_signer_file(private, signer)
        public.unlink(missing_ok=True)
        write_verifier_file(public, signer.verifier())
        return signer.verifier(), True

    def outlet_set(
        self,
        items: Disclosures,
        deliveries: Deliveries,
        outlets: Mapping[str, Outlet],
        *,
        clock: Clock = system_clock,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> OutletSet:
        """`outlets` of this home, ready to render again and read back (and, inside a
        `Worker`, to send): jobs are built from the two logs given and carry the home's
        attachment store. The one place an `OutletSet` gets a home's settings. Close it
        when done."""
        return OutletSet(
            outlets,
            items=items,
            deliveries=deliveries,
            clock=clock,
            session_factory=session_factory,
            attachments=self.attachments.root,
        )

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
            review=self.review,
            guard=self.guard,
            notice=self.notice,
        )

    @property
    def notice(self) -> NoticePolicy:
        """`[notice]`: what outlets do after a 公示期, and its minimum length."""
        if self._notice is None:
            self._notice = self._notice_table.policy(self.home)
        return self._notice

    @property
    def erase_after_days(self) -> int | None:
        """`[guard] erase_after_days`: erase sealed parts this many days after the
        公示期 ends (None: only `items erase` erases)."""
        return self._guard_table.erase_after_days

    @property
    def guard(self) -> GuardPolicy:
        """The guard's policy (`[guard]`), its word lists read on first use."""
        if self._guard is None:
            self._guard = self._guard_table.policy(self.home)
        return self._guard

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
