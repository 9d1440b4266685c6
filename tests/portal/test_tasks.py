"""Tenant-aware Celery with a real worker process: a task runs in the schema it was sent from."""

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django_tenants.utils import tenant_context

from core import fairness
from core.periodic import periodic_job, periodic_jobs
from portal import tasks
from tenants import services
from tenants.due import tenant_due_bump
from tenants.models import Tenant
from tests.worker_tasks import schema_probe


@pytest.fixture
def probe_rows(django_db_blocker):
    """A committed row in each of acme's and bluebird's schemas (the worker only sees committed data)."""
    from tests.conftest import _WORLD

    with django_db_blocker.unblock():
        for tenant, model in ((_WORLD.acme, "acme_only"), (_WORLD.bluebird, "bluebird_only")):
            with tenant_context(tenant):
                ContentType.objects.get_or_create(app_label="isolation_probe", model=model)
    yield _WORLD
    with django_db_blocker.unblock():
        for tenant in (_WORLD.acme, _WORLD.bluebird):
            with tenant_context(tenant):
                ContentType.objects.filter(app_label="isolation_probe").delete()


@pytest.mark.worker
def test_task_runs_in_the_senders_schema_and_sees_only_its_rows(celery_worker, probe_rows):
    world = probe_rows
    with tenant_context(world.acme):
        from_acme = schema_probe.delay()
    with tenant_context(world.bluebird):
        from_bluebird = schema_probe.delay()
    assert from_acme.get(timeout=30) == {"schema": "t_acme", "probes": ["acme_only"]}
    assert from_bluebird.get(timeout=30) == {"schema": "t_bluebird", "probes": ["bluebird_only"]}


@pytest.mark.worker
def test_tenant_periodic_run_refuses_public(celery_worker, django_db_blocker):
    result = tasks.tenant_periodic_run.delay()
    with pytest.raises(RuntimeError, match="must be sent from a tenant schema"):
        result.get(timeout=30)


@pytest.mark.worker
def test_heartbeat_task_makes_healthz_report_the_worker(celery_worker, django_db_blocker, host_client):
    tasks.heartbeat.delay().get(timeout=30)
    with django_db_blocker.unblock():
        response = host_client("localhost").get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["worker"]["ok"] is True


def test_healthz_is_503_without_a_worker_heartbeat(world, host_client, settings):
    settings.WORKER_HEARTBEAT_KEY = "tillbridge:test:no-such-heartbeat"
    response = host_client(world.host(world.acme)).get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "heartbeat_age_seconds": None,
        "error": "no worker heartbeat",
    }


def _record_sends(monkeypatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        tasks.tenant_periodic_run, "apply_async", lambda *, kwargs: sent.append((connection.schema_name, kwargs))
    )
    return sent


def test_fan_out_sends_one_run_per_active_tenant_due_in_its_schema(world, monkeypatch):
    sent = _record_sends(monkeypatch)
    for tenant in (world.acme, world.bluebird, world.cedar):
        tenant_due_bump(schema_name=tenant.schema_name)
    services.tenant_status_set(tenant=Tenant.objects.get(pk=world.bluebird.pk), status="suspended", actor=None)
    count = tasks.tenants_fan_out()
    schemas = [schema for schema, _ in sent]
    assert "t_bluebird" not in schemas
    assert {"t_acme", "t_cedar"} <= set(schemas)
    assert count == len(sent)
    assert {schema: kwargs["jobs"] for schema, kwargs in sent if schema in ("t_acme", "t_cedar")} == {
        "t_acme": None,
        "t_cedar": None,
    }


def test_fan_out_every_tenant_sends_every_active_tenant_every_job(world, monkeypatch):
    sent = _record_sends(monkeypatch)
    services.tenant_status_set(tenant=Tenant.objects.get(pk=world.bluebird.pk), status="suspended", actor=None)
    tasks.tenants_fan_out()  # claims whatever is due
    sent.clear()
    count = tasks.tenants_fan_out(every_tenant=True)
    assert {"t_acme", "t_cedar"} <= {schema for schema, _ in sent}
    assert "t_bluebird" not in {schema for schema, _ in sent}
    assert {kwargs["jobs"] for _, kwargs in sent} == {None}
    assert count == len(sent)


def test_periodic_jobs_run_in_the_tenant_schema(world):
    seen = []

    @periodic_job("tests.record_schema")
    def record_schema():
        seen.append(connection.schema_name)

    @periodic_job("tests.failing")
    def failing():
        raise ValueError("boom")

    try:
        with tenant_context(world.cedar):
            results = tasks.tenant_periodic_run()
        assert seen == ["t_cedar"]
        assert results["tests.record_schema"] == "ok"
        assert results["tests.failing"] == "error: boom"
    finally:
        from core import periodic

        periodic._JOBS.pop("tests.record_schema", None)
        periodic._JOBS.pop("tests.failing", None)
    assert "tests.record_schema" not in periodic_jobs()


@pytest.mark.worker
def test_fair_reclaim_gives_a_job_whose_token_was_lost_a_new_one_and_the_job_runs(celery_worker, django_db_blocker):
    from posting.erp.tasks import erp_push_journal
    from tests.conftest import _WORLD

    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    with django_db_blocker.unblock():
        with tenant_context(_WORLD.acme):
            job_id, _created = fairness.fair_submit(
                queue="erp", schema="t_acme", task=erp_push_journal.name, args=[987_654_321]
            )  # stored, but its pump never reached the broker (a send that failed)
        assert fairness.fair_backlog(queue="erp") == {"t_acme": 1}
        sent = tasks.fair_reclaim()  # the once-a-minute beat task
    assert sent >= 1
    # The worker takes the new token and runs the job (an entry that does not exist: "gone").
    assert erp_push_journal.AsyncResult(job_id).get(timeout=30) == {"entry": "987654321", "result": "gone"}
    assert fairness.fair_waiting(queue="erp") == 0
    assert broker.llen(fairness.pump_queue("erp")) == 0  # one token sent, one taken: no spares left
