"""WooCommerce (REST API wc/v3, WooCommerce 8 and 9) payloads → canonical documents: orders and
their refunds. Pure: refunds a webhook only lists are read before (`WooCommerceAdapter.prefetch`)
and handed in as `fetched`.

Money: WooCommerce keeps line `subtotal`/`total` excluding tax even when `prices_include_tax` is
on; the printed (shelf) price is subtotal + subtotal_tax then, so `taxes_included` follows the
store setting and the unit price is what the customer saw. Refunds are fetched from
`/orders/{id}/refunds` (their line quantities are negative, tied by `_refunded_item_id`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from commerce import documents as docs
from connectors.vendors.base import Document, NormaliseError
from connectors.vendors.common import (
    currency_code,
    destination,
    line_level_total,
    money,
    require,
    ship_to_doc,
    version,
)
from core.money import quantize

ORDER_TOPICS = ("order.created", "order.updated", "order.restored")
PAID_STATUSES = {"processing", "completed", "refunded", "on-hold"}
TOPICS = (*ORDER_TOPICS, "orders")


def _gmt(value: Any, *, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise NormaliseError(f"{field}: {value!r} is not a date.") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _decimal(value: Any, *, field: str) -> Decimal:
    """A WooCommerce number (a decimal string, up to 6 places; missing or "" is 0), or a
    NormaliseError naming the field: `"abc"` or `NaN` is never a traceback (issue 14)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NormaliseError(f"{field}: {value!r} is not a number.")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise NormaliseError(f"{field}: {value!r} is not a number.") from None
    if not number.is_finite():
        raise NormaliseError(f"{field}: {value!r} is not a finite number.")
    return number


def _tax_docs(
    taxes: Any, rates: Mapping[Any, Mapping[str, Any]], currency: str, field: str
) -> tuple[docs.TaxLineDoc, ...]:
    if taxes in (None, ""):
        return ()
    if not isinstance(taxes, list):
        raise NormaliseError(f"{field}.taxes: is not a list.")
    tax_lines = []
    for index, tax in enumerate(taxes):
        if not isinstance(tax, dict):
            raise NormaliseError(f"{field}.taxes[{index}]: {tax!r} is not a tax.")
        # WooCommerce keeps 6 decimals per line and rounds per line when it totals (default setting).
        amount = quantize(_decimal(tax.get("total"), field=f"{field}.taxes[{index}].total"), currency)
        if amount == 0:
            continue
        rate = rates.get(tax.get("id"), {})
        tax_lines.append(
            docs.TaxLineDoc(
                jurisdiction=str(rate.get("label") or rate.get("rate_code") or f"tax-{tax.get('id')}")[:80],
                rate=_decimal(rate.get("rate_percent"), field="tax_lines.rate_percent") / 100,
                amount=amount,
            )
        )
    return tuple(tax_lines)


def _exact(value: Any, currency: str, *, field: str) -> Decimal:
    """Line amounts can carry more decimals than the currency (WooCommerce stores 6); only an exact
    value in the currency's minor unit is accepted."""
    amount = value if isinstance(value, Decimal) else _decimal(value, field=field)
    if quantize(amount, currency) != amount:
        raise NormaliseError(f"{field}: {value} is not a whole amount of {currency}.")
    return quantize(amount, currency)


def _objects(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """`payload[key]` as a list of objects (missing or null is empty), else a NormaliseError naming it."""
    items = payload.get(key)
    if items in (None, ""):
        return []
    if not isinstance(items, list):
        raise NormaliseError(f"{key}: is not a list.")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise NormaliseError(f"{key}[{index}]: {item!r} is not an object.")
    return items


def _line_items(
    order: Mapping[str, Any], currency: str, rates: Mapping[Any, Mapping[str, Any]], *, included: bool
) -> tuple[list[docs.OrderLineDoc], list[docs.DiscountDoc]]:
    """The order's lines at the price the customer saw, and each line's share of the coupons."""
    codes = ", ".join(str(coupon.get("code")) for coupon in _objects(order, "coupon_lines"))
    lines, discounts = [], []
    for index, item in enumerate(_objects(order, "line_items")):
        field = f"line_items[{index}]"
        line_id = str(require(item, "id"))
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise NormaliseError(f"{field}.quantity: {quantity!r} is not a positive integer.")
        subtotal = _decimal(item.get("subtotal"), field=f"{field}.subtotal")
        total = _decimal(item.get("total"), field=f"{field}.total")
        if included:
            subtotal += _decimal(item.get("subtotal_tax"), field=f"{field}.subtotal_tax")
            total += _decimal(item.get("total_tax"), field=f"{field}.total_tax")
        gross = _exact(subtotal, currency, field=f"{field}.subtotal")
        unit = gross / quantity
        if quantize(unit, currency) != unit:
            raise NormaliseError(f"{field}: {gross} over {quantity} is not a whole unit price.")
        discount = gross - _exact(total, currency, field=f"{field}.total")
        if discount:
            discounts.append(docs.DiscountDoc(amount=discount, code=codes[:80], line_external_id=line_id))
        lines.append(
            docs.OrderLineDoc(
                external_id=line_id,
                sku=str(item.get("sku") or "")[:120],
                quantity=quantity,
                unit_price=quantize(unit, currency),
                title=str(item.get("name") or "")[:255],
                taxes=_tax_docs(item.get("taxes"), rates, currency, field),
            )
        )
    return lines, discounts


def _shipping_and_fees(
    order: Mapping[str, Any], currency: str, rates: Mapping[Any, Mapping[str, Any]], *, included: bool
) -> list[docs.ShippingLineDoc]:
    """Shipping lines, then fee lines (posted like shipping: a charge on top of the goods)."""
    shipping_lines = []
    for index, shipping in enumerate(_objects(order, "shipping_lines")):
        amount = money(shipping.get("total") or "0", currency, field=f"shipping_lines[{index}].total")
        if included:
            amount += money(shipping.get("total_tax") or "0", currency, field=f"shipping_lines[{index}].total_tax")
        shipping_lines.append(
            docs.ShippingLineDoc(
                external_id=str(require(shipping, "id")),
                amount=amount,
                code=str(shipping.get("method_id") or "")[:60],
                title=str(shipping.get("method_title") or "")[:120],
                taxes=_tax_docs(shipping.get("taxes"), rates, currency, f"shipping_lines[{index}]"),
            )
        )
    for index, fee in enumerate(_objects(order, "fee_lines")):
        amount = money(fee.get("total") or "0", currency, field=f"fee_lines[{index}].total")
        if amount < 0:
            raise NormaliseError(f"Fee line {fee.get('id')} is negative; negative fees are not supported.")
        if included:
            amount += money(fee.get("total_tax") or "0", currency, field=f"fee_lines[{index}].total_tax")
        shipping_lines.append(
            docs.ShippingLineDoc(
                external_id=f"fee-{require(fee, 'id')}",
                amount=amount,
                code="fee",
                title=str(fee.get("name") or "Fee")[:120],
                taxes=_tax_docs(fee.get("taxes"), rates, currency, f"fee_lines[{index}]"),
            )
        )
    return shipping_lines


def _with_payment(document: docs.CanonicalOrder, order: Mapping[str, Any]) -> docs.CanonicalOrder:
    """A paid order's one payment: the line-level total (what posting trusts) on its gateway."""
    order_id = document.external_id
    method = str(order.get("payment_method") or "manual")[:60]
    payment = docs.PaymentDoc(
        external_id=str(order.get("transaction_id") or f"{order_id}:payment")[:120],
        gateway=method,
        amount=line_level_total(document),
        method=str(order.get("payment_method_title") or "")[:60],
    )
    return replace(document, payments=(payment,))


def order_normalise(order: Mapping[str, Any]) -> docs.CanonicalOrder:
    order_id = str(require(order, "id"))
    currency = currency_code(order.get("currency"))
    included = bool(order.get("prices_include_tax"))
    rates = {rate.get("rate_id"): rate for rate in _objects(order, "tax_lines")}
    lines, discounts = _line_items(order, currency, rates, included=included)
    shipping_lines = _shipping_and_fees(order, currency, rates, included=included)
    status = order.get("status") or ""
    placed_at = _gmt(require(order, "date_created_gmt"), field="date_created_gmt")
    modified = _gmt(order.get("date_modified_gmt") or order.get("date_created_gmt"), field="date_modified_gmt")
    paid_at = _gmt(order.get("date_paid_gmt"), field="date_paid_gmt")
    if paid_at is None and status in ("processing", "completed"):
        paid_at = placed_at
    document = docs.CanonicalOrder(
        external_id=order_id,
        source_version=version(modified),
        currency=currency,
        placed_at=placed_at,
        lines=tuple(lines),
        channel=str(order.get("created_via") or "web")[:60],
        paid_at=paid_at if status in PAID_STATUSES or paid_at else None,
        fulfilled_at=_gmt(order.get("date_completed_gmt"), field="date_completed_gmt")
        if status == "completed"
        else None,
        cancelled_at=modified if status == "cancelled" else None,
        customer_ref=str(order.get("customer_id") or "")[:120],
        taxes_included=included,
        discounts=tuple(discounts),
        shipping_lines=tuple(shipping_lines),
        vendor_total=money(order.get("total") or "0", currency, field="total"),
        **destination((order.get("shipping") or {}).get("country"), (order.get("shipping") or {}).get("state")),
    )
    if document.paid_at is None:
        return document
    return _with_payment(document, order)


def refund_normalise(refund: Mapping[str, Any], *, order_id: str, currency: str) -> docs.CanonicalRefund:
    refund_id = str(require(refund, "id"))
    lines = []
    for index, item in enumerate(_objects(refund, "line_items")):
        raw_quantity = item.get("quantity")
        if raw_quantity is not None and (isinstance(raw_quantity, bool) or not isinstance(raw_quantity, int)):
            raise NormaliseError(f"refunds.line_items[{index}].quantity: {raw_quantity!r} is not a whole number.")
        quantity = abs(raw_quantity or 0)
        if quantity == 0:
            continue
        refunded_item = next(
            (meta.get("value") for meta in _objects(item, "meta_data") if meta.get("key") == "_refunded_item_id"), None
        )
        if refunded_item is None:
            raise NormaliseError(f"Refund {refund_id} line {item.get('id')} does not name the refunded order line.")
        lines.append(docs.RefundLineDoc(line_external_id=str(refunded_item), quantity=quantity))
    shipping = sum(
        (
            abs(money(line.get("total") or "0", currency, field="shipping_lines.total"))
            for line in _objects(refund, "shipping_lines")
        ),
        Decimal(0),
    )
    created = _gmt(require(refund, "date_created_gmt"), field="date_created_gmt")
    return docs.CanonicalRefund(
        external_id=refund_id,
        order_external_id=order_id,
        source_version=version(created),
        currency=currency,
        processed_at=created,
        lines=tuple(lines),
        shipping=shipping,
        amount=money(refund.get("amount") or "0", currency, field="amount"),
        reason=str(refund.get("reason") or "")[:255],
    )


def needs_refunds(payload: Any) -> bool:
    """An order that lists refunds but was not stored with their details (webhooks)."""
    return isinstance(payload, dict) and payload.get("refund_details") is None and bool(payload.get("refunds"))


def ship_to(*, topic: str, payload: Any) -> docs.ShipToDoc | None:
    """The order's `shipping` address (first and last name joined), or None without one."""
    address = payload.get("shipping") if topic in TOPICS and isinstance(payload, dict) else None
    if not isinstance(address, Mapping):
        return None
    name = " ".join(str(part).strip() for part in (address.get("first_name"), address.get("last_name")) if part)
    return ship_to_doc(
        name=name,
        company=address.get("company"),
        street1=address.get("address_1"),
        street2=address.get("address_2"),
        city=address.get("city"),
        state=address.get("state"),
        postal_code=address.get("postcode"),
        country=address.get("country"),
        phone=address.get("phone"),
    )


def normalise(*, topic: str, payload: Any, fetched: Mapping[str, Any]) -> list[Document]:
    """The order and its refunds (`refund_details` of a polled order, else `fetched["refunds"]`)."""
    if topic not in TOPICS:
        raise NormaliseError(f"Topic {topic!r} is not handled by WooCommerce.")
    if not isinstance(payload, dict):
        raise NormaliseError("The payload is not a JSON object.")
    order = order_normalise(payload)
    documents: list[Document] = [order]
    refunds = fetched.get("refunds") if needs_refunds(payload) else payload.get("refund_details")
    for refund in refunds or []:
        documents.append(refund_normalise(refund, order_id=order.external_id, currency=order.currency))
    return documents
