"""Money at risk of commerce documents (triage/money.py): what an order, refund or payout an
exception holds back is worth. Registered from `CommerceConfig.ready()`."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from commerce.models import DiscountAllocation, Order, OrderLine, Payout, Refund, ShippingLine, TaxLine
from core.models import MONEY
from core.money import quantize
from triage.money import money_at_risk_resolver

_MONEY = DecimalField(**MONEY)


def _sum(rows, expression) -> Decimal:
    return rows.aggregate(total=Sum(expression))["total"] or Decimal(0)


def _order_sum(model: type[models.Model], field: str, **filters: object) -> Coalesce:
    rows = model.objects.filter(order=OuterRef("pk"), **filters).order_by().values("order")
    return Coalesce(Subquery(rows.annotate(total=Sum(field)).values("total")), Value(Decimal(0)), output_field=_MONEY)


@money_at_risk_resolver("commerce.order")
def order_at_risk(order: Order) -> tuple[Decimal, str]:
    """What the customer pays, from line-level amounts (as posting computes it): lines after their
    discounts, less order-level discounts, shipping as printed, and taxes unless prices include
    them. One query."""
    sums = (
        Order.objects.filter(pk=order.pk)
        .annotate(
            lines_net=_order_sum(OrderLine, "net"),
            shipping_total=_order_sum(ShippingLine, "amount"),
            order_discounts=_order_sum(DiscountAllocation, "amount", order_line__isnull=True),
            tax_total=_order_sum(TaxLine, "amount"),
        )
        .values("lines_net", "shipping_total", "order_discounts", "tax_total")
        .get()
    )
    total = sums["lines_net"] + sums["shipping_total"] - sums["order_discounts"]
    if not order.taxes_included:
        total += sums["tax_total"]
    return quantize(total, order.currency), order.currency


@money_at_risk_resolver("commerce.refund")
def refund_at_risk(refund: Refund) -> tuple[Decimal, str]:
    """The refund's stated amount; without one, its lines at their order lines' net unit price
    plus the refunded shipping."""
    if refund.amount is not None:
        return quantize(refund.amount, refund.currency), refund.currency
    unit_net = ExpressionWrapper(
        F("quantity") * F("order_line__net") / F("order_line__quantity"),
        output_field=_MONEY,
    )
    total = _sum(refund.lines.filter(order_line__quantity__gt=0), unit_net) + refund.shipping
    return quantize(total, refund.currency), refund.currency


@money_at_risk_resolver("commerce.payout")
def payout_at_risk(payout: Payout) -> tuple[Decimal, str]:
    """The payout's net deposit."""
    return quantize(payout.amount, payout.currency), payout.currency
