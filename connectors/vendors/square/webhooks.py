"""Square webhooks: `x-square-hmacsha256-signature` = base64(HMAC-SHA256(signature key,
notification URL + raw body)); the URL is the one registered with Square (config
`notification_url`, else the URL the request arrived at). A saved file may also be an object as
Square's API returns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import WebhookIdentity, WebhookRejected
from connectors.vendors.common import hmac_base64_verify
from connectors.vendors.square.normalise import is_event, saved_object


def webhook_verify(*, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
    notification_url = connection.config.get("notification_url") or url
    hmac_base64_verify(
        headers=headers,
        header="x-square-hmacsha256-signature",
        secret=connection.webhook_secret,
        message=notification_url.encode() + body,
        vendor="Square",
    )


def webhook_identify(*, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
    if not isinstance(payload, dict) or not payload.get("type"):
        raise WebhookRejected("The payload is not a Square event.", status=400)
    data = payload.get("data") or {}
    if not data.get("id"):
        raise WebhookRejected("The event has no data.id.", status=400)
    return WebhookIdentity(topic=str(payload["type"]), external_id=str(data["id"]))


def file_identify(*, topic: str, payload: Any) -> WebhookIdentity:
    """A saved file is a webhook event, or an object as Square's API returns it: an order
    (RetrieveOrder `{"order": …}` or the bare Order), a refund (GetPaymentRefund `{"refund": …}`,
    optionally with its `return_order`), a payout (GetPayout `{"payout": …}` with the
    ListPayoutEntries `payout_entries`)."""
    if is_event(payload):
        return webhook_identify(body=b"", payload=payload, headers={})
    obj = saved_object(payload, topic)
    if not obj.get("id"):
        raise WebhookRejected("The saved object has no id.", status=400)
    return WebhookIdentity(topic=topic, external_id=str(obj["id"]))
