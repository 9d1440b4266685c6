"""The shell at tablet width and from the keyboard."""

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Portal, sign_in

pytestmark = pytest.mark.e2e

TABLET = {"width": 768, "height": 1024}


@pytest.mark.parametrize("path", ["/", "/exceptions/", "/chart-of-accounts/", "/ledger/"])
def test_tenant_pages_fit_a_tablet_without_sideways_scrolling(page: Page, portal: Portal, world, path):
    host = world.host(world.acme)
    sign_in(page, portal, host=host, email=world.acme_admin.email)
    page.set_viewport_size(TABLET)
    page.goto(portal.url(host, path))
    assert page.locator("main h1").is_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a tablet"


def test_keyboard_user_skips_to_content_and_reaches_the_navigation(page: Page, portal: Portal, world):
    host = world.host(world.acme)
    sign_in(page, portal, host=host, email=world.acme_admin.email)
    page.goto(portal.url(host, "/"))
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main"
    page.goto(portal.url(host, "/"))
    focused = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate(
                "() => [document.activeElement.closest('nav.sidebar') !== null,"
                " document.activeElement.textContent.trim()]"
            )
        )
    sidebar = [text for in_sidebar, text in focused if in_sidebar]
    assert {"Orders", "Exceptions"} <= set(sidebar), focused
