"""Promotion pages: every page renders, the editor creates a version in the tenant timezone, actions
answer with messages, viewers cannot act, and another tenant's member gets 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from promotions import launch
from promotions.models import Promotion, PromotionPolicy
from tenants.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.promotions.conftest import promotion, published, sales_channels
from tests.promotions.test_launch import _staged, _stock


@pytest.fixture
def acme_promo(world, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        promo = published(
            promotion(author=world.acme_admin, channels=[shop, woo]),
            author=world.acme_admin,
            approver=world.partner_admin,
        )
    return promo, (shop, woo, pos)


def test_every_page_renders(world, host_client, acme_promo):
    promo, _ = acme_promo
    client = host_client(world.host(world.acme), world.acme_admin)
    for url in (
        "/promotions/",
        "/promotions/?status=live",
        "/promotions/calendar/",
        "/promotions/calendar/?month=2030-02",
        "/promotions/calendar/?month=bogus",
        "/promotions/new/",
        "/promotions/approvals/",
        "/promotions/board/",
        f"/promotions/{promo.pk}/",
        f"/promotions/{promo.pk}/edit/",
        f"/promotions/{promo.pk}/board/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/promotions/{promo.pk}/").content.decode()
    assert 'data-testid="deployment-board"' in page and "Aligned" in page
    assert 'href="/promotions/"' in client.get("/").content.decode()


def test_editor_creates_a_draft_in_the_tenant_timezone(world, host_client, channels):
    with tenant_context(world.acme):
        shop, _woo, _pos = sales_channels()
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/promotions/new/",
        {
            "key": "summer",
            "name": "Summer",
            "kind": "percent_off",
            "value": "15",
            "starts_at": "2030-07-01T09:00",
            "ends_at": "2030-07-10T09:00",
            "channels": [shop.pk],
            "skus": "TEE-RED-M, TEE-BLU-M",
            "stacking": "exclusive",
            "priority": "0",
            "funding": "merchant",
            "funding_share": "100",
            "pricing": "TEE-RED-M,20,8",
        },
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        version = Promotion.objects.get(key="summer").current_version
        assert version.starts_at.isoformat() == "2030-07-01T13:00:00+00:00"
        assert version.eligibility["skus"] == ["TEE-RED-M", "TEE-BLU-M"]
        assert version.pricing == {"TEE-RED-M": {"price": "20", "cost": "8"}}


def test_editor_refuses_an_inverted_window(world, host_client, channels):
    with tenant_context(world.acme):
        shop, _woo, _pos = sales_channels()
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/promotions/new/",
        {
            "key": "bad",
            "name": "Bad",
            "kind": "percent_off",
            "value": "15",
            "starts_at": "2030-07-10T09:00",
            "ends_at": "2030-07-01T09:00",
            "channels": [shop.pk],
            "stacking": "exclusive",
            "priority": "0",
            "funding": "merchant",
            "funding_share": "100",
        },
    )
    assert response.status_code == 400
    assert "The window must end after it starts." in response.content.decode()


def test_self_approval_on_the_page_is_a_message_and_changes_nothing(world, host_client, channels):
    with tenant_context(world.acme):
        promo = promotion(author=world.acme_admin, channels=sales_channels()[:1])
    client = host_client(world.host(world.acme), world.acme_admin)
    client.post(f"/promotions/{promo.pk}/validate/")
    client.post(f"/promotions/{promo.pk}/submit/")
    response = client.post(f"/promotions/{promo.pk}/approve/", follow=True)
    assert "another person must approve" in response.content.decode()
    with tenant_context(world.acme):
        assert Promotion.objects.get(pk=promo.pk).status == "submitted"
    partner = host_client(world.host(world.acme), world.partner_admin)
    partner.post(f"/promotions/{promo.pk}/approve/", {"next": "approvals"})
    with tenant_context(world.acme):
        assert Promotion.objects.get(pk=promo.pk).status == "approved"


def test_pause_one_channel_from_the_board(world, host_client, acme_promo):
    promo, (shop, _woo, _pos) = acme_promo
    client = host_client(world.host(world.acme), world.acme_admin)
    client.post(f"/promotions/{promo.pk}/pause/", {"channel": shop.pk})
    with tenant_context(world.acme):
        assert Promotion.objects.get(pk=promo.pk).status == "partially_live"


def test_viewer_reads_but_cannot_act(world, host_client, acme_promo):
    promo, _ = acme_promo
    viewer = UserFactory(email="viewer@acme.test")
    MembershipFactory(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert client.get(f"/promotions/{promo.pk}/").status_code == 200
    assert client.post(f"/promotions/{promo.pk}/pause/").status_code == 403
    assert client.get("/promotions/new/").status_code == 403


def test_another_tenants_member_gets_404(world, host_client, acme_promo):
    promo, _ = acme_promo
    outsider = host_client(world.host(world.acme), world.cedar_admin)
    for url in ("/promotions/", f"/promotions/{promo.pk}/", "/promotions/board/"):
        assert outsider.get(url).status_code == 404
    neighbour = host_client(world.host(world.bluebird), world.bluebird_admin)
    assert neighbour.get(f"/promotions/{promo.pk}/").status_code == 404


def test_detail_offers_only_the_transitions_that_apply_now(world, host_client, channels):
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        shop, woo, _pos = sales_channels()
        draft = promotion(author=world.acme_admin, channels=[shop, woo])
    page = client.get(f"/promotions/{draft.pk}/").content.decode()
    assert 'data-testid="action-validate"' in page
    assert not any(f'data-testid="action-{name}"' in page for name in ("submit", "approve", "reject", "publish"))
    assert "Pause all" not in page and "Roll back all" not in page
    with tenant_context(world.acme):
        live = published(draft, author=world.acme_admin, approver=world.partner_admin)
    page = client.get(f"/promotions/{live.pk}/").content.decode()
    assert not any(f'data-testid="action-{name}"' in page for name in ("validate", "submit", "approve", "publish"))
    assert "Pause all" in page and "Roll back all" in page


def test_the_editor_saves_waves_by_channel_name_and_the_fallback_policy(world, host_client, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
    client = host_client(world.host(world.acme), world.acme_admin)
    form = {
        "key": "staged",
        "name": "Staged",
        "kind": "percent_off",
        "value": "15",
        "starts_at": "2030-07-01T09:00",
        "channels": [shop.pk, woo.pk, pos.pk],
        "stacking": "exclusive",
        "priority": "0",
        "funding": "merchant",
        "funding_share": "100",
        "fallback": "pause_all",
        "waves": "web store\nOutlet store, Stores POS",
        "wave_hold_minutes": "30",
    }
    assert client.post("/promotions/new/", {**form, "waves": "Web store\nNo such shop"}).status_code == 400
    assert client.post("/promotions/new/", form).status_code == 302
    with tenant_context(world.acme):
        version = Promotion.objects.get(key="staged").current_version
        assert (version.waves, version.wave_hold_minutes, version.fallback) == (
            [[shop.pk], [woo.pk, pos.pk]],
            30,
            "pause_all",
        )
    page = client.get(f"/promotions/{version.promotion_id}/edit/").content.decode()
    assert "Web store\nOutlet store, Stores POS</textarea>" in page


def test_the_board_shows_the_budget_the_waves_and_a_halted_launch(world, host_client, channels):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
        _stock("WEB-WH", 20, shop)
        _stock("OUTLET", 3, woo)
        promo = _staged(world, shop=shop, woo=woo, pos=pos, stock_threshold=5, budget=Decimal("500"))
        launch.promotions_launch_advance(now=timezone.now() + dt.timedelta(minutes=61))
    client = host_client(world.host(world.acme), world.acme_admin)
    for url in ("/promotions/board/", f"/promotions/{promo.pk}/"):
        page = client.get(url).content.decode()
        assert 'data-testid="budget-bar"' in page and "spent 0 of a budget of 500.0000" in page
        assert 'data-testid="wave-1"' in page and 'data-testid="wave-2"' in page
        assert '<span class="badge wave-held">held</span>' in page
        assert "Halted: stock below the threshold — Outlet store: TEE-RED-M 3 &lt; 5" in page
    assert 'data-testid="action-continue"' in client.get(f"/promotions/{promo.pk}/").content.decode()
    client.post(f"/promotions/{promo.pk}/continue/")
    with tenant_context(world.acme):
        assert Promotion.objects.get(pk=promo.pk).launch_state == "running"


def test_the_policy_page_is_changed_by_a_finance_approver_only(world, host_client, channels):
    form = {"min_margin_percent": "25", "budget_warn_percents": "80, 95", "stock_hysteresis": "2"}
    partner = host_client(world.host(world.acme), world.partner_admin)
    assert partner.get("/promotions/policy/").status_code == 200
    assert partner.post("/promotions/policy/", form).status_code == 403
    finance = host_client(world.host(world.acme), world.acme_admin)
    assert finance.post("/promotions/policy/", {**form, "budget_warn_percents": "eighty"}).status_code == 400
    assert finance.post("/promotions/policy/", form).status_code == 302
    with tenant_context(world.acme):
        policy = PromotionPolicy.objects.get()
        assert (policy.min_margin_percent, policy.budget_warn_percents, policy.stock_hysteresis) == (
            Decimal("25"),
            [80, 95],
            2,
        )
    assert host_client(world.host(world.acme), world.cedar_admin).get("/promotions/policy/").status_code == 404
