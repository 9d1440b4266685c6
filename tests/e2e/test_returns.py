"""The returns queue in a real browser: demo returns in every status, the KPIs and the chart, a
status filter, and approving a request from the queue (a plain form, no inline script)."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Page

from commerce.models import Return
from mappings.services import standard_chart_apply
from portal.demo.returns import returns_demo_seed
from tests.e2e.conftest import Portal, Sandbox, committed, sign_in

pytestmark = pytest.mark.e2e


def _seed(sandbox: Sandbox) -> None:
    with tenant_context(sandbox.tenant):
        standard_chart_apply()
        returns_demo_seed(currency="USD", approver=sandbox.admin)


def _status(order: str, sandbox: Sandbox) -> tuple[int, str]:
    """Read on a committed connection of its own: the test's would hold a lock on the sandbox."""
    with tenant_context(sandbox.tenant):
        ret = Return.objects.get(order__external_id=order)
        return ret.pk, ret.status


def test_returns_queue_filters_charts_and_approves(page: Page, portal: Portal, sandbox: Sandbox, screenshot):
    committed(lambda: _seed(sandbox))
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/"))
    page.get_by_role("link", name="Returns").click()
    page.wait_for_url("**/returns/")
    rows = page.locator("[data-testid=returns-table] tbody tr")
    assert rows.count() == 9
    kpis = page.inner_text("[data-testid=return-kpis]")
    assert "Return rate" in kpis and "88.9 %" in kpis and "Warehouse rework" in kpis
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
    data = page.evaluate("() => Chart.getChart(document.querySelector('canvas[data-chart]')).data.datasets[0].data")
    assert data == [2, 1, 1, 1, 1, 1, 1, 1]
    screenshot(page, "returns-queue")

    page.select_option("#status", "requested")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("[data-testid=returns-table] tbody tr").count() == 2
    pk = committed(lambda: _status("DEMO-RMA-1", sandbox)[0])
    page.click(f"[data-testid=approve-{pk}]")
    page.wait_for_url("**/returns/?status=requested")
    assert "approved" in page.inner_text(".messages, [role=status], body")
    assert page.locator("[data-testid=returns-table] tbody tr").count() == 1
    waiting = page.locator("[data-testid=returns-table] tbody tr").first
    assert "needs a second person" in waiting.inner_text()

    page.get_by_role("link", name=waiting.locator("td a").inner_text()).click()
    assert "Requested" in page.inner_text("[data-testid=return-timeline]")
    assert committed(lambda: _status("DEMO-RMA-1", sandbox)) == (pk, "approved")
