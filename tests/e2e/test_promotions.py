"""Promotions in a real browser: an author creates, validates and submits; a second person approves
from the queue and publishes; the board shows every channel acknowledged on the published version.

The channels are recording doubles (tests/promotions/fakes.py) registered for the server threads,
and the Celery dispatch is captured so the test plays the worker's part (deployment_send)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, expect

from connectors.models import Connection
from promotions import deployment, launch, tasks
from promotions.models import ChannelDeployment, Promotion, PromotionVersion
from tenants.models import AuditEvent, Tenant, User
from tests.connectors.factories import ConnectionFactory
from tests.e2e.conftest import Portal, committed, sign_in
from tests.promotions.conftest import (
    approved,
    channels,  # noqa: F401 - the recording channel doubles fixture
    promotion,
    send_all,
)
from tests.promotions.test_launch import _stock
from triage.models import Exception as TriageException

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("channels")]
HOST = "acme.northwind.localhost"


def _channels() -> list[int]:
    with tenant_context(Tenant.objects.get(slug="acme")):
        return [
            ConnectionFactory(vendor="shopify", name="Web store").pk,
            ConnectionFactory(vendor="woocommerce", name="Outlet store", config={"store_url": "https://o.test"}).pk,
        ]


def _send(ids: list[int]) -> list[str]:
    with tenant_context(Tenant.objects.get(slug="acme")):
        return [deployment.deployment_send(deployment_id=pk).state for pk in ids]


def _clean() -> None:
    with tenant_context(Tenant.objects.get(slug="acme")):
        ChannelDeployment.objects.all().delete()
        Promotion.objects.update(current_version=None, published_version=None)
        PromotionVersion.objects.all().delete()
        Promotion.objects.all().delete()
        TriageException.objects.filter(kind="promotion_deployment").delete()
        Connection.objects.all().delete()
    AuditEvent.objects.filter(target_type="promotions.promotion").delete()


def test_create_validate_submit_approve_publish(page: Page, portal: Portal, world, screenshot, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(tasks.deployment_send_task, "delay", lambda deployment_id: sent.append(deployment_id))
    committed(_channels)
    try:
        sign_in(page, portal, host=HOST, email=world.acme_admin.email)
        page.goto(portal.url(HOST, "/promotions/"))
        page.get_by_role("link", name="New promotion").click()
        page.fill("#id_key", "spring-tees")
        page.fill("#id_name", "Spring tees 20% off")
        page.select_option("#id_kind", "percent_off")
        page.fill("#id_value", "20")
        page.fill("#id_starts_at", "2030-04-01T09:00")
        page.fill("#id_ends_at", "2030-04-15T23:00")
        page.get_by_label("Web store").check()
        page.get_by_label("Outlet store").check()
        page.fill("#id_skus", "TEE-RED-M, TEE-BLU-M")
        page.fill("#id_pricing", "TEE-RED-M,25,9\nTEE-BLU-M,25,9")
        page.click("[data-testid=save-promotion]")
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Draft")
        page.click("[data-testid=action-validate]")
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Validated")
        expect(page.locator("[data-testid=validation-results]")).to_contain_text("Every rule passed.")
        page.click("[data-testid=action-submit]")
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Submitted")
        page.click("[data-testid=action-approve]")
        expect(page.get_by_role("status")).to_contain_text("another person must approve")
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Submitted")

        page.context.clear_cookies()  # the approver signs in as another person
        sign_in(page, portal, host=HOST, email=world.partner_admin.email)
        page.goto(portal.url(HOST, "/promotions/approvals/"))
        queue = page.locator("[data-testid=approval-queue]")
        expect(queue).to_contain_text("Spring tees 20% off")
        queue.get_by_role("button", name="Approve").click()
        expect(page.locator("body")).to_contain_text("Nothing waits for approval.")
        page.goto(portal.url(HOST, "/promotions/"))
        page.get_by_role("link", name="Spring tees 20% off").click()
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Approved")
        page.click("[data-testid=action-publish]")
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Published")
        expect(page.locator("[data-testid=deployment-board]")).to_contain_text("Pending")
        assert len(sent) == 2
        assert committed(lambda: _send(sent)) == ["acknowledged", "acknowledged"]
        # the board polls while channels are in flight: it turns to acknowledged without a reload
        expect(page.locator("[data-testid=deployment-board]")).not_to_contain_text("Pending", timeout=8000)
        expect(page.locator("[data-testid=deployment-board] .ok")).to_have_count(2)
        page.reload()
        expect(page.locator("[data-testid=promotion-status]")).to_have_text("Live")
        screenshot(page, "promotions-board")
    finally:
        committed(_clean)


def _staged_and_halted(tenant: Tenant, author_email: str, approver_email: str) -> int:
    """A promotion launched in two waves in the sandbox: the web store live, the marketplaces held
    back because the outlet's stock fell below the threshold during the hold."""
    with tenant_context(tenant):
        shop = ConnectionFactory(vendor="shopify", name="Web store")
        woo = ConnectionFactory(vendor="woocommerce", name="Outlet store", config={"store_url": "https://o.test"})
        pos = ConnectionFactory(vendor="square", name="Stores POS", config={"location_ids": ["L1"]})
        _stock("WEB-WH", 40, shop)
        _stock("OUTLET", 2, woo)
        author, approver = User.objects.get(email=author_email), User.objects.get(email=approver_email)
        promo = promotion(
            key="spring-waves",
            author=author,
            channels=[shop, woo, pos],
            eligibility={"skus": ["TEE-RED-M"]},
            pricing={"TEE-RED-M": {"price": "20", "cost": "8"}},
            waves=[[shop.pk], [woo.pk, pos.pk]],
            wave_hold_minutes=60,
            stock_threshold=5,
            budget=Decimal("1500"),
        )
        approved(promo, author=author, approver=approver)
        send_all(deployment.promotion_publish(promotion=promo, actor=approver, dispatch=False)[:1])
        launch.promotions_launch_advance(now=timezone.now() + dt.timedelta(minutes=61))
        return promo.pk


def test_staged_launch_board_shows_the_waves_and_the_halt(page: Page, portal: Portal, world, sandbox, screenshot):
    pk = committed(lambda: _staged_and_halted(sandbox.tenant, sandbox.admin.email, world.partner_admin.email))
    sign_in(page, portal, host=sandbox.host, email=sandbox.admin.email)
    page.goto(portal.url(sandbox.host, "/promotions/board/"))
    board = page.locator("#all-deployments")
    expect(board.locator("[data-testid=wave-1]")).to_contain_text("sent")
    expect(board.locator("[data-testid=wave-2]")).to_contain_text("held")
    expect(board.locator("[data-testid=launch-halted]")).to_contain_text("Outlet store: TEE-RED-M 2 < 5")
    expect(board.locator("[data-testid=budget-bar]")).to_contain_text("spent 0 of a budget of 1500.0000")
    screenshot(page, "promotion-waves")
    page.goto(portal.url(sandbox.host, f"/promotions/{pk}/"))
    expect(page.locator("[data-testid=action-continue]")).to_be_visible()
