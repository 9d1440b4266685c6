"""Reads behind the order KPIs (portal/kpis.py): which order an object belongs to, when orders
shipped against the promised ship time, and how long stock changes took to reach every channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Min

from commerce.models import (
    Fulfilment,
    FulfilmentPolicy,
    FulfilmentRequest,
    Order,
    Payment,
    Refund,
    Return,
    StockSync,
)

# Model label → how an object of that model leads to its order (a field holding the order's pk).
ORDER_OBJECTS: Mapping[str, tuple[type, str]] = {
    "commerce.refund": (Refund, "order_id"),
    "commerce.payment": (Payment, "order_id"),
    "commerce.fulfilment": (Fulfilment, "order_id"),
    "commerce.fulfilmentrequest": (FulfilmentRequest, "order_id"),
    "commerce.return": (Return, "order_id"),
}


def fulfilment_policy_get() -> FulfilmentPolicy:
    """The tenant's policy, or the defaults (unsaved) when it was never changed: reading writes nothing."""
    return FulfilmentPolicy.read()


def orders_of_objects(*, objects: Mapping[str, Iterable[str]]) -> dict[str, dict[str, int]]:
    """Model label → {object id (as triage stores it) → order pk} for refunds, payments,
    fulfilments, fulfilment requests and returns; ids that are not numbers or not found are left out."""
    found: dict[str, dict[str, int]] = {}
    for label, ids in objects.items():
        model, field = ORDER_OBJECTS[label]
        pks = {int(pk) for pk in ids if str(pk).isdigit()}
        rows = model.objects.filter(pk__in=pks).values_list("pk", field) if pks else []
        found[label] = {str(pk): order for pk, order in rows}
    return found


def orders_of_events(*, event_ids: Iterable[str]) -> dict[str, int]:
    """Raw event id → the order it wrote (an order's or a refund's raw event)."""
    pks = {int(pk) for pk in event_ids if str(pk).isdigit()}
    if not pks:
        return {}
    orders = Order.objects.filter(raw_event_id__in=pks).values_list("pk", "raw_event_id")
    found = {str(event): order for order, event in orders}
    for order, event in Refund.objects.filter(raw_event_id__in=pks).values_list("order_id", "raw_event_id"):
        found.setdefault(str(event), order)
    return found


@dataclass(frozen=True)
class OrderShipping:
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    cancelled: bool
    first_shipped_at: dt.datetime | None


def orders_shipping(*, since: dt.datetime, until: dt.datetime | None = None) -> dict[int, OrderShipping]:
    """Orders placed in [since, until): when each was paid and first shipped (any fulfilment)."""
    orders = Order.objects.filter(placed_at__gte=since)
    if until is not None:
        orders = orders.filter(placed_at__lt=until)
    rows = orders.annotate(first_shipped=Min("fulfilments__fulfilled_at")).values_list(
        "pk", "placed_at", "paid_at", "cancelled_at", "first_shipped"
    )
    return {
        pk: OrderShipping(placed_at=placed, paid_at=paid, cancelled=cancelled is not None, first_shipped_at=shipped)
        for pk, placed, paid, cancelled, shipped in rows
    }


def stock_sync_seconds(*, since: dt.datetime) -> list[float]:
    """Seconds from a stock change's receipt to its acknowledgement by every channel selling it,
    for changes synced since `since`, ascending."""
    rows = StockSync.objects.filter(synced_at__gte=since).values_list("received_at", "synced_at")
    return sorted(max((synced - received).total_seconds(), 0.0) for received, synced in rows)
