"""`dingtalk_group`: a 钉钉 custom group robot (自定义机器人), one outlet per group.

`POST {base_url}/robot/send?access_token=T[&timestamp=MS&sign=S]` with a JSON body; the
robot answers HTTP 200 with `{"errcode": 0, "errmsg": "ok"}` or another errcode.

Signing (安全设置 → 加签), when `secret` is set: `timestamp` is this attempt's time in
milliseconds, `sign` = URL-encode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))
— encoded once. The robot refuses a timestamp more than an hour off its clock. Signing
happens at send time, so the rendition (what is hashed and audited) holds neither the
token nor a signature.

Rendition: the canonical JSON list of request bodies — one `markdown` message (with a
`title`, shown in the chat list and notifications) whose whole body is at most 20,000
bytes; a longer notice is split into numbered parts. `keyword` (the robot's 自定义关键词)
is put in the title and the text when they lack it; `at_all` sets `at.isAtAll` on the
first message. Meta `messages` says how many messages the delivery sends.

Review notices (an internal outlet with `review_queue = true`): `ReviewNotice.text()` —
【待审核】/【已退回】/【已发布】/【紧急发布】, the title, level, actor and comment of the
version under review — as a plain `text` message (the keyword put in when it lacks it),
never with `at`, whatever `at_all` says; one message (a notice is at most about 8 KB),
split like a long notice if it were not.

Errors: 0 ok; 410100 / 130101 (over 20 a minute: throttled for 10 minutes) are retried
after 600 s, -1 (busy) with the usual backoff; 310000 (signature, timestamp, keyword or
IP refused), 400101, 400102, 400106, 400013, 400105, 40035, 43004, 430101 to 430104 and
unknown errcodes fail for good with what to do; anything unclear after sending is an
unknown outcome (`Unconfirmed`: a robot cannot be asked whether a message arrived).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any, ClassVar, Final
from urllib.parse import quote, quote_plus

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from syndicate.adapter import Capabilities, DeliveryJob, Digests, Operation
from syndicate.adapterkit import canonical_json, mask
from syndicate.errors import DeliveryError, TransientDeliveryError
from syndicate_adapters._robot import (
    BASE_URL_PATTERN,
    PORTAL_URL_PATTERN,
    RobotAdapter,
    check_bodies,
    check_parts,
    json_len,
    normalise_settings,
    notice_for,
    number_label,
    review_text,
    robot_rate_key,
    split_text,
)

__all__ = ["BODY_LIMIT", "DingTalkGroupAdapter", "DingTalkGroupSettings", "sign"]

DEFAULT_BASE_URL: Final = "https://oapi.dingtalk.com"
SEND_PATH: Final = "/robot/send"
BODY_LIMIT: Final = 20_000  # bytes of the whole request body
# The longest notice is about 10 KB: one message. More parts would be a bug.
MAX_PARTS: Final = 4
_LABEL_ROOM: Final = "（99/99）"
_TOKEN_PATTERN: Final = r"^[A-Za-z0-9_-]{8,128}$"  # noqa: S105 (a pattern)
_SECRET_PATTERN: Final = r"^SEC[A-Za-z0-9+/=_-]{8,200}$"  # noqa: S105 (a pattern)
_ONE_LINE: Final = r"^[^\x00-\x1f\x7f-\x9f]+$"


def sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` parameter for one request, before URL encoding (base64)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkGroupSettings(BaseModel):
    """`[outlets.NAME]` settings of a DingTalk group robot."""

    # Validation errors never echo what was typed: it may be the token or the secret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    access_token: SecretStr = Field(
        description="The robot's access_token, or its whole webhook URL "
        "(…/robot/send?access_token=…); kept as the token."
    )
    secret: SecretStr | None = Field(
        default=None,
        description="The robot's 加签 secret (SEC…); when set, every request is signed.",
    )
    keyword: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        pattern=_ONE_LINE,
        description="One of the robot's 自定义关键词; put in every title and text.",
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
    at_all: bool = Field(
        default=False, description="Mention everyone (@所有人) with each notice."
    )
    timeout: float = Field(
        default=10.0, gt=0, le=60, description="Seconds per request."
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        data = normalise_settings(
            data,
            field="access_token",
            param="access_token",
            default_base_url=DEFAULT_BASE_URL,
            path=SEND_PATH,
        )
        secret = data.get("secret") if isinstance(data, dict) else None
        if isinstance(secret, str):
            data["secret"] = secret.strip()
        return data

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(_TOKEN_PATTERN, value.get_secret_value()):
            raise ValueError(
                "must be the robot's webhook URL or its access_token (the part after "
                "access_token=)"
            )
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            _SECRET_PATTERN, value.get_secret_value()
        ):
            raise ValueError(
                "must be the robot's 加签 secret, which starts with SEC (安全设置 → 加签)"
            )
        return value

    @property
    def url(self) -> str:
        """The endpoint without its secret query (the worker resolves proxies for it once,
        instead of reading the environment on every request)."""
        return f"{self.base_url}{SEND_PATH}"

    @property
    def token(self) -> str:
        """The access token (secret)."""
        return self.access_token.get_secret_value()


class DingTalkGroupAdapter(RobotAdapter[DingTalkGroupSettings], Digests):
    """Notices to one DingTalk group through its custom robot."""

    kind: ClassVar[str] = "dingtalk_group"
    label: ClassVar[str | None] = "钉钉群"
    platform: ClassVar[str] = "DingTalk"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=False,  # a revision is a 更正 message
        retracts=False,  # a withdrawal is a 撤回 notice
        deduplicates=False,  # a resent message shows twice in the group
        max_per_minute=20,
        review_notices=True,  # as text messages (`review_queue` outlets)
        max_bytes=MAX_PARTS * (BODY_LIMIT + 1) + 1,
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
        if not isinstance(settings, DingTalkGroupSettings):
            return None
        return robot_rate_key("dingtalk", settings.access_token.get_secret_value())

    # -- render ----------------------------------------------------------------------

    def _with_keyword(self, text: str) -> str:
        keyword = self.settings.keyword
        return text if keyword is None or keyword in text else f"【{keyword}】{text}"

    def _body(self, title: str, text: str, first: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
        }
        if self.settings.at_all and first:
            body["at"] = {"isAtAll": True}
        return body

    def _review_bodies(self, text: str) -> list[dict[str, Any]]:
        """A review notice as `text` messages: no `at` (module docstring)."""
        whole: dict[str, Any] = {
            "msgtype": "text",
            "text": {"content": self._with_keyword(text)},
        }
        if len(canonical_json(whole)) <= BODY_LIMIT:
            return [whole]
        label = self._with_keyword(_LABEL_ROOM) + "\n\n"
        envelope = len(canonical_json({"msgtype": "text", "text": {"content": ""}}))
        chunks = split_text(text, BODY_LIMIT - envelope - json_len(label), json_len)
        total = len(chunks)
        check_parts(total, MAX_PARTS, self.platform)
        bodies: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks, 1):
            number = number_label(index, total)
            keyword = self.settings.keyword
            head = (
                number
                if keyword is None or keyword in chunk
                else f"【{keyword}】{number}"
            )
            bodies.append(
                {"msgtype": "text", "text": {"content": f"{head}\n\n{chunk}"}}
            )
        check_bodies(bodies, BODY_LIMIT, self.platform)
        return bodies

    # A DingTalk body holds 20000 bytes: a digest of 30 items fits one message.
    digest_limit: ClassVar[int] = BODY_LIMIT - 4000

    def digest_bodies(self, title: str, markdown: str) -> list[dict[str, Any]]:
        """A digest as one Markdown message (the keyword in its title and text)."""
        return [
            self._body(self._with_keyword(title), self._with_keyword(markdown), True)
        ]

    def bodies(self, job: DeliveryJob) -> list[dict[str, Any]]:
        """The request bodies a delivery sends, in order."""
        if job.operation is Operation.REVIEW_NOTICE:
            return self._review_bodies(review_text(job))
        notice = notice_for(job, self.settings.portal_url)
        title = self._with_keyword(notice.heading)
        text = notice.markdown(level=4, heading=title)
        whole = self._body(title, text, first=True)
        if len(canonical_json(whole)) <= BODY_LIMIT:
            return [whole]
        # Room for the text: the limit less the envelope with the longest label.
        label = self._with_keyword(_LABEL_ROOM) + "\n\n"
        envelope = len(canonical_json(self._body(title + _LABEL_ROOM, "", True)))
        chunks = split_text(text, BODY_LIMIT - envelope - json_len(label), json_len)
        total = len(chunks)
        check_parts(total, MAX_PARTS, self.platform)
        bodies = []
        for index, chunk in enumerate(chunks, 1):
            number = number_label(index, total)
            keyword = self.settings.keyword
            head = number
            if keyword is not None and keyword not in chunk:
                head = f"【{keyword}】{number}"
            bodies.append(
                self._body(f"{title}{number}", f"{head}\n\n{chunk}", index == 1)
            )
        check_bodies(bodies, BODY_LIMIT, self.platform)
        return bodies

    # -- deliver ---------------------------------------------------------------------

    def _url(self, now: datetime) -> str:
        base = self.settings.base_url
        url = f"{base}{SEND_PATH}?access_token={quote(self.settings.token, safe='')}"
        if self.settings.secret is None:
            return url
        timestamp = int(now.timestamp() * 1000)
        signature = sign(self.settings.secret.get_secret_value(), timestamp)
        # Encoded exactly once: requests leaves %XX sequences as they are.
        return f"{url}&timestamp={timestamp}&sign={quote_plus(signature)}"

    def _secrets(self) -> list[str]:
        secret = self.settings.secret
        return [self.settings.token, *([secret.get_secret_value()] if secret else [])]

    def _known_error(self, errcode: int, said: str) -> DeliveryError | str | None:
        token = mask(self.settings.token)
        if errcode in (410100, 130101):
            return TransientDeliveryError(
                f"the robot sent more than 20 messages in a minute and DingTalk "
                f"throttles it for 10 minutes ({errcode} {said}); trying again in 600 s",
                code=str(errcode),
                retry_after=600.0,
            )
        if errcode == 310000:
            return self._security_advice(said)
        content = (
            "DingTalk's content check refused the message ({code} {said}); review the "
            "item's text and links, then run `syndicate retry`"
        )
        advice = {
            400101: f"the robot's access_token {token} does not exist (400101): copy the "
            "robot's webhook again from 群设置 → 智能群助手 → the robot, put it (or its "
            "access_token) in the environment variable this outlet's `access_token` "
            "names, then run `syndicate retry`",
            400102: "the robot is disabled (400102 机器人已停用): enable it in 群设置 → "
            "智能群助手, then run `syndicate retry`",
            400106: f"the robot {token} does not exist (400106 机器人不存在): it was "
            "removed; add a new custom robot to the group and configure its webhook",
            400013: "the group was dissolved (400013 群已被解散): remove this outlet or "
            "point it at another group's robot",
            400105: f"DingTalk does not support the message type (400105 {said}): this is "
            "a bug in syndicate, please report it",
            40035: f"DingTalk says a parameter is missing (40035 {said}): this is a bug in "
            "syndicate, please report it",
            43004: f"DingTalk refused the Content-Type (43004 {said}): this is a bug in "
            "syndicate (or a proxy rewrote the request)",
            430101: "DingTalk flagged a link as unsafe (430101 不安全的外链): check the "
            "outlet's portal_url and links in the item, then run `syndicate retry`",
        }
        for check in (430102, 430103, 430104):
            advice[check] = content.format(code=check, said=said)
        return advice.get(errcode)

    def _security_advice(self, said: str) -> str:
        lower = said.lower()
        where = "群设置 → 智能群助手 → the robot → 安全设置"
        if "sign" in lower:
            if self.settings.secret is None:
                return (
                    f"the robot requires signed requests (310000 {said}): set the "
                    f"outlet's `secret` to its 加签 secret (SEC…, in {where})"
                )
            return (
                f"the signature was refused (310000 {said}): the outlet's `secret` is "
                f"not the robot's 加签 secret; copy it again from {where}"
            )
        if "timestamp" in lower:
            return (
                f"the robot refused the request time (310000 {said}): this machine's "
                "clock is more than an hour off; fix its time (NTP), then run "
                "`syndicate retry`"
            )
        if "keyword" in lower:
            return (
                f"the message lacks the robot's keyword (310000 {said}): set the "
                f"outlet's `keyword` to one of the robot's 自定义关键词 ({where}), then "
                "run `syndicate retry`"
            )
        if "ip" in lower or "whitelist" in lower:
            return (
                f"this machine's IP address is not allowed (310000 {said}): add it to "
                f"the robot's IP 地址（段） list in {where}, then run `syndicate retry`"
            )
        return (
            f"the robot's security settings refused the message (310000 {said}): check "
            f"加签 secret, keywords and IP list in {where}, and this machine's clock"
        )
