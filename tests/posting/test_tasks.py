"""The batch close as a periodic job: the beat's fan-out closes every batch whose window ended,
and its summary entry reaches the ERP and is acknowledged — with the real worker."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.db import connection as db
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from core.periodic import periodic_jobs
from mappings.services import standard_chart_apply
from portal.celery import app
from posting import services
from posting.models import JournalEntry, PostingBatch
from posting.services import journal_post_order, policy_update
from tenants import services as tenant_services
from tests.commerce.factories import PAID_AT, kwd_order
from tests.conftest import tenant_delete_settled
from triage.models import Exception as TriageException


@pytest.fixture
def batched_tenant(django_db_blocker):
    """A fresh tenant posting in daily batches, with one open batch of two orders, committed."""
    from tests.conftest import _WORLD

    slug = f"bat{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=f"Batches {slug}").tenant
        with tenant_context(tenant):
            standard_chart_apply()
            policy_update(mode="batched", batch_window="daily")
            for number in range(2):
                order = order_upsert(
                    source="shopify", connection_id=1, document=kwd_order(external_id=f"B{number}")
                ).obj
                assert journal_post_order(order=order).entry.status == JournalEntry.Status.DRAFT
        db.set_schema_to_public()
    yield tenant, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        tenant_delete_settled(tenant)


def test_the_batch_close_is_a_registered_periodic_job():
    assert "posting.batches_close_due" in periodic_jobs()


@pytest.mark.worker
def test_beat_fan_out_closes_the_batch_and_the_erp_acknowledges_its_summary(celery_worker, batched_tenant):
    tenant, blocker = batched_tenant
    app.send_task(app.conf.beat_schedule["tenant-fan-out"]["task"])  # what beat sends every minute

    def summary() -> JournalEntry | None:
        with blocker.unblock(), tenant_context(tenant):
            batch = PostingBatch.objects.get()
            return JournalEntry.objects.filter(source_key=f"batch:{batch.pk}").first()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        entry = summary()
        if entry is not None and entry.status == JournalEntry.Status.ACKED:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"summary not acknowledged: {summary()!r}")
    with blocker.unblock(), tenant_context(tenant):
        assert PostingBatch.objects.get().status == PostingBatch.Status.CLOSED
        assert entry.erp_pushes.get().status == "acked"
        drafts = JournalEntry.objects.filter(batch__isnull=False)
        assert {draft.status for draft in drafts} == {JournalEntry.Status.DRAFT}  # the drill-down stays


def test_a_batch_that_cannot_close_is_an_exception_and_the_others_still_close(world, monkeypatch):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched", batch_window="hourly")
        for number, at in enumerate((PAID_AT - dt.timedelta(hours=3), PAID_AT)):
            document = kwd_order(external_id=f"H{number}", placed_at=at, paid_at=at)
            journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=document).obj)
        first, second = PostingBatch.objects.order_by("window_start")
        real_close = services.batch_close

        def close(*, batch):
            if batch.pk == first.pk:
                raise RuntimeError("ledger locked")
            return real_close(batch=batch)

        monkeypatch.setattr(services, "batch_close", close)
        closed = services.batches_close_due(now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        assert [entry.source_key for entry in closed] == [f"batch:{second.pk}"]
        problem = TriageException.objects.get(cause="batch_close_failed")
        assert (problem.severity, problem.detail) == ("high", "RuntimeError: ledger locked")
        first.refresh_from_db()
        assert first.status == PostingBatch.Status.OPEN


def test_dashboard_lists_open_batches_and_when_they_close(world, host_client):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched", batch_window="daily")
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=kwd_order()).obj)
        batch = PostingBatch.objects.get()
    page = host_client(world.host(world.acme), world.acme_admin).get("/").content.decode()
    assert 'data-testid="batches-waiting"' in page
    assert f'href="/ledger/batches/{batch.pk}/"' in page
    assert "now — due at the next run" in page  # the March window has ended
