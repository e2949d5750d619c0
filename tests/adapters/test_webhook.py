"""The webhook adapter: Standard Webhooks signatures, verified by the reference library."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
import requests
import standardwebhooks
from pydantic import ValidationError
from syndicate_adapters.webhook import WebhookAdapter, WebhookSettings, sign

from syndicate.domain.content import problems_from_validation_error
from syndicate.errors import (
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from syndicate.testing import (
    AdapterContract,
    FakeTransport,
    LoopbackServer,
    sample_jobs,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class TestWebhookContract(AdapterContract):
    adapter_class: ClassVar[type[Any]] = WebhookAdapter
    settings: ClassVar[dict[str, Any]] = {
        "url": "http://127.0.0.1:9/hook",
        "secret": SECRET,
    }


def adapter(url: str = "http://127.0.0.1:9/hook") -> WebhookAdapter:
    return WebhookAdapter(WebhookSettings(url=url, secret=SECRET, timeout=2))  # type: ignore[arg-type]


def test_known_answer_from_the_specification() -> None:
    # The Standard Webhooks specification's published example.
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_reference_library_verifies_what_a_loopback_receiver_gets() -> None:
    verifier = standardwebhooks.Webhook(SECRET)
    verified: list[Any] = []

    def receive(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified.append(verifier.verify(body, headers))
        return 204, {}, b""

    with LoopbackServer(receive) as server:
        hook = adapter(server.url + "/hook")
        job = sample_jobs()[0]
        rendition = hook.render(job)
        receipt = hook.deliver(rendition, requests.Session())
    assert receipt.remote_id == rendition.key
    [payload] = verified
    assert payload["type"] == "item.published"
    assert payload["data"]["item_id"] == str(job.item.item_id)
    assert payload["data"]["content_hash"] == job.item.content_hash
    assert payload["data"]["version"] == 1


def test_retries_keep_the_id_and_resign_with_a_new_timestamp() -> None:
    fake = FakeTransport((500, {}, b""), (200, {}, b""))
    hook = adapter()
    rendition = hook.render(sample_jobs()[1])
    hook.clock = lambda: datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    with pytest.raises(TransientDeliveryError):
        hook.deliver(rendition, fake.session())
    hook.clock = lambda: datetime(2026, 10, 9, 1, 5, tzinfo=UTC)
    hook.deliver(rendition, fake.session())
    first, second = fake.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == rendition.key
    assert "." not in rendition.key
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    assert first.body == second.body == rendition.data


@pytest.mark.parametrize(
    ("answer", "error", "code", "retry_after"),
    [
        ((500, {}, b""), TransientDeliveryError, "500", None),
        ((503, {"Retry-After": "120"}, b""), TransientDeliveryError, "503", 120.0),
        ((429, {"Retry-After": "30"}, b""), TransientDeliveryError, "429", 30.0),
        ((410, {}, b""), PermanentDeliveryError, "410", None),
        (
            (308, {"Location": "http://elsewhere.invalid/"}, b""),
            PermanentDeliveryError,
            "308",
            None,
        ),
        ((400, {}, b"bad"), PermanentDeliveryError, "400", None),
        (
            requests.ConnectTimeout("connect timed out"),
            TransientDeliveryError,
            "connect",
            None,
        ),
        (requests.ReadTimeout("read timed out"), UnknownOutcomeError, "timeout", None),
        (
            requests.ConnectionError("Connection reset by peer"),
            UnknownOutcomeError,
            "connection",
            None,
        ),
        (
            requests.ConnectionError("Connection refused"),
            TransientDeliveryError,
            "connect",
            None,
        ),
    ],
    ids=[
        "500",
        "503-retry-after",
        "429",
        "410",
        "308",
        "400",
        "connect-timeout",
        "read-timeout",
        "reset",
        "refused",
    ],
)
def test_fault_mapping(
    answer: Any, error: type[Exception], code: str, retry_after: float | None
) -> None:
    fake = FakeTransport(answer)
    hook = adapter()
    with pytest.raises(error) as info:
        hook.deliver(hook.render(sample_jobs()[0]), fake.session())
    assert info.value.code == code  # type: ignore[attr-defined]
    assert info.value.retry_after == retry_after  # type: ignore[attr-defined]


def test_redirects_are_never_followed() -> None:
    visited: list[str] = []

    def redirect(
        request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        visited.append(request.path)
        return 307, {"Location": "/elsewhere"}, b""

    with LoopbackServer(redirect) as server:
        hook = adapter(server.url + "/hook")
        with pytest.raises(PermanentDeliveryError, match="never followed"):
            hook.deliver(hook.render(sample_jobs()[0]), requests.Session())
    assert visited == ["/hook"]


def test_settings_refuse_a_malformed_secret_without_echoing_it() -> None:
    # Through the outlet loader, the way operators meet it: messages, never input values.
    with pytest.raises(ValidationError) as info:
        WebhookSettings.model_validate(
            {"url": "http://x.invalid", "secret": "not-base64!!"}
        )
    [problem] = problems_from_validation_error(info.value)
    assert problem.field == "secret"
    assert "whsec_" in problem.message
    assert "not-base64!!" not in str(problem)


def test_body_is_canonical_json_with_the_event_type() -> None:
    hook = adapter()
    types = [json.loads(hook.render(job).data)["type"] for job in sample_jobs()]
    assert types == [
        "item.published",
        "item.revised",
        "item.revised",
        "item.withdrawn",
        "item.withdrawn",
    ]
