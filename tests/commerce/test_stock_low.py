"""stock.low: checked on every (location, sku) the inventory push drains, sent once per fall to the
safety stock or below, again only after the figure rose above and fell again."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce import inventory_sync
from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import channel_location_set, inventory_level_upsert, safety_stock_set
from commerce.models import InventoryLevel, InventoryLocation
from commerce.stock_low import stock_low_check
from tests.connectors.factories import ConnectionFactory
from tests.tenants.webhook_sink import sink  # noqa: F401 - fixture


def _level(on_hand: str, version: int, location: str = "A") -> None:
    inventory_level_upsert(
        source="csv",
        connection_id=90003,
        document=CanonicalInventoryLevel(
            location_external_id=location, sku="TEE", on_hand=D(on_hand), source_version=version
        ),
    )


@pytest.fixture
def sold_from_a(world, channels, push_gate, monkeypatch):
    monkeypatch.setattr(inventory_sync, "inventory_push_schedule", lambda: None)
    with tenant_context(world.acme):
        _level("5", 1)
        location = InventoryLocation.objects.get(external_id="A")
        channel_location_set(
            channel_connection=ConnectionFactory(vendor="shopify"), location=location, channel_location_id="gid-A"
        )
        return location


def test_a_fall_to_the_safety_stock_is_sent_once(world, sink, sold_from_a, committed):  # noqa: F811
    with tenant_context(world.acme):
        with committed():
            safety_stock_set(location=sold_from_a, sku="TEE", quantity="5")  # ATS 5 - 0 - 5 = 0
            inventory_sync.inventory_push_due()
        with committed():
            safety_stock_set(location=sold_from_a, sku="TEE", quantity="6")  # lower still: no second alert
            inventory_sync.inventory_push_due()
        data = sink.received_once("stock.low")
        assert InventoryLevel.objects.get(sku="TEE").low_since is not None
    assert data == {
        "tenant": "acme",
        "sku": "TEE",
        "location": {"id": sold_from_a.pk, "name": "A"},  # no name given: its external id
        "on_hand": "5",
        "reserved": "0",
        "safety": "5",
        "ats": "0",
    }


def test_a_recovery_rearms_the_alert(world, sink, sold_from_a, committed):  # noqa: F811
    with tenant_context(world.acme):
        with committed():
            _level("0", 2)
            inventory_sync.inventory_push_due()
        with committed():
            _level("10", 3)  # back above: the mark is cleared, nothing is sent
            inventory_sync.inventory_push_due()
        assert InventoryLevel.objects.get(sku="TEE").low_since is None
        assert sink.count("stock.low") == 1
        with committed():
            _level("0", 4)  # falls again: sent again
            inventory_sync.inventory_push_due()
        assert sink.count("stock.low") == 2


def test_stock_above_the_safety_stock_sends_nothing(world, sink, sold_from_a, committed):  # noqa: F811
    with tenant_context(world.acme):
        with committed():
            assert stock_low_check(pairs=[(sold_from_a.pk, "TEE"), (sold_from_a.pk, "NO-SUCH-SKU")]) == []
        assert sink.count("stock.low") == 0
        assert stock_low_check(pairs=[]) == []
