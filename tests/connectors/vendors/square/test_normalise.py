import datetime as dt
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalOrder, DiscountDoc, OrderLineDoc, PaymentDoc, ShipToDoc, TaxLineDoc
from commerce.models import Order, Payout, Refund
from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.vendors import adapter_for_vendor
from connectors.vendors.base import NormaliseError
from connectors.vendors.square.normalise import order_normalise, refund_normalise, ship_to
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes, square_headers

KEY = "sq-signature-key-Xa81"
API = "https://connect.squareup.com/v2"
OID = "CAISENgvlJ6jLWAzERDzjyHVybY"


@pytest.fixture
def square_conn(world):
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="square",
            config={"location_ids": ["L8Q2ZJ1DY4XKJ"], "environment": "production"},
            secrets={"credentials": {"access_token": "EAAAl-sq-token"}, "webhook_secret": KEY},
        )


def test_inclusive_tax_jpy_order_normalises_exactly():
    tax = "Consumption Tax"
    assert order_normalise(fixture("square", "order.json")["order"]) == CanonicalOrder(
        external_id=OID,
        source_version=4,
        currency="JPY",
        placed_at=dt.datetime(2025, 7, 21, 3, 12, 45, 31000, tzinfo=dt.UTC),
        paid_at=dt.datetime(2025, 7, 21, 3, 13, 2, tzinfo=dt.UTC),
        channel="Square Point of Sale",
        store="L8Q2ZJ1DY4XKJ",
        customer_ref="JDKYHBWT1D4F8MFH63DBMEN8Y4",
        taxes_included=True,
        lines=(
            OrderLineDoc(
                "lT9xq2NzyYaVSBoZXgLHVB",
                "W62UWFY35CWMYGVWK6TWJDNI",
                2,
                D("550"),
                "",
                "Matcha Latte Regular",
                (TaxLineDoc(tax, D("0.1"), D("95")),),
            ),
            OrderLineDoc(
                "mU1ar3OzzZbWTCpaYHMIWC",
                "AA27W3M2GGTF3H6AVPNB77CK",
                1,
                D("300"),
                "",
                "Dorayaki",
                (TaxLineDoc(tax, D("0.1"), D("26")),),
            ),
        ),
        discounts=(
            DiscountDoc(D("55"), code="Member 5%", line_external_id="lT9xq2NzyYaVSBoZXgLHVB"),
            DiscountDoc(D("15"), code="Member 5%", line_external_id="mU1ar3OzzZbWTCpaYHMIWC"),
        ),
        payments=(PaymentDoc("EnZdNAlWCmfh6Mt5FMNST1o7taB", "square", D("1330"), method="card", fee=D("43")),),
        vendor_total=D("1330"),
    )


def test_weighted_quantities_are_refused_clearly_and_amount_only_refunds_carry_no_lines():
    order = fixture("square", "order.json")["order"]
    order["line_items"][0]["quantity"] = "1.5"
    with pytest.raises(NormaliseError, match=r"1\.5 is not a whole positive quantity"):
        order_normalise(order)
    # Issue 14: an amount-only refund is accepted with its amount and no lines (posting spreads it).
    refund = fixture("square", "refund_updated_event.json")["data"]["object"]["refund"]
    document = refund_normalise(refund, {"id": "x", "returns": []})
    assert (document.order_external_id, document.lines, document.amount) == (refund["order_id"], (), D("285"))


def test_signature_covers_the_notification_url_and_body(world, host_client, square_conn):
    body = fixture_bytes("square", "order_updated_event.json")
    host = world.host(world.acme)
    url = f"http://{host}/hooks/square/{square_conn.pk}/"
    client = host_client(host)
    response = client.post(url, data=body, content_type="application/json", **square_headers(body, KEY, url + "x"))
    assert response.status_code == 401
    response = client.post(url, data=body, content_type="application/json", **square_headers(body, KEY, url))
    assert response.status_code == 200
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.topic, event.external_id) == ("order.updated", OID)


def _run(conn, name, topic, external_id):
    event, _ = event_store(
        connection=conn, topic=topic, external_id=external_id, body=fixture_bytes("square", name), dispatch=False
    )
    return event_process(event_id=event.pk)


@respx.mock
def test_order_refund_and_payout_flow_to_balanced_journals_and_a_matched_payout(world, square_conn):
    respx.get(f"{API}/orders/{OID}").mock(return_value=httpx.Response(200, json=fixture("square", "order.json")))
    catalog = [  # the SKU map's first read of the variations the order names
        {"type": "ITEM_VARIATION", "id": variation, "item_variation_data": {"sku": sku, "name": sku}}
        for variation, sku in (("W62UWFY35CWMYGVWK6TWJDNI", "TEE-BLU-M"), ("AA27W3M2GGTF3H6AVPNB77CK", "MUG-WHT"))
    ]
    respx.post(f"{API}/catalog/batch-retrieve").mock(return_value=httpx.Response(200, json={"objects": catalog}))
    respx.get(f"{API}/orders/ZrV7mSmz5hnmQkZ8sXMNBnTTqpaZY").mock(
        return_value=httpx.Response(200, json=fixture("square", "return_order.json"))
    )
    payout_id = "po_b345d2c7-90b3-4f0b-a2aa-df1def7f8afc"
    respx.get(f"{API}/payouts/{payout_id}/payout-entries").mock(
        return_value=httpx.Response(200, json=fixture("square", "payout_entries.json"))
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        assert _run(square_conn, "order_updated_event.json", "order.updated", OID).status == "processed"
        refund_id = fixture("square", "refund_updated_event.json")["data"]["id"]
        refund_event = _run(square_conn, "refund_updated_event.json", "refund.updated", refund_id)
        assert refund_event.status == "processed", refund_event.last_error
        payout_event = _run(square_conn, "payout_paid_event.json", "payout.paid", payout_id)
        assert payout_event.status == "processed", payout_event.last_error
        assert payout_event.result["documents"][0]["reconciliation"] == "matched"
        order = Order.objects.get()
        assert (order.currency, order.taxes_included, order.source_version) == ("JPY", True, 4)
        assert Refund.objects.get().amount == D("285")
        assert Payout.objects.get().amount == D("1002")
        assert JournalEntry.objects.count() == 3
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
        assert respx.calls[0].request.headers["Square-Version"] == "2025-07-16"


SHIPMENT = {
    "type": "SHIPMENT",
    "shipment_details": {
        "recipient": {
            "display_name": "Jaiden Urie",
            "phone_number": "+1 555-0100",
            "address": {
                "address_line_1": "1455 Market St",
                "address_line_2": "Suite 600",
                "locality": "San Francisco",
                "administrative_district_level_1": "CA",
                "postal_code": "94103",
                "country": "US",
            },
        }
    },
}
JAIDEN = ShipToDoc(
    name="Jaiden Urie",
    street1="1455 Market St",
    street2="Suite 600",
    city="San Francisco",
    state="CA",
    postal_code="94103",
    country="US",
    phone="+1 555-0100",
)


def test_ship_to_is_the_first_shipment_recipient_of_a_saved_order():
    order = {**fixture("square", "order.json")["order"], "fulfillments": [{"type": "PICKUP"}, SHIPMENT]}
    assert ship_to(topic="orders", payload={"order": order}) == JAIDEN
    assert adapter_for_vendor("square").ship_to(topic="order.updated", payload=order) == JAIDEN


def test_ship_to_is_none_without_a_shipment_or_from_an_event_envelope():
    assert ship_to(topic="orders", payload=fixture("square", "order.json")) is None
    event = {"type": "order.updated", "data": {"id": OID, "object": {"order_updated": {"order_id": OID}}}}
    assert ship_to(topic="order.updated", payload=event) is None  # the envelope names the order only
