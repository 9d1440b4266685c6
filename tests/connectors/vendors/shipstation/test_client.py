"""Contract tests, one per ShipStation V1 endpoint the connector calls (respx, shaped by the V1
reference: tests/fixtures/SOURCES.md)."""

import datetime as dt
import json
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import FulfilmentRequestDoc, FulfilmentRequestLineDoc
from connectors.services import connection_test
from connectors.vendors import adapter_for_vendor
from connectors.vendors.shipstation.client import orders_list, shipments_list, shipstation_client
from connectors.vendors.shipstation.polling import shipments_page
from core.http.client import AuthFailed, RequestRejected
from tests.connectors.helpers import fixture
from tests.connectors.vendors.shipstation.conftest import API

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


@respx.mock
def test_get_shipments_asks_for_items_and_pages(world, shipstation):
    route = respx.get(f"{API}/shipments").mock(
        return_value=httpx.Response(200, json=fixture("shipstation", "shipments.json"))
    )
    with tenant_context(world.acme), shipstation_client(shipstation) as client:
        data = shipments_list(client, createDateStart="2026-11-29T00:00:00", page=1)
    assert data["shipments"][0]["shipmentId"] == 72513480
    params = route.calls.last.request.url.params
    assert (params["includeShipmentItems"], params["pageSize"], params["page"]) == ("true", "100", "1")


@respx.mock
def test_get_orders(world, shipstation):
    respx.get(f"{API}/orders").mock(return_value=httpx.Response(200, json=fixture("shipstation", "orders.json")))
    with tenant_context(world.acme), shipstation_client(shipstation) as client:
        assert orders_list(client, orderStatus="cancelled")["orders"][0]["orderStatus"] == "cancelled"


@respx.mock
def test_post_createorder_sends_our_order_key_and_returns_the_order_id(world, shipstation):
    route = respx.post(f"{API}/orders/createorder").mock(
        return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
    )
    with tenant_context(world.acme):
        order_id = adapter_for_vendor("shipstation").request_send(connection=shipstation, request=REQUEST)
    assert order_id == "184731562"
    sent = json.loads(route.calls.last.request.content)
    assert sent["orderKey"] == "tb-1"
    assert sent["orderNumber"] == "5741329006917"
    assert sent["orderStatus"] == "awaiting_shipment"
    assert sent["orderDate"] == "2026-11-29T11:02:11"  # Pacific time, as V1 expects
    assert sent["shipTo"] == {"name": "cust-8812", "country": "US", "state": "OR"}
    assert sent["items"] == [
        {"lineItemKey": "13711185248325", "sku": "TEE-BLK-M", "name": "Black tee, M", "quantity": 2, "unitPrice": 25.0}
    ]
    assert sent["advancedOptions"] == {
        "customField1": "tillbridge:tb-1",
        "source": "Tillbridge",
        "storeId": 310553,
        "warehouseId": 24079,
    }


@respx.mock
def test_createorder_rejected_is_a_request_rejected_with_shipstations_message(world, shipstation):
    respx.post(f"{API}/orders/createorder").mock(
        return_value=httpx.Response(400, json=fixture("shipstation", "createorder_rejected.json"))
    )
    with tenant_context(world.acme), pytest.raises(RequestRejected) as error:
        adapter_for_vendor("shipstation").request_send(connection=shipstation, request=REQUEST)
    assert "Country code is not valid" in error.value.message


@respx.mock
def test_get_stores_is_the_connection_test(world, shipstation):
    respx.get(f"{API}/stores").mock(return_value=httpx.Response(200, json=fixture("shipstation", "stores.json")))
    with tenant_context(world.acme):
        assert connection_test(connection=shipstation) == (
            True,
            "Connected to ShipStation; stores: Acme web store (310553).",
        )


@respx.mock
def test_bad_credentials_are_an_auth_failure_without_the_secret(world, shipstation):
    respx.get(f"{API}/stores").mock(return_value=httpx.Response(401, json={"Message": "Unauthorized"}))
    with tenant_context(world.acme):
        ok, message = connection_test(connection=shipstation)
    assert not ok and "HTTP 401" in message and "ss-api-secret" not in message
    with tenant_context(world.acme), shipstation_client(shipstation) as client, pytest.raises(AuthFailed):
        client.get("stores")


@respx.mock
def test_polling_reads_shipments_since_the_cursor_and_moves_it(world, shipstation):
    route = respx.get(f"{API}/shipments").mock(
        return_value=httpx.Response(200, json=fixture("shipstation", "shipments.json"))
    )
    with tenant_context(world.acme), shipstation_client(shipstation) as client:
        page = shipments_page(client=client, cursor={"createDateStart": "2026-11-29T00:00:00"}, since=None)
    assert [(record.topic, record.external_id) for record in page.records] == [("shipments", "72513480")]
    assert page.done and page.cursor == {"createDateStart": "2026-11-30T09:10:02"}
    params = route.calls.last.request.url.params
    assert (params["createDateStart"], params["sortBy"], params["sortDir"]) == (
        "2026-11-29T00:00:00",
        "CreateDate",
        "ASC",
    )
