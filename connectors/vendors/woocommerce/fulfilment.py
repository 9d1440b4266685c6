"""Tell WooCommerce an order shipped (REST wc/v3): the order's status becomes `completed` with the
tracking in its meta (`_tillbridge_tracking`), and a customer note names the carrier and tracking;
read back with `GET orders/{id}` (status `completed`, the same tracking number in the meta).
https://woocommerce.github.io/woocommerce-rest-api-docs/#update-an-order , #create-an-order-note"""

from __future__ import annotations

from commerce.documents import ChannelFulfilmentDoc
from core.http.client import VendorClient

META_KEY = "_tillbridge_tracking"


def _tracking_text(doc: ChannelFulfilmentDoc) -> str:
    text = f"Shipped with {doc.carrier or 'the carrier'}, tracking {doc.tracking_number or 'not given'}"
    return f"{text}: {doc.tracking_url}" if doc.tracking_url else f"{text}."


def fulfilment_push(*, client: VendorClient, doc: ChannelFulfilmentDoc) -> str:
    """Complete the order and add the tracking note; returns the note id."""
    meta = {
        "fulfilment": doc.fulfilment_id,
        "carrier": doc.carrier,
        "tracking_number": doc.tracking_number,
        "tracking_url": doc.tracking_url,
    }
    client.json(
        "PUT",
        f"orders/{doc.order_external_id}",
        json={"status": "completed", "meta_data": [{"key": META_KEY, "value": meta}]},
    )
    note = client.json(
        "POST", f"orders/{doc.order_external_id}/notes", json={"note": _tracking_text(doc), "customer_note": True}
    )
    return str((note or {}).get("id") or f"order-{doc.order_external_id}")


def fulfilment_read_back(*, client: VendorClient, doc: ChannelFulfilmentDoc, reference: str) -> tuple[bool, str]:
    order = client.get(f"orders/{doc.order_external_id}") or {}
    if order.get("status") != "completed":
        return False, f"WooCommerce shows order {doc.order_external_id} as {order.get('status')!r}, not completed."
    values = [item.get("value") for item in order.get("meta_data") or [] if item.get("key") == META_KEY]
    if doc.tracking_number and not any(
        isinstance(value, dict) and value.get("tracking_number") == doc.tracking_number for value in values
    ):
        return False, f"WooCommerce order {doc.order_external_id} does not carry tracking {doc.tracking_number}."
    return True, ""
