"""A new version of a posted document posts only the difference, dated at the change (DESIGN.md §4)."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from django.db.models import Sum
from django_tenants.utils import tenant_context

from commerce.documents import OrderLineDoc, PaymentDoc, ShippingLineDoc
from commerce.models import Order, Payout, Refund
from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, JournalLine, PostingBatch
from posting.selectors import entry_balance
from posting.services import (
    PostingStatus,
    batch_close,
    journal_post_cancellation,
    journal_post_order,
    journal_post_payout,
    journal_post_refund,
    policy_update,
)
from tests.commerce.factories import kwd_order, ny_taxes, refund, shopify_order, stripe_payout

CHANGED_AT = dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)


def lines_of(entry):
    return [(line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account")]


def _upsert(document, *, changed_at=CHANGED_AT):
    order = order_upsert(source="shopify", connection_id=1, document=document).obj
    Order.objects.filter(pk=order.pk).update(updated_at=changed_at)  # when this version was received
    order.refresh_from_db()
    return order


def _net_by_account(entries) -> dict[str, D]:
    rows = (
        JournalLine.objects.filter(entry__in=entries)
        .values("account__code")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
    )
    return {row["account__code"]: row["debit"] - row["credit"] for row in rows if row["debit"] != row["credit"]}


def _price_change():
    """L3 (Socks) re-priced 20.00 → 30.00, the customer paid 10.00 more by card."""
    base = shopify_order()
    lines = (*base.lines[:2], replace(base.lines[2], unit_price=D("30.00")))
    payments = (PaymentDoc("p1", "stripe", D("180.30"), method="card", fee=D("5.24")), base.payments[1])
    return replace(base, source_version=2, lines=lines, payments=payments, vendor_total=D("205.30"))


def test_price_change_posts_one_adjusting_entry_with_only_the_differences_dated_at_the_change(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        first = journal_post_order(order=_upsert(shopify_order())).entry
        assert first.date == dt.date(2026, 3, 14)
        order = _upsert(_price_change())
        outcome = journal_post_order(order=order)
        assert outcome.status == PostingStatus.POSTED
        entry = outcome.entry
        assert (entry.source_key, entry.date, entry.reverses_id) == (f"order:{order.pk}:v2", dt.date(2026, 4, 2), None)
        assert entry.memo.endswith("version change v1 → v2, difference only")
        # The 15.00 coupon is re-weighted by the new gross amounts (100/80/30): apparel's share
        # 9.00 → 9.28, footwear's 6.00 → 5.72. Tax was stated by the vendor and did not change.
        assert lines_of(entry) == [
            ("4500", D("0.2800"), D("0")),
            ("4500", D("0"), D("0.2800")),
            ("1110", D("10.0000"), D("0")),
            ("4010", D("0"), D("10.0000")),
        ]
        assert [line.dimensions.get("product_category") for line in entry.lines.all()][:2] == ["apparel", "footwear"]
        assert entry_balance(entry=entry) == 0
        assert JournalEntry.objects.count() == 2  # no reversal, no re-post at the original date
        assert JournalEntry.objects.filter(date=dt.date(2026, 3, 14)).get() == first
        assert all("Change v1 → v2" in line.description for line in entry.lines.all())
        assert journal_post_order(order=order).status == PostingStatus.ALREADY_POSTED
    # The original plus the difference equal what the new version posts on its own.
    with tenant_context(world.bluebird):
        standard_chart_apply()
        alone = journal_post_order(order=_upsert(_price_change())).entry
        expected = _net_by_account([alone])
    with tenant_context(world.acme):
        assert _net_by_account(JournalEntry.objects.all()) == expected


def test_a_version_that_changes_nothing_posts_no_entry(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        first = journal_post_order(order=_upsert(shopify_order())).entry
        order = _upsert(shopify_order(source_version=2, customer_ref="cus_renamed"))
        outcome = journal_post_order(order=order)
        assert (outcome.status, outcome.entry) == (PostingStatus.UNCHANGED, first)
        assert list(JournalEntry.objects.all()) == [first]


def test_a_line_added_then_removed_posts_each_difference(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(allocation="order")  # the coupon stays at order level, so only the line moves
        base = shopify_order()
        journal_post_order(order=_upsert(base))
        added = replace(
            base,
            source_version=2,
            lines=(*base.lines, OrderLineDoc("L4", "CAP", 1, D("15.00"), "apparel", "Cap", ny_taxes("0.60", "0.68"))),
            payments=(PaymentDoc("p1", "stripe", D("186.58"), method="card", fee=D("5.24")), base.payments[1]),
            vendor_total=D("211.58"),
        )
        order = _upsert(added)
        entry = journal_post_order(order=order).entry
        assert entry.date == dt.date(2026, 4, 2)
        assert lines_of(entry) == [
            ("1110", D("16.2800"), D("0")),
            ("4010", D("0"), D("15.0000")),
            ("2100", D("0"), D("0.6000")),
            ("2100", D("0"), D("0.6800")),
        ]
        removed = replace(base, source_version=3)
        order = _upsert(removed, changed_at=dt.datetime(2026, 4, 5, 9, tzinfo=dt.UTC))
        entry = journal_post_order(order=order).entry
        assert (entry.source_key, entry.date) == (f"order:{order.pk}:v3", dt.date(2026, 4, 5))
        assert entry.memo.endswith("version change v2 → v3, difference only")
        assert lines_of(entry) == [
            ("1110", D("0"), D("16.2800")),
            ("4010", D("15.0000"), D("0")),
            ("2100", D("0.6000"), D("0")),
            ("2100", D("0.6800"), D("0")),
        ]
        assert JournalEntry.objects.count() == 3


def test_cancellation_after_a_change_reverses_what_the_versions_net_to(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_upsert(shopify_order()))
        journal_post_order(order=_upsert(_price_change()))
        cancelled = replace(_price_change(), source_version=3, cancelled_at=dt.datetime(2026, 4, 9, 12, tzinfo=dt.UTC))
        order = _upsert(cancelled)
        assert journal_post_order(order=order).status == PostingStatus.UNCHANGED
        outcome = journal_post_cancellation(order=order)
        assert (outcome.status, outcome.entry.date) == (PostingStatus.POSTED, dt.date(2026, 4, 9))
        assert _net_by_account(JournalEntry.objects.all()) == {}


def test_batched_change_joins_the_batch_of_the_change_window(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched")
        journal_post_order(order=_upsert(kwd_order()))
        first_batch = PostingBatch.objects.get()
        batch_close(batch=first_batch)
        bigger = kwd_order(source_version=2, shipping_lines=(ShippingLineDoc("KS", D("0.750")),))
        bigger = replace(bigger, payments=(replace(bigger.payments[0], amount=bigger.payments[0].amount + D("0.250")),))
        outcome = journal_post_order(order=_upsert(bigger))
        entry = outcome.entry
        assert entry.batch is not None and entry.batch != first_batch
        assert (entry.status, entry.date, entry.batch.window_start.date()) == (
            "draft",
            dt.date(2026, 4, 2),
            dt.date(2026, 4, 2),
        )
        summary = batch_close(batch=entry.batch)
        assert summary.date == dt.date(2026, 4, 2)
        assert lines_of(summary) == [
            ("1110", D("0.2500"), D("0")),
            ("4100", D("0"), D("0.2500")),
        ]


def test_refund_version_change_posts_only_the_additional_refund_dated_at_the_change(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_upsert(shopify_order()))
        first = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        original = journal_post_refund(refund=first).entry
        assert original.date == dt.date(2026, 3, 17)
        second = refund_upsert(
            source="shopify", connection_id=1, document=refund("R1", (("L1", 2),), source_version=2)
        ).obj
        Refund.objects.filter(pk=second.pk).update(updated_at=CHANGED_AT)
        second.refresh_from_db()
        entry = journal_post_refund(refund=second).entry
        assert (entry.source_key, entry.date) == (f"refund:{second.pk}:v2", dt.date(2026, 4, 2))
        # Both tees now: the full L1 tax (3.49 / 3.93) less what v1 already took (1.75 / 1.97).
        assert lines_of(entry) == [
            ("2100", D("1.7400"), D("0")),
            ("2100", D("1.9600"), D("0")),
            ("4600", D("50.0000"), D("0")),
            ("4500", D("0"), D("3.7500")),
            ("1200", D("0"), D("2.5000")),
            ("1110", D("0"), D("47.4500")),
        ]
        assert entry.memo.endswith("version change v1 → v2, difference only")
        assert JournalEntry.objects.filter(source_key__startswith=f"refund:{second.pk}:").count() == 2


def test_after_the_cancellation_a_later_version_posts_nothing(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_upsert(shopify_order()))
        cancelled = shopify_order(source_version=2, cancelled_at=dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC))
        order = _upsert(cancelled)
        assert journal_post_order(order=order).status == PostingStatus.UNCHANGED
        cancellation = journal_post_cancellation(order=order).entry
        later = replace(_price_change(), source_version=3, cancelled_at=cancelled.cancelled_at)
        outcome = journal_post_order(order=_upsert(later))
        assert (outcome.status, outcome.entry) == (PostingStatus.COVERED, cancellation)
        assert _net_by_account(JournalEntry.objects.all()) == {}


def test_payout_version_change_posts_the_fee_difference_dated_at_the_change(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        first = journal_post_payout(
            payout=payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        )
        assert first.entry.date == dt.date(2026, 3, 17)
        document = stripe_payout(source_version=2, amount=D("103.59"))
        lines = list(document.lines)
        lines[2] = replace(lines[2], amount=D("-3.00"))  # the monthly fee was 3.00, not 2.00
        payout = payout_upsert(source="stripe", connection_id=2, document=replace(document, lines=tuple(lines))).obj
        Payout.objects.filter(pk=payout.pk).update(updated_at=CHANGED_AT)
        payout.refresh_from_db()
        entry = journal_post_payout(payout=payout).entry
        assert (entry.source_key, entry.date) == (f"payout:{payout.pk}:v2", dt.date(2026, 4, 2))
        assert lines_of(entry) == [("6100", D("1.0000"), D("0")), ("1010", D("0"), D("1.0000"))]
