"""One order's journey on one page (DESIGN.md §1, §8): raw events → canonical document → mapping
decisions → journal lines → ERP acknowledgement → payout → exceptions, with the trace id that the
logs carry from the webhook to the ERP ack. Reads only the current tenant's schema."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commerce import selectors as commerce
from connectors import selectors as connectors
from posting import selectors as posting
from triage import selectors as triage

if TYPE_CHECKING:  # the trace hands these objects to the template as the apps' selectors return them
    from commerce.models import Order, PayoutLine
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


def order_trace(*, order_id: int) -> OrderTrace | None:
    order = commerce.order_get(order_id=order_id)
    if order is None:
        return None
    events = connectors.events_for_document(
        raw_event_id=order.raw_event_id, connection_id=order.source_connection_id, external_id=order.external_id
    )
    entries = posting.order_journal_entries(order=order, refund_ids=commerce.order_refund_ids(order=order))
    occurrences = triage.occurrences_for_objects(
        objects={
            "commerce.order": [order.pk],
            "connectors.inboundevent": [event.pk for event in events],
            "posting.journalentry": [entry.pk for entry in entries],
        }
    )
    document = dataclasses.asdict(commerce.order_document(order=order))
    return OrderTrace(
        order=order,
        trace_ids=sorted({item.trace_id for item in (*events, *entries) if item.trace_id}),
        events=events,
        document_json=json.dumps(document, indent=2, default=str),
        entries=entries,
        pushes=posting.entries_erp_pushes(entries=entries),
        payout_lines=posting.order_payout_lines(order=order),
        occurrences=occurrences,
    )
