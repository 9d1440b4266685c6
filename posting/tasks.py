"""Posting tasks: thin, idempotent, tenant-aware (each runs in the schema it was sent from and
refuses `public`). The ERP push tasks are in posting/erp/tasks.py."""

from __future__ import annotations

import datetime as dt

from core.periodic import periodic_job
from posting import services as posting_services
from posting.erp.tasks import erp_push_dispatch


def batches_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first open batch's window ends (a batch opens as an entry joins it)."""
    return posting_services.batches_open_window_end()


@periodic_job("posting.batches_close_due", next_due=batches_next_due)
def batches_close_due() -> int:
    """When due (tenants/due.py): close every batch whose window (tenant zone, cut-off hour) has
    ended and queue the push of its summary entry."""
    entries = posting_services.batches_close_due(now=dt.datetime.now(dt.UTC))
    for entry in entries:
        erp_push_dispatch(entry_id=entry.pk)
    return len(entries)
