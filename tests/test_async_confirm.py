"""Asynchronous confirmation in the core: the `Submitted` state, its schedule, old logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from syndicate.delivery import Backoff
from syndicate.domain.deliveries import Delivery, DeliveryState

T0 = datetime(2026, 10, 9, 1, 30, tzinfo=UTC)


def state(delivery: Delivery) -> DeliveryState:
    """The state (a call, so mypy does not narrow it across commands)."""
    return delivery.state


def planned() -> Delivery:
    return Delivery.plan(
        item_id=uuid4(), item_version=1, outlet="mp", operation="publish",
        position=1, at=T0,
    )  # fmt: skip


def submitted(delivery: Delivery, at: datetime, check_at: datetime) -> None:
    delivery.record(
        Delivery.Submitted,
        at=at,
        worker="w",
        attempt=delivery.attempt,
        rendition_sha256="a" * 64,
        receipt={"publish_id": "PUB_1"},
        check_at=check_at,
    )


def test_submitted_is_due_at_check_at_and_not_settled() -> None:
    d = planned()
    d.claim(worker="w", at=T0, expires_at=T0 + timedelta(minutes=2))
    submitted(d, T0, T0 + timedelta(seconds=10))
    assert state(d) is DeliveryState.SUBMITTED
    assert not d.state.settled
    assert not d.state.problem
    assert not d.state.done
    assert d.confirming
    assert d.checks == 1
    assert not d.is_due(T0 + timedelta(seconds=9))
    assert d.is_due(T0 + timedelta(seconds=10))
    later = T0 + timedelta(seconds=10)
    d.claim(worker="w", at=later, expires_at=later + timedelta(minutes=2))
    assert state(d) is DeliveryState.CLAIMED
    assert d.confirming
    d.record(Delivery.Released, at=later, worker="w", attempt=d.attempt)
    assert state(d) is DeliveryState.SUBMITTED  # giving a check back keeps it submitted
    d.claim(worker="w", at=later, expires_at=later + timedelta(minutes=2))
    d.record(
        Delivery.Succeeded, at=later, worker="w", attempt=d.attempt,
        rendition_sha256="a" * 64, receipt={"publish_id": "PUB_1", "article_id": "A"},
    )  # fmt: skip
    assert state(d) is DeliveryState.SUCCEEDED
    assert not d.confirming
    assert d.receipt == {"publish_id": "PUB_1", "article_id": "A"}


def test_a_failed_check_is_failed_and_a_retry_sends_again() -> None:
    d = planned()
    d.claim(worker="w", at=T0, expires_at=T0 + timedelta(minutes=2))
    submitted(d, T0, T0)
    d.claim(worker="w", at=T0, expires_at=T0 + timedelta(minutes=2))
    d.record(
        Delivery.Failed, at=T0, worker="w", attempt=d.attempt,
        error_class="PermanentDeliveryError", code="publish_status_4",
        message="平台审核不通过", retry_at=None, rendition_sha256="a" * 64,
    )  # fmt: skip
    assert state(d) is DeliveryState.FAILED
    assert not d.confirming
    d.record(Delivery.RetryRequested, at=T0, actor="op")
    assert state(d) is DeliveryState.PLANNED
    assert not d.confirming


def test_old_logs_load_unchanged() -> None:
    # Events written before Submitted existed: the new fields default on replay.
    d = planned()
    d.claim(worker="w", at=T0, expires_at=T0 + timedelta(minutes=2))
    d.record(
        Delivery.Succeeded, at=T0, worker="w", attempt=1,
        rendition_sha256="a" * 64, receipt={},
    )  # fmt: skip
    events = list(d.collect_events())
    replayed: Delivery | None = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert state(replayed) is DeliveryState.SUCCEEDED
    assert not replayed.confirming
    assert Delivery.Submitted.TOPIC == "syndicate.Delivery.Submitted"
    assert Delivery.Submitted.model_fields["message"].default is None


def test_the_check_schedule_grows_and_is_capped() -> None:
    backoff = Backoff()
    delays = [backoff.check_delay(n) for n in range(10)]
    assert delays[:4] == [10, 30, 60, 300]
    assert delays[-1] == delays[-2] == 1800
    # An outlet's Retry-After lengthens a wait, never shortens it (nor below the check
    # schedule: a hostile "Retry-After: 0" must not make a worker poll every second).
    assert backoff.check_delay(0, retry_after=42) == 42
    assert backoff.check_delay(3, retry_after=42) == 300
    assert backoff.check_delay(3, retry_after=0) == 300
    assert backoff.check_delay(3, retry_after=1e30) == backoff.max_retry_after
