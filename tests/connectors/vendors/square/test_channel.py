"""Square channel contract: Catalog API (search, batch-upsert with versions, retrieve, batch-retrieve,
batch-delete) and Inventory API (changes/batch-create, counts/batch-retrieve), Square-Version
2025-07-16 (shapes: tests/fixtures/square/channel_*.json)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from decimal import Decimal

import httpx
import pytest
import respx

from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelRejected, ChannelUnsupported, PriceSpec
from connectors.vendors.square.channel import PAUSED_FROM, PAUSED_UNTIL
from core.http.client import VendorUnavailable
from promotions.accuracy import offer_differences
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture
from tests.connectors.vendors.conftest import promotion

API = "https://connect.squareup.com/v2"
LOCATION = "L8Q2ZJ1DY4XKJ"

pytestmark = pytest.mark.usefixtures("no_waiting")


class FakeSquare:
    """A Square catalog that checks versions the way batch-upsert does and keeps inventory counts."""

    def __init__(self, router: respx.Router) -> None:
        self.objects: dict[str, dict] = {
            item["id"]: item for item in fixture("square", "channel_search_variations.json")["objects"]
        }
        self.counts: dict[tuple[str, str], str] = {}
        self.serial = 0
        self.clock = 1763500000000
        self.reject_next: dict | None = None
        self.down = False
        self.edit_after_read = False
        self.answered: dict[str, dict] = {}
        self.calls: list[tuple[str, dict | None]] = []
        self.keys: list[str] = []
        r = router
        r.post(f"{API}/catalog/search-catalog-objects").mock(side_effect=self.search)
        r.post(f"{API}/catalog/batch-upsert").mock(side_effect=self.upsert)
        r.post(f"{API}/catalog/batch-retrieve").mock(side_effect=self.batch_retrieve)
        r.post(f"{API}/catalog/batch-delete").mock(side_effect=self.batch_delete)
        r.route(method="GET", url__regex=re.escape(API) + r"/catalog/object/(?P<object_id>[^/?]+)").mock(
            side_effect=self.retrieve
        )
        r.post(f"{API}/inventory/changes/batch-create").mock(side_effect=self.inventory_change)
        r.post(f"{API}/inventory/counts/batch-retrieve").mock(side_effect=self.inventory_counts)

    def record(self, request: httpx.Request) -> dict | None:
        assert request.headers["Square-Version"] == "2025-07-16"
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.url.path.removeprefix("/v2/"), body))
        return body

    def of_type(self, kind: str) -> list[dict]:
        return [item for item in self.objects.values() if item["type"] == kind]

    def search(self, request):
        body = self.record(request)
        if self.down:
            return httpx.Response(503, json={"errors": [{"category": "API_ERROR", "code": "SERVICE_UNAVAILABLE"}]})
        query = body["query"]["exact_query"]
        found = [
            item
            for item in self.objects.values()
            if item["type"] in body["object_types"]
            and item.get("item_variation_data", {}).get(query["attribute_name"]) == query["attribute_value"]
        ]
        return httpx.Response(200, json={"objects": found} if found else {})

    def upsert(self, request):
        body = self.record(request)
        self.keys.append(body["idempotency_key"])
        if body["idempotency_key"] in self.answered:
            # Square answers a repeated key with the first answer, whatever happened since.
            return httpx.Response(200, json=self.answered[body["idempotency_key"]])
        if self.reject_next is not None:
            answer, self.reject_next = self.reject_next, None
            return httpx.Response(400, json=answer)
        incoming = body["batches"][0]["objects"]
        for item in incoming:
            stored = self.objects.get(item["id"])
            if stored is not None and item.get("version") != stored["version"]:
                detail = f"Object version does not match for object: {item['id']}"
                return httpx.Response(
                    400,
                    json={
                        "errors": [{"category": "INVALID_REQUEST_ERROR", "code": "VERSION_MISMATCH", "detail": detail}]
                    },
                )
        mappings = {}
        for item in incoming:
            if item["id"].startswith("#"):
                self.serial += 1
                mappings[item["id"]] = f"SQ{self.serial:022d}"
        saved = []
        for item in copy.deepcopy(incoming):
            temporary = item["id"]
            item["id"] = mappings.get(temporary, temporary)
            for value in item.values():
                if isinstance(value, dict):
                    for field in ("discount_id", "match_products_id"):
                        if value.get(field) in mappings:
                            value[field] = mappings[value[field]]
            self.clock += 1
            item.update(version=self.clock, is_deleted=False, updated_at="2026-11-19T19:02:11.803Z")
            self.objects[item["id"]] = item
            saved.append(item)
        answer = {
            "objects": saved,
            "updated_at": "2026-11-19T19:02:11.803Z",
            "id_mappings": [{"client_object_id": key, "object_id": value} for key, value in mappings.items()],
        }
        self.answered[body["idempotency_key"]] = copy.deepcopy(answer)
        return httpx.Response(200, json=answer)

    def retrieve(self, request, object_id):
        self.record(request)
        if object_id not in self.objects:
            return httpx.Response(404, json=fixture("square", "channel_not_found.json"))
        return httpx.Response(200, json={"object": self.objects[object_id]})

    def batch_retrieve(self, request):
        body = self.record(request)
        found = [copy.deepcopy(self.objects[i]) for i in body["object_ids"] if i in self.objects]
        if self.edit_after_read:
            for object_id in body["object_ids"]:
                self.objects[object_id]["version"] += 1
        return httpx.Response(200, json={"objects": found})

    def batch_delete(self, request):
        body = self.record(request)
        for object_id in body["object_ids"]:
            self.objects.pop(object_id, None)
        return httpx.Response(
            200, json={"deleted_object_ids": body["object_ids"], "deleted_at": "2026-11-19T19:02:11.803Z"}
        )

    def inventory_change(self, request):
        body = self.record(request)
        counts = []
        for change in body["changes"]:
            count = change["physical_count"]
            self.counts[(count["catalog_object_id"], count["location_id"])] = count["quantity"]
            counts.append(
                {
                    **fixture("square", "channel_inventory_count.json"),
                    "catalog_object_id": count["catalog_object_id"],
                    "location_id": count["location_id"],
                    "quantity": count["quantity"],
                }
            )
        return httpx.Response(200, json={"counts": counts})

    def inventory_counts(self, request):
        body = self.record(request)
        counts = [
            {
                **fixture("square", "channel_inventory_count.json"),
                "catalog_object_id": object_id,
                "location_id": location,
                "quantity": quantity,
            }
            for (object_id, location), quantity in self.counts.items()
            if object_id in body["catalog_object_ids"] and location in body["location_ids"]
        ]
        # One count per page, so the cursor is followed.
        start = int(body.get("cursor") or 0)
        page = {"counts": counts[start : start + 1]}
        if start + 1 < len(counts):
            page["cursor"] = str(start + 1)
        return httpx.Response(200, json=page)


@pytest.fixture
def conn():
    return ConnectionFactory.build(
        id=9,
        vendor="square",
        config={"location_ids": [LOCATION], "environment": "production", "timezone": "Asia/Tokyo"},
        secrets={"credentials": {"access_token": "EAAAl-sq-token"}},
    )


@pytest.fixture
def square():
    with respx.mock(assert_all_called=False) as router:
        yield FakeSquare(router)


def jpy(**changes):
    values = {"currency": "JPY", "coupon_codes": (), "location_ids": (LOCATION,)}
    values.update(changes)
    return promotion(**values)


def test_publish_new_upserts_discount_product_set_and_rule_in_one_batch(conn, square):
    ack = channel_adapter_for("square").publish(conn, jpy(), external_id=None)

    (rule,) = square.of_type("PRICING_RULE")
    (discount,) = square.of_type("DISCOUNT")
    (product_set,) = square.of_type("PRODUCT_SET")
    assert (ack.external_id, ack.version, ack.state) == (rule["id"], 1, "active")
    assert discount["discount_data"] == {
        "name": "Winter boots [promo-42 v1]",
        "discount_type": "FIXED_PERCENTAGE",
        "percentage": "15",
    }
    assert product_set["product_set_data"]["product_ids_any"] == [
        "GQ3GWTOK5WZVXDXMZ3WRNMBA",
        "H4KXOQ7UU6TEPR2EZKQ5LS2C",
    ]
    # 2026-11-20 05:00 UTC is 14:00 in Tokyo, the connection's time zone.
    assert rule["pricing_rule_data"] == {
        "name": "Winter boots [promo-42 v1]",
        "discount_id": discount["id"],
        "match_products_id": product_set["id"],
        "valid_from_date": "2026-11-20",
        "valid_from_local_time": "14:00:00",
        "valid_until_date": "2026-12-01",
        "valid_until_local_time": "14:00:00",
    }
    assert (rule["present_at_all_locations"], rule["present_at_location_ids"]) == (False, [LOCATION])


def test_jpy_and_kwd_amounts_go_to_square_in_minor_units(conn, square):
    channel = channel_adapter_for("square")
    channel.publish(conn, jpy(kind="amount_off", value=Decimal("500"), min_spend=Decimal("3000")), external_id=None)
    channel.publish(
        conn, jpy(key="promo-9", kind="amount_off", value=Decimal("1.25"), currency="KWD"), external_id=None
    )

    yen, dinar = (item["discount_data"]["amount_money"] for item in square.of_type("DISCOUNT"))
    assert yen == {"amount": 500, "currency": "JPY"}
    assert dinar == {"amount": 1250, "currency": "KWD"}
    first_rule = square.of_type("PRICING_RULE")[0]["pricing_rule_data"]
    assert first_rule["minimum_order_subtotal_money"] == {"amount": 3000, "currency": "JPY"}


def test_publish_update_sends_the_current_versions_back(conn, square):
    channel = channel_adapter_for("square")
    first = channel.publish(conn, jpy(), external_id=None)
    versions = {item["id"]: item["version"] for item in square.objects.values() if item["type"] != "ITEM_VARIATION"}

    second = channel.publish(conn, jpy(version=2, value=Decimal("20")), external_id=first.external_id)

    assert (second.external_id, second.version) == (first.external_id, 2)
    upsert = [body for path, body in square.calls if path == "catalog/batch-upsert"][-1]
    assert {item["id"]: item["version"] for item in upsert["batches"][0]["objects"]} == versions
    assert len(square.of_type("PRICING_RULE")) == 1
    assert square.of_type("DISCOUNT")[0]["discount_data"]["percentage"] == "20"


def test_a_stale_version_is_refused_by_square_as_channel_rejected(conn, square):
    channel = channel_adapter_for("square")
    first = channel.publish(conn, jpy(), external_id=None)
    square.edit_after_read = True  # someone else saves the objects between our read and our write

    with pytest.raises(ChannelRejected, match="Object version does not match"):
        channel.publish(conn, jpy(version=2), external_id=first.external_id)


def test_read_back_reports_the_version_and_a_deleted_rule_as_absent(conn, square):
    channel = channel_adapter_for("square")
    ack = channel.publish(conn, jpy(version=5), external_id=None)

    assert channel.read_back(conn, ack.external_id).version == 5
    assert channel.read_back(conn, "7NHLWUMJHTWVFJBFHZU4BN53").state == "absent"


def test_read_back_reports_the_rules_terms_from_its_discount_product_set_and_local_window(conn, square):
    channel = channel_adapter_for("square")
    spec = jpy(min_spend=Decimal("5000"))
    ack = channel.publish(conn, spec, external_id=None)

    offer = channel.read_back(conn, ack.external_id).offer

    assert (offer.kind, offer.value) == ("percent_off", Decimal("15"))
    # Square keeps 14:00 in Tokyo; read back it is the same instant as the approved 05:00 UTC.
    assert (offer.starts_at, offer.ends_at) == (spec.starts_at, spec.ends_at)
    assert offer.eligibility == {
        "skus": ("BOOT-BLK-42", "BOOT-BLK-43"),
        "categories": (),
        "locations": (LOCATION,),
        "min_spend": Decimal("5000"),
    }
    assert offer_differences(spec=spec, offer=offer) == []


def test_read_back_shows_a_discount_edited_in_the_square_dashboard(conn, square):
    channel = channel_adapter_for("square")
    spec = jpy()
    ack = channel.publish(conn, spec, external_id=None)
    (discount,) = square.of_type("DISCOUNT")
    discount["discount_data"]["percentage"] = "20"
    square.objects[ack.external_id]["pricing_rule_data"]["valid_until_date"] = "2026-12-31"

    offer = channel.read_back(conn, ack.external_id).offer

    assert offer_differences(spec=spec, offer=offer) == [
        "amount: the channel shows 20, the approved version 15",
        "ends at: the channel shows 2026-12-31T05:00:00+00:00, the approved version 2026-12-01T05:00:00+00:00",
    ]


def test_pause_moves_the_window_into_the_past_and_resume_restores_it(conn, square):
    channel = channel_adapter_for("square")
    ack = channel.publish(conn, jpy(ends_at=None), external_id=None)
    rule = lambda: square.objects[ack.external_id]["pricing_rule_data"]  # noqa: E731

    paused = channel.pause(conn, ack.external_id)
    assert (paused.state, paused.external_id) == ("paused", ack.external_id)
    assert (rule()["valid_from_date"], rule()["valid_until_date"]) == (PAUSED_FROM, PAUSED_UNTIL)
    assert "valid_from_local_time" not in rule()
    assert rule()["name"] == "Winter boots [promo-42 v1 paused from=2026-11-20T14:00:00 until=open]"
    assert channel.pause(conn, ack.external_id).state == "paused"

    resumed = channel.resume(conn, ack.external_id)
    assert (resumed.state, resumed.version) == ("active", 1)
    assert rule() == {
        "name": "Winter boots [promo-42 v1]",
        "discount_id": rule()["discount_id"],
        "match_products_id": rule()["match_products_id"],
        "valid_from_date": "2026-11-20",
        "valid_from_local_time": "14:00:00",
    }


def test_remove_deletes_rule_discount_and_product_set(conn, square):
    channel = channel_adapter_for("square")
    ack = channel.publish(conn, jpy(), external_id=None)

    assert channel.remove(conn, ack.external_id).state == "absent"
    assert square.of_type("PRICING_RULE") == square.of_type("DISCOUNT") == square.of_type("PRODUCT_SET") == []
    assert channel.remove(conn, ack.external_id).state == "absent"


def test_unknown_sku_is_rejected_by_name(conn, square):
    with pytest.raises(ChannelRejected, match="Square has no product with SKU BOOT-RED-40"):
        channel_adapter_for("square").publish(conn, jpy(skus=("BOOT-RED-40",)), external_id=None)
    assert square.of_type("PRICING_RULE") == []


def test_vendor_400_becomes_channel_rejected_with_squares_message(conn, square):
    square.reject_next = fixture("square", "channel_error_400.json")

    with pytest.raises(ChannelRejected) as caught:
        channel_adapter_for("square").publish(conn, jpy(), external_id=None)

    assert caught.value.message == (
        "Square refused to save pricing rule promo-42 v1: Invalid percentage: 150. (discount_data.percentage)"
    )


def test_square_outage_stays_a_retryable_connectors_error(conn, square):
    square.down = True

    with pytest.raises(VendorUnavailable):
        channel_adapter_for("square").publish(conn, jpy(), external_id=None)


def test_unsupported_kinds_and_features_are_listed_and_refused(conn, square):
    channel = channel_adapter_for("square")
    spec = promotion(kind="free_shipping", usage_limit=10)

    assert channel.unsupported(spec) == [
        "square cannot express a free shipping promotion",
        "Square pricing rules apply automatically at the point of sale and take no coupon codes",
        "Square pricing rules have no usage limit",
    ]
    assert channel.unsupported(jpy(kind="amount_off", skus=())) == [
        "Square takes an amount off each matched item: name the SKUs or categories"
    ]
    with pytest.raises(ChannelUnsupported):
        channel.publish(conn, spec, external_id=None)
    assert square.calls == []


def test_a_retried_create_is_answered_once_by_square(conn, square):
    channel = channel_adapter_for("square")
    first = channel.publish(conn, jpy(), external_id=None)

    again = channel.publish(conn, jpy(), external_id=None)  # e.g. the first answer was lost to a timeout

    assert again.external_id == first.external_id
    assert square.keys[0] == square.keys[1]
    assert len(square.of_type("PRICING_RULE")) == 1


def test_publishing_again_after_a_remove_creates_a_fresh_rule(conn, square):
    channel = channel_adapter_for("square")
    first = channel.publish(conn, jpy(), external_id=None)
    channel.remove(conn, first.external_id)

    again = channel.publish(conn, jpy(), external_id=None)

    assert again.state == "active" and again.external_id != first.external_id
    assert [rule["id"] for rule in square.of_type("PRICING_RULE")] == [again.external_id]


def test_prices_set_item_variation_price_money_in_minor_units(conn, square):
    spec = PriceSpec(
        "prices-1",
        1,
        "KWD",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        {"BOOT-BLK-42": Decimal("12.5"), "BOOT-BLK-43": Decimal("13.0005")},
    )

    shown = channel_adapter_for("square").publish_prices(conn, spec)

    assert shown == {"BOOT-BLK-42": Decimal("12.500"), "BOOT-BLK-43": Decimal("13.001")}
    variation = square.objects["GQ3GWTOK5WZVXDXMZ3WRNMBA"]
    assert variation["item_variation_data"]["price_money"] == {"amount": 12500, "currency": "KWD"}
    assert variation["item_variation_data"]["sku"] == "BOOT-BLK-42"  # the rest of the variation is kept


def test_inventory_push_sets_physical_counts_and_reads_them_back(conn, square):
    shown = channel_adapter_for("square").push_available(
        conn, {("BOOT-BLK-42", LOCATION): Decimal(7), ("BOOT-BLK-43", LOCATION): Decimal(0)}
    )

    assert shown == {("BOOT-BLK-42", LOCATION): Decimal(7), ("BOOT-BLK-43", LOCATION): Decimal(0)}
    (change,) = [body for path, body in square.calls if path == "inventory/changes/batch-create"]
    assert [item["physical_count"]["quantity"] for item in change["changes"]] == ["7", "0"]
    assert {item["type"] for item in change["changes"]} == {"PHYSICAL_COUNT"}
    assert change["ignore_unchanged_counts"] is True
