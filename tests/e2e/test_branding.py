"""The sign-in page carries the brand of the host it is served on."""

import pytest
from playwright.sync_api import Page

from tenants.brand import DEFAULT_PRIMARY
from tests.e2e.conftest import Portal

pytestmark = pytest.mark.e2e


def _brand_primary(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand-primary').trim()")


def test_login_page_on_northwind_shows_northwind_brand(page: Page, portal: Portal, world, screenshot):
    page.goto(portal.url("northwind.localhost", "/accounts/login/"))

    assert page.inner_text("[data-testid=brand-name]") == "Northwind Commerce Partners"
    assert _brand_primary(page) == "#0E5E6F"
    screenshot(page, "login-northwind")


def test_login_page_on_southpaw_shows_southpaw_brand(page: Page, portal: Portal, world, screenshot):
    page.goto(portal.url("southpaw.localhost", "/accounts/login/"))

    assert page.inner_text("[data-testid=brand-name]") == "Southpaw Digital"
    assert _brand_primary(page) == "#7A1F5C"
    screenshot(page, "login-southpaw")


def test_login_page_on_public_domain_shows_product_brand(page: Page, portal: Portal, world):
    page.goto(portal.url("localhost", "/accounts/login/"))

    assert page.inner_text("[data-testid=brand-name]") == "Tillbridge"
    assert _brand_primary(page) == DEFAULT_PRIMARY
