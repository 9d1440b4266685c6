"""Stripe's connection role (DESIGN.md §4, issue 14 item 5): `processor` behind a storefront (the
charge settles the order's clearing and books the fee at charge time, never a sale) and
`sales_channel` for a merchant who sells through Stripe alone (the charge is the sale, with its
level-3 items, shipping and tax). Exact journal lines by account, role and amount."""

import copy
import json
from decimal import Decimal as D

import httpx
import pytest
import respx
from django.db.models import Sum
from django_tenants.utils import tenant_context

from commerce.models import Order
from connectors.inbox import event_process, event_store
from connectors.vendors.stripe.roles import stripe_role
from core.http import netsafety
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, JournalLine
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes
from triage.models import Exception as TriageException

WOO_CHARGE = "ch_3PkT0u2eZvKYlo2C0Wc8aB3d"
L3_CHARGE = "ch_3Q5nWm2eZvKYlo2C0kR9sV4e"
PLAIN_CHARGE = "ch_3PqLkR2eZvKYlo2C1x8Jm0Qa"
Z = D("0.00")


@pytest.fixture
def woo(world, monkeypatch):
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.216.34"])
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="woocommerce",
            name="Acme Homeware",
            config={"store_url": "https://shop.example.co.uk"},
            secrets={"credentials": {"consumer_key": "ck_abc", "consumer_secret": "cs_def"}, "webhook_secret": "w"},
        )


def _stripe(config=None):
    return ConnectionFactory(
        vendor="stripe",
        name="Stripe",
        config=config or {},
        secrets={"credentials": {"secret_key": "sk_test_51Hx"}, "webhook_secret": "whsec_x"},
    )


def _process(conn, body, topic, external_id):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    event, _ = event_store(connection=conn, topic=topic, external_id=external_id, body=body, dispatch=False)
    return event_process(event_id=event.pk)


def _lines(entry):
    """(account, role, debit, credit) in the entry's line order (debits first, then by role)."""
    lines = [
        (line.account.code, line.role, line.debit, line.credit)
        for line in entry.lines.select_related("account").order_by("position")
    ]
    return lines


def _account(code):
    totals = JournalLine.objects.filter(account__code=code).aggregate(debit=Sum("debit"), credit=Sum("credit"))
    return (totals["debit"] or Z) - (totals["credit"] or Z)


def _payout_mock(name):
    respx.get("https://api.stripe.com/v1/balance_transactions").mock(
        return_value=httpx.Response(200, json=fixture("stripe", name))
    )


def _entry(prefix):
    return JournalEntry.objects.get(source_key__startswith=prefix)


# --- role ----------------------------------------------------------------------------------------


def test_role_is_derived_from_the_tenants_connections_and_overridable(world, woo):
    with tenant_context(world.acme):
        stripe = _stripe()
        assert stripe_role(connection=stripe) == "processor"  # a storefront (WooCommerce) is connected
        stripe.config = {"role": "sales_channel"}
        assert stripe_role(connection=stripe) == "sales_channel"
        woo.delete()
        stripe.config = {}
        assert stripe_role(connection=stripe) == "sales_channel"  # Stripe alone
        stripe.config = {"role": "processor"}
        assert stripe_role(connection=stripe) == "processor"
        stripe.config = {"role": "bogus"}
        assert stripe_role(connection=stripe) == "sales_channel"  # never stored: validation refuses it


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    return api_client(world.host(world.acme), make_key(scopes=["read", "write"], tenant=world.acme))


def test_role_override_through_the_api_and_the_page(world, acme_api, host_client):
    with tenant_context(world.acme):
        stripe = _stripe()
    url = f"/api/v1/connections/{stripe.pk}/"
    bad = acme_api.patch(url, {"config": {"role": "reseller"}})
    assert bad.status_code == 400
    assert "role: 'reseller' is not one of processor, sales_channel" in json.dumps(bad.json())
    good = acme_api.patch(url, {"config": {"role": "processor"}})
    assert (good.status_code, good.json()["config"]["role"]) == (200, "processor")
    with tenant_context(world.acme):
        stripe.refresh_from_db()
        assert stripe_role(connection=stripe) == "processor"
    admin = host_client(world.host(world.acme), world.acme_admin)
    form = admin.get(f"/connections/{stripe.pk}/edit/").content.decode()
    assert 'name="config_role"' in form and "Sales channel: each charge is a sale" in form
    response = admin.post(
        f"/connections/{stripe.pk}/edit/",
        {"name": "Stripe", "sync_interval_minutes": "15", "config_role": "sales_channel"},
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        stripe.refresh_from_db()
        assert (stripe.config["role"], stripe_role(connection=stripe)) == ("sales_channel", "sales_channel")
    response = admin.post(
        f"/connections/{stripe.pk}/edit/", {"name": "Stripe", "sync_interval_minutes": "15", "config_role": ""}
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        stripe.refresh_from_db()
        assert "role" not in stripe.config  # automatic again


# --- processor: a WooCommerce order paid through Stripe -------------------------------------------


def _woo_order(woo):
    event = _process(woo, fixture_bytes("woocommerce", "order_created.json"), "order.created", "727")
    assert event.status == "processed", event.last_error


@respx.mock
def test_woocommerce_order_paid_through_stripe_is_booked_once_and_the_charge_books_the_fee(world, woo):
    _payout_mock("balance_transactions_for_payout_gbp.json")
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        _woo_order(woo)
        charge = _process(
            stripe, fixture_bytes("stripe", "charge_succeeded_woocommerce_727.json"), "charge.succeeded", WOO_CHARGE
        )
        assert charge.status == "processed", charge.last_error
        assert charge.result["documents"][0]["type"] == "processor_charge"
        assert Order.objects.count() == 1  # the charge is no order of its own
        order = Order.objects.get()
        sale = _entry(f"order:{order.pk}:v")
        # Prices include VAT: 54.00 of lines less 8.00 VAT, the 6.00 coupon gross, 4.00 shipping with 0.67 VAT.
        assert _lines(sale) == [
            ("4500", "discount", D("6.00"), Z),
            ("1110", "payment_clearing", D("52.00"), Z),
            ("4000", "revenue", Z, D("46.00")),
            ("2100", "tax_payable", Z, D("8.67")),
            ("4100", "shipping_income", Z, D("3.33")),
        ]
        settled = _entry(f"processor_charge:{WOO_CHARGE}")
        assert _lines(settled) == [
            ("1110", "payment_clearing", D("51.02"), Z),
            ("6100", "merchant_fees", D("0.98"), Z),
            ("1110", "payment_clearing", Z, D("52.00")),
        ]
        dims = [line.dimensions for line in settled.lines.order_by("position")]
        assert dims == [
            {"gateway": "stripe"},
            {"gateway": "stripe"},
            {"channel": "checkout", "gateway": "stripe", "payment_method": "Credit Card (Stripe)"},
        ]
        assert settled.lines.get(position=2).dimensions == sale.lines.get(role="payment_clearing").dimensions
        # The sale is booked once: the only revenue, shipping and tax are the order's.
        assert _account("4000") + _account("4100") + _account("2100") + _account("4500") == D("-52.00")
        payout = _process(
            stripe, fixture_bytes("stripe", "payout_paid_gbp.json"), "payout.paid", "po_1PlA4c2eZvKYlo2CuN7dE2rS"
        )
        assert payout.status == "processed", payout.last_error
        assert payout.result["documents"][0]["reconciliation"] == "matched"
        assert _lines(_entry("payout:")) == [
            ("1010", "bank", D("51.02"), Z),
            ("1110", "payment_clearing", Z, D("51.02")),
        ]
        assert (_account("1110"), _account("6100"), _account("1010")) == (Z, D("0.98"), D("51.02"))
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
        # Replays post nothing more.
        again = copy.deepcopy(fixture("stripe", "charge_succeeded_woocommerce_727.json"))
        again["type"], again["id"] = "charge.updated", "evt_replayed"
        assert _process(stripe, again, "charge.updated", WOO_CHARGE).status == "processed"
        assert JournalEntry.objects.count() == 3


@respx.mock
def test_processor_charge_before_its_order_is_retried_then_raised_never_double_booked(world, woo, settings):
    settings.CONNECTOR_EVENT_MAX_ATTEMPTS = 2
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        body = fixture_bytes("stripe", "charge_succeeded_woocommerce_727.json")
        early = _process(stripe, body, "charge.succeeded", WOO_CHARGE)
        assert (early.status, early.next_attempt_at is not None) == ("failed", True)
        assert "pays an order not ingested yet" in early.last_error
        assert JournalEntry.objects.count() == 0
        _woo_order(woo)
        retried = event_process(event_id=early.pk)
        assert retried.status == "processed", retried.last_error
        assert JournalEntry.objects.filter(source_key=f"processor_charge:{WOO_CHARGE}").count() == 1
        assert _account("4000") == D("-46.00")  # revenue from the order only
        # A charge whose order never arrives ends dead with an exception in the inbox.
        orphan = copy.deepcopy(fixture("stripe", "charge_succeeded_woocommerce_727.json"))
        orphan["data"]["object"].update(id="ch_orphan", payment_intent="pi_orphan", metadata={"order_id": "999"})
        first = _process(stripe, orphan, "charge.succeeded", "ch_orphan")
        assert first.status == "failed"
        last = event_process(event_id=first.pk)
        assert last.status == "dead"
        assert TriageException.objects.filter(title__contains="ch_orphan").exists()
        assert not JournalEntry.objects.filter(source_key="processor_charge:ch_orphan").exists()


@respx.mock
def test_processor_webhook_charge_reads_its_balance_transaction_for_the_fee(world, woo):
    event = copy.deepcopy(fixture("stripe", "charge_succeeded_woocommerce_727.json"))
    expanded = event["data"]["object"]["balance_transaction"]
    event["data"]["object"]["balance_transaction"] = expanded["id"]  # as webhooks send it
    route = respx.get(f"https://api.stripe.com/v1/balance_transactions/{expanded['id']}").mock(
        return_value=httpx.Response(200, json=expanded)
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        _woo_order(woo)
        assert _process(stripe, event, "charge.succeeded", WOO_CHARGE).status == "processed"
        assert _lines(_entry("processor_charge:"))[1] == ("6100", "merchant_fees", D("0.98"), Z)
    assert route.called


@respx.mock
def test_payout_before_the_processor_charge_keeps_the_fee_booked_once(world, woo):
    _payout_mock("balance_transactions_for_payout_gbp.json")
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        _woo_order(woo)
        payout = _process(
            stripe, fixture_bytes("stripe", "payout_paid_gbp.json"), "payout.paid", "po_1PlA4c2eZvKYlo2CuN7dE2rS"
        )
        assert payout.status == "processed", payout.last_error
        assert _lines(_entry("payout:")) == [
            ("6100", "merchant_fees", D("0.98"), Z),
            ("1010", "bank", D("51.02"), Z),
            ("1110", "payment_clearing", Z, D("52.00")),
        ]
        charge = _process(
            stripe, fixture_bytes("stripe", "charge_succeeded_woocommerce_727.json"), "charge.succeeded", WOO_CHARGE
        )
        assert charge.status == "processed", charge.last_error
        assert _lines(_entry("processor_charge:")) == [
            ("1110", "payment_clearing", D("52.00"), Z),
            ("1110", "payment_clearing", Z, D("52.00")),
        ]
        assert (_account("6100"), _account("1110")) == (D("0.98"), Z)


def test_processor_refunds_are_left_to_the_storefront(world, woo):
    with tenant_context(world.acme):
        stripe = _stripe()
        event = _process(stripe, fixture_bytes("stripe", "refund_created.json"), "refund.created", "re_x")
        assert (event.status, JournalEntry.objects.count()) == ("ignored", 0)


# --- sales channel: Stripe alone -----------------------------------------------------------------


@respx.mock
def test_level3_charge_posts_revenue_per_line_discount_shipping_tax_and_fee_once(world):
    _payout_mock("balance_transactions_for_payout_level3.json")
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        event = _process(stripe, fixture_bytes("stripe", "charge_succeeded_level3.json"), "charge.succeeded", L3_CHARGE)
        assert event.status == "processed", event.last_error
        order = Order.objects.get()
        assert [(line.sku, line.quantity, line.unit_price) for line in order.lines.order_by("position")] == [
            ("TEE-ORG-BLK-M", 2, D("25.00")),
            ("CAP-CNV-NVY", 1, D("18.00")),
        ]
        sale = _entry(f"order:{order.pk}:v")
        assert _lines(sale) == [
            ("4500", "discount", D("5.00"), Z),
            ("1110", "payment_clearing", D("75.39"), Z),
            ("6100", "merchant_fees", D("2.49"), Z),
            ("4000", "revenue", Z, D("68.00")),
            ("2100", "tax_payable", Z, D("5.44")),
            ("4100", "shipping_income", Z, D("6.95")),
            ("1110", "payment_clearing", Z, D("2.49")),
        ]
        assert {line.dimensions.get("jurisdiction") for line in sale.lines.filter(role="tax_payable")} == {"US-NY"}
        payout = _process(
            stripe, fixture_bytes("stripe", "payout_paid_level3.json"), "payout.paid", "po_1Q6Ab02eZvKYlo2CsD5kR8wm"
        )
        assert payout.status == "processed", payout.last_error
        assert payout.result["documents"][0]["reconciliation"] == "matched"
        assert _lines(_entry("payout:")) == [
            ("1010", "bank", D("72.90"), Z),
            ("1110", "payment_clearing", Z, D("72.90")),
        ]
        assert (_account("6100"), _account("1110"), _account("1010")) == (D("2.49"), Z, D("72.90"))


def test_charge_without_level3_posts_the_whole_amount_as_revenue_with_its_fee(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        assert (
            _process(stripe, fixture_bytes("stripe", "charge_succeeded.json"), "charge.succeeded", PLAIN_CHARGE).status
            == "processed"
        )
        assert _lines(_entry("order:")) == [
            ("1110", "payment_clearing", D("49.99"), Z),
            ("6100", "merchant_fees", D("1.75"), Z),
            ("4000", "revenue", Z, D("49.99")),
            ("1110", "payment_clearing", Z, D("1.75")),
        ]


@respx.mock
def test_sales_channel_charge_without_its_balance_transaction_leaves_the_fee_to_the_payout(world):
    _payout_mock("balance_transactions_for_payout.json")
    event = copy.deepcopy(fixture("stripe", "charge_succeeded.json"))
    event["data"]["object"]["balance_transaction"] = "txn_3PqLkR2eZvKYlo2C1f9a7Wc2"
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        assert _process(stripe, event, "charge.succeeded", PLAIN_CHARGE).status == "processed"
        assert _lines(_entry("order:")) == [
            ("1110", "payment_clearing", D("49.99"), Z),
            ("4000", "revenue", Z, D("49.99")),
        ]
        refund = _process(
            stripe, fixture_bytes("stripe", "refund_created.json"), "refund.created", "re_3PqLkR2eZvKYlo2C1Wn6sHgD"
        )
        assert refund.status == "processed", refund.last_error
        payout = _process(
            stripe, fixture_bytes("stripe", "payout_paid.json"), "payout.paid", "po_1PrA9x2eZvKYlo2Cq3Ht8LbN"
        )
        assert payout.status == "processed", payout.last_error
        assert _lines(_entry("payout:")) == [
            ("1110", "payment_clearing", D("15.00"), Z),  # the refund
            ("6100", "merchant_fees", D("1.75"), Z),  # the charge's fee, booked here and only here
            ("1010", "bank", D("33.24"), Z),
            ("1110", "payment_clearing", Z, D("49.99")),
        ]
        assert (_account("6100"), _account("1110")) == (D("1.75"), Z)


def test_level3_partial_refund_is_prorated_over_lines_shipping_and_tax(world):
    refund = copy.deepcopy(fixture("stripe", "refund_created.json"))
    refund["data"]["object"].update(charge=L3_CHARGE, amount=7539 // 3, currency="usd")
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        _process(stripe, fixture_bytes("stripe", "charge_succeeded_level3.json"), "charge.succeeded", L3_CHARGE)
        event = _process(stripe, refund, "refund.created", refund["data"]["object"]["id"])
        assert event.status == "processed", event.last_error
        entry = _entry("refund:")
        assert sum(line.credit for line in entry.lines.filter(role="payment_clearing")) == D("25.13")
        assert {line.role for line in entry.lines.all()} >= {"refunds", "tax_payable", "shipping_income"}
        assert entry_balance(entry=entry) == 0


@pytest.mark.parametrize(
    ("level3", "reason"),
    [
        ({"line_items": [{"product_code": "X", "unit_cost": "25.00", "quantity": 1}]}, "unit_cost"),
        ({"line_items": [{"product_code": "X", "unit_cost": 100, "quantity": -2}]}, "quantity"),
        ({"line_items": ["X"]}, "level3.line_items[0]: not an object"),
        ({"line_items": [{"product_code": "X", "unit_cost": 7000, "quantity": 1}]}, "do not equal"),
    ],
)
def test_level3_that_is_malformed_or_does_not_add_up_is_an_exception_never_a_guess(world, level3, reason):
    event = copy.deepcopy(fixture("stripe", "charge_succeeded_level3.json"))
    event["data"]["object"]["level3"] = level3
    with tenant_context(world.acme):
        standard_chart_apply()
        stripe = _stripe()
        processed = _process(stripe, event, "charge.succeeded", L3_CHARGE)
        assert processed.status in ("processed", "dead")
        assert JournalEntry.objects.count() == 0
        exception = TriageException.objects.get()
        assert reason in f"{exception.title} {exception.detail}"
