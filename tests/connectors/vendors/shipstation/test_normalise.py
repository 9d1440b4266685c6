import datetime as dt

import pytest

from commerce.documents import CanonicalShipment, CanonicalWarehouseOrder, ShipmentLineDoc
from connectors.vendors.base import NormaliseError
from connectors.vendors.shipstation.normalise import (
    PACIFIC,
    shipment_normalise,
    ss_datetime,
    warehouse_order_normalise,
)
from tests.connectors.helpers import fixture


def test_shipment_normalises_exactly():
    shipment = fixture("shipstation", "shipments.json")["shipments"][0]
    assert shipment_normalise(shipment) == CanonicalShipment(
        external_id="72513480",
        shipped_at=dt.datetime(2026, 11, 30, tzinfo=PACIFIC),
        lines=(ShipmentLineDoc(sku="TEE-BLK-M", quantity=2, line_external_id="13711185248325"),),
        warehouse_order_id="184731562",
        order_key="tb-1",
        order_reference="5741329006917",
        carrier="USPS",
        service="usps_priority_mail",
        tracking_number="9400111899223197428490",
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
    )


def test_a_shipment_fetched_without_items_is_an_error_naming_the_field():
    shipment = dict(fixture("shipstation", "shipments.json")["shipments"][0], shipmentItems=None)
    with pytest.raises(NormaliseError, match="shipmentItems"):
        shipment_normalise(shipment)


def test_a_zero_quantity_is_an_error_naming_the_item():
    shipment = fixture("shipstation", "shipments.json")["shipments"][0]
    shipment["shipmentItems"][0]["quantity"] = 0
    with pytest.raises(NormaliseError, match=r"shipmentItems\[0\].quantity"):
        shipment_normalise(shipment)


def test_v1_times_are_pacific_with_seven_digit_fractions():
    assert ss_datetime("2026-11-30T09:15:02.1230000", field="x") == dt.datetime(
        2026, 11, 30, 9, 15, 2, 123000, tzinfo=PACIFIC
    )
    assert ss_datetime("2026-07-01T09:00:00", field="x").utcoffset() == dt.timedelta(hours=-7)


def test_order_status_normalises():
    order = fixture("shipstation", "orders.json")["orders"][0]
    assert warehouse_order_normalise(order) == CanonicalWarehouseOrder("184731562", "tb-1", "cancelled")
