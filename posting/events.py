"""The ledger's outbound events (described in tenants/events.py): one function per event, called
where the state changes. Each announces after commit (tenants.webhooks.tenant_event_emit), so
nothing is sent for a posting or a reconciliation that rolled back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Sum

from commerce.models import Order, Refund
from core.money import quantize
from posting.models import JournalEntry, JournalLine, Reconciliation
from tenants.webhooks import tenant_event_emit, tenant_events_emit

_DOCUMENT_KEY = re.compile(r"^(order|refund):(\d+):v\d+$")


def _totals(entries: list[JournalEntry]) -> dict[int, Decimal]:
    rows = JournalLine.objects.filter(entry__in=entries).values("entry").annotate(debit=Sum("debit"))
    return {row["entry"]: row["debit"] for row in rows}


def _journal(entry: JournalEntry, total: Decimal) -> dict:
    return {
        "id": entry.pk,
        "source_key": entry.source_key,
        "date": entry.date.isoformat(),
        "currency": entry.currency,
        "total": str(quantize(total, entry.currency)),
        "status": entry.status,
    }


def _documents(entries: Iterable[JournalEntry], kind: str) -> list[tuple[JournalEntry, int]]:
    """(entry, document pk) of the entries posting a version of a `kind` document (not its
    cancellation, not a batch summary)."""
    found = []
    for entry in entries:
        match = _DOCUMENT_KEY.match(entry.source_key)
        if match and match.group(1) == kind:
            found.append((entry, int(match.group(2))))
    return found


def order_posted_emit(entries: Iterable[JournalEntry]) -> int:
    """Announce `order.posted` once for each order entry among `entries` (the single posting path
    and the batch path both call it with what they posted). Returns how many were announced."""
    posted = _documents(entries, "order")
    if not posted:
        return 0
    orders = Order.objects.in_bulk([pk for _, pk in posted])
    totals = _totals([entry for entry, _ in posted])
    payloads = [
        {
            "order": {
                "id": orders[pk].pk,
                "external_id": orders[pk].external_id,
                "source": orders[pk].source,
                "channel": orders[pk].channel,
                "source_version": int(entry.source_key.rsplit(":v", 1)[1]),
            },
            "journal": _journal(entry, totals.get(entry.pk, Decimal(0))),
        }
        for entry, pk in posted
    ]
    tenant_events_emit(event="order.posted", payloads=payloads)  # together, after commit
    return len(posted)


def refund_posted_emit(entries: Iterable[JournalEntry]) -> int:
    """Announce `refund.posted` once for each refund entry among `entries`."""
    posted = _documents(entries, "refund")
    if not posted:
        return 0
    refunds = Refund.objects.select_related("order").in_bulk([pk for _, pk in posted])
    totals = _totals([entry for entry, _ in posted])
    for entry, pk in posted:
        refund = refunds[pk]
        tenant_event_emit(
            event="refund.posted",
            payload={
                "refund": {
                    "id": refund.pk,
                    "external_id": refund.external_id,
                    "order_external_id": refund.order.external_id,
                    "source": refund.source,
                },
                "journal": _journal(entry, totals.get(entry.pk, Decimal(0))),
            },
        )
    return len(posted)


def payout_reconciled_emit(reconciliation: Reconciliation) -> None:
    """Announce `payout.reconciled` with the reconciliation's result (the caller decides that it is
    the first check or that the result changed)."""
    payout = reconciliation.payout
    tenant_event_emit(
        event="payout.reconciled",
        payload={
            "payout": {
                "id": payout.pk,
                "external_id": payout.external_id,
                "gateway": payout.gateway,
                "currency": payout.currency,
                "amount": str(quantize(payout.amount, payout.currency)),
                "arrival_date": payout.arrival_date.isoformat(),
            },
            "reconciliation": {
                "status": reconciliation.status,
                "matched_lines": reconciliation.matched,
                "line_count": len(reconciliation.lines),
                "difference": str(quantize(reconciliation.difference, payout.currency)),
            },
        },
    )
