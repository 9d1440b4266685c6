"""The redemption page (issue 20): the report and chart over a local range, the timeline on the
promotion page, a claim made once from the page, its CSV, receipts; viewers read but cannot write,
another tenant's member gets 404."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from promotions.models import ClaimReceipt, PromotionPolicy, VendorClaim
from tenants.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.promotions.redeemed import redeemed


@pytest.fixture
def case(world, channels):
    with tenant_context(world.acme):
        return redeemed(world)


def test_the_report_page_shows_the_figures_and_the_chart(world, host_client, case):
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get(f"/promotions/{case.promotion.pk}/redemption/?start=2026-03-14&end=2026-03-16")
    assert page.status_code == 200
    report = page.context["report"]
    assert [(r.channel, r.version, r.orders, str(r.vendor_funded)) for r in report.rows] == [
        ("Web store", 1, 2, "6.0000"),
        ("Web store", 2, 1, "5.0000"),
        ("Outlet store", 1, 1, "3.0000"),
        ("Outlet store", 2, 1, "5.0000"),
    ]
    body = page.content.decode()
    assert 'data-chart="redemption-chart"' in body
    assert "19.00 USD" in body  # the vendor-funded total
    assert client.get(f"/promotions/{case.promotion.pk}/redemption/?start=bogus").status_code == 200


def test_the_promotion_page_links_the_report_and_shows_the_timeline(world, host_client, case):
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get(f"/promotions/{case.promotion.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'href="/promotions/{case.promotion.pk}/redemption/"' in body
    web = next(channel for channel in page.context["timeline"] if channel.channel == "Web store")
    assert [orders for _day, _after, orders in web.days][:7] == [0, 0, 0, 0, 2, 0, 1]
    assert "v2 live" in body


def test_a_claim_from_the_page_is_made_once_then_exported_and_paid(world, host_client, case):
    client = host_client(world.host(world.acme), world.acme_admin)
    url = f"/promotions/{case.promotion.pk}/claims/"
    period = {"period_start": "2026-03-14", "period_end": "2026-03-16"}
    assert client.post(url, period).status_code == 302
    assert client.post(url, period).status_code == 302
    with tenant_context(world.acme):
        claim = VendorClaim.objects.get()
    page = client.get(f"/promotions/{case.promotion.pk}/redemption/")
    assert [str(m) for m in page.context["messages"]] == [
        "Claimed: 19.00 USD for 2026-03-14 to 2026-03-16.",
        "Already claimed: 19.00 USD for 2026-03-14 to 2026-03-16.",
    ]
    exported = client.get(f"{url}{claim.pk}/export.csv")
    assert exported.status_code == 200
    assert exported.content.decode().count("\n") == 6  # the header and five orders
    receipt = {"amount": "10.00", "received_on": "2026-04-20", "reference": "BM-7"}
    assert client.post(f"{url}{claim.pk}/receipts/", receipt).status_code == 302
    page = client.get(f"/promotions/{case.promotion.pk}/redemption/")
    (state,) = page.context["claims"]
    assert (str(state.received), str(state.outstanding)) == ("10.0000", "9.0000")
    assert 'data-testid="claims-outstanding">9.00<' in page.content.decode()


def test_a_viewer_reads_but_cannot_claim_or_record(world, host_client, case):
    viewer = UserFactory(email="viewer@acme.test")
    MembershipFactory(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert client.get(f"/promotions/{case.promotion.pk}/redemption/").status_code == 200
    period = {"period_start": "2026-03-14", "period_end": "2026-03-16"}
    assert client.post(f"/promotions/{case.promotion.pk}/claims/", period).status_code == 403
    with tenant_context(world.acme):
        assert VendorClaim.objects.count() == 0
        assert ClaimReceipt.objects.count() == 0


def test_another_tenants_member_gets_404(world, host_client, case):
    client = host_client(world.host(world.bluebird), world.bluebird_admin)
    assert client.get(f"/promotions/{case.promotion.pk}/redemption/").status_code == 404


def test_the_policy_page_sets_the_days_before_an_underpaid_claim_is_raised(world, host_client, channels):
    finance = host_client(world.host(world.acme), world.acme_admin)
    form = {"min_margin_percent": "", "budget_warn_percents": "80", "stock_hysteresis": "0"}
    assert finance.post("/promotions/policy/", {**form, "claim_overdue_days": "0"}).status_code == 400
    assert finance.post("/promotions/policy/", {**form, "claim_overdue_days": "45"}).status_code == 302
    assert finance.post("/promotions/policy/", form).status_code == 302  # left out: unchanged
    with tenant_context(world.acme):
        assert PromotionPolicy.objects.get().claim_overdue_days == 45
    assert 'value="45"' in finance.get("/promotions/policy/").content.decode()
