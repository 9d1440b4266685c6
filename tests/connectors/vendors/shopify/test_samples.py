"""Shopify's own published samples (Shopify/shopify_python_api test fixtures, tests/fixtures/SOURCES.md)
through the normaliser and through the signed webhook path: manual orders with a blank gateway
label, payouts with fee refunds, and every balance transaction type of Shopify's reference."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.documents import PaymentDoc, PayoutLineDoc, TaxLineDoc
from commerce.models import Order, Payout
from connectors.inbox import event_process
from connectors.models import InboundEvent
from connectors.vendors.shopify.normalise import order_normalise, payout_normalise
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, journal_lines, shopify_headers

SECRET = "shopify-app-secret-for-tests"


def manual_order() -> dict:
    """Shopify's SDK order sample, paid by hand: a manual (or completed draft) order has no gateway
    and Shopify sends `payment_gateway_names: [""]`."""
    order = fixture("shopify", "sdk_order.json")["order"]
    order["financial_status"] = "paid"
    order["payment_gateway_names"] = [""]
    return order


@pytest.fixture
def shop(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        return ConnectionFactory(secrets={"webhook_secret": SECRET})


def _deliver(world, host_client, django_capture_on_commit_callbacks, conn, topic: str, payload) -> InboundEvent:
    body = json.dumps(payload).encode()
    with django_capture_on_commit_callbacks(execute=False):
        response = host_client(world.host(world.acme)).post(
            f"/hooks/shopify/{conn.pk}/",
            data=body,
            content_type="application/json",
            **shopify_headers(body, SECRET, topic),
        )
    assert response.status_code == 200, response.content
    with tenant_context(world.acme):
        return event_process(event_id=response.json()["event"])


def test_a_blank_gateway_label_maps_to_the_default_clearing_gateway():
    document = order_normalise(manual_order())
    assert document.payments == (PaymentDoc("450789469:payment", "manual", D("608.94")),)


def test_order_level_tax_lines_are_spread_over_the_lines_by_gross():
    document = order_normalise(manual_order())
    assert [line.taxes for line in document.lines] == [(TaxLineDoc("State Tax", D("0.06"), D("3.98")),)] * 3
    assert [shipping.external_id for shipping in document.shipping_lines] == ["shipping-0"]


def test_a_paid_manual_order_posts_through_the_webhook_to_the_default_clearing_account(
    world, host_client, shop, django_capture_on_commit_callbacks
):
    event = _deliver(world, host_client, django_capture_on_commit_callbacks, shop, "orders/paid", manual_order())
    assert (event.status, event.last_error) == ("processed", "")
    with tenant_context(world.acme):
        assert list(Order.objects.get().payments.values_list("gateway", "amount")) == [("manual", D("608.94"))]
        entry = JournalEntry.objects.get()
        # Shopify's sample prints a total of 409.94 for three lines of 199.00: posted from the lines.
        assert journal_lines(entry) == [
            ("payment_clearing", "1110", "608.94", "0.00"),
            ("revenue", "4000", "0.00", "597.00"),
            ("tax_payable", "2100", "0.00", "11.94"),
        ]


def test_a_payout_as_get_payout_returns_it_keeps_the_refunded_fee_negative():
    payout = payout_normalise(fixture("shopify", "sdk_payout.json"))
    assert payout.lines == (
        PayoutLineDoc(
            "charge", D("44.52"), D("1.32"), "", "623721858:charges", "Payout summary: charges", "summary:charges"
        ),
        PayoutLineDoc(
            "refund", D("-3.54"), D("-0.23"), "", "623721858:refunds", "Payout summary: refunds", "summary:refunds"
        ),
        PayoutLineDoc(
            "adjustment",
            D("2.13"),
            D("0.12"),
            "",
            "623721858:adjustments",
            "Payout summary: adjustments",
            "summary:adjustments",
        ),
    )
    # with abs(fee) the lines netted to 41.44 and the payout was refused
    assert sum((line.amount - line.fee for line in payout.lines), D(0)) == payout.amount == D("41.90")
    assert (payout.external_id, payout.arrival_date, payout.source_version) == ("623721858", dt.date(2019, 11, 12), 2)


def test_the_payout_posts_through_the_webhook_with_the_fee_refund_credited_to_fees(
    world, host_client, shop, django_capture_on_commit_callbacks
):
    event = _deliver(
        world, host_client, django_capture_on_commit_callbacks, shop, "payouts", fixture("shopify", "sdk_payout.json")
    )
    assert (event.status, event.external_id, event.last_error) == ("processed", "623721858", "")
    with tenant_context(world.acme):
        stored = Payout.objects.get()
        assert list(stored.lines.order_by("position").values_list("type", "amount", "fee", "vendor_type")) == [
            ("charge", D("44.52"), D("1.32"), "summary:charges"),
            ("refund", D("-3.54"), D("-0.23"), "summary:refunds"),
            ("adjustment", D("2.13"), D("0.12"), "summary:adjustments"),
        ]
        assert journal_lines(JournalEntry.objects.get()) == [
            ("payment_clearing", "1110", "3.54", "0.00"),  # the refunds settled out of the clearing account
            ("merchant_fees", "6100", "1.44", "0.00"),  # fees on charges and adjustments
            ("bank", "1010", "41.90", "0.00"),
            ("payment_clearing", "1110", "0.00", "44.52"),
            ("merchant_fees", "6100", "0.00", "0.23"),  # the fee refunded with the refunds: a credit to fees
            ("payout_adjustment", "6200", "0.00", "2.13"),
        ]


def test_every_balance_transaction_type_of_the_sample_maps_and_unknown_types_are_kept_as_other():
    transactions = fixture("shopify", "sdk_payouts_transactions.json")["transactions"]
    transactions.append({**transactions[0], "id": 1, "type": "anomaly_credit", "amount": "5.00", "net": "5.00"})
    payout = payout_normalise({**fixture("shopify", "sdk_payout.json"), "transactions": transactions})
    kinds = {(line.vendor_type, line.type) for line in payout.lines}
    assert kinds == {
        ("charge", "charge"),
        ("refund", "refund"),
        ("adjustment", "adjustment"),
        ("credit", "adjustment"),
        ("debit", "adjustment"),
        ("dispute", "adjustment"),
        ("reserve", "reserve"),
        ("anomaly_credit", "other"),
    }
    assert len(payout.lines) == len(transactions) - 1  # the payout's own row is not a line
    # fees keep Shopify's sign: the adjustment refunding 0.25 of fees stays negative, the dispute fee positive
    assert [
        (line.external_id, line.amount, line.fee)
        for line in payout.lines
        if line.external_id in ("758509248", "726130462")
    ] == [
        ("758509248", D("-1.50"), D("-0.25")),
        ("726130462", D("-11.50"), D("15.00")),
    ]
    # every row but 758509248 (whose own net is amount + fee) nets as amount - fee, as the summary does
    rows = {str(t["id"]): D(t["net"]) for t in transactions}
    mismatched = [line.external_id for line in payout.lines if line.amount - line.fee != rows[line.external_id]]
    assert mismatched == ["758509248"]


def test_an_order_adjustment_refund_has_its_amount_and_no_lines():
    """A refund of money only (no refund_line_items, an order adjustment for the difference), from
    Shopify's SDK refund sample."""
    from connectors.vendors.shopify.normalise import refund_normalise

    refund = fixture("shopify", "sdk_refund.json")["refund"]
    refund["refund_line_items"] = []
    refund["order_adjustments"] = [
        {
            "id": 1,
            "order_id": refund["order_id"],
            "refund_id": refund["id"],
            "amount": "-209.00",
            "kind": "refund_discrepancy",
        }
    ]
    document = refund_normalise(refund, currency="USD", taxes_included=False)
    assert (document.external_id, document.order_external_id, document.lines, document.shipping) == (
        "509562969",
        "450789469",
        (),
        D("0"),
    )
    assert (document.amount, document.gateway, document.reason) == (D("209.00"), "bogus", "it broke during shipping")


def test_graphql_style_transfer_rows_the_payouts_own_is_skipped_and_others_are_adjustments():
    payout = fixture("shopify", "sdk_payout.json")
    row = fixture("shopify", "sdk_payouts_transactions.json")["transactions"][0]
    transactions = [
        {**row, "id": 1, "type": "transfer", "source_id": 623721858, "amount": "-41.90", "net": "-41.90"},
        {**row, "id": 2, "type": "transfer_failure", "source_id": 512467833, "amount": "12.00", "net": "12.00"},
        {**row, "id": 3, "type": "payout_failure", "source_id": 512467833, "amount": "3.00", "net": "3.00"},
    ]
    lines = payout_normalise({**payout, "transactions": transactions}).lines
    assert [(line.external_id, line.type, line.vendor_type, line.amount) for line in lines] == [
        ("2", "adjustment", "transfer_failure", D("12.00")),
        ("3", "adjustment", "payout_failure", D("3.00")),
    ]
