"""Returns API (commerce/api_returns.py): create, list, detail, approve/reject/receive/inspect with
four eyes, 409 on an illegal move, idempotent writes, another tenant's return is 404."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from commerce.models import InventoryLevel, Order, Return
from commerce.returns import return_policy_update
from commerce.services import order_upsert
from tests.commerce.factories import shopify_order


class SessionApi:
    """JSON calls as a signed-in person (approving takes a person, not a key)."""

    def __init__(self, host: str, user) -> None:
        self.client = Client(HTTP_HOST=host)
        self.client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data=None, **headers):
        return self.client.post(path, json.dumps(data or {}), content_type="application/json", headers=headers)


@pytest.fixture
def apis(world, throttle_reset):
    with tenant_context(world.acme):
        order = order_upsert(source="woocommerce", connection_id=3, document=shopify_order()).obj
    host = world.host(world.acme)
    return SessionApi(host, world.acme_admin), SessionApi(host, world.partner_admin), order


def _create(api, order, **extra):
    body = {"order": order.pk, "lines": [{"order_line": "L1", "quantity": 2, "reason": "too small"}], **extra}
    return api.post("/api/v1/returns/", body)


def test_create_list_and_detail(world, apis):
    admin, _partner, order = apis
    created = _create(admin, order, restocking_fee="4.75")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["status"], body["origin"], body["value"], body["restocking_fee"], body["order"]) == (
        "requested",
        "api",
        "95.0000",
        "4.7500",
        "1001",
    )
    assert [(line["order_line"], line["quantity"], line["disposition"]) for line in body["lines"]] == [
        ("L1", 2, "restock")
    ]
    assert [event["action"] for event in body["timeline"]] == ["requested"]
    listed = admin.get("/api/v1/returns/?status=requested").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert admin.get("/api/v1/returns/?status=approved").json()["results"] == []
    assert admin.get("/api/v1/returns/?status=lost").status_code == 400
    assert admin.get(f"/api/v1/returns/{body['id']}/").json()["name"] == f"RMA-{body['id']}"


def test_returns_list_costs_the_same_queries_for_one_return_or_two(world, apis, django_assert_max_num_queries):
    admin, _partner, order = apis
    body = {"order": order.pk, "lines": [{"order_line": "L1", "quantity": 1}]}
    assert admin.post("/api/v1/returns/", body).status_code == 201
    with django_assert_max_num_queries(40) as one:
        admin.get("/api/v1/returns/")
    for_one = len(one.captured_queries)  # read now: the next request clears the connection's query log
    assert admin.post("/api/v1/returns/", body).status_code == 201
    with django_assert_max_num_queries(for_one):
        assert len(admin.get("/api/v1/returns/").json()["results"]) == 2


def test_create_refuses_unknown_lines_and_too_many_units(world, apis):
    admin, _partner, order = apis
    unknown = admin.post("/api/v1/returns/", {"order": order.pk, "lines": [{"order_line": "L9", "quantity": 1}]})
    assert unknown.status_code == 400
    too_many = admin.post("/api/v1/returns/", {"order": order.pk, "lines": [{"order_line": "L1", "quantity": 3}]})
    assert too_many.status_code == 400
    assert admin.post("/api/v1/returns/", {"order": 2**61, "lines": []}).status_code in (400, 404)


def test_four_eyes_then_receive_and_inspect(world, apis):
    admin, partner, order = apis
    with tenant_context(world.acme):
        return_policy_update(second_approval_above=D("50"))
    pk = _create(admin, order).json()["id"]  # 95.00 > 50
    first = admin.post(f"/api/v1/returns/{pk}/approve/")
    assert (first.status_code, first.json()["status"], len(first.json()["approvals"])) == (200, "requested", 1)
    again = admin.post(f"/api/v1/returns/{pk}/approve/")
    assert again.status_code == 403
    assert "second, different person" in again.json()["error"]["message"]
    assert partner.post(f"/api/v1/returns/{pk}/approve/").json()["status"] == "approved"
    line_id = admin.get(f"/api/v1/returns/{pk}/").json()["lines"][0]["id"]
    received = admin.post(f"/api/v1/returns/{pk}/receive/", {"lines": [{"id": line_id, "disposition": "refurbish"}]})
    assert (received.json()["status"], received.json()["lines"][0]["restocked"]) == ("received", "0.000")
    inspected = admin.post(f"/api/v1/returns/{pk}/inspect/", {"lines": [{"id": line_id, "disposition": "restock"}]})
    assert (inspected.json()["status"], inspected.json()["lines"][0]["restocked"]) == ("inspected", "2.000")
    with tenant_context(world.acme):
        assert InventoryLevel.objects.get(sku="TEE-BLK").on_hand == D("2.000")


def test_an_illegal_move_is_409_and_changes_nothing(world, apis):
    admin, _partner, order = apis
    pk = _create(admin, order).json()["id"]
    assert admin.post(f"/api/v1/returns/{pk}/reject/", {"reason": "worn"}).json()["status"] == "rejected"
    refused = admin.post(f"/api/v1/returns/{pk}/receive/")
    assert refused.status_code == 409
    assert "cannot become received" in refused.json()["error"]["message"]
    with tenant_context(world.acme):
        assert Return.objects.get(pk=pk).status == "rejected"


def test_a_write_with_an_idempotency_key_is_done_once(world, apis):
    admin, _partner, order = apis
    body = {"order": order.pk, "lines": [{"order_line": "L3", "quantity": 1}]}
    first = admin.post("/api/v1/returns/", body, **{"Idempotency-Key": "ret-1"})
    second = admin.post("/api/v1/returns/", body, **{"Idempotency-Key": "ret-1"})
    assert (first.status_code, second.status_code, second.json()["id"]) == (201, 201, first.json()["id"])
    with tenant_context(world.acme):
        assert Return.objects.count() == 1


def test_an_api_key_no_person_owns_cannot_approve(world, apis, make_key, api_client):
    admin, _partner, order = apis
    pk = _create(admin, order).json()["id"]
    keyed = api_client(world.host(world.acme), make_key(scopes=["read", "write"], tenant=world.acme))
    refused = keyed.post(f"/api/v1/returns/{pk}/approve/", {})
    assert refused.status_code == 403


def test_another_tenants_return_is_404(world, apis):
    admin, _partner, order = apis
    pk = _create(admin, order).json()["id"]
    outsider = SessionApi(world.host(world.bluebird), world.bluebird_admin)
    assert outsider.get(f"/api/v1/returns/{pk}/").status_code == 404
    with tenant_context(world.acme):
        assert Order.objects.count() == 1
