"""ERP push tasks: a posted journal's push is sent when its transaction commits (never on a
rollback); with a real Celery worker the task runs in the tenant's schema and acknowledges the
entry there, and the periodic sweep queues what is still due."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.erp.models import ErpPush
from posting.erp.services import entries_due
from posting.erp.tasks import erp_push_due, erp_push_journal
from posting.models import JournalEntry, JournalLine
from posting.services import PostingStatus, journal_post_order
from tenants import services as tenant_services
from tests.commerce.factories import shopify_order
from tests.conftest import tenant_delete_settled


@pytest.fixture
def committed_entry(django_db_blocker):
    """A committed, balanced entry in bluebird's schema (the worker only sees committed rows)."""
    from tests.conftest import _WORLD

    with django_db_blocker.unblock(), tenant_context(_WORLD.bluebird), transaction.atomic():
        bank = Account.objects.create(code="T-1010", name="Bank", type="asset")
        sales = Account.objects.create(code="T-4000", name="Sales", type="revenue")
        entry = JournalEntry.objects.create(source_key="test:worker", date=dt.date(2026, 3, 14), currency="GBP")
        JournalLine.objects.create(entry=entry, position=0, account=bank, role="bank", debit=Decimal("12.50"))
        JournalLine.objects.create(entry=entry, position=1, account=sales, role="revenue", credit=Decimal("12.50"))
    yield _WORLD, entry
    with django_db_blocker.unblock(), tenant_context(_WORLD.bluebird), transaction.atomic():
        ErpPush.objects.filter(entry=entry).delete()
        JournalEntry.objects.filter(pk=entry.pk).delete()
        Account.objects.filter(code__startswith="T-").delete()


@pytest.mark.worker
def test_push_task_acknowledges_in_the_senders_schema(celery_worker, committed_entry, django_db_blocker):
    world, entry = committed_entry
    with django_db_blocker.unblock(), tenant_context(world.bluebird):
        assert list(entries_due()) == [entry]
        result = erp_push_journal.delay(entry.pk)
        assert result.get(timeout=30) == {
            "entry": str(entry.pk),
            "result": "acked",
            "external_id": f"ledger:{entry.pk}",
        }
        assert erp_push_due() == 0  # nothing left to queue
        push = ErpPush.objects.get(entry=entry)
        assert (push.vendor, push.status) == ("builtin_ledger", ErpPush.Status.ACKED)
        assert JournalEntry.objects.get(pk=entry.pk).status == JournalEntry.Status.ACKED
    with django_db_blocker.unblock(), tenant_context(world.acme):
        assert not ErpPush.objects.filter(reference=f"TB-{entry.pk}").exists()


@pytest.mark.worker
def test_push_task_refuses_public(celery_worker):
    with pytest.raises(RuntimeError, match="must be sent from a tenant schema"):
        erp_push_journal.delay(1).get(timeout=30)


def test_the_sweep_is_a_registered_periodic_job():
    from core.periodic import periodic_jobs

    assert periodic_jobs()["posting.erp_push_due"] is erp_push_due


@pytest.fixture
def sent(monkeypatch):
    """The push tasks sent, as (entry id, force), instead of going to the broker."""
    calls: list[tuple[int, bool]] = []
    monkeypatch.setattr(erp_push_journal, "delay", lambda entry_id, force=False: calls.append((entry_id, force)))
    return calls


def test_a_posted_journal_sends_one_push_when_its_transaction_commits(world, sent, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        with django_capture_on_commit_callbacks(execute=True):
            outcome = journal_post_order(order=order)
            assert sent == []  # nothing before the commit: the worker must see the entry
        assert outcome.status == PostingStatus.POSTED
        assert sent == [(outcome.entry.pk, False)]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert journal_post_order(order=order).status == PostingStatus.ALREADY_POSTED
        assert (callbacks, sent) == ([], [(outcome.entry.pk, False)])


def test_a_rolled_back_posting_sends_no_push(world, sent, django_capture_on_commit_callbacks):
    class Abandon(Exception):
        pass

    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(Abandon),
            transaction.atomic(),
        ):
            assert journal_post_order(order=order).status == PostingStatus.POSTED
            raise Abandon
        assert (callbacks, sent) == ([], [])
        assert not JournalEntry.objects.exists()


def test_a_broker_outage_leaves_the_entry_to_the_sweep(world, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(erp_push_journal, "delay", broker_down)
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        with django_capture_on_commit_callbacks(execute=True):
            outcome = journal_post_order(order=order)
        assert outcome.status == PostingStatus.POSTED
        assert list(entries_due()) == [outcome.entry]


@pytest.mark.worker
def test_a_committed_posting_is_acknowledged_by_the_worker_without_the_sweep(celery_worker, django_db_blocker):
    from tests.conftest import _WORLD as world

    with django_db_blocker.unblock():
        slug = f"onc{uuid.uuid4().hex[:6]}"
        tenant = tenant_services.tenant_create(partner=world.northwind, slug=slug, name=slug).tenant
        try:
            with tenant_context(tenant):
                standard_chart_apply()
                order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
                entry = journal_post_order(order=order).entry  # commits: the push is sent now
                deadline = time.monotonic() + 60
                while not ErpPush.objects.filter(entry=entry, status=ErpPush.Status.ACKED).exists():
                    assert time.monotonic() < deadline, "the push sent on commit was not acknowledged"
                    time.sleep(0.2)
                assert ErpPush.objects.get(entry=entry).vendor == "builtin_ledger"
                assert JournalEntry.objects.get(pk=entry.pk).status == JournalEntry.Status.ACKED
                assert list(entries_due()) == []
        finally:
            connection.set_schema_to_public()
            tenant_delete_settled(tenant)
