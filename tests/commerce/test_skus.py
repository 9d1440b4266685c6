"""One SKU identity (issue 20): Square's item variation ids become the tenant's SKUs through the SKU map,
so a Square count reaches Shopify under the real SKU, and Square order lines reserve the real SKU."""

import json
from decimal import Decimal as D

import httpx
import respx
from django_tenants.utils import tenant_context

from commerce import inventory_sync
from commerce.inventory import channel_location_set
from commerce.models import ChannelSku, InventoryLocation, OrderLine
from commerce.skus import channel_items_for_sku, channel_skus, channel_skus_store
from connectors.inbox import event_process, event_store
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes
from triage.models import Exception as TriageException

SQUARE_API = "https://connect.squareup.com/v2"
VARIATION = "GQ4TPTJQXH2OQZWPDJ3SKWEB"
NO_SKU = "W62UWFY35CWMYGVWK6TWJDNI"


def _square():
    return ConnectionFactory(
        vendor="square",
        name="Stores",
        config={"location_ids": ["L8Q2ZJ1DY4XKJ"], "environment": "production", "sync_inventory": True},
        secrets={"credentials": {"access_token": "EAAAl-sq-token"}, "webhook_secret": "k"},
    )


def _process(connection, topic: str, body: bytes, external_id: str):
    event, _ = event_store(connection=connection, topic=topic, external_id=external_id, body=body, dispatch=False)
    return event_process(event_id=event.pk)


def test_the_map_stores_upserts_and_reads_both_ways(world):
    with tenant_context(world.acme):
        assert channel_skus_store(source="square", source_connection_id=7, items={"V1": ("TEE", "Red"), "V2": ("", "")})
        channel_skus_store(source="square", source_connection_id=7, items={"V2": ("TEE", "Red again")})
        channel_skus_store(source="square", source_connection_id=8, items={"V1": ("OTHER", "")})
        assert channel_skus(source_connection_id=7, item_ids=["V1", "V2", "V3", ""]) == {"V1": "TEE", "V2": "TEE"}
        assert sorted(channel_items_for_sku(source_connection_id=7, sku="TEE")) == ["V1", "V2"]
        assert ChannelSku.objects.count() == 3


@respx.mock
def test_a_square_count_is_pushed_to_shopify_under_the_real_sku(world, channels, push_gate, committed):
    respx.post(f"{SQUARE_API}/catalog/batch-retrieve").mock(
        return_value=httpx.Response(200, json=fixture("square", "catalog_batch_retrieve.json"))
    )
    with tenant_context(world.acme):
        with committed():
            square = _square()
            web = ConnectionFactory(vendor="shopify", name="Web shop")
            event = _process(
                square, "inventory.count.updated", fixture_bytes("square", "inventory_count_updated_event.json"), "c1"
            )
            assert event.status == "processed", event.last_error
            store = InventoryLocation.objects.get(external_id="L8Q2ZJ1DY4XKJ")
            channel_location_set(channel_connection=web, location=store, channel_location_id="gid-store")
        inventory_sync.inventory_push_due()
        assert channels["shopify"].calls[-1] == {("TEE-RED-M", "gid-store"): D("23.000")}
        assert VARIATION not in json.dumps([list(map(str, key)) for call in channels["shopify"].calls for key in call])


@respx.mock
def test_square_order_lines_carry_the_sku_and_an_unmapped_variation_is_an_exception(world):
    catalog = respx.post(f"{SQUARE_API}/catalog/batch-retrieve").mock(
        return_value=httpx.Response(200, json=fixture("square", "catalog_batch_retrieve.json"))
    )
    order = fixture("square", "order.json")
    items = order["order"]["line_items"] if "order" in order else order["line_items"]
    items[0]["catalog_object_id"] = VARIATION
    items[1]["catalog_object_id"] = NO_SKU
    with tenant_context(world.acme):
        square = _square()
        event = _process(square, "orders", json.dumps(order).encode(), "o1")
        assert event.status == "processed", event.last_error
        skus = list(OrderLine.objects.order_by("pk").values_list("sku", flat=True))
        assert skus[:2] == ["TEE-RED-M", NO_SKU]  # the order posts; the unnamed variation keeps its id
        problem = TriageException.objects.get(cause="unmapped_sku")
        assert problem.kind == "inventory"
        assert json.loads(catalog.calls[0].request.content) == {"object_ids": [VARIATION, NO_SKU]}


@respx.mock
def test_sku_map_api_lists_and_refreshes_and_the_refresh_resolves_the_exception(world, throttle_reset):
    from tests.promotions.test_api import SessionApi

    answer = fixture("square", "catalog_batch_retrieve.json")
    respx.post(f"{SQUARE_API}/catalog/batch-retrieve").mock(return_value=httpx.Response(200, json=answer))
    named = json.loads(json.dumps(answer))
    named["objects"][1]["item_variation_data"]["sku"] = "TEE-BLU-M"
    listing = respx.get(f"{SQUARE_API}/catalog/list").mock(
        side_effect=[
            httpx.Response(200, json={"objects": named["objects"][:1], "cursor": "page-2"}),
            httpx.Response(200, json={"objects": named["objects"][1:]}),
        ]
    )
    order = fixture("square", "order.json")
    items = order["order"]["line_items"] if "order" in order else order["line_items"]
    items[0]["catalog_object_id"] = NO_SKU
    items[1]["catalog_object_id"] = VARIATION
    with tenant_context(world.acme):
        square = _square()
        _process(square, "orders", json.dumps(order).encode(), "o1")
        assert TriageException.objects.get(cause="unmapped_sku").status == "open"
    api = SessionApi(world.host(world.acme), world.acme_admin)
    unmapped = api.get(f"/api/v1/sku-map/?connection={square.pk}&unmapped=true").json()["results"]
    assert [row["channel_item_id"] for row in unmapped] == [NO_SKU]
    refreshed = api.post(f"/api/v1/connections/{square.pk}/sku-map/refresh/")
    assert (refreshed.status_code, refreshed.json()) == (200, {"items": 2, "without_sku": 0})
    assert listing.calls[1].request.url.params["cursor"] == "page-2"
    assert api.get("/api/v1/sku-map/?sku=TEE-BLU-M").json()["results"][0]["channel_item_id"] == NO_SKU
    with tenant_context(world.acme):
        assert TriageException.objects.get(cause="unmapped_sku").status == "resolved"
        csv = ConnectionFactory(vendor="csv", config={})
    assert api.post(f"/api/v1/connections/{csv.pk}/sku-map/refresh/").status_code == 400
    other = SessionApi(world.host(world.bluebird), world.bluebird_admin)
    assert other.post(f"/api/v1/connections/{square.pk}/sku-map/refresh/").status_code == 404
    respx.get(f"{SQUARE_API}/catalog/list").mock(return_value=httpx.Response(503, json={}))
    down = api.post(f"/api/v1/connections/{square.pk}/sku-map/refresh/")
    assert down.status_code == 502 and down.json()["error"]["code"] == "channel_unavailable"
