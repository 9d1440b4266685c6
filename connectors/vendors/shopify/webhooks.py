"""Shopify webhooks: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app client secret, raw body));
the topic in `X-Shopify-Topic`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import WebhookIdentity, WebhookRejected
from connectors.vendors.common import hmac_base64_verify
from connectors.vendors.shopify.normalise import INVENTORY_TOPIC


def webhook_verify(*, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
    secret = connection.webhook_secret
    hmac_base64_verify(headers=headers, header="X-Shopify-Hmac-Sha256", secret=secret, message=body, vendor="Shopify")


def webhook_identify(*, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
    topic = headers.get("X-Shopify-Topic", "")
    if not topic:
        raise WebhookRejected("Missing X-Shopify-Topic.", status=400)
    if topic == INVENTORY_TOPIC and isinstance(payload, dict):
        if payload.get("inventory_item_id") is None or payload.get("location_id") is None:
            raise WebhookRejected("The payload has no inventory_item_id or location_id.", status=400)
        return WebhookIdentity(topic=topic, external_id=f"{payload['inventory_item_id']}:{payload['location_id']}")
    if isinstance(payload, dict) and payload.get("id") is None:
        # A resource as the REST API returns it, wrapped in its name: {"payout": {...}}, {"order": {...}}
        wrapped = next(
            (payload[key] for key in ("payout", "order", "refund") if isinstance(payload.get(key), dict)), None
        )
        if wrapped is not None and wrapped.get("id") is not None:
            return WebhookIdentity(topic=topic, external_id=str(wrapped["id"]))
    if not isinstance(payload, dict) or payload.get("id") is None:
        raise WebhookRejected("The payload has no id.", status=400)
    return WebhookIdentity(topic=topic, external_id=str(payload["id"]))
