"""`wecom_group`: a 企业微信 group robot (群机器人), one outlet per group.

`POST {base_url}/cgi-bin/webhook/send?key=KEY` with a JSON body; the robot answers HTTP 200
with `{"errcode": 0, "errmsg": "ok"}` or another errcode. The key is the whole credential:
it is a secret (`${ENV}` in syndicate.toml), normalised from a pasted webhook URL, shown
only masked (`…` + last four characters) and never stored.

Rendition: the canonical JSON list of the request bodies to send, in order — usually one
`markdown` message (≤ 4096 bytes of content); a longer one is split at paragraph
boundaries into numbered parts (`（1/3）`…). `msgtype = "text"` sends plain text instead
(≤ 2048 bytes a part). `mention_all` pings everyone (`mentioned_mobile_list: ["@all"]`):
Markdown messages cannot mention, so a short `text` message with the mention follows the
notice; in text mode the first part carries it. Meta `messages` says how many messages the
delivery sends.

Review notices (an internal outlet with `review_queue = true`): `ReviewNotice.text()` —
【待审核】/【已退回】/【已发布】/【紧急发布】, the title, level, actor and comment of the
version under review — as plain `text` messages whatever `msgtype` says (≤ 2048 bytes a
part, split like a long notice), never mentioning anyone.

Errors: 0 ok; 45009 (20 messages a minute exceeded) and -1 (busy) are retried, 45009 after
60 s; 93000 (invalid webhook url), 93004, 93008, 40008, 40058 and unknown errcodes fail for
good with what to do; anything unclear after sending is an unknown outcome (`Unconfirmed`:
a robot cannot be asked whether a message arrived).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Final, Literal
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from syndicate.adapter import Capabilities, DeliveryJob, Digests, Operation
from syndicate.adapterkit import mask
from syndicate.errors import DeliveryError, TransientDeliveryError
from syndicate_adapters._robot import (
    BASE_URL_PATTERN,
    PORTAL_URL_PATTERN,
    RobotAdapter,
    check_bodies,
    check_parts,
    normalise_settings,
    notice_for,
    number_label,
    review_text,
    robot_rate_key,
    split_text,
    utf8_len,
)

__all__ = ["MAX_PARTS", "WeComGroupAdapter", "WeComGroupSettings"]

DEFAULT_BASE_URL: Final = "https://qyapi.weixin.qq.com"
SEND_PATH: Final = "/cgi-bin/webhook/send"
MARKDOWN_LIMIT: Final = 4096  # bytes of markdown.content
TEXT_LIMIT: Final = 2048  # bytes of text.content
# The longest notice the log allows (a 200-character title, a 2000-character withdrawal
# note…) is about 8 KB: 3 Markdown parts, up to 6 text parts with unlucky paragraph sizes
# (greedy packing fills each pair of parts past the budget, so never more than 9). More
# would be a bug, and would eat the robot's 20 messages a minute.
MAX_PARTS: Final = 10
_LABEL_RESERVE: Final = 16  # bytes for "（99/99）\n"
_MENTION_TEXT: Final = "请查看上方政务公开信息。"
_KEY_PATTERN: Final = r"^[A-Za-z0-9_-]{8,128}$"


class WeComGroupSettings(BaseModel):
    """`[outlets.NAME]` settings of a WeCom group robot."""

    # Validation errors never echo what was typed: it may be the key.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    webhook: SecretStr = Field(
        description="The robot's webhook URL (…/cgi-bin/webhook/send?key=…) or just "
        "its key; kept as the key."
    )
    portal_url: str = Field(
        pattern=PORTAL_URL_PATTERN,
        description="https base URL of the portal; messages link to "
        "{portal_url}/items/{item id}.html.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        pattern=BASE_URL_PATTERN,
        description="Where the robot API is (tests point it at a loopback server).",
    )
    msgtype: Literal["markdown", "text"] = Field(
        default="markdown", description="markdown (default) or plain text messages."
    )
    mention_all: bool = Field(
        default=False, description="Mention everyone (@所有人) with each notice."
    )
    timeout: float = Field(
        default=10.0, gt=0, le=60, description="Seconds per request."
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        return normalise_settings(
            data,
            field="webhook",
            param="key",
            default_base_url=DEFAULT_BASE_URL,
            path=SEND_PATH,
        )

    @field_validator("webhook")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(_KEY_PATTERN, value.get_secret_value()):
            raise ValueError(
                "must be the robot's webhook URL or its key (letters, digits and '-', "
                "the part after key=)"
            )
        return value

    @property
    def url(self) -> str:
        """The endpoint without its secret query (the worker resolves proxies for it once,
        instead of reading the environment on every request)."""
        return f"{self.base_url}{SEND_PATH}"

    @property
    def key(self) -> str:
        """The robot key (secret)."""
        return self.webhook.get_secret_value()

    @property
    def masked_key(self) -> str:
        """The key as messages show it."""
        return mask(self.key)


class WeComGroupAdapter(RobotAdapter[WeComGroupSettings], Digests):
    """Notices to one WeCom group through its robot."""

    kind: ClassVar[str] = "wecom_group"
    label: ClassVar[str | None] = "企业微信群"
    platform: ClassVar[str] = "WeCom"
    unknown_errcode_advice: ClassVar[str] = (
        "look the code up at https://open.work.weixin.qq.com/devtool/query, fix the "
        "cause, then run `syndicate retry`"
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,  # a revision is a 更正 message
        retracts=False,  # a withdrawal is a 撤回 notice
        deduplicates=False,  # a resent message shows twice in the group
        max_per_minute=20,
        review_notices=True,  # as text messages (`review_queue` outlets)
        # At most MAX_PARTS bodies of ≤ 4096 content bytes (JSON escapes may double
        # them), plus the mention message.
        max_bytes=(MAX_PARTS + 1) * (2 * MARKDOWN_LIMIT + 256),
    )

    @property
    def timeout(self) -> float:
        """Seconds per request (the outlet's `timeout`)."""
        return self.settings.timeout

    @property
    def portal_url(self) -> str:
        """The portal's base URL messages link to."""
        return self.settings.portal_url

    @classmethod
    def shared_rate_key(cls, settings: BaseModel) -> str | None:
        """Outlets on the same robot share its 20 messages a minute."""
        if not isinstance(settings, WeComGroupSettings):
            return None
        return robot_rate_key("wecom", settings.key)

    # -- render ----------------------------------------------------------------------

    def _parts(self, text: str, limit: int) -> list[str]:
        """`text` as message contents of at most `limit` bytes, numbered if several."""
        chunks = (
            [text]
            if utf8_len(text) <= limit
            else split_text(text, limit - _LABEL_RESERVE)
        )
        total = len(chunks)
        check_parts(total, MAX_PARTS, self.platform)
        return [
            f"{number_label(index, total)}\n{chunk}" if total > 1 else chunk
            for index, chunk in enumerate(chunks, 1)
        ]

    def bodies(self, job: DeliveryJob) -> list[dict[str, Any]]:
        """The request bodies a delivery sends, in order."""
        if job.operation is Operation.REVIEW_NOTICE:
            # Plain text whatever `msgtype` says, and no mention (module docstring).
            parts = self._parts(review_text(job), TEXT_LIMIT)
            return [{"msgtype": "text", "text": {"content": part}} for part in parts]
        notice = notice_for(job, self.settings.portal_url)
        markdown = self.settings.msgtype == "markdown"
        text = notice.markdown(level=3) if markdown else notice.text()
        bodies: list[dict[str, Any]] = []
        parts = self._parts(text, MARKDOWN_LIMIT if markdown else TEXT_LIMIT)
        for index, content in enumerate(parts, 1):
            if markdown:
                bodies.append({"msgtype": "markdown", "markdown": {"content": content}})
                continue
            body: dict[str, Any] = {"content": content}
            if self.settings.mention_all and index == 1:
                body["mentioned_mobile_list"] = ["@all"]
            bodies.append({"msgtype": "text", "text": body})
        if markdown and self.settings.mention_all:
            bodies.append(
                {
                    "msgtype": "text",
                    "text": {
                        "content": _MENTION_TEXT,
                        "mentioned_mobile_list": ["@all"],
                    },
                }
            )
        check_bodies(bodies, 2 * MARKDOWN_LIMIT + 256, self.platform)
        return bodies

    def digest_bodies(self, title: str, markdown: str) -> list[dict[str, Any]]:
        """A digest as one Markdown message (and the mention, if configured)."""
        bodies: list[dict[str, Any]] = [
            {"msgtype": "markdown", "markdown": {"content": markdown}}
        ]
        if self.settings.mention_all:
            bodies.append(
                {
                    "msgtype": "text",
                    "text": {
                        "content": _MENTION_TEXT,
                        "mentioned_mobile_list": ["@all"],
                    },
                }
            )
        return bodies

    # -- deliver ---------------------------------------------------------------------

    def _url(self, now: datetime) -> str:
        return f"{self.settings.base_url}{SEND_PATH}?key={quote(self.settings.key, safe='')}"

    def _secrets(self) -> list[str]:
        return [self.settings.key]

    def _known_error(self, errcode: int, said: str) -> DeliveryError | str | None:
        key = self.settings.masked_key
        if errcode == 45009:
            return TransientDeliveryError(
                "the robot sent more than 20 messages in a minute (45009 api freq out "
                "of limit); trying again in 60 s",
                code=str(errcode),
                retry_after=60.0,
            )
        advice = {
            93000: f"the robot key {key} is not valid (93000 invalid webhook url): the "
            "robot was removed from the group or the key was mistyped. In the group "
            "open 群设置 → 群机器人, copy the robot's webhook address again, put it (or "
            "its key) in the environment variable this outlet's `webhook` names, then "
            "run `syndicate retry`",
            93004: f"the robot {key} is disabled (93004); enable it in 群设置 → 群机器人 "
            "or add a new robot, then run `syndicate retry`",
            93008: f"the robot {key} is no longer in the group (93008); add it back or "
            "add a new robot, then run `syndicate retry`",
            40008: f"WeCom refused the message type (40008 {said}); check the outlet's "
            "`msgtype` (markdown or text); if it is right, this is a bug in syndicate",
            40058: f"WeCom says the message is too long (40058 {said}) although syndicate "
            "splits messages at 4096 bytes: this is a bug in syndicate, please report it",
        }
        return advice.get(errcode)
