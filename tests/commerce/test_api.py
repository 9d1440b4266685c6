from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalInventoryLevel
from commerce.inventory import channel_location_set, inventory_level_upsert
from commerce.models import InventoryLocation, SafetyStock
from commerce.services import order_upsert
from tenants.models import AuditEvent
from tests.commerce.factories import shopify_order
from tests.connectors.factories import ConnectionFactory


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    return api_client(world.host(world.acme), make_key(scopes=["read", "write"], tenant=world.acme))


@pytest.fixture
def stock(world):
    with tenant_context(world.acme):
        for sku, on_hand, where in (("TEE-BLK", "5", "store-1"), ("SOCK", "0", "store-1"), ("TEE-BLK", "3", "wh")):
            inventory_level_upsert(
                source="shopify",
                connection_id=90007,
                document=CanonicalInventoryLevel(where, sku, D(on_hand), 1, location_name=where.title()),
            )
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="store-1"))
        web = ConnectionFactory(vendor="shopify", name="Web")
        channel_location_set(
            channel_connection=web, location=InventoryLocation.objects.get(external_id="wh"), channel_location_id="9"
        )
        return {"store": InventoryLocation.objects.get(external_id="store-1"), "web": web}


def test_list_gives_every_sku_location_with_ats_and_filters(world, acme_api, stock):
    body = acme_api.get("/api/v1/inventory/").json()
    assert [
        (r["sku"], r["location_name"], r["on_hand"], r["reserved"], r["ats"], r["oversold"]) for r in body["results"]
    ] == [
        ("BOOT-BRN", "Store-1", "0.000", "1.000", "-1.000", True),
        ("SOCK", "Store-1", "0.000", "1.000", "-1.000", True),
        ("TEE-BLK", "Store-1", "5.000", "2.000", "3.000", False),
        ("TEE-BLK", "Wh", "3.000", "0.000", "3.000", False),
    ]
    assert [r["sku"] for r in acme_api.get("/api/v1/inventory/?oversold=true").json()["results"]] == [
        "BOOT-BRN",
        "SOCK",
    ]
    located = acme_api.get(f"/api/v1/inventory/?location={stock['store'].pk}&search=tee").json()["results"]
    assert [(r["sku"], r["location"]) for r in located] == [("TEE-BLK", stock["store"].pk)]


def test_retrieve_one_sku_with_channel_sums(world, acme_api, stock):
    body = acme_api.get("/api/v1/inventory/TEE-BLK/").json()
    assert [row["ats"] for row in body["locations"]] == ["3.000", "3.000"]
    assert body["channels"] == [{"channel_connection": stock["web"].pk, "ats": "3.000"}]
    assert acme_api.get("/api/v1/inventory/NOPE/").status_code == 404


def test_safety_stock_update_is_audited_and_changes_ats(world, acme_api, stock):
    response = acme_api.post(
        "/api/v1/inventory/safety-stock/", {"location": stock["store"].pk, "sku": "TEE-BLK", "quantity": "2"}
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["safety"], response.json()["ats"]) == ("2.000", "1.000")
    with tenant_context(world.acme):
        assert SafetyStock.objects.get().quantity == D("2")
    event = AuditEvent.objects.get(action="inventory.safety_stock_set", tenant=world.acme)
    assert event.actor_label.startswith("api-key:")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"location": 1, "sku": "A", "quantity": "-1"}, "quantity"),
        ({"location": 1, "sku": "A", "quantity": "1.2345"}, "quantity"),
        ({"location": 1, "sku": "A", "quantity": "many"}, "quantity"),
        ({"location": 1, "sku": "X" * 121, "quantity": "1"}, "sku"),
        ({"location": "x", "sku": "A", "quantity": "1"}, "location"),
        ({"location": 1, "sku": "A", "quantity": "1", "extra": 1}, "extra"),
        ({"sku": "A", "quantity": "1"}, "location"),
    ],
)
def test_bad_safety_stock_input_is_a_400_naming_the_field(world, acme_api, payload, field):
    response = acme_api.post("/api/v1/inventory/safety-stock/", payload)
    assert response.status_code == 400
    assert field in str(response.json())


def test_unknown_location_is_404_and_bad_filters_are_400(world, acme_api, stock):
    assert (
        acme_api.post("/api/v1/inventory/safety-stock/", {"location": 999999, "sku": "A", "quantity": "1"}).status_code
        == 404
    )
    assert acme_api.get("/api/v1/inventory/?location=abc").status_code == 400
    assert acme_api.get("/api/v1/inventory/?oversold=perhaps").status_code == 400


def test_a_read_key_cannot_write_and_another_tenant_sees_nothing(world, make_key, api_client, throttle_reset, stock):
    reader = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))
    response = reader.post(
        "/api/v1/inventory/safety-stock/", {"location": stock["store"].pk, "sku": "A", "quantity": "1"}
    )
    assert response.status_code == 403
    bluebird = api_client(world.host(world.bluebird), make_key(scopes=["read"], tenant=world.bluebird))
    assert bluebird.get("/api/v1/inventory/").json()["results"] == []
    assert bluebird.get("/api/v1/inventory/TEE-BLK/").status_code == 404
    wrong_host = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.bluebird))
    assert wrong_host.get("/api/v1/inventory/").status_code in (401, 403, 404)


def test_locations_list_update_and_channel_mapping(world, acme_api, stock):
    store = stock["store"]
    listing = acme_api.get("/api/v1/inventory/locations/").json()["results"]
    assert [(item["external_id"], item["kind"], item["channels"]) for item in listing] == [
        ("store-1", "store", []),
        ("wh", "store", [{"channel_connection": stock["web"].pk, "channel_location_id": "9"}]),
    ]
    updated = acme_api.patch(
        f"/api/v1/inventory/locations/{store.pk}/", {"kind": "web", "safety_stock_default": "2", "name": "Soho"}
    )
    assert updated.status_code == 200, updated.json()
    assert (updated.json()["kind"], updated.json()["safety_stock_default"], updated.json()["name"]) == (
        "web",
        "2.000",
        "Soho",
    )
    mapped = acme_api.post(
        f"/api/v1/inventory/locations/{store.pk}/channels/",
        {"channel_connection": stock["web"].pk, "channel_location_id": "8"},
    )
    assert mapped.json()["channels"] == [{"channel_connection": stock["web"].pk, "channel_location_id": "8"}]
    assert acme_api.get("/api/v1/inventory/TEE-BLK/").json()["channels"] == [
        {"channel_connection": stock["web"].pk, "ats": "4.000"}  # Soho 5 - 2 - 2 = 1, warehouse 3
    ]
    assert acme_api.delete(f"/api/v1/inventory/locations/{store.pk}/channels/{stock['web'].pk}/").status_code == 204
    assert acme_api.delete(f"/api/v1/inventory/locations/{store.pk}/channels/{stock['web'].pk}/").status_code == 404
    actions = set(AuditEvent.objects.filter(tenant=world.acme).values_list("action", flat=True))
    assert {
        "inventory.location_updated",
        "inventory.safety_default_set",
        "inventory.channel_location_removed",
    } <= actions


def test_location_and_channel_input_errors(world, acme_api, stock):
    store = stock["store"]
    assert acme_api.patch(f"/api/v1/inventory/locations/{store.pk}/", {"kind": "shed"}).status_code == 400
    assert acme_api.patch(f"/api/v1/inventory/locations/{store.pk}/", {"safety_stock_default": "-1"}).status_code == 400
    assert acme_api.patch("/api/v1/inventory/locations/999999/", {"kind": "web"}).status_code == 404
    with tenant_context(world.acme):
        stripe = ConnectionFactory(vendor="stripe", config={})
    refused = acme_api.post(
        f"/api/v1/inventory/locations/{store.pk}/channels/",
        {"channel_connection": stripe.pk, "channel_location_id": "1"},
    )
    assert refused.status_code == 400
    assert "is not a sales channel" in str(refused.json())
    missing = acme_api.post(
        f"/api/v1/inventory/locations/{store.pk}/channels/", {"channel_connection": 999999, "channel_location_id": "1"}
    )
    assert missing.status_code == 404


def test_retrieve_reports_reservations_without_a_location(world, acme_api):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=90007, document=shopify_order(store="nowhere"))
    body = acme_api.get("/api/v1/inventory/TEE-BLK/").json()
    assert (body["locations"], body["unallocated_reserved"]) == ([], "2.000")
