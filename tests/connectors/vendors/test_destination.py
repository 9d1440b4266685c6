"""Every storefront normaliser fills the order's ship-to country and region (routing rules match on
them), from each vendor's own sample where it carries one."""

import copy

from connectors.vendors.common import destination
from connectors.vendors.shopify.normalise import order_normalise as shopify_order
from connectors.vendors.square.normalise import order_normalise as square_order
from connectors.vendors.woocommerce.normalise import order_normalise as woo_order
from tests.connectors.helpers import fixture


def test_shopify_takes_the_shipping_address_codes():
    order = shopify_order(fixture("shopify", "sdk_order.json")["order"])
    assert (order.ship_country, order.ship_region) == ("US", "KY")


def test_woocommerce_takes_the_shipping_country_and_state():
    order = woo_order(fixture("woocommerce", "docs_order_727.json"))
    assert (order.ship_country, order.ship_region) == ("US", "CA")


def test_square_takes_the_first_shipment_recipient_address():
    payload = copy.deepcopy(fixture("square", "order.json")["order"])
    assert (square_order(payload).ship_country, square_order(payload).ship_region) == ("", "")
    payload["fulfillments"] = [
        {"type": "PICKUP", "pickup_details": {}},
        {
            "type": "SHIPMENT",
            "shipment_details": {
                "recipient": {"address": {"country": "JP", "administrative_district_level_1": "Tokyo"}}
            },
        },
    ]
    order = square_order(payload)
    assert (order.ship_country, order.ship_region) == ("JP", "TOKYO")


def test_anything_but_a_two_letter_country_is_no_destination():
    assert destination("United States", "KY") == {"ship_country": "", "ship_region": ""}
    assert destination(None, None) == {"ship_country": "", "ship_region": ""}
    assert destination("gb", "a-region-name-too-long") == {"ship_country": "GB", "ship_region": ""}
