"""Promotion tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only
from promotions import budget, claims, drift, launch, lifecycle, price_changes, prices, scheduled, stock_guard
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


def expire_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first live (or published, paused) promotion's window ends."""
    return lifecycle.promotions_next_end()


@periodic_job("promotions.expire_due", next_due=expire_next_due)
def promotions_expire_due() -> int:
    """When due (tenants/due.py): promotions whose window has ended become expired."""
    return lifecycle.promotions_expire_due()


def stock_guard_next_due(now: dt.datetime) -> dt.datetime | None:
    """At every beat while a promotion with a stock threshold is live or being published: stock
    moves without a write of the tenant's own (reservations, polled levels)."""
    return now if stock_guard.promotions_guarded_exist() else None


@periodic_job("promotions.stock_guard", next_due=stock_guard_next_due)
def promotions_stock_guard() -> int:
    """At every beat while guarded promotions are live: pause promotions on channels whose stock
    fell below the threshold."""
    return len(stock_guard.promotions_stock_guard()["paused"])


def price_lists_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first scheduled price list version starts."""
    return price_changes.price_list_next_start()


@periodic_job("promotions.price_lists_publish_due", next_due=price_lists_next_due)
def price_lists_publish_due() -> int:
    """When due (tenants/due.py): publish the scheduled price list versions whose start has come."""
    return price_changes.price_lists_publish_due()


@periodic_job("promotions.launch_advance", next_due=launch.launches_next_due)
def promotions_launch_advance() -> int:
    """At every beat while a staged launch runs: send the next wave whose hold has passed."""
    return sum(outcome == "sent" for outcome in launch.promotions_launch_advance().values())


@periodic_job("promotions.offers_drift_check", next_due=drift.drift_next_due)
def promotions_offers_drift_check() -> dict[str, int]:
    """When due (tenants/due.py): read back a few live offers not checked within
    PROMOTIONS_DRIFT_CHECK_MINUTES and raise an exception for any that left the approved version."""
    return drift.offers_drift_check()


def scheduled_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the earliest draft waiting for its window start (a WooCommerce coupon) starts."""
    return scheduled.scheduled_next_start()


@periodic_job("promotions.scheduled_go_live", next_due=scheduled_next_due)
def promotions_scheduled_go_live() -> int:
    """When due (tenants/due.py): make live the drafts whose window start has come."""
    return scheduled.scheduled_go_live()


@periodic_job("promotions.claims_overdue", next_due=claims.claims_overdue_next_due)
def promotions_claims_overdue() -> int:
    """When due (tenants/due.py): raise the vendor claims still underpaid past the policy's days."""
    return claims.vendor_claims_overdue_raise()
