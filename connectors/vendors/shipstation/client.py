"""ShipStation V1 REST API client (https://ssapi.shipstation.com): basic auth with the tenant's
API key and secret, through the project's guarded outbound client (core.http.client). ShipStation
allows 40 requests a minute per key; the limiter keeps well under it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.http.client import VendorClient

if TYPE_CHECKING:
    from connectors.models import Connection

API_HOST = "ssapi.shipstation.com"
API_BASE = f"https://{API_HOST}"
PAGE_SIZE = 100


def shipstation_client(connection: Connection) -> VendorClient:
    credentials = connection.credentials
    key, secret = credentials.get("api_key", ""), credentials.get("api_secret", "")
    return VendorClient(
        base_url=API_BASE,
        connection_id=connection.pk,
        auth=(key, secret),
        secrets=[key, secret, connection.webhook_secret],
        rate_per_second=1,
    )


def shipments_list(client: VendorClient, **params: Any) -> dict:
    """`GET /shipments` (with shipment items): {"shipments": [...], "total", "page", "pages"}."""
    return client.get("shipments", params={"includeShipmentItems": "true", "pageSize": PAGE_SIZE, **params}) or {}


def orders_list(client: VendorClient, **params: Any) -> dict:
    """`GET /orders`: {"orders": [...], "total", "page", "pages"}."""
    return client.get("orders", params={"pageSize": PAGE_SIZE, **params}) or {}


def order_create(client: VendorClient, payload: dict) -> dict:
    """`POST /orders/createorder`: creates, or updates the order with the same orderKey."""
    return client.json("POST", "orders/createorder", json=payload) or {}


def stores_list(client: VendorClient) -> list:
    """`GET /stores`: the stores (sales channels) of the ShipStation account."""
    return client.get("stores") or []


def resource_get(client: VendorClient, url: str) -> Any:
    """A webhook's `resource_url` (already checked to be on API_HOST by webhooks.resource_url_check)."""
    return client.get(url)
