"""Square's API client (version 2025-07-16): where a connection's calls go, with which credentials,
and the reads an event needs before it is normalised (an order, a payout's entries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from connectors.models import Connection
from connectors.vendors.base import NormaliseError
from core.http.client import VendorClient

API_VERSION = "2025-07-16"
BASES = {"production": "https://connect.squareup.com/v2", "sandbox": "https://connect.squareupsandbox.com/v2"}


def config_validate(config: Mapping[str, Any]) -> None:
    environment = config.get("environment", "production")
    if not isinstance(environment, str) or environment not in BASES:
        raise ValidationError({"config": ["environment must be production or sandbox."]})
    locations = config.get("location_ids", [])
    if not isinstance(locations, list) or not all(isinstance(item, str) for item in locations):
        raise ValidationError({"config": ["location_ids must be a list of Square location ids."]})


def client(connection: Connection) -> VendorClient:
    token = connection.credentials.get("access_token", "")
    return VendorClient(
        base_url=BASES[connection.config.get("environment", "production")],
        connection_id=connection.pk,
        headers={"Authorization": f"Bearer {token}", "Square-Version": API_VERSION},
        secrets=[token, connection.webhook_secret, connection.credentials.get("refresh_token", "")],
        rate_per_second=10,
    )


def connection_test(*, connection: Connection) -> str:
    with client(connection) as api:
        data = api.get("locations") or {}
    names = ", ".join(f"{loc.get('name')} ({loc.get('id')})" for loc in data.get("locations") or [])
    return f"Connected to Square; locations: {names or 'none'}."


def order_get(connection: Connection, order_id: str) -> Any:
    """`GET /v2/orders/{id}`: the order (webhooks carry only its id and version)."""
    with client(connection) as api:
        return (api.get(f"orders/{order_id}") or {}).get("order")


def payout_entries_get(connection: Connection, payout_id: str) -> list[dict]:
    with client(connection) as api:
        return payout_entries(api, payout_id)


def payout_entries(client: VendorClient, payout_id: str) -> list[dict]:
    entries: list[dict] = []
    params: dict[str, Any] = {"limit": 100}
    seen: set[str] = set()
    while True:
        data = client.get(f"payouts/{payout_id}/payout-entries", params=params) or {}
        page = data.get("payout_entries") or []
        if not isinstance(page, list):
            raise NormaliseError(f"Payout {payout_id}: payout_entries is not a list.")
        entries.extend(page)
        cursor = data.get("cursor")
        if not cursor:
            return entries
        if cursor in seen or not page:  # a cursor that does not move on would page forever
            raise NormaliseError(f"Payout {payout_id}: Square returned the entries cursor {cursor!r} again.")
        seen.add(cursor)
        params["cursor"] = cursor


def _variation_entries(objects: Any) -> dict[str, tuple[str, str]]:
    """{variation id: (SKU, name)} of a catalog answer's ITEM_VARIATION objects ("" when it has no SKU)."""
    if not isinstance(objects, list):
        raise NormaliseError("Square's catalog answer has no `objects` list.")
    found = {}
    for item in objects:
        if not isinstance(item, dict) or item.get("type") != "ITEM_VARIATION" or item.get("is_deleted"):
            continue
        data = item.get("item_variation_data") or {}
        found[str(item.get("id") or "")] = (str(data.get("sku") or "").strip(), str(data.get("name") or ""))
    return found


def catalog_variations(connection: Connection, variation_ids: list[str]) -> dict[str, tuple[str, str]]:
    """`POST /v2/catalog/batch-retrieve`: the SKU and name of each item variation asked for (ids
    Square does not know are absent from the answer)."""
    found: dict[str, tuple[str, str]] = {}
    with client(connection) as api:
        for start in range(0, len(variation_ids), 1000):  # Square's batch limit
            data = api.json("POST", "catalog/batch-retrieve", json={"object_ids": variation_ids[start : start + 1000]})
            found.update(_variation_entries((data or {}).get("objects", [])))
    return found


def catalog_variations_all(connection: Connection) -> dict[str, tuple[str, str]]:
    """`GET /v2/catalog/list?types=ITEM_VARIATION`, every page: the whole catalog's SKUs."""
    found: dict[str, tuple[str, str]] = {}
    params: dict[str, Any] = {"types": "ITEM_VARIATION"}
    seen: set[str] = set()
    with client(connection) as api:
        while True:
            data = api.get("catalog/list", params=params) or {}
            found.update(_variation_entries(data.get("objects", [])))
            cursor = data.get("cursor")
            if not cursor or cursor in seen:  # a cursor that does not move on would page forever
                return found
            seen.add(cursor)
            params = {**params, "cursor": cursor}
