"""`ingest_file` offline, for every vendor and topic, on the shapes the vendors' APIs return
(their own published samples, tests/fixtures/SOURCES.md). respx refuses any HTTP call, so a
processed event proves no vendor API was needed."""

import json
from decimal import Decimal as D
from io import StringIO

import pytest
import respx
from django.core.management import call_command
from django_tenants.utils import tenant_context

from commerce.models import Order, Payout, Refund
from connectors.models import InboundEvent
from mappings.services import standard_chart_apply
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture

SQUARE_ORDER = "CAISENgvlJ6jLWAzERDzjyHVybY"
SQUARE_REFUND = "bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY_69MmgHubkLqx9wGhnmenRUHOaKitE6llfZuxcWYjGxd"
SQUARE_PAYOUT = "po_f3c0fb38-a5ce-427d-b858-52b925b72e45"


@pytest.fixture
def offline():
    with respx.mock(assert_all_called=False) as router:
        yield router
    assert router.calls.call_count == 0


def _ingest(tmp_path, vendor: str, topic: str, payload) -> str:
    path = tmp_path / f"{vendor}-{topic.replace('/', '_')}.json"
    path.write_text(json.dumps(payload))
    out = StringIO()
    call_command("ingest_file", "--tenant", "acme", "--vendor", vendor, "--topic", topic, str(path), stdout=out)
    return out.getvalue()


def _events():
    return list(InboundEvent.objects.order_by("pk").values_list("topic", "external_id", "status", "last_error"))


@pytest.fixture
def square(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        return ConnectionFactory(vendor="square", config={"location_ids": ["L88917AVBK2S5"]})


def test_square_order_refund_and_payout_objects_ingest_without_squares_api(world, square, offline, tmp_path):
    refund = fixture("square", "sdk_get_payment_refund.json")
    # Square's refund example names an order that is not in its order example: the test stores
    # the order example under that id, which makes the refund an amount-only refund of it.
    order = fixture("square", "sdk_retrieve_order.json")
    order["order"]["id"] = refund["refund"]["order_id"]
    payout = {**fixture("square", "sdk_get_payout.json"), **fixture("square", "sdk_list_payout_entries.json")}
    _ingest(tmp_path, "square", "order.updated", fixture("square", "sdk_retrieve_order.json"))
    _ingest(tmp_path, "square", "order.updated", order)
    _ingest(tmp_path, "square", "refund.updated", refund)
    _ingest(tmp_path, "square", "payout.paid", payout)
    with tenant_context(world.acme):
        assert _events() == [
            ("order.updated", SQUARE_ORDER, "processed", ""),
            ("order.updated", refund["refund"]["order_id"], "processed", ""),
            ("refund.updated", SQUARE_REFUND, "processed", ""),
            ("payout.paid", SQUARE_PAYOUT, "processed", ""),
        ]
        stored = Order.objects.get(external_id=SQUARE_ORDER)
        assert list(stored.lines.values_list("quantity", "unit_price")) == [(1, D("5.00")), (2, D("3.00"))]
        assert sorted(stored.discounts.values_list("amount", flat=True)) == [D("2.50"), D("3.00")]
        stored_refund = Refund.objects.get()
        assert (stored_refund.order.external_id, stored_refund.amount, stored_refund.lines.count()) == (
            refund["refund"]["order_id"],
            D("5.55"),
            0,
        )
        assert list(Payout.objects.get().lines.order_by("position").values_list("type", "amount", "fee")) == [
            ("refund", D("-0.50"), D("-0.02")),
            ("charge", D("1.00"), D("0.19")),
        ]


def test_a_square_refund_of_an_order_not_stored_waits_for_it_offline(world, square, offline, tmp_path):
    output = _ingest(tmp_path, "square", "refund.updated", fixture("square", "sdk_get_payment_refund.json"))
    with tenant_context(world.acme):
        [(topic, external_id, status, error)] = _events()
    assert external_id == SQUARE_REFUND
    assert (topic, status) == ("refund.updated", "failed")
    assert error == (
        f"Refund {SQUARE_REFUND} is for order 9ltv0bx5PuvGXUYHYHxYSKEqC3IZY, not stored yet; ingest the order "
        "first or save the refund with its return_order."
    )
    assert f"exception: {error}" in output


def test_bare_stripe_charge_refund_and_payout_objects_ingest_without_an_event_envelope(world, offline, tmp_path):
    with tenant_context(world.acme):
        standard_chart_apply()
        ConnectionFactory(vendor="stripe", config={})
    charge = fixture("stripe", "openapi_charge.json")
    payout = {
        **fixture("stripe", "openapi_payout.json"),
        "status": "paid",
        "balance_transactions": {"object": "list", "data": [fixture("stripe", "openapi_balance_transaction.json")]},
    }
    _ingest(tmp_path, "stripe", "charge.succeeded", charge)
    _ingest(tmp_path, "stripe", "refund.created", fixture("stripe", "openapi_refund.json"))
    _ingest(tmp_path, "stripe", "payout.paid", fixture("stripe", "openapi_payout.json"))  # in transit: nothing yet
    _ingest(tmp_path, "stripe", "payout.paid", payout)
    with tenant_context(world.acme):
        assert _events() == [
            ("charge.succeeded", "ch_1PgafuB7WZ01zgkWXYmPNZs8", "processed", ""),
            ("refund.created", "re_1Pgc72B7WZ01zgkWqPvrRrPE", "processed", ""),
            ("payout.paid", "po_1Pgc79B7WZ01zgkWu1KToYf4", "ignored", ""),
            ("payout.paid", "po_1Pgc79B7WZ01zgkWu1KToYf4", "processed", ""),
        ]
        order = Order.objects.get()
        assert (order.external_id, order.currency, order.paid_at) == ("ch_1PgafuB7WZ01zgkWXYmPNZs8", "USD", None)
        assert Refund.objects.get().amount == D("1.00")
        assert list(Payout.objects.get().lines.values_list("type", "amount", "fee", "vendor_type")) == [
            ("charge", D("1.00"), D("0.00"), "charge")
        ]


def test_shopify_payout_and_order_as_the_rest_api_returns_them(world, offline, tmp_path):
    with tenant_context(world.acme):
        standard_chart_apply()
        ConnectionFactory()
    _ingest(tmp_path, "shopify", "payouts", fixture("shopify", "sdk_payout.json"))
    _ingest(tmp_path, "shopify", "orders/updated", fixture("shopify", "sdk_order.json"))
    with tenant_context(world.acme):
        assert _events() == [
            ("payouts", "623721858", "processed", ""),
            ("orders/updated", "450789469", "processed", ""),
        ]
        assert Payout.objects.get().amount == D("41.90")
        assert Order.objects.get().external_id == "450789469"


def test_woocommerces_automatic_refund_without_lines_is_stored_with_its_amount(world, offline, tmp_path):
    with tenant_context(world.acme):
        standard_chart_apply()
        ConnectionFactory(vendor="woocommerce", config={"store_url": "https://example.com"})
    order = {
        **fixture("woocommerce", "docs_order_727.json"),
        "refund_details": [fixture("woocommerce", "docs_refund_726.json")],
    }
    _ingest(tmp_path, "woocommerce", "order.updated", order)
    with tenant_context(world.acme):
        assert _events() == [("order.updated", "727", "processed", "")]
        refund = Refund.objects.get()
        assert (refund.external_id, refund.order.external_id, refund.amount, refund.lines.count()) == (
            "726",
            "727",
            D("10.00"),
            0,
        )
