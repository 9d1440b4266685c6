"""The redemption report in a real browser (issue 20): from the promotion page's timeline to the
report per channel and version with its chart, a vendor claim made for the period, a part payment
recorded, and the outstanding amount shown. Saves docs/screenshots/promotion-redemption.png."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from promotions import tasks
from tenants.models import Tenant, User
from tests.e2e.conftest import Portal, committed, sign_in
from tests.promotions.conftest import channels  # noqa: F401 - the recording channel doubles fixture
from tests.promotions.redeemed import redeemed

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("channels")]


def _redeemed(tenant: Tenant, author_email: str, approver_email: str, world) -> int:
    with tenant_context(tenant):
        author, approver = User.objects.get(email=author_email), User.objects.get(email=approver_email)
        return redeemed(world, author=author, approver=approver).promotion.pk


def test_the_redemption_report_a_claim_and_a_part_payment(
    page: Page, portal: Portal, world, sandbox, screenshot, monkeypatch
):
    # The channels are sent in the test itself (tests/promotions/conftest.py: published), not by a worker.
    monkeypatch.setattr(tasks.deployment_send_task, "delay", lambda deployment_id: None)
    pk = committed(lambda: _redeemed(sandbox.tenant, sandbox.admin.email, world.partner_admin.email, world))
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, f"/promotions/{pk}/"))
    timeline = page.locator("[data-testid=redemption-timeline]")
    expect(timeline).to_contain_text("v2 live")
    timeline.locator("[data-testid=redemption-link]").click()

    page.fill("#id_start", "2026-03-14")
    page.fill("#id_end", "2026-03-16")
    page.locator("[data-testid=redemption-range]").get_by_role("button", name="Show").click()
    rows = page.locator("[data-testid=redemption-rows] tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Web store")
    expect(rows.nth(0)).to_contain_text("20.00")
    expect(page.locator("[data-testid=redemption-totals]")).to_contain_text("19.00 USD")
    expect(page.locator("canvas[data-chart=redemption-chart]")).to_be_visible()

    claim = page.locator("[data-testid=claim-form]")
    claim.locator("#id_period_start").fill("2026-03-14")
    claim.locator("#id_period_end").fill("2026-03-16")
    claim.get_by_role("button", name="Claim this period").click()
    expect(page.get_by_role("status")).to_contain_text("Claimed: 19.00 USD for 2026-03-14 to 2026-03-16.")
    receipt = page.locator("[data-testid=receipt-form]")
    receipt.get_by_label("Amount received").fill("12.00")
    receipt.get_by_label("Reference").fill("BM-4471")
    receipt.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded 12.00 USD received.")
    expect(page.locator("[data-testid=claims-outstanding]")).to_have_text("7.00")
    page.fill("#id_start", "2026-03-14")
    page.fill("#id_end", "2026-03-16")
    page.locator("[data-testid=redemption-range]").get_by_role("button", name="Show").click()
    expect(rows).to_have_count(4)
    screenshot(page, "promotion-redemption")
