"""Signing in through the real allauth form, and what each kind of member then sees."""

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Portal, sign_in

pytestmark = pytest.mark.e2e


def test_partner_admin_signs_in_and_sees_only_own_tenants(page: Page, portal: Portal, world, screenshot):
    sign_in(page, portal, host="northwind.localhost", email=world.partner_admin.email)
    page.wait_for_url(portal.url("northwind.localhost", "/"))

    names = page.locator("[data-testid=tenant-table] tbody tr td:first-child").all_inner_texts()
    assert {"Acme Outfitters", "Bluebird Books"} <= set(names)
    assert "Cedar Home" not in names
    screenshot(page, "partner-console-tenants")

    page.click("nav.sidebar >> text=Brand")
    page.wait_for_url(portal.url("northwind.localhost", "/brand/"))
    assert page.inner_text("main h1") == "Brand"
    assert page.inner_text(".brand-preview-bar") == "Northwind Commerce Partners"
    # Live preview: typing a pale colour updates the preview and warns, before anything is saved.
    page.fill("#id_primary_colour", "#ffee88")
    page.dispatch_event("#id_primary_colour", "input")
    page.wait_for_selector("[data-testid=contrast] >> text=Primary colour as text on white: 1.18:1")
    assert "fails WCAG AA" in page.inner_text("[data-testid=contrast]")
    screenshot(page, "partner-brand")


def test_tenant_admin_signs_in_to_tenant_home(page: Page, portal: Portal, world, screenshot):
    host = world.host(world.acme)
    sign_in(page, portal, host=host, email=world.acme_admin.email)
    page.wait_for_url(portal.url(host, "/"))

    assert page.inner_text("[data-testid=tenant-name]") == "Acme Outfitters"
    assert page.inner_text("main h1") == "Acme Outfitters"
    screenshot(page, "tenant-home")


def test_member_of_acme_gets_404_page_on_bluebird(page: Page, portal: Portal, world):
    host = world.host(world.bluebird)
    with page.expect_response(portal.url(host, "/")) as home:
        sign_in(page, portal, host=host, email=world.acme_admin.email)

    assert home.value.status == 404
    assert page.inner_text("main h1") == "Page not found"
    assert "Bluebird" not in page.content()
