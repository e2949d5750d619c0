"""The mailbox adapter passes syndicate's adapter contract, like every built-in adapter."""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path
from typing import Any, ClassVar

import requests
from syndicate_mailbox import MailboxAdapter, MailboxSettings

from syndicate.testing import AdapterContract, sample_jobs


class TestMailboxContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = MailboxAdapter
    settings: ClassVar[dict[str, Any]] = {
        "path": "unused",
        "to": "office@qingshi.example",
    }
    network: ClassVar[bool] = False


def test_messages_corrections_and_no_duplicates(tmp_path: Path) -> None:
    adapter = MailboxAdapter(
        MailboxSettings(path=tmp_path / "box", to="office@qingshi.example")
    )
    published, _, correction, _, notice = sample_jobs()
    for job in (published, correction, notice, published):
        adapter.deliver(adapter.render(job), requests.Session())
    box = mailbox.Maildir(tmp_path / "box", factory=None)
    subjects = sorted(
        str(
            email.message_from_bytes(m.as_bytes(), policy=email.policy.default)[
                "Subject"
            ]
        )
        for m in box
    )
    assert len(subjects) == 3  # the resent publish was recognised
    assert any(s.startswith("【更正】") for s in subjects)
    assert any(s.startswith("【撤回】") for s in subjects)
