"""Promotion tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from)."""

from __future__ import annotations

from celery import shared_task

from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only
from promotions import budget, drift, launch, lifecycle, price_changes, prices, stock_guard
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


@shared_task(base=FairTask, fair_queue="promotions", name="promotions.budget_pause")
def budget_pause_task(promotion_id: int) -> dict[str, str]:
    tenant_only("promotions.budget_pause")
    paused = budget.promotion_budget_pause(promotion_id=promotion_id)
    return {"promotion": str(promotion_id), "paused": str(len(paused))}


@periodic_job("promotions.expire_due")
def promotions_expire_due() -> int:
    """Once a minute per tenant: promotions whose window has ended become expired."""
    tenant_only("promotions.expire_due")
    return lifecycle.promotions_expire_due()


@periodic_job("promotions.stock_guard")
def promotions_stock_guard() -> int:
    """Once a minute per tenant: pause promotions on channels whose stock fell below the threshold."""
    tenant_only("promotions.stock_guard")
    return len(stock_guard.promotions_stock_guard()["paused"])


@periodic_job("promotions.price_lists_publish_due")
def price_lists_publish_due() -> int:
    """Once a minute per tenant: publish the scheduled price list versions whose start has come."""
    tenant_only("promotions.price_lists_publish_due")
    return price_changes.price_lists_publish_due()


@periodic_job("promotions.launch_advance")
def promotions_launch_advance() -> int:
    """Once a minute per tenant: send the next wave of staged launches whose hold has passed."""
    tenant_only("promotions.launch_advance")
    return sum(outcome == "sent" for outcome in launch.promotions_launch_advance().values())


@periodic_job("promotions.offers_drift_check")
def promotions_offers_drift_check() -> dict[str, int]:
    """Once a minute per tenant: read back a few live offers not checked within
    PROMOTIONS_DRIFT_CHECK_MINUTES and raise an exception for any that left the approved version."""
    tenant_only("promotions.offers_drift_check")
    return drift.offers_drift_check()
