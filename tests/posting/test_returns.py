"""Returns in the ledger (posting/returns.py): restocking fee, return shipping (merchant or
customer), a received return without a refund (accrual, released by the refund), a refund
without a received return, and an exchange — each entry balanced, on exact accounts."""

from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.db.models import Sum
from django_tenants.utils import tenant_context

from commerce.documents import PaymentDoc
from commerce.models import Return
from commerce.returns import (
    LineRequest,
    return_approve,
    return_create,
    return_inspect,
    return_receive,
    return_refund_link,
)
from commerce.services import order_upsert, refund_upsert
from mappings.models import PostingRole
from mappings.services import standard_chart_apply
from mappings.standard import STANDARD_ACCOUNTS, STANDARD_RULES
from posting.models import JournalEntry, JournalLine
from posting.returns import ReturnMoney, build_return_accrual, build_return_deductions, build_return_shipping
from posting.selectors import entry_balance
from posting.services import journal_post_order, journal_post_refund
from tests.commerce.factories import refund, shopify_order


@pytest.fixture
def acme(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        yield world


def lines_of(key):
    entry = JournalEntry.objects.get(source_key=key)
    return [(line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account")]


def all_balanced():
    return JournalEntry.objects.exists() and all(entry_balance(entry=e) == 0 for e in JournalEntry.objects.all())


def _posted_order(document=None):
    order = order_upsert(source="shopify", connection_id=7, document=document or shopify_order()).obj
    journal_post_order(order=order)
    return order


def _received(order, world, **changes):
    ret = return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)], **changes)
    ret = return_approve(ret=ret, actor=world.acme_admin)
    return return_receive(ret=ret, actor=world.acme_admin)


def _refunded(order, external_id="r1"):
    posted = refund_upsert(source="shopify", connection_id=7, document=refund(external_id, (("L1", 1),))).obj
    journal_post_refund(refund=posted)
    return posted


def _return_keys(ret):
    return sorted(
        JournalEntry.objects.filter(source_key__startswith=f"return:{ret.pk}:").values_list("source_key", flat=True)
    )


def test_builders_balance_to_the_cent():
    money = ReturnMoney("RMA-1", "USD", D("47.50"), D("4.75"), D("6.99"), "customer", "stripe")
    for draft in (build_return_deductions(money), build_return_shipping(money), build_return_accrual(money)):
        debit, credit = draft.totals()
        assert debit == credit
    assert build_return_deductions(money).totals() == (D("11.74"), D("11.74"))


def test_received_without_refund_accrues_then_the_refund_releases_it(acme):
    order = _posted_order()
    ret = _received(order, acme)
    key = f"return:{ret.pk}:accrual"
    assert lines_of(key) == [("4600", D("47.5000"), D("0")), ("2500", D("0"), D("47.5000"))]
    return_refund_link(ret=ret, refund=_refunded(order))
    assert lines_of(f"{key}:release") == [("2500", D("47.5000"), D("0")), ("4600", D("0"), D("47.5000"))]
    owed = JournalLine.objects.filter(account__code="2500").aggregate(d=Sum("debit"), c=Sum("credit"))
    assert owed["d"] - owed["c"] == 0
    assert all_balanced()


def test_restocking_fee_is_income_kept_from_the_refund(acme):
    order = _posted_order()
    ret = _received(order, acme, restocking_fee=D("4.75"))
    return_refund_link(ret=ret, refund=_refunded(order))
    ret = return_inspect(ret=ret, actor=acme.acme_admin)
    assert ret.status == Return.Status.REFUNDED
    assert lines_of(f"return:{ret.pk}:deductions") == [("1110", D("4.7500"), D("0")), ("4700", D("0"), D("4.7500"))]
    assert _return_keys(ret) == [f"return:{ret.pk}:{k}" for k in ("accrual", "accrual:release", "deductions")]
    assert all_balanced()


def test_return_shipping_paid_by_the_merchant_is_an_expense(acme):
    order = _posted_order()
    ret = _received(order, acme, shipping_cost=D("6.99"))
    assert lines_of(f"return:{ret.pk}:shipping") == [("6300", D("6.9900"), D("0")), ("2400", D("0"), D("6.9900"))]
    return_refund_link(ret=ret, refund=_refunded(order))
    return_inspect(ret=ret, actor=acme.acme_admin)
    assert f"return:{ret.pk}:deductions" not in _return_keys(ret)
    assert all_balanced()


def test_return_shipping_charged_to_the_customer_recovers_the_expense(acme):
    order = _posted_order()
    ret = _received(order, acme, shipping_cost=D("6.99"), shipping_paid_by="customer")
    return_refund_link(ret=ret, refund=_refunded(order))
    return_inspect(ret=ret, actor=acme.acme_admin)
    assert lines_of(f"return:{ret.pk}:deductions") == [("1110", D("6.9900"), D("0")), ("6300", D("0"), D("6.9900"))]
    expense = JournalLine.objects.filter(account__code="6300").aggregate(d=Sum("debit"), c=Sum("credit"))
    assert expense["d"] - expense["c"] == 0
    assert all_balanced()


def test_a_refund_without_a_received_return_posts_the_refund_alone(acme):
    order = _posted_order()
    ret = return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)])
    ret = return_approve(ret=ret, actor=acme.acme_admin)
    posted = _refunded(order)
    return_refund_link(ret=ret, refund=posted)
    assert _return_keys(ret) == []
    assert JournalEntry.objects.filter(source_key__startswith=f"refund:{posted.pk}:").count() == 1
    # the goods arrive later: no accrual, the refund is already there
    return_receive(ret=ret, actor=acme.acme_admin)
    assert _return_keys(ret) == []
    assert all_balanced()


def test_exchange_credits_the_returned_lines_and_nets_with_the_new_order(acme):
    order = _posted_order()
    ret = return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)])
    new = order_upsert(
        source="shopify", connection_id=7, document=shopify_order(external_id="1002", paid_at=None, payments=())
    ).obj
    Return.objects.filter(pk=ret.pk).update(exchange_order=new)
    ret = return_receive(ret=return_approve(ret=Return.objects.get(pk=ret.pk), actor=acme.acme_admin))
    credit = ret.refunds.get()
    assert (credit.external_id, credit.gateway) == (f"exchange-{ret.pk}", "exchange")
    exchange = JournalLine.objects.filter(role="payment_clearing", dimensions__gateway="exchange")
    credited = exchange.aggregate(c=Sum("credit"))["c"]
    assert credited > 0
    assert _return_keys(ret) == []  # refunded by the exchange: nothing owed, no accrual
    # The new order is paid by the exchange credit plus a card for the difference.
    total = D("195.30")
    payments = (
        PaymentDoc("x1", "exchange", credited.quantize(D("0.01"))),
        PaymentDoc("x2", "stripe", total - credited.quantize(D("0.01"))),
    )
    _posted_order(replace(shopify_order(external_id="1002", source_version=2), payments=payments))
    net = exchange.aggregate(d=Sum("debit"), c=Sum("credit"))
    assert net["d"] - net["c"] == 0
    assert all_balanced()


def test_every_posting_role_has_a_standard_chart_rule():
    assert {role for role, _code, _conditions in STANDARD_RULES} == set(PostingRole.values)
    codes = {code for code, *_rest in STANDARD_ACCOUNTS}
    assert all(code in codes for _role, code, _conditions in STANDARD_RULES)
