import json

import pytest
from django_tenants.utils import tenant_context

from connectors.models import InboundEvent
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture_bytes, shopify_headers

SECRET = "shopify-app-secret-for-tests"


@pytest.fixture
def shop(world):
    with tenant_context(world.acme):
        return ConnectionFactory(secrets={"webhook_secret": SECRET})


def _post(client, conn, body: bytes, headers: dict, vendor: str = "shopify"):
    return client.post(f"/hooks/{vendor}/{conn.pk}/", data=body, content_type="application/json", **headers)


def test_signed_webhook_is_stored_and_acknowledged_before_processing(
    world, host_client, shop, django_capture_on_commit_callbacks
):
    body = fixture_bytes("shopify", "orders_create.json")
    client = host_client(world.host(world.acme))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, shop, body, shopify_headers(body, SECRET, "orders/create"))
    assert response.status_code == 200
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert response.json() == {"status": "stored", "event": event.pk}
        assert (event.topic, event.external_id, event.status, event.source) == (
            "orders/create",
            "5741329006917",
            "received",
            "webhook",
        )
        assert event.body.encode() == body
        assert event.headers["x-shopify-topic"] == "orders/create"
        assert "x-shopify-hmac-sha256" not in event.headers
    assert len(callbacks) == 2  # on commit: the usage count (Redis), the event's counts and wake-up


def test_duplicate_delivery_is_a_200_no_op(world, host_client, shop, django_capture_on_commit_callbacks):
    body = fixture_bytes("shopify", "orders_create.json")
    client = host_client(world.host(world.acme))
    headers = shopify_headers(body, SECRET, "orders/create")
    first = _post(client, shop, body, headers)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = _post(client, shop, body, headers)
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "event": first.json()["event"]}
    assert callbacks == []
    with tenant_context(world.acme):
        assert InboundEvent.objects.count() == 1


def test_bad_signature_is_401_and_nothing_is_stored(world, host_client, shop):
    body = fixture_bytes("shopify", "orders_create.json")
    headers = shopify_headers(body, "not-the-secret", "orders/create")
    response = _post(host_client(world.host(world.acme)), shop, body, headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "rejected", "message": "The Shopify signature does not match."}}
    tampered = body.replace(b"175.87", b"1.00")
    response = _post(
        host_client(world.host(world.acme)), shop, tampered, shopify_headers(body, SECRET, "orders/create")
    )
    assert response.status_code == 401
    with tenant_context(world.acme):
        assert InboundEvent.objects.count() == 0


def test_unknown_connection_or_vendor_mismatch_is_404(world, host_client, shop):
    body = b"{}"
    client = host_client(world.host(world.acme))
    assert client.post("/hooks/shopify/999999/", data=body, content_type="application/json").status_code == 404
    assert _post(client, shop, body, {}, vendor="stripe").status_code == 404
    assert _post(client, shop, body, {}, vendor="nope").status_code == 404


def test_another_tenants_connection_id_is_404(world, host_client, shop):
    body = fixture_bytes("shopify", "orders_create.json")
    response = _post(
        host_client(world.host(world.bluebird)), shop, body, shopify_headers(body, SECRET, "orders/create")
    )
    assert response.status_code == 404


def test_signed_but_malformed_json_is_400(world, host_client, shop):
    body = b'{"id": 1, '
    response = _post(host_client(world.host(world.acme)), shop, body, shopify_headers(body, SECRET, "orders/create"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_payload_without_an_id_is_400(world, host_client, shop):
    body = json.dumps({"name": "#1"}).encode()
    response = _post(host_client(world.host(world.acme)), shop, body, shopify_headers(body, SECRET, "orders/create"))
    assert (response.status_code, response.json()["error"]["message"]) == (400, "The payload has no id.")


def test_oversized_body_is_413(world, host_client, shop, settings):
    settings.CONNECTOR_WEBHOOK_MAX_BYTES = 1000
    body = json.dumps({"id": 1, "pad": "x" * 2000}).encode()
    response = _post(host_client(world.host(world.acme)), shop, body, shopify_headers(body, SECRET, "orders/create"))
    assert response.status_code == 413


def test_get_is_not_allowed(world, host_client, shop):
    assert host_client(world.host(world.acme)).get(f"/hooks/shopify/{shop.pk}/").status_code == 405
