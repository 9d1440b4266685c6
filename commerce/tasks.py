"""Inventory tasks: thin, tenant-only (each runs in the schema it was sent from and refuses `public`)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from commerce.inventory_sync import inventory_push_due, inventory_push_stale_pending, inventory_stale_pending_at
from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only


@shared_task(base=FairTask, fair_queue="inventory", name="commerce.inventory_push", acks_late=True)
def inventory_push() -> dict[str, int]:
    tenant_only("commerce.inventory_push")
    report = inventory_push_due()
    return {"changes": report.changes, "channels": report.channels, "failed": report.failed}


def inventory_sweep_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the oldest waiting change has waited twice the debounce (its push task was lost)."""
    return inventory_stale_pending_at()


@periodic_job("commerce.inventory_push_sweep", next_due=inventory_sweep_next_due)
def inventory_push_sweep() -> int:
    """When due (tenants/due.py): queue a push when changes wait (their task was lost or never sent)."""
    return inventory_push_stale_pending()
