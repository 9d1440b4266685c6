"""Inventory levels from Shopify, Square and CSV through the transactional inbox (issue 8, part 4)."""

import datetime as dt
import json
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.models import InventoryLevel, InventoryLocation
from connectors.files import file_ingest
from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.vendors import adapter_for_vendor
from connectors.vendors.base import WebhookRejected
from connectors.vendors.shopify.normalise import inventory_level_normalise
from connectors.vendors.square.normalise import UnmappedSku, inventory_count_normalise
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import FIXTURES, fixture, fixture_bytes, shopify_headers
from triage.models import Exception as TriageException
from triage.services import exception_retry_run

SECRET = "shopify-app-secret-for-tests"
SHOP_API = "https://acme-outfitters.myshopify.com/admin/api/2025-07"
SQUARE_API = "https://connect.squareup.com/v2"
SOHO = "71826145558"
VARIATION = "GQ4TPTJQXH2OQZWPDJ3SKWEB"


@pytest.fixture
def shop(world):
    with tenant_context(world.acme):
        return ConnectionFactory(
            secrets={"webhook_secret": SECRET},
            config={
                "shop_domain": "acme-outfitters.myshopify.com",
                "api_version": "2025-07",
                "sync_inventory": True,
            },
        )


@pytest.fixture
def square(world):
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="square",
            config={"location_ids": ["L8Q2ZJ1DY4XKJ"], "environment": "production", "sync_inventory": True},
            secrets={"credentials": {"access_token": "EAAAl-sq-token"}, "webhook_secret": "k"},
        )


@pytest.fixture
def csv(world):
    with tenant_context(world.acme):
        return ConnectionFactory(vendor="csv", config={})


def _store(conn, topic, body: bytes, external_id: str):
    event, created = event_store(connection=conn, topic=topic, external_id=external_id, body=body, dispatch=False)
    return event_process(event_id=event.pk), created


def test_shopify_level_normalises_as_net_of_its_own_orders():
    document = inventory_level_normalise(fixture("shopify", "inventory_levels_update.json"), sku="TEE-BLK-M")
    assert (document.location_external_id, document.sku, document.on_hand, document.external_id) == (
        SOHO,
        "TEE-BLK-M",
        D("14"),
        "49148385149206",
    )
    assert document.net_of_source_orders is True
    assert document.source_version == int(dt.datetime(2026, 3, 14, 14, 42, 7, tzinfo=dt.UTC).timestamp() * 1000)


def test_shopify_webhook_is_identified_by_item_and_location(world, host_client, shop):
    body = fixture_bytes("shopify", "inventory_levels_update.json")
    client = host_client(world.host(world.acme))
    response = client.post(
        f"/hooks/shopify/{shop.pk}/",
        data=body,
        content_type="application/json",
        **shopify_headers(body, SECRET, "inventory_levels/update"),
    )
    assert response.status_code == 200
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.topic, event.external_id) == ("inventory_levels/update", f"49148385149206:{SOHO}")
    adapter = adapter_for_vendor("shopify")
    with pytest.raises(WebhookRejected) as rejected:
        adapter.webhook_identify(
            body=b"{}", payload={"available": 1}, headers={"X-Shopify-Topic": "inventory_levels/update"}
        )
    assert rejected.value.status == 400


@respx.mock
def test_shopify_webhook_reads_the_sku_once_then_replays_and_stale_updates_change_nothing(world, shop):
    item = respx.get(f"{SHOP_API}/inventory_items/49148385149206.json").mock(
        return_value=httpx.Response(
            200, json={"inventory_item": fixture("shopify", "inventory_items.json")["inventory_items"][0]}
        )
    )
    payload = fixture("shopify", "inventory_levels_update.json")
    body = json.dumps(payload).encode()
    with tenant_context(world.acme):
        event, _ = _store(shop, "inventory_levels/update", body, f"49148385149206:{SOHO}")
        assert event.status == "processed"
        assert event.result["documents"][0]["outcome"] == "created"
        level = InventoryLevel.objects.get()
        assert (level.sku, level.on_hand, level.net_of_source_orders, level.raw_event_id) == (
            "TEE-BLK-M",
            D("14"),
            True,
            event.pk,
        )
        _, created = _store(shop, "inventory_levels/update", body, f"49148385149206:{SOHO}")
        older = json.dumps({**payload, "available": 99, "updated_at": "2026-03-14T10:00:00-04:00"}).encode()
        stale, _ = _store(shop, "inventory_levels/update", older, f"49148385149206:{SOHO}")
        assert created is False
        assert stale.result["documents"][0]["outcome"] == "ignored_stale"
        assert InventoryLevel.objects.get().on_hand == D("14")
    assert item.call_count == 1  # the stale update found the SKU on the stored level


@respx.mock
def test_shopify_item_without_a_sku_is_an_inventory_exception(world, shop):
    respx.get(f"{SHOP_API}/inventory_items/49148385149206.json").mock(
        return_value=httpx.Response(200, json={"inventory_item": {"id": 49148385149206, "sku": ""}})
    )
    with tenant_context(world.acme):
        event, _ = _store(
            shop, "inventory_levels/update", fixture_bytes("shopify", "inventory_levels_update.json"), "x"
        )
        assert event.status == "dead"
        problem = TriageException.objects.get()
        assert (problem.kind, problem.cause, problem.retry_name) == ("inventory", "normalise", "connectors.replay")
        assert "has no SKU" in problem.detail


@respx.mock
def test_shopify_polling_walks_locations_levels_and_item_skus(world, shop):
    respx.get(f"{SHOP_API}/locations.json").mock(
        return_value=httpx.Response(200, json=fixture("shopify", "locations.json"))
    )
    levels = respx.get(f"{SHOP_API}/inventory_levels.json").mock(
        return_value=httpx.Response(200, json=fixture("shopify", "inventory_levels_page.json"))
    )
    respx.get(f"{SHOP_API}/inventory_items.json").mock(
        return_value=httpx.Response(200, json=fixture("shopify", "inventory_items.json"))
    )
    adapter = adapter_for_vendor("shopify")
    with tenant_context(world.acme):
        assert adapter.poll_topics_for(shop) == ("orders", "payouts", "inventory_levels")
        with adapter.client(shop) as client:
            page = adapter.fetch_page(connection=shop, client=client, topic="inventory_levels", cursor={}, since=None)
        assert levels.calls[0].request.url.params["location_ids"] == f"{SOHO},71826178326"
        assert page.done and page.cursor == {"updated_at_min": "2026-03-14T11:06:30-04:00"}
        statuses = [_store(shop, r.topic, r.body, r.external_id)[0].status for r in page.records]
        assert statuses == ["processed", "processed", "ignored"]  # the untracked gift wrap has no level
        assert list(InventoryLevel.objects.order_by("sku").values_list("sku", "on_hand")) == [
            ("TEE-BLK-L", D("-2.000")),
            ("TEE-BLK-M", D("9.000")),
        ]


def test_inventory_is_polled_only_when_the_connection_asks(world):
    with tenant_context(world.acme):
        plain = ConnectionFactory()
        assert adapter_for_vendor("shopify").poll_topics_for(plain) == ("orders", "payouts")


def _catalog(route_answers=None):
    """Square's catalog answers batch-retrieve: VARIATION is TEE-RED-M, the other one has no SKU."""
    return respx.post(f"{SQUARE_API}/catalog/batch-retrieve").mock(
        return_value=httpx.Response(200, json=route_answers or fixture("square", "catalog_batch_retrieve.json"))
    )


def test_square_event_keeps_in_stock_counts_only_under_the_sku_the_map_gives():
    counts = fixture("square", "inventory_count_updated_event.json")["data"]["object"]["inventory_counts"]
    skus = {VARIATION: "TEE-RED-M"}
    assert inventory_count_normalise(counts[1], skus) is None
    with pytest.raises(UnmappedSku, match=f"Square item variation {VARIATION} has no SKU"):
        inventory_count_normalise(counts[0], {})
    document = inventory_count_normalise(counts[0], skus)
    assert (document.sku, document.location_external_id, document.on_hand, document.net_of_source_orders) == (
        "TEE-RED-M",
        "L8Q2ZJ1DY4XKJ",
        D("23"),
        False,
    )


@respx.mock
def test_square_webhook_stores_the_level_under_the_real_sku_and_reads_the_catalog_once(world, square):
    catalog = _catalog()
    with tenant_context(world.acme):
        event, _ = _store(
            square, "inventory.count.updated", fixture_bytes("square", "inventory_count_updated_event.json"), "c1"
        )
        assert event.status == "processed"
        assert list(InventoryLevel.objects.values_list("sku", "on_hand", "source")) == [
            ("TEE-RED-M", D("23"), "square")
        ]
        assert json.loads(catalog.calls[0].request.content) == {"object_ids": [VARIATION]}
        payload = fixture("square", "inventory_count_updated_event.json")
        payload["data"]["object"]["inventory_counts"][0].update(quantity="20", calculated_at="2026-03-14T16:00:00Z")
        assert _store(square, "inventory.count.updated", json.dumps(payload).encode(), "c1b")[0].status == "processed"
        assert catalog.call_count == 1  # the SKU map knows the variation now
        assert dict(InventoryLevel.objects.values_list("sku", "on_hand")) == {"TEE-RED-M": D("20")}


@respx.mock
def test_square_count_for_a_variation_without_a_sku_is_an_exception_until_the_catalog_names_it(world, square):
    answer = fixture("square", "catalog_batch_retrieve.json")
    answer["objects"][0]["item_variation_data"].pop("sku")
    catalog = _catalog(answer)
    with tenant_context(world.acme):
        event, _ = _store(
            square, "inventory.count.updated", fixture_bytes("square", "inventory_count_updated_event.json"), "c1"
        )
        assert event.status == "dead"
        problem = TriageException.objects.get()
        assert (problem.kind, problem.cause) == ("inventory", "unmapped_sku")
        assert not InventoryLevel.objects.exists()
        catalog.mock(return_value=httpx.Response(200, json=fixture("square", "catalog_batch_retrieve.json")))
        assert exception_retry_run(exception_id=problem.pk)["succeeded"] == 1
        event.refresh_from_db()
        assert event.status == "processed"
        assert list(InventoryLevel.objects.values_list("sku", flat=True)) == ["TEE-RED-M"]


@respx.mock
def test_square_count_with_a_bad_quantity_is_an_inventory_exception(world, square):
    _catalog()
    payload = fixture("square", "inventory_count_updated_event.json")
    payload["data"]["object"]["inventory_counts"][0]["quantity"] = "lots"
    with tenant_context(world.acme):
        event, _ = _store(square, "inventory.count.updated", json.dumps(payload).encode(), "c2")
        assert event.status == "dead"
        assert TriageException.objects.get().kind == "inventory"


@respx.mock
def test_square_polling_batch_retrieves_in_stock_counts(world, square):
    answer = fixture("square", "catalog_batch_retrieve.json")
    answer["objects"][1]["item_variation_data"]["sku"] = "TEE-BLU-M"
    _catalog(answer)
    route = respx.post(f"{SQUARE_API}/inventory/counts/batch-retrieve").mock(
        return_value=httpx.Response(200, json=fixture("square", "inventory_counts_batch.json"))
    )
    adapter = adapter_for_vendor("square")
    with tenant_context(world.acme):
        with adapter.client(square) as client:
            page = adapter.fetch_page(connection=square, client=client, topic="inventory", cursor={}, since=None)
        sent = json.loads(route.calls[0].request.content)
        assert sent == {"location_ids": ["L8Q2ZJ1DY4XKJ"], "states": ["IN_STOCK"], "limit": 1000}
        assert page.cursor == {"updated_after": "2026-03-14T16:03:55.730Z"}
        for record in page.records:
            _store(square, record.topic, record.body, record.external_id)
        assert dict(InventoryLevel.objects.values_list("sku", "on_hand")) == {
            "TEE-RED-M": D("21.000"),
            "TEE-BLU-M": D("4.500"),
        }


def test_csv_inventory_file_stores_good_rows_and_raises_bad_ones(world, csv):
    content = (FIXTURES / "csv" / "inventory.csv").read_bytes()
    with tenant_context(world.acme):
        report = file_ingest(connection=csv, topic="inventory", content=content, process_now=True)
        assert [event.status for event in report.stored] == ["processed", "processed", "dead", "dead"]
        assert list(InventoryLevel.objects.order_by("sku").values_list("sku", "location__external_id", "on_hand")) == [
            ("TEE-BLK-L", "WH-EAST", D("80.000")),
            ("TEE-BLK-M", "WH-EAST", D("120.000")),
        ]
        assert InventoryLocation.objects.get(external_id="WH-EAST").name == "East warehouse"
        problem = TriageException.objects.get()
        assert (problem.kind, problem.count, problem.retry_name) == ("inventory", 2, "connectors.replay")
        details = sorted(problem.occurrences.values_list("detail", flat=True))
        assert details == [
            "Row 4: on_hand 'twelve' is not a number.",
            "Rows 5, 6 give 'TEE-BLK-M' at 'STORE-SOHO' twice.",
        ]
        again = file_ingest(connection=csv, topic="inventory", content=content, process_now=True)
        assert (len(again.stored), len(again.duplicates)) == (0, 4)


def test_csv_inventory_without_its_columns_is_refused(world, csv):
    from django.core.exceptions import ValidationError

    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        file_ingest(connection=csv, topic="inventory", content=b"sku,on_hand\nA,1\n", process_now=True)
    assert error.value.message_dict == {"file": ["Missing column(s): location."]}
