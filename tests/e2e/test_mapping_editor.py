"""A tenant admin changes where footwear sales post, previews an order under the draft, then activates it."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def test_edit_a_mapping_with_preview_then_activate(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    committed(lambda: seed.traced_order(sandbox.tenant))

    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("navigation").get_by_role("link", name="Mappings").click()
    expect(page.locator("main tbody tr", has_text="Standard retail mapping")).to_contain_text("Active")
    page.fill("input[name=name]", "Spring mapping")
    page.select_option("select[name=copy_from]", label="Standard retail mapping (active)")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("h1")).to_have_text("Spring mapping")
    expect(page.locator(".page-head .badge")).to_have_text("Draft")

    preview = page.locator("[data-testid=preview]")
    footwear_line = preview.locator("tbody tr", has_text="Revenue (footwear)")
    expect(page.locator("select[name=order] option")).to_have_count(1)
    page.select_option("select[name=order]", index=0)
    page.get_by_role("button", name="Preview journal").click()
    expect(preview.locator("h3")).to_have_text("Order 1001 under Spring mapping")
    expect(footwear_line.locator("td")).to_have_text(
        ["4020 Sales - footwear", "revenue", "Revenue (footwear)", "", "80.00"]
    )

    # Change the footwear revenue rule's account in place, from 4020 to 4000 Sales.
    rule = page.locator("section.panel").first.locator("tbody tr").filter(has_text="product_category: footwear")
    chosen = rule.locator("[data-testid=rule-account] option:checked")
    expect(chosen).to_have_text("4020 Sales - footwear")
    rule.locator("[data-testid=rule-account]").select_option(label="4000 Sales")
    rule.get_by_role("button", name="Change").click()
    expect(page.locator("main")).to_contain_text("Revenue now goes to 4000 Sales.")
    expect(chosen).to_have_text("4000 Sales")

    # The preview shows where the amounts go under the draft, before it is activated.
    page.get_by_role("button", name="Preview journal").click()
    expect(preview.locator("h3")).to_have_text("Order 1001 under Spring mapping")
    expect(footwear_line.locator("td")).to_have_text(["4000 Sales", "revenue", "Revenue (footwear)", "", "80.00"])
    expect(preview).not_to_contain_text("4020 Sales - footwear")
    expect(preview).not_to_contain_text("would not post")
    totals = preview.locator("tbody tr").last
    expect(totals.locator("th")).to_have_text(["Total USD", "225.30", "225.30"])
    screenshot(page, "mapping-editor")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("main")).to_contain_text("Spring mapping is now active.")
    expect(page.locator(".page-head .badge")).to_have_text("Active")
    page.locator(".breadcrumbs").get_by_role("link", name="Mapping sets").click()
    expect(page.locator("main tbody tr", has_text="Standard retail mapping")).to_contain_text("Archived")
    expect(page.locator("main tbody tr", has_text="Spring mapping")).to_contain_text("Active")
