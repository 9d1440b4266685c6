import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.documents import ShippingLineDoc
from commerce.models import Order
from commerce.services import order_upsert
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, PostingBatch, PostingPolicy
from posting.selectors import trial_balance
from posting.services import batch_close, batch_window, batches_close_due, journal_post_order, policy_update
from tests.commerce.factories import PAID_AT, kwd_order


def _lines(entry):
    return [(line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account")]


def test_daily_window_starts_at_the_cutoff_hour_in_the_tenant_timezone(world):
    with tenant_context(world.acme):  # America/New_York
        policy = PostingPolicy(batch_window="daily", cutoff_hour=6)
        early = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)  # 05:00 New York: still the 13th's window
        start, end = batch_window(at=early, policy=policy)
        assert (start.isoformat(), end.isoformat()) == ("2026-03-13T06:00:00-04:00", "2026-03-14T06:00:00-04:00")
        dst = dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)  # the day clocks go forward
        start, end = batch_window(at=dst, policy=PostingPolicy(batch_window="daily", cutoff_hour=0))
        assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)
        start, end = batch_window(at=PAID_AT, policy=PostingPolicy(batch_window="hourly"))
        assert (start.isoformat(), end.isoformat()) == ("2026-03-14T11:00:00-04:00", "2026-03-14T12:00:00-04:00")


def test_batched_mode_posts_drafts_then_one_summary_per_account_and_dimension(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched", batch_window="daily")
        for number in range(3):
            order = order_upsert(source="shopify", connection_id=1, document=kwd_order(external_id=f"K{number}")).obj
            entry = journal_post_order(order=order).entry
            assert entry.status == JournalEntry.Status.DRAFT
        batch = PostingBatch.objects.get()
        assert (batch.entries.count(), trial_balance()) == (3, [])
        assert batches_close_due(now=batch.window_end - dt.timedelta(seconds=1)) == []
        [summary] = batches_close_due(now=batch.window_end)
        assert (summary.source_key, summary.status, summary.date) == (
            f"batch:{batch.pk}",
            "ready",
            dt.date(2026, 3, 14),
        )
        assert _lines(summary) == [
            ("1110", D("12.4500"), D("0")),
            ("4010", D("0"), D("7.5000")),
            ("4020", D("0"), D("3.7500")),
            ("4100", D("0"), D("1.5000")),
            ("4500", D("0.2010"), D("0")),
            ("4500", D("0.0990"), D("0")),
        ]
        assert sum(row.balance for row in trial_balance()) == 0
        assert batch_close(batch=batch).pk == summary.pk


def test_late_document_for_a_closed_window_posts_on_its_own(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched")
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=kwd_order()).obj)
        batch_close(batch=PostingBatch.objects.get())
        late = order_upsert(source="shopify", connection_id=1, document=kwd_order(external_id="K-late")).obj
        entry = journal_post_order(order=late).entry
        assert (entry.status, entry.batch_id) == ("ready", None)


def test_changed_version_in_the_same_window_posts_its_difference_inside_the_open_batch(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched")
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=kwd_order()).obj)
        unchanged = order_upsert(source="shopify", connection_id=1, document=kwd_order(source_version=2)).obj
        assert journal_post_order(order=unchanged).status == "unchanged"
        document = kwd_order(source_version=3, shipping_lines=(ShippingLineDoc("KS", D("0.750")),))
        document = replace(document, payments=(replace(document.payments[0], amount=D("4.400")),))
        newer = order_upsert(source="shopify", connection_id=1, document=document).obj
        Order.objects.filter(pk=newer.pk).update(updated_at=PAID_AT + dt.timedelta(hours=1))  # received that day
        newer.refresh_from_db()
        outcome = journal_post_order(order=newer)
        batch = PostingBatch.objects.get()
        assert [entry.status for entry in batch.entries.order_by("pk")] == ["draft", "draft"]
        assert outcome.entry.batch_id == batch.pk
        assert [(line.account.code, line.debit, line.credit) for line in outcome.entry.lines.all()] == [
            ("1110", D("0.2500"), D("0")),
            ("4100", D("0"), D("0.2500")),
        ]
        summary = batch_close(batch=batch)
        assert len(_lines(summary)) == 6
        assert _lines(summary)[0] == ("1110", D("4.4000"), D("0"))
        assert ("4100", D("0"), D("0.7500")) in _lines(summary)
