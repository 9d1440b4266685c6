"""The registry of outbound webhook event types: what partners may subscribe to (tenants/webhooks.py).

Each type has a name, a payload `version` (carried in every envelope; raised when a field of
`data` is removed, renamed or changes meaning, never for an added field), a description, and an
example payload builder (the envelope's `data`). `docs/events.md` is generated from this registry
by `manage.py events_doc`, and a test keeps the committed file equal to the output. Tenant events
carry the tenant's slug in `data.tenant` (tenants.webhooks.tenant_event_emit adds it).

The events are emitted by one function each, in the app whose state changed (posting.events,
commerce.stock_low, triage.services, …): the registry only describes them, so it imports none of
them and every layer may read it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    description: str
    example: Callable[[], dict]
    tenant: bool = True  # about one tenant (data.tenant is its slug), else about the partner


def _exception(status: str = "open") -> dict:
    return {
        "id": 88,
        "kind": "mapping",
        "cause": "unmapped",
        "severity": "high",
        "status": status,
        "title": "Order 1001 could not be posted",
        "count": 1,
        "sla_due": "2026-03-15T15:30:00+00:00",
    }


def _journal(source_key: str, total: str) -> dict:
    return {
        "id": 1042,
        "source_key": source_key,
        "date": "2026-03-14",
        "currency": "USD",
        "total": total,
        "status": "ready",
    }


def _fulfilment(channel_status: str) -> dict:
    return {
        "tenant": "acme",
        "fulfilment": 31,
        "order": "1001",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "channel_status": channel_status,
    }


def _return(status: str) -> dict:
    return {
        "tenant": "acme",
        "return": 12,
        "name": "RMA-1001-1",
        "order": "1001",
        "status": status,
        "value": "45.00",
        "currency": "USD",
    }


_TYPES = (
    EventType(
        "tenant.created",
        1,
        "A tenant was provisioned for the partner (console or API).",
        lambda: {"tenant": {"slug": "acme", "name": "Acme", "domain": "acme.partner.example", "plan": "starter"}},
        tenant=False,
    ),
    EventType(
        "order.posted",
        1,
        "An order's journal entry was posted to the built-in ledger: its first version, or the difference a "
        "later version made (the entry's `source_key` ends in that version). Sent once per entry, also for "
        "orders posted in batches. `journal.status` says whether it still waits for the ERP push.",
        lambda: {
            "tenant": "acme",
            "order": {"id": 381, "external_id": "1001", "source": "shopify", "channel": "web", "source_version": 1},
            "journal": _journal("order:381:v1", "225.30"),
        },
    ),
    EventType(
        "refund.posted",
        1,
        "A refund's journal entry (the mirror of what its order posted for the refunded lines) was posted. Sent "
        "once per entry; a refund covered by the order's cancellation posts nothing and sends nothing.",
        lambda: {
            "tenant": "acme",
            "refund": {"id": 77, "external_id": "R1", "order_external_id": "1001", "source": "shopify"},
            "journal": _journal("refund:77:v1", "58.74"),
        },
    ),
    EventType(
        "payout.reconciled",
        1,
        "A payout was reconciled for the first time, or a re-check changed its result (`matched`, `differences` "
        "or `unmatched`). `difference` is the sum over the lines that did not match, in the payout currency.",
        lambda: {
            "tenant": "acme",
            "payout": {
                "id": 9,
                "external_id": "po_1",
                "gateway": "stripe",
                "currency": "USD",
                "amount": "1203.55",
                "arrival_date": "2026-03-17",
            },
            "reconciliation": {"status": "matched", "matched_lines": 7, "line_count": 7, "difference": "0.00"},
        },
    ),
    EventType(
        "stock.low",
        1,
        "A SKU's available-to-sell at a location a sales channel sells from fell to its safety stock or below "
        "(`ats` = on hand - reserved - safety <= 0). Sent once per fall; it is sent again only after the "
        "figure has risen above and fallen again.",
        lambda: {
            "tenant": "acme",
            "sku": "TEE-BLK",
            "location": {"id": 3, "name": "Main warehouse"},
            "on_hand": "4",
            "reserved": "2",
            "safety": "2",
            "ats": "0",
        },
    ),
    EventType(
        "exception.raised",
        1,
        "A triage exception group was opened in a tenant, or reopened because a resolved or ignored one happened "
        "again (a repeat of an open group only raises its count and sends nothing).",
        lambda: {"tenant": "acme", "exception": _exception()},
    ),
    EventType(
        "exception.resolved",
        1,
        "A triage exception group was resolved or ignored, by a person or because the object now succeeded.",
        lambda: {"tenant": "acme", "exception": _exception("resolved")},
    ),
    EventType(
        "exception.alert",
        1,
        "An alert rule with a webhook matched an exception (new group, threshold or SLA breach).",
        lambda: {
            "tenant": "acme",
            "rule": {"id": 5, "name": "Posting failures", "trigger": "new_group"},
            "exception": {key: _exception()[key] for key in ("id", "kind", "severity", "title", "count")},
        },
    ),
    EventType(
        "sync.failed",
        1,
        "A connection's sync run failed; the connection shows the error and an exception was raised.",
        lambda: {
            "tenant": "acme",
            "connection": {"id": 4, "vendor": "shopify", "name": "Web shop"},
            "sync_run": {"id": 120, "kind": "incremental", "pages": 3, "records": 150},
            "cause": "auth",
            "message": "The vendor refused the credentials (HTTP 401).",
        },
    ),
    EventType(
        "journal.pushed",
        1,
        "A journal entry was acknowledged by the ERP it was pushed to.",
        lambda: {
            "tenant": "acme",
            "journal": {"id": 1042, "source_key": "order:381:v1", "date": "2026-03-14"},
            "erp": {"vendor": "quickbooks", "external_id": "778", "number": "TB-1042"},
        },
    ),
    EventType(
        "promotion.deployment_changed",
        1,
        "Reserved: subscriptions accept it, but it is not sent yet (its payload is not defined).",
        lambda: {"tenant": "acme"},
    ),
    EventType(
        "fulfilment.shipped",
        1,
        "A warehouse (ShipStation, a ship-confirmation file) shipped part of an order.",
        lambda: _fulfilment("not_pushed"),
    ),
    EventType(
        "fulfilment.acknowledged",
        1,
        "The order's sales channel confirmed a shipment pushed to it (read back).",
        lambda: _fulfilment("acknowledged"),
    ),
    EventType("return.approved", 1, "A return was approved.", lambda: _return("approved")),
    EventType("return.received", 1, "A return's goods were received and inspected.", lambda: _return("received")),
    EventType("return.refunded", 1, "A return was refunded.", lambda: _return("refunded")),
)
EVENT_TYPES: dict[str, EventType] = {event_type.name: event_type for event_type in _TYPES}


def event_type_get(name: str) -> EventType | None:
    return EVENT_TYPES.get(name)


def event_names() -> tuple[str, ...]:
    """Every event type's name, in the registry's order (tenant lifecycle, documents, problems, …)."""
    return tuple(EVENT_TYPES)


def envelope_example(event_type: EventType) -> dict:
    """The body a subscriber receives for one event of this type (tenants.webhooks builds the real ones)."""
    return {
        "id": "evt_3f0c9a51b6f84d0e9c2a7b1d5e8f4a6c",
        "type": event_type.name,
        "version": event_type.version,
        "created": 1773502200,
        "partner": "northwind",
        "data": event_type.example(),
    }


DOC_HEADER = """# Outbound events

<!-- Generated from tenants/events.py by `manage.py events_doc`; do not edit by hand. -->

Partners subscribe to these event types per webhook subscription (`POST /api/v1/webhooks/`, see
[webhooks.md](webhooks.md) for delivery, signatures and retries). Every delivery's body is one
envelope:

| field | meaning |
|---|---|
| `id` | unique per event; a redelivery repeats it, so deduplicate on it |
| `type` | the event type, also in the `X-Tillbridge-Event` header |
| `version` | the version of `data`'s shape for this type (rises when a field is removed or renamed) |
| `created` | Unix time (seconds) the event was recorded |
| `partner` | the partner's slug |
| `data` | the payload below; tenant events carry the tenant's slug in `data.tenant` |
"""


def events_markdown() -> str:
    """docs/events.md: the envelope, then every event type with its version, description and example."""
    parts = [DOC_HEADER, "\n## Event types\n\n| type | version | about |\n|---|---|---|\n"]
    for event_type in EVENT_TYPES.values():
        about = "a tenant" if event_type.tenant else "the partner"
        anchor = event_type.name.replace(".", "")
        parts.append(f"| [`{event_type.name}`](#{anchor}) | {event_type.version} | {about} |\n")
    for event_type in EVENT_TYPES.values():
        example = json.dumps(envelope_example(event_type), indent=2)
        parts.append(
            f"\n## {event_type.name}\n\nVersion {event_type.version}. {event_type.description}\n\n"
            f"```json\n{example}\n```\n"
        )
    return "".join(parts)
