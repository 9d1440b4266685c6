import datetime as dt
from dataclasses import replace

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order
from commerce.services import order_upsert
from connectors.models import InboundEvent
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from portal.dashboard import (
    event_backlog,
    journal_backlog,
    orders_and_postings_per_day,
    reconciliation_cycle,
    sla_breaches,
    sync_latency,
)
from posting.erp.models import ErpPush
from posting.models import JournalEntry
from posting.services import journal_post_order
from tests.commerce.factories import shopify_order
from triage.services import exception_comment, exception_raise, exception_resolve, exceptions_sla_mark

SYDNEY = dt.timezone(dt.timedelta(hours=11))


def _order(external_id: str, placed_at: dt.datetime):
    document = replace(shopify_order(), external_id=external_id, placed_at=placed_at, paid_at=placed_at)
    return order_upsert(source="shopify", connection_id=1, document=document).obj


def test_orders_per_day_count_in_the_tenant_time_zone(world):
    with tenant_context(world.acme):
        # 23:30 UTC on the 9th is already the 10th in Sydney (UTC+11 in November).
        _order("A", dt.datetime(2026, 11, 9, 23, 30, tzinfo=dt.UTC))
        _order("B", dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC))
        _order("C", dt.datetime(2026, 11, 8, 1, 0, tzinfo=dt.UTC))
        _order("OLD", dt.datetime(2026, 10, 1, 1, 0, tzinfo=dt.UTC))
        series = orders_and_postings_per_day(tz_name="Australia/Sydney", days=3, today=dt.date(2026, 11, 10))
    assert series.labels == ["2026-11-08", "2026-11-09", "2026-11-10"]
    assert series.series["orders"] == [1, 0, 2]


def test_postings_per_day_and_backlog_by_state(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        first = _order("P1", dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC))
        second = _order("P2", dt.datetime(2026, 11, 10, 3, 0, tzinfo=dt.UTC))
        journal_post_order(order=first)
        journal_post_order(order=second)
        JournalEntry.objects.filter(source_key__startswith=f"order:{second.pk}:").update(status="failed")
        today = dt.datetime.now(dt.UTC).date()
        series = orders_and_postings_per_day(tz_name="UTC", days=1, today=today)
        backlog = journal_backlog()
    assert series.series["journals"] == [2]
    assert backlog == {"ready": 1, "pushed": 0, "failed": 1}


def test_dashboard_reads_only_the_current_tenant(world):
    with tenant_context(world.acme):
        _order("ACME-1", dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC))
    with tenant_context(world.bluebird):
        series = orders_and_postings_per_day(tz_name="UTC", days=1, today=dt.date(2026, 11, 10))
    assert series.series["orders"] == [0]


def _event(connection, external_id: str, received_at: dt.datetime) -> InboundEvent:
    event = InboundEvent.objects.create(
        connection=connection, topic="orders/create", external_id=external_id, payload_hash=external_id, body="{}"
    )
    InboundEvent.objects.filter(pk=event.pk).update(received_at=received_at)
    return event


def _acked_order(connection, external_id: str, received_at: dt.datetime, seconds: int):
    event = _event(connection, external_id, received_at)
    document = replace(shopify_order(), external_id=external_id, placed_at=received_at, paid_at=received_at)
    order = order_upsert(source="shopify", connection_id=connection.pk, document=document).obj
    Order.objects.filter(pk=order.pk).update(raw_event_id=event.pk)
    InboundEvent.objects.filter(pk=event.pk).update(status="processed")
    entry = journal_post_order(order=order).entry
    ErpPush.objects.create(
        entry=entry,
        target_key="builtin",
        vendor="builtin_ledger",
        reference=f"TB-{entry.pk}",
        status="acked",
        acked_at=received_at + dt.timedelta(seconds=seconds),
    )
    return order


def test_sync_latency_p50_and_p95_from_event_to_erp_ack(world):
    now = timezone.now()
    with tenant_context(world.acme):
        standard_chart_apply()
        shop = connection_create(vendor="shopify", name="Shop", config={"shop_domain": "acme.myshopify.com"})
        for index, seconds in enumerate([10, 20, 30, 40, 300]):
            _acked_order(shop, f"L{index}", now - dt.timedelta(hours=1), seconds)
        _event(shop, "waiting", now)
        latency = sync_latency(now=now)
        backlog = event_backlog()
    assert (latency.orders, latency.p50_seconds, latency.p95_seconds) == (5, 30.0, 300.0)
    assert backlog == {"received": 1, "processing": 0, "failed": 0}


def test_sla_breaches(world):
    with tenant_context(world.acme):
        first = exception_raise(kind="sync", cause="a", title="A")
        second = exception_raise(kind="sync", cause="b", title="B")
        exception_comment(exception=first, body="Looking", actor=world.acme_admin)
        exception_resolve(exception=second, reason="Fixed", actor=world.acme_admin)
        later = timezone.now() + dt.timedelta(days=10)
        exceptions_sla_mark(now=later)
        breaches = sla_breaches(now=later)
    assert breaches == {"in_window": 1, "open_now": 1}


def test_reconciliation_cycle_counts_matched_payouts(world):
    with tenant_context(world.acme):
        cycle = reconciliation_cycle()
    assert cycle == {"payouts": 0, "matched": 0, "median_days": None}


def test_discount_reconciliation_cycle_times_vendor_funded_claims_to_the_erp_ack(world, host_client):
    from decimal import Decimal

    from portal.dashboard import discount_reconciliation_cycle

    now = timezone.now()
    posted_at = now - dt.timedelta(days=2)

    def post(external_id: str, *, vendor: bool, ack_hours: float | None):
        document = replace(shopify_order(), external_id=external_id, placed_at=posted_at, paid_at=posted_at)
        if not vendor:
            document = replace(
                document,
                discounts=tuple(
                    replace(discount, funding="merchant", promotion_id="") for discount in document.discounts
                ),
            )
        entry = journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=document).obj).entry
        JournalEntry.objects.filter(pk=entry.pk).update(created_at=posted_at)
        if ack_hours is not None:
            ErpPush.objects.create(
                entry=entry,
                target_key="builtin",
                vendor="builtin_ledger",
                reference=f"TB-{entry.pk}",
                status="acked",
                acked_at=posted_at + dt.timedelta(hours=ack_hours),
            )
        return entry

    with tenant_context(world.acme):
        standard_chart_apply()
        funded = post("2001", vendor=True, ack_hours=5)
        assert funded.lines.filter(role="vendor_funded_discount_receivable", debit=Decimal("5.00")).exists()
        post("2002", vendor=True, ack_hours=9)
        post("2003", vendor=True, ack_hours=None)  # waiting for the ERP: counted, not timed
        post("2004", vendor=False, ack_hours=1)  # no vendor-funded discount: not counted
        cycle = discount_reconciliation_cycle(now=now)
        assert cycle == {"orders": 3, "reconciled": 2, "median_hours": 5.0}
        assert discount_reconciliation_cycle(days=1, now=now) == {"orders": 0, "reconciled": 0, "median_hours": None}
    html = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    card = html.split('data-testid="kpi-discount-reconciliation">')[1]
    assert card.startswith("5.0 h<") and "2 of 3 vendor-funded discount claims" in card
    assert 'data-testid="kpi-reconciliation"' in html
