"""The tenant dashboard draws its charts (Chart.js, vendored) in a real browser."""

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Page

from commerce.models import Order
from commerce.services import order_upsert
from tests.commerce.factories import shopify_order
from tests.e2e.conftest import Portal, committed, sign_in

pytestmark = pytest.mark.e2e


def _seed_orders(tenant) -> None:
    zone = ZoneInfo(tenant.timezone)
    today = timezone.now().astimezone(zone).date()
    with tenant_context(tenant):
        for day in range(6):
            for number in range(day % 3 + 1):
                # Early in the tenant's day, so a run at any hour keeps each order on its own day.
                placed = dt.datetime.combine(today - dt.timedelta(days=day), dt.time(0, 10 + number), tzinfo=zone)
                document = replace(shopify_order(), external_id=f"E2E-{day}-{number}", placed_at=placed, paid_at=placed)
                order_upsert(source="e2e", connection_id=None, document=document)


def _remove_orders(tenant) -> None:
    with tenant_context(tenant):
        Order.objects.filter(source="e2e").delete()


def test_tenant_dashboard_draws_the_activity_chart(page: Page, portal: Portal, world, screenshot):
    committed(lambda: _seed_orders(world.acme))
    try:
        sign_in(page, portal, host=world.host(world.acme), email=world.acme_admin.email)
        page.goto(portal.url(world.host(world.acme), "/"))
        assert page.inner_text("[data-testid=kpi-orders]") == "12"
        page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))")
        points = page.evaluate(
            "() => Chart.getChart(document.querySelector('canvas[data-chart]')).data.datasets[0].data.slice(-6)"
        )
        assert points == [3, 2, 1, 3, 2, 1]
        screenshot(page, "tenant-dashboard")
    finally:
        committed(lambda: _remove_orders(world.acme))
