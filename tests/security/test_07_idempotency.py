"""Idempotency-Key is scoped by tenant, principal and key (DESIGN.md §7): one partner key sending the
same key and body to two of its tenants makes two writes, never a replay of the other's response."""

from __future__ import annotations

import json

from django_tenants.utils import schema_context

from mappings.models import Account
from tenants.models import IdempotencyRecord

ACCOUNT = {"code": "9871", "name": "Idempotency probe", "type": "asset"}


def _account_ids(schema: str) -> list[int]:
    with schema_context(schema):
        return list(Account.objects.filter(code=ACCOUNT["code"]).values_list("pk", flat=True))


def test_same_partner_key_and_body_on_two_tenants_writes_twice(world, make_key, api_client):
    key = make_key(scopes=["read", "write"], partner=world.northwind)
    acme = api_client(world.host(world.acme), key).post("/api/v1/accounts/", ACCOUNT, HTTP_IDEMPOTENCY_KEY="same")
    bluebird = api_client(world.host(world.bluebird), key).post(
        "/api/v1/accounts/", ACCOUNT, HTTP_IDEMPOTENCY_KEY="same"
    )
    assert (acme.status_code, bluebird.status_code) == (201, 201), bluebird.content
    assert "Idempotent-Replayed" not in bluebird
    acme_ids, bluebird_ids = _account_ids(world.acme.schema_name), _account_ids(world.bluebird.schema_name)
    assert acme_ids == [acme.json()["id"]]
    assert bluebird_ids == [bluebird.json()["id"]]
    records = IdempotencyRecord.objects.filter(key="same").order_by("scope")
    assert [r.scope for r in records] == sorted([world.acme.schema_name, world.bluebird.schema_name])


def test_replay_on_the_same_tenant_returns_the_stored_response_and_writes_once(world, make_key, api_client):
    key = make_key(scopes=["read", "write"], partner=world.northwind)
    client = api_client(world.host(world.acme), key)
    first = client.post("/api/v1/accounts/", ACCOUNT, HTTP_IDEMPOTENCY_KEY="again")
    second = client.post("/api/v1/accounts/", ACCOUNT, HTTP_IDEMPOTENCY_KEY="again")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert len(_account_ids(world.acme.schema_name)) == 1
    assert _account_ids(world.bluebird.schema_name) == []


def test_same_key_different_body_in_the_same_tenant_is_still_422(world, make_key, api_client):
    key = make_key(scopes=["read", "write"], partner=world.northwind)
    client = api_client(world.host(world.acme), key)
    assert client.post("/api/v1/accounts/", ACCOUNT, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    other = client.post("/api/v1/accounts/", {**ACCOUNT, "name": "Changed"}, HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # The same key and changed body on another tenant is a fresh request there, not a mismatch.
    elsewhere = api_client(world.host(world.bluebird), key).post(
        "/api/v1/accounts/", {**ACCOUNT, "name": "Changed"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    assert elsewhere.status_code == 201
    assert "Idempotent-Replayed" not in elsewhere


def test_a_person_is_scoped_by_tenant_too(world, host_client):
    """A partner admin's session on two tenant hosts: two scopes, two writes."""
    responses = [
        host_client(world.host(tenant), world.partner_admin).post(
            "/api/v1/accounts/", json.dumps(ACCOUNT), content_type="application/json", HTTP_IDEMPOTENCY_KEY="person"
        )
        for tenant in (world.acme, world.bluebird)
    ]
    assert [r.status_code for r in responses] == [201, 201]
    assert all("Idempotent-Replayed" not in r for r in responses)
    assert len(_account_ids(world.acme.schema_name)) == 1
    assert len(_account_ids(world.bluebird.schema_name)) == 1
