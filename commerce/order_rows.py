"""The rows an order document is stored as, built in one place for both writers: `order_upsert`
(commerce.services: one order, a first or a later version) and the batched first writes
(commerce.bulk: many new orders, one INSERT per table). Pure builders: nothing here saves a row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from commerce.documents import CanonicalOrder, FulfilmentDoc, OrderLineDoc, TaxLineDoc, row_values
from commerce.models import (
    DiscountAllocation,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderLine,
    Payment,
    ShippingLine,
    TaxLine,
)


def order_fields(document: CanonicalOrder) -> dict[str, Any]:
    """The order's own fields a version sets (besides its key, version, raw event and currency)."""
    return {
        "channel": document.channel,
        "store": document.store,
        "placed_at": document.placed_at,
        "paid_at": document.paid_at,
        "fulfilled_at": document.fulfilled_at,
        "cancelled_at": document.cancelled_at,
        "customer_ref": document.customer_ref,
        "taxes_included": document.taxes_included,
        "presentment_currency": document.presentment_currency,
        "presentment_amounts": document.presentment_amounts,
        "vendor_total": document.vendor_total,
        "ship_country": document.ship_country,
        "ship_region": document.ship_region,
    }


def line_discounts(document: CanonicalOrder) -> dict[str, Decimal]:
    """Order line external id → the total of the discounts on that line (order-level ones left out)."""
    totals: dict[str, Decimal] = {}
    for discount in document.discounts:
        if discount.line_external_id is not None:
            totals[discount.line_external_id] = totals.get(discount.line_external_id, Decimal(0)) + discount.amount
    return totals


def order_line_fields(position: int, doc: OrderLineDoc, discounts: dict[str, Decimal]) -> dict[str, Any]:
    """An order line's fields besides its order and external id; `discounts` from `line_discounts`."""
    discount = discounts.get(doc.external_id, Decimal(0))
    return {
        "position": position,
        "sku": doc.sku,
        "title": doc.title,
        "product_category": doc.product_category,
        "quantity": doc.quantity,
        "unit_price": doc.unit_price,
        "gross": doc.gross,
        "discount_total": discount,
        "net": doc.gross - discount,
        "discount_allocations": [[index, str(amount)] for index, amount in doc.discount_allocations],
    }


def shipping_rows(order: Order, document: CanonicalOrder) -> list[ShippingLine]:
    return [
        ShippingLine(order=order, position=position, **row_values(doc, exclude=("taxes",)))
        for position, doc in enumerate(document.shipping_lines)
    ]


def taxes_add(taxes: list[TaxLine], order: Order, docs: tuple[TaxLineDoc, ...], **owner: models.Model) -> None:
    """Append the tax lines of one order line or shipping line (`owner`) to `taxes`, numbered on
    from the last one there."""
    start = len(taxes)  # read once: `extend` grows the list while it reads the generator
    taxes.extend(
        TaxLine(
            order=order,
            position=start + index,
            **owner,
            jurisdiction=tax.jurisdiction,
            rate=tax.rate,
            amount=tax.amount,
            collected_by=tax.collected_by,
        )
        for index, tax in enumerate(docs)
    )


def discount_rows(order: Order, document: CanonicalOrder, lines: dict[str, OrderLine]) -> list[DiscountAllocation]:
    """The order's discounts; `lines` maps the stored lines by external id."""
    return [
        DiscountAllocation(
            order=order,
            position=position,
            order_line=lines[doc.line_external_id] if doc.line_external_id is not None else None,
            code=doc.code,
            promotion_id=doc.promotion_id,
            funding=doc.funding,
            amount=doc.amount,
        )
        for position, doc in enumerate(document.discounts)
    ]


def payment_rows(order: Order, document: CanonicalOrder) -> list[Payment]:
    return [
        Payment(order=order, position=position, **row_values(doc)) for position, doc in enumerate(document.payments)
    ]


def fulfilment_row(order: Order, doc: FulfilmentDoc) -> Fulfilment:
    """A channel fulfilment of the order (its lines: `fulfilment_line_rows` once it is stored)."""
    return Fulfilment(order=order, external_id=doc.external_id, fulfilled_at=doc.fulfilled_at, location=doc.location)


def fulfilment_line_rows(
    fulfilment: Fulfilment, doc: FulfilmentDoc, lines: dict[str, OrderLine]
) -> list[FulfilmentLine]:
    return [
        FulfilmentLine(fulfilment=fulfilment, order_line=lines[line_id], quantity=quantity)
        for line_id, quantity in doc.lines
    ]
