"""The partner roll-up (portal/kpis_partner.py) and its page: totals added up across the partner's
own tenants only, checked with two partners (northwind: acme, bluebird; southpaw: cedar)."""

import datetime as dt
from dataclasses import replace

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import InventoryLocation, StockSync
from commerce.services import order_upsert
from portal.kpis_partner import partner_kpis
from tests.commerce.factories import shopify_order
from triage.services import exception_raise, exception_resolve


def _orders(count: int, *, failing: int = 0, interventions: int = 0, actor=None) -> None:
    """`count` orders placed a day ago; the first `failing` get an order exception, the first
    `interventions` of those are resolved by `actor`."""
    placed = timezone.now() - dt.timedelta(days=1)
    for number in range(count):
        document = replace(shopify_order(), external_id=f"R{number}", placed_at=placed, paid_at=placed)
        order = order_upsert(source="shopify", connection_id=1, document=document).obj
        if number < failing:
            problem = exception_raise(kind="mapping", cause=f"unmapped-{number}", obj=order, title="No account")
            if number < interventions:
                exception_resolve(exception=problem, reason="Mapped", actor=actor)


def _stock(*seconds: int) -> None:
    location = InventoryLocation.objects.create(external_id="WH", name="Warehouse")
    for index, value in enumerate(seconds):
        synced = timezone.now() - dt.timedelta(hours=1)
        StockSync.objects.create(
            location=location,
            sku=f"S{index}",
            received_at=synced - dt.timedelta(seconds=value),
            synced_at=synced,
            channels=1,
        )


def _two_partners(world) -> None:
    with tenant_context(world.acme):
        _orders(4, failing=2, interventions=1, actor=world.acme_admin)
        _stock(10, 20, 30)
    with tenant_context(world.bluebird):
        _orders(6, failing=1)
        _stock(40, 50)
    with tenant_context(world.cedar):
        _orders(10, failing=10)
        _stock(900)


def test_the_roll_up_adds_the_partners_tenants_counts_and_pools_latencies(world):
    _two_partners(world)
    kpis = partner_kpis(partner=world.northwind)
    totals = kpis.totals
    assert [row.tenant.slug for row in kpis.rows] == ["acme", "bluebird"]
    assert [row.kpis.exceptions.per_1000_orders for row in kpis.rows] == [500.0, 166.7]
    # 3 order exceptions over 10 orders, 1 intervention over 10 orders: rates of the sums.
    assert (totals.tenants, totals.orders, totals.exceptions.count, totals.exceptions.per_1000_orders) == (
        2,
        10,
        3,
        300.0,
    )
    assert (totals.manual_interventions.count, totals.manual_interventions.per_1000_orders) == (1, 100.0)
    # Pooled 10, 20, 30, 40, 50 s: p50 is the 3rd (30 s), p95 the 5th (50 s).
    assert (totals.inventory_sync.samples, totals.inventory_sync.p50_seconds, totals.inventory_sync.p95_seconds) == (
        5,
        30.0,
        50.0,
    )
    # Only the failing orders are judged (the others are not due yet): none perfect.
    assert (totals.perfect_orders, totals.perfect_orders_judged, totals.perfect_order_percent) == (0, 3, 0.0)


def test_another_partner_sees_only_its_own_tenant(world):
    _two_partners(world)
    kpis = partner_kpis(partner=world.southpaw)
    assert [row.tenant.slug for row in kpis.rows] == ["cedar"]
    assert (kpis.totals.orders, kpis.totals.exceptions.count, kpis.totals.inventory_sync.p95_seconds) == (
        10,
        10,
        900.0,
    )


def test_the_roll_up_page_charts_each_kpi_and_links_to_each_own_tenant(world, host_client):
    _two_partners(world)
    page = host_client("northwind.localhost", world.partner_admin).get("/kpis/").content.decode()
    for chart in ("interventions", "exceptions", "perfect", "inventory", "activation", "latency"):
        assert f'data-chart="chart-{chart}"' in page
    assert 'data-testid="total-exceptions">300.0<' in page
    assert 'href="http://acme.northwind.localhost/"' in page
    assert 'href="/tenants/bluebird/"' in page
    assert world.cedar.name not in page
    other = host_client("southpaw.localhost", world.other_partner_admin).get("/kpis/").content.decode()
    assert world.cedar.name in other
    assert world.acme.name not in other and world.bluebird.name not in other


def test_the_roll_up_page_is_for_partner_members_on_the_partner_console_only(world, host_client):
    assert host_client("northwind.localhost", world.other_partner_admin).get("/kpis/").status_code == 404
    assert host_client("northwind.localhost", world.acme_admin).get("/kpis/").status_code == 404
    assert host_client(world.host(world.acme), world.partner_admin).get("/kpis/").status_code == 404
