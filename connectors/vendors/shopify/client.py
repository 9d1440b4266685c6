"""Shopify's Admin REST API client: where a connection's calls go, with which credentials, and the
extra reads an event needs before it is normalised (an order's transactions, an item's SKU)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from connectors.models import Connection
from connectors.vendors.common import config_url_problem
from core.http import netsafety
from core.http.client import UnsafeUrl, VendorClient

API_VERSION = "2025-07"
SHOP_DOMAIN = netsafety.SHOPIFY_SHOP_DOMAIN
API_VERSION_FORMAT = re.compile(r"^(\d{4}-\d{2}|unstable)$")


def config_validate(config: Mapping[str, Any]) -> None:
    domain = str(config.get("shop_domain") or "")
    if not SHOP_DOMAIN.match(domain):
        raise ValidationError({"config": ["shop_domain must look like your-store.myshopify.com."]})
    api_version = config.get("api_version") or API_VERSION
    if not isinstance(api_version, str) or not API_VERSION_FORMAT.match(api_version):
        raise ValidationError({"config": ["api_version must look like 2025-07."]})
    if config.get("api_base_url"):
        if not settings.CONNECTOR_API_BASE_OVERRIDE:
            raise ValidationError({"config": ["api_base_url is for local simulators and is off here."]})
        problem = config_url_problem(str(config["api_base_url"]))
        if problem:
            raise ValidationError({"config": [f"api_base_url: {problem}"]})


def base_url(connection: Connection) -> str:
    """Checked again here: config saved before these checks existed must not reach the client."""
    if settings.CONNECTOR_API_BASE_OVERRIDE and connection.config.get("api_base_url"):
        # The shared client's guard checks the address it resolves to on every connection.
        url = str(connection.config["api_base_url"]).strip()
        try:
            netsafety.url_shape_check(url)
        except netsafety.UnsafeUrl as error:
            raise UnsafeUrl(error.message) from None
        return url.rstrip("/")
    api_version = connection.config.get("api_version") or API_VERSION
    domain = connection.config.get("shop_domain")
    if not isinstance(domain, str) or not SHOP_DOMAIN.match(domain):
        raise UnsafeUrl("shop_domain must look like your-store.myshopify.com.")
    if not isinstance(api_version, str) or not API_VERSION_FORMAT.match(api_version):
        raise UnsafeUrl("api_version must look like 2025-07.")
    return f"https://{domain}/admin/api/{api_version}"


def client(connection: Connection) -> VendorClient:
    token = connection.credentials.get("access_token", "")
    return VendorClient(
        base_url=base_url(connection),
        connection_id=connection.pk,
        headers={"X-Shopify-Access-Token": token},
        secrets=[token, connection.webhook_secret],
        rate_per_second=2,  # REST leaky bucket: 2 requests/s on standard plans
    )


def connection_test(*, connection: Connection) -> str:
    with client(connection) as api:
        shop = api.get("shop.json")
    shop = (shop or {}).get("shop") or {}
    name, domain, currency = shop.get("name", "?"), shop.get("myshopify_domain", "?"), shop.get("currency", "?")
    return f"Connected to {name} ({domain}), currency {currency}."


def order_transactions(connection: Connection, order_id: str) -> Any:
    """An order's transactions in shop currency (how a gift card and a card split the payment)."""
    with client(connection) as api:
        data = api.get(f"orders/{order_id}/transactions.json", params={"in_shop_currency": "true"})
    return (data or {}).get("transactions") if isinstance(data, dict) else None


def inventory_item_sku(connection: Connection, item_id: str) -> str:
    """`GET inventory_items/{id}.json`: the SKU an inventory webhook does not name."""
    with client(connection) as api:
        item = (api.get(f"inventory_items/{item_id}.json") or {}).get("inventory_item") or {}
    return str(item.get("sku") or "")
