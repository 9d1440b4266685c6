"""A tenant admin adds a Shopify connection in a real browser; its secrets are never shown back."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from connectors.models import Connection
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e

TOKEN = "shpat_e2e_5f0c9a1b7d3e4f21"
CLIENT_SECRET = "shpss_e2e_a8d2c4f6b1e3"


def test_tenant_admin_adds_a_shopify_connection(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("navigation").get_by_role("link", name="Connections").click()
    expect(page.locator("main")).to_contain_text("No connections yet")
    page.get_by_role("link", name="Add connection").click()
    page.get_by_role("link", name="Shopify").click()
    page.fill("input[name=name]", "Juniper Shopify")
    page.fill("input[name=config_shop_domain]", "juniper-outdoor.myshopify.com")
    page.fill("input[name=secret_access_token]", TOKEN)
    page.fill("input[name=webhook_secret]", CLIENT_SECRET)
    page.get_by_role("button", name="Add connection").click()

    expect(page.locator("h1")).to_have_text("Juniper Shopify")
    expect(page.locator("main")).to_contain_text("Juniper Shopify was added.")
    expect(page.locator(".card", has_text="Credentials")).to_contain_text("Stored (encrypted)")
    expect(page.locator("main")).to_contain_text("/hooks/shopify/")  # the webhook URL to register
    assert TOKEN not in page.content() and CLIENT_SECRET not in page.content()

    page.get_by_role("link", name="Edit").click()
    expect(page.locator("input[name=config_shop_domain]")).to_have_value("juniper-outdoor.myshopify.com")
    expect(page.locator("input[name=secret_access_token]")).to_have_value("")
    expect(page.locator("input[name=webhook_secret]")).to_have_value("")
    assert TOKEN not in page.content() and CLIENT_SECRET not in page.content()

    page.get_by_role("navigation").get_by_role("link", name="Connections").click()
    row = page.locator("tbody tr", has_text="Juniper Shopify")
    expect(row).to_contain_text("Shopify")
    expect(row).to_contain_text("Source")
    screenshot(page, "connections")

    def stored() -> tuple[str, dict, str]:
        with tenant_context(sandbox.tenant):
            connection = Connection.objects.get(name="Juniper Shopify")
            return connection.vendor, connection.credentials, connection.credentials_encrypted

    vendor, credentials, encrypted = committed(stored)
    assert (vendor, credentials) == ("shopify", {"access_token": TOKEN})
    assert TOKEN not in encrypted
