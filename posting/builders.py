"""Journal builders: pure functions from canonical documents and the posting policy to balanced
lines by posting role. Accounts are resolved later (posting.services), so everything here is tested
without a database.

Order entry (DESIGN.md §4), per line and then summed per role and conditions:
- revenue = line gross, less the line's included tax when prices include tax, less merchant-funded
  discounts when discounts are presented net;
- discounts: merchant-funded → Dr `discount` (gross presentation), vendor-funded → Dr
  `vendor_funded_discount_receivable` (either presentation: the vendor owes it back);
- an order-level discount is allocated to lines in proportion to their gross amount (DESIGN.md §4),
  by largest remainder, unless the vendor stated its own per-line allocations
  (`OrderLineDoc.discount_allocations`): those are used when they sum to the discount, otherwise
  the gross allocation is used and a warning raised. A line discounted beyond its gross is refused.
  With `allocation=order` its discount line carries no product category (net presentation always
  allocates, since revenue per category must be reduced);
- tax per jurisdiction → Cr `tax_payable`; marketplace-facilitator tax → Cr
  `marketplace_tax_collected` and Dr `marketplace_tax_remitted` with the marketplace keeping it
  (Cr `payment_clearing`), never the merchant's tax payable;
- payments → Dr `payment_clearing` per gateway/method, gift cards → Dr `gift_card_liability`.
Refund entries: posting.refund_builders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from commerce.documents import (
    COLLECTED_BY_MARKETPLACE,
    FUNDING_VENDOR,
    PAYOUT_ADJUSTMENT,
    PAYOUT_CHARGE,
    PAYOUT_FEE,
    PAYOUT_REFUND,
    PAYOUT_RESERVE,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalProcessorCharge,
    OrderLineDoc,
    PaymentDoc,
)
from core.money import MoneyError, allocate, quantize, zero
from mappings.models import PostingRole

ROLE_ORDER = [role.value for role in PostingRole]


@dataclass(frozen=True)
class Problem:
    # unmapped | unbalanced | refund_exceeds_posted | currency_mismatch | totals_mismatch | invalid
    # | payout_suspense
    kind: str
    message: str
    role: str = ""
    conditions: tuple[tuple[str, str], ...] = ()


class PostingRefused(Exception):
    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))

    @property
    def kinds(self) -> list[str]:
        return [problem.kind for problem in self.problems]


@dataclass(frozen=True)
class RoleLine:
    role: str
    conditions: tuple[tuple[str, str], ...]
    debit: Decimal
    credit: Decimal
    description: str = ""

    @property
    def conditions_dict(self) -> dict[str, str]:
        return dict(self.conditions)


@dataclass(frozen=True)
class Draft:
    currency: str
    memo: str
    lines: list[RoleLine]
    warnings: list[Problem] = field(default_factory=list)

    def totals(self) -> tuple[Decimal, Decimal]:
        return (
            sum((line.debit for line in self.lines), Decimal(0)),
            sum((line.credit for line in self.lines), Decimal(0)),
        )


@dataclass(frozen=True)
class Policy:
    """The parts of `PostingPolicy` the builders read (kept separate so builders stay pure)."""

    discounts: str = "gross"
    allocation: str = "lines"
    unallocated_refunds: str = "prorate"  # a lineless refund below what is left: prorate | refunds_account


class Lines:
    """Signed amounts per (role, conditions, side); a positive amount is a debit."""

    def __init__(self, currency: str, base: dict[str, str]):
        self.currency = currency
        self.base = {key: value for key, value in base.items() if value}
        self.amounts: dict[tuple[str, tuple, str], Decimal] = defaultdict(Decimal)

    def _key(self, role: str, conditions: dict[str, str], side: str):
        merged = {**self.base, **{key: value for key, value in conditions.items() if value}}
        return (str(role), tuple(sorted(merged.items())), side)

    def debit(self, role: str, amount: Decimal, **conditions: str) -> None:
        if amount < 0:
            self.credit(role, -amount, **conditions)
        elif amount > 0:
            self.amounts[self._key(role, conditions, "debit")] += amount

    def credit(self, role: str, amount: Decimal, **conditions: str) -> None:
        if amount < 0:
            self.debit(role, -amount, **conditions)
        elif amount > 0:
            self.amounts[self._key(role, conditions, "credit")] += amount

    def result(self) -> list[RoleLine]:
        lines = []
        for (role, conditions, side), amount in self.amounts.items():
            if amount == 0:
                continue
            described = ", ".join(value for key, value in conditions if key not in self.base)
            description = PostingRole(role).label + (f" ({described})" if described else "")
            debit = amount if side == "debit" else zero(self.currency)
            credit = amount if side == "credit" else zero(self.currency)
            lines.append(
                RoleLine(role, conditions, quantize(debit, self.currency), quantize(credit, self.currency), description)
            )
        lines.sort(key=lambda line: (line.debit == 0, ROLE_ORDER.index(line.role), line.conditions))
        return lines


# --- what an order posts, per line -------------------------------------------------------------


@dataclass(frozen=True)
class LineShare:
    line_id: str
    category: str
    quantity: int
    revenue: Decimal
    discounts: tuple[tuple[str, bool, Decimal], ...]  # (funding, order_level, amount)
    taxes: tuple[tuple[str, str, Decimal], ...]  # (jurisdiction, collected_by, amount)


@dataclass(frozen=True)
class OrderShares:
    currency: str
    lines: tuple[LineShare, ...]
    shipping_income: Decimal
    shipping_printed: Decimal  # shipping as printed (incl. tax when inclusive): the refund ratio base
    shipping_taxes: tuple[tuple[str, str, Decimal], ...]
    total: Decimal  # what the customer pays, from line-level amounts
    warnings: tuple[Problem, ...] = ()


def _tax_sum(taxes: Iterable) -> dict[tuple[str, str], Decimal]:
    summed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for tax in taxes:
        summed[(tax.jurisdiction, tax.collected_by)] += tax.amount
    return summed


def _order_discounts(
    order: CanonicalOrder, grosses: list[Decimal]
) -> tuple[dict[str, list[tuple[str, bool, Decimal]]], list[Problem]]:
    """Each line's discounts as (funding, order_level, amount): its own, and its part of every
    order-level discount (the vendor's allocation when it sums to the discount, else by gross)."""
    currency = order.currency
    line_discounts: dict[str, list[tuple[str, bool, Decimal]]] = defaultdict(list)
    for discount in order.discounts:
        if discount.line_external_id is not None:
            line_discounts[discount.line_external_id].append((discount.funding, False, discount.amount))
    warnings: list[Problem] = []
    vendor_parts: dict[int, list[Decimal]] = {}
    for number, line in enumerate(order.lines):
        for index, amount in line.discount_allocations:
            vendor_parts.setdefault(index, [Decimal(0)] * len(order.lines))[number] += amount
    for index, discount in enumerate(order.discounts):
        if discount.line_external_id is not None:
            continue
        name = discount.code or discount.promotion_id or f"#{index}"
        parts = vendor_parts.get(index)
        if parts is not None and sum(parts, Decimal(0)) != discount.amount:
            warnings.append(
                Problem(
                    "totals_mismatch",
                    f"The vendor's allocations of order discount {name} sum to {sum(parts, Decimal(0))}, not "
                    f"{discount.amount}; allocated by gross amount instead.",
                )
            )
            parts = None
        if parts is None:
            try:
                parts = allocate(discount.amount, grosses, currency)
            except MoneyError as error:
                raise PostingRefused([Problem("invalid", f"Order discount {name}: {error}")]) from error
        for line, part in zip(order.lines, parts, strict=True):
            if part:
                line_discounts[line.external_id].append((discount.funding, True, part))
    return line_discounts, warnings


def _line_share(
    line: OrderLineDoc,
    gross: Decimal,
    discounts: tuple[tuple[str, bool, Decimal], ...],
    *,
    order: CanonicalOrder,
    net: bool,
) -> tuple[LineShare, Decimal]:
    """The line's share of the order's posting, and what the customer pays for it."""
    taxes = _tax_sum(line.taxes)
    tax_total = sum(taxes.values(), Decimal(0))
    discount_total = sum((amount for _f, _o, amount in discounts), Decimal(0))
    revenue = gross - tax_total if order.taxes_included else gross
    if net:
        revenue -= sum((amount for funding, _o, amount in discounts if funding != FUNDING_VENDOR), Decimal(0))
    share = LineShare(
        line_id=line.external_id,
        category=line.product_category,
        quantity=line.quantity,
        revenue=revenue,
        discounts=discounts,
        taxes=tuple((jurisdiction, by, amount) for (jurisdiction, by), amount in taxes.items()),
    )
    return share, gross - discount_total + (Decimal(0) if order.taxes_included else tax_total)


def order_shares(order: CanonicalOrder, policy: Policy) -> OrderShares:
    currency = order.currency
    grosses = [quantize(line.gross, currency) for line in order.lines]
    line_discounts, warnings = _order_discounts(order, grosses)
    for line, gross in zip(order.lines, grosses, strict=True):
        discounted = sum((amount for _f, _o, amount in line_discounts[line.external_id]), Decimal(0))
        if discounted > gross:
            raise PostingRefused(
                [
                    Problem(
                        "invalid",
                        f"Discounts of {discounted} {currency} on line {line.external_id!r} exceed its gross "
                        f"amount of {gross} {currency}.",
                    )
                ]
            )
    shares = []
    total = Decimal(0)
    for line, gross in zip(order.lines, grosses, strict=True):
        share, paid = _line_share(
            line, gross, tuple(line_discounts[line.external_id]), order=order, net=policy.discounts == "net"
        )
        shares.append(share)
        total += paid
    shipping_printed = sum((shipping.amount for shipping in order.shipping_lines), Decimal(0))
    shipping_taxes = _tax_sum(tax for shipping in order.shipping_lines for tax in shipping.taxes)
    shipping_tax_total = sum(shipping_taxes.values(), Decimal(0))
    shipping_income = shipping_printed - shipping_tax_total if order.taxes_included else shipping_printed
    total += shipping_income + shipping_tax_total
    return OrderShares(
        currency=currency,
        lines=tuple(shares),
        shipping_income=shipping_income,
        shipping_printed=shipping_printed,
        shipping_taxes=tuple((j, by, amount) for (j, by), amount in shipping_taxes.items()),
        total=total,
        warnings=tuple(warnings),
    )


def _discount_role(funding: str) -> str:
    return PostingRole.VENDOR_FUNDED_DISCOUNT_RECEIVABLE if funding == FUNDING_VENDOR else PostingRole.DISCOUNT


def _marketplace_gateway(order: CanonicalOrder) -> tuple[str, str] | None:
    payment = next((payment for payment in order.payments if not payment.is_gift_card), None)
    return (payment.gateway, payment.method) if payment else None


class SharesToPost(Protocol):
    """What `shares_post` posts: an order's shares (OrderShares) or a refund's part of them."""

    @property
    def lines(self) -> Sequence[LineShare]: ...

    @property
    def shipping_income(self) -> Decimal: ...

    @property
    def shipping_taxes(self) -> Sequence[tuple[str, str, Decimal]]: ...


def shares_post(
    lines: Lines,
    *,
    order: CanonicalOrder,
    policy: Policy,
    parts: SharesToPost,
    sign: int,
    revenue_role: str,
) -> None:
    """Post line shares and shipping; sign=+1 for an order (revenue credited), -1 for a refund
    (mirrored)."""
    net = policy.discounts == "net"
    marketplace = _marketplace_gateway(order)
    taxes: list[tuple[str, str, Decimal]] = []
    for share in parts.lines:
        lines.credit(revenue_role, sign * share.revenue, product_category=share.category)
        for funding, order_level, amount in share.discounts:
            if net and funding != FUNDING_VENDOR:
                continue
            by_line = not order_level or policy.allocation == "lines" or net
            lines.debit(
                _discount_role(funding),
                sign * amount,
                promotion_funding=funding,
                product_category=share.category if by_line else "",
            )
        taxes.extend(share.taxes)
    lines.credit(PostingRole.SHIPPING_INCOME, sign * parts.shipping_income)
    taxes.extend(parts.shipping_taxes)
    for jurisdiction, collected_by, amount in taxes:
        if collected_by == COLLECTED_BY_MARKETPLACE:
            if marketplace is None:
                raise PostingRefused(
                    [Problem("invalid", "Marketplace-collected tax on an order with no marketplace payment.")]
                )
            gateway, method = marketplace
            lines.credit(PostingRole.MARKETPLACE_TAX_COLLECTED, sign * amount, jurisdiction=jurisdiction)
            lines.debit(PostingRole.MARKETPLACE_TAX_REMITTED, sign * amount, jurisdiction=jurisdiction)
            lines.credit(PostingRole.PAYMENT_CLEARING, sign * amount, gateway=gateway, payment_method=method)
        else:
            lines.credit(PostingRole.TAX_PAYABLE, sign * amount, jurisdiction=jurisdiction)


def order_base(order: CanonicalOrder) -> dict[str, str]:
    return {"channel": order.channel, "store": order.store}


def balanced(draft: Draft) -> Draft:
    debit, credit = draft.totals()
    if debit != credit:
        raise PostingRefused(
            [Problem("unbalanced", f"The entry does not balance: debits {debit} and credits {credit}.")]
        )
    return draft


def build_order(order: CanonicalOrder, policy: Policy, *, book_fees: bool = False) -> Draft:
    """With `book_fees` (a charge of a merchant selling through the processor alone, whose fee the
    processor stated at charge time) each payment's fee is booked now: Dr merchant fees, Cr that
    payment's clearing, so the payout clears only the net (`build_payout`'s `fees_booked`)."""
    currency = order.currency
    shares = order_shares(order, policy)
    paid = sum((payment.amount for payment in order.payments), Decimal(0))
    if paid != shares.total:
        raise PostingRefused(
            [
                Problem(
                    "unbalanced",
                    f"Payments of {paid} {currency} do not equal the order's line-level total of "
                    f"{shares.total} {currency}.",
                )
            ]
        )
    warnings = list(shares.warnings)
    if order.vendor_total is not None and order.vendor_total != shares.total:
        warnings.append(
            Problem(
                "totals_mismatch",
                f"The vendor's order total {order.vendor_total} differs from its lines' total {shares.total}; "
                "posted from the lines.",
            )
        )
    lines = Lines(currency, order_base(order))
    for payment in order.payments:
        if payment.is_gift_card:
            lines.debit(PostingRole.GIFT_CARD_LIABILITY, payment.amount)
        else:
            lines.debit(
                PostingRole.PAYMENT_CLEARING, payment.amount, gateway=payment.gateway, payment_method=payment.method
            )
            if book_fees and payment.fee:
                lines.debit(PostingRole.MERCHANT_FEES, payment.fee, gateway=payment.gateway)
                lines.credit(
                    PostingRole.PAYMENT_CLEARING, payment.fee, gateway=payment.gateway, payment_method=payment.method
                )
    shares_post(
        lines,
        order=order,
        policy=policy,
        parts=shares,
        sign=1,
        revenue_role=PostingRole.REVENUE,
    )
    return balanced(
        Draft(currency=currency, memo=f"Order {order.external_id}", lines=lines.result(), warnings=warnings)
    )


def build_payout(payout: CanonicalPayout, *, fees_booked: frozenset[str] = frozenset()) -> Draft:
    """Dr bank the net paid out; per line, its fee to merchant fees with its sign (a refunded fee,
    negative, credits merchant fees), charges and refunds against payment clearing, fee lines to
    merchant fees, adjustments and reserve to their roles, and any other line (a vendor type
    Tillbridge does not know) to payout suspense with one warning naming the vendor types.
    A charge line whose reference is in `fees_booked` had its fee booked at charge time (Stripe
    processor charges, Stripe sales-channel charges with an expanded balance transaction): its
    fee is matched to that booking, not booked again, and only its net clears."""
    currency = payout.currency
    net = sum((line.amount - line.fee for line in payout.lines), Decimal(0))
    if net != payout.amount:
        raise PostingRefused(
            [
                Problem(
                    "totals_mismatch",
                    f"Payout {payout.external_id} lines net to {net} {currency} "
                    f"but the payout is {payout.amount} {currency}.",
                )
            ]
        )
    lines = Lines(currency, {})
    lines.debit(PostingRole.BANK, payout.amount)
    suspense: dict[str, Decimal] = defaultdict(Decimal)
    for line in payout.lines:
        if line.type == PAYOUT_CHARGE and line.reference and line.reference in fees_booked:
            lines.credit(PostingRole.PAYMENT_CLEARING, line.amount - line.fee, gateway=payout.gateway)
            continue
        lines.debit(PostingRole.MERCHANT_FEES, line.fee, gateway=payout.gateway)
        if line.type in (PAYOUT_CHARGE, PAYOUT_REFUND):
            lines.credit(PostingRole.PAYMENT_CLEARING, line.amount, gateway=payout.gateway)
        elif line.type == PAYOUT_FEE:
            lines.debit(PostingRole.MERCHANT_FEES, -line.amount, gateway=payout.gateway)
        elif line.type == PAYOUT_ADJUSTMENT:
            lines.credit(PostingRole.PAYOUT_ADJUSTMENT, line.amount, gateway=payout.gateway)
        elif line.type == PAYOUT_RESERVE:
            lines.credit(PostingRole.RESERVE, line.amount, gateway=payout.gateway)
        else:  # PAYOUT_OTHER, or a type this code does not know: never a refused payout
            vendor_type = line.vendor_type or line.type or "unknown"
            lines.credit(PostingRole.PAYOUT_SUSPENSE, line.amount, gateway=payout.gateway, vendor_type=vendor_type)
            suspense[vendor_type] += line.amount
    warnings = []
    if suspense:
        listed = ", ".join(f"{vendor_type} ({amount} {currency})" for vendor_type, amount in sorted(suspense.items()))
        warnings.append(
            Problem(
                "payout_suspense",
                f"Payout {payout.external_id} has lines of vendor types the portal does not know, booked to "
                f"payout suspense: {listed}. Reclassify them from the suspense account.",
            )
        )
    return balanced(
        Draft(currency=currency, memo=f"Payout {payout.external_id}", lines=lines.result(), warnings=warnings)
    )


def build_reversal(lines: Sequence[RoleLine], *, currency: str, memo: str) -> Draft:
    """Every line with its sides swapped: a cancellation undoes exactly what was posted."""
    return balanced(
        Draft(
            currency=currency,
            memo=memo,
            lines=[RoleLine(line.role, line.conditions, line.credit, line.debit, line.description) for line in lines],
        )
    )


def build_processor_charge(
    charge: CanonicalProcessorCharge, order: CanonicalOrder, payment: PaymentDoc | None, *, fee: Decimal
) -> Draft:
    """A processor's charge paying a storefront order (DESIGN.md §4, role `processor`): no sale.
    Cr the order's payment clearing (the dimensions its order entry debited) the amount charged;
    Dr merchant fees the fee stated at charge time; Dr the processor's clearing (gateway only, what
    its payout clears) the net. A fee of zero leaves the fee to the payout."""
    currency = order.currency
    if charge.currency != currency:
        raise PostingRefused(
            [
                Problem(
                    "currency_mismatch",
                    f"The charge is in {charge.currency}, order {order.external_id} in {currency}.",
                )
            ]
        )
    if fee > charge.amount:
        raise PostingRefused([Problem("invalid", f"Charge {charge.external_id}: fee {fee} exceeds {charge.amount}.")])
    lines = Lines(currency, {})
    lines.credit(
        PostingRole.PAYMENT_CLEARING,
        charge.amount,
        channel=order.channel,
        store=order.store,
        gateway=payment.gateway if payment else charge.gateway,
        payment_method=payment.method if payment else "",
    )
    lines.debit(PostingRole.MERCHANT_FEES, fee, gateway=charge.gateway)
    lines.debit(PostingRole.PAYMENT_CLEARING, charge.amount - fee, gateway=charge.gateway)
    warnings = []
    if payment is not None and payment.amount != charge.amount:
        warnings.append(
            Problem(
                "totals_mismatch",
                f"{charge.gateway} charge {charge.external_id} of {charge.amount} {currency} settles order "
                f"{order.external_id}, whose payment is {payment.amount} {currency}.",
            )
        )
    memo = f"{charge.gateway} charge {charge.external_id} settles order {order.external_id}"
    return balanced(Draft(currency=currency, memo=memo, lines=lines.result(), warnings=warnings))
