"""Money at risk of commerce documents (triage/money.py): what an order, refund or payout an
exception holds back is worth. Registered from `CommerceConfig.ready()`."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Sum

from commerce.models import Order, Payout, Refund
from core.money import quantize
from triage.money import money_at_risk_resolver


def _sum(rows, expression) -> Decimal:
    return rows.aggregate(total=Sum(expression))["total"] or Decimal(0)


@money_at_risk_resolver("commerce.order")
def order_at_risk(order: Order) -> tuple[Decimal, str]:
    """What the customer pays, from line-level amounts (as posting computes it): lines after their
    discounts, less order-level discounts, shipping as printed, and taxes unless prices include them."""
    total = _sum(order.lines.all(), "net") + _sum(order.shipping_lines.all(), "amount")
    total -= _sum(order.discounts.filter(order_line__isnull=True), "amount")
    if not order.taxes_included:
        total += _sum(order.tax_lines.all(), "amount")
    return quantize(total, order.currency), order.currency


@money_at_risk_resolver("commerce.refund")
def refund_at_risk(refund: Refund) -> tuple[Decimal, str]:
    """The refund's stated amount; without one, its lines at their order lines' net unit price
    plus the refunded shipping."""
    if refund.amount is not None:
        return quantize(refund.amount, refund.currency), refund.currency
    unit_net = ExpressionWrapper(
        F("quantity") * F("order_line__net") / F("order_line__quantity"),
        output_field=DecimalField(max_digits=18, decimal_places=4),
    )
    total = _sum(refund.lines.filter(order_line__quantity__gt=0), unit_net) + refund.shipping
    return quantize(total, refund.currency), refund.currency


@money_at_risk_resolver("commerce.payout")
def payout_at_risk(payout: Payout) -> tuple[Decimal, str]:
    """The payout's net deposit."""
    return quantize(payout.amount, payout.currency), payout.currency
