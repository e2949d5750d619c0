"""A syndicate adapter that files each delivery as an e-mail message in a Maildir.

It uses only syndicate's extension API: `syndicate.adapter` (the contract and the values
an adapter gets), `syndicate.adapterkit` (the base class and the file-error mapping every
built-in file outlet uses) and `syndicate.errors`.
"""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field

from syndicate.adapter import Capabilities, DeliveryJob, Operation, Receipt, Rendition
from syndicate.adapterkit import BaseAdapter, file_errors

__all__ = ["MailboxAdapter", "MailboxSettings"]

_SUBJECT_PREFIX = {
    Operation.PUBLISH: "",
    Operation.UPDATE: "【更正】",
    Operation.CORRECTION: "【更正】",
    Operation.RETRACT: "【撤回】",
    Operation.WITHDRAWAL_NOTICE: "【撤回】",
}


class MailboxSettings(BaseModel):
    """`[outlets.NAME]` settings of a mailbox outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="The Maildir folder (relative to the home).")
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="The To: address.")


class MailboxAdapter(BaseAdapter[MailboxSettings]):
    """One message per delivery; a resent delivery is recognised by its Message-ID.

    `BaseAdapter[MailboxSettings]` makes `MailboxSettings` the `Settings` and gives
    `__init__`, which keeps them as `self.settings` (typed for mypy).
    """

    kind: ClassVar[str] = "mailbox"
    label: ClassVar[str | None] = "电子邮箱"  # how audit reports name the kind
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,
        retracts=False,
        deduplicates=True,
        max_bytes=1_000_000,
    )

    def render(self, job: DeliveryJob) -> Rendition:
        item = job.item
        content = item.content
        message = EmailMessage()
        message["Message-ID"] = f"<{job.delivery_id}@syndicate>"
        message["To"] = self.settings.to
        message["From"] = "syndicate@localhost"
        message["Date"] = format_datetime(item.updated_at)
        message["Subject"] = _SUBJECT_PREFIX[job.operation] + content.title
        lines = [f"发布机构：{content.agency}", f"索引号：{content.index_no}", ""]
        if job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
            lines.append(item.public_note or "该信息已撤回。")
        else:
            if item.reason and job.operation is not Operation.PUBLISH:
                lines += [f"更正说明：{item.reason}", ""]
            lines.append(content.body)
        message.set_content("\n".join(lines), charset="utf-8")
        return Rendition.of(bytes(message), "message/rfc822", key=str(job.delivery_id))

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        # Permission denied fails for good, a full disk is retried later.
        with file_errors("cannot write the Maildir"):
            box = mailbox.Maildir(self.settings.path, create=True)
            wanted = f"<{rendition.key}@syndicate>"
            for key, existing in box.iteritems():
                if existing["Message-ID"] == wanted:
                    return Receipt(remote_id=key, detail={"duplicate": "yes"})
            key = box.add(rendition.data)
        return Receipt(remote_id=key)
