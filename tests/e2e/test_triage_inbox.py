"""Exceptions in a real browser: the partner sees its tenants' inbox, a tenant member resolves one."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from tenants.models import Tenant
from tests.e2e.conftest import Portal, committed, sign_in
from triage import services
from triage.models import Exception as TriageException
from triage.partner.models import TriageIndex


def _raise(slug: str, **kwargs) -> int:
    with tenant_context(Tenant.objects.get(slug=slug)):
        return services.exception_raise(**kwargs).pk


def _remove(slug: str, exception_id: int) -> None:
    tenant = Tenant.objects.get(slug=slug)
    with tenant_context(tenant):
        TriageException.objects.filter(pk=exception_id).delete()
    TriageIndex.objects.filter(tenant=tenant, exception_id=exception_id).delete()


pytestmark = pytest.mark.e2e


def test_partner_inbox_then_tenant_resolves_an_exception(page: Page, portal: Portal, world, screenshot):
    acme_id = committed(
        lambda: _raise(
            "acme",
            kind="mapping",
            cause="unmapped_e2e",
            title="No revenue account for category Gift wrap",
            detail="No account rule matches role revenue with product_category=Gift wrap.",
            object_label="Order #1042",
        )
    )
    bluebird_id = committed(
        lambda: _raise(
            "bluebird",
            kind="sync",
            cause="auth_failed_e2e",
            severity="critical",
            title="Shopify rejected the access token",
            object_label="Shopify connection",
        )
    )
    try:
        sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
        page.goto(portal.url("northwind.localhost", "/exceptions/"))
        rows = page.locator("[data-testid=partner-exception-row]")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("Bluebird Books")  # critical: soonest SLA first
        screenshot(page, "partner-inbox")
        link = page.get_by_role("link", name="No revenue account for category Gift wrap")
        assert link.get_attribute("href") == portal.url("acme.northwind.localhost", f"/exceptions/{acme_id}/")

        sign_in(page, portal, host="acme.northwind.localhost", email=world.acme_admin.email)
        page.goto(portal.url("acme.northwind.localhost", "/exceptions/"))
        expect(page.locator("[data-testid=exception-row]")).to_have_count(1)
        screenshot(page, "tenant-inbox")
        page.get_by_role("link", name="No revenue account for category Gift wrap").click()
        page.wait_for_url(f"**/exceptions/{acme_id}/")
        page.fill("[data-testid=resolve-reason]", "Added the Gift wrap revenue rule")
        page.click("[data-testid=resolve]")
        expect(page.locator("[data-testid=exception-status]")).to_have_text("Resolved")
        expect(page.locator("[data-testid=timeline]")).to_contain_text("Added the Gift wrap revenue rule")
        screenshot(page, "tenant-exception-detail")

        def state() -> tuple[str, str]:
            with tenant_context(Tenant.objects.get(slug="acme")):
                exception = TriageException.objects.get(pk=acme_id)
            return exception.status, TriageIndex.objects.get(tenant__slug="acme", exception_id=acme_id).status

        assert committed(state) == ("resolved", "resolved")
    finally:
        committed(lambda: _remove("acme", acme_id))
        committed(lambda: _remove("bluebird", bluebird_id))
