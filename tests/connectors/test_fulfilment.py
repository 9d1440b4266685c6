"""The fulfilment flow end to end: paid order → routed → createorder in ShipStation → SHIP_NOTIFY
→ Fulfilment → pushed to Shopify and read back; and each mismatch as an exception with its retry."""

import copy
import dataclasses
import json
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import PaymentDoc
from commerce.models import Fulfilment, FulfilmentRequest, Order
from commerce.selectors import order_document
from commerce.services import order_upsert
from connectors.fulfilment import fulfilment_channel_push, orders_route_and_send, request_send
from connectors.inbox import event_process, event_store
from connectors.models import Connection
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, PostingPolicy
from posting.selectors import entry_balance
from posting.services import policy_get
from tests.commerce.fulfilment_helpers import location, paid_order, rule
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes
from triage.models import Exception as TriageException
from triage.services import exception_retry_run

SS = "https://ssapi.shipstation.com"
SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"
ORDER_ID = "5741329006917"
FULFILLMENT_ID = "5118962008133"


@pytest.fixture
def flow(world):
    with tenant_context(world.acme):
        shop = ConnectionFactory()
        shipstation = ConnectionFactory(
            vendor="shipstation",
            name="Warehouse",
            config={"store_id": "310553"},
            secrets={"credentials": {"api_key": "k-123456", "api_secret": "s-654321"}, "webhook_secret": "tok-abcdef"},
        )
        rule(location("24079", {"TEE-BLK-M": 10}), connection_id=shipstation.pk)
        order = paid_order(connection_id=shop.pk)
        return shop, shipstation, order


def _shipments(request: FulfilmentRequest, quantity: int = 2) -> dict:
    data = copy.deepcopy(fixture("shipstation", "shipments.json"))
    data["shipments"][0]["orderKey"] = request.order_key
    data["shipments"][0]["shipmentItems"][0]["quantity"] = quantity
    return data


def _ship_notify(shipstation: Connection):
    event, _ = event_store(
        connection=shipstation,
        topic="SHIP_NOTIFY",
        external_id="batch-90412377",
        body=fixture_bytes("shipstation", "webhook_ship_notify.json"),
        dispatch=False,
    )
    return event_process(event_id=event.pk)


def _mock_shopify(mock, *, status: str = "success"):
    mock.get(f"{SHOP}/orders/{ORDER_ID}/fulfillment_orders.json").mock(
        return_value=httpx.Response(200, json=fixture("shopify", "fulfillment_orders.json"))
    )
    created = mock.post(f"{SHOP}/fulfillments.json").mock(
        return_value=httpx.Response(201, json=fixture("shopify", "fulfillment_created.json"))
    )
    shown = copy.deepcopy(fixture("shopify", "fulfillment_created.json"))
    shown["fulfillment"]["status"] = status
    mock.get(f"{SHOP}/orders/{ORDER_ID}/fulfillments/{FULFILLMENT_ID}.json").mock(
        return_value=httpx.Response(200, json=shown)
    )
    return created


def test_paid_order_is_routed_sent_shipped_pushed_to_shopify_and_read_back(
    world, flow, django_capture_on_commit_callbacks
):
    _shop, shipstation, order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        createorder = mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        assert orders_route_and_send() == 1
        request = FulfilmentRequest.objects.get()
        assert (request.status, request.external_id, request.order_id) == ("sent", "184731562", order.pk)
        assert json.loads(createorder.calls.last.request.content)["orderKey"] == request.order_key

        mock.get(f"{SS}/shipments").mock(return_value=httpx.Response(200, json=_shipments(request)))
        with django_capture_on_commit_callbacks(execute=False):
            event = _ship_notify(shipstation)
        assert event.status == "processed", event.last_error
        fulfilment = Fulfilment.objects.get(origin="warehouse")
        assert [(line.order_line.sku, line.quantity) for line in fulfilment.lines.all()] == [("TEE-BLK-M", 2)]
        assert (fulfilment.carrier, fulfilment.tracking_number) == ("USPS", "9400111899223197428490")
        assert FulfilmentRequest.objects.get().status == "shipped"
        assert Order.objects.get(pk=order.pk).fulfilled_at is not None

        created = _mock_shopify(mock)
        fulfilment = fulfilment_channel_push(fulfilment_id=fulfilment.pk)
        sent = json.loads(created.calls.last.request.content)["fulfillment"]
        assert sent["line_items_by_fulfillment_order"] == [
            {
                "fulfillment_order_id": 6390382739525,
                "fulfillment_order_line_items": [{"id": 13690145996869, "quantity": 2}],
            }
        ]
        assert sent["tracking_info"]["number"] == "9400111899223197428490"
        assert (fulfilment.channel_status, fulfilment.channel_reference) == ("acknowledged", FULFILLMENT_ID)
        assert fulfilment_channel_push(fulfilment_id=fulfilment.pk).channel_status == "acknowledged"
        assert created.call_count == 1  # acknowledged: never pushed twice
        assert TriageException.objects.count() == 0


def test_the_request_carries_the_shipping_address_of_the_orders_raw_event(world, flow):
    shop, _shipstation, order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        body = json.dumps(fixture("shopify", "sdk_order.json")["order"]).encode()
        event, _ = event_store(connection=shop, topic="orders/paid", external_id=ORDER_ID, body=body, dispatch=False)
        Order.objects.filter(pk=order.pk).update(raw_event_id=event.pk)
        createorder = mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        assert orders_route_and_send() == 1
        sent = json.loads(createorder.calls.last.request.content)
        assert (sent["shipTo"]["street1"], sent["shipTo"]["postalCode"]) == ("Chestnut Street 92", "40202")
        assert (sent["shipTo"]["city"], sent["shipTo"]["state"], sent["billTo"]) == (
            "Louisville",
            "KY",
            {"name": "Bob Norman"},
        )


def test_an_unreadable_raw_event_sends_the_request_without_an_address(world, flow):
    shop, _shipstation, order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        event, _ = event_store(connection=shop, topic="orders/paid", external_id=ORDER_ID, body=b"{no", dispatch=False)
        Order.objects.filter(pk=order.pk).update(raw_event_id=event.pk)
        createorder = mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        assert orders_route_and_send() == 1
        assert json.loads(createorder.calls.last.request.content)["shipTo"] == {
            "name": "Order 5741329006917",
            "country": "US",
            "state": "OR",
        }


def test_a_channel_that_does_not_acknowledge_is_an_exception_retried_by_read_back(world, flow):
    _shop, shipstation, _order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        orders_route_and_send()
        mock.get(f"{SS}/shipments").mock(
            return_value=httpx.Response(200, json=_shipments(FulfilmentRequest.objects.get()))
        )
        _ship_notify(shipstation)
        created = _mock_shopify(mock, status="pending")
        fulfilment = fulfilment_channel_push(fulfilment_id=Fulfilment.objects.get(origin="warehouse").pk)
        assert fulfilment.channel_status == "failed"
        exception = TriageException.objects.get(cause="fulfilment_not_acknowledged")
        assert exception.retry_name == "fulfilment.channel_push"
        _mock_shopify(mock, status="success")
        assert exception_retry_run(exception_id=exception.pk)["succeeded"] == 1
        assert Fulfilment.objects.get(pk=fulfilment.pk).channel_status == "acknowledged"
        assert created.call_count == 1  # the retry read back the same fulfillment, never created a second
        exception.refresh_from_db()
        assert exception.status == "resolved"


def test_shipped_quantity_that_differs_is_a_mismatch_exception(world, flow):
    _shop, shipstation, order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        orders_route_and_send()
        request = FulfilmentRequest.objects.get()
        mock.get(f"{SS}/shipments").mock(return_value=httpx.Response(200, json=_shipments(request, quantity=1)))
        assert _ship_notify(shipstation).result["documents"][0]["mismatches"] == {"13711185248325": [2, 1]}
        exception = TriageException.objects.get(cause="fulfilment_quantity_mismatch")
        assert "asked 2, shipped 1" in exception.detail
        assert Order.objects.get(pk=order.pk).fulfilled_at is None


def test_a_3pl_rejection_is_an_exception_and_its_retry_sends_again(world, flow):
    _shop, _shipstation, _order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(400, json=fixture("shipstation", "createorder_rejected.json"))
        )
        assert orders_route_and_send() == 0
        request = FulfilmentRequest.objects.get()
        assert request.status == "rejected" and "Country code is not valid" in request.error
        exception = TriageException.objects.get(cause="fulfilment_rejected")
        assert exception.occurrences.get().retry_args == {"request_id": request.pk}
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        assert exception_retry_run(exception_id=exception.pk)["succeeded"] == 1
        assert FulfilmentRequest.objects.get().status == "sent"


def test_order_notify_with_the_order_cancelled_in_shipstation_rejects_the_request(world, flow):
    _shop, shipstation, _order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        orders_route_and_send()
        mock.get(f"{SS}/orders").mock(return_value=httpx.Response(200, json=fixture("shipstation", "orders.json")))
        event, _ = event_store(
            connection=shipstation,
            topic="ORDER_NOTIFY",
            external_id="import-1",
            body=fixture_bytes("shipstation", "webhook_order_notify.json"),
            dispatch=False,
        )
        assert event_process(event_id=event.pk).status == "processed"
        assert FulfilmentRequest.objects.get().status == "rejected"
        assert TriageException.objects.get().cause == "fulfilment_rejected"


def test_a_transient_failure_keeps_the_request_waiting(world, flow):
    with respx.mock() as mock, tenant_context(world.acme), pytest.MonkeyPatch.context() as patch:
        patch.setattr("core.http.client.sleep", lambda seconds: None)
        mock.post(f"{SS}/orders/createorder").mock(return_value=httpx.Response(503))
        orders_route_and_send()
        request = request_send(request_id=FulfilmentRequest.objects.get().pk)
        assert request.status == "waiting" and request.attempts == 2
        assert TriageException.objects.get().cause == "fulfilment_unsent"


def test_shipped_and_acknowledged_are_announced_as_outbound_events(world, flow, monkeypatch):
    _shop, shipstation, _order = flow
    events = []
    monkeypatch.setattr(
        "connectors.fulfilment.tenant_event_emit", lambda *, event, payload: events.append((event, payload))
    )
    with respx.mock() as mock, tenant_context(world.acme):
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        orders_route_and_send()
        mock.get(f"{SS}/shipments").mock(
            return_value=httpx.Response(200, json=_shipments(FulfilmentRequest.objects.get()))
        )
        _ship_notify(shipstation)
        _mock_shopify(mock)
        fulfilment_channel_push(fulfilment_id=Fulfilment.objects.get(origin="warehouse").pk)
    assert [(name, payload["order"], payload["tracking_number"]) for name, payload in events] == [
        ("fulfilment.shipped", ORDER_ID, "9400111899223197428490"),
        ("fulfilment.acknowledged", ORDER_ID, "9400111899223197428490"),
    ]
    assert events[1][1]["channel_status"] == "acknowledged"


def test_a_tenant_recognising_on_fulfilment_posts_the_order_when_the_warehouse_ships_it(world, flow):
    _shop, shipstation, order = flow
    with respx.mock() as mock, tenant_context(world.acme):
        standard_chart_apply()
        PostingPolicy.objects.filter(pk=policy_get().pk).update(recognise_on=PostingPolicy.Recognise.FULFILLED)
        document = order_document(order=order)  # the flow's order, now with the card payment behind it
        paid = dataclasses.replace(
            document, source_version=2, payments=(PaymentDoc("pay-1", "shopify_payments", D("50.00")),)
        )
        order_upsert(source="shopify", connection_id=order.source_connection_id, document=paid)
        mock.post(f"{SS}/orders/createorder").mock(
            return_value=httpx.Response(200, json=fixture("shipstation", "createorder_response.json"))
        )
        orders_route_and_send()
        assert not JournalEntry.objects.filter(source_key__startswith=f"order:{order.pk}:").exists()  # paid only
        request = FulfilmentRequest.objects.get()
        mock.get(f"{SS}/shipments").mock(return_value=httpx.Response(200, json=_shipments(request)))
        record = _ship_notify(shipstation).result["documents"][0]
        entry = JournalEntry.objects.get(source_key__startswith=f"order:{order.pk}:")
        assert (record["posting"], record["journal_id"]) == ("posted", entry.pk)
        assert entry.date == Order.objects.get(pk=order.pk).fulfilled_at.date()
        assert entry_balance(entry=entry) == 0
