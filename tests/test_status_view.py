"""`syndicate status` rows as a pure view over deliveries (syndicate.views.outlet_status)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

from syndicate.domain.deliveries import Delivery, DeliveryState
from syndicate.views import OutletStatus, outlet_status

T0 = datetime(2026, 10, 9, 1, 30, tzinfo=UTC)
A = uuid5(UUID(int=0), "a")
B = uuid5(UUID(int=0), "b")
C = uuid5(UUID(int=0), "c")


def planned(
    item: UUID, version: int, outlet: str, position: int, operation: str = "publish"
) -> Delivery:
    return Delivery.plan(
        item_id=item,
        item_version=version,
        outlet=outlet,
        operation=operation,
        position=position,
        at=T0,
    )


def claim(d: Delivery) -> None:
    d.claim(worker="w", at=T0, expires_at=T0 + timedelta(minutes=2))


def succeed(d: Delivery) -> Delivery:
    claim(d)
    d.record(
        Delivery.Succeeded,
        at=T0,
        worker="w",
        attempt=d.attempt,
        rendition_sha256="0" * 64,
        receipt={},
    )
    return d


def fail(d: Delivery, *, retry: bool) -> Delivery:
    claim(d)
    d.record(
        Delivery.Failed,
        at=T0,
        worker="w",
        attempt=d.attempt,
        error_class="TransientDeliveryError",
        code=None,
        message="disk full",
        retry_at=T0 + timedelta(minutes=1) if retry else None,
        rendition_sha256=None,
    )
    return d


def supersede(d: Delivery, by: int) -> Delivery:
    d.record(Delivery.Superseded, at=T0, by_version=by)
    return d


def rows(
    deliveries: list[Delivery], whole: set[str]
) -> dict[tuple[UUID, str], OutletStatus]:
    return {
        (r.item_id, r.outlet): r for r in outlet_status(deliveries, whole_set=whole)
    }


def test_a_whole_set_rendition_carries_every_live_item() -> None:
    # Three items published in one run to a feed: only the last rendition (which holds
    # all three) was written; the first two were superseded by it.
    a1 = supersede(planned(A, 1, "feeds", 1), 1)
    b1 = supersede(planned(B, 1, "feeds", 2), 1)
    c1 = succeed(planned(C, 1, "feeds", 3))
    found = outlet_status([a1, b1, c1], whole_set={"feeds"})
    assert {(r.item_id, r.state, r.live_version) for r in found} == {
        (A, DeliveryState.SUCCEEDED, 1),
        (B, DeliveryState.SUCCEEDED, 1),
        (C, DeliveryState.SUCCEEDED, 1),
    }
    carried = {r.item_id: r.carried_by for r in found}
    assert carried == {A: c1, B: c1, C: None}
    # The same states on an outlet that holds one item per rendition mean: not there.
    found = outlet_status([a1, b1, c1], whole_set=set())
    assert {(r.item_id, r.state, r.live_version) for r in found} == {
        (A, DeliveryState.SUPERSEDED, None),
        (B, DeliveryState.SUPERSEDED, None),
        (C, DeliveryState.SUCCEEDED, 1),
    }


def test_a_whole_set_shows_the_version_as_of_its_newest_done_rendition() -> None:
    a1 = succeed(planned(A, 1, "kiosk", 1))
    b1 = succeed(planned(B, 1, "kiosk", 2))
    # A is revised (position 3); the whole set written for A v2 fails and waits for
    # a retry.
    a2 = fail(planned(A, 2, "kiosk", 3, "update"), retry=True)
    found = rows([a1, b1, a2], {"kiosk"})
    a = found[(A, "kiosk")]
    assert (a.state, a.live_version, a.last_error) == (
        DeliveryState.RETRYING,
        1,  # the newest written set (B's, position 2) holds A at v1
        "TransientDeliveryError: disk full",
    )
    assert a.due_at == T0 + timedelta(minutes=1)
    b = found[(B, "kiosk")]
    assert (b.state, b.live_version) == (DeliveryState.SUCCEEDED, 1)
    # B's withdrawal is written later: that set holds A v2 (planned before it) and
    # no B; A's own retry is then superseded by it.
    b2 = succeed(planned(B, 2, "kiosk", 4, "retract"))
    supersede(a2, 2)
    found = rows([a1, b1, a2, b2], {"kiosk"})
    a = found[(A, "kiosk")]
    assert (a.state, a.live_version, a.last_error) == (
        DeliveryState.SUCCEEDED,
        2,
        None,  # the old failure is history once a rendition with A v2 is out
    )
    assert a.carried_by is b2
    assert found[(B, "kiosk")].live_version == "withdrawn"


def test_a_delivery_that_succeeded_after_failing_shows_no_stale_error() -> None:
    d = fail(planned(A, 1, "cms", 1), retry=False)
    [row] = outlet_status([d])
    assert row.state is DeliveryState.FAILED
    assert row.last_error == "TransientDeliveryError: disk full"
    d.record(Delivery.RetryRequested, at=T0, actor="运维")
    [row] = outlet_status([d])
    assert row.last_error == "TransientDeliveryError: disk full"  # still the news
    succeed(d)
    [row] = outlet_status([d])
    assert (row.state, row.live_version, row.last_error) == (
        DeliveryState.SUCCEEDED,
        1,
        None,
    )


def test_rows_can_be_limited_to_an_item_or_an_outlet() -> None:
    deliveries = [
        succeed(planned(A, 1, "cms", 1)),
        succeed(planned(A, 1, "feeds", 1)),
        succeed(planned(B, 1, "feeds", 2)),
    ]
    assert {r.outlet for r in outlet_status(deliveries, item=A)} == {"cms", "feeds"}
    assert {r.item_id for r in outlet_status(deliveries, outlet="feeds")} == {A, B}
