"""Adapters by kind, loaded from the `syndicate.adapters` entry-point group.

Built-in adapters are registered there exactly like a third party's, so the core never
imports them. Tests build a `Registry` from a plain dict instead. `kind_label` is how
reports name a kind: the label its installed adapter declares, else the kind itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel

from syndicate.adapter import Capabilities, ChannelAdapter, adapter_label
from syndicate.errors import ConfigurationError

__all__ = ["ENTRY_POINT_GROUP", "AdapterInfo", "Registry", "kind_label"]

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
    label = getattr(cls, "label", None)
    if label is not None and not (isinstance(label, str) and label.strip()):
        problems.append("its label is not a name")
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

    def label(self, kind: str) -> str:
        """How people read `kind`: the label its adapter declares, else the kind itself
        (also for a kind not installed here, which an old log may name)."""
        cls = self._adapters.get(kind)
        return (adapter_label(cls) if cls is not None else None) or kind

    def info(self, kind: str) -> AdapterInfo:
        """Module and distribution of an adapter kind."""
        cls = self[kind]
        return self._info.get(
            kind, AdapterInfo(kind, f"{cls.__module__}:{cls.__qualname__}", "-", "-")
        )


def kind_label(kind: str) -> str:
    """`Registry.label` over the adapters installed here, read once per process."""
    return _installed_labels().get(kind, kind)


@functools.cache
def _installed_labels() -> dict[str, str]:
    registry = Registry.from_entry_points()
    return {kind: registry.label(kind) for kind in registry}
