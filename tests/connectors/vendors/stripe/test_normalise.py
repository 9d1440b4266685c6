import datetime as dt
import time
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import CanonicalOrder, CanonicalRefund, OrderLineDoc, PaymentDoc, PayoutLineDoc
from commerce.models import Order, Payout, Refund
from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.vendors.stripe.adapter import StripeAdapter
from connectors.vendors.stripe.normalise import charge_normalise, payout_normalise, refund_normalise
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes, stripe_headers

SECRET = "whsec_test_5f0c1b2a3d4e"
CHARGE = "ch_3PqLkR2eZvKYlo2C1x8Jm0Qa"


@pytest.fixture
def stripe_conn(world):
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="stripe",
            config={},
            secrets={"credentials": {"secret_key": "sk_test_51Hx"}, "webhook_secret": SECRET},
        )


def test_charge_normalises_to_a_minor_unit_line_with_the_fee():
    event = fixture("stripe", "charge_succeeded.json")
    created = dt.datetime(2024, 9, 12, 17, 14, 15, tzinfo=dt.UTC)
    assert charge_normalise(event["data"]["object"], version_seconds=event["created"]) == CanonicalOrder(
        external_id=CHARGE,
        source_version=1726161256000,
        currency="USD",
        placed_at=created,
        paid_at=created,
        channel="stripe",
        customer_ref="cus_QhTz3oXb1Kd0Lr",
        lines=(OrderLineDoc(f"{CHARGE}:amount", "", 4999, D("0.01"), title="Order #A-2291"),),
        payments=(PaymentDoc(CHARGE, "stripe", D("49.99"), method="card", fee=D("1.75")),),
        vendor_total=D("49.99"),
    )


def test_zero_decimal_currency_amounts_are_whole_yen():
    document = charge_normalise(fixture("stripe", "charge_succeeded_jpy.json")["data"]["object"])
    assert (document.currency, document.lines[0].unit_price, document.lines[0].quantity) == ("JPY", D("1"), 3300)
    assert document.payments[0].amount == D("3300")


def test_refund_and_payout_normalise():
    refund = fixture("stripe", "refund_created.json")
    assert refund_normalise(refund["data"]["object"]) == CanonicalRefund(
        external_id="re_3PqLkR2eZvKYlo2C1Wn6sHgD",
        order_external_id=CHARGE,
        source_version=1726420000000,
        currency="USD",
        processed_at=dt.datetime(2024, 9, 15, 17, 6, 40, tzinfo=dt.UTC),
        lines=(),  # Stripe refunds name an amount only: posted as a lineless refund
        gateway="stripe",
        amount=D("15.00"),
        reason="requested_by_customer",
    )
    payout = payout_normalise(
        fixture("stripe", "payout_paid.json")["data"]["object"],
        fixture("stripe", "balance_transactions_for_payout.json")["data"],
    )
    assert (payout.amount, payout.arrival_date) == (D("33.24"), dt.date(2024, 9, 20))
    assert payout.lines == (
        PayoutLineDoc(
            "charge", D("49.99"), D("1.75"), CHARGE, "txn_3PqLkR2eZvKYlo2C1f9a7Wc2", "Order #A-2291", "charge"
        ),
        PayoutLineDoc(
            "refund",
            D("-15.00"),
            D("0.00"),
            "re_3PqLkR2eZvKYlo2C1Wn6sHgD",
            "txn_3PqLkR2eZvKYlo2C1bH2kLm9",
            "REFUND FOR CHARGE (Order #A-2291)",
            "refund",
        ),
    )


def test_failed_refund_produces_nothing():
    refund = fixture("stripe", "refund_created.json")["data"]["object"]
    refund["status"] = "failed"
    assert refund_normalise(refund) is None


def test_signature_is_checked_with_timestamp_tolerance(world, host_client, stripe_conn):
    body = fixture_bytes("stripe", "charge_succeeded.json")
    client = host_client(world.host(world.acme))
    url = f"/hooks/stripe/{stripe_conn.pk}/"
    stale = stripe_headers(body, SECRET, int(time.time()) - 600)
    response = client.post(url, data=body, content_type="application/json", **stale)
    assert (response.status_code, response.json()["error"]["message"]) == (
        401,
        "The Stripe signature timestamp is outside the 5 minute tolerance.",
    )
    wrong = stripe_headers(body, "whsec_other")
    assert client.post(url, data=body, content_type="application/json", **wrong).status_code == 401
    # A rotated secret: Stripe sends one v1 per active secret; any match is enough.
    good = stripe_headers(body, SECRET)["HTTP_STRIPE_SIGNATURE"]
    rotated = {"HTTP_STRIPE_SIGNATURE": good.replace("v1=", "v1=deadbeef,v1=", 1)}
    response = client.post(url, data=body, content_type="application/json", **rotated)
    assert response.status_code == 200
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.topic, event.external_id) == ("charge.succeeded", CHARGE)


def _run(conn, name, topic, external_id):
    event, _ = event_store(
        connection=conn, topic=topic, external_id=external_id, body=fixture_bytes("stripe", name), dispatch=False
    )
    return event_process(event_id=event.pk)


@respx.mock
def test_charge_refund_and_payout_post_balanced_journals_and_reconcile(world, stripe_conn):
    respx.get("https://api.stripe.com/v1/balance_transactions").mock(
        return_value=httpx.Response(200, json=fixture("stripe", "balance_transactions_for_payout.json"))
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        assert _run(stripe_conn, "charge_succeeded.json", "charge.succeeded", CHARGE).status == "processed"
        refund_event = _run(stripe_conn, "refund_created.json", "refund.created", "re_3PqLkR2eZvKYlo2C1Wn6sHgD")
        assert refund_event.status == "processed", refund_event.last_error
        payout_event = _run(stripe_conn, "payout_paid.json", "payout.paid", "po_1PrA9x2eZvKYlo2Cq3Ht8LbN")
        assert payout_event.status == "processed", payout_event.last_error
        assert payout_event.result["documents"][0]["reconciliation"] == "matched"
        assert (Order.objects.count(), Refund.objects.count(), Payout.objects.count()) == (1, 1, 1)
        assert JournalEntry.objects.count() == 3
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
        request = respx.calls.last.request
        assert request.url.params["payout"] == "po_1PrA9x2eZvKYlo2Cq3Ht8LbN"
        assert request.headers["Authorization"] == "Bearer sk_test_51Hx"
        assert request.headers["Stripe-Version"] == "2024-06-20"


@respx.mock
def test_polling_pages_charges_with_starting_after_and_saves_the_watermark(world, stripe_conn):
    charge = fixture("stripe", "charge_succeeded.json")["data"]["object"]
    second = dict(charge, id="ch_second", created=1726161000)
    route = respx.get("https://api.stripe.com/v1/charges").mock(
        side_effect=[
            httpx.Response(200, json={"object": "list", "has_more": True, "data": [charge]}),
            httpx.Response(200, json={"object": "list", "has_more": False, "data": [second]}),
        ]
    )
    adapter = StripeAdapter()
    with tenant_context(world.acme), adapter.client(stripe_conn) as client:
        first = adapter.fetch_page(connection=stripe_conn, client=client, topic="charges", cursor={}, since=None)
        assert (first.done, first.cursor) == (
            False,
            {"created_gte": None, "newest": 1726161255, "starting_after": CHARGE},
        )
        last = adapter.fetch_page(
            connection=stripe_conn, client=client, topic="charges", cursor=first.cursor, since=None
        )
    assert (last.done, last.cursor) == (True, {"created_gte": 1726161255})
    assert [record.external_id for record in first.records + last.records] == [CHARGE, "ch_second"]
    assert route.calls[1].request.url.params["starting_after"] == CHARGE
