"""A month of demo trading for `seed_demo`: orders, refunds and weekly payouts, upserted and posted
through the real services (commerce upserts, posting, payout reconciliation). Deterministic and
idempotent: documents are keyed by their index, so a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import models

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
from commerce.models import Order, Refund
from commerce.services import order_upsert, payout_upsert, refund_upsert
from core.money import quantize
from posting.models import JournalEntry
from posting.reconciliation import payout_reconcile
from posting.services import journal_post_order, journal_post_payout, journal_post_refund

SOURCE = "demo"
ORDERS_PER_DAY = 2
CATALOGUE = [
    ("TEE-BLK", "Black tee", "apparel", Decimal("24.00")),
    ("HOOD-GRY", "Grey hoodie", "apparel", Decimal("55.00")),
    ("SOCK-3PK", "Socks, 3 pack", "apparel", Decimal("12.50")),
    ("BOOT-BRN", "Brown boots", "footwear", Decimal("120.00")),
    ("SNKR-WHT", "White sneakers", "footwear", Decimal("85.00")),
    ("CAP-NVY", "Navy cap", "", Decimal("18.00")),
]
# Sales tax per currency: (jurisdiction, rate) pairs applied to every line and to shipping.
TAXES = {
    "USD": [("US-NY", Decimal("0.04")), ("US-NY-NYC", Decimal("0.045"))],
    "GBP": [("GB", Decimal("0.20"))],
}


@dataclass(frozen=True)
class DemoLedger:
    orders: int
    refunds: int
    payouts: int
    entries: int


def _month(today: dt.date) -> dt.date:
    """The first day of the last full month before `today`."""
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def _taxes(amount: Decimal, currency: str) -> tuple[TaxLineDoc, ...]:
    return tuple(
        TaxLineDoc(jurisdiction, rate, quantize(amount * rate, currency))
        for jurisdiction, rate in TAXES.get(currency, [])
    )


def _order(index: int, day: dt.date, currency: str, rng: random.Random) -> CanonicalOrder:
    paid_at = dt.datetime.combine(day, dt.time(rng.randint(8, 21), rng.randint(0, 59)), tzinfo=dt.UTC)
    picks = rng.sample(CATALOGUE, rng.randint(1, 3))
    coupon_rate = Decimal("0.10") if index % 4 == 0 else Decimal(0)
    lines = []
    subtotal = Decimal(0)
    tax_total = Decimal(0)
    for number, (sku, title, category, price) in enumerate(picks, start=1):
        quantity = rng.randint(1, 3)
        gross = price * quantity
        taxes = _taxes(gross * (1 - coupon_rate), currency)
        lines.append(OrderLineDoc(f"D{index}-L{number}", sku, quantity, price, category, title, taxes))
        subtotal += gross
        tax_total += sum((tax.amount for tax in taxes), Decimal(0))
    discounts = (DiscountDoc(quantize(subtotal * coupon_rate, currency), code="WELCOME10"),) if coupon_rate else ()
    shipping_amount = Decimal("0.00") if subtotal >= 100 else Decimal("6.00")
    shipping = ()
    if shipping_amount:
        shipping_taxes = _taxes(shipping_amount, currency)
        tax_total += sum((tax.amount for tax in shipping_taxes), Decimal(0))
        shipping = (ShippingLineDoc(f"D{index}-S", shipping_amount, code="standard", taxes=shipping_taxes),)
    total = subtotal - sum((discount.amount for discount in discounts), Decimal(0)) + shipping_amount + tax_total
    gift_card = Decimal("10.00") if index % 7 == 3 and total > 10 else Decimal(0)
    payments = [PaymentDoc(f"D{index}-P1", "stripe", quantize(total - gift_card, currency), method="card")]
    if gift_card:
        payments.append(PaymentDoc(f"D{index}-P2", "gift_card", gift_card, is_gift_card=True))
    return CanonicalOrder(
        external_id=f"DEMO-{index:04d}",
        source_version=1,
        currency=currency,
        channel="web" if index % 5 else "pos",
        placed_at=paid_at - dt.timedelta(minutes=3),
        paid_at=paid_at,
        fulfilled_at=paid_at + dt.timedelta(days=1),
        customer_ref=f"cus_{rng.randint(1, 40)}",
        lines=tuple(lines),
        discounts=discounts,
        shipping_lines=shipping,
        payments=tuple(payments),
        vendor_total=quantize(total, currency),
    )


def _refund(order: CanonicalOrder, index: int) -> CanonicalRefund:
    """Every 9th order is returned in full (with shipping), every 6th has one unit of its first line back."""
    processed_at = order.paid_at + dt.timedelta(days=4)
    if index % 9 == 0:
        lines = tuple(RefundLineDoc(line.external_id, line.quantity, restock=True) for line in order.lines)
        shipping = sum((line.amount for line in order.shipping_lines), Decimal(0))
    else:
        lines = (RefundLineDoc(order.lines[0].external_id, 1, restock=True),)
        shipping = Decimal(0)
    return CanonicalRefund(
        external_id=f"{order.external_id}-R1",
        order_external_id=order.external_id,
        source_version=1,
        currency=order.currency,
        processed_at=processed_at,
        lines=lines,
        shipping=shipping,
        gateway="stripe",
        reason="Customer return",
    )


def _posted_clearing(refund: Refund) -> Decimal:
    entry = JournalEntry.objects.get(source_key=f"refund:{refund.pk}:v{refund.source_version}")
    return entry.lines.filter(role="payment_clearing").aggregate(total=models.Sum("credit"))["total"] or Decimal(0)


def _fee(amount: Decimal, currency: str) -> Decimal:
    return quantize(amount * Decimal("0.029") + Decimal("0.30"), currency)


def ledger_demo_seed(*, currency: str, today: dt.date | None = None, seed: int = 7) -> DemoLedger:
    """Post a month of orders (two a day), returns and weekly Stripe payouts in the current schema."""
    start = _month(today or dt.date.today())
    days = ((start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - start).days
    rng = random.Random(f"{seed}:{currency}")  # noqa: S311 - reproducible demo data, not secrets
    charges: dict[int, list[PayoutLineDoc]] = {}
    refunds_posted = 0
    for index in range(days * ORDERS_PER_DAY):
        day = start + dt.timedelta(days=index // ORDERS_PER_DAY)
        document = _order(index, day, currency, rng)
        order: Order = order_upsert(source=SOURCE, connection_id=None, document=document).obj
        journal_post_order(order=order)
        week = (day - start).days // 7
        card = document.payments[0]
        charges.setdefault(week, []).append(
            PayoutLineDoc("charge", card.amount, fee=_fee(card.amount, currency), reference=document.external_id)
        )
        if index % 6 == 0 or index % 9 == 0:
            refund = refund_upsert(source=SOURCE, connection_id=None, document=_refund(document, index)).obj
            journal_post_refund(refund=refund)
            refunds_posted += 1
            refund_week = (refund.processed_at.date() - start).days // 7
            amount = -quantize(_posted_clearing(refund), currency)
            charges.setdefault(refund_week, []).append(PayoutLineDoc("refund", amount, reference=refund.external_id))
    payouts = 0
    for week, lines in sorted(charges.items()):
        net = sum((line.amount - line.fee for line in lines), Decimal(0))
        payout = payout_upsert(
            source=SOURCE,
            connection_id=None,
            document=CanonicalPayout(
                external_id=f"DEMO-PO-{week + 1}",
                source_version=1,
                currency=currency,
                arrival_date=start + dt.timedelta(days=7 * week + 9),
                amount=net,
                gateway="stripe",
                lines=tuple(lines),
            ),
        ).obj
        journal_post_payout(payout=payout)
        payout_reconcile(payout=payout)
        payouts += 1
    return DemoLedger(
        orders=days * ORDERS_PER_DAY, refunds=refunds_posted, payouts=payouts, entries=JournalEntry.objects.count()
    )
