"""Property test (issue 14): the vendors' own sample payloads, mutated (keys dropped, wrong types,
nulls, huge and negative numbers, unicode), through the signed webhook path and the inbox. Every
request is answered below 500; every stored event ends processed (or ignored: nothing to do) or
failed/dead with an exception text, a dead one with a triage exception; none is left `received`;
every posted journal entry balances."""

import copy
import json
import time

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.inbox import event_process
from connectors.models import InboundEvent
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, shopify_headers, square_headers, stripe_headers, woocommerce_headers
from triage.models import Exception as TriageException

SECRET = "webhook-secret-for-mutations"
SQUARE_API = "https://connect.squareup.com/v2"


def _stripe_event(kind: str, obj: dict) -> dict:
    return {"id": f"evt_{obj['id']}", "object": "event", "type": kind, "created": 1721900000, "data": {"object": obj}}


def _square_event(kind: str, key: str, obj: dict) -> dict:
    return {
        "merchant_id": "ML",
        "type": kind,
        "event_id": "e1",
        "data": {"type": key, "id": obj["id"], "object": {key: obj}},
    }


def _samples() -> list[tuple[str, str, dict]]:
    """(vendor, topic, body) built from the saved vendor samples (tests/fixtures/SOURCES.md)."""
    shopify_order = fixture("shopify", "sdk_order.json")["order"]
    shopify_order["financial_status"] = "paid"
    woo_order = {
        **fixture("woocommerce", "docs_order_727.json"),
        "refund_details": [fixture("woocommerce", "docs_refund_726.json")],
    }
    charge = {
        **fixture("stripe", "openapi_charge.json"),
        "captured": True,
        "status": "succeeded",
        "amount_captured": 100,
    }
    payout = {
        **fixture("stripe", "openapi_payout.json"),
        "status": "paid",
        "balance_transactions": [fixture("stripe", "openapi_balance_transaction.json")],
    }
    refund = fixture("square", "sdk_get_payment_refund.json")["refund"]
    return [
        ("shopify", "orders/paid", shopify_order),
        ("shopify", "payouts", fixture("shopify", "sdk_payout.json")),
        (
            "shopify",
            "payouts",
            {**fixture("shopify", "sdk_payout.json"), **fixture("shopify", "sdk_payouts_transactions.json")},
        ),
        ("shopify", "refunds/create", fixture("shopify", "sdk_refund.json")["refund"]),
        ("woocommerce", "order.updated", woo_order),
        ("stripe", "charge.succeeded", _stripe_event("charge.succeeded", charge)),
        ("stripe", "refund.created", _stripe_event("refund.created", fixture("stripe", "openapi_refund.json"))),
        ("stripe", "payout.paid", _stripe_event("payout.paid", payout)),
        ("square", "refund.updated", _square_event("refund.updated", "refund", refund)),
        (
            "square",
            "order.updated",
            _square_event("order.updated", "order", fixture("square", "sdk_retrieve_order.json")["order"]),
        ),
        (
            "square",
            "payout.paid",
            _square_event("payout.paid", "payout", fixture("square", "sdk_get_payout.json")["payout"]),
        ),
    ]


SAMPLES = _samples()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _apply(document, path, op, value):
    if not path:
        return value if op != "drop" else {}
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if op == "drop":
        del parent[key]
    else:
        parent[key] = value
    return document


replacements = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([-1, 0, 10**20, -(10**20), 1e308, -0.01, 3.14159]),
    st.sampled_from(["abc", "", "NaN", "Infinity", "-1", "1e30", "99999999999999999999.999", "-0.005", "12,50"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["ü€😀", "\u0000", "\u202e", "x" * 5000]),
    st.just([]),
    st.just({}),
    st.just([{"id": None}]),
)


@st.composite
def mutated_samples(draw):
    vendor, topic, sample = draw(st.sampled_from(SAMPLES))
    document = copy.deepcopy(sample)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(document))
        path = paths[draw(st.integers(min_value=1 if len(paths) > 1 else 0, max_value=len(paths) - 1))]
        op = draw(st.sampled_from(["drop", "set", "set", "set"]))
        # a fresh copy: st.just() hands out the same list or dict every time
        document = _apply(document, path, op, None if op == "drop" else copy.deepcopy(draw(replacements)))
    return vendor, topic, document


@pytest.fixture
def connections(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        return {
            "shopify": ConnectionFactory(secrets={"webhook_secret": SECRET}),
            "woocommerce": ConnectionFactory(
                vendor="woocommerce", config={"store_url": "https://example.com"}, secrets={"webhook_secret": SECRET}
            ),
            "stripe": ConnectionFactory(vendor="stripe", config={}, secrets={"webhook_secret": SECRET}),
            "square": ConnectionFactory(
                vendor="square", config={"location_ids": ["L88917AVBK2S5"]}, secrets={"webhook_secret": SECRET}
            ),
        }


def _headers(vendor: str, topic: str, body: bytes, url: str) -> dict:
    if vendor == "shopify":
        return shopify_headers(body, SECRET, topic)
    if vendor == "woocommerce":
        return woocommerce_headers(body, SECRET, topic)
    if vendor == "stripe":
        return stripe_headers(body, SECRET, int(time.time()))
    return square_headers(body, SECRET, url)


@settings(
    max_examples=45,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutated_samples())
def test_mutated_vendor_samples_never_leave_an_event_received_a_500_or_an_unbalanced_entry(
    world, host_client, connections, django_capture_on_commit_callbacks, case
):
    vendor, topic, document = case
    conn = connections[vendor]
    host = world.host(world.acme)
    url = f"http://{host}/hooks/{vendor}/{conn.pk}/"
    body = json.dumps(document).encode()
    with respx.mock(assert_all_called=False) as square_api:
        # Square's events name their objects; the API answers with Square's own samples.
        square_api.get(url__regex=rf"{SQUARE_API}/orders/.+").mock(
            return_value=httpx.Response(200, json=fixture("square", "sdk_retrieve_order.json"))
        )
        entries = {**fixture("square", "sdk_list_payout_entries.json"), "cursor": None}  # one page
        square_api.get(url__regex=rf"{SQUARE_API}/payouts/.+/payout-entries").mock(
            return_value=httpx.Response(200, json=entries)
        )
        with django_capture_on_commit_callbacks(execute=False):
            response = host_client(host).post(
                f"/hooks/{vendor}/{conn.pk}/",
                data=body,
                content_type="application/json",
                **_headers(vendor, topic, body, url),
            )
        assert response.status_code < 500, response.content
        if response.status_code != 200 or response.json().get("status") != "stored":
            return
        with tenant_context(world.acme):
            event = event_process(event_id=response.json()["event"])
    with tenant_context(world.acme):
        event = InboundEvent.objects.get(pk=event.pk)
        assert event.status in ("processed", "ignored", "failed", "dead"), (event.status, event.last_error)
        if event.status in ("failed", "dead"):
            assert event.last_error
        if event.status == "dead":
            assert TriageException.objects.filter(context__event_id=event.pk).exists(), event.last_error
        unbalanced = [entry.pk for entry in JournalEntry.objects.all() if entry_balance(entry=entry) != 0]
        assert unbalanced == []
