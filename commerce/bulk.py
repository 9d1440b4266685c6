"""Set-based writes of many new orders at once (the batched ingest, issue 17).

`orders_create_bulk` writes exactly the rows `order_upsert` writes for an order not stored yet (the
order, its lines, shipping lines, tax lines, discount allocations, payments, channel fulfilments and
reservations, and the usage count), with one INSERT per table for the whole batch instead of one or
more per order. Updates of stored orders keep going through `order_upsert`: only a first version is
written here, so there is nothing to clear, no version to compare and no warehouse fulfilment to
keep. The caller holds the per-order locks and has checked that none of the orders is stored.
`order_children_create` is also how `order_upsert` writes a new version's children.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from commerce import order_rows
from commerce.documents import CanonicalOrder, FulfilmentDoc
from commerce.inventory import _order_location, reservation_hold, stock_changed_mark
from commerce.models import (
    DiscountAllocation,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderLine,
    Payment,
    Reservation,
    ShippingLine,
    TaxLine,
)
from commerce.upserts import document_fields
from tenants.usage import usage_count


@dataclass(frozen=True)
class NewOrder:
    """One order to create: its source, connection and the document already prepared
    (`commerce.services.order_document_prepare`)."""

    source: str
    connection_id: int | None
    document: CanonicalOrder


def _order_row(item: NewOrder) -> Order:
    document = item.document
    return Order(
        source=item.source,
        source_connection_id=item.connection_id,
        external_id=document.external_id,
        **document_fields(document),
        **order_rows.order_fields(document),
    )


def _line_rows(order: Order, document: CanonicalOrder) -> list[OrderLine]:
    discounts = order_rows.line_discounts(document)
    return [
        OrderLine(order=order, external_id=doc.external_id, **order_rows.order_line_fields(position, doc, discounts))
        for position, doc in enumerate(document.lines)
    ]


def _tax_rows(order: Order, document: CanonicalOrder, lines: list[OrderLine], shipping: list[ShippingLine]):
    """The order's tax lines, numbered like `order_upsert` numbers them: each line's, then each
    shipping line's, in document order."""
    rows: list[TaxLine] = []
    for line, doc in zip(lines, document.lines, strict=True):
        order_rows.taxes_add(rows, order, doc.taxes, order_line=line)
    for ship, doc in zip(shipping, document.shipping_lines, strict=True):
        order_rows.taxes_add(rows, order, doc.taxes, shipping_line=ship)
    return rows


def _fulfilments_write(orders: list[Order], documents: list[CanonicalOrder], lines: list[dict[str, OrderLine]]) -> None:
    fulfilments: list[tuple[Fulfilment, FulfilmentDoc, dict[str, OrderLine]]] = []
    for order, document, by_id in zip(orders, documents, lines, strict=True):
        fulfilments.extend((order_rows.fulfilment_row(order, doc), doc, by_id) for doc in document.fulfilments)
    if not fulfilments:
        return
    Fulfilment.objects.bulk_create([fulfilment for fulfilment, _, _ in fulfilments])
    FulfilmentLine.objects.bulk_create(
        row for fulfilment, doc, by_id in fulfilments for row in order_rows.fulfilment_line_rows(fulfilment, doc, by_id)
    )


def _reservations_write(orders: list[Order], items: list[NewOrder], lines: list[list[OrderLine]]) -> None:
    """What `reservations_sync` does for an order with no reservation yet: hold each line's
    unfulfilled quantity at the order's location while the order is open (a new order has no
    refunds), and queue the touched (location, SKU) pairs for the channels' stock push."""
    creates: list[Reservation] = []
    touched: set[tuple[int | None, str]] = set()
    locations: dict[tuple[str, int | None, str], int | None] = {}
    for order, item, order_lines in zip(orders, items, lines, strict=True):
        if order.cancelled_at or order.fulfilled_at:
            continue
        with_sku = [line for line in order_lines if line.sku]
        if not with_sku:
            continue
        fulfilled: dict[str, int] = defaultdict(int)
        for fulfilment in item.document.fulfilments:
            for line_id, quantity in fulfilment.lines:
                fulfilled[line_id] += quantity
        key = (order.source, order.source_connection_id, order.store)
        if key not in locations:
            location = _order_location(order)
            locations[key] = location.pk if location else None
        location_id = locations[key]
        for line in with_sku:
            open_quantity = Decimal(max(0, line.quantity - fulfilled[line.external_id]))
            reservation_hold(creates, touched, order=order, line=line, location_id=location_id, quantity=open_quantity)
    Reservation.objects.bulk_create(creates)
    stock_changed_mark(pairs=touched)


def order_children_create(
    orders: list[Order],
    documents: list[CanonicalOrder],
    lines: list[list[OrderLine]],
    shipping: list[list[ShippingLine]],
) -> None:
    """Insert the tax lines, discount allocations, payments and channel fulfilments of stored
    orders whose lines and shipping lines are stored (in document order), one INSERT per table."""
    taxes: list[TaxLine] = []
    discounts: list[DiscountAllocation] = []
    payments: list[Payment] = []
    by_id = [{line.external_id: line for line in rows} for rows in lines]
    for order, document, order_lines, ships, named in zip(orders, documents, lines, shipping, by_id, strict=True):
        taxes.extend(_tax_rows(order, document, order_lines, ships))
        discounts.extend(order_rows.discount_rows(order, document, named))
        payments.extend(order_rows.payment_rows(order, document))
    TaxLine.objects.bulk_create(taxes)
    DiscountAllocation.objects.bulk_create(discounts)
    Payment.objects.bulk_create(payments)
    _fulfilments_write(orders, documents, by_id)


def orders_create_bulk(*, items: list[NewOrder]) -> list[Order]:
    """Create the orders and all their children set-based, in the caller's transaction. Returns
    the stored orders in the order of `items`."""
    if not items:
        return []
    orders = Order.objects.bulk_create([_order_row(item) for item in items])
    documents = [item.document for item in items]
    lines = [_line_rows(order, document) for order, document in zip(orders, documents, strict=True)]
    shipping = [order_rows.shipping_rows(order, document) for order, document in zip(orders, documents, strict=True)]
    OrderLine.objects.bulk_create([line for rows in lines for line in rows])
    ShippingLine.objects.bulk_create([row for rows in shipping for row in rows])
    order_children_create(orders, documents, lines, shipping)
    _reservations_write(orders, items, lines)
    usage_count(metric="orders_ingested", amount=len(orders))
    return orders
