"""Square returns → canonical returns (pure: the Order object in, documents out; no I/O).

Square keeps a return inside an order: the return order's `returns[]` (OrderReturn: `uid`,
`source_order_id`, `return_line_items[]` with `source_line_item_uid` and `quantity` as a decimal
string). A return made at a Square counter is done when its order is COMPLETED: the goods are in
the shop, so it arrives as received; an OPEN return order is requested. Unlinked returns (no
`source_order_id`) name no sale and are skipped. The version is the order's `version`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from commerce.documents_returns import CanonicalReturn, ReturnLineDoc
from connectors.vendors.base import NormaliseError
from connectors.vendors.common import optional_timestamp, require


def _quantity(value: Any, *, field: str) -> int:
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        raise NormaliseError(f"{field}: {value!r} is not a quantity.") from None
    if quantity != quantity.to_integral_value() or quantity < 1:
        raise NormaliseError(f"{field}: {value} is not a whole number of units.")
    return int(quantity)


def _lines(entry: Mapping[str, Any], index: int) -> tuple[ReturnLineDoc, ...]:
    lines = []
    for position, item in enumerate(entry.get("return_line_items") or []):
        field = f"returns[{index}].return_line_items[{position}]"
        lines.append(
            ReturnLineDoc(
                line_external_id=str(require(item, "source_line_item_uid")),
                quantity=_quantity(item.get("quantity"), field=f"{field}.quantity"),
                reason=str(item.get("note") or "")[:255],
                external_id=str(item.get("uid") or ""),
            )
        )
    return tuple(lines)


def returns_normalise(order: Mapping[str, Any]) -> list[CanonicalReturn]:
    """One canonical return per linked OrderReturn of `order` (none for an ordinary sale)."""
    entries = order.get("returns") or []
    if not isinstance(entries, list):
        raise NormaliseError("returns: is not a list.")
    order_id = str(require(order, "id"))
    status = "received" if order.get("state") == "COMPLETED" else "requested"
    documents = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("source_order_id"):
            continue
        documents.append(
            CanonicalReturn(
                external_id=f"{order_id}:{entry.get('uid') or index}",
                order_external_id=str(entry["source_order_id"]),
                source_version=int(order.get("version") or 1),
                status=status,
                requested_at=optional_timestamp(order.get("created_at"), field="created_at"),
                lines=_lines(entry, index),
                name=f"Square return {str(entry.get('uid') or index)[:40]}",
            )
        )
    return documents
