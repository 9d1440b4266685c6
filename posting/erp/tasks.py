"""ERP push tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from and
refuses `public`). A posted entry's push is sent when its transaction commits; the minute sweep
(`erp_push_due`) is the safety net for a push that was never sent or did not finish. Pushing is
dispatched per entry so one slow ERP call never holds up the rest."""

from __future__ import annotations

import datetime as dt

import structlog
from celery import shared_task
from django.db import transaction
from django.db.models import Min

from core.context import trace_bind
from core.fairness import FairTask
from core.periodic import periodic_job
from core.tasks import tenant_only
from posting.erp import services
from posting.erp.models import ErpPush
from posting.models import JournalEntry

log = structlog.get_logger(__name__)


@shared_task(base=FairTask, fair_queue="erp", name="posting.erp_push_journal")
def erp_push_journal(entry_id: int, force: bool = False) -> dict[str, str]:
    tenant_only("posting.erp_push_journal")
    entry = JournalEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        return {"entry": str(entry_id), "result": "gone"}
    trace_bind(entry.trace_id)  # the push logs under the trace of the webhook that posted the entry
    outcome = services.erp_push_entry(entry=entry, force=force)
    push = outcome.push
    return {
        "entry": str(entry_id),
        "result": outcome.skipped or (push.status if push else "none"),
        "external_id": push.external_id if push else "",
    }


def erp_push_next_due(now: dt.datetime) -> dt.datetime | None:
    """At the next beat while an entry is due; when a push in flight would count as interrupted."""
    if services.entries_due().exists():
        return now
    pushing = ErpPush.objects.filter(status=ErpPush.Status.PUSHING).aggregate(at=Min("updated_at"))["at"]
    return pushing + services.STALE_PUSHING if pushing is not None else None


@periodic_job("posting.erp_push_due", next_due=erp_push_next_due)
def erp_push_due() -> int:
    """When due (tenants/due.py): send a push task for every entry due (services.entries_due)."""
    ids = list(services.entries_due().values_list("pk", flat=True)[:500])
    for entry_id in ids:
        erp_push_journal.delay(entry_id)
    return len(ids)


def erp_push_dispatch(*, entry_id: int, force: bool = False) -> None:
    """Queue one push once the current transaction commits (the entry must be visible to the worker).
    Nothing is sent when the transaction rolls back."""
    transaction.on_commit(lambda: _send(entry_id, force))


def _send(entry_id: int, force: bool) -> None:
    try:
        erp_push_journal.delay(entry_id, force)
    except Exception:  # broker down: the entry is committed and stays due, so the sweep sends it
        if force:  # a person asked for this push: tell them it was not queued
            raise
        log.warning("posting.erp_push_dispatch_failed", entry_id=entry_id, exc_info=True)
