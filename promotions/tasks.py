"""Promotion tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django_tenants.utils import get_public_schema_name

from core.fairness import FairTask
from core.periodic import periodic_job
from promotions import prices, services


def _tenant_only(task_name: str) -> None:
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError(f"{task_name} must be sent from a tenant schema, not public.")


@shared_task(base=FairTask, fair_queue="promotions", name="promotions.deployment_send")
def deployment_send_task(deployment_id: int) -> dict[str, str]:
    _tenant_only("promotions.deployment_send")
    deployment = services.deployment_send(deployment_id=deployment_id)
    return {"deployment": str(deployment_id), "state": deployment.state if deployment else "gone"}


@shared_task(base=FairTask, fair_queue="promotions", name="promotions.price_list_send")
def price_list_send_task(deployment_id: int) -> dict[str, str]:
    _tenant_only("promotions.price_list_send")
    deployment = prices.price_list_send(deployment_id=deployment_id)
    return {"deployment": str(deployment_id), "state": deployment.state if deployment else "gone"}


@periodic_job("promotions.expire_due")
def promotions_expire_due() -> int:
    """Once a minute per tenant: promotions whose window has ended become expired."""
    _tenant_only("promotions.expire_due")
    return services.promotions_expire_due()


@periodic_job("promotions.stock_guard")
def promotions_stock_guard() -> int:
    """Once a minute per tenant: pause promotions on channels whose stock fell below the threshold."""
    _tenant_only("promotions.stock_guard")
    return len(services.promotions_stock_guard()["paused"])
