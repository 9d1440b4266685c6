"""Square payloads → canonical documents: orders, payments (as order tenders), refunds, payouts,
inventory counts. Pure: what an event needs from the network or the database is fetched before
(`SquareAdapter.prefetch`) and handed in as `fetched`.

`order.created`/`order.updated` carry only the order id and version, so the
order is fetched (`GET /v2/orders/{id}`); `refund.*` carry the refund, whose itemised return
order is fetched; `payout.paid` carries the payout, whose entries are fetched.

Money: integer minor units; INCLUSIVE taxes set `taxes_included` (revenue = price less tax);
Square already spreads order-scope discounts over lines (`applied_discounts`); the order's
`version` is its source version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from commerce import documents as docs
from connectors.vendors.base import Document, NormaliseError
from connectors.vendors.common import (
    currency_code,
    destination,
    minor,
    optional_timestamp,
    require,
    ship_to_doc,
    timestamp,
    version,
)
from connectors.vendors.square.returns import returns_normalise
from core.money import quantize

ORDER_TOPICS = ("order.created", "order.updated")
REFUND_TOPICS = ("refund.created", "refund.updated")
PAYOUT_TOPICS = ("payout.paid",)
PAYMENT_TOPICS = ("payment.created", "payment.updated")  # tenders arrive with the order
INVENTORY_TOPIC = "inventory.count.updated"
INVENTORY_POLL_TOPIC = "inventory"
ON_HAND_STATE = "IN_STOCK"
# Square payout entry (`PaymentBalanceActivity`) types Tillbridge books to a named role; any other
# type becomes an `other` line keeping Square's type, booked to payout suspense (never a refused payout).
ENTRY_TYPES = {
    "CHARGE": docs.PAYOUT_CHARGE,
    "REFUND": docs.PAYOUT_REFUND,
    "FEE": docs.PAYOUT_FEE,
    "PROCESSING_FEE": docs.PAYOUT_FEE,
    "TAX_ON_FEE": docs.PAYOUT_FEE,
    "DEPOSIT_FEE": docs.PAYOUT_FEE,
    "DEPOSIT_FEE_REVERSED": docs.PAYOUT_FEE,
    "FREE_PROCESSING": docs.PAYOUT_FEE,
    "THIRD_PARTY_FEE": docs.PAYOUT_FEE,
    "THIRD_PARTY_FEE_REFUND": docs.PAYOUT_FEE,
    "ADJUSTMENT": docs.PAYOUT_ADJUSTMENT,
    "OTHER_ADJUSTMENT": docs.PAYOUT_ADJUSTMENT,
    "RELEASE_ADJUSTMENT": docs.PAYOUT_ADJUSTMENT,
    "DISPUTE": docs.PAYOUT_ADJUSTMENT,
    "OPEN_DISPUTE": docs.PAYOUT_ADJUSTMENT,
    "OTHER": docs.PAYOUT_ADJUSTMENT,
    "HOLD_ADJUSTMENT": docs.PAYOUT_RESERVE,
    "RESERVE_HOLD": docs.PAYOUT_RESERVE,
    "RESERVE_RELEASE": docs.PAYOUT_RESERVE,
    "RESERVE_RELEASED": docs.PAYOUT_RESERVE,
    "AUTOMATIC_SAVINGS": docs.PAYOUT_RESERVE,
    "AUTOMATIC_SAVINGS_REVERSED": docs.PAYOUT_RESERVE,
}


def _money(value: Any, *, field: str, currency: str | None = None) -> tuple[Decimal, str]:
    """A Square `Money` object. Square's reference examples name the currency `currency` or
    `currency_code` (payouts); an amount with neither is in the document's own currency."""
    if not isinstance(value, dict):
        raise NormaliseError(f"{field} is missing.")
    given = value.get("currency") if value.get("currency") is not None else value.get("currency_code")
    if given is None and currency is not None:
        given = currency
    code = currency_code(given, field=f"{field}.currency")
    if currency is not None and code != currency:
        raise NormaliseError(f"{field} is in {code}, the order in {currency}.")
    return minor(value.get("amount"), code, field=f"{field}.amount"), code


def _quantity(value: Any, *, field: str) -> int:
    try:
        quantity = Decimal(str(value))
    except ArithmeticError:
        raise NormaliseError(f"{field}: {value!r} is not a quantity.") from None
    if quantity != quantity.to_integral_value() or quantity <= 0:
        raise NormaliseError(f"{field}: {value} is not a whole positive quantity (weighted items are not supported).")
    return int(quantity)


def _line_items(
    order: Mapping[str, Any],
    currency: str,
    taxes_by_uid: Mapping[Any, Mapping[str, Any]],
    skus: Mapping[str, str],
) -> tuple[list[docs.OrderLineDoc], list[docs.DiscountDoc]]:
    """The order's lines with their taxes, and the discounts Square already spread over them. A line's
    SKU is its variation's SKU from the SKU map; a variation the map cannot name keeps its catalog id
    (the books do not wait for the catalog; the adapter raises the unmapped id as an exception)."""
    discounts_by_uid = {discount.get("uid"): discount for discount in order.get("discounts") or []}
    lines, discounts = [], []
    for index, item in enumerate(order.get("line_items") or []):
        uid = str(item.get("uid") or index)
        quantity = _quantity(item.get("quantity"), field=f"line_items[{uid}].quantity")
        gross, _ = _money(
            item.get("gross_sales_money"), field=f"line_items[{uid}].gross_sales_money", currency=currency
        )
        unit = gross / quantity
        if quantize(unit, currency) != unit:
            raise NormaliseError(f"line_items[{uid}]: {gross} over {quantity} is not a whole unit price.")
        taxes = []
        for applied in item.get("applied_taxes") or []:
            amount, _ = _money(applied.get("applied_money"), field="applied_taxes.applied_money", currency=currency)
            tax = taxes_by_uid.get(applied.get("tax_uid"), {})
            if amount:
                taxes.append(
                    docs.TaxLineDoc(
                        jurisdiction=str(tax.get("name") or "tax")[:80],
                        rate=Decimal(str(tax.get("percentage") or 0)) / 100,
                        amount=amount,
                    )
                )
        for applied in item.get("applied_discounts") or []:
            amount, _ = _money(applied.get("applied_money"), field="applied_discounts.applied_money", currency=currency)
            discount = discounts_by_uid.get(applied.get("discount_uid"), {})
            if amount:
                discounts.append(
                    docs.DiscountDoc(amount=amount, code=str(discount.get("name") or "")[:80], line_external_id=uid)
                )
        lines.append(
            docs.OrderLineDoc(
                external_id=uid,
                sku=(skus.get(str(item.get("catalog_object_id") or "")) or str(item.get("catalog_object_id") or ""))[
                    :120
                ],
                quantity=quantity,
                unit_price=unit,
                title=" ".join(filter(None, [item.get("name"), item.get("variation_name")]))[:255],
                taxes=tuple(taxes),
            )
        )
    return lines, discounts


def _service_charges(
    order: Mapping[str, Any], currency: str, taxes_by_uid: Mapping[Any, Mapping[str, Any]], *, included: bool
) -> list[docs.ShippingLineDoc]:
    shipping = []
    for charge in order.get("service_charges") or []:
        amount, _ = _money(charge.get("total_money"), field="service_charges.total_money", currency=currency)
        tax_amount, _ = _money(
            charge.get("total_tax_money") or {"amount": 0, "currency": currency},
            field="service_charges.tax",
            currency=currency,
        )
        charge_taxes = []
        for applied in charge.get("applied_taxes") or []:
            value, _ = _money(applied.get("applied_money"), field="service_charges.applied_taxes", currency=currency)
            tax = taxes_by_uid.get(applied.get("tax_uid"), {})
            charge_taxes.append(
                docs.TaxLineDoc(
                    str(tax.get("name") or "tax")[:80], Decimal(str(tax.get("percentage") or 0)) / 100, value
                )
            )
        printed = amount if included else amount - tax_amount
        shipping.append(
            docs.ShippingLineDoc(
                external_id=str(charge.get("uid")),
                amount=printed,
                code=str(charge.get("name") or "")[:60],
                title=str(charge.get("name") or "")[:120],
                taxes=tuple(charge_taxes),
            )
        )
    return shipping


def _tenders(order: Mapping[str, Any], currency: str) -> list[docs.PaymentDoc]:
    payments = []
    for tender in order.get("tenders") or []:
        amount, _ = _money(tender.get("amount_money"), field="tenders.amount_money", currency=currency)
        fee = Decimal(0)
        if tender.get("processing_fee_money"):
            fee, _ = _money(tender["processing_fee_money"], field="tenders.processing_fee_money", currency=currency)
        kind = tender.get("type") or ""
        payments.append(
            docs.PaymentDoc(
                external_id=str(tender.get("payment_id") or tender.get("id")),
                gateway="cash" if kind == "CASH" else "square",
                amount=amount,
                method=kind.lower()[:60],
                fee=fee,
                is_gift_card=kind == "SQUARE_GIFT_CARD",
            )
        )
    return payments


def order_normalise(order: Mapping[str, Any], skus: Mapping[str, str] | None = None) -> docs.CanonicalOrder:
    order_id = str(require(order, "id"))
    total, currency = _money(order.get("total_money"), field="total_money")
    taxes_by_uid = {tax.get("uid"): tax for tax in order.get("taxes") or []}
    kinds = {tax.get("type") for tax in taxes_by_uid.values()}
    if {"ADDITIVE", "INCLUSIVE"} <= kinds:
        raise NormaliseError("The order mixes inclusive and additive taxes; post it by hand.")
    included = "INCLUSIVE" in kinds
    lines, discounts = _line_items(order, currency, taxes_by_uid, skus or {})
    shipping = _service_charges(order, currency, taxes_by_uid, included=included)
    payments = _tenders(order, currency)
    state = order.get("state")
    placed_at = timestamp(require(order, "created_at"), field="created_at")
    paid = sum((payment.amount for payment in payments), Decimal(0))
    closed_at = optional_timestamp(order.get("closed_at"), field="closed_at")
    return docs.CanonicalOrder(
        external_id=order_id,
        source_version=int(order.get("version") or version(timestamp(order.get("updated_at"), field="updated_at"))),
        currency=currency,
        placed_at=placed_at,
        lines=tuple(lines),
        channel=str((order.get("source") or {}).get("name") or "square")[:60],
        store=str(order.get("location_id") or "")[:60],
        paid_at=(closed_at or placed_at) if payments and paid == total else None,
        cancelled_at=optional_timestamp(order.get("updated_at"), field="updated_at") if state == "CANCELED" else None,
        customer_ref=str(order.get("customer_id") or "")[:120],
        taxes_included=included,
        discounts=tuple(discounts),
        shipping_lines=tuple(shipping),
        payments=tuple(payments) if paid == total else (),
        vendor_total=total,
        **destination(*_ship_to(order)),
    )


def _ship_to(order: Mapping[str, Any]) -> tuple[Any, Any]:
    """The country and state of the order's first shipment fulfillment's recipient, if any."""
    for fulfillment in order.get("fulfillments") or []:
        if isinstance(fulfillment, dict) and fulfillment.get("type") == "SHIPMENT":
            recipient = (fulfillment.get("shipment_details") or {}).get("recipient") or {}
            address = recipient.get("address") or {}
            return address.get("country"), address.get("administrative_district_level_1")
    return None, None


def _recipient(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for fulfillment in order.get("fulfillments") or []:
        if isinstance(fulfillment, dict) and fulfillment.get("type") == "SHIPMENT":
            recipient = (fulfillment.get("shipment_details") or {}).get("recipient")
            return recipient if isinstance(recipient, Mapping) else None
    return None


def ship_to(*, topic: str, payload: Any) -> docs.ShipToDoc | None:
    """The recipient of the order's first SHIPMENT fulfillment, or None. A webhook event only
    names the order (`data.object.order_created` has no fulfillments; the inbox fetched the order
    and kept it nowhere), so an order stored from an event has no address here: None."""
    if not isinstance(payload, dict) or is_event(payload) or topic not in (*ORDER_TOPICS, "orders"):
        return None
    recipient = _recipient(saved_object(payload, topic))
    if recipient is None:
        return None
    address = recipient.get("address") if isinstance(recipient.get("address"), Mapping) else {}
    return ship_to_doc(
        name=recipient.get("display_name"),
        street1=address.get("address_line_1"),
        street2=address.get("address_line_2"),
        city=address.get("locality"),
        state=address.get("administrative_district_level_1"),
        postal_code=address.get("postal_code"),
        country=address.get("country"),
        phone=recipient.get("phone_number"),
    )


def is_event(payload: Any) -> bool:
    """A Square webhook event envelope: `type` and a `data` object."""
    return isinstance(payload, dict) and isinstance(payload.get("type"), str) and isinstance(payload.get("data"), dict)


def saved_object(payload: Mapping[str, Any], topic: str) -> Mapping[str, Any]:
    """The object of a saved API response: `{"order": …}`, `{"refund": …}`, `{"payout": …}` or bare."""
    for key in ("order", "refund", "payout"):
        if key in topic and isinstance(payload.get(key), dict):
            return payload[key]
    return payload


def refund_normalise(refund: Mapping[str, Any], return_order: Mapping[str, Any] | None) -> docs.CanonicalRefund | None:
    """A completed refund; None while pending or when it failed. With its itemised return order the
    refund carries the returned lines; without one (an amount-only refund, Square's RefundPayment
    without itemisation) it is a refund of its amount with no lines against the refund's order,
    and posting decides how that amount is spread (DESIGN.md §4)."""
    if refund.get("status") != "COMPLETED":
        return None
    refund_id = str(require(refund, "id"))
    amount, currency = _money(refund.get("amount_money"), field="refund.amount_money")
    returns = (return_order or {}).get("returns") or []
    lines = []
    shipping = Decimal(0)
    source_order = str(require(returns[0], "source_order_id")) if returns else str(require(refund, "order_id"))
    for ret in returns:
        for line in ret.get("return_line_items") or []:
            lines.append(
                docs.RefundLineDoc(
                    line_external_id=str(require(line, "source_line_item_uid")),
                    quantity=_quantity(line.get("quantity"), field="return_line_items.quantity"),
                )
            )
        for charge in ret.get("return_service_charges") or []:
            value, _ = _money(charge.get("total_money"), field="return_service_charges.total_money", currency=currency)
            shipping += value
    updated = timestamp(refund.get("updated_at") or refund.get("created_at"), field="updated_at")
    return docs.CanonicalRefund(
        external_id=refund_id,
        order_external_id=source_order,
        source_version=version(updated),
        currency=currency,
        processed_at=updated,
        lines=tuple(lines),
        shipping=shipping,
        gateway="square",
        amount=amount,
        reason=str(refund.get("reason") or "")[:255],
    )


def payout_normalise(
    payout: Mapping[str, Any], entries: list[Mapping[str, Any]], references: Mapping[str, str]
) -> docs.CanonicalPayout:
    """A payout with its entries. Gross and fee keep Square's signs (a refund's fee comes back as a
    negative fee), so gross - fee is Square's `net_amount_money` for every entry."""
    amount, currency = _money(payout.get("amount_money"), field="payout.amount_money")
    if not isinstance(entries, list):
        raise NormaliseError("payout_entries: is not a list.")
    lines = []
    for index, entry in enumerate(entries):
        field = f"payout_entries[{index}]"
        if not isinstance(entry, dict):
            raise NormaliseError(f"{field}: {entry!r} is not a payout entry.")
        kind = str(entry.get("type") or "").strip().upper()
        line_type = ENTRY_TYPES.get(kind, docs.PAYOUT_OTHER)
        gross, _ = _money(entry.get("gross_amount_money"), field=f"{field}.gross_amount_money", currency=currency)
        fee = Decimal(0)
        if entry.get("fee_amount_money"):
            fee, _ = _money(entry["fee_amount_money"], field=f"{field}.fee_amount_money", currency=currency)
        if line_type == docs.PAYOUT_CHARGE:
            payment_id = str((entry.get("type_charge_details") or {}).get("payment_id") or "")
            reference = references.get(payment_id, payment_id)
        elif line_type == docs.PAYOUT_REFUND:
            reference = str((entry.get("type_refund_details") or {}).get("refund_id") or "")
        else:
            reference = ""
        lines.append(
            docs.PayoutLineDoc(
                type=line_type,
                amount=gross,
                fee=fee,
                reference=reference[:120],
                external_id=str(entry.get("id") or "")[:120],
                description=kind.lower()[:255],
                vendor_type=kind[:60],
            )
        )
    try:
        arrival = dt.date.fromisoformat(str(payout.get("arrival_date")))
    except ValueError:
        raise NormaliseError(f"payout.arrival_date: {payout.get('arrival_date')!r} is not a date.") from None
    return docs.CanonicalPayout(
        external_id=str(require(payout, "id")),
        source_version=int(payout.get("version") or 1),
        currency=currency,
        arrival_date=arrival,
        amount=amount,
        gateway="square",
        lines=tuple(lines),
    )


class UnmappedSku(NormaliseError):
    """Stock for a catalog item the SKU map cannot name: kept as an exception until the catalog has a SKU."""

    cause = "unmapped_sku"


def inventory_count_normalise(count: Mapping[str, Any], skus: Mapping[str, str]) -> docs.CanonicalInventoryLevel | None:
    """One InventoryCount. Only the IN_STOCK state is stock on hand (SOLD, WASTE, RETURNED_BY_CUSTOMER…
    are not); None for other states. Stock is the SKU's: the variation id goes through the SKU map
    (`skus`, read by the adapter), and a variation without a SKU is `UnmappedSku`."""
    if count.get("state") != ON_HAND_STATE:
        return None
    variation = str(require(count, "catalog_object_id"))
    location = str(require(count, "location_id"))
    if count.get("catalog_object_type") not in (None, "ITEM_VARIATION"):
        raise NormaliseError(
            f"Inventory count for {variation} is a {count.get('catalog_object_type')}, not a variation."
        )
    raw = count.get("quantity")
    try:
        quantity = Decimal(str(raw))
    except ArithmeticError:
        raise NormaliseError(f"quantity: {raw!r} is not a quantity.") from None
    if raw is None or isinstance(raw, bool | float) or not quantity.is_finite():
        raise NormaliseError(f"quantity: {raw!r} is not a quantity.")
    calculated = timestamp(require(count, "calculated_at"), field="calculated_at")
    sku = skus.get(variation)
    if not sku:
        raise UnmappedSku(
            f"Square item variation {variation} has no SKU in the catalog: give it one in Square, "
            "refresh the connection's SKU map, then retry."
        )
    return docs.CanonicalInventoryLevel(
        location_external_id=location,
        sku=sku[:120],
        on_hand=quantity,
        source_version=version(calculated),
        external_id=variation[:120],
        updated_at=calculated,
    )


def refund_of(topic: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The refund of an event or of a saved API response."""
    refund = require(payload, "data", "object", "refund") if is_event(payload) else saved_object(payload, topic)
    if not isinstance(refund, dict):
        raise NormaliseError("refund: is not an object.")
    return refund


def payout_of(topic: str, payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], Any]:
    """The payout of an event or of a saved API response, and its entries when the payload has them
    (None: they are read from Square)."""
    if is_event(payload):
        return require(payload, "data", "object", "payout"), None
    entries = payload.get("entries") if "entries" in payload else payload.get("payout_entries")
    return saved_object(payload, topic), entries


def catalog_ids(topic: str, payload: Any, order: Any = None) -> list[str]:
    """The catalog item variation ids an event's stock counts or order lines name (for the SKU map)."""
    if not isinstance(payload, dict):
        return []
    if topic == INVENTORY_POLL_TOPIC:
        counts: Any = [payload]
    elif topic == INVENTORY_TOPIC:
        counts = ((payload.get("data") or {}).get("object") or {}).get("inventory_counts") or []
    else:
        source = order if isinstance(order, dict) else payload
        counts = source.get("line_items") or [] if isinstance(source, dict) else []
    if not isinstance(counts, list):
        return []
    ids = (str(item.get("catalog_object_id") or "") for item in counts if isinstance(item, dict))
    return list(dict.fromkeys(item_id for item_id in ids if item_id))


def _inventory_documents(topic: str, payload: Mapping[str, Any], skus: Mapping[str, str]) -> list[Document]:
    if topic == INVENTORY_POLL_TOPIC:
        document = inventory_count_normalise(payload, skus)
        return [document] if document is not None else []
    counts = require(payload, "data", "object", "inventory_counts")
    if not isinstance(counts, list):
        raise NormaliseError("data.object.inventory_counts is not a list.")
    documents = [inventory_count_normalise(count, skus) for count in counts if isinstance(count, dict)]
    return [document for document in documents if document is not None]


def normalise(*, topic: str, payload: Any, fetched: Mapping[str, Any]) -> list[Document]:
    """The event's documents. `fetched` holds the `order` an order event names, a refund's
    `return_order` (None for an amount-only refund), a payout's `entries` and the stored orders its
    payments belong to (`references`: payment id → order id), and the SKU map's `skus` for the
    variation ids the event's stock counts or order lines name."""
    if not isinstance(payload, dict):
        raise NormaliseError("The payload is not a JSON object.")
    if topic in PAYMENT_TOPICS:
        return []  # a payment is the order's tender; the order event carries it
    skus = fetched.get("skus") or {}
    if topic in (INVENTORY_TOPIC, INVENTORY_POLL_TOPIC):
        return _inventory_documents(topic, payload, skus)
    if topic == "orders" or (topic in ORDER_TOPICS and not is_event(payload)):
        saved = saved_object(payload, topic)
        return [order_normalise(saved, skus), *returns_normalise(saved)]
    if topic in ORDER_TOPICS:
        order = fetched.get("order")
        if not isinstance(order, dict):
            raise NormaliseError(f"Square returned no order {require(payload, 'data', 'id')}.")
        return [order_normalise(order, skus), *returns_normalise(order)]
    if topic in REFUND_TOPICS:
        refund = refund_of(topic, payload)
        if refund.get("status") != "COMPLETED":
            return []
        document = refund_normalise(refund, fetched.get("return_order"))
        return [document] if document else []
    if topic in (*PAYOUT_TOPICS, "payouts"):
        payout, _ = payout_of(topic, payload)
        entries = fetched.get("entries")
        if not isinstance(entries, list):
            raise NormaliseError("payout_entries: is not a list.")
        return [payout_normalise(payout, entries, fetched.get("references") or {})]
    raise NormaliseError(f"Topic {topic!r} is not handled by Square.")
