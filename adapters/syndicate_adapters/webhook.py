"""`webhook`: a JSON POST signed per the Standard Webhooks specification.

Headers: `webhook-id` (the delivery id, the same on every retry, so receivers deduplicate),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 over `"{id}.{timestamp}.{body}"` with the endpoint secret,
`whsec_` + base64). Body: `{"type": "item.published" | "item.revised" | "item.withdrawn",
"timestamp": …, "data": {the item document}}`, canonical JSON, so it is the same bytes on
every attempt.

Status handling: 2xx success; 429/502/503/504 transient (honouring `Retry-After`); other
5xx transient; 410 permanent (the receiver is gone); 3xx permanent (never followed: a
redirect could point anywhere); other 4xx permanent. Connection failures before sending
are transient; timeouts and resets after sending are unknown outcomes, which the engine may
resend because the receiver deduplicates on `webhook-id`. A destination the network guard
refuses (`syndicate.netguard`: loopback, private and other internal addresses, unless the
outlet sets `allow_private_network = true`) fails for good before anything is sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    Operation,
    Receipt,
    Rendition,
    item_document,
)
from syndicate.domain.content import canonical_json
from syndicate.errors import (
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)

__all__ = ["WebhookAdapter", "WebhookSettings", "sign"]

_WEEK = 7 * 24 * 3600.0

_EVENT_TYPES = {
    Operation.PUBLISH: "item.published",
    Operation.UPDATE: "item.revised",
    Operation.CORRECTION: "item.revised",
    Operation.RETRACT: "item.withdrawn",
    Operation.WITHDRAWAL_NOTICE: "item.withdrawn",
}


class WebhookSettings(BaseModel):
    """`[outlets.NAME]` settings of a webhook outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(pattern=r"^https?://", description="Receiver endpoint.")
    secret: SecretStr = Field(description="Signing secret, whsec_ + base64.")
    timeout: float = Field(
        default=15.0, gt=0, le=60, description="Seconds per attempt."
    )

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr) -> SecretStr:
        _secret_bytes(value.get_secret_value())
        return value


def _secret_bytes(secret: str) -> bytes:
    body = secret.removeprefix("whsec_")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be whsec_ followed by base64 (24 to 64 bytes)") from None
    if not 24 <= len(raw) <= 64:
        raise ValueError("must be whsec_ followed by base64 of 24 to 64 random bytes")
    return raw


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf", "nan" and absurd values are not a schedule: cap at a week.
        return min(max(0.0, seconds), _WEEK) if math.isfinite(seconds) else _WEEK
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class WebhookAdapter:
    """Signed POSTs to one receiver."""

    kind: ClassVar[str] = "webhook"
    Settings: ClassVar[type[BaseModel]] = WebhookSettings
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,  # the receiver gets item.revised and updates its copy
        retracts=True,  # item.withdrawn
        deduplicates=True,  # webhook-id is stable across retries
    )

    def __init__(self, settings: BaseModel) -> None:
        if not isinstance(settings, WebhookSettings):
            raise TypeError("WebhookAdapter needs WebhookSettings")
        self.settings = settings
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def render(self, job: DeliveryJob) -> Rendition:
        moment = job.item.updated_at
        body = canonical_json(
            {
                "type": _EVENT_TYPES[job.operation],
                "timestamp": moment.isoformat(),
                "data": item_document(job),
            }
        )
        # Standard Webhooks ids may not contain '.'; a UUID never does.
        return Rendition.of(body, "application/json", key=f"msg_{job.delivery_id.hex}")

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        timestamp = int(self.clock().timestamp())
        headers = {
            "content-type": rendition.media_type,
            "webhook-id": rendition.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                self.settings.secret.get_secret_value(),
                rendition.key,
                timestamp,
                rendition.data,
            ),
        }
        try:
            response = session.post(
                self.settings.url,
                data=rendition.data,
                headers=headers,
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except (requests.ConnectTimeout, requests.exceptions.InvalidURL) as exc:
            raise TransientDeliveryError(
                f"cannot connect: {type(exc).__name__}", code="connect"
            ) from exc
        except requests.ConnectionError as exc:
            # Refused before sending is safe to retry; a reset after sending is not known.
            text = str(exc)
            if "refused" in text.lower() or "Failed to establish" in text:
                raise TransientDeliveryError(
                    "connection refused", code="connect"
                ) from exc
            raise UnknownOutcomeError(
                f"connection broken: {type(exc).__name__}", code="connection"
            ) from exc
        except requests.Timeout as exc:
            raise UnknownOutcomeError(
                "no response in time; the receiver may have processed it",
                code="timeout",
            ) from exc
        except requests.RequestException as exc:
            raise UnknownOutcomeError(
                f"transport error: {type(exc).__name__}", code="transport"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(remote_id=rendition.key, detail={"status": str(status)})
        code = str(status)
        if status in (429, 502, 503, 504) or status >= 500:
            raise TransientDeliveryError(
                f"receiver answered {status}",
                code=code,
                retry_after=_retry_after(response),
            )
        if status == 410:
            raise PermanentDeliveryError(
                "receiver answered 410 Gone: it asks not to be sent anything more; "
                "remove or fix the outlet",
                code=code,
            )
        if 300 <= status < 400:
            raise PermanentDeliveryError(
                f"receiver redirects ({status}) to {response.headers.get('Location', '?')}; "
                "redirects are never followed: update the outlet's url",
                code=code,
            )
        raise PermanentDeliveryError(f"receiver refused it with {status}", code=code)
