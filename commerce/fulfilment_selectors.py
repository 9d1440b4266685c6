"""Reads of the fulfilment flow: the board's columns, the API's list, and two KPIs (issue 19):
order cycle time (paid → first shipment; median and p90) and the order allocation exception rate
(orders that hit a backorder or had no route, over orders that went through routing)."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Count, Exists, F, Min, OuterRef, Q, QuerySet, Value, When

from commerce.documents import ChannelFulfilmentDoc, FulfilmentRequestDoc, FulfilmentRequestLineDoc
from commerce.models import Fulfilment, FulfilmentRequest, Order, OrderLine, RoutingRule
from commerce.routing import ALLOCATION_CAUSES
from triage.models import Occurrence

STATES = ("waiting", "sent", "shipped", "acknowledged")
STATE_LABELS = {
    "waiting": "Waiting",
    "sent": "Sent to warehouse",
    "shipped": "Shipped",
    "acknowledged": "Acknowledged by channel",
}


def _warehouse(**extra) -> Q:
    return Q(fulfilments__origin=Fulfilment.Origin.WAREHOUSE, **{f"fulfilments__{k}": v for k, v in extra.items()})


def fulfilment_orders() -> QuerySet[Order]:
    """Orders in the fulfilment flow, each annotated with its board `state`."""
    requested = FulfilmentRequest.objects.filter(order=OuterRef("pk"))
    shipped = Fulfilment.objects.filter(order=OuterRef("pk"), origin=Fulfilment.Origin.WAREHOUSE)
    scope = Q(Exists(requested)) | Q(Exists(shipped))
    if RoutingRule.objects.filter(active=True).exists():
        scope |= Q(paid_at__isnull=False, cancelled_at__isnull=True, fulfilled_at__isnull=True)
    return (
        Order.objects.filter(scope)
        .annotate(
            n_sent=Count(
                "fulfilment_requests",
                filter=Q(fulfilment_requests__status=FulfilmentRequest.Status.SENT),
                distinct=True,
            ),
            n_shipped=Count("fulfilments", filter=_warehouse(), distinct=True),
            n_acknowledged=Count(
                "fulfilments", filter=_warehouse(channel_status=Fulfilment.ChannelStatus.ACKNOWLEDGED), distinct=True
            ),
        )
        .annotate(
            state=Case(
                When(Q(n_shipped__gt=0, n_sent=0) & Q(n_shipped=F("n_acknowledged")), then=Value("acknowledged")),
                When(n_shipped__gt=0, then=Value("shipped")),
                When(n_sent__gt=0, then=Value("sent")),
                default=Value("waiting"),
                output_field=CharField(),
            )
        )
        .order_by("-paid_at", "-pk")
    )


@dataclass(frozen=True)
class Board:
    counts: dict[str, int]
    columns: dict[str, list[Order]]


def fulfilment_board(*, per_column: int = 20) -> Board:
    orders = fulfilment_orders()
    counts = dict.fromkeys(STATES, 0)
    for state in orders.values_list("state", flat=True):  # the state is over aggregates: count here
        counts[state] += 1
    columns = {state: list(orders.filter(state=state)[:per_column]) for state in STATES}
    return Board(counts=counts, columns=columns)


def fulfilments_list() -> QuerySet[Fulfilment]:
    return (
        Fulfilment.objects.select_related("order", "request")
        .prefetch_related("lines__order_line")
        .order_by("-fulfilled_at", "-pk")
    )


def fulfilment_request_document(*, request: FulfilmentRequest) -> FulfilmentRequestDoc:
    order = request.order
    lines = OrderLine.objects.in_bulk([int(line["line"]) for line in request.lines])
    return FulfilmentRequestDoc(
        order_key=request.order_key,
        order_number=order.external_id,
        placed_at=order.placed_at,
        paid_at=order.paid_at,
        currency=order.currency,
        lines=tuple(
            FulfilmentRequestLineDoc(
                line_external_id=str(line["external_id"]),
                sku=str(line["sku"]),
                title=lines[int(line["line"])].title if int(line["line"]) in lines else "",
                quantity=int(line["quantity"]),
                unit_price=lines[int(line["line"])].unit_price if int(line["line"]) in lines else Decimal(0),
            )
            for line in request.lines
        ),
        ship_country=order.ship_country,
        ship_region=order.ship_region,
        customer_ref=order.customer_ref,
        location_external_id=request.location.external_id,
    )


def channel_fulfilment_document(*, fulfilment: Fulfilment) -> ChannelFulfilmentDoc:
    return ChannelFulfilmentDoc(
        fulfilment_id=fulfilment.pk,
        order_external_id=fulfilment.order.external_id,
        shipped_at=fulfilment.fulfilled_at,
        lines=tuple(
            (line.order_line.external_id, line.quantity)
            for line in fulfilment.lines.select_related("order_line").order_by("order_line__position")
        ),
        carrier=fulfilment.carrier,
        tracking_number=fulfilment.tracking_number,
        tracking_url=fulfilment.tracking_url,
        reference=fulfilment.channel_reference,
    )


def waiting_requests(*, max_attempts: int) -> list[int]:
    """Requests still to send to their warehouse system (automatic attempts left)."""
    return list(
        FulfilmentRequest.objects.filter(
            status=FulfilmentRequest.Status.WAITING,
            fulfilment_connection_id__isnull=False,
            attempts__lt=max_attempts,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:200]
    )


# ---- KPIs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleTime:
    orders: int
    median_hours: float | None
    p90_hours: float | None


def percentile_nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def order_cycle_time(*, since: dt.datetime | None = None) -> CycleTime:
    """Paid → first warehouse shipment, over orders shipped (by a warehouse) since `since`."""
    orders = Order.objects.filter(paid_at__isnull=False).annotate(
        shipped_at=Min("fulfilments__fulfilled_at", filter=_warehouse())
    )
    orders = orders.filter(shipped_at__isnull=False)
    if since is not None:
        orders = orders.filter(shipped_at__gte=since)
    hours = [
        max((shipped_at - paid_at).total_seconds(), 0) / 3600
        for paid_at, shipped_at in orders.values_list("paid_at", "shipped_at")
    ]
    if not hours:
        return CycleTime(orders=0, median_hours=None, p90_hours=None)
    return CycleTime(
        orders=len(hours),
        median_hours=round(statistics.median(hours), 2),
        p90_hours=round(percentile_nearest_rank(hours, 0.9), 2),
    )


@dataclass(frozen=True)
class AllocationRate:
    orders: int
    with_exception: int

    @property
    def rate(self) -> float | None:
        return round(self.with_exception / self.orders, 4) if self.orders else None


def order_allocation_exception_rate(*, since: dt.datetime | None = None) -> AllocationRate:
    """Orders that hit a backorder or had no route, over every order routing saw (routed or not)."""
    occurrences = Occurrence.objects.filter(
        content_type=ContentType.objects.get_for_model(Order), exception__cause__in=ALLOCATION_CAUSES
    )
    if since is not None:
        occurrences = occurrences.filter(last_seen__gte=since)
    flagged = {int(pk) for pk in occurrences.values_list("object_id", flat=True)}
    requests = FulfilmentRequest.objects.all()
    if since is not None:
        requests = requests.filter(created_at__gte=since)
    routed = set(requests.values_list("order_id", flat=True))
    return AllocationRate(orders=len(routed | flagged), with_exception=len(flagged))
