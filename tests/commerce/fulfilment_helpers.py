"""Builders for the fulfilment tests: an order paid on a channel, locations with stock, rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from commerce.documents import CanonicalOrder, OrderLineDoc
from commerce.models import InventoryLevel, InventoryLocation, Order
from commerce.routing import routing_rule_create
from commerce.services import order_upsert

PAID = dt.datetime(2026, 11, 29, 19, 2, 11, tzinfo=dt.UTC)


def paid_order(
    *,
    external_id: str = "5741329006917",
    lines: tuple[tuple[str, str, int], ...] = (("13711185248325", "TEE-BLK-M", 2),),
    country: str = "US",
    region: str = "OR",
    source: str = "shopify",
    connection_id: int | None = None,
    paid_at: dt.datetime = PAID,
) -> Order:
    document = CanonicalOrder(
        external_id=external_id,
        source_version=1,
        currency="USD",
        placed_at=paid_at - dt.timedelta(minutes=1),
        paid_at=paid_at,
        lines=tuple(OrderLineDoc(ext, sku, qty, D("25.00"), title=f"Item {sku}") for ext, sku, qty in lines),
        ship_country=country,
        ship_region=region,
    )
    return order_upsert(source=source, connection_id=connection_id, document=document).obj


def location(external_id: str, stock: dict[str, int], *, kind: str = "warehouse") -> InventoryLocation:
    place = InventoryLocation.objects.create(
        source="shipstation", external_id=external_id, name=f"Warehouse {external_id}", kind=kind
    )
    for sku, quantity in stock.items():
        InventoryLevel.objects.create(
            location=place, sku=sku, on_hand=D(quantity), source="shipstation", source_version=1
        )
    return place


def rule(place: InventoryLocation, *, priority: int = 10, connection_id: int | None = None, **conditions):
    return routing_rule_create(
        name=f"Ship from {place.external_id}",
        location_id=place.pk,
        priority=priority,
        fulfilment_connection_id=connection_id,
        **conditions,
    )
