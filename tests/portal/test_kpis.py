"""Each KPI against a hand-computed value (portal/kpis.py states the definitions)."""

import datetime as dt
from dataclasses import replace

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.kpi_selectors import fulfilment_policy_get
from commerce.models import Fulfilment, InventoryLocation, Order, StockSync
from commerce.services import order_upsert
from connectors.models import InboundEvent
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from portal.kpis import (
    exceptions_per_1000,
    inventory_sync_latency,
    manual_interventions_per_1000,
    perfect_order_rate,
    tenant_kpis,
)
from posting.services import journal_post_order
from tests.commerce.factories import shopify_order
from triage.services import exception_comment, exception_ignore, exception_raise, exception_resolve

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _order(external_id: str, placed_at: dt.datetime, **changes) -> Order:
    document = replace(shopify_order(), external_id=external_id, placed_at=placed_at, paid_at=placed_at, **changes)
    return order_upsert(source="shopify", connection_id=1, document=document).obj


def _shipped(order: Order, after: dt.timedelta) -> None:
    Fulfilment.objects.create(order=order, external_id=f"F-{order.external_id}", fulfilled_at=order.placed_at + after)


def test_exceptions_per_1000_orders_count_only_order_related_exceptions(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        shop = connection_create(vendor="shopify", name="Shop", config={"shop_domain": "acme.myshopify.com"})
        a, _b, c, d = (_order(f"E{n}", NOW - dt.timedelta(days=1)) for n in range(4))
        event = InboundEvent.objects.create(
            connection=shop, topic="orders/create", external_id="E3", payload_hash="E3", body="{}"
        )
        Order.objects.filter(pk=d.pk).update(raw_event_id=event.pk)
        entry = journal_post_order(order=c).entry
        payment = a.payments.first()
        exception_raise(kind="mapping", cause="unmapped", obj=a, title="No revenue account")
        exception_raise(kind="mapping", cause="unmapped", obj=a, title="No revenue account")  # same occurrence
        exception_raise(kind="posting", cause="fee", obj=payment, title="Fee account missing")  # a's payment
        exception_raise(kind="erp_push", cause="rejected", obj=entry, title="ERP refused the entry")  # c's entry
        exception_raise(kind="sync", cause="parse", obj=event, title="Event failed")  # d's raw event
        exception_raise(kind="sync", cause="timeout", obj=shop, title="Shop timed out")  # a connection
        exception_raise(kind="sync", cause="down", title="Nothing")  # no object
        rate = exceptions_per_1000(now=NOW)
    # 4 order-related occurrences (a twice: the order and its payment; c; d) over 4 orders.
    assert (rate.count, rate.orders, rate.per_1000_orders) == (4, 4, 1000.0)


def test_exceptions_per_1000_orders_leave_out_orders_placed_before_the_window(world):
    with tenant_context(world.acme):
        old = _order("OLD", NOW - dt.timedelta(days=40))
        for n in range(3):
            _order(f"N{n}", NOW - dt.timedelta(days=2))
        exception_raise(kind="mapping", cause="unmapped", obj=old, title="Late failure of an old order")
        rate = exceptions_per_1000(now=timezone.now())
    assert (rate.count, rate.orders, rate.per_1000_orders) == (1, 3, 333.3)


def test_manual_interventions_per_1000_orders_count_what_people_did_to_fix_failures(world):
    with tenant_context(world.acme):
        for n in range(8):
            _order(f"M{n}", timezone.now() - dt.timedelta(hours=n))
        first = exception_raise(kind="sync", cause="a", title="A")
        second = exception_raise(kind="sync", cause="b", title="B")
        third = exception_raise(kind="sync", cause="c", title="C")
        system = exception_raise(kind="sync", cause="d", title="D")
        exception_comment(exception=first, body="Looking", actor=world.acme_admin)  # coordination, not a fix
        exception_resolve(exception=first, reason="Fixed", actor=world.acme_admin)
        exception_ignore(exception=second, reason="Test order", actor_label="api-key:tb_abc")
        exception_resolve(exception=system, reason="Succeeded later")  # the system, not a person
        rate = manual_interventions_per_1000()
    assert third.status == "open"
    # 2 interventions (a resolve by a person, an ignore by an API key) over 8 orders.
    assert (rate.count, rate.orders, rate.per_1000_orders) == (2, 8, 250.0)


def _perfect_world() -> dict[str, Order]:
    five_days = NOW - dt.timedelta(days=5)
    orders = {
        "on_time": _order("P1", five_days),
        "late": _order("P2", five_days),
        "overdue": _order("P3", five_days),
        "pending": _order("P4", NOW - dt.timedelta(hours=1)),
        "failed": _order("P5", five_days),
        "cancelled": _order("P6", five_days),
        "failed_pending": _order("P7", NOW - dt.timedelta(hours=1)),
    }
    _shipped(orders["on_time"], dt.timedelta(hours=24))
    _shipped(orders["late"], dt.timedelta(hours=72))
    _shipped(orders["failed"], dt.timedelta(hours=10))
    Order.objects.filter(pk=orders["cancelled"].pk).update(cancelled_at=NOW - dt.timedelta(days=4))
    exception_raise(kind="mapping", cause="unmapped", obj=orders["failed"], title="No revenue account")
    exception_raise(kind="mapping", cause="tax", obj=orders["failed_pending"], title="No tax account")
    return orders


def test_perfect_order_rate_needs_no_exception_and_a_shipment_within_the_promised_time(world):
    with tenant_context(world.acme):
        _perfect_world()
        rate = perfect_order_rate(now=NOW)
    # Judged: on time, late, overdue, failed, failed-but-not-due (5); pending left out; cancelled out.
    assert (rate.judged, rate.perfect, rate.with_exception, rate.late, rate.pending) == (5, 1, 2, 2, 1)
    assert (rate.ship_sla_hours, rate.percent) == (48, 20.0)


def test_perfect_order_rate_follows_the_tenants_promised_ship_time(world):
    with tenant_context(world.acme):
        _perfect_world()
        policy = fulfilment_policy_get()
        policy.ship_sla_hours = 96  # the 72-hour shipment is now on time; 120 h unshipped still late
        policy.save()
        rate = perfect_order_rate(now=NOW)
    assert (rate.judged, rate.perfect, rate.late, rate.percent) == (5, 2, 1, 40.0)


def test_inventory_sync_latency_p50_and_p95_from_receipt_to_every_channel(world):
    with tenant_context(world.acme):
        location = InventoryLocation.objects.create(external_id="WH", name="Warehouse")
        for index, seconds in enumerate([4, 8, 15, 16, 23, 42, 60, 61, 90, 600]):
            StockSync.objects.create(
                location=location,
                sku=f"SKU-{index}",
                received_at=NOW - dt.timedelta(hours=1, seconds=seconds),
                synced_at=NOW - dt.timedelta(hours=1),
                channels=2,
            )
        StockSync.objects.create(
            location=location,
            sku="OLD",
            received_at=NOW - dt.timedelta(days=40, seconds=5000),
            synced_at=NOW - dt.timedelta(days=40),
            channels=1,
        )
        latency = inventory_sync_latency(now=NOW)
    # Nearest rank over 10 values: p50 is the 5th (23 s), p95 the 10th (600 s).
    assert (latency.changes, latency.p50_seconds, latency.p95_seconds) == (10, 23.0, 600.0)


def test_tenant_kpis_read_only_the_current_tenant(world):
    with tenant_context(world.acme):
        order = _order("ACME-1", NOW - dt.timedelta(days=1))
        exception_raise(kind="mapping", cause="unmapped", obj=order, title="No revenue account")
    with tenant_context(world.bluebird):
        kpis = tenant_kpis(now=NOW)
    assert (kpis.orders, kpis.exceptions.count, kpis.perfect_orders.judged) == (0, 0, 0)
    assert kpis.exceptions.per_1000_orders is None
