"""Shopify automatic discounts (a promotion without coupon codes) through the Admin GraphQL
`discountAutomatic*` mutations: the bodies sent, the read-back, pause/resume, removal, userErrors."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import respx

from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelRejected
from promotions.accuracy import offer_differences
from tests.connectors.factories import ConnectionFactory
from tests.connectors.vendors.conftest import promotion
from tests.connectors.vendors.shopify.test_channel import FakeShop

pytestmark = pytest.mark.usefixtures("no_waiting")

V42, V43 = "gid://shopify/ProductVariant/44120338022", "gid://shopify/ProductVariant/44120338055"
_TYPES = {
    "Basic": "DiscountAutomaticBasic",
    "Bxgy": "DiscountAutomaticBxgy",
    "FreeShipping": "DiscountAutomaticFreeShipping",
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class FakeAutomaticShop(FakeShop):
    """The FakeShop plus automatic discounts kept the way the Admin GraphQL API keeps them."""

    def __init__(self, router: respx.Router) -> None:
        super().__init__(router)
        self.discounts: dict[str, dict] = {}
        self.user_errors_next: list[dict] | None = None
        self.mutations: list[tuple[str, dict]] = []
        self.next_node = 1057371720

    def graphql(self, request):
        query = json.loads(request.content)["query"]
        if "automaticDiscountNode(id" not in query and "mutation" not in query:
            return super().graphql(request)
        body = self.record(request)
        variables = body["variables"]
        if "mutation" not in query:
            found = self.discounts.get(variables["id"])
            return self.ok({"data": {"automaticDiscountNode": self.node(variables["id"]) if found else None}})
        name = re.search(r"(discountAutomatic\w+)\(", query).group(1)
        self.mutations.append((name, variables))
        if self.user_errors_next is not None:
            errors, self.user_errors_next = self.user_errors_next, None
            return self.ok({"data": {name: {"automaticDiscountNode": None, "userErrors": errors}}})
        return self.ok({"data": {name: self.apply(name, variables)}})

    def apply(self, name: str, variables: dict) -> dict:
        action = re.match(r"discountAutomatic(Basic|Bxgy|FreeShipping)?(\w+)$", name)
        kind, verb = action.group(1), action.group(2)
        node_id = variables.get("id")
        if verb == "Create":
            node_id = f"gid://shopify/DiscountAutomaticNode/{self.next_node}"
            self.next_node += 1
            self.discounts[node_id] = {"__typename": _TYPES[kind], "variants": []}
        if node_id not in self.discounts:
            return {"userErrors": [{"field": ["id"], "code": "INVALID", "message": "Discount does not exist"}]}
        if verb == "Delete":
            del self.discounts[node_id]
            return {"deletedAutomaticDiscountId": node_id, "userErrors": []}
        stored = self.discounts[node_id]
        if verb == "Activate":
            stored.update(startsAt=_now(), endsAt=None)
        elif verb == "Deactivate":
            stored["endsAt"] = _now()
        else:
            given = next(value for key, value in variables.items() if key != "id")
            for side in ("customerGets", "customerBuys"):
                products = ((given.get(side) or {}).get("items") or {}).get("products") or {}
                kept = [gid for gid in stored["variants"] if gid not in products.get("productVariantsToRemove", [])]
                stored["variants"] = kept + [gid for gid in products.get("productVariantsToAdd", []) if gid not in kept]
            stored.update(given)
        return {"automaticDiscountNode": {"id": node_id}, "userErrors": []}

    def items(self, given: dict, stored: dict) -> dict:
        if "products" in given:
            skus = {node["id"]: node["sku"] for node in self.variants}
            nodes = [{"id": gid, "sku": skus[gid]} for gid in stored["variants"]]
            return {"__typename": "DiscountProducts", "productVariants": {"nodes": nodes}}
        if "collections" in given:
            nodes = [{"id": gid} for gid in given["collections"]["add"]]
            return {"__typename": "DiscountCollections", "collections": {"nodes": nodes}}
        return {"__typename": "AllDiscountItems", "allItems": True}

    def node(self, node_id: str) -> dict:
        """The stored discount in the shape the read query asks for."""
        stored = self.discounts[node_id]
        starts, ends, now = stored["startsAt"], stored.get("endsAt"), dt.datetime.now(dt.UTC)
        status = "SCHEDULED" if dt.datetime.fromisoformat(starts) > now else "ACTIVE"
        if ends and dt.datetime.fromisoformat(ends) <= now:
            status = "EXPIRED"
        read = {key: stored.get(key) for key in ("__typename", "title", "startsAt", "endsAt")} | {"status": status}
        minimum = (stored.get("minimumRequirement") or {}).get("subtotal")
        read["minimumRequirement"] = (
            {"greaterThanOrEqualToSubtotal": {"amount": minimum["greaterThanOrEqualToSubtotal"]}} if minimum else None
        )
        gets = stored.get("customerGets")
        if gets:
            value = gets["value"]
            if "discountAmount" in value:
                amount = value["discountAmount"]
                value = {"amount": {"amount": amount["amount"]}, "appliesOnEachItem": amount["appliesOnEachItem"]}
            elif "discountOnQuantity" in value:
                on = value["discountOnQuantity"]
                value = {"quantity": {"quantity": on["quantity"]}, "effect": on["effect"]}
            read["customerGets"] = {"value": value, "items": self.items(gets["items"], stored)}
        buys = stored.get("customerBuys")
        if buys:
            read["customerBuys"] = {"value": buys["value"], "items": self.items(buys["items"], stored)}
        return {"id": node_id, "automaticDiscount": read}


@pytest.fixture
def conn():
    return ConnectionFactory.build(id=7, vendor="shopify")


@pytest.fixture
def shop():
    with respx.mock(assert_all_called=False) as router:
        yield FakeAutomaticShop(router)


def codeless(**changes):
    return promotion(coupon_codes=(), **changes)


def test_a_promotion_without_code_is_an_automatic_basic_discount_not_a_price_rule(conn, shop):
    spec = codeless(min_spend=Decimal("50"))

    ack = channel_adapter_for("shopify").publish(conn, spec, external_id=None)

    assert (ack.external_id, ack.version, ack.state) == ("gid://shopify/DiscountAutomaticNode/1057371720", 1, "active")
    assert shop.rules == {}
    assert shop.mutations == [
        (
            "discountAutomaticBasicCreate",
            {
                "automaticBasicDiscount": {
                    "title": "Winter boots [promo-42 v1]",
                    "startsAt": "2026-11-20T05:00:00+00:00",
                    "endsAt": "2026-12-01T05:00:00+00:00",
                    "combinesWith": {"productDiscounts": True, "orderDiscounts": True, "shippingDiscounts": True},
                    "customerGets": {
                        "value": {"percentage": 0.15},
                        "items": {"products": {"productVariantsToAdd": [V42, V43]}},
                    },
                    "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "50.00"}},
                }
            },
        )
    ]
    assert offer_differences(spec=spec, offer=ack.offer) == []


def test_an_update_writes_the_same_discount_and_removes_variants_left_out(conn, shop):
    channel = channel_adapter_for("shopify")
    first = channel.publish(conn, codeless(), external_id=None)

    second = channel.publish(
        conn,
        codeless(version=2, value=Decimal(20), skus=("BOOT-BLK-42",), exclusive=True),
        external_id=first.external_id,
    )

    assert (second.external_id, second.version) == (first.external_id, 2)
    name, variables = shop.mutations[-1]
    assert (name, variables["id"]) == ("discountAutomaticBasicUpdate", first.external_id)
    gets = variables["automaticBasicDiscount"]["customerGets"]
    assert gets == {
        "value": {"percentage": 0.2},
        "items": {"products": {"productVariantsToAdd": [V42], "productVariantsToRemove": [V43]}},
    }
    assert variables["automaticBasicDiscount"]["combinesWith"] == {
        "productDiscounts": False,
        "orderDiscounts": False,
        "shippingDiscounts": False,
    }
    assert second.offer.eligibility["skus"] == ("BOOT-BLK-42",)
    assert len(shop.discounts) == 1


def test_amount_off_buy_x_get_y_and_free_shipping_mutations(conn, shop):
    channel = channel_adapter_for("shopify")
    amount = channel.publish(conn, codeless(kind="amount_off", value=Decimal("10.005"), skus=()), external_id=None)
    bxgy_spec = codeless(key="promo-43", kind="buy_x_get_y", value=Decimal(100), buy_quantity=2, get_quantity=1)
    bxgy = channel.publish(conn, bxgy_spec, external_id=None)
    shipping_spec = codeless(key="promo-44", kind="free_shipping", value=Decimal(0), skus=(), min_spend=Decimal(75))
    shipping = channel.publish(conn, shipping_spec, external_id=None)

    (amount_name, amount_vars), (bxgy_name, bxgy_vars), (ship_name, ship_vars) = shop.mutations
    assert amount_name == "discountAutomaticBasicCreate"
    assert amount_vars["automaticBasicDiscount"]["customerGets"] == {
        "value": {"discountAmount": {"amount": "10.01", "appliesOnEachItem": False}},
        "items": {"all": True},
    }
    assert bxgy_name == "discountAutomaticBxgyCreate"
    items = {"products": {"productVariantsToAdd": [V42, V43]}}
    assert bxgy_vars["automaticBxgyDiscount"]["customerBuys"] == {"value": {"quantity": "2"}, "items": items}
    assert bxgy_vars["automaticBxgyDiscount"]["customerGets"] == {
        "value": {"discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}},
        "items": items,
    }
    assert ship_name == "discountAutomaticFreeShippingCreate"
    assert ship_vars["freeShippingAutomaticDiscount"]["destination"] == {"all": True}
    assert ship_vars["freeShippingAutomaticDiscount"]["minimumRequirement"] == {
        "subtotal": {"greaterThanOrEqualToSubtotal": "75.00"}
    }
    assert (amount.offer.kind, amount.offer.value) == ("amount_off", Decimal("10.01"))
    assert offer_differences(spec=bxgy_spec, offer=bxgy.offer) == []
    assert offer_differences(spec=shipping_spec, offer=shipping.offer) == []


def test_pause_deactivates_and_resume_activates_and_restores_the_window(conn, shop):
    channel = channel_adapter_for("shopify")
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    spec = codeless(starts_at=starts, ends_at=starts + dt.timedelta(days=7))
    ack = channel.publish(conn, spec, external_id=None)

    paused = channel.pause(conn, ack.external_id)
    stored = shop.discounts[ack.external_id]
    assert (paused.state, paused.version) == ("paused", 1)
    assert [name for name, _ in shop.mutations[1:]] == ["discountAutomaticBasicUpdate", "discountAutomaticDeactivate"]
    assert stored["title"] == (
        f"Winter boots [promo-42 v1 paused starts={starts.isoformat()} ends={spec.ends_at.isoformat()}]"
    )
    assert dt.datetime.fromisoformat(stored["endsAt"]) <= dt.datetime.now(dt.UTC)
    assert channel.pause(conn, ack.external_id).state == "paused"  # twice: nothing more is sent
    assert len(shop.mutations) == 3

    resumed = channel.resume(conn, ack.external_id)
    assert (resumed.state, resumed.version) == ("active", 1)
    assert [name for name, _ in shop.mutations[3:]] == ["discountAutomaticActivate", "discountAutomaticBasicUpdate"]
    assert (stored["startsAt"], stored["endsAt"], stored["title"]) == (
        starts.isoformat(),
        spec.ends_at.isoformat(),
        "Winter boots [promo-42 v1]",
    )
    assert offer_differences(spec=spec, offer=resumed.offer) == []


def test_remove_deletes_the_discount_and_is_idempotent(conn, shop):
    channel = channel_adapter_for("shopify")
    ack = channel.publish(conn, codeless(), external_id=None)

    assert channel.remove(conn, ack.external_id).state == "absent"
    assert channel.remove(conn, ack.external_id).state == "absent"
    assert [name for name, _ in shop.mutations] == ["discountAutomaticBasicCreate", "discountAutomaticDelete"]
    assert channel.read_back(conn, ack.external_id).state == "absent"


def test_user_errors_are_a_channel_rejection_in_shopifys_words(conn, shop):
    shop.user_errors_next = [
        {"field": ["automaticBasicDiscount", "endsAt"], "code": "INVALID", "message": "must be after starts at"}
    ]

    with pytest.raises(ChannelRejected) as caught:
        channel_adapter_for("shopify").publish(conn, codeless(), external_id=None)

    assert caught.value.message == (
        "Shopify refused to save automatic discount promo-42 v1: automaticBasicDiscount.endsAt: must be after starts at"
    )
    assert shop.discounts == {}


def test_a_price_rule_whose_codes_were_dropped_becomes_an_automatic_discount(conn, shop):
    channel = channel_adapter_for("shopify")
    rule = channel.publish(conn, promotion(), external_id=None)

    again = channel.publish(conn, codeless(version=2), external_id=rule.external_id)

    assert again.external_id.startswith("gid://shopify/DiscountAutomaticNode/")
    assert shop.rules == {}
    back = channel.publish(conn, promotion(version=3), external_id=again.external_id)
    assert (back.version, shop.discounts) == (3, {})


def test_an_automatic_discount_cannot_carry_a_usage_limit(conn, shop):
    assert channel_adapter_for("shopify").unsupported(codeless(usage_limit=100)) == [
        "Shopify automatic discounts (no code) have no usage limit; give the promotion a code"
    ]
