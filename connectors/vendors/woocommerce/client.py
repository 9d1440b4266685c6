"""WooCommerce's REST API client (wc/v3): the store URL the merchant set (checked against SSRF on
every use), the consumer key and secret, and the reads an event needs before it is normalised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from connectors.models import Connection
from connectors.vendors.common import config_url_problem
from core.http import netsafety
from core.http.client import UnsafeUrl, VendorClient


def config_validate(config: Mapping[str, Any]) -> None:
    problem = config_url_problem(str(config.get("store_url") or ""), base=True)
    if problem:
        raise ValidationError({"config": [f"store_url must be the shop's https:// address: {problem}"]})


def base_url(connection: Connection) -> str:
    """The store URL, checked again where it is used (https unless the dev/test override is on);
    the shared client's guard checks the address it resolves to on every connection."""
    url = str(connection.config.get("store_url") or "").strip()
    try:
        netsafety.url_shape_check(url, https_only=not settings.CONNECTORS_ALLOW_PRIVATE_URLS)
    except netsafety.UnsafeUrl as error:
        raise UnsafeUrl(error.message) from None
    return f"{url.rstrip('/')}/wp-json/wc/v3"


def client(connection: Connection) -> VendorClient:
    key = connection.credentials.get("consumer_key", "")
    secret = connection.credentials.get("consumer_secret", "")
    return VendorClient(
        base_url=base_url(connection),
        connection_id=connection.pk,
        auth=(key, secret),
        secrets=[key, secret, connection.webhook_secret],
        rate_per_second=5,
    )


def connection_test(*, connection: Connection) -> str:
    with client(connection) as api:
        status = api.get("system_status") or {}
    environment = status.get("environment") or {}
    site = environment.get("site_url", connection.config.get("store_url"))
    return f"Connected to {site} (WooCommerce {environment.get('version', '?')})."


def order_refunds(connection: Connection, order_id: str) -> Any:
    """`GET /orders/{id}/refunds`: the refunds an order webhook only lists by id."""
    with client(connection) as api:
        return api.get(f"orders/{order_id}/refunds")
