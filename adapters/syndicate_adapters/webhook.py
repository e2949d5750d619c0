"""`webhook`: a JSON POST signed per the Standard Webhooks specification.

Headers: `webhook-id` (the delivery id, the same on every retry, so receivers deduplicate),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 over `"{id}.{timestamp}.{body}"` with the endpoint secret,
`whsec_` + base64). Body: `{"type": "item.published" | "item.revised" | "item.withdrawn",
"timestamp": …, "data": {the item document}}`, canonical JSON, so it is the same bytes on
every attempt.

Review notices (an internal outlet with `review_queue = true`): the same envelope with
`type` `review.submitted`, `review.approved`, `review.returned`, `review.released` or
`review.urgent`, `timestamp` the moment of the review event and `data` the notice
(`ReviewNotice.as_json()`: stage, its Chinese label, title, ref, version, content hash,
actor, level, comment), signed and sent like any other delivery.

Status handling: 2xx success; 429/502/503/504 transient (honouring `Retry-After`); other
5xx transient; 410 permanent (the receiver is gone); 3xx permanent (never followed: a
redirect could point anywhere); other 4xx permanent. Connection failures before sending
are transient; timeouts and resets after sending are unknown outcomes, which the engine may
resend because the receiver deduplicates on `webhook-id`. A destination the network guard
refuses (`syndicate.netguard`: loopback, private and other internal addresses, unless the
outlet sets `allow_private_network = true`) fails for good before anything is sent.

Hostile receivers: `timeout` bounds the whole attempt (connect, TLS, send, the answer's
status line, headers and body), not each read; at most 64 KiB of the answer is read and
the rest is not downloaded (only the status counts, so a 2xx with a huge, slow or broken
body is still a success). Errors name what happened — DNS failure, connection refused,
TLS handshake failure, timeout before or after sending — and anything that failed before
a byte was sent is a plain transient error, never an unknown outcome.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
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
from syndicate.adapterkit import (
    BaseAdapter,
    RequestFailed,
    canonical_json,
    exchange,
    retry_after,
    unsent_failure,
)
from syndicate.errors import (
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)

__all__ = ["WebhookAdapter", "WebhookSettings", "sign"]

# Receivers' answers are read up to this many bytes (only the status matters).
ANSWER_LIMIT = 64 * 1024

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


def _location(headers: Mapping[str, str]) -> str:
    """Where a redirect points, without its query (which may carry a token)."""
    where = headers.get("Location") or "?"
    return (where.split("?", 1)[0].split("#", 1)[0] or "?")[:200]


class WebhookAdapter(BaseAdapter[WebhookSettings]):
    """Signed POSTs to one receiver."""

    kind: ClassVar[str] = "webhook"
    label: ClassVar[str | None] = "Webhook推送"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,  # the receiver gets item.revised and updates its copy
        retracts=True,  # item.withdrawn
        deduplicates=True,  # webhook-id is stable across retries
        review_notices=True,  # review.* events (`review_queue` outlets)
        concurrent_sends=True,  # render and POST keep no state between sends
    )

    def render(self, job: DeliveryJob) -> Rendition:
        if job.operation is Operation.REVIEW_NOTICE:
            # The notice, never job.item: that is what outlets show, which may be
            # another version than the one under review.
            if job.review is None:
                raise PermanentDeliveryError(
                    "a review-notice delivery without its notice (job.review is "
                    "None): this is a bug in syndicate, please report it",
                    code="no_review",
                )
            notice = job.review.as_json()
            envelope = {
                "type": notice["type"],
                "timestamp": job.review.at.isoformat(),
                "data": notice,
            }
        else:
            envelope = {
                "type": _EVENT_TYPES[job.operation],
                "timestamp": job.item.updated_at.isoformat(),
                "data": item_document(job),
            }
        body = canonical_json(envelope)
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
            response = exchange(
                session,
                "POST",
                self.settings.url,
                data=rendition.data,
                headers=headers,
                timeout=self.settings.timeout,
                limit=ANSWER_LIMIT,
            )
        except RequestFailed as exc:
            unsent = unsent_failure(exc, "the receiver", setting="url")
            if unsent is not None:
                raise unsent from exc
            raise UnknownOutcomeError(
                f"{exc.what}; the receiver may have processed it (it is sent again "
                "with the same webhook-id)",
                code=exc.code,
            ) from exc
        status = response.status
        if 200 <= status < 300:
            return Receipt(remote_id=rendition.key, detail={"status": str(status)})
        code = str(status)
        if status in (429, 502, 503, 504) or status >= 500:
            raise TransientDeliveryError(
                f"receiver answered {status}",
                code=code,
                retry_after=retry_after(response.headers, self.clock()),
            )
        if status == 410:
            raise PermanentDeliveryError(
                "receiver answered 410 Gone: it asks not to be sent anything more; "
                "remove or fix the outlet",
                code=code,
            )
        if 300 <= status < 400:
            raise PermanentDeliveryError(
                f"receiver redirects ({status}) to {_location(response.headers)}; "
                "redirects are never followed: update the outlet's url",
                code=code,
            )
        raise PermanentDeliveryError(f"receiver refused it with {status}", code=code)
