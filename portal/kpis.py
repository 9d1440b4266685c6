"""The KPIs as the seeds define them (DESIGN.md §8, issue 18), per tenant. Each is a selector that
reads the current tenant's schema; `tenant_kpis` gathers them for the dashboard, the API and the
partner roll-up (portal/kpis_partner.py), which adds numerators and denominators across tenants
rather than averaging rates. Tests on hand-computed data: tests/portal/test_kpis.py.

Definitions (window: the last `days` days up to `now`):
- Manual interventions per 1,000 orders: things a person did to get work through in the inbox
  (asked a retry, corrected a payload, resolved or ignored a failure; triage.selectors.INTERVENTIONS,
  by a signed-in user or an API key) per 1,000 orders placed in the window.
- Exceptions per 1,000 orders: exception occurrences first seen in the window whose object is an
  order or belongs to one (its refunds, payments, fulfilments, fulfilment requests, returns, the raw
  event that wrote it, the journal entry posting it and so that entry's ERP pushes) per 1,000 orders
  placed. Connection, sync, mapping-rule, inventory and promotion exceptions are not order-related.
- Perfect order rate: of the orders placed in the window whose outcome is known, the share with no
  order-related exception that shipped on time, i.e. whose first shipment came within the tenant's
  promised ship time (`FulfilmentPolicy.ship_sla_hours`) of payment (of placement when unpaid).
  Cancelled orders are left out; an order not shipped yet counts once it is overdue (late) or has an
  exception, and is pending (left out) before that.
- Inventory sync latency: seconds from a stock change's receipt to its acknowledgement by every
  channel selling from that location (commerce `StockSync`), p50 and p95 (nearest rank).
- Promotion activation accuracy: promotions.selectors.activation_accuracy (live offer read back
  matches the approved version on amount, type, eligibility and window).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from commerce import kpi_selectors as commerce_kpis
from connectors import selectors as connectors
from portal.dashboard import Latency, percentile, sla_breaches, sync_latency
from posting import selectors as posting
from promotions.selectors import ActivationAccuracy, activation_accuracy
from triage import selectors as triage

ORDER = "commerce.order"
EVENT = "connectors.inboundevent"
ENTRY = "posting.journalentry"
ORDER_LABELS = (ORDER, EVENT, ENTRY, *commerce_kpis.ORDER_OBJECTS)


def per_thousand(count: int, orders: int) -> float | None:
    return round(count * 1000 / orders, 1) if orders else None


def percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


@dataclass(frozen=True)
class PerThousand:
    count: int
    orders: int
    per_1000_orders: float | None


@dataclass(frozen=True)
class PerfectOrders:
    judged: int  # orders whose outcome is known (shipped, overdue, or with an exception)
    perfect: int
    with_exception: int
    late: int
    pending: int
    ship_sla_hours: int
    percent: float | None


@dataclass(frozen=True)
class StockLatency:
    changes: int
    p50_seconds: float | None
    p95_seconds: float | None
    seconds: tuple[float, ...] = field(default=(), repr=False, compare=False)  # for the partner roll-up


@dataclass(frozen=True)
class TenantKpis:
    days: int
    orders: int
    manual_interventions: PerThousand
    exceptions: PerThousand
    perfect_orders: PerfectOrders
    inventory_sync: StockLatency
    activation: ActivationAccuracy
    sync_latency: Latency
    event_backlog: dict[str, int]
    journal_backlog: dict[str, int]
    sla_breaches: dict[str, int]


def _since(days: int, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    end = now or timezone.now()
    return end - dt.timedelta(days=days), end


def _orders_placed(since: dt.datetime, end: dt.datetime) -> dict[int, commerce_kpis.OrderShipping]:
    return commerce_kpis.orders_shipping(since=since, until=end)


def manual_interventions_per_1000(*, days: int = 30, now: dt.datetime | None = None) -> PerThousand:
    """Interventions by a person in the window per 1,000 orders placed in it (see the module doc)."""
    since, end = _since(days, now)
    count = triage.interventions_count(since=since, until=end)
    orders = len(_orders_placed(since, end))
    return PerThousand(count=count, orders=orders, per_1000_orders=per_thousand(count, orders))


def order_exception_orders(*, since: dt.datetime) -> list[int]:
    """The order behind each order-related occurrence first seen since `since` (one per occurrence)."""
    occurrences = triage.occurrence_objects_since(since=since, labels=ORDER_LABELS)
    ids: dict[str, set[str]] = {label: set() for label in ORDER_LABELS}
    for label, object_id in occurrences:
        ids[label].add(object_id)
    owners = commerce_kpis.orders_of_objects(objects={label: ids[label] for label in commerce_kpis.ORDER_OBJECTS})
    owners[EVENT] = commerce_kpis.orders_of_events(event_ids=ids[EVENT])
    owners[ENTRY] = posting.orders_of_entries(entry_ids=ids[ENTRY])
    found = []
    for label, object_id in occurrences:
        if label == ORDER:
            if object_id.isdigit():
                found.append(int(object_id))
        elif object_id in owners[label]:
            found.append(owners[label][object_id])
    return found


def exceptions_per_1000(*, days: int = 30, now: dt.datetime | None = None) -> PerThousand:
    """Order-related exception occurrences in the window per 1,000 orders placed in it."""
    since, end = _since(days, now)
    count = len(order_exception_orders(since=since))
    orders = len(_orders_placed(since, end))
    return PerThousand(count=count, orders=orders, per_1000_orders=per_thousand(count, orders))


def perfect_order_rate(*, days: int = 30, now: dt.datetime | None = None) -> PerfectOrders:
    """Orders with no order-related exception that shipped within the promised ship time."""
    since, end = _since(days, now)
    sla_hours = commerce_kpis.fulfilment_policy_get().ship_sla_hours
    promised = dt.timedelta(hours=sla_hours)
    failed = set(order_exception_orders(since=since))
    judged = perfect = with_exception = late = pending = 0
    for pk, order in _orders_placed(since, end).items():
        if order.cancelled:
            continue
        due = (order.paid_at or order.placed_at) + promised
        shipped = order.first_shipped_at
        is_late = (shipped is not None and shipped > due) or (shipped is None and end > due)
        if pk not in failed and shipped is None and not is_late:
            pending += 1
            continue
        judged += 1
        with_exception += pk in failed
        late += is_late
        perfect += pk not in failed and not is_late
    return PerfectOrders(
        judged=judged,
        perfect=perfect,
        with_exception=with_exception,
        late=late,
        pending=pending,
        ship_sla_hours=sla_hours,
        percent=percent(perfect, judged),
    )


def inventory_sync_latency(*, days: int = 30, now: dt.datetime | None = None) -> StockLatency:
    """Stock change received → acknowledged by every channel, p50/p95 over changes synced in the window."""
    since, _end = _since(days, now)
    seconds = commerce_kpis.stock_sync_seconds(since=since)
    return StockLatency(
        changes=len(seconds),
        p50_seconds=percentile(seconds, 0.5),
        p95_seconds=percentile(seconds, 0.95),
        seconds=tuple(seconds),
    )


def tenant_kpis(*, days: int = 30, now: dt.datetime | None = None) -> TenantKpis:
    """Every KPI of the current tenant over the window."""
    since, end = _since(days, now)
    interventions = manual_interventions_per_1000(days=days, now=end)
    return TenantKpis(
        days=days,
        orders=interventions.orders,
        manual_interventions=interventions,
        exceptions=exceptions_per_1000(days=days, now=end),
        perfect_orders=perfect_order_rate(days=days, now=end),
        inventory_sync=inventory_sync_latency(days=days, now=end),
        activation=activation_accuracy(since=since, until=end),
        sync_latency=sync_latency(days=days, now=end),
        event_backlog=connectors.events_backlog_counts(),
        journal_backlog=posting.journals_unacknowledged_counts(),
        sla_breaches=sla_breaches(days=days, now=end),
    )
