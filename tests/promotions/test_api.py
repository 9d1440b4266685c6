"""Promotions API on the tenant's domain: the whole lifecycle, bad input as 4xx, tenant isolation."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from promotions.models import ChannelDeployment, Promotion
from tests.promotions.conftest import sales_channels


class SessionApi:
    """JSON calls as a signed-in person (approving takes a person, not a key)."""

    def __init__(self, host: str, user) -> None:
        self.client = Client(HTTP_HOST=host)
        self.client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data=None):
        return self.client.post(path, json.dumps(data or {}), content_type="application/json")

    def patch(self, path: str, data=None):
        return self.client.patch(path, json.dumps(data or {}), content_type="application/json")


@pytest.fixture
def acme(world, channels, throttle_reset):
    with tenant_context(world.acme):
        shop, woo, pos = sales_channels()
    host = world.host(world.acme)
    return SessionApi(host, world.acme_admin), SessionApi(host, world.partner_admin), (shop, woo, pos)


def _body(scope, **extra):
    return {
        "key": "spring-tees",
        "name": "Spring tees",
        "kind": "percent_off",
        "value": "20",
        "starts_at": "2030-04-01T09:00:00",
        "ends_at": "2030-04-15T23:59:00",
        "channels": [c.pk for c in scope],
        "eligibility": {"skus": ["TEE-RED-M"], "min_spend": "30"},
        "pricing": {"TEE-RED-M": {"price": "25.00", "cost": "9.00"}},
        **extra,
    }


def test_create_validate_submit_approve_publish_over_the_api(world, acme, channels):
    author, approver, (shop, woo, _pos) = acme
    created = author.post("/api/v1/promotions/", _body([shop, woo]))
    assert created.status_code == 201, created.json()
    promo = created.json()
    assert (promo["status"], promo["current_version"]["number"], promo["current_version"]["starts_at"]) == (
        "draft",
        1,
        "2030-04-01T09:00:00-04:00",
    )
    assert promo["current_version"]["eligibility"]["min_spend"] == "30.0000"
    base = f"/api/v1/promotions/{promo['id']}"
    validated = author.post(f"{base}/validate/")
    assert (validated.status_code, validated.json()["promotion"]["status"]) == (200, "validated")
    assert validated.json()["validation"]["ok"] is True
    assert author.post(f"{base}/submit/").json()["promotion"]["status"] == "submitted"
    approved = approver.post(f"{base}/approve/")
    assert (approved.status_code, approved.json()["promotion"]["status"]) == (200, "approved")
    published = approver.post(f"{base}/publish/")
    assert published.status_code == 200
    assert [(d["channel"]["name"], d["state"], d["version"]) for d in published.json()["deployments"]] == [
        ("Web store", "pending", 1),
        ("Outlet store", "pending", 1),
    ]
    listing = author.get("/api/v1/promotions/?status=published").json()
    assert [row["key"] for row in listing["results"]] == ["spring-tees"]
    deployments = author.get(f"/api/v1/promotions/deployments/?promotion={promo['id']}").json()
    assert len(deployments["results"]) == 2
    detail = author.get(f"{base}/").json()
    assert [(a["channel"], a["stale"]) for a in detail["alignment"]] == [("Web store", True), ("Outlet store", True)]
    assert author.get("/api/v1/promotions/kpis/").json()["channels_targeted"] == 2


def test_edit_makes_a_new_version(world, acme):
    author, _approver, (shop, _woo, _pos) = acme
    promo = author.post("/api/v1/promotions/", _body([shop])).json()
    edited = author.patch(f"/api/v1/promotions/{promo['id']}/", {"value": "25", "name": "Spring tees 25"})
    assert edited.status_code == 200
    body = edited.json()
    assert (body["name"], body["current_version"]["number"], body["current_version"]["value"]) == (
        "Spring tees 25",
        2,
        "25.0000",
    )
    assert [v["number"] for v in body["versions"]] == [2, 1]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ends_at": "2030-03-01T00:00:00"}, "ends_at", "The window must end after it starts."),
        ({"kind": "half_off"}, "kind", '"half_off" is not a valid choice.'),
        ({"channels": [987654]}, "channels", "No sales channel with id 987654."),
        ({"value": "abc"}, "value", "A valid number is required."),
        ({"surprise": 1}, "surprise", "Unknown field."),
    ],
)
def test_bad_input_is_a_400_that_says_why(world, acme, change, field, message):
    author, _approver, (shop, _woo, _pos) = acme
    response = author.post("/api/v1/promotions/", _body([shop], **change))
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert message in str(details[field])
    with tenant_context(world.acme):
        assert Promotion.objects.count() == 0


def test_illegal_transitions_and_self_approval_are_4xx(world, acme):
    author, approver, (shop, _woo, _pos) = acme
    promo = author.post("/api/v1/promotions/", _body([shop])).json()
    base = f"/api/v1/promotions/{promo['id']}"
    early = approver.post(f"{base}/publish/")
    assert early.status_code == 400
    assert early.json()["error"]["details"] == {
        "status": ["Only an approved version can be published; version 1 is draft."]
    }
    author.post(f"{base}/validate/")
    author.post(f"{base}/submit/")
    own = author.post(f"{base}/approve/")
    assert own.status_code == 403
    assert own.json()["error"]["message"] == "You wrote this version, so another person must approve or reject it."
    no_reason = approver.post(f"{base}/reject/", {"reason": ""})
    assert no_reason.status_code == 400
    assert approver.post(f"{base}/reject/", {"reason": "Too deep"}).json()["promotion"]["status"] == "rejected"
    assert approver.post(f"{base}/pause/", {"channels": [shop.pk]}).status_code == 400
    with tenant_context(world.acme):
        assert ChannelDeployment.objects.count() == 0


def test_an_api_key_cannot_approve(world, acme, make_key, api_client):
    author, _approver, (shop, _woo, _pos) = acme
    promo = author.post("/api/v1/promotions/", _body([shop])).json()
    base = f"/api/v1/promotions/{promo['id']}"
    author.post(f"{base}/validate/")
    author.post(f"{base}/submit/")
    api = api_client(world.host(world.acme), make_key(tenant=world.acme, scopes=["read", "write"]))
    response = api.post(f"{base}/approve/")
    assert response.status_code == 403
    assert "takes a person" in response.json()["error"]["message"]


def test_unknown_promotion_and_status_filter(world, acme):
    author, _approver, _channels = acme
    assert author.get("/api/v1/promotions/999999/").status_code == 404
    assert author.post("/api/v1/promotions/999999/validate/").status_code == 404
    assert author.get("/api/v1/promotions/?status=bogus").status_code == 400


def test_another_tenant_cannot_see_or_act_on_promotions(world, acme, host_client):
    author, _approver, (shop, _woo, _pos) = acme
    promo = author.post("/api/v1/promotions/", _body([shop])).json()
    outsider = SessionApi(world.host(world.acme), world.cedar_admin)
    assert outsider.get("/api/v1/promotions/").status_code == 404
    assert outsider.get(f"/api/v1/promotions/{promo['id']}/").status_code == 404
    assert outsider.post(f"/api/v1/promotions/{promo['id']}/validate/").status_code == 404
    neighbour = SessionApi(world.host(world.bluebird), world.bluebird_admin)
    assert neighbour.get("/api/v1/promotions/").json()["results"] == []
    assert neighbour.get(f"/api/v1/promotions/{promo['id']}/").status_code == 404


def test_waves_fallback_launch_and_budget_over_the_api(world, acme, django_capture_on_commit_callbacks):
    author, approver, (shop, woo, _pos) = acme
    body = _body([shop, woo], waves=[[shop.pk], [woo.pk]], wave_hold_minutes=30, fallback="pause_all", budget="500")
    assert author.post("/api/v1/promotions/", {**body, "waves": [["x"]]}).status_code == 400
    assert author.post("/api/v1/promotions/", {**body, "fallback": "shrug"}).status_code == 400
    created = author.post("/api/v1/promotions/", body)
    assert created.status_code == 201, created.json()
    version = created.json()["current_version"]
    assert (version["waves"], version["wave_hold_minutes"], version["fallback"]) == (
        [[shop.pk], [woo.pk]],
        30,
        "pause_all",
    )
    base = f"/api/v1/promotions/{created.json()['id']}"
    bad = author.patch(f"{base}/", {"waves": [[shop.pk, woo.pk], [woo.pk]]})
    assert bad.status_code == 200  # the shape is fine; the rule check says what is wrong
    problems = author.post(f"{base}/validate/").json()["validation"]["errors"]
    assert [(e["rule"], e["message"]) for e in problems] == [("waves", f"Channel(s) in more than one wave: {woo.pk}.")]
    author.patch(f"{base}/", {"waves": [[shop.pk], [woo.pk]]})
    author.post(f"{base}/validate/")
    author.post(f"{base}/submit/")
    approver.post(f"{base}/approve/")
    with django_capture_on_commit_callbacks():
        published = approver.post(f"{base}/publish/").json()
    assert [(d["channel"]["name"], d["state"], d["wave"]) for d in published["deployments"]] == [
        ("Web store", "pending", 0),
        ("Outlet store", "waiting", 1),
    ]
    assert published["promotion"]["launch"] == {"state": "running", "wave": 0, "halted_reason": ""}
    detail = author.get(f"{base}/").json()
    assert detail["budget"] == {
        "spent": "0.0000",
        "discount": "0.0000",
        "vendor_funded": "0.0000",
        "redemptions": 0,
        "budget": "500.0000",
        "usage_limit": None,
        "percent": 0.0,
        "reached_at": None,
    }
    refused = approver.post(f"{base}/continue/")
    assert refused.status_code == 400
    assert "Only a halted launch can be continued" in json.dumps(refused.json())
