"""Square polling: orders (`POST /v2/orders/search`), paid payouts with their entries, and
inventory counts for the configured locations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import NormaliseError, Page, Record
from connectors.vendors.common import body
from connectors.vendors.square.client import payout_entries
from connectors.vendors.square.normalise import INVENTORY_POLL_TOPIC, ON_HAND_STATE
from core.http.client import VendorClient


def fetch_page(
    *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
) -> Page:
    if topic == "orders":
        return _orders_page(connection=connection, client=client, cursor=cursor, since=since)
    if topic == "payouts":
        params: dict[str, Any] = {"status": "PAID", "limit": 100, "sort_order": "ASC"}
        if cursor.get("cursor"):
            params["cursor"] = cursor["cursor"]
        if cursor.get("begin_time") or since:
            params["begin_time"] = cursor.get("begin_time") or since.isoformat()
        data = client.get("payouts", params=params) or {}
        records = []
        for payout in data.get("payouts") or []:
            entries = payout_entries(client, str(payout["id"]))
            records.append(Record("payouts", str(payout["id"]), body({"payout": payout, "entries": entries})))
        newest = max([cursor.get("newest") or "", *(str(p.get("created_at") or "") for p in data.get("payouts") or [])])
        if data.get("cursor"):
            return Page(records, {**cursor, "cursor": data["cursor"], "newest": newest}, done=False)
        return Page(records, {"begin_time": newest} if newest else {}, done=True)
    if topic == INVENTORY_POLL_TOPIC:
        return _inventory_page(connection=connection, client=client, cursor=cursor, since=since)
    raise NormaliseError(f"Square cannot poll {topic!r}.")


def _inventory_page(*, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    """`POST /v2/inventory/counts/batch-retrieve` for the configured locations, IN_STOCK only,
    changed after the watermark; one record per count."""
    locations = connection.config.get("location_ids") or []
    if not locations:
        raise NormaliseError("Set the Square location ids to poll inventory.")
    start = cursor.get("updated_after") or (since.isoformat() if since else None)
    query: dict[str, Any] = {"location_ids": locations, "states": [ON_HAND_STATE], "limit": 1000}
    if start:
        query["updated_after"] = start
    if cursor.get("cursor"):
        query["cursor"] = cursor["cursor"]
    data = client.json("POST", "inventory/counts/batch-retrieve", json=query) or {}
    counts = data.get("counts") or []
    records = [
        Record(INVENTORY_POLL_TOPIC, f"{count.get('catalog_object_id')}:{count.get('location_id')}", body(count))
        for count in counts
    ]
    newest = max([cursor.get("newest") or "", *(str(count.get("calculated_at") or "") for count in counts)])
    if data.get("cursor"):
        return Page(records, {"updated_after": start, "newest": newest, "cursor": data["cursor"]}, done=False)
    return Page(records, {"updated_after": newest or start} if (newest or start) else {}, done=True)


def _orders_page(*, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
    locations = connection.config.get("location_ids") or []
    if not locations:
        raise NormaliseError("Set the Square location ids to poll orders.")
    start = cursor.get("updated_at_min") or (since.isoformat() if since else "1970-01-01T00:00:00Z")
    query = {
        "location_ids": locations,
        "limit": 100,
        "query": {
            "filter": {"date_time_filter": {"updated_at": {"start_at": start}}},
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        },
    }
    if cursor.get("cursor"):
        query["cursor"] = cursor["cursor"]
    data = client.json("POST", "orders/search", json=query) or {}
    orders = data.get("orders") or []
    records = [Record("orders", str(order.get("id")), body(order)) for order in orders]
    newest = max([cursor.get("newest") or "", *(str(order.get("updated_at") or "") for order in orders)])
    if data.get("cursor"):
        return Page(records, {"updated_at_min": start, "newest": newest, "cursor": data["cursor"]}, done=False)
    return Page(records, {"updated_at_min": newest or start}, done=True)
