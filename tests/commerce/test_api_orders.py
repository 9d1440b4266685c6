import datetime as dt
from dataclasses import replace

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order
from commerce.services import order_upsert, refund_upsert
from tests.commerce.factories import refund, shopify_order


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    return api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))


def _orders(world, *external_ids: str) -> list[Order]:
    with tenant_context(world.acme):
        return [
            order_upsert(source="shopify", connection_id=7, document=shopify_order(external_id=external_id)).obj
            for external_id in external_ids
        ]


def test_orders_list_shows_each_part_of_the_order(world, acme_api):
    [order] = _orders(world, "1001")
    [item] = acme_api.get("/api/v1/orders/").json()["results"]
    assert (item["id"], item["external_id"], item["currency"], item["vendor_total"]) == (
        order.pk,
        "1001",
        "USD",
        "195.3000",
    )
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in item["lines"]] == [
        ("TEE-BLK", 2, "50.0000"),
        ("BOOT-BRN", 1, "80.0000"),
        ("SOCK", 1, "20.0000"),
    ]
    assert [(d["code"], d["promotion_id"], d["funding"], d["amount"]) for d in item["discounts"]] == [
        ("BOOTS10", "", "merchant", "10.0000"),
        ("", "brand-fund", "vendor", "5.0000"),
        ("SAVE15", "", "merchant", "15.0000"),
    ]
    assert [(t["jurisdiction"], t["amount"]) for t in item["tax_lines"]] == [
        ("US-NY", "3.4900"),
        ("US-NY-NYC", "3.9300"),
        ("US-NY", "2.5700"),
        ("US-NY-NYC", "2.8900"),
        ("US-NY", "0.7400"),
        ("US-NY-NYC", "0.8300"),
        ("US-NY", "0.4000"),
        ("US-NY-NYC", "0.4500"),
    ]
    assert [(s["code"], s["amount"]) for s in item["shipping_lines"]] == [("std", "10.0000")]
    assert [(p["gateway"], p["amount"], p["fee"], p["is_gift_card"]) for p in item["payments"]] == [
        ("stripe", "170.3000", "5.2400", False),
        ("shopify_gift_card", "25.0000", "0.0000", True),
    ]
    assert (item["fulfilments"], item["refunds"]) == ([], [])
    assert acme_api.get(f"/api/v1/orders/{order.pk}/").json() == item


def test_orders_list_costs_the_same_queries_for_one_order_or_five(world, acme_api, django_assert_max_num_queries):
    _orders(world, "1001")
    with django_assert_max_num_queries(40) as one:
        acme_api.get("/api/v1/orders/")
    _orders(world, "1002", "1003", "1004", "1005")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(acme_api.get("/api/v1/orders/").json()["results"]) == 5


def test_orders_cursor_is_stable_while_new_orders_arrive(world, acme_api):
    _orders(world, "1001", "1002", "1003")
    first = acme_api.get("/api/v1/orders/", data={"page_size": 2}).json()
    assert [item["external_id"] for item in first["results"]] == ["1003", "1002"]
    _orders(world, "1004")  # arrives between two pages: the cursor goes on where it was
    second = acme_api.get(first["next"]).json()
    assert [item["external_id"] for item in second["results"]] == ["1001"]
    assert second["next"] is None


def test_orders_updated_since_returns_only_orders_changed_after(world, acme_api):
    first, _second = _orders(world, "1001", "1002")
    cut = timezone.now()
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order(external_id="1001", source_version=2))
    changed = acme_api.get("/api/v1/orders/", data={"updated_since": cut.isoformat()}).json()
    assert [item["id"] for item in changed["results"]] == [first.pk]
    assert changed["results"][0]["source_version"] == 2
    assert acme_api.get("/api/v1/orders/", data={"updated_since": "not a time"}).status_code == 400


def test_refunds_list_detail_and_updated_since(world, acme_api):
    [order] = _orders(world, "1001")
    with tenant_context(world.acme):
        early = refund_upsert(source="shopify", connection_id=7, document=refund("R1", (("L3", 1),))).obj
        cut = timezone.now()
        late = refund_upsert(
            source="shopify",
            connection_id=7,
            document=replace(refund("R2", (("L1", 1),)), processed_at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC)),
        ).obj
    listing = acme_api.get("/api/v1/refunds/").json()["results"]
    assert [(r["id"], r["order"], r["order_external_id"]) for r in listing] == [
        (late.pk, order.pk, "1001"),
        (early.pk, order.pk, "1001"),
    ]
    detail = acme_api.get(f"/api/v1/refunds/{early.pk}/").json()
    assert [(line["quantity"], line["restock"]) for line in detail["lines"]] == [(1, False)]
    assert (detail["external_id"], detail["gateway"]) == ("R1", "stripe")
    since = acme_api.get("/api/v1/refunds/", data={"updated_since": cut.isoformat()}).json()["results"]
    assert [r["id"] for r in since] == [late.pk]
    assert acme_api.get(f"/api/v1/orders/{order.pk}/").json()["refunds"] == sorted([early.pk, late.pk])


def test_orders_and_refunds_are_tenant_scoped_and_need_the_read_scope(world, make_key, api_client, throttle_reset):
    [order] = _orders(world, "1001")
    host = world.host(world.acme)
    other_tenant = api_client(host, make_key(scopes=["read"], tenant=world.bluebird))
    other_partner = api_client(host, make_key(scopes=["read"], partner=world.southpaw))
    for client in (other_tenant, other_partner):
        assert client.get("/api/v1/orders/").status_code == 404
        assert client.get(f"/api/v1/orders/{order.pk}/").status_code == 404
        assert client.get("/api/v1/refunds/").status_code == 404
    own_host = api_client(world.host(world.bluebird), make_key(scopes=["read"], tenant=world.bluebird))
    assert own_host.get(f"/api/v1/orders/{order.pk}/").status_code == 404
    assert own_host.get("/api/v1/orders/").json()["results"] == []
    write_only = api_client(host, make_key(scopes=["write"], tenant=world.acme))
    assert write_only.get("/api/v1/orders/").status_code == 403
    assert write_only.get("/api/v1/refunds/").status_code == 403
    partner_key = api_client(host, make_key(scopes=["read"], partner=world.northwind))
    assert [item["id"] for item in partner_key.get("/api/v1/orders/").json()["results"]] == [order.pk]


def test_orders_updated_since_with_an_offset_postgres_refuses_is_not_a_500(world, acme_api):
    _orders(world, "1001")
    odd = acme_api.get("/api/v1/orders/", data={"updated_since": "0496-05-30T06:26:32+17:51"})
    assert [item["external_id"] for item in odd.json()["results"]] == ["1001"]
    assert acme_api.get("/api/v1/orders/", data={"placed_from": "0001-01-01T00:00:00+01:00"}).status_code == 400
