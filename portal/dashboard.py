"""Selectors behind the tenant dashboard's KPIs (DESIGN.md §8).

Each function reads the current tenant's schema only and returns plain data the template and the
charts render; each has a test on known data (tests/portal/test_dashboard.py). Days are counted
in the tenant's time zone, so "today" for a Sydney retailer is Sydney's today.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from commerce.models import Order, Payout
from connectors.models import InboundEvent
from mappings.models import PostingRole
from posting.erp.models import ErpPush
from posting.models import JournalEntry, JournalLine, Reconciliation
from triage.models import OPEN_STATUSES, Activity, Occurrence
from triage.models import Exception as TriageException


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

    def counts(queryset, field: str) -> dict[dt.date, int]:
        rows = (
            queryset.filter(**{f"{field}__gte": start, f"{field}__lt": end})
            .annotate(day=TruncDate(field, tzinfo=tz))
            .values("day")
            .annotate(n=Count("pk"))
        )
        return {row["day"]: row["n"] for row in rows}

    orders = counts(Order.objects.all(), "placed_at")
    journals = counts(JournalEntry.objects.all(), "created_at")
    return DailySeries(
        labels=[day.isoformat() for day in dates],
        series={
            "orders": [orders.get(day, 0) for day in dates],
            "journals": [journals.get(day, 0) for day in dates],
        },
    )


def journal_backlog() -> dict[str, int]:
    """Journals not yet acknowledged by the ERP, by state."""
    rows = (
        JournalEntry.objects.filter(
            status__in=[JournalEntry.Status.READY, JournalEntry.Status.PUSHED, JournalEntry.Status.FAILED]
        )
        .values("status")
        .annotate(n=Count("pk"))
    )
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in ("ready", "pushed", "failed")}


def _window_start(*, days: int, now: dt.datetime | None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=days)


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _order_entry_pks(order_pks: set[int]) -> dict[int, int]:
    """Journal entry pk → order pk for the orders' own entries (not cancellations or reversals)."""
    found: dict[int, int] = {}
    for entry_pk, key in JournalEntry.objects.filter(source_key__startswith="order:").values_list("pk", "source_key"):
        parts = key.split(":")
        if len(parts) == 3 and parts[2].startswith("v") and int(parts[1]) in order_pks:
            found[entry_pk] = int(parts[1])
    return found


@dataclass(frozen=True)
class Latency:
    orders: int
    p50_seconds: float | None
    p95_seconds: float | None


def sync_latency(*, days: int = 30, now: dt.datetime | None = None) -> Latency:
    """Seconds from the vendor event's arrival to the ERP's acknowledgement of the order's journal,
    for orders placed in the window that have both ends (p50 and p95, nearest rank)."""
    since = _window_start(days=days, now=now)
    orders = dict(
        Order.objects.filter(placed_at__gte=since, raw_event_id__isnull=False).values_list("pk", "raw_event_id")
    )
    received = dict(InboundEvent.objects.filter(pk__in=set(orders.values())).values_list("pk", "received_at"))
    entries = _order_entry_pks(set(orders))
    acked: dict[int, dt.datetime] = {}
    for entry_pk, acked_at in ErpPush.objects.filter(
        entry_id__in=list(entries), status=ErpPush.Status.ACKED, acked_at__isnull=False
    ).values_list("entry_id", "acked_at"):
        order_pk = entries[entry_pk]
        acked[order_pk] = min(acked_at, acked.get(order_pk, acked_at))
    latencies = sorted(
        (acked[pk] - received[event]).total_seconds()
        for pk, event in orders.items()
        if pk in acked and event in received
    )
    return Latency(
        orders=len(latencies), p50_seconds=_percentile(latencies, 0.5), p95_seconds=_percentile(latencies, 0.95)
    )


def event_backlog() -> dict[str, int]:
    """Vendor events not yet turned into documents, by state."""
    rows = (
        InboundEvent.objects.filter(
            status__in=[InboundEvent.Status.RECEIVED, InboundEvent.Status.PROCESSING, InboundEvent.Status.FAILED]
        )
        .values("status")
        .annotate(n=Count("pk"))
    )
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in ("received", "processing", "failed")}


@dataclass(frozen=True)
class OrderQuality:
    orders: int
    exceptions: int
    exceptions_per_1000_orders: float | None
    perfect_orders: int
    perfect_order_percent: float | None


def order_quality(*, days: int = 30, now: dt.datetime | None = None) -> OrderQuality:
    """Exceptions per 1,000 orders and perfect-order % (orders that went through with no exception
    on the order itself, its raw event or its journal entries) for orders placed in the window."""
    since = _window_start(days=days, now=now)
    orders = dict(Order.objects.filter(placed_at__gte=since).values_list("pk", "raw_event_id"))
    exceptions = Occurrence.objects.filter(first_seen__gte=since).count()
    types = ContentType.objects.get_for_models(Order, InboundEvent, JournalEntry)
    touched: dict[int, set[str]] = {}
    for content_type_id, object_id in Occurrence.objects.filter(
        content_type__in=types.values(), first_seen__gte=since
    ).values_list("content_type_id", "object_id"):
        touched.setdefault(content_type_id, set()).add(object_id)
    entry_orders = _order_entry_pks(set(orders))
    failed = {pk for pk in orders if str(pk) in touched.get(types[Order].pk, set())}
    failed |= {pk for pk, event in orders.items() if event and str(event) in touched.get(types[InboundEvent].pk, set())}
    failed |= {
        order for entry, order in entry_orders.items() if str(entry) in touched.get(types[JournalEntry].pk, set())
    }
    count = len(orders)
    perfect = count - len(failed)
    return OrderQuality(
        orders=count,
        exceptions=exceptions,
        exceptions_per_1000_orders=round(exceptions * 1000 / count, 1) if count else None,
        perfect_orders=perfect,
        perfect_order_percent=round(perfect * 100 / count, 1) if count else None,
    )


def manual_interventions(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    """Things people had to do by hand in the window (retries, payload edits, resolves …), by action."""
    since = _window_start(days=days, now=now)
    rows = Activity.objects.filter(manual=True, created_at__gte=since).values("action").annotate(n=Count("pk"))
    return {row["action"]: row["n"] for row in rows.order_by("action")}


def sla_breaches(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    """Breaches stamped in the window, and exceptions open past their SLA right now."""
    since = _window_start(days=days, now=now)
    current = now or timezone.now()
    return {
        "in_window": TriageException.objects.filter(sla_breached_at__gte=since).count(),
        "open_now": TriageException.objects.filter(status__in=OPEN_STATUSES, sla_due__lte=current).count(),
    }


def reconciliation_cycle(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, float | int | None]:
    """Payouts arrived in the window: how many reconcile, and the median days from arrival to the
    check that matched them (the discount and fee differences a finance team chases)."""
    since = _window_start(days=days, now=now).date()
    payouts = Payout.objects.filter(arrival_date__gte=since)
    matched = Reconciliation.objects.filter(payout__in=payouts, status=Reconciliation.Status.MATCHED)
    cycle_days = sorted(
        max((checked_at.date() - arrival).days, 0)
        for checked_at, arrival in matched.values_list("checked_at", "payout__arrival_date")
    )
    return {
        "payouts": payouts.count(),
        "matched": len(cycle_days),
        "median_days": _percentile(cycle_days, 0.5),
    }


def discount_reconciliation_cycle(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, float | int | None]:
    """Orders placed in the window whose journal books a vendor-funded discount (a debit to the
    vendor-funded discount receivable, from a vendor-funded promotion or a discount the channel marked
    vendor-funded): how many have that claim reconciled, and the median hours from the order's
    posting to it. Tillbridge keeps no record of the vendor's invoice or payment, so the claim counts
    as reconciled when the ERP acknowledged the journal holding the receivable (where finance
    invoices the vendor); orders still waiting for the ERP are counted and not timed."""
    since = _window_start(days=days, now=now)
    order_pks = set(Order.objects.filter(placed_at__gte=since).values_list("pk", flat=True))
    entries = _order_entry_pks(order_pks)
    funded = set(
        JournalLine.objects.filter(
            entry_id__in=list(entries), role=PostingRole.VENDOR_FUNDED_DISCOUNT_RECEIVABLE, debit__gt=0
        ).values_list("entry_id", flat=True)
    )
    posted_at = dict(JournalEntry.objects.filter(pk__in=funded).values_list("pk", "created_at"))
    acked: dict[int, dt.datetime] = {}
    for entry_pk, acked_at in ErpPush.objects.filter(
        entry_id__in=funded, status=ErpPush.Status.ACKED, acked_at__isnull=False
    ).values_list("entry_id", "acked_at"):
        acked[entry_pk] = min(acked_at, acked.get(entry_pk, acked_at))
    hours = sorted(max((acked[pk] - posted_at[pk]).total_seconds() / 3600, 0.0) for pk in acked)
    median = _percentile(hours, 0.5)
    return {
        "orders": len({entries[pk] for pk in funded}),
        "reconciled": len({entries[pk] for pk in acked}),
        "median_hours": round(median, 1) if median is not None else None,
    }
