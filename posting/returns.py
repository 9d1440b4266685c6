"""Returns in the ledger (DESIGN.md §4, issue 19). The refund itself posts as every refund does
(posting.services.journal_post_refund: the mirror of what the order posted, never more); a return
adds only what a refund does not say:

- restocking fee (income, kept out of the refund) and return shipping charged to the customer:
  `return:<pk>:deductions` — Dr payment clearing (what was not paid back), Cr restocking fees,
  Cr return shipping (a recovery of the expense). The refund's own entry credits clearing with the
  full mirror of the lines, so clearing nets to what was actually paid back.
- return shipping cost borne by the merchant (the label): `return:<pk>:shipping` — Dr return
  shipping, Cr return shipping payable.
- goods received, no refund yet: `return:<pk>:accrual` — Dr sales returns (the returned lines'
  net value), Cr refunds owed; released (`return:<pk>:accrual:release`, the mirror) when a refund
  is linked. A refund issued without the goods back posts as a refund and nothing more here; the
  missing goods are an exception after N days (commerce.returns_checks).
- exchange (a return plus a new order): the returned lines are credited to the exchange as a
  refund through the `exchange` gateway (its own mirror, tax included); the new order posts as
  any order, so the exchange clearing nets to zero and only the difference moves money.

Every entry balances to the cent (the shared entry writer checks it, the trigger enforces it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from commerce.documents import CanonicalRefund, RefundLineDoc
from commerce.models import Return
from commerce.returns import return_listener_register, return_refund_link
from commerce.services import refund_upsert
from core.money import quantize
from mappings.models import PostingRole
from posting.builders import Draft, RoleLine
from posting.journals import order_sources
from posting.models import JournalEntry
from posting.services import PostingOutcome, PostingStatus, draft_post, journal_post_refund, local_date
from triage.retry import retry_action

EXCHANGE_GATEWAY = "exchange"


@dataclass(frozen=True)
class ReturnMoney:
    """What the builders read of a return (pure: no database)."""

    name: str
    currency: str
    value: Decimal
    restocking_fee: Decimal = Decimal(0)
    shipping_cost: Decimal = Decimal(0)
    shipping_paid_by: str = "merchant"
    gateway: str = ""
    channel: str = ""
    store: str = ""


def _line(role: str, debit: Decimal, credit: Decimal, money: ReturnMoney, **conditions: str) -> RoleLine:
    merged = {"channel": money.channel, "store": money.store, **conditions}
    kept = tuple(sorted((key, value) for key, value in merged.items() if value))
    return RoleLine(
        role, kept, quantize(debit, money.currency), quantize(credit, money.currency), PostingRole(role).label
    )


def build_return_deductions(money: ReturnMoney) -> Draft:
    """Kept from the refund: the restocking fee and the return shipping charged to the customer."""
    charged = money.shipping_cost if money.shipping_paid_by == Return.ShippingPaidBy.CUSTOMER else Decimal(0)
    lines = [
        _line(PostingRole.PAYMENT_CLEARING, money.restocking_fee + charged, Decimal(0), money, gateway=money.gateway)
    ]
    if money.restocking_fee:
        lines.append(_line(PostingRole.RESTOCKING_FEES, Decimal(0), money.restocking_fee, money))
    if charged:
        lines.append(_line(PostingRole.RETURN_SHIPPING, Decimal(0), charged, money))
    return Draft(currency=money.currency, memo=f"Return {money.name}: kept from the refund", lines=lines)


def build_return_shipping(money: ReturnMoney) -> Draft:
    """The return label's cost, an expense owed to the carrier."""
    return Draft(
        currency=money.currency,
        memo=f"Return {money.name}: return shipping",
        lines=[
            _line(PostingRole.RETURN_SHIPPING, money.shipping_cost, Decimal(0), money),
            _line(PostingRole.RETURN_SHIPPING_PAYABLE, Decimal(0), money.shipping_cost, money),
        ],
    )


def build_return_accrual(money: ReturnMoney, *, release: bool = False) -> Draft:
    """Goods back, refund still owed: Dr sales returns, Cr refunds owed (the mirror to release it)."""
    debit_role, credit_role = PostingRole.REFUNDS, PostingRole.REFUNDS_OWED
    if release:
        debit_role, credit_role = credit_role, debit_role
    what = "refund owed released (refund issued)" if release else "received, refund owed"
    return Draft(
        currency=money.currency,
        memo=f"Return {money.name}: {what}",
        lines=[
            _line(debit_role, money.value, Decimal(0), money),
            _line(credit_role, Decimal(0), money.value, money),
        ],
    )


# ---- services -------------------------------------------------------------------------------


def return_money(ret: Return) -> ReturnMoney:
    refund = ret.refunds.order_by("processed_at", "pk").first()
    payment = ret.order.payments.order_by("position").first()
    gateway = (refund.gateway if refund and refund.gateway else "") or (payment.gateway if payment else "")
    return ReturnMoney(
        name=ret.name,
        currency=ret.currency,
        value=ret.value,
        restocking_fee=ret.restocking_fee,
        shipping_cost=ret.shipping_cost,
        shipping_paid_by=ret.shipping_paid_by,
        gateway=gateway,
        channel=ret.order.channel,
        store=ret.order.store,
    )


def _return_post(ret: Return, key: str, build, at: dt.datetime) -> PostingOutcome:
    return draft_post(
        source_key=f"return:{ret.pk}:{key}",
        version_prefix=None,
        date=local_date(at),
        at=at,
        build=build,
        obj=ret,
        title=f"Return {ret.name} ({key}) could not be posted",
        retry_name="posting.return",
        retry_args={"return_id": ret.pk, "key": key},
        sources=[{"type": "return", "id": ret.pk, "external_id": ret.name}, *order_sources(ret.order)],
    )


def journal_post_return(*, ret: Return, key: str) -> PostingOutcome:
    """Post one of a return's entries (`shipping`, `accrual`, `accrual:release`, `deductions`);
    idempotent on its source key, NOT_DUE when the return does not call for it."""
    money = return_money(ret)
    if key == "shipping" and ret.shipping_cost and ret.received_at:
        return _return_post(ret, key, lambda: build_return_shipping(money), ret.received_at)
    if key == "accrual" and ret.received_at and money.value and not ret.refunds.exists():
        return _return_post(ret, key, lambda: build_return_accrual(money), ret.received_at)
    if key == "accrual:release" and JournalEntry.objects.filter(source_key=f"return:{ret.pk}:accrual").exists():
        at = max(ret.refunds.values_list("processed_at", flat=True), default=None) or timezone.now()
        return _return_post(ret, key, lambda: build_return_accrual(money, release=True), max(at, ret.received_at))
    charged = ret.shipping_cost if ret.shipping_paid_by == Return.ShippingPaidBy.CUSTOMER else Decimal(0)
    if key == "deductions" and ret.refunded_at and (ret.restocking_fee or charged):
        return _return_post(ret, key, lambda: build_return_deductions(money), ret.refunded_at)
    return PostingOutcome(PostingStatus.NOT_DUE)


def return_exchange_settle(*, ret: Return) -> PostingOutcome:
    """Credit the returned lines to the exchange order: a refund through the `exchange` gateway,
    posted as the mirror of the original order and linked to the return."""
    order = ret.order
    document = CanonicalRefund(
        external_id=f"exchange-{ret.pk}",
        order_external_id=order.external_id,
        source_version=1,
        currency=order.currency,
        processed_at=ret.received_at or timezone.now(),
        lines=tuple(RefundLineDoc(line.order_line.external_id, line.quantity) for line in ret.lines.all()),
        gateway=EXCHANGE_GATEWAY,
        reason=f"Exchange {ret.name} for order {ret.exchange_order.external_id}",
    )
    refund = refund_upsert(source=order.source, connection_id=order.source_connection_id, document=document).obj
    outcome = journal_post_refund(refund=refund)
    return_refund_link(ret=ret, refund=refund, actor_label="exchange")
    return outcome


def _on_return(*, ret: Return, action: str) -> None:
    """The listener commerce.returns calls inside each transition's transaction."""
    if action == "received":
        if ret.exchange_order_id and not ret.refunds.exists():
            return_exchange_settle(ret=ret)
        journal_post_return(ret=ret, key="shipping")
        journal_post_return(ret=ret, key="accrual")
    elif action == "refund_linked":
        journal_post_return(ret=ret, key="accrual:release")
    elif action == "refunded":
        journal_post_return(ret=ret, key="deductions")


def returns_posting_register() -> None:
    """Called from PostingConfig.ready: commerce cannot import posting, so posting listens."""
    return_listener_register(_on_return)
    retry_action("posting.return")(retry_return)


def retry_return(*, return_id: int, key: str) -> PostingOutcome:
    """Retry action `posting.return`: post the entry again (idempotent)."""
    outcome = journal_post_return(ret=Return.objects.get(pk=return_id), key=key)
    if outcome.status == PostingStatus.REFUSED:
        raise RuntimeError("; ".join(problem.message for problem in outcome.problems))
    return outcome
