"""Platform tasks: worker heartbeat and the per-minute fan-out of tenant periodic jobs to the
tenants with something due."""

from __future__ import annotations

import time

import redis
from celery import current_app, shared_task
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from core.fairness import fair_reclaim as reclaim
from core.fairness import fair_repump, fair_run_next, pump_send
from tenants.due import DueVisit, tenant_periodic_visit, tenants_due_claim
from tenants.selectors import active_tenants, tenant_current_suspended


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


@shared_task(name="portal.heartbeat")
def heartbeat() -> float:
    now = time.time()
    redis_client().set(settings.WORKER_HEARTBEAT_KEY, now, ex=settings.WORKER_HEARTBEAT_MAX_AGE * 4)
    return now


@shared_task(name="portal.tenants_fan_out")
def tenants_fan_out(*, every_tenant: bool = False) -> int:
    """Send one `tenant_periodic_run` to each active tenant with a job due (tenants/due.py), in that
    tenant's schema. `every_tenant` sends one to every active tenant with every job, as before the
    due-time index (bench/idle.py compares the two)."""
    if every_tenant:
        visits = [DueVisit(tenant.schema_name, None, None) for tenant in active_tenants().only("schema_name")]
    else:
        visits = tenants_due_claim()
    for visit in visits:
        with schema_context(visit.schema_name):
            tenant_periodic_run.apply_async(kwargs={"jobs": visit.jobs, "version": visit.version})
    return len(visits)


@shared_task(name="portal.tenant_periodic_run")
def tenant_periodic_run(jobs: list[str] | None = None, version: int | None = None) -> dict[str, str]:
    """Run the due periodic jobs (every job: None) in the schema this task was sent from and record
    when the tenant is next due."""
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError("tenant_periodic_run must be sent from a tenant schema, not public.")
    if tenant_current_suspended():  # suspended after the fan-out: no sweeps, syncs or pushes
        return {}
    return tenant_periodic_visit(jobs=jobs, version=version)


@shared_task(name="portal.fair_pump", acks_late=False)
def fair_pump(*, queue: str) -> str | None:
    """One token of a fair queue: run whichever tenant's job is next (core/fairness.py)."""
    job = fair_run_next(queue=queue)
    return f"{job.schema}:{job.task}" if job is not None else None


@shared_task(name="portal.fair_submit_later")
def fair_submit_later(*, task: str, args: list, kwargs: dict) -> str:
    """A fair task sent with a countdown: now due, it joins its tenant's fair queue."""
    return current_app.tasks[task].apply_async(args=args, kwargs=kwargs).id


@shared_task(name="portal.fair_reclaim")
def fair_reclaim() -> int:
    """Once a minute: jobs whose worker died while running them go back to their tenant's list, and
    waiting jobs whose pump token was lost get a new one. Returns the pumps sent."""
    total = 0
    for queue in settings.FAIR_QUEUES:
        count = reclaim(queue=queue)
        if count:
            pump_send(queue=queue, count=count)
        total += count + fair_repump(queue=queue)
    return total
