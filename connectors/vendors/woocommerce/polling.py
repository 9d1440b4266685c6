"""WooCommerce polling: `GET {store}/wp-json/wc/v3/orders?modified_after=…&dates_are_gmt=true
&orderby=modified&order=asc`, paged by `page` up to `X-WP-TotalPages`; an order with refunds is
stored with its refunds (`refund_details`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.models import Connection
from connectors.vendors.base import NormaliseError, Page, Record
from connectors.vendors.common import body
from core.http.client import VendorClient, response_json

PAGE_SIZE = 100


def fetch_page(
    *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
) -> Page:
    if topic != "orders":
        raise NormaliseError(f"WooCommerce cannot poll {topic!r}.")
    watermark = cursor.get("modified_after") or (
        since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") if since else None
    )
    page = int(cursor.get("page") or 1)
    params: dict[str, Any] = {
        "per_page": PAGE_SIZE,
        "page": page,
        "orderby": "modified",
        "order": "asc",
        "dates_are_gmt": "true",
    }
    if watermark:
        params["modified_after"] = watermark
    response = client.request("GET", "orders", params=params)
    orders = response_json(response, what="GET orders")
    if not isinstance(orders, list):
        raise NormaliseError("orders did not return a list.")
    records = []
    for order in orders:
        if order.get("refunds"):
            order = {**order, "refund_details": client.get(f"orders/{order['id']}/refunds")}
        records.append(Record("orders", str(order.get("id")), body(order)))
    newest = max([cursor.get("newest") or "", *(str(order.get("date_modified_gmt") or "") for order in orders)])
    pages = int(response.headers.get("X-WP-TotalPages") or 1)
    if page < pages:
        return Page(records, {"modified_after": watermark, "newest": newest, "page": page + 1}, done=False)
    final = newest or watermark
    return Page(records, {"modified_after": final} if final else {}, done=True)
