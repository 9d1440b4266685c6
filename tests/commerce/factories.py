"""Vendor-shaped canonical documents (what the adapters will produce), built with explicit numbers
so each test can state the exact journal it expects."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from commerce.documents import (
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)

PAID_AT = dt.datetime(2026, 3, 14, 15, 30, tzinfo=dt.UTC)
NY = "US-NY"
NYC = "US-NY-NYC"


def ny_taxes(state: str, city: str) -> tuple[TaxLineDoc, ...]:
    return (TaxLineDoc(NY, D("0.04"), D(state)), TaxLineDoc(NYC, D("0.045"), D(city)))


def shopify_order(**changes) -> CanonicalOrder:
    """USD web order: three lines over two categories, a line discount, an order-level coupon
    allocated over the lines by gross amount (7.50/6.00/1.50), a vendor-funded line discount, state and city tax
    on lines and shipping, paid by card and gift card. Line-level total 195.30."""
    order = CanonicalOrder(
        external_id="1001",
        source_version=1,
        currency="USD",
        channel="web",
        placed_at=PAID_AT - dt.timedelta(minutes=2),
        paid_at=PAID_AT,
        customer_ref="cus_1",
        lines=(
            OrderLineDoc("L1", "TEE-BLK", 2, D("50.00"), "apparel", "Tee", ny_taxes("3.49", "3.93")),
            OrderLineDoc("L2", "BOOT-BRN", 1, D("80.00"), "footwear", "Boot", ny_taxes("2.57", "2.89")),
            OrderLineDoc("L3", "SOCK", 1, D("20.00"), "apparel", "Socks", ny_taxes("0.74", "0.83")),
        ),
        discounts=(
            DiscountDoc(D("10.00"), code="BOOTS10", line_external_id="L2"),
            DiscountDoc(D("5.00"), promotion_id="brand-fund", funding="vendor", line_external_id="L1"),
            DiscountDoc(D("15.00"), code="SAVE15"),
        ),
        shipping_lines=(ShippingLineDoc("S1", D("10.00"), code="std", taxes=ny_taxes("0.40", "0.45")),),
        payments=(
            PaymentDoc("p1", "stripe", D("170.30"), method="card", fee=D("5.24")),
            PaymentDoc("p2", "shopify_gift_card", D("25.00"), is_gift_card=True),
        ),
        vendor_total=D("195.30"),
        presentment_currency="CAD",
        presentment_amounts={"total": "266.10"},
    )
    return replace(order, **changes)


def refund(external_id: str, lines: tuple[tuple[str, int], ...], **changes) -> CanonicalRefund:
    document = CanonicalRefund(
        external_id=external_id,
        order_external_id="1001",
        source_version=1,
        currency="USD",
        processed_at=PAID_AT + dt.timedelta(days=3),
        lines=tuple(RefundLineDoc(line_id, quantity) for line_id, quantity in lines),
        gateway="stripe",
    )
    return replace(document, **changes)


def jpy_order(**changes) -> CanonicalOrder:
    """Tax-inclusive JPY: 3 x 1,000 yen including 272 yen consumption tax (vendor rounded down)."""
    order = CanonicalOrder(
        external_id="JP-1",
        source_version=1,
        currency="JPY",
        channel="pos",
        placed_at=PAID_AT,
        paid_at=PAID_AT,
        taxes_included=True,
        lines=(OrderLineDoc("J1", "MUG", 3, D("1000"), "", "Mug", (TaxLineDoc("JP", D("0.10"), D("272")),)),),
        payments=(PaymentDoc("jp1", "square", D("3000"), method="card"),),
    )
    return replace(order, **changes)


def kwd_order(**changes) -> CanonicalOrder:
    """KWD (three decimals): 3 x 1.250 with a 0.100 coupon over two lines and 0.500 shipping."""
    order = CanonicalOrder(
        external_id="KW-1",
        source_version=1,
        currency="KWD",
        channel="web",
        placed_at=PAID_AT,
        paid_at=PAID_AT,
        lines=(
            OrderLineDoc("K1", "SCARF", 2, D("1.250"), "apparel"),
            OrderLineDoc("K2", "SHOE", 1, D("1.250"), "footwear"),
        ),
        discounts=(DiscountDoc(D("0.100"), code="EID"),),
        shipping_lines=(ShippingLineDoc("KS", D("0.500")),),
        payments=(PaymentDoc("kw1", "knet", D("4.150"), method="debit"),),
    )
    return replace(order, **changes)


def stripe_payout(**changes) -> CanonicalPayout:
    """Charge 170.30 (fee 5.24), refund -47.37, a monthly fee, an adjustment and a withheld reserve."""
    payout = CanonicalPayout(
        external_id="po_1",
        source_version=1,
        currency="USD",
        arrival_date=dt.date(2026, 3, 17),
        amount=D("104.59"),
        gateway="stripe",
        lines=(
            PayoutLineDoc("charge", D("170.30"), fee=D("5.24"), reference="1001"),
            PayoutLineDoc("refund", D("-47.47"), reference="R1"),
            PayoutLineDoc("fee", D("-2.00"), description="Monthly fee"),
            PayoutLineDoc("adjustment", D("-1.00"), description="Dispute fee"),
            PayoutLineDoc("reserve", D("-10.00"), description="Rolling reserve"),
        ),
    )
    return replace(payout, **changes)


def stripe_payout_all_types(**changes) -> CanonicalPayout:
    """Every payout line type: charge 170.30 (fee 5.24) for order 1001, refund R1 -47.47, a fee, a fee
    refund, an adjustment, a reserve and a line of a vendor type Tillbridge does not know."""
    lines = (
        PayoutLineDoc("charge", D("170.30"), fee=D("5.24"), reference="1001"),
        PayoutLineDoc("refund", D("-47.47"), reference="R1"),
        PayoutLineDoc("fee", D("-2.00"), description="Monthly fee"),
        PayoutLineDoc("fee", D("0.46"), description="Fee refund", vendor_type="refund_fee"),
        PayoutLineDoc("adjustment", D("-1.00"), description="Dispute fee"),
        PayoutLineDoc("reserve", D("-10.00"), description="Rolling reserve"),
        PayoutLineDoc("other", D("3.25"), description="Mystery", vendor_type="transfer_reversal"),
    )
    return replace(stripe_payout(), lines=lines, amount=D("108.30"), **changes)
