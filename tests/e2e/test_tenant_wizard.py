"""A partner admin creates a retail customer with the new-tenant wizard, in a real browser."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page

from mappings.models import Account
from tenants.models import Membership, Tenant
from tenants.services import tenant_delete
from tests.e2e.conftest import Portal, committed, sign_in

pytestmark = pytest.mark.e2e


def _remove(slug: str) -> None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None:
        tenant_delete(tenant=tenant, confirm_slug=slug, actor=None)


def test_partner_admin_creates_a_tenant_with_the_wizard(page: Page, portal: Portal, world, screenshot):
    sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
    page.goto(portal.url("northwind.localhost", "/tenants/new/"))
    page.fill("input[name=name]", "Hazel Street Market")
    page.fill("input[name=slug]", "hazel")
    page.select_option("select[name=timezone]", "America/New_York")
    page.fill("input[name=base_currency]", "USD")
    page.check("input[name=chart][value=standard]")
    page.fill("input[name=admin_email]", "owner@hazel.test")
    screenshot(page, "partner-tenant-wizard")
    page.click("button[type=submit]")
    try:
        page.wait_for_url("**/tenants/hazel/")
        assert "hazel.northwind.localhost" in page.inner_text("main")

        def check() -> tuple[bool, str]:
            tenant = Tenant.objects.get(slug="hazel")
            with tenant_context(tenant):
                has_chart = Account.objects.filter(code="4000").exists()
            role = Membership.objects.get(tenant=tenant, user__email="owner@hazel.test").role
            return has_chart, role

        assert committed(check) == (True, Membership.Role.TENANT_ADMIN)
    finally:
        committed(lambda: _remove("hazel"))
