"""Adapters by kind, loaded from the `syndicate.adapters` entry-point group.

Built-in adapters are registered there exactly like a third party's, so the core never
imports them. Tests build a `Registry` from a plain dict instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel

from syndicate.adapter import Capabilities, ChannelAdapter
from syndicate.errors import ConfigurationError

__all__ = ["ENTRY_POINT_GROUP", "AdapterInfo", "Registry"]

ENTRY_POINT_GROUP = "syndicate.adapters"


@dataclass(frozen=True)
class AdapterInfo:
    """Where an adapter kind comes from, for `syndicate outlets list`."""

    kind: str
    module: str
    distribution: str
    version: str


def _check(kind: str, cls: object) -> type[ChannelAdapter]:
    if not isinstance(cls, type):
        raise ConfigurationError(f"adapter {kind!r}: entry point is not a class")
    problems = []
    if getattr(cls, "kind", None) != kind:
        problems.append(f"its kind is {getattr(cls, 'kind', None)!r}, not {kind!r}")
    settings = getattr(cls, "Settings", None)
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        problems.append("Settings is not a pydantic model")
    if not isinstance(getattr(cls, "capabilities", None), Capabilities):
        problems.append("capabilities is not a Capabilities")
    for method in ("render", "deliver"):
        if not callable(getattr(cls, method, None)):
            problems.append(f"it has no {method}()")
    if problems:
        raise ConfigurationError(f"adapter {kind!r} is broken: {'; '.join(problems)}")
    return cls


class Registry(Mapping[str, type[ChannelAdapter]]):
    """A read-only mapping of kind → adapter class."""

    def __init__(
        self,
        adapters: Mapping[str, type[ChannelAdapter]],
        info: Mapping[str, AdapterInfo] | None = None,
    ) -> None:
        self._adapters = {kind: _check(kind, cls) for kind, cls in adapters.items()}
        self._info = dict(info or {})

    @classmethod
    def from_entry_points(cls) -> Registry:
        """Every adapter installed in this environment."""
        adapters: dict[str, type[ChannelAdapter]] = {}
        info: dict[str, AdapterInfo] = {}
        found: list[EntryPoint] = sorted(
            entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name
        )
        for ep in found:
            try:
                adapters[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others' names
                raise ConfigurationError(
                    f"adapter {ep.name!r} ({ep.value}) failed to load: {exc}"
                ) from exc
            dist = ep.dist
            info[ep.name] = AdapterInfo(
                kind=ep.name,
                module=ep.value,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
            )
        return cls(adapters, info)

    def __getitem__(self, kind: str) -> type[ChannelAdapter]:
        try:
            return self._adapters[kind]
        except KeyError:
            known = ", ".join(sorted(self._adapters)) or "none installed"
            raise ConfigurationError(
                f"no adapter of kind {kind!r} (installed: {known})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._adapters))

    def __len__(self) -> int:
        return len(self._adapters)

    def info(self, kind: str) -> AdapterInfo:
        """Module and distribution of an adapter kind."""
        cls = self[kind]
        return self._info.get(
            kind, AdapterInfo(kind, f"{cls.__module__}:{cls.__qualname__}", "-", "-")
        )
