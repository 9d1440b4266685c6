"""The redemption and claims API (issue 20): the report per channel and version, the CSV, a claim
made once per period, receipts, and another tenant or a viewer kept out."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from promotions.models import ClaimReceipt, VendorClaim
from tenants import services as tenant_services
from tenants.models import Membership
from tests.promotions.redeemed import redeemed
from tests.promotions.test_api import SessionApi


@pytest.fixture
def case(world, channels, throttle_reset):
    with tenant_context(world.acme):
        built = redeemed(world)
    return built, SessionApi(world.host(world.acme), world.acme_admin)


def test_the_report_per_channel_and_version(world, case):
    built, api = case
    response = api.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/?start=2026-03-14&end=2026-03-16")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["start"], body["end"], body["zone"]) == ("2026-03-14", "2026-03-16", "America/New_York")
    assert [
        (r["channel"], r["version"], r["orders"], r["units"], r["discount"], r["vendor_funded"]) for r in body["rows"]
    ] == [
        ("Web store", 1, 2, 2, "20.0000", "6.0000"),
        ("Web store", 2, 1, 2, "10.0000", "5.0000"),
        ("Outlet store", 1, 1, 1, "10.0000", "3.0000"),
        ("Outlet store", 2, 1, 1, "10.0000", "5.0000"),
    ]
    assert body["totals"] == [
        {"currency": "USD", "orders": 5, "units": 6, "discount": "50.0000", "vendor_funded": "19.0000"}
    ]
    bad = api.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/?start=2026-03-16&end=2026-03-14")
    assert (bad.status_code, bad.json()["error"]["details"]) == (400, {"end": ["The end is before the start."]})
    far = api.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/?start=9999-12-30&end=9999-12-31")
    assert (far.status_code, far.json()["error"]["details"]) == (
        400,
        {"start": ["A day from 2000-01-01 to 2100-12-31."]},
    )
    only_end = api.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/?end=2026-03-16").json()
    assert (only_end["start"], only_end["totals"][0]["orders"]) == ("2026-02-15", 5)


def test_the_csv_of_a_range(world, case):
    built, api = case
    response = api.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions.csv?start=2026-03-16&end=2026-03-16")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().splitlines() == [
        "order,placed_on,channel,promotion,version,skus,units,discount,vendor_funded,currency",
        "W3,2026-03-16,Web store,boots-10,2,BOOT-BRN,2,10.0000,5.0000,USD",
        "O2,2026-03-16,Outlet store,boots-10,2,BOOT-BRN,1,10.0000,5.0000,USD",
    ]


def test_a_claim_twice_is_one_claim_and_receipts_leave_the_outstanding(world, case):
    built, api = case
    url = f"/api/v1/promotions/{built.promotion.pk}/claims/"
    first = api.post(url, {"period_start": "2026-03-14", "period_end": "2026-03-16"})
    assert first.status_code == 201, first.json()
    (claim,) = first.json()["claims"]
    assert (first.json()["created"], claim["claimed"], claim["received"], claim["outstanding"], claim["orders"]) == (
        True,
        "19.0000",
        "0.0000",
        "19.0000",
        5,
    )
    again = api.post(url, {"period_start": "2026-03-14", "period_end": "2026-03-16"})
    assert (again.status_code, again.json()["created"], again.json()["claims"][0]["id"]) == (200, False, claim["id"])
    overlap = api.post(url, {"period_start": "2026-03-10", "period_end": "2026-03-14"})
    assert (overlap.status_code, overlap.json()["error"]["details"]) == (
        400,
        {"period_start": ["The period overlaps the claim of 2026-03-14 to 2026-03-16."]},
    )
    receipt = api.post(f"{url}{claim['id']}/receipts/", {"amount": "15.00", "received_on": "2026-04-20"})
    assert receipt.status_code == 201, receipt.json()
    assert (receipt.json()["received"], receipt.json()["outstanding"]) == ("15.0000", "4.0000")
    too_much = api.post(f"{url}{claim['id']}/receipts/", {"amount": "4.01", "received_on": "2026-04-21"})
    assert (too_much.status_code, too_much.json()["error"]["details"]) == (
        400,
        {"amount": ["More than the 4.00 USD outstanding."]},
    )
    listed = api.get(url).json()
    assert [(c["claimed"], c["received"], c["outstanding"]) for c in listed] == [("19.0000", "15.0000", "4.0000")]
    exported = api.get(f"{url}{claim['id']}/export.csv")
    assert exported.status_code == 200
    assert (
        exported.content.decode().splitlines()[1] == "W1,2026-03-14,Web store,boots-10,1,BOOT-BRN,1,10.0000,3.0000,USD"
    )
    assert api.get(url).json()[0]["exported_at"] is not None
    with tenant_context(world.acme):
        assert (VendorClaim.objects.count(), ClaimReceipt.objects.count()) == (1, 1)


def test_a_viewer_reads_but_cannot_claim_and_another_tenant_sees_nothing(world, case):
    built, api = case
    url = f"/api/v1/promotions/{built.promotion.pk}/claims/"
    claim = api.post(url, {"period_start": "2026-03-14", "period_end": "2026-03-16"}).json()["claims"][0]
    viewer_user = tenant_services.user_create(email="viewer@acme.test", password="x" * 16, name="V", verified=True)
    tenant_services.membership_grant(user=viewer_user, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    viewer = SessionApi(world.host(world.acme), viewer_user)
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"period_start": "2026-03-01", "period_end": "2026-03-02"}).status_code == 403
    assert (
        viewer.post(f"{url}{claim['id']}/receipts/", {"amount": "1.00", "received_on": "2026-04-01"}).status_code == 403
    )
    outsider = SessionApi(world.host(world.acme), world.cedar_admin)
    assert outsider.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/").status_code == 404
    neighbour = SessionApi(world.host(world.bluebird), world.bluebird_admin)
    assert neighbour.get(f"/api/v1/promotions/{built.promotion.pk}/redemptions/").status_code == 404
    assert neighbour.get(f"{url}{claim['id']}/export.csv").status_code == 404
    with tenant_context(world.acme):
        assert ClaimReceipt.objects.count() == 0
