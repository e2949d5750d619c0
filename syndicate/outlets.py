"""Outlets: the `[outlets.NAME]` tables of syndicate.toml, validated by each adapter.

```toml
[outlets.village-liutang]
kind = "webhook"                    # an adapter kind (`syndicate outlets list`)
channel = "group"                   # portal, rss, new_media, kiosk, group, noticeboard, other
agencies = ["临溪县青石镇人民政府", "临溪县青石镇柳塘村村民委员会"]   # optional filters
areas = ["社会救助", "涉农补贴"]
audiences = ["全社会", "柳塘村村民"]
url = "https://example.invalid/hook"   # the adapter's own settings …
secret = "${LIUTANG_WEBHOOK_SECRET}"   # … secrets only as ${ENV_VAR}
```

Errors name the outlet and the field: `outlets.village-liutang.secret: …`. A table is
validated by the model `OutletTable` (syndicate's keys) and the adapter's own `Settings`
(every other key). `Project.add_outlet` writes a new table (`outlet_toml`) after the same
validation.

What is shown of a setting (`Outlet.masked_settings`, `syndicate outlets check`, error
messages) never holds a secret: a secret is `**********`; a URL is shown as
`scheme://host[:port]/…`, never with its path, query, fragment or credentials (a
webhook's path or query may hold its key); a setting that refers to an environment
variable is shown as written in syndicate.toml (`${NAME}`), never with the variable's
value (a URL in one shows its scheme and host only); and an error message that would
repeat a variable's value names the variable instead.

Every setting whose value is an http(s) URL (a string or secret that starts with
`http://` or `https://`, at any depth) is checked by `syndicate.netguard.check_url`:
no loopback, private, link-local or other internal address, no `localhost`, no
credentials in the URL, no odd IPv4 notations. `allow_private_network = true` lets an
intranet outlet (or a test's loopback receiver) reach internal addresses.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from syndicate.adapter import Capabilities, ChannelAdapter, Digests
from syndicate.domain.catalogue import ChannelCategory, parse_area, parse_channel
from syndicate.domain.content import ItemContent, problems_from_validation_error
from syndicate.errors import ConfigurationError
from syndicate.netguard import PRIVATE_NETWORK_HINT, BlockedAddressError, check_url
from syndicate.registry import Registry

__all__ = [
    "ENV_REF",
    "MASK",
    "AdapterSettings",
    "ConfigTable",
    "Flag",
    "Outlet",
    "OutletDescription",
    "OutletFilter",
    "OutletKind",
    "OutletTable",
    "WholeNumber",
    "configuration_error",
    "expand_each",
    "expand_env",
    "load_outlets",
    "outlet_kinds",
    "outlet_place",
    "outlet_toml",
    "refused",
    "refused_as_said",
    "says",
    "shown_url",
    "toml_string",
]

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_HTTP_URL = re.compile(r"https?://", re.IGNORECASE)
MASK = "**********"
# Anything written like a URL (any scheme): shown without what follows the host.
_URLISH = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
_CLEAN_HOST = re.compile(
    r"[\w.~%-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+(%25[\w.~-]+)?\](:[0-9]{1,5})?"
)


def shown_url(url: str) -> str:
    """A URL as it may be shown: `scheme://host[:port]`, then `/…` if it has more.

    Never the credentials (`user:password@`), path, query or fragment: any of them may
    hold a key. A host that is not plainly a host name, an IP address and a port (it
    could be the start of something else) is not shown either.
    """
    scheme, _, rest = url.strip().partition("://")
    # Where a browser ends the host (a backslash too): what follows is not shown.
    netloc = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    tail = rest[len(netloc) :]
    hostport = netloc.rpartition("@")[2]
    if not _CLEAN_HOST.fullmatch(hostport):
        hostport = "…"
    more = "/…" if tail not in ("", "/") else tail
    return f"{scheme.lower()}://{hostport}{more}"


def _env_names(value: Any) -> list[str]:
    """The environment variables a raw settings value refers to, at any depth."""
    if isinstance(value, str):
        return ENV_REF.findall(value)
    if isinstance(value, list):
        return [name for inner in value for name in _env_names(inner)]
    if isinstance(value, dict):
        return [name for inner in value.values() for name in _env_names(inner)]
    return []


def _scrub_env(text: str, used: Mapping[str, str]) -> str:
    """`text` with every value of a variable in `used` replaced by its `${NAME}`.

    Values shorter than 6 characters (`true`, `15`) are left: they hold no secret, and
    replacing them would garble the message's own words.
    """
    for name, value in sorted(used.items(), key=lambda kv: -len(kv[1])):
        if len(value.strip()) >= 6:
            text = text.replace(value, f"${{{name}}}")
            if value.strip() != value:
                text = text.replace(value.strip(), f"${{{name}}}")
    return text


def _shown(value: Any, written: Any = None, *, from_env: bool = False) -> Any:
    """One settings value for display (see the module docstring)."""
    if isinstance(value, SecretStr):
        return MASK
    text = str(value) if isinstance(value, AnyUrl) else value
    if isinstance(text, str) and _URLISH.match(text):
        return shown_url(text)
    if from_env:  # as written in syndicate.toml: `${NAME}`, URLs in it shortened
        return _shown(written)
    if isinstance(value, BaseModel):
        return {key: _shown(inner) for key, inner in value}
    if isinstance(value, Mapping):
        return {key: _shown(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(inner) for inner in value]
    return value


def expand_env(value: str, field: str, environ: Mapping[str, str]) -> str:
    """Replace `${NAME}` references; a missing variable is a `ConfigurationError`."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigurationError(
                f"{field}: environment variable {name} is not set (it is referenced "
                f"as ${{{name}}} in syndicate.toml)"
            )
        return environ[name]

    return ENV_REF.sub(lookup, value)


@dataclass(frozen=True)
class OutletFilter:
    """Which items an outlet takes; an empty list means no restriction."""

    agencies: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()

    def accepts(self, content: ItemContent) -> bool:
        """Whether an item with this content belongs on the outlet."""
        return (
            (not self.agencies or content.agency in self.agencies)
            and (not self.areas or content.area in self.areas)
            and (not self.audiences or content.audience in self.audiences)
        )


@dataclass(frozen=True)
class Outlet:
    """One configured outlet: a name, an adapter, its settings, what it takes."""

    name: str
    kind: str
    channel: ChannelCategory | None
    filter: OutletFilter
    # Not in repr(): a URL setting may hold a key (masked_settings() is for display).
    settings: BaseModel = field(repr=False)
    adapter_class: type[ChannelAdapter]
    # Internal outlets (an archive, an intranet hand-off) may take items that are not
    # proactively disclosed; every other outlet is public and never does.
    internal: bool = False
    rate_per_minute: int | None = None
    # An internal outlet that receives the office's review notices (待审核 / 已退回 /
    # 已发布) and nothing else (docs/review.md).
    review_queue: bool = False
    # Gather the deliveries that become due within this many minutes into one
    # message (outlets whose adapter `Digests`; docs/delivery.md).
    digest_minutes: int | None = None
    # How many deliveries a worker sends to this outlet at once (adapters that declare
    # `concurrent_sends`; docs/delivery.md).
    concurrency: int = 1
    # Intranet outlets (and tests' loopback receivers) may reach loopback, private and
    # link-local addresses; every other outlet's requests are refused there (netguard).
    allow_private_network: bool = False
    # The settings that refer to environment variables, as written in syndicate.toml
    # (`"${NAME}"`): what is shown of them.
    written: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def capabilities(self) -> Capabilities:
        """The adapter's declared capabilities."""
        return self.adapter_class.capabilities

    @functools.cached_property
    def rate_key(self) -> str:
        """Whose rate limit this outlet's sends count against: its own (its name), or
        one it shares with other outlets that send through the same account (several
        village groups whose 网格员s one robot tells). An adapter class says so with a
        class method `shared_rate_key(settings) -> str | None` (a digest of the
        account, never the secret itself). Worked out once: the worker asks on every
        rate-slot check."""
        shared = getattr(self.adapter_class, "shared_rate_key", None)
        key = shared(self.settings) if callable(shared) else None
        return f"shared:{key}" if isinstance(key, str) and key else self.name

    def adapter(self) -> ChannelAdapter:
        """A fresh adapter instance for this outlet."""
        factory: Any = self.adapter_class
        adapter: ChannelAdapter = factory(self.settings)
        return adapter

    def accepts(self, content: ItemContent) -> bool:
        """Whether an item with this content belongs on this outlet at all (a review
        queue takes review notices only, never an item)."""
        if self.review_queue:
            return False
        if self.channel is not None and self.channel not in content.channels:
            return False
        if not self.internal and not content.is_public:
            return False
        return self.filter.accepts(content)

    def masked_settings(self) -> dict[str, Any]:
        """Settings for display: secrets as `**********`, URLs as
        `scheme://host[:port]/…`, settings that refer to environment variables as
        written in syndicate.toml (`${NAME}`; a URL in one as its scheme and host)."""
        return {
            key: _shown(value, self.written.get(key), from_env=key in self.written)
            for key, value in self.settings
        }

    def describe(self) -> OutletDescription:
        """What `syndicate outlets check` shows of the outlet: never a secret."""
        return OutletDescription(
            name=self.name,
            kind=self.kind,
            channel=self.channel.value if self.channel else "other",
            agencies=self.filter.agencies,
            areas=self.filter.areas,
            audiences=self.filter.audiences,
            internal=self.internal,
            review_queue=self.review_queue,
            rate_per_minute=self.rate_per_minute,
            digest_minutes=self.digest_minutes,
            allow_private_network=self.allow_private_network,
            # Unset optional settings are None (not the text "None").
            settings={
                key: None if value is None else str(value)
                for key, value in self.masked_settings().items()
            },
        )


@dataclass(frozen=True)
class OutletDescription:
    """A configured outlet as `syndicate outlets check` shows it: its table's values
    and its settings as text, masked (`Outlet.masked_settings`); None for an unset
    optional setting. Holds no secret, so it may be logged or shown."""

    name: str
    kind: str
    channel: str  # a channel category, or "other"
    agencies: tuple[str, ...]
    areas: tuple[str, ...]  # pilot-area codes
    audiences: tuple[str, ...]
    internal: bool
    rate_per_minute: int | None
    allow_private_network: bool
    settings: Mapping[str, str | None]
    review_queue: bool = False
    digest_minutes: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object `syndicate outlets check --json` prints for it."""
        return {
            "name": self.name,
            "kind": self.kind,
            "channel": self.channel,
            "agencies": list(self.agencies),
            "areas": list(self.areas),
            "audiences": list(self.audiences),
            "internal": self.internal,
            "rate_per_minute": self.rate_per_minute,
            "allow_private_network": self.allow_private_network,
            "review_queue": self.review_queue,
            "digest_minutes": self.digest_minutes,
            "settings": dict(self.settings),
        }


@dataclass(frozen=True)
class OutletKind:
    """An installed adapter kind (`syndicate outlets list`): where it comes from, what
    it can do, and the model its `[outlets.NAME]` settings are validated by."""

    kind: str
    module: str  # `package.module:Class`
    distribution: str  # "-" when not installed through an entry point
    version: str
    capabilities: Capabilities
    settings: type[BaseModel] = field(repr=False)

    def as_json(self) -> dict[str, str]:
        """The JSON object `syndicate outlets list --json` prints for it."""
        return {
            "kind": self.kind,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
        }


def outlet_kinds(registry: Registry | None = None) -> list[OutletKind]:
    """The adapter kinds of `registry` (default: those installed, from entry points),
    sorted by kind. Needs no home. `ConfigurationError` if an installed adapter does
    not load."""
    if registry is None:
        registry = Registry.from_entry_points()
    kinds = []
    for kind in registry:
        info, adapter = registry.info(kind), registry[kind]
        kinds.append(
            OutletKind(
                kind=info.kind,
                module=info.module,
                distribution=info.distribution,
                version=info.version,
                capabilities=adapter.capabilities,
                settings=adapter.Settings,
            )
        )
    return kinds


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_secret(a) for a in typing.get_args(annotation))
    return False


def _is_path(annotation: Any) -> bool:
    if annotation is Path:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_path(a) for a in typing.get_args(annotation))
    return False


def _expand_all(value: Any, field: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return expand_env(value, field, environ)
    if isinstance(value, list):
        return [_expand_all(v, f"{field}[{i}]", environ) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand_all(v, f"{field}.{k}", environ) for k, v in value.items()}
    return value


def _url_settings(value: Any, field: str) -> list[tuple[str, str, bool]]:
    """(field path, URL, is secret) for every http(s) URL in a settings value."""
    secret = isinstance(value, SecretStr)
    text = value.get_secret_value() if secret else value
    if isinstance(value, AnyUrl):  # pydantic's URL types
        text = str(value)
    if isinstance(text, str):
        return [(field, text, secret)] if _HTTP_URL.match(text.strip()) else []
    found: list[tuple[str, str, bool]] = []
    if isinstance(value, BaseModel):
        for key, inner in value:
            found += _url_settings(inner, f"{field}.{key}")
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            found += _url_settings(inner, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found += _url_settings(inner, f"{field}[{index}]")
    return found


def _check_urls(
    settings: BaseModel,
    where: str,
    *,
    allow_private: bool,
    from_env: Mapping[str, list[str]],
) -> None:
    """Refuse configured URLs that point where syndicate must not send requests.

    The rule covers every URL-valued setting, whether the adapter sends requests to it
    (`url`, `hub`) or publishes it as a link (`site_url`, `portal_url`): a link into the
    private network on a public outlet is a mistake too. Messages name the field and the
    host, never the whole URL (its path or query may hold a key) nor a secret's value;
    of a URL taken from an environment variable, the host only when it is plainly one.
    """
    for key, value in settings:
        names = from_env.get(key, [])
        for path, url, secret in _url_settings(value, f"{where}.{key}"):
            try:
                check_url(url.strip(), allow_private=allow_private)
            except BlockedAddressError as exc:
                hint = f"; {PRIVATE_NETWORK_HINT}" if exc.private else ""
                if secret:
                    raise ConfigurationError(
                        f"{path}: refused ({exc.reason}); the URL is a secret and "
                        f"not shown{hint}"
                    ) from None
                plain = exc.host is not None and _CLEAN_HOST.fullmatch(exc.host)
                if names and not plain:
                    refs = ", ".join(f"${{{n}}}" for n in dict.fromkeys(names))
                    raise ConfigurationError(
                        f"{path}: refused ({exc.reason}); the URL comes from {refs} "
                        f"and is not shown{hint}"
                    ) from None
                raise ConfigurationError(f"{path}: {exc}") from None


# -- syndicate.toml's tables as models ---------------------------------------------------
#
# Every table of syndicate.toml is a pydantic model (here and in syndicate.project) whose
# validators word each problem the way operators have always read it: `outlets.NAME.field:
# …`, `store.data_dir: …`, `delivery.claim_seconds: must be a whole number >= 1`. A
# validator raises one of two kinds of error: a field's problem (`_FIELD`), which
# `configuration_error` prefixes with its place (the table, then pydantic's `loc`), or a
# message that is whole already (`_WHOLE`: it names its own place, or several places).
# Only the first problem is reported, in the order the fields are declared: for an outlet
# table the order of the checks before the models (the order is part of what an operator
# sees); within [store], [delivery] and [audit], of several wrong values the first
# declared one (before the models: the first in the file).

_FIELD = "syndicate_config"
_WHOLE = "syndicate_config_message"


def refused(message: str) -> PydanticCustomError:
    """A problem of the value being validated; `configuration_error` names its place."""
    return PydanticCustomError(_FIELD, message)


def refused_as_said(message: str) -> PydanticCustomError:
    """A problem whose `message` names its own place (`store.password: …`)."""
    return PydanticCustomError(_WHOLE, message)


def says(message: str) -> WrapValidator:
    """Report any problem of the annotated type as `message` (`must be true or false`)."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise refused(message) from None

    return WrapValidator(validate)


WholeNumber = Annotated[
    int, Field(strict=True, ge=1), says("must be a whole number >= 1")
]
"""A TOML integer >= 1 (not a boolean, not a float, not a string)."""

Flag = Annotated[bool, Field(strict=True), says("must be true or false")]
"""A TOML boolean."""


def configuration_error(exc: ValidationError, where: str = "") -> ConfigurationError:
    """The first problem of a configuration model's validation, as a `ConfigurationError`
    naming its place: `where` (a table, such as `outlets.NAME`; "" for the whole file)
    followed by the field's path."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == _WHOLE:
        return ConfigurationError(error["msg"])
    place = where
    for part in error["loc"]:
        place += f"[{part}]" if isinstance(part, int) else f".{part}" if place else part
    return ConfigurationError(f"{place}: {error['msg']}" if place else error["msg"])


class ConfigTable(BaseModel):
    """Base of the models of syndicate.toml's tables: immutable; the value must be a TOML
    table, and a key the model does not know is refused (all of them named at once, with
    the keys that are expected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def not_a_table(cls, info: ValidationInfo) -> PydanticCustomError:
        """The error for a value that is not a table (a model may word it otherwise)."""
        return refused("must be a table")

    @classmethod
    def unknown_keys(cls, keys: list[str], info: ValidationInfo) -> PydanticCustomError:
        """The error for keys the model does not know (sorted)."""
        return refused(
            f"unknown key(s) {', '.join(keys)}; expected {', '.join(cls.table_keys())}"
        )

    @classmethod
    def table_keys(cls) -> list[str]:
        """The keys the table may hold, as written in syndicate.toml, sorted."""
        return sorted(f.alias or name for name, f in cls.model_fields.items())

    @model_validator(mode="before")
    @classmethod
    def _a_table_of_known_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise cls.not_a_table(info)
        unknown = sorted(set(data) - set(cls.table_keys()))
        if unknown:
            raise cls.unknown_keys(unknown, info)
        return data


def outlet_place(name: str) -> str:
    """`outlets.NAME`, where problems of the outlet `name` are named; a name that is not
    one is a `ConfigurationError`."""
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"outlets.{name}: outlet names use letters, digits, '-' and '_' (at most 64)"
        )
    return f"outlets.{name}"


def _str_list(value: Any) -> tuple[str, ...]:
    """`agencies`, `areas`, `audiences`: a string or a list of strings, trimmed."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise refused("must be a list of strings")
    return tuple(v.strip() for v in value)


@dataclass(frozen=True)
class _Loading:
    """What validating an outlet table needs besides the table (the validation context)."""

    where: str  # `outlets.NAME`
    registry: Registry
    home: Path
    environ: Mapping[str, str]


@dataclass(frozen=True)
class AdapterSettings:
    """An outlet's own settings, validated by its adapter's `Settings` model, and those
    that refer to environment variables as written in syndicate.toml (shown instead)."""

    model: BaseModel
    written: Mapping[str, Any]


def _loading(info: ValidationInfo) -> _Loading:
    context = info.context
    if not isinstance(context, _Loading):  # a programming error, not a user's
        raise TypeError("validate an OutletTable with OutletTable.load()")
    return context


class OutletTable(BaseModel):
    """One `[outlets.NAME]` table of syndicate.toml, validated.

    The keys below are syndicate's; every other key is the adapter's own setting,
    validated by its `Settings` model (`settings`). Secrets must be `${ENV_VAR}`
    references; every http(s) URL among the settings must pass `netguard.check_url`
    unless `allow_private_network`. Validate one with `OutletTable.load`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Declared in the order they are checked: the first problem is the one reported.
    kind: str
    channel: ChannelCategory | None = None  # None: "other", any of the item's channels
    areas: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    settings: AdapterSettings
    internal: Flag = False
    review_queue: Annotated[Flag, Field(validate_default=True)] = False
    allow_private_network: Annotated[Flag, Field(validate_default=True)] = False
    rate_per_minute: Annotated[
        WholeNumber | None,
        says("must be a whole number >= 1"),  # one message, not one per arm
        Field(validate_default=True),
    ] = None
    digest_minutes: Annotated[
        WholeNumber | None,
        says("must be a whole number of minutes from 1 to 1440"),
        Field(validate_default=True),
    ] = None
    concurrency: Annotated[
        WholeNumber | None,
        says("must be a whole number from 1 to 32"),
        Field(validate_default=True),
    ] = None

    @classmethod
    def load(
        cls,
        name: str,
        table: Any,
        registry: Registry,
        *,
        home: Path,
        environ: Mapping[str, str],
    ) -> OutletTable:
        """Validate `[outlets.NAME]`; the first problem is a `ConfigurationError`."""
        where = outlet_place(name)
        try:
            return cls.model_validate(
                table, context=_Loading(where, registry, home, environ)
            )
        except ValidationError as exc:
            raise configuration_error(exc, where) from None

    @classmethod
    def syndicate_keys(cls) -> frozenset[str]:
        """The keys of an outlet table that are syndicate's, not the adapter's."""
        return frozenset(cls.model_fields) - {"settings"}

    @model_validator(mode="before")
    @classmethod
    def _settings_apart(cls, data: Any) -> Any:
        """syndicate's keys as they are; every other key into `settings`."""
        if not isinstance(data, dict):
            raise refused("must be a table")
        reserved = cls.syndicate_keys()
        ours = {k: v for k, v in data.items() if k in reserved}
        settings = {k: v for k, v in data.items() if k not in reserved}
        return {**ours, "kind": data.get("kind"), "settings": settings}

    @field_validator("kind", mode="plain")
    @classmethod
    def _installed(cls, value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            raise refused("required (`syndicate outlets list`)")
        try:
            _loading(info).registry[value]
        except ConfigurationError as exc:
            raise refused(str(exc)) from None
        return value

    @field_validator("channel", mode="plain")
    @classmethod
    def _channel(cls, value: Any) -> ChannelCategory | None:
        if isinstance(value, ChannelCategory) or value is None:
            return value
        try:
            return None if value == "other" else parse_channel(value)
        except (ValueError, AttributeError) as exc:
            raise refused(f"{exc}; or 'other'") from None

    @field_validator("areas", mode="plain")
    @classmethod
    def _areas(cls, value: Any) -> tuple[str, ...]:
        try:
            return tuple(parse_area(a) for a in _str_list(value))
        except ValueError as exc:
            raise refused(str(exc)) from None

    @field_validator("agencies", "audiences", mode="plain")
    @classmethod
    def _names(cls, value: Any) -> tuple[str, ...]:
        return _str_list(value)

    @field_validator("settings", mode="plain")
    @classmethod
    def _adapter_settings(cls, value: Any, info: ValidationInfo) -> AdapterSettings:
        if isinstance(value, AdapterSettings):
            return value
        kind = info.data.get("kind")
        if kind is None:  # the kind is wrong: that problem is reported, not this
            return cast(AdapterSettings, value)
        loading = _loading(info)
        try:
            return _validate_settings(value, loading.registry[kind], loading)
        except ConfigurationError as exc:
            raise refused_as_said(str(exc)) from None

    @field_validator("review_queue", mode="after")
    @classmethod
    def _renders_review_notices(cls, value: bool, info: ValidationInfo) -> bool:
        if not value:
            return value
        kind = info.data.get("kind")
        if kind is None:
            return value
        if not _loading(info).registry[kind].capabilities.review_notices:
            raise refused(
                f"{kind} outlets cannot take review notices; use a group robot "
                "(wecom_group, dingtalk_group) or a webhook"
            )
        if not info.data.get("internal"):
            raise refused(
                "a review queue shows versions that are not public yet: set "
                "internal = true on it too"
            )
        return value

    @field_validator("allow_private_network", mode="after")
    @classmethod
    def _urls_allowed(cls, value: bool, info: ValidationInfo) -> bool:
        settings = info.data.get("settings")
        if isinstance(settings, AdapterSettings):
            from_env = {k: _env_names(v) for k, v in settings.written.items()}
            try:
                _check_urls(
                    settings.model,
                    _loading(info).where,
                    allow_private=value,
                    from_env=from_env,
                )
            except ConfigurationError as exc:
                raise refused_as_said(str(exc)) from None
        return value

    @field_validator("digest_minutes", mode="after")
    @classmethod
    def _digests(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if not 1 <= value <= 1440:
            raise refused("must be a whole number of minutes from 1 to 1440")
        kind = info.data.get("kind")
        if kind is None:
            return value
        if not issubclass(_loading(info).registry[kind], Digests):
            raise refused(
                f"{kind} outlets cannot gather items into one message; leave it out"
            )
        return value

    @field_validator("concurrency", mode="after")
    @classmethod
    def _at_once(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None or value == 1:
            return value
        if not 1 <= value <= 32:
            raise refused("must be a whole number from 1 to 32")
        kind = info.data.get("kind")
        if kind is None:
            return value
        if not _loading(info).registry[kind].capabilities.concurrent_sends:
            raise refused(
                f"{kind} outlets send one delivery at a time; leave it out (or 1)"
            )
        if info.data.get("rate_per_minute") is not None:
            raise refused(
                "an outlet with a rate limit (rate_per_minute, or its kind's) sends "
                "one at a time; leave concurrency out"
            )
        return value

    @field_validator("rate_per_minute", mode="after")
    @classmethod
    def _within_the_platforms_limit(
        cls, value: int | None, info: ValidationInfo
    ) -> int | None:
        kind = info.data.get("kind")
        if kind is None:
            return value
        limit = _loading(info).registry[kind].capabilities.max_per_minute
        if limit is None:
            return value
        if value is not None and value > limit:
            raise refused(
                f"{kind} accepts at most {limit} messages a minute; use a lower value "
                "or leave it out"
            )
        return value or limit


def _validate_settings(
    raw: dict[str, Any], adapter_class: type[ChannelAdapter], loading: _Loading
) -> AdapterSettings:
    """An adapter's own settings: secrets only as `${ENV_VAR}`, variables expanded
    (one not set is named), relative paths under the home, then its `Settings` model.

    Messages never repeat a variable's value (`_scrub_env`)."""
    where = loading.where
    fields = adapter_class.Settings.model_fields
    for key, value in raw.items():
        spec = fields.get(key)
        literal = not (isinstance(value, str) and ENV_REF.fullmatch(value.strip()))
        if spec is not None and _is_secret(spec.annotation) and literal:
            raise ConfigurationError(
                f'{where}.{key}: a secret; write it as "${{ENV_VAR}}" and set that '
                "variable (secrets are never kept in syndicate.toml)"
            )
    refers = {key: names for key, value in raw.items() if (names := _env_names(value))}
    environ = loading.environ
    values = _expand_all(raw, where, environ)  # a variable not set is named here
    used = {name: environ[name] for names in refers.values() for name in names}
    for key, value in values.items():
        spec = fields.get(key)
        if spec is not None and _is_path(spec.annotation) and isinstance(value, str):
            values[key] = str((loading.home / value).resolve())
    try:
        model = adapter_class.Settings.model_validate(values)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc)
        # An adapter's own check may repeat what it was given: never a variable's value.
        raise ConfigurationError(
            _scrub_env(
                "; ".join(f"{where}.{p.field}: {p.message}" for p in problems), used
            )
        ) from None
    return AdapterSettings(model, {key: raw[key] for key in refers})


def _load_one(
    name: str,
    table: Any,
    registry: Registry,
    home: Path,
    environ: Mapping[str, str],
) -> Outlet:
    if isinstance(table, dict) and "each" in table:
        if table["each"] == "clash":
            raise ConfigurationError(
                f"{outlet_place(name)}.each: an entry's outlet name (NAME-ID) is "
                "also the name of another outlet; choose other ids"
            )
        raise ConfigurationError(
            _each_problem(name, table) or f"{outlet_place(name)}.each: invalid"
        )
    valid = OutletTable.load(name, table, registry, home=home, environ=environ)
    return Outlet(
        name,
        valid.kind,
        valid.channel,
        OutletFilter(
            agencies=valid.agencies, areas=valid.areas, audiences=valid.audiences
        ),
        valid.settings.model,
        registry[valid.kind],
        internal=valid.internal,
        review_queue=valid.review_queue,
        rate_per_minute=valid.rate_per_minute,
        digest_minutes=valid.digest_minutes,
        concurrency=valid.concurrency or 1,
        allow_private_network=valid.allow_private_network,
        written=valid.settings.written,
    )


# -- writing an outlet table ------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:  # control characters TOML wants escaped
        return f"\\u{ord(ch):04X}"
    return ch


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    return '"' + "".join(_toml_char(ch) for ch in text) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def _toml_value(value: Any, where: str) -> str:
    """`value` as TOML; `ConfigurationError` naming `where` for a kind TOML lacks."""
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # TOML writes inf and nan as Python's str() does
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        inner = ", ".join(_toml_value(v, f"{where}[{i}]") for i, v in enumerate(value))
        return f"[{inner}]"
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        pairs = ", ".join(
            f"{_toml_key(k)} = {_toml_value(v, f'{where}.{k}')}"
            for k, v in value.items()
        )
        return f"{{ {pairs} }}" if pairs else "{}"
    raise ConfigurationError(
        f"{where}: a {type(value).__name__} cannot be written in syndicate.toml; give "
        "text, a number, true or false, a list or a table"
    )


def outlet_toml(name: str, table: Mapping[str, Any]) -> str:
    """`[outlets.NAME]` and its `key = value` lines, as TOML text that reads back as
    `table`: text, numbers, booleans, and lists and tables of them (another kind of
    value is a `ConfigurationError` naming it). `name` must be a valid outlet name."""
    header = outlet_place(name)
    lines = [f"[{header}]"]
    lines += [
        f"{_toml_key(key)} = {_toml_value(value, f'{header}.{key}')}"
        for key, value in table.items()
    ]
    return "\n".join(lines) + "\n"


def _each_problem(name: str, table: dict[str, Any]) -> str | None:
    """Why the `each` list of `[outlets.NAME]` cannot be expanded, or None."""
    if not _NAME.fullmatch(name):
        return (
            f"outlets.{name}: an outlet name is letters, digits, '_' and '-' (at most "
            "64), starting with a letter or digit; with `each`, the entries' outlets "
            "are named NAME-ID"
        )
    where = outlet_place(name)
    entries = table.get("each")
    if not isinstance(entries, list) or not entries:
        return (
            f"{where}.each: must be a non-empty list of tables ([[outlets.{name}.each]]"
            "), one per outlet, each with an `id`"
        )
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        at = f"{where}.each[{index}]"
        if not isinstance(entry, dict):
            return f"{at}: must be a table with an `id` and the settings that differ"
        id_ = entry.get("id")
        if not isinstance(id_, str) or not _EACH_ID.fullmatch(id_):
            return (
                f"{at}.id: must be letters, digits, '_' or '-' (at most 40), e.g. "
                '"liutang"; the outlet is then named NAME-ID'
            )
        if not _NAME.fullmatch(f"{name}-{id_}"):
            return f"{at}.id: {name}-{id_} is longer than an outlet name may be (64)"
        if id_ in seen:
            return f"{at}.id: {id_!r} is listed twice"
        seen.add(id_)
        for key in ("each", "kind"):
            if key in entry:
                return f"{at}.{key}: set it on [outlets.{name}], not per entry"
    return None


_EACH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def expand_each(tables: Any) -> Any:
    """The `[outlets.NAME]` tables with each `each` list expanded: a table listing
    `[[outlets.NAME.each]]` entries stands for one outlet per entry, named
    `NAME-<id>`, with the table's settings and the entry's own on top (a township's
    30 village groups in one table). A table whose `each` is malformed, or whose
    expansion would repeat a name, is kept as it is: loading it says what is wrong."""
    if not isinstance(tables, dict):
        return tables
    expanded: dict[str, Any] = {}
    for name, table in tables.items():
        if not (isinstance(table, dict) and "each" in table):
            expanded[name] = table
            continue
        if _each_problem(name, table) is not None:
            expanded[name] = table
            continue
        base = {key: value for key, value in table.items() if key != "each"}
        names = [f"{name}-{entry['id']}" for entry in table["each"]]
        if any(n in tables or n in expanded for n in names):
            expanded[name] = {**table, "each": "clash"}
            continue
        for full, entry in zip(names, table["each"], strict=True):
            expanded[full] = {
                **base,
                **{key: value for key, value in entry.items() if key != "id"},
            }
    return expanded


def load_outlets(
    tables: Any,
    registry: Registry,
    *,
    home: Path,
    environ: Mapping[str, str],
) -> dict[str, Outlet]:
    """Validate every `[outlets.NAME]` table; the first problem raises."""
    if tables is None:
        return {}
    if not isinstance(tables, dict):
        raise ConfigurationError("outlets: must be a table of [outlets.NAME] tables")
    tables = expand_each(tables)
    return {
        name: _load_one(name, table, registry, home, environ)
        for name, table in sorted(tables.items())
    }
