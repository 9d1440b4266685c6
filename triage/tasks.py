"""Triage tasks: thin, idempotent, run in the schema they were sent from."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from core.periodic import periodic_job
from core.tasks import tenant_only
from triage import alerts, health, services


@shared_task(name="triage.exception_retry")
def exception_retry_task(exception_id: int) -> dict[str, int]:
    tenant_only("triage.exception_retry")
    return services.exception_retry_run(exception_id=exception_id)


@shared_task(name="triage.assignee_notify")
def assignee_notify_task(exception_id: int) -> bool:
    tenant_only("triage.assignee_notify")
    return alerts.assignee_notify(exception_id=exception_id)


@shared_task(name="triage.alerts_evaluate")
def alerts_evaluate_task(exception_id: int, trigger: str) -> int:
    tenant_only("triage.alerts_evaluate")
    return alerts.alerts_evaluate(exception_id=exception_id, trigger=trigger)


def sla_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first open exception's SLA passes or the first snooze ends."""
    return services.exceptions_sla_next_at()


@periodic_job("triage.sla_mark", next_due=sla_next_due)
def sla_mark() -> int:
    """When due (tenants/due.py): stamp SLA breaches, wake snoozed exceptions."""
    return services.exceptions_sla_mark()


@periodic_job("triage.flow_health", next_due=health.flow_health_next_due)
def flow_health() -> dict[str, int]:
    """At every beat while flow-health rules apply to the tenant (backlog, latency, ERP, silence)."""
    return health.flow_health_check()
