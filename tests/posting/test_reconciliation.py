from dataclasses import replace
from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.documents import PayoutLineDoc
from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.models import Reconciliation
from posting.reconciliation import payout_reconcile
from posting.services import journal_post_order, journal_post_payout, journal_post_refund
from tests.commerce.factories import refund, shopify_order, stripe_payout, stripe_payout_all_types
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
        assert journal_post_payout(payout=payout).entry is not None
        reconciliation = payout_reconcile(payout=payout)
        assert (reconciliation.status, reconciliation.matched, reconciliation.differences) == ("matched", 5, [])
        assert reconciliation.difference == 0


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
        assert (reconciliation.status, reconciliation.matched) == ("unmatched", 0)
        assert [(row["reference"], row["expected"], row["reason"]) for row in reconciliation.differences[:2]] == [
            ("1001", None, "the order is in USD, the payout in EUR"),
            ("R1", None, "the refund is in USD, the payout in EUR"),
        ]
        # The fee, adjustment and reserve lines of a payout never posted match nothing either.
        assert [row["reason"] for row in reconciliation.differences[2:]] == ["the payout is not posted"] * 3
        group = TriageException.objects.get(kind="reconciliation")
        assert (group.cause, group.count) == ("reconciliation_difference", 5)


def _states(reconciliation):
    return [
        (row["type"], row["state"], row["role"], row["expected"], row["difference"]) for row in reconciliation.lines
    ]


def test_every_payout_line_is_matched_to_its_document_or_role(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        _posted_order_and_refund()
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        entry = journal_post_payout(payout=payout).entry
        with django_capture_on_commit_callbacks(execute=True):
            reconciliation = payout_reconcile(payout=payout)
        assert _states(reconciliation) == [
            ("charge", "matched", "payment_clearing", "170.30", "0"),
            ("refund", "matched", "payment_clearing", "-47.47", "0"),
            ("fee", "matched", "merchant_fees", "-2.00", "0"),
            ("fee", "matched", "merchant_fees", "0.46", "0"),
            ("adjustment", "matched", "payout_adjustment", "-1.00", "0"),
            ("reserve", "matched", "reserve", "-10.00", "0"),
            ("other", "suspense", "payout_suspense", "3.25", "3.25"),
        ]
        assert (reconciliation.status, reconciliation.matched, reconciliation.differences) == ("differences", 6, [])
        assert reconciliation.difference == D("3.25")
        rows = reconciliation.lines
        assert rows[0]["document"]["type"] == "order" and rows[0]["journal_entry"] is not None
        assert rows[1]["document"]["type"] == "refund" and rows[1]["document"]["external_id"] == "R1"
        fee_lines = entry.lines.filter(role="merchant_fees")
        assert rows[2]["journal_entry"] == entry.pk
        assert set(rows[2]["journal_lines"]) == set(fee_lines.values_list("pk", flat=True))
        assert sum(line.debit - line.credit for line in fee_lines) == D("6.78")  # 5.24 + 2.00 - 0.46
        assert "transfer_reversal" in rows[6]["reason"]
        # The suspense line keeps the payout's suspense exception; no reconciliation exception is raised.
        assert not TriageException.objects.filter(kind="reconciliation", cause="reconciliation_difference").exists()


def test_unposted_payout_leaves_fee_adjustment_and_reserve_unmatched(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        _posted_order_and_refund()
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        with django_capture_on_commit_callbacks(execute=True):
            reconciliation = payout_reconcile(payout=payout)
        assert [(row["state"], row["difference"]) for row in reconciliation.lines] == [
            ("matched", "0"),
            ("matched", "0"),
            ("unmatched", "-2.00"),
            ("unmatched", "0.46"),
            ("unmatched", "-1.00"),
            ("unmatched", "-10.00"),
            ("unmatched", "3.25"),
        ]
        assert {row["reason"] for row in reconciliation.lines[2:]} == {"the payout is not posted"}
        assert (reconciliation.status, reconciliation.matched) == ("differences", 2)
        assert reconciliation.difference == D("-9.29")
        assert TriageException.objects.get(kind="reconciliation").count == 5


def test_payout_with_nothing_matching_is_unmatched(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        lines = (
            PayoutLineDoc("charge", D("10.00"), reference="nope"),
            PayoutLineDoc("refund", D("-2.00"), reference="x"),
        )
        document = replace(stripe_payout(), lines=lines, amount=D("8.00"))
        payout = payout_upsert(source="stripe", connection_id=2, document=document).obj
        reconciliation = payout_reconcile(payout=payout)
        assert (reconciliation.status, reconciliation.matched, reconciliation.difference) == ("unmatched", 0, D("8.00"))
        assert [row["reason"] for row in reconciliation.lines] == [
            "no order with this reference",
            "no refund with this reference",
        ]


def test_reconciliation_retry_fails_on_differences_and_passes_with_only_suspense_left(world):
    import pytest

    from posting.retry import RETRY_ACTIONS, StillRefused

    with tenant_context(world.acme):
        _posted_order_and_refund()
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        with pytest.raises(StillRefused, match="the payout is not posted"):
            RETRY_ACTIONS["posting.payout_reconcile"](payout_id=payout.pk)
        journal_post_payout(payout=payout)
        reconciliation = RETRY_ACTIONS["posting.payout_reconcile"](payout_id=payout.pk)
        assert (reconciliation.status, reconciliation.differences) == ("differences", [])


def test_captured_not_paid_out_after_n_days(world):
    import datetime as dt

    from posting.selectors import captured_not_paid_out
    from tests.commerce.factories import PAID_AT

    with tenant_context(world.acme):
        _posted_order_and_refund()  # order 1001, paid PAID_AT: 170.30 by stripe, 25.00 gift card
        later = replace(shopify_order(), external_id="1002", paid_at=PAID_AT + dt.timedelta(days=5))
        order_upsert(source="shopify", connection_id=1, document=later)
        now = PAID_AT + dt.timedelta(days=8)
        assert [(row.order, row.gateway, row.amount, row.days) for row in captured_not_paid_out(days=7, now=now)] == [
            ("1001", "stripe", D("170.30"), 8)
        ]
        assert [row.order for row in captured_not_paid_out(days=2, now=now)] == ["1001", "1002"]
        payout_upsert(source="stripe", connection_id=2, document=stripe_payout())  # settles 1001's charge
        assert [row.order for row in captured_not_paid_out(days=2, now=now)] == ["1002"]
        # A payout from another gateway does not settle a stripe capture.
        other = replace(stripe_payout(), external_id="po_2", gateway="paypal", lines=stripe_payout().lines[:1])
        payout_upsert(source="stripe", connection_id=2, document=replace(other, amount=D("165.06")))
        assert [row.order for row in captured_not_paid_out(days=2, now=now)] == ["1002"]


def test_new_payout_version_is_matched_against_what_its_journals_net_to(world):
    from posting.models import JournalEntry

    with tenant_context(world.acme):
        _posted_order_and_refund()
        first = journal_post_payout(
            payout=payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        )
        lines = (*stripe_payout().lines[:4], PayoutLineDoc("reserve", D("-12.00"), description="Rolling reserve"))
        document = replace(stripe_payout(), source_version=2, lines=lines, amount=D("102.59"))
        payout = payout_upsert(source="stripe", connection_id=2, document=document).obj
        second = journal_post_payout(payout=payout).entry
        # v1 and the difference v1 → v2 (no reversal and re-post)
        assert JournalEntry.objects.filter(source_key__startswith=f"payout:{payout.pk}:v").count() == 2
        reconciliation = payout_reconcile(payout=payout)
        assert (reconciliation.status, reconciliation.matched, reconciliation.difference) == ("matched", 5, 0)
        reserve = reconciliation.lines[4]
        assert (reserve["role"], reserve["expected"], reserve["journal_entry"]) == ("reserve", "-12.00", second.pk)
        assert first.entry.pk != second.pk
