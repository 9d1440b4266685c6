"""The partner's KPI roll-up in a real browser: one chart per KPI across the partner's tenants, a
row per tenant with a drill-down, and nothing of another partner's tenants."""

import datetime as dt
from dataclasses import replace

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e

CHARTS = ("interventions", "exceptions", "perfect", "inventory", "activation", "latency")


def _seed(sandbox: Sandbox) -> None:
    """Juniper: 4 orders a day old, two shipped within 10 hours and one with an exception a person
    resolved (the fourth is not due yet); 3 stock changes synced to every channel."""
    from commerce.models import Fulfilment, InventoryLocation, StockSync
    from commerce.services import order_upsert
    from tests.commerce.factories import shopify_order
    from triage.services import exception_raise, exception_resolve

    placed = timezone.now() - dt.timedelta(days=1)
    with tenant_context(sandbox.tenant):
        for number in range(4):
            document = replace(shopify_order(), external_id=f"KPI-{number}", placed_at=placed, paid_at=placed)
            order = order_upsert(source="shopify", connection_id=1, document=document).obj
            if number < 2:
                shipped = placed + dt.timedelta(hours=10)
                Fulfilment.objects.create(order=order, external_id=f"F-{number}", fulfilled_at=shipped)
        problem = exception_raise(kind="mapping", cause="unmapped", obj=order, title="No revenue account")
        exception_resolve(exception=problem, reason="Mapped", actor=sandbox.admin)
        location = InventoryLocation.objects.create(external_id="WH", name="Warehouse")
        synced = timezone.now() - dt.timedelta(hours=1)
        for index, seconds in enumerate((12, 30, 95)):
            StockSync.objects.create(
                location=location,
                sku=f"SKU-{index}",
                received_at=synced - dt.timedelta(seconds=seconds),
                synced_at=synced,
                channels=2,
            )


def test_the_partner_sees_each_kpi_charted_across_its_own_tenants(
    page: Page, portal: Portal, world, sandbox: Sandbox, screenshot
):
    committed(lambda: _seed(sandbox))
    sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
    page.goto(portal.url("northwind.localhost", "/kpis/"))
    expect(page.locator("h1")).to_contain_text("KPIs of all retail customers")
    for chart in CHARTS:
        page.wait_for_function(
            f"() => window.Chart && Chart.getChart(document.querySelector('[data-chart=chart-{chart}]'))"
        )
    labels = page.evaluate("() => Chart.getChart(document.querySelector('[data-chart=chart-exceptions]')).data.labels")
    assert sorted(labels) == sorted([world.acme.name, world.bluebird.name, "Juniper Outdoor"])
    bars = page.evaluate(
        "() => { const c = Chart.getChart(document.querySelector('[data-chart=chart-exceptions]'));"
        " return c.data.datasets[0].data[c.data.labels.indexOf('Juniper Outdoor')]; }"
    )
    assert bars == 250.0  # 1 order exception over 4 orders
    row = page.locator("[data-testid=partner-kpi-table] tr[data-tenant=juniper]")
    expect(row).to_contain_text("250.0")
    expect(row).to_contain_text("1.6 min")  # inventory sync p95: 95 s
    expect(row).to_contain_text("66.7 %")  # 2 of 3 judged orders shipped on time with no exception
    expect(page.locator("main")).not_to_contain_text(world.cedar.name)
    screenshot(page, "partner-kpis")
    row.get_by_role("link", name="Juniper Outdoor").click()
    page.wait_for_url("**/tenants/juniper/")
    expect(page.locator("h1")).to_contain_text("Juniper Outdoor")
