"""Payout reconciliation and partner billing in a real browser: a payout's page shows each line
matched or in suspense; the partner's statements price the month's metered work."""

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from tenants.models import RateCard
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def _reconciled_payout(sandbox: Sandbox) -> int:
    from commerce.services import order_upsert, payout_upsert, refund_upsert
    from mappings.services import standard_chart_apply
    from posting.reconciliation import payout_reconcile
    from posting.services import journal_post_order, journal_post_payout, journal_post_refund
    from tests.commerce.factories import refund, shopify_order, stripe_payout_all_types

    with tenant_context(sandbox.tenant):
        standard_chart_apply()
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj)
        journal_post_refund(
            refund=refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        )
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        journal_post_payout(payout=payout)
        payout_reconcile(payout=payout)
        return payout.pk


def test_a_payouts_reconciliation_page_explains_every_line(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    payout_id = committed(lambda: _reconciled_payout(sandbox))
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/ledger/payouts/"))
    expect(page.locator("h1")).to_contain_text("Payouts")
    page.locator(f"a[href='/ledger/payouts/{payout_id}/']").first.click()
    page.wait_for_url(f"**/ledger/payouts/{payout_id}/")
    body = page.locator("main")
    expect(body).to_contain_text("po_1")
    expect(body).to_contain_text("suspense")
    expect(body).to_contain_text("3.25")
    screenshot(page, "payout-reconciliation")


def test_partner_statements_price_the_months_usage(page: Page, portal: Portal, world, sandbox: Sandbox, screenshot):
    from tenants.billing import rate_card_set
    from tenants.usage import usage_increment

    today = dt.date.today()

    def seed() -> None:
        usage_increment(metric="orders_ingested", tenant=sandbox.tenant, day=today, amount=1450)
        usage_increment(metric="journals_posted", tenant=sandbox.tenant, day=today, amount=1460)
        rate_card_set(
            partner=world.northwind,
            plan="starter",
            currency="USD",
            monthly_fee=Decimal("49"),
            lines={"orders_ingested": (1000, Decimal("0.05")), "journals_posted": (1000, Decimal("0.02"))},
        )

    committed(seed)
    try:
        sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
        page.goto(portal.url("northwind.localhost", f"/usage/statements/?month={today:%Y-%m}"))
        statement = page.locator("[data-testid=statement-juniper]")
        expect(statement.locator("[data-testid=statement-total]")).to_have_text("80.70 USD")  # 49 + 22.50 + 9.20
        screenshot(page, "partner-statements")
        page.goto(portal.url("northwind.localhost", "/usage/rates/"))
        expect(page.locator("[data-testid=rate-card-starter]")).to_be_visible()
        screenshot(page, "partner-rate-cards")
    finally:
        committed(lambda: RateCard.objects.filter(partner__slug="northwind").delete())
