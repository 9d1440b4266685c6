"""Square returns inside orders: the stored return order normalises to one received return of the
original sale; a sale without returns gives none."""

import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from commerce.documents_returns import CanonicalReturn, ReturnLineDoc
from commerce.models import Return
from commerce.returns import return_upsert
from commerce.services import order_upsert
from connectors.vendors.base import NormaliseError
from connectors.vendors.square.normalise import order_normalise
from connectors.vendors.square.returns import returns_normalise
from mappings.services import standard_chart_apply
from tests.connectors.helpers import fixture


def test_return_order_normalises_to_a_received_return_of_the_sale():
    assert returns_normalise(fixture("square", "return_order.json")["order"]) == [
        CanonicalReturn(
            external_id="ZrV7mSmz5hnmQkZ8sXMNBnTTqpaZY:ret-1",
            order_external_id="CAISENgvlJ6jLWAzERDzjyHVybY",
            source_version=1,
            status="received",
            requested_at=dt.datetime(2025, 7, 23, 8, 0, 0, 300000, tzinfo=dt.UTC),
            lines=(ReturnLineDoc("mU1ar3OzzZbWTCpaYHMIWC", 1, "", "rli-1"),),
            name="Square return ret-1",
        )
    ]


def test_a_sale_has_no_returns():
    assert returns_normalise(fixture("square", "order.json").get("order") or fixture("square", "order.json")) == []


def test_unlinked_returns_are_skipped_and_fractional_units_refused():
    order = fixture("square", "return_order.json")["order"]
    assert returns_normalise({**order, "returns": [{**order["returns"][0], "source_order_id": None}]}) == []
    fractional = {**order["returns"][0]["return_line_items"][0], "quantity": "1.5"}
    with pytest.raises(NormaliseError, match="not a whole number"):
        returns_normalise({**order, "returns": [{**order["returns"][0], "return_line_items": [fractional]}]})


def test_the_square_return_restocks_the_sale_line(world):
    sale = fixture("square", "order.json")
    with tenant_context(world.acme):
        standard_chart_apply()
        order_upsert(source="square", connection_id=5, document=order_normalise(sale.get("order") or sale))
        (document,) = returns_normalise(fixture("square", "return_order.json")["order"])
        ret = return_upsert(source="square", connection_id=5, document=document).obj
        assert ret.status == Return.Status.RECEIVED
        assert [(line.order_line.external_id, line.restocked) for line in ret.lines.all()] == [
            ("mU1ar3OzzZbWTCpaYHMIWC", 1)
        ]
