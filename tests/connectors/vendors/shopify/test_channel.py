"""Shopify channel contract: Admin REST 2025-07 price rules, discount codes, variants and inventory
levels, and the Admin GraphQL productVariants search (shapes: tests/fixtures/shopify/channel_*.json)."""

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
from core.http.client import AuthFailed, RateLimited
from promotions.accuracy import offer_differences
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture
from tests.connectors.vendors.conftest import promotion

API = "https://acme-outfitters.myshopify.com/admin/api/2025-07"

pytestmark = pytest.mark.usefixtures("no_waiting")


class FakeShop:
    """A Shopify store that keeps price rules, codes, prices and levels the way the Admin API does."""

    def __init__(self, router: respx.Router, *, currency: str = "USD") -> None:
        self.currency = currency
        self.rules: dict[int, dict] = {}
        self.codes: dict[int, list[dict]] = {}
        self.variants = fixture("shopify", "channel_variants_by_sku.json")["data"]["productVariants"]["nodes"]
        self.levels: dict[tuple[int, int], int] = {}
        self.next_id = 507328175
        self.reject_next: dict | None = None
        self.graphql_answer: httpx.Response | None = None
        self.calls: list[tuple[str, str, dict | None]] = []
        r = router
        r.post(f"{API}/graphql.json").mock(side_effect=self.graphql)
        r.get(f"{API}/shop.json").mock(side_effect=lambda request: self.ok({"shop": {"currency": self.currency}}))
        r.post(f"{API}/price_rules.json").mock(side_effect=self.rule_create)
        rule = re.escape(API) + r"/price_rules/(?P<rule_id>\d+)\.json$"
        r.route(method="GET", url__regex=rule).mock(side_effect=self.rule_get)
        r.route(method="PUT", url__regex=rule).mock(side_effect=self.rule_update)
        r.route(method="DELETE", url__regex=rule).mock(side_effect=self.rule_delete)
        codes = re.escape(API) + r"/price_rules/(?P<rule_id>\d+)/discount_codes"
        r.route(method="GET", url__regex=codes + r"\.json$").mock(side_effect=self.codes_list)
        r.route(method="POST", url__regex=codes + r"\.json$").mock(side_effect=self.code_create)
        r.route(method="DELETE", url__regex=codes + r"/(?P<code_id>\d+)\.json$").mock(side_effect=self.code_delete)
        r.route(method="PUT", url__regex=re.escape(API) + r"/variants/(?P<variant_id>\d+)\.json$").mock(
            side_effect=self.variant_update
        )
        r.post(f"{API}/inventory_levels/set.json").mock(side_effect=self.level_set)
        r.get(f"{API}/inventory_levels.json").mock(side_effect=self.levels_list)

    def ok(self, body: dict, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=body)

    def record(self, request: httpx.Request) -> dict | None:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        return body

    def graphql(self, request):
        body = self.record(request)
        if self.graphql_answer is not None:
            return self.graphql_answer
        if "ids" in body["variables"]:  # nodes(ids:): a deleted variant answers null
            by_id = {node["id"]: {"id": node["id"], "sku": node["sku"]} for node in self.variants}
            return self.ok({"data": {"nodes": [by_id.get(gid) for gid in body["variables"]["ids"]]}})
        wanted = re.findall(r'sku:"([^"]*)"', body["variables"]["query"])
        # Shopify's sku: search also matches longer SKUs that start with the term.
        nodes = [node for node in self.variants if any(node["sku"].startswith(sku) for sku in wanted)]
        return self.ok({"data": {"productVariants": {"nodes": nodes}}})

    def rule_create(self, request):
        body = self.record(request)["price_rule"]
        if self.reject_next is not None:
            answer, self.reject_next = self.reject_next, None
            return httpx.Response(422, json=answer)
        rule = copy.deepcopy(fixture("shopify", "channel_price_rule.json")["price_rule"])
        rule.update(body, id=self.next_id, admin_graphql_api_id=f"gid://shopify/PriceRule/{self.next_id}")
        self.rules[self.next_id] = rule
        self.codes[self.next_id] = []
        self.next_id += 1
        return self.ok({"price_rule": rule}, 201)

    def rule_get(self, request, rule_id):
        self.record(request)
        rule = self.rules.get(int(rule_id))
        return self.ok({"price_rule": rule}) if rule else httpx.Response(404, json={"errors": "Not Found"})

    def rule_update(self, request, rule_id):
        body = self.record(request)["price_rule"]
        if int(rule_id) not in self.rules:
            return httpx.Response(404, json={"errors": "Not Found"})
        self.rules[int(rule_id)].update(body)
        return self.ok({"price_rule": self.rules[int(rule_id)]})

    def rule_delete(self, request, rule_id):
        self.record(request)
        if self.rules.pop(int(rule_id), None) is None:
            return httpx.Response(404, json={"errors": "Not Found"})
        return httpx.Response(204)

    def codes_list(self, request, rule_id):
        self.record(request)
        return self.ok({"discount_codes": self.codes.get(int(rule_id), [])})

    def code_create(self, request, rule_id):
        code = self.record(request)["discount_code"]["code"]
        template = fixture("shopify", "channel_discount_code.json")["discount_code"]
        saved = {**template, "id": 1054381139 + len(self.codes[int(rule_id)]), "code": code, "price_rule_id": rule_id}
        self.codes[int(rule_id)].append(saved)
        return self.ok({"discount_code": saved}, 201)

    def code_delete(self, request, rule_id, code_id):
        self.record(request)
        self.codes[int(rule_id)] = [code for code in self.codes[int(rule_id)] if code["id"] != int(code_id)]
        return httpx.Response(204)

    def variant_update(self, request, variant_id):
        body = self.record(request)["variant"]
        variant = {**fixture("shopify", "channel_variant.json")["variant"], "id": int(variant_id)}
        variant["price"] = body["price"]
        return self.ok({"variant": variant})

    def level_set(self, request):
        body = self.record(request)
        self.levels[(body["inventory_item_id"], body["location_id"])] = body["available"]
        level = {**fixture("shopify", "channel_inventory_level.json")["inventory_level"], **body}
        return self.ok({"inventory_level": level})

    def levels_list(self, request):
        self.record(request)
        items = {int(item) for item in request.url.params["inventory_item_ids"].split(",")}
        locations = {int(item) for item in request.url.params["location_ids"].split(",")}
        rows = [
            {"inventory_item_id": item, "location_id": location, "available": available}
            for (item, location), available in self.levels.items()
            if item in items and location in locations
        ]
        return self.ok({"inventory_levels": rows})


@pytest.fixture
def conn():
    return ConnectionFactory.build(id=7, vendor="shopify")


@pytest.fixture
def shop():
    with respx.mock(assert_all_called=False) as router:
        yield FakeShop(router)


def test_publish_new_creates_a_tagged_price_rule_with_variant_ids_and_codes(conn, shop):
    ack = channel_adapter_for("shopify").publish(
        conn, promotion(min_spend=Decimal("50"), usage_limit=500), external_id=None
    )

    assert (ack.external_id, ack.version, ack.state) == ("507328175", 1, "active")
    assert ack.raw["discount_codes"] == ["WINTER15"]
    rule = shop.rules[507328175]
    assert rule["title"] == "Winter boots [promo-42 v1]"
    assert (rule["value_type"], rule["value"]) == ("percentage", "-15")
    assert (rule["target_type"], rule["target_selection"]) == ("line_item", "entitled")
    # BOOT-BLK-42-WIDE also matched the search but is not the SKU asked for.
    assert rule["entitled_variant_ids"] == [44120338022, 44120338055]
    assert rule["prerequisite_subtotal_range"] == {"greater_than_or_equal_to": "50.00"}
    assert rule["usage_limit"] == 500
    assert (rule["starts_at"], rule["ends_at"]) == ("2026-11-20T05:00:00+00:00", "2026-12-01T05:00:00+00:00")


def test_publish_update_writes_the_new_version_onto_the_same_rule_and_syncs_codes(conn, shop):
    channel = channel_adapter_for("shopify")
    first = channel.publish(conn, promotion(), external_id=None)

    second = channel.publish(
        conn, promotion(version=2, value=Decimal("20"), coupon_codes=("WINTER20",)), external_id=first.external_id
    )

    assert (second.external_id, second.version, second.state) == (first.external_id, 2, "active")
    assert second.raw["discount_codes"] == ["WINTER20"]
    assert shop.rules[507328175]["value"] == "-20"
    assert len(shop.rules) == 1


def test_publish_after_the_rule_was_deleted_in_the_shop_creates_it_again(conn, shop):
    channel = channel_adapter_for("shopify")
    first = channel.publish(conn, promotion(), external_id=None)
    shop.rules.clear()

    again = channel.publish(conn, promotion(version=2), external_id=first.external_id)

    assert (again.external_id, again.version) == ("507328176", 2)


def test_read_back_reports_the_version_from_the_title_tag(conn, shop):
    channel = channel_adapter_for("shopify")
    ack = channel.publish(conn, promotion(version=3), external_id=None)
    shop.rules[int(ack.external_id)]["title"] = "Renamed by a person [promo-42 v3]"

    back = channel.read_back(conn, ack.external_id)

    assert (back.version, back.state, back.raw["discount_codes"]) == (3, "active", ["WINTER15"])
    assert channel.read_back(conn, "999").state == "absent"


def test_read_back_reports_the_live_offers_terms_with_its_variants_skus(conn, shop):
    channel = channel_adapter_for("shopify")
    spec = promotion(min_spend=Decimal("50"))
    ack = channel.publish(conn, spec, external_id=None)

    offer = channel.read_back(conn, ack.external_id).offer

    assert (offer.kind, offer.value, offer.starts_at, offer.ends_at) == (
        "percent_off",
        Decimal("15"),
        spec.starts_at,
        spec.ends_at,
    )
    assert offer.eligibility == {
        "skus": ("BOOT-BLK-42", "BOOT-BLK-43"),
        "collections": (),
        "coupon_codes": ("WINTER15",),
        "min_spend": Decimal("50.00"),
    }
    assert offer_differences(spec=spec, offer=offer) == []


def test_read_back_shows_an_offer_edited_in_the_shop_admin(conn, shop):
    channel = channel_adapter_for("shopify")
    spec = promotion()
    ack = channel.publish(conn, spec, external_id=None)
    rule = shop.rules[int(ack.external_id)]
    rule.update(value="-25.0", ends_at=None, entitled_variant_ids=[44120338022, 1])

    offer = channel.read_back(conn, ack.external_id).offer

    assert offer_differences(spec=spec, offer=offer) == [
        "amount: the channel shows 25, the approved version 15",
        "skus: the channel shows BOOT-BLK-42, variant 1 (deleted), the approved version BOOT-BLK-42, BOOT-BLK-43",
        "ends at: the channel shows none, the approved version 2026-12-01T05:00:00+00:00",
    ]


def test_pause_ends_the_rule_now_and_resume_restores_the_window(conn, shop):
    channel = channel_adapter_for("shopify")
    ack = channel.publish(
        conn, promotion(starts_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), ends_at=None), external_id=None
    )

    paused = channel.pause(conn, ack.external_id)
    rule = shop.rules[int(ack.external_id)]
    assert paused.state == "paused" and paused.version == 1
    assert rule["title"] == "Winter boots [promo-42 v1 paused ends=open]"
    assert dt.datetime.fromisoformat(rule["ends_at"]) <= dt.datetime.now(dt.UTC)
    assert channel.pause(conn, ack.external_id).state == "paused"  # pausing twice changes nothing

    resumed = channel.resume(conn, ack.external_id)
    assert (resumed.state, resumed.version) == ("active", 1)
    assert (rule["ends_at"], rule["title"]) == (None, "Winter boots [promo-42 v1]")


def test_pause_before_the_start_moves_the_start_back_and_resume_restores_both(conn, shop):
    channel = channel_adapter_for("shopify")
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    ack = channel.publish(conn, promotion(starts_at=starts, ends_at=starts + dt.timedelta(days=7)), external_id=None)
    rule = shop.rules[int(ack.external_id)]

    channel.pause(conn, ack.external_id)
    assert dt.datetime.fromisoformat(rule["starts_at"]) < dt.datetime.fromisoformat(rule["ends_at"])
    assert dt.datetime.fromisoformat(rule["ends_at"]) <= dt.datetime.now(dt.UTC)

    channel.resume(conn, ack.external_id)
    assert rule["starts_at"] == starts.isoformat()
    assert rule["ends_at"] == (starts + dt.timedelta(days=7)).isoformat()


def test_remove_deletes_the_rule_and_is_idempotent(conn, shop):
    channel = channel_adapter_for("shopify")
    ack = channel.publish(conn, promotion(), external_id=None)

    assert channel.remove(conn, ack.external_id).state == "absent"
    assert channel.remove(conn, ack.external_id).state == "absent"
    assert shop.rules == {}


def test_unknown_sku_is_rejected_by_name_before_anything_is_written(conn, shop):
    with pytest.raises(ChannelRejected, match="Shopify has no product with SKU NOPE-1") as caught:
        channel_adapter_for("shopify").publish(conn, promotion(skus=("BOOT-BLK-42", "NOPE-1")), external_id=None)

    assert caught.value.detail == {"unknown_skus": ["NOPE-1"]}
    assert shop.rules == {}


def test_vendor_422_becomes_channel_rejected_with_shopifys_message(conn, shop):
    shop.reject_next = fixture("shopify", "channel_price_rule_422.json")

    with pytest.raises(ChannelRejected) as caught:
        channel_adapter_for("shopify").publish(conn, promotion(), external_id=None)

    assert caught.value.message == (
        "Shopify refused to save price rule promo-42 v1: value must be less than or equal to 0; "
        "ends_at must be after starts_at"
    )
    assert caught.value.detail["status_code"] == 422


def test_auth_failure_stays_a_connectors_error(conn, shop):
    shop.graphql_answer = httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})

    with pytest.raises(AuthFailed):
        channel_adapter_for("shopify").publish(conn, promotion(), external_id=None)


def test_graphql_throttling_is_a_rate_limit_not_a_rejection(conn, shop):
    shop.graphql_answer = httpx.Response(
        200, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    )

    with pytest.raises(RateLimited):
        channel_adapter_for("shopify").publish(conn, promotion(), external_id=None)


def test_unsupported_kinds_and_features_are_listed_and_refused(conn, shop):
    channel = channel_adapter_for("shopify")
    spec = promotion(kind="bundle", categories=("shoes",), location_ids=("65432109876",))

    assert channel.unsupported(spec) == [
        "shopify cannot express a bundle promotion",
        "Shopify discounts target variants or collections, not categories",
        "Shopify price rules apply to the online store as a whole, not to chosen locations",
    ]
    assert channel.unsupported(promotion(kind="fixed_price")) == ["shopify cannot express a fixed price promotion"]
    with pytest.raises(ChannelUnsupported):
        channel.publish(conn, spec, external_id=None)
    assert shop.calls == []


def test_amount_off_buy_x_get_y_and_free_shipping_bodies(conn, shop):
    channel = channel_adapter_for("shopify")
    channel.publish(conn, promotion(kind="amount_off", value=Decimal("10.005")), external_id=None)
    channel.publish(
        conn,
        promotion(key="promo-43", kind="buy_x_get_y", value=Decimal("100"), buy_quantity=2, get_quantity=1),
        external_id=None,
    )
    channel.publish(
        conn,
        promotion(key="promo-44", kind="free_shipping", value=Decimal(0), skus=(), coupon_codes=("SHIPFREE",)),
        external_id=None,
    )

    amount, bxgy, shipping = (shop.rules[rule_id] for rule_id in sorted(shop.rules))
    assert (amount["value_type"], amount["value"], amount["allocation_method"]) == ("fixed_amount", "-10.01", "each")
    assert bxgy["prerequisite_variant_ids"] == [44120338022, 44120338055]
    assert bxgy["prerequisite_to_entitlement_quantity_ratio"] == {"prerequisite_quantity": 2, "entitled_quantity": 1}
    assert (bxgy["value"], bxgy["allocation_method"]) == ("-100", "each")
    assert (shipping["target_type"], shipping["target_selection"], shipping["value"]) == (
        "shipping_line",
        "all",
        "-100.0",
    )
    assert shop.codes[max(shop.rules)][0]["code"] == "SHIPFREE"


def test_amount_off_in_another_currency_than_the_shop_is_refused(conn, shop):
    shop.currency = "EUR"

    with pytest.raises(ChannelRejected, match="sells in EUR, not USD"):
        channel_adapter_for("shopify").publish(conn, promotion(kind="amount_off", value=Decimal(10)), external_id=None)
    assert shop.rules == {}


def test_prices_update_each_variant_and_return_what_shopify_shows(conn, shop):
    spec = PriceSpec(
        key="prices-3",
        version=2,
        currency="USD",
        starts_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        prices={"BOOT-BLK-42": Decimal("119.5"), "BOOT-BLK-43": Decimal("124.999")},
    )

    shown = channel_adapter_for("shopify").publish_prices(conn, spec)

    assert shown == {"BOOT-BLK-42": Decimal("119.50"), "BOOT-BLK-43": Decimal("125.00")}
    puts = [(path, body) for method, path, body in shop.calls if method == "PUT"]
    assert puts == [
        ("/admin/api/2025-07/variants/44120338022.json", {"variant": {"id": 44120338022, "price": "119.50"}}),
        ("/admin/api/2025-07/variants/44120338055.json", {"variant": {"id": 44120338055, "price": "125.00"}}),
    ]


def test_a_price_list_that_starts_later_is_not_applied_early(conn, shop):
    spec = PriceSpec("prices-3", 2, "USD", dt.datetime.now(dt.UTC) + dt.timedelta(days=2), {"BOOT-BLK-42": Decimal(1)})

    with pytest.raises(ChannelRejected, match="cannot schedule a price"):
        channel_adapter_for("shopify").publish_prices(conn, spec)
    assert shop.calls == []


def test_inventory_push_sets_levels_by_inventory_item_and_reads_them_back(conn, shop):
    shown = channel_adapter_for("shopify").push_available(
        conn, {("BOOT-BLK-42", "65432109876"): Decimal(7), ("BOOT-BLK-43", "65432109876"): Decimal(-2)}
    )

    assert shown == {("BOOT-BLK-42", "65432109876"): Decimal(7), ("BOOT-BLK-43", "65432109876"): Decimal(0)}
    sets = [body for method, path, body in shop.calls if path.endswith("inventory_levels/set.json")]
    assert sets == [
        {"location_id": 65432109876, "inventory_item_id": 46221093110, "available": 7},
        {"location_id": 65432109876, "inventory_item_id": 46221093143, "available": 0},
    ]


def test_inventory_refuses_fractions_and_unknown_locations(conn, shop):
    channel = channel_adapter_for("shopify")
    with pytest.raises(ChannelRejected, match="not a whole quantity"):
        channel.push_available(conn, {("BOOT-BLK-42", "65432109876"): Decimal("1.5")})
    with pytest.raises(ChannelRejected, match="location ids are numbers"):
        channel.push_available(conn, {("BOOT-BLK-42", "web"): Decimal(1)})
    assert shop.calls == []
