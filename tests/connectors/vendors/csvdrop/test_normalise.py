import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from commerce.documents import CanonicalOrder, DiscountDoc, OrderLineDoc, PaymentDoc, ShippingLineDoc, TaxLineDoc
from connectors.vendors.base import NormaliseError
from connectors.vendors.csvdrop.normalise import csv_records, order_normalise
from tests.connectors.helpers import fixture_bytes


def _rows(name, topic):
    import json

    return [json.loads(record.body)["rows"] for record in csv_records(content=fixture_bytes("csv", name), topic=topic)]


def test_rows_group_into_one_record_per_order():
    records = csv_records(content=fixture_bytes("csv", "orders.csv"), topic="orders")
    assert [(record.topic, record.external_id) for record in records] == [("orders", "M-1001"), ("orders", "M-1002")]


def test_order_rows_normalise_exactly():
    paid = dt.datetime(2025, 10, 1, 10, 2, 10, tzinfo=dt.UTC)
    wa = D("0.065")
    assert order_normalise(_rows("orders.csv", "orders")[1]) == CanonicalOrder(
        external_id="M-1002",
        source_version=1,
        currency="USD",
        placed_at=dt.datetime(2025, 10, 1, 10, 2, tzinfo=dt.UTC),
        paid_at=paid,
        channel="market-stall",
        lines=(
            OrderLineDoc("1", "SOAP-OAT", 3, D("6.50"), "bath", "Oat soap", (TaxLineDoc("US-WA", wa, D("1.27")),)),
            OrderLineDoc(
                "2", "CANDLE-LAV", 1, D("14.00"), "home", "Lavender candle", (TaxLineDoc("US-WA", wa, D("0.91")),)
            ),
        ),
        shipping_lines=(ShippingLineDoc("shipping", D("5.00"), taxes=(TaxLineDoc("US-WA", wa, D("0.33")),)),),
        payments=(PaymentDoc("M-1002:payment", "cash", D("41.01"), method="cash"),),
        vendor_total=D("26.10"),
    )
    first = order_normalise(_rows("orders.csv", "orders")[0])
    assert first.discounts == (DiscountDoc(D("2.00"), code="FAIR10", line_external_id="1"),)
    assert first.payments[0].amount == D("26.00")


def test_bad_files_are_refused_with_the_reason():
    with pytest.raises(ValidationError) as error:
        csv_records(content=b"order_id,currency\nA,USD\n", topic="orders")
    assert error.value.message_dict == {"file": ["Missing column(s): placed_at, line_id, quantity, unit_price."]}
    with pytest.raises(ValidationError) as error:
        csv_records(content=b"\xff\xfe\x00", topic="orders")
    assert error.value.message_dict == {"file": ["The file is not UTF-8 text."]}
    with pytest.raises(ValidationError):
        csv_records(content=fixture_bytes("csv", "orders.csv"), topic="refunds")
    rows = _rows("orders.csv", "orders")[0]
    rows[0]["unit_price"] = "14.005"
    with pytest.raises(NormaliseError, match=r"Row 2 unit_price: 14\.005 has more decimals than USD allows"):
        order_normalise(rows)
