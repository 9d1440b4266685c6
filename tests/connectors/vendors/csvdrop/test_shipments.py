"""Ship confirmations through the CSV drop (warehouses without an API)."""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalShipment, ShipmentLineDoc
from commerce.models import Fulfilment
from connectors.files import file_ingest
from connectors.vendors.base import NormaliseError
from connectors.vendors.csvdrop.normalise import csv_records, shipment_normalise
from tests.commerce.fulfilment_helpers import paid_order
from tests.connectors.factories import ConnectionFactory

GOOD = (
    b"order_id,sku,quantity,carrier,tracking,shipped_at\n"
    b"1042,TEE,2,UPS,1Z999AA10123456784,2026-11-30T10:00:00Z\n"
    b"1042,MUG,1,UPS,1Z999AA10123456784,2026-11-30T10:00:00Z\n"
)


def _rows(content: bytes) -> list:
    return [json.loads(record.body)["rows"] for record in csv_records(content=content, topic="shipments")]


def test_one_record_per_parcel_normalises_exactly():
    [rows] = _rows(GOOD)
    assert shipment_normalise(rows) == CanonicalShipment(
        external_id="csv:1042:1Z999AA10123456784",
        shipped_at=dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC),
        lines=(ShipmentLineDoc("TEE", 2), ShipmentLineDoc("MUG", 1)),
        order_reference="1042",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"order_id,sku,quantity,carrier\n1,A,1,UPS\n", "Missing column(s): tracking."),
        (b"order_id,sku,quantity,carrier,tracking\n1,A,1,UPS,\n", "Row 2 has no tracking."),
    ],
)
def test_a_file_without_the_columns_is_refused_with_the_reason(content, message):
    with pytest.raises(ValidationError) as error:
        csv_records(content=content, topic="shipments")
    assert error.value.message_dict == {"file": [message]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"1042,TEE,two,UPS,T1", "Row 2: quantity 'two' is not a positive whole number."),
        (b"1042,TEE,0,UPS,T1", "Row 2: quantity '0' is not a positive whole number."),
        (b"1042,,1,UPS,T1", "Row 2: sku is empty."),
        (b"1042,TEE,1,,T1", "Row 2: carrier is empty."),
    ],
)
def test_a_bad_row_is_a_clear_exception(line, message):
    [rows] = _rows(b"order_id,sku,quantity,carrier,tracking\n" + line + b"\n")
    with pytest.raises(NormaliseError) as error:
        shipment_normalise(rows)
    assert str(error.value) == message


def test_an_uploaded_file_becomes_fulfilments_and_an_unknown_order_an_exception(world):
    with tenant_context(world.acme):
        paid_order(external_id="1042", lines=(("L1", "TEE", 2), ("L2", "MUG", 1)))
        drop = ConnectionFactory(vendor="csv", name="Warehouse files", config={})
        content = GOOD + b"9999,TEE,1,UPS,1ZUNKNOWN,2026-11-30T10:00:00Z\n"
        report = file_ingest(connection=drop, topic="shipments", content=content, process_now=True)
        statuses = sorted(event.status for event in report.events)
        assert statuses == ["dead", "processed"]
        fulfilment = Fulfilment.objects.get()
        assert (fulfilment.origin, fulfilment.carrier, fulfilment.tracking_number) == (
            "warehouse",
            "UPS",
            "1Z999AA10123456784",
        )
        assert sorted((line.order_line.sku, line.quantity) for line in fulfilment.lines.all()) == [
            ("MUG", 1),
            ("TEE", 2),
        ]
        dead = next(event for event in report.events if event.status == "dead")
        assert "'9999': no order has that id" in dead.last_error
