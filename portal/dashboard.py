"""Selectors behind the tenant dashboard's KPIs (DESIGN.md §8).

Each function reads the current tenant's schema only and returns plain data the template and the
charts render; each has a test on known data (tests/portal/test_dashboard.py). Days are counted
in the tenant's time zone, so "today" for a Sydney retailer is Sydney's today.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone

from commerce import selectors as commerce
from connectors import selectors as connectors
from posting import selectors as posting
from triage import selectors as triage


@dataclass(frozen=True)
class DailySeries:
    """Aligned per-day series for a chart: labels are ISO dates, oldest first."""

    labels: list[str]
    series: dict[str, list[int]]


def _days(*, days: int, tz: ZoneInfo, today: dt.date | None) -> list[dt.date]:
    last = today or timezone.now().astimezone(tz).date()
    return [last - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def orders_and_postings_per_day(*, tz_name: str, days: int = 30, today: dt.date | None = None) -> DailySeries:
    """Orders placed and journal entries created per day over the last `days` days."""
    tz = ZoneInfo(tz_name)
    dates = _days(days=days, tz=tz, today=today)
    start = dt.datetime.combine(dates[0], dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(dates[-1] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    orders = commerce.orders_placed_per_day(start=start, end=end, tz=tz)
    journals = posting.journals_created_per_day(start=start, end=end, tz=tz)
    return DailySeries(
        labels=[day.isoformat() for day in dates],
        series={
            "orders": [orders.get(day, 0) for day in dates],
            "journals": [journals.get(day, 0) for day in dates],
        },
    )


def journal_backlog() -> dict[str, int]:
    """Journals not yet acknowledged by the ERP, by state."""
    return posting.journals_unacknowledged_counts()


def _window_start(*, days: int, now: dt.datetime | None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=days)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Latency:
    orders: int
    p50_seconds: float | None
    p95_seconds: float | None
    seconds: tuple[float, ...] = field(default=(), repr=False, compare=False)  # for the partner roll-up


def sync_latency(*, days: int = 30, now: dt.datetime | None = None) -> Latency:
    """Seconds from the vendor event's arrival to the ERP's acknowledgement of the order's journal,
    for orders placed in the window that have both ends (p50 and p95, nearest rank)."""
    since = _window_start(days=days, now=now)
    orders = {pk: event for pk, event in commerce.orders_placed_since(since=since).items() if event is not None}
    received = connectors.events_received_at(event_ids=orders.values())
    entries = posting.order_entry_ids(order_ids=set(orders))
    acked: dict[int, dt.datetime] = {}
    for entry_pk, acked_at in posting.entries_first_acked_at(entry_ids=entries).items():
        order_pk = entries[entry_pk]
        acked[order_pk] = min(acked_at, acked.get(order_pk, acked_at))
    latencies = sorted(
        (acked[pk] - received[event]).total_seconds()
        for pk, event in orders.items()
        if pk in acked and event in received
    )
    return Latency(
        orders=len(latencies),
        p50_seconds=percentile(latencies, 0.5),
        p95_seconds=percentile(latencies, 0.95),
        seconds=tuple(latencies),
    )


def event_backlog() -> dict[str, int]:
    """Vendor events not yet turned into documents, by state."""
    return connectors.events_backlog_counts()


def sla_breaches(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    """Breaches stamped in the window, and exceptions open past their SLA right now."""
    return triage.sla_breach_counts(since=_window_start(days=days, now=now), now=now or timezone.now())


def reconciliation_cycle(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, float | int | None]:
    """Payouts arrived in the window: how many reconcile, and the median days from arrival to the
    check that matched them (the discount and fee differences a finance team chases)."""
    since = _window_start(days=days, now=now).date()
    cycle_days = sorted(
        max((checked_at.date() - arrival).days, 0)
        for checked_at, arrival in posting.reconciliations_matched(arrived_since=since)
    )
    return {
        "payouts": commerce.payouts_arrived_count(since=since),
        "matched": len(cycle_days),
        "median_days": percentile(cycle_days, 0.5),
    }


def discount_reconciliation_cycle(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, float | int | None]:
    """Orders placed in the window whose journal books a vendor-funded discount (a debit to the
    vendor-funded discount receivable, from a vendor-funded promotion or a discount the channel marked
    vendor-funded): how many have that claim reconciled, and the median hours from the order's
    posting to it. Tillbridge keeps no record of the vendor's invoice or payment, so the claim counts
    as reconciled when the ERP acknowledged the journal holding the receivable (where finance
    invoices the vendor); orders still waiting for the ERP are counted and not timed."""
    since = _window_start(days=days, now=now)
    entries = posting.order_entry_ids(order_ids=set(commerce.orders_placed_since(since=since)))
    funded = posting.entries_with_vendor_funded_receivable(entry_ids=entries)
    posted_at = posting.entries_created_at(entry_ids=funded)
    acked = posting.entries_first_acked_at(entry_ids=funded)
    hours = sorted(max((acked[pk] - posted_at[pk]).total_seconds() / 3600, 0.0) for pk in acked)
    median = percentile(hours, 0.5)
    return {
        "orders": len({entries[pk] for pk in funded}),
        "reconciled": len({entries[pk] for pk in acked}),
        "median_hours": round(median, 1) if median is not None else None,
    }
