"""The row builders shared by `order_upsert` and the batched first writes (commerce.order_rows).
Pure: the rows are built, never saved."""

from __future__ import annotations

from decimal import Decimal as D

from commerce.models import Order, OrderLine, ShippingLine, TaxLine
from commerce.order_rows import (
    discount_rows,
    line_discounts,
    order_fields,
    order_line_fields,
    payment_rows,
    shipping_rows,
    taxes_add,
)
from tests.commerce.factories import shopify_order


def test_line_discounts_sum_each_lines_discounts_and_leave_order_level_ones_out():
    assert line_discounts(shopify_order()) == {"L2": D("10.00"), "L1": D("5.00")}


def test_order_line_fields_net_the_lines_discounts():
    document = shopify_order()
    fields = order_line_fields(0, document.lines[0], line_discounts(document))
    assert (fields["position"], fields["gross"], fields["discount_total"], fields["net"]) == (
        0,
        D("100.00"),
        D("5.00"),
        D("95.00"),
    )
    undiscounted = order_line_fields(2, document.lines[2], line_discounts(document))
    assert (undiscounted["discount_total"], undiscounted["net"]) == (D(0), D("20.00"))


def test_order_fields_carry_the_documents_values():
    fields = order_fields(shopify_order(ship_country="US", ship_region="NY"))
    assert fields["channel"] == "web"
    assert (fields["ship_country"], fields["ship_region"]) == ("US", "NY")
    assert fields["presentment_amounts"] == {"total": "266.10"}


def test_taxes_are_numbered_on_across_owners():
    document = shopify_order()
    order = Order(currency="USD")
    line, shipping = OrderLine(order=order), ShippingLine(order=order)
    taxes: list[TaxLine] = []
    taxes_add(taxes, order, document.lines[0].taxes, order_line=line)
    taxes_add(taxes, order, document.shipping_lines[0].taxes, shipping_line=shipping)
    assert [tax.position for tax in taxes] == [0, 1, 2, 3]
    assert [tax.order_line is line for tax in taxes] == [True, True, False, False]
    assert [tax.amount for tax in taxes[2:]] == [D("0.40"), D("0.45")]


def test_discount_payment_and_shipping_rows_follow_the_document():
    document = shopify_order()
    order = Order(currency="USD")
    lines = {doc.external_id: OrderLine(order=order, external_id=doc.external_id) for doc in document.lines}
    discounts = discount_rows(order, document, lines)
    assert [(row.position, row.amount, row.funding) for row in discounts] == [
        (0, D("10.00"), "merchant"),
        (1, D("5.00"), "vendor"),
        (2, D("15.00"), "merchant"),
    ]
    assert [row.order_line for row in discounts] == [lines["L2"], lines["L1"], None]
    payments = payment_rows(order, document)
    assert [(row.position, row.gateway, row.is_gift_card) for row in payments] == [
        (0, "stripe", False),
        (1, "shopify_gift_card", True),
    ]
    assert [(row.external_id, row.code, row.amount) for row in shipping_rows(order, document)] == [
        ("S1", "std", D("10.00"))
    ]
