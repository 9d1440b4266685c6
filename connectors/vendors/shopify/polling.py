"""Shopify polling: `GET /orders.json?status=any&updated_at_min=…&order=updated_at asc` paged by
the `Link: rel="next"` page_info URL; payouts from `/shopify_payments/payouts.json` with their
balance transactions; inventory levels with their SKUs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import httpx

from connectors.models import Connection
from connectors.vendors.base import NormaliseError, Page, Record
from connectors.vendors.common import body
from connectors.vendors.shopify.normalise import INVENTORY_TOPIC
from core.http.client import VendorClient, response_json

PAGE_SIZE = 250
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def fetch_page(
    *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
) -> Page:
    if topic == "orders":
        return _orders_page(client=client, cursor=cursor, since=since)
    if topic == "payouts":
        return _payouts_page(client=client, cursor=cursor, since=since)
    if topic == "inventory_levels":
        return _inventory_page(connection=connection, client=client, cursor=cursor, since=since)
    raise NormaliseError(f"Shopify cannot poll {topic!r}.")


def _linked_page(
    records: list[Record], objects: list[dict], *, response: httpx.Response, cursor: dict, watermark: str | None
) -> Page:
    """A page of an `updated_at_min` listing paged by its `Link: rel="next"` URL: the next page
    keeps the run's watermark; the last one moves it to the newest `updated_at` seen in the run."""
    newest = max((str(obj.get("updated_at") or "") for obj in objects), default="") or watermark
    match = _NEXT_LINK.search(response.headers.get("Link", ""))
    if match:
        return Page(records, {"updated_at_min": watermark, "newest": newest, "next": match.group(1)}, done=False)
    final = max(filter(None, [cursor.get("newest"), newest]), default=None)
    return Page(records, {"updated_at_min": final} if final else {}, done=True)


def _linked_listing(
    client: VendorClient,
    *,
    path: str,
    key: str,
    params: dict[str, Any],
    cursor: dict,
    since: dt.datetime | None,
    records_of: Callable[[list[dict]], list[Record]],
) -> Page:
    """One page of the `key` list of an `updated_at_min` listing of `path`: the next link the cursor
    holds, else the first page with `params`, from the run's watermark on."""
    watermark = cursor.get("updated_at_min") or (since.isoformat() if since else None)
    if cursor.get("next"):
        response = client.request("GET", cursor["next"])
    else:
        response = client.request("GET", path, params={**params, "updated_at_min": watermark} if watermark else params)
    data = response_json(response, what=f"GET {path}")
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise NormaliseError(f"{path} did not return an {key} list.")
    return _linked_page(records_of(rows), rows, response=response, cursor=cursor, watermark=watermark)


def _inventory_page(*, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    """`GET inventory_levels.json?location_ids=…&updated_at_min=…` paged by Link; each level's SKU
    is read in batches from `inventory_items.json?ids=…` and kept in the record."""
    params: dict[str, Any] = {}
    if not cursor.get("next"):
        locations = [str(item) for item in connection.config.get("location_ids") or []]
        if not locations:
            listed = client.get("locations.json") or {}
            locations = [str(loc.get("id")) for loc in listed.get("locations") or [] if loc.get("active", True)]
        if not locations:
            return Page([], dict(cursor), done=True)
        params = {"location_ids": ",".join(locations), "limit": PAGE_SIZE}
    return _linked_listing(
        client,
        path="inventory_levels.json",
        key="inventory_levels",
        params=params,
        cursor=cursor,
        since=since,
        records_of=lambda levels: _level_records(client, levels),
    )


def _level_records(client: VendorClient, levels: list[dict]) -> list[Record]:
    item_ids = sorted({str(level.get("inventory_item_id")) for level in levels})
    skus: dict[str, str] = {}
    for start in range(0, len(item_ids), 100):
        batch = client.get("inventory_items.json", params={"ids": ",".join(item_ids[start : start + 100])}) or {}
        for item in batch.get("inventory_items") or []:
            skus[str(item.get("id"))] = str(item.get("sku") or "")
    return [
        Record(
            INVENTORY_TOPIC,
            f"{level.get('inventory_item_id')}:{level.get('location_id')}",
            body({**level, "sku": skus.get(str(level.get("inventory_item_id")), "")}),
        )
        for level in levels
    ]


def _orders_page(*, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    return _linked_listing(
        client,
        path="orders.json",
        key="orders",
        params={"status": "any", "limit": PAGE_SIZE, "order": "updated_at asc"},
        cursor=cursor,
        since=since,
        records_of=lambda orders: [Record("orders/updated", str(order.get("id")), body(order)) for order in orders],
    )


def _payouts_page(*, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    params: dict[str, Any] = {"status": "paid", "limit": 50}
    if cursor.get("since_id"):
        params["since_id"] = cursor["since_id"]
    elif since:
        params["date_min"] = since.date().isoformat()
    data = client.get("shopify_payments/payouts.json", params=params)
    payouts = data.get("payouts") if isinstance(data, dict) else None
    if not isinstance(payouts, list):
        raise NormaliseError("payouts.json did not return a payouts list.")
    records = []
    for payout in payouts:
        transactions = client.get("shopify_payments/balance/transactions.json", params={"payout_id": payout["id"]})
        records.append(
            Record(
                "payouts",
                str(payout["id"]),
                body({"payout": payout, "transactions": (transactions or {}).get("transactions", [])}),
            )
        )
    last = max((int(p["id"]) for p in payouts), default=None)
    next_cursor = {"since_id": last} if last is not None else dict(cursor)
    return Page(records, next_cursor, done=len(payouts) < params["limit"])
