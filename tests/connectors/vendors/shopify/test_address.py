"""The Shopify order's shipping address, as the warehouse request carries it (sample: sdk_order.json)."""

from commerce.documents import ShipToDoc
from connectors.vendors import adapter_for_vendor
from connectors.vendors.shopify.address import order_ship_to
from connectors.vendors.shopify.normalise import ship_to
from tests.connectors.helpers import fixture

BOB = ShipToDoc(
    name="Bob Norman",
    street1="Chestnut Street 92",
    city="Louisville",
    state="KY",
    postal_code="40202",
    country="US",
    phone="555-625-1199",
)


def test_the_sample_order_shipping_address():
    assert order_ship_to(fixture("shopify", "sdk_order.json")["order"]) == BOB


def test_a_saved_api_resource_and_a_webhook_body_give_the_same_address_through_the_adapter():
    saved = fixture("shopify", "sdk_order.json")
    assert ship_to(topic="orders/updated", payload=saved) == BOB
    assert adapter_for_vendor("shopify").ship_to(topic="orders/paid", payload=saved["order"]) == BOB


def test_no_shipping_address_or_not_an_order_is_none():
    order = dict(fixture("shopify", "sdk_order.json")["order"], shipping_address=None)
    assert order_ship_to(order) is None
    assert order_ship_to({"shipping_address": {"name": "Bob", "country_code": "US"}}) is None
    assert ship_to(topic="refunds/create", payload=fixture("shopify", "sdk_order.json")["order"]) is None
    assert ship_to(topic="orders/paid", payload=[]) is None
