"""Refund builder: the mirror of what an order posted for a refund (DESIGN.md §4), pure like the
order builders (posting.builders) it mirrors.

For each refunded line the cumulative share of what the order posted is
`round(posted * refunded_so_far / quantity)`, and this refund takes the difference from the share
before it, so partial refunds never exceed, and the last one exactly exhausts, what was posted.
A refund with an amount and no lines reverses what is left, or follows the policy when it is less.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from commerce.documents import CanonicalOrder, CanonicalRefund
from core.money import MoneyError, allocate, quantize
from mappings.models import PostingRole
from posting.builders import (
    Draft,
    Lines,
    LineShare,
    OrderShares,
    Policy,
    PostingRefused,
    Problem,
    balanced,
    order_base,
    order_shares,
    shares_post,
)


def _cumulative(amount: Decimal, before: Decimal, now: Decimal, whole: Decimal, currency: str) -> Decimal:
    """This step's part of `amount` when `now` more of `whole` is refunded after `before`."""
    return quantize(amount * (before + now) / whole, currency) - quantize(amount * before / whole, currency)


@dataclass
class _Taken:
    """What the order's earlier refunds already reversed: per component of the order's posting
    (revenue, each discount and tax of each line, shipping income, each shipping tax), the refunded
    quantities and printed shipping (the pro-rata bases), and what went to the refunds account."""

    amounts: dict[tuple, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    quantities: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shipping: Decimal = Decimal(0)
    unallocated: Decimal = Decimal(0)

    def copy(self) -> _Taken:
        amounts, quantities = defaultdict(Decimal, self.amounts), defaultdict(int, self.quantities)
        return _Taken(amounts, quantities, self.shipping, self.unallocated)


@dataclass(frozen=True)
class _Reversal:
    lines: list[LineShare]
    shipping_income: Decimal
    shipping_taxes: list[tuple[str, str, Decimal]]
    unallocated: Decimal = Decimal(0)  # booked whole to the refunds account (policy refunds_account)
    note: str = ""


def _take(taken: _Taken, key: tuple, posted: Decimal, part: Decimal) -> Decimal:
    """`part` of a component, never more than what is left of it; recorded as taken."""
    left = posted - taken.amounts[key]
    if part > left:
        part = max(left, Decimal(0))
    taken.amounts[key] += part
    return part


def _remaining(shares: OrderShares, taken: _Taken) -> _Reversal:
    lines = [
        LineShare(
            line_id=share.line_id,
            category=share.category,
            quantity=share.quantity,
            revenue=share.revenue - taken.amounts[("revenue", share.line_id)],
            discounts=tuple(
                (funding, level, amount - taken.amounts[("discount", share.line_id, index)])
                for index, (funding, level, amount) in enumerate(share.discounts)
            ),
            taxes=tuple(
                (jurisdiction, by, amount - taken.amounts[("tax", share.line_id, index)])
                for index, (jurisdiction, by, amount) in enumerate(share.taxes)
            ),
        )
        for share in shares.lines
    ]
    return _Reversal(
        lines=lines,
        shipping_income=shares.shipping_income - taken.amounts[("shipping",)],
        shipping_taxes=[
            (jurisdiction, by, amount - taken.amounts[("shipping_tax", index)])
            for index, (jurisdiction, by, amount) in enumerate(shares.shipping_taxes)
        ],
    )


def _take_all(taken: _Taken, reversal: _Reversal) -> None:
    for share in reversal.lines:
        taken.amounts[("revenue", share.line_id)] += share.revenue
        for index, (_f, _l, amount) in enumerate(share.discounts):
            taken.amounts[("discount", share.line_id, index)] += amount
        for index, (_j, _b, amount) in enumerate(share.taxes):
            taken.amounts[("tax", share.line_id, index)] += amount
    taken.amounts[("shipping",)] += reversal.shipping_income
    for index, (_j, _b, amount) in enumerate(reversal.shipping_taxes):
        taken.amounts[("shipping_tax", index)] += amount
    taken.unallocated += reversal.unallocated


def _reversal_lines(order: CanonicalOrder, policy: Policy, reversal: _Reversal) -> Lines:
    """The refund-side lines of `reversal`: revenue, discounts, tax and shipping reversed, and what
    could not be allocated to a line on the refunds role."""
    lines = Lines(order.currency, order_base(order))
    shares_post(
        lines,
        order=order,
        policy=policy,
        parts=reversal,
        sign=-1,
        revenue_role=PostingRole.REFUNDS,
    )
    lines.debit(PostingRole.REFUNDS, reversal.unallocated)
    return lines


def _net_debit(lines: Lines) -> Decimal:
    return sum((amount if side == "debit" else -amount for (_r, _c, side), amount in lines.amounts.items()), Decimal(0))


def _paid_back(order: CanonicalOrder, policy: Policy, reversal: _Reversal) -> Decimal:
    """What posting `reversal` pays back to the customer: its debits less its credits."""
    return _net_debit(_reversal_lines(order, policy, reversal))


def _line_reversal(*, share: LineShare, before: int, quantity: int, taken: _Taken, currency: str) -> LineShare:
    """`quantity` more of the line after `before` refunded: its cumulative pro-rata share."""
    line_id = share.line_id

    def part(key: tuple, amount: Decimal) -> Decimal:
        return _take(taken, key, amount, _cumulative(amount, before, quantity, share.quantity, currency))

    return LineShare(
        line_id=line_id,
        category=share.category,
        quantity=quantity,
        revenue=part(("revenue", line_id), share.revenue),
        discounts=tuple(
            (funding, level, part(("discount", line_id, index), amount))
            for index, (funding, level, amount) in enumerate(share.discounts)
        ),
        taxes=tuple(
            (jurisdiction, by, part(("tax", line_id, index), amount))
            for index, (jurisdiction, by, amount) in enumerate(share.taxes)
        ),
    )


def _shipping_reversal(
    shares: OrderShares, refund: CanonicalRefund, taken: _Taken, currency: str
) -> tuple[Decimal, list[tuple[str, str, Decimal]], list[Problem]]:
    """The refunded shipping's pro-rata share of shipping income and each shipping tax."""
    if not refund.shipping:
        return Decimal(0), [], []
    if taken.shipping + refund.shipping > shares.shipping_printed:
        problem = Problem(
            "refund_exceeds_posted",
            f"Refunding {refund.shipping} of shipping after {taken.shipping} of {shares.shipping_printed} posted.",
        )
        return Decimal(0), [], [problem]
    whole = shares.shipping_printed

    def part(key: tuple, amount: Decimal) -> Decimal:
        return _take(taken, key, amount, _cumulative(amount, taken.shipping, refund.shipping, whole, currency))

    shipping_income = part(("shipping",), shares.shipping_income)
    shipping_taxes = [
        (jurisdiction, by, part(("shipping_tax", index), amount))
        for index, (jurisdiction, by, amount) in enumerate(shares.shipping_taxes)
    ]
    taken.shipping += refund.shipping
    return shipping_income, shipping_taxes, []


def _reverse_lines(
    order: CanonicalOrder, shares: OrderShares, refund: CanonicalRefund, taken: _Taken
) -> tuple[_Reversal, list[Problem]]:
    """The refunded quantities' pro-rata share (cumulative, so the last refund exhausts exactly
    what was posted), each component capped at what earlier refunds left of it."""
    by_id = {share.line_id: share for share in shares.lines}
    now: dict[str, int] = defaultdict(int)
    for line in refund.lines:
        now[line.line_external_id] += line.quantity
    problems = []
    refunded = []
    for line_id, quantity in now.items():
        share = by_id.get(line_id)
        if share is None:
            problems.append(Problem("invalid", f"Line {line_id!r} is not on order {order.external_id}."))
            continue
        before = taken.quantities[line_id]
        if before + quantity > share.quantity:
            problems.append(
                Problem(
                    "refund_exceeds_posted",
                    f"Line {line_id!r}: refunding {quantity} after {before} of {share.quantity} posted.",
                )
            )
            continue
        refunded.append(
            _line_reversal(share=share, before=before, quantity=quantity, taken=taken, currency=order.currency)
        )
        taken.quantities[line_id] += quantity
    shipping_income, shipping_taxes, shipping_problems = _shipping_reversal(shares, refund, taken, order.currency)
    return _Reversal(refunded, shipping_income, shipping_taxes), problems + shipping_problems


def _reverse_amount(
    order: CanonicalOrder, shares: OrderShares, refund: CanonicalRefund, taken: _Taken, policy: Policy
) -> tuple[_Reversal, list[Problem]]:
    """A refund with an amount and no lines (WooCommerce's automatic full refund, Stripe refunds,
    Shopify order adjustments). Equal to what is left → exactly what is left; less → the policy:
    pro rata over the remaining revenue, tax and shipping by largest remainder, or the whole
    amount to the refunds account. More than is left is refused."""
    currency = order.currency
    amount = refund.amount
    if amount is None or amount <= 0:
        return _Reversal([], Decimal(0), []), [
            Problem("invalid", f"Refund {refund.external_id} has no lines, no shipping and no positive amount.")
        ]
    remaining = _remaining(shares, taken)
    components_left = _paid_back(order, policy, remaining)
    left = components_left - taken.unallocated
    if amount > left:
        return _Reversal([], Decimal(0), []), [
            Problem(
                "refund_exceeds_posted",
                f"Refund {refund.external_id} of {amount} {currency} exceeds the {left} {currency} "
                f"left to refund on order {order.external_id}.",
            )
        ]
    if amount == components_left and not taken.unallocated:
        _take_all(taken, remaining)
        return replace(remaining, note="no lines: everything left reversed"), []
    if policy.unallocated_refunds == "refunds_account":
        reversal = _Reversal([], Decimal(0), [], unallocated=amount, note="no lines: to the refunds account")
        _take_all(taken, reversal)
        return reversal, []
    keys: list[tuple] = []
    weights: list[Decimal] = []
    for share in remaining.lines:
        keys.append(("revenue", share.line_id))
        weights.append(share.revenue)
        for index, (_j, _b, tax) in enumerate(share.taxes):
            keys.append(("tax", share.line_id, index))
            weights.append(tax)
    keys.append(("shipping",))
    weights.append(remaining.shipping_income)
    for index, (_j, _b, tax) in enumerate(remaining.shipping_taxes):
        keys.append(("shipping_tax", index))
        weights.append(tax)
    try:
        allocated = allocate(amount, [max(weight, Decimal(0)) for weight in weights], currency)
        parts = dict(zip(keys, allocated, strict=True))
    except MoneyError as error:
        return _Reversal([], Decimal(0), []), [Problem("invalid", f"Refund {refund.external_id}: {error}")]
    reversal = _Reversal(
        lines=[
            LineShare(
                line_id=share.line_id,
                category=share.category,
                quantity=0,
                revenue=parts[("revenue", share.line_id)],
                discounts=(),
                taxes=tuple(
                    (jurisdiction, by, parts[("tax", share.line_id, index)])
                    for index, (jurisdiction, by, _t) in enumerate(share.taxes)
                ),
            )
            for share in remaining.lines
        ],
        shipping_income=parts[("shipping",)],
        shipping_taxes=[
            (jurisdiction, by, parts[("shipping_tax", index)])
            for index, (jurisdiction, by, _t) in enumerate(remaining.shipping_taxes)
        ],
        note="no lines: pro rata over what is left",
    )
    _take_all(taken, reversal)
    return reversal, []


def _reverse(
    order: CanonicalOrder, shares: OrderShares, refund: CanonicalRefund, taken: _Taken, policy: Policy
) -> tuple[_Reversal, list[Problem]]:
    if not refund.lines and not refund.shipping:
        return _reverse_amount(order, shares, refund, taken, policy)
    return _reverse_lines(order, shares, refund, taken)


def build_refund(
    order: CanonicalOrder, refund: CanonicalRefund, earlier: Sequence[CanonicalRefund], policy: Policy
) -> Draft:
    """The mirror of what `order` posted for the refunded quantities and shipping (or, for a refund
    with an amount and no lines, for that amount: `_reverse_amount`), after `earlier` refunds of
    the same order took their shares. An earlier refund that would be refused took nothing."""
    currency = order.currency
    if refund.currency != currency:
        raise PostingRefused(
            [Problem("currency_mismatch", f"The refund is in {refund.currency}, the order in {currency}.")]
        )
    shares = order_shares(order, policy)
    taken = _Taken()
    for other in earlier:
        trial = taken.copy()
        reversal, problems = _reverse(order, shares, other, trial, policy)
        if not problems and (other.amount is None or other.amount == _paid_back(order, policy, reversal)):
            taken = trial
    reversal, problems = _reverse(order, shares, refund, taken, policy)
    if problems:
        raise PostingRefused(problems)
    lines = _reversal_lines(order, policy, reversal)
    paid_back = _net_debit(lines)
    if refund.amount is not None and refund.amount != paid_back:
        kind = "refund_exceeds_posted" if refund.amount > paid_back else "totals_mismatch"
        raise PostingRefused(
            [
                Problem(
                    kind,
                    f"The vendor refunded {refund.amount} {currency} but the refunded lines "
                    f"posted {paid_back} {currency}.",
                )
            ]
        )
    if refund.is_gift_card:
        lines.credit(PostingRole.GIFT_CARD_LIABILITY, paid_back)
    else:
        payment = next((p for p in order.payments if p.gateway == refund.gateway), None)
        lines.credit(
            PostingRole.PAYMENT_CLEARING,
            paid_back,
            gateway=refund.gateway,
            payment_method=payment.method if payment else "",
        )
    memo = f"Refund {refund.external_id} of order {order.external_id}"
    if reversal.note:
        memo = f"{memo} ({reversal.note})"
    return balanced(Draft(currency=currency, memo=memo, lines=lines.result()))
