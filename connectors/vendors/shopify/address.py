"""The shipping address of a Shopify order (`shipping_address`), for the warehouse request. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commerce.documents import ShipToDoc
from connectors.vendors.common import ship_to_doc


def order_ship_to(order: Mapping[str, Any]) -> ShipToDoc | None:
    """The order's `shipping_address` (None for an order without one: a pickup or digital order)."""
    address = order.get("shipping_address") if isinstance(order, Mapping) else None
    if not isinstance(address, Mapping):
        return None
    name = address.get("name") or " ".join(
        str(part) for part in (address.get("first_name"), address.get("last_name")) if part
    )
    return ship_to_doc(
        name=name,
        company=address.get("company"),
        street1=address.get("address1"),
        street2=address.get("address2"),
        city=address.get("city"),
        state=address.get("province_code"),
        postal_code=address.get("zip"),
        country=address.get("country_code"),
        phone=address.get("phone"),
    )
