"""The refunded share of an order's discounts (issue 20): budgets count net spend, so what a refund
took back of a discount no longer counts against the promotion it came from.

A line-level discount is refunded in proportion to the refunded quantity of its line. An order-level
discount is first split over the lines the way the journal builder splits it (the vendor's own
allocations where it gave them, else by line gross, `core.money.allocate`), then each line's part in
proportion to that line's refunded quantity. A refund without lines (an amount only) takes back the
same share of what is left of every discount as its amount is of what the order's payments took.
The shares here are exact; `refunded_split` rounds a total to the currency's minor unit and hands
the remainder out by largest remainder, so the parts add up to the rounded total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from commerce.models import Order
from core.money import MoneyError, allocate, quantize

ZERO = Decimal(0)
ONE = Decimal(1)


def _refunded_quantities(order: Order) -> dict[int, int]:
    """order line id -> units refunded over every refund of the order (at most the line's quantity)."""
    quantities: dict[int, int] = defaultdict(int)
    for refund in order.refunds.all():
        for line in refund.lines.all():
            quantities[line.order_line_id] += line.quantity
    lines = {line.pk: line.quantity for line in order.lines.all()}
    return {pk: min(quantity, lines[pk]) for pk, quantity in quantities.items() if pk in lines}


def _amount_share(order: Order) -> Decimal:
    """The share of the order the refunds without lines gave back: their amount over the payments'."""
    paid = sum((payment.amount for payment in order.payments.all()), ZERO)
    amounts = sum((refund.amount or ZERO for refund in order.refunds.all() if not refund.lines.all()), ZERO)
    if paid <= 0 or amounts <= 0:
        return ZERO
    return min(amounts / paid, ONE)


def discount_line_ids(discount, lines: list) -> set[int]:
    """The order lines a discount applied to: a line discount's line; an order-level discount's lines
    that took a share of it (`discount_allocations` at its position), every line when none says so."""
    if discount.order_line_id is not None:
        return {discount.order_line_id}
    sharing = {
        line.pk for line in lines if any(int(at) == discount.position for at, _ in line.discount_allocations or [])
    }
    return sharing or {line.pk for line in lines}


def _order_level_parts(order: Order, position: int, amount: Decimal) -> dict[int, Decimal]:
    """order line id -> its part of the order-level discount at `position` (as the builder splits it)."""
    lines = list(order.lines.all())
    given = {
        line.pk: Decimal(str(part))
        for line in lines
        for at, part in (line.discount_allocations or [])
        if int(at) == position
    }
    if given:
        return given
    weights = [max(line.gross, ZERO) for line in lines]
    try:
        parts = allocate(amount, weights, order.currency)
    except MoneyError:  # no line with a gross to weigh by: nothing is tied to a line
        return {}
    return {line.pk: part for line, part in zip(lines, parts, strict=True)}


def discounts_refunded(order: Order) -> dict[int, Decimal]:
    """discount allocation id -> the exact (unrounded) part of it the order's refunds took back.
    Expects `lines`, `discounts`, `payments` and `refunds__lines` prefetched (or queries them)."""
    refunded_units = _refunded_quantities(order)
    amount_share = _amount_share(order)
    if not refunded_units and not amount_share:
        return {}
    quantities = {line.pk: line.quantity for line in order.lines.all()}

    def by_units(line_id: int, part: Decimal) -> Decimal:
        whole = quantities.get(line_id) or 0
        return part * refunded_units.get(line_id, 0) / whole if whole else ZERO

    taken: dict[int, Decimal] = {}
    for discount in order.discounts.all():
        if discount.order_line_id is not None:
            by_lines = by_units(discount.order_line_id, discount.amount)
        else:
            parts = _order_level_parts(order, discount.position, discount.amount)
            by_lines = sum((by_units(line_id, part) for line_id, part in parts.items()), ZERO)
        by_lines = min(by_lines, discount.amount)
        taken[discount.pk] = by_lines + (discount.amount - by_lines) * amount_share
    return taken


def refunded_split(exact: Mapping[int, Decimal] | Sequence[tuple[int, Decimal]], currency: str) -> dict[int, Decimal]:
    """The exact refunded parts (key -> amount) rounded so they add up to the rounded total: the
    total is quantised to the currency's minor unit and the remainder goes by largest remainder."""
    items = list(exact.items()) if isinstance(exact, Mapping) else list(exact)
    total = sum((amount for _key, amount in items), ZERO)
    if not items or quantize(total, currency) == 0:
        return {key: quantize(0, currency) for key, _amount in items}
    parts = allocate(quantize(total, currency), [amount for _key, amount in items], currency)
    return {key: part for (key, _amount), part in zip(items, parts, strict=True)}
