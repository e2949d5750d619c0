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

Errors name the outlet and the field: `outlets.village-liutang.secret: …`.

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

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import AnyUrl, BaseModel, SecretStr, ValidationError

from syndicate.adapter import Capabilities, ChannelAdapter
from syndicate.domain.catalogue import ChannelCategory, parse_area, parse_channel
from syndicate.domain.content import ItemContent, problems_from_validation_error
from syndicate.errors import ConfigurationError
from syndicate.netguard import PRIVATE_NETWORK_HINT, BlockedAddressError, check_url
from syndicate.registry import Registry

__all__ = [
    "ENV_REF",
    "MASK",
    "Outlet",
    "OutletFilter",
    "expand_env",
    "load_outlets",
    "shown_url",
]

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_RESERVED = {
    "kind",
    "channel",
    "agencies",
    "areas",
    "audiences",
    "internal",
    "rate_per_minute",
    "allow_private_network",
}
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

    def adapter(self) -> ChannelAdapter:
        """A fresh adapter instance for this outlet."""
        factory: Any = self.adapter_class
        adapter: ChannelAdapter = factory(self.settings)
        return adapter

    def accepts(self, content: ItemContent) -> bool:
        """Whether an item with this content belongs on this outlet at all."""
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


def _str_list(table: dict[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{where}.{key}: must be a list of strings")
    return [v.strip() for v in value]


def _load_one(
    name: str,
    table: Any,
    registry: Registry,
    home: Path,
    environ: Mapping[str, str],
) -> Outlet:
    where = f"outlets.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{where}: outlet names use letters, digits, '-' and '_' (at most 64)"
        )
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: must be a table")
    kind = table.get("kind")
    if not isinstance(kind, str):
        raise ConfigurationError(f"{where}.kind: required (`syndicate outlets list`)")
    try:
        adapter_class = registry[kind]
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}.kind: {exc}") from None
    channel_text = table.get("channel", "other")
    try:
        channel = None if channel_text == "other" else parse_channel(channel_text)
    except (ValueError, AttributeError) as exc:
        raise ConfigurationError(f"{where}.channel: {exc}; or 'other'") from None
    try:
        areas = tuple(parse_area(a) for a in _str_list(table, "areas", where))
    except ValueError as exc:
        raise ConfigurationError(f"{where}.areas: {exc}") from None
    item_filter = OutletFilter(
        agencies=tuple(_str_list(table, "agencies", where)),
        areas=areas,
        audiences=tuple(_str_list(table, "audiences", where)),
    )
    fields = adapter_class.Settings.model_fields
    raw = {k: v for k, v in table.items() if k not in _RESERVED}
    for key, value in raw.items():
        spec = fields.get(key)
        literal = not (isinstance(value, str) and ENV_REF.fullmatch(value.strip()))
        if spec is not None and _is_secret(spec.annotation) and literal:
            raise ConfigurationError(
                f'{where}.{key}: a secret; write it as "${{ENV_VAR}}" and set that '
                "variable (secrets are never kept in syndicate.toml)"
            )
    refers = {key: names for key, value in raw.items() if (names := _env_names(value))}
    values = _expand_all(raw, where, environ)  # a variable not set is named here
    used = {name: environ[name] for names in refers.values() for name in names}
    for key, value in values.items():
        spec = fields.get(key)
        if spec is not None and _is_path(spec.annotation) and isinstance(value, str):
            values[key] = str((home / value).resolve())
    try:
        settings = adapter_class.Settings.model_validate(values)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc)
        # An adapter's own check may repeat what it was given: never a variable's value.
        raise ConfigurationError(
            _scrub_env(
                "; ".join(f"{where}.{p.field}: {p.message}" for p in problems), used
            )
        ) from None
    internal = table.get("internal", False)
    if not isinstance(internal, bool):
        raise ConfigurationError(f"{where}.internal: must be true or false")
    allow_private = table.get("allow_private_network", False)
    if not isinstance(allow_private, bool):
        raise ConfigurationError(
            f"{where}.allow_private_network: must be true or false"
        )
    _check_urls(settings, where, allow_private=allow_private, from_env=refers)
    rate = table.get("rate_per_minute")
    if rate is not None and (
        not isinstance(rate, int) or isinstance(rate, bool) or rate < 1
    ):
        raise ConfigurationError(
            f"{where}.rate_per_minute: must be a whole number >= 1"
        )
    limit = adapter_class.capabilities.max_per_minute
    if limit is not None:
        if rate is not None and rate > limit:
            raise ConfigurationError(
                f"{where}.rate_per_minute: {kind} accepts at most {limit} messages a "
                "minute; use a lower value or leave it out"
            )
        rate = rate or limit
    return Outlet(
        name,
        kind,
        channel,
        item_filter,
        settings,
        adapter_class,
        internal=internal,
        rate_per_minute=rate,
        allow_private_network=allow_private,
        written={key: raw[key] for key in refers},
    )


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
    return {
        name: _load_one(name, table, registry, home, environ)
        for name, table in sorted(tables.items())
    }
