"""Return mismatches (commerce/returns_checks.py): refunded but not back after N days, back but not
refunded after N days; raised once a day, retried, resolved when they clear."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Return
from commerce.returns import (
    LineRequest,
    return_approve,
    return_create,
    return_policy_update,
    return_receive,
    return_refunds_match,
)
from commerce.returns_checks import StillMismatched, return_mismatch_retry, returns_mismatch_check
from commerce.services import order_upsert, refund_upsert
from core.periodic import periodic_jobs
from tests.commerce.factories import PAID_AT, refund, shopify_order
from triage.models import Exception as TriageException
from triage.retry import retry_action_get


@pytest.fixture
def acme(world):
    with tenant_context(world.acme):
        yield world


def _approved(world):
    order = order_upsert(source="shopify", connection_id=7, document=shopify_order()).obj
    ret = return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)])
    return order, return_approve(ret=ret, actor=world.acme_admin)


def _refund(processed_at):
    document = refund("r1", (("L1", 1),), processed_at=processed_at)
    return refund_upsert(source="shopify", connection_id=7, document=document).obj


def _open(cause):
    return list(
        TriageException.objects.filter(cause=cause, status="open").values_list("kind", "cause", "count", "retry_name")
    )


def test_the_check_is_a_registered_periodic_job():
    assert periodic_jobs()["commerce.returns_mismatch_check"] is returns_mismatch_check
    assert retry_action_get("commerce.return_mismatch") is return_mismatch_retry


def test_refund_without_goods_back_after_14_days_is_raised_once_a_day(acme):
    _order, ret = _approved(acme)
    _refund(PAID_AT)
    return_refunds_match(ret=ret)
    assert returns_mismatch_check(now=PAID_AT + dt.timedelta(days=13))["raised"] == 0
    assert returns_mismatch_check(now=PAID_AT + dt.timedelta(days=14))["raised"] == 1
    assert returns_mismatch_check(now=PAID_AT + dt.timedelta(days=14, hours=5))["raised"] == 0
    assert _open("return_refund_not_received") == [
        ("reconciliation", "return_refund_not_received", 1, "commerce.return_mismatch")
    ]
    assert returns_mismatch_check(now=PAID_AT + dt.timedelta(days=15, hours=1))["raised"] == 1
    assert _open("return_refund_not_received")[0][2] == 2


def test_goods_back_without_refund_after_the_tenant_days_then_resolved_by_the_retry(acme):
    return_policy_update(received_unrefunded_days=3)
    _order, ret = _approved(acme)
    ret = return_receive(ret=ret, actor=acme.acme_admin)
    Return.objects.filter(pk=ret.pk).update(received_at=timezone.now() - dt.timedelta(days=3))
    assert returns_mismatch_check()["raised"] == 1
    assert _open("return_received_not_refunded")[0][:2] == ("reconciliation", "return_received_not_refunded")
    with pytest.raises(StillMismatched, match="received not refunded"):
        return_mismatch_retry(return_id=ret.pk)
    _refund(timezone.now())
    return_mismatch_retry(return_id=ret.pk)  # links the refund of the line: the mismatch is gone
    assert Return.objects.get(pk=ret.pk).refunds.count() == 1


def test_a_cleared_mismatch_is_resolved_by_the_next_check(acme):
    _order, ret = _approved(acme)
    ret = return_receive(ret=ret, actor=acme.acme_admin)
    returns_mismatch_check(now=ret.received_at + dt.timedelta(days=7))
    _refund(timezone.now())  # arrives from the channel; the check links it and resolves
    result = returns_mismatch_check(now=ret.received_at + dt.timedelta(days=8, hours=1))
    assert result == {"raised": 0, "resolved": 1}
    assert _open("return_received_not_refunded") == []
    assert connection.schema_name == acme.acme.schema_name
