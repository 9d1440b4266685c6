"""Shopify returns → canonical returns (pure: payload in, document out; no I/O).

Webhook topics `returns/request`, `returns/approve`, `returns/decline`, `returns/cancel`,
`returns/close`, `returns/reopen`, `returns/update` carry the Return as the Admin API shapes it:
`id`, `status` (requested, open, declined, canceled, closed), `order.id`, `name` and
`return_line_items[]` (each with `fulfillment_line_item.line_item.id`, `quantity`,
`return_reason`, `return_reason_note`, optional `restocking_fee.amount_set.shop_money`), and
`return_shipping_fees[].amount_set.shop_money` (charged to the customer).

Shopify's statuses map onto the Tillbridge lifecycle: requested → requested, open → approved,
declined and canceled → rejected, closed → closed (through received and inspected: Shopify closes
a return once its items are processed). A decline or close payload may carry no lines; it updates a
return already stored. The version is the lifecycle rank of the status, so a late `returns/request`
after `returns/approve` is ignored as older."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from commerce.documents_returns import CanonicalReturn, ReturnLineDoc
from connectors.vendors.base import NormaliseError
from connectors.vendors.common import currency_code, money, optional_timestamp, require

RETURN_TOPICS = (
    "returns/request",
    "returns/approve",
    "returns/decline",
    "returns/cancel",
    "returns/close",
    "returns/reopen",
    "returns/update",
)
STATUSES = {
    "requested": ("requested", 1),
    "open": ("approved", 2),
    "declined": ("rejected", 3),
    "canceled": ("rejected", 3),
    "closed": ("closed", 4),
}


def _shop_amount(value: Any, *, field: str) -> Decimal:
    """An `amount_set`'s shop money, in its own `currency_code` (the shop's)."""
    shop = (value.get("amount_set") or {}).get("shop_money") if isinstance(value, dict) else None
    if not isinstance(shop, dict):
        return Decimal(0)
    currency = currency_code(shop.get("currency_code"), field=f"{field}.currency_code")
    return money(shop.get("amount"), currency, field=field)


def _line(item: Mapping[str, Any], index: int) -> ReturnLineDoc:
    line_item = (item.get("fulfillment_line_item") or {}).get("line_item") or {}
    line_id = line_item.get("id") if isinstance(line_item, dict) else None
    line_id = line_id if line_id is not None else item.get("line_item_id")
    if line_id is None:
        raise NormaliseError(f"return_line_items[{index}] names no line item.")
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise NormaliseError(f"return_line_items[{index}].quantity: {quantity!r} is not a whole number of units.")
    reason = " — ".join(str(part) for part in (item.get("return_reason"), item.get("return_reason_note")) if part)
    return ReturnLineDoc(str(line_id), quantity, reason[:255], str(item.get("id") or ""))


def return_normalise(payload: Mapping[str, Any]) -> CanonicalReturn:
    status = str(require(payload, "status")).lower()
    if status not in STATUSES:
        raise NormaliseError(f"status: {status!r} is not a Shopify return status.")
    target, rank = STATUSES[status]
    order = payload.get("order") if isinstance(payload.get("order"), dict) else {}
    order_id = order.get("id") if order.get("id") is not None else payload.get("order_id")
    if order_id is None:
        raise NormaliseError("The return names no order (order.id).")
    items = payload.get("return_line_items") or []
    if not isinstance(items, list):
        raise NormaliseError("return_line_items: is not a list.")
    lines = tuple(_line(item, index) for index, item in enumerate(items) if isinstance(item, dict))
    fees = sum((_shop_amount(item.get("restocking_fee"), field="restocking_fee") for item in items), Decimal(0))
    shipping = sum(
        (_shop_amount(fee, field="return_shipping_fees") for fee in payload.get("return_shipping_fees") or []),
        Decimal(0),
    )
    reasons = sorted({line.reason for line in lines if line.reason})
    return CanonicalReturn(
        external_id=str(require(payload, "id")),
        order_external_id=str(order_id),
        source_version=rank,
        status=target,
        requested_at=optional_timestamp(payload.get("created_at"), field="created_at"),
        lines=lines,
        name=str(payload.get("name") or "")[:60],
        reason="; ".join(reasons)[:255],
        restocking_fee=fees,
        shipping_cost=shipping,
        shipping_paid_by="customer" if shipping else "merchant",
    )
