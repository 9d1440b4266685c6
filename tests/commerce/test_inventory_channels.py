"""The debounced push through the real Square channel adapter (connectors/vendors/square/channel.py)
against the Square fake of its contract tests: counts set, read back and recorded."""

from decimal import Decimal as D

import pytest
import respx
from django.core.cache import cache
from django_tenants.utils import tenant_context

from commerce import inventory_sync
from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import channel_location_set, inventory_level_upsert
from commerce.models import ChannelStock, InventoryLocation
from core.http import client as http
from core.http import netsafety
from tests.connectors.factories import ConnectionFactory
from tests.connectors.vendors.square.test_channel import LOCATION, FakeSquare


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    monkeypatch.setattr(http.RateLimiter, "acquire", lambda self, max_wait=30.0: 0.0)
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.216.34"])
    monkeypatch.setattr("commerce.tasks.inventory_push.apply_async", lambda **kwargs: None)


@pytest.fixture
def square():
    with respx.mock(assert_all_called=False) as router:
        yield FakeSquare(router)


def test_warehouse_stock_reaches_square_and_the_count_is_recorded(world, square):
    with tenant_context(world.acme):
        cache.delete(inventory_sync.PUSH_GATE_KEY)
        channel = ConnectionFactory(
            vendor="square",
            config={"location_ids": [LOCATION], "environment": "production"},
            secrets={"credentials": {"access_token": "EAAAl-sq-token"}},
        )
        for sku, on_hand in (("BOOT-BLK-42", "9"), ("BOOT-BLK-43", "1")):
            inventory_level_upsert(
                source="csv",
                connection_id=90003,
                document=CanonicalInventoryLevel("WH", sku, D(on_hand), 1, location_name="Warehouse"),
            )
        warehouse = InventoryLocation.objects.get()
        warehouse.safety_stock_default = D(2)
        warehouse.save()
        channel_location_set(channel_connection=channel, location=warehouse, channel_location_id=LOCATION)

        report = inventory_sync.inventory_push_due()

        assert (report.channels, report.acknowledged, report.failed) == (1, 2, 0)
        assert square.counts == {
            ("GQ3GWTOK5WZVXDXMZ3WRNMBA", LOCATION): "7",
            ("H4KXOQ7UU6TEPR2EZKQ5LS2C", LOCATION): "0",
        }
        assert sorted(ChannelStock.objects.values_list("sku", "pushed_ats", "acknowledged_ats", "status")) == [
            ("BOOT-BLK-42", D("7"), D("7"), "acknowledged"),
            ("BOOT-BLK-43", D("0"), D("0"), "acknowledged"),
        ]
