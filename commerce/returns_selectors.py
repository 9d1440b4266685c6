"""Reads for returns: the queue, one return with its timeline, and the KPIs (issue 19):

- return rate: orders placed in the window with a return (not rejected) / orders placed, in %;
- refund lag: mean hours from received to refunded, over returns received in the window and refunded;
- warehouse rework: units sent to refurbish / units received, over returns received in the window, in %."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from commerce.models import Order, Refund, Return, ReturnLine
from core.selectors import status_search_filter

PERCENT = Decimal("0.1")
RECEIVED_STATUSES = (Return.Status.RECEIVED, Return.Status.INSPECTED, Return.Status.REFUNDED, Return.Status.CLOSED)


def returns_list(*, status: str | None = None, search: str | None = None) -> QuerySet[Return]:
    returns = Return.objects.select_related("order").annotate(units=Sum("lines__quantity"))
    returns = status_search_filter(returns, status=status, search=search, search_fields=("name", "order__external_id"))
    return returns.order_by("-requested_at", "-pk")


def return_get(*, return_id: int) -> Return | None:
    return Return.objects.select_related("order", "exchange_order", "location").filter(pk=return_id).first()


def return_refunds_available(*, ret: Return) -> QuerySet[Refund]:
    """Refunds of the return's order not linked to it yet (to link by hand)."""
    return Refund.objects.filter(order_id=ret.order_id).exclude(returns=ret).order_by("processed_at", "pk")


def returns_by_status() -> dict[str, int]:
    counts = dict(Return.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Return.Status.values}


@dataclass(frozen=True)
class ReturnKpis:
    orders: int
    returned_orders: int
    return_rate: Decimal | None  # percent
    refunded: int
    refund_lag_hours: Decimal | None
    received_units: int
    refurbished_units: int
    rework_share: Decimal | None  # percent


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(PERCENT) if whole else None


def return_kpis(*, since: dt.datetime | None = None, until: dt.datetime | None = None) -> ReturnKpis:
    window = Q()
    if since is not None:
        window &= Q(placed_at__gte=since)
    if until is not None:
        window &= Q(placed_at__lt=until)
    orders = Order.objects.filter(window)
    returned = orders.filter(returns__isnull=False).exclude(returns__status=Return.Status.REJECTED).distinct()
    received = Return.objects.filter(received_at__isnull=False)
    if since is not None:
        received = received.filter(received_at__gte=since)
    if until is not None:
        received = received.filter(received_at__lt=until)
    lags = [
        (refunded_at - received_at).total_seconds()
        for received_at, refunded_at in received.filter(refunded_at__isnull=False).values_list(
            "received_at", "refunded_at"
        )
    ]
    lines = ReturnLine.objects.filter(ret__in=received)
    units = lines.aggregate(n=Sum("quantity"))["n"] or 0
    refurbished = lines.filter(disposition=ReturnLine.Disposition.REFURBISH).aggregate(n=Sum("quantity"))["n"] or 0
    order_count, returned_count = orders.count(), returned.count()
    return ReturnKpis(
        orders=order_count,
        returned_orders=returned_count,
        return_rate=_percent(returned_count, order_count),
        refunded=len(lags),
        refund_lag_hours=(Decimal(str(sum(lags))) / len(lags) / 3600).quantize(PERCENT) if lags else None,
        received_units=units,
        refurbished_units=refurbished,
        rework_share=_percent(refurbished, units),
    )


def returns_chart() -> dict:
    counts = returns_by_status()
    return {
        "labels": [Return.Status(status).label for status in counts],
        "datasets": [{"label": "Returns", "data": list(counts.values())}],
    }
