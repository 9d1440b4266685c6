"""Outbound webhooks: SSRF refusals, signed deliveries checked by a receiver written from
docs/webhooks.md, retries with backoff, redelivery, and tenant.created on provisioning."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError

from tenants import services, webhooks
from tenants.models import WebhookDelivery, WebhookSubscription
from tenants.tasks import webhook_deliver

PUBLIC_URL = "https://93.184.216.34/hooks/tillbridge"


def receiver_verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Written from docs/webhooks.md, "Verifying the signature", without reading tenants/webhooks.py."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp, signature = parts["t"], parts["v1"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) <= tolerance


@pytest.fixture
def dispatched(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: sent.append(delivery_id))
    return sent


@pytest.fixture
def subscription(world):
    return webhooks.webhook_subscription_create(
        partner=world.northwind, url=PUBLIC_URL, events=["tenant.created", "exception.raised"], actor=None
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://240.0.0.1/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "https://user:pw@93.184.216.34/hook",
        "gopher://93.184.216.34/",
    ],
)
def test_refuses_urls_that_are_not_public_http(world, url):
    with pytest.raises(ValidationError) as error:
        webhooks.webhook_url_validate(url)
    assert list(error.value.message_dict) == ["url"]


def test_refuses_host_names_resolving_to_private_addresses(world, monkeypatch):
    monkeypatch.setattr(webhooks, "_resolve", lambda host: ["93.184.216.34", "10.0.0.5"])
    with pytest.raises(ValidationError):
        webhooks.webhook_url_validate("https://hooks.partner.example/x")
    monkeypatch.setattr(webhooks, "_resolve", lambda host: ["93.184.216.34"])
    assert webhooks.webhook_url_validate("https://hooks.partner.example/x") == "https://hooks.partner.example/x"


def test_private_addresses_allowed_when_configured(world, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert webhooks.webhook_url_validate("http://127.0.0.1:9000/h") == "http://127.0.0.1:9000/h"
    with pytest.raises(ValidationError):
        webhooks.webhook_url_validate("ftp://127.0.0.1/h")


def test_api_refuses_private_webhook_url(world, make_key, api_client):
    client = api_client("northwind.localhost", make_key(scopes=["admin"]))
    response = client.post("/api/v1/webhooks/", {"url": "http://169.254.169.254/", "events": ["tenant.created"]})
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["url"]
    unknown = client.post("/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["tenant.deleted"]})
    assert unknown.status_code == 400
    assert list(unknown.json()["error"]["details"]) == ["events"]


def test_api_creates_subscription_and_shows_secret_once(world, make_key, api_client):
    client = api_client("northwind.localhost", make_key(scopes=["admin"]))
    response = client.post("/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["tenant.created"]})
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert [(w["url"], w["events"], "secret" in w) for w in listed] == [(PUBLIC_URL, ["tenant.created"], False)]
    assert client.delete(f"/api/v1/webhooks/{listed[0]['id']}/").json()["active"] is False


def test_tenant_creation_emits_tenant_created(world, subscription, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_create(partner=world.northwind, slug="hooked", name="Hooked Ltd")
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert dispatched == [delivery.pk]
    assert delivery.event == "tenant.created"
    assert delivery.payload["type"] == "tenant.created"
    assert delivery.payload["data"] == {
        "tenant": {"slug": "hooked", "name": "Hooked Ltd", "domain": "hooked.northwind.localhost", "plan": "starter"}
    }


def test_emit_only_to_subscribed_active_endpoints_of_the_partner(world, subscription, dispatched):
    other = webhooks.webhook_subscription_create(
        partner=world.southpaw, url=PUBLIC_URL, events=["sync.failed"], actor=None
    )
    WebhookSubscription.objects.create(
        partner=world.northwind, url=PUBLIC_URL, events=["sync.failed"], secret="s", active=False
    )
    assert webhooks.webhook_event_emit(partner=world.northwind, event="sync.failed", payload={}) == []
    deliveries = webhooks.webhook_event_emit(partner=world.southpaw, event="sync.failed", payload={"x": 1})
    assert [d.subscription for d in deliveries] == [other]
    with pytest.raises(ValidationError):
        webhooks.webhook_event_emit(partner=world.northwind, event="nope", payload={})


@respx.mock
def test_delivery_is_signed_verifiably_and_recorded(world, subscription, dispatched, monkeypatch):
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda **kwargs: pytest.fail("no retry expected"))
    route = respx.post(PUBLIC_URL).mock(return_value=httpx.Response(204))
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="exception.raised", payload={"id": 7})
    assert webhook_deliver(delivery.pk) == "delivered"
    request = route.calls.last.request
    assert request.headers["X-Tillbridge-Event"] == "exception.raised"
    assert receiver_verify(subscription.secret, request.headers["X-Tillbridge-Signature"], request.content)
    assert not receiver_verify("whsec_wrong", request.headers["X-Tillbridge-Signature"], request.content)
    assert not receiver_verify(subscription.secret, request.headers["X-Tillbridge-Signature"], request.content + b" ")
    assert json.loads(request.content)["data"] == {"id": 7}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        1,
        204,
        "",
    )
    assert delivery.delivered_at is not None and len(delivery.attempt_log) == 1


def test_stale_signature_is_refused_by_the_receiver(world):
    body = b'{"a":1}'
    old = int(time.time()) - 3600
    header = webhooks.webhook_sign(secret="whsec_x", body=body, timestamp=old)
    assert not receiver_verify("whsec_x", header, body)
    assert receiver_verify("whsec_x", header, body, tolerance=4000)


@respx.mock
def test_failures_retry_with_backoff_then_fail_after_eight_attempts(world, subscription, dispatched, monkeypatch):
    queued: list[float] = []
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda kwargs, countdown: queued.append(countdown))
    respx.post(PUBLIC_URL).mock(side_effect=[httpx.Response(500)] * 7 + [httpx.ConnectTimeout("slow")])
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={})
    for _ in range(8):
        webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 8, None)
    assert delivery.last_error.startswith("ConnectTimeout")
    assert [entry["status_code"] for entry in delivery.attempt_log] == [500] * 7 + [None]
    assert len(queued) == 7
    for attempt, delay in enumerate(queued, start=1):
        base = 30 * 2 ** (attempt - 1)
        assert base * 0.8 <= delay <= base * 1.2
    assert webhook_deliver(delivery.pk) == "failed"  # a late duplicate task changes nothing


@respx.mock
def test_redeliver_endpoint_sends_the_event_again(world, subscription, dispatched, make_key, api_client):
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={"n": 1})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)
    client = api_client("northwind.localhost", make_key(scopes=["read", "write"]))
    response = client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202
    again = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert (again.payload, again.status, again.attempts) == (delivery.payload, "pending", 0)
    listed = client.get("/api/v1/webhook-deliveries/?status=failed").json()["results"]
    assert [d["id"] for d in listed] == [delivery.pk]
    other = api_client("southpaw.localhost", make_key(partner=world.southpaw, scopes=["write"]))
    assert other.post(f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver/").status_code == 404


@respx.mock
def test_delivery_recheck_refuses_url_that_became_private(world, subscription, dispatched, monkeypatch):
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda kwargs, countdown: None)
    WebhookSubscription.objects.filter(pk=subscription.pk).update(url="http://10.0.0.8/hook")
    route = respx.post("http://10.0.0.8/hook").mock(return_value=httpx.Response(200))
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={})
    webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert not route.called
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "private" in delivery.last_error


def test_sweeper_resends_deliveries_whose_task_was_lost(world, subscription, dispatched, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import webhook_deliveries_sweep

    sent: list[int] = []
    monkeypatch.setattr(webhook_deliver, "delay", lambda delivery_id: sent.append(delivery_id))
    lost, _fresh, retrying = (
        webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={"n": n})[0]
        for n in range(3)
    )
    long_ago = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=long_ago)
    WebhookDelivery.objects.filter(pk=retrying.pk).update(
        created_at=long_ago, attempts=2, next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    assert webhook_deliveries_sweep() == 1
    assert sent == [lost.pk]
