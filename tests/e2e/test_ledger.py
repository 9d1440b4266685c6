"""The ledger in a real browser: the trial balance after an order posted, then one account's ledger."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def test_trial_balance_then_an_account_ledger(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    traced = committed(lambda: seed.traced_order(sandbox.tenant))

    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("navigation").get_by_role("link", name="Trial balance").click()
    expect(page.locator("h1")).to_have_text("Trial balance")
    rows = page.locator("main table tbody tr")
    footwear = rows.filter(has_text="Sales - footwear")
    expect(footwear.locator("td")).to_have_text(
        ["4020", "Sales - footwear", "Revenue", "USD", "0.00", "80.00", "-80.00"]
    )
    expect(rows.filter(has_text="Gift card liability").locator("td").nth(4)).to_have_text("25.00")
    total = rows.last
    expect(total).to_contain_text("Total")
    expect(total.locator("th")).to_have_text(["Total", "USD", "225.30", "225.30", ""])  # debits equal credits
    screenshot(page, "trial-balance")

    footwear.get_by_role("link", name="4020").click()
    expect(page.locator("h1")).to_have_text("4020 Sales - footwear")
    ledger = page.locator("main table tbody tr")
    expect(ledger).to_have_count(1)
    expect(ledger.locator("td").nth(3)).to_have_text("USD")
    expect(ledger.locator("td").nth(5)).to_have_text("80.00")
    expect(ledger.locator("td").nth(6)).to_have_text("-80.00")
    screenshot(page, "account-ledger")
    ledger.get_by_role("link").click()
    page.wait_for_url(f"**/ledger/journals/{traced.entry_id}/")
