"""commerce/bulk.py: many new orders written set-based are exactly what `order_upsert` writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from commerce.bulk import NewOrder, orders_create_bulk
from commerce.documents import FulfilmentDoc
from commerce.models import (
    ChannelLocation,
    DiscountAllocation,
    Fulfilment,
    FulfilmentLine,
    InventoryLocation,
    Order,
    OrderLine,
    Payment,
    Reservation,
    ShippingLine,
    StockChange,
    TaxLine,
)
from commerce.services import order_document_prepare, order_upsert
from tenants.models import UsageRecord
from tests.commerce.factories import PAID_AT, shopify_order

SOURCE, CONNECTION = "shopify", 90007


def _documents(prefix: str):
    """An open store order, partly fulfilled by the channel, and an order fulfilled in full."""
    shipped = FulfilmentDoc(f"{prefix}-F1", PAID_AT + dt.timedelta(hours=2), lines=(("L1", 1),), location="store-1")
    return [
        shopify_order(external_id=f"{prefix}-open", store="store-1", fulfilments=(shipped,)),
        shopify_order(external_id=f"{prefix}-done", fulfilled_at=PAID_AT + dt.timedelta(days=1)),
    ]


def _written(order: Order) -> dict:
    """Every row of the order, without ids or what names the order itself."""
    return {
        "order": Order.objects.filter(pk=order.pk).values(
            "source", "source_version", "currency", "channel", "store", "placed_at", "paid_at", "fulfilled_at"
        )[0],
        "lines": list(OrderLine.objects.filter(order=order).values_list("position", "external_id", "sku", "net")),
        "shipping": list(ShippingLine.objects.filter(order=order).values_list("position", "external_id", "amount")),
        "taxes": list(
            TaxLine.objects.filter(order=order).values_list(
                "position", "order_line__external_id", "shipping_line__external_id", "jurisdiction", "rate", "amount"
            )
        ),
        "discounts": list(
            DiscountAllocation.objects.filter(order=order).values_list(
                "position", "order_line__external_id", "code", "promotion_id", "funding", "amount"
            )
        ),
        "payments": list(Payment.objects.filter(order=order).values_list("position", "gateway", "amount", "fee")),
        "fulfilments": list(Fulfilment.objects.filter(order=order).values_list("fulfilled_at", "location", "origin")),
        "fulfilled": list(
            FulfilmentLine.objects.filter(fulfilment__order=order).values_list("order_line__external_id", "quantity")
        ),
        "reservations": sorted(
            Reservation.objects.filter(order_line__order=order).values_list(
                "order_line__external_id", "sku", "location__external_id", "quantity", "released_at"
            )
        ),
    }


def test_orders_written_set_based_are_the_rows_order_upsert_writes(world, usage_counted):
    with tenant_context(world.acme):
        store = InventoryLocation.objects.create(source=SOURCE, source_connection_id=CONNECTION, external_id="store-1")
        ChannelLocation.objects.create(channel_connection_id=CONNECTION, location=store, channel_location_id="71")
        with usage_counted():
            for document in _documents("one"):
                order_upsert(source=SOURCE, connection_id=CONNECTION, document=document)
        one_by_one_changes = set(StockChange.objects.values_list("location_id", "sku"))
        StockChange.objects.all().delete()
        usage = UsageRecord.objects.get(tenant=world.acme, metric="orders_ingested").count
        items = [
            NewOrder(source=SOURCE, connection_id=CONNECTION, document=order_document_prepare(document))
            for document in _documents("many")
        ]
        with usage_counted(), CaptureQueriesContext(connection) as queries:
            orders = orders_create_bulk(items=items)
        assert [order.external_id for order in orders] == ["many-open", "many-done"]
        for ours, theirs in zip(
            orders, Order.objects.filter(external_id__startswith="one-").order_by("pk"), strict=True
        ):
            assert _written(ours) == _written(theirs)
        assert _written(orders[0])["reservations"] == [
            ("L1", "TEE-BLK", "store-1", D("1"), None),  # 2 ordered, 1 shipped by the channel
            ("L2", "BOOT-BRN", "store-1", D("1"), None),
            ("L3", "SOCK", "store-1", D("1"), None),
        ]
        assert _written(orders[1])["reservations"] == []  # fulfilled: nothing held
        assert set(StockChange.objects.values_list("location_id", "sku")) == one_by_one_changes != set()
        assert UsageRecord.objects.get(tenant=world.acme, metric="orders_ingested").count == usage + 2
        statements = [query["sql"] for query in queries if not query["sql"].startswith("SET search_path")]
        assert len(statements) <= 13  # one INSERT per table, the location, the stock push queue


def test_the_reservation_of_an_open_order_waits_for_a_web_location_like_order_upsert(world):
    with tenant_context(world.acme):
        document = replace(_documents("x")[0], store="nowhere", fulfilments=())
        (order,) = orders_create_bulk(items=[NewOrder(SOURCE, CONNECTION, order_document_prepare(document))])
        assert sorted(Reservation.objects.filter(order_line__order=order).values_list("sku", "location_id")) == [
            ("BOOT-BRN", None),
            ("SOCK", None),
            ("TEE-BLK", None),
        ]
