"""Tell Shopify an order shipped, through its fulfillment orders (Admin REST 2025-07):
`GET orders/{id}/fulfillment_orders.json`, then `POST fulfillments.json` with
`line_items_by_fulfillment_order` and `tracking_info`; read back with
`GET orders/{id}/fulfillments/{fulfillment id}.json` (status `success`, same tracking number).
https://shopify.dev/docs/api/admin-rest/2025-07/resources/fulfillmentorder , …/fulfillment"""

from __future__ import annotations

from typing import Any

from commerce.documents import ChannelFulfilmentDoc
from core.http.client import VendorClient

OPEN_STATUSES = ("open", "in_progress")


class ChannelWriteError(ValueError):
    """The channel cannot take this fulfilment as it stands (nothing left to fulfil, unknown line)."""


def _line_items_by_fulfillment_order(fulfillment_orders: list[dict], doc: ChannelFulfilmentDoc) -> list[dict]:
    wanted = {str(line_id): quantity for line_id, quantity in doc.lines}
    grouped: list[dict[str, Any]] = []
    for fulfillment_order in fulfillment_orders:
        if fulfillment_order.get("status") not in OPEN_STATUSES:
            continue
        items = []
        for item in fulfillment_order.get("line_items") or []:
            line_id = str(item.get("line_item_id"))
            take = min(wanted.get(line_id, 0), int(item.get("fulfillable_quantity") or 0))
            if take > 0:
                items.append({"id": item["id"], "quantity": take})
                wanted[line_id] -= take
        if items:
            grouped.append({"fulfillment_order_id": fulfillment_order["id"], "fulfillment_order_line_items": items})
    missing = {line_id: quantity for line_id, quantity in wanted.items() if quantity > 0}
    if missing:
        raise ChannelWriteError(f"Shopify has nothing open to fulfil for line(s) {sorted(missing)}.")
    return grouped


def fulfilment_push(*, client: VendorClient, doc: ChannelFulfilmentDoc) -> str:
    """Create the Shopify fulfillment; returns its id."""
    data = client.get(f"orders/{doc.order_external_id}/fulfillment_orders.json") or {}
    groups = _line_items_by_fulfillment_order(data.get("fulfillment_orders") or [], doc)
    tracking = {"number": doc.tracking_number, "company": doc.carrier}
    if doc.tracking_url:
        tracking["url"] = doc.tracking_url
    created = client.json(
        "POST",
        "fulfillments.json",
        json={
            "fulfillment": {
                "line_items_by_fulfillment_order": groups,
                "tracking_info": tracking,
                "notify_customer": True,
            }
        },
    )
    fulfillment = (created or {}).get("fulfillment") or {}
    if not fulfillment.get("id"):
        raise ChannelWriteError("Shopify answered without a fulfillment id.")
    return str(fulfillment["id"])


def fulfilment_read_back(*, client: VendorClient, doc: ChannelFulfilmentDoc, reference: str) -> tuple[bool, str]:
    data = client.get(f"orders/{doc.order_external_id}/fulfillments/{reference}.json") or {}
    fulfillment = data.get("fulfillment") or {}
    if fulfillment.get("status") != "success":
        return False, f"Shopify shows fulfillment {reference} as {fulfillment.get('status')!r}, not success."
    numbers = fulfillment.get("tracking_numbers") or [fulfillment.get("tracking_number")]
    if doc.tracking_number and doc.tracking_number not in numbers:
        return False, f"Shopify's fulfillment {reference} has tracking {numbers}, not {doc.tracking_number}."
    return True, ""
