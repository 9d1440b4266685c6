"""Stripe webhooks: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<raw
body>")>`, any v1 may match (secret rotation), timestamp within 5 minutes. The event envelope's
`type` is the topic and `data.object.id` the external id."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import WebhookIdentity, WebhookRejected

TOLERANCE_SECONDS = 300


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(*, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
    header = headers.get("Stripe-Signature", "")
    secret = connection.webhook_secret
    if not header or not secret:
        raise WebhookRejected("Missing Stripe-Signature.")
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookRejected("Stripe-Signature has no timestamp or v1 signature.")
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRejected("The Stripe signature timestamp is outside the 5 minute tolerance.")
    expected = signature_header(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected.encode(), signature.encode()) for signature in signatures):
        raise WebhookRejected("The Stripe signature does not match.")


def webhook_identify(*, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
    if not isinstance(payload, dict) or payload.get("object") != "event" or not payload.get("type"):
        raise WebhookRejected("The payload is not a Stripe event.", status=400)
    obj = (payload.get("data") or {}).get("object")
    if not isinstance(obj, dict) or not obj.get("id"):
        raise WebhookRejected("The event has no data.object.id.", status=400)
    return WebhookIdentity(topic=str(payload["type"]), external_id=str(obj["id"]))


def file_identify(*, topic: str, payload: Any) -> WebhookIdentity:
    """A saved event, or a bare API object (a charge, refund or payout as `GET /v1/…` returns it)."""
    if isinstance(payload, dict) and payload.get("object") == "event":
        return webhook_identify(body=b"", payload=payload, headers={})
    if (
        not isinstance(payload, dict)
        or payload.get("object") not in ("charge", "refund", "payout")
        or not payload.get("id")
    ):
        raise WebhookRejected("The file is neither a Stripe event nor a charge, refund or payout object.", status=400)
    return WebhookIdentity(topic=topic, external_id=str(payload["id"]))
