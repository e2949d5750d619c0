"""`wechat_relay`: a village WeChat group (村民微信群), reached through a person.

Village groups are personal WeChat groups: no robot can post in them. In the field a
网格员 or village cadre forwards the county's notice by hand. This outlet prepares what
that person forwards and tells them, and the delivery waits until they confirm:

- **What to forward**, for each item and group: a share card (PNG, 1080 px wide: agency,
  title, the facts a villager looks for, a short summary, a QR code to the portal page),
  the text to paste, and the link. A 更正 or 撤回 goes the same way, as a card and text
  headed 【更正】 / 【撤回】; a withdrawal of an item none of whose versions was ever
  forwarded asks for nothing (`detail["attestation"] == "none"`).
- **The task**, written to `folder/<group>/` (`<stem>.png`, `<stem>.txt`, and a
  printable `<stem>.html` task sheet naming the group, the person, what to forward and
  how to confirm), and sent to the person through a channel that has an API (`notify`):
  their WeCom group robot (the text, then the card as an image message), a DingTalk
  robot (Markdown with the link; DingTalk robots cannot send an uploaded image), a
  signed webhook (the task as JSON, card included, for a mini-program backend), or
  `sheet` (nothing sent: the task sheet is printed or handed over).
- **Confirmation**: the delivery waits ("awaiting_attestation") until the person's
  forwarding is recorded with `syndicate attest` (who, when, a screenshot or its hash),
  or the library's `Engine.attest_item(outlet, ref, …)` for a mini-program backend.
  `syndicate status` lists the groups not yet reached and for how long; the worker
  reminds the person after `remind_after_hours`, every `remind_every_hours`, at most
  `remind_limit` times (`Reminds`), each reminder recorded on the delivery.
- **Digests** (`digest_minutes` on the outlet): items that became due together go as
  one task (one card listing them, one text, one confirmation for all of them).

A township with 30 villages writes one table and lists the groups in it
(`[[outlets.NAME.each]]`, docs/configuration.md): each entry is its own outlet.

A personal WeChat group cannot be read back: what the log holds is the person's
attestation, its time and the screenshot's sha256 (docs/outlets/wechat_relay.md).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Literal
from urllib.parse import urlsplit

import requests
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    Digests,
    Operation,
    Receipt,
    Reminder,
    ReminderSchedule,
    Reminds,
    Rendition,
)
from syndicate.adapterkit import (
    BaseAdapter,
    FolderWriter,
    canonical_json,
    file_errors,
    refuse_review_notice,
)
from syndicate_adapters._card import Card, draw_card
from syndicate_adapters._html import day
from syndicate_adapters._robot import (
    PORTAL_URL_PATTERN,
    md_text,
    notice_for,
    plain_summary,
    robot_rate_key,
    split_text,
    time_mark,
)
from syndicate_adapters.dingtalk_group import (
    DingTalkGroupAdapter,
    DingTalkGroupSettings,
)
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings
from syndicate_adapters.wecom_group import WeComGroupAdapter, WeComGroupSettings

__all__ = ["RelayTask", "WechatRelayAdapter", "WechatRelaySettings"]

_ONE_LINE: Final = r"^[^\x00-\x1f\x7f]+$"
# WeCom robots take images of at most 2 MB (before base64).
_WECOM_IMAGE_LIMIT: Final = 2 * 1024 * 1024
_TEXT_SUMMARY: Final = 120
_WECOM_TEXT_BUDGET: Final = 2000  # bytes of one text message (WeCom takes 2048)
_DINGTALK_TEXT_BUDGET: Final = 12000  # bytes of Markdown in one DingTalk body (20000)
_CARD_SUMMARY: Final = 90
# Control, format (bidi overrides, zero-width), line and paragraph separators.
_HIDDEN: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})
_UNSAFE_NAME = re.compile(r"[^\w\u4e00-\u9fff-]+")


class WechatRelaySettings(BaseModel):
    """`[outlets.NAME]` settings of a village WeChat group reached through a person."""

    # Validation errors never echo what was typed: it may be a robot key.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    group: str = Field(
        min_length=1,
        max_length=60,
        pattern=_ONE_LINE,
        description="The WeChat group's name as members see it (柳塘村村民群).",
    )
    relayer: str = Field(
        min_length=1,
        max_length=40,
        pattern=_ONE_LINE,
        description="Who forwards to the group (a 网格员 or village cadre), as the "
        "task names them.",
    )
    portal_url: str = Field(
        pattern=PORTAL_URL_PATTERN,
        description="https base URL of the portal; cards and texts link to "
        "{portal_url}/items/{item id}.html.",
    )
    folder: Path = Field(
        description="Where task materials are written (a subfolder per group); "
        "relative to the home."
    )
    notify: Literal["wecom", "dingtalk", "webhook", "sheet"] = Field(
        default="sheet",
        description="How the person is told: their WeCom group robot, a DingTalk robot, "
        "a signed webhook, or `sheet` (only the printable task sheet).",
    )
    notify_webhook: SecretStr | None = Field(
        default=None,
        description="For wecom / dingtalk: the robot's webhook URL (or its key / "
        "access_token); for webhook: the receiver's URL. Give it as ${ENV_VAR}.",
    )
    notify_secret: SecretStr | None = Field(
        default=None,
        description="For dingtalk: the robot's 加签 secret (SEC…), if set; for "
        "webhook: the signing secret (whsec_…), required.",
    )
    notify_base_url: str | None = Field(
        default=None,
        description="Where the robot API is, for wecom / dingtalk (tests point it at a "
        "loopback server).",
    )
    remind_after_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 30,
        description="Remind the person when a task waits this long (0: never).",
    )
    remind_every_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="Then remind again this often."
    )
    remind_limit: int = Field(
        default=3, ge=0, le=20, description="At most this many reminders per task."
    )
    timeout: float = Field(
        default=10.0, gt=0, le=60, description="Seconds per request."
    )

    @field_validator("group", "relayer")
    @classmethod
    def _one_visible_line(cls, value: str) -> str:
        text = unicodedata.normalize("NFC", value).strip()
        if not text:
            raise ValueError("must not be blank")
        hidden = [ch for ch in text if unicodedata.category(ch) in _HIDDEN]
        if hidden:
            raise ValueError(
                "must be one line of visible characters (no control, format, line or "
                f"paragraph separator characters such as U+{ord(hidden[0]):04X})"
            )
        return text

    @model_validator(mode="after")
    def _notify_complete(self) -> WechatRelaySettings:
        if self.notify == "sheet":
            if self.notify_webhook is not None or self.notify_secret is not None:
                raise ValueError(
                    "notify_webhook / notify_secret are for notify = wecom, dingtalk "
                    "or webhook; with notify = sheet nothing is sent"
                )
            return self
        if self.notify_webhook is None:
            raise ValueError(f"notify = {self.notify} needs notify_webhook")
        if self.notify == "webhook" and self.notify_secret is None:
            raise ValueError("notify = webhook needs notify_secret (whsec_…)")
        _inner_settings(self)  # the robot's or webhook's own rules, checked now
        return self


def _inner_settings(settings: WechatRelaySettings) -> BaseModel:
    """The settings of the outlet that tells the person (their robot or webhook)."""
    secret = settings.notify_webhook
    if secret is None:  # pragma: no cover - checked by the caller
        raise ValueError("notify_webhook is required")
    base = {"base_url": settings.notify_base_url} if settings.notify_base_url else {}
    common = {"portal_url": settings.portal_url, "timeout": settings.timeout}
    try:
        if settings.notify == "wecom":
            return WeComGroupSettings.model_validate(
                {"webhook": secret, "msgtype": "text", **common, **base}
            )
        if settings.notify == "dingtalk":
            extra = {"secret": settings.notify_secret} if settings.notify_secret else {}
            return DingTalkGroupSettings.model_validate(
                {"access_token": secret, **extra, **common, **base}
            )
        return WebhookSettings.model_validate(
            {
                "url": secret.get_secret_value(),
                "secret": settings.notify_secret,
                "timeout": settings.timeout,
            }
        )
    except ValueError as exc:
        # Only the rule broken, never the value (it may be a key).
        errors = getattr(exc, "errors", None)
        said = (
            "; ".join(
                f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}"
                for e in errors()
            )
            if callable(errors)
            else "invalid"
        )
        raise ValueError(
            f"notify_webhook / notify_secret for {settings.notify}: {said}"
        ) from None


def _safe_name(text: str) -> str:
    """A file-name-safe form of a group name or index number."""
    cleaned = _UNSAFE_NAME.sub("-", unicodedata.normalize("NFC", text)).strip("-")
    return cleaned[:60] or "group"


class RelayTask(BaseModel):
    """What one task asks the person to forward (the rendition, as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    relayer: str
    stem: str  # file names in the group's folder: <stem>.png / .txt / .html
    confirm: str  # the delivery id prefix the person confirms with
    kind: str  # "forward", "digest", "none"
    heading: str
    text: str  # what to paste into the group
    links: tuple[str, ...]
    card_png: str  # base64; "" when nothing is forwarded
    covers: tuple[str, ...]  # delivery ids

    def card(self) -> bytes:
        """The card's PNG bytes."""
        return base64.b64decode(self.card_png)

    def instructions(self) -> str:
        """What the person is told (robot text, the task sheet's words)."""
        return (
            f"【转发任务】确认码 {self.confirm}\n"
            f"请{self.relayer}将以下内容转发到微信群「{self.group}」，转发后凭确认码确认"
            f"（syndicate attest {self.confirm} --by 姓名 [--photo 截图]）：\n\n"
            f"{self.text}"
        )


class WechatRelayAdapter(BaseAdapter[WechatRelaySettings], Digests, Reminds):
    """A village WeChat group, forwarded by a person who confirms it."""

    kind: ClassVar[str] = "wechat_relay"
    label: ClassVar[str | None] = "村民微信群（网格员转发）"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,  # a revision is a 【更正】 card
        retracts=False,  # a withdrawal is a 【撤回】 card
        deduplicates=False,  # a task sent twice asks twice
        needs_attestation=True,  # the person confirms forwarding
        max_per_minute=20,  # the robot that tells the person
    )

    @classmethod
    def shared_rate_key(cls, settings: BaseModel) -> str | None:
        """Village groups whose 网格员s one robot tells share its 20 a minute."""
        if not isinstance(settings, WechatRelaySettings):
            return None
        if settings.notify not in ("wecom", "dingtalk") or not settings.notify_webhook:
            return None
        inner = _inner_settings(settings)
        if isinstance(inner, WeComGroupSettings):
            return robot_rate_key("wecom", inner.key)
        if isinstance(inner, DingTalkGroupSettings):
            return robot_rate_key("dingtalk", inner.access_token.get_secret_value())
        return None

    def __init__(self, settings: BaseModel) -> None:
        super().__init__(settings)
        if self.settings.notify == "webhook" and self.settings.notify_webhook:
            # urllib3 logs each request's path and query at DEBUG: the receiver's URL
            # may carry a token there.
            _hide_url_in_logs(self.settings.notify_webhook.get_secret_value())
        self._inner: (
            WeComGroupAdapter | DingTalkGroupAdapter | WebhookAdapter | None
        ) = None
        self._folder = FolderWriter(self.settings.folder)

    # -- render ----------------------------------------------------------------------

    def _link(self, job: DeliveryJob) -> str:
        return f"{self.settings.portal_url.rstrip('/')}/items/{job.item.item_id}.html"

    def _forwarded(self, job: DeliveryJob) -> bool:
        """Whether an earlier version of the item reached the group (attested)."""
        return any(r.get("task") in ("forward", "digest") for r in job.previous)

    def _kind(self, job: DeliveryJob) -> str:
        withdrawal = job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE)
        if withdrawal and not self._forwarded(job):
            return "none"
        return "forward"

    def _tag(self, job: DeliveryJob) -> str:
        if job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
            return "撤回"
        if job.operation in (Operation.CORRECTION, Operation.UPDATE):
            mark = time_mark(job.item)
            if mark is not None:
                return mark.tag
            # A revision of an item never forwarded is forwarded as it is now.
            return "更正" if self._forwarded(job) else self._plain_tag(job)
        return self._plain_tag(job)

    @staticmethod
    def _plain_tag(job: DeliveryJob) -> str:
        return "公示" if job.item.content.notice_period is not None else ""

    def _text(self, job: DeliveryJob, tag: str) -> str:
        notice = notice_for(job, self.settings.portal_url)
        content = job.item.content
        lines = [f"【{tag}】{content.title}" if tag else content.title]
        lines += [f"{label}：{value}" for label, value in notice.facts]
        paragraphs = [p for p in notice.paragraphs if p]
        if tag == "更正" and job.item.reason:
            paragraphs = [f"更正说明：{job.item.reason}"]
        elif tag in ("", "公示"):
            paragraphs = [plain_summary(content.body, _TEXT_SUMMARY)]
        text = "\n".join(lines)
        if paragraphs:
            text += "\n" + "\n".join(paragraphs)
        return f"{text}\n全文：{self._link(job)}"

    def _card(self, job: DeliveryJob, tag: str) -> bytes:
        content = job.item.content
        facts: list[tuple[str, str]] = [("发布机构", content.agency)]
        if tag == "撤回":
            facts.append(("撤回日期", day(job.item.updated_at)))
            summary = plain_summary(
                job.item.public_note or "该信息已撤回，请以政府网站公布的为准。",
                _CARD_SUMMARY,
            )
        elif tag == "更正":
            facts.append(("更正日期", day(job.item.updated_at)))
            summary = plain_summary(
                f"更正说明：{job.item.reason or '内容已更新。'}", _CARD_SUMMARY
            )
        else:
            mark = time_mark(job.item) if tag else None
            facts.append(("发布日期", day(job.item.published_at)))
            summary = plain_summary(
                mark.statement if mark is not None else content.body, _CARD_SUMMARY
            )
        period = content.notice_period
        if period is not None:
            facts.append(
                ("公示期", f"{period.start.isoformat()} 至 {period.end.isoformat()}")
            )
        return draw_card(
            Card(
                band=content.agency,
                tag=tag,
                title=content.title,
                facts=tuple(facts),
                summary=summary,
                link=self._link(job),
                source=f"来源：政府门户网站 · 索引号 {content.ref}",
            )
        )

    def _stem(self, job: DeliveryJob) -> str:
        op = {
            Operation.PUBLISH: "forward",
            Operation.CORRECTION: "correction",
            Operation.UPDATE: "correction",
            Operation.RETRACT: "withdrawal",
            Operation.WITHDRAWAL_NOTICE: "withdrawal",
        }.get(job.operation, job.operation.value)
        # The delivery's own prefix last: two groups of the same name (新村 in two
        # townships) keep their own files and 确认码.
        return (
            f"{_safe_name(job.item.content.index_no)}-{job.item.item_id.hex[:8]}"
            f"-v{job.item.version}-{op}-{job.delivery_id.hex[:8]}"
        )

    def task(self, job: DeliveryJob) -> RelayTask:
        """The task one delivery asks for."""
        refuse_review_notice(job, self.kind)
        kind = self._kind(job)
        tag = self._tag(job)
        forwarded = kind != "none"
        return RelayTask(
            group=self.settings.group,
            relayer=self.settings.relayer,
            stem=self._stem(job),
            confirm=job.delivery_id.hex[:8],
            kind=kind,
            heading=f"【{tag}】{job.item.content.title}"
            if tag
            else job.item.content.title,
            text=self._text(job, tag) if forwarded else "",
            links=(self._link(job),),
            card_png=base64.b64encode(self._card(job, tag)).decode()
            if forwarded
            else "",
            covers=(str(job.delivery_id),),
        )

    def render(self, job: DeliveryJob) -> Rendition:
        return self._rendition(self.task(job), key=str(job.delivery_id))

    def _messages(self, task: RelayTask) -> int:
        """How many messages telling the person of `task` takes (rate slots)."""
        if task.kind == "none" or self.settings.notify == "sheet":
            return 0
        if self.settings.notify == "webhook":
            return 1
        return len(self._bodies(task, task.instructions()))

    def _rendition(self, task: RelayTask, *, key: str) -> Rendition:
        messages = self._messages(task)
        return Rendition.of(
            canonical_json(task.model_dump(mode="json")),
            "application/json",
            key=key,
            meta={"messages": str(messages), "covers": ",".join(task.covers)},
        )

    def render_digest(self, jobs: Sequence[DeliveryJob]) -> list[Rendition]:
        """One task for several items: a card listing their titles, the texts one
        after another (each with its link), one confirmation code for all."""
        tasks = [self.task(job) for job in jobs]
        asked = [
            (job, t) for job, t in zip(jobs, tasks, strict=True) if t.kind != "none"
        ]
        renditions: list[Rendition] = []
        if len(asked) != len(tasks):
            # Nothing to forward for some (withdrawals of never-forwarded items): each
            # is its own empty task, settled without the person.
            for job, t in zip(jobs, tasks, strict=True):
                if t.kind == "none":
                    renditions.append(self._rendition(t, key=str(job.delivery_id)))
        if len(asked) == 1:
            job, single = asked[0]
            renditions.insert(0, self._rendition(single, key=str(job.delivery_id)))
        elif asked:
            # A long burst is several tasks (each with its own card and 确认码), each
            # small enough to tell the person in a message or two.
            for part in reversed(_digest_parts(asked)):
                renditions.insert(0, self._digest_task(part))
        return renditions

    def _digest_task(self, asked: list[tuple[DeliveryJob, RelayTask]]) -> Rendition:
        """One task for the items of `asked`: a card listing their titles, the
        headings and links to paste, one 确认码 for all of them."""
        if len(asked) == 1:
            job, single = asked[0]
            return self._rendition(single, key=str(job.delivery_id))
        first = asked[0][0]
        headings = tuple(t.heading for _, t in asked)
        # The text to paste: each item's heading and link (the card lists them).
        text = "\n".join(
            f"{n}. {t.heading}\n{t.links[0]}" for n, (_, t) in enumerate(asked, 1)
        )
        card = draw_card(
            Card(
                band=self.settings.group,
                tag="",
                title=f"政务公开信息（{len(asked)}条）",
                facts=(("日期", day(max(j.item.updated_at for j, _ in asked))),),
                summary="",
                link=self.settings.portal_url.rstrip("/") + "/",
                source="来源：政府门户网站 · 扫码查看全部信息",
                entries=headings,
            )
        )
        digest = RelayTask(
            group=self.settings.group,
            relayer=self.settings.relayer,
            stem=f"digest-{first.delivery_id.hex[:8]}-{len(asked)}",
            confirm=first.delivery_id.hex[:8],
            kind="digest",
            heading=f"政务公开信息（{len(asked)}条）",
            text=text,
            links=tuple(link for _, t in asked for link in t.links),
            card_png=base64.b64encode(card).decode(),
            covers=tuple(c for _, t in asked for c in t.covers),
        )
        return self._rendition(digest, key=str(first.delivery_id))

    # -- deliver ---------------------------------------------------------------------

    def _group_folder(self) -> str:
        return _safe_name(self.settings.group)

    def _write(self, task: RelayTask) -> str:
        folder = self._group_folder()
        with file_errors(f"cannot write the relay task into {self.settings.folder}"):
            self._folder.write(f"{folder}/{task.stem}.txt", task.text.encode("utf-8"))
            self._folder.write(f"{folder}/{task.stem}.png", task.card())
            self._folder.write(
                f"{folder}/{task.stem}.html", _task_sheet(task).encode("utf-8")
            )
        return f"{folder}/{task.stem}"

    def _notifier(self) -> WeComGroupAdapter | DingTalkGroupAdapter | WebhookAdapter:
        if self._inner is None:
            inner = _inner_settings(self.settings)
            if isinstance(inner, WeComGroupSettings):
                self._inner = WeComGroupAdapter(inner)
            elif isinstance(inner, DingTalkGroupSettings):
                self._inner = DingTalkGroupAdapter(inner)
            else:
                self._inner = WebhookAdapter(inner)
        self._inner.clock = self.clock
        return self._inner

    def _bodies(self, task: RelayTask, words: str) -> list[dict[str, Any]]:
        if self.settings.notify == "wecom":
            card = task.card()
            # WeCom text messages hold 2048 bytes: a long task goes in parts.
            parts = split_text(words, _WECOM_TEXT_BUDGET)
            bodies: list[dict[str, Any]] = [
                {"msgtype": "text", "text": {"content": part}} for part in parts
            ]
            if card and len(card) <= _WECOM_IMAGE_LIMIT:
                bodies.append(
                    {
                        "msgtype": "image",
                        "image": {
                            "base64": base64.b64encode(card).decode(),
                            "md5": hashlib.md5(card, usedforsecurity=False).hexdigest(),
                        },
                    }
                )
            return bodies
        # DingTalk: Markdown with the operator text neutralised (a title cannot become
        # a link or a heading), the links added as links; no uploaded images.
        title = _fit(md_text(task.heading), 60)
        links = "\n\n".join(
            f"[{'查看全文' if len(task.links) == 1 else f'第{n}条全文'}]({link})"
            for n, link in enumerate(task.links, 1)
        )
        text = f"{md_text(words).replace(chr(10), chr(10) * 2)}\n\n{links}"
        # DingTalk takes 20000 bytes a body: a long task goes in parts, the 确认码
        # (which the task's first line carries) in the first.
        parts = split_text(text, _DINGTALK_TEXT_BUDGET)
        return [
            {
                "msgtype": "markdown",
                "markdown": {
                    "title": title
                    if len(parts) == 1
                    else f"{title}（{n}/{len(parts)}）",
                    "text": part,
                },
            }
            for n, part in enumerate(parts, 1)
        ]

    def _send(
        self, task: RelayTask, words: str, key: str, session: requests.Session
    ) -> str:
        if self.settings.notify == "sheet":
            return "sheet"
        notifier = self._notifier()
        if isinstance(notifier, WebhookAdapter):
            body = canonical_json(
                {
                    "type": "relay.task",
                    "group": task.group,
                    "relayer": task.relayer,
                    "confirm": task.confirm,
                    "kind": task.kind,
                    "heading": task.heading,
                    "text": task.text,
                    "instructions": words,
                    "links": list(task.links),
                    "card_png": task.card_png,
                    "covers": list(task.covers),
                }
            )
            notifier.deliver(
                Rendition.of(
                    body, "application/json", key=f"msg_{key.replace('-', '')}"
                ),
                session,
            )
            return "webhook"
        bodies = self._bodies(task, words)
        notifier.deliver(
            Rendition.of(canonical_json(bodies), "application/json", key=key), session
        )
        return self.settings.notify

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        task = RelayTask.model_validate(json.loads(rendition.data))
        if task.kind == "none":
            return Receipt(detail={"task": "none", "attestation": "none"})
        where = self._write(task)
        told = self._send(task, task.instructions(), rendition.key, session)
        return Receipt(
            remote_id=task.confirm,
            detail={
                "task": task.kind,
                "file": f"{where}.png",
                "group": task.group,
                "notified": told,
            },
        )

    # -- reminders -------------------------------------------------------------------

    def reminder_schedule(self) -> ReminderSchedule | None:
        from datetime import timedelta

        s = self.settings
        if s.remind_after_hours <= 0 or s.remind_limit <= 0 or s.notify == "sheet":
            return None
        return ReminderSchedule(
            after=timedelta(hours=s.remind_after_hours),
            every=timedelta(hours=s.remind_every_hours),
            limit=s.remind_limit,
        )

    def remind(self, reminder: Reminder, session: requests.Session) -> Receipt:
        hours = (reminder.at - reminder.since).total_seconds() / 3600
        lines = [
            f"【转发提醒】微信群「{self.settings.group}」还有{len(reminder.entries)}条"
            f"信息未确认转发（最早已等待{hours:.0f}小时，第{reminder.number}次提醒）：",
            *(
                f"{n}. {entry.title}（确认码 {entry.delivery_id.hex[:8]}）"
                for n, entry in enumerate(reminder.entries, 1)
            ),
            "转发后请确认：syndicate attest 确认码 --by 姓名",
        ]
        words = "\n".join(lines)
        task = RelayTask(
            group=self.settings.group,
            relayer=self.settings.relayer,
            stem="reminder",
            confirm=reminder.entries[0].delivery_id.hex[:8],
            kind="reminder",
            heading=f"转发提醒（{len(reminder.entries)}条）",
            text=words,
            links=(),
            card_png="",
            covers=tuple(str(e.delivery_id) for e in reminder.entries),
        )
        key = f"reminder-{reminder.entries[0].delivery_id}-{reminder.number}"
        told = self._send(task, words, key, session)
        return Receipt(detail={"notified": told, "reminder": str(reminder.number)})


_DIGEST_ITEMS: Final = 15  # items on one digest card
_DIGEST_TEXT: Final = 1500  # bytes of one digest task's text (one WeCom message)


def _digest_parts(
    asked: list[tuple[DeliveryJob, RelayTask]],
) -> list[list[tuple[DeliveryJob, RelayTask]]]:
    """`asked` cut into tasks of at most `_DIGEST_ITEMS` items and about
    `_DIGEST_TEXT` bytes of text each, in order."""
    parts: list[list[tuple[DeliveryJob, RelayTask]]] = [[]]
    used = 0
    for job, task in asked:
        size = len(f"{task.heading}\n{task.links[0]}".encode()) + 8
        full = len(parts[-1]) >= _DIGEST_ITEMS or used + size > _DIGEST_TEXT
        if parts[-1] and full:
            parts.append([])
            used = 0
        parts[-1].append((job, task))
        used += size
    return parts


class _HideUrl(logging.Filter):
    """Masks the paths and queries of secret URLs in urllib3's log records."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return True
        masked = message
        for text in self.hidden:
            masked = masked.replace(text, "/***")
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_URL_FILTER: Final = _HideUrl()


def _hide_url_in_logs(url: str) -> None:
    """Keep the path and query of `url` (a secret) out of urllib3's log records."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) > 1:
        _URL_FILTER.hidden.add(tail)
    for name in ("urllib3.connectionpool", "urllib3.util.retry"):
        logger = logging.getLogger(name)
        if _URL_FILTER not in logger.filters:
            logger.addFilter(_URL_FILTER)


def _fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (…… when cut)."""
    return text if len(text) <= limit else text[: limit - 2] + "……"


def _task_sheet(task: RelayTask) -> str:
    """The printable task sheet (HTML): who forwards what to which group, how to
    confirm. Everything in it is escaped operator text."""
    esc = html.escape
    links = "".join(
        f'<li><a href="{esc(link)}">{esc(link)}</a></li>' for link in task.links
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc('转发任务：' + task.heading)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;"
        "line-height:1.6}pre{white-space:pre-wrap;border:1px solid #999;"
        "padding:1em}img{max-width:100%;border:1px solid #ccc}</style></head><body>"
        f"<h1>转发任务</h1><p>请{esc(task.relayer)}将下列内容转发到微信群"
        f"「{esc(task.group)}」。</p>"
        f"<h2>{esc(task.heading)}</h2>"
        f'<p><img src="{esc(task.stem)}.png" alt="{esc(task.heading)}（分享卡片）"></p>'
        f"<h2>转发文字</h2><pre>{esc(task.text)}</pre>"
        f"<h2>链接</h2><ul>{links}</ul>"
        f"<h2>确认</h2><p>转发后请确认，确认码 <strong>{esc(task.confirm)}</strong>："
        f"<code>syndicate attest {esc(task.confirm)} --by 姓名 --photo 截图</code></p>"
        "</body></html>\n"
    )
