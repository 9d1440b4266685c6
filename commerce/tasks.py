"""Inventory tasks: thin, tenant-only (each runs in the schema it was sent from and refuses `public`)."""

from __future__ import annotations

from celery import shared_task

from commerce.inventory_sync import inventory_push_due, inventory_push_stale_pending
from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only


@shared_task(base=FairTask, fair_queue="inventory", name="commerce.inventory_push", acks_late=True)
def inventory_push() -> dict[str, int]:
    tenant_only("commerce.inventory_push")
    report = inventory_push_due()
    return {"changes": report.changes, "channels": report.channels, "failed": report.failed}


@periodic_job("commerce.inventory_push_sweep")
def inventory_push_sweep() -> int:
    """Once a minute per tenant: queue a push when changes wait (their task was lost or never sent)."""
    tenant_only("commerce.inventory_push_sweep")
    return inventory_push_stale_pending()
