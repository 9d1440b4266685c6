"""Idempotency-Key on POST and PATCH: replay, mismatch, in-flight duplicates, expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone

from tenants.models import ApiKey, IdempotencyRecord, Tenant

HOST = "northwind.localhost"
NEW_TENANT = {"slug": "willow", "name": "Willow Wares"}


def test_same_key_same_body_replays_the_first_response(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["write"]))
    first = client.post("/api/v1/tenants/", NEW_TENANT, HTTP_IDEMPOTENCY_KEY="create-willow")
    second = client.post("/api/v1/tenants/", NEW_TENANT, HTTP_IDEMPOTENCY_KEY="create-willow")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Tenant.objects.filter(slug="willow").count() == 1


def test_same_key_different_body_is_422(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["write"]))
    client.post("/api/v1/tenants/", NEW_TENANT, HTTP_IDEMPOTENCY_KEY="k1")
    response = client.post("/api/v1/tenants/", {**NEW_TENANT, "name": "Other"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_same_key_on_another_path_is_422(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["write", "read"]))
    client.post("/api/v1/tenants/acme/suspend/", HTTP_IDEMPOTENCY_KEY="k2")
    response = client.post("/api/v1/tenants/acme/resume/", HTTP_IDEMPOTENCY_KEY="k2")
    assert response.status_code == 422
    assert Tenant.objects.get(slug="acme").status == "suspended"


def test_keys_are_per_principal(world, make_key, api_client):
    one = api_client(HOST, make_key(scopes=["write"]))
    two = api_client(HOST, make_key(scopes=["write"]))
    assert one.post("/api/v1/tenants/", NEW_TENANT, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    response = two.post("/api/v1/tenants/", NEW_TENANT, HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 400  # a fresh request: the slug is now taken
    assert "Idempotent-Replayed" not in response


def test_validation_errors_are_replayed_too(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["write"]))
    first = client.post("/api/v1/tenants/", {"slug": "acme", "name": "Dup"}, HTTP_IDEMPOTENCY_KEY="dup")
    second = client.post("/api/v1/tenants/", {"slug": "acme", "name": "Dup"}, HTTP_IDEMPOTENCY_KEY="dup")
    assert (first.status_code, second.status_code) == (400, 400)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_duplicate_while_the_first_is_in_flight_is_409(world, make_key, api_client):
    key = make_key(scopes=["write"])
    api_key = ApiKey.objects.get(prefix=key[:16])
    body = b'{"slug": "willow", "name": "Willow Wares"}'
    digest = hashlib.sha256(b"POST\0/api/v1/tenants/\0" + body).hexdigest()
    IdempotencyRecord.objects.create(
        principal=f"api-key:{api_key.pk}", key="busy", method="POST", path="/api/v1/tenants/", body_hash=digest
    )
    response = api_client(HOST, key).client.post(
        "/api/v1/tenants/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert not Tenant.objects.filter(slug="willow").exists()


def test_records_expire_after_a_day(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["write", "read"]))
    client.post("/api/v1/tenants/acme/suspend/", HTTP_IDEMPOTENCY_KEY="daily")
    IdempotencyRecord.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    response = client.post("/api/v1/tenants/acme/suspend/", HTTP_IDEMPOTENCY_KEY="daily")
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.filter(key="daily").count() == 1


def test_secrets_are_not_stored_for_replay(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["read", "admin"]))
    first = client.post("/api/v1/api-keys/", {"name": "once", "scopes": ["read"]}, HTTP_IDEMPOTENCY_KEY="key-once")
    second = client.post("/api/v1/api-keys/", {"name": "once", "scopes": ["read"]}, HTTP_IDEMPOTENCY_KEY="key-once")
    assert first.json()["key"].startswith(first.json()["prefix"])
    assert second.json() == {**first.json(), "key": None}
    assert first.json()["key"] not in str(IdempotencyRecord.objects.get(key="key-once").response_body)
    assert ApiKey.objects.filter(name="once").count() == 1


def test_patch_is_idempotent(world, make_key, api_client):
    client = api_client(HOST, make_key(scopes=["admin", "write"]))
    first = client.patch("/api/v1/brand/", {"sender_name": "NW"}, HTTP_IDEMPOTENCY_KEY="brand-1")
    second = client.patch("/api/v1/brand/", {"sender_name": "NW"}, HTTP_IDEMPOTENCY_KEY="brand-1")
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
