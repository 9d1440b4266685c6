"""The fulfilment board and the routing-rule editor in a real browser (a sandbox tenant seeded with
the fulfilment demo: a recorded ShipStation connection and orders in every state)."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page

from commerce.models import RoutingRule
from portal.demo.fulfilment import fulfilment_demo_seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def _priority(sandbox: Sandbox, name: str) -> int:
    """Read on a committed connection of its own: a read on the test's connection would hold a lock
    on the sandbox's schema until the test's rollback, after the sandbox's DROP SCHEMA waits for it."""
    with tenant_context(sandbox.tenant):
        return RoutingRule.objects.get(name=name).priority


def test_fulfilment_board_shows_every_state_and_rules_are_edited(
    page: Page, portal: Portal, sandbox: Sandbox, screenshot
):
    def seed() -> None:
        with tenant_context(sandbox.tenant):
            fulfilment_demo_seed(currency="USD")

    committed(seed)
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("link", name="Fulfilment").click()
    page.wait_for_url("**/fulfilment/")
    counts = {
        state: page.locator(f"[data-testid=column-{state}] .board-card").count()
        for state in ("waiting", "sent", "shipped", "acknowledged")
    }
    assert counts == {"waiting": 3, "sent": 1, "shipped": 1, "acknowledged": 2}
    assert page.locator("[data-testid=cycle-median]").inner_text().endswith(" h")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
    data = page.evaluate("() => Chart.getChart(document.querySelector('canvas[data-chart]')).data.datasets[0].data")
    assert data == [3, 1, 1, 2]
    screenshot(page, "fulfilment-board")

    page.get_by_role("link", name="Routing rules").click()
    page.wait_for_url("**/fulfilment/rules/")
    assert page.locator("[data-testid=routing-rules] tbody tr").count() == 2
    page.get_by_role("link", name="Overflow from the Soho store").click()
    page.fill("#id_priority", "5")
    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/fulfilment/rules/")
    first = page.locator("[data-testid=routing-rules] tbody tr").first
    assert "Overflow from the Soho store" in first.inner_text()
    assert committed(lambda: _priority(sandbox, "Overflow from the Soho store")) == 5
