"""ERP push tasks with a real Celery worker: the task runs in the tenant's schema, acknowledges
the entry there, and the periodic sweep queues what is due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from mappings.models import Account
from posting.erp.models import ErpPush
from posting.erp.services import entries_due
from posting.models import JournalEntry, JournalLine
from posting.tasks import erp_push_due, erp_push_journal


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
