"""A tenant admin follows one order from the Orders list to its trace, in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def test_follow_an_order_from_the_list_to_its_trace(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    traced = committed(lambda: seed.traced_order(sandbox.tenant))

    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("navigation").get_by_role("link", name="Orders").click()
    row = page.locator("[data-testid=orders-table] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("1001")
    expect(row).to_contain_text("web")
    expect(row).to_contain_text("USD")
    screenshot(page, "orders")

    row.get_by_role("link", name="1001").click()
    page.wait_for_url(f"**/orders/{traced.order_id}/")
    expect(page.locator("h1")).to_have_text("Order 1001")
    expect(page.locator("[data-testid=trace-id]")).to_have_text(f"Trace id: {seed.TRACE_ID}")

    steps = page.locator("li.trace-step")
    received = steps.nth(0)
    expect(received).to_contain_text("orders/create")
    expect(received).to_contain_text(seed.TRACE_ID)

    page.get_by_text("Canonical document").click()
    expect(page.locator("pre.payload")).to_contain_text('"external_id": "1001"')
    expect(page.locator("pre.payload")).to_contain_text('"sku": "BOOT-BRN"')

    entry = page.locator("[data-testid=trace-entry]")
    expect(entry.locator("h3")).to_contain_text(f"Journal entry {traced.entry_id}")
    decisions = entry.locator("tbody tr")
    footwear = decisions.filter(has_text="product_category=footwear").filter(has_text="revenue")
    expect(footwear).to_contain_text("4020 Sales - footwear")
    expect(footwear.locator("td.num").nth(1)).to_have_text("80.00")
    expect(decisions.filter(has_text="gift_card_liability")).to_contain_text("2300 Gift card liability")
    expect(entry.locator("[data-testid=trace-push]")).to_contain_text("quickbooks · Acknowledged · ERP id QB-4471")

    exceptions = steps.last
    expect(exceptions).to_contain_text("Order 1001 could not be posted")
    expect(exceptions).to_contain_text(f"Resolved: Posted as journal entry {traced.entry_id}.")
    screenshot(page, "order-trace")

    entry.get_by_role("link", name=f"Journal entry {traced.entry_id}").click()
    expect(page.locator("main")).to_contain_text("4020 Sales - footwear")
