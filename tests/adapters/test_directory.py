"""The directory adapter: one JSON file per live item, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import requests
from syndicate_adapters.directory import DirectoryAdapter, DirectorySettings

from syndicate.testing import AdapterContract, sample_jobs


class TestDirectoryContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = DirectoryAdapter
    settings: ClassVar[dict[str, Any]] = {"path": "unused-out"}
    network: ClassVar[bool] = False


def test_writes_updates_and_deletes_the_item_file(tmp_path: Path) -> None:
    adapter = DirectoryAdapter(DirectorySettings(path=tmp_path / "out"))
    published, revised, _, retract, _ = sample_jobs()
    session = requests.Session()
    adapter.deliver(adapter.render(published), session)
    target = tmp_path / "out" / f"{published.item.item_id}.json"
    assert json.loads(target.read_text("utf-8"))["version"] == 1
    adapter.deliver(adapter.render(revised), session)
    document = json.loads(target.read_text("utf-8"))
    assert (document["version"], document["reason"]) == (2, "更正人数")
    assert adapter.read_back(revised, session) == adapter.render(revised).data
    adapter.deliver(adapter.render(retract), session)
    assert not target.exists()
    assert adapter.read_back(retract, session) is None
    assert [
        p.name for p in (tmp_path / "out").iterdir()
    ] == []  # no temporary files left
