"""The inventory page in a real browser: ATS table, oversell highlights, the chart, and the safety
stock editor."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page

from commerce.models import InventoryLocation, Order
from portal.demo.commerce import SOURCE, inventory_demo_seed
from tenants.models import AuditEvent
from tests.e2e.conftest import Portal, committed, sign_in

pytestmark = pytest.mark.e2e


def _seed(tenant) -> None:
    with tenant_context(tenant):
        inventory_demo_seed(currency="USD")


def _remove(tenant) -> None:
    with tenant_context(tenant):
        Order.objects.filter(source=SOURCE).delete()
        InventoryLocation.objects.filter(source=SOURCE).delete()
    AuditEvent.objects.filter(tenant=tenant, action__startswith="inventory.").delete()


def test_inventory_page_shows_ats_oversell_and_edits_safety_stock(page: Page, portal: Portal, world, screenshot):
    committed(lambda: _seed(world.acme))
    try:
        sign_in(page, portal, host=world.host(world.acme), email=world.acme_admin.email)
        page.goto(portal.url(world.host(world.acme), "/"))
        page.get_by_role("link", name="Inventory", exact=True).click()
        page.wait_for_url("**/inventory/")
        assert page.locator("[data-testid=inventory-table] tbody tr").count() == 18
        assert "2 SKU locations oversold" in page.inner_text("[data-testid=oversold-warning]")
        assert page.locator("tr.oversold").count() == 2
        page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
        labels = page.evaluate("() => Chart.getChart(document.querySelector('canvas[data-chart]')).data.labels")
        assert labels == ["East warehouse", "Soho store", "Web fulfilment"]
        screenshot(page, "inventory")

        page.check("input[name=oversold]")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("[data-testid=inventory-table] tbody tr")
        assert rows.count() == 2
        assert sorted(rows.nth(i).locator("td").first.inner_text() for i in range(2)) == ["BOOT-BRN", "SNKR-WHT"]

        page.goto(portal.url(world.host(world.acme), "/inventory/?q=TEE-BLK"))
        page.select_option("#id_location", label="East warehouse")
        page.fill("#id_sku", "TEE-BLK")
        page.fill("#id_quantity", "10")
        page.get_by_role("button", name="Save safety stock").click()
        assert "Safety stock for TEE-BLK at East warehouse saved." in page.content()
        warehouse_row = page.locator("[data-testid=inventory-table] tbody tr", has_text="East warehouse")
        assert [cell.inner_text() for cell in warehouse_row.locator("td.num").all()] == ["140", "0", "10", "130"]
    finally:
        committed(lambda: _remove(world.acme))
