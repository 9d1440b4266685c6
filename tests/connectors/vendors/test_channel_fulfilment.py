"""Contract tests of the channel writers: WooCommerce (order status + tracking) and Square (the
order's fulfillment state); Shopify's is covered end to end in tests/connectors/test_fulfilment.py."""

import datetime as dt
import json

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import ChannelFulfilmentDoc
from connectors.vendors import adapter_for_vendor
from connectors.vendors.shopify import fulfilment as shopify_fulfilment
from connectors.vendors.square import fulfilment as square_fulfilment
from connectors.vendors.woocommerce import fulfilment as woocommerce_fulfilment
from tests.connectors.factories import ConnectionFactory

DOC = ChannelFulfilmentDoc(
    fulfilment_id=7,
    order_external_id="727",
    shipped_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    lines=(("L1", 2),),
    carrier="UPS",
    tracking_number="1Z999AA10123456784",
    tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
)
WOO = "https://shop.example.com/wp-json/wc/v3"
SQUARE = "https://connect.squareup.com/v2"


@respx.mock
def test_woocommerce_completes_the_order_with_tracking_and_reads_it_back(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory(
            vendor="woocommerce",
            config={"store_url": "https://shop.example.com"},
            secrets={"credentials": {"consumer_key": "ck_1234", "consumer_secret": "cs_5678"}},
        )
        update = respx.put(f"{WOO}/orders/727").mock(return_value=httpx.Response(200, json={"id": 727}))
        note = respx.post(f"{WOO}/orders/727/notes").mock(return_value=httpx.Response(201, json={"id": 281}))
        with adapter_for_vendor("woocommerce").client(conn) as client:
            assert woocommerce_fulfilment.fulfilment_push(client=client, doc=DOC) == "281"
            meta = json.loads(update.calls.last.request.content)
            assert meta["status"] == "completed"
            assert meta["meta_data"][0]["value"]["tracking_number"] == "1Z999AA10123456784"
            assert "1Z999AA10123456784" in json.loads(note.calls.last.request.content)["note"]
            respx.get(f"{WOO}/orders/727").mock(
                return_value=httpx.Response(
                    200, json={"id": 727, "status": "completed", "meta_data": [meta["meta_data"][0] | {"id": 9}]}
                )
            )
            assert woocommerce_fulfilment.fulfilment_read_back(client=client, doc=DOC, reference="281") == (True, "")
            respx.get(f"{WOO}/orders/727").mock(return_value=httpx.Response(200, json={"status": "processing"}))
            ok, message = woocommerce_fulfilment.fulfilment_read_back(client=client, doc=DOC, reference="281")
            assert not ok and "'processing', not completed" in message


@respx.mock
def test_square_completes_the_shipment_fulfillment_and_reads_it_back(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory(
            vendor="square",
            config={"location_ids": ["L1"], "environment": "production"},
            secrets={"credentials": {"access_token": "EAAA-token"}},
        )
        order = {
            "id": "727",
            "location_id": "L1",
            "version": 3,
            "fulfillments": [{"uid": "f-1", "type": "SHIPMENT", "state": "PROPOSED"}],
        }
        respx.get(f"{SQUARE}/orders/727").mock(return_value=httpx.Response(200, json={"order": order}))
        update = respx.put(f"{SQUARE}/orders/727").mock(return_value=httpx.Response(200, json={"order": order}))
        with adapter_for_vendor("square").client(conn) as client:
            assert square_fulfilment.fulfilment_push(client=client, doc=DOC) == "f-1"
            sent = json.loads(update.calls.last.request.content)
            assert sent["order"]["version"] == 3 and sent["idempotency_key"] == "tb-fulfilment-7"
            assert sent["order"]["fulfillments"] == [
                {
                    "uid": "f-1",
                    "state": "COMPLETED",
                    "shipment_details": {
                        "carrier": "UPS",
                        "tracking_number": "1Z999AA10123456784",
                        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                    },
                }
            ]
            ok, message = square_fulfilment.fulfilment_read_back(client=client, doc=DOC, reference="f-1")
            assert not ok and "'PROPOSED', not COMPLETED" in message
            done = dict(order, fulfillments=[{"uid": "f-1", "type": "SHIPMENT", "state": "COMPLETED"}])
            respx.get(f"{SQUARE}/orders/727").mock(return_value=httpx.Response(200, json={"order": done}))
            assert square_fulfilment.fulfilment_read_back(client=client, doc=DOC, reference="f-1") == (True, "")


def test_shopify_refuses_lines_it_has_nothing_open_for():
    orders = [{"id": 1, "status": "closed", "line_items": [{"id": 5, "line_item_id": "L1", "fulfillable_quantity": 2}]}]
    with pytest.raises(shopify_fulfilment.ChannelWriteError, match=r"\['L1'\]"):
        shopify_fulfilment._line_items_by_fulfillment_order(orders, DOC)
