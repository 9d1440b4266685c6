"""The due-time index of periodic work (tenants/due.py, DESIGN.md §3): the beat visits only the
tenants with something due, and only for the jobs due."""

import datetime as dt

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from connectors.inbox import event_store
from portal import tasks
from posting.models import PostingBatch
from tenants.due import (
    LEASE,
    DueVisit,
    tenant_due_bump,
    tenant_periodic_visit,
    tenants_due_claim,
)
from tenants.middleware import TenantDueMiddleware
from tenants.models import TenantDue
from tests.connectors.factories import ConnectionFactory


def _visit_claimed(tenant, *, now: dt.datetime | None = None) -> DueVisit:
    """Claim what is due and run the tenant's visit as the worker would."""
    visit = next(v for v in tenants_due_claim(now=now) if v.schema_name == tenant.schema_name)
    with tenant_context(tenant):
        tenant_periodic_visit(jobs=visit.jobs, version=visit.version)
    return visit


def _settle_idle(tenant) -> None:
    """Mark the tenant, then visit it: with nothing pending it records no due time at all."""
    tenant_due_bump(schema_name=tenant.schema_name)
    _visit_claimed(tenant)
    assert TenantDue.objects.values_list("due_at", "all_due").get(tenant=tenant) == (None, False)


def test_an_idle_tenant_is_not_visited(world, monkeypatch):
    _settle_idle(world.cedar)
    sent = []
    monkeypatch.setattr(tasks.tenant_periodic_run, "apply_async", lambda *, kwargs: sent.append(connection.schema_name))
    tasks.tenants_fan_out()
    assert "t_cedar" not in sent
    assert world.cedar.schema_name not in {v.schema_name for v in tenants_due_claim(now=timezone.now() + LEASE * 100)}


def test_the_fan_out_costs_the_same_queries_however_many_tenants_are_idle(
    world, monkeypatch, django_assert_max_num_queries
):
    for tenant in (world.acme, world.bluebird, world.cedar):
        _settle_idle(tenant)
    monkeypatch.setattr(tasks.tenant_periodic_run, "apply_async", lambda *, kwargs: None)
    with django_assert_max_num_queries(2):  # the claim (one statement), and the search path
        assert tasks.tenants_fan_out() == 0


def test_a_stored_event_makes_the_tenant_due_with_every_job(world):
    _settle_idle(world.cedar)
    with tenant_context(world.cedar):
        conn = ConnectionFactory()
        event_store(connection=conn, topic="orders/create", external_id="1", body=b'{"id": 1}', dispatch=False)
    due = TenantDue.objects.get(tenant=world.cedar)
    assert due.all_due is True
    assert due.due_at <= timezone.now()
    visit = next(v for v in tenants_due_claim() if v.schema_name == "t_cedar")
    assert visit.jobs is None


def test_a_storm_marks_the_tenant_once_with_one_statement_each(world):
    _settle_idle(world.cedar)
    before = TenantDue.objects.values_list("version", flat=True).get(tenant=world.cedar)
    with tenant_context(world.cedar), CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            tenant_due_bump()
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) == 3
    assert TenantDue.objects.values_list("version", flat=True).get(tenant=world.cedar) == before + 1


def test_a_mark_during_a_visit_is_not_lost(world):
    _settle_idle(world.cedar)
    tenant_due_bump(schema_name="t_cedar")
    visit = next(v for v in tenants_due_claim() if v.schema_name == "t_cedar")
    with tenant_context(world.cedar):
        tenant_due_bump()  # an event stored while the visit runs
        tenant_periodic_visit(jobs=visit.jobs, version=visit.version)
    due = TenantDue.objects.get(tenant=world.cedar)
    assert (due.all_due, due.due_at <= timezone.now()) == (True, True)


def test_a_batch_whose_window_closes_later_is_closed_on_time_and_only_its_job_runs(world):
    _settle_idle(world.cedar)
    window_end = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    with tenant_context(world.cedar):
        batch = PostingBatch.objects.create(
            window_start=window_end - dt.timedelta(days=1), window_end=window_end, currency="USD"
        )
    tenant_due_bump(schema_name="t_cedar")  # the write that opened the batch marked the tenant
    _visit_claimed(world.cedar)
    assert TenantDue.objects.values_list("due_at", flat=True).get(tenant=world.cedar) == window_end
    assert "t_cedar" not in {v.schema_name for v in tenants_due_claim(now=window_end - dt.timedelta(seconds=1))}
    visit = next(v for v in tenants_due_claim(now=window_end) if v.schema_name == "t_cedar")
    assert visit.jobs == ["posting.batches_close_due"]
    with tenant_context(world.cedar):
        PostingBatch.objects.filter(pk=batch.pk).update(window_end=timezone.now())  # the window has ended
        results = tenant_periodic_visit(jobs=visit.jobs, version=visit.version)
        batch.refresh_from_db()
    assert results == {"posting.batches_close_due": "ok"}
    assert batch.status == PostingBatch.Status.CLOSED
    assert TenantDue.objects.values_list("due_at", flat=True).get(tenant=world.cedar) is None


def test_a_write_through_the_portal_marks_the_tenant_and_a_read_does_not(world):
    _settle_idle(world.cedar)
    middleware = TenantDueMiddleware(lambda request: type("R", (), {"status_code": 200})())
    with tenant_context(world.cedar):
        middleware(RequestFactory().get("/promotions/"))
        assert TenantDue.objects.values_list("due_at", flat=True).get(tenant=world.cedar) is None
        middleware(RequestFactory().post("/promotions/"))
    assert TenantDue.objects.values_list("all_due", flat=True).get(tenant=world.cedar) is True


def test_a_lost_visit_is_claimed_again_when_its_lease_ends(world):
    tenant_due_bump(schema_name="t_cedar")
    now = timezone.now()
    assert "t_cedar" in {v.schema_name for v in tenants_due_claim(now=now)}
    assert "t_cedar" not in {v.schema_name for v in tenants_due_claim(now=now + LEASE - dt.timedelta(seconds=1))}
    again = next(v for v in tenants_due_claim(now=now + LEASE) if v.schema_name == "t_cedar")
    assert again.jobs is None  # still marked: every job runs


def test_every_registered_job_says_when_it_is_next_due():
    """A job left at the default (due at every beat) would keep every tenant visited every minute."""
    from core.periodic import every_beat, periodic_job_specs

    assert [spec.name for spec in periodic_job_specs() if spec.next_due is every_beat] == []
