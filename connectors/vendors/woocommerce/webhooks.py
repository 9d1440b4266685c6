"""WooCommerce webhooks: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(webhook secret, raw body)),
topic in `X-WC-Webhook-Topic`. A new webhook is pinged with a form body `webhook_id=<n>` and no
signature: answered 200 and not stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import WebhookIdentity, WebhookRejected
from connectors.vendors.common import hmac_base64_verify


def webhook_ping(*, body: bytes, headers: Mapping[str, str]) -> bool:
    return not headers.get("X-WC-Webhook-Topic") and body.startswith(b"webhook_id=")


def webhook_verify(*, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
    secret = connection.webhook_secret
    hmac_base64_verify(
        headers=headers, header="X-WC-Webhook-Signature", secret=secret, message=body, vendor="WooCommerce"
    )


def webhook_identify(*, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
    topic = headers.get("X-WC-Webhook-Topic", "")
    if not topic:
        raise WebhookRejected("Missing X-WC-Webhook-Topic.", status=400)
    if not isinstance(payload, dict) or payload.get("id") is None:
        raise WebhookRejected("The payload has no id.", status=400)
    return WebhookIdentity(topic=topic, external_id=str(payload["id"]))
