"""ShipStation webhooks carry no signature, only `resource_url` and `resource_type`
(https://docs.shipstation.com/apis/shipstation-v1/docs/models/webhook). They are a hint:

- the hook URL carries a per-connection secret token (`/hooks/shipstation/<id>/<token>/`), compared
  in constant time with the connection's stored secret; a wrong or missing token is a 404;
- the body is stored as an InboundEvent like every webhook, then processing fetches
  `resource_url` with the tenant's credentials, only when it is https on ShipStation's API host
  (a URL anywhere else is refused before any request: the event fails with an exception)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.vendors.base import NormaliseError, WebhookIdentity, WebhookRejected
from connectors.vendors.shipstation.client import API_HOST

if TYPE_CHECKING:
    from connectors.models import Connection

RESOURCE_TYPES = ("ORDER_NOTIFY", "ITEM_ORDER_NOTIFY", "SHIP_NOTIFY", "ITEM_SHIP_NOTIFY")
SHIPMENT_TYPES = ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY")
MAX_URL = 2000


def hook_token(url: str) -> str:
    """The token segment of `/hooks/shipstation/<id>/<token>/` ("" on the tokenless route)."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    try:
        index = parts.index("shipstation")
    except ValueError:
        return ""
    rest = parts[index + 1 :]
    return rest[1] if len(rest) >= 2 else ""


def hook_token_check(*, connection: Connection, url: str) -> None:
    given, expected = hook_token(url), connection.webhook_secret
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected("No such hook.", status=404)


def resource_url_check(url: Any) -> str:
    """The resource URL to fetch, or NormaliseError: https, ShipStation's API host, no port or
    credentials. Shipment lists are asked with their items."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise NormaliseError("resource_url: missing or too long.")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname != API_HOST or parts.port is not None or parts.username:
        raise NormaliseError(
            f"resource_url: {parts.scheme}://{parts.hostname or '?'} is not https://{API_HOST}; refused, not fetched."
        )
    query = [(key, value) for key, value in parse_qsl(parts.query) if key.lower() != "includeshipmentitems"]
    if parts.path.rstrip("/").endswith("/shipments") or parts.path.rstrip("/") == "/shipments":
        query.append(("includeShipmentItems", "true"))
    return urlunsplit(("https", API_HOST, parts.path, urlencode(query), ""))


def webhook_identify(*, payload: Any) -> WebhookIdentity:
    if not isinstance(payload, dict):
        raise WebhookRejected("The payload is not a ShipStation webhook.", status=400)
    kind, url = payload.get("resource_type"), payload.get("resource_url")
    if kind not in RESOURCE_TYPES or not isinstance(url, str) or not url:
        raise WebhookRejected("The webhook has no known resource_type or no resource_url.", status=400)
    # The URL names the batch (importBatch / batchId): the same notification stored twice is one event.
    return WebhookIdentity(topic=kind, external_id=hashlib.sha256(url.encode()).hexdigest()[:40])


def is_hook(payload: Mapping[str, Any]) -> bool:
    return "resource_url" in payload and "resource_type" in payload
