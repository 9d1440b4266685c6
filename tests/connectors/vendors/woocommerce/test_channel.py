"""WooCommerce channel contract: REST wc/v3 coupons, products (search by SKU, batch update) and the
store currency (shapes: tests/fixtures/woocommerce/channel_*.json)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from decimal import Decimal

import httpx
import pytest
import respx
from django.utils import timezone

from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelRejected, ChannelUnsupported, PriceSpec
from core.http.client import VendorTimeout
from promotions.accuracy import offer_differences
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture
from tests.connectors.vendors.conftest import promotion

API = "https://shop.example.co.uk/wp-json/wc/v3"

pytestmark = pytest.mark.usefixtures("no_waiting")


class FakeWoo:
    def __init__(self, router: respx.Router) -> None:
        self.coupons: dict[int, dict] = {}
        self.products = {product["id"]: product for product in fixture("woocommerce", "channel_products_by_sku.json")}
        self.next_id = 719
        self.reject_next: dict | None = None
        self.batch_answer: dict | None = None
        self.timeout = False
        self.calls: list[tuple[str, str, dict | None]] = []
        r = router
        r.get(f"{API}/products").mock(side_effect=self.products_search)
        r.get(f"{API}/data/currencies/current").mock(
            side_effect=lambda request: httpx.Response(200, json=fixture("woocommerce", "channel_currency.json"))
        )
        r.post(f"{API}/coupons").mock(side_effect=self.coupon_create)
        coupon = re.escape(API) + r"/coupons/(?P<coupon_id>\d+)(?:\?.*)?$"
        r.route(method="GET", url__regex=coupon).mock(side_effect=self.coupon_get)
        r.route(method="PUT", url__regex=coupon).mock(side_effect=self.coupon_update)
        r.route(method="DELETE", url__regex=coupon).mock(side_effect=self.coupon_delete)
        r.post(f"{API}/products/batch").mock(side_effect=self.products_batch)

    def record(self, request: httpx.Request) -> dict | None:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        return body

    def products_search(self, request):
        self.record(request)
        if self.timeout:
            raise httpx.ReadTimeout("timed out", request=request)
        if "include" in request.url.params:  # by id: a deleted product is simply not in the answer
            ids = {int(pk) for pk in request.url.params["include"].split(",")}
            return httpx.Response(200, json=[p for p in self.products.values() if p["id"] in ids])
        wanted = set(request.url.params["sku"].split(","))
        return httpx.Response(200, json=[p for p in self.products.values() if p["sku"] in wanted])

    def coupon_create(self, request):
        body = self.record(request)
        if self.reject_next is not None:
            answer, self.reject_next = self.reject_next, None
            return httpx.Response(400, json=answer)
        coupon = copy.deepcopy(fixture("woocommerce", "channel_coupon.json"))
        coupon.update(body, id=self.next_id, code=body["code"].lower())  # WooCommerce keeps codes lower case
        self.coupons[self.next_id] = coupon
        self.next_id += 1
        return httpx.Response(201, json=coupon)

    def coupon_get(self, request, coupon_id):
        self.record(request)
        coupon = self.coupons.get(int(coupon_id))
        if coupon is None:
            return httpx.Response(
                404, json={"code": "woocommerce_rest_shop_coupon_invalid_id", "message": "Invalid ID.", "data": {}}
            )
        return httpx.Response(200, json=coupon)

    def coupon_update(self, request, coupon_id):
        body = self.record(request)
        self.coupons[int(coupon_id)].update(body)
        return httpx.Response(200, json=self.coupons[int(coupon_id)])

    def coupon_delete(self, request, coupon_id):
        self.record(request)
        assert request.url.params["force"] == "true"
        coupon = self.coupons.pop(int(coupon_id), None)
        if coupon is None:
            return httpx.Response(404, json={"code": "woocommerce_rest_shop_coupon_invalid_id", "message": "x"})
        return httpx.Response(200, json=coupon)

    def products_batch(self, request):
        body = self.record(request)
        if self.batch_answer is not None:
            return httpx.Response(200, json=self.batch_answer)
        saved = []
        for update in body["update"]:
            product = self.products[update["id"]]
            product.update(update)
            if "regular_price" in update:
                product["price"] = product["sale_price"] or update["regular_price"]
            saved.append(product)
        return httpx.Response(200, json={"update": saved})


@pytest.fixture
def conn():
    return ConnectionFactory.build(
        id=8,
        vendor="woocommerce",
        config={"store_url": "https://shop.example.co.uk"},
        secrets={"credentials": {"consumer_key": "ck_live_0123456789", "consumer_secret": "cs_live_9876543210"}},
    )


@pytest.fixture
def woo():
    with respx.mock(assert_all_called=False) as router:
        yield FakeWoo(router)


def test_publish_new_creates_a_coupon_tagged_with_key_and_version(conn, woo):
    spec = promotion(min_spend=Decimal("40"), usage_limit=200, exclusive=True, currency="GBP")

    ack = channel_adapter_for("woocommerce").publish(conn, spec, external_id=None)

    assert (ack.external_id, ack.version, ack.state) == ("719", 1, "active")
    coupon = woo.coupons[719]
    assert {key: coupon[key] for key in ("code", "discount_type", "amount", "product_ids", "status")} == {
        "code": "winter15",
        "discount_type": "percent",
        "amount": "15",
        "product_ids": [794, 795],
        "status": "publish",
    }
    assert (coupon["minimum_amount"], coupon["usage_limit"], coupon["individual_use"]) == ("40.00", 200, True)
    assert coupon["date_expires_gmt"] == "2026-12-01T05:00:00"
    assert coupon["description"] == "Winter boots [promo-42 v1]"
    assert coupon["meta_data"] == [
        {"key": "tillbridge_promotion", "value": "promo-42"},
        {"key": "tillbridge_version", "value": "1"},
    ]


def test_publish_update_puts_the_new_version_on_the_same_coupon(conn, woo):
    channel = channel_adapter_for("woocommerce")
    first = channel.publish(conn, promotion(), external_id=None)

    second = channel.publish(conn, promotion(version=2, value=Decimal("20")), external_id=first.external_id)

    assert (second.external_id, second.version, second.state) == ("719", 2, "active")
    assert (woo.coupons[719]["amount"], len(woo.coupons)) == ("20", 1)


def test_read_back_reports_the_version_and_a_missing_coupon_as_absent(conn, woo):
    channel = channel_adapter_for("woocommerce")
    ack = channel.publish(conn, promotion(version=4), external_id=None)

    assert channel.read_back(conn, ack.external_id).version == 4
    assert channel.read_back(conn, "999").state == "absent"


def test_read_back_reports_the_coupons_terms_with_its_products_skus(conn, woo):
    channel = channel_adapter_for("woocommerce")
    spec = promotion(currency="GBP", min_spend=Decimal("50"), starts_at=timezone.now() - dt.timedelta(hours=1))
    ack = channel.publish(conn, spec, external_id=None)

    offer = channel.read_back(conn, ack.external_id).offer

    assert (offer.kind, offer.value, offer.starts_at, offer.unreported) == (
        "percent_off",
        Decimal("15"),
        None,
        frozenset({"starts_at"}),
    )
    assert offer.eligibility == {
        "skus": ("BOOT-BLK-42", "BOOT-BLK-43"),
        "categories": (),
        "coupon_codes": ("winter15",),
        "min_spend": Decimal("50.00"),
    }
    assert offer_differences(spec=spec, offer=offer) == []


def test_read_back_shows_a_coupon_edited_in_the_store_admin(conn, woo):
    channel = channel_adapter_for("woocommerce")
    spec = promotion(starts_at=timezone.now() - dt.timedelta(hours=1))
    ack = channel.publish(conn, spec, external_id=None)
    woo.coupons[int(ack.external_id)].update(discount_type="fixed_cart", amount="5.00", minimum_amount="20.00")
    woo.products.pop(795)  # BOOT-BLK-43 deleted from the store

    offer = channel.read_back(conn, ack.external_id).offer

    assert offer_differences(spec=spec, offer=offer) == [
        "type: the channel shows amount off, the approved version percent off",
        "min spend: the channel shows 20, the approved version none",
        "skus: the channel shows BOOT-BLK-42, product 795 (deleted), the approved version BOOT-BLK-42, BOOT-BLK-43",
    ]


def test_pause_drafts_the_coupon_and_resume_publishes_it(conn, woo):
    channel = channel_adapter_for("woocommerce")
    ack = channel.publish(conn, promotion(), external_id=None)

    assert channel.pause(conn, ack.external_id).state == "paused"
    assert woo.coupons[719]["status"] == "draft"
    assert channel.resume(conn, ack.external_id).state == "active"
    assert woo.coupons[719]["status"] == "publish"


def test_a_promotion_that_starts_later_waits_as_a_draft(conn, woo):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)

    ack = channel_adapter_for("woocommerce").publish(conn, promotion(starts_at=later, ends_at=None), external_id=None)

    assert (ack.state, woo.coupons[719]["status"]) == ("paused", "draft")


def test_remove_deletes_the_coupon_for_good_and_is_idempotent(conn, woo):
    channel = channel_adapter_for("woocommerce")
    ack = channel.publish(conn, promotion(), external_id=None)

    assert channel.remove(conn, ack.external_id).state == "absent"
    assert channel.remove(conn, ack.external_id).state == "absent"
    assert woo.coupons == {}


def test_unknown_sku_is_rejected_by_name(conn, woo):
    with pytest.raises(ChannelRejected, match="WooCommerce has no product with SKU GHOST-9"):
        channel_adapter_for("woocommerce").publish(conn, promotion(skus=("GHOST-9", "BOOT-BLK-42")), external_id=None)
    assert woo.coupons == {}


def test_vendor_400_becomes_channel_rejected_with_woocommerces_message(conn, woo):
    woo.reject_next = fixture("woocommerce", "channel_coupon_400.json")

    with pytest.raises(ChannelRejected) as caught:
        channel_adapter_for("woocommerce").publish(conn, promotion(), external_id=None)

    assert caught.value.message == (
        "WooCommerce refused to save coupon WINTER15 (promo-42 v1): The coupon code already exists"
    )


def test_timeouts_stay_connectors_errors(conn, woo):
    woo.timeout = True

    with pytest.raises(VendorTimeout):
        channel_adapter_for("woocommerce").publish(conn, promotion(), external_id=None)


def test_unsupported_kinds_and_features_are_listed_and_refused(conn, woo):
    channel = channel_adapter_for("woocommerce")
    spec = promotion(kind="buy_x_get_y", collections=("411",), coupon_codes=("A", "B"))

    assert channel.unsupported(spec) == [
        "woocommerce cannot express a buy x get y promotion",
        "WooCommerce has no collections; use product categories",
        "a WooCommerce coupon has exactly one code",
    ]
    with pytest.raises(ChannelUnsupported):
        channel.publish(conn, spec, external_id=None)
    assert woo.calls == []


def test_amount_off_and_free_shipping_coupons(conn, woo):
    channel = channel_adapter_for("woocommerce")
    channel.publish(conn, promotion(kind="amount_off", value=Decimal("5.5"), currency="GBP"), external_id=None)
    channel.publish(
        conn,
        promotion(key="promo-7", kind="amount_off", value=Decimal(5), currency="GBP", skus=(), coupon_codes=()),
        external_id=None,
    )
    channel.publish(
        conn,
        promotion(key="promo-8", kind="free_shipping", value=Decimal(0), skus=(), coupon_codes=()),
        external_id=None,
    )

    per_item, cart, shipping = (woo.coupons[coupon_id] for coupon_id in sorted(woo.coupons))
    assert (per_item["discount_type"], per_item["amount"]) == ("fixed_product", "5.50")
    assert (cart["discount_type"], cart["amount"], cart["code"]) == ("fixed_cart", "5.00", "promo-7")
    assert (shipping["free_shipping"], shipping["amount"]) == (True, "0")


def test_money_in_another_currency_than_the_store_is_refused(conn, woo):
    with pytest.raises(ChannelRejected, match="sells in GBP, not USD"):
        channel_adapter_for("woocommerce").publish(
            conn, promotion(kind="amount_off", value=Decimal(5)), external_id=None
        )


def test_prices_set_regular_price_and_return_the_price_the_shop_shows(conn, woo):
    spec = PriceSpec(
        "prices-3",
        1,
        "GBP",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        {"BOOT-BLK-42": Decimal("119.5"), "BOOT-BLK-43": Decimal("139")},
    )

    shown = channel_adapter_for("woocommerce").publish_prices(conn, spec)

    # BOOT-BLK-43 has a sale price of 99.00 running in the shop: that is what customers see.
    assert shown == {"BOOT-BLK-42": Decimal("119.50"), "BOOT-BLK-43": Decimal("99.00")}
    batch = [body for method, path, body in woo.calls if path.endswith("/products/batch")]
    assert batch == [{"update": [{"id": 794, "regular_price": "119.50"}, {"id": 795, "regular_price": "139.00"}]}]


def test_batch_item_errors_become_channel_rejected(conn, woo):
    woo.batch_answer = fixture("woocommerce", "channel_products_batch_error.json")
    spec = PriceSpec("p", 1, "GBP", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), {"BOOT-BLK-43": Decimal(1)})

    with pytest.raises(ChannelRejected, match="product 795: Invalid ID"):
        channel_adapter_for("woocommerce").publish_prices(conn, spec)


def test_inventory_push_manages_stock_and_reads_the_quantity_back(conn, woo):
    shown = channel_adapter_for("woocommerce").push_available(
        conn, {("BOOT-BLK-42", "web"): Decimal(3), ("BOOT-BLK-43", "web"): Decimal(11)}
    )

    assert shown == {("BOOT-BLK-42", "web"): Decimal(3), ("BOOT-BLK-43", "web"): Decimal(11)}
    assert (woo.products[795]["manage_stock"], woo.products[795]["stock_quantity"]) == (True, 11)


def test_inventory_for_two_locations_of_one_sku_is_refused(conn, woo):
    with pytest.raises(ChannelRejected, match="one stock figure per product"):
        channel_adapter_for("woocommerce").push_available(
            conn, {("BOOT-BLK-42", "web"): Decimal(3), ("BOOT-BLK-42", "shop"): Decimal(1)}
        )
    assert woo.calls == []
