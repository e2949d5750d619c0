"""docs/api.md is tested: its Python examples run, in order, as one script in an empty
folder, and do what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S)


def test_every_example_in_the_api_doc_runs_and_does_what_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNDICATE_AUDIT_KEY", raising=False)
    namespace: dict[str, Any] = {"__name__": "api_doc"}
    printed: list[str] = []
    found = blocks()
    assert len(found) >= 9, "docs/api.md lost its examples"
    for index, block in enumerate(found):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, f"docs/api.md example {index + 1}", "exec"), namespace)  # noqa: S102
        printed.append(out.getvalue())

    home = tmp_path / "county-home"
    assert (home / "syndicate.toml").is_file()
    assert (home / "keys" / "audit-signing.pub").is_file()
    assert printed[0].splitlines()[0] == "True True"
    assert "archive new" in printed[1]
    assert "[outlets.archive]" in (home / "syndicate.toml").read_text("utf-8")
    # The invalid item: refused field by field, nothing written.
    assert "agency must not be empty" in printed[2]
    # The home reviews before release: publish submitted the item.
    assert printed[2].splitlines()[-2:] == [
        "临溪县民政局/11330100MB0000006R/2026-00019",
        "Submitted False 审核",
    ]
    # Review before release: the queue, the detail, two refusals (the author, a hash
    # that is not the pending version's), then the approval that releases it.
    review = printed[3].splitlines()
    assert review[:3] == [
        "临溪县民政局/11330100MB0000006R/2026-00019 pending 审核",
        "True",
        "['--- live', '+++ pending']",
    ]
    assert review[3].startswith("ReviewRefused 县民政局 王敏 submitted this version")
    assert review[4].startswith("ReviewRefused the content hash 000000000000…")
    assert "it changed after you read it" in review[4]
    assert review[5:] == ["Released True None"]
    assert namespace["result"].ok
    assert namespace["result"].outcomes == {"succeeded": 1}
    assert namespace["ran"].name.startswith("worker@")
    assert "archive succeeded 4 1 in sync" in printed[6]
    archived = list((home / "outlets" / "archive").glob("*.json"))
    assert len(archived) == 1
    assert printed[7].splitlines()[0] == "True"  # AlreadyPublished.identical
    assert "no item 临溪县民政局/no-such-item" in printed[7]
    assert namespace["verdict"].ok
    assert printed[8].splitlines()[-1] == "True"
    # The guard stops the list with a whole ID, the masked one is published sealed,
    # approved and erased; the log still verifies.
    assert printed[9].splitlines() == [
        "['attachments[0] 第3行 第3列: 身份证号未去标识化 (应为 330122********1235)']",
        "1",
        "Erased",
        "True",
    ]
    assert not any((home / "data" / "sealing-keys").glob("*.key"))
