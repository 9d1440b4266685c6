"""Posting tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from and
refuses `public`). Pushing is dispatched per entry so one slow ERP call never holds up the rest."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction

from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only
from posting import services as posting_services
from posting.erp import services
from posting.models import JournalEntry


@shared_task(base=FairTask, fair_queue="erp", name="posting.erp_push_journal")
def erp_push_journal(entry_id: int, force: bool = False) -> dict[str, str]:
    tenant_only("posting.erp_push_journal")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        return {"entry": str(entry_id), "result": "gone"}
    outcome = services.erp_push_entry(entry=entry, force=force)
    push = outcome.push
    return {
        "entry": str(entry_id),
        "result": outcome.skipped or (push.status if push else "none"),
        "external_id": push.external_id if push else "",
    }


@periodic_job("posting.erp_push_due")
def erp_push_due() -> int:
    """Once a minute per tenant: send a push task for every entry due (services.entries_due)."""
    tenant_only("posting.erp_push_due")
    ids = list(services.entries_due().values_list("pk", flat=True)[:500])
    for entry_id in ids:
        erp_push_journal.delay(entry_id)
    return len(ids)


@periodic_job("posting.batches_close_due")
def batches_close_due() -> int:
    """Once a minute per tenant: close every batch whose window (tenant zone, cut-off hour) has
    ended and queue the push of its summary entry."""
    tenant_only("posting.batches_close_due")
    entries = posting_services.batches_close_due(now=dt.datetime.now(dt.UTC))
    for entry in entries:
        erp_push_dispatch(entry_id=entry.pk)
    return len(entries)


def erp_push_dispatch(*, entry_id: int, force: bool = False) -> None:
    """Queue one push once the current transaction commits (the entry must be visible to the worker)."""
    transaction.on_commit(lambda: erp_push_journal.delay(entry_id, force))
