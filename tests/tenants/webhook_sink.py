"""A partner subscribed to every event type, and a check that an event reached it exactly once,
signed as docs/webhooks.md says, with the version and the payload fields docs/events.md shows.
Import the `sink` fixture where an app's test proves its event is emitted."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
import respx

from tenants import webhooks
from tenants.events import EVENT_TYPES
from tenants.models import WebhookDelivery, WebhookSubscription
from tests.tenants.test_webhooks import PUBLIC_URL, receiver_verify

ENVELOPE_FIELDS = {"id", "type", "version", "created", "partner", "data"}


@dataclass
class Sink:
    subscription: WebhookSubscription

    def count(self, event: str) -> int:
        return WebhookDelivery.objects.filter(subscription=self.subscription, event=event).count()

    def received_once(self, event: str) -> dict:
        """Deliver the one delivery of `event`, verify it as a receiver would, return its `data`."""
        [delivery] = WebhookDelivery.objects.filter(subscription=self.subscription, event=event)
        with respx.mock:
            route = respx.post(PUBLIC_URL).mock(return_value=httpx.Response(204))
            webhooks.webhook_delivery_attempt(delivery=delivery)
        request = route.calls.last.request
        assert request.headers[webhooks.EVENT_HEADER] == event
        assert receiver_verify(self.subscription.secret, request.headers[webhooks.SIGNATURE_HEADER], request.content)
        body = json.loads(request.content)
        assert set(body) == ENVELOPE_FIELDS
        assert (body["type"], body["version"], body["partner"]) == (event, EVENT_TYPES[event].version, "northwind")
        assert set(body["data"]) == set(EVENT_TYPES[event].example()), "docs/events.md shows other fields"
        return body["data"]


@pytest.fixture
def sink(world, monkeypatch) -> Sink:
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    subscription = webhooks.webhook_subscription_create(
        partner=world.northwind, url=PUBLIC_URL, events=list(webhooks.EVENTS), actor=None
    )
    return Sink(subscription)
