"""Platform tasks: worker heartbeat and the per-minute fan-out of tenant periodic jobs."""

from __future__ import annotations

import time

import redis
import structlog
from celery import current_app, shared_task
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, tenant_context

from core.fairness import fair_reclaim as reclaim
from core.fairness import fair_run_next, pump_send
from core.periodic import periodic_jobs
from tenants.selectors import active_tenants, tenant_current_suspended

log = structlog.get_logger(__name__)


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


@shared_task(name="portal.heartbeat")
def heartbeat() -> float:
    now = time.time()
    redis_client().set(settings.WORKER_HEARTBEAT_KEY, now, ex=settings.WORKER_HEARTBEAT_MAX_AGE * 4)
    return now


@shared_task(name="portal.tenants_fan_out")
def tenants_fan_out() -> int:
    """Send one `tenant_periodic_run` per active tenant, each in that tenant's schema."""
    count = 0
    for tenant in active_tenants().only("schema_name", "status"):
        with tenant_context(tenant):
            tenant_periodic_run.delay()
        count += 1
    return count


@shared_task(name="portal.tenant_periodic_run")
def tenant_periodic_run() -> dict[str, str]:
    """Run every registered periodic job in the schema this task was sent from."""
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError("tenant_periodic_run must be sent from a tenant schema, not public.")
    if tenant_current_suspended():  # suspended after the fan-out: no sweeps, syncs or pushes
        return {}
    results: dict[str, str] = {}
    for name, job in periodic_jobs().items():
        try:
            job()
            results[name] = "ok"
        except Exception as exc:  # one failing job must not stop the others; the error is logged
            log.exception("periodic_job_failed", job=name, schema=connection.schema_name)
            results[name] = f"error: {exc}"
    return results


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
    """Once a minute: jobs whose worker died while running them go back to their tenant's list."""
    total = 0
    for queue in settings.FAIR_QUEUES:
        count = reclaim(queue=queue)
        if count:
            pump_send(queue=queue, count=count)
        total += count
    return total
