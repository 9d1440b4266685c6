from dataclasses import replace
from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.documents import PayoutLineDoc
from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.models import Reconciliation
from posting.services import journal_post_order, journal_post_refund, payout_reconcile
from tests.commerce.factories import refund, shopify_order, stripe_payout
from triage.models import Exception as TriageException


def _posted_order_and_refund():
    standard_chart_apply()
    journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj)
    document = refund("R1", (("L1", 1),))
    journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=document).obj)


def test_payout_matching_what_was_posted_reconciles(world):
    with tenant_context(world.acme):
        _posted_order_and_refund()
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        reconciliation = payout_reconcile(payout=payout)
        assert (reconciliation.status, reconciliation.matched, reconciliation.differences) == ("matched", 2, [])


def test_payout_differences_are_recorded_per_line(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        _posted_order_and_refund()
        lines = (
            PayoutLineDoc("charge", D("170.00"), fee=D("5.24"), reference="1001"),
            PayoutLineDoc("refund", D("-47.47"), reference="R1"),
            PayoutLineDoc("charge", D("10.00"), reference="9999"),
        )
        document = replace(stripe_payout(), lines=lines, amount=D("127.29"))
        payout = payout_upsert(source="stripe", connection_id=2, document=document).obj
        with django_capture_on_commit_callbacks(execute=True):
            reconciliation = payout_reconcile(payout=payout)
        assert reconciliation.status == Reconciliation.Status.DIFFERENCES
        assert reconciliation.matched == 1
        assert reconciliation.differences == [
            {
                "line": 0,
                "type": "charge",
                "reference": "1001",
                "expected": "170.30",
                "actual": "170.00",
                "reason": "posted 170.30, paid out 170.00",
            },
            {
                "line": 2,
                "type": "charge",
                "reference": "9999",
                "expected": None,
                "actual": "10.00",
                "reason": "no order with this reference",
            },
        ]
        group = TriageException.objects.get(kind="reconciliation")
        assert (group.cause, group.object_type, group.count) == ("reconciliation_difference", "commerce.payout", 2)
        assert group.occurrences.get().object_id == str(payout.pk)
        again = payout_reconcile(payout=payout)
        assert (again.pk, Reconciliation.objects.count()) == (reconciliation.pk, 1)


def test_payout_in_another_currency_is_a_reconciliation_exception(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        _posted_order_and_refund()
        document = replace(stripe_payout(), currency="EUR")
        payout = payout_upsert(source="stripe", connection_id=2, document=document).obj
        with django_capture_on_commit_callbacks(execute=True):
            reconciliation = payout_reconcile(payout=payout)
        assert (reconciliation.status, reconciliation.matched) == ("differences", 0)
        assert [(row["reference"], row["expected"], row["reason"]) for row in reconciliation.differences] == [
            ("1001", None, "the order is in USD, the payout in EUR"),
            ("R1", None, "the refund is in USD, the payout in EUR"),
        ]
        group = TriageException.objects.get(kind="reconciliation")
        assert (group.cause, group.count) == ("reconciliation_difference", 2)
