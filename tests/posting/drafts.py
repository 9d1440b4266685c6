"""Helpers shared by the pure builder tests (orders, payouts, refunds): no database."""

from dataclasses import replace
from decimal import Decimal as D

from commerce.documents import PaymentDoc
from posting.builders import Policy
from tests.commerce.factories import shopify_order

GROSS = Policy()


def rows(draft):
    return [(line.role, dict(line.conditions), line.debit, line.credit) for line in draft.lines]


def balanced(draft):
    debit, credit = draft.totals()
    return debit == credit


WEB = {"channel": "web"}


CARD = {**WEB, "gateway": "stripe", "payment_method": "card"}


def card_only_order():
    return shopify_order(payments=(PaymentDoc("p1", "stripe", D("195.30"), method="card"),))


def with_allocations(*amounts):
    order = shopify_order()
    lines = tuple(
        replace(line, discount_allocations=((2, D(amount)),)) for line, amount in zip(order.lines, amounts, strict=True)
    )
    return replace(order, lines=lines)
