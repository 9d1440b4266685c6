"""Tell Square an order shipped, through the order's fulfillment state (Orders API 2025-07-16):
`GET orders/{id}` for its version and fulfillments, then `PUT orders/{id}` (UpdateOrder) with the
SHIPMENT fulfillment in state COMPLETED and its `shipment_details` (carrier, tracking); read back
with `GET orders/{id}` (that fulfillment COMPLETED).
https://developer.squareup.com/reference/square/orders-api/update-order ,
https://developer.squareup.com/reference/square/objects/OrderFulfillment"""

from __future__ import annotations

from commerce.documents import ChannelFulfilmentDoc
from core.http.client import VendorClient


class ChannelWriteError(ValueError):
    pass


def _order(client: VendorClient, order_id: str) -> dict:
    order = (client.get(f"orders/{order_id}") or {}).get("order")
    if not isinstance(order, dict):
        raise ChannelWriteError(f"Square returned no order {order_id}.")
    return order


def fulfilment_push(*, client: VendorClient, doc: ChannelFulfilmentDoc) -> str:
    """Complete the order's shipment fulfillment (or add one); returns the fulfillment uid."""
    order = _order(client, doc.order_external_id)
    shipments = [
        item
        for item in order.get("fulfillments") or []
        if item.get("type") == "SHIPMENT" and item.get("state") != "CANCELED"
    ]
    uid = shipments[0]["uid"] if shipments else f"tb-{doc.fulfilment_id}"
    details = {"carrier": doc.carrier, "tracking_number": doc.tracking_number}
    if doc.tracking_url:
        details["tracking_url"] = doc.tracking_url
    fulfillment = {"uid": uid, "state": "COMPLETED", "shipment_details": details}
    if not shipments:
        fulfillment["type"] = "SHIPMENT"
    client.json(
        "PUT",
        f"orders/{doc.order_external_id}",
        json={
            "order": {
                "location_id": order.get("location_id"),
                "version": order.get("version"),
                "fulfillments": [fulfillment],
            },
            "idempotency_key": f"tb-fulfilment-{doc.fulfilment_id}",
        },
    )
    return uid


def fulfilment_read_back(*, client: VendorClient, doc: ChannelFulfilmentDoc, reference: str) -> tuple[bool, str]:
    order = _order(client, doc.order_external_id)
    for item in order.get("fulfillments") or []:
        if item.get("uid") == reference:
            if item.get("state") == "COMPLETED":
                return True, ""
            return False, f"Square shows fulfillment {reference} as {item.get('state')!r}, not COMPLETED."
    return False, f"Square order {doc.order_external_id} has no fulfillment {reference}."
