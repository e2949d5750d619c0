"""Every installed adapter kind is held to the adapter contract by a test.

A kind registered in the `syndicate.adapters` entry-point group (pyproject.toml) needs a
`Test…(AdapterContract)` class with that adapter as `adapter_class`, in a test module
under `tests/` (by convention `tests/adapters/test_<kind>.py`).
"""

from __future__ import annotations

from typing import ClassVar

import requests
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings

from syndicate.adapter import Capabilities, DeliveryJob, Receipt, Rendition
from syndicate.adapterkit import BaseAdapter
from syndicate.registry import Registry
from syndicate.testing import kinds_without_contract


def test_every_installed_kind_has_a_contract_test() -> None:
    missing = kinds_without_contract(Registry.from_entry_points(), "tests")
    assert missing == [], (
        f"no AdapterContract test for {', '.join(missing)}: add a "
        "`class Test…Contract(AdapterContract)` for it under tests/adapters/"
    )


class UntestedAdapter(BaseAdapter[DirectorySettings]):
    """A kind nobody wrote a contract test for."""

    kind: ClassVar[str] = "untested"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False, retracts=False
    )

    def render(self, job: DeliveryJob) -> Rendition:
        raise NotImplementedError

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        raise NotImplementedError


def test_a_kind_registered_without_a_contract_test_is_found() -> None:
    """The check above is real: registering a kind without a test makes it fail."""
    registry = Registry({"directory": DirectoryAdapter, "untested": UntestedAdapter})
    assert kinds_without_contract(registry, "tests") == ["untested"]
