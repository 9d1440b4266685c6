"""One order's journey on one page (DESIGN.md §1, §8): raw events → canonical document → mapping
decisions → journal lines → ERP acknowledgement → payout → exceptions, with the trace id that the
logs carry from the webhook to the ERP ack. Reads only the current tenant's schema."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from commerce.models import Order, PayoutLine
from commerce.selectors import order_document
from connectors.models import InboundEvent
from posting.erp.models import ErpPush
from posting.models import JournalEntry
from triage.models import Occurrence


@dataclass(frozen=True)
class OrderTrace:
    order: Order
    trace_ids: list[str]
    events: list[InboundEvent]
    document_json: str
    entries: list[JournalEntry]
    pushes: dict[int, list[ErpPush]]
    payout_lines: list[PayoutLine]
    occurrences: list[Occurrence]


def orders_list(*, search: str = "") -> QuerySet[Order]:
    orders = Order.objects.order_by("-placed_at", "-pk")
    if search:
        orders = orders.filter(Q(external_id__icontains=search) | Q(customer_ref__icontains=search))
    return orders


def _entry_keys(order: Order) -> Q:
    keys = Q(source_key__startswith=f"order:{order.pk}:")
    for refund_pk in order.refunds.values_list("pk", flat=True):
        keys |= Q(source_key__startswith=f"refund:{refund_pk}:")
    return keys


def order_trace(*, order_id: int) -> OrderTrace | None:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return None
    events_filter = Q(pk=order.raw_event_id) if order.raw_event_id else Q(pk__in=[])
    if order.source_connection_id:
        events_filter |= Q(connection_id=order.source_connection_id, external_id=order.external_id)
    events = list(InboundEvent.objects.filter(events_filter).order_by("received_at", "pk"))
    entries = list(
        JournalEntry.objects.filter(_entry_keys(order)).prefetch_related("lines__account").order_by("created_at", "pk")
    )
    pushes: dict[int, list[ErpPush]] = {}
    for push in ErpPush.objects.filter(entry__in=entries).order_by("created_at"):
        pushes.setdefault(push.entry_id, []).append(push)
    payout_lines = list(
        PayoutLine.objects.filter(reference=order.external_id, payout__currency=order.currency)
        .select_related("payout", "payout__reconciliation")
        .order_by("payout__arrival_date")
    )
    types = ContentType.objects.get_for_models(Order, InboundEvent, JournalEntry)
    objects = Q(content_type=types[Order], object_id=str(order.pk))
    objects |= Q(content_type=types[InboundEvent], object_id__in=[str(event.pk) for event in events])
    objects |= Q(content_type=types[JournalEntry], object_id__in=[str(entry.pk) for entry in entries])
    occurrences = list(Occurrence.objects.filter(objects).select_related("exception").order_by("first_seen"))
    document = dataclasses.asdict(order_document(order=order))
    return OrderTrace(
        order=order,
        trace_ids=sorted({event.trace_id for event in events if event.trace_id}),
        events=events,
        document_json=json.dumps(document, indent=2, default=str),
        entries=entries,
        pushes=pushes,
        payout_lines=payout_lines,
        occurrences=occurrences,
    )
