"""Redemption of a promotion (issue 20), read from what posting recorded: `PromotionSpend` (one row
per order and version: discount, vendor-funded part, units) and `DiscountRedemption` (each discount's
version). Per channel (the order's source connection) and version, per currency, over local dates in
the tenant's zone; the activation-to-redemption timeline; the per-order lines of a vendor claim.
Reads only: nothing here writes a row."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from commerce.models import OrderLine
from connectors.models import Connection
from promotions.models import ChannelDeployment, DiscountRedemption, Promotion, PromotionSpend
from promotions.refunded import discount_line_ids

ZERO = Decimal(0)
MAX_DAYS = 366
# The days a report or a claim may cover (a date far outside them overflows once made a local instant).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def default_start(end: dt.date) -> dt.date:
    """The first day of the report when none is asked for: the last 30 days up to `end`."""
    return end - dt.timedelta(days=29)


@dataclass(frozen=True)
class RedemptionTotal:
    currency: str
    orders: int
    units: int
    discount: Decimal
    vendor_funded: Decimal


@dataclass(frozen=True)
class _ChannelVersion:
    channel_id: int | None
    channel: str
    version: int


@dataclass(frozen=True)
class RedemptionRow(RedemptionTotal, _ChannelVersion):
    """One channel and version in one currency: the channel's fields first, then the total's
    (a dataclass takes its bases' fields from the last base to the first)."""


@dataclass(frozen=True)
class RedemptionReport:
    promotion: Promotion
    start: dt.date
    end: dt.date
    zone: dt.tzinfo
    rows: list[RedemptionRow]
    totals: list[RedemptionTotal]
    chart: dict


@dataclass
class TimelineChannel:
    """One channel's deployments (sent, live, paused, rolled back) and its redemptions per local day
    from the day it first went live."""

    channel_id: int
    channel: str
    live_at: dt.datetime | None
    events: list[tuple[dt.datetime, str]] = field(default_factory=list)
    days: list[tuple[dt.date, int, int]] = field(default_factory=list)  # (day, days after live, orders)


@dataclass(frozen=True)
class ClaimLine:
    """One order in a vendor claim."""

    order_id: int
    order: str
    placed_on: dt.date
    channel: str
    version: int
    skus: tuple[str, ...]
    units: int
    discount: Decimal
    vendor_funded: Decimal
    currency: str


def period_bounds(*, start: dt.date, end: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The local dates `start` to `end` (both included) as [first instant, instant after the last day),
    kept within FIRST_DAY and LAST_DAY."""
    start, end = max(start, FIRST_DAY), min(end, LAST_DAY)
    first = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return first, after


def channel_names(ids: set[int | None]) -> dict[int | None, str]:
    known = Connection.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name")
    names: dict[int | None, str] = dict(known)
    return {i: names.get(i) or ("No connection" if i is None else f"Connection {i}") for i in ids}


def _spend(promotion: Promotion, start: dt.date, end: dt.date, tz: dt.tzinfo):
    first, after = period_bounds(start=start, end=end, tz=tz)
    return PromotionSpend.objects.filter(promotion=promotion, redeemed_at__gte=first, redeemed_at__lt=after)


def promotion_redemptions(*, promotion: Promotion, start: dt.date, end: dt.date, tz: dt.tzinfo) -> RedemptionReport:
    """Orders, units, discount given and the vendor-funded part per channel and version, per currency
    (orders redeemed from `start` to `end`, local dates in `tz`), with the totals and a chart of orders
    per day and channel."""
    spend = _spend(promotion, start, end, tz)
    grouped = list(
        spend.values("order__source_connection_id", "version__number", "currency")
        .annotate(
            orders=Count("order_id", distinct=True),
            units=Sum("units"),
            discount=Sum("discount"),
            vendor_funded=Sum("vendor_funded"),
        )
        .order_by("currency", "order__source_connection_id", "version__number")
    )
    names = channel_names({g["order__source_connection_id"] for g in grouped})
    rows = [
        RedemptionRow(
            channel_id=g["order__source_connection_id"],
            channel=names[g["order__source_connection_id"]],
            version=g["version__number"],
            currency=g["currency"],
            orders=g["orders"],
            units=g["units"] or 0,
            discount=g["discount"] or ZERO,
            vendor_funded=g["vendor_funded"] or ZERO,
        )
        for g in grouped
    ]
    totals = [
        RedemptionTotal(
            currency=t["currency"],
            orders=t["orders"],
            units=t["units"] or 0,
            discount=t["discount"] or ZERO,
            vendor_funded=t["vendor_funded"] or ZERO,
        )
        for t in spend.values("currency")
        .annotate(
            orders=Count("order_id", distinct=True),
            units=Sum("units"),
            discount=Sum("discount"),
            vendor_funded=Sum("vendor_funded"),
        )
        .order_by("currency")
    ]
    chart = _daily_chart(spend, start, end, tz, names)
    return RedemptionReport(promotion, start, end, tz, rows, totals, chart)


def _orders_per_day(spend, tz: dt.tzinfo) -> dict[tuple[int | None, dt.date], int]:
    return {
        (row["order__source_connection_id"], row["day"]): row["orders"]
        for row in spend.annotate(day=TruncDate("redeemed_at", tzinfo=tz))
        .values("order__source_connection_id", "day")
        .annotate(orders=Count("order_id", distinct=True))
        .order_by()
    }


def _daily_chart(spend, start: dt.date, end: dt.date, tz: dt.tzinfo, names: dict) -> dict:
    """{"labels": days, "datasets": [{"label": channel, "data": orders per day}]} for dashboard.js."""
    per_day = _orders_per_day(spend, tz)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    channels = sorted({channel for channel, _day in per_day}, key=lambda c: names.get(c, ""))
    return {
        "labels": [day.isoformat() for day in days],
        "datasets": [
            {"label": names.get(channel, str(channel)), "data": [per_day.get((channel, day), 0) for day in days]}
            for channel in channels
        ],
    }


def _deployment_events(deployment: ChannelDeployment) -> list[tuple[dt.datetime, str]]:
    number = deployment.version.number
    reason = f" ({deployment.get_pause_reason_display()})" if deployment.pause_reason else ""
    events = [
        (deployment.sent_at, f"v{number} sent"),
        (deployment.acknowledged_at, f"v{number} live"),
        (deployment.paused_at, f"v{number} paused{reason}"),
        (deployment.rolled_back_at, f"v{number} rolled back"),
    ]
    return [(at, text) for at, text in events if at is not None]


def promotion_timeline(*, promotion: Promotion, tz: dt.tzinfo, days: int = 14) -> list[TimelineChannel]:
    """Per channel: when each version was sent, went live (acknowledged), was paused or rolled back,
    and the orders redeemed per local day over the `days` days from the first time it went live."""
    deployments = (
        ChannelDeployment.objects.filter(promotion=promotion)
        .select_related("version", "connection")
        .order_by("connection__name", "version__number")
    )
    channels: dict[int, TimelineChannel] = {}
    for deployment in deployments:
        channel = channels.setdefault(
            deployment.connection_id,
            TimelineChannel(channel_id=deployment.connection_id, channel=deployment.connection.name, live_at=None),
        )
        channel.events.extend(_deployment_events(deployment))
        if deployment.acknowledged_at and (channel.live_at is None or deployment.acknowledged_at < channel.live_at):
            channel.live_at = deployment.acknowledged_at
    live = [channel for channel in channels.values() if channel.live_at is not None]
    if live:
        first_day = min(channel.live_at for channel in live).astimezone(tz).date()
        last_day = max(channel.live_at for channel in live).astimezone(tz).date() + dt.timedelta(days=days - 1)
        per_day = _orders_per_day(_spend(promotion, first_day, last_day, tz), tz)
        for channel in live:
            start = channel.live_at.astimezone(tz).date()
            channel.days = [
                (start + dt.timedelta(days=n), n, per_day.get((channel.channel_id, start + dt.timedelta(days=n)), 0))
                for n in range(days)
            ]
    for channel in channels.values():
        channel.events.sort(key=lambda event: event[0])  # stable: sent before live at the same instant
    return list(channels.values())


def claim_lines(
    *, promotion: Promotion, start: dt.date, end: dt.date, tz: dt.tzinfo, currency: str | None = None
) -> list[ClaimLine]:
    """The orders with a vendor-funded discount from the promotion, redeemed from `start` to `end`
    (local dates): one line per order and version, with the SKUs its discounts applied to."""
    spend = _spend(promotion, start, end, tz).filter(vendor_funded__gt=0).select_related("order", "version")
    if currency:
        spend = spend.filter(currency=currency)
    spend = list(spend.order_by("redeemed_at", "order_id", "version__number"))
    skus = _skus(promotion, [row.order_id for row in spend])
    names = channel_names({row.order.source_connection_id for row in spend})
    return [
        ClaimLine(
            order_id=row.order_id,
            order=row.order.external_id,
            placed_on=row.redeemed_at.astimezone(tz).date(),
            channel=names[row.order.source_connection_id],
            version=row.version.number,
            skus=tuple(sorted(skus.get((row.order_id, row.version_id), ()))),
            units=row.units,
            discount=row.discount,
            vendor_funded=row.vendor_funded,
            currency=row.currency,
        )
        for row in spend
    ]


def _skus(promotion: Promotion, order_ids: list[int]) -> dict[tuple[int, int], set[str]]:
    """{(order, version): SKUs} of the lines its discounts applied to, the lines whose units the
    spend counts (promotions.refunded.discount_line_ids)."""
    redemptions = list(
        DiscountRedemption.objects.filter(promotion=promotion, order_id__in=order_ids).select_related("discount")
    )
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in={row.order_id for row in redemptions}).only(
        "order_id", "sku", "discount_allocations"
    ):
        lines[line.order_id].append(line)
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for redemption in redemptions:
        order_lines = lines[redemption.order_id]
        touched = discount_line_ids(redemption.discount, order_lines)
        found[(redemption.order_id, redemption.version_id)] |= {
            line.sku for line in order_lines if line.pk in touched and line.sku
        }
    return found
