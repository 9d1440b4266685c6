"""Reads of the canonical model, including the way back from rows to canonical documents (what the
journal builders consume)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Prefetch, QuerySet, Sum

from commerce.documents import (
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    FulfilmentDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from commerce.models import (
    ChannelLocation,
    ChannelStock,
    Fulfilment,
    FulfilmentLine,
    InventoryLevel,
    InventoryLocation,
    Order,
    Payout,
    Refund,
    Reservation,
    SafetyStock,
)
from core.money import quantize
from core.selectors import status_search_filter
from core.timeseries import counts_per_day


def _order_taxes(order: Order) -> tuple[dict[int, list[TaxLineDoc]], dict[int, list[TaxLineDoc]]]:
    """The order's tax lines per order line id and per shipping line id."""
    line_taxes: dict[int, list[TaxLineDoc]] = defaultdict(list)
    shipping_taxes: dict[int, list[TaxLineDoc]] = defaultdict(list)
    for tax in order.tax_lines.all():
        doc = TaxLineDoc(
            jurisdiction=tax.jurisdiction,
            rate=tax.rate,
            amount=quantize(tax.amount, order.currency),
            collected_by=tax.collected_by,
        )
        if tax.order_line_id is not None:
            line_taxes[tax.order_line_id].append(doc)
        else:
            shipping_taxes[tax.shipping_line_id].append(doc)
    return line_taxes, shipping_taxes


def _order_line_docs(lines: list, line_taxes: dict[int, list[TaxLineDoc]], currency: str) -> tuple[OrderLineDoc, ...]:
    return tuple(
        OrderLineDoc(
            external_id=line.external_id,
            sku=line.sku,
            title=line.title,
            product_category=line.product_category,
            quantity=line.quantity,
            unit_price=quantize(line.unit_price, currency),
            taxes=tuple(line_taxes[line.pk]),
            discount_allocations=tuple(
                (int(position), quantize(amount, currency)) for position, amount in line.discount_allocations
            ),
        )
        for line in lines
    )


def _order_discount_docs(order: Order, external_by_pk: dict[int, str]) -> tuple[DiscountDoc, ...]:
    return tuple(
        DiscountDoc(
            amount=quantize(discount.amount, order.currency),
            code=discount.code,
            promotion_id=discount.promotion_id,
            funding=discount.funding,
            line_external_id=external_by_pk[discount.order_line_id] if discount.order_line_id else None,
        )
        for discount in order.discounts.all()
    )


def _order_settlement_docs(
    order: Order, shipping_taxes: dict[int, list[TaxLineDoc]]
) -> tuple[tuple[ShippingLineDoc, ...], tuple[PaymentDoc, ...], tuple[FulfilmentDoc, ...]]:
    """The order's shipping lines, payments and fulfilments as documents."""
    currency = order.currency
    shipping_lines = tuple(
        ShippingLineDoc(
            external_id=shipping.external_id,
            code=shipping.code,
            title=shipping.title,
            amount=quantize(shipping.amount, currency),
            taxes=tuple(shipping_taxes[shipping.pk]),
        )
        for shipping in order.shipping_lines.all()
    )
    payments = tuple(
        PaymentDoc(
            external_id=payment.external_id,
            gateway=payment.gateway,
            method=payment.method,
            amount=quantize(payment.amount, currency),
            fee=quantize(payment.fee, currency),
            is_gift_card=payment.is_gift_card,
        )
        for payment in order.payments.all()
    )
    fulfilments = tuple(
        FulfilmentDoc(
            external_id=fulfilment.external_id,
            fulfilled_at=fulfilment.fulfilled_at,
            location=fulfilment.location,
            lines=tuple((line.order_line.external_id, line.quantity) for line in fulfilment.lines.all()),
        )
        for fulfilment in order.fulfilments.all()
    )
    return shipping_lines, payments, fulfilments


def order_document(*, order: Order) -> CanonicalOrder:
    currency = order.currency
    line_taxes, shipping_taxes = _order_taxes(order)
    lines = list(order.lines.all())
    discounts = _order_discount_docs(order, {line.pk: line.external_id for line in lines})
    shipping_lines, payments, fulfilments = _order_settlement_docs(order, shipping_taxes)
    return CanonicalOrder(
        external_id=order.external_id,
        source_version=order.source_version,
        currency=currency,
        placed_at=order.placed_at,
        paid_at=order.paid_at,
        fulfilled_at=order.fulfilled_at,
        cancelled_at=order.cancelled_at,
        channel=order.channel,
        store=order.store,
        customer_ref=order.customer_ref,
        taxes_included=order.taxes_included,
        presentment_currency=order.presentment_currency,
        presentment_amounts=order.presentment_amounts,
        vendor_total=quantize(order.vendor_total, currency) if order.vendor_total is not None else None,
        raw_event_id=order.raw_event_id,
        lines=_order_line_docs(lines, line_taxes, currency),
        discounts=discounts,
        shipping_lines=shipping_lines,
        payments=payments,
        fulfilments=fulfilments,
    )


def order_stored(*, source: str, connection_id: int | None, external_id: str) -> bool:
    """Whether the order a document refers to is stored yet (a refund can arrive before it)."""
    return Order.objects.filter(source=source, source_connection_id=connection_id, external_id=external_id).exists()


def quantity_per_order_line(*, rows: QuerySet) -> dict[int, int]:
    """Order line id → the quantity of `rows` (fulfilment, refund or return lines) on it."""
    return dict(
        rows.values("order_line_id").annotate(quantity=Sum("quantity")).values_list("order_line_id", "quantity")
    )


def refund_document(*, refund: Refund) -> CanonicalRefund:
    currency = refund.currency
    return CanonicalRefund(
        external_id=refund.external_id,
        order_external_id=refund.order.external_id,
        source_version=refund.source_version,
        currency=currency,
        processed_at=refund.processed_at,
        shipping=quantize(refund.shipping, currency),
        gateway=refund.gateway,
        is_gift_card=refund.is_gift_card,
        amount=quantize(refund.amount, currency) if refund.amount is not None else None,
        reason=refund.reason,
        raw_event_id=refund.raw_event_id,
        lines=tuple(
            RefundLineDoc(line_external_id=line.order_line.external_id, quantity=line.quantity, restock=line.restock)
            for line in refund.lines.select_related("order_line")
        ),
    )


def refunds_before(*, refund: Refund) -> list[Refund]:
    """The order's refunds processed before `refund` (ties by id), i.e. what a pro-rata reversal
    has already taken."""
    return [
        other
        for other in Refund.objects.filter(order_id=refund.order_id).order_by("processed_at", "pk")
        if (other.processed_at, other.pk) < (refund.processed_at, refund.pk)
    ]


def payout_document(*, payout: Payout) -> CanonicalPayout:
    currency = payout.currency
    return CanonicalPayout(
        external_id=payout.external_id,
        source_version=payout.source_version,
        currency=currency,
        arrival_date=payout.arrival_date,
        amount=quantize(payout.amount, currency),
        gateway=payout.gateway,
        raw_event_id=payout.raw_event_id,
        lines=tuple(
            PayoutLineDoc(
                type=line.type,
                amount=quantize(line.amount, currency),
                fee=quantize(line.fee, currency),
                reference=line.reference,
                external_id=line.external_id,
                description=line.description,
                vendor_type=line.vendor_type,
            )
            for line in payout.lines.all()
        ),
    )


# ---- available to sell (issue 8, part 4) ---------------------------------------------------


@dataclass(frozen=True)
class AtsRow:
    """One SKU at one location. `ats` may be negative (oversold); channels are sent `pushable`."""

    sku: str
    location_id: int
    location_name: str
    location_kind: str
    on_hand: Decimal
    reserved: Decimal
    safety: Decimal
    ats: Decimal

    @property
    def pushable(self) -> Decimal:
        return max(self.ats, Decimal(0))

    @property
    def oversold(self) -> bool:
        return self.ats < 0


@dataclass(frozen=True)
class ChannelAts:
    """What one sales channel may sell of one SKU: the sum of `pushable` over the locations it sells from."""

    channel_connection_id: int
    sku: str
    ats: Decimal


@dataclass(frozen=True)
class AvailableToSell:
    rows: list[AtsRow]
    channels: list[ChannelAts]

    def channel_ats(self, *, channel_connection_id: int, sku: str) -> Decimal:
        """ATS of `sku` on one channel (0 when the channel sells it from nowhere)."""
        for row in self.channels:
            if row.channel_connection_id == channel_connection_id and row.sku == sku:
                return row.ats
        return Decimal(0)


def available_to_sell(
    *,
    skus: Iterable[str] | None = None,
    location_ids: Iterable[int] | None = None,
    sku_search: str | None = None,
) -> AvailableToSell:
    """Available-to-sell per SKU x location, and per channel connection x SKU.

    ATS = on hand - reserved - safety stock, where
    - on hand is the location's last reported level (0 when only reservations exist);
    - reserved is the open reservations at the location, except those from the connection whose
      level is already net of its own orders (Shopify `available`), so nothing is counted twice;
    - safety is the SKU's safety stock at the location, else the location's default.
    Rows keep a negative ATS (oversold); `pushable` and the channel sums never go below zero.

    `skus` / `location_ids` restrict to exact SKUs / `InventoryLocation` ids; `sku_search` to SKUs
    containing the text. Runs in the current tenant schema. The promotions stock-threshold guard
    reads `channel_ats(channel_connection_id=…, sku=…)` from the result.
    """
    sku_list = list(skus) if skus is not None else None
    ids = list(location_ids) if location_ids is not None else None
    levels, reservations, safeties = (
        _narrowed(queryset, skus=sku_list, location_ids=ids, sku_search=sku_search)
        for queryset in (
            InventoryLevel.objects.all(),
            Reservation.objects.filter(released_at__isnull=True, location__isnull=False),
            SafetyStock.objects.all(),
        )
    )
    on_hand: dict[tuple[int, str], tuple[Decimal, bool, int | None]] = {
        (location_id, sku): (quantity, net, connection_id)
        for location_id, sku, quantity, net, connection_id in levels.values_list(
            "location_id", "sku", "on_hand", "net_of_source_orders", "source_connection_id"
        )
    }
    reserved: dict[tuple[int, str], list[tuple[int | None, Decimal]]] = defaultdict(list)
    for location_id, sku, connection_id, quantity in (
        reservations.values("location_id", "sku", "order_connection_id")
        .annotate(quantity=Sum("quantity"))
        .values_list("location_id", "sku", "order_connection_id", "quantity")
    ):
        reserved[(location_id, sku)].append((connection_id, quantity))
    safety = {
        (location_id, sku): quantity
        for location_id, sku, quantity in safeties.values_list("location_id", "sku", "quantity")
    }
    rows = _ats_rows(on_hand=on_hand, reserved=reserved, safety=safety)
    return AvailableToSell(rows=rows, channels=_channels_ats(rows))


def _narrowed(
    queryset: QuerySet, *, skus: list[str] | None, location_ids: list[int] | None, sku_search: str | None
) -> QuerySet:
    if skus is not None:
        queryset = queryset.filter(sku__in=skus)
    if location_ids is not None:
        queryset = queryset.filter(location_id__in=location_ids)
    if sku_search:
        queryset = queryset.filter(sku__icontains=sku_search)
    return queryset


def _ats_rows(
    *,
    on_hand: dict[tuple[int, str], tuple[Decimal, bool, int | None]],
    reserved: dict[tuple[int, str], list[tuple[int | None, Decimal]]],
    safety: dict[tuple[int, str], Decimal],
) -> list[AtsRow]:
    keys = sorted(set(on_hand) | set(reserved), key=lambda key: (key[1], key[0]))
    locations = InventoryLocation.objects.in_bulk({location_id for location_id, _ in keys})
    rows = []
    for key in keys:
        location = locations[key[0]]
        quantity, net, level_connection = on_hand.get(key, (Decimal(0), False, None))
        held = sum(
            (q for connection_id, q in reserved.get(key, ()) if not (net and connection_id == level_connection)),
            Decimal(0),
        )
        kept = safety.get(key, location.safety_stock_default)
        rows.append(
            AtsRow(
                sku=key[1],
                location_id=key[0],
                location_name=str(location),
                location_kind=location.kind,
                on_hand=quantity,
                reserved=held,
                safety=kept,
                ats=quantity - held - kept,
            )
        )
    return rows


def _channels_ats(rows: list[AtsRow]) -> list[ChannelAts]:
    """Per channel and SKU, the sum of `pushable` over the locations the channel sells from."""
    by_location: dict[int, list[AtsRow]] = defaultdict(list)
    for row in rows:
        by_location[row.location_id].append(row)
    sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for channel_id, location_id in ChannelLocation.objects.filter(location_id__in=list(by_location)).values_list(
        "channel_connection_id", "location_id"
    ):
        for row in by_location[location_id]:
            sums[(channel_id, row.sku)] += row.pushable
    return [ChannelAts(channel_id, sku, total) for (channel_id, sku), total in sorted(sums.items())]


def channel_stock_status() -> list[dict]:
    """Last push per channel connection: when, how many SKUs acknowledged, mismatched or failed."""
    summary = (
        ChannelStock.objects.values("channel_location__channel_connection_id", "status")
        .annotate(count=Count("pk"), last=Max("pushed_at"))
        .order_by()
    )
    channels: dict[int, dict] = {}
    for row in summary:
        entry = channels.setdefault(
            row["channel_location__channel_connection_id"],
            {
                "channel_connection_id": row["channel_location__channel_connection_id"],
                "last_pushed_at": None,
                "acknowledged": 0,
                "mismatch": 0,
                "failed": 0,
            },
        )
        entry[row["status"]] = row["count"]
        if entry["last_pushed_at"] is None or row["last"] > entry["last_pushed_at"]:
            entry["last_pushed_at"] = row["last"]
    return [channels[key] for key in sorted(channels)]


def inventory_locations_list() -> list[InventoryLocation]:
    """Every stock location with the channels selling from it (`location.channel_list`)."""
    locations = list(InventoryLocation.objects.order_by("name", "external_id", "pk"))
    channels: dict[int, list[ChannelLocation]] = defaultdict(list)
    for mapping in ChannelLocation.objects.order_by("channel_connection_id"):
        channels[mapping.location_id].append(mapping)
    for location in locations:
        location.channel_list = channels.get(location.pk, [])
    return locations


def inventory_location_get(*, location_id: int) -> InventoryLocation | None:
    """One location with the channels selling from it (`location.channel_list`), or None."""
    location = InventoryLocation.objects.filter(pk=location_id).first()
    if location is not None:
        location.channel_list = list(
            ChannelLocation.objects.filter(location=location).order_by("channel_connection_id")
        )
    return location


def reservations_unallocated(*, skus: Iterable[str] | None = None) -> dict[str, Decimal]:
    """Open reservations with no stock location (an order from a source with no matching or web
    location): they lower no ATS until a location takes them, so the portal shows them apart."""
    reservations = Reservation.objects.filter(released_at__isnull=True, location__isnull=True)
    if skus is not None:
        reservations = reservations.filter(sku__in=list(skus))
    return dict(reservations.values("sku").annotate(total=Sum("quantity")).order_by("sku").values_list("sku", "total"))


# ---- reads for the portal's dashboard and order trace (portal/dashboard.py, portal/trace.py) ----


def orders_placed_per_day(*, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> dict[dt.date, int]:
    """Orders placed in [start, end), counted per day in `tz`."""
    return counts_per_day(Order.objects.all(), "placed_at", start=start, end=end, tz=tz)


def orders_placed_since(*, since: dt.datetime) -> dict[int, int | None]:
    """Order pk → the pk of the raw event it came from (None for orders made without one)."""
    return dict(Order.objects.filter(placed_at__gte=since).values_list("pk", "raw_event_id"))


def orders_search(*, search: str = "") -> QuerySet[Order]:
    orders = Order.objects.order_by("-placed_at", "-pk")
    return status_search_filter(orders, status=None, search=search, search_fields=("external_id", "customer_ref"))


def orders_list() -> QuerySet[Order]:
    """Every order with its lines, discounts, taxes, shipping, payments and fulfilments (with their
    lines) loaded in one query per kind, whatever the page size: what the orders API shows."""
    return Order.objects.prefetch_related(
        "lines",
        "discounts",
        "tax_lines",
        "shipping_lines",
        "payments",
        Prefetch(
            "fulfilments",
            queryset=Fulfilment.objects.prefetch_related(
                Prefetch("lines", queryset=FulfilmentLine.objects.select_related("order_line"))
            ),
        ),
        Prefetch("refunds", queryset=Refund.objects.only("pk", "order_id")),
    ).order_by("-created_at", "-pk")


def refunds_list() -> QuerySet[Refund]:
    """Every refund with its lines and its order, newest first."""
    return Refund.objects.select_related("order").prefetch_related("lines").order_by("-created_at", "-pk")


def order_get(*, order_id: int) -> Order | None:
    return Order.objects.filter(pk=order_id).first()


def order_refund_ids(*, order: Order) -> list[int]:
    return list(order.refunds.values_list("pk", flat=True))


def payouts_arrived_count(*, since: dt.date) -> int:
    return Payout.objects.filter(arrival_date__gte=since).count()
