"""Promotion tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only
from promotions import lifecycle, prices, stock_guard
from promotions.deployment import deployment_send


@shared_task(base=FairTask, fair_queue="promotions", name="promotions.deployment_send")
def deployment_send_task(deployment_id: int) -> dict[str, str]:
    tenant_only("promotions.deployment_send")
    deployment = deployment_send(deployment_id=deployment_id)
    return {"deployment": str(deployment_id), "state": deployment.state if deployment else "gone"}


@shared_task(base=FairTask, fair_queue="promotions", name="promotions.price_list_send")
def price_list_send_task(deployment_id: int) -> dict[str, str]:
    tenant_only("promotions.price_list_send")
    deployment = prices.price_list_send(deployment_id=deployment_id)
    return {"deployment": str(deployment_id), "state": deployment.state if deployment else "gone"}


def expire_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first live (or published, paused) promotion's window ends."""
    return lifecycle.promotions_next_end()


@periodic_job("promotions.expire_due", next_due=expire_next_due)
def promotions_expire_due() -> int:
    """When due (tenants/due.py): promotions whose window has ended become expired."""
    tenant_only("promotions.expire_due")
    return lifecycle.promotions_expire_due()


def stock_guard_next_due(now: dt.datetime) -> dt.datetime | None:
    """At every beat while a promotion with a stock threshold is live or being published: stock
    moves without a write of the tenant's own (reservations, polled levels)."""
    return now if stock_guard.promotions_guarded_exist() else None


@periodic_job("promotions.stock_guard", next_due=stock_guard_next_due)
def promotions_stock_guard() -> int:
    """At every beat while guarded promotions are live: pause promotions on channels whose stock
    fell below the threshold."""
    tenant_only("promotions.stock_guard")
    return len(stock_guard.promotions_stock_guard()["paused"])
