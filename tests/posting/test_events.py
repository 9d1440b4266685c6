"""order.posted, refund.posted and payout.reconciled: each sent once, after commit, signed, with its
version, from the one place its state changes."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.events import order_posted_emit
from posting.models import JournalEntry
from posting.reconciliation import payout_reconcile
from posting.services import journal_post_order, journal_post_payout, journal_post_refund
from tests.commerce.factories import refund, shopify_order, stripe_payout_all_types
from tests.tenants.webhook_sink import sink  # noqa: F401 - fixture


def test_order_posted_is_sent_once_per_entry_after_commit(world, sink, django_capture_on_commit_callbacks):  # noqa: F811
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        with django_capture_on_commit_callbacks(execute=False) as pending:
            entry = journal_post_order(order=order).entry
        assert sink.count("order.posted") == 0  # nothing before the commit
        for callback in pending:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            journal_post_order(order=order)  # a replay posts nothing and sends nothing
        data = sink.received_once("order.posted")
    assert data == {
        "tenant": "acme",
        "order": {"id": order.pk, "external_id": "1001", "source": "shopify", "channel": "web", "source_version": 1},
        "journal": {
            "id": entry.pk,
            "source_key": f"order:{order.pk}:v1",
            "date": "2026-03-14",
            "currency": "USD",
            "total": "225.30",
            "status": "ready",
        },
    }


def test_order_posted_for_many_entries_at_once_as_the_batch_path_calls_it(
    world,
    sink,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with tenant_context(world.acme):
        standard_chart_apply()
        with django_capture_on_commit_callbacks(execute=True):
            order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
            journal_post_order(order=order)
            second = order_upsert(source="shopify", connection_id=1, document=shopify_order(external_id="1002")).obj
            journal_post_order(order=second)
        assert sink.count("order.posted") == 2
        # The batch path hands over what it posted: every order entry among them is announced once.
        entries = list(JournalEntry.objects.order_by("pk"))
        with django_capture_on_commit_callbacks(execute=True):
            assert order_posted_emit(entries) == 2
        assert sink.count("order.posted") == 4


def test_refund_posted_is_sent_once(world, sink, django_capture_on_commit_callbacks):  # noqa: F811
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj)
        stored = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        with django_capture_on_commit_callbacks(execute=True):
            entry = journal_post_refund(refund=stored).entry
            journal_post_refund(refund=stored)
        data = sink.received_once("refund.posted")
    assert data["refund"] == {"id": stored.pk, "external_id": "R1", "order_external_id": "1001", "source": "shopify"}
    assert (data["journal"]["id"], data["journal"]["source_key"]) == (entry.pk, f"refund:{stored.pk}:v1")


def test_payout_reconciled_is_sent_on_the_first_check_and_when_the_result_changes(
    world,
    sink,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj)
        journal_post_refund(
            refund=refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        )
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        journal_post_payout(payout=payout)
        with django_capture_on_commit_callbacks(execute=True):
            payout_reconcile(payout=payout)
            payout_reconcile(payout=payout)  # the same result: nothing new to say
        data = sink.received_once("payout.reconciled")
        assert (data["payout"]["id"], data["payout"]["external_id"]) == (payout.pk, "po_1")
        assert data["reconciliation"] == {
            "status": "differences",
            "matched_lines": 6,
            "line_count": 7,
            "difference": "3.25",
        }
        payout.lines.filter(type="other").delete()  # the unknown line goes: the re-check now matches
        with django_capture_on_commit_callbacks(execute=True):
            payout_reconcile(payout=payout)
        assert sink.count("payout.reconciled") == 2
