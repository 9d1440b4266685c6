import dataclasses
import datetime as dt
from decimal import Decimal as D

import pytest

from commerce.documents import (
    CanonicalShipment,
    CanonicalWarehouseOrder,
    FulfilmentRequestDoc,
    FulfilmentRequestLineDoc,
    ShipmentLineDoc,
    ShipToDoc,
)
from connectors.vendors.base import NormaliseError
from connectors.vendors.shipstation.normalise import (
    PACIFIC,
    createorder_payload,
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


REQUEST = FulfilmentRequestDoc(
    order_key="tb-1",
    order_number="5741329006917",
    placed_at=dt.datetime(2026, 11, 29, 19, 2, 11, tzinfo=dt.UTC),
    paid_at=dt.datetime(2026, 11, 29, 19, 2, 11, tzinfo=dt.UTC),
    currency="USD",
    lines=(FulfilmentRequestLineDoc("13711185248325", "TEE-BLK-M", "Black tee, M", 2, D("25.00")),),
    ship_country="US",
    ship_region="OR",
    customer_ref="cust-8812",
)


def test_createorder_without_an_address_sends_the_country_and_state_it_has():
    body = createorder_payload(REQUEST)
    fallback = {"name": "cust-8812", "country": "US", "state": "OR"}
    assert (body["shipTo"], body["billTo"]) == (fallback, fallback)


def test_createorder_with_the_orders_address_sends_a_full_ship_to():
    ship_to = ShipToDoc(  # no country: ShipStation's field then goes null like the other blanks
        name="Bob Norman", street1="Chestnut Street 92", city="Louisville", state="KY", postal_code="40202"
    )
    body = createorder_payload(dataclasses.replace(REQUEST, ship_to=ship_to))
    assert body["shipTo"] == {
        "name": "Bob Norman",
        "company": None,
        "street1": "Chestnut Street 92",
        "street2": None,
        "city": "Louisville",
        "state": "KY",
        "postalCode": "40202",
        "country": None,
        "phone": None,
    }
    assert body["billTo"] == {"name": "Bob Norman"}
    nameless = createorder_payload(dataclasses.replace(REQUEST, ship_to=dataclasses.replace(ship_to, name="")))
    assert nameless["shipTo"]["name"] == nameless["billTo"]["name"] == "cust-8812"
